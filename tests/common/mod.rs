//! Test harness: starts the real `prism` binary as a daemon against the moto server that
//! `scripts/test` runs, with its own directories and its own owner tag so that tests sharing
//! one moto never see each other's workspaces.
#![allow(dead_code)]

pub mod faults;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prism::client::DaemonClient;
use prism::model::api::{LaunchRequest, Workspace};
use prism::model::workspace::WorkspaceState;
use prism::paths::{RuntimeInfo, read_runtime, runtime_file};

/// The moto endpoint the tests use; refuses to run without one rather than reach real AWS.
pub fn moto_url() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {
            url
        }
        Ok(url) => panic!("AWS_ENDPOINT_URL={url} is not a local moto server; run scripts/test"),
        Err(_) => panic!(
            "AWS_ENDPOINT_URL is not set: integration tests need the moto server that \
             scripts/test starts. Run `scripts/test` (see the README)."
        ),
    }
}

/// A unique suffix for names and owners.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..10])
}

/// A running daemon process and its directories.
pub struct Daemon {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub owner: String,
    pub url: String,
    pub extra_env: Vec<(String, String)>,
    /// The arguments after `prism daemon`; by default an explicit free port.
    pub args: Vec<String>,
}

impl Daemon {
    /// Starts a daemon with a fresh configuration.
    pub fn start() -> Daemon {
        Daemon::start_with(&[])
    }

    /// Starts a daemon with extra `PRISM_*` settings.
    pub fn start_with(env: &[(&str, &str)]) -> Daemon {
        let mut daemon = Daemon::prepare(env);
        daemon.spawn();
        daemon
    }

    /// Starts a daemon with these arguments after `prism daemon` instead of `--listen
    /// 127.0.0.1:0`.
    pub fn start_with_args(env: &[(&str, &str)], args: &[&str]) -> Daemon {
        let mut daemon = Daemon::prepare(env);
        daemon.args = args.iter().map(|a| a.to_string()).collect();
        daemon.spawn();
        daemon
    }

    /// The directories and settings of a daemon, not started.
    pub fn prepare(env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("config/templates")).expect("config dir");
        Daemon {
            child: None,
            dir,
            owner: unique("test-owner"),
            url: String::new(),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args: vec!["--listen".into(), "127.0.0.1:0".into()],
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.config_dir().join("templates")
    }

    /// The command line the daemon runs with, for tests that run the binary themselves.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_prism"));
        command
            .env("PRISM_CONFIG_DIR", self.config_dir())
            .env("PRISM_DATA_DIR", self.data_dir())
            .env("PRISM_OWNER", &self.owner)
            .env("PRISM_SSH_PUBLIC_KEY", "")
            .env("PRISM_POLL_INTERVAL_SECS", "5")
            .env("PRISM_AWS_MAX_ATTEMPTS", "2")
            .env("PRISM_LOG", "info,prism=debug")
            .env_remove("PRISM_DAEMON_URL")
            .env_remove("PRISM_LISTEN")
            .env_remove("PRISM_RUNTIME_DIR");
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    fn spawn(&mut self) {
        moto_url();
        let runtime = runtime_file(&self.data_dir());
        let _ = std::fs::remove_file(&runtime);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon-stderr.log"))
            .expect("log file");
        let mut command = self.command();
        command
            .arg("daemon")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().expect("start prism daemon");
        self.child = Some(child);
        let info = self.wait_for_runtime(&runtime);
        self.url = info
            .address
            .map_or_else(String::new, |address| format!("http://{address}"));
    }

    /// The bearer token TCP requests need, from the daemon's token file.
    pub fn token(&self) -> prism::token::Token {
        prism::token::read(&self.config_dir().join("token"))
            .expect("a readable token file")
            .unwrap_or_else(|| {
                let files: Vec<_> = std::fs::read_dir(self.config_dir())
                    .map(|dir| dir.flatten().map(|e| e.file_name()).collect())
                    .unwrap_or_default();
                panic!(
                    "no token file in {} (it has {files:?}); log:\n{}",
                    self.config_dir().display(),
                    self.log()
                )
            })
    }

    /// The daemon's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.data_dir().join("run/daemon.sock")
    }

    fn wait_for_runtime(&mut self, path: &Path) -> RuntimeInfo {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(info) = read_runtime(path) {
                return info;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("daemon exited early ({status}); log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("daemon did not start within 30 s; log:\n{}", self.log());
    }

    /// Everything the daemon wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon-stderr.log")).unwrap_or_default()
    }

    /// A typed client over TCP with the token, as a script would use.
    pub fn client(&self) -> DaemonClient {
        DaemonClient::new(&self.url)
            .expect("client")
            .with_token(Some(self.token()))
    }

    /// A typed client over the Unix socket, as the CLI and dashboard use.
    pub fn socket_client(&self) -> DaemonClient {
        DaemonClient::over_socket(&self.socket()).expect("socket client")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the daemon again on the same directories (after `kill` or a shutdown).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Waits for the process to exit by itself, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// A raw HTTP client that sends the bearer token, for requests the typed client would
    /// never send.
    pub fn http(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.token().expose()))
                .expect("header value");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .default_headers(headers)
            .build()
            .expect("http")
    }

    /// A raw HTTP client with no token, as anyone on the machine could use.
    pub fn anonymous_http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http")
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1/{}", self.url, path.trim_start_matches('/'))
    }

    /// Polls the list until `name` reaches `state`, up to 60 s.
    pub async fn wait_for(&self, name: &str, state: WorkspaceState) -> Workspace {
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = None;
        while Instant::now() < deadline {
            let list = client.workspaces().await.expect("list");
            if let Some(w) = list.into_iter().rfind(|w| w.name == name) {
                if w.state == state {
                    return w;
                }
                if w.state == WorkspaceState::Failed && state != WorkspaceState::Failed {
                    panic!(
                        "workspace {name} failed: {:?}\n{}",
                        w.launch_error,
                        self.log()
                    );
                }
                last = Some(w);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "{name} never reached {state}; last seen {last:?}\n{}",
            self.log()
        );
    }

    /// Launches and waits until running.
    pub async fn launch_running(&self, name: &str, template: &str) -> Workspace {
        let request = LaunchRequest {
            name: name.into(),
            template: template.into(),
            ..Default::default()
        };
        self.client()
            .launch(&request)
            .await
            .expect("launch accepted");
        self.wait_for(name, WorkspaceState::Running).await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain EC2 client on moto, to check what the daemon did in EC2 itself.
pub async fn ec2() -> aws_sdk_ec2::Client {
    ec2_in("us-east-1").await
}

/// A plain EC2 client on moto for one region.
pub async fn ec2_in(region: &str) -> aws_sdk_ec2::Client {
    let url = moto_url();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    aws_sdk_ec2::Client::new(&config)
}

/// One instance as EC2 reports it: state name and tags.
#[derive(Debug, Clone)]
pub struct Ec2View {
    pub id: String,
    pub state: String,
    pub tags: BTreeMap<String, String>,
    pub hibernation_configured: bool,
    pub instance_type: String,
}

/// Every instance EC2 holds with `prism:owner = owner`, terminated ones included.
pub async fn ec2_instances(owner: &str) -> Vec<Ec2View> {
    ec2_instances_in(owner, "us-east-1").await
}

/// Every instance in `region` with `prism:owner = owner`, terminated ones included.
pub async fn ec2_instances_in(owner: &str, region: &str) -> Vec<Ec2View> {
    let out = ec2_in(region)
        .await
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:prism:owner")
                .values(owner)
                .build(),
        )
        .send()
        .await
        .expect("describe instances");
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .map(|i| Ec2View {
            id: i.instance_id().unwrap_or_default().to_string(),
            state: i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            tags: i
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            hibernation_configured: i
                .hibernation_options()
                .and_then(|h| h.configured())
                .unwrap_or(false),
            instance_type: i
                .instance_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
        })
        .collect()
}

/// The JSON error body's code and remediation from a raw response.
pub async fn error_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("error body is JSON");
    let error = body
        .get("error")
        .cloned()
        .unwrap_or_else(|| panic!("no error object in {body}"));
    for field in ["code", "message", "remediation", "timestamp"] {
        assert!(
            error.get(field).is_some(),
            "error body lacks {field}: {body}"
        );
    }
    (status, error)
}

/// A stand-in daemon on a free loopback port that answers each request whose first line starts
/// with one of `routes`' prefixes (`"GET /api/v1/instances"`) with 200 and that JSON body, and
/// anything else with 404, marking its answers as a prism daemon's. It serves until the test
/// process ends; returns its URL.
pub fn fake_http(routes: Vec<(&'static str, String)>) -> String {
    serve_fake("127.0.0.1:0", route_answers(routes), true).0
}

/// Like [`fake_http`], but without the daemon's header: some other program on the port.
pub fn foreign_http(routes: Vec<(&'static str, String)>) -> String {
    serve_fake("127.0.0.1:0", route_answers(routes), false).0
}

/// Requests seen by a stand-in server, each its head (request line and headers) in lower case.
pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Another user's prism daemon on `address`: it answers every request 401, and records what
/// it was sent. Returns its URL and the record.
pub fn foreign_daemon_on(address: &str) -> (String, Seen) {
    let body = r#"{"error":{"code":"UNAUTHORIZED","message":"no","details":"","remediation":"","timestamp":"2026-01-01T00:00:00Z"}}"#;
    serve_fake(
        address,
        move |_| ("401 Unauthorized", body.to_string()),
        true,
    )
}

fn route_answers(
    routes: Vec<(&'static str, String)>,
) -> impl Fn(&str) -> (&'static str, String) + Send + 'static {
    move |head| {
        routes
            .iter()
            .find(|(prefix, _)| head.starts_with(prefix))
            .map_or(("404 Not Found", "{}".to_string()), |(_, body)| {
                ("200 OK", body.clone())
            })
    }
}

/// Serves on `address` until the test process ends, answering each request with `answer`'s
/// status line and JSON body (with the daemon's header when `daemon`), and recording heads.
fn serve_fake(
    address: &str,
    answer: impl Fn(&str) -> (&'static str, String) + Send + 'static,
    daemon: bool,
) -> (String, Seen) {
    let listener = std::net::TcpListener::bind(address).expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Seen::default();
    let record = seen.clone();
    let extra_headers = if daemon {
        "x-prism-daemon: 0.0.0-fake\r\n"
    } else {
        ""
    };
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0_u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match std::io::Read::read(&mut stream, &mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            if let Ok(mut seen) = record.lock() {
                seen.push(text.to_lowercase());
            }
            let (status, body) = answer(&text);
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 {extra_headers}connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
        }
    });
    (url, seen)
}
