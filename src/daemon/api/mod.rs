//! The REST API: one router per resource, merged in [`app`], and its OpenAPI description
//! ([`openapi()`]), which is generated from the same handlers the routers are built from.

mod auth;
mod costs;
mod events;
mod guard;
mod instances;
mod openapi;
mod system;
mod templates;

pub use system::SHUTDOWN_TIMEOUT_SECS;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, OriginalUri, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::any;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use super::error::ApiError;
use super::state::AppState;

/// Largest request body accepted; every request body is a small JSON object.
const BODY_LIMIT: usize = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// On every answer: the daemon's version. Clients check it to say "not a prism daemon" when
/// something else answers on the port.
pub const DAEMON_HEADER: HeaderName = HeaderName::from_static("x-prism-daemon");

/// Every operation the API serves. The resource routers register handlers only through
/// utoipa-axum's `routes!`, which takes each method and path from the handler's
/// `#[utoipa::path]`, so nothing is served that the document does not describe (`clippy.toml`
/// refuses the plain `route` calls that would get around this).
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(templates::router())
        .merge(instances::router())
        .merge(costs::router())
        .merge(events::router())
        .merge(system::router())
        .merge(openapi::router())
}

/// The OpenAPI document of everything [`app`] serves, as `GET /api/v1/openapi.json` answers it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::document(routes().into_openapi())
}

/// Every route [`app`] registers: the documented operations and the 501 stubs.
fn served_routes() -> Router<AppState> {
    let (api, _) = routes().split_for_parts();
    with_areas_not_yet_built(api)
}

/// The application as the socket serves it: every route, no token (the socket admits only
/// this user). Handler tests call this with `oneshot`.
pub fn app(state: AppState) -> Router {
    build(state, false)
}

/// The application as TCP serves it: the same routes, each needing the bearer token but the
/// health check.
pub fn tcp_app(state: AppState) -> Router {
    build(state, true)
}

fn build(state: AppState, bearer: bool) -> Router {
    let mut router = served_routes()
        // Last, so that it covers every route above.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    if bearer {
        router = router.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    }
    router
        // Inside the request span, so that a refusal is logged with its request id, and before
        // every handler and fallback, so that nothing runs for a request a web page sent.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::refuse_foreign_requests,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "unmatched".to_string());
            let id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            tracing::info_span!("request", method = %request.method(), route = %route, request_id = %id)
        })
        // tower-http logs every 5xx at error level; a 501 for a part not built yet is not an
        // operator's problem, and real faults are logged once where they happen (ApiError).
        // Every response is logged at debug with its status and latency instead.
        .on_response(
            tower_http::trace::DefaultOnResponse::new()
                .level(tracing::Level::DEBUG)
                .latency_unit(tower_http::LatencyUnit::Millis),
        )
        .on_failure(()))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Says who answered, so a client that reached something else can tell.
        .layer(SetResponseHeaderLayer::overriding(
            DAEMON_HEADER,
            HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
        ))
        .with_state(state)
}

/// Areas of the API contract that this version does not serve yet. They answer 501 with a
/// clear message instead of a bare 404, so clients can tell "not built" from "wrong URL". They
/// are no operations of the document, whose description names them instead.
const NOT_YET_BUILT: [&str; 7] = [
    "idle",
    "projects",
    "budgets",
    "invitations",
    "storage",
    "profiles",
    "logs",
];

#[allow(
    clippy::disallowed_methods,
    reason = "the stubs answer 501 for whole areas, which are deliberately not documented"
)]
fn with_areas_not_yet_built(mut api: Router<AppState>) -> Router<AppState> {
    for area in NOT_YET_BUILT {
        api = api
            .route(&format!("/api/v1/{area}"), any(not_yet_built))
            .route(&format!("/api/v1/{area}/{{*rest}}"), any(not_yet_built));
    }
    api
}

async fn not_yet_built(OriginalUri(uri): OriginalUri) -> ApiError {
    let area = uri
        .path()
        .trim_start_matches("/api/v1/")
        .split('/')
        .next()
        .unwrap_or("");
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NOT_IMPLEMENTED",
        format!("The {area} API is not available in this version of Prism"),
    )
    .details("This part of the API contract is planned but not built yet")
    .remediation("See 'Known limitations' in the README for what this version serves")
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("No API route {}", request.uri().path()),
    )
    .remediation("API routes live under /api/v1; see the API reference")
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed on {}", uri.path()),
    )
    .remediation("Check the method in the API reference")
}
