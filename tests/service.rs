//! `prism daemon install` and `uninstall` as a user runs them, with `PRISM_SERVICE_DIR` aimed
//! at a temporary directory. The files are checked by the tools that will read them where
//! those tools exist here: `systemd-analyze verify` for the unit, `plutil` (macOS) or Python's
//! plistlib for the launchd property list.
//!
//! No service manager is ever asked to do anything here: with `PRISM_SERVICE_DIR` set, the
//! binary leaves systemctl and launchctl alone, and PATH holds neither. `tests/service_systemd.rs`
//! runs the unit under a real systemd user manager.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary home with a copy of `prism` in a directory whose name needs quoting in a unit
/// (systemd refuses quotes and backslashes there outright; see the last tests).
struct Setup {
    dir: tempfile::TempDir,
    program: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        // In Cargo's temporary directory, on the same file system as the binary, so that a
        // hard link works and a later build elsewhere does not change it under the test.
        let dir = tempfile::Builder::new()
            .prefix("service")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let bin = dir.path().join("bin dir 100% $HOME");
        std::fs::create_dir_all(&bin).expect("bin dir");
        let program = bin.join("prism");
        let built = Path::new(env!("CARGO_BIN_EXE_prism"));
        if std::fs::hard_link(built, &program).is_err() {
            std::fs::copy(built, &program).expect("copy prism");
        }
        for sub in ["home", "empty-path", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("dir");
        }
        Setup { dir, program }
    }

    fn units(&self) -> PathBuf {
        self.dir.path().join("units")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Runs this copy of `prism` with a clean environment plus `env`, in `work/`, with a PATH
    /// that holds no service manager.
    fn prism(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        run(&self.program, self, env, args)
    }
}

fn run(program: &Path, setup: &Setup, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .env("HOME", setup.home())
        .env("PATH", setup.dir.path().join("empty-path"))
        .env("PRISM_SERVICE_DIR", setup.units())
        .envs(env.iter().copied())
        .current_dir(setup.dir.path().join("work"))
        .output()
        .expect("run prism")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Values that need quoting in both formats.
const CONFIG_DIR: &str = r#"/srv/lab "alpha" 100% $USER\x 'it'"#;

#[test]
fn install_writes_a_unit_systemd_accepts_and_uninstall_removes_it() {
    let setup = Setup::new();
    let env = [
        ("PRISM_CONFIG_DIR", CONFIG_DIR),
        ("PRISM_DATA_DIR", "data dir"),
        ("AWS_PROFILE", "research"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000"),
        ("AWS_SECRET_ACCESS_KEY", "do-not-write-me"),
        ("PRISM_POLL_INTERVAL_SECS", "10"),
    ];
    let out = setup.prism(&env, &["daemon", "install"]);
    assert_success(&out);
    let unit_path = setup.units().join("prism.service");
    assert!(
        stdout(&out).starts_with(&format!("wrote {}\n", unit_path.display())),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out)
            .contains("systemctl --user daemon-reload && systemctl --user enable --now prism"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("AWS_SECRET_ACCESS_KEY is set but not written"),
        "{err}"
    );
    assert!(
        err.contains("`poll_interval_secs = …` in config.toml"),
        "{err}"
    );
    assert!(err.contains("PRISM_SERVICE_DIR is set"), "{err}");
    assert!(err.contains("so the service was not started"), "{err}");
    assert!(!err.contains("do-not-write-me"), "{err}");

    let unit = std::fs::read_to_string(&unit_path).expect("unit written");
    let program = setup.program.canonicalize().expect("canonical");
    let quoted_program = program
        .to_str()
        .expect("utf-8")
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('%', "%%");
    assert!(
        unit.contains(&format!("\nExecStart=\"{quoted_program}\" daemon\n")),
        "{unit}"
    );
    assert!(
        unit.contains(r#"Environment="PRISM_CONFIG_DIR=/srv/lab \"alpha\" 100%% $USER\\x 'it'""#),
        "{unit}"
    );
    let data_dir = setup.dir.path().join("work/data dir");
    assert!(
        unit.contains(&format!(
            "Environment=\"PRISM_DATA_DIR={}\"",
            data_dir.display()
        )),
        "{unit}"
    );
    assert!(unit.contains("Environment=\"AWS_ENDPOINT_URL_EC2=http://127.0.0.1:5000\""));
    assert!(
        unit.contains("\nRestart=on-failure\n") && unit.contains("\nWantedBy=default.target\n")
    );
    assert!(
        !unit.contains("do-not-write-me") && !unit.contains("POLL_INTERVAL"),
        "{unit}"
    );

    verify_with_systemd(&setup, &unit_path);

    // The same install again changes nothing; a different one needs --force.
    let out = setup.prism(&env, &["daemon", "install"]);
    assert_success(&out);
    assert!(stdout(&out).starts_with("unchanged: "), "{}", stdout(&out));
    let mut moved = env;
    moved[3] = ("AWS_REGION", "us-west-2");
    let out = setup.prism(&moved, &["daemon", "install"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&unit_path).expect("unit"), unit);
    let out = setup.prism(&moved, &["-o", "json", "daemon", "install", "--force"]);
    assert_success(&out);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(answer["manager"], "systemd");
    assert_eq!(answer["outcome"], "replaced");
    assert_eq!(answer["path"], unit_path.to_str().expect("utf-8"));
    assert_eq!(answer["environment"]["AWS_REGION"], "us-west-2");
    assert_eq!(answer["environment"]["PRISM_CONFIG_DIR"], CONFIG_DIR);
    assert_eq!(answer["program"][1], "daemon");
    assert_eq!(answer["logs"][0], "journalctl --user -u prism");
    assert_eq!(answer["next_commands"][2], "systemctl --user restart prism");
    assert!(
        std::fs::read_to_string(&unit_path)
            .expect("unit")
            .contains("AWS_REGION=us-west-2")
    );

    let out = setup.prism(&[], &["daemon", "uninstall"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("removed {}", unit_path.display())),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("systemctl was not asked"),
        "{}",
        stderr(&out)
    );
    assert!(!unit_path.exists());
    assert!(
        std::fs::read_dir(setup.units())
            .expect("units")
            .next()
            .is_none(),
        "nothing left behind"
    );

    let out = setup.prism(&[], &["-o", "json", "daemon", "uninstall"]);
    assert_success(&out);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(answer["removed"], false);
    let out = setup.prism(&[], &["daemon", "uninstall"]);
    assert!(
        stdout(&out).starts_with("nothing to uninstall"),
        "{}",
        stdout(&out)
    );
}

/// `systemd-analyze verify` parses the unit as systemd will and checks that `ExecStart` names
/// an executable, so it catches a path quoted wrongly. It exits 0 on unknown keys and bad
/// syntax, which it only prints, so its output must mention nothing of ours.
fn verify_with_systemd(setup: &Setup, unit: &Path) {
    let Some(analyze) = find_on_path("systemd-analyze") else {
        println!("note: systemd-analyze is not installed; the unit was not verified by systemd");
        return;
    };
    let runtime = setup.dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let out = Command::new(analyze)
        .args(["verify", "--user"])
        .arg(unit)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("run systemd-analyze");
    let said = stderr(&out);
    let ours: Vec<&str> = said
        .lines()
        .filter(|line| line.contains("prism") || line.contains(&*unit.to_string_lossy()))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify ({}):\n{said}\n{}",
        out.status,
        std::fs::read_to_string(unit).unwrap_or_default()
    );
    println!("systemd-analyze verify --user accepted {}", unit.display());
}

#[test]
fn the_launchd_agent_is_a_property_list_with_the_values_given() {
    let setup = Setup::new();
    let env = [
        ("PRISM_CONFIG_DIR", CONFIG_DIR),
        ("AWS_PROFILE", "R&D <lab>"),
    ];
    let out = setup.prism(&env, &["daemon", "install", "--manager", "launchd"]);
    assert_success(&out);
    let plist_path = setup.units().join("org.prism.daemon.plist");
    let plist = std::fs::read_to_string(&plist_path).expect("plist written");
    assert!(
        plist.contains("<string>R&amp;D &lt;lab&gt;</string>"),
        "{plist}"
    );
    let logs = setup.home().join("Library/Logs/prism");
    assert!(logs.is_dir(), "launchd needs the log directory to exist");
    assert!(
        stdout(&out).contains("launchctl bootstrap gui/"),
        "{}",
        stdout(&out)
    );

    let parsed = parse_plist(&plist_path);
    if let Some(parsed) = parsed {
        let program = setup.program.canonicalize().expect("canonical");
        assert_eq!(parsed["Label"], "org.prism.daemon");
        assert_eq!(
            parsed["ProgramArguments"],
            serde_json::json!([program.to_str().expect("utf-8"), "daemon"])
        );
        assert_eq!(
            parsed["EnvironmentVariables"]["PRISM_CONFIG_DIR"],
            CONFIG_DIR
        );
        assert_eq!(parsed["EnvironmentVariables"]["AWS_PROFILE"], "R&D <lab>");
        assert_eq!(parsed["RunAtLoad"], true);
        assert_eq!(parsed["KeepAlive"]["SuccessfulExit"], false);
        assert_eq!(
            parsed["StandardErrorPath"],
            logs.join("daemon.err.log").to_str().expect("utf-8")
        );
    } else {
        assert_balanced_xml(&plist);
    }

    let out = setup.prism(&[], &["daemon", "uninstall", "--manager", "launchd"]);
    assert_success(&out);
    assert!(!plist_path.exists());
}

/// The plist as JSON, from `plutil` (macOS) or Python's plistlib; `None` with neither.
fn parse_plist(path: &Path) -> Option<serde_json::Value> {
    let output = if let Some(plutil) = find_on_path("plutil") {
        let lint = Command::new(&plutil)
            .arg("-lint")
            .arg(path)
            .output()
            .expect("plutil");
        assert!(lint.status.success(), "plutil -lint: {}", stdout(&lint));
        Command::new(plutil)
            .args(["-convert", "json", "-o", "-"])
            .arg(path)
            .output()
            .expect("plutil")
    } else if let Some(python) = find_on_path("python3") {
        Command::new(python)
            .args([
                "-c",
                "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
            ])
            .arg(path)
            .output()
            .expect("python3")
    } else {
        println!("note: neither plutil nor python3 is here; the plist was checked as XML only");
        return None;
    };
    assert!(output.status.success(), "{}", stderr(&output));
    Some(serde_json::from_slice(&output.stdout).expect("plist as json"))
}

/// A small structural check: every element closes in order and text has no raw `<` or `&`.
fn assert_balanced_xml(text: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let between = &rest[..start];
        for entity in between.split('&').skip(1) {
            let name = entity.split(';').next().unwrap_or_default();
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&name),
                "bad entity &{name}; in {text}"
            );
        }
        let end = rest[start..].find('>').expect("tag closes") + start;
        let tag = &rest[start + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "{text}");
        } else if !tag.starts_with('?') && !tag.starts_with('!') && !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().expect("tag name"));
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "unclosed {open:?}");
}

#[test]
fn installing_from_a_build_directory_warns_that_a_rebuild_moves_it() {
    let setup = Setup::new();
    let built = Path::new(env!("CARGO_BIN_EXE_prism"));
    let out = run(built, &setup, &[], &["daemon", "install"]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("is in a Cargo build directory"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn values_a_service_file_cannot_hold_are_refused() {
    let setup = Setup::new();
    let out = setup.prism(
        &[("PRISM_DATA_DIR", "/srv/two\nlines")],
        &["daemon", "install"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PRISM_DATA_DIR contains a line break"),
        "{}",
        stderr(&out)
    );
    assert!(!setup.units().exists(), "nothing written");

    let odd = setup.dir.path().join("it's here");
    std::fs::create_dir_all(&odd).expect("dir");
    let program = odd.join("prism");
    std::fs::hard_link(&setup.program, &program).expect("link");
    let out = run(&program, &setup, &[], &["daemon", "install"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("systemd refuses to run a program whose path holds a quote"),
        "{}",
        stderr(&out)
    );
    assert!(!setup.units().exists(), "nothing written");
    let out = run(
        &program,
        &setup,
        &[],
        &["daemon", "install", "--manager", "launchd"],
    );
    assert_success(&out);
}

#[test]
fn without_systemctl_the_unit_goes_where_systemd_looks_and_the_commands_are_printed() {
    let setup = Setup::new();
    let unset = [("PRISM_SERVICE_DIR", "")];
    let out = setup.prism(&unset, &["daemon", "install"]);
    assert_success(&out);
    let unit = setup.home().join(".config/systemd/user/prism.service");
    assert!(unit.is_file(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("systemctl is not on PATH, so the service was not started"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out)
            .contains("systemctl --user daemon-reload && systemctl --user enable --now prism"),
        "{}",
        stdout(&out)
    );

    // Asked not to start it, install says nothing about systemctl.
    let out = setup.prism(&unset, &["daemon", "install", "--no-start"]);
    assert_success(&out);
    assert!(stdout(&out).starts_with("unchanged: "), "{}", stdout(&out));
    assert!(!stderr(&out).contains("systemctl"), "{}", stderr(&out));

    let out = setup.prism(&unset, &["daemon", "uninstall"]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("systemctl is not on PATH: only the file was removed"),
        "{}",
        stderr(&out)
    );
    assert!(!unit.exists());
    // Uninstalling what is not installed is not an error: the end state is the one asked for.
    let out = setup.prism(&unset, &["daemon", "uninstall"]);
    assert_success(&out);
    assert!(
        stdout(&out).starts_with("nothing to uninstall"),
        "{}",
        stdout(&out)
    );
}
