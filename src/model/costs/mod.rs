//! Cost reports: a date range cut into UTC periods, spend and hibernation savings per period,
//! the hourly picture of the moment, and whether spending goes up or down.
//!
//! Everything here is arithmetic over the [ledger]: the caller passes each workspace's recorded
//! transitions, its price and `now`, and gets exact [`Money`] back. Periods are UTC calendar
//! days, ISO weeks (Monday to Sunday) or calendar months, cut at the edges of the range asked
//! for ([`DateRange::periods`]). Only percentages are floats.

mod periods;

pub use periods::{
    DEFAULT_RANGE_DAYS, DateRange, Granularity, MAX_RANGE_DAYS, Period, RangeError,
    UnknownGranularity, midnight, month_start, next_month_start,
};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::api::{CostDriver, PeriodCost};
use super::ledger::{self, BilledVolume, Transition};
use super::money::Money;
use super::pricing::HOURS_PER_MONTH;
use super::workspace::WorkspaceState;

/// A change of at most this many percent either way counts as stable.
pub const STABLE_WITHIN_PERCENT: f64 = 5.0;

/// How many workspaces `top_cost_drivers` lists at most.
pub const TOP_DRIVERS: usize = 10;

/// What the reports need to know about one workspace.
#[derive(Clone, Copy, Debug)]
pub struct WorkspaceHistory<'a> {
    pub name: &'a str,
    pub transitions: &'a [Transition],
    /// The compute price per hour; `None` when the price table does not know the type, in
    /// which case the workspace counts as existing but its spend is in no total.
    pub hourly: Option<Money>,
    pub volumes: &'a [BilledVolume],
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl WorkspaceHistory<'_> {
    /// Whether the workspace existed at some moment between `from` and `to`, up to `now`.
    pub fn existed_during(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        let to = to.min(now);
        from < to && self.created_at < to && self.ended_at.is_none_or(|ended| ended > from)
    }

    /// Spend between `from` and `to`, never counting time after `now`; `None` when unpriced.
    pub fn spend(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<Money> {
        let hourly = self.hourly?;
        let to = self.ended_at.map_or(to, |ended| to.min(ended)).min(now);
        if to <= from {
            return Some(Money::ZERO);
        }
        Some(ledger::spend_between(self.transitions, hourly, self.volumes, from, to).total())
    }

    /// Compute not paid between `from` and `to` (up to `now`) because the workspace was
    /// hibernated: its hourly rate times the hibernated time. `None` when unpriced.
    pub fn hibernation_savings(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<Money> {
        let hourly = self.hourly?;
        let seconds = seconds_in_state(
            self.transitions,
            WorkspaceState::Hibernated,
            from,
            to.min(now),
        );
        Some(hourly.mul_div(i128::from(seconds), 3600))
    }
}

/// Seconds spent in `state` between `from` and `to`, from transitions in any order. The last
/// state lasts until `to`.
pub fn seconds_in_state(
    transitions: &[Transition],
    state: WorkspaceState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i64 {
    let mut ordered = transitions.to_vec();
    ordered.sort_by_key(|t| t.at);
    ordered
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state == state)
        .map(|(i, t)| {
            let start = t.at.max(from);
            let end = ordered.get(i + 1).map_or(to, |next| next.at).min(to);
            (end - start).num_seconds().max(0)
        })
        .sum()
}

/// One period of a history with what was spent in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodSummary {
    pub period: Period,
    pub cost: Money,
    /// Workspaces, priced or not, that existed at some moment of the period.
    pub instances: u32,
    pub hibernation_savings: Money,
    /// How much of the period had passed at `now`: the trend compares spend per second.
    pub elapsed_seconds: i64,
}

impl PeriodSummary {
    pub fn to_api(&self) -> PeriodCost {
        PeriodCost {
            date: self.period.first,
            cost: self.cost,
            instances: self.instances,
            hibernation_savings: self.hibernation_savings,
        }
    }
}

/// A history's periods and what they add up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSummary {
    pub periods: Vec<PeriodSummary>,
    /// The sum of the periods' costs.
    pub total: Money,
    /// The name that spent most over the range (workspaces sharing a name, one after the
    /// other, count together); `None` when nothing was spent.
    pub primary_driver: Option<String>,
}

/// Spend, savings and workspace counts per period, up to `now`.
pub fn summarise(
    workspaces: &[WorkspaceHistory<'_>],
    periods: &[Period],
    now: DateTime<Utc>,
) -> RangeSummary {
    let mut by_name: BTreeMap<&str, Money> = BTreeMap::new();
    let summaries: Vec<PeriodSummary> = periods
        .iter()
        .map(|period| {
            let (from, to) = (period.start(), period.end());
            let mut summary = PeriodSummary {
                period: *period,
                cost: Money::ZERO,
                instances: 0,
                hibernation_savings: Money::ZERO,
                elapsed_seconds: (to.min(now) - from).num_seconds().max(0),
            };
            for workspace in workspaces
                .iter()
                .filter(|w| w.existed_during(from, to, now))
            {
                summary.instances = summary.instances.saturating_add(1);
                if let Some(spend) = workspace.spend(from, to, now) {
                    summary.cost += spend;
                    *by_name.entry(workspace.name).or_default() += spend;
                }
                if let Some(saved) = workspace.hibernation_savings(from, to, now) {
                    summary.hibernation_savings += saved;
                }
            }
            summary
        })
        .collect();
    // Highest spend first; between equals, the name that sorts first.
    let primary_driver = by_name
        .iter()
        .filter(|(_, spent)| **spent > Money::ZERO)
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(name, _)| (*name).to_string());
    RangeSummary {
        total: summaries.iter().map(|s| s.cost).sum(),
        periods: summaries,
        primary_driver,
    }
}

/// Which way spending goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendDirection {
    Increasing,
    Decreasing,
    Stable,
    /// Fewer than two periods, nothing spent, or no time passed in one half.
    InsufficientData,
}

impl TrendDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            TrendDirection::Increasing => "increasing",
            TrendDirection::Decreasing => "decreasing",
            TrendDirection::Stable => "stable",
            TrendDirection::InsufficientData => "insufficient_data",
        }
    }
}

/// The direction and size of a change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trend {
    pub direction: TrendDirection,
    /// Percent, one decimal; `None` when the first half cost nothing.
    pub percentage_change: Option<f64>,
}

/// Compares the later half of the periods with the earlier half (the middle one of an odd
/// count belongs to neither). Each half's spend is taken per second that had passed, so that a
/// half-finished today, or a short first week, is not read as a fall.
pub fn trend(periods: &[PeriodSummary]) -> Trend {
    let insufficient = Trend {
        direction: TrendDirection::InsufficientData,
        percentage_change: None,
    };
    let half = periods.len() / 2;
    if half == 0 || periods.iter().all(|p| p.cost.is_zero()) {
        return insufficient;
    }
    let sums = |part: &[PeriodSummary]| {
        part.iter().fold((0_i128, 0_i128), |(cost, seconds), p| {
            (
                cost + i128::from(p.cost.micros()),
                seconds + i128::from(p.elapsed_seconds),
            )
        })
    };
    let (first_cost, first_seconds) = sums(&periods[..half]);
    let (second_cost, second_seconds) = sums(&periods[periods.len() - half..]);
    if first_seconds == 0 || second_seconds == 0 {
        return insufficient;
    }
    if first_cost == 0 {
        let direction = if second_cost > 0 {
            TrendDirection::Increasing
        } else {
            TrendDirection::Stable
        };
        return Trend {
            direction,
            percentage_change: None,
        };
    }
    // (second rate − first rate) ÷ first rate, with the rates' seconds cross-multiplied so
    // that only the final ratio is a float.
    let difference = second_cost * first_seconds - first_cost * second_seconds;
    let base = first_cost * second_seconds;
    let percent = round_one_decimal(difference as f64 / base as f64 * 100.0);
    let direction = if percent > STABLE_WITHIN_PERCENT {
        TrendDirection::Increasing
    } else if percent < -STABLE_WITHIN_PERCENT {
        TrendDirection::Decreasing
    } else {
        TrendDirection::Stable
    };
    Trend {
        direction,
        percentage_change: Some(percent),
    }
}

fn round_one_decimal(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// `part` as a percentage of `total`, one decimal; 0 when the total is zero.
pub fn share_percent(part: Money, total: Money) -> f64 {
    if total.is_zero() {
        return 0.0;
    }
    round_one_decimal(part.micros() as f64 / total.micros() as f64 * 100.0)
}

/// What a workspace costs per hour in `state`, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HourlySplit {
    pub compute: Money,
    pub storage: Money,
}

impl HourlySplit {
    pub fn total(&self) -> Money {
        self.compute + self.storage
    }
}

/// Compute while the state bills compute, storage while the volumes exist.
pub fn hourly_split(
    state: WorkspaceState,
    compute: Money,
    volumes: &[BilledVolume],
) -> HourlySplit {
    HourlySplit {
        compute: if state.bills_compute() {
            compute
        } else {
            Money::ZERO
        },
        storage: if state.bills_storage() {
            storage_hourly(volumes)
        } else {
            Money::ZERO
        },
    }
}

/// The volumes' price per hour, prorated from $/GB-month over a [`HOURS_PER_MONTH`] month.
pub fn storage_hourly(volumes: &[BilledVolume]) -> Money {
    volumes
        .iter()
        .map(|v| {
            v.gb_month
                .mul_div(i128::from(v.size_gb), i128::from(HOURS_PER_MONTH))
        })
        .sum()
}

/// The workspaces that cost something now, highest first (then by name), at most
/// [`TOP_DRIVERS`], each with its share of `total`.
pub fn top_drivers(hourly: &[(String, Money)], total: Money) -> Vec<CostDriver> {
    let mut costing: Vec<&(String, Money)> = hourly
        .iter()
        .filter(|(_, cost)| *cost > Money::ZERO)
        .collect();
    costing.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    costing
        .into_iter()
        .take(TOP_DRIVERS)
        .map(|(name, cost)| CostDriver {
            resource: name.clone(),
            hourly_cost: *cost,
            percentage: share_percent(*cost, total),
        })
        .collect()
}

/// `so_far`, earned since the month began, extended at the same pace to the whole month `now`
/// is in.
pub fn project_to_month(so_far: Money, now: DateTime<Utc>) -> Money {
    let start = month_start(now);
    let elapsed = (now - start).num_seconds();
    if elapsed <= 0 {
        return so_far;
    }
    let month = (next_month_start(now) - start).num_seconds();
    so_far.mul_div(i128::from(month), i128::from(elapsed))
}

#[cfg(test)]
mod tests {
    use super::periods::day_after;
    use super::*;
    use WorkspaceState::*;
    use chrono::{Duration, NaiveDate};
    use rstest::rstest;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    }

    fn tr(text: &str, state: WorkspaceState) -> Transition {
        Transition {
            at: at(text),
            state,
        }
    }

    /// t3.medium.
    const RATE: Money = Money::from_micros(41_600);

    fn history<'a>(
        name: &'a str,
        transitions: &'a [Transition],
        hourly: Option<Money>,
    ) -> WorkspaceHistory<'a> {
        WorkspaceHistory {
            name,
            transitions,
            hourly,
            volumes: &[],
            created_at: transitions
                .first()
                .map_or(at("2026-01-01T00:00:00Z"), |t| t.at),
            ended_at: transitions
                .iter()
                .find(|t| t.state.is_final())
                .map(|t| t.at),
        }
    }

    #[test]
    fn spend_splits_across_days_and_stops_at_now() {
        // Running from 22:00 on the 1st; now is 02:00 on the 2nd.
        let transitions = [tr("2026-12-01T22:00:00Z", Running)];
        let workspace = history("w", &transitions, Some(RATE));
        let now = at("2026-12-02T02:00:00Z");
        let range = DateRange::new(day("2026-12-01"), day("2026-12-03")).expect("valid");
        let summary = summarise(&[workspace], &range.periods(Granularity::Daily), now);
        let costs: Vec<Money> = summary.periods.iter().map(|p| p.cost).collect();
        assert_eq!(costs, [RATE.mul_div(2, 1), RATE.mul_div(2, 1), Money::ZERO]);
        assert_eq!(summary.total, RATE.mul_div(4, 1));
        let counts: Vec<u32> = summary.periods.iter().map(|p| p.instances).collect();
        assert_eq!(counts, [1, 1, 0], "nothing exists in the future");
        let elapsed: Vec<i64> = summary.periods.iter().map(|p| p.elapsed_seconds).collect();
        assert_eq!(elapsed, [86_400, 7_200, 0]);
    }

    #[test]
    fn storage_counts_while_stopped() {
        let transitions = [
            tr("2026-12-01T00:00:00Z", Running),
            tr("2026-12-01T01:00:00Z", Stopped),
        ];
        let volumes = [BilledVolume {
            size_gb: 730,
            gb_month: Money::from_micros(80_000),
        }];
        let workspace = WorkspaceHistory {
            volumes: &volumes,
            ..history("w", &transitions, Some(RATE))
        };
        // One running hour, then 23 stopped: 24 hours of 730 GB at $0.08/GB-month = $1.92.
        let spend = workspace.spend(
            at("2026-12-01T00:00:00Z"),
            at("2026-12-02T00:00:00Z"),
            at("2026-12-05T00:00:00Z"),
        );
        assert_eq!(spend, Some(RATE + Money::from_micros(1_920_000)));
    }

    #[test]
    fn a_workspace_terminated_long_ago_still_counts_in_its_period() {
        let transitions = [
            tr("2026-06-10T08:00:00Z", Launching),
            tr("2026-06-10T08:01:00Z", Running),
            tr("2026-06-10T10:01:00Z", Terminating),
            tr("2026-06-10T10:02:00Z", Terminated),
        ];
        let workspace = history("old", &transitions, Some(RATE));
        let now = at("2026-12-03T12:00:00Z");
        let range = DateRange::new(day("2026-06-01"), day("2026-07-31")).expect("valid");
        let summary = summarise(&[workspace], &range.periods(Granularity::Monthly), now);
        assert_eq!(summary.periods[0].cost, RATE.mul_div(2, 1));
        assert_eq!(summary.periods[0].instances, 1);
        assert_eq!(summary.periods[1].instances, 0);
        assert_eq!(summary.primary_driver.as_deref(), Some("old"));
    }

    #[test]
    fn unpriced_workspaces_exist_but_cost_nothing_in_totals() {
        let transitions = [tr("2026-12-01T00:00:00Z", Running)];
        let priced = history("priced", &transitions, Some(RATE));
        let unpriced = history("mystery", &transitions, None);
        assert_eq!(
            unpriced.spend(
                at("2026-12-01T00:00:00Z"),
                at("2026-12-02T00:00:00Z"),
                at("2026-12-02T00:00:00Z")
            ),
            None
        );
        let range = DateRange::new(day("2026-12-01"), day("2026-12-01")).expect("valid");
        let summary = summarise(
            &[priced, unpriced],
            &range.periods(Granularity::Daily),
            at("2026-12-02T00:00:00Z"),
        );
        assert_eq!(summary.periods[0].instances, 2);
        assert_eq!(summary.total, RATE.mul_div(24, 1));
        assert_eq!(summary.primary_driver.as_deref(), Some("priced"));
    }

    #[test]
    fn the_primary_driver_adds_up_workspaces_of_one_name() {
        let first = [
            tr("2026-12-01T00:00:00Z", Running),
            tr("2026-12-01T02:00:00Z", Terminated),
        ];
        let second = [
            tr("2026-12-01T03:00:00Z", Running),
            tr("2026-12-01T05:00:00Z", Terminated),
        ];
        let other = [
            tr("2026-12-01T00:00:00Z", Running),
            tr("2026-12-01T03:00:00Z", Terminated),
        ];
        let workspaces = [
            history("again", &first, Some(RATE)),
            history("again", &second, Some(RATE)),
            history("once", &other, Some(RATE)),
        ];
        let range = DateRange::new(day("2026-12-01"), day("2026-12-01")).expect("valid");
        let summary = summarise(
            &workspaces,
            &range.periods(Granularity::Daily),
            at("2026-12-02T00:00:00Z"),
        );
        assert_eq!(summary.primary_driver.as_deref(), Some("again"));
        assert_eq!(summary.periods[0].instances, 3);
    }

    #[test]
    fn nothing_spent_has_no_primary_driver() {
        let range = DateRange::new(day("2026-12-01"), day("2026-12-02")).expect("valid");
        let summary = summarise(
            &[],
            &range.periods(Granularity::Daily),
            at("2026-12-03T00:00:00Z"),
        );
        assert_eq!(summary.primary_driver, None);
        assert_eq!(summary.total, Money::ZERO);
        assert_eq!(summary.periods.len(), 2);
    }

    #[test]
    fn hibernation_saves_the_compute_rate_for_the_hibernated_time() {
        let transitions = [
            tr("2026-12-01T00:00:00Z", Running),
            tr("2026-12-01T10:00:00Z", Hibernating),
            tr("2026-12-01T10:02:00Z", Hibernated),
            tr("2026-12-02T04:02:00Z", Resuming),
            tr("2026-12-02T04:03:00Z", Running),
        ];
        let workspace = history("h", &transitions, Some(RATE));
        let now = at("2026-12-03T00:00:00Z");
        let range = DateRange::new(day("2026-12-01"), day("2026-12-02")).expect("valid");
        let summary = summarise(&[workspace], &range.periods(Granularity::Daily), now);
        // 13 h 58 min on the 1st, 4 h 2 min on the 2nd.
        let savings: Vec<Money> = summary
            .periods
            .iter()
            .map(|p| p.hibernation_savings)
            .collect();
        assert_eq!(
            savings,
            [RATE.mul_div(13 * 60 + 58, 60), RATE.mul_div(4 * 60 + 2, 60)]
        );
    }

    #[rstest]
    #[case("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z", 8 * 3600)]
    #[case("2026-12-01T12:00:00Z", "2026-12-01T13:00:00Z", 3600)]
    #[case("2026-11-30T00:00:00Z", "2026-12-01T10:00:00Z", 0)]
    #[case("2026-12-01T13:00:00Z", "2026-12-01T15:00:00Z", 3600)]
    fn seconds_in_state_are_clipped_to_the_window(
        #[case] from: &str,
        #[case] to: &str,
        #[case] seconds: i64,
    ) {
        // Hibernated 10:00–14:00 and again from 20:00 on.
        let transitions = [
            tr("2026-12-01T20:00:00Z", Hibernated),
            tr("2026-12-01T00:00:00Z", Running),
            tr("2026-12-01T10:00:00Z", Hibernated),
            tr("2026-12-01T14:00:00Z", Running),
        ];
        assert_eq!(
            seconds_in_state(&transitions, Hibernated, at(from), at(to)),
            seconds
        );
    }

    fn summaries(costs: &[i64], elapsed: &[i64]) -> Vec<PeriodSummary> {
        let start = day("2026-12-01");
        costs
            .iter()
            .zip(elapsed)
            .enumerate()
            .map(|(i, (cost, elapsed))| {
                let first = start + Duration::days(i as i64);
                PeriodSummary {
                    period: Period {
                        first,
                        until: day_after(first),
                    },
                    cost: Money::from_micros(*cost),
                    instances: 1,
                    hibernation_savings: Money::ZERO,
                    elapsed_seconds: *elapsed,
                }
            })
            .collect()
    }

    const DAY: i64 = 86_400;

    #[rstest]
    #[case(&[100, 200], &[DAY, DAY], TrendDirection::Increasing, Some(100.0))]
    #[case(&[200, 100], &[DAY, DAY], TrendDirection::Decreasing, Some(-50.0))]
    #[case(&[1000, 1050], &[DAY, DAY], TrendDirection::Stable, Some(5.0))]
    #[case(&[1000, 950], &[DAY, DAY], TrendDirection::Stable, Some(-5.0))]
    #[case(&[1000, 1051], &[DAY, DAY], TrendDirection::Increasing, Some(5.1))]
    #[case(&[1000, 949], &[DAY, DAY], TrendDirection::Decreasing, Some(-5.1))]
    // The middle period of an odd count belongs to neither half.
    #[case(&[100, 5000, 100], &[DAY, DAY, DAY], TrendDirection::Stable, Some(0.0))]
    #[case(&[100, 100, 300, 300], &[DAY; 4], TrendDirection::Increasing, Some(200.0))]
    // Today is a quarter gone: spending at yesterday's pace is stable, not a fall.
    #[case(&[400, 100], &[DAY, DAY / 4], TrendDirection::Stable, Some(0.0))]
    // Nothing before, something now: up, by no percentage.
    #[case(&[0, 100], &[DAY, DAY], TrendDirection::Increasing, None)]
    #[case(&[0, 100, 0], &[DAY, DAY, DAY], TrendDirection::Stable, None)]
    #[case(&[100, 0], &[DAY, DAY], TrendDirection::Decreasing, Some(-100.0))]
    fn trends_compare_the_halves(
        #[case] costs: &[i64],
        #[case] elapsed: &[i64],
        #[case] direction: TrendDirection,
        #[case] percent: Option<f64>,
    ) {
        let trend = trend(&summaries(costs, elapsed));
        assert_eq!(trend.direction, direction);
        assert_eq!(trend.percentage_change, percent);
    }

    #[rstest]
    #[case(&[], &[])]
    #[case(&[500], &[DAY])]
    #[case(&[0, 0, 0], &[DAY, DAY, DAY])]
    // A range that is still all in the future.
    #[case(&[100, 0], &[DAY, 0])]
    fn trends_need_two_periods_spend_and_time(#[case] costs: &[i64], #[case] elapsed: &[i64]) {
        let trend = trend(&summaries(costs, elapsed));
        assert_eq!(trend.direction, TrendDirection::InsufficientData);
        assert_eq!(trend.percentage_change, None);
        assert_eq!(trend.direction.as_str(), "insufficient_data");
    }

    #[rstest]
    #[case(Running, 41_600 + 2_192)]
    #[case(Hibernating, 41_600 + 2_192)]
    #[case(Stopped, 2_192)]
    #[case(Hibernated, 2_192)]
    #[case(Starting, 2_192)]
    #[case(Launching, 0)]
    #[case(Terminated, 0)]
    #[case(Failed, 0)]
    fn hourly_cost_by_state(#[case] state: WorkspaceState, #[case] micros: i64) {
        // 20 GB of gp3 at $0.08/GB-month: $1.60 over 730 hours.
        let volumes = [BilledVolume {
            size_gb: 20,
            gb_month: Money::from_micros(80_000),
        }];
        assert_eq!(
            hourly_split(state, RATE, &volumes).total(),
            Money::from_micros(micros)
        );
    }

    #[test]
    fn drivers_are_ranked_and_shared() {
        let hourly = vec![
            ("small".to_string(), Money::from_micros(25_000)),
            ("idle".to_string(), Money::ZERO),
            ("big".to_string(), Money::from_micros(50_000)),
            ("also-small".to_string(), Money::from_micros(25_000)),
        ];
        let drivers = top_drivers(&hourly, Money::from_micros(100_000));
        let names: Vec<&str> = drivers.iter().map(|d| d.resource.as_str()).collect();
        assert_eq!(names, ["big", "also-small", "small"]);
        assert_eq!(drivers[0].percentage, 50.0);
        assert_eq!(drivers[1].percentage, 25.0);
    }

    #[test]
    fn at_most_ten_drivers_are_listed() {
        let hourly: Vec<(String, Money)> = (1..=12)
            .map(|i| (format!("w{i:02}"), Money::from_micros(i)))
            .collect();
        let drivers = top_drivers(&hourly, Money::from_micros(78));
        assert_eq!(drivers.len(), TOP_DRIVERS);
        assert_eq!(drivers[0].resource, "w12");
    }

    #[rstest]
    #[case(1, 3, 33.3)]
    #[case(2, 3, 66.7)]
    #[case(5, 0, 0.0)]
    #[case(0, 5, 0.0)]
    fn shares_have_one_decimal(#[case] part: i64, #[case] total: i64, #[case] percent: f64) {
        assert_eq!(
            share_percent(Money::from_micros(part), Money::from_micros(total)),
            percent
        );
    }

    #[rstest]
    // Ten days into a 31-day month: ×3.1.
    #[case("2026-12-11T00:00:00Z", 10_000_000, 31_000_000)]
    // February 2027 has 28 days; half of it gone doubles the figure.
    #[case("2027-02-15T00:00:00Z", 1_000_000, 2_000_000)]
    // At the very start nothing is extrapolated.
    #[case("2026-12-01T00:00:00Z", 7, 7)]
    fn savings_project_to_the_whole_month(
        #[case] now: &str,
        #[case] so_far: i64,
        #[case] projected: i64,
    ) {
        assert_eq!(
            project_to_month(Money::from_micros(so_far), at(now)),
            Money::from_micros(projected)
        );
    }
}
