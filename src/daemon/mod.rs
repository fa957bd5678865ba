//! The per-user daemon (`claudemesh daemon`): one per home (lock file), serves the local API on `daemon.sock`,
//! hosts the embedded broker, holds the broker links of every session in use, keeps the inbox and outbox.

mod api;
mod coord;
mod embedded;
mod link;
mod lock;
mod state;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::watch;

use crate::client::local::{build_stamp, socket_path};
use crate::config::Home;
use crate::store::Inbox;

/// `claudemesh daemon [status|stop]`
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DaemonArgs {
    #[command(subcommand)]
    pub action: Option<DaemonAction>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum DaemonAction {
    /// Run the daemon in the foreground (what `claudemesh` starts on demand).
    Run {
        /// Wait (briefly) for a stopping daemon to release the lock instead of giving way at once.
        #[arg(long, hide = true)]
        wait_lock: bool,
        /// Report this build stamp instead of the real one (tests of the upgrade path).
        #[arg(long, hide = true, value_name = "STAMP")]
        build: Option<String>,
    },
    /// Show whether the daemon runs, its version, links and outbox.
    Status,
    /// Stop the daemon.
    Stop,
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DaemonError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl DaemonError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }
}

/// How often the daemon checks that its home still exists (a deleted home stops it).
const HOME_CHECK: Duration = Duration::from_secs(2);

/// Runs the daemon for `home` until SIGINT/SIGTERM, `daemon.stop`, or the home disappearing. Prints exactly one
/// stdout line: `ready <pid>` once it serves, or `running` when another daemon holds the lock.
pub(crate) fn run(home: PathBuf, wait_lock: bool, build: Option<String>) -> Result<(), DaemonError> {
    let home = Home::new(home);
    home.ensure_root()?;
    let Some(lock) = take_over(&home, wait_lock)? else {
        println!("running");
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(DaemonError::Runtime)?;
    let result = rt.block_on(serve(home, build.unwrap_or_else(build_stamp)));
    drop(lock);
    result
}

/// Takes the lock, or returns `None` when another daemon serves this home. A lock holder that does not answer on
/// the socket is starting or stopping: wait for it (bounded) rather than give up, so a verb that starts a
/// daemon right after `daemon stop` or a crash gets one.
fn take_over(home: &Home, wait_lock: bool) -> Result<Option<lock::Lock>, DaemonError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(if wait_lock { 10 } else { 5 });
    let sock = socket_path(home.root());
    loop {
        if let Some(lock) = lock::acquire(home)? {
            return Ok(Some(lock));
        }
        if std::os::unix::net::UnixStream::connect(&sock).is_ok() || std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn serve(home: Home, build: String) -> Result<(), DaemonError> {
    let (shutdown_tx, shutdown) = watch::channel(false);
    let inbox = tokio::task::spawn_blocking({
        let path = home.data_db_path();
        move || Inbox::open(&path)
    })
    .await
    .map_err(|e| DaemonError::Runtime(std::io::Error::other(e.to_string())))??;
    let _checkpointer = crate::store::spawn_checkpointer(&home.data_db_path(), Duration::from_secs(2))?;
    let broker = embedded::start(&home, shutdown.clone()).await;
    let embedded_url = match &broker {
        Ok((url, _)) => Some(url.clone()),
        Err(e) => {
            tracing::warn!(error = %e, "the embedded broker did not start; local meshes are unavailable");
            None
        }
    };

    let sock = socket_path(home.root());
    // We hold the lock, so any socket file left here belongs to a daemon that died.
    match std::fs::remove_file(&sock) {
        Ok(()) => tracing::info!("removed a stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(DaemonError::io(&sock, e)),
    }
    let listener = UnixListener::bind(&sock).map_err(|e| DaemonError::io(&sock, e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| DaemonError::io(&sock, e))?;
    }

    let daemon = state::Daemon::new(home.clone(), inbox, embedded_url, build, shutdown_tx.clone());
    daemon.open_cli_links();
    daemon.open_outbox_links().await;
    tokio::spawn(watch_home(home.root().to_path_buf(), shutdown_tx.clone()));
    tokio::spawn(wait_for_signal(shutdown_tx.clone()));

    println!("ready {}", std::process::id());
    tracing::info!(pid = std::process::id(), socket = %sock.display(), "daemon ready");

    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(api::serve_conn(stream, daemon.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = stop.changed() => break,
        }
    }
    tracing::info!("daemon stopping");
    drop(listener);
    let _ = std::fs::remove_file(&sock);
    daemon.close_links().await;
    if let Ok((_, task)) = broker {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    Ok(())
}

/// Stops the daemon when its home directory is deleted (a removed temporary home must not leave it running).
async fn watch_home(root: PathBuf, shutdown: watch::Sender<bool>) {
    loop {
        tokio::time::sleep(HOME_CHECK).await;
        if !root.join(lock::LOCK_FILE).exists() {
            tracing::info!("the home directory is gone");
            let _ = shutdown.send(true);
            return;
        }
    }
}

async fn wait_for_signal(shutdown: watch::Sender<bool>) {
    crate::broker::wait_for_signal().await;
    let _ = shutdown.send(true);
}
