//! AWS failures, translated once at this boundary.
//!
//! The SDK reports errors per operation with AWS's own codes (`InvalidInstanceID.NotFound`,
//! `RequestLimitExceeded`, `UnauthorizedOperation` …) or as transport failures. Everything above
//! this layer sees one [`AwsError`] with a [`AwsErrorKind`] it can branch on.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

/// What kind of trouble, for callers that decide what to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsErrorKind {
    NotFound,
    PermissionDenied,
    Throttled,
    InvalidRequest,
    /// Not enough capacity or a limit on the account.
    Capacity,
    /// No answer: connection refused, DNS, TLS, or a timeout.
    Unreachable,
    Other,
}

/// A failed AWS call.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    /// AWS's error code, when AWS answered.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(operation: &'static str, kind: AwsErrorKind, message: impl Into<String>) -> Self {
        AwsError {
            operation,
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Translates an SDK error.
    pub fn from_sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: Debug,
    {
        match &error {
            SdkError::TimeoutError(_) => AwsError::new(
                operation,
                AwsErrorKind::Unreachable,
                "AWS did not answer in time",
            ),
            SdkError::DispatchFailure(failure) => {
                let detail = failure
                    .as_connector_error()
                    .map(|e| full_message(e))
                    .unwrap_or_else(|| "the request could not be sent".to_string());
                AwsError::new(
                    operation,
                    AwsErrorKind::Unreachable,
                    format!("cannot reach AWS: {detail}"),
                )
            }
            SdkError::ConstructionFailure(_) => AwsError::new(
                operation,
                AwsErrorKind::InvalidRequest,
                full_message(&error),
            ),
            _ => {
                let code = error.code().map(str::to_string);
                let message = error
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| full_message(&error));
                let kind = match code.as_deref() {
                    Some(code) => kind_of_code(code),
                    // A response AWS did not shape (moto's HTML 500s, a proxy page).
                    None => AwsErrorKind::Other,
                };
                let message = match &code {
                    Some(code) => format!("{code}: {message}"),
                    None => message,
                };
                AwsError {
                    operation,
                    kind,
                    code,
                    message,
                }
            }
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == AwsErrorKind::NotFound
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// The error and all its sources on one line.
fn full_message(error: &dyn StdError) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = inner.source();
    }
    parts.join(": ")
}

/// Sorts AWS's error codes into kinds.
pub fn kind_of_code(code: &str) -> AwsErrorKind {
    match code {
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "SlowDown" => AwsErrorKind::Throttled,
        "UnauthorizedOperation"
        | "AuthFailure"
        | "AccessDenied"
        | "AccessDeniedException"
        | "OptInRequired"
        | "Blocked"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch" => AwsErrorKind::PermissionDenied,
        "InsufficientInstanceCapacity"
        | "InstanceLimitExceeded"
        | "VcpuLimitExceeded"
        | "MaxSpotInstanceCountExceeded"
        | "SpotMaxPriceTooLow"
        | "InsufficientCapacity" => AwsErrorKind::Capacity,
        "ParameterNotFound" | "FileSystemNotFound" => AwsErrorKind::NotFound,
        c if c.ends_with(".NotFound") || c.ends_with("NotFound") => AwsErrorKind::NotFound,
        c if c.starts_with("Invalid")
            || c.starts_with("Unsupported")
            || c == "MissingParameter" =>
        {
            AwsErrorKind::InvalidRequest
        }
        _ => AwsErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_sort_into_kinds() {
        assert_eq!(
            kind_of_code("InvalidInstanceID.NotFound"),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            kind_of_code("RequestLimitExceeded"),
            AwsErrorKind::Throttled
        );
        assert_eq!(
            kind_of_code("UnauthorizedOperation"),
            AwsErrorKind::PermissionDenied
        );
        assert_eq!(
            kind_of_code("InvalidParameterValue"),
            AwsErrorKind::InvalidRequest
        );
        assert_eq!(
            kind_of_code("InsufficientInstanceCapacity"),
            AwsErrorKind::Capacity
        );
        assert_eq!(kind_of_code("InternalError"), AwsErrorKind::Other);
    }
}
