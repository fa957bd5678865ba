//! `config.toml`: the joined meshes and which one is current. Loaded once per command, written atomically.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::files::{Home, write_private_atomic};

/// One mesh membership as stored locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MeshEntry {
    /// Local handle (`--mesh SLUG`), unique in this home.
    pub slug: String,
    /// Mesh id (UUID).
    pub id: String,
    pub name: String,
    /// Broker WebSocket URL.
    pub broker: String,
    /// `owner`, `admin`, `member` or `guest`, as last reported by the broker.
    pub role: String,
    /// Member public key, 64 lowercase hex chars (the seed lives in `keys/<id>/member.key`).
    pub member_key: String,
    /// Display name asked for at hello (the broker may add a suffix).
    pub name_requested: String,
    pub joined_at_ms: u64,
}

/// The whole `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default, rename = "mesh")]
    pub meshes: Vec<MeshEntry>,
}

impl Config {
    /// Reads `config.toml`; a missing file is an empty configuration.
    pub(crate) fn load(home: &Home) -> Result<Self, ConfigError> {
        let path = home.config_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(ConfigError::io(path, e)),
        };
        toml::from_str(&text).map_err(|e| ConfigError::Invalid { path, reason: e.message().to_string() })
    }

    /// Writes `config.toml` atomically (0600, home 0700).
    pub(crate) fn save(&self, home: &Home) -> Result<(), ConfigError> {
        home.ensure_root()?;
        let path = home.config_path();
        let text = toml::to_string_pretty(self)
            .map_err(|e| ConfigError::Invalid { path: path.clone(), reason: e.to_string() })?;
        write_private_atomic(&path, text.as_bytes())
    }

    pub(crate) fn by_slug(&self, slug: &str) -> Option<&MeshEntry> {
        self.meshes.iter().find(|m| m.slug == slug)
    }

    pub(crate) fn by_id(&self, id: &str) -> Option<&MeshEntry> {
        self.meshes.iter().find(|m| m.id == id)
    }

    pub(crate) fn by_id_mut(&mut self, id: &str) -> Option<&mut MeshEntry> {
        self.meshes.iter_mut().find(|m| m.id == id)
    }

    /// A slug for `name` that no local mesh uses yet: `slugify(name)`, then `-2`, `-3`, ...
    pub(crate) fn unique_slug(&self, name: &str) -> String {
        let base = slugify(name);
        if self.by_slug(&base).is_none() {
            return base;
        }
        (2u32..).map(|n| format!("{base}-{n}")).find(|candidate| self.by_slug(candidate).is_none()).unwrap_or(base)
    }

    /// Adds a mesh and makes it current.
    pub(crate) fn add_current(&mut self, entry: MeshEntry) {
        self.current = Some(entry.slug.clone());
        self.meshes.push(entry);
    }

    /// Removes a mesh; if it was current, the first remaining mesh becomes current.
    pub(crate) fn remove(&mut self, id: &str) -> Option<MeshEntry> {
        let pos = self.meshes.iter().position(|m| m.id == id)?;
        let removed = self.meshes.remove(pos);
        if self.current.as_deref() == Some(removed.slug.as_str()) {
            self.current = self.meshes.first().map(|m| m.slug.clone());
        }
        Some(removed)
    }
}

/// Lowercase, every run of non-alphanumeric characters becomes one `-`, no leading/trailing `-`; `mesh` if empty.
pub(crate) fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    if out.is_empty() { "mesh".to_string() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(slug: &str, id: &str) -> MeshEntry {
        MeshEntry {
            slug: slug.into(),
            id: id.into(),
            name: slug.into(),
            broker: "ws://127.0.0.1:1/ws".into(),
            role: "owner".into(),
            member_key: "ab".repeat(32),
            name_requested: "alice".into(),
            joined_at_ms: 1,
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("My Team"), "my-team");
        assert_eq!(slugify("  --Alpha__Beta!! "), "alpha-beta");
        assert_eq!(slugify("!!!"), "mesh");
        assert_eq!(slugify("Équipe"), "équipe");
    }

    #[test]
    fn slugs_are_deduplicated_locally() {
        let mut c = Config::default();
        assert_eq!(c.unique_slug("Team"), "team");
        c.add_current(entry("team", "1"));
        assert_eq!(c.unique_slug("team"), "team-2");
        c.add_current(entry("team-2", "2"));
        assert_eq!(c.unique_slug("TEAM"), "team-3");
    }

    #[test]
    fn removing_the_current_mesh_picks_another() {
        let mut c = Config::default();
        c.add_current(entry("a", "1"));
        c.add_current(entry("b", "2"));
        assert_eq!(c.current.as_deref(), Some("b"));
        c.remove("2");
        assert_eq!(c.current.as_deref(), Some("a"));
        c.remove("1");
        assert_eq!(c.current, None);
    }

    #[test]
    fn round_trips_through_toml() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        assert_eq!(Config::load(&home).unwrap(), Config::default());
        let mut c = Config::default();
        c.add_current(entry("a", "1"));
        c.save(&home).unwrap();
        let text = std::fs::read_to_string(home.config_path()).unwrap();
        assert!(text.contains("current = \"a\""), "{text}");
        assert!(text.contains("[[mesh]]"), "{text}");
        assert_eq!(Config::load(&home).unwrap(), c);
    }
}
