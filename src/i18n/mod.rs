//! i18n (under construction).
