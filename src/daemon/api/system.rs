//! `/api/v1/daemon`: health and shutdown.

use std::time::Duration;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;

use crate::daemon::error::ApiResult;
use crate::daemon::extract::{NoParameters, OptionalJsonBody};
use crate::daemon::state::AppState;
use crate::model::api::{DaemonStatus, RotateTokenResponse, ShutdownResponse};
use crate::model::workspace::{WorkspaceState, human_duration};

/// Seconds shutdown waits for background work before giving up on it.
pub const SHUTDOWN_TIMEOUT_SECS: u32 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/daemon/status", get(status))
        .route("/daemon/shutdown", post(shutdown))
        .route("/daemon/rotate-token", post(rotate_token))
        .route("/health", get(health))
}

/// The one route open on TCP without the token: it says the daemon answers, and nothing else.
async fn health() -> axum::http::StatusCode {
    axum::http::StatusCode::NO_CONTENT
}

/// Replaces the token with a new one: written to the token file first, then used. Only a
/// caller that reached this route can rotate: over the socket (this user) or over TCP with the
/// current token.
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

/// Answers at once whatever AWS does: connectivity is the last check's result (a stale one
/// is checked again in the background) together with what the last refresh cycle found.
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
