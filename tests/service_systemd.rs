//! `prism daemon install` under a real systemd user manager: the unit is enabled and started,
//! the daemon it runs answers with the environment the unit gave it, comes back after a
//! SIGKILL, stays down after a clean `prism daemon stop`, and `uninstall` stops it for good.
//!
//! Containers rarely run systemd as PID 1, and a machine that does must not have its real user
//! services touched by a test. So the test starts its own `systemd --user` in a private mount
//! namespace, where a tmpfs on `/run/systemd` holding an empty `system` directory makes it
//! believe the machine booted with systemd, and in cgroups of its own, so that it never moves
//! other processes around. That needs root and `unshare`, on a machine where systemd is not
//! PID 1; anywhere else the test prints why it did not run and passes.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use prism::client::DaemonClient;
use prism::paths::{RuntimeInfo, read_runtime, runtime_file};

/// Runs `systemd --user` ($2) in cgroups named $1 below this process's own, after hiding the
/// host's `/run/systemd`. Exits 90 or 91 when it cannot set that up, and removes the cgroups
/// after the manager has exited (SIGTERM to this shell stops the manager, and with it every
/// unit it runs).
const MANAGER_SCRIPT: &str = r#"
tag=$1 systemd=$2
[ -d /run/systemd ] || exit 90
mount -t tmpfs prism-test /run/systemd && mkdir /run/systemd/system || exit 90
made=
leave() {
    for dir in $made; do
        echo $$ > "${dir%/*}/cgroup.procs" 2>/dev/null
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
    done
}
while IFS=: read -r _ controllers path; do
    case $controllers in
        '') if [ -d /sys/fs/cgroup/unified ]; then root=/sys/fs/cgroup/unified; else root=/sys/fs/cgroup; fi ;;
        name=systemd) root=/sys/fs/cgroup/systemd ;;
        name=*|*cpuset*) continue ;;
        *) root=/sys/fs/cgroup/$controllers ;;
    esac
    [ -f "$root/cgroup.procs" ] || continue
    dir=$root${path%/}/$tag
    if mkdir "$dir" && echo $$ > "$dir/cgroup.procs"; then made="$dir $made"; else leave; exit 91; fi
done < /proc/self/cgroup
[ -n "$made" ] || exit 91
"$systemd" --user &
manager=$!
trap 'kill -TERM $manager' TERM INT
wait $manager
wait $manager
status=$?
leave
exit $status
"#;

/// Why this machine cannot host an isolated user manager, or the path of `systemd`.
fn systemd_binary() -> Result<PathBuf, String> {
    if !cfg!(target_os = "linux") {
        return Err("not Linux".into());
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root (a private mount namespace and cgroups need it)".into());
    }
    if Path::new("/run/systemd/system").exists() {
        return Err("systemd runs this machine; its user services are left alone".into());
    }
    for tool in ["unshare", "systemctl"] {
        find_on_path(tool).ok_or(format!("{tool} is not installed"))?;
    }
    ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| "systemd is not installed".into())
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A private `systemd --user` and the user it serves: a home, a runtime directory, Prism's
/// directories, and a copy of `prism` in a directory whose name needs quoting in a unit.
struct UserManager {
    dir: tempfile::TempDir,
    manager: Option<Child>,
    program: PathBuf,
}

impl UserManager {
    /// Starts the manager; `Err` says why it cannot run here.
    fn start(systemd: &Path) -> Result<UserManager, String> {
        let dir = tempfile::Builder::new()
            .prefix("systemd")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        let bin = dir.path().join("bin dir 100% $HOME");
        for sub in [
            bin.as_path(),
            &dir.path().join("home"),
            &dir.path().join("config"),
        ] {
            std::fs::create_dir_all(sub).expect("dir");
        }
        let runtime = dir.path().join("runtime");
        std::fs::create_dir(&runtime).expect("runtime dir");
        let program = bin.join("prism");
        let built = Path::new(env!("CARGO_BIN_EXE_prism"));
        if std::fs::hard_link(built, &program).is_err() {
            std::fs::copy(built, &program).expect("copy prism");
        }
        let tag = common::unique("prism-service-test");
        let log = std::fs::File::create(dir.path().join("manager.log")).expect("log");
        let manager = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                MANAGER_SCRIPT,
                "sh",
            ])
            .arg(&tag)
            .arg(systemd)
            .env_clear()
            .env("HOME", dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut this = UserManager {
            dir,
            manager: Some(manager),
            program,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(child) = this.manager.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                this.manager = None;
                let log = this.manager_log();
                return match status.code() {
                    Some(90 | 91) => {
                        Err(format!("cannot isolate a user manager ({status}): {log}"))
                    }
                    _ => panic!("systemd --user exited ({status}):\n{log}"),
                };
            }
            if this.systemctl(&["show-environment"]).status.success() {
                return Ok(this);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "systemd --user did not answer within 20 s:\n{}",
            this.manager_log()
        );
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    fn manager_log(&self) -> String {
        std::fs::read_to_string(self.path("manager.log")).unwrap_or_default()
    }

    /// The environment of the user's login shell: only what `install` should look at.
    fn user_command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("HOME", self.path("home"))
            .env("XDG_RUNTIME_DIR", self.path("runtime"))
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        command
    }

    fn systemctl(&self, args: &[&str]) -> Output {
        self.user_command(Path::new("systemctl"))
            .arg("--user")
            .args(args)
            .output()
            .expect("run systemctl")
    }

    /// One property of the prism unit, as `systemctl show` prints it.
    fn property(&self, name: &str) -> String {
        let out = self.systemctl(&["show", "--value", "-p", name, "prism"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn prism(&self, env: &[(&str, String)], args: &[&str]) -> Output {
        self.user_command(&self.program)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args)
            .output()
            .expect("run prism")
    }

    /// Everything that says what went wrong, for a failed assertion.
    fn diagnosis(&self) -> String {
        let status = self.systemctl(&["status", "--no-pager", "prism"]);
        let logs: String = std::fs::read_dir(self.path("data/logs"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
            .collect();
        format!(
            "systemctl status:\n{}\nmanager log:\n{}\ndaemon logs:\n{logs}",
            String::from_utf8_lossy(&status.stdout),
            self.manager_log()
        )
    }

    /// Waits until the unit's main process is a daemon other than `previous` that answers
    /// `status`; returns its runtime record.
    async fn wait_for_daemon(&self, previous: Option<u32>) -> RuntimeInfo {
        let deadline = Instant::now() + Duration::from_secs(40);
        let runtime = runtime_file(&self.path("data"));
        while Instant::now() < deadline {
            if let Some(info) = read_runtime(&runtime)
                && Some(info.pid) != previous
                && self.property("MainPID") == info.pid.to_string()
                && let Some(address) = info.address
                && let Ok(client) = self.client(&address.to_string())
                && client.status().await.is_ok()
            {
                return info;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no new daemon answered within 40 s\n{}", self.diagnosis());
    }

    /// A TCP client with the token the service's daemon wrote to its config directory.
    fn client(&self, address: &str) -> Result<DaemonClient, prism::client::ClientError> {
        let token = prism::token::read(&self.path("config").join("token"))
            .ok()
            .flatten();
        Ok(DaemonClient::new(&format!("http://{address}"))?.with_token(token))
    }

    /// Waits until the unit is `state` (`ActiveState`), up to `limit`.
    fn wait_for_state(&self, state: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.property("ActiveState") == state {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the unit did not become {state}\n{}", self.diagnosis());
    }
}

impl Drop for UserManager {
    /// Stops the manager, which stops the daemon if a failed assertion left it running.
    fn drop(&mut self) {
        let Some(mut child) = self.manager.take() else {
            return;
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[track_caller]
fn assert_success(output: &Output, context: &str) {
    assert!(
        output.status.success(),
        "status {}\nstdout:\n{}\nstderr:\n{}\n{context}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_installed_unit_starts_the_daemon_and_restarts_it_after_a_crash() {
    let systemd = match systemd_binary() {
        Ok(path) => path,
        Err(why) => {
            println!("note: not run under systemd: {why}");
            return;
        }
    };
    let user = match UserManager::start(&systemd) {
        Ok(user) => user,
        Err(why) => {
            println!("note: not run under systemd: {why}");
            return;
        }
    };

    let moto = common::moto_url();
    // What a researcher's shell would hold: Prism's directories, a config file, and AWS
    // settings, with the credentials in a file (the service never gets keys from variables).
    let owner = common::unique("svc-owner");
    std::fs::write(
        user.path("config/config.toml"),
        format!("owner = \"{owner}\"\nssh_public_key = \"\"\npoll_interval_secs = 5\n"),
    )
    .expect("config");
    std::fs::write(
        user.path("aws-credentials"),
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .expect("credentials");
    std::fs::write(user.path("aws-config"), "").expect("aws config");
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let env = [
        ("PRISM_CONFIG_DIR", "config".to_string()),
        ("PRISM_DATA_DIR", user.path("data").display().to_string()),
        ("AWS_ENDPOINT_URL", moto),
        ("AWS_REGION", region.clone()),
        ("AWS_SHARED_CREDENTIALS_FILE", "aws-credentials".to_string()),
        ("AWS_CONFIG_FILE", "aws-config".to_string()),
    ];
    let address = format!("127.0.0.1:{}", free_port());

    let out = user.prism(&env, &["daemon", "--listen", &address, "install"]);
    assert_success(&out, &user.diagnosis());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("ran: systemctl --user enable --now prism"),
        "{said}"
    );
    assert!(
        user.path("home/.config/systemd/user/prism.service")
            .is_file()
    );
    assert_eq!(user.property("UnitFileState"), "enabled");

    let first = user.wait_for_daemon(None).await;
    assert_eq!(first.address.map(|a| a.to_string()), Some(address.clone()));
    let client = user.client(&address).expect("client");
    let status = client.status().await.expect("status");
    assert_eq!(
        status.owner, owner,
        "config.toml found through PRISM_CONFIG_DIR"
    );
    assert_eq!(status.region, region);
    assert_eq!(
        status.aws_connectivity,
        "connected",
        "{:?}\n{}",
        status.aws_error,
        user.diagnosis()
    );

    // A crash: systemd starts it again, on the same address and the same store.
    let crashed = Instant::now();
    kill(
        Pid::from_raw(i32::try_from(first.pid).expect("pid")),
        Signal::SIGKILL,
    )
    .expect("SIGKILL the daemon");
    let second = user.wait_for_daemon(Some(first.pid)).await;
    assert!(
        crashed.elapsed() >= Duration::from_secs(4),
        "RestartSec=5 is honoured"
    );
    assert_eq!(second.address, first.address);
    assert_eq!(user.property("NRestarts"), "1");
    client.status().await.expect("the restarted daemon answers");

    // A clean stop is not a failure: systemd leaves it stopped until asked again.
    let out = user.prism(&env, &["daemon", "stop"]);
    assert_success(&out, &user.diagnosis());
    user.wait_for_state("inactive", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(user.property("ActiveState"), "inactive", "not restarted");
    assert_eq!(user.property("Result"), "success");
    let out = user.systemctl(&["start", "prism"]);
    assert_success(&out, &user.diagnosis());
    let third = user.wait_for_daemon(Some(second.pid)).await;

    // Installing again changes nothing and keeps the daemon it runs.
    let out = user.prism(&env, &["daemon", "--listen", &address, "install"]);
    assert_success(&out, &user.diagnosis());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("unchanged: "));
    assert_eq!(user.property("MainPID"), third.pid.to_string());

    let out = user.prism(&env, &["daemon", "uninstall"]);
    assert_success(&out, &user.diagnosis());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("ran: systemctl --user disable --now prism"),
        "{said}"
    );
    assert!(
        !user
            .path("home/.config/systemd/user/prism.service")
            .exists()
    );
    assert_eq!(user.property("LoadState"), "not-found");
    assert!(
        std::fs::metadata(format!("/proc/{}", third.pid)).is_err(),
        "the daemon has exited"
    );
}
