//! `state.changed` fan-out in sequence order. Each mesh with watchers has a feed: a cursor (`published`, the last
//! change sent to live watchers) behind an async lock. After a write commits, its task hands the change to the
//! feed, which sends changes strictly in `seq` order whatever order the tasks wake in (early ones wait; a gap is
//! read back from the change log), so a write whose task was dropped after its commit is still sent.
//! A new watcher joins under the same lock after its reply went out: it is sent the logged changes from where it
//! asked up to the cursor, then registered for live ones, so it sees every change once, in order, with no gap.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;

use super::store;
use crate::broker::conn::Shared;
use crate::broker::hub::Outbound;
use crate::proto::{MeshId, StateChanged, cmethod, encode_notification};

/// Changes read from the log per round trip of a replay.
const CHUNK: u32 = 1_000;
/// How long a replay may wait for room in a watcher's outbound queue before the watcher counts as gone.
const REPLAY_STALL: Duration = Duration::from_secs(30);

/// The subscription topic of a watched prefix.
pub(super) fn topic(prefix: &str) -> String {
    format!("state:{prefix}")
}

fn matches(topic: &str, key: &str) -> bool {
    topic.strip_prefix("state:").is_some_and(|p| key.starts_with(p))
}

/// A watch answered but not yet joined (it joins right after its reply is queued).
struct Pending {
    mesh: MeshId,
    prefix: String,
    after: u64,
    out: mpsc::Sender<Outbound>,
}

#[derive(Default)]
struct Cursor {
    /// None until loaded from the store.
    published: Option<u64>,
    /// Committed changes past `published + 1` whose predecessors are not out yet.
    ready: BTreeMap<u64, StateChanged>,
}

/// The feeds of every mesh that has had a watcher since the broker started.
#[derive(Default)]
pub(crate) struct Feeds {
    meshes: Mutex<HashMap<MeshId, Arc<tokio::sync::Mutex<Cursor>>>>,
    pending: Mutex<HashMap<u64, Pending>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a single insert or remove: a panic cannot leave the map half-changed.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Feeds {
    fn feed(&self, mesh: &MeshId, create: bool) -> Option<Arc<tokio::sync::Mutex<Cursor>>> {
        let mut map = locked(&self.meshes);
        match map.get(mesh) {
            Some(f) => Some(f.clone()),
            None if create => Some(map.entry(mesh.clone()).or_default().clone()),
            None => None,
        }
    }
}

/// Loads the cursor on first use: every change committed so far counts as published (no watcher existed).
async fn load(shared: &Arc<Shared>, mesh: &MeshId, cursor: &mut Cursor) -> Option<u64> {
    if let Some(p) = cursor.published {
        return Some(p);
    }
    let m = mesh.clone();
    match shared.db.read(move |c| store::last_seq(c, &m)).await {
        Ok(p) => {
            cursor.published = Some(p);
            Some(p)
        }
        Err(e) => {
            tracing::warn!(error = %e, "state feed could not read the change log");
            None
        }
    }
}

/// Publishes `ch` (committed) once every change before it is out: changes whose tasks finish early wait in
/// `ready`; a gap is filled from the change log (a change numbered below a committed one is committed too, so
/// the log has it), which also covers a write whose task was dropped between its commit and this call.
pub(super) async fn catch_up(shared: Arc<Shared>, mesh: MeshId, ch: StateChanged) {
    let Some(feed) = shared.coord.state.feed(&mesh, false) else { return };
    let mut cursor = feed.lock().await;
    let Some(mut published) = load(&shared, &mesh, &mut cursor).await else { return };
    if ch.seq <= published {
        return;
    }
    if shared.coord.subs.count(&mesh, |t| t.starts_with("state:")) == 0 {
        // Nobody listens: skip ahead (a watcher that joins later replays from the log).
        cursor.published = Some(ch.seq);
        cursor.ready.retain(|&s, _| s > ch.seq);
        return;
    }
    cursor.ready.insert(ch.seq, ch);
    let first = cursor.ready.keys().next().copied().unwrap_or(published + 1);
    if first > published + 1 {
        let (m, after, upto) = (mesh.clone(), published, first - 1);
        match shared.db.read(move |c| store::changes(c, &m, after, upto, u32::MAX)).await {
            Ok(gap) => cursor.ready.extend(gap.into_iter().map(|c| (c.seq, c))),
            Err(e) => {
                tracing::warn!(error = %e, "state feed could not read the change log");
                return;
            }
        }
    }
    while let Some(next) = cursor.ready.remove(&(published + 1)) {
        if let Ok(v) = serde_json::to_value(&next) {
            let text = encode_notification(cmethod::STATE_CHANGED, &v);
            let sent = shared.coord.subs.publish(&mesh, None, |t| matches(t, &next.key), &text);
            if sent.lagged > 0 {
                tracing::debug!(lagged = sent.lagged, seq = next.seq, "state watchers missed a change");
            }
        }
        published = next.seq;
    }
    cursor.published = Some(published);
}

/// Registers a watch to join after its reply. Returns the last published change number (the reply's `seq`) and
/// whether `since` is older than the log (then nothing is replayed and the watcher re-reads with `state.list`).
pub(super) async fn prepare(
    shared: &Arc<Shared>,
    mesh: &MeshId,
    conn: u64,
    prefix: &str,
    since: Option<u64>,
    out: &mpsc::Sender<Outbound>,
) -> Option<(u64, bool)> {
    let feed = shared.coord.state.feed(mesh, true)?;
    let mut cursor = feed.lock().await;
    let published = load(shared, mesh, &mut cursor).await?;
    let mut after = since.unwrap_or(published).min(published);
    let mut resync = false;
    if after < published {
        let m = mesh.clone();
        let oldest = shared.db.read(move |c| store::oldest_seq(c, &m)).await.ok()?;
        if oldest.is_none_or(|o| after + 1 < o) {
            resync = true;
            after = published;
        }
    }
    let pending = Pending { mesh: mesh.clone(), prefix: prefix.to_string(), after, out: out.clone() };
    locked(&shared.coord.state.pending).insert(conn, pending);
    Some((published, resync))
}

/// Called after every coordination reply of connection `conn`: joins the watch that reply answered, if any.
pub(crate) async fn after_reply(shared: &Arc<Shared>, conn: u64) {
    let Some(p) = locked(&shared.coord.state.pending).remove(&conn) else { return };
    let Some(feed) = shared.coord.state.feed(&p.mesh, true) else { return };
    let cursor = feed.lock().await;
    let Some(upto) = cursor.published else { return };
    // Replay (after, upto] while the cursor cannot move, then join: live changes start at upto + 1.
    let mut after = p.after;
    while after < upto {
        let m = p.mesh.clone();
        let batch = match shared.db.read(move |c| store::changes(c, &m, after, upto, CHUNK)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "state watch replay could not read the change log");
                return;
            }
        };
        let Some(last) = batch.last().map(|c| c.seq) else { break };
        for ch in batch.iter().filter(|c| c.key.starts_with(&p.prefix)) {
            if !send(&p.out, ch).await {
                return;
            }
        }
        after = last;
    }
    shared.coord.subs.add(&p.mesh, conn, &topic(&p.prefix), &p.out);
}

async fn send(out: &mpsc::Sender<Outbound>, ch: &StateChanged) -> bool {
    let Ok(v) = serde_json::to_value(ch) else { return true };
    let text = encode_notification(cmethod::STATE_CHANGED, &v);
    matches!(tokio::time::timeout(REPLAY_STALL, out.send(Outbound::Text(text))).await, Ok(Ok(())))
}

/// A connection closed: a watch it left pending goes with it.
pub(crate) fn drop_conn(shared: &Shared, conn: u64) {
    locked(&shared.coord.state.pending).remove(&conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_match_keys_by_prefix() {
        assert!(matches(&topic(""), "a/b"));
        assert!(matches(&topic("a/"), "a/b"));
        assert!(!matches(&topic("a/c"), "a/b"));
        assert!(!matches("stream:a", "a"));
    }
}
