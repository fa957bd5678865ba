//! Membership verbs: `new`, `invite`, `join` (and bare `claudemesh <url>`), `list`, `rename`, `leave`, `whoami`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{ClientError, Identity, MeshSession, check_broker_url};
use crate::config::{Config, MeshEntry};
use crate::crypto::{SigningKey, fingerprint, random_bytes, verify_hex};
use crate::i18n::{t, t_args};
use crate::output::{self, Role as Paint, icon, table};
use crate::proto::{
    CloseCode, ErrorCode, HelloResult, Invite, InviteCreateParams, InviteCreateResult, MeshId, MeshRenameParams,
    RedeemResult, Role, is_valid_name, method,
};
use crate::store::Inbox;

use super::args::InviteRole;
use super::context::{Ctx, now_ms, runtime};
use super::error::{CliError, Exit};
use super::live::Live;

/// Opens the local inbox (creating the home and `data.db` on first use).
pub(crate) fn open_inbox(ctx: &Ctx) -> Result<Inbox, CliError> {
    ctx.home.ensure_root()?;
    Ok(Inbox::open(&ctx.home.data_db_path())?)
}

fn mesh_json(entry: &MeshEntry) -> Value {
    json!({ "slug": entry.slug, "id": entry.id, "name": entry.name, "broker": entry.broker, "role": entry.role })
}

/// `message` says what only admins may do (`err-invite-needs-admin`, `err-rename-needs-admin`).
pub(crate) fn require_admin(entry: &MeshEntry, message: &'static str) -> Result<(), CliError> {
    if Role::parse(&entry.role).is_some_and(Role::is_admin) {
        return Ok(());
    }
    Err(CliError::new(Exit::Forbidden, "forbidden", message)
        .arg("mesh", entry.name.as_str())
        .arg("role", entry.role.as_str())
        .hint("hint-ask-admin"))
}

fn check_mesh_name(name: &str) -> Result<(), CliError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(CliError::invalid("err-bad-mesh-name").arg("name", name).hint("hint-name-rules"))
    }
}

/// A new membership's keys on disk (member key, this session's key) and the identity they make. The caller removes
/// the keys again if the broker refuses the membership.
fn fresh_identity(ctx: &Ctx, mesh_id: &MeshId, display: &str) -> Result<Identity, CliError> {
    let member = SigningKey::generate()?;
    ctx.home.write_member_seed(mesh_id.as_str(), &member.seed())?;
    let session_seed = ctx.home.load_or_create_session_seed(mesh_id.as_str(), &ctx.session_id(), &random_bytes()?)?;
    Ok(Identity {
        mesh_id: mesh_id.clone(),
        member,
        session: SigningKey::from_seed(&session_seed),
        name: display.to_string(),
    })
}

/// Records a membership the broker confirmed (`new` or `join`), makes it current, and tells the daemon.
fn adopt(
    ctx: &Ctx,
    config: &mut Config,
    mesh_id: &MeshId,
    hello: &HelloResult,
    mesh_name: &str,
    broker: String,
    display: String,
) -> Result<MeshEntry, CliError> {
    // Our own ids come from our side (the keys on disk), not from what the broker says back.
    let member = SigningKey::from_seed(&*ctx.home.read_member_seed(mesh_id.as_str())?);
    let entry = MeshEntry {
        slug: config.unique_slug(mesh_name),
        id: mesh_id.to_string(),
        name: mesh_name.to_string(),
        broker,
        role: hello.peer.role.as_str().to_string(),
        member_key: hex::encode(member.public()),
        name_requested: display,
        joined_at_ms: now_ms(),
    };
    config.add_current(entry.clone());
    ctx.save_config(config)?;
    super::warm::reload(ctx);
    Ok(entry)
}

/// `claudemesh new <name> [--broker URL] [--name DISPLAY]`
pub(crate) fn new_mesh(
    ctx: &Ctx,
    mesh_name: &str,
    broker: Option<&str>,
    display: Option<&str>,
) -> Result<(), CliError> {
    let (entry, hello) = create_mesh(ctx, mesh_name, broker, display)?;
    if ctx.out.json {
        ctx.out.json(json!({
            "mesh": mesh_json(&entry),
            "peer": { "id": hello.peer.id, "name": hello.peer.name },
            "current": true,
        }));
        return Ok(());
    }
    ctx.out.success(&t("new-done"));
    ctx.out.line(&format!(
        "{} {}",
        ctx.out.paint(Paint::Primary, icon::MESH),
        t_args(
            "new-details",
            &[
                ("mesh", entry.name.as_str().into()),
                ("slug", entry.slug.as_str().into()),
                ("name", hello.peer.name.as_str().into()),
                ("broker", entry.broker.as_str().into()),
            ],
        )
    ));
    ctx.out.next_step(&t("new-next"));
    Ok(())
}

/// Creates a mesh on `broker` (default: `$CLAUDEMESH_BROKER`, else the daemon's embedded broker) and makes it
/// current; prints nothing. `new`, the new-mesh screen and the first run's personal mesh all come here.
pub(crate) fn create_mesh(
    ctx: &Ctx,
    mesh_name: &str,
    broker: Option<&str>,
    display: Option<&str>,
) -> Result<(MeshEntry, HelloResult), CliError> {
    let mesh_name = mesh_name.trim();
    check_mesh_name(mesh_name)?;
    let broker = match broker.map(str::to_string).or_else(|| ctx.env.broker.clone()) {
        Some(b) => b,
        // No broker named: the daemon's embedded one (loopback, zero set-up).
        None => super::warm::embedded_broker(ctx)
            .ok_or_else(|| CliError::invalid("err-new-needs-broker").hint("hint-broker-flag"))?,
    };
    check_broker_url(&broker)?;
    let display = ctx.display_name(display)?;
    let mut config = ctx.load_config()?;

    let mesh_id = MeshId::generate();
    let identity = fresh_identity(ctx, &mesh_id, &display)?;
    let created = runtime()?.block_on(async {
        let session = MeshSession::create_mesh(&broker, identity, mesh_name).await?;
        let hello = session.hello().clone();
        session.close().await;
        Ok::<_, ClientError>(hello)
    });
    let hello = match created {
        Ok(hello) => hello,
        Err(e) => {
            let _ = ctx.home.remove_mesh_keys(mesh_id.as_str());
            return Err(e.into());
        }
    };

    let entry = adopt(ctx, &mut config, &mesh_id, &hello, &hello.mesh.name, broker, display)?;
    Ok((entry, hello))
}

/// An invite to `identity`'s mesh, signed by its member key (the broker registers it; see docs/protocol.md).
fn signed_invite(
    identity: &Identity,
    mesh_name: &str,
    broker: &str,
    role: Role,
    exp: u64,
    uses: u32,
    inviter: &str,
) -> Invite {
    let mut invite = Invite {
        v: 1,
        id: Invite::new_id(),
        mesh: identity.mesh_id.clone(),
        mesh_name: mesh_name.to_string(),
        broker: broker.to_string(),
        role,
        exp,
        uses,
        issuer: identity.member_key(),
        inviter: inviter.to_string(),
        sig: String::new(),
    };
    invite.sig = identity.member.sign_hex(&invite.signed_bytes());
    invite
}

/// `claudemesh invite [--role R] [--expires D] [--uses N]`
pub(crate) fn invite(ctx: &Ctx, role: InviteRole, expires: Duration, uses: u32) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    require_admin(entry, "err-invite-needs-admin")?;
    let (url, created, role) = create_invite(ctx, entry, role, expires, uses)?;
    if ctx.out.json {
        ctx.out.json(json!({
            "url": url,
            "invite_id": created.invite_id,
            "role": role.as_str(),
            "expires_at": created.expires_at,
            "uses": created.uses,
        }));
        return Ok(());
    }
    ctx.out.success(&t_args(
        "invite-done",
        &[
            ("role", role.as_str().into()),
            ("uses", created.uses.into()),
            ("span", output::short_duration(expires.as_secs()).into()),
            ("mesh", entry.name.as_str().into()),
        ],
    ));
    ctx.out.line(&url);
    ctx.out.next_step(&t("invite-next"));
    Ok(())
}

/// Creates an invite to `entry` (the caller checked the role) through the daemon, else directly; prints nothing.
/// `invite` and the invite screen both come here.
pub(crate) fn create_invite(
    ctx: &Ctx,
    entry: &MeshEntry,
    role: InviteRole,
    expires: Duration,
    uses: u32,
) -> Result<(String, InviteCreateResult, Role), CliError> {
    let role = match role {
        InviteRole::Admin => Role::Admin,
        InviteRole::Member => Role::Member,
        InviteRole::Guest => Role::Guest,
    };
    // The broker judges the expiry on its own clock, so it is set on that clock: a machine whose clock is off still
    // makes invites that last as long as asked.
    let exp_on = |offset_ms: i64| now_ms().saturating_add_signed(offset_ms) / 1000 + expires.as_secs();
    let rt = runtime()?;
    let (url, created) = match rt.block_on(super::warm::connect(ctx)) {
        Some(mut local) => {
            let offset = rt.block_on(broker_clock_offset(&mut local, &entry.slug))?;
            let exp = exp_on(offset);
            let identity = ctx.identity(entry)?;
            let invite = signed_invite(&identity, &entry.name, &entry.broker, role, exp, uses, &entry.name_requested);
            let params = json!({ "mesh": entry.slug, "token": invite.to_token() });
            let created: InviteCreateResult =
                rt.block_on(super::warm::call(&mut local, method::INVITE_CREATE, &params))?;
            (invite.to_url(), created)
        }
        None => {
            let inbox = open_inbox(ctx)?;
            rt.block_on(async {
                let mut live = Live::connect(ctx, entry, inbox, false).await?;
                let hello = live.session.hello().clone();
                let exp = exp_on(live.session.clock_offset_ms());
                let invite = signed_invite(
                    live.session.identity(),
                    &hello.mesh.name,
                    &entry.broker,
                    role,
                    exp,
                    uses,
                    &hello.peer.name,
                );
                let params = InviteCreateParams { token: invite.to_token() };
                let created: InviteCreateResult = live.session.call(method::INVITE_CREATE, &params).await?;
                live.finish().await?;
                Ok::<_, CliError>((invite.to_url(), created))
            })?
        }
    };
    Ok((url, created, role))
}

/// The broker's clock minus ours, as the daemon's link to `slug`'s broker measured it on connect (the link is
/// connected first if it is not; `0` when the broker cannot be reached, and then `invite.create` fails anyway).
async fn broker_clock_offset(local: &mut crate::client::local::LocalClient, slug: &str) -> Result<i64, CliError> {
    let find = |status: &Value| {
        status["links"].as_array().and_then(|links| {
            links
                .iter()
                .filter(|l| l["mesh"] == slug && l["connected"] == true)
                .find_map(|l| l["clock_offset_ms"].as_i64())
        })
    };
    let status: Value = super::warm::call(local, "daemon.status", &json!({})).await?;
    if let Some(offset) = find(&status) {
        return Ok(offset);
    }
    let _: Value = super::warm::call(local, "mesh.info", &json!({ "mesh": slug })).await?;
    let status: Value = super::warm::call(local, "daemon.status", &json!({})).await?;
    Ok(find(&status).unwrap_or(0))
}

/// The invite behind `url`, after the checks that need no network: it parses and its signature holds. Whether
/// it has expired is the broker's call, on its clock (ours may be off): it answers `invite_expired` at redemption.
/// `join` and the join confirm screen both start here.
pub(crate) fn check_invite(url: &str) -> Result<Invite, CliError> {
    let invite = Invite::from_url(url)?;
    if verify_hex(invite.issuer.bytes(), &invite.signed_bytes(), &invite.sig).is_err() {
        return Err(CliError::new(Exit::InvalidArgs, "invite_forged", "err-invite-forged").hint("hint-ask-new-invite"));
    }
    Ok(invite)
}

/// Whether a failure of `check_invite` or `redeem` is the invite's own fault (the invite-invalid overlay), not
/// the network's or the disk's.
pub(crate) fn is_invite_refusal(e: &CliError) -> bool {
    e.reason.starts_with("invite_")
}

/// `claudemesh join <url> [--name DISPLAY]` and bare `claudemesh <url>`.
pub(crate) fn join(ctx: &Ctx, url: &str, display: Option<&str>) -> Result<(), CliError> {
    let invite = check_invite(url)?;
    let config = ctx.load_config()?;
    if let Some(existing) = config.by_id(invite.mesh.as_str()) {
        if ctx.out.json {
            ctx.out.json(json!({ "mesh": mesh_json(existing), "already_member": true }));
        } else {
            ctx.out.success(&t_args(
                "join-already",
                &[("mesh", existing.name.as_str().into()), ("slug", existing.slug.as_str().into())],
            ));
        }
        return Ok(());
    }
    let (entry, hello, redeemed) = redeem(ctx, &invite, display)?;

    if ctx.out.json {
        ctx.out.json(json!({
            "mesh": mesh_json(&entry),
            "peer": { "id": hello.peer.id, "name": hello.peer.name },
            "invited_by": invite.inviter,
            "already_member": redeemed.already_member,
        }));
        return Ok(());
    }
    ctx.out.success(&t("join-done"));
    ctx.out.line(&format!(
        "{} {}",
        ctx.out.paint(Paint::Primary, icon::MESH),
        t_args(
            "join-details",
            &[
                ("mesh", entry.name.as_str().into()),
                ("name", hello.peer.name.as_str().into()),
                ("role", entry.role.as_str().into()),
                ("inviter", invite.inviter.as_str().into()),
            ],
        )
    ));
    ctx.out.next_step(&t("join-next"));
    Ok(())
}

/// Redeems a checked invite at its broker and records the membership (current from now on); prints nothing.
pub(crate) fn redeem(
    ctx: &Ctx,
    invite: &Invite,
    display: Option<&str>,
) -> Result<(MeshEntry, HelloResult, RedeemResult), CliError> {
    let mut config = ctx.load_config()?;
    let display = ctx.display_name(display)?;
    let mesh_id = invite.mesh.clone();
    let identity = fresh_identity(ctx, &mesh_id, &display)?;
    let token = invite.to_token();
    let joined = runtime()?.block_on(async {
        let (session, redeemed) = MeshSession::redeem(identity, invite, &token).await?;
        let hello = session.hello().clone();
        session.close().await;
        Ok::<_, ClientError>((hello, redeemed))
    });
    let (hello, redeemed) = match joined {
        Ok(j) => j,
        Err(e) => {
            let _ = ctx.home.remove_mesh_keys(mesh_id.as_str());
            return Err(e.into());
        }
    };

    let entry = adopt(ctx, &mut config, &mesh_id, &hello, &redeemed.mesh.name, invite.broker.clone(), display)?;
    Ok((entry, hello, redeemed))
}

/// `claudemesh list`
pub(crate) fn list(ctx: &Ctx) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let current = config.current.as_deref();
    if ctx.out.json {
        let meshes: Vec<Value> = config
            .meshes
            .iter()
            .map(|m| {
                let mut v = mesh_json(m);
                v["current"] = json!(Some(m.slug.as_str()) == current);
                v["joined_at_ms"] = json!(m.joined_at_ms);
                v
            })
            .collect();
        ctx.out.json(json!({ "current": current, "meshes": meshes }));
        return Ok(());
    }
    if config.meshes.is_empty() {
        ctx.out.line(&t("list-empty"));
        ctx.out.next_step(&t("hint-new-or-join"));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = config
        .meshes
        .iter()
        .map(|m| {
            let marker = if Some(m.slug.as_str()) == current { icon::MESH } else { " " };
            vec![marker.to_string(), m.slug.clone(), m.name.clone(), m.role.clone(), m.broker.clone()]
        })
        .collect();
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// `claudemesh rename <name>`
pub(crate) fn rename(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    let name = name.trim();
    check_mesh_name(name)?;
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    require_admin(entry, "err-rename-needs-admin")?;
    let old = entry.name.clone();
    let rt = runtime()?;
    let renamed: Value = match rt.block_on(super::warm::connect(ctx)) {
        Some(mut local) => {
            let params = json!({ "mesh": entry.slug, "name": name });
            rt.block_on(super::warm::call(&mut local, method::MESH_RENAME, &params))?
        }
        None => {
            let inbox = open_inbox(ctx)?;
            rt.block_on(async {
                let mut live = Live::connect(ctx, entry, inbox, false).await?;
                let result: Value =
                    live.session.call(method::MESH_RENAME, &MeshRenameParams { name: name.to_string() }).await?;
                live.finish().await?;
                Ok::<_, CliError>(result)
            })?
        }
    };
    let new_name = renamed.get("name").and_then(Value::as_str).unwrap_or(name).to_string();
    let mut config = ctx.load_config()?;
    let mesh_id = entry.id.clone();
    let updated = match config.by_id_mut(&mesh_id) {
        Some(e) => {
            e.name = new_name.clone();
            e.clone()
        }
        None => return Err(CliError::internal("the mesh disappeared from config.toml")),
    };
    ctx.save_config(&config)?;
    if ctx.out.json {
        ctx.out.json(json!({ "mesh": mesh_json(&updated), "previous_name": old }));
    } else {
        ctx.out.success(&t_args("rename-done", &[("old", old.into()), ("new", new_name.into())]));
    }
    Ok(())
}

/// `claudemesh leave [mesh]`
pub(crate) fn leave(ctx: &Ctx, slug: Option<&str>) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, slug)?.clone();
    if entry.role == Role::Owner.as_str() {
        return Err(CliError::new(Exit::Forbidden, "forbidden", "err-leave-owner")
            .arg("mesh", entry.name.as_str())
            .hint("hint-leave-owner"));
    }
    ctx.confirm("leave", &[("slug", entry.slug.as_str().into())])?;
    let inbox = open_inbox(ctx)?;
    let outcome = runtime()?.block_on(async {
        let mut live = match Live::connect(ctx, &entry, inbox, false).await {
            Ok(live) => live,
            Err(e) if e.reason == "not_member" => return Ok(false),
            Err(e) => return Err(e),
        };
        let left: Result<Value, ClientError> = live.session.call(method::MESH_LEAVE, &json!({})).await;
        live.session.close().await;
        match left {
            Ok(_) => Ok(true),
            // Leaving ends with the broker closing our connection as "removed"; that close may overtake the reply.
            Err(ClientError::ConnectionLost { code: Some(code), .. }) if code == CloseCode::Removed.code() => Ok(true),
            Err(ClientError::Rpc(e)) if e.kind() == Some(ErrorCode::NotMember) => Ok(false),
            Err(e) => Err(e.into()),
        }
    })?;
    // The broker no longer knows us (either way): delete the keys, the entry and the mesh's messages.
    ctx.home.remove_mesh_keys(&entry.id)?;
    let mut config = ctx.load_config()?;
    config.remove(&entry.id);
    ctx.save_config(&config)?;
    super::warm::reload(ctx);
    let mut inbox = open_inbox(ctx)?;
    inbox.forget_mesh(&entry.id)?;

    if ctx.out.json {
        ctx.out.json(json!({ "left": mesh_json(&entry), "was_member": outcome, "current": config.current }));
        return Ok(());
    }
    ctx.out.success(&t_args("leave-done", &[("mesh", entry.name.as_str().into())]));
    if let Some(current) = config.current.as_deref().and_then(|c| config.by_slug(c)) {
        ctx.out.next_step(&t_args("leave-now-current", &[("mesh", current.name.as_str().into())]));
    }
    Ok(())
}

/// `claudemesh whoami` (local only).
pub(crate) fn whoami(ctx: &Ctx) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    let member = SigningKey::from_seed(&*ctx.home.read_member_seed(&entry.id)?);
    let member_fp = fingerprint(&member.public());
    let session_id = ctx.session_id();
    let peer_id =
        ctx.home.read_session_seed(&entry.id, &session_id)?.map(|s| hex::encode(SigningKey::from_seed(&s).public()));
    if ctx.out.json {
        ctx.out.json(json!({
            "mesh": entry.slug,
            "mesh_id": entry.id,
            "mesh_name": entry.name,
            "name": entry.name_requested,
            "role": entry.role,
            "member_key": entry.member_key,
            "member_fingerprint": member_fp,
            "session": session_id,
            "peer_id": peer_id,
            "broker": entry.broker,
        }));
        return Ok(());
    }
    let none = t("whoami-no-peer-yet");
    let rows = vec![
        vec![t("whoami-mesh"), format!("{} ({})", entry.name, entry.slug)],
        vec![t("whoami-mesh-id"), entry.id.clone()],
        vec![t("whoami-name"), entry.name_requested.clone()],
        vec![t("whoami-role"), entry.role.clone()],
        vec![t("whoami-member-key"), member_fp],
        vec![t("whoami-peer-id"), peer_id.unwrap_or(none)],
        vec![t("whoami-session"), session_id],
        vec![t("whoami-broker"), entry.broker.clone()],
    ];
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}
