//! State benchmark (`claudemesh bench state`): writers set keys at a paced rate through a real broker while N
//! watchers receive every `state.changed`; checks each watcher got every change once and in `seq` order, and
//! measures the achieved rate, set latency and notification lag (set sent → watcher received).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::mesh::{self, Member};
use super::spawn::SpawnedBroker;
use super::stats::{self, Summary};
use super::{BenchError, Target};
use crate::client::{Event, MeshSession};
use crate::proto::cmethod;

/// Sets each writer paces; the writers are as many as the rate needs.
const PER_WRITER: u64 = 100;
/// Sets one writer keeps in flight.
const WINDOW: usize = 256;
/// How long watchers may take to receive the last changes after the writers stop.
const TAIL: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct StatePlan {
    pub watchers: usize,
    pub rate: u64,
    pub secs: u64,
    pub broker: Option<String>,
}

/// What a state run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StateReport {
    pub watchers: usize,
    pub writers: usize,
    pub target_rate: u64,
    pub secs: u64,
    pub sets: u64,
    pub set_errors: u64,
    pub achieved_rate: f64,
    pub set_latency: Option<Summary>,
    pub notify_lag: Option<Summary>,
    /// Watchers that got every change once, in order.
    pub complete_watchers: usize,
    pub missing: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub ok: bool,
}

/// One watcher's ledger.
#[derive(Default)]
struct Seen {
    received: u64,
    last: u64,
    missing: u64,
    duplicates: u64,
    out_of_order: u64,
    lag_us: Vec<u64>,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs the plan: one mesh, `watchers` watchers of `bench/`, writers at `rate` sets/s for `secs`.
pub(crate) async fn run(plan: StatePlan) -> Result<StateReport, BenchError> {
    let target = match &plan.broker {
        Some(url) => Target::Remote(url.clone()),
        None => Target::Spawned(Box::new(
            SpawnedBroker::start_with(&["--request-rate", "1000000", "--request-burst", "1000000"]).await?,
        )),
    };
    let writers = usize::try_from(plan.rate.div_ceil(PER_WRITER).max(1)).unwrap_or(1);
    let members = mesh::assemble(target.url(), 1 + writers + plan.watchers).await?;
    let epoch = Instant::now();
    let mut members = members.into_iter();
    let _owner = members.next();
    let writer_members: Vec<Member> = members.by_ref().take(writers).collect();
    let expected = Arc::new(AtomicU64::new(u64::MAX));
    let (stop, stopping) = watch::channel(false);
    let mut watcher_tasks = Vec::new();
    for m in members {
        let mut session = m.session;
        let r: Value = session.call(cmethod::STATE_WATCH, &json!({"prefix": "bench/"})).await?;
        let start = r["seq"].as_u64().unwrap_or(0);
        watcher_tasks.push(tokio::spawn(watcher(session, start, epoch, expected.clone(), stopping.clone())));
    }
    let started = Instant::now();
    let per = plan.rate as f64 / writers as f64;
    let writer_tasks: Vec<_> = writer_members
        .into_iter()
        .enumerate()
        .map(|(w, m)| tokio::spawn(writer(m.session, w, per, plan.secs, epoch)))
        .collect();
    let mut set_us = Vec::new();
    let (mut sets, mut set_errors) = (0, 0);
    for t in writer_tasks {
        if let Ok((ok, errors, lat)) = t.await {
            sets += ok;
            set_errors += errors;
            set_us.extend(lat);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    expected.store(sets, Ordering::Release);
    let _ = stop.send(true);
    let mut report = StateReport {
        watchers: plan.watchers,
        writers,
        target_rate: plan.rate,
        secs: plan.secs,
        sets,
        set_errors,
        achieved_rate: if elapsed > 0.0 { sets as f64 / elapsed } else { 0.0 },
        set_latency: stats::summarize(&mut set_us),
        notify_lag: None,
        complete_watchers: 0,
        missing: 0,
        duplicates: 0,
        out_of_order: 0,
        ok: false,
    };
    let mut lag = Vec::new();
    for t in watcher_tasks {
        let seen = t.await.unwrap_or_default();
        let short = sets.saturating_sub(seen.received);
        report.missing += seen.missing.max(short);
        report.duplicates += seen.duplicates;
        report.out_of_order += seen.out_of_order;
        if seen.missing == 0 && short == 0 && seen.duplicates == 0 && seen.out_of_order == 0 {
            report.complete_watchers += 1;
        }
        lag.extend(seen.lag_us);
    }
    report.notify_lag = stats::summarize(&mut lag);
    report.ok = report.complete_watchers == plan.watchers && set_errors == 0 && sets > 0;
    if let Target::Spawned(b) = target {
        b.stop().await;
    }
    Ok(report)
}

/// Sets `bench/<w>/<n % 100>` at `rate` per second for `secs`, up to `WINDOW` in flight. Returns (applied sets,
/// errors, latencies in µs).
async fn writer(mut s: MeshSession, w: usize, rate: f64, secs: u64, epoch: Instant) -> (u64, u64, Vec<u64>) {
    let start = tokio::time::Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut inflight = FuturesUnordered::new();
    let (mut n, mut ok, mut errors) = (0u64, 0u64, 0u64);
    let mut lat = Vec::new();
    loop {
        let due = start + Duration::from_secs_f64(n as f64 / rate.max(1.0));
        let sending = due < end;
        if !sending && inflight.is_empty() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(due), if sending && inflight.len() < WINDOW => {
                let sent = Instant::now();
                let t = micros(sent.duration_since(epoch));
                let params = json!({"key": format!("bench/{w}/{}", n % 100), "value": {"w": w, "n": n, "t": t}});
                match s.start_call(cmethod::STATE_SET, &params) {
                    Ok(p) => inflight.push(async move { (sent, p.wait().await) }),
                    Err(_) => errors += 1,
                }
                n += 1;
            }
            Some((sent, r)) = inflight.next(), if !inflight.is_empty() => match r {
                Ok(v) if v["applied"] == true => {
                    ok += 1;
                    lat.push(micros(sent.elapsed()));
                }
                _ => errors += 1,
            }
        }
    }
    (ok, errors, lat)
}

/// Receives `state.changed` until it has `expected` changes (known once the writers stop) or `TAIL` passes.
async fn watcher(
    mut s: MeshSession,
    start: u64,
    epoch: Instant,
    expected: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen { last: start, ..Seen::default() };
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        if seen.received >= expected.load(Ordering::Acquire) {
            return seen;
        }
        let until = deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = stop.changed(), if deadline.is_none() => deadline = Some(tokio::time::Instant::now() + TAIL),
            _ = tokio::time::sleep_until(until) => return seen,
            e = s.next_event() => match e {
                Some(Event::Notification { method, params }) if method == cmethod::STATE_CHANGED => {
                    let now = micros(epoch.elapsed());
                    let seq = params["seq"].as_u64().unwrap_or(0);
                    if seq > seen.last {
                        // A jump past last + 1 lost the changes in between (a watcher that fell behind).
                        seen.missing += seq - seen.last - 1;
                        seen.received += 1;
                    } else if seq == seen.last {
                        seen.duplicates += 1;
                    } else {
                        seen.out_of_order += 1;
                    }
                    seen.last = seen.last.max(seq);
                    if let Some(t) = params["value"]["t"].as_u64() {
                        seen.lag_us.push(now.saturating_sub(t));
                    }
                }
                Some(Event::Closed { .. }) | None => return seen,
                Some(_) => {}
            }
        }
    }
}
