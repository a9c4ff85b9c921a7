//! Workspace operations behind the API: validating launches, lifecycle actions, and turning
//! store rows into the API's view with rates and spend.

use std::collections::HashMap;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, SubsecRound as _, Utc};

use super::error::{ApiError, ApiResult};
use super::state::AppState;
use super::store::{NewWorkspace, WorkspaceRow};
use super::{catalog, launcher};
use crate::aws::{AwsErrorKind, pick_arch};
use crate::model::api::{self, LaunchRequest, LaunchResponse};
use crate::model::costs;
use crate::model::ledger::{self, BilledVolume, Transition};
use crate::model::money::Money;
use crate::model::pricing::{self, ROOT_VOLUME_TYPES};
use crate::model::size::{Size, looks_like_instance_type};
use crate::model::workspace::{
    Action, MAX_EXTEND_HOURS, NameError, WorkspaceState, check_transition, validate_name,
};

/// How long an ended workspace stays in the list.
const ENDED_VISIBLE_FOR: Duration = Duration::hours(1);

/// Typical time from RunInstances or StartInstances to a usable machine.
const TYPICAL_BOOT: Duration = Duration::minutes(3);

/// Largest hibernation-capable memory, in GiB (EC2's limit for hibernation).
const HIBERNATION_MAX_MEMORY_GIB: i64 = 150;

fn tag_value_ok(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c))
}

fn region_shape_ok(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    (3..=4).contains(&parts.len())
        && region.len() <= 32
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Validates a launch request, records it, and starts the background launch.
pub async fn launch(state: &AppState, request: LaunchRequest) -> ApiResult<LaunchResponse> {
    validate_name(&request.name).map_err(|e| {
        let remediation = match e {
            NameError::LooksLikeInstanceId(_) => {
                "Choose a name that is not 'i-' followed by hex digits, such as 'my-ml-research'"
            }
            _ => "Use a DNS-safe name such as 'my-ml-research' (at most 63 characters)",
        };
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_NAME", e.to_string())
            .remediation(remediation)
    })?;

    // A template named in the body that does not exist is bad input (400), not a missing
    // resource; an invalid one answers 422 here as everywhere.
    let template =
        catalog::lookup(&state.templates.current(), &request.template).map_err(|error| {
            if error.code == "TEMPLATE_NOT_FOUND" {
                error.with_status(StatusCode::BAD_REQUEST)
            } else {
                error
            }
        })?;

    if request.size.is_some() && request.instance_type.is_some() {
        return Err(
            ApiError::bad_request("give either size or instance_type, not both")
                .remediation("A size stands for an instance type; send one of the two"),
        );
    }
    let size = match &request.size {
        Some(text) => Some(text.parse::<Size>().map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_SIZE", e.to_string())
                .remediation("Pick one of the listed sizes, or give instance_type instead")
        })?),
        None => None,
    };
    let instance_type = match &request.instance_type {
        Some(explicit) => {
            if !looks_like_instance_type(explicit) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_INSTANCE_TYPE",
                    format!("'{explicit}' is not an instance type"),
                )
                .remediation("Write an EC2 instance type such as 't3.medium' or 'g4dn.xlarge'"));
            }
            explicit.clone()
        }
        None => {
            let size = size.unwrap_or_else(|| template.default_size());
            template.instance_type_for(size).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_SIZE",
                    format!(
                        "template '{}' has no instance type for size {size}",
                        template.name
                    ),
                )
                .remediation("Choose another size, or give instance_type explicitly")
            })?
        }
    };
    let size_label = match request.instance_type {
        Some(_) => None,
        None => Some(size.unwrap_or_else(|| template.default_size()).to_string()),
    };

    let region = request
        .region
        .clone()
        .unwrap_or_else(|| state.cloud.default_region().to_string());
    if !region_shape_ok(&region) {
        return Err(invalid_region(&region));
    }
    let known = state
        .known_regions()
        .await
        .map_err(|e| ApiError::from_aws(&e))?;
    if !known.contains(&region) {
        return Err(invalid_region(&region));
    }

    let storage = request.storage.clone().unwrap_or_default();
    let root_volume_gb = storage.ebs_volume_size.unwrap_or(template.root_volume_gb());
    if !(8..=16_384).contains(&root_volume_gb) {
        return Err(ApiError::bad_request(format!(
            "storage.ebs_volume_size {root_volume_gb} must be between 8 and 16384 GB"
        )));
    }
    let root_volume_type = storage
        .ebs_volume_type
        .clone()
        .unwrap_or_else(|| template.root_volume_type().to_string());
    if !ROOT_VOLUME_TYPES.contains(&root_volume_type.as_str()) {
        return Err(ApiError::bad_request(format!(
            "storage.ebs_volume_type '{root_volume_type}' cannot be a root volume; use one of {}",
            ROOT_VOLUME_TYPES.join(", ")
        )));
    }
    for (field, value) in [("project", &request.project), ("budget", &request.budget)] {
        if let Some(value) = value
            && !tag_value_ok(value)
        {
            return Err(ApiError::bad_request(format!(
                "{field} '{value}' must be 1-128 letters, digits, spaces or _.:/=+-@"
            )));
        }
    }
    let now = Utc::now();
    let ttl = match request.ttl_hours {
        None => None,
        Some(hours) if (1..=MAX_EXTEND_HOURS).contains(&hours) => {
            Some(now.trunc_subsecs(0) + Duration::hours(hours))
        }
        Some(hours) => {
            return Err(ApiError::bad_request(format!(
                "ttl_hours {hours} must be between 1 and {MAX_EXTEND_HOURS}"
            )));
        }
    };

    let info = state
        .cloud
        .type_info(&region, &instance_type)
        .await
        .map_err(|e| {
            if matches!(
                e.kind,
                AwsErrorKind::InvalidRequest | AwsErrorKind::NotFound
            ) {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_INSTANCE_TYPE",
                    format!("instance type '{instance_type}' is not available in {region}"),
                )
                .details(e.to_string())
                .remediation("Choose a size, or an instance type offered in that region")
            } else {
                ApiError::from_aws(&e)
            }
        })?;
    if pick_arch(&info).is_none() {
        return Err(ApiError::bad_request(format!(
            "{instance_type} has no supported architecture"
        )));
    }
    let memory_gib = (info.memory_mib + 1023) / 1024;
    let (hibernation, hibernation_note) = if !template.wants_hibernation() {
        (false, None)
    } else if !info.hibernation_supported {
        (
            false,
            Some(format!(
                "{instance_type} does not support hibernation; it will stop instead"
            )),
        )
    } else if memory_gib > HIBERNATION_MAX_MEMORY_GIB {
        (
            false,
            Some(format!(
                "{instance_type} has more memory than hibernation allows"
            )),
        )
    } else {
        (true, None)
    };

    let quote = pricing::instance_hourly(&instance_type, &region);
    let new = NewWorkspace {
        name: request.name.clone(),
        region: region.clone(),
        template: template.name.clone(),
        size: size_label,
        instance_type: instance_type.clone(),
        spot: request.spot.unwrap_or(false),
        project: request.project.clone(),
        budget: request.budget.clone(),
        root_volume_gb: i64::from(root_volume_gb),
        root_volume_type,
        hibernation_requested: hibernation,
        launch_token: uuid::Uuid::new_v4().to_string(),
        ttl,
        service_secret: launcher::new_secret(),
        ssh_user: template.base.ssh_user.clone(),
        services: template.services_with_accounts(),
    };
    let row = state.store.insert_launch(&new, now).await?;
    tracing::info!(workspace = %row.name, template = %template.name, %instance_type, %region, "launch accepted");

    let task_state = state.clone();
    state
        .tasks
        .spawn(async move { launcher::run(task_state, row.id).await });

    let mut message = format!(
        "Launching '{}' from '{}' as {instance_type} in {region}",
        row.name, template.name
    );
    if let Some(note) = hibernation_note {
        message.push_str("; ");
        message.push_str(&note);
    }
    Ok(LaunchResponse {
        name: row.name,
        instance_id: None,
        state: WorkspaceState::Launching,
        estimated_ready_time: now + TYPICAL_BOOT,
        hourly_rate: quote.map(|q| q.hourly),
        launch_progress: 5,
        instance_type,
        region,
        hibernation,
        message,
    })
}

fn invalid_region(region: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_REGION",
        format!("'{region}' is not an AWS region this account can use"),
    )
    .remediation("Use a region name such as 'us-east-1' or 'us-west-2'")
}

/// Finds a workspace by name or instance id.
pub async fn find(state: &AppState, key: &str) -> ApiResult<WorkspaceRow> {
    state
        .store
        .find(key)
        .await?
        .ok_or_else(|| ApiError::workspace_not_found(key))
}

fn invalid_state(row: &WorkspaceRow, action: Action) -> ApiError {
    state_conflict(row, action.as_str())
}

/// 409 for a request that the workspace's state does not allow, naming what was asked.
fn state_conflict(row: &WorkspaceRow, verb: &str) -> ApiError {
    let state = row.state();
    ApiError::new(
        StatusCode::CONFLICT,
        "INVALID_STATE",
        format!("Cannot {verb} workspace '{}': it is {state}", row.name),
    )
    .remediation(state_hint(verb, state, &row.name))
}

/// What to do when `verb` (`stop`, `extend`, `connect to` …) is not possible in `state`.
pub fn state_hint(verb: &str, state: WorkspaceState, name: &str) -> String {
    use WorkspaceState as S;
    match (verb, state) {
        (_, S::Terminated | S::Failed | S::Terminating) => {
            "It no longer exists (or soon will not); launch a new workspace with 'prism \
             workspace launch'"
                .into()
        }
        (_, S::Launching) => "Wait for the launch to finish ('prism workspace list')".into(),
        (_, S::Stopping | S::Hibernating | S::Starting | S::Resuming) => {
            "Wait for the current change to finish, then try again".into()
        }
        ("resume", S::Stopped) => "The workspace was stopped, not hibernated: use start".into(),
        ("start" | "resume", S::Running) => "It is already running".into(),
        ("stop" | "hibernate", S::Stopped | S::Hibernated) => "It is already stopped".into(),
        (_, S::Hibernated) => format!("Resume it first: 'prism workspace resume {name}'"),
        (_, S::Stopped) => format!("Start it first: 'prism workspace start {name}'"),
        _ => "Check the workspace's state with 'prism workspace list'".into(),
    }
}

/// Why a workspace cannot hibernate, in words, or `None` when it can.
async fn hibernation_refusal(state: &AppState, row: &WorkspaceRow) -> Option<String> {
    if row.hibernation_configured {
        return None;
    }
    let catalog = state.templates.current();
    let wants = catalog
        .find(&row.template)
        .is_some_and(|t| t.wants_hibernation());
    if !wants && !row.hibernation_requested {
        return Some(format!(
            "it was launched without hibernation: template '{}' does not enable it",
            row.template
        ));
    }
    match state.cloud.type_info(&row.region, &row.instance_type).await {
        Ok(info) if !info.hibernation_supported => Some(format!(
            "instance type {} does not support hibernation",
            row.instance_type
        )),
        _ => Some("EC2 reports the instance was not configured for hibernation at launch".into()),
    }
}

/// Applies stop, start, hibernate or resume.
pub async fn change_state(
    state: &AppState,
    key: &str,
    action: Action,
) -> ApiResult<(WorkspaceRow, WorkspaceState)> {
    let found = find(state, key).await?;
    let _guard = state.locks.lock(found.id).await;
    let row = state
        .store
        .get(found.id)
        .await?
        .ok_or_else(|| ApiError::workspace_not_found(key))?;
    check_transition(row.state(), action).map_err(|_| invalid_state(&row, action))?;
    let Some(instance_id) = row.instance_id.clone() else {
        return Err(invalid_state(&row, action));
    };
    if action == Action::Hibernate
        && let Some(reason) = hibernation_refusal(state, &row).await
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "HIBERNATION_NOT_SUPPORTED",
            format!("Workspace '{}' cannot hibernate: {reason}", row.name),
        )
        .remediation(
            "Use 'prism workspace stop' instead; a stopped workspace pays for storage only",
        ));
    }
    // Starting a hibernated workspace restores its memory: that is a resume.
    let action = if action == Action::Start && row.state() == WorkspaceState::Hibernated {
        Action::Resume
    } else {
        action
    };
    let new_state = match action {
        Action::Stop => WorkspaceState::Stopping,
        Action::Hibernate => WorkspaceState::Hibernating,
        Action::Start => WorkspaceState::Starting,
        Action::Resume => WorkspaceState::Resuming,
        Action::Launch | Action::Terminate => return Err(invalid_state(&row, action)),
    };
    let now = Utc::now();
    state
        .store
        .record_action(row.id, action, new_state, now)
        .await?;
    let result = match action {
        Action::Stop => state.cloud.stop(&row.region, &instance_id, false).await,
        Action::Hibernate => state.cloud.stop(&row.region, &instance_id, true).await,
        _ => state.cloud.start(&row.region, &instance_id).await,
    };
    if let Err(error) = result {
        state
            .store
            .revert_action(row.id, row.last_action(), row.state(), Utc::now())
            .await?;
        return Err(ApiError::from_aws(&error));
    }
    tracing::info!(workspace = %row.name, action = action.as_str(), "requested");
    state.refresh.nudge();
    Ok((row, new_state))
}

/// Terminates a workspace, snapshotting its volumes first when asked.
pub async fn terminate(
    state: &AppState,
    key: &str,
    backup: bool,
) -> ApiResult<(WorkspaceRow, Vec<String>)> {
    let found = find(state, key).await?;
    let _guard = state.locks.lock(found.id).await;
    let row = state
        .store
        .get(found.id)
        .await?
        .ok_or_else(|| ApiError::workspace_not_found(key))?;
    check_transition(row.state(), Action::Terminate)
        .map_err(|_| invalid_state(&row, Action::Terminate))?;
    let now = Utc::now();
    let Some(instance_id) = row.instance_id.clone() else {
        if row.run_requested_at.is_none() {
            // Nothing reached EC2 yet: ending the record stops the launch task.
            state
                .store
                .end_launch(
                    row.id,
                    WorkspaceState::Terminated,
                    "terminated before reaching EC2",
                    now,
                )
                .await?;
            return Ok((row, Vec::new()));
        }
        return Err(invalid_state(&row, Action::Terminate));
    };
    let mut snapshots = Vec::new();
    if backup {
        let tags = std::collections::BTreeMap::from([
            ("prism:managed".to_string(), "true".to_string()),
            ("prism:name".to_string(), row.name.clone()),
            ("prism:owner".to_string(), state.owner.clone()),
        ]);
        snapshots = state
            .cloud
            .snapshot_volumes(&row.region, &instance_id, &tags)
            .await
            .map_err(|e| ApiError::from_aws(&e))?;
        tracing::info!(workspace = %row.name, ?snapshots, "snapshots taken before terminate");
    }
    state
        .store
        .record_action(row.id, Action::Terminate, WorkspaceState::Terminating, now)
        .await?;
    if let Err(error) = state.cloud.terminate(&row.region, &instance_id).await {
        state
            .store
            .revert_action(row.id, row.last_action(), row.state(), Utc::now())
            .await?;
        return Err(ApiError::from_aws(&error));
    }
    tracing::info!(workspace = %row.name, "terminate requested");
    state.refresh.nudge();
    Ok((row, snapshots))
}

/// Extends a workspace's time-to-live and writes the `prism:ttl` tag.
pub async fn extend(state: &AppState, key: &str, hours: Option<i64>) -> ApiResult<DateTime<Utc>> {
    let found = find(state, key).await?;
    let _guard = state.locks.lock(found.id).await;
    let row = state
        .store
        .get(found.id)
        .await?
        .ok_or_else(|| ApiError::workspace_not_found(key))?;
    if row.state().is_final() || row.state() == WorkspaceState::Terminating {
        return Err(state_conflict(&row, "extend"));
    }
    let now = Utc::now();
    let ttl = crate::model::workspace::extend_ttl(row.ttl, now, hours).map_err(|e| {
        ApiError::bad_request(e.to_string())
            .remediation("Extend by fewer hours, more than once if needed")
    })?;
    if let Some(instance_id) = &row.instance_id {
        let value = ttl.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        state
            .cloud
            .set_tags(&row.region, instance_id, &[("prism:ttl", value)])
            .await
            .map_err(|e| ApiError::from_aws(&e))?;
    }
    state.store.set_ttl(row.id, ttl).await?;
    tracing::info!(workspace = %row.name, %ttl, "time-to-live extended");
    Ok(ttl)
}

/// The storage that bills while a workspace exists.
pub fn volumes(row: &WorkspaceRow) -> Vec<BilledVolume> {
    match pricing::ebs_gb_month(&row.root_volume_type) {
        Some(gb_month) if row.root_volume_gb > 0 => {
            vec![BilledVolume {
                size_gb: row.root_volume_gb,
                gb_month,
            }]
        }
        _ => Vec::new(),
    }
}

/// The hourly rate and where it came from.
pub fn rate(row: &WorkspaceRow) -> (Option<Money>, Option<String>) {
    match pricing::instance_hourly(&row.instance_type, &row.region) {
        Some(quote) => {
            let source = if row.spot {
                format!(
                    "{}; spot workspace, on-demand price shown as the upper bound",
                    quote.source
                )
            } else {
                quote.source
            };
            (Some(quote.hourly), Some(source))
        }
        None => (
            None,
            Some(format!(
                "{} is not in the bundled price table",
                row.instance_type
            )),
        ),
    }
}

/// Spend since launch; unknown when the instance type has no price.
pub fn spend(row: &WorkspaceRow, transitions: &[Transition], now: DateTime<Utc>) -> Option<Money> {
    let (hourly, _) = rate(row);
    let until = row.ended_at.unwrap_or(now).min(now);
    Some(ledger::spend_between(transitions, hourly?, &volumes(row), row.created_at, until).total())
}

/// What the workspace costs per hour in its current state: compute and storage while
/// running, storage alone while stopped or hibernated, nothing once it is gone. Unknown only
/// when compute bills and the instance type has no price.
pub fn hourly_cost_now(row: &WorkspaceRow) -> Option<Money> {
    let state = row.state();
    let compute = match rate(row).0 {
        Some(rate) => rate,
        None if state.bills_compute() => return None,
        None => Money::ZERO,
    };
    Some(costs::hourly_split(state, compute, &volumes(row)).total())
}

/// The API's view of one workspace.
pub fn view(row: &WorkspaceRow, transitions: &[Transition], now: DateTime<Utc>) -> api::Workspace {
    let (hourly_rate, price_source) = rate(row);
    let tags = row.tags();
    api::Workspace {
        name: row.name.clone(),
        id: row.instance_id.clone(),
        state: row.state(),
        public_ip: row.public_ip.clone(),
        private_ip: row.private_ip.clone(),
        instance_type: row.instance_type.clone(),
        region: row.region.clone(),
        template: row.template.clone(),
        size: row.size.clone(),
        launch_time: row.launch_time,
        hourly_rate,
        current_spend: spend(row, transitions, now),
        current_hourly_cost: hourly_cost_now(row),
        price_source,
        hibernation_capable: row.hibernation_configured
            || (row.instance_id.is_none() && row.hibernation_requested),
        spot: row.spot,
        attached_volumes: Vec::new(),
        attached_ebs_volumes: Vec::new(),
        tags,
        project: row.project.clone(),
        budget: row.budget.clone(),
        ttl: row.ttl,
        launch_progress: match row.state() {
            WorkspaceState::Launching => row.launch_progress.and_then(|p| u8::try_from(p).ok()),
            _ => None,
        },
        launch_error: row.launch_error.clone(),
        created_at: row.created_at,
        state_since: row.state_since,
        refreshed_at: row.refreshed_at,
    }
}

/// Every visible workspace, with spend.
pub async fn list(state: &AppState) -> ApiResult<Vec<api::Workspace>> {
    let now = Utc::now();
    let rows = state.store.visible(now - ENDED_VISIBLE_FOR).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let transitions: HashMap<i64, Vec<Transition>> = state.store.transitions(&ids).await?;
    Ok(rows
        .iter()
        .map(|row| {
            view(
                row,
                transitions.get(&row.id).map_or(&[][..], Vec::as_slice),
                now,
            )
        })
        .collect())
}

/// Hours the given number of seconds represents, for savings text.
pub fn per_hour_text(rate: Option<Money>) -> String {
    match rate {
        Some(rate) => format!("${}/hour during hibernation", rate.to_decimal_string()),
        None => "unknown (the instance type is not in the price table)".into(),
    }
}

/// Re-exported for handlers: the ready-time estimate after a start or resume.
pub fn ready_estimate(now: DateTime<Utc>) -> DateTime<Utc> {
    now + TYPICAL_BOOT
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `extend` on a terminated workspace said "Cannot start", and `connect` on one
    /// said to wait until it runs.
    #[test]
    fn state_hints_fit_the_request_and_the_state() {
        let gone = state_hint("extend", WorkspaceState::Terminated, "box");
        assert!(gone.contains("no longer exists"), "{gone}");
        let gone = state_hint("connect to", WorkspaceState::Terminated, "box");
        assert!(!gone.contains("Wait"), "{gone}");
        assert_eq!(
            state_hint("connect to", WorkspaceState::Stopped, "box"),
            "Start it first: 'prism workspace start box'"
        );
        assert_eq!(
            state_hint("resume", WorkspaceState::Stopped, "box"),
            "The workspace was stopped, not hibernated: use start"
        );
        assert!(state_hint("connect to", WorkspaceState::Starting, "box").starts_with("Wait"));
    }

    #[test]
    fn region_shapes() {
        assert!(region_shape_ok("us-east-1"));
        assert!(region_shape_ok("us-gov-west-1"));
        assert!(!region_shape_ok("us-east"));
        assert!(!region_shape_ok("US-EAST-1"));
        assert!(!region_shape_ok("../../etc"));
    }

    #[test]
    fn tag_values() {
        assert!(tag_value_ok("cancer-research"));
        assert!(tag_value_ok("grant nih 2024"));
        assert!(!tag_value_ok(""));
        assert!(!tag_value_ok("semi;colon"));
        assert!(!tag_value_ok(&"x".repeat(129)));
    }
}
