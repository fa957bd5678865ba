//! A broker link: the one receiving connection of one local session in one mesh. It reconnects with backoff and
//! jitter, stores every delivery in the inbox before acknowledging it, fans new messages out to local
//! subscribers, drains the session's outbox in order, and runs calls for the local API.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::coord::{LinkCoord, Replay, Watch};
use super::state::{Daemon, now_ms};
use crate::client::schedule::ScheduleRequest;
use crate::client::{ClientError, Event, MeshSession, Outgoing, SendReport};
use crate::config::MeshEntry;
use crate::proto::{
    AckParams, AckResult, DeliverParams, ErrorCode, KeyHex, MessageId, PeerInfo, Priority, Status, method,
};
use crate::store::{NewMessage, OutboxRow, StoredMessage};

/// Reconnect backoff bounds (each wait is jittered to 50–150 %).
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A link of a Claude Code session closes after this long without use or subscribers (the `cli` link stays).
const IDLE: Duration = Duration::from_secs(120);
/// A disconnected link retries at once for a verb, but not more often than this.
const RETRY_ON_DEMAND: Duration = Duration::from_millis(50);
/// Most delivery ids in one `message.ack`.
const MAX_ACK_IDS: usize = 4096;
/// New messages buffered per subscriber before it must catch up from the store.
const FANOUT: usize = 1024;
/// Outcomes of sends nobody was waiting for yet (a flush on reconnect can overtake the verb that queued them).
const RECENT: usize = 256;

/// A paused outbox tries again after this long (doubling up to `FLUSH_RETRY_MAX`) while the broker refuses sends.
const FLUSH_RETRY_MIN: Duration = Duration::from_secs(1);
const FLUSH_RETRY_MAX: Duration = Duration::from_secs(10);

/// What `flush_for` learned about one queued send.
#[derive(Debug)]
pub(super) enum SendOutcome {
    Sent(SendReport),
    /// The send stays in the outbox and goes out in order later.
    Queued(Waiting),
    Failed(ClientError),
}

/// Why a send waits in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waiting {
    /// The broker cannot be reached.
    Unreachable,
    /// The broker answered but refused to store it for now: `unavailable` (its store is full or failing),
    /// `rate_limited` or `internal`. The link tries again by itself.
    Refused(ErrorCode),
}

impl Waiting {
    /// The `queued_reason` of `message.send`: `unreachable`, or the broker's error reason.
    pub(super) fn reason(self) -> &'static str {
        match self {
            Waiting::Unreachable => "unreachable",
            Waiting::Refused(code) => code.reason(),
        }
    }
}

/// Whether the link is connected, for `daemon.status`.
#[derive(Debug, Clone, Default)]
pub(super) struct LinkStatus {
    pub connected: bool,
    pub since_ms: u64,
    pub last_error: Option<String>,
    /// The broker's clock minus ours, as of the latest connect (invites take their expiry on the broker's clock).
    pub clock_offset_ms: Option<i64>,
}

enum Cmd {
    Call { method: String, params: Value, reply: oneshot::Sender<Result<Value, ClientError>> },
    Peers { reply: oneshot::Sender<Result<(Vec<PeerInfo>, KeyHex), ClientError>> },
    Flush { waiter: Option<(String, oneshot::Sender<SendOutcome>)> },
    Receipt { ids: Vec<String>, state: &'static str, via: String },
    Synced { reply: oneshot::Sender<bool> },
    CoordWrite { method: String, params: Value, reply: oneshot::Sender<Result<Value, ClientError>> },
    Watch { what: Watch, reply: oneshot::Sender<Result<Value, ClientError>> },
    Schedule { req: ScheduleRequest, reply: oneshot::Sender<Result<Value, ClientError>> },
}

pub(super) struct LinkSpec {
    pub daemon: Arc<Daemon>,
    pub entry: MeshEntry,
    pub session: String,
    pub name: Option<String>,
}

/// A cheap handle on a running link.
#[derive(Clone)]
pub(super) struct LinkHandle {
    pub slug: String,
    pub session: String,
    pub broker: String,
    cmds: mpsc::UnboundedSender<Cmd>,
    stop: watch::Sender<bool>,
    deliveries: broadcast::Sender<Arc<StoredMessage>>,
    peer_events: broadcast::Sender<(String, Value)>,
    status: watch::Receiver<LinkStatus>,
    presence: watch::Receiver<Status>,
    coord_events: broadcast::Sender<(String, Value)>,
}

impl LinkHandle {
    pub(super) fn is_closed(&self) -> bool {
        self.cmds.is_closed()
    }

    /// Asks the link to close its connection and end.
    pub(super) fn close(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits (at most a few seconds) until the link has ended.
    pub(super) async fn closed(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(4), self.cmds.closed()).await;
    }

    pub(super) fn status(&self) -> LinkStatus {
        self.status.borrow().clone()
    }

    /// This session's presence status as the broker last confirmed it (`dnd` holds `next` and `low` pushes).
    pub(super) fn presence(&self) -> watch::Receiver<Status> {
        self.presence.clone()
    }

    /// The mesh's `peer.joined`, `peer.updated` and `peer.left` events as the broker sends them.
    pub(super) fn subscribe_peers(&self) -> broadcast::Receiver<(String, Value)> {
        self.peer_events.subscribe()
    }

    /// New messages for this session, as they are stored.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Arc<StoredMessage>> {
        self.deliveries.subscribe()
    }

    fn gone() -> ClientError {
        ClientError::ConnectionLost { code: None, reason: "the daemon link closed".into() }
    }

    /// One broker call as this session.
    pub(super) async fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.cmds.send(Cmd::Call { method: method.to_string(), params, reply }).map_err(|_| Self::gone())?;
        rx.await.map_err(|_| Self::gone())?
    }

    /// The mesh's peers (cached while the link hears about every change) and this session's key.
    pub(super) async fn peers(&self) -> Result<(Vec<PeerInfo>, KeyHex), ClientError> {
        let (reply, rx) = oneshot::channel();
        self.cmds.send(Cmd::Peers { reply }).map_err(|_| Self::gone())?;
        rx.await.map_err(|_| Self::gone())?
    }

    /// Drains the outbox and reports what happened to `msg_id`.
    pub(super) async fn flush_for(&self, msg_id: String) -> SendOutcome {
        let (reply, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Flush { waiter: Some((msg_id, reply)) }).is_err() {
            return SendOutcome::Queued(Waiting::Unreachable);
        }
        rx.await.unwrap_or(SendOutcome::Queued(Waiting::Unreachable))
    }

    /// Tells the senders (through the broker) that messages were surfaced or read.
    pub(super) fn receipt(&self, ids: Vec<String>, state: &'static str, via: &str) {
        if !ids.is_empty() {
            let _ = self.cmds.send(Cmd::Receipt { ids, state, via: via.to_string() });
        }
    }

    /// A queueable coordination write (`daemon::coord`): the broker's answer, or `{"queued": true, ...}`.
    pub(super) async fn coord_write(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::CoordWrite { method: method.to_string(), params, reply };
        self.cmds.send(cmd).map_err(|_| Self::gone())?;
        rx.await.map_err(|_| Self::gone())?
    }

    /// Starts (or joins) this link's broker-side state watch or a stream subscription.
    pub(super) async fn watch(&self, what: Watch) -> Result<Value, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.cmds.send(Cmd::Watch { what, reply }).map_err(|_| Self::gone())?;
        rx.await.map_err(|_| Self::gone())?
    }

    /// The broker's coordination notifications on this link (`state.changed` once each, in order).
    pub(super) fn subscribe_coord(&self) -> broadcast::Receiver<(String, Value)> {
        self.coord_events.subscribe()
    }

    /// `schedule.create` from the local API: seals the text as this session and creates the schedule.
    pub(super) async fn schedule(&self, req: ScheduleRequest) -> Result<Value, ClientError> {
        let (reply, rx) = oneshot::channel();
        self.cmds.send(Cmd::Schedule { req, reply }).map_err(|_| Self::gone())?;
        rx.await.map_err(|_| Self::gone())?
    }

    /// Waits until the broker has pushed this session's backlog (`false` when offline or after `timeout`).
    pub(super) async fn wait_synced(&self, timeout: Duration) -> bool {
        let (reply, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Synced { reply }).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(true)))
    }
}

/// Starts the link task.
pub(super) fn spawn(spec: LinkSpec) -> LinkHandle {
    let (cmds, rx) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let (deliveries, _) = broadcast::channel(FANOUT);
    let (peer_events, _) = broadcast::channel(FANOUT);
    let (status_tx, status) = watch::channel(LinkStatus::default());
    let (presence_tx, presence) = watch::channel(Status::Idle);
    let coord = LinkCoord::new();
    let handle = LinkHandle {
        slug: spec.entry.slug.clone(),
        session: spec.session.clone(),
        broker: spec.entry.broker.clone(),
        cmds,
        stop,
        deliveries: deliveries.clone(),
        peer_events: peer_events.clone(),
        status,
        presence,
        coord_events: coord.events(),
    };
    let link = Link {
        spec,
        conn: None,
        connected: false,
        synced: false,
        peers: None,
        backoff: BACKOFF_MIN,
        retry_at: Instant::now(),
        synced_waiters: Vec::new(),
        send_waiters: HashMap::new(),
        recent: VecDeque::new(),
        receipts: Vec::new(),
        deliveries,
        peer_events,
        status: status_tx,
        presence: presence_tx,
        last_used: Instant::now(),
        last_attempt: Instant::now(),
        // Unknown until the first flush: the link may have been opened for a queued send.
        outbox_waiting: true,
        paused: None,
        flush_retry_at: None,
        flush_backoff: FLUSH_RETRY_MIN,
        coord,
    };
    tokio::spawn(link.run(rx, stop_rx));
    handle
}

struct Link {
    spec: LinkSpec,
    conn: Option<MeshSession>,
    connected: bool,
    synced: bool,
    peers: Option<Vec<PeerInfo>>,
    backoff: Duration,
    retry_at: Instant,
    synced_waiters: Vec<oneshot::Sender<bool>>,
    send_waiters: HashMap<String, oneshot::Sender<SendOutcome>>,
    recent: VecDeque<(String, Result<SendReport, crate::proto::RpcError>)>,
    receipts: Vec<(Vec<String>, &'static str, String)>,
    deliveries: broadcast::Sender<Arc<StoredMessage>>,
    peer_events: broadcast::Sender<(String, Value)>,
    status: watch::Sender<LinkStatus>,
    presence: watch::Sender<Status>,
    last_used: Instant,
    last_attempt: Instant,
    /// Whether sends may wait in this session's outbox (cleared by a flush that drained it): an idle link with
    /// queued sends stays open, or they would wait until the session came back.
    outbox_waiting: bool,
    /// Why the last flush stopped early, while it stays stopped.
    paused: Option<Waiting>,
    /// When a connected link whose broker refused a send tries the outbox again (space may return without a
    /// reconnect, e.g. once a recipient drains its queue).
    flush_retry_at: Option<Instant>,
    flush_backoff: Duration,
    /// Coordination: queued writes, the state watch, stream subscriptions (`daemon::coord`).
    coord: LinkCoord,
}

impl Link {
    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Cmd>, mut stop: watch::Receiver<bool>) {
        let mut shutdown = self.spec.daemon.shutdown.subscribe();
        self.connect().await;
        let mut idle = tokio::time::interval(Duration::from_secs(15));
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = shutdown.changed() => break,
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => {
                        self.last_used = Instant::now();
                        self.handle(cmd).await;
                    }
                    None => break,
                },
                event = next_event(self.conn.as_mut()), if self.connected => self.on_event(event).await,
                _ = tokio::time::sleep_until(self.retry_at), if !self.connected => self.connect().await,
                _ = tokio::time::sleep_until(self.flush_retry_at.unwrap_or(self.retry_at)),
                    if self.connected && self.flush_retry_at.is_some() => self.flush(None).await,
                _ = tokio::time::sleep_until(self.coord.retry_at.unwrap_or(self.retry_at)),
                    if self.connected && self.coord.retry_at.is_some() => {
                    self.coord_replay().await;
                }
                _ = idle.tick() => {
                    if self.spec.session != "cli"
                        && !self.outbox_waiting
                        && !self.coord.busy()
                        && self.deliveries.receiver_count() == 0
                        && self.peer_events.receiver_count() == 0
                        && self.last_used.elapsed() > IDLE
                    {
                        tracing::debug!(session = %self.spec.session, "closing an idle link");
                        break;
                    }
                }
            }
        }
        for (_, waiter) in self.send_waiters.drain() {
            let _ = waiter.send(SendOutcome::Queued(Waiting::Unreachable));
        }
        if let Some(conn) = self.conn.take() {
            conn.close().await;
        }
        self.set_status(false, None);
        self.notify_status("down", None);
    }

    fn set_status(&self, connected: bool, error: Option<String>) {
        let was = self.status.borrow().connected;
        let last_error = error.clone();
        let clock_offset_ms = self.conn.as_ref().map(MeshSession::clock_offset_ms);
        let _ = self.status.send(LinkStatus { connected, since_ms: now_ms(), last_error: error, clock_offset_ms });
        if was != connected {
            self.notify_status(if connected { "up" } else { "reconnecting" }, last_error);
        }
    }

    /// `link.status` for `events.subscribe`: `up`, `reconnecting` (lost, retrying) or `down` (the link ended).
    fn notify_status(&self, state: &str, last_error: Option<String>) {
        let params = serde_json::json!({ "mesh": self.spec.entry.slug, "session": self.spec.session, "state": state,
                                          "connected": state == "up", "last_error": last_error });
        self.spec.daemon.notify(&self.spec.entry.slug, "link.status", params);
    }

    fn unreachable(&self) -> ClientError {
        let reason = self.status.borrow().last_error.clone().unwrap_or_else(|| "not connected".into());
        ClientError::Unreachable { url: self.spec.entry.broker.clone(), reason }
    }

    /// Opens (or reopens) the connection; on failure schedules the next try.
    async fn connect(&mut self) {
        self.last_attempt = Instant::now();
        let result = match self.conn.as_mut() {
            Some(conn) => conn.reconnect().await,
            None => match self.spec.daemon.identity(&self.spec.entry, &self.spec.session, self.spec.name.as_deref()) {
                Ok(identity) => MeshSession::open(&self.spec.entry.broker, identity, true).await.map(|c| {
                    self.conn = Some(c);
                }),
                Err(e) => Err(ClientError::Protocol(e.to_string())),
            },
        };
        match result {
            Ok(()) => {
                tracing::info!(mesh = %self.spec.entry.slug, session = %self.spec.session, "link connected");
                if let Some(conn) = &self.conn {
                    let hello = conn.hello();
                    let role = hello.peer.role.as_str();
                    self.spec.daemon.refresh_entry(&self.spec.entry.id, Some(&hello.mesh.name), Some(role));
                    self.presence.send_replace(hello.peer.status);
                }
                self.connected = true;
                self.synced = false;
                self.peers = None;
                self.backoff = BACKOFF_MIN;
                self.set_status(true, None);
                self.coord_reconnected().await;
                self.flush(None).await;
                let receipts = std::mem::take(&mut self.receipts);
                for (ids, state, via) in receipts {
                    self.send_receipt(ids, state, &via).await;
                }
            }
            Err(e) => {
                tracing::debug!(mesh = %self.spec.entry.slug, error = %e, "link connect failed");
                self.set_status(false, Some(e.to_string()));
                self.schedule_retry();
                for w in self.synced_waiters.drain(..) {
                    let _ = w.send(false);
                }
            }
        }
    }

    fn schedule_retry(&mut self) {
        self.connected = false;
        self.synced = false;
        let jitter = crate::crypto::random_bytes::<1>().map(|b| f64::from(b[0]) / 255.0).unwrap_or(0.5);
        self.retry_at = Instant::now() + self.backoff.mul_f64(0.5 + jitter);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    async fn handle(&mut self, cmd: Cmd) {
        self.serve(cmd).await;
        // A call retried on a fresh connection reconnected under the link: replay and watch there too.
        if self.connected && self.conn.as_ref().is_some_and(|c| c.generation() != self.coord.generation) {
            self.coord_reconnected().await;
        }
    }

    async fn serve(&mut self, cmd: Cmd) {
        // A verb asking is a reason to try now rather than wait out the backoff (at most a few times a second).
        let wants_broker = !matches!(cmd, Cmd::Receipt { .. });
        if wants_broker && !self.connected && self.last_attempt.elapsed() > RETRY_ON_DEMAND {
            self.connect().await;
        }
        match cmd {
            Cmd::Call { method, params, reply } => {
                let result = match self.conn.as_mut() {
                    Some(conn) if self.connected => conn.call_retrying::<Value, Value>(&method, &params).await,
                    _ => Err(self.unreachable()),
                };
                if let Ok(value) = &result
                    && method == method::PRESENCE_SET
                    && let Some(status) = value.pointer("/peer/status").cloned()
                    && let Ok(status) = serde_json::from_value::<Status>(status)
                {
                    self.presence.send_replace(status);
                }
                let _ = reply.send(result);
            }
            Cmd::Peers { reply } => {
                let result = self.peers().await;
                let _ = reply.send(result);
            }
            Cmd::Flush { waiter } => self.flush(waiter).await,
            Cmd::Receipt { ids, state, via } => {
                if self.connected {
                    self.send_receipt(ids, state, &via).await;
                } else {
                    self.receipts.push((ids, state, via));
                }
            }
            Cmd::CoordWrite { method, params, reply } => {
                let result = self.coord_write(&method, params).await;
                let _ = reply.send(result);
            }
            Cmd::Watch { what, reply } => {
                let conn = self.conn.as_mut().filter(|_| self.connected);
                let result = self.coord.watch(conn, what).await;
                let _ = reply.send(result);
            }
            Cmd::Schedule { req, reply } => {
                let result = match self.peers().await {
                    Ok((peers, _)) => match self.conn.as_mut() {
                        Some(conn) => crate::client::schedule::create(conn, &peers, &req, now_ms()).await,
                        None => Err(self.unreachable()),
                    },
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Cmd::Synced { reply } => {
                if self.connected && self.synced {
                    self.barrier().await;
                    let _ = reply.send(self.connected);
                } else if self.connected {
                    self.synced_waiters.push(reply);
                } else {
                    let _ = reply.send(false);
                }
            }
        }
    }

    /// After a connect: the session's queued coordination writes go first, then the watches come back.
    async fn coord_reconnected(&mut self) {
        let Some(conn) = self.conn.as_mut() else { return };
        self.coord.generation = conn.generation();
        self.coord_replay().await;
        let Some(conn) = self.conn.as_mut() else { return };
        self.coord.reconnected(conn).await;
        self.coord.generation = conn.generation();
    }

    /// Sends the session's queued coordination writes (`daemon::coord::replay`).
    async fn coord_replay(&mut self) -> Replay {
        let Some(conn) = self.conn.as_mut().filter(|_| self.connected) else { return Replay::Stopped };
        let (daemon, entry, session) = (&self.spec.daemon, &self.spec.entry, &self.spec.session);
        let replay = super::coord::replay(daemon, entry, session, self.spec.name.as_deref(), conn).await;
        self.coord.replayed(replay);
        replay
    }

    /// A queueable write goes live only behind every queued write of this session; unreachable, it is queued.
    async fn coord_write(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        if self.connected
            && self.coord_replay().await == Replay::Done
            && let Some(conn) = self.conn.as_mut()
        {
            match conn.call_retrying::<Value, Value>(method, &params).await {
                Err(e) if super::coord::offline(&e) => {}
                other => return other,
            }
        }
        self.coord.waiting = true;
        super::coord::queue(&self.spec.daemon, &self.spec.entry, &self.spec.session, method, params).await
    }

    /// `inbox.sync`: the broker pushes what was committed for us before it answers; then store it. A broker
    /// without the method loses only the guarantee, not messages.
    async fn barrier(&mut self) {
        let Some(conn) = self.conn.as_mut() else { return };
        if let Err(e) = conn.call::<Value, Value>(method::INBOX_SYNC, &serde_json::json!({})).await {
            tracing::debug!(error = %e, "inbox.sync failed");
            return;
        }
        let mut batch = Vec::new();
        let mut rest = Vec::new();
        while let Some(e) = conn.try_event() {
            classify(e, &mut batch, &mut rest);
        }
        if !batch.is_empty() {
            self.store_and_ack(batch).await;
        }
        self.after_events(rest);
    }

    async fn peers(&mut self) -> Result<(Vec<PeerInfo>, KeyHex), ClientError> {
        let Some(conn) = self.conn.as_mut().filter(|_| self.connected) else { return Err(self.unreachable()) };
        let me = conn.identity().session_key();
        if let Some(p) = &self.peers {
            return Ok((p.clone(), me));
        }
        let peers = conn.peers().await?;
        self.peers = Some(peers.clone());
        Ok((peers, me))
    }

    /// Sends a receipt; one cut off by a lost connection goes again after the reconnect (receipts only move
    /// forward, so a repeat is harmless). A broker that refuses them loses nothing else.
    async fn send_receipt(&mut self, ids: Vec<String>, state: &'static str, via: &str) {
        let Some(conn) = self.conn.as_mut() else {
            self.receipts.push((ids, state, via.to_string()));
            return;
        };
        let params = serde_json::json!({ "ids": ids, "state": state, "via": via });
        match conn.call::<Value, Value>(method::MESSAGE_RECEIPT, &params).await {
            Ok(_) => {}
            Err(e) if transient(&e) => {
                tracing::debug!(error = %e, "message.receipt will be sent again after the reconnect");
                self.receipts.push((ids, state, via.to_string()));
            }
            Err(e) => tracing::debug!(error = %e, "message.receipt refused"),
        }
    }

    /// Sends the session's queued messages in order; stops at the first transient failure.
    async fn flush(&mut self, waiter: Option<(String, oneshot::Sender<SendOutcome>)>) {
        if let Some((id, tx)) = waiter {
            self.send_waiters.insert(id, tx);
            self.outbox_waiting = true;
        }
        if self.connected {
            let (mesh, session) = (self.spec.entry.id.clone(), self.spec.session.clone());
            match self.spec.daemon.store.run(move |db| db.pending(&mesh, &session)).await {
                Ok(rows) => {
                    self.outbox_waiting = false;
                    self.paused = None;
                    self.flush_retry_at = None;
                    for row in rows {
                        match self.send_row(&row).await {
                            Ok(report) => {
                                self.notify_sent(&row, &report);
                                // Answer first: the broker has it durably. If the row outlives a crash it is sent
                                // again under the same id, which the broker counts as a duplicate.
                                self.answer(&row.msg_id, SendOutcome::Sent(report));
                                let id = row.msg_id.clone();
                                if let Err(e) = self.spec.daemon.store.run(move |db| db.sent(&id)).await {
                                    tracing::warn!(error = %e, "cannot mark a send as done; it will go again");
                                }
                            }
                            Err(e) if transient(&e) => {
                                tracing::debug!(error = %e, "outbox paused");
                                self.outbox_waiting = true;
                                self.pause(&e);
                                break;
                            }
                            Err(e) => {
                                let (id, detail) = (row.msg_id.clone(), e.to_string());
                                if let Err(e) = self.spec.daemon.store.run(move |db| db.failed(&id, &detail)).await {
                                    tracing::warn!(error = %e, "cannot mark a send as failed");
                                }
                                self.answer(&row.msg_id, SendOutcome::Failed(e));
                            }
                        }
                    }
                    if self.paused.is_none() {
                        self.flush_backoff = FLUSH_RETRY_MIN;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbox");
                    self.outbox_waiting = true;
                }
            }
        }
        // A waiter whose send an earlier flush finished gets that outcome; whatever else waits stays queued.
        for (id, w) in self.send_waiters.drain() {
            let outcome = match self.recent.iter().find(|(r, _)| *r == id) {
                Some((_, Ok(report))) => SendOutcome::Sent(report.clone()),
                Some((_, Err(rpc))) => SendOutcome::Failed(crate::client::local::error_from_rpc(rpc.clone())),
                None => SendOutcome::Queued(self.paused.filter(|_| self.connected).unwrap_or(Waiting::Unreachable)),
            };
            let _ = w.send(outcome);
        }
    }

    /// Records why the outbox stopped. A broker that answered but refused is asked again on a timer; one that
    /// cannot be reached is retried by the reconnect.
    fn pause(&mut self, e: &ClientError) {
        let refused = match e {
            ClientError::Rpc(rpc) => rpc.kind(),
            _ => None,
        };
        self.paused = Some(refused.map_or(Waiting::Unreachable, Waiting::Refused));
        if refused.is_some() {
            let jitter = crate::crypto::random_bytes::<1>().map(|b| f64::from(b[0]) / 255.0).unwrap_or(0.5);
            self.flush_retry_at = Some(Instant::now() + self.flush_backoff.mul_f64(0.5 + jitter));
            self.flush_backoff = (self.flush_backoff * 2).min(FLUSH_RETRY_MAX);
        }
    }

    /// `message.sent` for `events.subscribe`: one of this home's messages reached the broker.
    fn notify_sent(&self, row: &OutboxRow, report: &SendReport) {
        let recipients: Vec<Value> =
            report.recipients.iter().map(|(id, name)| serde_json::json!({ "id": id, "name": name })).collect();
        let from = self.conn.as_ref().map(|c| c.hello().peer.name.clone());
        let params = serde_json::json!({ "mesh": self.spec.entry.slug, "session": self.spec.session, "from": from,
            "id": row.msg_id, "to": row.to_spec, "priority": row.priority, "body": row.body,
            "sent_at_ms": row.created_at_ms, "recipients": recipients, "queued": false });
        self.spec.daemon.notify(&self.spec.entry.slug, "message.sent", params);
    }

    fn answer(&mut self, msg_id: &str, outcome: SendOutcome) {
        if let Some(w) = self.send_waiters.remove(msg_id) {
            let _ = w.send(outcome);
            return;
        }
        let kept = match outcome {
            SendOutcome::Sent(report) => Ok(report),
            SendOutcome::Failed(e) => Err(crate::client::local::error_to_rpc(&e)),
            SendOutcome::Queued(_) => return,
        };
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((msg_id.to_string(), kept));
    }

    async fn send_row(&mut self, row: &OutboxRow) -> Result<SendReport, ClientError> {
        let id = MessageId::try_from(row.msg_id.clone()).map_err(ClientError::Protocol)?;
        let priority: Priority = serde_json::from_value(Value::String(row.priority.clone()))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let cached = self.peers.is_some();
        let (peers, _) = self.peers().await?;
        let out = Outgoing {
            id: id.clone(),
            sent_at_ms: row.created_at_ms,
            to: &row.to_spec,
            body: &row.body,
            priority,
            ttl_secs: row.ttl_secs,
            kind: &row.kind,
        };
        let Some(conn) = self.conn.as_mut() else { return Err(self.unreachable()) };
        match conn.send_to_peers(&peers, out.clone()).await {
            // A cached roster may predate a peer that just joined: ask again once.
            Err(ClientError::Resolve(_)) if cached => {
                self.peers = None;
                let (peers, _) = self.peers().await?;
                let Some(conn) = self.conn.as_mut() else { return Err(self.unreachable()) };
                conn.send_to_peers(&peers, out).await
            }
            other => other,
        }
    }

    async fn on_event(&mut self, event: Option<Event>) {
        let Some(event) = event else {
            self.on_closed(None, "the event stream ended".into());
            return;
        };
        let mut batch = Vec::new();
        let mut rest = Vec::new();
        classify(event, &mut batch, &mut rest);
        if let Some(conn) = self.conn.as_mut() {
            while let Some(e) = conn.try_event() {
                classify(e, &mut batch, &mut rest);
            }
        }
        if !batch.is_empty() {
            self.store_and_ack(batch).await;
        }
        self.after_events(rest);
    }

    /// Everything but deliveries: sync, roster changes, renames, the end of the connection.
    fn after_events(&mut self, rest: Vec<Event>) {
        for event in rest {
            match event {
                Event::Notification { method: m, .. } if m == method::INBOX_SYNCED => {
                    self.synced = true;
                    for w in self.synced_waiters.drain(..) {
                        let _ = w.send(true);
                    }
                }
                Event::Notification { method: m, params } if m.starts_with("peer.") => {
                    self.peers = None;
                    let _ = self.peer_events.send((m, params));
                }
                Event::Notification { method: m, mut params } if m == method::MESSAGE_RECEIPT => {
                    if let Some(o) = params.as_object_mut() {
                        o.insert("mesh".into(), Value::String(self.spec.entry.slug.clone()));
                        o.insert("session".into(), Value::String(self.spec.session.clone()));
                    }
                    self.spec.daemon.notify(&self.spec.entry.slug, "message.receipt", params);
                }
                Event::Notification { method: m, params } if m == method::MESH_RENAMED => {
                    let name = params.get("name").and_then(Value::as_str);
                    self.spec.daemon.refresh_entry(&self.spec.entry.id, name, None);
                }
                Event::Notification { method: m, params } if super::coord::is_notification(&m) => {
                    self.coord.on_notification(&self.spec.daemon, &self.spec.entry, &m, params);
                }
                Event::Notification { .. } => {}
                Event::Closed { code, reason, .. } => self.on_closed(code, reason),
            }
        }
    }

    fn on_closed(&mut self, code: Option<u16>, reason: String) {
        tracing::info!(mesh = %self.spec.entry.slug, session = %self.spec.session, ?code, %reason, "link lost");
        self.set_status(false, Some(reason));
        for w in self.synced_waiters.drain(..) {
            let _ = w.send(false);
        }
        self.schedule_retry();
    }

    /// Opens each delivery, stores the batch in one transaction, tells subscribers, then acknowledges (only after
    /// the commit: a crash before it means a redelivery, which the inbox deduplicates).
    async fn store_and_ack(&mut self, batch: Vec<DeliverParams>) {
        let Some(conn) = self.conn.as_mut() else { return };
        let received_at_ms = now_ms();
        let mut rows = Vec::new();
        let mut acks = Vec::with_capacity(batch.len());
        for d in &batch {
            match conn.open_delivery(d) {
                Ok(body) => rows.push(NewMessage {
                    mesh_id: self.spec.entry.id.clone(),
                    session: self.spec.session.clone(),
                    msg_id: d.id.to_string(),
                    from_key: d.from.to_string(),
                    from_name: d.from_name.clone(),
                    from_member: d.from_member.to_string(),
                    to_spec: d.to.clone(),
                    priority: d.priority.as_str().to_string(),
                    kind: body.kind,
                    sent_at_ms: body.sent_at_ms,
                    received_at_ms,
                    body: body.body,
                }),
                // Nothing a broker or another peer sends can make us keep an unverifiable message.
                Err(e) => tracing::warn!(from = %d.from_name, error = %e, "dropping an undecryptable delivery"),
            }
            acks.push(d.delivery);
        }
        if !rows.is_empty() {
            let stored = rows.clone();
            match self.spec.daemon.store.run(move |db| db.insert_rows(&stored)).await {
                Ok(seqs) => {
                    for (msg, seq) in rows.into_iter().zip(seqs) {
                        if let Some(seq) = seq {
                            let m =
                                StoredMessage { seq, msg, read_at_ms: None, surfaced_at_ms: None, surfaced_via: None };
                            let _ = self.deliveries.send(Arc::new(m));
                        }
                    }
                }
                Err(e) => {
                    // Not acknowledged: the broker delivers again once the store works.
                    tracing::warn!(error = %e, "cannot store deliveries");
                    return;
                }
            }
        }
        for chunk in acks.chunks(MAX_ACK_IDS) {
            let params = AckParams { deliveries: chunk.to_vec() };
            if let Err(e) = conn.call::<_, AckResult>(method::MESSAGE_ACK, &params).await {
                tracing::debug!(error = %e, "message.ack failed; the broker will redeliver");
            }
        }
    }
}

fn classify(event: Event, batch: &mut Vec<DeliverParams>, rest: &mut Vec<Event>) {
    match event {
        Event::Notification { method: m, params } if m == method::MESSAGE_DELIVER => {
            match serde_json::from_value::<DeliverParams>(params) {
                Ok(d) => batch.push(d),
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed message.deliver"),
            }
        }
        other => rest.push(other),
    }
}

async fn next_event(conn: Option<&mut MeshSession>) -> Option<Event> {
    match conn {
        Some(c) => c.next_event().await,
        None => std::future::pending().await,
    }
}

/// Failures that pass: the send waits in the outbox and goes out later.
fn transient(e: &ClientError) -> bool {
    match e {
        ClientError::Rpc(rpc) => {
            matches!(rpc.kind(), Some(ErrorCode::RateLimited | ErrorCode::Unavailable | ErrorCode::Internal))
        }
        ClientError::Unreachable { .. } | ClientError::ConnectTimeout { .. } => true,
        other => other.is_connection_loss(),
    }
}
