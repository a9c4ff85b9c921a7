//! Small pieces every screen uses: state labels, money and age text, and the panel for parts
//! of the API the daemon does not serve yet.

pub mod text_input;

use chrono::Duration;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use unicode_width::UnicodeWidthChar as _;

use super::app::App;
use super::data::{Area, Availability, Tone, state_glyph, state_tone};
use super::theme::Theme;
use crate::model::money::Money;
use crate::model::workspace::{WorkspaceState, human_duration};

pub fn tone_style(tone: Tone, theme: &Theme) -> Style {
    match tone {
        Tone::Ok => theme.ok,
        Tone::Warn => theme.warn,
        Tone::Danger => theme.danger,
        Tone::Muted => theme.muted,
    }
}

/// "+ running", styled by meaning: the glyph and the word carry the state without colour.
pub fn state_span(state: WorkspaceState, theme: &Theme) -> Span<'static> {
    Span::styled(
        format!("{} {}", state_glyph(state), state.as_str()),
        tone_style(state_tone(state), theme),
    )
}

/// Dollars to `places` decimals, or "?" when unknown (never a made-up zero).
pub fn money(amount: Option<Money>, places: u32) -> String {
    match amount {
        Some(amount) => amount.display_usd(places),
        None => "?".to_string(),
    }
}

/// An hourly rate: "$0.0416/h".
pub fn per_hour(amount: Option<Money>) -> String {
    match amount {
        Some(amount) => format!("{}/h", amount.display_usd(4)),
        None => "?/h".to_string(),
    }
}

/// A duration in the largest two units: "45s", "3m 10s", "2h 5m", "4d 2h".
pub fn age(duration: Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    if seconds < 60 {
        return format!("{seconds}s");
    }
    let text = human_duration(seconds, seconds < 3600);
    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `width` terminal cells, with an ellipsis when cut. Wide
/// characters (CJK, emoji) count two cells and are never split.
pub fn fit(text: &str, width: usize) -> String {
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// A bordered block with a title in the theme's title style.
pub fn panel<'a>(title: &str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Line::styled(format!(" {title} "), theme.title))
}

/// What a tab shows for a part of the API: plainly, whether the daemon serves it, and never a
/// made-up figure.
pub fn availability_lines(app: &App, area: Area, theme: &Theme) -> Vec<Line<'static>> {
    let url = app.data.daemon_url.clone();
    match app.data.areas.get(&area) {
        None | Some(Availability::Unknown) => {
            vec![Line::styled(
                format!("Asking the daemon about {}…", area.label()),
                theme.muted,
            )]
        }
        Some(Availability::NotServed(message)) => vec![
            Line::styled(
                format!("The daemon does not serve {} yet.", area.label()),
                theme.warn,
            ),
            Line::from(""),
            Line::from(vec![
                Span::styled("It answered: ", theme.muted),
                Span::styled(message.clone(), theme.text),
            ]),
            Line::from(""),
            Line::styled(
                "This tab shows real figures once the daemon provides them; nothing here is \
                 estimated or made up.",
                theme.muted,
            ),
        ],
        Some(Availability::Loaded(())) => vec![
            Line::styled(
                format!("The daemon at {url} serves {}, ", area.label()),
                theme.text,
            ),
            Line::styled(
                "but this version of prism tui cannot show them yet: update prism.",
                theme.warn,
            ),
        ],
        Some(Availability::Failed(error)) => vec![
            Line::styled(
                format!("Could not ask the daemon about {}:", area.label()),
                theme.danger,
            ),
            Line::styled(error.line(), theme.text),
        ],
    }
}

/// The whole-tab panel for an area the daemon may not serve.
pub fn area_tab(frame: &mut Frame, rect: Rect, app: &App, area: Area, title: &str, theme: &Theme) {
    let paragraph = Paragraph::new(availability_lines(app, area, theme))
        .wrap(Wrap { trim: false })
        .block(panel(title, theme));
    frame.render_widget(paragraph, rect);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_never_splits_wide_characters() {
        assert_eq!(fit("データ解析ワークステーション", 9), "データ解…");
        assert_eq!(fit("short", 9), "short");
        assert_eq!(fit("🧬🧬🧬🧬", 5), "🧬🧬…");
    }

    #[test]
    fn ages_use_two_units() {
        assert_eq!(age(Duration::seconds(42)), "42s");
        assert_eq!(age(Duration::seconds(190)), "3m 10s");
        assert_eq!(age(Duration::seconds(7500)), "2h 5m");
    }

    #[test]
    fn unknown_money_is_a_question_mark_not_zero() {
        assert_eq!(money(None, 2), "?");
        assert_eq!(per_hour(Some(Money::from_micros(41_600))), "$0.0416/h");
    }
}
