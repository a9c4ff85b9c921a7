//! `prism daemon`: the per-user background service that owns every AWS call and all state.
//!
//! Start-up order matters: the TCP port is bound first (so a taken port fails within a
//! second), then the data directory is locked (so two daemons never share one store), then the
//! store is opened, AWS is set up, templates are loaded, and the store is reconciled with EC2;
//! only then are the event hub and the refresh loop started and requests served.

pub mod api;
pub mod catalog;
pub mod config;
pub mod costs;
pub mod error;
pub mod events;
pub mod extract;
pub mod launcher;
pub mod refresh;
pub mod state;
pub mod store;
pub mod transport;
pub mod workspaces;

use std::fs::File;
use std::future::IntoFuture as _;
use std::io::{Read as _, Seek as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::aws::{Cloud, CloudSettings};
use crate::paths::{RuntimeInfo, lock_file, read_runtime, runtime_file};
use config::{Config, Dirs};
use state::AppState;

/// Options from the command line, which override the config.
#[derive(Clone, Debug, Default)]
pub struct DaemonOptions {
    pub listen: Option<SocketAddr>,
}

/// Runs the daemon until it is asked to stop.
pub async fn run(options: DaemonOptions) -> anyhow::Result<()> {
    let dirs = Dirs::discover().map_err(anyhow::Error::msg)?;
    let mut config = Config::load(&dirs.config_file()).map_err(anyhow::Error::msg)?;
    if let Some(listen) = options.listen {
        config.listen = listen;
    }
    config.check().map_err(anyhow::Error::msg)?;
    let owner = config.owner().map_err(anyhow::Error::msg)?;
    // Everything the daemon writes from here on is its user's alone: the database holds
    // workspaces' service secrets, the logs their names and addresses.
    #[cfg(unix)]
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    std::fs::create_dir_all(&dirs.data)
        .with_context(|| format!("cannot create the data directory {}", dirs.data.display()))?;
    let _log_guard = crate::logging::init(&config.log, &dirs.data.join("logs"), "daemon", true)?;
    if !config.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.listen,
            "allow_non_loopback is set: the API is open beyond this machine, guarded by the \
             token alone"
        );
    }
    for dir in [&dirs.data, &dirs.config] {
        transport::make_private(dir);
    }
    // Held, unused, until the process ends; the lock goes with it, even after SIGKILL. Taken
    // first, so that a second daemon on this directory says so rather than fall back.
    let _data_lock = lock_data_dir(&dirs.data)?;

    // Bind first: a taken port must fail fast, before anything slow happens.
    let fallback = transport::Fallback::parse(&config.tcp_fallback).map_err(anyhow::Error::msg)?;
    let explicit = config.listen_explicit || options.listen.is_some();
    let (tcp, tcp_note) = match transport::bind_tcp(config.listen, explicit, fallback).await? {
        transport::TcpOutcome::Bound(listener) => (Some(listener), None),
        transport::TcpOutcome::Fallback { listener, wanted } => {
            let at = listener
                .local_addr()
                .context("cannot read the bound address")?;
            let note =
                format!("{wanted} is taken (another user's daemon?); serving TCP on {at} instead");
            tracing::warn!("{note}; the socket is unaffected");
            (Some(listener), Some(note))
        }
        transport::TcpOutcome::Off { wanted, reason } => {
            let note = format!("{wanted} is taken and {reason}: serving the socket only");
            tracing::warn!("{note}");
            (None, Some(note))
        }
    };
    let tcp_address = match &tcp {
        Some(listener) => Some(
            listener
                .local_addr()
                .context("cannot read the bound address")?,
        ),
        None => None,
    };
    // The loopback address of the other family, on the same port, so that `localhost` works
    // whichever way it resolves. Best effort: a machine without IPv6 simply has none.
    let companion = match tcp_address {
        Some(address) => transport::bind_companion(address).await,
        None => None,
    };
    let token = crate::token::load_or_create(&dirs.token_file())
        .map_err(|e| anyhow::anyhow!("the TCP token: {e}"))?;
    transport::ensure_private_dir(&dirs.runtime)?;
    let socket = transport::bind_socket(&dirs.socket_file())?;

    let store = store::Store::open(&dirs.data.join("prism.db"))
        .await
        .context("cannot open the database")?;
    let cloud = Cloud::connect(&CloudSettings {
        region: config.region.clone(),
        max_attempts: config.aws_max_attempts,
        ..CloudSettings::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let templates_dir = config
        .templates_dir
        .clone()
        .unwrap_or_else(|| dirs.config.join("templates"));
    let registry = catalog::TemplateRegistry::load(Some(templates_dir));
    let _watcher = match registry.watch() {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "template changes on disk will need a restart to be seen");
            None
        }
    };

    let shutdown = CancellationToken::new();
    let state = AppState::new(
        config,
        owner,
        dirs.clone(),
        store,
        cloud,
        registry,
        shutdown.clone(),
    );
    state.set_token(token);
    if let Ok(mut reach) = state.reach.lock() {
        *reach = state::Reach {
            socket: Some(socket.path.clone()),
            tcp: tcp_address,
            tcp_note,
        };
    }
    tracing::info!(owner = %state.owner, region = %state.cloud.default_region(), "reconciling with EC2");
    match state.aws_health.check(&state.cloud).await {
        Ok(account) => tracing::info!(%account, "AWS reachable"),
        Err(error) => tracing::warn!(%error, "AWS not reachable yet; serving the last known state"),
    }
    refresh::reconcile(&state).await;

    let runtime = RuntimeInfo {
        pid: std::process::id(),
        address: tcp_address,
        socket: Some(socket.path.clone()),
        started_at: state.started_at,
    };
    // The hub starts after reconciliation: clients learn the state from the list, and the
    // stream carries what changes from here on.
    let hub = events::Hub::start(state.store.clone(), state.events.clone())
        .await
        .context("cannot read the store for the event stream")?;
    tokio::spawn(hub.run(shutdown.clone()));
    spawn_signal_handlers(shutdown.clone());
    write_runtime_file(&runtime_file(&dirs.data), &runtime)?;
    tokio::spawn(refresh::run_loop(state.clone()));

    tracing::info!(
        socket = %socket.path.display(),
        tcp = %tcp_address.map_or("none".to_string(), |a| a.to_string()),
        version = env!("CARGO_PKG_VERSION"),
        "prism daemon listening"
    );
    let socket_path = socket.path.clone();
    let socket_shutdown = shutdown.clone();
    let on_socket = axum::serve(socket, api::app(state.clone()))
        .with_graceful_shutdown(async move { socket_shutdown.cancelled().await });
    let on_tcp = futures::future::try_join_all(tcp.into_iter().chain(companion).map(|listener| {
        let tcp_shutdown = shutdown.clone();
        axum::serve(listener, api::tcp_app(state.clone()))
            .with_graceful_shutdown(async move { tcp_shutdown.cancelled().await })
            .into_future()
    }));
    let (socket_result, tcp_result) = tokio::join!(on_socket, on_tcp);
    // If one server fails, the other must not keep a half-working daemon alive.
    shutdown.cancel();
    socket_result.context("the socket server failed")?;
    tcp_result.context("the HTTP server failed")?;
    let _ = std::fs::remove_file(&socket_path);

    // Every session ends as soon as it sees the shutdown; this only lets the close frames out.
    state.sessions.close();
    if tokio::time::timeout(Duration::from_secs(2), state.sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!("some event stream clients were cut off without a close frame");
    }
    tracing::info!("waiting for background work to finish");
    state.tasks.close();
    let wait = Duration::from_secs(u64::from(api::SHUTDOWN_TIMEOUT_SECS));
    if tokio::time::timeout(wait, state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background work did not finish in time; it resumes on the next start");
    }
    remove_own_runtime_file(&runtime_file(&dirs.data));
    tracing::info!("prism daemon stopped");
    Ok(())
}

/// Takes the data directory's lock, or says which daemon holds it. The lock file also records
/// the holder's pid, since the runtime file appears only once start-up is finished.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = lock_file(dir);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut recorded = String::new();
            let _ = file.read_to_string(&mut recorded);
            let pid = recorded
                .trim()
                .parse::<u32>()
                .ok()
                .or_else(|| read_runtime(&runtime_file(dir)).map(|info| info.pid));
            let holder = pid.map_or_else(
                || "another prism daemon".to_string(),
                |pid| format!("another prism daemon (pid {pid})"),
            );
            anyhow::bail!(
                "{holder} is already using the data directory {}; stop it with 'prism daemon \
                 stop', or give this one its own directory with PRISM_DATA_DIR",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    let pid = std::process::id().to_string();
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(file)
}

/// Removes the runtime file unless it now describes another process: clients must never lose
/// the address of a daemon that is still running.
fn remove_own_runtime_file(path: &Path) {
    match read_runtime(path) {
        Some(info) if info.pid == std::process::id() => {
            if let Err(error) = std::fs::remove_file(path) {
                tracing::warn!(%error, file = %path.display(), "cannot remove the runtime file");
            }
        }
        Some(info) => tracing::warn!(
            pid = info.pid, file = %path.display(),
            "the runtime file names another process; leaving it"
        ),
        None => {}
    }
}

fn write_runtime_file(path: &Path, info: &RuntimeInfo) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(info)?;
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // Private from the first byte: clients trust this file to say where their daemon is.
        options.mode(0o600);
    }
    options
        .open(&tmp)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Listens for Ctrl-C and SIGTERM. The handlers are registered before this returns, so a
/// signal sent as soon as the runtime file says the daemon is up is a clean shutdown, never
/// the default action (which would kill the process mid-write).
fn spawn_signal_handlers(shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut interrupt, mut term) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(interrupt), Ok(term)) => (interrupt, term),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot listen for Ctrl-C or SIGTERM");
                return;
            }
        };
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("interrupted; shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM; shutting down"),
                () = shutdown.cancelled() => return,
            }
            shutdown.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
            () = shutdown.cancelled() => return,
        }
        shutdown.cancel();
    });
}
