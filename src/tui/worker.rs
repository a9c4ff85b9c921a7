//! Runs the dashboard's effects off the draw path: each fetch or change is a task that talks
//! to the daemon through [`crate::client`] with a timeout shorter than the poll interval, and
//! sends its answer back on the event loop's channel. A second task keeps the live event
//! stream open, reconnecting with back-off.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::app::{Effect, Fetch, Msg, Mutation, Reply, Stream};
use super::data::FetchError;
use crate::client::{ClientError, DaemonClient};
use crate::paths::{Dirs, read_runtime};

/// How the daemon is found, and found again after it restarts.
#[derive(Clone, Debug)]
pub struct Finder {
    /// `--daemon-url` or `PRISM_DAEMON_URL`: never second-guessed.
    explicit: Option<String>,
    timeout: Duration,
    current: Arc<Mutex<DaemonClient>>,
}

impl Finder {
    pub fn new(explicit: Option<String>, timeout: Duration) -> Result<Finder, ClientError> {
        let client = DaemonClient::discover(explicit.as_deref())?.with_timeout(timeout);
        Ok(Finder {
            explicit,
            timeout,
            current: Arc::new(Mutex::new(client)),
        })
    }

    pub fn client(&self) -> DaemonClient {
        match self.current.lock() {
            Ok(client) => client.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Looks for the daemon again: a restarted daemon may have written a new address to its
    /// runtime file. Without a runtime file (the daemon is down) the last address is kept, so
    /// the banner keeps naming the daemon that went away.
    fn rediscover(&self) {
        if self.explicit.is_some() {
            return;
        }
        let recorded = Dirs::discover()
            .ok()
            .and_then(|dirs| read_runtime(&dirs.runtime_file()));
        if recorded.is_none() {
            return;
        }
        if let Ok(client) = DaemonClient::discover(None)
            && let Ok(mut current) = self.current.lock()
            && current.url() != client.url()
        {
            tracing::info!(url = %client.url(), "the daemon has a new address");
            *current = client.with_timeout(self.timeout);
        }
    }
}

/// Starts the task for one effect.
pub fn spawn(effect: Effect, finder: &Finder, tx: &UnboundedSender<Msg>) {
    let finder = finder.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        let reply = match effect {
            Effect::Fetch(fetch) => run_fetch(fetch, &finder).await,
            Effect::Mutate(mutation) => run_mutation(mutation, &finder.client()).await,
        };
        // The loop may have ended; then nobody needs the answer.
        let _ = tx.send(Msg::reply(reply));
    });
}

async fn run_fetch(fetch: Fetch, finder: &Finder) -> Reply {
    let client = finder.client();
    match fetch {
        Fetch::Poll => {
            let (status, workspaces) = tokio::join!(client.status(), client.workspaces());
            let unreachable = matches!(status, Err(ClientError::Unreachable { .. }));
            if unreachable {
                finder.rediscover();
            }
            Reply::Poll {
                url: client.url().trim_end_matches('/').to_string(),
                status: status.map_err(FetchError::from),
                workspaces: workspaces.map_err(FetchError::from),
            }
        }
        Fetch::Templates => {
            let (list, validation) = tokio::join!(client.templates(), client.validate_templates());
            Reply::Templates(
                list.map_err(FetchError::from),
                validation.map_err(FetchError::from),
            )
        }
        Fetch::TemplateInfo(slug) => {
            let result = client.template_info(&slug).await.map_err(FetchError::from);
            Reply::TemplateInfo(slug, result)
        }
        Fetch::Costs => {
            let (current, history) = tokio::join!(
                client.costs_current(),
                client.cost_history(None, None, None)
            );
            Reply::Costs(
                current.map_err(FetchError::from),
                history.map_err(FetchError::from),
            )
        }
        Fetch::Probe(area) => {
            let result = client.probe(area.path()).await.map_err(FetchError::from);
            Reply::Probe(area, result)
        }
        Fetch::Connect(name) => {
            let result = client.connect_info(&name).await.map_err(FetchError::from);
            Reply::Connect(name, result)
        }
    }
}

async fn run_mutation(mutation: Mutation, client: &DaemonClient) -> Reply {
    let result = match &mutation {
        Mutation::Launch(request) => client.launch(request).await.map(|r| r.message),
        Mutation::Stop(target) => client.stop(target.key()).await.map(|r| r.message),
        Mutation::Start(target) => client.start(target.key()).await.map(|r| r.message),
        Mutation::Resume(target) => client.resume(target.key()).await.map(|r| r.message),
        Mutation::Hibernate(target) => client.hibernate(target.key()).await.map(|r| {
            format!(
                "'{}' {}; saves {}",
                r.name, r.new_state, r.estimated_savings
            )
        }),
        Mutation::Terminate { target, backup } => client
            .terminate(target.key(), *backup)
            .await
            .map(|r| r.message),
        Mutation::Extend { target, hours } => client
            .extend(target.key(), Some(*hours))
            .await
            .map(|()| format!("'{}' extended by {hours} h", target.name)),
    };
    Reply::Mutated(mutation, result.map_err(FetchError::from))
}

/// Keeps the event stream open until `stop` is cancelled, reconnecting after 1 s, then up to
/// every 10 s while the daemon is away.
pub async fn stream_events(finder: Finder, tx: UnboundedSender<Msg>, stop: CancellationToken) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let client = finder.client();
        tokio::select! {
            connected = follow(&client, &tx) => {
                if connected {
                    backoff = Duration::from_secs(1);
                } else {
                    finder.rediscover();
                }
            }
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Follows one connection of the event stream until it ends; true if it connected at all.
async fn follow(client: &DaemonClient, tx: &UnboundedSender<Msg>) -> bool {
    let mut subscription = match client.subscribe().await {
        Ok(subscription) => subscription,
        Err(error) => {
            let _ = tx.send(Msg::Stream(Stream::Lost(error.to_string())));
            return false;
        }
    };
    let _ = tx.send(Msg::Stream(Stream::Connected));
    let reason = loop {
        match subscription.next().await {
            Some(Ok(event)) => {
                if tx.send(Msg::Stream(Stream::Event(event))).is_err() {
                    return true;
                }
            }
            Some(Err(error)) => break error.to_string(),
            None => break "the daemon closed the event stream".to_string(),
        }
    };
    let _ = tx.send(Msg::Stream(Stream::Lost(reason)));
    true
}
