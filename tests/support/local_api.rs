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
