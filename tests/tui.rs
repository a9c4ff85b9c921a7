//! `prism tui` end to end: the real binary in a real terminal (tmux), against the real daemon
//! and moto. Keys go in with `send-keys`; what the screen shows comes back with
//! `capture-pane`. Every wait is bounded.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Daemon, unique};
use prism::model::workspace::WorkspaceState;

/// A tmux server of its own (`-L`), so tests never touch the user's sessions.
struct Tmux {
    socket: String,
    session: String,
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .expect("run tmux (scripts/test installs it)")
}

impl Tmux {
    /// A detached session of `width` × `height` running a plain shell.
    fn start(width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: unique("prism-test"),
            session: "tui".into(),
        };
        let output = run(Command::new("tmux").env("TERM", "xterm-256color").args([
            "-L",
            &tmux.socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME=/tmp bash --norc --noprofile",
        ]));
        assert!(output.status.success(), "tmux: {output:?}");
        tmux
    }

    fn cmd(&self) -> Command {
        let mut command = Command::new("tmux");
        // CI may run without a terminal type of its own.
        command.env("TERM", "xterm-256color");
        command.args(["-L", &self.socket]);
        command
    }

    /// Types text literally, then nothing else.
    fn type_text(&self, text: &str) {
        let output = run(self
            .cmd()
            .args(["send-keys", "-t", &self.session, "-l", text]));
        assert!(output.status.success(), "send-keys: {output:?}");
    }

    /// Sends tmux key names (`Enter`, `Down`, `C-c` …).
    fn keys(&self, keys: &[&str]) {
        let mut command = self.cmd();
        command.args(["send-keys", "-t", &self.session]);
        command.args(keys);
        let output = run(&mut command);
        assert!(output.status.success(), "send-keys: {output:?}");
    }

    /// Runs a shell line in the pane.
    fn shell(&self, line: &str) {
        self.type_text(line);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        let output = run(self.cmd().args(["capture-pane", "-p", "-t", &self.session]));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until the screen satisfies `check`, up to `limit`; returns the screen.
    fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_text(&self, text: &str, limit: Duration) -> String {
        self.wait_for(&format!("{text:?}"), limit, |screen| screen.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

/// Waits for a file the shell writes, up to `limit`.
fn wait_file(path: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} was not written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The command line that opens the dashboard on this daemon's directories, so that it finds
/// the daemon through the runtime file as a user's would.
fn tui_line(daemon: &Daemon, extra: &str) -> String {
    format!(
        "PRISM_CONFIG_DIR={} PRISM_DATA_DIR={} {} tui --refresh 2 {extra}",
        daemon.config_dir().display(),
        daemon.data_dir().display(),
        env!("CARGO_BIN_EXE_prism")
    )
}

/// Records `stty -g` into `file` from the pane's shell.
fn stty_to(tmux: &Tmux, file: &Path) -> String {
    tmux.shell(&format!("stty -g > {}", file.display()));
    wait_file(file, Duration::from_secs(10))
}

fn row_of<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|line| line.contains(name))
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn launch_hibernate_resume_extend_terminate_from_the_keyboard_then_quit_cleanly() {
    let daemon = Daemon::start();
    let tmux = Tmux::start(80, 24);
    let before = stty_to(&tmux, &daemon.dir.path().join("stty-before"));

    tmux.shell(&format!("{}; echo tui-exit=$?", tui_line(&daemon, "")));
    tmux.wait_text("[1 Dash]", Duration::from_secs(20));
    tmux.wait_text("live", Duration::from_secs(20));

    // Launch through the form: template picker first, then the name.
    let name = unique("tmux");
    tmux.type_text("n");
    tmux.wait_text("Launch a workspace", Duration::from_secs(5));
    tmux.keys(&["Down"]);
    tmux.type_text(&name);
    tmux.wait_for("the name to validate", Duration::from_secs(5), |s| {
        row_of(s, &name).contains("ok")
    });
    tmux.keys(&["Enter"]);
    tmux.wait_text(&format!("Launching '{name}'"), Duration::from_secs(20));

    // It appears in the list and reaches running.
    tmux.type_text("2");
    tmux.wait_for(
        "the workspace to be running",
        Duration::from_secs(90),
        |s| row_of(s, &name).contains("+ running"),
    );

    // Hibernate it from the keyboard.
    tmux.type_text("h");
    tmux.wait_text(&format!("Hibernate '{name}'?"), Duration::from_secs(5));
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "the workspace to be hibernated",
        Duration::from_secs(60),
        |s| row_of(s, &name).contains("z hibernated"),
    );
    // EC2 (through the daemon) agrees.
    daemon.wait_for(&name, WorkspaceState::Hibernated).await;

    // Resume, extend and terminate, all from the keyboard.
    tmux.type_text("S");
    tmux.wait_for(
        "the workspace to be running again",
        Duration::from_secs(60),
        |s| row_of(s, &name).contains("+ running"),
    );
    tmux.type_text("e");
    tmux.wait_text("Extend TTL", Duration::from_secs(5));
    tmux.keys(&["BSpace"]);
    tmux.type_text("6");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the TTL to show", Duration::from_secs(30), |s| {
        row_of(s, &name).contains("in 5h") || row_of(s, &name).contains("in 6h")
    });
    let ttl = daemon
        .wait_for(&name, WorkspaceState::Running)
        .await
        .ttl
        .expect("a TTL after extend");
    let minutes = (ttl - chrono::Utc::now()).num_minutes();
    assert!((354..=360).contains(&minutes), "TTL {ttl} is not 6 h away");
    tmux.type_text("x");
    tmux.wait_text("This cannot be undone", Duration::from_secs(5));
    tmux.type_text(&name);
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "the workspace to be terminated",
        Duration::from_secs(60),
        |s| row_of(s, &name).contains("terminat"),
    );
    daemon.wait_for(&name, WorkspaceState::Terminated).await;

    tmux.type_text("q");
    tmux.wait_text("tui-exit=0", Duration::from_secs(10));
    let after = stty_to(&tmux, &daemon.dir.path().join("stty-after"));
    assert_eq!(before, after, "the terminal settings changed");
    // Logs went to the file, never to the terminal.
    let screen = tmux.screen();
    assert!(!screen.contains("INFO"), "{screen}");
    let logs = std::fs::read_dir(daemon.data_dir().join("logs"))
        .expect("log dir")
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_string_lossy().starts_with("tui"));
    assert!(logs, "the dashboard wrote no log file");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_daemon_shows_the_banner_keys_still_work_and_a_restart_recovers() {
    let mut daemon = Daemon::start();
    let tmux = Tmux::start(120, 40);
    tmux.shell(&tui_line(&daemon, ""));
    tmux.wait_text("live", Duration::from_secs(20));

    daemon.kill();
    tmux.wait_text("daemon unreachable", Duration::from_secs(15));
    // The keys still answer while it is down.
    tmux.type_text("3");
    tmux.wait_text("[3 Templates]", Duration::from_secs(5));

    // The daemon comes back (on a new port, found again through its runtime file).
    daemon.restart();
    tmux.wait_for("the banner to clear", Duration::from_secs(30), |s| {
        !s.contains("daemon unreachable") && s.contains("old")
    });
    tmux.type_text("q");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_and_ctrl_c_leave_the_terminal_usable() {
    let daemon = Daemon::start();
    let tmux = Tmux::start(80, 24);
    let before = stty_to(&tmux, &daemon.dir.path().join("stty-before"));

    tmux.shell(&format!("{}; echo tui-exit=$?", tui_line(&daemon, "")));
    tmux.wait_text("[1 Dash]", Duration::from_secs(20));
    tmux.type_text(":debug-panic");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_text("tui-exit=", Duration::from_secs(10));
    assert!(
        !screen.contains("tui-exit=0"),
        "a panic must not exit 0: {screen}"
    );
    assert!(
        screen.contains("panic"),
        "the panic message is shown: {screen}"
    );
    let after_panic = stty_to(&tmux, &daemon.dir.path().join("stty-panic"));
    assert_eq!(before, after_panic, "a panic left the terminal changed");

    tmux.shell("clear");
    tmux.shell(&format!(
        "{}; echo ctrl-c-exit=$?",
        tui_line(&daemon, "--readonly")
    ));
    tmux.wait_text("[read-only]", Duration::from_secs(20));
    tmux.keys(&["C-c"]);
    tmux.wait_text("ctrl-c-exit=0", Duration::from_secs(10));
    let after_ctrl_c = stty_to(&tmux, &daemon.dir.path().join("stty-ctrl-c"));
    assert_eq!(before, after_ctrl_c, "Ctrl-C left the terminal changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_sighup_restore_the_terminal() {
    let daemon = Daemon::start();
    let tmux = Tmux::start(80, 24);
    let before = stty_to(&tmux, &daemon.dir.path().join("stty-before"));
    for signal in ["TERM", "HUP"] {
        let pid_file = daemon.dir.path().join(format!("tui-{signal}.pid"));
        tmux.shell("clear");
        tmux.shell(&format!(
            "{} & echo $! > {}; fg; echo {signal}-exit=$?",
            tui_line(&daemon, ""),
            pid_file.display()
        ));
        tmux.wait_text("[1 Dash]", Duration::from_secs(20));
        let pid = wait_file(&pid_file, Duration::from_secs(5));
        let output = Command::new("kill")
            .args([&format!("-{signal}"), pid.trim()])
            .output()
            .expect("kill");
        assert!(output.status.success(), "{output:?}");
        let expected = if signal == "TERM" { 143 } else { 129 };
        tmux.wait_text(
            &format!("{signal}-exit={expected}"),
            Duration::from_secs(10),
        );
        let after = stty_to(&tmux, &daemon.dir.path().join(format!("stty-{signal}")));
        assert_eq!(before, after, "SIG{signal} left the terminal changed");
    }
}
