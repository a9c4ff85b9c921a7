//! Keeping the store in step with EC2: the refresh loop and start-up reconciliation.
//!
//! One DescribeInstances per region in use per cycle, filtered to this owner's managed
//! instances, every page followed. Clients read the store; they never cause AWS calls by
//! polling. Actions nudge the loop for an early cycle so their effect shows promptly.
//!
//! Start-up looks further: the store may be new or lost, so it cannot say which regions hold
//! workspaces. Reconciliation asks EC2 for the account's regions and scans every one, a few at
//! a time, so that a rebuilt store finds workspaces wherever they were launched.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;

use super::launcher;
use super::state::{AppState, RefreshFailure};
use crate::aws::{AwsError, AwsErrorKind, Observed};
use crate::model::tags::{SERVICES_TAG, ServicesSource, decode_services};
use crate::model::template::ServiceSpec;
use crate::model::workspace::{Action, Ec2State, WorkspaceState, derive_state};

/// How long a workspace's instance may be missing from DescribeInstances before it counts as
/// gone. EC2 is eventually consistent: a new instance can be invisible for a moment.
const VANISH_GRACE: chrono::Duration = chrono::Duration::minutes(5);

/// Shortest gap between two refresh cycles, however often the loop is nudged.
const MIN_GAP: Duration = Duration::from_secs(2);

/// Regions scanned at once by start-up reconciliation: enough that a few dozen regions take
/// seconds, few enough not to be throttled.
const REGION_SCAN_CONCURRENCY: usize = 6;

/// Runs refresh cycles until shutdown: every poll interval, or sooner when nudged.
pub async fn run_loop(state: AppState) {
    let interval = Duration::from_secs(state.config.poll_interval_secs);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
            _ = state.refresh.wake.notified() => {
                // Let a burst of actions settle into one cycle.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        refresh_all(&state).await;
        tokio::time::sleep(MIN_GAP).await;
    }
}

/// The regions the poll covers: those holding live workspaces, and the default region.
async fn regions_in_use(state: &AppState) -> Result<Vec<String>, RefreshFailure> {
    let mut regions = state.store.regions_in_use().await.map_err(|error| {
        tracing::error!(%error, "cannot read regions from the store");
        RefreshFailure {
            message: error.to_string(),
            unreachable: false,
        }
    })?;
    let default_region = state.cloud.default_region().to_string();
    if !regions.contains(&default_region) {
        regions.push(default_region);
    }
    regions.sort();
    Ok(regions)
}

/// One refresh cycle over every region in use. Never overlaps itself: the cycle runs inside
/// the loop, and start-up reconciliation runs before the loop starts.
pub async fn refresh_all(state: &AppState) {
    let started = Utc::now();
    let regions = match regions_in_use(state).await {
        Ok(regions) => regions,
        Err(error) => {
            state.refresh.record(Err(error), started);
            return;
        }
    };
    let mut errors = Vec::new();
    for region in regions {
        if let Err(error) = refresh_region(state, &region).await {
            tracing::warn!(%region, error = %error.message, "refresh failed; keeping the last known state");
            errors.push((region, error));
        }
    }
    state.refresh.record(combine(errors), started);
}

/// Why one region could not be brought in line with EC2.
#[derive(Debug)]
pub struct RegionError {
    message: String,
    /// AWS did not answer at all.
    unreachable: bool,
}

impl From<AwsError> for RegionError {
    fn from(error: AwsError) -> Self {
        RegionError {
            unreachable: error.kind == AwsErrorKind::Unreachable,
            message: error.to_string(),
        }
    }
}

impl From<String> for RegionError {
    fn from(message: String) -> Self {
        RegionError {
            message,
            unreachable: false,
        }
    }
}

impl std::fmt::Display for RegionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One cycle's result from its regions' failures: unreachable when any region was.
fn combine(errors: Vec<(String, RegionError)>) -> Result<(), RefreshFailure> {
    if errors.is_empty() {
        return Ok(());
    }
    Err(RefreshFailure {
        unreachable: errors.iter().any(|(_, e)| e.unreachable),
        message: errors
            .iter()
            .map(|(region, e)| format!("{region}: {}", e.message))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// One region's DescribeInstances answer (or why there is none) and when the call began.
type RegionScan = (String, DateTime<Utc>, Result<Vec<Observed>, AwsError>);

/// Start-up's scan of every region the account has, so that managed instances are found
/// even where the store knows of none (it may just have been rebuilt). Regions are described
/// a few at a time; one that cannot be described is logged and skipped. Only failures in
/// regions in use count against the refresh status, as the poll would report them.
async fn scan_every_region(state: &AppState) {
    let started = Utc::now();
    let in_use = match regions_in_use(state).await {
        Ok(regions) => regions,
        Err(error) => {
            state.refresh.record(Err(error), started);
            return;
        }
    };
    let mut regions = match state.known_regions().await {
        Ok(all) => all,
        Err(error) => {
            tracing::warn!(
                %error,
                "cannot list the account's regions; scanning only regions in use"
            );
            Vec::new()
        }
    };
    for region in &in_use {
        if !regions.contains(region) {
            regions.push(region.clone());
        }
    }
    regions.sort();
    let total = regions.len();
    let mut scans: Vec<RegionScan> = futures::stream::iter(regions)
        .map(|region| async move {
            let observed_at = Utc::now();
            let observed = state.cloud.describe_managed(&region, &state.owner).await;
            (region, observed_at, observed)
        })
        .buffer_unordered(REGION_SCAN_CONCURRENCY)
        .collect()
        .await;
    scans.sort_by(|a, b| a.0.cmp(&b.0));

    let mut errors = Vec::new();
    let mut found = 0;
    for (region, observed_at, observed) in scans {
        let result: Result<(), RegionError> = match observed {
            Ok(observed) => {
                found += observed.len();
                apply_region(state, &region, &observed, observed_at)
                    .await
                    .map_err(RegionError::from)
            }
            Err(error) => Err(error.into()),
        };
        if let Err(error) = result {
            tracing::warn!(
                %region, %error,
                "region skipped at start-up; keeping the last known state"
            );
            if in_use.contains(&region) {
                errors.push((region, error));
            }
        }
    }
    tracing::info!(
        regions = total,
        instances = found,
        "scanned every region for managed instances"
    );
    state.refresh.record(combine(errors), started);
}

/// Brings every workspace in `region` in line with EC2.
pub async fn refresh_region(state: &AppState, region: &str) -> Result<(), RegionError> {
    let observed_at = Utc::now();
    let observed = state.cloud.describe_managed(region, &state.owner).await?;
    Ok(apply_region(state, region, &observed, observed_at).await?)
}

/// Applies one region's DescribeInstances answer, begun at `observed_at`, to the store.
async fn apply_region(
    state: &AppState,
    region: &str,
    observed: &[Observed],
    observed_at: DateTime<Utc>,
) -> Result<(), String> {
    let store = &state.store;
    let mut seen = Vec::new();
    for instance in observed {
        seen.push(instance.instance_id.clone());
        let by_id = store
            .by_instance_id(&instance.instance_id)
            .await
            .map_err(|e| e.to_string())?;
        let row = match by_id {
            Some(row) => Some(row),
            None => match instance.tags.get("prism:launch-token") {
                Some(token) => store
                    .by_launch_token(token)
                    .await
                    .map_err(|e| e.to_string())?,
                None => None,
            },
        };
        match row {
            Some(row)
                if row
                    .instance_id
                    .as_deref()
                    .is_some_and(|id| id != instance.instance_id) =>
            {
                settle_duplicate(state, region, &row.name, instance).await;
            }
            Some(row)
                if row.state() == WorkspaceState::Failed
                    && !matches!(
                        instance.state,
                        Ec2State::Terminated | Ec2State::ShuttingDown
                    ) =>
            {
                // The launch was reported failed, yet an instance carries its token. Nobody
                // expects it and nobody would pay attention to its bill: end it.
                tracing::warn!(
                    workspace = %row.name, instance = %instance.instance_id,
                    "instance of a failed launch is alive; terminating it"
                );
                if let Err(error) = state.cloud.terminate(region, &instance.instance_id).await {
                    tracing::error!(%error, instance = %instance.instance_id, "could not terminate it");
                }
            }
            Some(row) => {
                let new_state = derive_state(
                    instance.state,
                    row.last_action(),
                    instance.hibernation_configured,
                    instance.stopped_by_hibernation,
                );
                let change = store
                    .apply_observation(row.id, instance, new_state, observed_at)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some((from, to)) = change {
                    tracing::info!(workspace = %row.name, %from, %to, "state changed");
                }
            }
            None if instance.state != Ec2State::Terminated
                && instance.state != Ec2State::ShuttingDown =>
            {
                let new_state = derive_state(
                    instance.state,
                    Action::Start,
                    instance.hibernation_configured,
                    instance.stopped_by_hibernation,
                );
                let (services, source) = recovered_services(state, instance);
                match store
                    .adopt(instance, new_state, &services, source, observed_at)
                    .await
                {
                    Ok(Some(row)) => tracing::info!(
                        workspace = %row.name, instance = %instance.instance_id,
                        services = source.as_str(),
                        "adopted a managed instance the store did not know"
                    ),
                    Ok(None) => tracing::warn!(
                        instance = %instance.instance_id,
                        "managed instance not adopted: its name is taken by another workspace"
                    ),
                    Err(error) => return Err(error.to_string()),
                }
            }
            None => {}
        }
    }

    // Workspaces whose instance EC2 no longer lists at all.
    let live = store.live().await.map_err(|e| e.to_string())?;
    for row in live.iter().filter(|r| r.region == region) {
        let Some(instance_id) = &row.instance_id else {
            continue;
        };
        let recent = row.run_requested_at.unwrap_or(row.created_at) > observed_at - VANISH_GRACE;
        if !seen.contains(instance_id) && !recent {
            tracing::warn!(workspace = %row.name, %instance_id, "instance no longer in EC2; marking terminated");
            store
                .mark_vanished(row.id, observed_at)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The services of an instance being adopted: from its services tag when it has one, else
/// from the template its tags name as that template is now, else none (and unknown).
fn recovered_services(state: &AppState, instance: &Observed) -> (Vec<ServiceSpec>, ServicesSource) {
    if let Some(services) = instance
        .tags
        .get(SERVICES_TAG)
        .and_then(|v| decode_services(v))
    {
        return (services, ServicesSource::Tags);
    }
    let catalog = state.templates.current();
    match instance
        .tags
        .get("prism:template")
        .and_then(|name| catalog.find(name))
    {
        Some(template) => (template.services_with_accounts(), ServicesSource::Template),
        None => (Vec::new(), ServicesSource::Unknown),
    }
}

/// A second instance carrying a launch token that already has one: a retried RunInstances
/// whose first answer was lost. The workspace keeps its first instance; the extra one is
/// terminated so that nobody pays for it.
async fn settle_duplicate(state: &AppState, region: &str, name: &str, extra: &Observed) {
    if matches!(extra.state, Ec2State::Terminated | Ec2State::ShuttingDown) {
        return;
    }
    tracing::warn!(
        workspace = %name, instance = %extra.instance_id,
        "duplicate instance from one launch; terminating the extra one"
    );
    if let Err(error) = state.cloud.terminate(region, &extra.instance_id).await {
        tracing::error!(%error, instance = %extra.instance_id, "could not terminate duplicate instance");
    }
}

/// Start-up reconciliation: finish or adopt launches interrupted by a crash, scan every
/// region of the account, and re-send actions that were accepted but never confirmed.
pub async fn reconcile(state: &AppState) {
    let live = match state.store.live().await {
        Ok(rows) => rows,
        Err(error) => {
            tracing::error!(%error, "cannot read the store for reconciliation");
            return;
        }
    };
    for row in live
        .iter()
        .filter(|r| r.instance_id.is_none() && r.state() == WorkspaceState::Launching)
    {
        if row.run_requested_at.is_some() {
            match state
                .cloud
                .find_launch(&row.region, &row.launch_token)
                .await
            {
                Ok(Some(instance)) => {
                    let new_state = derive_state(
                        instance.state,
                        Action::Launch,
                        instance.hibernation_configured,
                        false,
                    );
                    if let Err(error) = state
                        .store
                        .apply_observation(row.id, &instance, new_state, Utc::now())
                        .await
                    {
                        tracing::error!(%error, workspace = %row.name, "cannot record recovered launch");
                    } else {
                        tracing::info!(workspace = %row.name, instance = %instance.instance_id, "recovered an interrupted launch");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, workspace = %row.name, "cannot check an interrupted launch; will retry it");
                }
            }
        }
        tracing::info!(workspace = %row.name, "resuming an interrupted launch");
        let task_state = state.clone();
        let id = row.id;
        state
            .tasks
            .spawn(async move { launcher::run(task_state, id).await });
    }

    scan_every_region(state).await;

    let live = match state.store.live().await {
        Ok(rows) => rows,
        Err(_) => return,
    };
    for row in live {
        let (Some(action), Some(instance_id)) = (row.pending_action(), row.instance_id.clone())
        else {
            continue;
        };
        tracing::info!(workspace = %row.name, action = action.as_str(), "re-sending an unconfirmed action");
        let result = match action {
            Action::Stop => state.cloud.stop(&row.region, &instance_id, false).await,
            Action::Hibernate => state.cloud.stop(&row.region, &instance_id, true).await,
            Action::Start | Action::Resume => state.cloud.start(&row.region, &instance_id).await,
            Action::Terminate => state.cloud.terminate(&row.region, &instance_id).await,
            Action::Launch => Ok(()),
        };
        if let Err(error) = result {
            tracing::warn!(%error, workspace = %row.name, "re-sent action failed; dropping it");
            let _ = state.store.clear_pending(row.id).await;
        }
    }
    state.refresh.nudge();
}
