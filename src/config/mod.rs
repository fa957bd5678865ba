//! Local configuration: the one place that reads environment variables, the home directory layout, config.toml
//! and key files, with their permissions (dirs 0700, files 0600, atomic writes).

mod env;
mod files;
mod keys;
mod meshes;

pub(crate) use env::Env;
pub(crate) use files::Home;
pub(crate) use keys::sanitize_session_id;
pub(crate) use meshes::{Config, MeshEntry, slugify};

use std::path::PathBuf;

/// Everything that can go wrong reading or writing local configuration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot find a home directory: set CLAUDEMESH_HOME or HOME")]
    NoHome,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path} does not exist")]
    MissingKey { path: PathBuf },
}

impl ConfigError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
