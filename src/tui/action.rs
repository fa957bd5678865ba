//! The one `Action` enum: everything that may change the app state. Screens and overlays emit actions; only
//! `App::update` applies them. Flow and dashboard actions live in their own enums so their owners never edit
//! the same file.

use super::dash::DashAction;
use super::event::DaemonEvent;
use super::flows::FlowAction;
use super::overlay::Overlay;

/// A request to change state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Leave the TUI without handing off (Ctrl-C, `q`, SIGTERM).
    Quit,
    /// The terminal changed size: draw again.
    Resize,
    /// A tick of the clock (relative times, auto-dismissed overlays).
    Tick,
    /// Something the daemon reported.
    Daemon(DaemonEvent),
    /// Show an overlay above the current screen.
    PushOverlay(Overlay),
    /// Close the top overlay.
    DismissOverlay,
    /// A step of a guided flow (launch, join, new, invite).
    Flow(FlowAction),
    /// A dashboard action (compose, filter, mesh switch …).
    Dash(DashAction),
}
