//! The outbox: sends accepted locally and kept, in order, until the broker has taken them (or refused them).

use rusqlite::{OptionalExtension, params};

use super::{Inbox, StoreError, Synchronous, from_sql, to_sql};

/// One queued send, as the verb asked for it (the recipients are resolved when it is sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboxRow {
    pub mesh_id: String,
    pub session: String,
    pub msg_id: String,
    pub to_spec: String,
    pub body: String,
    pub priority: String,
    pub ttl_secs: Option<u64>,
    pub created_at_ms: u64,
    /// The sealed body's kind: `text`, or `task` (a task-completed notice).
    pub kind: String,
}

/// Where a queued send stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutboxState {
    Pending,
    /// The broker refused it (or its target named nobody); `detail` says why.
    Failed {
        detail: String,
    },
}

impl Inbox {
    /// Queues a send (idempotent on the message id).
    pub(crate) fn queue(&mut self, row: &OutboxRow) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO outbox (mesh_id, session, msg_id, to_spec, body, priority, ttl_secs, created_at_ms,
             kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                row.mesh_id,
                row.session,
                row.msg_id,
                row.to_spec,
                row.body,
                row.priority,
                row.ttl_secs.map(to_sql),
                to_sql(row.created_at_ms),
                row.kind
            ],
        )?;
        Ok(())
    }

    /// Makes a queued send survive power loss (it was written without an fsync, which is enough while the broker
    /// takes it at once; a send reported `queued` must not vanish).
    pub(crate) fn make_durable(&mut self, msg_id: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        let _full = Synchronous::full(conn)?;
        conn.execute("UPDATE outbox SET state = state WHERE msg_id = ?1", params![msg_id])?;
        Ok(())
    }

    /// A session's pending sends of one mesh, oldest first.
    pub(crate) fn pending(&mut self, mesh_id: &str, session: &str) -> Result<Vec<OutboxRow>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT mesh_id, session, msg_id, to_spec, body, priority, ttl_secs, created_at_ms, kind FROM outbox
             WHERE mesh_id = ?1 AND session = ?2 AND state = 'pending' ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![mesh_id, session], |r| {
            Ok(OutboxRow {
                mesh_id: r.get(0)?,
                session: r.get(1)?,
                msg_id: r.get(2)?,
                to_spec: r.get(3)?,
                body: r.get(4)?,
                priority: r.get(5)?,
                ttl_secs: r.get::<_, Option<i64>>(6)?.map(from_sql),
                created_at_ms: from_sql(r.get(7)?),
                kind: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The broker took the send: it leaves the outbox.
    pub(crate) fn sent(&mut self, msg_id: &str) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM outbox WHERE msg_id = ?1", params![msg_id])?;
        Ok(())
    }

    /// The send can never go out; it stays, marked, so `msg-status` can say why.
    pub(crate) fn failed(&mut self, msg_id: &str, detail: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("UPDATE outbox SET state = 'failed', detail = ?2 WHERE msg_id = ?1", params![msg_id, detail])?;
        Ok(())
    }

    /// Whether a message id is still in the outbox, and how it stands.
    pub(crate) fn outbox_state(&mut self, msg_id: &str) -> Result<Option<OutboxState>, StoreError> {
        let row: Option<(String, Option<String>)> = self
            .conn()
            .query_row("SELECT state, detail FROM outbox WHERE msg_id = ?1", params![msg_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.map(|(state, detail)| match state.as_str() {
            "pending" => OutboxState::Pending,
            _ => OutboxState::Failed { detail: detail.unwrap_or_default() },
        }))
    }

    /// Every (mesh id, session) with sends waiting, so a daemon that starts can drain them without waiting for
    /// the session to come back.
    pub(crate) fn pending_sessions(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT DISTINCT mesh_id, session FROM outbox WHERE state = 'pending' ORDER BY mesh_id, session",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// How many sends wait, over every mesh and session.
    pub(crate) fn pending_count(&mut self) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row("SELECT COUNT(*) FROM outbox WHERE state = 'pending'", [], |r| r.get(0))?;
        Ok(from_sql(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> OutboxRow {
        OutboxRow {
            mesh_id: "m".into(),
            session: "cli".into(),
            msg_id: id.into(),
            to_spec: "bob".into(),
            body: format!("body {id}"),
            priority: "next".into(),
            ttl_secs: None,
            created_at_ms: 1,
            kind: "text".into(),
        }
    }

    #[test]
    fn the_outbox_keeps_order_and_forgets_what_was_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Inbox::open(&dir.path().join("data.db")).unwrap();
        for id in ["1", "2", "3", "2"] {
            db.queue(&row(id)).unwrap();
        }
        let ids: Vec<String> = db.pending("m", "cli").unwrap().into_iter().map(|r| r.msg_id).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert!(db.pending("m", "other").unwrap().is_empty());
        db.sent("1").unwrap();
        db.failed("2", "no peer named bob").unwrap();
        assert_eq!(db.outbox_state("1").unwrap(), None);
        assert_eq!(db.outbox_state("2").unwrap(), Some(OutboxState::Failed { detail: "no peer named bob".into() }));
        assert_eq!(db.outbox_state("3").unwrap(), Some(OutboxState::Pending));
        assert_eq!(db.pending_count().unwrap(), 1);
        let mut other = row("4");
        other.session = "claude-1".into();
        db.queue(&other).unwrap();
        assert_eq!(
            db.pending_sessions().unwrap(),
            [("m".to_string(), "claude-1".to_string()), ("m".to_string(), "cli".to_string())]
        );
        db.sent("4").unwrap();
        // Reopening keeps what is queued.
        drop(db);
        let mut db = Inbox::open(&dir.path().join("data.db")).unwrap();
        assert_eq!(db.pending("m", "cli").unwrap().len(), 1);
    }
}
