//! The full-screen terminal UI: guided flows and the dashboard over one event loop, and the single handoff into
//! Claude Code. Layout and seams: docs/tui.md. `theme` is a leaf the CLI's text output reuses.

mod action;
mod app;
mod dash;
mod event;
mod flows;
mod look;
mod overlay;
mod router;
mod screen;
mod state;
mod terminal;
pub(crate) mod theme;

#[cfg(test)]
mod testing;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crate::claude::{ClaudeBinary, ClaudeError};
use crate::config::Env;

use app::{App, Outcome};
use event::{DaemonFeed, Events};
pub(crate) use flows::effects::{JoinFailure, read_clipboard};
pub(crate) use flows::{Effects, Expiry, FlowState, InviteCard, InviteRole};
use look::Look;
pub(crate) use router::FlowId;

/// The clock of the loop: relative times and auto-dismissed overlays need no finer grain; idle costs one wake-up
/// a second and no frame.
const TICK: Duration = Duration::from_secs(1);

/// Everything the TUI can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TuiError {
    #[error("stdin and stdout are not both a terminal")]
    NotATerminal,
    #[error("the terminal failed: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Claude(#[from] ClaudeError),
}

/// What to run.
#[derive(Clone)]
pub(crate) struct Start {
    pub flow: FlowId,
    /// What the caller already knows (first run, joined meshes, the mesh from a flag or the cache …).
    pub flow_state: FlowState,
    /// `$CLAUDEMESH_HOME`, for the live daemon subscription; `None` runs without one.
    pub home: Option<PathBuf>,
    /// The mesh the subscription follows (`None`: the daemon's current one).
    pub mesh: Option<String>,
    /// Display name of this session's peer, passed to `claude` on handoff.
    pub name: Option<String>,
    /// Arguments for `claude` on handoff.
    pub claude_args: Vec<String>,
    /// Does the flows' work (create, join, invite); the CLI's verbs behind it.
    pub effects: Option<std::sync::Arc<dyn Effects>>,
    /// Opens on the invite-invalid overlay with this (localized) reason: an invite that failed its local checks.
    pub invite_invalid: Option<String>,
}

impl Start {
    pub(crate) fn new(flow: FlowId) -> Self {
        Self {
            flow,
            flow_state: FlowState::default(),
            home: None,
            mesh: None,
            name: None,
            claude_args: Vec::new(),
            effects: None,
            invite_invalid: None,
        }
    }
}

/// How a run ended when it did not hand off (a handoff never returns, except with the exec's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// The person left.
    Quit,
    /// The flow finished.
    Done,
    /// The flow reached its handoff with no mesh to launch (phase 1: first run cannot create one here yet).
    NoMesh,
}

/// Runs a flow or the dashboard. A flow that starts on its handoff step execs `claude` without drawing a frame.
pub(crate) fn run(env: &Env, start: Start) -> Result<Exit, TuiError> {
    let mut app = App::new(start.flow, Look::current(), start.flow_state.clone());
    if let Some(effects) = &start.effects {
        app = app.with_effects(effects.clone());
    }
    if let Some(reason) = &start.invite_invalid {
        app.update(action::Action::PushOverlay(overlay::Overlay::InviteInvalid { reason: reason.clone() }));
    }
    if let Some(outcome) = app.outcome() {
        return finish(env, &start, &app, None, outcome);
    }
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Err(TuiError::NotATerminal);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let ran = runtime.block_on(async {
        let mut tui = terminal::enter(terminal::Options::default())?;
        let mut events = Events::new();
        events.spawn_input();
        events.spawn_signals();
        events.spawn_ticks(TICK);
        if let Some(home) = &start.home {
            events.spawn_daemon(DaemonFeed { home: home.clone(), mesh: start.mesh.clone(), name: start.name.clone() });
        }
        let outcome = app::run(&mut app, &mut tui.terminal, &mut events).await?;
        Ok::<_, std::io::Error>((tui, outcome))
    });
    // The input reader may sit in a blocking read; do not wait for it.
    runtime.shutdown_background();
    let (tui, outcome) = ran?;
    finish(env, &start, &app, Some(tui), outcome)
}

/// Restores the terminal, or hands it to `claude` with the flow's closing lines left on the normal screen.
fn finish(env: &Env, start: &Start, app: &App, tui: Option<terminal::Tui>, outcome: Outcome) -> Result<Exit, TuiError> {
    match outcome {
        Outcome::Quit | Outcome::Done => {
            let parting = flows::welcome::parting(&app.state.look, &app.state.flow);
            if !parting.is_empty() {
                terminal::leave(tui, &parting)?;
            }
            Ok(if outcome == Outcome::Quit { Exit::Quit } else { Exit::Done })
        }
        Outcome::Handoff { mesh: None } => Ok(Exit::NoMesh),
        Outcome::Handoff { mesh: Some(mesh) } => {
            let plan = ClaudeBinary::find(env)?.plan(env, &mesh, start.name.as_deref(), &start.claude_args);
            let farewell = flows::welcome::farewell(&app.state.look, start.flow, &app.state.flow);
            Err(TuiError::Claude(terminal::handoff(tui, &farewell, plan)))
        }
    }
}
