//! The push-pipe (`claudemesh mcp`): a stdio MCP server with zero tools that turns deliveries for this Claude
//! Code session into `notifications/claude/channel` events (or Claude Code inbox-socket lines).
//!
//! stdout carries JSON-RPC only (one object per line, written by one task); logs go to stderr. The handshake is
//! served whether or not the daemon can be reached; deliveries start after `notifications/initialized`.

mod deliver;
mod feed;
mod place;
mod push;
mod rpc;
mod stdio;

/// The push-pipe's pure line handler, for the frame fuzz target.
pub(crate) use rpc::handle_line;

use std::process::ExitCode;
use std::time::Duration;

use tokio::io::BufReader;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, watch};

use crate::client::local::{LocalHello, client_name};
use crate::config::{Env, sanitize_session_id};
use deliver::Sink;
use feed::FeedConfig;
use push::{PathInputs, PushPath};
use stdio::{Line, Outgoing};

/// `claudemesh mcp [--mesh SLUG]`
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct McpArgs {}

/// How long shutdown waits for the feed and for stdout to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// What deliveries this process makes, if any.
struct Plan {
    config: FeedConfig,
    path: PushPath,
}

pub(crate) fn run(_args: McpArgs, env: &Env, mesh: Option<String>) -> ExitCode {
    let plan = plan(env, mesh);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(plan));
    // A read of stdin may still be parked on a blocking thread; do not wait for it.
    runtime.shutdown_background();
    code
}

/// Decides, once, whether and how to deliver, and says so on stderr.
fn plan(env: &Env, mesh: Option<String>) -> Option<Plan> {
    let Some(session) = env.session_id.as_deref() else {
        tracing::warn!("CLAUDE_CODE_SESSION_ID is not set: serving the MCP handshake only, no deliveries");
        return None;
    };
    let parent = parent_args();
    let inputs = PathInputs {
        push_mode: env.push_mode.as_deref(),
        channels: env.channels.as_deref(),
        socket: env.messaging_socket.as_deref(),
        token: env.messaging_token.as_deref(),
        parent_args: parent.as_deref(),
    };
    let (path, reason) = push::decide_path(&inputs);
    if path == PushPath::Off {
        tracing::warn!(reason, "no push path: messages wait in the inbox (claudemesh inbox)");
        return None;
    }
    tracing::info!(path = path.via(), reason, "push path");
    let Some(home) = env.home_dir() else {
        tracing::warn!("no home directory (set CLAUDEMESH_HOME or HOME): no deliveries");
        return None;
    };
    let hello = LocalHello {
        session: sanitize_session_id(Some(session)),
        name: env.session_name.clone(),
        client: client_name("mcp"),
    };
    // Claude Code starts this server in the session's working directory.
    let place = std::env::current_dir().ok().map(|dir| place::place(&dir, env.home.as_deref()));
    Some(Plan { config: FeedConfig { home, hello, mesh: mesh.or_else(|| env.mesh.clone()), place }, path })
}

/// The parent process's command line (Claude Code's), from `/proc` where there is one.
fn parent_args() -> Option<Vec<String>> {
    let ppid = std::os::unix::process::parent_id();
    let raw = std::fs::read(format!("/proc/{ppid}/cmdline")).ok()?;
    let args = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned());
    Some(args.collect())
}

/// Serves stdin until it ends or a signal arrives; always a clean exit then.
async fn serve(plan: Option<Plan>) -> ExitCode {
    let (out, out_rx) = mpsc::channel::<Outgoing>(64);
    let writer = tokio::spawn(stdio::write_lines(tokio::io::stdout(), out_rx));
    let (stop, stopped) = watch::channel(false);
    let mut plan = plan;
    let mut feed = None;
    let mut term = listen(SignalKind::terminate());
    let mut int = listen(SignalKind::interrupt());
    let mut input = BufReader::new(tokio::io::stdin());
    let mut code = ExitCode::SUCCESS;
    loop {
        let line = tokio::select! {
            line = stdio::read_line(&mut input, stdio::MAX_LINE_BYTES) => line,
            () = arrives(&mut term) => { tracing::info!("SIGTERM: exiting"); break; }
            () = arrives(&mut int) => { tracing::info!("SIGINT: exiting"); break; }
        };
        let step = match line {
            Ok(Some(Line::Full(bytes))) => rpc::handle_line(&bytes),
            Ok(Some(Line::TooLong)) => rpc::Step { reply: Some(rpc::too_long()), initialized: false },
            Ok(None) => break,
            Err(e) => {
                tracing::error!(error = %e, "cannot read stdin");
                code = ExitCode::FAILURE;
                break;
            }
        };
        if let Some(reply) = step.reply
            && out.send(Outgoing::new(reply)).await.is_err()
        {
            break;
        }
        if step.initialized
            && let Some(Plan { config, path }) = plan.take()
        {
            let sink = match path {
                PushPath::InboxSocket(socket) => Sink::InboxSocket(socket),
                PushPath::Channel | PushPath::Off => Sink::Channel(out.clone()),
            };
            feed = Some(tokio::spawn(feed::run(config, sink, stopped.clone())));
        }
    }
    let _ = stop.send(true);
    if let Some(mut task) = feed
        && tokio::time::timeout(DRAIN_TIMEOUT, &mut task).await.is_err()
    {
        task.abort();
    }
    drop(out);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, writer).await;
    code
}

/// A signal stream, or none when it cannot be installed (then that signal just keeps its default action).
fn listen(kind: SignalKind) -> Option<Signal> {
    match signal(kind) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for a signal");
            None
        }
    }
}

/// Resolves when the signal arrives; never without a stream.
async fn arrives(signal: &mut Option<Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}
