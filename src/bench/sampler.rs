//! Samples the broker's figures (its process from /proc when it runs here, its connection gauge over HTTP)
//! every `EVERY` during a run and keeps the peaks.

use std::time::Duration;

use tokio::sync::watch;

use super::procfs::{self, ProcSample};

const EVERY: Duration = Duration::from_millis(250);

/// The highest values seen, and the last reading of the process.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peaks {
    pub last: Option<ProcSample>,
    pub peak_rss_bytes: Option<u64>,
    pub peak_fds: Option<u64>,
    pub peak_connections: Option<u64>,
}

impl Peaks {
    fn add(&mut self, proc: Option<ProcSample>, connections: Option<u64>) {
        if let Some(p) = proc {
            self.peak_rss_bytes = Some(self.peak_rss_bytes.unwrap_or(0).max(p.peak_rss_bytes));
            self.peak_fds = Some(self.peak_fds.unwrap_or(0).max(p.fds));
            self.last = Some(p);
        }
        if let Some(c) = connections {
            self.peak_connections = Some(self.peak_connections.unwrap_or(0).max(c));
        }
    }
}

/// Samples until `stop` turns true (or its sender goes), then takes one last reading and returns the peaks.
pub(crate) async fn run(pid: Option<u32>, metrics: Option<String>, mut stop: watch::Receiver<bool>) -> Peaks {
    let mut peaks = Peaks::default();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        let proc = match pid {
            Some(pid) => procfs::sample(Some(pid)).await,
            None => None,
        };
        let connections = match &metrics {
            Some(addr) => super::metrics::connections(addr).await,
            None => None,
        };
        peaks.add(proc, connections);
        if *stop.borrow() {
            return peaks;
        }
        tokio::select! {
            _ = tick.tick() => {}
            r = stop.changed() => if r.is_err() { return peaks },
        }
    }
}
