//! The mesh picker: shown only when the mesh is ambiguous (two or more joined, none chosen by flag, environment
//! or the last-used one). One list, Enter opens the highlighted mesh in Claude Code.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::FlowAction;
use super::welcome::{header, keys_line, quit_key, render_page};
use crate::tui::action::Action;
use crate::tui::screen::Screen;
use crate::tui::state::AppState;
use crate::tui::theme::{Icon, Role};

pub(crate) struct MeshPicker;

impl Screen for MeshPicker {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let mut lines = header(look);
        lines.push(Line::raw(look.t("tui-picker-title")));
        lines.push(Line::default());
        for (i, slug) in state.flow.meshes.iter().enumerate() {
            lines.push(if i == state.flow.choice {
                Line::from(vec![
                    Span::styled(look.icon(Icon::Next), look.style(Role::Primary)),
                    Span::raw(" "),
                    Span::styled(slug.clone(), look.style(Role::Primary)),
                ])
            } else {
                Line::raw(format!("  {slug}"))
            });
        }
        lines.push(Line::default());
        lines.push(keys_line(look, "tui-picker-keys"));
        render_page(frame, area, lines);
    }

    fn on_key(&self, state: &AppState, key: KeyEvent) -> Option<Action> {
        let flow = &state.flow;
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Flow(FlowAction::Move(-1))),
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => Some(Action::Flow(FlowAction::Move(1))),
            KeyCode::Enter => flow.meshes.get(flow.choice).map(|m| Action::Flow(FlowAction::PickMesh(m.clone()))),
            KeyCode::Char(c @ '1'..='9') => {
                let i = c.to_digit(10).and_then(|d| usize::try_from(d).ok()).unwrap_or(1) - 1;
                flow.meshes.get(i).map(|m| Action::Flow(FlowAction::PickMesh(m.clone())))
            }
            _ => quit_key(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::flows::FlowState;
    use crate::tui::testing::assert_screen_snapshots;

    #[test]
    fn picker_renders_in_every_variant() {
        assert_screen_snapshots(
            "mesh-picker",
            |look| {
                let mut s = AppState::new(look);
                s.flow = FlowState {
                    meshes: vec!["platform-team".into(), "alice-laptop".into(), "ci".into()],
                    choice: 1,
                    ..FlowState::default()
                };
                s
            },
            &MeshPicker,
        );
    }
}
