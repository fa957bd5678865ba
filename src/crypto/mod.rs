//! crypto (under construction).
