//! `prism tui`: the terminal dashboard a researcher drives over SSH.
//!
//! One event loop ([`run`]) waits on three things at once — terminal input, answers from the
//! daemon, and a clock tick — and hands each to [`app::App::update`], which decides everything
//! and returns the calls to make. The calls run as tasks ([`worker`]) with timeouts shorter
//! than the poll interval, so a slow or dead daemon never stops the keys from answering. The
//! dashboard only ever talks to the daemon through [`crate::client`]; it logs to a file, never
//! to the terminal it draws on.

pub mod action;
pub mod app;
pub mod command;
pub mod config;
pub mod data;
pub mod keymap;
pub mod popups;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod widgets;
pub mod worker;

#[cfg(test)]
mod snapshots;

use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::{Event, EventStream};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::paths::Dirs;
use app::{App, Msg, Settings};
use data::Data;
use keymap::Keymap;
use theme::{ColorMode, Theme};

/// How often the clock ticks: the header's age and the poll schedule move on with it.
const TICK: Duration = Duration::from_millis(500);

/// What the command line can set.
#[derive(Clone, Debug, Default)]
pub struct TuiOptions {
    pub daemon_url: Option<String>,
    pub refresh_secs: Option<u64>,
    pub keymap: Option<String>,
    pub readonly: bool,
}

/// The request timeout for a poll interval: well inside it, so polls never pile up, and short
/// enough that a hung daemon shows as unreachable within seconds of the poll that found it.
pub fn request_timeout(refresh: Duration) -> Duration {
    (refresh / 2).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// How a session ended, for the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The user quit.
    Quit,
    /// A signal ended it (its number): the shell convention is to exit with 128 + it.
    Signal(i32),
}

/// Runs the dashboard until the user quits or a signal ends it.
pub async fn run(options: TuiOptions) -> anyhow::Result<Ending> {
    let dirs = Dirs::discover().map_err(anyhow::Error::msg)?;
    let mut config =
        config::TuiConfig::load(&dirs.config.join("tui.toml")).map_err(anyhow::Error::msg)?;
    if let Some(secs) = options.refresh_secs {
        config.refresh_secs = secs;
    }
    if let Some(keymap) = &options.keymap {
        config.keymap = keymap.clone();
    }
    if let Ok(filter) = std::env::var("PRISM_LOG") {
        config.log = filter;
    }
    config.check().map_err(anyhow::Error::msg)?;
    let _log_guard = crate::logging::init(&config.log, &dirs.data.join("logs"), "tui", false)?;

    let (keymap, keymap_warning) = Keymap::load(&config.keymap, &dirs.config.join("keymap.toml"));
    if let Some(warning) = &keymap_warning {
        tracing::warn!(%warning, "keymap not used");
    }
    let refresh = Duration::from_secs(config.refresh_secs);
    let finder = worker::Finder::new(options.daemon_url.clone(), request_timeout(refresh))
        .context("cannot set up the daemon client")?;
    let settings = Settings {
        refresh_every: chrono::Duration::from_std(refresh).unwrap_or(chrono::Duration::seconds(30)),
        readonly: options.readonly,
    };
    let url = finder.client().url().trim_end_matches('/').to_string();
    let mut app = App::new(Data::new(&url), keymap, settings, Utc::now());
    if let Some(warning) = keymap_warning {
        app.error(warning);
    }
    let theme = Theme::new(ColorMode::detect());
    tracing::info!(%url, refresh_secs = config.refresh_secs, readonly = options.readonly, "dashboard starting");

    let mut session = terminal::Session::enter()?;
    let result = event_loop(&mut session, &mut app, &theme, &finder).await;
    drop(session);
    tracing::info!("dashboard closed");
    result
}

async fn event_loop(
    session: &mut terminal::Session,
    app: &mut App,
    theme: &Theme,
    finder: &worker::Finder,
) -> anyhow::Result<Ending> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let stop = CancellationToken::new();
    tokio::spawn(worker::stream_events(
        finder.clone(),
        tx.clone(),
        stop.clone(),
    ));
    let _stop_stream = stop.drop_guard();

    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut signals = Signals::new()?;

    loop {
        session
            .terminal
            .draw(|frame| ui::draw(frame, app, theme))
            .context("cannot draw")?;
        let msg = tokio::select! {
            event = input.next() => match event {
                Some(Ok(Event::Key(key))) => Some(Msg::Key(key)),
                Some(Ok(Event::Paste(text))) => Some(Msg::Paste(text)),
                // A resize just needs the redraw at the top of the loop.
                Some(Ok(_)) => None,
                Some(Err(error)) => return Err(error).context("cannot read the terminal"),
                None => return Ok(Ending::Quit),
            },
            Some(msg) = rx.recv() => Some(msg),
            _ = tick.tick() => Some(Msg::Tick(Utc::now())),
            (name, number) = signals.next() => {
                tracing::info!(signal = name, "signal received; leaving");
                return Ok(Ending::Signal(number));
            }
        };
        if let Some(msg) = msg {
            for effect in app.update(msg) {
                worker::spawn(effect, finder, &tx);
            }
        }
        if app.panic_requested {
            panic!("panic requested with :debug-panic (checking that the terminal is restored)");
        }
        if app.quit {
            return Ok(Ending::Quit);
        }
    }
}

/// The signals that end a session: SIGTERM, SIGHUP (the SSH connection dropped) and SIGINT
/// (raw mode turns Ctrl-C into a key, so this is only a `kill -INT`).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            hup: signal(SignalKind::hangup()).context("cannot watch SIGHUP")?,
            int: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> anyhow::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.term.recv() => ("SIGTERM", 15),
            _ = self.hup.recv() => ("SIGHUP", 1),
            _ = self.int.recv() => ("SIGINT", 2),
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> (&'static str, i32) {
        let _ = tokio::signal::ctrl_c().await;
        ("Ctrl-C", 2)
    }
}
