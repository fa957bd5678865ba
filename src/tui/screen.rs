//! The `Screen` seam: a screen renders from the state and turns keys into actions, nothing else (no I/O). `screen_for`
//! maps each `ScreenId` to its implementation; unbuilt screens show a placeholder.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Text};
use ratatui::widgets::Paragraph;

use super::action::Action;
use super::router::ScreenId;
use super::state::AppState;
use super::theme::{Icon, Role};
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
        ScreenId::MeshPicker
        | ScreenId::JoinConfirm
        | ScreenId::NewName
        | ScreenId::InviteOptions
        | ScreenId::InviteUrl
        | ScreenId::Handoff
        | ScreenId::Done => &Placeholder,
    }
}

/// Stands in for a screen not built yet: says so, and `q` quits.
struct Placeholder;

impl Screen for Placeholder {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let text = Text::from(vec![
            Line::styled(format!("{} {}", look.icon(Icon::Warn), look.t("tui-placeholder")), look.style(Role::Warning)),
            Line::styled(look.t("tui-quit-hint"), look.style(Role::Muted)),
        ]);
        frame.render_widget(Paragraph::new(text), area);
    }

    fn on_key(&self, _: &AppState, key: KeyEvent) -> Option<Action> {
        matches!(key.code, KeyCode::Char('q') | KeyCode::Esc).then_some(Action::Quit)
    }
}
