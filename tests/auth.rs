//! Who may talk to the daemon: its own user over the socket, anyone with the token over TCP,
//! nobody else. And where the daemon refuses to start because its files are not private.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, Seen, error_of, foreign_daemon_on, foreign_http};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Runs `command` to its end, at most `limit`; panics if it is still running then.
fn run_to_exit(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{command:?} still running after {limit:?}");
}

/// The CLI, finding the daemon as a user's shell would: from the runtime file, no URL given.
fn cli(daemon: &Daemon, args: &[&str]) -> Output {
    run_cli(daemon, None, args)
}

/// The CLI with an explicit URL, as `--daemon-url` or PRISM_DAEMON_URL gives it.
fn cli_at(daemon: &Daemon, url: &str, args: &[&str]) -> Output {
    run_cli(daemon, Some(url), args)
}

fn run_cli(daemon: &Daemon, url: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prism"));
    command
        .args(args)
        .env("PRISM_CONFIG_DIR", daemon.config_dir())
        .env("PRISM_DATA_DIR", daemon.data_dir())
        .env_remove("PRISM_DAEMON_URL")
        .env_remove("PRISM_RUNTIME_DIR");
    if let Some(url) = url {
        command.env("PRISM_DAEMON_URL", url);
    }
    run_to_exit(&mut command, Duration::from_secs(30))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_without_the_right_token_is_401_and_changes_nothing() {
    let daemon = Daemon::start();
    let url = daemon.api("daemon/shutdown");
    let right = daemon.token();
    let wrong = prism::token::Token::generate();
    let attempts: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("a wrong token", Some(format!("Bearer {}", wrong.expose()))),
        (
            "the token cut short",
            Some(format!("Bearer {}", &right.expose()[..32])),
        ),
        ("another scheme", Some(format!("Basic {}", right.expose()))),
        ("an empty bearer", Some("Bearer ".into())),
        ("the bare token", Some(right.expose().to_string())),
    ];
    for (what, header) in attempts {
        let mut request = daemon.anonymous_http().post(&url);
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.expect("post");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{what}"
        );
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (401, Some("UNAUTHORIZED")),
            "{what}: {error}"
        );
        assert!(error["message"].as_str().is_some(), "{what}: {error}");
    }
    // A token in the URL is not a token: it would end up in logs and shell history.
    let response = daemon
        .anonymous_http()
        .get(format!(
            "{}?token={}",
            daemon.api("instances"),
            right.expose()
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 401);
    // Still running: none of the shutdowns went through.
    let status = daemon.client().status().await.expect("status");
    assert_eq!(status.status, "healthy");
    // And the token never reached the log.
    assert!(
        !daemon.log().contains(right.expose()),
        "the token was logged"
    );
    assert!(
        !daemon.log().contains(wrong.expose()),
        "a wrong token was logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_health_check_is_open_and_it_says_nothing() {
    let daemon = Daemon::start();
    let response = daemon
        .anonymous_http()
        .get(daemon.api("health"))
        .send()
        .await
        .expect("health");
    assert_eq!(response.status().as_u16(), 204);
    assert!(response.headers().contains_key("x-prism-daemon"));
    assert_eq!(response.bytes().await.expect("body").len(), 0);
    for path in ["daemon/status", "templates", "instances", "events", "costs"] {
        let response = daemon
            .anonymous_http()
            .get(daemon.api(path))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_uses_the_socket_and_needs_no_token() {
    let daemon = Daemon::start();
    // Without the token file a TCP client could not get in; the socket does not need it.
    std::fs::remove_file(daemon.config_dir().join("token")).expect("remove token");
    let out = cli(&daemon, &["daemon", "status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let socket = daemon.socket();
    assert!(
        shown.contains(&format!("unix:{}", socket.display())),
        "{shown}"
    );
    assert!(shown.contains("tcp"), "{shown}");
    let status = daemon.socket_client().status().await.expect("status");
    assert_eq!(status.socket.as_deref(), socket.to_str());
    assert_eq!(
        status.tcp_address.as_deref(),
        daemon.url.strip_prefix("http://")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_the_token_locks_out_the_old_one() {
    let daemon = Daemon::start();
    let old = daemon.token();
    let before = daemon.http();
    assert!(
        before
            .get(daemon.api("instances"))
            .send()
            .await
            .expect("get")
            .status()
            .is_success()
    );

    // Rotation needs the socket or the current token: without either, 401 and no change.
    let response = daemon
        .anonymous_http()
        .post(daemon.api("daemon/rotate-token"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(daemon.token().expose(), old.expose());

    let out = cli(&daemon, &["daemon", "rotate-token"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(old.expose()));
    let new = daemon.token();
    assert_ne!(new.expose(), old.expose());
    assert_eq!(new.expose().len(), 64, "256 bits in hex");
    assert_eq!(mode(&daemon.config_dir().join("token")), 0o600);
    assert!(
        !text(&out.stdout).contains(new.expose()),
        "printed the token"
    );

    let response = before
        .get(daemon.api("instances"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 401, "the old token still works");
    assert!(
        daemon
            .http()
            .get(daemon.api("instances"))
            .send()
            .await
            .expect("get")
            .status()
            .is_success()
    );

    // Over TCP, the current token is enough to rotate again.
    let answer = daemon
        .client()
        .rotate_token()
        .await
        .expect("rotate over TCP");
    assert!(
        answer.token_file.ends_with("token"),
        "{}",
        answer.token_file
    );
    assert_ne!(daemon.token().expose(), new.expose());

    // `prism daemon token` prints the current one, for scripts.
    let out = cli(&daemon, &["daemon", "token"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), daemon.token().expose());
}

/// The dashboard pointed at TCP (`--daemon-url`) lives through a rotation: on a 401 the client
/// reads the token file again and retries once.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_reading_the_token_file_survives_a_rotation() {
    let daemon = Daemon::start();
    let file = daemon.config_dir().join("token");
    let client = prism::client::DaemonClient::new(&daemon.url)
        .expect("client")
        .with_token_file(&file);
    client.workspaces().await.expect("before the rotation");
    daemon.socket_client().rotate_token().await.expect("rotate");
    client.workspaces().await.expect("after the rotation");
    // A client holding a token, with no file to read, is locked out.
    let held = daemon.client();
    daemon.socket_client().rotate_token().await.expect("rotate");
    let error = held.workspaces().await.expect_err("the old token");
    assert_eq!(error.code(), Some("UNAUTHORIZED"), "{error:?}");
    // A wrong file is read once, not forever.
    std::fs::write(
        &file,
        format!("{}\n", prism::token::Token::generate().expose()),
    )
    .expect("write");
    let error = client.workspaces().await.expect_err("a wrong token file");
    assert_eq!(error.code(), Some("UNAUTHORIZED"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_socket_and_runtime_files_are_private() {
    let daemon = Daemon::start();
    assert_eq!(mode(&daemon.config_dir().join("token")), 0o600);
    assert_eq!(mode(&daemon.data_dir().join("run")), 0o700);
    assert_eq!(mode(&daemon.socket()), 0o600);
    assert_eq!(mode(&daemon.data_dir().join("daemon.json")), 0o600);
    // Regression: the data directory was 0755 and prism.db 0644, so any user could read the
    // Jupyter tokens and RStudio passwords in it.
    assert_eq!(mode(&daemon.data_dir()), 0o700);
    assert_eq!(mode(&daemon.config_dir()), 0o700);
    for file in ["prism.db", "prism.db-wal", "daemon.lock"] {
        assert_eq!(mode(&daemon.data_dir().join(file)) & 0o077, 0, "{file}");
    }
    let token = daemon.token();
    let runtime = std::fs::read_to_string(daemon.data_dir().join("daemon.json")).expect("read");
    assert!(
        !runtime.contains(token.expose()),
        "the runtime file holds the token"
    );
}

/// Starts the daemon on `daemon`'s directories, expects it to refuse, and returns what it said.
fn refused_start(daemon: &Daemon) -> String {
    let out = run_to_exit(
        daemon.command().args(["daemon", "--listen", "127.0.0.1:0"]),
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "the daemon started");
    text(&out.stderr)
}

#[test]
fn a_token_file_others_can_read_stops_the_daemon() {
    let mut daemon = Daemon::start();
    daemon.kill();
    let token = daemon.config_dir().join("token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let stderr = refused_start(&daemon);
    assert!(
        stderr.contains("can be read or changed by other users"),
        "{stderr}"
    );
    assert!(stderr.contains("chmod 600"), "{stderr}");
    // Refused, not quietly fixed.
    assert_eq!(mode(&token), 0o644);
}

#[test]
fn a_socket_directory_others_can_enter_stops_the_daemon() {
    let mut daemon = Daemon::start();
    daemon.kill();
    let run = daemon.data_dir().join("run");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let stderr = refused_start(&daemon);
    assert!(stderr.contains("can be entered by other users"), "{stderr}");
    assert_eq!(mode(&run), 0o755);
}

#[test]
fn a_non_loopback_address_needs_the_explicit_setting() {
    let daemon = Daemon::prepare(&[]);
    for address in ["0.0.0.0:0", "[::]:0"] {
        let out = run_to_exit(
            daemon.command().args(["daemon", "--listen", address]),
            Duration::from_secs(30),
        );
        assert!(!out.status.success(), "{address}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("allow_non_loopback"), "{address}: {stderr}");
    }
}

/// Holds 127.0.0.1:8947 until the test process ends, unless something (another user's daemon,
/// say) holds it already: either way the default port is taken, for every test here at once.
fn take_default_port() {
    static HELD: std::sync::OnceLock<Option<std::net::TcpListener>> = std::sync::OnceLock::new();
    HELD.get_or_init(|| match std::net::TcpListener::bind("127.0.0.1:8947") {
        Ok(listener) => Some(listener),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => None,
        Err(error) => panic!("cannot bind 127.0.0.1:8947: {error}"),
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_default_port_falls_back_and_says_so() {
    take_default_port();
    let daemon = Daemon::start_with_args(&[], &[]);
    let address = daemon.url.strip_prefix("http://").expect("serves TCP");
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert!(!address.ends_with(":8947"), "{address}");
    let status = daemon.socket_client().status().await.expect("status");
    let note = status.tcp_note.expect("a note on why");
    assert!(note.contains("127.0.0.1:8947 is taken"), "{note}");
    assert!(daemon.log().contains("is taken"), "{}", daemon.log());
    // The fallback is TCP like any other: the token works there.
    let status = daemon
        .client()
        .status()
        .await
        .expect("status over the fallback");
    assert_eq!(status.tcp_address.as_deref(), Some(address));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_default_port_with_no_fallback_serves_the_socket_only() {
    take_default_port();
    let daemon = Daemon::start_with_args(&[("PRISM_TCP_FALLBACK", "none")], &[]);
    assert!(daemon.url.is_empty(), "serves TCP at {}", daemon.url);
    let status = daemon.socket_client().status().await.expect("status");
    assert_eq!(status.tcp_address, None);
    assert!(status.tcp_note.expect("note").contains("socket only"));
    let out = cli(&daemon, &["workspace", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn an_explicitly_asked_port_that_is_taken_is_an_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = held.local_addr().expect("addr").to_string();
    let daemon = Daemon::prepare(&[]);
    let out = run_to_exit(
        daemon.command().args(["daemon", "--listen", &address]),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
}

#[test]
fn something_else_on_the_port_is_not_a_prism_daemon() {
    let url = foreign_http(vec![("GET", r#"{"status":"running"}"#.to_string())]);
    let daemon = Daemon::prepare(&[]);
    for args in [&["daemon", "status"][..], &["workspace", "list"][..]] {
        let out = cli_at(&daemon, &url, args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("not a prism daemon"), "{args:?}: {stderr}");
    }
}

/// The companion listener: `localhost` may resolve to `::1` first.
#[tokio::test(flavor = "multi_thread")]
async fn tcp_is_served_on_both_loopback_addresses() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no ::1");
        return;
    }
    let daemon = Daemon::start();
    let port = daemon.url.rsplit(':').next().expect("port");
    let response = daemon
        .http()
        .get(format!("http://[::1]:{port}/api/v1/instances"))
        .send()
        .await
        .expect("get over ::1");
    assert_eq!(response.status().as_u16(), 200);
    let response = daemon
        .anonymous_http()
        .get(format!("http://[::1]:{port}/api/v1/instances"))
        .send()
        .await
        .expect("get over ::1");
    assert_eq!(response.status().as_u16(), 401);
}

/// The uid the other-user tests run as, and whether they can (only root can switch).
fn other_user() -> Option<u32> {
    if nix::unistd::geteuid().is_root() {
        Some(65534)
    } else {
        eprintln!("skipped: switching to another user needs root");
        None
    }
}

/// `curl` over the socket as `uid`; its exit status and output.
fn curl_over_socket(daemon: &Daemon, uid: Option<u32>) -> Output {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--max-time", "10", "--unix-socket"])
        .arg(daemon.socket())
        .arg("http://localhost/api/v1/daemon/status");
    if let Some(uid) = uid {
        command.uid(uid).gid(uid);
    }
    run_to_exit(&mut command, Duration::from_secs(30))
}

#[test]
fn another_user_cannot_reach_the_socket() {
    let Some(uid) = other_user() else { return };
    let daemon = Daemon::start();
    let out = curl_over_socket(&daemon, Some(uid));
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("healthy"));
    // The daemon's own user gets through, so the refusal above is about the user.
    let out = curl_over_socket(&daemon, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("healthy"),
        "{}",
        text(&out.stdout)
    );
}

/// With every permission opened up behind the daemon's back, the peer-uid check still refuses.
#[test]
fn the_socket_checks_the_peer_even_when_permissions_are_loosened() {
    let Some(uid) = other_user() else { return };
    let daemon = Daemon::start();
    let mut dir = daemon.socket();
    let open = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(&dir, open.clone()).expect("chmod socket");
    while dir.pop() && dir.starts_with(daemon.dir.path()) {
        std::fs::set_permissions(&dir, open.clone()).expect("chmod dir");
    }
    let out = curl_over_socket(&daemon, Some(uid));
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("healthy"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon
        .log()
        .contains("refused a socket connection from another user")
    {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// TCP from another user: without the token file (which they cannot read) they get 401.
#[test]
fn another_user_gets_401_over_tcp() {
    let Some(uid) = other_user() else { return };
    let daemon = Daemon::start();
    let mut command = Command::new("curl");
    command
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(daemon.api("daemon/status"))
        .uid(uid)
        .gid(uid);
    let out = run_to_exit(&mut command, Duration::from_secs(30));
    assert_eq!(text(&out.stdout), "401", "{}", text(&out.stderr));
    let mut command = Command::new("cat");
    command
        .arg(daemon.config_dir().join("token"))
        .uid(uid)
        .gid(uid);
    let out = run_to_exit(&mut command, Duration::from_secs(30));
    assert!(!out.status.success(), "another user read the token");
}

fn sent_a_token(seen: &Seen) -> bool {
    seen.lock()
        .expect("lock")
        .iter()
        .any(|head| head.contains("authorization"))
}

/// Regression: the CLI and dashboard sent the bearer token to whatever answered on the URL
/// (another user holding 8947 while yours ran on its fallback, or with yours stopped), and that
/// user could then drive your daemon.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_is_never_sent_to_another_users_port() {
    let (url, seen) = foreign_daemon_on("127.0.0.1:0");
    // Yours runs elsewhere: the token is not sent to the other port.
    let daemon = Daemon::start();
    let out = cli_at(&daemon, &url, &["workspace", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("not your prism daemon"), "{stderr}");
    assert!(
        stderr.contains(daemon.url.trim_start_matches("http://")),
        "{stderr}"
    );
    assert!(!sent_a_token(&seen), "the token went to another port");
    // Yours is stopped: nothing is recorded as running, so no token goes anywhere.
    let mut daemon = daemon;
    daemon.kill();
    for args in [&["workspace", "list"][..], &["daemon", "status"][..]] {
        let out = cli_at(&daemon, &url, args);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(
        !seen.lock().expect("lock").is_empty(),
        "the CLI asked nothing"
    );
    assert!(!sent_a_token(&seen), "the token went to another port");
}

/// A daemon killed with SIGKILL leaves its runtime file; someone may take its port since.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_daemons_address_gets_no_token() {
    let mut daemon = Daemon::start();
    let address = daemon.url.trim_start_matches("http://").to_string();
    daemon.kill();
    let (url, seen) = foreign_daemon_on(&address);
    let out = cli_at(&daemon, &url, &["workspace", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(!seen.lock().expect("lock").is_empty());
    assert!(
        !sent_a_token(&seen),
        "the token went to a dead daemon's port"
    );
}

/// Regression: a `daemon.json` written by another user (or writable by others) was trusted,
/// so its address got the token.
#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_file_others_could_write_is_not_trusted() {
    let (url, seen) = foreign_daemon_on("127.0.0.1:0");
    let address = url.trim_start_matches("http://");
    let daemon = Daemon::prepare(&[]);
    std::fs::create_dir_all(daemon.data_dir()).expect("data dir");
    let token = prism::token::Token::generate();
    prism::token::write(&daemon.config_dir().join("token"), &token).expect("token");
    let runtime = daemon.data_dir().join("daemon.json");
    std::fs::write(
        &runtime,
        format!(
            r#"{{"pid":{},"address":"{address}","socket":null,"started_at":"2026-12-04T00:00:00Z"}}"#,
            std::process::id()
        ),
    )
    .expect("runtime file");
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = cli(&daemon, &["workspace", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        !sent_a_token(&seen),
        "a world-writable runtime file was trusted"
    );
    if let Some(uid) = other_user() {
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        nix::unistd::chown(&runtime, Some(uid.into()), None).expect("chown");
        let _ = cli(&daemon, &["workspace", "list"]);
        assert!(
            !sent_a_token(&seen),
            "another user's runtime file was trusted"
        );
    }
    // The same file, private and ours, is trusted: the check above is about the file.
    if other_user().is_some() {
        nix::unistd::chown(&runtime, Some(nix::unistd::geteuid()), None).expect("chown");
    }
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let _ = cli(&daemon, &["workspace", "list"]);
    assert!(
        sent_a_token(&seen),
        "a private runtime file of ours was not trusted"
    );
}

/// Regression: a second daemon told to use the same PRISM_RUNTIME_DIR removed the first one's
/// socket as "stale" and took it over, so the first one's CLI drove the second one's store.
#[test]
fn two_daemons_cannot_share_a_socket() {
    let runtime = tempfile::tempdir().expect("dir");
    let shared = runtime.path().join("prism");
    let shared = shared.to_str().expect("utf-8");
    let first = Daemon::start_with(&[("PRISM_RUNTIME_DIR", shared)]);
    let second = Daemon::prepare(&[("PRISM_RUNTIME_DIR", shared)]);
    let out = run_to_exit(
        second.command().args(["daemon", "--listen", "127.0.0.1:0"]),
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("another prism daemon is serving the socket"),
        "{stderr}"
    );
    // The first one still has its socket.
    let socket = runtime.path().join("prism/daemon.sock");
    let status = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(
            prism::client::DaemonClient::over_socket(&socket)
                .expect("client")
                .status(),
        )
        .expect("the first daemon answers on its socket");
    assert_eq!(status.owner, first.owner);
}

#[test]
fn a_token_file_of_another_user_stops_the_daemon() {
    let Some(uid) = other_user() else { return };
    let mut daemon = Daemon::start();
    daemon.kill();
    nix::unistd::chown(&daemon.config_dir().join("token"), Some(uid.into()), None).expect("chown");
    let stderr = refused_start(&daemon);
    assert!(stderr.contains("belongs to another user"), "{stderr}");
}

/// `prism daemon url` prints where the token may go.
#[test]
fn the_url_command_prints_the_recorded_address() {
    let mut daemon = Daemon::start();
    let out = cli(&daemon, &["daemon", "url"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), daemon.url);
    daemon.kill();
    let out = cli(&daemon, &["daemon", "url"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
}

fn dirs_of(daemon: &Daemon) -> prism::paths::Dirs {
    prism::paths::Dirs {
        config: daemon.config_dir(),
        data: daemon.data_dir(),
        runtime: daemon.data_dir().join("run"),
    }
}

/// Regression (second trial): a dashboard on `--daemon-url` decided once, at start, to send the
/// token, and kept sending it after its daemon died, to whoever took the port next.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_lived_client_stops_sending_the_token_when_its_daemon_dies() {
    let mut daemon = Daemon::start();
    let client =
        prism::client::DaemonClient::discover_in(Some(dirs_of(&daemon)), Some(daemon.url.clone()))
            .expect("client");
    client
        .workspaces()
        .await
        .expect("the token goes to the running daemon");
    let address = daemon.url.trim_start_matches("http://").to_string();
    daemon.kill();
    let (_, seen) = foreign_daemon_on(&address);
    let error = client.workspaces().await.expect_err("someone else's port");
    assert!(
        format!("{error:?}").contains("not your prism daemon"),
        "{error:?}"
    );
    assert!(!seen.lock().expect("lock").is_empty(), "nothing was asked");
    assert!(
        !sent_a_token(&seen),
        "the token went to the port after the daemon died"
    );
}

/// Regression (second trial): a daemon killed but not yet reaped (a zombie) counted as running,
/// so its recorded address got the token.
#[tokio::test(flavor = "multi_thread")]
async fn a_zombie_daemon_is_not_running() {
    let daemon = Daemon::start();
    let address = daemon.url.trim_start_matches("http://").to_string();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(daemon.pid()).expect("pid"));
    // SIGKILL without reaping: the harness holds the child, so it stays a zombie.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill");
    let deadline = Instant::now() + Duration::from_secs(10);
    let (url, seen) = loop {
        if let Ok(listener) = std::net::TcpListener::bind(&address) {
            drop(listener);
            break foreign_daemon_on(&address);
        }
        assert!(Instant::now() < deadline, "the port was never freed");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = cli_at(&daemon, &url, &["workspace", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = cli(&daemon, &["daemon", "url"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(!sent_a_token(&seen), "the token went to a zombie's port");
}
