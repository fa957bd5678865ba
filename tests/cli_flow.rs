//! The README story end to end with real processes (one broker, two homes), plus the invite and confirmation
//! failure paths and their exit codes.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use support::{Broker, Home, describe, mesh_of_two, now_secs, stderr, wait_until};

fn names(peers: &Value) -> Vec<String> {
    let mut v: Vec<String> = peers["peers"]
        .as_array()
        .expect("peers array")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or("").into())
        .collect();
    v.sort();
    v
}

fn messages(doc: &Value) -> Vec<Value> {
    doc["messages"].as_array().expect("messages array").clone()
}

#[test]
fn two_homes_create_invite_join_and_exchange_messages_both_ways() {
    let broker = Broker::start();
    let alice = Home::new();
    let bob = Home::new();

    let created = alice.json(&["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    assert_eq!(created["mesh"]["slug"], "team");
    assert_eq!(created["mesh"]["role"], "owner");
    assert_eq!(created["peer"]["name"], "alice");

    let invite = alice.json(&["invite"]);
    let url = invite["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("http://127.0.0.1:{}/join/", broker.port())), "{url}");
    assert_eq!(invite["role"], "member");
    assert_eq!(invite["uses"], 1);
    assert!(invite["expires_at"].as_u64().expect("expires_at") > now_secs() + 6 * 86_400);

    let joined = bob.json(&["join", url, "--name", "bob"]);
    assert_eq!(joined["mesh"]["name"], "team");
    assert_eq!(joined["mesh"]["role"], "member");
    assert_eq!(joined["invited_by"], "alice");

    // Both see each other, each marked "you" exactly once.
    for (home, me) in [(&alice, "alice"), (&bob, "bob")] {
        let peers = home.json(&["peers"]);
        assert_eq!(names(&peers), vec!["alice", "bob"]);
        let you: Vec<&Value> = peers["peers"].as_array().unwrap().iter().filter(|p| p["you"] == true).collect();
        assert_eq!(you.len(), 1);
        assert_eq!(you[0]["name"], me);
    }

    // bob → alice, alice → bob.
    let to_alice = bob.json(&["send", "alice", "hi from bob"]);
    assert_eq!(to_alice["accepted"], 1);
    assert_eq!(to_alice["recipients"][0]["name"], "alice");
    let to_bob = alice.json(&["send", "bob", "hi bob", "--priority", "now"]);
    let to_bob_id = to_bob["id"].as_str().expect("id").to_string();

    let alice_inbox = alice.json(&["inbox"]);
    let got = messages(&alice_inbox);
    assert_eq!(got.len(), 1, "{alice_inbox}");
    assert_eq!(got[0]["body"], "hi from bob");
    assert_eq!(got[0]["from"]["name"], "bob");
    assert_eq!(got[0]["id"], to_alice["id"]);

    let bob_inbox = bob.json(&["inbox"]);
    let got = messages(&bob_inbox);
    assert_eq!(got.len(), 1, "{bob_inbox}");
    assert_eq!(got[0]["body"], "hi bob");
    assert_eq!(got[0]["priority"], "now");
    assert_eq!(got[0]["read"], false);

    // Shown once: a second look has the same single message, now read, and nothing unread.
    let again = bob.json(&["inbox"]);
    assert_eq!(messages(&again).len(), 1);
    assert_eq!(messages(&again)[0]["read"], true);
    assert!(messages(&bob.json(&["inbox", "--unread"])).is_empty());

    // bob's inbox showed alice's message: she sees it read (the receipt travels after the listing, so wait).
    let read = wait_until(Duration::from_secs(10), || {
        alice.json(&["msg-status", &to_bob_id])["recipients"][0]["state"] == "read"
    });
    let status = alice.json(&["msg-status", &to_bob_id]);
    assert!(read, "{status}");
    assert_eq!(status["state"], "read", "{status}");
    assert_eq!(status["recipients"][0]["name"], "bob");
    assert_eq!(status["recipients"][0]["surfaced_via"], Value::Null);
}

#[test]
fn human_output_of_send_says_sent_and_prints_the_id() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let out = pair.alice.run(&["send", "bob", "hello", "there"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("✔ Sent."), "{text}");
    let inbox = pair.bob.json(&["inbox"]);
    assert_eq!(messages(&inbox)[0]["body"], "hello there");
    let id = messages(&inbox)[0]["id"].as_str().unwrap_or_default().to_string();
    assert!(text.contains(&id), "{text}");
}

#[test]
fn expired_invite_is_refused_with_exit_5() {
    let broker = Broker::start();
    let alice = Home::new();
    alice.json(&["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    // Expiry is in whole seconds: `1s` can be in the past by the time the broker registers it on a loaded machine.
    let invite = alice.json(&["invite", "--expires", "3s"]);
    let exp = invite["expires_at"].as_u64().expect("expires_at");
    assert!(wait_until(Duration::from_secs(10), || now_secs() > exp), "the clock did not pass the invite's expiry");

    let bob = Home::new();
    let out = bob.fails(&["join", invite["url"].as_str().unwrap_or_default(), "--name", "bob"], 5);
    let err = stderr(&out);
    assert!(err.contains("expired"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with('✘')).count(), 1, "{err}");
    // Nothing was written for the failed join.
    assert!(bob.json(&["list"])["meshes"].as_array().is_some_and(Vec::is_empty));
}

#[test]
fn exhausted_invite_is_refused_with_exit_5() {
    let broker = Broker::start();
    let alice = Home::new();
    alice.json(&["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    let invite = alice.json(&["invite", "--uses", "1"]);
    let url = invite["url"].as_str().expect("url");
    Home::new().json(&["join", url, "--name", "bob"]);

    let carol = Home::new();
    let out = carol.fails(&["join", url, "--name", "carol"], 5);
    assert!(stderr(&out).contains("used as many times"), "{}", describe(&out));
    let out = carol.fails(&["--json", "join", url], 5);
    let doc: Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(doc["error"]["code"], "invite_exhausted");
    // The key written for the attempt is gone again.
    assert!(!carol.path().join("keys").join(invite_mesh(url)).exists());
}

fn invite_payload(url: &str) -> (String, Value) {
    let (base, token) = url.split_once("/join/").expect("an invite URL");
    let bytes = URL_SAFE_NO_PAD.decode(token).expect("base64url token");
    (base.to_string(), serde_json::from_slice(&bytes).expect("JSON token"))
}

fn invite_mesh(url: &str) -> String {
    invite_payload(url).1["mesh"].as_str().unwrap_or_default().to_string()
}

#[test]
fn forged_invite_is_refused_with_exit_3_and_one_line() {
    let broker = Broker::start();
    let alice = Home::new();
    alice.json(&["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    let url = alice.json(&["invite"])["url"].as_str().expect("url").to_string();

    let (base, mut payload) = invite_payload(&url);
    let sig = payload["sig"].as_str().expect("sig").to_string();
    let (first, rest) = sig.split_at(1);
    let flipped = format!("{}{rest}", if first == "0" { "1" } else { "0" });
    payload["sig"] = Value::from(flipped);
    let forged = format!("{base}/join/{}", URL_SAFE_NO_PAD.encode(payload.to_string()));

    let bob = Home::new();
    let out = bob.fails(&["join", &forged], 3);
    let err = stderr(&out);
    assert!(err.contains("signature"), "{err}");
    assert_eq!(err.lines().next().map(|l| l.starts_with("✘ ")), Some(true), "{err}");
    // Promoting oneself in a genuine invite breaks its signature too.
    let (base, mut payload) = invite_payload(&url);
    payload["role"] = Value::from("admin");
    let promoted = format!("{base}/join/{}", URL_SAFE_NO_PAD.encode(payload.to_string()));
    let out = bob.fails(&["--json", "join", &promoted], 3);
    let doc: Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(doc["error"]["code"], "invite_forged");
    // A damaged token is malformed: exit 3 as well, with its own reason.
    let out = bob.fails(&["join", &format!("{url}!!")], 3);
    assert!(stderr(&out).contains("damaged"), "{}", describe(&out));
}

#[test]
fn bare_invite_url_joins() {
    let broker = Broker::start();
    let alice = Home::new();
    alice.json(&["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    let url = alice.json(&["invite"])["url"].as_str().expect("url").to_string();
    let bob = Home::new();
    let out = bob.run(&[&url, "--name", "bob"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("You're in."));
    assert_eq!(names(&alice.json(&["peers"])), vec!["alice", "bob"]);
}

#[test]
fn leave_without_a_terminal_and_without_yes_fails_naming_yes() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    // Leaving is destructive: the default policy asks first, and without a terminal that is a refusal (exit 7)
    // naming --yes.
    let out = pair.bob.fails(&["leave"], 7);
    let err = stderr(&out);
    assert!(err.contains("--yes"), "{err}");
    // Still a member.
    assert_eq!(pair.bob.json(&["list"])["meshes"].as_array().map(Vec::len), Some(1));

    let left = pair.bob.json(&["leave", "-y"]);
    assert_eq!(left["left"]["name"], "team");
    assert!(pair.bob.json(&["list"])["meshes"].as_array().is_some_and(Vec::is_empty));
    assert!(!pair.bob.path().join("keys").join(left["left"]["id"].as_str().unwrap_or("x")).exists());
    // The owner cannot leave.
    pair.alice.fails(&["leave", "-y"], 7);
}

#[test]
fn json_errors_are_json_on_stderr_with_nothing_on_stdout() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);

    let out = pair.bob.fails(&["--json", "send", "alcie", "hi"], 5);
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["error"]["code"], "peer_not_found");
    assert!(doc["error"]["message"].as_str().is_some_and(|m| m.contains("alcie")));
    assert!(doc["error"]["hint"].as_str().is_some_and(|h| h.contains("alice")), "{doc}");

    // Usage errors: exit 3 (not clap's 2, which means "auth failed" here), JSON too.
    let out = pair.alice.fails(&["--json", "send"], 3);
    let doc: Value = serde_json::from_slice(&out.stderr).expect("JSON usage error");
    assert_eq!(doc["error"]["code"], "invalid_arguments");

    // A member may not invite.
    let out = pair.bob.fails(&["--json", "invite"], 7);
    let doc: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(doc["error"]["code"], "forbidden");
}

#[test]
fn new_without_a_broker_fails_with_exit_3_naming_the_flag() {
    // Without the daemon (and so without its embedded broker) `new` needs a broker.
    let home = Home::new();
    let out = home.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["new", "team"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(stderr(&out).contains("--broker ws://HOST:PORT"), "{}", describe(&out));
}

#[test]
fn unreachable_broker_is_exit_4_but_inbox_still_shows_local_messages() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.bob.json(&["send", "alice", "before the outage"]);
    assert!(wait_until(Duration::from_secs(10), || messages(&pair.alice.json(&["inbox"])).len() == 1));
    broker.kill();

    // Direct (no daemon to queue it), a send to an unreachable broker fails with exit 4.
    let out = pair.alice.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["send", "bob", "nobody home"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let out = pair.alice.run(&["--json", "inbox"]);
    assert!(out.status.success(), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON inbox");
    assert_eq!(doc["synced"], false);
    assert_eq!(messages(&doc).len(), 1);
    assert!(stderr(&out).contains('⚠'), "{}", describe(&out));
}

#[test]
fn messages_queued_before_a_broker_restart_arrive_once_after_it() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let sent = pair.alice.json(&["send", "bob", "survives restarts"]);
    broker.restart();
    let inbox = pair.bob.json(&["inbox"]);
    assert_eq!(messages(&inbox).len(), 1, "{inbox}");
    assert_eq!(messages(&inbox)[0]["id"], sent["id"]);
    broker.restart();
    assert_eq!(messages(&pair.bob.json(&["inbox"])).len(), 1);
    let id = sent["id"].as_str().unwrap_or_default();
    assert!(wait_until(Duration::from_secs(10), || pair.alice.json(&["msg-status", id])["state"] == "read"));
}

#[test]
fn presence_groups_and_group_messages() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let me = pair.bob.json(&["status", "set", "working"]);
    assert_eq!(me["peer"]["status"], "working");
    pair.bob.json(&["summary", "set", "fixing", "the", "tests"]);
    pair.bob.json(&["group", "join", "@dev", "--role", "lead"]);

    let peers = pair.alice.json(&["peers"]);
    let bob = peers["peers"].as_array().unwrap().iter().find(|p| p["name"] == "bob").cloned().expect("bob listed");
    assert_eq!(bob["status"], "working");
    assert_eq!(bob["summary"], "fixing the tests");
    assert_eq!(bob["groups"][0]["name"], "dev");

    let sent = pair.alice.json(&["send", "@dev", "standup"]);
    assert_eq!(sent["recipients"].as_array().map(Vec::len), Some(1));
    pair.alice.fails(&["send", "@ops", "nobody"], 5);
    let inbox = pair.bob.json(&["inbox", "--unread"]);
    assert_eq!(messages(&inbox)[0]["to"], "@dev");

    pair.bob.json(&["group", "leave", "dev"]);
    pair.alice.fails(&["send", "@dev", "again"], 5);
    // Broadcast reaches every other peer.
    let all = pair.bob.json(&["send", "*", "hello all"]);
    assert_eq!(all["recipients"][0]["name"], "alice");
}

#[test]
fn rename_updates_the_local_name_and_whoami_is_local() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let renamed = pair.alice.json(&["rename", "Team Two"]);
    assert_eq!(renamed["mesh"]["name"], "Team Two");
    assert_eq!(renamed["mesh"]["slug"], "team");
    pair.bob.fails(&["rename", "Mine"], 7);
    // bob's next connection brings the new name home.
    pair.bob.json(&["peers"]);
    assert_eq!(pair.bob.json(&["list"])["meshes"][0]["name"], "Team Two");

    let who = pair.bob.json(&["whoami"]);
    assert_eq!(who["mesh"], "team");
    assert_eq!(who["role"], "member");
    assert_eq!(who["session"], "cli");
    assert_eq!(who["peer_id"].as_str().map(str::len), Some(64));
    // whoami needs no broker.
    drop(broker);
    assert_eq!(pair.bob.json(&["whoami"])["name"], "bob");
}

/// `peer.list` grows with the mesh: with 130 sessions carrying full 280-character summaries the reply is well
/// over the 64 KiB cap on frames *to* the broker, and the CLI must still read it.
#[test]
fn peers_lists_a_mesh_whose_peer_list_exceeds_64_kib() {
    let broker = Broker::start();
    let alice = Home::new();
    alice.json(&["new", "big", "--broker", &broker.url(), "--name", "alice"]);
    let summary = "x".repeat(280);
    for i in 0..130 {
        let out = alice
            .cmd()
            .env("CLAUDE_CODE_SESSION_ID", format!("session-{i}"))
            .args(["summary", "set", &summary])
            .output()
            .expect("run");
        assert!(out.status.success(), "session {i}: {}", describe(&out));
    }
    let peers = alice.json(&["peers"]);
    let list = peers["peers"].as_array().expect("peers");
    assert_eq!(list.len(), 131, "130 sessions plus the cli session");
    assert!(serde_json::to_string(&peers).expect("json").len() > 64 * 1024, "the list is over 64 KiB");
}
