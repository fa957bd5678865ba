//! Wire types of `schedule.*` (see docs/coordination.md) and the id each fire of a schedule is delivered under.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::proto::{MessageId, SendParams};

/// The `kind` a scheduled message is sealed with. Only a body of this kind may arrive under a fire id (below), so
/// a broker cannot replay an ordinary message under a new id.
pub(crate) const SCHEDULE_KIND: &str = "schedule";
/// Active schedules one member may hold in a mesh.
pub(crate) const MAX_ACTIVE_PER_MEMBER: u64 = 100;
/// Furthest ahead a one-shot may be due (10 years).
pub(crate) const MAX_AHEAD_MS: u64 = 10 * 366 * 24 * 3_600_000;
/// How far in the past `at_ms` may lie (clock skew); it then fires at once.
pub(crate) const MAX_PAST_MS: u64 = 60_000;
/// Longest cron expression.
pub(crate) const MAX_CRON_LEN: usize = 128;
/// Largest `|utc_offset_min|` (UTC−14:00 to UTC+14:00).
pub(crate) const MAX_UTC_OFFSET_MIN: i32 = 14 * 60;
/// Moves the broker's schedule clock forward; answered only by a broker started with the test clock.
pub(crate) const DEBUG_CLOCK_ADVANCE: &str = "debug.clock.advance";

/// `schedule.create` on the broker wire: a sealed `message.send` and when to send it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleCreateParams {
    pub send: SendParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_min: Option<i32>,
}

/// `schedule.cancel`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleIdParams {
    pub id: String,
}

/// `schedule.list` (no params).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleListParams {}

/// `once` or `cron`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ScheduleKind {
    Once,
    Cron,
}

impl ScheduleKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Cron => "cron",
        }
    }
}

/// One schedule as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Schedule {
    pub id: String,
    pub to: String,
    pub kind: ScheduleKind,
    pub at_ms: Option<u64>,
    pub cron: Option<String>,
    pub utc_offset_min: i32,
    /// When it fires next; `null` once a one-shot fired or the schedule was cancelled.
    pub next_due_ms: Option<u64>,
    /// How many times it fired.
    pub fired: u64,
    /// False once a one-shot fired or the schedule was cancelled.
    pub active: bool,
    /// The sealed message's id; each fire is delivered under [`fire_id`] of it.
    pub message_id: MessageId,
    pub creator: String,
    pub creator_name: String,
    pub created_at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ScheduleListResult {
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ScheduleCancelResult {
    pub cancelled: bool,
}

/// `debug.clock.advance`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClockAdvanceParams {
    pub ms: u64,
}

/// The id the fire due at `due_ms` of the schedule whose sealed message is `sealed` is delivered under: a UUIDv7
/// whose time is the due time and whose other bits come from SHA-256 of (sealed id, due time). The same fire always
/// gets the same id (so the broker's message key makes a re-fire after a crash one message), and the recipient can
/// check it from the sealed id alone ([`is_fire_of`]). `None` only for a due time past the year 10889.
pub(crate) fn fire_id(sealed: &MessageId, due_ms: u64) -> Option<MessageId> {
    if due_ms >> 48 != 0 {
        return None;
    }
    let mut h = Sha256::new();
    h.update(b"claudemesh.v1/schedule-fire\n");
    h.update(sealed.as_str().as_bytes());
    h.update(b"\n");
    h.update(due_ms.to_be_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&due_ms.to_be_bytes()[2..]);
    b[6] = 0x70 | (d[0] & 0x0f);
    b[7] = d[1];
    b[8] = 0x80 | (d[2] & 0x3f);
    b[9..].copy_from_slice(&d[3..10]);
    MessageId::try_from(uuid::Uuid::from_bytes(b).hyphenated().to_string()).ok()
}

/// Whether `delivered` is the id of some fire of the schedule whose sealed message is `sealed` (the due time is the
/// id's own timestamp).
pub(crate) fn is_fire_of(delivered: &MessageId, sealed: &MessageId) -> bool {
    let Ok(u) = uuid::Uuid::try_parse(delivered.as_str()) else { return false };
    let b = u.as_bytes();
    let due = b[..6].iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    fire_id(sealed, due).as_ref() == Some(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fire_ids_are_v7_deterministic_distinct_and_checkable() {
        let sealed = MessageId::generate();
        let a = fire_id(&sealed, 1_800_000_000_000).expect("id");
        assert_eq!(fire_id(&sealed, 1_800_000_000_000), Some(a.clone()), "same fire, same id");
        let b = fire_id(&sealed, 1_800_000_060_000).expect("id");
        assert_ne!(a, b);
        assert!(a < b, "fire ids sort by due time");
        assert!(is_fire_of(&a, &sealed));
        assert!(is_fire_of(&b, &sealed));
        assert!(!is_fire_of(&a, &MessageId::generate()), "another schedule's fire");
        assert!(!is_fire_of(&sealed, &sealed), "the sealed id itself is no fire");
        assert!(!is_fire_of(&MessageId::generate(), &sealed));
        assert_eq!(fire_id(&sealed, 1 << 48), None);
    }
}
