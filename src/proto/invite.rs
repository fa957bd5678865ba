//! Invite tokens: a signed, self-describing join capability carried in a URL. Pure parsing and encoding;
//! signing and verification happen in callers with the crypto module over `Invite::signed_bytes`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::ids::{KeyHex, MeshId, is_valid_name};

/// Largest invite URL we parse (a real one is about 600 characters).
const MAX_INVITE_URL: usize = 4096;
/// Longest broker URL an invite may carry (bytes), so that the link of every valid invite stays under
/// [`MAX_INVITE_URL`] (a host name is at most 253 characters).
const MAX_BROKER_URL: usize = 512;

/// A member's role in a mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    Guest,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "guest" => Some(Role::Guest),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
    /// Admins and the owner may invite and rename.
    pub(crate) fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::Owner)
    }
}

/// The contents of an invite token. `sig` is the issuer's ed25519 signature over [`Invite::signed_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Invite {
    pub v: u32,
    /// Random invite id (22 chars base64url); the broker counts uses against it.
    pub id: String,
    pub mesh: MeshId,
    pub mesh_name: String,
    /// WebSocket URL of the broker (`ws://` or `wss://`).
    pub broker: String,
    pub role: Role,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// How many times the invite may be redeemed.
    pub uses: u32,
    /// Member key of the admin who signed it.
    pub issuer: KeyHex,
    /// Display name of the admin who signed it (shown to the joiner).
    pub inviter: String,
    /// 128 lowercase hex chars.
    pub sig: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum InviteError {
    #[error("this is not a claudemesh invite link")]
    NotAnInvite,
    #[error("the invite link is damaged (its token does not decode)")]
    Malformed,
    #[error("the invite uses version {0}, which this claudemesh does not know")]
    UnknownVersion(u32),
}

impl Invite {
    /// `claudemesh.v1/invite\n{id}\n{mesh}\n{mesh_name}\n{broker}\n{role}\n{exp}\n{uses}\n{issuer}\n{inviter}`
    pub(crate) fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "claudemesh.v1/invite\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.id,
            self.mesh,
            self.mesh_name,
            self.broker,
            self.role.as_str(),
            self.exp,
            self.uses,
            self.issuer,
            self.inviter
        )
        .into_bytes()
    }

    pub(crate) fn new_id() -> String {
        URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
    }

    /// base64url (no padding) of the JSON form.
    pub(crate) fn to_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub(crate) fn from_token(token: &str) -> Result<Self, InviteError> {
        if token.is_empty() || token.len() > MAX_INVITE_URL {
            return Err(InviteError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|_| InviteError::Malformed)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| InviteError::Malformed)?;
        let v = value.get("v").and_then(serde_json::Value::as_u64).ok_or(InviteError::Malformed)?;
        if v != 1 {
            return Err(InviteError::UnknownVersion(u32::try_from(v).unwrap_or(u32::MAX)));
        }
        let inv: Invite = serde_json::from_value(value).map_err(|_| InviteError::Malformed)?;
        let fields_ok = is_valid_name(&inv.mesh_name)
            && is_valid_name(&inv.inviter)
            && is_invite_id(&inv.id)
            && inv.sig.len() == 128
            && inv.sig.bytes().all(|b| b.is_ascii_hexdigit())
            && (inv.broker.starts_with("ws://") || inv.broker.starts_with("wss://"))
            && inv.broker.len() <= MAX_BROKER_URL
            && !inv.broker.chars().any(char::is_control)
            && inv.uses >= 1;
        if !fields_ok {
            return Err(InviteError::Malformed);
        }
        Ok(inv)
    }

    /// The shareable link: `http(s)://<broker host>/join/<token>`.
    pub(crate) fn to_url(&self) -> String {
        let base = http_base(&self.broker);
        format!("{base}/join/{}", self.to_token())
    }

    /// Accepts `http(s)://…/join/<token>`, `claudemesh://join/<token>`, or the bare token.
    pub(crate) fn from_url(input: &str) -> Result<Self, InviteError> {
        let s = input.trim();
        if s.len() > MAX_INVITE_URL {
            return Err(InviteError::Malformed);
        }
        let token = if let Some(rest) = s.strip_prefix("claudemesh://join/") {
            rest
        } else if s.starts_with("http://") || s.starts_with("https://") {
            // The token is after the *last* `/join/`: a base64url token never holds a `/`, while the host or a
            // broker path may spell `join` (`http://join/join/<token>`, found by fuzzing).
            let Some(pos) = s.rfind("/join/") else {
                return Err(InviteError::NotAnInvite);
            };
            &s[pos + "/join/".len()..]
        } else if s.contains("://") {
            return Err(InviteError::NotAnInvite);
        } else {
            s
        };
        let token = token.split(['?', '#']).next().unwrap_or("").trim_end_matches('/');
        Self::from_token(token)
    }

    /// Whether a command-line argument looks like an invite link (for bare `claudemesh <url>`).
    pub(crate) fn looks_like_url(s: &str) -> bool {
        s.starts_with("claudemesh://join/")
            || ((s.starts_with("http://") || s.starts_with("https://")) && s.contains("/join/"))
    }
}

/// 22 base64url characters, as [`Invite::new_id`] makes them. The id reaches the broker's store, the signed bytes
/// and terminals, so nothing else (control characters, spaces, newlines) may pass.
fn is_invite_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `ws://h:p/ws` → `http://h:p`, `wss://h/ws` → `https://h`.
pub(crate) fn http_base(broker: &str) -> String {
    let (scheme, rest) = if let Some(r) = broker.strip_prefix("wss://") {
        ("https://", r)
    } else if let Some(r) = broker.strip_prefix("ws://") {
        ("http://", r)
    } else {
        ("", broker)
    };
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Invite {
        Invite {
            v: 1,
            id: Invite::new_id(),
            mesh: MeshId::generate(),
            mesh_name: "team".into(),
            broker: "ws://127.0.0.1:7900/ws".into(),
            role: Role::Member,
            exp: 1_900_000_000,
            uses: 1,
            issuer: KeyHex([7; 32]),
            inviter: "alice".into(),
            sig: "ab".repeat(64),
        }
    }

    #[test]
    fn round_trips_through_url_forms() {
        let inv = sample();
        let url = inv.to_url();
        assert!(url.starts_with("http://127.0.0.1:7900/join/"));
        assert!(Invite::looks_like_url(&url));
        assert_eq!(Invite::from_url(&url).unwrap(), inv);
        assert_eq!(Invite::from_url(&format!("claudemesh://join/{}", inv.to_token())).unwrap(), inv);
        assert_eq!(Invite::from_url(&inv.to_token()).unwrap(), inv);
        // A broker whose host (or path) is spelled `join` still yields a link that parses back.
        let odd = Invite { broker: "ws://join/join/ws".into(), ..sample() };
        assert!(odd.to_url().starts_with("http://join/join/"), "{}", odd.to_url());
        assert_eq!(Invite::from_url(&odd.to_url()).unwrap(), odd);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Invite::from_url("https://example.com/nothing"), Err(InviteError::NotAnInvite));
        assert_eq!(Invite::from_url("https://example.com/join/!!!"), Err(InviteError::Malformed));
        assert_eq!(Invite::from_url(""), Err(InviteError::Malformed));
        let mut v: serde_json::Value = serde_json::to_value(sample()).unwrap();
        v["v"] = 2.into();
        let tok = URL_SAFE_NO_PAD.encode(v.to_string());
        assert_eq!(Invite::from_token(&tok), Err(InviteError::UnknownVersion(2)));
        let mut bad = sample();
        bad.mesh_name = "a\nb".into();
        assert_eq!(Invite::from_token(&bad.to_token()), Err(InviteError::Malformed));
    }

    #[test]
    fn every_invite_that_parses_has_a_link_that_parses() {
        // The link is longer than the token (it repeats the broker's host), so a token near the cap made a link
        // over it: a broker URL of 1,600 characters gave an invite whose own link was refused. The broker URL cap
        // keeps the worst case (every field at its longest, every character escaped or 4 bytes) under the link cap.
        let mut worst = sample();
        worst.mesh_name = "\u{1f600}".repeat(64);
        worst.inviter = "\"".repeat(64);
        worst.broker = format!("wss://{}", "\"".repeat(MAX_BROKER_URL - "wss://".len()));
        worst.exp = u64::MAX;
        worst.uses = u32::MAX;
        assert_eq!(Invite::from_token(&worst.to_token()), Ok(worst.clone()));
        assert!(worst.to_url().len() <= MAX_INVITE_URL, "{}", worst.to_url().len());
        assert_eq!(Invite::from_url(&worst.to_url()), Ok(worst.clone()));
        worst.broker.push('h');
        assert_eq!(Invite::from_token(&worst.to_token()), Err(InviteError::Malformed));
    }

    #[test]
    fn invite_ids_are_22_base64url_characters_and_nothing_else() {
        // Found by fuzz/invite (fuzz/regressions/invite/control-character-in-id): any 22 bytes passed, a DEL included.
        for id in [
            "AAECAwQFBgcICQ\u{7f}LDA0ODw",
            "AAECAwQFBgcICQ\nLDA0ODw",
            "AAECAwQFBgcICQ LDA0ODw",
            "AAECAwQFBgcICQ+LDA0ODw",
        ] {
            let mut bad = sample();
            bad.id = id.into();
            assert_eq!(Invite::from_token(&bad.to_token()), Err(InviteError::Malformed), "{id:?}");
        }
        let mut good = sample();
        good.id = "AAECAwQFBgcICQ-_DA0ODw".into();
        assert_eq!(Invite::from_token(&good.to_token()), Ok(good));
    }
}
