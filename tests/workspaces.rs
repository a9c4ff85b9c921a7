//! Workspaces end to end: the real daemon, the real SDK, moto as EC2.

mod common;

use std::time::Duration;

use common::{Daemon, ec2_instances, error_of, unique};
use prism::model::api::{LaunchRequest, StorageRequest};
use prism::model::workspace::WorkspaceState;

fn ec2_state(views: &[common::Ec2View], id: &str) -> String {
    views
        .iter()
        .find(|v| v.id == id)
        .map(|v| v.state.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn full_lifecycle_is_visible_in_ec2() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let name = unique("life");

    let launched = daemon
        .launch_running(&name, "Python Machine Learning (Simplified)")
        .await;
    let id = launched.id.clone().expect("instance id");
    assert_eq!(launched.instance_type, "t3.large");
    assert_eq!(launched.region, "us-east-1");
    assert_eq!(
        launched.hourly_rate.map(|r| r.to_decimal_string()),
        Some("0.0832".into())
    );
    assert!(
        launched.hibernation_capable,
        "python-ml asks for hibernation on a t3"
    );
    let views = ec2_instances(&daemon.owner).await;
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(ec2_state(&views, &id), "running");
    let tags = &views[0].tags;
    assert_eq!(tags.get("prism:managed").map(String::as_str), Some("true"));
    assert_eq!(tags.get("prism:name"), Some(&name));
    assert_eq!(
        tags.get("prism:template").map(String::as_str),
        Some("Python Machine Learning (Simplified)")
    );
    assert!(views[0].hibernation_configured);
    // Regression: the tag recorded the size before the root grew to hold memory (20 + 8 GiB).
    assert_eq!(
        tags.get("prism:root-volume-gb").map(String::as_str),
        Some("28")
    );
    assert_eq!(
        tags.get("prism:ssh-user").map(String::as_str),
        Some("ec2-user")
    );
    let running_cost = launched.current_hourly_cost.expect("priced");
    assert!(
        running_cost > launched.hourly_rate.expect("rate"),
        "compute plus storage"
    );

    let stopped = client.stop(&name).await.expect("stop");
    assert_eq!(stopped.previous_state, WorkspaceState::Running);
    assert_eq!(stopped.new_state, WorkspaceState::Stopping);
    let listed = daemon.wait_for(&name, WorkspaceState::Stopped).await;
    assert_eq!(
        ec2_state(&ec2_instances(&daemon.owner).await, &id),
        "stopped"
    );
    // Stopped, it pays for its 28 GB of gp3 only: $2.24 a month over 730 hours.
    assert_eq!(
        listed.current_hourly_cost.map(|c| c.to_decimal_string()),
        Some("0.003068".into())
    );

    let started = client.start(&name).await.expect("start");
    assert_eq!(started.new_state, WorkspaceState::Starting);
    daemon.wait_for(&name, WorkspaceState::Running).await;
    assert_eq!(
        ec2_state(&ec2_instances(&daemon.owner).await, &id),
        "running"
    );

    let hibernated = client.hibernate(&name).await.expect("hibernate");
    assert_eq!(hibernated.new_state, WorkspaceState::Hibernating);
    assert_eq!(
        hibernated.estimated_savings,
        "$0.0832/hour during hibernation"
    );
    daemon.wait_for(&name, WorkspaceState::Hibernated).await;
    assert_eq!(
        ec2_state(&ec2_instances(&daemon.owner).await, &id),
        "stopped"
    );
    let status = client
        .hibernation_status(&name)
        .await
        .expect("hibernation status");
    assert!(status.hibernation_supported);
    assert_eq!(status.current_state, WorkspaceState::Hibernated);
    assert!(status.hibernation_time.is_some());

    let resumed = client.resume(&name).await.expect("resume");
    assert_eq!(resumed.previous_state, WorkspaceState::Hibernated);
    assert_eq!(resumed.new_state, WorkspaceState::Resuming);
    daemon.wait_for(&name, WorkspaceState::Running).await;

    client.extend(&name, Some(6)).await.expect("extend");
    let ttl_tag = ec2_instances(&daemon.owner).await[0]
        .tags
        .get("prism:ttl")
        .cloned()
        .expect("ttl tag");
    let ttl = chrono::DateTime::parse_from_rfc3339(&ttl_tag).expect("RFC 3339");
    let expected = chrono::Utc::now() + chrono::Duration::hours(6);
    assert!(
        (ttl.timestamp() - expected.timestamp()).abs() < 120,
        "ttl {ttl_tag}"
    );
    assert!(ttl_tag.ends_with('Z'), "UTC: {ttl_tag}");
    // A second extension adds to the deadline, not to now.
    client.extend(&name, Some(2)).await.expect("extend again");
    let moved = ec2_instances(&daemon.owner).await[0]
        .tags
        .get("prism:ttl")
        .cloned()
        .expect("ttl");
    let moved = chrono::DateTime::parse_from_rfc3339(&moved).expect("RFC 3339");
    assert_eq!((moved - ttl).num_hours(), 2);

    let connect = client.connect_info(&name).await.expect("connect");
    assert_eq!(connect.ssh.user, "ec2-user");
    assert!(
        connect
            .ssh
            .command
            .contains(&format!("ec2-user@{}", connect.ssh.host))
    );
    let jupyter = connect.services.get("jupyter").expect("jupyter service");
    assert!(jupyter.local_forward.contains("8888:localhost:8888"));
    assert!(jupyter.token.as_ref().is_some_and(|t| t.len() == 24));

    let terminated = client.terminate(&name, false).await.expect("terminate");
    assert_eq!(terminated.state, WorkspaceState::Terminating);
    daemon.wait_for(&name, WorkspaceState::Terminated).await;
    assert_eq!(
        ec2_state(&ec2_instances(&daemon.owner).await, &id),
        "terminated"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_reports_the_new_address_after_stop_and_start() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let name = unique("addr");
    daemon.launch_running(&name, "rocky-9-base").await;
    let before = client.connect_info(&name).await.expect("connect").ssh.host;
    client.stop(&name).await.expect("stop");
    daemon.wait_for(&name, WorkspaceState::Stopped).await;
    client.start(&name).await.expect("start");
    daemon.wait_for(&name, WorkspaceState::Running).await;
    let after = client.connect_info(&name).await.expect("connect");
    assert_ne!(
        before, after.ssh.host,
        "moto gives a new public IP on each start"
    );
    assert_eq!(after.ssh.user, "rocky");
    let ec2 = common::ec2().await;
    let id = client
        .workspaces()
        .await
        .expect("list")
        .into_iter()
        .find(|w| w.name == name)
        .and_then(|w| w.id);
    let described = ec2
        .describe_instances()
        .instance_ids(id.expect("id"))
        .send()
        .await
        .expect("describe");
    let ip = described.reservations()[0].instances()[0]
        .public_ip_address()
        .map(str::to_string);
    assert_eq!(ip.as_deref(), Some(after.ssh.host.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bundled_template_launches_in_the_sandbox() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let templates = client.templates().await.expect("templates");
    assert!(templates.len() >= 7, "{templates:?}");
    let mut names = Vec::new();
    for template in &templates {
        let name = unique(&template.slug.chars().take(20).collect::<String>());
        let request = LaunchRequest {
            name: name.clone(),
            template: template.slug.clone(),
            ..Default::default()
        };
        client
            .launch(&request)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", template.name));
        names.push((name, template.name.clone()));
    }
    for (name, template) in &names {
        let w = daemon.wait_for(name, WorkspaceState::Running).await;
        assert_eq!(&w.template, template);
    }
    let views = ec2_instances(&daemon.owner).await;
    assert_eq!(
        views.iter().filter(|v| v.state == "running").count(),
        names.len()
    );
    let gpu = views
        .iter()
        .find(|v| {
            v.tags
                .get("prism:template")
                .is_some_and(|t| t.starts_with("GPU"))
        })
        .expect("gpu workspace");
    assert_eq!(gpu.instance_type, "g4dn.xlarge");
}

#[tokio::test(flavor = "multi_thread")]
async fn launch_answers_before_the_instance_exists() {
    let daemon = Daemon::start();
    let name = unique("fast");
    let request = LaunchRequest {
        name: name.clone(),
        template: "ubuntu-24-04-base".into(),
        size: Some("L".into()),
        storage: Some(StorageRequest {
            ebs_volume_size: Some(64),
            ebs_volume_type: Some("gp3".into()),
        }),
        project: Some("cancer-research".into()),
        budget: Some("grant-nih-2024".into()),
        ..Default::default()
    };
    let response = daemon
        .http()
        .post(daemon.api("instances/launch"))
        .json(&request)
        .send()
        .await
        .expect("launch");
    assert_eq!(response.status().as_u16(), 202);
    let body: prism::model::api::LaunchResponse = response.json().await.expect("body");
    assert_eq!(body.state, WorkspaceState::Launching);
    assert!(body.launch_progress < 100);
    assert_eq!(body.instance_type, "t3.xlarge");
    assert_eq!(body.instance_id, None, "the answer does not wait for EC2");
    let w = daemon.wait_for(&name, WorkspaceState::Running).await;
    assert_eq!(w.project.as_deref(), Some("cancer-research"));
    assert_eq!(
        w.tags.get("Project").map(String::as_str),
        Some("cancer-research")
    );
    assert_eq!(
        w.tags.get("Budget").map(String::as_str),
        Some("grant-nih-2024")
    );
    assert_eq!(w.size.as_deref(), Some("L"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hibernate_on_a_workspace_without_hibernation_is_refused_with_the_reason() {
    let daemon = Daemon::start();
    let name = unique("nohib");
    daemon.launch_running(&name, "gpu-deep-learning").await;
    let response = daemon
        .http()
        .post(daemon.api(&format!("instances/{name}/hibernate")))
        .send()
        .await
        .expect("post");
    let (status, error) = error_of(response).await;
    assert_eq!(status, 409);
    assert_eq!(error["code"], "HIBERNATION_NOT_SUPPORTED");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("does not enable it"),
        "{error}"
    );
    // Nothing changed: the workspace still runs.
    let views = ec2_instances(&daemon.owner).await;
    assert_eq!(views[0].state, "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_type_without_hibernation_support_launches_without_it() {
    let daemon = Daemon::start();
    let name = unique("g4hib");
    // Python ML asks for hibernation; EC2 says g4dn.xlarge cannot hibernate.
    let request = LaunchRequest {
        name: name.clone(),
        template: "python-ml".into(),
        instance_type: Some("g4dn.xlarge".into()),
        ..Default::default()
    };
    let answer = daemon.client().launch(&request).await.expect("launch");
    assert!(!answer.hibernation);
    assert!(
        answer.message.contains("does not support hibernation"),
        "{}",
        answer.message
    );
    let listed = daemon.wait_for(&name, WorkspaceState::Running).await;
    assert!(!listed.hibernation_capable);
    assert!(!ec2_instances(&daemon.owner).await[0].hibernation_configured);
    let error = daemon
        .client()
        .hibernate(&name)
        .await
        .expect_err("cannot hibernate");
    assert_eq!(error.code(), Some("HIBERNATION_NOT_SUPPORTED"));
    assert!(
        error
            .to_string()
            .contains("g4dn.xlarge does not support hibernation"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_launches_are_refused_and_change_nothing() {
    let daemon = Daemon::start();
    let http = daemon.http();
    let url = daemon.api("instances/launch");
    let cases: Vec<(serde_json::Value, u16, &str)> = vec![
        (
            serde_json::json!({"name": "ok-name", "template": "no-such-template"}),
            400,
            "TEMPLATE_NOT_FOUND",
        ),
        (
            serde_json::json!({"name": "Bad Name", "template": "python-ml"}),
            400,
            "INVALID_NAME",
        ),
        (
            serde_json::json!({"name": "-x", "template": "python-ml"}),
            400,
            "INVALID_NAME",
        ),
        (
            serde_json::json!({"name": "i-0abc123def4567890", "template": "python-ml"}),
            400,
            "INVALID_NAME",
        ),
        (
            serde_json::json!({"name": "a".repeat(64), "template": "python-ml"}),
            400,
            "INVALID_NAME",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "size": "XXL"}),
            400,
            "INVALID_SIZE",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "instance_type": "t3.mega"}),
            400,
            "INVALID_INSTANCE_TYPE",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "instance_type": "rm -rf"}),
            400,
            "INVALID_INSTANCE_TYPE",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "region": "mars-north-1"}),
            400,
            "INVALID_REGION",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "storage": {"ebs_volume_size": 2}}),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "storage": {"ebs_volume_type": "st1"}}),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "storage": {"ebs_volume_type": "io1"}}),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "size": "S", "instance_type": "t3.micro"}),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "project": "a;b"}),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::json!({"name": "ok-name", "template": "python-ml", "nmae": "typo"}),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::json!({"template": "python-ml"}),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::json!({"name": 5, "template": "python-ml"}),
            400,
            "INVALID_REQUEST",
        ),
    ];
    for (body, status, code) in cases {
        let response = http.post(&url).json(&body).send().await.expect("post");
        let (got, error) = error_of(response).await;
        assert_eq!(
            (got, error["code"].as_str().unwrap_or_default()),
            (status, code),
            "{body} → {error}"
        );
        assert!(
            !error["remediation"].as_str().unwrap_or_default().is_empty(),
            "{error}"
        );
    }
    // Malformed JSON, an empty body, and a non-JSON content type.
    for (body, content_type, status) in [
        ("{\"name\": ", "application/json", 400),
        ("", "application/json", 400),
        ("name=x", "application/x-www-form-urlencoded", 415),
    ] {
        let response = http
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("post");
        let (got, _) = error_of(response).await;
        assert_eq!(got, status, "{body:?}");
    }
    assert!(daemon.client().workspaces().await.expect("list").is_empty());
    assert!(ec2_instances(&daemon.owner).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_names_conflict_while_the_first_lives() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let name = unique("dup");
    daemon.launch_running(&name, "rocky-9-base").await;
    let request = LaunchRequest {
        name: name.clone(),
        template: "rocky-9-base".into(),
        ..Default::default()
    };
    let error = client.launch(&request).await.expect_err("duplicate");
    assert_eq!(error.code(), Some("WORKSPACE_EXISTS"));
    client.terminate(&name, false).await.expect("terminate");
    daemon.wait_for(&name, WorkspaceState::Terminated).await;
    // Once terminated, the name is free again.
    client
        .launch(&request)
        .await
        .expect("name reusable after terminate");
    daemon.wait_for(&name, WorkspaceState::Running).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_requests_check_names_states_and_confirmation() {
    let daemon = Daemon::start();
    let http = daemon.http();
    let name = unique("checks");
    daemon.launch_running(&name, "amazon-linux-2023-base").await;

    for verb in [
        "stop",
        "start",
        "hibernate",
        "resume",
        "terminate",
        "extend",
    ] {
        let response = http
            .post(daemon.api(&format!("instances/no-such-box/{verb}")))
            .send()
            .await
            .expect("post");
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("INSTANCE_NOT_FOUND")),
            "{verb}"
        );
    }
    for path in ["connect", "hibernation-status"] {
        let response = http
            .get(daemon.api(&format!("instances/no-such-box/{path}")))
            .send()
            .await
            .expect("get");
        assert_eq!(error_of(response).await.0, 404, "{path}");
    }

    for body in [
        None,
        Some(serde_json::json!({})),
        Some(serde_json::json!({"confirm": "delete"})),
    ] {
        let mut request = http.post(daemon.api(&format!("instances/{name}/terminate")));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let (status, error) = error_of(request.send().await.expect("post")).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("CONFIRMATION_REQUIRED")),
            "{body:?}"
        );
    }
    assert_eq!(
        ec2_instances(&daemon.owner).await[0].state,
        "running",
        "unconfirmed terminate changed EC2"
    );

    let response = http
        .post(daemon.api(&format!("instances/{name}/resume")))
        .send()
        .await
        .expect("post");
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("INVALID_STATE"))
    );

    daemon.client().stop(&name).await.expect("stop");
    daemon.wait_for(&name, WorkspaceState::Stopped).await;
    let response = http
        .post(daemon.api(&format!("instances/{name}/resume")))
        .send()
        .await
        .expect("post");
    let (_, error) = error_of(response).await;
    assert!(
        error["remediation"]
            .as_str()
            .unwrap_or_default()
            .contains("use start"),
        "{error}"
    );
    let response = http
        .get(daemon.api(&format!("instances/{name}/connect")))
        .send()
        .await
        .expect("get");
    assert_eq!(error_of(response).await.0, 409);

    let response = http
        .post(daemon.api(&format!("instances/{name}/extend")))
        .json(&serde_json::json!({"hours": 1_000_000}))
        .send()
        .await
        .expect("post");
    assert_eq!(error_of(response).await.0, 400);
    // Extend with no body defaults to four hours and answers 204.
    let response = http
        .post(daemon.api(&format!("instances/{name}/extend")))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 204);
    let w = daemon
        .client()
        .workspaces()
        .await
        .expect("list")
        .into_iter()
        .find(|w| w.name == name)
        .expect("listed");
    let hours = (w.ttl.expect("ttl") - chrono::Utc::now()).num_minutes();
    assert!((235..=240).contains(&hours), "ttl {hours} minutes away");
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_with_backup_snapshots_the_volumes_first() {
    let daemon = Daemon::start();
    let name = unique("backup");
    daemon.launch_running(&name, "rocky-9-base").await;
    let answer = daemon
        .client()
        .terminate(&name, true)
        .await
        .expect("terminate");
    assert!(!answer.snapshots.is_empty(), "{answer:?}");
    let ec2 = common::ec2().await;
    let snapshots = ec2
        .describe_snapshots()
        .set_snapshot_ids(Some(answer.snapshots.clone()))
        .send()
        .await
        .expect("describe");
    assert_eq!(snapshots.snapshots().len(), answer.snapshots.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn spend_grows_from_recorded_running_time() {
    let daemon = Daemon::start();
    let name = unique("spend");
    let w = daemon.launch_running(&name, "rocky-9-base").await;
    // At least the 60-second minimum of a t3.large, plus a sliver of storage.
    let minimum = w.hourly_rate.expect("rate").mul_div(60, 3600);
    assert!(
        w.current_spend.expect("priced") >= minimum,
        "{:?} < {:?}",
        w.current_spend,
        minimum
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = daemon
        .client()
        .workspaces()
        .await
        .expect("list")
        .into_iter()
        .find(|x| x.name == name)
        .expect("listed");
    assert!(later.current_spend >= w.current_spend);
}

/// Regression: the login user and services of a workspace came from the current catalog, so
/// editing or removing its template changed how `connect` reached it.
#[tokio::test(flavor = "multi_thread")]
async fn connect_keeps_what_the_workspace_was_launched_with() {
    let daemon = Daemon::start();
    let file = daemon.templates_dir().join("lab.yml");
    std::fs::write(
        &file,
        "name: Lab Rocky\ninherits: [rocky-9-base]\nusers:\n  - {name: alice}\nservices:\n  - {name: jupyter, port: 8899, auth: token}\n",
    )
    .expect("write");
    let name = unique("keep");
    let request = LaunchRequest {
        name: name.clone(),
        template: "Lab Rocky".into(),
        ..Default::default()
    };
    let mut accepted = false;
    for _ in 0..50 {
        if daemon.client().launch(&request).await.is_ok() {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(accepted, "template never loaded");
    daemon.wait_for(&name, WorkspaceState::Running).await;
    std::fs::remove_file(&file).expect("remove template");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        daemon.client().template_info("Lab Rocky").await.is_err(),
        "template gone"
    );
    let connect = daemon.client().connect_info(&name).await.expect("connect");
    assert_eq!(connect.ssh.user, "rocky");
    let jupyter = connect.services.get("jupyter").expect("jupyter kept");
    assert!(
        jupyter.local_forward.contains("8899:localhost:8899"),
        "{jupyter:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unpriced_types_show_unknown_spend_not_zero() {
    let daemon = Daemon::start();
    let name = unique("unpriced");
    let request = LaunchRequest {
        name: name.clone(),
        template: "rocky-9-base".into(),
        instance_type: Some("m7g.large".into()),
        ..Default::default()
    };
    daemon.client().launch(&request).await.expect("launch");
    let w = daemon.wait_for(&name, WorkspaceState::Running).await;
    assert_eq!(w.hourly_rate, None);
    assert_eq!(w.current_spend, None);
    assert_eq!(w.current_hourly_cost, None);
    assert!(
        w.price_source
            .unwrap_or_default()
            .contains("not in the bundled price table")
    );
}

/// Regression: a body on stop, start, hibernate or resume was silently ignored.
#[tokio::test(flavor = "multi_thread")]
async fn parameterless_actions_refuse_parameters() {
    let daemon = Daemon::start();
    let name = unique("params");
    daemon.launch_running(&name, "rocky-9-base").await;
    for verb in ["stop", "start", "hibernate", "resume"] {
        let response = daemon
            .http()
            .post(daemon.api(&format!("instances/{name}/{verb}")))
            .json(&serde_json::json!({"force": true}))
            .send()
            .await
            .expect("post");
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{verb}"
        );
    }
    assert_eq!(ec2_instances(&daemon.owner).await[0].state, "running");
    let response = daemon
        .http()
        .post(daemon.api(&format!("instances/{name}/stop")))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 200, "an empty object is fine");
}

/// Regression: `extend` on a terminated workspace answered "Cannot start workspace …", and
/// `connect` on one said to wait until it runs.
#[tokio::test(flavor = "multi_thread")]
async fn requests_on_a_terminated_workspace_say_what_was_asked_and_that_it_is_gone() {
    let daemon = Daemon::start();
    let http = daemon.http();
    let name = unique("gone");
    let id = daemon
        .launch_running(&name, "rocky-9-base")
        .await
        .id
        .expect("id");
    daemon
        .client()
        .terminate(&name, false)
        .await
        .expect("terminate");
    daemon.wait_for(&name, WorkspaceState::Terminated).await;
    for key in [&name, &id] {
        let response = http
            .post(daemon.api(&format!("instances/{key}/extend")))
            .send()
            .await
            .expect("post");
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (409, Some("INVALID_STATE"))
        );
        assert_eq!(
            error["message"],
            format!("Cannot extend workspace '{name}': it is terminated"),
            "{key}"
        );
        let response = http
            .get(daemon.api(&format!("instances/{key}/connect")))
            .send()
            .await
            .expect("get");
        let (status, error) = error_of(response).await;
        assert_eq!(status, 409);
        let hint = error["remediation"].as_str().unwrap_or_default();
        assert!(
            hint.contains("no longer exists") && !hint.contains("Wait"),
            "{hint}"
        );
    }
}
