//! Wire protocol v1: JSON-RPC 2.0 frames, method parameter/result types, error codes, canonical signed bytes
//! and the invite token format. Pure: no sockets, no storage. Documented in docs/protocol.md.

mod coord;
mod error;
mod frame;
mod ids;
mod invite;
mod methods;
mod signed;

pub(crate) use coord::*;
pub(crate) use error::{CloseCode, ErrorCode, RpcError};
pub(crate) use frame::{Incoming, decode_frame, encode_error, encode_notification, encode_request, encode_result};
pub(crate) use ids::{KeyHex, MeshId, MessageId, is_valid_name};
pub(crate) use invite::{Invite, InviteError, Role};
pub(crate) use methods::*;
pub(crate) use signed::{attestation_bytes, hello_bytes, mesh_create_bytes, redeem_bytes};

/// WebSocket subprotocol every client must offer.
pub(crate) const SUBPROTOCOL: &str = "claudemesh.v1";
/// Largest WebSocket message the broker accepts; enforced by the WebSocket layer before any JSON parsing.
pub(crate) const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest WebSocket message a client accepts *from* the broker: replies such as `peer.list` grow with the mesh
/// (about 0.5–0.8 KiB per peer), so they get more room than frames sent to the broker.
pub(crate) const MAX_SERVER_FRAME_BYTES: usize = 8 * 1024 * 1024;
/// Largest plaintext message body a client may seal (so one envelope always fits a frame).
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024;
/// Path of the WebSocket endpoint on the broker.
pub(crate) const WS_PATH: &str = "/ws";
