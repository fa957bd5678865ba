//! Flow tests: the router driven with synthetic events, asserting the sequence of screens and the effects asked
//! for. Effects never run here; their results are reported as the runner would, with actions.

use ratatui::crossterm::event::{Event as TermEvent, KeyCode};

use super::{Effect, Expiry, FlowAction, FlowState, INPUT_MAX, InviteCard, InviteRole};
use crate::tui::action::Action;
use crate::tui::app::Outcome;
use crate::tui::event::Event;
use crate::tui::overlay::Overlay;
use crate::tui::router::{FlowId, ScreenId, View};
use crate::tui::testing::FlowDriver;

fn flow(a: FlowAction) -> Action {
    Action::Flow(a)
}

fn card(from_clipboard: bool) -> InviteCard {
    InviteCard {
        url: "http://127.0.0.1:7800/join/abc".into(),
        mesh: "alice-team".into(),
        inviter: "alice".into(),
        role: "member".into(),
        broker: "ws://127.0.0.1:7800/ws".into(),
        from_clipboard,
    }
}

#[test]
fn first_run_creates_the_personal_mesh_and_hands_off_without_a_keystroke() {
    let mut d = FlowDriver::new(FlowId::Launch, FlowState::first_run("alice-laptop"));
    assert_eq!(d.effects(), [Effect::CreateMesh { name: "alice-laptop".into() }], "creation starts at once");
    assert_eq!(d.outcome(), None);
    d.action(flow(FlowAction::MeshReady("alice-laptop".into())));
    assert!(d.app.state.flow.ready, "You're in. is on screen");
    assert_eq!(d.effects().last(), Some(&Effect::Beat));
    assert_eq!(d.outcome(), None, "the beat is not over yet");
    d.action(flow(FlowAction::BeatOver));
    assert_eq!(d.views(), [View::Screen(ScreenId::Welcome), View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("alice-laptop".into()) }));
}

#[test]
fn first_run_failure_stays_on_the_welcome_and_q_quits() {
    let mut d = FlowDriver::new(FlowId::Launch, FlowState::first_run("alice-laptop"));
    d.action(flow(FlowAction::Failed("The broker is unreachable.".into())));
    assert_eq!(d.views(), [View::Screen(ScreenId::Welcome)]);
    assert_eq!(d.outcome(), None);
    d.key(KeyCode::Char('q'));
    assert_eq!(d.outcome(), Some(Outcome::Quit));
}

#[test]
fn daily_launch_with_a_cached_mesh_hands_off_before_any_frame() {
    let state =
        FlowState { meshes: vec!["team".into(), "solo".into()], mesh: Some("team".into()), ..FlowState::default() };
    let d = FlowDriver::new(FlowId::Launch, state);
    assert_eq!(d.views(), [View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("team".into()) }));
    assert!(d.app.needs_draw(), "nothing was drawn");
    assert!(d.effects().is_empty());
}

#[test]
fn two_meshes_and_no_choice_is_the_one_picker() {
    let state = FlowState { meshes: vec!["team".into(), "solo".into()], ..FlowState::default() };
    let mut d = FlowDriver::new(FlowId::Launch, state);
    d.key(KeyCode::Down).key(KeyCode::Down).key(KeyCode::Down).key(KeyCode::Enter);
    assert_eq!(d.views(), [View::Screen(ScreenId::MeshPicker), View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("solo".into()) }), "three downs wrap to the second");
}

#[test]
fn join_confirm_enter_joins_then_hands_off() {
    let mut d = FlowDriver::new(FlowId::Join, FlowState::join(card(false), None));
    d.key(KeyCode::Enter);
    assert_eq!(d.effects(), [Effect::Join { url: "http://127.0.0.1:7800/join/abc".into() }]);
    d.key(KeyCode::Enter); // a second Enter while joining does nothing
    assert_eq!(d.effects().len(), 1);
    d.action(flow(FlowAction::MeshReady("alice-team".into()))).action(flow(FlowAction::BeatOver));
    assert_eq!(d.views(), [View::Screen(ScreenId::JoinConfirm), View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("alice-team".into()) }));
}

#[test]
fn a_refused_invite_shows_the_overlay_and_ends_when_it_is_dismissed() {
    let mut d = FlowDriver::new(FlowId::Join, FlowState::join(card(false), None));
    d.key(KeyCode::Enter);
    let overlay = Overlay::InviteInvalid { reason: "This invite has been used as many times as it allows.".into() };
    d.action(Action::PushOverlay(overlay.clone())).action(flow(FlowAction::InviteRefused));
    assert_eq!(d.outcome(), None, "the overlay is read first");
    d.key(KeyCode::Enter);
    assert_eq!(d.views(), [View::Screen(ScreenId::JoinConfirm), View::Overlay(overlay), View::Screen(ScreenId::Done)]);
    assert_eq!(d.outcome(), Some(Outcome::Done));
}

#[test]
fn an_invite_that_fails_its_local_checks_opens_on_the_overlay() {
    let mut d = FlowDriver::new(FlowId::Join, FlowState { failed: true, ..FlowState::default() });
    let overlay = Overlay::InviteInvalid { reason: "The invite to alice-team expired 2d ago.".into() };
    d.action(Action::PushOverlay(overlay.clone()));
    assert_eq!(d.outcome(), None);
    d.key(KeyCode::Esc);
    assert_eq!(d.views(), [View::Screen(ScreenId::Done), View::Overlay(overlay), View::Screen(ScreenId::Done)]);
    assert_eq!(d.outcome(), Some(Outcome::Done));
    assert!(d.effects().is_empty());
}

#[test]
fn clipboard_invite_enter_joins_from_the_launch_flow() {
    let mut d = FlowDriver::new(FlowId::Launch, FlowState::join(card(true), Some("bob-laptop".into())));
    d.key(KeyCode::Enter);
    assert_eq!(d.effects(), [Effect::Join { url: "http://127.0.0.1:7800/join/abc".into() }]);
    d.action(flow(FlowAction::MeshReady("alice-team".into()))).action(flow(FlowAction::BeatOver));
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("alice-team".into()) }));
}

#[test]
fn clipboard_invite_can_be_passed_over_for_the_current_mesh() {
    let mut d = FlowDriver::new(FlowId::Launch, FlowState::join(card(true), Some("bob-laptop".into())));
    d.key(KeyCode::Down).key(KeyCode::Enter);
    assert_eq!(d.views(), [View::Screen(ScreenId::JoinConfirm), View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("bob-laptop".into()) }));
    assert!(d.effects().is_empty());
}

#[test]
fn clipboard_invite_passed_over_on_first_run_creates_the_personal_mesh() {
    let mut state = FlowState::join(card(true), None);
    state.new_name = Some("bob-laptop".into());
    let mut d = FlowDriver::new(FlowId::Launch, state);
    d.key(KeyCode::Down).key(KeyCode::Enter);
    assert_eq!(d.effects(), [Effect::CreateMesh { name: "bob-laptop".into() }]);
    d.action(flow(FlowAction::MeshReady("bob-laptop".into()))).action(flow(FlowAction::BeatOver));
    assert_eq!(
        d.views(),
        [View::Screen(ScreenId::JoinConfirm), View::Screen(ScreenId::Welcome), View::Screen(ScreenId::Handoff)]
    );
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("bob-laptop".into()) }));
}

#[test]
fn new_asks_one_question_then_creates_and_hands_off() {
    let mut d = FlowDriver::new(FlowId::New, FlowState::default());
    d.key(KeyCode::Enter);
    assert!(d.app.state.flow.input_rejected, "an empty name is refused");
    for c in "Platform teamx".chars() {
        d.key(KeyCode::Char(c));
    }
    d.key(KeyCode::Backspace).key(KeyCode::Enter);
    assert_eq!(d.effects(), [Effect::CreateMesh { name: "Platform team".into() }]);
    d.key(KeyCode::Char('z'));
    assert_eq!(d.app.state.flow.input, "Platform team", "no typing while it is created");
    d.action(flow(FlowAction::MeshReady("platform-team".into()))).action(flow(FlowAction::BeatOver));
    assert_eq!(d.views(), [View::Screen(ScreenId::NewName), View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("platform-team".into()) }));
}

#[test]
fn new_quits_on_escape_but_q_is_a_letter_of_the_name() {
    let mut d = FlowDriver::new(FlowId::New, FlowState::default());
    d.key(KeyCode::Char('q'));
    assert_eq!(d.app.state.flow.input, "q");
    assert_eq!(d.outcome(), None);
    d.key(KeyCode::Esc);
    assert_eq!(d.outcome(), Some(Outcome::Quit));
}

fn paste(text: &str) -> Event {
    Event::Input(TermEvent::Paste(text.into()))
}

#[test]
fn a_paste_goes_into_the_name_as_one_line_cut_at_its_length() {
    let mut d = FlowDriver::new(FlowId::New, FlowState::default());
    d.key(KeyCode::Char('P'));
    d.event(paste("latform\r\nteam\tq\x07\n"));
    assert_eq!(d.app.state.flow.input, "Platform team q", "newlines and tabs become spaces, controls go, q is text");
    assert_eq!(d.outcome(), None);
    d.event(paste(&"x".repeat(200)));
    assert_eq!(d.app.state.flow.input.chars().count(), INPUT_MAX, "cut at the name's length");
    let mut d = FlowDriver::new(FlowId::New, FlowState::default());
    d.event(paste("Platform team\n")).key(KeyCode::Enter);
    assert_eq!(d.effects(), [Effect::CreateMesh { name: "Platform team".into() }]);
    d.event(paste("more"));
    assert_eq!(d.app.state.flow.input, "Platform team", "no paste while it is created");
}

#[test]
fn a_paste_on_a_screen_without_a_text_input_changes_nothing() {
    let state = FlowState { meshes: vec!["alpha".into(), "beta".into()], ..FlowState::default() };
    let mut d = FlowDriver::new(FlowId::Launch, state.clone());
    d.event(paste("beta\n"));
    assert_eq!(d.app.state.flow, state);
    assert_eq!(d.views(), [View::Screen(ScreenId::MeshPicker)]);
}

#[test]
fn invite_defaults_then_the_link_copied() {
    let state = FlowState { invite_mesh: Some("platform-team".into()), ..FlowState::default() };
    let mut d = FlowDriver::new(FlowId::Invite, state);
    d.key(KeyCode::Enter);
    assert_eq!(d.effects(), [Effect::CreateInvite { role: InviteRole::Member, expiry: Expiry::Week }]);
    let url = "http://127.0.0.1:7800/join/abc".to_string();
    d.action(flow(FlowAction::InviteMade(url.clone())));
    assert_eq!(d.effects().last(), Some(&Effect::Copy(url)));
    assert!(!d.app.state.flow.qr.is_empty(), "a QR code");
    d.key(KeyCode::Enter);
    assert_eq!(
        d.views(),
        [View::Screen(ScreenId::InviteOptions), View::Screen(ScreenId::InviteUrl), View::Screen(ScreenId::Done)]
    );
    assert_eq!(d.outcome(), Some(Outcome::Done));
}

#[test]
fn invite_options_change_with_the_arrows() {
    let state = FlowState { invite_mesh: Some("platform-team".into()), ..FlowState::default() };
    let mut d = FlowDriver::new(FlowId::Invite, state);
    d.key(KeyCode::Left).key(KeyCode::Down).key(KeyCode::Right).key(KeyCode::Enter);
    assert_eq!(d.effects(), [Effect::CreateInvite { role: InviteRole::Admin, expiry: Expiry::Month }]);
}
