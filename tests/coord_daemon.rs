//! The daemon's live coordination with real processes: Lamport stamps that follow what the daemon saw, the
//! broker's notifications forwarded to local watchers and `events.subscribe`, stream subscriptions that survive a
//! broker restart, and the task-completed message to the creator.

mod support;

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use support::local_api::{LocalApi, Subscription};
use support::{Home, mesh_of_two, wait_until};

const WAIT: Duration = Duration::from_secs(30);

fn api(home: &Home) -> LocalApi {
    home.json(&["peers"]);
    LocalApi::connect(home, "cli", None)
}

#[test]
fn a_queued_write_is_stamped_above_every_stamp_the_daemon_saw() {
    let mut broker = support::Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    let mut bob = api(&pair.bob);
    let mut last = 0;
    for i in 0..5 {
        let r = alice.ok("state.set", json!({"key": format!("n/{i}"), "value": i}));
        last = r["entry"]["lamport"].as_u64().expect("a live write carries its stamp");
    }
    // Bob only read: the mesh's clock moves his counter.
    let list = bob.ok("state.list", json!({"prefix": "n/"}));
    assert_eq!(list["mesh_lamport"].as_u64(), Some(last), "{list}");
    broker.kill();
    let queued = bob.ok("state.set", json!({"key": "n/0", "value": "bob"}));
    assert_eq!((queued["queued"].clone(), queued["lamport"].as_u64()), (json!(true), Some(last + 1)), "{queued}");
    broker.restart();
    // Its stamp beats alice's older write of the key.
    assert!(wait_until(WAIT, || bob
        .call("state.get", json!({"key": "n/0"}))
        .is_ok_and(|e| e["value"] == "bob" && e["stale"] == false)));
}

#[test]
fn state_changes_reach_local_watchers_by_prefix_and_events_subscribe() {
    let broker = support::Broker::start();
    let pair = mesh_of_two(&broker);
    let mut bob = api(&pair.bob);
    api(&pair.alice);
    let (mut watch, _) = Subscription::start(&pair.alice, "cli", "state.watch", json!({"prefix": "ci/"}));
    let (mut events, _) = Subscription::start(&pair.alice, "cli", "events.subscribe", json!({}));
    bob.ok("state.set", json!({"key": "docs/x", "value": 0}));
    bob.ok("state.set", json!({"key": "ci/main", "value": "red"}));
    let change = watch.wait_for("state.changed", |_| true).expect("a state.changed");
    assert_eq!(
        (change["key"].clone(), change["value"].clone(), change["writer_name"].clone()),
        (json!("ci/main"), json!("red"), json!("bob")),
        "{change}"
    );
    let note = events.wait_for("state.changed", |p| p["key"] == "ci/main").expect("events.subscribe saw it");
    assert!(note["mesh"].is_string(), "{note}");
}

#[test]
fn a_stream_subscription_forwards_data_and_comes_back_after_a_broker_restart() {
    let mut broker = support::Broker::start();
    let pair = mesh_of_two(&broker);
    let mut bob = api(&pair.bob);
    api(&pair.alice);
    bob.ok("stream.create", json!({"name": "build-log"}));
    let (mut sub, answer) = Subscription::start(&pair.alice, "cli", "stream.subscribe", json!({"name": "build-log"}));
    assert_eq!(answer["name"], "build-log", "{answer}");
    bob.ok("stream.publish", json!({"name": "build-log", "data": {"line": 1}}));
    let data = sub.wait_for("stream.data", |_| true).expect("stream.data");
    assert_eq!((data["data"].clone(), data["from_name"].clone()), (json!({"line": 1}), json!("bob")), "{data}");

    broker.restart();
    // Once alice's daemon has subscribed again, the publish counts her.
    assert!(wait_until(WAIT, || bob
        .call("stream.publish", json!({"name": "build-log", "data": {"line": 2}}))
        .is_ok_and(|r| r["subscribers"].as_u64() >= Some(1))));
    let data = sub.wait_for("stream.data", |p| p["data"]["line"] == 2).expect("stream.data after the restart");
    assert_eq!(data["name"], "build-log");
}

#[test]
fn completing_another_session_s_task_sends_the_creator_a_task_message() {
    let broker = support::Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    let mut bob = api(&pair.bob);
    let task = alice.ok("task.create", json!({"title": "fix the flaky test"}));
    let id = task["id"].as_str().expect("task id").to_string();
    bob.ok("task.claim", json!({"id": id}));
    let done = bob.ok("task.complete", json!({"id": id, "result": "it was a race in setup"}));
    assert_eq!(done["state"], "done", "{done}");
    let expected = format!("bob completed task {id} \"fix the flaky test\": it was a race in setup");
    let mut found = Value::Null;
    assert!(
        wait_until(WAIT, || {
            let inbox = alice.ok("inbox.list", json!({}));
            found = inbox["messages"]
                .as_array()
                .and_then(|m| m.iter().find(|m| m["body"] == expected.as_str()).cloned())
                .unwrap_or(Value::Null);
            !found.is_null()
        }),
        "alice's inbox: {}",
        alice.ok("inbox.list", json!({}))
    );
    assert_eq!(found["kind"], "task", "{found}");
    // The completer's own tasks send nothing.
    let own = bob.ok("task.create", json!({"title": "bob's own"}));
    bob.ok("task.complete", json!({"id": own["id"]}));
    let bob_inbox = pair.bob.json(&["inbox"]);
    assert!(!bob_inbox.to_string().contains("completed task"), "{bob_inbox}");
}

#[test]
fn state_unwatch_ends_only_the_callers_matching_watch() {
    let broker = support::Broker::start();
    let pair = mesh_of_two(&broker);
    let mut alice = api(&pair.alice);
    let (mut kept, _) = Subscription::start(&pair.alice, "cli", "state.watch", json!({"prefix": "u/"}));
    let (mut ended, _) = Subscription::start(&pair.alice, "cli", "state.watch", json!({"prefix": "u/"}));
    let mut writer = ended.reader.get_ref().try_clone().expect("clone");
    writeln!(writer, "{}", json!({"jsonrpc": "2.0", "id": 3, "method": "state.unwatch", "params": {"prefix": "u/"}}))
        .expect("write");
    let answer = ended.wait_reply(3).expect("state.unwatch answered");
    assert_eq!(answer["result"], json!({}), "{answer}");
    alice.ok("state.set", json!({"key": "u/1", "value": 1}));
    alice.ok("state.set", json!({"key": "u/2", "value": 2}));
    assert_eq!(kept.wait_for("state.changed", |p| p["key"] == "u/2").map(|p| p["value"].clone()), Some(json!(2)));
    // A connection holds at most 64 watches; the 65th is refused and the connection keeps serving.
    let mut many = LocalApi::connect(&pair.alice, "cli", None);
    for i in 0..64 {
        many.ok("state.watch", json!({"prefix": format!("m/{i}")}));
    }
    let err = many.call("state.watch", json!({"prefix": "m/64"})).unwrap_err();
    assert_eq!(err["code"], -32602, "{err}");
    many.ok("state.unwatch", json!({"prefix": "m/0"}));
    many.ok("state.watch", json!({"prefix": "m/64"}));
    // The unwatched connection got nothing; anything it had been sent would be waiting in its socket by now.
    assert!(ended.line().is_none_or(|m| m["method"] != "state.changed"));
}

#[test]
fn events_subscribe_alone_follows_state_changes() {
    let broker = support::Broker::start();
    let pair = mesh_of_two(&broker);
    let mut bob = api(&pair.bob);
    api(&pair.alice);
    let (mut events, _) = Subscription::start(&pair.alice, "cli", "events.subscribe", json!({}));
    // The daemon makes its broker-side watch in the background: write until one change shows.
    let mut n = 0;
    let seen = wait_until(WAIT, || {
        n += 1;
        bob.ok("state.set", json!({"key": format!("dash/{n}"), "value": n}));
        events.wait_for_within("state.changed", Duration::from_millis(300)).is_some()
    });
    assert!(seen, "events.subscribe never showed a state.changed");
}
