//! The typed HTTP client for the daemon's API, shared by the CLI and the TUI.
//!
//! Callers never build URLs: each endpoint is a method here, returning the `model::api` type
//! the daemon serves. Path segments (workspace and template names) are percent-encoded. The
//! event stream is a WebSocket; [`DaemonClient::subscribe`] opens it as an
//! [`EventSubscription`].

mod events;

pub use events::EventSubscription;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::api::{
    ConnectInfo, CostHistory, CurrentCosts, DaemonStatus, ErrorBody, ExtendRequest,
    HibernateResponse, HibernationStatus, LaunchRequest, LaunchResponse, RotateTokenResponse,
    ShutdownResponse, StateChange, TemplateInfo, TemplateSummary, TerminateRequest,
    TerminateResponse, ValidationSummary, Workspace,
};
use crate::paths::{Dirs, daemon_alive, read_trusted_runtime};
use crate::token::Token;

/// The header every answer of a prism daemon carries (its version).
pub const DAEMON_HEADER: &str = "x-prism-daemon";

/// The daemon's default address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8947";

/// How long a request may take in all unless [`DaemonClient::with_timeout`] says otherwise.
/// Generous, because an action waits for its AWS call.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with an error in the API's format.
    #[error("{}", .body.error.message)]
    Api { status: StatusCode, body: ErrorBody },
    /// Nothing answered, or the connection failed.
    #[error("cannot reach the prism daemon at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Something answered, but not as a prism daemon would.
    #[error("unexpected answer from {url} (is it a prism daemon?): {reason}")]
    Protocol { url: String, reason: String },
    /// The daemon URL given is not an http(s) URL; nothing was tried.
    #[error("'{url}' is not a daemon URL: {reason}")]
    BadUrl { url: String, reason: String },
}

impl ClientError {
    /// The API error code, when the daemon gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error.code),
            _ => None,
        }
    }

    /// What the user can do about it.
    pub fn remediation(&self) -> String {
        match self {
            ClientError::Api { body, .. } => body.error.remediation.clone(),
            // It took the connection but never answered: it runs, but is stuck or very busy.
            ClientError::Unreachable { reason, .. } if reason.contains("timed out") => {
                "The daemon accepted the connection but did not answer in time: it may be hung \
                 or very busy. See its log (logs/ in the data directory); restarting it is safe"
                    .into()
            }
            ClientError::Unreachable { .. } => {
                "Start the daemon with 'prism daemon' (or the README's sandbox command), or point \
                 PRISM_DAEMON_URL at it"
                    .into()
            }
            ClientError::Protocol { reason, .. } if reason.starts_with("not your prism daemon") => {
                "Another user's daemon answers there. 'prism daemon url' prints where yours \
                 listens if it runs (the CLI and dashboard find its socket by themselves); \
                 otherwise start it with 'prism daemon'. The token is only ever sent to the \
                 TCP address your running daemon recorded"
                    .into()
            }
            ClientError::Protocol { reason, .. } if reason.starts_with("not a prism daemon") => {
                "Another program answers there. Is your daemon running? 'prism daemon status' \
                 finds it through its socket, and 'prism daemon url' prints its TCP address; \
                 check --daemon-url / PRISM_DAEMON_URL"
                    .into()
            }
            ClientError::Protocol { .. } => {
                "Check PRISM_DAEMON_URL: another program may be listening on that port".into()
            }
            ClientError::BadUrl { .. } => {
                "Give --daemon-url (or PRISM_DAEMON_URL) as a URL like http://127.0.0.1:8947, \
                 or leave it out to use the running daemon's recorded address"
                    .into()
            }
        }
    }

    pub fn details(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } if !body.error.details.is_empty() => {
                Some(&body.error.details)
            }
            _ => None,
        }
    }
}

/// How requests reach the daemon.
#[derive(Clone, Debug)]
pub enum Transport {
    /// The daemon's Unix socket: only its user can connect, no token needed.
    Socket(PathBuf),
    /// TCP, with the bearer token when one was found, and the file it came from: after a
    /// rotation the daemon answers 401, and the client reads the file again and retries once.
    Tcp {
        token: Arc<Mutex<Option<Token>>>,
        file: Option<PathBuf>,
        /// When the token is sent because this user's daemon is recorded at this address: the
        /// runtime file to check again before every request, since the daemon may have died
        /// (and someone else taken the port) since.
        trust: Option<(PathBuf, std::net::SocketAddr)>,
    },
}

impl Transport {
    /// The token TCP requests carry now: none once the daemon it was meant for is gone.
    pub fn token(&self) -> Option<Token> {
        match self {
            Transport::Tcp {
                trust: Some((file, address)),
                ..
            } if !crate::paths::recorded_at(file, *address) => None,
            Transport::Tcp { token, .. } => token.lock().ok().and_then(|token| token.clone()),
            Transport::Socket(_) => None,
        }
    }

    /// After a 401: reads the token file again, and keeps its token if it is a new one.
    fn reread_token(&self) -> bool {
        let Transport::Tcp {
            token,
            file: Some(file),
            ..
        } = self
        else {
            return false;
        };
        let Ok(Some(fresh)) = crate::token::read(file) else {
            return false;
        };
        match token.lock() {
            Ok(mut current) if current.as_ref() != Some(&fresh) => {
                *current = Some(fresh);
                true
            }
            _ => false,
        }
    }
}

/// A connection to one daemon.
#[derive(Clone, Debug)]
pub struct DaemonClient {
    http: reqwest::Client,
    base: Url,
    transport: Transport,
    /// What to call the daemon in messages: its URL, or `unix:PATH`.
    shown: String,
    /// The whole of one request: connecting, sending, and reading the answer.
    timeout: Duration,
    /// Why no token is sent (the URL is not where this user's daemon is recorded).
    withheld: Option<String>,
}

impl DaemonClient {
    /// A client for the daemon at `url` (e.g. `http://127.0.0.1:8947`).
    pub fn new(url: &str) -> Result<DaemonClient, ClientError> {
        let bad = |reason: String| ClientError::BadUrl {
            url: url.to_string(),
            reason,
        };
        let base = Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad(format!(
                "the scheme must be http or https, not '{}'",
                base.scheme()
            )));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(bad("it names no host".into()));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad(
                "it holds a user name or password; the daemon takes its token instead".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(DaemonClient {
            http,
            shown: base.to_string(),
            base,
            transport: Transport::Tcp {
                token: Arc::default(),
                file: None,
                trust: None,
            },
            timeout: DEFAULT_TIMEOUT,
            withheld: None,
        })
    }

    /// A client for the daemon listening on the Unix socket at `path`.
    pub fn over_socket(path: &Path) -> Result<DaemonClient, ClientError> {
        let shown = format!("unix:{}", path.display());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .no_proxy()
            .unix_socket(path)
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
        // The host is only what the Host header says; the daemon accepts `localhost`.
        let base = Url::parse("http://localhost/").map_err(|e| ClientError::BadUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        Ok(DaemonClient {
            http,
            base,
            transport: Transport::Socket(path.to_path_buf()),
            shown,
            timeout: DEFAULT_TIMEOUT,
            withheld: None,
        })
    }

    /// The same TCP client, sending `token` as the bearer token.
    pub fn with_token(mut self, token: Option<Token>) -> DaemonClient {
        if let Transport::Tcp { .. } = self.transport {
            self.transport = Transport::Tcp {
                token: Arc::new(Mutex::new(token)),
                file: None,
                trust: None,
            };
        }
        self
    }

    /// The same TCP client, sending the token in `file`, and reading it again when the daemon
    /// says the token is wrong (it was rotated).
    pub fn with_token_file(mut self, file: &Path) -> DaemonClient {
        if let Transport::Tcp { .. } = self.transport {
            let token = crate::token::read(file).ok().flatten();
            self.transport = Transport::Tcp {
                token: Arc::new(Mutex::new(token)),
                file: Some(file.to_path_buf()),
                trust: None,
            };
        }
        self
    }

    /// How this client reaches the daemon.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The same client with every request bounded by `timeout` in all (connecting included).
    /// The TUI uses one shorter than its poll interval, so a stuck daemon never stacks up
    /// requests; a request that runs out fails as [`ClientError::Unreachable`].
    pub fn with_timeout(self, timeout: Duration) -> DaemonClient {
        DaemonClient { timeout, ..self }
    }

    /// Finds the daemon. An explicit URL (`--daemon-url`, else `PRISM_DAEMON_URL`) is used
    /// over TCP with the token from the token file. Otherwise the running daemon's runtime file
    /// says where it is: its socket when there is one, else its TCP address. Without a
    /// runtime file, the default address.
    pub fn discover(explicit: Option<&str>) -> Result<DaemonClient, ClientError> {
        let from_env = std::env::var("PRISM_DAEMON_URL")
            .ok()
            .filter(|url| !url.is_empty());
        DaemonClient::discover_in(
            Dirs::discover().ok(),
            explicit.map(str::to_string).or(from_env),
        )
    }

    /// [`DaemonClient::discover`] with the directories and URL given rather than read from the
    /// environment.
    pub fn discover_in(
        dirs: Option<Dirs>,
        url: Option<String>,
    ) -> Result<DaemonClient, ClientError> {
        let runtime_file = dirs.as_ref().map(Dirs::runtime_file);
        let recorded = runtime_file.as_deref().and_then(read_trusted_runtime);

        // The token goes only to the address this user's running daemon recorded: never to
        // whatever answers on a port, which on a shared machine may be another user's program.
        let trusted = recorded
            .as_ref()
            .filter(|info| daemon_alive(info))
            .and_then(|info| info.address);
        let with_token = |client: DaemonClient, address| match (&dirs, &runtime_file) {
            (Some(dirs), Some(runtime_file)) => client
                .with_token_file(&dirs.token_file())
                .trusting(runtime_file, address),
            _ => client,
        };
        let where_recorded = match &runtime_file {
            None => "the data directory".to_string(),
            Some(path) if recorded.is_none() && path.exists() => format!(
                "{}, which is ignored: it is not yours, or others can write it",
                path.display()
            ),
            Some(path) => path.display().to_string(),
        };
        if let Some(url) = url {
            let client = DaemonClient::new(&url)?;
            return Ok(match trusted {
                Some(address) if client.points_at(address) => with_token(client, address),
                Some(address) => client.withholding(format!(
                    "your daemon listens on {address} (says {where_recorded}), not at {url}"
                )),
                None => client.withholding(format!(
                    "no daemon of yours is recorded as running (in {where_recorded})"
                )),
            });
        }
        if let Some(info) = &recorded {
            if let Some(socket) = info.socket.as_ref().filter(|path| path.exists()) {
                return DaemonClient::over_socket(socket);
            }
            if let Some(address) = trusted {
                return Ok(with_token(
                    DaemonClient::new(&format!("http://{address}"))?,
                    address,
                ));
            }
        }
        Ok(DaemonClient::new(DEFAULT_URL)?.withholding(format!(
            "no daemon of yours is recorded as running (in {where_recorded})"
        )))
    }

    /// The same client, sending its token only while this user's daemon is recorded at
    /// `address` in `runtime_file` (checked before every request).
    fn trusting(mut self, runtime_file: &Path, address: std::net::SocketAddr) -> DaemonClient {
        if let Transport::Tcp { trust, .. } = &mut self.transport {
            *trust = Some((runtime_file.to_path_buf(), address));
        }
        self.withheld = Some(format!(
            "your daemon is no longer recorded at {address} (in {})",
            runtime_file.display()
        ));
        self
    }

    /// The same client, sending no token, because `why`: a 401 then means "not your daemon".
    pub fn withholding(mut self, why: String) -> DaemonClient {
        self = self.with_token(None);
        self.withheld = Some(why);
        self
    }

    /// Whether this client's URL names `address` (`localhost` naming the loopback addresses).
    fn points_at(&self, address: std::net::SocketAddr) -> bool {
        if self.base.port_or_known_default() != Some(address.port()) {
            return false;
        }
        let host = self.base.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match host.parse::<std::net::IpAddr>() {
            Ok(ip) => ip == address.ip(),
            Err(_) => host.eq_ignore_ascii_case("localhost") && address.ip().is_loopback(),
        }
    }

    /// The daemon's address for messages: its base URL, or `unix:PATH` for the socket.
    pub fn url(&self) -> &str {
        &self.shown
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.push("api").push("v1");
            for segment in segments {
                path.push(segment);
            }
        }
        url
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<Option<T>, ClientError> {
        let url = self.endpoint(segments);
        let (_, bytes) = self.send(method, &url, body).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ClientError::Protocol {
                url: url.to_string(),
                reason: format!("the body does not match the API ({e})"),
            })
    }

    /// Sends one request; the headers and body of a 2xx answer, or the API error of any other.
    async fn send<B: Serialize>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&B>,
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), ClientError> {
        let mut retried = false;
        let response = loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .timeout(self.timeout);
            let token = self.transport.token();
            if let Some(token) = &token {
                request = request.bearer_auth(token.expose());
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| ClientError::Unreachable {
                url: self.shown.clone(),
                reason: short_reason(&e),
            })?;
            if response.status() == StatusCode::UNAUTHORIZED
                && token.is_none()
                && let Some(why) = &self.withheld
            {
                return Err(ClientError::Protocol {
                    url: self.shown.clone(),
                    reason: format!("not your prism daemon: {why}"),
                });
            }
            // A rotated token: the file has the new one. Once, so a wrong file cannot loop.
            if response.status() == StatusCode::UNAUTHORIZED
                && !retried
                && self.transport.reread_token()
            {
                retried = true;
                continue;
            }
            break response;
        };
        let status = response.status();
        // Every answer of a prism daemon says so; anything else answering on the port is not
        // one, whatever its body looks like.
        if !response.headers().contains_key(DAEMON_HEADER) {
            return Err(ClientError::Protocol {
                url: self.shown.clone(),
                reason: format!(
                    "not a prism daemon: HTTP {status} without the {DAEMON_HEADER} header"
                ),
            });
        }
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.shown.clone(),
                reason: short_reason(&e),
            })?;
        if status.is_success() {
            let body = if status == StatusCode::NO_CONTENT {
                Vec::new()
            } else {
                bytes.to_vec()
            };
            return Ok((headers, body));
        }
        Err(api_error(url.as_str(), status, &bytes))
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        self.call::<(), T>(Method::GET, segments, None)
            .await?
            .ok_or_else(|| ClientError::Protocol {
                url: self.endpoint(segments).to_string(),
                reason: "empty answer".into(),
            })
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        self.call::<B, T>(Method::POST, segments, body)
            .await?
            .ok_or_else(|| ClientError::Protocol {
                url: self.endpoint(segments).to_string(),
                reason: "empty answer".into(),
            })
    }

    pub async fn templates(&self) -> Result<Vec<TemplateSummary>, ClientError> {
        self.get(&["templates"]).await
    }

    pub async fn validate_templates(&self) -> Result<ValidationSummary, ClientError> {
        self.get(&["templates", "validate"]).await
    }

    pub async fn template_info(&self, name: &str) -> Result<TemplateInfo, ClientError> {
        self.get(&["templates", name, "info"]).await
    }

    pub async fn workspaces(&self) -> Result<Vec<Workspace>, ClientError> {
        self.get(&["instances"]).await
    }

    /// The list with how old its data is: `Some(age)` when the daemon marks it stale
    /// (`X-Prism-Data-Stale`), the age in seconds being `None` before any refresh succeeded.
    pub async fn workspaces_with_staleness(
        &self,
    ) -> Result<(Vec<Workspace>, Option<Option<i64>>), ClientError> {
        let url = self.endpoint(&["instances"]);
        let (headers, bytes) = self.send::<()>(Method::GET, &url, None).await?;
        let list = serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            url: url.to_string(),
            reason: format!("the body does not match the API ({e})"),
        })?;
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let stale = header("x-prism-data-stale") == Some("true");
        let age = header("x-prism-data-age").and_then(|v| v.parse().ok());
        Ok((list, stale.then_some(age)))
    }

    pub async fn launch(&self, request: &LaunchRequest) -> Result<LaunchResponse, ClientError> {
        self.post(&["instances", "launch"], Some(request)).await
    }

    pub async fn stop(&self, name: &str) -> Result<StateChange, ClientError> {
        self.post::<(), _>(&["instances", name, "stop"], None).await
    }

    pub async fn start(&self, name: &str) -> Result<StateChange, ClientError> {
        self.post::<(), _>(&["instances", name, "start"], None)
            .await
    }

    pub async fn resume(&self, name: &str) -> Result<StateChange, ClientError> {
        self.post::<(), _>(&["instances", name, "resume"], None)
            .await
    }

    pub async fn hibernate(&self, name: &str) -> Result<HibernateResponse, ClientError> {
        self.post::<(), _>(&["instances", name, "hibernate"], None)
            .await
    }

    pub async fn terminate(
        &self,
        name: &str,
        backup_ebs: bool,
    ) -> Result<TerminateResponse, ClientError> {
        let body = TerminateRequest {
            confirm: Some("DELETE".into()),
            backup_ebs: Some(backup_ebs),
        };
        self.post(&["instances", name, "terminate"], Some(&body))
            .await
    }

    pub async fn connect_info(&self, name: &str) -> Result<ConnectInfo, ClientError> {
        self.get(&["instances", name, "connect"]).await
    }

    pub async fn hibernation_status(&self, name: &str) -> Result<HibernationStatus, ClientError> {
        self.get(&["instances", name, "hibernation-status"]).await
    }

    pub async fn extend(&self, name: &str, hours: Option<i64>) -> Result<(), ClientError> {
        let body = ExtendRequest { hours };
        self.call::<_, serde_json::Value>(Method::POST, &["instances", name, "extend"], Some(&body))
            .await
            .map(|_| ())
    }

    /// `GET /api/v1/costs/current`.
    pub async fn costs_current(&self) -> Result<CurrentCosts, ClientError> {
        self.get(&["costs", "current"]).await
    }

    /// `GET /api/v1/costs/history`; what is left out takes the daemon's default (the 30 days
    /// ending today UTC, daily).
    pub async fn cost_history(
        &self,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
        granularity: Option<&str>,
    ) -> Result<CostHistory, ClientError> {
        let mut url = self.endpoint(&["costs", "history"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(start) = start {
                query.append_pair("start_date", &start.format("%Y-%m-%d").to_string());
            }
            if let Some(end) = end {
                query.append_pair("end_date", &end.format("%Y-%m-%d").to_string());
            }
            if let Some(granularity) = granularity {
                query.append_pair("granularity", granularity);
            }
        }
        // A URL without parameters keeps no dangling "?".
        if url.query() == Some("") {
            url.set_query(None);
        }
        let (_, bytes) = self.send::<()>(Method::GET, &url, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            url: url.to_string(),
            reason: format!("the body does not match the API ({e})"),
        })
    }

    /// A GET of `/api/v1/<segments>` that only asks whether the daemon serves it: any 2xx is
    /// `Ok`, whatever the body; anything else is the daemon's error (`NOT_IMPLEMENTED` for an
    /// area this version does not serve yet).
    pub async fn probe(&self, segments: &[&str]) -> Result<(), ClientError> {
        let url = self.endpoint(segments);
        self.send::<()>(Method::GET, &url, None).await.map(|_| ())
    }

    /// Opens the event stream, `ws://HOST:PORT/api/v1/ws` on the daemon's address. The
    /// connection and handshake are bounded by the client's timeout (at most 10 s).
    pub async fn subscribe(&self) -> Result<EventSubscription, ClientError> {
        EventSubscription::connect(self.endpoint(&["ws"]), &self.transport, self.timeout).await
    }

    /// Replaces the daemon's TCP token (the new one is in the token file, never in the answer).
    pub async fn rotate_token(&self) -> Result<RotateTokenResponse, ClientError> {
        self.post::<(), _>(&["daemon", "rotate-token"], None).await
    }

    pub async fn status(&self) -> Result<DaemonStatus, ClientError> {
        self.get(&["daemon", "status"]).await
    }

    pub async fn shutdown(&self) -> Result<ShutdownResponse, ClientError> {
        self.post::<(), _>(&["daemon", "shutdown"], None).await
    }
}

/// The error a non-2xx answer carries: the API's body when there is one.
fn api_error(url: &str, status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status, body },
        Err(_) => ClientError::Protocol {
            url: url.to_string(),
            reason: format!("HTTP {status} without an API error body"),
        },
    }
}

/// reqwest's error chain, without the URL it repeats.
fn short_reason(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut reason = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "connection refused or unreachable".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = inner.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn with_timeout_bounds_requests_and_the_stream_to_a_daemon_that_never_answers() {
        // The kernel accepts the connection; nothing ever answers on it.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", silent.local_addr().expect("address"));
        let client = DaemonClient::new(&url)
            .expect("client")
            .with_timeout(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let error = client.status().await.expect_err("no answer");
        assert!(
            matches!(error, ClientError::Unreachable { .. }),
            "{error:?}"
        );
        let error = client.subscribe().await.expect_err("no handshake");
        assert!(
            matches!(error, ClientError::Unreachable { .. }),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    /// Regression: `--daemon-url notaurl` was reported as an unreachable daemon (exit 3, "Start
    /// the daemon") instead of a malformed URL.
    #[test]
    fn malformed_daemon_urls_are_usage_errors() {
        for url in [
            "notaurl",
            "127.0.0.1:8947",
            "ftp://127.0.0.1:8947",
            "http://",
        ] {
            let error = DaemonClient::new(url).expect_err(url);
            assert!(
                matches!(error, ClientError::BadUrl { .. }),
                "{url}: {error:?}"
            );
            assert!(error.remediation().contains("http://127.0.0.1:8947"));
        }
        assert!(DaemonClient::new("http://localhost:8947").is_ok());
    }

    #[test]
    fn names_are_encoded_as_one_path_segment() {
        let client = DaemonClient::new("http://127.0.0.1:8947").expect("client");
        let url = client.endpoint(&["templates", "Rocky Linux 9 + Conda Stack", "info"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8947/api/v1/templates/Rocky%20Linux%209%20+%20Conda%20Stack/info"
        );
        let url = client.endpoint(&["instances", "../daemon/shutdown"]);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8947/api/v1/instances/..%2Fdaemon%2Fshutdown"
        );
    }
}
