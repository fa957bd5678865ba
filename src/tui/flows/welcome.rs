//! The first-run welcome (seed final-vision §2.1, §13): typography only, the product name in `primary`, the
//! tagline in `muted`; the personal mesh is created while it shows, then "You're in." and the handoff. Zero
//! keystrokes. Also the pieces every flow screen shares: the page inset, the progress lines, and the blank
//! screen under an overlay at a flow's end.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};

use super::{FlowState, Work};
use crate::tui::action::Action;
use crate::tui::look::Look;
use crate::tui::screen::Screen;
use crate::tui::state::AppState;
use crate::tui::theme::{Icon, Role};

pub(crate) struct Welcome;

impl Screen for Welcome {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let flow = &state.flow;
        let mut lines = header(look);
        match &flow.work {
            Work::Running => lines.push(Line::styled(look.t("tui-welcome-creating"), look.style(Role::Muted))),
            Work::Failed(_) | Work::Idle => {}
        }
        if flow.ready {
            let mesh = flow.new_name.clone().or_else(|| flow.mesh.clone()).unwrap_or_default();
            lines.push(done_line(look, look.t_args("tui-welcome-ready", &[("mesh", mesh.into())])));
        }
        lines.extend(closing(look, flow));
        render_page(frame, area, lines);
    }

    fn on_key(&self, _: &AppState, key: KeyEvent) -> Option<Action> {
        quit_key(key)
    }
}

/// The product name in `primary`, the tagline in `muted`, a blank line.
pub(super) fn header(look: &Look) -> Vec<Line<'static>> {
    vec![
        Line::styled("claudemesh", look.style(Role::Primary)),
        Line::styled(look.t("help-tagline"), look.style(Role::Muted)),
        Line::default(),
    ]
}

/// `✔ text` in `success`.
pub(super) fn done_line(look: &Look, text: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(look.icon(Icon::Ok), look.style(Role::Success)),
        Span::raw(" "),
        Span::styled(text, look.style(Role::Success)),
    ])
}

/// The end of a flow screen: "You're in." and "Opening Claude Code…" once ready, or the failure and how to leave.
pub(super) fn closing(look: &Look, flow: &FlowState) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if flow.ready {
        lines.push(Line::default());
        lines.push(Line::styled(look.t("tui-youre-in"), look.style(Role::Primary)));
        lines.push(Line::default());
        lines.push(Line::styled(look.t("tui-opening-claude"), look.style(Role::Muted)));
    }
    if let Work::Failed(text) = &flow.work {
        lines.extend(failure(look, text));
    }
    lines
}

/// `✘ text` in `error`, then how to leave.
pub(super) fn failure(look: &Look, text: &str) -> Vec<Line<'static>> {
    vec![
        Line::from(vec![
            Span::styled(look.icon(Icon::Fail), look.style(Role::Error)),
            Span::raw(" "),
            Span::styled(text.to_string(), look.style(Role::Error)),
        ]),
        Line::default(),
        Line::styled(look.t("tui-quit-hint"), look.style(Role::Dim)),
    ]
}

/// A key hint line in `dim`.
pub(super) fn keys_line(look: &Look, id: &str) -> Line<'static> {
    Line::styled(look.t(id), look.style(Role::Dim))
}

/// The page: two columns in, one row down, wrapped.
pub(super) fn page(area: Rect) -> Rect {
    Rect {
        x: area.x.saturating_add(2),
        y: area.y.saturating_add(1),
        width: area.width.saturating_sub(4),
        height: area.height.saturating_sub(1),
    }
}

pub(super) fn render_page(frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>) {
    frame.render_widget(Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false }), page(area));
}

/// `q` or Esc quits (a flow screen without text input).
pub(super) fn quit_key(key: KeyEvent) -> Option<Action> {
    matches!(key.code, KeyCode::Char('q') | KeyCode::Esc).then_some(Action::Quit)
}

/// What stays under an overlay when a flow has ended (the handoff and done steps are never drawn otherwise).
pub(crate) struct Blank;

impl Screen for Blank {
    fn render(&self, _: &AppState, _: &mut Frame, _: Rect) {}

    fn on_key(&self, _: &AppState, key: KeyEvent) -> Option<Action> {
        quit_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testing::assert_screen_snapshots;

    fn with(flow: FlowState) -> impl Fn(Look) -> AppState {
        move |look| {
            let mut s = AppState::new(look);
            s.flow = flow.clone();
            s
        }
    }

    #[test]
    fn welcome_while_creating_renders_in_every_variant() {
        assert_screen_snapshots("welcome", with(FlowState::first_run("alice-laptop")), &Welcome);
    }

    #[test]
    fn welcome_youre_in_renders_in_every_variant() {
        let mut flow = FlowState::first_run("alice-laptop");
        super::super::update(&mut flow, super::super::FlowAction::MeshReady("alice-laptop".into()));
        assert_screen_snapshots("welcome-ready", with(flow), &Welcome);
    }

    #[test]
    fn welcome_failure_renders_in_every_variant() {
        let mut flow = FlowState::first_run("alice-laptop");
        let text = "No broker given, and the zero-setup local broker is not available yet.".to_string();
        super::super::update(&mut flow, super::super::FlowAction::Failed(text));
        assert_screen_snapshots("welcome-failed", with(flow), &Welcome);
    }
}
