//! Broker counters and gauges, rendered as Prometheus text on `GET /metrics`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct Metrics {
    pub connections_active: AtomicI64,
    pub connections_total: AtomicU64,
    pub messages_accepted: AtomicU64,
    pub messages_duplicate: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub messages_redelivered: AtomicU64,
    pub messages_expired: AtomicU64,
    pub receipts: AtomicU64,
    pub frame_errors: AtomicU64,
    pub auth_failures: AtomicU64,
    pub rate_limited: AtomicU64,
    pub requests: AtomicU64,
}

impl Metrics {
    pub(crate) fn inc(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |name: &str, kind: &str, help: &str, value: String| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        };
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        line(
            "claudemesh_connections",
            "gauge",
            "Open WebSocket connections.",
            self.connections_active.load(Ordering::Relaxed).to_string(),
        );
        line("claudemesh_connections_total", "counter", "WebSocket connections accepted.", g(&self.connections_total));
        line(
            "claudemesh_messages_accepted_total",
            "counter",
            "Deliveries stored (one per recipient).",
            g(&self.messages_accepted),
        );
        line(
            "claudemesh_messages_duplicate_total",
            "counter",
            "Deliveries refused as retries of stored ones.",
            g(&self.messages_duplicate),
        );
        line(
            "claudemesh_messages_delivered_total",
            "counter",
            "Deliveries acknowledged by their recipient.",
            g(&self.messages_delivered),
        );
        line(
            "claudemesh_messages_redelivered_total",
            "counter",
            "Deliveries pushed again after no ack.",
            g(&self.messages_redelivered),
        );
        line(
            "claudemesh_messages_expired_total",
            "counter",
            "Deliveries dropped at the end of their TTL.",
            g(&self.messages_expired),
        );
        line(
            "claudemesh_receipts_total",
            "counter",
            "Deliveries moved forward by a surfaced or read receipt.",
            g(&self.receipts),
        );
        line(
            "claudemesh_frame_errors_total",
            "counter",
            "Frames answered with a JSON-RPC error or a close.",
            g(&self.frame_errors),
        );
        line("claudemesh_auth_failures_total", "counter", "Failed auth.hello attempts.", g(&self.auth_failures));
        line("claudemesh_rate_limited_total", "counter", "Requests refused by a rate limit.", g(&self.rate_limited));
        line("claudemesh_requests_total", "counter", "JSON-RPC requests handled (any method).", g(&self.requests));
        out
    }
}
