//! State tables and the write rule: compare-and-swap, last writer wins by (lamport, writer), tombstones, and the
//! per-mesh change log with gap-free sequence numbers (all inside the caller's write transaction).

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::broker::coord::lamport;
use crate::broker::db::StoreError;
use crate::proto::{
    ErrorCode, KeyHex, MeshId, STATE_KEYS_MAX, STATE_LOG_KEEP, StateChanged, StateDeleteResult, StateEntry,
    StateSetResult,
};

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if super::super::part_version(c, "state")? < 1 {
        c.execute_batch(
            "CREATE TABLE state_entries(mesh_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT, version INTEGER NOT NULL,
                lamport INTEGER NOT NULL, writer TEXT NOT NULL, writer_name TEXT NOT NULL,
                updated_at_ms INTEGER NOT NULL, deleted INTEGER NOT NULL, PRIMARY KEY(mesh_id, key));
            CREATE TABLE state_log(mesh_id TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, value TEXT,
                version INTEGER NOT NULL, lamport INTEGER NOT NULL, writer TEXT NOT NULL, writer_name TEXT NOT NULL,
                deleted INTEGER NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY(mesh_id, seq));
            CREATE TABLE state_meta(mesh_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, live INTEGER NOT NULL);",
        )?;
        super::super::set_part_version(c, "state", 1)?;
    }
    Ok(())
}

/// One write as the store applies it.
pub(super) struct Write {
    pub mesh: MeshId,
    pub key: String,
    /// Compact JSON; None deletes.
    pub value: Option<String>,
    pub if_version: Option<u64>,
    pub lamport: Option<u64>,
    pub writer: KeyHex,
    pub now_ms: u64,
}

/// What a write did.
pub(super) enum Outcome {
    /// Applied and logged: the change to publish.
    Applied(StateChanged),
    /// Lost to the entry that holds the key (or, for a delete of a key that never existed, nothing to beat).
    Lost(StateEntry),
    /// `if_version` did not match; the key's current version (0 when absent or deleted).
    Conflict(u64),
}

/// The key's row, tombstones included.
struct Row {
    entry: StateEntry,
}

/// The pure rule: does a write stamped `(lamport, writer)` with `if_version` apply over `current`?
pub(super) enum Decision {
    Apply,
    Lose,
    Conflict(u64),
}

/// CAS first (it is checked against the live version, 0 for an absent or deleted key), then last writer wins.
pub(super) fn decide(current: Option<&StateEntry>, if_version: Option<u64>, lamport: u64, writer: &str) -> Decision {
    let live_version = current.filter(|e| !e.deleted).map_or(0, |e| e.version);
    if let Some(want) = if_version
        && want != live_version
    {
        return Decision::Conflict(live_version);
    }
    match current {
        Some(e) if !lamport::wins(lamport, writer, e.lamport, &e.writer) => Decision::Lose,
        _ => Decision::Apply,
    }
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn parse_value(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn entry_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<StateEntry> {
    Ok(StateEntry {
        key: r.get(0)?,
        value: parse_value(r.get(1)?),
        version: u(r.get(2)?),
        lamport: u(r.get(3)?),
        writer: r.get(4)?,
        writer_name: r.get(5)?,
        updated_at_ms: u(r.get(6)?),
        deleted: r.get::<_, i64>(7)? != 0,
    })
}

const ENTRY_COLS: &str = "key, value, version, lamport, writer, writer_name, updated_at_ms, deleted";

fn load(c: &Connection, mesh: &MeshId, key: &str) -> Result<Option<Row>, StoreError> {
    let sql = format!("SELECT {ENTRY_COLS} FROM state_entries WHERE mesh_id = ?1 AND key = ?2");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![mesh.as_str(), key], entry_from)
        .optional()?
        .map(|entry| Row { entry }))
}

/// The live entry of a key (None when absent or deleted).
pub(super) fn get(c: &Connection, mesh: &MeshId, key: &str) -> Result<Option<StateEntry>, StoreError> {
    Ok(load(c, mesh, key)?.map(|r| r.entry).filter(|e| !e.deleted))
}

/// Live entries whose key starts with `prefix`, sorted by key.
pub(super) fn list(c: &Connection, mesh: &MeshId, prefix: &str, limit: u32) -> Result<Vec<StateEntry>, StoreError> {
    // Keys use only characters below '~', so every key with the prefix sorts in [prefix, prefix + "~").
    let sql = format!(
        "SELECT {ENTRY_COLS} FROM state_entries WHERE mesh_id = ?1 AND key >= ?2 AND key < ?3 AND deleted = 0
         ORDER BY key LIMIT ?4"
    );
    let upper = format!("{prefix}~");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params![mesh.as_str(), prefix, upper, limit], entry_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn writer_name(c: &Connection, mesh: &MeshId, writer: &KeyHex) -> Result<String, StoreError> {
    let name: Option<String> = c
        .prepare_cached("SELECT name FROM peers WHERE mesh_id = ?1 AND session_key = ?2")?
        .query_row(params![mesh.as_str(), writer.to_string()], |r| r.get(0))
        .optional()?;
    Ok(name.unwrap_or_default())
}

/// The mesh's last change number and live key count.
fn meta(c: &Connection, mesh: &MeshId) -> Result<(u64, u64), StoreError> {
    let m: Option<(i64, i64)> = c
        .prepare_cached("SELECT seq, live FROM state_meta WHERE mesh_id = ?1")?
        .query_row([mesh.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(m.map_or((0, 0), |(s, l)| (u(s), u(l))))
}

/// The last change number of a mesh (0 before the first write).
pub(super) fn last_seq(c: &Connection, mesh: &MeshId) -> Result<u64, StoreError> {
    Ok(meta(c, mesh)?.0)
}

/// The oldest change still in the log (None when the log is empty).
pub(super) fn oldest_seq(c: &Connection, mesh: &MeshId) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = c
        .prepare_cached("SELECT min(seq) FROM state_log WHERE mesh_id = ?1")?
        .query_row([mesh.as_str()], |r| r.get(0))?;
    Ok(v.map(u))
}

/// Logged changes with `after < seq <= upto`, oldest first, at most `limit`.
pub(super) fn changes(
    c: &Connection,
    mesh: &MeshId,
    after: u64,
    upto: u64,
    limit: u32,
) -> Result<Vec<StateChanged>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT seq, key, value, version, lamport, writer, writer_name, deleted, at_ms FROM state_log
         WHERE mesh_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
    )?;
    let rows = st.query_map(params![mesh.as_str(), i(after), i(upto), limit], |r| {
        Ok(StateChanged {
            seq: u(r.get(0)?),
            key: r.get(1)?,
            value: parse_value(r.get(2)?),
            version: u(r.get(3)?),
            lamport: u(r.get(4)?),
            writer: r.get(5)?,
            writer_name: r.get(6)?,
            deleted: r.get::<_, i64>(7)? != 0,
            at_ms: u(r.get(8)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Applies one set or delete inside the caller's transaction: CAS, stamp, last writer wins, the live-key limit,
/// the row, and the change log entry with the mesh's next sequence number.
pub(super) fn apply(c: &Connection, w: &Write) -> Result<Outcome, StoreError> {
    let current = load(c, &w.mesh, &w.key)?.map(|r| r.entry);
    if let Some(want) = w.if_version {
        // CAS is decided before stamping, so a refused CAS leaves no trace.
        if let Decision::Conflict(v) = decide(current.as_ref(), Some(want), u64::MAX, "") {
            return Ok(Outcome::Conflict(v));
        }
    }
    let stamp = lamport::stamp(c, &w.mesh, w.lamport)?;
    let writer = w.writer.to_string();
    match decide(current.as_ref(), None, stamp, &writer) {
        Decision::Apply => {}
        Decision::Conflict(v) => return Ok(Outcome::Conflict(v)),
        Decision::Lose => {
            let won = current.ok_or_else(|| StoreError::Unavailable("state row vanished".into()))?;
            return Ok(Outcome::Lost(won));
        }
    }
    let was_live = current.as_ref().is_some_and(|e| !e.deleted);
    let now_live = w.value.is_some();
    let (seq, live) = meta(c, &w.mesh)?;
    if now_live && !was_live && live >= STATE_KEYS_MAX {
        return Err(StoreError::Rejected(
            ErrorCode::InvalidParams,
            format!("this mesh holds {STATE_KEYS_MAX} keys, the most it may; delete some first"),
        ));
    }
    let live = match (was_live, now_live) {
        (false, true) => live + 1,
        (true, false) => live.saturating_sub(1),
        _ => live,
    };
    let version = current.as_ref().map_or(0, |e| e.version) + 1;
    let name = writer_name(c, &w.mesh, &w.writer)?;
    let seq = seq + 1;
    let deleted = i64::from(!now_live);
    c.prepare_cached(
        "INSERT INTO state_entries(mesh_id, key, value, version, lamport, writer, writer_name, updated_at_ms, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT(mesh_id, key) DO UPDATE SET value = ?3, version = ?4, lamport = ?5, writer = ?6,
            writer_name = ?7, updated_at_ms = ?8, deleted = ?9",
    )?
    .execute(params![
        w.mesh.as_str(),
        w.key,
        w.value,
        i(version),
        i(stamp),
        writer,
        name,
        i(w.now_ms),
        deleted
    ])?;
    c.prepare_cached(
        "INSERT INTO state_log(mesh_id, seq, key, value, version, lamport, writer, writer_name, deleted, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        w.mesh.as_str(),
        i(seq),
        w.key,
        w.value,
        i(version),
        i(stamp),
        writer,
        name,
        deleted,
        i(w.now_ms)
    ])?;
    if seq > STATE_LOG_KEEP {
        c.prepare_cached("DELETE FROM state_log WHERE mesh_id = ?1 AND seq <= ?2")?
            .execute(params![w.mesh.as_str(), i(seq - STATE_LOG_KEEP)])?;
    }
    c.prepare_cached(
        "INSERT INTO state_meta(mesh_id, seq, live) VALUES (?1, ?2, ?3)
         ON CONFLICT(mesh_id) DO UPDATE SET seq = ?2, live = ?3",
    )?
    .execute(params![w.mesh.as_str(), i(seq), i(live)])?;
    Ok(Outcome::Applied(StateChanged {
        seq,
        key: w.key.clone(),
        value: parse_value(w.value.clone()),
        version,
        lamport: stamp,
        writer,
        writer_name: name,
        deleted: !now_live,
        at_ms: w.now_ms,
    }))
}

impl StateChanged {
    /// The entry a change leaves behind.
    pub(super) fn entry(&self) -> StateEntry {
        StateEntry {
            key: self.key.clone(),
            value: self.value.clone(),
            version: self.version,
            lamport: self.lamport,
            writer: self.writer.clone(),
            writer_name: self.writer_name.clone(),
            updated_at_ms: self.at_ms,
            deleted: self.deleted,
        }
    }
}

/// The `state.set` result of an outcome that is not a conflict.
pub(super) fn set_result(o: &Outcome) -> Option<StateSetResult> {
    match o {
        Outcome::Applied(ch) => Some(StateSetResult { applied: true, entry: ch.entry() }),
        Outcome::Lost(e) => Some(StateSetResult { applied: false, entry: e.clone() }),
        Outcome::Conflict(_) => None,
    }
}

/// The `state.delete` result of an outcome that is not a conflict. `deleted` says a live value went away.
pub(super) fn delete_result(o: &Outcome, was_live: bool) -> Option<StateDeleteResult> {
    match o {
        Outcome::Applied(ch) => {
            Some(StateDeleteResult { applied: true, deleted: was_live, version: ch.version, lamport: ch.lamport })
        }
        Outcome::Lost(e) => {
            Some(StateDeleteResult { applied: false, deleted: false, version: e.version, lamport: e.lamport })
        }
        Outcome::Conflict(_) => None,
    }
}

/// True when the key holds a live value (for the delete result).
pub(super) fn is_live(c: &Connection, mesh: &MeshId, key: &str) -> Result<bool, StoreError> {
    Ok(get(c, mesh, key)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: u64, lamport: u64, writer: &str, deleted: bool) -> StateEntry {
        StateEntry {
            key: "k".into(),
            value: Value::Null,
            version,
            lamport,
            writer: writer.into(),
            writer_name: String::new(),
            updated_at_ms: 0,
            deleted,
        }
    }

    #[test]
    fn cas_checks_the_live_version_and_lww_orders_by_stamp_then_writer() {
        assert!(matches!(decide(None, Some(0), 1, "a"), Decision::Apply));
        assert!(matches!(decide(None, Some(1), 1, "a"), Decision::Conflict(0)));
        let live = entry(3, 5, "bb", false);
        assert!(matches!(decide(Some(&live), Some(3), 6, "a"), Decision::Apply));
        assert!(matches!(decide(Some(&live), Some(2), 6, "a"), Decision::Conflict(3)));
        assert!(matches!(decide(Some(&live), None, 4, "zz"), Decision::Lose));
        assert!(matches!(decide(Some(&live), None, 5, "aa"), Decision::Lose));
        assert!(matches!(decide(Some(&live), None, 5, "cc"), Decision::Apply));
        let gone = entry(4, 7, "bb", true);
        assert!(matches!(decide(Some(&gone), Some(0), 8, "a"), Decision::Apply), "a deleted key counts as absent");
        assert!(matches!(decide(Some(&gone), None, 6, "zz"), Decision::Lose), "an older write cannot resurrect");
    }
}
