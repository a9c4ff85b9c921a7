//! Cost reports end to end: spend computed from the transitions the real daemon recorded.

mod common;

use std::time::Duration;

use chrono::{Datelike as _, Days, NaiveDate, Utc, Weekday};
use common::{Daemon, error_of, unique};
use prism::model::money::Money;
use prism::model::workspace::WorkspaceState;

const TEMPLATE: &str = "ubuntu-24-04-base";

#[tokio::test(flavor = "multi_thread")]
async fn a_running_workspace_drives_the_current_costs() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let name = unique("costs");
    let running = daemon.launch_running(&name, TEMPLATE).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let costs = client.costs_current().await.expect("current costs");
    let hourly = running.current_hourly_cost.expect("priced");
    let rate = running.hourly_rate.expect("rate");
    let driver = costs
        .top_cost_drivers
        .iter()
        .find(|d| d.resource == name)
        .unwrap_or_else(|| panic!("{name} is a cost driver: {costs:?}"));
    assert_eq!(driver.hourly_cost, hourly);
    assert_eq!(driver.percentage, 100.0);
    // This daemon sees only this test's workspace.
    assert_eq!(costs.total_current_hourly, hourly);
    assert_eq!(costs.cost_breakdown.instances, rate);
    assert_eq!(
        costs.cost_breakdown.instances + costs.cost_breakdown.ebs_storage,
        costs.total_current_hourly
    );
    assert_eq!(costs.cost_breakdown.efs_storage, Money::ZERO);
    assert_eq!(costs.total_daily_projection, hourly.mul_div(24, 1));
    assert_eq!(costs.total_monthly_projection, hourly.mul_div(730, 1));
    // At least the 60 seconds billed for the start.
    assert!(costs.month_to_date >= rate.mul_div(60, 3600), "{costs:?}");
    assert!(costs.today > Money::ZERO && costs.today <= costs.month_to_date);
    assert_eq!(costs.month, costs.as_of.format("%Y-%m").to_string());
    assert_eq!(costs.hibernation_savings.current_month, Money::ZERO);
    assert!(costs.unpriced_workspaces.is_empty());
    assert!(
        costs.price_source.contains("bundled"),
        "{}",
        costs.price_source
    );

    // Once stopped it pays for its volume alone, and drives only that.
    client.stop(&name).await.expect("stop");
    let stopped = daemon.wait_for(&name, WorkspaceState::Stopped).await;
    let costs = client.costs_current().await.expect("current costs");
    assert_eq!(costs.cost_breakdown.instances, Money::ZERO);
    assert_eq!(
        Some(costs.total_current_hourly),
        stopped.current_hourly_cost
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_history_has_an_entry_per_day_and_today_costs() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let name = unique("history");
    daemon.launch_running(&name, TEMPLATE).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let history = client
        .cost_history(None, None, None)
        .await
        .expect("history");
    assert_eq!(history.granularity, "daily");
    assert_eq!(history.period, "30_days");
    assert_eq!(history.end_date, Utc::now().date_naive());
    assert_eq!(history.daily_costs.len(), 30);
    for (i, entry) in history.daily_costs.iter().enumerate() {
        let offset = Days::new(u64::try_from(i).expect("small"));
        assert_eq!(
            Some(entry.date),
            history.start_date.checked_add_days(offset)
        );
    }
    let today = history.daily_costs.last().expect("today");
    assert_eq!(today.date, history.end_date);
    assert!(today.cost > Money::ZERO, "{history:?}");
    assert_eq!(today.instances, 1);
    assert!(history.daily_costs[..29].iter().all(|d| d.cost.is_zero()));
    assert_eq!(
        history.total_cost,
        history.daily_costs.iter().map(|d| d.cost).sum::<Money>()
    );
    assert_eq!(
        history.cost_trends.primary_driver.as_deref(),
        Some(name.as_str())
    );
    // Nothing before today, something now.
    assert_eq!(history.cost_trends.trend_direction, "increasing");
    assert!(history.unpriced_workspaces.is_empty());

    let end = history.end_date;
    let start = end.checked_sub_days(Days::new(20)).expect("date");
    let weekly = client
        .cost_history(Some(start), Some(end), Some("weekly"))
        .await
        .expect("weekly");
    assert_eq!(weekly.period, "21_days");
    assert_eq!(weekly.daily_costs[0].date, start);
    assert!(
        weekly.daily_costs[1..]
            .iter()
            .all(|d| d.date.weekday() == Weekday::Mon),
        "{weekly:?}"
    );
    let weeks = (start.iter_days().take(21))
        .filter(|d| d.weekday() == Weekday::Mon)
        .count()
        + usize::from(start.weekday() != Weekday::Mon);
    assert_eq!(weekly.daily_costs.len(), weeks);
    assert!(weekly.daily_costs.last().expect("last").cost > Money::ZERO);

    let last_month = NaiveDate::from_ymd_opt(end.year(), end.month(), 1)
        .and_then(|first| first.checked_sub_months(chrono::Months::new(1)))
        .expect("date");
    let monthly = client
        .cost_history(Some(last_month), Some(end), Some("monthly"))
        .await
        .expect("monthly");
    assert_eq!(monthly.daily_costs.len(), 2, "{monthly:?}");
    assert_eq!(monthly.daily_costs[1].date.day(), 1);
    assert!(monthly.daily_costs[1].cost > Money::ZERO);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminated_workspace_keeps_its_spend_but_costs_nothing_now() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let name = unique("ended");
    daemon.launch_running(&name, TEMPLATE).await;
    client.terminate(&name, false).await.expect("terminate");
    daemon.wait_for(&name, WorkspaceState::Terminated).await;

    let costs = client.costs_current().await.expect("current costs");
    assert_eq!(costs.total_current_hourly, Money::ZERO, "{costs:?}");
    assert!(costs.top_cost_drivers.is_empty(), "{costs:?}");
    assert!(costs.month_to_date > Money::ZERO);
    let history = client
        .cost_history(None, None, None)
        .await
        .expect("history");
    let today = history.daily_costs.last().expect("today");
    assert!(today.cost > Money::ZERO);
    assert_eq!(today.instances, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_answer_400_in_the_error_format() {
    let daemon = Daemon::start();
    let http = daemon.http();
    for query in [
        "costs/history?start_date=2026-13-01",
        "costs/history?end_date=yesterday",
        "costs/history?start_date=2026-06-01T00:00:00Z",
        "costs/history?start_date=2026-06-10&end_date=2026-06-01",
        "costs/history?start_date=2024-01-01&end_date=2025-06-01",
        "costs/history?granularity=hourly",
        "costs/history?granularity=daily&granularity=weekly",
        "costs/history?start=2026-06-01",
        "costs/current?verbose=1",
    ] {
        let response = http.get(daemon.api(query)).send().await.expect("get");
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{query}: {error}"
        );
        assert!(
            !error["remediation"].as_str().unwrap_or_default().is_empty(),
            "{query}: {error}"
        );
    }
    // What a bad value is, and what to write instead.
    let response = http
        .get(daemon.api("costs/history?granularity=hourly"))
        .send()
        .await
        .expect("get");
    let (_, error) = error_of(response).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("hourly")
    );
    assert!(
        error["remediation"]
            .as_str()
            .unwrap_or_default()
            .contains("weekly")
    );
}
