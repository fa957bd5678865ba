//! One WebSocket JSON-RPC connection to a broker. A background task owns the socket: it writes requests, routes
//! responses to their waiting callers by id, and forwards notifications (and the final close) as `Event`s.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::ClientError;
use crate::proto::{
    ChallengeParams, Incoming, MAX_FRAME_BYTES, MAX_SERVER_FRAME_BYTES, SUBPROTOCOL, decode_frame, encode_request,
    method,
};

/// How long to wait for the TCP/TLS/WebSocket handshake and the broker's challenge.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the response to one request.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// The watchdog declares a connection dead after this many of the broker's ping intervals without a frame...
const STALE_PINGS: u32 = 3;
/// ...but never sooner than this (a broker pinging faster than once a second announces `ping_secs: 0`).
const MIN_STALE: Duration = Duration::from_secs(3);

/// How long a connection may stay silent before the client treats it as dead: three of the broker's ping
/// intervals (the broker pings every `ping_secs`, so two lost pings are tolerated), at least `MIN_STALE`.
/// A half-open TCP connection (the peer or a middlebox vanished without FIN or RST) is only ever noticed this way.
pub(crate) fn stale_timeout(ping_secs: u64) -> Duration {
    Duration::from_secs(ping_secs).saturating_mul(STALE_PINGS).max(MIN_STALE)
}

/// Something the broker sent that is not a response to one of our requests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    Notification {
        method: String,
        params: Value,
    },
    /// The connection ended. `generation` says which connection (a session reconnects under a new one).
    Closed {
        generation: u64,
        code: Option<u16>,
        reason: String,
    },
}

/// Why the connection ended, as far as we know.
#[derive(Debug, Clone, Default)]
struct CloseInfo {
    code: Option<u16>,
    reason: String,
}

enum Command {
    Call {
        id: u64,
        frame: String,
        reply: oneshot::Sender<Result<Value, ClientError>>,
    },
    /// Arms the watchdog: no frame of any kind (pings included) for this long ends the connection.
    Watchdog(Duration),
    Close,
}

/// A connected, challenge-received WebSocket. Calls are serialised through `&mut self`.
pub(crate) struct Connection {
    commands: mpsc::UnboundedSender<Command>,
    next_id: u64,
    closed: Arc<OnceLock<CloseInfo>>,
    task: Option<JoinHandle<()>>,
}

/// Validates a broker URL: `ws://` or `wss://` with a host.
pub(crate) fn check_broker_url(url: &str) -> Result<url::Url, ClientError> {
    let bad = |reason: &str| ClientError::BadUrl { url: url.to_string(), reason: reason.to_string() };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "ws" | "wss") {
        return Err(bad("the scheme must be ws:// or wss://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    Ok(parsed)
}

/// Connects, offers the `claudemesh.v1` subprotocol and waits for the `auth.challenge` notification.
pub(crate) async fn connect(
    url: &str,
    generation: u64,
    events: mpsc::UnboundedSender<Event>,
) -> Result<(Connection, ChallengeParams), ClientError> {
    check_broker_url(url)?;
    let unreachable = |reason: String| ClientError::Unreachable { url: url.to_string(), reason };
    let mut request = url.into_client_request().map_err(|e| unreachable(e.to_string()))?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_SERVER_FRAME_BYTES))
        .max_frame_size(Some(MAX_SERVER_FRAME_BYTES));

    let handshake = async {
        let (mut ws, _response) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let challenge = read_challenge(&mut ws).await?;
        Ok::<_, ClientError>((ws, challenge))
    };
    let (ws, challenge) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .map_err(|_| ClientError::ConnectTimeout { url: url.to_string(), secs: CONNECT_TIMEOUT.as_secs() })??;

    let (tx, rx) = mpsc::unbounded_channel();
    let closed = Arc::new(OnceLock::new());
    let task = tokio::spawn(run_socket(ws, rx, events, Arc::clone(&closed), generation));
    Ok((Connection { commands: tx, next_id: 0, closed, task: Some(task) }, challenge))
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn read_challenge(ws: &mut Socket) -> Result<ChallengeParams, ClientError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return match decode_frame(text.as_str()) {
                    Ok(Incoming::Notification { method: m, params }) if m == method::AUTH_CHALLENGE => {
                        serde_json::from_value(params)
                            .map_err(|e| ClientError::Protocol(format!("bad auth.challenge: {e}")))
                    }
                    _ => Err(ClientError::Protocol("the first frame was not auth.challenge".into())),
                };
            }
            Some(Ok(Message::Close(frame))) => {
                let info = close_info(frame.as_ref());
                return Err(ClientError::ConnectionLost { code: info.code, reason: info.reason });
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ClientError::ConnectionLost { code: None, reason: e.to_string() }),
            None => {
                return Err(ClientError::ConnectionLost { code: None, reason: "closed before the challenge".into() });
            }
        }
    }
}

fn close_info(frame: Option<&CloseFrame>) -> CloseInfo {
    match frame {
        Some(f) => CloseInfo { code: Some(u16::from(f.code)), reason: f.reason.to_string() },
        None => CloseInfo { code: None, reason: String::new() },
    }
}

async fn run_socket(
    mut ws: Socket,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    closed: Arc<OnceLock<CloseInfo>>,
    generation: u64,
) {
    let mut pending: HashMap<u64, oneshot::Sender<Result<Value, ClientError>>> = HashMap::new();
    let mut stale_after: Option<Duration> = None;
    let mut last_inbound = tokio::time::Instant::now();
    let info = loop {
        // A broker announcing an absurd ping interval must not overflow the clock: no deadline then.
        let silent_until = stale_after.and_then(|d| last_inbound.checked_add(d));
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Call { id, frame, reply }) => {
                    if let Err(e) = ws.send(Message::Text(Utf8Bytes::from(frame))).await {
                        let _ = reply.send(Err(ClientError::ConnectionLost { code: None, reason: e.to_string() }));
                        break CloseInfo { code: None, reason: e.to_string() };
                    }
                    pending.insert(id, reply);
                }
                Some(Command::Watchdog(after)) => {
                    stale_after = Some(after);
                    last_inbound = tokio::time::Instant::now();
                }
                Some(Command::Close) | None => {
                    let _ = ws.close(None).await;
                    // Read until the broker answers the close (bounded), so it sees a clean shutdown.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(msg)) = ws.next().await {
                            if matches!(msg, Message::Close(_)) {
                                break;
                            }
                        }
                    })
                    .await;
                    break CloseInfo { code: Some(1000), reason: "closed by client".into() };
                }
            },
            incoming = ws.next() => {
                last_inbound = tokio::time::Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => route(text.as_str(), &mut pending, &events),
                    Some(Ok(Message::Close(frame))) => break close_info(frame.as_ref()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break CloseInfo { code: None, reason: e.to_string() },
                    None => break CloseInfo { code: None, reason: "connection closed".into() },
                }
            },
            // Dropping the socket below closes our end; the broker notices on its own stale timeout.
            () = tokio::time::sleep_until(silent_until.unwrap_or(last_inbound)), if silent_until.is_some() => {
                let secs = stale_after.map_or(0, |d| d.as_secs());
                tracing::info!(secs, "no frame from the broker within the stale timeout; closing the connection");
                break CloseInfo { code: None, reason: format!("no frame from the broker for {secs} s (stale connection)") };
            }
        }
    };
    for (_, reply) in pending.drain() {
        let _ = reply.send(Err(ClientError::ConnectionLost { code: info.code, reason: info.reason.clone() }));
    }
    let _ = events.send(Event::Closed { generation, code: info.code, reason: info.reason.clone() });
    let _ = closed.set(info);
}

fn route(
    text: &str,
    pending: &mut HashMap<u64, oneshot::Sender<Result<Value, ClientError>>>,
    events: &mpsc::UnboundedSender<Event>,
) {
    match decode_frame(text) {
        Ok(Incoming::Response { id, outcome }) => {
            if let Some(reply) = id.as_u64().and_then(|id| pending.remove(&id)) {
                let _ = reply.send(outcome.map_err(ClientError::Rpc));
            }
        }
        Ok(Incoming::Notification { method, params }) => {
            let _ = events.send(Event::Notification { method, params });
        }
        // The broker never sends us requests; malformed frames are dropped (the call they answer times out).
        Ok(Incoming::Request { .. }) | Err(_) => {}
    }
}

/// A request already written to the connection's queue; `wait` resolves to its response. Several can be in
/// flight on one connection (pipelining); the broker answers a connection's requests in order.
pub(crate) struct PendingCall {
    method: String,
    response: oneshot::Receiver<Result<Value, ClientError>>,
    closed: Arc<OnceLock<CloseInfo>>,
}

impl PendingCall {
    /// The response, at most `CALL_TIMEOUT` from now.
    pub(crate) async fn wait(self) -> Result<Value, ClientError> {
        match tokio::time::timeout(CALL_TIMEOUT, self.response).await {
            Err(_) => Err(ClientError::CallTimeout { method: self.method, secs: CALL_TIMEOUT.as_secs() }),
            Ok(Err(_)) => Err(lost(&self.closed)),
            Ok(Ok(outcome)) => outcome,
        }
    }
}

fn lost(closed: &OnceLock<CloseInfo>) -> ClientError {
    let info = closed.get().cloned().unwrap_or_default();
    ClientError::ConnectionLost { code: info.code, reason: info.reason }
}

impl Connection {
    /// Sends a request and waits for its response (at most `CALL_TIMEOUT`).
    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.start(method, &params)?.wait().await
    }

    /// Queues a request without waiting for its response.
    pub(crate) fn start(&mut self, method: &str, params: &Value) -> Result<PendingCall, ClientError> {
        self.next_id += 1;
        let id = self.next_id;
        let frame = encode_request(id, method, params);
        if frame.len() > MAX_FRAME_BYTES {
            return Err(ClientError::FrameTooLarge { bytes: frame.len(), max: MAX_FRAME_BYTES });
        }
        let (reply, response) = oneshot::channel();
        if self.commands.send(Command::Call { id, frame, reply }).is_err() {
            return Err(lost(&self.closed));
        }
        Ok(PendingCall { method: method.to_string(), response, closed: Arc::clone(&self.closed) })
    }

    /// Starts the watchdog (after `auth.hello`, which tells the broker's ping interval): a connection that
    /// receives nothing for `after` is closed, which fails its pending calls and ends it with `Event::Closed`.
    pub(crate) fn arm_watchdog(&self, after: Duration) {
        let _ = self.commands.send(Command::Watchdog(after));
    }

    /// Closes the WebSocket cleanly and waits (briefly) for the socket task to finish.
    pub(crate) async fn close(mut self) {
        let _ = self.commands.send(Command::Close);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Dropping the command sender ends the socket task, which closes the WebSocket.
        let _ = self.commands.send(Command::Close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stale_timeout_is_three_ping_intervals_and_at_least_three_seconds() {
        assert_eq!(stale_timeout(15), Duration::from_secs(45));
        assert_eq!(stale_timeout(2), Duration::from_secs(6));
        assert_eq!(stale_timeout(1), Duration::from_secs(3));
        assert_eq!(stale_timeout(0), Duration::from_secs(3));
        assert_eq!(stale_timeout(u64::MAX), Duration::MAX);
    }

    #[test]
    fn broker_urls_must_be_websocket_urls() {
        assert!(check_broker_url("ws://127.0.0.1:7900/ws").is_ok());
        assert!(check_broker_url("wss://mesh.example.com/ws").is_ok());
        assert!(matches!(check_broker_url("http://x/ws"), Err(ClientError::BadUrl { .. })));
        assert!(matches!(check_broker_url("not a url"), Err(ClientError::BadUrl { .. })));
    }
}
