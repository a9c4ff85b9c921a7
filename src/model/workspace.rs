//! Workspaces: their names, their states, and the rules that move between them.
//!
//! EC2 knows six instance states; a researcher cares about more (a stop that was really a
//! hibernation, a start that is really a resume). [`derive_state`] combines what EC2 reports with
//! the last action Prism asked for, so the state shown is always grounded in EC2's answer.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use serde::{Deserialize, Serialize};

/// The states the API reports, by the contract's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceState {
    /// Accepted by Prism; the instance is being prepared or has just been requested.
    Launching,
    /// Booting after a start request.
    Starting,
    Running,
    Stopping,
    Stopped,
    Hibernating,
    Hibernated,
    /// Booting after a hibernation, restoring memory.
    Resuming,
    Terminating,
    Terminated,
    /// The launch did not produce an instance; `launch_error` says why.
    Failed,
}

impl WorkspaceState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceState::Launching => "launching",
            WorkspaceState::Starting => "starting",
            WorkspaceState::Running => "running",
            WorkspaceState::Stopping => "stopping",
            WorkspaceState::Stopped => "stopped",
            WorkspaceState::Hibernating => "hibernating",
            WorkspaceState::Hibernated => "hibernated",
            WorkspaceState::Resuming => "resuming",
            WorkspaceState::Terminating => "terminating",
            WorkspaceState::Terminated => "terminated",
            WorkspaceState::Failed => "failed",
        }
    }

    /// True once nothing more can happen to the workspace; its name is free again.
    pub fn is_final(self) -> bool {
        matches!(self, WorkspaceState::Terminated | WorkspaceState::Failed)
    }

    /// Whether EC2 bills compute in this state. Hibernation bills while memory is being saved.
    pub fn bills_compute(self) -> bool {
        matches!(self, WorkspaceState::Running | WorkspaceState::Hibernating)
    }

    /// Whether the workspace's volumes exist (and so bill storage) in this state.
    pub fn bills_storage(self) -> bool {
        !matches!(
            self,
            WorkspaceState::Launching
                | WorkspaceState::Terminating
                | WorkspaceState::Terminated
                | WorkspaceState::Failed
        )
    }
}

impl fmt::Display for WorkspaceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason a state name was not recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workspace state '{0}'")]
pub struct UnknownState(pub String);

impl FromStr for WorkspaceState {
    type Err = UnknownState;
    fn from_str(text: &str) -> Result<WorkspaceState, UnknownState> {
        use WorkspaceState::*;
        [
            Launching,
            Starting,
            Running,
            Stopping,
            Stopped,
            Hibernating,
            Hibernated,
            Resuming,
            Terminating,
            Terminated,
            Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| UnknownState(text.to_string()))
    }
}

/// EC2's own instance states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ec2State {
    Pending,
    Running,
    Stopping,
    Stopped,
    ShuttingDown,
    Terminated,
}

impl Ec2State {
    pub fn from_name(name: &str) -> Option<Ec2State> {
        Some(match name {
            "pending" => Ec2State::Pending,
            "running" => Ec2State::Running,
            "stopping" => Ec2State::Stopping,
            "stopped" => Ec2State::Stopped,
            "shutting-down" => Ec2State::ShuttingDown,
            "terminated" => Ec2State::Terminated,
            _ => return None,
        })
    }
}

/// The last lifecycle action asked of a workspace, kept so its state can be named properly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Launch,
    Stop,
    Start,
    Hibernate,
    Resume,
    Terminate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Launch => "launch",
            Action::Stop => "stop",
            Action::Start => "start",
            Action::Hibernate => "hibernate",
            Action::Resume => "resume",
            Action::Terminate => "terminate",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Some(match name {
            "launch" => Action::Launch,
            "stop" => Action::Stop,
            "start" => Action::Start,
            "hibernate" => Action::Hibernate,
            "resume" => Action::Resume,
            "terminate" => Action::Terminate,
            _ => return None,
        })
    }
}

/// Names EC2's state in the contract's words.
///
/// `hibernated` needs both a hibernate request (or EC2 saying the stop was a hibernation) and an
/// instance configured for hibernation; anything else that stopped is `stopped`.
pub fn derive_state(
    ec2: Ec2State,
    last_action: Action,
    hibernation_configured: bool,
    ec2_says_hibernated: bool,
) -> WorkspaceState {
    let hibernating = hibernation_configured
        && (last_action == Action::Hibernate || ec2_says_hibernated && last_action != Action::Stop);
    match ec2 {
        Ec2State::Pending => match last_action {
            Action::Launch => WorkspaceState::Launching,
            Action::Resume => WorkspaceState::Resuming,
            _ => WorkspaceState::Starting,
        },
        Ec2State::Running => WorkspaceState::Running,
        Ec2State::Stopping if hibernating => WorkspaceState::Hibernating,
        Ec2State::Stopping => WorkspaceState::Stopping,
        Ec2State::Stopped if hibernating => WorkspaceState::Hibernated,
        Ec2State::Stopped => WorkspaceState::Stopped,
        Ec2State::ShuttingDown => WorkspaceState::Terminating,
        Ec2State::Terminated => WorkspaceState::Terminated,
    }
}

/// Why a requested action cannot be applied in the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a workspace that is {state}")]
pub struct InvalidTransition {
    pub action: &'static str,
    pub state: WorkspaceState,
}

/// Checks that `action` makes sense now; EC2 would refuse or ignore most of these anyway, but a
/// clear answer before any AWS call is kinder.
pub fn check_transition(state: WorkspaceState, action: Action) -> Result<(), InvalidTransition> {
    use WorkspaceState as S;
    let allowed = match action {
        Action::Launch => false,
        Action::Stop | Action::Hibernate => matches!(state, S::Running),
        Action::Start => matches!(state, S::Stopped | S::Hibernated),
        Action::Resume => matches!(state, S::Hibernated),
        Action::Terminate => !matches!(state, S::Terminated | S::Failed | S::Terminating),
    };
    if allowed {
        Ok(())
    } else {
        Err(InvalidTransition {
            action: action.as_str(),
            state,
        })
    }
}

/// Why a workspace name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a workspace name cannot be empty")]
    Empty,
    #[error("'{0}' is longer than 63 characters")]
    TooLong(String),
    #[error(
        "'{0}' is not DNS-safe: use lowercase letters, digits and hyphens, starting with a \
         letter and not ending with a hyphen"
    )]
    NotDnsSafe(String),
    #[error(
        "'{0}' looks like an EC2 instance id ('i-' and hex digits); workspaces are found by \
         name or by instance id, so a name must not look like one"
    )]
    LooksLikeInstanceId(String),
}

/// Whether `text` has the shape of an EC2 instance id: `i-` followed by hex digits.
pub fn looks_like_instance_id(text: &str) -> bool {
    text.strip_prefix("i-")
        .is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Checks that a workspace name is a DNS label (RFC 1123, lowercase, starting with a letter), so
/// it is safe as a host name, a tag value, a file name and a URL path segment.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > 63 {
        return Err(NameError::TooLong(name.to_string()));
    }
    let starts_ok = name.starts_with(|c: char| c.is_ascii_lowercase());
    let ends_ok = !name.ends_with('-');
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(starts_ok && ends_ok && chars_ok) {
        return Err(NameError::NotDnsSafe(name.to_string()));
    }
    if looks_like_instance_id(name) {
        return Err(NameError::LooksLikeInstanceId(name.to_string()));
    }
    Ok(())
}

/// Hours added by `extend` when the request names none, as the contract says.
pub const DEFAULT_EXTEND_HOURS: i64 = 4;

/// The longest single extension accepted: a year. Longer is almost certainly a typo.
pub const MAX_EXTEND_HOURS: i64 = 24 * 366;

/// Why an extension was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot extend by {0} hours; the most is {MAX_EXTEND_HOURS} hours at a time")]
pub struct ExtendTooLong(pub i64);

/// The new time-to-live deadline after extending by `hours`.
///
/// Missing or non-positive hours mean [`DEFAULT_EXTEND_HOURS`], per the contract. Hours are
/// added to the current deadline, or to now when there is none or it has already passed: a
/// researcher extending an expired workspace wants time from now, not time in the past.
pub fn extend_ttl(
    current: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    hours: Option<i64>,
) -> Result<DateTime<Utc>, ExtendTooLong> {
    let hours = match hours {
        Some(h) if h > 0 => h,
        _ => DEFAULT_EXTEND_HOURS,
    };
    if hours > MAX_EXTEND_HOURS {
        return Err(ExtendTooLong(hours));
    }
    let from = match current {
        Some(deadline) if deadline > now => deadline,
        _ => now,
    };
    // Deadlines are kept to the second, as the RFC 3339 tag shows them.
    Ok(from.trunc_subsecs(0) + Duration::hours(hours))
}

/// Formats a duration the way the contract shows uptimes: `2h 45m 30s`, `4h 30m`, `45s`.
pub fn human_duration(seconds: i64, with_seconds: bool) -> String {
    let seconds = seconds.max(0);
    let days = seconds / 86_400;
    let hours = (seconds % 86_400) / 3600;
    let minutes = (seconds % 3600) / 60;
    let secs = seconds % 60;
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 || days > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 || hours > 0 || days > 0 || !with_seconds {
        parts.push(format!("{minutes}m"));
    }
    if with_seconds {
        parts.push(format!("{secs}s"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rstest::rstest;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, 0, 0)
            .single()
            .expect("valid time")
    }

    #[rstest]
    #[case("my-ml-research")]
    #[case("a")]
    #[case("gpu2")]
    #[case("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123")]
    fn accepts_dns_labels(#[case] name: &str) {
        assert_eq!(validate_name(name), Ok(()));
    }

    #[rstest]
    #[case("", NameError::Empty)]
    #[case("My-Box", NameError::NotDnsSafe("My-Box".into()))]
    #[case("2fast", NameError::NotDnsSafe("2fast".into()))]
    #[case("trailing-", NameError::NotDnsSafe("trailing-".into()))]
    #[case("has space", NameError::NotDnsSafe("has space".into()))]
    #[case("dot.name", NameError::NotDnsSafe("dot.name".into()))]
    #[case("ünïcode", NameError::NotDnsSafe("ünïcode".into()))]
    fn refuses_unsafe_names(#[case] name: &str, #[case] error: NameError) {
        assert_eq!(validate_name(name), Err(error));
    }

    /// Regression: a workspace named `i-0abc…` was accepted, and then `show` (which matched the
    /// instance id) and the actions (which matched the name) meant different workspaces.
    #[rstest]
    #[case("i-0abc123def4567890")]
    #[case("i-deadbeef")]
    #[case("i-1")]
    fn refuses_names_that_look_like_instance_ids(#[case] name: &str) {
        let error = validate_name(name).expect_err("refused");
        assert_eq!(error, NameError::LooksLikeInstanceId(name.into()));
        assert!(error.to_string().contains("instance id"), "{error}");
    }

    #[rstest]
    #[case("i-am-analysis")]
    #[case("i-")]
    #[case("ideadbeef")]
    #[case("i-beef-2")]
    fn names_starting_with_i_are_fine_otherwise(#[case] name: &str) {
        assert!(!looks_like_instance_id(name), "{name}");
    }

    #[test]
    fn refuses_names_over_63() {
        let long = "a".repeat(64);
        assert_eq!(validate_name(&long), Err(NameError::TooLong(long.clone())));
    }

    #[rstest]
    #[case(Ec2State::Pending, Action::Launch, false, WorkspaceState::Launching)]
    #[case(Ec2State::Pending, Action::Start, false, WorkspaceState::Starting)]
    #[case(Ec2State::Pending, Action::Resume, true, WorkspaceState::Resuming)]
    #[case(
        Ec2State::Stopping,
        Action::Hibernate,
        true,
        WorkspaceState::Hibernating
    )]
    #[case(Ec2State::Stopped, Action::Hibernate, true, WorkspaceState::Hibernated)]
    #[case(Ec2State::Stopped, Action::Hibernate, false, WorkspaceState::Stopped)]
    #[case(Ec2State::Stopped, Action::Stop, true, WorkspaceState::Stopped)]
    #[case(
        Ec2State::ShuttingDown,
        Action::Terminate,
        false,
        WorkspaceState::Terminating
    )]
    #[case(Ec2State::Terminated, Action::Stop, false, WorkspaceState::Terminated)]
    fn states_follow_ec2_and_intent(
        #[case] ec2: Ec2State,
        #[case] action: Action,
        #[case] configured: bool,
        #[case] expected: WorkspaceState,
    ) {
        assert_eq!(derive_state(ec2, action, configured, false), expected);
    }

    #[test]
    fn ec2_reported_hibernation_counts_without_our_request() {
        let state = derive_state(Ec2State::Stopped, Action::Launch, true, true);
        assert_eq!(state, WorkspaceState::Hibernated);
    }

    #[test]
    fn transitions_are_checked() {
        assert!(check_transition(WorkspaceState::Running, Action::Stop).is_ok());
        assert!(check_transition(WorkspaceState::Hibernated, Action::Resume).is_ok());
        assert!(check_transition(WorkspaceState::Hibernated, Action::Start).is_ok());
        assert!(check_transition(WorkspaceState::Stopped, Action::Resume).is_err());
        assert!(check_transition(WorkspaceState::Stopped, Action::Stop).is_err());
        assert!(check_transition(WorkspaceState::Launching, Action::Terminate).is_ok());
        assert!(check_transition(WorkspaceState::Terminated, Action::Terminate).is_err());
    }

    #[rstest]
    #[case(None, Some(2), at(12))]
    #[case(None, None, at(14))]
    #[case(None, Some(0), at(14))]
    #[case(None, Some(-5), at(14))]
    #[case(Some(at(18)), Some(3), at(21))]
    #[case(Some(at(4)), Some(3), at(13))]
    fn extend_adds_to_deadline_or_now(
        #[case] current: Option<DateTime<Utc>>,
        #[case] hours: Option<i64>,
        #[case] expected: DateTime<Utc>,
    ) {
        assert_eq!(extend_ttl(current, at(10), hours), Ok(expected));
    }

    #[test]
    fn extend_refuses_absurd_hours() {
        assert_eq!(
            extend_ttl(None, at(10), Some(100_000)),
            Err(ExtendTooLong(100_000))
        );
    }

    #[rstest]
    #[case(9930, true, "2h 45m 30s")]
    #[case(16200, false, "4h 30m")]
    #[case(45, true, "45s")]
    #[case(90_061, true, "1d 1h 1m 1s")]
    fn durations_read_like_the_contract(
        #[case] secs: i64,
        #[case] with_seconds: bool,
        #[case] text: &str,
    ) {
        assert_eq!(human_duration(secs, with_seconds), text);
    }
}
