//! `context.*` on the broker (docs/coordination.md "Contexts"): one row per session, replaced by each share, and
//! an FTS5 index over summary, files, branch and notes for ranked search.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::{Ctx, lamport, parse, store_err, to_value};
use crate::broker::db::StoreError;
use crate::proto::{
    CONTEXT_LIST_DEFAULT, CONTEXT_LIST_MAX, CONTEXT_QUERY_MAX_BYTES, Capability, Context, ContextGetParams,
    ContextListParams, ContextListResult, ContextShareParams, ErrorCode, KeyHex, MeshId, RpcError, cmethod,
    context_fts_query,
};

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    if super::part_version(c, "contexts")? < 1 {
        // `contexts_fts` shares the rowid of `contexts` (an upsert keeps it), so a share replaces its index entry
        // by rowid instead of scanning the index.
        c.execute_batch(
            "BEGIN;
            CREATE TABLE contexts(mesh_id TEXT NOT NULL, peer TEXT NOT NULL, peer_name TEXT NOT NULL,
                summary TEXT NOT NULL, files TEXT NOT NULL, branch TEXT, notes TEXT, updated_at_ms INTEGER NOT NULL,
                lamport INTEGER NOT NULL, UNIQUE(mesh_id, peer));
            CREATE INDEX contexts_recent ON contexts(mesh_id, updated_at_ms);
            CREATE VIRTUAL TABLE contexts_fts USING fts5(summary, files, branch, notes);",
        )?;
        super::set_part_version(c, "contexts", 1)?;
        c.execute_batch("COMMIT;")?;
    }
    Ok(())
}

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        cmethod::CONTEXT_SHARE => share(ctx, parse(params)?).await,
        cmethod::CONTEXT_GET => get(ctx, parse(params)?).await,
        cmethod::CONTEXT_LIST => list(ctx, parse(params)?).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

const COLS: &str = "c.peer, c.peer_name, c.summary, c.files, c.branch, c.notes, c.updated_at_ms, c.lamport";

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Option<Context>> {
    let peer: String = r.get(0)?;
    let files: String = r.get(3)?;
    let (Ok(peer), Ok(files)) = (peer.parse::<KeyHex>(), serde_json::from_str(&files)) else { return Ok(None) };
    Ok(Some(Context {
        peer,
        peer_name: r.get(1)?,
        summary: r.get(2)?,
        files,
        branch: r.get(4)?,
        notes: r.get(5)?,
        updated_at_ms: u(r.get(6)?),
        lamport: u(r.get(7)?),
    }))
}

fn load(c: &Connection, mesh: &MeshId, peer: &str) -> Result<Option<Context>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM contexts c WHERE c.mesh_id = ?1 AND (c.peer = ?2 OR c.peer_name = ?2)
         ORDER BY c.peer = ?2 DESC LIMIT 1"
    );
    Ok(c.prepare_cached(&sql)?.query_row(params![mesh.as_str(), peer], from_row).optional()?.flatten())
}

async fn share(ctx: &Ctx<'_>, p: ContextShareParams) -> Result<Value, RpcError> {
    ctx.require(Capability::ContextWrite)?;
    p.check().map_err(|m| RpcError::new(ErrorCode::InvalidParams, m))?;
    let (mesh, peer, now) = (ctx.mesh.clone(), *ctx.peer, crate::clock::now_ms());
    let saved = ctx
        .shared
        .db
        .run(move |c| {
            let key = peer.to_string();
            let stamp = lamport::stamp(c, &mesh, p.lamport)?;
            if let Some(cur) = load(c, &mesh, &key)?
                && cur.peer == peer
                && cur.lamport >= stamp
            {
                // A queued share older than what the session shared since: the newer one stays.
                return Ok(cur);
            }
            let name: String = c
                .prepare_cached("SELECT name FROM peers WHERE mesh_id = ?1 AND session_key = ?2")?
                .query_row(params![mesh.as_str(), key], |r| r.get(0))
                .optional()?
                .unwrap_or_default();
            let files = serde_json::to_string(&p.files).unwrap_or_else(|_| "[]".into());
            let rowid: i64 = c
                .prepare_cached(
                    "INSERT INTO contexts(mesh_id, peer, peer_name, summary, files, branch, notes, updated_at_ms, lamport)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT(mesh_id, peer) DO UPDATE SET peer_name = ?3, summary = ?4, files = ?5, branch = ?6,
                         notes = ?7, updated_at_ms = ?8, lamport = ?9
                     RETURNING rowid",
                )?
                .query_row(
                    params![mesh.as_str(), key, name, p.summary, files, p.branch, p.notes, i(now), i(stamp)],
                    |r| r.get(0),
                )?;
            c.prepare_cached("DELETE FROM contexts_fts WHERE rowid = ?1")?.execute([rowid])?;
            c.prepare_cached("INSERT INTO contexts_fts(rowid, summary, files, branch, notes) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![rowid, p.summary, p.files.join(" "), p.branch, p.notes])?;
            Ok(Context {
                peer,
                peer_name: name,
                summary: p.summary,
                files: p.files,
                branch: p.branch,
                notes: p.notes,
                updated_at_ms: now,
                lamport: stamp,
            })
        })
        .await
        .map_err(store_err)?;
    to_value(&saved)
}

async fn get(ctx: &Ctx<'_>, p: ContextGetParams) -> Result<Value, RpcError> {
    ctx.require(Capability::ContextRead)?;
    let mesh = ctx.mesh.clone();
    let who = p.peer.trim_start_matches('@').to_string();
    let found = ctx.shared.db.read(move |c| load(c, &mesh, &who)).await.map_err(store_err)?;
    let found = found
        .ok_or_else(|| RpcError::new(ErrorCode::NotFound, format!("{} has shared no context in this mesh", p.peer)))?;
    to_value(&found)
}

async fn list(ctx: &Ctx<'_>, p: ContextListParams) -> Result<Value, RpcError> {
    ctx.require(Capability::ContextRead)?;
    let limit = p.limit.unwrap_or(CONTEXT_LIST_DEFAULT);
    if !(1..=CONTEXT_LIST_MAX).contains(&limit) {
        return Err(RpcError::new(ErrorCode::InvalidParams, format!("limit is 1 to {CONTEXT_LIST_MAX}")));
    }
    if p.query.as_ref().is_some_and(|q| q.len() > CONTEXT_QUERY_MAX_BYTES) {
        return Err(RpcError::new(
            ErrorCode::InvalidParams,
            format!("a query is at most {CONTEXT_QUERY_MAX_BYTES} bytes"),
        ));
    }
    let query = p.query.as_deref().and_then(context_fts_query);
    let mesh = ctx.mesh.clone();
    let (contexts, mesh_lamport) = ctx
        .shared
        .db
        .read(move |c| {
            let rows: Vec<Option<Context>> = match &query {
                Some(q) => {
                    let sql = format!(
                        "SELECT {COLS} FROM contexts_fts f JOIN contexts c ON c.rowid = f.rowid
                         WHERE contexts_fts MATCH ?1 AND c.mesh_id = ?2 ORDER BY bm25(contexts_fts), c.updated_at_ms DESC
                         LIMIT ?3"
                    );
                    let mut st = c.prepare_cached(&sql)?;
                    st.query_map(params![q, mesh.as_str(), limit], from_row)?.collect::<Result<_, _>>()?
                }
                None => {
                    let sql = format!(
                        "SELECT {COLS} FROM contexts c WHERE c.mesh_id = ?1 ORDER BY c.updated_at_ms DESC, c.rowid DESC
                         LIMIT ?2"
                    );
                    let mut st = c.prepare_cached(&sql)?;
                    st.query_map(params![mesh.as_str(), limit], from_row)?.collect::<Result<_, _>>()?
                }
            };
            Ok((rows.into_iter().flatten().collect::<Vec<_>>(), lamport::current(c, &mesh)?))
        })
        .await
        .map_err(store_err)?;
    to_value(&ContextListResult { contexts, mesh_lamport })
}
