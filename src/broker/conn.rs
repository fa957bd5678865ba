//! One WebSocket connection: challenge, authentication, request dispatch, and the per-peer delivery pump
//! (pull from the store in order, push, redeliver until acked). Owns all per-connection state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};

use super::coord::access;
use super::db::{Db, StoreError};
use super::hub::{Attach, Hub, Outbound};
use super::metrics::Metrics;
use super::ratelimit::TokenBucket;
use super::store;
use crate::crypto;
use crate::proto::{self, CloseCode, ErrorCode, Incoming, KeyHex, MeshId, Role, RpcError, method};

/// Tunables, resolved once from flags.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub grace: Duration,
    pub ping_interval: Duration,
    pub stale_after: Duration,
    pub ack_timeout: Duration,
    pub auth_timeout: Duration,
    pub default_ttl: Duration,
    pub max_ttl: Duration,
    pub send_rate: u64,
    pub send_burst: u64,
    pub request_rate: u64,
    pub request_burst: u64,
    pub max_preauth_frames: u32,
    pub window: usize,
    pub max_recipients: usize,
    pub sweep_interval: Duration,
    /// How long a task claim outlives its claimer's presence.
    pub task_lease: Duration,
}

pub(crate) struct Shared {
    pub db: Db,
    pub hub: Hub,
    pub metrics: Metrics,
    pub settings: Settings,
    pub next_conn: AtomicU64,
    /// Turns true on shutdown; grace timers stop waiting so the store can close.
    pub shutdown: watch::Receiver<bool>,
    /// Subscriptions, access cache and timers of the coordination primitives.
    pub coord: super::coord::Coord,
}

pub(crate) fn now_ms() -> u64 {
    crate::clock::now_ms()
}

struct Authed {
    mesh: MeshId,
    mesh_name: String,
    peer: KeyHex,
    member: KeyHex,
    role: Role,
    wake: Arc<Notify>,
    cursor: u64,
    inflight: BTreeMap<u64, Instant>,
    /// Backlog size announced in the hello result; `inbox.synced` is sent once the pump catches up.
    pending_sync: Option<u64>,
    /// A receiving connection holds the peer's presence and gets deliveries; a control connection does neither.
    receiving: bool,
}

struct Conn {
    id: u64,
    shared: Arc<Shared>,
    out: mpsc::Sender<Outbound>,
    nonce: String,
    auth: Option<Authed>,
    preauth_frames: u32,
    requests: TokenBucket,
    sends: TokenBucket,
    /// Set when the client stopped reading; the main loop then ends the connection.
    dead: bool,
    /// Set when the pump could not read the store (full, failing, or a batch it shared was rolled back): the next
    /// tick pumps again, since no new commit may ever come to wake it (on a full store the backlog this
    /// recipient would drain is what frees the space).
    pump_failed: bool,
}

/// How long a reply may wait for room in the outbound queue before the client counts as gone.
const WRITE_STALL: Duration = Duration::from_secs(30);

/// What the main loop should do after a request was answered.
enum After {
    Nothing,
    Pump,
    Close(CloseCode, &'static str),
}

pub(crate) async fn handle(socket: WebSocket, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    shared.metrics.connections_active.fetch_add(1, Ordering::Relaxed);
    Metrics::inc(&shared.metrics.connections_total, 1);
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Outbound>(1024);
    let writer = tokio::spawn(async move {
        while let Some(o) = out_rx.recv().await {
            let r = match o {
                Outbound::Text(t) => sink.send(Message::Text(t.into())).await,
                Outbound::Ping => sink.send(Message::Ping(Default::default())).await,
                Outbound::Close(code, reason) => {
                    let _ =
                        sink.send(Message::Close(Some(CloseFrame { code: code.code(), reason: reason.into() }))).await;
                    break;
                }
            };
            if r.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let now = Instant::now();
    let s = &shared.settings;
    let nonce = match crypto::random_bytes::<32>() {
        Ok(b) => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b),
        Err(_) => {
            let _ = out.send(Outbound::Close(CloseCode::GoingAway, "no randomness")).await;
            drop(out);
            let _ = writer.await;
            shared.metrics.connections_active.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    };
    let mut conn = Conn {
        id,
        requests: TokenBucket::new(s.request_burst, s.request_rate, now),
        sends: TokenBucket::new(s.send_burst, s.send_rate, now),
        shared: shared.clone(),
        out,
        nonce,
        auth: None,
        preauth_frames: 0,
        dead: false,
        pump_failed: false,
    };
    conn.notify(
        method::AUTH_CHALLENGE,
        &proto::ChallengeParams {
            nonce: conn.nonce.clone(),
            protocol: proto::SUBPROTOCOL.into(),
            broker_version: env!("CARGO_PKG_VERSION").into(),
            server_time_ms: now_ms(),
        },
    )
    .await;

    let started = Instant::now();
    let mut last_inbound = Instant::now();
    let mut last_ping = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let idle_wake = Arc::new(Notify::new());
    loop {
        let wake = conn.auth.as_ref().map_or_else(|| idle_wake.clone(), |a| a.wake.clone());
        tokio::select! {
            frame = stream.next() => {
                last_inbound = Instant::now();
                match frame {
                    None | Some(Ok(Message::Close(_))) => break,
                    Some(Err(e)) => {
                        Metrics::inc(&shared.metrics.frame_errors, 1);
                        let too_big = matches!(
                            e.into_inner().downcast_ref::<tokio_tungstenite::tungstenite::Error>(),
                            Some(tokio_tungstenite::tungstenite::Error::Capacity(_))
                        );
                        if too_big {
                            conn.close(CloseCode::TooBig, "frame larger than 65536 bytes");
                        }
                        break;
                    }
                    Some(Ok(Message::Text(text))) => {
                        match conn.on_text(text.as_str()).await {
                            After::Nothing => {}
                            After::Pump => conn.pump().await,
                            After::Close(code, reason) => { conn.close(code, reason); break; }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        Metrics::inc(&shared.metrics.frame_errors, 1);
                        conn.close(CloseCode::ProtocolError, "text frames only");
                        break;
                    }
                    Some(Ok(_)) => {}
                }
            }
            _ = wake.notified() => conn.pump().await,
            _ = tick.tick() => {
                if conn.auth.is_none() && started.elapsed() > s.auth_timeout {
                    conn.close(CloseCode::PolicyViolation, "authentication timed out");
                    break;
                }
                if last_inbound.elapsed() > s.stale_after {
                    conn.close(CloseCode::Stale, "no traffic within the stale timeout");
                    break;
                }
                if last_ping.elapsed() >= s.ping_interval {
                    last_ping = Instant::now();
                    let _ = conn.out.try_send(Outbound::Ping);
                }
                if conn.pump_failed {
                    conn.pump().await;
                }
                conn.redeliver().await;
            }
            _ = shutdown.changed() => {
                conn.close(CloseCode::GoingAway, "broker shutting down");
                break;
            }
        }
        if conn.dead {
            break;
        }
    }
    conn.finish().await;
    drop(conn);
    // Read (and discard) what the client already sent until it answers our close or 1 s passes, so the kernel
    // does not reset the socket under unread data and swallow the close frame that explains why.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(m)) = stream.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
    let _ = writer.await;
    shared.metrics.connections_active.fetch_sub(1, Ordering::Relaxed);
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| RpcError::new(ErrorCode::InvalidParams, format!("invalid params: {e}")))
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, RpcError> {
    serde_json::to_value(v).map_err(|e| RpcError::new(ErrorCode::Internal, e.to_string()))
}

pub(crate) fn store_err(e: StoreError) -> RpcError {
    match e {
        StoreError::Rejected(code, msg) => RpcError::new(code, msg),
        StoreError::Full => RpcError::new(ErrorCode::Unavailable, "the broker's disk is full; nothing was stored"),
        StoreError::Unavailable(cause) => {
            // The cause is for the operator's log; the client gets the stable, actionable part.
            tracing::warn!(%cause, "store error");
            RpcError::new(ErrorCode::Unavailable, "the broker's store is unavailable; nothing was stored")
        }
    }
}

fn bad_name(what: &str) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, format!("{what} must be 1 to 64 characters without control characters"))
}

impl Conn {
    /// Queues a frame for the writer. Waits while the queue is full, so a client that reads slowly slows this
    /// connection down (TCP backpressure) instead of losing replies; a client that stops reading altogether is
    /// dropped after `WRITE_STALL`.
    async fn send_text(&mut self, text: String) {
        match tokio::time::timeout(WRITE_STALL, self.out.send(Outbound::Text(text))).await {
            Ok(Ok(())) => {}
            _ => {
                tracing::debug!(conn = self.id, "client stopped reading; closing");
                self.dead = true;
            }
        }
    }

    async fn notify<T: Serialize>(&mut self, m: &str, params: &T) {
        if let Ok(v) = serde_json::to_value(params) {
            self.send_text(proto::encode_notification(m, &v)).await;
        }
    }

    fn close(&self, code: CloseCode, reason: &'static str) {
        let _ = self.out.try_send(Outbound::Close(code, reason));
    }

    async fn on_text(&mut self, text: &str) -> After {
        let shared = self.shared.clone();
        let m = &shared.metrics;
        if self.auth.is_none() {
            self.preauth_frames += 1;
            if self.preauth_frames > self.shared.settings.max_preauth_frames {
                Metrics::inc(&m.frame_errors, 1);
                return After::Close(CloseCode::PolicyViolation, "too many frames before auth.hello");
            }
        }
        let (id, method_name, params) = match proto::decode_frame(text) {
            Ok(Incoming::Request { id, method, params }) => (id, method, params),
            Ok(Incoming::Notification { .. } | Incoming::Response { .. }) => return After::Nothing,
            Err((id, err)) => {
                Metrics::inc(&m.frame_errors, 1);
                self.send_text(proto::encode_error(&id, &err)).await;
                return After::Nothing;
            }
        };
        // Acknowledgements and receipts only complete deliveries the broker already pushed to this connection (each
        // frame carries a capped list of ids): throttling them would only cause redeliveries, so they are not
        // charged to the request budget. A busy recipient acks as fast as it receives.
        let completes_delivery = matches!(method_name.as_str(), method::MESSAGE_ACK | method::MESSAGE_RECEIPT);
        if let Err(wait) = if completes_delivery { Ok(()) } else { self.requests.take(1, Instant::now()) } {
            Metrics::inc(&m.rate_limited, 1);
            let err = RpcError::with_data(
                ErrorCode::RateLimited,
                "too many requests; slow down",
                json!({"retry_after_ms": retry_ms(wait)}),
            );
            self.send_text(proto::encode_error(&id, &err)).await;
            return After::Nothing;
        }
        Metrics::inc(&m.requests, 1);
        let (outcome, after) = self.dispatch(&method_name, params).await;
        match outcome {
            Ok(v) => self.send_text(proto::encode_result(&id, &v)).await,
            Err(e) => {
                Metrics::inc(&m.frame_errors, 1);
                self.send_text(proto::encode_error(&id, &e)).await;
            }
        }
        if super::coord::handles(&method_name) {
            super::coord::after_reply(&self.shared, self.id).await;
        }
        if let After::Pump = after {
            // The hello reply goes out before any delivery; announce an empty backlog at once.
            if let Some(a) = &mut self.auth
                && a.pending_sync == Some(0)
            {
                a.pending_sync = None;
                self.notify(method::INBOX_SYNCED, &proto::InboxSyncedParams { count: 0 }).await;
            }
        }
        after
    }

    async fn dispatch(&mut self, name: &str, params: Value) -> (Result<Value, RpcError>, After) {
        if name == method::PING {
            return (Ok(json!({ "time_ms": now_ms() })), After::Nothing);
        }
        if self.auth.is_none() {
            return match name {
                method::AUTH_HELLO => match self.hello(params).await {
                    Ok(v) => (Ok(v), After::Pump),
                    Err(e) => {
                        Metrics::inc(&self.shared.metrics.auth_failures, 1);
                        let close = matches!(e.kind(), Some(ErrorCode::AuthFailed | ErrorCode::NotMember));
                        (
                            Err(e),
                            if close {
                                After::Close(CloseCode::PolicyViolation, "authentication failed")
                            } else {
                                After::Nothing
                            },
                        )
                    }
                },
                method::MESH_CREATE => (self.mesh_create(params).await, After::Nothing),
                method::INVITE_REDEEM => (self.redeem(params).await, After::Nothing),
                _ if is_known(name) => {
                    (Err(RpcError::new(ErrorCode::NotAuthenticated, "call auth.hello first")), After::Nothing)
                }
                _ => (Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {name}"))), After::Nothing),
            };
        }
        if let Some(a) = &self.auth
            && access::is_removed(&self.shared, &a.mesh, &a.member)
        {
            return (Err(access::removed()), After::Close(CloseCode::Removed, "removed from the mesh"));
        }
        let r = match name {
            proto::cmethod::MESH_DELETE => {
                return match self.coord(name, params).await {
                    Ok(v) => (Ok(v), After::Close(CloseCode::Removed, "the mesh was deleted")),
                    Err(e) => (Err(e), After::Nothing),
                };
            }
            method::AUTH_HELLO | method::MESH_CREATE | method::INVITE_REDEEM => {
                Err(RpcError::new(ErrorCode::AlreadyAuthenticated, "this connection is already authenticated"))
            }
            method::MESH_INFO => self.mesh_info().await,
            method::MESH_RENAME => self.mesh_rename(params).await,
            method::MESH_LEAVE => {
                return match self.leave().await {
                    Ok(v) => (Ok(v), After::Close(CloseCode::Removed, "left the mesh")),
                    Err(e) => (Err(e), After::Nothing),
                };
            }
            method::PEER_LIST => self.peer_list().await,
            method::PRESENCE_SET => self.presence_set(params).await,
            method::GROUP_JOIN => self.group(params, true).await,
            method::GROUP_LEAVE => self.group(params, false).await,
            method::MESSAGE_SEND => self.send(params).await,
            method::MESSAGE_ACK => return (self.ack(params).await, After::Pump),
            method::MESSAGE_STATUS => self.status(params).await,
            method::MESSAGE_RECEIPT => self.receipt(params).await,
            method::INBOX_SYNC => self.inbox_sync().await,
            method::INVITE_CREATE => self.invite_create(params).await,
            method::INVITE_LIST => self.invite_list().await,
            method::INVITE_REVOKE => self.invite_revoke(params).await,
            _ if super::coord::handles(name) => self.coord(name, params).await,
            _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {name}"))),
        };
        (r, After::Nothing)
    }

    /// A coordination request (state, memory, tasks, ...): routed to `coord` with who is asking.
    async fn coord(&mut self, name: &str, params: Value) -> Result<Value, RpcError> {
        let a = self.authed()?;
        let ctx = super::coord::Ctx {
            shared: &self.shared,
            conn: self.id,
            out: &self.out,
            mesh: &a.mesh,
            peer: &a.peer,
            member: &a.member,
            // The role now, not at hello: a promotion or demotion counts from the next request.
            role: super::coord::access::current_role(&self.shared, &a.mesh, &a.member, a.role),
        };
        super::coord::dispatch(&ctx, name, params).await
    }

    // ---- auth ------------------------------------------------------------------------------------------------

    async fn hello(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::HelloParams = parse(params)?;
        if !proto::is_valid_name(&p.name) {
            return Err(bad_name("name"));
        }
        if p.client.as_ref().is_some_and(|c| c.len() > 64) {
            return Err(RpcError::new(ErrorCode::InvalidParams, "client must be at most 64 bytes"));
        }
        let (mesh_s, member_s, session_s) =
            (p.mesh_id.to_string(), p.member_key.to_string(), p.session_key.to_string());
        let att = proto::attestation_bytes(&mesh_s, &member_s, &session_s, p.attestation.issued_at_ms);
        crypto::verify_hex(p.member_key.bytes(), &att, &p.attestation.signature).map_err(|_| {
            RpcError::new(ErrorCode::AuthFailed, "the session attestation does not verify under the member key")
        })?;
        let hello = proto::hello_bytes(&self.nonce, &mesh_s, &member_s, &session_s);
        crypto::verify_hex(p.session_key.bytes(), &hello, &p.signature).map_err(|_| {
            RpcError::new(ErrorCode::AuthFailed, "the hello signature does not verify (wrong key or stale nonce)")
        })?;
        let now = now_ms();
        let (mesh, member, session, name, att) =
            (p.mesh_id.clone(), p.member_key, p.session_key, p.name.clone(), p.attestation.clone());
        // Registered before the rights are read, so the cache keeps this member's slot (and every change to it
        // committed from here on) while the hello is in flight.
        let access = &self.shared.coord.access;
        let conn = access::ConnRef { id: self.id, peer: p.session_key, receiving: p.receive, out: self.out.clone() };
        access.register(&p.mesh_id, &p.member_key, conn);
        let stamps = access.stamps();
        let loaded = self
            .shared
            .db
            .run(move |c| {
                let Some(mesh_row) = store::mesh(c, &mesh)? else {
                    return Err(StoreError::Rejected(
                        ErrorCode::NotMember,
                        "unknown mesh or not a member of it".into(),
                    ));
                };
                let Some(rights) = access::load_for_hello(c, &stamps, &mesh, &member)? else {
                    return Err(StoreError::Rejected(
                        ErrorCode::NotMember,
                        "unknown mesh or not a member of it".into(),
                    ));
                };
                let peer = store::upsert_peer(c, &mesh, &session, &member, &name, &att, now)?;
                let backlog = store::backlog(c, &mesh, &session, now)?;
                Ok((peer, mesh_row, backlog, rights))
            })
            .await;
        let (peer, mesh_row, (_, backlog), (stamp, rights)) = match loaded {
            Ok(v) => v,
            Err(e) => {
                self.shared.coord.access.unregister(self.id);
                return Err(store_err(e));
            }
        };
        self.shared.coord.access.apply(&p.mesh_id, &p.member_key, stamp, Some(rights));
        let wake = Arc::new(Notify::new());
        let hub = &self.shared.hub;
        let attach = if p.receive {
            hub.attach(&p.mesh_id, &peer.id, self.id, self.out.clone(), wake.clone())
        } else {
            Attach::Resumed
        };
        let info = peer_info(hub, &p.mesh_id, &peer);
        if let Attach::Joined = attach {
            let text = proto::encode_notification(method::PEER_JOINED, &json!({ "peer": info }));
            hub.broadcast(&p.mesh_id, Some(&peer.id), &text);
        }
        tracing::info!(conn = self.id, mesh = %p.mesh_id, peer = %peer.id.short(), "peer authenticated");
        self.auth = Some(Authed {
            mesh: p.mesh_id.clone(),
            mesh_name: mesh_row.name.clone(),
            peer: peer.id,
            member: peer.member_key,
            role: peer.role,
            wake,
            cursor: 0,
            inflight: BTreeMap::new(),
            pending_sync: p.receive.then_some(backlog),
            receiving: p.receive,
        });
        let s = &self.shared.settings;
        to_value(&proto::HelloResult {
            peer: info,
            mesh: proto::MeshSummary { id: p.mesh_id, name: mesh_row.name },
            backlog,
            grace_secs: s.grace.as_secs(),
            ping_secs: s.ping_interval.as_secs(),
        })
    }

    async fn mesh_create(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::MeshCreateParams = parse(params)?;
        if !proto::is_valid_name(&p.name) {
            return Err(bad_name("name"));
        }
        let bytes = proto::mesh_create_bytes(&self.nonce, p.mesh_id.as_str(), &p.name, &p.owner_key.to_string());
        crypto::verify_hex(p.owner_key.bytes(), &bytes, &p.signature)
            .map_err(|_| RpcError::new(ErrorCode::AuthFailed, "the mesh.create signature does not verify"))?;
        let (id, name, owner) = (p.mesh_id.clone(), p.name.clone(), p.owner_key);
        let now = now_ms();
        self.shared.db.run(move |c| store::create_mesh(c, &id, &name, &owner, now)).await.map_err(store_err)?;
        Ok(json!({ "mesh": proto::MeshSummary { id: p.mesh_id, name: p.name } }))
    }

    async fn redeem(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::RedeemParams = parse(params)?;
        if !proto::is_valid_name(&p.name) {
            return Err(bad_name("name"));
        }
        let invite =
            proto::Invite::from_token(&p.token).map_err(|e| RpcError::new(ErrorCode::InviteInvalid, e.to_string()))?;
        let proof = proto::redeem_bytes(&self.nonce, &invite.id, &p.member_key.to_string());
        crypto::verify_hex(p.member_key.bytes(), &proof, &p.signature)
            .map_err(|_| RpcError::new(ErrorCode::AuthFailed, "the invite.redeem signature does not verify"))?;
        crypto::verify_hex(invite.issuer.bytes(), &invite.signed_bytes(), &invite.sig).map_err(|_| {
            RpcError::new(ErrorCode::InviteInvalid, "the invite's signature does not verify (forged or altered)")
        })?;
        let now = now_ms();
        let (member, name) = (p.member_key, p.name.clone());
        let inv = invite.clone();
        let (mesh_name, role, already) = self
            .shared
            .db
            .run(move |c| {
                let invalid = |m: &str| StoreError::Rejected(ErrorCode::InviteInvalid, m.to_string());
                let row =
                    store::invite(c, &inv.id)?.ok_or_else(|| invalid("this invite was never issued by this broker"))?;
                if row.mesh_id != inv.mesh.as_str()
                    || row.issuer != inv.issuer.to_string()
                    || row.role != inv.role.as_str()
                    || row.expires_at != inv.exp
                    || row.max_uses != inv.uses
                {
                    return Err(invalid("the invite does not match what its issuer registered"));
                }
                if row.revoked {
                    return Err(invalid("the invite was revoked"));
                }
                let mesh = store::mesh(c, &inv.mesh)?.ok_or_else(|| invalid("the invite's mesh no longer exists"))?;
                if !store::member_role(c, &inv.mesh, &inv.issuer)?.is_some_and(Role::is_admin) {
                    return Err(invalid("the invite's issuer is no longer an admin of the mesh"));
                }
                if access::sql::is_banned(c, &inv.mesh, &member)? {
                    return Err(StoreError::Rejected(ErrorCode::Forbidden, access::banned_text().into()));
                }
                if let Some(role) = store::member_role(c, &inv.mesh, &member)? {
                    return Ok((mesh.name, role, true));
                }
                if inv.exp <= now / 1000 {
                    return Err(StoreError::Rejected(ErrorCode::InviteExpired, "the invite has expired".into()));
                }
                if row.uses >= row.max_uses {
                    return Err(StoreError::Rejected(ErrorCode::InviteExhausted, "the invite has been used up".into()));
                }
                store::consume_invite(c, &inv.id)?;
                store::add_member(c, &inv.mesh, &member, inv.role, &name, &inv.id, now)?;
                Ok((mesh.name, inv.role, false))
            })
            .await
            .map_err(store_err)?;
        to_value(&proto::RedeemResult {
            mesh: proto::MeshSummary { id: invite.mesh, name: mesh_name },
            role,
            already_member: already,
        })
    }

    // ---- mesh, peers, presence, groups ----------------------------------------------------------------------

    fn authed(&self) -> Result<&Authed, RpcError> {
        self.auth.as_ref().ok_or_else(|| RpcError::new(ErrorCode::NotAuthenticated, "call auth.hello first"))
    }

    async fn mesh_info(&mut self) -> Result<Value, RpcError> {
        let a = self.authed()?;
        let (mesh, member) = (a.mesh.clone(), a.member);
        let (row, members, role) = self
            .shared
            .db
            .run(move |c| {
                let row = store::mesh(c, &mesh)?
                    .ok_or_else(|| StoreError::Rejected(ErrorCode::NotFound, "mesh not found".into()))?;
                let role = store::member_role(c, &mesh, &member)?.unwrap_or(Role::Guest);
                Ok((row, store::count_members(c, &mesh)?, role))
            })
            .await
            .map_err(store_err)?;
        let s = &self.shared.settings;
        to_value(&proto::MeshInfoResult {
            peers_online: self.shared.hub.present_count(&row.id),
            id: row.id,
            name: row.name,
            owner_key: row.owner_key,
            created_at_ms: row.created_at,
            members,
            your_role: role,
            limits: proto::Limits {
                max_frame_bytes: proto::MAX_FRAME_BYTES as u64,
                max_body_bytes: proto::MAX_BODY_BYTES as u64,
                max_recipients: s.max_recipients as u64,
                default_ttl_secs: s.default_ttl.as_secs(),
                max_ttl_secs: s.max_ttl.as_secs(),
                send_rate_per_sec: s.send_rate,
                send_burst: s.send_burst,
            },
        })
    }

    async fn mesh_rename(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::MeshRenameParams = parse(params)?;
        if !proto::is_valid_name(&p.name) {
            return Err(bad_name("name"));
        }
        let a = self.authed()?;
        let (mesh, member, name) = (a.mesh.clone(), a.member, p.name.clone());
        self.shared
            .db
            .run(move |c| {
                store::require_admin(c, &mesh, &member, "rename the mesh")?;
                store::rename_mesh(c, &mesh, &name)
            })
            .await
            .map_err(store_err)?;
        if let Some(a) = &mut self.auth {
            a.mesh_name = p.name.clone();
        }
        // Everyone's client keeps the mesh's name locally; tell them.
        if let Some(a) = &self.auth {
            let note = proto::encode_notification(method::MESH_RENAMED, &json!({ "name": p.name }));
            self.shared.hub.broadcast(&a.mesh, Some(&a.peer), &note);
        }
        Ok(json!({ "name": p.name }))
    }

    async fn leave(&mut self) -> Result<Value, RpcError> {
        let a = self.authed()?;
        if a.role == Role::Owner {
            return Err(RpcError::new(ErrorCode::Forbidden, "the owner cannot leave the mesh they own"));
        }
        let (mesh, member) = (a.mesh.clone(), a.member);
        let m2 = mesh.clone();
        let stamps = self.shared.coord.access.stamps();
        let (removed, stamp) = self
            .shared
            .db
            .run(move |c| {
                let removed = store::remove_member(c, &m2, &member)?;
                access::sql::forget_member(c, &m2, &member)?;
                Ok((removed, stamps.next()))
            })
            .await
            .map_err(store_err)?;
        self.shared.coord.access.apply(&mesh, &member, stamp, None);
        let me = a.peer;
        for (peer, name) in &removed {
            if *peer != me {
                self.shared.hub.remove(&mesh, peer, Some(CloseCode::Removed));
            }
            let text = proto::encode_notification(
                method::PEER_LEFT,
                &json!(proto::PeerLeftParams { id: *peer, name: name.clone() }),
            );
            self.shared.hub.broadcast(&mesh, Some(peer), &text);
        }
        // Our own reply must go out before the close: the main loop closes after sending it. When this is a
        // control connection, the session's receiving connection (if any) is closed by the hub.
        let own = if a.receiving { None } else { Some(CloseCode::Removed) };
        self.shared.hub.remove(&mesh, &me, own);
        self.auth = None;
        Ok(json!({ "left": true }))
    }

    async fn peer_list(&mut self) -> Result<Value, RpcError> {
        let a = self.authed()?;
        let (mesh, me) = (a.mesh.clone(), a.peer);
        let m2 = mesh.clone();
        let rows = self.shared.db.run(move |c| store::peers(c, &m2)).await.map_err(store_err)?;
        let peers: Vec<_> =
            rows.iter().filter(|p| p.visible || p.id == me).map(|p| peer_info(&self.shared.hub, &mesh, p)).collect();
        to_value(&proto::PeerListResult { peers })
    }

    async fn presence_set(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::PresenceSetParams = parse(params)?;
        if p.summary.as_ref().is_some_and(|s| s.chars().count() > 280 || s.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(RpcError::new(ErrorCode::InvalidParams, "summary must be at most 280 characters"));
        }
        if p.name.as_ref().is_some_and(|n| !proto::is_valid_name(n)) {
            return Err(bad_name("name"));
        }
        let bad = |s: &Option<String>, max: usize| {
            s.as_ref().is_some_and(|s| s.chars().count() > max || s.chars().any(char::is_control))
        };
        if bad(&p.cwd, 512) || bad(&p.branch, 255) {
            return Err(RpcError::new(
                ErrorCode::InvalidParams,
                "cwd is at most 512 and branch at most 255 characters, without control characters",
            ));
        }
        let a = self.authed()?;
        let (mesh, me) = (a.mesh.clone(), a.peer);
        let m2 = mesh.clone();
        let row = self
            .shared
            .db
            .run(move |c| {
                let change = store::PresenceChange {
                    status: p.status,
                    summary: p.summary.as_deref(),
                    visible: p.visible,
                    name: p.name.as_deref(),
                    cwd: p.cwd.as_deref(),
                    branch: p.branch.as_deref(),
                };
                store::set_presence(c, &m2, &me, change)
            })
            .await
            .map_err(store_err)?;
        self.updated(&mesh, &row)
    }

    async fn group(&mut self, params: Value, join: bool) -> Result<Value, RpcError> {
        let p: proto::GroupParams = parse(params)?;
        let name = p.name.trim_start_matches('@').to_string();
        if !proto::is_valid_name(&name) || name.contains(char::is_whitespace) {
            return Err(RpcError::new(ErrorCode::InvalidParams, "a group name is 1 to 64 characters without spaces"));
        }
        if p.role.as_ref().is_some_and(|r| !proto::is_valid_name(r)) {
            return Err(bad_name("role"));
        }
        let a = self.authed()?;
        let (mesh, me) = (a.mesh.clone(), a.peer);
        let m2 = mesh.clone();
        let row = self
            .shared
            .db
            .run(move |c| {
                let cur = store::peer(c, &m2, &me)?
                    .ok_or_else(|| StoreError::Rejected(ErrorCode::NotFound, "peer not found".into()))?;
                let mut groups: Vec<_> = cur.groups.into_iter().filter(|g| g.name != name).collect();
                if join {
                    if groups.len() >= 32 {
                        return Err(StoreError::Rejected(
                            ErrorCode::InvalidParams,
                            "a peer can be in at most 32 groups".into(),
                        ));
                    }
                    groups.push(proto::GroupRef { name, role: p.role });
                }
                store::set_groups(c, &m2, &me, &groups)
            })
            .await
            .map_err(store_err)?;
        self.updated(&mesh, &row)
    }

    fn updated(&self, mesh: &MeshId, row: &store::PeerRow) -> Result<Value, RpcError> {
        let info = peer_info(&self.shared.hub, mesh, row);
        let text = proto::encode_notification(method::PEER_UPDATED, &json!({ "peer": info }));
        self.shared.hub.broadcast(mesh, Some(&row.id), &text);
        to_value(&proto::PeerResult { peer: info })
    }

    // ---- messages -------------------------------------------------------------------------------------------

    async fn send(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::SendParams = parse(params)?;
        let s = &self.shared.settings;
        if p.envelopes.is_empty() || p.envelopes.len() > s.max_recipients {
            return Err(RpcError::new(
                ErrorCode::InvalidParams,
                format!("a send carries 1 to {} envelopes", s.max_recipients),
            ));
        }
        if p.to.is_empty() || p.to.len() > 128 || p.to.chars().any(char::is_control) {
            return Err(RpcError::new(ErrorCode::InvalidParams, "to must be 1 to 128 characters"));
        }
        let ttl = p.ttl_secs.map_or(s.default_ttl, Duration::from_secs);
        if ttl.is_zero() || ttl > s.max_ttl {
            return Err(RpcError::new(
                ErrorCode::InvalidParams,
                format!("ttl_secs must be between 1 and {}", s.max_ttl.as_secs()),
            ));
        }
        let mut envs = Vec::with_capacity(p.envelopes.len());
        let mut seen = std::collections::HashSet::new();
        let b64 = base64::engine::general_purpose::STANDARD;
        let max_ct = proto::MAX_BODY_BYTES + 1024;
        for e in p.envelopes {
            if !seen.insert(e.to) {
                return Err(RpcError::new(ErrorCode::InvalidParams, "each recipient may appear once"));
            }
            let nonce_ok = b64.decode(&e.nonce).is_ok_and(|n| n.len() == 24);
            let ct_len = b64.decode(&e.ciphertext).map(|c| c.len()).unwrap_or(0);
            if !nonce_ok || ct_len < 16 {
                return Err(RpcError::new(
                    ErrorCode::InvalidParams,
                    "nonce must be 24 bytes and ciphertext at least 16 bytes, standard base64",
                ));
            }
            if ct_len > max_ct {
                return Err(RpcError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("a sealed body may be at most {max_ct} bytes"),
                ));
            }
            envs.push((e.to, e.nonce, e.ciphertext));
        }
        // `*` is a broadcast; a name or a group needs `dm` (refused before it costs send budget).
        let a = self.authed()?;
        let cap = if p.to == "*" { proto::Capability::Broadcast } else { proto::Capability::Dm };
        access::check(&self.shared, &a.mesh, &a.member, a.role, cap)?;
        if let Err(wait) = self.sends.take(envs.len() as u64, Instant::now()) {
            Metrics::inc(&self.shared.metrics.rate_limited, 1);
            return Err(RpcError::with_data(
                ErrorCode::RateLimited,
                "sending faster than this broker allows; retry later with the same message id",
                json!({ "retry_after_ms": retry_ms(wait) }),
            ));
        }
        let a = self.authed()?;
        let (mesh, sender, member) = (a.mesh.clone(), a.peer, a.member);
        let now = now_ms();
        let expires_at = now + ttl.as_millis() as u64;
        let (id, to, priority) = (p.id.clone(), p.to.clone(), p.priority);
        let m2 = mesh.clone();
        let shared = self.shared.clone();
        let stored = shared.db.run(move |c| {
            let msg = store::NewMessage {
                mesh: &m2,
                sender: &sender,
                sender_member: &member,
                id: &id,
                to: &to,
                priority,
                now,
                expires_at,
            };
            store::insert_message(c, &msg, &envs)
        });
        let (accepted, dups, expires_at, woke) = self.pumping_until(stored).await.map_err(store_err)?;
        Metrics::inc(&self.shared.metrics.messages_accepted, accepted);
        Metrics::inc(&self.shared.metrics.messages_duplicate, dups);
        for r in &woke {
            self.shared.hub.wake(&mesh, r);
        }
        to_value(&proto::SendResult { id: p.id, accepted, duplicates: dups, expires_at_ms: expires_at })
    }

    async fn ack(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::AckParams = parse(params)?;
        if p.deliveries.len() > 4096 {
            return Err(RpcError::new(ErrorCode::InvalidParams, "at most 4096 deliveries per ack"));
        }
        let a = self.authed()?;
        let (mesh, me) = (a.mesh.clone(), a.peer);
        let seqs = p.deliveries.clone();
        let now = now_ms();
        let shared = self.shared.clone();
        let m2 = mesh.clone();
        let acked =
            self.pumping_until(shared.db.run(move |c| store::ack(c, &m2, &me, &seqs, now))).await.map_err(store_err)?;
        let n = acked.len() as u64;
        Metrics::inc(&self.shared.metrics.messages_delivered, n);
        // Each sender hears that its copy arrived (`message.receipt`, state `delivered`).
        for ch in &acked {
            let notice = proto::ReceiptNotice {
                id: ch.id.clone(),
                recipient: me,
                state: proto::DeliveryState::Delivered,
                via: None,
                at_ms: now,
            };
            if let Ok(v) = serde_json::to_value(&notice) {
                self.shared.hub.send_to(&mesh, &ch.sender, &proto::encode_notification(method::MESSAGE_RECEIPT, &v));
            }
        }
        if let Some(a) = &mut self.auth {
            for s in &p.deliveries {
                a.inflight.remove(s);
            }
        }
        to_value(&proto::AckResult { acked: n })
    }

    async fn status(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::StatusParams = parse(params)?;
        let a = self.authed()?;
        let (mesh, member, id) = (a.mesh.clone(), a.member, p.id.clone());
        let now = now_ms();
        let st = self
            .shared
            .db
            .run(move |c| store::message_status(c, &mesh, &member, &id, now))
            .await
            .map_err(store_err)?
            .ok_or_else(|| {
                RpcError::new(ErrorCode::NotFound, "no message with this id was sent by you in this mesh")
            })?;
        let state = proto::DeliveryState::least_advanced(st.recipients.iter().map(|r| r.state));
        to_value(&proto::StatusResult {
            id: p.id,
            to: st.to,
            priority: st.priority,
            created_at_ms: st.created_at,
            expires_at_ms: st.expires_at,
            state,
            recipients: st.recipients,
        })
    }

    /// A recipient reports that messages it received were surfaced or read. Only the caller's own delivery rows
    /// change, only forward; each sender whose row moved hears a `message.receipt` on its live connection.
    async fn receipt(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::ReceiptParams = parse(params)?;
        if p.ids.is_empty() || p.ids.len() > proto::MAX_RECEIPT_IDS {
            return Err(RpcError::new(
                ErrorCode::InvalidParams,
                format!("a receipt carries 1 to {} message ids", proto::MAX_RECEIPT_IDS),
            ));
        }
        let a = self.authed()?;
        let (mesh, me) = (a.mesh.clone(), a.peer);
        let (state, via) = (p.state, p.via);
        let now = now_ms();
        let m2 = mesh.clone();
        let changed = self
            .shared
            .db
            .run(move |c| store::apply_receipt(c, &m2, &me, &p.ids, state, via, now))
            .await
            .map_err(store_err)?;
        let metrics = &self.shared.metrics;
        Metrics::inc(&metrics.receipts, changed.len() as u64);
        Metrics::inc(&metrics.messages_delivered, changed.iter().filter(|c| c.was_queued).count() as u64);
        for ch in &changed {
            let notice =
                proto::ReceiptNotice { id: ch.id.clone(), recipient: me, state: state.into(), via, at_ms: now };
            if let Ok(v) = serde_json::to_value(&notice) {
                self.shared.hub.send_to(&mesh, &ch.sender, &proto::encode_notification(method::MESSAGE_RECEIPT, &v));
            }
        }
        to_value(&proto::ReceiptResult { updated: changed.len() as u64 })
    }

    async fn invite_list(&mut self) -> Result<Value, RpcError> {
        let a = self.authed()?;
        let (mesh, member) = (a.mesh.clone(), a.member);
        let invites = self
            .shared
            .db
            .run(move |c| {
                store::require_admin(c, &mesh, &member, "list invites")?;
                store::list_invites(c, &mesh, 1000)
            })
            .await
            .map_err(store_err)?;
        to_value(&proto::InviteListResult { invites })
    }

    async fn invite_revoke(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::InviteRevokeParams = parse(params)?;
        if p.invite_id.is_empty() || p.invite_id.len() > 64 {
            return Err(RpcError::new(ErrorCode::InvalidParams, "invite_id must be 1 to 64 characters"));
        }
        let a = self.authed()?;
        let (mesh, member, id) = (a.mesh.clone(), a.member, p.invite_id.clone());
        let now = now_ms();
        let revoked = self
            .shared
            .db
            .run(move |c| {
                store::require_admin(c, &mesh, &member, "revoke invites")?;
                store::revoke_invite(c, &mesh, &id, now)
            })
            .await
            .map_err(store_err)?;
        to_value(&proto::InviteRevokeResult { invite_id: p.invite_id, revoked })
    }

    async fn invite_create(&mut self, params: Value) -> Result<Value, RpcError> {
        let p: proto::InviteCreateParams = parse(params)?;
        let inv =
            proto::Invite::from_token(&p.token).map_err(|e| RpcError::new(ErrorCode::InviteInvalid, e.to_string()))?;
        let a = self.authed()?;
        if inv.mesh != a.mesh || inv.issuer != a.member {
            return Err(RpcError::new(
                ErrorCode::InviteInvalid,
                "an invite must be for your mesh and signed by your member key",
            ));
        }
        if inv.role == Role::Owner {
            return Err(RpcError::new(ErrorCode::InvalidParams, "an invite cannot grant the owner role"));
        }
        if inv.exp <= now_ms() / 1000 || inv.uses == 0 || inv.uses > 10_000 {
            return Err(RpcError::new(ErrorCode::InvalidParams, "an invite needs a future expiry and 1 to 10000 uses"));
        }
        crypto::verify_hex(inv.issuer.bytes(), &inv.signed_bytes(), &inv.sig)
            .map_err(|_| RpcError::new(ErrorCode::InviteInvalid, "the invite's signature does not verify"))?;
        let (mesh, member) = (a.mesh.clone(), a.member);
        let now = now_ms();
        let (inv2, token) = (inv.clone(), p.token.clone());
        self.shared
            .db
            .run(move |c| {
                store::require_admin(c, &mesh, &member, "invite")?;
                store::insert_invite(c, &inv2, &token, now)
            })
            .await
            .map_err(store_err)?;
        to_value(&proto::InviteCreateResult { invite_id: inv.id, expires_at: inv.exp, uses: inv.uses })
    }

    // ---- delivery pump ----------------------------------------------------------------------------------------

    /// A barrier for a receiving connection: pushes every delivery committed before this request (as far as the
    /// unacked window allows) ahead of the reply, so "sent, then listed" finds the message.
    async fn inbox_sync(&mut self) -> Result<Value, RpcError> {
        let receiving = self.authed()?.receiving;
        if receiving {
            self.pump().await;
        }
        let inflight = self.auth.as_ref().map_or(0, |a| a.inflight.len());
        Ok(json!({ "receiving": receiving, "inflight": inflight }))
    }

    /// Waits for `commit` (a request's store job) while still pushing deliveries to this connection when it is
    /// woken: requests are answered one at a time, but a peer's own send or ack being committed must not hold
    /// up the messages others sent it.
    async fn pumping_until<T>(&mut self, commit: impl std::future::Future<Output = T>) -> T {
        let mut commit = std::pin::pin!(commit);
        let Some(wake) = self.auth.as_ref().filter(|a| a.receiving).map(|a| a.wake.clone()) else {
            return commit.await;
        };
        loop {
            tokio::select! {
                biased;
                done = &mut commit => return done,
                () = wake.notified() => self.pump().await,
            }
        }
    }

    /// Pushes queued deliveries in order while the unacked window has room.
    async fn pump(&mut self) {
        let window = self.shared.settings.window;
        let retrying = std::mem::take(&mut self.pump_failed);
        loop {
            let Some(a) = self.auth.as_ref().filter(|a| a.receiving) else { return };
            let room = window.saturating_sub(a.inflight.len());
            if room == 0 {
                return;
            }
            let (mesh, me, cursor) = (a.mesh.clone(), a.peer, a.cursor);
            let rows =
                match self.shared.db.read(move |c| store::fetch_pending(c, &mesh, &me, cursor, room, now_ms())).await {
                    Ok(r) => r,
                    Err(e) => {
                        if retrying {
                            tracing::debug!(conn = self.id, error = %e, "could not read pending deliveries again");
                        } else {
                            tracing::warn!(conn = self.id, error = %e, "could not read pending deliveries; retrying");
                        }
                        self.pump_failed = true;
                        return;
                    }
                };
            // A first push is counted by its ack (or when this connection closes before the ack), so the row is
            // not rewritten for it; a push after a reconnect is counted off the delivery path: the writer records
            // it with its next batch (queued before any ack for it can arrive).
            let pushes: Vec<(u64, usize)> = rows
                .iter()
                .filter(|d| d.attempt > 1)
                .map(|d| (d.delivery, d.ciphertext.len() + d.nonce.len()))
                .collect();
            if !pushes.is_empty() {
                self.shared.db.enqueue(move |c| store::bump_attempts_of(c, &pushes));
            }
            let caught_up = rows.len() < room;
            let now = Instant::now();
            for d in &rows {
                if let Some(a) = &mut self.auth {
                    a.cursor = a.cursor.max(d.delivery);
                    a.inflight.insert(d.delivery, now);
                }
                self.notify(method::MESSAGE_DELIVER, d).await;
            }
            if caught_up {
                if let Some(a) = &mut self.auth
                    && let Some(count) = a.pending_sync.take()
                {
                    self.notify(method::INBOX_SYNCED, &proto::InboxSyncedParams { count }).await;
                }
                return;
            }
        }
    }

    /// Pushes again every delivery that went unacknowledged for longer than the ack timeout.
    async fn redeliver(&mut self) {
        let timeout = self.shared.settings.ack_timeout;
        let Some(a) = &self.auth else { return };
        let due: Vec<u64> =
            a.inflight.iter().filter(|(_, t)| t.elapsed() >= timeout).map(|(s, _)| *s).take(256).collect();
        if due.is_empty() {
            return;
        }
        let me = a.peer;
        let seqs = due.clone();
        let Ok(rows) = self.shared.db.run(move |c| store::fetch_by_seq(c, &me, &seqs, now_ms())).await else { return };
        let now = Instant::now();
        if let Some(a) = &mut self.auth {
            for s in &due {
                a.inflight.remove(s);
            }
            for d in &rows {
                a.inflight.insert(d.delivery, now);
            }
        }
        Metrics::inc(&self.shared.metrics.messages_redelivered, rows.len() as u64);
        for d in &rows {
            self.notify(method::MESSAGE_DELIVER, d).await;
        }
    }

    /// On disconnect: start the grace lease; announce `peer.left` only if the peer does not return in time.
    async fn finish(&mut self) {
        super::coord::on_close(&self.shared, self.id);
        self.shared.coord.access.unregister(self.id);
        let Some(a) = self.auth.take().filter(|a| a.receiving) else { return };
        let shared = self.shared.clone();
        let Some(generation) = shared.hub.detach(&a.mesh, &a.peer, self.id) else { return };
        let (mesh, peer) = (a.mesh, a.peer);
        let now = now_ms();
        let (m2, p2) = (mesh.clone(), peer);
        let unacked: Vec<u64> = a.inflight.keys().copied().collect();
        let _ = shared
            .db
            .run(move |c| {
                store::count_first_pushes(c, &unacked)?;
                store::touch_peer(c, &m2, &p2, now)
            })
            .await;
        tokio::spawn(async move {
            let mut sd = shared.shutdown.clone();
            let stopping = async move {
                let _ = sd.wait_for(|v| *v).await;
            };
            tokio::select! {
                _ = tokio::time::sleep(shared.settings.grace) => {}
                _ = stopping => return,
            }
            if shared.hub.expire(&mesh, &peer, generation) {
                let (m2, p2) = (mesh.clone(), peer);
                let name = shared
                    .db
                    .run(move |c| store::peer(c, &m2, &p2))
                    .await
                    .ok()
                    .flatten()
                    .map(|p| p.name)
                    .unwrap_or_default();
                let text =
                    proto::encode_notification(method::PEER_LEFT, &json!(proto::PeerLeftParams { id: peer, name }));
                shared.hub.broadcast(&mesh, None, &text);
            }
        });
    }
}

/// A retry hint in whole milliseconds, rounded up so it is never 0 while tokens are still missing.
fn retry_ms(wait: Duration) -> u64 {
    u64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u64::MAX).max(1)
}

fn peer_info(hub: &Hub, mesh: &MeshId, p: &store::PeerRow) -> proto::PeerInfo {
    proto::PeerInfo {
        id: p.id,
        name: p.name.clone(),
        member_key: p.member_key,
        attestation: p.attestation.clone(),
        role: p.role,
        status: p.status,
        summary: p.summary.clone(),
        visible: p.visible,
        groups: p.groups.clone(),
        online: hub.is_present(mesh, &p.id),
        last_seen_ms: p.last_seen_ms,
        cwd: p.cwd.clone(),
        branch: p.branch.clone(),
    }
}

fn is_known(name: &str) -> bool {
    [
        method::MESH_INFO,
        method::MESH_RENAME,
        method::MESH_LEAVE,
        method::PEER_LIST,
        method::PRESENCE_SET,
        method::GROUP_JOIN,
        method::GROUP_LEAVE,
        method::MESSAGE_SEND,
        method::MESSAGE_ACK,
        method::MESSAGE_STATUS,
        method::MESSAGE_RECEIPT,
        method::INBOX_SYNC,
        method::INVITE_CREATE,
        method::INVITE_LIST,
        method::INVITE_REVOKE,
    ]
    .contains(&name)
        || super::coord::handles(name)
}
