//! The dashboard's state and its update rule: a message in, the new state and the work to do
//! out.
//!
//! [`App::update`] is the only place state changes. It never performs I/O: it returns
//! [`Effect`]s (fetch this, send that) which the event loop hands to the worker, and the
//! worker's answers come back as messages. That keeps every decision — what a key does, when
//! to poll, what an error looks like — testable without a terminal or a daemon.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyEvent, KeyEventKind};

use super::action::TAB_COUNT;
use super::data::{Area, Availability, Data, FetchError, Link};
use super::keymap::Keymap;
use super::popups::Popup;
use super::screens::{templates::TemplatesView, workspaces::WorkspacesView};
use super::widgets::text_input::TextInput;
use crate::model::api::{
    ConnectInfo, CostHistory, CurrentCosts, DaemonEvent, DaemonStatus, LaunchRequest, TemplateInfo,
    TemplateSummary, ValidationSummary, Workspace,
};
use crate::model::workspace::WorkspaceState;

/// How soon to retry while the daemon does not answer, at most.
const RETRY_WHILE_DOWN: Duration = Duration::seconds(5);

/// How soon after a state-change event to re-read the list (addresses and spend change too).
const AFTER_EVENT: Duration = Duration::seconds(2);

/// The message shown while a refresh asked for by the user is under way.
pub const REFRESHING: &str = "refreshing from the daemon…";

/// How often to poll while a workspace is between states.
const WHILE_MOVING: Duration = Duration::seconds(5);

fn in_transition(state: WorkspaceState) -> bool {
    use WorkspaceState as S;
    matches!(
        state,
        S::Launching | S::Starting | S::Stopping | S::Hibernating | S::Resuming | S::Terminating
    )
}

/// The tabs, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tab {
    Dashboard,
    Workspaces,
    Templates,
    Storage,
    Costs,
    Budgets,
    Projects,
    Idle,
}

impl Tab {
    pub const ALL: [Tab; TAB_COUNT as usize] = [
        Tab::Dashboard,
        Tab::Workspaces,
        Tab::Templates,
        Tab::Storage,
        Tab::Costs,
        Tab::Budgets,
        Tab::Projects,
        Tab::Idle,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Dashboard => "Dashboard",
            Tab::Workspaces => "Workspaces",
            Tab::Templates => "Templates",
            Tab::Storage => "Storage",
            Tab::Costs => "Costs",
            Tab::Budgets => "Budgets",
            Tab::Projects => "Projects",
            Tab::Idle => "Idle",
        }
    }

    /// A shorter title for narrow terminals.
    pub fn short_title(self) -> &'static str {
        match self {
            Tab::Dashboard => "Dash",
            Tab::Workspaces => "Workspaces",
            Tab::Templates => "Templates",
            other => other.title(),
        }
    }

    /// 1-based, as the number keys choose it.
    pub fn number(self) -> u8 {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0) as u8 + 1
    }

    pub fn from_number(n: u8) -> Option<Tab> {
        Tab::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// By name (any case, any prefix of at least three letters) or number.
    pub fn find(text: &str) -> Option<Tab> {
        if let Ok(n) = text.parse::<u8>() {
            return Tab::from_number(n);
        }
        let lower = text.to_ascii_lowercase();
        Tab::ALL.into_iter().find(|tab| {
            let title = tab.title().to_ascii_lowercase();
            title == lower || (lower.len() >= 3 && title.starts_with(&lower))
        })
    }

    pub fn names() -> String {
        Tab::ALL
            .iter()
            .map(|t| t.title().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The area of the API this tab shows, when it is one the daemon may not serve yet.
    pub fn area(self) -> Option<Area> {
        match self {
            Tab::Storage => Some(Area::Storage),
            Tab::Budgets => Some(Area::Budgets),
            Tab::Projects => Some(Area::Projects),
            Tab::Idle => Some(Area::Idle),
            _ => None,
        }
    }
}

/// Something to fetch. At most one of each is in flight at a time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fetch {
    /// Daemon status and the workspace list.
    Poll,
    /// Templates and their validation.
    Templates,
    TemplateInfo(String),
    /// Current costs and the 30-day history.
    Costs,
    Probe(Area),
    Connect(String),
}

/// The workspace a change is for. Changes go to the daemon by instance id when there is one,
/// so that a dialog opened for one workspace can never act on another that took its name
/// meanwhile (a terminate and a new launch while the dialog was open); by name before the
/// launch has reached EC2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub id: Option<String>,
}

impl Target {
    pub fn of(workspace: &Workspace) -> Target {
        Target {
            name: workspace.name.clone(),
            id: workspace.id.clone(),
        }
    }

    /// What the daemon is asked about: the instance id, or the name.
    pub fn key(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.name)
    }
}

/// A change asked of the daemon.
#[derive(Clone, Debug, PartialEq)]
pub enum Mutation {
    Launch(LaunchRequest),
    Stop(Target),
    Start(Target),
    Resume(Target),
    Hibernate(Target),
    Terminate { target: Target, backup: bool },
    Extend { target: Target, hours: i64 },
}

impl Mutation {
    /// The workspace it acts on, by name.
    pub fn name(&self) -> &str {
        match self {
            Mutation::Launch(request) => &request.name,
            Mutation::Stop(target)
            | Mutation::Start(target)
            | Mutation::Resume(target)
            | Mutation::Hibernate(target) => &target.name,
            Mutation::Terminate { target, .. } | Mutation::Extend { target, .. } => &target.name,
        }
    }

    /// What is happening, for the message bar: "stopping 'x'".
    pub fn doing(&self) -> String {
        let verb = match self {
            Mutation::Launch(_) => "launching",
            Mutation::Stop(_) => "stopping",
            Mutation::Start(_) => "starting",
            Mutation::Resume(_) => "resuming",
            Mutation::Hibernate(_) => "hibernating",
            Mutation::Terminate { .. } => "terminating",
            Mutation::Extend { .. } => "extending",
        };
        format!("{verb} '{}'…", self.name())
    }
}

/// Work for the event loop to start.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Fetch(Fetch),
    Mutate(Mutation),
}

/// An answer from the worker. Replies travel boxed inside [`Msg::Reply`] and are moved once,
/// so their variants are not boxed again.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Reply {
    Poll {
        /// The address that was asked, which may have changed if the daemon restarted.
        url: String,
        status: Result<DaemonStatus, FetchError>,
        workspaces: Result<Vec<Workspace>, FetchError>,
    },
    Templates(
        Result<Vec<TemplateSummary>, FetchError>,
        Result<ValidationSummary, FetchError>,
    ),
    TemplateInfo(String, Result<TemplateInfo, FetchError>),
    Costs(
        Result<CurrentCosts, FetchError>,
        Result<CostHistory, FetchError>,
    ),
    Probe(Area, Result<(), FetchError>),
    Connect(String, Result<ConnectInfo, FetchError>),
    /// A mutation's outcome: the daemon's message, or why it refused.
    Mutated(Mutation, Result<String, FetchError>),
}

impl Reply {
    fn fetch(&self) -> Option<Fetch> {
        Some(match self {
            Reply::Poll { .. } => Fetch::Poll,
            Reply::Templates(..) => Fetch::Templates,
            Reply::TemplateInfo(slug, _) => Fetch::TemplateInfo(slug.clone()),
            Reply::Costs(..) => Fetch::Costs,
            Reply::Probe(area, _) => Fetch::Probe(*area),
            Reply::Connect(name, _) => Fetch::Connect(name.clone()),
            Reply::Mutated(..) => return None,
        })
    }
}

/// News from the event-stream task.
#[derive(Clone, Debug)]
pub enum Stream {
    Connected,
    Event(DaemonEvent),
    Lost(String),
}

/// Everything that can happen to the dashboard.
#[derive(Clone, Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste): it goes to the focused text field as
    /// text, never as keys.
    Paste(String),
    /// The clock moved on; polls are scheduled from here.
    Tick(DateTime<Utc>),
    Reply(Box<Reply>),
    Stream(Stream),
}

/// Stores a new answer, except that a failed refresh keeps the last good figures on screen.
fn keep_on_failure<T>(old: &mut Availability<T>, new: Availability<T>) {
    if !(matches!(new, Availability::Failed(_)) && old.loaded().is_some()) {
        *old = new;
    }
}

impl Msg {
    pub fn reply(reply: Reply) -> Msg {
        Msg::Reply(Box::new(reply))
    }
}

/// A line in the message bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    pub at: DateTime<Utc>,
}

/// The bottom input line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Command,
    Filter,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: TextInput,
}

/// Settings fixed for the session.
#[derive(Clone, Debug)]
pub struct Settings {
    pub refresh_every: Duration,
    pub readonly: bool,
}

/// The whole dashboard.
#[derive(Clone, Debug)]
pub struct App {
    pub data: Data,
    pub tab: Tab,
    pub workspaces: WorkspacesView,
    pub templates: TemplatesView,
    /// The selected running workspace on the dashboard.
    pub dashboard_selected: Option<String>,
    pub popup: Option<Popup>,
    pub prompt: Option<Prompt>,
    pub message: Option<Message>,
    pub keymap: Keymap,
    pub settings: Settings,
    pub now: DateTime<Utc>,
    pub quit: bool,
    /// Set by `:debug-panic`; the event loop panics when it sees it.
    pub panic_requested: bool,
    in_flight: BTreeSet<Fetch>,
    next_poll: DateTime<Utc>,
    /// Templates, costs and probes: on start, on refresh, and with every poll for costs.
    probed: bool,
}

impl App {
    pub fn new(data: Data, keymap: Keymap, settings: Settings, now: DateTime<Utc>) -> App {
        App {
            data,
            tab: Tab::Dashboard,
            workspaces: WorkspacesView::default(),
            templates: TemplatesView::default(),
            dashboard_selected: None,
            popup: None,
            prompt: None,
            message: None,
            keymap,
            settings,
            now,
            quit: false,
            panic_requested: false,
            in_flight: BTreeSet::new(),
            next_poll: now,
            probed: false,
        }
    }

    /// Whether a fetch is under way (for tests and the header's spinner).
    pub fn is_fetching(&self, fetch: &Fetch) -> bool {
        self.in_flight.contains(fetch)
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
            at: self.now,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
            at: self.now,
        });
    }

    /// Queues a fetch unless the same one is already running.
    fn fetch(&mut self, fetch: Fetch, effects: &mut Vec<Effect>) {
        if self.in_flight.insert(fetch.clone()) {
            effects.push(Effect::Fetch(fetch));
        }
    }

    /// The one entry point: applies a message and returns the work to start.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            Msg::Tick(now) => {
                self.now = now;
                self.schedule(&mut effects);
            }
            Msg::Paste(text) => self.on_paste(&text),
            Msg::Key(key) => {
                if key.kind != KeyEventKind::Release {
                    self.on_key(key, &mut effects);
                }
            }
            Msg::Reply(reply) => self.on_reply(*reply, &mut effects),
            Msg::Stream(news) => self.on_stream(news, &mut effects),
        }
        effects
    }

    fn schedule(&mut self, effects: &mut Vec<Effect>) {
        if self.now >= self.next_poll {
            self.fetch(Fetch::Poll, effects);
            self.fetch(Fetch::Costs, effects);
        }
        if !self.probed {
            self.probed = true;
            self.fetch(Fetch::Templates, effects);
            for area in Area::ALL {
                self.fetch(Fetch::Probe(area), effects);
            }
        }
    }

    /// Asks for everything again now.
    fn refresh_all(&mut self, effects: &mut Vec<Effect>) {
        self.next_poll = self.now;
        self.probed = false;
        self.schedule(effects);
        if let Some(slug) = self.templates.selected_slug(&self.data) {
            self.data.template_info.remove(&slug);
            self.fetch(Fetch::TemplateInfo(slug), effects);
        }
    }

    fn on_stream(&mut self, news: Stream, effects: &mut Vec<Effect>) {
        match news {
            Stream::Connected => {
                self.data.streaming = true;
                if self.data.is_stale() {
                    self.next_poll = self.now;
                    self.schedule(effects);
                }
            }
            Stream::Event(DaemonEvent::InstanceStateChanged(event)) => {
                self.data.apply_event(event);
                self.next_poll = self.next_poll.min(self.now + AFTER_EVENT);
            }
            Stream::Event(DaemonEvent::Resync { .. }) => {
                self.next_poll = self.now;
                self.schedule(effects);
            }
            Stream::Event(DaemonEvent::Hello { .. } | DaemonEvent::Unknown) => {}
            Stream::Lost(reason) => {
                let was = std::mem::replace(&mut self.data.streaming, false);
                if was {
                    tracing::info!(%reason, "event stream lost");
                    // The daemon may be gone: find out now rather than at the next poll.
                    self.next_poll = self.now;
                    self.schedule(effects);
                }
            }
        }
    }

    fn on_reply(&mut self, reply: Reply, effects: &mut Vec<Effect>) {
        if let Some(fetch) = reply.fetch() {
            self.in_flight.remove(&fetch);
        }
        match reply {
            Reply::Poll {
                url,
                status,
                workspaces,
            } => {
                self.data.daemon_url = url;
                let down = [status.as_ref().err(), workspaces.as_ref().err()]
                    .into_iter()
                    .flatten()
                    .find(|e| e.unreachable)
                    .cloned();
                match down {
                    Some(error) => {
                        let since = match &self.data.link {
                            Link::Down { since, .. } => *since,
                            _ => self.now,
                        };
                        self.data.link = Link::Down {
                            reason: error.message,
                            since,
                        };
                        self.next_poll =
                            self.now + self.settings.refresh_every.min(RETRY_WHILE_DOWN);
                    }
                    None => {
                        let recovered = self.data.is_stale();
                        self.data.link = Link::Up;
                        // While something is on its way (launching, stopping …) its progress
                        // is worth seeing sooner than a full interval.
                        let moving = workspaces
                            .as_ref()
                            .is_ok_and(|list| list.iter().any(|w| in_transition(w.state)));
                        let wait = if moving {
                            self.settings.refresh_every.min(WHILE_MOVING)
                        } else {
                            self.settings.refresh_every
                        };
                        self.next_poll = self.now + wait;
                        match status {
                            Ok(status) => self.data.status = Some(status),
                            Err(error) => self.error(format!("daemon status: {}", error.line())),
                        }
                        match workspaces {
                            Ok(list) => {
                                self.data.workspaces = Some(list);
                                self.data.polled_at = Some(self.now);
                            }
                            Err(error) => self.error(format!("workspace list: {}", error.line())),
                        }
                        if self.message.as_ref().is_some_and(|m| m.text == REFRESHING) {
                            self.message = None;
                        }
                        if recovered {
                            self.info("daemon reachable again");
                            // Whatever was asked while it was away is worth asking again.
                            self.probed = false;
                            self.schedule(effects);
                        }
                    }
                }
            }
            Reply::Templates(list, validation) => {
                match list {
                    Ok(list) => self.data.templates = Some(list),
                    Err(error) if !error.unreachable => {
                        self.error(format!("templates: {}", error.line()));
                    }
                    Err(_) => self.probed = false,
                }
                if let Ok(validation) = validation {
                    self.data.validation = Some(validation);
                }
                self.want_template_info(effects);
            }
            Reply::TemplateInfo(slug, result) => match result {
                Ok(info) => {
                    self.data.template_info.insert(slug, info);
                }
                Err(error) => {
                    if !error.unreachable {
                        self.error(format!("template '{slug}': {}", error.line()));
                    }
                }
            },
            Reply::Costs(current, history) => {
                keep_on_failure(&mut self.data.costs, Availability::from_result(current));
                keep_on_failure(&mut self.data.history, Availability::from_result(history));
            }
            Reply::Probe(area, result) => {
                let availability = Availability::from_result(result);
                if let Availability::Failed(error) = &availability
                    && error.unreachable
                {
                    self.probed = false;
                }
                self.data.areas.insert(area, availability);
            }
            Reply::Connect(name, result) => match result {
                Ok(info) => {
                    self.data.connect.insert(name, info);
                }
                Err(error) => {
                    if let Some(Popup::Connect(view)) = self.popup.as_mut()
                        && view.name == name
                    {
                        view.error = Some(error.line());
                    } else {
                        self.error(format!("connect '{name}': {}", error.line()));
                    }
                }
            },
            Reply::Mutated(mutation, result) => {
                let handled_by_popup = self
                    .popup
                    .as_mut()
                    .is_some_and(|popup| popup.answer(&mutation, &result));
                if handled_by_popup {
                    if result.is_ok() {
                        self.popup = None;
                    } else {
                        // The popup shows the refusal; "hibernating …" no longer applies.
                        if self.message.as_ref().is_some_and(|m| !m.error) {
                            self.message = None;
                        }
                        return;
                    }
                }
                match result {
                    Ok(text) => self.info(text),
                    Err(error) => self.error(error.line()),
                }
                // The daemon's list changed: show it now rather than in 30 s.
                self.next_poll = self.now;
                self.schedule(effects);
            }
        }
    }

    /// Fetches the resolved info of the template in view, once.
    pub fn want_template_info(&mut self, effects: &mut Vec<Effect>) {
        let wanted = match &self.popup {
            Some(Popup::Launch(form)) => form.template_slug(&self.data),
            _ if self.tab == Tab::Templates => self.templates.selected_slug(&self.data),
            _ => None,
        };
        if let Some(slug) = wanted
            && !self.data.template_info.contains_key(&slug)
        {
            self.fetch(Fetch::TemplateInfo(slug), effects);
        }
    }

    /// How old the data on screen is.
    pub fn data_age(&self) -> Option<Duration> {
        self.data.polled_at.map(|at| self.now - at)
    }
}

mod input;

#[cfg(test)]
mod tests;
