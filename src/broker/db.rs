//! The broker's SQLite writer thread: one connection in WAL mode, jobs arrive over a channel and are run in
//! batches inside one transaction (group commit); every job's reply is sent only after its batch commits.

use std::path::Path;
use std::sync::mpsc as std_mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

/// Errors of the broker store. Cloneable so one failed commit can be reported to every job of the batch.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("the broker's disk is full")]
    Full,
    #[error("the broker's database is unavailable: {0}")]
    Unavailable(String),
    /// A domain-level refusal raised inside a job (mapped to a JSON-RPC error by the caller).
    #[error("{1}")]
    Rejected(crate::proto::ErrorCode, String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            return StoreError::Full;
        }
        StoreError::Unavailable(e.to_string())
    }
}

type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A job runs with `Some(connection)` and returns its error (if any) and its completion; with `None` it is not
/// run at all (its batch could not start) and only yields the completion that reports the failure.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (Option<StoreError>, Completion) + Send>;

/// Largest number of jobs committed together.
const MAX_BATCH: usize = 512;

/// A read on the reader connection: runs outside any write transaction and sees only committed data.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// Handle to the store threads (the writer, and a reader for the delivery pump). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Db {
    tx: std_mpsc::Sender<Job>,
    reads: std_mpsc::Sender<ReadJob>,
}

/// SQLite durability: `full` fsyncs every commit (the default), `normal` relies on WAL checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Durability {
    Full,
    Normal,
}

impl Db {
    /// Opens (creating if needed) the database file and starts the writer thread.
    pub(crate) fn open(
        path: &Path,
        durability: Durability,
        max_bytes: Option<u64>,
        migrate: fn(&Connection) -> rusqlite::Result<()>,
    ) -> Result<(Db, std::thread::JoinHandle<()>), StoreError> {
        let conn = Connection::open(path)?;
        if let Some(max) = max_bytes {
            // A quota: past it SQLite answers SQLITE_FULL exactly as on a full disk, and the same path handles it.
            let page: u64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
            conn.pragma_update(None, "max_page_count", (max / page.max(1)).max(1))?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The WAL is checkpointed by a thread of its own (below), not inside a commit that a sender waits for.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every hot statement (and the per-job savepoints) stays compiled; the default of 16 let them evict each
        // other, and parsing SQL was a visible share of the writer thread's time under load.
        conn.set_prepared_statement_cache_capacity(128);
        // 16 MiB of page cache (SQLite's default is 2 MiB): under load the indexes' hot pages stay in memory
        // instead of being read back from the WAL on every batch.
        conn.pragma_update(None, "cache_size", -16384)?;
        migrate(&conn)?;
        let (tx, rx) = std_mpsc::channel::<Job>();
        let (reads, reads_rx) = std_mpsc::channel::<ReadJob>();
        let reader = spawn_reader(path, reads_rx)?;
        let stop = spawn_checkpointer(path)?;
        let handle = std::thread::Builder::new()
            .name("broker-db".into())
            .spawn(move || {
                writer_loop(conn, rx);
                // The writer is done (every handle is gone, so the reader's queue is closed too): wait for the
                // reader and stop the checkpointer, so the files are quiet on return.
                let _ = reader.join();
                drop(stop);
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok((Db { tx, reads }, handle))
    }

    /// Runs the read-only `f` on the reader connection: it sees every committed transaction and waits for no
    /// write batch or fsync (the delivery pump reads here, so a delivery goes out as soon as it is committed).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: ReadJob = Box::new(move |c| {
            let _ = reply.send(f(c));
        });
        self.reads.send(job).map_err(|_| StoreError::Unavailable("store thread stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("store thread stopped".into()))?
    }

    /// Queues `f` for the writer without waiting for it; a failure is only logged. For bookkeeping no caller
    /// waits on (a delivery's attempt counter).
    pub(crate) fn enqueue<F>(&self, f: F)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let job: Job = Box::new(move |conn| {
            let error = match conn {
                Some(c) => f(c).err(),
                None => Some(StoreError::Unavailable("the transaction could not start".into())),
            };
            let logged = error.clone();
            let done: Completion = Box::new(move |commit| {
                if let Some(e) = commit.err().or(logged) {
                    tracing::debug!(error = %e, "queued store write failed");
                }
            });
            (error, done)
        });
        let _ = self.tx.send(job);
    }

    /// Runs `f` on the store thread inside a transaction; resolves after the transaction committed.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let outcome = match conn {
                Some(c) => f(c),
                None => Err(StoreError::Unavailable("the transaction could not start".into())),
            };
            let error = outcome.as_ref().err().cloned();
            let done: Completion = Box::new(move |commit| {
                let _ = reply.send(commit.and(outcome));
            });
            (error, done)
        });
        self.tx.send(job).map_err(|_| StoreError::Unavailable("store thread stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("store thread stopped".into()))?
    }
}

/// How often the WAL is checkpointed when it stays small.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// How often the WAL's size is looked at.
const WAL_POLL: std::time::Duration = std::time::Duration::from_millis(250);
/// A WAL past this size is checkpointed at once, and rewound when the checkpoint leaves it longer than
/// `REWIND_FRAMES`. Under sustained writes a passive checkpoint never finds the log fully copied back and idle,
/// so SQLite never restarts it: the WAL grew without bound (400 MB for 10,000 messages in `claudemesh bench
/// load`), and every commit appended to fresh blocks.
const WAL_LARGE_BYTES: u64 = 16 * 1024 * 1024;
const REWIND_FRAMES: i64 = 4096;

/// Stops and joins the checkpoint thread when dropped.
struct CheckpointStop {
    stop: Option<std_mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for CheckpointStop {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reader: a read-only connection on its own thread, serving `Db::read` jobs in arrival order until every
/// handle is gone.
fn spawn_reader(path: &Path, rx: std_mpsc::Receiver<ReadJob>) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(32);
    // 64 MiB: memory recall reads FTS5 pages and candidate notes from a ~90 MB file at 100,000 notes.
    conn.pragma_update(None, "cache_size", -65536)?;
    std::thread::Builder::new()
        .name("broker-read".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                job(&conn);
            }
        })
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// A passive checkpoint every `CHECKPOINT_EVERY` on a second connection: it never blocks the writer, and its
/// fsyncs stay off the commits senders wait for.
fn spawn_checkpointer(path: &Path) -> Result<CheckpointStop, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(1))?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    let (stop, rx) = std_mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("broker-checkpoint".into())
        .spawn(move || {
            let mut last = std::time::Instant::now();
            while let Err(std_mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(WAL_POLL) {
                let large = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LARGE_BYTES);
                if !large && last.elapsed() < CHECKPOINT_EVERY {
                    continue;
                }
                last = std::time::Instant::now();
                checkpoint(&conn);
            }
        })
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(CheckpointStop { stop: Some(stop), thread: Some(thread) })
}

fn writer_loop(conn: Connection, rx: std_mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut pending = std::collections::VecDeque::from([first]);
        while pending.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => pending.push_back(job),
                Err(_) => break,
            }
        }
        while !pending.is_empty() {
            run_batch(&conn, &mut pending);
        }
    }
}

/// Runs jobs from the front of `pending` in one transaction and answers them after it ends. Stops early when
/// SQLite rolled the whole transaction back by itself (it does on SQLITE_FULL and some I/O errors): the jobs run
/// so far lost their work and are told why; the rest go into the next transaction.
fn run_batch(conn: &Connection, pending: &mut std::collections::VecDeque<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = StoreError::from(e);
        for job in pending.drain(..) {
            let (_, done) = job(None);
            done(Err(err.clone()));
        }
        return;
    }
    let mut completions = Vec::new();
    let mut aborted = None;
    while let Some(job) = pending.pop_front() {
        let savepoint = cached(conn, "SAVEPOINT job").is_ok();
        let (error, done) = job(Some(conn));
        completions.push(done);
        if conn.is_autocommit() {
            aborted = Some(error.unwrap_or_else(|| StoreError::Unavailable("the transaction was rolled back".into())));
            break;
        }
        if savepoint {
            if error.is_some() {
                let _ = cached(conn, "ROLLBACK TO job");
            }
            let _ = cached(conn, "RELEASE job");
        }
    }
    let outcome = match aborted {
        Some(e) => Err(e),
        None => {
            let commit = conn.execute_batch("COMMIT").map_err(StoreError::from);
            if commit.is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            commit
        }
    };
    for done in completions {
        done(outcome.clone());
    }
}

/// A passive checkpoint (it never blocks the writer); when the log it leaves is long, a restart checkpoint that
/// waits for the writer's current transaction, copies the rest back and rewinds the WAL to its start.
fn checkpoint(conn: &Connection) {
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
        Ok(frames) if frames > REWIND_FRAMES => {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "WAL rewind skipped");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "checkpoint skipped"),
    }
}

/// Runs a parameterless statement through the statement cache (no parsing after the first time).
fn cached(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrate(c: &Connection) -> rusqlite::Result<()> {
        c.execute_batch("CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)")
    }

    #[tokio::test]
    async fn failed_job_rolls_back_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _h) = Db::open(&dir.path().join("b.db"), Durability::Normal, None, migrate).unwrap();
        let a = db.clone();
        let ok = tokio::spawn(async move {
            a.run(|c| {
                c.execute("INSERT INTO t VALUES (1,'a')", [])?;
                Ok(())
            })
            .await
        });
        let bad = db
            .run(|c| {
                c.execute("INSERT INTO t VALUES (2,'b')", [])?;
                Err::<(), _>(StoreError::Rejected(crate::proto::ErrorCode::NotFound, "no".into()))
            })
            .await;
        assert!(bad.is_err());
        ok.await.unwrap().unwrap();
        let n: i64 = db.run(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 1);
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    fn migrate(c: &Connection) -> rusqlite::Result<()> {
        c.execute_batch("CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)")
    }

    fn value(c: &Connection) -> Result<String, StoreError> {
        Ok(c.query_row("SELECT v FROM t WHERE k=1", [], |r| r.get(0))?)
    }

    #[tokio::test]
    async fn reads_see_committed_writes_queued_writes_keep_order_and_the_reader_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _h) = Db::open(&dir.path().join("r.db"), Durability::Full, None, migrate).unwrap();
        db.run(|c| {
            c.execute("INSERT INTO t VALUES (1,'a')", [])?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(db.read(value).await.unwrap(), "a");
        db.enqueue(|c| {
            c.execute("UPDATE t SET v='b' WHERE k=1", [])?;
            Ok(())
        });
        // A write queued after it runs after it.
        assert_eq!(db.run(value).await.unwrap(), "b");
        assert_eq!(db.read(value).await.unwrap(), "b");
        let write = db
            .read(|c| {
                c.execute("INSERT INTO t VALUES (2,'x')", [])?;
                Ok(())
            })
            .await;
        assert!(write.is_err());
    }
}

#[cfg(test)]
mod quota_tests {
    use super::*;

    fn migrate(c: &Connection) -> rusqlite::Result<()> {
        c.execute_batch("CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v TEXT)")
    }

    #[tokio::test]
    async fn a_store_over_its_quota_reports_full_and_keeps_what_it_had() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _h) = Db::open(&dir.path().join("q.db"), Durability::Normal, Some(64 * 1024), migrate).unwrap();
        let mut stored = 0;
        let err = loop {
            let r = db
                .run(move |c| {
                    c.execute("INSERT INTO t(v) VALUES (?1)", [&"x".repeat(4000)])?;
                    Ok(())
                })
                .await;
            match r {
                Ok(()) => stored += 1,
                Err(e) => break e,
            }
            assert!(stored < 1000, "the quota never applied");
        };
        assert!(matches!(err, StoreError::Full), "{err:?}");
        let n: i64 = db.run(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, stored);
    }
}
