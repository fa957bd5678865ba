//! The full-screen UI in a real terminal (tmux): `claudemesh dash` draws from the daemon's live subscription and
//! leaves the terminal cooked and echoing again, whether it ends by `q` or by SIGTERM; a first run welcomes, creates
//! the personal mesh without a keystroke and hands the restored terminal to `claude` (a fake one on `PATH` that
//! records what it got). Needs tmux; without it the terminal tests say so and pass. The flows' usage errors without
//! a terminal are checked here too.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Broker, Home, bin, describe, wait_until};

const WAIT: Duration = Duration::from_secs(20);

fn have_tmux() -> bool {
    Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success())
}

/// A detached tmux server of its own (socket in the test's directory) with one 100×30 pane.
struct Pane {
    socket: PathBuf,
}

impl Pane {
    /// Runs `script` with `sh` in a new pane.
    fn start(dir: &Path, script: &str) -> Pane {
        let socket = dir.join("tmux.sock");
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["new-session", "-d", "-x", "100", "-y", "30", "sh", "-c", script])
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux: {}", describe(&out));
        Pane { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", keys]);
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Stops the daemon `dash` started for the home.
struct StopDaemon<'a>(&'a Home);

impl Drop for StopDaemon<'_> {
    fn drop(&mut self) {
        let _ = self.0.cmd().args(["daemon", "stop"]).output();
    }
}

/// A shell script: record our pid, exec `claudemesh dash` in the home, then (the shell is gone with exec, so a
/// second shell) record the terminal's modes once it returns.
fn dash_script(home: &Home, dir: &Path) -> String {
    format!(
        "echo $$ > {pid}; CLAUDEMESH_HOME={home} LANG=C.UTF-8 TERM=xterm-256color {bin} dash; stty -a > {stty}; sleep 30",
        pid = dir.join("pid").display(),
        home = home.path().display(),
        bin = bin(),
        stty = dir.join("stty").display(),
    )
}

fn cooked_and_echoing(stty: &str) -> bool {
    let flags: Vec<&str> = stty.split_whitespace().collect();
    flags.contains(&"icanon") && flags.contains(&"echo") && flags.contains(&"isig")
}

fn mesh_home(broker: &Broker) -> Home {
    let home = Home::new();
    home.json(&["new", "tuiteam", "--broker", &broker.url(), "--name", "alice"]);
    home
}

#[test]
fn dash_shows_the_mesh_and_q_leaves_a_cooked_echoing_terminal() {
    if !have_tmux() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let broker = Broker::start();
    let home = mesh_home(&broker);
    let _daemon = StopDaemon(&home);
    let dir = tempfile::tempdir().unwrap();
    let pane = Pane::start(dir.path(), &dash_script(&home, dir.path()));
    assert!(wait_until(WAIT, || pane.screen().contains("tuiteam")), "no dashboard:\n{}", pane.screen());
    assert!(wait_until(WAIT, || pane.screen().contains("alice")), "no roster:\n{}", pane.screen());
    pane.keys("q");
    let stty = dir.path().join("stty");
    assert!(wait_until(WAIT, || std::fs::read_to_string(&stty).is_ok_and(|s| !s.is_empty())), "dash did not end");
    let modes = std::fs::read_to_string(&stty).unwrap();
    assert!(cooked_and_echoing(&modes), "terminal left raw: {modes}");
}

#[test]
fn sigterm_restores_the_terminal() {
    if !have_tmux() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let broker = Broker::start();
    let home = mesh_home(&broker);
    let _daemon = StopDaemon(&home);
    let dir = tempfile::tempdir().unwrap();
    let pane = Pane::start(dir.path(), &dash_script(&home, dir.path()));
    assert!(wait_until(WAIT, || pane.screen().contains("tuiteam")), "no dashboard:\n{}", pane.screen());
    // The script's shell runs dash as its child; signal dash itself.
    let shell = std::fs::read_to_string(dir.path().join("pid")).unwrap();
    let children = Command::new("pgrep").args(["-P", shell.trim()]).output().expect("pgrep");
    let dash = String::from_utf8_lossy(&children.stdout).lines().next().map(str::to_string).expect("dash's pid");
    assert!(Command::new("kill").args(["-TERM", &dash]).status().unwrap().success());
    let stty = dir.path().join("stty");
    assert!(wait_until(WAIT, || std::fs::read_to_string(&stty).is_ok_and(|s| !s.is_empty())), "dash did not end");
    let modes = std::fs::read_to_string(&stty).unwrap();
    assert!(cooked_and_echoing(&modes), "terminal left raw: {modes}");
    assert!(!pane.screen().contains("tuiteam"), "the alternate screen was not left:\n{}", pane.screen());
}

#[test]
fn dash_without_a_terminal_names_the_problem_and_exits_3() {
    let broker = Broker::start();
    let home = mesh_home(&broker);
    let out = home.fails(&["dash"], 3);
    assert!(support::stderr(&out).contains("needs a terminal"), "{}", describe(&out));
}

/// A fake `claude` first on `PATH`: records its argv (one per line), its environment and `stty -a`, then says so
/// on screen and waits. `done` appears last, when every record is complete.
fn fake_claude(dir: &Path) -> PathBuf {
    let bin_dir = dir.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > {d}/argv\nenv > {d}/env\nstty -a > {d}/stty\ntouch {d}/done\necho FAKE CLAUDE RUNNING\nsleep 30\n",
        d = dir.display()
    );
    let path = bin_dir.join("claude");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin_dir
}

/// Bare `claudemesh` in a fresh home, as a shell in a terminal would run it, with a Claude Code session's variables
/// inherited (they must not reach the new `claude`).
fn first_run_script(home: &Home, dir: &Path, bin_dir: &Path) -> String {
    format!(
        "unset CLAUDEMESH_BROKER CLAUDEMESH_MESH CLAUDEMESH_LOCALE CLAUDEMESH_LANG LC_ALL NO_COLOR; \
         cd {dir}; CLAUDEMESH_HOME={home} HOME={dir} USER=tester LANG=C.UTF-8 TERM=xterm-256color \
         CLAUDEMESH_CLIPBOARD=none CLAUDE_CONFIG_DIR={dir}/claude-config \
         CLAUDECODE=1 CLAUDE_PID=4242 CLAUDE_CODE_ENTRYPOINT=cli PATH={bin_dir}:$PATH {bin}; sleep 30",
        dir = dir.display(),
        home = home.path().display(),
        bin_dir = bin_dir.display(),
        bin = bin(),
    )
}

#[test]
fn first_run_welcomes_creates_the_mesh_and_hands_a_restored_terminal_to_claude() {
    if !have_tmux() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let home = Home::new();
    let _daemon = StopDaemon(&home);
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    let pane = Pane::start(dir.path(), &first_run_script(&home, dir.path(), &bin_dir));
    // No key is ever sent: the welcome, then "You're in.", then claude.
    assert!(wait_until(WAIT, || pane.screen().contains("You're in.")), "no welcome:\n{}", pane.screen());
    let done = dir.path().join("done");
    assert!(wait_until(WAIT, || done.exists()), "claude was not started:\n{}", pane.screen());
    assert!(wait_until(WAIT, || pane.screen().contains("FAKE CLAUDE RUNNING")), "{}", pane.screen());

    let argv = std::fs::read_to_string(dir.path().join("argv")).unwrap();
    assert_eq!(argv.lines().next(), Some("--dangerously-load-development-channels=server:claudemesh"), "{argv}");
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    for scrubbed in ["CLAUDECODE", "CLAUDE_PID", "CLAUDE_CODE_ENTRYPOINT"] {
        assert!(!names.contains(&scrubbed), "{scrubbed} reached claude:\n{env}");
    }
    assert!(!names.iter().any(|n| n.starts_with("CLAUDE_CODE_")), "a CLAUDE_CODE_* variable reached claude:\n{env}");
    assert!(names.contains(&"CLAUDE_CONFIG_DIR"), "a user setting was dropped:\n{env}");
    assert!(env.lines().any(|l| l == "CLAUDEMESH_CHANNELS=server:claudemesh"), "{env}");

    // The personal mesh exists, is current, and is the one claude was started on.
    let list = home.json(&["list"]);
    let current = list["current"].as_str().expect("a current mesh").to_string();
    assert_eq!(list["meshes"].as_array().map(Vec::len), Some(1), "{list}");
    assert!(env.lines().any(|l| l == format!("CLAUDEMESH_MESH={current}")), "claude not on {current}:\n{env}");

    let modes = std::fs::read_to_string(dir.path().join("stty")).unwrap();
    assert!(cooked_and_echoing(&modes), "claude got a raw terminal: {modes}");
    assert_eq!(pane.tmux(&["display-message", "-p", "#{alternate_on}"]).trim(), "0", "still on the alternate screen");
}

#[test]
fn new_without_a_name_and_without_a_terminal_names_the_argument_and_exits_3() {
    let home = Home::new();
    for args in [&["new"][..], &["new", "-y"], &["--json", "new"]] {
        let out = home.fails(args, 3);
        assert!(support::stderr(&out).contains("claudemesh new <NAME>"), "{args:?}: {}", describe(&out));
    }
}

#[test]
fn bare_claudemesh_without_a_terminal_and_without_a_mesh_prints_the_short_help() {
    let home = Home::new();
    let out = home.run(&[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(support::stdout(&out).contains("claudemesh"), "{}", describe(&out));
    assert!(!home.path().join("config.toml").exists(), "no mesh is created without a terminal or -y");
}

#[test]
fn invite_with_yes_takes_the_defaults_without_a_screen() {
    let broker = Broker::start();
    let home = mesh_home(&broker);
    let out = home.json(&["invite", "-y"]);
    assert_eq!(out["role"], "member", "{out}");
    assert_eq!(out["uses"], 1, "{out}");
    assert!(out["url"].as_str().is_some_and(|u| u.contains("/join/")), "{out}");
}
