//! The dashboard (`claudemesh dash`): its state, its actions, how daemon events change it (`apply`), how actions
//! change it (`update`), and its screen (`view.rs`). Nothing here does I/O: a send or a mesh switch is queued as a
//! `Request` that the loop hands to `Events::request`, which reports back with a `DaemonEvent`.

mod model;
mod shared;
mod shared_view;
mod view;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use ratatui::crossterm::event::KeyEvent;
use ratatui_textarea::TextArea;
use serde_json::Value;

use super::event::DaemonEvent;
pub(crate) use crate::proto::Priority;
pub(crate) use model::{DeliveryState, Msg, Peer, Presence};
pub(crate) use shared::{Pane, SharedPanes};
pub(crate) use view::Dashboard;

/// Where keys go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Focus {
    /// ↑↓ select a peer.
    #[default]
    Peers,
    /// ↑↓ scroll the stream.
    Stream,
    /// Keys edit the message.
    Compose,
    /// Keys edit the filter.
    Filter,
    /// Keys edit the memory search (the Memory pane).
    Query,
}

/// The compose box's priority toggle: next → low → now → next.
fn toggled(p: Priority) -> Priority {
    match p {
        Priority::Now => Priority::Next,
        Priority::Next => Priority::Low,
        Priority::Low => Priority::Now,
    }
}

/// Work only the loop may do (it needs the daemon): `Events::request` runs it and reports back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// `message.send`; the answer comes back as `DaemonEvent::SendResult { local, .. }`.
    Send { local: u64, mesh: Option<String>, to: String, body: String, priority: &'static str },
    /// Follow another mesh: the daemon subscription starts again on `mesh`.
    Switch { mesh: String },
    /// A read for a shared pane (`state.list`, `task.list`, `memory.recall`); the answer comes back as
    /// `DaemonEvent::CoordResult`.
    Coord { method: &'static str, params: Value },
}

/// A joined mesh, for the switcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MeshRef {
    pub slug: String,
    pub id: String,
}

/// The `@peer` completion popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completion {
    /// What was typed after `@`.
    pub prefix: String,
    /// Peer names starting with it, sorted.
    pub matches: Vec<String>,
    pub chosen: usize,
}

/// One line under the compose box: what the last send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// "Sent." (seed §13's delight beat).
    Sent,
    /// Queued by the daemon: the broker is unreachable now.
    Queued,
    /// The daemon refused the send; `reason` is the daemon's words.
    Failed { reason: String },
    /// Nothing to send, or nobody to send it to.
    Empty,
}

/// What the dashboard shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct DashState {
    /// The mesh shown (slug).
    pub mesh: Option<String>,
    /// Every joined mesh (slug and id), for the switcher and attestation checks.
    pub meshes: Vec<MeshRef>,
    /// Our own peer id (session key) in that mesh.
    pub me: Option<String>,
    /// The roster, in the daemon's order.
    pub peers: Vec<Peer>,
    /// The message stream, oldest first: received and sent, each once.
    pub messages: Vec<Msg>,
    /// Message id → index in `messages` (receipts find their row in O(1)).
    index: HashMap<String, usize>,
    /// Index of the selected peer among the peers the filter lets through.
    pub selected: usize,
    pub focus: Focus,
    /// The compose box (multi-line).
    pub compose: TextArea<'static>,
    pub priority: Priority,
    pub completion: Option<Completion>,
    /// Case-insensitive text the peers and the stream are filtered by (empty: everything).
    pub filter: String,
    /// The peer (id) whose verified key fingerprint is shown.
    pub fingerprint: Option<String>,
    /// The mesh switcher is open, with this row selected.
    pub switcher: Option<usize>,
    /// How many messages the stream is scrolled up from the newest.
    pub scroll: usize,
    pub notice: Option<Notice>,
    /// The clock, for "last seen" (moved by ticks; a frame only when a minute turns).
    pub now_ms: u64,
    /// What the right-hand side shows: the message stream or a shared pane.
    pub pane: Pane,
    /// The shared panes' data (state, tasks, memory search).
    pub shared: SharedPanes,
    /// Local ids of sends in flight.
    next_local: u64,
    /// Work for the loop (taken by `take_requests`).
    requests: Vec<Request>,
}

/// Dashboard actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DashAction {
    SelectNext,
    SelectPrev,
    /// Move focus: peers → stream → compose → peers.
    CycleFocus,
    Focus(Focus),
    /// A key for the compose box's editor.
    ComposeKey(KeyEvent),
    /// Complete `@peer` at the cursor (Tab), or move to the next candidate when the popup is open.
    Complete,
    /// Insert the chosen candidate and close the popup.
    AcceptCompletion,
    CloseCompletion,
    TogglePriority,
    /// A new line in the message (Alt-Enter, Ctrl-J).
    Newline,
    Send,
    /// A character typed into the filter, or Backspace.
    FilterChar(char),
    FilterBackspace,
    /// Leave the filter; `clear` empties it too.
    FilterDone {
        clear: bool,
    },
    /// Show or hide the selected peer's key fingerprint.
    ToggleFingerprint,
    OpenSwitcher,
    SwitcherNext,
    SwitcherPrev,
    /// Follow the mesh selected in the switcher.
    SwitcherPick,
    CloseSwitcher,
    ScrollUp(usize),
    ScrollDown(usize),
    /// The clock moved (`App` sends it on every tick).
    Clock(u64),
    /// Pasted text: into the filter while it is edited (first line), else into the compose box.
    Paste(String),
    /// Show the message stream or a shared pane (keys 1–4); a shared pane asks the daemon for fresh data.
    ShowPane(Pane),
    /// Move the selection in a shared pane.
    RowNext,
    RowPrev,
    /// Ask the daemon again for the pane shown (`r`).
    Refresh,
    /// A character typed into the memory search, or Backspace.
    QueryChar(char),
    QueryBackspace,
    /// Leave the memory search; `run` searches for what was typed.
    QueryDone {
        run: bool,
    },
}

impl DashState {
    /// Requests the loop must run (a send, a mesh switch); empties the queue.
    pub(crate) fn take_requests(&mut self) -> Vec<Request> {
        std::mem::take(&mut self.requests)
    }

    /// The peers the filter lets through, in order.
    pub(crate) fn visible_peers(&self) -> Vec<&Peer> {
        let f = self.filter.to_lowercase();
        self.peers.iter().filter(|p| f.is_empty() || p.matches(&f)).collect()
    }

    /// The selected peer (among the visible ones).
    pub(crate) fn selected_peer(&self) -> Option<&Peer> {
        self.visible_peers().get(self.selected).copied()
    }

    /// The mesh id of the mesh shown (for attestation checks).
    fn mesh_id(&self) -> Option<&str> {
        let slug = self.mesh.as_deref()?;
        self.meshes.iter().find(|m| m.slug == slug).map(|m| m.id.as_str())
    }

    /// A notification about the mesh shown (one without a `mesh` is taken as ours).
    fn shows(&self, v: &Value) -> bool {
        match (v.get("mesh").and_then(Value::as_str), self.mesh.as_deref()) {
            (Some(of), Some(shown)) => of == shown,
            _ => true,
        }
    }

    fn push_message(&mut self, msg: Msg) -> bool {
        if let Some(&i) = self.index.get(&msg.id) {
            return self.messages[i].merge(msg);
        }
        self.index.insert(msg.id.clone(), self.messages.len());
        self.messages.push(msg);
        if self.scroll > 0 {
            // Keep the same rows in view while scrolled up.
            self.scroll += 1;
        }
        true
    }

    fn clamp_selection(&mut self) {
        self.selected = self.selected.min(self.visible_peers().len().saturating_sub(1));
    }

    fn reverify(&mut self) {
        let mesh_id = self.mesh_id().map(str::to_string);
        for p in &mut self.peers {
            p.verify(mesh_id.as_deref());
        }
    }

    /// The word being typed at the cursor when it starts with `@` (without the `@`).
    fn mention_at_cursor(&self) -> Option<String> {
        let ratatui_textarea::DataCursor(row, col) = self.compose.cursor();
        let line = self.compose.lines().get(row)?;
        let before: String = line.chars().take(col).collect();
        let word = before.rsplit(char::is_whitespace).next().unwrap_or_default();
        word.strip_prefix('@').map(str::to_string)
    }

    fn insert_completion(&mut self, name: &str, typed: &str) {
        let rest: String = name.chars().skip(typed.chars().count()).collect();
        self.compose.insert_str(format!("{rest} "));
        self.completion = None;
    }
}

/// Applies a dashboard action; true when the state changed.
pub(crate) fn update(state: &mut DashState, action: DashAction) -> bool {
    match action {
        DashAction::SelectNext | DashAction::SelectPrev => {
            let before = state.selected;
            let last = state.visible_peers().len().saturating_sub(1);
            state.selected = match action {
                DashAction::SelectNext => (state.selected + 1).min(last),
                _ => state.selected.saturating_sub(1),
            };
            state.selected != before
        }
        DashAction::CycleFocus => {
            state.focus = match state.focus {
                Focus::Peers => Focus::Stream,
                Focus::Stream if state.pane == Pane::Messages => Focus::Compose,
                Focus::Stream | Focus::Compose | Focus::Filter | Focus::Query => Focus::Peers,
            };
            state.completion = None;
            true
        }
        DashAction::Focus(f) => {
            let changed = state.focus != f;
            state.focus = f;
            changed
        }
        DashAction::ComposeKey(key) => {
            state.notice = None;
            state.completion = None;
            state.compose.input(key);
            true
        }
        DashAction::Newline => {
            state.completion = None;
            state.compose.insert_newline();
            true
        }
        DashAction::Complete => complete(state),
        DashAction::AcceptCompletion => {
            let Some(c) = state.completion.clone() else { return false };
            if let Some(name) = c.matches.get(c.chosen) {
                state.insert_completion(name, &c.prefix);
            }
            true
        }
        DashAction::CloseCompletion => state.completion.take().is_some(),
        DashAction::TogglePriority => {
            state.priority = toggled(state.priority);
            true
        }
        DashAction::Send => send(state),
        DashAction::FilterChar(c) => {
            state.filter.push(c);
            state.selected = 0;
            state.scroll = 0;
            true
        }
        DashAction::FilterBackspace => {
            let changed = state.filter.pop().is_some();
            state.clamp_selection();
            changed
        }
        DashAction::FilterDone { clear } => {
            if clear {
                state.filter.clear();
            }
            state.focus = Focus::Peers;
            state.clamp_selection();
            true
        }
        DashAction::ToggleFingerprint => {
            let Some(id) = state.selected_peer().map(|p| p.id.clone()) else { return false };
            state.fingerprint = if state.fingerprint.as_deref() == Some(id.as_str()) { None } else { Some(id) };
            true
        }
        DashAction::OpenSwitcher => {
            let at = state.meshes.iter().position(|m| Some(&m.slug) == state.mesh.as_ref()).unwrap_or(0);
            state.switcher = Some(at);
            true
        }
        DashAction::SwitcherNext | DashAction::SwitcherPrev => {
            let Some(at) = state.switcher else { return false };
            let last = state.meshes.len().saturating_sub(1);
            let next = if action == DashAction::SwitcherNext { (at + 1).min(last) } else { at.saturating_sub(1) };
            state.switcher = Some(next);
            next != at
        }
        DashAction::SwitcherPick => {
            let Some(at) = state.switcher.take() else { return false };
            if let Some(m) = state.meshes.get(at).cloned()
                && state.mesh.as_deref() != Some(m.slug.as_str())
            {
                // A new mesh: nothing of the old one stays on screen.
                state.mesh = Some(m.slug.clone());
                state.me = None;
                state.peers.clear();
                state.messages.clear();
                state.index.clear();
                state.selected = 0;
                state.scroll = 0;
                state.fingerprint = None;
                state.notice = None;
                state.shared = SharedPanes::default();
                state.requests.push(Request::Switch { mesh: m.slug });
            }
            true
        }
        DashAction::CloseSwitcher => state.switcher.take().is_some(),
        DashAction::ScrollUp(n) => {
            let before = state.scroll;
            state.scroll = (state.scroll + n).min(state.messages.len().saturating_sub(1));
            state.scroll != before
        }
        DashAction::ScrollDown(n) => {
            let before = state.scroll;
            state.scroll = state.scroll.saturating_sub(n);
            state.scroll != before
        }
        DashAction::Paste(text) => {
            if state.switcher.is_some() {
                return false;
            }
            if state.focus == Focus::Filter {
                state.filter.push_str(text.lines().next().unwrap_or_default());
                state.selected = 0;
                return true;
            }
            state.focus = Focus::Compose;
            state.completion = None;
            state.notice = None;
            // Terminals send pasted line ends as CR.
            state.compose.insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
            true
        }
        DashAction::Clock(now) => {
            // Relative times show minutes at the finest: redraw only when a minute turns.
            let changed = now / 60_000 != state.now_ms / 60_000;
            // A shared pane on screen is read again every 10 s (lease expiries, memories of others); an answer
            // equal to what is shown draws nothing.
            if state.pane != Pane::Messages && now / REFRESH_MS != state.now_ms / REFRESH_MS {
                state.requests.extend(state.shared.refresh(state.pane, state.mesh.as_deref()));
            }
            state.now_ms = now;
            changed
        }
        DashAction::ShowPane(pane) => {
            if state.pane == pane {
                return false;
            }
            state.pane = pane;
            state.shared.selected = 0;
            state.completion = None;
            if matches!(state.focus, Focus::Compose | Focus::Query) {
                state.focus = Focus::Peers;
            }
            state.requests.extend(state.shared.refresh(pane, state.mesh.as_deref()));
            true
        }
        DashAction::RowNext | DashAction::RowPrev => {
            let before = state.shared.selected;
            let last = state.shared.rows(state.pane).saturating_sub(1);
            state.shared.selected = match action {
                DashAction::RowNext => (before + 1).min(last),
                _ => before.saturating_sub(1),
            };
            state.shared.selected != before
        }
        DashAction::Refresh => {
            state.requests.extend(state.shared.refresh(state.pane, state.mesh.as_deref()));
            false
        }
        DashAction::QueryChar(c) => {
            state.shared.query.push(c);
            true
        }
        DashAction::QueryBackspace => state.shared.query.pop().is_some(),
        DashAction::QueryDone { run } => {
            state.focus = Focus::Stream;
            if run {
                state.shared.searched = Some(state.shared.query.trim().to_string());
                state.shared.selected = 0;
                state.requests.extend(state.shared.refresh(Pane::Memory, state.mesh.as_deref()));
            }
            true
        }
    }
}

/// How often a shared pane on screen is read again.
const REFRESH_MS: u64 = 10_000;

fn complete(state: &mut DashState) -> bool {
    if let Some(c) = &mut state.completion {
        c.chosen = (c.chosen + 1) % c.matches.len().max(1);
        return true;
    }
    let Some(typed) = state.mention_at_cursor() else { return false };
    let me = state.me.clone();
    let lower = typed.to_lowercase();
    let mut matches: Vec<String> = state
        .peers
        .iter()
        .filter(|p| Some(&p.id) != me.as_ref() && p.name.to_lowercase().starts_with(&lower))
        .map(|p| p.name.clone())
        .collect();
    matches.sort();
    matches.dedup();
    match matches.len() {
        0 => false,
        1 => {
            state.insert_completion(&matches[0], &typed);
            true
        }
        _ => {
            state.completion = Some(Completion { prefix: typed, matches, chosen: 0 });
            true
        }
    }
}

/// The target and body of the compose box: a leading `@name` names a peer (`@group` a group, `@*` everyone);
/// without one the message goes to the selected peer.
pub(crate) fn target_and_body(state: &DashState) -> Option<(String, String)> {
    let text = state.compose.lines().join("\n");
    let trimmed = text.trim();
    if let Some(rest) = trimmed.strip_prefix('@') {
        let (word, body) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let to = if word == "*" {
            "*".to_string()
        } else if state.peers.iter().any(|p| p.name == word) {
            word.to_string()
        } else {
            format!("@{word}")
        };
        let body = body.trim();
        return (!word.is_empty() && !body.is_empty()).then(|| (to, body.to_string()));
    }
    let peer = state.selected_peer().filter(|p| Some(&p.id) != state.me.as_ref())?;
    (!trimmed.is_empty()).then(|| (peer.name.clone(), trimmed.to_string()))
}

fn send(state: &mut DashState) -> bool {
    state.completion = None;
    let Some((to, body)) = target_and_body(state) else {
        state.notice = Some(Notice::Empty);
        return true;
    };
    state.next_local += 1;
    let local = state.next_local;
    let priority = state.priority.as_str();
    let id = format!("local:{local}");
    state.push_message(Msg::outgoing(id, &to, priority, &body, state.now_ms));
    state.requests.push(Request::Send { local, mesh: state.mesh.clone(), to, body, priority });
    state.compose = TextArea::default();
    state.notice = None;
    state.scroll = 0;
    true
}

/// Applies what the daemon reported; true when the state changed.
pub(crate) fn apply(state: &mut DashState, event: &DaemonEvent) -> bool {
    match event {
        DaemonEvent::Connected { mesh } => {
            let changed = state.mesh.as_deref() != Some(mesh.as_str());
            state.mesh = Some(mesh.clone());
            state.reverify();
            // (Re)subscribed: what a shared pane shows may have moved while the feed was down.
            state.requests.extend(state.shared.refresh(state.pane, Some(mesh)));
            changed
        }
        DaemonEvent::CoordResult { method, result } => state.shared.answer(method, result),
        DaemonEvent::Coord { params, .. } if !state.shows(params) => false,
        DaemonEvent::Coord { method, params } => state.shared.notify(method, params),
        DaemonEvent::Meshes(list) => {
            state.meshes = list.iter().map(|(slug, id)| MeshRef { slug: slug.clone(), id: id.clone() }).collect();
            state.reverify();
            true
        }
        DaemonEvent::Roster { me, peers } => {
            state.me = Some(me.clone());
            let mesh_id = state.mesh_id().map(str::to_string);
            state.peers = peers.iter().filter_map(|p| Peer::from_json(p, mesh_id.as_deref())).collect();
            state.clamp_selection();
            true
        }
        DaemonEvent::PeerChanged { event, params } => peer_changed(state, event, params),
        // After a mesh switch, what the old subscription had already queued is not for this stream.
        DaemonEvent::Message(v) | DaemonEvent::Sent(v) | DaemonEvent::Receipt(v) if !state.shows(v) => false,
        DaemonEvent::Message(m) => match Msg::incoming(m) {
            Some(msg) => state.push_message(msg),
            None => false,
        },
        DaemonEvent::Sent(v) => match Msg::sent(v) {
            Some(msg) => state.push_message(msg),
            None => false,
        },
        DaemonEvent::SendResult { local, result } => send_result(state, *local, result),
        DaemonEvent::Receipt(v) => receipt(state, v),
        DaemonEvent::BrokerLink { .. } | DaemonEvent::Disconnected { .. } => false,
    }
}

fn peer_changed(state: &mut DashState, event: &str, params: &Value) -> bool {
    let mesh_id = state.mesh_id().map(str::to_string);
    match event {
        "peer.left" => {
            let Some(id) = params.get("id").and_then(Value::as_str) else { return false };
            // A peer that left stays listed as away until the next roster, like `peer.list` shows it.
            let Some(p) = state.peers.iter_mut().find(|p| p.id == id) else { return false };
            p.online = false;
            p.last_seen_ms = state.now_ms.max(p.last_seen_ms);
            true
        }
        _ => {
            let Some(peer) = params.get("peer").and_then(|p| Peer::from_json(p, mesh_id.as_deref())) else {
                return false;
            };
            match state.peers.iter_mut().find(|p| p.id == peer.id) {
                Some(p) => *p = peer,
                None => state.peers.push(peer),
            }
            state.clamp_selection();
            true
        }
    }
}

fn send_result(state: &mut DashState, local: u64, result: &Result<Value, String>) -> bool {
    let key = format!("local:{local}");
    let Some(i) = state.index.remove(&key) else { return false };
    match result {
        Ok(v) => {
            let queued = v.get("queued").and_then(Value::as_bool).unwrap_or(false);
            state.notice = Some(if queued { Notice::Queued } else { Notice::Sent });
            let id = v.get("id").and_then(Value::as_str).unwrap_or(&key).to_string();
            // The daemon's `message.sent` may already have put this message in the stream: keep one row.
            if let Some(&j) = state.index.get(&id) {
                state.messages[j].merge_result(v);
                state.messages.remove(i);
                state.index = state.messages.iter().enumerate().map(|(k, m)| (m.id.clone(), k)).collect();
            } else {
                let m = &mut state.messages[i];
                m.id = id.clone();
                m.merge_result(v);
                state.index.insert(id, i);
            }
        }
        Err(reason) => {
            state.notice = Some(Notice::Failed { reason: reason.clone() });
            state.messages[i].state = DeliveryState::Failed;
            state.index.insert(key, i);
        }
    }
    true
}

fn receipt(state: &mut DashState, v: &Value) -> bool {
    let (Some(id), Some(recipient)) = (v.get("id").and_then(Value::as_str), v.get("recipient").and_then(Value::as_str))
    else {
        return false;
    };
    let Some(new) = v.get("state").and_then(Value::as_str).and_then(DeliveryState::parse) else { return false };
    let Some(&i) = state.index.get(id) else { return false };
    let name = state.peers.iter().find(|p| p.id == recipient).map(|p| p.name.clone());
    state.messages[i].receipt(recipient, name, new)
}
