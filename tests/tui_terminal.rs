//! The full-screen UI in a real terminal (tmux): `claudemesh dash` draws from the daemon's live subscription and
//! leaves the terminal cooked and echoing again, whether it ends by `q` or by SIGTERM; a first run welcomes, creates
//! the personal mesh without a keystroke and hands the restored terminal to `claude` (a fake one on `PATH` that
//! records what it got). Needs tmux (`.ci/run` installs it); without it these tests fail. The flows' usage errors without
//! a terminal are checked here too.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::tmux::{Pane, StopDaemon, require_tmux};
use support::{Broker, Home, bin, describe, wait_until};

const WAIT: Duration = Duration::from_secs(20);

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
    require_tmux();
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
    require_tmux();
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
    flow_script(home, dir, bin_dir, "none", "")
}

/// `claudemesh <args>` in `home` on a terminal, `clipboard` as the clipboard's text; `stty -a` into `after` once it
/// returns without handing off.
fn flow_script(home: &Home, dir: &Path, bin_dir: &Path, clipboard: &str, args: &str) -> String {
    format!(
        "unset CLAUDEMESH_BROKER CLAUDEMESH_MESH CLAUDEMESH_LOCALE CLAUDEMESH_LANG LC_ALL NO_COLOR; \
         cd {dir}; CLAUDEMESH_HOME={home} HOME={dir} USER=tester LANG=C.UTF-8 TERM=xterm-256color \
         CLAUDEMESH_CLIPBOARD='{clipboard}' CLAUDE_CONFIG_DIR={dir}/claude-config \
         CLAUDECODE=1 CLAUDE_PID=4242 CLAUDE_CODE_ENTRYPOINT=cli PATH={bin_dir}:$PATH {bin} {args}; \
         echo $? > {dir}/rc; stty -a > {dir}/after; sleep 30",
        dir = dir.display(),
        home = home.path().display(),
        bin_dir = bin_dir.display(),
        bin = bin(),
    )
}

/// `yaml` as the user's policy file in `home`.
fn write_policy(home: &Home, yaml: &str) {
    std::fs::create_dir_all(home.path()).unwrap();
    std::fs::write(home.path().join("policy.yaml"), yaml).unwrap();
}

/// A policy with one rule: `decision` for `resource verb`.
fn policy(resource: &str, verb: &str, decision: &str) -> String {
    format!(
        "version: 1\nrules:\n  - resource: {resource}\n    verb: {verb}\n    decision: {decision}\n    reason: meshes come from IT\n"
    )
}

/// The audit log holds an entry of `kind` for `resource verb` whose `key` is `value` (`audit show` as JSON).
fn audited(home: &Home, kind: &str, what: &str, key: &str, value: &str) -> bool {
    let shown = home.json(&["audit", "show", "--limit", "0"]);
    shown["events"].as_array().is_some_and(|events| {
        events.iter().any(|e| {
            e["kind"] == kind
                && format!("{} {}", e["resource"].as_str().unwrap_or(""), e["verb"].as_str().unwrap_or("")) == what
                && e[key] == value
        })
    })
}

/// The flow ended without a handoff: its exit code, once the shell recorded it (and `stty -a` after it).
fn ended(dir: &Path) -> Option<i32> {
    let after = dir.join("after");
    if !wait_until(WAIT, || std::fs::read_to_string(&after).is_ok_and(|s| !s.is_empty())) {
        return None;
    }
    std::fs::read_to_string(dir.join("rc")).ok()?.trim().parse().ok()
}

/// The value of `name` in the fake claude's recorded environment.
fn claude_env(dir: &Path, name: &str) -> Option<String> {
    let env = std::fs::read_to_string(dir.join("env")).ok()?;
    env.lines().find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
}

#[test]
fn first_run_welcomes_creates_the_mesh_and_hands_a_restored_terminal_to_claude() {
    require_tmux();
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

    // Seed §2.1: the closing lines stay on the normal screen, in the scrollback above Claude Code (the alternate
    // screen took the welcome with it), in order, and claude still got a cooked terminal (checked above).
    let scrollback = pane.tmux(&["capture-pane", "-p", "-S", "-"]);
    let at =
        |text: &str| scrollback.find(text).unwrap_or_else(|| panic!("{text:?} not in the scrollback:\n{scrollback}"));
    let mesh_line = format!("Your mesh \"{current}\" is ready.");
    let order = [at(&mesh_line), at("You're in."), at("Opening Claude Code"), at("FAKE CLAUDE RUNNING")];
    assert!(order.is_sorted(), "out of order {order:?}:\n{scrollback}");

    // The first run's creation passed the policy gate, and its outcome was recorded before the exec.
    assert!(audited(&home, "policy", "mesh new", "decision", "allow"), "no policy decision for the first run");
    assert!(audited(&home, "verb", "mesh new", "outcome", "ok"), "the first run's outcome was not recorded");
}

#[test]
fn a_first_run_the_policy_denies_creates_nothing_says_why_and_records_it() {
    require_tmux();
    let home = Home::new();
    write_policy(&home, &policy("mesh", "new", "deny"));
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    let pane = Pane::start(dir.path(), &first_run_script(&home, dir.path(), &bin_dir));
    assert_eq!(ended(dir.path()), Some(7), "a denied first run exits 7:\n{}", pane.screen());
    let screen = pane.screen();
    assert!(screen.contains("does not allow mesh new") && screen.contains("meshes come from IT"), "{screen}");
    assert!(screen.contains("policy.yaml"), "the next action is missing:\n{screen}");
    assert!(cooked_and_echoing(&std::fs::read_to_string(dir.path().join("after")).unwrap()));
    assert!(!dir.path().join("done").exists(), "claude must not start after a deny");
    assert!(!home.path().join("config.toml").exists(), "a mesh was created although the policy denies it");
    assert!(audited(&home, "policy", "mesh new", "decision", "deny"), "the deny was not recorded");
}

#[test]
fn a_join_the_policy_denies_is_refused_on_the_confirm_screen_and_recorded() {
    require_tmux();
    let broker = Broker::start();
    let alice = mesh_home(&broker);
    let url = invite_url(&alice);
    let bob = Home::new();
    write_policy(&bob, &policy("mesh", "join", "deny"));
    let _daemons = (StopDaemon(&alice), StopDaemon(&bob));
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    // From the clipboard on bare `claudemesh` (no verb, so nothing gated it before the flow).
    let pane = Pane::start(dir.path(), &flow_script(&bob, dir.path(), &bin_dir, &url, ""));
    assert!(wait_until(WAIT, || pane.screen().contains("Join \"tuiteam\"")), "no offer:\n{}", pane.screen());
    pane.keys("Enter");
    let refused = |s: &str| s.contains("does not allow mesh join") && s.contains("meshes come from IT");
    assert!(wait_until(WAIT, || refused(&pane.screen())), "no refusal:\n{}", pane.screen());
    assert!(pane.screen().contains("policy.yaml"), "the next action is missing:\n{}", pane.screen());
    pane.keys("q");
    assert!(ended(dir.path()).is_some(), "did not end:\n{}", pane.screen());
    assert!(!dir.path().join("done").exists(), "claude must not start after a deny");
    assert_eq!(bob.json(&["list"])["meshes"].as_array().map(Vec::len), Some(0), "joined although denied");
    assert!(audited(&bob, "policy", "mesh join", "decision", "deny"), "the deny was not recorded");
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

/// An invite link to alice's mesh `tuiteam` on `broker`.
fn invite_url(alice: &Home) -> String {
    alice.json(&["invite"])["url"].as_str().expect("an invite url").to_string()
}

#[test]
fn join_url_confirms_with_one_enter_and_hands_off_on_the_joined_mesh() {
    require_tmux();
    let broker = Broker::start();
    let alice = mesh_home(&broker);
    let url = invite_url(&alice);
    let bob = Home::new();
    let _daemons = (StopDaemon(&alice), StopDaemon(&bob));
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    let pane = Pane::start(dir.path(), &flow_script(&bob, dir.path(), &bin_dir, "none", &url));
    let confirm = |s: &str| s.contains("tuiteam") && s.contains("alice") && s.contains("member") && s.contains("ws://");
    assert!(wait_until(WAIT, || confirm(&pane.screen())), "no confirm screen:\n{}", pane.screen());
    pane.keys("Enter");
    let done = dir.path().join("done");
    assert!(wait_until(WAIT, || done.exists()), "claude was not started:\n{}", pane.screen());
    assert_eq!(claude_env(dir.path(), "CLAUDEMESH_MESH").as_deref(), Some("tuiteam"));
    let modes = std::fs::read_to_string(dir.path().join("stty")).unwrap();
    assert!(cooked_and_echoing(&modes), "claude got a raw terminal: {modes}");
    assert_eq!(bob.json(&["list"])["current"], "tuiteam");
    let scrollback = pane.tmux(&["capture-pane", "-p", "-S", "-"]);
    assert!(scrollback.contains("Joined \"tuiteam\".") && scrollback.contains("You're in."), "{scrollback}");
    assert!(audited(&bob, "policy", "mesh join", "decision", "allow"), "no policy decision for the join");
    assert!(audited(&bob, "verb", "mesh join", "outcome", "ok"), "the join's outcome was not recorded before the exec");
}

#[test]
fn a_damaged_invite_link_shows_the_overlay_with_the_next_action_and_esc_leaves() {
    require_tmux();
    let bob = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    let url = "http://127.0.0.1:9/join/bm90LWFuLWludml0ZQ";
    let pane = Pane::start(dir.path(), &flow_script(&bob, dir.path(), &bin_dir, "none", url));
    let overlay = |s: &str| s.contains("damaged") && s.contains("new invite");
    assert!(wait_until(WAIT, || overlay(&pane.screen())), "no overlay:\n{}", pane.screen());
    pane.keys("Escape");
    let after = dir.path().join("after");
    assert!(wait_until(WAIT, || std::fs::read_to_string(&after).is_ok_and(|s| !s.is_empty())), "did not end");
    assert!(cooked_and_echoing(&std::fs::read_to_string(&after).unwrap()));
    assert!(!dir.path().join("done").exists(), "claude must not start after an invalid invite");
}

#[test]
fn an_invite_in_the_clipboard_is_offered_on_launch_and_enter_joins() {
    require_tmux();
    let broker = Broker::start();
    let alice = mesh_home(&broker);
    let url = invite_url(&alice);
    let bob = Home::new();
    let _daemons = (StopDaemon(&alice), StopDaemon(&bob));
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    let pane = Pane::start(dir.path(), &flow_script(&bob, dir.path(), &bin_dir, &url, ""));
    let offered = |s: &str| s.contains("Detected invite in clipboard.") && s.contains("Join \"tuiteam\"");
    assert!(wait_until(WAIT, || offered(&pane.screen())), "no clipboard offer:\n{}", pane.screen());
    pane.keys("Enter");
    let done = dir.path().join("done");
    assert!(wait_until(WAIT, || done.exists()), "claude was not started:\n{}", pane.screen());
    assert_eq!(claude_env(dir.path(), "CLAUDEMESH_MESH").as_deref(), Some("tuiteam"));
}

#[test]
fn new_asks_the_name_takes_a_paste_shows_the_slug_and_hands_off_on_the_new_mesh() {
    require_tmux();
    let broker = Broker::start();
    let home = Home::new();
    let _daemon = StopDaemon(&home);
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    write_policy(&home, &policy("mesh", "new", "prompt"));
    let args = format!("new --broker {}", broker.url());
    let pane = Pane::start(dir.path(), &flow_script(&home, dir.path(), &bin_dir, "none", &args));
    assert!(wait_until(WAIT, || pane.screen().contains("Name?")), "no question:\n{}", pane.screen());
    // Typed, then pasted (tmux's paste-buffer -p sends a bracketed paste, as a terminal's paste does).
    pane.tmux(&["send-keys", "-l", "Platform"]);
    pane.tmux(&["set-buffer", " team\n"]);
    pane.tmux(&["paste-buffer", "-p"]);
    assert!(wait_until(WAIT, || pane.screen().contains("Slug: platform-team")), "no slug:\n{}", pane.screen());
    pane.keys("Enter");
    let done = dir.path().join("done");
    assert!(wait_until(WAIT, || done.exists()), "claude was not started:\n{}", pane.screen());
    assert_eq!(claude_env(dir.path(), "CLAUDEMESH_MESH").as_deref(), Some("platform-team"));
    // The policy asks before `mesh new`: the name and Enter on the flow's screen were that confirmation (stdin
    // belongs to the raw-mode UI and is never read for a [y/N]); decision and outcome are recorded before the exec.
    assert!(audited(&home, "policy", "mesh new", "decision", "prompt-allowed"), "no confirmed prompt recorded");
    assert!(audited(&home, "verb", "mesh new", "outcome", "ok"), "the outcome was not recorded before the exec");
}

#[test]
fn invite_takes_the_defaults_with_enter_and_shows_the_link() {
    require_tmux();
    let broker = Broker::start();
    let home = mesh_home(&broker);
    let _daemon = StopDaemon(&home);
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    let pane = Pane::start(dir.path(), &flow_script(&home, dir.path(), &bin_dir, "none", "invite"));
    let options = |s: &str| s.contains("member") && s.contains("7d");
    assert!(wait_until(WAIT, || options(&pane.screen())), "no options:\n{}", pane.screen());
    pane.keys("Enter");
    assert!(wait_until(WAIT, || pane.screen().contains("/join/")), "no link:\n{}", pane.screen());
    assert!(pane.screen().contains("Copied to the clipboard."), "{}", pane.screen());
    pane.keys("q");
    let after = dir.path().join("after");
    assert!(wait_until(WAIT, || std::fs::read_to_string(&after).is_ok_and(|s| !s.is_empty())), "did not end");
    // The link stays on the normal screen after the UI closed (the alternate screen took the rest with it).
    let scrollback = pane.tmux(&["capture-pane", "-p", "-J", "-S", "-"]);
    assert!(
        scrollback.lines().any(|l| l.contains("Invite link: ") && l.contains("/join/")),
        "the link is not left on screen:\n{scrollback}"
    );
    let invites = home.json(&["invite", "list"]);
    assert_eq!(invites["invites"].as_array().map(Vec::len), Some(1), "{invites}");
}

/// Two meshes and no current one (as after a hand edit or an old config): the ambiguous case.
fn two_meshes_none_current(broker: &Broker) -> Home {
    let home = Home::new();
    home.json(&["new", "alpha", "--broker", &broker.url(), "--name", "alice"]);
    home.json(&["new", "beta", "--broker", &broker.url(), "--name", "alice"]);
    let config = home.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with("current")).collect();
    std::fs::write(&config, kept.join("\n")).unwrap();
    home
}

#[test]
fn an_ambiguous_mesh_is_one_picker_and_enter_opens_the_highlighted_one() {
    require_tmux();
    let broker = Broker::start();
    let home = two_meshes_none_current(&broker);
    let _daemon = StopDaemon(&home);
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = fake_claude(dir.path());
    let pane = Pane::start(dir.path(), &flow_script(&home, dir.path(), &bin_dir, "none", ""));
    let picker = |s: &str| s.contains("Which mesh?") && s.contains("alpha") && s.contains("beta");
    assert!(wait_until(WAIT, || picker(&pane.screen())), "no picker:\n{}", pane.screen());
    pane.keys("Down");
    pane.keys("Enter");
    let done = dir.path().join("done");
    assert!(wait_until(WAIT, || done.exists()), "claude was not started:\n{}", pane.screen());
    assert_eq!(claude_env(dir.path(), "CLAUDEMESH_MESH").as_deref(), Some("beta"));
}

#[test]
fn an_ambiguous_mesh_with_yes_or_without_a_terminal_names_the_mesh_flag_and_exits_3() {
    let broker = Broker::start();
    let home = two_meshes_none_current(&broker);
    for args in [&[][..], &["-y"]] {
        let out = home.fails(args, 3);
        assert!(support::stderr(&out).contains("--mesh SLUG"), "{args:?}: {}", describe(&out));
    }
}

#[test]
fn first_run_without_claude_installed_creates_nothing_and_exits_9() {
    let home = Home::new();
    let out = home.cmd().arg("-y").env("PATH", "/nonexistent").output().expect("run claudemesh");
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(!home.path().join("config.toml").exists(), "a mesh was created for a handoff that cannot happen");
}
