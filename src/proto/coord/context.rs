//! Wire types of `context.*` (see docs/coordination.md "Contexts"): what a session says it is working on, the
//! params of each method and the limits a share is checked against.

use serde::{Deserialize, Serialize};

use crate::proto::KeyHex;

/// Longest summary, in characters.
pub(crate) const CONTEXT_SUMMARY_MAX_CHARS: usize = 500;
/// Most files in one context, and the longest file path in bytes.
pub(crate) const CONTEXT_MAX_FILES: usize = 100;
pub(crate) const CONTEXT_FILE_MAX_BYTES: usize = 512;
/// Longest branch name, in bytes.
pub(crate) const CONTEXT_BRANCH_MAX_BYTES: usize = 256;
/// Largest notes, in bytes.
pub(crate) const CONTEXT_NOTES_MAX_BYTES: usize = 4 * 1024;
/// `context.list` returns this many contexts when no limit is given, and at most `CONTEXT_LIST_MAX`.
pub(crate) const CONTEXT_LIST_DEFAULT: u32 = 50;
pub(crate) const CONTEXT_LIST_MAX: u32 = 500;
/// Longest search query, in bytes.
pub(crate) const CONTEXT_QUERY_MAX_BYTES: usize = 1024;

/// One session's context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Context {
    pub peer: KeyHex,
    pub peer_name: String,
    pub summary: String,
    pub files: Vec<String>,
    pub branch: Option<String>,
    pub notes: Option<String>,
    pub updated_at_ms: u64,
    pub lamport: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextShareParams {
    pub summary: String,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub lamport: Option<u64>,
}

impl ContextShareParams {
    /// Checks the documented limits; the message says which one was broken.
    pub(crate) fn check(&self) -> Result<(), String> {
        let n = self.summary.chars().count();
        if self.summary.trim().is_empty() || n > CONTEXT_SUMMARY_MAX_CHARS {
            return Err(format!("a context summary is 1 to {CONTEXT_SUMMARY_MAX_CHARS} characters"));
        }
        if self.files.len() > CONTEXT_MAX_FILES {
            return Err(format!("a context lists at most {CONTEXT_MAX_FILES} files"));
        }
        if self.files.iter().any(|f| f.is_empty() || f.len() > CONTEXT_FILE_MAX_BYTES || f.contains('\0')) {
            return Err(format!("a file path in a context is 1 to {CONTEXT_FILE_MAX_BYTES} bytes"));
        }
        if self.branch.as_ref().is_some_and(|b| b.len() > CONTEXT_BRANCH_MAX_BYTES || b.chars().any(char::is_control)) {
            return Err(format!("a branch is at most {CONTEXT_BRANCH_MAX_BYTES} bytes without control characters"));
        }
        if self.notes.as_ref().is_some_and(|n| n.len() > CONTEXT_NOTES_MAX_BYTES) {
            return Err(format!("context notes are at most {} KiB", CONTEXT_NOTES_MAX_BYTES / 1024));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextGetParams {
    /// A display name or a session key.
    pub peer: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextListParams {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ContextListResult {
    pub contexts: Vec<Context>,
    pub mesh_lamport: u64,
}

/// Turns free text into an FTS5 query that matches rows holding every word: each word is quoted (inner quotes
/// doubled), so FTS syntax in the text is taken literally. None when the text has no words.
pub(crate) fn context_fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text.split_whitespace().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(summary: &str) -> ContextShareParams {
        ContextShareParams { summary: summary.into(), files: vec![], branch: None, notes: None, lamport: None }
    }

    #[test]
    fn share_limits_are_checked() {
        assert!(share("fixing the parser").check().is_ok());
        assert!(share("").check().is_err());
        assert!(share(&"s".repeat(501)).check().is_err());
        let mut p = share("x");
        p.files = vec!["f".into(); 101];
        assert!(p.check().is_err());
        p.files = vec!["f".repeat(513)];
        assert!(p.check().is_err());
        p.files = vec!["src/main.rs".into()];
        p.branch = Some("b".repeat(257));
        assert!(p.check().is_err());
        p.branch = Some("feature/x".into());
        p.notes = Some("n".repeat(4097));
        assert!(p.check().is_err());
        p.notes = Some("n".into());
        assert!(p.check().is_ok());
    }

    #[test]
    fn search_words_are_quoted() {
        assert_eq!(context_fts_query("parser  bug").as_deref(), Some("\"parser\" \"bug\""));
        assert_eq!(context_fts_query("a\"b OR c*").as_deref(), Some("\"a\"\"b\" \"OR\" \"c*\""));
        assert_eq!(context_fts_query("   "), None);
    }
}
