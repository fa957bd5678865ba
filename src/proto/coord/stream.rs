//! Wire types of `stream.*` (see docs/coordination.md).
