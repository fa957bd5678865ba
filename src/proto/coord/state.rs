//! Wire types of `state.*` (see docs/coordination.md "State"): keys and prefixes checked at the boundary, params,
//! results and the `state.changed` notification.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest state key, in bytes.
pub(crate) const STATE_KEY_MAX: usize = 256;
/// Largest state value, as compact JSON.
pub(crate) const STATE_VALUE_MAX: usize = 16 * 1024;
/// Live (not deleted) keys a mesh may hold.
pub(crate) const STATE_KEYS_MAX: u64 = 10_000;
/// Changes the broker keeps per mesh for `state.watch` replays.
pub(crate) const STATE_LOG_KEEP: u64 = 10_000;
/// `state.list` page size: the default and the largest allowed.
pub(crate) const STATE_LIST_DEFAULT: u32 = 100;
pub(crate) const STATE_LIST_MAX: u32 = 1_000;

fn key_chars_ok(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'-'))
}

/// A state key: 1–256 bytes of `[A-Za-z0-9._:/-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct StateKey(String);

impl StateKey {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StateKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !s.is_empty() && s.len() <= STATE_KEY_MAX && key_chars_ok(&s) {
            Ok(Self(s))
        } else {
            Err(format!("a state key is 1 to {STATE_KEY_MAX} bytes of A-Z a-z 0-9 . _ : / -"))
        }
    }
}

impl From<StateKey> for String {
    fn from(k: StateKey) -> String {
        k.0
    }
}

/// A key prefix (for list and watch): 0–256 bytes of the key characters; empty matches every key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct StatePrefix(String);

impl StatePrefix {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StatePrefix {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() <= STATE_KEY_MAX && key_chars_ok(&s) {
            Ok(Self(s))
        } else {
            Err(format!("a state prefix is at most {STATE_KEY_MAX} bytes of A-Z a-z 0-9 . _ : / -"))
        }
    }
}

impl From<StatePrefix> for String {
    fn from(p: StatePrefix) -> String {
        p.0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateGetParams {
    pub key: StateKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateSetParams {
    pub key: StateKey,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lamport: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateDeleteParams {
    pub key: StateKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lamport: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<StatePrefix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateWatchParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<StatePrefix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_seq: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateUnwatchParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<StatePrefix>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a key holds. A deleted key (only seen as the winner in a `state.set` that lost to a delete) has
/// `value: null` and `deleted: true`; live entries carry no `deleted` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StateEntry {
    pub key: String,
    pub value: Value,
    pub version: u64,
    pub lamport: u64,
    pub writer: String,
    pub writer_name: String,
    pub updated_at_ms: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

/// `state.get`: the entry and the mesh clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StateGetResult {
    #[serde(flatten)]
    pub entry: StateEntry,
    pub mesh_lamport: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StateSetResult {
    pub applied: bool,
    pub entry: StateEntry,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StateDeleteResult {
    pub applied: bool,
    pub deleted: bool,
    pub version: u64,
    pub lamport: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StateListResult {
    pub entries: Vec<StateEntry>,
    pub mesh_lamport: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StateWatchResult {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub resync: bool,
}

/// `state.changed`: one applied write, numbered per mesh without gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StateChanged {
    pub seq: u64,
    pub key: String,
    pub value: Value,
    pub version: u64,
    pub lamport: u64,
    pub writer: String,
    pub writer_name: String,
    pub deleted: bool,
    pub at_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_prefixes_are_checked_at_the_boundary() {
        assert!(StateKey::try_from("a/b:c.d_e-F9".to_string()).is_ok());
        for bad in ["", "a b", "é", "a\n", "a*"] {
            assert!(StateKey::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
        assert!(StateKey::try_from("k".repeat(256)).is_ok());
        assert!(StateKey::try_from("k".repeat(257)).is_err());
        assert!(StatePrefix::try_from(String::new()).is_ok());
        assert!(StatePrefix::try_from("a%".to_string()).is_err());
    }

    #[test]
    fn params_refuse_unknown_fields_and_missing_values() {
        assert!(serde_json::from_value::<StateSetParams>(json!({"key": "a", "value": 1, "x": 1})).is_err());
        assert!(serde_json::from_value::<StateSetParams>(json!({"key": "a"})).is_err());
        assert!(serde_json::from_value::<StateSetParams>(json!({"key": "a", "value": null})).is_ok());
        assert!(serde_json::from_value::<StateWatchParams>(json!({})).is_ok());
    }
}
