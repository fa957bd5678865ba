//! The dashboard's rows, typed from the daemon's JSON: peers (with their verified fingerprint) and messages (with
//! each recipient's receipt state). Pure.

use serde_json::Value;

use crate::crypto::{fingerprint, verify_hex};
use crate::proto::{KeyHex, attestation_bytes};

/// What a peer is doing, as its icon shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Idle,
    Working,
    Dnd,
    /// Not connected now.
    Away,
}

/// One peer of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    /// Session key (hex).
    pub id: String,
    pub name: String,
    pub presence: Presence,
    pub online: bool,
    pub summary: String,
    pub cwd: Option<String>,
    pub branch: Option<String>,
    pub last_seen_ms: u64,
    /// Fingerprint of the member key the session key is attested by.
    pub fingerprint: String,
    /// The attestation verifies under this mesh (`false` until the mesh id is known).
    pub verified: bool,
    member_key: String,
    attestation: (u64, String),
}

impl Peer {
    /// From `peer.list` / `peer.joined` JSON; `mesh_id` lets the attestation be checked.
    pub(crate) fn from_json(v: &Value, mesh_id: Option<&str>) -> Option<Peer> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let online = v.get("online").and_then(Value::as_bool).unwrap_or(false);
        let presence = match (online, v.get("status").and_then(Value::as_str)) {
            (false, _) => Presence::Away,
            (true, Some("working")) => Presence::Working,
            (true, Some("dnd")) => Presence::Dnd,
            (true, _) => Presence::Idle,
        };
        let member_key = s("member_key").unwrap_or_default();
        let fingerprint = member_key.parse::<KeyHex>().map(|k| fingerprint(k.bytes())).unwrap_or_default();
        let attestation = (
            v.pointer("/attestation/issued_at_ms").and_then(Value::as_u64).unwrap_or(0),
            v.pointer("/attestation/signature").and_then(Value::as_str).unwrap_or_default().to_string(),
        );
        let mut peer = Peer {
            id: s("id")?,
            name: s("name")?,
            presence,
            online,
            summary: s("summary").unwrap_or_default(),
            cwd: s("cwd").filter(|c| !c.is_empty()),
            branch: s("branch").filter(|b| !b.is_empty()),
            last_seen_ms: v.get("last_seen_ms").and_then(Value::as_u64).unwrap_or(0),
            fingerprint,
            verified: false,
            member_key,
            attestation,
        };
        peer.verify(mesh_id);
        Some(peer)
    }

    /// Checks that the member key signed this session key for `mesh_id`.
    pub(crate) fn verify(&mut self, mesh_id: Option<&str>) {
        self.verified = mesh_id.is_some_and(|mesh| {
            let Ok(member) = self.member_key.parse::<KeyHex>() else { return false };
            let signed = attestation_bytes(mesh, &self.member_key, &self.id, self.attestation.0);
            verify_hex(member.bytes(), &signed, &self.attestation.1).is_ok()
        });
    }

    /// `filter` (lowercase) appears in the name, summary, cwd or branch.
    pub(crate) fn matches(&self, filter: &str) -> bool {
        [Some(&self.name), Some(&self.summary), self.cwd.as_ref(), self.branch.as_ref()]
            .into_iter()
            .flatten()
            .any(|s| s.to_lowercase().contains(filter))
    }
}

/// Where a message is on its way to the reader. `Sending` and `Failed` are local (the daemon has not answered, or
/// refused); `Received` marks a message to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DeliveryState {
    Failed,
    Sending,
    Queued,
    Delivered,
    Surfaced,
    Read,
    Received,
}

impl DeliveryState {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => DeliveryState::Queued,
            "delivered" => DeliveryState::Delivered,
            "surfaced" => DeliveryState::Surfaced,
            "read" => DeliveryState::Read,
            _ => return None,
        })
    }
}

/// One recipient of a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recipient {
    pub id: String,
    pub name: String,
    pub state: DeliveryState,
}

/// One message in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Msg {
    pub id: String,
    /// Sender name (empty for our own `cli` session, shown as "you").
    pub from: String,
    pub outgoing: bool,
    /// The target as written (`bob`, `@backend`, `*`).
    pub to: String,
    pub priority: String,
    pub body: String,
    pub at_ms: u64,
    pub recipients: Vec<Recipient>,
    /// Ours: the least advanced recipient state (or the local state); theirs: `Received`.
    pub state: DeliveryState,
}

impl Msg {
    /// Ours, before the daemon answered.
    pub(crate) fn outgoing(id: String, to: &str, priority: &str, body: &str, at_ms: u64) -> Msg {
        Msg {
            id,
            from: String::new(),
            outgoing: true,
            to: to.to_string(),
            priority: priority.to_string(),
            body: body.to_string(),
            at_ms,
            recipients: Vec::new(),
            state: DeliveryState::Sending,
        }
    }

    /// `inbox.message`.
    pub(crate) fn incoming(v: &Value) -> Option<Msg> {
        Some(Msg {
            id: v.get("id")?.as_str()?.to_string(),
            from: v.pointer("/from/name").and_then(Value::as_str).unwrap_or_default().to_string(),
            outgoing: false,
            to: v.get("to").and_then(Value::as_str).unwrap_or_default().to_string(),
            priority: v.get("priority").and_then(Value::as_str).unwrap_or("next").to_string(),
            body: v.get("body").and_then(Value::as_str).unwrap_or_default().to_string(),
            at_ms: v.get("sent_at_ms").and_then(Value::as_u64).unwrap_or(0),
            recipients: Vec::new(),
            state: DeliveryState::Received,
        })
    }

    /// `message.sent` (any session of this home).
    pub(crate) fn sent(v: &Value) -> Option<Msg> {
        let mut m = Msg::outgoing(
            v.get("id")?.as_str()?.to_string(),
            v.get("to").and_then(Value::as_str).unwrap_or_default(),
            v.get("priority").and_then(Value::as_str).unwrap_or("next"),
            v.get("body").and_then(Value::as_str).unwrap_or_default(),
            v.get("sent_at_ms").and_then(Value::as_u64).unwrap_or(0),
        );
        // Another session of this home (a Claude Code session) shows under its own name; ours is "you".
        if v.get("session").and_then(Value::as_str).is_some_and(|s| s != crate::tui::event::SESSION) {
            m.from = v.get("from").and_then(Value::as_str).unwrap_or_default().to_string();
        }
        m.merge_result(v);
        Some(m)
    }

    /// Folds a `message.send` result or `message.sent` notice in: recipients start `queued`.
    pub(crate) fn merge_result(&mut self, v: &Value) {
        if let Some(list) = v.get("recipients").and_then(Value::as_array) {
            for r in list {
                let (Some(id), Some(name)) =
                    (r.get("id").and_then(Value::as_str), r.get("name").and_then(Value::as_str))
                else {
                    continue;
                };
                if !self.recipients.iter().any(|x| x.id == id) {
                    self.recipients.push(Recipient {
                        id: id.to_string(),
                        name: name.to_string(),
                        state: DeliveryState::Queued,
                    });
                }
            }
        }
        // The daemon has it: from here on it is at least queued.
        if self.state == DeliveryState::Sending {
            self.state = DeliveryState::Queued;
        }
        self.settle();
    }

    /// A second report of the same message (the daemon's notice and the send's answer): keep the furthest.
    pub(crate) fn merge(&mut self, other: Msg) -> bool {
        let before = self.clone();
        for r in other.recipients {
            match self.recipients.iter_mut().find(|x| x.id == r.id) {
                Some(x) => x.state = x.state.max(r.state),
                None => self.recipients.push(r),
            }
        }
        self.settle();
        *self != before
    }

    /// A receipt moved `recipient` to `state` (never backwards).
    pub(crate) fn receipt(&mut self, recipient: &str, name: Option<String>, state: DeliveryState) -> bool {
        match self.recipients.iter_mut().find(|r| r.id == recipient) {
            Some(r) if r.state >= state => return false,
            Some(r) => r.state = state,
            None => {
                self.recipients.push(Recipient { id: recipient.to_string(), name: name.unwrap_or_default(), state })
            }
        }
        self.settle();
        true
    }

    /// The overall state: the least advanced recipient; with none yet, what is known locally.
    fn settle(&mut self) {
        if !self.outgoing {
            return;
        }
        if let Some(least) = self.recipients.iter().map(|r| r.state).min() {
            self.state = least;
        }
    }

    /// `filter` (lowercase) appears in the sender, target or body.
    pub(crate) fn matches(&self, filter: &str) -> bool {
        [&self.from, &self.to, &self.body].into_iter().any(|s| s.to_lowercase().contains(filter))
    }
}
