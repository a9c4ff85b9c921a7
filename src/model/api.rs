//! The daemon's wire types: request and response bodies of the REST API.
//!
//! Both the daemon (which serves them) and the client (which the CLI and TUI use) build on these
//! types, so the two cannot drift apart. Field names follow the API contract; fields the
//! contract does not have are additions, never renames. Requests refuse unknown fields so that
//! a misspelt option is an error, not a silent default.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::money::Money;
use super::workspace::WorkspaceState;

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in the contract's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `INSTANCE_NOT_FOUND`.
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: String,
    /// What the caller can do about it.
    #[serde(default)]
    pub remediation: String,
    pub timestamp: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Templates

/// One entry of `GET /api/v1/templates`: the template as it resolves after inheritance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateSummary {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub package_manager: String,
    pub packages: Vec<String>,
    pub users: Vec<String>,
    pub services: Vec<String>,
    pub ports: Vec<u16>,
    pub inherits: Vec<String>,
    pub default_size: String,
    pub hibernation: bool,
    pub source: String,
    pub validation_status: String,
}

/// `GET /api/v1/templates/validate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationSummary {
    pub total_templates: usize,
    pub validated: usize,
    /// Files that could not be read as templates at all.
    pub errors: Vec<FileErrorInfo>,
    pub validation_results: Vec<ValidationResult>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileErrorInfo {
    pub file: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationResult {
    pub template: String,
    pub file: String,
    /// `valid` or `invalid`.
    pub status: String,
    pub checks_passed: usize,
    pub checks_total: usize,
    pub issues: Vec<String>,
}

/// `GET /api/v1/templates/{name}/info`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateInfo {
    pub name: String,
    pub slug: String,
    pub description: String,
    pub inherits: Vec<String>,
    pub resolved_packages: Vec<String>,
    pub resolved_users: Vec<String>,
    pub resolved_ports: Vec<u16>,
    /// Each path from a root ancestor to this template, as "A → B".
    pub dependency_chain: Vec<String>,
    /// The order in which ancestors were merged.
    pub resolution_order: Vec<String>,
    pub validation_status: String,
    pub troubleshooting_guide: Option<String>,
    pub package_manager: String,
    pub packages_by_source: BTreeMap<String, Vec<String>>,
    pub services: Vec<ServiceInfo>,
    pub os: Option<String>,
    pub ssh_user: Option<String>,
    pub family: String,
    pub architecture: String,
    pub default_size: String,
    /// Size → instance type, for every size this template can launch.
    pub sizes: BTreeMap<String, String>,
    pub root_volume_gb: u32,
    pub root_volume_type: String,
    pub hibernation: bool,
    pub idle_profile: Option<String>,
    pub idle_minutes: Option<u32>,
    pub idle_action: String,
    pub source: String,
    pub file: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub port: Option<u16>,
    pub auth: String,
}

// ---------------------------------------------------------------------------------------------
// Workspaces

/// One workspace as `GET /api/v1/instances` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub name: String,
    /// The EC2 instance id; absent while the launch has not reached EC2.
    pub id: Option<String>,
    pub state: WorkspaceState,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub instance_type: String,
    pub region: String,
    pub template: String,
    pub size: Option<String>,
    pub launch_time: Option<DateTime<Utc>>,
    /// On-demand price per hour; absent when the price table does not know the type.
    pub hourly_rate: Option<Money>,
    /// Spend since launch from the recorded running intervals, compute plus storage; absent
    /// when the instance type has no known price.
    pub current_spend: Option<Money>,
    /// What it costs per hour right now: compute and storage while running, storage alone
    /// while stopped or hibernated, zero once gone.
    pub current_hourly_cost: Option<Money>,
    pub price_source: Option<String>,
    pub hibernation_capable: bool,
    pub spot: bool,
    pub attached_volumes: Vec<String>,
    pub attached_ebs_volumes: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub project: Option<String>,
    pub budget: Option<String>,
    /// The time-to-live deadline (the `prism:ttl` tag), UTC.
    pub ttl: Option<DateTime<Utc>>,
    /// 0–100 while launching.
    pub launch_progress: Option<u8>,
    pub launch_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub state_since: DateTime<Utc>,
    /// When EC2 last confirmed this workspace's state.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/instances/launch`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    pub name: String,
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
    /// Hours until the time-to-live deadline; none means no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_hours: Option<i64>,
}

/// Root volume settings for a launch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageRequest {
    /// Root volume size in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_volume_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_volume_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchResponse {
    pub name: String,
    pub instance_id: Option<String>,
    pub state: WorkspaceState,
    pub estimated_ready_time: DateTime<Utc>,
    pub hourly_rate: Option<Money>,
    pub launch_progress: u8,
    pub instance_type: String,
    pub region: String,
    pub hibernation: bool,
    pub message: String,
}

/// The answer to stop, start and resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub name: String,
    pub previous_state: WorkspaceState,
    pub new_state: WorkspaceState,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ready_time: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HibernateResponse {
    pub name: String,
    pub previous_state: WorkspaceState,
    pub new_state: WorkspaceState,
    pub hibernation_supported: bool,
    /// The compute price no longer paid while hibernated, e.g. "$0.0416/hour during
    /// hibernation".
    pub estimated_savings: String,
    pub hourly_savings: Option<Money>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminateRequest {
    #[serde(default)]
    pub confirm: Option<String>,
    #[serde(default)]
    pub backup_ebs: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TerminateResponse {
    pub name: String,
    pub state: WorkspaceState,
    pub message: String,
    /// Snapshots taken first when `backup_ebs` was asked for.
    pub snapshots: Vec<String>,
}

/// `GET /api/v1/instances/{name}/connect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectInfo {
    pub ssh: SshInfo,
    pub services: BTreeMap<String, ServiceConnect>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshInfo {
    pub command: String,
    pub host: String,
    pub user: String,
    pub port: u16,
    pub key_path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConnect {
    /// Where the service answers: on this machine once `local_forward` runs, or directly when
    /// its port is opened to your network.
    pub url: String,
    pub local_forward: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `GET /api/v1/instances/{name}/hibernation-status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HibernationStatus {
    pub hibernation_supported: bool,
    pub current_state: WorkspaceState,
    pub hibernation_time: Option<DateTime<Utc>>,
    /// Compute not paid during the current hibernation, in dollars.
    pub estimated_savings: Money,
    pub hibernation_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    #[serde(default)]
    pub hours: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Daemon

/// `GET /api/v1/daemon/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// `healthy`, or `degraded` when AWS cannot be reached.
    pub status: String,
    pub version: String,
    pub uptime: String,
    pub uptime_seconds: i64,
    pub api_version: String,
    /// `connected` or `disconnected`.
    pub aws_connectivity: String,
    pub aws_account: Option<String>,
    pub aws_error: Option<String>,
    pub active_profiles: u32,
    pub total_instances: u32,
    pub active_instances: u32,
    pub region: String,
    pub owner: String,
    pub started_at: DateTime<Utc>,
    pub last_refresh: Option<DateTime<Utc>>,
    pub refresh_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownResponse {
    pub message: String,
    pub active_operations: u32,
    pub shutdown_timeout: u32,
}
