//! Unit tests for the crypto module: round trips, wrong keys, tampering, malformed input, no secrets in Debug.

use super::boxes::box_seal_with_nonce;
use super::*;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

#[test]
fn generate_gives_distinct_keys_and_seed_round_trips() {
    let a = SigningKey::generate().unwrap();
    let b = SigningKey::generate().unwrap();
    assert_ne!(a.public(), b.public());
    let again = SigningKey::from_seed(&a.seed());
    assert_eq!(again.public(), a.public());
    assert_eq!(again.sign(b"x"), a.sign(b"x"));
}

#[test]
fn sign_and_verify_round_trip() {
    let k = key(1);
    let sig = k.sign(b"hello");
    verify(&k.public(), b"hello", &sig).unwrap();
    let sig_hex = k.sign_hex(b"hello");
    assert_eq!(sig_hex.len(), 128);
    assert_eq!(sig_hex, hex::encode(sig));
    verify_hex(&k.public(), b"hello", &sig_hex).unwrap();
}

#[test]
fn verify_rejects_modified_message_wrong_key_and_flipped_bits() {
    let k = key(1);
    let sig = k.sign(b"hello");
    assert!(matches!(verify(&k.public(), b"hellp", &sig), Err(CryptoError::BadSignature)));
    assert!(matches!(verify(&key(2).public(), b"hello", &sig), Err(CryptoError::BadSignature)));
    for i in [0, 31, 32, 63] {
        let mut bad = sig;
        bad[i] ^= 0x01;
        assert!(verify(&k.public(), b"hello", &bad).is_err(), "flipped byte {i}");
    }
    assert!(matches!(verify(&[0u8; 32], b"hello", &sig), Err(CryptoError::BadKey)));
}

#[test]
fn verify_hex_rejects_malformed_hex() {
    let k = key(1);
    let good = k.sign_hex(b"m");
    let cases = [
        String::new(),
        good[..126].to_string(),
        format!("{good}00"),
        good.to_uppercase(),
        format!("zz{}", &good[2..]),
        format!(" {}", &good[1..]),
        format!("é{}", &good[2..]),
    ];
    for bad in &cases {
        assert!(matches!(verify_hex(&k.public(), b"m", bad), Err(CryptoError::MalformedSignature)), "accepted {bad:?}");
    }
    let other = key(2).sign_hex(b"m");
    assert!(matches!(verify_hex(&k.public(), b"m", &other), Err(CryptoError::BadSignature)));
}

#[test]
fn box_round_trip_and_wrong_keys_fail() {
    let (alice, bob, carol) = (key(1), key(2), key(3));
    let (nonce, c) = box_seal(&alice, &bob.public(), b"secret").unwrap();
    assert_eq!(c.len(), 16 + 6);
    assert_eq!(box_open(&bob, &alice.public(), &nonce, &c).unwrap(), b"secret");
    // Both directions derive the same shared key.
    assert_eq!(
        box_open(&alice, &bob.public(), &nonce, &box_seal_with_nonce(&bob, &alice.public(), &nonce, b"r").unwrap())
            .unwrap(),
        b"r"
    );
    assert!(matches!(box_open(&carol, &alice.public(), &nonce, &c), Err(CryptoError::DecryptFailed)));
    assert!(matches!(box_open(&bob, &carol.public(), &nonce, &c), Err(CryptoError::DecryptFailed)));
    let mut other_nonce = nonce;
    other_nonce[0] ^= 1;
    assert!(box_open(&bob, &alice.public(), &other_nonce, &c).is_err());
    let mut tampered = c.clone();
    tampered[20] ^= 1;
    assert!(box_open(&bob, &alice.public(), &nonce, &tampered).is_err());
    assert!(box_open(&bob, &alice.public(), &nonce, &c[..15]).is_err());
    assert!(matches!(box_seal(&alice, &[0u8; 32], b"x"), Err(CryptoError::BadKey)));
}

#[test]
fn box_nonces_are_fresh() {
    let (alice, bob) = (key(1), key(2));
    let (n1, c1) = box_seal(&alice, &bob.public(), b"same").unwrap();
    let (n2, c2) = box_seal(&alice, &bob.public(), b"same").unwrap();
    assert_ne!(n1, n2);
    assert_ne!(c1, c2);
}

#[test]
fn sealed_box_round_trip_and_wrong_key_fails() {
    let (bob, carol) = (key(2), key(3));
    let sealed = seal_anonymous(&bob.public(), b"invite").unwrap();
    assert_eq!(sealed.len(), 32 + 16 + 6);
    assert_eq!(open_anonymous(&bob, &sealed).unwrap(), b"invite");
    assert!(matches!(open_anonymous(&carol, &sealed), Err(CryptoError::DecryptFailed)));
    assert!(open_anonymous(&bob, &sealed[..40]).is_err());
    assert!(open_anonymous(&bob, &[]).is_err());
}

#[test]
fn secretbox_round_trip_and_wrong_key_fails() {
    let k: [u8; 32] = random_bytes().unwrap();
    let (nonce, c) = secretbox_seal(&k, b"state").unwrap();
    assert_eq!(secretbox_open(&k, &nonce, &c).unwrap(), b"state");
    let mut wrong = k;
    wrong[0] ^= 1;
    assert!(matches!(secretbox_open(&wrong, &nonce, &c), Err(CryptoError::DecryptFailed)));
    assert!(secretbox_open(&k, &nonce, &c[1..]).is_err());
}

#[test]
fn x25519_public_matches_secret_and_rejects_bad_points() {
    let k = key(7);
    let from_secret = crypto_box::SecretKey::from_bytes(*k.x25519_secret()).public_key().to_bytes();
    assert_eq!(x25519_public(&k.public()).unwrap(), from_secret);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(matches!(x25519_public(&identity), Err(CryptoError::BadKey)));
    assert!(matches!(x25519_public(&[0u8; 32]), Err(CryptoError::BadKey)));
}

#[test]
fn debug_does_not_leak_the_seed() {
    let seed = [0x5au8; 32];
    let k = SigningKey::from_seed(&seed);
    let dbg = format!("{k:?} {k:#?}");
    assert!(!dbg.contains(&hex::encode(seed)), "{dbg}");
    assert!(!dbg.contains("5a5a5a5a"), "{dbg}");
    assert!(!dbg.contains(&hex::encode(*k.x25519_secret())), "{dbg}");
    assert!(dbg.contains(&hex::encode(k.public())), "{dbg}");
}

#[test]
fn errors_do_not_carry_key_material() {
    let k = key(9);
    let err = verify(&k.public(), b"m", &[0u8; 64]).unwrap_err().to_string();
    assert!(!err.contains(&hex::encode(k.public())));
    assert!(!err.is_empty());
}

#[test]
fn fingerprint_format() {
    let fp = fingerprint(&key(1).public());
    assert_eq!(fp.len(), 24);
    let groups: Vec<&str> = fp.split('-').collect();
    assert_eq!(groups.len(), 5);
    assert!(groups.iter().all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())));
    // sha256 of 32 zero bytes starts 66687aadf862bd776c8f.
    assert_eq!(fingerprint(&[0u8; 32]), "6668-7aad-f862-bd77-6c8f");
    assert_ne!(fingerprint(&key(1).public()), fingerprint(&key(2).public()));
}

#[test]
fn random_bytes_differ() {
    let a: [u8; 32] = random_bytes().unwrap();
    let b: [u8; 32] = random_bytes().unwrap();
    assert_ne!(a, b);
}
