//! The local data store (`data.db`, SQLite in WAL mode, 0600): the inbox, deduplicated by message id so a
//! redelivered message is stored exactly once.

use std::path::{Path, PathBuf};

mod coord;
mod outbox;

pub(crate) use coord::{CoordRow, QueueError};
pub(crate) use outbox::{OutboxRow, OutboxState};

use rusqlite::{Connection, OptionalExtension, params};

/// Store failures. SQLite's own messages are kept for the detail line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("local database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("local database was written by a newer claudemesh (schema {0})")]
    TooNew(i64),
}

/// One received message, as it goes into the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewMessage {
    pub mesh_id: String,
    /// The local session (sanitised Claude Code session id, or `cli`) the message was addressed to.
    pub session: String,
    pub msg_id: String,
    /// Sender session key (hex).
    pub from_key: String,
    pub from_name: String,
    /// Sender member key (hex).
    pub from_member: String,
    /// Target as the sender wrote it (`alice`, `@group`, `*`).
    pub to_spec: String,
    pub priority: String,
    /// `text` today; the sealed body says which.
    pub kind: String,
    pub sent_at_ms: u64,
    pub received_at_ms: u64,
    pub body: String,
}

/// A stored inbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMessage {
    /// Local insertion order (monotonic), used to page and follow.
    pub seq: i64,
    pub msg: NewMessage,
    pub read_at_ms: Option<u64>,
    /// When the message was handed to Claude Code, and by which path (`channel`, `inbox_socket`).
    pub surfaced_at_ms: Option<u64>,
    pub surfaced_via: Option<String>,
}

/// Which rows `Inbox::list` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    All,
    Unread,
    /// Rows inserted after this `seq`.
    After(i64),
    /// Rows not yet handed to Claude Code.
    Unsurfaced,
}

const SCHEMA_VERSION: i64 = 3;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS inbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    mesh_id        TEXT    NOT NULL,
    msg_id         TEXT    NOT NULL,
    from_key       TEXT    NOT NULL,
    from_name      TEXT    NOT NULL,
    to_spec        TEXT    NOT NULL,
    priority       TEXT    NOT NULL,
    sent_at_ms     INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    read_at_ms     INTEGER NULL,
    UNIQUE (mesh_id, from_key, msg_id)
);
CREATE INDEX IF NOT EXISTS inbox_unread ON inbox (mesh_id, read_at_ms, seq);
";

/// v2: the inbox is per local session (one home serves several Claude Code sessions, each its own peer), records
/// surfacing, and the outbox keeps sends until the broker has taken them.
const SCHEMA_V2: &str = "
CREATE TABLE inbox_v2 (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    mesh_id        TEXT    NOT NULL,
    session        TEXT    NOT NULL,
    msg_id         TEXT    NOT NULL,
    from_key       TEXT    NOT NULL,
    from_name      TEXT    NOT NULL,
    from_member    TEXT    NOT NULL DEFAULT '',
    to_spec        TEXT    NOT NULL,
    priority       TEXT    NOT NULL,
    kind           TEXT    NOT NULL DEFAULT 'text',
    sent_at_ms     INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    read_at_ms     INTEGER NULL,
    surfaced_at_ms INTEGER NULL,
    surfaced_via   TEXT    NULL,
    UNIQUE (mesh_id, session, from_key, msg_id)
);
INSERT INTO inbox_v2 (seq, mesh_id, session, msg_id, from_key, from_name, to_spec, priority, sent_at_ms,
    received_at_ms, body, read_at_ms)
    SELECT seq, mesh_id, 'cli', msg_id, from_key, from_name, to_spec, priority, sent_at_ms, received_at_ms, body,
    read_at_ms FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_v2 RENAME TO inbox;
CREATE INDEX inbox_by_session ON inbox (mesh_id, session, seq);
CREATE TABLE outbox (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    mesh_id       TEXT    NOT NULL,
    session       TEXT    NOT NULL,
    msg_id        TEXT    NOT NULL UNIQUE,
    to_spec       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    priority      TEXT    NOT NULL,
    ttl_secs      INTEGER NULL,
    created_at_ms INTEGER NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending',
    detail        TEXT    NULL
);
CREATE INDEX outbox_pending ON outbox (mesh_id, session, state, seq);
";

/// The inbox and outbox tables of `data.db`. One value per connection; move it into `spawn_blocking` to use it
/// from async code.
pub(crate) struct Inbox {
    conn: Connection,
}

const SELECT_ROW: &str = "SELECT seq, mesh_id, session, msg_id, from_key, from_name, from_member, to_spec, priority,
    kind, sent_at_ms, received_at_ms, body, read_at_ms, surfaced_at_ms, surfaced_via FROM inbox";

fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        seq: r.get(0)?,
        msg: NewMessage {
            mesh_id: r.get(1)?,
            session: r.get(2)?,
            msg_id: r.get(3)?,
            from_key: r.get(4)?,
            from_name: r.get(5)?,
            from_member: r.get(6)?,
            to_spec: r.get(7)?,
            priority: r.get(8)?,
            kind: r.get(9)?,
            sent_at_ms: from_sql(r.get(10)?),
            received_at_ms: from_sql(r.get(11)?),
            body: r.get(12)?,
        },
        read_at_ms: r.get::<_, Option<i64>>(13)?.map(from_sql),
        surfaced_at_ms: r.get::<_, Option<i64>>(14)?.map(from_sql),
        surfaced_via: r.get(15)?,
    })
}

impl Inbox {
    /// Opens (creating if needed, mode 0600) the database and migrates it.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL by default (a commit survives a crash of the process); the writes that must survive power loss —
        // an inbox row before its ack, a send before it is reported queued — raise it for their transaction.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints run in the background (`spawn_checkpointer`), not inside a commit on the delivery path, where
        // their fsync put milliseconds on one write in a few hundred. A connection that closes last checkpoints.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(version));
        }
        if version < SCHEMA_VERSION {
            // Two processes may open a fresh database at once: the immediate transaction makes one migrate and the
            // other see the result.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if version < 1 {
                tx.execute_batch(SCHEMA_V1)?;
            }
            if version < 2 {
                tx.execute_batch(SCHEMA_V2)?;
            }
            if version < 3 {
                tx.execute_batch(coord::SCHEMA_V3)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        Ok(Self { conn })
    }

    /// Stores messages in one transaction. Returns, per input, whether it was new (`false` = already present,
    /// which is still safe to acknowledge).
    pub(crate) fn insert_all(&mut self, messages: &[NewMessage]) -> Result<Vec<bool>, StoreError> {
        Ok(self.insert_rows(messages)?.into_iter().map(|seq| seq.is_some()).collect())
    }

    /// Like `insert_all`, returning the new rows' `seq` (`None` for duplicates).
    pub(crate) fn insert_rows(&mut self, messages: &[NewMessage]) -> Result<Vec<Option<i64>>, StoreError> {
        // The caller acknowledges these to the broker after this returns: fsync the commit.
        let _full = Synchronous::full(&self.conn)?;
        let tx = self.conn.unchecked_transaction()?;
        let mut inserted = Vec::with_capacity(messages.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO inbox (mesh_id, session, msg_id, from_key, from_name, from_member, to_spec,
                 priority, kind, sent_at_ms, received_at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                 ?11, ?12)",
            )?;
            for m in messages {
                let n = stmt.execute(params![
                    m.mesh_id,
                    m.session,
                    m.msg_id,
                    m.from_key,
                    m.from_name,
                    m.from_member,
                    m.to_spec,
                    m.priority,
                    m.kind,
                    to_sql(m.sent_at_ms),
                    to_sql(m.received_at_ms),
                    m.body
                ])?;
                inserted.push((n == 1).then(|| tx.last_insert_rowid()));
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// One session's messages of one mesh, in arrival order.
    pub(crate) fn list(&self, mesh_id: &str, session: &str, filter: Filter) -> Result<Vec<StoredMessage>, StoreError> {
        let (clause, after) = match filter {
            Filter::All => ("", 0),
            Filter::Unread => ("AND read_at_ms IS NULL", 0),
            Filter::After(seq) => ("AND seq > ?3", seq),
            Filter::Unsurfaced => ("AND surfaced_at_ms IS NULL AND read_at_ms IS NULL", 0),
        };
        let sql = format!("{SELECT_ROW} WHERE mesh_id = ?1 AND session = ?2 {clause} ORDER BY seq");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = if matches!(filter, Filter::After(_)) {
            stmt.query_map(params![mesh_id, session, after], map_row)?.collect::<Result<Vec<_>, _>>()?
        } else {
            stmt.query_map(params![mesh_id, session], map_row)?.collect::<Result<Vec<_>, _>>()?
        };
        Ok(rows)
    }

    /// The highest `seq` stored for a session of a mesh (0 when empty), the starting point for following new rows.
    pub(crate) fn last_seq(&self, mesh_id: &str, session: &str) -> Result<i64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row(
                "SELECT MAX(seq) FROM inbox WHERE mesh_id = ?1 AND session = ?2",
                params![mesh_id, session],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        Ok(seq.unwrap_or(0))
    }

    /// Marks rows read (rows already read keep their first read time). Returns the message ids newly marked.
    pub(crate) fn mark_read(&mut self, seqs: &[i64], now_ms: u64) -> Result<Vec<String>, StoreError> {
        self.mark(
            seqs,
            "UPDATE inbox SET read_at_ms = ?1 WHERE seq = ?2 AND read_at_ms IS NULL RETURNING msg_id",
            now_ms,
            None,
        )
    }

    /// Marks rows as handed to Claude Code by `via`. Returns the message ids newly marked.
    pub(crate) fn mark_surfaced(&mut self, seqs: &[i64], via: &str, now_ms: u64) -> Result<Vec<String>, StoreError> {
        self.mark(
            seqs,
            "UPDATE inbox SET surfaced_at_ms = ?1, surfaced_via = ?3 WHERE seq = ?2 AND surfaced_at_ms IS NULL
             RETURNING msg_id",
            now_ms,
            Some(via),
        )
    }

    fn mark(&mut self, seqs: &[i64], sql: &str, now_ms: u64, via: Option<&str>) -> Result<Vec<String>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut changed = Vec::new();
        {
            let mut stmt = tx.prepare_cached(sql)?;
            for seq in seqs {
                let id: Option<String> = match via {
                    Some(v) => stmt.query_row(params![to_sql(now_ms), seq, v], |r| r.get(0)).optional()?,
                    None => stmt.query_row(params![to_sql(now_ms), seq], |r| r.get(0)).optional()?,
                };
                changed.extend(id);
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// The `seq`s of a session's rows with these message ids.
    pub(crate) fn seqs_of(&self, mesh_id: &str, session: &str, msg_ids: &[String]) -> Result<Vec<i64>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT seq FROM inbox WHERE mesh_id = ?1 AND session = ?2 AND msg_id = ?3")?;
        let mut out = Vec::new();
        for id in msg_ids {
            let rows = stmt.query_map(params![mesh_id, session, id], |r| r.get::<_, i64>(0))?;
            for seq in rows {
                out.push(seq?);
            }
        }
        Ok(out)
    }

    /// A session's rows surfaced at or before `before_ms` and not yet read.
    pub(crate) fn surfaced_unread(&self, mesh_id: &str, session: &str, before_ms: u64) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq FROM inbox WHERE mesh_id = ?1 AND session = ?2 AND read_at_ms IS NULL
             AND surfaced_at_ms IS NOT NULL AND surfaced_at_ms <= ?3 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![mesh_id, session, to_sql(before_ms)], |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Deletes every message of a mesh, received and queued (when leaving it).
    pub(crate) fn forget_mesh(&mut self, mesh_id: &str) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute("DELETE FROM inbox WHERE mesh_id = ?1", params![mesh_id])?;
        tx.execute("DELETE FROM outbox WHERE mesh_id = ?1", params![mesh_id])?;
        tx.commit()?;
        self.coord_forget_mesh(mesh_id)?;
        Ok(n)
    }

    pub(crate) fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Raises `synchronous` to FULL for as long as it lives (one transaction), then lowers it to NORMAL again.
pub(crate) struct Synchronous<'c> {
    conn: &'c Connection,
}

impl<'c> Synchronous<'c> {
    pub(crate) fn full(conn: &'c Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(Self { conn })
    }
}

impl Drop for Synchronous<'_> {
    fn drop(&mut self) {
        let _ = self.conn.pragma_update(None, "synchronous", "NORMAL");
    }
}

/// A background thread that checkpoints `data.db`'s WAL every `every` on its own connection (a passive
/// checkpoint never blocks writers). Dropping it stops the thread.
pub(crate) struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(crate) fn spawn_checkpointer(path: &Path, every: std::time::Duration) -> Result<Checkpointer, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    let (stop, rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("data-db-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "checkpoint skipped");
                }
            }
        })
        .map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
    Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn to_sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_sql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// SQLite creates its `-wal` and `-shm` files with the database file's mode, so making the main file 0600 before
/// SQLite opens it keeps all three private.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path).map_err(io)?;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode != 0o600 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    #[cfg(not(unix))]
    options.open(path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, from: &str) -> NewMessage {
        NewMessage {
            mesh_id: "m".into(),
            session: "cli".into(),
            msg_id: id.into(),
            from_key: from.into(),
            from_name: "alice".into(),
            from_member: "aa".into(),
            to_spec: "bob".into(),
            priority: "next".into(),
            kind: "text".into(),
            sent_at_ms: 10,
            received_at_ms: 20,
            body: "hi".into(),
        }
    }

    #[test]
    fn duplicates_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::open(&dir.path().join("data.db")).unwrap();
        assert_eq!(inbox.insert_all(&[msg("1", "a"), msg("1", "a"), msg("1", "b")]).unwrap(), vec![true, false, true]);
        assert_eq!(inbox.insert_all(&[msg("1", "a")]).unwrap(), vec![false]);
        let all = inbox.list("m", "cli", Filter::All).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].msg, msg("1", "a"));
        assert!(inbox.list("other", "cli", Filter::All).unwrap().is_empty());
    }

    #[test]
    fn unread_filter_and_follow_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::open(&dir.path().join("data.db")).unwrap();
        assert_eq!(inbox.last_seq("m", "cli").unwrap(), 0);
        inbox.insert_all(&[msg("1", "a"), msg("2", "a")]).unwrap();
        let all = inbox.list("m", "cli", Filter::All).unwrap();
        inbox.mark_read(&[all[0].seq], 99).unwrap();
        let unread = inbox.list("m", "cli", Filter::Unread).unwrap();
        assert_eq!(unread.len(), 1);
        assert_eq!(unread[0].msg.msg_id, "2");
        let cursor = inbox.last_seq("m", "cli").unwrap();
        inbox.insert_all(&[msg("3", "a")]).unwrap();
        let newer = inbox.list("m", "cli", Filter::After(cursor)).unwrap();
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0].msg.msg_id, "3");
        assert_eq!(inbox.list("m", "cli", Filter::All).unwrap()[0].read_at_ms, Some(99));
        assert_eq!(inbox.forget_mesh("m").unwrap(), 3);
    }

    #[cfg(unix)]
    #[test]
    fn database_is_private_and_reopens() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        drop(Inbox::open(&path).unwrap());
        let mut inbox = Inbox::open(&path).unwrap();
        inbox.insert_all(&[msg("1", "a")]).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn sessions_have_their_own_inbox_and_surfacing_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::open(&dir.path().join("data.db")).unwrap();
        let mut other = msg("1", "a");
        other.session = "s1".into();
        // The same group message reaches two sessions of one home: stored once for each.
        assert_eq!(inbox.insert_all(&[msg("1", "a"), other]).unwrap(), vec![true, true]);
        let mine = inbox.list("m", "s1", Filter::Unsurfaced).unwrap();
        assert_eq!(mine.len(), 1);
        let seqs = vec![mine[0].seq];
        assert_eq!(inbox.mark_surfaced(&seqs, "channel", 50).unwrap(), vec!["1".to_string()]);
        assert!(inbox.mark_surfaced(&seqs, "channel", 60).unwrap().is_empty());
        assert!(inbox.list("m", "s1", Filter::Unsurfaced).unwrap().is_empty());
        assert_eq!(inbox.list("m", "cli", Filter::Unsurfaced).unwrap().len(), 1);
        let row = &inbox.list("m", "s1", Filter::All).unwrap()[0];
        assert_eq!((row.surfaced_at_ms, row.surfaced_via.as_deref()), (Some(50), Some("channel")));
        assert_eq!(inbox.surfaced_unread("m", "s1", 49).unwrap(), Vec::<i64>::new());
        assert_eq!(inbox.surfaced_unread("m", "s1", 50).unwrap(), seqs);
        assert_eq!(inbox.seqs_of("m", "s1", &["1".to_string()]).unwrap(), seqs);
    }

    #[test]
    fn a_version_1_database_migrates_with_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA_V1).unwrap();
            c.execute(
                "INSERT INTO inbox (mesh_id, msg_id, from_key, from_name, to_spec, priority, sent_at_ms,
                 received_at_ms, body) VALUES ('m', 'old', 'k', 'alice', 'bob', 'next', 1, 2, 'kept')",
                [],
            )
            .unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
        }
        let inbox = Inbox::open(&path).unwrap();
        let rows = inbox.list("m", "cli", Filter::All).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].msg.msg_id.as_str(), rows[0].msg.body.as_str()), ("old", "kept"));
    }
}
