//! Wire types of `access.*` (see docs/coordination.md).
