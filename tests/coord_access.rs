//! Roles, grants, blocks, kicks, bans and mesh deletion against a real `claudemesh broker`: every refusal is the
//! documented error on the very next request of a live connection, and removals close the member's connections.

mod wire;

use serde_json::{Value, json};
use wire::*;

const FORBIDDEN: i64 = -32003;
const NOT_MEMBER: i64 = -32002;
const NOT_FOUND: i64 = -32004;
const INVALID_PARAMS: i64 = -32602;
const REMOVED: u16 = 4002;

/// The owner registers a one-use invite for `role`; `name` redeems it on a fresh connection and authenticates.
async fn join_as(b: &Broker, owner: &Ident, oc: &mut Client, name: &str, role: &str) -> (Ident, Client) {
    let joiner = Ident::new(&owner.mesh_id, &owner.mesh_name, name);
    let mut c = Client::connect(b.port).await;
    let inv = invite(b, owner, oc, role).await;
    redeem(&mut c, &joiner, &inv).await.expect("invite.redeem");
    let h = joiner.hello(&mut c).await.expect("hello");
    assert_eq!(h["peer"]["role"], role);
    c.next_notification("inbox.synced", WAIT).await.expect("inbox.synced");
    (joiner, c)
}

async fn invite(b: &Broker, owner: &Ident, oc: &mut Client, role: &str) -> Value {
    let inv = sign_invite(owner, &b.url(), &InviteSpec { role, exp: now_secs() + 3600, uses: 1 });
    oc.ok("invite.create", json!({"token": invite_token(&inv)})).await;
    inv
}

/// Sends a one-line message from `from` to `to` (as written: a name or `*`) sealed for `recipients`.
async fn send(c: &mut Client, from: &Ident, to: &str, recipients: &[String]) -> Result<Value, RpcErr> {
    c.call("message.send", send_params(from, &new_msg_id(), to, recipients, "hi")).await
}

/// Another session (new session key and name) of the same member.
fn second_session(of: &Ident, name: &str) -> Ident {
    Ident {
        mesh_id: of.mesh_id.clone(),
        mesh_name: of.mesh_name.clone(),
        member: Keys { sk: of.member.sk.clone() },
        session: Keys::random(),
        name: name.into(),
    }
}

fn caps(entry: &Value, field: &str) -> Vec<String> {
    entry[field].as_array().expect(field).iter().filter_map(|c| c.as_str().map(String::from)).collect()
}

#[tokio::test]
async fn guest_cannot_broadcast_but_can_dm() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (guest, mut gc) = join_as(&b, &owner, &mut oc, "guest", "guest").await;
    let e = send(&mut gc, &guest, "*", &[owner.id()]).await.expect_err("a guest broadcast is refused");
    assert_eq!((e.code, e.message.as_str()), (FORBIDDEN, "forbidden: missing capability broadcast"));
    send(&mut gc, &guest, "owner", &[owner.id()]).await.expect("a guest may dm");
    let d = next_delivery(&mut oc, WAIT).await.expect("the dm arrives");
    assert_eq!(d.from, guest.id());
    // A member may broadcast.
    let (member, mut mc) = join_as(&b, &owner, &mut oc, "member", "member").await;
    send(&mut mc, &member, "*", &[owner.id(), guest.id()]).await.expect("a member broadcast");
}

#[tokio::test]
async fn revoke_applies_to_the_next_send_of_every_session_and_grant_restores_it() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_admin, mut ac) = join_as(&b, &owner, &mut oc, "admin", "admin").await;
    let (m, mut mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    let m2 = second_session(&m, "worker-2");
    let (mut mc2, _) = m2.connect(&b).await;
    send(&mut mc, &m, "owner", &[owner.id()]).await.expect("dm before the revoke");

    let entry = ac.ok("access.revoke", json!({"peer": "worker", "caps": ["dm"]})).await;
    assert_eq!(entry["member"], m.member.hex());
    assert_eq!(caps(&entry, "revoked"), ["dm"]);
    assert!(!caps(&entry, "effective").contains(&"dm".to_string()), "{entry}");
    let note = mc.next_notification("access.changed", WAIT).await.expect("the member hears of the change");
    assert_eq!(note["revoked"], json!(["dm"]));
    for (c, who) in [(&mut mc, &m), (&mut mc2, &m2)] {
        let e = send(c, who, "owner", &[owner.id()]).await.expect_err("dm is revoked");
        assert_eq!((e.code, e.message.as_str()), (FORBIDDEN, "forbidden: missing capability dm"));
        assert!(c.closed.is_none(), "a refusal keeps the connection");
    }
    let listed = oc.ok("access.list", json!({"peer": m.member.hex()})).await;
    assert_eq!(caps(&listed["members"][0], "revoked"), ["dm"]);

    let entry = ac.ok("access.grant", json!({"peer": m.id(), "caps": ["dm", "clock-write"]})).await;
    assert_eq!(caps(&entry, "granted"), ["dm", "clock-write"]);
    assert!(caps(&entry, "revoked").is_empty());
    send(&mut mc, &m, "owner", &[owner.id()]).await.expect("dm restored");
    send(&mut mc2, &m2, "owner", &[owner.id()]).await.expect("dm restored on the other session");
}

#[tokio::test]
async fn grants_and_blocks_survive_a_broker_restart() {
    let mut b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (m, _mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    let (g, _gc) = join_as(&b, &owner, &mut oc, "visitor", "guest").await;
    oc.ok("access.revoke", json!({"peer": "worker", "caps": ["dm"]})).await;
    oc.ok("access.grant", json!({"peer": "visitor", "caps": ["broadcast"]})).await;
    oc.ok("access.block", json!({"peer": "visitor"})).await;
    b.term(WAIT).await;
    b.restart().await;
    let (mut oc, _) = owner.connect(&b).await;
    let (mut mc, _) = m.connect(&b).await;
    let e = send(&mut mc, &m, "owner", &[owner.id()]).await.expect_err("still revoked");
    assert_eq!(e.message, "forbidden: missing capability dm");
    let (mut gc, _) = g.connect(&b).await;
    let e = send(&mut gc, &g, "*", &[owner.id()]).await.expect_err("still blocked");
    assert_eq!(e.message, "forbidden: missing capability broadcast (blocked in this mesh)");
    oc.ok("access.unblock", json!({"peer": "visitor"})).await;
    send(&mut gc, &g, "*", &[owner.id(), m.id()]).await.expect("the granted broadcast");
}

#[tokio::test]
async fn block_refuses_with_the_blocked_text_and_unblock_restores() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_admin, mut ac) = join_as(&b, &owner, &mut oc, "admin", "admin").await;
    let (m, mut mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    let entry = ac.ok("access.block", json!({"peer": "worker"})).await;
    assert_eq!(entry["blocked"], true);
    let e = send(&mut mc, &m, "owner", &[owner.id()]).await.expect_err("blocked");
    assert_eq!((e.code, e.message.as_str()), (FORBIDDEN, "forbidden: missing capability dm (blocked in this mesh)"));
    let e = send(&mut mc, &m, "*", &[owner.id()]).await.expect_err("blocked");
    assert_eq!(e.message, "forbidden: missing capability broadcast (blocked in this mesh)");
    let entry = ac.ok("access.unblock", json!({"peer": "worker"})).await;
    assert_eq!(entry["blocked"], false);
    send(&mut mc, &m, "owner", &[owner.id()]).await.expect("unblocked");
}

#[tokio::test]
async fn only_the_owner_changes_roles_and_a_live_connection_gets_the_new_role_at_once() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (admin, mut ac) = join_as(&b, &owner, &mut oc, "admin", "admin").await;
    let (g, mut gc) = join_as(&b, &owner, &mut oc, "visitor", "guest").await;
    let e = ac.err("access.role", json!({"peer": "visitor", "role": "member"}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: only the owner can change roles");
    let e = oc.err("access.role", json!({"peer": owner.member.hex(), "role": "admin"}), FORBIDDEN).await;
    assert!(e.message.contains("owner"), "{e:?}");
    send(&mut gc, &g, "*", &[owner.id()]).await.expect_err("a guest cannot broadcast yet");

    let entry = oc.ok("access.role", json!({"peer": "visitor", "role": "member"})).await;
    assert_eq!(entry["role"], "member");
    send(&mut gc, &g, "*", &[owner.id(), admin.id()]).await.expect("the promoted session broadcasts at once");
    let entry = oc.ok("access.role", json!({"peer": "visitor", "role": "guest"})).await;
    assert_eq!(entry["role"], "guest");
    let e = send(&mut gc, &g, "*", &[owner.id()]).await.expect_err("demoted");
    assert_eq!(e.message, "forbidden: missing capability broadcast");
    let e = gc.err("access.block", json!({"peer": "owner"}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: only the owner or an admin can manage access");
}

#[tokio::test]
async fn admins_cannot_act_on_admins_or_the_owner_and_members_cannot_manage() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_a1, mut a1c) = join_as(&b, &owner, &mut oc, "admin-1", "admin").await;
    let (_a2, a2c) = join_as(&b, &owner, &mut oc, "admin-2", "admin").await;
    let (_m, mut mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    for method in ["access.kick", "access.ban", "access.block"] {
        a1c.err(method, json!({"peer": "admin-2"}), FORBIDDEN).await;
        a1c.err(method, json!({"peer": "owner"}), FORBIDDEN).await;
        oc.err(method, json!({"peer": "owner"}), FORBIDDEN).await;
        let e = mc.err(method, json!({"peer": "admin-1"}), FORBIDDEN).await;
        assert_eq!(e.message, "forbidden: only the owner or an admin can manage access");
    }
    a1c.err("access.revoke", json!({"peer": "admin-2", "caps": ["dm"]}), FORBIDDEN).await;
    assert!(a2c.closed.is_none());
    // The owner may act on an admin.
    oc.ok("access.block", json!({"peer": "admin-2"})).await;
}

#[tokio::test]
async fn kick_closes_the_members_connections_and_hello_fails_until_a_new_invite() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_admin, mut ac) = join_as(&b, &owner, &mut oc, "admin", "admin").await;
    let (m, mut mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    // A control connection of the same session (the hub does not track it) and a second session.
    let mut control = Client::connect(b.port).await;
    let mut p = m.hello_params(&control.nonce);
    p["receive"] = json!(false);
    control.ok("auth.hello", p).await;
    let (mut mc2, _) = second_session(&m, "worker-2").connect(&b).await;
    let r = ac.ok("access.kick", json!({"peer": "worker"})).await;
    assert_eq!(r["kicked"], 2, "two sessions had live connections");
    for c in [&mut mc, &mut control, &mut mc2] {
        assert_eq!(c.expect_close(WAIT).await.code, Some(REMOVED));
    }
    let left = oc.next_notification("peer.left", WAIT).await.expect("peer.left");
    assert_eq!(left["id"], m.id());
    let mut again = Client::connect(b.port).await;
    let e = m.hello(&mut again).await.expect_err("a kicked member cannot hello");
    assert_eq!(e.code, NOT_MEMBER);
    ac.err("access.kick", json!({"peer": "worker"}), NOT_FOUND).await;
    // A new invite lets them back in, with nothing left of before.
    let inv = invite(&b, &owner, &mut oc, "member").await;
    let mut c = Client::connect(b.port).await;
    redeem(&mut c, &m, &inv).await.expect("redeem after a kick");
    m.hello(&mut c).await.expect("hello after rejoining");
}

#[tokio::test]
async fn ban_refuses_hello_and_a_new_invite_until_unban() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (m, mut mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    let entry = oc.ok("access.ban", json!({"peer": m.member.hex()})).await;
    assert_eq!((entry["banned"].clone(), entry["role"].clone()), (json!(true), json!("member")));
    assert_eq!(mc.expect_close(WAIT).await.code, Some(REMOVED));

    let mut c = Client::connect(b.port).await;
    let e = m.hello(&mut c).await.expect_err("a banned key cannot hello");
    assert_eq!(e.code, NOT_MEMBER);
    assert!(e.message.contains("banned"), "{e:?}");
    let inv = invite(&b, &owner, &mut oc, "member").await;
    let mut c = Client::connect(b.port).await;
    let e = redeem(&mut c, &m, &inv).await.expect_err("a banned key cannot redeem");
    assert_eq!(e.code, FORBIDDEN);
    assert!(e.message.contains("banned"), "{e:?}");
    let listed = oc.ok("access.list", json!({})).await;
    let banned: Vec<&Value> =
        listed["members"].as_array().expect("members").iter().filter(|e| e["banned"] == true).collect();
    assert_eq!(banned.len(), 1);
    assert_eq!(banned[0]["member"], m.member.hex());

    let entry = oc.ok("access.unban", json!({"peer": "worker"})).await;
    assert_eq!(entry["banned"], false);
    redeem(&mut c, &m, &inv).await.expect("redeem after unban");
    m.hello(&mut c).await.expect("hello after unban");
}

#[tokio::test]
async fn mesh_delete_is_for_the_owner_closes_everyone_and_leaves_no_row() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_admin, mut ac) = join_as(&b, &owner, &mut oc, "admin", "admin").await;
    let (m, mut mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    oc.ok("access.block", json!({"peer": "worker"})).await;
    let e = ac.err("mesh.delete", json!({}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: only the owner can delete the mesh");
    oc.err("mesh.delete", json!({"really": true}), INVALID_PARAMS).await;

    assert_eq!(oc.ok("mesh.delete", json!({})).await, json!({"deleted": true}));
    for c in [&mut oc, &mut ac, &mut mc] {
        assert_eq!(c.expect_close(WAIT).await.code, Some(REMOVED));
    }
    let mut c = Client::connect(b.port).await;
    assert_eq!(m.hello(&mut c).await.expect_err("the mesh is gone").code, NOT_MEMBER);

    let db = rusqlite::Connection::open(b.db_path()).expect("open the broker's store");
    let tables: Vec<String> = db
        .prepare(
            "SELECT m.name FROM sqlite_master m WHERE m.type='table'
             AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name='mesh_id')",
        )
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    assert!(tables.iter().any(|t| t == "access_blocks") && tables.iter().any(|t| t == "members"), "{tables:?}");
    for t in tables.iter().chain(std::iter::once(&"meshes".to_string())) {
        let col = if t == "meshes" { "id" } else { "mesh_id" };
        let n: i64 = db
            .query_row(&format!("SELECT count(*) FROM \"{t}\" WHERE {col}=?1"), [&owner.mesh_id], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "{t} still holds rows of the deleted mesh");
    }
}

#[tokio::test]
async fn bad_params_are_invalid_params_and_the_connection_stays() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_m, _mc) = join_as(&b, &owner, &mut oc, "worker", "member").await;
    let long = "x".repeat(200);
    for (method, params) in [
        ("access.grant", json!({"peer": "worker", "caps": ["root"]})),
        ("access.grant", json!({"peer": "worker", "caps": []})),
        ("access.grant", json!({"peer": "worker"})),
        ("access.revoke", json!({"caps": ["dm"]})),
        ("access.block", json!({"peer": ""})),
        ("access.block", json!({"peer": long})),
        ("access.kick", json!({"peer": 7})),
        ("access.role", json!({"peer": "worker", "role": "owner"})),
        ("access.role", json!({"peer": "worker", "role": "king"})),
        ("access.list", json!({"limit": 0})),
        ("access.list", json!({"limit": 51})),
        ("access.list", json!({"after": "not-a-key"})),
        ("access.unban", json!({"peer": "worker", "extra": 1})),
    ] {
        oc.err(method, params, INVALID_PARAMS).await;
    }
    oc.err("access.block", json!({"peer": "nobody"}), NOT_FOUND).await;
    oc.err("access.unban", json!({"peer": "worker"}), NOT_FOUND).await;
    let listed = oc.ok("access.list", json!({"limit": 1})).await;
    assert_eq!(listed["members"].as_array().map(Vec::len), Some(1));
    let next = listed["next"].as_str().expect("a second page").to_string();
    let rest = oc.ok("access.list", json!({"after": next})).await;
    assert_eq!(rest["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["next"], Value::Null);
    oc.ping().await;
}

#[tokio::test]
async fn guest_writes_are_refused_with_the_missing_capability() {
    let b = Broker::start(&[]).await;
    let (owner, mut oc) = create_mesh(&b, "owner").await;
    let (_g, mut gc) = join_as(&b, &owner, &mut oc, "guest", "guest").await;
    let e = gc.err("state.set", json!({"key": "k", "value": 1}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: missing capability state-write");
    let e = gc.err("memory.remember", json!({"text": "note"}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: missing capability memory-write");
    let e = gc.err("task.create", json!({"title": "t"}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: missing capability task-write");
    let e = gc.err("context.share", json!({"summary": "s"}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: missing capability context-write");
    let e = gc.err("stream.create", json!({"name": "logs"}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: missing capability stream-write");
    let e = gc.err("clock.pause", json!({}), FORBIDDEN).await;
    assert_eq!(e.message, "forbidden: missing capability clock-write");
    // Reads stay open to guests.
    gc.ok("state.list", json!({})).await;
    gc.ok("memory.recall", json!({})).await;
    gc.ok("task.list", json!({})).await;
    gc.ok("context.list", json!({})).await;
    gc.ok("stream.list", json!({})).await;
    gc.ok("clock.get", json!({})).await;
    oc.ok("access.grant", json!({"peer": "guest", "caps": ["state-write"]})).await;
    gc.ok("state.set", json!({"key": "k", "value": 1})).await;
}
