//! Wire types of `memory.*` (see docs/coordination.md).
