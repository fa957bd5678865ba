//! Shared data verbs: `state get|set|list|delete`, `memory remember|recall|forget`, `context share|get|list`.

use serde_json::{Value, json};

use crate::i18n::{t, t_args};
use crate::output::{self, Role as Paint, icon, table};
use crate::proto::cmethod;

use super::args::{ContextShareArgs, RecallArgs, RememberArgs, StateSetArgs};
use super::context::{Ctx, now_ms};
use super::coord_call::{Coord, clip, list, num, show_value, text};
use super::coord_input::{self as input, ValueMode};
use super::error::{CliError, Exit};

/// `state get KEY`
pub(crate) fn state_get(ctx: &Ctx, key: &str) -> Result<(), CliError> {
    let key = input::key(key)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.read(cmethod::STATE_GET, json!({ "key": key }))?;
    coord.print(doc, |e| {
        ctx.out.line(&show_value(e.get("value").unwrap_or(&Value::Null)));
        ctx.out.line(&ctx.out.paint(Paint::Dim, &entry_meta(e)));
    });
    Ok(())
}

/// "version 3 · alice · 2m ago"
fn entry_meta(e: &Value) -> String {
    t_args(
        "state-meta",
        &[
            ("version", num(e, "version").into()),
            ("name", text(e, "writer_name").into()),
            ("ago", output::ago(now_ms(), num(e, "updated_at_ms")).into()),
        ],
    )
}

/// `state set KEY VALUE [--if-version N] [--json-value|--string]`
pub(crate) fn state_set(ctx: &Ctx, a: &StateSetArgs) -> Result<(), CliError> {
    let key = input::key(&a.key)?;
    let mode = match (a.json_value, a.string) {
        (true, _) => ValueMode::Json,
        (_, true) => ValueMode::Text,
        _ => ValueMode::Auto,
    };
    let value = input::value(&a.value.join(" "), mode)?;
    let mut params = json!({ "key": key, "value": value });
    if let Some(v) = a.if_version {
        params["if_version"] = json!(v);
    }
    let coord = Coord::open(ctx)?;
    let doc = match coord.write(cmethod::STATE_SET, params) {
        Ok(Some(doc)) => doc,
        Ok(None) => return Ok(()),
        Err(f) => return Err(version_conflict(f, &key)),
    };
    coord.print(doc, |d| {
        let entry = d.get("entry").unwrap_or(&Value::Null);
        let version = num(entry, "version");
        if d.get("applied").and_then(Value::as_bool) == Some(false) {
            let by = text(entry, "writer_name");
            ctx.out.warn(&t_args(
                "state-not-applied",
                &[("key", key.as_str().into()), ("name", by.into()), ("version", version.into())],
            ));
        } else {
            ctx.out.success(&t_args("state-set-done", &[("key", key.as_str().into()), ("version", version.into())]));
        }
    });
    Ok(())
}

/// A CAS that lost: exit 6 naming the version the key has now.
fn version_conflict(f: super::coord_call::Failure, key: &str) -> CliError {
    match f.conflict() {
        Some(rpc) => {
            let current = rpc.data.as_ref().and_then(|d| d.get("version")).and_then(Value::as_u64).unwrap_or(0);
            CliError::new(Exit::AlreadyExists, "conflict", "err-state-version")
                .arg("key", key)
                .arg("version", current)
                .hint("hint-state-version")
        }
        None => f.into(),
    }
}

/// `state list [PREFIX] [--limit N]`
pub(crate) fn state_list(ctx: &Ctx, prefix: Option<&str>, limit: u32) -> Result<(), CliError> {
    let prefix = input::prefix(prefix)?;
    let coord = Coord::open(ctx)?;
    let mut params = json!({ "limit": limit });
    if let Some(p) = prefix {
        params["prefix"] = json!(p);
    }
    let doc = coord.read(cmethod::STATE_LIST, params)?;
    coord.print(doc, |d| {
        let entries = list(d, "entries");
        if entries.is_empty() {
            ctx.out.line(&t("state-list-empty"));
            return;
        }
        let now = now_ms();
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                vec![
                    text(e, "key").to_string(),
                    clip(&show_value(e.get("value").unwrap_or(&Value::Null)), 60),
                    ctx.out.paint(Paint::Dim, &format!("v{}", num(e, "version"))),
                    text(e, "writer_name").to_string(),
                    output::ago(now, num(e, "updated_at_ms")),
                ]
            })
            .collect();
        for line in table(&rows) {
            ctx.out.line(&line);
        }
    });
    Ok(())
}

/// `state delete KEY [--if-version N]`
pub(crate) fn state_delete(ctx: &Ctx, key: &str, if_version: Option<u64>) -> Result<(), CliError> {
    let key = input::key(key)?;
    let mut params = json!({ "key": key });
    if let Some(v) = if_version {
        params["if_version"] = json!(v);
    }
    let coord = Coord::open(ctx)?;
    let doc = match coord.write(cmethod::STATE_DELETE, params) {
        Ok(Some(doc)) => doc,
        Ok(None) => return Ok(()),
        Err(f) => return Err(version_conflict(f, &key)),
    };
    coord.print(doc, |d| {
        if d.get("deleted").and_then(Value::as_bool) == Some(false) {
            ctx.out.line(&t_args("state-delete-absent", &[("key", key.as_str().into())]));
        } else {
            ctx.out.success(&t_args("state-delete-done", &[("key", key.as_str().into())]));
        }
    });
    Ok(())
}

/// `memory remember TEXT [--tag T]...`
pub(crate) fn remember(ctx: &Ctx, a: &RememberArgs) -> Result<(), CliError> {
    let text_ = input::note(&a.text)?;
    let tags = input::tags(&a.tags)?;
    let coord = Coord::open(ctx)?;
    let Some(doc) = coord.write(cmethod::MEMORY_REMEMBER, json!({ "text": text_, "tags": tags }))? else {
        return Ok(());
    };
    coord.print(doc, |n| ctx.out.success(&t_args("memory-remember-done", &[("id", text(n, "id").into())])));
    Ok(())
}

/// `memory recall [QUERY] [--tag T]... [--author A] [--since DUR|TIME] [--limit N]`
pub(crate) fn recall(ctx: &Ctx, a: &RecallArgs) -> Result<(), CliError> {
    let query = a.query.join(" ").trim().to_string();
    if query.len() > input::MAX_NOTE_BYTES {
        return Err(CliError::invalid("err-coord-bad-length").arg("what", "QUERY").arg("max", input::MAX_NOTE_BYTES));
    }
    let tags = input::tags(&a.tags)?;
    let since = a.since.as_deref().map(|s| input::since_ms(s, now_ms())).transpose()?;
    let mut params = json!({ "limit": a.limit });
    if !query.is_empty() {
        params["query"] = json!(query);
    }
    if !tags.is_empty() {
        params["tags"] = json!(tags);
    }
    if let Some(author) = &a.author {
        params["author"] = json!(author.trim());
    }
    if let Some(since) = since {
        params["since_ms"] = json!(since);
    }
    let coord = Coord::open(ctx)?;
    let doc = coord.read(cmethod::MEMORY_RECALL, params)?;
    coord.print(doc, |d| {
        let notes = list(d, "memories");
        if notes.is_empty() {
            ctx.out.line(&t("memory-recall-empty"));
            return;
        }
        let now = now_ms();
        for n in notes {
            let tags: Vec<String> = list(n, "tags").iter().filter_map(Value::as_str).map(|t| format!("#{t}")).collect();
            let meta = format!(
                "{} · {} {}",
                text(n, "author_name"),
                output::ago(now, num(n, "created_at_ms")),
                tags.join(" ")
            );
            ctx.out.line(&format!(
                "{} {}  {}",
                ctx.out.paint(Paint::Primary, icon::BULLET),
                text(n, "id"),
                ctx.out.paint(Paint::Dim, meta.trim_end())
            ));
            for line in text(n, "text").lines() {
                ctx.out.line(&format!("  {line}"));
            }
        }
    });
    Ok(())
}

/// `memory forget ID`
pub(crate) fn forget(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let id = input::id(id)?;
    let coord = Coord::open(ctx)?;
    let Some(doc) = coord.write(cmethod::MEMORY_FORGET, json!({ "id": id }))? else { return Ok(()) };
    coord.print(doc, |_| ctx.out.success(&t_args("memory-forget-done", &[("id", id.as_str().into())])));
    Ok(())
}

/// `context share SUMMARY [--file F]... [--branch B] [--notes N]`
pub(crate) fn context_share(ctx: &Ctx, a: &ContextShareArgs) -> Result<(), CliError> {
    let summary = input::summary(&a.summary)?;
    if a.files.len() > 100 || a.files.iter().any(|f| f.is_empty() || f.len() > 512) {
        return Err(CliError::invalid("err-context-files"));
    }
    let branch = a.branch.clone().or_else(input::git_branch);
    if branch.as_ref().is_some_and(|b| b.len() > 256) || a.notes.as_ref().is_some_and(|n| n.len() > 4096) {
        return Err(CliError::invalid("err-context-too-long"));
    }
    let mut params = json!({ "summary": summary, "files": a.files });
    if let Some(branch) = branch {
        params["branch"] = json!(branch);
    }
    if let Some(notes) = &a.notes {
        params["notes"] = json!(notes);
    }
    let coord = Coord::open(ctx)?;
    let Some(doc) = coord.write(cmethod::CONTEXT_SHARE, params)? else { return Ok(()) };
    coord.print(doc, |_| ctx.out.success(&t("context-share-done")));
    Ok(())
}

/// `context get PEER`
pub(crate) fn context_get(ctx: &Ctx, peer: &str) -> Result<(), CliError> {
    let coord = Coord::open(ctx)?;
    let doc = coord.read(cmethod::CONTEXT_GET, json!({ "peer": peer.trim() }))?;
    coord.print(doc, |c| {
        let files: Vec<&str> = list(c, "files").iter().filter_map(Value::as_str).collect();
        let rows = vec![
            vec![t("context-peer"), text(c, "peer_name").to_string()],
            vec![t("context-summary"), text(c, "summary").to_string()],
            vec![t("context-branch"), text(c, "branch").to_string()],
            vec![t("context-files"), files.join(" ")],
            vec![t("context-notes"), text(c, "notes").to_string()],
            vec![t("context-updated"), output::ago(now_ms(), num(c, "updated_at_ms"))],
        ];
        for line in table(&rows) {
            ctx.out.line(&line);
        }
    });
    Ok(())
}

/// `context list [QUERY]`
pub(crate) fn context_list(ctx: &Ctx, query: &[String]) -> Result<(), CliError> {
    let query = query.join(" ").trim().to_string();
    let params = if query.is_empty() { json!({}) } else { json!({ "query": query }) };
    let coord = Coord::open(ctx)?;
    let doc = coord.read(cmethod::CONTEXT_LIST, params)?;
    coord.print(doc, |d| {
        let contexts = list(d, "contexts");
        if contexts.is_empty() {
            ctx.out.line(&t("context-list-empty"));
            return;
        }
        let now = now_ms();
        let rows: Vec<Vec<String>> = contexts
            .iter()
            .map(|c| {
                vec![
                    text(c, "peer_name").to_string(),
                    text(c, "branch").to_string(),
                    output::ago(now, num(c, "updated_at_ms")),
                    clip(text(c, "summary"), 70),
                ]
            })
            .collect();
        for line in table(&rows) {
            ctx.out.line(&line);
        }
    });
    Ok(())
}
