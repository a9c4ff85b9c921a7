//! Confirming a hibernation. It says what hibernating saves per hour, and when the workspace
//! was not launched for hibernation it says so plainly and offers a stop instead (memory is
//! lost, the disk is kept), with Cancel focused.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::{Outcome, button, frame_box, while_pending};
use crate::model::api::Workspace;
use crate::model::money::Money;
use crate::tui::app::{App, Mutation, Target};
use crate::tui::theme::Theme;

#[derive(Clone, Debug, PartialEq)]
pub struct HibernateConfirm {
    pub name: String,
    /// Who the change is sent for (by instance id once there is one).
    pub target: Target,
    /// Whether the instance is configured for hibernation.
    pub capable: bool,
    /// Compute no longer paid per hour.
    pub hourly_saving: Option<Money>,
    /// Whether the confirm button (rather than Cancel) has focus.
    pub confirm_focused: bool,
    pub pending: Option<Mutation>,
    pub error: Option<String>,
}

impl HibernateConfirm {
    pub fn new(workspace: &Workspace) -> HibernateConfirm {
        HibernateConfirm {
            name: workspace.name.clone(),
            target: Target::of(workspace),
            capable: workspace.hibernation_capable,
            hourly_saving: workspace.hourly_rate,
            // Stopping loses memory: the safe choice is focused unless hibernation is real.
            confirm_focused: workspace.hibernation_capable,
            pending: None,
            error: None,
        }
    }

    fn mutation(&self) -> Mutation {
        if self.capable {
            Mutation::Hibernate(self.target.clone())
        } else {
            Mutation::Stop(self.target.clone())
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        if self.pending.is_some() {
            return while_pending(key);
        }
        match key.code {
            KeyCode::Esc => Outcome::Close,
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                self.confirm_focused = !self.confirm_focused;
                Outcome::Stay
            }
            KeyCode::Enter if self.confirm_focused => {
                let mutation = self.mutation();
                self.pending = Some(mutation.clone());
                self.error = None;
                Outcome::Submit(mutation)
            }
            KeyCode::Enter => Outcome::Close,
            _ => Outcome::Stay,
        }
    }

    pub fn text(&self, theme: &Theme) -> Vec<Line<'static>> {
        let saving = match self.hourly_saving {
            Some(rate) => format!("${}/hour", rate.to_decimal_string()),
            None => "an unknown amount per hour (the instance type is not in the price table)"
                .to_string(),
        };
        let mut lines = if self.capable {
            vec![
                Line::styled(format!("Hibernate '{}'?", self.name), theme.title),
                Line::from(""),
                Line::from("Memory is saved to the root volume and restored on resume."),
                Line::from(format!(
                    "Compute stops billing: saves {saving} while hibernated. Storage keeps billing."
                )),
            ]
        } else {
            vec![
                Line::styled(
                    format!("'{}' cannot hibernate: it would STOP instead.", self.name),
                    theme.warn,
                ),
                Line::from(""),
                Line::from(
                    "It was not launched with hibernation (its template or instance type does \
                     not support it).",
                ),
                Line::from(format!(
                    "Stopping loses what is in memory; the disk is kept. Saves {saving} while \
                     stopped."
                )),
            ]
        };
        if self.pending.is_some() {
            lines.push(Line::from(""));
            lines.push(Line::styled("asking the daemon…", theme.muted));
        }
        if let Some(error) = &self.error {
            lines.push(Line::from(""));
            lines.push(Line::styled(format!("error: {error}"), theme.danger));
        }
        lines
    }

    pub fn render(&self, frame: &mut Frame, _app: &App, theme: &Theme) {
        let inner = frame_box(frame, 72, 10, "Hibernate", theme);
        let [body, buttons] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
        frame.render_widget(
            Paragraph::new(self.text(theme)).wrap(Wrap { trim: false }),
            body,
        );
        let confirm = if self.capable {
            "Hibernate"
        } else {
            "Stop instead"
        };
        let line = Line::from(vec![
            ratatui::text::Span::styled(
                button(confirm, self.confirm_focused),
                if self.confirm_focused {
                    theme.selected
                } else {
                    theme.text
                },
            ),
            ratatui::text::Span::raw("   "),
            ratatui::text::Span::styled(
                button("Cancel", !self.confirm_focused),
                if self.confirm_focused {
                    theme.text
                } else {
                    theme.selected
                },
            ),
        ]);
        frame.render_widget(Paragraph::new(line), buttons);
    }
}
