//! What a broker link does for the coordination primitives: replays the session's queued writes on (re)connect,
//! queues writes while the broker is unreachable, keeps the mesh's one broker-side state watch and the stream
//! subscriptions alive across reconnects, and fans the broker's coordination notifications out.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Value, json};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::super::state::{Daemon, now_ms};
use super::{observe, transient};
use crate::client::{ClientError, MeshSession};
use crate::config::MeshEntry;
use crate::proto::ErrorCode;
use crate::proto::cmethod;
use crate::store::{CoordRow, OutboxRow, QueueError};

/// Coordination notifications buffered per local watcher before it lags (a lagging state watcher is told to
/// re-read with `state.resync`).
const EVENTS: usize = 4096;
/// A replay paused by the broker goes again after this long (or at the next connect or write).
const REPLAY_RETRY: Duration = Duration::from_secs(2);
/// The local notification that tells state watchers they missed changes and should re-read with `state.list`.
pub(in crate::daemon) const STATE_RESYNC: &str = "state.resync";

/// How a replay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::daemon) enum Replay {
    /// Nothing of this session waits any more.
    Done,
    /// A transient failure: the rest waits for the next connect (or the next write).
    Stopped,
}

/// A link's coordination state.
pub(in crate::daemon) struct LinkCoord {
    /// Whether a local client watches state through this link (then the broker-side watch is kept).
    state_watch: bool,
    /// The last `state.changed` seq forwarded (the `since_seq` of the next watch).
    state_seq: Option<u64>,
    /// Streams local clients subscribed to through this link.
    streams: BTreeSet<String>,
    events: broadcast::Sender<(String, Value)>,
    /// Whether queued writes of this session may still wait (keeps an idle link open).
    pub waiting: bool,
    /// The connection (`MeshSession::generation`) the watches were last made on.
    pub generation: u64,
    /// When a replay the broker paused (`unavailable`, `rate_limited`) on a live connection goes again.
    pub retry_at: Option<Instant>,
}

/// What a local client asks the link to keep watching.
#[derive(Debug, Clone)]
pub(in crate::daemon) enum Watch {
    State,
    Stream(String),
}

impl LinkCoord {
    pub(in crate::daemon) fn new() -> Self {
        Self {
            state_watch: false,
            state_seq: None,
            streams: BTreeSet::new(),
            events: broadcast::channel(EVENTS).0,
            waiting: true,
            generation: 0,
            retry_at: None,
        }
    }

    /// Records how a replay ended: a paused one on a live connection is tried again after `REPLAY_RETRY`.
    pub(in crate::daemon) fn replayed(&mut self, replay: Replay) {
        self.waiting = replay == Replay::Stopped;
        self.retry_at = self.waiting.then(|| Instant::now() + REPLAY_RETRY);
    }

    /// The notification fan-out (`state.changed`, `stream.data`, …, `state.resync`).
    pub(in crate::daemon) fn events(&self) -> broadcast::Sender<(String, Value)> {
        self.events.clone()
    }

    /// Whether local clients listen (an idle link with listeners stays open).
    pub(in crate::daemon) fn busy(&self) -> bool {
        self.waiting || self.events.receiver_count() > 0
    }

    /// Starts (or joins) a watch: the broker-side one is made once; the answer carries the seq a local watcher
    /// starts after.
    pub(in crate::daemon) async fn watch(
        &mut self,
        conn: Option<&mut MeshSession>,
        what: Watch,
    ) -> Result<Value, ClientError> {
        match what {
            Watch::State => {
                let first = !self.state_watch;
                self.state_watch = true;
                if !first && let Some(seq) = self.state_seq {
                    return Ok(json!({ "seq": seq }));
                }
                let Some(conn) = conn else { return Err(not_connected()) };
                let result = self.state_watch_call(conn).await?;
                Ok(json!({ "seq": self.state_seq.or_else(|| result.get("seq").and_then(Value::as_u64)) }))
            }
            Watch::Stream(name) => {
                self.streams.insert(name.clone());
                let Some(conn) = conn else { return Err(not_connected()) };
                conn.call_retrying::<Value, Value>(cmethod::STREAM_SUBSCRIBE, &json!({ "name": name })).await
            }
        }
    }

    /// `state.watch` on the broker from where this link left off.
    async fn state_watch_call(&mut self, conn: &mut MeshSession) -> Result<Value, ClientError> {
        let params = match self.state_seq {
            Some(seq) => json!({ "since_seq": seq }),
            None => json!({}),
        };
        let result: Value = conn.call_retrying(cmethod::STATE_WATCH, &params).await?;
        let seq = result.get("seq").and_then(Value::as_u64);
        if result.get("resync") == Some(&Value::Bool(true)) {
            // Changes were lost from the broker's log: watchers re-read, then follow from here.
            self.state_seq = seq;
            let _ = self.events.send((STATE_RESYNC.to_string(), json!({ "seq": seq })));
        } else if self.state_seq.is_none() {
            self.state_seq = seq;
        }
        Ok(result)
    }

    /// After a (re)connect: the watch and the stream subscriptions again. The retained changes since the last
    /// one seen come as notifications, which `on_notification` deduplicates by seq.
    pub(in crate::daemon) async fn reconnected(&mut self, conn: &mut MeshSession) {
        if self.state_watch
            && let Err(e) = self.state_watch_call(conn).await
        {
            tracing::warn!(error = %e, "cannot watch state again after the reconnect");
        }
        for name in self.streams.clone() {
            let params = json!({ "name": name });
            if let Err(e) = conn.call_retrying::<Value, Value>(cmethod::STREAM_SUBSCRIBE, &params).await {
                tracing::warn!(stream = %name, error = %e, "cannot subscribe to a stream again after the reconnect");
            }
        }
    }

    /// A coordination notification from the broker: forwarded once (a `state.changed` already seen is dropped),
    /// to local watchers and to `events.subscribe`; its stamp moves the Lamport counter.
    pub(in crate::daemon) fn on_notification(
        &mut self,
        daemon: &Arc<Daemon>,
        entry: &MeshEntry,
        method: &str,
        mut params: Value,
    ) {
        let Some(name) = notification_name(method) else { return };
        if name == cmethod::STATE_CHANGED {
            let seq = params.get("seq").and_then(Value::as_u64);
            if let (Some(seq), Some(last)) = (seq, self.state_seq)
                && seq <= last
            {
                return;
            }
            if seq.is_some() {
                self.state_seq = seq;
            }
        }
        let _ = self.events.send((name.to_string(), params.clone()));
        if let Some(o) = params.as_object_mut() {
            o.insert("mesh".into(), Value::String(entry.slug.clone()));
        }
        {
            let (daemon, entry, params) = (Arc::clone(daemon), entry.clone(), params.clone());
            tokio::spawn(async move { observe(&daemon, &entry, &params).await });
        }
        daemon.notify(&entry.slug, name, params);
    }
}

/// The coordination notifications the daemon forwards, by their static name.
fn notification_name(method: &str) -> Option<&'static str> {
    [
        cmethod::STATE_CHANGED,
        cmethod::STREAM_DATA,
        cmethod::TASK_CHANGED,
        cmethod::CLOCK_CHANGED,
        cmethod::ACCESS_CHANGED,
    ]
    .into_iter()
    .find(|m| *m == method)
}

/// Whether a broker notification is a coordination one.
pub(in crate::daemon) fn is_notification(method: &str) -> bool {
    notification_name(method).is_some()
}

fn not_connected() -> ClientError {
    ClientError::Unreachable { url: String::new(), reason: "not connected".into() }
}

/// Queues a write of `session` (stamped, durable) and answers `{"queued": true, "lamport", "id"?}`.
pub(in crate::daemon) async fn queue(
    daemon: &Daemon,
    entry: &MeshEntry,
    session: &str,
    method: &str,
    params: Value,
) -> Result<Value, ClientError> {
    let (mesh, s, m) = (entry.id.clone(), session.to_string(), method.to_string());
    let row = daemon.store.run(move |db| Ok(db.coord_queue(&mesh, &s, &m, params, now_ms()))).await;
    let row = match row {
        Ok(Ok(row)) => row,
        Ok(Err(QueueError::Full)) => {
            return Err(ClientError::Rpc(crate::proto::RpcError::new(
                ErrorCode::Unavailable,
                QueueError::Full.to_string(),
            )));
        }
        Ok(Err(QueueError::Store(e))) | Err(e) => {
            return Err(ClientError::Rpc(crate::proto::RpcError::new(ErrorCode::Internal, e.to_string())));
        }
    };
    tracing::info!(mesh = %entry.slug, session, method, lamport = row.lamport, "coordination write queued");
    let mut answer = json!({ "queued": true, "lamport": row.lamport });
    if let (Some(id), Some(o)) = (row.params.get("id"), answer.as_object_mut()) {
        o.insert("id".into(), id.clone());
    }
    Ok(answer)
}

/// Sends the session's queued writes in order. A write the broker refuses is marked failed (and reported) and the
/// rest go on; a transient failure stops here. A row leaves the outbox only after the broker answered.
pub(in crate::daemon) async fn replay(
    daemon: &Arc<Daemon>,
    entry: &MeshEntry,
    session: &str,
    name: Option<&str>,
    conn: &mut MeshSession,
) -> Replay {
    let (mesh, s) = (entry.id.clone(), session.to_string());
    let rows = match daemon.store.run(move |db| db.coord_pending(&mesh, &s)).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the coordination outbox");
            return Replay::Stopped;
        }
    };
    for row in rows {
        match conn.call::<Value, Value>(&row.method, &row.params).await {
            Ok(result) => {
                observe(daemon, entry, &result).await;
                let seq = row.seq;
                if let Err(e) = daemon.store.run(move |db| db.coord_done(seq)).await {
                    // It goes again after the next connect: ids and stamps make that harmless.
                    tracing::warn!(error = %e, "cannot mark a coordination write as done");
                }
                tracing::info!(mesh = %entry.slug, method = %row.method, lamport = row.lamport, "queued write replayed");
                if row.method == cmethod::TASK_COMPLETE {
                    task_completed(daemon, entry, session, name, &result).await;
                }
            }
            Err(e) if transient(&e) => {
                tracing::debug!(error = %e, "coordination replay paused");
                return Replay::Stopped;
            }
            Err(e) => failed(daemon, entry, &row, &e).await,
        }
    }
    Replay::Done
}

async fn failed(daemon: &Daemon, entry: &MeshEntry, row: &CoordRow, e: &ClientError) {
    let (seq, detail, at) = (row.seq, e.to_string(), now_ms());
    tracing::warn!(mesh = %entry.slug, method = %row.method, error = %detail, "the broker refused a queued write");
    let kept = detail.clone();
    if let Err(e) = daemon.store.run(move |db| db.coord_failed(seq, &kept, at)).await {
        tracing::warn!(error = %e, "cannot mark a coordination write as failed");
    }
    let note = json!({ "mesh": entry.slug, "session": row.session, "method": row.method, "params": row.params,
                       "error": detail, "at_ms": at });
    daemon.notify(&entry.slug, "coord.failed", note);
}

/// A task was completed by this session: its creator (another session) gets a message of kind `task`.
pub(in crate::daemon) async fn task_completed(
    daemon: &Arc<Daemon>,
    entry: &MeshEntry,
    session: &str,
    name: Option<&str>,
    task: &Value,
) {
    let text = |k: &str| task.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (Some(creator), Some(creator_name), Some(id)) = (text("creator"), text("creator_name"), text("id")) else {
        return;
    };
    if text("claimed_by") == Some(creator) {
        return;
    }
    let who = text("claimed_by_name").or(name).unwrap_or("a peer");
    let title = text("title").unwrap_or_default();
    let body = match task.get("result").filter(|r| !r.is_null()) {
        Some(Value::String(r)) => format!("{who} completed task {id} \"{title}\": {r}"),
        Some(r) => format!("{who} completed task {id} \"{title}\": {r}"),
        None => format!("{who} completed task {id} \"{title}\""),
    };
    let msg_id = crate::proto::MessageId::generate().to_string();
    let row = OutboxRow {
        mesh_id: entry.id.clone(),
        session: session.to_string(),
        msg_id: msg_id.clone(),
        to_spec: creator_name.to_string(),
        body,
        priority: crate::proto::Priority::Next.as_str().to_string(),
        ttl_secs: None,
        created_at_ms: now_ms(),
        kind: "task".into(),
    };
    if let Err(e) = daemon.store.run(move |db| db.queue(&row)).await {
        tracing::warn!(error = %e, "cannot queue the task-completed message");
        return;
    }
    // The link sends it in order with the session's other messages; nobody waits for the outcome.
    let link = daemon.link(entry, session, name);
    tokio::spawn(async move {
        link.flush_for(msg_id).await;
    });
}
