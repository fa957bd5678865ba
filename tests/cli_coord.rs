//! The coordination verbs on the real binary, daemon and broker: argument errors exit 3 before any I/O,
//! destructive verbs pass the policy gate, and end to end state, tasks, memory, watches, cached reads, queued
//! writes, reminders and grants behave as docs/cli.md says.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use support::tmux::StopDaemon;
use support::{Broker, Home, describe, mesh_of_two, stderr, stdout, wait_until};

/// The JSON error document a failed `--json` run wrote to stderr.
fn error_doc(out: &Output) -> Value {
    let text = stderr(out);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON error: {text}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON error ({e}): {line}"))
}

#[test]
fn argument_errors_exit_3_with_a_clear_message_before_any_io() {
    // No mesh, no broker, no daemon: every one of these fails on its arguments alone.
    let home = Home::new();
    let cases: &[(&[&str], &str)] = &[
        (&["state", "set", "has space", "1"], "not a valid key"),
        (&["state", "get", ""], "not a valid key"),
        (&["state", "set", "k", "hello", "--json-value"], "not JSON"),
        (&["task", "claim", "nope"], "not a valid id"),
        (&["task", "show", "ABCDEFGHIJKL"], "not a valid id"),
        (&["remember", "note", "--tag", "Upper"], "not a valid tag"),
        (&["grant", "bob", "root"], "not a capability"),
        (&["stream", "create", "Bad Name"], "not a valid stream name"),
        (&["recall", "--since", "whenever"], "neither a duration nor a time"),
        (&["remind", "hi", "--at", "25:99"], "not a time"),
        (&["remind", "hi", "--cron", "0 9 * *"], "5-field cron"),
        (&["clock", "set", "soon"], "not a time"),
        (&["clock", "set", "now", "--rate", "0"], "out of range"),
        (&["schedule", "cancel", "x"], "not a valid id"),
    ];
    for (args, needle) in cases {
        let out = home.fails(args, 3);
        let text = stderr(&out);
        assert!(text.contains(needle), "claudemesh {args:?}: expected {needle:?} in: {text}");
        let mut json = vec!["--json"];
        json.extend_from_slice(args);
        let doc = error_doc(&home.fails(&json, 3));
        assert_eq!(doc["error"]["code"], "invalid_arguments", "{args:?}: {doc}");
    }
    // clap's own checks: a schedule needs exactly one of --in, --at, --cron; flags that exclude each other.
    for args in [
        &["remind", "hi"][..],
        &["remind", "hi", "--in", "1m", "--at", "10:00"],
        &["schedule", "msg", "a", "b", "c", "--in", "1m"],
        &["state", "set", "k", "v", "--json-value", "--string"],
        &["state", "list", "--limit", "0"],
        &["role", "bob", "owner"],
    ] {
        home.fails(args, 3);
    }
}

#[test]
fn destructive_coordination_verbs_ask_and_refuse_without_a_terminal() {
    let home = Home::new();
    for args in [
        &["state", "delete", "k"][..],
        &["forget", "abcdefgh2345"],
        &["task", "cancel", "abcdefgh2345"],
        &["kick", "bob"],
        &["ban", "bob"],
        &["mesh", "delete"],
    ] {
        let mut json = vec!["--json"];
        json.extend_from_slice(args);
        let doc = error_doc(&home.fails(&json, 7));
        assert_eq!(doc["error"]["code"], "policy_prompt", "{args:?}: {doc}");
    }
    // A read passes the gate and then fails on the missing mesh instead (exit 5).
    home.fails(&["state", "get", "k"], 5);
}

/// Two `--json` runs started together; returns both outputs.
fn race(a: &Home, b: &Home, args: &[&str]) -> (Output, Output) {
    let spawn = |h: &Home| {
        h.cmd().arg("--json").args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
    };
    let (ca, cb) = (spawn(a), spawn(b));
    (ca.wait_with_output().expect("wait"), cb.wait_with_output().expect("wait"))
}

#[test]
fn state_set_get_list_and_a_lost_compare_and_swap_exits_6() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));

    let set = pair.alice.json(&["state", "set", "deploy/lock", r#"{"by":"alice"}"#]);
    assert_eq!(set["applied"], true, "{set}");
    assert_eq!(set["queued"], false, "{set}");
    assert_eq!(set["entry"]["value"]["by"], "alice", "{set}");
    assert_eq!(set["entry"]["version"], 1, "{set}");

    // Another member reads what alice wrote; text that is not JSON is stored as a string.
    let got = pair.bob.json(&["state", "get", "deploy/lock"]);
    assert_eq!(got["value"]["by"], "alice", "{got}");
    assert_eq!(got["writer_name"], "alice", "{got}");
    assert_eq!(got["stale"], false, "{got}");
    pair.bob.json(&["state", "set", "deploy/note", "ship it"]);
    pair.bob.json(&["state", "set", "deploy/count", "42", "--string"]);
    let listed = pair.alice.json(&["state", "list", "deploy/"]);
    let entries = listed["entries"].as_array().expect("entries");
    let keys: Vec<&str> = entries.iter().filter_map(|e| e["key"].as_str()).collect();
    assert_eq!(keys, ["deploy/count", "deploy/lock", "deploy/note"], "{listed}");
    assert_eq!(entries[0]["value"], "42", "{listed}");
    assert_eq!(entries[2]["value"], "ship it", "{listed}");

    // Compare-and-swap: version 1 is current, so the first write wins and the second, still at 1, exits 6.
    pair.bob.json(&["state", "set", "deploy/lock", r#"{"by":"bob"}"#, "--if-version", "1"]);
    let out = pair.alice.fails(&["state", "set", "deploy/lock", r#"{"by":"alice"}"#, "--if-version", "1"], 6);
    assert!(stderr(&out).contains("version 2"), "{}", describe(&out));
    let doc = error_doc(&pair.alice.fails(&["--json", "state", "set", "deploy/lock", "x", "--if-version", "1"], 6));
    assert_eq!(doc["error"]["code"], "conflict", "{doc}");

    // Human output: the value, then who wrote it.
    let text = stdout(&pair.alice.run(&["state", "get", "deploy/lock"]));
    assert!(text.starts_with(r#"{"by":"bob"}"#) && text.contains("bob"), "{text}");
    pair.alice.json(&["state", "delete", "deploy/lock", "-y"]);
    pair.alice.fails(&["state", "get", "deploy/lock"], 5);
}

#[test]
fn a_task_claim_race_has_one_winner_and_the_loser_exits_6_naming_it() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    let task = pair.alice.json(&["task", "create", "Fix", "the", "parser", "--tag", "backend"]);
    let id = task["id"].as_str().expect("id").to_string();
    assert_eq!(task["title"], "Fix the parser", "{task}");
    assert_eq!(task["state"], "open", "{task}");

    let (a, b) = race(&pair.alice, &pair.bob, &["task", "claim", &id]);
    let (winner, loser, loser_out) = match (a.status.code(), b.status.code()) {
        (Some(0), Some(6)) => ("alice", "bob", b),
        (Some(6), Some(0)) => ("bob", "alice", a),
        other => panic!("expected one 0 and one 6, got {other:?}:\n{}\n{}", describe(&a), describe(&b)),
    };
    let doc = error_doc(&loser_out);
    assert_eq!(doc["error"]["code"], "conflict", "{doc}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("claimed by {winner}")), "{loser} lost, message: {message}");

    let holder = if winner == "alice" { &pair.alice } else { &pair.bob };
    let shown = holder.json(&["task", "show", &id]);
    assert_eq!(shown["state"], "claimed", "{shown}");
    assert_eq!(shown["claimed_by_name"], winner, "{shown}");
    let mine = holder.json(&["task", "list", "--mine"]);
    assert_eq!(mine["tasks"].as_array().map(Vec::len), Some(1), "{mine}");
    let done = holder.json(&["task", "complete", &id, "--result", "merged"]);
    assert_eq!(done["state"], "done", "{done}");
    let open = pair.alice.json(&["task", "list", "--state", "open"]);
    assert_eq!(open["tasks"].as_array().map(Vec::len), Some(0), "{open}");
}

#[test]
fn memory_remember_recall_and_forget() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    let note = pair.alice.json(&["remember", "the staging database lives on db-2", "--tag", "infra"]);
    let id = note["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 12, "{note}");
    pair.alice.json(&["memory", "remember", "lunch is at noon"]);

    let found = pair.bob.json(&["recall", "staging", "database"]);
    let memories = found["memories"].as_array().expect("memories");
    assert_eq!(memories.len(), 1, "{found}");
    assert_eq!(memories[0]["id"], id.as_str(), "{found}");
    assert_eq!(memories[0]["author_name"], "alice", "{found}");
    let tagged = pair.bob.json(&["memory", "recall", "--tag", "infra", "--since", "1h"]);
    assert_eq!(tagged["memories"].as_array().map(Vec::len), Some(1), "{tagged}");
    let text = stdout(&pair.bob.run(&["recall", "staging"]));
    assert!(text.contains(&id) && text.contains("db-2"), "{text}");

    pair.alice.json(&["forget", &id, "-y"]);
    let gone = pair.bob.json(&["recall", "staging"]);
    assert_eq!(gone["memories"].as_array().map(Vec::len), Some(0), "{gone}");
}

#[test]
fn without_the_daemon_the_verbs_go_straight_to_the_broker_with_the_same_json() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    let cold = |home: &Home, args: &[&str]| -> Value {
        let out = home.cmd().env("CLAUDEMESH_NO_DAEMON", "1").arg("--json").args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let set = cold(&pair.alice, &["state", "set", "cold/k", "[1,2]"]);
    assert_eq!(set["queued"], false, "{set}");
    let got = cold(&pair.bob, &["state", "get", "cold/k"]);
    assert_eq!(got["value"], serde_json::json!([1, 2]), "{got}");
    assert_eq!(got["stale"], false, "{got}");
    let task = cold(&pair.alice, &["task", "create", "cold", "task"]);
    let id = task["id"].as_str().expect("id");
    let out = pair.bob.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["task", "claim", id]).output().expect("run");
    assert!(out.status.success(), "{}", describe(&out));
    let lost = pair.alice.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["task", "claim", id]).output().expect("run");
    assert_eq!(lost.status.code(), Some(6), "{}", describe(&lost));
    assert!(stderr(&lost).contains("claimed by bob"), "{}", describe(&lost));
    // Streaming verbs need the daemon.
    let watch = pair.bob.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["state", "watch"]).output().expect("run");
    assert_eq!(watch.status.code(), Some(4), "{}", describe(&watch));
}

#[test]
fn context_share_defaults_to_the_git_branch_and_others_find_it() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    let repo = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git").args(args).current_dir(repo.path()).output().expect("git");
        assert!(ok.status.success(), "git {args:?}: {}", describe(&ok));
    };
    git(&["init", "-q", "-b", "parser-rewrite"]);
    let out = pair
        .alice
        .cmd()
        .current_dir(repo.path())
        .args(["--json", "context", "share", "rewriting", "the", "parser", "--file", "src/parse.rs"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", describe(&out));
    let shared: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shared["branch"], "parser-rewrite", "{shared}");
    assert_eq!(shared["summary"], "rewriting the parser", "{shared}");

    let got = pair.bob.json(&["context", "get", "alice"]);
    assert_eq!(got["files"][0], "src/parse.rs", "{got}");
    let found = pair.bob.json(&["context", "list", "parser"]);
    assert_eq!(found["contexts"].as_array().map(Vec::len), Some(1), "{found}");
    let text = stdout(&pair.bob.run(&["context", "list"]));
    assert!(text.contains("alice") && text.contains("parser-rewrite"), "{text}");
    pair.bob.fails(&["context", "get", "nobody"], 5);
}

#[test]
fn streams_are_created_published_to_and_listed() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    assert_eq!(pair.alice.json(&["stream", "create", "build-log"])["created"], true);
    assert_eq!(pair.bob.json(&["stream", "create", "build-log"])["created"], false);
    let text = stdout(&pair.bob.run(&["stream", "create", "build-log"]));
    assert!(text.contains("already exists"), "{text}");
    let published = pair.bob.json(&["stream", "publish", "build-log", "step one"]);
    assert_eq!(published["seq"], 1, "{published}");
    let listed = pair.alice.json(&["stream", "list"]);
    assert_eq!(listed["streams"][0]["name"], "build-log", "{listed}");
    pair.alice.fails(&["stream", "publish", "missing", "x"], 5);
}

/// A long-running verb whose stdout lines are read on a thread.
struct Lines {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Lines {
    fn start(home: &Home, args: &[&str]) -> Lines {
        let mut child =
            home.cmd().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn watcher");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Lines { child, lines }
    }

    fn next(&self, within: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(within).ok()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}")))
    }

    /// SIGTERM, then the exit status and output.
    fn terminate(self) -> Output {
        let status = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        assert!(status.expect("kill").success());
        self.child.wait_with_output().expect("wait")
    }
}

#[test]
fn state_watch_prints_another_peers_changes_as_json_lines_until_sigterm() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    let watch = Lines::start(&pair.bob, &["--output-format", "stream-json", "state", "watch", "build/"]);

    // The watch is live once a change shows up: write until one does (bounded), then check one more exactly.
    let mut n = 0;
    let first = loop {
        n += 1;
        pair.alice.json(&["state", "set", "build/status", &format!("\"warming {n}\"")]);
        if let Some(change) = watch.next(Duration::from_millis(500)) {
            break change;
        }
        assert!(n < 40, "state watch printed nothing after {n} writes");
    };
    assert_eq!(first["key"], "build/status", "{first}");
    assert_eq!(first["writer_name"], "alice", "{first}");
    assert_eq!(first["schema_version"], 1, "{first}");
    while watch.next(Duration::from_millis(200)).is_some() {}

    pair.alice.json(&["state", "set", "other/key", "1"]);
    pair.alice.json(&["state", "set", "build/status", r#"{"green":true}"#]);
    let change = watch.next(Duration::from_secs(20)).expect("the change after the filtered one");
    assert_eq!(change["key"], "build/status", "the prefix filter let another key through: {change}");
    assert_eq!(change["value"]["green"], true, "{change}");
    assert_eq!(change["deleted"], false, "{change}");

    let out = watch.terminate();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn stream_subscribe_prints_what_another_peer_publishes_until_ctrl_c() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    pair.alice.json(&["stream", "create", "ticks"]);
    let sub = Lines::start(&pair.bob, &["--json", "stream", "subscribe", "ticks"]);
    // Live only: publish until the subscriber prints one (bounded), then check the next exactly.
    let mut n = 0;
    loop {
        n += 1;
        pair.alice.json(&["stream", "publish", "ticks", &format!("{{\"n\":{n}}}")]);
        if sub.next(Duration::from_millis(500)).is_some() {
            break;
        }
        assert!(n < 40, "stream subscribe printed nothing after {n} publishes");
    }
    while sub.next(Duration::from_millis(200)).is_some() {}
    pair.alice.json(&["stream", "publish", "ticks", "last one"]);
    let item = sub.next(Duration::from_secs(20)).expect("the last item");
    assert_eq!(item["data"], "last one", "{item}");
    assert_eq!(item["from_name"], "alice", "{item}");
    assert_eq!(item["name"], "ticks", "{item}");
    let status = std::process::Command::new("kill").args(["-INT", &sub.child.id().to_string()]).status();
    assert!(status.expect("kill").success());
    let out = sub.child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn reads_come_from_the_cache_and_writes_queue_while_the_broker_is_down() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    pair.alice.json(&["state", "set", "cfg/mode", "\"fast\""]);
    assert_eq!(pair.alice.json(&["state", "get", "cfg/mode"])["stale"], false);

    broker.kill();
    let stale = pair.alice.json(&["state", "get", "cfg/mode"]);
    assert_eq!(stale["stale"], true, "{stale}");
    assert_eq!(stale["value"], "fast", "{stale}");
    assert!(stale["cache_age_ms"].is_u64(), "{stale}");
    let text = pair.alice.run(&["state", "get", "cfg/mode"]);
    assert!(text.status.success(), "{}", describe(&text));
    assert!(stderr(&text).contains("From the cache") && stderr(&text).contains("unreachable"), "{}", describe(&text));

    let queued = pair.alice.json(&["state", "set", "cfg/mode", "\"safe\""]);
    assert_eq!(queued["queued"], true, "{queued}");
    assert!(queued["lamport"].is_u64(), "{queued}");
    let text = pair.alice.run(&["state", "set", "cfg/other", "1"]);
    assert!(stdout(&text).contains("Queued: the broker is unreachable"), "{}", describe(&text));
    // A compare-and-swap needs the broker now: exit 4.
    pair.alice.fails(&["state", "set", "cfg/mode", "1", "--if-version", "1"], 4);

    broker.restart();
    let applied = wait_until(Duration::from_secs(30), || {
        let out = pair.bob.run(&["--json", "state", "get", "cfg/mode"]);
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|d| d["value"] == "safe" && d["stale"] == false)
    });
    assert!(applied, "the queued write never reached the broker");
}

#[test]
fn remind_to_self_lands_in_the_inbox() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    let made = pair.alice.json(&["remind", "stand up and stretch", "--in", "1s"]);
    assert_eq!(made["kind"], "once", "{made}");
    let listed = pair.alice.json(&["schedule", "list"]);
    assert!(listed["schedules"].as_array().is_some_and(|s| !s.is_empty()), "{listed}");
    let landed = wait_until(Duration::from_secs(30), || {
        let inbox = pair.alice.json(&["inbox"]);
        inbox["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["body"] == "stand up and stretch"))
    });
    assert!(landed, "the reminder never reached alice's inbox");
}

#[test]
fn grant_and_revoke_change_what_a_member_may_do_on_its_next_call() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    pair.bob.json(&["state", "set", "bob/k", "1"]);

    let revoked = pair.alice.json(&["revoke", "bob", "state-write"]);
    assert_eq!(revoked["name"], "bob", "{revoked}");
    assert!(revoked["effective"].as_array().is_some_and(|e| !e.iter().any(|c| c == "state-write")), "{revoked}");
    let doc = error_doc(&pair.bob.fails(&["--json", "state", "set", "bob/k", "2"], 7));
    assert_eq!(doc["error"]["code"], "forbidden", "{doc}");
    assert!(doc["error"]["message"].as_str().unwrap_or_default().contains("missing capability state-write"), "{doc}");
    // Reading is still allowed.
    assert_eq!(pair.bob.json(&["state", "get", "bob/k"])["value"], 1);

    let granted = pair.alice.json(&["grant", "bob", "state-write"]);
    assert!(granted["effective"].as_array().is_some_and(|e| e.iter().any(|c| c == "state-write")), "{granted}");
    pair.bob.json(&["state", "set", "bob/k", "3"]);

    let listed = pair.alice.json(&["access", "list"]);
    let members = listed["members"].as_array().expect("members");
    assert_eq!(members.len(), 2, "{listed}");
    assert_eq!(listed["next"], Value::Null, "{listed}");
    let bob = members.iter().find(|m| m["name"] == "bob").expect("bob listed");
    assert_eq!(bob["role"], "member", "{listed}");
    // The owner is listed under the name its sessions go by, not a placeholder.
    let alice = members.iter().find(|m| m["role"] == "owner").expect("the owner listed");
    assert_eq!(alice["name"], "alice", "{listed}");
    let text = stdout(&pair.alice.run(&["access", "list"]));
    assert!(text.contains("owner") && text.contains("bob") && text.contains("clock-write"), "{text}");
    // The clock needs clock-write, which members lack until it is granted.
    let doc = error_doc(&pair.bob.fails(&["--json", "clock", "pause"], 7));
    assert!(doc["error"]["message"].as_str().unwrap_or_default().contains("missing capability clock-write"), "{doc}");
    pair.alice.json(&["grant", "bob", "clock-write"]);
    let paused = pair.bob.json(&["clock", "pause"]);
    assert_eq!(paused["paused"], true, "{paused}");
    pair.alice.json(&["revoke", "bob", "clock-write"]);
    pair.bob.fails(&["clock", "resume"], 7);
    assert_eq!(pair.alice.json(&["clock", "resume"])["paused"], false);
    // Only the owner changes roles.
    pair.bob.fails(&["role", "alice", "guest"], 7);
    pair.alice.fails(&["grant", "nobody-here", "dm"], 5);
}

/// The ```json examples under the docs/cli.md heading that starts with `heading`, in order.
fn documented(heading: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).expect("docs/cli.md");
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(&format!("### {heading}")));
    lines.next().unwrap_or_else(|| panic!("docs/cli.md has no heading {heading}"));
    let mut blocks = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with('#') {
            break;
        }
        if line.trim() == "```json" {
            blocks.push(lines.by_ref().take_while(|l| l.trim() != "```").collect::<Vec<_>>().join("\n"));
        }
    }
    blocks
}

/// The keys of the outermost object of a documented example (placeholders such as `{…entry…}` are not JSON, so
/// this scans: strings followed by `:` at depth 1).
fn keys_of_example(example: &str) -> std::collections::BTreeSet<String> {
    let chars: Vec<char> = example.chars().collect();
    let (mut depth, mut i, mut keys) = (0usize, 0usize, std::collections::BTreeSet::new());
    while i < chars.len() {
        match chars[i] {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            '"' => {
                let start = i + 1;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += 1;
                }
                let word: String = chars[start..i.min(chars.len())].iter().collect();
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if depth == 1 && next == Some(&':') {
                    keys.insert(word);
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

#[test]
fn the_documented_coordination_json_shapes_match_the_real_output() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_a, _b) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    let note = pair.alice.json(&["remember", "shapes", "--tag", "docs"]);
    let id = note["id"].as_str().expect("id").to_string();
    let task = pair.alice.json(&["task", "create", "shapes"]);
    let schedule = pair.alice.json(&["remind", "shapes", "--in", "1h"]);
    let sid = schedule["id"].as_str().expect("schedule id").to_string();
    let cases: Vec<(&str, usize, Value)> = vec![
        ("`claudemesh state get", 1, pair.alice.json(&["state", "set", "k", "1"])),
        ("`claudemesh state get", 0, pair.alice.json(&["state", "get", "k"])),
        ("`claudemesh state list", 0, pair.alice.json(&["state", "list"])),
        ("`claudemesh state list", 1, pair.alice.json(&["state", "delete", "k", "-y"])),
        ("`claudemesh memory remember", 0, note),
        ("`claudemesh memory remember", 1, pair.alice.json(&["recall", "shapes"])),
        ("`claudemesh memory remember", 2, pair.alice.json(&["forget", &id, "-y"])),
        ("`claudemesh task create", 0, task.clone()),
        ("`claudemesh task create", 1, pair.alice.json(&["task", "list"])),
        ("`claudemesh context share", 0, pair.alice.json(&["context", "share", "shapes", "--branch", "main"])),
        ("`claudemesh context share", 1, pair.alice.json(&["context", "list"])),
        ("`claudemesh stream create", 0, pair.alice.json(&["stream", "create", "shapes"])),
        ("`claudemesh stream create", 1, pair.alice.json(&["stream", "publish", "shapes", "{\"n\":1}"])),
        ("`claudemesh stream create", 3, pair.alice.json(&["stream", "list"])),
        ("`claudemesh clock get", 0, pair.alice.json(&["clock", "get"])),
        ("`claudemesh schedule msg", 0, schedule.clone()),
        ("`claudemesh schedule msg", 1, pair.alice.json(&["schedule", "list"])),
        ("`claudemesh schedule msg", 2, pair.alice.json(&["schedule", "cancel", sid.as_str()])),
        ("`claudemesh grant", 0, pair.alice.json(&["grant", "bob", "clock-write"])),
        ("`claudemesh grant", 1, pair.alice.json(&["access", "list"])),
        ("`claudemesh grant", 2, pair.alice.json(&["kick", "bob", "-y"])),
        ("`claudemesh mesh delete", 0, pair.alice.json(&["mesh", "delete", "-y"])),
    ];
    let mut drift = Vec::new();
    for (heading, index, doc) in &cases {
        let example = documented(heading).get(*index).cloned().unwrap_or_else(|| panic!("{heading} #{index}"));
        let want = keys_of_example(&example);
        let real: std::collections::BTreeSet<String> = doc.as_object().expect("object").keys().cloned().collect();
        if want != real {
            drift.push(format!("{heading} #{index}: documented {want:?}, real {real:?}"));
        }
    }
    assert!(drift.is_empty(), "docs/cli.md and the real output disagree:\n{}", drift.join("\n"));
}
