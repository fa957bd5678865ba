//! The daemon's offline coordination with real processes (a real broker, real daemons in temp homes): writes
//! queued with Lamport stamps while the broker is down and replayed in order after it returns, convergence of two
//! peers on the documented winner, stale cached reads, fail-fast writes that need the broker, refused replays,
//! a local state watch across a broker restart, and a daemon killed with queued writes.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::local_api::{LocalApi, Subscription};
use support::{Broker, Home, mesh_of_two, wait_until};

/// `unavailable` (docs/protocol.md error codes).
const UNAVAILABLE: i64 = -32011;
const WAIT: Duration = Duration::from_secs(30);

/// The daemon of `home` (started by a verb) and a local API connection as the person at the terminal.
fn api(home: &Home) -> LocalApi {
    home.json(&["peers"]);
    LocalApi::connect(home, "cli", None)
}

fn code(err: &Value) -> i64 {
    err["code"].as_i64().unwrap_or_default()
}

fn coord_outbox(api: &mut LocalApi) -> Value {
    api.ok("daemon.status", json!({}))["coord_outbox"].clone()
}

/// This session's key (the `writer` of its state writes).
fn my_key(api: &mut LocalApi) -> String {
    api.ok("peer.list", json!({}))["me"].as_str().expect("me").to_string()
}

fn daemon_pid(home: &Home) -> u64 {
    home.json(&["daemon", "status"])["pid"].as_u64().expect("daemon pid")
}

fn kill9(pid: u64) {
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill").success());
    let gone = || std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "));
    assert!(wait_until(Duration::from_secs(5), gone), "pid {pid} survived SIGKILL");
}

/// Waits until the daemon's coordination outbox has nothing queued.
fn drained(api: &mut LocalApi) -> bool {
    wait_until(WAIT, || coord_outbox(api)["queued"] == 0)
}

fn queued(answer: &Value) -> u64 {
    assert_eq!(answer["queued"], true, "{answer}");
    answer["lamport"].as_u64().unwrap_or_else(|| panic!("no lamport in {answer}"))
}

#[test]
fn offline_writes_are_queued_with_stamps_and_writes_that_need_the_broker_fail_fast() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    broker.kill();

    let a = alice.ok("state.set", json!({"key": "plan", "value": {"step": 1}}));
    let b = alice.ok("state.delete", json!({"key": "old"}));
    assert_eq!(queued(&b), queued(&a) + 1, "{a} {b}");
    let note = alice.ok("memory.remember", json!({"text": "the parser is in src/parse.rs", "tags": ["code"]}));
    let id = note["id"].as_str().expect("a queued remember answers its id");
    assert!(id.len() == 12 && id.bytes().all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)), "{id}");
    assert_eq!(queued(&note), queued(&b) + 1);
    let task = alice.ok("task.create", json!({"title": "write the docs"}));
    assert_eq!(task["id"].as_str().map(str::len), Some(12), "{task}");

    // Compare-and-swap, claims, streams and reads never made answer `unavailable` at once.
    for (method, params) in [
        ("state.set", json!({"key": "plan", "value": 2, "if_version": 1})),
        ("task.claim", json!({"id": task["id"]})),
        ("stream.publish", json!({"name": "logs", "data": 1})),
        ("state.get", json!({"key": "never-read"})),
        ("state.watch", json!({})),
        ("schedule.create", json!({"to": "self", "message": "stand-up", "in_ms": 600_000})),
    ] {
        let started = Instant::now();
        let err = alice.call(method, params).expect_err(method);
        assert_eq!(code(&err), UNAVAILABLE, "{method}: {err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{method} took {:?}", started.elapsed());
    }
    let err = alice.call("state.set", json!({"key": "plan", "value": 2, "if_version": 1})).unwrap_err();
    assert!(err["message"].as_str().unwrap_or_default().contains("needs the broker"), "{err}");

    let outbox = coord_outbox(&mut alice);
    assert_eq!(outbox["queued"], 4, "{outbox}");
    assert_eq!(outbox["failed"], json!([]), "{outbox}");
    // The bad input of a write is still refused at once, and the daemon keeps serving.
    assert_eq!(code(&alice.call("state.watch", json!({"prefix": 5})).unwrap_err()), -32602);
    assert_eq!(coord_outbox(&mut alice)["queued"], 4);
}

#[test]
fn reads_while_the_broker_is_down_come_from_the_cache_marked_stale() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    alice.ok("state.set", json!({"key": "build", "value": "green"}));
    let fresh = alice.ok("state.get", json!({"key": "build"}));
    assert_eq!((fresh["value"].clone(), fresh["stale"].clone()), (json!("green"), json!(false)), "{fresh}");
    let list = alice.ok("state.list", json!({"prefix": "b"}));
    assert_eq!(list["stale"], false);
    let clock = alice.ok("clock.get", json!({}));
    assert_eq!(clock["stale"], false, "{clock}");

    broker.kill();
    let cached = alice.ok("state.get", json!({"key": "build"}));
    assert_eq!((cached["value"].clone(), cached["stale"].clone()), (json!("green"), json!(true)), "{cached}");
    assert!(cached["cache_age_ms"].as_u64().is_some(), "{cached}");
    let list = alice.ok("state.list", json!({"prefix": "b"}));
    assert_eq!((list["stale"].clone(), list["entries"][0]["key"].clone()), (json!(true), json!("build")), "{list}");
    let cached_clock = alice.ok("clock.get", json!({}));
    assert_eq!((cached_clock["stale"].clone(), cached_clock["now_ms"].clone()), (json!(true), clock["now_ms"].clone()));
    // Other params were never answered: nothing to show.
    assert_eq!(code(&alice.call("state.list", json!({"prefix": "x"})).unwrap_err()), UNAVAILABLE);

    broker.restart();
    assert!(wait_until(WAIT, || alice.call("state.get", json!({"key": "build"})).is_ok_and(|v| v["stale"] == false)));
}

#[test]
fn two_peers_writing_offline_converge_on_the_documented_winner_after_the_broker_returns() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    let mut bob = api(&pair.bob);
    let keys = [my_key(&mut alice), my_key(&mut bob)];
    alice.ok("state.set", json!({"key": "owner", "value": "nobody"}));
    bob.ok("state.get", json!({"key": "owner"}));

    broker.kill();
    let la = queued(&alice.ok("state.set", json!({"key": "owner", "value": "alice"})));
    let lb = queued(&bob.ok("state.set", json!({"key": "owner", "value": "bob"})));
    let notes = [
        alice.ok("memory.remember", json!({"text": "alice learned the cache is per mesh"}))["id"].clone(),
        bob.ok("memory.remember", json!({"text": "bob learned the outbox is ordered"}))["id"].clone(),
    ];
    let tasks = [
        alice.ok("task.create", json!({"title": "alice's offline task"}))["id"].clone(),
        bob.ok("task.create", json!({"title": "bob's offline task"}))["id"].clone(),
    ];
    // The larger (lamport, writer) wins.
    let winner = if (la, &keys[0]) > (lb, &keys[1]) { "alice" } else { "bob" };

    broker.restart();
    assert!(drained(&mut alice), "{}", coord_outbox(&mut alice));
    assert!(drained(&mut bob), "{}", coord_outbox(&mut bob));
    for api in [&mut alice, &mut bob] {
        assert_eq!(coord_outbox(api)["failed"], json!([]));
        let got = api.ok("state.get", json!({"key": "owner"}));
        assert_eq!((got["value"].as_str(), got["stale"].as_bool()), (Some(winner), Some(false)), "{got}");
        let memories = api.ok("memory.recall", json!({"limit": 200}))["memories"].clone();
        for id in &notes {
            let n = memories.as_array().unwrap().iter().filter(|m| m["id"] == *id).count();
            assert_eq!(n, 1, "memory {id} in {memories}");
        }
        let listed = api.ok("task.list", json!({"limit": 1000}))["tasks"].clone();
        for id in &tasks {
            let n = listed.as_array().unwrap().iter().filter(|t| t["id"] == *id).count();
            assert_eq!(n, 1, "task {id} in {listed}");
        }
    }
}

#[test]
fn a_queued_write_the_broker_refuses_is_reported_failed_and_later_ones_still_apply() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    broker.kill();
    queued(&alice.ok("state.set", json!({"key": "bad key with spaces", "value": 1})));
    queued(&alice.ok("state.set", json!({"key": "after", "value": "applied"})));
    let (mut events, _) = Subscription::start(&pair.alice, "watcher", "events.subscribe", json!({}));
    broker.restart();
    assert!(drained(&mut alice), "{}", coord_outbox(&mut alice));
    let told = events.collect("coord.failed", |got| !got.is_empty());
    assert_eq!(told.first().map(|n| n["params"]["key"].clone()), Some(json!("bad key with spaces")), "{told:?}");
    let outbox = coord_outbox(&mut alice);
    let failed = outbox["failed"].as_array().expect("failed list");
    assert_eq!(failed.len(), 1, "{outbox}");
    assert_eq!(failed[0]["method"], "state.set");
    assert!(failed[0]["error"].as_str().is_some_and(|e| !e.is_empty()) && failed[0]["at_ms"].as_u64() > Some(0));
    assert_eq!(alice.ok("state.get", json!({"key": "after"}))["value"], "applied");
}

#[test]
fn a_daemon_killed_with_queued_writes_replays_them_after_it_restarts() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    broker.kill();
    for i in 0..3 {
        queued(&alice.ok("state.set", json!({"key": format!("kept/{i}"), "value": i})));
    }
    drop(alice);
    kill9(daemon_pid(&pair.alice));
    broker.restart();
    // A new daemon finds the queued writes and replays them without being asked.
    let mut alice = api(&pair.alice);
    assert!(drained(&mut alice), "{}", coord_outbox(&mut alice));
    let list = alice.ok("state.list", json!({"prefix": "kept/"}));
    let values: Vec<Value> = list["entries"].as_array().expect("entries").iter().map(|e| e["value"].clone()).collect();
    assert_eq!(values, [json!(0), json!(1), json!(2)], "{list}");
}

#[test]
fn a_local_state_watch_sees_every_change_once_and_in_order_across_a_broker_restart() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    let mut bob = api(&pair.bob);
    alice.ok("state.set", json!({"key": "w/0", "value": "before the watch"}));
    let (mut watch, started) = Subscription::start(&pair.alice, "watcher", "state.watch", json!({"prefix": "w/"}));
    assert!(started["seq"].as_u64().is_some(), "{started}");

    alice.ok("state.set", json!({"key": "w/1", "value": 1}));
    alice.ok("state.set", json!({"key": "other", "value": "not watched"}));
    bob.ok("state.set", json!({"key": "w/2", "value": 2}));
    let first = watch.collect("state.changed", |got| got.len() >= 2);
    assert_eq!(first.iter().map(|c| c["key"].clone()).collect::<Vec<_>>(), [json!("w/1"), json!("w/2")]);

    broker.kill();
    queued(&alice.ok("state.set", json!({"key": "w/3", "value": 3})));
    broker.restart();
    // Bob's write lands while alice's daemon may still be reconnecting; the watch catches up from its last seq.
    assert!(wait_until(WAIT, || bob.call("state.set", json!({"key": "w/4", "value": 4})).is_ok()));
    assert!(drained(&mut alice) && drained(&mut bob));
    alice.ok("state.set", json!({"key": "w/5", "value": 5}));
    let rest = watch.collect("state.changed", |got| got.len() >= 3);
    let keys: Vec<&str> = rest.iter().map(|c| c["key"].as_str().unwrap_or_default()).collect();
    assert_eq!(keys.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from(["w/3", "w/4", "w/5"]), "{rest:?}");
    assert_eq!(keys.last(), Some(&"w/5"));
    // In order, each once: strictly increasing seqs over the whole stream.
    let seqs: Vec<u64> = first.iter().chain(&rest).map(|c| c["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[test]
fn many_queued_writes_replay_in_the_order_they_were_made() {
    const N: usize = 300;
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    let mut bob = api(&pair.bob);
    bob.ok("state.list", json!({}));
    let (mut watch, _) = Subscription::start(&pair.bob, "watcher", "state.watch", json!({"prefix": "q/"}));
    broker.kill();
    let started = Instant::now();
    for i in 0..N {
        queued(&alice.ok("state.set", json!({"key": format!("q/{i:04}"), "value": i})));
    }
    let queue_ms = started.elapsed().as_millis();
    broker.restart();
    let replay = Instant::now();
    assert!(drained(&mut alice), "{}", coord_outbox(&mut alice));
    let replay_ms = replay.elapsed().as_millis();
    let seen = watch.collect("state.changed", |got| got.len() >= N);
    let keys: Vec<String> = seen.iter().map(|c| c["key"].as_str().unwrap_or_default().to_string()).collect();
    let expected: Vec<String> = (0..N).map(|i| format!("q/{i:04}")).collect();
    assert_eq!(keys, expected);
    eprintln!("{N} writes queued in {queue_ms} ms; drained {replay_ms} ms after the broker restarted");
}
