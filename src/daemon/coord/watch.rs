//! Local watches: `state.watch {prefix?}` and `stream.subscribe {name}` turn a local connection into a stream of
//! `state.changed` / `stream.data` notifications, fed by the mesh's one broker-side watch on the `cli` link.

use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::super::state::Daemon;
use super::link_side::{STATE_RESYNC, Watch};
use super::{needs_broker, offline};
use crate::client::local::error_to_rpc;
use crate::config::MeshEntry;
use crate::proto::cmethod;
use crate::proto::{ErrorCode, RpcError, encode_notification};

/// The session whose link holds the mesh's broker-side watches.
pub(super) const WATCH_SESSION: &str = "cli";
/// Longest prefix / stream name a local watch takes (the broker's key and name limits are smaller).
const MAX_NAME: usize = 256;

/// One running local watch: its connection's line queue, what it watches, and its task.
struct LocalWatch {
    /// Weak, so the registry never keeps a closed connection's writer waiting.
    out: mpsc::WeakUnboundedSender<String>,
    what: Kind,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A `state.watch` with this prefix (`""` = every key).
    State(String),
    Stream(String),
}

/// The daemon's running local watches (one daemon per process), so `state.unwatch` / `stream.unsubscribe` can end
/// the caller's.
static WATCHES: LazyLock<Mutex<Vec<LocalWatch>>> = LazyLock::new(|| Mutex::new(Vec::new()));

/// Local watches one connection may hold, and the daemon in all.
const PER_CONNECTION: usize = 64;
const IN_ALL: usize = 4096;

/// Refuses a watch past the limits (finished watches do not count).
fn check_room(out: &mpsc::UnboundedSender<String>) -> Result<(), RpcError> {
    let mut all = WATCHES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    all.retain(|w| !w.task.is_finished());
    if all.iter().filter(|w| w.out.upgrade().is_some_and(|o| o.same_channel(out))).count() >= PER_CONNECTION {
        return Err(RpcError::new(
            ErrorCode::InvalidParams,
            format!("a connection holds at most {PER_CONNECTION} watches; unwatch one first"),
        ));
    }
    if all.len() >= IN_ALL {
        return Err(RpcError::new(
            ErrorCode::Unavailable,
            format!("the daemon holds {IN_ALL} local watches, its limit; close some and try again"),
        ));
    }
    Ok(())
}

fn register(out: &mpsc::UnboundedSender<String>, what: Kind, task: tokio::task::JoinHandle<()>) {
    let mut all = WATCHES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    all.retain(|w| !w.task.is_finished());
    all.push(LocalWatch { out: out.downgrade(), what, task });
}

/// `state.unwatch {prefix?}` / `stream.unsubscribe {name}`: ends this connection's matching local watches.
pub(super) fn unwatch(method: &str, params: &Value, out: &mpsc::UnboundedSender<String>) -> Result<Value, RpcError> {
    let what = if method == cmethod::STREAM_UNSUBSCRIBE {
        Kind::Stream(text_param(params, "name", true)?.unwrap_or_default())
    } else {
        Kind::State(text_param(params, "prefix", false)?.unwrap_or_default())
    };
    let mut all = WATCHES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    all.retain(|w| {
        let mine = w.what == what && w.out.upgrade().is_some_and(|o| o.same_channel(out));
        if mine {
            w.task.abort();
        }
        !mine && !w.task.is_finished()
    });
    Ok(json!({}))
}

fn text_param(params: &Value, key: &str, required: bool) -> Result<Option<String>, RpcError> {
    match params.get(key) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_NAME && (!required || !s.is_empty()) => Ok(Some(s.clone())),
        _ => Err(RpcError::new(
            ErrorCode::InvalidParams,
            format!("{key} must be a string of at most {MAX_NAME} bytes{}", if required { ", not empty" } else { "" }),
        )),
    }
}

/// `state.watch {prefix?}`: answers `{"seq"}`, then forwards every later change under `prefix`, once, in order.
pub(super) async fn state(
    daemon: &Arc<Daemon>,
    entry: &MeshEntry,
    params: Value,
    out: mpsc::UnboundedSender<String>,
) -> Result<Value, RpcError> {
    let prefix = text_param(&params, "prefix", false)?.unwrap_or_default();
    check_room(&out)?;
    let link = daemon.link(entry, WATCH_SESSION, None);
    // Listen before the watch starts, so nothing falls between its answer and the first notification.
    let mut events = link.subscribe_coord();
    let result = link
        .watch(Watch::State)
        .await
        .map_err(|e| if offline(&e) { needs_broker(cmethod::STATE_WATCH, &e) } else { error_to_rpc(&e) })?;
    let start = result.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let what = Kind::State(prefix.clone());
    let sender = out.clone();
    let task = tokio::spawn(async move {
        let _link = link;
        loop {
            tokio::select! {
                event = events.recv() => {
                    let line = match event {
                        Ok((m, p)) if m == cmethod::STATE_CHANGED => {
                            let key = p.get("key").and_then(Value::as_str).unwrap_or_default();
                            let seq = p.get("seq").and_then(Value::as_u64).unwrap_or(u64::MAX);
                            if seq <= start || !key.starts_with(&prefix) {
                                continue;
                            }
                            encode_notification(cmethod::STATE_CHANGED, &p)
                        }
                        Ok((m, p)) if m == STATE_RESYNC => encode_notification(STATE_RESYNC, &p),
                        Ok(_) => continue,
                        Err(RecvError::Lagged(n)) => {
                            encode_notification(STATE_RESYNC, &json!({ "seq": null, "missed": n }))
                        }
                        Err(RecvError::Closed) => return,
                    };
                    if out.send(line).is_err() {
                        return;
                    }
                }
                _ = out.closed() => return,
            }
        }
    });
    register(&sender, what, task);
    Ok(json!({ "seq": start }))
}

/// `stream.subscribe {name}`: answers the broker's `{"name","seq"}`, then forwards the stream's data.
pub(super) async fn stream(
    daemon: &Arc<Daemon>,
    entry: &MeshEntry,
    params: Value,
    out: mpsc::UnboundedSender<String>,
) -> Result<Value, RpcError> {
    let Some(name) = text_param(&params, "name", true)? else {
        return Err(RpcError::new(ErrorCode::InvalidParams, "name is required"));
    };
    check_room(&out)?;
    let link = daemon.link(entry, WATCH_SESSION, None);
    let mut events = link.subscribe_coord();
    let result = link
        .watch(Watch::Stream(name.clone()))
        .await
        .map_err(|e| if offline(&e) { needs_broker(cmethod::STREAM_SUBSCRIBE, &e) } else { error_to_rpc(&e) })?;
    let (what, sender) = (Kind::Stream(name.clone()), out.clone());
    let task = tokio::spawn(async move {
        let _link = link;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok((m, p)) if m == cmethod::STREAM_DATA
                        && p.get("name").and_then(Value::as_str) == Some(name.as_str()) => {
                        if out.send(encode_notification(cmethod::STREAM_DATA, &p)).is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                },
                _ = out.closed() => return,
            }
        }
    });
    register(&sender, what, task);
    Ok(result)
}
