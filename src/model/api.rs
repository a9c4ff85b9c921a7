//! The daemon's wire types: request and response bodies of the REST API.
//!
//! Both the daemon (which serves them) and the client (which the CLI and TUI use) build on these
//! types, so the two cannot drift apart. Field names follow the API contract; fields the
//! contract does not have are additions, never renames. Requests refuse unknown fields so that
//! a misspelt option is an error, not a silent default. Each type also describes itself as a
//! JSON Schema ([`ToSchema`]) for the OpenAPI document the daemon serves, so the document is
//! generated from the same definitions that encode the bodies.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::Money;
use super::workspace::WorkspaceState;

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in the contract's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `INSTANCE_NOT_FOUND`.
    pub code: String,
    pub message: String,
    // `default` lets clients read older daemons; this daemon always sends both fields.
    #[serde(default)]
    #[schema(required = true)]
    pub details: String,
    /// What the caller can do about it.
    #[serde(default)]
    #[schema(required = true)]
    pub remediation: String,
    pub timestamp: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Templates

/// One entry of `GET /api/v1/templates`: the template as it resolves after inheritance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ValidationSummary {
    pub total_templates: usize,
    pub validated: usize,
    /// Files that could not be read as templates at all.
    pub errors: Vec<FileErrorInfo>,
    pub validation_results: Vec<ValidationResult>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileErrorInfo {
    pub file: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceInfo {
    pub name: String,
    pub port: Option<u16>,
    pub auth: String,
}

// ---------------------------------------------------------------------------------------------
// Workspaces

/// One workspace as `GET /api/v1/instances` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with the launch's fields"
)]
pub struct LaunchRequest {
    /// Unique among live workspaces: a DNS label (lowercase letters, digits and `-`, starting
    /// with a letter, at most 63 characters) that is not `i-` followed by hex digits.
    #[schema(pattern = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    /// A template's name or slug.
    #[schema(min_length = 1)]
    pub template: String,
    /// The template's default when neither this nor `instance_type` is given; the daemon also
    /// takes lowercase and `_` for `-`. The template must have an instance type for the size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(XS|S|M|L|XL|GPU-S|GPU-M|GPU-L|GPU-XL)$")]
    pub size: Option<String>,
    /// An EC2 instance type offered in the region, in place of a size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[a-z][a-z0-9-]{0,15}\.[a-z0-9]{1,16}$")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<bool>,
    /// One of the account's regions; the daemon's region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32, pattern = r"^[a-z0-9]+(-[a-z0-9]+){1,2}-[0-9]+$")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageRequest>,
    /// Recorded in the `prism:project` tag: 1 to 128 letters, digits, spaces or `_.:/=+-@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9 _.:/=+@-]{1,128}$")]
    pub project: Option<String>,
    /// Recorded in the `prism:budget` tag, with the same characters as `project`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9 _.:/=+@-]{1,128}$")]
    pub budget: Option<String>,
    /// Hours until the time-to-live deadline; none means no deadline.
    #[schema(minimum = 1, maximum = 8784)]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::ttl_hours"
    )]
    pub ttl_hours: Option<i64>,
}

/// Root volume settings for a launch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with ebs_volume_size and ebs_volume_type"
)]
pub struct StorageRequest {
    /// Root volume size in GB.
    #[schema(minimum = 8, maximum = 16384)]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::volume_gb"
    )]
    pub ebs_volume_size: Option<u32>,
    /// `gp3` or `gp2`; the template's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(gp3|gp2)$")]
    pub ebs_volume_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StateChange {
    pub name: String,
    pub previous_state: WorkspaceState,
    pub new_state: WorkspaceState,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ready_time: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object such as {\"confirm\": \"DELETE\"}"
)]
pub struct TerminateRequest {
    /// Must be `DELETE`; a body without it is answered with 400 `CONFIRMATION_REQUIRED`.
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = "^DELETE$")]
    pub confirm: Option<String>,
    /// Snapshot the workspace's volumes first.
    #[serde(default)]
    pub backup_ebs: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TerminateResponse {
    pub name: String,
    pub state: WorkspaceState,
    pub message: String,
    /// Snapshots taken first when `backup_ebs` was asked for.
    pub snapshots: Vec<String>,
}

/// `GET /api/v1/instances/{name}/connect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectInfo {
    pub ssh: SshInfo,
    pub services: BTreeMap<String, ServiceConnect>,
    /// What this answer could not know and why, e.g. for a workspace rebuilt from tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SshInfo {
    pub command: String,
    pub host: String,
    pub user: String,
    pub port: u16,
    pub key_path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// True when the service has a token or password that Prism does not know (a workspace
    /// rebuilt from tags); `token` and `password` are then absent, never made up.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret_unknown: bool,
    /// Why something is missing here, and how to get it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `GET /api/v1/instances/{name}/hibernation-status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
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

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object such as {\"hours\": 4}"
)]
pub struct ExtendRequest {
    /// Hours to add to the deadline (or to now, when it has passed); missing, zero or negative
    /// means 4.
    #[schema(maximum = 8784)]
    #[serde(default, deserialize_with = "whole::extend_hours")]
    pub hours: Option<i64>,
}

/// Whole numbers in request bodies, refused in words a researcher can act on. serde's own
/// messages name Rust types and its float spelling ("invalid type: floating point `1e+20`,
/// expected i64").
mod whole {
    use serde::de::{Deserialize as _, Deserializer, Error as _};

    fn number<'de, D, T>(deserializer: D, field: &str, wanted: &str) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i64>,
    {
        // serde_json keeps a number's text as written (`arbitrary_precision`), so the message
        // quotes exactly what was sent.
        let Some(value) = Option::<serde_json::Value>::deserialize(deserializer)? else {
            return Ok(None);
        };
        // A whole number written with a fraction (`4.0`) is still whole, as JSON Schema's
        // `integer` has it, and the document promises integers.
        let whole = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 2f64.powi(53))
                .map(|f| f as i64)
        });
        whole
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{field} must be {wanted}, not {value}")))
    }

    pub fn extend_hours<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        number(d, "hours", "a whole number of hours, at most 8784")
    }

    pub fn ttl_hours<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        number(d, "ttl_hours", "a whole number of hours from 1 to 8784")
    }

    pub fn volume_gb<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        number(d, "ebs_volume_size", "a whole number of GB from 8 to 16384")
    }
}

// ---------------------------------------------------------------------------------------------
// Daemon

/// `GET /api/v1/daemon/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// When the last successful refresh from EC2 began.
    pub last_refresh: Option<DateTime<Utc>>,
    /// Why the last refresh failed; `None` after a success.
    pub refresh_error: Option<String>,
    /// Seconds since `last_refresh`: how old the list's data is. `None` before the first.
    #[serde(default)]
    pub data_age_seconds: Option<i64>,
    /// The list may be out of date: the last refresh failed, none succeeded yet, or the last
    /// success is older than two poll intervals.
    #[serde(default)]
    pub data_stale: bool,
    /// The daemon's Unix socket, its default transport.
    #[serde(default)]
    pub socket: Option<String>,
    /// Its TCP address, when it serves TCP.
    #[serde(default)]
    pub tcp_address: Option<String>,
    /// Why TCP is not where it was asked to be (the default port was taken), when so.
    #[serde(default)]
    pub tcp_note: Option<String>,
}

/// `POST /api/v1/daemon/rotate-token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RotateTokenResponse {
    pub message: String,
    /// Where the new token is; it is never sent in an answer.
    pub token_file: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShutdownResponse {
    pub message: String,
    pub active_operations: u32,
    pub shutdown_timeout: u32,
    /// The daemon's process id, so that a client can wait for the process to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Events

/// One message on the event stream, `GET /api/v1/ws`: a WebSocket carrying one JSON text frame
/// per event, tagged by `type`.
///
/// The stream tells clients that something changed; it does not replace the list. A client
/// that connects late, or falls behind, re-reads the list (the daemon sends `resync` when it
/// had to drop events for a slow client).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DaemonEvent {
    /// The first message on every connection.
    Hello {
        version: String,
        timestamp: DateTime<Utc>,
    },
    /// A workspace entered a new state; one event per recorded transition.
    InstanceStateChanged(StateChangedEvent),
    /// Events were dropped because this client read too slowly: re-read the list.
    Resync { timestamp: DateTime<Utc> },
    /// An event this client does not know, sent by a newer daemon. Only ever read, never
    /// sent, so it is no part of the stream's schema.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// The body of an `instance_state_changed` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StateChangedEvent {
    pub name: String,
    pub instance_id: Option<String>,
    /// The state before, when one was recorded.
    pub previous_state: Option<WorkspaceState>,
    pub new_state: WorkspaceState,
    /// What caused it: "launch request", "observed in EC2", "stop request" …
    pub reason: String,
    pub timestamp: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Costs

/// `GET /api/v1/costs/current`: what the workspaces cost now and this UTC month, from the
/// recorded state transitions and the price table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CurrentCosts {
    /// Per hour right now: compute of running workspaces plus storage of every existing one.
    pub total_current_hourly: Money,
    /// `total_current_hourly` × 24.
    pub total_daily_projection: Money,
    /// `total_current_hourly` × the hours in a billing month (730).
    pub total_monthly_projection: Money,
    /// The current hourly figure split by what is paid for.
    pub cost_breakdown: CostBreakdown,
    pub hibernation_savings: HibernationSavings,
    /// Workspaces that cost something now, by current hourly cost, highest first; at most ten.
    pub top_cost_drivers: Vec<CostDriver>,
    /// Spend since 00:00 UTC on the first of this month.
    pub month_to_date: Money,
    /// Spend since 00:00 UTC today.
    pub today: Money,
    /// The month `month_to_date` covers, as `YYYY-MM`.
    pub month: String,
    /// Workspaces whose instance type has no price: their spend is not in any total.
    pub unpriced_workspaces: Vec<String>,
    pub price_source: String,
    pub as_of: DateTime<Utc>,
}

/// Hourly cost by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CostBreakdown {
    pub instances: Money,
    pub ebs_storage: Money,
    pub efs_storage: Money,
}

/// Compute not paid because workspaces were hibernated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HibernationSavings {
    /// This UTC month so far.
    pub current_month: Money,
    /// `current_month` extended at the same pace to the whole month.
    pub projected_monthly: Money,
}

/// One workspace's share of the current hourly cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostDriver {
    pub resource: String,
    pub hourly_cost: Money,
    /// Share of `total_current_hourly`, in percent with one decimal (not money).
    pub percentage: f64,
}

/// `GET /api/v1/costs/history?start_date=&end_date=&granularity=`: spend per UTC day (or ISO
/// week, or month) from the recorded transitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostHistory {
    /// e.g. `30_days`.
    pub period: String,
    pub start_date: chrono::NaiveDate,
    pub end_date: chrono::NaiveDate,
    /// `daily`, `weekly` or `monthly`.
    pub granularity: String,
    pub total_cost: Money,
    /// One entry per period, oldest first, including periods that cost nothing. (The name is
    /// the contract's, whatever the granularity.)
    pub daily_costs: Vec<PeriodCost>,
    pub cost_trends: CostTrend,
    /// Workspaces of the range whose instance type has no price: their spend is in no figure
    /// above. (An addition to the contract.)
    pub unpriced_workspaces: Vec<String>,
}

/// Spend in one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeriodCost {
    /// The first day of the period.
    pub date: chrono::NaiveDate,
    pub cost: Money,
    /// Workspaces that existed at some moment of the period.
    pub instances: u32,
    /// Compute not paid while workspaces were hibernated in the period.
    pub hibernation_savings: Money,
}

/// How the latest periods compare with the earlier ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostTrend {
    /// `increasing`, `decreasing`, `stable`, or `insufficient_data`.
    pub trend_direction: String,
    /// Second half of the range against the first, in percent (not money), each half's spend
    /// taken per hour that had passed so that an unfinished today does not read as a fall;
    /// absent when the first half cost nothing.
    pub percentage_change: Option<f64>,
    /// The workspace that spent most in the range.
    pub primary_driver: Option<String>,
}
