//! The warm path: a verb talks to the daemon (started on demand) and falls back to a direct broker connection
//! when the daemon cannot be reached (or `CLAUDEMESH_NO_DAEMON` is set).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::local::{LocalClient, LocalError, LocalHello, client_name, error_from_rpc};

use super::context::Ctx;
use super::error::CliError;

/// A daemon connection for this verb, or `None` to go direct.
pub(crate) async fn connect(ctx: &Ctx) -> Option<LocalClient> {
    if ctx.env.no_daemon {
        return None;
    }
    match LocalClient::connect(ctx.home.root(), hello(ctx), true).await {
        Ok(client) => Some(client),
        Err(e) => {
            tracing::debug!(error = %e, "no daemon; going direct to the broker");
            None
        }
    }
}

/// A running daemon, without starting one (after `new`, `join` … to tell it to reload).
pub(crate) async fn running(ctx: &Ctx) -> Option<LocalClient> {
    if ctx.env.no_daemon {
        return None;
    }
    LocalClient::connect(ctx.home.root(), hello(ctx), false).await.ok()
}

fn hello(ctx: &Ctx) -> LocalHello {
    LocalHello { session: ctx.session_id(), name: ctx.env.session_name.clone(), client: client_name("cli") }
}

/// One call, its failure mapped exactly as the same failure on a direct connection.
pub(crate) async fn call<P: Serialize, R: DeserializeOwned>(
    client: &mut LocalClient,
    method: &str,
    params: &P,
) -> Result<R, CliError> {
    client.call(method, params).await.map_err(CliError::from)
}

impl From<LocalError> for CliError {
    fn from(e: LocalError) -> Self {
        match e {
            LocalError::Rpc(rpc) => CliError::from(error_from_rpc(rpc)),
            other => CliError::new(super::error::Exit::Network, "daemon", "err-daemon")
                .arg("detail", other.to_string())
                .hint("hint-daemon"),
        }
    }
}

/// Tells the daemon (starting it) that `config.toml` changed: a new or joined mesh goes live at once, a left one
/// is dropped.
pub(crate) fn reload(ctx: &Ctx) {
    let Ok(rt) = super::context::runtime() else { return };
    rt.block_on(async {
        if let Some(mut client) = connect(ctx).await {
            let r: Result<serde_json::Value, _> = client.call("mesh.reload", &serde_json::json!({})).await;
            if let Err(e) = r {
                tracing::debug!(error = %e, "mesh.reload failed");
            }
        }
    });
}

/// The URL of the daemon's embedded broker (starting the daemon if needed).
pub(crate) fn embedded_broker(ctx: &Ctx) -> Option<String> {
    let rt = super::context::runtime().ok()?;
    rt.block_on(async {
        let mut client = connect(ctx).await?;
        let status: serde_json::Value = client.call("daemon.status", &serde_json::json!({})).await.ok()?;
        status.get("embedded_broker").and_then(serde_json::Value::as_str).map(str::to_string)
    })
}

/// One broker call for `entry`'s mesh as this session: through the daemon, else on a direct control connection.
pub(crate) fn call_mesh(
    ctx: &Ctx,
    entry: &crate::config::MeshEntry,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, CliError> {
    let rt = super::context::runtime()?;
    if let Some(mut local) = rt.block_on(connect(ctx)) {
        let mut warm = params;
        if let Some(obj) = warm.as_object_mut() {
            obj.insert("mesh".into(), serde_json::Value::String(entry.slug.clone()));
        }
        return rt.block_on(call(&mut local, method, &warm));
    }
    let inbox = super::membership::open_inbox(ctx)?;
    rt.block_on(async {
        let mut live = super::live::Live::connect(ctx, entry, inbox, false).await?;
        let value: serde_json::Value = live.session.call_retrying(method, &params).await?;
        live.finish().await?;
        Ok(value)
    })
}
