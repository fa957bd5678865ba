//! The daemon with real processes: started on demand, the embedded broker (zero set-up), status and stop, stale
//! sockets, crashes, another build, racing starters, a broker outage with queued sends, and session resume.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Broker, Home, bin, describe, mesh_of_two, wait_until};

fn daemon_pid(home: &Home) -> Option<u64> {
    let status = home.json(&["daemon", "status"]);
    if status["running"] == true { status["pid"].as_u64() } else { None }
}

fn pid_alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

fn kill9(pid: u64) {
    let ok = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("run kill").success();
    assert!(ok, "kill -9 {pid}");
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(pid)), "pid {pid} survived SIGKILL");
}

fn bodies(inbox: &Value) -> Vec<String> {
    inbox["messages"].as_array().expect("messages").iter().map(|m| m["body"].as_str().unwrap().to_string()).collect()
}

#[test]
fn new_without_a_broker_creates_a_working_local_mesh_on_the_embedded_broker() {
    let alice = Home::new();
    let bob = Home::new();
    let created = alice.json(&["new", "team", "--name", "alice"]);
    let broker = created["mesh"]["broker"].as_str().expect("broker url").to_string();
    assert!(broker.starts_with("ws://127.0.0.1:"), "{created}");
    let status = alice.json(&["daemon", "status"]);
    assert_eq!(status["running"], true);
    assert_eq!(status["embedded_broker"], Value::String(broker.clone()));

    // Another user on this machine joins through the invite, which carries the embedded broker's URL.
    let invite = alice.json(&["invite"]);
    bob.json(&["join", invite["url"].as_str().unwrap(), "--name", "bob"]);
    let sent = alice.json(&["send", "bob", "hello over the embedded broker"]);
    assert_eq!(sent["queued"], false, "{sent}");
    assert_eq!(sent["recipients"][0]["name"], "bob");
    assert!(
        wait_until(Duration::from_secs(10), || bodies(&bob.json(&["inbox"])) == ["hello over the embedded broker"]),
        "bob never got the message"
    );
    // The embedded broker keeps its port across daemon restarts, so the mesh keeps working.
    alice.json(&["daemon", "stop"]);
    alice.json(&["send", "bob", "after a restart"]);
    assert_eq!(alice.json(&["daemon", "status"])["embedded_broker"], Value::String(broker));
    assert!(wait_until(Duration::from_secs(10), || bodies(&bob.json(&["inbox"])).len() == 2));
}

#[test]
fn status_and_stop_report_and_end_the_daemon() {
    let home = Home::new();
    assert_eq!(home.json(&["daemon", "status"])["running"], false);
    let out = home.run(&["daemon", "status"]);
    assert!(support::stdout(&out).contains("not running"), "{}", describe(&out));
    let broker = Broker::start();
    home.json(&["new", "solo", "--broker", &broker.url()]);
    let pid = daemon_pid(&home).expect("a verb started the daemon");
    let status = home.json(&["daemon", "status"]);
    let links = status["links"].as_array().expect("links");
    assert!(links.iter().any(|l| l["mesh"] == "solo" && l["session"] == "cli"), "{status}");
    assert_eq!(links.len(), 1, "{status}");
    assert!(
        wait_until(Duration::from_secs(15), || home.json(&["daemon", "status"])["links"][0]["connected"] == true),
        "the link never connected: {}",
        home.json(&["daemon", "status"])
    );
    // The socket is private.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join("daemon.sock")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let stopped = home.json(&["daemon", "stop"]);
    assert_eq!(stopped["stopped"], true);
    assert!(wait_until(Duration::from_secs(15), || !pid_alive(pid)), "the daemon did not exit");
    assert!(!home.path().join("daemon.sock").exists(), "the socket outlived the daemon");
    assert_eq!(home.json(&["daemon", "stop"])["stopped"], false);
}

#[test]
fn a_stale_socket_file_does_not_stop_a_new_daemon() {
    let broker = Broker::start();
    let home = Home::new();
    home.json(&["new", "solo", "--broker", &broker.url()]);
    let pid = daemon_pid(&home).unwrap();
    kill9(pid);
    // The crashed daemon left its socket file behind.
    assert!(home.path().join("daemon.sock").exists());
    let peers = home.json(&["peers"]);
    assert_eq!(peers["peers"].as_array().unwrap().len(), 1, "{peers}");
    let new_pid = daemon_pid(&home).expect("a new daemon");
    assert_ne!(new_pid, pid);
}

#[test]
fn a_daemon_of_another_build_is_replaced() {
    let broker = Broker::start();
    let home = Home::new();
    home.json(&["new", "solo", "--broker", &broker.url()]);
    home.json(&["daemon", "stop"]);
    // An "old" daemon, as left running across an upgrade.
    let mut old = home
        .cmd()
        .args(["daemon", "run", "--build", "0.0.0-old"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn an old daemon");
    let mut line = String::new();
    BufReader::new(old.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("ready"), "{line}");
    assert_eq!(home.json(&["daemon", "status"])["build"], "0.0.0-old");
    // Any verb notices and replaces it.
    home.json(&["peers"]);
    let status = home.json(&["daemon", "status"]);
    assert_ne!(status["build"], "0.0.0-old", "{status}");
    assert_ne!(status["pid"].as_u64(), Some(u64::from(old.id())));
    assert!(wait_until(Duration::from_secs(5), || old.try_wait().unwrap().is_some()), "the old daemon kept running");
}

#[test]
fn verbs_racing_to_start_the_daemon_end_up_with_one() {
    let broker = Broker::start();
    let home = Home::new();
    home.json(&["new", "solo", "--broker", &broker.url()]);
    home.json(&["daemon", "stop"]);
    let children: Vec<_> = (0..6)
        .map(|_| home.cmd().args(["--json", "peers"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }
    let pid = daemon_pid(&home).expect("one daemon");
    // Exactly one daemon serves this home: the lock holder.
    let holder = std::fs::read_to_string(home.path().join("daemon.lock")).unwrap();
    assert_eq!(holder.trim(), pid.to_string());
    let daemons = Command::new("pgrep").args(["-f", &format!("{} daemon run", bin())]).output();
    if let Ok(out) = daemons {
        let ours = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|p| {
                let env = std::fs::read(format!("/proc/{p}/environ")).unwrap_or_default();
                String::from_utf8_lossy(&env).contains(&home.path().display().to_string())
            })
            .count();
        assert_eq!(ours, 1, "more than one daemon for one home");
    }
}

#[test]
fn sends_during_a_broker_outage_are_queued_and_delivered_once_in_order() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    // Both daemons are up and linked.
    pair.alice.json(&["send", "bob", "warm-up"]);
    assert!(wait_until(Duration::from_secs(10), || bodies(&pair.bob.json(&["inbox"])) == ["warm-up"]));

    broker.kill();
    let mut ids = Vec::new();
    for i in 0..10 {
        let out = pair.alice.run(&["--json", "send", "bob", &format!("queued {i}")]);
        assert!(out.status.success(), "send during the outage: {}", describe(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["queued"], true, "{doc}");
        ids.push(doc["id"].as_str().unwrap().to_string());
    }
    let human = pair.alice.run(&["send", "bob", "queued 10"]);
    assert!(human.status.success());
    assert!(support::stdout(&human).contains("Queued"), "{}", describe(&human));
    let status = pair.alice.json(&["msg-status", &ids[0]]);
    assert_eq!(status["state"], "queued", "{status}");
    assert_eq!(pair.alice.json(&["daemon", "status"])["outbox_pending"], 11);

    broker.restart();
    let expected: Vec<String> =
        std::iter::once("warm-up".to_string()).chain((0..=10).map(|i| format!("queued {i}"))).collect();
    assert!(
        wait_until(Duration::from_secs(30), || bodies(&pair.bob.json(&["inbox"])) == expected),
        "after the outage bob has {:?}",
        bodies(&pair.bob.json(&["inbox"]))
    );
    assert_eq!(pair.alice.json(&["daemon", "status"])["outbox_pending"], 0);
    assert!(wait_until(Duration::from_secs(10), || {
        let s = pair.alice.json(&["msg-status", &ids[9]]);
        s["recipients"][0]["state"] != "queued" && s["state"] != "queued"
    }));
}

#[test]
fn a_daemon_killed_with_sends_in_its_outbox_sends_them_after_restart() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.alice.json(&["send", "bob", "first"]);
    assert!(wait_until(Duration::from_secs(10), || bodies(&pair.bob.json(&["inbox"])) == ["first"]));
    broker.kill();
    for i in 0..3 {
        assert_eq!(pair.alice.json(&["send", "bob", &format!("kept {i}")])["queued"], true);
    }
    kill9(daemon_pid(&pair.alice).unwrap());
    broker.restart();
    // The next verb starts a new daemon, which finds the outbox and drains it.
    pair.alice.json(&["peers"]);
    assert!(
        wait_until(Duration::from_secs(30), || bodies(&pair.bob.json(&["inbox"]))
            == ["first", "kept 0", "kept 1", "kept 2"]),
        "bob has {:?}",
        bodies(&pair.bob.json(&["inbox"]))
    );
}

#[test]
fn a_resumed_claude_session_keeps_its_peer_identity_and_its_queue() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let session = "3f1c8e2a-resume-test";
    let as_session = |args: &[&str]| -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = pair
            .bob
            .cmd()
            .env("CLAUDE_CODE_SESSION_ID", session)
            .env("CLAUDEMESH_NAME", "bob-claude")
            .args(&all)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let me_before = as_session(&["peers"])["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["you"] == true)
        .map(|p| p["id"].clone())
        .expect("the session's own peer");
    // Claude Code exits: the daemon goes too (machine restart). Messages for the session wait at the broker.
    pair.bob.json(&["daemon", "stop"]);
    pair.alice.json(&["send", "bob-claude", "while you were away"]);
    let resumed = as_session(&["inbox"]);
    assert_eq!(bodies(&resumed), ["while you were away"], "{resumed}");
    let me_after = as_session(&["peers"])["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["you"] == true)
        .map(|p| p["id"].clone())
        .unwrap();
    assert_eq!(me_before, me_after, "the session's key changed across a resume");
    // The person at the terminal is a different peer with their own inbox.
    assert!(bodies(&pair.bob.json(&["inbox"])).is_empty());
}

/// A raw client of a daemon's local API (newline-delimited JSON-RPC on `daemon.sock`).
struct LocalApi {
    reader: BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
    next: u64,
}

impl LocalApi {
    fn connect(home: &Home) -> LocalApi {
        let stream = std::os::unix::net::UnixStream::connect(home.path().join("daemon.sock")).expect("daemon socket");
        let writer = stream.try_clone().unwrap();
        let mut api = LocalApi { reader: BufReader::new(stream), writer, next: 0 };
        let hello = serde_json::json!({"protocol": 1, "version": "test", "build": "test", "session": "cli",
                                       "name": null, "client": "test"});
        api.call("daemon.hello", hello);
        api
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        use std::io::Write;
        self.next += 1;
        let req = serde_json::json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        writeln!(self.writer, "{req}").unwrap();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let msg: Value = serde_json::from_str(&line).unwrap();
            if msg["id"] == self.next {
                assert!(msg.get("error").is_none(), "{method}: {msg}");
                return msg["result"].clone();
            }
        }
    }
}

#[test]
fn a_message_sent_before_inbox_runs_is_listed_by_it() {
    // Read-your-writes across peers: once the broker has accepted a send, the recipient's next listing has it
    // (the daemon asks the broker for an `inbox.sync` barrier first). Straight on the two daemons' sockets, with
    // no process start in between, so nothing but the barrier closes the gap.
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.bob.json(&["peers"]);
    let mut alice = LocalApi::connect(&pair.alice);
    let mut bob = LocalApi::connect(&pair.bob);
    for i in 0..30 {
        let body = format!("round {i}");
        let sent = alice.call("message.send", serde_json::json!({"to": "bob", "body": body}));
        assert_eq!(sent["queued"], false, "{sent}");
        let unread = bob.call("inbox.list", serde_json::json!({"filter": "unread", "mark_read": true}));
        assert_eq!(bodies(&unread), [body], "round {i}");
    }
}

#[test]
fn a_large_daemon_log_is_rotated_when_the_next_daemon_starts() {
    let home = Home::new();
    let logs = home.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("daemon.log"), vec![b'x'; 9 * 1024 * 1024]).unwrap();
    home.json(&["new", "solo"]);
    assert_eq!(std::fs::metadata(logs.join("daemon.log.1")).unwrap().len(), 9 * 1024 * 1024);
    let fresh = || std::fs::read_to_string(logs.join("daemon.log")).unwrap_or_default();
    assert!(wait_until(Duration::from_secs(5), || fresh().contains("daemon ready")), "{}", fresh());
    assert!(fresh().len() < 64 * 1024);
}

#[test]
fn bad_local_api_input_gets_an_error_and_the_daemon_keeps_serving() {
    use std::io::{Read, Write};
    let home = Home::new();
    home.json(&["new", "solo"]);
    let sock = home.path().join("daemon.sock");
    let exchange = |payload: &[u8]| -> String {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(payload).unwrap();
        let mut line = String::new();
        BufReader::new(&mut s).read_line(&mut line).unwrap();
        line
    };
    // Not JSON: a parse error naming no id; the connection stays usable.
    let reply: Value = serde_json::from_str(&exchange(b"{not json\n")).unwrap();
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    // Anything before hello: not authenticated.
    let reply: Value =
        serde_json::from_str(&exchange(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.stop\",\"params\":{}}\n"))
            .unwrap();
    assert_eq!(reply["error"]["code"], -32000, "{reply}");
    // A line over 256 KiB: refused, and that connection is closed.
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big = vec![b'x'; 300 * 1024];
    let _ = s.write_all(&big);
    let _ = s.write_all(b"\n");
    let mut all = String::new();
    let _ = s.read_to_string(&mut all);
    assert!(all.contains("-32600"), "{all}");
    // Unknown method after hello.
    let mut api = LocalApi::connect(&home);
    writeln!(api.writer, "{}", serde_json::json!({"jsonrpc": "2.0", "id": 99, "method": "nope", "params": {}}))
        .unwrap();
    let mut line = String::new();
    api.reader.read_line(&mut line).unwrap();
    assert!(line.contains("-32601"), "{line}");
    // The daemon still serves, and nothing it held was lost.
    assert_eq!(home.json(&["daemon", "status"])["running"], true);
    assert_eq!(home.json(&["peers"])["peers"].as_array().unwrap().len(), 1);
}

#[test]
fn a_relative_claudemesh_home_serves_the_same_home() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(bin())
            .current_dir(dir.path())
            .env("CLAUDEMESH_HOME", "./h")
            .env("USER", "tester")
            .env("NO_COLOR", "1")
            .env_remove("CLAUDE_CODE_SESSION_ID")
            .stdin(Stdio::null())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    run(&["--json", "new", "rel"]);
    assert_eq!(run(&["--json", "daemon", "status"])["running"], true);
    assert!(dir.path().join("h/daemon.sock").exists());
    assert!(!dir.path().join("h/h").exists(), "the daemon resolved ./h against its own directory");
    run(&["--json", "daemon", "stop"]);
}

#[test]
fn an_inbox_larger_than_a_request_line_lists_in_full() {
    // Replies from the daemon are not held to the 256 KiB cap on requests: twelve 30 KiB messages (~370 KiB of
    // JSON) list in one `inbox`.
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    for i in 0..12 {
        let body = format!("{i:02}{}", "x".repeat(30 * 1024));
        pair.alice.json(&["send", "bob", &body]);
    }
    let inbox = pair.bob.json(&["inbox"]);
    let got = bodies(&inbox);
    assert_eq!(got.len(), 12);
    assert!(got.iter().enumerate().all(|(i, b)| b.starts_with(&format!("{i:02}")) && b.len() == 30 * 1024 + 2));
}
