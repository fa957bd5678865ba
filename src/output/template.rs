//! `--template TEMPLATE`: a minijinja (Jinja2 syntax) template compiled once and rendered with each JSON document
//! as its context. Undefined names are errors, so a misspelt field fails instead of printing nothing.

use minijinja::value::{Serde, ValueKind};
use minijinja::{Environment, Error, UndefinedBehavior};
use serde_json::Value;

const NAME: &str = "template";

/// A compiled template.
pub(crate) struct Template {
    env: Environment<'static>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Template")
    }
}

impl Template {
    /// Parses `source`; the error is minijinja's message with the line.
    pub(crate) fn compile(source: &str) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // The context is a JSON document, so its scalars print as JSON spells them (`true`, not Python's `True`).
        env.set_formatter(|out, state, value| match value.kind() {
            ValueKind::Bool => out.write_str(if value.is_true() { "true" } else { "false" }).map_err(Error::from),
            ValueKind::None => out.write_str("null").map_err(Error::from),
            _ => minijinja::escape_formatter(out, state, value),
        });
        env.add_template_owned(NAME, source.to_string()).map_err(|e| e.to_string())?;
        Ok(Self { env })
    }

    /// Renders with the document's top-level keys as variables (`{{ mesh }}`, `{% for p in peers %}`).
    pub(crate) fn render(&self, doc: &Value) -> Result<String, String> {
        let template = self.env.get_template(NAME).map_err(|e| e.to_string())?;
        template.render(Serde(doc)).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_fields_loops_and_filters() {
        let t = Template::compile("{% for p in peers %}{{ p.name }}={{ p.online }}{% if not loop.last %},{% endif %}{% endfor %} ({{ peers|length }})").unwrap();
        let doc = json!({"peers": [{"name": "a", "online": true}, {"name": "b", "online": false}]});
        assert_eq!(t.render(&doc).unwrap(), "a=true,b=false (2)");
        let t = Template::compile("{{ doc|tojson }}").unwrap();
        assert_eq!(t.render(&json!({"doc": {"b": 1, "a": 2}})).unwrap(), r#"{"b": 1, "a": 2}"#);
        let t = Template::compile("{{ missing|default('-') }} {{ 'yes' if x is defined else 'no' }} {{ n }}").unwrap();
        assert_eq!(t.render(&json!({"n": null})).unwrap(), "- no null");
    }

    #[test]
    fn syntax_errors_and_undefined_names_fail() {
        let e = Template::compile("{{ name ").unwrap_err();
        assert!(e.contains("syntax error") && e.contains("template:1"), "{e}");
        let t = Template::compile("{{ nmae.first }}").unwrap();
        assert!(t.render(&json!({"name": "x"})).unwrap_err().contains("undefined"));
    }
}
