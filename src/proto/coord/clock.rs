//! Wire types of `clock.*` (see docs/coordination.md): the per-mesh simulation clock.

use serde::{Deserialize, Serialize};

/// Fastest rate a mesh clock may run at (times real time).
pub(crate) const MAX_CLOCK_RATE: f64 = 1000.0;
/// How far from the broker's time a mesh clock may be set (100 years either way).
pub(crate) const MAX_CLOCK_SPAN_MS: i64 = 100 * 36_525 * 24 * 36_000;

/// The clock of one mesh. `now_ms = base_ms + (server_time_ms - set_at_ms) × rate` while running, `base_ms` while
/// paused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MeshClock {
    pub now_ms: i64,
    pub base_ms: i64,
    pub set_at_ms: i64,
    pub rate: f64,
    pub paused: bool,
    pub mesh_lamport: u64,
    pub server_time_ms: i64,
}

/// `clock.set`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClockSetParams {
    pub time_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// `clock.get`, `clock.pause`, `clock.resume` (no params).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClockEmptyParams {}
