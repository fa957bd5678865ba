//! The guided flows (launch, join, new, invite): their state, their actions, their declarative tables, their
//! screens and the effects they ask for. Owned by the flows work; the router reads `steps`, the app calls `update`
//! and hands every requested `Effect` to the runner (`effects.rs`), whose results come back as actions.

pub(crate) mod effects;
pub(crate) mod invite;
pub(crate) mod join;
pub(crate) mod new_mesh;
pub(crate) mod picker;
mod qr;
mod table;
#[cfg(test)]
mod tests;
pub(crate) mod welcome;

use std::time::Duration;

pub(crate) use effects::{Effect, Effects};
pub(crate) use table::steps;

/// What the join confirm screen shows about an invite (checked locally before the flow starts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InviteCard {
    /// The link, passed to the join effect.
    pub url: String,
    pub mesh: String,
    pub inviter: String,
    pub role: String,
    pub broker: String,
    /// Found in the clipboard (the screen says so, and offers to continue without joining).
    pub from_clipboard: bool,
}

/// Background work of a flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Work {
    #[default]
    Idle,
    /// An effect is running (creating, joining …).
    Running,
    /// It failed; the text is localized and says what to do next.
    Failed(String),
}

/// The invitee's role, chosen on the invite options screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum InviteRole {
    Admin,
    #[default]
    Member,
    Guest,
}

impl InviteRole {
    pub(crate) const ALL: [InviteRole; 3] = [InviteRole::Admin, InviteRole::Member, InviteRole::Guest];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            InviteRole::Admin => "admin",
            InviteRole::Member => "member",
            InviteRole::Guest => "guest",
        }
    }
}

/// How long an invite stays valid, chosen on the invite options screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Expiry {
    Hour,
    Day,
    #[default]
    Week,
    Month,
}

impl Expiry {
    pub(crate) const ALL: [Expiry; 4] = [Expiry::Hour, Expiry::Day, Expiry::Week, Expiry::Month];

    pub(crate) fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Expiry::Hour => 3_600,
            Expiry::Day => 86_400,
            Expiry::Week => 7 * 86_400,
            Expiry::Month => 30 * 86_400,
        })
    }

    /// The duration as the CLI writes it (`--expires 7d`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Expiry::Hour => "1h",
            Expiry::Day => "1d",
            Expiry::Week => "7d",
            Expiry::Month => "30d",
        }
    }
}

/// What the flows know and have decided so far. The flow tables' conditions read only this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlowState {
    /// No mesh joined yet: the launch flow creates the personal mesh.
    pub first_run: bool,
    /// The flow's closing beat ("You're in.") is over: hand off.
    pub welcomed: bool,
    /// The meshes this machine has joined (slugs), for the picker.
    pub meshes: Vec<String>,
    /// The mesh chosen (flag, cache, picker, or the one just created/joined).
    pub mesh: Option<String>,
    /// The confirm screen was accepted (join).
    pub confirmed: bool,
    /// The name of the mesh being created (typed on the new-mesh screen, or the personal mesh's on first run).
    pub new_name: Option<String>,
    /// The invite on the join confirm screen.
    pub invite: Option<InviteCard>,
    /// "Continue to …" was chosen instead of joining the clipboard's invite.
    pub declined: bool,
    /// The flow cannot go on (an invalid invite): it ends once its overlay is dismissed.
    pub failed: bool,
    /// The background work of the current step.
    pub work: Work,
    /// The mesh is ready: "You're in." is on screen until the beat ends.
    pub ready: bool,
    /// The highlighted row (picker, join choices, invite option field).
    pub choice: usize,
    /// The text typed on the new-mesh screen.
    pub input: String,
    /// Enter was pressed on an empty or invalid name.
    pub input_rejected: bool,
    /// The mesh an invite is for (its display name).
    pub invite_mesh: Option<String>,
    pub role: InviteRole,
    pub expiry: Expiry,
    /// The invite link, once created.
    pub invite_url: Option<String>,
    /// The link as a QR code, one string per row of half blocks.
    pub qr: Vec<String>,
    /// The person closed the invite URL screen.
    pub finished: bool,
    /// The effect the runner should start next (taken by the app).
    pub pending: Option<Effect>,
}

impl FlowState {
    /// Two or more meshes and none chosen: the one case the picker is shown.
    pub(crate) fn ambiguous_mesh(&self) -> bool {
        self.mesh.is_none() && self.meshes.len() >= 2
    }

    /// First run: create the personal mesh `name` silently, then hand off.
    pub(crate) fn first_run(name: &str) -> Self {
        let mut s = Self { first_run: true, new_name: Some(name.to_string()), ..Self::default() };
        s.start(Effect::CreateMesh { name: name.to_string() });
        s
    }

    /// The join confirm screen for `invite`; `continue_to` is the mesh "Continue to …" launches (clipboard only).
    pub(crate) fn join(invite: InviteCard, continue_to: Option<String>) -> Self {
        Self { invite: Some(invite), mesh: continue_to, ..Self::default() }
    }

    /// The join confirm screen's rows: join, and for a clipboard invite, continue without joining.
    pub(crate) fn join_choices(&self) -> usize {
        match &self.invite {
            Some(card) if card.from_clipboard => 2,
            _ => 1,
        }
    }

    fn start(&mut self, effect: Effect) {
        self.work = Work::Running;
        self.pending = Some(effect);
    }
}

/// A step of a flow, emitted by its screens, or the result of an effect reported back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlowAction {
    /// A mesh was picked.
    PickMesh(String),
    /// Move the highlight (picker rows, join choices, invite fields) by one, wrapping.
    Move(i8),
    /// Change the highlighted invite option by one (role or expiry).
    Cycle(i8),
    /// The confirm screen's highlighted row was accepted (join: join or continue; invite options: create).
    Confirm,
    /// A character typed into the name.
    Type(char),
    /// Text pasted into the name (bracketed paste): one line, newlines become spaces, cut at the name's length.
    Paste(String),
    /// Backspace in the name.
    Erase,
    /// Enter on the name.
    SubmitName,
    /// The invite URL screen was closed.
    Finish,
    // Results of effects.
    /// The mesh was created or joined (its slug): "You're in.".
    MeshReady(String),
    /// The closing beat is over: hand off.
    BeatOver,
    /// The effect failed; the text is localized (what, why, what next).
    Failed(String),
    /// The broker refused the invite (its overlay says why); the flow ends.
    InviteRefused,
    /// The invite link was created.
    InviteMade(String),
}

/// How long "You're in." stays on screen before the handoff.
pub(crate) const BEAT: Duration = Duration::from_millis(700);

/// Applies a flow action; true when the state changed. The only place flow state changes.
pub(crate) fn update(state: &mut FlowState, action: FlowAction) -> bool {
    let before = state.clone();
    match action {
        FlowAction::PickMesh(slug) => {
            state.mesh = Some(slug);
        }
        FlowAction::Move(by) => {
            let rows = rows(state);
            if rows > 0 {
                let next = (state.choice as i64 + i64::from(by)).rem_euclid(rows as i64);
                state.choice = usize::try_from(next).unwrap_or(0);
            }
        }
        FlowAction::Cycle(by) => cycle_option(state, by),
        FlowAction::Confirm => confirm(state),
        FlowAction::Type(c) if state.work == Work::Idle && !c.is_control() => {
            push_input(state, c);
            state.input_rejected = false;
        }
        FlowAction::Type(_) => {}
        FlowAction::Paste(text) if state.work == Work::Idle && !state.ready => {
            // A copied line usually ends with its newline; inner line breaks and tabs become spaces.
            let line = text.trim_end_matches(['\r', '\n']).replace("\r\n", " ");
            for c in line.chars().map(|c| if matches!(c, '\n' | '\r' | '\t') { ' ' } else { c }) {
                if !c.is_control() {
                    push_input(state, c);
                }
            }
            state.input_rejected = false;
        }
        FlowAction::Paste(_) => {}
        FlowAction::Erase if state.work == Work::Idle => {
            state.input.pop();
            state.input_rejected = false;
        }
        FlowAction::Erase => {}
        FlowAction::SubmitName if state.work == Work::Idle => {
            let name = state.input.trim().to_string();
            if crate::proto::is_valid_name(&name) {
                state.new_name = Some(name.clone());
                state.start(Effect::CreateMesh { name });
            } else {
                state.input_rejected = true;
            }
        }
        FlowAction::SubmitName => {}
        FlowAction::Finish => state.finished = true,
        FlowAction::MeshReady(slug) => {
            state.mesh = Some(slug);
            state.ready = true;
            state.work = Work::Idle;
            state.pending = Some(Effect::Beat);
        }
        FlowAction::BeatOver => state.welcomed = true,
        FlowAction::Failed(text) => state.work = Work::Failed(text),
        FlowAction::InviteRefused => {
            state.work = Work::Idle;
            state.failed = true;
        }
        FlowAction::InviteMade(url) => {
            state.qr = qr::rows(&url);
            state.pending = Some(Effect::Copy(url.clone()));
            state.invite_url = Some(url);
            state.work = Work::Idle;
        }
    }
    *state != before
}

/// The longest name the text input takes, in characters (typed or pasted).
pub(crate) const INPUT_MAX: usize = 64;

/// Appends `c` to the name unless it is full.
fn push_input(state: &mut FlowState, c: char) {
    if state.input.chars().count() < INPUT_MAX {
        state.input.push(c);
    }
}

/// How many rows the highlight moves over on the current screen.
fn rows(state: &FlowState) -> usize {
    if state.invite.is_some() && !state.confirmed && !state.declined {
        state.join_choices()
    } else if state.invite_mesh.is_some() {
        2
    } else {
        state.meshes.len()
    }
}

fn cycle_option(state: &mut FlowState, by: i8) {
    if state.invite_mesh.is_none() || state.work != Work::Idle || state.invite_url.is_some() {
        return;
    }
    fn step<T: Copy + PartialEq>(all: &[T], now: T, by: i8) -> T {
        let len = all.len() as i64;
        let at = all.iter().position(|x| *x == now).unwrap_or(0) as i64;
        let next = usize::try_from((at + i64::from(by)).rem_euclid(len)).unwrap_or(0);
        all.get(next).copied().unwrap_or(now)
    }
    if state.choice == 0 {
        state.role = step(&InviteRole::ALL, state.role, by);
    } else {
        state.expiry = step(&Expiry::ALL, state.expiry, by);
    }
}

fn confirm(state: &mut FlowState) {
    if state.work == Work::Running {
        return;
    }
    if let Some(card) = &state.invite {
        if state.confirmed || state.declined {
            return;
        }
        if state.choice == 0 {
            let url = card.url.clone();
            state.confirmed = true;
            state.start(Effect::Join { url });
        } else {
            state.declined = true;
            // Nothing to continue to yet: the personal mesh is created as on any first run.
            if state.mesh.is_none()
                && let Some(name) = state.new_name.clone()
            {
                state.first_run = true;
                state.start(Effect::CreateMesh { name });
            }
        }
        return;
    }
    if state.invite_mesh.is_some() && state.invite_url.is_none() {
        state.start(Effect::CreateInvite { role: state.role, expiry: state.expiry });
    }
}
