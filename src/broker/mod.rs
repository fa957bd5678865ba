//! The broker: HTTP + WebSocket server on one port, SQLite store, delivery queue, presence and invites.
//! `claudemesh broker` runs it; `serve` takes a bound listener and a shutdown future so tests and the
//! daemon's embedded broker use the same engine.

mod conn;
mod coord;
mod db;
mod embedded;
mod hub;
mod metrics;
mod ratelimit;
mod store;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;

pub(crate) use db::Durability;
pub(crate) use embedded::serve_embedded;

/// `claudemesh broker` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BrokerArgs {
    /// Address to listen on (`HOST:PORT`; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:7900", env = "CLAUDEMESH_BROKER_LISTEN")]
    pub listen: String,
    /// Directory for the broker's SQLite database (created 0700). Default: `$CLAUDEMESH_HOME/broker`.
    #[arg(long, env = "CLAUDEMESH_BROKER_DATA")]
    pub data: Option<PathBuf>,
    /// The URL clients use to reach this broker (`ws://…/ws` or `wss://…/ws`), announced to clients for invites.
    #[arg(long, env = "CLAUDEMESH_BROKER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Serve TLS (`wss://`) with this PEM certificate chain (needs --tls-key).
    #[arg(long, requires = "tls_key", env = "CLAUDEMESH_BROKER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert", env = "CLAUDEMESH_BROKER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Listen on a non-loopback address without TLS (only behind a TLS-terminating proxy).
    #[arg(long)]
    pub behind_tls_proxy: bool,
    /// How long a disconnected peer stays present before others see `peer.left`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// How long a claimed task stays claimed after its claimer was last present; then it reopens.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub task_lease: Duration,
    /// Interval of WebSocket pings to each connection.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub ping_interval: Duration,
    /// A connection silent for this long is closed (code 4003).
    #[arg(long, default_value = "45s", value_parser = humantime::parse_duration)]
    pub stale_after: Duration,
    /// A delivery not acknowledged within this time is pushed again on the same connection.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub ack_timeout: Duration,
    /// How often queued deliveries past their TTL are expired.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub sweep_interval: Duration,
    /// Per-connection message sends per second (deliveries), sustained.
    #[arg(long, default_value_t = 500)]
    pub send_rate: u64,
    /// Per-connection burst of deliveries.
    #[arg(long, default_value_t = 2000)]
    pub send_burst: u64,
    /// Per-connection requests per second, sustained.
    #[arg(long, default_value_t = 500)]
    pub request_rate: u64,
    /// Per-connection burst of requests.
    #[arg(long, default_value_t = 1000)]
    pub request_burst: u64,
    /// Cap the database at this many MiB. Past it, writes are refused with `unavailable` (as on a full disk)
    /// and nothing already acknowledged is touched.
    #[arg(long)]
    pub max_db_mib: Option<u64>,
    /// SQLite durability of each commit.
    #[arg(long, value_enum, default_value = "full")]
    pub durability: Durability,
    /// Tests only, never in production: answer `debug.clock.advance`, which moves the schedule clock forward.
    #[arg(long, hide = true, env = "CLAUDEMESH_BROKER_TEST_CLOCK", value_parser = clap::builder::BoolishValueParser::new())]
    pub test_clock: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BrokerError {
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error(
        "refusing to listen on {0} without TLS: pass --tls-cert and --tls-key, bind a loopback address, or pass --behind-tls-proxy when a proxy terminates TLS"
    )]
    PlaintextOnPublicAddress(String),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot prepare the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("cannot open the broker database: {0}")]
    Store(#[from] db::StoreError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// Runs the broker until SIGINT/SIGTERM. On ready it prints exactly one line to stdout:
/// `claudemesh broker listening on ws://HOST:PORT/ws`.
pub(crate) fn run(args: BrokerArgs, default_data: PathBuf) -> Result<(), BrokerError> {
    if args.test_clock {
        coord::enable_test_clock();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(BrokerError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| BrokerError::Listen(args.listen.clone(), e))?;
        let addr = listener.local_addr().map_err(|e| BrokerError::Listen(args.listen.clone(), e))?;
        let acceptor = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
            _ => None,
        };
        if acceptor.is_none() && !addr.ip().is_loopback() && !args.behind_tls_proxy {
            return Err(BrokerError::PlaintextOnPublicAddress(addr.to_string()));
        }
        let data = args.data.clone().unwrap_or(default_data);
        prepare_dir(&data).map_err(|e| BrokerError::DataDir(data.clone(), e))?;
        let db_path = data.join("broker.db");
        let (db, store_thread) =
            db::Db::open(&db_path, args.durability, args.max_db_mib.map(|m| m * 1024 * 1024), store::migrate)?;
        restrict_files(&db_path);
        let scheme = if acceptor.is_some() { "wss" } else { "ws" };
        let public_url =
            args.public_url.clone().unwrap_or_else(|| format!("{scheme}://{addr}{}", crate::proto::WS_PATH));
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = tx.send(true);
        });
        println!("claudemesh broker listening on {scheme}://{addr}{}", crate::proto::WS_PATH);
        tracing::info!(%addr, %public_url, data = %data.display(), "broker ready");
        let settings = settings(&args);
        let r = match acceptor {
            Some(acceptor) => {
                let listener = tls::TlsListener::new(listener, acceptor)
                    .map_err(|e| BrokerError::Listen(args.listen.clone(), e))?;
                serve(listener, db, settings, public_url, rx).await
            }
            None => {
                // Small request/response frames: without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms to a
                // round trip.
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                serve(listener, db, settings, public_url, rx).await
            }
        };
        // `serve` returned: every connection task has finished, so dropping the last store handle lets the
        // writer thread drain and exit after its final commit.
        let _ = tokio::task::spawn_blocking(move || store_thread.join()).await;
        r
    })
}

fn settings(a: &BrokerArgs) -> conn::Settings {
    conn::Settings {
        grace: a.grace,
        ping_interval: a.ping_interval,
        stale_after: a.stale_after,
        ack_timeout: a.ack_timeout,
        auth_timeout: Duration::from_secs(10),
        default_ttl: Duration::from_secs(7 * 24 * 3600),
        max_ttl: Duration::from_secs(30 * 24 * 3600),
        send_rate: a.send_rate,
        send_burst: a.send_burst,
        request_rate: a.request_rate,
        request_burst: a.request_burst,
        max_preauth_frames: 16,
        window: 256,
        max_recipients: 1000,
        sweep_interval: a.sweep_interval,
        task_lease: a.task_lease,
    }
}

fn prepare_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// The database and its WAL/SHM companions are readable by the broker's user only.
fn restrict_files(db_path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db_path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
    }
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn wait_for_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[derive(Clone)]
struct App {
    shared: Arc<conn::Shared>,
    shutdown: watch::Receiver<bool>,
    public_url: Arc<String>,
    /// Held by every connection task; `serve` waits until all clones are dropped.
    alive: tokio::sync::mpsc::Sender<()>,
}

/// Serves HTTP and WebSocket on `listener` until `shutdown` turns true, then closes every connection (1001) and
/// returns once all of them have finished.
async fn serve<L>(
    listener: L,
    db: db::Db,
    settings: conn::Settings,
    public_url: String,
    shutdown: watch::Receiver<bool>,
) -> Result<(), BrokerError>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let sweep = settings.sweep_interval;
    let shared = Arc::new(conn::Shared {
        db,
        hub: hub::Hub::default(),
        metrics: metrics::Metrics::default(),
        settings,
        next_conn: Default::default(),
        shutdown: shutdown.clone(),
        coord: coord::Coord::default(),
    });
    let (alive, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    let app = App { shared: shared.clone(), shutdown: shutdown.clone(), public_url: Arc::new(public_url), alive };
    let sweeper = tokio::spawn(expire_loop(shared.clone(), sweep, shutdown.clone()));
    let coord_loops = coord::spawn(shared.clone(), shutdown.clone());
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route(crate::proto::WS_PATH, get(ws_upgrade))
        .route("/join/{token}", get(join_page))
        .with_state(app);
    let mut sd = shutdown.clone();
    let result = axum::serve(listener, router.into_make_service())
        .with_graceful_shutdown(async move {
            let _ = sd.wait_for(|v| *v).await;
        })
        .await
        .map_err(BrokerError::Serve);
    let _ = sweeper.await;
    for task in coord_loops {
        let _ = task.await;
    }
    // Every connection task holds a clone of `alive`; recv() returns None once they have all finished.
    let _ = all_done.recv().await;
    result
}

async fn expire_loop(shared: Arc<conn::Shared>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = conn::now_ms();
                if let Ok(n) = shared.db.run(move |c| store::expire(c, now)).await {
                    metrics::Metrics::inc(&shared.metrics.messages_expired, n);
                }
            }
            r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { return },
        }
    }
}

async fn healthz(State(app): State<App>) -> Response {
    match app.shared.db.run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await {
        Ok(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"status\":\"ok\",\"version\":\"{}\"}}", env!("CARGO_PKG_VERSION")),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"status\":\"store_unavailable\"}",
        )
            .into_response(),
    }
}

async fn metrics_text(State(app): State<App>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.shared.metrics.render()).into_response()
}

async fn join_page(State(app): State<App>) -> Response {
    let _ = &app.public_url;
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "This is a claudemesh invite. Copy this page's address and run: claudemesh <address>\n",
    )
        .into_response()
}

async fn ws_upgrade(State(app): State<App>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == crate::proto::SUBPROTOCOL);
    if !offered {
        return (StatusCode::BAD_REQUEST, "offer the WebSocket subprotocol claudemesh.v1\n").into_response();
    }
    if *app.shutdown.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the broker is shutting down\n").into_response();
    }
    let App { shared, shutdown, alive, .. } = app;
    ws.protocols([crate::proto::SUBPROTOCOL])
        .max_message_size(crate::proto::MAX_FRAME_BYTES)
        .max_frame_size(crate::proto::MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            conn::handle(socket, shared, shutdown).await;
            drop(alive);
        })
}
