//! The chaos suite: real broker and daemon processes on loopback, hurt on purpose — the broker SIGKILLed in the
//! middle of a 10,000-message burst, a sending daemon SIGKILLed while it drains a full outbox, a receiving daemon
//! SIGKILLed mid-burst, a TCP proxy that drops, refuses, delays and half-opens the daemons' connections, a full
//! broker store (a size cap, and a real tmpfs), and peers whose clocks are hours apart. After each, one invariant
//! (`assert_delivery_invariant`): every message a sender was told was accepted is in the recipient's inbox exactly
//! once, each sender's messages are in send order, and no receipt is stuck at `queued`.

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::local_api::LocalApi;
use support::proxy::Proxy;
use support::{Broker, Home, describe, wait_until};

// ---- set-up ---------------------------------------------------------------------------------------------------

/// Two people on one mesh at `url` (the broker, or a proxy in front of it): `alice` created it, `bob` joined.
fn mesh_at(url: &str) -> (Home, Home) {
    let alice = Home::new();
    let bob = Home::new();
    alice.json(&["new", "team", "--broker", url, "--name", "alice"]);
    let invite = alice.json(&["invite"]);
    bob.json(&["join", invite["url"].as_str().expect("invite url"), "--name", "bob"]);
    (alice, bob)
}

fn daemon_pid(home: &Home) -> Option<u64> {
    let status = home.json(&["daemon", "status"]);
    if status["running"] == true { status["pid"].as_u64() } else { None }
}

fn pid_alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

fn kill9(pid: u64) {
    let ok = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("run kill").success();
    assert!(ok, "kill -9 {pid}");
    assert!(wait_until(Duration::from_secs(10), || !pid_alive(pid)), "pid {pid} survived SIGKILL");
}

/// Whether every link of `home`'s daemon is connected.
fn links_connected(home: &Home) -> bool {
    let status = home.json(&["daemon", "status"]);
    status["links"].as_array().is_some_and(|l| !l.is_empty() && l.iter().all(|l| l["connected"] == true))
}

/// Sends `body` from `api`'s session to `to`; the message id when the daemon accepted it (sent or queued).
fn send(api: &mut LocalApi, to: &str, body: &str) -> Result<(String, bool), Value> {
    let r = api.call("message.send", json!({"to": to, "body": body}))?;
    let id = r["id"].as_str().expect("an id").to_string();
    Ok((id, r["queued"] == true))
}

/// One counter from the broker's `/metrics` (counted since it last started).
fn broker_metric(port: u16, name: &str) -> u64 {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the broker");
    write!(tcp, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("request");
    let mut text = String::new();
    tcp.read_to_string(&mut text).expect("read /metrics");
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok())).map_or(0, |v| v as u64)
}

// ---- the invariant --------------------------------------------------------------------------------------------

/// What one sending session was told was accepted (sent or queued), in the order it sent.
struct Ledger<'a> {
    home: &'a Home,
    session: String,
    ids: Vec<String>,
}

impl<'a> Ledger<'a> {
    fn new(home: &'a Home, session: &str) -> Ledger<'a> {
        Ledger { home, session: session.to_string(), ids: Vec::new() }
    }
}

/// Checks, within `within`, that every acknowledged message of every ledger reached `recipient`'s inbox (as
/// `session`) exactly once, that each ledger's messages are stored in its send order, that no message in the inbox
/// is there twice, and that each acknowledged message's status left `queued` with every sender's outbox empty.
fn assert_delivery_invariant(recipient: &Home, session: &str, ledgers: &[Ledger<'_>], within: Duration) {
    let deadline = Instant::now() + within;
    let expected: usize = ledgers.iter().map(|l| l.ids.len()).sum();
    let mut api = LocalApi::connect(recipient, session, None);

    // 1. Everything acknowledged arrives.
    let mut inbox: Vec<Value>;
    loop {
        let listed = api.ok("inbox.list", json!({"filter": "all"}));
        inbox = listed["messages"].as_array().cloned().unwrap_or_default();
        let have: std::collections::HashSet<&str> = inbox.iter().filter_map(|m| m["id"].as_str()).collect();
        let missing = ledgers.iter().flat_map(|l| &l.ids).filter(|id| !have.contains(id.as_str())).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {expected} acknowledged messages never reached the inbox ({} messages there)",
            inbox.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // 2. Exactly once: no message id is stored twice.
    let mut seq_of: HashMap<String, i64> = HashMap::new();
    for m in &inbox {
        let id = m["id"].as_str().expect("id").to_string();
        let seq = m["seq"].as_i64().expect("seq");
        assert!(seq_of.insert(id.clone(), seq).is_none(), "message {id} is in the inbox twice");
    }

    // 3. Per-sender order: each ledger's messages were stored in the order they were sent.
    for l in ledgers {
        let seqs: Vec<i64> = l.ids.iter().map(|id| seq_of[id]).collect();
        if let Some(w) = seqs.windows(2).position(|w| w[0] >= w[1]) {
            panic!("{}'s messages are out of send order at #{}: {:?}", l.session, w, &seqs[w..(w + 2)]);
        }
    }

    // 4. No receipt stuck at `queued`, and nothing left in any sender's outbox (one checker per sender, at once).
    std::thread::scope(|s| {
        for l in ledgers {
            s.spawn(move || {
                let mut sender = LocalApi::connect(l.home, &l.session, None);
                for id in &l.ids {
                    loop {
                        let status = sender.call("message.status", json!({"id": id}));
                        let queued = status.as_ref().map_or(true, |s| {
                            s["state"] == "queued"
                                || s["recipients"].as_array().is_none_or(|r| r.iter().any(|r| r["state"] == "queued"))
                        });
                        if !queued {
                            break;
                        }
                        assert!(Instant::now() < deadline, "message {id} of {} is stuck: {status:?}", l.session);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                let left = || sender.ok("daemon.status", json!({}))["outbox_pending"] == 0;
                assert!(
                    wait_until(deadline.saturating_duration_since(Instant::now()), left),
                    "{}'s outbox is not empty",
                    l.session
                );
            });
        }
    });
}

// ---- a half-open, dropped or slow connection -------------------------------------------------------------------

/// The broker pings every second here, so a client treats 3 s of silence as a dead connection
/// (docs/protocol.md, "Liveness"). The slack covers a loaded machine.
const PING: &str = "1s";
const STALE: Duration = Duration::from_secs(3);
const SLACK: Duration = Duration::from_secs(5);

#[test]
fn a_half_open_connection_is_detected_within_the_stale_timeout_and_nothing_is_lost() {
    let broker = Broker::start_with(&["--ping-interval", PING]);
    let proxy = Proxy::start(broker.port());
    let (alice, bob) = mesh_at(&proxy.url());
    let mut to_bob = LocalApi::connect(&alice, "cli", None);
    let mut bob_api = LocalApi::connect(&bob, "cli", None);
    let mut ledger = Ledger::new(&alice, "cli");
    ledger.ids.push(send(&mut to_bob, "bob", "before").expect("send before").0);
    bob_api.ok("inbox.list", json!({}));
    assert!(wait_until(Duration::from_secs(15), || links_connected(&alice) && links_connected(&bob)));

    // Both daemons' links go through the proxy; now it silently stops forwarding on every one of them.
    let victims = proxy.open_client_sides();
    assert!(victims.len() >= 2, "both daemons hold a connection through the proxy: {:?}", proxy.log());
    let cut = proxy.half_open_all();

    // A send during the outage waits on the dead connection until the watchdog ends it, then goes out on a new one.
    let (id, _queued) = send(&mut to_bob, "bob", "during").expect("send during the half-open");
    ledger.ids.push(id);

    // Every half-open connection was closed by its client within the stale timeout (plus slack).
    assert!(
        wait_until(STALE + SLACK + Duration::from_secs(2), || victims
            .iter()
            .all(|v| proxy.client_closed_at(*v).is_some())),
        "a half-open connection was never closed by the client: {:?}",
        proxy.log()
    );
    for v in &victims {
        let took = proxy.client_closed_at(*v).expect("closed").duration_since(cut);
        assert!(took <= STALE + SLACK, "connection {v} was closed {took:?} after it went silent");
    }
    // The links came back on new connections, and work.
    assert!(wait_until(Duration::from_secs(20), || links_connected(&alice) && links_connected(&bob)));
    assert!(proxy.accepted() > victims.len() as u64);
    for i in 0..20 {
        ledger.ids.push(send(&mut to_bob, "bob", &format!("after {i}")).expect("send after").0);
    }
    assert_delivery_invariant(&bob, "cli", &[ledger], Duration::from_secs(60));
}

/// Drops every connection several times while messages flow; refuses connections for a while (sends are queued as
/// `unreachable` and drain when it is back); then adds a second of latency each way (below the stale timeout: the
/// watchdog must not mistake a slow link for a dead one).
#[test]
fn dropped_and_delayed_connections_lose_nothing() {
    let broker = Broker::start_with(&["--ping-interval", PING]);
    let proxy = Proxy::start(broker.port());
    let (alice, bob) = mesh_at(&proxy.url());
    let mut ledger = Ledger::new(&alice, "cli");
    std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let mut api = LocalApi::connect(&alice, "cli", None);
            (0..60).map(|i| send(&mut api, "bob", &format!("through drops {i}")).expect("send").0).collect::<Vec<_>>()
        });
        for _ in 0..3 {
            let before = proxy.accepted();
            assert!(
                wait_until(Duration::from_secs(20), || proxy.open_client_sides().len() >= 2 || sender.is_finished())
            );
            proxy.drop_all();
            assert!(
                wait_until(Duration::from_secs(20), || proxy.accepted() >= before + 2 || sender.is_finished()),
                "the links did not come back: {:?}",
                proxy.log()
            );
        }
        ledger.ids = sender.join().expect("sender");
    });
    assert!(proxy.accepted() >= 4, "{:?}", proxy.log());

    // The broker looks down (connections refused): sends are queued, saying why, and go out once it is back.
    proxy.set_refuse(true);
    proxy.drop_all();
    let mut api = LocalApi::connect(&alice, "cli", None);
    for i in 0..5 {
        let r = api.ok("message.send", json!({"to": "bob", "body": format!("while refused {i}")}));
        assert_eq!((&r["queued"], &r["queued_reason"]), (&json!(true), &json!("unreachable")), "{r}");
        ledger.ids.push(r["id"].as_str().expect("id").to_string());
    }
    proxy.set_refuse(false);
    assert!(
        wait_until(Duration::from_secs(30), || api.ok("daemon.status", json!({}))["outbox_pending"] == 0),
        "the outbox did not drain after the broker came back"
    );

    assert!(wait_until(Duration::from_secs(20), || links_connected(&alice) && links_connected(&bob)));
    proxy.set_delay(Duration::from_secs(1));
    let before = proxy.accepted();
    for i in 0..3 {
        let (id, queued) = send(&mut api, "bob", &format!("slow {i}")).expect("send over a slow link");
        assert!(!queued, "a slow link is still a link");
        ledger.ids.push(id);
    }
    // Quiet for twice the stale timeout: pings keep arriving (late), so nothing is declared dead.
    let quiet = Instant::now();
    while quiet.elapsed() < STALE * 2 {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(proxy.accepted(), before, "a delay below the stale timeout caused a reconnect: {:?}", proxy.log());
    proxy.set_delay(Duration::ZERO);
    assert_delivery_invariant(&bob, "cli", &[ledger], Duration::from_secs(60));
}

// ---- process crashes ------------------------------------------------------------------------------------------

/// `n` messages from one Claude Code session of `home`, one after another; the ids the daemon accepted.
fn burst(home: &Home, session: &str, n: usize, to: &str) -> Vec<String> {
    let mut api = LocalApi::connect(home, session, Some(session));
    (0..n)
        .map(|i| match send(&mut api, to, &format!("{session} #{i}")) {
            Ok((id, _)) => id,
            Err(e) => panic!("{session} #{i} was refused: {e}"),
        })
        .collect()
}

/// A daemon SIGKILLed while it drains a large outbox (four Claude Code sessions' queued sends, some already at
/// the broker but not yet marked sent): the next daemon sends the rest, the broker drops the repeats, and each
/// session's messages arrive once, in order — without the sessions coming back to ask.
#[test]
fn a_daemon_killed_while_draining_its_outbox_delivers_everything_once_in_order() {
    const SESSIONS: [&str; 4] = ["sess-a", "sess-b", "sess-c", "sess-d"];
    const EACH: usize = 150;
    let mut broker = Broker::start();
    let (alice, bob) = mesh_at(&broker.url());
    let mut ledgers: Vec<Ledger<'_>> = SESSIONS.iter().map(|s| Ledger::new(&alice, s)).collect();
    for l in &mut ledgers {
        l.ids.extend(burst(&alice, &l.session, 1, "bob"));
    }

    broker.kill();
    std::thread::scope(|s| {
        let senders: Vec<_> = SESSIONS.iter().map(|session| s.spawn(|| burst(&alice, session, EACH, "bob"))).collect();
        for (l, t) in ledgers.iter_mut().zip(senders) {
            l.ids.extend(t.join().expect("sender"));
        }
    });
    let total = SESSIONS.len() * EACH;
    assert_eq!(alice.json(&["daemon", "status"])["outbox_pending"], total as u64);

    // The broker returns; the daemon starts draining; it dies part-way.
    let pid = daemon_pid(&alice).expect("alice's daemon");
    let mut api = LocalApi::connect(&alice, "cli", None);
    broker.restart();
    let mut left = total as u64;
    assert!(
        wait_until(Duration::from_secs(30), || {
            left = api.ok("daemon.status", json!({}))["outbox_pending"].as_u64().unwrap_or(0);
            left < (total * 9 / 10) as u64
        }),
        "the outbox never started draining"
    );
    kill9(pid);
    assert!(left > 0, "the outbox drained before the kill; the test needs a slower drain or a larger outbox");
    eprintln!("alice's daemon SIGKILLed with {left} of {total} sends still in its outbox");
    assert_eq!(alice.json(&["daemon", "status"])["running"], false);

    // Any verb starts a new daemon, which finds the outbox and drains every session's share.
    alice.json(&["peers"]);
    assert_delivery_invariant(&bob, "cli", &ledgers, Duration::from_secs(90));
}

/// The broker SIGKILLed and restarted in the middle of a 10,000-message burst from four Claude Code sessions
/// through their daemon's warm path: sends during the outage are queued, the links reconnect and drain in order,
/// retries of sends the dead broker had committed are dropped as duplicates, and the recipient's daemon stores
/// each message once.
#[test]
fn a_broker_killed_during_a_10000_message_burst_loses_and_repeats_nothing() {
    const SESSIONS: [&str; 4] = ["burst-a", "burst-b", "burst-c", "burst-d"];
    const EACH: usize = 2_500;
    const KILL_AT: usize = 3_000;
    let mut broker = Broker::start();
    let (alice, bob) = mesh_at(&broker.url());
    bob.json(&["peers"]);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let queued = std::sync::atomic::AtomicUsize::new(0);
    let duplicates = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    let mut ledgers: Vec<Ledger<'_>> = SESSIONS.iter().map(|s| Ledger::new(&alice, s)).collect();
    std::thread::scope(|s| {
        let senders: Vec<_> = SESSIONS
            .iter()
            .map(|session| {
                let (alice, done, queued, duplicates) = (&alice, &done, &queued, &duplicates);
                s.spawn(move || {
                    let mut api = LocalApi::connect(alice, session, Some(session));
                    (0..EACH)
                        .map(|i| {
                            match api.call("message.send", json!({"to": "bob", "body": format!("{session} #{i}")})) {
                                Ok(r) => {
                                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                    if r["queued"] == true {
                                        queued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                    }
                                    if r["duplicates"].as_u64().unwrap_or(0) > 0 {
                                        duplicates.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                    }
                                    r["id"].as_str().expect("id").to_string()
                                }
                                Err(e) => panic!("{session} #{i} was refused: {e}"),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        assert!(
            wait_until(Duration::from_secs(120), || done.load(std::sync::atomic::Ordering::SeqCst) >= KILL_AT),
            "the burst stalled"
        );
        let killed_at = Instant::now();
        broker.kill();
        let at_kill = done.load(std::sync::atomic::Ordering::SeqCst);
        broker.restart();
        eprintln!(
            "broker SIGKILLed after {at_kill} acknowledged sends, {:?} into the burst; serving again {:?} later",
            killed_at.duration_since(started),
            killed_at.elapsed()
        );
        for (l, t) in ledgers.iter_mut().zip(senders) {
            l.ids = t.join().expect("sender");
        }
    });
    eprintln!(
        "burst of {} sent in {:?}: {} queued during the outage, {} answered as duplicates of a send the dead broker \
         had committed",
        SESSIONS.len() * EACH,
        started.elapsed(),
        queued.load(std::sync::atomic::Ordering::SeqCst),
        duplicates.load(std::sync::atomic::Ordering::SeqCst)
    );
    assert_delivery_invariant(&bob, "cli", &ledgers, Duration::from_secs(120));
    eprintln!(
        "invariant checked after {:?}; since its restart the broker dropped {} repeated sends and redelivered {}",
        started.elapsed(),
        broker_metric(broker.port(), "claudemesh_messages_duplicate_total"),
        broker_metric(broker.port(), "claudemesh_messages_redelivered_total")
    );
}

// ---- a full disk ----------------------------------------------------------------------------------------------

/// The broker's store fills up (a 1 MiB cap: SQLite answers SQLITE_FULL exactly as on a full disk) while the
/// recipient is away. Sends are then refused with a clear reason — queued on the warm path ("cannot store messages
/// right now"), exit 4 on the cold path — reads keep working, nothing acknowledged is lost, and once space returns
/// (the recipient comes back and drains its queue, so the broker frees the acknowledged ciphertext) the queued
/// sends go out by themselves, in order.
#[test]
fn a_full_broker_store_refuses_clearly_loses_nothing_and_resumes_when_space_returns() {
    let broker = Broker::start_with(&["--max-db-mib", "1"]);
    let (alice, bob) = mesh_at(&broker.url());
    bob.json(&["daemon", "stop"]);
    let mut api = LocalApi::connect(&alice, "cli", None);
    let mut ledger = Ledger::new(&alice, "cli");
    let body = "f".repeat(20_000);
    let refusal = loop {
        assert!(ledger.ids.len() < 200, "a 1 MiB store never filled up");
        let r = api.ok("message.send", json!({"to": "bob", "body": body}));
        ledger.ids.push(r["id"].as_str().expect("id").to_string());
        if r["queued"] == true {
            break r;
        }
    };
    assert_eq!(refusal["queued_reason"], "unavailable", "{refusal}");
    assert!(ledger.ids.len() > 5, "some sends fit before the cap: {}", ledger.ids.len());

    // The person at the terminal is told why, in plain words; the message waits in order behind the first.
    let out = alice.run(&["send", "bob", "one more while the disk is full"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = support::stdout(&out);
    assert!(text.contains("cannot store messages right now"), "{}", describe(&out));
    let id = text.split("id ").nth(1).and_then(|s| s.split_whitespace().next()).expect("the id in the output");
    ledger.ids.push(id.to_string());
    let status = alice.json(&["msg-status", id]);
    assert_eq!((&status["state"], &status["local"]), (&json!("queued"), &json!("outbox")), "{status}");
    assert_eq!(alice.json(&["daemon", "status"])["outbox_pending"], 2, "the refused send and the one behind it");
    // Direct to the broker (no daemon): refused with exit 4 and the reason.
    let cold = alice.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["send", "bob", &body]).output().unwrap();
    assert_eq!(cold.status.code(), Some(4), "{}", describe(&cold));
    assert!(support::stderr(&cold).contains("disk is full"), "{}", describe(&cold));
    // Reads keep working.
    assert_eq!(alice.json(&["peers"])["peers"].as_array().map(Vec::len), Some(2));

    // Space returns: bob comes back, his daemon stores and acknowledges the backlog, the broker frees it, and
    // alice's daemon sends what waited without anyone asking.
    bob.json(&["peers"]);
    assert!(
        wait_until(Duration::from_secs(60), || api.ok("daemon.status", json!({}))["outbox_pending"] == 0),
        "the queued sends never went out after space returned: alice {}, bob {}\n{}",
        alice.json(&["daemon", "status"]),
        bob.json(&["daemon", "status"]),
        std::fs::read_to_string(broker.data_dir().join("broker.log")).unwrap_or_default()
    );
    for i in 0..3 {
        let (id, queued) = send(&mut api, "bob", &format!("after space returned {i}")).expect("send after");
        assert!(!queued);
        ledger.ids.push(id);
    }
    assert_delivery_invariant(&bob, "cli", &[ledger], Duration::from_secs(90));
}

// ---- clock skew -----------------------------------------------------------------------------------------------

/// Runs `args` in `home` with its clock (and its daemon's, which the verb starts) shifted by `skew`.
fn skewed(home: &Home, skew: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = home.cmd().env("CLAUDEMESH_DEBUG_CLOCK_SKEW", skew).args(&all).output().expect("run claudemesh");
    assert!(out.status.success(), "claudemesh {all:?} with the clock {skew}: {}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Alice's clock is three hours slow, bob's three hours fast, the broker's right. The broker's clock decides every
/// expiry: a one-hour invite made on alice's machine lasts one hour and bob can use it; TTLs count from the broker's
/// time; messages, receipts and statuses behave as if every clock agreed.
#[test]
fn peers_with_clocks_hours_apart_still_invite_message_and_expire_on_the_brokers_clock() {
    let broker = Broker::start();
    let (alice, bob) = (Home::new(), Home::new());
    let (slow, fast) = ("-3h", "+3h");
    skewed(&alice, slow, &["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    let invite = skewed(&alice, slow, &["invite", "--expires", "1h"]);
    let true_now = support::now_secs();
    let expires_at = invite["expires_at"].as_u64().expect("expires_at");
    assert!(
        expires_at.abs_diff(true_now + 3600) < 120,
        "a one-hour invite from a slow clock expires at {expires_at}, not about {}",
        true_now + 3600
    );
    skewed(&bob, fast, &["join", invite["url"].as_str().expect("url"), "--name", "bob"]);

    // Messages both ways, one with a short TTL; the broker computes every expiry from its own clock.
    let mut from_alice = Ledger::new(&alice, "cli");
    let mut from_bob = Ledger::new(&bob, "cli");
    for i in 0..5 {
        let sent = skewed(&alice, slow, &["send", "bob", &format!("from the past {i}"), "--ttl", "10m"]);
        assert_eq!(sent["queued"], false, "{sent}");
        let expires = sent["expires_at_ms"].as_u64().expect("expires_at_ms") / 1000;
        assert!(expires.abs_diff(support::now_secs() + 600) < 120, "TTL counted on a skewed clock: {sent}");
        from_alice.ids.push(sent["id"].as_str().expect("id").to_string());
        let sent = skewed(&bob, fast, &["send", "alice", &format!("from the future {i}")]);
        from_bob.ids.push(sent["id"].as_str().expect("id").to_string());
    }
    assert_delivery_invariant(&bob, "cli", &[from_alice], Duration::from_secs(60));
    assert_delivery_invariant(&alice, "cli", &[from_bob], Duration::from_secs(60));

    // Receipts: bob reads (his `inbox` marks them read), and alice's status says so.
    let listed = skewed(&bob, fast, &["inbox"]);
    let first = listed["messages"][0]["id"].as_str().expect("a message").to_string();
    assert!(
        wait_until(Duration::from_secs(20), || skewed(&alice, slow, &["msg-status", &first])["state"] == "read"),
        "the read receipt never reached alice: {}",
        skewed(&alice, slow, &["msg-status", &first])
    );
}

/// A `claudemesh broker` whose data directory is a real 4 MiB tmpfs, mounted in a private mount namespace (so
/// nothing leaks to the host), with a 2.5 MiB ballast file that "another program" wrote. `None` when this machine
/// cannot make a mount namespace (not root, or no `unshare`).
struct TmpfsBroker {
    child: std::process::Child,
    port: u16,
    mount: std::path::PathBuf,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TmpfsBroker {
    fn start() -> Option<TmpfsBroker> {
        use std::io::BufRead;
        let probe = Command::new("unshare").args(["-m", "true"]).output().ok()?;
        if !probe.status.success() {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).expect("mount point");
        let log = dir.path().join("broker.log");
        let port = support::free_port();
        let script = r#"mount -t tmpfs -o size=4m tmpfs "$1" && head -c 2621440 /dev/zero > "$1/ballast" && exec "$2" broker --listen "127.0.0.1:$3" --data "$1/data""#;
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
            .arg(&mount)
            .arg(support::bin())
            .arg(port.to_string())
            .env("CLAUDEMESH_HOME", dir.path().join("home"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .ok()?;
        let stdout = child.stdout.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains("listening") => Some(TmpfsBroker { child, port, mount, log, _dir: dir }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                eprintln!("no broker on a tmpfs ({other:?}): {}", std::fs::read_to_string(&log).unwrap_or_default());
                None
            }
        }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// Space returns: the ballast is deleted inside the broker's mount namespace.
    fn free_ballast(&self) {
        let out = Command::new("nsenter")
            .args(["-t", &self.child.id().to_string(), "-m", "rm", "-f"])
            .arg(self.mount.join("ballast"))
            .output()
            .expect("run nsenter");
        assert!(out.status.success(), "{}", describe(&out));
    }
}

impl Drop for TmpfsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same as the capped store, on a real full disk (ENOSPC from a tmpfs, WAL and all): refused clearly, nothing
/// acknowledged lost, and when someone frees space (deletes the ballast) the queued sends go out by themselves.
#[test]
fn a_really_full_disk_refuses_clearly_and_resumes_when_space_is_freed() {
    let Some(broker) = TmpfsBroker::start() else {
        eprintln!("skipped: this machine cannot mount a tmpfs in a private mount namespace (needs root and unshare)");
        return;
    };
    let (alice, bob) = mesh_at(&broker.url());
    bob.json(&["daemon", "stop"]);
    let mut api = LocalApi::connect(&alice, "cli", None);
    let mut ledger = Ledger::new(&alice, "cli");
    let body = "d".repeat(20_000);
    let refusal = loop {
        assert!(ledger.ids.len() < 400, "a 1.5 MiB disk never filled up");
        let r = api.ok("message.send", json!({"to": "bob", "body": body}));
        ledger.ids.push(r["id"].as_str().expect("id").to_string());
        if r["queued"] == true {
            break r;
        }
    };
    assert_eq!(refusal["queued_reason"], "unavailable", "{refusal}");
    assert!(ledger.ids.len() > 5, "some sends fit before the disk filled: {}", ledger.ids.len());
    eprintln!("{} sends of 20 kB fit on the tmpfs before it was full", ledger.ids.len() - 1);
    let cold = alice.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["send", "bob", &body]).output().unwrap();
    assert_eq!(cold.status.code(), Some(4), "{}", describe(&cold));
    assert!(support::stderr(&cold).contains("disk is full"), "{}", describe(&cold));
    assert_eq!(alice.json(&["peers"])["peers"].as_array().map(Vec::len), Some(2));

    broker.free_ballast();
    assert!(
        wait_until(Duration::from_secs(60), || api.ok("daemon.status", json!({}))["outbox_pending"] == 0),
        "the queued send never went out after space was freed\n{}",
        std::fs::read_to_string(&broker.log).unwrap_or_default()
    );
    for i in 0..3 {
        let (id, queued) = send(&mut api, "bob", &format!("after the disk was freed {i}")).expect("send after");
        assert!(!queued);
        ledger.ids.push(id);
    }
    bob.json(&["peers"]);
    assert_delivery_invariant(&bob, "cli", &[ledger], Duration::from_secs(90));
}

/// The recipient's daemon SIGKILLed while a burst streams in (stored but not yet acknowledged deliveries come again
/// and are dropped as repeats; acknowledged ones never come back) and started again while the burst goes on.
#[test]
fn a_recipient_daemon_killed_mid_burst_stores_each_message_once() {
    const SESSIONS: [&str; 2] = ["rx-a", "rx-b"];
    const EACH: usize = 500;
    let broker = Broker::start();
    let (alice, bob) = mesh_at(&broker.url());
    bob.json(&["peers"]);
    let bob_pid = daemon_pid(&bob).expect("bob's daemon");
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut ledgers: Vec<Ledger<'_>> = SESSIONS.iter().map(|s| Ledger::new(&alice, s)).collect();
    std::thread::scope(|s| {
        let senders: Vec<_> = SESSIONS
            .iter()
            .map(|session| {
                let (alice, done) = (&alice, &done);
                s.spawn(move || {
                    let mut api = LocalApi::connect(alice, session, Some(session));
                    (0..EACH)
                        .map(|i| {
                            let (id, _) = send(&mut api, "bob", &format!("{session} #{i}")).expect("send");
                            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        assert!(wait_until(Duration::from_secs(60), || done.load(std::sync::atomic::Ordering::SeqCst) >= 300));
        kill9(bob_pid);
        let at_kill = done.load(std::sync::atomic::Ordering::SeqCst);
        bob.json(&["peers"]);
        eprintln!("bob's daemon SIGKILLed after {at_kill} of {} sends; a new one is up", SESSIONS.len() * EACH);
        for (l, t) in ledgers.iter_mut().zip(senders) {
            l.ids = t.join().expect("sender");
        }
    });
    assert_delivery_invariant(&bob, "cli", &ledgers, Duration::from_secs(90));
}
