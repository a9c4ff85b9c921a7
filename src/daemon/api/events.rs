//! `/api/v1/ws`: the event stream, a WebSocket carrying one JSON text frame per
//! [`DaemonEvent`].
//!
//! Each connection gets `hello` first, then every event the hub publishes. A client that
//! reads too slowly to keep up gets `resync` in place of what it missed and re-reads the list.
//! The WebSocket library answers pings by itself; the socket ends when the client closes it,
//! when a send stalls, or when the daemon shuts down, so open sockets never hold up a shutdown.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::daemon::error::ApiError;
use crate::daemon::state::AppState;
use crate::model::api::{DaemonEvent, ErrorBody};

/// How long one frame may take to leave before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the closing frame may take at shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// The event stream (WebSocket)
///
/// A GET that upgrades to a WebSocket. Each text frame is one JSON `DaemonEvent` (see that
/// schema): `hello` first, then `instance_state_changed` for every recorded transition, and
/// `resync` in place of events a slow client missed, after which it should re-read
/// `GET /api/v1/instances`. The stream reports changes from the moment of connecting, not
/// history. Pings are answered; on shutdown the daemon closes the socket with code 1001.
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    operation_id = "event_stream",
    tag = "events",
    params(
        ("Connection" = String, Header, description = "`Upgrade` (the daemon takes any \
            list that holds `upgrade`, in any case)", pattern = "^Upgrade$"),
        ("Upgrade" = String, Header, description = "`websocket`, in any case",
            pattern = "^websocket$"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "The handshake's key: 16 random \
            bytes in base64, which WebSocket clients make up themselves",
            pattern = "^[A-Za-z0-9+/]{22}==$"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; then one \
            `DaemonEvent` per text frame"),
        (status = 426, body = ErrorBody, description = "`UPGRADE_REQUIRED`: a plain HTTP \
            request, without the WebSocket handshake headers.",
            headers(("Upgrade" = String, description = "`websocket`"))),
    ),
)]
async fn stream(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return not_a_websocket(&rejection),
    };
    // Subscribe now, before the handshake finishes, so that nothing published between this
    // request and the first frame is lost.
    let events = state.events.subscribe();
    let shutdown = state.shutdown.clone();
    // Shutdown waits for tracked sessions, so that each can send its close frame first.
    let tracked = state.sessions.token();
    upgrade.on_upgrade(move |socket| async move {
        session(socket, events, shutdown).await;
        drop(tracked);
    })
}

/// A plain HTTP request to the stream: the API's error body instead of axum's text.
fn not_a_websocket(rejection: &WebSocketUpgradeRejection) -> Response {
    let mut response = ApiError::new(
        StatusCode::UPGRADE_REQUIRED,
        "UPGRADE_REQUIRED",
        "/api/v1/ws is a WebSocket: the request must ask to upgrade",
    )
    .details(rejection.body_text())
    .remediation(
        "Connect with a WebSocket client (ws://HOST:PORT/api/v1/ws); for one-off reads use \
         GET /api/v1/instances",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    response
}

async fn session(
    mut socket: WebSocket,
    mut events: broadcast::Receiver<DaemonEvent>,
    shutdown: CancellationToken,
) {
    let hello = DaemonEvent::Hello {
        version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: Utc::now(),
    };
    if !send(&mut socket, &hello).await {
        return;
    }
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                close(&mut socket, close_code::AWAY, "the daemon is shutting down").await;
                return;
            }
            incoming = socket.recv() => match incoming {
                // After a close frame the library has queued its answer; the next read sends
                // it and then ends the stream.
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return,
            },
            next = next_event(&mut events) => match next {
                Some(event) => {
                    if !send(&mut socket, &event).await {
                        return;
                    }
                }
                None => {
                    close(&mut socket, close_code::AWAY, "the event hub stopped").await;
                    return;
                }
            },
        }
    }
}

/// The next event for this client: `resync` in place of events it was too slow to take, and
/// `None` once no more can come.
async fn next_event(events: &mut broadcast::Receiver<DaemonEvent>) -> Option<DaemonEvent> {
    match events.recv().await {
        Ok(event) => Some(event),
        Err(RecvError::Lagged(missed)) => {
            tracing::debug!(missed, "event stream client fell behind; sending resync");
            Some(DaemonEvent::Resync {
                timestamp: Utc::now(),
            })
        }
        Err(RecvError::Closed) => None,
    }
}

/// Sends one event as a JSON text frame; false when the client is gone or stalls.
async fn send(socket: &mut WebSocket, event: &DaemonEvent) -> bool {
    let text = match serde_json::to_string(event) {
        Ok(text) => text,
        Err(error) => {
            tracing::error!(%error, "cannot encode an event");
            return true;
        }
    };
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(n: u32) -> DaemonEvent {
        DaemonEvent::Hello {
            version: n.to_string(),
            timestamp: Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_client_that_fell_behind_gets_resync_then_the_newest_events() {
        let (sender, mut receiver) = broadcast::channel(2);
        for n in 0..5 {
            sender.send(hello(n)).expect("a receiver exists");
        }
        assert!(matches!(
            next_event(&mut receiver).await,
            Some(DaemonEvent::Resync { .. })
        ));
        for n in 3..5 {
            match next_event(&mut receiver).await {
                Some(DaemonEvent::Hello { version, .. }) => assert_eq!(version, n.to_string()),
                other => panic!("expected event {n}, got {other:?}"),
            }
        }
        drop(sender);
        assert_eq!(next_event(&mut receiver).await, None);
    }
}
