//! JSON-RPC 2.0 framing: decode one text frame into a request, notification or response; encode replies.
//! Decoding never panics and classifies every malformed input into a JSON-RPC error.

use serde_json::{Map, Value, json};

use super::error::{ErrorCode, RpcError};

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    /// A call that expects a response (`id` present).
    Request { id: Value, method: String, params: Value },
    /// A call without `id`.
    Notification { method: String, params: Value },
    /// A reply to one of our requests.
    Response { id: Value, outcome: Result<Value, RpcError> },
}

/// Decodes one frame. On failure returns the id (if one could be read) and the error to answer with.
// serde_json's `preserve_order` (needed to edit Claude Code's files without reordering them) makes `Value` larger;
// the error path is rare and answered at once, so it stays unboxed.
#[allow(clippy::result_large_err)]
pub(crate) fn decode_frame(text: &str) -> Result<Incoming, (Value, RpcError)> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| (Value::Null, RpcError::new(ErrorCode::ParseError, format!("invalid JSON: {e}"))))?;
    let Value::Object(mut obj) = value else {
        return Err((Value::Null, invalid("a frame must be one JSON object")));
    };
    let id = obj.remove("id");
    if let Some(id) = &id
        && !(id.is_string() || id.is_i64() || id.is_u64())
    {
        return Err((Value::Null, invalid("id must be a string or an integer")));
    }
    let reply_id = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err((reply_id, invalid("jsonrpc must be \"2.0\"")));
    }
    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err((reply_id, invalid("method must be a string")));
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(p @ Value::Object(_)) => p,
            Some(_) => return Err((reply_id, invalid("params must be an object"))),
        };
        return Ok(match id {
            Some(id) => Incoming::Request { id, method, params },
            None => Incoming::Notification { method, params },
        });
    }
    let Some(id) = id else {
        return Err((Value::Null, invalid("a frame needs a method or an id")));
    };
    match (obj.remove("result"), obj.remove("error")) {
        (Some(result), None) => Ok(Incoming::Response { id, outcome: Ok(result) }),
        (None, Some(error)) => match serde_json::from_value::<RpcError>(error) {
            Ok(err) => Ok(Incoming::Response { id, outcome: Err(err) }),
            Err(_) => Err((id, invalid("error must have an integer code and a message"))),
        },
        _ => Err((id, invalid("a response has exactly one of result and error"))),
    }
}

fn invalid(msg: &str) -> RpcError {
    RpcError::new(ErrorCode::InvalidRequest, msg)
}

pub(crate) fn encode_request(id: u64, method: &str, params: &Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}

pub(crate) fn encode_notification(method: &str, params: &Value) -> String {
    json!({ "jsonrpc": "2.0", "method": method, "params": params }).to_string()
}

pub(crate) fn encode_result(id: &Value, result: &Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "result": result }).to_string()
}

pub(crate) fn encode_error(id: &Value, error: &RpcError) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "error": error }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> i64 {
        match decode_frame(text) {
            Err((_, e)) => e.code,
            Ok(other) => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn decodes_requests_notifications_and_responses() {
        let r = decode_frame(r#"{"jsonrpc":"2.0","id":7,"method":"peer.list"}"#).unwrap();
        assert_eq!(r, Incoming::Request { id: json!(7), method: "peer.list".into(), params: json!({}) });
        let n = decode_frame(r#"{"jsonrpc":"2.0","method":"x.y","params":{"a":1}}"#).unwrap();
        assert_eq!(n, Incoming::Notification { method: "x.y".into(), params: json!({"a":1}) });
        let ok = decode_frame(r#"{"jsonrpc":"2.0","id":"a","result":{"x":1}}"#).unwrap();
        assert_eq!(ok, Incoming::Response { id: json!("a"), outcome: Ok(json!({"x":1})) });
        let err = decode_frame(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#).unwrap();
        assert!(matches!(err, Incoming::Response { outcome: Err(RpcError { code: -32601, .. }), .. }));
    }

    #[test]
    fn classifies_malformed_frames() {
        assert_eq!(code("{not json"), -32700);
        assert_eq!(code("[1,2]"), -32600);
        assert_eq!(code(r#"{"id":1,"method":"a"}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"1.0","id":1,"method":"a"}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":5}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":"a","params":[1]}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":{"x":1},"method":"a"}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"2.0"}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}}"#), -32600);
    }

    #[test]
    fn error_replies_keep_the_request_id_when_readable() {
        let (id, _) = decode_frame(r#"{"jsonrpc":"1.0","id":42,"method":"a"}"#).unwrap_err();
        assert_eq!(id, json!(42));
    }
}
