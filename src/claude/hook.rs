//! What Claude Code hands a hook on stdin, and what our hooks answer. Pure: the daemon call lives in the CLI.

use serde::Deserialize;
use serde_json::{Value, json};

/// The hook being run (`claudemesh hook <event>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum HookEvent {
    /// `UserPromptSubmit`: a turn starts.
    Prompt,
    /// `Stop`: a turn ended.
    Stop,
    /// `SessionStart`: a session started, resumed or was cleared.
    SessionStart,
}

impl HookEvent {
    /// The `session.turn` event the daemon gets, if any.
    pub(crate) fn turn_event(self) -> Option<&'static str> {
        match self {
            HookEvent::Prompt => Some("prompt"),
            HookEvent::Stop => Some("stop"),
            HookEvent::SessionStart => None,
        }
    }
}

/// The fields of the hook's stdin JSON that claudemesh uses; anything else is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct HookInput {
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub hook_event_name: Option<String>,
}

impl HookInput {
    /// Parses leniently: input that is not the expected JSON yields no session id (a hook never fails on it).
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }
}

/// The SessionStart answer that tells Claude how many messages wait (nothing when none do).
pub(crate) fn session_start_output(unread: usize) -> Option<Value> {
    (unread > 0).then(|| {
        json!({ "hookSpecificOutput": {
            "hookEventName": "SessionStart",
            "additionalContext": format!("claudemesh: {unread} unread (read them with `claudemesh inbox --json`)"),
        }})
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_claude_code_sends() {
        let input = HookInput::parse(
            br#"{"session_id":"ced12abf-1","transcript_path":"/t","cwd":"/p","hook_event_name":"Stop","stop_hook_active":false}"#,
        );
        assert_eq!(input.session_id.as_deref(), Some("ced12abf-1"));
        assert_eq!(input.hook_event_name.as_deref(), Some("Stop"));
        assert_eq!(HookInput::parse(b"not json"), HookInput::default());
        assert_eq!(HookInput::parse(b""), HookInput::default());
    }

    #[test]
    fn session_start_mentions_unread_only_when_there_are_some() {
        assert_eq!(session_start_output(0), None);
        let out = session_start_output(2).unwrap();
        assert_eq!(out["hookSpecificOutput"]["hookEventName"], "SessionStart");
        assert!(out["hookSpecificOutput"]["additionalContext"].as_str().unwrap().starts_with("claudemesh: 2 unread"));
    }

    #[test]
    fn turn_events() {
        assert_eq!(HookEvent::Prompt.turn_event(), Some("prompt"));
        assert_eq!(HookEvent::Stop.turn_event(), Some("stop"));
        assert_eq!(HookEvent::SessionStart.turn_event(), None);
    }
}
