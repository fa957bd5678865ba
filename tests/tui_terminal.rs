//! The full-screen UI in a real terminal (tmux): `claudemesh dash` draws from the daemon's live subscription and
//! leaves the terminal cooked and echoing again, whether it ends by `q` or by SIGTERM. Needs tmux; without it the
//! terminal tests say so and pass.

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
