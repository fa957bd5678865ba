//! Where Claude Code keeps the files `install` edits, as Claude Code 2.1.x resolves them.
//!
//! Claude Code's config directory is `$CLAUDE_CONFIG_DIR`, else `~/.claude` (settings.json, skills/). Its global
//! config (user-scope MCP servers) is `.claude.json` in `$CLAUDE_CONFIG_DIR`, else in `$HOME`; a legacy
//! `<config dir>/.config.json`, when it exists, is used instead. (Read from the 2.1.197 bundle.)

use std::path::{Path, PathBuf};

use super::edit::SERVER_NAME;

/// The Claude Code files claudemesh touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaudePaths {
    /// `$CLAUDE_CONFIG_DIR` or `~/.claude`.
    pub config_dir: PathBuf,
    /// The global config holding user-scope `mcpServers` (`~/.claude.json`).
    pub global_config: PathBuf,
    /// User settings holding `hooks` (`~/.claude/settings.json`).
    pub settings: PathBuf,
    /// The personal skill directory (`~/.claude/skills/claudemesh`).
    pub skill_dir: PathBuf,
}

impl ClaudePaths {
    /// Resolves the paths from `$HOME` and `$CLAUDE_CONFIG_DIR`; `None` without either.
    pub(crate) fn resolve(home: Option<&Path>, claude_config_dir: Option<&Path>) -> Option<Self> {
        let legacy_exists = |dir: &Path| dir.join(".config.json").is_file();
        Self::resolve_with(home, claude_config_dir, legacy_exists)
    }

    fn resolve_with(
        home: Option<&Path>,
        claude_config_dir: Option<&Path>,
        legacy_exists: impl Fn(&Path) -> bool,
    ) -> Option<Self> {
        let config_dir = match (claude_config_dir, home) {
            (Some(dir), _) => dir.to_path_buf(),
            (None, Some(home)) => home.join(".claude"),
            (None, None) => return None,
        };
        let global_config = if legacy_exists(&config_dir) {
            config_dir.join(".config.json")
        } else {
            claude_config_dir.or(home)?.join(".claude.json")
        };
        Some(Self {
            settings: config_dir.join("settings.json"),
            skill_dir: config_dir.join("skills").join(SERVER_NAME),
            global_config,
            config_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_layout_without_config_dir() {
        let p = ClaudePaths::resolve_with(Some(Path::new("/h")), None, |_| false).unwrap();
        assert_eq!(p.global_config, PathBuf::from("/h/.claude.json"));
        assert_eq!(p.settings, PathBuf::from("/h/.claude/settings.json"));
        assert_eq!(p.skill_dir, PathBuf::from("/h/.claude/skills/claudemesh"));
    }

    #[test]
    fn config_dir_replaces_home_for_everything() {
        let p = ClaudePaths::resolve_with(Some(Path::new("/h")), Some(Path::new("/c")), |_| false).unwrap();
        assert_eq!(p.global_config, PathBuf::from("/c/.claude.json"));
        assert_eq!(p.settings, PathBuf::from("/c/settings.json"));
        assert_eq!(p.skill_dir, PathBuf::from("/c/skills/claudemesh"));
    }

    #[test]
    fn legacy_config_json_wins_when_present() {
        let p = ClaudePaths::resolve_with(Some(Path::new("/h")), None, |_| true).unwrap();
        assert_eq!(p.global_config, PathBuf::from("/h/.claude/.config.json"));
    }

    #[test]
    fn nothing_without_home_or_config_dir() {
        assert_eq!(ClaudePaths::resolve_with(None, None, |_| false), None);
    }
}
