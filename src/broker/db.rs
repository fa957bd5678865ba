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
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

/// Largest number of jobs committed together.
const MAX_BATCH: usize = 512;

/// Handle to the store thread. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Db {
    tx: std_mpsc::Sender<Job>,
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
        migrate: fn(&Connection) -> rusqlite::Result<()>,
    ) -> Result<(Db, std::thread::JoinHandle<()>), StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        let (tx, rx) = std_mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("broker-db".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok((Db { tx }, handle))
    }

    /// Runs `f` on the store thread inside a transaction; resolves after the transaction committed.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let outcome = f(conn);
            let ok = outcome.is_ok();
            let done: Completion = Box::new(move |commit| {
                let _ = reply.send(commit.and(outcome));
            });
            (ok, done)
        });
        self.tx.send(job).map_err(|_| StoreError::Unavailable("store thread stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("store thread stopped".into()))?
    }
}

fn writer_loop(conn: Connection, rx: std_mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let err = StoreError::from(e);
            for job in batch {
                // Run nothing; report the failure to the waiting caller.
                let (_, done) = job_refused(job, &conn);
                done(Err(err.clone()));
            }
            continue;
        }
        let mut completions = Vec::with_capacity(batch.len());
        for job in batch {
            let sp = conn.execute_batch("SAVEPOINT job");
            let (ok, done) = job(&conn);
            if sp.is_ok() {
                if !ok {
                    let _ = conn.execute_batch("ROLLBACK TO job");
                }
                let _ = conn.execute_batch("RELEASE job");
            }
            completions.push(done);
        }
        let commit = conn.execute_batch("COMMIT").map_err(StoreError::from);
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for done in completions {
            done(commit.clone());
        }
    }
}

/// When BEGIN itself fails the job must still answer; it runs against a connection inside no transaction, so
/// we do not run it at all: we build its completion by running it on a read-only savepoint that we roll back.
fn job_refused(job: Job, conn: &Connection) -> (bool, Completion) {
    let _ = conn.execute_batch("SAVEPOINT refused");
    let out = job(conn);
    let _ = conn.execute_batch("ROLLBACK TO refused");
    let _ = conn.execute_batch("RELEASE refused");
    out
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
        let (db, _h) = Db::open(&dir.path().join("b.db"), Durability::Normal, migrate).unwrap();
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
