//! Claude Code verbs: `install`, `uninstall`, `launch` (also bare `claudemesh` when a mesh is selected) and the
//! hidden `hook` Claude Code runs. The file edits and the exec live in `crate::claude`; this is the CLI side.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::claude::{
    self, Change, ClaudeBinary, ClaudeError, ClaudePaths, HookEvent, HookInput, InstallReport, UninstallReport,
};
use crate::client::local::{LocalClient, LocalError, LocalHello, client_name, ensure_daemon};
use crate::config::{Config, Env, Home, sanitize_session_id};
use crate::i18n::{t, t_args};
use crate::proto::is_valid_name;

use super::context::{Ctx, now_ms, runtime};
use super::error::CliError;

/// A hook gives up after this long: Claude Code waits for it before the turn goes on.
const HOOK_BUDGET: Duration = Duration::from_secs(2);
/// The most of a hook's stdin read (Claude Code sends well under a kilobyte).
const HOOK_STDIN_MAX: u64 = 1 << 20;

fn claude_paths(env: &Env) -> Result<ClaudePaths, CliError> {
    ClaudePaths::resolve(env.home.as_deref(), env.claude_config_dir.as_deref()).ok_or(ClaudeError::NoHome.into())
}

/// `$CLAUDEMESH_HOME/install.json`: what install added, for uninstall.
fn record_path(ctx: &Ctx) -> PathBuf {
    ctx.home.root().join("install.json")
}

/// This binary's absolute path, symlinks resolved: what Claude Code will run.
fn current_binary() -> Result<PathBuf, CliError> {
    let exe = std::env::current_exe().map_err(CliError::internal)?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

fn change_json(change: &Change) -> (&'static str, Value) {
    match change {
        Change::Added => ("added", Value::Null),
        Change::Updated { previous } if previous.is_empty() => ("updated", Value::Null),
        Change::Updated { previous } => ("updated", json!(previous)),
        Change::Unchanged => ("unchanged", Value::Null),
    }
}

fn install_json(r: &InstallReport) -> Value {
    let (mcp_action, mcp_previous) = change_json(&r.mcp);
    let (skill_action, _) = change_json(&r.skill);
    let handlers: Vec<Value> = r
        .hooks
        .iter()
        .map(|(spec, change)| {
            let (action, previous) = change_json(change);
            json!({ "event": spec.event, "args": spec.args(), "action": action, "previous_command": previous })
        })
        .collect();
    json!({
        "changed": r.changed(),
        "binary": r.binary,
        "mcp": { "file": r.mcp_file, "name": claude::SERVER_NAME, "action": mcp_action, "previous_command": mcp_previous },
        "hooks": { "file": r.hooks_file, "handlers": handlers },
        "skill": { "dir": r.skill_dir, "files": r.skill_files, "action": skill_action },
        "backups": r.backups,
        "record": r.record,
    })
}

fn uninstall_json(r: &UninstallReport) -> Value {
    let action = |removed: bool| if removed { "removed" } else { "absent" };
    let handlers: Vec<Value> = r
        .hooks
        .iter()
        .map(|(spec, removed)| json!({ "event": spec.event, "args": spec.args(), "action": action(*removed) }))
        .collect();
    json!({
        "changed": r.changed(),
        "mcp": { "file": r.mcp_file, "name": claude::SERVER_NAME, "action": action(r.mcp) },
        "hooks": { "file": r.hooks_file, "handlers": handlers },
        "skill": { "dir": r.skill_dir, "files": r.skill_files, "action": action(r.skill) },
        "backups": r.backups,
    })
}

fn print_backups(ctx: &Ctx, backups: &[PathBuf]) {
    if !backups.is_empty() {
        let list: Vec<String> = backups.iter().map(|b| b.display().to_string()).collect();
        ctx.out.line(&t_args("claude-backups", &[("paths", list.join(", ").into())]));
    }
}

/// `claudemesh install`
pub(crate) fn install(ctx: &Ctx) -> Result<(), CliError> {
    let paths = claude_paths(&ctx.env)?;
    let binary = current_binary()?;
    let record = record_path(ctx);
    ctx.home.ensure_root()?;
    let report = claude::install(&paths, &binary, &record, now_ms())?;
    if ctx.out.json {
        ctx.out.json(install_json(&report));
        return Ok(());
    }
    if !report.changed() {
        ctx.out.success(&t("install-already"));
        return Ok(());
    }
    ctx.out.success(&t("install-done"));
    ctx.out.line(&t_args(
        "install-where",
        &[
            ("mcp", report.mcp_file.display().to_string().into()),
            ("settings", report.hooks_file.display().to_string().into()),
            ("skill", report.skill_dir.display().to_string().into()),
        ],
    ));
    let moved = |c: &Change| match c {
        Change::Updated { previous } if !previous.is_empty() => Some(previous.clone()),
        _ => None,
    };
    let previous = moved(&report.mcp).or_else(|| report.hooks.iter().find_map(|(_, c)| moved(c)));
    if let Some(previous) = previous {
        ctx.out.line(&t_args(
            "install-moved",
            &[("previous", previous.into()), ("binary", report.binary.as_str().into())],
        ));
    }
    print_backups(ctx, &report.backups);
    ctx.out.next_step(&t("install-next"));
    Ok(())
}

/// `claudemesh uninstall`
pub(crate) fn uninstall(ctx: &Ctx) -> Result<(), CliError> {
    let paths = claude_paths(&ctx.env)?;
    let record = record_path(ctx);
    let report = claude::uninstall(&paths, &record, now_ms())?;
    if ctx.out.json {
        ctx.out.json(uninstall_json(&report));
        return Ok(());
    }
    if !report.changed() {
        ctx.out.success(&t("uninstall-none"));
        return Ok(());
    }
    ctx.out.success(&t("uninstall-done"));
    print_backups(ctx, &report.backups);
    ctx.out.next_step(&t("uninstall-next"));
    Ok(())
}

/// `claudemesh launch [--name NAME] [-- CLAUDE_ARGS…]`: returns only on failure (success replaces the process).
pub(crate) fn launch(ctx: &Ctx, name: Option<&str>, claude_args: &[String]) -> Result<(), CliError> {
    let claude = ClaudeBinary::find(&ctx.env)?;
    let config = ctx.load_config()?;
    let mesh = ctx.select_mesh(&config, None)?;
    if let Some(name) = name
        && !is_valid_name(name)
    {
        return Err(CliError::invalid("err-bad-display-name").arg("name", name).hint("hint-name-rules"));
    }
    if let Ok(paths) = claude_paths(&ctx.env)
        && !claude::is_installed(&paths.global_config)
    {
        ctx.out.warn(&t("warn-claude-not-installed"));
    }
    if !ctx.env.no_daemon
        && let Err(e) = runtime()?.block_on(ensure_daemon(ctx.home.root()))
    {
        ctx.out.warn(&t_args("warn-daemon-not-started", &[("detail", e.to_string().into())]));
    }
    let plan = claude.plan(&ctx.env, &mesh.slug, name, claude_args);
    Err(plan.exec().into())
}

/// `claudemesh hook <event>`: never breaks Claude Code. Always exits 0 within about two seconds; problems go to
/// stderr only; stdout carries the hook's answer (SessionStart: the unread count as additional context).
pub(crate) fn hook(event: HookEvent, env: &Env) -> ExitCode {
    let (tx, rx) = std::sync::mpsc::channel();
    let env = env.clone();
    // The work runs on its own thread so a stuck stdin or daemon cannot hold the hook past its budget; returning
    // from main ends the process and the thread with it.
    std::thread::spawn(move || {
        let _ = tx.send(run_hook(event, &env));
    });
    // Write errors are ignored (println! would panic on a closed pipe and exit 101).
    match rx.recv_timeout(HOOK_BUDGET) {
        Ok(Ok(Some(answer))) => {
            let _ = writeln!(std::io::stdout(), "{answer}");
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            let _ = writeln!(std::io::stderr(), "claudemesh hook: {e}");
        }
        Err(_) => {
            let _ =
                writeln!(std::io::stderr(), "claudemesh hook: no answer within {} s; skipped", HOOK_BUDGET.as_secs());
        }
    }
    ExitCode::SUCCESS
}

/// Reads the hook input and tells the daemon. `Ok(None)`: nothing to print (also when no mesh is joined or the
/// daemon is not running: hooks never start it, the push-pipe and `launch` do).
fn run_hook(event: HookEvent, env: &Env) -> Result<Option<Value>, LocalError> {
    let mut input = Vec::new();
    std::io::stdin().lock().take(HOOK_STDIN_MAX).read_to_end(&mut input)?;
    let input = HookInput::parse(&input);
    let Some(home) = env.home_dir() else { return Ok(None) };
    let Some(session_id) = input.session_id.as_deref() else { return Ok(None) };
    if Config::load(&Home::new(home.clone())).map_or(true, |c| c.meshes.is_empty()) {
        return Ok(None);
    }
    let hello = LocalHello {
        session: sanitize_session_id(Some(session_id)),
        name: env.session_name.clone(),
        client: client_name("hook"),
    };
    let mut params = Map::new();
    if let Some(mesh) = &env.mesh {
        params.insert("mesh".into(), json!(mesh));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let mut client = match LocalClient::connect(&home, hello, false).await {
            Ok(client) => client,
            Err(LocalError::NotRunning) => return Ok(None),
            Err(e) => return Err(e),
        };
        match event.turn_event() {
            Some(turn) => {
                params.insert("event".into(), json!(turn));
                let _: Value = client.call("session.turn", &params).await?;
                Ok(None)
            }
            None => {
                params.insert("filter".into(), json!("unread"));
                params.insert("mark_read".into(), json!(false));
                let listed: Value = client.call("inbox.list", &params).await?;
                let unread = listed.get("messages").and_then(Value::as_array).map_or(0, Vec::len);
                Ok(claude::session_start_output(unread))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_json_names_every_action() {
        let report = InstallReport {
            binary: "/b/claudemesh".into(),
            mcp_file: "/h/.claude.json".into(),
            mcp: Change::Updated { previous: "/old/claudemesh".into() },
            hooks_file: "/h/.claude/settings.json".into(),
            hooks: claude::HOOKS.iter().map(|s| (*s, Change::Added)).collect(),
            skill_dir: "/h/.claude/skills/claudemesh".into(),
            skill_files: vec!["SKILL.md".into()],
            skill: Change::Unchanged,
            backups: vec!["/h/.claude.json.claudemesh-backup-T".into()],
            record: "/c/install.json".into(),
        };
        let doc = install_json(&report);
        assert_eq!(doc["changed"], true);
        assert_eq!(doc["mcp"]["action"], "updated");
        assert_eq!(doc["mcp"]["previous_command"], "/old/claudemesh");
        assert_eq!(
            doc["hooks"]["handlers"][0],
            json!({"event":"UserPromptSubmit","args":["hook","prompt"],"action":"added","previous_command":null})
        );
        assert_eq!(doc["skill"]["action"], "unchanged");
    }
}
