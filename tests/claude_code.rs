//! The real Claude Code as the client: after `claudemesh install` in a scratch HOME, `claude mcp list` spawns
//! `claudemesh mcp` from the user-scope entry, completes the MCP handshake and reports it connected.
//!
//! Needs Claude Code: `$CLAUDEMESH_TEST_CLAUDE` (what `.ci/run` exports, 2.1.197 from npm), else `claude` on PATH,
//! else `~/.cache/claudemesh-cc` (where the README's npm line installs it).
//! Without either the test fails, so a machine that cannot run it never passes silently.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Home, describe};

/// The Claude Code binary to test against.
fn claude_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CLAUDEMESH_TEST_CLAUDE").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "CLAUDEMESH_TEST_CLAUDE={} does not exist", path.display());
        return path;
    }
    let on_path = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("claude"))
        .find(|p| p.is_file());
    // Where the README's npm line and `.ci/run` put it.
    let cached = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".cache/claudemesh-cc/node_modules/.bin/claude"))
        .filter(|p| p.is_file());
    on_path.or(cached).unwrap_or_else(|| {
        panic!(
            "no Claude Code to test against: set CLAUDEMESH_TEST_CLAUDE to a claude binary or put claude on PATH \
             (npm install --prefix ~/.cache/claudemesh-cc @anthropic-ai/claude-code@2.1.197; .ci/run does this)"
        )
    })
}

/// Runs `cmd` to completion, killing it after `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> std::process::Output {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn claude");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait for claude").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect claude output");
            panic!("claude mcp list did not finish within {limit:?}: {}", describe(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect claude output")
}

#[test]
fn claude_code_connects_to_the_installed_push_pipe() {
    let claude = claude_binary();
    let home = Home::new();
    let scratch = tempfile::tempdir().expect("tempdir");
    let user = scratch.path().join("user");
    let project = scratch.path().join("project");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::create_dir_all(&project).unwrap();

    let installed = home.cmd().env("HOME", &user).env_remove("CLAUDE_CONFIG_DIR").arg("install").output().unwrap();
    assert!(installed.status.success(), "claudemesh install: {}", describe(&installed));

    let mut cmd = Command::new(&claude);
    // A test run inside a Claude Code session must not hand that session's identity to the child.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name == "CLAUDECODE"
            || name == "CLAUDE_PID"
            || name.starts_with("CLAUDE_CODE_")
            || name == "CLAUDE_CONFIG_DIR"
        {
            cmd.env_remove(&*name);
        }
    }
    cmd.args(["mcp", "list"])
        .current_dir(&project)
        .env("HOME", &user)
        .env("CLAUDEMESH_HOME", home.path())
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("NO_COLOR", "1");
    let out = output_within(cmd, Duration::from_secs(90));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("claudemesh:")).unwrap_or_else(|| {
        panic!("claude mcp list ({}) shows no claudemesh server: {}", claude.display(), describe(&out))
    });
    let binary = std::fs::canonicalize(support::bin()).unwrap();
    assert!(line.contains(&format!("{} mcp", binary.display())), "unexpected command in: {line}");
    assert!(line.contains("✔ Connected"), "Claude Code did not connect to claudemesh mcp: {line}\n{}", describe(&out));
}
