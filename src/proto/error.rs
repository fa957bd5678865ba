//! JSON-RPC error codes and WebSocket close codes of protocol v1 (the table in docs/protocol.md).

use serde::{Deserialize, Serialize};

/// Every error a v1 peer can receive in a JSON-RPC `error` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    Internal,
    NotAuthenticated,
    AuthFailed,
    NotMember,
    Forbidden,
    NotFound,
    AlreadyExists,
    InviteExpired,
    InviteExhausted,
    InviteInvalid,
    RateLimited,
    PayloadTooLarge,
    Unavailable,
    AlreadyAuthenticated,
    /// A conditional write lost: the version moved (`state.set --if-version`) or a task is claimed by another.
    Conflict,
}

impl ErrorCode {
    pub(crate) const ALL: [ErrorCode; 19] = [
        Self::ParseError,
        Self::InvalidRequest,
        Self::MethodNotFound,
        Self::InvalidParams,
        Self::Internal,
        Self::NotAuthenticated,
        Self::AuthFailed,
        Self::NotMember,
        Self::Forbidden,
        Self::NotFound,
        Self::AlreadyExists,
        Self::InviteExpired,
        Self::InviteExhausted,
        Self::InviteInvalid,
        Self::RateLimited,
        Self::PayloadTooLarge,
        Self::Unavailable,
        Self::AlreadyAuthenticated,
        Self::Conflict,
    ];

    pub(crate) fn code(self) -> i64 {
        match self {
            Self::ParseError => -32700,
            Self::InvalidRequest => -32600,
            Self::MethodNotFound => -32601,
            Self::InvalidParams => -32602,
            Self::Internal => -32603,
            Self::NotAuthenticated => -32000,
            Self::AuthFailed => -32001,
            Self::NotMember => -32002,
            Self::Forbidden => -32003,
            Self::NotFound => -32004,
            Self::AlreadyExists => -32005,
            Self::InviteExpired => -32006,
            Self::InviteExhausted => -32007,
            Self::InviteInvalid => -32008,
            Self::RateLimited => -32009,
            Self::PayloadTooLarge => -32010,
            Self::Unavailable => -32011,
            Self::AlreadyAuthenticated => -32012,
            Self::Conflict => -32013,
        }
    }

    /// Stable machine name, sent as `error.data.reason`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::ParseError => "parse_error",
            Self::InvalidRequest => "invalid_request",
            Self::MethodNotFound => "method_not_found",
            Self::InvalidParams => "invalid_params",
            Self::Internal => "internal",
            Self::NotAuthenticated => "not_authenticated",
            Self::AuthFailed => "auth_failed",
            Self::NotMember => "not_member",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::InviteExpired => "invite_expired",
            Self::InviteExhausted => "invite_exhausted",
            Self::InviteInvalid => "invite_invalid",
            Self::RateLimited => "rate_limited",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unavailable => "unavailable",
            Self::AlreadyAuthenticated => "already_authenticated",
            Self::Conflict => "conflict",
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// A JSON-RPC error object as it travels on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl RpcError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code: code.code(), message: message.into(), data: Some(serde_json::json!({ "reason": code.reason() })) }
    }

    pub(crate) fn with_data(code: ErrorCode, message: impl Into<String>, extra: serde_json::Value) -> Self {
        let mut data = serde_json::json!({ "reason": code.reason() });
        if let (Some(obj), serde_json::Value::Object(more)) = (data.as_object_mut(), extra) {
            obj.extend(more);
        }
        Self { code: code.code(), message: message.into(), data: Some(data) }
    }

    pub(crate) fn kind(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.code)
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

/// WebSocket close codes the broker uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseCode {
    /// Normal close (sent by clients; listed for completeness of the documented table).
    #[allow(dead_code)]
    Normal = 1000,
    /// Broker shutting down; reconnect later.
    GoingAway = 1001,
    /// Protocol violation: text frames only, JSON-RPC only.
    ProtocolError = 1002,
    /// Authentication failed, authentication timed out, or too many frames before `auth.hello`.
    PolicyViolation = 1008,
    /// A frame larger than the frame cap.
    TooBig = 1009,
    /// Another connection took over this peer's session key.
    SessionReplaced = 4000,
    /// The member left the mesh or was removed.
    Removed = 4002,
    /// The connection was silent longer than the stale timeout.
    Stale = 4003,
}

impl CloseCode {
    pub(crate) fn code(self) -> u16 {
        self as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_reasons_are_unique() {
        let mut codes: Vec<i64> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        let mut reasons: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.reason()).collect();
        reasons.sort();
        reasons.dedup();
        assert_eq!(reasons.len(), ErrorCode::ALL.len());
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
    }
}
