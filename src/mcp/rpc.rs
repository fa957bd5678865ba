//! The push-pipe's MCP surface as a pure function over one input line: `server/discover` is refused (so Claude Code
//! stays in the legacy era that carries channel notifications), `initialize` declares `claude/channel` and no tools,
//! `ping` answers `{}`, and `notifications/initialized` is the signal to start delivering.

use serde_json::{Value, json};

/// Revisions the push-pipe can speak; the client's choice is echoed when it is one of these.
pub(crate) const SUPPORTED_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// What the push-pipe answers when the client asks for a revision it does not know.
pub(crate) const LATEST_VERSION: &str = "2025-11-25";
/// The text Claude sees for this server (kept under 2,048 characters: longer ones are truncated).
pub(crate) const INSTRUCTIONS: &str = include_str!("../../assets/mcp-instructions.md");
/// The server name in `serverInfo` (and the channel `source` when installed under this name).
pub(crate) const SERVER_NAME: &str = "claudemesh";

/// JSON-RPC error codes used here.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;

/// What one input line asks of the server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    /// A response to write (one line on stdout), if the line needs one.
    pub reply: Option<Value>,
    /// The client said `notifications/initialized`: deliveries may start.
    pub initialized: bool,
}

impl Step {
    fn reply(reply: Value) -> Self {
        Self { reply: Some(reply), initialized: false }
    }

    fn nothing() -> Self {
        Self { reply: None, initialized: false }
    }
}

/// The answer to a line longer than the cap (its content was never parsed).
pub(crate) fn too_long() -> Value {
    error(Value::Null, PARSE_ERROR, "Parse error: line too long")
}

/// Handles one line of input (without its newline).
pub(crate) fn handle_line(line: &[u8]) -> Step {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Step::nothing();
    }
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Step::reply(error(Value::Null, PARSE_ERROR, "Parse error"));
    };
    let Value::Object(msg) = value else {
        // Batches were removed from MCP in 2025-06-18; anything but an object is not a request.
        return Step::reply(error(Value::Null, INVALID_REQUEST, "Invalid Request"));
    };
    let id = msg.get("id").cloned();
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        if msg.contains_key("result") || msg.contains_key("error") {
            // A response: this server never sends requests, so there is nothing waiting for it.
            return Step::nothing();
        }
        return Step::reply(error(id.unwrap_or(Value::Null), INVALID_REQUEST, "Invalid Request"));
    };
    let Some(id) = id else {
        // A notification: only `initialized` means anything here.
        return Step { reply: None, initialized: method == "notifications/initialized" };
    };
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    match method {
        "initialize" => Step::reply(result(id, initialize_result(&params))),
        "ping" => Step::reply(result(id, json!({}))),
        // Never a result: answering `server/discover` would make Claude Code negotiate the modern era, which has no
        // path for unsolicited notifications, and refuse the channel.
        _ => Step::reply(error(id, METHOD_NOT_FOUND, "Method not found")),
    }
}

/// The `initialize` result: the client's protocol revision when supported, the channel capability, no tools.
pub(crate) fn initialize_result(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked.filter(|v| SUPPORTED_VERSIONS.contains(v)).unwrap_or(LATEST_VERSION);
    json!({
        "protocolVersion": version,
        "capabilities": { "experimental": { "claude/channel": {} } },
        "serverInfo": { "name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION") },
        "instructions": INSTRUCTIONS,
    })
}

fn result(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(line: &str) -> Value {
        handle_line(line.as_bytes()).reply.unwrap()
    }

    #[test]
    fn server_discover_is_refused_with_method_not_found_and_its_id() {
        let line = r#"{"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        assert_eq!(
            reply(line),
            json!({"jsonrpc":"2.0","id":"server-discover-probe-1","error":{"code":-32601,"message":"Method not found"}})
        );
    }

    #[test]
    fn initialize_echoes_a_known_revision_and_falls_back_to_the_latest() {
        for v in SUPPORTED_VERSIONS {
            let r = initialize_result(&json!({ "protocolVersion": v }));
            assert_eq!(r["protocolVersion"], *v);
        }
        for asked in [json!({"protocolVersion": "2026-07-28"}), json!({}), json!({"protocolVersion": 5}), Value::Null] {
            assert_eq!(initialize_result(&asked)["protocolVersion"], LATEST_VERSION);
        }
    }

    #[test]
    fn initialize_declares_the_channel_and_no_tools() {
        let r = reply(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#);
        assert_eq!(r["id"], 0);
        let res = &r["result"];
        assert_eq!(res["protocolVersion"], "2025-06-18");
        assert_eq!(res["capabilities"], json!({"experimental": {"claude/channel": {}}}));
        assert_eq!(res["serverInfo"]["name"], "claudemesh");
        assert_eq!(res["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(res["instructions"].as_str().is_some_and(|s| !s.is_empty()));
    }

    #[test]
    fn instructions_fit_the_truncation_limit_and_mention_what_claude_needs() {
        assert!(INSTRUCTIONS.chars().count() < 2048, "{} chars", INSTRUCTIONS.chars().count());
        for needle in ["<channel source=\"claudemesh\"", "from", "priority", "claudemesh send", "claudemesh peers"] {
            assert!(INSTRUCTIONS.contains(needle), "instructions lack {needle}");
        }
    }

    #[test]
    fn ping_unknown_methods_and_notifications() {
        assert_eq!(reply(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#), json!({"jsonrpc":"2.0","id":7,"result":{}}));
        assert_eq!(reply(r#"{"jsonrpc":"2.0","id":8,"method":"tools/list"}"#)["error"]["code"], -32601);
        let init = handle_line(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert_eq!(init, Step { reply: None, initialized: true });
        let other = handle_line(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}"#);
        assert_eq!(other, Step::nothing());
        assert_eq!(handle_line(br#"{"jsonrpc":"2.0","id":3,"result":{}}"#), Step::nothing());
        assert_eq!(handle_line(b"   "), Step::nothing());
    }

    #[test]
    fn malformed_input_gets_parse_or_invalid_request_errors() {
        assert_eq!(
            reply("{not json"),
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})
        );
        assert_eq!(reply("[1,2]")["error"]["code"], -32600);
        assert_eq!(
            reply(r#"{"jsonrpc":"2.0","id":4}"#),
            json!({"jsonrpc":"2.0","id":4,"error":{"code":-32600,"message":"Invalid Request"}})
        );
        assert_eq!(too_long()["error"]["code"], -32700);
        assert_eq!(too_long()["id"], Value::Null);
    }
}
