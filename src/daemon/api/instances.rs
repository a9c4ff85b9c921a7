//! `/api/v1/instances`: listing, launching and the lifecycle of workspaces.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{
    AWS_FAILED, AWS_PERMISSION_DENIED, AWS_RESOURCE_NOT_FOUND, AWS_UNAVAILABLE, INTERNAL_ERROR,
    NO_PARAMETERS, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE,
};
use crate::daemon::error::{ApiError, ApiResult};
use crate::daemon::extract::{JsonBody, NoParameters, OptionalJsonBody, PathParam};
use crate::daemon::state::AppState;
use crate::daemon::{launcher, workspaces};
use crate::model::api::{
    ConnectInfo, ErrorBody, ExtendRequest, HibernateResponse, HibernationStatus, LaunchRequest,
    LaunchResponse, ServiceConnect, SshInfo, StateChange, TerminateRequest, TerminateResponse,
    Workspace,
};
use crate::model::ledger::time_in_state;
use crate::model::tags::ServicesSource;
use crate::model::template::{ServiceAuth, ServiceSpec};
use crate::model::workspace::{Action, WorkspaceState, human_duration};

/// What the `{name}` in these paths may be.
const WORKSPACE_KEY: &str = "The workspace's name, or its EC2 instance id";

const WORKSPACE_NOT_FOUND: &str = "`INSTANCE_NOT_FOUND` (no workspace has that name or instance \
     id) or `AWS_RESOURCE_NOT_FOUND` (EC2 no longer knows its instance).";

const INVALID_STATE: &str = "`INVALID_STATE`: the workspace's state does not allow this (for \
     example, it is already stopped).";

const NO_PARAMETERS_REFUSED: &str = "`INVALID_REQUEST` (a body other than none or `{}`, or a \
     name in the path that cannot be decoded) or `AWS_REQUEST_INVALID`.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(launch))
        .routes(routes!(stop))
        .routes(routes!(start))
        .routes(routes!(hibernate))
        .routes(routes!(resume))
        .routes(routes!(terminate))
        .routes(routes!(connect))
        .routes(routes!(hibernation_status))
        .routes(routes!(extend))
}

/// List the workspaces
///
/// Every live workspace, and those that ended in the last hour, from the daemon's cache (a
/// background loop refreshes it from EC2 every poll interval, so listing never calls AWS).
/// Two headers say how old its data is, so that a client can say "stale, 95 s old" without a
/// second request.
#[utoipa::path(
    get,
    path = "/api/v1/instances",
    operation_id = "list_workspaces",
    tag = "workspaces",
    responses(
        (status = 200, description = "The workspaces", body = [Workspace], headers(
            ("x-prism-data-age" = i64, description = "Whole seconds since the last successful \
                refresh from EC2 began; absent before the first"),
            ("x-prism-data-stale" = String, description = "`true` when the list may be out of \
                date (as `data_stale` in the daemon's status), else `false`"),
        )),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
    ),
)]
async fn list(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let workspaces = workspaces::list(&state).await?;
    let now = Utc::now();
    let refresh = state.refresh.status();
    let poll_interval = std::time::Duration::from_secs(state.config.poll_interval_secs);
    let stale = if refresh.is_stale(now, poll_interval) {
        "true"
    } else {
        "false"
    };
    let mut headers = HeaderMap::new();
    headers.insert(DATA_STALE, HeaderValue::from_static(stale));
    if let Some(age) = refresh.data_age(now) {
        headers.insert(DATA_AGE, HeaderValue::from(age));
    }
    Ok((headers, Json(workspaces)))
}

const DATA_AGE: HeaderName = HeaderName::from_static("x-prism-data-age");
const DATA_STALE: HeaderName = HeaderName::from_static("x-prism-data-stale");

/// Launch a workspace
///
/// Checks the request, records the launch and answers at once with state `launching`; the
/// launch finishes in the background, and the list shows its `launch_progress`.
#[utoipa::path(
    post,
    path = "/api/v1/instances/launch",
    operation_id = "launch_workspace",
    tag = "workspaces",
    request_body = LaunchRequest,
    responses(
        (status = 202, description = "The launch was accepted and goes on in the background",
            body = LaunchResponse),
        (status = 400, body = ErrorBody, description = "`INVALID_REQUEST` (a malformed body, an \
            unknown field, a bad value, or both `size` and `instance_type`), `INVALID_NAME`, \
            `TEMPLATE_NOT_FOUND` (the body names no template), `INVALID_SIZE`, \
            `INVALID_INSTANCE_TYPE`, `INVALID_REGION`, or `AWS_REQUEST_INVALID`."),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = AWS_RESOURCE_NOT_FOUND, body = ErrorBody),
        (status = 409, body = ErrorBody,
            description = "`WORKSPACE_EXISTS`: a live workspace already has that name."),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`TEMPLATE_INVALID`: the template \
            failed validation; `details` has the findings."),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn launch(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<LaunchRequest>,
) -> ApiResult<impl IntoResponse> {
    let response = workspaces::launch(&state, request).await?;
    Ok((StatusCode::ACCEPTED, Json(response)))
}

/// Stop a workspace
///
/// Stops the instance; its volumes and data are kept, and it pays for storage only.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{name}/stop",
    operation_id = "stop_workspace",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    request_body(content = Option<NoParameters>, description = NO_PARAMETERS),
    responses(
        (status = 200, description = "The request was sent to EC2", body = StateChange),
        (status = 400, description = NO_PARAMETERS_REFUSED, body = ErrorBody),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = WORKSPACE_NOT_FOUND, body = ErrorBody),
        (status = 409, description = INVALID_STATE, body = ErrorBody),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn stop(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    OptionalJsonBody(NoParameters {}): OptionalJsonBody<NoParameters>,
) -> ApiResult<Json<StateChange>> {
    let (row, new_state) = workspaces::change_state(&state, &name, Action::Stop).await?;
    Ok(Json(StateChange {
        previous_state: row.state(),
        name: row.name,
        new_state,
        message: "Workspace stopping - all data preserved".into(),
        estimated_ready_time: None,
    }))
}

/// Start a workspace
///
/// Starts a stopped workspace. A hibernated one is resumed instead (its memory is restored),
/// and the answer says `resuming`.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{name}/start",
    operation_id = "start_workspace",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    request_body(content = Option<NoParameters>, description = NO_PARAMETERS),
    responses(
        (status = 200, description = "The request was sent to EC2", body = StateChange),
        (status = 400, description = NO_PARAMETERS_REFUSED, body = ErrorBody),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = WORKSPACE_NOT_FOUND, body = ErrorBody),
        (status = 409, description = INVALID_STATE, body = ErrorBody),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn start(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    OptionalJsonBody(NoParameters {}): OptionalJsonBody<NoParameters>,
) -> ApiResult<Json<StateChange>> {
    let (row, new_state) = workspaces::change_state(&state, &name, Action::Start).await?;
    let message = if new_state == WorkspaceState::Resuming {
        "Resuming from hibernation - RAM state preserved"
    } else {
        "Workspace starting"
    };
    Ok(Json(StateChange {
        previous_state: row.state(),
        name: row.name,
        new_state,
        message: message.into(),
        estimated_ready_time: Some(workspaces::ready_estimate(Utc::now())),
    }))
}

/// Resume a hibernated workspace
///
/// Starts the instance and restores the memory it saved when it hibernated.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{name}/resume",
    operation_id = "resume_workspace",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    request_body(content = Option<NoParameters>, description = NO_PARAMETERS),
    responses(
        (status = 200, description = "The request was sent to EC2", body = StateChange),
        (status = 400, description = NO_PARAMETERS_REFUSED, body = ErrorBody),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = WORKSPACE_NOT_FOUND, body = ErrorBody),
        (status = 409, description = INVALID_STATE, body = ErrorBody),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn resume(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    OptionalJsonBody(NoParameters {}): OptionalJsonBody<NoParameters>,
) -> ApiResult<Json<StateChange>> {
    let (row, new_state) = workspaces::change_state(&state, &name, Action::Resume).await?;
    Ok(Json(StateChange {
        previous_state: row.state(),
        name: row.name,
        new_state,
        message: "Resuming from hibernation - RAM state preserved".into(),
        estimated_ready_time: Some(workspaces::ready_estimate(Utc::now())),
    }))
}

/// Hibernate a workspace
///
/// Saves the instance's memory to its root volume and stops it; resuming restores it. Only
/// workspaces launched with hibernation configured can hibernate.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{name}/hibernate",
    operation_id = "hibernate_workspace",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    request_body(content = Option<NoParameters>, description = NO_PARAMETERS),
    responses(
        (status = 200, description = "The request was sent to EC2", body = HibernateResponse),
        (status = 400, description = NO_PARAMETERS_REFUSED, body = ErrorBody),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = WORKSPACE_NOT_FOUND, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`INVALID_STATE` (the workspace's state \
            does not allow this) or `HIBERNATION_NOT_SUPPORTED` (it was launched without \
            hibernation; the message says why, and nothing changes)."),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn hibernate(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    OptionalJsonBody(NoParameters {}): OptionalJsonBody<NoParameters>,
) -> ApiResult<Json<HibernateResponse>> {
    let (row, new_state) = workspaces::change_state(&state, &name, Action::Hibernate).await?;
    let (rate, _) = workspaces::rate(&row);
    Ok(Json(HibernateResponse {
        name: row.name.clone(),
        previous_state: row.state(),
        new_state,
        hibernation_supported: true,
        estimated_savings: workspaces::per_hour_text(rate),
        hourly_savings: rate,
    }))
}

/// Terminate a workspace
///
/// Destroys the instance and its volumes; the body must confirm it. With `backup_ebs` the
/// volumes are snapshotted first (the snapshots complete after the instance is gone).
#[utoipa::path(
    post,
    path = "/api/v1/instances/{name}/terminate",
    operation_id = "terminate_workspace",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    request_body(content = TerminateRequest, description = "Must hold `\"confirm\": \"DELETE\"`"),
    responses(
        (status = 200, description = "Termination was requested", body = TerminateResponse),
        (status = 400, body = ErrorBody, description = "`CONFIRMATION_REQUIRED` (the body does \
            not confirm with `DELETE`), `INVALID_REQUEST` (a malformed body or an unknown \
            field), or `AWS_REQUEST_INVALID`."),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = WORKSPACE_NOT_FOUND, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`INVALID_STATE`: the workspace is \
            already terminating or gone, or its launch is between Prism and EC2."),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn terminate(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    OptionalJsonBody(request): OptionalJsonBody<TerminateRequest>,
) -> ApiResult<Json<TerminateResponse>> {
    if request.confirm.as_deref() != Some("DELETE") {
        // Look the workspace up first so an unknown name still answers 404.
        workspaces::find(&state, &name).await?;
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "CONFIRMATION_REQUIRED",
            "Terminating destroys the workspace and its data; the request must confirm it",
        )
        .remediation("Send {\"confirm\":\"DELETE\"} (optionally with \"backup_ebs\": true)"));
    }
    let (row, snapshots) =
        workspaces::terminate(&state, &name, request.backup_ebs.unwrap_or(false)).await?;
    let message = if snapshots.is_empty() {
        "Workspace terminating - all data will be permanently lost".to_string()
    } else {
        format!(
            "Workspace terminating - volumes backed up to {}",
            snapshots.join(", ")
        )
    };
    let state_now = if row.instance_id.is_some() {
        WorkspaceState::Terminating
    } else {
        WorkspaceState::Terminated
    };
    Ok(Json(TerminateResponse {
        name: row.name,
        state: state_now,
        message,
        snapshots,
    }))
}

/// How to connect to a workspace
///
/// The SSH command and, per service (Jupyter, RStudio …), its URL, the SSH tunnel that reaches
/// it, and its token or password. The address is asked of EC2 now, since it changes on every
/// start.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{name}/connect",
    operation_id = "connect_workspace",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    responses(
        (status = 200, description = "How to reach the workspace", body = ConnectInfo),
        (status = 400, body = ErrorBody, description = "`INVALID_REQUEST` (the name in the \
            path cannot be decoded) or `AWS_REQUEST_INVALID`."),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = WORKSPACE_NOT_FOUND, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`INVALID_STATE` (the workspace is not \
            running) or `NO_ADDRESS` (it has no IP address yet)."),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn connect(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> ApiResult<Json<ConnectInfo>> {
    let row = workspaces::find(&state, &name).await?;
    if row.state() != WorkspaceState::Running {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "INVALID_STATE",
            format!(
                "Workspace '{}' is {}, so there is nothing to connect to",
                row.name,
                row.state()
            ),
        )
        .remediation(workspaces::state_hint("connect to", row.state(), &row.name)));
    }
    // Ask EC2 for the address now: after a stop and start it changes.
    let instance_id = row.instance_id.clone().unwrap_or_default();
    let observed = state
        .cloud
        .describe_one(&row.region, &instance_id)
        .await
        .map_err(|e| ApiError::from_aws(&e))?
        .ok_or_else(|| ApiError::workspace_not_found(&name))?;
    let host = observed
        .public_ip
        .clone()
        .or(observed.private_ip.clone())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "NO_ADDRESS",
                format!("Workspace '{}' has no IP address yet", row.name),
            )
            .remediation("Wait a few seconds and try again")
        })?;
    // How to log in was fixed at launch; the template may have changed or gone since. Only
    // workspaces rebuilt from tags without a login-user tag fall back to the current template.
    let catalog = state.templates.current();
    let template = catalog.find(&row.template);
    let user = row
        .ssh_user
        .clone()
        .or_else(|| observed.tags.get("prism:ssh-user").cloned())
        .or_else(|| template.and_then(|t| t.base.ssh_user.clone()))
        .unwrap_or_else(|| "ec2-user".to_string());
    let recorded = row.services();
    let mut notes = Vec::new();
    match row.services_source() {
        ServicesSource::Launch | ServicesSource::Tags => {}
        ServicesSource::Template => notes.push(format!(
            "This workspace was rebuilt from its EC2 tags, which did not list its services; \
             they are taken from template '{}' as it was then, and may differ from what it \
             was launched with",
            row.template
        )),
        ServicesSource::Unknown => notes.push(format!(
            "This workspace was rebuilt from its EC2 tags, which did not list its services, \
             and template '{}' was not available: its services are unknown, only SSH is shown",
            row.template
        )),
    }
    let key_path = row.key_path.clone().or_else(|| {
        let key_name = observed.key_name.as_deref()?;
        launcher::known_key_path(&state, key_name, &row.region).map(|p| p.display().to_string())
    });
    let key_arg = key_path
        .as_ref()
        .map(|p| format!(" -i {}", shlex_quote(p)))
        .unwrap_or_default();
    let target = format!("{user}@{host}");
    let direct = state.config.service_cidr.is_some();
    let mut services = BTreeMap::new();
    for service in &recorded {
        let Some(port) = service.port else { continue };
        let url_host = if direct { host.as_str() } else { "localhost" };
        let service_user = service.user.clone().unwrap_or_else(|| user.clone());
        let secret = row.service_secret_known.then(|| row.service_secret.clone());
        let secret_unknown = secret.is_none() && service.auth != ServiceAuth::None;
        let note = secret_unknown.then(|| secret_note(service, &service_user, &key_arg, &target));
        let (token, username, password) = match service.auth {
            ServiceAuth::Token => (secret, None, None),
            ServiceAuth::Password => (None, Some(service_user), secret),
            ServiceAuth::None => (None, None, None),
        };
        services.insert(
            service.name.clone(),
            ServiceConnect {
                url: format!("http://{url_host}:{port}"),
                local_forward: format!("ssh -N -L {port}:localhost:{port}{key_arg} {target}"),
                token,
                username,
                password,
                secret_unknown,
                note,
            },
        );
    }
    Ok(Json(ConnectInfo {
        ssh: SshInfo {
            command: format!("ssh{key_arg} {target}"),
            host,
            user,
            port: 22,
            key_path,
        },
        services,
        notes,
    }))
}

/// Why a rebuilt workspace's token or password is not shown, and where the real one is.
fn secret_note(service: &ServiceSpec, user: &str, key_arg: &str, target: &str) -> String {
    let why = "this workspace was rebuilt from its EC2 tags after Prism's database was lost, \
               and its secret was set when it first booted; tags never hold secrets";
    match (
        service.name.as_str(),
        service.command.is_none(),
        service.auth,
    ) {
        ("jupyter", true, _) => format!(
            "The Jupyter token is not shown: {why}. Read it on the workspace: \
             ssh{key_arg} {target} sudo cat /etc/prism/jupyter.env"
        ),
        (_, _, ServiceAuth::Password) => format!(
            "The password is not shown: {why}. Set a new one on the workspace: \
             ssh -t{key_arg} {target} sudo passwd {user}"
        ),
        _ => format!("The token is not shown: {why}."),
    }
}

fn shlex_quote(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| text.to_string())
}

/// Whether a workspace can hibernate, and its current hibernation
///
/// Whether the workspace was launched with hibernation configured (and why not), and, while
/// it is hibernated, since when and the compute it has not paid for since.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{name}/hibernation-status",
    operation_id = "hibernation_status",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    responses(
        (status = 200, description = "The hibernation status", body = HibernationStatus),
        (status = 400, body = ErrorBody,
            description = "`INVALID_REQUEST`: the name in the path cannot be decoded."),
        (status = 404, body = ErrorBody,
            description = "`INSTANCE_NOT_FOUND`: no workspace has that name or instance id."),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
    ),
)]
async fn hibernation_status(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> ApiResult<Json<HibernationStatus>> {
    let row = workspaces::find(&state, &name).await?;
    let transitions = state
        .store
        .transitions(&[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    let now = Utc::now();
    let (rate, _) = workspaces::rate(&row);
    let hibernated = row.state() == WorkspaceState::Hibernated;
    let (since, seconds) = if hibernated {
        let since = time_in_state(&transitions, WorkspaceState::Hibernated, now)
            .1
            .unwrap_or(row.state_since);
        (Some(since), (now - since).num_seconds().max(0))
    } else {
        (None, 0)
    };
    let savings = rate.map_or(crate::model::money::Money::ZERO, |r| {
        r.mul_div(i128::from(seconds), 3600)
    });
    let reason = (!row.hibernation_configured).then(|| {
        format!(
            "this workspace was launched without hibernation (template '{}', type {})",
            row.template, row.instance_type
        )
    });
    Ok(Json(HibernationStatus {
        hibernation_supported: row.hibernation_configured,
        current_state: row.state(),
        hibernation_time: since,
        estimated_savings: savings,
        hibernation_duration: since.map(|_| human_duration(seconds, false)),
        reason,
    }))
}

/// Extend a workspace's time-to-live
///
/// Adds hours to the deadline in the `prism:ttl` tag, or to now when there is none or it has
/// passed. A missing, zero or negative `hours` means 4; one extension is at most 8,784 hours.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{name}/extend",
    operation_id = "extend_workspace",
    tag = "workspaces",
    params(("name" = String, Path, description = WORKSPACE_KEY)),
    request_body(content = Option<ExtendRequest>, description = "No body means 4 hours"),
    responses(
        (status = 204, description = "The deadline was moved"),
        (status = 400, body = ErrorBody, description = "`INVALID_REQUEST` (a malformed body, \
            an unknown field, hours that are not whole, or too many of them) or \
            `AWS_REQUEST_INVALID`."),
        (status = 403, description = AWS_PERMISSION_DENIED, body = ErrorBody),
        (status = 404, description = WORKSPACE_NOT_FOUND, body = ErrorBody),
        (status = 409, body = ErrorBody,
            description = "`INVALID_STATE`: the workspace is terminating or has ended."),
        (status = 413, description = PAYLOAD_TOO_LARGE, body = ErrorBody),
        (status = 415, description = UNSUPPORTED_MEDIA_TYPE, body = ErrorBody),
        (status = 500, description = INTERNAL_ERROR, body = ErrorBody),
        (status = 502, description = AWS_FAILED, body = ErrorBody),
        (status = 503, description = AWS_UNAVAILABLE, body = ErrorBody),
    ),
)]
async fn extend(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    OptionalJsonBody(request): OptionalJsonBody<ExtendRequest>,
) -> ApiResult<StatusCode> {
    workspaces::extend(&state, &name, request.hours).await?;
    Ok(StatusCode::NO_CONTENT)
}
