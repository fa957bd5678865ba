//! The flows' effects: what a flow asks the outside world to do (create a mesh, join, create an invite, copy to
//! the clipboard, wait out the closing beat), and the runner that does it off the loop and reports back with an
//! `Event::Action`. The work itself is the CLI's (`Effects`, implemented in `cli/tui_entry.rs` on the same
//! functions as `new`, `join` and `invite`), so there is one way to create, join and invite.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use tokio::sync::mpsc::Sender;

use super::{BEAT, Expiry, FlowAction, InviteRole};
use crate::tui::action::Action;
use crate::tui::event::Event;
use crate::tui::overlay::Overlay;

/// Work a flow asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Create a mesh named `name` (the personal mesh on first run, or the typed name) and make it current.
    CreateMesh { name: String },
    /// Redeem the invite link.
    Join { url: String },
    /// Create an invite to the selected mesh.
    CreateInvite { role: InviteRole, expiry: Expiry },
    /// Put the text on the clipboard (OSC 52, and a clipboard tool when one is installed).
    Copy(String),
    /// Let "You're in." be read, then hand off.
    Beat,
}

/// Why a join failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JoinFailure {
    /// The invite itself is no good (expired, used up, revoked, forged): the invite-invalid overlay.
    Refused(String),
    /// Anything else (network, disk): shown on the screen.
    Other(String),
}

/// The blocking work behind the effects, done by the CLI. Texts are localized and follow the voice rules.
pub(crate) trait Effects: Send + Sync {
    /// Creates the mesh and makes it current; its slug.
    fn create_mesh(&self, name: &str) -> Result<String, String>;
    /// Joins with the invite link; the new mesh's slug.
    fn join(&self, url: &str) -> Result<String, JoinFailure>;
    /// Creates an invite to the selected mesh; its link.
    fn create_invite(&self, role: InviteRole, expiry: Expiry) -> Result<String, String>;
}

/// Starts `effect` and reports its result on `tx`. Blocking work runs on a thread of its own (the CLI's verbs
/// run their own small runtime), the beat on the loop's runtime; neither blocks the loop.
pub(crate) fn run(effect: Effect, effects: Option<Arc<dyn Effects>>, tx: Sender<Event>) {
    let report = |tx: &Sender<Event>, actions: Vec<Action>| {
        for action in actions {
            if tx.blocking_send(Event::Action(action)).is_err() {
                return;
            }
        }
    };
    match effect {
        Effect::Beat => {
            tokio::spawn(async move {
                tokio::time::sleep(BEAT).await;
                let _ = tx.send(Event::Action(Action::Flow(FlowAction::BeatOver))).await;
            });
        }
        Effect::Copy(text) => {
            if let Err(e) = crate::tui::terminal::copy_osc52(&text) {
                tracing::debug!(error = %e, "OSC 52 copy failed");
            }
            std::thread::spawn(move || copy_with_tool(&text));
        }
        Effect::CreateMesh { name } => {
            let Some(effects) = effects else { return no_runner(&tx) };
            std::thread::spawn(move || {
                let action = match effects.create_mesh(&name) {
                    Ok(slug) => FlowAction::MeshReady(slug),
                    Err(text) => FlowAction::Failed(text),
                };
                report(&tx, vec![Action::Flow(action)]);
            });
        }
        Effect::Join { url } => {
            let Some(effects) = effects else { return no_runner(&tx) };
            std::thread::spawn(move || {
                let actions = match effects.join(&url) {
                    Ok(slug) => vec![Action::Flow(FlowAction::MeshReady(slug))],
                    Err(JoinFailure::Refused(reason)) => vec![
                        Action::PushOverlay(Overlay::InviteInvalid { reason }),
                        Action::Flow(FlowAction::InviteRefused),
                    ],
                    Err(JoinFailure::Other(text)) => vec![Action::Flow(FlowAction::Failed(text))],
                };
                report(&tx, actions);
            });
        }
        Effect::CreateInvite { role, expiry } => {
            let Some(effects) = effects else { return no_runner(&tx) };
            std::thread::spawn(move || {
                let action = match effects.create_invite(role, expiry) {
                    Ok(url) => FlowAction::InviteMade(url),
                    Err(text) => FlowAction::Failed(text),
                };
                report(&tx, vec![Action::Flow(action)]);
            });
        }
    }
}

/// A flow that needs work done but was started without a runner (a wiring mistake): say so instead of waiting.
fn no_runner(tx: &Sender<Event>) {
    let _ = tx.try_send(Event::Action(Action::Flow(FlowAction::Failed("no effect runner".into()))));
}

/// The clipboard tools tried after OSC 52, first found wins (each reads the text on stdin).
const COPY_TOOLS: &[(&str, &[&str])] =
    &[("wl-copy", &[]), ("xclip", &["-selection", "clipboard"]), ("xsel", &["-ib"]), ("pbcopy", &[])];

/// The clipboard tools that read the clipboard, same order.
const PASTE_TOOLS: &[(&str, &[&str])] = &[
    ("wl-paste", &["--no-newline"]),
    ("xclip", &["-o", "-selection", "clipboard"]),
    ("xsel", &["-ob"]),
    ("pbpaste", &[]),
];

fn copy_with_tool(text: &str) {
    for (tool, args) in COPY_TOOLS {
        let spawned =
            Command::new(tool).args(*args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        let Ok(mut child) = spawned else { continue };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(text.as_bytes());
        }
        // wl-copy and xclip fork a server that keeps the selection; the foreground process exits.
        if child.wait().is_ok_and(|s| s.success()) {
            return;
        }
    }
}

/// The clipboard's text, read with the first clipboard tool that works (`wl-paste`, `xclip`, `xsel`, `pbpaste`),
/// giving up after `timeout`. `None`: no tool, no text, or too slow. Runs before the terminal is entered.
pub(crate) fn read_clipboard(path: Option<&str>, timeout: std::time::Duration) -> Option<String> {
    for (tool, args) in PASTE_TOOLS {
        let Some(program) = crate::claude::find_on_path(tool, path) else { continue };
        let Ok(mut child) =
            Command::new(program).args(*args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()
        else {
            continue;
        };
        let Some(mut stdout) = child.stdout.take() else { continue };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut text = String::new();
            // An invite link is short; a huge clipboard is not one.
            let read = (&mut stdout).take(64 * 1024).read_to_string(&mut text);
            let _ = tx.send(read.map(|_| text));
        });
        let text = rx.recv_timeout(timeout);
        let _ = child.kill();
        let _ = child.wait();
        if let Ok(Ok(text)) = text {
            let text = text.trim().to_string();
            if !text.is_empty() {
                return Some(text);
            }
        }
    }
    None
}
