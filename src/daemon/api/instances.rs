//! `/api/v1/instances`: listing, launching and the lifecycle of workspaces.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;

use crate::daemon::error::{ApiError, ApiResult};
use crate::daemon::extract::{JsonBody, NoParameters, OptionalJsonBody, PathParam};
use crate::daemon::state::AppState;
use crate::daemon::{launcher, workspaces};
use crate::model::api::{
    ConnectInfo, ExtendRequest, HibernateResponse, HibernationStatus, LaunchRequest,
    ServiceConnect, SshInfo, StateChange, TerminateRequest, TerminateResponse,
};
use crate::model::ledger::time_in_state;
use crate::model::tags::ServicesSource;
use crate::model::template::{ServiceAuth, ServiceSpec};
use crate::model::workspace::{Action, WorkspaceState, human_duration};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/instances", get(list))
        .route("/instances/launch", post(launch))
        .route("/instances/{name}/stop", post(stop))
        .route("/instances/{name}/start", post(start))
        .route("/instances/{name}/hibernate", post(hibernate))
        .route("/instances/{name}/resume", post(resume))
        .route("/instances/{name}/terminate", post(terminate))
        .route("/instances/{name}/connect", get(connect))
        .route(
            "/instances/{name}/hibernation-status",
            get(hibernation_status),
        )
        .route("/instances/{name}/extend", post(extend))
}

/// The list from the store, with how old its data is in two headers, so that a client can
/// say "stale, 95 s old" without a second request: `X-Prism-Data-Age` (whole seconds since
/// the last successful refresh from EC2 began; absent before the first) and
/// `X-Prism-Data-Stale` (`true` or `false`, as `data_stale` in the daemon's status).
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

async fn launch(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<LaunchRequest>,
) -> ApiResult<impl IntoResponse> {
    let response = workspaces::launch(&state, request).await?;
    Ok((StatusCode::ACCEPTED, Json(response)))
}

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

async fn extend(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    OptionalJsonBody(request): OptionalJsonBody<ExtendRequest>,
) -> ApiResult<StatusCode> {
    workspaces::extend(&state, &name, request.hours).await?;
    Ok(StatusCode::NO_CONTENT)
}
