//! A raw client of a daemon's local API (newline-delimited JSON-RPC on `$CLAUDEMESH_HOME/daemon.sock`), for tests
//! that drive thousands of calls without starting a process per call. The daemon must already run (any verb starts
//! it).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::{Value, json};

use super::Home;

pub struct LocalApi {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next: u64,
}

impl LocalApi {
    /// Connects as `session` (`"cli"` is the person at the terminal; anything else is a Claude Code session).
    pub fn connect(home: &Home, session: &str, name: Option<&str>) -> LocalApi {
        Self::try_connect(home, session, name).expect("connect to the daemon socket")
    }

    /// Like `connect`, but `None` when the daemon does not answer (not running, or starting).
    pub fn try_connect(home: &Home, session: &str, name: Option<&str>) -> Option<LocalApi> {
        let stream = UnixStream::connect(home.path().join("daemon.sock")).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
        let writer = stream.try_clone().ok()?;
        let mut api = LocalApi { reader: BufReader::new(stream), writer, next: 0 };
        let hello = json!({"protocol": 1, "version": "test", "build": "test", "session": session,
                           "name": name, "client": "chaos-test"});
        api.call("daemon.hello", hello).ok()?;
        Some(api)
    }

    /// One call: `Ok(result)` or `Err(error object)`. Panics when the daemon goes away.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.try_call(method, params).unwrap_or_else(|e| panic!("{method}: the daemon went away ({e})"))
    }

    /// One call; `Err(io)` when the socket fails (the daemon died).
    pub fn try_call(&mut self, method: &str, params: Value) -> std::io::Result<Result<Value, Value>> {
        self.next += 1;
        let req = json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        writeln!(self.writer, "{req}")?;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the daemon closed the socket"));
            }
            let msg: Value = serde_json::from_str(&line)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            if msg["id"] == self.next {
                return Ok(match msg.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(msg["result"].clone()),
                });
            }
        }
    }

    /// A call that must succeed.
    pub fn ok(&mut self, method: &str, params: Value) -> Value {
        self.call(method, params).unwrap_or_else(|e| panic!("{method}: {e}"))
    }
}

/// A local connection that `method` (`state.watch`, `stream.subscribe`, `events.subscribe` …) turned into a
/// notification stream for `session`. Every wait reads with a deadline; nothing sleeps.
pub struct Subscription {
    pub reader: BufReader<UnixStream>,
}

const SUBSCRIPTION_WAIT: Duration = Duration::from_secs(30);

impl Subscription {
    /// Says hello as `session`, sends `method`, and returns the stream with the method's result.
    pub fn start(home: &Home, session: &str, method: &str, params: Value) -> (Subscription, Value) {
        let stream = UnixStream::connect(home.path().join("daemon.sock")).expect("daemon socket");
        stream.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let mut writer = stream.try_clone().expect("clone");
        let hello = json!({"jsonrpc": "2.0", "id": 1, "method": "daemon.hello", "params": {"protocol": 1,
            "version": "test", "build": "test", "session": session, "name": null, "client": "test"}});
        let req = json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": params});
        writeln!(writer, "{hello}\n{req}").expect("write");
        let mut s = Subscription { reader: BufReader::new(stream) };
        let answer = s.wait_reply(2).unwrap_or_else(|| panic!("no answer to {method}"));
        let result = answer.get("result").cloned().unwrap_or_else(|| panic!("{method}: {answer}"));
        (s, result)
    }

    /// The next line as JSON, or `None` after the 200 ms read timeout.
    pub fn line(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(n) if n > 0 => serde_json::from_str(&line).ok(),
            _ => None,
        }
    }

    /// The response with `id`.
    pub fn wait_reply(&mut self, id: u64) -> Option<Value> {
        let deadline = std::time::Instant::now() + SUBSCRIPTION_WAIT;
        while std::time::Instant::now() < deadline {
            if let Some(msg) = self.line()
                && msg["id"] == id
            {
                return Some(msg);
            }
        }
        None
    }

    /// A notification of `method` within `within`.
    pub fn wait_for_within(&mut self, method: &str, within: Duration) -> Option<Value> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(msg) = self.line()
                && msg["method"] == method
            {
                return Some(msg["params"].clone());
            }
        }
        None
    }

    /// The first notification of `method` whose params satisfy `wanted`.
    pub fn wait_for(&mut self, method: &str, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = std::time::Instant::now() + SUBSCRIPTION_WAIT;
        while std::time::Instant::now() < deadline {
            if let Some(msg) = self.line()
                && msg["method"] == method
                && wanted(&msg["params"])
            {
                return Some(msg["params"].clone());
            }
        }
        None
    }

    /// Notifications of `method` until `done` holds for the collected list (or the deadline).
    pub fn collect(&mut self, method: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + SUBSCRIPTION_WAIT;
        while !done(&got) && std::time::Instant::now() < deadline {
            if let Some(msg) = self.line()
                && msg["method"] == method
            {
                got.push(msg["params"].clone());
            }
        }
        got
    }
}
