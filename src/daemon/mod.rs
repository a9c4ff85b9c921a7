//! `prism daemon`: the per-user background service that owns every AWS call and all state.
//!
//! Start-up order matters: the listening socket is bound first (so a taken port fails within a
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
pub mod workspaces;

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
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
    std::fs::create_dir_all(&dirs.data)
        .with_context(|| format!("cannot create the data directory {}", dirs.data.display()))?;
    let _log_guard = crate::logging::init(&config.log, &dirs.data.join("logs"), "daemon", true)?;

    // Bind first: a taken port must fail fast, before anything slow happens.
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "cannot listen on {}: the address is already in use (is another prism daemon \
                 running? try 'prism daemon status', or set a different `listen` address)",
                config.listen
            )
        } else {
            anyhow::anyhow!("cannot listen on {}: {e}", config.listen)
        }
    })?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // Held, unused, until the process ends; the lock goes with it, even after SIGKILL.
    let _data_lock = lock_data_dir(&dirs.data)?;

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
    tracing::info!(owner = %state.owner, region = %state.cloud.default_region(), "reconciling with EC2");
    match state.aws_health.check(&state.cloud).await {
        Ok(account) => tracing::info!(%account, "AWS reachable"),
        Err(error) => tracing::warn!(%error, "AWS not reachable yet; serving the last known state"),
    }
    refresh::reconcile(&state).await;

    let runtime = RuntimeInfo {
        pid: std::process::id(),
        address,
        started_at: state.started_at,
    };
    // The hub starts after reconciliation: clients learn the state from the list, and the
    // stream carries what changes from here on.
    let hub = events::Hub::start(state.store.clone(), state.events.clone())
        .await
        .context("cannot read the store for the event stream")?;
    tokio::spawn(hub.run(shutdown.clone()));
    write_runtime_file(&runtime_file(&dirs.data), &runtime)?;
    tokio::spawn(refresh::run_loop(state.clone()));
    spawn_signal_handlers(shutdown.clone());

    tracing::info!(%address, version = env!("CARGO_PKG_VERSION"), "prism daemon listening");
    let app = api::app(state.clone());
    let serve_shutdown = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { serve_shutdown.cancelled().await })
        .await
        .context("the HTTP server failed")?;

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
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn spawn_signal_handlers(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(signal) => signal,
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        shutdown.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => tracing::info!("interrupted; shutting down"),
                _ = term.recv() => tracing::info!("SIGTERM; shutting down"),
                _ = shutdown.cancelled() => return,
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = ctrl_c => tracing::info!("interrupted; shutting down"),
                _ = shutdown.cancelled() => return,
            }
        }
        shutdown.cancel();
    });
}
