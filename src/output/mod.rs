//! output (under construction).
