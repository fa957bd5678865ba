//! The only code that touches terminal modes: enters the full-screen TUI (raw mode, alternate screen, bracketed
//! paste, hidden cursor, optional mouse) and restores it — on drop, on panic (a hook that restores before the
//! message prints), after SIGTERM/SIGINT (the event loop ends and the guard drops) and on handoff, where it
//! restores, prints the flow's closing lines on the normal screen (handed in as data), flushes and then execs
//! `claude`.

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
use ratatui::text::Line;

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

/// Restores the terminal (when entered), prints `farewell` on the normal screen (the flow's closing lines, which
/// the alternate screen would otherwise take with it: they stay in the scrollback above Claude Code), flushes
/// stdout and stderr, then execs `claude`; returns only when the exec failed. `tui` is consumed so nothing draws
/// after the restore.
pub(crate) fn handoff(tui: Option<Tui>, farewell: &[Line<'_>], plan: LaunchPlan) -> ClaudeError {
    drop(tui);
    if let Err(e) = restore() {
        tracing::warn!(error = %e, "cannot restore the terminal before starting claude");
    }
    if let Err(e) = write_lines(&mut io::stdout(), farewell) {
        tracing::debug!(error = %e, "cannot print the closing lines before starting claude");
    }
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    plan.exec()
}

/// Restores the terminal (when entered) and prints `lines` on the normal screen, so what the person needs after the
/// UI closes (an invite link) stays in the scrollback.
pub(crate) fn leave(tui: Option<Tui>, lines: &[Line<'_>]) -> io::Result<()> {
    drop(tui);
    restore()?;
    write_lines(&mut io::stdout(), lines)
}

/// Styled lines for the normal (cooked) screen: each span in its style (the theme already left out colour under
/// `NO_COLOR`), SGR reset after it, one line each.
fn write_lines(out: &mut impl Write, lines: &[Line<'_>]) -> io::Result<()> {
    use ratatui::backend::IntoCrossterm;
    use ratatui::crossterm::style::{Print, SetStyle};
    for line in lines {
        for span in &line.spans {
            let style = line.style.patch(span.style);
            if style == ratatui::style::Style::default() {
                queue!(out, Print(span.content.as_ref()))?;
            } else {
                queue!(
                    out,
                    SetStyle(style.into_crossterm()),
                    Print(span.content.as_ref()),
                    SetAttribute(Attribute::Reset)
                )?;
            }
        }
        queue!(out, Print("\r\n"))?;
    }
    out.flush()
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
    fn the_farewell_is_printed_styled_line_by_line_and_without_colour_under_no_color() {
        use crate::tui::theme::Role;
        use ratatui::style::{Color, Modifier, Style};
        use ratatui::text::Span;
        let lines = |ok: Style, strong: Style| {
            vec![
                Line::from(vec![Span::styled("✔", ok), Span::raw(" "), Span::styled("ready.", ok)]),
                Line::default(),
                Line::styled("You're in.", strong),
            ]
        };
        let mut bytes = Vec::new();
        let colour = lines(Style::new().fg(Color::Green), Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD));
        write_lines(&mut bytes, &colour).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "\x1b[38;5;2m✔\x1b[0m \x1b[38;5;2mready.\x1b[0m\r\n\r\n\x1b[38;5;6m\x1b[1mYou're in.\x1b[0m\r\n"
        );

        // NO_COLOR: the theme's roles keep bold and drop colour, so no colour sequence is written.
        let no_color = crate::tui::theme::Theme::detect(true, false, None);
        let (ok, strong) = (no_color.style(Role::Success), no_color.style(Role::Primary));
        let mut bytes = Vec::new();
        write_lines(&mut bytes, &lines(ok, strong)).unwrap();
        let plain = String::from_utf8(bytes).unwrap();
        assert_eq!(plain, "\x1b[1m✔\x1b[0m \x1b[1mready.\x1b[0m\r\n\r\n\x1b[1mYou're in.\x1b[0m\r\n");
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
