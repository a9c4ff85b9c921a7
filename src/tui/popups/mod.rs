//! Modal popups: forms and confirmations drawn over the current tab. While one is open it gets
//! every key first.

pub mod connect;
pub mod extend;
pub mod help;
pub mod hibernate;
pub mod launch;
pub mod terminate;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Clear};

use super::app::{App, Fetch, Mutation};
use super::data::{Data, FetchError};
use super::theme::Theme;

/// What a popup wants after a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Stay,
    Close,
    /// Send this to the daemon; the popup stays open until the answer comes.
    Submit(Mutation),
    Fetch(Fetch),
    /// The launch form's template changed: its sizes need the template's details.
    TemplateChanged,
}

#[derive(Clone, Debug)]
pub enum Popup {
    Help(help::Help),
    Launch(Box<launch::LaunchForm>),
    Hibernate(hibernate::HibernateConfirm),
    Terminate(terminate::TerminateConfirm),
    Extend(extend::ExtendForm),
    Connect(connect::ConnectView),
}

impl Popup {
    pub fn help() -> Popup {
        Popup::Help(help::Help::default())
    }

    pub fn handle_key(&mut self, key: &KeyEvent, data: &Data, now: DateTime<Utc>) -> Outcome {
        match self {
            Popup::Help(help) => help.handle_key(key),
            Popup::Launch(form) => form.handle_key(key, data),
            Popup::Hibernate(confirm) => confirm.handle_key(key),
            Popup::Terminate(confirm) => confirm.handle_key(key),
            Popup::Extend(form) => form.handle_key(key, now),
            Popup::Connect(view) => view.handle_key(key),
        }
    }

    /// Pastes into the focused text field; false when none has focus.
    pub fn paste(&mut self, text: &str) -> bool {
        match self {
            Popup::Launch(form) => form.paste(text),
            Popup::Terminate(confirm) if confirm.pending.is_none() => {
                confirm.backup_focused = false;
                confirm.typed.paste(text);
                true
            }
            Popup::Extend(form) if form.pending.is_none() => {
                form.hours.paste(text);
                true
            }
            _ => false,
        }
    }

    /// Takes the daemon's answer to a mutation this popup sent. Returns true when it was this
    /// popup's: an error then stays in the popup for the user to fix.
    pub fn answer(&mut self, mutation: &Mutation, result: &Result<String, FetchError>) -> bool {
        let pending = match self {
            Popup::Launch(form) => &mut form.pending,
            Popup::Hibernate(confirm) => &mut confirm.pending,
            Popup::Terminate(confirm) => &mut confirm.pending,
            Popup::Extend(form) => &mut form.pending,
            Popup::Help(_) | Popup::Connect(_) => return false,
        };
        if pending.as_ref() != Some(mutation) {
            return false;
        }
        *pending = None;
        let error = result.as_ref().err().map(FetchError::line);
        match self {
            Popup::Launch(form) => form.error = error,
            Popup::Hibernate(confirm) => confirm.error = error,
            Popup::Terminate(confirm) => confirm.error = error,
            Popup::Extend(form) => form.error = error,
            Popup::Help(_) | Popup::Connect(_) => {}
        }
        true
    }

    pub fn render(&self, frame: &mut Frame, app: &App, theme: &Theme) {
        match self {
            Popup::Help(help) => help.render(frame, app, theme),
            Popup::Launch(form) => form.render(frame, app, theme),
            Popup::Hibernate(confirm) => confirm.render(frame, app, theme),
            Popup::Terminate(confirm) => confirm.render(frame, app, theme),
            Popup::Extend(form) => form.render(frame, app, theme),
            Popup::Connect(view) => view.render(frame, app, theme),
        }
    }

    /// The keys that matter in this popup, for the hint bar.
    pub fn hints(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            Popup::Help(_) => vec![("↑/↓", "scroll"), ("Esc", "close")],
            Popup::Launch(_) => vec![
                ("Tab/↓", "next field"),
                ("←/→", "choose"),
                ("Space", "toggle"),
                ("Enter", "launch"),
                ("Esc", "cancel"),
            ],
            Popup::Hibernate(_) => vec![("←/→", "choose"), ("Enter", "confirm"), ("Esc", "cancel")],
            Popup::Terminate(_) => vec![
                ("type", "the name"),
                ("Tab", "backup option"),
                ("Enter", "terminate"),
                ("Esc", "cancel"),
            ],
            Popup::Extend(_) => vec![("0-9", "hours"), ("Enter", "extend"), ("Esc", "cancel")],
            Popup::Connect(_) => vec![("↑/↓", "scroll"), ("Esc", "close")],
        }
    }
}

/// A centred box of at most `width` × `height` cells, cleared, with a title; returns the
/// inside.
pub fn frame_box(frame: &mut Frame, width: u16, height: u16, title: &str, theme: &Theme) -> Rect {
    let area = frame.area();
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [rect] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border)
        .title(Line::styled(format!(" {title} "), theme.title));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}

/// Moves a read-only popup's scroll offset for the keys that scroll; `None` for other keys.
pub fn scroll_key(scroll: &mut u16, key: &KeyEvent) -> Option<Outcome> {
    use crossterm::event::KeyCode;
    let step: i32 = match key.code {
        KeyCode::Down | KeyCode::Char('j') => 1,
        KeyCode::Up | KeyCode::Char('k') => -1,
        KeyCode::PageDown => 10,
        KeyCode::PageUp => -10,
        _ => return None,
    };
    *scroll = u16::try_from((i32::from(*scroll) + step).max(0)).unwrap_or(u16::MAX);
    Some(Outcome::Stay)
}

/// A form that has sent its request waits for the answer: only Esc (close, the answer then
/// goes to the message bar) does anything.
pub fn while_pending(key: &KeyEvent) -> Outcome {
    if key.code == crossterm::event::KeyCode::Esc {
        Outcome::Close
    } else {
        Outcome::Stay
    }
}

/// `[ Label ]` when focused, `  Label  ` otherwise: the focus shows without colour.
pub fn button(label: &str, focused: bool) -> String {
    if focused {
        format!("[ {label} ]")
    } else {
        format!("  {label}  ")
    }
}
