//! The cost ledger: spend computed from recorded state transitions.
//!
//! Every state a workspace enters is recorded with its time. Spend is then a pure function of
//! that history, the hourly rate and the volumes: compute is billed per second while the
//! workspace is running (or saving memory into hibernation) with a 60-second minimum each time it
//! starts running; storage is billed per second whenever the volumes exist, prorated from a
//! per-GB-month price over a [`HOURS_PER_MONTH`]-hour month.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::money::Money;
use super::pricing::{HOURS_PER_MONTH, MINIMUM_BILLED_SECONDS};
use super::workspace::WorkspaceState;

/// One recorded state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub state: WorkspaceState,
}

/// A volume that bills while the workspace exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BilledVolume {
    pub size_gb: i64,
    /// Price per GB-month.
    pub gb_month: Money,
}

/// Spend over some window, split by what was paid for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Spend {
    pub compute: Money,
    pub storage: Money,
    pub billed_compute_seconds: i64,
}

impl Spend {
    pub fn total(&self) -> Money {
        self.compute + self.storage
    }
}

/// Spend between `from` and `to` given the transitions (in any order).
///
/// A run of running time that begins inside the window is billed at least
/// [`MINIMUM_BILLED_SECONDS`]; one that began before the window already paid its minimum there.
/// Time after `to` never counts, so a window ending now bills nothing in the future except that
/// minimum, which AWS charges the moment an instance starts running.
pub fn spend_between(
    transitions: &[Transition],
    hourly: Money,
    volumes: &[BilledVolume],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Spend {
    let mut ordered: Vec<Transition> = transitions.to_vec();
    ordered.sort_by_key(|t| t.at);

    let mut compute_seconds: i64 = 0;
    let mut storage_seconds: i64 = 0;
    // Seconds of the current compute run that fall in the window, and whether it started there.
    let mut run: Option<(i64, bool)> = None;
    fn finish_run(run: &mut Option<(i64, bool)>, total: &mut i64) {
        if let Some((seconds, started_inside)) = run.take() {
            *total += if started_inside {
                seconds.max(MINIMUM_BILLED_SECONDS)
            } else {
                seconds
            };
        }
    }

    for (i, transition) in ordered.iter().enumerate() {
        let start = transition.at;
        let end = ordered.get(i + 1).map_or(to, |next| next.at).min(to);
        let clipped_start = start.max(from);
        let seconds = if end > clipped_start {
            (end - clipped_start).num_seconds()
        } else {
            0
        };

        if transition.state.bills_compute() {
            let continues = i > 0 && ordered[i - 1].state.bills_compute();
            if !continues {
                finish_run(&mut run, &mut compute_seconds);
                let started_inside = start >= from && start < to;
                run = Some((0, started_inside));
            }
            if let Some((run_seconds, _)) = run.as_mut() {
                *run_seconds += seconds;
            }
        } else {
            finish_run(&mut run, &mut compute_seconds);
        }
        if transition.state.bills_storage() {
            storage_seconds += seconds;
        }
    }
    finish_run(&mut run, &mut compute_seconds);

    let compute = hourly.mul_div(i128::from(compute_seconds), 3600);
    let month_seconds = i128::from(HOURS_PER_MONTH) * 3600;
    let storage = volumes
        .iter()
        .map(|v| {
            v.gb_month.mul_div(
                i128::from(v.size_gb) * i128::from(storage_seconds),
                month_seconds,
            )
        })
        .sum();
    Spend {
        compute,
        storage,
        billed_compute_seconds: compute_seconds,
    }
}

/// Total seconds spent in `state` up to `now`, and when the latest stay in it began.
pub fn time_in_state(
    transitions: &[Transition],
    state: WorkspaceState,
    now: DateTime<Utc>,
) -> (i64, Option<DateTime<Utc>>) {
    let mut ordered: Vec<Transition> = transitions.to_vec();
    ordered.sort_by_key(|t| t.at);
    let mut total = 0;
    let mut latest = None;
    for (i, transition) in ordered.iter().enumerate() {
        if transition.state != state {
            continue;
        }
        let continues = i > 0 && ordered[i - 1].state == state;
        if !continues {
            latest = Some(transition.at);
        }
        let end = ordered.get(i + 1).map_or(now, |next| next.at);
        total += (end - transition.at).num_seconds().max(0);
    }
    (total, latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkspaceState::*;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .single()
            .expect("valid")
    }

    fn tr(minutes: i64, state: WorkspaceState) -> Transition {
        Transition {
            at: t0() + Duration::minutes(minutes),
            state,
        }
    }

    fn rate() -> Money {
        Money::from_micros(41_600) // t3.medium
    }

    #[test]
    fn one_running_hour_costs_the_hourly_rate() {
        let history = [tr(0, Launching), tr(0, Running), tr(60, Stopped)];
        let spend = spend_between(&history, rate(), &[], t0(), t0() + Duration::hours(5));
        assert_eq!(spend.compute, rate());
        assert_eq!(spend.billed_compute_seconds, 3600);
    }

    #[test]
    fn each_start_bills_at_least_sixty_seconds() {
        // Two 10-second runs bill 60 s each.
        let history = [
            Transition {
                at: t0(),
                state: Running,
            },
            Transition {
                at: t0() + Duration::seconds(10),
                state: Stopped,
            },
            Transition {
                at: t0() + Duration::seconds(100),
                state: Running,
            },
            Transition {
                at: t0() + Duration::seconds(110),
                state: Stopped,
            },
        ];
        let spend = spend_between(&history, rate(), &[], t0(), t0() + Duration::hours(1));
        assert_eq!(spend.billed_compute_seconds, 120);
    }

    #[test]
    fn a_run_started_just_now_already_owes_its_minimum() {
        let history = [Transition {
            at: t0(),
            state: Running,
        }];
        let spend = spend_between(&history, rate(), &[], t0(), t0() + Duration::seconds(5));
        assert_eq!(spend.billed_compute_seconds, 60);
    }

    #[test]
    fn hibernating_bills_compute_but_hibernated_does_not() {
        let history = [tr(0, Running), tr(30, Hibernating), tr(32, Hibernated)];
        let spend = spend_between(&history, rate(), &[], t0(), t0() + Duration::hours(3));
        assert_eq!(spend.billed_compute_seconds, 32 * 60);
    }

    #[test]
    fn stopped_workspaces_pay_storage_only() {
        let volumes = [BilledVolume {
            size_gb: 730,
            gb_month: Money::from_micros(80_000),
        }];
        // 730 GB at $0.08/GB-month for one hour of a 730-hour month: $0.08.
        let history = [tr(0, Stopped)];
        let spend = spend_between(&history, rate(), &volumes, t0(), t0() + Duration::hours(1));
        assert_eq!(spend.compute, Money::ZERO);
        assert_eq!(spend.storage, Money::from_micros(80_000));
    }

    #[test]
    fn terminated_workspaces_stop_costing() {
        let volumes = [BilledVolume {
            size_gb: 730,
            gb_month: Money::from_micros(80_000),
        }];
        let history = [tr(0, Running), tr(60, Terminating), tr(61, Terminated)];
        let spend = spend_between(&history, rate(), &volumes, t0(), t0() + Duration::hours(10));
        assert_eq!(spend.compute, rate());
        assert_eq!(spend.storage, Money::from_micros(80_000));
    }

    #[test]
    fn windows_clip_and_do_not_repeat_the_minimum() {
        // Running from 23:59:50 to 00:00:20: the new day's window sees 20 s, no minimum.
        let start = t0() - Duration::seconds(10);
        let history = [
            Transition {
                at: start,
                state: Running,
            },
            Transition {
                at: t0() + Duration::seconds(20),
                state: Stopped,
            },
        ];
        let day = spend_between(&history, rate(), &[], t0(), t0() + Duration::days(1));
        assert_eq!(day.billed_compute_seconds, 20);
        let before = spend_between(&history, rate(), &[], t0() - Duration::days(1), t0());
        assert_eq!(before.billed_compute_seconds, 60);
    }

    #[test]
    fn transitions_in_any_order_give_the_same_spend() {
        let ordered = [
            tr(0, Running),
            tr(30, Stopped),
            tr(40, Running),
            tr(50, Stopped),
        ];
        let shuffled = [ordered[2], ordered[0], ordered[3], ordered[1]];
        let end = t0() + Duration::hours(1);
        assert_eq!(
            spend_between(&ordered, rate(), &[], t0(), end),
            spend_between(&shuffled, rate(), &[], t0(), end)
        );
    }

    #[test]
    fn time_in_state_finds_the_latest_stay() {
        let history = [
            tr(0, Running),
            tr(10, Hibernated),
            tr(20, Running),
            tr(30, Hibernated),
        ];
        let (seconds, since) = time_in_state(&history, Hibernated, t0() + Duration::minutes(45));
        assert_eq!(seconds, 25 * 60);
        assert_eq!(since, Some(t0() + Duration::minutes(30)));
    }
}
