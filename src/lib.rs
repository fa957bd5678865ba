//! claudemesh: one binary, several roles (CLI verbs, broker, daemon, push-pipe). The code lives in this library so
//! that the fuzz targets (`fuzz/`) and tests can reach it; `src/main.rs` only calls [`run`].
//!
//! Every module of the product is declared here, and only here (`src/main.rs` declares none).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod audit;
mod bench;
mod broker;
mod claude;
mod cli;
mod client;
mod clock;
mod config;
mod crypto;
mod daemon;
mod i18n;
mod mcp;
mod output;
mod policy;
mod proto;
mod store;
mod tui;

#[doc(hidden)]
pub mod fuzzing;

/// The whole program: parses argv, dispatches, maps errors to exit codes.
pub fn run() -> std::process::ExitCode {
    cli::main()
}
