//! One row per class of failure in docs/cli.md's exit-code table: the real binary, the exit code and the JSON
//! reason code on stderr.

mod support;

use serde_json::Value;
use support::{Broker, Home, describe, mesh_of_two};

fn reason(out: &std::process::Output) -> String {
    let doc: Value =
        serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", describe(out)));
    assert_eq!(doc["schema_version"], 1, "{doc}");
    assert!(out.stdout.is_empty(), "stdout is not empty: {}", describe(out));
    doc["error"]["code"].as_str().unwrap_or_default().to_string()
}

/// (who, argv, extra env, exit code, reason)
type Row<'a> = (&'a Home, Vec<&'a str>, Vec<(&'a str, &'a str)>, i32, &'a str);

#[test]
fn every_class_of_failure_has_its_exit_code_and_reason() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let policy =
        "version: 1\nrules:\n  - resource: group\n    verb: join\n    decision: deny\n    reason: no groups here\n";
    std::fs::write(pair.alice.path().join("policy.yaml"), policy).unwrap();
    let fresh = Home::new();
    let no_claude = tempfile::tempdir().unwrap();

    let rows: Vec<Row> = vec![
        (&pair.alice, vec!["send"], vec![], 3, "invalid_arguments"),
        (&pair.alice, vec!["peers", "--json=nope"], vec![], 3, "invalid_arguments"),
        (&pair.alice, vec!["peers", "--jq", ".["], vec![], 3, "invalid_arguments"),
        (&pair.alice, vec!["join", "not-an-invite"], vec![], 3, "invite_malformed"),
        (&pair.bob, vec!["send", "bob-nobody", "hi"], vec![("CLAUDEMESH_NO_DAEMON", "1")], 5, "peer_not_found"),
        (&pair.alice, vec!["--mesh", "nosuch", "peers"], vec![], 5, "mesh_not_found"),
        (&fresh, vec!["peers"], vec![], 5, "no_mesh"),
        (&pair.bob, vec!["profile", "set", "--name", "alice"], vec![], 6, "already_exists"),
        (&pair.bob, vec!["invite"], vec![], 7, "forbidden"),
        (&pair.alice, vec!["group", "join", "dev"], vec![], 7, "policy_denied"),
        (&pair.bob, vec!["leave"], vec![], 7, "policy_prompt"),
        (&pair.alice, vec!["launch"], vec![("PATH", no_claude.path().to_str().unwrap())], 9, "claude_not_found"),
    ];
    for (home, argv, env, code, want) in rows {
        let out = home.cmd().envs(env).arg("--json").args(&argv).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{argv:?}: {}", describe(&out));
        assert_eq!(reason(&out), want, "{argv:?}: {}", describe(&out));
    }

    // Network: the broker is gone and the verb goes direct.
    drop(broker);
    let out = pair.alice.cmd().env("CLAUDEMESH_NO_DAEMON", "1").args(["--json", "peers"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert_eq!(reason(&out), "network");
}
