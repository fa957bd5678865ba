//! Dashboard tests: `apply` and `update` on synthetic daemon events and keys, and snapshots of every state
//! (eight variants each, plus the smallest supported size, 60×20).

use ratatui::crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

use super::*;
use crate::crypto::SigningKey;
use crate::proto::attestation_bytes;
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::event::Event;
use crate::tui::flows::FlowState;
use crate::tui::look::Look;
use crate::tui::overlay::{Overlay, RECONNECTED_TICKS};
use crate::tui::router::{FlowId, ScreenId, View};
use crate::tui::testing::{assert_app_snapshots, assert_app_snapshots_at};

const MESH_ID: &str = "m_0123456789abcdef";
/// 2026-11-23 12:00 UTC: fixed so "last seen" reads the same in every run.
const NOW: u64 = 1_795_435_200_000;

/// A peer as `peer.list` returns it, with a real attestation by a member key derived from `seed`.
fn peer(seed: u8, name: &str, status: &str, online: bool) -> Value {
    let member = SigningKey::from_seed(&[seed; 32]);
    let session = SigningKey::from_seed(&[seed.wrapping_add(100); 32]);
    let (mk, sk) = (hex::encode(member.public()), hex::encode(session.public()));
    let sig = hex::encode(member.sign(&attestation_bytes(MESH_ID, &mk, &sk, 1)));
    json!({ "id": sk, "name": name, "member_key": mk, "attestation": { "issued_at_ms": 1, "signature": sig },
            "role": "member", "status": status, "summary": "", "visible": true, "groups": [], "online": online,
            "last_seen_ms": NOW - 42 * 60_000 })
}

fn id_of(p: &Value) -> String {
    p["id"].as_str().unwrap().to_string()
}

fn roster() -> Vec<Value> {
    let mut alice = peer(1, "alice", "idle", true);
    alice["summary"] = json!("reviewing the auth refactor");
    alice["cwd"] = json!("~/src/api");
    alice["branch"] = json!("auth-v2");
    let mut bob = peer(2, "bob", "working", true);
    bob["summary"] = json!("fixing flaky tests");
    let carol = peer(3, "carol", "dnd", true);
    let dave = peer(4, "dave", "idle", false);
    vec![peer(9, "me", "idle", true), alice, bob, carol, dave]
}

fn look_en() -> Look {
    Look { lang: crate::i18n::Lang::En, theme: crate::tui::theme::Theme::default() }
}

/// A dashboard on `team` with the roster and no messages, clock fixed.
fn app(look: Look) -> App {
    let mut app = App::new(FlowId::Dash, look, FlowState::default());
    let peers = roster();
    let me = id_of(&peers[0]);
    for e in [
        DaemonEvent::Meshes(vec![
            ("team".into(), MESH_ID.into()),
            ("side-project".into(), "m_fedcba9876543210".into()),
        ]),
        DaemonEvent::Connected { mesh: "team".into() },
        DaemonEvent::Roster { me, peers },
    ] {
        app.update(Action::Daemon(e));
    }
    app.state.dash.now_ms = NOW;
    app
}

fn incoming(id: &str, from: &str, body: &str, priority: &str, mins_ago: u64) -> DaemonEvent {
    DaemonEvent::Message(json!({ "id": id, "from": { "id": "k", "name": from }, "to": "me", "priority": priority,
                                 "body": body, "sent_at_ms": NOW - mins_ago * 60_000 }))
}

fn sent(id: &str, to: &Value, body: &str, mins_ago: u64) -> DaemonEvent {
    DaemonEvent::Sent(json!({ "id": id, "to": to["name"], "priority": "next", "body": body,
        "sent_at_ms": NOW - mins_ago * 60_000, "recipients": [{ "id": to["id"], "name": to["name"] }], "queued": false }))
}

fn receipt(id: &str, to: &Value, state: &str) -> DaemonEvent {
    DaemonEvent::Receipt(json!({ "id": id, "recipient": to["id"], "state": state, "at_ms": NOW }))
}

/// The dashboard with a conversation in every receipt state.
fn busy(look: Look) -> App {
    let mut app = app(look);
    let r = roster();
    for e in [
        incoming("m1", "alice", "Can you look at the login test? It fails on CI only.", "now", 12),
        sent("m2", &r[1], "On it. Which job?", 11),
        receipt("m2", &r[1], "read"),
        incoming("m3", "bob", "I pushed the fix for the flaky tests\nsecond line", "next", 5),
        sent("m4", &r[2], "Thanks, reviewing now.", 4),
        receipt("m4", &r[2], "delivered"),
        sent("m5", &r[3], "Ping me when you are out of focus mode.", 1),
    ] {
        app.update(Action::Daemon(e));
    }
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.handle(Event::Input(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))));
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

// ---- apply / update ------------------------------------------------------------------------------------------

#[test]
fn the_roster_is_typed_with_presence_and_verified_fingerprints() {
    let app = app(look_en());
    let d = &app.state.dash;
    let names: Vec<&str> = d.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["me", "alice", "bob", "carol", "dave"]);
    let presence: Vec<Presence> = d.peers.iter().map(|p| p.presence).collect();
    assert_eq!(presence, [Presence::Idle, Presence::Idle, Presence::Working, Presence::Dnd, Presence::Away]);
    assert!(d.peers.iter().all(|p| p.verified), "every attestation checks out under the mesh id");
    assert_eq!(d.peers[1].cwd.as_deref(), Some("~/src/api"));
    assert_eq!(d.peers[1].fingerprint.len(), 24);
    // A signature for another mesh does not verify.
    let mut forged = peer(5, "eve", "idle", true);
    forged["attestation"]["issued_at_ms"] = json!(2);
    let p = Peer::from_json(&forged, Some(MESH_ID)).unwrap();
    assert!(!p.verified);
}

#[test]
fn peer_events_update_join_and_leave_in_place() {
    let mut d = app(look_en()).state.dash;
    let mut bob = roster()[2].clone();
    bob["status"] = json!("idle");
    bob["summary"] = json!("done");
    assert!(apply(&mut d, &DaemonEvent::PeerChanged { event: "peer.updated".into(), params: json!({ "peer": bob }) }));
    assert_eq!(d.peers[2].presence, Presence::Idle);
    assert_eq!(d.peers[2].summary, "done");
    let erin = peer(6, "erin", "idle", true);
    apply(&mut d, &DaemonEvent::PeerChanged { event: "peer.joined".into(), params: json!({ "peer": erin }) });
    assert_eq!(d.peers.len(), 6);
    let left = json!({ "id": id_of(&roster()[1]), "name": "alice" });
    assert!(apply(&mut d, &DaemonEvent::PeerChanged { event: "peer.left".into(), params: left }));
    assert_eq!(d.peers[1].presence, Presence::Idle, "presence is kept, online is not");
    assert!(!d.peers[1].online);
}

#[test]
fn receipts_move_a_message_forward_and_never_back() {
    let mut d = app(look_en()).state.dash;
    let r = roster();
    apply(&mut d, &sent("m1", &r[1], "hi", 0));
    assert_eq!(d.messages[0].state, DeliveryState::Queued);
    for (state, want) in
        [("delivered", DeliveryState::Delivered), ("surfaced", DeliveryState::Surfaced), ("read", DeliveryState::Read)]
    {
        assert!(apply(&mut d, &receipt("m1", &r[1], state)));
        assert_eq!(d.messages[0].state, want);
    }
    assert!(!apply(&mut d, &receipt("m1", &r[1], "delivered")), "a late receipt does not move it back");
    assert_eq!(d.messages[0].state, DeliveryState::Read);
    assert!(!apply(&mut d, &receipt("unknown", &r[1], "read")));
}

#[test]
fn a_message_sent_by_a_claude_code_session_of_this_home_shows_its_name() {
    let mut d = app(look_en()).state.dash;
    let r = roster();
    let mut note = json!({ "id": "c1", "to": "alice", "priority": "next", "body": "done", "sent_at_ms": NOW,
        "recipients": [{ "id": r[1]["id"], "name": "alice" }], "queued": false, "session": "cli", "from": "me" });
    apply(&mut d, &DaemonEvent::Sent(note.clone()));
    note["id"] = json!("c2");
    note["session"] = json!("3f2a9c");
    note["from"] = json!("me-2");
    apply(&mut d, &DaemonEvent::Sent(note));
    let from: Vec<&str> = d.messages.iter().map(|m| m.from.as_str()).collect();
    assert_eq!(from, ["", "me-2"], "ours shows as you, the other session by its name");
    assert!(d.messages.iter().all(|m| m.outgoing && m.state == DeliveryState::Queued));
}

#[test]
fn a_message_to_a_group_is_as_far_as_its_slowest_recipient() {
    let mut d = app(look_en()).state.dash;
    let r = roster();
    let note = json!({ "id": "g1", "to": "@backend", "priority": "now", "body": "deploy?", "sent_at_ms": NOW,
        "recipients": [{ "id": r[1]["id"], "name": "alice" }, { "id": r[2]["id"], "name": "bob" }], "queued": false });
    apply(&mut d, &DaemonEvent::Sent(note));
    apply(&mut d, &receipt("g1", &r[1], "read"));
    assert_eq!(d.messages[0].state, DeliveryState::Queued);
    apply(&mut d, &receipt("g1", &r[2], "delivered"));
    assert_eq!(d.messages[0].state, DeliveryState::Delivered);
}

#[test]
fn compose_sends_through_a_request_and_the_answer_and_notice_make_one_row() {
    let mut app = app(look_en());
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.state.dash.focus, Focus::Compose);
    keys(&mut app, "@bob hello there");
    key(&mut app, KeyCode::Enter);
    let d = &mut app.state.dash;
    let requests = d.take_requests();
    assert_eq!(
        requests,
        [Request::Send {
            local: 1,
            mesh: Some("team".into()),
            to: "bob".into(),
            body: "hello there".into(),
            priority: "next"
        }]
    );
    assert!(d.compose.is_empty());
    assert_eq!(d.messages[0].state, DeliveryState::Sending);
    // The daemon's notice comes first, then the answer to our call: one row, under the real id.
    let bob = roster()[2].clone();
    apply(d, &sent("real-1", &bob, "hello there", 0));
    let answer = json!({ "id": "real-1", "recipients": [{ "id": bob["id"], "name": "bob" }], "queued": false });
    apply(d, &DaemonEvent::SendResult { local: 1, result: Ok(answer) });
    assert_eq!(d.messages.len(), 1);
    assert_eq!(d.messages[0].id, "real-1");
    assert_eq!(d.notice, Some(Notice::Sent));
    apply(d, &receipt("real-1", &bob, "read"));
    assert_eq!(d.messages[0].state, DeliveryState::Read);
}

#[test]
fn a_refused_send_stays_in_the_stream_as_not_sent() {
    let mut app = app(look_en());
    key(&mut app, KeyCode::Char('c'));
    keys(&mut app, "@nobody hi");
    key(&mut app, KeyCode::Enter);
    let d = &mut app.state.dash;
    assert!(matches!(&d.take_requests()[..], [Request::Send { to, .. }] if to == "@nobody"));
    apply(d, &DaemonEvent::SendResult { local: 1, result: Err("no peer named \"nobody\"".into()) });
    assert_eq!(d.messages[0].state, DeliveryState::Failed);
    assert!(matches!(d.notice, Some(Notice::Failed { .. })));
}

#[test]
fn without_a_mention_the_message_goes_to_the_selected_peer_and_empty_sends_nothing() {
    let mut app = app(look_en());
    key(&mut app, KeyCode::Down); // alice
    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.state.dash.notice, Some(Notice::Empty));
    assert!(app.state.dash.take_requests().is_empty());
    keys(&mut app, "multi");
    app.handle(Event::Input(TermEvent::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT))));
    keys(&mut app, "line");
    assert_eq!(app.state.dash.compose.lines(), ["multi", "line"]);
    key(&mut app, KeyCode::Enter);
    let req = app.state.dash.take_requests();
    assert!(matches!(&req[..], [Request::Send { to, body, .. }] if to == "alice" && body == "multi\nline"));
}

#[test]
fn tab_completes_a_unique_peer_and_opens_a_popup_for_several() {
    let mut app = app(look_en());
    key(&mut app, KeyCode::Char('c'));
    keys(&mut app, "@al");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.state.dash.compose.lines(), ["@alice "]);
    let mut app = self::app(look_en());
    let mut extra = peer(7, "bobby", "idle", true);
    extra["summary"] = json!("");
    app.update(Action::Daemon(DaemonEvent::PeerChanged {
        event: "peer.joined".into(),
        params: json!({ "peer": extra }),
    }));
    key(&mut app, KeyCode::Char('c'));
    keys(&mut app, "@b");
    key(&mut app, KeyCode::Tab);
    let c = app.state.dash.completion.clone().expect("popup");
    assert_eq!(c.matches, ["bob", "bobby"]);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.state.dash.compose.lines(), ["@bobby "]);
    assert!(app.state.dash.completion.is_none());
}

#[test]
fn a_paste_lands_in_the_compose_box_with_its_lines() {
    let mut app = app(look_en());
    app.handle(Event::Input(TermEvent::Paste("@bob first\rsecond".into())));
    assert_eq!(app.state.dash.focus, Focus::Compose);
    assert_eq!(app.state.dash.compose.lines(), ["@bob first", "second"]);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('/'));
    app.handle(Event::Input(TermEvent::Paste("ali\nignored".into())));
    assert_eq!(app.state.dash.filter, "ali");
}

#[test]
fn priority_toggles_now_next_low() {
    let mut app = app(look_en());
    assert_eq!(app.state.dash.priority, Priority::Next);
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(app.state.dash.priority, Priority::Low);
    key(&mut app, KeyCode::Char('c'));
    app.handle(Event::Input(TermEvent::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL))));
    assert_eq!(app.state.dash.priority, Priority::Now);
}

#[test]
fn the_filter_narrows_peers_and_messages_and_esc_clears_it() {
    let mut app = busy(look_en());
    key(&mut app, KeyCode::Char('/'));
    keys(&mut app, "bob");
    let d = &app.state.dash;
    assert_eq!(d.visible_peers().iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["bob"]);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.state.dash.focus, Focus::Peers);
    assert_eq!(app.state.dash.filter, "bob");
    key(&mut app, KeyCode::Esc);
    assert!(app.state.dash.filter.is_empty());
}

#[test]
fn the_switcher_picks_another_mesh_and_asks_the_loop_to_follow_it() {
    let mut app = busy(look_en());
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(app.state.dash.switcher, Some(0));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let d = &mut app.state.dash;
    assert_eq!(d.switcher, None);
    assert_eq!(d.mesh.as_deref(), Some("side-project"));
    assert!(d.peers.is_empty() && d.messages.is_empty());
    assert_eq!(d.take_requests(), [Request::Switch { mesh: "side-project".into() }]);
    // A message the old subscription had already queued does not land in the new mesh's stream.
    let late = json!({ "mesh": "team", "id": "late", "from": { "name": "bob" }, "body": "hi", "sent_at_ms": NOW });
    assert!(!apply(d, &DaemonEvent::Message(late)));
    assert!(d.messages.is_empty());
}

#[test]
fn f_shows_and_hides_the_selected_peers_fingerprint() {
    let mut app = app(look_en());
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.state.dash.fingerprint, Some(id_of(&roster()[1])));
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.state.dash.fingerprint, None);
}

#[test]
fn ticks_redraw_only_when_a_minute_turns() {
    let mut d = DashState { now_ms: 60_000, ..DashState::default() };
    assert!(!update(&mut d, DashAction::Clock(61_000)));
    assert!(!update(&mut d, DashAction::Clock(119_999)));
    assert!(update(&mut d, DashAction::Clock(120_000)));
}

#[test]
fn a_lost_broker_link_shows_the_overlay_and_its_return_says_reconnected_then_goes() {
    let mut app = app(look_en());
    app.update(Action::Daemon(DaemonEvent::BrokerLink { connected: false }));
    assert_eq!(app.view(), View::Overlay(Overlay::BrokerDisconnected));
    app.update(Action::Daemon(DaemonEvent::BrokerLink { connected: true }));
    assert_eq!(app.view(), View::Overlay(Overlay::Reconnected { ticks_left: RECONNECTED_TICKS }));
    for _ in 0..RECONNECTED_TICKS {
        app.update(Action::Tick);
    }
    assert_eq!(app.view(), View::Screen(ScreenId::Dashboard));
}

#[test]
fn ten_thousand_messages_keep_receipts_o1_and_render_one_screen() {
    let mut app = app(look_en());
    let r = roster();
    for i in 0..10_000 {
        app.update(Action::Daemon(sent(&format!("m{i}"), &r[1], "hello", 1)));
    }
    app.update(Action::Daemon(receipt("m5", &r[1], "read")));
    assert_eq!(app.state.dash.messages[5].state, DeliveryState::Read);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| app.draw(f)).unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("queued"), "{screen}");
}

// ---- snapshots -----------------------------------------------------------------------------------------------

#[test]
fn snapshot_empty_mesh() {
    assert_app_snapshots("dash-empty", |look| {
        let mut app = App::new(FlowId::Dash, look, FlowState::default());
        let me = peer(9, "me", "idle", true);
        app.update(Action::Daemon(DaemonEvent::Connected { mesh: "solo".into() }));
        app.update(Action::Daemon(DaemonEvent::Roster { me: id_of(&me), peers: vec![me] }));
        app.state.dash.now_ms = NOW;
        app
    });
}

#[test]
fn snapshot_peers_and_stream() {
    assert_app_snapshots("dash-busy", busy);
    assert_app_snapshots_at("dash-busy", &[(60, 20)], busy);
}

#[test]
fn snapshot_compose_with_completion_popup() {
    let make = |look| {
        let mut app = busy(look);
        let extra = peer(7, "bobby", "idle", true);
        app.update(Action::Daemon(DaemonEvent::PeerChanged {
            event: "peer.joined".into(),
            params: json!({ "peer": extra }),
        }));
        key(&mut app, KeyCode::Char('c'));
        keys(&mut app, "@b");
        key(&mut app, KeyCode::Tab);
        app
    };
    assert_app_snapshots("dash-compose-completion", make);
    assert_app_snapshots_at("dash-compose-completion", &[(60, 20)], make);
}

#[test]
fn snapshot_compose_multiline_priority_now() {
    assert_app_snapshots("dash-compose", |look| {
        let mut app = busy(look);
        key(&mut app, KeyCode::Char('c'));
        keys(&mut app, "@alice the deploy is blocked");
        app.handle(Event::Input(TermEvent::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL))));
        keys(&mut app, "can you look?");
        app.handle(Event::Input(TermEvent::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL))));
        app.handle(Event::Input(TermEvent::Key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL))));
        app
    });
}

#[test]
fn snapshot_sent_notice() {
    assert_app_snapshots("dash-sent", |look| {
        let mut app = busy(look);
        key(&mut app, KeyCode::Char('c'));
        keys(&mut app, "@carol lunch?");
        key(&mut app, KeyCode::Enter);
        app.state.dash.take_requests();
        let carol = roster()[3].clone();
        let answer = json!({ "id": "m6", "recipients": [{ "id": carol["id"], "name": "carol" }], "queued": false });
        app.update(Action::Daemon(DaemonEvent::SendResult { local: 1, result: Ok(answer) }));
        app
    });
}

#[test]
fn snapshot_stream_scrolled_up() {
    assert_app_snapshots("dash-scrolled", |look| {
        let mut app = busy(look);
        key(&mut app, KeyCode::Tab);
        key(&mut app, KeyCode::Up);
        key(&mut app, KeyCode::Up);
        app
    });
}

#[test]
fn snapshot_filter_active() {
    assert_app_snapshots("dash-filter", |look| {
        let mut app = busy(look);
        key(&mut app, KeyCode::Char('/'));
        keys(&mut app, "bob");
        app
    });
}

#[test]
fn snapshot_fingerprint_shown() {
    let make = |look| {
        let mut app = busy(look);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Char('f'));
        app
    };
    assert_app_snapshots("dash-fingerprint", make);
    assert_app_snapshots_at("dash-fingerprint", &[(60, 20)], make);
}

#[test]
fn snapshot_mesh_switcher() {
    assert_app_snapshots("dash-switcher", |look| {
        let mut app = busy(look);
        key(&mut app, KeyCode::Char('m'));
        key(&mut app, KeyCode::Down);
        app
    });
}

#[test]
fn snapshot_help_overlay() {
    let make = |look| {
        let mut app = busy(look);
        key(&mut app, KeyCode::Char('?'));
        app
    };
    assert_app_snapshots("dash-help", make);
    assert_app_snapshots_at("dash-help", &[(60, 20)], make);
}

#[test]
fn snapshot_disconnected() {
    let make = |look| {
        let mut app = busy(look);
        app.update(Action::Daemon(DaemonEvent::BrokerLink { connected: false }));
        app
    };
    assert_app_snapshots("dash-broker-disconnected", make);
    assert_app_snapshots_at("dash-broker-disconnected", &[(60, 20)], make);
}

#[test]
fn snapshot_daemon_disconnected() {
    assert_app_snapshots("dash-disconnected", |look| {
        let mut app = busy(look);
        app.update(Action::Daemon(DaemonEvent::Disconnected { reason: "closed".into() }));
        app
    });
}

#[test]
fn snapshot_reconnected() {
    assert_app_snapshots("dash-reconnected", |look| {
        let mut app = busy(look);
        app.update(Action::Daemon(DaemonEvent::BrokerLink { connected: false }));
        app.update(Action::Daemon(DaemonEvent::BrokerLink { connected: true }));
        app
    });
}

// ---- benchmark -----------------------------------------------------------------------------------------------

/// Render cost per frame with 200 peers and 10,000 messages (docs/benchmarks.md). Ignored by default: it measures,
/// it does not assert a time. Run: `cargo test --release --lib tui::dash::tests::bench_render -- --ignored
/// --nocapture`.
#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn bench_render_200_peers_10000_messages() {
    use std::time::Instant;
    let peers: Vec<Value> = (0..200u32)
        .map(|i| {
            let status = ["idle", "working", "dnd"][i as usize % 3];
            let mut p = peer((i % 250) as u8, &format!("peer-{i:03}"), status, i % 7 != 0);
            p["id"] = json!(format!("{:064x}", i + 1));
            p["summary"] = json!(format!("working on task {i} of the migration"));
            p["cwd"] = json!(format!("~/src/service-{}", i % 12));
            p["branch"] = json!(format!("feature-{i}"));
            p
        })
        .collect();
    let mut report = Vec::new();
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        for filtered in [false, true] {
            let mut app = App::new(FlowId::Dash, look_en(), FlowState::default());
            app.state.dash = {
                let mut d = busy_clone(&mut app, &peers);
                d.filter = if filtered { "peer-1".into() } else { String::new() };
                d
            };
            let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
            let mut times = Vec::with_capacity(1000);
            for i in 0..1000 {
                // Something changes every frame (a receipt), as it would when the loop decides to draw.
                let to = &peers[1 + (2 * i) % 199];
                app.update(Action::Daemon(receipt(&format!("m{}", 9_998 - 2 * (i % 100)), to, "delivered")));
                let t = Instant::now();
                terminal.draw(|f| app.draw(f)).unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
            report.push(format!(
                "{w}x{h} filter={filtered:5}  n=1000  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
                pct(0.5),
                pct(0.99),
                times[times.len() - 1]
            ));
        }
    }
    for line in report {
        eprintln!("{line}");
    }
}

/// The bench's state: 200 peers and the same 10,000 messages, built once per size.
fn busy_clone(app: &mut App, peers: &[Value]) -> DashState {
    app.update(Action::Daemon(DaemonEvent::Connected { mesh: "team".into() }));
    app.update(Action::Daemon(DaemonEvent::Roster { me: id_of(&peers[0]), peers: peers.to_vec() }));
    for i in 0..10_000usize {
        let to = &peers[1 + i % 199];
        if i % 2 == 0 {
            app.update(Action::Daemon(sent(
                &format!("m{i}"),
                to,
                "a status update of moderate length for the stream",
                3,
            )));
        } else {
            app.update(Action::Daemon(incoming(&format!("m{i}"), "peer-007", "a reply with some detail", "next", 2)));
        }
    }
    app.state.dash.now_ms = NOW;
    app.state.dash.clone()
}

// ---- shared panes (state, tasks, memory search) --------------------------------------------------------------

fn coord_result(method: &str, v: Value) -> DaemonEvent {
    DaemonEvent::CoordResult { method: method.into(), result: Ok(v) }
}

fn state_entries() -> Value {
    let e = |key: &str, value: Value, version: u64, who: &str, mins_ago: u64| {
        json!({ "key": key, "value": value, "version": version, "lamport": version, "writer": "ab",
                "writer_name": who, "updated_at_ms": NOW - mins_ago * 60_000 })
    };
    json!({ "entries": [
        e("release/branch", json!("release-2.4"), 3, "alice", 30),
        e("ci/status", json!({ "green": true, "run": 1841 }), 12, "bob", 2),
        e("owner/auth", json!("alice"), 1, "alice", 90),
    ], "mesh_lamport": 40, "stale": false })
}

fn task_list() -> Value {
    let t = |id: &str, title: &str, state: &str, claimer: Option<&str>, blocked: usize, mins_ago: u64| {
        json!({ "id": id, "title": title, "body": "", "tags": if title.contains("flaky") { json!(["ci"]) } else { json!([]) },
                "deps": [], "state": state, "creator": "ab", "creator_name": "alice", "claimed_by": claimer.map(|_| "cd"),
                "claimed_by_name": claimer, "result": null, "created_at_ms": NOW - 120 * 60_000,
                "updated_at_ms": NOW - mins_ago * 60_000, "lamport": 1, "version": 1,
                "blocked_by": vec!["zzzzzzzzzzzz"; blocked] })
    };
    json!({ "tasks": [
        t("k3xq7m2abcde", "Fix the flaky login test", "claimed", Some("bob"), 0, 5),
        t("p4ra5sbcdefg", "Write the migration for v5", "open", None, 0, 20),
        t("w2zz6tcdefgh", "Ship 2.4", "open", None, 1, 25),
        t("m7yy3udefghi", "Review the auth refactor", "done", None, 0, 40),
    ], "mesh_lamport": 40 })
}

fn memories() -> Value {
    let m = |id: &str, text: &str, tags: Value, who: &str, mins_ago: u64| {
        json!({ "id": id, "text": text, "tags": tags, "author": "ab", "author_name": who,
                "created_at_ms": NOW - mins_ago * 60_000, "lamport": 1, "score": 1.5 })
    };
    json!({ "memories": [
        m("aaaabbbbcccc", "The login test is flaky on CI because the mock clock drifts", json!(["ci", "tests"]), "bob", 15),
        m("ddddeeeeffff", "CI runners have 2 cores; keep test parallelism at 2", json!(["ci"]), "alice", 300),
    ], "mesh_lamport": 40 })
}

fn on_pane(look: Look, pane: Pane, answer: Option<(&str, Value)>) -> App {
    let mut app = app(look);
    app.update(Action::Dash(DashAction::ShowPane(pane)));
    app.update(Action::Dash(DashAction::Focus(Focus::Stream)));
    if let Some((method, v)) = answer {
        app.update(Action::Daemon(coord_result(method, v)));
    }
    app
}

#[test]
fn digits_switch_panes_and_ask_the_daemon_for_them() {
    let mut app = app(look_en());
    app.state.dash.take_requests();
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.state.dash.pane, Pane::State);
    let requests = app.state.dash.take_requests();
    assert!(
        matches!(&requests[..], [Request::Coord { method: "state.list", params }] if params["mesh"] == "team"),
        "{requests:?}"
    );
    key(&mut app, KeyCode::Char('3'));
    assert!(matches!(&app.state.dash.take_requests()[..], [Request::Coord { method: "task.list", .. }]));
    key(&mut app, KeyCode::Char('3'));
    assert!(app.state.dash.take_requests().is_empty(), "the pane shown is not asked for again");
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(app.state.dash.pane, Pane::Messages);
    assert!(app.state.dash.take_requests().is_empty());
}

#[test]
fn live_state_changes_update_the_pane_without_a_request() {
    let mut app = on_pane(look_en(), Pane::State, Some(("state.list", state_entries())));
    app.state.dash.take_requests();
    let change = json!({ "seq": 9, "key": "ci/status", "value": { "green": false }, "version": 13, "lamport": 41,
                         "writer": "cd", "writer_name": "carol", "deleted": false, "at_ms": NOW });
    app.update(Action::Daemon(DaemonEvent::Coord { method: "state.changed".into(), params: change }));
    let row = app.state.dash.shared.state.iter().find(|r| r.key == "ci/status").expect("row");
    assert_eq!((row.value.as_str(), row.version, row.writer.as_str()), (r#"{"green":false}"#, 13, "carol"));
    // Another mesh's change is not ours.
    let other = json!({ "mesh": "side-project", "key": "x", "value": 1, "version": 1, "writer_name": "z" });
    app.update(Action::Daemon(DaemonEvent::Coord { method: "state.changed".into(), params: other }));
    assert!(app.state.dash.shared.state.iter().all(|r| r.key != "x"));
    assert!(app.state.dash.take_requests().is_empty());
}

#[test]
fn memory_search_is_typed_then_sent_on_enter() {
    let mut app = on_pane(look_en(), Pane::Memory, None);
    app.state.dash.take_requests();
    key(&mut app, KeyCode::Char('/'));
    keys(&mut app, "flaky ci");
    assert!(app.state.dash.take_requests().is_empty(), "nothing is searched while typing");
    key(&mut app, KeyCode::Enter);
    let requests = app.state.dash.take_requests();
    assert!(
        matches!(&requests[..], [Request::Coord { method: "memory.recall", params }] if params["query"] == "flaky ci"),
        "{requests:?}"
    );
    assert_eq!(app.state.dash.focus, Focus::Stream);
}

#[test]
fn a_shared_pane_is_read_again_every_ten_seconds_and_an_equal_answer_draws_nothing() {
    let mut app = on_pane(look_en(), Pane::Tasks, Some(("task.list", task_list())));
    app.state.dash.take_requests();
    app.state.dash.now_ms = NOW;
    update(&mut app.state.dash, DashAction::Clock(NOW + 1_000));
    assert!(app.state.dash.take_requests().is_empty());
    update(&mut app.state.dash, DashAction::Clock(NOW + 10_000));
    assert!(matches!(&app.state.dash.take_requests()[..], [Request::Coord { method: "task.list", .. }]));
    assert!(!apply(&mut app.state.dash, &coord_result("task.list", task_list())), "same answer, no redraw");
}

#[test]
fn snapshot_state_pane() {
    assert_app_snapshots("dash-state", |look| on_pane(look, Pane::State, Some(("state.list", state_entries()))));
}

#[test]
fn snapshot_tasks_pane() {
    assert_app_snapshots("dash-tasks", |look| on_pane(look, Pane::Tasks, Some(("task.list", task_list()))));
    assert_app_snapshots_at("dash-tasks", &[(60, 20)], |look| {
        on_pane(look, Pane::Tasks, Some(("task.list", task_list())))
    });
}

#[test]
fn snapshot_memory_search() {
    assert_app_snapshots("dash-memory", |look| {
        let mut app = on_pane(look, Pane::Memory, None);
        app.update(Action::Dash(DashAction::Focus(Focus::Query)));
        for c in "flaky ci".chars() {
            app.update(Action::Dash(DashAction::QueryChar(c)));
        }
        app.update(Action::Dash(DashAction::QueryDone { run: true }));
        app.update(Action::Daemon(coord_result("memory.recall", memories())));
        app
    });
}

#[test]
fn snapshot_shared_pane_from_the_cache_and_empty() {
    assert_app_snapshots("dash-state-stale", |look| {
        let mut v = state_entries();
        v["stale"] = json!(true);
        v["cache_age_ms"] = json!(42_000);
        on_pane(look, Pane::State, Some(("state.list", v)))
    });
    assert_app_snapshots("dash-tasks-empty", |look| {
        on_pane(look, Pane::Tasks, Some(("task.list", json!({ "tasks": [] }))))
    });
}
