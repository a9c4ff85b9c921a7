//! The client end of the event stream: the WebSocket at `/api/v1/ws`, read as
//! [`DaemonEvent`]s.

use std::fmt;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use reqwest::{StatusCode, Url};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{ClientError, Transport, api_error};
use crate::model::api::DaemonEvent;

/// A byte stream to the daemon: TCP or the Unix socket.
trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// The longest wait for the stream to open, however long the client's request timeout.
const CONNECT_TIMEOUT_CAP: Duration = Duration::from_secs(10);

/// An open event stream. Read it with [`EventSubscription::next`]; dropping it disconnects.
pub struct EventSubscription {
    socket: WebSocketStream<Box<dyn Duplex>>,
    url: String,
    /// The daemon sent its close frame: what follows is the end of the stream, not a fault.
    closing: bool,
    ended: bool,
}

impl fmt::Debug for EventSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSubscription")
            .field("url", &self.url)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl EventSubscription {
    /// Connects to `endpoint` (the stream's http URL) over `transport`, bounded by `timeout`
    /// (at most [`CONNECT_TIMEOUT_CAP`]). Over TCP the bearer token goes in the handshake's
    /// `Authorization` header, never in the URL.
    pub(super) async fn connect(
        endpoint: Url,
        transport: &Transport,
        timeout: Duration,
    ) -> Result<EventSubscription, ClientError> {
        let ws_url = stream_url(endpoint)?;
        let url = match transport {
            Transport::Socket(path) => format!("unix:{}", path.display()),
            Transport::Tcp { .. } => ws_url.to_string(),
        };
        let limit = timeout.min(CONNECT_TIMEOUT_CAP);
        let opening = open(ws_url, transport, &url);
        match tokio::time::timeout(limit, opening).await {
            Err(_) => Err(ClientError::Unreachable {
                url,
                reason: format!("the event stream did not open within {} s", limit.as_secs()),
            }),
            Ok(Err(error)) => Err(error),
            Ok(Ok(socket)) => Ok(EventSubscription {
                socket,
                url,
                closing: false,
                ended: false,
            }),
        }
    }

    /// The next event; `None` once the stream has ended (the daemon closed it or went away
    /// after saying goodbye). A frame that is not an event of this API is an error, after
    /// which reading can go on. Pings are answered, and frames other than text are skipped.
    pub async fn next(&mut self) -> Option<Result<DaemonEvent, ClientError>> {
        while !self.ended {
            let Some(frame) = self.socket.next().await else {
                self.ended = true;
                break;
            };
            match frame {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(text.as_str()).map_err(|e| {
                        ClientError::Protocol {
                            url: self.url.clone(),
                            reason: format!("an event that does not match the API ({e})"),
                        }
                    }));
                }
                Ok(Message::Ping(_)) => {
                    // The library has queued the pong; flushing sends it now rather than
                    // with whatever is written next.
                    let _ = self.socket.flush().await;
                }
                // Keep reading: the library answers the close frame, then the stream ends.
                Ok(Message::Close(_)) => self.closing = true,
                Ok(_) => {}
                Err(error) => {
                    self.ended = true;
                    let orderly = self.closing
                        || matches!(
                            error,
                            tungstenite::Error::ConnectionClosed
                                | tungstenite::Error::AlreadyClosed
                        );
                    if !orderly {
                        return Some(Err(ClientError::Unreachable {
                            url: self.url.clone(),
                            reason: format!("the event stream broke: {error}"),
                        }));
                    }
                }
            }
        }
        None
    }
}

/// Connects the byte stream and performs the WebSocket handshake.
async fn open(
    ws_url: Url,
    transport: &Transport,
    shown: &str,
) -> Result<WebSocketStream<Box<dyn Duplex>>, ClientError> {
    let unreachable = |error: std::io::Error| ClientError::Unreachable {
        url: shown.to_string(),
        reason: error.to_string(),
    };
    let mut request = ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| connect_error(shown, e))?;
    let stream: Box<dyn Duplex> = match transport {
        Transport::Socket(path) => Box::new(UnixStream::connect(path).await.map_err(unreachable)?),
        Transport::Tcp { .. } => {
            if ws_url.scheme() != "ws" {
                return Err(ClientError::Unreachable {
                    url: shown.to_string(),
                    reason: "the event stream is only served over plain loopback TCP".into(),
                });
            }
            if let Some(token) = transport.token() {
                let value = format!("Bearer {}", token.expose()).parse().map_err(|_| {
                    ClientError::Protocol {
                        url: shown.to_string(),
                        reason: "the token cannot be sent as a header".into(),
                    }
                })?;
                request.headers_mut().insert("authorization", value);
            }
            let host = ws_url.host_str().unwrap_or("127.0.0.1");
            let port = ws_url.port_or_known_default().unwrap_or(80);
            Box::new(
                TcpStream::connect((host, port))
                    .await
                    .map_err(unreachable)?,
            )
        }
    };
    let (socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| connect_error(shown, e))?;
    Ok(socket)
}

/// The WebSocket URL for an http one: `ws://` for `http://`, `wss://` for `https://`.
fn stream_url(mut url: Url) -> Result<Url, ClientError> {
    let scheme = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        other => {
            return Err(ClientError::Unreachable {
                url: url.to_string(),
                reason: format!("cannot open an event stream over {other}"),
            });
        }
    };
    // Both schemes are "special" in the URL standard, so switching between them is allowed.
    url.set_scheme(scheme)
        .map_err(|()| ClientError::Unreachable {
            url: url.to_string(),
            reason: format!("cannot turn this URL into a {scheme} one"),
        })?;
    Ok(url)
}

fn connect_error(url: &str, error: tungstenite::Error) -> ClientError {
    match error {
        // The daemon answered in HTTP instead of upgrading: an older daemon's 501, say.
        tungstenite::Error::Http(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = response.body().as_deref().unwrap_or_default();
            api_error(url, status, body)
        }
        tungstenite::Error::Io(error) => ClientError::Unreachable {
            url: url.to_string(),
            reason: error.to_string(),
        },
        other => ClientError::Protocol {
            url: url.to_string(),
            reason: format!("the event stream did not open: {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_lives_beside_the_api_on_the_daemons_address() {
        let client = super::super::DaemonClient::new("http://127.0.0.1:8947").expect("client");
        let url = stream_url(client.endpoint(&["ws"])).expect("ws URL");
        assert_eq!(url.as_str(), "ws://127.0.0.1:8947/api/v1/ws");
        let secure =
            stream_url(Url::parse("https://example.org/api/v1/ws").expect("url")).expect("wss URL");
        assert_eq!(secure.scheme(), "wss");
    }

    #[test]
    fn an_http_answer_keeps_the_daemons_error() {
        let body = br#"{"error":{"code":"NOT_IMPLEMENTED","message":"The ws API is not available",
            "details":"","remediation":"upgrade","timestamp":"2026-12-03T00:00:00Z"}}"#;
        let response = tungstenite::http::Response::builder()
            .status(501)
            .body(Some(body.to_vec()))
            .expect("response");
        let error = connect_error(
            "ws://x/api/v1/ws",
            tungstenite::Error::Http(Box::new(response)),
        );
        assert_eq!(error.code(), Some("NOT_IMPLEMENTED"));
    }
}
