//! `prism daemon stop`: ask the daemon to shut down, then wait until its process has ended.
//!
//! The daemon answers the shutdown request at once and then finishes its background work for
//! up to 30 s. Returning before the process is gone would let `prism daemon stop && prism
//! daemon` find the data directory still locked, so the command waits, bounded, and says what
//! it waited for.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::output::{Format, json, say};
use super::{Failure, report};
use crate::client::{ClientError, DaemonClient};
use crate::paths::{Dirs, read_runtime};

/// How often the CLI looks again while waiting.
const POLL: Duration = Duration::from_millis(200);

/// What shows that the daemon has ended, best first.
#[derive(Debug)]
enum Awaited {
    /// The process itself, where the platform lets us look at it.
    Process(u32),
    /// The runtime file, which the daemon removes as the last thing it does.
    RuntimeFile { path: PathBuf, pid: u32 },
    /// Without a pid or a runtime file: the address no longer answering.
    Address(String),
}

impl Awaited {
    fn describe(&self) -> String {
        match self {
            Awaited::Process(pid) => format!("the daemon process (pid {pid}) to exit"),
            Awaited::RuntimeFile { path, pid } => {
                format!("the daemon (pid {pid}) to remove {}", path.display())
            }
            Awaited::Address(url) => format!("{url} to stop answering"),
        }
    }

    async fn ended(&self, client: &DaemonClient) -> bool {
        match self {
            Awaited::Process(pid) => process_ended(*pid) == Some(true),
            Awaited::RuntimeFile { path, pid } => {
                read_runtime(path).is_none_or(|info| info.pid != *pid)
            }
            Awaited::Address(_) => {
                matches!(client.status().await, Err(ClientError::Unreachable { .. }))
            }
        }
    }
}

pub(super) use crate::paths::process_ended;

/// Stops the daemon and waits up to `timeout` for it to be gone.
pub async fn stop(client: &DaemonClient, format: Format, timeout: Duration) -> Result<(), Failure> {
    let runtime_path = Dirs::discover().ok().map(|dirs| dirs.runtime_file());
    let recorded = runtime_path.as_deref().and_then(read_runtime);
    // A hung daemon must not hold this command for the client's full minute.
    let answer = client
        .clone()
        .with_timeout(Duration::from_secs(10))
        .shutdown()
        .await
        .map_err(|e| {
            if let Some(info) = &recorded {
                eprintln!(
                    "note: {} recorded pid {}; if it is hung, `kill -TERM {}` stops it \
                     (a crash loses nothing: the next start reconciles with EC2)",
                    runtime_path
                        .as_deref()
                        .map_or("the runtime file".into(), |p| p.display().to_string()),
                    info.pid,
                    info.pid
                );
            }
            report(&e)
        })?;
    if format == Format::Table {
        say!(
            "{} ({} background operations, waiting up to {} s)",
            answer.message,
            answer.active_operations,
            answer.shutdown_timeout
        );
    }

    // The runtime file speaks for this daemon only if it names the same process (or, for a
    // daemon that does not say its pid, the same address).
    let ours = recorded.filter(|info| match answer.pid {
        Some(pid) => info.pid == pid,
        None => {
            let tcp = info.address.map(|a| format!("http://{a}/"));
            let socket = info
                .socket
                .as_ref()
                .map(|p| format!("unix:{}", p.display()));
            [tcp, socket]
                .iter()
                .flatten()
                .any(|known| known == client.url())
        }
    });
    let pid = answer.pid.or(ours.as_ref().map(|info| info.pid));
    let awaited = match (pid, ours, runtime_path) {
        (Some(pid), _, _) if process_ended(pid).is_some() => Awaited::Process(pid),
        (_, Some(info), Some(path)) => Awaited::RuntimeFile {
            path,
            pid: info.pid,
        },
        _ => Awaited::Address(client.url().to_string()),
    };
    if format == Format::Table {
        say!(
            "waiting up to {} s for {}",
            timeout.as_secs(),
            awaited.describe()
        );
    }

    let started = Instant::now();
    while !awaited.ended(client).await {
        if started.elapsed() >= timeout {
            eprintln!(
                "error: gave up after {} s waiting for {}",
                timeout.as_secs(),
                awaited.describe()
            );
            eprintln!(
                "  hint: it may still be finishing background work; check 'prism daemon \
                 status'{}",
                pid.map(|p| format!(", or end it with 'kill {p}'"))
                    .unwrap_or_default()
            );
            return Err(Failure::Api);
        }
        tokio::time::sleep(POLL).await;
    }
    match format {
        Format::Json => json(&answer),
        Format::Table => say!(
            "prism daemon stopped{} after {:.1} s",
            pid.map(|p| format!(" (pid {p} has exited)"))
                .unwrap_or_default(),
            started.elapsed().as_secs_f64()
        ),
    }
    Ok(())
}

/// Prints the token from the token file. It is read from the file rather than asked of the
/// daemon, so that it works for scripts whatever transport they use.
pub fn print_token() -> Result<(), Failure> {
    let dirs = Dirs::discover().map_err(|e| {
        eprintln!("error: {e}");
        Failure::Usage
    })?;
    let path = dirs.token_file();
    match crate::token::read(&path) {
        Ok(Some(token)) => {
            say!("{}", token.expose());
            Ok(())
        }
        Ok(None) => {
            eprintln!("error: there is no token yet at {}", path.display());
            eprintln!("  hint: the daemon creates it on its first start: run 'prism daemon'");
            Err(Failure::Api)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Err(Failure::Api)
        }
    }
}

/// Prints the TCP URL the running daemon recorded, the only place the token should go.
pub fn print_url() -> Result<(), Failure> {
    let dirs = Dirs::discover().map_err(|e| {
        eprintln!("error: {e}");
        Failure::Usage
    })?;
    let file = dirs.runtime_file();
    let recorded = crate::paths::read_trusted_runtime(&file).filter(crate::paths::daemon_alive);
    match recorded {
        Some(info) => match info.address {
            Some(address) => {
                say!("http://{address}");
                Ok(())
            }
            None => {
                eprintln!("error: your daemon serves no TCP (its socket only)");
                eprintln!("  hint: 'prism daemon status' says why; see tcp_fallback in the README");
                Err(Failure::Api)
            }
        },
        None => {
            eprintln!(
                "error: no daemon of yours is running (nothing recorded in {})",
                file.display()
            );
            eprintln!("  hint: start it with 'prism daemon'");
            Err(Failure::Unreachable)
        }
    }
}

/// Asks the daemon for a new token.
pub async fn rotate_token(client: &DaemonClient, format: Format) -> Result<(), Failure> {
    let answer = client.rotate_token().await.map_err(|e| report(&e))?;
    match format {
        Format::Json => json(&answer),
        Format::Table => {
            say!("{}", answer.message);
            say!("token file: {}", answer.token_file);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_process_has_not_ended() {
        let ended = process_ended(std::process::id());
        assert!(ended.is_none() || ended == Some(false), "{ended:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reaped_process_has_ended() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        assert_eq!(process_ended(pid), Some(true));
    }
}
