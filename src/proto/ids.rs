//! Identifier newtypes parsed at the boundary: mesh ids, public keys in lowercase hex, message ids (UUIDv7).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A mesh id: a UUID in its hyphenated lowercase form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct MeshId(String);

impl MeshId {
    pub(crate) fn generate() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MeshId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match uuid::Uuid::try_parse(&s) {
            Ok(u) if u.hyphenated().to_string() == s => Ok(Self(s)),
            _ => Err("mesh id must be a lowercase hyphenated UUID".into()),
        }
    }
}

impl From<MeshId> for String {
    fn from(m: MeshId) -> String {
        m.0
    }
}

impl fmt::Display for MeshId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 32-byte ed25519 public key written as 64 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct KeyHex(pub [u8; 32]);

impl KeyHex {
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Short human fingerprint: the first 8 bytes of the key as 4 groups of 4 hex chars.
    pub(crate) fn short(&self) -> String {
        let h = hex::encode(&self.0[..8]);
        format!("{}-{}-{}-{}", &h[0..4], &h[4..8], &h[8..12], &h[12..16])
    }
}

impl TryFrom<String> for KeyHex {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for KeyHex {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err("a key must be 64 lowercase hex characters".into());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|e| e.to_string())?;
        Ok(Self(out))
    }
}

impl From<KeyHex> for String {
    fn from(k: KeyHex) -> String {
        hex::encode(k.0)
    }
}

impl fmt::Display for KeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A client-chosen message id: a UUIDv7 in hyphenated lowercase form (time-ordered, so ids sort by send time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct MessageId(String);

impl MessageId {
    pub(crate) fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MessageId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match uuid::Uuid::try_parse(&s) {
            Ok(u) if u.get_version_num() == 7 && u.hyphenated().to_string() == s => Ok(Self(s)),
            _ => Err("message id must be a lowercase hyphenated UUIDv7".into()),
        }
    }
}

impl From<MessageId> for String {
    fn from(m: MessageId) -> String {
        m.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names (mesh names, peer names, group names): 1..=64 chars, no control characters, not only whitespace.
/// Signed byte strings join fields with `\n`, so rejecting control characters keeps them unambiguous.
pub(crate) fn is_valid_name(s: &str) -> bool {
    let n = s.chars().count();
    (1..=64).contains(&n) && !s.chars().any(char::is_control) && !s.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hex_rejects_uppercase_and_wrong_length() {
        assert!("AB".repeat(32).parse::<KeyHex>().is_err());
        assert!("ab".repeat(31).parse::<KeyHex>().is_err());
        let k: KeyHex = "ab".repeat(32).parse().unwrap();
        assert_eq!(k.to_string(), "ab".repeat(32));
        assert_eq!(k.short(), "abab-abab-abab-abab");
    }

    #[test]
    fn message_ids_are_v7() {
        let id = MessageId::generate();
        assert!(MessageId::try_from(id.to_string()).is_ok());
        assert!(MessageId::try_from(uuid::Uuid::new_v4().to_string()).is_err());
        assert!(MessageId::try_from("x".to_string()).is_err());
    }

    #[test]
    fn names() {
        assert!(is_valid_name("alice"));
        assert!(is_valid_name("équipe 東京"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("   "));
        assert!(!is_valid_name("a\nb"));
        assert!(!is_valid_name(&"x".repeat(65)));
    }
}
