//! Extending a workspace's time-to-live by a number of hours, with the new deadline shown
//! before it is sent (computed by the same rule the daemon applies).

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::{Outcome, frame_box, while_pending};
use crate::model::api::Workspace;
use crate::model::workspace::{MAX_EXTEND_HOURS, extend_ttl};
use crate::tui::app::{App, Mutation, Target};
use crate::tui::theme::Theme;
use crate::tui::widgets::text_input::{Accepts, TextInput};

#[derive(Clone, Debug, PartialEq)]
pub struct ExtendForm {
    pub name: String,
    /// Who the change is sent for (by instance id once there is one).
    pub target: Target,
    pub ttl: Option<DateTime<Utc>>,
    pub hours: TextInput,
    pub pending: Option<Mutation>,
    pub error: Option<String>,
}

impl ExtendForm {
    pub fn new(workspace: &Workspace) -> ExtendForm {
        ExtendForm {
            name: workspace.name.clone(),
            target: Target::of(workspace),
            ttl: workspace.ttl,
            hours: TextInput::new(4).only(Accepts::Digits).with_value("4"),
            pending: None,
            error: None,
        }
    }

    /// The hours typed, when they are a valid extension.
    pub fn valid_hours(&self) -> Result<i64, String> {
        match self.hours.value().parse::<i64>() {
            Ok(hours) if (1..=MAX_EXTEND_HOURS).contains(&hours) => Ok(hours),
            _ => Err(format!(
                "type a number of hours from 1 to {MAX_EXTEND_HOURS}"
            )),
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent, _now: DateTime<Utc>) -> Outcome {
        if self.pending.is_some() {
            return while_pending(key);
        }
        match key.code {
            KeyCode::Esc => Outcome::Close,
            KeyCode::Enter => match self.valid_hours() {
                Ok(hours) => {
                    let mutation = Mutation::Extend {
                        target: self.target.clone(),
                        hours,
                    };
                    self.pending = Some(mutation.clone());
                    self.error = None;
                    Outcome::Submit(mutation)
                }
                Err(error) => {
                    self.error = Some(error);
                    Outcome::Stay
                }
            },
            _ => {
                self.error = None;
                self.hours.handle(key);
                Outcome::Stay
            }
        }
    }

    pub fn render(&self, frame: &mut Frame, app: &App, theme: &Theme) {
        let inner = frame_box(frame, 64, 10, "Extend TTL", theme);
        let current = match self.ttl {
            Some(ttl) => format!("Deadline now: {}", ttl.format("%Y-%m-%d %H:%M UTC")),
            None => "No deadline yet: the hours count from now.".to_string(),
        };
        let mut lines = vec![
            Line::styled(format!("Extend '{}'", self.name), theme.title),
            Line::from(current),
            Line::from(""),
            self.hours
                .line("Hours to add: ", self.pending.is_none(), theme),
        ];
        match self.valid_hours() {
            Ok(hours) => {
                if let Ok(deadline) = extend_ttl(self.ttl, app.now, Some(hours)) {
                    lines.push(Line::styled(
                        format!("New deadline: {}", deadline.format("%Y-%m-%d %H:%M UTC")),
                        theme.text,
                    ));
                }
            }
            Err(error) => lines.push(Line::styled(error, theme.warn)),
        }
        if self.pending.is_some() {
            lines.push(Line::styled("asking the daemon…", theme.muted));
        } else if let Some(error) = &self.error {
            lines.push(Line::styled(format!("error: {error}"), theme.danger));
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
