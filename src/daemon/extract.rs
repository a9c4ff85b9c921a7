//! Request extractors whose rejections speak the API's error format.
//!
//! axum's own `Json` and `Path` answer bad input in plain text; these wrap them so that a
//! malformed body, a missing field or an undecodable path gets the same JSON error body as
//! everything else, with serde's precise message.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};

use super::error::ApiError;

/// A required JSON body.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A JSON body that may be absent: an empty body means `T::default()`.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

fn check_content_type(req: &Request) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        // curl users often omit it; a JSON body without the header is still accepted.
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default().to_ascii_lowercase();
    // The media type before any parameters (`; charset=utf-8`): JSON, or a `+json` type.
    let media = text.split(';').next().unwrap_or_default().trim();
    let json = media == "application/json"
        || media
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("request bodies must be JSON, not '{text}'"),
        )
        .remediation("Send the body with 'Content-Type: application/json'"))
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    check_content_type(&req)?;
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large or could not be read",
            )
            .remediation("Request bodies are small JSON objects; send at most 64 KiB"),
            other => ApiError::bad_request(other.body_text()),
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde reads a struct from an array too (`[4]` as `{"hours": 4}`, `[]` as all defaults);
    // every body of this API is an object, and anything else is refused, not guessed at.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::bad_request(
            "invalid JSON body: it must be a JSON object ({...}), not an array or a bare value",
        )
        .remediation("Send the fields as a JSON object, as the API reference shows"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("invalid JSON body: {e}"))
            .remediation("Fix the body: field names and types must match the API reference")
    })
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("this request needs a JSON body")
                .remediation("Send a JSON object with the fields the API reference lists"));
        }
        parse(&bytes).map(JsonBody)
    }
}

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse(&bytes).map(OptionalJsonBody)
    }
}

/// A path parameter, decoded.
#[derive(Debug)]
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|rejection| {
                ApiError::bad_request(format!("bad path: {}", rejection.body_text()))
            })
    }
}

/// The body of actions that take no parameters: empty, or an empty JSON object. Anything else
/// is refused, so that a parameter the action does not have is never silently ignored.
#[derive(Debug, Default)]
pub struct NoParameters {}

/// Query parameters, decoded into `T`. Give `T` `#[serde(deny_unknown_fields)]` so that a
/// misspelt parameter is refused instead of silently ignored.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection| {
                ApiError::bad_request(format!("bad query string: {}", rejection.body_text()))
                    .remediation("Use only the query parameters the API reference lists")
            })
    }
}

/// In the OpenAPI document: an object with no properties, since any is refused.
impl utoipa::PartialSchema for NoParameters {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .description(Some(
                "No parameters: an empty JSON object, or no body at all",
            ))
            .into()
    }
}

impl utoipa::ToSchema for NoParameters {}

impl<'de> serde::Deserialize<'de> for NoParameters {
    // By hand, because a derived struct also accepts `[]` and names itself in its errors.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Object(fields) if fields.is_empty() => Ok(NoParameters {}),
            serde_json::Value::Object(fields) => {
                let names: Vec<String> = fields.keys().map(|k| format!("'{k}'")).collect();
                Err(D::Error::custom(format!(
                    "this takes no parameters, but the request has {}",
                    names.join(", ")
                )))
            }
            other => Err(D::Error::custom(format!(
                "expected an empty JSON object, or no body, not {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `Content-Type: application/jsonx` was taken for JSON.
    #[test]
    fn only_json_media_types_are_json() {
        let with = |value: &str| {
            let request = axum::http::Request::builder()
                .header(header::CONTENT_TYPE, value)
                .body(axum::body::Body::empty())
                .expect("request");
            check_content_type(&request).is_ok()
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("Application/JSON"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("application/jsonx"));
        assert!(!with("text/json+html"));
        assert!(!with("text/plain"));
    }
    use crate::model::api::{ExtendRequest, LaunchRequest, TerminateRequest};

    /// Regression (found by scripts/fuzz): `POST .../extend` with the body `[]` answered 204
    /// and extended the workspace by the default 4 hours, since serde reads a struct from an
    /// array; `[8]` extended it by 8.
    #[test]
    fn an_array_body_is_not_taken_for_an_object() {
        for body in ["[]", "[8]", " [null] "] {
            let error = parse::<ExtendRequest>(body.as_bytes()).expect_err(body);
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(
                error.message.contains("must be a JSON object"),
                "{body}: {}",
                error.message
            );
        }
        let error = parse::<TerminateRequest>(b"[\"DELETE\"]").expect_err("array");
        assert!(
            error.message.contains("must be a JSON object"),
            "{}",
            error.message
        );
        assert_eq!(
            parse::<ExtendRequest>(b" {\"hours\": 8}")
                .expect("object")
                .hours,
            Some(8)
        );
    }

    fn message<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        parse::<T>(body.as_bytes()).expect_err(body).message
    }

    /// Regression: errors named Rust internals ("expected struct NoParameters") and serde's
    /// float spelling ("floating point `1e+20`") instead of what to send.
    #[test]
    fn body_errors_speak_of_json_not_rust() {
        let cases = [
            (message::<NoParameters>("[]"), "must be a JSON object"),
            (message::<NoParameters>("5"), "must be a JSON object"),
            (message::<ExtendRequest>("\"4\""), "must be a JSON object"),
            (message::<ExtendRequest>("[1,2]"), "must be a JSON object"),
            (
                message::<ExtendRequest>("{\"hours\": 1e20}"),
                "hours must be a whole number of hours, at most 8784, not 1e+20",
            ),
            (
                message::<ExtendRequest>("{\"hours\": 2.5}"),
                "hours must be a whole number of hours, at most 8784, not 2.5",
            ),
            (
                message::<ExtendRequest>("{\"hours\": \"four\"}"),
                "not \"four\"",
            ),
            (
                message::<NoParameters>("{\"force\": true}"),
                "takes no parameters, but the request has 'force'",
            ),
            (message::<TerminateRequest>("5"), "must be a JSON object"),
            (
                message::<LaunchRequest>(
                    "{\"name\": \"a\", \"template\": \"t\", \"ttl_hours\": 99999999999999999999}",
                ),
                "ttl_hours must be a whole number of hours from 1 to 8784, \
                 not 99999999999999999999",
            ),
            (
                message::<LaunchRequest>(
                    "{\"name\": \"a\", \"template\": \"t\", \
                     \"storage\": {\"ebs_volume_size\": 5e9}}",
                ),
                "ebs_volume_size must be a whole number of GB from 8 to 16384, not 5e+9",
            ),
        ];
        for (text, expected) in cases {
            assert!(text.contains(expected), "{text:?} lacks {expected:?}");
            for internal in ["struct", "NoParameters", "floating point", "i64", "u32"] {
                assert!(!text.contains(internal), "{text:?} names {internal:?}");
            }
        }
        let fine: ExtendRequest = parse(b"{\"hours\": 6}").expect("whole hours");
        assert_eq!(fine.hours, Some(6));
        // The document says integer, and JSON Schema counts 6.0 as one.
        let fine: ExtendRequest = parse(b"{\"hours\": 6.0}").expect("whole with a fraction");
        assert_eq!(fine.hours, Some(6));
        let fine: ExtendRequest = parse(b"{\"hours\": null}").expect("null means default");
        assert_eq!(fine.hours, None);
    }
}
