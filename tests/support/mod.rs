//! Shared helpers for integration tests: a real `claudemesh broker` child process (killed on drop, restartable on the
//! same port and data directory) and isolated `CLAUDEMESH_HOME`s that run the real binary.
#![allow(dead_code)] // each test file uses a different subset

pub mod local_api;
pub mod proxy;
pub mod tmux;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_claudemesh")
}

/// Environment variables that would leak the developer's own setup into a test.
const SCRUBBED: &[&str] = &[
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDEMESH_HOME",
    "CLAUDEMESH_MESH",
    "CLAUDEMESH_BROKER",
    "CLAUDEMESH_LOCALE",
    "CLAUDEMESH_LANG",
    "CLAUDEMESH_LOG",
    "CLAUDEMESH_BROKER_LISTEN",
    "CLAUDEMESH_BROKER_DATA",
    "CLAUDEMESH_BROKER_PUBLIC_URL",
    "LC_ALL",
    "LC_MESSAGES",
    "LANG",
    "RUST_LOG",
];

/// A free loopback port: bind port 0, read it, release it.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs()
}

/// A running broker. Dropping it kills the process.
pub struct Broker {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// Extra `claudemesh broker` flags (see `start_with`).
    extra: Vec<String>,
}

impl Broker {
    /// Starts a broker with a fresh data directory on a free port.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts a broker with a fresh data directory and extra flags (e.g. `--ping-interval 1s`).
    pub fn start_with(extra: &[&str]) -> Broker {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().to_path_buf();
        let extra = extra.iter().map(|s| s.to_string()).collect();
        let mut b = Broker { child: None, port: free_port(), data, _tmp: Some(tmp), extra };
        b.spawn();
        b
    }

    /// Starts a broker on a given port and data directory (the caller owns the directory).
    pub fn start_on(port: u16, data: &Path) -> Broker {
        let mut b = Broker { child: None, port, data: data.to_path_buf(), _tmp: None, extra: Vec::new() };
        b.spawn();
        b
    }

    /// `ws://127.0.0.1:PORT/ws`
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.join("broker.log"))
            .expect("broker log file");
        let mut cmd = Command::new(bin());
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .args(["broker", "--listen", &format!("127.0.0.1:{}", self.port), "--data"])
            .arg(&self.data)
            .args(&self.extra)
            .env("CLAUDEMESH_HOME", self.data.join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn claudemesh broker");
        let stdout = child.stdout.take().expect("broker stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the ready line, then keeps draining stdout so the broker never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(self.data.join("broker.log")).unwrap_or_default();
                panic!("the broker did not print its ready line; log:\n{log}");
            }
        };
        let expected = format!("claudemesh broker listening on ws://127.0.0.1:{}/ws", self.port);
        assert_eq!(line, expected, "unexpected broker ready line");
        self.child = Some(child);
    }

    /// Kills the broker with SIGKILL and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the broker and starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One isolated claudemesh home (a user on a machine).
pub struct Home {
    dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().expect("tempdir") }
    }

    /// The claudemesh home: a directory claudemesh creates itself (so it gets mode 0700).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A command for the real binary in this home: scrubbed environment, English, no colour, stdin not a TTY.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(bin());
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        cmd.env("CLAUDEMESH_HOME", self.path()).env("NO_COLOR", "1").env("USER", "tester").stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run claudemesh")
    }

    /// Runs a verb that must succeed and returns its stdout JSON document (`--json` is added).
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(out.status.success(), "claudemesh {all:?} failed: {}", describe(&out));
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("stdout of {all:?} is not JSON ({e}): {}", describe(&out)));
        assert_eq!(doc["schema_version"], 1, "no schema_version in {doc}");
        doc
    }

    /// Runs a verb that must fail with `code` and returns its output.
    pub fn fails(&self, args: &[&str], code: i32) -> Output {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "claudemesh {args:?}: {}", describe(&out));
        out
    }
}

/// Exit status, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A two-member mesh: `alice` (owner) created it on `broker`, `bob` joined with an invite.
pub struct Pair {
    pub alice: Home,
    pub bob: Home,
}

pub fn mesh_of_two(broker: &Broker) -> Pair {
    let alice = Home::new();
    let bob = Home::new();
    alice.json(&["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    let invite = alice.json(&["invite"]);
    let url = invite["url"].as_str().expect("invite url").to_string();
    bob.json(&["join", &url, "--name", "bob"]);
    Pair { alice, bob }
}
