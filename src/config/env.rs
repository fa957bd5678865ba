//! A snapshot of the environment variables claudemesh honours, read once at start-up and passed down.

use std::path::PathBuf;

/// The process environment as claudemesh sees it. Nothing else in the crate reads environment variables.
#[derive(Debug, Clone, Default)]
pub(crate) struct Env {
    /// `CLAUDEMESH_HOME`.
    pub claudemesh_home: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `CLAUDEMESH_MESH`: the mesh to use when `--mesh` is absent.
    pub mesh: Option<String>,
    /// `CLAUDEMESH_BROKER`: the broker for `new` when `--broker` is absent.
    pub broker: Option<String>,
    /// `CLAUDE_CODE_SESSION_ID`: keys the session key so a resumed session keeps its identity.
    pub session_id: Option<String>,
    /// `USER`: the default display name.
    pub user: Option<String>,
    /// `CLAUDEMESH_LOCALE`, then `CLAUDEMESH_LANG`, `LC_ALL`, `LC_MESSAGES`, `LANG`: the first one set.
    pub locale: Option<String>,
    /// `NO_COLOR` set to anything non-empty.
    pub no_color: bool,
    /// `CLAUDEMESH_ASCII` set (and not `0`): ASCII icons instead of Unicode.
    pub ascii: bool,
    /// `LC_ALL`, then `LC_CTYPE`, `LANG`: the first one set; says whether the terminal speaks UTF-8.
    pub ctype_locale: Option<String>,
    /// `CLAUDEMESH_LOG`, else `RUST_LOG`: a tracing filter for stderr logs.
    pub log_filter: Option<String>,
    /// `CLAUDEMESH_NAME`: the display name of this session's peer (set by `launch --name`).
    pub session_name: Option<String>,
    /// `CLAUDEMESH_ADMIN_POLICY`: the admin policy file (default `/etc/claudemesh/policy.yaml`).
    pub admin_policy: Option<PathBuf>,
    /// `CLAUDEMESH_NO_DAEMON`: verbs talk to the broker directly and never start the daemon.
    pub no_daemon: bool,
    /// `CLAUDEMESH_PUSH`: how the push-pipe hands messages to Claude Code (`channel`, `inbox-socket`, `auto`).
    pub push_mode: Option<String>,
    /// `CLAUDEMESH_CHANNELS`: set by `launch` when `claude` runs with the claudemesh channel enabled.
    pub channels: Option<String>,
    /// `CLAUDE_CODE_MESSAGING_SOCKET`: Claude Code's own inbox socket for this session (MCP servers see it).
    pub messaging_socket: Option<PathBuf>,
    /// `CLAUDE_CODE_MESSAGING_TOKEN`: the token for that socket.
    pub messaging_token: Option<String>,
    /// Names of inherited Claude Code session variables (`CLAUDECODE`, `CLAUDE_PID`, `CLAUDE_CODE_*`) that
    /// `launch` removes before it execs `claude`.
    pub claude_session_vars: Vec<String>,
    /// `CLAUDE_CONFIG_DIR`: replaces `~/.claude` for Claude Code's settings and skills, and holds its `.claude.json`.
    pub claude_config_dir: Option<PathBuf>,
    /// `PATH`: where `launch` looks for `claude`.
    pub path: Option<String>,
    /// `CLAUDEMESH_DEBUG_CLOCK_SKEW` (`+3h`, `-90m`): shifts this process's wall clock, for tests of clock skew.
    pub clock_skew_ms: Option<i64>,
    /// `CLAUDEMESH_CLIPBOARD`: taken as the clipboard's text instead of asking `wl-paste`/`xclip`/`xsel`/`pbpaste`
    /// (tests; any text that is not an invite link turns the clipboard check off).
    pub clipboard: Option<String>,
}

impl Env {
    pub(crate) fn from_process() -> Self {
        let mut env = Self::from_lookup(|name| std::env::var(name).ok());
        env.claude_session_vars =
            claude_session_vars(std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()));
        env
    }

    /// Builds the snapshot from any lookup function (tests pass a map). Empty values count as unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let locale =
            ["CLAUDEMESH_LOCALE", "CLAUDEMESH_LANG", "LC_ALL", "LC_MESSAGES", "LANG"].iter().find_map(|n| get(n));
        Self {
            claudemesh_home: get("CLAUDEMESH_HOME").map(PathBuf::from),
            home: get("HOME").map(PathBuf::from),
            mesh: get("CLAUDEMESH_MESH"),
            broker: get("CLAUDEMESH_BROKER"),
            session_id: get("CLAUDE_CODE_SESSION_ID"),
            user: get("USER"),
            locale,
            no_color: get("NO_COLOR").is_some(),
            ascii: get("CLAUDEMESH_ASCII").is_some_and(|v| v != "0"),
            ctype_locale: ["LC_ALL", "LC_CTYPE", "LANG"].iter().find_map(|n| get(n)),
            log_filter: get("CLAUDEMESH_LOG").or_else(|| get("RUST_LOG")),
            session_name: get("CLAUDEMESH_NAME"),
            no_daemon: get("CLAUDEMESH_NO_DAEMON").is_some_and(|v| v != "0"),
            admin_policy: get("CLAUDEMESH_ADMIN_POLICY").map(PathBuf::from),
            push_mode: get("CLAUDEMESH_PUSH"),
            channels: get("CLAUDEMESH_CHANNELS"),
            messaging_socket: get("CLAUDE_CODE_MESSAGING_SOCKET").map(PathBuf::from),
            messaging_token: get("CLAUDE_CODE_MESSAGING_TOKEN"),
            claude_session_vars: Vec::new(),
            claude_config_dir: get("CLAUDE_CONFIG_DIR").map(PathBuf::from),
            clock_skew_ms: get("CLAUDEMESH_DEBUG_CLOCK_SKEW").and_then(|v| parse_skew(&v)),
            path: get("PATH"),
            clipboard: get("CLAUDEMESH_CLIPBOARD"),
        }
    }

    /// `$CLAUDEMESH_HOME`, else `$HOME/.claudemesh`.
    pub(crate) fn home_dir(&self) -> Option<PathBuf> {
        self.claudemesh_home.clone().or_else(|| self.home.as_ref().map(|h| h.join(".claudemesh")))
    }
}

/// Parses a clock skew such as `+3h`, `-90m`, `45s` or `1h 30m` (a sign, then a humantime duration) into
/// milliseconds.
fn parse_skew(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let d = humantime::parse_duration(rest.trim()).ok()?;
    i64::try_from(d.as_millis()).ok().map(|ms| sign * ms)
}

/// The variables that mark a process as part of a running Claude Code session (kept: user settings such as
/// `CLAUDE_CONFIG_DIR`).
fn claude_session_vars(names: impl Iterator<Item = String>) -> Vec<String> {
    const KEEP: &[&str] = &["CLAUDE_CONFIG_DIR"];
    let mut out: Vec<String> = names
        .filter(|n| n == "CLAUDECODE" || n == "CLAUDE_PID" || n.starts_with("CLAUDE_CODE_"))
        .filter(|n| !KEEP.contains(&n.as_str()))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Env::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn claudemesh_home_wins_over_home() {
        assert_eq!(env(&[("HOME", "/h")]).home_dir(), Some(PathBuf::from("/h/.claudemesh")));
        assert_eq!(env(&[("HOME", "/h"), ("CLAUDEMESH_HOME", "/c")]).home_dir(), Some(PathBuf::from("/c")));
        assert_eq!(env(&[]).home_dir(), None);
    }

    #[test]
    fn locale_prefers_claudemesh_lang_then_lc_all_then_lang() {
        assert_eq!(env(&[("LANG", "es_ES.UTF-8")]).locale.as_deref(), Some("es_ES.UTF-8"));
        assert_eq!(env(&[("LANG", "es_ES"), ("LC_ALL", "en_US")]).locale.as_deref(), Some("en_US"));
        assert_eq!(env(&[("LC_ALL", "es"), ("CLAUDEMESH_LANG", "en")]).locale.as_deref(), Some("en"));
        assert_eq!(env(&[("LANG", "")]).locale, None);
    }

    #[test]
    fn claudemesh_locale_wins_over_every_other_locale_variable() {
        let all = [
            ("CLAUDEMESH_LOCALE", "es_ES.UTF-8"),
            ("CLAUDEMESH_LANG", "en"),
            ("LC_ALL", "en_US.UTF-8"),
            ("LC_MESSAGES", "en_GB"),
            ("LANG", "C"),
        ];
        assert_eq!(env(&all).locale.as_deref(), Some("es_ES.UTF-8"));
        assert_eq!(env(&[("CLAUDEMESH_LOCALE", "en"), ("LANG", "es_ES")]).locale.as_deref(), Some("en"));
        // Set but empty counts as unset, so the next variable decides.
        assert_eq!(env(&[("CLAUDEMESH_LOCALE", " "), ("LANG", "es_ES")]).locale.as_deref(), Some("es_ES"));
    }

    #[test]
    fn claude_session_vars_are_found_and_user_settings_kept() {
        let names =
            ["CLAUDECODE", "CLAUDE_PID", "CLAUDE_CODE_SESSION_ID", "CLAUDE_CONFIG_DIR", "PATH", "CLAUDEMESH_HOME"];
        let found = claude_session_vars(names.iter().map(|s| s.to_string()));
        assert_eq!(found, vec!["CLAUDECODE", "CLAUDE_CODE_SESSION_ID", "CLAUDE_PID"]);
    }

    #[test]
    fn a_clock_skew_has_a_sign_and_a_duration() {
        assert_eq!(parse_skew("+3h"), Some(3 * 3_600_000));
        assert_eq!(parse_skew("-90m"), Some(-90 * 60_000));
        assert_eq!(parse_skew("45s"), Some(45_000));
        assert_eq!(parse_skew("1h 30m"), Some(90 * 60_000));
        assert_eq!(parse_skew("soon"), None);
        assert_eq!(env(&[("CLAUDEMESH_DEBUG_CLOCK_SKEW", "-2h")]).clock_skew_ms, Some(-7_200_000));
    }
}
