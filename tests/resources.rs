//! The noun-verb grammar with the real binary: `peer list`, `message send|inbox|status`, `mesh use|info`,
//! `profile show|set`, `group list`, `invite list|revoke`, the flat aliases, and "did you mean".

mod support;

use serde_json::Value;
use support::{Broker, describe, mesh_of_two, stderr};

fn ids(doc: &Value, key: &str) -> Vec<String> {
    doc[key].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn noun_verbs_and_their_flat_aliases_are_the_same_verbs() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    assert_eq!(ids(&pair.alice.json(&["peer", "list"]), "peers"), ids(&pair.alice.json(&["peers"]), "peers"));
    let sent = pair.alice.json(&["message", "send", "bob", "noun", "verb"]);
    let id = sent["id"].as_str().unwrap();
    let inbox = pair.bob.json(&["message", "inbox"]);
    assert_eq!(inbox["messages"][0]["body"], "noun verb");
    let status = pair.alice.json(&["message", "status", id]);
    assert_eq!(status["id"], sent["id"]);
    assert_eq!(pair.alice.json(&["msg-status", id])["id"], sent["id"]);
    assert_eq!(pair.alice.json(&["mesh", "list"]), pair.alice.json(&["list"]));
}

#[test]
fn mesh_use_switches_the_current_mesh_and_typos_get_a_did_you_mean() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    pair.alice.json(&["mesh", "new", "second", "--broker", &broker.url()]);
    assert_eq!(pair.alice.json(&["whoami"])["mesh"], "second");
    let used = pair.alice.json(&["mesh", "use", "team"]);
    assert_eq!(used["current"], "team");
    assert_eq!(pair.alice.json(&["whoami"])["mesh"], "team");

    let out = pair.alice.fails(&["mesh", "use", "taem"], 5);
    assert!(stderr(&out).contains("Did you mean team"), "{}", describe(&out));
    let out = pair.alice.fails(&["--mesh", "secnd", "peers"], 5);
    assert!(stderr(&out).contains("Did you mean second"), "{}", describe(&out));
    // Far from every slug: the list instead.
    let out = pair.alice.fails(&["mesh", "use", "zzzzzzzz"], 5);
    assert!(stderr(&out).contains("Use one of"), "{}", describe(&out));
    // An unknown verb close to a real one: clap's suggestion, exit 3.
    let out = pair.alice.fails(&["sned", "bob", "hi"], 3);
    assert!(stderr(&out).contains("send"), "{}", describe(&out));
}

#[test]
fn mesh_info_profile_and_groups() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let info = pair.alice.json(&["mesh", "info"]);
    assert_eq!(info["name"], "team");
    assert_eq!(info["members"], 2);
    assert_eq!(info["your_role"], "owner");

    let set = pair.bob.json(&["profile", "set", "--status", "working", "--summary", "parser rewrite"]);
    assert_eq!(set["peer"]["status"], "working");
    let shown = pair.bob.json(&["profile", "show"]);
    assert_eq!(shown["peer"]["name"], "bob");
    assert_eq!(shown["peer"]["summary"], "parser rewrite");
    assert_eq!(shown["peer"]["you"], true);
    pair.bob.fails(&["profile", "set"], 3);

    assert!(pair.alice.json(&["group", "list"])["groups"].as_array().unwrap().is_empty());
    pair.bob.json(&["group", "join", "dev", "--role", "lead"]);
    pair.alice.json(&["group", "join", "dev"]);
    let groups = pair.alice.json(&["group", "list"]);
    assert_eq!(groups["groups"][0]["name"], "dev");
    let members: Vec<&str> =
        groups["groups"][0]["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(members.len(), 2, "{groups}");
    assert!(members.contains(&"alice") && members.contains(&"bob"));
}

#[test]
fn invites_are_listed_and_a_revoked_invite_no_longer_joins() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let first = pair.alice.json(&["invite", "create", "--uses", "3"]);
    let second = pair.alice.json(&["invite", "--role", "guest"]);
    let listed = pair.alice.json(&["invite", "list"]);
    let invites = listed["invites"].as_array().unwrap();
    assert_eq!(invites.len(), 3, "{listed}"); // the one bob used, and two new ones
    let find = |id: &Value| invites.iter().find(|i| i["id"] == *id).cloned().expect("listed");
    assert_eq!(find(&first["invite_id"])["state"], "active");
    assert_eq!(find(&first["invite_id"])["max_uses"], 3);
    assert_eq!(find(&second["invite_id"])["role"], "guest");
    assert!(listed.to_string().find("token").is_none(), "invite tokens are never listed");

    let id = second["invite_id"].as_str().unwrap();
    // Revoking is destructive: the default policy asks, so without a terminal it needs --yes.
    pair.alice.fails(&["invite", "revoke", id], 7);
    assert_eq!(pair.alice.json(&["invite", "revoke", id, "--yes"])["revoked"], true);
    assert_eq!(pair.alice.json(&["invite", "revoke", id, "-y"])["revoked"], false);
    let revoked = pair.alice.json(&["invite", "list"]);
    let state = revoked["invites"].as_array().unwrap().iter().find(|i| i["id"] == *id).unwrap()["state"].clone();
    assert_eq!(state, "revoked");
    let carol = support::Home::new();
    let out = carol.run(&["join", second["url"].as_str().unwrap(), "--name", "carol"]);
    assert!(!out.status.success(), "a revoked invite still joined: {}", describe(&out));
    assert!(stderr(&out).to_lowercase().contains("revoked"), "{}", describe(&out));
    // The other invite still works.
    carol.json(&["join", first["url"].as_str().unwrap(), "--name", "carol"]);

    // Members cannot list or revoke.
    pair.bob.fails(&["invite", "list"], 7);
    pair.bob.fails(&["invite", "revoke", id, "-y"], 7);
    pair.alice.fails(&["invite", "revoke", "no-such-invite", "-y"], 5);
}

#[test]
fn peer_list_watch_prints_the_list_then_each_change() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let mut child = pair
        .alice
        .cmd()
        .args(["--json", "peer", "list", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first: Value = serde_json::from_str(&rx.recv_timeout(Duration::from_secs(20)).expect("the list")).unwrap();
    assert_eq!(first["peers"].as_array().map(Vec::len), Some(2), "{first}");
    assert_eq!(first["schema_version"], 1);
    pair.bob.json(&["status", "set", "working"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(line) = rx.recv_timeout(left) else { break false };
        let event: Value = serde_json::from_str(&line).unwrap();
        let hit = event["event"] == "peer.updated"
            && event["params"]["peer"]["name"] == "bob"
            && event["params"]["peer"]["status"] == "working";
        seen.push(event);
        if hit {
            break true;
        }
    };
    assert!(found, "no peer.updated for bob; saw {seen:?}");
    let ok = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn profile_set_name_renames_the_peer_for_everyone_and_survives_a_reconnect() {
    let mut broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let renamed = pair.alice.json(&["profile", "set", "--name", "alicia"]);
    assert_eq!(renamed["peer"]["name"], "alicia");
    let names = |h: &support::Home| -> Vec<String> {
        h.json(&["peers"])["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&pair.bob).contains(&"alicia".to_string()), "{:?}", names(&pair.bob));
    // Messages reach the new name; the old one is gone.
    pair.bob.json(&["send", "alicia", "hi under the new name"]);
    pair.bob.fails(&["send", "alice", "old name"], 5);
    // Taken names are refused; bad names are refused before any network use.
    pair.bob.fails(&["profile", "set", "--name", "alicia"], 6);
    pair.bob.fails(&["profile", "set", "--name", ""], 3);
    // A reconnect (the broker restarts, the daemons' links say hello again) keeps the new name.
    broker.restart();
    assert!(
        support::wait_until(std::time::Duration::from_secs(20), || names(&pair.bob).contains(&"alicia".to_string()))
    );
    assert_eq!(pair.alice.json(&["profile", "show"])["peer"]["name"], "alicia");
}

#[test]
fn bare_json_lists_every_visible_verb_from_the_clap_definition() {
    let home = support::Home::new();
    let doc = home.json(&[]);
    let verbs: Vec<&str> = doc["commands"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for verb in ["peer", "message", "mesh", "profile", "audit", "completions", "send", "peers", "daemon"] {
        assert!(verbs.contains(&verb), "{verb} missing from {verbs:?}");
    }
    assert!(!verbs.contains(&"hook"), "hidden verbs stay hidden: {verbs:?}");
}
