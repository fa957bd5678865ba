//! libsodium interop tests: open the committed vectors libsodium produced (tests/fixtures/sodium_vectors.json), and
//! have libsodium (through PyNaCl, `tests/fixtures/sodium_vectors.py check`) verify what our code produces.

use super::boxes::{box_seal_with_nonce, secretbox_seal_with_nonce};
use super::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const COMMITTED: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sodium_vectors.json"));

/// The JSON shape shared by both modes of tests/fixtures/sodium_vectors.py (format 1, bytes as lowercase hex).
#[derive(Serialize, Deserialize)]
struct Doc {
    format: u32,
    producer: String,
    identities: Vec<Identity>,
    conversions: Vec<Conversion>,
    invalid_ed25519_pks: Vec<InvalidPk>,
    signatures: Vec<SigCase>,
    boxes: Vec<BoxCase>,
    sealed_boxes: Vec<SealedCase>,
    secretboxes: Vec<SecretboxCase>,
}

#[derive(Serialize, Deserialize)]
struct Identity {
    name: String,
    seed: String,
    ed25519_pk: String,
    ed25519_sk: String,
    x25519_pk: String,
    x25519_sk: String,
}

#[derive(Serialize, Deserialize)]
struct Conversion {
    ed25519_pk: String,
    x25519_pk: String,
}

#[derive(Serialize, Deserialize)]
struct InvalidPk {
    pk: String,
    why: String,
}

#[derive(Serialize, Deserialize)]
struct SigCase {
    signer: String,
    msg: String,
    sig: String,
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct BoxCase {
    sender: String,
    recipient: String,
    nonce: String,
    plaintext: String,
    ciphertext: String,
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SealedCase {
    recipient: String,
    plaintext: String,
    sealed: String,
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SecretboxCase {
    key: String,
    nonce: String,
    plaintext: String,
    ciphertext: String,
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

fn bytes(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn arr<const N: usize>(s: &str) -> [u8; N] {
    bytes(s).try_into().unwrap_or_else(|v: Vec<u8>| panic!("expected {N} bytes, got {}", v.len()))
}

fn label(why: &Option<String>) -> &str {
    why.as_deref().unwrap_or("")
}

fn identity_json(name: &str, k: &SigningKey) -> Identity {
    let mut sk = k.seed().to_vec();
    sk.extend_from_slice(&k.public());
    Identity {
        name: name.into(),
        seed: hex::encode(*k.seed()),
        ed25519_pk: hex::encode(k.public()),
        ed25519_sk: hex::encode(sk),
        x25519_pk: hex::encode(x25519_public(&k.public()).unwrap()),
        x25519_sk: hex::encode(*k.x25519_secret()),
    }
}

#[test]
fn opens_libsodium_vectors() {
    let doc: Doc = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(doc.format, 1);

    let mut ids: HashMap<&str, SigningKey> = HashMap::new();
    for id in &doc.identities {
        let k = SigningKey::from_seed(&arr(&id.seed));
        assert_eq!(hex::encode(k.public()), id.ed25519_pk, "{} ed25519 pk", id.name);
        let mut sk = k.seed().to_vec();
        sk.extend_from_slice(&k.public());
        assert_eq!(hex::encode(sk), id.ed25519_sk, "{} libsodium 64-byte sk", id.name);
        assert_eq!(hex::encode(x25519_public(&k.public()).unwrap()), id.x25519_pk, "{} x25519 pk", id.name);
        assert_eq!(hex::encode(*k.x25519_secret()), id.x25519_sk, "{} x25519 sk", id.name);
        ids.insert(&id.name, k);
    }
    let key = |name: &str| ids.get(name).unwrap_or_else(|| panic!("unknown identity {name}"));

    for c in &doc.conversions {
        assert_eq!(
            hex::encode(x25519_public(&arr(&c.ed25519_pk)).unwrap()),
            c.x25519_pk,
            "conversion of {}",
            c.ed25519_pk
        );
    }
    for c in &doc.invalid_ed25519_pks {
        let pk = arr(&c.pk);
        assert!(matches!(x25519_public(&pk), Err(CryptoError::BadKey)), "accepted invalid key ({})", c.why);
        assert!(matches!(verify(&pk, b"m", &[0u8; 64]), Err(CryptoError::BadKey)), "verify with {}", c.why);
        assert!(matches!(box_seal(key("alice"), &pk, b"m"), Err(CryptoError::BadKey)), "box to {}", c.why);
    }

    for (i, c) in doc.signatures.iter().enumerate() {
        let k = key(&c.signer);
        let (msg, sig) = (bytes(&c.msg), arr::<64>(&c.sig));
        let result = verify(&k.public(), &msg, &sig);
        if c.ok {
            assert!(result.is_ok(), "signatures[{i}]: {result:?}");
            assert_eq!(k.sign(&msg), sig, "signatures[{i}]: our signature differs from libsodium's");
            verify_hex(&k.public(), &msg, &c.sig).unwrap();
        } else {
            assert!(result.is_err(), "signatures[{i}] ({}) verified but must fail", label(&c.why));
        }
    }

    for (i, c) in doc.boxes.iter().enumerate() {
        let (sender, recipient) = (key(&c.sender), key(&c.recipient));
        let (nonce, pt, ct) = (arr::<24>(&c.nonce), bytes(&c.plaintext), bytes(&c.ciphertext));
        let opened = box_open(recipient, &sender.public(), &nonce, &ct);
        if c.ok {
            assert_eq!(opened.unwrap(), pt, "boxes[{i}]");
            assert_eq!(
                box_seal_with_nonce(sender, &recipient.public(), &nonce, &pt).unwrap(),
                ct,
                "boxes[{i}] re-seal"
            );
        } else {
            assert!(matches!(opened, Err(CryptoError::DecryptFailed)), "boxes[{i}] ({}) opened", label(&c.why));
        }
    }

    for (i, c) in doc.sealed_boxes.iter().enumerate() {
        let opened = open_anonymous(key(&c.recipient), &bytes(&c.sealed));
        if c.ok {
            assert_eq!(opened.unwrap(), bytes(&c.plaintext), "sealed_boxes[{i}]");
        } else {
            assert!(matches!(opened, Err(CryptoError::DecryptFailed)), "sealed_boxes[{i}] ({}) opened", label(&c.why));
        }
    }

    for (i, c) in doc.secretboxes.iter().enumerate() {
        let (k, nonce, pt, ct) = (arr::<32>(&c.key), arr::<24>(&c.nonce), bytes(&c.plaintext), bytes(&c.ciphertext));
        let opened = secretbox_open(&k, &nonce, &ct);
        if c.ok {
            assert_eq!(opened.unwrap(), pt, "secretboxes[{i}]");
            assert_eq!(secretbox_seal_with_nonce(&k, &nonce, &pt).unwrap(), ct, "secretboxes[{i}] re-seal");
        } else {
            assert!(matches!(opened, Err(CryptoError::DecryptFailed)), "secretboxes[{i}] ({}) opened", label(&c.why));
        }
    }

    // Guard against a truncated fixture passing vacuously: each kind has positive and negative cases.
    let count = |ok: &[bool]| (ok.iter().filter(|b| **b).count(), ok.iter().filter(|b| !**b).count());
    for (kind, ok) in [
        ("signatures", doc.signatures.iter().map(|c| c.ok).collect::<Vec<_>>()),
        ("boxes", doc.boxes.iter().map(|c| c.ok).collect()),
        ("sealed_boxes", doc.sealed_boxes.iter().map(|c| c.ok).collect()),
        ("secretboxes", doc.secretboxes.iter().map(|c| c.ok).collect()),
    ] {
        let (good, bad) = count(&ok);
        assert!(good >= 3 && bad >= 3, "{kind}: only {good} valid and {bad} invalid cases");
    }
    assert!(doc.identities.len() >= 3 && doc.conversions.len() >= 3 && doc.invalid_ed25519_pks.len() >= 5);
}

/// Our signatures, boxes, sealed boxes, secretboxes and conversions, in the shape `sodium_vectors.py check` reads.
fn our_vectors() -> Doc {
    let named = [
        ("fixed", SigningKey::from_seed(&[0x42; 32])),
        ("random1", SigningKey::generate().unwrap()),
        ("random2", SigningKey::generate().unwrap()),
    ];
    let long: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 256) as u8).collect();
    let messages: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"claudemesh.v1/hello\nnonce\nmesh\nmember\nsession".to_vec(),
        "ñandú 你好".as_bytes().to_vec(),
        random_bytes::<100>().unwrap().to_vec(),
        long.clone(),
    ];

    let mut conversions = Vec::new();
    let mut invalid_ed25519_pks = Vec::new();
    for (_, k) in &named {
        conversions.push(Conversion {
            ed25519_pk: hex::encode(k.public()),
            x25519_pk: hex::encode(x25519_public(&k.public()).unwrap()),
        });
    }
    // Arbitrary byte strings plus small y-coordinates with both sign bits: our accept/reject must match libsodium's.
    let mut candidates: Vec<[u8; 32]> = (0..200).map(|_| random_bytes::<32>().unwrap()).collect();
    for y in 0..32u8 {
        for sign in [0u8, 0x80] {
            let mut pk = [0u8; 32];
            pk[0] = y;
            pk[31] = sign;
            candidates.push(pk);
        }
    }
    for pk in candidates {
        match x25519_public(&pk) {
            Ok(x) => conversions.push(Conversion { ed25519_pk: hex::encode(pk), x25519_pk: hex::encode(x) }),
            Err(_) => invalid_ed25519_pks.push(InvalidPk { pk: hex::encode(pk), why: "rejected by claudemesh".into() }),
        }
    }

    let mut signatures = Vec::new();
    for (name, k) in &named {
        for m in &messages {
            signatures.push(SigCase {
                signer: (*name).into(),
                msg: hex::encode(m),
                sig: k.sign_hex(m),
                ok: true,
                why: None,
            });
        }
    }
    let mut bad = named[1].1.sign(b"tamper");
    bad[10] ^= 1;
    signatures.push(SigCase {
        signer: "random1".into(),
        msg: hex::encode(b"tamper"),
        sig: hex::encode(bad),
        ok: false,
        why: Some("bit flipped".into()),
    });
    signatures.push(SigCase {
        signer: "random2".into(),
        msg: hex::encode(b"tamper"),
        sig: named[1].1.sign_hex(b"tamper"),
        ok: false,
        why: Some("signed by another key".into()),
    });

    let mut boxes = Vec::new();
    for (s, r) in [(0, 1), (1, 2), (2, 0), (1, 1)] {
        for m in &messages {
            let (nonce, ct) = box_seal(&named[s].1, &named[r].1.public(), m).unwrap();
            boxes.push(BoxCase {
                sender: named[s].0.into(),
                recipient: named[r].0.into(),
                nonce: hex::encode(nonce),
                plaintext: hex::encode(m),
                ciphertext: hex::encode(ct),
                ok: true,
                why: None,
            });
        }
    }
    let (nonce, mut ct) = box_seal(&named[0].1, &named[1].1.public(), b"tampered").unwrap();
    ct[0] ^= 1;
    boxes.push(BoxCase {
        sender: "fixed".into(),
        recipient: "random1".into(),
        nonce: hex::encode(nonce),
        plaintext: hex::encode(b"tampered"),
        ciphertext: hex::encode(ct),
        ok: false,
        why: Some("MAC bit flipped".into()),
    });

    let mut sealed_boxes = Vec::new();
    for (name, k) in &named {
        for m in &messages {
            sealed_boxes.push(SealedCase {
                recipient: (*name).into(),
                plaintext: hex::encode(m),
                sealed: hex::encode(seal_anonymous(&k.public(), m).unwrap()),
                ok: true,
                why: None,
            });
        }
    }
    let sealed = seal_anonymous(&named[0].1.public(), b"not for random1").unwrap();
    sealed_boxes.push(SealedCase {
        recipient: "random1".into(),
        plaintext: hex::encode(b"not for random1"),
        sealed: hex::encode(sealed),
        ok: false,
        why: Some("wrong recipient".into()),
    });

    let mut secretboxes = Vec::new();
    let key: [u8; 32] = random_bytes().unwrap();
    for m in &messages {
        let (nonce, ct) = secretbox_seal(&key, m).unwrap();
        secretboxes.push(SecretboxCase {
            key: hex::encode(key),
            nonce: hex::encode(nonce),
            plaintext: hex::encode(m),
            ciphertext: hex::encode(ct),
            ok: true,
            why: None,
        });
    }

    Doc {
        format: 1,
        producer: "claudemesh src/crypto libsodium_opens_ours".into(),
        identities: named.iter().map(|(name, k)| identity_json(name, k)).collect(),
        conversions,
        invalid_ed25519_pks,
        signatures,
        boxes,
        sealed_boxes,
        secretboxes,
    }
}

#[test]
fn libsodium_opens_ours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.json");
    std::fs::write(&path, serde_json::to_string_pretty(&our_vectors()).unwrap()).unwrap();

    let out = std::process::Command::new("python3")
        .arg("tests/fixtures/sodium_vectors.py")
        .arg("check")
        .arg(&path)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install Python 3, then `pip install pynacl`"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => assert!(stdout.contains("all"), "unexpected output: {stdout}"),
        Some(3) => panic!("PyNaCl is missing, so libsodium cannot check our output: `pip install pynacl`\n{stderr}"),
        _ => panic!("libsodium rejected our output ({}):\n{stdout}\n{stderr}", out.status),
    }
}
