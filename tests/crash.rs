//! Nothing lost, nothing doubled: crashes and races around launches.

mod common;

use std::time::Duration;

use common::{Daemon, ec2_instances, unique};
use prism::model::api::LaunchRequest;
use prism::model::workspace::WorkspaceState;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_right_after_launch_comes_back_without_a_duplicate() {
    let mut daemon = Daemon::start();
    // Kill at several points of the background launch: before anything, mid-way, around
    // RunInstances, and after it.
    for delay_ms in [0_u64, 40, 120, 300, 800] {
        let name = unique(&format!("crash{delay_ms}"));
        let request = LaunchRequest {
            name: name.clone(),
            template: "rocky-9-base".into(),
            ..Default::default()
        };
        daemon
            .client()
            .launch(&request)
            .await
            .expect("launch accepted");
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        daemon.kill();
        daemon.restart();
        let w = daemon.wait_for(&name, WorkspaceState::Running).await;
        let views: Vec<_> = ec2_instances(&daemon.owner)
            .await
            .into_iter()
            .filter(|v| v.tags.get("prism:name") == Some(&name) && v.state != "terminated")
            .collect();
        assert_eq!(views.len(), 1, "delay {delay_ms} ms: {views:?}");
        assert_eq!(w.id.as_deref(), Some(views[0].id.as_str()));
        let listed: Vec<_> = daemon
            .client()
            .workspaces()
            .await
            .expect("list")
            .into_iter()
            .filter(|x| x.name == name)
            .collect();
        assert_eq!(listed.len(), 1, "one workspace listed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_launches_of_one_name_leave_one_instance() {
    let daemon = Daemon::start();
    let name = unique("race");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = daemon.client();
        let request = LaunchRequest {
            name: name.clone(),
            template: "rocky-9-base".into(),
            ..Default::default()
        };
        tasks.push(tokio::spawn(async move { client.launch(&request).await }));
    }
    let mut accepted = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => accepted += 1,
            Err(e) if e.code() == Some("WORKSPACE_EXISTS") => conflicts += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!((accepted, conflicts), (1, 19));
    daemon.wait_for(&name, WorkspaceState::Running).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let views = ec2_instances(&daemon.owner).await;
    assert_eq!(views.len(), 1, "{views:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_database_is_rebuilt_from_ec2_tags() {
    let mut daemon = Daemon::start();
    let name = unique("adopt");
    let before = daemon.launch_running(&name, "rocky-9-base").await;
    daemon.kill();
    for file in ["prism.db", "prism.db-wal", "prism.db-shm"] {
        let _ = std::fs::remove_file(daemon.data_dir().join(file));
    }
    daemon.restart();
    let after = daemon.wait_for(&name, WorkspaceState::Running).await;
    assert_eq!(after.id, before.id);
    assert_eq!(after.template, "Rocky Linux 9 Base");
    assert_eq!(ec2_instances(&daemon.owner).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_accepted_before_a_crash_is_applied_after_restart() {
    let mut daemon = Daemon::start();
    let name = unique("pending");
    daemon.launch_running(&name, "rocky-9-base").await;
    daemon.client().stop(&name).await.expect("stop");
    daemon.kill();
    daemon.restart();
    daemon.wait_for(&name, WorkspaceState::Stopped).await;
    let views = ec2_instances(&daemon.owner).await;
    assert_eq!(views[0].state, "stopped");
}
