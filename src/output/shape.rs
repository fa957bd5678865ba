//! The output contract: what `--json[=FIELDS]`, `--jq`, `--template` and `--output-format` ask for (parsed by clap),
//! compiled once into a `Shape` that turns every JSON document a verb produces into the text to print.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::jq::JqProgram;
use super::template::Template;
use super::with_schema;

/// `--output-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Human text (the default).
    Text,
    /// One JSON document (same as `--json`).
    Json,
    /// One compact JSON object per line, printed as results arrive.
    StreamJson,
}

/// The output flags every verb takes, as typed. `Shape::compile` checks and compiles them.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct OutputFlags {
    /// Print JSON: all fields, or only FIELDS (`--json=a,b`; the `=` is required). Errors go to stderr as JSON.
    #[arg(
        long = "json",
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        value_name = "FIELDS"
    )]
    pub json: Option<String>,
    /// Run a jq program (built in) over the JSON document and print its results as jq does.
    #[arg(long, global = true, value_name = "EXPR", conflicts_with = "template")]
    pub jq: Option<String>,
    /// Render the JSON document with a Jinja template (`{{ field }}`, `{% for x in list %}`).
    #[arg(long, global = true, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// text, json (same as --json) or stream-json (one compact JSON object per line).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub output_format: Option<Format>,
}

impl OutputFlags {
    /// Whether the verb should produce JSON documents (anything but human text).
    pub(crate) fn wants_json(&self) -> bool {
        match self.output_format {
            Some(Format::Json | Format::StreamJson) => true,
            Some(Format::Text) | None => self.json.is_some() || self.jq.is_some() || self.template.is_some(),
        }
    }
}

/// Whether raw argv (before clap) asks for JSON output, so clap's own usage errors can be printed as JSON.
/// Stops at `--` (what follows belongs to another program).
pub(crate) fn argv_wants_json(args: &[String]) -> bool {
    let mut args = args.iter().map(String::as_str).take_while(|a| *a != "--").peekable();
    while let Some(arg) = args.next() {
        let flag = arg.split_once('=').map_or(arg, |(flag, _)| flag);
        match flag {
            "--json" | "--jq" | "--template" => return true,
            "--output-format" => {
                let value = match arg.split_once('=') {
                    Some((_, value)) => Some(value),
                    None => args.peek().copied(),
                };
                if matches!(value, Some("json" | "stream-json")) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Why a document could not be shaped; the CLI maps every case to exit 3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShapeError {
    #[error("unknown field {unknown}; valid fields: {valid}")]
    UnknownField { unknown: String, valid: String },
    #[error("--output-format text cannot be combined with --json, --jq or --template")]
    TextWithJson,
    #[error("invalid jq program: {0}")]
    JqSyntax(String),
    #[error("the jq program failed: {0}")]
    JqRun(String),
    #[error("invalid template: {0}")]
    TemplateSyntax(String),
    #[error("the template failed: {0}")]
    TemplateRender(String),
}

/// How a document becomes text.
#[derive(Debug)]
enum Render {
    Json,
    Jq(JqProgram),
    Template(Box<Template>),
}

/// The compiled output request. It lives as long as the process (see `Shape::leak`), so `Printer` stays `Copy`;
/// the first failure to shape a document is kept here for the CLI to report as the exit code.
#[derive(Debug)]
pub(crate) struct Shape {
    format: Format,
    fields: Option<Vec<String>>,
    render: Render,
    failure: OnceLock<ShapeError>,
}

/// Human text: no document is ever shaped.
pub(crate) static TEXT: Shape = Shape::plain(Format::Text);
/// Plain `--json`: every field, pretty-printed.
pub(crate) static JSON: Shape = Shape::plain(Format::Json);

impl Shape {
    const fn plain(format: Format) -> Self {
        Self { format, fields: None, render: Render::Json, failure: OnceLock::new() }
    }

    /// Checks the flags and compiles the jq program or template (their syntax errors surface here, before the verb
    /// runs).
    pub(crate) fn compile(flags: &OutputFlags) -> Result<Self, ShapeError> {
        let asks_json = flags.json.is_some() || flags.jq.is_some() || flags.template.is_some();
        let format = match flags.output_format {
            Some(Format::Text) if asks_json => return Err(ShapeError::TextWithJson),
            Some(format) => format,
            None if asks_json => Format::Json,
            None => Format::Text,
        };
        let fields = flags.json.as_deref().and_then(parse_fields);
        let render = match (&flags.jq, &flags.template) {
            (Some(code), _) => Render::Jq(JqProgram::compile(code).map_err(ShapeError::JqSyntax)?),
            (None, Some(source)) => {
                Render::Template(Box::new(Template::compile(source).map_err(ShapeError::TemplateSyntax)?))
            }
            (None, None) => Render::Json,
        };
        Ok(Self { format, fields, render, failure: OnceLock::new() })
    }

    /// Gives the shape the process's lifetime. Called once per run, by `main`.
    pub(crate) fn leak(self) -> &'static Self {
        Box::leak(Box::new(self))
    }

    /// Whether verbs should produce JSON documents.
    pub(crate) fn is_json(&self) -> bool {
        self.format != Format::Text
    }

    /// Whether every document goes on one line (`stream-json`).
    pub(crate) fn is_stream(&self) -> bool {
        self.format == Format::StreamJson
    }

    /// The text to print for one document (with `schema_version` added), ending in a newline unless it is empty.
    /// `compact`: one line per value (streams, `stream-json`).
    pub(crate) fn render(&self, doc: Value, compact: bool) -> Result<String, ShapeError> {
        let mut doc = with_schema(doc);
        if let Some(fields) = &self.fields {
            doc = project(doc, fields)?;
        }
        match &self.render {
            Render::Json => {
                let text = if compact { serde_json::to_string(&doc) } else { serde_json::to_string_pretty(&doc) };
                Ok(text.unwrap_or_default() + "\n")
            }
            Render::Jq(program) => program.run(&doc, compact).map_err(ShapeError::JqRun),
            Render::Template(template) => {
                let mut text = template.render(&doc).map_err(ShapeError::TemplateRender)?;
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                Ok(text)
            }
        }
    }

    /// Keeps the first failure; later ones are consequences of the same flags.
    pub(crate) fn record(&self, error: ShapeError) {
        let _ = self.failure.set(error);
    }

    pub(crate) fn failure(&self) -> Option<&ShapeError> {
        self.failure.get()
    }
}

/// `a, b ,c` → `["a", "b", "c"]`; an empty list (bare `--json`, `--json=`) means every field.
fn parse_fields(list: &str) -> Option<Vec<String>> {
    let mut fields: Vec<String> = Vec::new();
    for field in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !fields.iter().any(|f| f == field) {
            fields.push(field.to_string());
        }
    }
    (!fields.is_empty()).then_some(fields)
}

/// Exactly the named top-level keys, in the order asked, then `schema_version`. Asking for a key the document does
/// not have is an error naming the valid ones.
fn project(doc: Value, fields: &[String]) -> Result<Value, ShapeError> {
    let Value::Object(mut obj) = doc else { return Ok(doc) };
    let unknown: Vec<&str> =
        fields.iter().map(String::as_str).filter(|f| *f != "schema_version" && !obj.contains_key(*f)).collect();
    if !unknown.is_empty() {
        let valid: Vec<&str> = obj.keys().map(String::as_str).filter(|k| *k != "schema_version").collect();
        return Err(ShapeError::UnknownField { unknown: unknown.join(", "), valid: valid.join(", ") });
    }
    let mut projected = Map::new();
    for field in fields.iter().filter(|f| *f != "schema_version") {
        if let Some(value) = obj.remove(field) {
            projected.insert(field.clone(), value);
        }
    }
    Ok(with_schema(Value::Object(projected)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flags(json: Option<&str>, jq: Option<&str>, template: Option<&str>, format: Option<Format>) -> OutputFlags {
        OutputFlags {
            json: json.map(str::to_string),
            jq: jq.map(str::to_string),
            template: template.map(str::to_string),
            output_format: format,
        }
    }

    fn peers() -> Value {
        json!({"mesh": "team", "peers": [{"name": "a"}], "synced": true})
    }

    #[test]
    fn bare_json_prints_every_field_with_schema_version() {
        let shape = Shape::compile(&flags(Some(""), None, None, None)).unwrap();
        assert!(shape.is_json() && !shape.is_stream());
        let text = shape.render(peers(), false).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc, json!({"mesh": "team", "peers": [{"name": "a"}], "synced": true, "schema_version": 1}));
        assert!(text.ends_with("}\n") && text.contains("\n  \"mesh\": \"team\""));
    }

    #[test]
    fn field_lists_project_exactly_those_keys_in_order() {
        let shape = Shape::compile(&flags(Some("synced, mesh,,mesh"), None, None, None)).unwrap();
        let text = shape.render(peers(), true).unwrap();
        assert_eq!(text, "{\"synced\":true,\"mesh\":\"team\",\"schema_version\":1}\n");
        let shape = Shape::compile(&flags(Some("schema_version"), None, None, None)).unwrap();
        assert_eq!(shape.render(peers(), true).unwrap(), "{\"schema_version\":1}\n");
    }

    #[test]
    fn unknown_fields_are_named_with_the_valid_ones() {
        let shape = Shape::compile(&flags(Some("mesh,nope,peer"), None, None, None)).unwrap();
        assert_eq!(
            shape.render(peers(), false),
            Err(ShapeError::UnknownField { unknown: "nope, peer".into(), valid: "mesh, peers, synced".into() })
        );
    }

    #[test]
    fn jq_runs_on_the_projected_document() {
        let shape = Shape::compile(&flags(Some("mesh"), Some("keys"), None, None)).unwrap();
        assert_eq!(shape.render(peers(), true).unwrap(), "[\"mesh\",\"schema_version\"]\n");
        let shape = Shape::compile(&flags(None, Some(".peers[].name, .schema_version"), None, None)).unwrap();
        assert!(shape.is_json());
        assert_eq!(shape.render(peers(), false).unwrap(), "\"a\"\n1\n");
        let bad = Shape::compile(&flags(None, Some(".peers[] |"), None, None)).unwrap_err();
        assert!(matches!(bad, ShapeError::JqSyntax(_)), "{bad}");
        let shape = Shape::compile(&flags(None, Some(".mesh.x"), None, None)).unwrap();
        assert!(matches!(shape.render(peers(), false), Err(ShapeError::JqRun(_))));
    }

    #[test]
    fn templates_render_with_a_final_newline() {
        let shape = Shape::compile(&flags(None, None, Some("{{ mesh }}: {{ peers|length }}"), None)).unwrap();
        assert_eq!(shape.render(peers(), false).unwrap(), "team: 1\n");
        let shape = Shape::compile(&flags(None, None, Some("{{ mesh }}\n"), None)).unwrap();
        assert_eq!(shape.render(peers(), false).unwrap(), "team\n");
        let shape = Shape::compile(&flags(None, None, Some("{% if false %}x{% endif %}"), None)).unwrap();
        assert_eq!(shape.render(peers(), false).unwrap(), "");
        let bad = Shape::compile(&flags(None, None, Some("{% for %}"), None)).unwrap_err();
        assert!(matches!(bad, ShapeError::TemplateSyntax(_)), "{bad}");
        let shape = Shape::compile(&flags(None, None, Some("{{ mesh_name }}"), None)).unwrap();
        assert!(matches!(shape.render(peers(), false), Err(ShapeError::TemplateRender(_))));
    }

    #[test]
    fn output_format_selects_text_json_or_stream() {
        assert!(!Shape::compile(&flags(None, None, None, None)).unwrap().is_json());
        assert!(!Shape::compile(&flags(None, None, None, Some(Format::Text))).unwrap().is_json());
        let json = Shape::compile(&flags(None, None, None, Some(Format::Json))).unwrap();
        assert!(json.is_json() && !json.is_stream());
        let stream = Shape::compile(&flags(None, None, None, Some(Format::StreamJson))).unwrap();
        assert!(stream.is_json() && stream.is_stream());
        assert_eq!(
            Shape::compile(&flags(Some(""), None, None, Some(Format::Text))).unwrap_err(),
            ShapeError::TextWithJson
        );
        assert!(flags(None, Some("."), None, None).wants_json());
        assert!(!flags(None, None, None, Some(Format::Text)).wants_json());
    }

    #[test]
    fn the_first_failure_is_kept() {
        let shape = Shape::compile(&flags(None, None, None, None)).unwrap();
        shape.record(ShapeError::TextWithJson);
        shape.record(ShapeError::JqRun("later".into()));
        assert_eq!(shape.failure(), Some(&ShapeError::TextWithJson));
    }

    #[test]
    fn raw_argv_that_asks_for_json() {
        let argv = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert!(argv_wants_json(&argv(&["send", "--json"])));
        assert!(argv_wants_json(&argv(&["--json=a,b", "peers"])));
        assert!(argv_wants_json(&argv(&["peers", "--jq", "."])));
        assert!(argv_wants_json(&argv(&["peers", "--template={{ a }}"])));
        assert!(argv_wants_json(&argv(&["peers", "--output-format", "stream-json"])));
        assert!(argv_wants_json(&argv(&["peers", "--output-format=json"])));
        assert!(!argv_wants_json(&argv(&["peers", "--output-format", "text"])));
        assert!(!argv_wants_json(&argv(&["launch", "--", "--json"])));
        assert!(!argv_wants_json(&argv(&["send", "bob", "--jsonish"])));
    }
}
