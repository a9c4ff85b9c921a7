//! The event hub: turns recorded state transitions into [`DaemonEvent`]s for the event stream.
//!
//! The `transitions` table is the outbox. Every write that records a transition tells the
//! store's change notice after it commits; the hub wakes on that notice (or on a slow timer, in
//! case a notice is ever missed), reads the transitions after the last one it published, and
//! broadcasts one `instance_state_changed` per transition to every connected client. Nothing
//! that changes state has to know that clients exist, and an event is never sent for a change
//! that was rolled back.

use std::str::FromStr;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::store::{Store, StoreError, TransitionRecord};
use crate::model::api::{DaemonEvent, StateChangedEvent};
use crate::model::workspace::WorkspaceState;

/// Events kept for a client that reads slowly; one that falls further behind gets `resync`.
pub const BUFFER: usize = 256;

/// How often the hub looks for transitions when no notice wakes it.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(5);

/// Transitions read per query.
const BATCH: i64 = 500;

/// The sending side of the event stream, held in the daemon's shared state.
pub fn channel() -> broadcast::Sender<DaemonEvent> {
    broadcast::channel(BUFFER).0
}

/// Publishes transitions as events, from the first one recorded after it was created.
#[derive(Debug)]
pub struct Hub {
    store: Store,
    events: broadcast::Sender<DaemonEvent>,
    /// The id of the last transition published.
    cursor: i64,
}

impl Hub {
    /// A hub that starts after the newest transition already recorded: clients learn what
    /// exists from the list, not from a replay of history.
    pub async fn start(
        store: Store,
        events: broadcast::Sender<DaemonEvent>,
    ) -> Result<Hub, StoreError> {
        let cursor = store.newest_transition_id().await?;
        Ok(Hub {
            store,
            events,
            cursor,
        })
    }

    /// Publishes until `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut changes = self.store.changes();
        loop {
            self.publish_new().await;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = changes.changed() => {
                    if changed.is_err() {
                        // The store is gone, and with it the notices: only the timer is left.
                        tokio::time::sleep(FALLBACK_INTERVAL).await;
                    }
                }
                _ = tokio::time::sleep(FALLBACK_INTERVAL) => {}
            }
        }
    }

    /// Sends every transition recorded since the last call; returns how many were read.
    pub async fn publish_new(&mut self) -> usize {
        let mut read = 0;
        loop {
            let batch = match self.store.transitions_after(self.cursor, BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    // The cursor stays put, so the next wake-up tries the same rows again.
                    tracing::warn!(%error, "cannot read new transitions for the event stream");
                    return read;
                }
            };
            read += batch.len();
            for record in &batch {
                if let Some(event) = event_for(record) {
                    // An error only means that no client is connected right now.
                    let _ = self.events.send(event);
                }
                self.cursor = record.id;
            }
            if batch.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                return read;
            }
        }
    }
}

/// The event for one transition; `None` for a state this version cannot name.
fn event_for(record: &TransitionRecord) -> Option<DaemonEvent> {
    let Ok(new_state) = WorkspaceState::from_str(&record.state) else {
        tracing::warn!(state = %record.state, id = record.id, "transition with an unknown state");
        return None;
    };
    Some(DaemonEvent::InstanceStateChanged(StateChangedEvent {
        name: record.name.clone(),
        instance_id: record.instance_id.clone(),
        previous_state: record
            .previous_state
            .as_deref()
            .and_then(|s| WorkspaceState::from_str(s).ok()),
        new_state,
        reason: record.reason.clone(),
        timestamp: record.at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::store::tests::new_workspace;
    use crate::model::workspace::Action;
    use chrono::Utc;

    async fn next_change(events: &mut broadcast::Receiver<DaemonEvent>) -> StateChangedEvent {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("an event within 5 s")
            .expect("channel open");
        match event {
            DaemonEvent::InstanceStateChanged(change) => change,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn committed_transitions_become_events_without_replaying_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).await.expect("open");
        store
            .insert_launch(&new_workspace("before"), Utc::now())
            .await
            .expect("insert");

        let sender = channel();
        let mut events = sender.subscribe();
        let hub = Hub::start(store.clone(), sender).await.expect("hub");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(hub.run(shutdown.clone()));

        let row = store
            .insert_launch(&new_workspace("after"), Utc::now())
            .await
            .expect("insert");
        let launched = next_change(&mut events).await;
        assert_eq!(
            launched.name, "after",
            "history before the hub is not replayed"
        );
        assert_eq!(launched.new_state, WorkspaceState::Launching);
        assert_eq!(launched.previous_state, None);
        assert_eq!(launched.reason, "launch request");

        store
            .record_action(row.id, Action::Stop, WorkspaceState::Stopping, Utc::now())
            .await
            .expect("record");
        let stopping = next_change(&mut events).await;
        assert_eq!(stopping.new_state, WorkspaceState::Stopping);
        assert_eq!(stopping.previous_state, Some(WorkspaceState::Launching));
        assert_eq!(stopping.reason, "stop request");

        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the hub stops on shutdown")
            .expect("no panic");
    }

    #[tokio::test]
    async fn a_backlog_larger_than_a_batch_is_published_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("t.db")).await.expect("open");
        let sender = broadcast::channel(2048).0;
        let mut events = sender.subscribe();
        let mut hub = Hub::start(store.clone(), sender).await.expect("hub");
        let row = store
            .insert_launch(&new_workspace("busy"), Utc::now())
            .await
            .expect("insert");
        for i in 0..BATCH + 20 {
            let (action, state) = if i % 2 == 0 {
                (Action::Stop, WorkspaceState::Stopping)
            } else {
                (Action::Start, WorkspaceState::Starting)
            };
            store
                .record_action(row.id, action, state, Utc::now())
                .await
                .expect("record");
        }
        let expected = usize::try_from(BATCH + 21).expect("small");
        assert_eq!(hub.publish_new().await, expected);
        assert_eq!(hub.publish_new().await, 0, "nothing is published twice");
        let mut previous = None;
        for _ in 0..expected {
            let change = next_change(&mut events).await;
            assert_eq!(change.previous_state, previous);
            previous = Some(change.new_state);
        }
    }
}
