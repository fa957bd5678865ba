//! A real `claudemesh broker` child process for one run: this binary, a loopback port, a fresh data directory and
//! the production defaults (embedded SQLite, every commit fsynced). Killed and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::BenchError;

/// How long the broker may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY_PREFIX: &str = "claudemesh broker listening on ";

/// Variables that would point the child at another home, port or data directory than the one we give it.
const SCRUBBED: &[&str] = &[
    "CLAUDEMESH_BROKER_LISTEN",
    "CLAUDEMESH_BROKER_DATA",
    "CLAUDEMESH_BROKER_PUBLIC_URL",
    "CLAUDEMESH_BROKER_TLS_CERT",
    "CLAUDEMESH_BROKER_TLS_KEY",
];

/// A directory under the system's temp directory, removed (with its contents) when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> Result<Self, BenchError> {
        let suffix = crate::crypto::random_bytes::<8>().map_err(|e| BenchError::BrokerStart(e.to_string()))?;
        let path = std::env::temp_dir().join(format!("claudemesh-bench-{}", hex::encode(suffix)));
        std::fs::create_dir_all(&path).map_err(|e| BenchError::BrokerStart(format!("{}: {e}", path.display())))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running broker child. Field order matters: the process goes before its directory.
pub(crate) struct SpawnedBroker {
    child: Child,
    pub url: String,
    pub pid: Option<u32>,
    dir: ScratchDir,
}

impl SpawnedBroker {
    /// Starts `claudemesh broker --listen 127.0.0.1:0` with its data and home in a scratch directory, and waits
    /// for its ready line.
    pub(crate) async fn start() -> Result<Self, BenchError> {
        Self::start_with(&[]).await
    }

    /// Like `start`, with extra `claudemesh broker` flags (a coordination benchmark raises the request rate).
    pub(crate) async fn start_with(extra: &[&str]) -> Result<Self, BenchError> {
        let exe = std::env::current_exe().map_err(|e| BenchError::BrokerStart(e.to_string()))?;
        let dir = ScratchDir::create()?;
        let log = std::fs::File::create(dir.0.join("broker.log"))
            .map_err(|e| BenchError::BrokerStart(format!("{}: {e}", dir.0.display())))?;
        let mut cmd = Command::new(exe);
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        cmd.args(["broker", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.0.join("data"))
            .args(extra)
            .env("CLAUDEMESH_HOME", dir.0.join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| BenchError::BrokerStart(e.to_string()))?;
        let pid = child.id();
        let stdout = child.stdout.take().ok_or_else(|| BenchError::BrokerStart("no stdout pipe".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = match tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => return Err(BenchError::BrokerStart(exit_detail(&dir.0))),
            Err(_) => return Err(BenchError::BrokerNotReady(READY_TIMEOUT.as_secs())),
        };
        let url = line
            .strip_prefix(READY_PREFIX)
            .ok_or_else(|| BenchError::BrokerStart(format!("unexpected first line {line:?}")))?
            .trim()
            .to_string();
        // Keep draining stdout so the broker never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, url, pid, dir })
    }

    /// Stops the broker (SIGKILL: its data is thrown away with the scratch directory) and waits for it.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
        drop(self.dir);
    }
}

/// The end of the broker's log, to say why it exited before it was ready.
fn exit_detail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("broker.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(3).collect();
    if tail.is_empty() {
        "it exited before printing its ready line".into()
    } else {
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    }
}
