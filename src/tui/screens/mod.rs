//! The tabs. Each screen keeps its own view state (selection, filter) apart from the drawing,
//! and draws from the [`App`] it is given.

pub mod costs;
pub mod dashboard;
pub mod planned;
pub mod templates;
pub mod workspaces;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::Action;
use super::app::{App, Tab};
use super::theme::Theme;

/// Rows a page-up or page-down moves.
const PAGE: usize = 10;

/// Moves a name-keyed selection through `names` (the list as shown). Keyed by name rather than
/// position so that a refresh that reorders the list keeps the same row selected.
pub fn step(names: &[String], current: Option<&str>, action: Action) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let at = current.and_then(|c| names.iter().position(|n| n == c));
    let last = names.len() - 1;
    let next = match (action, at) {
        (_, None) => 0,
        (Action::Up, Some(i)) => i.saturating_sub(1),
        (Action::Down, Some(i)) => (i + 1).min(last),
        (Action::PageUp, Some(i)) => i.saturating_sub(PAGE),
        (Action::PageDown, Some(i)) => (i + PAGE).min(last),
        (Action::Top, _) => 0,
        (Action::Bottom, _) => last,
        (_, Some(i)) => i,
    };
    names.get(next).cloned()
}

/// Index of the selected name in the shown list, defaulting to the first row.
pub fn selected_index(names: &[String], current: Option<&str>) -> Option<usize> {
    if names.is_empty() {
        return None;
    }
    Some(
        current
            .and_then(|c| names.iter().position(|n| n == c))
            .unwrap_or(0),
    )
}

/// Draws the current tab.
pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    match app.tab {
        Tab::Dashboard => dashboard::render(frame, area, app, theme),
        Tab::Workspaces => workspaces::render(frame, area, app, theme),
        Tab::Templates => templates::render(frame, area, app, theme),
        Tab::Costs => costs::render(frame, area, app, theme),
        Tab::Storage | Tab::Budgets | Tab::Projects | Tab::Idle => {
            if let Some(planned) = app.tab.area() {
                planned::render(frame, area, app, planned, theme);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_moves_within_bounds() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(step(&names, None, Action::Down).as_deref(), Some("a"));
        assert_eq!(step(&names, Some("a"), Action::Down).as_deref(), Some("b"));
        assert_eq!(step(&names, Some("c"), Action::Down).as_deref(), Some("c"));
        assert_eq!(step(&names, Some("a"), Action::Up).as_deref(), Some("a"));
        assert_eq!(
            step(&names, Some("a"), Action::Bottom).as_deref(),
            Some("c")
        );
        assert_eq!(
            step(&names, Some("gone"), Action::Down).as_deref(),
            Some("a")
        );
        assert_eq!(step(&[], Some("a"), Action::Down), None);
    }
}
