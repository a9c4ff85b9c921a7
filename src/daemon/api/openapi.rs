//! The OpenAPI description of the API, served at `GET /api/v1/openapi.json`.
//!
//! Nothing here lists routes. Each handler's `#[utoipa::path]` describes its operation, the wire
//! types in [`crate::model::api`] describe the bodies, and the routers are built from those same
//! annotations (utoipa-axum's `routes!` takes each method and path from them), so a route and
//! its description cannot disagree. This module adds what no handler owns: the title, version
//! and server, the bearer-token scheme, the wording shared by common errors, and the responses
//! that the middleware in front of every handler can give.

use std::sync::LazyLock;

use axum::Json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::NOT_YET_BUILT;
use crate::daemon::state::AppState;
use crate::model::api::{DaemonEvent, ErrorBody};

/// `500`, wherever the daemon's own store is read or written.
pub const INTERNAL_ERROR: &str =
    "`INTERNAL_ERROR`: a fault in the daemon; its log has the cause, the answer does not.";

/// `403` from an AWS call.
pub const AWS_PERMISSION_DENIED: &str = "`AWS_PERMISSION_DENIED`: the daemon's AWS credentials \
     do not allow the call (see the README's AWS setup).";

/// `404` from an AWS call.
pub const AWS_RESOURCE_NOT_FOUND: &str =
    "`AWS_RESOURCE_NOT_FOUND`: AWS does not know a resource the request needs.";

/// `502` from an AWS call.
pub const AWS_FAILED: &str = "`AWS_ERROR`: AWS answered with an error; try again.";

/// `503` from an AWS call. Every `503` also gets a `Retry-After` header (see [`document`]).
pub const AWS_UNAVAILABLE: &str = "`AWS_THROTTLED` or `AWS_UNREACHABLE` (try again after \
     `Retry-After` seconds), or `INSUFFICIENT_CAPACITY` (AWS has no capacity for the type, or \
     the account limit is reached: try another size, type or region).";

/// `413` wherever a body is read.
pub const PAYLOAD_TOO_LARGE: &str = "`PAYLOAD_TOO_LARGE`: the body is over 64 KiB.";

/// `415` wherever a body is read.
pub const UNSUPPORTED_MEDIA_TYPE: &str = "`UNSUPPORTED_MEDIA_TYPE`: a `Content-Type` other than \
     JSON (`application/json` or `application/*+json`); no `Content-Type` is taken as JSON.";

/// The body of actions that take no parameters.
pub const NO_PARAMETERS: &str = "None, or an empty JSON object: this action takes no parameters";

/// What the guard middleware answers on every route, added to each operation by [`document`].
const FORBIDDEN_HOST: &str = "`FORBIDDEN_HOST`: the `Host` header names another machine than \
     this one (any route).";

/// What TCP answers without the token, added to every operation but the health check.
const UNAUTHORIZED: &str = "`UNAUTHORIZED`: over TCP, no `Authorization: Bearer <token>` \
     header, or not the daemon's token.";

/// What the guard middleware answers to a request that changes something, or opens the event
/// stream, when a web page sent it.
const CROSS_SITE_REQUEST: &str = "`CROSS_SITE_REQUEST`: a web page sent the request (a foreign \
     `Origin`, or `Sec-Fetch-Site: cross-site` or `same-site`).";

const DESCRIPTION: &str = "\
The REST API of `prism daemon`, the per-user service that runs cloud research workstations \
(workspaces) on AWS. The CLI (`prism`) and the dashboard (`prism tui`) use only this API. This \
document is generated from the daemon's code.

**Authentication.** Every request over TCP but `GET /api/v1/health` needs `Authorization: \
Bearer <token>` (the `bearerAuth` scheme), or it gets 401 `UNAUTHORIZED`. The token is in \
the file `token` in the daemon's config directory (0600), created on its first start; \
`prism daemon token` prints it. Over the daemon's Unix socket, which admits only its own \
user, no token is needed.

**Only this machine.** The daemon answers only requests whose `Host` is a loopback address or \
`localhost` (400 `FORBIDDEN_HOST` otherwise), and refuses requests that change something, or \
open the event stream, when a web page sent them (403 `CROSS_SITE_REQUEST`). No CORS headers \
are sent.

**Requests.** Bodies are JSON objects of at most 64 KiB, sent with `Content-Type: \
application/json` or none; unknown fields are refused rather than ignored. Amounts of money \
are exact decimals (see the `Money` schema).

**Errors.** Every error has the body `{\"error\":{\"code\",\"message\",\"details\",\
\"remediation\",\"timestamp\"}}` (the `ErrorBody` schema); `code` is stable, the rest is for \
people. A path the API does not have answers 404 `NOT_FOUND`, a method a path does not take \
405 `METHOD_NOT_ALLOWED`. Every response carries an `x-request-id` header, also found in the \
daemon's log.";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Prism daemon API",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION
    ),
    servers((url = "http://127.0.0.1:8947", description = "The daemon's default address")),
    security(("bearerAuth" = [])),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, DaemonEvent)),
    tags(
        (name = "workspaces", description = "Workspaces: listing, launching and their lifecycle"),
        (name = "templates", description = "The templates workspaces are launched from"),
        (name = "costs", description = "What the workspaces cost, now and per period"),
        (name = "events", description = "The event stream"),
        (name = "daemon", description = "The daemon itself"),
    ),
)]
struct ApiDoc;

/// The `bearerAuth` scheme that [`ApiDoc`] requires globally.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "The daemon's token, sent as `Authorization: Bearer <token>` on TCP requests",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearerAuth", SecurityScheme::Http(scheme));
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The whole document, built once: the routers' operations merged into [`ApiDoc`].
static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(super::openapi);

/// This document
///
/// The OpenAPI 3.1 description of every operation the daemon serves, generated from its code.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "daemon",
    responses((status = 200, description = "This document", body = Object)),
)]
async fn openapi_json() -> Json<&'static OpenApi> {
    Json(&DOCUMENT)
}

/// Completes the operations the routers collected (`paths`) into the served document.
pub fn document(paths: OpenApi) -> OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    let stubs: Vec<String> = NOT_YET_BUILT
        .iter()
        .map(|area| format!("`/api/v1/{area}`"))
        .collect();
    let description = doc.info.description.get_or_insert_with(String::new);
    description.push_str(&format!(
        "\n\n**Not built yet.** {} and every path under them answer 501 `NOT_IMPLEMENTED`, \
         whatever the method. They are parts of the API contract that this version does not \
         serve, so they are not operations here.",
        stubs.join(", ")
    ));
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = path == super::auth::OPEN_PATH;
        let operations = [
            (false, &mut item.get),
            (true, &mut item.post),
            (true, &mut item.put),
            (true, &mut item.patch),
            (true, &mut item.delete),
        ];
        for (changes_state, operation) in operations {
            let Some(operation) = operation else { continue };
            // The guard refuses foreign hosts everywhere, and web pages where something
            // changes or a WebSocket opens (the only operation that answers 101).
            add_refusal(operation, "400", FORBIDDEN_HOST);
            if !open {
                add_refusal(operation, "401", UNAUTHORIZED);
            }
            if changes_state || operation.responses.responses.contains_key("101") {
                add_refusal(operation, "403", CROSS_SITE_REQUEST);
            }
            add_retry_after(operation);
            drop_null_bodies(operation);
        }
    }
    doc
}

/// Adds a refusal to an operation's response for `status`, or creates that response.
fn add_refusal(operation: &mut Operation, status: &str, text: &str) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(status) {
        Some(RefOr::T(response)) => {
            response.description = format!("{} Or {text}", response.description);
        }
        // Every response here is written inline; a shared one would need its own wording.
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut response = Response::new(text);
            response.content.insert(
                "application/json".to_string(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .build(),
            );
            responses.insert(status.to_string(), RefOr::T(response));
        }
    }
}

/// `Retry-After` on every `503`: the daemon sends it when AWS throttles or cannot be reached.
fn add_retry_after(operation: &mut Operation) {
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("503") {
        let header = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .description(Some("Seconds to wait before trying again"))
            .build();
        response.headers.insert("Retry-After".to_string(), header);
    }
}

/// An optional body may be absent, but never JSON `null`, which every body type refuses.
/// utoipa writes an `Option<T>` body as "null or T"; the null goes, and `required: false` tells
/// that the body may be left out.
fn drop_null_bodies(operation: &mut Operation) {
    let Some(body) = operation.request_body.as_mut() else {
        return;
    };
    for content in body.content.values_mut() {
        let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
            continue;
        };
        let mut not_null = one_of.items.iter().filter(|item| !is_null(item));
        if let (Some(only), None) = (not_null.next(), not_null.next()) {
            content.schema = Some(only.clone());
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object))
        if object.schema_type == SchemaType::Type(Type::Null))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::{NOT_YET_BUILT, served_routes};

    /// The path templates a router has registered. axum has no API that lists them; its `Debug`
    /// output is the one place that shows them (as `RouteId(3): "/api/v1/..."`, first for the
    /// routes, then for axum's own fallback routes, which are left out), so the test reads
    /// them from there. Should a newer axum print them differently, this finds none and the
    /// test below fails on that rather than passing without comparing anything.
    fn registered_paths(router: &axum::Router<crate::daemon::state::AppState>) -> BTreeSet<String> {
        let text = format!("{router:?}");
        let routes = text.split("fallback_router").next().unwrap_or_default();
        routes
            .split("RouteId(")
            .skip(1)
            .filter_map(|entry| {
                let (_, rest) = entry.split_once("): \"")?;
                rest.split_once('"').map(|(path, _)| path.to_string())
            })
            .collect()
    }

    /// The router and the document are built from the same annotations, so they can only part
    /// if a route is registered around `routes!` (which `clippy.toml` forbids) or a path is
    /// described that the router does not match. Either shows up here.
    #[test]
    fn the_router_serves_exactly_the_documented_paths_and_the_stubs() {
        let registered = registered_paths(&served_routes());
        assert!(
            registered.contains("/api/v1/instances"),
            "could not read the routes from the router's Debug output: {registered:?}"
        );
        let document = super::super::openapi();
        let documented: BTreeSet<String> = document.paths.paths.keys().cloned().collect();
        let stubs: BTreeSet<String> = NOT_YET_BUILT
            .iter()
            .flat_map(|area| {
                [
                    format!("/api/v1/{area}"),
                    format!("/api/v1/{area}/{{*rest}}"),
                ]
            })
            .collect();
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let expected_undocumented: Vec<_> = stubs.iter().collect();
        assert_eq!(
            undocumented, expected_undocumented,
            "served but not in the document (only the 501 stubs may be)"
        );
        let unserved: Vec<_> = documented.difference(&registered).collect();
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
    }

    /// Areas that answer 501 are named in the description, never described as operations.
    #[test]
    fn areas_not_yet_built_are_no_operations() {
        let document = super::super::openapi();
        for path in document.paths.paths.keys() {
            let area = path.trim_start_matches("/api/v1/").split('/').next();
            assert!(
                !NOT_YET_BUILT.iter().any(|stub| Some(*stub) == area),
                "{path} answers 501 but is documented"
            );
        }
        let description = document.info.description.unwrap_or_default();
        for area in NOT_YET_BUILT {
            assert!(description.contains(&format!("`/api/v1/{area}`")), "{area}");
        }
    }

    /// Every operation has a unique id, a tag, and describes its errors with the error body.
    #[test]
    fn operations_are_named_and_their_errors_use_the_error_body() {
        let document = serde_json::to_value(super::super::openapi()).expect("serialize");
        let mut ids = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    ids.insert(id.to_string()),
                    "{method} {path}: id {id:?} repeats"
                );
                assert!(operation["tags"][0].is_string(), "{method} {path}: no tag");
                let responses = operation["responses"].as_object().expect("responses");
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
    }
}
