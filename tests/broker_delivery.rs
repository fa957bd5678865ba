//! Delivery guarantees of the broker, proven against a real `claudemesh broker` process with an independent
//! protocol client (tests/wire): idempotent retry, offline queueing, SIGKILL and SIGTERM durability, redelivery
//! before ack, TTL expiry, the presence grace window, and no plaintext at rest.

mod wire;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use wire::*;

/// Collects `n` deliveries (acking none); panics if they do not arrive in time.
async fn take_deliveries(c: &mut Client, n: usize, within: Duration) -> Vec<Delivery> {
    let until = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < n {
        let left = until.saturating_duration_since(Instant::now());
        match next_delivery(c, left).await {
            Some(d) => out.push(d),
            None => panic!("expected {n} deliveries, got {} ({:?})", out.len(), c.closed),
        }
    }
    out
}

async fn ack(c: &mut Client, ds: &[&Delivery]) -> u64 {
    let ids: Vec<u64> = ds.iter().map(|d| d.delivery).collect();
    c.ok("message.ack", json!({"deliveries": ids})).await["acked"].as_u64().expect("acked")
}

/// Every `message.deliver` buffered on `c` or arriving within `within` (for "nothing else arrived" checks).
async fn deliveries_within(c: &mut Client, within: Duration) -> Vec<Delivery> {
    let mut out = Vec::new();
    let until = Instant::now() + within;
    while let Some(d) = next_delivery(c, until.saturating_duration_since(Instant::now())).await {
        out.push(d);
    }
    out
}

/// Connects `who`, checks the announced backlog, and returns the backlog deliveries in arrival order, checking
/// that exactly `backlog` deliveries precede `inbox.synced {count: backlog}`.
async fn reconnect_expecting_backlog(b: &Broker, who: &Ident, backlog: u64) -> (Client, Vec<Delivery>) {
    let (mut c, hello) = who.connect(b).await;
    assert_eq!(hello["backlog"], backlog, "backlog announced by auth.hello");
    let synced = c.next_notification("inbox.synced", WAIT).await.expect("inbox.synced");
    assert_eq!(synced["count"], backlog);
    // Everything pushed before inbox.synced is already buffered (frames are read in order).
    let mut ds = Vec::new();
    while let Some(d) = next_delivery(&mut c, Duration::ZERO).await {
        ds.push(d);
    }
    assert_eq!(ds.len() as u64, backlog, "deliveries before inbox.synced: {ds:?}");
    (c, ds)
}

async fn status(c: &mut Client, id: &str) -> Value {
    c.ok("message.status", json!({"id": id})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retry_delivers_once() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    let (carol, mut cc) = invite_and_join(&b, &alice, &mut ac, "carol").await;

    // Same id twice: the retry stores nothing. A re-sealed retry (fresh nonce) is still the same message.
    let m1 = new_msg_id();
    let p1 = send_params(&alice, &m1, "bob", &[bob.id()], "once please");
    let r = ac.ok("message.send", p1.clone()).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(1), Some(0)), "{r}");
    let r = ac.ok("message.send", p1.clone()).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(1)), "{r}");
    let resealed = send_params(&alice, &m1, "bob", &[bob.id()], "once please");
    let r = ac.ok("message.send", resealed).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(1)), "{r}");

    // One fan-out split over two calls with disjoint envelopes, then the whole thing retried.
    let m2 = new_msg_id();
    let r = ac.ok("message.send", send_params(&alice, &m2, "*", &[bob.id()], "to everyone")).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(1), Some(0)), "{r}");
    let r = ac.ok("message.send", send_params(&alice, &m2, "*", &[carol.id()], "to everyone")).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(1), Some(0)), "{r}");
    let r = ac.ok("message.send", send_params(&alice, &m2, "*", &[bob.id(), carol.id()], "to everyone")).await;
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(2)), "{r}");

    // A fresh message as a barrier: deliveries are pushed in commit order, so any duplicate of m1/m2 would arrive
    // before it.
    let m3 = new_msg_id();
    ac.ok("message.send", send_params(&alice, &m3, "*", &[bob.id(), carol.id()], "barrier")).await;

    for (who, c, expected) in [(&bob, &mut bc, vec![&m1, &m2, &m3]), (&carol, &mut cc, vec![&m2, &m3])] {
        let mut seen: Vec<String> = Vec::new();
        let mut texts = Vec::new();
        while seen.last() != Some(&m3) {
            let d = next_delivery(c, WAIT)
                .await
                .unwrap_or_else(|| panic!("{} is missing deliveries after {seen:?}", who.name));
            texts.push(open(who, &d.params));
            assert_eq!(ack(c, &[&d]).await, 1);
            seen.push(d.id);
        }
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(seen, expected, "{}: exactly one delivery per message, in send order", who.name);
        assert!(texts.iter().all(|t| ["once please", "to everyone", "barrier"].contains(&t.as_str())), "{texts:?}");
        assert!(
            deliveries_within(c, Duration::from_millis(300)).await.is_empty(),
            "{}: nothing after the barrier",
            who.name
        );
    }

    let st = status(&mut ac, &m2).await;
    assert_eq!(st["state"], "delivered", "{st}");
    assert_eq!(st["recipients"].as_array().map(Vec::len), Some(2), "one delivery row per recipient: {st}");

    // And nothing comes back on the next connection.
    bc.close().await;
    let (_bc, ds) = reconnect_expecting_backlog(&b, &bob, 0).await;
    assert!(ds.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_recipient_receives_on_return() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    bc.close().await;

    let mut ids = Vec::new();
    for i in 0..5 {
        let id = new_msg_id();
        let r = ac.ok("message.send", send_params(&alice, &id, "bob", &[bob.id()], &format!("offline {i}"))).await;
        assert_eq!(r["accepted"], 1);
        ids.push(id);
    }
    assert_eq!(status(&mut ac, &ids[0]).await["state"], "queued");

    let (mut bc, ds) = reconnect_expecting_backlog(&b, &bob, 5).await;
    let got: Vec<&String> = ds.iter().map(|d| &d.id).collect();
    assert_eq!(got, ids.iter().collect::<Vec<_>>(), "backlog in send order");
    for (i, d) in ds.iter().enumerate() {
        assert_eq!(open(&bob, &d.params), format!("offline {i}"));
        assert_eq!(d.attempt, 1);
        assert_eq!(d.from, alice.id());
    }
    assert_eq!(ack(&mut bc, &ds.iter().collect::<Vec<_>>()).await, 5);
    for id in &ids {
        let st = status(&mut ac, id).await;
        assert_eq!(st["state"], "delivered", "{st}");
        assert!(st["recipients"][0]["delivered_at_ms"].as_u64().is_some(), "{st}");
    }
    bc.close().await;

    let (mut bc, ds) = reconnect_expecting_backlog(&b, &bob, 0).await;
    assert!(ds.is_empty());
    assert!(
        deliveries_within(&mut bc, Duration::from_millis(300)).await.is_empty(),
        "acked messages are not redelivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_sigkill_mid_burst_loses_nothing_acknowledged() {
    const TOTAL: usize = 500;
    const KILL_AFTER: usize = 200;
    const WINDOW: usize = 32;
    let mut b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;

    // Every message and its exact send params (a real client retries with the same id).
    let ids: Vec<String> = (0..TOTAL).map(|_| new_msg_id()).collect();
    let index: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
    let params: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| send_params(&alice, id, "bob", &[bob.id()], &format!("burst {i}")))
        .collect();

    // Bob receives and acks while the burst runs, until the broker dies under him.
    let bob_task = tokio::spawn(async move {
        let mut log: Vec<Delivery> = Vec::new();
        let mut acked: HashSet<String> = HashSet::new();
        while let Some(d) = next_delivery(&mut bc, Duration::from_secs(30)).await {
            let id = d.id.clone();
            let seq = d.delivery;
            log.push(d);
            match bc.try_call("message.ack", json!({"deliveries": [seq]})).await {
                Ok(Ok(r)) => {
                    assert!(r["acked"].as_u64().is_some());
                    acked.insert(id);
                }
                Ok(Err(e)) => panic!("ack refused: {e:?}"),
                Err(_) => break, // the broker died before answering: this ack is unknown
            }
        }
        (log, acked)
    });

    // Pipelined burst; SIGKILL once KILL_AFTER sends have been acknowledged, with up to WINDOW still in flight.
    let mut confirmed: Vec<Option<Value>> = vec![None; TOTAL];
    let mut by_req: HashMap<u64, usize> = HashMap::new();
    let (mut next, mut results) = (0usize, 0usize);
    loop {
        while next < TOTAL && by_req.len() < WINDOW {
            let Some(req) = ac.try_send_request("message.send", params[next].clone()).await else { break };
            by_req.insert(req, next);
            next += 1;
        }
        if results >= KILL_AFTER && b.is_running() {
            b.kill9().await;
        }
        if by_req.is_empty() && next >= TOTAL {
            break;
        }
        match ac.next_response(Duration::from_secs(15)).await {
            Ok(frame) => {
                let i = by_req.remove(&frame["id"].as_u64().expect("numeric id")).expect("a response to our request");
                let r = frame.get("result").unwrap_or_else(|| panic!("send {i} failed: {frame}"));
                assert_eq!(r["accepted"].as_u64().unwrap_or(0) + r["duplicates"].as_u64().unwrap_or(0), 1, "{r}");
                confirmed[i] = Some(r.clone());
                results += 1;
            }
            Err(closed) => {
                assert!(!b.is_running(), "the connection ended while the broker ran: {closed:?}");
                break;
            }
        }
    }
    assert!(!b.is_running(), "the broker must have been killed mid-burst");
    let confirmed_before_kill: HashSet<usize> = (0..TOTAL).filter(|i| confirmed[*i].is_some()).collect();
    assert!(
        confirmed_before_kill.len() >= KILL_AFTER && confirmed_before_kill.len() < TOTAL,
        "{}",
        confirmed_before_kill.len()
    );
    let (log_before, acked_before) = bob_task.await.expect("bob's task");

    b.restart().await;

    // Alice reconnects with the same session and retries every id that got no result.
    let (mut ac, _) = alice.connect(&b).await;
    let mut newly_accepted_on_retry: Vec<usize> = Vec::new();
    let unconfirmed: Vec<usize> = (0..TOTAL).filter(|i| confirmed[*i].is_none()).collect();
    for i in unconfirmed {
        let r = ac.ok("message.send", params[i].clone()).await;
        let (acc, dup) = (r["accepted"].as_u64().unwrap_or(9), r["duplicates"].as_u64().unwrap_or(9));
        assert_eq!(acc + dup, 1, "{r}");
        if acc == 1 {
            newly_accepted_on_retry.push(i);
        }
        confirmed[i] = Some(r);
    }

    // Bob reconnects and collects until he has every message, acking each as it arrives.
    let (mut bc, hello) = bob.connect(&b).await;
    let backlog = hello["backlog"].as_u64().expect("backlog");
    let mut inbox: HashSet<String> = log_before.iter().map(|d| d.id.clone()).collect();
    let mut first_arrival: Vec<usize> = Vec::new();
    {
        let mut seen = HashSet::new();
        for d in &log_before {
            if seen.insert(d.id.clone()) {
                first_arrival.push(index[&d.id]);
            }
        }
    }
    let mut acked_after = HashSet::new();
    let mut redelivered_after_ack = Vec::new();
    let mut after = 0u64;
    let until = Instant::now() + Duration::from_secs(30);
    while inbox.len() < TOTAL {
        let d = next_delivery(&mut bc, until.saturating_duration_since(Instant::now()))
            .await
            .unwrap_or_else(|| panic!("bob has {} of {TOTAL} messages; backlog was {backlog}", inbox.len()));
        after += 1;
        assert!(index.contains_key(&d.id), "a message nobody sent: {}", d.id);
        if acked_before.contains(&d.id) || acked_after.contains(&d.id) {
            redelivered_after_ack.push(d.id.clone());
        }
        if inbox.insert(d.id.clone()) {
            first_arrival.push(index[&d.id]);
        }
        bc.ok("message.ack", json!({"deliveries": [d.delivery]})).await;
        acked_after.insert(d.id);
    }
    assert!(redelivered_after_ack.is_empty(), "acked messages came back after the restart: {redelivered_after_ack:?}");
    assert_eq!(inbox.len(), TOTAL, "every acknowledged message arrived");
    assert_eq!(first_arrival.len(), TOTAL, "exactly once after dedup by id");

    // Per-sender order: messages acknowledged before the kill were committed in send order, and the ones first
    // stored by a retry were committed after them, in retry order.
    let pre: Vec<usize> = first_arrival.iter().copied().filter(|i| confirmed_before_kill.contains(i)).collect();
    assert!(pre.windows(2).all(|w| w[0] < w[1]), "first arrivals out of send order: {pre:?}");
    let retried: Vec<usize> = first_arrival.iter().copied().filter(|i| newly_accepted_on_retry.contains(i)).collect();
    assert_eq!(retried, newly_accepted_on_retry, "retried messages arrive in retry order");
    if let (Some(last_pre), Some(first_retry)) = (
        first_arrival.iter().rposition(|i| confirmed_before_kill.contains(i)),
        first_arrival.iter().position(|i| newly_accepted_on_retry.contains(i)),
    ) {
        assert!(last_pre < first_retry, "messages stored by a retry must come after everything stored before the kill");
    }

    // Nothing is pending any more, and nothing comes back on a new connection.
    bc.close().await;
    let (_bc, ds) = reconnect_expecting_backlog(&b, &bob, 0).await;
    assert!(ds.is_empty());
    eprintln!(
        "sigkill: {} confirmed before the kill, {} retried ({} newly stored), bob got {} before and {after} after the restart",
        confirmed_before_kill.len(),
        TOTAL - confirmed_before_kill.len(),
        newly_accepted_on_retry.len(),
        log_before.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_before_ack_redelivers() {
    let b = Broker::start(&["--ack-timeout", "1s"]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;

    // Part 1: received, not acked, disconnected → redelivered on the next connection; never duplicated in the inbox.
    let ids: Vec<String> = (0..3).map(|_| new_msg_id()).collect();
    for (i, id) in ids.iter().enumerate() {
        ac.ok("message.send", send_params(&alice, id, "bob", &[bob.id()], &format!("unacked {i}"))).await;
    }
    let first = take_deliveries(&mut bc, 3, WAIT).await;
    assert_eq!(first.iter().map(|d| &d.id).collect::<Vec<_>>(), ids.iter().collect::<Vec<_>>());
    let mut inbox: HashMap<String, String> = HashMap::new();
    for d in &first {
        assert_eq!(d.attempt, 1);
        inbox.entry(d.id.clone()).or_insert_with(|| open(&bob, &d.params));
    }
    bc.close().await;

    let (mut bc, again) = reconnect_expecting_backlog(&b, &bob, 3).await;
    assert_eq!(
        again.iter().map(|d| &d.id).collect::<Vec<_>>(),
        ids.iter().collect::<Vec<_>>(),
        "same messages, same order"
    );
    for (d, d0) in again.iter().zip(&first) {
        assert!(d.attempt >= 2, "a redelivery says so: {:?}", d.params);
        assert_eq!(d.delivery, d0.delivery, "same delivery row");
        assert_eq!(open(&bob, &d.params), inbox[&d.id]);
        inbox.entry(d.id.clone()).or_insert_with(|| unreachable!("deduplicated by id"));
    }
    assert_eq!(inbox.len(), 3);
    assert_eq!(ack(&mut bc, &again.iter().collect::<Vec<_>>()).await, 3);
    let st = status(&mut ac, &ids[0]).await;
    assert_eq!(st["state"], "delivered");
    assert!(st["recipients"][0]["attempts"].as_u64().unwrap_or(0) >= 2, "{st}");
    bc.close().await;
    let (mut bc, ds) = reconnect_expecting_backlog(&b, &bob, 0).await;
    assert!(ds.is_empty());

    // Part 2: on a live connection, an unacked delivery is pushed again after the ack timeout (1 s).
    let m4 = new_msg_id();
    ac.ok("message.send", send_params(&alice, &m4, "bob", &[bob.id()], "ack me")).await;
    let d1 = next_delivery(&mut bc, WAIT).await.expect("first push");
    assert_eq!((d1.id.as_str(), d1.attempt), (m4.as_str(), 1));
    let pushed_at = Instant::now();
    let d2 = next_delivery(&mut bc, Duration::from_secs(6)).await.expect("pushed again without an ack");
    assert_eq!((d2.id.as_str(), d2.delivery, d2.attempt), (m4.as_str(), d1.delivery, 2));
    assert!(pushed_at.elapsed() >= Duration::from_millis(700), "not before the ack timeout: {:?}", pushed_at.elapsed());
    assert_eq!(ack(&mut bc, &[&d2]).await, 1);
    // After the ack, no further push (wait two ack timeouts).
    let late = deliveries_within(&mut bc, Duration::from_millis(2500)).await;
    assert!(late.is_empty(), "pushed again after the ack: {late:?}");
    bc.close().await;
    let (_bc, ds) = reconnect_expecting_backlog(&b, &bob, 0).await;
    assert!(ds.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expiry_reported_in_status() {
    let b = Broker::start(&["--sweep-interval", "200ms"]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    bc.close().await;

    let short = new_msg_id();
    let mut p = send_params(&alice, &short, "bob", &[bob.id()], "gone soon");
    p["ttl_secs"] = json!(1);
    let sent_at = now_ms();
    let r = ac.ok("message.send", p).await;
    let exp = r["expires_at_ms"].as_u64().expect("expires_at_ms");
    assert!(exp >= sent_at + 900 && exp <= now_ms() + 1100, "expires about 1 s after the send: {r}");
    assert_eq!(status(&mut ac, &short).await["state"], "queued");

    let until = Instant::now() + Duration::from_secs(10);
    let st = loop {
        let st = status(&mut ac, &short).await;
        if st["state"] == "expired" {
            break st;
        }
        assert!(Instant::now() < until, "still not expired after 10 s: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(st["recipients"][0]["state"], "expired", "{st}");
    assert_eq!(st["recipients"][0]["peer"], bob.id());
    // The sweeper has run (or runs shortly): the metric counts it.
    let until = Instant::now() + Duration::from_secs(5);
    while metric(&http_get(b.port, "/metrics").1, "claudemesh_messages_expired_total").unwrap_or(0.0) < 1.0 {
        assert!(Instant::now() < until, "the sweeper never expired the delivery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A control message with the default TTL is delivered; the expired one is not.
    let control = new_msg_id();
    ac.ok("message.send", send_params(&alice, &control, "bob", &[bob.id()], "still here")).await;
    let (_bc, ds) = reconnect_expecting_backlog(&b, &bob, 1).await;
    assert_eq!(ds[0].id, control);
    assert_eq!(status(&mut ac, &short).await["state"], "expired", "expired stays expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_inside_grace_is_invisible() {
    const GRACE: Duration = Duration::from_secs(3);
    let b = Broker::start(&["--grace", "3s"]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    let joined = ac.next_notification("peer.joined", WAIT).await.expect("alice sees bob join");
    assert_eq!(joined["peer"]["id"], bob.id());
    ac.take_notes();

    // Bob drops and comes back at once. His clean close completes at once (the broker must not hold the
    // closed connection open for the grace window).
    let dropped = Instant::now();
    bc.close().await;
    assert!(dropped.elapsed() < Duration::from_secs(1), "the close handshake took {:?}", dropped.elapsed());
    let (mut bc, _) = bob.connect(&b).await;
    bc.next_notification("inbox.synced", WAIT).await.expect("synced");
    // Wait until the first disconnect's grace lease would have run out (plus margin): no peer.left may come.
    let left = ac
        .next_notification(
            "peer.left",
            (dropped + GRACE + Duration::from_millis(700)).saturating_duration_since(Instant::now()),
        )
        .await;
    assert!(left.is_none(), "a reconnect inside the grace window emitted peer.left: {left:?}\n{}", b.log_tail());
    // Positive control: an event about bob does reach alice, and nothing else about bob came before it.
    bc.ok("presence.set", json!({"status": "working"})).await;
    let upd = ac.next_notification("peer.updated", WAIT).await.expect("alice sees bob's presence update");
    assert_eq!(upd["peer"]["id"], bob.id());
    assert_eq!(upd["peer"]["status"], "working");
    assert_eq!(upd["peer"]["online"], true);
    let about_bob: Vec<Value> = ac
        .take_notes()
        .into_iter()
        .filter(|n| n["params"]["id"] == bob.id() || n["params"]["peer"]["id"] == bob.id())
        .collect();
    assert!(about_bob.is_empty(), "alice heard about bob's reconnect: {about_bob:?}");

    // Inside the window bob still counts as online.
    bc.close().await;
    let gone = Instant::now();
    let peers = ac.ok("peer.list", json!({})).await;
    let me =
        peers["peers"].as_array().and_then(|ps| ps.iter().find(|p| p["id"] == bob.id())).cloned().expect("bob listed");
    assert_eq!(me["online"], true, "present during the grace window");

    // Staying away past the window announces peer.left.
    let left = ac
        .next_notification("peer.left", GRACE + Duration::from_secs(3))
        .await
        .expect("peer.left after the grace window");
    let waited = gone.elapsed();
    assert_eq!(left["id"], bob.id());
    assert_eq!(left["name"], "bob");
    assert!(waited >= GRACE - Duration::from_millis(300), "peer.left came before the grace window ended: {waited:?}");
    let peers = ac.ok("peer.list", json!({})).await;
    let me = peers["peers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["id"] == bob.id()))
        .cloned()
        .expect("bob still listed");
    assert_eq!(me["online"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_sqlite_holds_no_plaintext() {
    let mut b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    let (carol, cc) = invite_and_join(&b, &alice, &mut ac, "carol").await;
    cc.close().await;

    let delivered_text = format!("CANARY-delivered-{}", uuid::Uuid::new_v4().simple());
    let queued_text = format!("CANARY-queued-{}", uuid::Uuid::new_v4().simple());
    let m1 = new_msg_id();
    ac.ok("message.send", send_params(&alice, &m1, "bob", &[bob.id()], &delivered_text)).await;
    let d = next_delivery(&mut bc, WAIT).await.expect("delivery");
    assert_eq!(open(&bob, &d.params), delivered_text);
    assert_eq!(ack(&mut bc, &[&d]).await, 1);
    let m2 = new_msg_id();
    let p2 = send_params(&alice, &m2, "carol", &[carol.id()], &queued_text);
    let queued_ct = p2["envelopes"][0]["ciphertext"].as_str().expect("ct").to_string();
    ac.ok("message.send", p2).await;
    assert_eq!(status(&mut ac, &m2).await["state"], "queued");

    let exit = b.term(Duration::from_secs(10)).await;
    assert!(exit.success(), "SIGTERM exit: {exit:?}");
    let files: Vec<_> =
        ["broker.db", "broker.db-wal", "broker.db-shm", "broker.db-journal"].iter().map(|f| b.data.join(f)).collect();
    assert!(files[0].exists(), "broker.db exists");
    // Positive control: the raw-bytes search does find what the broker is supposed to store.
    assert!(files.iter().any(|f| file_contains(f, queued_ct.as_bytes())), "the queued ciphertext is stored");
    assert!(files.iter().any(|f| file_contains(f, alice.mesh_id.as_bytes())), "the mesh id is stored");
    for f in &files {
        for text in [&delivered_text, &queued_text] {
            assert!(!file_contains(f, text.as_bytes()), "{} contains the plaintext {text:?}", f.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shutdown_keeps_acknowledged_messages() {
    let mut b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    bc.close().await;

    let ids: Vec<String> = (0..20).map(|_| new_msg_id()).collect();
    for (i, id) in ids.iter().enumerate() {
        let r = ac.ok("message.send", send_params(&alice, id, "bob", &[bob.id()], &format!("kept {i}"))).await;
        assert_eq!(r["accepted"], 1);
    }

    // Nothing may hold the shutdown open (not even grace leases of peers that just left).
    let exit = b.term(Duration::from_secs(10)).await;
    assert!(exit.success(), "the broker exits cleanly on SIGTERM: {exit:?}\n{}", b.log_tail());
    let closed = ac.expect_close(WAIT).await;
    assert_eq!(closed.code, Some(1001), "live connections are closed with 1001 (going away): {closed:?}");

    b.restart().await;
    let (_bc, ds) = reconnect_expecting_backlog(&b, &bob, 20).await;
    assert_eq!(ds.iter().map(|d| &d.id).collect::<Vec<_>>(), ids.iter().collect::<Vec<_>>());
    for (i, d) in ds.iter().enumerate() {
        assert_eq!(open(&bob, &d.params), format!("kept {i}"));
    }
}

/// A control connection (`receive: false`) beside the peer's receiving connection: it neither replaces the
/// receiving one nor gets deliveries, and nobody hears `peer.joined` for it. A second receiving connection does
/// replace the first (close 4000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_connection_does_not_take_over_the_receiving_one() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    ac.settle(Duration::from_millis(200)).await;
    ac.take_notes();

    let mut ctl = Client::connect(b.port).await;
    let mut p = bob.hello_params(&ctl.nonce);
    p["receive"] = json!(false);
    let h = ctl.ok("auth.hello", p).await;
    assert_eq!(h["peer"]["id"], bob.id());
    assert!(ctl.next_notification("inbox.synced", Duration::from_millis(300)).await.is_none(), "control gets no sync");

    let id = new_msg_id();
    ac.ok("message.send", send_params(&alice, &id, "bob", &[bob.id()], "to the receiver")).await;
    let ds = deliveries_within(&mut bc, Duration::from_secs(2)).await;
    assert_eq!(ds.len(), 1, "the receiving connection still gets the message");
    assert!(
        deliveries_within(&mut ctl, Duration::from_millis(300)).await.is_empty(),
        "the control connection gets none"
    );
    assert!(bc.closed.is_none(), "the receiving connection was not replaced");
    ctl.ok("peer.list", json!({})).await;
    assert!(
        ac.take_notes().iter().all(|n| n["method"] != "peer.joined" && n["method"] != "peer.left"),
        "a control connection announces nothing"
    );

    // Positive control: a second receiving connection replaces the first.
    let (_bc2, _) = bob.connect(&b).await;
    assert_eq!(bc.expect_close(Duration::from_secs(3)).await.code, Some(4000));
}

/// A full store (a 1 MiB quota: SQLite answers SQLITE_FULL as on a full disk) refuses new sends with
/// `unavailable` and a clear message, keeps serving everything else, loses nothing it acknowledged, and accepts
/// sends again once space returns (restart without the quota).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_store_refuses_writes_and_loses_nothing_acknowledged() {
    let mut b = Broker::start(&["--max-db-mib", "1"]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    bc.close().await;

    let body = "f".repeat(20_000);
    let mut acknowledged = Vec::new();
    let refusal = loop {
        assert!(acknowledged.len() < 200, "a 1 MiB store never filled up");
        let id = new_msg_id();
        match ac.call("message.send", send_params(&alice, &id, "bob", &[bob.id()], &body)).await {
            Ok(r) => {
                assert_eq!(r["accepted"], 1);
                acknowledged.push(id);
            }
            Err(e) => break e,
        }
    };
    assert_eq!((refusal.code, refusal.reason()), (-32011, "unavailable"), "{refusal:?}");
    assert!(refusal.message.contains("disk is full"), "{refusal:?}");
    assert!(acknowledged.len() >= 5, "some sends fit before the quota: {}", acknowledged.len());
    // Still serving: reads work on the same connection, and the refused send left nothing behind.
    ac.ok("peer.list", json!({})).await;
    assert_eq!(status(&mut ac, &acknowledged[0]).await["state"], "queued");

    // Space returns.
    let exit = b.term(Duration::from_secs(10)).await;
    assert!(exit.success(), "clean shutdown: {exit:?}");
    b.set_extra(&[]);
    b.restart().await;
    let mut ac = alice.connect(&b).await.0;
    let late = new_msg_id();
    ac.ok("message.send", send_params(&alice, &late, "bob", &[bob.id()], "after the disk was freed")).await;
    acknowledged.push(late);

    let (_bc, ds) = reconnect_expecting_backlog(&b, &bob, acknowledged.len() as u64).await;
    let got: Vec<&String> = ds.iter().map(|d| &d.id).collect();
    assert_eq!(got, acknowledged.iter().collect::<Vec<_>>(), "every acknowledged message, once, in order");
}

// ---- receipts beyond "delivered" --------------------------------------------------------------------------------

async fn receipt(c: &mut Client, ids: &[&str], state: &str, via: Option<&str>) -> u64 {
    let mut p = json!({"ids": ids, "state": state});
    if let Some(via) = via {
        p["via"] = json!(via);
    }
    c.ok("message.receipt", p).await["updated"].as_u64().expect("updated")
}

/// The recipient's row for `peer` in a `message.status` result.
fn row<'a>(st: &'a Value, peer: &str) -> &'a Value {
    st["recipients"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["peer"] == peer))
        .unwrap_or_else(|| panic!("no recipient {peer} in {st}"))
}

/// Bob acks, then reports `surfaced via channel` and `read`: the sender's `message.status` follows, the sender's
/// live connection hears each step as `message.receipt`, and a late `surfaced` never moves the copy back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_move_status_forward_and_never_back() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;

    let m = new_msg_id();
    ac.ok("message.send", send_params(&alice, &m, "bob", &[bob.id()], "look at this")).await;
    let d = next_delivery(&mut bc, WAIT).await.expect("delivery");
    assert_eq!(ack(&mut bc, &[&d]).await, 1);
    let note = ac.next_notification("message.receipt", WAIT).await.expect("the sender hears the ack");
    assert_eq!(
        (&note["id"], &note["recipient"], &note["state"], &note["via"]),
        (&json!(m), &json!(bob.id()), &json!("delivered"), &Value::Null),
        "{note}"
    );
    let st = status(&mut ac, &m).await;
    assert_eq!((st["state"].as_str(), row(&st, &bob.id())["surfaced_at_ms"].is_null()), (Some("delivered"), true));
    let delivered_at = row(&st, &bob.id())["delivered_at_ms"].as_u64().expect("delivered_at_ms");

    // An id bob never received rides along and is ignored, not counted.
    let unknown = new_msg_id();
    assert_eq!(receipt(&mut bc, &[&m, &unknown], "surfaced", Some("channel")).await, 1);
    let st = status(&mut ac, &m).await;
    assert_eq!(st["state"], "surfaced", "{st}");
    let r = row(&st, &bob.id());
    assert_eq!((r["state"].as_str(), r["surfaced_via"].as_str()), (Some("surfaced"), Some("channel")), "{st}");
    let surfaced_at = r["surfaced_at_ms"].as_u64().expect("surfaced_at_ms");
    assert!(surfaced_at >= delivered_at, "{st}");
    assert!(r["read_at_ms"].is_null(), "{st}");
    assert_eq!(r["delivered_at_ms"].as_u64(), Some(delivered_at), "the delivery time is kept");
    let note = ac.next_notification("message.receipt", WAIT).await.expect("the sender hears the receipt");
    assert_eq!(
        (&note["id"], &note["recipient"], &note["state"], &note["via"]),
        (&json!(m), &json!(bob.id()), &json!("surfaced"), &json!("channel")),
        "{note}"
    );
    assert_eq!(note["at_ms"].as_u64(), Some(surfaced_at), "{note}");

    assert_eq!(receipt(&mut bc, &[&m], "read", Some("hook")).await, 1);
    let st = status(&mut ac, &m).await;
    assert_eq!(st["state"], "read", "{st}");
    let r = row(&st, &bob.id());
    assert_eq!(r["state"], "read");
    assert!(r["read_at_ms"].as_u64().is_some_and(|at| at >= surfaced_at), "{st}");
    assert_eq!(r["surfaced_via"], "channel", "read keeps how it was surfaced: {st}");
    let note = ac.next_notification("message.receipt", WAIT).await.expect("the sender hears the read");
    assert_eq!((&note["state"], &note["via"]), (&json!("read"), &json!("hook")), "{note}");

    // Late or repeated receipts change nothing and tell the sender nothing.
    assert_eq!(receipt(&mut bc, &[&m], "surfaced", Some("inbox_socket")).await, 0);
    assert_eq!(receipt(&mut bc, &[&m], "read", None).await, 0);
    let after = status(&mut ac, &m).await;
    assert_eq!(after["state"], "read", "a later surfaced does not move it back: {after}");
    assert_eq!(row(&after, &bob.id()), row(&st, &bob.id()), "the row is unchanged");
    // A ping round trip orders the check: any notification sent before its reply is already buffered.
    ac.ping().await;
    assert!(ac.take_notes().iter().all(|n| n["method"] != "message.receipt"), "no receipt for a no-op");
}

/// Receipts change only the caller's own copy: a session that is not the recipient (the sender itself, another
/// recipient of the same message, a bystander) moves nothing, and the overall state waits for the slowest copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_from_someone_else_changes_nothing() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    let (carol, mut cc) = invite_and_join(&b, &alice, &mut ac, "carol").await;
    let (_dave, mut dc) = invite_and_join(&b, &alice, &mut ac, "dave").await;

    let m = new_msg_id();
    ac.ok("message.send", send_params(&alice, &m, "*", &[bob.id(), carol.id()], "for two")).await;
    for c in [&mut bc, &mut cc] {
        let d = next_delivery(c, WAIT).await.expect("delivery");
        assert_eq!(ack(c, &[&d]).await, 1);
    }
    let before = status(&mut ac, &m).await;
    assert_eq!(before["state"], "delivered", "{before}");

    assert_eq!(receipt(&mut ac, &[&m], "read", Some("cli")).await, 0, "the sender is not a recipient");
    assert_eq!(receipt(&mut dc, &[&m], "surfaced", Some("channel")).await, 0, "a bystander");
    assert_eq!(status(&mut ac, &m).await["recipients"], before["recipients"], "nothing changed");

    // Carol's receipt moves only carol's copy; bob's copy holds the overall state back.
    assert_eq!(receipt(&mut cc, &[&m], "read", Some("cli")).await, 1);
    let st = status(&mut ac, &m).await;
    assert_eq!(row(&st, &carol.id())["state"], "read", "{st}");
    assert!(row(&st, &carol.id())["surfaced_at_ms"].is_null(), "read without surfaced: {st}");
    assert_eq!(row(&st, &bob.id()), row(&before, &bob.id()), "bob's copy is untouched: {st}");
    assert_eq!(st["state"], "delivered", "the least advanced copy: {st}");

    assert_eq!(receipt(&mut bc, &[&m], "surfaced", Some("inbox_socket")).await, 1);
    let st = status(&mut ac, &m).await;
    assert_eq!(
        (st["state"].as_str(), row(&st, &bob.id())["surfaced_via"].as_str()),
        (Some("surfaced"), Some("inbox_socket"))
    );
    assert_eq!(receipt(&mut bc, &[&m], "read", None).await, 1);
    assert_eq!(status(&mut ac, &m).await["state"], "read");
}

/// A receipt for a copy the broker still counts as queued (the ack was lost) proves it arrived: it is delivered
/// then too, and never pushed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipt_for_a_queued_copy_counts_as_delivered() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;

    let m = new_msg_id();
    let sent_at = now_ms();
    ac.ok("message.send", send_params(&alice, &m, "bob", &[bob.id()], "never acked")).await;
    let d = next_delivery(&mut bc, WAIT).await.expect("delivery");
    assert_eq!(d.id, m);
    assert_eq!(status(&mut ac, &m).await["state"], "queued");

    assert_eq!(receipt(&mut bc, &[&m], "surfaced", Some("channel")).await, 1);
    let st = status(&mut ac, &m).await;
    let r = row(&st, &bob.id());
    assert_eq!((st["state"].as_str(), r["state"].as_str()), (Some("surfaced"), Some("surfaced")), "{st}");
    assert!(r["delivered_at_ms"].as_u64().is_some_and(|at| at >= sent_at), "delivered_at is set: {st}");
    assert_eq!(r["delivered_at_ms"], r["surfaced_at_ms"], "{st}");
    // The late ack finds nothing left to acknowledge, and nothing comes back on the next connection.
    assert_eq!(ack(&mut bc, &[&d]).await, 0);
    bc.close().await;
    let (_bc, ds) = reconnect_expecting_backlog(&b, &bob, 0).await;
    assert!(ds.is_empty(), "{ds:?}");
}

/// The schema of the first release (user_version 1), verbatim.
const SCHEMA_V1: &str = "BEGIN;
    CREATE TABLE meshes(id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_key TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE members(mesh_id TEXT NOT NULL REFERENCES meshes(id), member_key TEXT NOT NULL, role TEXT NOT NULL,
        name TEXT NOT NULL, joined_at INTEGER NOT NULL, invite_id TEXT, PRIMARY KEY(mesh_id, member_key));
    CREATE TABLE peers(mesh_id TEXT NOT NULL, session_key TEXT NOT NULL, member_key TEXT NOT NULL, name TEXT NOT NULL,
        attest_at INTEGER NOT NULL, attest_sig TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'idle',
        summary TEXT NOT NULL DEFAULT '', visible INTEGER NOT NULL DEFAULT 1, groups TEXT NOT NULL DEFAULT '[]',
        last_seen INTEGER NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY(mesh_id, session_key), UNIQUE(mesh_id, name));
    CREATE TABLE invites(id TEXT PRIMARY KEY, mesh_id TEXT NOT NULL, issuer TEXT NOT NULL, role TEXT NOT NULL,
        expires_at INTEGER NOT NULL, max_uses INTEGER NOT NULL, uses INTEGER NOT NULL DEFAULT 0, token TEXT NOT NULL,
        created_at INTEGER NOT NULL, revoked_at INTEGER);
    CREATE TABLE messages(mesh_id TEXT NOT NULL, sender TEXT NOT NULL, id TEXT NOT NULL, sender_member TEXT NOT NULL,
        to_spec TEXT NOT NULL, priority TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        PRIMARY KEY(mesh_id, sender, id));
    CREATE TABLE deliveries(seq INTEGER PRIMARY KEY AUTOINCREMENT, mesh_id TEXT NOT NULL, sender TEXT NOT NULL,
        msg_id TEXT NOT NULL, recipient TEXT NOT NULL, nonce TEXT, ciphertext TEXT, state INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, delivered_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
        UNIQUE(mesh_id, sender, msg_id, recipient));
    CREATE INDEX deliveries_pending ON deliveries(mesh_id, recipient, state, seq);
    CREATE INDEX deliveries_expiry ON deliveries(state, expires_at);
    PRAGMA user_version = 1;
    COMMIT;";

/// A database written by the previous schema (v1), holding a mesh, two peers, one delivered and one queued
/// message, opens under the new broker: it migrates to v2, serves the old data, takes receipts, and keeps them
/// across a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_database_migrates_and_takes_receipts() {
    let mesh_id = uuid::Uuid::new_v4().hyphenated().to_string();
    let alice = Ident::new(&mesh_id, "team", "alice");
    let bob = Ident::new(&mesh_id, "team", "bob");
    let (old, queued) = (new_msg_id(), new_msg_id());
    let t0 = now_ms() - 60_000;
    let expires = now_ms() + 3_600_000;
    let env = envelope(&alice, &bob.id(), &queued, "written before the upgrade");
    let mut b = Broker::start_on_prepared(&[], |data| {
        let c = rusqlite::Connection::open(data.join("broker.db")).expect("open a v1 database");
        c.execute_batch(SCHEMA_V1).expect("v1 schema");
        let (a_mem, a_ses, b_mem, b_ses) = (alice.member.hex(), alice.id(), bob.member.hex(), bob.id());
        c.execute("INSERT INTO meshes VALUES(?1,'team',?2,?3)", rusqlite::params![mesh_id, a_mem, t0]).expect("mesh");
        for (member, role, name) in [(&a_mem, "owner", "alice"), (&b_mem, "member", "bob")] {
            c.execute(
                "INSERT INTO members(mesh_id,member_key,role,name,joined_at) VALUES(?1,?2,?3,?4,?5)",
                rusqlite::params![mesh_id, member, role, name, t0],
            )
            .expect("member");
        }
        for (session, member, name) in [(&a_ses, &a_mem, "alice"), (&b_ses, &b_mem, "bob")] {
            c.execute(
                "INSERT INTO peers(mesh_id,session_key,member_key,name,attest_at,attest_sig,last_seen,created_at)
                 VALUES(?1,?2,?3,?4,?5,'00',?5,?5)",
                rusqlite::params![mesh_id, session, member, name, t0],
            )
            .expect("peer");
        }
        for id in [&old, &queued] {
            c.execute(
                "INSERT INTO messages VALUES(?1,?2,?3,?4,'bob','next',?5,?6)",
                rusqlite::params![mesh_id, a_ses, id, a_mem, t0, expires],
            )
            .expect("message");
        }
        c.execute(
            "INSERT INTO deliveries(mesh_id,sender,msg_id,recipient,state,created_at,expires_at,delivered_at,attempts)
             VALUES(?1,?2,?3,?4,1,?5,?6,?7,1)",
            rusqlite::params![mesh_id, a_ses, old, b_ses, t0, expires, t0 + 5],
        )
        .expect("delivered row");
        c.execute(
            "INSERT INTO deliveries(mesh_id,sender,msg_id,recipient,nonce,ciphertext,created_at,expires_at)
             VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
            rusqlite::params![
                mesh_id,
                a_ses,
                queued,
                b_ses,
                env["nonce"].as_str(),
                env["ciphertext"].as_str(),
                t0,
                expires
            ],
        )
        .expect("queued row");
    })
    .await;

    let (mut ac, _) = alice.connect(&b).await;
    let st = status(&mut ac, &old).await;
    assert_eq!(st["state"], "delivered", "{st}");
    let r = row(&st, &bob.id());
    assert_eq!(r["delivered_at_ms"].as_u64(), Some(t0 + 5), "{st}");
    assert!(r["surfaced_at_ms"].is_null() && r["surfaced_via"].is_null() && r["read_at_ms"].is_null(), "{st}");
    assert_eq!(status(&mut ac, &queued).await["state"], "queued");

    let (mut bc, ds) = reconnect_expecting_backlog(&b, &bob, 1).await;
    assert_eq!(open(&bob, &ds[0].params), "written before the upgrade");
    assert_eq!(ack(&mut bc, &[&ds[0]]).await, 1);
    assert_eq!(receipt(&mut bc, &[&old, &queued], "surfaced", Some("inbox_socket")).await, 2);
    assert_eq!(receipt(&mut bc, &[&old], "read", Some("hook")).await, 1);
    let version: i64 = rusqlite::Connection::open(b.db_path())
        .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
        .expect("read user_version");
    assert_eq!(version, 6, "v6 keys messages by (mesh, id, sender) in one B-tree");
    let indexed: i64 = rusqlite::Connection::open(b.db_path())
        .and_then(|c| {
            c.query_row("SELECT COUNT(*) FROM pragma_index_list('messages') WHERE origin='pk'", [], |r| r.get(0))
        })
        .expect("read the schema");
    assert_eq!(indexed, 1, "messages are found by (mesh, id) through their primary key");

    // The receipts are durable and the migrated database opens again as it is.
    let exit = b.term(Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit:?}");
    b.restart().await;
    let (mut ac, _) = alice.connect(&b).await;
    let st = status(&mut ac, &old).await;
    assert_eq!(
        (st["state"].as_str(), row(&st, &bob.id())["surfaced_via"].as_str()),
        (Some("read"), Some("inbox_socket"))
    );
    let st = status(&mut ac, &queued).await;
    assert_eq!(st["state"], "surfaced", "{st}");
}
