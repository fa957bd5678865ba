//! Replays every committed fuzz input (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) through the same entry
//! points the cargo-fuzz targets call, on stable: a crash the fuzzer once found stays fixed (docs/fuzzing.md).
//! `write_seed_corpus` (ignored) rewrites the hand-made seeds.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use claudemesh::fuzzing;
use serde_json::{Value, json};

/// A fuzz target's entry point.
type Entry = fn(&[u8]);

/// The fuzz targets and their entry points.
const TARGETS: [(&str, Entry); 4] = [
    ("frame", fuzzing::frame),
    ("invite", fuzzing::invite),
    ("policy", fuzzing::policy),
    ("envelope", fuzzing::envelope),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file under `dir`, sorted (absent dir: none).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

#[test]
fn every_committed_fuzz_input_keeps_its_properties() {
    for (target, entry) in TARGETS {
        let corpus = inputs(&fuzz_dir().join("corpus").join(target));
        assert!(corpus.len() >= 5, "fuzz/corpus/{target} has only {} seeds", corpus.len());
        let regressions = inputs(&fuzz_dir().join("regressions").join(target));
        for file in corpus.iter().chain(&regressions) {
            let data = fs::read(file).unwrap();
            // A panic here names the file: run `cargo +nightly fuzz run <target> <file>` to debug it.
            eprintln!("{target}: {}", file.display());
            entry(&data);
        }
    }
}

#[test]
fn hostile_inputs_are_refused_without_panicking() {
    // Deep nesting: serde_json stops at 128 levels, the YAML parser at its budget.
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    fuzzing::frame(deep_json.as_bytes());
    fuzzing::frame(
        format!("{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{{\"a\":{deep_json}}}}}").as_bytes(),
    );
    fuzzing::policy(format!("rules: {}", "[".repeat(100_000)).as_bytes());
    fuzzing::policy(format!("rules:\n{}", "- ".repeat(50_000)).as_bytes());
    // A billion laughs: every alias level multiplies the document by ten.
    let mut laughs =
        String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (prev, next) in ('a'..='h').zip('b'..='i') {
        laughs
            .push_str(&format!("{next}: &{next} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    laughs.push_str("rules: *i\n");
    fuzzing::policy(laughs.as_bytes());
    // Oversized: policy files over the cap, invite links over theirs.
    fuzzing::policy(&vec![b'#'; 1024 * 1024 + 1]);
    fuzzing::invite(format!("\0https://h/join/{}", "A".repeat(10_000)).as_bytes());
    // Envelopes: empty, truncated, and a sender key that is not a curve point.
    fuzzing::envelope(&[1]);
    fuzzing::envelope(&[1; 57]);
    fuzzing::envelope(&[&[1][..], &[0xff; 32], &[0; 24], &[0; 40]].concat());
}

// ---- seeds ---------------------------------------------------------------------------------------------------

/// Rewrites the hand-made seeds: `cargo test --test fuzz_corpus write_seed_corpus -- --ignored`. Inputs the fuzzer
/// found are not touched (they have hash names).
#[test]
#[ignore = "writes fuzz/corpus; run by hand when the formats change"]
fn write_seed_corpus() {
    let corpus = fuzz_dir().join("corpus");
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = corpus.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), data).unwrap();
    };
    for (name, frame) in frames() {
        write("frame", name, frame.as_bytes());
    }
    for (name, invite) in invites() {
        write("invite", name, &invite);
    }
    for (name, policy) in policies() {
        write("policy", &format!("{name}.yaml"), policy.as_bytes());
    }
    let bodies = [
        fuzzing::sealed_body_json("hi bob"),
        fuzzing::sealed_body_json("multi-line\nbody with \"quotes\" and ünïcödé"),
        fuzzing::sealed_body_json(""),
        // Opens, but names another mesh and another message: refused as a mismatch.
        json!({"v": 1, "id": "019a0000-0000-7000-8000-0000000000ff", "mesh": "00000000-0000-4000-8000-000000000000",
               "kind": "text", "body": "replayed", "sent_at_ms": 1})
        .to_string(),
        // Opens, but is not a v1 body.
        json!({"v": 2, "body": "from the future"}).to_string(),
        "not json at all".to_owned(),
    ];
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    for (i, seed) in fuzzing::envelope_seeds(&refs).iter().enumerate() {
        let kind = if seed[0] == 0 { "frame" } else { "raw" };
        write("envelope", &format!("sealed-{}-{kind}", i / 2), seed);
    }
    for (i, body) in bodies.iter().enumerate() {
        let mut plain = vec![2];
        plain.extend_from_slice(body.as_bytes());
        write("envelope", &format!("plaintext-{i}"), &plain);
    }
}

fn frames() -> Vec<(&'static str, String)> {
    let key = "ab".repeat(32);
    let sig = "cd".repeat(64);
    let mesh = "6d657368-f022-4000-8000-000000000001";
    let msg = "019a0000-0000-7000-8000-000000000001";
    let att = json!({"issued_at_ms": 1_700_000_000_000_u64, "signature": sig});
    let req = |id: Value, method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
    };
    let note = |method: &str, params: Value| json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string();
    let peer = json!({"id": key, "name": "alice", "member_key": key, "attestation": att, "role": "member",
        "status": "idle", "summary": "", "visible": true, "groups": [{"name": "dev"}], "online": true, "last_seen_ms": 1});
    vec![
        // docs/protocol.md, as written.
        ("doc-request", r#"{"jsonrpc":"2.0","id":1,"method":"peer.list","params":{}}"#.into()),
        ("doc-result", r#"{"jsonrpc":"2.0","id":1,"result":{"peers":[]}}"#.into()),
        ("doc-error", r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32004,"message":"no such peer","data":{"reason":"not_found"}}}"#.into()),
        // One frame per method, with params of the right shape.
        ("challenge", note("auth.challenge", json!({"nonce": "bm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZW5vbmNlMTI", "protocol": "claudemesh.v1", "broker_version": "0.1.0", "server_time_ms": 1}))),
        ("hello", req(json!(1), "auth.hello", json!({"mesh_id": mesh, "member_key": key, "session_key": key, "attestation": att, "name": "alice", "client": "claudemesh-cli/0.1.0", "signature": sig, "receive": false}))),
        ("mesh-create", req(json!(2), "mesh.create", json!({"mesh_id": mesh, "name": "team", "owner_key": key, "signature": sig}))),
        ("redeem", req(json!(3), "invite.redeem", json!({"token": "eyJ2IjoxfQ", "member_key": key, "name": "bob", "signature": sig}))),
        ("rename", req(json!("r-1"), "mesh.rename", json!({"name": "new name"}))),
        ("presence", req(json!(4), "presence.set", json!({"status": "working", "summary": "fixing the build", "visible": true, "name": "alice-2"}))),
        ("group-join", req(json!(5), "group.join", json!({"name": "@dev", "role": "lead"}))),
        ("send", req(json!(6), "message.send", json!({"id": msg, "to": "@dev", "priority": "now", "ttl_secs": 60, "envelopes": [{"to": key, "nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "ciphertext": "AAAAAAAAAAAAAAAAAAAAAA=="}]}))),
        ("ack", req(json!(7), "message.ack", json!({"deliveries": [1, 2, 3]}))),
        ("status", req(json!(8), "message.status", json!({"id": msg}))),
        ("receipt", req(json!(9), "message.receipt", json!({"ids": [msg], "state": "surfaced", "via": "channel"}))),
        ("invite-create", req(json!(10), "invite.create", json!({"token": "eyJ2IjoxfQ"}))),
        ("invite-revoke", req(json!(11), "invite.revoke", json!({"invite_id": "AAAAAAAAAAAAAAAAAAAAAA"}))),
        ("ping", req(json!(u64::MAX), "ping", Value::Null)),
        ("deliver", note("message.deliver", json!({"delivery": 7, "id": msg, "from": key, "from_name": "alice", "from_member": key, "to": "bob", "priority": "next", "sent_at_ms": 1, "nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "ciphertext": "AAAA", "attempt": 2}))),
        ("receipt-notice", note("message.receipt", json!({"id": msg, "recipient": key, "state": "read", "via": null, "at_ms": 5}))),
        ("synced", note("inbox.synced", json!({"count": 0}))),
        ("peer-joined", note("peer.joined", json!({"peer": peer}))),
        ("peer-left", note("peer.left", json!({"id": key, "name": "alice"}))),
        ("renamed", note("mesh.renamed", json!({"name": "team"}))),
        ("rate-limited", r#"{"jsonrpc":"2.0","id":"x","error":{"code":-32009,"message":"slow down","data":{"reason":"rate_limited","retry_after_ms":20}}}"#.into()),
        // Daemon local API and push-pipe (MCP) lines.
        ("daemon-hello", req(json!(1), "daemon.hello", json!({"protocol": 1, "version": "0.1.0", "build": "0.1.0-1-2.3", "session": "cli", "name": "alice", "client": "claudemesh-cli/0.1.0"}))),
        ("mcp-initialize", req(json!(0), "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "claude-code", "version": "2.1.197"}}))),
        ("mcp-initialized", r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into()),
        // Malformed: each refusal path of the decoder.
        ("bad-json", "{\"jsonrpc\":\"2.0\",\"id\":1,".into()),
        ("bad-batch", "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]".into()),
        ("bad-version", r#"{"jsonrpc":"1.0","id":42,"method":"ping"}"#.into()),
        ("bad-id", r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#.into()),
        ("bad-float-id", r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.into()),
        ("bad-params", r#"{"jsonrpc":"2.0","id":"a","method":"ping","params":[1]}"#.into()),
        ("bad-both", r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}}"#.into()),
        ("bad-error", r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}"#.into()),
        ("bad-empty", r#"{"jsonrpc":"2.0"}"#.into()),
        ("unicode", r#"{"jsonrpc":"2.0","id":"\u00e9\ud83d\ude00","method":"x.y","params":{"s":"\u0000\n","n":-1e308,"f":0.1}}"#.into()),
    ]
}

fn invites() -> Vec<(&'static str, Vec<u8>)> {
    let valid = json!({"v": 1, "id": "AAECAwQFBgcICQoLDA0ODw", "mesh": "6d657368-f022-4000-8000-000000000001",
        "mesh_name": "team", "broker": "ws://127.0.0.1:7900/ws", "role": "member", "exp": 1_900_000_000,
        "uses": 1, "issuer": "ab".repeat(32), "inviter": "alice", "sig": "cd".repeat(64)});
    let with = |key: &str, value: Value| {
        let mut v = valid.clone();
        v[key] = value;
        v
    };
    let token = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let link = |s: String| [&[0u8][..], s.as_bytes()].concat();
    let payload = |v: &Value| [&[1u8][..], v.to_string().as_bytes()].concat();
    let tls = with("broker", json!("wss://mesh.example.com/ws"));
    vec![
        ("link-http", link(format!("http://127.0.0.1:7900/join/{}", token(&valid)))),
        ("link-https-query", link(format!("https://mesh.example.com/join/{}/?utm=chat#top", token(&tls)))),
        ("link-custom", link(format!("claudemesh://join/{}", token(&valid)))),
        ("link-bare-padded", link(format!("  {}==  ", token(&valid)))),
        ("link-not-an-invite", link("https://example.com/nothing".into())),
        ("link-other-scheme", link(format!("ftp://h/join/{}", token(&valid)))),
        ("link-garbage", link("https://example.com/join/!!!".into())),
        ("link-empty", link(String::new())),
        ("json-valid", payload(&valid)),
        ("json-tls-admin", payload(&with("role", json!("admin")))),
        ("json-v2", payload(&with("v", json!(2)))),
        ("json-huge-version", payload(&with("v", json!(u64::MAX)))),
        ("json-unknown-field", payload(&with("extra", json!(true)))),
        ("json-owner", payload(&with("role", json!("owner")))),
        ("json-zero-uses", payload(&with("uses", json!(0)))),
        ("json-short-sig", payload(&with("sig", json!("cd")))),
        ("json-bad-mesh", payload(&with("mesh", json!("6D657368-F022-4000-8000-000000000001")))),
        ("json-http-broker", payload(&with("broker", json!("http://127.0.0.1/ws")))),
        ("json-control-name", payload(&with("mesh_name", json!("a\nb")))),
        ("json-long-name", payload(&with("inviter", json!("x".repeat(65))))),
        ("json-not-object", [&[1u8][..], b"[1,2,3]"].concat()),
    ]
}

/// The YAML blocks of docs/policy.md, the default user file, and broken files for each error path.
fn policies() -> Vec<(String, String)> {
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policy.md")).unwrap();
    let mut out = Vec::new();
    for (i, block) in doc.split("```yaml\n").skip(1).enumerate() {
        if let Some(end) = block.find("```") {
            out.push((format!("doc-{i}"), block[..end].to_owned()));
        }
    }
    let broken = [
        ("empty", ""),
        ("comments-only", "# nothing here\n"),
        ("version-2", "version: 2\n"),
        ("unknown-key", "version: 1\nrules:\n  - resource: message\n    verbs: send\n    decision: deny\n"),
        ("bad-decision", "rules:\n  - {decision: maybe}\n"),
        ("wrong-type", "rules:\n  - {peers: alice, decision: deny}\n"),
        ("empty-peers", "rules:\n  - {peers: [], decision: deny}\n"),
        ("partial-wildcard", "rules:\n  - {resource: mess*, decision: deny}\n"),
        ("bad-peer", "rules:\n  - {peers: [\"al ice\"], decision: deny}\n"),
        ("duplicate-key", "version: 1\nversion: 1\n"),
        ("max-mode-in-user-file", "max_approval_mode: read-only\n"),
        (
            "anchors",
            "defaults: &d {read: allow, write: prompt, destructive: deny}\nrules:\n  - {class: write, decision: prompt}\n",
        ),
        ("not-a-map", "- just\n- a list\n"),
        ("tabs", "rules:\n\t- {decision: deny}\n"),
    ];
    out.extend(broken.iter().map(|(n, t)| ((*n).to_owned(), (*t).to_owned())));
    out
}
