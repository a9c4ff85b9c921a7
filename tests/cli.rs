//! The CLI as a script would use it: real binary, real HTTP, real daemon.

mod common;

use std::process::Output;

use common::{Daemon, unique};

fn prism(daemon: &Daemon, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(args)
        .env("PRISM_DAEMON_URL", &daemon.url)
        .env("PRISM_CONFIG_DIR", daemon.config_dir())
        .env("PRISM_DATA_DIR", daemon.data_dir())
        .output()
        .expect("run prism")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn launch_list_and_terminate_from_the_command_line() {
    let daemon = Daemon::start();
    let name = unique("cli");
    let out = prism(
        &daemon,
        &[
            "workspace",
            "launch",
            &name,
            "--template",
            "rocky-9-base",
            "--size",
            "S",
            "--wait",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("running"), "{}", stdout(&out));

    let out = prism(&daemon, &["workspace", "list"]);
    assert!(out.status.success());
    let table = stdout(&out);
    assert!(table.starts_with("NAME"), "{table}");
    // t3.medium at $0.0416/h plus its 24 GB gp3 root (20 GB + 4 GiB for hibernation) at
    // $0.08/GB-month over 730 hours: $0.0442 an hour.
    assert!(
        table.contains(&name) && table.contains("t3.medium") && table.contains("$0.0442"),
        "{table}"
    );

    let out = prism(&daemon, &["-o", "json", "workspace", "list"]);
    let list: Vec<prism::model::api::Workspace> =
        serde_json::from_slice(&out.stdout).expect("json list");
    assert_eq!(list.len(), 1);

    let out = prism(&daemon, &["workspace", "connect", &name]);
    assert!(stdout(&out).starts_with("ssh "), "{}", stdout(&out));

    // Without --yes and without a terminal, terminate refuses.
    let out = prism(&daemon, &["workspace", "terminate", &name]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"));
    let out = prism(&daemon, &["workspace", "terminate", &name, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_exit_non_zero_with_the_remediation() {
    let daemon = Daemon::start();
    let out = prism(&daemon, &["workspace", "stop", "no-such-box"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains("not found") && text.contains("hint: Use 'prism workspace list'"),
        "{text}"
    );

    let out = prism(
        &daemon,
        &["workspace", "launch", "Bad_Name", "--template", "python-ml"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("DNS-safe"), "{}", stderr(&out));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["daemon", "status"])
        .env("PRISM_DAEMON_URL", "http://127.0.0.1:1")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("cannot reach the prism daemon"),
        "{}",
        stderr(&out)
    );
}

/// Regression: `--daemon-url notaurl` exited 3 with "Start the daemon", as if it were down.
#[test]
fn a_malformed_daemon_url_is_a_usage_error_that_shows_a_url() {
    for args in [
        vec!["--daemon-url", "notaurl", "daemon", "status"],
        vec!["workspace", "list", "--daemon-url", "127.0.0.1:8947"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
            .args(&args)
            .env_remove("PRISM_DAEMON_URL")
            .output()
            .expect("run");
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(
            text.contains("is not a daemon URL") && text.contains("http://127.0.0.1:8947"),
            "{text}"
        );
        assert!(!text.contains("Start the daemon"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_commands_print_tables_and_json() {
    let daemon = Daemon::start();
    let out = prism(&daemon, &["templates", "list"]);
    assert!(stdout(&out).contains("Rocky Linux 9 + Conda Stack"));
    let out = prism(
        &daemon,
        &["templates", "info", "Rocky Linux 9 + Conda Stack"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Rocky Linux 9 Base → Rocky Linux 9 + Conda Stack"),
        "{}",
        stdout(&out)
    );
    let out = prism(&daemon, &["templates", "validate", "-o", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["total_templates"], summary["validated"]);
    let out = prism(&daemon, &["daemon", "status"]);
    assert!(stdout(&out).contains("connected"), "{}", stdout(&out));
}

/// Regression: `prism workspace list | head -1` panicked with "failed printing to stdout".
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_ends_output_quietly() {
    let daemon = Daemon::start();
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["templates", "list"])
        .env("PRISM_DAEMON_URL", &daemon.url)
        .env("PRISM_CONFIG_DIR", daemon.config_dir())
        .env("PRISM_DATA_DIR", daemon.data_dir())
        .stdout(writer)
        .output()
        .expect("run");
    let text = stderr(&out);
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn extend_refuses_hours_that_add_nothing() {
    let daemon = Daemon::start();
    for hours in ["0", "-3", "9000"] {
        let out = prism(&daemon, &["workspace", "extend", "box", "--hours", hours]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--hours {hours}: {}",
            stderr(&out)
        );
    }
}

/// Regression: the list had no instance id column, so a terminated workspace and the new one
/// reusing its name looked alike.
#[tokio::test(flavor = "multi_thread")]
async fn the_list_shows_instance_ids_so_a_reused_name_is_told_apart() {
    let daemon = Daemon::start();
    let name = unique("reuse");
    let first = daemon.launch_running(&name, "rocky-9-base").await;
    daemon
        .client()
        .terminate(&name, false)
        .await
        .expect("terminate");
    daemon
        .wait_for(&name, prism::model::workspace::WorkspaceState::Terminated)
        .await;
    let second = daemon.launch_running(&name, "rocky-9-base").await;
    let out = prism(&daemon, &["workspace", "list"]);
    let table = stdout(&out);
    assert!(
        table.starts_with("NAME") && table.contains(" ID "),
        "{table}"
    );
    for (workspace, state) in [(&first, "terminated"), (&second, "running")] {
        let id = workspace.id.as_deref().expect("id");
        assert!(
            table
                .lines()
                .any(|l| l.contains(&name) && l.contains(id) && l.contains(state)),
            "{id} {state}: {table}"
        );
    }
}

fn prism_with_timeout(daemon: &Daemon, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--wait", "--timeout", "60"]);
    prism(daemon, &all)
}

/// Regression: only `launch` could `--wait`; stop, start, hibernate, resume and terminate
/// returned at once and scripts had to poll the list themselves.
#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_commands_wait_for_the_target_state() {
    use prism::model::workspace::WorkspaceState as S;
    let daemon = Daemon::start();
    let name = unique("waits");
    let state_now = || async {
        daemon
            .client()
            .workspaces()
            .await
            .expect("list")
            .into_iter()
            .find(|w| w.name == name)
            .map(|w| w.state)
    };
    let out = prism_with_timeout(
        &daemon,
        &["workspace", "launch", &name, "--template", "python-ml"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(state_now().await, Some(S::Running));
    for (verb, reached) in [
        ("stop", S::Stopped),
        ("start", S::Running),
        ("hibernate", S::Hibernated),
        ("resume", S::Running),
    ] {
        let out = prism_with_timeout(&daemon, &["workspace", verb, &name]);
        assert!(out.status.success(), "{verb}: {}", stderr(&out));
        assert!(
            stdout(&out).contains(&format!("{name}: {reached}")),
            "{verb}: {}",
            stdout(&out)
        );
        // Reached when the command returned, not some time later.
        assert_eq!(state_now().await, Some(reached), "{verb}");
    }
    let out = prism(
        &daemon,
        &[
            "-o",
            "json",
            "workspace",
            "terminate",
            &name,
            "--yes",
            "--wait",
            "--timeout",
            "60",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let last: prism::model::api::Workspace =
        serde_json::from_slice(&out.stdout).expect("one JSON workspace");
    assert_eq!(last.state, S::Terminated);
    assert_eq!(state_now().await, Some(S::Terminated));
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_gives_up_after_its_timeout_and_says_so() {
    use prism::model::workspace::WorkspaceState as S;
    // As JSON rather than a struct literal, so that fields added to the list later need no
    // change here.
    let now = chrono::Utc::now();
    let stuck = serde_json::json!({
        "name": "stuck", "id": "i-0123456789abcdef0", "state": "stopping",
        "instance_type": "t3.medium", "region": "us-east-1", "template": "Rocky Linux 9 Base",
        "hibernation_capable": false, "spot": false, "attached_volumes": [],
        "attached_ebs_volumes": [], "tags": {}, "created_at": now, "state_since": now,
    });
    let parsed: prism::model::api::Workspace =
        serde_json::from_value(stuck.clone()).expect("a workspace as the daemon lists it");
    assert_eq!(parsed.state, S::Stopping);
    let answer = prism::model::api::StateChange {
        name: "stuck".into(),
        previous_state: S::Running,
        new_state: S::Stopping,
        message: "Workspace stopping - all data preserved".into(),
        estimated_ready_time: None,
    };
    let url = common::fake_http(vec![
        (
            "POST /api/v1/instances/stuck/stop",
            serde_json::to_string(&answer).expect("json"),
        ),
        (
            "GET /api/v1/instances",
            serde_json::to_string(&vec![stuck]).expect("json"),
        ),
    ]);
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prism"))
        .args(["workspace", "stop", "stuck", "--wait", "--timeout", "2"])
        .env("PRISM_DAEMON_URL", &url)
        .output()
        .expect("run");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("'stuck' is not stopped after 2 s (it is stopping)"),
        "{text}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Regression (trial): with AWS unreachable from the start, `workspace list` printed "No
/// workspaces" as if that were known; it now says the list may be incomplete, on stderr.
#[test]
fn the_list_says_when_the_daemon_could_not_refresh_it() {
    let daemon = Daemon::start_with(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
    let out = prism(&daemon, &["workspace", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has not heard from EC2 yet"),
        "{}",
        stderr(&out)
    );
    // JSON on stdout stays clean for scripts.
    let out = prism(&daemon, &["-o", "json", "workspace", "list"]);
    assert_eq!(stdout(&out).trim(), "[]");

    let fresh = Daemon::start();
    let out = prism(&fresh, &["workspace", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
}
