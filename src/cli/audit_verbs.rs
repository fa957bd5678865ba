//! `claudemesh audit show|verify`: reads and checks the local audit log (no network, no daemon), and turns audit
//! failures into exit codes and localized text.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use crate::audit::{self, AuditEntry, AuditError, BreakReason, Decision, Outcome};
use crate::i18n::{t, t_args};
use crate::output::{Role as Paint, table};

use super::context::Ctx;
use super::error::{CliError, Exit};

/// `claudemesh audit show [--limit N]`: the newest entries, newest last (`--limit 0`: all).
pub(crate) fn show(ctx: &Ctx, limit: usize) -> Result<(), CliError> {
    let path = audit::log_path(&ctx.home);
    let entries = audit::read(&path, (limit > 0).then_some(limit))?;
    if ctx.out.json {
        ctx.out.json(json!({ "events": entries }));
        return Ok(());
    }
    if entries.is_empty() {
        ctx.out.line(&t("audit-empty"));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries.iter().map(|e| row(ctx, e)).collect();
    for line in table(&rows) {
        ctx.out.line(&line);
    }
    Ok(())
}

/// One human line: `#seq  time  kind  resource verb  decision|outcome  target  mesh`.
fn row(ctx: &Ctx, entry: &AuditEntry) -> Vec<String> {
    let e = &entry.event;
    let time = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(e.ts_ms)).to_string();
    let kind = match e.kind {
        audit::EventKind::Policy => "policy",
        audit::EventKind::Verb => "verb",
    };
    let (word, role) = match (e.decision, e.outcome) {
        (Some(Decision::Allow), _) => ("allow", Paint::Success),
        (Some(Decision::PromptAllowed), _) => ("prompt-allowed", Paint::Success),
        (Some(Decision::Deny), _) => ("deny", Paint::Error),
        (Some(Decision::PromptDenied), _) => ("prompt-denied", Paint::Error),
        (None, Some(Outcome::Ok)) => ("ok", Paint::Success),
        (None, Some(Outcome::Error)) => ("error", Paint::Error),
        (None, None) => ("-", Paint::Muted),
    };
    vec![
        ctx.out.paint(Paint::Muted, &format!("#{}", entry.seq)),
        ctx.out.paint(Paint::Dim, &time),
        kind.to_string(),
        format!("{} {}", e.resource, e.verb),
        ctx.out.paint(role, word),
        e.target.clone().unwrap_or_else(|| "-".into()),
        e.mesh.clone().unwrap_or_default(),
    ]
}

/// `claudemesh audit verify`: checks every line and link; a broken chain exits 3 naming the first bad line.
pub(crate) fn verify(ctx: &Ctx) -> Result<(), CliError> {
    let report = audit::verify(&audit::log_path(&ctx.home))?;
    if ctx.out.json {
        ctx.out.json(json!({ "intact": true, "entries": report.lines, "head": report.head }));
        return Ok(());
    }
    ctx.out.success(&t_args("audit-intact", &[("count", report.lines.into())]));
    if report.lines > 0 {
        ctx.out.line(&format!(
            "  {}",
            ctx.out.paint(Paint::Muted, &t_args("audit-head", &[("hash", report.head.into())]))
        ));
    }
    Ok(())
}

impl From<AuditError> for CliError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Broken { path, line, reason } => {
                let err = CliError::new(Exit::InvalidArgs, "audit_broken", "audit-err-broken")
                    .arg("path", path.display().to_string())
                    .arg("line", line)
                    .arg("reason", reason_code(&reason))
                    .hint("audit-hint-broken");
                with_reason_details(err, &reason)
            }
            AuditError::DamagedTail { path, .. } => {
                CliError::new(Exit::InvalidArgs, "audit_broken", "audit-err-damaged-tail")
                    .arg("path", path.display().to_string())
                    .hint("audit-hint-verify")
            }
            AuditError::Io { path, source } => CliError::new(Exit::Internal, "io", "audit-err-io")
                .arg("path", path.display().to_string())
                .arg("detail", source.to_string())
                .hint("hint-check-disk"),
            AuditError::Encode(detail) => CliError::internal(detail),
        }
    }
}

/// The Fluent selector for a reason (the message's variants key on it).
fn reason_code(reason: &BreakReason) -> &'static str {
    match reason {
        BreakReason::Incomplete => "incomplete",
        BreakReason::Empty => "empty",
        BreakReason::TooLong => "too-long",
        BreakReason::NotJson => "not-json",
        BreakReason::NotCanonical => "not-canonical",
        BreakReason::BadEntry(_) => "bad-entry",
        BreakReason::HashMismatch => "hash",
        BreakReason::WrongSeq { .. } => "seq",
        BreakReason::WrongPrev => "prev",
    }
}

fn with_reason_details(err: CliError, reason: &BreakReason) -> CliError {
    match reason {
        BreakReason::BadEntry(detail) => err.arg("detail", detail.as_str()),
        BreakReason::WrongSeq { expected, found } => err.arg("expected", *expected).arg("found", *found),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn broken(reason: BreakReason) -> CliError {
        CliError::from(AuditError::Broken { path: "/h/audit.log".into(), line: 7, reason })
    }

    #[test]
    fn every_break_reason_names_the_line_in_both_languages() {
        let reasons = [
            BreakReason::Incomplete,
            BreakReason::Empty,
            BreakReason::TooLong,
            BreakReason::NotJson,
            BreakReason::NotCanonical,
            BreakReason::BadEntry("seq is missing".into()),
            BreakReason::HashMismatch,
            BreakReason::WrongSeq { expected: 7, found: 9 },
            BreakReason::WrongPrev,
        ];
        let mut seen = std::collections::BTreeSet::new();
        for reason in reasons {
            let err = broken(reason.clone());
            assert_eq!(err.exit, Exit::InvalidArgs);
            assert_eq!(err.reason, "audit_broken");
            let en = err.message_in(Lang::En);
            let es = err.message_in(Lang::Es);
            assert!(en.contains('7') && es.contains('7'), "{en} / {es}");
            assert!(!en.contains('$') && !es.contains('$') && !en.contains("audit-"), "{en} / {es}");
            assert!(seen.insert(en.clone()), "two reasons read the same: {en}");
            if let BreakReason::WrongSeq { .. } = reason {
                assert!(en.contains('9') && es.contains('9'), "{en} / {es}");
            }
            assert!(err.hint_in(Lang::Es).is_some_and(|h| !h.starts_with("audit-")));
        }
    }

    #[test]
    fn io_failures_are_internal() {
        let e = AuditError::Io { path: "/h/audit.log".into(), source: std::io::Error::other("disk") };
        let err = CliError::from(e);
        assert_eq!(err.exit, Exit::Internal);
        assert!(err.message_in(Lang::En).contains("/h/audit.log"));
    }
}
