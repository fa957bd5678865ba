//! The home directory layout and private file primitives: 0700 directories, 0600 files, atomic replace.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// The claudemesh home directory (`$CLAUDEMESH_HOME` or `~/.claudemesh`) and the paths inside it.
#[derive(Debug, Clone)]
pub(crate) struct Home {
    root: PathBuf,
}

/// A private path whose permissions are looser than they should be (fixed on the next write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PermissionWarning {
    pub path: PathBuf,
    /// The current mode bits (`0o755`, ...).
    pub mode: u32,
    /// The mode claudemesh expects (`0o700` or `0o600`).
    pub expected: u32,
}

impl Home {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The home directory itself.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub(crate) fn data_db_path(&self) -> PathBuf {
        self.root.join("data.db")
    }

    pub(crate) fn keys_root(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub(crate) fn mesh_keys_dir(&self, mesh_id: &str) -> PathBuf {
        self.keys_root().join(mesh_id)
    }

    /// Creates the home directory with mode 0700 (and tightens it if it exists with looser bits).
    pub(crate) fn ensure_root(&self) -> Result<(), ConfigError> {
        ensure_private_dir(&self.root)
    }

    /// Private paths that exist with looser permissions than expected: the home, `config.toml`, `data.db`
    /// and every key directory and key file.
    pub(crate) fn permission_warnings(&self) -> Vec<PermissionWarning> {
        let mut out = Vec::new();
        check_mode(&self.root, 0o700, &mut out);
        check_mode(&self.config_path(), 0o600, &mut out);
        check_mode(&self.data_db_path(), 0o600, &mut out);
        let keys = self.keys_root();
        check_mode(&keys, 0o700, &mut out);
        if let Ok(meshes) = fs::read_dir(&keys) {
            for mesh in meshes.flatten() {
                let dir = mesh.path();
                check_mode(&dir, 0o700, &mut out);
                if let Ok(files) = fs::read_dir(&dir) {
                    for file in files.flatten() {
                        check_mode(&file.path(), 0o600, &mut out);
                    }
                }
            }
        }
        out
    }

    /// Tightens every path `permission_warnings` reports.
    pub(crate) fn fix_permissions(&self) -> Result<(), ConfigError> {
        for w in self.permission_warnings() {
            set_mode(&w.path, w.expected)?;
        }
        Ok(())
    }
}

/// Creates `dir` (and missing parents) and makes `dir` itself 0700.
pub(super) fn ensure_private_dir(dir: &Path) -> Result<(), ConfigError> {
    fs::create_dir_all(dir).map_err(|e| ConfigError::io(dir, e))?;
    set_mode(dir, 0o700)
}

/// Writes `contents` to `path` atomically with mode 0600: a temp file in the same directory, fsync, rename.
pub(super) fn write_private_atomic(path: &Path, contents: &[u8]) -> Result<(), ConfigError> {
    let tmp = temp_sibling(path);
    let result =
        write_new_private(&tmp, contents).and_then(|()| fs::rename(&tmp, path).map_err(|e| ConfigError::io(path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `contents` to `path` only if `path` does not exist yet. Returns `false` when another writer won the race
/// (the existing file is left untouched). Readers never see a partial file: the contents go to a temp file that is
/// then hard-linked into place.
pub(super) fn write_private_if_absent(path: &Path, contents: &[u8]) -> Result<bool, ConfigError> {
    let tmp = temp_sibling(path);
    write_new_private(&tmp, contents)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(ConfigError::io(path, e)),
    }
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    path.with_file_name(format!(".{name}.{}.tmp", &unique[..12]))
}

fn write_new_private(path: &Path, contents: &[u8]) -> Result<(), ConfigError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| ConfigError::io(path, e))?;
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(|e| ConfigError::io(path, e))?;
    set_mode(path, 0o600)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let current = fs::metadata(path).map_err(|e| ConfigError::io(path, e))?.permissions().mode() & 0o777;
    if current != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| ConfigError::io(path, e))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), ConfigError> {
    Ok(())
}

#[cfg(unix)]
fn check_mode(path: &Path, expected: u32, out: &mut Vec<PermissionWarning>) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        // Looser = any bit set that the expected mode does not grant (group/other access).
        if mode & !expected != 0 {
            out.push(PermissionWarning { path: path.to_path_buf(), mode, expected });
        }
    }
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _expected: u32, _out: &mut Vec<PermissionWarning>) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn atomic_writes_are_private_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        home.ensure_root().unwrap();
        assert_eq!(mode(&dir.path().join("h")), 0o700);
        let p = home.config_path();
        write_private_atomic(&p, b"one").unwrap();
        write_private_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(mode(&p), 0o600);
        let leftovers: Vec<_> =
            fs::read_dir(dir.path().join("h")).unwrap().flatten().filter(|e| e.file_name() != "config.toml").collect();
        assert!(leftovers.is_empty(), "temp files left behind: {leftovers:?}");
    }

    #[test]
    fn write_if_absent_keeps_the_first_writer() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        assert!(write_private_if_absent(&p, b"first").unwrap());
        assert!(!write_private_if_absent(&p, b"second").unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn loose_permissions_are_reported_and_fixed_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("h"));
        let root = dir.path().join("h");
        fs::create_dir_all(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let warnings = home.permission_warnings();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].mode, 0o755);
        home.ensure_root().unwrap();
        assert!(home.permission_warnings().is_empty());
        fs::write(home.config_path(), "").unwrap();
        fs::set_permissions(home.config_path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(home.permission_warnings().len(), 1);
        home.fix_permissions().unwrap();
        assert_eq!(mode(&home.config_path()), 0o600);
    }
}
