//! The wall clock every module reads (milliseconds since the Unix epoch), with an optional offset that only tests
//! and debugging set (`CLAUDEMESH_DEBUG_CLOCK_SKEW`, resolved by `config`), so a chaos test can run a peer hours
//! off. A leaf: any module may use it.

use std::sync::atomic::{AtomicI64, Ordering};

static SKEW_MS: AtomicI64 = AtomicI64::new(0);

/// Shifts this process's clock by `ms` (set once at start-up, before any other thread reads it).
pub(crate) fn set_skew_ms(ms: i64) {
    SKEW_MS.store(ms, Ordering::Relaxed);
}

/// Milliseconds since the Unix epoch, as this machine (plus the debug skew) sees it.
pub(crate) fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let real = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    u64::try_from(real.saturating_add(SKEW_MS.load(Ordering::Relaxed))).unwrap_or(0)
}
