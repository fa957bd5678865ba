//! The result of a load run: counts, latency summaries, broker figures, and the verdict (every message delivered
//! exactly once, in each sender's order).

use serde::Serialize;

use super::stats::Summary;

/// The broker's side. Figures are `None` when they could not be read (a remote broker has no /proc here, and a
/// `wss://` one is not asked for its metrics).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BrokerFigures {
    pub url: String,
    /// Whether this run started the broker (and so could read its process).
    pub started_here: bool,
    pub peak_rss_bytes: Option<u64>,
    /// User plus system CPU time of the broker process over the whole run, set-up included.
    pub cpu_seconds: Option<f64>,
    pub peak_connections: Option<u64>,
    pub peak_fds: Option<u64>,
}

/// The harness's own process (all peers, their crypto and their sockets).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HarnessFigures {
    pub peak_rss_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadReport {
    pub peers: usize,
    pub messages_per_peer: u64,
    pub messages: u64,
    pub window: usize,
    pub body_bytes: usize,
    /// Seconds to start the broker (if started here), create the mesh, and join and authenticate every peer.
    pub setup_s: f64,
    /// Seconds from the first send to the last first-time delivery (or to the timeout).
    pub run_s: f64,
    pub throughput_per_s: f64,
    pub sent: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub delivered_ratio: f64,
    /// Pushes of a message this peer had already acknowledged (or a second first attempt): broken exactly-once.
    pub duplicates: u64,
    /// Pushes again of a message whose acknowledgement was late (past the broker's ack timeout): allowed by the
    /// protocol and deduplicated by the recipient; counted, not a failure.
    pub redelivered: u64,
    pub out_of_order: u64,
    pub undecryptable: u64,
    pub send_errors: u64,
    pub ack_errors: u64,
    pub rate_limited: u64,
    pub lost_connections: u64,
    pub timed_out: bool,
    /// Send start (before sealing) → `message.send` answered: stored durably by the broker.
    pub send_to_ack: Option<Summary>,
    /// Send start → the recipient peer received `message.deliver` and decrypted it.
    pub send_to_delivered: Option<Summary>,
    pub broker: BrokerFigures,
    pub harness: HarnessFigures,
    pub ok: bool,
    pub failures: Vec<Failure>,
}

/// A broken guarantee. A run with any of these fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub(crate) enum Failure {
    /// Messages that never reached their recipient.
    Undelivered { missing: u64 },
    /// Messages a recipient received more than once.
    Duplicates { count: u64 },
    /// Messages that reached a recipient before an earlier one from the same sender.
    OutOfOrder { count: u64 },
}

/// What failed, from the counts: `expected` messages, `delivered` first-time deliveries.
pub(crate) fn verdict(expected: u64, delivered: u64, duplicates: u64, out_of_order: u64) -> Vec<Failure> {
    let mut failures = Vec::new();
    if delivered < expected {
        failures.push(Failure::Undelivered { missing: expected - delivered });
    }
    if duplicates > 0 {
        failures.push(Failure::Duplicates { count: duplicates });
    }
    if out_of_order > 0 {
        failures.push(Failure::OutOfOrder { count: out_of_order });
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_duplicate_free_ordered_runs_pass() {
        assert!(verdict(100, 100, 0, 0).is_empty());
        assert_eq!(verdict(100, 97, 0, 0), vec![Failure::Undelivered { missing: 3 }]);
        assert_eq!(verdict(100, 100, 2, 1), vec![Failure::Duplicates { count: 2 }, Failure::OutOfOrder { count: 1 }]);
        let json = serde_json::to_value(Failure::Undelivered { missing: 3 }).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "undelivered", "missing": 3}));
    }
}
