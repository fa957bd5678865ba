//! What the daemon's tasks share: the home, the local store, the registry of broker links (one per mesh and local
//! session), the embedded broker's URL and the shutdown switch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::link::{self, LinkHandle};
use crate::client::Identity;
use crate::config::{Config, ConfigError, Home, MeshEntry};
use crate::crypto::{SigningKey, random_bytes};
use crate::proto::MeshId;
use crate::store::{Inbox, StoreError};

/// The local database, used from async code through the blocking pool.
#[derive(Clone)]
pub(super) struct Store(Arc<Mutex<Inbox>>);

impl Store {
    /// Runs `f` on the database off the runtime.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Inbox) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.0);
        match tokio::task::spawn_blocking(move || f(&mut lock(&inner))).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Io { path: "data.db".into(), source: std::io::Error::other(e.to_string()) }),
        }
    }
}

/// A poisoned lock only means another task panicked mid-use; SQLite's transactions keep the data consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) struct Daemon {
    pub home: Home,
    pub store: Store,
    pub embedded_url: Option<String>,
    pub build: String,
    pub started_at_ms: u64,
    pub shutdown: watch::Sender<bool>,
    links: Mutex<HashMap<(String, String), LinkHandle>>,
    /// What links report to `events.subscribe` (receipts, sends, link status), for every session of this home.
    notices: broadcast::Sender<Notice>,
}

/// One local notification for `events.subscribe`: the mesh (slug), the method and its params.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    pub mesh: String,
    pub method: &'static str,
    pub params: Value,
}

/// Notices buffered per subscriber before it lags (a lagging subscriber skips ahead).
const NOTICES: usize = 1024;

impl Daemon {
    pub(super) fn new(
        home: Home,
        inbox: Inbox,
        embedded_url: Option<String>,
        build: String,
        shutdown: watch::Sender<bool>,
    ) -> Arc<Self> {
        Arc::new(Self {
            home,
            store: Store(Arc::new(Mutex::new(inbox))),
            embedded_url,
            build,
            started_at_ms: now_ms(),
            shutdown,
            links: Mutex::new(HashMap::new()),
            notices: broadcast::channel(NOTICES).0,
        })
    }

    /// The mesh a call names (slug or id), else the current mesh.
    pub(super) fn mesh(&self, wanted: Option<&str>) -> Result<MeshEntry, MeshLookup> {
        let config = Config::load(&self.home).map_err(MeshLookup::Config)?;
        let found = match wanted {
            Some(w) => config.by_slug(w).or_else(|| config.by_id(w)),
            None => config.current.as_deref().and_then(|c| config.by_slug(c)),
        };
        found.cloned().ok_or_else(|| MeshLookup::Missing(wanted.map(str::to_string)))
    }

    /// The link of `(mesh, session)`, started if it is not running.
    pub(super) fn link(self: &Arc<Self>, entry: &MeshEntry, session: &str, name: Option<&str>) -> LinkHandle {
        let key = (entry.id.clone(), session.to_string());
        let mut links = lock(&self.links);
        if let Some(h) = links.get(&key).filter(|h| !h.is_closed()) {
            return h.clone();
        }
        let handle = link::spawn(link::LinkSpec {
            daemon: Arc::clone(self),
            entry: entry.clone(),
            session: session.to_string(),
            name: name.map(str::to_string),
        });
        links.insert(key, handle.clone());
        handle
    }

    /// Tells `events.subscribe` subscribers of `mesh` (nobody listening is fine).
    pub(super) fn notify(&self, mesh: &str, method: &'static str, params: Value) {
        let _ = self.notices.send(Notice { mesh: mesh.to_string(), method, params });
    }

    /// Every notice from now on.
    pub(super) fn subscribe_notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// The links that exist now (for `daemon.status`).
    pub(super) fn links(&self) -> Vec<LinkHandle> {
        lock(&self.links).values().filter(|h| !h.is_closed()).cloned().collect()
    }

    /// One link per joined mesh for the person at the terminal (`cli`), so their inbox fills while they are away.
    pub(super) fn open_cli_links(self: &Arc<Self>) {
        match Config::load(&self.home) {
            Ok(config) => {
                for entry in &config.meshes {
                    self.link(entry, "cli", None);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read config.toml"),
        }
    }

    /// A link for every session with queued sends (a daemon that died left them; the session may never come
    /// back), so they go out without waiting to be asked. Each link closes once it has drained and gone idle.
    pub(super) async fn open_outbox_links(self: &Arc<Self>) {
        let sessions = match self.store.run(|db| db.pending_sessions()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the outbox");
                return;
            }
        };
        // Sessions with queued coordination writes replay them on connect, like queued sends.
        let coord = self.store.run(|db| db.coord_pending_sessions()).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the coordination outbox");
            Vec::new()
        });
        let sessions: std::collections::BTreeSet<(String, String)> = sessions.into_iter().chain(coord).collect();
        let config = match Config::load(&self.home) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read config.toml");
                return;
            }
        };
        for (mesh, session) in sessions {
            match config.by_id(&mesh) {
                Some(entry) => {
                    tracing::info!(mesh = %entry.slug, %session, "draining a session's queued sends");
                    self.link(entry, &session, None);
                }
                None => tracing::warn!(%mesh, %session, "queued sends for a mesh that was left; they stay queued"),
            }
        }
    }

    /// After `config.toml` changed: closes links of meshes that are gone, opens `cli` links for new ones, and
    /// restarts links whose broker URL changed.
    pub(super) fn reload(self: &Arc<Self>) -> Result<(), ConfigError> {
        let config = Config::load(&self.home)?;
        {
            let mut links = lock(&self.links);
            links.retain(|(mesh, _), h| {
                let keep = config.by_id(mesh).is_some_and(|e| e.broker == h.broker);
                if !keep {
                    h.close();
                }
                keep
            });
        }
        for entry in &config.meshes {
            self.link(entry, "cli", None);
        }
        Ok(())
    }

    /// Closes every link (their broker connections end cleanly) and waits briefly for them.
    pub(super) async fn close_links(&self) {
        let handles: Vec<LinkHandle> = lock(&self.links).drain().map(|(_, h)| h).collect();
        for h in &handles {
            h.close();
        }
        for h in handles {
            h.closed().await;
        }
    }

    /// Keeps the local entry's mesh name and role as the broker reports them.
    pub(super) fn refresh_entry(&self, mesh_id: &str, name: Option<&str>, role: Option<&str>) {
        let Ok(mut config) = Config::load(&self.home) else { return };
        let Some(entry) = config.by_id_mut(mesh_id) else { return };
        let mut changed = false;
        if let Some(n) = name.filter(|n| *n != entry.name) {
            entry.name = n.to_string();
            changed = true;
        }
        if let Some(r) = role.filter(|r| *r != entry.role) {
            entry.role = r.to_string();
            changed = true;
        }
        if changed && let Err(e) = config.save(&self.home) {
            tracing::warn!(error = %e, "cannot update config.toml");
        }
    }

    /// The identity of a local session in a mesh (its key is created on first use and kept).
    pub(super) fn identity(
        &self,
        entry: &MeshEntry,
        session: &str,
        name: Option<&str>,
    ) -> Result<Identity, IdentityError> {
        let mesh_id = MeshId::try_from(entry.id.clone()).map_err(IdentityError::MeshId)?;
        let member = SigningKey::from_seed(&*self.home.read_member_seed(&entry.id)?);
        let fresh = random_bytes::<32>().map_err(|e| IdentityError::Random(e.to_string()))?;
        let seed = self.home.load_or_create_session_seed(&entry.id, session, &fresh)?;
        let name = name.map_or_else(|| entry.name_requested.clone(), str::to_string);
        Ok(Identity { mesh_id, member, session: SigningKey::from_seed(&seed), name })
    }
}

/// Why a call's mesh could not be found.
#[derive(Debug, thiserror::Error)]
pub(super) enum MeshLookup {
    #[error(transparent)]
    Config(ConfigError),
    #[error("no mesh {}", .0.as_deref().unwrap_or("is current"))]
    Missing(Option<String>),
}

#[derive(Debug, thiserror::Error)]
pub(super) enum IdentityError {
    #[error("bad mesh id: {0}")]
    MeshId(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("no randomness: {0}")]
    Random(String),
}

pub(super) fn now_ms() -> u64 {
    crate::clock::now_ms()
}
