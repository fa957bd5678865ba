//! Claude Code integration: install/uninstall (MCP entry, skill, hooks), and launch (scrub, exec `claude`).
