//! `install` and `uninstall`: register claudemesh with Claude Code (user-scope MCP entry, skill, hooks) and record
//! exactly what was added in `$CLAUDEMESH_HOME/install.json`, so `uninstall` removes that and nothing else.
//!
//! Every JSON file is parsed and edited in memory before anything is written, so a malformed file stops the run
//! with nothing changed. A file another process rewrites while we edit it is re-read and edited again.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ClaudeError;
use super::edit::{self, Added, Change, HOOKS, HookSpec, SERVER_NAME, ShapeError};
use super::files::{self, JsonFile, Saved};
use super::paths::ClaudePaths;
use super::skill;

/// How often an edit is retried when someone else keeps rewriting the file.
const ATTEMPTS: usize = 5;

/// `install.json`: what install added, and which containers it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    schema_version: u32,
    installed_at_ms: u64,
    binary: String,
    mcp: McpRecord,
    hooks: HooksRecord,
    skill: SkillRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct McpRecord {
    file: PathBuf,
    /// Install created the file (it goes again when nothing else is left in it).
    #[serde(default)]
    created_file: bool,
    name: String,
    /// Install created the top-level `mcpServers` object.
    created_container: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HooksRecord {
    file: PathBuf,
    #[serde(default)]
    created_file: bool,
    /// Install created the top-level `hooks` object.
    created_container: bool,
    handlers: Vec<HandlerRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HandlerRecord {
    event: String,
    command: String,
    args: Vec<String>,
    /// Install created the `hooks.<event>` array.
    created_event: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SkillRecord {
    dir: PathBuf,
    files: Vec<String>,
    created_dir: bool,
}

impl Record {
    fn load(path: &Path) -> Option<Record> {
        let bytes = files::read_optional(path).ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    fn handler(&self, event: &str) -> Option<&HandlerRecord> {
        self.hooks.handlers.iter().find(|h| h.event == event)
    }
}

/// What `install` did.
#[derive(Debug, Clone)]
pub(crate) struct InstallReport {
    pub binary: String,
    pub mcp_file: PathBuf,
    pub mcp: Change,
    pub hooks_file: PathBuf,
    pub hooks: Vec<(HookSpec, Change)>,
    pub skill_dir: PathBuf,
    pub skill_files: Vec<String>,
    /// `Updated` with an empty `previous` when existing skill files were replaced.
    pub skill: Change,
    pub backups: Vec<PathBuf>,
    pub record: PathBuf,
}

impl InstallReport {
    /// Whether anything was written.
    pub(crate) fn changed(&self) -> bool {
        self.mcp != Change::Unchanged
            || self.skill != Change::Unchanged
            || self.hooks.iter().any(|(_, c)| *c != Change::Unchanged)
    }
}

/// What `uninstall` did; each flag says whether that item was found and removed.
#[derive(Debug, Clone)]
pub(crate) struct UninstallReport {
    pub mcp_file: PathBuf,
    pub mcp: bool,
    pub hooks_file: PathBuf,
    pub hooks: Vec<(HookSpec, bool)>,
    pub skill_dir: PathBuf,
    pub skill_files: Vec<String>,
    pub skill: bool,
    pub backups: Vec<PathBuf>,
}

impl UninstallReport {
    pub(crate) fn changed(&self) -> bool {
        self.mcp || self.skill || self.hooks.iter().any(|(_, removed)| *removed)
    }
}

fn shape(path: &Path, e: ShapeError) -> ClaudeError {
    let pointer = if e.pointer.is_empty() { "(top level)".to_string() } else { e.pointer };
    ClaudeError::WrongShape { path: path.to_path_buf(), pointer, expected: e.expected }
}

/// Parses `path` and applies `edit` in memory only: the check that runs before anything is written.
fn dry_run<T>(path: &Path, edit: &impl Fn(&mut Value) -> Result<T, ShapeError>) -> Result<(), ClaudeError> {
    let mut doc = JsonFile::load(path)?.doc;
    edit(&mut doc).map(|_| ()).map_err(|e| shape(path, e))
}

/// Loads `path`, applies `edit` and writes the result when it changed (after a backup). Retries when another
/// process rewrote the file in between.
fn commit<T>(
    path: &Path,
    stamp: &str,
    edit: &impl Fn(&mut Value) -> Result<T, ShapeError>,
) -> Result<(T, Option<PathBuf>), ClaudeError> {
    for _ in 0..ATTEMPTS {
        let file = JsonFile::load(path)?;
        let mut doc = file.doc.clone();
        let outcome = edit(&mut doc).map_err(|e| shape(path, e))?;
        match file.save(&doc, stamp) {
            Ok(Saved::Unchanged) => return Ok((outcome, None)),
            Ok(Saved::Written { backup }) => return Ok((outcome, backup)),
            Err(ClaudeError::Busy { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ClaudeError::Busy { path: path.to_path_buf() })
}

fn add_all_hooks(doc: &mut Value, binary: &str) -> Result<Vec<Added>, ShapeError> {
    HOOKS.iter().map(|spec| edit::add_hook(doc, spec, binary)).collect()
}

/// Registers claudemesh with Claude Code for `binary` (an absolute path) and writes the record to `record_path`.
/// Running it again changes nothing.
pub(crate) fn install(
    paths: &ClaudePaths,
    binary: &Path,
    record_path: &Path,
    now_ms: u64,
) -> Result<InstallReport, ClaudeError> {
    let binary = binary.to_string_lossy().into_owned();
    let stamp = files::backup_stamp(now_ms / 1000);
    let add_mcp = |doc: &mut Value| edit::add_mcp(doc, &binary);
    let add_hooks = |doc: &mut Value| add_all_hooks(doc, &binary);
    dry_run(&paths.settings, &add_hooks)?;
    dry_run(&paths.global_config, &add_mcp)?;

    let previous = Record::load(record_path);
    let mut backups = Vec::new();

    let created_dir = !paths.skill_dir.is_dir();
    let mut skill_change = Change::Unchanged;
    for (name, contents) in skill::FILES {
        let path = paths.skill_dir.join(name);
        if let Some(backup) = files::write_text(&path, contents, &stamp)? {
            skill_change = match (backup, skill_change) {
                (Some(b), _) => {
                    backups.push(b);
                    Change::Updated { previous: String::new() }
                }
                (None, Change::Unchanged) => Change::Added,
                (None, other) => other,
            };
        }
    }

    let settings_existed = paths.settings.exists();
    let (hooks_added, hooks_backup) = commit(&paths.settings, &stamp, &add_hooks)?;
    backups.extend(hooks_backup);
    let global_existed = paths.global_config.exists();
    let (mcp_added, mcp_backup) = commit(&paths.global_config, &stamp, &add_mcp)?;
    backups.extend(mcp_backup);

    // A container counts as created by install if this run or an earlier one (same file) created it.
    let prev = previous.as_ref();
    let same_settings = prev.is_some_and(|r| r.hooks.file == paths.settings);
    let same_global = prev.is_some_and(|r| r.mcp.file == paths.global_config);
    let record = Record {
        schema_version: 1,
        installed_at_ms: now_ms,
        binary: binary.clone(),
        mcp: McpRecord {
            file: paths.global_config.clone(),
            created_file: !global_existed || (same_global && prev.is_some_and(|r| r.mcp.created_file)),
            name: SERVER_NAME.to_string(),
            created_container: mcp_added.created_parent
                || (same_global && prev.is_some_and(|r| r.mcp.created_container)),
        },
        hooks: HooksRecord {
            file: paths.settings.clone(),
            created_file: !settings_existed || (same_settings && prev.is_some_and(|r| r.hooks.created_file)),
            created_container: hooks_added.iter().any(|a| a.created_root)
                || (same_settings && prev.is_some_and(|r| r.hooks.created_container)),
            handlers: HOOKS
                .iter()
                .zip(&hooks_added)
                .map(|(spec, added)| HandlerRecord {
                    event: spec.event.to_string(),
                    command: binary.clone(),
                    args: spec.args(),
                    created_event: added.created_parent
                        || (same_settings && prev.and_then(|r| r.handler(spec.event)).is_some_and(|h| h.created_event)),
                })
                .collect(),
        },
        skill: SkillRecord {
            dir: paths.skill_dir.clone(),
            files: skill::FILES.iter().map(|(name, _)| name.to_string()).collect(),
            created_dir: created_dir || prev.is_some_and(|r| r.skill.dir == paths.skill_dir && r.skill.created_dir),
        },
    };
    let unchanged_record = prev.is_some_and(|r| Record { installed_at_ms: r.installed_at_ms, ..record.clone() } == *r);
    if !unchanged_record {
        let text = serde_json::to_string_pretty(&record).map_err(|e| ClaudeError::io(record_path, e.into()))?;
        files::replace(record_path, format!("{text}\n").as_bytes(), files::NEW_JSON_MODE)?;
    }

    Ok(InstallReport {
        binary,
        mcp_file: paths.global_config.clone(),
        mcp: mcp_added.change,
        hooks_file: paths.settings.clone(),
        hooks: HOOKS.iter().copied().zip(hooks_added.into_iter().map(|a| a.change)).collect(),
        skill_dir: paths.skill_dir.clone(),
        skill_files: record.skill.files.clone(),
        skill: skill_change,
        backups,
        record: record_path.to_path_buf(),
    })
}

/// Removes what `install` added: the MCP entry, our hook handlers (and the containers install created, when they
/// are left empty), the skill files. Without a record it looks in the current Claude Code paths and removes the
/// same items, recognised by name and shape. Running it again changes nothing.
pub(crate) fn uninstall(paths: &ClaudePaths, record_path: &Path, now_ms: u64) -> Result<UninstallReport, ClaudeError> {
    let stamp = files::backup_stamp(now_ms / 1000);
    let record = Record::load(record_path);
    let rec = record.as_ref();
    let global = rec.map_or_else(|| paths.global_config.clone(), |r| r.mcp.file.clone());
    let settings = rec.map_or_else(|| paths.settings.clone(), |r| r.hooks.file.clone());
    let skill_dir = rec.map_or_else(|| paths.skill_dir.clone(), |r| r.skill.dir.clone());
    let skill_files: Vec<String> =
        rec.map_or_else(|| skill::FILES.iter().map(|(name, _)| name.to_string()).collect(), |r| r.skill.files.clone());
    // Without a record, containers left empty by the removal go too.
    let drop_mcp_servers = rec.is_none_or(|r| r.mcp.created_container);
    let drop_hooks = rec.is_none_or(|r| r.hooks.created_container);
    let drop_event = |event: &str| rec.is_none_or(|r| r.handler(event).is_none_or(|h| h.created_event));

    let remove_mcp = |doc: &mut Value| edit::remove_mcp(doc, drop_mcp_servers);
    let remove_hooks = |doc: &mut Value| -> Result<Vec<bool>, ShapeError> {
        HOOKS.iter().map(|spec| edit::remove_hook(doc, spec, drop_event(spec.event), drop_hooks)).collect()
    };
    dry_run(&settings, &remove_hooks)?;
    dry_run(&global, &remove_mcp)?;

    let mut backups = Vec::new();
    let mut skill_removed = false;
    for name in &skill_files {
        let path = skill_dir.join(name);
        let ours = skill::FILES
            .iter()
            .any(|(n, contents)| n == name && fs::read(&path).is_ok_and(|b| b == contents.as_bytes()));
        if ours {
            // Exactly what install wrote: nothing to keep.
            skill_removed |= match fs::remove_file(&path) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => return Err(ClaudeError::io(path, e)),
            };
        } else if let Some(backup) = files::remove_with_backup(&path, &stamp)? {
            // Edited since install: keep a copy of the edits.
            backups.push(backup);
            skill_removed = true;
        }
    }
    if rec.is_none_or(|r| r.skill.created_dir) {
        // Only succeeds when the directory is empty; other files keep it.
        let _ = fs::remove_dir(&skill_dir);
    }

    let (hooks_removed, hooks_backup) = commit(&settings, &stamp, &remove_hooks)?;
    backups.extend(hooks_backup);
    let (mcp_removed, mcp_backup) = commit(&global, &stamp, &remove_mcp)?;
    backups.extend(mcp_backup);
    if rec.is_some_and(|r| r.hooks.created_file) {
        remove_if_empty(&settings)?;
    }
    if rec.is_some_and(|r| r.mcp.created_file) {
        remove_if_empty(&global)?;
    }
    match fs::remove_file(record_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ClaudeError::io(record_path, e)),
    }

    Ok(UninstallReport {
        mcp_file: global,
        mcp: mcp_removed,
        hooks_file: settings,
        hooks: HOOKS.iter().copied().zip(hooks_removed).collect(),
        skill_dir,
        skill_files,
        skill: skill_removed,
        backups,
    })
}

/// Deletes a JSON file install created once nothing but `{}` is left in it.
fn remove_if_empty(path: &Path) -> Result<(), ClaudeError> {
    let empty = files::read_optional(path)?
        .is_some_and(|b| serde_json::from_slice::<Value>(&b).is_ok_and(|v| v == Value::Object(Default::default())));
    if empty {
        fs::remove_file(path).map_err(|e| ClaudeError::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, ClaudePaths, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let paths = ClaudePaths::resolve(Some(dir.path()), None).unwrap();
        let record = dir.path().join("cm").join("install.json");
        (dir, paths, record)
    }

    fn read(path: &Path) -> Value {
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn install_into_an_empty_home_then_uninstall_leaves_empty_documents() {
        let (_dir, paths, record) = setup();
        let bin = Path::new("/opt/claudemesh");
        let report = install(&paths, bin, &record, 1_000).unwrap();
        assert!(report.changed());
        assert_eq!(report.mcp, Change::Added);
        assert!(report.backups.is_empty());
        assert_eq!(read(&paths.global_config)["mcpServers"]["claudemesh"], edit::mcp_entry("/opt/claudemesh"));
        assert!(paths.skill_dir.join("SKILL.md").is_file());
        let again = install(&paths, bin, &record, 2_000).unwrap();
        assert!(!again.changed());
        assert_eq!(read(&record)["installed_at_ms"], 1_000);

        let removed = uninstall(&paths, &record, 3_000).unwrap();
        assert!(removed.changed() && removed.mcp && removed.skill);
        assert!(!paths.global_config.exists());
        assert!(!paths.settings.exists());
        assert!(!paths.skill_dir.exists());
        assert!(!record.exists());
        assert!(!uninstall(&paths, &record, 4_000).unwrap().changed());
    }

    #[test]
    fn a_moved_binary_updates_the_entries_and_says_from_where() {
        let (_dir, paths, record) = setup();
        install(&paths, Path::new("/old/claudemesh"), &record, 1_000).unwrap();
        let report = install(&paths, Path::new("/new/claudemesh"), &record, 2_000).unwrap();
        assert_eq!(report.mcp, Change::Updated { previous: "/old/claudemesh".into() });
        assert!(report.hooks.iter().all(|(_, c)| *c == Change::Updated { previous: "/old/claudemesh".into() }));
        assert_eq!(report.backups.len(), 2);
        // The record keeps the containers the first install created.
        let removed = uninstall(&paths, &record, 3_000).unwrap();
        assert!(removed.changed());
        assert!(!paths.settings.exists());
    }

    #[test]
    fn edited_skill_files_are_backed_up_on_uninstall() {
        let (_dir, paths, record) = setup();
        install(&paths, Path::new("/opt/claudemesh"), &record, 1_000).unwrap();
        fs::write(paths.skill_dir.join("SKILL.md"), "mine").unwrap();
        let removed = uninstall(&paths, &record, 2_000).unwrap();
        let kept: Vec<&PathBuf> = removed.backups.iter().filter(|b| b.starts_with(&paths.skill_dir)).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(fs::read_to_string(kept[0]).unwrap(), "mine");
        assert!(!paths.skill_dir.join("SKILL.md").exists());
    }

    #[test]
    fn a_wrong_shape_stops_before_anything_is_written() {
        let (_dir, paths, record) = setup();
        fs::create_dir_all(&paths.config_dir).unwrap();
        fs::write(&paths.settings, r#"{"hooks": []}"#).unwrap();
        let err = install(&paths, Path::new("/opt/claudemesh"), &record, 1_000).unwrap_err();
        assert!(matches!(err, ClaudeError::WrongShape { ref pointer, .. } if pointer == "hooks"), "{err:?}");
        assert!(!paths.global_config.exists());
        assert!(!paths.skill_dir.exists());
        assert!(!record.exists());
    }
}
