//! Wire types of `state.*` (see docs/coordination.md).
