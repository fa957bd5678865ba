//! Figures of a local process from /proc: resident memory (current and peak), CPU time and open descriptors.

use std::path::PathBuf;

/// Linux reports CPU times in /proc in USER_HZ ticks, fixed at 100 per second for user space on every
/// architecture we run on (`sysconf(_SC_CLK_TCK)`).
const TICKS_PER_SEC: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcSample {
    pub rss_bytes: u64,
    /// VmHWM: the peak resident set since the process started.
    pub peak_rss_bytes: u64,
    /// User plus system CPU time of all its threads, including ones that ended.
    pub cpu_seconds: f64,
    pub fds: u64,
}

/// Reads `pid` (or this process with `None`); `None` when /proc cannot be read (not Linux, or it exited).
pub(crate) async fn sample(pid: Option<u32>) -> Option<ProcSample> {
    let dir = pid.map_or_else(|| PathBuf::from("/proc/self"), |p| PathBuf::from(format!("/proc/{p}")));
    let status = tokio::fs::read_to_string(dir.join("status")).await.ok()?;
    let stat = tokio::fs::read_to_string(dir.join("stat")).await.ok()?;
    let mut fds = 0;
    if let Ok(mut entries) = tokio::fs::read_dir(dir.join("fd")).await {
        while let Ok(Some(_)) = entries.next_entry().await {
            fds += 1;
        }
    }
    Some(ProcSample {
        rss_bytes: status_kib(&status, "VmRSS")? * 1024,
        peak_rss_bytes: status_kib(&status, "VmHWM")? * 1024,
        cpu_seconds: cpu_ticks(&stat)? as f64 / TICKS_PER_SEC,
        fds,
    })
}

/// A `Key:   123 kB` line of /proc/PID/status, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// utime + stime (fields 14 and 15) of /proc/PID/stat. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state).
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_and_stat_lines() {
        let status = "Name:\tclaudemesh\nVmHWM:\t   45120 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(45120));
        assert_eq!(status_kib(status, "VmRSS"), Some(40000));
        assert_eq!(status_kib(status, "VmSwap"), None);
        let stat = "4242 (claude mesh) (x) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 130 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_ticks(stat), Some(380));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[tokio::test]
    async fn this_process_can_be_read() {
        let s = sample(None).await.expect("/proc/self");
        assert!(s.peak_rss_bytes >= s.rss_bytes && s.rss_bytes > 0 && s.fds > 0, "{s:?}");
    }
}
