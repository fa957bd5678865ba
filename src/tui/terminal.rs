//! The only code that touches terminal modes: enters the full-screen TUI (raw mode, alternate screen, bracketed
//! paste, hidden cursor, optional mouse) and restores it — on drop, on panic (a hook that restores before the
//! message prints), after SIGTERM/SIGINT (the event loop ends and the guard drops) and on handoff, where it
//! restores, flushes and then execs `claude`.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture};
use ratatui::crossterm::style::{Attribute, ResetColor, SetAttribute};
use ratatui::crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::crossterm::{execute, queue};

use crate::claude::{ClaudeError, LaunchPlan};

/// Whether the terminal is in our modes now (so a second restore, or one without an enter, writes nothing).
static ENTERED: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// How to enter.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Capture the mouse (the dashboard's optional clicks and scrolling).
    pub mouse: bool,
}

/// The entered terminal; restores it when dropped.
pub(crate) struct Tui {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Drop for Tui {
    fn drop(&mut self) {
        if let Err(e) = restore() {
            tracing::warn!(error = %e, "cannot restore the terminal");
        }
    }
}

/// Enters the full-screen modes on stdout. On failure whatever was entered is restored again.
pub(crate) fn enter(options: Options) -> io::Result<Tui> {
    install_panic_hook();
    ENTERED.store(true, Ordering::SeqCst);
    let entered = (|| {
        enable_raw_mode()?;
        let mut out = io::stdout();
        execute!(out, EnterAlternateScreen, EnableBracketedPaste, Hide)?;
        if options.mouse {
            execute!(out, EnableMouseCapture)?;
        }
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        Ok(Tui { terminal })
    })();
    if entered.is_err() {
        let _ = restore();
    }
    entered
}

/// Leaves every mode `enter` set (and resets SGR) and flushes; does nothing when the terminal is not entered.
pub(crate) fn restore() -> io::Result<()> {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut out = io::stdout();
    let written = write_restore(&mut out);
    // Raw mode goes last and even when writing failed: a cooked terminal matters more than a clean screen.
    let raw = disable_raw_mode();
    written.and(raw)
}

/// The escape sequences of a restore: mouse and bracketed paste off, alternate screen left, cursor shown, SGR
/// reset. Separate from `restore` so a test can check the bytes.
fn write_restore(out: &mut impl Write) -> io::Result<()> {
    queue!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show,
        SetAttribute(Attribute::Reset),
        ResetColor
    )?;
    out.flush()
}

/// Restores the terminal (when entered), flushes stdout and stderr, then execs `claude`; returns only when the
/// exec failed. `tui` is consumed so nothing draws after the restore.
pub(crate) fn handoff(tui: Option<Tui>, plan: LaunchPlan) -> ClaudeError {
    drop(tui);
    if let Err(e) = restore() {
        tracing::warn!(error = %e, "cannot restore the terminal before starting claude");
    }
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    plan.exec()
}

/// Puts `text` on the clipboard of the terminal the UI runs in (OSC 52; works over SSH and in tmux with
/// `set-clipboard on`). Not a mode: nothing to restore.
pub(crate) fn copy_osc52(text: &str) -> io::Result<()> {
    let mut out = io::stdout();
    out.write_all(osc52(text).as_bytes())?;
    out.flush()
}

fn osc52(text: &str) -> String {
    use base64::Engine;
    format!("\x1b]52;c;{}\x07", base64::engine::general_purpose::STANDARD.encode(text))
}

/// Restores the terminal before the default hook prints the panic, so the message lands on a usable screen.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_leaves_every_mode_and_resets_sgr() {
        let mut bytes = Vec::new();
        write_restore(&mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        for (what, seq) in [
            ("mouse off", "\x1b[?1000l"),
            ("bracketed paste off", "\x1b[?2004l"),
            ("alternate screen left", "\x1b[?1049l"),
            ("cursor shown", "\x1b[?25h"),
            ("SGR reset", "\x1b[0m"),
        ] {
            assert!(text.contains(seq), "{what}: {text:?}");
        }
    }

    #[test]
    fn osc52_carries_the_text_in_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }

    #[test]
    fn restore_without_enter_writes_nothing() {
        assert!(!ENTERED.load(Ordering::SeqCst));
        restore().unwrap();
    }
}
