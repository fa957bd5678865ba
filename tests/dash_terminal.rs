//! The dashboard end to end: two real peers (two homes, a real broker, real daemons), `claudemesh dash` in tmux for
//! one of them. A message typed in the compose box reaches the other, and its receipt moves on screen: delivered
//! when the other daemon stores it, read when the other side runs `claudemesh inbox`; the shared panes show what
//! the other peer wrote with the CLI, live. Condition waits only. Needs
//! tmux (`.ci/run` installs it); without it the test fails.

mod support;

use std::time::Duration;

use support::tmux::{Pane, StopDaemon, require_tmux};
use support::{Broker, Home, bin, describe, mesh_of_two, wait_until};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn a_message_sent_from_the_compose_box_is_delivered_and_then_read_on_screen() {
    require_tmux();
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_stop_alice, _stop_bob) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    // Bob's daemon runs (a warm verb starts it), so his link stores and acknowledges what arrives.
    pair.bob.json(&["peer", "list"]);

    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "CLAUDEMESH_HOME={home} LANG=C.UTF-8 TERM=xterm-256color {bin} dash; sleep 30",
        home = pair.alice.path().display(),
        bin = bin(),
    );
    let pane = Pane::start_sized(dir.path(), &script, 110, 32);
    assert!(
        wait_until(WAIT, || pane.screen().contains("team") && pane.screen().contains("bob")),
        "no dashboard with bob:\n{}",
        pane.screen()
    );

    pane.keys("c");
    pane.type_text("@bo");
    pane.keys("Tab");
    assert!(wait_until(WAIT, || pane.screen().contains("@bob ")), "no completion:\n{}", pane.screen());
    pane.type_text("hello from the dashboard");
    assert!(wait_until(WAIT, || pane.screen().contains("To bob")), "no target:\n{}", pane.screen());
    pane.keys("Enter");

    assert!(
        wait_until(WAIT, || pane.screen().contains("hello from the dashboard") && pane.screen().contains("Sent.")),
        "not sent:\n{}",
        pane.screen()
    );
    let head = "you → bob";
    assert!(
        wait_until(WAIT, || pane.line_with(head).is_some_and(|l| l.contains("delivered"))),
        "no delivered receipt:\n{}",
        pane.screen()
    );

    // Bob reads it in the CLI: his daemon sends the read receipt, alice's daemon forwards it to the dashboard.
    let inbox = pair.bob.run(&["inbox"]);
    assert!(inbox.status.success(), "bob's inbox: {}", describe(&inbox));
    assert!(support::stdout(&inbox).contains("hello from the dashboard"), "{}", describe(&inbox));
    assert!(
        wait_until(WAIT, || pane.line_with(head).is_some_and(|l| l.trim_end().ends_with("read"))),
        "no read receipt:\n{}",
        pane.screen()
    );
    pane.keys("q");

    // Bob's dashboard opens with what he received before it started.
    let bob_dir = tempfile::tempdir().unwrap();
    let script = format!(
        "CLAUDEMESH_HOME={home} LANG=C.UTF-8 TERM=xterm-256color {bin} dash; sleep 30",
        home = pair.bob.path().display(),
        bin = bin(),
    );
    let bob_pane = Pane::start_sized(bob_dir.path(), &script, 110, 32);
    assert!(
        wait_until(WAIT, || bob_pane.line_with("alice → bob").is_some()
            && bob_pane.screen().contains("hello from the dashboard")),
        "no history in bob's dashboard:\n{}",
        bob_pane.screen()
    );
    bob_pane.keys("q");
}

#[test]
fn a_broker_outage_shows_reconnecting_then_reconnected_which_goes_away() {
    require_tmux();
    let mut broker = Broker::start();
    let home = Home::new();
    home.json(&["new", "outage", "--broker", &broker.url(), "--name", "alice"]);
    let _stop = StopDaemon(&home);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "CLAUDEMESH_HOME={home} LANG=C.UTF-8 TERM=xterm-256color {bin} dash; sleep 30",
        home = home.path().display(),
        bin = bin(),
    );
    let pane = Pane::start_sized(dir.path(), &script, 110, 32);
    assert!(wait_until(WAIT, || pane.screen().contains("alice")), "no dashboard:\n{}", pane.screen());
    broker.kill();
    assert!(wait_until(WAIT, || pane.screen().contains("Reconnecting…")), "no outage shown:\n{}", pane.screen());
    broker.restart();
    assert!(wait_until(WAIT, || pane.screen().contains("◉ Reconnected.")), "no reconnect shown:\n{}", pane.screen());
    assert!(
        wait_until(WAIT, || !pane.screen().contains("Reconnected.") && !pane.screen().contains("Reconnecting")),
        "the reconnected line stayed:\n{}",
        pane.screen()
    );
    pane.keys("q");
}

/// The shared panes on a real mesh: bob writes state, a task and a memory with the CLI; alice's dashboard shows
/// them on panes 2, 3 and 4, and a state change bob makes while she looks arrives without a key press.
#[test]
fn shared_panes_show_the_mesh_state_tasks_and_memory_search() {
    require_tmux();
    let broker = Broker::start();
    let pair = mesh_of_two(&broker);
    let (_stop_alice, _stop_bob) = (StopDaemon(&pair.alice), StopDaemon(&pair.bob));
    for args in [
        &["state", "set", "deploy/target", "staging"][..],
        &["task", "create", "Fix the flaky login test", "--tag", "ci"][..],
        &["remember", "The login test is flaky because the mock clock drifts", "--tag", "ci"][..],
    ] {
        let out = pair.bob.run(args);
        assert!(out.status.success(), "bob {args:?}: {}", describe(&out));
    }

    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "CLAUDEMESH_HOME={home} LANG=C.UTF-8 TERM=xterm-256color {bin} dash; sleep 30",
        home = pair.alice.path().display(),
        bin = bin(),
    );
    let pane = Pane::start_sized(dir.path(), &script, 120, 32);
    assert!(wait_until(WAIT, || pane.screen().contains("bob")), "no dashboard:\n{}", pane.screen());

    pane.keys("2");
    assert!(
        wait_until(WAIT, || pane.line_with("deploy/target").is_some_and(|l| l.contains("staging"))),
        "no state on pane 2:\n{}",
        pane.screen()
    );
    let out = pair.bob.run(&["state", "set", "deploy/target", "production"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        wait_until(WAIT, || pane.line_with("deploy/target").is_some_and(|l| l.contains("production"))),
        "the change did not arrive live:\n{}",
        pane.screen()
    );

    pane.keys("3");
    assert!(
        wait_until(WAIT, || pane.line_with("Fix the flaky login test").is_some_and(|l| l.contains("open"))),
        "no task on pane 3:\n{}",
        pane.screen()
    );

    pane.keys("4");
    pane.keys("/");
    pane.type_text("mock clock");
    pane.keys("Enter");
    assert!(
        wait_until(WAIT, || pane.line_with("mock clock drifts").is_some_and(|l| l.contains("bob"))),
        "no memory found on pane 4:\n{}",
        pane.screen()
    );
    pane.keys("q");
}
