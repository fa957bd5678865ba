//! A mesh session over one broker connection: `auth.hello` (plus `mesh.create` / `invite.redeem` before it),
//! typed calls with one retry on a fresh connection, and the end-to-end sealing and opening of messages.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;

use super::ClientError;
use super::connection::{Connection, Event, PendingCall, connect, stale_timeout};
use super::targeting::{batch_envelopes, resolve};
#[cfg(test)]
use crate::crypto::box_seal;
use crate::crypto::{PairKey, SigningKey, verify_hex};
use crate::proto::{
    Attestation, ChallengeParams, DeliverParams, Envelope, ErrorCode, HelloParams, HelloResult, Invite, KeyHex,
    MAX_BODY_BYTES, MAX_FRAME_BYTES, MeshCreateParams, MeshId, MessageId, PeerInfo, PeerListResult, Priority,
    RedeemParams, RedeemResult, SealedBody, SendParams, SendResult, attestation_bytes, hello_bytes, mesh_create_bytes,
    method, redeem_bytes,
};

/// Frames we build stay this far below the broker's cap (room for the request id and JSON-RPC envelope).
const FRAME_BUDGET: usize = MAX_FRAME_BYTES - 4 * 1024;
/// Most envelopes the broker takes in one `message.send`.
const MAX_ENVELOPES_PER_CALL: usize = 1000;
/// Largest sealed body (MAC + ciphertext) the broker accepts.
const MAX_SEALED_BYTES: usize = MAX_BODY_BYTES + 1024;
/// Bytes crypto_box adds to the plaintext.
const BOX_MAC_BYTES: usize = 16;
/// Longest we honour a broker's `retry_after_ms` before giving up.
const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Who we are in one mesh: the member key (membership), the session key (this peer) and the requested name.
pub(crate) struct Identity {
    pub mesh_id: MeshId,
    pub member: SigningKey,
    pub session: SigningKey,
    pub name: String,
}

impl Identity {
    pub(crate) fn member_key(&self) -> KeyHex {
        KeyHex(self.member.public())
    }
    pub(crate) fn session_key(&self) -> KeyHex {
        KeyHex(self.session.public())
    }
}

/// Why a delivery could not be opened (it is acknowledged and dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("the nonce or ciphertext is not valid base64")]
    Encoding,
    #[error("it does not decrypt under the sender's key")]
    Decrypt,
    #[error("the decrypted body is not a v1 message")]
    Body,
    #[error("the sealed ids do not match the envelope")]
    Mismatch,
}

/// What a send did.
#[derive(Debug, Clone)]
pub(crate) struct SendReport {
    pub id: MessageId,
    pub to: String,
    /// Recipients a sealed copy was sent to (session key, name).
    pub recipients: Vec<(KeyHex, String)>,
    /// Peers left out because their attestation does not verify.
    pub skipped: Vec<String>,
    pub accepted: u64,
    pub duplicates: u64,
    pub expires_at_ms: u64,
}

/// A message sealed for its recipients: the `message.send` frames to send, and the report to fill in.
pub(crate) struct SealedMessage {
    pub frames: Vec<SendParams>,
    pub report: SendReport,
}

/// One message to send, with its id and time already fixed.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing<'a> {
    pub id: MessageId,
    pub sent_at_ms: u64,
    pub to: &'a str,
    pub body: &'a str,
    pub priority: Priority,
    pub ttl_secs: Option<u64>,
    /// What the sealed body says it is: `text`, or `task` for a task-completed notice.
    pub kind: &'a str,
}

/// An authenticated session: one live connection at a time, reconnected on demand under the same identity.
pub(crate) struct MeshSession {
    url: String,
    identity: Identity,
    conn: Connection,
    generation: u64,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    hello: HelloResult,
    /// Whether this session's connections receive deliveries (see `open`).
    receive: bool,
    /// Per-peer work done once: precomputed box keys, and attestations already verified (by signature).
    pairs: HashMap<KeyHex, PairKey>,
    attested: HashMap<KeyHex, String>,
    /// The broker's clock minus ours, from the latest challenge (`server_time_ms`): the broker's clock decides
    /// every expiry, so times we send for it to judge (an invite's `exp`) are taken on its clock.
    clock_offset_ms: i64,
}

/// Clocks closer than this count as agreeing: the measurement is off by the challenge's transit time, and invite
/// expiry has a granularity of seconds. The offset exists for clocks minutes or hours apart.
const CLOCK_AGREEMENT_MS: i64 = 5_000;

/// The broker's clock minus ours, from a challenge received just now (0 when they agree within a few seconds).
fn clock_offset(challenge: &ChallengeParams) -> i64 {
    let theirs = i64::try_from(challenge.server_time_ms).unwrap_or(i64::MAX);
    let ours = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    let offset = theirs.saturating_sub(ours);
    if offset.saturating_abs() < CLOCK_AGREEMENT_MS { 0 } else { offset }
}

/// Most peers whose box keys and attestations are kept (a mesh larger than this recomputes, no more).
const PEER_CACHE: usize = 4096;

/// Rejects bodies the broker would refuse, before any network use.
pub(crate) fn check_body(body: &str) -> Result<(), ClientError> {
    if body.trim().is_empty() {
        return Err(ClientError::EmptyBody);
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ClientError::BodyTooLarge { bytes: body.len(), max: MAX_BODY_BYTES });
    }
    Ok(())
}

fn now_ms() -> u64 {
    crate::clock::now_ms()
}

fn client_name() -> String {
    format!("claudemesh-cli/{}", env!("CARGO_PKG_VERSION"))
}

async fn typed_call<P: Serialize, R: DeserializeOwned>(
    conn: &mut Connection,
    method: &str,
    params: &P,
) -> Result<R, ClientError> {
    let params = serde_json::to_value(params).map_err(|e| ClientError::Protocol(e.to_string()))?;
    let value = conn.call(method, params).await?;
    serde_json::from_value(value).map_err(|e| ClientError::Protocol(format!("bad {method} result: {e}")))
}

async fn hello(
    conn: &mut Connection,
    challenge: &ChallengeParams,
    id: &Identity,
    receive: bool,
) -> Result<HelloResult, ClientError> {
    let mesh = id.mesh_id.as_str();
    let member = id.member_key().to_string();
    let session = id.session_key().to_string();
    let issued_at_ms = now_ms();
    let params = HelloParams {
        mesh_id: id.mesh_id.clone(),
        member_key: id.member_key(),
        session_key: id.session_key(),
        attestation: Attestation {
            issued_at_ms,
            signature: id.member.sign_hex(&attestation_bytes(mesh, &member, &session, issued_at_ms)),
        },
        name: id.name.clone(),
        client: Some(client_name()),
        signature: id.session.sign_hex(&hello_bytes(&challenge.nonce, mesh, &member, &session)),
        receive,
    };
    let result: HelloResult = typed_call(conn, method::AUTH_HELLO, &params).await?;
    // From here on the broker pings every `ping_secs`: silence past the stale timeout means a dead connection.
    conn.arm_watchdog(stale_timeout(result.ping_secs));
    Ok(result)
}

/// Decrypts a delivery to `session` under the key of its claimed sender and checks the sealed ids against the
/// envelope and our mesh: [`MeshSession::open_delivery`] without the cache of pair keys (the fuzz target's entry).
pub(crate) fn open_sealed(session: &SigningKey, mesh: &MeshId, d: &DeliverParams) -> Result<SealedBody, OpenError> {
    let (nonce, ciphertext) = envelope_bytes(d)?;
    let pair = PairKey::new(session, d.from.bytes()).map_err(|_| OpenError::Decrypt)?;
    open_with(&pair, &nonce, &ciphertext, mesh, d)
}

/// The step both openers share: decrypt with the pair key, then check what was sealed.
fn open_with(
    pair: &PairKey,
    nonce: &[u8; 24],
    ciphertext: &[u8],
    mesh: &MeshId,
    d: &DeliverParams,
) -> Result<SealedBody, OpenError> {
    let plaintext = pair.open(nonce, ciphertext).map_err(|_| OpenError::Decrypt)?;
    check_sealed(&plaintext, mesh, d)
}

fn envelope_bytes(d: &DeliverParams) -> Result<([u8; 24], Vec<u8>), OpenError> {
    let nonce_bytes = STANDARD.decode(&d.nonce).map_err(|_| OpenError::Encoding)?;
    let nonce: [u8; 24] = nonce_bytes.try_into().map_err(|_| OpenError::Encoding)?;
    let ciphertext = STANDARD.decode(&d.ciphertext).map_err(|_| OpenError::Encoding)?;
    Ok((nonce, ciphertext))
}

/// The sealed body, checked against the envelope's ids and our mesh.
fn check_sealed(plaintext: &[u8], mesh: &MeshId, d: &DeliverParams) -> Result<SealedBody, OpenError> {
    let body: SealedBody = serde_json::from_slice(plaintext).map_err(|_| OpenError::Body)?;
    if body.v != 1 {
        return Err(OpenError::Body);
    }
    // A scheduled message arrives under the id of one of its fires (derived from the sealed id and the due time);
    // any other kind only under the sealed id itself.
    let id_ok = if body.kind == crate::proto::SCHEDULE_KIND {
        crate::proto::is_fire_of(&d.id, &body.id)
    } else {
        body.id == d.id
    };
    if !id_ok || body.mesh != *mesh {
        return Err(OpenError::Mismatch);
    }
    Ok(body)
}

/// One recipient's envelope: `body` sealed from `sender` to `recipient`.
#[cfg(test)]
pub(crate) fn seal_for(sender: &SigningKey, recipient: &KeyHex, plaintext: &[u8]) -> Result<Envelope, ClientError> {
    let (nonce, ciphertext) = box_seal(sender, recipient.bytes(), plaintext)?;
    Ok(Envelope { to: *recipient, nonce: STANDARD.encode(nonce), ciphertext: STANDARD.encode(ciphertext) })
}

impl MeshSession {
    /// Connects to `url` and authenticates as `identity`. A `receive` connection holds the peer's presence and
    /// gets its deliveries (one per session key: a newer one replaces it); a control connection (`false`) does
    /// neither and can run beside it.
    pub(crate) async fn open(url: &str, identity: Identity, receive: bool) -> Result<Self, ClientError> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (mut conn, challenge) = connect(url, 1, events_tx.clone()).await?;
        let offset = clock_offset(&challenge);
        let hello = hello(&mut conn, &challenge, &identity, receive).await?;
        let mut session = Self::assemble(url.to_string(), identity, conn, events_tx, events, hello, receive);
        session.clock_offset_ms = offset;
        Ok(session)
    }

    /// Creates the mesh `identity.mesh_id` named `mesh_name` with `identity.member` as owner, then authenticates.
    pub(crate) async fn create_mesh(url: &str, identity: Identity, mesh_name: &str) -> Result<Self, ClientError> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (mut conn, challenge) = connect(url, 1, events_tx.clone()).await?;
        let offset = clock_offset(&challenge);
        let owner = identity.member_key();
        let signed = mesh_create_bytes(&challenge.nonce, identity.mesh_id.as_str(), mesh_name, &owner.to_string());
        let params = MeshCreateParams {
            mesh_id: identity.mesh_id.clone(),
            name: mesh_name.to_string(),
            owner_key: owner,
            signature: identity.member.sign_hex(&signed),
        };
        let _: Value = typed_call(&mut conn, method::MESH_CREATE, &params).await?;
        let hello = hello(&mut conn, &challenge, &identity, true).await?;
        let mut session = Self::assemble(url.to_string(), identity, conn, events_tx, events, hello, true);
        session.clock_offset_ms = offset;
        Ok(session)
    }

    /// Redeems `invite` (whose token is `token`) for `identity.member`, then authenticates.
    pub(crate) async fn redeem(
        identity: Identity,
        invite: &Invite,
        token: &str,
    ) -> Result<(Self, RedeemResult), ClientError> {
        let url = invite.broker.clone();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (mut conn, challenge) = connect(&url, 1, events_tx.clone()).await?;
        let offset = clock_offset(&challenge);
        let member = identity.member_key();
        let params = RedeemParams {
            token: token.to_string(),
            member_key: member,
            name: identity.name.clone(),
            signature: identity.member.sign_hex(&redeem_bytes(&challenge.nonce, &invite.id, &member.to_string())),
        };
        let redeemed: RedeemResult = typed_call(&mut conn, method::INVITE_REDEEM, &params).await?;
        let hello = hello(&mut conn, &challenge, &identity, true).await?;
        let mut session = Self::assemble(url, identity, conn, events_tx, events, hello, true);
        session.clock_offset_ms = offset;
        Ok((session, redeemed))
    }

    fn assemble(
        url: String,
        identity: Identity,
        conn: Connection,
        events_tx: mpsc::UnboundedSender<Event>,
        events: mpsc::UnboundedReceiver<Event>,
        hello: HelloResult,
        receive: bool,
    ) -> Self {
        let (pairs, attested) = (HashMap::new(), HashMap::new());
        Self {
            url,
            identity,
            conn,
            generation: 1,
            events_tx,
            events,
            hello,
            receive,
            pairs,
            attested,
            clock_offset_ms: 0,
        }
    }

    /// The precomputed box key between this session and `peer`.
    fn pair(&mut self, peer: &KeyHex) -> Result<&PairKey, crate::crypto::CryptoError> {
        if !self.pairs.contains_key(peer) {
            if self.pairs.len() >= PEER_CACHE {
                self.pairs.clear();
            }
            let key = PairKey::new(&self.identity.session, peer.bytes())?;
            self.pairs.insert(*peer, key);
        }
        self.pairs.get(peer).ok_or(crate::crypto::CryptoError::EncryptFailed)
    }

    /// The result of the latest `auth.hello` (our peer as the broker sees it, the mesh, the backlog size).
    pub(crate) fn hello(&self) -> &HelloResult {
        &self.hello
    }

    /// Which connection this is (grows with every reconnect, including the ones a retried call makes).
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The broker's clock minus ours (milliseconds), as of the latest connect.
    pub(crate) fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms
    }

    /// Replaces the connection with a fresh, authenticated one (same identity, same event stream).
    pub(crate) async fn reconnect(&mut self) -> Result<(), ClientError> {
        let generation = self.generation + 1;
        let (mut conn, challenge) = connect(&self.url, generation, self.events_tx.clone()).await?;
        let offset = clock_offset(&challenge);
        self.hello = hello(&mut conn, &challenge, &self.identity, self.receive).await?;
        self.clock_offset_ms = offset;
        let old = std::mem::replace(&mut self.conn, conn);
        self.generation = generation;
        drop(old);
        Ok(())
    }

    /// One typed call on the current connection.
    pub(crate) async fn call<P: Serialize, R: DeserializeOwned>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<R, ClientError> {
        typed_call(&mut self.conn, method, params).await
    }

    /// A typed call for idempotent methods: on connection loss, reconnect once and send the same request again;
    /// when rate limited, wait as the broker asks (briefly) and send it again.
    pub(crate) async fn call_retrying<P: Serialize, R: DeserializeOwned>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<R, ClientError> {
        match typed_call(&mut self.conn, method, params).await {
            Err(e) if e.is_connection_loss() => {
                tracing::debug!(method, error = %e, "retrying on a fresh connection");
                self.reconnect().await?;
                typed_call(&mut self.conn, method, params).await
            }
            Err(ClientError::Rpc(e)) if e.kind() == Some(ErrorCode::RateLimited) => {
                let wait = e
                    .data
                    .as_ref()
                    .and_then(|d| d.get("retry_after_ms"))
                    .and_then(Value::as_u64)
                    .map_or(MAX_RETRY_AFTER, std::time::Duration::from_millis);
                tokio::time::sleep(wait.min(MAX_RETRY_AFTER)).await;
                typed_call(&mut self.conn, method, params).await
            }
            other => other,
        }
    }

    /// The next event of the current connection, waiting for one. Close events of replaced connections are skipped.
    pub(crate) async fn next_event(&mut self) -> Option<Event> {
        loop {
            let event = self.events.recv().await?;
            if self.is_current(&event) {
                return Some(event);
            }
        }
    }

    /// The next event if one is already queued.
    pub(crate) fn try_event(&mut self) -> Option<Event> {
        loop {
            let event = self.events.try_recv().ok()?;
            if self.is_current(&event) {
                return Some(event);
            }
        }
    }

    fn is_current(&self, event: &Event) -> bool {
        match event {
            Event::Closed { generation, .. } => *generation == self.generation,
            Event::Notification { .. } => true,
        }
    }

    /// Closes the connection cleanly.
    pub(crate) async fn close(self) {
        self.conn.close().await;
    }

    /// Opens one delivery addressed to this session.
    pub(crate) fn open_delivery(&mut self, d: &DeliverParams) -> Result<SealedBody, OpenError> {
        let (nonce, ciphertext) = envelope_bytes(d)?;
        let mesh = self.identity.mesh_id.clone();
        let pair = self.pair(&d.from).map_err(|_| OpenError::Decrypt)?;
        open_with(pair, &nonce, &ciphertext, &mesh, d)
    }

    /// The peers of the mesh (`peer.list`).
    pub(crate) async fn peers(&mut self) -> Result<Vec<PeerInfo>, ClientError> {
        let result: PeerListResult = self.call_retrying(method::PEER_LIST, &serde_json::json!({})).await?;
        Ok(result.peers)
    }

    /// Whether a peer's session key is attested by its member key for this mesh.
    pub(crate) fn attestation_ok(&mut self, peer: &PeerInfo) -> bool {
        if self.attested.get(&peer.id) == Some(&peer.attestation.signature) {
            return true;
        }
        let signed = attestation_bytes(
            self.identity.mesh_id.as_str(),
            &peer.member_key.to_string(),
            &peer.id.to_string(),
            peer.attestation.issued_at_ms,
        );
        let ok = verify_hex(peer.member_key.bytes(), &signed, &peer.attestation.signature).is_ok();
        if ok {
            if self.attested.len() >= PEER_CACHE {
                self.attested.clear();
            }
            self.attested.insert(peer.id, peer.attestation.signature.clone());
        }
        ok
    }

    /// Resolves `to`, seals `body` once per verified recipient and sends the envelopes, in as many
    /// `message.send` frames as needed, all under one message id.
    pub(crate) async fn send_text(
        &mut self,
        to: &str,
        body: &str,
        priority: Priority,
        ttl_secs: Option<u64>,
    ) -> Result<SendReport, ClientError> {
        check_body(body)?;
        let peers = self.peers().await?;
        let outgoing =
            Outgoing { id: MessageId::generate(), sent_at_ms: now_ms(), to, body, priority, ttl_secs, kind: "text" };
        self.send_to_peers(&peers, outgoing).await
    }

    /// Sends a message whose id and time were fixed earlier (a queued send: retrying it is safe, the broker
    /// deduplicates on the id), resolving `to` among `peers` (a fresh or cached `peer.list`).
    pub(crate) async fn send_to_peers(
        &mut self,
        peers: &[PeerInfo],
        out: Outgoing<'_>,
    ) -> Result<SendReport, ClientError> {
        let SealedMessage { frames, mut report } = self.seal_message(peers, out)?;
        for params in frames {
            let result: SendResult = match self.call_retrying(method::MESSAGE_SEND, &params).await {
                Err(ClientError::FrameTooLarge { bytes, .. }) => {
                    return Err(ClientError::BodyTooLarge { bytes, max: MAX_BODY_BYTES });
                }
                other => other?,
            };
            report.accepted += result.accepted;
            report.duplicates += result.duplicates;
            report.expires_at_ms = report.expires_at_ms.max(result.expires_at_ms);
        }
        Ok(report)
    }

    /// Resolves `to` among `peers`, seals the body once per verified recipient and splits the envelopes into
    /// `message.send` frames, all under one message id. Nothing is sent.
    pub(crate) fn seal_message(&mut self, peers: &[PeerInfo], out: Outgoing<'_>) -> Result<SealedMessage, ClientError> {
        let Outgoing { id, sent_at_ms, to, body, priority, ttl_secs, kind } = out;
        check_body(body)?;
        let me = self.identity.session_key();
        let targets = resolve(peers, to, &me)?;
        let (verified, rejected): (Vec<&PeerInfo>, Vec<&PeerInfo>) =
            targets.into_iter().partition(|p| self.attestation_ok(p));
        let skipped: Vec<String> = rejected.iter().map(|p| p.name.clone()).collect();
        if verified.is_empty() {
            return Err(ClientError::Unverified { names: skipped });
        }

        let sealed = SealedBody {
            v: 1,
            id: id.clone(),
            mesh: self.identity.mesh_id.clone(),
            kind: kind.into(),
            body: body.to_string(),
            sent_at_ms,
        };
        let plaintext = serde_json::to_vec(&sealed).map_err(|e| ClientError::Protocol(e.to_string()))?;
        // JSON escaping can grow a body under the plaintext cap past the broker's sealed cap.
        if plaintext.len() + BOX_MAC_BYTES > MAX_SEALED_BYTES {
            return Err(ClientError::BodyTooLarge { bytes: plaintext.len() + BOX_MAC_BYTES, max: MAX_SEALED_BYTES });
        }
        let mut envelopes = Vec::with_capacity(verified.len());
        for peer in &verified {
            let (nonce, ciphertext) = self.pair(&peer.id)?.seal(&plaintext)?;
            envelopes.push(Envelope {
                to: peer.id,
                nonce: STANDARD.encode(nonce),
                ciphertext: STANDARD.encode(ciphertext),
            });
        }
        let recipients = verified.iter().map(|p| (p.id, p.name.clone())).collect();

        let template = SendParams { id: id.clone(), to: to.to_string(), priority, ttl_secs, envelopes: Vec::new() };
        let fixed = serde_json::to_string(&template).map(|s| s.len()).unwrap_or(0) + 128;
        let frames = batch_envelopes(envelopes, fixed, FRAME_BUDGET, MAX_ENVELOPES_PER_CALL)
            .into_iter()
            .map(|batch| SendParams { envelopes: batch, ..template.clone() })
            .collect();
        let report =
            SendReport { id, to: to.to_string(), recipients, skipped, accepted: 0, duplicates: 0, expires_at_ms: 0 };
        Ok(SealedMessage { frames, report })
    }

    /// Seals `plaintext` for `peer` (this session included) under the precomputed pair key.
    pub(crate) fn seal_to(&mut self, peer: &KeyHex, plaintext: &[u8]) -> Result<Envelope, ClientError> {
        let (nonce, ciphertext) = self.pair(peer)?.seal(plaintext)?;
        Ok(Envelope { to: *peer, nonce: STANDARD.encode(nonce), ciphertext: STANDARD.encode(ciphertext) })
    }

    /// Queues a typed request on the current connection without waiting for its response (pipelining).
    pub(crate) fn start_call<P: Serialize>(&mut self, method: &str, params: &P) -> Result<PendingCall, ClientError> {
        let params = serde_json::to_value(params).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.conn.start(method, &params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(sender: &SigningKey, recipient: &SigningKey, body: &SealedBody) -> DeliverParams {
        let plaintext = serde_json::to_vec(body).unwrap();
        let env = seal_for(sender, &KeyHex(recipient.public()), &plaintext).unwrap();
        DeliverParams {
            delivery: 7,
            id: body.id.clone(),
            from: KeyHex(sender.public()),
            from_name: "alice".into(),
            from_member: KeyHex([0; 32]),
            to: "bob".into(),
            priority: Priority::Next,
            sent_at_ms: 1,
            nonce: env.nonce,
            ciphertext: env.ciphertext,
            attempt: 1,
        }
    }

    fn sealed(mesh: &MeshId) -> SealedBody {
        SealedBody {
            v: 1,
            id: MessageId::generate(),
            mesh: mesh.clone(),
            kind: "text".into(),
            body: "hi bob".into(),
            sent_at_ms: 5,
        }
    }

    #[test]
    fn a_sealed_message_opens_only_for_its_recipient_and_binds_its_ids() {
        let alice = SigningKey::generate().unwrap();
        let bob = SigningKey::generate().unwrap();
        let eve = SigningKey::generate().unwrap();
        let mesh = MeshId::generate();
        let body = sealed(&mesh);
        let d = delivery(&alice, &bob, &body);
        assert_eq!(open_sealed(&bob, &mesh, &d), Ok(body.clone()));
        assert_eq!(open_sealed(&eve, &mesh, &d), Err(OpenError::Decrypt));
        // The broker cannot claim another sender, message id or mesh.
        let mut other_sender = d.clone();
        other_sender.from = KeyHex(eve.public());
        assert_eq!(open_sealed(&bob, &mesh, &other_sender), Err(OpenError::Decrypt));
        let mut other_id = d.clone();
        other_id.id = MessageId::generate();
        assert_eq!(open_sealed(&bob, &mesh, &other_id), Err(OpenError::Mismatch));
        assert_eq!(open_sealed(&bob, &MeshId::generate(), &d), Err(OpenError::Mismatch));
        let mut garbled = d.clone();
        garbled.nonce = "***".into();
        assert_eq!(open_sealed(&bob, &mesh, &garbled), Err(OpenError::Encoding));
    }

    #[test]
    fn a_scheduled_message_opens_only_under_a_fire_id_of_its_own() {
        let alice = SigningKey::generate().unwrap();
        let bob = SigningKey::generate().unwrap();
        let mesh = MeshId::generate();
        let mut body = sealed(&mesh);
        body.kind = crate::proto::SCHEDULE_KIND.into();
        let mut d = delivery(&alice, &bob, &body);
        assert_eq!(open_sealed(&bob, &mesh, &d), Err(OpenError::Mismatch), "not under the sealed id itself");
        d.id = crate::proto::fire_id(&body.id, 1_800_000_000_000).unwrap();
        assert_eq!(open_sealed(&bob, &mesh, &d), Ok(body.clone()));
        d.id = crate::proto::fire_id(&MessageId::generate(), 1_800_000_000_000).unwrap();
        assert_eq!(open_sealed(&bob, &mesh, &d), Err(OpenError::Mismatch), "another schedule's fire");
        // An ordinary message cannot be replayed under a fire id.
        let text = sealed(&mesh);
        let mut replay = delivery(&alice, &bob, &text);
        replay.id = crate::proto::fire_id(&text.id, 1_800_000_000_000).unwrap();
        assert_eq!(open_sealed(&bob, &mesh, &replay), Err(OpenError::Mismatch));
    }

    #[test]
    fn non_v1_bodies_are_refused() {
        let alice = SigningKey::generate().unwrap();
        let bob = SigningKey::generate().unwrap();
        let mesh = MeshId::generate();
        let mut body = sealed(&mesh);
        body.v = 2;
        assert_eq!(open_sealed(&bob, &mesh, &delivery(&alice, &bob, &body)), Err(OpenError::Body));
    }

    #[test]
    fn clocks_a_few_seconds_apart_agree_and_hours_apart_do_not() {
        let at = |server_time_ms: u64| ChallengeParams {
            nonce: "n".into(),
            protocol: "claudemesh.v1".into(),
            broker_version: "0".into(),
            server_time_ms,
        };
        assert_eq!(clock_offset(&at(now_ms())), 0);
        assert_eq!(clock_offset(&at(now_ms() - 2_000)), 0);
        let ahead = clock_offset(&at(now_ms() + 3 * 3_600_000));
        assert!((3 * 3_600_000 - 1_000..=3 * 3_600_000).contains(&ahead), "{ahead}");
        assert!(clock_offset(&at(now_ms() - 3 * 3_600_000)) <= -3 * 3_600_000 + 1_000);
    }

    #[test]
    fn bodies_are_checked_before_sending() {
        assert!(check_body("hello").is_ok());
        assert!(matches!(check_body("  "), Err(ClientError::EmptyBody)));
        assert!(matches!(check_body(&"x".repeat(MAX_BODY_BYTES + 1)), Err(ClientError::BodyTooLarge { .. })));
        assert!(check_body(&"x".repeat(MAX_BODY_BYTES)).is_ok());
    }
}
