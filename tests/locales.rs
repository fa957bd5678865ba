//! The message catalogs: English and Spanish carry the same messages, attributes and `{ $variables }`, and no
//! string uses a phrase the voice forbids (docs: one to three sentences — what happened, why, one next action).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use fluent_bundle::FluentResource;

/// Phrases no user-facing string may contain, in any catalog (case-insensitive, whole words).
const FORBIDDEN: &[&str] = &[
    // English
    "successfully",
    "awesome",
    "oops",
    "unfortunately",
    "don't worry",
    "do not worry",
    "something went wrong",
    "an error occurred",
    "an error has occurred",
    "please",
    "kindly",
    // Spanish
    "por favor",
    "exitosamente",
    "con éxito",
    "satisfactoriamente",
    "genial",
    "ups",
    "lamentablemente",
    "desafortunadamente",
    "por desgracia",
    "no te preocupes",
    "no se preocupe",
    "algo salió mal",
    "ocurrió un error",
    "ha ocurrido un error",
    "se produjo un error",
    "amablemente",
];

const LOCALES: &[&str] = &["en", "es"];

/// One message or attribute (`id` or `id.attr`): its text and the variables its placeables use.
#[derive(Debug, Default)]
struct Entry {
    text: String,
    line: usize,
    variables: BTreeSet<String>,
}

fn catalog_path(locale: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("locales").join(locale).join("main.ftl")
}

fn read_catalog(locale: &str) -> String {
    let path = catalog_path(locale);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Splits a Fluent file into messages (`id`), terms (`-id`) and their attributes (`id.attr`), keyed by name.
/// Fluent is line-oriented: an entry starts in column 0, its continuation lines are indented (or sit inside a
/// placeable left open), and an indented line starting with `.name =` opens an attribute. Comments (`#` in
/// column 0) belong to no entry.
fn entries(source: &str) -> BTreeMap<String, Entry> {
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    let mut message: Option<String> = None;
    let mut current: Option<String> = None;
    for (index, raw) in source.lines().enumerate() {
        let line = index + 1;
        if raw.starts_with('#') {
            message = None;
            current = None;
            continue;
        }
        if raw.trim().is_empty() {
            if let Some(key) = &current {
                out.entry(key.clone()).or_default().text.push('\n');
            }
            continue;
        }
        // Inside an open placeable (a select expression) lines need no indentation: `}` may close it in column 0.
        let continues = current.as_ref().is_some_and(|key| scan(&out[key].text).open > 0);
        if continues || raw.starts_with(char::is_whitespace) {
            let key = current.as_ref().unwrap_or_else(|| panic!("line {line}: indented text outside a message"));
            let attribute = raw
                .trim_start()
                .strip_prefix('.')
                .and_then(|rest| rest.split_once('='))
                .filter(|(name, _)| !continues && is_identifier(name.trim()));
            match (attribute, &message) {
                (Some((name, value)), Some(parent)) => {
                    let key = format!("{parent}.{}", name.trim());
                    assert!(!out.contains_key(&key), "line {line}: {key} is defined twice");
                    out.insert(key.clone(), Entry { text: value.to_string(), line, variables: BTreeSet::new() });
                    current = Some(key);
                }
                (Some(_), None) => panic!("line {line}: an attribute outside a message"),
                (None, _) => {
                    let entry = out.entry(key.clone()).or_default();
                    entry.text.push('\n');
                    entry.text.push_str(raw);
                }
            }
            continue;
        }
        let (id, value) = raw.split_once('=').unwrap_or_else(|| panic!("line {line}: no `=` in {raw:?}"));
        let id = id.trim();
        let name = id.strip_prefix('-').unwrap_or(id);
        assert!(is_identifier(name), "line {line}: {id:?} is not a message id");
        assert!(!out.contains_key(id), "line {line}: {id} is defined twice");
        out.insert(id.to_string(), Entry { text: value.to_string(), line, variables: BTreeSet::new() });
        message = Some(id.to_string());
        current = message.clone();
    }
    for entry in out.values_mut() {
        entry.variables = scan(&entry.text).variables;
    }
    out
}

/// What a pattern's placeables hold: the `$name`s referenced inside `{ … }` (a `$` in plain text or in a string
/// literal is text), and how many placeables are still open at its end.
struct Scan {
    variables: BTreeSet<String>,
    open: usize,
}

fn scan(pattern: &str) -> Scan {
    let mut variables = BTreeSet::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '"' if depth > 0 => in_string = true,
            '$' if depth > 0 => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '-' || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                variables.insert(name);
            }
            _ => {}
        }
    }
    Scan { variables, open: depth }
}

/// Every locale's entries, after checking the file parses and that our reading of it agrees with Fluent's.
fn catalogs() -> Vec<(&'static str, BTreeMap<String, Entry>)> {
    LOCALES
        .iter()
        .map(|&locale| {
            let source = read_catalog(locale);
            let resource = match FluentResource::try_new(source.clone()) {
                Ok(resource) => resource,
                Err((_, errors)) => panic!("locales/{locale}/main.ftl does not parse: {errors:?}"),
            };
            let parsed = entries(&source);
            assert!(!parsed.is_empty(), "locales/{locale}/main.ftl has no messages");
            let mut bundle = fluent_bundle::FluentBundle::new(vec![unic_langid::langid!("en")]);
            if let Err(errors) = bundle.add_resource(resource) {
                panic!("locales/{locale}/main.ftl: {errors:?}");
            }
            for key in parsed.keys().filter(|k| !k.starts_with('-') && !k.contains('.')) {
                let message = bundle.get_message(key).unwrap_or_else(|| panic!("{locale}: Fluent has no {key}"));
                let fluent_attributes: BTreeSet<String> =
                    message.attributes().map(|a| format!("{key}.{}", a.id())).collect();
                let ours: BTreeSet<String> =
                    parsed.keys().filter(|k| k.starts_with(&format!("{key}."))).cloned().collect();
                assert_eq!(fluent_attributes, ours, "{locale}: attributes of {key}");
            }
            (locale, parsed)
        })
        .collect()
}

/// `phrase` occurs in `text` with no letter or digit right before or after it.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let text = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let phrase = phrase.to_lowercase();
    text.match_indices(&phrase).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[test]
fn every_message_and_attribute_exists_in_every_locale() {
    let catalogs = catalogs();
    let (first, reference) = &catalogs[0];
    let mut problems = Vec::new();
    for (locale, catalog) in &catalogs[1..] {
        for key in reference.keys().filter(|k| !catalog.contains_key(*k)) {
            problems.push(format!("{key} is in locales/{first} but missing in locales/{locale}"));
        }
        for key in catalog.keys().filter(|k| !reference.contains_key(*k)) {
            problems.push(format!("{key} is in locales/{locale} but missing in locales/{first}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_message_uses_the_same_variables_in_every_locale() {
    let catalogs = catalogs();
    let (first, reference) = &catalogs[0];
    let mut problems = Vec::new();
    for (locale, catalog) in &catalogs[1..] {
        for (key, entry) in reference {
            let Some(other) = catalog.get(key) else { continue };
            if entry.variables != other.variables {
                problems.push(format!(
                    "{key}: locales/{first} line {} uses {:?}, locales/{locale} line {} uses {:?}",
                    entry.line, entry.variables, other.line, other.variables
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_string_uses_a_forbidden_phrase() {
    let mut problems = Vec::new();
    for (locale, catalog) in catalogs() {
        for (key, entry) in &catalog {
            for phrase in FORBIDDEN.iter().filter(|p| contains_phrase(&entry.text, p)) {
                problems.push(format!("locales/{locale}/main.ftl line {}: {key} says {phrase:?}", entry.line));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_catalog_reader_sees_attributes_variables_and_forbidden_phrases() {
    let source = concat!(
        "# please ignore comments\n",
        "hello = Hi { $name }, it costs $5 { \"$x\" }\n",
        "    .title = { $count ->\n",
        "        [one] one\n",
        "       *[other] { $count } of { $total }\n",
        "    }\n",
        "invite = Valid { $uses ->\n",
        "    [one] once\n",
        "   *[other] { $uses } times\n",
        "}, for { $span }:\n",
        "-brand = claudemesh\n",
    );
    assert!(FluentResource::try_new(source.to_string()).is_ok());
    let parsed = entries(source);
    assert_eq!(parsed.keys().cloned().collect::<Vec<_>>(), ["-brand", "hello", "hello.title", "invite"]);
    let vars = |key: &str| parsed[key].variables.iter().map(String::as_str).collect::<Vec<_>>();
    assert_eq!(vars("hello"), ["name"]);
    assert_eq!(vars("hello.title"), ["count", "total"]);
    assert_eq!(vars("invite"), ["span", "uses"]);
    assert!(!parsed.values().any(|e| contains_phrase(&e.text, "please")));

    assert!(contains_phrase("Sent Successfully.", "successfully"));
    assert!(contains_phrase("Don\u{2019}t worry, it is fine", "don't worry"));
    assert!(contains_phrase("Guardado con ÉXITO", "con éxito"));
    assert!(contains_phrase("¡Ups! Falló", "ups"));
    assert!(!contains_phrase("Joined the groups", "ups"));
    assert!(!contains_phrase("pleased to meet you", "please"));
}
