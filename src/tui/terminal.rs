//! Taking over the terminal and giving it back exactly as it was: raw mode, the alternate
//! screen and the cursor are restored on a normal exit, on an error, on a panic, and when a
//! signal (SIGTERM, SIGHUP, SIGINT) ends the session.

use std::io::{IsTerminal as _, stdout};

use anyhow::Context as _;
use crossterm::cursor::Show;
use crossterm::event::DisableMouseCapture;
use crossterm::execute;
use ratatui::DefaultTerminal;

/// Restores the terminal when dropped, however the session ends.
#[derive(Debug)]
pub struct Session {
    pub terminal: DefaultTerminal,
}

impl Session {
    /// Enters raw mode and the alternate screen. ratatui's own panic hook restores both; the
    /// hook added here also brings the cursor back before the panic message is printed.
    pub fn enter() -> anyhow::Result<Session> {
        if !stdout().is_terminal() {
            anyhow::bail!(
                "prism tui needs a terminal; for scripts use the CLI (`prism workspace list`)"
            );
        }
        let terminal = ratatui::try_init().context("cannot take over the terminal")?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(stdout(), DisableMouseCapture, Show);
            previous(info);
        }));
        Ok(Session { terminal })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        ratatui::restore();
        let _ = execute!(stdout(), DisableMouseCapture, Show);
    }
}
