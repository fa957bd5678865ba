//! Policy engine tests: decision order, approval modes, peer matching, files, errors and caps.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::file::{DEFAULT_USER_POLICY, MAX_FILE_BYTES, MAX_RULES, parse};
use super::rules::Origin;
use super::*;

const USER: &str = "/home/u/.claudemesh/policy.yaml";
const EXTRA: &str = "/tmp/extra.yaml";
const ADMIN: &str = "/etc/claudemesh/policy.yaml";

fn layer(path: &str, text: &str, origin: Origin) -> rules::Layer {
    match parse(Path::new(path), text, origin) {
        Ok(layer) => layer,
        Err(e) => panic!("{path} should parse: {e}"),
    }
}

fn policy(user: &str, extra: Option<&str>, admin: Option<&str>) -> Policy {
    Policy {
        user: layer(USER, user, Origin::User),
        extra: extra.map(|t| layer(EXTRA, t, Origin::Extra)),
        admin: admin.map(|t| layer(ADMIN, t, Origin::Admin)),
    }
}

fn op<'a>(resource: &'a str, verb: &'a str, class: OpClass, peers: &[&str]) -> Operation<'a> {
    Operation { resource, verb, class, peers: peers.iter().map(|p| (*p).to_owned()).collect() }
}

fn send(peers: &[&str]) -> Operation<'static> {
    op("message", "send", OpClass::Write, peers)
}

fn peer_list() -> Operation<'static> {
    op("peer", "list", OpClass::Read, &[])
}

fn mesh_leave() -> Operation<'static> {
    op("mesh", "leave", OpClass::Destructive, &[])
}

fn kind(p: &Policy, o: &Operation<'_>, mode: ApprovalMode) -> &'static str {
    p.evaluate(o, mode).kind()
}

fn parse_err(text: &str) -> PolicyError {
    match parse(Path::new(USER), text, Origin::User) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e,
    }
}

fn position(e: &PolicyError) -> (&'static str, usize, usize, String) {
    match e {
        PolicyError::Parse { line, column, message, .. } => ("parse", *line, *column, message.clone()),
        PolicyError::Invalid { line, column, message, .. } => ("invalid", *line, *column, message.clone()),
        other => panic!("expected a positioned error, got {other:?}"),
    }
}

use ApprovalMode::{Plan, ReadOnly, Write, Yolo};

// ---- decision order ----

#[test]
fn first_matching_rule_wins_within_a_file() {
    let p = policy(
        "rules:\n\
         - {resource: message, verb: send, peers: [alice], decision: allow}\n\
         - {resource: message, verb: send, decision: deny, reason: no sends}\n\
         - {resource: message, verb: send, peers: [alice], decision: prompt}\n",
        None,
        None,
    );
    assert_eq!(p.evaluate(&send(&["alice"]), Write), Decision::Allow { rule: Some(format!("{USER}:2")) });
    assert_eq!(
        p.evaluate(&send(&["bob"]), Write),
        Decision::Deny { rule: Some(format!("{USER}:3")), reason: "no sends".into() }
    );
}

#[test]
fn admin_rule_beats_user_rule() {
    let user = "rules:\n- {resource: message, verb: send, decision: allow}\n";
    let admin = "rules:\n- {resource: message, verb: send, peers: ['@prod'], decision: deny, name: no-prod}\n";
    let p = policy(user, None, Some(admin));
    assert_eq!(
        p.evaluate(&send(&["@prod"]), Write),
        Decision::Deny {
            rule: Some(format!("no-prod ({ADMIN}:2)")),
            reason: "message send @prod is denied by the policy".into()
        }
    );
    // Where the admin file says nothing, the user's rule decides.
    assert_eq!(p.evaluate(&send(&["@dev"]), Write), Decision::Allow { rule: Some(format!("{USER}:2")) });
}

#[test]
fn admin_allow_beats_user_deny() {
    let p = policy(
        "rules:\n- {resource: peer, decision: deny}\n",
        None,
        Some("rules:\n- {resource: peer, verb: list, decision: allow}\n"),
    );
    assert_eq!(kind(&p, &peer_list(), Write), "allow");
}

#[test]
fn admin_defaults_override_user_rules() {
    let p = policy(
        "rules:\n- {resource: message, decision: allow}\n",
        None,
        Some("defaults: {write: deny}\nrules:\n- {resource: message, verb: send, peers: ['@ops'], decision: allow}\n"),
    );
    assert_eq!(kind(&p, &send(&["@ops"]), Write), "allow");
    let d = p.evaluate(&send(&["alice"]), Write);
    assert_eq!(d.kind(), "deny");
    assert_eq!(d.rule(), Some(format!("{ADMIN}: defaults.write").as_str()));
    // Reads have no admin default, so the user's policy (and the built-ins) still apply.
    assert_eq!(kind(&p, &peer_list(), Write), "allow");
}

#[test]
fn extra_file_can_tighten_but_never_loosen_the_user_policy() {
    let user = "defaults: {read: allow, write: allow, destructive: prompt}\n\
                rules:\n- {resource: message, verb: send, peers: [mallory], decision: deny}\n";
    let extra = "default: deny\nrules:\n\
                 - {resource: message, verb: send, decision: allow}\n\
                 - {resource: mesh, verb: leave, decision: allow}\n";
    let p = policy(user, Some(extra), None);
    // The extra file's allow cannot undo the user's deny or the user's destructive prompt.
    assert_eq!(kind(&p, &send(&["mallory"]), Write), "deny");
    assert_eq!(kind(&p, &send(&["alice"]), Write), "allow");
    assert_eq!(kind(&p, &mesh_leave(), Write), "prompt");
    // Its default deny tightens what the user allowed.
    let d = p.evaluate(&peer_list(), Write);
    assert_eq!(d.kind(), "deny");
    assert_eq!(d.rule(), Some(format!("{EXTRA}: default").as_str()));
}

#[test]
fn file_default_applies_to_classes_without_a_per_class_default() {
    let p = policy("default: deny\ndefaults: {read: allow}\n", None, None);
    assert_eq!(kind(&p, &peer_list(), Write), "allow");
    assert_eq!(kind(&p, &send(&[]), Write), "deny");
    assert_eq!(kind(&p, &mesh_leave(), Write), "deny");
}

#[test]
fn builtin_defaults_apply_when_the_user_file_is_empty() {
    let p = policy("", None, None);
    assert_eq!(p.evaluate(&peer_list(), Write), Decision::Allow { rule: None });
    assert_eq!(p.evaluate(&send(&["a"]), Write), Decision::Allow { rule: None });
    assert_eq!(
        p.evaluate(&mesh_leave(), Write),
        Decision::Prompt { rule: None, reason: "mesh leave is destructive and needs confirmation".into() }
    );
}

#[test]
fn class_and_wildcard_resource_and_verb_match() {
    let p = policy(
        "rules:\n\
         - {resource: '*', verb: revoke, decision: deny}\n\
         - {class: destructive, decision: allow}\n\
         - {resource: group, verb: '*', decision: prompt}\n",
        None,
        None,
    );
    assert_eq!(kind(&p, &op("invite", "revoke", OpClass::Destructive, &[]), Write), "deny");
    assert_eq!(kind(&p, &mesh_leave(), Write), "allow");
    assert_eq!(kind(&p, &op("group", "join", OpClass::Write, &["@dev"]), Write), "prompt");
    assert_eq!(kind(&p, &op("group", "list", OpClass::Read, &[]), Write), "prompt");
    assert_eq!(kind(&p, &peer_list(), Write), "allow");
}

// ---- approval modes ----

fn permissive() -> Policy {
    policy("defaults: {read: allow, write: allow, destructive: allow}\n", None, None)
}

#[test]
fn plan_mode_denies_writes_and_destructive_and_allows_reads() {
    let p = permissive();
    assert_eq!(kind(&p, &peer_list(), Plan), "allow");
    assert_eq!(
        p.evaluate(&send(&["alice"]), Plan),
        Decision::Deny { rule: None, reason: "plan mode: nothing is changed (message send was not run)".into() }
    );
    assert_eq!(kind(&p, &mesh_leave(), Plan), "deny");
}

#[test]
fn read_only_mode_denies_writes_and_destructive_and_allows_reads() {
    let p = permissive();
    assert_eq!(kind(&p, &peer_list(), ReadOnly), "allow");
    assert_eq!(
        p.evaluate(&send(&["alice"]), ReadOnly),
        Decision::Deny { rule: None, reason: "read-only mode: message send would change the mesh".into() }
    );
    assert_eq!(kind(&p, &mesh_leave(), ReadOnly), "deny");
}

#[test]
fn restrictive_modes_still_apply_rules_to_reads() {
    let p = policy("rules:\n- {resource: audit, decision: deny}\n", None, None);
    let audit_show = op("audit", "show", OpClass::Read, &[]);
    for mode in [Plan, ReadOnly, Write, Yolo] {
        assert_eq!(kind(&p, &audit_show, mode), "deny", "{mode:?}");
    }
}

#[test]
fn write_mode_applies_rules_and_prompts_on_destructive_by_default() {
    let p = policy(DEFAULT_USER_POLICY, None, None);
    assert_eq!(kind(&p, &peer_list(), Write), "allow");
    assert_eq!(kind(&p, &send(&["alice"]), Write), "allow");
    assert_eq!(
        p.evaluate(&mesh_leave(), Write),
        Decision::Prompt {
            rule: Some(format!("{USER}: defaults.destructive")),
            reason: "mesh leave is destructive and needs confirmation".into()
        }
    );
    let p = policy("rules:\n- {resource: mesh, verb: leave, decision: allow}\n", None, None);
    assert_eq!(kind(&p, &mesh_leave(), Write), "allow");
}

#[test]
fn yolo_turns_prompts_into_allows() {
    let p = policy(
        "rules:\n- {resource: message, decision: prompt}\n",
        None,
        Some("rules:\n- {resource: group, decision: prompt}\n"),
    );
    assert_eq!(kind(&p, &peer_list(), Yolo), "allow");
    assert_eq!(p.evaluate(&send(&["alice"]), Yolo), Decision::Allow { rule: Some(format!("{USER}:2")) });
    assert_eq!(kind(&p, &op("group", "join", OpClass::Write, &["@a"]), Yolo), "allow");
    assert_eq!(p.evaluate(&mesh_leave(), Yolo), Decision::Allow { rule: None });
}

#[test]
fn yolo_never_overrides_a_user_deny() {
    let p = policy(
        "default: deny\nrules:\n- {resource: message, verb: send, peers: ['@prod'], decision: deny}\n",
        None,
        None,
    );
    assert_eq!(kind(&p, &send(&["@prod"]), Yolo), "deny");
    // A file's default deny is a deny the user wrote, too.
    assert_eq!(kind(&p, &peer_list(), Yolo), "deny");
}

#[test]
fn yolo_never_overrides_an_admin_deny() {
    let p = policy(
        "rules:\n- {resource: '*', decision: allow}\n",
        None,
        Some("rules:\n- {resource: mesh, verb: leave, decision: deny}\n"),
    );
    assert_eq!(kind(&p, &mesh_leave(), Yolo), "deny");
}

#[test]
fn admin_max_approval_mode_caps_the_requested_mode() {
    let p = policy("", None, Some("max_approval_mode: write\n"));
    assert_eq!(p.effective_mode(Yolo), Write);
    assert_eq!(p.effective_mode(Plan), Plan);
    assert_eq!(
        p.evaluate(&mesh_leave(), Yolo),
        Decision::Prompt {
            rule: None,
            reason: "mesh leave is destructive and needs confirmation \
                     (the admin policy allows at most --approval-mode write)"
                .into()
        }
    );
    let p = policy("", None, Some("max_approval_mode: read-only\n"));
    assert_eq!(kind(&p, &send(&["a"]), Yolo), "deny");
    assert_eq!(kind(&p, &peer_list(), Yolo), "allow");
}

#[test]
fn max_approval_mode_is_refused_outside_the_admin_file() {
    let e = parse_err("version: 1\nmax_approval_mode: yolo\n");
    let (what, line, column, message) = position(&e);
    assert_eq!((what, line, column), ("invalid", 2, 20));
    assert!(message.contains("only honoured in the admin policy"), "{message}");
}

// ---- peer matching ----

#[test]
fn group_pattern_matches_only_that_group_as_written() {
    let p = policy("rules:\n- {resource: message, verb: send, peers: ['@dev'], decision: deny}\n", None, None);
    assert_eq!(kind(&p, &send(&["@dev"]), Write), "deny");
    assert_eq!(kind(&p, &send(&["@devops"]), Write), "allow");
    assert_eq!(kind(&p, &send(&["dev"]), Write), "allow");
    // Targets are matched as written: a broadcast is not expanded into groups.
    assert_eq!(kind(&p, &send(&["*"]), Write), "allow");
}

#[test]
fn exact_peer_pattern_matches_only_that_name() {
    let p = policy("rules:\n- {peers: [alice], decision: deny}\n", None, None);
    assert_eq!(kind(&p, &send(&["alice"]), Write), "deny");
    assert_eq!(kind(&p, &send(&["alice2"]), Write), "allow");
    assert_eq!(kind(&p, &send(&["Alice"]), Write), "allow");
    assert_eq!(kind(&p, &send(&["@alice"]), Write), "allow");
}

#[test]
fn star_peer_pattern_matches_any_target() {
    let p = policy("rules:\n- {resource: message, peers: ['*'], decision: prompt}\n", None, None);
    for target in ["alice", "@dev", "*"] {
        assert_eq!(kind(&p, &send(&[target]), Write), "prompt", "{target}");
    }
}

#[test]
fn at_star_pattern_matches_any_group_target() {
    let p = policy("rules:\n- {peers: ['@*'], decision: deny}\n", None, None);
    assert_eq!(kind(&p, &send(&["@dev"]), Write), "deny");
    assert_eq!(kind(&p, &send(&["alice"]), Write), "allow");
    assert_eq!(kind(&p, &send(&["*"]), Write), "allow");
}

#[test]
fn a_rule_with_peers_does_not_match_an_operation_without_targets() {
    let p = policy("rules:\n- {peers: ['*'], decision: deny}\n", None, None);
    assert_eq!(kind(&p, &peer_list(), Write), "allow");
    assert_eq!(kind(&p, &send(&["x"]), Write), "deny");
}

#[test]
fn every_target_is_checked_and_the_strictest_decides() {
    let p = policy(
        "rules:\n\
         - {resource: message, peers: [alice], decision: allow}\n\
         - {resource: message, peers: ['@ops'], decision: prompt}\n\
         - {resource: message, peers: [mallory], decision: deny, reason: mallory is out}\n",
        None,
        None,
    );
    // An allow for one target cannot carry another target past its own rule.
    assert_eq!(kind(&p, &send(&["alice", "@ops"]), Write), "prompt");
    assert_eq!(
        p.evaluate(&send(&["alice", "@ops", "mallory"]), Write),
        Decision::Deny { rule: Some(format!("{USER}:4")), reason: "mallory is out".into() }
    );
    assert_eq!(
        p.evaluate(&send(&["@ops", "bob"]), Write),
        Decision::Prompt { rule: Some(format!("{USER}:3")), reason: "message send @ops needs confirmation".into() }
    );
}

// ---- files on disk ----

#[test]
fn missing_user_file_is_created_0600_in_a_0700_parent_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home").join(".claudemesh");
    let user = home.join("policy.yaml");
    let p = Policy::load(&user, None, None).unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&user), 0o600);
    assert_eq!(mode(&home), 0o700);
    assert_eq!(std::fs::read_to_string(&user).unwrap(), DEFAULT_USER_POLICY);
    assert_eq!(kind(&p, &peer_list(), Write), "allow");
    assert_eq!(kind(&p, &send(&["a"]), Write), "allow");
    assert_eq!(kind(&p, &mesh_leave(), Write), "prompt");
    assert_eq!(kind(&p, &mesh_leave(), Yolo), "allow");
}

#[test]
fn the_default_file_example_rule_works_when_uncommented() {
    let text = DEFAULT_USER_POLICY.replace("  # - ", "  - ").replace("  #   ", "    ");
    assert_ne!(text, DEFAULT_USER_POLICY);
    let p = policy(&text, None, None);
    assert_eq!(kind(&p, &send(&["@prod"]), Write), "deny");
    assert_eq!(kind(&p, &send(&["@dev"]), Write), "allow");
}

#[test]
fn an_existing_user_file_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("policy.yaml");
    std::fs::write(&user, "default: deny\n").unwrap();
    let p = Policy::load(&user, None, None).unwrap();
    assert_eq!(std::fs::read_to_string(&user).unwrap(), "default: deny\n");
    assert_eq!(kind(&p, &peer_list(), Write), "deny");
}

#[test]
fn load_reads_extra_and_admin_files() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("policy.yaml");
    let extra = dir.path().join("extra.yaml");
    let admin = dir.path().join("admin.yaml");
    std::fs::write(&extra, "rules:\n- {resource: message, decision: prompt}\n").unwrap();
    std::fs::write(&admin, "rules:\n- {resource: peer, decision: deny}\n").unwrap();
    let p = Policy::load(&user, Some(&extra), Some(&admin)).unwrap();
    assert_eq!(kind(&p, &send(&["a"]), Write), "prompt");
    assert_eq!(kind(&p, &peer_list(), Write), "deny");
}

#[test]
fn a_missing_admin_file_means_no_admin_policy_but_a_missing_extra_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("policy.yaml");
    let absent = dir.path().join("absent.yaml");
    let p = Policy::load(&user, None, Some(&absent)).unwrap();
    assert!(p.admin.is_none());
    match Policy::load(&user, Some(&absent), None) {
        Err(PolicyError::Io { path, source }) => {
            assert_eq!(path, absent);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io NotFound, got {other:?}"),
    }
}

#[test]
fn an_oversized_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("policy.yaml");
    let mut text = String::from("rules:\n");
    while text.len() as u64 <= MAX_FILE_BYTES {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&user, &text).unwrap();
    match Policy::load(&user, None, None) {
        Err(PolicyError::TooLarge { path, limit }) => {
            assert_eq!(path, user);
            assert_eq!(limit, 1024 * 1024);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Exactly at the cap is still read.
    text.truncate(usize::try_from(MAX_FILE_BYTES).unwrap() - 1);
    text.push('\n');
    std::fs::write(&user, &text).unwrap();
    assert!(Policy::load(&user, None, None).is_ok());
}

#[test]
fn too_many_rules_are_refused_at_the_first_rule_over_the_cap() {
    let mut text = String::from("rules:\n");
    for _ in 0..=MAX_RULES {
        text.push_str("- {decision: allow}\n");
    }
    let (what, line, column, message) = position(&parse_err(&text));
    assert_eq!((what, line, column), ("invalid", MAX_RULES + 2, 3));
    assert!(message.contains("at most 10000"), "{message}");
    // Exactly the cap is fine.
    text.truncate(text.len() - "- {decision: allow}\n".len());
    assert_eq!(layer(USER, &text, Origin::User).rules.len(), MAX_RULES);
}

#[test]
fn non_utf8_file_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("policy.yaml");
    std::fs::write(&user, b"version: 1\ndefault: d\xffny\n").unwrap();
    let e = Policy::load(&user, None, None).unwrap_err();
    assert_eq!(position(&e), ("parse", 2, 11, "the file is not valid UTF-8".to_owned()));
}

// ---- parse and schema errors ----

#[test]
fn malformed_yaml_reports_line_and_column() {
    let e = parse_err("version: 1\nrules: [\n  - a\n");
    let (what, line, column, _) = position(&e);
    assert_eq!((what, line, column), ("parse", 3, 3));
    assert!(e.to_string().starts_with(&format!("{USER}:3:3: ")), "{e}");
}

#[test]
fn lone_carriage_returns_are_line_breaks_in_error_positions() {
    // YAML ends lines at LF, CR LF and a lone CR; the position counts them the same way (found by fuzz/policy:
    // fuzz/regressions/policy/lone-cr-line-breaks.yaml).
    let e = parse_err("version: 1\r\rrules: [\r\n  - a\r");
    let (what, line, _, _) = position(&e);
    assert_eq!((what, line), ("parse", 4));
}

#[test]
fn unknown_key_reports_line_and_column() {
    let e = parse_err("version: 1\nrules:\n  - resource: message\n    verbs: send\n    decision: deny\n");
    let (what, line, column, message) = position(&e);
    assert_eq!((what, line, column), ("parse", 4, 5));
    assert!(message.contains("unknown field `verbs`"), "{message}");
    let (_, line, column, message) = position(&parse_err("defaults:\n  reads: allow\n"));
    assert_eq!((line, column), (2, 3));
    assert!(message.contains("`reads`"), "{message}");
}

#[test]
fn bad_decision_value_reports_line_and_column() {
    let e = parse_err("rules:\n  - resource: message\n    decision: maybe\n");
    let (what, line, column, message) = position(&e);
    assert_eq!((what, line, column), ("parse", 3, 15));
    assert!(message.contains("`maybe`"), "{message}");
    let (_, line, column, _) = position(&parse_err("default: sometimes\n"));
    assert_eq!((line, column), (1, 10));
}

#[test]
fn wrong_type_reports_line_and_column() {
    let (what, line, column, _) = position(&parse_err("rules:\n  - peers: alice\n    decision: deny\n"));
    assert_eq!((what, line, column), ("parse", 2, 12));
    let (_, line, column, _) = position(&parse_err("rules: {a: 1}\n"));
    assert_eq!((line, column), (1, 8));
    let (_, line, column, _) = position(&parse_err("version: one\n"));
    assert_eq!((line, column), (1, 10));
    let (_, line, column, message) = position(&parse_err("rules:\n  - resource: message\n"));
    assert_eq!((line, column), (2, 5));
    assert!(message.contains("missing field `decision`"), "{message}");
}

#[test]
fn unsupported_version_reports_line_and_column() {
    let (what, line, column, message) = position(&parse_err("# policy\nversion: 2\n"));
    assert_eq!((what, line, column), ("invalid", 2, 10));
    assert!(message.contains("version 2"), "{message}");
}

#[test]
fn invalid_patterns_report_line_and_column() {
    let (what, line, column, message) = position(&parse_err("rules:\n- decision: deny\n  peers: [alice, 'dev-*']\n"));
    assert_eq!((what, line, column), ("invalid", 3, 18));
    assert!(message.contains("wildcard"), "{message}");
    let (_, line, column, _) = position(&parse_err("rules:\n- decision: deny\n  peers: []\n"));
    assert_eq!((line, column), (3, 10));
    let (_, line, column, _) = position(&parse_err("rules:\n- decision: deny\n  resource: 'mess age'\n"));
    assert_eq!((line, column), (3, 13));
    let (_, line, column, _) = position(&parse_err("rules:\n- decision: deny\n  verb: ''\n"));
    assert_eq!((line, column), (3, 9));
}

#[test]
fn duplicate_keys_are_refused() {
    let (what, line, column, _) = position(&parse_err("default: allow\ndefault: deny\n"));
    assert_eq!((what, line, column), ("parse", 2, 1));
}

#[test]
fn control_characters_in_reasons_are_neutralised() {
    let p = policy("rules:\n- {decision: deny, reason: \"a\\u001b[2Jb\"}\n", None, None);
    assert_eq!(p.evaluate(&peer_list(), Write).reason(), Some("a\u{fffd}[2Jb"));
}
