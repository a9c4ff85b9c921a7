//! The one error type of the API, and its JSON body.
//!
//! Every failure a handler can meet becomes an [`ApiError`] with a status, a stable code, a
//! message, and a remediation. Server-side faults are logged once here with their cause; their
//! response never carries internals.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crate::aws::{AwsError, AwsErrorKind};
use crate::daemon::store::StoreError;
use crate::model::api::{ErrorBody, ErrorDetail};
use crate::model::template::TemplateReport;

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: String,
    pub remediation: String,
    /// Seconds a client should wait before retrying, for throttling and unavailability.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: String::new(),
            remediation: String::new(),
            retry_after: None,
        }
    }

    pub fn details(mut self, details: impl Into<String>) -> ApiError {
        self.details = details.into();
        self
    }

    pub fn remediation(mut self, remediation: impl Into<String>) -> ApiError {
        self.remediation = remediation.into();
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
            .remediation("Correct the value the message names and try again")
    }

    pub fn workspace_not_found(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "INSTANCE_NOT_FOUND",
            format!("Workspace '{key}' not found"),
        )
        .details("No live workspace has that name, and no workspace has that instance id")
        .remediation("Use 'prism workspace list' to see available workspaces")
    }

    /// The same error with another status, for a caller where it means something else (a
    /// template named in a request body is bad input, not a missing resource).
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    pub fn template_not_found(key: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "TEMPLATE_NOT_FOUND",
            format!("Template '{key}' not found"),
        )
        .remediation("Use 'prism templates list' to see available templates (names or slugs)")
    }

    /// A template that exists but failed validation: 422 wherever it is asked for, with the
    /// validation's findings.
    pub fn template_invalid(key: &str, report: &TemplateReport) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "TEMPLATE_INVALID",
            format!("Template '{key}' failed validation"),
        )
        .details(report.issues.join("; "))
        .remediation(format!(
            "Fix {}, then check it with 'prism templates validate'",
            report.file
        ))
    }

    /// A failure inside the daemon. The cause is logged; the response says only that it
    /// happened and where to look.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            format!("{context} failed"),
        )
        .remediation("This is a fault in the Prism daemon; its log file has the cause")
    }

    /// Translates an AWS failure.
    pub fn from_aws(error: &AwsError) -> ApiError {
        let text = error.to_string();
        match error.kind {
            AwsErrorKind::PermissionDenied => ApiError::new(
                StatusCode::FORBIDDEN,
                "AWS_PERMISSION_DENIED",
                "AWS refused the request",
            )
            .details(text)
            .remediation(
                "Check the AWS credentials the daemon uses (AWS_PROFILE, ~/.aws) and that \
                         their policy allows the actions listed in the README's AWS setup",
            ),
            AwsErrorKind::Throttled => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "AWS_THROTTLED",
                    "AWS is throttling requests",
                )
                .details(text)
                .remediation("Wait a few seconds and try again");
                e.retry_after = Some(5);
                e
            }
            AwsErrorKind::Unreachable => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "AWS_UNREACHABLE",
                    "AWS could not be reached",
                )
                .details(text)
                .remediation("Check the network and AWS_ENDPOINT_URL; the daemon keeps retrying");
                e.retry_after = Some(10);
                e
            }
            AwsErrorKind::Capacity => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "INSUFFICIENT_CAPACITY",
                "AWS has no capacity or the account limit is reached",
            )
            .details(text)
            .remediation(
                "Try another size, instance type or region, or ask AWS for a higher limit",
            ),
            AwsErrorKind::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "AWS_RESOURCE_NOT_FOUND",
                "AWS does not know a resource",
            )
            .details(text)
            .remediation("Run 'prism workspace list' to refresh; the resource may be gone"),
            AwsErrorKind::InvalidRequest => ApiError::new(
                StatusCode::BAD_REQUEST,
                "AWS_REQUEST_INVALID",
                "AWS refused the request as invalid",
            )
            .details(text)
            .remediation("Check the values sent (instance type, region, template image)"),
            AwsErrorKind::Other => {
                tracing::error!(error = %text, "AWS call failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "AWS_ERROR",
                    "AWS answered with an error",
                )
                .details(text)
                .remediation("Try again; if it persists, the daemon's log has the details")
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::NameTaken(name) => ApiError::new(
                StatusCode::CONFLICT,
                "WORKSPACE_EXISTS",
                format!("A workspace named '{name}' already exists"),
            )
            .remediation("Choose another name, or terminate the existing workspace first"),
            other => ApiError::internal("the database operation", &other),
        }
    }
}

impl From<AwsError> for ApiError {
    fn from(error: AwsError) -> ApiError {
        ApiError::from_aws(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                details: self.details,
                remediation: self.remediation,
                timestamp: Utc::now(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;
