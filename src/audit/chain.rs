//! The chain rules as pure functions over bytes: sealing an event into a line, checking one line, and checking that
//! each line follows the one before it.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{AuditEntry, AuditError, AuditEvent, BreakReason};

/// `prev` of the first line: 64 zeros.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest line a reader accepts (a line is a few hundred bytes; the cap keeps a damaged file from eating memory).
pub(super) const MAX_LINE: usize = 64 * 1024;

/// Longest `target`, `mesh` or `detail` kept; longer values are cut (the log is for who did what, not for data).
const MAX_FIELD_CHARS: usize = 256;

/// What a checked line contributes to the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Link {
    pub seq: u64,
    pub prev: String,
    pub hash: String,
}

/// RFC 8785 (JCS) canonical bytes of a JSON value: keys sorted by UTF-16 code units, no whitespace, numbers as
/// ECMAScript prints them, minimal string escapes.
pub(super) fn canonical(value: &Value) -> Result<Vec<u8>, AuditError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| AuditError::Encode(e.to_string()))
}

/// Lower-case hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The line (without its newline) for `event` at position `seq` after a line whose hash is `prev`, and its hash.
/// `hash` is SHA-256 over the canonical encoding of the line without `hash`; the line itself is canonical too.
pub(super) fn seal(event: &AuditEvent, seq: u64, prev: &str) -> Result<(Vec<u8>, String), AuditError> {
    let mut object = match serde_json::to_value(clipped(event)) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(AuditError::Encode("an event is not a JSON object".into())),
        Err(e) => return Err(AuditError::Encode(e.to_string())),
    };
    object.insert("seq".into(), Value::from(seq));
    object.insert("prev".into(), Value::from(prev));
    let mut value = Value::Object(object);
    let hash = sha256_hex(&canonical(&value)?);
    if let Value::Object(object) = &mut value {
        object.insert("hash".into(), Value::from(hash.clone()));
    }
    let line = canonical(&value)?;
    if line.len() > MAX_LINE {
        return Err(AuditError::Encode(format!("the entry is {} bytes, more than {MAX_LINE}", line.len())));
    }
    Ok((line, hash))
}

/// Checks one line on its own: JSON, canonical byte for byte, a well-formed entry, and its hash matches its
/// contents. Canonical form plus the hash means any changed byte is caught.
pub(super) fn check_line(line: &[u8]) -> Result<Link, BreakReason> {
    if line.is_empty() {
        return Err(BreakReason::Empty);
    }
    if line.len() > MAX_LINE {
        return Err(BreakReason::TooLong);
    }
    let value: Value = serde_json::from_slice(line).map_err(|_| BreakReason::NotJson)?;
    let Value::Object(mut object) = value else {
        return Err(BreakReason::NotJson);
    };
    let hash = take_hex(&mut object, "hash")?;
    let without_hash = Value::Object(object);
    let canonical_without = canonical(&without_hash).map_err(|_| BreakReason::NotCanonical)?;
    if sha256_hex(&canonical_without) != hash {
        return Err(BreakReason::HashMismatch);
    }
    let Value::Object(mut object) = without_hash else {
        return Err(BreakReason::NotJson);
    };
    object.insert("hash".into(), Value::from(hash.clone()));
    let whole = Value::Object(object);
    if canonical(&whole).map_err(|_| BreakReason::NotCanonical)? != line {
        return Err(BreakReason::NotCanonical);
    }
    let entry: AuditEntry = serde_json::from_value(whole).map_err(|e| BreakReason::BadEntry(e.to_string()))?;
    if entry.seq == 0 {
        return Err(BreakReason::BadEntry("seq starts at 1".into()));
    }
    if !is_hex64(&entry.prev) {
        return Err(BreakReason::BadEntry("prev is not 64 lower-case hex digits".into()));
    }
    Ok(Link { seq: entry.seq, prev: entry.prev, hash })
}

fn take_hex(object: &mut Map<String, Value>, key: &'static str) -> Result<String, BreakReason> {
    match object.remove(key) {
        Some(Value::String(s)) if is_hex64(&s) => Ok(s),
        Some(_) => Err(BreakReason::BadEntry(format!("{key} is not 64 lower-case hex digits"))),
        None => Err(BreakReason::BadEntry(format!("{key} is missing"))),
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Walks the chain: each line must carry the next sequence number and the previous line's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cursor {
    next_seq: u64,
    head: String,
}

impl Cursor {
    pub(super) fn new() -> Self {
        Self { next_seq: 1, head: GENESIS.to_string() }
    }

    /// Accepts `link` as the next line, or says why it does not follow.
    pub(super) fn follow(&mut self, link: Link) -> Result<(), BreakReason> {
        if link.seq != self.next_seq {
            return Err(BreakReason::WrongSeq { expected: self.next_seq, found: link.seq });
        }
        if link.prev != self.head {
            return Err(BreakReason::WrongPrev);
        }
        self.next_seq += 1;
        self.head = link.hash;
        Ok(())
    }

    /// The hash of the last accepted line (64 zeros before the first).
    pub(super) fn head(&self) -> &str {
        &self.head
    }
}

/// Cuts the free-text fields to `MAX_FIELD_CHARS` characters.
fn clipped(event: &AuditEvent) -> AuditEvent {
    let clip = |s: &Option<String>| {
        s.as_ref().map(|s| {
            if s.chars().count() > MAX_FIELD_CHARS { s.chars().take(MAX_FIELD_CHARS).collect() } else { s.clone() }
        })
    };
    AuditEvent { target: clip(&event.target), mesh: clip(&event.mesh), detail: clip(&event.detail), ..event.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{ActionClass, Decision, EventKind, Outcome};
    use serde_json::json;

    fn event(n: u64) -> AuditEvent {
        AuditEvent {
            ts_ms: 1_700_000_000_000 + n,
            kind: EventKind::Policy,
            resource: "message".into(),
            verb: "send".into(),
            class: ActionClass::Write,
            decision: Some(Decision::Allow),
            target: Some("bob".into()),
            mesh: Some("team".into()),
            session: "cli".into(),
            outcome: None,
            detail: None,
        }
    }

    fn chain(n: u64) -> Vec<Vec<u8>> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let (line, hash) = seal(&event(seq), seq, &prev).unwrap();
                prev = hash;
                line
            })
            .collect()
    }

    fn walk(lines: &[Vec<u8>]) -> Result<usize, (usize, BreakReason)> {
        let mut cursor = Cursor::new();
        for (i, line) in lines.iter().enumerate() {
            check_line(line).and_then(|link| cursor.follow(link)).map_err(|r| (i + 1, r))?;
        }
        Ok(lines.len())
    }

    #[test]
    fn a_chain_of_three_links_each_line_to_the_one_before() {
        let lines = chain(3);
        assert_eq!(walk(&lines), Ok(3));
        let first: Value = serde_json::from_slice(&lines[0]).unwrap();
        let second: Value = serde_json::from_slice(&lines[1]).unwrap();
        assert_eq!(first["seq"], 1);
        assert_eq!(first["prev"], GENESIS);
        assert_eq!(second["prev"], first["hash"]);
        assert_eq!(first["decision"], "allow");
        assert_eq!(first["outcome"], Value::Null);
        // The line is its own canonical form: keys sorted, no spaces.
        let text = std::str::from_utf8(&lines[0]).unwrap();
        assert!(text.starts_with(r#"{"class":"write","decision":"allow","detail":null,"hash":""#), "{text}");
    }

    #[test]
    fn the_hash_covers_the_canonical_line_without_hash() {
        let (line, hash) = seal(&event(1), 1, GENESIS).unwrap();
        let mut value: Value = serde_json::from_slice(&line).unwrap();
        value.as_object_mut().unwrap().remove("hash");
        let expected = hex::encode(Sha256::digest(serde_json_canonicalizer::to_vec(&value).unwrap()));
        assert_eq!(hash, expected);
    }

    #[test]
    fn any_single_flipped_bit_is_caught() {
        let (line, _) = seal(&event(1), 1, GENESIS).unwrap();
        for i in 0..line.len() {
            for bit in 0..8 {
                let mut bad = line.clone();
                bad[i] ^= 1 << bit;
                assert!(check_line(&bad).is_err(), "flip of bit {bit} in byte {i} went unnoticed");
            }
        }
    }

    #[test]
    fn reordered_or_missing_lines_break_the_cursor() {
        let lines = chain(4);
        let swapped = vec![lines[0].clone(), lines[2].clone(), lines[1].clone(), lines[3].clone()];
        assert_eq!(walk(&swapped), Err((2, BreakReason::WrongSeq { expected: 2, found: 3 })));
        let missing = vec![lines[0].clone(), lines[1].clone(), lines[3].clone()];
        assert_eq!(walk(&missing), Err((3, BreakReason::WrongSeq { expected: 3, found: 4 })));
        let first_gone = lines[1..].to_vec();
        assert_eq!(walk(&first_gone), Err((1, BreakReason::WrongSeq { expected: 1, found: 2 })));
    }

    #[test]
    fn a_renumbered_line_still_breaks_at_its_link() {
        // Someone drops line 2 and re-seals line 3 as seq 2 over the wrong prev: the prev check catches it.
        let lines = chain(3);
        let (forged, _) = seal(&event(3), 2, GENESIS).unwrap();
        assert_eq!(walk(&[lines[0].clone(), forged]), Err((2, BreakReason::WrongPrev)));
    }

    #[test]
    fn canonical_form_does_not_depend_on_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": "s"}, "c": null});
        let b: Value = serde_json::from_str(r#"{"c":null,"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a).unwrap(), canonical(&b).unwrap());
        assert_eq!(canonical(&a).unwrap(), br#"{"a":{"x":"s","y":[1,2]},"b":1,"c":null}"#);
    }

    #[test]
    fn canonical_form_matches_rfc_8785_vectors() {
        // RFC 8785 §3.2.2 (with the literal U+20AC and U+1F600 of the published input).
        let input = r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#;
        let value: Value = serde_json::from_str(input).unwrap();
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
                        \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(String::from_utf8(canonical(&value).unwrap()).unwrap(), expected);
        // RFC 8785 §3.2.3: property names sort by UTF-16 code units (U+1F600 is D83D DE00, below U+FB33).
        let sorting: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        let keys: Vec<String> = serde_json::from_slice::<serde_json::Map<String, Value>>(&canonical(&sorting).unwrap())
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "Carriage Return",
                "One",
                "Control",
                "Latin Small Letter O With Diaeresis",
                "Euro Sign",
                "Emoji: Grinning Face",
                "Hebrew Letter Dalet With Dagesh"
            ]
        );
    }

    #[test]
    fn a_non_canonical_but_equal_line_is_refused() {
        let (line, _) = seal(&event(1), 1, GENESIS).unwrap();
        let value: Value = serde_json::from_slice(&line).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        assert_eq!(check_line(&pretty), Err(BreakReason::NotCanonical));
    }

    #[test]
    fn long_free_text_is_cut() {
        let mut e = event(1);
        e.detail = Some("x".repeat(10_000));
        let (line, _) = seal(&e, 1, GENESIS).unwrap();
        let entry: AuditEntry = serde_json::from_slice(&line).unwrap();
        assert_eq!(entry.event.detail.map(|d| d.len()), Some(MAX_FIELD_CHARS));
        assert_eq!(entry.event.outcome, None::<Outcome>);
    }
}
