//! Terminating: the user types the workspace's name to confirm, so a stray Enter can never
//! destroy a workspace. A snapshot of the volumes first is one Space away.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Outcome, frame_box, while_pending};
use crate::model::api::Workspace;
use crate::tui::app::{App, Mutation, Target};
use crate::tui::theme::Theme;
use crate::tui::widgets::text_input::TextInput;

#[derive(Clone, Debug, PartialEq)]
pub struct TerminateConfirm {
    pub name: String,
    /// Who the change is sent for (by instance id once there is one).
    pub target: Target,
    pub typed: TextInput,
    pub backup: bool,
    /// Whether the backup checkbox (rather than the name field) has focus.
    pub backup_focused: bool,
    pub pending: Option<Mutation>,
    pub error: Option<String>,
}

impl TerminateConfirm {
    pub fn new(workspace: &Workspace) -> TerminateConfirm {
        TerminateConfirm {
            name: workspace.name.clone(),
            target: Target::of(workspace),
            typed: TextInput::new(63),
            backup: false,
            backup_focused: false,
            pending: None,
            error: None,
        }
    }

    pub fn confirmed(&self) -> bool {
        self.typed.value() == self.name
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        if self.pending.is_some() {
            return while_pending(key);
        }
        match key.code {
            KeyCode::Esc => return Outcome::Close,
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                self.backup_focused = !self.backup_focused;
                return Outcome::Stay;
            }
            KeyCode::Enter => {
                if !self.confirmed() {
                    self.error = Some(format!("type '{}' exactly to confirm", self.name));
                    return Outcome::Stay;
                }
                let mutation = Mutation::Terminate {
                    target: self.target.clone(),
                    backup: self.backup,
                };
                self.pending = Some(mutation.clone());
                self.error = None;
                return Outcome::Submit(mutation);
            }
            _ => {}
        }
        self.error = None;
        match key.code {
            KeyCode::Char(' ') if self.backup_focused => self.backup = !self.backup,
            // Typing a letter on the checkbox means typing the name: go back to it.
            _ => {
                self.backup_focused = false;
                self.typed.handle(key);
            }
        }
        Outcome::Stay
    }

    pub fn render(&self, frame: &mut Frame, _app: &App, theme: &Theme) {
        let inner = frame_box(frame, 72, 12, "Terminate", theme);
        let mut lines = vec![
            Line::styled(
                format!("Terminate '{}'? This cannot be undone.", self.name),
                theme.danger,
            ),
            Line::from("The instance and its root volume are destroyed; billing stops."),
            Line::from(""),
            self.typed.line(
                &format!(
                    "{}Type {} to confirm: ",
                    if self.backup_focused { "  " } else { "› " },
                    self.name
                ),
                !self.backup_focused,
                theme,
            ),
            Line::from(vec![
                Span::styled(if self.backup_focused { "› " } else { "  " }, theme.key),
                Span::styled(
                    format!("[{}]", if self.backup { "x" } else { " " }),
                    if self.backup_focused {
                        theme.selected
                    } else {
                        theme.text
                    },
                ),
                Span::styled(
                    " snapshot the volumes first (EBS snapshots bill per GB-month)",
                    theme.text,
                ),
            ]),
            Line::from(""),
        ];
        if self.pending.is_some() {
            lines.push(Line::styled("asking the daemon…", theme.muted));
        } else if let Some(error) = &self.error {
            lines.push(Line::styled(format!("error: {error}"), theme.danger));
        } else if self.confirmed() {
            lines.push(Line::styled("Enter terminates.", theme.warn));
        } else {
            lines.push(Line::styled("Esc cancels.", theme.muted));
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
