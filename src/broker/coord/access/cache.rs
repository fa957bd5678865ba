//! The in-memory access cache: each connected member's rights and live connections, so a check is one lookup.
//!
//! Why it stays right without reading the store on a check: a member's slot exists while at least one of its
//! connections is registered (registration happens before `auth.hello` loads the rights), and every load or
//! change carries a stamp taken on the store's writer thread, so the cache keeps the newest committed state
//! whatever order the tasks reach it in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::broker::hub::Outbound;
use crate::proto::{KeyHex, MeshId, Rights};

/// One authenticated connection of a member.
#[derive(Clone)]
pub(crate) struct ConnRef {
    pub id: u64,
    /// The session (peer) key.
    pub peer: KeyHex,
    /// A receiving connection gets notifications; a control connection only answers requests.
    pub receiving: bool,
    pub out: mpsc::Sender<Outbound>,
}

/// What the cache knows of a member: `None` inside = no longer a member (kicked, banned, left, mesh deleted).
pub(crate) type Known = Option<Rights>;

#[derive(Default)]
struct Slot {
    /// (stamp, rights) of the newest load or change seen.
    rights: Option<(u64, Known)>,
    conns: Vec<ConnRef>,
}

#[derive(Default)]
struct Inner {
    meshes: HashMap<MeshId, HashMap<KeyHex, Slot>>,
    by_conn: HashMap<u64, (MeshId, KeyHex)>,
}

/// Effective rights by (mesh, member), kept in memory and changed with the store.
#[derive(Default)]
pub(crate) struct AccessCache {
    inner: Mutex<Inner>,
    stamps: Arc<AtomicU64>,
}

/// Hands out stamps in the writer thread's order (take one inside the `db.run` job that reads or changes rights).
#[derive(Clone)]
pub(crate) struct Stamps(Arc<AtomicU64>);

impl Stamps {
    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl AccessCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a single insert, remove or replace: a poisoned lock leaves nothing half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn stamps(&self) -> Stamps {
        Stamps(self.stamps.clone())
    }

    /// Registers an authenticating connection (before its rights are loaded, so the slot outlives the load).
    pub(crate) fn register(&self, mesh: &MeshId, member: &KeyHex, conn: ConnRef) {
        let mut g = self.lock();
        g.by_conn.insert(conn.id, (mesh.clone(), *member));
        g.meshes.entry(mesh.clone()).or_default().entry(*member).or_default().conns.push(conn);
    }

    /// A connection ended (or its hello failed); the member's slot goes with its last connection.
    pub(crate) fn unregister(&self, conn: u64) {
        let mut g = self.lock();
        let Some((mesh, member)) = g.by_conn.remove(&conn) else { return };
        let Some(room) = g.meshes.get_mut(&mesh) else { return };
        if let Some(slot) = room.get_mut(&member) {
            slot.conns.retain(|c| c.id != conn);
            if slot.conns.is_empty() {
                room.remove(&member);
            }
        }
        if room.is_empty() {
            g.meshes.remove(&mesh);
        }
    }

    /// Records rights read or written at `stamp`, unless the cache already holds a newer state. Members without
    /// a live connection are not cached (their next `auth.hello` loads them).
    pub(crate) fn apply(&self, mesh: &MeshId, member: &KeyHex, stamp: u64, known: Known) {
        let mut g = self.lock();
        if let Some(slot) = g.meshes.get_mut(mesh).and_then(|r| r.get_mut(member))
            && slot.rights.as_ref().is_none_or(|(s, _)| *s < stamp)
        {
            slot.rights = Some((stamp, known));
        }
    }

    /// What the cache knows of a member: `None` when it was never loaded (no live connection).
    pub(crate) fn get(&self, mesh: &MeshId, member: &KeyHex) -> Option<Known> {
        let g = self.lock();
        g.meshes.get(mesh)?.get(member)?.rights.as_ref().map(|(_, k)| *k)
    }

    /// The member's live connections.
    pub(crate) fn conns_of(&self, mesh: &MeshId, member: &KeyHex) -> Vec<ConnRef> {
        let g = self.lock();
        g.meshes.get(mesh).and_then(|r| r.get(member)).map(|s| s.conns.clone()).unwrap_or_default()
    }

    /// Every member with a live connection in the mesh, with its connections.
    pub(crate) fn members_of(&self, mesh: &MeshId) -> Vec<(KeyHex, Vec<ConnRef>)> {
        let g = self.lock();
        g.meshes.get(mesh).map(|r| r.iter().map(|(m, s)| (*m, s.conns.clone())).collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Role;

    fn conn(id: u64) -> (ConnRef, mpsc::Receiver<Outbound>) {
        let (out, rx) = mpsc::channel(4);
        (ConnRef { id, peer: KeyHex([id as u8; 32]), receiving: true, out }, rx)
    }

    #[test]
    fn newer_stamp_wins_and_slot_ends_with_its_last_connection() {
        let cache = AccessCache::default();
        let (mesh, member) = (MeshId::generate(), KeyHex([7; 32]));
        cache.apply(&mesh, &member, 1, Some(Rights::of_role(Role::Member)));
        assert_eq!(cache.get(&mesh, &member), None, "no connection, nothing cached");
        let ((c1, _r1), (c2, _r2)) = (conn(1), conn(2));
        cache.register(&mesh, &member, c1);
        cache.register(&mesh, &member, c2);
        cache.apply(&mesh, &member, 5, Some(Rights::of_role(Role::Admin)));
        cache.apply(&mesh, &member, 4, Some(Rights::of_role(Role::Guest)));
        assert_eq!(cache.get(&mesh, &member), Some(Some(Rights::of_role(Role::Admin))), "an older load is ignored");
        cache.apply(&mesh, &member, 6, None);
        assert_eq!(cache.get(&mesh, &member), Some(None));
        cache.unregister(1);
        assert_eq!(cache.conns_of(&mesh, &member).len(), 1);
        cache.unregister(2);
        assert_eq!(cache.get(&mesh, &member), None);
        assert!(cache.members_of(&mesh).is_empty());
        assert!(cache.stamps().next() < cache.stamps().next());
    }
}
