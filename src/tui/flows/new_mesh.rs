//! `claudemesh new` without a name (seed final-vision §2.4): one question, the name, with the slug derived and
//! shown as it is typed; Enter creates the mesh, "You're in.", handoff.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::welcome::{closing, done_line, header, keys_line, render_page};
use super::{FlowAction, Work};
use crate::config::slugify;
use crate::tui::action::Action;
use crate::tui::screen::Screen;
use crate::tui::state::AppState;
use crate::tui::theme::{Icon, Role};

pub(crate) struct NewName;

impl Screen for NewName {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let flow = &state.flow;
        let mut lines = header(look);
        let editing = flow.work == Work::Idle && !flow.ready;
        let mut question = vec![Span::raw(look.t("tui-new-question")), Span::raw(" "), Span::raw(flow.input.clone())];
        if editing {
            question.push(Span::styled(look.icon(Icon::Block), look.style(Role::Primary)));
        }
        lines.push(Line::from(question));
        let name = flow.input.trim();
        if !name.is_empty() {
            lines.push(Line::styled(
                look.t_args("tui-new-slug", &[("slug", slugify(name).into())]),
                look.style(Role::Muted),
            ));
        }
        lines.push(Line::default());
        if flow.input_rejected {
            lines.push(Line::from(vec![
                Span::styled(look.icon(Icon::Warn), look.style(Role::Warning)),
                Span::raw(" "),
                Span::styled(look.t("tui-new-invalid"), look.style(Role::Warning)),
            ]));
            lines.push(Line::default());
        }
        if flow.work == Work::Running {
            lines
                .push(Line::styled(look.t_args("tui-new-creating", &[("mesh", name.into())]), look.style(Role::Muted)));
        }
        if flow.ready {
            let slug = flow.mesh.clone().unwrap_or_else(|| slugify(name));
            lines.push(done_line(look, look.t_args("tui-new-created", &[("slug", slug.into())])));
        }
        if editing {
            lines.push(keys_line(look, "tui-new-keys"));
        }
        lines.extend(closing(look, flow));
        render_page(frame, area, lines);
    }

    fn on_key(&self, state: &AppState, key: KeyEvent) -> Option<Action> {
        if state.flow.work != Work::Idle || state.flow.ready {
            return matches!(key.code, KeyCode::Esc | KeyCode::Char('q')).then_some(Action::Quit);
        }
        match key.code {
            KeyCode::Esc => Some(Action::Quit),
            KeyCode::Enter => Some(Action::Flow(FlowAction::SubmitName)),
            KeyCode::Backspace => Some(Action::Flow(FlowAction::Erase)),
            KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
                Some(Action::Flow(FlowAction::Type(c)))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::flows::{FlowState, update};
    use crate::tui::look::Look;
    use crate::tui::testing::assert_screen_snapshots;

    fn typed(text: &str) -> FlowState {
        let mut flow = FlowState::default();
        for c in text.chars() {
            update(&mut flow, FlowAction::Type(c));
        }
        flow
    }

    fn with(flow: FlowState) -> impl Fn(Look) -> AppState {
        move |look| {
            let mut s = AppState::new(look);
            s.flow = flow.clone();
            s
        }
    }

    #[test]
    fn new_name_shows_the_slug_as_it_is_typed() {
        assert_screen_snapshots("new-name", with(typed("Platform team")), &NewName);
    }

    #[test]
    fn new_name_rejects_an_empty_name() {
        let mut flow = FlowState::default();
        update(&mut flow, FlowAction::SubmitName);
        assert!(flow.input_rejected && flow.pending.is_none());
        assert_screen_snapshots("new-name-rejected", with(flow), &NewName);
    }

    #[test]
    fn new_name_creating_then_youre_in() {
        let mut flow = typed("Platform team");
        update(&mut flow, FlowAction::SubmitName);
        assert_screen_snapshots("new-creating", with(flow.clone()), &NewName);
        update(&mut flow, FlowAction::MeshReady("platform-team".into()));
        assert_screen_snapshots("new-ready", with(flow), &NewName);
    }
}
