//! Per-mesh Lamport clock on the broker: every shared write is stamped here, and conflicting writes are ordered
//! by (lamport, writer) — the rule in docs/coordination.md "Offline writes and conflicts".

use rusqlite::{Connection, OptionalExtension, params};

use crate::broker::db::StoreError;
use crate::proto::{ErrorCode, MAX_LAMPORT_LEAD, MeshId};

/// The mesh's clock: the largest stamp any write in it carried (0 before the first write).
pub(crate) fn current(c: &Connection, mesh: &MeshId) -> Result<u64, StoreError> {
    let v: Option<i64> =
        c.query_row("SELECT lamport FROM mesh_lamport WHERE mesh_id = ?1", [mesh.as_str()], |r| r.get(0)).optional()?;
    Ok(v.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
}

/// Stamps one write. A live write (`given` = None) gets the mesh clock + 1, so it orders after everything the
/// broker has seen; a queued offline write keeps the stamp its daemon gave it (refused when it runs more than
/// `MAX_LAMPORT_LEAD` ahead of the mesh). The mesh clock then moves to at least the stamp.
pub(crate) fn stamp(c: &Connection, mesh: &MeshId, given: Option<u64>) -> Result<u64, StoreError> {
    let now = current(c, mesh)?;
    let l = match given {
        None => now.saturating_add(1),
        Some(0) => return Err(StoreError::Rejected(ErrorCode::InvalidParams, "lamport starts at 1".into())),
        Some(l) if l > now.saturating_add(MAX_LAMPORT_LEAD) => {
            return Err(StoreError::Rejected(
                ErrorCode::InvalidParams,
                format!("lamport {l} runs more than {MAX_LAMPORT_LEAD} ahead of the mesh clock {now}"),
            ));
        }
        Some(l) => l,
    };
    let stored = i64::try_from(l.max(now)).unwrap_or(i64::MAX);
    c.execute(
        "INSERT INTO mesh_lamport(mesh_id, lamport) VALUES (?1, ?2)
         ON CONFLICT(mesh_id) DO UPDATE SET lamport = max(lamport, ?2)",
        params![mesh.as_str(), stored],
    )?;
    Ok(l)
}

/// True when the write stamped `(lamport, writer)` wins over the one stamped `(other_lamport, other_writer)`:
/// the larger Lamport stamp, and on a tie the larger writer id (hex session key, compared as text).
pub(crate) fn wins(lamport: u64, writer: &str, other_lamport: u64, other_writer: &str) -> bool {
    (lamport, writer) > (other_lamport, other_writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("db");
        c.execute_batch("CREATE TABLE mesh_lamport(mesh_id TEXT PRIMARY KEY, lamport INTEGER NOT NULL);").expect("t");
        c
    }

    #[test]
    fn live_writes_move_the_clock_and_queued_ones_keep_their_stamp() {
        let c = db();
        let m = MeshId::generate();
        assert_eq!(stamp(&c, &m, None).ok(), Some(1));
        assert_eq!(stamp(&c, &m, None).ok(), Some(2));
        assert_eq!(stamp(&c, &m, Some(10)).ok(), Some(10));
        assert_eq!(stamp(&c, &m, Some(5)).ok(), Some(5), "an older queued write keeps its stamp");
        assert_eq!(current(&c, &m).ok(), Some(10));
        assert_eq!(stamp(&c, &m, None).ok(), Some(11));
        assert!(stamp(&c, &m, Some(0)).is_err());
        assert!(stamp(&c, &m, Some(11 + MAX_LAMPORT_LEAD + 1)).is_err());
    }

    #[test]
    fn ties_break_on_the_writer() {
        assert!(wins(2, "aa", 1, "ff"));
        assert!(wins(2, "bb", 2, "aa"));
        assert!(!wins(2, "aa", 2, "bb"));
        assert!(!wins(2, "aa", 2, "aa"), "a write does not win over itself");
    }
}
