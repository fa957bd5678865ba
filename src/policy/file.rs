//! Policy files: the YAML schema, size caps, parsing with line/column errors, and the safe default user file.

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

use super::rules::{ClassDefaults, Layer, Origin, PeerPattern, Rule, Verdict};
use super::{ApprovalMode, OpClass, PolicyError};

/// A policy file larger than this is refused before it is parsed.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// A policy file with more rules than this is refused.
pub(crate) const MAX_RULES: usize = 10_000;
/// Longest resource, verb or peer pattern accepted in a rule.
const MAX_NAME_CHARS: usize = 128;

/// What `Policy::load` writes when the user's policy file does not exist yet.
pub(crate) const DEFAULT_USER_POLICY: &str = r#"# claudemesh policy: decides whether a verb runs (allow), is refused (deny) or asks first (prompt).
# The format is described in docs/policy.md. An admin policy (/etc/claudemesh/policy.yaml)
# overrides this file, and `--approval-mode plan|read-only|write|yolo` applies on top.
version: 1

# What happens when no rule below matches, per class of operation.
defaults:
  read: allow          # peer list, message inbox, mesh info ...
  write: allow         # message send, group join, profile set ...
  destructive: prompt  # mesh leave, invite revoke, forgetting data ...

# Rules are checked from top to bottom; the first one that matches decides.
# Example (remove the leading `# ` to use it): never message the @prod group.
rules:
  # - resource: message
  #   verb: send
  #   peers: ["@prod"]
  #   decision: deny
  #   reason: "messages to @prod go through the on-call channel"
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<Spanned<u32>>,
    default: Option<Verdict>,
    defaults: Option<RawDefaults>,
    max_approval_mode: Option<Spanned<ApprovalMode>>,
    rules: Option<Vec<Spanned<RawRule>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    read: Option<Verdict>,
    write: Option<Verdict>,
    destructive: Option<Verdict>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    resource: Option<Spanned<String>>,
    verb: Option<Spanned<String>>,
    class: Option<OpClass>,
    peers: Option<Spanned<Vec<Spanned<String>>>>,
    decision: Verdict,
    reason: Option<String>,
}

/// Creates the user's policy file with [`DEFAULT_USER_POLICY`] (mode 0600, parent directories 0700) when it
/// does not exist; an existing file is left exactly as it is.
pub(crate) fn ensure_user_file(path: &Path) -> Result<(), PolicyError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    match fs::symlink_metadata(path) {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(source) => return Err(io_error(path, source)),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(|source| io_error(parent, source))?;
    }
    let mut file = match fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(file) => file,
        // Another claudemesh process created it between our check and now: use theirs.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
        Err(source) => return Err(io_error(path, source)),
    };
    file.write_all(DEFAULT_USER_POLICY.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error(path, source))
}

/// Reads a policy file, refusing anything over [`MAX_FILE_BYTES`]. `Ok(None)` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, PolicyError> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error(path, source)),
    };
    let meta = file.metadata().map_err(|source| io_error(path, source))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(PolicyError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }
    // The length can change between stat and read (or lie, for special files): cap the read itself too.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|source| io_error(path, source))?;
    decode(path, bytes).map(Some)
}

/// The text of a policy file's bytes: refused over [`MAX_FILE_BYTES`] or when not UTF-8 (with the position).
pub(crate) fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, PolicyError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(PolicyError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let (line, column) = position_after(valid);
        PolicyError::Parse { path: path.to_path_buf(), line, column, message: "the file is not valid UTF-8".to_owned() }
    })
}

/// Reads a policy file that must exist.
pub(crate) fn read_required(path: &Path) -> Result<String, PolicyError> {
    read_optional(path)?.ok_or_else(|| io_error(path, std::io::Error::new(ErrorKind::NotFound, "no such file")))
}

/// Parses and validates one policy file. Pure: `path` is only used to label errors and rules.
pub(crate) fn parse(path: &Path, text: &str, origin: Origin) -> Result<Layer, PolicyError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(PolicyError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| line_column(&l));
        PolicyError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: printable(&UserMessageFormatter.format_message(&e)),
        }
    })?;
    let invalid = |at: &Location, message: String| {
        let (line, column) = line_column(at);
        PolicyError::Invalid { path: path.to_path_buf(), line, column, message }
    };

    if let Some(version) = &raw.version
        && version.value != 1
    {
        return Err(invalid(
            &version.referenced,
            format!("unsupported policy version {}; this claudemesh reads version 1", version.value),
        ));
    }
    let max_mode = match raw.max_approval_mode {
        Some(mode) if origin != Origin::Admin => {
            return Err(invalid(
                &mode.referenced,
                "max_approval_mode is only honoured in the admin policy file".to_owned(),
            ));
        }
        Some(mode) => Some(mode.value),
        None => None,
    };

    let label = path.display().to_string();
    let per_class = raw.defaults.unwrap_or(RawDefaults { read: None, write: None, destructive: None });
    let default_for = |class: Option<Verdict>, key: &str| {
        class
            .map(|v| (v, format!("{label}: defaults.{key}")))
            .or_else(|| raw.default.map(|v| (v, format!("{label}: default"))))
    };
    let defaults = ClassDefaults {
        read: default_for(per_class.read, "read"),
        write: default_for(per_class.write, "write"),
        destructive: default_for(per_class.destructive, "destructive"),
    };

    let raw_rules = raw.rules.unwrap_or_default();
    if let Some(first_extra) = raw_rules.get(MAX_RULES) {
        return Err(invalid(
            &first_extra.referenced,
            format!("too many rules: a policy file holds at most {MAX_RULES} (this one has {})", raw_rules.len()),
        ));
    }
    let mut rules = Vec::with_capacity(raw_rules.len());
    for spanned in raw_rules {
        let (line, _) = line_column(&spanned.referenced);
        let raw_rule = spanned.value;
        let resource = name_pattern(raw_rule.resource, "resource").map_err(|(at, m)| invalid(&at, m))?;
        let verb = name_pattern(raw_rule.verb, "verb").map_err(|(at, m)| invalid(&at, m))?;
        let peers = match raw_rule.peers {
            None => None,
            Some(list) if list.value.is_empty() => {
                return Err(invalid(
                    &list.referenced,
                    "`peers` is empty, so the rule could never match; remove the key to match every target".to_owned(),
                ));
            }
            Some(list) => Some(
                list.value
                    .into_iter()
                    .map(peer_pattern)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|(at, m)| invalid(&at, m))?,
            ),
        };
        let place = format!("{label}:{line}");
        rules.push(Rule {
            resource,
            verb,
            class: raw_rule.class,
            peers,
            verdict: raw_rule.decision,
            reason: raw_rule.reason.map(|r| printable(&r)).filter(|r| !r.trim().is_empty()),
            label: match raw_rule.name {
                Some(name) if !name.trim().is_empty() => format!("{} ({place})", printable(&name)),
                _ => place,
            },
        });
    }
    Ok(Layer { rules, defaults, max_mode })
}

/// `resource` / `verb`: absent or `*` match anything; otherwise one exact name.
fn name_pattern(value: Option<Spanned<String>>, key: &str) -> Result<Option<String>, (Location, String)> {
    let Some(value) = value else { return Ok(None) };
    let name = value.value.trim();
    if name == "*" {
        return Ok(None);
    }
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(|c| c.is_whitespace() || c.is_control() || c == '*')
    {
        return Err((
            value.referenced,
            format!("`{key}` must be `*` or one name without spaces or wildcards (got {:?})", value.value),
        ));
    }
    Ok(Some(name.to_owned()))
}

/// One entry of `peers`: `*`, `@*`, `@group` or a peer name, matched against targets as written.
fn peer_pattern(value: Spanned<String>) -> Result<PeerPattern, (Location, String)> {
    let text = value.value.trim();
    let bad = |why: &str| Err((value.referenced, format!("peer pattern {:?} {why}", value.value)));
    match text {
        "*" => Ok(PeerPattern::Any),
        "@*" => Ok(PeerPattern::AnyGroup),
        "" | "@" => bad("is empty"),
        _ if text.chars().count() > MAX_NAME_CHARS => bad("is too long"),
        _ if text.contains('*') => bad("uses a wildcard; only `*` (any target) and `@*` (any group) are wildcards"),
        _ if text.chars().any(|c| c.is_whitespace() || c.is_control()) => bad("contains spaces"),
        _ => Ok(PeerPattern::Exact(text.to_owned())),
    }
}

fn line_column(at: &Location) -> (usize, usize) {
    (usize::try_from(at.line()).unwrap_or(usize::MAX), usize::try_from(at.column()).unwrap_or(usize::MAX))
}

/// 1-based line and column of the character right after `bytes` (which are valid UTF-8).
fn position_after(bytes: &[u8]) -> (usize, usize) {
    let text = String::from_utf8_lossy(bytes);
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

/// Text from a policy file or the parser is shown on terminals: neutralise control characters.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

fn io_error(path: &Path, source: std::io::Error) -> PolicyError {
    PolicyError::Io { path: path.to_path_buf(), source }
}
