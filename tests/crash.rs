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
    // Regression: connect lost the key and could lose the login user after a rebuild.
    let connect = daemon.client().connect_info(&name).await.expect("connect");
    assert_eq!(connect.ssh.user, "rocky");
    let key = connect.ssh.key_path.expect("key path found again");
    assert!(
        connect.ssh.command.contains(&format!("-i {key}")),
        "{}",
        connect.ssh.command
    );
}

/// Regression: rebuilding a lost database looked only in the default region, so workspaces
/// launched elsewhere were forgotten (and kept billing unseen).
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_database_is_rebuilt_from_every_region() {
    let mut daemon = Daemon::start();
    let name = unique("west");
    let request = LaunchRequest {
        name: name.clone(),
        template: "rocky-9-base".into(),
        region: Some("us-west-2".into()),
        ..Default::default()
    };
    daemon.client().launch(&request).await.expect("launch");
    let before = daemon.wait_for(&name, WorkspaceState::Running).await;
    assert_eq!(before.region, "us-west-2");
    daemon.kill();
    for file in ["prism.db", "prism.db-wal", "prism.db-shm"] {
        let _ = std::fs::remove_file(daemon.data_dir().join(file));
    }
    daemon.restart();
    // Start-up reconciliation runs before the daemon serves, so the list has it at once.
    let listed: Vec<_> = daemon
        .client()
        .workspaces()
        .await
        .expect("list")
        .into_iter()
        .filter(|w| w.name == name)
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}\n{}", daemon.log());
    assert_eq!(listed[0].region, "us-west-2");
    assert_eq!(listed[0].id, before.id);
    assert_eq!(listed[0].state, WorkspaceState::Running);
    assert_eq!(
        common::ec2_instances_in(&daemon.owner, "us-west-2")
            .await
            .len(),
        1
    );
    // The poll keeps it up to date from then on: its region is now in use.
    daemon.client().stop(&name).await.expect("stop");
    daemon.wait_for(&name, WorkspaceState::Stopped).await;
}

/// Regression: after a rebuild from tags `connect` printed a made-up Jupyter token and RStudio
/// password (the adopted row got a fresh secret, but the instance booted with the old one), and
/// the workspace's services were lost.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebuilt_workspace_shows_no_made_up_secrets_and_keeps_its_services() {
    let mut daemon = Daemon::start();
    std::fs::write(
        daemon.templates_dir().join("lab.yml"),
        "name: Lab Notebook\ninherits: [python-ml]\n\
         services:\n  - {name: jupyter, port: 8899, auth: token}\n",
    )
    .expect("write template");
    let jupyter = unique("jup");
    let rstudio = unique("rst");
    let untagged = unique("untag");
    let orphan = unique("orphan");
    let client = daemon.client();
    for (name, template) in [
        (&jupyter, "python-ml"),
        (&rstudio, "r-research"),
        (&untagged, "python-ml"),
        (&orphan, "Lab Notebook"),
    ] {
        let request = LaunchRequest {
            name: name.clone(),
            template: template.into(),
            ..Default::default()
        };
        let mut accepted = false;
        for _ in 0..50 {
            if client.launch(&request).await.is_ok() {
                accepted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(accepted, "{template} never accepted a launch");
    }
    let mut before = std::collections::BTreeMap::new();
    for name in [&jupyter, &rstudio, &untagged, &orphan] {
        daemon.wait_for(name, WorkspaceState::Running).await;
        before.insert(
            name.clone(),
            client.connect_info(name).await.expect("connect"),
        );
    }
    assert!(before[&jupyter].services["jupyter"].token.is_some());
    daemon.kill();
    for file in ["prism.db", "prism.db-wal", "prism.db-shm"] {
        let _ = std::fs::remove_file(daemon.data_dir().join(file));
    }
    // Instances launched before the services tag existed, and one whose template is gone.
    let ec2 = common::ec2().await;
    for view in ec2_instances(&daemon.owner).await {
        let name = view.tags.get("prism:name").cloned().unwrap_or_default();
        if name == untagged || name == orphan {
            assert!(view.tags.contains_key("prism:services"), "{view:?}");
            ec2.delete_tags()
                .resources(&view.id)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("prism:services")
                        .build(),
                )
                .send()
                .await
                .expect("delete tag");
        }
    }
    std::fs::remove_file(daemon.templates_dir().join("lab.yml")).expect("remove template");
    daemon.restart();
    let client = daemon.client();

    let after = client.connect_info(&jupyter).await.expect("connect");
    let service = &after.services["jupyter"];
    assert_eq!(service.token, None, "no made-up token");
    assert!(service.secret_unknown);
    assert!(
        service
            .note
            .as_deref()
            .is_some_and(|n| n.contains("/etc/prism/jupyter.env")),
        "{service:?}"
    );
    assert_eq!(
        service.local_forward,
        before[&jupyter].services["jupyter"].local_forward
    );
    assert!(
        after.notes.is_empty(),
        "services came from the tag: {:?}",
        after.notes
    );

    let after = client.connect_info(&rstudio).await.expect("connect");
    let service = &after.services["rstudio"];
    assert_eq!(service.password, None, "no made-up password");
    assert_eq!(
        service.username,
        before[&rstudio].services["rstudio"].username
    );
    assert!(service.secret_unknown);
    assert!(
        service
            .note
            .as_deref()
            .is_some_and(|n| n.contains("passwd")),
        "{service:?}"
    );

    let after = client.connect_info(&untagged).await.expect("connect");
    assert!(after.services.contains_key("jupyter"), "{after:?}");
    assert!(
        after
            .notes
            .iter()
            .any(|n| n.contains("taken from template")),
        "{:?}",
        after.notes
    );

    let after = client.connect_info(&orphan).await.expect("connect");
    assert!(after.services.is_empty(), "{after:?}");
    assert!(
        after
            .notes
            .iter()
            .any(|n| n.contains("services are unknown")),
        "{:?}",
        after.notes
    );

    // The CLI says why instead of printing a token.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["workspace", "connect", &jupyter])
        .env("PRISM_DAEMON_URL", &daemon.url)
        .env("PRISM_CONFIG_DIR", daemon.config_dir())
        .env("PRISM_DATA_DIR", daemon.data_dir())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("token:"), "{text}");
    assert!(text.contains("The Jupyter token is not shown"), "{text}");
}

/// Regression: a launch reported failed while an instance carrying its token was running left
/// that instance alive, unlisted and impossible to terminate.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_of_a_failed_launch_is_terminated_not_leaked() {
    let daemon = Daemon::start();
    // A template whose image does not exist makes the launch fail in the background.
    std::fs::write(
        daemon.templates_dir().join("ghost.yml"),
        "name: Ghost\nbase:\n  os: rocky\n  ssh_user: rocky\n  image:\n    owners: ['792107900819']\n    name: 'No-Such-Image-*'\n",
    )
    .expect("write template");
    let name = unique("ghost");
    let request = LaunchRequest {
        name: name.clone(),
        template: "Ghost".into(),
        ..Default::default()
    };
    let client = daemon.client();
    let mut accepted = false;
    for _ in 0..50 {
        if client.launch(&request).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(accepted, "the Ghost template never loaded");
    let failed = daemon.wait_for(&name, WorkspaceState::Failed).await;
    assert!(
        failed
            .launch_error
            .as_deref()
            .unwrap_or_default()
            .contains("No-Such-Image"),
        "{failed:?}"
    );

    // An instance appears with the failed launch's token, as an emulator or a lost answer
    // could leave behind.
    let store = prism::daemon::store::Store::open(&daemon.data_dir().join("prism.db"))
        .await
        .expect("store");
    let row = store
        .visible(chrono::DateTime::UNIX_EPOCH)
        .await
        .expect("rows")
        .into_iter()
        .find(|r| r.name == name)
        .expect("row");
    let ec2 = common::ec2().await;
    let image = ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .expect("images")
        .images()
        .iter()
        .find_map(|i| i.image_id().map(str::to_string))
        .expect("an image");
    let mut tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Instance);
    for (key, value) in [
        ("prism:managed", "true"),
        ("prism:owner", daemon.owner.as_str()),
        ("prism:name", name.as_str()),
        ("prism:launch-token", row.launch_token.as_str()),
    ] {
        tags = tags.tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(key)
                .value(value)
                .build(),
        );
    }
    ec2.run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(tags.build())
        .send()
        .await
        .expect("run");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let views = ec2_instances(&daemon.owner).await;
        if views
            .iter()
            .all(|v| v.state == "terminated" || v.state == "shutting-down")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "leaked instance still alive: {views:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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
