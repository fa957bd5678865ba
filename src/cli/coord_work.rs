//! Work verbs: `task create|list|show|claim|release|complete|cancel` and `schedule msg|list|cancel` (`remind`).

use serde_json::{Value, json};

use crate::i18n::{t, t_args};
use crate::output::{self, Role as Paint, table};
use crate::proto::cmethod;

use super::args::{PriorityArg, ScheduleMsgArgs, TaskCreateArgs, TaskListArgs};
use super::context::{Ctx, now_ms, runtime};
use super::coord_call::{Coord, Failure, clip, list, no_params, num, text};
use super::coord_input as input;
use super::error::{CliError, Exit};
use super::warm;

/// Longest task result.
const MAX_RESULT_BYTES: usize = 4096;
/// Longest task body.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest scheduled message (the body limit of `send`).
const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// `task create TITLE [--body B] [--tag T]... [--dep ID]...`
pub(crate) fn task_create(ctx: &Ctx, a: &TaskCreateArgs) -> Result<(), CliError> {
    let title = input::title(&a.title)?;
    let tags = input::tags(&a.tags)?;
    let deps = a.deps.iter().map(|d| input::id(d)).collect::<Result<Vec<_>, _>>()?;
    if deps.len() > 32 {
        return Err(CliError::invalid("err-task-too-many-deps").arg("max", 32u64));
    }
    if a.body.as_ref().is_some_and(|b| b.len() > MAX_BODY_BYTES) {
        return Err(CliError::invalid("err-coord-bad-length").arg("what", "--body").arg("max", MAX_BODY_BYTES));
    }
    let mut params = json!({ "title": title, "tags": tags, "deps": deps });
    if let Some(body) = &a.body {
        params["body"] = json!(body);
    }
    let coord = Coord::open(ctx)?;
    let Some(doc) = coord.write(cmethod::TASK_CREATE, params)? else { return Ok(()) };
    coord.print(doc, |task| {
        ctx.out
            .success(&t_args("task-create-done", &[("id", text(task, "id").into()), ("title", title.as_str().into())]));
        ctx.out.next_step(&t_args("task-create-next", &[("id", text(task, "id").into())]));
    });
    Ok(())
}

/// `task list [--state S] [--tag T] [--mine] [--limit N]`
pub(crate) fn task_list(ctx: &Ctx, a: &TaskListArgs) -> Result<(), CliError> {
    let mut params = json!({ "limit": a.limit });
    if let Some(s) = a.state {
        params["state"] = json!(s.as_str());
    }
    if let Some(tag) = &a.tag {
        params["tag"] = json!(input::tags(std::slice::from_ref(tag))?.remove(0));
    }
    let coord = Coord::open(ctx)?;
    if a.mine {
        params["claimed_by"] = json!(ctx.identity(&coord.entry)?.session_key());
    }
    let doc = coord.read(cmethod::TASK_LIST, params)?;
    coord.print(doc, |d| {
        let tasks = list(d, "tasks");
        if tasks.is_empty() {
            ctx.out.line(&t("task-list-empty"));
            return;
        }
        let rows: Vec<Vec<String>> = tasks
            .iter()
            .map(|task| {
                let holder = match text(task, "claimed_by_name") {
                    "" => String::new(),
                    name => format!("@{name}"),
                };
                vec![
                    text(task, "id").to_string(),
                    state_cell(ctx, text(task, "state")),
                    clip(text(task, "title"), 60),
                    holder,
                ]
            })
            .collect();
        for line in table(&rows) {
            ctx.out.line(&line);
        }
    });
    Ok(())
}

fn state_cell(ctx: &Ctx, state: &str) -> String {
    let role = match state {
        "open" => Paint::Primary,
        "claimed" => Paint::Warning,
        "done" => Paint::Success,
        _ => Paint::Muted,
    };
    ctx.out.paint(role, state)
}

/// `task show ID`
pub(crate) fn task_show(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let id = input::id(id)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.read(cmethod::TASK_SHOW, json!({ "id": id }))?;
    coord.print(doc, |task| print_task(ctx, task));
    Ok(())
}

fn print_task(ctx: &Ctx, task: &Value) {
    let strings = |k: &str| list(task, k).iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ");
    let now = now_ms();
    let mut rows = vec![
        vec![t("task-id"), text(task, "id").to_string()],
        vec![t("task-title"), text(task, "title").to_string()],
        vec![t("task-state"), state_cell(ctx, text(task, "state"))],
        vec![t("task-creator"), text(task, "creator_name").to_string()],
    ];
    if !text(task, "claimed_by_name").is_empty() {
        rows.push(vec![t("task-claimed-by"), text(task, "claimed_by_name").to_string()]);
    }
    for (label, key) in [("task-tags", "tags"), ("task-deps", "deps"), ("task-blocked-by", "blocked_by")] {
        if !list(task, key).is_empty() {
            rows.push(vec![t(label), strings(key)]);
        }
    }
    if !text(task, "result").is_empty() {
        rows.push(vec![t("task-result"), text(task, "result").to_string()]);
    }
    rows.push(vec![t("task-updated"), output::ago(now, num(task, "updated_at_ms"))]);
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    for line in text(task, "body").lines() {
        ctx.out.line(&format!("  {line}"));
    }
}

/// `task claim ID`: exit 6 naming the holder when someone else has it.
pub(crate) fn task_claim(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let id = input::id(id)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.call(cmethod::TASK_CLAIM, json!({ "id": id })).map_err(|f| claim_conflict(f, &id))?;
    coord.print(doc, |_| ctx.out.success(&t_args("task-claim-done", &[("id", id.as_str().into())])));
    Ok(())
}

/// A lost claim: "Task ID is claimed by NAME." (exit 6); other conflicts (blocked, done) keep the broker's words.
fn claim_conflict(f: Failure, id: &str) -> CliError {
    let Some(rpc) = f.conflict() else { return f.into() };
    let holder = rpc.data.as_ref().and_then(|d| d.get("claimed_by_name")).and_then(Value::as_str);
    match holder {
        Some(name) => CliError::new(Exit::AlreadyExists, "conflict", "err-task-claimed")
            .arg("id", id)
            .arg("name", name)
            .hint("hint-task-claimed"),
        None => CliError::new(Exit::AlreadyExists, "conflict", "err-task-conflict")
            .arg("id", id)
            .arg("detail", rpc.message.as_str())
            .hint("hint-task-show"),
    }
}

/// `task release ID`, `task cancel ID`, `task complete ID [--result TEXT]`
pub(crate) fn task_step(ctx: &Ctx, method: &'static str, id: &str, result: Option<&str>) -> Result<(), CliError> {
    let id = input::id(id)?;
    let mut params = json!({ "id": id });
    if let Some(r) = result {
        if r.len() > MAX_RESULT_BYTES {
            return Err(CliError::invalid("err-coord-bad-length").arg("what", "--result").arg("max", MAX_RESULT_BYTES));
        }
        params["result"] = json!(r);
    }
    let done = match method {
        cmethod::TASK_RELEASE => "task-release-done",
        cmethod::TASK_COMPLETE => "task-complete-done",
        _ => "task-cancel-done",
    };
    let coord = Coord::open(ctx)?;
    let doc = match coord.write(method, params) {
        Ok(Some(doc)) => doc,
        Ok(None) => return Ok(()),
        Err(f) => return Err(claim_conflict(f, &id)),
    };
    coord.print(doc, |_| ctx.out.success(&t_args(done, &[("id", id.as_str().into())])));
    Ok(())
}

/// `schedule msg [TO] MESSAGE (--in D | --at TIME | --cron EXPR) [--priority P]` (also `remind`). The daemon
/// seals the message for its recipients, so this needs the daemon.
pub(crate) fn schedule_msg(ctx: &Ctx, a: &ScheduleMsgArgs) -> Result<(), CliError> {
    let (to, message) = match a.words.as_slice() {
        [message] => (None, message.clone()),
        [to, message] => (Some(to.trim().to_string()), message.clone()),
        _ => return Err(CliError::invalid("err-schedule-usage")),
    };
    if message.trim().is_empty() || message.len() > MAX_MESSAGE_BYTES {
        return Err(CliError::invalid("err-coord-bad-length").arg("what", "MESSAGE").arg("max", MAX_MESSAGE_BYTES));
    }
    let offset = input::local_utc_offset_min();
    let now = now_ms();
    let priority = match a.priority {
        PriorityArg::Now => "now",
        PriorityArg::Next => "next",
        PriorityArg::Low => "low",
    };
    let mut params = json!({ "message": message, "priority": priority, "utc_offset_min": offset });
    match (a.in_, a.at.as_deref(), a.cron.as_deref()) {
        (Some(d), _, _) => params["in_ms"] = json!(input::millis(d)),
        (_, Some(at), _) => params["at_ms"] = json!(input::at_ms(at, now, offset)?),
        (_, _, Some(cron)) => params["cron"] = json!(input::cron(cron)?),
        _ => return Err(CliError::invalid("err-schedule-usage")),
    }
    // `self` is this session's own peer (the daemon seals the message to it).
    params["to"] = json!(to.unwrap_or_else(|| "self".to_string()));
    let coord = Coord::open(ctx)?;
    let doc: Value = runtime()?.block_on(async {
        let mut local = coord.daemon().await?;
        warm::call(&mut local, cmethod::SCHEDULE_CREATE, &coord.with_mesh(params)).await
    })?;
    coord.print(doc, |s| {
        let due = num(s, "next_due_ms").max(num(s, "at_ms"));
        let when = if text(s, "kind") == "cron" {
            t_args("schedule-cron", &[("cron", text(s, "cron").into())])
        } else {
            t_args("schedule-in", &[("span", output::short_duration(due.saturating_sub(now) / 1000).into())])
        };
        ctx.out.success(&t_args(
            "schedule-done",
            &[("id", text(s, "id").into()), ("to", recipient(text(s, "to")).into()), ("when", when.into())],
        ));
    });
    Ok(())
}

/// A schedule's recipient for people: `self` is "yourself".
fn recipient(to: &str) -> String {
    if to == "self" { t("schedule-yourself") } else { to.to_string() }
}

/// `schedule list`
pub(crate) fn schedule_list(ctx: &Ctx) -> Result<(), CliError> {
    let coord = Coord::open(ctx)?;
    let doc = coord.read(cmethod::SCHEDULE_LIST, no_params())?;
    coord.print(doc, |d| {
        let schedules = list(d, "schedules");
        if schedules.is_empty() {
            ctx.out.line(&t("schedule-list-empty"));
            return;
        }
        let now = now_ms();
        let rows: Vec<Vec<String>> = schedules
            .iter()
            .map(|s| {
                let due = num(s, "next_due_ms");
                let next = if s.get("active").and_then(Value::as_bool) == Some(false) {
                    t("schedule-ended")
                } else if due > now {
                    t_args("schedule-in", &[("span", output::short_duration((due - now) / 1000).into())])
                } else {
                    t("schedule-fired")
                };
                vec![text(s, "id").to_string(), recipient(text(s, "to")), next, text(s, "cron").to_string()]
            })
            .collect();
        for line in table(&rows) {
            ctx.out.line(&line);
        }
    });
    Ok(())
}

/// `schedule cancel ID`
pub(crate) fn schedule_cancel(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let id = input::id(id)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.call(cmethod::SCHEDULE_CANCEL, json!({ "id": id }))?;
    coord.print(doc, |d| {
        let key = if d.get("cancelled").and_then(Value::as_bool) == Some(false) {
            "schedule-cancel-ended"
        } else {
            "schedule-cancel-done"
        };
        ctx.out.success(&t_args(key, &[("id", id.as_str().into())]));
    });
    Ok(())
}
