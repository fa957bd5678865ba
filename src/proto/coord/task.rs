//! Wire types of `task.*` (see docs/coordination.md).
