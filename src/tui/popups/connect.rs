//! How to reach a workspace: the SSH command and each service's tunnel, as the daemon gives
//! them (with the current address, never a remembered one).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Outcome, frame_box, scroll_key};
use crate::tui::app::App;
use crate::tui::theme::Theme;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectView {
    pub name: String,
    pub scroll: u16,
    pub error: Option<String>,
}

impl ConnectView {
    pub fn new(name: &str) -> ConnectView {
        ConnectView {
            name: name.to_string(),
            scroll: 0,
            error: None,
        }
    }

    pub fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => Outcome::Close,
            _ => scroll_key(&mut self.scroll, key).unwrap_or(Outcome::Stay),
        }
    }

    pub fn render(&self, frame: &mut Frame, app: &App, theme: &Theme) {
        let area = frame.area();
        let inner = frame_box(
            frame,
            area.width.saturating_sub(2).min(140),
            area.height.saturating_sub(4).min(20),
            &format!("Connect to {}", self.name),
            theme,
        );
        let mut lines = Vec::new();
        if let Some(error) = &self.error {
            lines.push(Line::styled(format!("error: {error}"), theme.danger));
        } else if let Some(info) = app.data.connect.get(&self.name) {
            lines.push(Line::styled("SSH", theme.title));
            lines.push(Line::styled(info.ssh.command.clone(), theme.text));
            if info.ssh.key_path.is_none() {
                lines.push(Line::styled(
                    "(no private key on this machine for this workspace's key pair)",
                    theme.muted,
                ));
            }
            for (service, details) in &info.services {
                lines.push(Line::from(""));
                lines.push(Line::styled(service.clone(), theme.title));
                lines.push(Line::styled(
                    format!("tunnel, then open {}:", details.url),
                    theme.muted,
                ));
                lines.push(Line::styled(details.local_forward.clone(), theme.text));
                if let Some(token) = &details.token {
                    lines.push(Line::from(vec![
                        Span::styled("token: ", theme.muted),
                        Span::styled(token.clone(), theme.text),
                    ]));
                }
                if let (Some(user), Some(password)) = (&details.username, &details.password) {
                    lines.push(Line::from(vec![
                        Span::styled("login: ", theme.muted),
                        Span::styled(format!("{user} / {password}"), theme.text),
                    ]));
                }
                if let Some(note) = &details.note {
                    lines.push(Line::styled(note.clone(), theme.warn));
                }
            }
            for note in &info.notes {
                lines.push(Line::from(""));
                lines.push(Line::styled(note.clone(), theme.warn));
            }
            lines.push(Line::from(""));
            lines.push(Line::styled(
                format!(
                    "`prism workspace connect {}` prints these one per line, for copying.",
                    self.name
                ),
                theme.muted,
            ));
        } else {
            lines.push(Line::styled("asking the daemon…", theme.muted));
        }
        let paragraph = Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((self.scroll, 0));
        frame.render_widget(paragraph, inner);
    }
}
