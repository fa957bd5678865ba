//! The schedules table: create, list, cancel, and firing what is due (message, deliveries and the next due time in
//! the caller's transaction).

use rusqlite::{Connection, OptionalExtension, params};

use super::Cron;
use crate::broker::coord::{part_version, set_part_version};
use crate::broker::db::StoreError;
use crate::broker::store::{NewMessage, insert_message};
use crate::proto::{
    CoordId, ErrorCode, KeyHex, MAX_ACTIVE_PER_MEMBER, MeshId, MessageId, Schedule, ScheduleKind, SendParams, fire_id,
};

/// Fires more than this far behind are coalesced even while the broker runs (a machine that slept).
const CATCH_UP_MS: u64 = 3_600_000;

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if part_version(c, "schedule")? < 1 {
        c.execute_batch(
            "SAVEPOINT schedule_v1;
            CREATE TABLE schedules(mesh_id TEXT NOT NULL, id TEXT NOT NULL, creator TEXT NOT NULL,
                creator_member TEXT NOT NULL, to_spec TEXT NOT NULL, msg_id TEXT NOT NULL, send TEXT NOT NULL,
                kind TEXT NOT NULL, at_ms INTEGER, cron TEXT, utc_offset_min INTEGER NOT NULL, next_due_ms INTEGER,
                fired INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 1, created_at_ms INTEGER NOT NULL,
                PRIMARY KEY(mesh_id, id), UNIQUE(mesh_id, creator, msg_id));
            CREATE INDEX schedules_due ON schedules(active, next_due_ms);
            CREATE INDEX schedules_member ON schedules(mesh_id, creator_member, active);",
        )?;
        set_part_version(c, "schedule", 1)?;
        c.execute_batch("RELEASE schedule_v1;")?;
    }
    Ok(())
}

/// When a new schedule fires: once at a time, or by a cron rule (with its first due time).
pub(super) enum When {
    Once(u64),
    Cron(String, u64),
}

pub(super) struct NewSchedule {
    pub mesh: MeshId,
    pub creator: KeyHex,
    pub member: KeyHex,
    pub to: String,
    pub message_id: MessageId,
    pub send: String,
    pub recipients: Vec<KeyHex>,
    pub when: When,
    pub utc_offset_min: i32,
    pub now: u64,
}

fn reject(msg: impl Into<String>) -> StoreError {
    StoreError::Rejected(ErrorCode::InvalidParams, msg.into())
}

const COLS: &str = "s.id, s.to_spec, s.kind, s.at_ms, s.cron, s.utc_offset_min, s.next_due_ms, s.fired, s.active,
    s.msg_id, s.creator, COALESCE(p.name, '(left)'), s.created_at_ms";
const FROM: &str = "FROM schedules s LEFT JOIN peers p ON p.mesh_id = s.mesh_id AND p.session_key = s.creator";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Schedule>> {
    let kind: String = r.get(2)?;
    let msg: String = r.get(9)?;
    let kind = if kind == "cron" { ScheduleKind::Cron } else { ScheduleKind::Once };
    let Ok(message_id) = MessageId::try_from(msg) else { return Ok(None) };
    Ok(Some(Schedule {
        id: r.get(0)?,
        to: r.get(1)?,
        kind,
        at_ms: r.get(3)?,
        cron: r.get(4)?,
        utc_offset_min: r.get(5)?,
        next_due_ms: r.get(6)?,
        fired: r.get(7)?,
        active: r.get::<_, i64>(8)? != 0,
        message_id,
        creator: r.get(10)?,
        creator_name: r.get(11)?,
        created_at_ms: r.get(12)?,
    }))
}

fn by_id(c: &Connection, mesh: &MeshId, id: &str) -> Result<Option<Schedule>, StoreError> {
    let sql = format!("SELECT {COLS} {FROM} WHERE s.mesh_id = ?1 AND s.id = ?2");
    Ok(c.query_row(&sql, params![mesh.as_str(), id], from_row).optional()?.flatten())
}

/// Stores a schedule (a retry with the same sealed message id answers the schedule it made).
pub(super) fn create(c: &Connection, s: &NewSchedule) -> Result<Schedule, StoreError> {
    let existing: Option<String> = c
        .query_row(
            "SELECT id FROM schedules WHERE mesh_id = ?1 AND creator = ?2 AND msg_id = ?3",
            params![s.mesh.as_str(), s.creator.to_string(), s.message_id.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return by_id(c, &s.mesh, &id)?.ok_or_else(|| reject("the schedule vanished"));
    }
    let active: u64 = c.query_row(
        "SELECT count(*) FROM schedules WHERE mesh_id = ?1 AND creator_member = ?2 AND active = 1",
        params![s.mesh.as_str(), s.member.to_string()],
        |r| r.get(0),
    )?;
    if active >= MAX_ACTIVE_PER_MEMBER {
        return Err(reject(format!(
            "a member may hold {MAX_ACTIVE_PER_MEMBER} active schedules; cancel one with schedule.cancel first"
        )));
    }
    let mut known = c.prepare_cached("SELECT 1 FROM peers WHERE mesh_id = ?1 AND session_key = ?2")?;
    for r in &s.recipients {
        if known.query_row(params![s.mesh.as_str(), r.to_string()], |_| Ok(())).optional()?.is_none() {
            return Err(reject(format!("unknown recipient {r}")));
        }
    }
    let id = CoordId::generate();
    let (kind, at, cron, due) = match &s.when {
        When::Once(at) => (ScheduleKind::Once, Some(*at), None, *at),
        When::Cron(expr, first) => (ScheduleKind::Cron, None, Some(expr.as_str()), *first),
    };
    c.execute(
        "INSERT INTO schedules(mesh_id, id, creator, creator_member, to_spec, msg_id, send, kind, at_ms, cron,
            utc_offset_min, next_due_ms, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            s.mesh.as_str(),
            id.as_str(),
            s.creator.to_string(),
            s.member.to_string(),
            s.to,
            s.message_id.as_str(),
            s.send,
            kind.as_str(),
            at,
            cron,
            s.utc_offset_min,
            due,
            s.now
        ],
    )?;
    by_id(c, &s.mesh, id.as_str())?.ok_or_else(|| reject("the schedule vanished"))
}

/// The schedules of `member` (every schedule of the mesh when `None`), newest first.
pub(super) fn list(c: &Connection, mesh: &MeshId, member: Option<&KeyHex>) -> Result<Vec<Schedule>, StoreError> {
    let sql = format!(
        "SELECT {COLS} {FROM} WHERE s.mesh_id = ?1 AND (?2 IS NULL OR s.creator_member = ?2)
         ORDER BY s.created_at_ms DESC, s.id LIMIT 1000"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params![mesh.as_str(), member.map(ToString::to_string)], from_row)?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(s) = r? {
            out.push(s);
        }
    }
    Ok(out)
}

/// Cancels a schedule of `member` (any, for an admin). `Ok(false)` when it had already ended.
pub(super) fn cancel(
    c: &Connection,
    mesh: &MeshId,
    id: &str,
    member: &KeyHex,
    admin: bool,
) -> Result<bool, StoreError> {
    let row: Option<(String, i64)> = c
        .query_row(
            "SELECT creator_member, active FROM schedules WHERE mesh_id = ?1 AND id = ?2",
            params![mesh.as_str(), id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((owner, active)) = row else {
        return Err(StoreError::Rejected(ErrorCode::NotFound, format!("no schedule {id} in this mesh")));
    };
    if owner != member.to_string() && !admin {
        return Err(StoreError::Rejected(
            ErrorCode::Forbidden,
            "only the schedule's creator or an admin can cancel it".into(),
        ));
    }
    if active == 0 {
        return Ok(false);
    }
    c.execute(
        "UPDATE schedules SET active = 0, next_due_ms = NULL WHERE mesh_id = ?1 AND id = ?2",
        params![mesh.as_str(), id],
    )?;
    Ok(true)
}

/// What one pass of the loop did.
pub(super) struct Fired {
    /// Recipients that got a new delivery.
    pub woke: Vec<(MeshId, KeyHex)>,
    /// The earliest due time still ahead.
    pub next_due: Option<u64>,
    /// The batch was full: more may be due now.
    pub more: bool,
}

struct Due {
    mesh: String,
    id: String,
    creator: String,
    member: String,
    send: String,
    cron: Option<String>,
    offset: i32,
    due: u64,
}

/// Fires up to `limit` schedules due at `now`. `startup`: the first pass after a start, which fires each missed
/// schedule once and moves it past `now`. `ttls` = (default, max) time to live of a message in ms.
pub(super) fn fire_due(
    c: &Connection,
    now: u64,
    startup: bool,
    limit: usize,
    ttls: (u64, u64),
) -> Result<Fired, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT mesh_id, id, creator, creator_member, send, cron, utc_offset_min, next_due_ms FROM schedules
         WHERE active = 1 AND next_due_ms <= ?1 ORDER BY next_due_ms LIMIT ?2",
    )?;
    let due: Vec<Due> = st
        .query_map(params![now, limit as i64], |r| {
            Ok(Due {
                mesh: r.get(0)?,
                id: r.get(1)?,
                creator: r.get(2)?,
                member: r.get(3)?,
                send: r.get(4)?,
                cron: r.get(5)?,
                offset: r.get(6)?,
                due: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let more = due.len() >= limit;
    let mut woke = Vec::new();
    for d in &due {
        woke.extend(fire_one(c, d, now, startup, ttls)?);
    }
    let next_due: Option<u64> =
        c.query_row("SELECT min(next_due_ms) FROM schedules WHERE active = 1", [], |r| r.get(0))?;
    Ok(Fired { woke, next_due, more })
}

/// Fires one schedule: the message under the fire's derived id (idempotent: a fire that was already stored is not
/// stored again), then its next due time, or its end.
fn fire_one(
    c: &Connection,
    d: &Due,
    now: u64,
    startup: bool,
    ttls: (u64, u64),
) -> Result<Vec<(MeshId, KeyHex)>, StoreError> {
    let parsed = (
        MeshId::try_from(d.mesh.clone()),
        d.creator.parse::<KeyHex>(),
        d.member.parse::<KeyHex>(),
        serde_json::from_str::<SendParams>(&d.send),
    );
    let (Ok(mesh), Ok(sender), Ok(member), Ok(send)) = parsed else {
        tracing::warn!(schedule = %d.id, "a stored schedule does not parse; ending it");
        end(c, &d.mesh, &d.id, false)?;
        return Ok(Vec::new());
    };
    // A member removed from the mesh takes its schedules with it.
    let member_left = c
        .prepare_cached("SELECT 1 FROM members WHERE mesh_id = ?1 AND member_key = ?2")?
        .query_row(params![d.mesh, d.member], |_| Ok(()))
        .optional()?
        .is_none();
    if member_left {
        end(c, &d.mesh, &d.id, false)?;
        return Ok(Vec::new());
    }
    let mut woke = Vec::new();
    if let Some(id) = fire_id(&send.id, d.due) {
        // Recipients that left the mesh since are skipped (the others still get theirs).
        let mut known = c.prepare_cached("SELECT 1 FROM peers WHERE mesh_id = ?1 AND session_key = ?2")?;
        let mut envelopes = Vec::new();
        for e in send.envelopes {
            if known.query_row(params![mesh.as_str(), e.to.to_string()], |_| Ok(())).optional()?.is_some() {
                envelopes.push((e.to, e.nonce, e.ciphertext));
            }
        }
        if !envelopes.is_empty() {
            let ttl = send.ttl_secs.map_or(ttls.0, |s| s.saturating_mul(1000)).min(ttls.1);
            let msg = NewMessage {
                mesh: &mesh,
                sender: &sender,
                sender_member: &member,
                id: &id,
                to: &send.to,
                priority: send.priority,
                now,
                expires_at: now.saturating_add(ttl),
            };
            let (_, _, _, new) = insert_message(c, &msg, &envelopes)?;
            woke.extend(new.into_iter().map(|k| (mesh.clone(), k)));
        }
    }
    let next = match d.cron.as_deref().map(Cron::parse) {
        None => None,
        Some(Err(_)) => None,
        Some(Ok(rule)) => {
            // While up, every due time fires in turn; after a start (or far behind) the missed ones are one fire.
            let from = if startup || now.saturating_sub(d.due) > CATCH_UP_MS { now } else { d.due };
            rule.next_after(from, d.offset)
        }
    };
    match next {
        Some(next) => {
            c.execute(
                "UPDATE schedules SET fired = fired + 1, next_due_ms = ?3 WHERE mesh_id = ?1 AND id = ?2",
                params![d.mesh, d.id, next],
            )?;
        }
        None => end(c, &d.mesh, &d.id, true)?,
    }
    Ok(woke)
}

fn end(c: &Connection, mesh: &str, id: &str, fired: bool) -> Result<(), StoreError> {
    c.execute(
        "UPDATE schedules SET fired = fired + ?3, active = 0, next_due_ms = NULL WHERE mesh_id = ?1 AND id = ?2",
        params![mesh, id, i64::from(fired)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Envelope, Priority};

    const HOUR: u64 = 3_600_000;
    const MIN: u64 = 60_000;
    // 2026-11-23 17:00 UTC.
    const T: u64 = 1_795_453_200_000;

    fn setup() -> (Connection, MeshId, KeyHex) {
        let c = Connection::open_in_memory().expect("db");
        crate::broker::store::migrate(&c).expect("migrate");
        let mesh = MeshId::generate();
        let key = KeyHex([7; 32]);
        c.execute_batch(&format!(
            "INSERT INTO meshes VALUES ('{mesh}', 'team', '{key}', 0);
             INSERT INTO members(mesh_id, member_key, role, name, joined_at) VALUES ('{mesh}', '{key}', 'owner', 'a', 0);
             INSERT INTO peers(mesh_id, session_key, member_key, name, attest_at, attest_sig, last_seen, created_at)
                 VALUES ('{mesh}', '{key}', '{key}', 'alice', 0, 'sig', 0, 0);"
        ))
        .expect("rows");
        (c, mesh, key)
    }

    fn cron(c: &Connection, mesh: &MeshId, key: KeyHex, expr: &str, first: u64) -> (Schedule, MessageId) {
        let id = MessageId::generate();
        let send = SendParams {
            id: id.clone(),
            to: "self".into(),
            priority: Priority::Next,
            ttl_secs: None,
            envelopes: vec![Envelope { to: key, nonce: "n".into(), ciphertext: "c".into() }],
        };
        let new = NewSchedule {
            mesh: mesh.clone(),
            creator: key,
            member: key,
            to: "self".into(),
            message_id: id.clone(),
            send: serde_json::to_string(&send).expect("json"),
            recipients: vec![key],
            when: When::Cron(expr.into(), first),
            utc_offset_min: 0,
            now: T,
        };
        (create(c, &new).expect("create"), id)
    }

    fn messages(c: &Connection) -> Vec<String> {
        let mut st = c.prepare("SELECT id FROM messages ORDER BY id").expect("sql");
        st.query_map([], |r| r.get(0)).expect("rows").collect::<rusqlite::Result<_>>().expect("ids")
    }

    const TTLS: (u64, u64) = (7 * 24 * HOUR, 30 * 24 * HOUR);

    #[test]
    fn while_up_every_due_time_fires_in_turn_and_a_refire_is_one_message() {
        let (c, mesh, key) = setup();
        let (s, sealed) = cron(&c, &mesh, key, "*/10 * * * *", T + 10 * MIN);
        // Half an hour passes at once while the broker runs: three fires, one per due time, in order.
        let now = T + 30 * MIN + 5;
        let fired = fire_due(&c, now, false, 64, TTLS).expect("fire");
        assert_eq!(fired.woke.len(), 1);
        assert_eq!(fired.next_due, Some(T + 20 * MIN), "the next due time is already due again");
        fire_due(&c, now, false, 64, TTLS).expect("fire");
        let last = fire_due(&c, now, false, 64, TTLS).expect("fire");
        assert_eq!(last.next_due, Some(T + 40 * MIN));
        let want: Vec<String> =
            (1..=3).map(|k| fire_id(&sealed, T + k * 10 * MIN).expect("id").as_str().to_string()).collect();
        assert_eq!(messages(&c), want);
        // A fire whose advance was lost (the crash case) fires again under the same id: still one message.
        c.execute("UPDATE schedules SET next_due_ms = ?1", [T + 30 * MIN]).expect("rewind");
        let again = fire_due(&c, now, false, 64, TTLS).expect("fire");
        assert!(again.woke.is_empty(), "no new delivery");
        assert_eq!(messages(&c).len(), 3);
        assert_eq!(by_id(&c, &mesh, &s.id).expect("read").expect("row").fired, 4);
    }

    #[test]
    fn fires_missed_while_down_are_one_fire_at_start() {
        let (c, mesh, key) = setup();
        let (s, sealed) = cron(&c, &mesh, key, "0 * * * *", T + HOUR);
        let now = T + 5 * HOUR + 30 * 60_000;
        let fired = fire_due(&c, now, true, 64, TTLS).expect("fire");
        assert_eq!(fired.next_due, Some(T + 6 * HOUR), "moved past now");
        assert_eq!(messages(&c), [fire_id(&sealed, T + HOUR).expect("id").as_str().to_string()]);
        let row = by_id(&c, &mesh, &s.id).expect("read").expect("row");
        assert_eq!((row.fired, row.active), (1, true));
        // Cancelled, it never fires again.
        assert!(cancel(&c, &mesh, &s.id, &key, false).expect("cancel"));
        assert_eq!(fire_due(&c, now + 10 * HOUR, false, 64, TTLS).expect("fire").next_due, None);
        assert_eq!(messages(&c).len(), 1);
    }

    #[test]
    fn a_removed_members_schedules_end_without_firing() {
        let (c, mesh, key) = setup();
        let (s, _) = cron(&c, &mesh, key, "0 * * * *", T + HOUR);
        c.execute("DELETE FROM members", []).expect("remove");
        assert_eq!(fire_due(&c, T + 2 * HOUR, false, 64, TTLS).expect("fire").next_due, None);
        assert!(messages(&c).is_empty());
        assert!(!by_id(&c, &mesh, &s.id).expect("read").expect("row").active);
    }
}
