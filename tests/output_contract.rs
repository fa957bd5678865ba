//! The output contract on the read-shaped verbs, with the real binary: `--json` (all fields, `schema_version`),
//! `--json=a,b` (exactly those keys), `--jq` (byte-for-byte what the real `jq` prints for the same `--json`
//! document, and `jq -c` under stream-json), `--template`, and exit 3 for an unknown field, a bad jq program or a bad
//! template. `jq` must be installed (`.ci/run` installs it); without it these tests fail.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use support::{Broker, Home, describe, mesh_of_two, stdout};

/// Programs every verb's document is run through (generic: they work on any object).
const GENERIC_JQ: &[&str] = &[
    ".",
    "keys",
    ".schema_version",
    "[paths | map(tostring) | join(\"/\")]",
    ".. | numbers",
    "to_entries | map(select(.value | type == \"string\")) | from_entries",
    "map_values(type)",
    "with_entries(.key |= ascii_upcase) | keys_unsorted",
    "[.[] | length? // 0] | add",
    "tostring",
    "[.[] | strings] | join(\",\")",
];

/// A body that exercises string escaping: quotes, backslash, tab, newline, DEL, non-ASCII.
const BODY: &str = "h\u{e9}llo \u{2714} \"quoted\" back\\slash\ttab\nline \u{7f}end";

struct Case {
    /// Which home runs it.
    bob: bool,
    args: Vec<String>,
    /// Programs that only make sense for this verb's document.
    jq: &'static [&'static str],
    template: &'static str,
    /// What the template must render, from the verb's `--json` document.
    rendered: fn(&Value) -> String,
}

fn case(
    bob: bool,
    args: &[&str],
    jq: &'static [&'static str],
    template: &'static str,
    rendered: fn(&Value) -> String,
) -> Case {
    Case { bob, args: args.iter().map(|a| a.to_string()).collect(), jq, template, rendered }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("<not a string>")
}

/// Stops both daemons when the test ends, however it ends.
struct StopDaemons<'a>(&'a [&'a Home]);

impl Drop for StopDaemons<'_> {
    fn drop(&mut self) {
        for home in self.0 {
            let _ = home.cmd().args(["daemon", "stop"]).output();
        }
    }
}

fn run(home: &Home, args: &[String]) -> Output {
    home.cmd().args(args).output().expect("run claudemesh")
}

fn with(args: &[String], extra: &[&str]) -> Vec<String> {
    args.iter().cloned().chain(extra.iter().map(|a| a.to_string())).collect()
}

/// The real jq on `input`; panics (failing the test) when jq is not installed.
fn real_jq(flags: &[&str], program: &str, input: &[u8]) -> Output {
    let mut child = Command::new("jq")
        .args(flags)
        .arg(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the real jq is required for this test: install it (apt-get install jq; .ci/run does)");
    child.stdin.take().expect("jq stdin").write_all(input).expect("write to jq");
    child.wait_with_output().expect("wait for jq")
}

/// Runs `shaped` (the verb with `--jq …`) between two runs of `plain` (the same verb with the `--json` flags the
/// document comes from), until both plain runs print the same document (timestamps, read state and presence
/// settle), and returns (document, shaped output).
fn on_a_stable_document(home: &Home, plain: &[String], shaped: &[String]) -> (Vec<u8>, Output) {
    let mut last = String::new();
    for _ in 0..20 {
        let before = run(home, plain);
        assert!(before.status.success(), "{plain:?}: {}", describe(&before));
        let out = run(home, shaped);
        let after = run(home, plain);
        if before.stdout == after.stdout {
            return (before.stdout, out);
        }
        last = format!("{}\n---\n{}", stdout(&before), stdout(&after));
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the document of {plain:?} never held still:\n{last}");
}

fn assert_jq_matches(home: &Home, args: &[String], program: &str, stream: bool) {
    let (plain, shaped, flags): (Vec<String>, Vec<String>, &[&str]) = if stream {
        (
            with(args, &["--output-format", "stream-json"]),
            with(args, &["--output-format", "stream-json", "--jq", program]),
            &["-c"],
        )
    } else {
        (with(args, &["--json"]), with(args, &["--jq", program]), &[])
    };
    let (doc, ours) = on_a_stable_document(home, &plain, &shaped);
    assert!(ours.status.success(), "{shaped:?}: {}", describe(&ours));
    let theirs = real_jq(flags, program, &doc);
    assert!(theirs.status.success(), "jq {flags:?} {program:?} failed: {}", describe(&theirs));
    assert_eq!(
        stdout(&ours),
        stdout(&theirs),
        "claudemesh {shaped:?} differs from jq {flags:?} {program:?} on\n{}",
        String::from_utf8_lossy(&doc)
    );
}

/// The JSON error document on stderr, for an exit-3 failure.
fn invalid_arguments(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(3), "{}", describe(out));
    assert!(out.stdout.is_empty(), "stdout must stay empty: {}", describe(out));
    let err: Value =
        serde_json::from_slice(&out.stderr).unwrap_or_else(|e| panic!("stderr not JSON ({e}): {}", describe(out)));
    assert_eq!(err["schema_version"], 1, "{err}");
    assert_eq!(err["error"]["code"], "invalid_arguments", "{err}");
    err
}

#[test]
fn read_verbs_honour_the_output_contract() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let _stop = StopDaemons(&[&pair.alice, &pair.bob]);

    // A write verb with a projection: exactly the id.
    let sent = pair.alice.json(&["send", "bob", BODY, "--json=id"]);
    assert_eq!(
        sent.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["id".into(), "schema_version".into()])
    );
    let id = s(&sent["id"]).to_string();
    pair.bob.json(&["group", "join", "dev"]);

    let cases = [
        case(
            false,
            &["peers"],
            &[".peers[] | select(.you | not) | .name", "[.peers[] | {name, role, groups}]", ".peers | length"],
            "{% for p in peers %}{{ p.name }}/{{ p.role }} {% endfor %}",
            |d| {
                d["peers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| format!("{}/{} ", s(&p["name"]), s(&p["role"])))
                    .collect()
            },
        ),
        case(
            true,
            &["inbox"],
            &[
                ".messages[] | .body",
                ".messages | map({from: .from.name, body})",
                ".messages[0].body | explode | length",
            ],
            "{% for m in messages %}{{ m.from.name }}: {{ m.body }}{% endfor %}",
            |d| format!("alice: {}", s(&d["messages"][0]["body"])),
        ),
        case(
            false,
            &["list"],
            &[".meshes[].slug", ".meshes[] | select(.current) | .role"],
            "{{ current }} {{ meshes|length }} {{ meshes[0].role }}",
            |_| "team 1 owner".to_string(),
        ),
        case(
            false,
            &["whoami"],
            &["\"\\(.name)@\\(.mesh) (\\(.role))\"", "{name, mesh}"],
            "{{ name }}@{{ mesh }} ({{ role }})",
            |_| "alice@team (owner)".to_string(),
        ),
        case(
            false,
            &["msg-status", &id],
            &[".recipients[] | [.name, .state]", ".recipients | map(.attempts) | add"],
            "{{ to }} {{ recipients[0].name }} {{ priority }}",
            |_| "bob bob next".to_string(),
        ),
        case(
            false,
            &["mesh", "info"],
            &[".name", "{members, your_role}", ".limits | keys"],
            "{{ name }} {{ members }} {{ your_role }}",
            |_| "team 2 owner".to_string(),
        ),
        case(
            true,
            &["profile", "show"],
            &[".peer.name", ".peer | {name, status, you}"],
            "{{ peer.name }} {{ peer.you }}",
            |_| "bob true".to_string(),
        ),
        case(
            false,
            &["group", "list"],
            &[".groups[].name", ".groups | map(.members | length)"],
            "{% for g in groups %}{{ g.name }}:{{ g.members|length }}{% endfor %}",
            |_| "dev:1".to_string(),
        ),
        case(
            false,
            &["invite", "list"],
            &[".invites | length", ".invites[] | {role, state, max_uses}"],
            "{{ invites|length }} {{ invites[0].role }}",
            |_| "1 member".to_string(),
        ),
        case(
            false,
            &["daemon", "status"],
            &[".links | map(.connected) | all", ".links[].mesh"],
            "{{ running }} {{ links|length }}",
            |d| format!("{} {}", d["running"], d["links"].as_array().map_or(0, Vec::len)),
        ),
    ];

    for case in &cases {
        let home = if case.bob { &pair.bob } else { &pair.alice };
        let args = &case.args;

        // --json: every field and schema_version, before or after the verb.
        let after = run(home, &with(args, &["--json"]));
        assert!(after.status.success(), "{args:?} --json: {}", describe(&after));
        let doc: Value = serde_json::from_slice(&after.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"));
        assert_eq!(doc["schema_version"], 1, "{args:?}: {doc}");
        let before = run(home, &["--json".to_string()].into_iter().chain(args.iter().cloned()).collect::<Vec<_>>());
        assert!(before.status.success(), "--json {args:?}: {}", describe(&before));
        serde_json::from_slice::<Value>(&before.stdout).unwrap_or_else(|e| panic!("--json {args:?}: not JSON ({e})"));

        // --json=b,a: exactly those keys, in that order, then schema_version.
        let keys: Vec<String> =
            doc.as_object().expect("object").keys().filter(|k| *k != "schema_version").cloned().collect();
        assert!(keys.len() >= 2, "{args:?}: {doc}");
        let asked = format!("--json={},{}", keys[1], keys[0]);
        let out = run(home, &with(args, &[&asked]));
        assert!(out.status.success(), "{args:?} {asked}: {}", describe(&out));
        let projected: Value = serde_json::from_slice(&out.stdout).expect("projected JSON");
        let got: Vec<&String> = projected.as_object().expect("object").keys().collect();
        assert_eq!(got, vec![&keys[1], &keys[0], &"schema_version".to_string()], "{args:?} {asked}");

        // Unknown field: exit 3, naming it and every valid field.
        let err = invalid_arguments(&run(home, &with(args, &["--json=nonexistent_field"])));
        let message = s(&err["error"]["message"]);
        assert!(message.contains("nonexistent_field"), "{message}");
        for key in &keys {
            assert!(message.contains(key.as_str()), "{args:?}: {key} not listed in: {message}");
        }

        // --jq equals the real jq on the same --json document (and jq -c under stream-json).
        for program in GENERIC_JQ.iter().chain(case.jq) {
            assert_jq_matches(home, args, program, false);
        }
        assert_jq_matches(home, args, ".", true);
        assert_jq_matches(home, args, case.jq[0], true);

        // --template renders the document.
        let out = run(home, &with(args, &["--template", case.template]));
        assert!(out.status.success(), "{args:?} --template: {}", describe(&out));
        assert_eq!(stdout(&out), format!("{}\n", (case.rendered)(&doc)), "{args:?} --template {}", case.template);
    }
}

#[test]
fn bad_programs_templates_and_flag_mixes_exit_3_before_the_verb_runs() {
    let home = Home::new();
    let err = invalid_arguments(&home.run(&["list", "--jq", ".meshes[] |"]));
    assert!(s(&err["error"]["message"]).contains("not valid jq"), "{err}");
    let err = invalid_arguments(&home.run(&["list", "--jq", "nosuchfilter(1)"]));
    assert!(s(&err["error"]["message"]).contains("undefined filter nosuchfilter"), "{err}");
    let err = invalid_arguments(&home.run(&["list", "--template", "{% for m in meshes %}"]));
    assert!(s(&err["error"]["message"]).contains("not a valid template"), "{err}");
    invalid_arguments(&home.run(&["list", "--json", "--output-format", "text"]));
    invalid_arguments(&home.run(&["list", "--jq", ".", "--template", "x"]));
    // A bare --json never takes the next word as its field list.
    let err = invalid_arguments(&home.run(&["list", "--json", "meshes"]));
    assert!(s(&err["error"]["message"]).contains("meshes"), "{err}");
    // A jq runtime error and a template naming a missing field fail too (after the verb ran).
    let err = invalid_arguments(&home.run(&["list", "--jq", ".current.x.y | error(\"boom\")"]));
    assert!(s(&err["error"]["message"]).contains("boom"), "{err}");
    let err = invalid_arguments(&home.run(&["list", "--template", "{{ no_such_field.x }}"]));
    assert!(s(&err["error"]["message"]).contains("undefined"), "{err}");
    // Nothing was created by the failed runs.
    assert_eq!(home.json(&["list"])["meshes"], Value::Array(Vec::new()));
}

#[test]
fn json_works_before_and_after_the_verb_without_swallowing_positionals() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let _stop = StopDaemons(&[&pair.alice, &pair.bob]);
    for args in [
        &["--json", "send", "bob", "first"][..],
        &["send", "bob", "second", "--json"],
        &["--json=id", "send", "bob", "third"],
        &["send", "--json", "bob", "fourth"],
    ] {
        let out = pair.alice.run(args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"));
        assert_eq!(doc["schema_version"], 1);
        assert!(doc["id"].is_string(), "{args:?}: {doc}");
    }
    let inbox = pair.bob.json(&["inbox"]);
    let bodies: Vec<&str> = inbox["messages"].as_array().expect("messages").iter().map(|m| s(&m["body"])).collect();
    assert_eq!(bodies, vec!["first", "second", "third", "fourth"]);
}

#[test]
fn stream_json_follow_prints_one_jq_result_per_message() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let _stop = StopDaemons(&[&pair.alice, &pair.bob]);
    pair.alice.json(&["send", "bob", "one"]);
    let mut child = pair
        .bob
        .cmd()
        .args(["inbox", "--follow", "--output-format", "stream-json", "--jq", "{body, from: .from.name}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn inbox --follow");
    let out = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next =
        |what: &str| lines.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("no line for {what}"));
    assert_eq!(next("the queued message"), r#"{"body":"one","from":"alice"}"#);
    pair.alice.json(&["send", "bob", "two"]);
    assert_eq!(next("the live message"), r#"{"body":"two","from":"alice"}"#);
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(status.expect("kill").success());
    let end = child.wait_with_output().expect("wait");
    assert_eq!(end.status.code(), Some(0), "{}", describe(&end));
}
