//! The bearer token on TCP: every request but the content-free health check must carry
//! `Authorization: Bearer <token>`. The socket does not use this layer; its peers are checked
//! by user id when they connect.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::daemon::error::ApiError;
use crate::daemon::state::AppState;

/// The only path open without the token.
pub const OPEN_PATH: &str = "/api/v1/health";

pub async fn require_bearer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == OPEN_PATH {
        return next.run(request).await;
    }
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials);
    let (message, details) = match offered {
        Some(token) if state.token_matches(token) => return next.run(request).await,
        Some(_) => (
            "the bearer token is not this daemon's",
            "Authorization was given but does not match",
        ),
        None => (
            "this request needs the daemon's bearer token",
            "TCP requests must carry 'Authorization: Bearer <token>'",
        ),
    };
    // The offered value is never logged: a wrong guess may be someone's real token.
    tracing::warn!(path = %request.uri().path(), "refused a TCP request without the right token");
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
        .details(details)
        // No path here: whoever asks without the token may be another user.
        .remediation(
            "Use the CLI or dashboard (they find the token themselves), or send the token that \
             'prism daemon token' prints",
        )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The credentials of an `Authorization: Bearer …` header. The scheme is case-insensitive
/// (RFC 9110); the token itself is not.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_is_not() {
        assert_eq!(bearer_credentials("Bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_credentials("Basic abc"), None);
        assert_eq!(bearer_credentials("Bearerabc"), None);
        assert_eq!(bearer_credentials("abc"), None);
    }
}
