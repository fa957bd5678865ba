//! The embedded broker: the same engine as `claudemesh broker`, run inside the daemon on a loopback listener with
//! the default settings, so a local mesh needs no set-up.

use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;

use super::{BrokerError, Durability, conn, db, prepare_dir, restrict_files, serve, store};

/// Serves on `listener` (loopback) with data in `data` until `shutdown` turns true.
pub(crate) async fn serve_embedded(
    listener: tokio::net::TcpListener,
    data: &Path,
    shutdown: watch::Receiver<bool>,
) -> Result<(), BrokerError> {
    let addr = listener.local_addr().map_err(BrokerError::Serve)?;
    if !addr.ip().is_loopback() {
        return Err(BrokerError::PlaintextOnPublicAddress(addr.to_string()));
    }
    prepare_dir(data).map_err(|e| BrokerError::DataDir(data.to_path_buf(), e))?;
    let db_path = data.join("broker.db");
    let (db, store_thread) = db::Db::open(&db_path, Durability::Full, None, store::migrate)?;
    restrict_files(&db_path);
    let public_url = format!("ws://{addr}{}", crate::proto::WS_PATH);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let r = serve(listener, db, default_settings(), public_url, shutdown).await;
    let _ = tokio::task::spawn_blocking(move || store_thread.join()).await;
    r
}

/// `claudemesh broker`'s defaults.
fn default_settings() -> conn::Settings {
    conn::Settings {
        grace: Duration::from_secs(60),
        ping_interval: Duration::from_secs(15),
        stale_after: Duration::from_secs(45),
        ack_timeout: Duration::from_secs(10),
        auth_timeout: Duration::from_secs(10),
        default_ttl: Duration::from_secs(7 * 24 * 3600),
        max_ttl: Duration::from_secs(30 * 24 * 3600),
        send_rate: 500,
        send_burst: 2000,
        request_rate: 500,
        request_burst: 1000,
        max_preauth_frames: 16,
        window: 256,
        max_recipients: 1000,
        sweep_interval: Duration::from_secs(5),
        task_lease: Duration::from_secs(60),
    }
}
