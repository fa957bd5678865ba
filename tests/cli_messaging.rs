//! Messaging edge cases with real processes: `inbox --follow`, TTL expiry in `msg-status`, body limits, targets
//! that name nobody, mesh selection, and localized text with English JSON.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use support::{Broker, Home, describe, mesh_of_two, stderr, stdout, wait_until};

#[test]
fn inbox_follow_prints_queued_and_live_messages_as_json_lines() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.alice.json(&["send", "bob", "queued before following"]);

    let follower = Follower::start(&pair.bob);
    let first = follower.next("the queued message");
    assert_eq!(first["body"], "queued before following");
    assert_eq!(first["schema_version"], 1);

    // The follower is connected now: this one is pushed live.
    pair.alice.json(&["send", "bob", "pushed live"]);
    let second = follower.next("the live message");
    assert_eq!(second["body"], "pushed live");
    assert_eq!(second["from"]["name"], "alice");

    // Ctrl-C ends following cleanly.
    assert_eq!(follower.interrupt().status.code(), Some(0));
    // Everything printed by follow is in the inbox once, and read.
    let inbox = pair.bob.json(&["inbox", "--unread"]);
    assert!(inbox["messages"].as_array().is_some_and(Vec::is_empty), "{inbox}");
    assert_eq!(pair.bob.json(&["inbox"])["messages"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_message_past_its_ttl_is_reported_expired() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    // bob is offline: his daemon (which would take the message at once) is stopped.
    pair.bob.json(&["daemon", "stop"]);
    let sent = pair.alice.json(&["send", "bob", "short-lived", "--ttl", "1s"]);
    let id = sent["id"].as_str().expect("id").to_string();
    let mut last = Value::Null;
    let expired = wait_until(Duration::from_secs(30), || {
        last = pair.alice.json(&["msg-status", &id]);
        last["state"] == "expired"
    });
    assert!(expired, "still not expired: {last}");
    assert_eq!(last["recipients"][0]["state"], "expired");
    // bob never gets it.
    assert!(pair.bob.json(&["inbox"])["messages"].as_array().is_some_and(Vec::is_empty));
}

#[test]
fn bodies_up_to_32_kib_travel_intact_and_larger_ones_exit_3() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let big = "é".repeat(16 * 1024); // 32 KiB of UTF-8
    let mut child = pair
        .alice
        .cmd()
        .args(["--json", "send", "bob", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(big.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", describe(&out));
    let inbox = pair.bob.json(&["inbox"]);
    assert_eq!(inbox["messages"][0]["body"].as_str().map(str::len), Some(32 * 1024));
    assert_eq!(inbox["messages"][0]["body"], Value::from(big));

    let too_big = "x".repeat(32 * 1024 + 1);
    let out = pair.alice.fails(&["send", "bob", &too_big], 3);
    assert!(stderr(&out).contains("32768"), "{}", describe(&out));
    pair.alice.fails(&["send", "bob", "   "], 3);
}

#[test]
fn targets_that_name_nobody_are_refused_before_sending() {
    let broker = Broker::start();
    let alice = Home::new();
    alice.json(&["new", "solo", "--broker", &broker.url(), "--name", "alice"]);
    let out = alice.fails(&["send", "*", "anyone?"], 5);
    assert!(stderr(&out).contains("No other peer"), "{}", describe(&out));
    alice.fails(&["send", "alice", "me"], 3);
    alice.fails(&["send", "@nobody", "hi"], 5);
    alice.fails(&["msg-status", "not-an-id"], 3);
    // A well-formed id nobody sent.
    alice.fails(&["msg-status", "01900000-0000-7000-8000-000000000000"], 5);
}

#[test]
fn meshes_are_selected_by_flag_then_env_then_current() {
    let broker = Broker::start();
    let home = Home::new();
    home.json(&["new", "team", "--broker", &broker.url(), "--name", "ann"]);
    let second = home.json(&["new", "Team", "--broker", &broker.url(), "--name", "ann"]);
    assert_eq!(second["mesh"]["slug"], "team-2");
    let list = home.json(&["list"]);
    assert_eq!(list["current"], "team-2");
    assert_eq!(list["meshes"].as_array().map(Vec::len), Some(2));

    assert_eq!(home.json(&["whoami"])["mesh"], "team-2");
    assert_eq!(home.json(&["--mesh", "team", "whoami"])["mesh"], "team");
    let out = home.cmd().args(["--json", "whoami"]).env("CLAUDEMESH_MESH", "team").output().expect("run");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).expect("json")["mesh"], "team");
    let out = home.fails(&["--mesh", "nope", "peers"], 5);
    assert!(stderr(&out).contains("team, team-2"), "{}", describe(&out));
}

#[test]
fn human_text_follows_the_locale_but_json_stays_english() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let out = pair.bob.cmd().args(["send", "nadie", "hola"]).env("CLAUDEMESH_LANG", "es").output().expect("run");
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("No hay ningún par"), "{}", describe(&out));
    let out =
        pair.bob.cmd().args(["--json", "send", "nadie", "hola"]).env("LANG", "es_ES.UTF-8").output().expect("run");
    let doc: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert!(doc["error"]["message"].as_str().is_some_and(|m| m.starts_with("There is no peer")), "{doc}");
    let out = pair.bob.cmd().args(["send", "alice", "hola"]).env("LANG", "es_ES.UTF-8").output().expect("run");
    assert!(stdout(&out).starts_with("✔ Enviado."), "{}", describe(&out));
}

#[test]
fn one_session_key_per_session_id_and_it_never_changes() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let before = pair.bob.json(&["whoami"])["peer_id"].clone();
    pair.bob.json(&["peers"]);
    assert_eq!(pair.bob.json(&["whoami"])["peer_id"], before);

    // A Claude Code session gets its own peer (and name), stable across runs.
    let as_session = |args: &[&str]| {
        let out = pair.bob.cmd().args(args).env("CLAUDE_CODE_SESSION_ID", "cc-1234").output().expect("run");
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    let peers = as_session(&["--json", "peers"]);
    let me: Vec<&Value> = peers["peers"].as_array().expect("peers").iter().filter(|p| p["you"] == true).collect();
    assert_eq!(me[0]["name"], "bob-2");
    assert_ne!(me[0]["id"], before);
    let again = as_session(&["--json", "peers"]);
    let me_again: Vec<&Value> = again["peers"].as_array().expect("peers").iter().filter(|p| p["you"] == true).collect();
    assert_eq!(me_again[0]["id"], me[0]["id"]);
    assert_eq!(as_session(&["--json", "whoami"])["session"], "cc-1234");
}

/// Other verbs of the same home and session (`peers`, `send`) open control connections, so a running
/// `inbox --follow` keeps its receiving connection: it is not replaced and keeps printing live messages.
#[test]
fn verbs_beside_a_running_follow_do_not_take_it_over() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.alice.json(&["send", "bob", "first"]);
    let mut follower = Follower::start(&pair.bob);
    assert_eq!(follower.next("the queued message")["body"], "first");
    // Before control connections, each of these replaced the follower's connection (close 4000), and three
    // takeovers within a minute made it give up.
    for _ in 0..4 {
        pair.bob.json(&["peers"]);
        pair.bob.json(&["send", "alice", "from bob while following"]);
    }
    pair.alice.json(&["send", "bob", "live after bob's own verbs"]);
    assert_eq!(follower.next("the live message")["body"], "live after bob's own verbs");
    assert!(follower.running(), "the follower is still running");
    let done = follower.interrupt();
    assert_eq!(done.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(stderr.trim().is_empty(), "the follower was never disconnected or warned: {stderr}");
}

/// `inbox --follow --json` running in `home`, with its stdout lines read on a thread.
struct Follower {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(home: &Home) -> Follower {
        let mut child = home
            .cmd()
            .args(["--json", "inbox", "--follow"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Follower { child, lines }
    }

    /// The next JSON line, within 20 s.
    fn next(&self, what: &str) -> Value {
        let line = self.lines.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("no line for {what}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"))
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Ctrl-C, then the exit status and everything it wrote to stderr.
    fn interrupt(self) -> std::process::Output {
        let status = std::process::Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        assert!(status.expect("kill").success());
        self.child.wait_with_output().expect("wait")
    }
}
