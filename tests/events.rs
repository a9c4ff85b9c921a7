//! The event stream end to end: the real daemon, WebSocket clients, moto as EC2.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, error_of, unique};
use futures::{SinkExt as _, StreamExt as _};
use prism::client::EventSubscription;
use prism::model::api::{DaemonEvent, LaunchRequest, StateChangedEvent};
use prism::model::workspace::WorkspaceState;
use tokio_tungstenite::tungstenite::Message;

const TEMPLATE: &str = "ubuntu-24-04-base";

/// The next event, within `limit`.
async fn next_event(events: &mut EventSubscription, limit: Duration) -> DaemonEvent {
    match tokio::time::timeout(limit, events.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(error))) => panic!("the stream failed: {error}"),
        Ok(None) => panic!("the stream ended"),
        Err(_) => panic!("no event within {limit:?}"),
    }
}

/// The state changes of `name` up to and including the one into `until`: at most 200 events
/// and 60 seconds.
async fn changes_until(
    events: &mut EventSubscription,
    name: &str,
    until: WorkspaceState,
) -> Vec<StateChangedEvent> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    for _ in 0..200 {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{name} did not reach {until} in time: {seen:?}"
        );
        if let DaemonEvent::InstanceStateChanged(change) = next_event(events, left).await
            && change.name == name
        {
            let done = change.new_state == until;
            seen.push(change);
            if done {
                return seen;
            }
        }
    }
    panic!("{name} did not reach {until} within 200 events: {seen:?}");
}

/// Each change names the state the one before it entered.
fn assert_chained(changes: &[StateChangedEvent]) {
    for pair in changes.windows(2) {
        assert_eq!(
            pair[1].previous_state,
            Some(pair[0].new_state),
            "{changes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_says_hello_then_follows_a_workspace_through_launch_and_stop() {
    let daemon = Daemon::start();
    let client = daemon.client();
    let mut events = client.subscribe().await.expect("subscribe");
    match next_event(&mut events, Duration::from_secs(5)).await {
        DaemonEvent::Hello { version, .. } => assert_eq!(version, env!("CARGO_PKG_VERSION")),
        other => panic!("expected hello first, got {other:?}"),
    }

    let name = unique("events");
    let request = LaunchRequest {
        name: name.clone(),
        template: TEMPLATE.into(),
        ..Default::default()
    };
    client.launch(&request).await.expect("launch accepted");
    let launch = changes_until(&mut events, &name, WorkspaceState::Running).await;
    assert_eq!(launch[0].new_state, WorkspaceState::Launching, "{launch:?}");
    assert_eq!(launch[0].previous_state, None);
    assert_eq!(launch[0].reason, "launch request");
    assert_chained(&launch);
    let running = launch.last().expect("running");
    assert!(running.instance_id.is_some(), "{running:?}");
    assert_eq!(running.reason, "observed in EC2");

    client.stop(&name).await.expect("stop");
    let stop = changes_until(&mut events, &name, WorkspaceState::Stopped).await;
    assert_eq!(stop[0].new_state, WorkspaceState::Stopping, "{stop:?}");
    assert_eq!(stop[0].previous_state, Some(WorkspaceState::Running));
    assert_eq!(stop[0].reason, "stop request");
    assert_chained(&stop);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_request_to_the_stream_gets_an_api_error() {
    let daemon = Daemon::start();
    let response = daemon
        .http()
        .get(daemon.api("ws"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        response
            .headers()
            .get("upgrade")
            .and_then(|v| v.to_str().ok()),
        Some("websocket")
    );
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (426, Some("UPGRADE_REQUIRED"))
    );
    let probed = daemon
        .client()
        .probe(&["ws"])
        .await
        .expect_err("not plain HTTP");
    assert_eq!(probed.code(), Some("UPGRADE_REQUIRED"));
    let response = daemon
        .http()
        .post(daemon.api("ws"))
        .send()
        .await
        .expect("post");
    let (status, _) = error_of(response).await;
    assert_eq!(status, 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn pings_are_answered_and_a_client_close_ends_the_socket_cleanly() {
    let daemon = Daemon::start();
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}/api/v1/ws", daemon.url.replacen("http://", "ws://", 1));
    let mut request = url.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", daemon.token().expose())
            .parse()
            .expect("header"),
    );
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .expect("connects in time")
    .expect("connects");
    let limit = Duration::from_secs(5);
    let first = tokio::time::timeout(limit, socket.next())
        .await
        .expect("hello in time")
        .expect("a frame")
        .expect("no error");
    let Message::Text(text) = first else {
        panic!("hello is a text frame, not {first:?}");
    };
    let hello: DaemonEvent = serde_json::from_str(text.as_str()).expect("an event");
    assert!(matches!(hello, DaemonEvent::Hello { .. }), "{hello:?}");

    socket
        .send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .expect("ping");
    let mut ponged = false;
    for _ in 0..20 {
        let frame = tokio::time::timeout(limit, socket.next())
            .await
            .expect("an answer in time")
            .expect("a frame")
            .expect("no error");
        if let Message::Pong(payload) = frame {
            assert_eq!(payload.as_ref(), b"still there?");
            ponged = true;
            break;
        }
    }
    assert!(ponged, "the daemon answers pings");

    socket.close(None).await.expect("close");
    let mut closed_by_daemon = false;
    for _ in 0..20 {
        match tokio::time::timeout(limit, socket.next())
            .await
            .expect("the socket ends in time")
        {
            Some(Ok(Message::Close(_))) => closed_by_daemon = true,
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break,
        }
    }
    assert!(closed_by_daemon, "the daemon answers the close handshake");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_is_prompt_with_a_subscriber_connected() {
    let mut daemon = Daemon::start();
    let mut events = daemon.client().subscribe().await.expect("subscribe");
    assert!(matches!(
        next_event(&mut events, Duration::from_secs(5)).await,
        DaemonEvent::Hello { .. }
    ));
    let asked = Instant::now();
    daemon.client().shutdown().await.expect("shutdown");
    // The daemon says goodbye, so the stream ends rather than breaks.
    let end = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the stream ends promptly");
    assert!(end.is_none(), "{end:?}");
    let status = daemon
        .wait_exit(Duration::from_secs(10))
        .expect("the daemon exits with a subscriber connected");
    assert!(status.success(), "{status}");
    // Far below the 30 s shutdown timeout: open sockets do not hold the daemon up.
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
}
