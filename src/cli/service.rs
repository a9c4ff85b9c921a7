//! `prism daemon install` and `prism daemon uninstall`: the daemon as a systemd user service
//! (Linux) or a launchd agent (macOS), started at login and again after a crash.
//!
//! The file's text comes from [`render`]; this module finds where it goes, compares it with
//! what is there, writes or removes it, and drives `systemctl` or `launchctl` when they are on
//! `PATH` (unless `--no-start`), printing the commands instead when they are not.
//! `PRISM_SERVICE_DIR` puts the file somewhere else (for tests and packaging); the service
//! manager does not look there, so with it set the manager is never asked to do anything.

mod render;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::output::{Format, fields, json, say};
use super::{Failure, daemon};
use crate::paths::{Dirs, read_runtime};
pub use render::Manager;
use render::{LAUNCHD_LABEL, ServiceSpec};

/// What `prism daemon install` was asked to do.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Only write the file; print the commands that start the service.
    pub no_start: bool,
    pub force: bool,
    pub manager: Option<Manager>,
    pub listen: Option<SocketAddr>,
}

/// What became of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Written,
    Replaced,
    Unchanged,
}

/// The answer of `install`, as `--output json` prints it.
#[derive(Debug, Serialize)]
struct Installed {
    manager: Manager,
    path: PathBuf,
    outcome: Outcome,
    /// The command the service runs.
    program: Vec<String>,
    environment: BTreeMap<String, String>,
    /// Where the daemon's output goes.
    logs: Vec<String>,
    /// Shell commands still to run (none when `install` ran them itself).
    next_commands: Vec<String>,
    commands_run: Vec<String>,
    warnings: Vec<String>,
}

/// The answer of `uninstall`.
#[derive(Debug, Serialize)]
struct Uninstalled {
    manager: Manager,
    path: PathBuf,
    removed: bool,
    commands_run: Vec<String>,
    warnings: Vec<String>,
}

/// A refusal with what to do about it; exits 1.
#[derive(Debug)]
struct Refusal {
    message: String,
    hint: String,
}

impl Refusal {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn report(self) -> Failure {
        eprintln!("error: {}", self.message);
        if !self.hint.is_empty() {
            eprintln!("  hint: {}", self.hint);
        }
        Failure::Api
    }
}

/// Where the service file goes.
#[derive(Debug)]
struct Target {
    manager: Manager,
    path: PathBuf,
    /// Set by `PRISM_SERVICE_DIR`, outside the manager's own directory.
    overridden: bool,
}

impl Target {
    fn resolve(manager: Option<Manager>) -> Result<Target, Refusal> {
        let manager = manager.or_else(Manager::for_this_system).ok_or_else(|| {
            Refusal::new(
                "prism daemon install knows systemd (Linux) and launchd (macOS), not this system",
                "run `prism daemon` from your own service manager",
            )
        })?;
        let (dir, overridden) = match std::env::var_os("PRISM_SERVICE_DIR") {
            Some(dir) if !dir.is_empty() => (absolute(PathBuf::from(dir))?, true),
            _ => {
                let base = directories::BaseDirs::new()
                    .ok_or_else(|| Refusal::new("cannot find your home directory", "set HOME"))?;
                let dir = match manager {
                    Manager::Systemd => base.config_dir().join("systemd/user"),
                    Manager::Launchd => base.home_dir().join("Library/LaunchAgents"),
                };
                (dir, false)
            }
        };
        Ok(Target {
            manager,
            path: dir.join(manager.file_name()),
            overridden,
        })
    }
}

/// One command for the service manager.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Step {
    argv: Vec<String>,
    /// Failing is expected sometimes (unloading a job that was not loaded).
    may_fail: bool,
}

impl Step {
    fn new(argv: &[&str]) -> Step {
        Step {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            may_fail: false,
        }
    }

    fn may_fail(mut self) -> Step {
        self.may_fail = true;
        self
    }

    /// The command as a line for a POSIX shell.
    fn shell(&self) -> String {
        let words: Vec<String> = self.argv.iter().map(|a| shell_word(a)).collect();
        let line = words.join(" ");
        if self.may_fail {
            format!("{line} 2>/dev/null || true")
        } else {
            line
        }
    }

    /// Runs it; on failure, says what it printed.
    fn run(&self) -> Result<(), String> {
        let (program, args) = self.argv.split_first().ok_or("an empty command")?;
        let output = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", self.shell()))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = stderr.trim();
        Err(format!(
            "`{}` failed ({}){}",
            self.shell(),
            output.status,
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ))
    }
}

fn shell_word(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| word.to_string(), |quoted| quoted.into_owned())
}

/// The commands that (re)start the service from `path`. Under systemd a changed unit is
/// restarted so that it runs the new file; launchd has no reload, so the job is unloaded (if
/// it was loaded) and loaded again.
fn start_steps(manager: Manager, outcome: Outcome, path: &Path, uid: u32) -> Vec<Step> {
    let unit = "prism";
    match manager {
        Manager::Systemd => {
            let mut steps = vec![Step::new(&["systemctl", "--user", "daemon-reload"])];
            if outcome == Outcome::Replaced {
                steps.push(Step::new(&["systemctl", "--user", "enable", unit]));
                steps.push(Step::new(&["systemctl", "--user", "restart", unit]));
            } else {
                steps.push(Step::new(&["systemctl", "--user", "enable", "--now", unit]));
            }
            steps
        }
        Manager::Launchd => {
            let domain = format!("gui/{uid}");
            let mut steps = Vec::new();
            if outcome != Outcome::Written {
                let job = format!("{domain}/{LAUNCHD_LABEL}");
                steps.push(Step::new(&["launchctl", "bootout", &job]).may_fail());
            }
            let path = path.to_string_lossy();
            steps.push(Step::new(&["launchctl", "bootstrap", &domain, &path]));
            steps
        }
    }
}

/// The commands that stop the service and keep it from starting again, before its file is
/// removed.
fn stop_steps(manager: Manager, uid: u32) -> Vec<Step> {
    match manager {
        Manager::Systemd => vec![Step::new(&[
            "systemctl",
            "--user",
            "disable",
            "--now",
            "prism",
        ])],
        Manager::Launchd => {
            let job = format!("gui/{uid}/{LAUNCHD_LABEL}");
            vec![Step::new(&["launchctl", "bootout", &job]).may_fail()]
        }
    }
}

/// Whether `name` is an executable file in one of `path`'s directories.
fn find_program(name: &str, path: Option<OsString>) -> Option<PathBuf> {
    let path = path?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The numeric user id that names launchd's per-user domain (`gui/501`), read as the owner of
/// the file this user just wrote; systemd needs none (0).
fn launchd_uid(manager: Manager, path: &Path) -> Result<u32, Refusal> {
    if manager == Manager::Systemd {
        return Ok(0);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path)
            .map(|m| m.uid())
            .map_err(|e| Refusal::new(format!("cannot read {}: {e}", path.display()), ""))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Err(Refusal::new("launchd agents need a Unix system", ""))
    }
}

/// Whether the binary lives in a Cargo build directory, which the next build or `cargo clean`
/// replaces or removes under the service's feet.
fn in_build_directory(program: &Path) -> bool {
    let tagged = program
        .ancestors()
        .skip(1)
        .take(3)
        .any(|dir| dir.join("CACHEDIR.TAG").is_file());
    let names: Vec<_> = program.components().map(|c| c.as_os_str()).collect();
    tagged
        || names
            .windows(2)
            .any(|pair| pair[0] == "target" && (pair[1] == "debug" || pair[1] == "release"))
}

fn absolute(path: PathBuf) -> Result<PathBuf, Refusal> {
    std::path::absolute(&path)
        .map_err(|e| Refusal::new(format!("cannot make {} absolute: {e}", path.display()), ""))
}

fn parent_display(path: &Path) -> String {
    path.parent().unwrap_or(path).display().to_string()
}

/// The running daemon's pid, if the runtime file names a live process.
fn running_daemon() -> Option<u32> {
    let info = read_runtime(&Dirs::discover().ok()?.runtime_file())?;
    (daemon::process_ended(info.pid) == Some(false)).then_some(info.pid)
}

/// Writes `text` to `path` through a temporary file, so that the service manager never reads
/// half a file.
fn write_file(path: &Path, text: &str) -> Result<(), Refusal> {
    let fail = |what: &str, e: std::io::Error| {
        Refusal::new(format!("cannot {what} {}: {e}", path.display()), "")
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("create the directory for", e))?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).map_err(|e| fail("write", e))?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        fail("write", e)
    })
}

/// `prism daemon install`.
pub fn install(format: Format, options: InstallOptions) -> Result<(), Failure> {
    install_inner(format, options).map_err(Refusal::report)
}

fn install_inner(format: Format, options: InstallOptions) -> Result<(), Refusal> {
    let target = Target::resolve(options.manager)?;
    let manager = target.manager;
    // Start the service unless asked not to or unable to; either way the file is written and
    // the commands that start it are printed.
    let cannot_start = if target.overridden {
        Some(Some(format!(
            "PRISM_SERVICE_DIR is set: {} does not look in {}, so the service was not started; \
             the commands below find the file only once it is in {}",
            manager.tool(),
            parent_display(&target.path),
            manager.own_directory()
        )))
    } else if options.no_start {
        Some(None)
    } else if find_program(manager.tool(), std::env::var_os("PATH")).is_none() {
        Some(Some(format!(
            "{} is not on PATH, so the service was not started",
            manager.tool()
        )))
    } else {
        None
    };
    let start = cannot_start.is_none();

    let program = std::env::current_exe()
        .and_then(|path| path.canonicalize())
        .map_err(|e| Refusal::new(format!("cannot find this program's own path: {e}"), ""))?;
    let cwd = std::env::current_dir()
        .map_err(|e| Refusal::new(format!("cannot read the current directory: {e}"), ""))?;
    let environment = render::select_environment(std::env::vars_os(), &cwd)
        .map_err(|e| Refusal::new(e.to_string(), "fix or unset that variable"))?;
    let mut args = vec!["daemon".to_string()];
    if let Some(listen) = options.listen {
        args.extend(["--listen".to_string(), listen.to_string()]);
    }
    let spec = ServiceSpec {
        program: program.clone(),
        args,
        environment: environment.kept.clone(),
    };
    let home_logs = directories::BaseDirs::new()
        .map(|base| base.home_dir().join("Library/Logs/prism"))
        .ok_or_else(|| Refusal::new("cannot find your home directory", "set HOME"))?;
    let text = match manager {
        Manager::Systemd => render::systemd_unit(&spec),
        Manager::Launchd => render::launchd_plist(&spec, &home_logs),
    }
    .map_err(|e| {
        let hint = if matches!(e, render::RenderError::ProgramUnsafeForSystemd(_)) {
            "install prism where its path has none (`cargo install --locked --path .` puts it \
             in ~/.cargo/bin) and run `prism daemon install` from there"
        } else {
            "fix or unset the value it names"
        };
        Refusal::new(e.to_string(), hint)
    })?;

    let outcome = match std::fs::read_to_string(&target.path) {
        Ok(existing) if existing == text => Outcome::Unchanged,
        Ok(_) if options.force => Outcome::Replaced,
        Ok(_) => {
            return Err(Refusal::new(
                format!(
                    "{} already exists and differs from what this install would write",
                    target.path.display()
                ),
                "`prism daemon install --force` replaces it",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Written,
        Err(e) => {
            return Err(Refusal::new(
                format!("cannot read {}: {e}", target.path.display()),
                "",
            ));
        }
    };

    // A daemon started by hand holds the data directory; the service's daemon would fail to
    // start until it is gone. With an existing service file it is most likely the service's.
    let hand_started = (outcome == Outcome::Written).then(running_daemon).flatten();
    if let (Some(pid), true) = (hand_started, start) {
        return Err(Refusal::new(
            format!(
                "a prism daemon (pid {pid}) is already running outside the service; the \
                 service's daemon could not take its data directory"
            ),
            "stop it first with `prism daemon stop` and run this again, or add --no-start to \
             only write the file",
        ));
    }

    let mut warnings = environment.notes.clone();
    warnings.extend(cannot_start.flatten());
    if in_build_directory(&program) {
        warnings.insert(
            0,
            format!(
                "{} is in a Cargo build directory: the next build or `cargo clean` replaces or \
                 removes it. `cargo install --locked --path .` puts a lasting copy in \
                 ~/.cargo/bin; run `prism daemon install` from there",
                program.display()
            ),
        );
    }

    if outcome != Outcome::Unchanged {
        write_file(&target.path, &text)?;
    }
    if manager == Manager::Launchd {
        std::fs::create_dir_all(&home_logs)
            .map_err(|e| Refusal::new(format!("cannot create {}: {e}", home_logs.display()), ""))?;
    }
    let uid = launchd_uid(manager, &target.path)?;
    let steps = start_steps(manager, outcome, &target.path, uid);
    let mut commands_run = Vec::new();
    let mut next_commands = Vec::new();
    if start {
        for step in &steps {
            match step.run() {
                Ok(()) => {}
                Err(_) if step.may_fail => {}
                Err(message) => {
                    return Err(Refusal::new(
                        format!("{message} (the file {} is in place)", target.path.display()),
                        format!(
                            "run the remaining commands yourself once {} works: {}",
                            manager.tool(),
                            steps
                                .iter()
                                .map(Step::shell)
                                .collect::<Vec<_>>()
                                .join(" && ")
                        ),
                    ));
                }
            }
            commands_run.push(step.shell());
        }
    } else {
        if let Some(pid) = hand_started {
            let stop = Step {
                argv: vec![
                    program.to_string_lossy().into_owned(),
                    "daemon".into(),
                    "stop".into(),
                ],
                may_fail: false,
            };
            next_commands.push(stop.shell());
            warnings.push(format!(
                "a prism daemon (pid {pid}) is running outside the service; stop it before \
                 starting the service, which needs its data directory"
            ));
        }
        next_commands.extend(steps.iter().map(Step::shell));
    }

    let mut logs = match manager {
        Manager::Systemd => vec!["journalctl --user -u prism".to_string()],
        Manager::Launchd => vec![
            home_logs.join("daemon.err.log").display().to_string(),
            home_logs.join("daemon.out.log").display().to_string(),
        ],
    };
    if let Ok(dirs) = Dirs::discover() {
        logs.push(cwd.join(dirs.data).join("logs").display().to_string());
    }
    let installed = Installed {
        manager,
        path: target.path.clone(),
        outcome,
        program: std::iter::once(program.display().to_string())
            .chain(spec.args.iter().cloned())
            .collect(),
        environment: environment.kept.into_iter().collect(),
        logs,
        next_commands,
        commands_run,
        warnings,
    };
    for warning in &installed.warnings {
        eprintln!("warning: {warning}");
    }
    match format {
        Format::Json => json(&installed),
        Format::Table => print_installed(&installed),
    }
    Ok(())
}

fn print_installed(installed: &Installed) {
    let path = installed.path.display();
    match installed.outcome {
        Outcome::Written => say!("wrote {path}"),
        Outcome::Replaced => say!("replaced {path}"),
        Outcome::Unchanged => say!("unchanged: {path} is already installed"),
    }
    let environment = if installed.environment.is_empty() {
        "-".to_string()
    } else {
        let pairs: Vec<String> = installed
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_word(v)))
            .collect();
        pairs.join(" ")
    };
    fields(&[
        ("runs", installed.program.join(" ")),
        ("environment", environment),
        ("logs", installed.logs.join(", ")),
    ]);
    for command in &installed.commands_run {
        say!("ran: {command}");
    }
    if !installed.commands_run.is_empty() {
        match installed.manager {
            Manager::Systemd => say!(
                "the daemon now runs under systemd and starts at every login; \
                 `systemctl --user status prism` shows it"
            ),
            Manager::Launchd => say!(
                "the daemon now runs under launchd and starts at every login; \
                 `launchctl print gui/$(id -u)/{LAUNCHD_LABEL}` shows it"
            ),
        }
    }
    if !installed.next_commands.is_empty() {
        say!("to start it now and at every login, run:");
        say!("  {}", installed.next_commands.join(" && "));
    }
    if installed.manager == Manager::Systemd {
        say!("to keep it running after you log out, and start it at boot: loginctl enable-linger");
    }
}

/// `prism daemon uninstall`.
pub fn uninstall(format: Format, manager: Option<Manager>) -> Result<(), Failure> {
    uninstall_inner(format, manager).map_err(Refusal::report)
}

fn uninstall_inner(format: Format, manager: Option<Manager>) -> Result<(), Refusal> {
    let target = Target::resolve(manager)?;
    let manager = target.manager;
    let mut answer = Uninstalled {
        manager,
        path: target.path.clone(),
        removed: false,
        commands_run: Vec::new(),
        warnings: Vec::new(),
    };
    if !target.path.exists() {
        match format {
            Format::Json => json(&answer),
            Format::Table => say!(
                "nothing to uninstall: {} does not exist",
                target.path.display()
            ),
        }
        return Ok(());
    }

    let tool = manager.tool();
    let drive = if target.overridden {
        answer.warnings.push(format!(
            "PRISM_SERVICE_DIR is set: {tool} was not asked to stop anything"
        ));
        false
    } else if find_program(tool, std::env::var_os("PATH")).is_none() {
        answer
            .warnings
            .push(format!("{tool} is not on PATH: only the file was removed"));
        false
    } else {
        true
    };
    if drive {
        let uid = launchd_uid(manager, &target.path)?;
        run_all(&stop_steps(manager, uid), &mut answer);
    }
    std::fs::remove_file(&target.path)
        .map_err(|e| Refusal::new(format!("cannot remove {}: {e}", target.path.display()), ""))?;
    answer.removed = true;
    if drive && manager == Manager::Systemd {
        run_all(
            &[Step::new(&["systemctl", "--user", "daemon-reload"])],
            &mut answer,
        );
    }

    for warning in &answer.warnings {
        eprintln!("warning: {warning}");
    }
    match format {
        Format::Json => json(&answer),
        Format::Table => {
            for command in &answer.commands_run {
                say!("ran: {command}");
            }
            say!("removed {}", target.path.display());
            if manager == Manager::Launchd {
                say!("its logs stay in ~/Library/Logs/prism");
            }
        }
    }
    Ok(())
}

/// Runs the steps; a failure becomes a warning, since the file goes either way.
fn run_all(steps: &[Step], answer: &mut Uninstalled) {
    for step in steps {
        match step.run() {
            Ok(()) => answer.commands_run.push(step.shell()),
            Err(_) if step.may_fail => answer.commands_run.push(step.shell()),
            Err(message) => answer.warnings.push(format!(
                "{message}; if the daemon still runs, `prism daemon stop` ends it"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(steps: &[Step]) -> Vec<String> {
        steps.iter().map(Step::shell).collect()
    }

    #[test]
    fn systemd_is_enabled_and_started_or_restarted_after_a_change() {
        let path = Path::new("/home/ada/.config/systemd/user/prism.service");
        assert_eq!(
            lines(&start_steps(Manager::Systemd, Outcome::Written, path, 0)),
            [
                "systemctl --user daemon-reload",
                "systemctl --user enable --now prism"
            ]
        );
        assert_eq!(
            lines(&start_steps(Manager::Systemd, Outcome::Replaced, path, 0)),
            [
                "systemctl --user daemon-reload",
                "systemctl --user enable prism",
                "systemctl --user restart prism"
            ]
        );
        assert_eq!(
            lines(&stop_steps(Manager::Systemd, 0)),
            ["systemctl --user disable --now prism"]
        );
    }

    #[test]
    fn launchd_jobs_are_loaded_into_the_users_gui_domain() {
        let path = Path::new("/Users/Ada Lovelace/Library/LaunchAgents/org.prism.daemon.plist");
        assert_eq!(
            lines(&start_steps(Manager::Launchd, Outcome::Written, path, 501)),
            [
                "launchctl bootstrap gui/501 '/Users/Ada Lovelace/Library/LaunchAgents/org.prism.daemon.plist'"
            ]
        );
        let replaced = start_steps(Manager::Launchd, Outcome::Replaced, path, 501);
        assert_eq!(
            lines(&replaced)[0],
            "launchctl bootout gui/501/org.prism.daemon 2>/dev/null || true"
        );
        assert_eq!(replaced.len(), 2);
        assert_eq!(
            lines(&stop_steps(Manager::Launchd, 501)),
            ["launchctl bootout gui/501/org.prism.daemon 2>/dev/null || true"]
        );
    }

    #[test]
    fn a_failed_command_reports_what_it_said() {
        let step = Step::new(&["sh", "-c", "echo nope >&2; exit 3"]);
        let error = step.run().expect_err("fails");
        assert!(error.contains("nope") && error.contains('3'), "{error}");
        let missing = Step::new(&["/nonexistent/systemctl", "--user"]);
        assert!(missing.run().expect_err("fails").starts_with("cannot run"));
    }

    #[test]
    fn programs_are_found_on_path_only_when_executable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let tool = dir.path().join("systemctl");
        std::fs::write(&tool, "#!/bin/sh\n").expect("write");
        let path = || Some(std::env::join_paths([dir.path()]).expect("path"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(find_program("systemctl", path()), None);
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        assert_eq!(find_program("systemctl", path()), Some(tool));
        assert_eq!(find_program("launchctl", path()), None);
        assert_eq!(find_program("systemctl", None), None);
    }

    #[test]
    fn build_directories_are_recognised() {
        assert!(in_build_directory(Path::new(
            "/src/prism/target/debug/prism"
        )));
        assert!(in_build_directory(Path::new(
            "/src/prism/target/release/prism"
        )));
        assert!(!in_build_directory(Path::new("/usr/local/bin/prism")));
        // A shared CARGO_TARGET_DIR is recognised by the tag Cargo leaves in it.
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("CACHEDIR.TAG"), "Signature").expect("tag");
        assert!(in_build_directory(&dir.path().join("debug/prism")));
    }
}
