//! The served OpenAPI document against the running daemon: every documented operation is
//! answered by a handler, with a status the document declares, and every other method on a
//! documented path is refused as one the path does not take.

mod common;

use common::Daemon;
use reqwest::Method;
use serde_json::Value;

/// Methods probed on every path. A probe sends `[]`, which every request body refuses, so no
/// handler changes anything (not even shutdown).
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_served_and_nothing_else_on_its_path() {
    let daemon = Daemon::start();
    let http = daemon.http();
    let response = http
        .get(daemon.api("openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 19, "{:?}", paths.keys());

    for (template, item) in paths {
        let path = template.replace("{name}", "openapi-probe");
        assert!(
            !path.contains('{'),
            "{template} has a parameter the probe cannot fill"
        );
        let url = format!("{}{path}", daemon.url);
        for method in METHODS {
            let key = method.as_str().to_ascii_lowercase();
            let response = http
                .request(method.clone(), &url)
                .header("content-type", "application/json")
                .body("[]")
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match item.get(&key) {
                Some(operation) => {
                    assert!(
                        !matches!(code.as_str(), "NOT_FOUND" | "METHOD_NOT_ALLOWED"),
                        "{method} {template} is documented but not routed: {body}"
                    );
                    assert!(
                        operation["responses"].get(status.to_string()).is_some(),
                        "{method} {template} answered {status}, which it does not declare: \
                         {body}"
                    );
                }
                None => assert_eq!(
                    (status, code.as_str()),
                    (405, "METHOD_NOT_ALLOWED"),
                    "{method} {template} is not documented but answered"
                ),
            }
        }
    }
}
