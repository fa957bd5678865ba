//! Streams against a real `claudemesh broker`: three subscribers get every item of two concurrent publishers in
//! order, a subscriber that leaves stops getting data and one that comes back gets new data, `stream.list` counts
//! subscribers, and bad params are refused while the connection keeps working.

mod wire;

use std::collections::HashMap;

use serde_json::{Value, json};
use wire::*;

const INVALID_PARAMS: i64 = -32602;
const NOT_FOUND: i64 = -32004;

/// The next `n` `stream.data` notifications.
async fn items(c: &mut Client, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        match c.next_notification("stream.data", WAIT).await {
            Some(d) => out.push(d),
            None => panic!("got {} of {n} stream items: {out:?}", out.len()),
        }
    }
    out
}

/// Asserts nothing was published to `c` so far: a ping's reply queues behind any earlier notification.
async fn assert_no_items(c: &mut Client) {
    c.ping().await;
    let stray: Vec<Value> = c.take_notes().into_iter().filter(|n| n["method"] == "stream.data").collect();
    assert!(stray.is_empty(), "got data while not subscribed: {stray:?}");
}

fn subscribers(list: &Value, name: &str) -> u64 {
    let s = list["streams"].as_array().and_then(|a| a.iter().find(|s| s["name"] == name)).expect("listed");
    s["subscribers"].as_u64().expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_subscribers_get_every_item_of_two_publishers_in_order_and_leaving_stops_the_flow() {
    const EACH: usize = 50;
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_pub2, mut p2) = invite_and_join(&b, &owner, &mut oc, "pub2").await;
    let mut subs = Vec::new();
    for n in 1..=3 {
        subs.push(invite_and_join(&b, &owner, &mut oc, &format!("sub{n}")).await);
    }

    let created = oc.ok("stream.create", json!({"name": "builds"})).await;
    assert_eq!(created["created"], true);
    assert_eq!(created["creator_name"], "owner");
    let again = p2.ok("stream.create", json!({"name": "builds"})).await;
    assert_eq!(again["created"], false);
    assert_eq!(again["creator"], owner.id().as_str());
    for (_, c) in subs.iter_mut() {
        let r = c.ok("stream.subscribe", json!({"name": "builds"})).await;
        assert_eq!(r, json!({"name": "builds", "seq": 0}));
    }
    let list = p2.ok("stream.list", json!({})).await;
    assert_eq!(subscribers(&list, "builds"), 3, "{list}");
    assert_eq!(list["streams"][0]["last_seq"], 0);

    // Both publishers pipeline their items, so they interleave on the broker.
    let started = tokio::time::Instant::now();
    let mut sent = Vec::new();
    for i in 0..EACH {
        sent.push((
            0,
            oc.send_request("stream.publish", json!({"name": "builds", "data": {"by": "owner", "i": i}})).await,
        ));
        sent.push((
            1,
            p2.send_request("stream.publish", json!({"name": "builds", "data": {"by": "pub2", "i": i}})).await,
        ));
    }
    let mut seqs = Vec::new();
    for (who, id) in sent {
        let c = if who == 0 { &mut oc } else { &mut p2 };
        let r = c.response_for(&json!(id), WAIT).await.expect("reply").expect("published");
        assert_eq!(r["subscribers"], 3, "{r}");
        seqs.push(r["seq"].as_u64().expect("seq"));
    }
    eprintln!("{} items from 2 publishers to 3 subscribers published in {:?}", 2 * EACH, started.elapsed());
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=2 * EACH as u64).collect::<Vec<_>>(), "every publish got its own seq");

    for (who, c) in subs.iter_mut() {
        let got = items(c, 2 * EACH).await;
        let seq: Vec<u64> = got.iter().map(|d| d["seq"].as_u64().unwrap()).collect();
        assert_eq!(seq, (1..=2 * EACH as u64).collect::<Vec<_>>(), "{} got items out of order", who.name);
        let mut next: HashMap<String, u64> = HashMap::new();
        for d in &got {
            let by = d["data"]["by"].as_str().unwrap().to_string();
            assert_eq!(d["from_name"], by.as_str());
            assert_eq!(d["name"], "builds");
            let want = next.entry(by).or_insert(0);
            assert_eq!(d["data"]["i"], *want, "each publisher's items keep their order");
            *want += 1;
        }
        assert_eq!(next.values().copied().collect::<Vec<_>>(), vec![EACH as u64; 2]);
    }

    // sub3 unsubscribes and sub2 goes away: only sub1 gets the next item.
    subs[2].1.ok("stream.unsubscribe", json!({"name": "builds"})).await;
    let (sub2, c2) = subs.remove(1);
    c2.close().await;
    let list = oc.ok("stream.list", json!({})).await;
    assert_eq!(subscribers(&list, "builds"), 1, "{list}");
    assert_eq!(list["streams"][0]["last_seq"], 2 * EACH as u64);
    let r = p2.ok("stream.publish", json!({"name": "builds", "data": "alone"})).await;
    assert_eq!(r["subscribers"], 1);
    assert_eq!(items(&mut subs[0].1, 1).await[0]["data"], "alone");
    assert_no_items(&mut subs[1].1).await;

    // sub3 comes back and gets new data (not the item it missed); sub2's new connection is not subscribed.
    let r = subs[1].1.ok("stream.subscribe", json!({"name": "builds"})).await;
    assert_eq!(r["seq"], 2 * EACH as u64 + 1);
    let (mut c2, _) = sub2.connect(&b).await;
    oc.ok("stream.publish", json!({"name": "builds", "data": "welcome back"})).await;
    for (_, c) in subs.iter_mut() {
        let d = items(c, 1).await;
        assert_eq!(d[0]["data"], "welcome back");
        assert_eq!(d[0]["seq"], 2 * EACH as u64 + 2);
    }
    assert_no_items(&mut c2).await;
    assert_eq!(subscribers(&oc.ok("stream.list", json!({})).await, "builds"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stream_params_are_refused_and_the_connection_keeps_working() {
    let b = Broker::start(&[]).await;
    let (_owner, mut oc) = create_mesh(&b, "owner").await;
    oc.ok("stream.create", json!({"name": "ok"})).await;
    let bad = [
        ("stream.create", json!({"name": ""})),
        ("stream.create", json!({"name": "Not OK"})),
        ("stream.create", json!({"name": "x".repeat(65)})),
        ("stream.create", json!({"name": "ok", "extra": 1})),
        ("stream.publish", json!({"name": "ok"})),
        ("stream.publish", json!({"name": "ok", "data": "d".repeat(16 * 1024)})),
        ("stream.subscribe", json!({"name": "a/b"})),
        ("stream.list", json!({"x": 1})),
    ];
    for (method, params) in bad {
        let e = oc.err(method, params.clone(), INVALID_PARAMS).await;
        assert!(!e.message.is_empty(), "{method} {params}");
        oc.ping().await;
    }
    let e = oc.err("stream.publish", json!({"name": "nope", "data": 1}), NOT_FOUND).await;
    assert!(e.message.contains("stream.create"), "{e:?}");
    oc.err("stream.subscribe", json!({"name": "nope"}), NOT_FOUND).await;
    let list = oc.ok("stream.list", json!({})).await;
    assert_eq!(list["streams"].as_array().map(Vec::len), Some(1), "{list}");
    let r = oc.ok("stream.publish", json!({"name": "ok", "data": null})).await;
    assert_eq!(r, json!({"seq": 1, "subscribers": 0}));
}
