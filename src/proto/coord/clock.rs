//! Wire types of `clock.*` (see docs/coordination.md).
