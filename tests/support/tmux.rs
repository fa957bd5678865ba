//! A real terminal for the full-screen UI tests: a detached tmux server of the test's own (socket in the test's
//! directory) running one script in one pane, and a guard that stops a home's daemon when the test ends.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Home, describe};

/// The terminal tests need tmux (`.ci/run` installs it); without it they fail rather than pass untested.
pub fn require_tmux() {
    let ok = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    assert!(ok, "tmux is required for the terminal tests: apt-get install tmux");
}

/// One pane of a private tmux server; the server is killed on drop.
pub struct Pane {
    socket: PathBuf,
}

impl Pane {
    /// Runs `script` with `sh` in a new 100×30 pane.
    pub fn start(dir: &Path, script: &str) -> Pane {
        Pane::start_sized(dir, script, 100, 30)
    }

    /// Runs `script` with `sh` in a new `cols`×`rows` pane.
    pub fn start_sized(dir: &Path, script: &str, cols: u16, rows: u16) -> Pane {
        let socket = dir.join("tmux.sock");
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["new-session", "-d", "-x", &cols, "-y", &rows, "sh", "-c", script])
            .output()
            .expect("run tmux");
        assert!(out.status.success(), "tmux: {}", describe(&out));
        Pane { socket }
    }

    /// Runs a tmux command against this server; its stdout.
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the pane shows now.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    /// Sends tmux key names (`Enter`, `Tab`, `C-c` …).
    pub fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", keys]);
    }

    /// Types `text` literally (no key names).
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-l", text]);
    }

    /// The screen line holding `needle`, if any.
    pub fn line_with(&self, needle: &str) -> Option<String> {
        self.screen().lines().find(|l| l.contains(needle)).map(str::to_string)
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Stops a home's daemon when the test ends, however it ends.
pub struct StopDaemon<'a>(pub &'a Home);

impl Drop for StopDaemon<'_> {
    fn drop(&mut self) {
        let _ = self.0.cmd().args(["daemon", "stop"]).output();
    }
}
