//! Key bindings: which key means which [`Action`].
//!
//! Two maps ship in `keymaps/` (compiled in): `default` and `vim`, which patches `default`. A
//! user's `keymap.toml` in the config directory patches the chosen base the same way: it names
//! only the keys it changes, and `"none"` removes a binding. A file that cannot be used is
//! reported and the bundled map is used instead, so a typo never leaves the dashboard without
//! keys.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::Action;

const DEFAULT_MAP: &str = include_str!("../../keymaps/default.toml");
const VIM_MAP: &str = include_str!("../../keymaps/vim.toml");

/// The names of the bundled maps.
pub const BUNDLED: [&str; 2] = ["default", "vim"];

fn bundled_text(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(DEFAULT_MAP),
        "vim" => Some(VIM_MAP),
        _ => None,
    }
}

/// A key with its modifiers, as a binding names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl KeyChord {
    /// The chord a key event stands for. Shift is part of a character already ("G"), so it is
    /// dropped there; it stays on named keys ("shift-tab" arrives as backtab anyway).
    pub fn from_event(event: &KeyEvent) -> KeyChord {
        let mut modifiers = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if !matches!(event.code, KeyCode::Char(_)) {
            modifiers |= event.modifiers & KeyModifiers::SHIFT;
        }
        let code = event.code;
        if code == KeyCode::BackTab {
            modifiers -= KeyModifiers::SHIFT;
        }
        KeyChord { code, modifiers }
    }
}

/// Why a key name could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a key; write a character such as \"q\" or a name such as \"ctrl-d\"")]
pub struct BadKey(pub String);

/// Reads a key name such as `q`, `G`, `ctrl-c`, `shift-tab` or `pagedown`.
pub fn parse_key(text: &str) -> Result<KeyChord, BadKey> {
    let bad = || BadKey(text.to_string());
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let (modifier, len) = if lower.starts_with("ctrl-") {
            (KeyModifiers::CONTROL, 5)
        } else if lower.starts_with("alt-") {
            (KeyModifiers::ALT, 4)
        } else if lower.starts_with("shift-") {
            (KeyModifiers::SHIFT, 6)
        } else {
            break;
        };
        // A lone "-" after a modifier is the minus key, not another modifier.
        if rest.len() == len {
            return Err(bad());
        }
        modifiers |= modifier;
        rest = &rest[len..];
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => {
            if modifiers.contains(KeyModifiers::SHIFT) {
                modifiers -= KeyModifiers::SHIFT;
                KeyCode::Char(c.to_ascii_uppercase())
            } else if modifiers.contains(KeyModifiers::CONTROL) {
                KeyCode::Char(c.to_ascii_lowercase())
            } else {
                KeyCode::Char(c)
            }
        }
        (None, _) => return Err(bad()),
        _ => match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers -= KeyModifiers::SHIFT;
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "insert" => KeyCode::Insert,
            name => match name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                Some(n) if (1..=12).contains(&n) => KeyCode::F(n),
                _ => return Err(bad()),
            },
        },
    };
    Ok(KeyChord { code, modifiers })
}

/// How a key is written in the hint bar and the help overlay.
pub fn key_label(chord: &KeyChord) -> String {
    let mut label = String::new();
    if chord.modifiers.contains(KeyModifiers::CONTROL) {
        label.push_str("Ctrl-");
    }
    if chord.modifiers.contains(KeyModifiers::ALT) {
        label.push_str("Alt-");
    }
    if chord.modifiers.contains(KeyModifiers::SHIFT) {
        label.push_str("Shift-");
    }
    let key = match chord.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Backspace => "Backspace".into(),
        KeyCode::Delete => "Del".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Insert => "Ins".into(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    };
    label.push_str(&key);
    label
}

/// One keymap file: an optional base to patch, and key → action lines.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeymapFile {
    base: Option<String>,
    #[serde(default)]
    keys: BTreeMap<String, String>,
}

/// The live bindings.
#[derive(Clone, Debug)]
pub struct Keymap {
    bindings: HashMap<KeyChord, Action>,
    /// Which map it came from, e.g. "vim + ~/.config/prism/keymap.toml".
    pub source: String,
}

impl Keymap {
    /// A bundled map by name.
    pub fn bundled(name: &str) -> Result<Keymap, String> {
        let mut keymap = Keymap {
            bindings: HashMap::new(),
            source: name.to_string(),
        };
        keymap.apply_text(
            bundled_text(name).ok_or_else(|| {
                format!(
                    "there is no bundled keymap '{name}'; use one of {}",
                    BUNDLED.join(", ")
                )
            })?,
            name,
            0,
        )?;
        Ok(keymap)
    }

    /// The map to use: `base` (a bundled name) patched by the user's file when it exists.
    /// Problems are returned as a warning to show, with the bundled map in use instead.
    pub fn load(base: &str, user_file: &Path) -> (Keymap, Option<String>) {
        let fallback = || Keymap::bundled(base).or_else(|_| Keymap::bundled("default"));
        let text = match std::fs::read_to_string(user_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return match Keymap::bundled(base) {
                    Ok(keymap) => (keymap, None),
                    Err(error) => (fallback().unwrap_or_else(|_| Keymap::empty()), Some(error)),
                };
            }
            Err(e) => {
                let warning = format!(
                    "cannot read {}: {e}; using the bundled keys",
                    user_file.display()
                );
                return (
                    fallback().unwrap_or_else(|_| Keymap::empty()),
                    Some(warning),
                );
            }
        };
        let label = user_file.display().to_string();
        let result = parse_file(&text, &label).and_then(|file| {
            let mut keymap = Keymap::bundled(file.base.as_deref().unwrap_or(base))?;
            keymap.patch(&file.keys, &label)?;
            keymap.source = format!("{} + {label}", file.base.as_deref().unwrap_or(base));
            Ok(keymap)
        });
        match result {
            Ok(keymap) => (keymap, None),
            Err(error) => (
                fallback().unwrap_or_else(|_| Keymap::empty()),
                Some(format!("{error}; using the bundled keys")),
            ),
        }
    }

    fn empty() -> Keymap {
        Keymap {
            bindings: HashMap::new(),
            source: "none".into(),
        }
    }

    fn apply_text(&mut self, text: &str, label: &str, depth: usize) -> Result<(), String> {
        let file = parse_file(text, label)?;
        if let Some(base) = &file.base {
            if depth > 3 {
                return Err(format!("{label}: keymap bases nest too deeply"));
            }
            let base_text = bundled_text(base).ok_or_else(|| {
                format!(
                    "{label}: base '{base}' is not one of {}",
                    BUNDLED.join(", ")
                )
            })?;
            self.apply_text(base_text, base, depth + 1)?;
        }
        self.patch(&file.keys, label)
    }

    fn patch(&mut self, keys: &BTreeMap<String, String>, label: &str) -> Result<(), String> {
        for (key, action) in keys {
            let chord = parse_key(key).map_err(|e| format!("{label}: {e}"))?;
            if action == "none" {
                self.bindings.remove(&chord);
                continue;
            }
            let action = action.parse::<Action>().map_err(|e| {
                format!("{label}: key \"{key}\": {e}; see keymaps/default.toml for the names")
            })?;
            self.bindings.insert(chord, action);
        }
        Ok(())
    }

    /// The action bound to a key event, if any.
    pub fn action_for(&self, event: &KeyEvent) -> Option<Action> {
        self.bindings.get(&KeyChord::from_event(event)).copied()
    }

    /// The keys bound to an action: characters first, then named keys, arrows last (a hint
    /// reads better as "Tab" than as "→"), shortest first within each.
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        let mut keys: Vec<(u8, String)> = self
            .bindings
            .iter()
            .filter(|(_, bound)| **bound == action)
            .map(|(chord, _)| {
                let rank = match chord.code {
                    KeyCode::Char(_) => 0,
                    KeyCode::Up | KeyCode::Down | KeyCode::Left | KeyCode::Right => 2,
                    _ => 1,
                };
                (rank, key_label(chord))
            })
            .collect();
        keys.sort_by(|(ra, a), (rb, b)| {
            ra.cmp(rb)
                .then(a.chars().count().cmp(&b.chars().count()))
                .then(a.cmp(b))
        });
        keys.into_iter().map(|(_, key)| key).collect()
    }

    /// The first key for an action, for hints; `None` when it is unbound.
    pub fn first_key(&self, action: Action) -> Option<String> {
        self.keys_for(action).into_iter().next()
    }
}

fn parse_file(text: &str, label: &str) -> Result<KeymapFile, String> {
    toml::from_str::<KeymapFile>(text).map_err(|e| {
        // "line 3, column 7" from the error's byte span, which is all toml gives.
        let at = e.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(" (line {line}, column {column})")
        });
        format!("{label}{}: {}", at.unwrap_or_default(), e.message().trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[rstest]
    #[case("q", KeyCode::Char('q'), KeyModifiers::NONE)]
    #[case("G", KeyCode::Char('G'), KeyModifiers::NONE)]
    #[case("shift-g", KeyCode::Char('G'), KeyModifiers::NONE)]
    #[case("ctrl-c", KeyCode::Char('c'), KeyModifiers::CONTROL)]
    #[case("Ctrl-D", KeyCode::Char('d'), KeyModifiers::CONTROL)]
    #[case("shift-tab", KeyCode::BackTab, KeyModifiers::NONE)]
    #[case("backtab", KeyCode::BackTab, KeyModifiers::NONE)]
    #[case("pagedown", KeyCode::PageDown, KeyModifiers::NONE)]
    #[case("f5", KeyCode::F(5), KeyModifiers::NONE)]
    #[case("space", KeyCode::Char(' '), KeyModifiers::NONE)]
    #[case("-", KeyCode::Char('-'), KeyModifiers::NONE)]
    #[case("alt-x", KeyCode::Char('x'), KeyModifiers::ALT)]
    fn key_names_parse(#[case] text: &str, #[case] code: KeyCode, #[case] mods: KeyModifiers) {
        assert_eq!(
            parse_key(text),
            Ok(KeyChord {
                code,
                modifiers: mods
            })
        );
    }

    #[rstest]
    #[case("")]
    #[case("ctrl-")]
    #[case("hyper-x")]
    #[case("f13")]
    fn bad_key_names_are_refused(#[case] text: &str) {
        assert!(parse_key(text).is_err(), "{text}");
    }

    #[test]
    fn both_bundled_maps_load() {
        for name in BUNDLED {
            let keymap = Keymap::bundled(name).expect(name);
            let quit = key(KeyCode::Char('q'), KeyModifiers::NONE);
            assert_eq!(keymap.action_for(&quit), Some(Action::Quit), "{name}");
        }
    }

    #[test]
    fn vim_patches_the_default_map() {
        let vim = Keymap::bundled("vim").expect("vim");
        let h = key(KeyCode::Char('h'), KeyModifiers::NONE);
        assert_eq!(vim.action_for(&h), Some(Action::PrevTab));
        let shift_h = key(KeyCode::Char('H'), KeyModifiers::SHIFT);
        assert_eq!(vim.action_for(&shift_h), Some(Action::Hibernate));
        // Inherited unchanged from default.
        let slash = key(KeyCode::Char('/'), KeyModifiers::NONE);
        assert_eq!(vim.action_for(&slash), Some(Action::Filter));
    }

    #[test]
    fn a_user_file_overrides_only_the_keys_it_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("keymap.toml");
        std::fs::write(&file, "[keys]\n\"x\" = \"none\"\n\"D\" = \"terminate\"\n").expect("write");
        let (keymap, warning) = Keymap::load("default", &file);
        assert_eq!(warning, None);
        let x = key(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(keymap.action_for(&x), None);
        let d = key(KeyCode::Char('D'), KeyModifiers::SHIFT);
        assert_eq!(keymap.action_for(&d), Some(Action::Terminate));
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(keymap.action_for(&q), Some(Action::Quit));
    }

    #[rstest]
    #[case("[keys]\n\"q\" = \"explode\"\n", "explode")]
    #[case("[keys]\n\"hyper-q\" = \"quit\"\n", "hyper-q")]
    #[case("[kyes]\n\"q\" = \"quit\"\n", "kyes")]
    #[case("base = \"emacs\"\n", "emacs")]
    #[case("not toml at all [", "line 1")]
    fn a_bad_user_file_is_reported_and_the_defaults_used(
        #[case] text: &str,
        #[case] mentioned: &str,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("keymap.toml");
        std::fs::write(&file, text).expect("write");
        let (keymap, warning) = Keymap::load("default", &file);
        let warning = warning.expect("a warning");
        assert!(warning.contains(mentioned), "{warning}");
        let x = key(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(keymap.action_for(&x), Some(Action::Terminate));
    }

    #[test]
    fn a_missing_user_file_is_no_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (keymap, warning) = Keymap::load("vim", &dir.path().join("keymap.toml"));
        assert_eq!(warning, None);
        assert_eq!(keymap.source, "vim");
    }

    #[test]
    fn keys_for_lists_every_binding_shortest_first() {
        let keymap = Keymap::bundled("default").expect("default");
        assert_eq!(keymap.keys_for(Action::Quit), vec!["q", "Ctrl-c"]);
        assert_eq!(keymap.first_key(Action::Down).as_deref(), Some("j"));
    }
}
