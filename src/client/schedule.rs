//! Scheduled messages on the client side: resolves the target (a peer, `@group`, `*` or `self`), seals the text
//! for each recipient under a fresh message id of kind `schedule`, and asks the broker to send it when due.

use serde::Deserialize;
use serde_json::Value;

use super::targeting::resolve;
use super::{ClientError, MeshSession, check_body};
use crate::proto::{
    MAX_AHEAD_MS, MessageId, PeerInfo, Priority, SCHEDULE_KIND, ScheduleCreateParams, SealedBody, SendParams, cmethod,
};

/// `schedule.create` on the daemon's local API (plaintext; the daemon seals it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleRequest {
    pub to: String,
    pub message: String,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub at_ms: Option<u64>,
    #[serde(default)]
    pub in_ms: Option<u64>,
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub utc_offset_min: Option<i32>,
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

fn invalid(msg: &str) -> ClientError {
    ClientError::Rpc(crate::proto::RpcError::new(crate::proto::ErrorCode::InvalidParams, msg))
}

/// Seals `req` for its recipients among `peers` and creates the schedule on the broker. `now_ms` is our clock;
/// `in_ms` is taken on the broker's clock (our clock plus the session's measured offset).
pub(crate) async fn create(
    session: &mut MeshSession,
    peers: &[PeerInfo],
    req: &ScheduleRequest,
    now_ms: u64,
) -> Result<Value, ClientError> {
    let params = seal(session, peers, req, now_ms)?;
    // Not retried on a fresh connection by itself: a retry is still safe (the broker answers the schedule the
    // same sealed id made), so it is.
    session.call_retrying(cmethod::SCHEDULE_CREATE, &params).await
}

/// The broker's `schedule.create` params for `req` (nothing is sent).
pub(crate) fn seal(
    session: &mut MeshSession,
    peers: &[PeerInfo],
    req: &ScheduleRequest,
    now_ms: u64,
) -> Result<ScheduleCreateParams, ClientError> {
    check_body(&req.message)?;
    let at_ms = match (req.at_ms, req.in_ms, req.cron.is_some()) {
        (Some(at), None, false) => Some(at),
        (None, Some(delay), false) if delay <= MAX_AHEAD_MS => {
            let broker_now = now_ms.saturating_add_signed(session.clock_offset_ms());
            Some(broker_now.saturating_add(delay))
        }
        (None, None, true) => None,
        _ => return Err(invalid("give exactly one of at_ms, in_ms (up to 10 years) and cron")),
    };
    let me = session.identity().session_key();
    let targets: Vec<&PeerInfo> = if req.to.trim() == "self" {
        peers.iter().filter(|p| p.id == me).collect()
    } else {
        resolve(peers, &req.to, &me)?
    };
    let (verified, rejected): (Vec<&PeerInfo>, Vec<&PeerInfo>) =
        targets.into_iter().partition(|p| p.id == me || session.attestation_ok(p));
    if verified.is_empty() {
        return Err(ClientError::Unverified { names: rejected.iter().map(|p| p.name.clone()).collect() });
    }
    let id = MessageId::generate();
    let sealed = SealedBody {
        v: 1,
        id: id.clone(),
        mesh: session.identity().mesh_id.clone(),
        kind: SCHEDULE_KIND.into(),
        body: req.message.clone(),
        sent_at_ms: now_ms,
    };
    let plaintext = serde_json::to_vec(&sealed).map_err(|e| ClientError::Protocol(e.to_string()))?;
    let mut envelopes = Vec::with_capacity(verified.len());
    for p in &verified {
        envelopes.push(session.seal_to(&p.id, &plaintext)?);
    }
    let send = SendParams {
        id,
        to: req.to.trim().to_string(),
        priority: req.priority.unwrap_or(Priority::Next),
        ttl_secs: req.ttl_secs,
        envelopes,
    };
    Ok(ScheduleCreateParams { send, at_ms, cron: req.cron.clone(), utc_offset_min: req.utc_offset_min })
}
