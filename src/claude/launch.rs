//! `claudemesh launch`: find `claude` on PATH, scrub the inherited Claude Code session variables, set the mesh
//! variables, and exec `claude` with the claudemesh development channel enabled.

use std::collections::HashMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::ClaudeError;
use super::edit::SERVER_NAME;

/// The channel `launch` enables; `server:` + the MCP server name.
pub(crate) const CHANNEL: &str = "server:claudemesh";

/// The first executable `name` on `path` (a `PATH` value); a name with a slash is taken as a path.
pub(crate) fn find_on_path(name: &str, path: Option<&str>) -> Option<PathBuf> {
    find_with(name, path, is_executable_file)
}

fn find_with(name: &str, path: Option<&str>, is_executable: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    // An empty PATH entry means the current directory; skip it rather than run whatever `claude` lies around.
    path?.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(name)).find(|p| is_executable(p))
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether Claude Code's global config has a user-scope `claudemesh` MCP server. A missing or unreadable file
/// counts as not installed. Parses only `mcpServers` keys, so a large `~/.claude.json` stays cheap.
pub(crate) fn is_installed(global_config: &Path) -> bool {
    #[derive(Deserialize)]
    struct Global {
        #[serde(rename = "mcpServers", default)]
        mcp_servers: HashMap<String, IgnoredAny>,
    }
    fs::read(global_config)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Global>(&bytes).ok())
        .is_some_and(|g| g.mcp_servers.contains_key(SERVER_NAME))
}

/// `claude`, found on the environment's `PATH`: the one way to a `LaunchPlan` (used by `claudemesh launch` and by
/// the TUI's handoff, so there is no second way of building the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaudeBinary {
    program: PathBuf,
}

impl ClaudeBinary {
    /// Looks `claude` up on `env.path`.
    pub(crate) fn find(env: &crate::config::Env) -> Result<Self, ClaudeError> {
        find_on_path("claude", env.path.as_deref()).map(|program| Self { program }).ok_or(ClaudeError::ClaudeNotFound)
    }

    /// The exec for `mesh`, scrubbing the inherited Claude Code session variables of `env`.
    pub(crate) fn plan(
        &self,
        env: &crate::config::Env,
        mesh: &str,
        name: Option<&str>,
        user_args: &[String],
    ) -> LaunchPlan {
        LaunchPlan::new(self.program.clone(), user_args, &env.claude_session_vars, mesh, name)
    }
}

/// Everything `exec` needs: the program, its arguments and the environment changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaunchPlan {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Variables removed from the inherited environment.
    pub remove: Vec<String>,
    /// Variables set (after the removals).
    pub set: Vec<(String, String)>,
}

impl LaunchPlan {
    /// `claude --dangerously-load-development-channels=server:claudemesh <user args>`. The `=` form matters: the
    /// flag is variadic and would swallow the user's first argument.
    pub(crate) fn new(
        program: PathBuf,
        user_args: &[String],
        scrub: &[String],
        mesh: &str,
        name: Option<&str>,
    ) -> Self {
        let mut args = vec![format!("--dangerously-load-development-channels={CHANNEL}")];
        args.extend(user_args.iter().cloned());
        let mut set = vec![("CLAUDEMESH_MESH".to_string(), mesh.to_string())];
        if let Some(name) = name {
            set.push(("CLAUDEMESH_NAME".to_string(), name.to_string()));
        }
        set.push(("CLAUDEMESH_CHANNELS".to_string(), CHANNEL.to_string()));
        Self { program, args, remove: scrub.to_vec(), set }
    }

    /// Replaces this process with `claude`; returns only when that fails.
    pub(crate) fn exec(self) -> ClaudeError {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for name in &self.remove {
            cmd.env_remove(name);
        }
        for (name, value) in &self.set {
            cmd.env(name, value);
        }
        let source = cmd.exec();
        ClaudeError::Exec { path: self.program, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup_takes_the_first_executable_and_skips_empty_entries() {
        let exists = |p: &Path| p == Path::new("/b/claude") || p == Path::new("/c/claude") || p == Path::new("claude");
        assert_eq!(find_with("claude", Some("/a::/b:/c"), exists), Some(PathBuf::from("/b/claude")));
        assert_eq!(find_with("claude", Some(":/a"), exists), None);
        assert_eq!(find_with("claude", None, exists), None);
        assert_eq!(find_with("/c/claude", None, exists), Some(PathBuf::from("/c/claude")));
    }

    #[test]
    fn real_lookup_checks_the_executable_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("claude");
        fs::write(&file, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().to_string_lossy().into_owned();
        assert_eq!(find_on_path("claude", Some(&path)), None);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_on_path("claude", Some(&path)), Some(file));
    }

    #[test]
    fn plan_puts_the_channel_flag_first_with_equals_and_keeps_user_args_in_order() {
        let user = vec!["--resume".to_string(), "abc".to_string(), "--".to_string(), "hi there".to_string()];
        let scrub = vec!["CLAUDECODE".to_string(), "CLAUDE_CODE_SESSION_ID".to_string()];
        let plan = LaunchPlan::new(PathBuf::from("/bin/claude"), &user, &scrub, "team", Some("alice"));
        assert_eq!(plan.args[0], "--dangerously-load-development-channels=server:claudemesh");
        assert_eq!(&plan.args[1..], user.as_slice());
        assert_eq!(plan.remove, scrub);
        assert!(plan.set.contains(&("CLAUDEMESH_MESH".into(), "team".into())));
        assert!(plan.set.contains(&("CLAUDEMESH_NAME".into(), "alice".into())));
        assert!(plan.set.contains(&("CLAUDEMESH_CHANNELS".into(), "server:claudemesh".into())));
        let unnamed = LaunchPlan::new(PathBuf::from("/bin/claude"), &[], &[], "team", None);
        assert!(!unnamed.set.iter().any(|(k, _)| k == "CLAUDEMESH_NAME"));
    }

    #[test]
    fn installed_means_a_user_scope_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".claude.json");
        assert!(!is_installed(&path));
        fs::write(&path, r#"{"projects":{"/p":{"mcpServers":{"claudemesh":{}}}},"mcpServers":{"x":{}}}"#).unwrap();
        assert!(!is_installed(&path));
        fs::write(&path, r#"{"numStartups":3,"mcpServers":{"claudemesh":{"command":"/x"}}}"#).unwrap();
        assert!(is_installed(&path));
        fs::write(&path, "{").unwrap();
        assert!(!is_installed(&path));
    }
}
