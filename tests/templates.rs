//! Templates through the daemon: listing, validation, info, user overrides, hot reload.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, error_of};

const MINIMAL: &str = "base:\n  os: rocky\n  ssh_user: rocky\n  image:\n    owners: ['792107900819']\n    name: 'Rocky-9-EC2-Base-9.*{arch}*'\n    arch_names: {x86_64: x86_64, arm64: aarch64}\n";

/// Polls until `check` holds, up to 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bundled_templates_list_with_the_contract_fields() {
    let daemon = Daemon::start();
    let templates = daemon.client().templates().await.expect("list");
    let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
    for expected in [
        "Python Machine Learning (Simplified)",
        "R Research Environment (Simplified)",
        "Rocky Linux 9 Base",
        "Rocky Linux 9 + Conda Stack",
        "Ubuntu 24.04 Base",
        "GPU Deep Learning (PyTorch)",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let ml = templates
        .iter()
        .find(|t| t.slug == "python-ml")
        .expect("python-ml");
    assert_eq!(ml.package_manager, "conda");
    assert_eq!(ml.ports, vec![22, 8888]);
    assert_eq!(ml.services, vec!["jupyter"]);
    assert!(ml.users.contains(&"datascientist".to_string()));
    assert_eq!(ml.validation_status, "validated");

    // The raw JSON has exactly the contract's keys among others.
    let raw: serde_json::Value = daemon
        .http()
        .get(daemon.api("templates"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    for key in [
        "name",
        "description",
        "package_manager",
        "packages",
        "users",
        "services",
        "ports",
        "validation_status",
    ] {
        assert!(raw[0].get(key).is_some(), "{key} missing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn info_resolves_inheritance_by_name_with_spaces_or_slug() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let info = client
        .template_info("Rocky Linux 9 + Conda Stack")
        .await
        .expect("by name");
    assert_eq!(info.inherits, vec!["Rocky Linux 9 Base"]);
    assert_eq!(
        info.dependency_chain,
        vec!["Rocky Linux 9 Base → Rocky Linux 9 + Conda Stack"]
    );
    assert_eq!(info.resolved_users, vec!["rocky", "datascientist"]);
    assert_eq!(info.resolved_ports, vec![22, 8888]);
    assert!(
        info.resolved_packages.contains(&"git".to_string()),
        "parent's packages"
    );
    assert!(
        info.resolved_packages.contains(&"jupyter".to_string()),
        "own packages"
    );
    assert!(info.troubleshooting_guide.is_some());
    assert_eq!(info.validation_status, "validated");
    let by_slug = client
        .template_info("rocky-9-conda")
        .await
        .expect("by slug");
    assert_eq!(by_slug.name, info.name);
    // Hand-encoded, as curl users would write it.
    let response = daemon
        .http()
        .get(format!(
            "{}/api/v1/templates/Rocky%20Linux%209%20%2B%20Conda%20Stack/info",
            daemon.url
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);

    let response = daemon
        .http()
        .get(daemon.api("templates/nope/info"))
        .send()
        .await
        .expect("get");
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("TEMPLATE_NOT_FOUND"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_every_bundled_template_valid() {
    let daemon = Daemon::start();
    let summary = daemon
        .client()
        .validate_templates()
        .await
        .expect("validate");
    assert_eq!(summary.total_templates, summary.validated, "{summary:?}");
    assert!(summary.errors.is_empty());
    assert!(
        summary
            .validation_results
            .iter()
            .all(|r| r.checks_passed == r.checks_total)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cyclic_template_on_disk_is_reported_and_the_rest_still_serve() {
    let daemon = Daemon::start();
    std::fs::write(
        daemon.templates_dir().join("a.yml"),
        format!("name: Cycle A\ninherits: [Cycle B]\n{MINIMAL}"),
    )
    .expect("write");
    std::fs::write(
        daemon.templates_dir().join("b.yml"),
        "name: Cycle B\ninherits: [Cycle A]\n",
    )
    .expect("write");
    std::fs::write(
        daemon.templates_dir().join("broken.yml"),
        "name: Broken\npackges: [typo]\n",
    )
    .expect("write");
    let client = daemon.client();
    eventually("the cycle to be reported", || async {
        client
            .validate_templates()
            .await
            .map(|s| {
                s.validation_results.iter().any(|r| {
                    r.issues
                        .iter()
                        .any(|i| i.contains("Cycle A → Cycle B → Cycle A"))
                })
            })
            .unwrap_or(false)
    })
    .await;
    let summary = client.validate_templates().await.expect("validate");
    let broken = summary
        .errors
        .iter()
        .find(|e| e.file.ends_with("broken.yml"))
        .expect("broken file reported");
    assert!(broken.message.contains("packges"), "{broken:?}");
    let names: Vec<String> = client
        .templates()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("Cycle")), "{names:?}");
    assert!(names.contains(&"Rocky Linux 9 Base".to_string()));
    let error = client.template_info("Cycle A").await.expect_err("invalid");
    assert_eq!(error.code(), Some("TEMPLATE_INVALID"));
    // Launching an invalid template is refused with its problems.
    let request = prism::model::api::LaunchRequest {
        name: "cyc".into(),
        template: "Cycle A".into(),
        ..Default::default()
    };
    let error = client.launch(&request).await.expect_err("invalid template");
    assert_eq!(error.code(), Some("TEMPLATE_INVALID"));
}

#[tokio::test(flavor = "multi_thread")]
async fn user_templates_override_bundled_ones_and_reload_without_restart() {
    let daemon = Daemon::start();
    let client = daemon.client();
    std::fs::write(
        daemon.templates_dir().join("rocky.yaml"),
        format!("name: Rocky Linux 9 Base\ndescription: our lab's Rocky\n{MINIMAL}"),
    )
    .expect("write");
    eventually("the override to load", || async {
        client
            .template_info("Rocky Linux 9 Base")
            .await
            .map(|i| i.description == "our lab's Rocky")
            .unwrap_or(false)
    })
    .await;
    let info = client.template_info("rocky-9-base").await.expect("info");
    assert_eq!(info.source, "user");
    // The child inherits from the user's version now.
    let child = client
        .template_info("Rocky Linux 9 + Conda Stack")
        .await
        .expect("child");
    assert_eq!(
        child.description,
        "Rocky Linux 9 with conda, Jupyter and pandas/scikit-learn"
    );

    std::fs::write(
        daemon.templates_dir().join("new.yml"),
        format!("name: Lab Special\n{MINIMAL}"),
    )
    .expect("write");
    eventually("a new template to appear", || async {
        client
            .templates()
            .await
            .map(|t| t.iter().any(|t| t.name == "Lab Special"))
            .unwrap_or(false)
    })
    .await;
    std::fs::remove_file(daemon.templates_dir().join("new.yml")).expect("remove");
    eventually("a removed template to vanish", || async {
        client
            .templates()
            .await
            .map(|t| !t.iter().any(|t| t.name == "Lab Special"))
            .unwrap_or(false)
    })
    .await;
}

/// Regression: an `ls` of the template directory made the daemon reload its templates, and each
/// reload's own opening of the directory made it reload again, about four times a second.
#[tokio::test(flavor = "multi_thread")]
async fn reading_the_template_directory_does_not_start_a_reload_storm() {
    let daemon = Daemon::start();
    let file = daemon.templates_dir().join("lab.yml");
    std::fs::write(&file, format!("name: Lab Storm\n{MINIMAL}")).expect("write");
    let client = daemon.client();
    eventually("the template to load", || async {
        client
            .template_info("Lab Storm")
            .await
            .is_ok_and(|i| i.name == "Lab Storm")
    })
    .await;
    // Let the write's own events settle (the debounce is 250 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reloads = |log: &str| log.matches("template catalog").count();
    let before = reloads(&daemon.log());

    // What `ls` and `cat` do, a few times over two seconds.
    for _ in 0..10 {
        let listed = std::fs::read_dir(daemon.templates_dir())
            .expect("read dir")
            .count();
        assert_eq!(listed, 1);
        std::fs::read_to_string(&file).expect("read file");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = reloads(&daemon.log());
    assert_eq!(
        after,
        before,
        "reads of the directory caused reloads:\n{}",
        daemon.log()
    );
    // A real change is still picked up.
    std::fs::write(
        &file,
        format!("name: Lab Storm\ndescription: edited\n{MINIMAL}"),
    )
    .expect("write");
    eventually("the edit to load", || async {
        client
            .template_info("Lab Storm")
            .await
            .is_ok_and(|i| i.description == "edited")
    })
    .await;
}

/// Regression: an invalid template answered TEMPLATE_INVALID by name but TEMPLATE_NOT_FOUND by
/// slug, 400 on launch but 422 on info, and a file that did not parse was "not found" with a
/// hint to list templates; a child of a cycle was not told its way into the cycle.
#[tokio::test(flavor = "multi_thread")]
async fn invalid_templates_answer_template_invalid_by_name_slug_or_file() {
    let daemon = Daemon::start();
    std::fs::write(
        daemon.templates_dir().join("a.yml"),
        format!("name: Cycle A\nslug: cycle-a\ninherits: [Cycle B]\n{MINIMAL}"),
    )
    .expect("write");
    std::fs::write(
        daemon.templates_dir().join("b.yml"),
        "name: Cycle B\ninherits: [Cycle A]\n",
    )
    .expect("write");
    std::fs::write(
        daemon.templates_dir().join("child.yml"),
        format!("name: Child Of Cycle\ninherits: [Cycle A]\n{MINIMAL}"),
    )
    .expect("write");
    std::fs::write(
        daemon.templates_dir().join("broken-lab.yml"),
        "name: Broken Lab\npackges: [typo]\n",
    )
    .expect("write");
    let client = daemon.client();
    eventually("the broken files to load", || async {
        client
            .validate_templates()
            .await
            .is_ok_and(|s| s.validation_results.len() >= 11)
    })
    .await;

    let http = daemon.http();
    for (key, issue) in [
        ("Cycle A", "Cycle A → Cycle B → Cycle A"),
        ("cycle-a", "Cycle A → Cycle B → Cycle A"),
        ("cycle-b", "Cycle B → Cycle A → Cycle B"),
        (
            "child-of-cycle",
            "Child Of Cycle → Cycle A leads into the inheritance cycle \
             Cycle A → Cycle B → Cycle A",
        ),
        ("Broken Lab", "packges"),
        ("broken-lab", "packges"),
    ] {
        let info = http
            .get(daemon.api(&format!("templates/{key}/info")))
            .send()
            .await
            .expect("get");
        let launch = http
            .post(daemon.api("instances/launch"))
            .json(&serde_json::json!({"name": "never", "template": key}))
            .send()
            .await
            .expect("post");
        for response in [info, launch] {
            let (status, error) = error_of(response).await;
            assert_eq!(
                (status, error["code"].as_str()),
                (422, Some("TEMPLATE_INVALID")),
                "{key}: {error}"
            );
            assert!(
                error["details"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(issue),
                "{key}: {error}"
            );
            assert!(
                error["remediation"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("prism templates validate"),
                "{key}: {error}"
            );
        }
    }
    assert!(client.workspaces().await.expect("list").is_empty());
}
