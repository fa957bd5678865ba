//! An independent protocol-v1 client and a broker process harness for the broker integration tests.
//!
//! Written from docs/protocol.md and the signed-byte table, not from the crate's own client, so these tests double
//! as a conformance check of the broker. Everything runs on loopback against a real `claudemesh broker` process.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use crypto_box::aead::Aead;
use crypto_box::aead::generic_array::GenericArray;
use ed25519_dalek::Signer;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Default deadline for one request/response or one expected notification.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub fn now_secs() -> u64 {
    now_ms() / 1000
}

pub fn deadline(d: Duration) -> Instant {
    Instant::now() + d
}

pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("OS randomness");
    b
}

pub fn new_msg_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

// ---- broker process -------------------------------------------------------------------------------------------

/// A `claudemesh broker` child process on a fixed loopback port and data directory; killed on drop.
pub struct Broker {
    pub port: u16,
    pub data: PathBuf,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<tokio::process::Child>,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

impl Broker {
    /// Starts a broker with fresh data on a free port; `extra` are additional `claudemesh broker` flags.
    pub async fn start(extra: &[&str]) -> Broker {
        Broker::start_on_prepared(extra, |_| {}).await
    }

    /// Like `start`, but `prepare` first fills the (new, empty) data directory, e.g. with a database written by
    /// an older schema.
    pub async fn start_on_prepared(extra: &[&str], prepare: impl FnOnce(&Path)) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("broker");
        std::fs::create_dir_all(&data).expect("data dir");
        prepare(&data);
        let mut b = Broker { port: 0, data, dir, extra: extra.iter().map(|s| s.to_string()).collect(), child: None };
        // A port picked this way can in rare cases be taken before the broker binds it; then try another one.
        for attempt in 0..5 {
            b.port = free_port();
            match b.spawn().await {
                Ok(()) => return b,
                Err(e) if attempt < 4 => eprintln!("broker start failed ({e}); retrying on another port"),
                Err(e) => panic!("the broker did not start: {e}\n{}", b.log_tail()),
            }
        }
        unreachable!()
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("broker.log")
    }

    /// The last lines the broker wrote to stderr (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!("--- broker stderr (tail) ---\n{}", lines[from..].join("\n"))
    }

    pub fn db_path(&self) -> PathBuf {
        self.data.join("broker.db")
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).map_err(|e| e.to_string())?;
        let listen = format!("127.0.0.1:{}", self.port);
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_claudemesh"))
            .arg("broker")
            .args(["--listen", &listen])
            .arg("--data")
            .arg(&self.data)
            .args(&self.extra)
            .env("CLAUDEMESH_HOME", self.dir.path().join("home"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run the claudemesh binary: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let want = format!("claudemesh broker listening on ws://127.0.0.1:{}/ws", self.port);
        let until = deadline(Duration::from_secs(20));
        loop {
            match timeout_at(until, lines.next_line()).await {
                Err(_) => {
                    let _ = child.kill().await;
                    return Err("no `listening` line within 20 s".into());
                }
                Ok(Ok(Some(line))) if line.trim() == want => break,
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let status = timeout(Duration::from_secs(5), child.wait()).await;
                    return Err(format!("the broker exited before it was ready: {status:?}"));
                }
            }
        }
        // Keep draining stdout so the broker can never block on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("the broker is running")
    }

    /// SIGKILL, then reap.
    pub async fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().await.expect("SIGKILL the broker");
        }
    }

    /// SIGTERM, then wait up to `within` for the exit; panics if it does not exit in time.
    pub async fn term(&mut self, within: Duration) -> ExitStatus {
        let mut c = self.child.take().expect("the broker is running");
        let pid = c.id().expect("pid").to_string();
        let ok = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(ok.success(), "kill -TERM failed");
        match timeout(within, c.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => panic!("waiting for the broker: {e}"),
            Err(_) => {
                let _ = c.kill().await;
                panic!("the broker did not exit within {within:?} of SIGTERM\n{}", self.log_tail());
            }
        }
    }

    /// Replaces the extra flags used by the next `restart`.
    pub fn set_extra(&mut self, extra: &[&str]) {
        self.extra = extra.iter().map(|s| s.to_string()).collect();
    }

    /// Starts the broker again on the same port and data directory.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the broker before restarting it");
        let until = deadline(Duration::from_secs(20));
        loop {
            match self.spawn().await {
                Ok(()) => return,
                Err(e) if Instant::now() < until => eprintln!("broker restart failed ({e}); retrying"),
                Err(e) => panic!("the broker did not restart: {e}\n{}", self.log_tail()),
            }
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
    }
}

/// A minimal HTTP/1.1 GET over a plain TCP socket: (status code, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect for HTTP");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").expect("write request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).expect("HTTP status line");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Reads a Prometheus metric's value from `/metrics` text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.trim().parse().ok()).flatten()
    })
}

// ---- WebSocket client -----------------------------------------------------------------------------------------

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A JSON-RPC error as received.
#[derive(Debug, Clone)]
pub struct RpcErr {
    pub code: i64,
    pub message: String,
    pub data: Value,
}

impl RpcErr {
    pub fn reason(&self) -> &str {
        self.data.get("reason").and_then(Value::as_str).unwrap_or("")
    }
}

/// How a connection ended.
#[derive(Debug, Clone)]
pub struct Closed {
    /// The close frame's code, if the broker sent one.
    pub code: Option<u16>,
    pub reason: String,
}

enum Event {
    Json(Value),
    Close(Option<u16>, String),
    Ended(String),
}

/// One WebSocket connection speaking protocol v1. A background task reads frames, so requests can be pipelined
/// without ever deadlocking on full socket buffers; responses and notifications are buffered until asked for.
pub struct Client {
    sink: SplitSink<Ws, Message>,
    rx: mpsc::UnboundedReceiver<Event>,
    next_id: u64,
    /// The `auth.challenge` nonce of this connection.
    pub nonce: String,
    pub challenge: Value,
    notes: VecDeque<Value>,
    responses: VecDeque<Value>,
    pub closed: Option<Closed>,
    /// While set to a future instant, the reader task leaves the socket unread (models a slow client).
    hold: tokio::sync::watch::Sender<Option<Instant>>,
}

pub fn ws_request(port: u16, subprotocol: Option<&str>) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("ws://127.0.0.1:{port}/ws").into_client_request().expect("request");
    if let Some(p) = subprotocol {
        req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).expect("header"));
    }
    req
}

impl Client {
    /// Connects, offers `claudemesh.v1`, and reads the `auth.challenge`.
    pub async fn connect(port: u16) -> Client {
        let (ws, resp) = timeout(WAIT, tokio_tungstenite::connect_async(ws_request(port, Some("claudemesh.v1"))))
            .await
            .expect("WebSocket connect timed out")
            .expect("WebSocket connect");
        assert_eq!(
            resp.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
            Some("claudemesh.v1"),
            "the broker must select the subprotocol"
        );
        let (sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let (hold, hold_rx) = tokio::sync::watch::channel(None::<Instant>);
        tokio::spawn(async move {
            loop {
                let until = *hold_rx.borrow();
                if let Some(until) = until {
                    tokio::time::sleep_until(until).await;
                }
                let ev = match stream.next().await {
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<Value>(t.as_str()) {
                        Ok(v) => Event::Json(v),
                        Err(e) => Event::Ended(format!("the broker sent a non-JSON text frame ({e}): {}", t.as_str())),
                    },
                    Some(Ok(Message::Close(f))) => {
                        let (code, reason) =
                            f.map_or((None, String::new()), |f| (Some(u16::from(f.code)), f.reason.to_string()));
                        Event::Close(code, reason)
                    }
                    Some(Ok(Message::Binary(_))) => Event::Ended("the broker sent a binary frame".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => Event::Ended(format!("read error: {e}")),
                    None => Event::Ended("end of stream".into()),
                };
                let last = matches!(ev, Event::Ended(_));
                if tx.send(ev).is_err() || last {
                    return;
                }
            }
        });
        let mut c = Client {
            sink,
            rx,
            next_id: 0,
            nonce: String::new(),
            challenge: Value::Null,
            notes: VecDeque::new(),
            responses: VecDeque::new(),
            closed: None,
            hold,
        };
        let ch = c.next_notification("auth.challenge", WAIT).await.expect("the first frame must be auth.challenge");
        c.nonce = ch["nonce"].as_str().expect("challenge nonce").to_string();
        assert_eq!(ch["protocol"], "claudemesh.v1");
        let raw = URL_SAFE_NO_PAD.decode(&c.nonce).expect("nonce is base64url without padding");
        assert_eq!(raw.len(), 32, "the nonce is 32 random bytes");
        c.challenge = ch;
        c
    }

    /// Reads one event into the buffers. False on timeout or once the connection has ended.
    async fn pump(&mut self, until: Instant) -> bool {
        if self.closed.is_some() {
            // Drain whatever is still queued (frames that arrived before the close).
            return false;
        }
        match timeout_at(until, self.rx.recv()).await {
            Err(_) => false,
            Ok(None) => {
                self.closed = Some(Closed { code: None, reason: "reader ended".into() });
                false
            }
            Ok(Some(Event::Json(v))) => {
                if v.get("method").is_some() && v.get("id").is_none() {
                    self.notes.push_back(v);
                } else {
                    self.responses.push_back(v);
                }
                true
            }
            Ok(Some(Event::Close(code, reason))) => {
                self.closed = Some(Closed { code, reason });
                false
            }
            Ok(Some(Event::Ended(why))) => {
                self.closed = Some(Closed { code: None, reason: why });
                false
            }
        }
    }

    /// Leaves the socket unread for `d` from now (frames already read stay buffered). Sends still work, so
    /// a broker that applies backpressure simply waits; one that drops frames loses them.
    pub fn hold_reading(&self, d: Duration) {
        let _ = self.hold.send(Some(Instant::now() + d));
    }

    pub async fn send_raw(&mut self, text: impl Into<String>) {
        let t: String = text.into();
        self.sink.send(Message::Text(t.into())).await.expect("send a text frame");
    }

    /// Like `send_raw` but tolerates a connection the broker already closed.
    pub async fn try_send_raw(&mut self, text: impl Into<String>) -> bool {
        let t: String = text.into();
        self.sink.send(Message::Text(t.into())).await.is_ok()
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.sink.send(Message::Binary(bytes.into())).await.expect("send a binary frame");
    }

    /// Sends a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send_raw(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()).await;
        id
    }

    /// Pipelining variant of `send_request` that reports a closed connection instead of panicking.
    pub async fn try_send_request(&mut self, method: &str, params: Value) -> Option<u64> {
        self.next_id += 1;
        let id = self.next_id;
        let ok = self
            .try_send_raw(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string())
            .await;
        ok.then_some(id)
    }

    fn take_response(&mut self, id: &Value) -> Option<Value> {
        let pos = self.responses.iter().position(|r| r.get("id") == Some(id))?;
        self.responses.remove(pos)
    }

    /// Waits for the response with `id`: Ok(outcome), or Err(how the connection ended / timed out).
    pub async fn response_for(&mut self, id: &Value, within: Duration) -> Result<Result<Value, RpcErr>, Closed> {
        let until = deadline(within);
        loop {
            if let Some(r) = self.take_response(id) {
                return Ok(outcome(r));
            }
            if !self.pump(until).await {
                if let Some(r) = self.take_response(id) {
                    return Ok(outcome(r));
                }
                return Err(self
                    .closed
                    .clone()
                    .unwrap_or(Closed { code: None, reason: format!("timed out waiting for response {id}") }));
            }
        }
    }

    /// The next response of any id (for pipelined requests), or how the connection ended.
    pub async fn next_response(&mut self, within: Duration) -> Result<Value, Closed> {
        let until = deadline(within);
        loop {
            if let Some(r) = self.responses.pop_front() {
                return Ok(r);
            }
            if !self.pump(until).await {
                if let Some(r) = self.responses.pop_front() {
                    return Ok(r);
                }
                return Err(self
                    .closed
                    .clone()
                    .unwrap_or(Closed { code: None, reason: "timed out waiting for a response".into() }));
            }
        }
    }

    /// Calls `method` and waits for its response; panics if the connection ends first.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcErr> {
        match self.try_call(method, params.clone()).await {
            Ok(r) => r,
            Err(c) => panic!("{method} got no response: connection ended or timed out ({c:?})"),
        }
    }

    /// Calls `method`; Err when the connection ended (or the deadline passed) before the response.
    pub async fn try_call(&mut self, method: &str, params: Value) -> Result<Result<Value, RpcErr>, Closed> {
        let Some(id) = self.try_send_request(method, params).await else {
            return Err(self.closed.clone().unwrap_or(Closed { code: None, reason: "send failed".into() }));
        };
        self.response_for(&json!(id), WAIT).await
    }

    /// Calls and expects success.
    pub async fn ok(&mut self, method: &str, params: Value) -> Value {
        match self.call(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {e:?}"),
        }
    }

    /// Calls and expects an error with `code`.
    pub async fn err(&mut self, method: &str, params: Value, code: i64) -> RpcErr {
        match self.call(method, params).await {
            Ok(v) => panic!("{method} should fail with {code}, got result {v}"),
            Err(e) => {
                assert_eq!(e.code, code, "{method}: wrong error {e:?}");
                e
            }
        }
    }

    /// Next notification called `method` (params), buffering everything else; None on timeout or close.
    pub async fn next_notification(&mut self, method: &str, within: Duration) -> Option<Value> {
        let until = deadline(within);
        loop {
            if let Some(pos) = self.notes.iter().position(|n| n["method"] == method) {
                let n = self.notes.remove(pos)?;
                return Some(n.get("params").cloned().unwrap_or(Value::Null));
            }
            if !self.pump(until).await && !self.notes.iter().any(|n| n["method"] == method) {
                return None;
            }
        }
    }

    /// Next notification of any method (whole frame), or None on timeout or close.
    pub async fn next_any_notification(&mut self, within: Duration) -> Option<Value> {
        let until = deadline(within);
        loop {
            if let Some(n) = self.notes.pop_front() {
                return Some(n);
            }
            if !self.pump(until).await && self.notes.is_empty() {
                return None;
            }
        }
    }

    /// Every notification buffered so far (whole frames), oldest first.
    pub fn take_notes(&mut self) -> Vec<Value> {
        self.notes.drain(..).collect()
    }

    /// Reads everything that arrives within `within` into the buffers.
    pub async fn settle(&mut self, within: Duration) {
        let until = deadline(within);
        while self.pump(until).await {}
    }

    /// Waits until the broker closes the connection; returns the close code (None: ended without a close frame).
    pub async fn expect_close(&mut self, within: Duration) -> Closed {
        let until = deadline(within);
        loop {
            if let Some(c) = &self.closed {
                return c.clone();
            }
            if !self.pump(until).await && self.closed.is_none() {
                panic!("the broker did not close the connection within {within:?}");
            }
        }
    }

    /// A clean client-side close.
    pub async fn close(mut self) {
        let _ = self.sink.send(Message::Close(None)).await;
        let until = deadline(Duration::from_secs(5));
        while self.pump(until).await {}
    }

    pub async fn ping(&mut self) {
        let r = self.ok("ping", json!({})).await;
        assert!(r["time_ms"].as_u64().is_some(), "ping result: {r}");
    }
}

fn outcome(frame: Value) -> Result<Value, RpcErr> {
    if let Some(e) = frame.get("error") {
        return Err(RpcErr {
            code: e["code"].as_i64().expect("error.code is an integer"),
            message: e["message"].as_str().unwrap_or_default().to_string(),
            data: e.get("data").cloned().unwrap_or(Value::Null),
        });
    }
    Ok(frame.get("result").cloned().expect("a response has result or error"))
}

// ---- identities and signed bytes ------------------------------------------------------------------------------

/// An ed25519 key (member or session).
pub struct Keys {
    pub sk: ed25519_dalek::SigningKey,
}

impl Keys {
    pub fn random() -> Keys {
        Keys { sk: ed25519_dalek::SigningKey::from_bytes(&random::<32>()) }
    }
    pub fn hex(&self) -> String {
        hex::encode(self.sk.verifying_key().to_bytes())
    }
    pub fn sign_hex(&self, msg: &[u8]) -> String {
        hex::encode(self.sk.sign(msg).to_bytes())
    }
    /// The crypto_box secret (x25519 from the ed25519 key, as libsodium converts it).
    pub fn box_secret(&self) -> crypto_box::SecretKey {
        crypto_box::SecretKey::from_bytes(self.sk.to_scalar_bytes())
    }
}

/// The crypto_box public key of an ed25519 public key given in hex.
pub fn box_public(ed_hex: &str) -> crypto_box::PublicKey {
    let bytes: [u8; 32] = hex::decode(ed_hex).expect("hex key").try_into().expect("32 bytes");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&bytes).expect("ed25519 public key");
    crypto_box::PublicKey::from_bytes(vk.to_montgomery().to_bytes())
}

pub fn attestation_bytes(mesh: &str, member: &str, session: &str, at: u64) -> Vec<u8> {
    format!("claudemesh.v1/attest\n{mesh}\n{member}\n{session}\n{at}").into_bytes()
}
pub fn hello_bytes(nonce: &str, mesh: &str, member: &str, session: &str) -> Vec<u8> {
    format!("claudemesh.v1/hello\n{nonce}\n{mesh}\n{member}\n{session}").into_bytes()
}
pub fn mesh_create_bytes(nonce: &str, mesh: &str, name: &str, owner: &str) -> Vec<u8> {
    format!("claudemesh.v1/mesh-create\n{nonce}\n{mesh}\n{name}\n{owner}").into_bytes()
}
pub fn redeem_bytes(nonce: &str, invite_id: &str, member: &str) -> Vec<u8> {
    format!("claudemesh.v1/redeem\n{nonce}\n{invite_id}\n{member}").into_bytes()
}

/// One peer: a member key, a session key and the mesh they belong to.
pub struct Ident {
    pub mesh_id: String,
    pub mesh_name: String,
    pub member: Keys,
    pub session: Keys,
    pub name: String,
}

impl Ident {
    pub fn new(mesh_id: &str, mesh_name: &str, name: &str) -> Ident {
        Ident {
            mesh_id: mesh_id.into(),
            mesh_name: mesh_name.into(),
            member: Keys::random(),
            session: Keys::random(),
            name: name.into(),
        }
    }

    /// The peer id (session public key, hex).
    pub fn id(&self) -> String {
        self.session.hex()
    }

    /// `auth.hello` params for a connection whose challenge nonce is `nonce`.
    pub fn hello_params(&self, nonce: &str) -> Value {
        let (mesh, member, session) = (self.mesh_id.as_str(), self.member.hex(), self.session.hex());
        let at = now_ms();
        json!({
            "mesh_id": mesh,
            "member_key": member,
            "session_key": session,
            "attestation": {"issued_at_ms": at, "signature": self.member.sign_hex(&attestation_bytes(mesh, &member, &session, at))},
            "name": self.name,
            "client": "broker-tests/1",
            "signature": self.session.sign_hex(&hello_bytes(nonce, mesh, &member, &session)),
        })
    }

    pub async fn hello(&self, c: &mut Client) -> Result<Value, RpcErr> {
        let p = self.hello_params(&c.nonce);
        c.call("auth.hello", p).await
    }

    /// A new connection, authenticated as this peer. Returns the hello result; the backlog and `inbox.synced`
    /// follow as notifications.
    pub async fn connect(&self, b: &Broker) -> (Client, Value) {
        let mut c = Client::connect(b.port).await;
        let r = match self.hello(&mut c).await {
            Ok(r) => r,
            Err(e) => panic!("auth.hello of {} failed: {e:?}", self.name),
        };
        assert_eq!(r["peer"]["id"], self.id());
        (c, r)
    }
}

/// Creates a mesh owned by a new identity `owner_name` on a fresh connection, then authenticates it there.
pub async fn create_mesh(b: &Broker, owner_name: &str) -> (Ident, Client) {
    let mesh_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let owner = Ident::new(&mesh_id, "team", owner_name);
    let mut c = Client::connect(b.port).await;
    let sig = owner.member.sign_hex(&mesh_create_bytes(&c.nonce, &mesh_id, "team", &owner.member.hex()));
    let r = c
        .ok(
            "mesh.create",
            json!({"mesh_id": mesh_id, "name": "team", "owner_key": owner.member.hex(), "signature": sig}),
        )
        .await;
    assert_eq!(r["mesh"]["id"], mesh_id.as_str());
    let h = owner.hello(&mut c).await.expect("owner hello");
    assert_eq!(h["peer"]["role"], "owner");
    let synced = c.next_notification("inbox.synced", WAIT).await.expect("inbox.synced after hello");
    assert_eq!(synced["count"], 0);
    (owner, c)
}

/// An invite's fields (everything but `sig`), signed by `issuer`'s member key.
pub struct InviteSpec<'a> {
    pub role: &'a str,
    pub exp: u64,
    pub uses: u32,
}

pub fn invite_bytes(inv: &Value) -> Vec<u8> {
    let s = |k: &str| match &inv[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!(
        "claudemesh.v1/invite\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
        s("id"),
        s("mesh"),
        s("mesh_name"),
        s("broker"),
        s("role"),
        s("exp"),
        s("uses"),
        s("issuer"),
        s("inviter")
    )
    .into_bytes()
}

/// Builds and signs an invite; returns its JSON object (with `sig`).
pub fn sign_invite(issuer: &Ident, broker_url: &str, spec: &InviteSpec<'_>) -> Value {
    let mut inv = json!({
        "v": 1,
        "id": URL_SAFE_NO_PAD.encode(random::<16>()),
        "mesh": issuer.mesh_id,
        "mesh_name": issuer.mesh_name,
        "broker": broker_url,
        "role": spec.role,
        "exp": spec.exp,
        "uses": spec.uses,
        "issuer": issuer.member.hex(),
        "inviter": issuer.name,
    });
    inv["sig"] = json!(issuer.member.sign_hex(&invite_bytes(&inv)));
    inv
}

pub fn invite_token(inv: &Value) -> String {
    URL_SAFE_NO_PAD.encode(inv.to_string())
}

/// Redeems `inv` as `joiner` on connection `c` (which must not be authenticated yet).
pub async fn redeem(c: &mut Client, joiner: &Ident, inv: &Value) -> Result<Value, RpcErr> {
    let id = inv["id"].as_str().expect("invite id");
    let sig = joiner.member.sign_hex(&redeem_bytes(&c.nonce, id, &joiner.member.hex()));
    c.call(
        "invite.redeem",
        json!({"token": invite_token(inv), "member_key": joiner.member.hex(), "name": joiner.name, "signature": sig}),
    )
    .await
}

/// The owner registers a one-use member invite, a new member redeems it on a fresh connection and authenticates
/// there. Returns the new peer and its live connection (its `inbox.synced` already consumed).
pub async fn invite_and_join(b: &Broker, owner: &Ident, owner_c: &mut Client, name: &str) -> (Ident, Client) {
    let inv = sign_invite(owner, &b.url(), &InviteSpec { role: "member", exp: now_secs() + 3600, uses: 1 });
    owner_c.ok("invite.create", json!({"token": invite_token(&inv)})).await;
    let joiner = Ident::new(&owner.mesh_id, &owner.mesh_name, name);
    let mut c = Client::connect(b.port).await;
    let r = redeem(&mut c, &joiner, &inv).await.expect("invite.redeem");
    assert_eq!(r["already_member"], false);
    let h = joiner.hello(&mut c).await.expect("joiner hello");
    assert_eq!(h["peer"]["name"], name, "test names are unique, so the broker keeps them");
    let synced = c.next_notification("inbox.synced", WAIT).await.expect("inbox.synced after hello");
    assert_eq!(synced["count"], 0);
    (joiner, c)
}

// ---- sealing --------------------------------------------------------------------------------------------------

/// Seals `text` from `from` to the peer `to_hex` as message `msg_id`: one envelope.
pub fn envelope(from: &Ident, to_hex: &str, msg_id: &str, text: &str) -> Value {
    let body =
        json!({"v": 1, "id": msg_id, "mesh": from.mesh_id, "kind": "text", "body": text, "sent_at_ms": now_ms()});
    let nonce = random::<24>();
    let sealed = crypto_box::SalsaBox::new(&box_public(to_hex), &from.session.box_secret())
        .encrypt(GenericArray::from_slice(&nonce), body.to_string().as_bytes())
        .expect("seal");
    json!({"to": to_hex, "nonce": STANDARD.encode(nonce), "ciphertext": STANDARD.encode(sealed)})
}

/// `message.send` params with one envelope per recipient (peer ids).
pub fn send_params(from: &Ident, msg_id: &str, to: &str, recipients: &[String], text: &str) -> Value {
    let envs: Vec<Value> = recipients.iter().map(|r| envelope(from, r, msg_id, text)).collect();
    json!({"id": msg_id, "to": to, "priority": "next", "envelopes": envs})
}

/// Opens a `message.deliver` as recipient `me`; checks the sealed ids against the outer ones; returns the body.
pub fn open(me: &Ident, d: &Value) -> String {
    let nonce = STANDARD.decode(d["nonce"].as_str().expect("nonce")).expect("nonce base64");
    let ct = STANDARD.decode(d["ciphertext"].as_str().expect("ciphertext")).expect("ciphertext base64");
    let from = d["from"].as_str().expect("from");
    let plain = crypto_box::SalsaBox::new(&box_public(from), &me.session.box_secret())
        .decrypt(GenericArray::from_slice(&nonce), ct.as_slice())
        .expect("the envelope opens under the sender's key");
    let body: Value = serde_json::from_slice(&plain).expect("sealed body is JSON");
    assert_eq!(body["v"], 1);
    assert_eq!(body["id"], d["id"], "sealed id equals the outer id");
    assert_eq!(body["mesh"], me.mesh_id.as_str(), "sealed mesh equals the recipient's mesh");
    body["body"].as_str().expect("body text").to_string()
}

/// Parsed fields of a `message.deliver`.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub delivery: u64,
    pub id: String,
    pub from: String,
    pub attempt: u64,
    pub params: Value,
}

impl Delivery {
    pub fn parse(p: Value) -> Delivery {
        Delivery {
            delivery: p["delivery"].as_u64().expect("delivery id"),
            id: p["id"].as_str().expect("message id").to_string(),
            from: p["from"].as_str().expect("from").to_string(),
            attempt: p["attempt"].as_u64().expect("attempt"),
            params: p,
        }
    }
}

/// Waits for the next `message.deliver`.
pub async fn next_delivery(c: &mut Client, within: Duration) -> Option<Delivery> {
    c.next_notification("message.deliver", within).await.map(Delivery::parse)
}

/// Bytes of `needle` anywhere in `path` (raw file contents); false if the file does not exist.
pub fn file_contains(path: &Path, needle: &[u8]) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle)
}
