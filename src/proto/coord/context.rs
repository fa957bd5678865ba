//! Wire types of `context.*` (see docs/coordination.md).
