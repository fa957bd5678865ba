//! The `Screen` seam: a screen renders from the state and turns keys into actions, nothing else (no I/O). `screen_for`
//! maps each `ScreenId` to its implementation.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::action::Action;
use super::router::ScreenId;
use super::state::AppState;
use super::{dash, flows};

/// A full screen.
pub(crate) trait Screen {
    /// Draws the screen into `area` from `state`.
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect);
    /// The action a key asks for, if any (Ctrl-C is handled by the app for every screen).
    fn on_key(&self, state: &AppState, key: KeyEvent) -> Option<Action>;
}

/// The implementation of `id`.
pub(crate) fn screen_for(id: ScreenId) -> &'static dyn Screen {
    match id {
        ScreenId::Welcome => &flows::welcome::Welcome,
        ScreenId::Dashboard => &dash::Dashboard,
        ScreenId::MeshPicker => &flows::picker::MeshPicker,
        ScreenId::JoinConfirm => &flows::join::JoinConfirm,
        ScreenId::NewName => &flows::new_mesh::NewName,
        ScreenId::InviteOptions => &flows::invite::InviteOptions,
        ScreenId::InviteUrl => &flows::invite::InviteUrl,
        ScreenId::Handoff | ScreenId::Done => &flows::welcome::Blank,
    }
}
