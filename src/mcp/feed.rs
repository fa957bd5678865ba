//! The push-pipe's daemon side: subscribes to this session's `now` and `next` messages, hands each to the sink
//! once, reports `message.surfaced`, and reconnects with backoff when the daemon goes away (the daemon then resends
//! whatever was not marked surfaced).

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::deliver::Sink;
use super::push::InboxMessage;
use crate::client::local::{LocalClient, LocalError, LocalHello};

/// Message ids remembered so one process never pushes a message twice.
const REMEMBERED_IDS: usize = 4096;
/// First and longest wait between reconnects.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Who to subscribe as.
#[derive(Debug, Clone)]
pub(crate) struct FeedConfig {
    /// The claudemesh home (holds `daemon.sock`).
    pub home: PathBuf,
    pub hello: LocalHello,
    /// `--mesh`, else `$CLAUDEMESH_MESH`; `None` lets the daemon use the current mesh.
    pub mesh: Option<String>,
    /// The session's working directory and git branch, reported once per connection (`presence.set`).
    pub place: Option<(String, Option<String>)>,
}

/// Why one subscription ended.
enum End {
    /// The daemon closed the connection.
    DaemonGone,
    /// Claude Code did not take a message; subscribing again retries it.
    DeliveryFailed,
}

/// Runs until `shutdown` turns true.
pub(crate) async fn run(config: FeedConfig, sink: Sink, mut shutdown: watch::Receiver<bool>) {
    let mut seen = RecentIds::new(REMEMBERED_IDS);
    let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
    let mut last_error = String::new();
    let mut retrying_delivery = false;
    loop {
        let outcome = tokio::select! {
            outcome = subscribe_once(&config, &sink, &mut seen, &mut backoff, retrying_delivery) => outcome,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        retrying_delivery = matches!(outcome, Ok(End::DeliveryFailed));
        let problem = match outcome {
            Ok(End::DaemonGone) => "the daemon closed the connection".to_string(),
            Ok(End::DeliveryFailed) => "a delivery failed".to_string(),
            Err(e) => e.to_string(),
        };
        // Say it once, not at every retry.
        if problem != last_error {
            tracing::warn!(problem = %problem, "push-pipe lost its subscription; reconnecting");
            last_error = problem;
        }
        let delay = backoff.next_delay(jitter());
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// One connection: subscribe, then deliver until the daemon goes away or a delivery fails. A working subscription
/// resets the backoff, unless it is retrying a failed delivery (then only a delivery does).
async fn subscribe_once(
    config: &FeedConfig,
    sink: &Sink,
    seen: &mut RecentIds,
    backoff: &mut Backoff,
    retrying_delivery: bool,
) -> Result<End, LocalError> {
    let mut client = connect(config).await?;
    let params = json!({ "mesh": config.mesh, "priorities": ["now", "next"], "backlog": true, "hold_in_dnd": true });
    let subscribed: Value = client.call("inbox.subscribe", &params).await?;
    tracing::info!(mesh = %subscribed["mesh"], via = sink.via(), "push-pipe subscribed");
    if let Some((cwd, branch)) = &config.place {
        // Peers see where this session works; an empty branch clears one reported before.
        let params = json!({ "mesh": config.mesh, "cwd": cwd, "branch": branch.as_deref().unwrap_or("") });
        if let Err(e) = client.call::<_, Value>("presence.set", &params).await {
            tracing::warn!(error = %e, "cannot report the working directory");
        }
    }
    if !retrying_delivery {
        backoff.reset();
    }
    while let Some((method, params)) = client.next_notification().await {
        if method != "inbox.message" {
            continue;
        }
        let message: InboxMessage = match serde_json::from_value(params) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "skipping an inbox.message the push-pipe cannot read");
                continue;
            }
        };
        if !seen.contains(&message.id) {
            if let Err(e) = sink.deliver(&message).await {
                tracing::warn!(error = %e, msg_id = %message.id, "cannot hand a message to Claude Code");
                return Ok(End::DeliveryFailed);
            }
            seen.insert(&message.id);
            backoff.reset();
        }
        // Also for a message pushed before whose receipt was lost with the last connection.
        let receipt = json!({ "mesh": message.mesh, "ids": [message.id], "via": sink.via() });
        match client.call::<_, Value>("message.surfaced", &receipt).await {
            Ok(_) => {}
            Err(LocalError::Rpc(e)) => tracing::warn!(error = %e, "the daemon refused a surfaced receipt"),
            Err(e) => return Err(e),
        }
    }
    Ok(End::DaemonGone)
}

/// Connects to the running daemon whatever its build, and starts one only when none runs. Replacing a daemon of
/// another build is for verbs: a push-pipe outliving an upgrade (Claude Code keeps it running) is the older build,
/// and would otherwise stop the newer daemon at every reconnect.
async fn connect(config: &FeedConfig) -> Result<LocalClient, LocalError> {
    match LocalClient::connect(&config.home, config.hello.clone(), false).await {
        Err(LocalError::NotRunning) => LocalClient::connect(&config.home, config.hello.clone(), true).await,
        other => other,
    }
}

/// A random factor in [0, 1) for backoff jitter (0.5 when the system has no randomness to give).
fn jitter() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

/// Exponential backoff: `min`, doubling up to `max`, each delay spread by ±25 %.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    base: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self { min, max, base: min }
    }

    /// The next delay, given a random `unit` in [0, 1).
    fn next_delay(&mut self, unit: f64) -> Duration {
        let delay = self.base.mul_f64(0.75 + 0.5 * unit.clamp(0.0, 1.0));
        self.base = (self.base * 2).min(self.max);
        delay
    }

    /// A subscription worked: start again from `min`.
    fn reset(&mut self) {
        self.base = self.min;
    }
}

/// The last `cap` ids inserted (oldest forgotten first).
#[derive(Debug)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
    cap: usize,
}

impl RecentIds {
    fn new(cap: usize) -> Self {
        Self { order: VecDeque::new(), set: HashSet::new(), cap: cap.max(1) }
    }

    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if !self.set.insert(id.to_string()) {
            return;
        }
        self.order.push_back(id.to_string());
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
        let bases: Vec<u128> = (0..9).map(|_| b.next_delay(0.5).as_millis()).collect();
        assert_eq!(bases, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(75));
        assert_eq!(b.next_delay(0.999_999).as_millis(), 249);
        for _ in 0..20 {
            let d = b.next_delay(jitter());
            assert!(d >= Duration::from_millis(75) && d <= Duration::from_millis(6250), "{d:?}");
        }
    }

    #[test]
    fn recent_ids_remember_the_last_ones_only() {
        let mut ids = RecentIds::new(3);
        for id in ["a", "b", "c", "a"] {
            ids.insert(id);
        }
        assert!(ids.contains("a") && ids.contains("b") && ids.contains("c"));
        ids.insert("d");
        assert!(!ids.contains("a"), "the oldest is forgotten");
        assert!(ids.contains("b") && ids.contains("d"));
        assert_eq!(ids.order.len(), 3);
        assert_eq!(ids.set.len(), 3);
    }
}
