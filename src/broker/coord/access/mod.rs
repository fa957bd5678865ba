//! Roles, per-member grants, blocks, kicks, bans and mesh deletion, enforced on every request (docs/coordination.md
//! "Roles and grants"): the check reads an in-memory cache the access methods keep current.

mod cache;
mod methods;
pub(crate) mod sql;

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;

pub(crate) use cache::{AccessCache, ConnRef, Stamps};

use super::Ctx;
use crate::broker::conn::Shared;
use crate::broker::db::StoreError;
use crate::proto::{Capability, ErrorCode, KeyHex, MeshId, Rights, Role, RpcError};

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    sql::migrate(c)
}

/// Refuses with `forbidden: missing capability X` unless `member` holds `cap` in `mesh` now: its role, grants,
/// revocations and block as of this request (`role` is the connection's role at `auth.hello`, used only when the
/// cache has not loaded the member, which an authenticated connection never sees).
pub(crate) fn check(
    shared: &Arc<Shared>,
    mesh: &MeshId,
    member: &KeyHex,
    role: Role,
    cap: Capability,
) -> Result<(), RpcError> {
    let rights = match shared.coord.access.get(mesh, member) {
        Some(Some(r)) => r,
        Some(None) => return Err(removed()),
        None => Rights::of_role(role),
    };
    match rights.refusal(cap) {
        None => Ok(()),
        Some(msg) => Err(RpcError::new(ErrorCode::Forbidden, msg)),
    }
}

/// The member's role now (a promotion or demotion applies to its live connections at once).
pub(crate) fn current_role(shared: &Shared, mesh: &MeshId, member: &KeyHex, at_hello: Role) -> Role {
    match shared.coord.access.get(mesh, member) {
        Some(Some(r)) => r.role,
        _ => at_hello,
    }
}

/// True once the member was removed from the mesh (kicked, banned, left, or the mesh deleted) while this
/// connection was open: the connection answers `not_member` and closes.
pub(crate) fn is_removed(shared: &Shared, mesh: &MeshId, member: &KeyHex) -> bool {
    matches!(shared.coord.access.get(mesh, member), Some(None))
}

pub(crate) fn removed() -> RpcError {
    RpcError::new(ErrorCode::NotMember, "you were removed from this mesh; ask an admin for a new invite to rejoin")
}

/// For `auth.hello`, inside its store job: the member's rights stamped in the writer's order, or the refusal of
/// a banned key. `Ok(None)` when the key is simply not a member.
pub(crate) fn load_for_hello(
    c: &Connection,
    stamps: &Stamps,
    mesh: &MeshId,
    member: &KeyHex,
) -> Result<Option<(u64, Rights)>, StoreError> {
    if sql::is_banned(c, mesh, member)? {
        return Err(StoreError::Rejected(ErrorCode::NotMember, banned_text().into()));
    }
    Ok(sql::load(c, mesh, member)?.map(|(r, _)| (stamps.next(), r)))
}

/// The refusal a banned member key gets from `auth.hello` and `invite.redeem`.
pub(crate) fn banned_text() -> &'static str {
    "this member key is banned from the mesh; an admin can lift the ban with access.unban"
}

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    methods::handle(ctx, method, params).await
}
