//! `schedule.*` on the broker (docs/coordination.md). Not built yet: every method answers method_not_found.

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;
use tokio::sync::watch;

use super::Ctx;
use crate::broker::conn::Shared;
use crate::proto::{ErrorCode, RpcError};

/// The schedule loop's clock and wake-up.
#[derive(Default)]
pub(crate) struct Timers {}

pub(super) fn migrate(_c: &Connection) -> rusqlite::Result<()> {
    Ok(())
}

pub(super) async fn handle(_ctx: &Ctx<'_>, method: &str, _params: Value) -> Result<Value, RpcError> {
    Err(RpcError::new(ErrorCode::MethodNotFound, format!("{method} is not available yet")))
}

/// Fires due schedules (runs until shutdown).
pub(super) async fn run(_shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|v| *v).await;
}
