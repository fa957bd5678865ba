//! `schedule.*` on the broker (docs/coordination.md): sealed messages stored with a due time or a cron rule, and
//! the loop that fires them exactly once per due time; plus the controllable schedule clock of tests.

mod cron;
mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use rusqlite::Connection;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use super::{Ctx, parse, store_err, to_value};
use crate::broker::conn::{Shared, now_ms};
use crate::proto::{
    Capability, ClockAdvanceParams, ErrorCode, KeyHex, MAX_AHEAD_MS, MAX_BODY_BYTES, MAX_PAST_MS, MAX_UTC_OFFSET_MIN,
    RpcError, ScheduleCancelResult, ScheduleCreateParams, ScheduleIdParams, ScheduleListParams, ScheduleListResult,
    SendParams, cmethod,
};

pub(crate) use cron::Cron;

/// Whether `debug.clock.advance` is answered (set once at start from `broker --test-clock`).
static TEST_CLOCK: AtomicBool = AtomicBool::new(false);

/// Turns the controllable schedule clock on for this process (tests only; never in production).
pub(crate) fn enable_test_clock() {
    TEST_CLOCK.store(true, Ordering::Relaxed);
}

/// The schedule loop's clock (the broker's clock plus what tests advanced it by) and wake-up.
#[derive(Default)]
pub(crate) struct Timers {
    advanced_ms: AtomicU64,
    wake: Notify,
}

impl Timers {
    /// Now on the schedule clock.
    pub(crate) fn now(&self) -> u64 {
        now_ms().saturating_add(self.advanced_ms.load(Ordering::Relaxed))
    }

    /// Makes the loop look at the schedules again (one was created, or the clock moved).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Longest the loop sleeps without looking again.
const IDLE: Duration = Duration::from_secs(60);
/// Wait before retrying after the store failed.
const RETRY: Duration = Duration::from_secs(1);
/// Most schedules fired in one transaction.
const BATCH: usize = 64;

pub(super) fn migrate(c: &Connection) -> rusqlite::Result<()> {
    store::migrate(c)
}

pub(super) async fn handle(ctx: &Ctx<'_>, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        cmethod::SCHEDULE_CREATE => create(ctx, params).await,
        cmethod::SCHEDULE_LIST => list(ctx, params).await,
        cmethod::SCHEDULE_CANCEL => cancel(ctx, params).await,
        _ => Err(RpcError::new(ErrorCode::MethodNotFound, format!("unknown method {method}"))),
    }
}

fn invalid(msg: impl Into<String>) -> RpcError {
    RpcError::new(ErrorCode::InvalidParams, msg)
}

async fn create(ctx: &Ctx<'_>, params: Value) -> Result<Value, RpcError> {
    ctx.require(Capability::Schedule)?;
    let p: ScheduleCreateParams = parse(params)?;
    let envelopes = check_send(&p.send, ctx.shared)?;
    let now = ctx.shared.coord.timers.now();
    let offset = p.utc_offset_min.unwrap_or(0);
    if offset.abs() > MAX_UTC_OFFSET_MIN {
        return Err(invalid(format!("utc_offset_min must be between -{MAX_UTC_OFFSET_MIN} and {MAX_UTC_OFFSET_MIN}")));
    }
    let when = match (p.at_ms, p.cron.as_deref()) {
        (Some(at), None) => {
            if at < now.saturating_sub(MAX_PAST_MS) || at > now.saturating_add(MAX_AHEAD_MS) {
                return Err(invalid("at_ms must be a time from now to 10 years ahead (milliseconds since 1970)"));
            }
            store::When::Once(at.max(now))
        }
        (None, Some(expr)) => {
            let rule = Cron::parse(expr).map_err(invalid)?;
            let first = rule
                .next_after(now, offset)
                .ok_or_else(|| invalid(format!("the cron expression {expr:?} never fires")))?;
            store::When::Cron(expr.to_string(), first)
        }
        _ => return Err(invalid("give exactly one of at_ms and cron")),
    };
    let send = serde_json::to_string(&p.send).map_err(|e| RpcError::new(ErrorCode::Internal, e.to_string()))?;
    let new = store::NewSchedule {
        mesh: ctx.mesh.clone(),
        creator: *ctx.peer,
        member: *ctx.member,
        to: p.send.to.clone(),
        message_id: p.send.id.clone(),
        send,
        recipients: envelopes,
        when,
        utc_offset_min: offset,
        now,
    };
    let schedule = ctx.shared.db.run(move |c| store::create(c, &new)).await.map_err(store_err)?;
    ctx.shared.coord.timers.wake();
    to_value(&schedule)
}

async fn list(ctx: &Ctx<'_>, params: Value) -> Result<Value, RpcError> {
    let _: ScheduleListParams = parse(if params.is_null() { json!({}) } else { params })?;
    let (mesh, member) = (ctx.mesh.clone(), (!ctx.role.is_admin()).then_some(*ctx.member));
    let schedules = ctx.shared.db.read(move |c| store::list(c, &mesh, member.as_ref())).await.map_err(store_err)?;
    to_value(&ScheduleListResult { schedules })
}

async fn cancel(ctx: &Ctx<'_>, params: Value) -> Result<Value, RpcError> {
    ctx.require(Capability::Schedule)?;
    let p: ScheduleIdParams = parse(params)?;
    let (mesh, member, admin) = (ctx.mesh.clone(), *ctx.member, ctx.role.is_admin());
    let cancelled =
        ctx.shared.db.run(move |c| store::cancel(c, &mesh, &p.id, &member, admin)).await.map_err(store_err)?;
    ctx.shared.coord.timers.wake();
    to_value(&ScheduleCancelResult { cancelled })
}

/// `debug.clock.advance {ms}`: moves the schedule clock forward and wakes the loop. Refused unless the broker was
/// started with `--test-clock`.
pub(super) async fn advance(ctx: &Ctx<'_>, params: Value) -> Result<Value, RpcError> {
    if !TEST_CLOCK.load(Ordering::Relaxed) {
        return Err(RpcError::new(
            ErrorCode::MethodNotFound,
            "debug.clock.advance needs a broker started with --test-clock",
        ));
    }
    let p: ClockAdvanceParams = parse(params)?;
    if p.ms > MAX_AHEAD_MS {
        return Err(invalid(format!("ms must be at most {MAX_AHEAD_MS}")));
    }
    let timers = &ctx.shared.coord.timers;
    timers.advanced_ms.fetch_add(p.ms, Ordering::Relaxed);
    timers.wake();
    Ok(json!({ "now_ms": timers.now() }))
}

/// The checks `message.send` makes, for the sealed send a schedule will make later. Returns the recipients.
fn check_send(p: &SendParams, shared: &Shared) -> Result<Vec<KeyHex>, RpcError> {
    let s = &shared.settings;
    if p.envelopes.is_empty() || p.envelopes.len() > s.max_recipients {
        return Err(invalid(format!("a send carries 1 to {} envelopes", s.max_recipients)));
    }
    if p.to.is_empty() || p.to.len() > 128 || p.to.chars().any(char::is_control) {
        return Err(invalid("to must be 1 to 128 characters"));
    }
    let ttl = p.ttl_secs.map_or(s.default_ttl, Duration::from_secs);
    if ttl.is_zero() || ttl > s.max_ttl {
        return Err(invalid(format!("ttl_secs must be between 1 and {}", s.max_ttl.as_secs())));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let max_ct = MAX_BODY_BYTES + 1024;
    let mut seen = std::collections::HashSet::new();
    for e in &p.envelopes {
        if !seen.insert(e.to) {
            return Err(invalid("each recipient may appear once"));
        }
        let nonce_ok = b64.decode(&e.nonce).is_ok_and(|n| n.len() == 24);
        let ct_len = b64.decode(&e.ciphertext).map(|c| c.len()).unwrap_or(0);
        if !nonce_ok || !(16..=max_ct).contains(&ct_len) {
            return Err(invalid(format!(
                "nonce must be 24 bytes and ciphertext 16 to {max_ct} bytes, standard base64"
            )));
        }
    }
    Ok(seen.into_iter().collect())
}

/// Fires due schedules (runs until shutdown). Each pass fires what is due in one transaction (message, deliveries
/// and the schedule's next due time together), wakes the recipients, then sleeps until the next due time, a new
/// schedule, a clock advance or shutdown. The first pass after start coalesces fires missed while it was down.
pub(super) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut startup = true;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let timers = &shared.coord.timers;
        let now = timers.now();
        let ttls = (shared.settings.default_ttl.as_millis(), shared.settings.max_ttl.as_millis());
        let ttls = (u64::try_from(ttls.0).unwrap_or(u64::MAX), u64::try_from(ttls.1).unwrap_or(u64::MAX));
        let pass = shared.db.run(move |c| store::fire_due(c, now, startup, BATCH, ttls)).await;
        let wait = match pass {
            Ok(fired) => {
                startup = false;
                for (mesh, peer) in &fired.woke {
                    shared.hub.wake(mesh, peer);
                }
                if fired.more {
                    continue;
                }
                fired.next_due.map_or(IDLE, |d| Duration::from_millis(d.saturating_sub(timers.now())).min(IDLE))
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fire due schedules; retrying");
                RETRY
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = timers.wake.notified() => {}
            changed = shutdown.changed() => if changed.is_err() { return },
        }
    }
}
