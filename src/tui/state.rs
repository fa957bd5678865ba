//! The app state every screen renders from: the look, the flow state, the dashboard state and the daemon link.
//! Screens read it; only `App::update` writes it.

use super::dash::DashState;
use super::flows::FlowState;
use super::look::Look;

/// Whether the live subscription to the daemon is up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum LinkState {
    /// Not connected yet (before the first subscription).
    #[default]
    Connecting,
    Up,
    /// Lost; the event task is reconnecting.
    Down,
}

/// Everything a frame is drawn from.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub look: Look,
    pub flow: FlowState,
    pub dash: DashState,
    pub link: LinkState,
}

impl AppState {
    pub(crate) fn new(look: Look) -> Self {
        Self { look, flow: FlowState::default(), dash: DashState::default(), link: LinkState::default() }
    }
}
