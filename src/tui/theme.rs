//! Styles by meaning. Widgets ask for "danger" or "muted", never for a colour, so that
//! NO_COLOR and terminals with few colours are one decision here.
//!
//! Only the 16 ANSI colours are used, which every terminal can show and which follow the
//! user's own palette; 24-bit colour is never sent. With NO_COLOR the theme keeps only bold,
//! reverse and underline. Meaning never rests on colour alone: states and warnings always carry
//! a word or a glyph too.

use ratatui::style::{Color, Modifier, Style};

/// How much colour to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMode {
    /// The 16 ANSI colours.
    Ansi,
    /// No colour at all (NO_COLOR, or a dumb terminal).
    None,
}

impl ColorMode {
    /// Reads NO_COLOR (any non-empty value, as no-color.org says) and TERM=dumb.
    pub fn detect() -> ColorMode {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if no_color || dumb {
            ColorMode::None
        } else {
            ColorMode::Ansi
        }
    }
}

/// The styles every widget draws with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    pub text: Style,
    pub title: Style,
    pub muted: Style,
    /// The selected row or the focused field.
    pub selected: Style,
    pub ok: Style,
    pub warn: Style,
    pub danger: Style,
    /// Keys in the hint bar and help.
    pub key: Style,
    pub border: Style,
    pub active_tab: Style,
}

impl Theme {
    pub fn new(mode: ColorMode) -> Theme {
        match mode {
            ColorMode::Ansi => Theme {
                text: Style::default(),
                title: Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
                muted: Style::default().fg(Color::DarkGray),
                selected: Style::default().add_modifier(Modifier::REVERSED),
                ok: Style::default().fg(Color::Green),
                warn: Style::default().fg(Color::Yellow),
                danger: Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                key: Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
                border: Style::default().fg(Color::DarkGray),
                active_tab: Style::default()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            },
            ColorMode::None => Theme {
                text: Style::default(),
                title: Style::default().add_modifier(Modifier::BOLD),
                muted: Style::default(),
                selected: Style::default().add_modifier(Modifier::REVERSED),
                ok: Style::default(),
                warn: Style::default().add_modifier(Modifier::BOLD),
                danger: Style::default().add_modifier(Modifier::BOLD),
                key: Style::default().add_modifier(Modifier::BOLD),
                border: Style::default(),
                active_tab: Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_uses_no_colour_at_all() {
        let theme = Theme::new(ColorMode::None);
        for style in [
            theme.text,
            theme.title,
            theme.muted,
            theme.selected,
            theme.ok,
            theme.warn,
            theme.danger,
            theme.key,
            theme.border,
            theme.active_tab,
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
    }

    #[test]
    fn colours_are_only_the_sixteen_ansi_ones() {
        let theme = Theme::new(ColorMode::Ansi);
        for style in [
            theme.title,
            theme.muted,
            theme.ok,
            theme.warn,
            theme.danger,
            theme.key,
        ] {
            assert!(!matches!(
                style.fg,
                Some(Color::Rgb(..)) | Some(Color::Indexed(_))
            ));
        }
    }
}
