//! Reads a broker's open-connection gauge from its `GET /metrics` endpoint (plain HTTP on the WebSocket port; a
//! `wss://` broker is not asked, and anything unexpected reads as unknown).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(2);
const GAUGE: &str = "claudemesh_connections";

/// `host:port` of a `ws://` URL; `None` for anything else.
pub(crate) fn metrics_addr(ws_url: &str) -> Option<String> {
    let url = url::Url::parse(ws_url).ok()?;
    if url.scheme() != "ws" {
        return None;
    }
    Some(format!("{}:{}", url.host_str()?, url.port_or_known_default()?))
}

/// The broker's open WebSocket connections, or `None` when it cannot be read.
pub(crate) async fn connections(addr: &str) -> Option<u64> {
    let fetch = async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.ok()?;
        let mut text = String::new();
        tcp.take(1 << 20).read_to_string(&mut text).await.ok()?;
        gauge(&text)
    };
    tokio::time::timeout(TIMEOUT, fetch).await.ok().flatten()
}

/// The value of the connections gauge in a Prometheus text response.
fn gauge(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(GAUGE)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_gauge_and_only_plain_ws_urls() {
        let text = "HTTP/1.1 200 OK\r\n\r\n# HELP claudemesh_connections x\nclaudemesh_connections 42\n\
                    claudemesh_connections_total 99\n";
        assert_eq!(gauge(text), Some(42));
        assert_eq!(gauge("nothing"), None);
        assert_eq!(metrics_addr("ws://127.0.0.1:7900/ws").as_deref(), Some("127.0.0.1:7900"));
        assert_eq!(metrics_addr("ws://example.com/ws").as_deref(), Some("example.com:80"));
        assert_eq!(metrics_addr("wss://example.com/ws"), None);
    }
}
