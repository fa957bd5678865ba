//! `claudemesh invite` on a terminal without flags: role and expiry with the defaults preselected (member, 7 days),
//! Enter creates the invite; then the link, already copied to the clipboard, and a QR code when the terminal has
//! room for it.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::welcome::{done_line, failure, header, keys_line, quit_key, render_page};
use super::{FlowAction, Work};
use crate::tui::action::Action;
use crate::tui::screen::Screen;
use crate::tui::state::AppState;
use crate::tui::theme::{Icon, Role};

pub(crate) struct InviteOptions;

impl Screen for InviteOptions {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let flow = &state.flow;
        let mesh = flow.invite_mesh.clone().unwrap_or_default();
        let mut lines = header(look);
        lines.push(Line::raw(look.t_args("tui-invite-title", &[("mesh", mesh.into())])));
        lines.push(Line::default());
        let fields = [("tui-invite-role", flow.role.as_str()), ("tui-invite-expires", flow.expiry.as_str())];
        let labels: Vec<String> = fields.iter().map(|(id, _)| look.t(id)).collect();
        let width = labels.iter().map(|l| unicode_width::UnicodeWidthStr::width(l.as_str())).max().unwrap_or(0);
        for (i, ((_, value), label)) in fields.iter().zip(labels).enumerate() {
            let pad = " ".repeat(width.saturating_sub(unicode_width::UnicodeWidthStr::width(label.as_str())));
            let selected = i == flow.choice;
            let marker = if selected { look.icon(Icon::Next) } else { " " };
            let value_style = if selected { look.style(Role::Primary) } else { ratatui::style::Style::new() };
            lines.push(Line::from(vec![
                Span::styled(marker, look.style(Role::Primary)),
                Span::raw(" "),
                Span::styled(format!("{label}{pad}  "), look.style(Role::Muted)),
                Span::styled(format!("‹ {value} ›"), value_style),
            ]));
        }
        lines.push(Line::default());
        match &flow.work {
            Work::Running => lines.push(Line::styled(look.t("tui-invite-creating"), look.style(Role::Muted))),
            Work::Failed(text) => lines.extend(failure(look, text)),
            Work::Idle => lines.push(keys_line(look, "tui-invite-keys")),
        }
        render_page(frame, area, lines);
    }

    fn on_key(&self, state: &AppState, key: KeyEvent) -> Option<Action> {
        if state.flow.work != Work::Idle {
            return quit_key(key);
        }
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Flow(FlowAction::Move(-1))),
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => Some(Action::Flow(FlowAction::Move(1))),
            KeyCode::Left | KeyCode::Char('h') => Some(Action::Flow(FlowAction::Cycle(-1))),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => Some(Action::Flow(FlowAction::Cycle(1))),
            KeyCode::Enter => Some(Action::Flow(FlowAction::Confirm)),
            _ => quit_key(key),
        }
    }
}

pub(crate) struct InviteUrl;

impl Screen for InviteUrl {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let flow = &state.flow;
        let mesh = flow.invite_mesh.clone().unwrap_or_default();
        let url = flow.invite_url.clone().unwrap_or_default();
        let mut lines = vec![
            done_line(
                look,
                look.t_args(
                    "tui-invite-ready",
                    &[
                        ("mesh", mesh.into()),
                        ("role", flow.role.as_str().into()),
                        ("span", flow.expiry.as_str().into()),
                    ],
                ),
            ),
            Line::default(),
            Line::styled(url.clone(), look.style(Role::Primary)),
            Line::default(),
            Line::styled(look.t("tui-invite-copied"), look.style(Role::Muted)),
            Line::default(),
        ];
        let inner = super::welcome::page(area);
        let url_rows = usize::from(inner.width.max(1)).max(1);
        let used = lines.len() + url.chars().count().div_ceil(url_rows).saturating_sub(1) + 2;
        let qr_width = flow.qr.first().map_or(0, |r| r.chars().count());
        let fits = !flow.qr.is_empty()
            && used + flow.qr.len() <= usize::from(inner.height)
            && qr_width <= usize::from(inner.width);
        if fits {
            lines.extend(flow.qr.iter().map(|row| Line::raw(row.clone())));
            lines.push(Line::default());
        } else if !flow.qr.is_empty() {
            lines.push(Line::styled(look.t("tui-invite-qr-small"), look.style(Role::Dim)));
        }
        lines.push(keys_line(look, "tui-invite-done-keys"));
        render_page(frame, area, lines);
    }

    fn on_key(&self, _: &AppState, key: KeyEvent) -> Option<Action> {
        matches!(key.code, KeyCode::Enter | KeyCode::Esc | KeyCode::Char('q'))
            .then_some(Action::Flow(FlowAction::Finish))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::flows::{FlowState, update};
    use crate::tui::look::Look;
    use crate::tui::testing::assert_screen_snapshots;

    fn with(flow: FlowState) -> impl Fn(Look) -> AppState {
        move |look| {
            let mut s = AppState::new(look);
            s.flow = flow.clone();
            s
        }
    }

    fn options() -> FlowState {
        FlowState { invite_mesh: Some("platform-team".into()), ..FlowState::default() }
    }

    #[test]
    fn invite_options_preselect_member_and_seven_days() {
        let flow = options();
        assert_eq!((flow.role.as_str(), flow.expiry.as_str()), ("member", "7d"));
        assert_screen_snapshots("invite-options", with(flow), &InviteOptions);
    }

    #[test]
    fn invite_url_shows_the_link_and_a_qr_code_when_it_fits() {
        let mut flow = options();
        update(&mut flow, FlowAction::Confirm);
        update(&mut flow, FlowAction::InviteMade("http://127.0.0.1:7800/join/eyJ2IjoxLCJpZCI6ImFiYyJ9".into()));
        assert_screen_snapshots("invite-url", with(flow), &InviteUrl);
    }
}
