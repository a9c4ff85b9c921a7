//! What the dashboard knows: the daemon's last answers, kept as plain data so that every
//! screen renders from it and tests build it by hand.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::client::ClientError;
use crate::model::api::{
    ConnectInfo, CostHistory, CurrentCosts, DaemonStatus, StateChangedEvent, TemplateInfo,
    TemplateSummary, ValidationSummary, Workspace,
};
use crate::model::workspace::WorkspaceState;

/// How many state changes the dashboard remembers.
pub const RECENT_EVENTS: usize = 50;

/// A failed call, reduced to what the screen shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchError {
    /// Nothing answered (as opposed to an answer that said no).
    pub unreachable: bool,
    /// The API's error code, when the daemon gave one (e.g. `NOT_IMPLEMENTED`).
    pub code: Option<String>,
    pub message: String,
    pub remediation: String,
}

impl FetchError {
    /// One line for the message bar: the message and what to do.
    pub fn line(&self) -> String {
        if self.remediation.is_empty() {
            self.message.clone()
        } else {
            format!("{} — {}", self.message, self.remediation)
        }
    }

    /// Whether the daemon said this part of the API is not built yet.
    pub fn not_served(&self) -> bool {
        self.code.as_deref() == Some("NOT_IMPLEMENTED")
    }
}

impl From<&ClientError> for FetchError {
    fn from(error: &ClientError) -> FetchError {
        FetchError {
            unreachable: matches!(error, ClientError::Unreachable { .. }),
            code: error.code().map(str::to_string),
            message: match error.details() {
                Some(details) => format!("{error} ({details})"),
                None => error.to_string(),
            },
            remediation: error.remediation(),
        }
    }
}

impl From<ClientError> for FetchError {
    fn from(error: ClientError) -> FetchError {
        FetchError::from(&error)
    }
}

/// Something the daemon may or may not serve.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Availability<T> {
    /// Not asked yet.
    #[default]
    Unknown,
    Loaded(T),
    /// The daemon answered that it does not serve this yet; its message.
    NotServed(String),
    /// The call failed for another reason; the last good value stays in `Loaded` elsewhere.
    Failed(FetchError),
}

impl<T> Availability<T> {
    pub fn from_result(result: Result<T, FetchError>) -> Availability<T> {
        match result {
            Ok(value) => Availability::Loaded(value),
            Err(error) if error.not_served() => Availability::NotServed(error.message),
            Err(error) => Availability::Failed(error),
        }
    }

    pub fn loaded(&self) -> Option<&T> {
        match self {
            Availability::Loaded(value) => Some(value),
            _ => None,
        }
    }
}

/// Parts of the API the dashboard probes to learn whether the daemon serves them yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    Storage,
    Budgets,
    Projects,
    Idle,
}

impl Area {
    pub const ALL: [Area; 4] = [Area::Storage, Area::Budgets, Area::Projects, Area::Idle];

    /// The API path segments probed.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Area::Storage => &["storage", "volumes"],
            Area::Budgets => &["budgets"],
            Area::Projects => &["projects"],
            Area::Idle => &["idle", "profiles"],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Area::Storage => "storage (EFS and EBS volumes)",
            Area::Budgets => "budget pools",
            Area::Projects => "projects",
            Area::Idle => "idle detection",
        }
    }
}

/// Whether the daemon is answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// No answer yet since start.
    Connecting,
    Up,
    /// The last poll got no answer.
    Down {
        reason: String,
        since: DateTime<Utc>,
    },
}

/// Everything fetched from the daemon.
#[derive(Clone, Debug)]
pub struct Data {
    pub link: Link,
    /// The daemon's address, for the banner.
    pub daemon_url: String,
    /// When the last poll succeeded; the age in the header counts from here.
    pub polled_at: Option<DateTime<Utc>>,
    pub status: Option<DaemonStatus>,
    /// `None` until the first list arrives.
    pub workspaces: Option<Vec<Workspace>>,
    pub templates: Option<Vec<TemplateSummary>>,
    pub validation: Option<ValidationSummary>,
    /// Resolved template details by slug, fetched when a template is looked at.
    pub template_info: HashMap<String, TemplateInfo>,
    pub costs: Availability<CurrentCosts>,
    pub history: Availability<CostHistory>,
    pub areas: BTreeMap<Area, Availability<()>>,
    /// Newest first.
    pub events: VecDeque<StateChangedEvent>,
    /// Whether the live event stream is connected.
    pub streaming: bool,
    /// The connect details last fetched, by workspace name.
    pub connect: HashMap<String, ConnectInfo>,
}

impl Data {
    pub fn new(daemon_url: &str) -> Data {
        Data {
            link: Link::Connecting,
            daemon_url: daemon_url.to_string(),
            polled_at: None,
            status: None,
            workspaces: None,
            templates: None,
            validation: None,
            template_info: HashMap::new(),
            costs: Availability::Unknown,
            history: Availability::Unknown,
            areas: BTreeMap::new(),
            events: VecDeque::new(),
            streaming: false,
            connect: HashMap::new(),
        }
    }

    /// The workspaces, or none before the first answer.
    pub fn workspaces(&self) -> &[Workspace] {
        self.workspaces.as_deref().unwrap_or(&[])
    }

    /// The workspace with this name: the live one when the name was used before (a
    /// terminated workspace keeps its row for an hour), else the latest.
    pub fn workspace(&self, name: &str) -> Option<&Workspace> {
        let mut named = self.workspaces().iter().filter(|w| w.name == name);
        let all: Vec<&Workspace> = named.by_ref().collect();
        all.iter()
            .find(|w| !w.state.is_final())
            .or_else(|| all.iter().max_by_key(|w| w.created_at))
            .copied()
    }

    pub fn templates(&self) -> &[TemplateSummary] {
        self.templates.as_deref().unwrap_or(&[])
    }

    /// Whether the data on screen is older than a poll that failed.
    pub fn is_stale(&self) -> bool {
        matches!(self.link, Link::Down { .. })
    }

    /// Records an event and applies its state to the listed workspace at once, ahead of the
    /// next poll.
    pub fn apply_event(&mut self, event: StateChangedEvent) {
        // The instance id tells a reused name's workspaces apart; without one (a launch not
        // yet in EC2) the live workspace of that name is meant.
        let target = self.workspaces.as_ref().and_then(|list| {
            list.iter()
                .position(|w| event.instance_id.is_some() && w.id == event.instance_id)
                .or_else(|| {
                    list.iter()
                        .position(|w| w.name == event.name && !w.state.is_final())
                })
        });
        if let (Some(list), Some(index)) = (self.workspaces.as_mut(), target)
            && let Some(workspace) = list.get_mut(index)
            && event.timestamp >= workspace.state_since
        {
            workspace.state = event.new_state;
            workspace.state_since = event.timestamp;
            if workspace.id.is_none() {
                workspace.id = event.instance_id.clone();
            }
        }
        self.events.push_front(event);
        self.events.truncate(RECENT_EVENTS);
    }
}

/// A short glyph that goes with each state, so that state never rests on colour alone.
/// ASCII on purpose: box-drawing dots are double width in some CJK terminal settings.
pub fn state_glyph(state: WorkspaceState) -> &'static str {
    use WorkspaceState as S;
    match state {
        S::Running => "+",
        S::Stopped => "-",
        S::Hibernated => "z",
        S::Terminated => "x",
        S::Failed => "!",
        S::Launching
        | S::Starting
        | S::Stopping
        | S::Hibernating
        | S::Resuming
        | S::Terminating => "~",
    }
}

/// What a workspace state means for the theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Danger,
    Muted,
}

pub fn state_tone(state: WorkspaceState) -> Tone {
    use WorkspaceState as S;
    match state {
        S::Running => Tone::Ok,
        S::Failed => Tone::Danger,
        S::Stopped | S::Hibernated | S::Terminated => Tone::Muted,
        _ => Tone::Warn,
    }
}
