//! The one event channel: terminal input (crossterm `EventStream`), daemon events, ticks and termination signals,
//! each produced by a task that owns its source. The daemon task keeps a live subscription (starting the daemon
//! if needed), reconnects with backoff, and turns the local API's notifications into `DaemonEvent`s.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use ratatui::crossterm::event::{Event as TermEvent, EventStream};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::dash::Request;
use crate::client::local::{LocalClient, LocalError, LocalHello, client_name};

/// The local session the TUI acts as: the person at the terminal, like every CLI verb (docs/tui.md).
pub(crate) const SESSION: &str = "cli";

/// Received messages shown from before the dashboard opened.
const HISTORY: usize = 200;

/// Room for bursts (a paste, a backlog) before producers wait.
const CHANNEL_CAPACITY: usize = 1024;

/// Everything the loop reacts to.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A key, paste, mouse or resize event from the terminal.
    Input(TermEvent),
    /// Something the daemon reported.
    Daemon(DaemonEvent),
    /// The clock.
    Tick,
    /// SIGTERM, SIGINT or SIGHUP: leave and restore the terminal.
    Terminate,
    /// A background task's result, as the action it asks for (a flow's effect reporting back).
    Action(super::action::Action),
}

/// What the daemon subscription reports, already sorted by kind. Payloads stay JSON where the local API has no
/// shared type yet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DaemonEvent {
    /// Subscribed (again) to `mesh`.
    Connected { mesh: String },
    /// The full roster, sent after every (re)connect: our own id and `peer.list`'s peers.
    Roster { me: String, peers: Vec<Value> },
    /// `peer.joined`, `peer.left`, `peer.updated` … with the broker's params.
    PeerChanged { event: String, params: Value },
    /// A message arrived in this session's inbox (`inbox.message`).
    Message(Value),
    /// A receipt for one of this home's messages (`message.receipt`: id, recipient, state delivered/surfaced/read).
    Receipt(Value),
    /// One of this home's messages reached the broker, or was queued (`message.sent`).
    Sent(Value),
    /// The answer to the dashboard's own `message.send` (`local` is the dashboard's id for it); the error is the
    /// daemon's words.
    SendResult { local: u64, result: Result<Value, String> },
    /// The joined meshes as (slug, id), from `config.toml`.
    Meshes(Vec<(String, String)>),
    /// The answer to one of the shared panes' reads (`state.list`, `task.list`, `memory.recall`); the error is the
    /// daemon's words.
    CoordResult { method: String, result: Result<Value, String> },
    /// A change to shared data (`state.changed`, `task.changed`) with the broker's params.
    Coord { method: String, params: Value },
    /// Our session's link to the broker went up or down (`link.status`).
    BrokerLink { connected: bool },
    /// The subscription is gone (daemon stopped, socket closed); reconnecting. `reason` is for logs, in English.
    Disconnected { reason: String },
}

/// Sorts one local-API notification. Unknown methods are dropped (a newer daemon may say more).
pub(crate) fn classify(method: &str, params: Value) -> Option<DaemonEvent> {
    match method {
        "peer.event" => {
            let event = params.get("event").and_then(Value::as_str)?.to_string();
            let inner = params.get("params").cloned().unwrap_or(Value::Null);
            Some(DaemonEvent::PeerChanged { event, params: inner })
        }
        "inbox.message" => Some(DaemonEvent::Message(params)),
        "message.receipt" => Some(DaemonEvent::Receipt(params)),
        "message.sent" => Some(DaemonEvent::Sent(params)),
        "state.changed" | "task.changed" => Some(DaemonEvent::Coord { method: method.to_string(), params }),
        // Only our own session's link says whether we reach the broker; a Claude Code session's link may idle out.
        "link.status"
            if params.get("session").and_then(Value::as_str).is_none_or(|s| s == SESSION)
                && params.get("state").and_then(Value::as_str) != Some("connecting") =>
        {
            params.get("connected").and_then(Value::as_bool).map(|connected| DaemonEvent::BrokerLink { connected })
        }
        _ => None,
    }
}

/// Reconnect delays: 250 ms doubling to 5 s; reset after a good connection.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(5);

    pub(crate) fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        now
    }

    pub(crate) fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// Which subscription the daemon task keeps.
#[derive(Debug, Clone)]
pub(crate) struct DaemonFeed {
    /// `$CLAUDEMESH_HOME`.
    pub home: PathBuf,
    /// The mesh (slug); `None` is the daemon's current mesh.
    pub mesh: Option<String>,
    /// Display name for this session's peer.
    pub name: Option<String>,
}

/// The receiving end of the channel plus the tasks feeding it (aborted when this is dropped).
pub(crate) struct Events {
    tx: mpsc::Sender<Event>,
    rx: mpsc::Receiver<Event>,
    tasks: Vec<JoinHandle<()>>,
    /// The daemon subscription and its task (replaced by a mesh switch).
    feed: Option<(DaemonFeed, JoinHandle<()>)>,
}

impl Drop for Events {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some((_, task)) = &self.feed {
            task.abort();
        }
    }
}

impl Events {
    /// An empty channel (tests push events through `sender`).
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        Self { tx, rx, tasks: Vec::new(), feed: None }
    }

    /// A producer handle (tests; background work reporting back, e.g. a send's result).
    #[allow(dead_code, reason = "seam: tests and background work")]
    pub(crate) fn sender(&self) -> mpsc::Sender<Event> {
        self.tx.clone()
    }

    /// The next event; `None` only when every producer is gone.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// Terminal input. A read error ends the stream, which the loop sees as `Terminate`.
    pub(crate) fn spawn_input(&mut self) {
        let tx = self.tx.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut stream = EventStream::new();
            while let Some(read) = stream.next().await {
                let event = match read {
                    Ok(e) => Event::Input(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "terminal input failed");
                        Event::Terminate
                    }
                };
                let stop = matches!(event, Event::Terminate);
                if tx.send(event).await.is_err() || stop {
                    return;
                }
            }
        }));
    }

    /// A tick every `period` (missed ticks are skipped, never bunched).
    pub(crate) fn spawn_ticks(&mut self, period: Duration) {
        let tx = self.tx.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            interval.tick().await;
            loop {
                interval.tick().await;
                if tx.send(Event::Tick).await.is_err() {
                    return;
                }
            }
        }));
    }

    /// SIGTERM, SIGINT and SIGHUP become `Terminate` (in raw mode Ctrl-C arrives as a key, not as SIGINT).
    pub(crate) fn spawn_signals(&mut self) {
        use tokio::signal::unix::{SignalKind, signal};
        let tx = self.tx.clone();
        self.tasks.push(tokio::spawn(async move {
            let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
                (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
            else {
                tracing::warn!("cannot listen for signals");
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
                _ = hup.recv() => {}
            }
            let _ = tx.send(Event::Terminate).await;
        }));
    }

    /// The live daemon subscription for `feed` (replacing any earlier one).
    pub(crate) fn spawn_daemon(&mut self, feed: DaemonFeed) {
        if let Some((_, task)) = self.feed.take() {
            task.abort();
        }
        let task = tokio::spawn(run_feed(feed.clone(), self.tx.clone()));
        self.feed = Some((feed, task));
    }

    /// Runs work the dashboard asked for; results come back as events. Without a daemon feed (tests, a flow
    /// without a home) a send fails at once.
    pub(crate) fn request(&mut self, request: Request) {
        match request {
            Request::Switch { mesh } => {
                if let Some((feed, _)) = &self.feed {
                    let feed = DaemonFeed { mesh: Some(mesh), ..feed.clone() };
                    self.spawn_daemon(feed);
                }
            }
            Request::Coord { method, params } => {
                let tx = self.tx.clone();
                let feed = self.feed.as_ref().map(|(f, _)| f.clone());
                self.tasks.retain(|t| !t.is_finished());
                self.tasks.push(tokio::spawn(async move {
                    let result = match feed {
                        Some(feed) => call_once(&feed, method, params).await.map_err(|e| e.to_string()),
                        None => Err(LocalError::NotRunning.to_string()),
                    };
                    let event = DaemonEvent::CoordResult { method: method.to_string(), result };
                    let _ = tx.send(Event::Daemon(event)).await;
                }));
            }
            Request::Send { local, mesh, to, body, priority } => {
                let tx = self.tx.clone();
                let feed = self.feed.as_ref().map(|(f, _)| f.clone());
                self.tasks.retain(|t| !t.is_finished());
                self.tasks.push(tokio::spawn(async move {
                    let result = match feed {
                        Some(feed) => {
                            let params = json!({ "mesh": mesh, "to": to, "body": body, "priority": priority });
                            call_once(&feed, "message.send", params).await.map_err(|e| e.to_string())
                        }
                        None => Err(LocalError::NotRunning.to_string()),
                    };
                    let _ = tx.send(Event::Daemon(DaemonEvent::SendResult { local, result })).await;
                }));
            }
        }
    }
}

/// One call on a connection of its own (the subscription's connection only listens).
async fn call_once(feed: &DaemonFeed, method: &str, params: Value) -> Result<Value, LocalError> {
    let hello = LocalHello { session: SESSION.into(), name: feed.name.clone(), client: client_name("tui") };
    let mut client = LocalClient::connect(&feed.home, hello, true).await?;
    client.call(method, &params).await
}

/// The joined meshes as (slug, id), read off the runtime.
async fn meshes(home: &std::path::Path) -> Vec<(String, String)> {
    let home = crate::config::Home::new(home.to_path_buf());
    let read = tokio::task::spawn_blocking(move || crate::config::Config::load(&home)).await;
    match read {
        Ok(Ok(config)) => config.meshes.iter().map(|m| (m.slug.clone(), m.id.clone())).collect(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read config.toml for the mesh switcher");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}

/// Subscribes, forwards, and on loss reports `Disconnected` and tries again after a backoff, until the loop goes.
async fn run_feed(feed: DaemonFeed, tx: mpsc::Sender<Event>) {
    let mut backoff = Backoff::new();
    loop {
        let reason = match subscribe(&feed).await {
            Ok((mut client, first)) => {
                backoff.reset();
                for event in first {
                    if tx.send(Event::Daemon(event)).await.is_err() {
                        return;
                    }
                }
                while let Some((method, params)) = client.next_notification().await {
                    // The daemon dropped notices for us: subscribe again, which reads everything afresh.
                    if method == "subscription.lagged" {
                        break;
                    }
                    if let Some(event) = classify(&method, params)
                        && tx.send(Event::Daemon(event)).await.is_err()
                    {
                        return;
                    }
                }
                LocalError::Closed.to_string()
            }
            Err(e) => e.to_string(),
        };
        if tx.send(Event::Daemon(DaemonEvent::Disconnected { reason })).await.is_err() {
            return;
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

#[derive(Deserialize)]
struct Roster {
    mesh: String,
    me: String,
    peers: Vec<Value>,
}

/// Connects (starting or replacing the daemon as needed), subscribes to peer events and the inbox before
/// listing, so no change falls between the list and the stream; returns the first events to report.
async fn subscribe(feed: &DaemonFeed) -> Result<(LocalClient, Vec<DaemonEvent>), LocalError> {
    let hello = LocalHello { session: SESSION.into(), name: feed.name.clone(), client: client_name("tui") };
    let mut client = LocalClient::connect(&feed.home, hello, true).await?;
    let mesh = json!({ "mesh": feed.mesh });
    let _: Value = client.call("peer.subscribe", &mesh).await?;
    let _: Value = client.call("inbox.subscribe", &mesh).await?;
    let _: Value = client.call("events.subscribe", &mesh).await?;
    let roster: Roster = client.call("peer.list", &mesh).await?;
    // The latest received messages, so the stream does not start empty (nothing is marked read).
    let listed: Value = client.call("inbox.list", &json!({ "mesh": feed.mesh, "filter": "all" })).await?;
    let history = listed.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let skip = history.len().saturating_sub(HISTORY);
    let mut first = vec![
        DaemonEvent::Meshes(meshes(&feed.home).await),
        DaemonEvent::Connected { mesh: roster.mesh },
        DaemonEvent::Roster { me: roster.me, peers: roster.peers },
    ];
    first.extend(history.into_iter().skip(skip).map(DaemonEvent::Message));
    Ok((client, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_sorted_by_kind_and_unknown_ones_dropped() {
        let peer = json!({ "mesh": "team", "event": "peer.joined", "params": { "peer": { "name": "bob" } } });
        assert_eq!(
            classify("peer.event", peer),
            Some(DaemonEvent::PeerChanged {
                event: "peer.joined".into(),
                params: json!({ "peer": { "name": "bob" } })
            })
        );
        assert_eq!(classify("peer.event", json!({})), None);
        let msg = json!({ "id": "m1", "body": "hi" });
        assert_eq!(classify("inbox.message", msg.clone()), Some(DaemonEvent::Message(msg)));
        assert_eq!(
            classify("link.status", json!({ "connected": false })),
            Some(DaemonEvent::BrokerLink { connected: false })
        );
        assert_eq!(
            classify("link.status", json!({ "session": "cli", "state": "reconnecting", "connected": false })),
            Some(DaemonEvent::BrokerLink { connected: false })
        );
        // A Claude Code session's link, or ours still on its first attempt, says nothing about our broker link.
        assert_eq!(classify("link.status", json!({ "session": "3f2a", "state": "down", "connected": false })), None);
        assert_eq!(
            classify("link.status", json!({ "session": "cli", "state": "connecting", "connected": false })),
            None
        );
        assert_eq!(classify("something.new", json!({})), None);
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..7).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(250));
    }

    #[tokio::test]
    async fn events_arrive_in_the_order_they_were_sent() {
        let mut events = Events::new();
        let tx = events.sender();
        tx.send(Event::Tick).await.unwrap();
        tx.send(Event::Terminate).await.unwrap();
        assert!(matches!(events.next().await, Some(Event::Tick)));
        assert!(matches!(events.next().await, Some(Event::Terminate)));
    }
}
