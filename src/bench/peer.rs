//! One load-test peer on one WebSocket: sends its messages to random other peers through a window of pipelined
//! `message.send` calls (sealed per recipient by the client code), and receives, decrypts, checks and
//! acknowledges (batched, one `message.ack` in flight) what the others send it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::client::{ClientError, Event, Outgoing};
use crate::proto::{AckParams, DeliverParams, ErrorCode, MessageId, Priority, SendParams, SendResult, method};

use super::mesh::{Member, peer_name};
use super::payload::{self, Picker};

/// Most deliveries acknowledged in one `message.ack` (the broker's limit).
const MAX_ACK: usize = 4096;
/// How long a stopping peer waits for its last acknowledgements.
const DRAIN: Duration = Duration::from_secs(5);
/// Longest wait a rate-limited send honours before trying again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What every peer of a run shares.
pub(crate) struct Run {
    /// The clock every send time is measured from.
    pub epoch: Instant,
    pub peers: usize,
    pub messages: u64,
    pub window: usize,
    pub body_bytes: usize,
    pub seed: u64,
    /// First-time deliveries so far, across all peers; `all_delivered` fires when it reaches `expected`.
    pub delivered: AtomicU64,
    pub expected: u64,
    pub all_delivered: Notify,
    /// Microseconds since `epoch` of the latest first-time delivery.
    pub last_delivery_us: AtomicU64,
}

/// What one peer saw.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Send start → `message.send` answered (stored durably by the broker), µs, one per accepted message.
    pub ack_us: Vec<u64>,
    /// Send start → the recipient decrypted it, µs, one per first-time delivery.
    pub deliver_us: Vec<u64>,
    pub sent: u64,
    pub accepted: u64,
    pub delivered: u64,
    /// A message pushed again that this peer had already acknowledged, or pushed twice as a first attempt: the
    /// broker broke exactly-once.
    pub duplicates: u64,
    /// A message pushed again because its acknowledgement had not reached the broker within its ack timeout
    /// (`attempt` ≥ 2): the protocol's redelivery, deduplicated here as a daemon deduplicates it.
    pub redelivered: u64,
    pub out_of_order: u64,
    pub undecryptable: u64,
    pub send_errors: u64,
    pub ack_errors: u64,
    pub rate_limited: u64,
    /// Why the connection ended early, if it did.
    pub lost: Option<String>,
}

/// What this peer received and acknowledged: tells first deliveries, redeliveries and duplicates apart, and
/// checks each sender's order.
#[derive(Default)]
struct Ledger {
    seen: HashSet<(usize, u64)>,
    /// Broker delivery ids whose `message.ack` the broker answered.
    acked: HashSet<u64>,
    last_seq: HashMap<usize, u64>,
}

/// A send on its way, kept whole so a rate-limited one can go again unchanged (same id, same ciphertext).
struct Attempt {
    started: Instant,
    params: SendParams,
}

type SendDone = (Attempt, Result<Value, ClientError>);
type AckDone = (Vec<u64>, Result<Value, ClientError>);

/// Runs peer `member` until `stop` turns true, then drains its acknowledgements and closes.
pub(crate) async fn run(member: Member, run: Arc<Run>, mut stop: watch::Receiver<bool>) -> Outcome {
    let Member { index, mut session, peers } = member;
    let mut out = Outcome::default();
    let mut picker = Picker::new(run.seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut next_seq: u64 = 0;
    let mut sends: FuturesUnordered<BoxFuture<'static, SendDone>> = FuturesUnordered::new();
    let mut retries: VecDeque<(Instant, Attempt)> = VecDeque::new();
    let mut acks: FuturesUnordered<BoxFuture<'static, AckDone>> = FuturesUnordered::new();
    let mut to_ack: Vec<u64> = Vec::new();
    let mut ledger = Ledger::default();
    let mut stopping = *stop.borrow();

    loop {
        // Fill the window: due retries first, then new messages.
        while !stopping && sends.len() < run.window {
            let attempt = match retries.front() {
                Some((due, _)) if *due <= Instant::now() => retries.pop_front().map(|(_, a)| a),
                _ if next_seq < run.messages && retries.is_empty() => {
                    let seq = next_seq;
                    next_seq += 1;
                    out.sent += 1;
                    match seal(&mut session, &peers, &run, index, seq, &mut picker) {
                        Ok(a) => Some(a),
                        Err(_) => {
                            out.send_errors += 1;
                            continue;
                        }
                    }
                }
                _ => None,
            };
            let Some(attempt) = attempt else { break };
            match session.start_call(method::MESSAGE_SEND, &attempt.params) {
                Ok(pending) => sends.push(Box::pin(async move { (attempt, pending.wait().await) })),
                Err(e) => {
                    out.send_errors += 1;
                    out.lost = Some(e.to_string());
                    break;
                }
            }
        }
        if acks.is_empty() && !to_ack.is_empty() {
            let batch: Vec<u64> = to_ack.drain(..to_ack.len().min(MAX_ACK)).collect();
            match session.start_call(method::MESSAGE_ACK, &AckParams { deliveries: batch.clone() }) {
                Ok(pending) => acks.push(Box::pin(async move { (batch, pending.wait().await) })),
                Err(_) => out.ack_errors += 1,
            }
        }
        if out.lost.is_some() || (stopping && acks.is_empty() && to_ack.is_empty()) {
            break;
        }
        let retry_at = retries.front().map(|(due, _)| tokio::time::Instant::from_std(*due));
        tokio::select! {
            r = stop.changed(), if !stopping => {
                stopping = r.is_err() || *stop.borrow();
                if stopping {
                    // Sends still out are abandoned; the acks already owed are flushed, for at most DRAIN.
                    let flush = tokio::time::Instant::now() + DRAIN;
                    return drain(session, out, acks, to_ack, flush).await;
                }
            }
            event = session.next_event() => {
                let mut next = event;
                if next.is_none() {
                    out.lost = Some("the connection's events ended".into());
                }
                // Everything already received is handled before the next ack goes out, so one ack covers a burst.
                while let Some(event) = next {
                    match event {
                        Event::Notification { method: m, params } if m == method::MESSAGE_DELIVER => {
                            receive(&mut session, &run, params, &mut out, &mut to_ack, &mut ledger);
                        }
                        Event::Notification { .. } => {}
                        Event::Closed { reason, .. } => {
                            out.lost = Some(reason);
                            break;
                        }
                    }
                    next = session.try_event();
                }
            }
            Some((attempt, result)) = sends.next(), if !sends.is_empty() => {
                match result.and_then(|v| {
                    serde_json::from_value::<SendResult>(v).map_err(|e| ClientError::Protocol(e.to_string()))
                }) {
                    Ok(r) if r.accepted + r.duplicates > 0 => {
                        out.accepted += 1;
                        out.ack_us.push(micros(attempt.started.elapsed()));
                    }
                    Ok(_) => out.send_errors += 1,
                    Err(ClientError::Rpc(e)) if e.kind() == Some(ErrorCode::RateLimited) => {
                        out.rate_limited += 1;
                        let wait = e
                            .data
                            .as_ref()
                            .and_then(|d| d.get("retry_after_ms"))
                            .and_then(Value::as_u64)
                            .map_or(MAX_RETRY_AFTER, Duration::from_millis)
                            .min(MAX_RETRY_AFTER);
                        retries.push_back((Instant::now() + wait, attempt));
                    }
                    Err(e) if e.is_connection_loss() => out.lost = Some(e.to_string()),
                    Err(_) => out.send_errors += 1,
                }
            }
            Some((batch, result)) = acks.next(), if !acks.is_empty() => match result {
                Ok(_) => ledger.acked.extend(batch),
                Err(ClientError::Rpc(e)) if e.kind() == Some(ErrorCode::RateLimited) => to_ack.extend(batch),
                Err(e) if e.is_connection_loss() => out.lost = Some(e.to_string()),
                Err(_) => out.ack_errors += 1,
            },
            _ = sleep_until(retry_at), if retry_at.is_some() => {}
        }
    }
    session.close().await;
    out
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Seals message `seq` of peer `index` for a random other peer.
fn seal(
    session: &mut crate::client::MeshSession,
    peers: &[crate::proto::PeerInfo],
    run: &Run,
    index: usize,
    seq: u64,
    picker: &mut Picker,
) -> Result<Attempt, ClientError> {
    let target = peer_name(picker.other_than(index, run.peers));
    let started = Instant::now();
    let body = payload::encode(index, seq, micros(started.duration_since(run.epoch)), run.body_bytes);
    let outgoing = Outgoing {
        id: MessageId::generate(),
        sent_at_ms: super::unix_ms(),
        to: &target,
        body: &body,
        priority: Priority::Next,
        ttl_secs: None,
        kind: "text",
    };
    let sealed = session.seal_message(peers, outgoing)?;
    let params = sealed.frames.into_iter().next().ok_or_else(|| ClientError::Protocol("nothing sealed".into()))?;
    Ok(Attempt { started, params })
}

/// Opens one delivery, records it (first time, duplicate, order) and owes the broker its ack.
fn receive(
    session: &mut crate::client::MeshSession,
    run: &Run,
    params: Value,
    out: &mut Outcome,
    to_ack: &mut Vec<u64>,
    ledger: &mut Ledger,
) {
    let Ok(d) = serde_json::from_value::<DeliverParams>(params) else {
        out.undecryptable += 1;
        return;
    };
    to_ack.push(d.delivery);
    let Some(stamp) = session.open_delivery(&d).ok().and_then(|body| payload::decode(&body.body)) else {
        out.undecryptable += 1;
        return;
    };
    let now_us = micros(run.epoch.elapsed());
    if !ledger.seen.insert((stamp.sender, stamp.seq)) {
        if d.attempt >= 2 && !ledger.acked.contains(&d.delivery) {
            out.redelivered += 1;
        } else {
            out.duplicates += 1;
        }
        return;
    }
    if ledger.last_seq.insert(stamp.sender, stamp.seq).is_some_and(|before| before > stamp.seq) {
        out.out_of_order += 1;
    }
    out.delivered += 1;
    out.deliver_us.push(now_us.saturating_sub(stamp.sent_us));
    run.last_delivery_us.fetch_max(now_us, Ordering::Relaxed);
    if run.delivered.fetch_add(1, Ordering::AcqRel) + 1 == run.expected {
        run.all_delivered.notify_one();
    }
}

/// Sends the acks still owed and waits for them, until `deadline`; then closes the connection.
async fn drain(
    mut session: crate::client::MeshSession,
    mut out: Outcome,
    mut acks: FuturesUnordered<BoxFuture<'static, AckDone>>,
    mut to_ack: Vec<u64>,
    deadline: tokio::time::Instant,
) -> Outcome {
    while !to_ack.is_empty() {
        let batch: Vec<u64> = to_ack.drain(..to_ack.len().min(MAX_ACK)).collect();
        match session.start_call(method::MESSAGE_ACK, &AckParams { deliveries: batch.clone() }) {
            Ok(pending) => acks.push(Box::pin(async move { (batch, pending.wait().await) })),
            Err(_) => out.ack_errors += 1,
        }
    }
    while let Ok(Some((_, result))) = tokio::time::timeout_at(deadline, acks.next()).await {
        if result.is_err() {
            out.ack_errors += 1;
        }
    }
    session.close().await;
    out
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
