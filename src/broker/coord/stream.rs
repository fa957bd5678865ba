//! `stream.*` on the broker (docs/coordination.md "Streams"): a registry of named streams in SQLite and live
//! fan-out of published items to subscribed connections; the items themselves are never stored.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::{Ctx, parse, store_err, to_value};
use crate::broker::db::StoreError;
use crate::proto::{
    Capability, ErrorCode, KeyHex, MeshId, RpcError, STREAM_MAX_PER_MESH, StreamCreated, StreamData, StreamEntry,
    StreamListResult, StreamNameParams, StreamPublishParams, StreamPublished, StreamSubscribed, cmethod,
    encode_notification,
};

/// The last seq of every stream that was published to since the broker started (a stream that is not here has
/// published nothing yet). Taking the next seq and queueing the item happen under this lock, so subscribers see
/// every stream in seq order whatever the number of publishers.
#[derive(Default)]
pub(crate) struct Seqs(Mutex<HashMap<(MeshId, String), u64>>);

impl Seqs {
    fn map(&self) -> MutexGuard<'_, HashMap<(MeshId, String), u64>> {
        // Updates are single inserts: a panic cannot leave the map half-changed.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn last(&self, mesh: &MeshId, name: &str) -> u64 {
        self.map().get(&(mesh.clone(), name.to_string())).copied().unwrap_or(0)
    }
}

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if super::part_version(c, "streams")? < 1 {
        c.execute_batch(
            "BEGIN;
            CREATE TABLE streams(mesh_id TEXT NOT NULL, name TEXT NOT NULL, creator TEXT NOT NULL,
                creator_name TEXT NOT NULL, created_at_ms INTEGER NOT NULL, PRIMARY KEY(mesh_id, name));",
        )?;
        super::set_part_version(c, "streams", 1)?;
        c.execute_batch("COMMIT;")?;
    }
    Ok(())
}

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        cmethod::STREAM_CREATE => create(ctx, parse(params)?).await,
        cmethod::STREAM_PUBLISH => publish(ctx, parse(params)?).await,
        cmethod::STREAM_SUBSCRIBE => subscribe(ctx, parse(params)?).await,
        cmethod::STREAM_UNSUBSCRIBE => unsubscribe(ctx, parse(params)?),
        cmethod::STREAM_LIST => list(ctx, parse(params)?).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

fn invalid(msg: String) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, msg)
}

fn topic(name: &str) -> String {
    format!("stream:{name}")
}

fn missing(name: &str) -> RpcError {
    RpcError::new(ErrorCode::NotFound, format!("there is no stream {name} in this mesh; create it with stream.create"))
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `stream.list` takes no params.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

/// A stream's registry row.
fn row(c: &Connection, mesh: &MeshId, name: &str) -> Result<Option<(String, String, u64)>, StoreError> {
    Ok(c.prepare_cached("SELECT creator, creator_name, created_at_ms FROM streams WHERE mesh_id = ?1 AND name = ?2")?
        .query_row(params![mesh.as_str(), name], |r| Ok((r.get(0)?, r.get(1)?, u(r.get(2)?))))
        .optional()?)
}

fn peer_name(c: &Connection, mesh: &MeshId, peer: &KeyHex) -> Result<String, StoreError> {
    let name: Option<String> = c
        .prepare_cached("SELECT name FROM peers WHERE mesh_id = ?1 AND session_key = ?2")?
        .query_row(params![mesh.as_str(), peer.to_string()], |r| r.get(0))
        .optional()?;
    Ok(name.unwrap_or_default())
}

async fn create(ctx: &Ctx<'_>, p: StreamNameParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StreamWrite)?;
    p.check().map_err(invalid)?;
    let (mesh, peer, now) = (ctx.mesh.clone(), *ctx.peer, crate::clock::now_ms());
    let created =
        ctx.shared
            .db
            .run(move |c| {
                if let Some((creator, creator_name, created_at_ms)) = row(c, &mesh, &p.name)? {
                    let creator =
                        creator.parse().map_err(|_| StoreError::Unavailable("unreadable stream creator".into()))?;
                    return Ok(StreamCreated { name: p.name, creator, creator_name, created_at_ms, created: false });
                }
                let n: i64 = c
                    .prepare_cached("SELECT count(*) FROM streams WHERE mesh_id = ?1")?
                    .query_row([mesh.as_str()], |r| r.get(0))?;
                if u(n) >= STREAM_MAX_PER_MESH {
                    return Err(StoreError::Rejected(
                        ErrorCode::InvalidParams,
                        format!("this mesh already has {STREAM_MAX_PER_MESH} streams; publish to an existing one"),
                    ));
                }
                let name = peer_name(c, &mesh, &peer)?;
                c.prepare_cached(
                "INSERT INTO streams(mesh_id, name, creator, creator_name, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![mesh.as_str(), p.name, peer.to_string(), name, i64::try_from(now).unwrap_or(i64::MAX)])?;
                Ok(StreamCreated { name: p.name, creator: peer, creator_name: name, created_at_ms: now, created: true })
            })
            .await
            .map_err(store_err)?;
    to_value(&created)
}

async fn publish(ctx: &Ctx<'_>, p: StreamPublishParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StreamWrite)?;
    p.check().map_err(invalid)?;
    let (mesh, peer, name) = (ctx.mesh.clone(), *ctx.peer, p.name.clone());
    let (exists, from_name) = ctx
        .shared
        .db
        .read(move |c| Ok((row(c, &mesh, &name)?.is_some(), peer_name(c, &mesh, &peer)?)))
        .await
        .map_err(store_err)?;
    if !exists {
        return Err(missing(&p.name));
    }
    let topic = topic(&p.name);
    let mut item =
        StreamData { name: p.name, seq: 0, from: *ctx.peer, from_name, data: p.data, at_ms: crate::clock::now_ms() };
    let mut seqs = ctx.shared.coord.streams.map();
    let seq = seqs.entry((ctx.mesh.clone(), item.name.clone())).or_insert(0);
    *seq += 1;
    item.seq = *seq;
    let text = encode_notification(cmethod::STREAM_DATA, &to_value(&item)?);
    let sent = ctx.shared.coord.subs.publish(ctx.mesh, None, |t| t == topic, &text);
    drop(seqs);
    to_value(&StreamPublished { seq: item.seq, subscribers: sent.sent + sent.lagged })
}

async fn subscribe(ctx: &Ctx<'_>, p: StreamNameParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StreamRead)?;
    p.check().map_err(invalid)?;
    let (mesh, name) = (ctx.mesh.clone(), p.name.clone());
    let exists = ctx.shared.db.read(move |c| Ok(row(c, &mesh, &name)?.is_some())).await.map_err(store_err)?;
    if !exists {
        return Err(missing(&p.name));
    }
    // Subscribing under the seq lock: the seq answered is exactly the one before the first item this gets.
    let seqs = ctx.shared.coord.streams.map();
    ctx.shared.coord.subs.add(ctx.mesh, ctx.conn, &topic(&p.name), ctx.out);
    let seq = seqs.get(&(ctx.mesh.clone(), p.name.clone())).copied().unwrap_or(0);
    drop(seqs);
    to_value(&StreamSubscribed { name: p.name, seq })
}

fn unsubscribe(ctx: &Ctx<'_>, p: StreamNameParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StreamRead)?;
    p.check().map_err(invalid)?;
    ctx.shared.coord.subs.remove(ctx.mesh, ctx.conn, &topic(&p.name));
    Ok(json!({}))
}

async fn list(ctx: &Ctx<'_>, _p: NoParams) -> Result<Value, RpcError> {
    ctx.require(Capability::StreamRead)?;
    let mesh = ctx.mesh.clone();
    let rows = ctx
        .shared
        .db
        .read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT name, creator, creator_name, created_at_ms FROM streams WHERE mesh_id = ?1 ORDER BY name",
            )?;
            let rows = st.query_map([mesh.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, u(r.get(3)?)))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .map_err(store_err)?;
    let streams = rows
        .into_iter()
        .filter_map(|(name, creator, creator_name, created_at_ms)| {
            let creator = creator.parse().ok()?;
            let t = topic(&name);
            Some(StreamEntry {
                subscribers: ctx.shared.coord.subs.count(ctx.mesh, |s| s == t),
                last_seq: ctx.shared.coord.streams.last(ctx.mesh, &name),
                name,
                creator,
                creator_name,
                created_at_ms,
            })
        })
        .collect();
    to_value(&StreamListResult { streams })
}
