//! `claudemesh audit show|verify` on real files. The logs here are written by a second, independent implementation
//! of the documented line format (docs/security.md "Audit log": canonical JSON lines with `seq`, `prev` and a SHA-256
//! `hash` over the RFC 8785 encoding of the line without `hash`), so the binary is checked against the spec and not
//! against itself.

mod support;

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use support::{Home, describe, stderr, stdout};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// splitmix64: reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick(&mut self, items: &[&str]) -> Value {
        Value::from(items[self.below(items.len())])
    }

    fn maybe_text(&mut self) -> Value {
        const PARTS: &[&str] = &["bob", "@dev", "*", "é", "€", "😀", "\"", "\\", "\n", "\u{7}", " ", "x"];
        if self.below(3) == 0 {
            return Value::Null;
        }
        Value::from((0..self.below(10)).map(|_| PARTS[self.below(PARTS.len())]).collect::<String>())
    }
}

/// One random operation: a policy decision or a write verb's outcome.
fn random_event(rng: &mut Rng) -> Value {
    let policy = rng.below(2) == 0;
    json!({
        "ts_ms": 1_700_000_000_000u64 + rng.next() % 10_000_000_000,
        "kind": if policy { "policy" } else { "verb" },
        "resource": rng.pick(&["message", "mesh", "invite", "group", "profile"]),
        "verb": rng.pick(&["send", "rename", "revoke", "join", "set", "leave"]),
        "class": rng.pick(&["read", "write", "destructive"]),
        "decision": if policy { rng.pick(&["allow", "deny", "prompt-allowed", "prompt-denied"]) } else { Value::Null },
        "target": rng.maybe_text(),
        "mesh": rng.maybe_text(),
        "session": rng.pick(&["cli", "0197a1b2-sess"]),
        "outcome": if policy { Value::Null } else { rng.pick(&["ok", "error"]) },
        "detail": rng.maybe_text(),
    })
}

/// Seals events into lines as docs/security.md describes; returns the lines (each with its newline) and the head.
fn write_chain(events: &[Value]) -> (Vec<Vec<u8>>, String) {
    let mut prev = GENESIS.to_string();
    let mut lines = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let mut entry = event.clone();
        entry["seq"] = json!(i + 1);
        entry["prev"] = json!(prev);
        let hash = hex::encode(Sha256::digest(serde_json_canonicalizer::to_vec(&entry).expect("jcs")));
        entry["hash"] = json!(hash);
        let mut line = serde_json_canonicalizer::to_vec(&entry).expect("jcs");
        line.push(b'\n');
        lines.push(line);
        prev = hash;
    }
    (lines, prev)
}

fn put_log(home: &Home, lines: &[Vec<u8>]) {
    // 0700, as claudemesh makes it (a looser home draws a warning on stderr).
    if !home.path().exists() {
        std::fs::DirBuilder::new().mode(0o700).create(home.path()).expect("home");
    }
    std::fs::write(log(home), lines.concat()).expect("write log");
}

fn log(home: &Home) -> std::path::PathBuf {
    home.path().join("audit.log")
}

/// `audit verify` must fail with exit 3 and name `line`, in text and in JSON.
fn assert_broken_at(home: &Home, line: usize, what: &str) {
    let out = home.fails(&["audit", "verify"], 3);
    let text = stderr(&out);
    assert!(text.contains(&format!("Line {line} of {}", log(home).display())), "{what}: {text}");
    assert!(text.contains("mv "), "{what}: the next action is missing: {text}");
    let out = home.fails(&["--json", "audit", "verify"], 3);
    assert!(out.stdout.is_empty(), "{what}: {}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["error"]["code"], "audit_broken", "{what}: {doc}");
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!("Line {line} of ")), "{what}: {message}");
}

#[test]
fn a_missing_log_is_empty_and_intact() {
    let home = Home::new();
    let out = home.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout(&out).trim(), "✔ Audit log intact: 0 entries.");
    let doc = home.json(&["audit", "verify"]);
    assert_eq!(doc, json!({"schema_version": 1, "intact": true, "entries": 0, "head": GENESIS}));
    assert_eq!(home.json(&["audit", "show"]), json!({"schema_version": 1, "events": []}));
    let out = home.run(&["audit", "show"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout(&out).trim(), "The audit log has no entries yet.");
    assert!(!log(&home).exists(), "reading must not create the log");
}

#[test]
fn a_thousand_random_operations_verify_and_each_tamper_fails_at_the_right_line() {
    let home = Home::new();
    let mut rng = Rng(0x000a_0d17);
    let events: Vec<Value> = (0..1000).map(|_| random_event(&mut rng)).collect();
    let (lines, head) = write_chain(&events);
    put_log(&home, &lines);

    let doc = home.json(&["audit", "verify"]);
    assert_eq!(doc, json!({"schema_version": 1, "intact": true, "entries": 1000, "head": head}));
    let out = home.run(&["audit", "verify"]);
    assert!(stdout(&out).starts_with("✔ Audit log intact: 1000 entries."), "{}", describe(&out));

    // show: newest last, every field, exactly what was written.
    let shown = home.json(&["audit", "show", "--limit", "3"]);
    let shown = shown["events"].as_array().expect("events").clone();
    assert_eq!(shown.len(), 3);
    for (i, entry) in shown.iter().enumerate() {
        let written: Value = serde_json::from_slice(&lines[997 + i]).expect("line");
        assert_eq!(entry, &written);
    }
    assert_eq!(home.json(&["audit", "show", "--limit", "0"])["events"].as_array().map(Vec::len), Some(1000));
    assert_eq!(home.json(&["audit", "show"])["events"].as_array().map(Vec::len), Some(50));

    // A flipped byte, a removed line, two swapped lines: each fails at the first line that is wrong.
    let last = lines.len() - 1;
    let target = 1 + rng.below(last - 1);
    let mut flipped = lines.clone();
    let at = rng.below(flipped[target].len() - 1);
    flipped[target][at] ^= 0x01;
    put_log(&home, &flipped);
    assert_broken_at(&home, target + 1, "flipped byte");

    let mut removed = lines.clone();
    removed.remove(target);
    put_log(&home, &removed);
    assert_broken_at(&home, target + 1, "removed line");

    let mut removed_first = lines.clone();
    removed_first.remove(0);
    put_log(&home, &removed_first);
    assert_broken_at(&home, 1, "removed first line");

    let mut swapped = lines.clone();
    swapped.swap(target, last);
    put_log(&home, &swapped);
    assert_broken_at(&home, target + 1, "swapped lines");

    let mut truncated = lines.concat();
    truncated.truncate(truncated.len() - 5);
    std::fs::write(log(&home), &truncated).expect("write");
    assert_broken_at(&home, 1000, "truncated last line");
    assert!(stderr(&home.run(&["audit", "verify"])).contains("cut off"));

    // Removing the newest lines is not detectable from the file alone, but the head changes.
    put_log(&home, &lines[..999]);
    let doc = home.json(&["audit", "verify"]);
    assert_eq!(doc["entries"], 999);
    assert_ne!(doc["head"], json!(head));
}

#[test]
fn show_prints_one_line_per_event() {
    let home = Home::new();
    let events = vec![
        json!({"ts_ms": 1_767_225_600_000u64, "kind": "policy", "resource": "message", "verb": "send",
            "class": "write", "decision": "deny", "target": "@dev", "mesh": "team", "session": "cli",
            "outcome": null, "detail": "approval-mode read-only"}),
        json!({"ts_ms": 1_767_225_601_000u64, "kind": "verb", "resource": "mesh", "verb": "rename",
            "class": "write", "decision": null, "target": null, "mesh": "team", "session": "cli",
            "outcome": "ok", "detail": null}),
    ];
    put_log(&home, &write_chain(&events).0);
    let out = home.run(&["audit", "show"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (row, words) in rows.iter().zip([
        ["#1", "2026-01-01T00:00:00Z", "policy", "message send", "deny", "@dev", "team"],
        ["#2", "2026-01-01T00:00:01Z", "verb", "mesh rename", "ok", "-", "team"],
    ]) {
        for word in words {
            assert!(row.contains(word), "{word:?} missing in {row:?}");
        }
    }
}

#[test]
fn a_broken_log_is_reported_in_spanish_too() {
    let home = Home::new();
    let events: Vec<Value> = (0..3)
        .map(|n| {
            json!({"ts_ms": n, "kind": "verb", "resource": "mesh", "verb": "rename",
        "class": "write", "decision": null, "target": null, "mesh": "team", "session": "cli", "outcome": "ok",
        "detail": null})
        })
        .collect();
    let (mut lines, _) = write_chain(&events);
    lines.swap(0, 1);
    put_log(&home, &lines);
    let out = home.cmd().env("LANG", "es_ES.UTF-8").args(["audit", "verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let text = stderr(&out);
    assert!(text.contains("La línea 1 de"), "{text}");
    assert!(text.contains("es la entrada 2 donde corresponde la entrada 1"), "{text}");
}

#[test]
fn audit_is_a_local_verb_that_never_needs_a_mesh() {
    // No config, no mesh, no daemon: the verbs still work (and start nothing).
    let home = Home::new();
    assert!(home.run(&["audit", "show", "--limit", "5"]).status.success());
    assert!(!Path::new(&home.path().join("daemon.sock")).exists());
}
