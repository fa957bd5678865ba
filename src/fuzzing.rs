//! Fuzz entry points: the four places untrusted bytes enter — JSON-RPC frames, invite links, policy files and sealed
//! envelopes — each with the properties it must keep. The cargo-fuzz targets in `fuzz/` call these, and
//! `tests/fuzz_corpus.rs` replays the committed corpus through them on stable (docs/fuzzing.md). Not an API.
//!
//! Returning means the input was handled; a panic means a property broke, which is how a fuzz target reports.
// Panicking on a broken property is this module's whole job (the fuzzer then keeps the input that broke it).
#![allow(clippy::panic)]

use std::path::Path;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::client::{OpenError, open_sealed};
use crate::crypto::{PairKey, SigningKey, x25519_public};
use crate::policy::{ApprovalMode, Decision, OpClass, Operation, Origin, Policy, PolicyError};
use crate::proto::{
    AckParams, ChallengeParams, DeliverParams, ErrorCode, GroupParams, HelloParams, InboxSyncedParams, Incoming,
    Invite, InviteCreateParams, InviteRevokeParams, KeyHex, MeshCreateParams, MeshId, MeshRenameParams, MessageId,
    PeerLeftParams, PresenceSetParams, Priority, ReceiptNotice, ReceiptParams, RedeemParams, SealedBody, SendParams,
    StatusParams, decode_frame, encode_error, encode_notification, encode_request, encode_result, method,
};

/// The most an error reply may add to the id it echoes: a malformed frame must not buy a large answer.
const MAX_ERROR_REPLY_OVERHEAD: usize = 512;

// ---- JSON-RPC frames -----------------------------------------------------------------------------------------

/// One frame as the broker, the daemon's local API and the clients receive it (`proto::decode_frame`), and one
/// line as the push-pipe reads it from Claude Code (`mcp::handle_line`).
///
/// Properties: no panic; a decoded frame re-encodes to one line that decodes to the same frame; a refused frame
/// gets a parse or invalid-request error whose one-line reply is bounded and, when it carries an id, decodes as
/// that error; typed params the broker or a client accepts re-serialize to params it accepts again, unchanged.
pub fn frame(data: &[u8]) {
    push_pipe_line(data);
    // WebSocket text frames and our line readers only ever hand over UTF-8.
    let Ok(text) = std::str::from_utf8(data) else { return };
    match decode_frame(text) {
        Ok(incoming) => {
            let again = encode(&incoming);
            assert!(!again.contains('\n'), "an encoded frame spans lines: {again:?}");
            assert_eq!(decode_frame(&again), Ok(incoming.clone()), "decode → encode → decode changed {text:?}");
            typed_params(&incoming);
        }
        Err((id, error)) => {
            assert!(id.is_null() || id.is_string() || id.is_i64() || id.is_u64(), "echoed a bad id {id}");
            assert!(
                matches!(error.kind(), Some(ErrorCode::ParseError | ErrorCode::InvalidRequest)),
                "a malformed frame got {error:?}"
            );
            let reply = encode_error(&id, &error);
            assert!(!reply.contains('\n'), "an error reply spans lines: {reply:?}");
            assert!(reply.len() <= id.to_string().len() + MAX_ERROR_REPLY_OVERHEAD, "error reply too large: {reply}");
            if !id.is_null() {
                let decoded = decode_frame(&reply);
                assert_eq!(decoded, Ok(Incoming::Response { id, outcome: Err(error) }), "error reply {reply}");
            }
        }
    }
}

/// Encodes a decoded frame again with the encoders the product sends with.
fn encode(incoming: &Incoming) -> String {
    match incoming {
        Incoming::Request { id, method, params } => match id.as_u64() {
            Some(n) => encode_request(n, method, params),
            // `encode_request` takes the u64 ids we number our own requests with; a peer's string or negative ids
            // go out as they came.
            None => json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string(),
        },
        Incoming::Notification { method, params } => encode_notification(method, params),
        Incoming::Response { id, outcome: Ok(result) } => encode_result(id, result),
        Incoming::Response { id, outcome: Err(error) } => encode_error(id, error),
    }
}

/// Params parsed into the type the receiving side parses them into (the broker for requests, a client for the
/// broker's notifications).
fn typed_params(incoming: &Incoming) {
    let (request, name, params) = match incoming {
        Incoming::Request { method, params, .. } => (true, method.as_str(), params),
        Incoming::Notification { method, params } => (false, method.as_str(), params),
        Incoming::Response { .. } => return,
    };
    match (request, name) {
        (true, method::AUTH_HELLO) => round_trips::<HelloParams>(params),
        (true, method::MESH_CREATE) => round_trips::<MeshCreateParams>(params),
        (true, method::INVITE_REDEEM) => round_trips::<RedeemParams>(params),
        (true, method::MESH_RENAME) => round_trips::<MeshRenameParams>(params),
        (true, method::PRESENCE_SET) => round_trips::<PresenceSetParams>(params),
        (true, method::GROUP_JOIN | method::GROUP_LEAVE) => round_trips::<GroupParams>(params),
        (true, method::MESSAGE_SEND) => round_trips::<SendParams>(params),
        (true, method::MESSAGE_ACK) => round_trips::<AckParams>(params),
        (true, method::MESSAGE_STATUS) => round_trips::<StatusParams>(params),
        (true, method::MESSAGE_RECEIPT) => round_trips::<ReceiptParams>(params),
        (true, method::INVITE_CREATE) => round_trips::<InviteCreateParams>(params),
        (true, method::INVITE_REVOKE) => round_trips::<InviteRevokeParams>(params),
        (false, method::AUTH_CHALLENGE) => round_trips::<ChallengeParams>(params),
        (false, method::MESSAGE_DELIVER) => round_trips::<DeliverParams>(params),
        (false, method::MESSAGE_RECEIPT) => round_trips::<ReceiptNotice>(params),
        (false, method::INBOX_SYNCED) => round_trips::<InboxSyncedParams>(params),
        (false, method::PEER_LEFT) => round_trips::<PeerLeftParams>(params),
        _ => {}
    }
}

/// What parses as `T` serializes to params that parse as `T` again and serialize the same.
fn round_trips<T: DeserializeOwned + Serialize>(params: &Value) {
    let Ok(first) = serde_json::from_value::<T>(params.clone()) else { return };
    let Ok(value) = serde_json::to_value(&first) else { panic!("accepted params do not serialize: {params}") };
    let Ok(second) = serde_json::from_value::<T>(value.clone()) else {
        panic!("params we serialize are refused: {value} (from {params})")
    };
    assert_eq!(serde_json::to_value(&second).ok(), Some(value), "typed params changed on a round trip ({params})");
}

/// The push-pipe: every line gets at most one reply, on one line, and only requests get one.
fn push_pipe_line(data: &[u8]) {
    let step = crate::mcp::handle_line(data);
    if let Some(reply) = &step.reply {
        let line = reply.to_string();
        assert!(!line.contains('\n'), "a push-pipe reply spans lines: {line:?}");
        assert!(reply.get("result").is_some() != reply.get("error").is_some(), "reply {line}");
    }
    if step.initialized {
        assert!(step.reply.is_none(), "a notification got a reply");
    }
}

// ---- invite links --------------------------------------------------------------------------------------------

/// An invite link as `claudemesh join` and the broker's `invite.redeem` take it (`Invite::from_url`). The first
/// byte picks how the rest is read: even — the link as typed; odd — the JSON inside a token, which is then tried
/// in all three link forms (so the fuzzer works on the JSON rather than on its base64).
///
/// Properties: no panic; the three link forms of one token agree; an accepted invite has only printable fields
/// (they are shown to the joiner and signed line by line: no field may add a line to the signed bytes), its token
/// and its link parse back to the same invite, and its link is recognised as one.
pub fn invite(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let parsed = if mode % 2 == 0 {
        let Ok(link) = std::str::from_utf8(rest) else { return };
        Invite::from_url(link)
    } else {
        let token = URL_SAFE_NO_PAD.encode(rest);
        let bare = Invite::from_url(&token);
        let custom = Invite::from_url(&format!("claudemesh://join/{token}"));
        let web = Invite::from_url(&format!("https://broker.example/join/{token}/?from=chat#x"));
        // Near the link cap (4,096) the longer forms are refused before the token is read; no valid invite's
        // token gets there (the broker URL cap keeps it under 2,700), only how a broken one is reported differs.
        if token.len() + 64 <= 4096 {
            assert_eq!(bare, custom, "bare token and claudemesh:// link disagree");
            assert_eq!(bare, web, "bare token and https:// link disagree");
        }
        bare
    };
    let Ok(invite) = parsed else { return };
    for field in [&invite.id, &invite.mesh_name, &invite.broker, &invite.inviter, &invite.sig] {
        assert!(!field.chars().any(char::is_control), "control character in an accepted invite: {field:?}");
    }
    let signed = invite.signed_bytes();
    assert_eq!(signed.iter().filter(|&&b| b == b'\n').count(), 9, "signed bytes are not 10 lines");
    assert_eq!(Invite::from_token(&invite.to_token()), Ok(invite.clone()), "token round trip");
    let url = invite.to_url();
    assert!(Invite::looks_like_url(&url), "our own link is not recognised: {url}");
    assert_eq!(Invite::from_url(&url), Ok(invite), "link round trip: {url}");
}

// ---- policy files --------------------------------------------------------------------------------------------

/// A policy file's bytes as `Policy::load` takes them after reading them, as the user's file, the `--policy` file
/// and the admin file.
///
/// Properties: no panic; the user and `--policy` readings accept the same files and the admin reading accepts at
/// least those; errors point inside the file; decisions obey the approval modes (plan and read-only deny every
/// change, yolo never prompts and denies exactly what write mode denies); a `--policy` file never loosens the
/// default user file.
pub fn policy(data: &[u8]) {
    let path = Path::new("fuzz/policy.yaml");
    let as_user = Policy::from_file_bytes(path, data.to_vec(), Origin::User);
    let as_extra = Policy::from_file_bytes(path, data.to_vec(), Origin::Extra);
    let as_admin = Policy::from_file_bytes(path, data.to_vec(), Origin::Admin);
    assert_eq!(as_user.is_ok(), as_extra.is_ok(), "user and --policy readings disagree");
    if as_user.is_ok() {
        assert!(as_admin.is_ok(), "the admin reading refuses a valid user file: {:?}", as_admin.err());
    }
    for result in [&as_user, &as_extra, &as_admin] {
        if let Err(e) = result {
            error_points_inside(e, data);
        }
    }
    let baseline = Policy::from_file_bytes(Path::new("default"), Vec::new(), Origin::Extra);
    let Ok(baseline) = baseline else { panic!("an empty --policy file is refused") };
    for op in operations() {
        if let Ok(user) = &as_user {
            modes_are_obeyed(user, &op);
        }
        if let Ok(admin) = &as_admin {
            modes_are_obeyed(admin, &op);
        }
        if let Ok(extra) = &as_extra {
            for mode in [ApprovalMode::Write, ApprovalMode::Yolo] {
                let (tightened, base) = (extra.evaluate(&op, mode), baseline.evaluate(&op, mode));
                assert!(strictness(&tightened) >= strictness(&base), "--policy loosened {op:?}: {tightened:?}");
            }
        }
    }
}

/// Operations of every class, with and without targets of every kind.
fn operations() -> Vec<Operation<'static>> {
    let op = |resource, verb, class, peers: &[&str]| Operation {
        resource,
        verb,
        class,
        peers: peers.iter().map(|p| (*p).to_owned()).collect(),
    };
    vec![
        op("peer", "list", OpClass::Read, &[]),
        op("message", "send", OpClass::Write, &["alice"]),
        op("message", "send", OpClass::Write, &["@dev", "bob"]),
        op("message", "send", OpClass::Write, &["*"]),
        op("group", "join", OpClass::Write, &[]),
        op("mesh", "leave", OpClass::Destructive, &[]),
        op("invite", "revoke", OpClass::Destructive, &["@prod"]),
    ]
}

fn modes_are_obeyed(policy: &Policy, op: &Operation<'_>) {
    let decide = |mode| policy.evaluate(op, mode);
    if op.class != OpClass::Read {
        for mode in [ApprovalMode::Plan, ApprovalMode::ReadOnly] {
            assert!(matches!(decide(mode), Decision::Deny { .. }), "{mode:?} let {op:?} through");
        }
    }
    // An admin file may cap the mode (`max_approval_mode`), and then yolo acts as the cap.
    if policy.effective_mode(ApprovalMode::Yolo) == ApprovalMode::Yolo {
        let yolo = decide(ApprovalMode::Yolo);
        assert!(!matches!(yolo, Decision::Prompt { .. }), "yolo prompted for {op:?}");
        let write_denies = matches!(decide(ApprovalMode::Write), Decision::Deny { .. });
        assert_eq!(matches!(yolo, Decision::Deny { .. }), write_denies, "yolo and write disagree on {op:?}");
    }
}

fn strictness(decision: &Decision) -> u8 {
    match decision {
        Decision::Allow { .. } => 0,
        Decision::Prompt { .. } => 1,
        Decision::Deny { .. } => 2,
    }
}

/// A positioned error names a line of the file (or 0 when the parser cannot tell). Lines end as YAML ends them:
/// at LF, CR LF, or a lone CR.
fn error_points_inside(error: &PolicyError, data: &[u8]) {
    let (PolicyError::Parse { line, .. } | PolicyError::Invalid { line, .. }) = error else { return };
    let breaks =
        data.iter().enumerate().filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')));
    let lines = breaks.count() + 1;
    assert!(*line <= lines, "error on line {line} of a {lines}-line file: {error}");
}

// ---- sealed envelopes ----------------------------------------------------------------------------------------

/// The recipient every fuzzed envelope is addressed to, and the sender of the envelopes the seeds hold (made once:
/// deriving a key costs a scalar multiplication).
static RECIPIENT: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_seed(&[0x52; 32]));
static SENDER: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_seed(&[0x53; 32]));
/// The recipient's mesh (what sealed bodies must name).
const MESH: &str = "6d657368-f022-4000-8000-000000000001";
/// The message id of the envelopes built from raw bytes.
const MESSAGE: &str = "019a0000-0000-7000-8000-000000000001";

/// One delivery opened by a fixed recipient, as a daemon link or `inbox` opens it (`client::open_sealed`, the
/// uncached form of `MeshSession::open_delivery`). The first byte picks how the rest is read: 0 — the
/// `message.deliver` frame the broker pushes (frame decoding, params, base64, decryption, the sealed body);
/// 1 — raw bytes: a 32-byte sender key, a 24-byte nonce, then the ciphertext; 2 — a plaintext that the fixed sender
/// seals for the recipient (so the fuzzer reaches the sealed-body checks).
///
/// Properties: no panic; only the holders of the two x25519 keys involved can produce an envelope that opens (so
/// an accepted envelope names the sender's key, up to the sign of the ed25519 point, which the x25519 form drops);
/// an opened body is v1 and carries the envelope's message id and our mesh; what the sender seals always
/// decrypts, and opens exactly when it is a v1 body with those ids.
pub fn envelope(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let recipient = &*RECIPIENT;
    let Ok(mesh) = MeshId::try_from(MESH.to_owned()) else { panic!("MESH is not a mesh id") };
    match mode % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let Ok(Incoming::Notification { method, params }) = decode_frame(text) else { return };
            if method != method::MESSAGE_DELIVER {
                return;
            }
            let Ok(delivery) = serde_json::from_value::<DeliverParams>(params) else { return };
            opened_only_by_key_holders(recipient, &mesh, &delivery);
        }
        1 => {
            let Some((from, rest)) = rest.split_first_chunk::<32>() else { return };
            let Some((nonce, ciphertext)) = rest.split_first_chunk::<24>() else { return };
            let delivery = delivery_of(KeyHex(*from), STANDARD.encode(nonce), STANDARD.encode(ciphertext));
            opened_only_by_key_holders(recipient, &mesh, &delivery);
        }
        _ => {
            let sender = &*SENDER;
            let Ok(pair) = PairKey::new(sender, &recipient.public()) else { panic!("fixed keys do not pair") };
            let Ok((nonce, ciphertext)) = pair.seal(rest) else { return };
            let delivery = delivery_of(KeyHex(sender.public()), STANDARD.encode(nonce), STANDARD.encode(ciphertext));
            let opened = open_sealed(recipient, &mesh, &delivery);
            let expected = serde_json::from_slice::<SealedBody>(rest)
                .ok()
                .filter(|b| b.v == 1 && b.id == delivery.id && b.mesh == mesh);
            match (&opened, &expected) {
                (Ok(body), Some(want)) => assert_eq!(body, want),
                (Err(OpenError::Body | OpenError::Mismatch), None) => {}
                _ => panic!("sealed {rest:?}, opened {opened:?}"),
            }
        }
    }
}

fn opened_only_by_key_holders(recipient: &SigningKey, mesh: &MeshId, delivery: &DeliverParams) {
    let Ok(body) = open_sealed(recipient, mesh, delivery) else { return };
    let sender = &*SENDER;
    let x = |key: &[u8; 32]| x25519_public(key).ok();
    let from = x(delivery.from.bytes());
    assert!(
        from.is_some() && (from == x(&sender.public()) || from == x(&recipient.public())),
        "an envelope from an unknown key {} opened",
        delivery.from
    );
    assert_eq!(body.v, 1);
    assert_eq!(&body.id, &delivery.id);
    assert_eq!(&body.mesh, mesh);
}

fn delivery_of(from: KeyHex, nonce: String, ciphertext: String) -> DeliverParams {
    let Ok(id) = MessageId::try_from(MESSAGE.to_owned()) else { panic!("MESSAGE is not a message id") };
    DeliverParams {
        delivery: 1,
        id,
        from,
        from_name: "sender".into(),
        from_member: KeyHex([0; 32]),
        to: "recipient".into(),
        priority: Priority::Next,
        sent_at_ms: 0,
        nonce,
        ciphertext,
        attempt: 1,
    }
}

/// Seed inputs for [`envelope`], sealed with our own crypto by the fixed sender for the fixed recipient: for each
/// body, the `message.deliver` frame (mode 0) and the raw key‖nonce‖ciphertext (mode 1). `tests/fuzz_corpus.rs`
/// writes them to `fuzz/corpus/envelope/` when asked to.
pub fn envelope_seeds(bodies: &[&str]) -> Vec<Vec<u8>> {
    let (recipient, sender) = (&*RECIPIENT, &*SENDER);
    let Ok(pair) = PairKey::new(sender, &recipient.public()) else { panic!("fixed keys do not pair") };
    let mut seeds = Vec::new();
    for body in bodies {
        let Ok((nonce, ciphertext)) = pair.seal(body.as_bytes()) else { continue };
        let delivery = delivery_of(KeyHex(sender.public()), STANDARD.encode(nonce), STANDARD.encode(&ciphertext));
        let Ok(params) = serde_json::to_value(&delivery) else { continue };
        let mut frame = vec![0];
        frame.extend_from_slice(encode_notification(method::MESSAGE_DELIVER, &params).as_bytes());
        seeds.push(frame);
        let mut raw = vec![1];
        raw.extend_from_slice(&sender.public());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ciphertext);
        seeds.push(raw);
    }
    seeds
}

/// A sealed body for the fixed recipient's mesh and the raw envelopes' message id, as JSON (for seeds).
pub fn sealed_body_json(text: &str) -> String {
    json!({ "v": 1, "id": MESSAGE, "mesh": MESH, "kind": "text", "body": text, "sent_at_ms": 1 }).to_string()
}
