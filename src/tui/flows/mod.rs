//! The guided flows (launch, join, new, invite): their state, their actions, their declarative tables and their
//! screens. Owned by the flows work; the router reads `steps`, the app calls `update`.

mod table;
#[cfg(test)]
mod tests;
pub(crate) mod welcome;

pub(crate) use table::steps;

/// What the flows know and have decided so far. The flow tables' conditions read only this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlowState {
    /// No `state.json` / no mesh joined yet.
    pub first_run: bool,
    /// The welcome was acknowledged.
    pub welcomed: bool,
    /// The meshes this machine has joined (slugs), for the picker.
    pub meshes: Vec<String>,
    /// The mesh chosen (flag, cache, picker, or the one just created/joined).
    pub mesh: Option<String>,
    /// The confirm screen was accepted (join).
    pub confirmed: bool,
    /// The name typed for a new mesh.
    pub new_name: Option<String>,
}

impl FlowState {
    /// Two or more meshes and none chosen: the one case the picker is shown.
    pub(crate) fn ambiguous_mesh(&self) -> bool {
        self.mesh.is_none() && self.meshes.len() >= 2
    }
}

/// A step of a flow, emitted by its screens.
#[allow(dead_code, reason = "seam: the flows and dashboard work construct these")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlowAction {
    /// The welcome was read (Enter).
    Welcomed,
    /// A mesh was picked.
    PickMesh(String),
    /// The confirm screen was accepted.
    Confirm,
    /// The new mesh's name was entered.
    NewName(String),
}

/// Applies a flow action; true when the state changed. The only place flow state changes.
pub(crate) fn update(state: &mut FlowState, action: FlowAction) -> bool {
    let before = state.clone();
    match action {
        FlowAction::Welcomed => state.welcomed = true,
        FlowAction::PickMesh(slug) => state.mesh = Some(slug),
        FlowAction::Confirm => state.confirmed = true,
        FlowAction::NewName(name) => state.new_name = Some(name),
    }
    *state != before
}
