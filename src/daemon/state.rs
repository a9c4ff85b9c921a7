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

/// Why the last refresh cycle failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshFailure {
    pub message: String,
    /// Nothing answered (connection refused, DNS, a timeout), as opposed to AWS answering
    /// with an error: the status then calls AWS disconnected.
    pub unreachable: bool,
}

/// What the last refresh from EC2 achieved.
#[derive(Clone, Debug, Default)]
pub struct RefreshStatus {
    /// When the last successful cycle began: the list is at least this old.
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<RefreshFailure>,
}

impl RefreshStatus {
    /// Whole seconds since the last successful cycle began; `None` before the first.
    pub fn data_age(&self, now: DateTime<Utc>) -> Option<i64> {
        self.last_success.map(|at| (now - at).num_seconds().max(0))
    }

    /// Whether the list may be out of date: the last cycle failed, none has succeeded yet, or
    /// the last success is older than two poll intervals (a cycle stuck on a slow AWS).
    pub fn is_stale(&self, now: DateTime<Utc>, poll_interval: Duration) -> bool {
        let limit = i64::try_from(poll_interval.as_secs().saturating_mul(2)).unwrap_or(i64::MAX);
        self.last_error.is_some() || self.data_age(now).is_none_or(|age| age > limit)
    }
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

    pub fn record(&self, result: Result<(), RefreshFailure>, at: DateTime<Utc>) {
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

/// How long a connectivity check may take.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How old a connectivity result may be before the next status request checks again: AWS
/// that answered is trusted for longer than AWS that did not, so that recovery shows soon.
const HEALTH_FRESH_WHEN_UP: Duration = Duration::from_secs(30);
const HEALTH_FRESH_WHEN_DOWN: Duration = Duration::from_secs(5);

/// The last AWS connectivity check, so that status requests do not each call AWS, and never
/// wait for it: a stale result is answered at once while a check runs in the background.
#[derive(Clone, Debug, Default)]
pub struct AwsHealth {
    inner: Arc<Mutex<HealthCell>>,
}

#[derive(Debug, Default)]
struct HealthCell {
    last: Option<(Instant, Result<String, String>)>,
    checking: bool,
}

impl AwsHealth {
    /// Checks now and waits for the answer (at most 5 s): the account id, or why AWS could
    /// not be reached.
    pub async fn check(&self, cloud: &Cloud) -> Result<String, String> {
        let result = match tokio::time::timeout(HEALTH_CHECK_TIMEOUT, cloud.identity()).await {
            Ok(Ok(identity)) => Ok(identity.account),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "STS GetCallerIdentity did not answer within {} s",
                HEALTH_CHECK_TIMEOUT.as_secs()
            )),
        };
        let mut cell = self.lock();
        cell.last = Some((Instant::now(), result.clone()));
        cell.checking = false;
        result
    }

    /// The last result, at once; `None` before the first check. When it is old, a check
    /// starts in the background and a later call sees its answer.
    pub fn current(&self, cloud: &Cloud) -> Option<Result<String, String>> {
        let mut cell = self.lock();
        let due = match &cell.last {
            None => true,
            Some((at, Ok(_))) => at.elapsed() >= HEALTH_FRESH_WHEN_UP,
            Some((at, Err(_))) => at.elapsed() >= HEALTH_FRESH_WHEN_DOWN,
        };
        if due && !cell.checking {
            cell.checking = true;
            let health = self.clone();
            let cloud = cloud.clone();
            tokio::spawn(async move {
                let _ = health.check(&cloud).await;
            });
        }
        cell.last.as_ref().map(|(_, result)| result.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HealthCell> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
