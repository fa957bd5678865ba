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
use crate::tui::router::FlowId;
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

/// What stays on the normal screen above Claude Code after a flow's handoff (seed §2.1: "You're in." is still
/// there in the scrollback): the flow's done line, "You're in." and "Opening Claude Code…", as on its last
/// frame. Nothing when the flow made nothing ready (the returning user's zero-frame launch, the picker).
pub(crate) fn farewell(look: &Look, flow_id: FlowId, flow: &FlowState) -> Vec<Line<'static>> {
    if !flow.ready {
        return Vec::new();
    }
    let done = match (&flow.invite, flow_id) {
        (Some(card), FlowId::Launch | FlowId::Join) if flow.confirmed => {
            look.t_args("tui-join-done", &[("mesh", card.mesh.as_str().into())])
        }
        (_, FlowId::New) => look.t_args("tui-new-created", &[("slug", flow.mesh.clone().unwrap_or_default().into())]),
        _ => {
            let mesh = flow.new_name.clone().or_else(|| flow.mesh.clone()).unwrap_or_default();
            look.t_args("tui-welcome-ready", &[("mesh", mesh.into())])
        }
    };
    let mut lines = vec![Line::default(), done_line(look, done)];
    lines.extend(closing(look, flow));
    lines.push(Line::default());
    lines
}

/// What stays on the normal screen when a flow ends without a handoff: the invite link it made, if any.
pub(crate) fn parting(look: &Look, flow: &FlowState) -> Vec<Line<'static>> {
    match &flow.invite_url {
        Some(url) => vec![done_line(look, look.t_args("tui-invite-link", &[("url", url.as_str().into())]))],
        None => Vec::new(),
    }
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

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn the_farewell_is_the_flows_closing_lines_and_nothing_before_a_mesh_is_ready() {
        use crate::i18n::Lang;
        use crate::tui::theme::Theme;
        let look = Look { lang: Lang::En, theme: Theme::default() };
        let mut flow = FlowState::first_run("alice-laptop");
        assert!(farewell(&look, FlowId::Launch, &flow).is_empty(), "nothing ready yet");
        super::super::update(&mut flow, super::super::FlowAction::MeshReady("alice-laptop".into()));
        assert_eq!(
            text(&farewell(&look, FlowId::Launch, &flow)),
            ["", "✔ Your mesh \"alice-laptop\" is ready.", "", "You're in.", "", "Opening Claude Code…", ""]
        );
        // Spanish, NO_COLOR and ASCII icons: the same lines through the same look.
        let ascii = Look { lang: Lang::Es, theme: Theme { color: false, unicode: false } };
        let lines = farewell(&ascii, FlowId::Launch, &flow);
        let shown = text(&lines);
        assert!(shown.get(1).is_some_and(|l| l.starts_with("+ ") && l.contains("alice-laptop")), "{shown:?}");
        assert_eq!(shown.get(3).map(String::as_str), Some(ascii.t("tui-youre-in").as_str()));
        assert!(lines.iter().flat_map(|l| &l.spans).all(|s| s.style.fg.is_none()), "colour under NO_COLOR");
        // A join says what was joined; new says what was created.
        let mut join = FlowState::join(
            super::super::InviteCard { mesh: "alice-team".into(), ..super::super::InviteCard::default() },
            None,
        );
        super::super::update(&mut join, super::super::FlowAction::Confirm);
        super::super::update(&mut join, super::super::FlowAction::MeshReady("alice-team".into()));
        assert_eq!(
            text(&farewell(&look, FlowId::Join, &join)).get(1).map(String::as_str),
            Some("✔ Joined \"alice-team\".")
        );
        let mut new = FlowState { input: "Platform team".into(), ..FlowState::default() };
        super::super::update(&mut new, super::super::FlowAction::SubmitName);
        super::super::update(&mut new, super::super::FlowAction::MeshReady("platform-team".into()));
        assert_eq!(
            text(&farewell(&look, FlowId::New, &new)).get(1).map(String::as_str),
            Some("✔ Created \"platform-team\".")
        );
        let zero_frame = FlowState { mesh: Some("team".into()), ..FlowState::default() };
        assert!(farewell(&look, FlowId::Launch, &zero_frame).is_empty(), "the daily launch stays silent");
    }

    #[test]
    fn welcome_failure_renders_in_every_variant() {
        let mut flow = FlowState::first_run("alice-laptop");
        let text = "No broker given, and the zero-setup local broker is not available yet.".to_string();
        super::super::update(&mut flow, super::super::FlowAction::Failed(text));
        assert_screen_snapshots("welcome-failed", with(flow), &Welcome);
    }
}
