//! Wire types of `schedule.*` (see docs/coordination.md).
