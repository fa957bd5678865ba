//! The join confirm screen (seed final-vision §2.3): the invite's mesh, inviter, role and broker, and one primary
//! action — Enter joins and hands off. An invite found in the clipboard says so and offers to continue without
//! joining. A refused invite is the invite-invalid overlay, pushed by the effect's result.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::welcome::{closing, header, keys_line, quit_key, render_page};
use super::{FlowAction, FlowState, InviteCard, Work};
use crate::tui::action::Action;
use crate::tui::look::Look;
use crate::tui::screen::Screen;
use crate::tui::state::AppState;
use crate::tui::theme::{Icon, Role};

pub(crate) struct JoinConfirm;

impl Screen for JoinConfirm {
    fn render(&self, state: &AppState, frame: &mut Frame, area: Rect) {
        let look = &state.look;
        let flow = &state.flow;
        let mut lines = header(look);
        let Some(card) = &flow.invite else {
            render_page(frame, area, lines);
            return;
        };
        if card.from_clipboard {
            lines.push(Line::raw(look.t("tui-join-detected")));
            lines.push(Line::default());
        }
        lines.extend(details(look, card));
        lines.push(Line::default());
        if flow.ready {
            lines.push(super::welcome::done_line(
                look,
                look.t_args("tui-join-done", &[("mesh", card.mesh.as_str().into())]),
            ));
        } else if flow.work == Work::Running {
            lines.push(Line::styled(
                look.t_args("tui-join-joining", &[("mesh", card.mesh.as_str().into())]),
                look.style(Role::Muted),
            ));
        } else if !matches!(flow.work, Work::Failed(_)) {
            lines.extend(choices(look, flow, card));
            lines.push(Line::default());
            lines.push(keys_line(look, if flow.join_choices() > 1 { "tui-join-keys-choice" } else { "tui-join-keys" }));
        }
        lines.extend(closing(look, flow));
        render_page(frame, area, lines);
    }

    fn on_key(&self, state: &AppState, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Flow(FlowAction::Move(-1))),
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => Some(Action::Flow(FlowAction::Move(1))),
            KeyCode::Enter if state.flow.work == Work::Idle && !state.flow.ready => {
                Some(Action::Flow(FlowAction::Confirm))
            }
            _ => quit_key(key),
        }
    }
}

/// Mesh, inviter, role, broker: labels in `muted`, values plain.
fn details(look: &Look, card: &InviteCard) -> Vec<Line<'static>> {
    let rows = [
        ("tui-join-mesh", card.mesh.as_str()),
        ("tui-join-inviter", card.inviter.as_str()),
        ("tui-join-role", card.role.as_str()),
        ("tui-join-broker", card.broker.as_str()),
    ];
    let labels: Vec<String> = rows.iter().map(|(id, _)| look.t(id)).collect();
    let width = labels.iter().map(|l| unicode_width::UnicodeWidthStr::width(l.as_str())).max().unwrap_or(0);
    rows.iter()
        .zip(labels)
        .map(|((_, value), label)| {
            let pad = width.saturating_sub(unicode_width::UnicodeWidthStr::width(label.as_str()));
            Line::from(vec![
                Span::styled(format!("{label}{}  ", " ".repeat(pad)), look.style(Role::Muted)),
                Span::raw(value.to_string()),
            ])
        })
        .collect()
}

/// `▸ Join "mesh"`, and for a clipboard invite the way out: continue to the current mesh, or set up one's own.
fn choices(look: &Look, flow: &FlowState, card: &InviteCard) -> Vec<Line<'static>> {
    let mut rows = vec![look.t_args("tui-join-choice", &[("mesh", card.mesh.as_str().into())])];
    if flow.join_choices() > 1 {
        rows.push(match &flow.mesh {
            Some(mesh) => look.t_args("tui-join-continue", &[("mesh", mesh.as_str().into())]),
            None => look.t("tui-join-own"),
        });
    }
    rows.into_iter()
        .enumerate()
        .map(|(i, text)| {
            if i == flow.choice {
                Line::from(vec![
                    Span::styled(look.icon(Icon::Next), look.style(Role::Primary)),
                    Span::raw(" "),
                    Span::styled(text, look.style(Role::Primary)),
                ])
            } else {
                Line::raw(format!("  {text}"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::App;
    use crate::tui::overlay::Overlay;
    use crate::tui::router::FlowId;
    use crate::tui::testing::{assert_app_snapshots, assert_screen_snapshots};

    pub(crate) fn card(from_clipboard: bool) -> InviteCard {
        InviteCard {
            url: "http://127.0.0.1:7800/join/abc".into(),
            mesh: "alice-team".into(),
            inviter: "alice".into(),
            role: "member".into(),
            broker: "ws://127.0.0.1:7800/ws".into(),
            from_clipboard,
        }
    }

    fn with(flow: FlowState) -> impl Fn(Look) -> AppState {
        move |look| {
            let mut s = AppState::new(look);
            s.flow = flow.clone();
            s
        }
    }

    #[test]
    fn join_confirm_renders_in_every_variant() {
        assert_screen_snapshots("join-confirm", with(FlowState::join(card(false), None)), &JoinConfirm);
    }

    #[test]
    fn join_confirm_from_the_clipboard_offers_to_continue() {
        let flow = FlowState::join(card(true), Some("bob-laptop".into()));
        assert_screen_snapshots("join-confirm-clipboard", with(flow), &JoinConfirm);
    }

    #[test]
    fn join_joining_renders_in_every_variant() {
        let mut flow = FlowState::join(card(false), None);
        super::super::update(&mut flow, FlowAction::Confirm);
        assert_screen_snapshots("join-joining", with(flow.clone()), &JoinConfirm);
        super::super::update(&mut flow, FlowAction::MeshReady("alice-team".into()));
        assert_screen_snapshots("join-ready", with(flow), &JoinConfirm);
    }

    #[test]
    fn invite_invalid_overlay_renders_in_every_variant() {
        assert_app_snapshots("invite-invalid", |look| {
            let mut app = App::new(FlowId::Join, look, FlowState { failed: true, ..FlowState::default() });
            let reason = look.t("err-invite-expired-broker");
            let hint = look.t("hint-ask-new-invite");
            app.update(Action::PushOverlay(Overlay::InviteInvalid { reason: format!("{reason} {hint}") }));
            app
        });
    }
}
