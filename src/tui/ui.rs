//! Drawing the whole screen: the header (data age, or the unreachable banner), the tabs, the
//! current tab, the message or input line, the hint bar, and any popup on top.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr as _;

use super::action::Action;
use super::app::{App, PromptKind, Tab};
use super::data::Link;
use super::screens;
use super::screens::workspaces::actions_for;
use super::theme::Theme;
use super::widgets::age;

/// Below this the dashboard says what it needs instead of drawing a broken layout.
pub const MIN_WIDTH: u16 = 64;
pub const MIN_HEIGHT: u16 = 18;

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = vec![
            Line::styled("prism tui needs a bigger terminal", theme.title),
            Line::from(format!(
                "at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}",
                area.width, area.height
            )),
            Line::styled("(q quits)", theme.muted),
        ];
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    // A long message gets a second line rather than being cut.
    let message_rows = match (&app.prompt, &app.message) {
        (None, Some(message)) if message.text.width() + 7 > usize::from(area.width) => 2,
        _ => 1,
    };
    let [header, tabs, body, message, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(message_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app, theme);
    draw_tabs(frame, tabs, app, theme);
    screens::render(frame, body, app, theme);
    draw_message(frame, message, app, theme);
    draw_hints(frame, hints, app, theme);
    if let Some(popup) = &app.popup {
        popup.render(frame, app, theme);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut left = vec![Span::styled(" Prism ", theme.title)];
    if app.settings.readonly {
        left.push(Span::styled("[read-only] ", theme.warn));
    }
    if let Link::Down { .. } = &app.data.link {
        // The banner takes the whole line: it is the one thing that matters now.
        let address = app.data.daemon_url.trim_start_matches("http://");
        let stale = match app.data_age() {
            Some(age_now) => format!(" · data {} old (stale)", age(age_now)),
            None => String::new(),
        };
        let banner = format!("daemon unreachable at {address} — retrying{stale}");
        let used: usize = left.iter().map(|s| s.content.width()).sum();
        let room = usize::from(area.width).saturating_sub(used);
        left.push(Span::styled(
            super::widgets::fit(&banner, room),
            theme.danger,
        ));
        frame.render_widget(Paragraph::new(Line::from(left)), area);
        return;
    }
    let right = match &app.data.link {
        Link::Up => {
            let live = if app.data.streaming { " · live" } else { "" };
            match app.data_age() {
                Some(age_now) => format!("data {} old{live} ", age(age_now)),
                None => format!("connected{live} "),
            }
        }
        _ => format!("connecting to {} … ", app.data.daemon_url),
    };
    if let Some(status) = &app.data.status {
        let running = screens::dashboard::running(&app.data).len();
        left.push(Span::styled(
            format!("{running} active · {} · {}", status.owner, status.region),
            theme.muted,
        ));
    }
    let used: usize = left.iter().map(|s| s.content.width()).sum();
    let room = usize::from(area.width).saturating_sub(used + 1);
    let right_text = super::widgets::fit(&right, room);
    let pad = usize::from(area.width).saturating_sub(used + right_text.width());
    left.push(Span::raw(" ".repeat(pad)));
    left.push(Span::styled(right_text, theme.muted));
    frame.render_widget(Paragraph::new(Line::from(left)), area);
}

/// The tab bar in the widest form that fits: full names, then short ones, then numbers with
/// only the current tab named. The current tab is bracketed, so it shows without colour.
fn tab_spans(app: &App, width: usize, theme: &Theme) -> Vec<Span<'static>> {
    let form = |title: fn(Tab) -> &'static str, numbers_only: bool, pad: bool| {
        let mut spans = Vec::new();
        for tab in Tab::ALL {
            let current = tab == app.tab;
            let text = if numbers_only && !current {
                format!("{}", tab.number())
            } else {
                format!("{} {}", tab.number(), title(tab))
            };
            let (text, style) = if current {
                (format!("[{text}]"), theme.active_tab)
            } else if pad {
                (format!(" {text} "), theme.muted)
            } else {
                (text, theme.muted)
            };
            spans.push(Span::styled(text, style));
            spans.push(Span::raw(" "));
        }
        spans.pop();
        spans
    };
    let width_of = |spans: &[Span]| spans.iter().map(|s| s.content.width()).sum::<usize>();
    for candidate in [
        form(Tab::title, false, true),
        form(Tab::title, false, false),
        form(Tab::short_title, false, false),
    ] {
        if width_of(&candidate) <= width {
            return candidate;
        }
    }
    form(Tab::short_title, true, false)
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let spans = tab_spans(app, usize::from(area.width), theme);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_message(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if let Some(prompt) = &app.prompt {
        let label = match prompt.kind {
            PromptKind::Command => ":",
            PromptKind::Filter => "filter: ",
        };
        frame.render_widget(Paragraph::new(prompt.input.line(label, true, theme)), area);
        return;
    }
    if let Some(message) = &app.message {
        let (prefix, style) = if message.error {
            ("error: ", theme.danger)
        } else {
            ("", theme.text)
        };
        // Up to two lines; what still does not fit ends in an ellipsis.
        let room = usize::from(area.width) * usize::from(area.height);
        frame.render_widget(
            Paragraph::new(Line::styled(
                super::widgets::fit(&format!("{prefix}{}", message.text), room),
                style,
            ))
            .wrap(Wrap { trim: true }),
            area,
        );
    }
}

/// The keys that matter where the user is now: the popup's, the prompt's, or the tab's
/// (including what the selected workspace's state allows), each with the key bound to it in
/// the live keymap.
pub fn hints(app: &App) -> Vec<(String, String)> {
    if let Some(popup) = &app.popup {
        return popup
            .hints()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    if app.prompt.is_some() {
        return vec![
            ("Enter".into(), "apply".into()),
            ("Esc".into(), "cancel".into()),
        ];
    }
    let mut wanted: Vec<(Action, String)> = Vec::new();
    match app.tab {
        Tab::Dashboard | Tab::Workspaces => {
            let selected = app.selected_workspace().map(|w| w.state);
            if let Some(state) = selected {
                for (action, label) in actions_for(state) {
                    wanted.push((action, label.to_string()));
                }
            }
            wanted.push((Action::Launch, "launch".into()));
            if app.tab == Tab::Workspaces {
                wanted.push((Action::Filter, "filter".into()));
            } else {
                wanted.push((Action::Open, "open".into()));
            }
        }
        Tab::Templates => {
            wanted.push((Action::Launch, "launch from it".into()));
            wanted.push((Action::Filter, "filter".into()));
        }
        _ => {}
    }
    wanted.push((Action::NextTab, "tab".into()));
    wanted.push((Action::Refresh, "refresh".into()));
    wanted.push((Action::Command, "command".into()));
    wanted.push((Action::Help, "help".into()));
    wanted.push((Action::Quit, "quit".into()));
    wanted
        .into_iter()
        .filter(|(action, _)| !(app.settings.readonly && action.changes_things()))
        .filter_map(|(action, label)| app.keymap.first_key(action).map(|key| (key, label)))
        .collect()
}

fn draw_hints(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = Vec::new();
    let mut used = 0;
    for (key, label) in hints(app) {
        let width = key.width() + label.width() + 3;
        if used + width > usize::from(area.width) {
            break;
        }
        used += width;
        spans.push(Span::styled(key, theme.key));
        spans.push(Span::styled(format!(" {label}  "), theme.muted));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
