//! `memory.*` on the broker (docs/coordination.md "Memory"): checks params, capabilities and limits; remember and
//! forget run in one store transaction each, recall on the reader connection.

mod query;
mod rank;
mod store;

use serde_json::Value;

use super::{Ctx, lamport, parse, store_err, to_value};
use crate::broker::conn::now_ms;
use crate::proto::{
    Capability, CoordId, ErrorCode, MEMORY_AUTHOR_MAX, MEMORY_QUERY_MAX, MEMORY_QUERY_WORDS_MAX, MEMORY_RECALL_DEFAULT,
    MEMORY_RECALL_MAX, MEMORY_TAGS_MAX, MEMORY_TEXT_MAX, MemoryForgetParams, MemoryForgetResult, MemoryRecallParams,
    MemoryRecallResult, MemoryRememberParams, Role, RpcError, cmethod,
};

pub(super) fn migrate(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    store::migrate(c)
}

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        cmethod::MEMORY_REMEMBER => remember(ctx, parse(params)?).await,
        cmethod::MEMORY_RECALL => recall(ctx, parse(params)?).await,
        cmethod::MEMORY_FORGET => forget(ctx, parse(params)?).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

fn invalid(msg: impl Into<String>) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, msg)
}

fn tags_ok(tags: &Option<Vec<crate::proto::MemoryTag>>) -> Result<Vec<String>, RpcError> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().flatten() {
        if !out.iter().any(|o| o == t.as_str()) {
            out.push(t.as_str().to_string());
        }
    }
    if out.len() > MEMORY_TAGS_MAX {
        return Err(invalid(format!("at most {MEMORY_TAGS_MAX} tags")));
    }
    Ok(out)
}

async fn remember(ctx: &Ctx<'_>, p: MemoryRememberParams) -> Result<Value, RpcError> {
    ctx.require(Capability::MemoryWrite)?;
    if p.text.trim().is_empty() || p.text.len() > MEMORY_TEXT_MAX {
        return Err(invalid(format!("the text must be 1 to {MEMORY_TEXT_MAX} bytes and not blank")));
    }
    let r = store::Remember {
        mesh: ctx.mesh.clone(),
        id: p.id.unwrap_or_else(CoordId::generate).into(),
        tags: tags_ok(&p.tags)?,
        text: p.text,
        lamport: p.lamport,
        author: *ctx.peer,
        member: *ctx.member,
        now_ms: now_ms(),
    };
    let note = ctx.shared.db.run(move |c| store::remember(c, &r)).await.map_err(store_err)?;
    to_value(&note)
}

async fn recall(ctx: &Ctx<'_>, p: MemoryRecallParams) -> Result<Value, RpcError> {
    ctx.require(Capability::MemoryRead)?;
    let limit = p.limit.unwrap_or(MEMORY_RECALL_DEFAULT);
    if limit == 0 || limit > MEMORY_RECALL_MAX {
        return Err(invalid(format!("limit must be 1 to {MEMORY_RECALL_MAX}")));
    }
    let query = p.query.unwrap_or_default();
    if query.len() > MEMORY_QUERY_MAX || query::word_count(&query) > MEMORY_QUERY_WORDS_MAX {
        return Err(invalid(format!(
            "the query must be at most {MEMORY_QUERY_MAX} bytes and {MEMORY_QUERY_WORDS_MAX} words"
        )));
    }
    if p.author.as_ref().is_some_and(|a| a.is_empty() || a.len() > MEMORY_AUTHOR_MAX) {
        return Err(invalid(format!("author must be 1 to {MEMORY_AUTHOR_MAX} bytes")));
    }
    let expr = query::words_expr(&query);
    let mut terms: Vec<String> = rank::terms(&query).collect();
    terms.sort_unstable();
    terms.dedup();
    let mesh = ctx.mesh.clone();
    let q = store::Recall {
        mesh: mesh.clone(),
        expr: expr.clone(),
        terms,
        tags: tags_ok(&p.tags)?,
        author: p.author,
        since_ms: p.since_ms,
        until_ms: p.until_ms,
        limit,
    };
    // A query of punctuation only can match nothing: answer empty rather than everything.
    let nothing = expr.is_none() && !query.trim().is_empty();
    let (memories, mesh_lamport) = ctx
        .shared
        .db
        .read(move |c| {
            let found = if nothing { Vec::new() } else { store::recall(c, &q)? };
            Ok((found, lamport::current(c, &mesh)?))
        })
        .await
        .map_err(store_err)?;
    to_value(&MemoryRecallResult { memories, mesh_lamport })
}

async fn forget(ctx: &Ctx<'_>, p: MemoryForgetParams) -> Result<Value, RpcError> {
    ctx.require(Capability::MemoryWrite)?;
    let f = store::Forget {
        mesh: ctx.mesh.clone(),
        id: p.id.into(),
        lamport: p.lamport,
        by: *ctx.peer,
        by_member: *ctx.member,
        admin: matches!(ctx.role, Role::Admin | Role::Owner),
    };
    let (forgotten, lamport) = ctx.shared.db.run(move |c| store::forget(c, &f)).await.map_err(store_err)?;
    to_value(&MemoryForgetResult { forgotten, lamport })
}
