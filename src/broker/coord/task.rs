//! `task.*` on the broker (docs/coordination.md). Not built yet: every method answers method_not_found.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;
use tokio::sync::watch;

use super::Ctx;
use crate::broker::conn::Shared;
use crate::proto::{ErrorCode, RpcError};

pub(super) fn migrate(_c: &Connection) -> rusqlite::Result<()> {
    Ok(())
}

pub(super) async fn handle(_ctx: &Ctx<'_>, method: &str, _params: Value) -> Result<Value, RpcError> {
    Err(RpcError::new(ErrorCode::MethodNotFound, format!("{method} is not available yet")))
}

/// Expires the claims of claimers that went away (runs until shutdown).
pub(super) async fn run_leases(_shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|v| *v).await;
}
