//! `claudemesh completions bash|zsh|fish` and `claudemesh man`, run as the real binary: the scripts name the verbs
//! and pass each shell's own syntax check (bash always; zsh and fish when installed), the man page is roff.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with no home at all: generating text must not need one.
fn claudemesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_claudemesh"))
        .args(args)
        .env_remove("HOME")
        .env_remove("CLAUDEMESH_HOME")
        .env_remove("CLAUDEMESH_MESH")
        .output()
        .expect("run claudemesh")
}

fn stdout_of(args: &[&str]) -> String {
    let out = claudemesh(args);
    assert!(out.status.success(), "{args:?} exited {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{args:?} wrote to stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn installed(shell: &str) -> bool {
    Command::new(shell).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs `shell` with its parse-only flag on `script`, written to a file in `dir`.
fn syntax_check(shell: &str, flag: &str, script: &str, dir: &Path) {
    let file = dir.join(format!("claudemesh.{shell}"));
    std::fs::write(&file, script).expect("write script");
    let out = Command::new(shell).arg(flag).arg(&file).output().expect("run shell");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} {flag} rejects the script ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_shell_gets_a_non_empty_script_that_names_the_verbs() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {} bytes", script.len());
        for verb in ["claudemesh", "send", "peers", "inbox", "daemon", "completions", "man"] {
            assert!(script.contains(verb), "the {shell} script does not mention {verb}");
        }
    }
}

#[test]
fn the_bash_script_parses_with_bash_n() {
    assert!(installed("bash"), "bash is required for this test");
    let dir = tempfile::tempdir().expect("tempdir");
    syntax_check("bash", "-n", &stdout_of(&["completions", "bash"]), dir.path());
}

#[test]
fn the_zsh_and_fish_scripts_parse_where_those_shells_are_installed() {
    let dir = tempfile::tempdir().expect("tempdir");
    if installed("zsh") {
        syntax_check("zsh", "-n", &stdout_of(&["completions", "zsh"]), dir.path());
    } else {
        eprintln!("zsh is not installed: its syntax check is skipped");
    }
    if installed("fish") {
        syntax_check("fish", "--no-execute", &stdout_of(&["completions", "fish"]), dir.path());
    } else {
        eprintln!("fish is not installed: its syntax check is skipped");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = claudemesh(&["completions", "powershell"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bash, zsh, fish"));
}

#[test]
fn the_man_page_is_roff_that_documents_the_verbs() {
    let page = stdout_of(&["man"]);
    assert!(page.starts_with(".TH claudemesh 1"), "{}", page.lines().next().unwrap_or(""));
    assert!(page.contains(".SH NAME\nclaudemesh"));
    for verb in ["send", "peers", "inbox", "daemon", "completions"] {
        assert!(page.contains(&format!(".SS \"claudemesh {verb}\"")), "the man page has no section for {verb}");
    }
    if installed("groff") {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("claudemesh.1");
        std::fs::write(&file, &page).expect("write page");
        // -k: UTF-8 input (as man(1) does); -ww: every warning; -z: no output.
        let out = Command::new("groff").args(["-k", "-man", "-ww", "-z"]).arg(&file).output().expect("run groff");
        assert!(out.status.success() && out.stderr.is_empty(), "groff: {}", String::from_utf8_lossy(&out.stderr));
    }
}
