//! Wire types of the coordination primitives (state, memory, tasks, contexts, streams, schedules, clock, access):
//! method names, shared types (capabilities, Lamport stamps) and each primitive's params/results in its own file.
//! The contract is docs/coordination.md; docs/protocol.md lists the methods.

mod access;
mod clock;
mod context;
mod memory;
mod schedule;
mod state;
mod stream;
mod task;

#[allow(unused_imports)]
pub(crate) use access::*;
#[allow(unused_imports)]
pub(crate) use clock::*;
#[allow(unused_imports)]
pub(crate) use context::*;
#[allow(unused_imports)]
pub(crate) use memory::*;
#[allow(unused_imports)]
pub(crate) use schedule::*;
#[allow(unused_imports)]
pub(crate) use state::*;
#[allow(unused_imports)]
pub(crate) use stream::*;
#[allow(unused_imports)]
pub(crate) use task::*;

use serde::{Deserialize, Serialize};

/// Method and notification names of the coordination primitives (broker wire and daemon local API alike).
pub(crate) mod cmethod {
    pub(crate) const STATE_GET: &str = "state.get";
    pub(crate) const STATE_SET: &str = "state.set";
    pub(crate) const STATE_LIST: &str = "state.list";
    pub(crate) const STATE_DELETE: &str = "state.delete";
    pub(crate) const STATE_WATCH: &str = "state.watch";
    pub(crate) const STATE_UNWATCH: &str = "state.unwatch";
    pub(crate) const MEMORY_REMEMBER: &str = "memory.remember";
    pub(crate) const MEMORY_RECALL: &str = "memory.recall";
    pub(crate) const MEMORY_FORGET: &str = "memory.forget";
    pub(crate) const TASK_CREATE: &str = "task.create";
    pub(crate) const TASK_LIST: &str = "task.list";
    pub(crate) const TASK_SHOW: &str = "task.show";
    pub(crate) const TASK_CLAIM: &str = "task.claim";
    pub(crate) const TASK_RELEASE: &str = "task.release";
    pub(crate) const TASK_COMPLETE: &str = "task.complete";
    pub(crate) const TASK_CANCEL: &str = "task.cancel";
    pub(crate) const CONTEXT_SHARE: &str = "context.share";
    pub(crate) const CONTEXT_GET: &str = "context.get";
    pub(crate) const CONTEXT_LIST: &str = "context.list";
    pub(crate) const STREAM_CREATE: &str = "stream.create";
    pub(crate) const STREAM_PUBLISH: &str = "stream.publish";
    pub(crate) const STREAM_SUBSCRIBE: &str = "stream.subscribe";
    pub(crate) const STREAM_UNSUBSCRIBE: &str = "stream.unsubscribe";
    pub(crate) const STREAM_LIST: &str = "stream.list";
    pub(crate) const SCHEDULE_CREATE: &str = "schedule.create";
    pub(crate) const SCHEDULE_LIST: &str = "schedule.list";
    pub(crate) const SCHEDULE_CANCEL: &str = "schedule.cancel";
    pub(crate) const CLOCK_GET: &str = "clock.get";
    pub(crate) const CLOCK_SET: &str = "clock.set";
    pub(crate) const CLOCK_PAUSE: &str = "clock.pause";
    pub(crate) const CLOCK_RESUME: &str = "clock.resume";
    pub(crate) const ACCESS_LIST: &str = "access.list";
    pub(crate) const ACCESS_GRANT: &str = "access.grant";
    pub(crate) const ACCESS_REVOKE: &str = "access.revoke";
    pub(crate) const ACCESS_BLOCK: &str = "access.block";
    pub(crate) const ACCESS_UNBLOCK: &str = "access.unblock";
    pub(crate) const ACCESS_ROLE: &str = "access.role";
    pub(crate) const ACCESS_KICK: &str = "access.kick";
    pub(crate) const ACCESS_BAN: &str = "access.ban";
    pub(crate) const ACCESS_UNBAN: &str = "access.unban";
    pub(crate) const MESH_DELETE: &str = "mesh.delete";
    // server notifications
    pub(crate) const STATE_CHANGED: &str = "state.changed";
    pub(crate) const TASK_CHANGED: &str = "task.changed";
    pub(crate) const STREAM_DATA: &str = "stream.data";
    pub(crate) const CLOCK_CHANGED: &str = "clock.changed";
    pub(crate) const ACCESS_CHANGED: &str = "access.changed";

    /// Every coordination request method (the broker answers each; anything else under these prefixes is
    /// `method_not_found`).
    pub(crate) const REQUESTS: &[&str] = &[
        STATE_GET,
        STATE_SET,
        STATE_LIST,
        STATE_DELETE,
        STATE_WATCH,
        STATE_UNWATCH,
        MEMORY_REMEMBER,
        MEMORY_RECALL,
        MEMORY_FORGET,
        TASK_CREATE,
        TASK_LIST,
        TASK_SHOW,
        TASK_CLAIM,
        TASK_RELEASE,
        TASK_COMPLETE,
        TASK_CANCEL,
        CONTEXT_SHARE,
        CONTEXT_GET,
        CONTEXT_LIST,
        STREAM_CREATE,
        STREAM_PUBLISH,
        STREAM_SUBSCRIBE,
        STREAM_UNSUBSCRIBE,
        STREAM_LIST,
        SCHEDULE_CREATE,
        SCHEDULE_LIST,
        SCHEDULE_CANCEL,
        CLOCK_GET,
        CLOCK_SET,
        CLOCK_PAUSE,
        CLOCK_RESUME,
        ACCESS_LIST,
        ACCESS_GRANT,
        ACCESS_REVOKE,
        ACCESS_BLOCK,
        ACCESS_UNBLOCK,
        ACCESS_ROLE,
        ACCESS_KICK,
        ACCESS_BAN,
        ACCESS_UNBAN,
        MESH_DELETE,
    ];

    /// Writes the daemon may queue while the broker is unreachable (applied in order on reconnect, each with the
    /// Lamport stamp it got when it was made). Everything else either reads or needs the broker's answer now.
    pub(crate) const QUEUEABLE: &[&str] = &[
        STATE_SET,
        STATE_DELETE,
        MEMORY_REMEMBER,
        MEMORY_FORGET,
        TASK_CREATE,
        TASK_RELEASE,
        TASK_COMPLETE,
        TASK_CANCEL,
        CONTEXT_SHARE,
    ];

    /// Reads the daemon answers from its cache (with `"stale": true`) while the broker is unreachable.
    pub(crate) const CACHEABLE: &[&str] = &[
        STATE_GET,
        STATE_LIST,
        MEMORY_RECALL,
        TASK_LIST,
        TASK_SHOW,
        CONTEXT_GET,
        CONTEXT_LIST,
        STREAM_LIST,
        SCHEDULE_LIST,
        CLOCK_GET,
        ACCESS_LIST,
    ];
}

/// What a peer may do in a mesh. A role grants a set (the table in docs/coordination.md); admins add or remove
/// single capabilities per member with `access.grant` / `access.revoke`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Capability {
    Dm,
    Broadcast,
    StateRead,
    StateWrite,
    MemoryRead,
    MemoryWrite,
    TaskRead,
    TaskWrite,
    ContextRead,
    ContextWrite,
    StreamRead,
    StreamWrite,
    Schedule,
    ClockWrite,
    FileRead,
    FileWrite,
}

impl Capability {
    pub(crate) const ALL: [Capability; 16] = [
        Self::Dm,
        Self::Broadcast,
        Self::StateRead,
        Self::StateWrite,
        Self::MemoryRead,
        Self::MemoryWrite,
        Self::TaskRead,
        Self::TaskWrite,
        Self::ContextRead,
        Self::ContextWrite,
        Self::StreamRead,
        Self::StreamWrite,
        Self::Schedule,
        Self::ClockWrite,
        Self::FileRead,
        Self::FileWrite,
    ];

    /// The wire and CLI name (`state-write`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Dm => "dm",
            Self::Broadcast => "broadcast",
            Self::StateRead => "state-read",
            Self::StateWrite => "state-write",
            Self::MemoryRead => "memory-read",
            Self::MemoryWrite => "memory-write",
            Self::TaskRead => "task-read",
            Self::TaskWrite => "task-write",
            Self::ContextRead => "context-read",
            Self::ContextWrite => "context-write",
            Self::StreamRead => "stream-read",
            Self::StreamWrite => "stream-write",
            Self::Schedule => "schedule",
            Self::ClockWrite => "clock-write",
            Self::FileRead => "file-read",
            Self::FileWrite => "file-write",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Largest Lamport stamp a write may carry ahead of the mesh's clock (a queued offline write is at most this
/// many writes ahead; anything further is refused so one peer cannot pin a key forever).
pub(crate) const MAX_LAMPORT_LEAD: u64 = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(Capability::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).ok(), Some(serde_json::Value::String(c.as_str().into())));
        }
        assert_eq!(Capability::parse("root"), None);
    }

    #[test]
    fn queued_and_cached_methods_are_requests() {
        for m in cmethod::QUEUEABLE.iter().chain(cmethod::CACHEABLE) {
            assert!(cmethod::REQUESTS.contains(m), "{m}");
        }
    }
}

/// Id of a memory or a task: 12 characters of lowercase base32 (`[a-z2-7]`, 60 random bits). Made by the daemon
/// for a write it queues offline, by the broker for a live write that has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct CoordId(String);

impl CoordId {
    const LEN: usize = 12;
    const ALPHABET: &'static [u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

    pub(crate) fn generate() -> Self {
        let bytes = *uuid::Uuid::new_v4().as_bytes();
        let bits = u64::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]);
        let s = (0..Self::LEN).map(|i| char::from(Self::ALPHABET[((bits >> (5 * i)) & 31) as usize])).collect();
        Self(s)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CoordId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == Self::LEN && s.bytes().all(|b| Self::ALPHABET.contains(&b)) {
            Ok(Self(s))
        } else {
            Err("an id is 12 characters of a-z and 2-7".into())
        }
    }
}

impl From<CoordId> for String {
    fn from(c: CoordId) -> String {
        c.0
    }
}

impl std::fmt::Display for CoordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod id_tests {
    use super::CoordId;

    #[test]
    fn ids_are_twelve_base32_chars_and_parse_back() {
        let a = CoordId::generate();
        assert_eq!(a.as_str().len(), 12);
        assert_eq!(CoordId::try_from(a.as_str().to_string()).ok(), Some(a.clone()));
        assert_ne!(a, CoordId::generate());
        for bad in ["", "abc", "ABCDEFGHIJKL", "abcdefghijk1", "abcdefghijklm", "abcdefghij k"] {
            assert!(CoordId::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
