//! The mesh simulation clock against a real `claudemesh broker` process (tests/wire): get on a fresh mesh follows
//! real time, set/pause/resume/rate semantics, validation, and `clock.changed` reaching another peer.

mod wire;

use serde_json::json;
use wire::*;

const INVALID_PARAMS: i64 = -32602;
const YEAR: i64 = 365 * 86_400_000;

#[tokio::test]
async fn set_pause_resume_and_clock_changed_reach_other_peers() {
    let b = Broker::start(&[]).await;
    let (alice, mut ac) = create_mesh(&b, "alice").await;
    let (_bob, mut bc) = invite_and_join(&b, &alice, &mut ac, "bob").await;

    // A mesh that never set its clock follows real time at rate 1.
    let before = now_ms() as i64;
    let c = bc.ok("clock.get", json!({})).await;
    let after = now_ms() as i64;
    assert_eq!((c["rate"].as_f64(), c["paused"].as_bool()), (Some(1.0), Some(false)));
    let now = c["now_ms"].as_i64().expect("now_ms");
    assert!((before - 1_000..=after + 1_000).contains(&now), "{c}");

    // Set a time far in the past at 100x; bob hears about it.
    let base = 946_684_800_000; // 2000-01-01
    let set = ac.ok("clock.set", json!({"time_ms": base, "rate": 100.0})).await;
    assert_eq!(
        (set["base_ms"].as_i64(), set["rate"].as_f64(), set["now_ms"].as_i64()),
        (Some(base), Some(100.0), Some(base))
    );
    let changed = bc.next_notification("clock.changed", WAIT).await.expect("clock.changed reaches bob");
    assert_eq!(changed["base_ms"].as_i64(), Some(base));
    assert_eq!(changed["rate"].as_f64(), Some(100.0));
    let got = bc.ok("clock.get", json!({})).await;
    let expected = base
        + (got["server_time_ms"].as_i64().expect("server time") - got["set_at_ms"].as_i64().expect("set_at")) * 100;
    assert_eq!(got["now_ms"].as_i64(), Some(expected), "now = base + elapsed × rate: {got}");

    // Paused, it stands still; resumed, it runs on from where it stood.
    let paused = ac.ok("clock.pause", json!({})).await;
    assert_eq!(paused["paused"], true);
    let stood = paused["now_ms"].as_i64().expect("now");
    assert!(stood >= base);
    let changed = bc.next_notification("clock.changed", WAIT).await.expect("pause is announced");
    assert_eq!(changed["paused"], true);
    // Poll until the broker's own time moved on: a paused clock still reads the same.
    let until = deadline(WAIT);
    loop {
        let g = bc.ok("clock.get", json!({})).await;
        assert_eq!(g["now_ms"].as_i64(), Some(stood), "a paused clock stands still");
        if g["server_time_ms"].as_i64() > paused["server_time_ms"].as_i64() {
            break;
        }
        assert!(tokio::time::Instant::now() < until);
    }
    let resumed = ac.ok("clock.resume", json!({})).await;
    assert_eq!((resumed["paused"].as_bool(), resumed["now_ms"].as_i64()), (Some(false), Some(stood)));
    assert_eq!(bc.next_notification("clock.changed", WAIT).await.expect("resume is announced")["paused"], false);
    // Setting keeps the rate when none is given.
    let reset = ac.ok("clock.set", json!({"time_ms": base + YEAR})).await;
    assert_eq!(reset["rate"].as_f64(), Some(100.0));

    // Bad input is refused and changes nothing.
    let now = now_ms() as i64;
    for params in [
        json!({"time_ms": now, "rate": 0}),
        json!({"time_ms": now, "rate": -2}),
        json!({"time_ms": now, "rate": 1000.5}),
        json!({"time_ms": now + 101 * YEAR}),
        json!({"time_ms": now - 101 * YEAR}),
        json!({"rate": 2}),
        json!({"time_ms": "soon"}),
        json!({"time_ms": now, "speed": 2}),
    ] {
        ac.err("clock.set", params, INVALID_PARAMS).await;
    }
    ac.err("clock.pause", json!({"now": true}), INVALID_PARAMS).await;
    let still = bc.ok("clock.get", json!({})).await;
    assert_eq!((still["base_ms"].as_i64(), still["rate"].as_f64()), (Some(base + YEAR), Some(100.0)));
    assert_eq!(ac.ok("clock.set", json!({"time_ms": now, "rate": 1000})).await["rate"].as_f64(), Some(1000.0));
}
