//! The router: resolves the current view from a declarative flow (a table of steps with conditions over the
//! flow state) plus an overlay stack. Pure: no I/O, no terminal; flow tests drive it with synthetic actions.

use super::flows::{FlowState, steps};
use super::overlay::Overlay;

/// A guided flow or the dashboard.
#[allow(dead_code, reason = "seam: the flows and dashboard work construct these")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowId {
    /// Bare `claudemesh`: first run, mesh picker, handoff.
    Launch,
    /// `claudemesh <invite-url>` or an invite in the clipboard.
    Join,
    /// `claudemesh new` without a name.
    New,
    /// `claudemesh invite` on a terminal without flags.
    Invite,
    /// `claudemesh dash`.
    Dash,
}

/// Every full screen a flow can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScreenId {
    Welcome,
    MeshPicker,
    JoinConfirm,
    NewName,
    InviteOptions,
    InviteUrl,
    Dashboard,
    /// Terminal step: the app stops and execs `claude`; never drawn.
    Handoff,
    /// Terminal step: the flow is over without a handoff (e.g. the invite URL was shown and copied).
    Done,
}

/// One row of a flow table: the screen, whether it applies to this state, and whether it is already done.
#[derive(Clone, Copy)]
pub(crate) struct Step {
    pub screen: ScreenId,
    /// The step is skipped when this is false (`always` for unconditional steps).
    pub show: fn(&FlowState) -> bool,
    /// The step is passed when this is true (`never` for the terminal step).
    pub done: fn(&FlowState) -> bool,
}

/// For unconditional `show`.
pub(crate) fn always(_: &FlowState) -> bool {
    true
}

/// For `done` of a terminal step.
pub(crate) fn never(_: &FlowState) -> bool {
    false
}

/// What is on screen: a flow screen, or the top overlay above it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum View {
    Screen(ScreenId),
    Overlay(Overlay),
}

/// The current flow and the overlays pushed above it.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    flow: FlowId,
    overlays: Vec<Overlay>,
}

impl Router {
    pub(crate) fn new(flow: FlowId) -> Self {
        Self { flow, overlays: Vec::new() }
    }

    /// The first step that applies and is not done; the last step when all are done.
    pub(crate) fn screen(&self, state: &FlowState) -> ScreenId {
        resolve(steps(self.flow), state)
    }

    /// The top overlay if any, else the flow's screen.
    pub(crate) fn view(&self, state: &FlowState) -> View {
        match self.overlays.last() {
            Some(o) => View::Overlay(o.clone()),
            None => View::Screen(self.screen(state)),
        }
    }

    pub(crate) fn overlays(&self) -> &[Overlay] {
        &self.overlays
    }

    /// Pushes `overlay`; an overlay of the same kind already on the stack is replaced (no duplicates).
    pub(crate) fn push(&mut self, overlay: Overlay) -> bool {
        let before = self.overlays.clone();
        self.overlays.retain(|o| !o.same_kind(&overlay));
        self.overlays.push(overlay);
        self.overlays != before
    }

    /// Removes the top overlay; false when there was none.
    pub(crate) fn pop(&mut self) -> bool {
        self.overlays.pop().is_some()
    }

    /// Removes every overlay matching `pred`; true when one was removed.
    pub(crate) fn remove(&mut self, pred: impl Fn(&Overlay) -> bool) -> bool {
        let len = self.overlays.len();
        self.overlays.retain(|o| !pred(o));
        self.overlays.len() != len
    }

    /// Replaces every overlay with what `f` returns (`None` drops it); true when anything changed.
    pub(crate) fn update_overlays(&mut self, f: impl Fn(&Overlay) -> Option<Overlay>) -> bool {
        let next: Vec<Overlay> = self.overlays.iter().filter_map(&f).collect();
        let changed = next != self.overlays;
        self.overlays = next;
        changed
    }
}

/// The resolution rule, over any table (unit-tested with small tables).
fn resolve(table: &[Step], state: &FlowState) -> ScreenId {
    table
        .iter()
        .find(|step| (step.show)(state) && !(step.done)(state))
        .or(table.last())
        .map_or(ScreenId::Done, |step| step.screen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_hidden_and_done_steps_and_ends_on_the_last() {
        let table = [
            Step { screen: ScreenId::Welcome, show: |s| s.first_run, done: |s| s.welcomed },
            Step { screen: ScreenId::MeshPicker, show: always, done: |s| s.mesh.is_some() },
            Step { screen: ScreenId::Handoff, show: always, done: |_| true },
        ];
        let mut s = FlowState { first_run: true, ..FlowState::default() };
        assert_eq!(resolve(&table, &s), ScreenId::Welcome);
        s.welcomed = true;
        assert_eq!(resolve(&table, &s), ScreenId::MeshPicker);
        s.first_run = false;
        s.mesh = Some("team".into());
        assert_eq!(resolve(&table, &s), ScreenId::Handoff);
        assert_eq!(resolve(&[], &s), ScreenId::Done);
    }

    #[test]
    fn the_top_overlay_wins_and_pushing_a_kind_twice_keeps_one() {
        let mut r = Router::new(FlowId::Dash);
        let s = FlowState::default();
        assert_eq!(r.view(&s), View::Screen(ScreenId::Dashboard));
        assert!(r.push(Overlay::BrokerDisconnected));
        assert!(!r.push(Overlay::BrokerDisconnected));
        assert!(r.push(Overlay::Help));
        assert_eq!(r.view(&s), View::Overlay(Overlay::Help));
        assert!(r.pop());
        assert_eq!(r.view(&s), View::Overlay(Overlay::BrokerDisconnected));
        assert!(r.remove(|o| *o == Overlay::BrokerDisconnected));
        assert_eq!(r.view(&s), View::Screen(ScreenId::Dashboard));
        assert!(!r.pop());
    }
}
