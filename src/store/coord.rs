//! The daemon's coordination tables in `data.db`: per-mesh Lamport counters, the read cache and the outbox of
//! coordination writes made while the broker was unreachable.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{Inbox, StoreError, Synchronous, from_sql, to_sql};

/// v3: the coordination primitives (docs/coordination.md "Offline behaviour"), and the kind of a queued send
/// (`task` notices go through the outbox too).
pub(super) const SCHEMA_V3: &str = "
CREATE TABLE coord_lamport (
    mesh_id TEXT    PRIMARY KEY,
    counter INTEGER NOT NULL
);
CREATE TABLE coord_cache (
    mesh_id TEXT    NOT NULL,
    method  TEXT    NOT NULL,
    params  TEXT    NOT NULL,
    result  TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL,
    PRIMARY KEY (mesh_id, method, params)
);
CREATE INDEX coord_cache_age ON coord_cache (mesh_id, at_ms);
CREATE TABLE coord_outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    mesh_id       TEXT    NOT NULL,
    session       TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    params        TEXT    NOT NULL,
    lamport       INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending',
    error         TEXT    NULL,
    failed_at_ms  INTEGER NULL
);
CREATE INDEX coord_outbox_pending ON coord_outbox (mesh_id, session, state, seq);
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
";

/// Cached answers kept per mesh (the oldest go first).
pub(crate) const CACHE_ENTRIES_PER_MESH: usize = 1_000;
/// Largest cached answer (compact JSON); a larger one is not cached.
pub(crate) const CACHE_ENTRY_BYTES: usize = 1 << 20;
/// Queued coordination writes per mesh (pending ones); one more is refused.
pub(crate) const OUTBOX_PER_MESH: u64 = 10_000;
/// Failed writes `coord_outbox_status` lists (the newest).
const FAILED_LISTED: usize = 20;

/// One queued coordination write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CoordRow {
    pub seq: i64,
    pub mesh_id: String,
    pub session: String,
    pub method: String,
    /// The params as the broker gets them (the Lamport stamp and any id included).
    pub params: Value,
    pub lamport: u64,
    pub created_at_ms: u64,
}

/// A queued write the broker refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CoordFailed {
    pub mesh_id: String,
    pub method: String,
    pub error: String,
    pub at_ms: u64,
}

/// What `daemon.status` shows of the coordination outbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CoordOutboxStatus {
    pub queued: u64,
    pub failed: Vec<CoordFailed>,
}

/// Why a write could not be queued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QueueError {
    #[error("the coordination outbox of this mesh holds {OUTBOX_PER_MESH} writes; wait for the broker to take them")]
    Full,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for QueueError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(StoreError::Sqlite(e))
    }
}

impl Inbox {
    /// The mesh's Lamport counter (0 before anything was seen).
    #[cfg(test)]
    pub(crate) fn lamport(&mut self, mesh_id: &str) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn()
            .query_row("SELECT counter FROM coord_lamport WHERE mesh_id = ?1", params![mesh_id], |r| r.get(0))
            .optional()?;
        Ok(n.map_or(0, from_sql))
    }

    /// Moves the mesh's counter to at least `seen`; returns the counter.
    pub(crate) fn observe_lamport(&mut self, mesh_id: &str, seen: u64) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row(
            "INSERT INTO coord_lamport (mesh_id, counter) VALUES (?1, ?2)
             ON CONFLICT (mesh_id) DO UPDATE SET counter = MAX(counter, excluded.counter) RETURNING counter",
            params![mesh_id, to_sql(seen)],
            |r| r.get(0),
        )?;
        Ok(from_sql(n))
    }

    /// Queues a write in one durable transaction: stamps it with the counter + 1 (which becomes the counter),
    /// puts the stamp in `params.lamport` and returns the row.
    pub(crate) fn coord_queue(
        &mut self,
        mesh_id: &str,
        session: &str,
        method: &str,
        mut params: Value,
        now_ms: u64,
    ) -> Result<CoordRow, QueueError> {
        let conn = self.conn();
        let _full = Synchronous::full(conn)?;
        let tx = conn.unchecked_transaction()?;
        let pending: i64 = tx.query_row(
            "SELECT COUNT(*) FROM coord_outbox WHERE mesh_id = ?1 AND state = 'pending'",
            params![mesh_id],
            |r| r.get(0),
        )?;
        if from_sql(pending) >= OUTBOX_PER_MESH {
            return Err(QueueError::Full);
        }
        let counter: i64 = tx.query_row(
            "INSERT INTO coord_lamport (mesh_id, counter) VALUES (?1, 1)
             ON CONFLICT (mesh_id) DO UPDATE SET counter = counter + 1 RETURNING counter",
            params![mesh_id],
            |r| r.get(0),
        )?;
        let lamport = from_sql(counter);
        if let Some(o) = params.as_object_mut() {
            o.insert("lamport".into(), Value::from(lamport));
        }
        tx.execute(
            "INSERT INTO coord_outbox (mesh_id, session, method, params, lamport, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![mesh_id, session, method, params.to_string(), counter, to_sql(now_ms)],
        )?;
        let seq = tx.last_insert_rowid();
        tx.commit()?;
        Ok(CoordRow {
            seq,
            mesh_id: mesh_id.into(),
            session: session.into(),
            method: method.into(),
            params,
            lamport,
            created_at_ms: now_ms,
        })
    }

    /// A session's queued writes of one mesh, oldest first.
    pub(crate) fn coord_pending(&mut self, mesh_id: &str, session: &str) -> Result<Vec<CoordRow>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, mesh_id, session, method, params, lamport, created_at_ms FROM coord_outbox
             WHERE mesh_id = ?1 AND session = ?2 AND state = 'pending' ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![mesh_id, session], |r| {
            let text: String = r.get(4)?;
            Ok(CoordRow {
                seq: r.get(0)?,
                mesh_id: r.get(1)?,
                session: r.get(2)?,
                method: r.get(3)?,
                // Written by `coord_queue` from a JSON value; a row that no longer parses is sent as `{}` and the
                // broker refuses it, which marks it failed instead of blocking the queue.
                params: serde_json::from_str(&text).unwrap_or_else(|_| Value::Object(serde_json::Map::new())),
                lamport: from_sql(r.get(5)?),
                created_at_ms: from_sql(r.get(6)?),
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The broker applied (or answered) a queued write: it leaves the outbox.
    pub(crate) fn coord_done(&mut self, seq: i64) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM coord_outbox WHERE seq = ?1", params![seq])?;
        Ok(())
    }

    /// The broker refused a queued write: it stays, marked, for `daemon status`.
    pub(crate) fn coord_failed(&mut self, seq: i64, error: &str, now_ms: u64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE coord_outbox SET state = 'failed', error = ?2, failed_at_ms = ?3 WHERE seq = ?1",
            params![seq, error, to_sql(now_ms)],
        )?;
        Ok(())
    }

    /// Every (mesh id, session) with queued writes, so a daemon that starts replays them unasked.
    pub(crate) fn coord_pending_sessions(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT DISTINCT mesh_id, session FROM coord_outbox WHERE state = 'pending' ORDER BY mesh_id, session",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// How many writes wait and the newest refused ones, over every mesh.
    pub(crate) fn coord_outbox_status(&mut self) -> Result<CoordOutboxStatus, StoreError> {
        let conn = self.conn();
        let queued: i64 =
            conn.query_row("SELECT COUNT(*) FROM coord_outbox WHERE state = 'pending'", [], |r| r.get(0))?;
        let mut stmt = conn.prepare_cached(
            "SELECT mesh_id, method, error, failed_at_ms FROM coord_outbox WHERE state = 'failed'
             ORDER BY seq DESC LIMIT ?1",
        )?;
        let failed = stmt
            .query_map(params![i64::try_from(FAILED_LISTED).unwrap_or(20)], |r| {
                Ok(CoordFailed {
                    mesh_id: r.get(0)?,
                    method: r.get(1)?,
                    error: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    at_ms: r.get::<_, Option<i64>>(3)?.map_or(0, from_sql),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CoordOutboxStatus { queued: from_sql(queued), failed })
    }

    /// Keeps a fresh answer for `(mesh, method, key)` (the key is the call's canonical params). Answers over
    /// `CACHE_ENTRY_BYTES` are not kept; past `CACHE_ENTRIES_PER_MESH` the oldest entries of the mesh go.
    pub(crate) fn cache_put(
        &mut self,
        mesh_id: &str,
        method: &str,
        key: &str,
        result: &Value,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let text = result.to_string();
        if text.len() > CACHE_ENTRY_BYTES {
            return Ok(false);
        }
        let tx = self.conn().transaction()?;
        tx.execute(
            "INSERT INTO coord_cache (mesh_id, method, params, result, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (mesh_id, method, params) DO UPDATE SET result = excluded.result, at_ms = excluded.at_ms",
            params![mesh_id, method, key, text, to_sql(now_ms)],
        )?;
        tx.execute(
            "DELETE FROM coord_cache WHERE mesh_id = ?1 AND rowid IN (SELECT rowid FROM coord_cache
             WHERE mesh_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT -1 OFFSET ?2)",
            params![mesh_id, i64::try_from(CACHE_ENTRIES_PER_MESH).unwrap_or(i64::MAX)],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// The cached answer for `(mesh, method, key)` and when it was fresh.
    pub(crate) fn cache_get(
        &mut self,
        mesh_id: &str,
        method: &str,
        key: &str,
    ) -> Result<Option<(Value, u64)>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row(
                "SELECT result, at_ms FROM coord_cache WHERE mesh_id = ?1 AND method = ?2 AND params = ?3",
                params![mesh_id, method, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(text, at)| serde_json::from_str(&text).ok().map(|v| (v, from_sql(at)))))
    }

    /// Deletes a mesh's coordination rows (when leaving it).
    pub(crate) fn coord_forget_mesh(&mut self, mesh_id: &str) -> Result<(), StoreError> {
        let tx = self.conn().transaction()?;
        for table in ["coord_lamport", "coord_cache", "coord_outbox"] {
            tx.execute(&format!("DELETE FROM {table} WHERE mesh_id = ?1"), params![mesh_id])?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn open() -> (tempfile::TempDir, Inbox) {
        let dir = tempfile::tempdir().unwrap();
        let db = Inbox::open(&dir.path().join("data.db")).unwrap();
        (dir, db)
    }

    #[test]
    fn the_counter_only_moves_forward_and_stamps_queued_writes() {
        let (_dir, mut db) = open();
        assert_eq!(db.lamport("m").unwrap(), 0);
        assert_eq!(db.observe_lamport("m", 7).unwrap(), 7);
        assert_eq!(db.observe_lamport("m", 3).unwrap(), 7);
        let a = db.coord_queue("m", "cli", "state.set", json!({"key": "k", "value": 1}), 10).unwrap();
        assert_eq!((a.lamport, &a.params["lamport"]), (8, &json!(8)));
        let b = db.coord_queue("m", "cli", "state.set", json!({"key": "k", "value": 2}), 11).unwrap();
        assert_eq!(b.lamport, 9);
        assert_eq!(db.lamport("m").unwrap(), 9);
        assert_eq!(db.lamport("other").unwrap(), 0);
        // Another mesh has its own counter.
        assert_eq!(db.coord_queue("other", "cli", "memory.forget", json!({"id": "x"}), 12).unwrap().lamport, 1);
    }

    #[test]
    fn the_outbox_keeps_order_marks_failures_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        let mut db = Inbox::open(&path).unwrap();
        let rows: Vec<CoordRow> = (0..3)
            .map(|i| db.coord_queue("m", "s1", "state.set", json!({"key": format!("k{i}")}), 5).unwrap())
            .collect();
        db.coord_queue("m", "s2", "task.create", json!({"title": "t"}), 6).unwrap();
        assert!(db.coord_pending("m", "nobody").unwrap().is_empty());
        db.coord_done(rows[0].seq).unwrap();
        db.coord_failed(rows[1].seq, "forbidden: missing capability state-write", 77).unwrap();
        drop(db);
        let mut db = Inbox::open(&path).unwrap();
        let pending = db.coord_pending("m", "s1").unwrap();
        assert_eq!(pending, vec![rows[2].clone()]);
        assert_eq!(
            db.coord_pending_sessions().unwrap(),
            [("m".to_string(), "s1".to_string()), ("m".to_string(), "s2".to_string())]
        );
        let status = db.coord_outbox_status().unwrap();
        assert_eq!(status.queued, 2);
        assert_eq!(
            status.failed,
            vec![CoordFailed {
                mesh_id: "m".into(),
                method: "state.set".into(),
                error: "forbidden: missing capability state-write".into(),
                at_ms: 77
            }]
        );
        db.coord_forget_mesh("m").unwrap();
        assert_eq!(db.coord_outbox_status().unwrap(), CoordOutboxStatus::default());
    }

    #[test]
    fn the_cache_answers_by_exact_params_and_stays_bounded() {
        let (_dir, mut db) = open();
        assert_eq!(db.cache_get("m", "state.get", "{\"key\":\"a\"}").unwrap(), None);
        assert!(db.cache_put("m", "state.get", "{\"key\":\"a\"}", &json!({"value": 1}), 100).unwrap());
        assert!(db.cache_put("m", "state.get", "{\"key\":\"a\"}", &json!({"value": 2}), 200).unwrap());
        assert_eq!(db.cache_get("m", "state.get", "{\"key\":\"a\"}").unwrap(), Some((json!({"value": 2}), 200)));
        assert_eq!(db.cache_get("m", "state.get", "{\"key\":\"b\"}").unwrap(), None);
        assert_eq!(db.cache_get("m", "state.list", "{\"key\":\"a\"}").unwrap(), None);
        let huge = json!({ "v": "x".repeat(CACHE_ENTRY_BYTES) });
        assert!(!db.cache_put("m", "state.get", "{\"key\":\"huge\"}", &huge, 300).unwrap());
        for i in 0..CACHE_ENTRIES_PER_MESH + 5 {
            db.cache_put("m", "state.get", &format!("{{\"key\":\"n{i}\"}}"), &json!(i), 1_000 + i as u64).unwrap();
        }
        db.cache_put("other", "state.get", "{}", &json!(0), 1).unwrap();
        let n: i64 =
            db.conn().query_row("SELECT COUNT(*) FROM coord_cache WHERE mesh_id = 'm'", [], |r| r.get(0)).unwrap();
        assert_eq!(n as usize, CACHE_ENTRIES_PER_MESH);
        // The oldest went first; the newest and the other mesh stay.
        assert_eq!(db.cache_get("m", "state.get", "{\"key\":\"a\"}").unwrap(), None);
        assert_eq!(db.cache_get("m", "state.get", "{\"key\":\"n4\"}").unwrap(), None);
        assert!(db.cache_get("m", "state.get", "{\"key\":\"n5\"}").unwrap().is_some());
        assert!(db.cache_get("other", "state.get", "{}").unwrap().is_some());
    }
}
