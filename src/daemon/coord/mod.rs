//! The coordination primitives in the daemon: forwards state/memory/task/... calls to the broker, answers reads
//! from its cache while the broker is unreachable, queues writes with a Lamport stamp and replays them in order
//! on reconnect, and turns `state.watch`/`stream.subscribe` into notification streams for local clients.

mod link_side;
mod watch;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

pub(super) use link_side::{LinkCoord, Replay, Watch, is_notification, queue, replay};

use super::state::{Daemon, now_ms};
use crate::client::ClientError;
use crate::client::local::error_to_rpc;
use crate::config::MeshEntry;
use crate::proto::{CoordId, cmethod};
use crate::proto::{ErrorCode, RpcError};

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
    out: mpsc::UnboundedSender<String>,
) -> Result<Value, RpcError> {
    let Value::Object(mut params) = params else {
        return Err(RpcError::new(ErrorCode::InvalidParams, "params must be a JSON object"));
    };
    // Stamps are the daemon's to give: a live write is stamped by the broker, a queued one by the outbox.
    params.remove("lamport");
    let mut params = Value::Object(params);
    match method {
        cmethod::STATE_WATCH => return watch::state(daemon, &entry, params, out).await,
        cmethod::STREAM_SUBSCRIBE => return watch::stream(daemon, &entry, params, out).await,
        // Ends this connection's local watch; the daemon's one broker-side watch stays for the others.
        cmethod::STATE_UNWATCH | cmethod::STREAM_UNSUBSCRIBE => return watch::unwatch(method, &params, &out),
        _ => {}
    }
    let link = daemon.link(&entry, caller.session, caller.name);
    if cmethod::CACHEABLE.contains(&method) {
        return read(daemon, &entry, caller.session, &link, method, params).await;
    }
    if cmethod::QUEUEABLE.contains(&method) && params.get("if_version").is_none_or(Value::is_null) {
        if matches!(method, cmethod::MEMORY_REMEMBER | cmethod::TASK_CREATE)
            && params.get("id").is_none_or(Value::is_null)
            && let Some(o) = params.as_object_mut()
        {
            // Made here even for a live write, so a call retried after a lost connection stays one note/task.
            o.insert("id".into(), Value::String(CoordId::generate().to_string()));
        }
        let result = link.coord_write(method, params).await.map_err(|e| error_to_rpc(&e))?;
        if result.get("queued") != Some(&Value::Bool(true)) {
            observe(daemon, &entry, &result).await;
            if method == cmethod::TASK_COMPLETE {
                link_side::task_completed(daemon, &entry, caller.session, caller.name, &result).await;
            }
        }
        return Ok(result);
    }
    match link.call(method, params).await {
        Ok(result) => {
            observe(daemon, &entry, &result).await;
            Ok(result)
        }
        Err(e) if offline(&e) => Err(needs_broker(method, &e)),
        Err(e) => Err(error_to_rpc(&e)),
    }
}

/// `events.subscribe` shows state changes too: keeps the mesh's broker-side state watch (made at the next connect
/// when the broker cannot be reached now).
pub(super) fn follow_state(daemon: &Arc<Daemon>, entry: &MeshEntry) {
    let link = daemon.link(entry, watch::WATCH_SESSION, None);
    tokio::spawn(async move {
        if let Err(e) = link.watch(Watch::State).await {
            tracing::debug!(error = %e, "the state watch waits for the broker");
        }
    });
}

/// A read: fresh from the broker (and cached), or the cached answer while the broker cannot be reached.
async fn read(
    daemon: &Arc<Daemon>,
    entry: &MeshEntry,
    session: &str,
    link: &super::link::LinkHandle,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    let key = cache_key(method, session, &params);
    match link.call(method, params).await {
        Ok(mut result) => {
            observe(daemon, entry, &result).await;
            let (mesh, m, k, kept) = (entry.id.clone(), method.to_string(), key, result.clone());
            if let Err(e) = daemon.store.run(move |db| db.cache_put(&mesh, &m, &k, &kept, now_ms())).await {
                tracing::warn!(error = %e, "cannot cache a coordination read");
            }
            if let Some(o) = result.as_object_mut() {
                o.insert("stale".into(), Value::Bool(false));
            }
            Ok(result)
        }
        Err(e) if transient(&e) => {
            let (mesh, m) = (entry.id.clone(), method.to_string());
            let cached = daemon.store.run(move |db| db.cache_get(&mesh, &m, &key)).await.map_err(internal)?;
            match cached {
                Some((mut result, at_ms)) => {
                    if let Some(o) = result.as_object_mut() {
                        o.insert("stale".into(), Value::Bool(true));
                        o.insert("cache_age_ms".into(), Value::from(now_ms().saturating_sub(at_ms)));
                    }
                    Ok(result)
                }
                None => Err(RpcError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "the broker cannot be reached ({}) and this daemon has no earlier answer to {method} with \
                         these params; try again once the broker is back",
                        reason(&e)
                    ),
                )),
            }
        }
        Err(e) => Err(error_to_rpc(&e)),
    }
}

/// What a cached read is filed under: the params as canonical JSON (schedules are per caller, so their key holds
/// the session too).
fn cache_key(method: &str, session: &str, params: &Value) -> String {
    let canonical = serde_json_canonicalizer::to_string(params).unwrap_or_else(|_| params.to_string());
    if method == cmethod::SCHEDULE_LIST { format!("{session}\n{canonical}") } else { canonical }
}

/// Moves the mesh's Lamport counter to the largest stamp in `value`.
pub(super) async fn observe(daemon: &Daemon, entry: &MeshEntry, value: &Value) {
    let Some(seen) = max_lamport(value, 0) else { return };
    let mesh = entry.id.clone();
    if let Err(e) = daemon.store.run(move |db| db.observe_lamport(&mesh, seen)).await {
        tracing::warn!(error = %e, "cannot record a Lamport stamp");
    }
}

/// The largest `lamport` / `mesh_lamport` in a result or notification (looking a few levels deep: entries,
/// lists of tasks).
fn max_lamport(value: &Value, depth: u8) -> Option<u64> {
    if depth > 3 {
        return None;
    }
    match value {
        Value::Object(o) => o
            .iter()
            .filter_map(|(k, v)| match (k.as_str(), v) {
                ("lamport" | "mesh_lamport", Value::Number(n)) => n.as_u64(),
                // What users wrote (a state value, stream data) may hold anything, a `lamport` key included.
                ("value" | "data" | "send", _) => None,
                (_, Value::Object(_) | Value::Array(_)) => max_lamport(v, depth + 1),
                _ => None,
            })
            .max(),
        Value::Array(a) => a.iter().filter_map(|v| max_lamport(v, depth + 1)).max(),
        _ => None,
    }
}

/// The broker could not be reached at all (the call never got an answer).
pub(super) fn offline(e: &ClientError) -> bool {
    matches!(e, ClientError::Unreachable { .. } | ClientError::ConnectTimeout { .. }) || e.is_connection_loss()
}

/// Worth trying again later: unreachable, or a broker that answered "not now".
fn transient(e: &ClientError) -> bool {
    offline(e)
        || matches!(e, ClientError::Rpc(rpc) if matches!(rpc.kind(), Some(ErrorCode::Unavailable | ErrorCode::RateLimited)))
}

fn reason(e: &ClientError) -> String {
    match e {
        ClientError::Unreachable { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

pub(super) fn needs_broker(method: &str, e: &ClientError) -> RpcError {
    RpcError::new(
        ErrorCode::Unavailable,
        format!("{method} needs the broker, which cannot be reached ({}); try again once it is back", reason(e)),
    )
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::new(ErrorCode::Internal, e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_largest_stamp_is_found_in_results_and_lists() {
        assert_eq!(max_lamport(&json!({"applied": true, "entry": {"lamport": 4}}), 0), Some(4));
        assert_eq!(max_lamport(&json!({"tasks": [{"lamport": 2}, {"lamport": 9}], "mesh_lamport": 7}), 0), Some(9));
        assert_eq!(max_lamport(&json!({"value": {"lamport": "x"}}), 0), None);
        assert_eq!(max_lamport(&json!([1, 2]), 0), None);
        // A user's value is not a stamp.
        let entry = json!({"entry": {"lamport": 3, "value": {"lamport": 999_999_999}}, "data": {"lamport": 7}});
        assert_eq!(max_lamport(&entry, 0), Some(3));
        assert_eq!(max_lamport(&json!({"entries": [{"value": [{"lamport": 50}], "lamport": 2}]}), 0), Some(2));
    }

    #[test]
    fn cache_keys_ignore_key_order_and_schedules_are_per_session() {
        let a = cache_key(cmethod::STATE_LIST, "s1", &json!({"prefix": "a", "limit": 5}));
        let b = cache_key(cmethod::STATE_LIST, "s2", &json!({"limit": 5, "prefix": "a"}));
        assert_eq!(a, b);
        assert_ne!(
            cache_key(cmethod::SCHEDULE_LIST, "s1", &json!({})),
            cache_key(cmethod::SCHEDULE_LIST, "s2", &json!({}))
        );
    }

    #[test]
    fn only_connection_failures_queue_and_not_now_answers_read_the_cache() {
        let unreachable = ClientError::Unreachable { url: "ws://x".into(), reason: "refused".into() };
        let busy = ClientError::Rpc(RpcError::new(ErrorCode::Unavailable, "busy"));
        let refused = ClientError::Rpc(RpcError::new(ErrorCode::Forbidden, "forbidden: missing capability x"));
        assert!(offline(&unreachable) && transient(&unreachable));
        assert!(!offline(&busy) && transient(&busy));
        assert!(!offline(&refused) && !transient(&refused));
    }
}
