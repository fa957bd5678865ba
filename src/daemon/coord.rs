//! The coordination primitives in the daemon: forwards state/memory/task/... calls to the broker, answers reads
//! from its cache while the broker is unreachable, queues writes with a Lamport stamp and replays them in order
//! on reconnect, and turns `state.watch`/`stream.subscribe` into notification streams for local clients.
//! Not built yet: every call goes straight to the broker.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use super::state::Daemon;
use crate::config::MeshEntry;
use crate::proto::RpcError;

/// Who is calling (the local client's session, as `daemon.hello` introduced it).
pub(super) struct Caller<'a> {
    pub session: &'a str,
    pub name: Option<&'a str>,
}

/// Answers one coordination call for `caller` in mesh `entry`. `out` is the local connection's line queue (a
/// subscription writes its notifications there).
pub(super) async fn dispatch(
    daemon: &Arc<Daemon>,
    caller: Caller<'_>,
    entry: MeshEntry,
    method: &str,
    params: Value,
    _out: mpsc::UnboundedSender<String>,
) -> Result<Value, RpcError> {
    let link = daemon.link(&entry, caller.session, caller.name);
    link.call(method, params).await.map_err(|e| crate::client::local::error_to_rpc(&e))
}
