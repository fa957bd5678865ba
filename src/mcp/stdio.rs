//! The push-pipe's stdio: newline-delimited input lines with a length cap, and the one task that owns stdout (every
//! JSON-RPC line goes through it, so responses and channel events never interleave).

use std::io;

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// Longest input line accepted (longer ones are answered with a parse error and skipped).
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One input line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// Its bytes, without the newline.
    Full(Vec<u8>),
    /// It was longer than the cap; its bytes were skipped.
    TooLong,
}

/// Reads the next line (a last line without a newline counts); `None` at end of input. Never buffers more than `max`
/// bytes of one line.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let mut too_long = false;
    let mut seen_any = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (seen_any, too_long) {
                (false, _) => None,
                (true, true) => Some(Line::TooLong),
                (true, false) => Some(Line::Full(buf)),
            });
        }
        seen_any = true;
        let newline = available.iter().position(|b| *b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf = Vec::new();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = newline.map_or(available.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(if too_long { Line::TooLong } else { Line::Full(buf) }));
        }
    }
}

/// A line for stdout, optionally with a receipt that fires once it has been written and flushed.
pub(crate) struct Outgoing {
    pub message: Value,
    pub written: Option<oneshot::Sender<()>>,
}

impl Outgoing {
    pub(crate) fn new(message: Value) -> Self {
        Self { message, written: None }
    }
}

/// Writes each message as one line and flushes it. Ends when every sender is gone or the output fails (the
/// client has gone: nothing more can be said).
pub(crate) async fn write_lines<W: AsyncWrite + Unpin>(mut out: W, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(item) = rx.recv().await {
        let mut line = item.message.to_string();
        line.push('\n');
        let written = async {
            out.write_all(line.as_bytes()).await?;
            out.flush().await
        }
        .await;
        if let Err(e) = written {
            tracing::info!(error = %e, "stdout is closed");
            return;
        }
        if let Some(receipt) = item.written {
            let _ = receipt.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn all_lines(input: &[u8], max: usize, capacity: usize) -> Vec<Line> {
        let mut reader = BufReader::with_capacity(capacity, input);
        let mut out = Vec::new();
        while let Some(line) = read_line(&mut reader, max).await.unwrap() {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn lines_are_split_capped_and_the_last_needs_no_newline() {
        let full = |s: &str| Line::Full(s.as_bytes().to_vec());
        for capacity in [1, 3, 8192] {
            let lines = all_lines(b"abc\n\n0123456789\nxyz\nlast", 5, capacity).await;
            assert_eq!(lines, vec![full("abc"), full(""), Line::TooLong, full("xyz"), full("last")], "{capacity}");
            assert_eq!(all_lines(b"", 5, capacity).await, vec![]);
            assert_eq!(all_lines(b"12345\n123456", 5, capacity).await, vec![full("12345"), Line::TooLong]);
        }
    }

    #[tokio::test]
    async fn writer_emits_one_line_per_message_and_confirms_it() {
        let (tx, rx) = mpsc::channel(4);
        let (client, server) = tokio::io::duplex(1024);
        let task = tokio::spawn(write_lines(server, rx));
        let (done, confirmed) = oneshot::channel();
        tx.send(Outgoing::new(serde_json::json!({"a": "x\ny"}))).await.unwrap();
        tx.send(Outgoing { message: serde_json::json!({"b": 2}), written: Some(done) }).await.unwrap();
        confirmed.await.unwrap();
        drop(tx);
        task.await.unwrap();
        let mut text = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut BufReader::new(client), &mut text).await.unwrap();
        assert_eq!(text, "{\"a\":\"x\\ny\"}\n{\"b\":2}\n");
    }
}
