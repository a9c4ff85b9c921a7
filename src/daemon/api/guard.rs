//! Refusing requests that a web page, rather than the researcher, sent.
//!
//! A browser will send a bodiless POST to `127.0.0.1:8947` from any site it visits, and with DNS
//! rebinding a foreign page can even read the answers under its own host name. Neither needs
//! the page to see a response first, so checks must happen before any handler runs:
//!
//! - a `Host` header that is present must name this machine (see
//!   [`crate::model::address::is_loopback_authority`]), which defeats rebinding;
//! - a request that changes something, or opens a WebSocket (the event stream, which CORS does
//!   not protect: a browser lets any page read a socket it opened), must not carry a foreign
//!   `Origin`, nor a `Sec-Fetch-Site` saying another site (or a sibling on another port) sent
//!   it.
//!
//! Clients that are not browsers (the CLI, curl, scripts) send no `Origin` and pass. No CORS
//! headers are ever sent, so browsers also keep foreign pages from reading any answer.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::daemon::error::ApiError;
use crate::daemon::state::AppState;
use crate::model::address::{is_loopback_authority, is_loopback_origin};

const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// The middleware: answers refused requests itself, passes the rest on. With
/// `allow_non_loopback` (the daemon deliberately reachable from other machines) any Host is
/// accepted; the token and the Origin checks still apply.
pub async fn refuse_foreign_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let hosts = if state.config.allow_non_loopback {
        Hosts::Any
    } else {
        Hosts::Loopback
    };
    match check(request.method(), request.uri(), request.headers(), hosts) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Which Host names are this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hosts {
    Loopback,
    Any,
}

/// The checks, apart from the middleware plumbing so they can be tested without a server.
fn check(method: &Method, uri: &Uri, headers: &HeaderMap, hosts: Hosts) -> Result<(), ApiError> {
    if hosts == Hosts::Loopback {
        check_host(uri, headers)?;
    }
    check_origin(method, headers)
}

fn check_host(uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(forbidden_host("(several Host headers)"));
    }
    if let Some(host) = host {
        let text = host.to_str().unwrap_or_default();
        if !is_loopback_authority(text) {
            return Err(forbidden_host(text));
        }
    }
    // An absolute request target names the host too, and hyper prefers it to the header.
    if let Some(authority) = uri.authority()
        && !is_loopback_authority(authority.as_str())
    {
        return Err(forbidden_host(authority.as_str()));
    }
    Ok(())
}

fn check_origin(method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let opens_socket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !changes_state(method) && !opens_socket {
        return Ok(());
    }
    for origin in headers.get_all(header::ORIGIN) {
        let text = origin.to_str().unwrap_or("(not text)");
        if !is_loopback_origin(text) {
            return Err(cross_site(method, &format!("origin '{text}'")));
        }
    }
    for site in headers.get_all(SEC_FETCH_SITE) {
        let text = site.to_str().unwrap_or_default().trim();
        if text.eq_ignore_ascii_case("cross-site") || text.eq_ignore_ascii_case("same-site") {
            return Err(cross_site(
                method,
                &format!("a page the browser calls {text}"),
            ));
        }
    }
    Ok(())
}

fn forbidden_host(host: &str) -> ApiError {
    tracing::warn!(%host, "refused a request addressed to a foreign host name");
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "FORBIDDEN_HOST",
        format!("Host '{host}' is not this daemon's address"),
    )
    .details(
        "The daemon answers only requests addressed to 127.0.0.1, [::1] or localhost; other \
         host names are refused so that a web page cannot reach it through DNS rebinding",
    )
    .remediation(
        "Address the daemon as http://127.0.0.1:PORT (as 'prism' does); a proxy in between \
         must pass the loopback Host header through unchanged",
    )
}

fn cross_site(method: &Method, from: &str) -> ApiError {
    tracing::warn!(%method, %from, "refused a cross-site request");
    ApiError::new(
        StatusCode::FORBIDDEN,
        "CROSS_SITE_REQUEST",
        format!("Refused a {method} sent by a web page ({from})"),
    )
    .details(
        "Requests that change workspaces or the daemon are accepted only from programs such \
         as the prism CLI, curl or scripts, never from a page of another web site",
    )
    .remediation(
        "Send the request with 'prism' or curl, which send no Origin header; a browser page \
         cannot drive the daemon",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn code(method: Method, pairs: &[(&str, &str)]) -> Option<&'static str> {
        let uri = Uri::from_static("/api/v1/instances/x/stop");
        check(&method, &uri, &headers(pairs), Hosts::Loopback)
            .err()
            .map(|e| e.code)
    }

    /// Regression: a page on any site could open the event stream and read every workspace's
    /// name, instance id and state changes (CORS does not cover WebSockets).
    #[test]
    fn a_foreign_page_cannot_open_the_event_stream() {
        let upgrade = [("host", "127.0.0.1:8947"), ("upgrade", "websocket")];
        assert_eq!(
            code(Method::GET, &upgrade),
            None,
            "the dashboard sends no Origin"
        );
        let mut foreign = upgrade.to_vec();
        foreign.push(("origin", "http://evil.example.com"));
        assert_eq!(code(Method::GET, &foreign), Some("CROSS_SITE_REQUEST"));
        let mut fetched = upgrade.to_vec();
        fetched.push(("sec-fetch-site", "cross-site"));
        assert_eq!(code(Method::GET, &fetched), Some("CROSS_SITE_REQUEST"));
        // A plain GET from a page is still only a read the browser keeps from the page.
        assert_eq!(
            code(Method::GET, &[("origin", "http://evil.example.com")]),
            None
        );
    }

    #[test]
    fn command_line_requests_pass() {
        assert_eq!(code(Method::POST, &[("host", "127.0.0.1:8947")]), None);
        assert_eq!(code(Method::POST, &[]), None, "HTTP/1.0 sends no Host");
        assert_eq!(code(Method::GET, &[("host", "localhost:8947")]), None);
    }

    #[test]
    fn foreign_host_names_are_refused_for_every_method() {
        for method in [Method::GET, Method::POST] {
            assert_eq!(
                code(method, &[("host", "evil.example.com:8947")]),
                Some("FORBIDDEN_HOST")
            );
        }
        assert_eq!(
            code(
                Method::GET,
                &[("host", "127.0.0.1:8947"), ("host", "evil.example.com")]
            ),
            Some("FORBIDDEN_HOST")
        );
        let uri = Uri::from_static("http://evil.example.com/api/v1/instances");
        let refused = check(
            &Method::GET,
            &uri,
            &headers(&[("host", "127.0.0.1")]),
            Hosts::Loopback,
        );
        assert_eq!(refused.err().map(|e| e.code), Some("FORBIDDEN_HOST"));
    }

    #[test]
    fn foreign_origins_cannot_change_anything() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(
                code(method, &[("origin", "http://evil.example.com")]),
                Some("CROSS_SITE_REQUEST")
            );
        }
        assert_eq!(
            code(Method::POST, &[("origin", "null")]),
            Some("CROSS_SITE_REQUEST")
        );
        assert_eq!(
            code(Method::POST, &[("sec-fetch-site", "cross-site")]),
            Some("CROSS_SITE_REQUEST")
        );
        assert_eq!(
            code(Method::POST, &[("sec-fetch-site", "same-site")]),
            Some("CROSS_SITE_REQUEST")
        );
        // Reading is left alone: without CORS headers the page cannot see the answer.
        assert_eq!(
            code(Method::GET, &[("origin", "http://evil.example.com")]),
            None
        );
    }

    #[test]
    fn the_daemons_own_origin_passes() {
        assert_eq!(
            code(
                Method::POST,
                &[
                    ("origin", "http://127.0.0.1:8947"),
                    ("sec-fetch-site", "same-origin")
                ]
            ),
            None
        );
        assert_eq!(code(Method::POST, &[("sec-fetch-site", "none")]), None);
    }
}
