//! User-facing text: Fluent messages from `locales/{en,es}/main.ftl`, compiled into the binary. The locale is
//! chosen once at start-up (`init`); a missing message falls back to English, then to its id.

use std::borrow::Cow;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::{LanguageIdentifier, langid};

const EN_FTL: &str = include_str!("../../locales/en/main.ftl");
const ES_FTL: &str = include_str!("../../locales/es/main.ftl");

/// A supported interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Es,
}

impl Lang {
    /// `es`, `es_ES.UTF-8`, `es-MX` → Spanish; anything else (or nothing) → English.
    pub(crate) fn from_locale(locale: Option<&str>) -> Self {
        match locale {
            Some(l) if l.to_ascii_lowercase().starts_with("es") => Lang::Es,
            _ => Lang::En,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => EN_FTL,
            Lang::Es => ES_FTL,
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::En => langid!("en"),
            Lang::Es => langid!("es"),
        }
    }
}

/// A message argument: text, or a number (numbers select plural variants).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    Number(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Text(s.clone())
    }
}
impl From<u64> for Arg {
    fn from(n: u64) -> Self {
        // Counts shown to users stay far below 2^53.
        Arg::Number(n as f64)
    }
}
impl From<usize> for Arg {
    fn from(n: usize) -> Self {
        Arg::Number(n as f64)
    }
}
impl From<u32> for Arg {
    fn from(n: u32) -> Self {
        Arg::Number(f64::from(n))
    }
}

static CURRENT: OnceLock<Lang> = OnceLock::new();
static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
static ES: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();

/// Chooses the language for this process. Later calls are ignored.
pub(crate) fn init(lang: Lang) {
    let _ = CURRENT.set(lang);
}

/// The language chosen by `init` (English before that).
pub(crate) fn current() -> Lang {
    CURRENT.get().copied().unwrap_or(Lang::En)
}

/// The message `id` in the current language.
pub(crate) fn t(id: &str) -> String {
    t_in(current(), id, &[])
}

/// The message `id` in the current language, with arguments.
pub(crate) fn t_args(id: &str, args: &[(&str, Arg)]) -> String {
    t_in(current(), id, args)
}

/// The message `id` in a given language (JSON output is always English).
pub(crate) fn t_in(lang: Lang, id: &str, args: &[(&str, Arg)]) -> String {
    format_in(bundle(lang), id, args)
        .or_else(|| if lang == Lang::En { None } else { format_in(bundle(Lang::En), id, args) })
        .unwrap_or_else(|| id.to_string())
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    let cell = match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
    };
    cell.get_or_init(|| build_bundle(lang))
}

fn build_bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let mut bundle = FluentBundle::new_concurrent(vec![lang.id()]);
    bundle.set_use_isolating(false);
    // A resource with syntax errors still yields every entry that parsed; the unit tests keep the files clean.
    let resource = match FluentResource::try_new(lang.source().to_string()) {
        Ok(r) => r,
        Err((r, _)) => r,
    };
    let _ = bundle.add_resource(resource);
    bundle
}

fn format_in(bundle: &FluentBundle<FluentResource>, id: &str, args: &[(&str, Arg)]) -> Option<String> {
    let message = bundle.get_message(id)?;
    let pattern = message.value()?;
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        let v: FluentValue<'_> = match value {
            Arg::Text(s) => FluentValue::String(Cow::Owned(s.clone())),
            Arg::Number(n) => FluentValue::from(*n),
        };
        fluent_args.set(*name, v);
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
    Some(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_bundle::FluentResource;
    use std::collections::BTreeSet;

    /// Message ids: entries start in column 0 with an identifier followed by `=` (terms start with `-`).
    fn ids(source: &str) -> BTreeSet<String> {
        if let Err((_, errors)) = FluentResource::try_new(source.to_string()) {
            panic!("locale file does not parse: {errors:?}");
        }
        source
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .filter_map(|l| l.split_once('=').map(|(id, _)| id.trim().to_string()))
            .collect()
    }

    #[test]
    fn every_message_exists_in_both_languages_and_parses() {
        let en = ids(EN_FTL);
        let es = ids(ES_FTL);
        let only_en: Vec<_> = en.difference(&es).collect();
        let only_es: Vec<_> = es.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in es: {only_en:?}");
        assert!(only_es.is_empty(), "missing in en: {only_es:?}");
        assert!(!en.is_empty());
        for lang in [Lang::En, Lang::Es] {
            let bundle = build_bundle(lang);
            for id in &en {
                let message = bundle.get_message(id).unwrap_or_else(|| panic!("{id} not in bundle {lang:?}"));
                assert!(message.value().is_some(), "{id} has no value in {lang:?}");
            }
        }
    }

    #[test]
    fn arguments_and_plurals_format() {
        assert_eq!(t_in(Lang::En, "no-such-message", &[]), "no-such-message");
        let args = |n: u64| [("id", Arg::from("x")), ("to", Arg::from("bob")), ("count", Arg::from(n))];
        let one = t_in(Lang::En, "send-details", &args(1));
        let many = t_in(Lang::En, "send-details", &args(3));
        assert!(one.ends_with("1 recipient"), "{one}");
        assert!(many.ends_with("3 recipients"), "{many}");
        assert!(t_in(Lang::Es, "send-details", &args(3)).ends_with("3 destinatarios"));
    }

    #[test]
    fn locale_selection() {
        assert_eq!(Lang::from_locale(Some("es_ES.UTF-8")), Lang::Es);
        assert_eq!(Lang::from_locale(Some("ES")), Lang::Es);
        assert_eq!(Lang::from_locale(Some("en_US.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(Some("C")), Lang::En);
        assert_eq!(Lang::from_locale(None), Lang::En);
    }
}
