//! Recall queries as FTS5 MATCH text: each word becomes a quoted phrase, so no FTS syntax (OR, NEAR, *, column
//! filters, parentheses) can be injected; the phrases are ANDed, searched in text and tags, within one mesh.

use crate::proto::MeshId;

/// The token that marks a mesh's notes in the index's `mesh` column (a UUID without its dashes: one token).
pub(super) fn mesh_token(mesh: &MeshId) -> String {
    let hex: String = mesh.as_str().chars().filter(char::is_ascii_alphanumeric).collect();
    format!("m{hex}")
}

/// The words of `query` as ANDed quoted phrases, or None when no word in it can match anything (punctuation).
pub(super) fn words_expr(query: &str) -> Option<String> {
    let phrases: Vec<String> = query
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" "))
}

/// The whole MATCH expression: the mesh's notes whose text or tags hold every word.
pub(super) fn match_expr(mesh: &MeshId, words: &str) -> String {
    format!("mesh : \"{}\" AND {{text tags}} : ({words})", mesh_token(mesh))
}

/// Number of words the query is taken as.
pub(super) fn word_count(query: &str) -> usize {
    query.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_phrases() {
        assert_eq!(words_expr("a OR b").as_deref(), Some("\"a\" \"OR\" \"b\""));
        assert_eq!(words_expr("NEAR(x y)").as_deref(), Some("\"NEAR(x\" \"y)\""));
        assert_eq!(words_expr("say \"hi\"").as_deref(), Some("\"say\" \"\"\"hi\"\"\""));
        assert_eq!(words_expr("text:foo*").as_deref(), Some("\"text:foo*\""));
        assert_eq!(words_expr("* ^ \" "), None);
        assert_eq!(words_expr("   "), None);
        let m = MeshId::generate();
        let e = match_expr(&m, "\"a\"");
        assert!(e.starts_with("mesh : \"m") && e.ends_with("AND {text tags} : (\"a\")"), "{e}");
        assert!(!mesh_token(&m).contains('-'));
    }
}
