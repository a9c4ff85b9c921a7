//! The text of the service files `prism daemon install` writes: a systemd user unit and a
//! launchd agent property list, and the choice of environment variables they carry.
//!
//! Nothing here touches the file system or the process environment; the caller passes the
//! binary's path, the variables and the directories in, and gets text or a refusal back. Every
//! value that comes from outside (paths, variables) is quoted for the format it lands in, and a
//! value that cannot be written safely (a line break or another control character) is refused
//! rather than mangled.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The systemd unit's name, also what `systemctl --user … prism` refers to.
pub const SYSTEMD_UNIT: &str = "prism.service";

/// The launchd job's label; the plist is named after it.
pub const LAUNCHD_LABEL: &str = "org.prism.daemon";

/// Seconds the service manager waits before starting a failed daemon again.
pub const RESTART_DELAY_SECS: u32 = 5;

/// Seconds the service manager gives the daemon to exit after SIGTERM before it kills it. The
/// daemon itself waits up to 30 s for background work on SIGTERM; this leaves it room to
/// finish, remove its runtime file and exit on its own.
pub const STOP_TIMEOUT_SECS: u32 = 40;

/// How many failed starts in [`START_LIMIT_WINDOW_SECS`] make systemd give up, so that a
/// daemon that cannot start (another one holds the data directory, a broken config) is not
/// restarted forever.
const START_LIMIT_BURST: u32 = 5;
const START_LIMIT_WINDOW_SECS: u32 = 300;

/// The service managers Prism can write for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// A systemd user unit (Linux).
    Systemd,
    /// A launchd agent (macOS).
    Launchd,
}

impl Manager {
    /// The manager of the system this binary was built for, if Prism supports one there.
    pub fn for_this_system() -> Option<Manager> {
        if cfg!(target_os = "macos") {
            Some(Manager::Launchd)
        } else if cfg!(target_os = "linux") {
            Some(Manager::Systemd)
        } else {
            None
        }
    }

    /// The file name inside the manager's directory.
    pub fn file_name(self) -> String {
        match self {
            Manager::Systemd => SYSTEMD_UNIT.to_string(),
            Manager::Launchd => format!("{LAUNCHD_LABEL}.plist"),
        }
    }

    /// The command-line tool that drives this manager.
    pub fn tool(self) -> &'static str {
        match self {
            Manager::Systemd => "systemctl",
            Manager::Launchd => "launchctl",
        }
    }

    /// Where this manager reads per-user service files, as a user would write it.
    pub fn own_directory(self) -> &'static str {
        match self {
            Manager::Systemd => "~/.config/systemd/user",
            Manager::Launchd => "~/Library/LaunchAgents",
        }
    }
}

/// What the service runs, and with which environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// The absolute path of the `prism` binary.
    pub program: PathBuf,
    /// Its arguments (`daemon`, and `--listen ADDRESS` when one was given).
    pub args: Vec<String>,
    /// Variables to set, sorted by name.
    pub environment: Vec<(String, String)>,
}

/// Why a service file cannot be written for these values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the program path {0} is not absolute")]
    RelativeProgram(String),
    #[error("{what} is not valid UTF-8: {value}")]
    NotUtf8 { what: String, value: String },
    #[error(
        "{what} contains a line break or another control character, which a service file \
         cannot hold: {value:?}"
    )]
    ControlCharacter { what: String, value: String },
    #[error("{0:?} is not a valid environment variable name")]
    BadName(String),
    #[error("systemd refuses to run a program whose path holds a quote or a backslash: {0}")]
    ProgramUnsafeForSystemd(String),
}

/// The systemd user unit, for `~/.config/systemd/user/prism.service`.
///
/// Standard error goes to the journal (`journalctl --user -u prism`), systemd's default for
/// user services; the daemon keeps its own daily files as well.
pub fn systemd_unit(spec: &ServiceSpec) -> Result<String, RenderError> {
    let program = program_text(&spec.program)?;
    // systemd checks the unquoted executable path and rejects the whole unit ("Executable
    // name contains special characters") rather than run it, however it is quoted.
    if program.contains(['"', '\'', '\\']) {
        return Err(RenderError::ProgramUnsafeForSystemd(program.to_string()));
    }
    // The executable's path is not subject to `$` expansion in systemd, but its arguments
    // are, so only the arguments double their `$`.
    let mut exec = systemd_word(program, "the program path", false)?;
    for arg in &spec.args {
        exec.push(' ');
        exec.push_str(&systemd_word(arg, "an argument", true)?);
    }
    let mut environment = String::new();
    for (name, value) in &spec.environment {
        check_name(name)?;
        refuse_control(value, name)?;
        let assignment = format!("{name}={value}");
        let quoted = systemd_quote(&assignment, name, false)?;
        environment.push_str(&format!("Environment={quoted}\n"));
    }
    Ok(format!(
        "# Written by `prism daemon install`; `prism daemon uninstall` removes it.
# Logs: journalctl --user -u prism (the daemon also keeps daily files in its data directory).
[Unit]
Description=Prism daemon: cloud research workstations on AWS
# Give up after {START_LIMIT_BURST} failed starts in {START_LIMIT_WINDOW_SECS} s, e.g. while \
another daemon holds the data directory.
StartLimitIntervalSec={START_LIMIT_WINDOW_SECS}
StartLimitBurst={START_LIMIT_BURST}

[Service]
Type=simple
ExecStart={exec}
{environment}Restart=on-failure
RestartSec={RESTART_DELAY_SECS}
# SIGTERM is a graceful shutdown: the daemon finishes background work for up to 30 s.
KillSignal=SIGTERM
TimeoutStopSec={STOP_TIMEOUT_SECS}
SyslogIdentifier=prism

[Install]
WantedBy=default.target
"
    ))
}

/// The launchd agent, for `~/Library/LaunchAgents/org.prism.daemon.plist`. Standard output and
/// error go to `daemon.out.log` and `daemon.err.log` in `log_dir` (`~/Library/Logs/prism`,
/// where Console.app looks), which must exist before launchd starts the job.
pub fn launchd_plist(spec: &ServiceSpec, log_dir: &Path) -> Result<String, RenderError> {
    let program = program_text(&spec.program)?;
    let log_dir = path_text(log_dir, "the log directory")?;
    let string = |value: &str, what: &str| -> Result<String, RenderError> {
        Ok(format!("<string>{}</string>", xml_escape(value, what)?))
    };
    let mut arguments = format!("\t\t{}\n", string(program, "the program path")?);
    for arg in &spec.args {
        arguments.push_str(&format!("\t\t{}\n", string(arg, "an argument")?));
    }
    let mut environment = String::new();
    if !spec.environment.is_empty() {
        environment.push_str("\t<key>EnvironmentVariables</key>\n\t<dict>\n");
        for (name, value) in &spec.environment {
            check_name(name)?;
            environment.push_str(&format!(
                "\t\t<key>{name}</key>\n\t\t{}\n",
                string(value, name)?
            ));
        }
        environment.push_str("\t</dict>\n");
    }
    let log = |file: &str| string(&format!("{log_dir}/{file}"), "the log directory");
    let (stdout, stderr) = (log("daemon.out.log")?, log("daemon.err.log")?);
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by `prism daemon install`; `prism daemon uninstall` removes it. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{LAUNCHD_LABEL}</string>
	<key>ProgramArguments</key>
	<array>
{arguments}	</array>
{environment}	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>{RESTART_DELAY_SECS}</integer>
	<key>ExitTimeOut</key>
	<integer>{STOP_TIMEOUT_SECS}</integer>
	<key>StandardOutPath</key>
	{stdout}
	<key>StandardErrorPath</key>
	{stderr}
</dict>
</plist>
"#
    ))
}

/// Variables the service keeps from the environment `install` runs in: where Prism's files
/// are, and which AWS identity, region and endpoints to use. These are names and paths,
/// never secrets.
const KEPT: [&str; 9] = [
    "PRISM_CONFIG_DIR",
    "PRISM_DATA_DIR",
    "PRISM_RUNTIME_DIR",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
];

/// Of [`KEPT`], the ones that are paths: a relative one is made absolute, since the service
/// does not start in the directory `install` ran in.
const PATHS: [&str; 5] = [
    "PRISM_CONFIG_DIR",
    "PRISM_DATA_DIR",
    "PRISM_RUNTIME_DIR",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// Credentials: never written into a file that any process of the user can read.
const SECRETS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// The daemon's settings that `PRISM_*` variables override (see `daemon::config`). They are
/// left out on purpose: frozen into the service file, they would silently beat later edits
/// of `config.toml`.
const SETTINGS: [&str; 12] = crate::daemon::config::ENV_KEYS;

/// The variables a service file carries, and notes on what was left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    /// Sorted by name.
    pub kept: Vec<(String, String)>,
    /// One sentence per variable that is set here but will not reach the service.
    pub notes: Vec<String>,
}

/// Picks the variables to keep from `vars` (the process environment); `cwd` makes relative
/// paths absolute. An empty variable counts as unset.
pub fn select_environment(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    cwd: &Path,
) -> Result<Environment, RenderError> {
    let mut environment = Environment::default();
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        if value.is_empty() {
            continue;
        }
        let kept = KEPT.contains(&name)
            || name
                .strip_prefix("AWS_ENDPOINT_URL_")
                .is_some_and(|service| !service.is_empty());
        if kept {
            let value = if PATHS.contains(&name) {
                cwd.join(value).into_os_string()
            } else {
                value
            };
            let value = value.into_string().map_err(|value| RenderError::NotUtf8 {
                what: name.to_string(),
                value: value.to_string_lossy().into_owned(),
            })?;
            environment.kept.push((name.to_string(), value));
        } else if SECRETS.contains(&name) {
            environment.notes.push(format!(
                "{name} is set but not written to the service file (it holds credentials); \
                 the service uses the AWS credential chain: a profile, ~/.aws/credentials or SSO"
            ));
        } else if let Some(key) = name
            .strip_prefix("PRISM_")
            .map(str::to_ascii_lowercase)
            .filter(|key| SETTINGS.contains(&key.as_str()))
        {
            environment.notes.push(format!(
                "{name} is set but not passed to the service; put `{key} = …` in config.toml \
                 if the service should use it"
            ));
        }
    }
    environment.kept.sort();
    environment.notes.sort();
    Ok(environment)
}

fn program_text(program: &Path) -> Result<&str, RenderError> {
    let text = path_text(program, "the program path")?;
    if !program.is_absolute() {
        return Err(RenderError::RelativeProgram(text.to_string()));
    }
    Ok(text)
}

fn path_text<'a>(path: &'a Path, what: &str) -> Result<&'a str, RenderError> {
    path.to_str().ok_or_else(|| RenderError::NotUtf8 {
        what: what.to_string(),
        value: path.to_string_lossy().into_owned(),
    })
}

fn check_name(name: &str) -> Result<(), RenderError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(RenderError::BadName(name.to_string()))
    }
}

fn refuse_control(value: &str, what: &str) -> Result<(), RenderError> {
    if value.chars().any(char::is_control) {
        return Err(RenderError::ControlCharacter {
            what: what.to_string(),
            value: value.to_string(),
        });
    }
    Ok(())
}

/// One word in a unit file, double-quoted: systemd unescapes `\\` and `\"` inside quotes and
/// expands `%` specifiers everywhere, so `%` becomes `%%`. In a command's arguments (not its
/// path) `$` starts a variable, so there it becomes `$$`.
fn systemd_quote(value: &str, what: &str, in_arguments: bool) -> Result<String, RenderError> {
    refuse_control(value, what)?;
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if in_arguments => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// A word of a command line, quoted only when systemd would otherwise split or unescape it,
/// so that an ordinary path reads as itself.
fn systemd_word(value: &str, what: &str, in_arguments: bool) -> Result<String, RenderError> {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if !plain {
        return systemd_quote(value, what, in_arguments);
    }
    refuse_control(value, what)?;
    let value = value.replace('%', "%%");
    Ok(if in_arguments {
        value.replace('$', "$$")
    } else {
        value
    })
}

/// Text for an XML element's content. XML 1.0 cannot carry most control characters at all,
/// and launchd would not want the rest.
fn xml_escape(value: &str, what: &str) -> Result<String, RenderError> {
    refuse_control(value, what)?;
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            program: PathBuf::from("/opt/prism/bin/prism"),
            args: vec!["daemon".into()],
            environment: vec![
                ("AWS_PROFILE".into(), "research".into()),
                ("AWS_REGION".into(), "eu-west-1".into()),
                ("PRISM_DATA_DIR".into(), "/srv/prism data".into()),
            ],
        }
    }

    #[test]
    fn systemd_unit_snapshot() {
        insta::assert_snapshot!("systemd_unit", systemd_unit(&spec()).expect("renders"));
    }

    #[test]
    fn launchd_plist_snapshot() {
        let plist = launchd_plist(&spec(), Path::new("/Users/ada/Library/Logs/prism"));
        insta::assert_snapshot!("launchd_plist", plist.expect("renders"));
    }

    #[test]
    fn a_unit_without_variables_has_no_environment_lines() {
        let spec = ServiceSpec {
            environment: vec![],
            ..spec()
        };
        let unit = systemd_unit(&spec).expect("renders");
        assert!(!unit.contains("Environment="), "{unit}");
        let plist = launchd_plist(&spec, Path::new("/logs")).expect("renders");
        assert!(!plist.contains("EnvironmentVariables"), "{plist}");
    }

    #[test]
    fn awkward_values_are_quoted_for_systemd() {
        let spec = ServiceSpec {
            program: PathBuf::from("/home/ada/my tools/100% $HOME/prism"),
            args: vec!["daemon".into(), "$X".into()],
            environment: vec![(
                "PRISM_CONFIG_DIR".into(),
                r#"/a b/"q" 'it's' 5% $USER\"#.into(),
            )],
        };
        let unit = systemd_unit(&spec).expect("renders");
        assert!(
            unit.contains(r#"ExecStart="/home/ada/my tools/100%% $HOME/prism" daemon $$X"#),
            "{unit}"
        );
        assert!(
            unit.contains(r#"Environment="PRISM_CONFIG_DIR=/a b/\"q\" 'it's' 5%% $USER\\""#),
            "{unit}"
        );
    }

    #[test]
    fn an_ordinary_path_is_left_unquoted_but_its_percent_signs_doubled() {
        let spec = ServiceSpec {
            program: PathBuf::from("/opt/100%/$dir/prism"),
            args: vec!["daemon".into(), "--listen".into(), "127.0.0.1:9000".into()],
            environment: vec![],
        };
        let unit = systemd_unit(&spec).expect("renders");
        assert!(
            unit.contains("\nExecStart=/opt/100%%/$dir/prism daemon --listen 127.0.0.1:9000\n"),
            "{unit}"
        );
    }

    #[test]
    fn awkward_values_are_escaped_for_launchd() {
        let spec = ServiceSpec {
            program: PathBuf::from("/opt/a&b/<prism>"),
            args: vec!["daemon".into()],
            environment: vec![("AWS_PROFILE".into(), r#"R&D <"lab"> 100% $x"#.into())],
        };
        let plist = launchd_plist(&spec, Path::new("/logs & more")).expect("renders");
        assert!(
            plist.contains("<string>/opt/a&amp;b/&lt;prism&gt;</string>"),
            "{plist}"
        );
        assert!(
            plist.contains(r#"<string>R&amp;D &lt;"lab"&gt; 100% $x</string>"#),
            "{plist}"
        );
        assert!(
            plist.contains("<string>/logs &amp; more/daemon.err.log</string>"),
            "{plist}"
        );
    }

    #[test]
    fn line_breaks_and_control_characters_are_refused() {
        for value in ["two\nlines", "carriage\rreturn", "tab\there", "nul\0"] {
            let spec = ServiceSpec {
                environment: vec![("AWS_PROFILE".into(), value.into())],
                ..spec()
            };
            let expected = RenderError::ControlCharacter {
                what: "AWS_PROFILE".into(),
                value: value.into(),
            };
            assert_eq!(systemd_unit(&spec), Err(expected.clone()), "{value:?}");
            assert_eq!(launchd_plist(&spec, Path::new("/l")), Err(expected));
        }
        let spec = ServiceSpec {
            program: PathBuf::from("/opt/new\nline/prism"),
            ..spec()
        };
        assert!(matches!(
            systemd_unit(&spec),
            Err(RenderError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn a_program_path_systemd_will_not_run_is_refused_for_systemd_only() {
        for program in [
            r#"/opt/"q"/prism"#,
            "/opt/it's/prism",
            r"/opt/back\slash/prism",
        ] {
            let spec = ServiceSpec {
                program: PathBuf::from(program),
                ..spec()
            };
            assert_eq!(
                systemd_unit(&spec),
                Err(RenderError::ProgramUnsafeForSystemd(program.into()))
            );
            assert!(launchd_plist(&spec, Path::new("/l")).is_ok(), "{program}");
        }
    }

    #[test]
    fn a_relative_program_is_refused() {
        let spec = ServiceSpec {
            program: PathBuf::from("target/debug/prism"),
            ..spec()
        };
        let expected = RenderError::RelativeProgram("target/debug/prism".into());
        assert_eq!(systemd_unit(&spec), Err(expected.clone()));
        assert_eq!(launchd_plist(&spec, Path::new("/l")), Err(expected));
    }

    #[test]
    fn a_bad_variable_name_is_refused() {
        for name in ["", "1ABC", "A B", "A=B", "A\"B"] {
            let spec = ServiceSpec {
                environment: vec![(name.into(), "v".into())],
                ..spec()
            };
            assert_eq!(systemd_unit(&spec), Err(RenderError::BadName(name.into())));
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn the_environment_keeps_locations_and_aws_choices_only() {
        let selected = select_environment(
            vars(&[
                ("PATH", "/usr/bin"),
                ("HOME", "/home/ada"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_PROFILE", "research"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                ("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5001"),
                ("AWS_ENDPOINT_URL_", "nothing"),
                ("PRISM_DATA_DIR", "/srv/prism"),
                ("PRISM_CONFIG_DIR", "conf"),
                ("AWS_CONFIG_FILE", "../aws/config"),
                ("PRISM_SERVICE_DIR", "/tmp/units"),
                ("PRISM_DAEMON_URL", "http://127.0.0.1:1"),
                ("AWS_DEFAULT_REGION", ""),
            ]),
            Path::new("/work/here"),
        )
        .expect("selects");
        let kept: Vec<(&str, &str)> = selected
            .kept
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("AWS_CONFIG_FILE", "/work/here/../aws/config"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                ("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5001"),
                ("AWS_PROFILE", "research"),
                ("AWS_REGION", "eu-west-1"),
                ("PRISM_CONFIG_DIR", "/work/here/conf"),
                ("PRISM_DATA_DIR", "/srv/prism"),
            ]
        );
        assert!(selected.notes.is_empty(), "{:?}", selected.notes);
    }

    #[test]
    fn credentials_and_settings_are_left_out_with_a_note() {
        let selected = select_environment(
            vars(&[
                ("AWS_SECRET_ACCESS_KEY", "very-secret"),
                ("AWS_ACCESS_KEY_ID", "AKIA"),
                ("PRISM_POLL_INTERVAL_SECS", "10"),
                ("PRISM_MOTO_LOG", "/dev/null"),
            ]),
            Path::new("/"),
        )
        .expect("selects");
        assert!(selected.kept.is_empty());
        assert_eq!(selected.notes.len(), 3, "{:?}", selected.notes);
        assert!(selected.notes[0].starts_with("AWS_ACCESS_KEY_ID is set but not written"));
        assert!(selected.notes[2].contains("`poll_interval_secs = …` in config.toml"));
        assert!(!selected.notes.concat().contains("very-secret"));
    }

    #[cfg(unix)]
    #[test]
    fn a_kept_variable_that_is_not_utf8_is_refused() {
        use std::os::unix::ffi::OsStringExt as _;
        let bad = OsString::from_vec(vec![b'/', 0xff]);
        let result = select_environment([(OsString::from("PRISM_DATA_DIR"), bad)], Path::new("/"));
        assert!(
            matches!(result, Err(RenderError::NotUtf8 { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn the_daemon_gets_longer_to_stop_than_it_waits_for_background_work() {
        const { assert!(STOP_TIMEOUT_SECS > crate::daemon::api::SHUTDOWN_TIMEOUT_SECS + 5) };
    }

    #[test]
    fn the_settings_left_out_are_the_daemons_env_keys() {
        assert_eq!(SETTINGS, crate::daemon::config::ENV_KEYS);
    }
}
