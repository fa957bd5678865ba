//! Contexts against a real `claudemesh broker` with several peers: a share replaces the session's context, get
//! finds it by display name or session key, list is most recent first or ranked by an FTS5 search over summary,
//! files, branch and notes, and bad params are refused while the connection keeps working.

mod wire;

use serde_json::{Value, json};
use wire::*;

const INVALID_PARAMS: i64 = -32602;
const NOT_FOUND: i64 = -32004;

fn names(list: &Value) -> Vec<String> {
    list["contexts"]
        .as_array()
        .expect("contexts")
        .iter()
        .map(|c| c["peer_name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_replace_and_are_found_by_name_key_recency_and_search() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (alice, mut ac) = invite_and_join(&b, &owner, &mut oc, "alice").await;
    let (_bob, mut bc) = invite_and_join(&b, &owner, &mut oc, "bob").await;
    let (_carol, mut cc) = invite_and_join(&b, &owner, &mut oc, "carol").await;

    let first = ac.ok("context.share", json!({"summary": "reading the docs"})).await;
    assert_eq!(first["peer"], alice.id().as_str());
    assert_eq!(first["peer_name"], "alice");
    let shared = ac
        .ok(
            "context.share",
            json!({"summary": "fixing the websocket parser", "files": ["src/proto/frame.rs", "src/broker/conn.rs"],
                   "branch": "fix/frames", "notes": "frames over 64 KiB are refused"}),
        )
        .await;
    assert!(shared["lamport"].as_u64() > first["lamport"].as_u64());
    bc.ok("context.share", json!({"summary": "writing the release notes", "files": ["CHANGELOG.md"]})).await;
    cc.ok(
        "context.share",
        json!({"summary": "benchmarks for the parser", "branch": "bench", "notes": "parser parser throughput"}),
    )
    .await;

    // Replaced, not added: one context per session, found by name or key.
    let by_name = oc.ok("context.get", json!({"peer": "alice"})).await;
    assert_eq!(by_name["summary"], "fixing the websocket parser");
    assert_eq!(by_name["files"], json!(["src/proto/frame.rs", "src/broker/conn.rs"]));
    assert_eq!(by_name["branch"], "fix/frames");
    let by_key = oc.ok("context.get", json!({"peer": alice.id()})).await;
    assert_eq!(by_key, by_name);
    assert_eq!(by_key, shared);
    oc.err("context.get", json!({"peer": "owner"}), NOT_FOUND).await;

    // Most recent first without a query.
    let all = oc.ok("context.list", json!({})).await;
    assert_eq!(names(&all), ["carol", "bob", "alice"], "{all}");
    assert!(all["mesh_lamport"].as_u64() >= shared["lamport"].as_u64());
    assert_eq!(names(&oc.ok("context.list", json!({"limit": 1})).await), ["carol"]);

    // Search: every word must match, across summary, files, branch and notes; ranked.
    assert_eq!(names(&oc.ok("context.list", json!({"query": "changelog"})).await), ["bob"]);
    assert_eq!(names(&oc.ok("context.list", json!({"query": "frames"})).await), ["alice"]);
    assert_eq!(names(&oc.ok("context.list", json!({"query": "websocket parser"})).await), ["alice"]);
    let ranked = oc.ok("context.list", json!({"query": "parser"})).await;
    assert_eq!(names(&ranked), ["carol", "alice"], "carol mentions the parser three times: {ranked}");
    assert_eq!(names(&oc.ok("context.list", json!({"query": "reading docs"})).await), Vec::<String>::new());
    // FTS syntax is taken literally, not as operators.
    assert!(names(&oc.ok("context.list", json!({"query": "parser OR notes"})).await).is_empty());
    oc.ok("context.list", json!({"query": "\"unbalanced * NEAR("})).await;

    // A queued share older than the session's last one does not win.
    let old = ac.ok("context.share", json!({"summary": "stale", "lamport": 1})).await;
    assert_eq!(old["summary"], "fixing the websocket parser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_context_params_are_refused_and_the_connection_keeps_working() {
    let b = Broker::start(&[]).await;
    let (_owner, mut oc) = create_mesh(&b, "owner").await;
    let bad = [
        ("context.share", json!({})),
        ("context.share", json!({"summary": ""})),
        ("context.share", json!({"summary": "s".repeat(501)})),
        ("context.share", json!({"summary": "x", "files": vec!["f"; 101]})),
        ("context.share", json!({"summary": "x", "files": ["f".repeat(513)]})),
        ("context.share", json!({"summary": "x", "branch": "b".repeat(257)})),
        ("context.share", json!({"summary": "x", "notes": "n".repeat(4097)})),
        ("context.share", json!({"summary": "x", "mood": "good"})),
        ("context.get", json!({})),
        ("context.list", json!({"limit": 501})),
        ("context.list", json!({"limit": 0})),
        ("context.list", json!({"query": "q".repeat(1025)})),
    ];
    for (method, params) in bad {
        let e = oc.err(method, params.clone(), INVALID_PARAMS).await;
        assert!(!e.message.is_empty(), "{method} {params}");
        oc.ping().await;
    }
    assert_eq!(oc.ok("context.list", json!({})).await["contexts"], json!([]));
    oc.ok("context.share", json!({"summary": "still here"})).await;
    assert_eq!(names(&oc.ok("context.list", json!({})).await), ["owner"]);
}
