//! What a key can ask the dashboard to do.
//!
//! Keys never reach screens directly: the keymap turns a key into an [`Action`], and screens
//! and popups handle actions. Each action has a stable name, used in keymap files and in the
//! help overlay.

use std::fmt;
use std::str::FromStr;

/// Everything a key binding can mean outside a text field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    Refresh,
    NextTab,
    PrevTab,
    /// Switch to the tab with this 1-based number.
    Tab(u8),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter: open what is selected.
    Open,
    /// Esc: close, clear, go back.
    Back,
    Filter,
    Command,
    Launch,
    Stop,
    /// Start a stopped workspace, or resume a hibernated one.
    Start,
    Resume,
    Hibernate,
    Terminate,
    Extend,
    Connect,
}

/// The 1-based tab numbers a keymap may bind.
pub const TAB_COUNT: u8 = 8;

impl Action {
    /// Every action with its name, in the order the help overlay lists them.
    pub fn all() -> Vec<Action> {
        let mut all = vec![
            Action::Quit,
            Action::Help,
            Action::Refresh,
            Action::NextTab,
            Action::PrevTab,
        ];
        all.extend((1..=TAB_COUNT).map(Action::Tab));
        all.extend([
            Action::Up,
            Action::Down,
            Action::PageUp,
            Action::PageDown,
            Action::Top,
            Action::Bottom,
            Action::Open,
            Action::Back,
            Action::Filter,
            Action::Command,
            Action::Launch,
            Action::Stop,
            Action::Start,
            Action::Resume,
            Action::Hibernate,
            Action::Terminate,
            Action::Extend,
            Action::Connect,
        ]);
        all
    }

    /// The name used in keymap files.
    pub fn name(self) -> String {
        match self {
            Action::Tab(n) => format!("tab_{n}"),
            other => other.fixed_name().to_string(),
        }
    }

    fn fixed_name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Refresh => "refresh",
            Action::NextTab => "next_tab",
            Action::PrevTab => "prev_tab",
            Action::Tab(_) => "tab",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Open => "open",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::Command => "command",
            Action::Launch => "launch",
            Action::Stop => "stop",
            Action::Start => "start",
            Action::Resume => "resume",
            Action::Hibernate => "hibernate",
            Action::Terminate => "terminate",
            Action::Extend => "extend",
            Action::Connect => "connect",
        }
    }

    /// What it does, for the help overlay.
    pub fn describe(self) -> String {
        match self {
            Action::Quit => "quit".into(),
            Action::Help => "show or hide this help".into(),
            Action::Refresh => "refresh from the daemon now".into(),
            Action::NextTab => "next tab".into(),
            Action::PrevTab => "previous tab".into(),
            Action::Tab(n) => format!("go to tab {n}"),
            Action::Up => "move up".into(),
            Action::Down => "move down".into(),
            Action::PageUp => "page up".into(),
            Action::PageDown => "page down".into(),
            Action::Top => "first row".into(),
            Action::Bottom => "last row".into(),
            Action::Open => "open the selection".into(),
            Action::Back => "close, clear the filter".into(),
            Action::Filter => "filter the list".into(),
            Action::Command => "command line (:launch, :hibernate NAME …)".into(),
            Action::Launch => "launch a workspace".into(),
            Action::Stop => "stop the selected workspace".into(),
            Action::Start => "start or resume the selected workspace".into(),
            Action::Resume => "resume the selected workspace".into(),
            Action::Hibernate => "hibernate the selected workspace".into(),
            Action::Terminate => "terminate the selected workspace".into(),
            Action::Extend => "extend the selected workspace's TTL".into(),
            Action::Connect => "show how to connect".into(),
        }
    }

    /// Whether the action changes something in AWS (refused with `--readonly`).
    pub fn changes_things(self) -> bool {
        matches!(
            self,
            Action::Launch
                | Action::Stop
                | Action::Start
                | Action::Resume
                | Action::Hibernate
                | Action::Terminate
                | Action::Extend
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A name that is not an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an action")]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(name: &str) -> Result<Action, UnknownAction> {
        Action::all()
            .into_iter()
            .find(|action| action.name() == name)
            .ok_or_else(|| UnknownAction(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_name() {
        for action in Action::all() {
            assert_eq!(action.name().parse::<Action>(), Ok(action));
        }
        assert!("tab_9".parse::<Action>().is_err());
        assert!("launch_rocket".parse::<Action>().is_err());
    }
}
