//! A loopback TCP proxy for chaos tests. It forwards every connection to a target port and, on command, delays
//! traffic by a fixed latency, drops every open connection, or half-opens them: stops forwarding in both directions
//! and holds both sockets open, sending neither FIN nor RST (as when a NAT entry, a laptop lid or a cable goes
//! away). It records when each connection opened and when either end closed it, so a test can time a watchdog.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

/// Something the proxy saw, with the connection's number (1, 2, ... in accept order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Accepted(u64),
    /// The client (our side of the link under test) closed its socket.
    ClientClosed(u64),
    /// The target (the broker) closed its socket.
    TargetClosed(u64),
}

const FORWARD: u8 = 0;
const HALF_OPEN: u8 = 1;

struct Conn {
    id: u64,
    mode: AtomicU8,
    kill: Notify,
}

struct Shared {
    target: u16,
    delay_ms: AtomicU64,
    refuse: AtomicBool,
    next: AtomicU64,
    conns: Mutex<Vec<Arc<Conn>>>,
    log: Mutex<Vec<(Instant, Seen)>>,
}

impl Shared {
    fn record(&self, seen: Seen) {
        self.log.lock().expect("proxy log").push((Instant::now(), seen));
    }
}

/// A running proxy; dropping it closes everything.
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    _rt: tokio::runtime::Runtime,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:target`.
    pub fn start(target: u16) -> Proxy {
        let rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("proxy runtime");
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).expect("bind the proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let shared = Arc::new(Shared {
            target,
            delay_ms: AtomicU64::new(0),
            refuse: AtomicBool::new(false),
            next: AtomicU64::new(1),
            conns: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        rt.spawn(accept_loop(listener, shared.clone()));
        Proxy { port, shared, _rt: rt }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ws://127.0.0.1:PORT/ws`: the broker's address as seen through the proxy.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// Adds `latency` to every byte in both directions (of open and new connections); zero turns it off.
    pub fn set_delay(&self, latency: Duration) {
        self.shared.delay_ms.store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    /// While set, new connections are accepted and closed at once (the broker looks down).
    pub fn set_refuse(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Half-opens every open connection: from now on nothing is forwarded either way and no socket is closed by
    /// the proxy. New connections forward normally. Returns when it happened.
    pub fn half_open_all(&self) -> Instant {
        let at = Instant::now();
        for c in self.shared.conns.lock().expect("proxy conns").iter() {
            c.mode.store(HALF_OPEN, Ordering::SeqCst);
        }
        at
    }

    /// Closes every open connection on both sides (FIN), as a broker restart or a network reset would.
    pub fn drop_all(&self) {
        let conns = std::mem::take(&mut *self.shared.conns.lock().expect("proxy conns"));
        for c in conns {
            c.kill.notify_one();
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.next.load(Ordering::SeqCst) - 1
    }

    /// Everything seen so far, in order.
    pub fn log(&self) -> Vec<(Instant, Seen)> {
        self.shared.log.lock().expect("proxy log").clone()
    }

    /// When the client closed connection `id`, if it did.
    pub fn client_closed_at(&self, id: u64) -> Option<Instant> {
        self.log().iter().find(|(_, s)| *s == Seen::ClientClosed(id)).map(|(t, _)| *t)
    }

    /// Numbers of the connections accepted before `at`.
    pub fn accepted_before(&self, at: Instant) -> Vec<u64> {
        self.log()
            .iter()
            .filter_map(|(t, s)| match s {
                Seen::Accepted(id) if *t <= at => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// Numbers of the connections still open on the client side.
    pub fn open_client_sides(&self) -> Vec<u64> {
        let log = self.log();
        log.iter()
            .filter_map(|(_, s)| match s {
                Seen::Accepted(id) if !log.iter().any(|(_, s)| *s == Seen::ClientClosed(*id)) => Some(*id),
                _ => None,
            })
            .collect()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((client, _)) = listener.accept().await {
        if shared.refuse.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let id = shared.next.fetch_add(1, Ordering::SeqCst);
        shared.record(Seen::Accepted(id));
        let conn = Arc::new(Conn { id, mode: AtomicU8::new(FORWARD), kill: Notify::new() });
        shared.conns.lock().expect("proxy conns").push(conn.clone());
        tokio::spawn(serve(client, conn, shared.clone()));
    }
}

async fn serve(client: TcpStream, conn: Arc<Conn>, shared: Arc<Shared>) {
    let Ok(target) = TcpStream::connect(("127.0.0.1", shared.target)).await else {
        shared.record(Seen::TargetClosed(conn.id));
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = target.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (target_read, target_write) = target.into_split();
    let up = pump(client_read, target_write, conn.clone(), shared.clone(), Seen::ClientClosed(conn.id));
    let down = pump(target_read, client_write, conn.clone(), shared.clone(), Seen::TargetClosed(conn.id));
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        () = conn.kill.notified() => {}
    }
    shared.conns.lock().expect("proxy conns").retain(|c| c.id != conn.id);
}

/// Copies one direction. Each chunk is released `delay` after it arrived (a constant latency, not a throttle).
/// Half-open: chunks are read and discarded, and when the reader sees the end the writer is kept open (no FIN).
async fn pump(mut from: OwnedReadHalf, to: OwnedWriteHalf, conn: Arc<Conn>, shared: Arc<Shared>, eof: Seen) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer_conn = conn.clone();
    let writer = async move {
        let mut to = to;
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if writer_conn.mode.load(Ordering::SeqCst) == HALF_OPEN {
                continue;
            }
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        // The reader ended: pass the close on, unless the connection is half-open (then hold the socket open).
        if writer_conn.mode.load(Ordering::SeqCst) == HALF_OPEN {
            std::future::pending::<()>().await;
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    shared.record(eof);
                    break;
                }
                Ok(n) => {
                    if conn.mode.load(Ordering::SeqCst) == HALF_OPEN {
                        continue;
                    }
                    let delay = Duration::from_millis(shared.delay_ms.load(Ordering::SeqCst));
                    if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        drop(tx);
        // Keep the read half (and with it the socket) alive while the writer may still hold the connection open.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
}
