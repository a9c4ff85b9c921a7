//! `/api/v1/costs`: what the workspaces cost now and per period, from the recorded transitions.

use axum::Json;
use axum::extract::State;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::INTERNAL_ERROR;
use crate::daemon::costs;
use crate::daemon::error::{ApiError, ApiResult};
use crate::daemon::extract::{NoParameters, QueryParams};
use crate::daemon::state::AppState;
use crate::model::api::{CostHistory, CurrentCosts, ErrorBody};
use crate::model::costs::{DateRange, Granularity, MAX_RANGE_DAYS, RangeError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current))
        .routes(routes!(history))
}

/// What the workspaces cost now
///
/// The hourly cost right now (compute of running workspaces plus the root volumes of every
/// existing one), its daily and 730-hour monthly projections, spend today and this UTC month,
/// hibernation savings, and the costliest workspaces. It takes no query parameters.
#[utoipa::path(
    get,
    path = "/api/v1/costs/current",
    operation_id = "current_costs",
    tag = "costs",
    responses(
        (status = 200, description = "The current costs", body = CurrentCosts),
        (status = 400, body = ErrorBody,
            description = "`INVALID_REQUEST`: the query string has a parameter."),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
    ),
)]
async fn current(
    State(state): State<AppState>,
    QueryParams(NoParameters {}): QueryParams<NoParameters>,
) -> ApiResult<Json<CurrentCosts>> {
    costs::current(&state, Utc::now()).await.map(Json)
}

/// The history's query string. Values stay text here so that a bad one is reported with the
/// value itself and what to write instead; the document states the shapes they must have.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// The first UTC day, `YYYY-MM-DD`; by default 29 days before `end_date`.
    #[param(value_type = Option<NaiveDate>)]
    start_date: Option<String>,
    /// The last UTC day, `YYYY-MM-DD`; by default today. A range is at most 366 days.
    #[param(value_type = Option<NaiveDate>)]
    end_date: Option<String>,
    /// How finely to split the range: UTC days, ISO weeks (Monday first) or calendar months.
    #[param(value_type = Option<Granularity>, inline)]
    granularity: Option<String>,
}

/// Spend per period
///
/// Spend, workspace count and hibernation savings per UTC day, ISO week or calendar month of
/// a date range, cut at the range's edges, with the trend between its halves.
#[utoipa::path(
    get,
    path = "/api/v1/costs/history",
    operation_id = "cost_history",
    tag = "costs",
    params(HistoryQuery),
    responses(
        (status = 200, description = "The cost history", body = CostHistory),
        (status = 400, body = ErrorBody, description = "`INVALID_REQUEST`: an unknown \
            parameter, a date that is not `YYYY-MM-DD`, a start after the end, a range over \
            366 days, or an unknown granularity."),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
    ),
)]
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
