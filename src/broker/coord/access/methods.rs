//! The `access.*` and `mesh.delete` requests: each decides and writes in one store job, then updates the cache,
//! tells the affected member (`access.changed`) and closes the connections of a removed member.

use rusqlite::Connection;
use serde_json::{Value, json};

use super::sql;
use crate::broker::conn::now_ms;
use crate::broker::coord::{Ctx, parse, store_err, to_value};
use crate::broker::db::StoreError;
use crate::broker::hub::Outbound;
use crate::broker::store;
use crate::proto::{
    self, AccessAction, AccessCapsParams, AccessEntry, AccessKickResult, AccessListParams, AccessListResult,
    AccessPeerParams, AccessRoleParams, Capability, CloseCode, ErrorCode, KeyHex, MAX_ACCESS_LIST, MAX_PEER_REF,
    MeshDeleteParams, MeshDeleteResult, MeshId, Role, RpcError, cmethod, method, refuse_action,
};

pub(super) async fn handle(ctx: &Ctx<'_>, name: &str, params: Value) -> Result<Value, RpcError> {
    match name {
        cmethod::ACCESS_LIST => list(ctx, parse(params)?).await,
        cmethod::ACCESS_GRANT | cmethod::ACCESS_REVOKE => {
            let p: AccessCapsParams = parse(params)?;
            check_peer(&p.peer)?;
            if p.caps.is_empty() || p.caps.len() > Capability::ALL.len() {
                return Err(invalid(format!("caps lists 1 to {} capabilities", Capability::ALL.len())));
            }
            let grant = name == cmethod::ACCESS_GRANT;
            change(ctx, p.peer, AccessAction::Manage, move |c, mesh, target| {
                sql::set_caps(c, mesh, target, &p.caps, grant)
            })
            .await
        }
        cmethod::ACCESS_BLOCK | cmethod::ACCESS_UNBLOCK => {
            let p: AccessPeerParams = parse(params)?;
            check_peer(&p.peer)?;
            let (block, by, now) = (name == cmethod::ACCESS_BLOCK, *ctx.member, now_ms());
            change(ctx, p.peer, AccessAction::Manage, move |c, mesh, target| {
                sql::set_blocked(c, mesh, target, &by, now, block)
            })
            .await
        }
        cmethod::ACCESS_ROLE => {
            let p: AccessRoleParams = parse(params)?;
            check_peer(&p.peer)?;
            if p.role == Role::Owner {
                return Err(invalid("role is guest, member or admin; the owner cannot be handed over"));
            }
            change(ctx, p.peer, AccessAction::ChangeRole, move |c, mesh, target| sql::set_role(c, mesh, target, p.role))
                .await
        }
        cmethod::ACCESS_KICK | cmethod::ACCESS_BAN => {
            let p: AccessPeerParams = parse(params)?;
            check_peer(&p.peer)?;
            remove(ctx, p.peer, name == cmethod::ACCESS_BAN).await
        }
        cmethod::ACCESS_UNBAN => {
            let p: AccessPeerParams = parse(params)?;
            check_peer(&p.peer)?;
            unban(ctx, p.peer).await
        }
        cmethod::MESH_DELETE => {
            let _: MeshDeleteParams = parse(params)?;
            delete_mesh(ctx).await
        }
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {name}"))),
    }
}

fn invalid(msg: impl Into<String>) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, msg)
}

fn check_peer(peer: &str) -> Result<(), RpcError> {
    if peer.is_empty() || peer.len() > MAX_PEER_REF || peer.chars().any(char::is_control) {
        return Err(invalid(format!("peer is a name or key of 1 to {MAX_PEER_REF} bytes")));
    }
    Ok(())
}

fn rejected(code: ErrorCode, msg: impl Into<String>) -> StoreError {
    StoreError::Rejected(code, msg.into())
}

fn no_member(peer: &str) -> StoreError {
    rejected(ErrorCode::NotFound, format!("no member of this mesh is called or keyed {peer}; see access.list"))
}

/// The caller's role as the store has it (a request from a member removed meanwhile is refused).
fn actor_role(c: &Connection, mesh: &MeshId, actor: &KeyHex) -> Result<Role, StoreError> {
    store::member_role(c, mesh, actor)?.ok_or_else(|| rejected(ErrorCode::NotMember, super::removed().message))
}

/// Sends `access.changed` (the member's new entry) to the member's receiving connections.
fn tell(ctx: &Ctx<'_>, entry: &AccessEntry) {
    let Ok(v) = serde_json::to_value(entry) else { return };
    let text = proto::encode_notification(cmethod::ACCESS_CHANGED, &v);
    for conn in ctx.shared.coord.access.conns_of(ctx.mesh, &entry.member) {
        if conn.receiving {
            let _ = conn.out.try_send(Outbound::Text(text.clone()));
        }
    }
}

async fn list(ctx: &Ctx<'_>, p: AccessListParams) -> Result<Value, RpcError> {
    let limit = p.limit.unwrap_or(MAX_ACCESS_LIST);
    if !(1..=MAX_ACCESS_LIST).contains(&limit) {
        return Err(invalid(format!("limit is 1 to {MAX_ACCESS_LIST}")));
    }
    if let Some(peer) = &p.peer {
        check_peer(peer)?;
    }
    let mesh = ctx.mesh.clone();
    let (members, next) = ctx
        .shared
        .db
        .read(move |c| {
            let Some(peer) = p.peer else { return sql::list(c, &mesh, p.after.as_ref(), limit) };
            if let Some(key) = sql::resolve(c, &mesh, &peer)?
                && let Some((rights, name)) = sql::load(c, &mesh, &key)?
            {
                return Ok((vec![AccessEntry::member(key, name, &rights)], None));
            }
            match sql::resolve_banned(c, &mesh, &peer)? {
                Some((key, name, role)) => Ok((vec![AccessEntry::banned(key, name, role)], None)),
                None => Err(no_member(&peer)),
            }
        })
        .await
        .map_err(store_err)?;
    to_value(&AccessListResult { members, next })
}

/// A change to a member's rights: who may make it is decided, the change written and the new rights read back
/// in one store job; then the cache and the member hear of it.
async fn change<F>(ctx: &Ctx<'_>, peer: String, action: AccessAction, op: F) -> Result<Value, RpcError>
where
    F: FnOnce(&Connection, &MeshId, &KeyHex) -> Result<(), StoreError> + Send + 'static,
{
    let (mesh, actor, stamps) = (ctx.mesh.clone(), *ctx.member, ctx.shared.coord.access.stamps());
    let (target, name, rights, stamp) = ctx
        .shared
        .db
        .run(move |c| {
            let actor_role = actor_role(c, &mesh, &actor)?;
            let target = sql::resolve(c, &mesh, &peer)?.ok_or_else(|| no_member(&peer))?;
            let (before, _) = sql::load(c, &mesh, &target)?.ok_or_else(|| no_member(&peer))?;
            if let Some(why) = refuse_action(actor_role, before.role, action) {
                return Err(rejected(ErrorCode::Forbidden, why));
            }
            op(c, &mesh, &target)?;
            let (after, name) = sql::load(c, &mesh, &target)?.ok_or_else(|| no_member(&peer))?;
            Ok((target, name, after, stamps.next()))
        })
        .await
        .map_err(store_err)?;
    ctx.shared.coord.access.apply(ctx.mesh, &target, stamp, Some(rights));
    let entry = AccessEntry::member(target, name, &rights);
    tell(ctx, &entry);
    to_value(&entry)
}

/// Closes every live connection of a member that is no longer in the mesh and ends its sessions' presence
/// (others hear `peer.left`). Returns how many sessions had a live connection.
fn disconnect(
    ctx: &Ctx<'_>,
    mesh: &MeshId,
    member: &KeyHex,
    sessions: &[(KeyHex, String)],
    reason: &'static str,
) -> u64 {
    let hub = &ctx.shared.hub;
    let conns = ctx.shared.coord.access.conns_of(mesh, member);
    let mut live: Vec<KeyHex> = conns.iter().map(|c| c.peer).collect();
    live.extend(sessions.iter().map(|(p, _)| *p).filter(|p| hub.is_present(mesh, p)));
    live.sort();
    live.dedup();
    for conn in &conns {
        let _ = conn.out.try_send(Outbound::Close(CloseCode::Removed, reason));
    }
    for (peer, name) in sessions {
        hub.remove(mesh, peer, Some(CloseCode::Removed));
        let text = proto::encode_notification(
            method::PEER_LEFT,
            &json!(proto::PeerLeftParams { id: *peer, name: name.clone() }),
        );
        hub.broadcast(mesh, Some(peer), &text);
    }
    live.len() as u64
}

/// `access.kick` and `access.ban`: the member leaves the mesh at once (its sessions, queued deliveries, grants
/// and block go); a ban also keeps its key out.
async fn remove(ctx: &Ctx<'_>, peer: String, ban: bool) -> Result<Value, RpcError> {
    let (mesh, actor, stamps, now) = (ctx.mesh.clone(), *ctx.member, ctx.shared.coord.access.stamps(), now_ms());
    let (target, name, role, sessions, stamp) = ctx
        .shared
        .db
        .run(move |c| {
            let actor_role = actor_role(c, &mesh, &actor)?;
            let target = sql::resolve(c, &mesh, &peer)?.ok_or_else(|| no_member(&peer))?;
            let (rights, name) = sql::load(c, &mesh, &target)?.ok_or_else(|| no_member(&peer))?;
            if let Some(why) = refuse_action(actor_role, rights.role, AccessAction::Manage) {
                return Err(rejected(ErrorCode::Forbidden, why));
            }
            let sessions = store::remove_member(c, &mesh, &target)?;
            sql::forget_member(c, &mesh, &target)?;
            if ban {
                let b = sql::Ban { member: &target, name: &name, role: rights.role, by: &actor, now };
                sql::ban(c, &mesh, &b)?;
            }
            Ok((target, name, rights.role, sessions, stamps.next()))
        })
        .await
        .map_err(store_err)?;
    ctx.shared.coord.access.apply(ctx.mesh, &target, stamp, None);
    let reason = if ban { "banned from the mesh" } else { "removed from the mesh" };
    let kicked = disconnect(ctx, ctx.mesh, &target, &sessions, reason);
    tracing::info!(mesh = %ctx.mesh, member = %target.short(), ban, kicked, "member removed");
    if ban { to_value(&AccessEntry::banned(target, name, role)) } else { to_value(&AccessKickResult { kicked }) }
}

async fn unban(ctx: &Ctx<'_>, peer: String) -> Result<Value, RpcError> {
    let (mesh, actor) = (ctx.mesh.clone(), *ctx.member);
    let (target, name, role) = ctx
        .shared
        .db
        .run(move |c| {
            let actor_role = actor_role(c, &mesh, &actor)?;
            let (target, name, role) = sql::resolve_banned(c, &mesh, &peer)?.ok_or_else(|| {
                rejected(ErrorCode::NotFound, format!("no banned key matches {peer}; see access.list"))
            })?;
            if let Some(why) = refuse_action(actor_role, role, AccessAction::Manage) {
                return Err(rejected(ErrorCode::Forbidden, why));
            }
            sql::unban(c, &mesh, &target)?;
            Ok((target, name, role))
        })
        .await
        .map_err(store_err)?;
    let mut entry = AccessEntry::banned(target, name, role);
    entry.banned = false;
    to_value(&entry)
}

/// `mesh.delete`: the owner removes the mesh and every row of it; every connection of the mesh closes (the
/// caller's own after this reply).
async fn delete_mesh(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    let (mesh, actor, stamps) = (ctx.mesh.clone(), *ctx.member, ctx.shared.coord.access.stamps());
    let (sessions, stamp) = ctx
        .shared
        .db
        .run(move |c| {
            if actor_role(c, &mesh, &actor)? != Role::Owner {
                return Err(rejected(ErrorCode::Forbidden, "forbidden: only the owner can delete the mesh"));
            }
            let sessions = sql::sessions(c, &mesh)?;
            sql::delete_mesh(c, &mesh)?;
            Ok((sessions, stamps.next()))
        })
        .await
        .map_err(store_err)?;
    let (access, hub) = (&ctx.shared.coord.access, &ctx.shared.hub);
    let mut own_receiving = false;
    for (member, conns) in access.members_of(ctx.mesh) {
        access.apply(ctx.mesh, &member, stamp, None);
        for conn in conns {
            if conn.id == ctx.conn {
                own_receiving = conn.receiving;
            } else {
                let _ = conn.out.try_send(Outbound::Close(CloseCode::Removed, "the mesh was deleted"));
            }
        }
    }
    for peer in &sessions {
        // The caller's receiving connection closes itself after sending this reply.
        let own = own_receiving && peer == ctx.peer;
        hub.remove(ctx.mesh, peer, if own { None } else { Some(CloseCode::Removed) });
    }
    tracing::info!(mesh = %ctx.mesh, sessions = sessions.len(), "mesh deleted");
    to_value(&MeshDeleteResult { deleted: true })
}
