//! `claudemesh launch` (and bare `claudemesh`) with a fake `claude` first on PATH that records its argv and
//! environment: the channel flag comes first, the user's arguments follow in order, inherited Claude Code session
//! variables are gone, user settings stay, the mesh variables are set; a missing `claude` exits 9. Then the hooks
//! the launched session runs: turns reach the daemon, SessionStart reports unread messages, nothing ever fails.

mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Broker, Home, describe, mesh_of_two, stderr, wait_until};

const FLAG: &str = "--dangerously-load-development-channels=server:claudemesh";

/// A scratch user: HOME, a bin directory with the fake `claude`, and where the fake writes what it saw.
struct Scene {
    dir: tempfile::TempDir,
    home: Home,
}

/// What the fake `claude` was started with.
struct Seen {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Seen {
    fn var(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        let out = dir.path().join("seen");
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done > '{out}.args'\n/usr/bin/env -0 > '{out}.env'\nexit 0\n",
            out = out.display()
        );
        let fake = bin.join("claude");
        fs::write(&fake, script).unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        Scene { dir, home: Home::new() }
    }

    fn user_home(&self) -> PathBuf {
        self.dir.path().join("user")
    }

    fn path_with_fake(&self) -> String {
        format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display())
    }

    /// The real binary with HOME set, the fake first on PATH and no daemon (unless a test asks for one).
    fn cmd(&self) -> Command {
        let mut cmd = self.home.cmd();
        fs::create_dir_all(self.user_home()).unwrap();
        cmd.env("HOME", self.user_home()).env("PATH", self.path_with_fake()).env("CLAUDEMESH_NO_DAEMON", "1");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run claudemesh")
    }

    fn seen(&self) -> Option<Seen> {
        let out = self.dir.path().join("seen");
        let args = fs::read(out.with_extension("args")).ok()?;
        let env = fs::read(out.with_extension("env")).ok()?;
        let split = |b: &[u8]| -> Vec<String> {
            b.split(|c| *c == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect()
        };
        let env = split(&env)
            .into_iter()
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        Some(Seen { args: split(&args), env })
    }

    /// A mesh named `name` on `broker`, made current.
    fn new_mesh(&self, broker: &Broker, name: &str) {
        let out =
            self.cmd().args(["--json", "new", name, "--broker", &broker.url(), "--name", "alice"]).output().unwrap();
        assert!(out.status.success(), "new {name}: {}", describe(&out));
    }
}

fn assert_launched(out: &Output) {
    assert!(out.status.success(), "launch failed: {}", describe(out));
}

#[test]
fn launch_execs_claude_with_the_channel_flag_first_and_a_scrubbed_environment() {
    let broker = Broker::start();
    let scene = Scene::new();
    scene.new_mesh(&broker, "team");
    let config_dir = scene.dir.path().join("claude-config");
    let out = scene
        .cmd()
        .env("CLAUDE_CODE_SESSION_ID", "0f0e0d0c-aaaa-bbbb-cccc-000000000001")
        .env("CLAUDECODE", "1")
        .env("CLAUDE_PID", "4242")
        .env("CLAUDE_CODE_MESSAGING_SOCKET", "/tmp/cc-socks/4242.sock")
        .env("CLAUDE_CODE_MESSAGING_TOKEN", "deadbeef")
        .env("CLAUDE_CODE_ENTRYPOINT", "cli")
        .env("CLAUDE_CONFIG_DIR", &config_dir)
        .env("ANTHROPIC_MODEL", "claude-opus")
        .args(["launch", "--", "--resume", "abc", "-p", "hello world", "--json"])
        .output()
        .unwrap();
    assert_launched(&out);
    let seen = scene.seen().expect("the fake claude did not run");
    assert_eq!(seen.args, [FLAG, "--resume", "abc", "-p", "hello world", "--json"]);
    for gone in [
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDECODE",
        "CLAUDE_PID",
        "CLAUDE_CODE_MESSAGING_SOCKET",
        "CLAUDE_CODE_MESSAGING_TOKEN",
        "CLAUDE_CODE_ENTRYPOINT",
    ] {
        assert_eq!(seen.var(gone), None, "{gone} leaked into claude");
    }
    assert_eq!(seen.var("CLAUDE_CONFIG_DIR"), Some(&*config_dir.to_string_lossy()));
    assert_eq!(seen.var("ANTHROPIC_MODEL"), Some("claude-opus"));
    assert_eq!(seen.var("CLAUDEMESH_MESH"), Some("team"));
    assert_eq!(seen.var("CLAUDEMESH_CHANNELS"), Some("server:claudemesh"));
    assert_eq!(seen.var("CLAUDEMESH_NAME"), None);
    assert_eq!(seen.var("CLAUDEMESH_HOME"), Some(&*scene.home.path().to_string_lossy()));
    // Not installed into Claude Code: one warning line naming the fix, and claude starts anyway.
    let err = stderr(&out);
    assert!(err.contains("claudemesh install"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn mesh_flag_and_name_select_what_the_session_joins_as() {
    let broker = Broker::start();
    let scene = Scene::new();
    scene.new_mesh(&broker, "team");
    scene.new_mesh(&broker, "ops");
    let out = scene.run(&["--mesh", "team", "launch", "--name", "alice-review"]);
    assert_launched(&out);
    let seen = scene.seen().unwrap();
    assert_eq!(seen.args, [FLAG]);
    assert_eq!(seen.var("CLAUDEMESH_MESH"), Some("team"));
    assert_eq!(seen.var("CLAUDEMESH_NAME"), Some("alice-review"));

    // Without --mesh: $CLAUDEMESH_MESH, then the current mesh (ops, made last).
    assert_launched(&scene.cmd().env("CLAUDEMESH_MESH", "team").arg("launch").output().unwrap());
    assert_eq!(scene.seen().unwrap().var("CLAUDEMESH_MESH"), Some("team"));
    assert_launched(&scene.run(&["launch"]));
    assert_eq!(scene.seen().unwrap().var("CLAUDEMESH_MESH"), Some("ops"));
}

#[test]
fn bare_claudemesh_launches_when_a_mesh_is_current_and_prints_help_otherwise() {
    let scene = Scene::new();
    let out = scene.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("claudemesh new"), "{}", describe(&out));
    assert!(scene.seen().is_none(), "bare claudemesh without a mesh started claude");

    let broker = Broker::start();
    scene.new_mesh(&broker, "team");
    assert_launched(&scene.run(&[]));
    let seen = scene.seen().expect("bare claudemesh did not start claude");
    assert_eq!(seen.args, [FLAG]);
    assert_eq!(seen.var("CLAUDEMESH_MESH"), Some("team"));
}

#[test]
fn missing_claude_exits_9_with_the_install_hint() {
    let scene = Scene::new();
    let empty = scene.dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = scene.cmd().env("PATH", &empty).arg("launch").output().unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(stderr(&out).contains("npm install -g @anthropic-ai/claude-code"), "{}", describe(&out));

    let out = scene.cmd().env("PATH", &empty).args(["--json", "launch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(9));
    let doc: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(doc["error"]["code"], "claude_not_found");
}

#[test]
fn launch_without_a_mesh_is_the_no_mesh_error() {
    let scene = Scene::new();
    let out = scene.run(&["launch"]);
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(stderr(&out).contains("claudemesh new"), "{}", describe(&out));
    assert!(scene.seen().is_none());
}

#[test]
fn an_installed_claudemesh_launches_without_a_warning() {
    let broker = Broker::start();
    let scene = Scene::new();
    scene.new_mesh(&broker, "team");
    let installed = scene.run(&["install"]);
    assert!(installed.status.success(), "{}", describe(&installed));
    let out = scene.run(&["launch"]);
    assert_launched(&out);
    assert_eq!(stderr(&out), "", "{}", describe(&out));
}

#[test]
fn launch_starts_the_daemon_before_claude() {
    let broker = Broker::start();
    let scene = Scene::new();
    scene.new_mesh(&broker, "team");
    let out = scene.cmd().env_remove("CLAUDEMESH_NO_DAEMON").arg("launch").output().unwrap();
    struct StopDaemon<'a>(&'a Scene);
    impl Drop for StopDaemon<'_> {
        fn drop(&mut self) {
            let _ = self.0.cmd().env_remove("CLAUDEMESH_NO_DAEMON").args(["daemon", "stop"]).output();
        }
    }
    let _stop = StopDaemon(&scene);
    assert_launched(&out);
    assert!(scene.seen().is_some());
    let status = scene.cmd().env_remove("CLAUDEMESH_NO_DAEMON").args(["--json", "daemon", "status"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("daemon status JSON");
    assert_eq!(status["running"], true, "{status}");
}

/// Runs `claudemesh hook <event>` in `home` with `input` on stdin, as Claude Code does.
fn hook(home: &Home, event: &str, input: &str) -> Output {
    let mut child = home
        .cmd()
        .args(["hook", event])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn claudemesh hook");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write hook input");
    child.wait_with_output().expect("hook output")
}

fn session_input(event: &str) -> String {
    format!(
        r#"{{"session_id":"0f0e0d0c-hook-test","transcript_path":"/t.jsonl","cwd":"/p","hook_event_name":"{event}"}}"#
    )
}

#[test]
fn hooks_exit_0_quickly_and_quietly_without_a_mesh_a_daemon_or_valid_input() {
    let home = Home::new();
    for (event, input) in [("prompt", "not json"), ("stop", ""), ("session-start", &*session_input("SessionStart"))] {
        let started = Instant::now();
        let out = hook(&home, event, input);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(out.stdout.is_empty(), "{}", describe(&out));
        assert!(started.elapsed() < Duration::from_secs(3), "hook {event} took {:?}", started.elapsed());
    }

    // A mesh but no daemon: hooks never start one.
    let broker = Broker::start();
    home.json(&["new", "team", "--broker", &broker.url(), "--name", "alice"]);
    let _ = home.cmd().args(["daemon", "stop"]).output();
    let out = hook(&home, "prompt", &session_input("UserPromptSubmit"));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{}", describe(&out));
    assert_eq!(home.json(&["daemon", "status"])["running"], false, "a hook started the daemon");
}

#[test]
fn hooks_report_turns_and_unread_messages_through_the_daemon() {
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    struct StopDaemons<'a>(&'a [&'a Home]);
    impl Drop for StopDaemons<'_> {
        fn drop(&mut self) {
            for home in self.0 {
                let _ = home.cmd().args(["daemon", "stop"]).output();
            }
        }
    }
    let homes = [&pair.alice, &pair.bob];
    let _stop = StopDaemons(&homes);
    // A warm verb starts bob's daemon (launch or the push-pipe do in real use).
    pair.bob.json(&["peers"]);

    let out = hook(&pair.bob, "prompt", &session_input("UserPromptSubmit"));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let working = |peers: &Value| -> Option<String> {
        peers["peers"]
            .as_array()?
            .iter()
            .find(|p| p["status"] == "working")
            .map(|p| p["name"].as_str().unwrap().to_string())
    };
    let session_peer = working(&pair.alice.json(&["peers"])).expect("the prompt hook did not set the session working");

    pair.alice.json(&["send", &session_peer, "are you free?"]);
    let mut context = String::new();
    let arrived = wait_until(Duration::from_secs(10), || {
        let out = hook(&pair.bob, "session-start", &session_input("SessionStart"));
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        context = answer["hookSpecificOutput"]["additionalContext"].as_str().unwrap_or_default().to_string();
        assert!(out.stdout.is_empty() || answer["hookSpecificOutput"]["hookEventName"] == "SessionStart");
        !context.is_empty()
    });
    assert!(arrived, "SessionStart never reported the unread message");
    assert!(context.starts_with("claudemesh: 1 unread"), "{context}");

    let out = hook(&pair.bob, "stop", &session_input("Stop"));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let peers = pair.alice.json(&["peers"]);
    assert_eq!(working(&peers), None, "the stop hook left the session working: {peers}");
}
