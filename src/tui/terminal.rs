//! Taking over the terminal and giving it back exactly as it was: raw mode, the alternate
//! screen and the cursor are restored on a normal exit, on an error, on a panic, and when a
//! signal (SIGTERM, SIGHUP, SIGINT) ends the session.

use std::io::{IsTerminal as _, stdout};

use anyhow::Context as _;
use crossterm::cursor::Show;
use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste};
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
        // Pasted text arrives as one event, so a pasted newline is never an Enter key.
        execute!(stdout(), EnableBracketedPaste).context("cannot enable bracketed paste")?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = execute!(stdout(), DisableBracketedPaste, DisableMouseCapture, Show);
            previous(info);
        }));
        Ok(Session { terminal })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // During a panic the hook has already restored everything; doing it again would move
        // the cursor back over the panic message (leaving the alternate screen a second time
        // restores the cursor position saved on entry).
        if std::thread::panicking() {
            return;
        }
        let _ = execute!(stdout(), DisableBracketedPaste);
        ratatui::restore();
        let _ = execute!(stdout(), DisableMouseCapture, Show);
    }
}
