//! Flow tests: the router driven with synthetic events, asserting the sequence of screens.

use ratatui::crossterm::event::KeyCode;

use super::FlowState;
use crate::tui::app::Outcome;
use crate::tui::router::{FlowId, ScreenId, View};
use crate::tui::testing::FlowDriver;

#[test]
fn first_run_launch_welcomes_then_hands_off() {
    let mut d = FlowDriver::new(FlowId::Launch, FlowState { first_run: true, ..FlowState::default() });
    assert_eq!(d.outcome(), None);
    d.key(KeyCode::Char('x')).key(KeyCode::Enter);
    assert_eq!(d.views(), [View::Screen(ScreenId::Welcome), View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: None }));
}

#[test]
fn daily_launch_with_a_cached_mesh_hands_off_before_any_frame() {
    let state =
        FlowState { meshes: vec!["team".into(), "solo".into()], mesh: Some("team".into()), ..FlowState::default() };
    let d = FlowDriver::new(FlowId::Launch, state);
    assert_eq!(d.views(), [View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("team".into()) }));
    assert!(d.app.needs_draw(), "nothing was drawn");
}

#[test]
fn two_meshes_and_no_choice_is_the_one_picker() {
    let state = FlowState { meshes: vec!["team".into(), "solo".into()], ..FlowState::default() };
    let mut d = FlowDriver::new(FlowId::Launch, state);
    d.action(crate::tui::action::Action::Flow(super::FlowAction::PickMesh("solo".into())));
    assert_eq!(d.views(), [View::Screen(ScreenId::MeshPicker), View::Screen(ScreenId::Handoff)]);
    assert_eq!(d.outcome(), Some(Outcome::Handoff { mesh: Some("solo".into()) }));
}
