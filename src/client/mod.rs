//! The typed HTTP client for the daemon's API, shared by the CLI and the TUI.
//!
//! Callers never build URLs: each endpoint is a method here, returning the `model::api` type
//! the daemon serves. Path segments (workspace and template names) are percent-encoded.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::api::{
    ConnectInfo, DaemonStatus, ErrorBody, ExtendRequest, HibernateResponse, HibernationStatus,
    LaunchRequest, LaunchResponse, ShutdownResponse, StateChange, TemplateInfo, TemplateSummary,
    TerminateRequest, TerminateResponse, ValidationSummary, Workspace,
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
            ClientError::Unreachable { .. } => {
                "Start the daemon with 'prism daemon' (or the README's sandbox command), or point \
                 PRISM_DAEMON_URL at it"
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

/// A connection to one daemon.
#[derive(Clone, Debug)]
pub struct DaemonClient {
    http: reqwest::Client,
    base: Url,
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
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(DaemonClient { http, base })
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
        let url = self.endpoint(segments);
        let mut request = self.http.request(method, url.clone());
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
        if status.is_success() {
            if status == StatusCode::NO_CONTENT || bytes.is_empty() {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ClientError::Protocol {
                    url: url.to_string(),
                    reason: format!("the body does not match the API ({e})"),
                });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api { status, body }),
            Err(_) => Err(ClientError::Protocol {
                url: url.to_string(),
                reason: format!("HTTP {status} without an API error body"),
            }),
        }
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
