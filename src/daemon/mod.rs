//! `prism daemon`: the per-user background service that owns every AWS call and all state.
//!
//! Start-up order matters: the listening socket is bound first (so a taken port fails within a
//! second), then the store is opened, AWS is set up, templates are loaded, and the store is
//! reconciled with EC2; only then are the event hub and the refresh loop started and requests
//! served.

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

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::aws::{Cloud, CloudSettings};
use crate::paths::{RuntimeInfo, runtime_file};
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
    let _ = std::fs::remove_file(runtime_file(&dirs.data));
    tracing::info!("prism daemon stopped");
    Ok(())
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
