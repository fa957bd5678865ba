//! The dashboard (`claudemesh dash`): its state, its actions, how daemon events change it, and its screen.
//! Owned by the dashboard work; this is the placeholder it starts from (header and a plain peer list).

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::Paragraph;
use serde_json::Value;

use super::action::Action;
use super::event::DaemonEvent;
use super::overlay::Overlay;
use super::screen::Screen;
use super::state::{AppState, LinkState};
use super::theme::{Icon, Role};

/// What the dashboard shows. Rows stay as the daemon's JSON until the dashboard work types them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DashState {
    /// The mesh shown (slug).
    pub mesh: Option<String>,
    /// Our own peer id (session key) in that mesh.
    pub me: Option<String>,
    /// The roster, as `peer.list` returns it.
    pub peers: Vec<Value>,
    /// The message stream, oldest first, as `inbox.message` carries them.
    pub messages: Vec<Value>,
    /// Index of the selected peer.
    pub selected: usize,
}

/// Dashboard actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DashAction {
    SelectNext,
    SelectPrev,
}

/// Applies a dashboard action; true when the state changed.
pub(crate) fn update(state: &mut DashState, action: DashAction) -> bool {
    let before = state.selected;
    let last = state.peers.len().saturating_sub(1);
    state.selected = match action {
        DashAction::SelectNext => (state.selected + 1).min(last),
        DashAction::SelectPrev => state.selected.saturating_sub(1),
    };
    state.selected != before
}

/// Applies what the daemon reported; true when the state changed.
pub(crate) fn apply(state: &mut DashState, event: &DaemonEvent) -> bool {
    match event {
        DaemonEvent::Connected { mesh } => {
            let changed = state.mesh.as_deref() != Some(mesh.as_str());
            state.mesh = Some(mesh.clone());
            changed
        }
        DaemonEvent::Roster { me, peers } => {
            state.me = Some(me.clone());
            state.peers = peers.clone();
            state.selected = state.selected.min(state.peers.len().saturating_sub(1));
            true
        }
        DaemonEvent::Message(m) => {
            state.messages.push(m.clone());
            true
        }
        // The placeholder does not merge single peer changes or receipts yet; the roster is re-read on reconnect.
        DaemonEvent::PeerChanged { .. }
        | DaemonEvent::Receipt(_)
        | DaemonEvent::BrokerLink { .. }
        | DaemonEvent::Disconnected { .. } => false,
    }
}

pub(crate) struct Dashboard;

impl Screen for Dashboard {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let dash = &state.dash;
        let link = match state.link {
            LinkState::Up => Span::styled(look.icon(Icon::On), look.style(Role::Success)),
            LinkState::Connecting | LinkState::Down => Span::styled(look.icon(Icon::Off), look.style(Role::Muted)),
        };
        let mesh = dash.mesh.clone().unwrap_or_default();
        let mut lines = vec![
            Line::from(vec![
                link,
                Span::raw(" "),
                Span::styled(format!("{} {mesh}", look.icon(Icon::Mesh)), look.style(Role::Primary)),
                Span::styled(
                    format!("  {}", look.t_args("tui-dash-peers", &[("count", dash.peers.len().into())])),
                    look.style(Role::Muted),
                ),
            ]),
            Line::default(),
        ];
        for (i, peer) in dash.peers.iter().enumerate() {
            let name = peer.get("name").and_then(Value::as_str).unwrap_or_default();
            let online = peer.get("online").and_then(Value::as_bool).unwrap_or(false);
            let (icon, role) = if online { (Icon::On, Role::Success) } else { (Icon::Off, Role::Muted) };
            let marker = if i == dash.selected { look.icon(Icon::Next) } else { " " };
            lines.push(Line::from(vec![
                Span::styled(marker, look.style(Role::Primary)),
                Span::raw(" "),
                Span::styled(look.icon(icon), look.style(role)),
                Span::raw(format!(" {name}")),
            ]));
        }
        lines.push(Line::default());
        lines.push(Line::styled(look.t("tui-dash-keys"), look.style(Role::Dim)));
        frame.render_widget(Paragraph::new(Text::from(lines)), area);
    }

    fn on_key(&self, _: &AppState, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Char('q') => Some(Action::Quit),
            KeyCode::Char('?') => Some(Action::PushOverlay(Overlay::Help)),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::Dash(DashAction::SelectNext)),
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Dash(DashAction::SelectPrev)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tui::app::App;
    use crate::tui::flows::FlowState;
    use crate::tui::router::FlowId;
    use crate::tui::testing::assert_app_snapshots;

    fn app(look: crate::tui::look::Look) -> App {
        let mut app = App::new(FlowId::Dash, look, FlowState::default());
        let roster = DaemonEvent::Roster {
            me: "k1".into(),
            peers: vec![json!({ "name": "alice", "online": true }), json!({ "name": "bob", "online": false })],
        };
        app.update(Action::Daemon(DaemonEvent::Connected { mesh: "platform-team".into() }));
        app.update(Action::Daemon(roster));
        app.update(Action::Daemon(DaemonEvent::Disconnected { reason: "closed".into() }));
        app
    }

    #[test]
    fn placeholder_dashboard_under_the_disconnected_overlay() {
        assert_app_snapshots("dash-disconnected", app);
    }
}
