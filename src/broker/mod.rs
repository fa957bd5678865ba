//! broker (under construction).
