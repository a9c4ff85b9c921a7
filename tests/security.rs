//! Requests a web page could send: foreign origins, cross-site fetches, DNS rebinding.

mod common;

use std::time::Duration;

use common::{Daemon, ec2_instances, error_of, unique};
use prism::model::workspace::WorkspaceState;

/// What the store holds for `name`: its state and any action waiting for EC2.
async fn stored(daemon: &Daemon, name: &str) -> (String, Option<String>) {
    let store = prism::daemon::store::Store::open(&daemon.data_dir().join("prism.db"))
        .await
        .expect("store");
    let row = store
        .live()
        .await
        .expect("rows")
        .into_iter()
        .find(|r| r.name == name)
        .expect("row");
    (row.state, row.pending_action)
}

/// Regression: a bodiless POST with `Origin: http://evil.example.com` stopped a workspace.
#[tokio::test(flavor = "multi_thread")]
async fn a_cross_site_post_cannot_stop_a_workspace() {
    let daemon = Daemon::start();
    let name = unique("xsite");
    daemon.launch_running(&name, "rocky-9-base").await;
    let url = daemon.api(&format!("instances/{name}/stop"));
    let attempts = [
        ("origin", "http://evil.example.com"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    for (header, value) in attempts {
        let response = daemon
            .http()
            .post(&url)
            .header(header, value)
            .send()
            .await
            .expect("post");
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (403, Some("CROSS_SITE_REQUEST")),
            "{header}: {value}"
        );
    }
    // Nothing changed, neither in EC2 nor in the store.
    let views = ec2_instances(&daemon.owner).await;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].state, "running");
    assert_eq!(stored(&daemon, &name).await, ("running".to_string(), None));
}

/// Regression: `POST /api/v1/daemon/shutdown` from a foreign origin killed the daemon.
#[tokio::test(flavor = "multi_thread")]
async fn a_cross_site_post_cannot_shut_the_daemon_down() {
    let mut daemon = Daemon::start();
    let response = daemon
        .http()
        .post(daemon.api("daemon/shutdown"))
        .header("origin", "http://evil.example.com")
        .send()
        .await
        .expect("post");
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("CROSS_SITE_REQUEST"))
    );
    assert!(
        daemon.wait_exit(Duration::from_secs(2)).is_none(),
        "the daemon exited"
    );
    daemon.client().status().await.expect("still serving");
}

/// Regression: `Host: evil.example.com` on `GET …/connect` returned the SSH command and the
/// Jupyter token, which is all DNS rebinding needs.
#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_name_gets_no_connect_details() {
    let daemon = Daemon::start();
    let name = unique("rebind");
    daemon
        .launch_running(&name, "Python Machine Learning (Simplified)")
        .await;
    let token = daemon
        .client()
        .connect_info(&name)
        .await
        .expect("connect")
        .services["jupyter"]
        .token
        .clone()
        .expect("token");
    let port = daemon.url.rsplit(':').next().expect("port").to_string();
    for host in [
        "evil.example.com".to_string(),
        format!("evil.example.com:{port}"),
        format!("127.0.0.1.evil.example.com:{port}"),
    ] {
        let response = daemon
            .http()
            .get(daemon.api(&format!("instances/{name}/connect")))
            .header("host", &host)
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        assert_eq!(status, 400, "{host}: {text}");
        let body: serde_json::Value = serde_json::from_str(&text).expect("JSON error");
        assert_eq!(body["error"]["code"], "FORBIDDEN_HOST", "{text}");
        assert!(!text.contains(&token), "token leaked: {text}");
        assert!(!text.contains("ssh "), "ssh command leaked: {text}");
    }
    // Foreign host names are refused for changes too, and nothing happens.
    let response = daemon
        .http()
        .post(daemon.api(&format!("instances/{name}/stop")))
        .header("host", "evil.example.com")
        .send()
        .await
        .expect("post");
    assert_eq!(error_of(response).await.1["code"], "FORBIDDEN_HOST");
    assert_eq!(ec2_instances(&daemon.owner).await[0].state, "running");
    assert_eq!(stored(&daemon, &name).await, ("running".to_string(), None));
}

/// The guard must not get in the way of the CLI, curl, or the daemon's own origin.
#[tokio::test(flavor = "multi_thread")]
async fn loopback_clients_without_an_origin_still_work() {
    let daemon = Daemon::start();
    let name = unique("local");
    daemon.launch_running(&name, "rocky-9-base").await;
    let port = daemon.url.rsplit(':').next().expect("port").to_string();
    let response = daemon
        .http()
        .get(daemon.api("daemon/status"))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);
    let response = daemon
        .http()
        .post(daemon.api(&format!("instances/{name}/stop")))
        .header("origin", format!("http://127.0.0.1:{port}"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 200);
    daemon.wait_for(&name, WorkspaceState::Stopped).await;
    // The typed client (what the CLI uses) sends no Origin.
    daemon.client().start(&name).await.expect("start");
    daemon.wait_for(&name, WorkspaceState::Running).await;
}

/// Regression: a WebSocket upgrade with a foreign Origin got `101` and the live events.
#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_page_cannot_open_the_event_stream() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let daemon = Daemon::start();
    let url = format!("{}/api/v1/ws", daemon.url.replacen("http://", "ws://", 1));
    let mut request = url.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "origin",
        "http://evil.example.com".parse().expect("header value"),
    );
    // Even with the token: a page must not open it.
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", daemon.token().expose())
            .parse()
            .expect("header value"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        Err(other) => panic!("expected a 403 refusal, got {other}"),
        Ok(_) => panic!("a foreign origin opened the event stream"),
    }
    // The daemon's own clients (no Origin) still get the stream.
    let mut events = daemon.client().subscribe().await.expect("subscribe");
    let hello = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("in time");
    assert!(matches!(
        hello,
        Some(Ok(prism::model::api::DaemonEvent::Hello { .. }))
    ));
}
