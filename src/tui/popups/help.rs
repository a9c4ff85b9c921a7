//! The `?` overlay: the bindings that are live right now (read from the keymap in use, so a
//! user's changes show), and the `:` commands.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Outcome, frame_box, scroll_key};
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::command::COMMANDS;
use crate::tui::theme::Theme;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Help {
    pub scroll: u16,
}

impl Help {
    pub fn handle_key(&mut self, key: &KeyEvent) -> Outcome {
        match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter => {
                Outcome::Close
            }
            _ => scroll_key(&mut self.scroll, key).unwrap_or(Outcome::Stay),
        }
    }

    pub fn lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
        let tab_keys: Vec<String> = Action::all()
            .into_iter()
            .filter(|a| matches!(a, Action::Tab(_)))
            .filter_map(|a| app.keymap.first_key(a))
            .collect();
        // The key column is as wide as the longest list of keys (a vim map binds several).
        let key_width = Action::all()
            .into_iter()
            .filter(|a| !matches!(a, Action::Tab(_)))
            .map(|a| app.keymap.keys_for(a).join(" "))
            .chain([tab_keys.join(" ")])
            .map(|keys| keys.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(8, 30)
            + 2;
        let mut lines = vec![Line::styled(
            format!("Keys (keymap: {})", app.keymap.source),
            theme.title,
        )];
        for action in Action::all() {
            if app.settings.readonly && action.changes_things() {
                continue;
            }
            if let Action::Tab(n) = action {
                // One line for the eight tab keys.
                if n == 1 && !tab_keys.is_empty() {
                    lines.push(Line::from(vec![
                        Span::styled(format!("  {:<key_width$}", tab_keys.join(" ")), theme.key),
                        Span::styled("go to that tab", theme.text),
                    ]));
                }
                continue;
            }
            let keys = app.keymap.keys_for(action);
            if keys.is_empty() {
                continue;
            }
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<key_width$}", keys.join(" ")), theme.key),
                Span::styled(action.describe(), theme.text),
            ]));
        }
        lines.push(Line::from(""));
        lines.push(Line::styled(
            "In forms: Tab/↓ next field, ←/→ choose, Space toggles, Enter submits, Esc cancels; \
             text fields take every other key.",
            theme.muted,
        ));
        lines.push(Line::from(""));
        lines.push(Line::styled("Commands (type : first)", theme.title));
        for (usage, what, changes) in COMMANDS {
            if app.settings.readonly && changes {
                continue;
            }
            lines.push(Line::from(vec![
                Span::styled(format!("  {usage:<24}"), theme.key),
                Span::styled(what, theme.text),
            ]));
        }
        if app.settings.readonly {
            lines.push(Line::from(""));
            lines.push(Line::styled(
                "Read-only session: actions that change workspaces are disabled.",
                theme.warn,
            ));
        }
        lines
    }

    pub fn render(&self, frame: &mut Frame, app: &App, theme: &Theme) {
        let area = frame.area();
        let inner = frame_box(
            frame,
            area.width.saturating_sub(4).min(84),
            area.height.saturating_sub(2),
            "Help — Esc closes",
            theme,
        );
        let paragraph = Paragraph::new(Help::lines(app, theme))
            .wrap(Wrap { trim: false })
            .scroll((self.scroll, 0));
        frame.render_widget(paragraph, inner);
    }
}
