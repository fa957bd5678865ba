//! Live subscriptions of connections to topics (`state:<prefix>`, `stream:<name>`): who gets a notification
//! when something changes. Lives in memory only and ends with the connection; never held across an await.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::broker::hub::Outbound;
use crate::proto::MeshId;

struct Sub {
    conn: u64,
    topic: String,
    out: mpsc::Sender<Outbound>,
}

/// Subscriptions by mesh.
#[derive(Default)]
pub(crate) struct Subs(Mutex<HashMap<MeshId, Vec<Sub>>>);

/// What one publish did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Published {
    /// Subscribers the notification was queued for.
    pub sent: usize,
    /// Subscribers whose outbound queue was full: they missed this one (notifications carry a sequence number
    /// where a gap matters, so the subscriber can resubscribe from where it was).
    pub lagged: usize,
}

impl Subs {
    fn map(&self) -> MutexGuard<'_, HashMap<MeshId, Vec<Sub>>> {
        // Every update is a single push or retain: a panic cannot leave the map half-changed.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes connection `conn` to `topic` in `mesh`; a repeated subscription is one. (A kicked or banned
    /// member's subscriptions end with its connections, which the broker closes.)
    pub(crate) fn add(&self, mesh: &MeshId, conn: u64, topic: &str, out: &mpsc::Sender<Outbound>) {
        let mut map = self.map();
        let subs = map.entry(mesh.clone()).or_default();
        if !subs.iter().any(|s| s.conn == conn && s.topic == topic) {
            subs.push(Sub { conn, topic: topic.to_string(), out: out.clone() });
        }
    }

    /// Ends one subscription; true when it existed.
    pub(crate) fn remove(&self, mesh: &MeshId, conn: u64, topic: &str) -> bool {
        let mut map = self.map();
        let Some(subs) = map.get_mut(mesh) else { return false };
        let before = subs.len();
        subs.retain(|s| !(s.conn == conn && s.topic == topic));
        before != subs.len()
    }

    /// Ends every subscription of a connection.
    pub(crate) fn drop_conn(&self, conn: u64) {
        let mut map = self.map();
        map.retain(|_, subs| {
            subs.retain(|s| s.conn != conn);
            !subs.is_empty()
        });
    }

    /// Number of subscriptions in a mesh whose topic `matches`.
    pub(crate) fn count(&self, mesh: &MeshId, matches: impl Fn(&str) -> bool) -> usize {
        self.map().get(mesh).map_or(0, |subs| subs.iter().filter(|s| matches(&s.topic)).count())
    }

    /// Queues `text` for every subscription in `mesh` whose topic `matches` (once per connection, even when
    /// several of its topics match), skipping `except` (a connection that should not hear its own write).
    pub(crate) fn publish(
        &self,
        mesh: &MeshId,
        except: Option<u64>,
        matches: impl Fn(&str) -> bool,
        text: &str,
    ) -> Published {
        let map = self.map();
        let mut done = Published::default();
        let Some(subs) = map.get(mesh) else { return done };
        let mut seen: Vec<u64> = Vec::new();
        for s in subs.iter().filter(|s| Some(s.conn) != except && matches(&s.topic)) {
            if seen.contains(&s.conn) {
                continue;
            }
            seen.push(s.conn);
            match s.out.try_send(Outbound::Text(text.to_string())) {
                Ok(()) => done.sent += 1,
                Err(_) => done.lagged += 1,
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_reaches_matching_connections_once_and_ends_with_them() {
        let subs = Subs::default();
        let mesh = MeshId::generate();
        let (tx1, mut rx1) = mpsc::channel(8);
        let (tx2, mut rx2) = mpsc::channel(1);
        subs.add(&mesh, 1, "state:", &tx1);
        subs.add(&mesh, 1, "state:a", &tx1);
        subs.add(&mesh, 2, "stream:x", &tx2);
        let p = subs.publish(&mesh, None, |t| t.starts_with("state:"), "hi");
        assert_eq!(p, Published { sent: 1, lagged: 0 });
        assert!(matches!(rx1.try_recv(), Ok(Outbound::Text(t)) if t == "hi"));
        assert!(rx1.try_recv().is_err(), "one copy per connection");
        assert_eq!(subs.publish(&mesh, None, |t| t == "stream:x", "a"), Published { sent: 1, lagged: 0 });
        assert_eq!(subs.publish(&mesh, None, |t| t == "stream:x", "b"), Published { sent: 0, lagged: 1 });
        assert!(rx2.try_recv().is_ok());
        assert_eq!(subs.publish(&mesh, Some(2), |t| t == "stream:x", "c").sent, 0, "except skips");
        subs.drop_conn(1);
        assert_eq!(subs.count(&mesh, |_| true), 1);
        assert!(subs.remove(&mesh, 2, "stream:x"));
        assert_eq!(subs.count(&mesh, |_| true), 0);
    }
}
