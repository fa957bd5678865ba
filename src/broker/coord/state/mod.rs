//! `state.*` on the broker (docs/coordination.md "State"): checks params and capabilities, runs reads on the
//! reader and writes in one store transaction each, then hands applied changes to the feed for `state.changed`.

mod feed;
mod store;

use serde_json::{Value, json};

use super::{Ctx, lamport, parse, store_err, to_value};
use crate::broker::conn::now_ms;
use crate::proto::{
    Capability, ErrorCode, RpcError, STATE_LIST_DEFAULT, STATE_LIST_MAX, STATE_VALUE_MAX, StateDeleteParams,
    StateGetParams, StateGetResult, StateListParams, StateListResult, StateSetParams, StateUnwatchParams,
    StateWatchParams, StateWatchResult, cmethod,
};

pub(crate) use feed::{Feeds, after_reply, drop_conn};

pub(super) fn migrate(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    store::migrate(c)
}

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        cmethod::STATE_GET => get(ctx, parse(params)?).await,
        cmethod::STATE_LIST => list(ctx, parse(params)?).await,
        cmethod::STATE_SET => set(ctx, parse(params)?).await,
        cmethod::STATE_DELETE => delete(ctx, parse(params)?).await,
        cmethod::STATE_WATCH => watch(ctx, parse(params)?).await,
        cmethod::STATE_UNWATCH => unwatch(ctx, parse(params)?).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

async fn get(ctx: &Ctx<'_>, p: StateGetParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StateRead)?;
    let mesh = ctx.mesh.clone();
    let (entry, mesh_lamport) = ctx
        .shared
        .db
        .read(move |c| Ok((store::get(c, &mesh, p.key.as_str())?, lamport::current(c, &mesh)?)))
        .await
        .map_err(store_err)?;
    let entry = entry.ok_or_else(|| RpcError::new(ErrorCode::NotFound, "no such key"))?;
    to_value(&StateGetResult { entry, mesh_lamport })
}

async fn list(ctx: &Ctx<'_>, p: StateListParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StateRead)?;
    let limit = p.limit.unwrap_or(STATE_LIST_DEFAULT);
    if limit == 0 || limit > STATE_LIST_MAX {
        return Err(RpcError::new(ErrorCode::InvalidParams, format!("limit must be 1 to {STATE_LIST_MAX}")));
    }
    let mesh = ctx.mesh.clone();
    let prefix = p.prefix.unwrap_or_default();
    let (entries, mesh_lamport) = ctx
        .shared
        .db
        .read(move |c| Ok((store::list(c, &mesh, prefix.as_str(), limit)?, lamport::current(c, &mesh)?)))
        .await
        .map_err(store_err)?;
    to_value(&StateListResult { entries, mesh_lamport })
}

fn compact(value: &Value) -> Result<String, RpcError> {
    let text = serde_json::to_string(value).map_err(|e| RpcError::new(ErrorCode::InvalidParams, e.to_string()))?;
    if text.len() > STATE_VALUE_MAX {
        return Err(RpcError::new(
            ErrorCode::InvalidParams,
            format!("the value is {} bytes as compact JSON; the most is {STATE_VALUE_MAX}", text.len()),
        ));
    }
    Ok(text)
}

/// Runs one write in the store, then starts its publication.
async fn write(ctx: &Ctx<'_>, w: store::Write) -> Result<(store::Outcome, bool), RpcError> {
    let (outcome, was_live) = ctx
        .shared
        .db
        .run(move |c| {
            let was_live = store::is_live(c, &w.mesh, &w.key)?;
            Ok((store::apply(c, &w)?, was_live))
        })
        .await
        .map_err(store_err)?;
    match &outcome {
        store::Outcome::Applied(ch) => {
            // A task of its own, not awaited: the reply does not wait for the fan-out (the connection answers its
            // requests one at a time), and the publish finishes even when this request is dropped half way.
            tokio::spawn(feed::catch_up(ctx.shared.clone(), ctx.mesh.clone(), ch.clone()));
        }
        store::Outcome::Conflict(v) => {
            return Err(RpcError::with_data(
                ErrorCode::Conflict,
                format!("the key is at version {v}; read it again and retry"),
                json!({ "version": v }),
            ));
        }
        store::Outcome::Lost(_) => {}
    }
    Ok((outcome, was_live))
}

async fn set(ctx: &Ctx<'_>, p: StateSetParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StateWrite)?;
    let value = compact(&p.value)?;
    let w = store::Write {
        mesh: ctx.mesh.clone(),
        key: p.key.into(),
        value: Some(value),
        if_version: p.if_version,
        lamport: p.lamport,
        writer: *ctx.peer,
        now_ms: now_ms(),
    };
    let (outcome, _) = write(ctx, w).await?;
    let r = store::set_result(&outcome).ok_or_else(|| RpcError::new(ErrorCode::Internal, "unexpected outcome"))?;
    to_value(&r)
}

async fn delete(ctx: &Ctx<'_>, p: StateDeleteParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StateWrite)?;
    let w = store::Write {
        mesh: ctx.mesh.clone(),
        key: p.key.into(),
        value: None,
        if_version: p.if_version,
        lamport: p.lamport,
        writer: *ctx.peer,
        now_ms: now_ms(),
    };
    let (outcome, was_live) = write(ctx, w).await?;
    let r = store::delete_result(&outcome, was_live)
        .ok_or_else(|| RpcError::new(ErrorCode::Internal, "unexpected outcome"))?;
    to_value(&r)
}

async fn watch(ctx: &Ctx<'_>, p: StateWatchParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StateRead)?;
    let prefix = p.prefix.unwrap_or_default();
    let (seq, resync) = feed::prepare(ctx.shared, ctx.mesh, ctx.conn, prefix.as_str(), p.since_seq, ctx.out)
        .await
        .ok_or_else(|| RpcError::new(ErrorCode::Unavailable, "the change log is unavailable; try again"))?;
    to_value(&StateWatchResult { seq, resync })
}

async fn unwatch(ctx: &Ctx<'_>, p: StateUnwatchParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StateRead)?;
    let prefix = p.prefix.unwrap_or_default();
    ctx.shared.coord.subs.remove(ctx.mesh, ctx.conn, &feed::topic(prefix.as_str()));
    Ok(json!({}))
}
