//! Authenticated encryption, libsodium-compatible: crypto_box between two ed25519 identities (keys converted to x25519
//! as libsodium does), anonymous sealed boxes, and secretbox. Ciphertexts are MAC‖c; nonces travel separately.

use super::keys::{SigningKey, x25519_public};
use super::{CryptoError, random_bytes};
use crypto_box::aead::{Aead, OsRng};
use crypto_box::{PublicKey, SalsaBox};
use crypto_secretbox::{KeyInit, XSalsa20Poly1305};

fn box_public(ed_public: &[u8; 32]) -> Result<PublicKey, CryptoError> {
    Ok(PublicKey::from_bytes(x25519_public(ed_public)?))
}

/// `crypto_box_easy` from `sender` to `recipient_ed_public` with a fresh random 24-byte nonce.
/// Returns `(nonce, MAC‖ciphertext)`. (Sessions use [`PairKey`], which this is built on.)
#[cfg(test)]
pub(crate) fn box_seal(
    sender: &SigningKey,
    recipient_ed_public: &[u8; 32],
    plaintext: &[u8],
) -> Result<([u8; 24], Vec<u8>), CryptoError> {
    let nonce = random_bytes::<24>()?;
    let ciphertext = box_seal_with_nonce(sender, recipient_ed_public, &nonce, plaintext)?;
    Ok((nonce, ciphertext))
}

/// `crypto_box_easy` with a caller-chosen nonce. Never reuse a nonce for the same pair of keys; only [`box_seal`]
/// and the interop tests call this.
#[cfg(test)]
pub(super) fn box_seal_with_nonce(
    sender: &SigningKey,
    recipient_ed_public: &[u8; 32],
    nonce: &[u8; 24],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    PairKey::new(sender, recipient_ed_public)?.seal_with_nonce(nonce, plaintext)
}

/// `crypto_box_open_easy`: opens a box `sender_ed_public` sent to `recipient`.
#[cfg(test)]
pub(crate) fn box_open(
    recipient: &SigningKey,
    sender_ed_public: &[u8; 32],
    nonce: &[u8; 24],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    PairKey::new(recipient, sender_ed_public)?.open(nonce, ciphertext)
}

/// A precomputed crypto_box key for one pair of identities (libsodium's `crypto_box_beforenm`): sealing and
/// opening without repeating the key conversion and the X25519 exchange. Same bytes as [`box_seal`]/[`box_open`].
pub(crate) struct PairKey(SalsaBox);

impl PairKey {
    pub(crate) fn new(me: &SigningKey, peer_ed_public: &[u8; 32]) -> Result<Self, CryptoError> {
        Ok(Self(SalsaBox::new(&box_public(peer_ed_public)?, &me.box_secret())))
    }

    /// Seals for the peer with a fresh random nonce: `(nonce, MAC‖ciphertext)`.
    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<([u8; 24], Vec<u8>), CryptoError> {
        let nonce = random_bytes::<24>()?;
        let ciphertext = self.seal_with_nonce(&nonce, plaintext)?;
        Ok((nonce, ciphertext))
    }

    /// `crypto_box_easy` with a caller-chosen nonce. Never reuse a nonce for the same pair; only `seal` and the
    /// interop tests call this.
    fn seal_with_nonce(&self, nonce: &[u8; 24], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.encrypt(&(*nonce).into(), plaintext).map_err(|_| CryptoError::EncryptFailed)
    }

    /// Opens a box the peer sealed for us.
    pub(crate) fn open(&self, nonce: &[u8; 24], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.decrypt(&(*nonce).into(), ciphertext).map_err(|_| CryptoError::DecryptFailed)
    }
}

/// `crypto_box_seal`: an anonymous sealed box (ephemeral pk‖MAC‖c) to an ed25519 identity.
#[allow(dead_code)] // for invites and key hand-over, which later features add
pub(crate) fn seal_anonymous(recipient_ed_public: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    box_public(recipient_ed_public)?.seal(&mut OsRng, plaintext).map_err(|_| CryptoError::EncryptFailed)
}

/// `crypto_box_seal_open`: opens a sealed box addressed to `recipient`.
#[allow(dead_code)] // for invites and key hand-over, which later features add
pub(crate) fn open_anonymous(recipient: &SigningKey, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    recipient.box_secret().unseal(sealed).map_err(|_| CryptoError::DecryptFailed)
}

/// `crypto_secretbox_easy` (XSalsa20-Poly1305) with a fresh random nonce. Returns `(nonce, MAC‖ciphertext)`.
#[allow(dead_code)] // for shared mesh state, which later features add
pub(crate) fn secretbox_seal(key: &[u8; 32], plaintext: &[u8]) -> Result<([u8; 24], Vec<u8>), CryptoError> {
    let nonce = random_bytes::<24>()?;
    let ciphertext = secretbox_seal_with_nonce(key, &nonce, plaintext)?;
    Ok((nonce, ciphertext))
}

/// `crypto_secretbox_easy` with a caller-chosen nonce (used by [`secretbox_seal`] and the interop tests).
#[allow(dead_code)] // only reached through secretbox_seal for now
pub(super) fn secretbox_seal_with_nonce(
    key: &[u8; 32],
    nonce: &[u8; 24],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    XSalsa20Poly1305::new(&(*key).into()).encrypt(&(*nonce).into(), plaintext).map_err(|_| CryptoError::EncryptFailed)
}

/// `crypto_secretbox_open_easy`.
#[allow(dead_code)] // for shared mesh state, which later features add
pub(crate) fn secretbox_open(key: &[u8; 32], nonce: &[u8; 24], ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    XSalsa20Poly1305::new(&(*key).into()).decrypt(&(*nonce).into(), ciphertext).map_err(|_| CryptoError::DecryptFailed)
}

#[cfg(test)]
mod pair_tests {
    use super::*;

    #[test]
    fn a_pair_key_speaks_the_same_bytes_as_box_seal_and_box_open() {
        let alice = SigningKey::generate().unwrap();
        let bob = SigningKey::generate().unwrap();
        let eve = SigningKey::generate().unwrap();
        let alice_to_bob = PairKey::new(&alice, &bob.public()).unwrap();
        let bob_from_alice = PairKey::new(&bob, &alice.public()).unwrap();
        let (nonce, c) = alice_to_bob.seal(b"hi bob").unwrap();
        assert_eq!(box_open(&bob, &alice.public(), &nonce, &c).unwrap(), b"hi bob");
        assert_eq!(bob_from_alice.open(&nonce, &c).unwrap(), b"hi bob");
        let (nonce, c) = box_seal(&alice, &bob.public(), b"again").unwrap();
        assert_eq!(bob_from_alice.open(&nonce, &c).unwrap(), b"again");
        assert!(PairKey::new(&bob, &eve.public()).unwrap().open(&nonce, &c).is_err());
    }
}
