//! Access verbs: `grant`, `revoke`, `block`, `unblock`, `kick`, `ban`, `unban`, `role`, `access list` and
//! `mesh delete`.

use serde_json::{Value, json};

use crate::i18n::{t, t_args};
use crate::output::table;
use crate::proto::cmethod;

use super::args::InviteRole;
use super::context::Ctx;
use super::coord_call::{Coord, list, num, text};
use super::coord_input as input;
use super::error::CliError;

/// At most this many pages of 50 members (10,000 members) are read.
const MAX_PAGES: usize = 200;

fn peer(raw: &str) -> Result<String, CliError> {
    let p = raw.trim();
    if p.is_empty() || p.len() > 128 {
        return Err(CliError::invalid("err-access-bad-peer").arg("peer", raw));
    }
    Ok(p.to_string())
}

/// `grant PEER CAP...`, `revoke PEER CAP...`
pub(crate) fn caps(ctx: &Ctx, method: &'static str, who: &str, caps: &[String]) -> Result<(), CliError> {
    let who = peer(who)?;
    let caps = input::caps(caps)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.call(method, json!({ "peer": who, "caps": caps }))?;
    let done = if method == cmethod::ACCESS_GRANT { "access-grant-done" } else { "access-revoke-done" };
    coord.print(doc, |m| {
        ctx.out.success(&t_args(done, &[("name", name_of(m, &who).into()), ("caps", caps.join(", ").into())]));
        print_effective(ctx, m);
    });
    Ok(())
}

/// `block|unblock|ban|unban PEER`: the member entry after the change.
pub(crate) fn member_step(ctx: &Ctx, method: &'static str, who: &str) -> Result<(), CliError> {
    let who = peer(who)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.call(method, json!({ "peer": who }))?;
    let done = match method {
        cmethod::ACCESS_BLOCK => "access-block-done",
        cmethod::ACCESS_UNBLOCK => "access-unblock-done",
        cmethod::ACCESS_BAN => "access-ban-done",
        _ => "access-unban-done",
    };
    coord.print(doc, |m| ctx.out.success(&t_args(done, &[("name", name_of(m, &who).into())])));
    Ok(())
}

/// `kick PEER`
pub(crate) fn kick(ctx: &Ctx, who: &str) -> Result<(), CliError> {
    let who = peer(who)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.call(cmethod::ACCESS_KICK, json!({ "peer": who }))?;
    coord.print(doc, |r| {
        ctx.out
            .success(&t_args("access-kick-done", &[("name", who.as_str().into()), ("count", num(r, "kicked").into())]));
    });
    Ok(())
}

/// `role PEER admin|member|guest` (the owner only)
pub(crate) fn role(ctx: &Ctx, who: &str, role: InviteRole) -> Result<(), CliError> {
    let who = peer(who)?;
    let role = match role {
        InviteRole::Admin => "admin",
        InviteRole::Member => "member",
        InviteRole::Guest => "guest",
    };
    let coord = Coord::open(ctx)?;
    let doc = coord.call(cmethod::ACCESS_ROLE, json!({ "peer": who, "role": role }))?;
    coord.print(doc, |m| {
        ctx.out.success(&t_args("access-role-done", &[("name", name_of(m, &who).into()), ("role", role.into())]));
    });
    Ok(())
}

/// `access list [PEER]`
pub(crate) fn access_list(ctx: &Ctx, who: Option<&str>) -> Result<(), CliError> {
    let who = who.map(peer).transpose()?;
    let coord = Coord::open(ctx)?;
    let doc = all_pages(&coord, who.as_deref())?;
    coord.print(doc, |d| {
        let members = list(d, "members");
        if members.is_empty() {
            ctx.out.line(&t("access-list-empty"));
            return;
        }
        let rows: Vec<Vec<String>> = members
            .iter()
            .map(|m| {
                let mut flags = Vec::new();
                for (key, label) in [("blocked", "access-blocked"), ("banned", "access-banned")] {
                    if m.get(key).and_then(Value::as_bool) == Some(true) {
                        flags.push(t(label));
                    }
                }
                vec![text(m, "name").to_string(), text(m, "role").to_string(), flags.join(" "), strings(m, "effective")]
            })
            .collect();
        for line in table(&rows) {
            ctx.out.line(&line);
        }
    });
    Ok(())
}

/// Every page of `access.list` (the broker pages by member key) as one document with `next: null`.
fn all_pages(coord: &Coord, who: Option<&str>) -> Result<Value, CliError> {
    let mut members = Vec::new();
    let mut after: Option<String> = None;
    let mut doc = json!({});
    for _ in 0..MAX_PAGES {
        let mut params = json!({});
        if let Some(w) = who {
            params["peer"] = json!(w);
        }
        if let Some(a) = &after {
            params["after"] = json!(a);
        }
        let page = coord.read(cmethod::ACCESS_LIST, params)?;
        members.extend(list(&page, "members").iter().cloned());
        after = page.get("next").and_then(Value::as_str).map(str::to_string);
        let stale = doc.get("stale").and_then(Value::as_bool).unwrap_or(false);
        doc = page;
        if stale {
            doc["stale"] = json!(true);
        }
        if after.is_none() {
            break;
        }
    }
    doc["members"] = Value::Array(members);
    doc["next"] = json!(after);
    Ok(doc)
}

/// `mesh delete` (the owner only; every connection of the mesh closes).
pub(crate) fn mesh_delete(ctx: &Ctx) -> Result<(), CliError> {
    let coord = Coord::open(ctx)?;
    let doc = coord.call(cmethod::MESH_DELETE, json!({}))?;
    let mesh = coord.entry.name.clone();
    coord.print(doc, |_| {
        ctx.out.success(&t_args("mesh-delete-done", &[("mesh", mesh.as_str().into())]));
        ctx.out.next_step(&t_args("mesh-delete-next", &[("slug", coord.entry.slug.as_str().into())]));
    });
    Ok(())
}

fn name_of(member: &Value, fallback: &str) -> String {
    match text(member, "name") {
        "" => fallback.to_string(),
        n => n.to_string(),
    }
}

fn strings(v: &Value, key: &str) -> String {
    list(v, key).iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ")
}

fn print_effective(ctx: &Ctx, member: &Value) {
    let effective = strings(member, "effective");
    if !effective.is_empty() {
        ctx.out.line(&format!("  {}", t_args("access-effective", &[("caps", effective.into())])));
    }
}
