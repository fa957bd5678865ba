//! Reading, backing up and atomically replacing the user's Claude Code files. A changed file is first copied to
//! `<file>.claudemesh-backup-<UTC timestamp>`, then replaced through a temp file and a rename, keeping its mode;
//! symlinks are followed so a dotfiles link stays a link.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ClaudeError;

/// Mode for JSON files claudemesh creates (Claude Code's own files hold tokens and history).
pub(super) const NEW_JSON_MODE: u32 = 0o600;
/// Mode for skill files claudemesh creates.
pub(super) const NEW_TEXT_MODE: u32 = 0o644;

/// A JSON file as read: its document, and the bytes it had (to back up, and to notice a concurrent writer).
#[derive(Debug)]
pub(super) struct JsonFile {
    /// The path as configured (what the user is told).
    pub path: PathBuf,
    /// The document; an empty object when the file is absent or blank.
    pub doc: Value,
    original: Option<Vec<u8>>,
}

impl JsonFile {
    /// Reads and parses `path`. Malformed JSON is an error naming the file; nothing is written.
    pub(super) fn load(path: &Path) -> Result<Self, ClaudeError> {
        let original = read_optional(path)?;
        let doc = match &original {
            None => Value::Object(Default::default()),
            Some(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Value::Object(Default::default()),
            Some(bytes) => serde_json::from_slice(bytes)
                .map_err(|e| ClaudeError::Malformed { path: path.to_path_buf(), detail: e.to_string() })?,
        };
        Ok(Self { path: path.to_path_buf(), doc, original })
    }

    /// Replaces the file with `doc` (pretty-printed with two spaces, as Claude Code writes it) unless `doc` equals
    /// what was read. Returns the backup path when an existing file was replaced. Fails with `Busy` when someone
    /// else changed the file since `load`; the caller reloads and tries again.
    pub(super) fn save(&self, doc: &Value, stamp: &str) -> Result<Saved, ClaudeError> {
        if *doc == self.doc {
            return Ok(Saved::Unchanged);
        }
        let mut text =
            serde_json::to_string_pretty(doc).map_err(|e| ClaudeError::io(&self.path, std::io::Error::other(e)))?;
        let trailing_newline = self.original.as_ref().is_none_or(|b| b.ends_with(b"\n"));
        if trailing_newline {
            text.push('\n');
        }
        if read_optional(&self.path)? != self.original {
            return Err(ClaudeError::Busy { path: self.path.clone() });
        }
        let backup = match &self.original {
            Some(bytes) => Some(write_backup(&self.path, bytes, stamp)?),
            None => None,
        };
        replace(&self.path, text.as_bytes(), NEW_JSON_MODE)?;
        Ok(Saved::Written { backup })
    }
}

/// What `save` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Saved {
    Unchanged,
    Written { backup: Option<PathBuf> },
}

/// Writes a text file unless it already holds `contents`; backs up an existing different file first. Returns
/// `None` when nothing was written, else `Some(backup)`.
pub(super) fn write_text(path: &Path, contents: &str, stamp: &str) -> Result<Option<Option<PathBuf>>, ClaudeError> {
    let current = read_optional(path)?;
    if current.as_deref() == Some(contents.as_bytes()) {
        return Ok(None);
    }
    let backup = match &current {
        Some(bytes) => Some(write_backup(path, bytes, stamp)?),
        None => None,
    };
    replace(path, contents.as_bytes(), NEW_TEXT_MODE)?;
    Ok(Some(backup))
}

/// Removes a file, backing it up first; returns the backup, `None` when the file was not there.
pub(super) fn remove_with_backup(path: &Path, stamp: &str) -> Result<Option<PathBuf>, ClaudeError> {
    let Some(bytes) = read_optional(path)? else { return Ok(None) };
    let backup = write_backup(path, &bytes, stamp)?;
    fs::remove_file(path).map_err(|e| ClaudeError::io(path, e))?;
    Ok(Some(backup))
}

/// The file's bytes, or `None` when it does not exist.
pub(super) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ClaudeError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ClaudeError::io(path, e)),
    }
}

/// `<path>.claudemesh-backup-<stamp>` (with `-2`, `-3` … when that exists), holding `bytes` with the file's mode.
fn write_backup(path: &Path, bytes: &[u8], stamp: &str) -> Result<PathBuf, ClaudeError> {
    let mode = current_mode(path).unwrap_or(NEW_JSON_MODE);
    let base = format!("{}.claudemesh-backup-{stamp}", path.display());
    for n in 1..100u32 {
        let candidate = PathBuf::from(if n == 1 { base.clone() } else { format!("{base}-{n}") });
        match create_new(&candidate, bytes, mode) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ClaudeError::io(candidate, e)),
        }
    }
    Err(ClaudeError::io(base, std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
}

/// Atomically replaces the file behind `path` (following symlinks), keeping an existing file's mode and using
/// `new_mode` for a new one. Missing parent directories are created.
pub(super) fn replace(path: &Path, contents: &[u8], new_mode: u32) -> Result<(), ClaudeError> {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mode = current_mode(&target).unwrap_or(new_mode);
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).map_err(|e| ClaudeError::io(dir, e))?;
    }
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.claudemesh-{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = create_new(&tmp, contents, mode).and_then(|()| fs::rename(&tmp, &target));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(ClaudeError::io(path, e));
    }
    Ok(())
}

fn create_new(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    // The umask may have narrowed the mode; the copy must match the original.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()
}

fn current_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (UTC).
pub(super) fn backup_stamp(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).unwrap_or(0);
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Howard Hinnant's days-to-civil for the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(backup_stamp(0), "19700101T000000Z");
        assert_eq!(backup_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(backup_stamp(1_795_431_343), "20261123T105543Z");
    }

    #[test]
    fn save_backs_up_keeps_mode_and_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(&path, "{\"a\": 1}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let file = JsonFile::load(&path).unwrap();
        let doc = serde_json::json!({"a": 1, "b": 2});
        let saved = file.save(&doc, "T").unwrap();
        let backup = dir.path().join("s.json.claudemesh-backup-T");
        assert_eq!(saved, Saved::Written { backup: Some(backup.clone()) });
        assert_eq!(fs::read_to_string(&backup).unwrap(), "{\"a\": 1}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\n  \"a\": 1,\n  \"b\": 2\n}");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o640);
        // A second backup in the same second gets its own name.
        let file = JsonFile::load(&path).unwrap();
        let saved = file.save(&serde_json::json!({}), "T").unwrap();
        assert_eq!(saved, Saved::Written { backup: Some(dir.path().join("s.json.claudemesh-backup-T-2")) });
    }

    #[test]
    fn a_concurrent_change_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        fs::write(&path, "{}").unwrap();
        let file = JsonFile::load(&path).unwrap();
        fs::write(&path, "{\"theirs\": true}").unwrap();
        assert!(matches!(file.save(&serde_json::json!({"ours": 1}), "T"), Err(ClaudeError::Busy { .. })));
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"theirs\": true}");
    }

    #[test]
    fn symlinked_files_are_written_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        fs::write(&real, "{}\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        JsonFile::load(&link).unwrap().save(&serde_json::json!({"x": 1}), "T").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "{\n  \"x\": 1\n}\n");
    }

    #[test]
    fn malformed_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        fs::write(&path, "{\"a\": ").unwrap();
        match JsonFile::load(&path) {
            Err(ClaudeError::Malformed { path: p, .. }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
    }
}
