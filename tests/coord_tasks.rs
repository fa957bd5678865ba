//! Tasks against a real `claudemesh broker` with several real peers: racing claims have one winner, leases expire
//! after a claimer is killed (and not while it is present), completion notifies the creator, deps block claims,
//! creates are idempotent, and bad params are refused while the connection keeps working.

mod wire;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use wire::*;

const INVALID_PARAMS: i64 = -32602;
const FORBIDDEN: i64 = -32003;
const NOT_FOUND: i64 = -32004;
const CONFLICT: i64 = -32013;

/// The next `task.changed` about task `id` whose state is `state`, skipping others; None past the deadline.
async fn changed_to(c: &mut Client, id: &str, state: &str, within: Duration) -> Option<Value> {
    let until = Instant::now() + within;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let t = c.next_notification("task.changed", left).await?;
        if t["id"] == id && t["state"] == state {
            return Some(t);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_racing_claims_have_one_winner_and_nineteen_conflicts_naming_it() {
    let b = Broker::start(&[]).await;
    let (_owner, mut oc) = create_mesh(&b, "owner").await;
    let mut peers = Vec::new();
    for n in 0..20 {
        peers.push(invite_and_join(&b, &_owner, &mut oc, &format!("racer{n}")).await);
    }
    let task = oc.ok("task.create", json!({"title": "the one job"})).await;
    let id = task["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 12, "{task}");
    assert_eq!(task["state"], "open");

    // Every racer sends its claim before anyone reads a reply.
    let started = Instant::now();
    let mut sent = Vec::new();
    for (_, c) in peers.iter_mut() {
        sent.push(c.send_request("task.claim", json!({"id": id})).await);
    }
    let mut winners = Vec::new();
    let mut conflicts = Vec::new();
    for ((who, c), rid) in peers.iter_mut().zip(sent) {
        match c.response_for(&json!(rid), WAIT).await.expect("a reply to the claim") {
            Ok(t) => winners.push((who.name.clone(), who.id(), t)),
            Err(e) => conflicts.push(e),
        }
    }
    eprintln!("20 racing claims answered in {:?}", started.elapsed());
    assert_eq!(winners.len(), 1, "exactly one claim wins: {winners:?} {conflicts:?}");
    let (name, key, t) = &winners[0];
    assert_eq!(t["state"], "claimed");
    assert_eq!(t["claimed_by"], key.as_str());
    assert_eq!(t["claimed_by_name"], name.as_str());
    assert_eq!(conflicts.len(), 19);
    for e in &conflicts {
        assert_eq!(e.code, CONFLICT, "{e:?}");
        assert_eq!(e.message, format!("claimed by {name}"));
        assert_eq!(e.data["claimed_by"], key.as_str());
        assert_eq!(e.data["claimed_by_name"], name.as_str());
    }
    // The creator heard about the claim; the store agrees with the winner.
    let note = changed_to(&mut oc, &id, "claimed", WAIT).await.expect("task.changed to the creator");
    assert_eq!(note["claimed_by_name"], name.as_str());
    let shown = oc.ok("task.show", json!({"id": id})).await;
    assert_eq!(shown["claimed_by"], key.as_str());
    assert_eq!(shown["version"], 2, "one create and one claim were applied: {shown}");
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame as JSON.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).expect("json"),
            Some(Ok(_)) => continue,
            other => panic!("the connection ended: {other:?}"),
        }
    }
}

/// A session on its own WebSocket that claims `id` and then vanishes without a close frame (its socket is
/// dropped, as when its process is killed).
async fn claim_and_vanish(b: &Broker, who: &Ident, id: &str) -> Value {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_request(b.port, Some("claudemesh.v1"))).await.expect("connect");
    let challenge = next_json(&mut ws).await;
    let nonce = challenge["params"]["nonce"].as_str().expect("nonce").to_string();
    let hello = json!({"jsonrpc": "2.0", "id": 1, "method": "auth.hello", "params": who.hello_params(&nonce)});
    ws.send(Message::Text(hello.to_string().into())).await.expect("send hello");
    let claim = json!({"jsonrpc": "2.0", "id": 2, "method": "task.claim", "params": {"id": id}});
    ws.send(Message::Text(claim.to_string().into())).await.expect("send claim");
    let mut result = Value::Null;
    while result.is_null() {
        let f = next_json(&mut ws).await;
        if f["id"] == 1 {
            assert!(f.get("result").is_some(), "hello failed: {f}");
        } else if f["id"] == 2 {
            result = f["result"].clone();
            assert!(!result.is_null(), "claim failed: {f}");
        }
    }
    drop(ws);
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_claimer_loses_its_claim_after_grace_and_lease_while_a_live_one_keeps_it() {
    let b = Broker::start(&["--grace", "1s", "--task-lease", "1s"]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_alice, mut ac) = invite_and_join(&b, &owner, &mut oc, "alice").await;
    let (bob, bc) = invite_and_join(&b, &owner, &mut oc, "bob").await;
    bc.close().await;
    let kept = oc.ok("task.create", json!({"title": "alice's"})).await["id"].as_str().expect("id").to_string();
    let lost = oc.ok("task.create", json!({"title": "bob's"})).await["id"].as_str().expect("id").to_string();

    let alice_claimed = Instant::now();
    let t = ac.ok("task.claim", json!({"id": kept})).await;
    assert_eq!(t["claimed_by_name"], "alice");
    let first_lease = t["lease_expires_at_ms"].as_u64().expect("a lease");
    let bob_claimed = Instant::now();
    let t = claim_and_vanish(&b, &bob, &lost).await;
    assert_eq!(t["claimed_by_name"], "bob");
    assert!(t["lease_expires_at_ms"].as_u64().is_some(), "{t}");

    // Bob's claim reopens once his grace (1 s) and then his lease (1 s) have run out; the creator is told.
    let reopened =
        changed_to(&mut oc, &lost, "open", Duration::from_secs(20)).await.expect("task.changed: bob's claim expired");
    let waited = bob_claimed.elapsed();
    eprintln!("a killed claimer's task reopened {waited:?} after its claim (grace 1s + lease 1s)");
    assert!(waited >= Duration::from_millis(1800), "the claim expired before grace + lease: {waited:?}");
    assert_eq!(reopened["claimed_by"], Value::Null);
    assert_eq!(oc.ok("task.show", json!({"id": lost})).await["state"], "open");

    // Alice stayed connected: well past a lease after her claim, she still holds it, with a renewed lease.
    assert!(alice_claimed.elapsed() > Duration::from_secs(2));
    let t = oc.ok("task.show", json!({"id": kept})).await;
    assert_eq!(t["state"], "claimed", "{t}");
    assert_eq!(t["claimed_by_name"], "alice");
    assert!(t["lease_expires_at_ms"].as_u64().expect("a lease") > first_lease, "her presence renewed the lease: {t}");
    // The reopened task can be claimed again, by someone else.
    let t = ac.ok("task.claim", json!({"id": lost})).await;
    assert_eq!(t["claimed_by_name"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deps_block_claims_until_done_and_complete_notifies_the_creator() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_alice, mut ac) = invite_and_join(&b, &owner, &mut oc, "alice").await;
    let (_carol, mut cc) = invite_and_join(&b, &owner, &mut oc, "carol").await;
    let first =
        ac.ok("task.create", json!({"title": "schema", "tags": ["db"]})).await["id"].as_str().unwrap().to_string();
    let second = oc
        .ok("task.create", json!({"title": "api", "body": "on top of the schema", "deps": [first], "tags": ["api"]}))
        .await;
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_eq!(second["blocked_by"], json!([first]));
    assert_eq!(second["deps"], json!([first]));

    let e = cc.err("task.claim", json!({"id": second_id}), CONFLICT).await;
    assert!(e.message.starts_with(&format!("blocked by {first}")), "{e:?}");
    assert_eq!(e.data["blocked_by"], json!([first]));

    // Carol completes the open first task in one step (claim and complete); its creator, alice, is told.
    let done = cc.ok("task.complete", json!({"id": first, "result": "tables in"})).await;
    assert_eq!(done["state"], "done");
    assert_eq!(done["claimed_by_name"], "carol");
    assert_eq!(done["result"], "tables in");
    let note = changed_to(&mut ac, &first, "done", WAIT).await.expect("the creator hears of the completion");
    assert_eq!(note["result"], "tables in");
    assert_eq!(oc.ok("task.show", json!({"id": second_id})).await["blocked_by"], json!([]));

    let claimed = cc.ok("task.claim", json!({"id": second_id})).await;
    assert_eq!(claimed["state"], "claimed");
    changed_to(&mut oc, &second_id, "claimed", WAIT).await.expect("the creator hears of the claim");
    // Claiming again renews; others cannot release or complete it.
    let renewed = cc.ok("task.claim", json!({"id": second_id})).await;
    assert_eq!(renewed["claimed_by_name"], "carol");
    assert!(renewed["lamport"].as_u64() > claimed["lamport"].as_u64());
    let e = ac.err("task.complete", json!({"id": second_id}), CONFLICT).await;
    assert_eq!(e.message, "claimed by carol");
    let e = ac.err("task.release", json!({"id": second_id}), CONFLICT).await;
    assert_eq!(e.data["claimed_by_name"], "carol");
    let e = ac.err("task.cancel", json!({"id": second_id}), FORBIDDEN).await;
    assert!(e.message.starts_with("forbidden:"), "{e:?}");
    let t = cc.ok("task.release", json!({"id": second_id})).await;
    assert_eq!(t["state"], "open");
    assert_eq!(t["claimed_by"], Value::Null);

    let done = ac.ok("task.complete", json!({"id": second_id, "result": "endpoints up"})).await;
    assert_eq!(done["state"], "done");
    let note = changed_to(&mut oc, &second_id, "done", WAIT).await.expect("the owner hears alice completed it");
    assert_eq!(note["claimed_by_name"], "alice");
    assert_eq!(note["result"], "endpoints up");
    let e = cc.err("task.claim", json!({"id": second_id}), CONFLICT).await;
    assert!(e.message.contains("already done"), "{e:?}");

    // Cancel: the creator may (the claimer is told); a cancelled task cannot be claimed; cancelling again is a
    // harmless replay.
    let third = ac.ok("task.create", json!({"title": "docs"})).await["id"].as_str().unwrap().to_string();
    cc.ok("task.claim", json!({"id": third})).await;
    let t = ac.ok("task.cancel", json!({"id": third})).await;
    assert_eq!(t["state"], "cancelled");
    changed_to(&mut cc, &third, "cancelled", WAIT).await.expect("the claimer hears of the cancel");
    cc.err("task.claim", json!({"id": third}), CONFLICT).await;
    assert_eq!(ac.ok("task.cancel", json!({"id": third})).await["version"], t["version"]);

    // Filters.
    let list = oc.ok("task.list", json!({"state": "done"})).await;
    let ids: Vec<&str> = list["tasks"].as_array().unwrap().iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(list["mesh_lamport"].as_u64().unwrap() >= done["lamport"].as_u64().unwrap());
    let list = oc.ok("task.list", json!({"tag": "api"})).await;
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(list["tasks"][0]["id"], second_id.as_str());
    let list = oc.ok("task.list", json!({"creator": "alice"})).await;
    assert_eq!(list["tasks"].as_array().unwrap().len(), 2);
    let list = oc.ok("task.list", json!({"claimed_by": "carol"})).await;
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(list["tasks"][0]["id"], first.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_is_idempotent_on_id_and_bad_params_are_refused_while_the_connection_keeps_working() {
    let b = Broker::start(&[]).await;
    let (_owner, mut oc) = create_mesh(&b, "owner").await;
    let a = oc.ok("task.create", json!({"id": "abcdefghij23", "title": "once"})).await;
    let again = oc.ok("task.create", json!({"id": "abcdefghij23", "title": "once"})).await;
    assert_eq!(a, again, "a replayed create is the same task");
    assert_eq!(oc.ok("task.list", json!({})).await["tasks"].as_array().unwrap().len(), 1);
    let queued = oc.ok("task.create", json!({"title": "made offline", "lamport": 500})).await;
    assert_eq!(queued["lamport"], 500, "a queued write keeps its stamp");

    let too_many_deps: Vec<String> = (0..33).map(|_| "abcdefghij23".to_string()).collect();
    let bad = [
        ("task.create", json!({"title": ""})),
        ("task.create", json!({"title": "t".repeat(201)})),
        ("task.create", json!({"title": "x", "body": "b".repeat(16 * 1024 + 1)})),
        ("task.create", json!({"title": "x", "tags": ["Not OK"]})),
        ("task.create", json!({"title": "x", "tags": (0..17).map(|i| format!("t{i}")).collect::<Vec<_>>()})),
        ("task.create", json!({"title": "x", "deps": ["zzzzzzzzzzzz"]})),
        ("task.create", json!({"title": "x", "deps": too_many_deps})),
        ("task.create", json!({"title": "x", "id": "NOT-AN-ID"})),
        ("task.create", json!({"title": "x", "colour": "red"})),
        ("task.create", json!({"title": "x", "lamport": 0})),
        ("task.create", json!({"title": 7})),
        ("task.list", json!({"limit": 0})),
        ("task.list", json!({"limit": 1001})),
        ("task.list", json!({"state": "closed"})),
        ("task.claim", json!({})),
        ("task.complete", json!({"id": "abcdefghij23", "result": "r".repeat(4 * 1024 + 1)})),
    ];
    for (method, params) in bad {
        let e = oc.err(method, params.clone(), INVALID_PARAMS).await;
        assert!(!e.message.is_empty(), "{method} {params}: {e:?}");
        oc.ping().await;
    }
    oc.err("task.show", json!({"id": "zzzzzzzzzzzz"}), NOT_FOUND).await;
    oc.err("task.claim", json!({"id": "zzzzzzzzzzzz"}), NOT_FOUND).await;
    // Nothing above was stored.
    assert_eq!(oc.ok("task.list", json!({})).await["tasks"].as_array().unwrap().len(), 2);
}
