//! Messaging and presence verbs: `send`, `inbox`, `peers`, `msg-status`, `status set`, `summary set`, `group`.

use std::io::Read;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{ClientError, SendReport, check_body};
use crate::config::MeshEntry;
use crate::i18n::{t, t_args};
use crate::output::{self, Role as Paint, icon, table};
use crate::proto::{
    CloseCode, DeliveryState, GroupParams, KeyHex, MessageId, PeerInfo, PeerResult, PresenceSetParams, Priority,
    Status, StatusParams, StatusResult, method,
};
use crate::store::{Filter, StoredMessage};
use crate::tui::theme::{self, Icon};

use super::args::{PriorityArg, StatusArg};
use super::context::{Ctx, now_ms, runtime};
use super::error::{CliError, Exit};
use super::live::Live;
use super::membership::open_inbox;
use super::warm;

/// How long `inbox` waits for the broker to push the backlog.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest TTL the broker accepts.
const MAX_TTL: Duration = Duration::from_secs(30 * 86_400);
/// Longest summary the broker accepts, in characters.
const MAX_SUMMARY_CHARS: usize = 280;
/// Backoff bounds while `inbox --follow` reconnects.
const RECONNECT_MIN: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);
/// `inbox --follow` gives up after being replaced this many times within `REPLACED_WINDOW`.
const MAX_REPLACED: usize = 3;
const REPLACED_WINDOW: Duration = Duration::from_secs(60);

pub(crate) fn peer_json(p: &PeerInfo, me: &KeyHex) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "member_key": p.member_key,
        "role": p.role.as_str(),
        "status": p.status.as_str(),
        "summary": p.summary,
        "visible": p.visible,
        "groups": p.groups,
        "online": p.online,
        "last_seen_ms": p.last_seen_ms,
        "cwd": p.cwd,
        "branch": p.branch,
        "you": p.id == *me,
    })
}

fn message_json(m: &StoredMessage) -> Value {
    json!({
        "id": m.msg.msg_id,
        "from": { "id": m.msg.from_key, "name": m.msg.from_name },
        "to": m.msg.to_spec,
        "priority": m.msg.priority,
        "sent_at_ms": m.msg.sent_at_ms,
        "received_at_ms": m.msg.received_at_ms,
        "read": m.read_at_ms.is_some(),
        "body": m.msg.body,
    })
}

/// `claudemesh send <to> <text…> [--priority P] [--ttl D]`
pub(crate) fn send(
    ctx: &Ctx,
    to: &str,
    text: &[String],
    priority: PriorityArg,
    ttl: Option<Duration>,
) -> Result<(), CliError> {
    let body = if text.len() == 1 && text[0] == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|_| CliError::invalid("err-stdin-not-text"))?;
        s.trim_end_matches('\n').to_string()
    } else {
        text.join(" ")
    };
    check_body(&body)?;
    if ttl.is_some_and(|d| d > MAX_TTL) {
        return Err(CliError::invalid("err-ttl-too-long").hint("hint-ttl"));
    }
    let priority = match priority {
        PriorityArg::Now => Priority::Now,
        PriorityArg::Next => Priority::Next,
        PriorityArg::Low => Priority::Low,
    };
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    let rt = runtime()?;
    let report: Sent = match rt.block_on(warm::connect(ctx)) {
        Some(mut local) => {
            let params = json!({ "mesh": entry.slug, "to": to, "body": body, "priority": priority,
                                 "ttl_secs": ttl.map(|d| d.as_secs()) });
            rt.block_on(warm::call(&mut local, "message.send", &params))?
        }
        None => {
            let inbox = open_inbox(ctx)?;
            let report = rt.block_on(async {
                let mut live = Live::connect(ctx, entry, inbox, false).await?;
                let report = live.session.send_text(to, &body, priority, ttl.map(|d| d.as_secs())).await?;
                live.finish().await?;
                Ok::<_, CliError>(report)
            })?;
            Sent::from(report)
        }
    };
    for name in &report.skipped {
        ctx.out.warn(&t_args("warn-skipped-unattested", &[("name", name.as_str().into())]));
    }
    if ctx.out.json {
        ctx.out.json(serde_json::to_value(&report).map_err(CliError::internal)?);
        return Ok(());
    }
    if report.queued {
        // The broker answered but cannot store anything (a full disk, a failing store): say so, not "unreachable".
        let key =
            if report.queued_reason.as_deref() == Some("unavailable") { "send-queued-full" } else { "send-queued" };
        ctx.out.success(&t_args(key, &[("broker", entry.broker.as_str().into())]));
        ctx.out.line(&format!("  {}", t_args("send-queued-details", &[("id", report.id.as_str().into())])));
        return Ok(());
    }
    ctx.out.success(&t("send-done"));
    ctx.out.line(&format!(
        "  {}",
        t_args(
            "send-details",
            &[
                ("id", report.id.as_str().into()),
                ("to", report.to.as_str().into()),
                ("count", report.recipients.len().into()),
            ],
        )
    ));
    ctx.out.next_step(&t_args("send-next", &[("id", report.id.as_str().into())]));
    Ok(())
}

/// What `send` reports, warm or direct (the JSON shape of `send --json`).
#[derive(Debug, Serialize, Deserialize)]
struct Sent {
    id: String,
    to: String,
    recipients: Vec<Recipient>,
    skipped: Vec<String>,
    accepted: u64,
    duplicates: u64,
    expires_at_ms: u64,
    /// Accepted into the outbox because the broker cannot be reached or refused it for now; it goes out in order
    /// later.
    queued: bool,
    /// Why it was queued: `unreachable`, or the broker's error reason (`unavailable`: its store is full or
    /// failing; `rate_limited`; `internal`). `null` when sent.
    #[serde(default)]
    queued_reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Recipient {
    id: String,
    name: String,
}

impl From<SendReport> for Sent {
    fn from(r: SendReport) -> Self {
        Self {
            id: r.id.to_string(),
            to: r.to,
            recipients: r.recipients.into_iter().map(|(id, name)| Recipient { id: id.to_string(), name }).collect(),
            skipped: r.skipped,
            accepted: r.accepted,
            duplicates: r.duplicates,
            expires_at_ms: r.expires_at_ms,
            queued: false,
            queued_reason: None,
        }
    }
}

fn print_messages(ctx: &Ctx, rows: &[StoredMessage], as_lines: bool) {
    let now = now_ms();
    for m in rows {
        if ctx.out.json {
            if as_lines {
                ctx.out.json_line(message_json(m));
            }
            continue;
        }
        let marker = if m.read_at_ms.is_none() {
            ctx.out.paint(Paint::Primary, icon::ON)
        } else {
            ctx.out.paint(Paint::Muted, icon::OFF)
        };
        let meta = ctx.out.paint(Paint::Dim, &format!("{} · {}", output::ago(now, m.msg.sent_at_ms), m.msg.priority));
        let to = if m.msg.to_spec.starts_with('@') || m.msg.to_spec == "*" {
            format!(" → {}", m.msg.to_spec)
        } else {
            String::new()
        };
        ctx.out.line(&format!("{marker} {}{to}  {meta}", m.msg.from_name));
        for line in m.msg.body.lines() {
            ctx.out.line(&format!("  {line}"));
        }
    }
}

/// `claudemesh inbox [--unread] [--follow]`
pub(crate) fn inbox(ctx: &Ctx, unread: bool, follow: bool) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    let rt = runtime()?;
    if let Some(mut local) = rt.block_on(warm::connect(ctx)) {
        return warm_inbox(ctx, &rt, &mut local, entry, unread, follow);
    }
    if follow {
        drop(rt);
        return follow_inbox(ctx, entry, unread);
    }
    let inbox = open_inbox(ctx)?;
    let (mut inbox, synced) = rt.block_on(async {
        match Live::connect(ctx, entry, inbox, true).await {
            Ok(mut live) => {
                let synced = live.wait_synced(SYNC_TIMEOUT).await?;
                Ok((live.finish().await?, synced))
            }
            Err(e) if e.exit == Exit::Network => {
                ctx.out.warn(&t_args("warn-inbox-offline", &[("broker", entry.broker.as_str().into())]));
                Ok((open_inbox(ctx)?, false))
            }
            Err(e) => Err(e),
        }
    })?;
    drop(rt);
    let filter = if unread { Filter::Unread } else { Filter::All };
    let rows = inbox.list(&entry.id, &ctx.session_id(), filter)?;
    let unread_seqs: Vec<i64> = rows.iter().filter(|m| m.read_at_ms.is_none()).map(|m| m.seq).collect();
    if ctx.out.json {
        let messages: Vec<Value> = rows.iter().map(message_json).collect();
        ctx.out.json(json!({ "mesh": entry.slug, "synced": synced, "messages": messages }));
    } else if rows.is_empty() {
        let id = if unread { "inbox-empty-unread" } else { "inbox-empty" };
        ctx.out.line(&t_args(id, &[("mesh", entry.name.as_str().into())]));
    } else {
        print_messages(ctx, &rows, false);
    }
    inbox.mark_read(&unread_seqs, now_ms())?;
    Ok(())
}

/// One message as the daemon sends it (`inbox.list`, `inbox.message`).
#[derive(Deserialize)]
struct WarmMessage {
    mesh_id: String,
    seq: i64,
    id: String,
    from: WarmSender,
    to: String,
    priority: String,
    kind: String,
    body: String,
    sent_at_ms: u64,
    received_at_ms: u64,
    read: bool,
    surfaced_via: Option<String>,
}

#[derive(Deserialize)]
struct WarmSender {
    id: String,
    name: String,
    member: String,
}

impl WarmMessage {
    fn into_stored(self, session: &str) -> StoredMessage {
        StoredMessage {
            seq: self.seq,
            msg: crate::store::NewMessage {
                mesh_id: self.mesh_id,
                session: session.to_string(),
                msg_id: self.id,
                from_key: self.from.id,
                from_name: self.from.name,
                from_member: self.from.member,
                to_spec: self.to,
                priority: self.priority,
                kind: self.kind,
                sent_at_ms: self.sent_at_ms,
                received_at_ms: self.received_at_ms,
                body: self.body,
            },
            read_at_ms: self.read.then_some(0),
            surfaced_at_ms: None,
            surfaced_via: self.surfaced_via,
        }
    }
}

#[derive(Deserialize)]
struct WarmInbox {
    synced: bool,
    messages: Vec<WarmMessage>,
}

/// `inbox` through the daemon: it keeps the inbox in step with the broker all the time, so listing is local.
fn warm_inbox(
    ctx: &Ctx,
    rt: &tokio::runtime::Runtime,
    local: &mut crate::client::local::LocalClient,
    entry: &MeshEntry,
    unread: bool,
    follow: bool,
) -> Result<(), CliError> {
    let sid = ctx.session_id();
    let params = json!({ "mesh": entry.slug, "filter": if unread { "unread" } else { "all" }, "mark_read": true });
    let listed: WarmInbox = rt.block_on(warm::call(local, "inbox.list", &params))?;
    if !listed.synced {
        ctx.out.warn(&t_args("warn-inbox-offline", &[("broker", entry.broker.as_str().into())]));
    }
    let rows: Vec<StoredMessage> = listed.messages.into_iter().map(|m| m.into_stored(&sid)).collect();
    if !follow {
        if ctx.out.json {
            let messages: Vec<Value> = rows.iter().map(message_json).collect();
            ctx.out.json(json!({ "mesh": entry.slug, "synced": listed.synced, "messages": messages }));
        } else if rows.is_empty() {
            let id = if unread { "inbox-empty-unread" } else { "inbox-empty" };
            ctx.out.line(&t_args(id, &[("mesh", entry.name.as_str().into())]));
        } else {
            print_messages(ctx, &rows, false);
        }
        return Ok(());
    }
    print_messages(ctx, &rows, true);
    let mut after = rows.iter().map(|m| m.seq).max();
    rt.block_on(async {
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut wait = RECONNECT_MIN;
        let mut client: Option<crate::client::local::LocalClient> = None;
        loop {
            let conn = match client.as_mut() {
                Some(c) => c,
                None => {
                    let connected = match warm::connect(ctx).await {
                        Some(mut c) => {
                            let params = json!({ "mesh": entry.slug, "after_seq": after, "mark_read": true });
                            match warm::call::<_, Value>(&mut c, "inbox.subscribe", &params).await {
                                Ok(_) => Some(c),
                                Err(e) => return Err(e),
                            }
                        }
                        None => None,
                    };
                    match connected {
                        Some(c) => {
                            wait = RECONNECT_MIN;
                            client.insert(c)
                        }
                        None => {
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = &mut ctrl_c => return Ok(()),
                            }
                            wait = (wait * 2).min(RECONNECT_MAX);
                            continue;
                        }
                    }
                }
            };
            tokio::select! {
                note = conn.next_notification() => match note {
                    Some((m, params)) if m == "inbox.message" => {
                        if let Ok(msg) = serde_json::from_value::<WarmMessage>(params) {
                            let row = msg.into_stored(&sid);
                            after = Some(after.unwrap_or(0).max(row.seq));
                            print_messages(ctx, std::slice::from_ref(&row), true);
                        }
                    }
                    Some(_) => {}
                    None => {
                        ctx.out.warn(&t("warn-daemon-reconnecting"));
                        client = None;
                    }
                },
                _ = &mut ctrl_c => return Ok(()),
            }
        }
    })
}

fn follow_inbox(ctx: &Ctx, entry: &MeshEntry, unread: bool) -> Result<(), CliError> {
    let inbox = open_inbox(ctx)?;
    let mesh_id = entry.id.clone();
    let sid = ctx.session_id();
    runtime()?.block_on(async {
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut live = Live::connect(ctx, entry, inbox, true).await?;
        live.wait_synced(SYNC_TIMEOUT).await?;
        let filter = if unread { Filter::Unread } else { Filter::All };
        let (mesh, s) = (mesh_id.clone(), sid.clone());
        let mut cursor = show_and_mark(ctx, &mut live, move |i| i.list(&mesh, &s, filter)).await?.unwrap_or(0);
        let (mesh, s) = (mesh_id.clone(), sid.clone());
        cursor = cursor.max(live.with_inbox(move |i| i.last_seq(&mesh, &s)).await?);
        let mut replaced: Vec<tokio::time::Instant> = Vec::new();
        loop {
            tokio::select! {
                stepped = live.step() => { stepped?; }
                _ = &mut ctrl_c => break,
            }
            let (mesh, s) = (mesh_id.clone(), sid.clone());
            if let Some(last) = show_and_mark(ctx, &mut live, move |i| i.list(&mesh, &s, Filter::After(cursor))).await?
            {
                cursor = last;
            }
            if let Some((code, reason)) = live.take_closed() {
                if code == Some(CloseCode::SessionReplaced.code()) {
                    // Another process uses this session key. Yield to a short-lived verb, but do not fight a
                    // second follower forever.
                    let now = tokio::time::Instant::now();
                    replaced.retain(|at| now.duration_since(*at) < REPLACED_WINDOW);
                    replaced.push(now);
                    if replaced.len() >= MAX_REPLACED {
                        return Err(ClientError::ConnectionLost { code, reason }.into());
                    }
                }
                let mut wait = RECONNECT_MIN;
                ctx.out.warn(&t_args("warn-reconnecting", &[("broker", entry.broker.as_str().into())]));
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut ctrl_c => return Ok(()),
                    }
                    match live.reconnect().await {
                        Ok(()) => break,
                        Err(e) if e.exit == Exit::Network => wait = (wait * 2).min(RECONNECT_MAX),
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        live.session.close().await;
        Ok(())
    })
}

/// Prints rows fetched by `query` as they arrive (one JSON object per line in JSON mode) and marks them read.
/// Returns the highest `seq` printed.
async fn show_and_mark(
    ctx: &Ctx,
    live: &mut Live,
    query: impl FnOnce(&mut crate::store::Inbox) -> Result<Vec<StoredMessage>, crate::store::StoreError> + Send + 'static,
) -> Result<Option<i64>, CliError> {
    let rows = live.with_inbox(query).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    print_messages(ctx, &rows, true);
    let seqs: Vec<i64> = rows.iter().map(|m| m.seq).collect();
    let last = seqs.iter().copied().max();
    live.with_inbox(move |i| i.mark_read(&seqs, now_ms())).await?;
    Ok(last)
}

/// The daemon's `peer.list` answer.
#[derive(Deserialize)]
struct WarmPeers {
    me: KeyHex,
    peers: Vec<PeerInfo>,
}

/// `claudemesh peers`
pub(crate) fn peers(ctx: &Ctx, watch: bool) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    let rt = runtime()?;
    if watch {
        return watch_peers(ctx, &rt, entry);
    }
    let (mut peers, me) = match rt.block_on(warm::connect(ctx)) {
        Some(mut local) => {
            let r: WarmPeers = rt.block_on(warm::call(&mut local, "peer.list", &json!({ "mesh": entry.slug })))?;
            (r.peers, r.me)
        }
        None => {
            let inbox = open_inbox(ctx)?;
            rt.block_on(async {
                let mut live = Live::connect(ctx, entry, inbox, false).await?;
                let peers = live.session.peers().await?;
                let me = live.session.identity().session_key();
                live.finish().await?;
                Ok::<_, CliError>((peers, me))
            })?
        }
    };
    if ctx.out.json {
        let list: Vec<Value> = peers.iter().map(|p| peer_json(p, &me)).collect();
        ctx.out.json(json!({ "mesh": entry.slug, "peers": list }));
        return Ok(());
    }
    peers.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.name.cmp(&b.name)));
    let now = now_ms();
    let rows: Vec<Vec<String>> = peers
        .iter()
        .map(|p| {
            // The theme's icons: ASCII (`o`, `-`) when the terminal is not UTF-8 or CLAUDEMESH_ASCII=1.
            let (mark, seen) = if p.online {
                (ctx.out.paint(Paint::Success, theme::icon(Icon::On)), t("peers-online"))
            } else {
                (ctx.out.paint(Paint::Muted, theme::icon(Icon::Off)), output::ago(now, p.last_seen_ms))
            };
            let name = if p.id == me { format!("{} {}", p.name, t("peers-you")) } else { p.name.clone() };
            let groups: Vec<String> = p.groups.iter().map(|g| format!("@{}", g.name)).collect();
            vec![mark, name, p.status.as_str().to_string(), seen, groups.join(" "), p.summary.clone()]
        })
        .collect();
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// `peer list --watch`: the list, then every change as it happens (through the daemon, which hears them all).
fn watch_peers(ctx: &Ctx, rt: &tokio::runtime::Runtime, entry: &MeshEntry) -> Result<(), CliError> {
    let Some(mut local) = rt.block_on(warm::connect(ctx)) else {
        return Err(CliError::new(Exit::Network, "daemon", "err-watch-needs-daemon").hint("hint-daemon"));
    };
    rt.block_on(async {
        // Subscribe before listing, so no change falls between the two.
        let _: Value = warm::call(&mut local, "peer.subscribe", &json!({ "mesh": entry.slug })).await?;
        let r: WarmPeers = warm::call(&mut local, "peer.list", &json!({ "mesh": entry.slug })).await?;
        if ctx.out.json {
            let list: Vec<Value> = r.peers.iter().map(|p| peer_json(p, &r.me)).collect();
            ctx.out.json_line(json!({ "mesh": entry.slug, "peers": list }));
        } else {
            for p in &r.peers {
                ctx.out.line(&peer_event_line(ctx, "peer.listed", &p.name, p.online));
            }
        }
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                note = local.next_notification() => match note {
                    Some((m, params)) if m == "peer.event" => {
                        let event = params.get("event").and_then(Value::as_str).unwrap_or_default().to_string();
                        let inner = params.get("params").cloned().unwrap_or(Value::Null);
                        if ctx.out.json {
                            ctx.out.json_line(json!({ "mesh": entry.slug, "event": event, "params": inner }));
                        } else {
                            let peer = inner.get("peer").unwrap_or(&inner);
                            let name = peer.get("name").and_then(Value::as_str).unwrap_or("?");
                            let online = peer.get("online").and_then(Value::as_bool).unwrap_or(false);
                            ctx.out.line(&peer_event_line(ctx, &event, name, online));
                        }
                    }
                    Some(_) => {}
                    None => return Err(CliError::new(Exit::Network, "daemon", "err-watch-daemon-gone").hint("hint-daemon")),
                },
                _ = &mut ctrl_c => return Ok(()),
            }
        }
    })
}

fn peer_event_line(ctx: &Ctx, event: &str, name: &str, online: bool) -> String {
    let mark = if online { ctx.out.paint(Paint::Success, icon::ON) } else { ctx.out.paint(Paint::Muted, icon::OFF) };
    let what = match event {
        "peer.joined" => t_args("peer-event-joined", &[("name", name.into())]),
        "peer.left" => t_args("peer-event-left", &[("name", name.into())]),
        "peer.updated" => t_args("peer-event-updated", &[("name", name.into())]),
        _ => name.to_string(),
    };
    format!("{mark} {what}")
}

/// `claudemesh msg-status <id>`
pub(crate) fn msg_status(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let id = MessageId::try_from(id.trim().to_string())
        .map_err(|_| CliError::invalid("err-bad-message-id").arg("id", id).hint("hint-message-id"))?;
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    let rt = runtime()?;
    let status: StatusResult = match rt.block_on(warm::connect(ctx)) {
        Some(mut local) => {
            let params = json!({ "mesh": entry.slug, "id": id });
            let value: Value = rt.block_on(warm::call(&mut local, method::MESSAGE_STATUS, &params))?;
            if value.get("local").and_then(Value::as_str) == Some("outbox") {
                return print_outboxed(ctx, value, &entry.broker);
            }
            serde_json::from_value(value).map_err(CliError::internal)?
        }
        None => {
            let inbox = open_inbox(ctx)?;
            rt.block_on(async {
                let mut live = Live::connect(ctx, entry, inbox, false).await?;
                let status = live.session.call_retrying(method::MESSAGE_STATUS, &StatusParams { id }).await?;
                live.finish().await?;
                Ok::<_, CliError>(status)
            })?
        }
    };
    if ctx.out.json {
        ctx.out.json(serde_json::to_value(&status).map_err(CliError::internal)?);
        return Ok(());
    }
    let now = now_ms();
    ctx.out.line(&format!(
        "{} {}",
        ctx.out.paint(Paint::Primary, icon::MESH),
        t_args(
            "status-header",
            &[
                ("id", status.id.as_str().into()),
                ("to", status.to.as_str().into()),
                ("state", status.state.as_str().into()),
            ],
        )
    ));
    let rows: Vec<Vec<String>> = status
        .recipients
        .iter()
        .map(|r| {
            let (mark, detail) = match r.state {
                DeliveryState::Delivered => (
                    ctx.out.paint(Paint::Success, icon::OK),
                    r.delivered_at_ms.map(|at| output::ago(now, at)).unwrap_or_default(),
                ),
                DeliveryState::Queued => (
                    ctx.out.paint(Paint::Muted, icon::BULLET),
                    t_args("status-attempts", &[("count", r.attempts.into())]),
                ),
                DeliveryState::Expired => (ctx.out.paint(Paint::Error, icon::FAIL), String::new()),
                DeliveryState::Surfaced => {
                    let ago = r.surfaced_at_ms.map(|at| output::ago(now, at)).unwrap_or_default();
                    let detail = match &r.surfaced_via {
                        Some(via) => t_args("status-via", &[("via", via.as_str().into()), ("ago", ago.into())]),
                        None => ago,
                    };
                    (ctx.out.paint(Paint::Success, icon::OK), detail)
                }
                DeliveryState::Read => (
                    ctx.out.paint(Paint::Primary, icon::OK),
                    r.read_at_ms.map(|at| output::ago(now, at)).unwrap_or_default(),
                ),
            };
            vec![format!("  {mark}"), r.name.clone(), r.state.as_str().to_string(), detail]
        })
        .collect();
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// A message still in this machine's outbox (the broker has not taken it yet).
fn print_outboxed(ctx: &Ctx, value: Value, broker: &str) -> Result<(), CliError> {
    if ctx.out.json {
        ctx.out.json(value);
    } else {
        let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
        ctx.out.line(&format!(
            "{} {}",
            ctx.out.paint(Paint::Muted, icon::BULLET),
            t_args("status-outbox", &[("id", id.into()), ("broker", broker.into())])
        ));
    }
    Ok(())
}

/// Runs one presence or group call and prints the caller's updated peer.
pub(crate) fn update_self<P: serde::Serialize>(
    ctx: &Ctx,
    method: &str,
    params: P,
    done: String,
) -> Result<(), CliError> {
    let config = ctx.load_config()?;
    let entry = ctx.select_mesh(&config, None)?;
    let params = serde_json::to_value(&params).map_err(CliError::internal)?;
    let value = warm::call_mesh(ctx, entry, method, params)?;
    let result: PeerResult = serde_json::from_value(value).map_err(CliError::internal)?;
    if ctx.out.json {
        ctx.out.json(json!({ "peer": peer_json(&result.peer, &result.peer.id) }));
    } else {
        ctx.out.success(&done);
    }
    Ok(())
}

/// `claudemesh status set idle|working|dnd`
pub(crate) fn status_set(ctx: &Ctx, status: StatusArg) -> Result<(), CliError> {
    let status = match status {
        StatusArg::Idle => Status::Idle,
        StatusArg::Working => Status::Working,
        StatusArg::Dnd => Status::Dnd,
    };
    let params = PresenceSetParams { status: Some(status), ..Default::default() };
    update_self(ctx, method::PRESENCE_SET, params, t_args("status-set-done", &[("status", status.as_str().into())]))
}

/// A summary the broker accepts (trimmed, at most 280 characters, no control characters).
pub(crate) fn check_summary(raw: &str) -> Result<String, CliError> {
    let summary = raw.trim().to_string();
    if summary.chars().count() > MAX_SUMMARY_CHARS || summary.chars().any(char::is_control) {
        return Err(CliError::invalid("err-bad-summary").arg("max", MAX_SUMMARY_CHARS));
    }
    Ok(summary)
}

/// `claudemesh summary set <text…>`
pub(crate) fn summary_set(ctx: &Ctx, text: &[String]) -> Result<(), CliError> {
    let summary = check_summary(&text.join(" "))?;
    let params = PresenceSetParams { summary: Some(summary), ..Default::default() };
    update_self(ctx, method::PRESENCE_SET, params, t("summary-set-done"))
}

fn group_name(raw: &str) -> Result<String, CliError> {
    let name = raw.trim().trim_start_matches('@').to_string();
    if crate::proto::is_valid_name(&name) && !name.chars().any(char::is_whitespace) {
        Ok(name)
    } else {
        Err(CliError::invalid("err-bad-group-name").arg("name", raw).hint("hint-group-rules"))
    }
}

/// `claudemesh group join <name> [--role R]`
pub(crate) fn group_join(ctx: &Ctx, name: &str, role: Option<&str>) -> Result<(), CliError> {
    let name = group_name(name)?;
    let done = t_args("group-join-done", &[("group", name.as_str().into())]);
    update_self(ctx, method::GROUP_JOIN, GroupParams { name, role: role.map(str::to_string) }, done)
}

/// `claudemesh group leave <name>`
pub(crate) fn group_leave(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    let name = group_name(name)?;
    let done = t_args("group-leave-done", &[("group", name.as_str().into())]);
    update_self(ctx, method::GROUP_LEAVE, GroupParams { name, role: None }, done)
}
