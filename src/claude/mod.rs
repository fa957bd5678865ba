//! Claude Code integration: install/uninstall (MCP entry, skill, hooks), and launch (scrub, exec `claude`).
//!
//! Layout: `paths` says where Claude Code keeps its files, `edit` changes parsed JSON documents (pure), `files`
//! reads, backs up and atomically replaces those files, `install` ties them together with the install record,
//! `launch` finds and execs `claude`, `hook` parses what Claude Code sends a hook on stdin.

mod edit;
mod files;
mod hook;
mod install;
mod launch;
mod paths;
mod skill;

#[cfg(test)]
pub(crate) use edit::HOOKS;
pub(crate) use edit::{Change, SERVER_NAME};
pub(crate) use hook::{HookEvent, HookInput, session_start_output};
pub(crate) use install::{InstallReport, UninstallReport, install, uninstall};
pub(crate) use launch::{ClaudeBinary, LaunchPlan, find_on_path, is_installed};
pub(crate) use paths::ClaudePaths;

use std::path::PathBuf;

/// Everything the integration can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClaudeError {
    #[error("cannot find a home directory: set HOME")]
    NoHome,
    #[error("{path} is not valid JSON: {detail}")]
    Malformed { path: PathBuf, detail: String },
    #[error("{path}: `{pointer}` is not a JSON {expected}")]
    WrongShape { path: PathBuf, pointer: String, expected: &'static str },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} kept changing while claudemesh edited it")]
    Busy { path: PathBuf },
    #[error("claude is not on PATH")]
    ClaudeNotFound,
    #[error("cannot start {path}: {source}")]
    Exec {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ClaudeError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
