//! The typed HTTP client for the daemon's API, shared by the CLI and the TUI.
//!
//! Callers never build URLs: each endpoint is a method here, returning the `model::api` type
//! the daemon serves. Path segments (workspace and template names) are percent-encoded.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::api::{
    ConnectInfo, CostHistory, CurrentCosts, DaemonEvent, DaemonStatus, ErrorBody, ExtendRequest,
    HibernateResponse, HibernationStatus, LaunchRequest, LaunchResponse, ShutdownResponse,
    StateChange, TemplateInfo, TemplateSummary, TerminateRequest, TerminateResponse,
    ValidationSummary, Workspace,
};
use crate::paths::{Dirs, read_runtime};

/// The daemon's default address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8947";

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
            ClientError::Unreachable { .. } => {
                "Start the daemon with 'prism daemon' (or the README's sandbox command), or point \
                 PRISM_DAEMON_URL at it"
                    .into()
            }
            ClientError::Protocol { .. } => {
                "Check PRISM_DAEMON_URL: another program may be listening on that port".into()
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

/// A connection to one daemon.
#[derive(Clone, Debug)]
pub struct DaemonClient {
    http: reqwest::Client,
    base: Url,
    /// Limit on each whole request, when shorter than the client's default.
    timeout: Option<Duration>,
}

impl DaemonClient {
    /// A client for the daemon at `url` (e.g. `http://127.0.0.1:8947`).
    pub fn new(url: &str) -> Result<DaemonClient, ClientError> {
        let base = Url::parse(url).map_err(|e| ClientError::Unreachable {
            url: url.to_string(),
            reason: format!("not a URL: {e}"),
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(DaemonClient {
            http,
            base,
            timeout: None,
        })
    }

    /// The same client with every request bounded by `timeout` (the dashboard keeps it shorter
    /// than its poll interval, so polls never pile up behind a slow daemon).
    pub fn with_timeout(mut self, timeout: Duration) -> DaemonClient {
        self.timeout = Some(timeout);
        self
    }

    /// Finds the daemon: `explicit`, else `PRISM_DAEMON_URL`, else the address a running
    /// daemon recorded in its runtime file, else the default.
    pub fn discover(explicit: Option<&str>) -> Result<DaemonClient, ClientError> {
        if let Some(url) = explicit {
            return DaemonClient::new(url);
        }
        if let Ok(url) = std::env::var("PRISM_DAEMON_URL")
            && !url.is_empty()
        {
            return DaemonClient::new(&url);
        }
        let recorded = Dirs::discover()
            .ok()
            .and_then(|dirs| read_runtime(&dirs.runtime_file()))
            .map(|info| format!("http://{}", info.address));
        DaemonClient::new(recorded.as_deref().unwrap_or(DEFAULT_URL))
    }

    /// The daemon's base URL.
    pub fn url(&self) -> &str {
        self.base.as_str()
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
        self.send(method, self.endpoint(segments), body).await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<Option<T>, ClientError> {
        let mut request = self.http.request(method, url.clone());
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.to_string(),
            reason: short_reason(&e),
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.to_string(),
                reason: short_reason(&e),
            })?;
        decode(status, &bytes, &url)
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        self.get_url(self.endpoint(segments)).await
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

    pub async fn status(&self) -> Result<DaemonStatus, ClientError> {
        self.get(&["daemon", "status"]).await
    }

    pub async fn shutdown(&self) -> Result<ShutdownResponse, ClientError> {
        self.post::<(), _>(&["daemon", "shutdown"], None).await
    }

    pub async fn costs_current(&self) -> Result<CurrentCosts, ClientError> {
        self.get(&["costs", "current"]).await
    }

    /// Spend per period between two UTC dates (the daemon's defaults when `None`).
    pub async fn cost_history(
        &self,
        start: Option<chrono::NaiveDate>,
        end: Option<chrono::NaiveDate>,
        granularity: Option<&str>,
    ) -> Result<CostHistory, ClientError> {
        let mut query = Vec::new();
        if let Some(start) = start {
            query.push(("start_date", start.to_string()));
        }
        if let Some(end) = end {
            query.push(("end_date", end.to_string()));
        }
        if let Some(granularity) = granularity {
            query.push(("granularity", granularity.to_string()));
        }
        let mut url = self.endpoint(&["costs", "history"]);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.get_url(url).await
    }

    /// Asks whether the daemon serves a part of the API: `Ok` for any success, the daemon's
    /// error otherwise (`NOT_IMPLEMENTED` for parts not built yet).
    pub async fn probe(&self, segments: &[&str]) -> Result<(), ClientError> {
        self.call::<(), serde_json::Value>(Method::GET, segments, None)
            .await
            .map(|_| ())
    }

    async fn get_url<T: DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        self.send::<(), T>(Method::GET, url.clone(), None)
            .await?
            .ok_or_else(|| ClientError::Protocol {
                url: url.to_string(),
                reason: "empty answer".into(),
            })
    }

    /// Opens the live event stream (`/api/v1/ws`).
    pub async fn subscribe(&self) -> Result<EventSubscription, ClientError> {
        let mut url = self.endpoint(&["ws"]);
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        let _ = url.set_scheme(scheme);
        let unreachable = |reason: String| ClientError::Unreachable {
            url: self.base.to_string(),
            reason,
        };
        let connect = tokio_tungstenite::connect_async(url.as_str());
        let (socket, _) = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| unreachable("timed out opening the event stream".into()))?
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(response) => ClientError::Protocol {
                    url: url.to_string(),
                    reason: format!("HTTP {} instead of an event stream", response.status()),
                },
                other => unreachable(other.to_string()),
            })?;
        Ok(EventSubscription {
            socket,
            url: url.to_string(),
        })
    }
}

/// An open event stream.
#[derive(Debug)]
pub struct EventSubscription {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    url: String,
}

impl EventSubscription {
    /// The next event; `None` once the daemon closes the stream. Pings are answered by the
    /// socket itself; frames that are not text are skipped.
    pub async fn next(&mut self) -> Option<Result<DaemonEvent, ClientError>> {
        use futures::StreamExt as _;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let frame = match self.socket.next().await? {
                Ok(frame) => frame,
                Err(error) => {
                    return Some(Err(ClientError::Unreachable {
                        url: self.url.clone(),
                        reason: error.to_string(),
                    }));
                }
            };
            match frame {
                Message::Text(text) => {
                    return Some(serde_json::from_str(text.as_str()).map_err(|e| {
                        ClientError::Protocol {
                            url: self.url.clone(),
                            reason: format!("an event that does not match the API ({e})"),
                        }
                    }));
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }
}

/// Turns a response into the API type, the API's error, or a protocol error.
fn decode<T: DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
    url: &Url,
) -> Result<Option<T>, ClientError> {
    if status.is_success() {
        if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            return Ok(None);
        }
        return serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| ClientError::Protocol {
                url: url.to_string(),
                reason: format!("the body does not match the API ({e})"),
            });
    }
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => Err(ClientError::Api { status, body }),
        Err(_) => Err(ClientError::Protocol {
            url: url.to_string(),
            reason: format!("HTTP {status} without an API error body"),
        }),
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
