//! Cost reports behind `/api/v1/costs`: what the workspaces cost now and over a date range.
//!
//! The figures come only from the store's recorded transitions and the bundled price table,
//! through the pure rules in [`crate::model::costs`]; this module reads the store and fills in
//! the wire types. Workspaces that existed at any moment of the window count, however long ago
//! they ended. A workspace whose instance type has no price is named in `unpriced_workspaces`
//! and left out of every sum, so a missing price never reads as zero.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::error::ApiResult;
use super::state::AppState;
use super::store::WorkspaceRow;
use super::workspaces::{rate, volumes};
use crate::model::api::{CostBreakdown, CostHistory, CostTrend, CurrentCosts, HibernationSavings};
use crate::model::costs::{self, DateRange, Granularity, WorkspaceHistory};
use crate::model::ledger::{BilledVolume, Transition};
use crate::model::money::Money;
use crate::model::pricing::{self, HOURS_PER_MONTH};

/// The rows of a window with what the pure rules need, kept together so that the borrowed
/// [`WorkspaceHistory`] views can point into them.
struct Window {
    rows: Vec<WorkspaceRow>,
    transitions: HashMap<i64, Vec<Transition>>,
    prices: Vec<(Option<Money>, Vec<BilledVolume>)>,
}

impl Window {
    async fn load(state: &AppState, from: DateTime<Utc>, to: DateTime<Utc>) -> ApiResult<Window> {
        let rows = state.store.existed_between(from, to).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let transitions = state.store.transitions(&ids).await?;
        let prices = rows.iter().map(|row| (rate(row).0, volumes(row))).collect();
        Ok(Window {
            rows,
            transitions,
            prices,
        })
    }

    fn histories(&self) -> Vec<WorkspaceHistory<'_>> {
        self.rows
            .iter()
            .zip(&self.prices)
            .map(|(row, (hourly, volumes))| WorkspaceHistory {
                name: &row.name,
                transitions: self.transitions.get(&row.id).map_or(&[][..], Vec::as_slice),
                hourly: *hourly,
                volumes,
                created_at: row.created_at,
                ended_at: row.ended_at,
            })
            .collect()
    }

    /// Names of the window's workspaces that have no price, each once, sorted.
    fn unpriced(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .rows
            .iter()
            .zip(&self.prices)
            .filter(|(_, (hourly, _))| hourly.is_none())
            .map(|(row, _)| row.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Where the prices came from, with the caveats that apply to this window's workspaces.
    fn price_source(&self) -> String {
        let mut source = pricing::TABLE_SOURCE.to_string();
        let estimated = self.rows.iter().any(|row| {
            pricing::instance_hourly(&row.instance_type, &row.region)
                .is_some_and(|quote| !quote.exact_for_region)
        });
        if estimated {
            source.push_str("; regions other than us-east-1 and us-west-2 are estimates");
        }
        if self.rows.iter().any(|row| row.spot) {
            source.push_str("; spot workspaces at the on-demand price, an upper bound");
        }
        source
    }
}

/// `GET /api/v1/costs/current` at `now`.
pub async fn current(state: &AppState, now: DateTime<Utc>) -> ApiResult<CurrentCosts> {
    let month_start = costs::month_start(now);
    let today_start = costs::midnight(now.date_naive());
    let window = Window::load(state, month_start, now).await?;

    let mut breakdown = CostBreakdown::default();
    let mut hourly_by_workspace = Vec::new();
    let mut month_to_date = Money::ZERO;
    let mut today = Money::ZERO;
    let mut saved = Money::ZERO;
    for (row, history) in window.rows.iter().zip(window.histories()) {
        let Some(compute) = history.hourly else {
            continue;
        };
        if row.is_live() {
            let split = costs::hourly_split(row.state(), compute, history.volumes);
            breakdown.instances += split.compute;
            breakdown.ebs_storage += split.storage;
            hourly_by_workspace.push((row.name.clone(), split.total()));
        }
        month_to_date += history.spend(month_start, now, now).unwrap_or_default();
        today += history.spend(today_start, now, now).unwrap_or_default();
        saved += history
            .hibernation_savings(month_start, now, now)
            .unwrap_or_default();
    }
    // EFS volumes are not managed yet, so they add nothing.
    let total = breakdown.instances + breakdown.ebs_storage + breakdown.efs_storage;
    Ok(CurrentCosts {
        total_current_hourly: total,
        total_daily_projection: total.mul_div(24, 1),
        total_monthly_projection: total.mul_div(i128::from(HOURS_PER_MONTH), 1),
        cost_breakdown: breakdown,
        hibernation_savings: HibernationSavings {
            current_month: saved,
            projected_monthly: costs::project_to_month(saved, now),
        },
        top_cost_drivers: costs::top_drivers(&hourly_by_workspace, total),
        month_to_date,
        today,
        month: now.format("%Y-%m").to_string(),
        unpriced_workspaces: window.unpriced(),
        price_source: window.price_source(),
        as_of: now,
    })
}

/// `GET /api/v1/costs/history` for `range` at `now`.
pub async fn history(
    state: &AppState,
    range: DateRange,
    granularity: Granularity,
    now: DateTime<Utc>,
) -> ApiResult<CostHistory> {
    let (from, to) = range.bounds();
    let window = Window::load(state, from, to).await?;
    let periods = range.periods(granularity);
    let summary = costs::summarise(&window.histories(), &periods, now);
    let trend = costs::trend(&summary.periods);
    Ok(CostHistory {
        period: format!("{}_days", range.days()),
        start_date: range.start,
        end_date: range.end,
        granularity: granularity.to_string(),
        total_cost: summary.total,
        daily_costs: summary.periods.iter().map(|p| p.to_api()).collect(),
        cost_trends: CostTrend {
            trend_direction: trend.direction.as_str().to_string(),
            percentage_change: trend.percentage_change,
            primary_driver: summary.primary_driver,
        },
        unpriced_workspaces: window.unpriced(),
    })
}
