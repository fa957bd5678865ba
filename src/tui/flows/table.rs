//! The flow tables (seed final-vision §10.1): data, not code paths. Each flow is the ordered list of its steps;
//! the router shows the first step that applies and is not done.

use super::FlowState;
use crate::tui::router::{FlowId, ScreenId, Step, always, never};

fn joined_or_left(s: &FlowState) -> bool {
    s.welcomed || s.declined || s.failed
}

fn handoff_applies(s: &FlowState) -> bool {
    !s.failed
}

/// Bare `claudemesh`: an invite from the clipboard first, then the first-run welcome (creating the personal
/// mesh), the picker when the mesh is ambiguous, and the handoff. A returning user with a mesh resolves straight
/// to the handoff: zero frames.
const LAUNCH: &[Step] = &[
    Step { screen: ScreenId::JoinConfirm, show: |s| s.invite.is_some(), done: joined_or_left },
    Step { screen: ScreenId::Welcome, show: |s| s.first_run, done: |s| s.welcomed },
    Step { screen: ScreenId::MeshPicker, show: FlowState::ambiguous_mesh, done: |s| s.mesh.is_some() },
    Step { screen: ScreenId::Handoff, show: handoff_applies, done: never },
    Step { screen: ScreenId::Done, show: always, done: never },
];

/// `claudemesh <url>`: one confirm screen; Enter joins, "You're in.", handoff. A refused invite ends the flow
/// after its overlay.
const JOIN: &[Step] = &[
    Step { screen: ScreenId::JoinConfirm, show: always, done: joined_or_left },
    Step { screen: ScreenId::Handoff, show: handoff_applies, done: never },
    Step { screen: ScreenId::Done, show: always, done: never },
];

/// `claudemesh new` without a name: one question, created, "You're in.", handoff.
const NEW: &[Step] = &[
    Step { screen: ScreenId::NewName, show: always, done: |s| s.welcomed },
    Step { screen: ScreenId::Handoff, show: always, done: never },
];

/// `claudemesh invite` on a terminal without flags: role and expiry (defaults preselected), then the link, copied
/// and as a QR code.
const INVITE: &[Step] = &[
    Step { screen: ScreenId::InviteOptions, show: always, done: |s| s.invite_url.is_some() },
    Step { screen: ScreenId::InviteUrl, show: always, done: |s| s.finished },
    Step { screen: ScreenId::Done, show: always, done: never },
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
