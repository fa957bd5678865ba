//! Broker client: a WebSocket JSON-RPC connection (`connection`) and the mesh session on top of it (`session`:
//! hello, mesh creation, invite redemption, sealing and opening messages). Knows nothing of files or the CLI.

mod connection;
pub(crate) mod local;
pub(crate) mod schedule;
mod session;
mod targeting;

pub(crate) use connection::{Event, check_broker_url};
pub(crate) use session::{Identity, MeshSession, OpenError, Outgoing, SendReport, check_body, open_sealed};
pub(crate) use targeting::{ResolveError, closest_names, edit_distance};

use crate::proto::RpcError;

/// Everything a broker conversation can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("{url} is not a broker URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach the broker at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the broker at {url} did not answer within {secs} s")]
    ConnectTimeout { url: String, secs: u64 },
    #[error("the broker did not answer {method} within {secs} s")]
    CallTimeout { method: String, secs: u64 },
    #[error("the connection to the broker closed ({reason})")]
    ConnectionLost { code: Option<u16>, reason: String },
    #[error("{0}")]
    Rpc(RpcError),
    #[error("the broker sent something unexpected: {0}")]
    Protocol(String),
    #[error("a request of {bytes} bytes exceeds the {max}-byte frame limit")]
    FrameTooLarge { bytes: usize, max: usize },
    #[error("the message is {bytes} bytes; the limit is {max}")]
    BodyTooLarge { bytes: usize, max: usize },
    #[error("the message is empty")]
    EmptyBody,
    #[error("no recipient has a valid attestation ({})", names.join(", "))]
    Unverified { names: Vec<String> },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("crypto: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
}

impl ClientError {
    /// Whether retrying on a fresh connection may help (the connection dropped under the call).
    pub(crate) fn is_connection_loss(&self) -> bool {
        matches!(self, ClientError::ConnectionLost { .. } | ClientError::CallTimeout { .. })
    }
}
