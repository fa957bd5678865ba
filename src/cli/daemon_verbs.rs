//! `claudemesh daemon status|stop`: asks the running daemon (never starts one).

use serde_json::{Value, json};

use crate::i18n::{t, t_args};
use crate::output::{Role as Paint, icon, table};

use super::context::{Ctx, runtime};
use super::error::CliError;
use super::warm;

/// `claudemesh daemon status`
pub(crate) fn status(ctx: &Ctx) -> Result<(), CliError> {
    let rt = runtime()?;
    let status: Option<Value> = rt.block_on(async {
        match warm::running(ctx).await {
            Some(mut client) => warm::call(&mut client, "daemon.status", &json!({})).await.map(Some),
            None => Ok(None),
        }
    })?;
    let Some(status) = status else {
        if ctx.out.json {
            ctx.out.json(json!({ "running": false }));
        } else {
            ctx.out.line(&format!("{} {}", ctx.out.paint(Paint::Muted, icon::OFF), t("daemon-not-running")));
            ctx.out.next_step(&t("daemon-starts-on-demand"));
        }
        return Ok(());
    };
    if ctx.out.json {
        let mut doc = status;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("running".into(), Value::Bool(true));
        }
        ctx.out.json(doc);
        return Ok(());
    }
    let text = |k: &str| status.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
    let num = |k: &str| status.get(k).and_then(Value::as_u64).unwrap_or(0);
    ctx.out.line(&format!(
        "{} {}",
        ctx.out.paint(Paint::Success, icon::ON),
        t_args(
            "daemon-running",
            &[
                ("version", text("version").into()),
                ("pid", num("pid").into()),
                ("outbox", num("outbox_pending").into())
            ],
        )
    ));
    if let Some(url) = status.get("embedded_broker").and_then(Value::as_str) {
        ctx.out.line(&format!("  {}", t_args("daemon-embedded", &[("url", url.into())])));
    }
    let links = status.get("links").and_then(Value::as_array).cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = links
        .iter()
        .map(|l| {
            let connected = l.get("connected").and_then(Value::as_bool).unwrap_or(false);
            let mark = if connected {
                ctx.out.paint(Paint::Success, icon::ON)
            } else {
                ctx.out.paint(Paint::Error, icon::OFF)
            };
            let get = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            vec![format!("  {mark}"), get("mesh"), get("session"), get("broker"), get("last_error")]
        })
        .collect();
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// `claudemesh daemon stop`
pub(crate) fn stop(ctx: &Ctx) -> Result<(), CliError> {
    let rt = runtime()?;
    let stopped = rt.block_on(async {
        match warm::running(ctx).await {
            Some(mut client) => {
                let pid = client.daemon().pid;
                let _: Value = warm::call(&mut client, "daemon.stop", &json!({})).await?;
                // The daemon closes every connection as it exits.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    while client.next_notification().await.is_some() {}
                })
                .await;
                Ok::<_, CliError>(Some(pid))
            }
            None => Ok(None),
        }
    })?;
    if ctx.out.json {
        ctx.out.json(json!({ "stopped": stopped.is_some(), "pid": stopped }));
    } else if let Some(pid) = stopped {
        ctx.out.success(&t_args("daemon-stopped", &[("pid", pid.into())]));
    } else {
        ctx.out.line(&t("daemon-not-running"));
    }
    Ok(())
}
