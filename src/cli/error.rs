//! The one place where failures become exit codes, stable reason codes and localized text (seed §11.2).

use std::process::ExitCode;

use crate::claude::ClaudeError;
use crate::client::{ClientError, ResolveError};
use crate::config::ConfigError;
use crate::i18n::{self, Arg, Lang};
use crate::proto::{CloseCode, ErrorCode, InviteError, RpcError};
use crate::store::StoreError;

/// Exit codes (seed final-vision §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Cancelled = 1,
    AuthFailed = 2,
    InvalidArgs = 3,
    Network = 4,
    NotFound = 5,
    AlreadyExists = 6,
    Forbidden = 7,
    Internal = 8,
    ClaudeMissing = 9,
}

impl Exit {
    pub(crate) fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// A failure ready to show: exit code, machine reason, message and hint as Fluent ids sharing one argument list.
#[derive(Debug, Clone)]
pub(crate) struct CliError {
    pub exit: Exit,
    pub reason: &'static str,
    message: &'static str,
    hint: Option<&'static str>,
    args: Vec<(&'static str, Arg)>,
}

impl CliError {
    pub(crate) fn new(exit: Exit, reason: &'static str, message: &'static str) -> Self {
        Self { exit, reason, message, hint: None, args: Vec::new() }
    }

    pub(crate) fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub(crate) fn arg(mut self, name: &'static str, value: impl Into<Arg>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    pub(crate) fn message_in(&self, lang: Lang) -> String {
        i18n::t_in(lang, self.message, &self.args)
    }

    pub(crate) fn hint_in(&self, lang: Lang) -> Option<String> {
        self.hint.map(|h| i18n::t_in(lang, h, &self.args))
    }

    pub(crate) fn invalid(message: &'static str) -> Self {
        Self::new(Exit::InvalidArgs, "invalid_arguments", message)
    }

    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(Exit::Internal, "internal", "err-internal").arg("detail", detail.to_string()).hint("hint-report-bug")
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        match &e {
            ConfigError::NoHome => CliError::new(Exit::InvalidArgs, "no_home", "err-no-home").hint("hint-set-home"),
            ConfigError::MissingKey { path } => CliError::new(Exit::NotFound, "key_missing", "err-key-missing")
                .arg("path", path.display().to_string())
                .hint("hint-rejoin"),
            ConfigError::Invalid { path, reason } => {
                CliError::new(Exit::InvalidArgs, "config_invalid", "err-config-invalid")
                    .arg("path", path.display().to_string())
                    .arg("detail", reason.as_str())
                    .hint("hint-fix-config")
            }
            ConfigError::Io { path, source } => CliError::new(Exit::Internal, "io", "err-local-io")
                .arg("path", path.display().to_string())
                .arg("detail", source.to_string())
                .hint("hint-check-disk"),
        }
    }
}

impl From<ClaudeError> for CliError {
    fn from(e: ClaudeError) -> Self {
        match e {
            ClaudeError::NoHome => {
                CliError::new(Exit::InvalidArgs, "no_home", "err-claude-no-home").hint("hint-set-home-claude")
            }
            ClaudeError::Malformed { path, detail } => {
                CliError::new(Exit::InvalidArgs, "claude_config_invalid", "err-claude-config-malformed")
                    .arg("path", path.display().to_string())
                    .arg("detail", detail)
                    .hint("hint-fix-json")
            }
            ClaudeError::WrongShape { path, pointer, expected } => {
                CliError::new(Exit::InvalidArgs, "claude_config_invalid", "err-claude-config-shape")
                    .arg("path", path.display().to_string())
                    .arg("pointer", pointer)
                    .arg("expected", expected)
                    .hint("hint-fix-json")
            }
            ClaudeError::Io { path, source } => CliError::new(Exit::Internal, "io", "err-local-io")
                .arg("path", path.display().to_string())
                .arg("detail", source.to_string())
                .hint("hint-check-disk"),
            ClaudeError::Busy { path } => CliError::new(Exit::Internal, "io", "err-claude-config-busy")
                .arg("path", path.display().to_string())
                .hint("hint-retry"),
            ClaudeError::ClaudeNotFound => {
                CliError::new(Exit::ClaudeMissing, "claude_not_found", "err-claude-not-found")
                    .hint("hint-install-claude")
            }
            ClaudeError::Exec { path, source } => {
                CliError::new(Exit::ClaudeMissing, "claude_not_found", "err-claude-exec")
                    .arg("path", path.display().to_string())
                    .arg("detail", source.to_string())
                    .hint("hint-install-claude")
            }
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::TooNew(_) => {
                CliError::new(Exit::Internal, "store_too_new", "err-store-too-new").hint("hint-upgrade")
            }
            _ => {
                CliError::new(Exit::Internal, "store", "err-store").arg("detail", e.to_string()).hint("hint-check-disk")
            }
        }
    }
}

impl From<InviteError> for CliError {
    fn from(e: InviteError) -> Self {
        match e {
            InviteError::NotAnInvite => CliError::new(Exit::InvalidArgs, "invite_malformed", "err-invite-not-invite"),
            InviteError::Malformed => CliError::new(Exit::InvalidArgs, "invite_malformed", "err-invite-malformed"),
            InviteError::UnknownVersion(v) => {
                CliError::new(Exit::InvalidArgs, "invite_malformed", "err-invite-version").arg("version", v)
            }
        }
        .hint("hint-ask-new-invite")
    }
}

impl From<crate::crypto::CryptoError> for CliError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        CliError::internal(e)
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::BadUrl { url, reason } => {
                CliError::invalid("err-bad-broker-url").arg("url", url).arg("detail", reason).hint("hint-broker-flag")
            }
            ClientError::Unreachable { url, reason } => CliError::new(Exit::Network, "network", "err-unreachable")
                .arg("url", url)
                .arg("detail", reason)
                .hint("hint-start-broker"),
            ClientError::ConnectTimeout { url, secs } => CliError::new(Exit::Network, "network", "err-connect-timeout")
                .arg("url", url)
                .arg("secs", secs)
                .hint("hint-start-broker"),
            ClientError::CallTimeout { method, secs } => CliError::new(Exit::Network, "network", "err-call-timeout")
                .arg("method", method)
                .arg("secs", secs)
                .hint("hint-retry"),
            ClientError::ConnectionLost { code, reason } => match code {
                Some(c) if c == CloseCode::Removed.code() => {
                    CliError::new(Exit::Forbidden, "not_member", "err-removed").hint("hint-ask-new-invite")
                }
                Some(c) if c == CloseCode::SessionReplaced.code() => {
                    CliError::new(Exit::Network, "session_replaced", "err-session-replaced").hint("hint-session-id")
                }
                _ => CliError::new(Exit::Network, "network", "err-connection-lost")
                    .arg("detail", reason)
                    .hint("hint-retry"),
            },
            ClientError::Rpc(rpc) => from_rpc(rpc),
            ClientError::Protocol(detail) => {
                CliError::new(Exit::Internal, "protocol", "err-protocol").arg("detail", detail).hint("hint-upgrade")
            }
            ClientError::FrameTooLarge { bytes, max } | ClientError::BodyTooLarge { bytes, max } => {
                CliError::invalid("err-body-too-large").arg("bytes", bytes).arg("max", max).hint("hint-shorten")
            }
            ClientError::EmptyBody => CliError::invalid("err-body-empty").hint("hint-send-usage"),
            ClientError::Unverified { names } => CliError::new(Exit::AuthFailed, "auth_failed", "err-unverified")
                .arg("names", names.join(", "))
                .hint("hint-unverified"),
            ClientError::Resolve(r) => from_resolve(r),
            ClientError::Crypto(c) => CliError::internal(c),
        }
    }
}

fn from_resolve(r: ResolveError) -> CliError {
    match r {
        ResolveError::NoSuchPeer { name, closest } if closest.is_empty() => {
            CliError::new(Exit::NotFound, "peer_not_found", "err-no-such-peer")
                .arg("name", name)
                .hint("hint-list-peers")
        }
        ResolveError::NoSuchPeer { name, closest } => {
            CliError::new(Exit::NotFound, "peer_not_found", "err-no-such-peer")
                .arg("name", name)
                .arg("closest", closest.join(", "))
                .hint("hint-closest-peers")
        }
        ResolveError::EmptyGroup { group } => {
            CliError::new(Exit::NotFound, "group_empty", "err-empty-group").arg("group", group).hint("hint-list-peers")
        }
        ResolveError::NobodyElse => CliError::new(Exit::NotFound, "no_peers", "err-nobody-else").hint("hint-invite"),
        ResolveError::IsYou { name } => CliError::invalid("err-send-to-self").arg("name", name).hint("hint-list-peers"),
        ResolveError::EmptyTarget => CliError::invalid("err-empty-target").hint("hint-send-usage"),
    }
}

/// Broker JSON-RPC errors. The broker's English message travels along as `detail`.
fn from_rpc(rpc: RpcError) -> CliError {
    let detail = rpc.message.clone();
    let err = match rpc.kind() {
        Some(ErrorCode::AuthFailed) => {
            CliError::new(Exit::AuthFailed, "auth_failed", "err-auth-failed").hint("hint-rejoin")
        }
        Some(ErrorCode::NotMember) => {
            CliError::new(Exit::Forbidden, "not_member", "err-not-member").hint("hint-ask-new-invite")
        }
        Some(ErrorCode::Forbidden) => {
            CliError::new(Exit::Forbidden, "forbidden", "err-forbidden").hint("hint-ask-admin")
        }
        Some(ErrorCode::NotFound) => CliError::new(Exit::NotFound, "not_found", "err-not-found").hint("hint-check-id"),
        Some(ErrorCode::AlreadyExists) => {
            CliError::new(Exit::AlreadyExists, "already_exists", "err-already-exists").hint("hint-retry")
        }
        Some(ErrorCode::Conflict) => CliError::new(Exit::AlreadyExists, "conflict", "err-conflict").hint("hint-reread"),
        Some(ErrorCode::InviteExpired) => {
            CliError::new(Exit::NotFound, "invite_expired", "err-invite-expired-broker").hint("hint-ask-new-invite")
        }
        Some(ErrorCode::InviteExhausted) => {
            CliError::new(Exit::NotFound, "invite_exhausted", "err-invite-exhausted").hint("hint-ask-new-invite")
        }
        // Well-formed, correctly signed invites reach the broker; its refusal then means revoked, unregistered or an
        // issuer who is no longer an admin: the invite is gone, not malformed.
        Some(ErrorCode::InviteInvalid) => {
            CliError::new(Exit::NotFound, "invite_invalid", "err-invite-invalid").hint("hint-ask-new-invite")
        }
        Some(ErrorCode::RateLimited) => {
            CliError::new(Exit::Network, "rate_limited", "err-rate-limited").hint("hint-retry")
        }
        Some(ErrorCode::PayloadTooLarge) => CliError::invalid("err-payload-too-large").hint("hint-shorten"),
        Some(ErrorCode::InvalidParams) => CliError::invalid("err-invalid-params").hint("hint-check-args"),
        Some(ErrorCode::Unavailable) => {
            CliError::new(Exit::Network, "unavailable", "err-broker-unavailable").hint("hint-retry")
        }
        _ => CliError::new(Exit::Internal, "broker_error", "err-broker-internal").hint("hint-report-bug"),
    };
    err.arg("detail", detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpc(code: ErrorCode) -> CliError {
        CliError::from(ClientError::Rpc(RpcError::new(code, "x")))
    }

    #[test]
    fn broker_errors_map_to_seed_exit_codes() {
        assert_eq!(rpc(ErrorCode::AuthFailed).exit as u8, 2);
        assert_eq!(rpc(ErrorCode::InvalidParams).exit as u8, 3);
        assert_eq!(rpc(ErrorCode::Unavailable).exit as u8, 4);
        assert_eq!(rpc(ErrorCode::NotFound).exit as u8, 5);
        assert_eq!(rpc(ErrorCode::InviteExpired).exit as u8, 5);
        assert_eq!(rpc(ErrorCode::InviteExhausted).exit as u8, 5);
        assert_eq!(rpc(ErrorCode::InviteInvalid).exit as u8, 5);
        assert_eq!(rpc(ErrorCode::AlreadyExists).exit as u8, 6);
        assert_eq!(rpc(ErrorCode::Conflict).exit as u8, 6);
        assert_eq!(rpc(ErrorCode::Forbidden).exit as u8, 7);
        assert_eq!(rpc(ErrorCode::NotMember).exit as u8, 7);
        assert_eq!(rpc(ErrorCode::Internal).exit as u8, 8);
        assert_eq!(rpc(ErrorCode::InviteExpired).reason, "invite_expired");
    }

    #[test]
    fn local_errors_map_to_seed_exit_codes() {
        assert_eq!(CliError::from(InviteError::Malformed).exit, Exit::InvalidArgs);
        let unreachable = ClientError::Unreachable { url: "ws://x".into(), reason: "refused".into() };
        assert_eq!(CliError::from(unreachable).exit, Exit::Network);
        let removed = ClientError::ConnectionLost { code: Some(4002), reason: String::new() };
        assert_eq!(CliError::from(removed).exit, Exit::Forbidden);
        let missing = ResolveError::NoSuchPeer { name: "x".into(), closest: vec!["y".into()] };
        assert_eq!(CliError::from(ClientError::Resolve(missing)).exit, Exit::NotFound);
        assert_eq!(CliError::from(ConfigError::NoHome).exit, Exit::InvalidArgs);
        assert_eq!(CliError::from(ClaudeError::ClaudeNotFound).exit as u8, 9);
        let malformed = ClaudeError::Malformed { path: "/h/.claude.json".into(), detail: "EOF".into() };
        assert_eq!(CliError::from(malformed).exit, Exit::InvalidArgs);
    }

    #[test]
    fn messages_render_in_english_with_arguments() {
        let e = CliError::from(ClientError::Unreachable { url: "ws://h:1/ws".into(), reason: "refused".into() });
        let text = e.message_in(Lang::En);
        assert!(text.contains("ws://h:1/ws"), "{text}");
        assert!(!text.contains("err-"), "{text}");
        assert!(e.hint_in(Lang::En).is_some_and(|h| !h.starts_with("hint-")));
    }
}
