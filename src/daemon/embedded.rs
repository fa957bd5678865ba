//! Starts the embedded broker on a loopback port that stays the same across restarts (local meshes and the
//! invites they hand out carry its URL), and moves local meshes along if that port is taken by something else.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Home};

const DIR: &str = "embedded-broker";
const PORT_FILE: &str = "port";
/// How long to keep trying the remembered port (a previous daemon may still be closing it).
const REBIND: Duration = Duration::from_secs(3);

/// The embedded broker's URL (`ws://127.0.0.1:PORT/ws`).
pub(crate) fn url_for(port: u16) -> String {
    format!("ws://127.0.0.1:{port}{}", crate::proto::WS_PATH)
}

/// Binds (the remembered port when possible) and serves in a task until `shutdown`.
pub(super) async fn start(
    home: &Home,
    shutdown: watch::Receiver<bool>,
) -> Result<(String, JoinHandle<()>), std::io::Error> {
    let dir = home.root().join(DIR);
    std::fs::create_dir_all(&dir)?;
    let port_path = dir.join(PORT_FILE);
    let remembered: Option<u16> = std::fs::read_to_string(&port_path).ok().and_then(|s| s.trim().parse().ok());
    let listener = match remembered {
        Some(port) => match bind_retrying(port).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(port, error = %e, "the embedded broker's port is taken; moving local meshes");
                let l = TcpListener::bind(("127.0.0.1", 0)).await?;
                let new_port = l.local_addr()?.port();
                move_meshes(home, &url_for(port), &url_for(new_port));
                l
            }
        },
        None => TcpListener::bind(("127.0.0.1", 0)).await?,
    };
    let port = listener.local_addr()?.port();
    if remembered != Some(port) {
        std::fs::write(&port_path, format!("{port}\n"))?;
    }
    let url = url_for(port);
    let data = dir.clone();
    let task = tokio::spawn(async move {
        if let Err(e) = crate::broker::serve_embedded(listener, &data, shutdown).await {
            tracing::error!(error = %e, "the embedded broker stopped");
        }
    });
    tracing::info!(%url, "embedded broker ready");
    Ok((url, task))
}

async fn bind_retrying(port: u16) -> std::io::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + REBIND;
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return Ok(l),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Points this home's meshes on the old embedded URL at the new one.
fn move_meshes(home: &Home, old: &str, new: &str) {
    let Ok(mut config) = Config::load(home) else { return };
    let mut changed = false;
    for m in config.meshes.iter_mut().filter(|m| m.broker == old) {
        m.broker = new.to_string();
        changed = true;
    }
    if changed && let Err(e) = config.save(home) {
        tracing::warn!(error = %e, "cannot update local meshes to the new embedded broker port");
    }
}
