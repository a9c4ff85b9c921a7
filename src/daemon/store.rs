//! The daemon's SQLite store: workspaces and their state transitions.
//!
//! One file in the data directory, in WAL mode, migrated on open. Every change that must not
//! be half-applied happens in one transaction. The store mirrors EC2 rather than replacing it:
//! the refresh loop writes what EC2 reports, and on start the daemon reconciles the two before
//! it serves anything. Writes that record transitions announce themselves through
//! [`Store::changes`] once committed, which is how the event stream learns of them.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};
use tokio::sync::watch;

use crate::aws::Observed;
use crate::model::ledger::Transition;
use crate::model::tags::ServicesSource;
use crate::model::template::ServiceSpec;
use crate::model::workspace::{Action, WorkspaceState};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a workspace named '{0}' already exists")]
    NameTaken(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// One workspace row.
#[derive(Clone, Debug, FromRow)]
pub struct WorkspaceRow {
    pub id: i64,
    pub name: String,
    pub region: String,
    pub template: String,
    pub size: Option<String>,
    pub instance_type: String,
    pub spot: bool,
    pub project: Option<String>,
    pub budget: Option<String>,
    pub root_volume_gb: i64,
    pub root_volume_type: String,
    pub hibernation_requested: bool,
    pub hibernation_configured: bool,
    pub instance_id: Option<String>,
    pub launch_token: String,
    pub run_requested_at: Option<DateTime<Utc>>,
    pub state: String,
    pub state_since: DateTime<Utc>,
    pub last_action: String,
    pub pending_action: Option<String>,
    pub launch_progress: Option<i64>,
    pub launch_error: Option<String>,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub availability_zone: Option<String>,
    pub launch_time: Option<DateTime<Utc>>,
    pub ttl: Option<DateTime<Utc>>,
    pub service_secret: String,
    /// False for a workspace rebuilt from tags: its secret was set at boot and is not known.
    pub service_secret_known: bool,
    pub key_name: Option<String>,
    pub key_path: Option<String>,
    pub ssh_user: Option<String>,
    pub services: String,
    pub services_source: String,
    pub tags: String,
    pub volume_ids: String,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl WorkspaceRow {
    pub fn state(&self) -> WorkspaceState {
        WorkspaceState::from_str(&self.state).unwrap_or(WorkspaceState::Failed)
    }

    pub fn last_action(&self) -> Action {
        Action::from_name(&self.last_action).unwrap_or(Action::Launch)
    }

    pub fn pending_action(&self) -> Option<Action> {
        self.pending_action.as_deref().and_then(Action::from_name)
    }

    pub fn tags(&self) -> BTreeMap<String, String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    /// The services recorded at launch, or recovered when the workspace was adopted; see
    /// [`WorkspaceRow::services_source`].
    pub fn services(&self) -> Vec<ServiceSpec> {
        serde_json::from_str(&self.services).unwrap_or_default()
    }

    pub fn services_source(&self) -> ServicesSource {
        ServicesSource::from_name(&self.services_source)
    }

    pub fn volume_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.volume_ids).unwrap_or_default()
    }

    pub fn is_live(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// What a launch request records before anything is sent to AWS.
#[derive(Clone, Debug)]
pub struct NewWorkspace {
    pub name: String,
    pub region: String,
    pub template: String,
    pub size: Option<String>,
    pub instance_type: String,
    pub spot: bool,
    pub project: Option<String>,
    pub budget: Option<String>,
    pub root_volume_gb: i64,
    pub root_volume_type: String,
    pub hibernation_requested: bool,
    pub launch_token: String,
    pub ttl: Option<DateTime<Utc>>,
    pub service_secret: String,
    pub ssh_user: Option<String>,
    pub services: Vec<ServiceSpec>,
}

/// One recorded transition with what the event stream says about it.
#[derive(Clone, Debug, FromRow)]
pub struct TransitionRecord {
    pub id: i64,
    pub name: String,
    pub instance_id: Option<String>,
    pub at: DateTime<Utc>,
    pub state: String,
    /// The state of the workspace's transition recorded just before this one.
    pub previous_state: Option<String>,
    pub reason: String,
}

/// The SQLite store.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Counts commits that recorded transitions; the event hub waits on it.
    changes: Arc<watch::Sender<u64>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store {
            pool,
            changes: Arc::new(watch::Sender::new(0)),
        })
    }

    /// A receiver that sees a new value after every committed write that recorded transitions.
    /// It says only "look again": readers find what changed with [`Store::transitions_after`].
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Commits a transaction that recorded transitions, then tells [`Store::changes`]
    /// receivers. The notice goes out only after the commit, so whoever it wakes reads the
    /// new rows.
    async fn commit(&self, tx: sqlx::Transaction<'static, sqlx::Sqlite>) -> Result<(), StoreError> {
        tx.commit().await?;
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
        Ok(())
    }

    /// Starts a write transaction. `BEGIN IMMEDIATE` takes the write lock up front: a deferred
    /// transaction that reads first and writes later fails with SQLITE_BUSY_SNAPSHOT (517)
    /// when another connection wrote in between, and no busy timeout can save it.
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Records a launch request: the workspace row and its first transition, atomically.
    /// A live workspace of the same name makes this fail with [`StoreError::NameTaken`].
    pub async fn insert_launch(
        &self,
        new: &NewWorkspace,
        now: DateTime<Utc>,
    ) -> Result<WorkspaceRow, StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query_as::<_, WorkspaceRow>(
            "INSERT INTO workspaces (name, region, template, size, instance_type, spot, project, \
             budget, root_volume_gb, root_volume_type, hibernation_requested, launch_token, state, \
             state_since, last_action, launch_progress, ttl, service_secret, created_at, ssh_user, \
             services) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'launching', ?, 'launch', 5, ?, ?, ?, ?, ?) \
             RETURNING *",
        )
        .bind(&new.name)
        .bind(&new.region)
        .bind(&new.template)
        .bind(&new.size)
        .bind(&new.instance_type)
        .bind(new.spot)
        .bind(&new.project)
        .bind(&new.budget)
        .bind(new.root_volume_gb)
        .bind(&new.root_volume_type)
        .bind(new.hibernation_requested)
        .bind(&new.launch_token)
        .bind(now)
        .bind(new.ttl)
        .bind(&new.service_secret)
        .bind(now)
        .bind(&new.ssh_user)
        .bind(serde_json::to_string(&new.services).unwrap_or_else(|_| "[]".into()))
        .fetch_one(&mut *tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::NameTaken(new.name.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        insert_transition(
            &mut tx,
            row.id,
            now,
            WorkspaceState::Launching,
            "launch request",
        )
        .await?;
        self.commit(tx).await?;
        Ok(row)
    }

    pub async fn get(&self, id: i64) -> Result<Option<WorkspaceRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM workspaces WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A workspace by name (the live one), by instance id (any), or by name among ended ones
    /// (the latest), so that a request about a workspace that just ended is told it ended
    /// rather than that it never existed.
    pub async fn find(&self, key: &str) -> Result<Option<WorkspaceRow>, StoreError> {
        let by_name: Option<WorkspaceRow> =
            sqlx::query_as("SELECT * FROM workspaces WHERE name = ? AND ended_at IS NULL")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        if by_name.is_some() {
            return Ok(by_name);
        }
        let by_id: Option<WorkspaceRow> =
            sqlx::query_as("SELECT * FROM workspaces WHERE instance_id = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        if by_id.is_some() {
            return Ok(by_id);
        }
        Ok(sqlx::query_as(
            "SELECT * FROM workspaces WHERE name = ? ORDER BY ended_at DESC, id DESC LIMIT 1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The workspace (live or ended) whose instance is `instance_id`.
    pub async fn by_instance_id(
        &self,
        instance_id: &str,
    ) -> Result<Option<WorkspaceRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM workspaces WHERE instance_id = ?")
                .bind(instance_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Workspaces that still exist.
    pub async fn live(&self) -> Result<Vec<WorkspaceRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM workspaces WHERE ended_at IS NULL ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Live workspaces plus those that ended after `ended_since`.
    pub async fn visible(
        &self,
        ended_since: DateTime<Utc>,
    ) -> Result<Vec<WorkspaceRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM workspaces WHERE ended_at IS NULL OR ended_at >= ? \
             ORDER BY name, id",
        )
        .bind(ended_since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every workspace that existed at some moment between `start` and `end`, however long
    /// ago it ended: the cost reports need the ones the list no longer shows.
    pub async fn existed_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<WorkspaceRow>, StoreError> {
        // julianday() compares instants, whatever number of fraction digits the text has.
        Ok(sqlx::query_as(
            "SELECT * FROM workspaces WHERE julianday(created_at) < julianday(?) \
             AND (ended_at IS NULL OR julianday(ended_at) > julianday(?)) ORDER BY name, id",
        )
        .bind(end)
        .bind(start)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A workspace whose launch carried `token`.
    pub async fn by_launch_token(&self, token: &str) -> Result<Option<WorkspaceRow>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM workspaces WHERE launch_token = ?")
                .bind(token)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Regions holding live workspaces.
    pub async fn regions_in_use(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT region FROM workspaces WHERE ended_at IS NULL")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    pub async fn set_progress(&self, id: i64, progress: u8) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workspaces SET launch_progress = ? WHERE id = ? AND instance_id IS NULL",
        )
        .bind(i64::from(progress))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_key(
        &self,
        id: i64,
        key_name: &str,
        key_path: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE workspaces SET key_name = ?, key_path = ? WHERE id = ?")
            .bind(key_name)
            .bind(key_path)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks that RunInstances is about to be sent: the intent is on disk before the call.
    pub async fn mark_run_requested(
        &self,
        id: i64,
        hibernation: bool,
        root_volume_gb: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workspaces SET run_requested_at = COALESCE(run_requested_at, ?), \
             hibernation_requested = ?, root_volume_gb = ? WHERE id = ?",
        )
        .bind(now)
        .bind(hibernation)
        .bind(root_volume_gb)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a launch that produced no instance: `failed` with the error, or `terminated` when
    /// the researcher terminated it before anything reached EC2.
    pub async fn end_launch(
        &self,
        id: i64,
        state: WorkspaceState,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let error = (state == WorkspaceState::Failed).then_some(reason);
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE workspaces SET state = ?, state_since = ?, launch_error = ?, ended_at = ?, \
             launch_progress = NULL WHERE id = ? AND instance_id IS NULL AND ended_at IS NULL",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            insert_transition(&mut tx, id, now, state, reason).await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// Applies what EC2 reports about a workspace's instance.
    ///
    /// `observed_at` is when the describe call began: a state the daemon set after that moment
    /// (an action just requested) is newer than the observation and is kept.
    pub async fn apply_observation(
        &self,
        id: i64,
        observed: &Observed,
        state: WorkspaceState,
        observed_at: DateTime<Utc>,
    ) -> Result<Option<(WorkspaceState, WorkspaceState)>, StoreError> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query_as::<_, WorkspaceRow>("SELECT * FROM workspaces WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let tags = serde_json::to_string(&observed.tags).unwrap_or_else(|_| "{}".into());
        let volumes = serde_json::to_string(&observed.volume_ids).unwrap_or_else(|_| "[]".into());
        let ttl = observed
            .tags
            .get("prism:ttl")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .or(row.ttl);
        // An observation older than one already applied (the launch task's answer arriving
        // after the refresh loop described the running instance) must not put back an older
        // address or state; it may still fill in an instance id that is not known yet.
        let outdated = row.refreshed_at.is_some_and(|seen| seen > observed_at);
        if outdated {
            sqlx::query(
                "UPDATE workspaces SET instance_id = COALESCE(instance_id, ?) WHERE id = ?",
            )
            .bind(&observed.instance_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            self.commit(tx).await?;
            return Ok(None);
        }
        sqlx::query(
            "UPDATE workspaces SET instance_id = ?, public_ip = ?, private_ip = ?, \
             availability_zone = ?, launch_time = COALESCE(?, launch_time), instance_type = ?, \
             hibernation_configured = ?, spot = ?, tags = ?, volume_ids = ?, ttl = ?, \
             refreshed_at = ? WHERE id = ?",
        )
        .bind(&observed.instance_id)
        .bind(&observed.public_ip)
        .bind(&observed.private_ip)
        .bind(&observed.availability_zone)
        .bind(observed.launch_time)
        .bind(&observed.instance_type)
        .bind(observed.hibernation_configured)
        .bind(observed.spot)
        .bind(&tags)
        .bind(&volumes)
        .bind(ttl)
        .bind(observed_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;

        let previous = row.state();
        let newer_than_observation = row.state_since > observed_at;
        let mut change = None;
        if state != previous && !newer_than_observation && row.ended_at.is_none() {
            let ended = state.is_final().then_some(observed_at);
            let progress: Option<i64> = match state {
                WorkspaceState::Launching => row.launch_progress.map(|p| p.max(90)),
                _ => None,
            };
            sqlx::query(
                "UPDATE workspaces SET state = ?, state_since = ?, ended_at = ?, \
                 launch_progress = ? WHERE id = ?",
            )
            .bind(state.as_str())
            .bind(observed_at)
            .bind(ended)
            .bind(progress)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            insert_transition(&mut tx, id, observed_at, state, "observed in EC2").await?;
            change = Some((previous, state));
        }
        // EC2 confirms a pending action once the state reflects it.
        if let Some(pending) = row.pending_action()
            && confirms(pending, state)
        {
            sqlx::query("UPDATE workspaces SET pending_action = NULL WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if change.is_some() {
            self.commit(tx).await?;
        } else {
            tx.commit().await?;
        }
        Ok(change)
    }

    /// Records an action the daemon is about to send to EC2, with the state it leads to.
    /// The action stays pending until EC2's state confirms it.
    pub async fn record_action(
        &self,
        id: i64,
        action: Action,
        state: WorkspaceState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE workspaces SET last_action = ?, pending_action = ?, state = ?, state_since = ? \
             WHERE id = ? AND ended_at IS NULL",
        )
        .bind(action.as_str())
        .bind(action.as_str())
        .bind(state.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        insert_transition(
            &mut tx,
            id,
            now,
            state,
            &format!("{} request", action.as_str()),
        )
        .await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// Undoes a recorded action whose AWS call failed, restoring the previous state.
    pub async fn revert_action(
        &self,
        id: i64,
        previous_action: Action,
        previous: WorkspaceState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE workspaces SET last_action = ?, pending_action = NULL, state = ?, \
             state_since = ? WHERE id = ?",
        )
        .bind(previous_action.as_str())
        .bind(previous.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        insert_transition(&mut tx, id, now, previous, "request failed at AWS").await?;
        self.commit(tx).await?;
        Ok(())
    }

    pub async fn clear_pending(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE workspaces SET pending_action = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_ttl(&self, id: i64, ttl: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE workspaces SET ttl = ? WHERE id = ?")
            .bind(ttl)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a workspace whose instance EC2 no longer knows.
    pub async fn mark_vanished(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let changed = sqlx::query(
            "UPDATE workspaces SET state = 'terminated', state_since = ?, ended_at = ?, \
             pending_action = NULL WHERE id = ? AND ended_at IS NULL",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed > 0 {
            insert_transition(
                &mut tx,
                id,
                now,
                WorkspaceState::Terminated,
                "no longer in EC2",
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// Takes in a managed instance the store has no row for (launched by an earlier store, or
    /// by this daemon before its database was lost). Its history starts now, its service
    /// secret is recorded as unknown, and its services are what the caller could recover.
    pub async fn adopt(
        &self,
        observed: &Observed,
        state: WorkspaceState,
        services: &[ServiceSpec],
        services_source: ServicesSource,
        now: DateTime<Utc>,
    ) -> Result<Option<WorkspaceRow>, StoreError> {
        let name = observed
            .tags
            .get("prism:name")
            .cloned()
            .unwrap_or_else(|| observed.instance_id.clone());
        let token = observed
            .tags
            .get("prism:launch-token")
            .cloned()
            .unwrap_or_else(|| format!("adopted-{}", observed.instance_id));
        let new = NewWorkspace {
            name,
            region: observed.region.clone(),
            template: observed
                .tags
                .get("prism:template")
                .cloned()
                .unwrap_or_default(),
            size: observed.tags.get("prism:size").cloned(),
            instance_type: observed.instance_type.clone(),
            spot: observed.spot,
            project: observed.tags.get("prism:project").cloned(),
            budget: observed.tags.get("prism:budget").cloned(),
            root_volume_gb: observed
                .tags
                .get("prism:root-volume-gb")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            root_volume_type: "gp3".to_string(),
            hibernation_requested: observed.hibernation_configured,
            launch_token: token,
            ttl: None,
            // Never shown: `service_secret_known` is cleared below.
            service_secret: String::new(),
            ssh_user: observed.tags.get("prism:ssh-user").cloned(),
            services: services.to_vec(),
        };
        let row = match self.insert_launch(&new, now).await {
            Ok(row) => row,
            Err(StoreError::NameTaken(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        sqlx::query(
            "UPDATE workspaces SET run_requested_at = ?, last_action = 'start', \
             service_secret_known = 0, services_source = ? WHERE id = ?",
        )
        .bind(now)
        .bind(services_source.as_str())
        .bind(row.id)
        .execute(&self.pool)
        .await?;
        self.apply_observation(row.id, observed, state, now).await?;
        self.get(row.id).await
    }

    /// The id of the newest recorded transition, or 0 when there is none.
    pub async fn newest_transition_id(&self) -> Result<i64, StoreError> {
        let (id,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM transitions")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// Up to `limit` transitions recorded after the one with id `after`, oldest first, each
    /// with its workspace's name and instance and the state recorded before it.
    ///
    /// Ids grow in commit order because SQLite has one writer at a time (every write is
    /// `BEGIN IMMEDIATE`), so a reader that remembers the last id it saw misses nothing.
    pub async fn transitions_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TransitionRecord>, StoreError> {
        // The window runs over the whole history of only those workspaces that have something
        // new, so that the first new row of each still finds its predecessor.
        Ok(sqlx::query_as(
            "SELECT id, name, instance_id, at, state, previous_state, reason FROM ( \
                 SELECT t.id, w.name, w.instance_id, t.at, t.state, t.reason, \
                        LAG(t.state) OVER (PARTITION BY t.workspace_id ORDER BY t.id) \
                            AS previous_state \
                 FROM transitions t JOIN workspaces w ON w.id = t.workspace_id \
                 WHERE t.workspace_id IN (SELECT workspace_id FROM transitions WHERE id > ?) \
             ) WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// All transitions of the given workspaces, oldest first.
    pub async fn transitions(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<Transition>>, StoreError> {
        let mut out: HashMap<i64, Vec<Transition>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let placeholders = vec!["?"; ids.len()].join(",");
        let sql = format!(
            "SELECT workspace_id, at, state FROM transitions WHERE workspace_id IN ({placeholders}) \
             ORDER BY at, id"
        );
        // Only "?" placeholders are interpolated; the ids are bound.
        let mut query = sqlx::query_as::<_, (i64, DateTime<Utc>, String)>(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id);
        }
        for (id, at, state) in query.fetch_all(&self.pool).await? {
            if let Ok(state) = WorkspaceState::from_str(&state) {
                out.entry(id).or_default().push(Transition { at, state });
            }
        }
        Ok(out)
    }
}

/// Whether a workspace state shows that EC2 has acted on a pending action.
fn confirms(action: Action, state: WorkspaceState) -> bool {
    use WorkspaceState as S;
    match action {
        Action::Launch => !matches!(state, S::Launching),
        Action::Stop => matches!(
            state,
            S::Stopping | S::Stopped | S::Terminating | S::Terminated
        ),
        Action::Hibernate => {
            matches!(
                state,
                S::Hibernating | S::Hibernated | S::Stopping | S::Stopped | S::Terminated
            )
        }
        Action::Start | Action::Resume => matches!(state, S::Starting | S::Resuming | S::Running),
        Action::Terminate => matches!(state, S::Terminating | S::Terminated),
    }
}

async fn insert_transition(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: i64,
    at: DateTime<Utc>,
    state: WorkspaceState,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO transitions (workspace_id, at, state, reason) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(at)
        .bind(state.as_str())
        .bind(reason)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A workspace row to insert, for tests here and in other daemon modules.
    pub(crate) fn new_workspace(name: &str) -> NewWorkspace {
        NewWorkspace {
            name: name.to_string(),
            region: "us-east-1".into(),
            template: "T".into(),
            size: None,
            instance_type: "t3.medium".into(),
            spot: false,
            project: None,
            budget: None,
            root_volume_gb: 20,
            root_volume_type: "gp3".into(),
            hibernation_requested: false,
            launch_token: uuid::Uuid::new_v4().to_string(),
            ttl: None,
            service_secret: "s".into(),
            ssh_user: None,
            services: vec![],
        }
    }

    fn observed(id: &str, state: Ec2State) -> Observed {
        Observed {
            instance_id: id.into(),
            region: "us-east-1".into(),
            state,
            instance_type: "t3.medium".into(),
            public_ip: None,
            private_ip: None,
            launch_time: None,
            tags: BTreeMap::new(),
            hibernation_configured: false,
            spot: false,
            availability_zone: None,
            volume_ids: vec![],
            stopped_by_hibernation: false,
            key_name: None,
        }
    }

    use crate::model::workspace::Ec2State;

    /// Regression: the launch task recorded RunInstances' "pending" after the refresh loop had
    /// already seen the instance running, and the workspace went back to `launching`.
    #[tokio::test]
    async fn an_older_observation_never_undoes_a_newer_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).await.expect("open");
        let row = store
            .insert_launch(&new_workspace("race"), Utc::now())
            .await
            .expect("insert");
        let sent = Utc::now();
        let mut running = observed("i-race", Ec2State::Running);
        running.public_ip = Some("54.1.2.3".into());
        let seen = sent + chrono::Duration::milliseconds(50);
        store
            .apply_observation(row.id, &running, WorkspaceState::Running, seen)
            .await
            .expect("refresh");
        let pending = observed("i-race", Ec2State::Pending);
        store
            .apply_observation(row.id, &pending, WorkspaceState::Launching, sent)
            .await
            .expect("late launch answer");
        let after = store.get(row.id).await.expect("get").expect("row");
        assert_eq!(after.state(), WorkspaceState::Running);
        assert_eq!(after.public_ip.as_deref(), Some("54.1.2.3"));
        assert_eq!(after.instance_id.as_deref(), Some("i-race"));
    }

    /// Regression: parallel launches failed with "database is locked" (SQLITE_BUSY_SNAPSHOT)
    /// because read-then-write transactions were deferred.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_read_then_write_transactions_do_not_fail_as_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).await.expect("open");
        let mut ids = Vec::new();
        for i in 0..8 {
            let row = store
                .insert_launch(&new_workspace(&format!("w{i}")), Utc::now())
                .await
                .expect("insert");
            ids.push(row.id);
        }
        let mut tasks = Vec::new();
        for (i, id) in ids.into_iter().enumerate() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for round in 0..20 {
                    let state = if round % 2 == 0 {
                        Ec2State::Running
                    } else {
                        Ec2State::Stopped
                    };
                    let derived = if round % 2 == 0 {
                        WorkspaceState::Running
                    } else {
                        WorkspaceState::Stopped
                    };
                    store
                        .apply_observation(
                            id,
                            &observed(&format!("i-{i}"), state),
                            derived,
                            Utc::now(),
                        )
                        .await?;
                    store
                        .record_action(id, Action::Start, WorkspaceState::Starting, Utc::now())
                        .await?;
                }
                Ok::<_, StoreError>(())
            }));
        }
        for task in tasks {
            task.await
                .expect("task")
                .expect("no database-locked errors");
        }
    }

    #[tokio::test]
    async fn transition_commits_notify_and_records_know_their_predecessor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).await.expect("open");
        let mut changes = store.changes();
        let row = store
            .insert_launch(&new_workspace("box"), Utc::now())
            .await
            .expect("insert");
        assert!(changes.has_changed().expect("open"), "a launch notifies");
        changes.borrow_and_update();
        store.set_progress(row.id, 50).await.expect("progress");
        assert!(
            !changes.has_changed().expect("open"),
            "no transition, no notice"
        );
        store
            .record_action(row.id, Action::Stop, WorkspaceState::Stopping, Utc::now())
            .await
            .expect("record");
        assert!(changes.has_changed().expect("open"));

        let all = store.transitions_after(0, 10).await.expect("read");
        let states: Vec<(&str, Option<&str>)> = all
            .iter()
            .map(|r| (r.state.as_str(), r.previous_state.as_deref()))
            .collect();
        assert_eq!(
            states,
            [("launching", None), ("stopping", Some("launching"))]
        );
        assert_eq!(all[1].name, "box");
        assert_eq!(all[1].reason, "stop request");
        // Reading from the middle still finds the predecessor.
        let newer = store.transitions_after(all[0].id, 10).await.expect("read");
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0].previous_state.as_deref(), Some("launching"));
        assert_eq!(store.newest_transition_id().await.expect("max"), all[1].id);
    }

    #[tokio::test]
    async fn workspaces_that_ended_long_ago_are_found_by_their_window() {
        use chrono::TimeZone as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).await.expect("open");
        let launched = Utc
            .with_ymd_and_hms(2026, 6, 10, 8, 0, 0)
            .single()
            .expect("valid");
        let old = store
            .insert_launch(&new_workspace("old"), launched)
            .await
            .expect("insert");
        let ended = launched + chrono::Duration::hours(2);
        store
            .end_launch(old.id, WorkspaceState::Terminated, "test", ended)
            .await
            .expect("end");
        let now = Utc::now();
        store
            .insert_launch(&new_workspace("new"), now)
            .await
            .expect("insert");

        let names =
            |rows: Vec<WorkspaceRow>| -> Vec<String> { rows.into_iter().map(|r| r.name).collect() };
        let june = Utc
            .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
            .single()
            .expect("valid");
        let july = Utc
            .with_ymd_and_hms(2026, 7, 1, 0, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(
            names(store.existed_between(june, july).await.expect("query")),
            ["old"]
        );
        // Instants compare as instants, fractions of a second included.
        let just_after = ended + chrono::Duration::milliseconds(500);
        let just_before = ended - chrono::Duration::milliseconds(1);
        assert!(
            store
                .existed_between(just_after, july)
                .await
                .expect("query")
                .is_empty()
        );
        assert_eq!(
            names(
                store
                    .existed_between(just_before, july)
                    .await
                    .expect("query")
            ),
            ["old"]
        );
        let minute = chrono::Duration::minutes(1);
        assert_eq!(
            names(
                store
                    .existed_between(now - minute, now + minute)
                    .await
                    .expect("query")
            ),
            ["new"]
        );
    }

    #[tokio::test]
    async fn a_live_name_is_unique_but_an_ended_one_is_free() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).await.expect("open");
        let first = store
            .insert_launch(&new_workspace("box"), Utc::now())
            .await
            .expect("insert");
        assert!(matches!(
            store.insert_launch(&new_workspace("box"), Utc::now()).await,
            Err(StoreError::NameTaken(_))
        ));
        store
            .end_launch(first.id, WorkspaceState::Failed, "test", Utc::now())
            .await
            .expect("fail");
        store
            .insert_launch(&new_workspace("box"), Utc::now())
            .await
            .expect("name free again");
    }
}
