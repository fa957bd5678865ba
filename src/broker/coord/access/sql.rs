//! Store queries of roles, grants, blocks and bans, and the whole-mesh delete. Run on the store thread.

use rusqlite::{Connection, OptionalExtension, params};

use crate::broker::db::StoreError;
use crate::proto::{AccessEntry, CapSet, Capability, KeyHex, MeshId, Rights, Role};

const PART: &str = "access";

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if super::super::part_version(c, PART)? < 1 {
        let tx = c.unchecked_transaction()?;
        tx.execute_batch(
            "CREATE TABLE access_grants(mesh_id TEXT NOT NULL, member_key TEXT NOT NULL, cap TEXT NOT NULL,
                granted INTEGER NOT NULL, PRIMARY KEY(mesh_id, member_key, cap));
            CREATE TABLE access_blocks(mesh_id TEXT NOT NULL, member_key TEXT NOT NULL, blocked_by TEXT NOT NULL,
                at_ms INTEGER NOT NULL, PRIMARY KEY(mesh_id, member_key));
            CREATE TABLE access_bans(mesh_id TEXT NOT NULL, member_key TEXT NOT NULL, name TEXT NOT NULL,
                role TEXT NOT NULL, banned_by TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY(mesh_id, member_key));",
        )?;
        super::super::set_part_version(&tx, PART, 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// A member's rights and its name — the display name of its most recently seen session, else the name it joined
/// with (the owner joins with none: "owner"); `None` when the key is not a member of the mesh.
pub(super) fn load(c: &Connection, mesh: &MeshId, member: &KeyHex) -> Result<Option<(Rights, String)>, StoreError> {
    let (m, k) = (mesh.as_str(), member.to_string());
    let row: Option<(String, String)> = c
        .query_row(
            "SELECT role, COALESCE((SELECT p.name FROM peers p WHERE p.mesh_id = members.mesh_id
                 AND p.member_key = members.member_key ORDER BY p.last_seen DESC LIMIT 1), name)
             FROM members WHERE mesh_id=?1 AND member_key=?2",
            params![m, k],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((role, name)) = row else { return Ok(None) };
    let Some(role) = Role::parse(&role) else { return Ok(None) };
    let mut rights = Rights::of_role(role);
    let mut st = c.prepare_cached("SELECT cap, granted FROM access_grants WHERE mesh_id=?1 AND member_key=?2")?;
    let rows = st.query_map(params![m, k], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
    for row in rows {
        let (cap, granted) = row?;
        // A name this build does not know (written by a newer broker) grants nothing.
        let Some(cap) = Capability::parse(&cap) else { continue };
        if granted {
            rights.granted = rights.granted.union(CapSet::of(&[cap]));
        } else {
            rights.revoked = rights.revoked.union(CapSet::of(&[cap]));
        }
    }
    rights.blocked = c
        .query_row("SELECT 1 FROM access_blocks WHERE mesh_id=?1 AND member_key=?2", params![m, k], |_| Ok(()))
        .optional()?
        .is_some();
    Ok(Some((rights, name)))
}

/// The member a `peer` reference names: a member key, a session key, a session's display name, or the name a
/// member joined with (when exactly one member has it).
pub(super) fn resolve(c: &Connection, mesh: &MeshId, peer: &str) -> Result<Option<KeyHex>, StoreError> {
    let m = mesh.as_str();
    let one = |sql: &str, arg: &str| -> Result<Option<String>, StoreError> {
        Ok(c.query_row(sql, params![m, arg], |r| r.get::<_, String>(0)).optional()?)
    };
    let found = if let Ok(key) = peer.parse::<KeyHex>() {
        let k = key.to_string();
        match one("SELECT member_key FROM members WHERE mesh_id=?1 AND member_key=?2", &k)? {
            Some(f) => Some(f),
            None => one("SELECT member_key FROM peers WHERE mesh_id=?1 AND session_key=?2", &k)?,
        }
    } else {
        match one("SELECT member_key FROM peers WHERE mesh_id=?1 AND name=?2", peer)? {
            Some(f) => Some(f),
            None => {
                let mut st = c.prepare_cached("SELECT member_key FROM members WHERE mesh_id=?1 AND name=?2 LIMIT 2")?;
                let keys: Vec<String> =
                    st.query_map(params![m, peer], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                if keys.len() == 1 { keys.into_iter().next() } else { None }
            }
        }
    };
    Ok(found.and_then(|k| k.parse().ok()))
}

/// A banned key a `peer` reference names (its member key or the name it had): (key, name, role it had).
pub(super) fn resolve_banned(
    c: &Connection,
    mesh: &MeshId,
    peer: &str,
) -> Result<Option<(KeyHex, String, Role)>, StoreError> {
    let key = peer.parse::<KeyHex>().map(|k| k.to_string()).unwrap_or_default();
    let row: Option<(String, String, String)> = c
        .query_row(
            "SELECT member_key, name, role FROM access_bans WHERE mesh_id=?1 AND (member_key=?2 OR name=?3)
             ORDER BY member_key LIMIT 1",
            params![mesh.as_str(), key, peer],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row.and_then(|(k, n, r)| Some((k.parse().ok()?, n, Role::parse(&r).unwrap_or(Role::Guest)))))
}

pub(crate) fn is_banned(c: &Connection, mesh: &MeshId, member: &KeyHex) -> Result<bool, StoreError> {
    Ok(c.query_row(
        "SELECT 1 FROM access_bans WHERE mesh_id=?1 AND member_key=?2",
        params![mesh.as_str(), member.to_string()],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// Grants (`granted`) or revokes `caps` for a member; a grant undoes a revoke of the same capability and back.
pub(super) fn set_caps(
    c: &Connection,
    mesh: &MeshId,
    member: &KeyHex,
    caps: &[Capability],
    granted: bool,
) -> Result<(), StoreError> {
    let mut st = c.prepare_cached(
        "INSERT INTO access_grants(mesh_id, member_key, cap, granted) VALUES(?1, ?2, ?3, ?4)
         ON CONFLICT(mesh_id, member_key, cap) DO UPDATE SET granted=?4",
    )?;
    for cap in caps {
        st.execute(params![mesh.as_str(), member.to_string(), cap.as_str(), granted])?;
    }
    Ok(())
}

pub(super) fn set_blocked(
    c: &Connection,
    mesh: &MeshId,
    member: &KeyHex,
    by: &KeyHex,
    now: u64,
    blocked: bool,
) -> Result<(), StoreError> {
    let (m, k) = (mesh.as_str(), member.to_string());
    if blocked {
        c.execute(
            "INSERT OR IGNORE INTO access_blocks(mesh_id, member_key, blocked_by, at_ms) VALUES(?1, ?2, ?3, ?4)",
            params![m, k, by.to_string(), now],
        )?;
    } else {
        c.execute("DELETE FROM access_blocks WHERE mesh_id=?1 AND member_key=?2", params![m, k])?;
    }
    Ok(())
}

pub(super) fn set_role(c: &Connection, mesh: &MeshId, member: &KeyHex, role: Role) -> Result<(), StoreError> {
    c.execute(
        "UPDATE members SET role=?3 WHERE mesh_id=?1 AND member_key=?2",
        params![mesh.as_str(), member.to_string(), role.as_str()],
    )?;
    Ok(())
}

/// Drops a departing member's grants and block, so a later rejoin starts from its new role alone.
pub(crate) fn forget_member(c: &Connection, mesh: &MeshId, member: &KeyHex) -> Result<(), StoreError> {
    let (m, k) = (mesh.as_str(), member.to_string());
    c.execute("DELETE FROM access_grants WHERE mesh_id=?1 AND member_key=?2", params![m, k])?;
    c.execute("DELETE FROM access_blocks WHERE mesh_id=?1 AND member_key=?2", params![m, k])?;
    Ok(())
}

pub(super) struct Ban<'a> {
    pub member: &'a KeyHex,
    pub name: &'a str,
    pub role: Role,
    pub by: &'a KeyHex,
    pub now: u64,
}

pub(super) fn ban(c: &Connection, mesh: &MeshId, b: &Ban<'_>) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO access_bans(mesh_id, member_key, name, role, banned_by, at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(mesh_id, member_key) DO NOTHING",
        params![mesh.as_str(), b.member.to_string(), b.name, b.role.as_str(), b.by.to_string(), b.now],
    )?;
    Ok(())
}

pub(super) fn unban(c: &Connection, mesh: &MeshId, member: &KeyHex) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM access_bans WHERE mesh_id=?1 AND member_key=?2",
        params![mesh.as_str(), member.to_string()],
    )?;
    Ok(())
}

/// One page of members and banned keys, sorted by key, after `after`; the second value is the next page's
/// cursor.
pub(super) fn list(
    c: &Connection,
    mesh: &MeshId,
    after: Option<&KeyHex>,
    limit: usize,
) -> Result<(Vec<AccessEntry>, Option<KeyHex>), StoreError> {
    let (m, after) = (mesh.as_str(), after.map(|k| k.to_string()).unwrap_or_default());
    let take = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut keys: Vec<(String, bool)> = Vec::new();
    let mut st = c.prepare_cached(
        "SELECT member_key, 0 FROM members WHERE mesh_id=?1 AND member_key>?2
         UNION ALL SELECT member_key, 1 FROM access_bans WHERE mesh_id=?1 AND member_key>?2
         ORDER BY 1 LIMIT ?3",
    )?;
    for row in st.query_map(params![m, after, take], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))? {
        keys.push(row?);
    }
    let more = keys.len() > limit;
    keys.truncate(limit);
    let mut out = Vec::with_capacity(keys.len());
    for (key, banned) in &keys {
        let Ok(k) = key.parse::<KeyHex>() else { continue };
        if *banned {
            if let Some((_, name, role)) = resolve_banned(c, mesh, key)? {
                out.push(AccessEntry::banned(k, name, role));
            }
        } else if let Some((rights, name)) = load(c, mesh, &k)? {
            out.push(AccessEntry::member(k, name, &rights));
        }
    }
    let next = if more { out.last().map(|e| e.member) } else { None };
    Ok((out, next))
}

/// Every session key of the mesh (to end their presence once the mesh is gone).
pub(super) fn sessions(c: &Connection, mesh: &MeshId) -> Result<Vec<KeyHex>, StoreError> {
    let mut st = c.prepare_cached("SELECT session_key FROM peers WHERE mesh_id=?1")?;
    let keys: Vec<String> = st.query_map([mesh.as_str()], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(keys.into_iter().filter_map(|k| k.parse().ok()).collect())
}

/// Deletes every row of the mesh: each table with a `mesh_id` column (found in the schema, so tables added later
/// are covered), then the mesh itself. External-content full-text indexes are left to their triggers.
pub(super) fn delete_mesh(c: &Connection, mesh: &MeshId) -> Result<(), StoreError> {
    let mut st = c.prepare(
        "SELECT m.name FROM sqlite_master m WHERE m.type='table'
           AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name='mesh_id')
           AND NOT (m.sql LIKE 'CREATE VIRTUAL TABLE%' AND m.sql LIKE '%content%=%')
         ORDER BY m.name",
    )?;
    let mut pending: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    // Tables may reference each other: a delete a foreign key refuses is retried after the others, until a pass
    // makes no progress.
    loop {
        let before = pending.len();
        let mut refused = None;
        pending.retain(|t| {
            let sql = format!("DELETE FROM \"{}\" WHERE mesh_id=?1", t.replace('"', "\"\""));
            match c.execute(&sql, [mesh.as_str()]) {
                Ok(_) => false,
                Err(e) => {
                    refused = Some(e);
                    true
                }
            }
        });
        match refused {
            None => break,
            Some(e) if pending.len() == before => return Err(e.into()),
            Some(_) => {}
        }
    }
    c.execute("DELETE FROM meshes WHERE id=?1", [mesh.as_str()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> KeyHex {
        KeyHex([n; 32])
    }

    #[test]
    fn peers_resolve_by_member_key_session_key_and_names_and_pages_cover_bans() {
        let c = Connection::open_in_memory().expect("db");
        crate::broker::store::migrate(&c).expect("migrate");
        let mesh = MeshId::generate();
        crate::broker::store::create_mesh(&c, &mesh, "team", &key(1), 1).expect("mesh");
        crate::broker::store::add_member(&c, &mesh, &key(2), Role::Member, "worker", "inv", 1).expect("member");
        c.execute(
            "INSERT INTO peers(mesh_id,session_key,member_key,name,attest_at,attest_sig,last_seen,created_at)
             VALUES(?1,?2,?3,'worker-laptop',1,'',1,1)",
            params![mesh.as_str(), key(9).to_string(), key(2).to_string()],
        )
        .expect("peer");
        for r in [key(2).to_string(), key(9).to_string(), "worker-laptop".into(), "worker".into()] {
            assert_eq!(resolve(&c, &mesh, &r).expect("resolve"), Some(key(2)), "{r}");
        }
        assert_eq!(resolve(&c, &mesh, "nobody").expect("resolve"), None);
        assert_eq!(resolve(&c, &mesh, &key(7).to_string()).expect("resolve"), None);

        set_caps(&c, &mesh, &key(2), &[Capability::ClockWrite, Capability::Dm], true).expect("grant");
        set_caps(&c, &mesh, &key(2), &[Capability::Dm], false).expect("revoke");
        let (rights, name) = load(&c, &mesh, &key(2)).expect("load").expect("member");
        assert_eq!(
            (rights.granted, rights.revoked, name.as_str()),
            // The name its session goes by wins over the one it joined with.
            (CapSet::of(&[Capability::ClockWrite]), CapSet::of(&[Capability::Dm]), "worker-laptop")
        );

        let b = Ban { member: &key(5), name: "gone", role: Role::Guest, by: &key(1), now: 1 };
        ban(&c, &mesh, &b).expect("ban");
        assert_eq!(resolve_banned(&c, &mesh, "gone").expect("banned").map(|b| b.0), Some(key(5)));
        let (first, next) = list(&c, &mesh, None, 2).expect("page");
        assert_eq!(first.iter().map(|e| e.member).collect::<Vec<_>>(), [key(1), key(2)]);
        assert_eq!(next, Some(key(2)));
        let (rest, next) = list(&c, &mesh, Some(&key(2)), 2).expect("page");
        assert_eq!((rest.len(), rest[0].banned, next), (1, true, None));
    }

    #[test]
    fn delete_mesh_empties_every_table_with_a_mesh_id_including_new_ones() {
        let c = Connection::open_in_memory().expect("db");
        c.pragma_update(None, "foreign_keys", "ON").expect("fk");
        crate::broker::store::migrate(&c).expect("migrate");
        c.execute_batch(
            "CREATE TABLE later_a(mesh_id TEXT NOT NULL, id TEXT PRIMARY KEY);
             CREATE TABLE later_b(mesh_id TEXT NOT NULL, parent TEXT REFERENCES later_a(id));
             CREATE VIRTUAL TABLE later_fts USING fts5(mesh_id UNINDEXED, body);",
        )
        .expect("tables");
        let (a, b) = (MeshId::generate(), MeshId::generate());
        for m in [&a, &b] {
            let owner = KeyHex(crate::crypto::random_bytes::<32>().expect("rand"));
            crate::broker::store::create_mesh(&c, m, "team", &owner, 1).expect("mesh");
            c.execute("INSERT INTO later_a VALUES(?1, ?2)", params![m.as_str(), format!("p{m}")]).expect("p");
            c.execute("INSERT INTO later_b VALUES(?1, ?2)", params![m.as_str(), format!("p{m}")]).expect("c");
            c.execute("INSERT INTO later_fts VALUES(?1, 'hello')", [m.as_str()]).expect("f");
            set_blocked(&c, m, &owner, &owner, 1, true).expect("block");
        }
        delete_mesh(&c, &a).expect("delete");
        for (table, col) in [
            ("meshes", "id"),
            ("members", "mesh_id"),
            ("later_a", "mesh_id"),
            ("later_b", "mesh_id"),
            ("later_fts", "mesh_id"),
            ("access_blocks", "mesh_id"),
        ] {
            let count = |m: &MeshId| -> i64 {
                c.query_row(&format!("SELECT count(*) FROM {table} WHERE {col}=?1"), [m.as_str()], |r| r.get(0))
                    .expect("count")
            };
            assert_eq!(count(&a), 0, "{table} still holds the deleted mesh");
            assert_eq!(count(&b), 1, "{table} lost the other mesh");
        }
    }
}
