//! Live connections by mesh and peer, presence leases (grace window) and fan-out of peer events.
//! The lock is never held across an await: every method is synchronous.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, mpsc};

use crate::proto::{CloseCode, KeyHex, MeshId};

/// What a connection's writer task sends.
#[derive(Debug)]
pub(crate) enum Outbound {
    Text(String),
    Ping,
    Close(CloseCode, &'static str),
}

enum Lease {
    Online {
        conn: u64,
    },
    /// Disconnected, inside the grace window; `generation` identifies the timer that may end it.
    Grace {
        generation: u64,
    },
}

struct Live {
    lease: Lease,
    /// The connection's outbound queue; `None` during the grace window so the closed connection's writer ends.
    tx: Option<mpsc::Sender<Outbound>>,
    wake: Arc<Notify>,
}

/// How an attach changed presence, which decides whether others hear `peer.joined`.
pub(crate) enum Attach {
    /// The peer was not present: announce it.
    Joined,
    /// The peer came back inside its grace window: nothing to announce.
    Resumed,
    /// Another live connection held this peer; it has been told to close. Nothing to announce.
    Replaced,
}

#[derive(Default)]
pub(crate) struct Hub {
    rooms: Mutex<HashMap<MeshId, HashMap<KeyHex, Live>>>,
    generation: AtomicU64,
}

impl Hub {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<MeshId, HashMap<KeyHex, Live>>> {
        // A panic while holding this lock cannot leave the map inconsistent (all updates are single inserts or
        // removes), so a poisoned lock is safe to keep using.
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn attach(
        &self,
        mesh: &MeshId,
        peer: &KeyHex,
        conn: u64,
        tx: mpsc::Sender<Outbound>,
        wake: Arc<Notify>,
    ) -> Attach {
        let mut rooms = self.rooms();
        let room = rooms.entry(mesh.clone()).or_default();
        let new = Live { lease: Lease::Online { conn }, tx: Some(tx), wake };
        match room.insert(*peer, new) {
            None => Attach::Joined,
            Some(Live { lease: Lease::Grace { .. }, .. }) => Attach::Resumed,
            Some(Live { lease: Lease::Online { .. }, tx, .. }) => {
                if let Some(tx) = tx {
                    let _ = tx.try_send(Outbound::Close(CloseCode::SessionReplaced, "session replaced"));
                }
                Attach::Replaced
            }
        }
    }

    /// The connection `conn` of `peer` closed: start its grace lease. Returns the lease generation to pass to
    /// [`Hub::expire`] when the grace window ends, or `None` if another connection already took over.
    pub(crate) fn detach(&self, mesh: &MeshId, peer: &KeyHex, conn: u64) -> Option<u64> {
        let mut rooms = self.rooms();
        let live = rooms.get_mut(mesh)?.get_mut(peer)?;
        match live.lease {
            Lease::Online { conn: c } if c == conn => {
                let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                live.lease = Lease::Grace { generation };
                live.tx = None;
                Some(generation)
            }
            _ => None,
        }
    }

    /// Ends a grace lease if it is still the one started with `generation`. True when the peer is now gone.
    pub(crate) fn expire(&self, mesh: &MeshId, peer: &KeyHex, generation: u64) -> bool {
        let mut rooms = self.rooms();
        let Some(room) = rooms.get_mut(mesh) else { return false };
        let ours =
            matches!(room.get(peer), Some(Live { lease: Lease::Grace { generation: g }, .. }) if *g == generation);
        if ours {
            room.remove(peer);
            if room.is_empty() {
                rooms.remove(mesh);
            }
        }
        ours
    }

    /// Removes a peer at once (it left the mesh). Its connection is closed with `close` when given; the
    /// caller's own connection passes `None` and closes itself after sending its reply.
    pub(crate) fn remove(&self, mesh: &MeshId, peer: &KeyHex, close: Option<CloseCode>) {
        let mut rooms = self.rooms();
        if let Some(room) = rooms.get_mut(mesh) {
            let tx = room.remove(peer).and_then(|live| live.tx);
            if let (Some(tx), Some(code)) = (tx, close) {
                let _ = tx.try_send(Outbound::Close(code, "removed from mesh"));
            }
        }
    }

    /// Online or inside its grace window (a reconnect inside the window is invisible to others).
    pub(crate) fn is_present(&self, mesh: &MeshId, peer: &KeyHex) -> bool {
        self.rooms().get(mesh).is_some_and(|r| r.contains_key(peer))
    }

    pub(crate) fn present_count(&self, mesh: &MeshId) -> u64 {
        self.rooms().get(mesh).map_or(0, |r| r.len() as u64)
    }

    /// Wakes the peer's connection so it pulls new deliveries.
    pub(crate) fn wake(&self, mesh: &MeshId, peer: &KeyHex) {
        if let Some(live) = self.rooms().get(mesh).and_then(|r| r.get(peer))
            && matches!(live.lease, Lease::Online { .. })
        {
            live.wake.notify_one();
        }
    }

    /// Sends a notification to one peer's live connection, if it has one. Like `broadcast`, advisory: a peer
    /// that is offline or not reading misses it (`message.status` is the source of truth).
    pub(crate) fn send_to(&self, mesh: &MeshId, peer: &KeyHex, text: &str) {
        if let Some(tx) = self.rooms().get(mesh).and_then(|r| r.get(peer)).and_then(|live| live.tx.as_ref()) {
            let _ = tx.try_send(Outbound::Text(text.to_string()));
        }
    }

    /// Sends a notification to every online peer of the mesh except `except`. A peer whose queue is full misses
    /// the event (events are advisory; `peer.list` is the source of truth).
    pub(crate) fn broadcast(&self, mesh: &MeshId, except: Option<&KeyHex>, text: &str) {
        if let Some(room) = self.rooms().get(mesh) {
            for (key, live) in room {
                if let (true, Some(tx)) = (Some(key) != except, &live.tx) {
                    let _ = tx.try_send(Outbound::Text(text.to_string()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chan() -> (mpsc::Sender<Outbound>, mpsc::Receiver<Outbound>) {
        mpsc::channel(8)
    }

    #[test]
    fn reconnect_inside_grace_is_a_resume_and_stale_timer_does_nothing() {
        let hub = Hub::default();
        let mesh = MeshId::generate();
        let peer = KeyHex([1; 32]);
        let (tx, _rx) = chan();
        assert!(matches!(hub.attach(&mesh, &peer, 1, tx.clone(), Arc::default()), Attach::Joined));
        let g = hub.detach(&mesh, &peer, 1).unwrap();
        assert!(hub.is_present(&mesh, &peer));
        assert!(matches!(hub.attach(&mesh, &peer, 2, tx.clone(), Arc::default()), Attach::Resumed));
        assert!(!hub.expire(&mesh, &peer, g), "old timer must not evict the resumed peer");
        assert!(hub.detach(&mesh, &peer, 1).is_none(), "a stale connection cannot start a lease");
        let g2 = hub.detach(&mesh, &peer, 2).unwrap();
        assert!(hub.expire(&mesh, &peer, g2));
        assert!(!hub.is_present(&mesh, &peer));
    }

    #[test]
    fn second_live_connection_replaces_the_first() {
        let hub = Hub::default();
        let mesh = MeshId::generate();
        let peer = KeyHex([2; 32]);
        let (tx1, mut rx1) = chan();
        let (tx2, _rx2) = chan();
        hub.attach(&mesh, &peer, 1, tx1, Arc::default());
        assert!(matches!(hub.attach(&mesh, &peer, 2, tx2, Arc::default()), Attach::Replaced));
        assert!(matches!(rx1.try_recv(), Ok(Outbound::Close(CloseCode::SessionReplaced, _))));
    }
}
