//! Live verbs: `state watch`, `stream create|publish|subscribe|list` and `clock get|set|pause|resume`. Watching
//! and subscribing run through the daemon, which forwards the broker's notifications to this connection, and
//! print one line per change until Ctrl-C or SIGTERM (exit 0).

use serde_json::{Value, json};

use crate::i18n::{t, t_args};
use crate::output::{Role as Paint, icon, table};
use crate::proto::cmethod;

use super::context::{Ctx, now_ms, runtime};
use super::coord_call::{Coord, clip, list, no_params, num, show_value, text};
use super::coord_input::{self as input, ValueMode};
use super::error::{CliError, Exit};
use super::warm;

/// The daemon's note to a state watcher that it missed changes (re-read with `state list`).
const STATE_RESYNC: &str = "state.resync";

/// `state watch [PREFIX]`
pub(crate) fn state_watch(ctx: &Ctx, prefix: Option<&str>) -> Result<(), CliError> {
    let prefix = input::prefix(prefix)?;
    let params = match &prefix {
        Some(p) => json!({ "prefix": p }),
        None => json!({}),
    };
    follow(ctx, cmethod::STATE_WATCH, params, cmethod::STATE_CHANGED, |c| {
        let who = ctx.out.paint(Paint::Dim, &format!("{} · v{}", text(c, "writer_name"), num(c, "version")));
        if c.get("deleted").and_then(Value::as_bool) == Some(true) {
            ctx.out.line(&format!("{} {}  {who}", text(c, "key"), t("state-watch-deleted")));
        } else {
            let value = clip(&show_value(c.get("value").unwrap_or(&Value::Null)), 100);
            ctx.out.line(&format!("{} = {value}  {who}", text(c, "key")));
        }
    })
}

/// `stream subscribe NAME`
pub(crate) fn stream_subscribe(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    let name = input::stream_name(name)?;
    follow(ctx, cmethod::STREAM_SUBSCRIBE, json!({ "name": name }), cmethod::STREAM_DATA, |d| {
        let data = show_value(d.get("data").unwrap_or(&Value::Null));
        ctx.out.line(&format!("{} {data}", ctx.out.paint(Paint::Dim, &format!("{}:", text(d, "from_name")))));
    })
}

/// Starts `method` on a daemon connection, then prints every `note` it forwards (one JSON object per line in
/// JSON mode) until Ctrl-C or SIGTERM.
fn follow(ctx: &Ctx, method: &str, params: Value, note: &str, human: impl Fn(&Value)) -> Result<(), CliError> {
    let coord = Coord::open(ctx)?;
    runtime()?.block_on(async {
        let mut local = coord.daemon().await?;
        let _: Value = warm::call(&mut local, method, &coord.with_mesh(params)).await?;
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(CliError::internal)?;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                next = local.next_notification() => match next {
                    Some((m, params)) if m == note => {
                        if ctx.out.json {
                            ctx.out.json_line(params);
                        } else {
                            human(&params);
                        }
                    }
                    Some((m, params)) if m == STATE_RESYNC && note == cmethod::STATE_CHANGED => {
                        // The daemon could not keep up (or the broker's log moved on): some changes were missed.
                        ctx.out.warn(&t("state-watch-resync"));
                        if ctx.out.json {
                            let mut line = params;
                            if let Some(obj) = line.as_object_mut() {
                                obj.insert("resync".into(), Value::Bool(true));
                            }
                            ctx.out.json_line(line);
                        }
                    }
                    Some(_) => {}
                    None => {
                        return Err(CliError::new(Exit::Network, "daemon", "err-coord-daemon-gone").hint("hint-daemon"));
                    }
                },
                _ = &mut ctrl_c => return Ok(()),
                _ = term.recv() => return Ok(()),
            }
        }
    })
}

/// `stream create NAME`
pub(crate) fn stream_create(ctx: &Ctx, name: &str) -> Result<(), CliError> {
    let name = input::stream_name(name)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.call(cmethod::STREAM_CREATE, json!({ "name": name }))?;
    coord.print(doc, |s| {
        let id = if s.get("created").and_then(Value::as_bool) == Some(false) {
            "stream-create-exists"
        } else {
            "stream-create-done"
        };
        ctx.out.success(&t_args(id, &[("name", name.as_str().into())]));
    });
    Ok(())
}

/// `stream publish NAME DATA` (DATA is JSON when it parses, else a string)
pub(crate) fn stream_publish(ctx: &Ctx, name: &str, data: &str) -> Result<(), CliError> {
    let name = input::stream_name(name)?;
    let data = input::value(data, ValueMode::Auto)?;
    let coord = Coord::open(ctx)?;
    let doc = coord.call(cmethod::STREAM_PUBLISH, json!({ "name": name, "data": data }))?;
    coord.print(doc, |r| {
        ctx.out.success(&t_args(
            "stream-publish-done",
            &[("name", name.as_str().into()), ("seq", num(r, "seq").into()), ("count", num(r, "subscribers").into())],
        ));
    });
    Ok(())
}

/// `stream list`
pub(crate) fn stream_list(ctx: &Ctx) -> Result<(), CliError> {
    let coord = Coord::open(ctx)?;
    let doc = coord.read(cmethod::STREAM_LIST, no_params())?;
    coord.print(doc, |d| {
        let streams = list(d, "streams");
        if streams.is_empty() {
            ctx.out.line(&t("stream-list-empty"));
            return;
        }
        let rows: Vec<Vec<String>> = streams
            .iter()
            .map(|s| {
                vec![
                    text(s, "name").to_string(),
                    t_args("stream-subscribers", &[("count", num(s, "subscribers").into())]),
                    t_args("stream-last-seq", &[("seq", num(s, "last_seq").into())]),
                    text(s, "creator_name").to_string(),
                ]
            })
            .collect();
        for line in table(&rows) {
            ctx.out.line(&line);
        }
    });
    Ok(())
}

/// `clock get|set|pause|resume`: every one prints the clock.
pub(crate) fn clock(ctx: &Ctx, method: &'static str, time: Option<&str>, rate: Option<f64>) -> Result<(), CliError> {
    let mut params = json!({});
    if let Some(time) = time {
        params["time_ms"] = json!(input::clock_time_ms(time, now_ms())?);
    }
    if let Some(rate) = rate {
        params["rate"] = json!(input::rate(rate)?);
    }
    let coord = Coord::open(ctx)?;
    let doc = if method == cmethod::CLOCK_GET { coord.read(method, params)? } else { coord.call(method, params)? };
    coord.print(doc, |c| {
        let paused = c.get("paused").and_then(Value::as_bool).unwrap_or(false);
        let rate = c.get("rate").and_then(Value::as_f64).unwrap_or(1.0);
        let state =
            if paused { t("clock-paused") } else { t_args("clock-running", &[("rate", rate.to_string().into())]) };
        ctx.out.line(&format!(
            "{} {}  {}",
            ctx.out.paint(Paint::Primary, icon::MESH),
            humantime::format_rfc3339_millis(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(num(c, "now_ms"))
            ),
            ctx.out.paint(Paint::Dim, &state)
        ));
    });
    Ok(())
}
