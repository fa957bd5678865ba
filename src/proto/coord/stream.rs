//! Wire types of `stream.*` (see docs/coordination.md "Streams"): params, results, the `stream.data`
//! notification and the limits on names and data.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::proto::KeyHex;

/// Longest stream name, in characters.
pub(crate) const STREAM_NAME_MAX_CHARS: usize = 64;
/// Most streams in one mesh.
pub(crate) const STREAM_MAX_PER_MESH: u64 = 1_000;
/// Largest published item, as compact JSON.
pub(crate) const STREAM_DATA_MAX_BYTES: usize = 16 * 1024;

/// A stream name: 1–64 chars of `[a-z0-9._-]`.
pub(crate) fn is_valid_stream_name(s: &str) -> bool {
    (1..=STREAM_NAME_MAX_CHARS).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// `stream.create`, `stream.subscribe` and `stream.unsubscribe`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamNameParams {
    pub name: String,
}

impl StreamNameParams {
    pub(crate) fn check(&self) -> Result<(), String> {
        check_name(&self.name)
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if is_valid_stream_name(name) {
        Ok(())
    } else {
        Err(format!("a stream name is 1 to {STREAM_NAME_MAX_CHARS} characters of a-z, 0-9, '.', '_' and '-'"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamPublishParams {
    pub name: String,
    pub data: Value,
}

impl StreamPublishParams {
    pub(crate) fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        let size = serde_json::to_string(&self.data).map_or(usize::MAX, |s| s.len());
        if size > STREAM_DATA_MAX_BYTES {
            return Err(format!("stream data is at most {} KiB as compact JSON", STREAM_DATA_MAX_BYTES / 1024));
        }
        Ok(())
    }
}

/// A stream as `stream.create` answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamCreated {
    pub name: String,
    pub creator: KeyHex,
    pub creator_name: String,
    pub created_at_ms: u64,
    /// False when the stream already existed (then the fields are the original creator's).
    pub created: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamPublished {
    pub seq: u64,
    /// Connections subscribed when it was published.
    pub subscribers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamSubscribed {
    pub name: String,
    /// The last item's seq: the first one this subscription gets is the next.
    pub seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamEntry {
    pub name: String,
    pub creator: KeyHex,
    pub creator_name: String,
    pub created_at_ms: u64,
    pub subscribers: usize,
    pub last_seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamListResult {
    pub streams: Vec<StreamEntry>,
}

/// The `stream.data` notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamData {
    pub name: String,
    pub seq: u64,
    pub from: KeyHex,
    pub from_name: String,
    pub data: Value,
    pub at_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_data_sizes_are_checked() {
        for good in ["a", "build.log", "ci_events-2", &"x".repeat(64)] {
            assert!(is_valid_stream_name(good), "{good}");
        }
        for bad in ["", "Caps", "with space", "slash/y", &"x".repeat(65), "ünï"] {
            assert!(!is_valid_stream_name(bad), "{bad}");
        }
        let p = |data: Value| StreamPublishParams { name: "s".into(), data };
        assert!(p(serde_json::json!({"n": 1})).check().is_ok());
        assert!(p(Value::String("d".repeat(STREAM_DATA_MAX_BYTES - 2))).check().is_ok());
        assert!(p(Value::String("d".repeat(STREAM_DATA_MAX_BYTES))).check().is_err());
    }
}
