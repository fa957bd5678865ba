//! Bad input against a real `claudemesh broker`: malformed JSON, wrong JSON-RPC shapes, unknown methods, calls
//! before `auth.hello`, invalid params, oversized and binary frames, bad, foreign and replayed hellos, floods,
//! missing subprotocol, and expired/exhausted/forged/unregistered invites. Each case gets the documented JSON-RPC
//! error or close code, and afterwards the broker still serves another, already-authenticated peer.

mod wire;

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use wire::*;

/// A broker with a mesh, its owner connected, and a second authenticated peer used as the "still up" witness.
struct Mesh {
    b: Broker,
    owner: Ident,
    oc: Client,
    witness: Ident,
    wc: Client,
}

async fn setup(extra: &[&str]) -> Mesh {
    let b = Broker::start(extra).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (witness, wc) = invite_and_join(&b, &owner, &mut oc, "witness").await;
    Mesh { b, owner, oc, witness, wc }
}

impl Mesh {
    /// The broker is up and other peers are unaffected: the witness's ping and peer.list answer at once, and
    /// `/healthz` says ok.
    async fn assert_alive(&mut self) {
        let t = Instant::now();
        self.wc.ping().await;
        let peers = self.wc.ok("peer.list", json!({})).await;
        let ids: Vec<&str> =
            peers["peers"].as_array().expect("peers").iter().filter_map(|p| p["id"].as_str()).collect();
        assert!(ids.contains(&self.witness.id().as_str()) && ids.contains(&self.owner.id().as_str()), "{peers}");
        assert!(t.elapsed() < Duration::from_secs(2), "the witness waited {:?}", t.elapsed());
        assert!(self.wc.closed.is_none(), "the witness was disconnected: {:?}", self.wc.closed);
        let port = self.b.port;
        let (code, body) = tokio::task::spawn_blocking(move || http_get(port, "/healthz")).await.expect("healthz");
        assert_eq!(code, 200, "{body}");
    }

    /// A fresh, unauthenticated connection.
    async fn raw(&self) -> Client {
        Client::connect(self.b.port).await
    }

    /// Registers a new one-use member invite and returns it.
    async fn invite(&mut self, exp: u64, uses: u32) -> Value {
        let inv = sign_invite(&self.owner, &self.b.url(), &InviteSpec { role: "member", exp, uses });
        self.oc.ok("invite.create", json!({"token": invite_token(&inv)})).await;
        inv
    }

    /// Makes `c` (unauthenticated) a new member of the mesh and authenticates it.
    async fn join_on(&mut self, c: &mut Client, name: &str) -> Ident {
        let inv = self.invite(now_secs() + 3600, 1).await;
        let who = Ident::new(&self.owner.mesh_id, &self.owner.mesh_name, name);
        redeem(c, &who, &inv).await.expect("redeem");
        who.hello(c).await.expect("hello");
        c.next_notification("inbox.synced", WAIT).await.expect("synced");
        who
    }
}

/// Sends one raw frame and returns the next response frame.
async fn raw_reply(c: &mut Client, text: &str) -> Value {
    c.send_raw(text).await;
    c.next_response(WAIT).await.unwrap_or_else(|closed| panic!("no reply to {text:?}: {closed:?}"))
}

fn error_of(frame: &Value) -> (i64, &str) {
    let e = frame.get("error").unwrap_or_else(|| panic!("expected an error frame, got {frame}"));
    (e["code"].as_i64().expect("code"), e["data"]["reason"].as_str().expect("data.reason"))
}

async fn metrics(port: u16) -> String {
    let (code, body) = tokio::task::spawn_blocking(move || http_get(port, "/metrics")).await.expect("metrics");
    assert_eq!(code, 200);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gets_parse_error_and_connection_stays_usable() {
    let mut m = setup(&[]).await;
    for bad in ["{not json", "{\"jsonrpc\":\"2.0\",\"id\":1,", "", "\u{0}\u{1}", "{\"a\":1}}"] {
        let r = raw_reply(&mut m.oc, bad).await;
        assert_eq!(error_of(&r), (-32700, "parse_error"), "{bad:?} → {r}");
        assert_eq!(r["id"], Value::Null, "no id could be read");
        assert_eq!(r["jsonrpc"], "2.0");
    }
    m.oc.ping().await;
    m.oc.ok("peer.list", json!({})).await;
    // Before authentication too.
    let mut c = m.raw().await;
    assert_eq!(error_of(&raw_reply(&mut c, "][").await), (-32700, "parse_error"));
    c.ping().await;
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_jsonrpc_shapes_get_invalid_request() {
    let mut m = setup(&[]).await;
    let cases: [(&str, Value); 11] = [
        (r#"[1,2]"#, Value::Null),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, Value::Null),
        (r#""just a string""#, Value::Null),
        (r#"42"#, Value::Null),
        (r#"{"id":7,"method":"ping"}"#, json!(7)),
        (r#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#, json!("x")),
        (r#"{"jsonrpc":"2.0","id":8,"method":"ping","params":[1]}"#, json!(8)),
        (r#"{"jsonrpc":"2.0","id":9,"method":"ping","params":"p"}"#, json!(9)),
        (r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#, Value::Null),
        (r#"{"jsonrpc":"2.0","id":10,"method":42}"#, json!(10)),
        (r#"{"jsonrpc":"2.0"}"#, Value::Null),
    ];
    for (frame, id) in cases {
        let r = raw_reply(&mut m.oc, frame).await;
        assert_eq!(error_of(&r), (-32600, "invalid_request"), "{frame} → {r}");
        assert_eq!(r["id"], id, "{frame}: the reply keeps the id when it can be read");
    }
    // A notification (no id) and a stray response get no reply at all: the next reply is our ping's.
    m.oc.send_raw(r#"{"jsonrpc":"2.0","method":"ping"}"#).await;
    m.oc.send_raw(r#"{"jsonrpc":"2.0","id":99,"result":{}}"#).await;
    let id = m.oc.send_request("ping", json!({})).await;
    let r = m.oc.next_response(WAIT).await.expect("ping reply");
    assert_eq!(r["id"], id, "nothing answered the notification or the response: {r}");
    assert!(r["result"]["time_ms"].is_u64());
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_method_and_calls_before_hello() {
    let mut m = setup(&[]).await;
    let mut c = m.raw().await;
    assert_eq!(c.err("nope.nope", json!({}), -32601).await.reason(), "method_not_found");
    for method in [
        "peer.list",
        "message.send",
        "message.ack",
        "message.status",
        "message.receipt",
        "presence.set",
        "invite.create",
        "mesh.info",
    ] {
        let e = c.err(method, json!({}), -32000).await;
        assert_eq!(e.reason(), "not_authenticated", "{method}");
    }
    c.ping().await; // allowed before hello
    // The connection can still authenticate after those errors.
    m.join_on(&mut c, "late").await;
    assert_eq!(c.err("nope.nope", json!({}), -32601).await.reason(), "method_not_found");
    c.err("auth.challenge", json!({}), -32601).await;
    c.ok("peer.list", json!({})).await;
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_params_are_refused() {
    let mut m = setup(&[]).await;
    let to = m.witness.id();
    let id = new_msg_id();
    let good = send_params(&m.owner, &id, "witness", std::slice::from_ref(&to), "hello");

    let mut bad_nonce = good.clone();
    bad_nonce["envelopes"][0]["nonce"] = json!("AAAAAAAAAAAAAA=="); // 10 bytes
    let mut not_base64 = good.clone();
    not_base64["envelopes"][0]["ciphertext"] = json!("%%%not base64%%%");
    let mut unknown_field = good.clone();
    unknown_field["surprise"] = json!(true);
    let mut no_envelopes = good.clone();
    no_envelopes["envelopes"] = json!([]);
    let mut v4_id = good.clone();
    v4_id["id"] = json!(uuid::Uuid::new_v4().to_string());
    let mut zero_ttl = good.clone();
    zero_ttl["ttl_secs"] = json!(0);
    let mut stranger = good.clone();
    stranger["envelopes"][0]["to"] = json!(Keys::random().hex());
    let mut twice = good.clone();
    twice["envelopes"] = json!([good["envelopes"][0], good["envelopes"][0]]);
    let mut bad_priority = good.clone();
    bad_priority["priority"] = json!("urgent");
    for (what, p) in [
        ("bad nonce", bad_nonce),
        ("ciphertext not base64", not_base64),
        ("unknown field", unknown_field),
        ("no envelopes", no_envelopes),
        ("UUIDv4 id", v4_id),
        ("ttl 0", zero_ttl),
        ("unknown recipient", stranger),
        ("recipient twice", twice),
        ("bad priority", bad_priority),
    ] {
        let e = m.oc.err("message.send", p, -32602).await;
        assert_eq!(e.reason(), "invalid_params", "{what}: {e:?}");
    }
    let mut huge = good.clone();
    huge["envelopes"][0]["ciphertext"] =
        json!(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vec![7u8; 34_000]));
    assert_eq!(m.oc.err("message.send", huge, -32010).await.reason(), "payload_too_large");
    m.oc.err("message.ack", json!({"deliveries": "all"}), -32602).await;
    m.oc.err("presence.set", json!({"status": "asleep"}), -32602).await;
    m.oc.err("presence.set", json!({"summary": "x".repeat(281)}), -32602).await;
    m.oc.err("message.status", json!({"id": 5}), -32602).await;
    // Nothing of the refused sends was stored.
    assert_eq!(m.oc.err("message.status", json!({"id": id}), -32004).await.reason(), "not_found");
    // The valid one goes through on the same connection.
    assert_eq!(m.oc.ok("message.send", good).await["accepted"], 1);
    m.assert_alive().await;
}

/// `message.receipt` refuses an unknown state or path, an empty id list, more than 1024 ids, a malformed id and
/// unknown fields, each with `invalid_params` and without touching the delivery; the valid receipt then goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_receipts_are_refused() {
    let mut m = setup(&[]).await;
    let id = new_msg_id();
    let to = m.witness.id();
    m.oc.ok("message.send", send_params(&m.owner, &id, "witness", std::slice::from_ref(&to), "hello")).await;
    let d = next_delivery(&mut m.wc, WAIT).await.expect("delivery");
    m.wc.ok("message.ack", json!({"deliveries": [d.delivery]})).await;
    let before = m.oc.ok("message.status", json!({"id": id})).await;
    assert_eq!(before["state"], "delivered");

    let many: Vec<String> = (0..1025).map(|_| new_msg_id()).collect();
    for (what, p) in [
        ("unknown state", json!({"ids": [id], "state": "seen"})),
        ("delivered is not a receipt", json!({"ids": [id], "state": "delivered"})),
        ("no state", json!({"ids": [id]})),
        ("unknown via", json!({"ids": [id], "state": "surfaced", "via": "carrier pigeon"})),
        ("via not a string", json!({"ids": [id], "state": "surfaced", "via": 1})),
        ("empty ids", json!({"ids": [], "state": "read"})),
        ("1025 ids", json!({"ids": many, "state": "read"})),
        ("UUIDv4 id", json!({"ids": [uuid::Uuid::new_v4().to_string()], "state": "read"})),
        ("unknown field", json!({"ids": [id], "state": "read", "surprise": true})),
    ] {
        let e = m.wc.err("message.receipt", p, -32602).await;
        assert_eq!(e.reason(), "invalid_params", "{what}: {e:?}");
    }
    let after = m.oc.ok("message.status", json!({"id": id})).await;
    assert_eq!(after["recipients"], before["recipients"], "refused receipts changed nothing");

    // Positive control: 1024 ids (the limit) with a known path are accepted, and only the real one counts.
    let mut ids: Vec<String> = many[..1023].to_vec();
    ids.push(id.clone());
    let r = m.wc.ok("message.receipt", json!({"ids": ids, "state": "surfaced", "via": "channel"})).await;
    assert_eq!(r["updated"], 1, "{r}");
    assert_eq!(m.oc.ok("message.status", json!({"id": id})).await["state"], "surfaced");
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_closes_1009() {
    let mut m = setup(&[]).await;
    let mut c = m.raw().await;
    m.join_on(&mut c, "big").await;
    // Just under the cap: answered.
    let under = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(60_000)}}).to_string();
    assert!(under.len() < 65_536);
    let r = raw_reply(&mut c, &under).await;
    assert!(r["result"]["time_ms"].is_u64(), "{r}");
    // Over the cap: closed with 1009 without an answer.
    let over = json!({"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"pad": "x".repeat(70_000)}}).to_string();
    c.send_raw(over).await;
    let closed = c.expect_close(WAIT).await;
    assert_eq!(closed.code, Some(1009), "{closed:?}");
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frame_closes_1002() {
    let mut m = setup(&[]).await;
    let mut c = m.raw().await;
    m.join_on(&mut c, "bin").await;
    c.send_binary(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec()).await;
    assert_eq!(c.expect_close(WAIT).await.code, Some(1002));
    // Before authentication as well.
    let mut c = m.raw().await;
    c.send_binary(vec![0, 1, 2, 3]).await;
    assert_eq!(c.expect_close(WAIT).await.code, Some(1002));
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hello_signature_fails_then_closes() {
    let mut m = setup(&[]).await;
    // The witness's own identity, with its hello signature corrupted.
    let mut c = m.raw().await;
    let mut p = m.witness.hello_params(&c.nonce);
    p["signature"] = json!(flip_hex(p["signature"].as_str().expect("sig")));
    let e = c.err("auth.hello", p, -32001).await;
    assert_eq!(e.reason(), "auth_failed");
    assert_eq!(c.expect_close(WAIT).await.code, Some(1008));
    // A bad attestation (signed by the session key instead of the member key).
    let mut c = m.raw().await;
    let mut p = m.witness.hello_params(&c.nonce);
    let at = p["attestation"]["issued_at_ms"].as_u64().expect("at");
    p["attestation"]["signature"] = json!(m.witness.session.sign_hex(&attestation_bytes(
        &m.witness.mesh_id,
        &m.witness.member.hex(),
        &m.witness.id(),
        at
    )));
    c.err("auth.hello", p, -32001).await;
    assert_eq!(c.expect_close(WAIT).await.code, Some(1008));
    // Malformed signature text.
    let mut c = m.raw().await;
    let mut p = m.witness.hello_params(&c.nonce);
    p["signature"] = json!("zz");
    c.err("auth.hello", p, -32001).await;
    assert_eq!(c.expect_close(WAIT).await.code, Some(1008));
    // None of that disturbed the witness's live session.
    m.assert_alive().await;
    assert!(metric(&metrics(m.b.port).await, "claudemesh_auth_failures_total").unwrap_or(0.0) >= 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_member_hello_is_refused_then_closed() {
    let mut m = setup(&[]).await;
    let stranger = Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "stranger");
    let mut c = m.raw().await;
    assert_eq!(stranger.hello(&mut c).await.expect_err("not a member").code, -32002);
    assert_eq!(c.expect_close(WAIT).await.code, Some(1008));
    // An unknown mesh likewise.
    let nowhere = Ident::new(&uuid::Uuid::new_v4().to_string(), "nowhere", "ghost");
    let mut c = m.raw().await;
    let e = nowhere.hello(&mut c).await.expect_err("unknown mesh");
    assert_eq!((e.code, e.reason()), (-32002, "not_member"));
    assert_eq!(c.expect_close(WAIT).await.code, Some(1008));
    // A member's session key attested by a non-member key: refused too.
    let mut c = m.raw().await;
    let forged = Ident { member: Keys::random(), ..Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "forger") };
    let forged = Ident { session: Keys { sk: m.witness.session.sk.clone() }, ..forged };
    let e = forged.hello(&mut c).await.expect_err("non-member attestation");
    assert_eq!(e.code, -32002, "{e:?}");
    assert_eq!(c.expect_close(WAIT).await.code, Some(1008));
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_hello_is_refused() {
    let mut m = setup(&[]).await;
    let mut c1 = m.raw().await;
    let inv = m.invite(now_secs() + 3600, 1).await;
    let who = Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "victim");
    redeem(&mut c1, &who, &inv).await.expect("redeem");
    let captured = who.hello_params(&c1.nonce);
    c1.ok("auth.hello", captured.clone()).await;

    let mut c2 = m.raw().await;
    assert_ne!(c1.nonce, c2.nonce, "every connection gets a fresh nonce");
    let e = c2.err("auth.hello", captured, -32001).await;
    assert_eq!(e.reason(), "auth_failed");
    assert_eq!(c2.expect_close(WAIT).await.code, Some(1008));
    // The victim's real connection was not taken over.
    c1.ping().await;
    c1.ok("peer.list", json!({})).await;
    assert!(c1.closed.is_none());
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_hello_on_an_authenticated_connection_is_refused() {
    let mut m = setup(&[]).await;
    let p = m.witness.hello_params(&m.wc.nonce);
    assert_eq!(m.wc.err("auth.hello", p, -32012).await.reason(), "already_authenticated");
    let mesh_id = uuid::Uuid::new_v4().to_string();
    let k = Keys::random();
    let sig = k.sign_hex(&mesh_create_bytes(&m.wc.nonce, &mesh_id, "other", &k.hex()));
    m.wc.err(
        "mesh.create",
        json!({"mesh_id": mesh_id, "name": "other", "owner_key": k.hex(), "signature": sig}),
        -32012,
    )
    .await;
    let inv = m.invite(now_secs() + 3600, 1).await;
    let nonce = m.wc.nonce.clone();
    let sig =
        m.witness.member.sign_hex(&redeem_bytes(&nonce, inv["id"].as_str().expect("id"), &m.witness.member.hex()));
    m.wc.err(
        "invite.redeem",
        json!({"token": invite_token(&inv), "member_key": m.witness.member.hex(), "name": "again", "signature": sig}),
        -32012,
    )
    .await;
    // Still the same, usable session.
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_frames_before_hello_closes_1008() {
    let mut m = setup(&[]).await;
    let mut c = m.raw().await;
    // 40 frames: the broker closes after the 17th and must drain the rest, so no RST overtakes its close frame.
    for _ in 0..40 {
        c.send_request("ping", json!({})).await;
    }
    let mut answered = 0;
    let closed = loop {
        match c.next_response(WAIT).await {
            Ok(r) => {
                assert!(r["result"]["time_ms"].is_u64(), "{r}");
                answered += 1;
            }
            Err(closed) => break closed,
        }
    };
    assert_eq!(closed.code, Some(1008), "{closed:?}");
    assert_eq!(answered, 16, "the first 16 frames before hello are served, the 17th closes");
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_is_rate_limited_and_others_unaffected() {
    const FLOOD: usize = 3000;
    let mut m = setup(&[]).await;
    let mut c = m.raw().await;
    m.join_on(&mut c, "flooder").await;
    for _ in 0..FLOOD {
        c.send_request("ping", json!({})).await;
    }
    // Another peer is served while the flood is being answered.
    let t = Instant::now();
    m.wc.ok("peer.list", json!({})).await;
    let witness_latency = t.elapsed();

    let (mut ok, mut limited, mut max_retry) = (0, 0, 0u64);
    for _ in 0..FLOOD {
        let r = c
            .next_response(WAIT)
            .await
            .unwrap_or_else(|e| panic!("flood reply {} of {FLOOD} never came: {e:?}", ok + limited));
        if r.get("result").is_some() {
            ok += 1;
            continue;
        }
        assert_eq!(error_of(&r), (-32009, "rate_limited"), "{r}");
        let retry =
            r["error"]["data"]["retry_after_ms"].as_u64().unwrap_or_else(|| panic!("retry_after_ms missing: {r}"));
        max_retry = max_retry.max(retry);
        limited += 1;
    }
    assert!(limited > 0, "3000 pipelined pings must hit the request limit");
    assert!(ok >= 1000, "the burst (1000) is served: {ok} ok, {limited} limited");
    assert!(max_retry <= 10_000, "retry_after_ms is a sane hint: {max_retry}");
    assert!(witness_latency < Duration::from_secs(2), "the witness waited {witness_latency:?} during the flood");

    // The flooder is still connected and is served again once it honours retry_after_ms.
    let until = Instant::now() + Duration::from_secs(5);
    for method in ["ping", "peer.list"] {
        loop {
            match c.call(method, json!({})).await {
                Ok(_) => break,
                Err(e) => {
                    assert_eq!(e.code, -32009);
                    let hint = e.data["retry_after_ms"].as_u64().unwrap_or(0);
                    assert!(hint >= 1, "a rate-limit hint is at least 1 ms: {e:?}");
                    assert!(Instant::now() < until, "still rate limited after 5 s");
                    tokio::time::sleep(Duration::from_millis(hint)).await;
                }
            }
        }
    }
    assert!(c.closed.is_none());
    m.assert_alive().await;
    assert!(metric(&metrics(m.b.port).await, "claudemesh_rate_limited_total").unwrap_or(0.0) >= limited as f64);
}

/// Acknowledgements are not charged to the request budget: a recipient whose budget is spent still completes its
/// deliveries (a throttled ack only causes a redelivery 10 s later, which the latency-to-the-model runs showed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_pass_when_the_request_budget_is_spent() {
    const FLOOD: usize = 3000;
    const ACKS: usize = 200;
    let mut m = setup(&[]).await;
    let mut c = m.raw().await;
    m.join_on(&mut c, "busy").await;
    for _ in 0..FLOOD {
        c.send_request("ping", json!({})).await;
    }
    for seq in 0..ACKS {
        c.send_request("message.ack", json!({"deliveries": [seq + 1]})).await;
    }
    let mut limited = 0;
    for _ in 0..FLOOD {
        let r = c.next_response(WAIT).await.unwrap_or_else(|e| panic!("a ping reply never came: {e:?}"));
        if r.get("error").is_some() {
            limited += 1;
        }
    }
    assert!(limited > 0, "the pings must have spent the request budget");
    for i in 0..ACKS {
        let r = c.next_response(WAIT).await.unwrap_or_else(|e| panic!("ack reply {i} never came: {e:?}"));
        assert!(r.get("result").is_some(), "ack {i} after the budget was spent: {r}");
    }
    m.assert_alive().await;
}

/// JSON-RPC: every request gets exactly one response, also when the client reads slower than the broker
/// answers (TCP backpressure must slow the broker down, not make it drop replies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_still_gets_every_response() {
    const N: u64 = 5000;
    let mut m = setup(&["--request-burst", "10000"]).await;
    let mut c = m.raw().await;
    m.join_on(&mut c, "slowpoke").await;
    // Make every peer.list reply a few KB, so 5000 replies (about 12 MB) exceed any socket buffering.
    let long = "s".repeat(280);
    for cl in [&mut m.oc, &mut m.wc, &mut c] {
        cl.ok("presence.set", json!({"summary": long})).await;
    }
    // Stop reading for a moment while the requests go out. A correct broker waits for the reader (TCP
    // backpressure); none of the replies may be lost.
    c.hold_reading(Duration::from_millis(1500));
    for _ in 0..N {
        c.send_request("peer.list", json!({})).await;
    }
    let mut answered = std::collections::HashSet::new();
    while (answered.len() as u64) < N {
        match c.next_response(Duration::from_secs(5)).await {
            Ok(r) => assert!(answered.insert(r["id"].as_u64().expect("id")), "two replies to one request: {r}"),
            Err(e) => panic!(
                "{} of {N} requests were never answered (the broker dropped replies): {e:?}",
                N - answered.len() as u64
            ),
        }
    }
    c.ping().await;
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_without_subprotocol_is_refused_with_400() {
    let mut m = setup(&[]).await;
    for proto in [None, Some("claudemesh.v0"), Some("graphql-ws")] {
        match tokio_tungstenite::connect_async(ws_request(m.b.port, proto)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 400, "{proto:?}")
            }
            Err(e) => panic!("{proto:?}: expected HTTP 400, got {e}"),
            Ok(_) => panic!("{proto:?}: the upgrade must be refused"),
        }
    }
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_count_frame_errors() {
    let mut m = setup(&[]).await;
    let port = m.b.port;
    let (code, body) = tokio::task::spawn_blocking(move || http_get(port, "/healthz")).await.expect("healthz");
    assert_eq!(code, 200);
    let health: Value = serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("healthz body {body:?}: {e}"));
    assert_eq!(health["status"], "ok");
    let before = metric(&metrics(port).await, "claudemesh_frame_errors_total").expect("frame error counter");
    raw_reply(&mut m.oc, "{oops").await;
    raw_reply(&mut m.oc, "[]").await;
    let mut c = m.raw().await;
    c.send_binary(vec![1]).await;
    c.expect_close(WAIT).await;
    let text = metrics(port).await;
    assert!(text.contains("# TYPE claudemesh_frame_errors_total counter"), "{text}");
    let after = metric(&text, "claudemesh_frame_errors_total").expect("frame error counter");
    assert!(after >= before + 3.0 && after > 0.0, "frame errors {before} → {after}");
    assert!(metric(&text, "claudemesh_connections").is_some_and(|v| v >= 2.0), "{text}");
    m.assert_alive().await;
}

// ---- invites ----------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_invite_is_refused() {
    let mut m = setup(&[]).await;
    // An expiry in the past cannot even be registered.
    let stale = sign_invite(&m.owner, &m.b.url(), &InviteSpec { role: "member", exp: now_secs() - 10, uses: 1 });
    m.oc.err("invite.create", json!({"token": invite_token(&stale)}), -32602).await;
    // One that expires in 2 s is registered, and refused once its time has passed.
    let exp = now_secs() + 2;
    let inv = m.invite(exp, 5).await;
    let until = Instant::now() + Duration::from_secs(5);
    while now_secs() <= exp {
        assert!(Instant::now() < until, "the clock did not pass the expiry");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut c = m.raw().await;
    let late = Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "late");
    let e = redeem(&mut c, &late, &inv).await.expect_err("expired");
    assert_eq!((e.code, e.reason()), (-32006, "invite_expired"));
    // The refusal does not close the connection and made nobody a member.
    c.ping().await;
    assert_eq!(late.hello(&mut c).await.expect_err("not a member").code, -32002);
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_invite_is_refused() {
    let mut m = setup(&[]).await;
    let inv = m.invite(now_secs() + 3600, 1).await;
    let first = Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "first");
    let mut c = m.raw().await;
    let r = redeem(&mut c, &first, &inv).await.expect("first use");
    assert_eq!((r["role"].as_str(), r["already_member"].as_bool()), (Some("member"), Some(false)));
    // The same member redeeming again does not use it up further.
    let mut c = m.raw().await;
    assert_eq!(redeem(&mut c, &first, &inv).await.expect("idempotent")["already_member"], true);
    let second = Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "second");
    let mut c = m.raw().await;
    let e = redeem(&mut c, &second, &inv).await.expect_err("exhausted");
    assert_eq!((e.code, e.reason()), (-32007, "invite_exhausted"));
    c.ping().await;
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_invite_is_refused() {
    let mut m = setup(&[]).await;
    let inv = m.invite(now_secs() + 3600, 3).await;
    // One flipped signature character.
    let mut forged = inv.clone();
    forged["sig"] = json!(flip_hex(inv["sig"].as_str().expect("sig")));
    let who = Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "mallory");
    let mut c = m.raw().await;
    let e = redeem(&mut c, &who, &forged).await.expect_err("forged");
    assert_eq!((e.code, e.reason()), (-32008, "invite_invalid"));
    // A field changed under the original signature (role escalation).
    let mut altered = inv.clone();
    altered["role"] = json!("admin");
    assert_eq!(redeem(&mut c, &who, &altered).await.expect_err("altered").code, -32008);
    // Signed by a key that is not the issuer it names.
    let mut resigned = inv.clone();
    resigned["sig"] = json!(Keys::random().sign_hex(&invite_bytes(&inv)));
    assert_eq!(redeem(&mut c, &who, &resigned).await.expect_err("wrong signer").code, -32008);
    // Garbage token.
    let sig = who.member.sign_hex(&redeem_bytes(&c.nonce, "x", &who.member.hex()));
    let e = c
        .err(
            "invite.redeem",
            json!({"token": "!!!not-a-token", "member_key": who.member.hex(), "name": "mallory", "signature": sig}),
            -32008,
        )
        .await;
    assert_eq!(e.reason(), "invite_invalid");
    // The genuine invite still works.
    redeem(&mut c, &who, &inv).await.expect("the genuine invite");
    m.assert_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_invite_is_refused() {
    let mut m = setup(&[]).await;
    // Correctly signed by the owner, but never registered with invite.create.
    let inv = sign_invite(&m.owner, &m.b.url(), &InviteSpec { role: "member", exp: now_secs() + 3600, uses: 1 });
    let who = Ident::new(&m.owner.mesh_id, &m.owner.mesh_name, "sneaky");
    let mut c = m.raw().await;
    let e = redeem(&mut c, &who, &inv).await.expect_err("unregistered");
    assert_eq!((e.code, e.reason()), (-32008, "invite_invalid"));
    // Registered with different fields than the token carries (more uses): still refused.
    let mut registered = inv.clone();
    registered["id"] = json!(base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random::<16>()));
    registered["sig"] = json!(m.owner.member.sign_hex(&invite_bytes(&registered)));
    m.oc.ok("invite.create", json!({"token": invite_token(&registered)})).await;
    let mut more = registered.clone();
    more["uses"] = json!(100);
    more["sig"] = json!(m.owner.member.sign_hex(&invite_bytes(&more)));
    assert_eq!(redeem(&mut c, &who, &more).await.expect_err("mismatch").code, -32008);
    assert_eq!(who.hello(&mut c).await.expect_err("not a member").code, -32002);
    m.assert_alive().await;
}

/// Flips one hex digit (keeps the string lowercase hex of the same length).
fn flip_hex(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
    chars.into_iter().collect()
}

/// `presence.set` takes where a session works: `cwd` and `branch` show in its peer, in `peer.list` and in the
/// `peer.updated` others get; an empty string clears one; too long or with control characters is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_carries_cwd_and_branch() {
    let mut m = setup(&[]).await;
    let set = m.oc.ok("presence.set", json!({"cwd": "~/src/api", "branch": "auth-v2"})).await;
    assert_eq!((&set["peer"]["cwd"], &set["peer"]["branch"]), (&json!("~/src/api"), &json!("auth-v2")), "{set}");
    let note = m.wc.next_notification("peer.updated", WAIT).await.expect("the witness hears it");
    assert_eq!(note["peer"]["branch"], "auth-v2", "{note}");
    let peers = m.wc.ok("peer.list", json!({})).await;
    let owner = m.owner.id();
    let me = peers["peers"].as_array().unwrap().iter().find(|p| p["id"] == owner.as_str()).cloned().unwrap();
    assert_eq!((&me["cwd"], &me["branch"]), (&json!("~/src/api"), &json!("auth-v2")), "{me}");
    let cleared = m.oc.ok("presence.set", json!({"branch": ""})).await;
    assert!(cleared["peer"].get("branch").is_none(), "an empty branch clears it: {cleared}");
    assert_eq!(cleared["peer"]["cwd"], "~/src/api", "cwd is kept: {cleared}");
    m.oc.err("presence.set", json!({"cwd": "x".repeat(513)}), -32602).await;
    m.oc.err("presence.set", json!({"branch": "a\u{1b}[31m"}), -32602).await;
    m.assert_alive().await;
}
