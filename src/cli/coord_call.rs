//! The coordination verbs' road to the broker: one call through the daemon (or a direct control connection),
//! failures kept whole so a verb can read a conflict's data, and the notes every verb prints alike (a read from
//! the daemon's cache, a write queued while the broker is unreachable).

use serde_json::{Value, json};

use crate::client::ClientError;
use crate::client::local::{LocalClient, LocalError, error_from_rpc};
use crate::config::MeshEntry;
use crate::i18n::{t, t_args};
use crate::proto::{ErrorCode, RpcError, cmethod};

use super::context::{Ctx, runtime};
use super::error::{CliError, Exit};
use super::{live::Live, membership::open_inbox, warm};

/// A failed coordination call: the broker's own error (its code, message and `data`), or anything else.
#[derive(Debug)]
pub(crate) enum Failure {
    Rpc(RpcError),
    Cli(CliError),
}

impl Failure {
    /// The broker's error when it is a `conflict` (version moved, task claimed …).
    pub(crate) fn conflict(&self) -> Option<&RpcError> {
        match self {
            Failure::Rpc(rpc) if rpc.kind() == Some(ErrorCode::Conflict) => Some(rpc),
            _ => None,
        }
    }
}

impl From<Failure> for CliError {
    fn from(f: Failure) -> Self {
        match f {
            // The shared mapping's not-found hint is about message ids; these objects are found by listing.
            Failure::Rpc(rpc) if rpc.kind() == Some(ErrorCode::NotFound) => {
                CliError::new(Exit::NotFound, "not_found", "err-coord-not-found")
                    .arg("detail", rpc.message)
                    .hint("hint-coord-list")
            }
            // The shared mapping's text is about a full store; here it mostly means the broker cannot be reached.
            Failure::Rpc(rpc) if rpc.kind() == Some(ErrorCode::Unavailable) => {
                CliError::new(Exit::Network, "unavailable", "err-coord-unavailable")
                    .arg("detail", rpc.message)
                    .hint("hint-coord-unavailable")
            }
            Failure::Rpc(rpc) => CliError::from(ClientError::Rpc(rpc)),
            Failure::Cli(e) => e,
        }
    }
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Failure::Cli(e)
    }
}

fn from_client(e: ClientError) -> Failure {
    match e {
        ClientError::Rpc(rpc) => Failure::Rpc(rpc),
        other => Failure::Cli(other.into()),
    }
}

fn from_local(e: LocalError) -> Failure {
    match e {
        LocalError::Rpc(rpc) => from_client(error_from_rpc(rpc)),
        other => Failure::Cli(other.into()),
    }
}

/// The selected mesh, for one coordination verb.
pub(crate) struct Coord<'c> {
    pub ctx: &'c Ctx,
    pub entry: MeshEntry,
}

impl<'c> Coord<'c> {
    pub(crate) fn open(ctx: &'c Ctx) -> Result<Self, CliError> {
        let config = ctx.load_config()?;
        let entry = ctx.select_mesh(&config, None)?.clone();
        Ok(Self { ctx, entry })
    }

    /// One call: through the daemon (params plus `"mesh"`), else on a direct control connection to the broker.
    pub(crate) fn call(&self, method: &str, params: Value) -> Result<Value, Failure> {
        let rt = runtime()?;
        if let Some(mut local) = rt.block_on(warm::connect(self.ctx)) {
            let params = self.with_mesh(params);
            return rt.block_on(local.call(method, &params)).map_err(from_local);
        }
        let inbox = open_inbox(self.ctx)?;
        rt.block_on(async {
            let mut live = Live::connect(self.ctx, &self.entry, inbox, false).await?;
            let result: Result<Value, ClientError> = live.session.call(method, &params).await;
            live.finish().await?;
            result.map_err(from_client)
        })
    }

    /// A call that only the daemon can make (it seals, or it streams notifications to this connection).
    pub(crate) async fn daemon(&self) -> Result<LocalClient, CliError> {
        match warm::connect(self.ctx).await {
            Some(client) => Ok(client),
            None => Err(CliError::new(Exit::Network, "daemon", "err-coord-needs-daemon").hint("hint-daemon")),
        }
    }

    /// `params` with this mesh's slug added (the daemon's local API takes it).
    pub(crate) fn with_mesh(&self, mut params: Value) -> Value {
        if let Some(obj) = params.as_object_mut() {
            obj.insert("mesh".into(), Value::String(self.entry.slug.clone()));
        }
        params
    }

    /// A read: the result always carries `stale` (and `cache_age_ms` when stale); a cached answer is announced.
    pub(crate) fn read(&self, method: &str, params: Value) -> Result<Value, CliError> {
        let mut doc = self.call(method, params)?;
        let stale = doc.get("stale").and_then(Value::as_bool).unwrap_or(false);
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("stale".into(), Value::Bool(stale));
        }
        if stale {
            let secs = doc.get("cache_age_ms").and_then(Value::as_u64).unwrap_or(0) / 1000;
            self.ctx.out.warn(&t_args("coord-stale", &[("secs", secs.into())]));
        }
        Ok(doc)
    }

    /// A write: a write the daemon may queue always carries `queued`. `Ok(None)` after printing the queued note
    /// (or the JSON document): the verb has nothing more to say.
    pub(crate) fn write(&self, method: &str, params: Value) -> Result<Option<Value>, Failure> {
        let mut doc = self.call(method, params)?;
        if !cmethod::QUEUEABLE.contains(&method) {
            return Ok(Some(doc));
        }
        let queued = doc.get("queued").and_then(Value::as_bool).unwrap_or(false);
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("queued".into(), Value::Bool(queued));
        }
        if !queued {
            return Ok(Some(doc));
        }
        if self.ctx.out.json {
            self.ctx.out.json(doc);
        } else {
            self.ctx.out.success(&t("coord-queued"));
        }
        Ok(None)
    }

    /// Prints `doc` as the verb's JSON document, or runs `human` to print text.
    pub(crate) fn print(&self, doc: Value, human: impl FnOnce(&Value)) {
        if self.ctx.out.json {
            self.ctx.out.json(doc);
        } else {
            human(&doc);
        }
    }
}

/// The human text of a JSON value: strings as they are, anything else as compact JSON.
pub(crate) fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// At most `max` characters of `s` on one line (an ellipsis marks the cut).
pub(crate) fn clip(s: &str, max: usize) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A string field of a JSON object, or `""`.
pub(crate) fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A number field of a JSON object, or 0.
pub(crate) fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The array field of a JSON object, or an empty slice.
pub(crate) fn list<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// `{}` as a JSON value (methods without params).
pub(crate) fn no_params() -> Value {
    json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_clips_print_on_one_line() {
        assert_eq!(show_value(&json!("plain")), "plain");
        assert_eq!(show_value(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(clip("a\nb", 10), "a b");
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    #[test]
    fn conflicts_are_recognised_by_code() {
        let f = Failure::Rpc(RpcError::new(ErrorCode::Conflict, "claimed by bob"));
        assert_eq!(f.conflict().map(|r| r.message.as_str()), Some("claimed by bob"));
        assert!(Failure::Rpc(RpcError::new(ErrorCode::NotFound, "x")).conflict().is_none());
    }
}
