//! The daemon's configuration: compiled defaults, then `config.toml` in the config directory,
//! then `PRISM_*` environment variables, each layer overriding the one before.
//!
//! Unknown keys in the file are errors (a typo must not silently fall back to a default);
//! environment variables are read only for known keys, so unrelated `PRISM_*` variables are
//! left alone. A bad value is reported with its key, where it came from, and what to write.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use crate::paths::Dirs;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything the daemon can be told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the REST API listens. Loopback only unless a later setting allows otherwise.
    /// Written as an IP socket address or `localhost:PORT`.
    #[serde(deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// The AWS region for workspaces that name none; the AWS chain's region when unset.
    pub region: Option<String>,
    /// The value of the `prism:owner` tag on this daemon's workspaces; the login name when
    /// unset. Two daemons with different owners never touch each other's workspaces.
    pub owner: Option<String>,
    /// Seconds between refreshes of the workspace list from EC2.
    pub poll_interval_secs: u64,
    /// Attempts per AWS call, with back-off, including the first.
    pub aws_max_attempts: u32,
    /// The SSH public key imported as the workspaces' key pair. Empty means none: EC2 then
    /// creates a key pair and the private key is kept in the config directory.
    pub ssh_public_key: Option<PathBuf>,
    /// Who may reach port 22 of a workspace.
    pub ssh_cidr: String,
    /// Who may reach the services' ports directly. Unset keeps them closed: services are
    /// reached through the SSH tunnel that `connect` prints.
    pub service_cidr: Option<String>,
    /// Extra template files; same-named templates here override bundled ones.
    pub templates_dir: Option<PathBuf>,
    /// The log filter (tracing's EnvFilter syntax), e.g. `info` or `prism=debug`.
    pub log: String,
    /// Where TCP goes when the default port (8947) is taken, e.g. by another user's daemon:
    /// an address (`127.0.0.1:0`, any free port, recorded in the runtime file) or `none`
    /// (the socket only). An address set in `listen` is never replaced by this.
    pub tcp_fallback: String,
    /// Allows `listen` to be an address other machines can reach. Off by default: the API
    /// controls the AWS account, and loopback plus the token is the safe arrangement.
    pub allow_non_loopback: bool,
    /// Whether `listen` was set (file or environment) rather than left at the default. Not a
    /// key: worked out while loading.
    #[serde(skip)]
    pub listen_explicit: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8947)),
            region: None,
            owner: None,
            poll_interval_secs: 30,
            aws_max_attempts: 3,
            ssh_public_key: None,
            ssh_cidr: "0.0.0.0/0".to_string(),
            service_cidr: None,
            templates_dir: None,
            log: "info".to_string(),
            tcp_fallback: "127.0.0.1:0".to_string(),
            allow_non_loopback: false,
            listen_explicit: false,
        }
    }
}

fn listen_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    crate::model::address::parse_listen(&text).map_err(serde::de::Error::custom)
}

/// Keys read from `PRISM_*` environment variables.
pub(crate) const ENV_KEYS: [&str; 12] = [
    "listen",
    "tcp_fallback",
    "allow_non_loopback",
    "region",
    "owner",
    "poll_interval_secs",
    "aws_max_attempts",
    "ssh_public_key",
    "ssh_cidr",
    "service_cidr",
    "templates_dir",
    "log",
];

impl Config {
    /// Reads the layers. `file` is the TOML file (it need not exist).
    pub fn load(file: &Path) -> Result<Config, String> {
        let given = Figment::new()
            .merge(Toml::file(file))
            .merge(Env::prefixed("PRISM_").only(&ENV_KEYS));
        let listen_explicit = given.find_value("listen").is_ok();
        Figment::from(Serialized::defaults(Config::default()))
            .merge(given)
            .extract()
            .map(|config: Config| Config {
                listen_explicit,
                ..config
            })
            .map_err(|e| {
                let mut text = String::new();
                for error in e {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    // figment names keys by profile ("default.listen"); Prism has one profile.
                    text.push_str(&error.to_string().replace("\"default.", "\""));
                }
                format!("{text}\n(see the Configuration section of the README for every key)")
            })
    }

    /// The owner tag value: `owner` from the config, else the login name. Without either the
    /// daemon must not start: a made-up default would make everyone who lacks a name share
    /// one owner tag, and so each other's workspaces.
    pub fn owner(&self) -> Result<String, String> {
        resolve_owner(
            self.owner.as_deref(),
            |key| std::env::var(key).ok(),
            system_login_name,
        )
    }

    /// The public key to import, if any: the configured one, or the first of the usual
    /// `~/.ssh` keys. An explicitly empty setting means "let EC2 create one".
    pub fn public_key_path(&self) -> Option<PathBuf> {
        match &self.ssh_public_key {
            Some(path) if path.as_os_str().is_empty() => None,
            Some(path) => Some(path.clone()),
            None => {
                let home = directories::BaseDirs::new()?.home_dir().to_path_buf();
                ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"]
                    .iter()
                    .map(|name| home.join(".ssh").join(name))
                    .find(|path| path.is_file())
            }
        }
    }

    /// Checks the values figment cannot: things that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        if self.poll_interval_secs < 5 || self.poll_interval_secs > 3600 {
            return Err(format!(
                "poll_interval_secs = {} is out of range; write a number of seconds from 5 to 3600",
                self.poll_interval_secs
            ));
        }
        if !(1..=10).contains(&self.aws_max_attempts) {
            return Err(format!(
                "aws_max_attempts = {} is out of range; write a number from 1 to 10",
                self.aws_max_attempts
            ));
        }
        for (key, cidr) in [
            ("ssh_cidr", Some(&self.ssh_cidr)),
            ("service_cidr", self.service_cidr.as_ref()),
        ] {
            if let Some(cidr) = cidr
                && !looks_like_cidr(cidr)
            {
                return Err(format!(
                    "{key} = {cidr:?} is not a CIDR block; write e.g. \"10.0.0.0/8\""
                ));
            }
        }
        if !self.listen.ip().is_loopback() && !self.allow_non_loopback {
            return Err(format!(
                "listen = {} is not a loopback address; the daemon's API controls your AWS \
                 account and must only listen on 127.0.0.1 or ::1 (set allow_non_loopback = \
                 true to accept it anyway, with the token as the only protection)",
                self.listen
            ));
        }
        super::transport::Fallback::parse(&self.tcp_fallback)?;
        Ok(())
    }
}

/// The owner from the configured value, else `USER`, `LOGNAME` (or `USERNAME` on Windows),
/// else the system's name for this process's user, made safe for a tag value.
fn resolve_owner(
    configured: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    system: impl FnOnce() -> Option<String>,
) -> Result<String, String> {
    let from_env = || {
        ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .filter_map(|key| env(key))
            .map(|value| value.trim().to_string())
            .find(|value| !value.is_empty())
    };
    let raw = match configured {
        Some(owner) => owner.trim().to_string(),
        None => from_env().or_else(system).unwrap_or_default(),
    };
    let owner: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if owner.chars().all(|c| c == '-') {
        let why = if configured.is_some() {
            format!("owner = {raw:?} leaves nothing to tag workspaces with")
        } else {
            "cannot find your login name (USER and LOGNAME are unset, and the system has no \
             name for this user)"
                .to_string()
        };
        return Err(format!(
            "{why}; set `owner` in config.toml or PRISM_OWNER to a name such as \"alice\" \
             (it tags your workspaces, and each daemon sees only its owner's)"
        ));
    }
    Ok(owner)
}

/// The login name of this process's user, as `id -un` reports it (which asks the system's
/// user database, LDAP included, without any unsafe code here).
fn system_login_name() -> Option<String> {
    #[cfg(unix)]
    {
        let output = std::process::Command::new("id")
            .arg("-un")
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let name = String::from_utf8(output.stdout).ok()?.trim().to_string();
        (output.status.success() && !name.is_empty()).then_some(name)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn looks_like_cidr(text: &str) -> bool {
    let Some((address, bits)) = text.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sane() {
        let config = Config::default();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8947");
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "pol_interval_secs = 10\n").expect("write");
        let err = Config::load(&file).expect_err("typo must fail");
        assert!(err.contains("pol_interval_secs"), "{err}");
    }

    #[test]
    fn the_listen_key_accepts_localhost_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "listen = \"localhost:18950\"\n").expect("write");
        let config = Config::load(&file).expect("localhost is an address");
        assert_eq!(config.listen.to_string(), "127.0.0.1:18950");
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn bad_values_name_their_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "listen = \"not an address\"\n").expect("write");
        let err = Config::load(&file).expect_err("bad address");
        assert!(err.contains("listen"), "{err}");
    }

    /// Regression: with USER and LOGNAME unset the owner silently became "researcher", a tag
    /// every such user would share.
    #[test]
    fn the_owner_falls_back_to_the_system_login_name_then_refuses() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |key: &str| {
                vars.iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| v.to_string())
            }
        };
        let system = || Some("alice".to_string());
        let nobody = || None;
        assert_eq!(
            resolve_owner(None, env(&[("USER", "bob")]), system),
            Ok("bob".into())
        );
        assert_eq!(
            resolve_owner(None, env(&[("USER", ""), ("LOGNAME", "carol")]), system),
            Ok("carol".into())
        );
        assert_eq!(resolve_owner(None, env(&[]), system), Ok("alice".into()));
        assert_eq!(
            resolve_owner(Some("lab pi"), env(&[]), nobody),
            Ok("lab-pi".into())
        );
        let error = resolve_owner(None, env(&[]), nobody).expect_err("no name at all");
        assert!(
            error.contains("PRISM_OWNER") && error.contains("owner"),
            "{error}"
        );
        assert!(resolve_owner(Some("  "), env(&[("USER", "bob")]), system).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_system_knows_this_processs_login_name() {
        assert!(system_login_name().is_some_and(|name| !name.is_empty()));
    }

    #[test]
    fn range_checks_say_what_to_write() {
        let config = Config {
            poll_interval_secs: 1,
            ..Config::default()
        };
        assert!(config.check().expect_err("too fast").contains("5 to 3600"));
        let config = Config {
            ssh_cidr: "everyone".into(),
            ..Config::default()
        };
        assert!(config.check().expect_err("bad cidr").contains("CIDR"));
        let config = Config {
            listen: "0.0.0.0:8947".parse().expect("addr"),
            ..Config::default()
        };
        assert!(config.check().expect_err("public").contains("loopback"));
    }
}
