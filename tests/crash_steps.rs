//! SIGKILL at each step of launch, stop, hibernate and terminate, and what the next start makes
//! of it. A [`FaultProxy`] between the daemon and moto is the test hook that holds the daemon
//! at a step: its EC2 call sent but never delivered (hung), delivered and acted on but never
//! answered (answer dropped), or answered. The daemon is killed right there; after a restart
//! the store (read from the SQLite file and through the API) must agree with what moto itself
//! says, with no launch doubled and no action left half-done.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::faults::{FaultProxy, Outcome, Rule};
use common::{Daemon, ec2_instances, unique};
use prism::daemon::store::{Store, WorkspaceRow};
use prism::model::api::LaunchRequest;
use prism::model::workspace::WorkspaceState;

/// Where in an action's EC2 call the daemon dies.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// The call left the daemon; EC2 never got it.
    Sent,
    /// EC2 acted on the call; its answer never came back.
    Applied,
    /// EC2's answer reached the daemon, which may or may not have recorded it.
    Answered,
}

const STEPS: [Step; 3] = [Step::Sent, Step::Applied, Step::Answered];

/// Fails the test if `test` takes longer than `limit`.
async fn bounded<T>(limit: Duration, test: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, test).await {
        Ok(value) => value,
        Err(_) => panic!("the test did not finish within {limit:?}"),
    }
}

/// A daemon whose EC2 calls go through `proxy`.
fn daemon_via(proxy: &FaultProxy) -> Daemon {
    let url = proxy.url();
    Daemon::start_with(&[("AWS_ENDPOINT_URL_EC2", url.as_str())])
}

/// Waits (every 10 ms, up to 30 s) until the proxy has seen `n` calls of `action` end in
/// `outcome`.
async fn until_seen(proxy: &FaultProxy, action: &str, outcome: Outcome, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.outcomes(action, outcome) < n {
        assert!(
            Instant::now() < deadline,
            "{action} never {outcome:?}: {:?}",
            proxy.summary()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts `request` (an API call that leads to EC2 `action`), kills the daemon at `step` of
/// that call, and starts it again with the proxy healed.
async fn kill_at<F>(daemon: &mut Daemon, proxy: &FaultProxy, action: &str, step: Step, request: F)
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let outcome = match step {
        Step::Sent => {
            proxy.add(Rule::hang().action(action));
            Outcome::Hung
        }
        Step::Applied => {
            proxy.add(Rule::drop_response().action(action));
            Outcome::Dropped
        }
        Step::Answered => Outcome::Forwarded,
    };
    let seen = proxy.outcomes(action, outcome);
    let call = tokio::spawn(request);
    until_seen(proxy, action, outcome, seen + 1).await;
    daemon.kill();
    call.abort();
    proxy.heal();
    daemon.restart();
}

/// The store's rows for `name`, read from the daemon's SQLite file.
async fn store_rows(daemon: &Daemon, name: &str) -> Vec<WorkspaceRow> {
    let store = Store::open(&daemon.data_dir().join("prism.db"))
        .await
        .expect("open the store");
    store
        .visible(chrono::DateTime::UNIX_EPOCH)
        .await
        .expect("rows")
        .into_iter()
        .filter(|r| r.name == name)
        .collect()
}

/// After a restart: the API and the SQLite file show `name` in `expected`, with no action
/// pending, on the one instance moto holds for it, which is in `ec2_state`.
async fn agrees(daemon: &Daemon, name: &str, expected: WorkspaceState, ec2_state: &str, at: &str) {
    let listed = daemon.wait_for(name, expected).await;
    let views: Vec<_> = ec2_instances(&daemon.owner)
        .await
        .into_iter()
        .filter(|v| v.tags.get("prism:name").map(String::as_str) == Some(name))
        .collect();
    assert_eq!(views.len(), 1, "{at}: one instance in moto: {views:?}");
    assert_eq!(views[0].state, ec2_state, "{at}: {views:?}");
    assert_eq!(listed.id.as_deref(), Some(views[0].id.as_str()), "{at}");
    let same_name: Vec<_> = daemon
        .client()
        .workspaces()
        .await
        .expect("list")
        .into_iter()
        .filter(|w| w.name == name)
        .collect();
    assert_eq!(same_name.len(), 1, "{at}: listed once: {same_name:?}");

    // The file says the same once the confirming observation is written, with nothing left
    // to re-send.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = store_rows(daemon, name).await;
        assert_eq!(rows.len(), 1, "{at}: one row: {rows:?}");
        let row = &rows[0];
        assert_eq!(
            row.instance_id.as_deref(),
            Some(views[0].id.as_str()),
            "{at}"
        );
        if row.state() == expected && row.pending_action.is_none() {
            assert_eq!(
                row.is_live(),
                expected != WorkspaceState::Terminated,
                "{at}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{at}: the store says {} (pending {:?})",
            row.state,
            row.pending_action
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn launch_request(name: &str, template: &str) -> LaunchRequest {
    LaunchRequest {
        name: name.into(),
        template: template.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_each_step_of_a_launch_leaves_exactly_one_instance() {
    let proxy = FaultProxy::start();
    let mut daemon = daemon_via(&proxy);
    bounded(Duration::from_secs(150), async {
        for step in STEPS {
            let at = format!("launch, killed {step:?}");
            let name = unique("crashlaunch");
            let client = daemon.client();
            let request = launch_request(&name, "rocky-9-base");
            client.launch(&request).await.expect("launch accepted");
            // The launch itself runs in the background; the hook waits for its RunInstances.
            kill_at(&mut daemon, &proxy, "RunInstances", step, async {}).await;
            agrees(&daemon, &name, WorkspaceState::Running, "running", &at).await;
        }
    })
    .await;
}

/// Regression: a launch resumed after a crash sent RunInstances again whenever the start-up
/// lookup by launch token failed, which started a second instance where the client token is
/// not honoured (moto; AWS once the token has expired).
#[tokio::test(flavor = "multi_thread")]
async fn a_launch_resumed_after_a_crash_never_sends_run_instances_while_its_fate_is_unknown() {
    let proxy = FaultProxy::start();
    let mut daemon = daemon_via(&proxy);
    bounded(Duration::from_secs(120), async {
        let name = unique("resumed");
        proxy.add(Rule::drop_response().action("RunInstances"));
        daemon
            .client()
            .launch(&launch_request(&name, "rocky-9-base"))
            .await
            .expect("launch accepted");
        until_seen(&proxy, "RunInstances", Outcome::Dropped, 1).await;
        daemon.kill();
        proxy.heal();
        // After the restart EC2 cannot say what it holds, neither to the launch's lookup by
        // token nor to the poll that would otherwise find the instance by its tags.
        proxy.add(Rule::throttle().action("DescribeInstances"));
        let key_checks = proxy.received("DescribeKeyPairs");
        daemon.restart();
        // The resumed launch has prepared everything RunInstances needs (the key pair comes
        // last) and is free to send it; it must wait for EC2 to answer instead.
        let deadline = Instant::now() + Duration::from_secs(30);
        while proxy.received("DescribeKeyPairs") == key_checks {
            assert!(Instant::now() < deadline, "{:?}", proxy.summary());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            proxy.received("RunInstances"),
            1,
            "RunInstances sent again while the launch's fate was unknown: {:?}\n{}",
            proxy.summary(),
            daemon.log()
        );
        proxy.heal();
        agrees(
            &daemon,
            &name,
            WorkspaceState::Running,
            "running",
            "resumed",
        )
        .await;
        assert_eq!(proxy.received("RunInstances"), 1, "{:?}", proxy.summary());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_each_step_of_stop_and_hibernate_leaves_the_store_agreeing_with_ec2() {
    let proxy = FaultProxy::start();
    let mut daemon = daemon_via(&proxy);
    bounded(Duration::from_secs(240), async {
        let name = unique("crashstop");
        // Python ML asks for hibernation on a type that supports it.
        daemon.launch_running(&name, "python-ml").await;
        for step in STEPS {
            let client = daemon.client();
            let target = name.clone();
            let stop = async move { client.stop(&target).await };
            kill_at(&mut daemon, &proxy, "StopInstances", step, stop).await;
            let at = format!("stop, killed {step:?}");
            agrees(&daemon, &name, WorkspaceState::Stopped, "stopped", &at).await;

            daemon.client().start(&name).await.expect("start");
            daemon.wait_for(&name, WorkspaceState::Running).await;

            let client = daemon.client();
            let target = name.clone();
            let hibernate = async move { client.hibernate(&target).await };
            kill_at(&mut daemon, &proxy, "StopInstances", step, hibernate).await;
            let at = format!("hibernate, killed {step:?}");
            // moto hibernates by stopping.
            agrees(&daemon, &name, WorkspaceState::Hibernated, "stopped", &at).await;

            daemon.client().start(&name).await.expect("resume");
            daemon.wait_for(&name, WorkspaceState::Running).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_each_step_of_terminate_leaves_the_store_agreeing_with_ec2() {
    let proxy = FaultProxy::start();
    let mut daemon = daemon_via(&proxy);
    bounded(Duration::from_secs(180), async {
        let names: Vec<String> = STEPS.iter().map(|_| unique("crashterm")).collect();
        for name in &names {
            daemon
                .client()
                .launch(&launch_request(name, "rocky-9-base"))
                .await
                .expect("launch accepted");
        }
        for name in &names {
            daemon.wait_for(name, WorkspaceState::Running).await;
        }
        for (step, name) in STEPS.into_iter().zip(&names) {
            let client = daemon.client();
            let target = name.clone();
            let terminate = async move { client.terminate(&target, false).await };
            kill_at(&mut daemon, &proxy, "TerminateInstances", step, terminate).await;
            let at = format!("terminate, killed {step:?}");
            agrees(&daemon, name, WorkspaceState::Terminated, "terminated", &at).await;
        }
    })
    .await;
}
