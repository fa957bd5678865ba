//! The noun-verb resource verbs that have no flat predecessor: `mesh use|info`, `profile show|set`, `group list`,
//! `invite list|revoke`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::i18n::{t, t_args};
use crate::output::{self, Role as Paint, icon, table};
use crate::proto::{InviteListResult, InviteRevokeResult, KeyHex, PeerInfo, PeerListResult, PresenceSetParams, Status};

use super::args::{ProfileSetArgs, StatusArg};
use super::context::{Ctx, now_ms};
use super::error::CliError;
use super::membership::require_admin;
use super::messaging::{check_summary, peer_json, update_self};
use super::warm;

/// `claudemesh mesh use <slug>`: the mesh verbs use without `--mesh` or `$CLAUDEMESH_MESH`.
pub(crate) fn mesh_use(ctx: &Ctx, slug: &str) -> Result<(), CliError> {
    let mut config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, Some(slug))?.clone();
    config.current = Some(entry.slug.clone());
    ctx.save_config(&config)?;
    if ctx.out.json {
        ctx.out
            .json(json!({ "current": entry.slug, "mesh": { "slug": entry.slug, "id": entry.id, "name": entry.name } }));
    } else {
        ctx.out.success(&t_args(
            "mesh-use-done",
            &[("mesh", entry.name.as_str().into()), ("slug", entry.slug.as_str().into())],
        ));
    }
    Ok(())
}

/// `claudemesh mesh info`: the mesh as the broker sees it.
pub(crate) fn mesh_info(ctx: &Ctx) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    let info = warm::call_mesh(ctx, entry, crate::proto::method::MESH_INFO, json!({}))?;
    if ctx.out.json {
        let mut doc = info;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("slug".into(), Value::String(entry.slug.clone()));
            obj.insert("broker".into(), Value::String(entry.broker.clone()));
        }
        ctx.out.json(doc);
        return Ok(());
    }
    let text = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let num = |k: &str| info.get(k).and_then(Value::as_u64).unwrap_or(0).to_string();
    let rows = vec![
        vec![t("whoami-mesh"), format!("{} ({})", text("name"), entry.slug)],
        vec![t("whoami-mesh-id"), text("id")],
        vec![t("mesh-info-members"), num("members")],
        vec![t("mesh-info-online"), num("peers_online")],
        vec![t("whoami-role"), text("your_role")],
        vec![t("whoami-broker"), entry.broker.clone()],
    ];
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

fn peers_and_me(ctx: &Ctx) -> Result<(crate::config::MeshEntry, Vec<PeerInfo>, KeyHex), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?.clone();
    let me = ctx.identity(&entry)?.session_key();
    let value = warm::call_mesh(ctx, &entry, crate::proto::method::PEER_LIST, json!({}))?;
    let list: PeerListResult = serde_json::from_value(value).map_err(CliError::internal)?;
    Ok((entry, list.peers, me))
}

/// `claudemesh profile show`: this session's peer as the mesh sees it.
pub(crate) fn profile_show(ctx: &Ctx) -> Result<(), CliError> {
    let (entry, peers, me) = peers_and_me(ctx)?;
    let peer = peers.iter().find(|p| p.id == me);
    if ctx.out.json {
        ctx.out.json(json!({
            "mesh": entry.slug,
            "session": ctx.session_id(),
            "peer": peer.map(|p| peer_json(p, &me)),
        }));
        return Ok(());
    }
    let Some(p) = peer else {
        ctx.out.line(&t("whoami-no-peer-yet"));
        return Ok(());
    };
    let groups: Vec<String> = p.groups.iter().map(|g| format!("@{}", g.name)).collect();
    let rows = vec![
        vec![t("whoami-name"), p.name.clone()],
        vec![t("profile-status"), p.status.as_str().to_string()],
        vec![t("profile-summary"), p.summary.clone()],
        vec![t("profile-visible"), p.visible.to_string()],
        vec![t("profile-groups"), groups.join(" ")],
        vec![t("whoami-peer-id"), p.id.to_string()],
        vec![t("whoami-session"), ctx.session_id()],
    ];
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// `claudemesh profile set [--status S] [--summary TEXT] [--visible BOOL]`
pub(crate) fn profile_set(ctx: &Ctx, a: ProfileSetArgs) -> Result<(), CliError> {
    let status = a.status.map(|s| match s {
        StatusArg::Idle => Status::Idle,
        StatusArg::Working => Status::Working,
        StatusArg::Dnd => Status::Dnd,
    });
    let summary = a.summary.as_deref().map(check_summary).transpose()?;
    let name = a.name.map(|n| n.trim().to_string());
    if let Some(n) = &name
        && !crate::proto::is_valid_name(n)
    {
        return Err(CliError::invalid("err-bad-display-name").arg("name", n.as_str()).hint("hint-name-rules"));
    }
    let params = PresenceSetParams { status, summary, visible: a.visible, name, ..Default::default() };
    update_self(ctx, crate::proto::method::PRESENCE_SET, params, t("profile-set-done"))
}

/// `claudemesh group list`: every group of the mesh and who is in it.
pub(crate) fn group_list(ctx: &Ctx) -> Result<(), CliError> {
    let (entry, peers, me) = peers_and_me(ctx)?;
    let mut groups: BTreeMap<String, Vec<&PeerInfo>> = BTreeMap::new();
    for p in &peers {
        for g in &p.groups {
            groups.entry(g.name.clone()).or_default().push(p);
        }
    }
    if ctx.out.json {
        let list: Vec<Value> = groups
            .iter()
            .map(|(name, members)| {
                let members: Vec<Value> = members
                    .iter()
                    .map(|p| {
                        let role = p.groups.iter().find(|g| g.name == *name).and_then(|g| g.role.clone());
                        json!({ "id": p.id, "name": p.name, "role": role, "online": p.online, "you": p.id == me })
                    })
                    .collect();
                json!({ "name": name, "members": members })
            })
            .collect();
        ctx.out.json(json!({ "mesh": entry.slug, "groups": list }));
        return Ok(());
    }
    if groups.is_empty() {
        ctx.out.line(&t_args("group-list-empty", &[("mesh", entry.name.as_str().into())]));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|(name, members)| {
            let names: Vec<String> = members.iter().map(|p| p.name.clone()).collect();
            vec![format!("@{name}"), names.join(", ")]
        })
        .collect();
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// `claudemesh invite list` (owners and admins).
pub(crate) fn invite_list(ctx: &Ctx) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    require_admin(entry, "err-invites-admin-only")?;
    let value = warm::call_mesh(ctx, entry, crate::proto::method::INVITE_LIST, json!({}))?;
    let list: InviteListResult = serde_json::from_value(value).map_err(CliError::internal)?;
    let now_s = now_ms() / 1000;
    let state = |i: &crate::proto::InviteSummary| {
        if i.revoked_at_ms.is_some() {
            "revoked"
        } else if i.expires_at <= now_s {
            "expired"
        } else if i.uses >= i.max_uses {
            "used_up"
        } else {
            "active"
        }
    };
    if ctx.out.json {
        let invites: Vec<Value> = list
            .invites
            .iter()
            .map(|i| {
                let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("state".into(), Value::String(state(i).into()));
                }
                v
            })
            .collect();
        ctx.out.json(json!({ "mesh": entry.slug, "invites": invites }));
        return Ok(());
    }
    if list.invites.is_empty() {
        ctx.out.line(&t_args("invite-list-empty", &[("mesh", entry.name.as_str().into())]));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .invites
        .iter()
        .map(|i| {
            let mark = match state(i) {
                "active" => ctx.out.paint(Paint::Success, icon::ON),
                _ => ctx.out.paint(Paint::Muted, icon::OFF),
            };
            let left = i.expires_at.saturating_sub(now_s);
            vec![
                mark,
                i.id.clone(),
                i.role.clone(),
                format!("{}/{}", i.uses, i.max_uses),
                state(i).to_string(),
                if left > 0 { output::short_duration(left) } else { String::new() },
            ]
        })
        .collect();
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// `claudemesh invite revoke <id>` (owners and admins).
pub(crate) fn invite_revoke(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    require_admin(entry, "err-invites-admin-only")?;
    let value = warm::call_mesh(ctx, entry, crate::proto::method::INVITE_REVOKE, json!({ "invite_id": id.trim() }))?;
    let r: InviteRevokeResult = serde_json::from_value(value).map_err(CliError::internal)?;
    if ctx.out.json {
        ctx.out.json(json!({ "invite_id": r.invite_id, "revoked": r.revoked }));
    } else if r.revoked {
        ctx.out.success(&t_args("invite-revoked", &[("id", r.invite_id.as_str().into())]));
    } else {
        ctx.out.line(&t_args("invite-already-revoked", &[("id", r.invite_id.as_str().into())]));
    }
    Ok(())
}
