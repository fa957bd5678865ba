//! Schedules against a real `claudemesh broker` process (tests/wire): a one-shot fires exactly once across
//! restarts, a cron schedule fires once per due time while the test advances the broker's schedule clock
//! (`--test-clock`), cancel stops it, a self-schedule lands in the caller's own inbox, and bad input is refused.
//! The last test goes through real daemons (tests/support): the daemon seals the text, the recipient's daemon
//! opens it under the fire id and lists it in `inbox.list`.

mod support;
mod wire;

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crypto_box::aead::Aead;
use crypto_box::aead::generic_array::GenericArray;
use serde_json::{Value, json};
use wire::*;

const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;
const HOUR: u64 = 3_600_000;

/// Seals `text` from `from` to each of `to_hex` as a scheduled message (kind `schedule`) with sealed id `sealed`.
fn sealed_send(from: &Ident, sealed: &str, to: &str, to_hex: &[String], text: &str) -> Value {
    let body =
        json!({"v": 1, "id": sealed, "mesh": from.mesh_id, "kind": "schedule", "body": text, "sent_at_ms": now_ms()});
    let envelopes: Vec<Value> = to_hex
        .iter()
        .map(|r| {
            let nonce = random::<24>();
            let ct = crypto_box::SalsaBox::new(&box_public(r), &from.session.box_secret())
                .encrypt(GenericArray::from_slice(&nonce), body.to_string().as_bytes())
                .expect("seal");
            json!({"to": r, "nonce": STANDARD.encode(nonce), "ciphertext": STANDARD.encode(ct)})
        })
        .collect();
    json!({"id": sealed, "to": to, "priority": "next", "envelopes": envelopes})
}

/// Opens a scheduled delivery as `me`: returns (sealed id, text).
fn open_scheduled(me: &Ident, d: &Value) -> (String, String) {
    let nonce = STANDARD.decode(d["nonce"].as_str().expect("nonce")).expect("nonce base64");
    let ct = STANDARD.decode(d["ciphertext"].as_str().expect("ciphertext")).expect("ciphertext base64");
    let plain = crypto_box::SalsaBox::new(&box_public(d["from"].as_str().expect("from")), &me.session.box_secret())
        .decrypt(GenericArray::from_slice(&nonce), ct.as_slice())
        .expect("the envelope opens under the sender's key");
    let body: Value = serde_json::from_slice(&plain).expect("sealed body is JSON");
    assert_eq!(body["kind"], "schedule");
    assert_eq!(body["mesh"], me.mesh_id.as_str());
    (body["id"].as_str().expect("id").to_string(), body["body"].as_str().expect("body").to_string())
}

/// The millisecond timestamp of a UUIDv7 (a fire id carries its due time there).
fn uuid_ms(id: &str) -> u64 {
    u64::from_str_radix(&id.replace('-', "")[..12], 16).expect("uuid hex")
}

async fn ack(c: &mut Client, d: &Delivery) {
    c.ok("message.ack", json!({"deliveries": [d.delivery]})).await;
}

async fn schedules(c: &mut Client) -> Vec<Value> {
    c.ok("schedule.list", json!({})).await["schedules"].as_array().expect("schedules").clone()
}

#[tokio::test]
async fn a_one_shot_due_across_a_restart_fires_exactly_once() {
    let mut b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    let sealed = new_msg_id();
    let at = now_ms() + 2_000;
    let s = ac
        .ok(
            "schedule.create",
            json!({"send": sealed_send(&alice, &sealed, "bob", &[bob.id()], "stand-up"), "at_ms": at}),
        )
        .await;
    assert_eq!((s["kind"].as_str(), s["next_due_ms"].as_u64(), s["fired"].as_u64()), (Some("once"), Some(at), Some(0)));
    b.kill9().await;
    drop((ac, bc));
    // The due time passes while the broker is down.
    let until = deadline(Duration::from_secs(10));
    while now_ms() <= at {
        assert!(tokio::time::Instant::now() < until, "the clock did not pass the due time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.restart().await;
    let (mut bc, _) = bob.connect(&b).await;
    let d = next_delivery(&mut bc, WAIT).await.expect("the missed fire arrives after the restart");
    assert_eq!(open_scheduled(&bob, &d.params), (sealed.clone(), "stand-up".into()));
    assert_eq!(uuid_ms(&d.id), at, "delivered under the fire id of its due time");
    assert_ne!(d.id, sealed);
    ack(&mut bc, &d).await;
    let (mut ac, _) = alice.connect(&b).await;
    let list = schedules(&mut ac).await;
    assert_eq!((list[0]["fired"].as_u64(), list[0]["active"].as_bool()), (Some(1), Some(false)));
    assert!(list[0]["next_due_ms"].is_null());
    drop((ac, bc));
    // Another restart: nothing fires again.
    b.term(Duration::from_secs(10)).await;
    b.restart().await;
    let (mut bc, hello) = bob.connect(&b).await;
    assert_eq!(hello["backlog"], 0, "no second copy after another restart: {hello}");
    let synced = bc.next_notification("inbox.synced", WAIT).await.expect("inbox.synced");
    assert_eq!(synced["count"], 0);
}

#[tokio::test]
async fn a_cron_schedule_fires_once_per_due_time_and_cancel_stops_it() {
    let b = Broker::start(&["--test-clock"]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    let sealed = new_msg_id();
    let send = sealed_send(&alice, &sealed, "bob", &[bob.id()], "hourly check");
    let s = ac.ok("schedule.create", json!({"send": send, "cron": "0 * * * *", "utc_offset_min": 60})).await;
    assert_eq!(s["kind"], "cron");
    let mut due = s["next_due_ms"].as_u64().expect("next due");
    assert_eq!(due % HOUR, 0, "on the hour");
    let mut now = ac.ok("debug.clock.advance", json!({"ms": 0})).await["now_ms"].as_u64().expect("now");
    let mut ids = HashSet::new();
    for k in 1..=5u64 {
        let started = std::time::Instant::now();
        let ms = due.saturating_sub(now) + 1;
        now = ac.ok("debug.clock.advance", json!({"ms": ms})).await["now_ms"].as_u64().expect("now");
        let d = next_delivery(&mut bc, WAIT).await.unwrap_or_else(|| panic!("fire {k} did not arrive"));
        eprintln!("fire {k}: delivered {:?} after the clock passed its due time", started.elapsed());
        assert_eq!(open_scheduled(&bob, &d.params), (sealed.clone(), "hourly check".into()));
        assert_eq!(uuid_ms(&d.id), due, "fire {k} is delivered under its own due time");
        assert!(ids.insert(d.id.clone()), "fire {k} has a new id");
        ack(&mut bc, &d).await;
        let listed = schedules(&mut ac).await;
        assert_eq!(listed[0]["fired"].as_u64(), Some(k));
        let next = listed[0]["next_due_ms"].as_u64().expect("next due");
        assert_eq!(next, due + HOUR, "the next hour, none skipped");
        due = next;
    }
    // Nothing else arrived: no fire was doubled.
    bc.ok("inbox.sync", json!({})).await;
    assert!(bc.take_notes().iter().all(|n| n["method"] != "message.deliver"));

    // Cancel it; a one-shot due at the same time proves the loop ran past that due time.
    let id = s["id"].as_str().expect("id");
    assert_eq!(ac.ok("schedule.cancel", json!({"id": id})).await["cancelled"], true);
    assert_eq!(ac.ok("schedule.cancel", json!({"id": id})).await["cancelled"], false);
    let marker = new_msg_id();
    let send = sealed_send(&alice, &marker, "bob", &[bob.id()], "marker");
    ac.ok("schedule.create", json!({"send": send, "at_ms": due})).await;
    ac.ok("debug.clock.advance", json!({"ms": due.saturating_sub(now) + 1})).await;
    let d = next_delivery(&mut bc, WAIT).await.expect("the marker fires");
    assert_eq!(open_scheduled(&bob, &d.params).1, "marker", "the cancelled schedule did not fire");
    ack(&mut bc, &d).await;
    bc.ok("inbox.sync", json!({})).await;
    assert!(bc.take_notes().iter().all(|n| n["method"] != "message.deliver"));
    let listed = schedules(&mut ac).await;
    let cancelled = listed.iter().find(|s| s["id"] == id).expect("listed");
    assert_eq!((cancelled["fired"].as_u64(), cancelled["active"].as_bool()), (Some(5), Some(false)));
    // Bob sees only his own schedules (none); cancelling another member's is forbidden.
    assert!(schedules(&mut bc).await.is_empty());
    bc.err("schedule.cancel", json!({"id": id}), -32003).await;
    bc.err("schedule.cancel", json!({"id": "aaaaaaaaaaaa"}), -32004).await;
}

#[tokio::test]
async fn a_self_schedule_lands_in_the_callers_own_inbox() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let sealed = new_msg_id();
    let send = sealed_send(&alice, &sealed, "self", &[alice.id()], "drink water");
    ac.ok("schedule.create", json!({"send": send, "at_ms": now_ms()})).await;
    let d = next_delivery(&mut ac, WAIT).await.expect("the reminder reaches its creator");
    assert_eq!(d.from, alice.id());
    assert_eq!(open_scheduled(&alice, &d.params), (sealed, "drink water".into()));
}

#[tokio::test]
async fn bad_schedules_are_refused_and_the_clock_cannot_be_moved_without_the_test_flag() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (bob, _bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;
    let send = || sealed_send(&alice, &new_msg_id(), "bob", &[bob.id()], "x");
    let now = now_ms();
    for (params, what) in [
        (json!({"send": send()}), "neither at_ms nor cron"),
        (json!({"send": send(), "at_ms": now + 5_000, "cron": "* * * * *"}), "both"),
        (json!({"send": send(), "at_ms": now - HOUR}), "in the past"),
        (json!({"send": send(), "at_ms": now + 11 * 366 * 24 * HOUR}), "too far ahead"),
        (json!({"send": send(), "cron": "61 * * * *"}), "minute out of range"),
        (json!({"send": send(), "cron": "* * * *"}), "four fields"),
        (json!({"send": send(), "cron": "0 0 30 2 *"}), "never fires"),
        (json!({"send": send(), "cron": "0 * * * *", "utc_offset_min": 900}), "offset"),
        (json!({"send": send(), "cron": "x".repeat(200)}), "long cron"),
        (json!({"send": {"id": new_msg_id(), "to": "bob", "envelopes": []}, "at_ms": now + 5_000}), "no envelopes"),
        (json!({"send": send(), "at_ms": now + 5_000, "extra": 1}), "unknown field"),
    ] {
        let e = ac.err("schedule.create", params, INVALID_PARAMS).await;
        assert!(!e.message.is_empty(), "{what}");
    }
    let stranger = Ident::new(&alice.mesh_id, "team", "nobody");
    let e = ac
        .err(
            "schedule.create",
            json!({"send": sealed_send(&alice, &new_msg_id(), "nobody", &[stranger.id()], "x"), "at_ms": now + 5_000}),
            INVALID_PARAMS,
        )
        .await;
    assert!(e.message.contains("unknown recipient"), "{e:?}");
    // A retried create (same sealed id) is the same schedule.
    let once = send();
    let first = ac.ok("schedule.create", json!({"send": once.clone(), "at_ms": now + HOUR})).await;
    let again = ac.ok("schedule.create", json!({"send": once, "at_ms": now + HOUR})).await;
    assert_eq!(first["id"], again["id"]);
    // 100 active schedules per member; a cancel makes room.
    let started = std::time::Instant::now();
    for _ in 1..100 {
        ac.ok("schedule.create", json!({"send": send(), "cron": "0 9 * * *"})).await;
    }
    eprintln!("99 schedule.create calls took {:?}", started.elapsed());
    let e = ac.err("schedule.create", json!({"send": send(), "cron": "0 9 * * *"}), INVALID_PARAMS).await;
    assert!(e.message.contains("100"), "{e:?}");
    ac.ok("schedule.cancel", json!({"id": first["id"]})).await;
    ac.ok("schedule.create", json!({"send": send(), "cron": "0 9 * * *"})).await;
    // Without --test-clock the schedule clock cannot be moved, and the broker keeps serving.
    ac.err("debug.clock.advance", json!({"ms": HOUR}), METHOD_NOT_FOUND).await;
    assert_eq!(schedules(&mut ac).await.len(), 101);
}

/// The unread messages of `api`'s session whose kind is `schedule`, as (body, from name), once there are `n`.
fn scheduled_unread(api: &mut support::local_api::LocalApi, n: usize) -> Vec<(String, String)> {
    let mut got = Vec::new();
    let found = support::wait_until(Duration::from_secs(20), || {
        let inbox = api.ok("inbox.list", json!({"filter": "unread", "mark_read": true}));
        for m in inbox["messages"].as_array().expect("messages") {
            if m["kind"] == "schedule" {
                let from = m["from"]["name"].as_str().unwrap_or_default().to_string();
                got.push((m["body"].as_str().expect("body").to_string(), from));
            }
        }
        got.len() >= n
    });
    assert!(found, "expected {n} scheduled messages, got {got:?}");
    got
}

#[test]
fn a_reminder_sealed_by_the_daemon_opens_in_the_recipients_inbox() {
    let broker = support::Broker::start();
    let pair = support::mesh_of_two(&broker);
    pair.bob.json(&["peers"]);
    pair.alice.json(&["peers"]);
    let mut alice = support::local_api::LocalApi::connect(&pair.alice, "cli", None);
    let mut bob = support::local_api::LocalApi::connect(&pair.bob, "cli", None);
    let s = alice.ok("schedule.create", json!({"to": "bob", "message": "review the parser PR", "in_ms": 0}));
    assert_eq!((s["kind"].as_str(), s["to"].as_str()), (Some("once"), Some("bob")), "{s}");
    assert_eq!(scheduled_unread(&mut bob, 1), [("review the parser PR".to_string(), "alice".to_string())]);
    let mine = alice.ok("schedule.create", json!({"to": "self", "message": "stretch", "in_ms": 0}));
    assert_eq!(mine["to"], "self");
    assert_eq!(scheduled_unread(&mut alice, 1), [("stretch".to_string(), "alice".to_string())]);
    let listed = alice.ok("schedule.list", json!({}));
    assert_eq!(listed["schedules"].as_array().map(Vec::len), Some(2), "{listed}");
    // The daemon checks what it seals: bad targets and timing are refused before anything reaches the broker.
    for bad in [
        json!({"to": "nobody", "message": "x", "in_ms": 0}),
        json!({"to": "bob", "message": "", "in_ms": 0}),
        json!({"to": "bob", "message": "x"}),
        json!({"to": "bob", "message": "x", "in_ms": 0, "cron": "* * * * *"}),
        json!({"to": "bob", "message": "x", "cron": "0 0 30 2 *"}),
        json!({"to": "bob", "message": "x", "in_ms": 0, "sender": "eve"}),
    ] {
        assert!(alice.call("schedule.create", bad.clone()).is_err(), "{bad}");
    }
    assert_eq!(alice.ok("schedule.list", json!({}))["schedules"].as_array().map(Vec::len), Some(2));
    // Schedules need the broker now: with it gone the daemon answers an error at once (nothing is queued).
    let mut broker = broker;
    broker.kill();
    let started = std::time::Instant::now();
    let e = alice.call("schedule.create", json!({"to": "bob", "message": "later", "in_ms": 60_000}));
    assert!(e.is_err(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "failed fast: {:?}", started.elapsed());
}
