//! `memory.*` against a real `claudemesh broker`: bm25 ranking over SQLite FTS5, tag / author / time filters,
//! idempotent remember, forget as a tombstone that a replayed remember cannot undo, author-or-admin forget,
//! queries taken as plain words (no FTS syntax injection), and limits / bad params.

mod wire;

use serde_json::{Value, json};
use wire::*;

const INVALID: i64 = -32602;
const FORBIDDEN: i64 = -32003;
const NOT_FOUND: i64 = -32004;

async fn mesh() -> (Broker, Ident, Client, Ident, Client) {
    let b = Broker::start(&["--durability", "normal"]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (member, mc) = invite_and_join(&b, &owner, &mut oc, "member").await;
    (b, owner, oc, member, mc)
}

fn texts(r: &Value) -> Vec<String> {
    r["memories"]
        .as_array()
        .map_or_else(Vec::new, |m| m.iter().map(|n| n["text"].as_str().unwrap_or("").to_string()).collect())
}

#[tokio::test]
async fn recall_ranks_notes_that_mention_the_words_more_first() {
    let (_b, _o, mut oc, _m, _mc) = mesh().await;
    oc.ok("memory.remember", json!({"text": "the deploy uses postgres once"})).await;
    oc.ok("memory.remember", json!({"text": "postgres postgres postgres: vacuum postgres tables"})).await;
    oc.ok("memory.remember", json!({"text": "redis caches sessions"})).await;
    oc.ok("memory.remember", json!({"text": "flaky test", "tags": ["postgres"]})).await;
    let r = oc.ok("memory.recall", json!({"query": "postgres"})).await;
    let t = texts(&r);
    assert_eq!(t.len(), 3, "{r}");
    assert_eq!(t[0], "postgres postgres postgres: vacuum postgres tables");
    let scores: Vec<f64> =
        r["memories"].as_array().into_iter().flatten().map(|n| n["score"].as_f64().unwrap_or(f64::NAN)).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "higher score first: {scores:?}");
    assert!(scores[0] > 0.0);
    assert!(t.contains(&"flaky test".to_string()), "tags are searched too");
    // Every word must match.
    assert_eq!(texts(&oc.ok("memory.recall", json!({"query": "postgres vacuum"})).await).len(), 1);
    assert!(r["mesh_lamport"].as_u64().is_some_and(|l| l >= 4));
}

#[tokio::test]
async fn recall_filters_by_tags_author_and_time_and_lists_newest_first_without_a_query() {
    let (_b, owner, mut oc, _m, mut mc) = mesh().await;
    let a = oc.ok("memory.remember", json!({"text": "one note", "tags": ["db", "ops"]})).await;
    let t0 = a["created_at_ms"].as_u64().expect("created_at_ms");
    oc.ok("memory.remember", json!({"text": "two note", "tags": ["db"]})).await;
    let c = mc.ok("memory.remember", json!({"text": "three note", "tags": ["ops", "db"]})).await;
    assert_eq!(c["author_name"], "member");
    assert_eq!(c["id"].as_str().map(str::len), Some(12));
    let all = oc.ok("memory.recall", json!({})).await;
    assert_eq!(texts(&all), ["three note", "two note", "one note"]);
    assert!(all["memories"][0].get("score").is_none());
    assert_eq!(texts(&oc.ok("memory.recall", json!({"tags": ["db", "ops"]})).await), ["three note", "one note"]);
    assert_eq!(
        texts(&oc.ok("memory.recall", json!({"query": "note", "tags": ["ops"], "author": "member"})).await),
        ["three note"]
    );
    let by_key = oc.ok("memory.recall", json!({"author": owner.id()})).await;
    assert_eq!(texts(&by_key), ["two note", "one note"]);
    assert_eq!(texts(&oc.ok("memory.recall", json!({"until_ms": t0})).await), ["one note"]);
    let since = c["created_at_ms"].as_u64().expect("ms");
    assert!(texts(&oc.ok("memory.recall", json!({"since_ms": since})).await).contains(&"three note".to_string()));
    assert_eq!(texts(&oc.ok("memory.recall", json!({"since_ms": since + 60_000})).await).len(), 0);
    assert_eq!(texts(&oc.ok("memory.recall", json!({"limit": 1})).await), ["three note"]);
}

#[tokio::test]
async fn forget_is_a_tombstone_that_a_replayed_remember_does_not_undo() {
    let (_b, _o, mut oc, _m, mut mc) = mesh().await;
    let id = "abcdefghij23";
    let first =
        mc.ok("memory.remember", json!({"id": id, "text": "secret plan", "tags": ["plan"], "lamport": 5})).await;
    assert_eq!(first["lamport"], 5);
    let again =
        mc.ok("memory.remember", json!({"id": id, "text": "secret plan", "tags": ["plan"], "lamport": 5})).await;
    assert_eq!(again, first, "a replayed remember is the same note");
    assert_eq!(texts(&mc.ok("memory.recall", json!({})).await).len(), 1);
    let f = mc.ok("memory.forget", json!({"id": id})).await;
    assert_eq!(f["forgotten"], true);
    let replay =
        mc.ok("memory.remember", json!({"id": id, "text": "secret plan", "tags": ["plan"], "lamport": 5})).await;
    assert_eq!(replay["forgotten"], true);
    assert_eq!(replay["text"], "");
    for q in [json!({}), json!({"query": "secret"}), json!({"tags": ["plan"]})] {
        assert_eq!(texts(&oc.ok("memory.recall", q.clone()).await).len(), 0, "{q}");
    }
    assert_eq!(mc.ok("memory.forget", json!({"id": id})).await["forgotten"], false);
    mc.err("memory.forget", json!({"id": "zzzzzzzzzzzz"}), NOT_FOUND).await;
}

#[tokio::test]
async fn forgetting_another_authors_note_needs_an_admin() {
    let (_b, _o, mut oc, _m, mut mc) = mesh().await;
    let n = oc.ok("memory.remember", json!({"text": "owner's note"})).await;
    let e = mc.err("memory.forget", json!({"id": n["id"]}), FORBIDDEN).await;
    assert!(e.message.starts_with("forbidden:"), "{e:?}");
    assert_eq!(texts(&mc.ok("memory.recall", json!({})).await).len(), 1);
    let m = mc.ok("memory.remember", json!({"text": "member's note"})).await;
    assert_eq!(oc.ok("memory.forget", json!({"id": m["id"]})).await["forgotten"], true, "the owner may");
    assert_eq!(texts(&mc.ok("memory.recall", json!({})).await), ["owner's note"]);
}

#[tokio::test]
async fn queries_are_plain_words_so_fts_syntax_cannot_be_injected() {
    let (_b, _o, mut oc, _m, _mc) = mesh().await;
    oc.ok("memory.remember", json!({"text": "alpha beta"})).await;
    oc.ok("memory.remember", json!({"text": "gamma delta"})).await;
    oc.ok("memory.remember", json!({"text": "say \"quoted\" words"})).await;
    // With FTS syntax these would match notes; as words they match nothing (and never error).
    for q in [
        "alpha OR gamma",
        "NEAR(alpha beta)",
        "alph*",
        "text:alpha",
        "{text}: gamma",
        "\"",
        "*",
        "(",
        "alpha AND NOT beta",
    ] {
        let r = oc.ok("memory.recall", json!({"query": q})).await;
        assert_eq!(texts(&r), Vec::<String>::new(), "{q:?}");
    }
    // Punctuation around words is only a separator.
    assert_eq!(texts(&oc.ok("memory.recall", json!({"query": "-gamma"})).await), ["gamma delta"]);
    assert_eq!(texts(&oc.ok("memory.recall", json!({"query": "\"quoted\""})).await), ["say \"quoted\" words"]);
    assert_eq!(texts(&oc.ok("memory.recall", json!({"query": "ALPHA"})).await), ["alpha beta"]);
}

#[tokio::test]
async fn bad_params_and_limits_get_invalid_params_and_the_connection_keeps_working() {
    let (_b, _o, mut oc, _m, _mc) = mesh().await;
    let tags17: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
    for (method, params) in [
        ("memory.remember", json!({"text": ""})),
        ("memory.remember", json!({"text": "   "})),
        ("memory.remember", json!({"text": "x".repeat(8 * 1024 + 1)})),
        ("memory.remember", json!({"text": "x", "tags": tags17})),
        ("memory.remember", json!({"text": "x", "tags": ["Upper"]})),
        ("memory.remember", json!({"text": "x", "tags": ["t".repeat(65)]})),
        ("memory.remember", json!({"text": "x", "id": "not-an-id"})),
        ("memory.remember", json!({"text": "x", "lamport": 0})),
        ("memory.remember", json!({"text": "x", "colour": "red"})),
        ("memory.recall", json!({"limit": 0})),
        ("memory.recall", json!({"limit": 201})),
        ("memory.recall", json!({"query": "w ".repeat(600)})),
        ("memory.recall", json!({"query": "word ".repeat(33)})),
        ("memory.recall", json!({"author": ""})),
        ("memory.forget", json!({"id": "ABC"})),
        ("memory.forget", json!({})),
    ] {
        oc.err(method, params.clone(), INVALID).await;
    }
    oc.ok(
        "memory.remember",
        json!({"text": "x".repeat(8 * 1024), "tags": (0..16).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
    )
    .await;
    assert_eq!(texts(&oc.ok("memory.recall", json!({"tags": ["t15"]})).await).len(), 1);
}

#[tokio::test]
async fn a_guest_recalls_but_cannot_remember() {
    let (b, owner, mut oc, _m, _mc) = mesh().await;
    oc.ok("memory.remember", json!({"text": "shared fact"})).await;
    let inv = sign_invite(&owner, &b.url(), &InviteSpec { role: "guest", exp: now_secs() + 3600, uses: 1 });
    oc.ok("invite.create", json!({"token": invite_token(&inv)})).await;
    let guest = Ident::new(&owner.mesh_id, &owner.mesh_name, "guest");
    let mut gc = Client::connect(b.port).await;
    redeem(&mut gc, &guest, &inv).await.expect("invite.redeem");
    guest.hello(&mut gc).await.expect("guest hello");
    assert_eq!(texts(&gc.ok("memory.recall", json!({"query": "fact"})).await), ["shared fact"]);
    let e = gc.err("memory.remember", json!({"text": "guest note"}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: missing capability memory-write");
}
