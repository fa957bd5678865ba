//! The policy gate with the real binary and a real broker: a deny sends nothing (the broker's request counter does
//! not move), the admin policy beats the user's, a prompt without a terminal is a refusal, the approval modes,
//! malformed files, and the audit log the gate writes.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;
use support::{Broker, Home, describe, mesh_of_two, stderr};

/// A counter from the broker's `/metrics`.
fn metric(broker: &Broker, name: &str) -> u64 {
    let mut s = TcpStream::connect(("127.0.0.1", broker.port())).expect("connect to the broker");
    write!(s, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{body}"))
}

fn write_policy(home: &Home, yaml: &str) {
    std::fs::create_dir_all(home.path()).unwrap();
    std::fs::write(home.path().join("policy.yaml"), yaml).unwrap();
}

const DENY_PROD: &str = "version: 1\nrules:\n  - resource: message\n    verb: send\n    peers: [\"@prod\"]\n    decision: deny\n    reason: no messages to production\n";

#[test]
fn a_denied_send_never_reaches_the_broker() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.alice.json(&["peers"]); // the daemon and its link are up; nothing else moves the counter
    write_policy(&pair.alice, DENY_PROD);
    let before = (metric(&broker, "claudemesh_requests_total"), metric(&broker, "claudemesh_messages_accepted_total"));
    let out = pair.alice.fails(&["send", "@prod", "deploy now"], 7);
    assert!(stderr(&out).contains("no messages to production"), "{}", describe(&out));
    let after = (metric(&broker, "claudemesh_requests_total"), metric(&broker, "claudemesh_messages_accepted_total"));
    assert_eq!(before, after, "a denied verb sent something to the broker");
    // Other targets are untouched by that rule.
    pair.alice.json(&["send", "bob", "hello"]);
    assert!(metric(&broker, "claudemesh_messages_accepted_total") > before.1);
}

#[test]
fn the_admin_policy_beats_the_users() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let admin_dir = tempfile::tempdir().unwrap();
    let admin = admin_dir.path().join("admin.yaml");
    std::fs::write(&admin, "version: 1\nrules:\n  - resource: peer\n    verb: list\n    decision: deny\n    reason: the admin forbids listing\n").unwrap();
    write_policy(&pair.alice, "version: 1\nrules:\n  - resource: peer\n    verb: list\n    decision: allow\n");
    let out = pair.alice.cmd().env("CLAUDEMESH_ADMIN_POLICY", &admin).args(["peers"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert!(stderr(&out).contains("the admin forbids listing"), "{}", describe(&out));
    // And an admin allow lifts a user deny.
    std::fs::write(&admin, "version: 1\nrules:\n  - resource: message\n    verb: send\n    decision: allow\n").unwrap();
    write_policy(&pair.alice, DENY_PROD);
    let out = pair.alice.cmd().env("CLAUDEMESH_ADMIN_POLICY", &admin).args(["send", "bob", "hi"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_prompt_without_a_terminal_is_a_refusal_and_the_approval_modes_behave() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    write_policy(
        &pair.alice,
        "version: 1\nrules:\n  - resource: message\n    verb: send\n    decision: prompt\n    reason: sends need a yes\n",
    );
    let out = pair.alice.fails(&["send", "bob", "hi"], 7);
    assert!(stderr(&out).contains("no terminal"), "{}", describe(&out));
    // yolo answers prompts; --yes answers them too.
    pair.alice.json(&["send", "bob", "hi", "--approval-mode", "yolo"]);
    pair.alice.json(&["send", "bob", "hi", "--yes"]);
    // yolo never lifts a deny.
    write_policy(&pair.alice, DENY_PROD);
    pair.alice.fails(&["send", "@prod", "x", "--approval-mode", "yolo"], 7);
    // plan and read-only refuse every write and allow reads.
    for mode in ["plan", "read-only"] {
        pair.alice.fails(&["send", "bob", "hi", "--approval-mode", mode], 7);
        pair.alice.fails(&["status", "set", "dnd", "--approval-mode", mode], 7);
        pair.alice.json(&["peers", "--approval-mode", mode]);
    }
}

#[test]
fn a_malformed_policy_names_the_line_and_column_and_nothing_runs() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.alice.json(&["peers"]);
    write_policy(&pair.alice, "version: 1\nrules:\n  - resource: message\n    decison: deny\n");
    let before = metric(&broker, "claudemesh_requests_total");
    let out = pair.alice.fails(&["send", "bob", "hi"], 3);
    assert!(stderr(&out).contains("policy.yaml:4:5"), "{}", describe(&out));
    assert_eq!(metric(&broker, "claudemesh_requests_total"), before);
    // A --policy file can only tighten.
    let extra = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        extra.path(),
        "version: 1\nrules:\n  - resource: peer\n    verb: list\n    decision: deny\n    reason: not in this script\n",
    )
    .unwrap();
    write_policy(&pair.alice, "version: 1\n");
    let out = pair.alice.run(&["peers", "--policy", extra.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
}

#[test]
fn the_gate_writes_a_verifiable_audit_log() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    write_policy(&pair.alice, DENY_PROD);
    pair.alice.json(&["send", "bob", "one"]);
    pair.alice.fails(&["send", "@prod", "two"], 7);
    pair.alice.json(&["peers"]);
    pair.alice.json(&["status", "set", "working"]);
    let verified = pair.alice.json(&["audit", "verify"]);
    assert_eq!(verified["intact"], true, "{verified}");
    let shown = pair.alice.json(&["audit", "show", "--limit", "0"]);
    let events = shown["events"].as_array().unwrap();
    let find = |kind: &str, verb: &str, key: &str, value: &str| {
        events.iter().any(|e| e["kind"] == kind && e["verb"] == verb && e[key] == Value::String(value.into()))
    };
    assert!(find("policy", "send", "decision", "allow"), "{shown}");
    assert!(find("policy", "send", "decision", "deny"), "{shown}");
    assert!(find("verb", "send", "outcome", "ok"), "{shown}");
    assert!(find("policy", "list", "decision", "allow"), "{shown}");
    assert!(find("verb", "set", "outcome", "ok"), "{shown}");
    // Nothing secret or personal beyond the target goes in: not the message text.
    assert!(!shown.to_string().contains("one\""), "a message body reached the audit log: {shown}");
}
