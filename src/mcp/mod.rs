//! The push-pipe (`claudemesh mcp`): a stdio MCP server with zero tools that turns deliveries for this Claude
//! Code session into `notifications/claude/channel` events (or Claude Code inbox-socket lines).

use std::process::ExitCode;

use crate::config::Env;

/// `claudemesh mcp [--mesh SLUG]`
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct McpArgs {}

pub(crate) fn run(_args: McpArgs, _env: &Env, _mesh: Option<String>) -> ExitCode {
    ExitCode::FAILURE
}
