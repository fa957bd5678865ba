//! A live mesh connection for one verb: opens the session, keeps the local mesh entry in step with the broker,
//! and stores then acknowledges every delivery that arrives while the verb runs (ack only after the commit).

use std::time::Duration;

use crate::client::{Event, MeshSession};
use crate::config::MeshEntry;
use crate::i18n;
use crate::output::Printer;
use crate::proto::{AckParams, AckResult, DeliverParams, method};
use crate::store::{Inbox, NewMessage, StoreError};

use super::context::{Ctx, now_ms};
use super::error::CliError;

/// Most delivery ids the broker takes in one `message.ack`.
const MAX_ACK_IDS: usize = 4096;

pub(crate) struct Live {
    pub session: MeshSession,
    /// `None` only while lent to a blocking task.
    inbox: Option<Inbox>,
    out: Printer,
    pending: Vec<DeliverParams>,
    /// The local session the deliveries belong to (`cli` or the Claude Code session id).
    local_session: String,
    /// `inbox.synced` arrived for the current connection.
    synced: bool,
    /// The current connection closed (code, reason).
    closed: Option<(Option<u16>, String)>,
}

impl Live {
    /// Connects to the mesh's broker as this session and refreshes the local entry (mesh name, role). Only
    /// `inbox` receives (`receive = true`); other verbs open control connections, so they never take over a
    /// running `inbox --follow`.
    pub(crate) async fn connect(ctx: &Ctx, entry: &MeshEntry, inbox: Inbox, receive: bool) -> Result<Self, CliError> {
        let identity = ctx.identity(entry)?;
        let session = MeshSession::open(&entry.broker, identity, receive).await?;
        let live = Self {
            session,
            inbox: Some(inbox),
            out: ctx.out,
            pending: Vec::new(),
            local_session: ctx.session_id(),
            synced: false,
            closed: None,
        };
        live.refresh_entry(ctx, &entry.id)?;
        Ok(live)
    }

    /// Writes the broker's view of the mesh name and our role into `config.toml` when they changed.
    pub(crate) fn refresh_entry(&self, ctx: &Ctx, mesh_id: &str) -> Result<(), CliError> {
        let hello = self.session.hello();
        let mut config = ctx.load_config()?;
        let Some(entry) = config.by_id_mut(mesh_id) else { return Ok(()) };
        let role = hello.peer.role.as_str();
        if entry.name == hello.mesh.name && entry.role == role {
            return Ok(());
        }
        entry.name = hello.mesh.name.clone();
        entry.role = role.to_string();
        ctx.save_config(&config)
    }

    /// Runs `f` on the inbox on the blocking pool (SQLite never runs on the runtime thread).
    pub(crate) async fn with_inbox<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Inbox) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, CliError> {
        let mut inbox = self.inbox.take().ok_or_else(|| CliError::internal("the inbox is already in use"))?;
        let (inbox, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut inbox);
            (inbox, r)
        })
        .await
        .map_err(CliError::internal)?;
        self.inbox = Some(inbox);
        Ok(result?)
    }

    /// Takes one event into account (deliveries are batched until `flush`).
    fn accept(&mut self, event: Event) {
        match event {
            Event::Notification { method: m, params } if m == method::MESSAGE_DELIVER => {
                match serde_json::from_value::<DeliverParams>(params) {
                    Ok(d) => self.pending.push(d),
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed message.deliver"),
                }
            }
            Event::Notification { method: m, .. } if m == method::INBOX_SYNCED => self.synced = true,
            Event::Notification { .. } => {}
            Event::Closed { code, reason, .. } => self.closed = Some((code, reason)),
        }
    }

    /// Opens, stores and acknowledges the batched deliveries. Undecryptable ones are acknowledged and dropped.
    async fn flush(&mut self) -> Result<(), CliError> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Ok(());
        }
        let mesh_id = self.session.identity().mesh_id.to_string();
        let received_at_ms = now_ms();
        let mut rows = Vec::new();
        let mut acks = Vec::with_capacity(pending.len());
        for d in &pending {
            match self.session.open_delivery(d) {
                Ok(body) => rows.push(NewMessage {
                    mesh_id: mesh_id.clone(),
                    session: self.local_session.clone(),
                    msg_id: d.id.to_string(),
                    from_key: d.from.to_string(),
                    from_name: d.from_name.clone(),
                    from_member: d.from_member.to_string(),
                    to_spec: d.to.clone(),
                    priority: d.priority.as_str().to_string(),
                    kind: body.kind,
                    sent_at_ms: body.sent_at_ms,
                    received_at_ms,
                    body: body.body,
                }),
                Err(e) => self.out.warn(&i18n::t_args(
                    "warn-undecryptable",
                    &[("name", d.from_name.as_str().into()), ("detail", e.to_string().into())],
                )),
            }
            acks.push(d.delivery);
        }
        if !rows.is_empty() {
            self.with_inbox(move |inbox| inbox.insert_all(&rows)).await?;
        }
        for chunk in acks.chunks(MAX_ACK_IDS) {
            let params = AckParams { deliveries: chunk.to_vec() };
            // A failed ack is not fatal: the broker redelivers and the inbox deduplicates.
            if let Err(e) = self.session.call_retrying::<_, AckResult>(method::MESSAGE_ACK, &params).await {
                tracing::debug!(error = %e, "message.ack failed; the broker will redeliver");
            }
        }
        Ok(())
    }

    /// Handles every event already queued, without waiting.
    pub(crate) async fn drain(&mut self) -> Result<(), CliError> {
        while let Some(event) = self.session.try_event() {
            self.accept(event);
        }
        self.flush().await
    }

    /// Waits for the next event, then handles it and everything queued behind it. `None` when the stream ended.
    pub(crate) async fn step(&mut self) -> Result<Option<()>, CliError> {
        let Some(event) = self.session.next_event().await else { return Ok(None) };
        self.accept(event);
        self.drain().await.map(Some)
    }

    /// Whether the current connection closed (and forgets it, for the caller to reconnect).
    pub(crate) fn take_closed(&mut self) -> Option<(Option<u16>, String)> {
        self.closed.take()
    }

    /// Reconnects under the same identity; the broker then pushes the backlog again.
    pub(crate) async fn reconnect(&mut self) -> Result<(), CliError> {
        self.synced = false;
        self.session.reconnect().await?;
        Ok(())
    }

    /// Processes deliveries until the broker says the backlog is through (`inbox.synced`), at most `timeout`.
    /// Reconnects once if the connection drops meanwhile. Returns whether the inbox is in sync.
    pub(crate) async fn wait_synced(&mut self, timeout: Duration) -> Result<bool, CliError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut reconnected = false;
        self.drain().await?;
        while !self.synced {
            if self.take_closed().is_some() {
                if reconnected {
                    break;
                }
                reconnected = true;
                self.reconnect().await?;
            }
            match tokio::time::timeout_at(deadline, self.step()).await {
                Ok(Ok(Some(()))) => {}
                Ok(Ok(None)) | Err(_) => break,
                Ok(Err(e)) => return Err(e),
            }
        }
        Ok(self.synced)
    }

    /// Handles what is queued, closes the connection and hands the inbox back.
    pub(crate) async fn finish(mut self) -> Result<Inbox, CliError> {
        self.drain().await?;
        let inbox = self.inbox.take().ok_or_else(|| CliError::internal("the inbox is already in use"))?;
        self.session.close().await;
        Ok(inbox)
    }
}
