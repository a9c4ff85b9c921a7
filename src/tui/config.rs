//! The dashboard's settings: compiled defaults, then `tui.toml` in the config directory, then
//! `PRISM_TUI_*` environment variables, then the command line. Kept apart from the daemon's
//! `config.toml`, whose unknown keys are errors.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use super::keymap::BUNDLED;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuiConfig {
    /// Seconds between polls of the daemon.
    pub refresh_secs: u64,
    /// The bundled keymap to start from: `default` or `vim`.
    pub keymap: String,
    /// The log filter for the dashboard's own log file (`PRISM_LOG` overrides it).
    pub log: String,
}

impl Default for TuiConfig {
    fn default() -> TuiConfig {
        TuiConfig {
            refresh_secs: 30,
            keymap: "default".into(),
            log: "info".into(),
        }
    }
}

/// The shortest and longest poll intervals accepted.
pub const REFRESH_RANGE: std::ops::RangeInclusive<u64> = 2..=3600;

impl TuiConfig {
    pub fn load(file: &Path) -> Result<TuiConfig, String> {
        let config: TuiConfig = Figment::from(Serialized::defaults(TuiConfig::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("PRISM_TUI_").only(&["refresh_secs", "keymap"]))
            .extract()
            .map_err(|e| {
                format!(
                    "{} (in {} or PRISM_TUI_*; see the README's dashboard section)",
                    e.to_string().replace("\"default.", "\""),
                    file.display()
                )
            })?;
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> Result<(), String> {
        if !REFRESH_RANGE.contains(&self.refresh_secs) {
            return Err(format!(
                "refresh_secs = {} is out of range; write a number of seconds from {} to {}",
                self.refresh_secs,
                REFRESH_RANGE.start(),
                REFRESH_RANGE.end()
            ));
        }
        if !BUNDLED.contains(&self.keymap.as_str()) {
            return Err(format!(
                "keymap = {:?} is not a bundled keymap; write one of {}",
                self.keymap,
                BUNDLED.join(", ")
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_out() {
        assert_eq!(TuiConfig::default().check(), Ok(()));
    }

    #[test]
    fn a_bad_file_names_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tui.toml");
        std::fs::write(&file, "refresh_sec = 10\n").expect("write");
        let error = TuiConfig::load(&file).expect_err("typo");
        assert!(error.contains("refresh_sec"), "{error}");
        std::fs::write(&file, "refresh_secs = 1\n").expect("write");
        let error = TuiConfig::load(&file).expect_err("too fast");
        assert!(error.contains("2 to 3600"), "{error}");
        std::fs::write(&file, "keymap = \"emacs\"\n").expect("write");
        let error = TuiConfig::load(&file).expect_err("no such keymap");
        assert!(error.contains("default, vim"), "{error}");
    }
}
