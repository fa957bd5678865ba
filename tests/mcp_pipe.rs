//! The push-pipe (`claudemesh mcp`) as Claude Code drives it: the exact handshakes of Claude Code 2.1.330 (with its
//! `server/discover` probe) and 2.1.197, errors that keep the server alive, clean exits on EOF, SIGTERM and SIGINT,
//! and end to end through a real broker and daemon: a peer's message arriving as the exact channel notification on
//! stdout, or as lines on a (fake) Claude Code inbox socket, with the surfaced receipt reaching the sender.

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Broker, Home, mesh_of_two, wait_until};

/// Variables from a surrounding Claude Code session (or the developer's shell) that would change the push path.
const SESSION_VARS: &[&str] = &[
    "CLAUDECODE",
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDE_CODE_MESSAGING_SOCKET",
    "CLAUDE_CODE_MESSAGING_TOKEN",
    "CLAUDEMESH_PUSH",
    "CLAUDEMESH_CHANNELS",
    "CLAUDEMESH_NAME",
    "CLAUDEMESH_NO_DAEMON",
];

/// How long a reply or a delivery may take.
const REPLY: Duration = Duration::from_secs(10);
const DELIVERY: Duration = Duration::from_secs(30);

/// `server/discover` exactly as Claude Code 2.1.330 sends it first.
fn discover_2_1_330() -> Value {
    json!({"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":{"_meta":{
        "io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientInfo":{"name":"claude-code","title":"Claude Code","version":"2.1.330",
            "description":"Anthropic's agentic coding tool","websiteUrl":"https://claude.com/claude-code"},
        "io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true},"elicitation":{"form":{},"url":{}}}}}})
}

/// `initialize` as Claude Code 2.1.330 sends it after the refused probe.
fn initialize_2_1_330() -> Value {
    json!({"method":"initialize","params":{"protocolVersion":"2025-11-25",
        "capabilities":{"roots":{"listChanged":true},"elicitation":{"form":{},"url":{}}},
        "clientInfo":{"name":"claude-code","title":"Claude Code","version":"2.1.330",
            "description":"Anthropic's agentic coding tool","websiteUrl":"https://claude.com/claude-code"}},
        "jsonrpc":"2.0","id":0})
}

/// `initialize` as Claude Code 2.1.197 sends it (no probe before it).
fn initialize_2_1_197() -> Value {
    json!({"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{},"elicitation":{}},
        "clientInfo":{"name":"claude-code","version":"2.1.197"}},"jsonrpc":"2.0","id":0})
}

/// A running `claudemesh mcp` with piped stdio; stderr goes to a file shown when an assertion fails.
struct Pipe {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
    _logs: tempfile::TempDir,
}

impl Pipe {
    /// `claudemesh mcp` in `home` with `vars` set on top of a scrubbed environment.
    fn start(home: &Home, vars: &[(&str, &str)]) -> Pipe {
        let mut cmd = home.cmd();
        cmd.arg("mcp");
        Self::spawn(cmd, vars)
    }

    fn spawn(mut cmd: Command, vars: &[(&str, &str)]) -> Pipe {
        for var in SESSION_VARS {
            cmd.env_remove(var);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let logs = tempfile::tempdir().expect("tempdir");
        let stderr = logs.path().join("stderr.log");
        let err_file = File::create(&stderr).expect("stderr file");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err_file))
            .spawn()
            .expect("spawn claudemesh mcp");
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Pipe { child, stdin, lines, stderr, _logs: logs }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn send_raw(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).expect("write to the push-pipe");
        stdin.write_all(b"\n").expect("write to the push-pipe");
        stdin.flush().expect("flush");
    }

    fn send(&mut self, message: &Value) {
        self.send_raw(&message.to_string());
    }

    /// The next stdout line as written (every line must be one JSON object).
    fn next_line(&self, what: &str, within: Duration) -> String {
        match self.lines.recv_timeout(within) {
            Ok(line) => {
                let parsed: Result<Value, _> = serde_json::from_str(&line);
                assert!(parsed.is_ok_and(|v| v.is_object()), "stdout line is not one JSON object: {line}");
                line
            }
            Err(_) => panic!("no stdout line for {what} within {within:?}; stderr:\n{}", self.stderr()),
        }
    }

    fn next(&self, what: &str) -> Value {
        serde_json::from_str(&self.next_line(what, REPLY)).expect("JSON")
    }

    fn ping(&mut self, id: u64) {
        self.send(&json!({"jsonrpc":"2.0","id":id,"method":"ping"}));
        assert_eq!(self.next("ping"), json!({"jsonrpc":"2.0","id":id,"result":{}}));
    }

    /// Claude Code 2.1.330's opening: refused probe, initialize, initialized. Returns the initialize result.
    fn handshake_2_1_330(&mut self) -> Value {
        self.send(&discover_2_1_330());
        let refused = self.next("server/discover");
        assert_eq!(
            refused,
            json!({"jsonrpc":"2.0","id":"server-discover-probe-1","error":{"code":-32601,"message":"Method not found"}})
        );
        self.send(&initialize_2_1_330());
        let init = self.next("initialize");
        assert_eq!(init["jsonrpc"], "2.0");
        assert_eq!(init["id"], 0);
        self.send(&json!({"method":"notifications/initialized","jsonrpc":"2.0"}));
        init["result"].clone()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill").args([name, &self.child.id().to_string()]).status().expect("run kill");
        assert!(ok.success(), "kill {name}");
    }

    fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits (bounded) for the process to exit.
    fn exit_status(&mut self, within: Duration) -> ExitStatus {
        let mut status = None;
        let exited = wait_until(within, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        assert!(exited, "the push-pipe did not exit within {within:?}; stderr:\n{}", self.stderr());
        status.expect("status")
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_initialize_result(result: &Value) {
    assert_eq!(result["protocolVersion"], "2025-11-25");
    assert_eq!(result["capabilities"]["experimental"]["claude/channel"], json!({}));
    assert!(result["capabilities"].get("tools").is_none(), "declares tools: {result}");
    let caps = result["capabilities"].as_object().expect("capabilities");
    assert_eq!(caps.keys().collect::<Vec<_>>(), ["experimental"], "{result}");
    let instructions = result["instructions"].as_str().expect("instructions");
    assert!(!instructions.is_empty() && instructions.chars().count() < 2048, "{} chars", instructions.len());
    assert!(instructions.contains("claudemesh send"), "{instructions}");
    assert_eq!(result["serverInfo"]["name"], "claudemesh");
    assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn claude_code_2_1_330_handshake_errors_keep_it_alive_and_eof_exits_0() {
    let home = Home::new();
    let mut pipe = Pipe::start(&home, &[]);
    let result = pipe.handshake_2_1_330();
    assert_initialize_result(&result);
    pipe.ping(1);
    pipe.send(&json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}));
    assert_eq!(
        pipe.next("unknown method"),
        json!({"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"Method not found"}})
    );
    // Notifications from the client get no answer: the next line answers the garbage after it.
    pipe.send(&json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}));
    pipe.send_raw("this is not json {");
    assert_eq!(pipe.next("garbage")["error"]["code"], -32700);
    pipe.ping(3);
    // A second server/discover (a reconnecting client) is refused the same way.
    pipe.send(&json!({"jsonrpc":"2.0","id":"again","method":"server/discover"}));
    assert_eq!(pipe.next("second discover")["error"]["code"], -32601);

    pipe.close_stdin();
    let status = pipe.exit_status(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", pipe.stderr());
    // Without a Claude Code session there is nothing to deliver to, and it says so once.
    let stderr = pipe.stderr();
    assert_eq!(stderr.matches("CLAUDE_CODE_SESSION_ID is not set").count(), 1, "{stderr}");
    assert!(!home.path().join("daemon.sock").exists(), "a handshake alone must not start the daemon");
}

#[test]
fn claude_code_2_1_197_handshake_without_a_probe() {
    let home = Home::new();
    let mut pipe = Pipe::start(&home, &[]);
    pipe.send(&initialize_2_1_197());
    let init = pipe.next("initialize");
    assert_eq!(init["id"], 0);
    assert_initialize_result(&init["result"]);
    pipe.send(&json!({"method":"notifications/initialized","jsonrpc":"2.0"}));
    pipe.ping(1);
    // An older client revision is echoed; an unknown one gets the latest.
    pipe.send(&json!({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2024-11-05"}}));
    assert_eq!(pipe.next("old revision")["result"]["protocolVersion"], "2024-11-05");
    pipe.send(&json!({"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2099-01-01"}}));
    assert_eq!(pipe.next("unknown revision")["result"]["protocolVersion"], "2025-11-25");
    pipe.close_stdin();
    assert_eq!(pipe.exit_status(Duration::from_secs(5)).code(), Some(0));
}

#[test]
fn a_line_over_1_mib_is_a_parse_error_and_the_server_keeps_serving() {
    let home = Home::new();
    let mut pipe = Pipe::start(&home, &[]);
    let huge = format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    pipe.send_raw(&huge);
    let refused = pipe.next("oversized line");
    assert_eq!(refused["error"]["code"], -32700);
    assert_eq!(refused["id"], Value::Null);
    pipe.ping(2);
    pipe.close_stdin();
    assert_eq!(pipe.exit_status(Duration::from_secs(5)).code(), Some(0));
}

#[test]
fn sigterm_and_sigint_exit_0() {
    for signal in ["-TERM", "-INT"] {
        let home = Home::new();
        let mut pipe = Pipe::start(&home, &[]);
        // An answer proves the server (and its signal handlers) are up.
        pipe.handshake_2_1_330();
        pipe.ping(1);
        pipe.signal(signal);
        let status = pipe.exit_status(Duration::from_secs(5));
        assert_eq!(status.code(), Some(0), "{signal}: stderr:\n{}", pipe.stderr());
    }
}

#[test]
fn claude_codes_command_line_with_the_dev_channel_selects_the_channel_path() {
    let home = Home::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("cc.sock");
    // The push-pipe's parent is a shell whose command line carries Claude Code's flag (a compound script, so the
    // shell stays the parent instead of exec-ing the binary).
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "\"$0\" mcp; exit $?",
        support::bin(),
        "--dangerously-load-development-channels=server:claudemesh",
    ])
    .env("CLAUDEMESH_HOME", home.path())
    .env_remove("RUST_LOG");
    let vars = [
        ("CLAUDE_CODE_SESSION_ID", "sess-flag-check"),
        ("CLAUDE_CODE_MESSAGING_SOCKET", socket.to_str().expect("utf-8 path")),
        ("CLAUDEMESH_LOG", "claudemesh=info"),
        ("NO_COLOR", "1"),
    ];
    let mut pipe = Pipe::spawn(cmd, &vars);
    // No `initialized`: the path is decided and logged at start, and nothing connects to a daemon.
    pipe.send(&initialize_2_1_330());
    assert_eq!(pipe.next("initialize")["id"], 0);
    pipe.close_stdin();
    assert_eq!(pipe.exit_status(Duration::from_secs(5)).code(), Some(0));
    let stderr = pipe.stderr();
    assert!(stderr.contains("Claude Code was started with the server:claudemesh channel"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------------------------
// End to end: a real broker, two homes, the real daemon.

/// Waits until `home`'s peer list shows an online peer called `name` and returns that list.
fn wait_for_peer(home: &Home, name: &str) -> Value {
    let mut last = Value::Null;
    let seen = wait_until(DELIVERY, || {
        last = home.json(&["peers"]);
        last["peers"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["online"] == true))
    });
    assert!(seen, "{name} never came online: {last}");
    last
}

/// The sender's own peer id in a peer list.
fn my_id(peers: &Value) -> String {
    let me = peers["peers"].as_array().and_then(|ps| ps.iter().find(|p| p["you"] == true));
    me.and_then(|p| p["id"].as_str()).expect("own peer in the list").to_string()
}

/// Waits until the sender sees the message surfaced via `via`.
fn wait_surfaced(sender: &Home, id: &str, via: &str) {
    let mut last = Value::Null;
    let ok = wait_until(DELIVERY, || {
        last = sender.json(&["msg-status", id]);
        last["recipients"][0]["state"] == "surfaced" && last["recipients"][0]["surfaced_via"] == via
    });
    assert!(ok, "not surfaced via {via}: {last}");
}

fn send(from: &Home, to: &str, body: &str, priority: &str) -> String {
    let sent = from.json(&["send", to, body, "--priority", priority]);
    sent["id"].as_str().expect("message id").to_string()
}

fn expected_channel_line(body: &str, from: &str, from_id: &str, priority: &str, id: &str) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/claude/channel\",\"params\":{{\"content\":\"{body}\",\
         \"meta\":{{\"from\":\"{from}\",\"from_id\":\"{from_id}\",\"mesh\":\"team\",\"priority\":\"{priority}\",\
         \"msg_id\":\"{id}\",\"kind\":\"text\"}}}}}}"
    )
}

#[test]
fn a_peers_message_arrives_as_the_exact_channel_notification_once_and_is_surfaced() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let session = [("CLAUDE_CODE_SESSION_ID", "sess-e2e-channel"), ("CLAUDEMESH_NAME", "bob-claude")];
    let mut pipe = Pipe::start(&pair.bob, &[session[0], session[1], ("CLAUDEMESH_PUSH", "channel")]);
    pipe.handshake_2_1_330();
    let alice_id = my_id(&wait_for_peer(&pair.alice, "bob-claude"));

    let first = send(&pair.alice, "bob-claude", "can you review the parser?", "now");
    let line = pipe.next_line("the channel notification", DELIVERY);
    assert_eq!(line, expected_channel_line("can you review the parser?", "alice", &alice_id, "now", &first));
    wait_surfaced(&pair.alice, &first, "channel");

    // The daemon goes away: the push-pipe reconnects (starting it again) and does not push the first one again.
    pair.bob.json(&["daemon", "stop"]);
    let second = send(&pair.alice, "bob-claude", "second", "next");
    let line = pipe.next_line("the message after the daemon restart", DELIVERY);
    assert_eq!(line, expected_channel_line("second", "alice", &alice_id, "next", &second));
    wait_surfaced(&pair.alice, &second, "channel");

    // Low priority waits in the inbox: the next event is the one after it.
    send(&pair.alice, "bob-claude", "fyi only", "low");
    let third = send(&pair.alice, "bob-claude", "third", "next");
    let line = pipe.next_line("the message after a low one", DELIVERY);
    assert_eq!(line, expected_channel_line("third", "alice", &alice_id, "next", &third));
    pipe.ping(10);

    pipe.close_stdin();
    assert_eq!(pipe.exit_status(Duration::from_secs(5)).code(), Some(0));
}

#[test]
fn a_message_that_came_while_no_push_pipe_ran_is_pushed_at_its_next_start() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let vars = [
        ("CLAUDE_CODE_SESSION_ID", "sess-e2e-backlog"),
        ("CLAUDEMESH_NAME", "bob-claude"),
        ("CLAUDEMESH_PUSH", "channel"),
    ];
    let mut pipe = Pipe::start(&pair.bob, &vars);
    pipe.handshake_2_1_330();
    let alice_id = my_id(&wait_for_peer(&pair.alice, "bob-claude"));
    pipe.close_stdin();
    assert_eq!(pipe.exit_status(Duration::from_secs(5)).code(), Some(0));

    let id = send(&pair.alice, "bob-claude", "while you were away", "next");
    let mut pipe = Pipe::start(&pair.bob, &vars);
    pipe.handshake_2_1_330();
    let line = pipe.next_line("the backlog", DELIVERY);
    assert_eq!(line, expected_channel_line("while you were away", "alice", &alice_id, "next", &id));
    wait_surfaced(&pair.alice, &id, "channel");
}

/// A stand-in for Claude Code's inbox socket: every connection's full text, in order.
fn fake_inbox_socket(path: &Path) -> mpsc::Receiver<String> {
    let listener = UnixListener::bind(path).expect("bind the fake inbox socket");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut text = String::new();
            let _ = conn.read_to_string(&mut text);
            if tx.send(text).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn with_push_inbox_socket_a_peers_message_reaches_claude_codes_socket_and_not_stdout() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("cc.sock");
    let posts = fake_inbox_socket(&socket);
    let vars = [
        ("CLAUDE_CODE_SESSION_ID", "sess-e2e-socket"),
        ("CLAUDEMESH_NAME", "bob-claude"),
        ("CLAUDEMESH_PUSH", "inbox-socket"),
        ("CLAUDE_CODE_MESSAGING_SOCKET", socket.to_str().expect("utf-8 path")),
        ("CLAUDE_CODE_MESSAGING_TOKEN", "tok-5f2a"),
    ];
    let mut pipe = Pipe::start(&pair.bob, &vars);
    pipe.handshake_2_1_330();
    wait_for_peer(&pair.alice, "bob-claude");

    let id = send(&pair.alice, "bob-claude", "deploy is blocked on you", "now");
    let post = posts.recv_timeout(DELIVERY).unwrap_or_else(|_| panic!("nothing on the socket; {}", pipe.stderr()));
    let lines: Vec<&str> = post.lines().collect();
    assert_eq!(lines.len(), 2, "{post}");
    assert_eq!(lines[0], r#"{"type":"auth","token":"tok-5f2a"}"#);
    let user = format!(
        "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":\"claudemesh message from alice (verified \
         sender, mesh team, priority now, id {id}):\\ndeploy is blocked on you\"}},\"priority\":\"now\",\
         \"from\":\"claudemesh:alice\",\"msg_id\":\"{id}\"}}"
    );
    assert_eq!(lines[1], user);
    wait_surfaced(&pair.alice, &id, "inbox_socket");
    // Nothing went to stdout but answers.
    pipe.ping(5);
    pipe.close_stdin();
    assert_eq!(pipe.exit_status(Duration::from_secs(5)).code(), Some(0));
}

#[test]
fn a_push_pipe_uses_a_daemon_of_another_build_instead_of_replacing_it() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.bob.json(&["daemon", "stop"]);
    // A newer daemon, as after an upgrade while Claude Code (and this older push-pipe) kept running.
    let mut other = pair
        .bob
        .cmd()
        .args(["daemon", "run", "--build", "9.9.9-newer"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn another build's daemon");
    let mut ready = String::new();
    BufReader::new(other.stdout.take().expect("stdout")).read_line(&mut ready).expect("ready line");
    assert!(ready.starts_with("ready"), "{ready}");

    let vars = [
        ("CLAUDE_CODE_SESSION_ID", "sess-e2e-other-build"),
        ("CLAUDEMESH_NAME", "bob-claude"),
        ("CLAUDEMESH_PUSH", "channel"),
    ];
    let mut pipe = Pipe::start(&pair.bob, &vars);
    pipe.handshake_2_1_330();
    let alice_id = my_id(&wait_for_peer(&pair.alice, "bob-claude"));
    let id = send(&pair.alice, "bob-claude", "still delivered", "next");
    let line = pipe.next_line("the notification through the other build", DELIVERY);
    assert_eq!(line, expected_channel_line("still delivered", "alice", &alice_id, "next", &id));
    assert!(other.try_wait().expect("try_wait").is_none(), "the push-pipe stopped the other build's daemon");
    assert_eq!(pair.bob.json(&["daemon", "status"])["build"], "9.9.9-newer");
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn do_not_disturb_holds_next_pushes_now_and_releases_the_held_when_it_ends() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let vars =
        [("CLAUDE_CODE_SESSION_ID", "sess-e2e-dnd"), ("CLAUDEMESH_NAME", "bob-claude"), ("CLAUDEMESH_PUSH", "channel")];
    let mut pipe = Pipe::start(&pair.bob, &vars);
    pipe.handshake_2_1_330();
    let alice_id = my_id(&wait_for_peer(&pair.alice, "bob-claude"));
    let as_session = |args: &[&str]| {
        let out = pair.bob.cmd().envs(vars).args(args).output().expect("run claudemesh");
        assert!(out.status.success(), "{}", support::describe(&out));
    };
    as_session(&["status", "set", "dnd"]);

    // Held: a `next` message while the session is in do-not-disturb.
    let held = send(&pair.alice, "bob-claude", "when you have a minute", "next");
    // Pushed at once: `now` interrupts even dnd. It is the next line, so the held one was not pushed before it.
    let urgent = send(&pair.alice, "bob-claude", "the build is on fire", "now");
    let line = pipe.next_line("the urgent message", DELIVERY);
    assert_eq!(line, expected_channel_line("the build is on fire", "alice", &alice_id, "now", &urgent));

    // Leaving dnd releases the held message.
    as_session(&["status", "set", "idle"]);
    let line = pipe.next_line("the held message", DELIVERY);
    assert_eq!(line, expected_channel_line("when you have a minute", "alice", &alice_id, "next", &held));
    wait_surfaced(&pair.alice, &held, "channel");
    pipe.close_stdin();
    assert_eq!(pipe.exit_status(Duration::from_secs(5)).code(), Some(0));
}
