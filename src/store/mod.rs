//! The local data store (`data.db`, SQLite in WAL mode, 0600): the inbox, deduplicated by message id so a
//! redelivered message is stored exactly once.

use std::path::{Path, PathBuf};

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
    pub msg_id: String,
    /// Sender session key (hex).
    pub from_key: String,
    pub from_name: String,
    /// Target as the sender wrote it (`alice`, `@group`, `*`).
    pub to_spec: String,
    pub priority: String,
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
}

/// Which rows `Inbox::list` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    All,
    Unread,
    /// Rows inserted after this `seq`.
    After(i64),
}

const SCHEMA_VERSION: i64 = 1;

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

/// The inbox table of `data.db`. One value per connection; move it into `spawn_blocking` to use it from async code.
pub(crate) struct Inbox {
    conn: Connection,
}

impl Inbox {
    /// Opens (creating if needed, mode 0600) the database and migrates it.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew(version));
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(SCHEMA_V1)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        Ok(Self { conn })
    }

    /// Stores messages in one transaction. Returns, per input, whether it was new (`false` = already present,
    /// which is still safe to acknowledge).
    pub(crate) fn insert_all(&mut self, messages: &[NewMessage]) -> Result<Vec<bool>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut inserted = Vec::with_capacity(messages.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO inbox (mesh_id, msg_id, from_key, from_name, to_spec, priority, sent_at_ms,
                 received_at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for m in messages {
                let n = stmt.execute(params![
                    m.mesh_id,
                    m.msg_id,
                    m.from_key,
                    m.from_name,
                    m.to_spec,
                    m.priority,
                    to_sql(m.sent_at_ms),
                    to_sql(m.received_at_ms),
                    m.body
                ])?;
                inserted.push(n == 1);
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// Messages of one mesh in arrival order.
    pub(crate) fn list(&self, mesh_id: &str, filter: Filter) -> Result<Vec<StoredMessage>, StoreError> {
        let (clause, after) = match filter {
            Filter::All => ("", 0),
            Filter::Unread => ("AND read_at_ms IS NULL", 0),
            Filter::After(seq) => ("AND seq > ?2", seq),
        };
        let sql = format!(
            "SELECT seq, mesh_id, msg_id, from_key, from_name, to_spec, priority, sent_at_ms, received_at_ms, body,
             read_at_ms FROM inbox WHERE mesh_id = ?1 {clause} ORDER BY seq"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<StoredMessage> {
            Ok(StoredMessage {
                seq: r.get(0)?,
                msg: NewMessage {
                    mesh_id: r.get(1)?,
                    msg_id: r.get(2)?,
                    from_key: r.get(3)?,
                    from_name: r.get(4)?,
                    to_spec: r.get(5)?,
                    priority: r.get(6)?,
                    sent_at_ms: from_sql(r.get(7)?),
                    received_at_ms: from_sql(r.get(8)?),
                    body: r.get(9)?,
                },
                read_at_ms: r.get::<_, Option<i64>>(10)?.map(from_sql),
            })
        };
        let rows = if matches!(filter, Filter::After(_)) {
            stmt.query_map(params![mesh_id, after], map)?.collect::<Result<Vec<_>, _>>()?
        } else {
            stmt.query_map(params![mesh_id], map)?.collect::<Result<Vec<_>, _>>()?
        };
        Ok(rows)
    }

    /// The highest `seq` stored for a mesh (0 when empty), the starting point for following new rows.
    pub(crate) fn last_seq(&self, mesh_id: &str) -> Result<i64, StoreError> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM inbox WHERE mesh_id = ?1", params![mesh_id], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(seq.unwrap_or(0))
    }

    /// Marks rows read (rows already read keep their first read time).
    pub(crate) fn mark_read(&mut self, seqs: &[i64], now_ms: u64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("UPDATE inbox SET read_at_ms = ?1 WHERE seq = ?2 AND read_at_ms IS NULL")?;
            for seq in seqs {
                stmt.execute(params![to_sql(now_ms), seq])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes every message of a mesh (when leaving it).
    pub(crate) fn forget_mesh(&mut self, mesh_id: &str) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM inbox WHERE mesh_id = ?1", params![mesh_id])?)
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
            msg_id: id.into(),
            from_key: from.into(),
            from_name: "alice".into(),
            to_spec: "bob".into(),
            priority: "next".into(),
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
        let all = inbox.list("m", Filter::All).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].msg, msg("1", "a"));
        assert!(inbox.list("other", Filter::All).unwrap().is_empty());
    }

    #[test]
    fn unread_filter_and_follow_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let mut inbox = Inbox::open(&dir.path().join("data.db")).unwrap();
        assert_eq!(inbox.last_seq("m").unwrap(), 0);
        inbox.insert_all(&[msg("1", "a"), msg("2", "a")]).unwrap();
        let all = inbox.list("m", Filter::All).unwrap();
        inbox.mark_read(&[all[0].seq], 99).unwrap();
        let unread = inbox.list("m", Filter::Unread).unwrap();
        assert_eq!(unread.len(), 1);
        assert_eq!(unread[0].msg.msg_id, "2");
        let cursor = inbox.last_seq("m").unwrap();
        inbox.insert_all(&[msg("3", "a")]).unwrap();
        let newer = inbox.list("m", Filter::After(cursor)).unwrap();
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0].msg.msg_id, "3");
        assert_eq!(inbox.list("m", Filter::All).unwrap()[0].read_at_ms, Some(99));
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
}
