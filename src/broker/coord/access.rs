//! Roles, per-member grants, blocks, kicks and bans on the broker (docs/coordination.md "Roles and grants").
//! Not built yet: every capability is allowed and every method answers method_not_found.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;

use super::Ctx;
use crate::broker::conn::Shared;
use crate::proto::{Capability, ErrorCode, KeyHex, MeshId, Role, RpcError};

/// Effective capabilities by (mesh, member), kept in memory and changed with the store.
#[derive(Default)]
pub(crate) struct AccessCache {}

pub(super) fn migrate(_c: &Connection) -> rusqlite::Result<()> {
    Ok(())
}

/// Refuses with `forbidden: missing capability X` unless `member` holds `cap` in `mesh` now.
pub(crate) fn check(
    _shared: &Arc<Shared>,
    _mesh: &MeshId,
    _member: &KeyHex,
    _role: Role,
    _cap: Capability,
) -> Result<(), RpcError> {
    Ok(())
}

pub(super) async fn handle(_ctx: &Ctx<'_>, method: &str, _params: Value) -> Result<Value, RpcError> {
    Err(RpcError::new(ErrorCode::MethodNotFound, format!("{method} is not available yet")))
}
