//! The state every handler and background task shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::catalog::TemplateRegistry;
use super::config::{Config, Dirs};
use super::events;
use super::store::Store;
use crate::aws::{AwsError, Cloud};
use crate::model::api::DaemonEvent;
use crate::token::Token;

/// A value and when it was fetched, behind an async lock.
type TimedCell<T> = Arc<tokio::sync::Mutex<Option<(Instant, T)>>>;

/// Handles shared across the daemon; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub dirs: Dirs,
    pub owner: String,
    pub store: Store,
    pub cloud: Cloud,
    pub templates: TemplateRegistry,
    pub started_at: DateTime<Utc>,
    /// Cancelled when the daemon begins to shut down.
    pub shutdown: CancellationToken,
    /// Background work (launches) that shutdown waits for.
    pub tasks: TaskTracker,
    /// Open event-stream sockets; shutdown gives them a moment to say goodbye.
    pub sessions: TaskTracker,
    pub refresh: RefreshHandle,
    pub locks: WorkspaceLocks,
    pub aws_health: AwsHealth,
    /// The event stream: the hub sends, each WebSocket session subscribes.
    pub events: broadcast::Sender<DaemonEvent>,
    /// The bearer token TCP requests must carry; replaced by `rotate-token`.
    pub token: TokenCell,
    /// Where the daemon can be reached, once bound, for the status.
    pub reach: Arc<Mutex<Reach>>,
    regions: TimedCell<Vec<String>>,
}

/// The token behind a lock that readers barely hold: each request reads it once.
pub type TokenCell = Arc<std::sync::RwLock<Token>>;

/// How clients reach this daemon.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    pub socket: Option<std::path::PathBuf>,
    pub tcp: Option<std::net::SocketAddr>,
    /// Why TCP is not where it was asked to be, when it is not.
    pub tcp_note: Option<String>,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        owner: String,
        dirs: Dirs,
        store: Store,
        cloud: Cloud,
        templates: TemplateRegistry,
        shutdown: CancellationToken,
    ) -> AppState {
        AppState {
            config: Arc::new(config),
            dirs,
            owner,
            store,
            cloud,
            templates,
            started_at: Utc::now(),
            shutdown,
            tasks: TaskTracker::new(),
            sessions: TaskTracker::new(),
            refresh: RefreshHandle::default(),
            locks: WorkspaceLocks::default(),
            aws_health: AwsHealth::default(),
            events: events::channel(),
            // A token nobody knows until the daemon installs the one from its file.
            token: Arc::new(std::sync::RwLock::new(Token::generate())),
            reach: Arc::default(),
            regions: Arc::default(),
        }
    }

    /// Uses `token` for TCP requests from now on.
    pub fn set_token(&self, token: Token) {
        match self.token.write() {
            Ok(mut current) => *current = token,
            Err(poisoned) => *poisoned.into_inner() = token,
        }
    }

    /// Whether `offered` is the current token.
    pub fn token_matches(&self, offered: &str) -> bool {
        match self.token.read() {
            Ok(current) => current.matches(offered),
            Err(poisoned) => poisoned.into_inner().matches(offered),
        }
    }

    pub fn reach(&self) -> Reach {
        self.reach
            .lock()
            .map(|reach| reach.clone())
            .unwrap_or_default()
    }

    /// The account's regions, asked of EC2 at most once an hour.
    pub async fn known_regions(&self) -> Result<Vec<String>, AwsError> {
        let mut cached = self.regions.lock().await;
        if let Some((at, regions)) = cached.as_ref()
            && at.elapsed() < Duration::from_secs(3600)
        {
            return Ok(regions.clone());
        }
        let regions = self.cloud.regions().await?;
        *cached = Some((Instant::now(), regions.clone()));
        Ok(regions)
    }
}

/// One async lock per workspace, so that actions on the same workspace run one at a time
/// while different workspaces proceed in parallel.
#[derive(Clone, Debug, Default)]
pub struct WorkspaceLocks {
    locks: Arc<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>>,
}

impl WorkspaceLocks {
    pub async fn lock(&self, id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.entry(id).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// What the last refresh from EC2 achieved.
#[derive(Clone, Debug, Default)]
pub struct RefreshStatus {
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A way to ask the refresh loop for an early cycle, and to read how it is doing.
#[derive(Clone, Debug, Default)]
pub struct RefreshHandle {
    pub wake: Arc<Notify>,
    pub status: Arc<Mutex<RefreshStatus>>,
}

impl RefreshHandle {
    /// Asks for a refresh soon (coalesced with any already asked for).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    pub fn status(&self) -> RefreshStatus {
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn record(&self, result: Result<(), String>, at: DateTime<Utc>) {
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match result {
            Ok(()) => {
                status.last_success = Some(at);
                status.last_error = None;
            }
            Err(error) => status.last_error = Some(error),
        }
    }
}

/// The last AWS connectivity check, so that status requests do not each call AWS.
#[derive(Clone, Debug, Default)]
pub struct AwsHealth {
    inner: TimedCell<Result<String, String>>,
}

impl AwsHealth {
    /// The account id, or why AWS could not be reached; checked at most every 30 seconds.
    pub async fn check(&self, cloud: &Cloud) -> Result<String, String> {
        let mut last = self.inner.lock().await;
        if let Some((at, result)) = last.as_ref()
            && at.elapsed() < Duration::from_secs(30)
        {
            return result.clone();
        }
        let result = match tokio::time::timeout(Duration::from_secs(5), cloud.identity()).await {
            Ok(Ok(identity)) => Ok(identity.account),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("STS GetCallerIdentity did not answer within 5 s".to_string()),
        };
        *last = Some((Instant::now(), result.clone()));
        result
    }
}
