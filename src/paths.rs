//! Where Prism keeps its files, shared by the daemon and its clients.
//!
//! The config directory holds `config.toml`, the user's templates and any key EC2 created; the
//! data directory holds the database, logs, the runtime file a running daemon writes so that
//! clients find it, and the lock file that keeps a second daemon off the same directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The directories Prism uses, settled once.
#[derive(Clone, Debug)]
pub struct Dirs {
    pub config: PathBuf,
    pub data: PathBuf,
    /// Where the daemon's socket lives: private to the user (0700).
    pub runtime: PathBuf,
}

impl Dirs {
    /// `PRISM_CONFIG_DIR` / `PRISM_DATA_DIR` when set, else the platform's usual places
    /// (`~/.config/prism` and `~/.local/share/prism` on Linux).
    pub fn discover() -> Result<Dirs, String> {
        let project = directories::ProjectDirs::from("", "", "prism");
        let config = match std::env::var_os("PRISM_CONFIG_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => project
                .as_ref()
                .map(|p| p.config_dir().to_path_buf())
                .ok_or("cannot find a home directory; set PRISM_CONFIG_DIR")?,
        };
        let data = match std::env::var_os("PRISM_DATA_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => project
                .as_ref()
                .map(|p| p.data_dir().to_path_buf())
                .ok_or("cannot find a home directory; set PRISM_DATA_DIR")?,
        };
        // Each data directory gets its own socket: under it when the data directory was
        // chosen explicitly (several daemons of one user, as in tests), else in the user's
        // runtime directory as the platform expects.
        let runtime = match std::env::var_os("PRISM_RUNTIME_DIR") {
            Some(dir) => PathBuf::from(dir),
            None if std::env::var_os("PRISM_DATA_DIR").is_some() => data.join("run"),
            None => match std::env::var_os("XDG_RUNTIME_DIR") {
                Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("prism"),
                _ => data.join("run"),
            },
        };
        Ok(Dirs {
            config,
            data,
            runtime,
        })
    }

    /// The daemon's Unix socket.
    pub fn socket_file(&self) -> PathBuf {
        self.runtime.join("daemon.sock")
    }

    /// The bearer token for TCP clients (0600).
    pub fn token_file(&self) -> PathBuf {
        self.config.join("token")
    }

    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.toml")
    }

    pub fn runtime_file(&self) -> PathBuf {
        runtime_file(&self.data)
    }
}

/// What a running daemon writes to its data directory (0600) so that clients and tests find
/// it: clients prefer the socket, and use TCP only when told to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    /// The TCP address, when the daemon serves TCP (it may not: see `tcp_fallback`).
    pub address: Option<SocketAddr>,
    /// The Unix socket.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    pub started_at: DateTime<Utc>,
}

/// The runtime file's path in a data directory.
pub fn runtime_file(data_dir: &Path) -> PathBuf {
    data_dir.join("daemon.json")
}

/// The lock file a running daemon holds in its data directory, so that a second daemon on the
/// same directory refuses to start.
pub fn lock_file(data_dir: &Path) -> PathBuf {
    data_dir.join("daemon.lock")
}

/// Reads a runtime file that clients may trust: this user's own, and writable by no one else
/// (it says where the token may be sent). Anything else is ignored.
pub fn read_trusted_runtime(path: &Path) -> Option<RuntimeInfo> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let meta = std::fs::metadata(path).ok()?;
        let ours = meta.uid() == nix::unistd::geteuid().as_raw();
        if !ours || meta.permissions().mode() & 0o022 != 0 {
            return None;
        }
    }
    read_runtime(path)
}

/// Whether process `pid` has ended; `None` when this platform gives no way to tell. A zombie
/// (ended, not yet reaped by its parent) counts as ended.
pub fn process_ended(pid: u32) -> Option<bool> {
    #[cfg(target_os = "linux")]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(true),
            Err(_) => None,
            // The state letter follows the command name, which is in parentheses and may
            // itself contain spaces or parentheses.
            Ok(stat) => {
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.trim_start().chars().next());
                Some(matches!(state, Some('Z' | 'X')))
            }
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        std::process::Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .ok()
            .map(|status| !status.success())
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        None
    }
}

/// Whether the process a runtime file names still runs as this user: a file left by a daemon
/// that died names an address anyone may have taken since. A zombie (dead, not yet reaped) is
/// not running, and a process of another user that got the same pid is not this daemon.
pub fn daemon_alive(info: &RuntimeInfo) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt as _;
        let ours = std::fs::metadata(format!("/proc/{}", info.pid))
            .is_ok_and(|meta| meta.uid() == nix::unistd::geteuid().as_raw());
        ours && process_ended(info.pid) == Some(false)
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let Ok(pid) = i32::try_from(info.pid) else {
            return false;
        };
        // Signal 0 checks without sending; another user's process answers EPERM.
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = info;
        true
    }
}

/// Whether this user's daemon is running and recorded as listening on `address` now.
pub fn recorded_at(runtime_file: &Path, address: std::net::SocketAddr) -> bool {
    read_trusted_runtime(runtime_file)
        .filter(daemon_alive)
        .is_some_and(|info| info.address == Some(address))
}

/// Reads a runtime file, if there is a readable one.
pub fn read_runtime(path: &Path) -> Option<RuntimeInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
