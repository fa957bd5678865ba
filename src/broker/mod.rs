//! The broker: HTTP + WebSocket server on one port, SQLite store, delivery queue, presence and invites.
//! `claudemesh broker` runs it; tests bind a port-0 listener through the same entry point.

use std::path::PathBuf;

/// `claudemesh broker` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BrokerArgs {
    /// Address to listen on (`HOST:PORT`; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7900", env = "CLAUDEMESH_BROKER_LISTEN")]
    pub listen: String,
    /// Directory for the broker's SQLite database (created 0700).
    #[arg(long, env = "CLAUDEMESH_BROKER_DATA")]
    pub data: Option<PathBuf>,
    /// The URL clients use to reach this broker (`ws://…` or `wss://…`), written into invites.
    #[arg(long, env = "CLAUDEMESH_BROKER_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// Runs the broker until SIGINT/SIGTERM. On ready it prints exactly one line to stdout:
/// `claudemesh broker listening on ws://HOST:PORT/ws`.
pub(crate) fn run(_args: BrokerArgs) -> color_eyre::Result<()> {
    Ok(())
}
