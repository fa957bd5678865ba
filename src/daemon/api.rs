//! The local API server: one task per client on `daemon.sock`, newline-delimited JSON-RPC. The first request is
//! `daemon.hello` (protocol, build and the caller's session); every later call acts as that session.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::link::{SendOutcome, Waiting};
use super::state::{Daemon, MeshLookup, now_ms};
use crate::client::local::{HelloParams, HelloResult, LOCAL_PROTOCOL, MAX_LINE_BYTES, error_to_rpc};
use crate::client::{ClientError, check_body};
use crate::config::{MeshEntry, sanitize_session_id};
use crate::proto::{
    ErrorCode, Incoming, MessageId, Priority, RpcError, Status, decode_frame, encode_error, encode_result,
};
use crate::store::{Filter, OutboxRow, OutboxState, StoredMessage};

/// How long `inbox.list` waits for the broker to push the backlog.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `message.send` waits for the broker before answering `queued`.
const SEND_WAIT: Duration = Duration::from_secs(20);
/// Longest TTL the broker accepts.
const MAX_TTL_SECS: u64 = 30 * 86_400;

/// The caller, as `daemon.hello` introduced it.
struct Caller {
    session: String,
    name: Option<String>,
}

type Reply = Result<Value, RpcError>;

pub(super) async fn serve_conn(stream: UnixStream, daemon: Arc<Daemon>) {
    let (read, mut write) = stream.into_split();
    let (out, mut lines) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(mut line) = lines.recv().await {
            line.push('\n');
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(read);
    let mut caller: Option<Caller> = None;
    let mut buf = String::new();
    let mut stop = daemon.shutdown.subscribe();
    loop {
        buf.clear();
        let limit = u64::try_from(MAX_LINE_BYTES + 1).unwrap_or(u64::MAX);
        let read = tokio::select! {
            r = async {
                let mut limited = (&mut reader).take(limit);
                limited.read_line(&mut buf).await
            } => r,
            _ = stop.changed() => break,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) if n > MAX_LINE_BYTES || !buf.ends_with('\n') => {
                let e =
                    RpcError::new(ErrorCode::InvalidRequest, format!("a line is limited to {MAX_LINE_BYTES} bytes"));
                let _ = out.send(encode_error(&Value::Null, &e));
                break;
            }
            Ok(_) => {}
        }
        let (id, method, params) = match decode_frame(buf.trim_end()) {
            Ok(Incoming::Request { id, method, params }) => (id, method, params),
            Ok(_) => continue,
            Err((id, error)) => {
                let _ = out.send(encode_error(&id, &error));
                continue;
            }
        };
        let reply = match (&caller, method.as_str()) {
            (None, "daemon.hello") => match hello(&daemon, params) {
                Ok((c, result)) => {
                    caller = Some(c);
                    Ok(result)
                }
                Err(e) => Err(e),
            },
            (None, _) => Err(RpcError::new(ErrorCode::NotAuthenticated, "say daemon.hello first")),
            (Some(_), "daemon.hello") => Err(RpcError::new(ErrorCode::AlreadyAuthenticated, "hello was said")),
            (Some(c), "inbox.subscribe") => subscribe(&daemon, c, params, out.clone()).await,
            (Some(c), "peer.subscribe") => subscribe_peers(&daemon, c, params, out.clone()),
            (Some(c), "events.subscribe") => subscribe_events(&daemon, c, params, out.clone()),
            (Some(c), m) if crate::proto::cmethod::REQUESTS.contains(&m) => {
                coordinate(&daemon, c, m, params, out.clone()).await
            }
            (Some(c), _) => dispatch(&daemon, c, &method, params).await,
        };
        let line = match reply {
            Ok(v) => encode_result(&id, &v),
            Err(e) => encode_error(&id, &e),
        };
        if out.send(line).is_err() {
            break;
        }
    }
    drop(out);
    let _ = writer.await;
}

fn invalid(msg: impl Into<String>) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, msg)
}

fn parse<T: for<'de> Deserialize<'de>>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| invalid(e.to_string()))
}

fn hello(daemon: &Daemon, params: Value) -> Result<(Caller, Value), RpcError> {
    let p: HelloParams = parse(params)?;
    let result = HelloResult {
        protocol: LOCAL_PROTOCOL,
        version: env!("CARGO_PKG_VERSION").to_string(),
        build: daemon.build.clone(),
        pid: std::process::id(),
    };
    // Another protocol still gets the answer: the client sees the mismatch and replaces this daemon.
    let caller = Caller { session: sanitize_session_id(Some(&p.hello.session)), name: p.hello.name };
    let value = serde_json::to_value(result).map_err(|e| RpcError::new(ErrorCode::Internal, e.to_string()))?;
    Ok((caller, value))
}

fn client_err(e: &ClientError) -> RpcError {
    error_to_rpc(e)
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::new(ErrorCode::Internal, e.to_string())
}

/// Splits `mesh` off the params (what the broker does not know) and finds that mesh.
fn mesh_of(daemon: &Daemon, params: &mut Value) -> Result<MeshEntry, RpcError> {
    let wanted = params.as_object_mut().and_then(|o| o.remove("mesh")).and_then(|v| v.as_str().map(str::to_string));
    daemon.mesh(wanted.as_deref()).map_err(|e| match e {
        MeshLookup::Missing(_) => RpcError::new(ErrorCode::NotFound, e.to_string()),
        MeshLookup::Config(c) => internal(c),
    })
}

async fn dispatch(daemon: &Arc<Daemon>, caller: &Caller, method: &str, mut params: Value) -> Reply {
    if params.is_null() {
        params = json!({});
    }
    match method {
        "daemon.status" => status(daemon).await,
        "daemon.stop" => {
            let _ = daemon.shutdown.send(true);
            Ok(json!({}))
        }
        "mesh.reload" => {
            daemon.reload().map_err(internal)?;
            Ok(json!({}))
        }
        "peer.list" => {
            let entry = mesh_of(daemon, &mut params)?;
            let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
            let (peers, me) = link.peers().await.map_err(|e| client_err(&e))?;
            Ok(json!({ "mesh": entry.slug, "me": me, "peers": peers }))
        }
        "message.send" => send(daemon, caller, params).await,
        "message.status" => {
            let entry = mesh_of(daemon, &mut params)?;
            message_status(daemon, caller, &entry, params).await
        }
        "presence.set" | "group.join" | "group.leave" | "invite.create" | "invite.list" | "invite.revoke"
        | "mesh.rename" | "mesh.info" => {
            let entry = mesh_of(daemon, &mut params)?;
            let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
            link.call(method, params).await.map_err(|e| client_err(&e))
        }
        "inbox.list" => inbox_list(daemon, caller, params).await,
        "message.surfaced" => surfaced(daemon, caller, params).await,
        "session.turn" => turn(daemon, caller, params).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

/// State, memory, tasks and the other coordination primitives: `daemon::coord` answers them.
async fn coordinate(
    daemon: &Arc<Daemon>,
    caller: &Caller,
    method: &str,
    mut params: Value,
    out: mpsc::UnboundedSender<String>,
) -> Reply {
    if params.is_null() {
        params = json!({});
    }
    let entry = mesh_of(daemon, &mut params)?;
    if method == crate::proto::cmethod::SCHEDULE_CREATE {
        let req = parse(params)?;
        let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
        // Sealing needs the roster and the broker's answer now: never queued, unavailable when unreachable.
        return link.schedule(req).await.map_err(|e| {
            if super::coord::offline(&e) { super::coord::needs_broker(method, &e) } else { error_to_rpc(&e) }
        });
    }
    let who = super::coord::Caller { session: &caller.session, name: caller.name.as_deref() };
    super::coord::dispatch(daemon, who, entry, method, params, out).await
}

async fn status(daemon: &Daemon) -> Reply {
    let pending = daemon.store.run(|db| db.pending_count()).await.map_err(internal)?;
    let coord = daemon.store.run(|db| db.coord_outbox_status()).await.map_err(internal)?;
    let failed: Vec<Value> = coord
        .failed
        .iter()
        .map(|f| json!({ "mesh_id": f.mesh_id, "method": f.method, "error": f.error, "at_ms": f.at_ms }))
        .collect();
    let links: Vec<Value> = daemon
        .links()
        .iter()
        .map(|l| {
            let s = l.status();
            json!({ "mesh": l.slug, "session": l.session, "broker": l.broker, "connected": s.connected,
                    "since_ms": s.since_ms, "last_error": s.last_error, "clock_offset_ms": s.clock_offset_ms })
        })
        .collect();
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "build": daemon.build,
        "pid": std::process::id(),
        "started_at_ms": daemon.started_at_ms,
        "embedded_broker": daemon.embedded_url,
        "links": links,
        "outbox_pending": pending,
        "coord_outbox": { "queued": coord.queued, "failed": failed },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendParams {
    #[serde(default)]
    mesh: Option<String>,
    to: String,
    body: String,
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    ttl_secs: Option<u64>,
}

/// Queues the send durably, then lets the link send it; answers with the broker's report, or `queued` when the
/// broker cannot be reached (the outbox sends it, in order, once it can).
async fn send(daemon: &Arc<Daemon>, caller: &Caller, params: Value) -> Reply {
    let p: SendParams = parse(params)?;
    check_body(&p.body).map_err(|e| client_err(&e))?;
    if p.ttl_secs.is_some_and(|t| t == 0 || t > MAX_TTL_SECS) {
        return Err(invalid(format!("ttl_secs must be between 1 and {MAX_TTL_SECS}")));
    }
    let entry = daemon.mesh(p.mesh.as_deref()).map_err(|e| RpcError::new(ErrorCode::NotFound, e.to_string()))?;
    let priority = p.priority.unwrap_or(Priority::Next);
    let id = MessageId::generate();
    let row = OutboxRow {
        mesh_id: entry.id.clone(),
        session: caller.session.clone(),
        msg_id: id.to_string(),
        to_spec: p.to.trim().to_string(),
        body: p.body,
        priority: priority.as_str().to_string(),
        ttl_secs: p.ttl_secs,
        created_at_ms: now_ms(),
        kind: "text".into(),
    };
    let queued = row.clone();
    daemon.store.run(move |db| db.queue(&queued)).await.map_err(internal)?;
    let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
    let outcome = tokio::time::timeout(SEND_WAIT, link.flush_for(id.to_string()))
        .await
        .unwrap_or(SendOutcome::Queued(Waiting::Unreachable));
    match outcome {
        SendOutcome::Sent(r) => {
            let recipients: Vec<Value> =
                r.recipients.iter().map(|(id, name)| json!({ "id": id, "name": name })).collect();
            Ok(json!({ "id": r.id, "to": r.to, "recipients": recipients, "skipped": r.skipped,
                       "accepted": r.accepted, "duplicates": r.duplicates, "expires_at_ms": r.expires_at_ms,
                       "queued": false, "queued_reason": null }))
        }
        SendOutcome::Queued(waiting) => {
            let durable = id.to_string();
            daemon.store.run(move |db| db.make_durable(&durable)).await.map_err(internal)?;
            let note = json!({ "mesh": entry.slug, "session": caller.session, "from": caller.name, "id": id, "to": row.to_spec,
                "priority": row.priority, "body": row.body, "sent_at_ms": row.created_at_ms, "recipients": [],
                "queued": true });
            daemon.notify(&entry.slug, "message.sent", note);
            Ok(json!({ "id": id, "to": row.to_spec, "recipients": [], "skipped": [],
                       "accepted": 0, "duplicates": 0, "expires_at_ms": 0, "queued": true,
                       "queued_reason": waiting.reason() }))
        }
        SendOutcome::Failed(e) => {
            // It can never go out: forget it rather than report it later as a failure nobody asked about.
            let id = id.to_string();
            let _ = daemon.store.run(move |db| db.sent(&id)).await;
            Err(client_err(&e))
        }
    }
}

async fn message_status(daemon: &Arc<Daemon>, caller: &Caller, entry: &MeshEntry, params: Value) -> Reply {
    let id = params.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let lookup = id.clone();
    match daemon.store.run(move |db| db.outbox_state(&lookup)).await.map_err(internal)? {
        Some(OutboxState::Pending) => {
            return Ok(json!({ "id": id, "state": "queued", "local": "outbox", "recipients": [] }));
        }
        Some(OutboxState::Failed { detail }) => {
            return Err(RpcError::with_data(
                ErrorCode::NotFound,
                format!("the message was never sent: {detail}"),
                json!({ "local": "outbox" }),
            ));
        }
        None => {}
    }
    let link = daemon.link(entry, &caller.session, caller.name.as_deref());
    link.call(crate::proto::method::MESSAGE_STATUS, params).await.map_err(|e| client_err(&e))
}

/// The JSON of one inbox row, as `inbox.list` and `inbox.message` carry it.
fn inbox_json(m: &StoredMessage, slug: &str) -> Value {
    json!({
        "mesh": slug,
        "mesh_id": m.msg.mesh_id,
        "seq": m.seq,
        "id": m.msg.msg_id,
        "from": { "id": m.msg.from_key, "name": m.msg.from_name, "member": m.msg.from_member },
        "to": m.msg.to_spec,
        "priority": m.msg.priority,
        "kind": m.msg.kind,
        "body": m.msg.body,
        "sent_at_ms": m.msg.sent_at_ms,
        "received_at_ms": m.msg.received_at_ms,
        "read": m.read_at_ms.is_some(),
        "surfaced_via": m.surfaced_via,
    })
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    mesh: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    mark_read: bool,
}

async fn inbox_list(daemon: &Arc<Daemon>, caller: &Caller, params: Value) -> Reply {
    let p: ListParams = parse(params)?;
    let entry = daemon.mesh(p.mesh.as_deref()).map_err(|e| RpcError::new(ErrorCode::NotFound, e.to_string()))?;
    let filter = match p.filter.as_deref() {
        None | Some("all") => Filter::All,
        Some("unread") => Filter::Unread,
        Some(other) => return Err(invalid(format!("unknown filter {other}"))),
    };
    let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
    let synced = link.wait_synced(SYNC_TIMEOUT).await;
    let (mesh, session) = (entry.id.clone(), caller.session.clone());
    let rows = daemon.store.run(move |db| db.list(&mesh, &session, filter)).await.map_err(internal)?;
    if p.mark_read {
        let seqs: Vec<i64> = rows.iter().filter(|m| m.read_at_ms.is_none()).map(|m| m.seq).collect();
        let ids = daemon.store.run(move |db| db.mark_read(&seqs, now_ms())).await.map_err(internal)?;
        link.receipt(ids, "read", "cli");
    }
    let messages: Vec<Value> = rows.iter().map(|m| inbox_json(m, &entry.slug)).collect();
    Ok(json!({ "mesh": entry.slug, "synced": synced, "messages": messages }))
}

#[derive(Deserialize)]
struct SubscribeParams {
    #[serde(default)]
    mesh: Option<String>,
    /// Priorities to forward; default all.
    #[serde(default)]
    priorities: Option<Vec<Priority>>,
    /// Send stored messages first: those not yet surfaced (`backlog`), or those after `after_seq`.
    #[serde(default)]
    backlog: bool,
    #[serde(default)]
    after_seq: Option<i64>,
    /// Mark forwarded messages read (a person watching `inbox --follow`).
    #[serde(default)]
    mark_read: bool,
    /// While the session's status is `dnd`, hold everything but `now` (the push-pipe); held messages follow
    /// when the status changes.
    #[serde(default)]
    hold_in_dnd: bool,
}

/// Which stored or new messages a subscriber gets now.
struct Wanted {
    priorities: Vec<String>,
    hold_in_dnd: bool,
    presence: tokio::sync::watch::Receiver<Status>,
}

impl Wanted {
    fn takes(&self, m: &StoredMessage) -> bool {
        self.priorities.contains(&m.msg.priority) && !(self.holding() && m.msg.priority != Priority::Now.as_str())
    }

    fn holding(&self) -> bool {
        self.hold_in_dnd && *self.presence.borrow() == Status::Dnd
    }
}

/// Starts forwarding this session's new messages as `inbox.message` notifications (stored ones first, when
/// asked), until the client goes away.
async fn subscribe(daemon: &Arc<Daemon>, caller: &Caller, params: Value, out: mpsc::UnboundedSender<String>) -> Reply {
    let p: SubscribeParams = parse(params)?;
    let entry = daemon.mesh(p.mesh.as_deref()).map_err(|e| RpcError::new(ErrorCode::NotFound, e.to_string()))?;
    let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
    // Subscribe before reading the store, so nothing falls between the two.
    let mut live = link.subscribe();
    let mut wanted = Wanted {
        priorities: p
            .priorities
            .unwrap_or_else(|| vec![Priority::Now, Priority::Next, Priority::Low])
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        hold_in_dnd: p.hold_in_dnd,
        presence: link.presence(),
    };
    let filter = match (p.after_seq, p.backlog) {
        (Some(seq), _) => Some(Filter::After(seq)),
        (None, true) => Some(Filter::Unsurfaced),
        (None, false) => None,
    };
    let daemon = Arc::clone(daemon);
    let (mesh_id, session, slug) = (entry.id.clone(), caller.session.clone(), entry.slug.clone());
    let mark_read = p.mark_read;
    tokio::spawn(async move {
        let mut last_seq = match filter {
            Some(f) => match backlog(&daemon, &mesh_id, &session, f, &wanted, &slug, &out).await {
                Some(seq) => seq,
                None => return,
            },
            None => {
                let (m, s) = (mesh_id.clone(), session.clone());
                daemon.store.run(move |db| db.last_seq(&m, &s)).await.unwrap_or(0)
            }
        };
        loop {
            tokio::select! {
                msg = live.recv() => match msg {
                    Ok(m) => {
                        if m.seq <= last_seq || !wanted.takes(&m) {
                            continue;
                        }
                        last_seq = m.seq;
                        if out.send(notification(&m, &slug)).is_err() {
                            return;
                        }
                        if mark_read {
                            let seqs = vec![m.seq];
                            match daemon.store.run(move |db| db.mark_read(&seqs, now_ms())).await {
                                Ok(ids) => link.receipt(ids, "read", "cli"),
                                Err(e) => tracing::warn!(error = %e, "cannot mark a message read"),
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Too far behind: catch up from the store.
                        match backlog(&daemon, &mesh_id, &session, Filter::After(last_seq), &wanted, &slug, &out).await {
                            Some(seq) => last_seq = seq,
                            None => return,
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                changed = wanted.presence.changed(), if wanted.hold_in_dnd => {
                    if changed.is_err() {
                        return;
                    }
                    // Leaving `dnd` releases what it held: everything not yet surfaced, oldest first.
                    if !wanted.holding() {
                        match backlog(&daemon, &mesh_id, &session, Filter::Unsurfaced, &wanted, &slug, &out).await {
                            Some(seq) => last_seq = last_seq.max(seq),
                            None => return,
                        }
                    }
                }
                _ = out.closed() => return,
            }
        }
    });
    Ok(json!({ "mesh": entry.slug, "mesh_id": entry.id, "session": caller.session }))
}

/// A subscriber fell so far behind that `missed` notices were dropped for it: says so (`subscription.lagged`), so
/// the client reads the current state again instead of showing a stale one. False when the client is gone.
fn lagged(out: &mpsc::UnboundedSender<String>, mesh: &str, missed: u64) -> bool {
    tracing::debug!(mesh, missed, "a local subscriber lagged");
    let note = json!({ "mesh": mesh, "missed": missed });
    out.send(crate::proto::encode_notification("subscription.lagged", &note)).is_ok()
}

/// Forwards the mesh's peer events as `peer.event` notifications `{mesh, event, params}` until the client goes.
fn subscribe_peers(
    daemon: &Arc<Daemon>,
    caller: &Caller,
    mut params: Value,
    out: mpsc::UnboundedSender<String>,
) -> Reply {
    let entry = mesh_of(daemon, &mut params)?;
    let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
    let mut events = link.subscribe_peers();
    let slug = entry.slug.clone();
    tokio::spawn(async move {
        // The link lives while it has subscribers; holding the handle keeps it from idling out.
        let _link = link;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok((event, params)) => {
                        let note = json!({ "mesh": slug, "event": event, "params": params });
                        if out.send(crate::proto::encode_notification("peer.event", &note)).is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        if !lagged(&out, &slug, missed) {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = out.closed() => return,
            }
        }
    });
    Ok(json!({ "mesh": entry.slug }))
}

/// Forwards what this home's links report about `mesh` — `message.sent`, `message.receipt` and `link.status` —
/// until the client goes. The caller's own link status comes first, so a subscriber knows where it starts.
fn subscribe_events(
    daemon: &Arc<Daemon>,
    caller: &Caller,
    mut params: Value,
    out: mpsc::UnboundedSender<String>,
) -> Reply {
    let entry = mesh_of(daemon, &mut params)?;
    let mut notices = daemon.subscribe_notices();
    super::coord::follow_state(daemon, &entry);
    let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
    let status = link.status();
    // A link that has not finished its first attempt is `connecting`, not lost.
    let state = match (status.connected, status.since_ms) {
        (true, _) => "up",
        (false, 0) => "connecting",
        (false, _) => "reconnecting",
    };
    let first = json!({ "mesh": entry.slug, "session": caller.session, "state": state,
                        "connected": status.connected, "last_error": status.last_error });
    let _ = out.send(crate::proto::encode_notification("link.status", &first));
    let slug = entry.slug.clone();
    tokio::spawn(async move {
        // Holding the caller's link keeps it from idling out while someone watches.
        let _link = link;
        loop {
            tokio::select! {
                notice = notices.recv() => match notice {
                    Ok(n) if n.mesh == slug => {
                        if out.send(crate::proto::encode_notification(n.method, &n.params)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        if !lagged(&out, &slug, missed) {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = out.closed() => return,
            }
        }
    });
    Ok(json!({ "mesh": entry.slug }))
}

fn notification(m: &StoredMessage, slug: &str) -> String {
    crate::proto::encode_notification("inbox.message", &inbox_json(m, slug))
}

/// Sends stored rows matching `filter`; returns the highest `seq` seen (`None` when the client is gone).
async fn backlog(
    daemon: &Daemon,
    mesh_id: &str,
    session: &str,
    filter: Filter,
    wanted: &Wanted,
    slug: &str,
    out: &mpsc::UnboundedSender<String>,
) -> Option<i64> {
    let (m, s) = (mesh_id.to_string(), session.to_string());
    let rows = daemon.store.run(move |db| Ok((db.list(&m, &s, filter)?, db.last_seq(&m, &s)?))).await;
    let (rows, last) = match rows {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the inbox backlog");
            return Some(0);
        }
    };
    let mut max = match filter {
        Filter::After(seq) => seq,
        _ => 0,
    };
    for m in rows.iter().filter(|m| wanted.takes(m)) {
        out.send(notification(m, slug)).ok()?;
        max = max.max(m.seq);
    }
    // Later rows that did not match the filter (already surfaced) are not replayed live either.
    Some(max.max(if matches!(filter, Filter::Unsurfaced) { last } else { max }))
}

#[derive(Deserialize)]
struct SurfacedParams {
    #[serde(default)]
    mesh: Option<String>,
    ids: Vec<String>,
    via: String,
}

async fn surfaced(daemon: &Arc<Daemon>, caller: &Caller, params: Value) -> Reply {
    let p: SurfacedParams = parse(params)?;
    if !matches!(p.via.as_str(), "channel" | "inbox_socket") {
        return Err(invalid("via must be channel or inbox_socket"));
    }
    if p.ids.is_empty() || p.ids.len() > 1024 {
        return Err(invalid("ids must hold 1 to 1024 message ids"));
    }
    let entry = daemon.mesh(p.mesh.as_deref()).map_err(|e| RpcError::new(ErrorCode::NotFound, e.to_string()))?;
    let (mesh, session, via) = (entry.id.clone(), caller.session.clone(), p.via.clone());
    let ids = p.ids;
    let changed = daemon
        .store
        .run(move |db| {
            let seqs = db.seqs_of(&mesh, &session, &ids)?;
            db.mark_surfaced(&seqs, &via, now_ms())
        })
        .await
        .map_err(internal)?;
    let n = changed.len();
    daemon.link(&entry, &caller.session, caller.name.as_deref()).receipt(changed, "surfaced", &p.via);
    Ok(json!({ "updated": n }))
}

#[derive(Deserialize)]
struct TurnParams {
    #[serde(default)]
    mesh: Option<String>,
    event: String,
}

/// Hooks: a prompt starts a turn (working); a stop ends it (idle), and what was surfaced before it has been read.
async fn turn(daemon: &Arc<Daemon>, caller: &Caller, params: Value) -> Reply {
    let p: TurnParams = parse(params)?;
    let entry = daemon.mesh(p.mesh.as_deref()).map_err(|e| RpcError::new(ErrorCode::NotFound, e.to_string()))?;
    let link = daemon.link(&entry, &caller.session, caller.name.as_deref());
    let status = match p.event.as_str() {
        "prompt" => "working",
        "stop" => "idle",
        other => return Err(invalid(format!("unknown event {other}"))),
    };
    if p.event == "stop" {
        let (mesh, session) = (entry.id.clone(), caller.session.clone());
        let ids = daemon
            .store
            .run(move |db| {
                let seqs = db.surfaced_unread(&mesh, &session, now_ms())?;
                db.mark_read(&seqs, now_ms())
            })
            .await
            .map_err(internal)?;
        link.receipt(ids, "read", "hook");
    }
    link.call(crate::proto::method::PRESENCE_SET, json!({ "status": status })).await.map_err(|e| client_err(&e))?;
    Ok(json!({ "status": status }))
}
