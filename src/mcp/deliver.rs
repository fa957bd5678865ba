//! Hands one inbox message to Claude Code: as a channel event through the stdout task (confirmed once flushed), or
//! as lines on Claude Code's inbox socket (confirmed once written and closed).

use std::io;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

use super::push::{InboxMessage, InboxSocket, channel_notification, inbox_socket_payload};
use super::stdio::Outgoing;

/// How long one inbox-socket write may take (Claude Code wants a complete line within 30 s).
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a message was not handed over (it stays unsurfaced and comes back on the next subscribe).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    #[error("stdout is closed")]
    StdoutClosed,
    #[error("cannot write to Claude Code's inbox socket {path}: {source}")]
    Socket {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Where deliveries go.
pub(crate) enum Sink {
    Channel(mpsc::Sender<Outgoing>),
    InboxSocket(InboxSocket),
}

impl Sink {
    /// The `via` reported in `message.surfaced`.
    pub(crate) fn via(&self) -> &'static str {
        match self {
            Sink::Channel(_) => "channel",
            Sink::InboxSocket(_) => "inbox_socket",
        }
    }

    /// Hands the message over; `Ok` only once Claude Code has it (flushed to its pipe or its socket).
    pub(crate) async fn deliver(&self, m: &InboxMessage) -> Result<(), DeliveryError> {
        match self {
            Sink::Channel(out) => {
                let (written, confirmed) = oneshot::channel();
                let item = Outgoing { message: channel_notification(m), written: Some(written) };
                out.send(item).await.map_err(|_| DeliveryError::StdoutClosed)?;
                confirmed.await.map_err(|_| DeliveryError::StdoutClosed)
            }
            Sink::InboxSocket(socket) => {
                let payload = inbox_socket_payload(m, socket.token.as_deref());
                post(socket, &payload)
                    .await
                    .map_err(|source| DeliveryError::Socket { path: socket.path.display().to_string(), source })
            }
        }
    }
}

/// One connection to the inbox socket: write everything, close.
async fn post(socket: &InboxSocket, payload: &str) -> io::Result<()> {
    let attempt = async {
        let mut stream = UnixStream::connect(&socket.path).await?;
        stream.write_all(payload.as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(SOCKET_TIMEOUT, attempt)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::push::Sender;
    use crate::proto::Priority;
    use tokio::io::AsyncReadExt;

    fn message() -> InboxMessage {
        InboxMessage {
            mesh: "team".into(),
            id: "m-1".into(),
            from: Sender { id: "ab".repeat(32), name: Some("alice".into()) },
            priority: Priority::Next,
            kind: "text".into(),
            body: "hello bob".into(),
        }
    }

    #[tokio::test]
    async fn inbox_socket_gets_the_auth_line_then_the_user_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cc.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut text = String::new();
            conn.read_to_string(&mut text).await.unwrap();
            text
        });
        let sink = Sink::InboxSocket(InboxSocket { path: path.clone(), token: Some("secret-token".into()) });
        sink.deliver(&message()).await.unwrap();
        let text = server.await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(text.ends_with('\n'));
        assert_eq!(lines[0], r#"{"type":"auth","token":"secret-token"}"#);
        let want = r#"{"type":"user","message":{"role":"user","content":"claudemesh message from alice (verified sender, mesh team, priority next, id m-1):\nhello bob"},"priority":"next","from":"claudemesh:alice","msg_id":"m-1"}"#;
        assert_eq!(lines[1], want);
        assert_eq!(sink.via(), "inbox_socket");
    }

    #[tokio::test]
    async fn a_missing_inbox_socket_is_an_error_not_a_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Sink::InboxSocket(InboxSocket { path: dir.path().join("gone.sock"), token: None });
        assert!(matches!(sink.deliver(&message()).await, Err(DeliveryError::Socket { .. })));
    }

    #[tokio::test]
    async fn channel_delivery_waits_for_the_stdout_task() {
        let (tx, mut rx) = mpsc::channel(1);
        let sink = Sink::Channel(tx);
        let stdout = tokio::spawn(async move {
            let item = rx.recv().await.unwrap();
            let line = item.message.to_string();
            item.written.unwrap().send(()).unwrap();
            // Gone afterwards: the next delivery must fail.
            drop(rx);
            line
        });
        sink.deliver(&message()).await.unwrap();
        let line = stdout.await.unwrap();
        assert!(line.starts_with(r#"{"jsonrpc":"2.0","method":"notifications/claude/channel""#), "{line}");
        assert!(matches!(sink.deliver(&message()).await, Err(DeliveryError::StdoutClosed)));
    }
}
