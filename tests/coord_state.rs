//! `state.*` against a real `claudemesh broker`: compare-and-swap between peers, last-writer-wins convergence by
//! (lamport, writer) in both arrival orders, tombstones, `state.watch` fan-out (every change once, gap-free, in
//! order, from concurrent writers), `since_seq` replay after a reconnect, and limits / bad params.

mod wire;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use wire::*;

const INVALID: i64 = -32602;
const NOT_FOUND: i64 = -32004;
const CONFLICT: i64 = -32013;
const WAIT: Duration = Duration::from_secs(20);

/// A broker with a mesh: the owner and a member, both connected.
async fn mesh() -> (Broker, Ident, Client, Ident, Client) {
    let b = Broker::start(&["--durability", "normal"]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (member, mc) = invite_and_join(&b, &owner, &mut oc, "member").await;
    (b, owner, oc, member, mc)
}

/// Collects `n` `state.changed` notifications (params), failing on a timeout.
async fn changes(c: &mut Client, n: usize) -> Vec<Value> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match c.next_notification("state.changed", WAIT).await {
            Some(v) => got.push(v),
            None => panic!("only {} of {n} state.changed arrived", got.len()),
        }
    }
    got
}

#[tokio::test]
async fn compare_and_swap_lets_one_of_two_peers_win() {
    let (_b, _o, mut oc, _m, mut mc) = mesh().await;
    let a = oc.ok("state.set", json!({"key": "lock", "value": "owner", "if_version": 0})).await;
    assert_eq!(a["applied"], true);
    assert_eq!(a["entry"]["version"], 1);
    let e = mc.err("state.set", json!({"key": "lock", "value": "member", "if_version": 0}), CONFLICT).await;
    assert_eq!(e.data["version"], 1, "the conflict carries the current version: {e:?}");
    assert_eq!(e.data["reason"], "conflict");
    let r = mc.ok("state.set", json!({"key": "lock", "value": "member", "if_version": 1})).await;
    assert_eq!(r["entry"]["version"], 2);
    assert_eq!(r["entry"]["writer_name"], "member");
    let d = oc.err("state.delete", json!({"key": "lock", "if_version": 1}), CONFLICT).await;
    assert_eq!(d.data["version"], 2);
    let g = oc.ok("state.get", json!({"key": "lock"})).await;
    assert_eq!(g["value"], "member");
    assert!(g["mesh_lamport"].as_u64().is_some_and(|l| l >= 2));
}

#[tokio::test]
async fn last_writer_wins_converges_whatever_the_arrival_order() {
    let (_b, owner, mut oc, member, mut mc) = mesh().await;
    // Two keys get the same two writes, in opposite orders: the larger stamp wins on both.
    oc.ok("state.set", json!({"key": "x", "value": "new", "lamport": 50})).await;
    let lost = mc.ok("state.set", json!({"key": "x", "value": "old", "lamport": 30})).await;
    assert_eq!(lost["applied"], false);
    assert_eq!(lost["entry"]["value"], "new", "a losing write answers the entry that won");
    mc.ok("state.set", json!({"key": "y", "value": "old", "lamport": 30})).await;
    let won = oc.ok("state.set", json!({"key": "y", "value": "new", "lamport": 50})).await;
    assert_eq!(won["applied"], true);
    for k in ["x", "y"] {
        assert_eq!(oc.ok("state.get", json!({"key": k})).await["value"], "new", "{k}");
    }
    // Equal stamps: the larger writer key wins, in both orders.
    let (hi, lo) = if owner.id() > member.id() { (&mut oc, &mut mc) } else { (&mut mc, &mut oc) };
    hi.ok("state.set", json!({"key": "t1", "value": "hi", "lamport": 70})).await;
    lo.ok("state.set", json!({"key": "t1", "value": "lo", "lamport": 70})).await;
    lo.ok("state.set", json!({"key": "t2", "value": "lo", "lamport": 70})).await;
    hi.ok("state.set", json!({"key": "t2", "value": "hi", "lamport": 70})).await;
    for k in ["t1", "t2"] {
        assert_eq!(hi.ok("state.get", json!({"key": k})).await["value"], "hi", "{k}");
    }
    // A live write is stamped after everything the broker has seen, so it wins.
    let live = lo.ok("state.set", json!({"key": "t1", "value": "live"})).await;
    assert_eq!(live["applied"], true);
    assert!(live["entry"]["lamport"].as_u64().is_some_and(|l| l > 70));
}

#[tokio::test]
async fn an_older_write_cannot_resurrect_a_deleted_key() {
    let (_b, _o, mut oc, _m, mut mc) = mesh().await;
    oc.ok("state.set", json!({"key": "job", "value": 1})).await;
    let d = mc.ok("state.delete", json!({"key": "job", "lamport": 100})).await;
    assert_eq!(
        (d["applied"].clone(), d["deleted"].clone(), d["version"].clone()),
        (json!(true), json!(true), json!(2))
    );
    let late = oc.ok("state.set", json!({"key": "job", "value": 2, "lamport": 60})).await;
    assert_eq!(late["applied"], false);
    assert_eq!(late["entry"]["deleted"], true);
    oc.err("state.get", json!({"key": "job"}), NOT_FOUND).await;
    assert_eq!(oc.ok("state.list", json!({})).await["entries"], json!([]));
    // A delete that arrives before the (older) write it beats also holds.
    mc.ok("state.delete", json!({"key": "early", "lamport": 200})).await;
    assert_eq!(oc.ok("state.set", json!({"key": "early", "value": 1, "lamport": 150})).await["applied"], false);
    oc.err("state.get", json!({"key": "early"}), NOT_FOUND).await;
    // A newer write does bring the key back, one version on.
    let back = oc.ok("state.set", json!({"key": "job", "value": 3})).await;
    assert_eq!((back["applied"].clone(), back["entry"]["version"].clone()), (json!(true), json!(3)));
}

#[tokio::test]
async fn two_watchers_see_every_change_of_three_concurrent_writers_once_and_in_order() {
    let b = Broker::start(&["--durability", "normal"]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let mut watchers = Vec::new();
    for n in 0..2 {
        let (_, mut c) = invite_and_join(&b, &owner, &mut oc, &format!("watcher{n}")).await;
        let r = c.ok("state.watch", json!({})).await;
        assert_eq!(r["seq"], 0);
        watchers.push(c);
    }
    let mut writers = Vec::new();
    for n in 0..3 {
        let (_, c) = invite_and_join(&b, &owner, &mut oc, &format!("writer{n}")).await;
        writers.push(c);
    }
    const EACH: usize = 120;
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(w, mut c)| {
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..EACH {
                    ids.push(
                        c.send_request("state.set", json!({"key": format!("w{w}/k{}", i % 7), "value": [w, i]})).await,
                    );
                }
                for id in ids {
                    let r = c.response_for(&json!(id), WAIT).await.expect("connection").expect("set");
                    assert_eq!(r["applied"], true);
                }
                c
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    let total = 3 * EACH;
    for w in &mut watchers {
        let got = changes(w, total).await;
        let seqs: Vec<u64> = got.iter().map(|c| c["seq"].as_u64().expect("seq")).collect();
        assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>(), "gap-free, in order, each once");
        let values: HashSet<String> = got.iter().map(|c| c["value"].to_string()).collect();
        assert_eq!(values.len(), total, "every write arrived");
        // Per writer, its changes arrive in the order it made them.
        for wr in 0..3 {
            let mine: Vec<u64> =
                got.iter().filter(|c| c["value"][0] == wr).map(|c| c["value"][1].as_u64().unwrap_or(0)).collect();
            assert_eq!(mine, (0..EACH as u64).collect::<Vec<_>>());
        }
        w.settle(Duration::from_millis(200)).await;
        assert!(w.take_notes().iter().all(|n| n["method"] != "state.changed"), "no duplicates");
    }
}

#[tokio::test]
async fn a_watcher_that_reconnects_replays_what_it_missed_then_goes_live() {
    let (b, _o, mut oc, member, mut mc) = mesh().await;
    mc.ok("state.watch", json!({"prefix": "cfg/"})).await;
    oc.ok("state.set", json!({"key": "cfg/a", "value": 1})).await;
    oc.ok("state.set", json!({"key": "other", "value": 1})).await;
    let first = changes(&mut mc, 1).await;
    assert_eq!(first[0]["key"], "cfg/a");
    let seen = first[0]["seq"].as_u64().expect("seq");
    mc.close().await;
    for i in 0..5 {
        oc.ok("state.set", json!({"key": format!("cfg/k{i}"), "value": i})).await;
    }
    oc.ok("state.delete", json!({"key": "cfg/a"})).await;
    let (mut again, _) = member.connect(&b).await;
    let r = again.ok("state.watch", json!({"prefix": "cfg/", "since_seq": seen})).await;
    assert!(r.get("resync").is_none());
    let last = r["seq"].as_u64().expect("seq");
    let replay = changes(&mut again, 6).await;
    let keys: Vec<&str> = replay.iter().map(|c| c["key"].as_str().unwrap_or("")).collect();
    assert_eq!(keys, ["cfg/k0", "cfg/k1", "cfg/k2", "cfg/k3", "cfg/k4", "cfg/a"]);
    assert_eq!(replay[5]["deleted"], true);
    assert_eq!(replay[5]["seq"].as_u64(), Some(last));
    oc.ok("state.set", json!({"key": "cfg/live", "value": true})).await;
    let live = changes(&mut again, 1).await;
    assert_eq!(live[0]["seq"].as_u64(), Some(last + 1));
    assert_eq!(live[0]["key"], "cfg/live");
    again.ok("state.unwatch", json!({"prefix": "cfg/"})).await;
    oc.ok("state.set", json!({"key": "cfg/after", "value": 1})).await;
    assert!(again.next_notification("state.changed", Duration::from_millis(300)).await.is_none(), "unwatched");
}

#[tokio::test]
async fn bad_params_and_limits_get_invalid_params_and_the_connection_keeps_working() {
    let (_b, _o, mut oc, _m, _mc) = mesh().await;
    let big = "x".repeat(16 * 1024);
    for (method, params) in [
        ("state.set", json!({"key": "a b", "value": 1})),
        ("state.set", json!({"key": "", "value": 1})),
        ("state.set", json!({"key": "k".repeat(257), "value": 1})),
        ("state.set", json!({"key": "k", "value": big})),
        ("state.set", json!({"key": "k"})),
        ("state.set", json!({"key": "k", "value": 1, "surprise": true})),
        ("state.set", json!({"key": "k", "value": 1, "lamport": 0})),
        ("state.set", json!({"key": "k", "value": 1, "lamport": 5_000_000})),
        ("state.set", json!({"key": "k", "value": 1, "if_version": -1})),
        ("state.get", json!({"key": "é"})),
        ("state.list", json!({"limit": 0})),
        ("state.list", json!({"limit": 1001})),
        ("state.list", json!({"prefix": "%"})),
        ("state.watch", json!({"prefix": "a*"})),
        ("state.delete", json!({})),
    ] {
        oc.err(method, params.clone(), INVALID).await;
    }
    // 16 KiB exactly as compact JSON is allowed (the string's quotes count).
    oc.ok("state.set", json!({"key": "k", "value": "x".repeat(16 * 1024 - 2)})).await;
    oc.ok("state.set", json!({"key": "k2", "value": {"nested": [1, 2, {"a": null}]}})).await;
    let l = oc.ok("state.list", json!({"prefix": "k", "limit": 1})).await;
    assert_eq!(l["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(l["entries"][0]["key"], "k");
}

#[tokio::test]
async fn a_mesh_holds_at_most_ten_thousand_live_keys() {
    let b = Broker::start(&["--durability", "normal", "--request-rate", "100000", "--request-burst", "100000"]).await;
    let (_owner, mut oc) = create_mesh(&b, "owner").await;
    let mut ids = Vec::new();
    for i in 0..10_000 {
        ids.push(oc.send_request("state.set", json!({"key": format!("k{i}"), "value": i})).await);
        if ids.len() >= 500 {
            for id in ids.drain(..) {
                oc.response_for(&json!(id), WAIT).await.expect("conn").expect("set");
            }
        }
    }
    for id in ids.drain(..) {
        oc.response_for(&json!(id), WAIT).await.expect("conn").expect("set");
    }
    let e = oc.err("state.set", json!({"key": "one-more", "value": 1}), INVALID).await;
    assert!(e.message.contains("10000"), "{e:?}");
    // Overwriting a live key and deleting one still work; after a delete there is room again.
    oc.ok("state.set", json!({"key": "k1", "value": "again"})).await;
    oc.ok("state.delete", json!({"key": "k2"})).await;
    oc.ok("state.set", json!({"key": "one-more", "value": 1})).await;
    // The change log keeps the last 10,000: an old since_seq asks for a resync.
    let w = oc.ok("state.watch", json!({"since_seq": 1})).await;
    assert_eq!(w["resync"], true);
}

/// A guest joins by a guest invite on a fresh connection.
async fn join_as_guest(b: &Broker, owner: &Ident, oc: &mut Client) -> Client {
    let inv = sign_invite(owner, &b.url(), &InviteSpec { role: "guest", exp: now_secs() + 3600, uses: 1 });
    oc.ok("invite.create", json!({"token": invite_token(&inv)})).await;
    let guest = Ident::new(&owner.mesh_id, &owner.mesh_name, "guest");
    let mut c = Client::connect(b.port).await;
    redeem(&mut c, &guest, &inv).await.expect("invite.redeem");
    guest.hello(&mut c).await.expect("guest hello");
    c
}

#[tokio::test]
async fn a_guest_reads_and_watches_but_cannot_write() {
    let (b, owner, mut oc, _m, _mc) = mesh().await;
    oc.ok("state.set", json!({"key": "k", "value": 1})).await;
    let mut gc = join_as_guest(&b, &owner, &mut oc).await;
    assert_eq!(gc.ok("state.get", json!({"key": "k"})).await["value"], 1);
    gc.ok("state.watch", json!({})).await;
    for (method, params) in [("state.set", json!({"key": "k", "value": 2})), ("state.delete", json!({"key": "k"}))] {
        let e = gc.err(method, params, -32003).await;
        assert_eq!(e.message, "forbidden: missing capability state-write");
    }
    oc.ok("state.set", json!({"key": "k", "value": 3})).await;
    assert_eq!(changes(&mut gc, 1).await[0]["value"], 3);
}
