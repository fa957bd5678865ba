//! The daemon lock: an exclusive advisory lock on `daemon.lock`, held for the daemon's life and released by the
//! kernel when the process dies, so a crashed daemon never blocks the next one.

use std::fs::File;
use std::io::Write;

use super::DaemonError;
use crate::config::Home;

pub(super) const LOCK_FILE: &str = "daemon.lock";

/// Holds the lock until dropped.
pub(super) struct Lock {
    _file: File,
}

/// Takes the lock, or `None` when another live process holds it.
pub(super) fn acquire(home: &Home) -> Result<Option<Lock>, DaemonError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = home.root().join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| DaemonError::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(DaemonError::io(&path, e)),
    }
    // The pid is for people reading the file; the lock itself is what counts.
    let _ = file.set_len(0);
    let _ = writeln!(file, "{}", std::process::id());
    Ok(Some(Lock { _file: file }))
}
