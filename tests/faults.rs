//! Faults between the daemon and AWS: throttling, lost answers, an endpoint that refuses
//! connections or never answers. A [`FaultProxy`] stands between the daemon and moto; every
//! test is bounded in time and says which calls it expected to reach moto.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::faults::{FaultProxy, Outcome, Rule};
use common::{Daemon, ec2_instances, unique};
use prism::model::api::{LaunchRequest, Workspace};
use prism::model::workspace::WorkspaceState;
use serde_json::Value;

/// Fails the test if `test` takes longer than `limit`.
async fn bounded<T>(limit: Duration, test: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, test).await {
        Ok(value) => value,
        Err(_) => panic!("the test did not finish within {limit:?}"),
    }
}

/// Polls `check` every 250 ms until it yields a value, for up to `limit`.
async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `GET /api/v1/daemon/status`, which must answer within a second whatever AWS does.
async fn status(daemon: &Daemon) -> Value {
    let started = Instant::now();
    let response = daemon
        .http()
        .get(daemon.api("daemon/status"))
        .send()
        .await
        .expect("status answers");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "status took {elapsed:?}\n{}",
        daemon.log()
    );
    assert_eq!(response.status(), 200);
    response.json().await.expect("status JSON")
}

/// The list and its data-age headers; it must answer within a second whatever AWS does.
struct Listed {
    workspaces: Vec<Workspace>,
    age: Option<i64>,
    stale: Option<bool>,
}

async fn list(daemon: &Daemon) -> Listed {
    let started = Instant::now();
    let response = daemon
        .http()
        .get(daemon.api("instances"))
        .send()
        .await
        .expect("list answers");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(1), "list took {elapsed:?}");
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let age = header("x-prism-data-age").map(|v| v.parse().expect("age is whole seconds"));
    let stale = header("x-prism-data-stale").map(|v| v == "true");
    Listed {
        workspaces: response.json().await.expect("list JSON"),
        age,
        stale,
    }
}

fn named<'a>(listed: &'a Listed, name: &str) -> &'a Workspace {
    listed
        .workspaces
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("{name} not listed: {:?}", listed.workspaces))
}

fn launch_request(name: &str) -> LaunchRequest {
    LaunchRequest {
        name: name.into(),
        template: "rocky-9-base".into(),
        ..Default::default()
    }
}

/// The daemon's EC2 calls go through `proxy`, with `attempts` tries per call.
fn daemon_via_ec2_proxy(proxy: &FaultProxy, attempts: &str) -> Daemon {
    let url = proxy.url();
    Daemon::start_with(&[
        ("AWS_ENDPOINT_URL_EC2", url.as_str()),
        ("PRISM_AWS_MAX_ATTEMPTS", attempts),
    ])
}

/// Every AWS call of the daemon (EC2, STS, SSM) goes through `proxy`.
fn daemon_via_proxy(proxy: &FaultProxy) -> Daemon {
    let url = proxy.url();
    Daemon::start_with(&[("AWS_ENDPOINT_URL", url.as_str())])
}

/// Waits for a refresh cycle that began after `after` and succeeded.
async fn fresh_refresh_after(daemon: &Daemon, after: chrono::DateTime<chrono::Utc>) -> Value {
    eventually(Duration::from_secs(30), "a successful refresh", || async {
        let status = status(daemon).await;
        let last: Option<chrono::DateTime<chrono::Utc>> =
            serde_json::from_value(status["last_refresh"].clone()).ok();
        (status["refresh_error"].is_null() && last.is_some_and(|t| t > after)).then_some(status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_describe_instances_is_retried_with_back_off_and_the_refresh_succeeds() {
    let proxy = FaultProxy::start();
    let daemon = daemon_via_ec2_proxy(&proxy, "4");
    bounded(Duration::from_secs(90), async {
        let name = unique("throttle");
        daemon.launch_running(&name, "rocky-9-base").await;
        let before = proxy.calls().len();
        proxy.throttle("DescribeInstances", 3);
        let set_at = chrono::Utc::now();
        fresh_refresh_after(&daemon, set_at).await;

        let calls: Vec<_> = proxy.calls()[before..]
            .iter()
            .filter(|c| c.action == "DescribeInstances")
            .cloned()
            .collect();
        let outcomes: Vec<Outcome> = calls.iter().take(4).map(|c| c.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Throttled,
                Outcome::Throttled,
                Outcome::Throttled,
                Outcome::Forwarded
            ],
            "{:?}",
            proxy.summary()
        );
        // The SDK's standard retries wait a random share of 200 ms, 400 ms, 800 ms: some
        // time passes, but far less than a poll interval.
        let waited = calls[3].at - calls[0].at;
        assert!(
            waited > Duration::from_millis(20) && waited < Duration::from_secs(4),
            "three retries took {waited:?}"
        );
        let listed = list(&daemon).await;
        assert_eq!(named(&listed, &name).state, WorkspaceState::Running);
        assert_eq!(listed.stale, Some(false));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn while_describe_instances_keeps_failing_the_list_serves_the_last_data_marked_stale() {
    let proxy = FaultProxy::start();
    let daemon = daemon_via_ec2_proxy(&proxy, "2");
    bounded(Duration::from_secs(120), async {
        let name = unique("stale");
        let running = daemon.launch_running(&name, "rocky-9-base").await;
        let fresh = list(&daemon).await;
        assert_eq!(fresh.stale, Some(false), "fresh data is not stale");
        assert!(fresh.age.is_some_and(|age| age < 15), "age {:?}", fresh.age);

        proxy.add(Rule::throttle().action("DescribeInstances"));
        let failing = eventually(Duration::from_secs(30), "refresh_error", || async {
            let status = status(&daemon).await;
            status["refresh_error"].is_string().then_some(status)
        })
        .await;
        let error = failing["refresh_error"].as_str().unwrap_or_default();
        assert!(error.contains("RequestLimitExceeded"), "{failing}");
        assert_eq!(failing["data_stale"], true, "{failing}");
        assert_eq!(failing["status"], "degraded", "{failing}");

        // The last data is served, and says how old it is.
        let first = list(&daemon).await;
        let listed = named(&first, &name);
        assert_eq!(listed.state, WorkspaceState::Running);
        assert_eq!(listed.id, running.id);
        assert_eq!(first.stale, Some(true));
        let age = first.age.expect("the list says how old its data is");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let later = list(&daemon).await;
        let later_age = later.age.expect("age");
        assert!(later_age >= age + 2, "age went from {age} to {later_age}");
        let status_age = status(&daemon).await["data_age_seconds"]
            .as_i64()
            .expect("status has the data age");
        assert!(status_age >= later_age, "{status_age} < {later_age}");

        proxy.heal();
        let healed_at = chrono::Utc::now();
        let healthy = fresh_refresh_after(&daemon, healed_at).await;
        assert_eq!(healthy["data_stale"], false, "{healthy}");
        let after = list(&daemon).await;
        assert_eq!(after.stale, Some(false));
        assert!(after.age.is_some_and(|a| a < 10), "age {:?}", after.age);
    })
    .await;
}

/// Counts the instances moto holds for a workspace name, terminated ones included, and
/// checks that they all carry one launch token.
async fn instances_named(owner: &str, name: &str) -> Vec<common::Ec2View> {
    let views: Vec<_> = ec2_instances(owner)
        .await
        .into_iter()
        .filter(|v| v.tags.get("prism:name").map(String::as_str) == Some(name))
        .collect();
    let tokens: std::collections::BTreeSet<_> = views
        .iter()
        .filter_map(|v| v.tags.get("prism:launch-token"))
        .collect();
    assert!(tokens.len() <= 1, "one launch, one token: {views:?}");
    views
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_run_instances_answer_never_makes_a_second_instance() {
    let proxy = FaultProxy::start();
    let daemon = daemon_via_ec2_proxy(&proxy, "2");
    bounded(Duration::from_secs(90), async {
        // Every RunInstances reaches moto, which starts the instance; the daemon never hears.
        proxy.add(Rule::drop_response().action("RunInstances"));
        let name = unique("dropped");
        daemon
            .client()
            .launch(&launch_request(&name))
            .await
            .expect("launch accepted");
        let running = daemon.wait_for(&name, WorkspaceState::Running).await;
        // A few refresh cycles more, in case anything would still retry.
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(proxy.outcomes("RunInstances", Outcome::Dropped), 1);
        assert_eq!(proxy.forwarded("RunInstances"), 1, "{:?}", proxy.summary());
        let views = instances_named(&daemon.owner, &name).await;
        assert_eq!(views.len(), 1, "{views:?}");
        assert_eq!(running.id.as_deref(), Some(views[0].id.as_str()));
        assert_eq!(views[0].state, "running");
    })
    .await;
}

/// Regression: after a lost RunInstances answer the launcher looked the launch up once, and
/// when that lookup failed too (throttled) it sent RunInstances again, which started a second
/// instance wherever the client token is not honoured (moto; or AWS after the token expired).
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_launch_answer_and_a_failed_lookup_never_send_run_instances_again() {
    let proxy = FaultProxy::start();
    let daemon = daemon_via_ec2_proxy(&proxy, "2");
    bounded(Duration::from_secs(120), async {
        proxy.add(Rule::drop_response().action("RunInstances").times(1));
        // The launcher's lookups by launch token fail; the poll's describes do not.
        proxy.add(
            Rule::throttle()
                .action("DescribeInstances")
                .body_contains("launch-token"),
        );
        let name = unique("lookup");
        daemon
            .client()
            .launch(&launch_request(&name))
            .await
            .expect("launch accepted");
        // The launcher's lookup fails; it must not send RunInstances blind. The poll, whose
        // describes go through, finds the instance by its tags meanwhile.
        eventually(Duration::from_secs(30), "failed lookups", || async {
            let looked = proxy.outcomes("DescribeInstances", Outcome::Throttled) >= 2;
            (looked || proxy.received("RunInstances") > 1).then_some(())
        })
        .await;
        daemon.wait_for(&name, WorkspaceState::Running).await;
        assert_eq!(
            proxy.received("RunInstances"),
            1,
            "RunInstances sent again while the launch's fate was unknown: {:?}",
            proxy.summary()
        );
        proxy.heal();
        let running = daemon.wait_for(&name, WorkspaceState::Running).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(proxy.received("RunInstances"), 1, "{:?}", proxy.summary());
        let views = instances_named(&daemon.owner, &name).await;
        assert_eq!(views.len(), 1, "{views:?}");
        assert_eq!(running.id.as_deref(), Some(views[0].id.as_str()));
    })
    .await;
}

/// What an action answers while AWS is unreachable: a clear AWS_UNREACHABLE, in time.
async fn action_fails_unreachable(daemon: &Daemon, name: &str, limit: Duration) {
    let started = Instant::now();
    let answer = daemon
        .http()
        .post(daemon.api(&format!("instances/{name}/stop")))
        .timeout(limit + Duration::from_secs(10))
        .send()
        .await
        .expect("stop answers");
    let elapsed = started.elapsed();
    assert!(elapsed < limit, "stop took {elapsed:?}");
    let (status, error) = common::error_of(answer).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["code"], "AWS_UNREACHABLE", "{error}");
}

/// Status says AWS is unreachable, with a reason, and the list keeps the last data, stale.
async fn shows_disconnected(daemon: &Daemon, name: &str) {
    let down = eventually(Duration::from_secs(40), "status disconnected", || async {
        let status = status(daemon).await;
        (status["aws_connectivity"] == "disconnected").then_some(status)
    })
    .await;
    let error = down["aws_error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "no reason given: {down}");
    assert_eq!(down["status"], "degraded");
    let stale = eventually(Duration::from_secs(40), "stale list", || async {
        let listed = list(daemon).await;
        (listed.stale == Some(true)).then_some(listed)
    })
    .await;
    assert_eq!(named(&stale, name).state, WorkspaceState::Running);
}

/// After the proxy heals, the daemon finds AWS again by itself.
async fn recovers(daemon: &Daemon, name: &str) {
    let healed_at = chrono::Utc::now();
    eventually(Duration::from_secs(40), "status connected", || async {
        let status = status(daemon).await;
        (status["aws_connectivity"] == "connected" && status["status"] == "healthy").then_some(())
    })
    .await;
    fresh_refresh_after(daemon, healed_at).await;
    let listed = list(daemon).await;
    assert_eq!(listed.stale, Some(false));
    daemon.client().stop(name).await.expect("stop works again");
    daemon.wait_for(name, WorkspaceState::Stopped).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn while_aws_refuses_connections_the_daemon_answers_at_once_and_recovers_by_itself() {
    let proxy = FaultProxy::start();
    let daemon = daemon_via_proxy(&proxy);
    bounded(Duration::from_secs(150), async {
        let name = unique("refused");
        daemon.launch_running(&name, "rocky-9-base").await;
        proxy.refuse();
        shows_disconnected(&daemon, &name).await;
        action_fails_unreachable(&daemon, &name, Duration::from_secs(10)).await;
        let listed = list(&daemon).await;
        assert_eq!(named(&listed, &name).state, WorkspaceState::Running);
        proxy.heal();
        recovers(&daemon, &name).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn while_aws_never_answers_the_daemon_answers_at_once_and_recovers_by_itself() {
    let proxy = FaultProxy::start();
    let daemon = daemon_via_proxy(&proxy);
    bounded(Duration::from_secs(180), async {
        let name = unique("hung");
        daemon.launch_running(&name, "rocky-9-base").await;
        proxy.add(Rule::hang());
        shows_disconnected(&daemon, &name).await;
        // Bounded by the SDK's timeouts: one attempt, its retry, the whole operation.
        action_fails_unreachable(&daemon, &name, Duration::from_secs(35)).await;
        let listed = list(&daemon).await;
        assert_eq!(named(&listed, &name).state, WorkspaceState::Running);
        proxy.heal();
        recovers(&daemon, &name).await;
    })
    .await;
}
