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
    /// Takes in one reading.
    pub(crate) fn add(&mut self, proc: Option<ProcSample>, connections: Option<u64>) {
        if let Some(p) = proc {
            self.peak_rss_bytes = Some(self.peak_rss_bytes.unwrap_or(0).max(p.peak_rss_bytes));
            self.peak_fds = Some(self.peak_fds.unwrap_or(0).max(p.fds));
            // CPU time only grows, so the reading with the most is the latest one.
            if self.last.is_none_or(|l| p.cpu_seconds >= l.cpu_seconds) {
                self.last = Some(p);
            }
        }
        if let Some(c) = connections {
            self.peak_connections = Some(self.peak_connections.unwrap_or(0).max(c));
        }
    }
}

/// One reading now: the process (if `pid`) and the connection gauge (if `metrics`).
pub(crate) async fn read(pid: Option<u32>, metrics: Option<&str>) -> (Option<ProcSample>, Option<u64>) {
    let proc = match pid {
        Some(pid) => procfs::sample(Some(pid)).await,
        None => None,
    };
    let connections = match metrics {
        Some(addr) => super::metrics::connections(addr).await,
        None => None,
    };
    (proc, connections)
}

/// Samples until `stop` turns true (or its sender goes), then takes one last reading and returns the peaks.
pub(crate) async fn run(pid: Option<u32>, metrics: Option<String>, mut stop: watch::Receiver<bool>) -> Peaks {
    let mut peaks = Peaks::default();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        let (proc, connections) = read(pid, metrics.as_deref()).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(peak_rss_bytes: u64, cpu_seconds: f64, fds: u64) -> ProcSample {
        ProcSample { rss_bytes: peak_rss_bytes, peak_rss_bytes, cpu_seconds, fds }
    }

    #[test]
    fn peaks_keep_the_highest_values_and_the_latest_cpu_time() {
        let mut peaks = Peaks::default();
        peaks.add(Some(reading(10, 1.0, 20)), Some(3));
        peaks.add(Some(reading(30, 5.0, 12)), None);
        // An earlier reading taken in late (the one after set-up) changes peaks, not the CPU time.
        peaks.add(Some(reading(20, 2.0, 25)), Some(7));
        assert_eq!((peaks.peak_rss_bytes, peaks.peak_fds, peaks.peak_connections), (Some(30), Some(25), Some(7)));
        assert_eq!(peaks.last.map(|l| l.cpu_seconds), Some(5.0));
    }
}
