//! claudemesh: one binary, several roles (CLI verbs, broker). Parses argv, dispatches, maps errors to exit codes.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod audit;
mod bench;
mod broker;
mod claude;
mod cli;
mod client;
mod config;
mod crypto;
mod daemon;
mod i18n;
mod mcp;
mod output;
mod policy;
mod proto;
mod store;

fn main() -> std::process::ExitCode {
    cli::main()
}
