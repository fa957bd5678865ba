//! The flow tables (seed final-vision §10.1): data, not code paths. Each flow is the ordered list of its steps;
//! the router shows the first step that applies and is not done.

use super::FlowState;
use crate::tui::router::{FlowId, ScreenId, Step, always, never};

const LAUNCH: &[Step] = &[
    Step { screen: ScreenId::Welcome, show: |s| s.first_run, done: |s| s.welcomed },
    Step { screen: ScreenId::MeshPicker, show: FlowState::ambiguous_mesh, done: |s| s.mesh.is_some() },
    Step { screen: ScreenId::Handoff, show: always, done: never },
];

const JOIN: &[Step] = &[
    Step { screen: ScreenId::JoinConfirm, show: always, done: |s| s.confirmed },
    Step { screen: ScreenId::Handoff, show: always, done: never },
];

const NEW: &[Step] = &[
    Step { screen: ScreenId::NewName, show: always, done: |s| s.new_name.is_some() },
    Step { screen: ScreenId::Handoff, show: always, done: never },
];

// Placeholder until the invite flow lands: options (role, expiry), then the URL.
const INVITE: &[Step] = &[
    Step { screen: ScreenId::InviteOptions, show: always, done: |s| s.confirmed },
    Step { screen: ScreenId::InviteUrl, show: always, done: never },
];

const DASH: &[Step] = &[Step { screen: ScreenId::Dashboard, show: always, done: never }];

/// The steps of `flow`.
pub(crate) fn steps(flow: FlowId) -> &'static [Step] {
    match flow {
        FlowId::Launch => LAUNCH,
        FlowId::Join => JOIN,
        FlowId::New => NEW,
        FlowId::Invite => INVITE,
        FlowId::Dash => DASH,
    }
}
