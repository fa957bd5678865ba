//! `task.*` on the broker (docs/coordination.md "Tasks"): claimable work whose claims are atomic in the store and
//! last while the claimer is present plus a lease.

mod lease;
mod store;

use rusqlite::Connection;
use serde_json::Value;

use super::{Ctx, parse, store_err, to_value};
use crate::proto::{
    Capability, ErrorCode, KeyHex, MeshId, RpcError, TASK_LIST_DEFAULT, TASK_LIST_MAX, Task, TaskCompleteParams,
    TaskCreateParams, TaskIdParams, TaskListParams, TaskListResult, TaskWriteParams, cmethod, encode_notification,
};

pub(super) use lease::run_leases;

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    store::migrate(c)
}

/// Replies larger than this are cut short (`truncated: true`); clients accept 8 MiB from the broker.
const LIST_BUDGET_BYTES: usize = 4 * 1024 * 1024;

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        cmethod::TASK_CREATE => create(ctx, parse(params)?).await,
        cmethod::TASK_LIST => list(ctx, parse(params)?).await,
        cmethod::TASK_SHOW => show(ctx, parse(params)?).await,
        cmethod::TASK_CLAIM => claim(ctx, parse(params)?).await,
        cmethod::TASK_RELEASE => release(ctx, parse(params)?).await,
        cmethod::TASK_COMPLETE => complete(ctx, parse(params)?).await,
        cmethod::TASK_CANCEL => cancel(ctx, parse(params)?).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

fn invalid(msg: String) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, msg)
}

/// Runs one task write in the writer thread as the caller; `f` gets the connection and who writes.
async fn write<T, F>(ctx: &Ctx<'_>, lamport: Option<u64>, f: F) -> Result<T, RpcError>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &store::Writer<'_>) -> Result<T, store::Refused> + Send + 'static,
{
    let (mesh, peer, admin) = (ctx.mesh.clone(), *ctx.peer, ctx.role.is_admin());
    let now_ms = crate::clock::now_ms();
    ctx.shared
        .db
        .run(move |c| {
            let w = store::Writer { mesh: &mesh, peer: &peer, admin, now_ms, lamport };
            store::settle(f(c, &w))
        })
        .await
        .map_err(store_err)?
}

/// Tells `to` (unless it is the peer whose call changed the task) that the task changed.
fn changed(ctx: &Ctx<'_>, to: Option<&KeyHex>, t: &Task) {
    notify(&ctx.shared.hub, ctx.mesh, to.filter(|p| *p != ctx.peer), t);
}

fn notify(hub: &crate::broker::hub::Hub, mesh: &MeshId, to: Option<&KeyHex>, t: &Task) {
    if let (Some(to), Ok(v)) = (to, serde_json::to_value(t)) {
        hub.send_to(mesh, to, &encode_notification(cmethod::TASK_CHANGED, &v));
    }
}

async fn create(ctx: &Ctx<'_>, p: TaskCreateParams) -> Result<Value, RpcError> {
    ctx.require(Capability::TaskWrite)?;
    p.check().map_err(invalid)?;
    let lamport = p.lamport;
    let t = write(ctx, lamport, move |c, w| store::create(c, w, p)).await?;
    to_value(&t)
}

async fn list(ctx: &Ctx<'_>, p: TaskListParams) -> Result<Value, RpcError> {
    ctx.require(Capability::TaskRead)?;
    let limit = p.limit.unwrap_or(TASK_LIST_DEFAULT);
    if !(1..=TASK_LIST_MAX).contains(&limit) {
        return Err(invalid(format!("limit is 1 to {TASK_LIST_MAX}")));
    }
    let mesh = ctx.mesh.clone();
    let (tasks, mesh_lamport) = ctx
        .shared
        .db
        .read(move |c| Ok((store::list(c, &mesh, &p, limit)?, super::lamport::current(c, &mesh)?)))
        .await
        .map_err(store_err)?;
    let mut result = TaskListResult { tasks: Vec::with_capacity(tasks.len()), mesh_lamport, truncated: false };
    let mut bytes = 0;
    for t in tasks {
        bytes += serde_json::to_string(&t).map_or(0, |s| s.len());
        if bytes > LIST_BUDGET_BYTES {
            result.truncated = true;
            break;
        }
        result.tasks.push(t);
    }
    to_value(&result)
}

async fn show(ctx: &Ctx<'_>, p: TaskIdParams) -> Result<Value, RpcError> {
    ctx.require(Capability::TaskRead)?;
    let mesh = ctx.mesh.clone();
    let id = p.id.clone();
    let t = ctx.shared.db.read(move |c| store::load(c, &mesh, &id)).await.map_err(store_err)?;
    let t = t.ok_or_else(|| RpcError::new(ErrorCode::NotFound, format!("there is no task {} in this mesh", p.id)))?;
    to_value(&t)
}

async fn claim(ctx: &Ctx<'_>, p: TaskIdParams) -> Result<Value, RpcError> {
    ctx.require(Capability::TaskWrite)?;
    let lease_ms = u64::try_from(ctx.shared.settings.task_lease.as_millis()).unwrap_or(u64::MAX);
    let (t, new) = write(ctx, None, move |c, w| store::claim(c, w, &p.id, lease_ms)).await?;
    if new {
        changed(ctx, Some(&t.creator), &t);
    }
    to_value(&t)
}

async fn release(ctx: &Ctx<'_>, p: TaskWriteParams) -> Result<Value, RpcError> {
    ctx.require(Capability::TaskWrite)?;
    let t = write(ctx, p.lamport, move |c, w| store::release(c, w, &p.id)).await?;
    to_value(&t)
}

async fn complete(ctx: &Ctx<'_>, p: TaskCompleteParams) -> Result<Value, RpcError> {
    ctx.require(Capability::TaskWrite)?;
    p.check().map_err(invalid)?;
    let (t, applied) = write(ctx, p.lamport, move |c, w| store::complete(c, w, &p.id, p.result)).await?;
    if applied {
        changed(ctx, Some(&t.creator), &t);
    }
    to_value(&t)
}

async fn cancel(ctx: &Ctx<'_>, p: TaskWriteParams) -> Result<Value, RpcError> {
    ctx.require(Capability::TaskWrite)?;
    let (t, applied) = write(ctx, p.lamport, move |c, w| store::cancel(c, w, &p.id)).await?;
    if let Some(claimer) = applied {
        changed(ctx, Some(&t.creator), &t);
        if claimer != Some(t.creator) {
            changed(ctx, claimer.as_ref(), &t);
        }
    }
    to_value(&t)
}
