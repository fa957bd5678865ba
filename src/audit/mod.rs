//! The audit log: `$CLAUDEMESH_HOME/audit.log`, one JSON line per policy decision or write verb, each line chained
//! to the one before by SHA-256 over its RFC 8785 canonical encoding. Records who did what to whom and how it ended,
//! never message bodies, keys or tokens.
//!
//! Line format (the line is itself canonical JSON, keys sorted, no spaces): the `AuditEvent` fields plus `seq`
//! (1-based line number), `prev` (the previous line's `hash`; 64 zeros on line 1) and `hash` (lower-case hex
//! SHA-256 of the canonical encoding of the line without `hash`).

mod chain;
mod file;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use file::{log_path, read, verify};
// Until every write verb and policy decision calls it.
#[allow(unused_imports)]
pub(crate) use file::append;

/// What an entry records: a policy decision, or a write verb that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EventKind {
    Policy,
    Verb,
}

/// How much an action can change (the policy engine's classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ActionClass {
    Read,
    Write,
    Destructive,
}

/// What the policy decided; a prompt records what the person answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Decision {
    Allow,
    Deny,
    PromptAllowed,
    PromptDenied,
}

/// How a verb ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome {
    Ok,
    Error,
}

/// One thing to record. Every field is always written (absent ones as `null`), so every line has the same keys.
/// `target`, `mesh` and `detail` are cut to 256 characters: names and reason codes, never message bodies, keys or
/// tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditEvent {
    /// When it happened, Unix milliseconds.
    pub ts_ms: u64,
    pub kind: EventKind,
    /// The resource noun (`message`, `mesh`, `invite` …).
    pub resource: String,
    /// The verb (`send`, `rename`, `revoke` …).
    pub verb: String,
    pub class: ActionClass,
    /// Set on `policy` entries.
    pub decision: Option<Decision>,
    /// Who or what the action was aimed at (a peer name, `@group`, `*`, an invite id).
    pub target: Option<String>,
    /// The mesh slug.
    pub mesh: Option<String>,
    /// The local session (`cli` or a sanitised Claude Code session id).
    pub session: String,
    /// Set on `verb` entries.
    pub outcome: Option<Outcome>,
    /// A short reason (`approval-mode read-only`, an error code); never content.
    pub detail: Option<String>,
}

/// A stored line: the event and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditEntry {
    pub seq: u64,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev: String,
    pub hash: String,
}

/// The result of a clean `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifyReport {
    /// How many lines (entries) the log has.
    pub lines: usize,
    /// The last entry's hash (64 zeros for an empty log). Kept elsewhere, it lets a later check notice removed tail
    /// lines.
    pub head: String,
}

/// Why a line breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BreakReason {
    #[error("the line is cut off (no newline at its end)")]
    Incomplete,
    #[error("the line is empty")]
    Empty,
    #[error("the line is longer than any entry")]
    TooLong,
    #[error("the line is not JSON")]
    NotJson,
    #[error("the line is not in canonical form, so it was edited")]
    NotCanonical,
    #[error("the line is not an audit entry: {0}")]
    BadEntry(String),
    #[error("the line's hash does not match its contents, so it was edited")]
    HashMismatch,
    #[error("expected entry {expected} but found entry {found}, so lines were removed, added or reordered")]
    WrongSeq { expected: u64, found: u64 },
    #[error("the line does not carry the previous line's hash, so the lines before it were changed")]
    WrongPrev,
}

/// Everything that can go wrong with the audit log.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuditError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `verify` (or `read`) found a bad line; `line` is 1-based and the first bad one.
    #[error("line {line} of {} is bad: {reason}", path.display())]
    Broken { path: PathBuf, line: usize, reason: BreakReason },
    /// `append` found the last line damaged, so it added nothing (extending a broken chain would hide the damage).
    #[error("the last line of {} is bad: {reason}", path.display())]
    DamagedTail { path: PathBuf, reason: BreakReason },
    #[error("cannot encode an audit entry: {0}")]
    Encode(String),
}

impl AuditError {
    fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
