//! The coordination primitives on the broker: request routing by method family, the per-request context
//! (who asks, in which mesh, with which role), schema parts, and the background loops (schedules, task leases).
//! Each primitive lives in its own file with its own `migrate` and `handle`; docs/coordination.md is the contract.

pub(crate) mod access;
mod clock;
mod context;
pub(crate) mod lamport;
mod memory;
mod schedule;
pub(crate) use schedule::enable_test_clock;
mod state;
mod stream;
pub(crate) mod subs;
mod task;

use std::sync::Arc;

use rusqlite::Connection;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::conn::Shared;
use super::hub::Outbound;
use crate::proto::{Capability, ErrorCode, KeyHex, MeshId, Role, RpcError, cmethod};

/// Broker-wide state of the coordination primitives, held in `Shared`.
#[derive(Default)]
pub(crate) struct Coord {
    pub subs: subs::Subs,
    pub access: access::AccessCache,
    pub timers: schedule::Timers,
    pub state: state::Feeds,
    /// The last seq of each stream (streams are live only; the seqs restart with the broker).
    pub streams: stream::Seqs,
}

/// Who is asking: the authenticated connection's mesh, session (peer), member and role.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    /// The connection id (subscriptions are per connection and end with it).
    pub conn: u64,
    /// The connection's outbound queue (where its subscriptions' notifications go).
    pub out: &'a mpsc::Sender<Outbound>,
    pub mesh: &'a MeshId,
    pub peer: &'a KeyHex,
    pub member: &'a KeyHex,
    pub role: Role,
}

impl Ctx<'_> {
    /// Refuses with `forbidden: missing capability X` unless the caller holds `cap` right now (role, grants,
    /// revocations and blocks as of this request).
    pub(crate) fn require(&self, cap: Capability) -> Result<(), RpcError> {
        access::check(self.shared, self.mesh, self.member, self.role, cap)
    }
}

/// True for every coordination method (so the connection routes it here, and answers `not_authenticated`
/// for it before `auth.hello`).
pub(crate) fn handles(method: &str) -> bool {
    cmethod::REQUESTS.contains(&method) || method == crate::proto::DEBUG_CLOCK_ADVANCE
}

/// Answers one coordination request.
pub(crate) async fn dispatch(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    let family = method.split('.').next().unwrap_or_default();
    match family {
        "state" => state::handle(ctx, method, params).await,
        "memory" => memory::handle(ctx, method, params).await,
        "task" => task::handle(ctx, method, params).await,
        "context" => context::handle(ctx, method, params).await,
        "stream" => stream::handle(ctx, method, params).await,
        "schedule" => schedule::handle(ctx, method, params).await,
        "clock" => clock::handle(ctx, method, params).await,
        "debug" => schedule::advance(ctx, params).await,
        "access" | "mesh" => access::handle(ctx, method, params).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

/// A connection ended: its subscriptions go with it.
pub(crate) fn on_close(shared: &Shared, conn: u64) {
    shared.coord.subs.drop_conn(conn);
    state::drop_conn(shared, conn);
}

/// A coordination reply of connection `conn` was queued: what must follow it goes out now (a `state.watch`
/// replays and joins here, so its notifications come after its result).
pub(crate) async fn after_reply(shared: &Arc<Shared>, conn: u64) {
    state::after_reply(shared, conn).await;
}

/// Creates or upgrades every primitive's tables. Each part keeps its own version in `schema_parts`, so parts
/// evolve independently of each other and of the messaging schema (`user_version`).
pub(crate) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_parts(part TEXT PRIMARY KEY, version INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS mesh_lamport(mesh_id TEXT PRIMARY KEY, lamport INTEGER NOT NULL);",
    )?;
    state::migrate(c)?;
    memory::migrate(c)?;
    task::migrate(c)?;
    context::migrate(c)?;
    stream::migrate(c)?;
    schedule::migrate(c)?;
    clock::migrate(c)?;
    access::migrate(c)?;
    Ok(())
}

/// The version a schema part is at (0 when it was never created).
pub(crate) fn part_version(c: &Connection, part: &str) -> rusqlite::Result<i64> {
    use rusqlite::OptionalExtension;
    Ok(c.query_row("SELECT version FROM schema_parts WHERE part = ?1", [part], |r| r.get(0)).optional()?.unwrap_or(0))
}

/// Records that `part` is now at `version` (call inside the migration's transaction).
pub(crate) fn set_part_version(c: &Connection, part: &str, version: i64) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO schema_parts(part, version) VALUES (?1, ?2) ON CONFLICT(part) DO UPDATE SET version = ?2",
        rusqlite::params![part, version],
    )?;
    Ok(())
}

/// Starts the background loops (schedules firing, task leases expiring); they end when `shutdown` turns true.
pub(crate) fn spawn(shared: Arc<Shared>, shutdown: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(schedule::run(shared.clone(), shutdown.clone())),
        tokio::spawn(task::run_leases(shared, shutdown)),
    ]
}

/// Parses request params, answering `invalid_params` with serde's reason.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| RpcError::new(ErrorCode::InvalidParams, e.to_string()))
}

/// Serializes a result.
pub(crate) fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, RpcError> {
    serde_json::to_value(v).map_err(|e| RpcError::new(ErrorCode::Internal, e.to_string()))
}

/// Maps a store failure to the JSON-RPC error the caller sees.
pub(crate) fn store_err(e: super::db::StoreError) -> RpcError {
    super::conn::store_err(e)
}
