//! `memory.*` on the broker (docs/coordination.md). Not built yet: every method answers method_not_found.

use rusqlite::Connection;
use serde_json::Value;

use super::Ctx;
use crate::proto::{ErrorCode, RpcError};

pub(super) fn migrate(_c: &Connection) -> rusqlite::Result<()> {
    Ok(())
}

pub(super) async fn handle(_ctx: &Ctx<'_>, method: &str, _params: Value) -> Result<Value, RpcError> {
    Err(RpcError::new(ErrorCode::MethodNotFound, format!("{method} is not available yet")))
}
