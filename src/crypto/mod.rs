//! Cryptography for claudemesh, byte-compatible with libsodium: ed25519 identity keys and signatures, ed25519→x25519
//! conversion, crypto_box, sealed boxes, secretbox, random bytes and human fingerprints. Pure: no IO, no other modules.
//!
//! Interop with libsodium is proven by `tests/fixtures/sodium_vectors.{py,json}` (see docs/security.md).

mod boxes;
mod keys;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub(crate) use boxes::PairKey;
#[cfg(test)]
pub(crate) use boxes::{box_open, box_seal};
#[allow(unused_imports)] // sealed boxes and secretbox are for later features (invites, shared state)
pub(crate) use boxes::{open_anonymous, seal_anonymous, secretbox_open, secretbox_seal};
pub(crate) use keys::{SigningKey, fingerprint, verify_hex};
#[allow(unused_imports)] // raw-signature verification and key conversion are used by tests and later features
pub(crate) use keys::{verify, x25519_public};

/// Everything that can go wrong in this module. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CryptoError {
    /// A public key is not a usable ed25519 point (off the curve, small order or outside the prime-order subgroup).
    #[error("invalid public key: not a usable ed25519 key")]
    BadKey,
    /// A well-formed signature that does not verify for this key and message.
    #[error("signature does not verify for this key and message")]
    BadSignature,
    /// A signature string that is not 128 lowercase hex characters.
    #[error("malformed signature: expected 128 lowercase hex characters")]
    MalformedSignature,
    /// Authentication failed while opening a box: wrong key, wrong nonce, truncated or tampered ciphertext.
    #[error("decryption failed: wrong key or nonce, or the ciphertext was modified")]
    DecryptFailed,
    /// Encryption refused the input (only possible for absurdly large plaintexts).
    #[error("encryption failed: plaintext too large")]
    EncryptFailed,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random(#[source] getrandom::Error),
}

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(CryptoError::Random)?;
    Ok(out)
}
