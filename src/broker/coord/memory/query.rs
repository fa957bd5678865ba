//! Recall queries as FTS5 MATCH text: each word becomes a quoted phrase, so no FTS syntax (OR, NEAR, *, column
//! filters, parentheses) can be injected; the phrases are ANDed.

/// The words of `query` as ANDed quoted phrases, or None when no word in it can match anything (punctuation).
pub(super) fn words_expr(query: &str) -> Option<String> {
    let phrases: Vec<String> = query
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!phrases.is_empty()).then(|| phrases.join(" "))
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
    }
}
