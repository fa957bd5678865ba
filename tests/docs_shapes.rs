//! docs/cli.md cannot drift: for every verb whose JSON shape the doc shows, the real `--json` output of the real
//! binary has exactly the documented top-level keys.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::{Broker, Home, mesh_of_two};

/// Each `### \`claudemesh …\`` heading with the ```json blocks under it, in order.
fn doc_blocks() -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).expect("docs/cli.md");
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("### `claudemesh") {
            out.push((line.trim_start_matches("### ").to_string(), Vec::new()));
        } else if line.starts_with("## ") {
            out.push((String::new(), Vec::new()));
        } else if line.trim() == "```json" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            if let Some(last) = out.last_mut() {
                last.1.push(block.join("\n"));
            }
        }
    }
    out
}

/// The keys of the outermost object in a documented example. The examples hold placeholders (`…`,
/// `{…peer object…}`) that are not JSON, so this scans instead of parsing: strings followed by `:` at depth 1.
fn documented_keys(example: &str) -> BTreeSet<String> {
    let chars: Vec<char> = example.chars().collect();
    let (mut depth, mut i, mut keys) = (0usize, 0usize, BTreeSet::new());
    while i < chars.len() {
        match chars[i] {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    if let Some(c) = chars.get(i) {
                        s.push(*c);
                    }
                    i += 1;
                }
                let mut j = i + 1;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if depth == 1 && chars.get(j) == Some(&':') {
                    keys.insert(s);
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

fn real_keys(doc: &Value) -> BTreeSet<String> {
    doc.as_object().expect("a JSON object").keys().cloned().collect()
}

/// The documented example `index` under the heading that starts with `heading`.
fn example(blocks: &[(String, Vec<String>)], heading: &str, index: usize) -> String {
    let (_, examples) = blocks
        .iter()
        .find(|(h, _)| h.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/cli.md has no heading starting with {heading}"));
    examples.get(index).cloned().unwrap_or_else(|| panic!("{heading} has no JSON example #{index}"))
}

#[test]
fn every_documented_json_shape_matches_the_real_output() {
    let blocks = doc_blocks();
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let carol = Home::new();
    let sent = pair.alice.json(&["send", "bob", "shape check"]);
    let id = sent["id"].as_str().unwrap().to_string();
    let invite = pair.alice.json(&["invite", "--uses", "2"]);
    let url = invite["url"].as_str().unwrap().to_string();

    // (heading, example index, the real document)
    let cases: Vec<(&str, usize, Value)> = vec![
        ("`claudemesh new", 0, carol.json(&["new", "solo", "--broker", &broker.url(), "--name", "carol"])),
        ("`claudemesh invite [", 0, invite.clone()),
        ("`claudemesh join", 0, carol.json(&["join", &url, "--name", "carol"])),
        ("`claudemesh list`", 0, pair.alice.json(&["list"])),
        ("`claudemesh whoami`", 0, pair.alice.json(&["whoami"])),
        ("`claudemesh send", 0, sent.clone()),
        ("`claudemesh inbox", 0, pair.bob.json(&["inbox"])),
        ("`claudemesh peers", 0, pair.alice.json(&["peers"])),
        ("`claudemesh msg-status", 0, pair.alice.json(&["msg-status", &id])),
        ("`claudemesh daemon", 0, pair.alice.json(&["daemon", "status"])),
        ("`claudemesh audit show", 0, pair.alice.json(&["audit", "show"])),
        ("`claudemesh audit show", 1, pair.alice.json(&["audit", "verify"])),
        ("`claudemesh rename", 0, pair.alice.json(&["rename", "Team Two"])),
        ("`claudemesh mesh use", 0, carol.json(&["mesh", "use", "team"])),
        ("`claudemesh mesh use", 1, pair.alice.json(&["mesh", "info"])),
        ("`claudemesh profile show", 0, pair.alice.json(&["profile", "show"])),
        ("`claudemesh group list", 0, {
            pair.bob.json(&["group", "join", "dev", "--role", "lead"]);
            pair.alice.json(&["group", "list"])
        }),
        ("`claudemesh invite list", 0, pair.alice.json(&["invite", "list"])),
        ("`claudemesh invite list", 1, {
            let id = invite["invite_id"].as_str().unwrap();
            pair.alice.json(&["invite", "revoke", id, "-y"])
        }),
        ("`claudemesh leave", 0, carol.json(&["leave", "team", "-y"])),
    ];
    let mut drift = Vec::new();
    for (heading, index, doc) in &cases {
        let documented = documented_keys(&example(&blocks, heading, *index));
        let real = real_keys(doc);
        if documented != real {
            drift.push(format!(
                "{heading} #{index}: documented {documented:?}, real {real:?}\n  only in the doc: {:?}\n  only in the output: {:?}",
                documented.difference(&real).collect::<Vec<_>>(),
                real.difference(&documented).collect::<Vec<_>>()
            ));
        }
    }
    assert!(drift.is_empty(), "docs/cli.md and the real output disagree:\n{}", drift.join("\n"));
}

#[test]
fn the_key_scanner_reads_placeholder_examples() {
    let keys = documented_keys(r#"{"schema_version":1,"mesh":{…mesh object…},"peers":[{"id":"x","name":"y"}],"a": 1}"#);
    let want: BTreeSet<String> = ["schema_version", "mesh", "peers", "a"].iter().map(|s| s.to_string()).collect();
    assert_eq!(keys, want);
}
