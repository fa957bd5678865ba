//! Printing: JSON documents (with `schema_version`, shaped by the output contract: field lists, `--jq`,
//! `--template`, stream-json) and human text (icons, six colour roles, aligned tables, relative times). Results go
//! to stdout; warnings and errors to stderr.

mod jq;
mod shape;
mod template;

use std::io::{IsTerminal, Write};

use serde_json::{Map, Value};

use crate::i18n;

pub(crate) use shape::{OutputFlags, Shape, ShapeError, argv_wants_json};

/// Version of every JSON document the CLI prints.
pub(crate) const SCHEMA_VERSION: u64 = 1;

/// The icons as constants for text output; the glyphs come from `tui::theme`, where the ten icons are defined once.
/// `tui::theme::icon(Icon::…)` gives the ASCII fallback when the terminal is not UTF-8.
pub(crate) mod icon {
    use crate::tui::theme::Icon;

    pub(crate) const OK: &str = Icon::Ok.glyph();
    pub(crate) const FAIL: &str = Icon::Fail.glyph();
    pub(crate) const WARN: &str = Icon::Warn.glyph();
    pub(crate) const NEXT: &str = Icon::Next.glyph();
    pub(crate) const BULLET: &str = Icon::Bullet.glyph();
    pub(crate) const MESH: &str = Icon::Mesh.glyph();
    pub(crate) const ON: &str = Icon::On.glyph();
    pub(crate) const OFF: &str = Icon::Off.glyph();
}

/// Semantic colour roles: the TUI's, defined once in `tui::theme`.
pub(crate) use crate::tui::theme::Role;

/// How to print: JSON (shaped by the output flags) or human, and whether colour is allowed on each stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    /// Verbs produce JSON documents (`--json`, `--jq`, `--template`, `--output-format json|stream-json`).
    pub json: bool,
    shape: &'static Shape,
    color_out: bool,
    color_err: bool,
}

impl Printer {
    /// Plain text or plain `--json` (every field). Colour only on terminals and never when `NO_COLOR` is set.
    pub(crate) fn new(json: bool, no_color: bool) -> Self {
        Self::shaped(if json { &shape::JSON } else { &shape::TEXT }, no_color)
    }

    /// Prints every JSON document through `shape` (the compiled output flags).
    pub(crate) fn shaped(shape: &'static Shape, no_color: bool) -> Self {
        Self {
            json: shape.is_json(),
            shape,
            color_out: !no_color && std::io::stdout().is_terminal(),
            color_err: !no_color && std::io::stderr().is_terminal(),
        }
    }

    /// The first document that could not be shaped (unknown field, jq or template failure): the run fails with it.
    pub(crate) fn failure(&self) -> Option<&'static ShapeError> {
        self.shape.failure()
    }

    /// Paints text for stdout.
    pub(crate) fn paint(&self, role: Role, text: &str) -> String {
        paint(self.color_out, role, text)
    }

    /// A JSON document on stdout with `schema_version` added, shaped by the output flags: pretty-printed (or the
    /// field list, jq results, rendered template), on one line with `--output-format stream-json`.
    pub(crate) fn json(&self, doc: Value) {
        self.emit(doc, self.shape.is_stream());
    }

    /// A JSON document on one stdout line, flushed at once (streams such as `inbox --follow`); `--jq` results are
    /// compact as with `jq -c`.
    pub(crate) fn json_line(&self, doc: Value) {
        self.emit(doc, true);
    }

    /// After the first document that cannot be shaped nothing more goes to stdout; the CLI reports the failure.
    fn emit(&self, doc: Value, compact: bool) {
        if self.shape.failure().is_some() {
            return;
        }
        match self.shape.render(doc, compact) {
            Ok(text) => {
                let mut out = std::io::stdout().lock();
                // A closed pipe (`claudemesh peers --json | head -1`) is not an error worth reporting.
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            Err(e) => self.shape.record(e),
        }
    }

    /// One line of human output on stdout.
    pub(crate) fn line(&self, text: &str) {
        write_line(&mut std::io::stdout().lock(), text);
    }

    /// `✔ text` on stdout.
    pub(crate) fn success(&self, text: &str) {
        let icon = self.paint(Role::Success, icon::OK);
        self.line(&format!("{icon} {text}"));
    }

    /// `▸ text`: the next action, on stdout.
    pub(crate) fn next_step(&self, text: &str) {
        let icon = self.paint(Role::Primary, icon::NEXT);
        self.line(&format!("{icon} {text}"));
    }

    /// `⚠ text` on stderr (also in JSON mode: stderr is never parsed).
    pub(crate) fn warn(&self, text: &str) {
        let icon = paint(self.color_err, Role::Warning, icon::WARN);
        write_line(&mut std::io::stderr().lock(), &format!("{icon} {text}"));
    }

    /// An error on stderr: `✘ message` and `  ▸ hint`, or the JSON error document.
    pub(crate) fn error(&self, code: &str, message: &str, hint: Option<&str>) {
        let mut err = std::io::stderr().lock();
        if self.json {
            let doc = error_doc(code, message, hint);
            write_line(&mut err, &serde_json::to_string(&doc).unwrap_or_default());
            return;
        }
        let icon = paint(self.color_err, Role::Error, icon::FAIL);
        write_line(&mut err, &format!("{icon} {message}"));
        if let Some(hint) = hint {
            let arrow = paint(self.color_err, Role::Muted, icon::NEXT);
            write_line(&mut err, &format!("  {arrow} {hint}"));
        }
    }
}

/// `{"schema_version":1,"error":{"code":…,"message":…,"hint":…}}`.
pub(crate) fn error_doc(code: &str, message: &str, hint: Option<&str>) -> Value {
    let mut error = Map::new();
    error.insert("code".into(), Value::from(code));
    error.insert("message".into(), Value::from(message));
    if let Some(hint) = hint {
        error.insert("hint".into(), Value::from(hint));
    }
    let mut doc = Map::new();
    doc.insert("error".into(), Value::Object(error));
    with_schema(Value::Object(doc))
}

/// Adds `"schema_version": 1` to an object (other values are wrapped as `{"data": …}`).
pub(crate) fn with_schema(doc: Value) -> Value {
    let mut obj = match doc {
        Value::Object(o) => o,
        other => {
            let mut o = Map::new();
            o.insert("data".into(), other);
            o
        }
    };
    obj.insert("schema_version".into(), Value::from(SCHEMA_VERSION));
    Value::Object(obj)
}

fn paint(enabled: bool, role: Role, text: &str) -> String {
    if enabled { format!("{}{text}\x1b[0m", crate::tui::theme::ansi(role)) } else { text.to_string() }
}

fn write_line(w: &mut impl Write, text: &str) {
    // A closed pipe (`claudemesh peers | head -1`) is not an error worth reporting.
    let _ = writeln!(w, "{text}");
}

/// Aligns columns (by character count) and joins them with two spaces; trailing spaces are trimmed.
pub(crate) fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// "just now", "5m ago", "3h ago", "2d ago" in the current language.
pub(crate) fn ago(now_ms: u64, then_ms: u64) -> String {
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    if secs < 10 {
        return i18n::t("time-just-now");
    }
    let span = short_duration(secs);
    i18n::t_args("time-ago", &[("span", span.into())])
}

/// `42s`, `5m`, `3h`, `2d`.
pub(crate) fn short_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_carry_schema_version() {
        assert_eq!(with_schema(json!({"a": 1})), json!({"a": 1, "schema_version": 1}));
        assert_eq!(with_schema(json!([1])), json!({"data": [1], "schema_version": 1}));
        assert_eq!(
            error_doc("not_found", "gone", Some("look")),
            json!({"schema_version": 1, "error": {"code": "not_found", "message": "gone", "hint": "look"}})
        );
        assert_eq!(error_doc("x", "y", None)["error"].get("hint"), None);
    }

    #[test]
    fn tables_align_by_characters() {
        let rows = vec![vec!["◉".into(), "alice".into(), "idle".into()], vec!["◎".into(), "bo".into(), "".into()]];
        assert_eq!(table(&rows), vec!["◉  alice  idle".to_string(), "◎  bo".to_string()]);
        assert!(table(&[]).is_empty());
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(5), "5s");
        assert_eq!(short_duration(125), "2m");
        assert_eq!(short_duration(7300), "2h");
        assert_eq!(short_duration(200_000), "2d");
    }
}
