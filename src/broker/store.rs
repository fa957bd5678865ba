//! Broker schema and queries: meshes, members, peers, invites, messages and per-recipient deliveries.
//! Every function here runs on the store thread (see `db`), inside a transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::db::StoreError;
use crate::proto::{
    Attestation, DeliverParams, DeliveryState, ErrorCode, GroupRef, InviteSummary, KeyHex, MeshId, MessageId, Priority,
    ReceiptState, ReceiptVia, RecipientStatus, Role, Status,
};

pub(crate) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if v < 1 {
        c.execute_batch(
            "BEGIN;
            CREATE TABLE meshes(id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_key TEXT NOT NULL, created_at INTEGER NOT NULL);
            CREATE TABLE members(mesh_id TEXT NOT NULL REFERENCES meshes(id), member_key TEXT NOT NULL, role TEXT NOT NULL,
                name TEXT NOT NULL, joined_at INTEGER NOT NULL, invite_id TEXT, PRIMARY KEY(mesh_id, member_key));
            CREATE TABLE peers(mesh_id TEXT NOT NULL, session_key TEXT NOT NULL, member_key TEXT NOT NULL, name TEXT NOT NULL,
                attest_at INTEGER NOT NULL, attest_sig TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'idle',
                summary TEXT NOT NULL DEFAULT '', visible INTEGER NOT NULL DEFAULT 1, groups TEXT NOT NULL DEFAULT '[]',
                last_seen INTEGER NOT NULL, created_at INTEGER NOT NULL,
                PRIMARY KEY(mesh_id, session_key), UNIQUE(mesh_id, name));
            CREATE TABLE invites(id TEXT PRIMARY KEY, mesh_id TEXT NOT NULL, issuer TEXT NOT NULL, role TEXT NOT NULL,
                expires_at INTEGER NOT NULL, max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0, token TEXT NOT NULL,
                created_at INTEGER NOT NULL, revoked_at INTEGER);
            CREATE TABLE messages(mesh_id TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL, sender_member TEXT NOT NULL,
                to_spec TEXT NOT NULL, priority TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                PRIMARY KEY(mesh_id, sender, id));
            CREATE TABLE deliveries(seq INTEGER PRIMARY KEY AUTOINCREMENT, mesh_id TEXT NOT NULL, sender TEXT NOT NULL,
                msg_id TEXT NOT NULL, recipient TEXT NOT NULL, nonce TEXT, ciphertext TEXT, state INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, delivered_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
                UNIQUE(mesh_id, sender, msg_id, recipient));
            CREATE INDEX deliveries_pending ON deliveries(mesh_id, recipient, state, seq);
            CREATE INDEX deliveries_expiry ON deliveries(state, expires_at);
            PRAGMA user_version = 1;
            COMMIT;",
        )?;
    }
    if v < 2 {
        // Receipts the recipient reports after delivery. `state` gains 3 = surfaced and 4 = read (0 queued,
        // 1 delivered and 2 expired are unchanged); receipts look rows up by recipient and message id.
        c.execute_batch(
            "BEGIN;
            ALTER TABLE deliveries ADD COLUMN surfaced_at INTEGER;
            ALTER TABLE deliveries ADD COLUMN surfaced_via TEXT;
            ALTER TABLE deliveries ADD COLUMN read_at INTEGER;
            CREATE INDEX deliveries_by_recipient ON deliveries(mesh_id, recipient, msg_id);
            PRAGMA user_version = 2;
            COMMIT;",
        )?;
    }
    if v < 3 {
        // `message.status` finds a message by (mesh, id); without this it scanned every message of the mesh on
        // the writer thread, which every send then waited behind.
        c.execute_batch(
            "BEGIN;
            CREATE INDEX messages_by_id ON messages(mesh_id, id);
            PRAGMA user_version = 3;
            COMMIT;",
        )?;
    }
    if v < 4 {
        // Where a session works, as it reports it (`presence.set` cwd and branch); NULL when never set.
        c.execute_batch(
            "BEGIN;
            ALTER TABLE peers ADD COLUMN cwd TEXT;
            ALTER TABLE peers ADD COLUMN branch TEXT;
            PRAGMA user_version = 4;
            COMMIT;",
        )?;
    }
    if v < 5 {
        // Fewer index writes per message (the writer thread's largest cost under load): the pending and expiry
        // indexes hold only queued rows (an ack deletes the entry instead of moving it, and both stay small), and
        // receipts find their rows through the message (messages_by_id, then the UNIQUE key), so
        // deliveries_by_recipient goes.
        c.execute_batch(
            "BEGIN;
            DROP INDEX deliveries_pending;
            DROP INDEX deliveries_expiry;
            DROP INDEX deliveries_by_recipient;
            CREATE INDEX deliveries_pending ON deliveries(mesh_id, recipient, seq) WHERE state=0;
            CREATE INDEX deliveries_expiry ON deliveries(expires_at) WHERE state=0;
            PRAGMA user_version = 5;
            COMMIT;",
        )?;
    }
    if v < 6 {
        // One B-tree for messages instead of three (the rowid table, its primary-key index and messages_by_id):
        // keyed (mesh, id, sender), the same key serves the delivery join (mesh, sender, id) and the lookups by
        // (mesh, id) that status and receipts make.
        c.execute_batch(
            "BEGIN;
            CREATE TABLE messages_v6(mesh_id TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL,
                sender_member TEXT NOT NULL, to_spec TEXT NOT NULL, priority TEXT NOT NULL, created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL, PRIMARY KEY(mesh_id, id, sender)) WITHOUT ROWID;
            INSERT INTO messages_v6(mesh_id,sender,id,sender_member,to_spec,priority,created_at,expires_at)
                SELECT mesh_id,sender,id,sender_member,to_spec,priority,created_at,expires_at FROM messages;
            DROP TABLE messages;
            ALTER TABLE messages_v6 RENAME TO messages;
            PRAGMA user_version = 6;
            COMMIT;",
        )?;
    }
    // The coordination primitives version their tables per part (`schema_parts`), independently of this.
    super::coord::migrate(c)
}

/// The `deliveries.state` column.
const QUEUED: i64 = 0;
const DELIVERED: i64 = 1;
const EXPIRED: i64 = 2;
const SURFACED: i64 = 3;
const READ: i64 = 4;

fn state_from_column(state: i64, expires_at: u64, now: u64) -> DeliveryState {
    match state {
        DELIVERED => DeliveryState::Delivered,
        EXPIRED => DeliveryState::Expired,
        SURFACED => DeliveryState::Surfaced,
        READ => DeliveryState::Read,
        _ if expires_at <= now => DeliveryState::Expired,
        _ => DeliveryState::Queued,
    }
}

fn reject(code: ErrorCode, msg: impl Into<String>) -> StoreError {
    StoreError::Rejected(code, msg.into())
}

// ---- meshes and members --------------------------------------------------------------------------------------

pub(crate) struct MeshRow {
    pub id: MeshId,
    pub name: String,
    pub owner_key: KeyHex,
    pub created_at: u64,
}

pub(crate) fn create_mesh(c: &Connection, id: &MeshId, name: &str, owner: &KeyHex, now: u64) -> Result<(), StoreError> {
    let exists: bool =
        c.query_row("SELECT 1 FROM meshes WHERE id=?1", [id.as_str()], |_| Ok(true)).optional()?.is_some();
    if exists {
        return Err(reject(ErrorCode::AlreadyExists, "a mesh with this id already exists"));
    }
    c.execute(
        "INSERT INTO meshes(id,name,owner_key,created_at) VALUES(?1,?2,?3,?4)",
        params![id.as_str(), name, owner.to_string(), now],
    )?;
    c.execute(
        "INSERT INTO members(mesh_id,member_key,role,name,joined_at) VALUES(?1,?2,'owner',?3,?4)",
        params![id.as_str(), owner.to_string(), "owner", now],
    )?;
    Ok(())
}

pub(crate) fn mesh(c: &Connection, id: &MeshId) -> Result<Option<MeshRow>, StoreError> {
    Ok(c.query_row("SELECT id,name,owner_key,created_at FROM meshes WHERE id=?1", [id.as_str()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, u64>(3)?))
    })
    .optional()?
    .and_then(|(id, name, owner, created_at)| {
        Some(MeshRow { id: MeshId::try_from(id).ok()?, name, owner_key: owner.parse().ok()?, created_at })
    }))
}

pub(crate) fn rename_mesh(c: &Connection, id: &MeshId, name: &str) -> Result<(), StoreError> {
    c.execute("UPDATE meshes SET name=?2 WHERE id=?1", params![id.as_str(), name])?;
    Ok(())
}

pub(crate) fn member_role(c: &Connection, mesh: &MeshId, member: &KeyHex) -> Result<Option<Role>, StoreError> {
    let role: Option<String> = c
        .query_row(
            "SELECT role FROM members WHERE mesh_id=?1 AND member_key=?2",
            params![mesh.as_str(), member.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(role.and_then(|r| Role::parse(&r)))
}

/// Refuses with `forbidden` unless `member` is the owner or an admin of `mesh`.
pub(crate) fn require_admin(c: &Connection, mesh: &MeshId, member: &KeyHex, action: &str) -> Result<(), StoreError> {
    if member_role(c, mesh, member)?.is_some_and(Role::is_admin) {
        Ok(())
    } else {
        Err(reject(ErrorCode::Forbidden, format!("only the owner or an admin can {action}")))
    }
}

pub(crate) fn count_members(c: &Connection, mesh: &MeshId) -> Result<u64, StoreError> {
    Ok(c.query_row("SELECT count(*) FROM members WHERE mesh_id=?1", [mesh.as_str()], |r| r.get(0))?)
}

const REMOVE_QUEUED_SQL: &str =
    "UPDATE deliveries SET state=2, nonce=NULL, ciphertext=NULL WHERE mesh_id=?1 AND recipient=?2 AND state=0";

/// Removes a member, its peers and every delivery still queued for them. Returns the removed peers.
pub(crate) fn remove_member(
    c: &Connection,
    mesh: &MeshId,
    member: &KeyHex,
) -> Result<Vec<(KeyHex, String)>, StoreError> {
    let peers = peers_of_member(c, mesh, member)?;
    for (key, _) in &peers {
        c.execute(REMOVE_QUEUED_SQL, params![mesh.as_str(), key.to_string()])?;
    }
    c.execute("DELETE FROM peers WHERE mesh_id=?1 AND member_key=?2", params![mesh.as_str(), member.to_string()])?;
    c.execute("DELETE FROM members WHERE mesh_id=?1 AND member_key=?2", params![mesh.as_str(), member.to_string()])?;
    Ok(peers)
}

fn peers_of_member(c: &Connection, mesh: &MeshId, member: &KeyHex) -> Result<Vec<(KeyHex, String)>, StoreError> {
    let mut st = c.prepare_cached("SELECT session_key, name FROM peers WHERE mesh_id=?1 AND member_key=?2")?;
    let rows = st.query_map(params![mesh.as_str(), member.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (k, n) = row?;
        if let Ok(k) = k.parse() {
            out.push((k, n));
        }
    }
    Ok(out)
}

// ---- peers ---------------------------------------------------------------------------------------------------

/// A peer row (everything of `PeerInfo` except `online`, which the hub knows).
#[derive(Debug, Clone)]
pub(crate) struct PeerRow {
    pub id: KeyHex,
    pub name: String,
    pub member_key: KeyHex,
    pub attestation: Attestation,
    pub role: Role,
    pub status: Status,
    pub summary: String,
    pub visible: bool,
    pub groups: Vec<GroupRef>,
    pub last_seen_ms: u64,
    pub cwd: Option<String>,
    pub branch: Option<String>,
}

const PEER_COLS: &str = "p.session_key, p.name, p.member_key, p.attest_at, p.attest_sig, m.role, p.status, p.summary, p.visible, p.groups, p.last_seen, p.cwd, p.branch";

fn peer_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<PeerRow>> {
    let id: String = r.get(0)?;
    let member: String = r.get(2)?;
    let role: String = r.get(5)?;
    let status: String = r.get(6)?;
    let groups: String = r.get(9)?;
    let (Ok(id), Ok(member_key), Some(role)) = (id.parse(), member.parse(), Role::parse(&role)) else {
        return Ok(None);
    };
    Ok(Some(PeerRow {
        id,
        name: r.get(1)?,
        member_key,
        attestation: Attestation { issued_at_ms: r.get(3)?, signature: r.get(4)? },
        role,
        status: serde_json::from_value(serde_json::Value::String(status)).unwrap_or_default(),
        summary: r.get(7)?,
        visible: r.get::<_, i64>(8)? != 0,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        last_seen_ms: r.get(10)?,
        cwd: r.get(11)?,
        branch: r.get(12)?,
    }))
}

pub(crate) fn peer(c: &Connection, mesh: &MeshId, id: &KeyHex) -> Result<Option<PeerRow>, StoreError> {
    let sql = format!(
        "SELECT {PEER_COLS} FROM peers p JOIN members m ON m.mesh_id=p.mesh_id AND m.member_key=p.member_key
         WHERE p.mesh_id=?1 AND p.session_key=?2"
    );
    Ok(c.query_row(&sql, params![mesh.as_str(), id.to_string()], peer_from_row).optional()?.flatten())
}

pub(crate) fn peers(c: &Connection, mesh: &MeshId) -> Result<Vec<PeerRow>, StoreError> {
    let sql = format!(
        "SELECT {PEER_COLS} FROM peers p JOIN members m ON m.mesh_id=p.mesh_id AND m.member_key=p.member_key
         WHERE p.mesh_id=?1 ORDER BY p.name"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([mesh.as_str()], peer_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        if let Some(p) = row? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Registers (or refreshes) a session after a verified hello. A new session gets the requested name, or the
/// first free `name-N`; a known session keeps the name it has (identity must not churn).
pub(crate) fn upsert_peer(
    c: &Connection,
    mesh: &MeshId,
    session: &KeyHex,
    member: &KeyHex,
    requested: &str,
    att: &Attestation,
    now: u64,
) -> Result<PeerRow, StoreError> {
    let owner: Option<String> = c
        .query_row(
            "SELECT member_key FROM peers WHERE mesh_id=?1 AND session_key=?2",
            params![mesh.as_str(), session.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    match owner {
        Some(owner) if owner != member.to_string() => {
            return Err(reject(ErrorCode::AuthFailed, "this session key belongs to another member"));
        }
        Some(_) => {
            c.execute(
                "UPDATE peers SET attest_at=?3, attest_sig=?4, last_seen=?5 WHERE mesh_id=?1 AND session_key=?2",
                params![mesh.as_str(), session.to_string(), att.issued_at_ms, att.signature, now],
            )?;
        }
        None => {
            let mut name = requested.to_string();
            let mut n = 2;
            while c
                .query_row("SELECT 1 FROM peers WHERE mesh_id=?1 AND name=?2", params![mesh.as_str(), name], |_| Ok(()))
                .optional()?
                .is_some()
            {
                name = format!("{requested}-{n}");
                n += 1;
            }
            c.execute(
                "INSERT INTO peers(mesh_id,session_key,member_key,name,attest_at,attest_sig,last_seen,created_at)
                 VALUES(?1,?2,?3,?4,?5,?6,?7,?7)",
                params![
                    mesh.as_str(),
                    session.to_string(),
                    member.to_string(),
                    name,
                    att.issued_at_ms,
                    att.signature,
                    now
                ],
            )?;
        }
    }
    peer(c, mesh, session)?.ok_or_else(|| reject(ErrorCode::Internal, "peer vanished after insert"))
}

pub(crate) fn touch_peer(c: &Connection, mesh: &MeshId, id: &KeyHex, now: u64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE peers SET last_seen=?3 WHERE mesh_id=?1 AND session_key=?2",
        params![mesh.as_str(), id.to_string(), now],
    )?;
    Ok(())
}

/// What one `presence.set` changes (`None`: unchanged).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PresenceChange<'a> {
    pub status: Option<Status>,
    pub summary: Option<&'a str>,
    pub visible: Option<bool>,
    pub name: Option<&'a str>,
    /// Empty clears it.
    pub cwd: Option<&'a str>,
    /// Empty clears it.
    pub branch: Option<&'a str>,
}

pub(crate) fn set_presence(
    c: &Connection,
    mesh: &MeshId,
    id: &KeyHex,
    change: PresenceChange<'_>,
) -> Result<PeerRow, StoreError> {
    let PresenceChange { status, summary, visible, name, cwd, branch } = change;
    if let Some(n) = name {
        let taken = c
            .query_row(
                "SELECT 1 FROM peers WHERE mesh_id=?1 AND name=?2 AND session_key<>?3",
                params![mesh.as_str(), n, id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Err(reject(ErrorCode::AlreadyExists, format!("the name {n} is taken in this mesh")));
        }
        c.execute(
            "UPDATE peers SET name=?3 WHERE mesh_id=?1 AND session_key=?2",
            params![mesh.as_str(), id.to_string(), n],
        )?;
    }
    if let Some(s) = status {
        c.execute(
            "UPDATE peers SET status=?3 WHERE mesh_id=?1 AND session_key=?2",
            params![mesh.as_str(), id.to_string(), s.as_str()],
        )?;
    }
    if let Some(s) = summary {
        c.execute(
            "UPDATE peers SET summary=?3 WHERE mesh_id=?1 AND session_key=?2",
            params![mesh.as_str(), id.to_string(), s],
        )?;
    }
    if let Some(v) = visible {
        c.execute(
            "UPDATE peers SET visible=?3 WHERE mesh_id=?1 AND session_key=?2",
            params![mesh.as_str(), id.to_string(), v as i64],
        )?;
    }
    if let Some(v) = cwd {
        c.execute(
            "UPDATE peers SET cwd=NULLIF(?3, '') WHERE mesh_id=?1 AND session_key=?2",
            params![mesh.as_str(), id.to_string(), v],
        )?;
    }
    if let Some(v) = branch {
        c.execute(
            "UPDATE peers SET branch=NULLIF(?3, '') WHERE mesh_id=?1 AND session_key=?2",
            params![mesh.as_str(), id.to_string(), v],
        )?;
    }
    peer(c, mesh, id)?.ok_or_else(|| reject(ErrorCode::NotFound, "peer not found"))
}

pub(crate) fn set_groups(
    c: &Connection,
    mesh: &MeshId,
    id: &KeyHex,
    groups: &[GroupRef],
) -> Result<PeerRow, StoreError> {
    let json = serde_json::to_string(groups).map_err(|e| reject(ErrorCode::Internal, e.to_string()))?;
    c.execute(
        "UPDATE peers SET groups=?3 WHERE mesh_id=?1 AND session_key=?2",
        params![mesh.as_str(), id.to_string(), json],
    )?;
    peer(c, mesh, id)?.ok_or_else(|| reject(ErrorCode::NotFound, "peer not found"))
}

// ---- invites -------------------------------------------------------------------------------------------------

pub(crate) struct InviteRow {
    pub mesh_id: String,
    pub issuer: String,
    pub role: String,
    pub expires_at: u64,
    pub max_uses: u32,
    pub uses: u32,
    pub revoked: bool,
}

pub(crate) fn insert_invite(
    c: &Connection,
    inv: &crate::proto::Invite,
    token: &str,
    now: u64,
) -> Result<(), StoreError> {
    let exists = c.query_row("SELECT 1 FROM invites WHERE id=?1", [&inv.id], |_| Ok(())).optional()?.is_some();
    if exists {
        return Err(reject(ErrorCode::AlreadyExists, "an invite with this id already exists"));
    }
    c.execute(
        "INSERT INTO invites(id,mesh_id,issuer,role,expires_at,max_uses,token,created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
        params![inv.id, inv.mesh.as_str(), inv.issuer.to_string(), inv.role.as_str(), inv.exp, inv.uses, token, now],
    )?;
    Ok(())
}

pub(crate) fn invite(c: &Connection, id: &str) -> Result<Option<InviteRow>, StoreError> {
    Ok(c.query_row(
        "SELECT mesh_id, issuer, role, expires_at, max_uses, uses, revoked_at IS NOT NULL FROM invites WHERE id=?1",
        [id],
        |r| {
            Ok(InviteRow {
                mesh_id: r.get(0)?,
                issuer: r.get(1)?,
                role: r.get(2)?,
                expires_at: r.get(3)?,
                max_uses: r.get(4)?,
                uses: r.get(5)?,
                revoked: r.get(6)?,
            })
        },
    )
    .optional()?)
}

/// The invites of a mesh, newest first (at most `limit`).
pub(crate) fn list_invites(c: &Connection, mesh: &MeshId, limit: u32) -> Result<Vec<InviteSummary>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT id, role, expires_at, max_uses, uses, created_at, revoked_at, issuer FROM invites WHERE mesh_id=?1
         ORDER BY created_at DESC, id LIMIT ?2",
    )?;
    let rows = st.query_map(params![mesh.as_str(), limit], |r| {
        Ok(InviteSummary {
            id: r.get(0)?,
            role: r.get(1)?,
            expires_at: r.get(2)?,
            max_uses: r.get(3)?,
            uses: r.get(4)?,
            created_at_ms: r.get(5)?,
            revoked_at_ms: r.get(6)?,
            issuer: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Revokes an invite of `mesh`. `Ok(false)` when it was already revoked; not found is an error.
pub(crate) fn revoke_invite(c: &Connection, mesh: &MeshId, id: &str, now: u64) -> Result<bool, StoreError> {
    let found: Option<Option<u64>> = c
        .query_row("SELECT revoked_at FROM invites WHERE id=?1 AND mesh_id=?2", params![id, mesh.as_str()], |r| {
            r.get(0)
        })
        .optional()?;
    match found {
        None => Err(reject(ErrorCode::NotFound, "no such invite in this mesh")),
        Some(Some(_)) => Ok(false),
        Some(None) => {
            c.execute("UPDATE invites SET revoked_at=?1 WHERE id=?2", params![now, id])?;
            Ok(true)
        }
    }
}

pub(crate) fn consume_invite(c: &Connection, id: &str) -> Result<(), StoreError> {
    c.execute("UPDATE invites SET uses=uses+1 WHERE id=?1", [id])?;
    Ok(())
}

pub(crate) fn add_member(
    c: &Connection,
    mesh: &MeshId,
    member: &KeyHex,
    role: Role,
    name: &str,
    invite: &str,
    now: u64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO members(mesh_id,member_key,role,name,joined_at,invite_id) VALUES(?1,?2,?3,?4,?5,?6)",
        params![mesh.as_str(), member.to_string(), role.as_str(), name, now, invite],
    )?;
    Ok(())
}

// ---- messages and deliveries ---------------------------------------------------------------------------------

pub(crate) struct NewMessage<'a> {
    pub mesh: &'a MeshId,
    pub sender: &'a KeyHex,
    pub sender_member: &'a KeyHex,
    pub id: &'a MessageId,
    pub to: &'a str,
    pub priority: Priority,
    pub now: u64,
    pub expires_at: u64,
}

/// Stores a message and one delivery per envelope. Returns (accepted, duplicates, expires_at, recipients that
/// got a new delivery). Unknown recipients reject the whole call.
pub(crate) fn insert_message(
    c: &Connection,
    m: &NewMessage<'_>,
    envelopes: &[(KeyHex, String, String)],
) -> Result<(u64, u64, u64, Vec<KeyHex>), StoreError> {
    let inserted = c
        .prepare_cached(
            "INSERT OR IGNORE INTO messages(mesh_id,sender,id,sender_member,to_spec,priority,created_at,expires_at)
         VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
        )?
        .execute(params![
            m.mesh.as_str(),
            m.sender.to_string(),
            m.id.as_str(),
            m.sender_member.to_string(),
            m.to,
            m.priority.as_str(),
            m.now,
            m.expires_at
        ])?;
    // A retry keeps the expiry of the message it repeats.
    let expires_at: u64 = if inserted == 1 {
        m.expires_at
    } else {
        c.prepare_cached("SELECT expires_at FROM messages WHERE mesh_id=?1 AND sender=?2 AND id=?3")?
            .query_row(params![m.mesh.as_str(), m.sender.to_string(), m.id.as_str()], |r| r.get(0))?
    };
    let mut known = c.prepare_cached("SELECT 1 FROM peers WHERE mesh_id=?1 AND session_key=?2")?;
    let mut ins = c.prepare_cached(
        "INSERT OR IGNORE INTO deliveries(mesh_id,sender,msg_id,recipient,nonce,ciphertext,created_at,expires_at)
         VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    )?;
    let (mut accepted, mut dups, mut woke) = (0, 0, Vec::new());
    for (to, nonce, ct) in envelopes {
        let to_s = to.to_string();
        if known.query_row(params![m.mesh.as_str(), to_s], |_| Ok(())).optional()?.is_none() {
            return Err(reject(ErrorCode::InvalidParams, format!("unknown recipient {to_s}")));
        }
        let n = ins.execute(params![
            m.mesh.as_str(),
            m.sender.to_string(),
            m.id.as_str(),
            to_s,
            nonce,
            ct,
            m.now,
            expires_at
        ])?;
        if n == 1 {
            accepted += 1;
            woke.push(*to);
        } else {
            dups += 1;
        }
    }
    Ok((accepted, dups, expires_at, woke))
}

/// The columns `deliver_from_row` reads, with the sender's current name (or `(left)`).
const DELIVER_SELECT: &str = "SELECT d.seq, d.msg_id, d.sender, COALESCE(p.name, '(left)'),
        COALESCE(p.member_key, m.sender_member), m.to_spec, m.priority, m.created_at, d.nonce, d.ciphertext, d.attempts
    FROM deliveries d
    JOIN messages m ON m.mesh_id=d.mesh_id AND m.sender=d.sender AND m.id=d.msg_id
    LEFT JOIN peers p ON p.mesh_id=d.mesh_id AND p.session_key=d.sender";

fn pending_sql() -> String {
    format!(
        "{DELIVER_SELECT} WHERE d.mesh_id=?1 AND d.recipient=?2 AND d.state=0 AND d.seq>?3 AND d.expires_at>?4
         ORDER BY d.seq LIMIT ?5"
    )
}

/// Queued, unexpired deliveries for a recipient after `after_seq`, oldest first. Read-only (the pump runs it on
/// the reader connection); the caller records the push with `bump_attempts`.
pub(crate) fn fetch_pending(
    c: &Connection,
    mesh: &MeshId,
    recipient: &KeyHex,
    after_seq: u64,
    limit: usize,
    now: u64,
) -> Result<Vec<DeliverParams>, StoreError> {
    let mut st = c.prepare_cached(&pending_sql())?;
    let rows =
        st.query_map(params![mesh.as_str(), recipient.to_string(), after_seq, now, limit as i64], deliver_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(d) = r? {
            out.push(d);
        }
    }
    Ok(out)
}

/// Re-reads specific deliveries (for redelivery), skipping those acked or expired meanwhile.
pub(crate) fn fetch_by_seq(
    c: &Connection,
    recipient: &KeyHex,
    seqs: &[u64],
    now: u64,
) -> Result<Vec<DeliverParams>, StoreError> {
    let sql = format!("{DELIVER_SELECT} WHERE d.seq=?1 AND d.recipient=?2 AND d.state=0 AND d.expires_at>?3");
    let mut st = c.prepare_cached(&sql)?;
    let mut out = Vec::new();
    for seq in seqs {
        if let Some(Some(mut d)) =
            st.query_row(params![seq, recipient.to_string(), now], deliver_from_row).optional()?
        {
            // Pushed before on this connection, even when that first push is not counted yet.
            d.attempt = d.attempt.max(2);
            out.push(d);
        }
    }
    bump_attempts(c, &out)?;
    Ok(out)
}

/// Counts a push, unless the store is too full to rewrite the row: the counter then stays behind rather than the
/// delivery. Rewriting a row with a large ciphertext allocates fresh pages before it frees the old ones, SQLITE_FULL
/// rolls the whole transaction back, and the recipient's acknowledgement of this very delivery is what frees space —
/// so a bump that could fail would starve the pump that drains a full store.
fn bump_attempts(c: &Connection, rows: &[DeliverParams]) -> Result<(), StoreError> {
    let pushes: Vec<(u64, usize)> = rows.iter().map(|d| (d.delivery, d.ciphertext.len() + d.nonce.len())).collect();
    bump_attempts_of(c, &pushes)
}

/// Counts a push that is not the first of each `(delivery, stored bytes)` (the first push is counted by the ack,
/// or by `count_first_pushes` when the connection closes first), skipping those the store has no room to rewrite.
pub(crate) fn bump_attempts_of(c: &Connection, pushes: &[(u64, usize)]) -> Result<(), StoreError> {
    bump_where(c, pushes, "UPDATE deliveries SET attempts=MAX(attempts,1)+1 WHERE seq=?1")
}

/// Counts the first push of deliveries a closing connection had pushed and not seen acknowledged (those still
/// queued with no push counted), so their next push says it is a redelivery.
pub(crate) fn count_first_pushes(c: &Connection, seqs: &[u64]) -> Result<(), StoreError> {
    let mut size = c.prepare_cached(
        "SELECT COALESCE(length(nonce),0) + COALESCE(length(ciphertext),0) FROM deliveries
         WHERE seq=?1 AND state=0 AND attempts=0",
    )?;
    let mut pushes = Vec::new();
    for &seq in seqs {
        if let Some(bytes) = size.query_row([seq], |r| r.get::<_, i64>(0)).optional()? {
            pushes.push((seq, usize::try_from(bytes).unwrap_or(usize::MAX)));
        }
    }
    bump_where(c, &pushes, "UPDATE deliveries SET attempts=1 WHERE seq=?1 AND attempts=0")
}

/// Runs `update` (one `?1`, the delivery) for each `(delivery, stored bytes)` the store has room to rewrite.
fn bump_where(c: &Connection, pushes: &[(u64, usize)], update: &str) -> Result<(), StoreError> {
    if pushes.is_empty() {
        return Ok(());
    }
    let pragma = |name: &str| c.pragma_query_value(None, name, |r| r.get::<_, i64>(0));
    let page = pragma("page_size")?.max(512);
    let mut room =
        pragma("max_page_count")?.saturating_sub(pragma("page_count")?).saturating_add(pragma("freelist_count")?);
    let mut up = c.prepare_cached(update)?;
    for &(seq, bytes) in pushes {
        let needs = i64::try_from(bytes).unwrap_or(i64::MAX) / page + 2;
        if room < needs {
            tracing::debug!(delivery = seq, "store nearly full: attempt count not updated");
            continue;
        }
        room -= needs;
        up.execute([seq])?;
    }
    Ok(())
}

fn deliver_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<DeliverParams>> {
    let id: String = r.get(1)?;
    let from: String = r.get(2)?;
    let member: String = r.get(4)?;
    let priority: String = r.get(6)?;
    let nonce: Option<String> = r.get(8)?;
    let ct: Option<String> = r.get(9)?;
    let attempts: u64 = r.get(10)?;
    let (Ok(id), Ok(from), Ok(from_member), Some(nonce), Some(ciphertext)) =
        (MessageId::try_from(id), from.parse(), member.parse(), nonce, ct)
    else {
        return Ok(None);
    };
    Ok(Some(DeliverParams {
        delivery: r.get(0)?,
        id,
        from,
        from_name: r.get(3)?,
        from_member,
        to: r.get(5)?,
        priority: serde_json::from_value(serde_json::Value::String(priority)).unwrap_or_default(),
        sent_at_ms: r.get(7)?,
        nonce,
        ciphertext,
        attempt: attempts + 1,
    }))
}

/// The ack also counts the first push (the pump does not rewrite the row for it).
const ACK_SQL: &str = "UPDATE deliveries SET state=1, delivered_at=?4, nonce=NULL, ciphertext=NULL,
    attempts=MAX(attempts,1) WHERE seq=?1 AND mesh_id=?2 AND recipient=?3 AND state=0 RETURNING sender, msg_id";

/// Marks the recipient's deliveries delivered and drops their ciphertext. Returns how many changed.
pub(crate) fn ack(
    c: &Connection,
    mesh: &MeshId,
    recipient: &KeyHex,
    seqs: &[u64],
    now: u64,
) -> Result<Vec<ReceiptChange>, StoreError> {
    let mut st = c.prepare_cached(ACK_SQL)?;
    let mut acked = Vec::new();
    for seq in seqs {
        let rows: Vec<(String, String)> = st
            .query_map(params![seq, mesh.as_str(), recipient.to_string(), now], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (sender, id) in rows {
            // A row we wrote ourselves always parses; one that does not is still acked, just not announced.
            if let (Ok(sender), Ok(id)) = (sender.parse(), MessageId::try_from(id)) {
                acked.push(ReceiptChange { sender, id, was_queued: true });
            }
        }
    }
    Ok(acked)
}

const BACKLOG_SQL: &str = "SELECT COALESCE(MAX(seq),0), count(*) FROM deliveries WHERE mesh_id=?1 AND recipient=?2 AND state=0 AND expires_at>?3";

/// Highest queued delivery seq for a recipient (the end of its backlog), and how many are queued.
pub(crate) fn backlog(c: &Connection, mesh: &MeshId, recipient: &KeyHex, now: u64) -> Result<(u64, u64), StoreError> {
    Ok(c.query_row(BACKLOG_SQL, params![mesh.as_str(), recipient.to_string(), now], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

const EXPIRE_SQL: &str = "UPDATE deliveries SET state=2, nonce=NULL, ciphertext=NULL WHERE state=0 AND expires_at<=?1";

/// Expires queued deliveries past their TTL and drops their ciphertext. Returns how many expired.
pub(crate) fn expire(c: &Connection, now: u64) -> Result<u64, StoreError> {
    Ok(c.execute(EXPIRE_SQL, [now])? as u64)
}

pub(crate) struct MessageStatus {
    pub to: String,
    pub priority: Priority,
    pub created_at: u64,
    pub expires_at: u64,
    pub recipients: Vec<RecipientStatus>,
}

/// Receipts for a message sent by any session of `member`.
pub(crate) fn message_status(
    c: &Connection,
    mesh: &MeshId,
    member: &KeyHex,
    id: &MessageId,
    now: u64,
) -> Result<Option<MessageStatus>, StoreError> {
    let head: Option<(String, String, String, u64, u64)> = c
        .query_row(
            "SELECT sender, to_spec, priority, created_at, expires_at FROM messages WHERE mesh_id=?1 AND id=?2 AND sender_member=?3",
            params![mesh.as_str(), id.as_str(), member.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((sender, to, priority, created_at, expires_at)) = head else {
        return Ok(None);
    };
    let mut st = c.prepare_cached(
        "SELECT d.recipient, COALESCE(p.name, '(left)'), d.state, d.delivered_at, d.attempts, d.expires_at,
                d.surfaced_at, d.surfaced_via, d.read_at
         FROM deliveries d LEFT JOIN peers p ON p.mesh_id=d.mesh_id AND p.session_key=d.recipient
         WHERE d.mesh_id=?1 AND d.sender=?2 AND d.msg_id=?3 ORDER BY d.seq",
    )?;
    let rows = st.query_map(params![mesh.as_str(), sender, id.as_str()], |r| {
        let Ok(peer) = r.get::<_, String>(0)?.parse() else { return Ok(None) };
        Ok(Some(RecipientStatus {
            peer,
            name: r.get(1)?,
            state: state_from_column(r.get(2)?, r.get(5)?, now),
            delivered_at_ms: r.get(3)?,
            surfaced_at_ms: r.get(6)?,
            surfaced_via: r.get(7)?,
            read_at_ms: r.get(8)?,
            attempts: r.get(4)?,
        }))
    })?;
    let mut recipients = Vec::new();
    for row in rows {
        if let Some(status) = row? {
            recipients.push(status);
        }
    }
    Ok(Some(MessageStatus {
        to,
        priority: serde_json::from_value(serde_json::Value::String(priority)).unwrap_or_default(),
        created_at,
        expires_at,
        recipients,
    }))
}

/// A delivery a receipt moved forward (what the sender is told).
#[derive(Debug, Clone)]
pub(crate) struct ReceiptChange {
    pub sender: KeyHex,
    pub id: MessageId,
    /// The row was still queued (its ack was lost or is racing the receipt): the receipt delivered it too.
    pub was_queued: bool,
}

/// A recipient's rows of one message id in the given states: found through the message (its key starts with
/// (mesh, id)), then the deliveries' UNIQUE key, since schema v5 keeps no index by recipient and message id.
/// `CROSS JOIN` fixes that order: without statistics the planner would rather walk the mesh's deliveries.
fn receipt_find_sql(from: &str) -> String {
    format!(
        "SELECT d.seq, d.sender, d.state FROM messages m
         CROSS JOIN deliveries d ON d.mesh_id=m.mesh_id AND d.sender=m.sender AND d.msg_id=m.id AND d.recipient=?2
         WHERE m.mesh_id=?1 AND m.id=?3 AND d.state IN {from}"
    )
}

/// Applies a recipient's receipt to its own deliveries of `ids`. States only move forward: surfaced settles
/// queued, delivered or expired rows (a receipt proves the copy arrived, even when its ack was lost); read settles
/// those and surfaced ones. A row that has no delivery time yet gets `now`, and its ciphertext is dropped as an ack
/// would. Ids the recipient never received change nothing.
pub(crate) fn apply_receipt(
    c: &Connection,
    mesh: &MeshId,
    recipient: &KeyHex,
    ids: &[MessageId],
    state: ReceiptState,
    via: Option<ReceiptVia>,
    now: u64,
) -> Result<Vec<ReceiptChange>, StoreError> {
    // The states a row may move forward from.
    let from = match state {
        ReceiptState::Surfaced => "(0,1,2)",
        ReceiptState::Read => "(0,1,2,3)",
    };
    let mut find = c.prepare_cached(&receipt_find_sql(from))?;
    let mut update = c.prepare_cached(match state {
        ReceiptState::Surfaced => {
            "UPDATE deliveries SET state=3, surfaced_at=?2, surfaced_via=?3, delivered_at=COALESCE(delivered_at, ?2),
                nonce=NULL, ciphertext=NULL, attempts=MAX(attempts,1)
             WHERE seq=?1 AND state IN (0,1,2)"
        }
        ReceiptState::Read => {
            "UPDATE deliveries SET state=4, read_at=?2, delivered_at=COALESCE(delivered_at, ?2), nonce=NULL, ciphertext=NULL,
                attempts=MAX(attempts,1)
             WHERE seq=?1 AND state IN (0,1,2,3)"
        }
    })?;
    let via = via.map(ReceiptVia::as_str);
    let mut changed = Vec::new();
    for id in ids {
        let rows: Vec<(u64, String, i64)> = find
            .query_map(params![mesh.as_str(), recipient.to_string(), id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (seq, sender, was) in rows {
            let Ok(sender) = sender.parse() else { continue };
            let n = match state {
                ReceiptState::Surfaced => update.execute(params![seq, now, via])?,
                ReceiptState::Read => update.execute(params![seq, now])?,
            };
            if n == 1 {
                changed.push(ReceiptChange { sender, id: id.clone(), was_queued: was == QUEUED });
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod full_store_tests {
    use super::*;

    /// A capped store filled with large queued deliveries for `bob`, as the broker sees it when its disk is full.
    fn full_store(dir: &std::path::Path) -> (Connection, MeshId, KeyHex) {
        let c = Connection::open(dir.join("full.db")).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        migrate(&c).unwrap();
        let (mesh, alice, bob, member) = (MeshId::generate(), KeyHex([1; 32]), KeyHex([2; 32]), KeyHex([3; 32]));
        create_mesh(&c, &mesh, "m", &member, 1).unwrap();
        let att = Attestation { issued_at_ms: 1, signature: "00".repeat(64) };
        upsert_peer(&c, &mesh, &alice, &member, "alice", &att, 1).unwrap();
        upsert_peer(&c, &mesh, &bob, &member, "bob", &att, 1).unwrap();
        let pages: i64 = c.pragma_query_value(None, "page_count", |r| r.get(0)).unwrap();
        c.pragma_update(None, "max_page_count", pages + 64).unwrap();
        let ct = "c".repeat(27_000);
        for i in 0.. {
            let id = MessageId::generate();
            let m = NewMessage {
                mesh: &mesh,
                sender: &alice,
                sender_member: &member,
                id: &id,
                to: "bob",
                priority: Priority::Next,
                now: 1,
                expires_at: u64::MAX / 2,
            };
            match insert_message(&c, &m, &[(bob, "n".into(), ct.clone())]) {
                Ok(_) => assert!(i < 1000, "the cap never applied"),
                Err(StoreError::Full) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        (c, mesh, bob)
    }

    #[test]
    fn a_full_store_still_hands_out_and_acknowledges_what_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (c, mesh, bob) = full_store(dir.path());
        // The backlog goes out, inside a transaction as the store's writer runs it, and the transaction survives (its
        // attempt counters may not move: rewriting a large row needs free pages)...
        c.execute_batch("BEGIN IMMEDIATE").unwrap();
        let first = fetch_pending(&c, &mesh, &bob, 0, 256, 2).expect("a full store still reads the backlog");
        assert!(first.len() > 3, "{}", first.len());
        let again = fetch_by_seq(&c, &bob, &[first[0].delivery], 2).expect("and redelivers");
        assert_eq!(again.len(), 1);
        let later = fetch_pending(&c, &mesh, &bob, 0, 256, 2).expect("and pushes again on a new connection");
        assert_eq!(later.len(), first.len());
        // ...and its acknowledgement frees the space the next send needs.
        let seqs: Vec<u64> = first.iter().map(|d| d.delivery).collect();
        assert_eq!(ack(&c, &mesh, &bob, &seqs, 3).unwrap().len(), seqs.len());
        assert!(!c.is_autocommit(), "SQLite rolled the transaction back");
        c.execute_batch("COMMIT").unwrap();
        assert!(fetch_pending(&c, &mesh, &bob, 0, 256, 3).unwrap().is_empty());
        let id = MessageId::generate();
        let (alice, member) = (KeyHex([1; 32]), KeyHex([3; 32]));
        let m = NewMessage {
            mesh: &mesh,
            sender: &alice,
            sender_member: &member,
            id: &id,
            to: "bob",
            priority: Priority::Next,
            now: 4,
            expires_at: u64::MAX / 2,
        };
        insert_message(&c, &m, &[(bob, "n".into(), "c".repeat(27_000))]).expect("room again after the acks");
    }
}

#[cfg(test)]
mod schema_v5_tests {
    use super::*;

    /// The messaging tables as schema v4 left them (v1 plus the v2–v4 steps), verbatim.
    const SCHEMA_V4: &str = "BEGIN;
        CREATE TABLE meshes(id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_key TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE members(mesh_id TEXT NOT NULL REFERENCES meshes(id), member_key TEXT NOT NULL, role TEXT NOT NULL,
            name TEXT NOT NULL, joined_at INTEGER NOT NULL, invite_id TEXT, PRIMARY KEY(mesh_id, member_key));
        CREATE TABLE peers(mesh_id TEXT NOT NULL, session_key TEXT NOT NULL, member_key TEXT NOT NULL, name TEXT NOT NULL,
            attest_at INTEGER NOT NULL, attest_sig TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'idle',
            summary TEXT NOT NULL DEFAULT '', visible INTEGER NOT NULL DEFAULT 1, groups TEXT NOT NULL DEFAULT '[]',
            last_seen INTEGER NOT NULL, created_at INTEGER NOT NULL,
            PRIMARY KEY(mesh_id, session_key), UNIQUE(mesh_id, name));
        CREATE TABLE invites(id TEXT PRIMARY KEY, mesh_id TEXT NOT NULL, issuer TEXT NOT NULL, role TEXT NOT NULL,
            expires_at INTEGER NOT NULL, max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0, token TEXT NOT NULL,
            created_at INTEGER NOT NULL, revoked_at INTEGER);
        CREATE TABLE messages(mesh_id TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL, sender_member TEXT NOT NULL,
            to_spec TEXT NOT NULL, priority TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
            PRIMARY KEY(mesh_id, sender, id));
        CREATE TABLE deliveries(seq INTEGER PRIMARY KEY AUTOINCREMENT, mesh_id TEXT NOT NULL, sender TEXT NOT NULL,
            msg_id TEXT NOT NULL, recipient TEXT NOT NULL, nonce TEXT, ciphertext TEXT, state INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, delivered_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
            UNIQUE(mesh_id, sender, msg_id, recipient));
        CREATE INDEX deliveries_pending ON deliveries(mesh_id, recipient, state, seq);
        CREATE INDEX deliveries_expiry ON deliveries(state, expires_at);
        ALTER TABLE deliveries ADD COLUMN surfaced_at INTEGER;
        ALTER TABLE deliveries ADD COLUMN surfaced_via TEXT;
        ALTER TABLE deliveries ADD COLUMN read_at INTEGER;
        CREATE INDEX deliveries_by_recipient ON deliveries(mesh_id, recipient, msg_id);
        CREATE INDEX messages_by_id ON messages(mesh_id, id);
        ALTER TABLE peers ADD COLUMN cwd TEXT;
        ALTER TABLE peers ADD COLUMN branch TEXT;
        PRAGMA user_version = 4;
        COMMIT;";

    fn indexes(c: &Connection) -> Vec<String> {
        let mut st = c
            .prepare("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='deliveries' ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    /// A v4 database with a queued and a delivered message upgrades in place: its rows stay where the pump,
    /// the backlog count and receipts find them.
    #[test]
    fn a_v4_database_migrates_to_partial_indexes_and_keeps_its_deliveries() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA_V4).unwrap();
        let (mesh, alice, bob, member) = (MeshId::generate(), KeyHex([1; 32]), KeyHex([2; 32]), KeyHex([3; 32]));
        create_mesh(&c, &mesh, "m", &member, 1).unwrap();
        let att = Attestation { issued_at_ms: 1, signature: "00".repeat(64) };
        upsert_peer(&c, &mesh, &alice, &member, "alice", &att, 1).unwrap();
        upsert_peer(&c, &mesh, &bob, &member, "bob", &att, 1).unwrap();
        let (queued, delivered) = (MessageId::generate(), MessageId::generate());
        for id in [&queued, &delivered] {
            let m = NewMessage {
                mesh: &mesh,
                sender: &alice,
                sender_member: &member,
                id,
                to: "bob",
                priority: Priority::Next,
                now: 1,
                expires_at: 1_000,
            };
            insert_message(&c, &m, &[(bob, "n".into(), "c".into())]).unwrap();
        }
        let old = fetch_pending(&c, &mesh, &bob, 0, 10, 2).unwrap();
        assert_eq!(old.len(), 2);
        let d_seq = old.iter().find(|d| d.id == delivered).unwrap().delivery;
        assert_eq!(ack(&c, &mesh, &bob, &[d_seq], 3).unwrap().len(), 1);

        migrate(&c).unwrap();
        let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 6);
        let messages: i64 = c.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
        assert_eq!(messages, 2, "v6 rebuilt the messages table with its rows");
        assert_eq!(indexes(&c), ["deliveries_expiry", "deliveries_pending", "sqlite_autoindex_deliveries_1"]);
        let pending = fetch_pending(&c, &mesh, &bob, 0, 10, 4).unwrap();
        assert_eq!(pending.iter().map(|d| &d.id).collect::<Vec<_>>(), [&queued]);
        assert_eq!(backlog(&c, &mesh, &bob, 4).unwrap(), (pending[0].delivery, 1));
        let read =
            apply_receipt(&c, &mesh, &bob, std::slice::from_ref(&delivered), ReceiptState::Read, None, 5).unwrap();
        assert_eq!(read.len(), 1);
        assert!(!read[0].was_queued);
        let surfaced = apply_receipt(
            &c,
            &mesh,
            &bob,
            std::slice::from_ref(&queued),
            ReceiptState::Surfaced,
            Some(ReceiptVia::Channel),
            5,
        )
        .unwrap();
        assert!(surfaced[0].was_queued);
        assert!(fetch_pending(&c, &mesh, &bob, 0, 10, 6).unwrap().is_empty());
        assert_eq!(expire(&c, 2_000).unwrap(), 0, "nothing queued is left to expire");
        // Migrating again changes nothing.
        migrate(&c).unwrap();
        assert_eq!(indexes(&c).len(), 3);
    }

    fn plan(c: &Connection, sql: &str) -> String {
        let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        // Unbound parameters are NULL, which is all a plan needs.
        let mut rows = st.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            out.push(r.get::<_, String>(3).unwrap());
        }
        out.join(" | ")
    }

    /// Every delivery query stays on an index after v5 (a scan of `deliveries` would run on the writer thread for
    /// every send behind it).
    #[test]
    fn delivery_queries_use_the_v5_indexes() {
        let c = Connection::open_in_memory().unwrap();
        migrate(&c).unwrap();
        let expect = [
            (pending_sql(), "d USING INDEX deliveries_pending"),
            (BACKLOG_SQL.to_string(), "deliveries USING INDEX deliveries_pending"),
            (REMOVE_QUEUED_SQL.to_string(), "deliveries USING INDEX deliveries_pending"),
            (EXPIRE_SQL.to_string(), "deliveries USING INDEX deliveries_expiry"),
            (ACK_SQL.to_string(), "deliveries USING INTEGER PRIMARY KEY"),
            (receipt_find_sql("(0,1,2)"), "d USING INDEX sqlite_autoindex_deliveries_1"),
        ];
        for (sql, wanted) in expect {
            let p = plan(&c, &sql);
            assert!(p.contains(wanted), "{sql}\n→ {p}");
            assert!(!p.contains("SCAN d ") && !p.ends_with("SCAN d") && !p.contains("SCAN deliveries"), "{sql}\n→ {p}");
        }
        let receipt = plan(&c, &receipt_find_sql("(0,1,2)"));
        assert!(receipt.contains("m USING PRIMARY KEY (mesh_id=? AND id=?)"), "{receipt}");
        let status = plan(&c, "SELECT sender FROM messages WHERE mesh_id=?1 AND id=?2 AND sender_member=?3");
        assert!(status.contains("USING PRIMARY KEY (mesh_id=? AND id=?)"), "{status}");
        let deliver = plan(&c, &pending_sql());
        assert!(deliver.contains("m USING PRIMARY KEY (mesh_id=? AND id=? AND sender=?)"), "{deliver}");
    }
}

#[cfg(test)]
mod attempt_tests {
    use super::*;

    fn one_queued(c: &Connection) -> (MeshId, KeyHex) {
        migrate(c).unwrap();
        let (mesh, alice, bob, member) = (MeshId::generate(), KeyHex([1; 32]), KeyHex([2; 32]), KeyHex([3; 32]));
        create_mesh(c, &mesh, "m", &member, 1).unwrap();
        let att = Attestation { issued_at_ms: 1, signature: "00".repeat(64) };
        upsert_peer(c, &mesh, &alice, &member, "alice", &att, 1).unwrap();
        upsert_peer(c, &mesh, &bob, &member, "bob", &att, 1).unwrap();
        let id = MessageId::generate();
        let m = NewMessage {
            mesh: &mesh,
            sender: &alice,
            sender_member: &member,
            id: &id,
            to: "bob",
            priority: Priority::Next,
            now: 1,
            expires_at: 1_000,
        };
        insert_message(c, &m, &[(bob, "n".into(), "c".into())]).unwrap();
        (mesh, bob)
    }

    fn attempts(c: &Connection) -> i64 {
        c.query_row("SELECT attempts FROM deliveries", [], |r| r.get(0)).unwrap()
    }

    /// The first push leaves the row alone and its ack counts it; a redelivery still says so (timeout on the same
    /// connection, or after the connection closed with it unacknowledged) and is counted.
    #[test]
    fn first_push_is_counted_by_the_ack_and_redeliveries_still_grow() {
        let c = Connection::open_in_memory().unwrap();
        let (mesh, bob) = one_queued(&c);
        let first = fetch_pending(&c, &mesh, &bob, 0, 10, 2).unwrap();
        assert_eq!(first[0].attempt, 1);
        assert_eq!(attempts(&c), 0, "the first push does not rewrite the row");
        let again = fetch_by_seq(&c, &bob, &[first[0].delivery], 2).unwrap();
        assert_eq!(again[0].attempt, 2, "an ack-timeout redelivery");
        assert_eq!(attempts(&c), 2);
        assert_eq!(ack(&c, &mesh, &bob, &[first[0].delivery], 3).unwrap().len(), 1);
        assert_eq!(attempts(&c), 2);

        let c = Connection::open_in_memory().unwrap();
        let (mesh, bob) = one_queued(&c);
        let first = fetch_pending(&c, &mesh, &bob, 0, 10, 2).unwrap();
        count_first_pushes(&c, &[first[0].delivery]).unwrap();
        count_first_pushes(&c, &[first[0].delivery]).unwrap();
        assert_eq!(attempts(&c), 1, "counted once however often the close is seen");
        let next = fetch_pending(&c, &mesh, &bob, 0, 10, 2).unwrap();
        assert_eq!(next[0].attempt, 2, "pushed again on the next connection");
        bump_attempts_of(&c, &[(next[0].delivery, 2)]).unwrap();
        assert_eq!(attempts(&c), 2);
        ack(&c, &mesh, &bob, &[next[0].delivery], 3).unwrap();
        assert_eq!(attempts(&c), 2);

        let c = Connection::open_in_memory().unwrap();
        let (mesh, bob) = one_queued(&c);
        let first = fetch_pending(&c, &mesh, &bob, 0, 10, 2).unwrap();
        ack(&c, &mesh, &bob, &[first[0].delivery], 3).unwrap();
        assert_eq!(attempts(&c), 1, "the ack counts the first push");
        count_first_pushes(&c, &[first[0].delivery]).unwrap();
        assert_eq!(attempts(&c), 1, "an acked row is left alone");
    }
}
