//! Ed25519 identity keys (member and session keys): generation, signing, strict verification, the libsodium-style
//! ed25519→x25519 conversion and human fingerprints.

use super::{CryptoError, random_bytes};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// An ed25519 identity key (a member key or a session key). The secret is zeroized on drop (ed25519-dalek's
/// `SigningKey` is `ZeroizeOnDrop`) and `Debug` shows only the public key.
pub(crate) struct SigningKey {
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A fresh key from 32 bytes of OS randomness.
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        let seed = Zeroizing::new(random_bytes::<32>()?);
        Ok(Self::from_seed(&seed))
    }

    /// The key for a 32-byte seed, as libsodium's `crypto_sign_seed_keypair`.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        Self { inner: ed25519_dalek::SigningKey::from_bytes(seed) }
    }

    /// The 32-byte seed (what gets stored on disk). Treat it as the secret key.
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.inner.to_bytes())
    }

    /// The ed25519 public key bytes.
    pub(crate) fn public(&self) -> [u8; 32] {
        self.inner.verifying_key().to_bytes()
    }

    /// A detached ed25519 signature (deterministic: same key and message give the same bytes as libsodium).
    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.inner.sign(msg).to_bytes()
    }

    /// [`Self::sign`] as 128 lowercase hex characters, the form used on the wire.
    pub(crate) fn sign_hex(&self, msg: &[u8]) -> String {
        hex::encode(self.sign(msg))
    }

    /// The x25519 secret key, byte-identical to libsodium's `crypto_sign_ed25519_sk_to_curve25519`
    /// (SHA-512 of the seed, first half, clamped).
    pub(crate) fn x25519_secret(&self) -> Zeroizing<[u8; 32]> {
        let mut k = Zeroizing::new(self.inner.to_scalar_bytes());
        k[0] &= 248;
        k[31] &= 127;
        k[31] |= 64;
        k
    }

    /// The crypto_box secret key for this identity.
    pub(super) fn box_secret(&self) -> crypto_box::SecretKey {
        crypto_box::SecretKey::from_bytes(*self.x25519_secret())
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("public", &hex::encode(self.public())).finish_non_exhaustive()
    }
}

/// Parses an ed25519 public key and rejects every key libsodium's `crypto_sign_ed25519_pk_to_curve25519` rejects:
/// not on the curve, small order, or not in the prime-order subgroup.
fn verifying_key(public: &[u8; 32]) -> Result<VerifyingKey, CryptoError> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| CryptoError::BadKey)?;
    if key.is_weak() || !key.to_edwards().is_torsion_free() {
        return Err(CryptoError::BadKey);
    }
    Ok(key)
}

/// Verifies a detached ed25519 signature with `verify_strict` (rejects non-canonical and small-order components,
/// like libsodium's `crypto_sign_verify_detached`).
pub(crate) fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), CryptoError> {
    let key = verifying_key(public)?;
    key.verify_strict(msg, &Signature::from_bytes(sig)).map_err(|_| CryptoError::BadSignature)
}

/// [`verify`] for a signature written as exactly 128 lowercase hex characters; anything else is
/// [`CryptoError::MalformedSignature`].
pub(crate) fn verify_hex(public: &[u8; 32], msg: &[u8], sig_hex: &str) -> Result<(), CryptoError> {
    if sig_hex.len() != 128 || !sig_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(CryptoError::MalformedSignature);
    }
    let mut sig = [0u8; 64];
    hex::decode_to_slice(sig_hex, &mut sig).map_err(|_| CryptoError::MalformedSignature)?;
    verify(public, msg, &sig)
}

/// The x25519 public key for an ed25519 public key, byte-identical to libsodium's
/// `crypto_sign_ed25519_pk_to_curve25519`, which also rejects the same invalid points.
pub(crate) fn x25519_public(ed_public: &[u8; 32]) -> Result<[u8; 32], CryptoError> {
    Ok(verifying_key(ed_public)?.to_montgomery().to_bytes())
}

/// A fingerprint for humans to compare out of band: SHA-256 of the public key, first 10 bytes, as five groups of four
/// lowercase hex characters joined by `-` (e.g. `3f2a-91c0-77de-0b14-5e6a`).
pub(crate) fn fingerprint(public: &[u8; 32]) -> String {
    let digest = Sha256::digest(public);
    let hex = hex::encode(&digest[..10]);
    let groups: Vec<&str> = (0..5).filter_map(|i| hex.get(i * 4..i * 4 + 4)).collect();
    groups.join("-")
}
