//! `/api/v1/daemon` and `/api/v1/health`: status, shutdown, token rotation, and the open
//! health check.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{INTERNAL_ERROR, NO_PARAMETERS, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE};
use crate::daemon::error::ApiResult;
use crate::daemon::extract::{NoParameters, OptionalJsonBody};
use crate::daemon::state::AppState;
use crate::model::api::{DaemonStatus, ErrorBody, RotateTokenResponse, ShutdownResponse};
use crate::model::workspace::{WorkspaceState, human_duration};

/// Seconds shutdown waits for background work before giving up on it.
pub const SHUTDOWN_TIMEOUT_SECS: u32 = 30;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(shutdown))
        .routes(routes!(rotate_token))
        .routes(routes!(health))
}

/// Whether the daemon answers
///
/// The one operation open over TCP without the token: it answers 204 with no body, and says
/// nothing about the daemon or its workspaces.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "health",
    tag = "daemon",
    security(()),
    responses(
        (status = 204, description = "The daemon answers"),
    ),
)]
async fn health() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

/// Replace the TCP token
///
/// Writes a new token to the token file (0600) and uses it from then on: the old one stops
/// working at once. Only a caller that reached this operation can rotate: over the socket
/// (this user) or over TCP with the current token. The answer names the file, never the token.
#[utoipa::path(
    post,
    path = "/api/v1/daemon/rotate-token",
    operation_id = "rotate_token",
    tag = "daemon",
    request_body(content = Option<NoParameters>, description = NO_PARAMETERS),
    responses(
        (status = 200, description = "The token was replaced", body = RotateTokenResponse),
        (status = 400, body = ErrorBody,
            description = "`INVALID_REQUEST`: a body other than none or `{}`."),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
    ),
)]
async fn rotate_token(
    State(state): State<AppState>,
    OptionalJsonBody(NoParameters {}): OptionalJsonBody<NoParameters>,
) -> ApiResult<Json<RotateTokenResponse>> {
    let path = state.dirs.token_file();
    let token = crate::token::Token::generate();
    crate::token::write(&path, &token)
        .map_err(|e| crate::daemon::error::ApiError::internal("writing the new token", &e))?;
    state.set_token(token);
    tracing::info!(file = %path.display(), "token rotated");
    Ok(Json(RotateTokenResponse {
        message: "Token rotated; clients read the new one from the token file".into(),
        token_file: path.display().to_string(),
    }))
}

/// The daemon's health
///
/// Its version, uptime, whether AWS answers (checked at most every 30 seconds), how the last
/// refresh from EC2 went, and how many workspaces it runs. `degraded` means AWS cannot be
/// reached or the last refresh failed; the answer is still 200.
#[utoipa::path(
    get,
    path = "/api/v1/daemon/status",
    operation_id = "daemon_status",
    tag = "daemon",
    responses(
        (status = 200, description = "The daemon's status", body = DaemonStatus),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
    ),
)]
async fn status(State(state): State<AppState>) -> ApiResult<Json<DaemonStatus>> {
    let now = Utc::now();
    let uptime = (now - state.started_at).num_seconds();
    let live = state.store.live().await?;
    let refresh = state.refresh.status();
    let aws = match state.aws_health.current(&state.cloud) {
        Some(result) => result,
        None => Err("not checked yet".to_string()),
    };
    // STS may answer while EC2 does not (or the other way round); either silence counts.
    let aws = match (aws, &refresh.last_error) {
        (Ok(_), Some(failure)) if failure.unreachable => Err(failure.message.clone()),
        (aws, _) => aws,
    };
    let healthy = aws.is_ok() && refresh.last_error.is_none();
    let reach = state.reach();
    let poll_interval = Duration::from_secs(state.config.poll_interval_secs);
    Ok(Json(DaemonStatus {
        status: if healthy { "healthy" } else { "degraded" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime: human_duration(uptime, true),
        uptime_seconds: uptime,
        api_version: "v1".into(),
        aws_connectivity: if aws.is_ok() {
            "connected"
        } else {
            "disconnected"
        }
        .into(),
        aws_account: aws.as_ref().ok().cloned(),
        aws_error: aws.err(),
        active_profiles: 1,
        total_instances: u32::try_from(live.len()).unwrap_or(u32::MAX),
        active_instances: u32::try_from(
            live.iter()
                .filter(|r| r.state() == WorkspaceState::Running)
                .count(),
        )
        .unwrap_or(u32::MAX),
        region: state.cloud.default_region().into(),
        owner: state.owner.clone(),
        started_at: state.started_at,
        last_refresh: refresh.last_success,
        data_age_seconds: refresh.data_age(now),
        data_stale: refresh.is_stale(now, poll_interval),
        refresh_error: refresh.last_error.map(|failure| failure.message),
        socket: reach.socket.map(|p| p.display().to_string()),
        tcp_address: reach.tcp.map(|a| a.to_string()),
        tcp_note: reach.tcp_note,
    }))
}

/// Shut the daemon down
///
/// Answers first, then stops serving; background work gets up to `shutdown_timeout` seconds
/// to finish, and what is left resumes on the next start. `pid` lets a client wait for the
/// process to end.
#[utoipa::path(
    post,
    path = "/api/v1/daemon/shutdown",
    operation_id = "shutdown_daemon",
    tag = "daemon",
    request_body(content = Option<NoParameters>, description = NO_PARAMETERS),
    responses(
        (status = 200, description = "The daemon is shutting down", body = ShutdownResponse),
        (status = 400, body = ErrorBody,
            description = "`INVALID_REQUEST`: a body other than none or `{}`."),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
    ),
)]
async fn shutdown(
    State(state): State<AppState>,
    OptionalJsonBody(NoParameters {}): OptionalJsonBody<NoParameters>,
) -> Json<ShutdownResponse> {
    tracing::info!("shutdown requested through the API");
    let active = u32::try_from(state.tasks.len()).unwrap_or(u32::MAX);
    state.shutdown.cancel();
    Json(ShutdownResponse {
        message: "Daemon shutting down gracefully".into(),
        active_operations: active,
        shutdown_timeout: SHUTDOWN_TIMEOUT_SECS,
        pid: Some(std::process::id()),
    })
}
