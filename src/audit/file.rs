//! The audit log file: appends under an exclusive lock (read the last line from the end, append with O_APPEND,
//! fsync), and streams the lines for `verify` and `read` under a shared lock.

use std::collections::VecDeque;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::Home;

use super::chain::{self, Cursor, GENESIS, MAX_LINE};
use super::{AuditEntry, AuditError, AuditEvent, BreakReason, VerifyReport};

/// `$CLAUDEMESH_HOME/audit.log`.
pub(crate) fn log_path(home: &Home) -> PathBuf {
    home.root().join("audit.log")
}

/// Appends `event` as the next entry. Concurrent appenders (other processes too) queue on an exclusive lock, so
/// lines never interleave and the chain never forks. The file is created 0600 (its directory 0700) and fsynced
/// before this returns. A damaged last line is an error: nothing is chained onto it.
pub(crate) fn append(path: &Path, event: AuditEvent) -> Result<(), AuditError> {
    let created = !path.exists();
    if created {
        ensure_private_parent(path)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuditError::io(path, e))?;
    tighten(&file, path)?;
    // Released when `file` is closed, also on every early return.
    file.lock().map_err(|e| AuditError::io(path, e))?;
    let (seq, prev) = match last_line(&file, TAIL_CHUNK).map_err(|e| AuditError::io(path, e))? {
        Tail::Empty => (1, GENESIS.to_string()),
        Tail::Line(line) => {
            let link = chain::check_line(&line)
                .map_err(|reason| AuditError::DamagedTail { path: path.to_path_buf(), reason })?;
            (link.seq + 1, link.hash)
        }
        Tail::Bad(reason) => return Err(AuditError::DamagedTail { path: path.to_path_buf(), reason }),
    };
    let (mut line, _) = chain::seal(&event, seq, &prev)?;
    line.push(b'\n');
    // One write of the whole line: with O_APPEND it lands at the end even if the lock were ignored.
    (&file).write_all(&line).map_err(|e| AuditError::io(path, e))?;
    file.sync_data().map_err(|e| AuditError::io(path, e))?;
    if created && let Some(dir) = path.parent() {
        // Makes the new directory entry durable too; a failure here loses nothing already written.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Checks every line and the links between them. A missing file is an empty, intact log.
pub(crate) fn verify(path: &Path) -> Result<VerifyReport, AuditError> {
    let mut cursor = Cursor::new();
    let lines = for_each_line(path, |line| {
        let link = chain::check_line(line)?;
        cursor.follow(link)
    })?;
    Ok(VerifyReport { lines, head: cursor.head().to_string() })
}

/// The last `limit` entries, oldest first (`None`: all of them). Reads entries without checking the chain (that is
/// `verify`'s job), so a tampered log can still be looked at; a line that is not an entry is an error.
pub(crate) fn read(path: &Path, limit: Option<usize>) -> Result<Vec<AuditEntry>, AuditError> {
    let mut kept = VecDeque::new();
    for_each_line(path, |line| {
        let entry: AuditEntry = serde_json::from_slice(line).map_err(|_| BreakReason::NotJson)?;
        kept.push_back(entry);
        if limit.is_some_and(|n| kept.len() > n) {
            kept.pop_front();
        }
        Ok(())
    })?;
    Ok(kept.into())
}

/// Calls `check` on each line (without its newline) under a shared lock; returns how many lines there were, or the
/// first bad line's number and reason.
fn for_each_line(path: &Path, mut check: impl FnMut(&[u8]) -> Result<(), BreakReason>) -> Result<usize, AuditError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(AuditError::io(path, e)),
    };
    // Appenders hold the exclusive lock while they write, so a half-written line is never read as damage.
    file.lock_shared().map_err(|e| AuditError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::with_capacity(1024);
    let mut number = 0;
    loop {
        buf.clear();
        let read =
            (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf).map_err(|e| AuditError::io(path, e))?;
        if read == 0 {
            return Ok(number);
        }
        number += 1;
        let broken = |reason| AuditError::Broken { path: path.to_path_buf(), line: number, reason };
        match buf.pop() {
            Some(b'\n') => {}
            _ if buf.len() >= MAX_LINE => return Err(broken(BreakReason::TooLong)),
            _ => return Err(broken(BreakReason::Incomplete)),
        }
        check(&buf).map_err(broken)?;
    }
}

/// How far back each read goes while looking for the start of the last line.
const TAIL_CHUNK: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
enum Tail {
    Empty,
    Line(Vec<u8>),
    Bad(BreakReason),
}

/// The last line (without its newline), read backwards from the end in `chunk`-byte steps so a long log is not read
/// whole.
fn last_line(file: &File, chunk: usize) -> std::io::Result<Tail> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Tail::Empty);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] != b'\n' {
        return Ok(Tail::Bad(BreakReason::Incomplete));
    }
    let end = len - 1;
    // Bytes of the last line gathered so far, in reverse order of the chunks read.
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut pos = end;
    let mut gathered = 0usize;
    loop {
        if pos == 0 {
            break;
        }
        let step = chunk.min(usize::try_from(pos).unwrap_or(chunk));
        let start = pos - step as u64;
        let mut piece = vec![0u8; step];
        file.read_exact_at(&mut piece, start)?;
        if let Some(i) = piece.iter().rposition(|&b| b == b'\n') {
            pieces.push(piece.split_off(i + 1));
            break;
        }
        gathered += piece.len();
        pieces.push(piece);
        pos = start;
        if gathered > MAX_LINE {
            return Ok(Tail::Bad(BreakReason::TooLong));
        }
    }
    let line: Vec<u8> = pieces.into_iter().rev().flatten().collect();
    if line.is_empty() {
        return Ok(Tail::Bad(BreakReason::Empty));
    }
    Ok(Tail::Line(line))
}

fn ensure_private_parent(path: &Path) -> Result<(), AuditError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => {
            DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| AuditError::io(dir, e))
        }
        _ => Ok(()),
    }
}

/// An existing log with a looser mode is set back to 0600 on write.
fn tighten(file: &File, path: &Path) -> Result<(), AuditError> {
    let mode = file.metadata().map_err(|e| AuditError::io(path, e))?.permissions().mode() & 0o777;
    if mode != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| AuditError::io(path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{ActionClass, Decision, EventKind, Outcome};

    /// splitmix64: reproducible randomness without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }

        fn text(&mut self) -> String {
            const PARTS: &[&str] = &["bob", "@dev", "*", "é", "€", "😀", "\"", "\\", "\n", "\u{1}", " ", "ü", "x"];
            (0..self.below(12)).map(|_| self.pick(PARTS)).collect()
        }
    }

    fn random_event(rng: &mut Rng) -> AuditEvent {
        let policy = rng.below(2) == 0;
        let maybe = |rng: &mut Rng| if rng.below(3) == 0 { None } else { Some(rng.text()) };
        AuditEvent {
            ts_ms: 1_700_000_000_000 + rng.next() % 10_000_000_000,
            kind: if policy { EventKind::Policy } else { EventKind::Verb },
            resource: rng.pick(&["message", "mesh", "invite", "group", "profile"]).into(),
            verb: rng.pick(&["send", "rename", "revoke", "join", "set", "leave"]).into(),
            class: [ActionClass::Read, ActionClass::Write, ActionClass::Destructive][rng.below(3)],
            decision: policy.then(|| {
                [Decision::Allow, Decision::Deny, Decision::PromptAllowed, Decision::PromptDenied][rng.below(4)]
            }),
            target: maybe(rng),
            mesh: maybe(rng),
            session: rng.pick(&["cli", "0197a1b2-sess", "abc_DEF-9"]).into(),
            outcome: (!policy).then(|| [Outcome::Ok, Outcome::Error][rng.below(2)]),
            detail: maybe(rng),
        }
    }

    fn simple_event(n: u64) -> AuditEvent {
        AuditEvent {
            ts_ms: n,
            kind: EventKind::Verb,
            resource: "message".into(),
            verb: "send".into(),
            class: ActionClass::Write,
            decision: None,
            target: Some("bob".into()),
            mesh: Some("team".into()),
            session: "cli".into(),
            outcome: Some(Outcome::Ok),
            detail: None,
        }
    }

    fn lines_of(path: &Path) -> Vec<Vec<u8>> {
        let bytes = std::fs::read(path).unwrap();
        bytes.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
    }

    fn broken_at(path: &Path) -> (usize, BreakReason) {
        match verify(path) {
            Err(AuditError::Broken { line, reason, .. }) => (line, reason),
            other => panic!("expected a broken log, got {other:?}"),
        }
    }

    #[test]
    fn a_thousand_random_operations_verify_and_each_tamper_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home").join("audit.log");
        let mut rng = Rng(0x00c0_ffee);
        let mut written = Vec::new();
        for _ in 0..1000 {
            let event = random_event(&mut rng);
            append(&path, event.clone()).unwrap();
            written.push(event);
        }
        let report = verify(&path).unwrap();
        assert_eq!(report.lines, 1000);
        let entries = read(&path, None).unwrap();
        assert_eq!(entries.iter().map(|e| e.event.clone()).collect::<Vec<_>>(), written);
        assert_eq!(entries.last().map(|e| e.hash.clone()), Some(report.head));
        let original = lines_of(&path);
        let tampered = dir.path().join("tampered.log");

        for round in 0..20 {
            // A flipped byte (anywhere but the newline).
            let target = rng.below(original.len());
            let mut lines = original.clone();
            let at = rng.below(lines[target].len() - 1);
            lines[target][at] ^= 1 << rng.below(8);
            std::fs::write(&tampered, lines.concat()).unwrap();
            assert_eq!(broken_at(&tampered).0, target + 1, "round {round}: flip in byte {at}");

            // A removed line (the last one leaves a shorter intact chain: see `removing_the_newest_lines…`).
            let target = rng.below(original.len() - 1);
            let mut lines = original.clone();
            lines.remove(target);
            std::fs::write(&tampered, lines.concat()).unwrap();
            assert_eq!(broken_at(&tampered).0, target + 1, "round {round}: removed line {}", target + 1);

            // Two swapped lines.
            let a = rng.below(original.len());
            let b = (a + 1 + rng.below(original.len() - 1)) % original.len();
            let mut lines = original.clone();
            lines.swap(a, b);
            std::fs::write(&tampered, lines.concat()).unwrap();
            assert_eq!(broken_at(&tampered).0, a.min(b) + 1, "round {round}: swapped {a} and {b}");
        }

        // A truncated last line.
        let mut bytes = original.concat();
        bytes.truncate(bytes.len() - 10);
        std::fs::write(&tampered, &bytes).unwrap();
        assert_eq!(broken_at(&tampered), (1000, BreakReason::Incomplete));
    }

    #[test]
    fn removing_the_newest_lines_leaves_a_shorter_intact_chain_but_a_different_head() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        for n in 0..3 {
            append(&path, simple_event(n)).unwrap();
        }
        let full = verify(&path).unwrap();
        let lines = lines_of(&path);
        std::fs::write(&path, lines[..2].concat()).unwrap();
        let cut = verify(&path).unwrap();
        assert_eq!(cut.lines, 2);
        assert_ne!(cut.head, full.head);
    }

    #[test]
    fn appends_from_many_writers_never_fork_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let path = &path;
                // Each thread opens the file itself, as separate processes do.
                s.spawn(move || {
                    for n in 0..50 {
                        append(path, simple_event(t * 1000 + n)).unwrap();
                    }
                });
            }
        });
        assert_eq!(verify(&path).unwrap().lines, 400);
    }

    #[test]
    fn the_log_is_private_and_a_loose_mode_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("new-home");
        let path = home.join("audit.log");
        append(&path, simple_event(1)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&home), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        append(&path, simple_event(2)).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn the_last_line_is_found_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut event = simple_event(1);
        event.detail = Some("d".repeat(200));
        for _ in 0..3 {
            append(&path, event.clone()).unwrap();
        }
        let lines = lines_of(&path);
        let expected = lines[2].strip_suffix(b"\n").unwrap().to_vec();
        let file = File::open(&path).unwrap();
        for chunk in [1, 7, 64, lines[2].len() - 1, lines[2].len(), lines[2].len() + 1, 4096] {
            assert_eq!(last_line(&file, chunk).unwrap(), Tail::Line(expected.clone()), "chunk {chunk}");
        }
        std::fs::write(&path, lines[0].clone()).unwrap();
        let expected = lines[0].strip_suffix(b"\n").unwrap().to_vec();
        assert_eq!(last_line(&File::open(&path).unwrap(), 5).unwrap(), Tail::Line(expected));
    }

    #[test]
    fn append_refuses_to_chain_onto_a_damaged_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        append(&path, simple_event(1)).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            append(&path, simple_event(2)),
            Err(AuditError::DamagedTail { reason: BreakReason::Incomplete, .. })
        ));
        bytes[5] ^= 1;
        bytes.push(b'\n');
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(append(&path, simple_event(2)), Err(AuditError::DamagedTail { .. })));
    }

    #[test]
    fn a_missing_log_is_empty_and_intact_and_show_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        assert_eq!(verify(&path).unwrap(), VerifyReport { lines: 0, head: GENESIS.to_string() });
        assert!(read(&path, Some(5)).unwrap().is_empty());
        for n in 1..=7 {
            append(&path, simple_event(n)).unwrap();
        }
        let newest: Vec<u64> = read(&path, Some(3)).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(newest, vec![5, 6, 7]);
        assert_eq!(read(&path, Some(0)).unwrap().len(), 0);
    }

    #[test]
    fn a_blank_line_in_the_middle_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        for n in 1..=3 {
            append(&path, simple_event(n)).unwrap();
        }
        let mut lines = lines_of(&path);
        lines.insert(1, b"\n".to_vec());
        std::fs::write(&path, lines.concat()).unwrap();
        assert_eq!(broken_at(&path), (2, BreakReason::Empty));
    }
}
