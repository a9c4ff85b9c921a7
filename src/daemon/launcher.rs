//! The background half of a launch: from an accepted request to an instance in EC2.
//!
//! The request handler records the workspace (state `launching`) and returns at once; this task
//! resolves the image, the subnet, the security group and the key pair, renders the user data,
//! records that RunInstances is about to be sent, and sends it. Progress is written to the
//! store so the list shows it. If the daemon dies at any point, start-up reconciliation either
//! finds the instance by its launch token or runs this task again with the same token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

use super::state::AppState;
use super::store::WorkspaceRow;
use crate::aws::{
    AwsError, AwsErrorKind, KeyPairOutcome, LaunchSpec, Observed, SecurityGroupRule, pick_arch,
};
use crate::model::tags::{SERVICES_TAG, encode_services};
use crate::model::template::Template;
use crate::model::userdata::{self, WorkspaceSetup};
use crate::model::workspace::{Action, Ec2State, WorkspaceState, derive_state};

/// Attempts at RunInstances after an unclear failure (no answer, or a server error).
const RUN_ATTEMPTS: u32 = 3;

/// A fresh per-workspace service secret: 24 random letters and digits.
pub fn new_secret() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Runs the launch of workspace `id` to the point where EC2 holds its instance, or records
/// why it failed.
pub async fn run(state: AppState, id: i64) {
    match launch(&state, id).await {
        Ok(()) => {}
        Err(message) => {
            tracing::warn!(workspace_id = id, error = %message, "launch failed");
            if let Err(error) = state
                .store
                .end_launch(id, WorkspaceState::Failed, &message, Utc::now())
                .await
            {
                tracing::error!(%error, workspace_id = id, "cannot record failed launch");
            }
        }
    }
    state.refresh.nudge();
}

fn describe(error: &AwsError) -> String {
    let hint = match error.kind {
        AwsErrorKind::PermissionDenied => " (check the AWS permissions listed in the README)",
        AwsErrorKind::Capacity => " (try another size, type or region)",
        AwsErrorKind::Unreachable => " (AWS could not be reached)",
        _ => "",
    };
    format!("{error}{hint}")
}

async fn progress(state: &AppState, id: i64, percent: u8) -> Result<(), String> {
    state
        .store
        .set_progress(id, percent)
        .await
        .map_err(|e| e.to_string())
}

async fn launch(state: &AppState, id: i64) -> Result<(), String> {
    let Some(row) = state.store.get(id).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    if !row.is_live() || row.instance_id.is_some() {
        return Ok(());
    }
    let catalog = state.templates.current();
    let template = catalog.find(&row.template).cloned().ok_or_else(|| {
        format!(
            "template '{}' is no longer available or no longer valid",
            row.template
        )
    })?;
    let region = row.region.clone();
    let cloud = &state.cloud;

    progress(state, id, 15).await?;
    let info = cloud
        .type_info(&region, &row.instance_type)
        .await
        .map_err(|e| describe(&e))?;
    let arch = pick_arch(&info)
        .ok_or_else(|| format!("{} has no supported architecture", row.instance_type))?;
    if state.shutdown.is_cancelled() {
        return Ok(());
    }

    progress(state, id, 25).await?;
    let image_spec = template.base.image.clone().unwrap_or_default();
    let image = cloud
        .resolve_image(&region, &image_spec.for_arch(arch), arch)
        .await
        .map_err(|e| describe(&e))?;

    progress(state, id, 40).await?;
    let network = cloud
        .plan_network(&region, &row.instance_type)
        .await
        .map_err(|e| describe(&e))?;

    progress(state, id, 50).await?;
    let group_name = format!("prism-{}", template.slug);
    let group = cloud
        .ensure_security_group(
            &region,
            &network.vpc_id,
            &group_name,
            &format!("Prism workspaces from template {}", template.slug),
            &ingress_rules(state, &template),
        )
        .await
        .map_err(|e| describe(&e))?;
    if state.shutdown.is_cancelled() {
        return Ok(());
    }

    progress(state, id, 60).await?;
    let (key_name, key_path) = ensure_key(state, &region).await?;
    state
        .store
        .set_key(id, &key_name, key_path.as_deref().and_then(Path::to_str))
        .await
        .map_err(|e| e.to_string())?;

    progress(state, id, 70).await?;
    if !row.service_secret_known {
        // Only adopted workspaces lack their secret, and they already have an instance.
        return Err(
            "this workspace's service secret is unknown; it cannot be launched again".into(),
        );
    }
    let setup = WorkspaceSetup {
        workspace: &row.name,
        service_secret: &row.service_secret,
    };
    let user_data = userdata::render(&template, &setup).map_err(|e| e.to_string())?;

    // Hibernation saves RAM to the root volume, which must hold it on top of the system.
    let hibernation = row.hibernation_requested && info.hibernation_supported;
    let memory_gb = (info.memory_mib + 1023) / 1024;
    let root_volume_gb = if hibernation {
        row.root_volume_gb
            .max(i64::from(template.root_volume_gb()) + memory_gb)
    } else {
        row.root_volume_gb
    };

    // From here on the workspace's lock is held so that a terminate or a second launch task
    // cannot interleave with RunInstances.
    let _guard = state.locks.lock(id).await;
    let Some(row) = state.store.get(id).await.map_err(|e| e.to_string())? else {
        return Ok(());
    };
    if !row.is_live() || row.instance_id.is_some() || state.shutdown.is_cancelled() {
        return Ok(());
    }
    let spec = LaunchSpec {
        region: region.clone(),
        image_id: image.image_id.clone(),
        root_device_name: image.root_device_name.clone(),
        instance_type: row.instance_type.clone(),
        subnet_id: network.subnet_id.clone(),
        security_group_id: group,
        key_name,
        user_data,
        root_volume_gb: i32::try_from(root_volume_gb).unwrap_or(i32::MAX),
        root_volume_type: row.root_volume_type.clone(),
        hibernation,
        spot: row.spot,
        client_token: row.launch_token.clone(),
        tags: launch_tags(state, &row, &template, root_volume_gb),
    };
    // A RunInstances sent before (by this task before a crash, or one whose answer was lost)
    // may have started the instance: EC2 must say so before another is sent.
    if row.run_requested_at.is_some() {
        match settle_launch(state, id, &region, &row.launch_token).await {
            Settled::Found(instance) => {
                tracing::info!(workspace = %row.name, instance = %instance.instance_id, "an earlier RunInstances had started the instance; recording it");
                return record_launched(state, id, &row.name, &instance, Utc::now()).await;
            }
            Settled::Absent => {}
            Settled::Abandoned => return Ok(()),
        }
    }
    state
        .store
        .mark_run_requested(id, hibernation, root_volume_gb, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    progress(state, id, 80).await?;

    // The launch's own view of the new instance is as old as the moment RunInstances was sent:
    // the refresh loop may describe the instance (running) before this task records the
    // answer (pending), and the older news must not win.
    let sent_at = Utc::now();
    let mut sends = 0;
    let instance = loop {
        sends += 1;
        let error = match cloud.run_instance(&spec).await {
            Ok(instance) => break instance,
            Err(error) => error,
        };
        if unclear(&error) {
            // The instance may or may not exist. Sending RunInstances again while nobody
            // knows could start a second one (moto ignores the client token, and AWS
            // honours it only for a while), so EC2 is asked until it answers.
            tracing::warn!(%error, attempt = sends, workspace = %row.name, "RunInstances unclear; looking the launch up before anything else");
            match settle_launch(state, id, &region, &row.launch_token).await {
                Settled::Found(instance) => break *instance,
                Settled::Absent if sends < RUN_ATTEMPTS => continue,
                Settled::Absent => return Err(describe(&error)),
                Settled::Abandoned => return Ok(()),
            }
        }
        // One last look before calling it failed: an emulator may start an instance while
        // answering an error. Anything that exists is adopted rather than left running unseen.
        if let Ok(Some(instance)) = cloud.find_launch(&region, &row.launch_token).await
            && !matches!(
                instance.state,
                Ec2State::Terminated | Ec2State::ShuttingDown
            )
        {
            tracing::warn!(%error, instance = %instance.instance_id, "RunInstances failed but the instance exists; adopting it");
            break instance;
        }
        return Err(describe(&error));
    };
    record_launched(state, id, &row.name, &instance, sent_at).await?;
    tracing::info!(
        workspace = %row.name, instance = %instance.instance_id, region = %region,
        instance_type = %row.instance_type, hibernation, "launched"
    );
    Ok(())
}

/// What EC2 said about a launch whose RunInstances may or may not have reached it.
enum Settled {
    /// The instance exists.
    Found(Box<Observed>),
    /// EC2 holds no instance with the launch's token.
    Absent,
    /// The daemon is shutting down, or the store no longer waits for this task (the refresh
    /// loop found the instance, or the workspace ended): start-up reconciliation or the
    /// refresh loop takes over.
    Abandoned,
}

/// Longest wait between two lookups of an unsettled launch.
const SETTLE_MAX_WAIT: Duration = Duration::from_secs(30);

/// Asks EC2 for the instance carrying `launch_token` until it gives a definite answer,
/// waiting longer after each failed lookup (1 s, 2 s, 4 s … up to 30 s). It never gives up
/// by itself: giving up would mean either sending RunInstances blind or calling a launch
/// failed that may be running.
async fn settle_launch(state: &AppState, id: i64, region: &str, launch_token: &str) -> Settled {
    let mut wait = Duration::from_secs(1);
    loop {
        match state.store.get(id).await {
            Ok(Some(row)) if row.is_live() && row.instance_id.is_none() => {}
            Ok(_) => return Settled::Abandoned,
            Err(error) => tracing::warn!(%error, workspace_id = id, "cannot read the launch"),
        }
        match state.cloud.find_launch(region, launch_token).await {
            Ok(Some(instance)) => return Settled::Found(Box::new(instance)),
            Ok(None) => return Settled::Absent,
            Err(error) => {
                tracing::warn!(%error, workspace_id = id, retry_in_s = wait.as_secs(), "cannot look the launch up; asking again later");
            }
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return Settled::Abandoned,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(SETTLE_MAX_WAIT);
    }
}

/// Records the instance a launch produced, as EC2 described it at `observed_at`.
async fn record_launched(
    state: &AppState,
    id: i64,
    name: &str,
    instance: &Observed,
    observed_at: chrono::DateTime<Utc>,
) -> Result<(), String> {
    let new_state = derive_state(
        instance.state,
        Action::Launch,
        instance.hibernation_configured,
        false,
    );
    state
        .store
        .apply_observation(id, instance, new_state, observed_at)
        .await
        .map_err(|e| e.to_string())?;
    state
        .store
        .set_progress(id, 90)
        .await
        .map_err(|e| e.to_string())?;
    if new_state == WorkspaceState::Running {
        tracing::debug!(workspace = %name, "running at once");
    }
    Ok(())
}

/// Failures after which the instance may or may not exist.
fn unclear(error: &AwsError) -> bool {
    matches!(
        error.kind,
        AwsErrorKind::Unreachable | AwsErrorKind::Other | AwsErrorKind::Throttled
    )
}

fn ingress_rules(state: &AppState, template: &Template) -> Vec<SecurityGroupRule> {
    let mut rules = vec![SecurityGroupRule {
        port: 22,
        cidr: state.config.ssh_cidr.clone(),
    }];
    if let Some(cidr) = &state.config.service_cidr {
        for port in template.ports.iter().filter(|p| **p != 22) {
            rules.push(SecurityGroupRule {
                port: *port,
                cidr: cidr.clone(),
            });
        }
    }
    rules
}

fn launch_tags(
    state: &AppState,
    row: &WorkspaceRow,
    template: &Template,
    root_volume_gb: i64,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        ("Name".to_string(), row.name.clone()),
        ("prism:managed".to_string(), "true".to_string()),
        ("prism:name".to_string(), row.name.clone()),
        ("prism:template".to_string(), template.name.clone()),
        ("prism:owner".to_string(), state.owner.clone()),
        ("prism:launch-token".to_string(), row.launch_token.clone()),
        (
            "prism:root-volume-gb".to_string(),
            root_volume_gb.to_string(),
        ),
    ]);
    if let Some(user) = &template.base.ssh_user {
        tags.insert("prism:ssh-user".into(), user.clone());
    }
    // So that a rebuild from tags still knows how to reach the services.
    if let Some(services) = encode_services(&row.services()) {
        tags.insert(SERVICES_TAG.into(), services);
    }
    if let Some(size) = &row.size {
        tags.insert("prism:size".into(), size.clone());
    }
    if let Some(project) = &row.project {
        tags.insert("prism:project".into(), project.clone());
        tags.insert("Project".into(), project.clone());
    }
    if let Some(budget) = &row.budget {
        tags.insert("prism:budget".into(), budget.clone());
        tags.insert("Budget".into(), budget.clone());
    }
    if let Some(ttl) = row.ttl {
        tags.insert(
            "prism:ttl".into(),
            ttl.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    tags
}

/// Makes sure the region has this user's key pair; returns its name and, when this machine
/// holds it, the private key's path.
async fn ensure_key(state: &AppState, region: &str) -> Result<(String, Option<PathBuf>), String> {
    let cloud = &state.cloud;
    match state.config.public_key_path() {
        Some(public_path) => {
            let public = std::fs::read_to_string(&public_path).map_err(|e| {
                format!(
                    "cannot read the SSH public key {} ({e}); set ssh_public_key in the config, \
                     or set it to \"\" to let EC2 create a key",
                    public_path.display()
                )
            })?;
            let name = imported_key_name(&state.owner, &public);
            cloud
                .ensure_key_pair(region, &name, Some(public.trim()))
                .await
                .map_err(|e| describe(&e))?;
            let private = public_path.with_extension("");
            Ok((name, private.is_file().then_some(private)))
        }
        None => {
            let name = format!("prism-{}", state.owner);
            let dir = state.dirs.config.join("keys");
            let path = dir.join(format!("{name}.{region}.pem"));
            match cloud
                .ensure_key_pair(region, &name, None)
                .await
                .map_err(|e| describe(&e))?
            {
                KeyPairOutcome::Created { private_key } => {
                    write_private_key(&dir, &path, &private_key)?;
                    tracing::info!(key = %path.display(), "created an EC2 key pair and saved its private key");
                    Ok((name, Some(path)))
                }
                _ => Ok((name, path.is_file().then_some(path))),
            }
        }
    }
}

/// The private key on this machine that opens key pair `key_name` in `region`, if any: the
/// key EC2 created for this owner, or the configured public key's private half.
pub fn known_key_path(state: &AppState, key_name: &str, region: &str) -> Option<PathBuf> {
    let created = state
        .dirs
        .config
        .join("keys")
        .join(format!("{key_name}.{region}.pem"));
    if created.is_file() {
        return Some(created);
    }
    let public_path = state.config.public_key_path()?;
    let public = std::fs::read_to_string(&public_path).ok()?;
    if imported_key_name(&state.owner, &public) != key_name {
        return None;
    }
    let private = public_path.with_extension("");
    private.is_file().then_some(private)
}

/// The key pair name for an imported public key: the owner and a short hash of the key, so
/// that a new key gets a new name instead of silently meeting the old one.
fn imported_key_name(owner: &str, public_key: &str) -> String {
    let digest = Sha256::digest(public_key.trim().as_bytes());
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("prism-{owner}-{short}")
}

fn write_private_key(dir: &Path, path: &Path, key: &str) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(key.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
