//! `claudemesh install` and `uninstall` against realistic Claude Code files in a scratch HOME, with the real
//! binary: exactly our entries are added, everything else is kept, backups equal the originals, both verbs are
//! idempotent, uninstall restores the originals, and a malformed file stops everything.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use support::{Home, describe, stderr, stdout};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/claude");

/// A user: a HOME for Claude Code's files and a claudemesh home.
struct User {
    home: Home,
    dir: tempfile::TempDir,
}

impl User {
    fn new() -> User {
        User { home: Home::new(), dir: tempfile::tempdir().expect("tempdir") }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn claude_json(&self) -> PathBuf {
        self.path().join(".claude.json")
    }

    fn settings(&self) -> PathBuf {
        self.path().join(".claude").join("settings.json")
    }

    fn skill_dir(&self) -> PathBuf {
        self.path().join(".claude").join("skills").join("claudemesh")
    }

    /// Copies the fixtures in place of `~/.claude.json` and `~/.claude/settings.json`.
    fn with_fixtures(self, claude_json: &str, settings: &str) -> User {
        fs::create_dir_all(self.path().join(".claude")).unwrap();
        fs::copy(Path::new(FIXTURES).join(claude_json), self.claude_json()).unwrap();
        fs::copy(Path::new(FIXTURES).join(settings), self.settings()).unwrap();
        self
    }

    fn run(&self, args: &[&str]) -> Output {
        self.home
            .cmd()
            .env("HOME", self.path())
            .env_remove("CLAUDE_CONFIG_DIR")
            .args(args)
            .output()
            .expect("run claudemesh")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(out.status.success(), "claudemesh {all:?}: {}", describe(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        assert_eq!(doc["schema_version"], 1);
        doc
    }

    /// Every `*.claudemesh-backup-*` file under HOME.
    fn backups(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.file_name().unwrap().to_string_lossy().contains(".claudemesh-backup-") {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), &mut out);
        out.sort();
        out
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture(name: &str) -> Value {
    read_json(&Path::new(FIXTURES).join(name))
}

fn binary() -> String {
    fs::canonicalize(support::bin()).unwrap().to_string_lossy().into_owned()
}

const HOOKS: [(&str, &str); 3] = [("UserPromptSubmit", "prompt"), ("Stop", "stop"), ("SessionStart", "session-start")];

/// Takes our entries out of an installed pair of documents and checks each was exactly what we add.
fn strip_ours(mut claude: Value, mut settings: Value) -> (Value, Value) {
    let bin = binary();
    let entry = claude["mcpServers"].as_object_mut().unwrap().shift_remove("claudemesh").expect("claudemesh entry");
    assert_eq!(entry, json!({"type": "stdio", "command": bin, "args": ["mcp"], "env": {}}));
    for (event, sub) in HOOKS {
        let groups = settings["hooks"][event].as_array_mut().unwrap_or_else(|| panic!("no {event} hooks"));
        let ours = groups.pop().unwrap();
        assert_eq!(ours, json!({"hooks": [{"type": "command", "command": bin, "args": ["hook", sub], "timeout": 5}]}));
        if groups.is_empty() && event != "SessionStart" {
            settings["hooks"].as_object_mut().unwrap().shift_remove(event);
        }
    }
    (claude, settings)
}

/// Equal as JSON values and in key order (the pretty-printed forms match).
fn assert_same(actual: &Value, expected: &Value, what: &str) {
    assert_eq!(actual, expected, "{what} differs");
    assert_eq!(
        serde_json::to_string_pretty(actual).unwrap(),
        serde_json::to_string_pretty(expected).unwrap(),
        "{what}: key order changed"
    );
}

#[test]
fn install_adds_exactly_our_entries_and_keeps_everything_else() {
    let user = User::new().with_fixtures("claude.json", "settings.json");
    fs::set_permissions(user.settings(), fs::Permissions::from_mode(0o640)).unwrap();
    let original_claude = fs::read(user.claude_json()).unwrap();
    let original_settings = fs::read(user.settings()).unwrap();

    let report = user.json(&["install"]);
    assert_eq!(report["changed"], true);
    assert_eq!(report["binary"], binary());
    assert_eq!(report["mcp"]["action"], "added");
    assert_eq!(report["mcp"]["file"], user.claude_json().to_string_lossy().as_ref());
    assert_eq!(report["skill"]["action"], "added");
    let handlers = report["hooks"]["handlers"].as_array().unwrap();
    assert_eq!(handlers.len(), 3);
    assert!(handlers.iter().all(|h| h["action"] == "added"), "{report}");

    let (claude, settings) = strip_ours(read_json(&user.claude_json()), read_json(&user.settings()));
    assert_same(&claude, &fixture("claude.json"), "~/.claude.json without our entry");
    assert_same(&settings, &fixture("settings.json"), "settings.json without our hooks");
    assert_eq!(fs::metadata(user.settings()).unwrap().permissions().mode() & 0o777, 0o640, "settings.json mode");

    // One backup per changed file, byte for byte the original.
    let backups = user.backups();
    assert_eq!(backups.len(), 2, "{backups:?}");
    for backup in &backups {
        let name = backup.file_name().unwrap().to_string_lossy().into_owned();
        let original = if name.starts_with(".claude.json") { &original_claude } else { &original_settings };
        assert_eq!(&fs::read(backup).unwrap(), original, "{name}");
    }

    let skill = fs::read_to_string(user.skill_dir().join("SKILL.md")).unwrap();
    assert!(skill.starts_with("---\nname: claudemesh\n"), "{skill}");
    assert!(skill.contains("allowed-tools: Bash(claudemesh *)"));
    assert!(user.skill_dir().join("reference.md").is_file());

    let record = read_json(&user.home.path().join("install.json"));
    assert_eq!(record["schema_version"], 1);
    assert_eq!(record["binary"], binary());
    assert_eq!(record["hooks"]["handlers"].as_array().unwrap().len(), 3);
}

#[test]
fn a_second_install_is_a_no_op_and_says_already_installed() {
    let user = User::new().with_fixtures("claude.json", "settings.json");
    user.json(&["install"]);
    let claude = fs::read(user.claude_json()).unwrap();
    let settings = fs::read(user.settings()).unwrap();
    let skill = fs::read(user.skill_dir().join("SKILL.md")).unwrap();
    let record = fs::read(user.home.path().join("install.json")).unwrap();
    let backups = user.backups();

    let again = user.json(&["install"]);
    assert_eq!(again["changed"], false);
    assert_eq!(again["mcp"]["action"], "unchanged");
    assert_eq!(again["skill"]["action"], "unchanged");
    assert!(again["hooks"]["handlers"].as_array().unwrap().iter().all(|h| h["action"] == "unchanged"));
    assert_eq!(again["backups"], json!([]));

    let out = user.run(&["install"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("already installed"), "{}", describe(&out));

    assert_eq!(fs::read(user.claude_json()).unwrap(), claude);
    assert_eq!(fs::read(user.settings()).unwrap(), settings);
    assert_eq!(fs::read(user.skill_dir().join("SKILL.md")).unwrap(), skill);
    assert_eq!(fs::read(user.home.path().join("install.json")).unwrap(), record);
    assert_eq!(user.backups(), backups);
}

#[test]
fn uninstall_restores_the_originals_and_a_second_uninstall_is_a_no_op() {
    let user = User::new().with_fixtures("claude.json", "settings.json");
    user.json(&["install"]);
    user.json(&["install"]);

    let removed = user.json(&["uninstall"]);
    assert_eq!(removed["changed"], true);
    assert_eq!(removed["mcp"]["action"], "removed");
    assert_eq!(removed["skill"]["action"], "removed");
    assert!(removed["hooks"]["handlers"].as_array().unwrap().iter().all(|h| h["action"] == "removed"), "{removed}");

    assert_same(&read_json(&user.claude_json()), &fixture("claude.json"), "~/.claude.json after uninstall");
    assert_same(&read_json(&user.settings()), &fixture("settings.json"), "settings.json after uninstall");
    assert!(!user.skill_dir().exists(), "the skill directory is still there");
    assert!(!user.home.path().join("install.json").exists());

    let again = user.json(&["uninstall"]);
    assert_eq!(again["changed"], false);
    assert_eq!(again["mcp"]["action"], "absent");
    let out = user.run(&["uninstall"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("not installed"), "{}", describe(&out));
    assert_same(&read_json(&user.claude_json()), &fixture("claude.json"), "~/.claude.json after a second uninstall");
}

#[test]
fn other_handlers_and_servers_added_after_install_survive_uninstall() {
    let user = User::new().with_fixtures("claude.json", "settings.json");
    user.json(&["install"]);
    // The user adds a handler of their own to the group we created, and another server.
    let mut settings = read_json(&user.settings());
    let groups = settings["hooks"]["UserPromptSubmit"].as_array_mut().unwrap();
    groups[0]["hooks"].as_array_mut().unwrap().push(json!({"type": "command", "command": "log-prompt"}));
    fs::write(user.settings(), serde_json::to_vec_pretty(&settings).unwrap()).unwrap();

    user.json(&["uninstall"]);
    let settings = read_json(&user.settings());
    assert_eq!(
        settings["hooks"]["UserPromptSubmit"],
        json!([{"hooks": [{"type": "command", "command": "log-prompt"}]}])
    );
    assert_eq!(settings["hooks"]["Stop"], fixture("settings.json")["hooks"]["Stop"]);
}

#[test]
fn a_malformed_file_is_named_and_nothing_is_written() {
    let user = User::new().with_fixtures("claude.json", "malformed.json");
    let claude = fs::read(user.claude_json()).unwrap();
    let settings = fs::read(user.settings()).unwrap();

    let out = user.run(&["install"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains(&*user.settings().to_string_lossy()), "the error does not name the file: {err}");
    assert!(err.contains("not valid JSON"), "{err}");

    let out = user.run(&["--json", "install"]);
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(doc["error"]["code"], "claude_config_invalid");

    assert_eq!(fs::read(user.claude_json()).unwrap(), claude);
    assert_eq!(fs::read(user.settings()).unwrap(), settings);
    assert!(!user.skill_dir().exists());
    assert!(user.backups().is_empty());
    assert!(!user.home.path().join("install.json").exists());

    // Uninstall refuses the same way.
    let out = user.run(&["uninstall"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(fs::read(user.settings()).unwrap(), settings);
}

#[test]
fn entries_pointing_to_another_binary_are_updated_and_reported() {
    let user = User::new();
    fs::create_dir_all(user.path().join(".claude")).unwrap();
    let old = "/usr/local/old/claudemesh";
    fs::write(
        user.claude_json(),
        serde_json::to_vec_pretty(&json!({"mcpServers": {"claudemesh": {"type": "stdio", "command": old, "args": ["mcp"], "env": {"X": "1"}}}}))
            .unwrap(),
    )
    .unwrap();
    fs::write(
        user.settings(),
        serde_json::to_vec_pretty(&json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": old, "args": ["hook", "stop"], "timeout": 5}]}]}}))
            .unwrap(),
    )
    .unwrap();

    let report = user.json(&["install"]);
    assert_eq!(report["mcp"]["action"], "updated");
    assert_eq!(report["mcp"]["previous_command"], old);
    assert_eq!(report["hooks"]["handlers"][1]["action"], "updated");
    assert_eq!(report["hooks"]["handlers"][1]["previous_command"], old);
    let claude = read_json(&user.claude_json());
    assert_eq!(claude["mcpServers"]["claudemesh"]["command"], binary());
    assert_eq!(claude["mcpServers"]["claudemesh"]["env"], json!({"X": "1"}));
    let settings = read_json(&user.settings());
    assert_eq!(settings["hooks"]["Stop"].as_array().unwrap().len(), 1, "a second Stop handler was added: {settings}");
    assert_eq!(settings["hooks"]["Stop"][0]["hooks"][0]["command"], binary());

    // The human output says where the entries pointed before.
    user.json(&["uninstall"]);
    fs::write(
        user.claude_json(),
        serde_json::to_vec(&json!({"mcpServers": {"claudemesh": {"command": old, "args": ["mcp"]}}})).unwrap(),
    )
    .unwrap();
    let out = user.run(&["install"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains(old), "{}", describe(&out));
}

#[test]
fn a_fresh_home_gets_new_files_and_uninstall_takes_them_away_again() {
    let user = User::new();
    let report = user.json(&["install"]);
    assert_eq!(report["backups"], json!([]));
    assert_eq!(read_json(&user.claude_json())["mcpServers"]["claudemesh"]["args"], json!(["mcp"]));
    assert_eq!(fs::metadata(user.claude_json()).unwrap().permissions().mode() & 0o777, 0o600);
    user.json(&["uninstall"]);
    assert!(!user.claude_json().exists());
    assert!(!user.settings().exists());
    assert!(!user.skill_dir().exists());
}

#[test]
fn claude_config_dir_holds_settings_skills_and_the_global_config() {
    let user = User::new();
    let config_dir = user.path().join("cc");
    let out = user
        .home
        .cmd()
        .env("HOME", user.path())
        .env("CLAUDE_CONFIG_DIR", &config_dir)
        .args(["--json", "install"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(config_dir.join(".claude.json").is_file());
    assert!(config_dir.join("settings.json").is_file());
    assert!(config_dir.join("skills/claudemesh/SKILL.md").is_file());
    assert!(!user.claude_json().exists());
    assert!(!user.path().join(".claude").exists());
}
