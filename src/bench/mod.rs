//! Load benchmark (`claudemesh bench load`): real peers with their own member keys join a real mesh by invite,
//! each on its own WebSocket, and send per-recipient sealed messages to random peers through a real broker
//! (started here, or any broker by URL); measures latencies, delivery, duplicates, order and the broker's cost.

pub(crate) mod coord_recall;
pub(crate) mod coord_state;
mod mesh;
mod metrics;
mod payload;
mod peer;
mod procfs;
mod report;
mod sampler;
mod spawn;
mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::client::ClientError;

pub(crate) use report::{Failure, LoadReport};
pub(crate) use stats::Summary;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct LoadPlan {
    pub peers: usize,
    pub messages: u64,
    /// Sends each peer keeps in flight (pipelined on its connection) before waiting for an answer.
    pub window: usize,
    pub body_bytes: usize,
    /// A broker to use instead of starting one.
    pub broker: Option<String>,
    /// The whole run (set-up included) ends by then, delivered or not.
    pub timeout: Duration,
    pub seed: Option<u64>,
}

/// Why a run could not be carried out (a run that ends with missing messages is a `LoadReport`, not an error).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    #[error("cannot start a broker for the run: {0}")]
    BrokerStart(String),
    #[error("the broker started for the run did not report ready within {0} s")]
    BrokerNotReady(u64),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("setting up the mesh did not finish within the run's {0} s timeout")]
    SetupTimeout(u64),
    #[error("a peer sees {seen} peers in the mesh after set-up; {expected} joined")]
    MissingPeers { expected: usize, seen: usize },
}

impl From<crate::crypto::CryptoError> for BenchError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        BenchError::Client(ClientError::Crypto(e))
    }
}

pub(crate) fn unix_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn unix_secs() -> u64 {
    unix_ms() / 1000
}

/// Where the run's broker is.
enum Target {
    Spawned(Box<spawn::SpawnedBroker>),
    Remote(String),
}

impl Target {
    fn url(&self) -> &str {
        match self {
            Target::Spawned(b) => &b.url,
            Target::Remote(url) => url,
        }
    }
}

/// Runs `plan` to its end: every message delivered, or the timeout.
pub(crate) async fn load(plan: LoadPlan) -> Result<LoadReport, BenchError> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + plan.timeout;
    let target = match &plan.broker {
        Some(url) => {
            crate::client::check_broker_url(url)?;
            Target::Remote(url.clone())
        }
        None => Target::Spawned(Box::new(spawn::SpawnedBroker::start().await?)),
    };
    let url = target.url().to_string();
    let pid = match &target {
        Target::Spawned(b) => b.pid,
        Target::Remote(_) => None,
    };
    let metrics_addr = metrics::metrics_addr(&url);
    let (stop_sampling, sampling) = watch::channel(false);
    let sampler = tokio::spawn(sampler::run(pid, metrics_addr.clone(), sampling));

    let members = match tokio::time::timeout_at(deadline, mesh::assemble(&url, plan.peers)).await {
        Ok(members) => members?,
        Err(_) => return Err(BenchError::SetupTimeout(plan.timeout.as_secs())),
    };
    let setup_s = started.elapsed().as_secs_f64();
    // Every peer is connected now: a reading here catches the peak even in a run shorter than a sampling period.
    let (at_setup_proc, at_setup_connections) = sampler::read(pid, metrics_addr.as_deref()).await;

    let seed = match plan.seed {
        Some(seed) => seed,
        None => u64::from_le_bytes(crate::crypto::random_bytes::<8>()?),
    };
    let run = Arc::new(peer::Run {
        epoch: Instant::now(),
        peers: plan.peers,
        messages: plan.messages,
        window: plan.window,
        body_bytes: plan.body_bytes,
        seed,
        delivered: AtomicU64::new(0),
        expected: plan.peers as u64 * plan.messages,
        all_delivered: Notify::new(),
        last_delivery_us: AtomicU64::new(0),
    });
    let (stop_peers, stopping) = watch::channel(false);
    let tasks: Vec<_> =
        members.into_iter().map(|m| tokio::spawn(peer::run(m, run.clone(), stopping.clone()))).collect();
    let timed_out = run.expected > 0
        && tokio::time::timeout_at(deadline, async {
            while run.delivered.load(Ordering::Acquire) < run.expected {
                run.all_delivered.notified().await;
            }
        })
        .await
        .is_err();
    let run_s = if timed_out {
        run.epoch.elapsed().as_secs_f64()
    } else {
        run.last_delivery_us.load(Ordering::Relaxed) as f64 / 1e6
    };
    let _ = stop_peers.send(true);
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(o) => outcomes.push(o),
            Err(e) => outcomes.push(peer::Outcome { lost: Some(e.to_string()), ..Default::default() }),
        }
    }
    let _ = stop_sampling.send(true);
    let mut peaks = sampler.await.unwrap_or_default();
    peaks.add(at_setup_proc, at_setup_connections);
    let harness = procfs::sample(None).await;
    if let Target::Spawned(b) = target {
        b.stop().await;
    }
    Ok(assemble_report(&plan, &url, pid.is_some(), setup_s, run_s, timed_out, outcomes, &peaks, harness))
}

#[allow(clippy::too_many_arguments)]
fn assemble_report(
    plan: &LoadPlan,
    url: &str,
    started_here: bool,
    setup_s: f64,
    run_s: f64,
    timed_out: bool,
    outcomes: Vec<peer::Outcome>,
    peaks: &sampler::Peaks,
    harness: Option<procfs::ProcSample>,
) -> LoadReport {
    let expected = plan.peers as u64 * plan.messages;
    let mut ack_us = Vec::new();
    let mut deliver_us = Vec::new();
    let sum = |f: fn(&peer::Outcome) -> u64| outcomes.iter().map(f).sum::<u64>();
    let (sent, accepted, delivered) = (sum(|o| o.sent), sum(|o| o.accepted), sum(|o| o.delivered));
    let (duplicates, redelivered, out_of_order) =
        (sum(|o| o.duplicates), sum(|o| o.redelivered), sum(|o| o.out_of_order));
    let (undecryptable, send_errors, ack_errors) =
        (sum(|o| o.undecryptable), sum(|o| o.send_errors), sum(|o| o.ack_errors));
    let rate_limited = sum(|o| o.rate_limited);
    let lost_connections = outcomes.iter().filter(|o| o.lost.is_some()).count() as u64;
    for o in outcomes {
        ack_us.extend(o.ack_us);
        deliver_us.extend(o.deliver_us);
    }
    let failures = report::verdict(expected, delivered, duplicates, out_of_order);
    LoadReport {
        peers: plan.peers,
        messages_per_peer: plan.messages,
        messages: expected,
        window: plan.window,
        body_bytes: plan.body_bytes,
        setup_s,
        run_s,
        throughput_per_s: if run_s > 0.0 { delivered as f64 / run_s } else { 0.0 },
        sent,
        accepted,
        delivered,
        delivered_ratio: if expected > 0 { delivered as f64 / expected as f64 } else { 1.0 },
        duplicates,
        redelivered,
        out_of_order,
        undecryptable,
        send_errors,
        ack_errors,
        rate_limited,
        lost_connections,
        timed_out,
        send_to_ack: stats::summarize(&mut ack_us),
        send_to_delivered: stats::summarize(&mut deliver_us),
        broker: report::BrokerFigures {
            url: url.to_string(),
            started_here,
            peak_rss_bytes: peaks.peak_rss_bytes,
            cpu_seconds: peaks.last.map(|p| p.cpu_seconds),
            peak_connections: peaks.peak_connections,
            peak_fds: peaks.peak_fds,
        },
        harness: report::HarnessFigures {
            peak_rss_bytes: harness.map(|h| h.peak_rss_bytes),
            cpu_seconds: harness.map(|h| h.cpu_seconds),
        },
        ok: failures.is_empty(),
        failures,
    }
}
