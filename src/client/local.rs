//! The daemon's local API, client side: connects to `daemon.sock` (starting the daemon when it is not running,
//! and replacing it when it is another build), says `daemon.hello` as the caller's session, then makes JSON-RPC
//! calls and receives notifications over newline-delimited JSON.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, oneshot};

use super::{ClientError, ResolveError};
use crate::proto::{ErrorCode, Incoming, RpcError, decode_frame, encode_request};

/// The local API's version; a daemon speaking another one is replaced.
pub(crate) const LOCAL_PROTOCOL: u32 = 1;
/// Longest request line the daemon accepts.
pub(crate) const MAX_LINE_BYTES: usize = 256 * 1024;
/// Longest reply line a client accepts from its own daemon (an `inbox.list` of many large messages is one line).
const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;
/// How long a started daemon may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one local call may take (the daemon may itself wait on a broker).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The socket file inside the home.
pub(crate) const SOCKET_FILE: &str = "daemon.sock";

/// Everything talking to the daemon can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalError {
    #[error("the claudemesh daemon is not running")]
    NotRunning,
    #[error("cannot start the claudemesh daemon: {0}")]
    Start(String),
    #[error("the claudemesh daemon connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the claudemesh daemon did not answer {method} within {secs} s")]
    Timeout { method: String, secs: u64 },
    #[error("the claudemesh daemon closed the connection")]
    Closed,
    #[error("{0}")]
    Rpc(RpcError),
    #[error("the claudemesh daemon sent something unexpected: {0}")]
    Protocol(String),
}

/// Who is calling: the session whose identity the daemon acts under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LocalHello {
    /// Sanitised `CLAUDE_CODE_SESSION_ID`, or `cli`.
    pub session: String,
    /// Display name for this session's peer (`CLAUDEMESH_NAME`).
    pub name: Option<String>,
    /// `claudemesh-cli/0.1.0`, `claudemesh-mcp/0.1.0` …
    pub client: String,
}

/// `daemon.hello` params (the client's side of the version check).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HelloParams {
    pub protocol: u32,
    pub version: String,
    pub build: String,
    #[serde(flatten)]
    pub hello: LocalHello,
}

/// `daemon.hello` result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HelloResult {
    pub protocol: u32,
    pub version: String,
    pub build: String,
    pub pid: u32,
}

/// A connection to the daemon. Calls are serialised through `&mut self`; notifications queue until read.
pub(crate) struct LocalClient {
    writer: OwnedWriteHalf,
    next_id: u64,
    calls: mpsc::UnboundedSender<(u64, oneshot::Sender<Result<Value, RpcError>>)>,
    notifications: mpsc::UnboundedReceiver<(String, Value)>,
    hello: HelloResult,
}

/// The socket path for a home.
pub(crate) fn socket_path(home: &Path) -> PathBuf {
    home.join(SOCKET_FILE)
}

/// Identifies this exact binary: its version plus the size and modification time of the executable, so a daemon
/// left running across an upgrade (even to the same version number) is recognised as stale.
pub(crate) fn build_stamp() -> String {
    use std::os::unix::fs::MetadataExt;
    let meta = std::env::current_exe().and_then(std::fs::metadata);
    match meta {
        Ok(m) => format!("{}-{:x}-{:x}.{:x}", env!("CARGO_PKG_VERSION"), m.size(), m.mtime(), m.mtime_nsec()),
        Err(_) => env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Makes sure a daemon of this build serves `home` (starting or replacing it).
pub(crate) async fn ensure_daemon(home: &Path) -> Result<HelloResult, LocalError> {
    let hello = LocalHello { session: "cli".into(), name: None, client: client_name("cli") };
    let client = LocalClient::connect(home, hello, true).await?;
    Ok(client.hello)
}

/// `claudemesh-<role>/<version>`.
pub(crate) fn client_name(role: &str) -> String {
    format!("claudemesh-{role}/{}", env!("CARGO_PKG_VERSION"))
}

impl LocalClient {
    /// Connects and says hello. With `start`, a missing, dead or other-build daemon is (re)started first.
    pub(crate) async fn connect(home: &Path, hello: LocalHello, start: bool) -> Result<Self, LocalError> {
        match Self::try_connect(home, &hello).await {
            Ok(client) if client.hello.build == build_stamp() && client.hello.protocol == LOCAL_PROTOCOL => {
                return Ok(client);
            }
            Ok(mut other) => {
                if !start {
                    return Ok(other);
                }
                tracing::info!(theirs = %other.hello.build, ours = %build_stamp(), "replacing a daemon of another build");
                let _: Result<Value, _> = other.call("daemon.stop", &serde_json::json!({})).await;
                other.wait_closed().await;
                spawn_daemon(home, true).await?;
            }
            Err(e) if !start => return Err(e),
            Err(_) => spawn_daemon(home, false).await?,
        }
        Self::try_connect(home, &hello).await
    }

    /// Connects to a running daemon without starting one.
    async fn try_connect(home: &Path, hello: &LocalHello) -> Result<Self, LocalError> {
        let stream = match UnixStream::connect(socket_path(home)).await {
            Ok(s) => s,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
                return Err(LocalError::NotRunning);
            }
            Err(e) => return Err(LocalError::Io(e)),
        };
        let (reader, writer) = stream.into_split();
        let (calls_tx, calls_rx) = mpsc::unbounded_channel();
        let (notes_tx, notes_rx) = mpsc::unbounded_channel();
        tokio::spawn(read_loop(BufReader::new(reader), calls_rx, notes_tx));
        let placeholder = HelloResult { protocol: 0, version: String::new(), build: String::new(), pid: 0 };
        let mut client = Self { writer, next_id: 0, calls: calls_tx, notifications: notes_rx, hello: placeholder };
        let params = HelloParams {
            protocol: LOCAL_PROTOCOL,
            version: env!("CARGO_PKG_VERSION").to_string(),
            build: build_stamp(),
            hello: hello.clone(),
        };
        client.hello = client.call("daemon.hello", &params).await?;
        Ok(client)
    }

    /// The daemon's answer to hello (its version, build and pid).
    pub(crate) fn daemon(&self) -> &HelloResult {
        &self.hello
    }

    /// One typed call.
    pub(crate) async fn call<P: Serialize, R: DeserializeOwned>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<R, LocalError> {
        self.next_id += 1;
        let id = self.next_id;
        let params = serde_json::to_value(params).map_err(|e| LocalError::Protocol(e.to_string()))?;
        let mut frame = encode_request(id, method, &params);
        frame.push('\n');
        let (tx, rx) = oneshot::channel();
        self.calls.send((id, tx)).map_err(|_| LocalError::Closed)?;
        self.writer.write_all(frame.as_bytes()).await?;
        let outcome = tokio::time::timeout(CALL_TIMEOUT, rx)
            .await
            .map_err(|_| LocalError::Timeout { method: method.to_string(), secs: CALL_TIMEOUT.as_secs() })?
            .map_err(|_| LocalError::Closed)?;
        let value = outcome.map_err(LocalError::Rpc)?;
        serde_json::from_value(value).map_err(|e| LocalError::Protocol(format!("bad {method} result: {e}")))
    }

    /// The next notification (`method`, `params`); `None` once the daemon has gone.
    pub(crate) async fn next_notification(&mut self) -> Option<(String, Value)> {
        self.notifications.recv().await
    }

    /// Waits (bounded) until the daemon has closed this connection.
    async fn wait_closed(&mut self) {
        let _ =
            tokio::time::timeout(Duration::from_secs(5), async { while self.notifications.recv().await.is_some() {} })
                .await;
    }
}

/// Reads lines: responses go to their waiting call, notifications to the queue. Ends when the daemon closes.
async fn read_loop(
    mut reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    mut calls: mpsc::UnboundedReceiver<(u64, oneshot::Sender<Result<Value, RpcError>>)>,
    notes: mpsc::UnboundedSender<(String, Value)>,
) {
    let mut waiting: HashMap<u64, oneshot::Sender<Result<Value, RpcError>>> = HashMap::new();
    let mut line = String::new();
    loop {
        line.clear();
        let read = tokio::select! {
            r = reader.read_line(&mut line) => r,
            Some((id, tx)) = calls.recv() => { waiting.insert(id, tx); continue; }
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) if n > MAX_REPLY_BYTES => break,
            Ok(_) => {}
        }
        while let Ok((id, tx)) = calls.try_recv() {
            waiting.insert(id, tx);
        }
        match decode_frame(line.trim_end()) {
            Ok(Incoming::Response { id, outcome }) => {
                if let Some(tx) = id.as_u64().and_then(|id| waiting.remove(&id)) {
                    let _ = tx.send(outcome);
                }
            }
            Ok(Incoming::Notification { method, params }) => {
                let _ = notes.send((method, params));
            }
            Ok(Incoming::Request { .. }) | Err(_) => {}
        }
    }
}

/// Starts `claudemesh daemon run` for `home`, detached in its own process group, and waits for its first stdout
/// line: `ready` (it serves now) or `running` (another daemon won the race and serves).
async fn spawn_daemon(home: &Path, wait_lock: bool) -> Result<(), LocalError> {
    let exe = std::env::current_exe().map_err(|e| LocalError::Start(e.to_string()))?;
    // The daemon runs from its home, so a relative `CLAUDEMESH_HOME` must become absolute first.
    let home = &std::path::absolute(home).map_err(|e| LocalError::Start(e.to_string()))?;
    let logs = home.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| LocalError::Start(format!("{}: {e}", logs.display())))?;
    let log_path = logs.join("daemon.log");
    let log = open_log(&log_path).map_err(|e| LocalError::Start(format!("{}: {e}", log_path.display())))?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("daemon").arg("run");
    if wait_lock {
        cmd.arg("--wait-lock");
    }
    // Run from the home, not from wherever the first verb happened to run (a daemon must not pin a directory).
    cmd.env("CLAUDEMESH_HOME", home)
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .process_group(0)
        .kill_on_drop(false);
    let mut child = cmd.spawn().map_err(|e| LocalError::Start(e.to_string()))?;
    let stdout = child.stdout.take().ok_or_else(|| LocalError::Start("no stdout".into()))?;
    let mut first = String::new();
    let read = tokio::time::timeout(START_TIMEOUT, BufReader::new(stdout).read_line(&mut first)).await;
    match read {
        Ok(Ok(n)) if n > 0 && (first.starts_with("ready") || first.starts_with("running")) => Ok(()),
        Ok(_) => Err(LocalError::Start(format!("it exited; see {}", log_path.display()))),
        Err(_) => Err(LocalError::Start(format!("it did not start within {} s", START_TIMEOUT.as_secs()))),
    }
}

/// A daemon log past this size is rotated (kept as `daemon.log.1`) when the next daemon starts.
const LOG_ROTATE_BYTES: u64 = 8 * 1024 * 1024;

/// Opens (appending) the daemon log, private to the user; rotates it first when it has grown large.
fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::metadata(path).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
        let _ = std::fs::rename(path, path.with_extension("log.1"));
    }
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// Carries a client-side failure of the daemon (an unknown peer, an unreachable broker …) to the CLI as a JSON-RPC
/// error, so a verb reports it exactly as it would on a direct connection. `error_from_rpc` is the inverse.
pub(crate) fn error_to_rpc(e: &ClientError) -> RpcError {
    let client = |kind: &str, extra: serde_json::Value| {
        let mut data = serde_json::json!({ "client_error": kind });
        if let (Some(obj), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
            obj.extend(more);
        }
        RpcError::with_data(ErrorCode::Internal, e.to_string(), data)
    };
    match e {
        ClientError::Rpc(rpc) => rpc.clone(),
        ClientError::Resolve(r) => client("resolve", serde_json::json!({ "resolve": r })),
        ClientError::Unverified { names } => client("unverified", serde_json::json!({ "names": names })),
        ClientError::BodyTooLarge { bytes, max } => {
            client("body_too_large", serde_json::json!({ "bytes": bytes, "max": max }))
        }
        ClientError::EmptyBody => client("empty_body", serde_json::json!({})),
        ClientError::Unreachable { url, reason } => {
            client("unreachable", serde_json::json!({ "url": url, "detail": reason }))
        }
        ClientError::ConnectTimeout { url, secs } => {
            client("connect_timeout", serde_json::json!({ "url": url, "secs": secs }))
        }
        ClientError::ConnectionLost { code, reason } => {
            client("connection_lost", serde_json::json!({ "code": code, "detail": reason }))
        }
        ClientError::CallTimeout { method, secs } => {
            client("call_timeout", serde_json::json!({ "method": method, "secs": secs }))
        }
        other => client("other", serde_json::json!({ "detail": other.to_string() })),
    }
}

/// The inverse of `error_to_rpc`: a daemon error back as the `ClientError` a direct connection would have given.
pub(crate) fn error_from_rpc(e: RpcError) -> ClientError {
    let Some(data) = e.data.as_ref() else { return ClientError::Rpc(e) };
    let Some(kind) = data.get("client_error").and_then(serde_json::Value::as_str) else { return ClientError::Rpc(e) };
    let text = |k: &str| data.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
    let num = |k: &str| data.get(k).and_then(serde_json::Value::as_u64).unwrap_or_default();
    match kind {
        "resolve" => match data.get("resolve").cloned().map(serde_json::from_value::<ResolveError>) {
            Some(Ok(r)) => ClientError::Resolve(r),
            _ => ClientError::Protocol(e.message),
        },
        "unverified" => ClientError::Unverified {
            names: data.get("names").cloned().and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        },
        "body_too_large" => ClientError::BodyTooLarge {
            bytes: usize::try_from(num("bytes")).unwrap_or(usize::MAX),
            max: usize::try_from(num("max")).unwrap_or(usize::MAX),
        },
        "empty_body" => ClientError::EmptyBody,
        "unreachable" => ClientError::Unreachable { url: text("url"), reason: text("detail") },
        "connect_timeout" => ClientError::ConnectTimeout { url: text("url"), secs: num("secs") },
        "connection_lost" => ClientError::ConnectionLost {
            code: data.get("code").and_then(serde_json::Value::as_u64).and_then(|c| u16::try_from(c).ok()),
            reason: text("detail"),
        },
        "call_timeout" => ClientError::CallTimeout { method: text("method"), secs: num("secs") },
        _ => ClientError::Protocol(e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_cross_the_local_api_unchanged() {
        let cases = vec![
            ClientError::Resolve(ResolveError::NoSuchPeer { name: "bbo".into(), closest: vec!["bob".into()] }),
            ClientError::Resolve(ResolveError::EmptyGroup { group: "dev".into() }),
            ClientError::Unverified { names: vec!["eve".into()] },
            ClientError::BodyTooLarge { bytes: 40_000, max: 32_768 },
            ClientError::EmptyBody,
            ClientError::Unreachable { url: "ws://x/ws".into(), reason: "refused".into() },
            ClientError::Rpc(RpcError::new(ErrorCode::NotFound, "no such message")),
        ];
        for e in cases {
            let wire = serde_json::to_string(&error_to_rpc(&e)).unwrap();
            let back = error_from_rpc(serde_json::from_str(&wire).unwrap());
            assert_eq!(back.to_string(), e.to_string(), "{wire}");
            assert_eq!(std::mem::discriminant(&back), std::mem::discriminant(&e));
        }
    }
}
