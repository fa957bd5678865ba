//! `--jq EXPR`: a jq program compiled once with jaq (no external binary) and run over each JSON document, its
//! results written the way `jq` writes them (pretty, two-space indent) or `jq -c` does (one per line).

use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars};
use jaq_json::Val;
use jaq_json::write::Pp;
use serde_json::Value;

/// The data kind our filters run on: jaq's JSON values and nothing else (no `input`/`inputs`).
type Data = JustLut<Val>;

/// A compiled jq program.
pub(crate) struct JqProgram {
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for JqProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JqProgram")
    }
}

impl JqProgram {
    /// Parses and compiles `code` against jq's standard library; the error is the parser's or compiler's message.
    pub(crate) fn compile(code: &str) -> Result<Self, String> {
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
        let arena = Arena::default();
        let modules = Loader::new(defs).load(&arena, File { code, path: () }).map_err(|errs| {
            let messages: Vec<String> = errs.into_iter().flat_map(|(_file, e)| load_messages(code, e)).collect();
            messages.join("; ")
        })?;
        let filter = Compiler::default().with_funs(funs).compile(modules).map_err(|errs| {
            let messages: Vec<String> = errs
                .into_iter()
                .flat_map(|(_file, undefined)| undefined)
                .map(|(name, kind)| format!("undefined {} {name}", kind.as_str()))
                .collect();
            messages.join("; ")
        })?;
        Ok(Self { filter })
    }

    /// Runs the program on `doc`; every result is written as `jq` writes it (`compact`: as `jq -c` does), each
    /// followed by a newline. A runtime error (`.a.b` on a string, `error("x")`) is returned as its message.
    pub(crate) fn run(&self, doc: &Value, compact: bool) -> Result<String, String> {
        // Through JSON text, so the program sees exactly the document `--json` prints (numbers, key order).
        let text = serde_json::to_vec(doc).map_err(|e| e.to_string())?;
        let input = jaq_json::read::parse_single(&text).map_err(|e| e.to_string())?;
        let pp = if compact {
            Pp::default()
        } else {
            Pp { indent: Some("  ".to_string()), sep_space: true, ..Pp::default() }
        };
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for result in self.filter.id.run((ctx, input)) {
            match result {
                Ok(value) => {
                    jaq_json::write::write(&mut out, &pp, 0, &value).map_err(|e| e.to_string())?;
                    out.push(b'\n');
                }
                Err(exn) => match exn.get_err() {
                    Ok(error) => return Err(error_text(error)),
                    // `halt` ends the output like jq; `halt_error` and `halt(N)` with N > 0 are failures.
                    Err(exn) => match exn.get_halt() {
                        Ok(0) => break,
                        Ok(code) => return Err(format!("halted with exit code {code}")),
                        Err(_) => return Err("the program stopped in an unexpected way".to_string()),
                    },
                },
            }
        }
        String::from_utf8(out).map_err(|e| e.to_string())
    }
}

/// `error("boom")` reads `boom` (as jq prints it), `error({"a":1})` reads `{"a":1}`.
fn error_text(error: jaq_core::Error<Val>) -> String {
    match error.into_val() {
        Val::TStr(text) => String::from_utf8_lossy(&text).into_owned(),
        other => other.to_string(),
    }
}

/// One message per lexer or parser error: what was expected and where (1-based character column).
fn load_messages(code: &str, error: jaq_core::load::Error<&str>) -> Vec<String> {
    use jaq_core::load::Error;
    use jaq_core::load::lex::Expect as Lex;
    match error {
        Error::Io(errs) => errs.into_iter().map(|(path, e)| format!("cannot load {path}: {e}")).collect(),
        Error::Lex(errs) => errs
            .into_iter()
            .map(|(expect, rest)| {
                let what = match expect {
                    Lex::Delim(open) => format!("closing delimiter for {open}"),
                    other => other.as_str().to_string(),
                };
                format!("expected {what} {}", location(code, rest))
            })
            .collect(),
        Error::Parse(errs) => errs
            .into_iter()
            .map(|(expect, rest)| format!("expected {} {}", expect.as_str(), location(code, rest)))
            .collect(),
    }
}

/// `at column N, found 'x'` or `at the end`, from the unparsed rest of `code`.
fn location(code: &str, rest: &str) -> String {
    let Some(found) = rest.chars().next() else { return "at the end".to_string() };
    let offset = code.len().saturating_sub(rest.len());
    let column = code.get(..offset).map_or(offset, |before| before.chars().count()) + 1;
    format!("at column {column}, found '{found}'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, doc: Value, compact: bool) -> Result<String, String> {
        JqProgram::compile(code)?.run(&doc, compact)
    }

    #[test]
    fn results_are_written_like_jq() {
        let doc = json!({"peers": [{"name": "a", "online": true}, {"name": "b", "online": false}], "n": 2});
        assert_eq!(run(".peers[] | select(.online) | .name", doc.clone(), false).unwrap(), "\"a\"\n");
        assert_eq!(run(".peers | map(.name)", doc.clone(), false).unwrap(), "[\n  \"a\",\n  \"b\"\n]\n");
        assert_eq!(run(".peers[0]", doc.clone(), true).unwrap(), "{\"name\":\"a\",\"online\":true}\n");
        assert_eq!(run(".peers[0]", doc.clone(), false).unwrap(), "{\n  \"name\": \"a\",\n  \"online\": true\n}\n");
        assert_eq!(run(".n, .missing, [], {}", doc.clone(), false).unwrap(), "2\nnull\n[]\n{}\n");
        assert_eq!(run("empty", doc, false).unwrap(), "");
    }

    #[test]
    fn strings_escape_control_characters_like_jq() {
        assert_eq!(run(".", json!("a\u{7f}\u{1}\n\"é"), true).unwrap(), "\"a\\u007f\\u0001\\n\\\"é\"\n");
    }

    #[test]
    fn halt_ends_the_output() {
        assert_eq!(run("1, halt, 2", json!(null), true).unwrap(), "1\n");
        assert!(run("halt_error", json!("x"), true).is_err());
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        let e = JqProgram::compile(".a |").unwrap_err();
        assert!(e.contains("expected") && e.contains("at the end"), "{e}");
        let e = JqProgram::compile(".[1").unwrap_err();
        assert!(e.contains("expected"), "{e}");
        let e = JqProgram::compile("nosuchfilter").unwrap_err();
        assert_eq!(e, "undefined filter nosuchfilter");
    }

    #[test]
    fn runtime_errors_are_messages() {
        let e = run(".a.b", json!({"a": "text"}), false).unwrap_err();
        assert!(e.contains("cannot index"), "{e}");
        assert_eq!(run("error(\"boom\")", json!(null), false).unwrap_err(), "boom");
    }
}
