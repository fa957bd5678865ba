//! The first-run welcome (seed final-vision §2.1, §13): typography only, the product name in `primary`, the
//! tagline in `muted`, one next action.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Paragraph, Wrap};

use super::FlowAction;
use crate::tui::action::Action;
use crate::tui::screen::Screen;
use crate::tui::state::AppState;
use crate::tui::theme::{Icon, Role};

pub(crate) struct Welcome;

impl Screen for Welcome {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let text = Text::from(vec![
            Line::styled("claudemesh", look.style(Role::Primary)),
            Line::styled(look.t("help-tagline"), look.style(Role::Muted)),
            Line::default(),
            Line::from(vec![
                Span::styled(look.icon(Icon::Next), look.style(Role::Primary)),
                Span::raw(" "),
                Span::raw(look.t("tui-welcome-next")),
            ]),
            Line::styled(format!("  {}", look.t("tui-quit-hint")), look.style(Role::Dim)),
        ]);
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 1,
            width: area.width.saturating_sub(4),
            height: area.height.saturating_sub(1),
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
    }

    fn on_key(&self, _: &AppState, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Enter => Some(Action::Flow(FlowAction::Welcomed)),
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::testing::assert_screen_snapshots;

    #[test]
    fn welcome_renders_in_every_variant() {
        assert_screen_snapshots("welcome", AppState::new, &Welcome);
    }
}
