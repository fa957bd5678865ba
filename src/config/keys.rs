//! Key files: `keys/<mesh_id>/member.key` and `keys/<mesh_id>/session-<sid>.key`, each 64 hex chars of an
//! ed25519 seed and a newline. Seeds only; turning them into keys is the caller's business (crypto).

use std::fs;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::ConfigError;
use super::files::{Home, ensure_private_dir, write_private_atomic, write_private_if_absent};

/// `CLAUDE_CODE_SESSION_ID` reduced to `[A-Za-z0-9_-]`, at most 64 chars; `cli` when unset or nothing survives.
pub(crate) fn sanitize_session_id(raw: Option<&str>) -> String {
    let cleaned: String =
        raw.unwrap_or("").chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(64).collect();
    if cleaned.is_empty() { "cli".to_string() } else { cleaned }
}

impl Home {
    pub(crate) fn member_key_path(&self, mesh_id: &str) -> PathBuf {
        self.mesh_keys_dir(mesh_id).join("member.key")
    }

    pub(crate) fn session_key_path(&self, mesh_id: &str, session_id: &str) -> PathBuf {
        self.mesh_keys_dir(mesh_id).join(format!("session-{session_id}.key"))
    }

    fn ensure_mesh_keys_dir(&self, mesh_id: &str) -> Result<(), ConfigError> {
        self.ensure_root()?;
        ensure_private_dir(&self.keys_root())?;
        ensure_private_dir(&self.mesh_keys_dir(mesh_id))
    }

    /// Writes the member seed for a mesh (replacing any previous one).
    pub(crate) fn write_member_seed(&self, mesh_id: &str, seed: &[u8; 32]) -> Result<(), ConfigError> {
        self.ensure_mesh_keys_dir(mesh_id)?;
        write_private_atomic(&self.member_key_path(mesh_id), encode_seed(seed).as_bytes())
    }

    pub(crate) fn read_member_seed(&self, mesh_id: &str) -> Result<Zeroizing<[u8; 32]>, ConfigError> {
        read_seed(&self.member_key_path(mesh_id))
    }

    /// The session seed for `(mesh, session id)`: read if present, otherwise persist `fresh` and return it.
    /// Concurrent first uses agree on one seed (the first writer wins; the others read it back), and once written
    /// the seed never changes, so a session keeps its identity.
    pub(crate) fn load_or_create_session_seed(
        &self,
        mesh_id: &str,
        session_id: &str,
        fresh: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, ConfigError> {
        let path = self.session_key_path(mesh_id, session_id);
        if path.exists() {
            return read_seed(&path);
        }
        self.ensure_mesh_keys_dir(mesh_id)?;
        if write_private_if_absent(&path, encode_seed(fresh).as_bytes())? {
            Ok(Zeroizing::new(*fresh))
        } else {
            read_seed(&path)
        }
    }

    /// The session seed if this session has connected to the mesh before.
    pub(crate) fn read_session_seed(
        &self,
        mesh_id: &str,
        session_id: &str,
    ) -> Result<Option<Zeroizing<[u8; 32]>>, ConfigError> {
        let path = self.session_key_path(mesh_id, session_id);
        if !path.exists() {
            return Ok(None);
        }
        read_seed(&path).map(Some)
    }

    /// Deletes every key of a mesh (member and sessions).
    pub(crate) fn remove_mesh_keys(&self, mesh_id: &str) -> Result<(), ConfigError> {
        let dir = self.mesh_keys_dir(mesh_id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ConfigError::io(dir, e)),
        }
    }
}

fn encode_seed(seed: &[u8; 32]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(hex::encode(seed));
    s.push('\n');
    s
}

fn read_seed(path: &Path) -> Result<Zeroizing<[u8; 32]>, ConfigError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => Zeroizing::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::MissingKey { path: path.to_path_buf() });
        }
        Err(e) => return Err(ConfigError::io(path, e)),
    };
    let mut seed = Zeroizing::new([0u8; 32]);
    let trimmed = text.trim();
    if trimmed.len() != 64 || hex::decode_to_slice(trimmed, seed.as_mut_slice()).is_err() {
        return Err(ConfigError::Invalid { path: path.to_path_buf(), reason: "expected 64 hex characters".into() });
    }
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_sanitised() {
        assert_eq!(sanitize_session_id(None), "cli");
        assert_eq!(sanitize_session_id(Some("../../etc")), "etc");
        assert_eq!(sanitize_session_id(Some("a b/c_d-e")), "abc_d-e");
        assert_eq!(sanitize_session_id(Some("///")), "cli");
        assert_eq!(sanitize_session_id(Some(&"x".repeat(100))).len(), 64);
    }

    #[test]
    fn seeds_round_trip_and_session_seed_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        home.write_member_seed("m", &[7; 32]).unwrap();
        assert_eq!(*home.read_member_seed("m").unwrap(), [7; 32]);
        let text = fs::read_to_string(home.member_key_path("m")).unwrap();
        assert_eq!(text, format!("{}\n", "07".repeat(32)));
        let first = home.load_or_create_session_seed("m", "cli", &[1; 32]).unwrap();
        let again = home.load_or_create_session_seed("m", "cli", &[2; 32]).unwrap();
        assert_eq!(*first, [1; 32]);
        assert_eq!(*again, [1; 32]);
        assert!(home.read_session_seed("m", "other").unwrap().is_none());
        home.remove_mesh_keys("m").unwrap();
        assert!(matches!(home.read_member_seed("m"), Err(ConfigError::MissingKey { .. })));
    }

    #[test]
    fn corrupt_key_files_are_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().to_path_buf());
        home.write_member_seed("m", &[0; 32]).unwrap();
        fs::write(home.member_key_path("m"), "zz\n").unwrap();
        assert!(matches!(home.read_member_seed("m"), Err(ConfigError::Invalid { .. })));
    }
}
