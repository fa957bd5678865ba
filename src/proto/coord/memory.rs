//! Wire types of `memory.*` (see docs/coordination.md "Memory"): tags checked at the boundary, params, results.

use serde::{Deserialize, Serialize};

use super::CoordId;

/// Longest note text, in bytes.
pub(crate) const MEMORY_TEXT_MAX: usize = 8 * 1024;
/// Most tags on a note (and in a recall filter).
pub(crate) const MEMORY_TAGS_MAX: usize = 16;
/// Longest tag, in characters.
pub(crate) const MEMORY_TAG_MAX: usize = 64;
/// Live notes a mesh may hold.
pub(crate) const MEMORY_NOTES_MAX: u64 = 1_000_000;
/// Longest recall query, in bytes, and most words in it.
pub(crate) const MEMORY_QUERY_MAX: usize = 1024;
pub(crate) const MEMORY_QUERY_WORDS_MAX: usize = 32;
/// Longest `author` filter, in bytes.
pub(crate) const MEMORY_AUTHOR_MAX: usize = 128;
/// `memory.recall` page size: the default and the largest allowed.
pub(crate) const MEMORY_RECALL_DEFAULT: u32 = 20;
pub(crate) const MEMORY_RECALL_MAX: u32 = 200;

/// A tag: 1–64 characters of `[a-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct MemoryTag(String);

impl MemoryTag {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MemoryTag {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok =
            s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if !s.is_empty() && s.len() <= MEMORY_TAG_MAX && ok {
            Ok(Self(s))
        } else {
            Err(format!("a tag is 1 to {MEMORY_TAG_MAX} characters of a-z 0-9 . _ : -"))
        }
    }
}

impl From<MemoryTag> for String {
    fn from(t: MemoryTag) -> String {
        t.0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemoryRememberParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CoordId>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<MemoryTag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lamport: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemoryRecallParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<MemoryTag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemoryForgetParams {
    pub id: CoordId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lamport: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A note. `score` only in ranked recall (higher is better: -bm25). A `remember` of a forgotten id answers the
/// tombstone: empty text and tags, `forgotten: true`, and the forgetter as author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MemoryNote {
    pub id: String,
    pub text: String,
    pub tags: Vec<String>,
    pub author: String,
    pub author_name: String,
    pub created_at_ms: u64,
    pub lamport: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub forgotten: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MemoryRecallResult {
    pub memories: Vec<MemoryNote>,
    pub mesh_lamport: u64,
}

/// `forgotten` is true when this call forgot the note, false when it was already forgotten.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MemoryForgetResult {
    pub forgotten: bool,
    pub lamport: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_and_ids_are_checked_at_the_boundary() {
        assert!(MemoryTag::try_from("area:db-v2.x_y".to_string()).is_ok());
        for bad in ["", "Upper", "a b", "ü", "a/b"] {
            assert!(MemoryTag::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
        assert!(MemoryTag::try_from("t".repeat(65)).is_err());
        assert!(serde_json::from_value::<MemoryRememberParams>(json!({"text": "x", "id": "BAD"})).is_err());
        assert!(serde_json::from_value::<MemoryRememberParams>(json!({"text": "x", "extra": 1})).is_err());
        assert!(serde_json::from_value::<MemoryForgetParams>(json!({"id": "abcdefghijkl"})).is_ok());
    }
}
