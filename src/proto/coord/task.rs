//! Wire types of `task.*` (see docs/coordination.md "Tasks"): the task object, each method's params, and the
//! limits every create is checked against.

use serde::{Deserialize, Serialize};

use super::CoordId;
use crate::proto::KeyHex;

/// Longest title, in characters.
pub(crate) const TASK_TITLE_MAX_CHARS: usize = 200;
/// Largest body, in bytes.
pub(crate) const TASK_BODY_MAX_BYTES: usize = 16 * 1024;
/// Most tags on one task.
pub(crate) const TASK_MAX_TAGS: usize = 16;
/// Longest tag, in characters.
pub(crate) const TASK_TAG_MAX_CHARS: usize = 64;
/// Most dependencies of one task.
pub(crate) const TASK_MAX_DEPS: usize = 32;
/// Largest completion result, in bytes.
pub(crate) const TASK_RESULT_MAX_BYTES: usize = 4 * 1024;
/// Most open or claimed tasks in one mesh.
pub(crate) const TASK_MAX_ACTIVE_PER_MESH: u64 = 10_000;
/// `task.list` returns this many tasks when no limit is given, and at most `TASK_LIST_MAX`.
pub(crate) const TASK_LIST_DEFAULT: u32 = 100;
pub(crate) const TASK_LIST_MAX: u32 = 1_000;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TaskState {
    Open,
    Claimed,
    Done,
    Cancelled,
}

impl TaskState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Claimed, Self::Done, Self::Cancelled].into_iter().find(|t| t.as_str() == s)
    }
}

/// A task as every method returns it and `task.changed` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Task {
    pub id: CoordId,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub deps: Vec<CoordId>,
    pub state: TaskState,
    pub creator: KeyHex,
    pub creator_name: String,
    pub claimed_by: Option<KeyHex>,
    pub claimed_by_name: Option<String>,
    pub lease_expires_at_ms: Option<u64>,
    pub result: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub lamport: u64,
    pub version: u64,
    /// The deps that are not done yet (a claim waits for this to be empty).
    pub blocked_by: Vec<CoordId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskCreateParams {
    #[serde(default)]
    pub id: Option<CoordId>,
    pub title: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub deps: Vec<CoordId>,
    #[serde(default)]
    pub lamport: Option<u64>,
}

impl TaskCreateParams {
    /// Checks the documented limits; the message says which one was broken.
    pub(crate) fn check(&self) -> Result<(), String> {
        let title = self.title.trim();
        if title.is_empty() || self.title.chars().count() > TASK_TITLE_MAX_CHARS {
            return Err(format!("a task title is 1 to {TASK_TITLE_MAX_CHARS} characters"));
        }
        if self.title.chars().any(char::is_control) {
            return Err("a task title cannot contain control characters".into());
        }
        if self.body.len() > TASK_BODY_MAX_BYTES {
            return Err(format!("a task body is at most {} KiB", TASK_BODY_MAX_BYTES / 1024));
        }
        if self.tags.len() > TASK_MAX_TAGS {
            return Err(format!("a task has at most {TASK_MAX_TAGS} tags"));
        }
        if let Some(t) = self.tags.iter().find(|t| !is_valid_task_tag(t)) {
            return Err(format!(
                "tag {t:?} is not valid: a tag is 1 to {TASK_TAG_MAX_CHARS} characters of a-z, 0-9, '.', '_', ':' and '-'"
            ));
        }
        if self.deps.len() > TASK_MAX_DEPS {
            return Err(format!("a task has at most {TASK_MAX_DEPS} deps"));
        }
        if self.id.as_ref().is_some_and(|id| self.deps.contains(id)) {
            return Err("a task cannot depend on itself".into());
        }
        Ok(())
    }
}

/// The tag alphabet shared by tasks and memories: 1–64 chars of `[a-z0-9._:-]`.
pub(crate) fn is_valid_task_tag(t: &str) -> bool {
    (1..=TASK_TAG_MAX_CHARS).contains(&t.len())
        && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._:-".contains(&b))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskListParams {
    #[serde(default)]
    pub state: Option<TaskState>,
    #[serde(default)]
    pub tag: Option<String>,
    /// A display name or a session key.
    #[serde(default)]
    pub claimed_by: Option<String>,
    /// A display name or a session key.
    #[serde(default)]
    pub creator: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskListResult {
    pub tasks: Vec<Task>,
    pub mesh_lamport: u64,
    /// True when more tasks matched than fit in one reply (narrow the filter or lower the limit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `task.show` and `task.claim`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskIdParams {
    pub id: CoordId,
}

/// `task.release` and `task.cancel`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskWriteParams {
    pub id: CoordId,
    #[serde(default)]
    pub lamport: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskCompleteParams {
    pub id: CoordId,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub lamport: Option<u64>,
}

impl TaskCompleteParams {
    pub(crate) fn check(&self) -> Result<(), String> {
        match &self.result {
            Some(r) if r.len() > TASK_RESULT_MAX_BYTES => {
                Err(format!("a task result is at most {} KiB", TASK_RESULT_MAX_BYTES / 1024))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(title: &str) -> TaskCreateParams {
        TaskCreateParams {
            id: None,
            title: title.into(),
            body: String::new(),
            tags: vec![],
            deps: vec![],
            lamport: None,
        }
    }

    #[test]
    fn create_limits_are_checked() {
        assert!(create("ship it").check().is_ok());
        assert!(create("").check().is_err());
        assert!(create("   ").check().is_err());
        assert!(create(&"t".repeat(201)).check().is_err());
        assert!(create(&"é".repeat(200)).check().is_ok(), "characters, not bytes");
        let mut p = create("x");
        p.tags = vec!["Bad Tag".into()];
        assert!(p.check().is_err());
        p.tags = (0..17).map(|i| format!("t{i}")).collect();
        assert!(p.check().is_err());
        p.tags = vec!["ok.tag:1-2_3".into()];
        assert!(p.check().is_ok());
        p.body = "b".repeat(TASK_BODY_MAX_BYTES + 1);
        assert!(p.check().is_err());
        let id = CoordId::generate();
        let mut p = create("x");
        p.id = Some(id.clone());
        p.deps = vec![id];
        assert!(p.check().is_err(), "self dependency");
    }

    #[test]
    fn states_round_trip() {
        for s in ["open", "claimed", "done", "cancelled"] {
            assert_eq!(TaskState::parse(s).map(TaskState::as_str), Some(s));
            assert_eq!(serde_json::to_value(TaskState::parse(s)).ok(), Some(serde_json::json!(s)));
        }
        assert!(TaskState::parse("closed").is_none());
    }
}
