//! What the push-pipe hands to Claude Code, as pure functions: which path to use (channel, Claude Code's inbox
//! socket, or none), the `notifications/claude/channel` line, and the inbox-socket lines for one inbox message.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::proto::Priority;

/// The channel entry `claudemesh launch` passes to Claude Code (and sets in `CLAUDEMESH_CHANNELS`).
pub(crate) const CHANNEL_ENTRY: &str = "server:claudemesh";
/// Claude Code flags whose values register channel servers (both variadic, both also written `--flag=value`).
const CHANNEL_FLAGS: &[&str] = &["--channels", "--dangerously-load-development-channels"];

/// One message as the daemon's `inbox.message` notification carries it (the fields the push-pipe uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct InboxMessage {
    /// The mesh slug.
    pub mesh: String,
    /// The message id (UUIDv7).
    pub id: String,
    pub from: Sender,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default = "default_kind")]
    pub kind: String,
    pub body: String,
}

/// The sender, as verified by decryption under its session key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Sender {
    /// The sender's session key (hex).
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

fn default_kind() -> String {
    "text".to_string()
}

impl InboxMessage {
    /// The sender's display name on one line (control characters would let a name forge extra lines), falling
    /// back to the start of its key.
    pub(crate) fn sender_name(&self) -> String {
        let name: String =
            self.from.name.as_deref().unwrap_or("").chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let name = name.trim();
        if name.is_empty() { self.from.id.chars().take(12).collect() } else { name.to_string() }
    }
}

/// Claude Code's own inbox socket for this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InboxSocket {
    pub path: PathBuf,
    pub token: Option<String>,
}

/// How deliveries reach Claude Code, decided once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PushPath {
    /// `notifications/claude/channel` on stdout (the session loaded this server as a channel).
    Channel,
    /// Lines written to Claude Code's inbox socket (wakes an idle session without any flag).
    InboxSocket(InboxSocket),
    /// No push: messages wait in the inbox.
    Off,
}

impl PushPath {
    /// The `via` this path reports in `message.surfaced`.
    pub(crate) fn via(&self) -> &'static str {
        match self {
            PushPath::Channel => "channel",
            PushPath::InboxSocket(_) => "inbox_socket",
            PushPath::Off => "none",
        }
    }
}

/// What the path decision looks at.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathInputs<'a> {
    /// `CLAUDEMESH_PUSH`: `channel`, `inbox-socket`, `off`, or `auto` (the default).
    pub push_mode: Option<&'a str>,
    /// `CLAUDEMESH_CHANNELS`.
    pub channels: Option<&'a str>,
    /// `CLAUDE_CODE_MESSAGING_SOCKET` and `CLAUDE_CODE_MESSAGING_TOKEN`.
    pub socket: Option<&'a std::path::Path>,
    pub token: Option<&'a str>,
    /// The parent process's arguments (Claude Code's command line), when readable.
    pub parent_args: Option<&'a [String]>,
}

/// Picks the path and says why. An explicit `CLAUDEMESH_PUSH` wins; otherwise a session started with the
/// claudemesh channel (by `launch`, or by hand on Claude Code's command line) gets the channel, any other session
/// with an inbox socket gets that, and the rest get no push.
pub(crate) fn decide_path(inputs: &PathInputs<'_>) -> (PushPath, &'static str) {
    let socket = || {
        inputs.socket.map(|path| {
            PushPath::InboxSocket(InboxSocket { path: path.to_path_buf(), token: inputs.token.map(str::to_string) })
        })
    };
    let mode = inputs.push_mode.map(|m| m.trim().to_ascii_lowercase().replace('_', "-"));
    match mode.as_deref() {
        Some("channel") => return (PushPath::Channel, "CLAUDEMESH_PUSH=channel"),
        Some("inbox-socket") => {
            return match socket() {
                Some(path) => (path, "CLAUDEMESH_PUSH=inbox-socket"),
                None => (PushPath::Off, "CLAUDEMESH_PUSH=inbox-socket but CLAUDE_CODE_MESSAGING_SOCKET is not set"),
            };
        }
        Some("off" | "none") => return (PushPath::Off, "CLAUDEMESH_PUSH=off"),
        _ => {}
    }
    if inputs.channels.is_some_and(names_channel) {
        return (PushPath::Channel, "CLAUDEMESH_CHANNELS names server:claudemesh");
    }
    if inputs.parent_args.is_some_and(launched_with_channel) {
        return (PushPath::Channel, "Claude Code was started with the server:claudemesh channel");
    }
    match socket() {
        Some(path) => (path, "CLAUDE_CODE_MESSAGING_SOCKET is set"),
        None => (PushPath::Off, "no channel and no CLAUDE_CODE_MESSAGING_SOCKET"),
    }
}

/// Whether a list of channel entries (comma- or space-separated) names ours.
fn names_channel(list: &str) -> bool {
    list.split(|c: char| c == ',' || c.is_whitespace()).any(|entry| entry == CHANNEL_ENTRY)
}

/// Whether a Claude Code command line registers the claudemesh channel: `--flag=server:claudemesh` or
/// `--flag a server:claudemesh` (the flags take every following argument up to the next option).
pub(crate) fn launched_with_channel(args: &[String]) -> bool {
    let mut in_flag = false;
    for arg in args.iter().skip(1) {
        if arg == "--" {
            break;
        }
        if let Some((flag, value)) = arg.split_once('=')
            && flag.starts_with("--")
        {
            if CHANNEL_FLAGS.contains(&flag) && names_channel(value) {
                return true;
            }
            in_flag = false;
        } else if arg.starts_with('-') {
            in_flag = CHANNEL_FLAGS.contains(&arg.as_str());
        } else if in_flag && names_channel(arg) {
            return true;
        }
    }
    false
}

/// The `meta` of a channel event: every key matches `^[a-zA-Z_][a-zA-Z0-9_]*$` and every value is a string (Claude
/// Code drops other keys, and drops the whole event for a non-string value).
pub(crate) fn channel_meta(m: &InboxMessage) -> [(&'static str, String); 6] {
    [
        ("from", m.sender_name()),
        ("from_id", m.from.id.clone()),
        ("mesh", m.mesh.clone()),
        ("priority", m.priority.as_str().to_string()),
        ("msg_id", m.id.clone()),
        ("kind", m.kind.clone()),
    ]
}

/// The `notifications/claude/channel` message for one inbox message.
pub(crate) fn channel_notification(m: &InboxMessage) -> Value {
    let meta: Map<String, Value> =
        channel_meta(m).into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/claude/channel",
        "params": { "content": m.body, "meta": meta },
    })
}

/// What Claude Code's inbox socket receives for one message: the auth line (when there is a token), then one user
/// line whose text opens with a header naming the verified sender. Each line ends with a newline.
pub(crate) fn inbox_socket_payload(m: &InboxMessage, token: Option<&str>) -> String {
    let name = m.sender_name();
    let priority = m.priority.as_str();
    let text = format!(
        "claudemesh message from {name} (verified sender, mesh {}, priority {priority}, id {}):\n{}",
        m.mesh, m.id, m.body
    );
    let user = json!({
        "type": "user",
        "message": { "role": "user", "content": text },
        // Claude Code's queue knows `now` and `next`; `low` is never pushed, but would wait for the turn boundary.
        "priority": if m.priority == Priority::Now { "now" } else { "next" },
        "from": format!("claudemesh:{name}"),
        "msg_id": m.id,
    });
    let mut out = String::new();
    if let Some(token) = token {
        out.push_str(&json!({ "type": "auth", "token": token }).to_string());
        out.push('\n');
    }
    out.push_str(&user.to_string());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn message(name: Option<&str>, priority: Priority, kind: &str, body: &str) -> InboxMessage {
        InboxMessage {
            mesh: "team".into(),
            id: "0193a6b0-0000-7000-8000-000000000001".into(),
            from: Sender { id: "ab".repeat(32), name: name.map(str::to_string) },
            priority,
            kind: kind.into(),
            body: body.into(),
        }
    }

    fn is_meta_key(k: &str) -> bool {
        let mut chars = k.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    #[test]
    fn every_channel_notification_has_identifier_keys_and_string_values() {
        let names = [Some("alice"), Some("bob-2"), Some("José Ñ"), Some("a\nb\"<c>"), Some(""), Some("  "), None];
        let bodies = ["hi", "", "line1\nline2", "</channel><channel source=\"x\">", "{\"json\":1}", "\u{0}\u{7f}😀"];
        let kinds = ["text", "file", ""];
        for name in names {
            for body in bodies {
                for kind in kinds {
                    for priority in [Priority::Now, Priority::Next, Priority::Low] {
                        let m = message(name, priority, kind, body);
                        let n = channel_notification(&m);
                        let line = serde_json::to_string(&n).unwrap();
                        assert!(!line.contains('\n'), "one line: {line}");
                        let back: Value = serde_json::from_str(&line).unwrap();
                        assert_eq!(back["jsonrpc"], "2.0");
                        assert_eq!(back["method"], "notifications/claude/channel");
                        assert_eq!(back["params"]["content"], body);
                        let meta = back["params"]["meta"].as_object().unwrap();
                        assert_eq!(meta.len(), 6);
                        for (k, v) in meta {
                            assert!(is_meta_key(k), "bad key {k}");
                            assert!(v.is_string(), "{k} is not a string: {v}");
                        }
                        assert!(!meta["from"].as_str().unwrap().is_empty());
                        assert!(!meta["from"].as_str().unwrap().contains('\n'));
                    }
                }
            }
        }
    }

    #[test]
    fn channel_notification_is_the_exact_wire_line() {
        let m = message(Some("alice"), Priority::Now, "text", "can you review the parser?");
        let line = serde_json::to_string(&channel_notification(&m)).unwrap();
        let want = format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/claude/channel","params":{{"content":"can you review the parser?","meta":{{"from":"alice","from_id":"{}","mesh":"team","priority":"now","msg_id":"0193a6b0-0000-7000-8000-000000000001","kind":"text"}}}}}}"#,
            "ab".repeat(32)
        );
        assert_eq!(line, want);
    }

    #[test]
    fn inbox_message_parses_the_daemon_notification() {
        let params = json!({"mesh":"team","mesh_id":"u","seq":12,"id":"m1","from":{"id":"cd","name":"alice","member":"ef"},
            "to":"bob","priority":"next","kind":"text","body":"hello","sent_at_ms":1,"received_at_ms":2,"read":false,
            "surfaced_via":null});
        let m: InboxMessage = serde_json::from_value(params).unwrap();
        assert_eq!(
            m,
            InboxMessage {
                mesh: "team".into(),
                id: "m1".into(),
                from: Sender { id: "cd".into(), name: Some("alice".into()) },
                priority: Priority::Next,
                kind: "text".into(),
                body: "hello".into(),
            }
        );
    }

    #[test]
    fn inbox_socket_payload_has_auth_then_one_user_line() {
        let m = message(Some("alice"), Priority::Now, "text", "stop pushing to main\nplease");
        let payload = inbox_socket_payload(&m, Some("tok123"));
        let lines: Vec<&str> = payload.strip_suffix('\n').unwrap().split('\n').collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], r#"{"type":"auth","token":"tok123"}"#);
        let want = json!({"type":"user","message":{"role":"user","content":
            "claudemesh message from alice (verified sender, mesh team, priority now, id 0193a6b0-0000-7000-8000-000000000001):\nstop pushing to main\nplease"},
            "priority":"now","from":"claudemesh:alice","msg_id":"0193a6b0-0000-7000-8000-000000000001"});
        assert_eq!(lines[1], want.to_string());
        let without = inbox_socket_payload(&message(Some("bob"), Priority::Low, "text", "x"), None);
        assert_eq!(without.lines().count(), 1);
        assert!(without.contains(r#""priority":"next""#), "{without}");
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parent_command_line_registers_the_channel_in_either_flag_form() {
        let yes = [
            args(&["claude", "--dangerously-load-development-channels=server:claudemesh"]),
            args(&["claude", "--dangerously-load-development-channels", "server:claudemesh"]),
            args(&["claude", "--channels", "plugin:x@y", "server:claudemesh", "--model", "opus"]),
            args(&["claude", "--channels=server:other,server:claudemesh", "--", "prompt"]),
        ];
        for a in &yes {
            assert!(launched_with_channel(a), "{a:?}");
        }
        let no = [
            args(&["claude"]),
            args(&["claude", "server:claudemesh"]),
            args(&["claude", "--channels", "server:other", "--model", "server:claudemesh"]),
            args(&["claude", "--dangerously-load-development-channels=server:claudemeshx"]),
            args(&["claude", "--", "--channels", "server:claudemesh"]),
            args(&["server:claudemesh"]),
        ];
        for a in &no {
            assert!(!launched_with_channel(a), "{a:?}");
        }
    }

    #[test]
    fn path_decision_order() {
        let sock = Path::new("/tmp/cc-socks/1.sock");
        let channel_args = args(&["claude", "--dangerously-load-development-channels=server:claudemesh"]);
        let socket_path = PushPath::InboxSocket(InboxSocket { path: sock.into(), token: Some("t".into()) });
        let cases: Vec<(PathInputs<'_>, PushPath)> = vec![
            (PathInputs::default(), PushPath::Off),
            (PathInputs { push_mode: Some("channel"), ..Default::default() }, PushPath::Channel),
            (
                PathInputs { channels: Some("server:claudemesh"), socket: Some(sock), ..Default::default() },
                PushPath::Channel,
            ),
            (
                PathInputs { parent_args: Some(&channel_args), socket: Some(sock), ..Default::default() },
                PushPath::Channel,
            ),
            (PathInputs { socket: Some(sock), token: Some("t"), ..Default::default() }, socket_path.clone()),
            (
                PathInputs { push_mode: Some("auto"), socket: Some(sock), token: Some("t"), ..Default::default() },
                socket_path.clone(),
            ),
            (
                PathInputs {
                    push_mode: Some("inbox-socket"),
                    channels: Some("server:claudemesh"),
                    socket: Some(sock),
                    token: Some("t"),
                    ..Default::default()
                },
                socket_path.clone(),
            ),
            (PathInputs { push_mode: Some("inbox-socket"), ..Default::default() }, PushPath::Off),
            (PathInputs { push_mode: Some("off"), socket: Some(sock), ..Default::default() }, PushPath::Off),
            (PathInputs { channels: Some("server:other"), ..Default::default() }, PushPath::Off),
        ];
        for (inputs, want) in cases {
            let (got, why) = decide_path(&inputs);
            assert_eq!(got, want, "{inputs:?} ({why})");
        }
    }
}
