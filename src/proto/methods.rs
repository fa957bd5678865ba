//! Parameter, result and notification payload types of every v1 method. Field names are the wire names.

use serde::{Deserialize, Serialize};

use super::ids::{KeyHex, MeshId, MessageId};
use super::invite::Role;

// ---- method names -------------------------------------------------------------------------------------------

pub(crate) mod method {
    pub(crate) const AUTH_CHALLENGE: &str = "auth.challenge";
    pub(crate) const AUTH_HELLO: &str = "auth.hello";
    pub(crate) const MESH_CREATE: &str = "mesh.create";
    pub(crate) const MESH_INFO: &str = "mesh.info";
    pub(crate) const MESH_RENAME: &str = "mesh.rename";
    pub(crate) const MESH_LEAVE: &str = "mesh.leave";
    pub(crate) const PEER_LIST: &str = "peer.list";
    pub(crate) const PRESENCE_SET: &str = "presence.set";
    pub(crate) const GROUP_JOIN: &str = "group.join";
    pub(crate) const GROUP_LEAVE: &str = "group.leave";
    pub(crate) const MESSAGE_SEND: &str = "message.send";
    pub(crate) const MESSAGE_ACK: &str = "message.ack";
    pub(crate) const MESSAGE_STATUS: &str = "message.status";
    /// Sent by a recipient (surfaced, read); the broker also pushes it, as a notification, to the sender.
    pub(crate) const MESSAGE_RECEIPT: &str = "message.receipt";
    pub(crate) const INBOX_SYNC: &str = "inbox.sync";
    pub(crate) const INVITE_CREATE: &str = "invite.create";
    pub(crate) const INVITE_REDEEM: &str = "invite.redeem";
    pub(crate) const INVITE_LIST: &str = "invite.list";
    pub(crate) const INVITE_REVOKE: &str = "invite.revoke";
    pub(crate) const PING: &str = "ping";
    // server notifications
    pub(crate) const MESSAGE_DELIVER: &str = "message.deliver";
    pub(crate) const INBOX_SYNCED: &str = "inbox.synced";
    pub(crate) const PEER_JOINED: &str = "peer.joined";
    pub(crate) const PEER_LEFT: &str = "peer.left";
    pub(crate) const PEER_UPDATED: &str = "peer.updated";
    pub(crate) const MESH_RENAMED: &str = "mesh.renamed";
}

// ---- shared types -------------------------------------------------------------------------------------------

/// A peer's self-reported activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    #[default]
    Idle,
    Working,
    Dnd,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Working => "working",
            Status::Dnd => "dnd",
        }
    }
}

/// How urgently a message should surface in the recipient's Claude Code session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Priority {
    Now,
    #[default]
    Next,
    Low,
}

impl Priority {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Priority::Now => "now",
            Priority::Next => "next",
            Priority::Low => "low",
        }
    }
}

/// A member's proof that a session key speaks for it (signature over `attestation_bytes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Attestation {
    pub issued_at_ms: u64,
    pub signature: String,
}

/// One group membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GroupRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A peer as other peers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PeerInfo {
    /// The peer's session key: its stable id and the key messages are sealed to.
    pub id: KeyHex,
    pub name: String,
    pub member_key: KeyHex,
    pub attestation: Attestation,
    pub role: Role,
    pub status: Status,
    pub summary: String,
    pub visible: bool,
    pub groups: Vec<GroupRef>,
    pub online: bool,
    pub last_seen_ms: u64,
    /// The session's working directory as it reported it (`~` for the home directory); absent when never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The git branch checked out there; absent when not a git checkout or never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

// ---- auth ---------------------------------------------------------------------------------------------------

/// Sent by the broker as the first frame of every connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChallengeParams {
    /// 32 random bytes, base64url without padding.
    pub nonce: String,
    pub protocol: String,
    pub broker_version: String,
    pub server_time_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HelloParams {
    pub mesh_id: MeshId,
    pub member_key: KeyHex,
    pub session_key: KeyHex,
    pub attestation: Attestation,
    /// Requested display name; the broker may add a suffix to keep names unique in the mesh.
    pub name: String,
    /// Free-form client description (`claudemesh-cli/0.1.0`), at most 64 chars.
    #[serde(default)]
    pub client: Option<String>,
    /// Session-key signature over `hello_bytes`.
    pub signature: String,
    /// `true` (default): this connection holds the peer's presence and receives its deliveries. `false`: a
    /// control connection for short-lived calls; it gets no deliveries, announces nothing, and never replaces
    /// the peer's receiving connection.
    #[serde(default = "yes")]
    pub receive: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HelloResult {
    pub peer: PeerInfo,
    pub mesh: MeshSummary,
    /// Deliveries queued for this peer; they follow as `message.deliver`, then one `inbox.synced`.
    pub backlog: u64,
    pub grace_secs: u64,
    pub ping_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MeshSummary {
    pub id: MeshId,
    pub name: String,
}

// ---- mesh ---------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MeshCreateParams {
    pub mesh_id: MeshId,
    pub name: String,
    pub owner_key: KeyHex,
    /// Owner-key signature over `mesh_create_bytes`.
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MeshInfoResult {
    pub id: MeshId,
    pub name: String,
    pub owner_key: KeyHex,
    pub created_at_ms: u64,
    pub members: u64,
    pub peers_online: u64,
    pub your_role: Role,
    pub limits: Limits,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Limits {
    pub max_frame_bytes: u64,
    pub max_body_bytes: u64,
    pub max_recipients: u64,
    pub default_ttl_secs: u64,
    pub max_ttl_secs: u64,
    pub send_rate_per_sec: u64,
    pub send_burst: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MeshRenameParams {
    pub name: String,
}

// ---- peers, presence, groups --------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PeerListResult {
    pub peers: Vec<PeerInfo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PresenceSetParams {
    #[serde(default)]
    pub status: Option<Status>,
    /// At most 280 chars.
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub visible: Option<bool>,
    /// A new display name (1-64 characters, unique in the mesh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the session works (at most 512 characters; empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Its git branch (at most 255 characters; empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupParams {
    pub name: String,
    #[serde(default)]
    pub role: Option<String>,
}

/// Result of presence.set / group.join / group.leave: the caller's peer as others now see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PeerResult {
    pub peer: PeerInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PeerLeftParams {
    pub id: KeyHex,
    pub name: String,
}

// ---- messages -----------------------------------------------------------------------------------------------

/// One recipient's sealed copy: `crypto_box_easy(plaintext, nonce, recipient_x25519, sender_x25519)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope {
    pub to: KeyHex,
    /// 24 bytes, standard base64.
    pub nonce: String,
    /// MAC‖ciphertext, standard base64.
    pub ciphertext: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendParams {
    /// Client message id (UUIDv7); (sender, id, recipient) is the idempotency key.
    pub id: MessageId,
    /// Target as the sender wrote it: `<peer name>`, `@group` or `*` (for receipts and display).
    pub to: String,
    #[serde(default)]
    pub priority: Priority,
    /// Time to live while queued; default and maximum in `Limits`.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    pub envelopes: Vec<Envelope>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SendResult {
    pub id: MessageId,
    /// Deliveries newly stored by this call.
    pub accepted: u64,
    /// Deliveries that already existed (a retry); not stored again.
    pub duplicates: u64,
    pub expires_at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckParams {
    /// Broker delivery ids from `message.deliver`.
    pub deliveries: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AckResult {
    pub acked: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusParams {
    pub id: MessageId,
}

/// Per-recipient delivery state as the broker knows it. Progress runs queued → delivered → surfaced → read;
/// `expired` ends a copy that was never delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeliveryState {
    Queued,
    Delivered,
    Expired,
    /// The recipient's daemon handed the message to Claude Code.
    Surfaced,
    /// A person or the model has seen the message.
    Read,
}

impl DeliveryState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Expired => "expired",
            DeliveryState::Surfaced => "surfaced",
            DeliveryState::Read => "read",
        }
    }

    /// Position on the way to the reader; `None` for `expired`, which is off that path.
    fn progress(self) -> Option<u8> {
        match self {
            DeliveryState::Queued => Some(0),
            DeliveryState::Delivered => Some(1),
            DeliveryState::Surfaced => Some(2),
            DeliveryState::Read => Some(3),
            DeliveryState::Expired => None,
        }
    }

    /// A message's overall state: the least advanced recipient state, leaving out expired copies (`queued` while
    /// any copy is queued, `read` only when every live copy is read). `expired` only when every copy expired;
    /// `delivered` for a message without recipients.
    pub(crate) fn least_advanced(states: impl IntoIterator<Item = DeliveryState>) -> DeliveryState {
        let mut any = false;
        let mut least: Option<DeliveryState> = None;
        for s in states {
            any = true;
            let Some(p) = s.progress() else { continue };
            if least.and_then(DeliveryState::progress).is_none_or(|l| p < l) {
                least = Some(s);
            }
        }
        match least {
            Some(s) => s,
            None if any => DeliveryState::Expired,
            None => DeliveryState::Delivered,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecipientStatus {
    pub peer: KeyHex,
    pub name: String,
    pub state: DeliveryState,
    #[serde(default)]
    pub delivered_at_ms: Option<u64>,
    /// When the recipient's daemon handed it to Claude Code (absent from brokers before receipts).
    #[serde(default)]
    pub surfaced_at_ms: Option<u64>,
    /// How it was surfaced: `channel`, `inbox_socket`, `hook` or `cli` (kept as text so a newer path still reads).
    #[serde(default)]
    pub surfaced_via: Option<String>,
    #[serde(default)]
    pub read_at_ms: Option<u64>,
    pub attempts: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusResult {
    pub id: MessageId,
    pub to: String,
    pub priority: Priority,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// The least advanced recipient state (see `DeliveryState::least_advanced`).
    pub state: DeliveryState,
    pub recipients: Vec<RecipientStatus>,
}

/// A receipt a recipient reports after the message reached its inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReceiptState {
    Surfaced,
    Read,
}

impl From<ReceiptState> for DeliveryState {
    fn from(r: ReceiptState) -> Self {
        match r {
            ReceiptState::Surfaced => DeliveryState::Surfaced,
            ReceiptState::Read => DeliveryState::Read,
        }
    }
}

/// The path by which a message reached Claude Code or a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReceiptVia {
    /// The push-pipe's `claude/channel` notification.
    Channel,
    /// Claude Code's own inbox socket (the fallback when the channel is not registered).
    InboxSocket,
    /// A Claude Code hook after the model's turn.
    Hook,
    /// The `inbox` listing in the CLI.
    Cli,
}

impl ReceiptVia {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReceiptVia::Channel => "channel",
            ReceiptVia::InboxSocket => "inbox_socket",
            ReceiptVia::Hook => "hook",
            ReceiptVia::Cli => "cli",
        }
    }
}

/// Most message ids one `message.receipt` may carry.
pub(crate) const MAX_RECEIPT_IDS: usize = 1024;

/// `message.receipt` from the recipient: these messages (sent to the caller) reached `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReceiptParams {
    /// 1 to `MAX_RECEIPT_IDS` message ids; ids the caller never received are ignored.
    pub ids: Vec<MessageId>,
    pub state: ReceiptState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<ReceiptVia>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReceiptResult {
    /// Delivery rows that moved forward (a receipt that would move a row back, or repeat it, counts 0).
    pub updated: u64,
}

/// Pushed to the sender's live connection when a recipient's receipt moved one of its deliveries forward.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReceiptNotice {
    pub id: MessageId,
    /// The recipient's session key.
    pub recipient: KeyHex,
    /// `delivered` (the recipient's daemon acknowledged it), `surfaced` or `read`.
    pub state: DeliveryState,
    #[serde(default)]
    pub via: Option<ReceiptVia>,
    pub at_ms: u64,
}

/// Pushed to a recipient; acknowledge with `message.ack` after storing it durably.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeliverParams {
    /// Broker delivery id (what `message.ack` takes).
    pub delivery: u64,
    pub id: MessageId,
    /// Sender session key; the envelope only opens under this key, which is what proves the sender.
    pub from: KeyHex,
    pub from_name: String,
    pub from_member: KeyHex,
    pub to: String,
    pub priority: Priority,
    pub sent_at_ms: u64,
    pub nonce: String,
    pub ciphertext: String,
    /// 1 on first push, higher on redelivery.
    pub attempt: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InboxSyncedParams {
    pub count: u64,
}

/// What the sender seals: the body plus the ids that bind it to its envelope (so the broker cannot replay a
/// ciphertext under another message id or mesh).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SealedBody {
    pub v: u32,
    pub id: MessageId,
    pub mesh: MeshId,
    pub kind: String,
    pub body: String,
    pub sent_at_ms: u64,
}

// ---- invites ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteCreateParams {
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InviteCreateResult {
    pub invite_id: String,
    pub expires_at: u64,
    pub uses: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedeemParams {
    pub token: String,
    pub member_key: KeyHex,
    pub name: String,
    /// New member key's signature over `redeem_bytes`.
    pub signature: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RedeemResult {
    pub mesh: MeshSummary,
    pub role: Role,
    pub already_member: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeliveryState::*;

    #[test]
    fn overall_state_is_the_least_advanced_live_copy() {
        assert_eq!(DeliveryState::least_advanced([Read, Queued, Surfaced]), Queued);
        assert_eq!(DeliveryState::least_advanced([Read, Delivered, Surfaced]), Delivered);
        assert_eq!(DeliveryState::least_advanced([Read, Surfaced]), Surfaced);
        assert_eq!(DeliveryState::least_advanced([Read, Read]), Read);
        assert_eq!(DeliveryState::least_advanced([Expired, Read]), Read, "an expired copy does not hold it back");
        assert_eq!(DeliveryState::least_advanced([Expired, Expired]), Expired);
        assert_eq!(DeliveryState::least_advanced([]), Delivered);
    }

    #[test]
    fn receipt_params_refuse_unknown_states_and_paths() {
        let id = MessageId::generate();
        let ok: ReceiptParams =
            serde_json::from_value(serde_json::json!({"ids": [id], "state": "surfaced", "via": "inbox_socket"}))
                .unwrap();
        assert_eq!((ok.state, ok.via), (ReceiptState::Surfaced, Some(ReceiptVia::InboxSocket)));
        for bad in [
            serde_json::json!({"ids": [id], "state": "delivered"}),
            serde_json::json!({"ids": [id], "state": "read", "via": "pigeon"}),
            serde_json::json!({"ids": [id], "state": "read", "extra": 1}),
        ] {
            assert!(serde_json::from_value::<ReceiptParams>(bad.clone()).is_err(), "{bad}");
        }
    }
}

/// One invite as `invite.list` reports it (never the token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InviteSummary {
    pub id: String,
    pub role: String,
    /// Unix seconds.
    pub expires_at: u64,
    pub max_uses: u32,
    pub uses: u32,
    pub created_at_ms: u64,
    pub revoked_at_ms: Option<u64>,
    /// The issuing member key (hex).
    pub issuer: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InviteListResult {
    pub invites: Vec<InviteSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteRevokeParams {
    pub invite_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InviteRevokeResult {
    pub invite_id: String,
    /// `false` when it had been revoked before.
    pub revoked: bool,
}
