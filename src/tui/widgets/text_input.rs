//! A one-line text field. While it has focus it takes every printable key, so typing a name
//! that contains "q" never quits and a "2" never switches tabs.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr as _;

use crate::tui::theme::Theme;

/// What the field did with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// The key changed the text or the cursor (or was swallowed as text).
    Handled,
    /// Not a key for the field (Enter, Esc, Tab, arrows up/down …): the owner decides.
    Ignored,
}

/// The text and the cursor, counted in characters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextInput {
    value: String,
    cursor: usize,
    /// The longest text accepted, in characters.
    max_chars: usize,
    /// Which characters are accepted.
    accepts: Accepts,
}

/// Which characters a field accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Accepts {
    #[default]
    Any,
    Digits,
}

impl Accepts {
    fn allows(self, c: char) -> bool {
        match self {
            Accepts::Any => true,
            Accepts::Digits => c.is_ascii_digit(),
        }
    }
}

impl TextInput {
    pub fn new(max_chars: usize) -> TextInput {
        TextInput {
            value: String::new(),
            cursor: 0,
            max_chars,
            accepts: Accepts::Any,
        }
    }

    pub fn with_value(mut self, value: &str) -> TextInput {
        self.set(value);
        self
    }

    /// Accepts only these characters.
    pub fn only(mut self, accepts: Accepts) -> TextInput {
        self.accepts = accepts;
        self
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn set(&mut self, value: &str) {
        self.value = value.chars().take(self.max_chars).collect();
        self.cursor = self.value.chars().count();
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.value
            .char_indices()
            .nth(chars)
            .map_or(self.value.len(), |(i, _)| i)
    }

    /// Inserts pasted text at the cursor as plain characters. Line breaks and other control
    /// characters are dropped: a paste never presses Enter.
    pub fn paste(&mut self, text: &str) {
        for c in text.chars().filter(|c| !c.is_control()) {
            if self.value.chars().count() >= self.max_chars {
                break;
            }
            if self.accepts.allows(c) {
                let at = self.byte_at(self.cursor);
                self.value.insert(at, c);
                self.cursor += 1;
            }
        }
    }

    /// Applies a key.
    pub fn handle(&mut self, key: &KeyEvent) -> Edit {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let len = self.value.chars().count();
        match key.code {
            KeyCode::Char('u') if ctrl => {
                self.value.clear();
                self.cursor = 0;
            }
            KeyCode::Char('w') if ctrl => {
                let before: Vec<char> = self.value.chars().take(self.cursor).collect();
                let mut keep = before.len();
                while keep > 0 && before[keep - 1] == ' ' {
                    keep -= 1;
                }
                while keep > 0 && before[keep - 1] != ' ' {
                    keep -= 1;
                }
                let start = self.byte_at(keep);
                let end = self.byte_at(self.cursor);
                self.value.replace_range(start..end, "");
                self.cursor = keep;
            }
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = len,
            // Other control chords are not text; swallow them so they do nothing surprising.
            KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => {}
            KeyCode::Char(c) => {
                if len < self.max_chars && self.accepts.allows(c) && !c.is_control() {
                    let at = self.byte_at(self.cursor);
                    self.value.insert(at, c);
                    self.cursor += 1;
                }
            }
            KeyCode::Backspace => {
                if self.cursor > 0 {
                    let start = self.byte_at(self.cursor - 1);
                    let end = self.byte_at(self.cursor);
                    self.value.replace_range(start..end, "");
                    self.cursor -= 1;
                }
            }
            KeyCode::Delete => {
                if self.cursor < len {
                    let start = self.byte_at(self.cursor);
                    let end = self.byte_at(self.cursor + 1);
                    self.value.replace_range(start..end, "");
                }
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            _ => return Edit::Ignored,
        }
        Edit::Handled
    }

    /// The field as spans; the cursor is drawn as a reversed cell when `focused`.
    pub fn spans(&self, focused: bool, theme: &Theme) -> Vec<Span<'static>> {
        if !focused {
            return vec![Span::styled(self.value.clone(), theme.text)];
        }
        let before: String = self.value.chars().take(self.cursor).collect();
        let at: String = self
            .value
            .chars()
            .nth(self.cursor)
            .map_or(" ".to_string(), String::from);
        let after: String = self.value.chars().skip(self.cursor + 1).collect();
        vec![
            Span::styled(before, theme.text),
            Span::styled(at, theme.selected),
            Span::styled(after, theme.text),
        ]
    }

    /// The field as a line after a label.
    pub fn line(&self, label: &str, focused: bool, theme: &Theme) -> Line<'static> {
        let mut spans = vec![Span::styled(label.to_string(), theme.muted)];
        spans.extend(self.spans(focused, theme));
        Line::from(spans)
    }

    /// Display width of the text, in terminal cells.
    pub fn width(&self) -> usize {
        self.value.width()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(input: &mut TextInput, text: &str) {
        for c in text.chars() {
            input.handle(&press(KeyCode::Char(c)));
        }
    }

    #[test]
    fn typing_takes_every_printable_key() {
        let mut input = TextInput::new(63);
        typed(&mut input, "q2?/:jk");
        assert_eq!(input.value(), "q2?/:jk");
    }

    #[test]
    fn editing_moves_by_characters_not_bytes() {
        let mut input = TextInput::new(63);
        typed(&mut input, "日本x");
        input.handle(&press(KeyCode::Left));
        input.handle(&press(KeyCode::Backspace));
        assert_eq!(input.value(), "日x");
        input.handle(&press(KeyCode::Home));
        input.handle(&press(KeyCode::Delete));
        assert_eq!(input.value(), "x");
        assert_eq!(input.width(), 1);
    }

    #[test]
    fn ctrl_w_deletes_a_word_and_ctrl_u_the_line() {
        let mut input = TextInput::new(63);
        typed(&mut input, "hibernate my-box");
        input.handle(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(input.value(), "hibernate ");
        input.handle(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(input.value(), "");
    }

    #[test]
    fn a_paste_is_text_and_never_a_key() {
        let mut input = TextInput::new(20);
        input.paste("cjk\nh\r\n\tq");
        assert_eq!(input.value(), "cjkhq");
        let mut digits = TextInput::new(4).only(Accepts::Digits);
        digits.paste("12 hours");
        assert_eq!(digits.value(), "12");
    }

    #[test]
    fn limits_and_filters_hold() {
        let mut input = TextInput::new(3).only(Accepts::Digits);
        typed(&mut input, "1a2b34");
        assert_eq!(input.value(), "123");
        assert_eq!(input.handle(&press(KeyCode::Enter)), Edit::Ignored);
        assert_eq!(input.handle(&press(KeyCode::Esc)), Edit::Ignored);
    }
}
