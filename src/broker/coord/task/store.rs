//! Task rows in the broker's SQLite: every function runs inside one writer (or reader) transaction, so a claim's
//! check and its update are one atomic step.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use crate::broker::coord::lamport;
use crate::broker::db::StoreError;
use crate::proto::{
    CoordId, ErrorCode, KeyHex, MeshId, RpcError, TASK_MAX_ACTIVE_PER_MESH, Task, TaskCreateParams, TaskListParams,
    TaskState,
};

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if crate::broker::coord::part_version(c, "tasks")? < 1 {
        c.execute_batch(
            "BEGIN;
            CREATE TABLE tasks(mesh_id TEXT NOT NULL, id TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
                tags TEXT NOT NULL, deps TEXT NOT NULL, state TEXT NOT NULL, creator TEXT NOT NULL,
                creator_name TEXT NOT NULL, claimed_by TEXT, claimed_by_name TEXT, lease_expires_at_ms INTEGER,
                result TEXT, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,
                lamport INTEGER NOT NULL, version INTEGER NOT NULL, PRIMARY KEY(mesh_id, id));
            CREATE INDEX tasks_by_state ON tasks(mesh_id, state, created_at_ms);
            CREATE INDEX tasks_claimed ON tasks(state, mesh_id) WHERE state = 'claimed';",
        )?;
        crate::broker::coord::set_part_version(c, "tasks", 1)?;
        c.execute_batch("COMMIT;")?;
    }
    Ok(())
}

const COLS: &str = "id, title, body, tags, deps, state, creator, creator_name, claimed_by, claimed_by_name, \
                    lease_expires_at_ms, result, created_at_ms, updated_at_ms, lamport, version";

/// Why a task write did not apply: the store failed, or the request was refused (with the `data` the caller needs
/// to retry, which `StoreError::Rejected` cannot carry).
#[derive(Debug)]
pub(super) enum Refused {
    Store(StoreError),
    Rpc(RpcError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<rusqlite::Error> for Refused {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// A refusal rides out of the writer job as a value (so nothing rolls back that was not written); a store
/// failure stays an error.
pub(super) fn settle<T>(r: Result<T, Refused>) -> Result<Result<T, RpcError>, StoreError> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(Refused::Rpc(e)) => Ok(Err(e)),
        Err(Refused::Store(StoreError::Rejected(code, msg))) => Ok(Err(RpcError::new(code, msg))),
        Err(Refused::Store(e)) => Err(e),
    }
}

fn rejected(code: ErrorCode, msg: impl Into<String>) -> Refused {
    Refused::Rpc(RpcError::new(code, msg))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("a stored task has an unreadable {what}"))
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A row as stored: text columns not parsed yet.
struct Stored {
    id: String,
    title: String,
    body: String,
    tags: String,
    deps: String,
    state: String,
    creator: String,
    creator_name: String,
    claimed_by: Option<String>,
    claimed_by_name: Option<String>,
    lease: Option<i64>,
    result: Option<String>,
    created: i64,
    updated: i64,
    lamport: i64,
    version: i64,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: r.get(0)?,
        title: r.get(1)?,
        body: r.get(2)?,
        tags: r.get(3)?,
        deps: r.get(4)?,
        state: r.get(5)?,
        creator: r.get(6)?,
        creator_name: r.get(7)?,
        claimed_by: r.get(8)?,
        claimed_by_name: r.get(9)?,
        lease: r.get(10)?,
        result: r.get(11)?,
        created: r.get(12)?,
        updated: r.get(13)?,
        lamport: r.get(14)?,
        version: r.get(15)?,
    })
}

impl Stored {
    /// The task, before `blocked_by` is worked out.
    fn parse(self) -> Result<Task, StoreError> {
        Ok(Task {
            id: CoordId::try_from(self.id).map_err(|_| corrupt("id"))?,
            title: self.title,
            body: self.body,
            tags: serde_json::from_str(&self.tags).map_err(|_| corrupt("tag list"))?,
            deps: serde_json::from_str(&self.deps).map_err(|_| corrupt("dependency list"))?,
            state: TaskState::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            creator: self.creator.parse().map_err(|_| corrupt("creator"))?,
            creator_name: self.creator_name,
            claimed_by: self.claimed_by.map(|k| k.parse()).transpose().map_err(|_| corrupt("claimer"))?,
            claimed_by_name: self.claimed_by_name,
            lease_expires_at_ms: self.lease.map(u),
            result: self.result,
            created_at_ms: u(self.created),
            updated_at_ms: u(self.updated),
            lamport: u(self.lamport),
            version: u(self.version),
            blocked_by: Vec::new(),
        })
    }
}

/// The deps of `t` that are not done, in the order they were given.
fn fill_blocked_by(c: &Connection, mesh: &MeshId, t: &mut Task) -> Result<(), StoreError> {
    if t.deps.is_empty() {
        return Ok(());
    }
    let mut st = c.prepare_cached("SELECT state FROM tasks WHERE mesh_id = ?1 AND id = ?2")?;
    let mut blocked = Vec::new();
    for d in &t.deps {
        let s: Option<String> = st.query_row(params![mesh.as_str(), d.as_str()], |r| r.get(0)).optional()?;
        if s.as_deref() != Some("done") {
            blocked.push(d.clone());
        }
    }
    t.blocked_by = blocked;
    Ok(())
}

/// One task, or None when the mesh has no task with this id.
pub(super) fn load(c: &Connection, mesh: &MeshId, id: &CoordId) -> Result<Option<Task>, StoreError> {
    let sql = format!("SELECT {COLS} FROM tasks WHERE mesh_id = ?1 AND id = ?2");
    let Some(t) = c.prepare_cached(&sql)?.query_row(params![mesh.as_str(), id.as_str()], from_row).optional()? else {
        return Ok(None);
    };
    let mut t = t.parse()?;
    fill_blocked_by(c, mesh, &mut t)?;
    Ok(Some(t))
}

fn must_load(c: &Connection, mesh: &MeshId, id: &CoordId) -> Result<Task, Refused> {
    load(c, mesh, id)?.ok_or_else(|| rejected(ErrorCode::NotFound, format!("there is no task {id} in this mesh")))
}

/// The display name a session has in the mesh (empty when it has none, which an authenticated peer always has).
pub(super) fn peer_name(c: &Connection, mesh: &MeshId, peer: &KeyHex) -> Result<String, StoreError> {
    let name: Option<String> = c
        .prepare_cached("SELECT name FROM peers WHERE mesh_id = ?1 AND session_key = ?2")?
        .query_row(params![mesh.as_str(), peer.to_string()], |r| r.get(0))
        .optional()?;
    Ok(name.unwrap_or_default())
}

/// Writes every mutable field of `t` back.
fn save(c: &Connection, mesh: &MeshId, t: &Task) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE tasks SET state = ?3, claimed_by = ?4, claimed_by_name = ?5, lease_expires_at_ms = ?6, result = ?7,
             updated_at_ms = ?8, lamport = ?9, version = ?10 WHERE mesh_id = ?1 AND id = ?2",
    )?
    .execute(params![
        mesh.as_str(),
        t.id.as_str(),
        t.state.as_str(),
        t.claimed_by.map(|k| k.to_string()),
        t.claimed_by_name,
        t.lease_expires_at_ms.map(i),
        t.result,
        i(t.updated_at_ms),
        i(t.lamport),
        i(t.version),
    ])?;
    Ok(())
}

/// Who is writing, and when.
pub(super) struct Writer<'a> {
    pub mesh: &'a MeshId,
    pub peer: &'a KeyHex,
    /// Admins and the owner may release, complete and cancel any task.
    pub admin: bool,
    pub now_ms: u64,
    pub lamport: Option<u64>,
}

/// Stamps `t` as written now: a new Lamport stamp, version + 1.
fn touch(c: &Connection, w: &Writer<'_>, t: &mut Task) -> Result<(), StoreError> {
    t.lamport = lamport::stamp(c, w.mesh, w.lamport)?;
    t.version += 1;
    t.updated_at_ms = w.now_ms;
    Ok(())
}

pub(super) fn create(c: &Connection, w: &Writer<'_>, p: TaskCreateParams) -> Result<Task, Refused> {
    let id = p.id.unwrap_or_else(CoordId::generate);
    if let Some(existing) = load(c, w.mesh, &id)? {
        // A replayed create (the daemon queued it, or the reply was lost) is the same task.
        return Ok(existing);
    }
    let active: i64 = c
        .prepare_cached("SELECT count(*) FROM tasks WHERE mesh_id = ?1 AND state IN ('open', 'claimed')")?
        .query_row([w.mesh.as_str()], |r| r.get(0))?;
    if u(active) >= TASK_MAX_ACTIVE_PER_MESH {
        return Err(rejected(
            ErrorCode::InvalidParams,
            format!(
                "this mesh already has {TASK_MAX_ACTIVE_PER_MESH} open or claimed tasks; complete or cancel some first"
            ),
        ));
    }
    let mut deps: Vec<CoordId> = Vec::with_capacity(p.deps.len());
    for d in p.deps {
        if load(c, w.mesh, &d)?.is_none() {
            return Err(rejected(ErrorCode::InvalidParams, format!("dependency {d} is not a task of this mesh")));
        }
        if !deps.contains(&d) {
            deps.push(d);
        }
    }
    let name = peer_name(c, w.mesh, w.peer)?;
    let lamport = lamport::stamp(c, w.mesh, w.lamport)?;
    c.prepare_cached(
        "INSERT INTO tasks(mesh_id, id, title, body, tags, deps, state, creator, creator_name, created_at_ms,
             updated_at_ms, lamport, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7, ?8, ?9, ?9, ?10, 1)",
    )?
    .execute(params![
        w.mesh.as_str(),
        id.as_str(),
        p.title,
        p.body,
        json_list(&p.tags),
        json_list(&deps),
        w.peer.to_string(),
        name,
        i(w.now_ms),
        i(lamport),
    ])?;
    must_load(c, w.mesh, &id)
}

/// JSON text of a small list stored in a column.
fn json_list<T: serde::Serialize>(v: &[T]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The refusal for a task another session holds.
fn held_by_other(t: &Task) -> Refused {
    let name = t.claimed_by_name.clone().unwrap_or_default();
    let data = json!({"claimed_by": t.claimed_by, "claimed_by_name": name});
    Refused::Rpc(RpcError::with_data(ErrorCode::Conflict, format!("claimed by {name}"), data))
}

/// The refusal for a task that is finished.
fn finished(t: &Task) -> Refused {
    let data = json!({"state": t.state});
    Refused::Rpc(RpcError::with_data(
        ErrorCode::Conflict,
        format!("task {} is already {}", t.id, t.state.as_str()),
        data,
    ))
}

fn blocked(t: &Task) -> Refused {
    let ids: Vec<&str> = t.blocked_by.iter().map(CoordId::as_str).collect();
    let data = json!({"blocked_by": t.blocked_by});
    Refused::Rpc(RpcError::with_data(
        ErrorCode::Conflict,
        format!("blocked by {}: those tasks must be done first", ids.join(", ")),
        data,
    ))
}

/// Claims (or renews the caller's claim on) a task: the check and the update are one step of the writer. True
/// with a new claim, false with a renewal.
pub(super) fn claim(c: &Connection, w: &Writer<'_>, id: &CoordId, lease_ms: u64) -> Result<(Task, bool), Refused> {
    let mut t = must_load(c, w.mesh, id)?;
    let new = t.state == TaskState::Open;
    match t.state {
        TaskState::Done | TaskState::Cancelled => return Err(finished(&t)),
        TaskState::Claimed if t.claimed_by.as_ref() != Some(w.peer) => return Err(held_by_other(&t)),
        TaskState::Claimed => {}
        TaskState::Open if !t.blocked_by.is_empty() => return Err(blocked(&t)),
        TaskState::Open => {
            t.state = TaskState::Claimed;
            t.claimed_by = Some(*w.peer);
            t.claimed_by_name = Some(peer_name(c, w.mesh, w.peer)?);
        }
    }
    t.lease_expires_at_ms = Some(w.now_ms.saturating_add(lease_ms));
    touch(c, w, &mut t)?;
    save(c, w.mesh, &t)?;
    Ok((t, new))
}

/// Gives a claim back (the claimer or an admin). Releasing an open task changes nothing, so a replayed release
/// is harmless.
pub(super) fn release(c: &Connection, w: &Writer<'_>, id: &CoordId) -> Result<Task, Refused> {
    let mut t = must_load(c, w.mesh, id)?;
    match t.state {
        TaskState::Open => return Ok(t),
        TaskState::Done | TaskState::Cancelled => return Err(finished(&t)),
        TaskState::Claimed if t.claimed_by.as_ref() != Some(w.peer) && !w.admin => {
            return Err(held_by_other(&t));
        }
        TaskState::Claimed => {}
    }
    t.state = TaskState::Open;
    t.claimed_by = None;
    t.claimed_by_name = None;
    t.lease_expires_at_ms = None;
    touch(c, w, &mut t)?;
    save(c, w.mesh, &t)?;
    Ok(t)
}

/// Completes a task (the claimer or an admin); an open, unblocked task is claimed and completed in one step.
/// Completing a task the caller already completed answers it unchanged (a replayed write): false then.
pub(super) fn complete(
    c: &Connection,
    w: &Writer<'_>,
    id: &CoordId,
    result: Option<String>,
) -> Result<(Task, bool), Refused> {
    let mut t = must_load(c, w.mesh, id)?;
    match t.state {
        TaskState::Done if t.claimed_by.as_ref() == Some(w.peer) => return Ok((t, false)),
        TaskState::Done | TaskState::Cancelled => return Err(finished(&t)),
        TaskState::Claimed if t.claimed_by.as_ref() != Some(w.peer) && !w.admin => {
            return Err(held_by_other(&t));
        }
        TaskState::Claimed => {}
        TaskState::Open if !t.blocked_by.is_empty() => return Err(blocked(&t)),
        TaskState::Open => {
            t.claimed_by = Some(*w.peer);
            t.claimed_by_name = Some(peer_name(c, w.mesh, w.peer)?);
        }
    }
    t.state = TaskState::Done;
    t.lease_expires_at_ms = None;
    t.result = result;
    touch(c, w, &mut t)?;
    save(c, w.mesh, &t)?;
    Ok((t, true))
}

/// Cancels a task (its creator or an admin). Cancelling a cancelled task answers it unchanged (and `None`, as
/// nobody needs telling); otherwise `Some(former claimer)`.
pub(super) fn cancel(c: &Connection, w: &Writer<'_>, id: &CoordId) -> Result<(Task, Option<Option<KeyHex>>), Refused> {
    let mut t = must_load(c, w.mesh, id)?;
    if &t.creator != w.peer && !w.admin {
        return Err(rejected(ErrorCode::Forbidden, "forbidden: only the task's creator or an admin can cancel it"));
    }
    match t.state {
        TaskState::Cancelled => return Ok((t, None)),
        TaskState::Done => return Err(finished(&t)),
        TaskState::Open | TaskState::Claimed => {}
    }
    let claimer = t.claimed_by.take();
    t.state = TaskState::Cancelled;
    t.claimed_by_name = None;
    t.lease_expires_at_ms = None;
    touch(c, w, &mut t)?;
    save(c, w.mesh, &t)?;
    Ok((t, Some(claimer)))
}

/// Filtered tasks, newest first, at most `limit`.
pub(super) fn list(c: &Connection, mesh: &MeshId, p: &TaskListParams, limit: u32) -> Result<Vec<Task>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM tasks WHERE mesh_id = ?1
             AND (?2 IS NULL OR state = ?2)
             AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE value = ?3))
             AND (?4 IS NULL OR claimed_by = ?4 OR claimed_by_name = ?4)
             AND (?5 IS NULL OR creator = ?5 OR creator_name = ?5)
         ORDER BY created_at_ms DESC, id LIMIT ?6"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![mesh.as_str(), p.state.map(TaskState::as_str), p.tag, p.claimed_by, p.creator, limit],
        from_row,
    )?;
    let mut out = Vec::new();
    for r in rows {
        let mut t = r?.parse()?;
        fill_blocked_by(c, mesh, &mut t)?;
        out.push(t);
    }
    Ok(out)
}

/// A claim as the lease sweeper sees it.
pub(super) struct Claim {
    pub mesh: MeshId,
    pub id: CoordId,
    pub claimer: KeyHex,
    pub lease_expires_at_ms: u64,
}

/// Every claimed task of every mesh.
pub(super) fn claims(c: &Connection) -> Result<Vec<Claim>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT mesh_id, id, claimed_by, lease_expires_at_ms FROM tasks WHERE state = 'claimed' ORDER BY mesh_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<i64>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (mesh, id, claimer, lease) = r?;
        let (Ok(mesh), Ok(id), Some(Ok(claimer))) =
            (MeshId::try_from(mesh), CoordId::try_from(id), claimer.map(|k| k.parse::<KeyHex>()))
        else {
            continue;
        };
        out.push(Claim { mesh, id, claimer, lease_expires_at_ms: u(lease.unwrap_or(0)) });
    }
    Ok(out)
}

/// Moves the lease of every claim `claimer` holds in `mesh` to `until` (the claimer is present).
pub(super) fn renew(c: &Connection, mesh: &MeshId, claimer: &KeyHex, until: u64) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE tasks SET lease_expires_at_ms = ?3 WHERE mesh_id = ?1 AND claimed_by = ?2 AND state = 'claimed'
             AND lease_expires_at_ms < ?3",
    )?
    .execute(params![mesh.as_str(), claimer.to_string(), i(until)])?;
    Ok(())
}

/// Reopens a claim whose lease ran out, unless it changed since the sweeper looked (renewed, released, done).
pub(super) fn expire(c: &Connection, claim: &Claim, now_ms: u64) -> Result<Option<Task>, StoreError> {
    let Some(mut t) = load(c, &claim.mesh, &claim.id)? else { return Ok(None) };
    let same = t.state == TaskState::Claimed
        && t.claimed_by == Some(claim.claimer)
        && t.lease_expires_at_ms.is_some_and(|l| l <= now_ms);
    if !same {
        return Ok(None);
    }
    t.state = TaskState::Open;
    t.claimed_by = None;
    t.claimed_by_name = None;
    t.lease_expires_at_ms = None;
    let w = Writer { mesh: &claim.mesh, peer: &claim.claimer, admin: true, now_ms, lamport: None };
    touch(c, &w, &mut t)?;
    save(c, &claim.mesh, &t)?;
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().expect("db");
        crate::broker::store::migrate(&c).expect("schema");
        c
    }

    fn create_params(title: &str) -> TaskCreateParams {
        TaskCreateParams {
            id: None,
            title: title.into(),
            body: String::new(),
            tags: vec![],
            deps: vec![],
            lamport: None,
        }
    }

    fn refusal<T: std::fmt::Debug>(r: Result<T, Refused>) -> RpcError {
        match settle(r) {
            Ok(Err(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_mesh_holds_at_most_ten_thousand_active_tasks_and_finished_ones_do_not_count() {
        let c = db();
        let mesh = MeshId::generate();
        let me = KeyHex([3; 32]);
        let w = Writer { mesh: &mesh, peer: &me, admin: false, now_ms: 1, lamport: None };
        c.execute_batch(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {TASK_MAX_ACTIVE_PER_MESH})
             INSERT INTO tasks SELECT '{m}', printf('t%011d', i), 'x', '', '[]', '[]', 'open', '{me}', 'me', NULL, NULL,
                 NULL, NULL, 1, 1, 1, 1 FROM n;",
            m = mesh.as_str(),
        ))
        .expect("fill");
        let e = refusal(create(&c, &w, create_params("one too many")));
        assert_eq!(e.kind(), Some(ErrorCode::InvalidParams));
        assert!(e.message.contains("10000 open or claimed"), "{e:?}");
        c.execute("UPDATE tasks SET state = 'done' WHERE id = 't00000000001'", []).expect("finish one");
        assert!(create(&c, &w, create_params("fits again")).is_ok());
        let other = MeshId::generate();
        let w2 = Writer { mesh: &other, ..w };
        assert!(create(&c, &w2, create_params("another mesh")).is_ok(), "the limit is per mesh");
    }

    #[test]
    fn the_second_claim_sees_the_first_and_names_its_claimer() {
        let c = db();
        let mesh = MeshId::generate();
        let (a, b) = (KeyHex([1; 32]), KeyHex([2; 32]));
        let wa = Writer { mesh: &mesh, peer: &a, admin: false, now_ms: 10, lamport: None };
        let wb = Writer { mesh: &mesh, peer: &b, admin: false, now_ms: 11, lamport: None };
        let t = create(&c, &wa, create_params("job")).expect("create");
        let (won, new) = claim(&c, &wa, &t.id, 1_000).expect("claim");
        assert!(new);
        assert_eq!(won.lease_expires_at_ms, Some(1_010));
        let e = refusal(claim(&c, &wb, &t.id, 1_000));
        assert_eq!(e.kind(), Some(ErrorCode::Conflict));
        assert_eq!(e.data.as_ref().map(|d| d["claimed_by"].clone()), Some(json!(a)));
        let (renewed, new) = claim(&c, &wa, &t.id, 1_000).expect("renew");
        assert!(!new);
        assert_eq!(renewed.version, won.version + 1);
        // The admin may release another's claim; then b wins it.
        let admin = Writer { mesh: &mesh, peer: &b, admin: true, now_ms: 12, lamport: None };
        assert_eq!(release(&c, &admin, &t.id).expect("release").state, TaskState::Open);
        assert_eq!(claim(&c, &wb, &t.id, 1_000).expect("claim").0.claimed_by, Some(b));
    }
}
