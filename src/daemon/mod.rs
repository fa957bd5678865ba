//! The per-user daemon (`claudemesh daemon`): one per home (lock file), serves the local API on `daemon.sock`,
//! hosts the embedded broker, holds the broker links of every session in use, keeps the inbox and outbox.

/// `claudemesh daemon [status|stop]`
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DaemonArgs {
    #[command(subcommand)]
    pub action: Option<DaemonAction>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum DaemonAction {
    /// Run the daemon in the foreground (what `claudemesh` starts on demand).
    Run,
    /// Show whether the daemon runs, its version, links and outbox.
    Status,
    /// Stop the daemon.
    Stop,
}
