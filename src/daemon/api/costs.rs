//! `/api/v1/costs`: what the workspaces cost now and per period, from the recorded transitions.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use crate::daemon::costs;
use crate::daemon::error::{ApiError, ApiResult};
use crate::daemon::extract::{NoParameters, QueryParams};
use crate::daemon::state::AppState;
use crate::model::api::{CostHistory, CurrentCosts};
use crate::model::costs::{DateRange, Granularity, MAX_RANGE_DAYS, RangeError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/costs/current", get(current))
        .route("/costs/history", get(history))
}

async fn current(
    State(state): State<AppState>,
    QueryParams(NoParameters {}): QueryParams<NoParameters>,
) -> ApiResult<Json<CurrentCosts>> {
    costs::current(&state, Utc::now()).await.map(Json)
}

/// The history's query string. Values stay text here so that a bad one is reported with the
/// value itself and what to write instead.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    start_date: Option<String>,
    end_date: Option<String>,
    granularity: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> ApiResult<Json<CostHistory>> {
    let now = Utc::now();
    let start = query
        .start_date
        .as_deref()
        .map(|text| parse_date("start_date", text))
        .transpose()?;
    let end = query
        .end_date
        .as_deref()
        .map(|text| parse_date("end_date", text))
        .transpose()?;
    let range = DateRange::with_defaults(start, end, now.date_naive()).map_err(bad_range)?;
    let granularity = match query.granularity.as_deref() {
        None => Granularity::default(),
        Some(text) => text.parse::<Granularity>().map_err(|e| {
            ApiError::bad_request(e.to_string())
                .remediation("Use granularity=daily, weekly (ISO weeks) or monthly")
        })?,
    };
    costs::history(&state, range, granularity, now)
        .await
        .map(Json)
}

fn parse_date(field: &str, text: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!("{field} '{text}' is not a date"))
            .remediation("Write dates as YYYY-MM-DD (UTC calendar days), e.g. 2026-06-15")
    })
}

fn bad_range(error: RangeError) -> ApiError {
    let remediation = match error {
        RangeError::StartAfterEnd { .. } => {
            "Give a start_date on or before end_date; end_date defaults to today (UTC)".to_string()
        }
        RangeError::TooLong { .. } => {
            format!(
                "Ask for at most {MAX_RANGE_DAYS} days at a time, in several requests if needed"
            )
        }
        RangeError::OutOfCalendar(_) => "Use a date in this millennium".to_string(),
    };
    ApiError::bad_request(error.to_string()).remediation(remediation)
}
