//! bm25 ranking of recall candidates, computed here rather than by FTS5's `bm25()`: FTS5 recounts every query
//! word's documents over the whole index on each query (milliseconds for a word in most notes), while the broker
//! keeps each mesh's document counts as notes come and go, so a query costs its candidates, not the index.

use std::collections::HashMap;

/// bm25's parameters, as FTS5 uses them.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The words of a text as the index sees them, near enough for counting: runs of letters and digits, lowercased.
pub(super) fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// What a note is ranked on: its text and tags.
pub(super) fn note_terms(text: &str, tags: &[String]) -> Vec<String> {
    terms(text).chain(tags.iter().flat_map(|t| terms(t))).collect()
}

/// The mesh-wide figures bm25 needs.
pub(super) struct Corpus {
    /// Live notes in the mesh.
    pub notes: u64,
    /// Their total length in terms.
    pub terms: u64,
    /// For each query term, the notes that hold it.
    pub docs: HashMap<String, u64>,
}

/// How often each query term occurs in a note's text and tags, counted without building the note's term list
/// (a recall scores hundreds of candidates).
pub(super) fn frequencies(query: &[String], text: &str, tags: &[String]) -> Vec<u32> {
    let mut tf = vec![0u32; query.len()];
    let words = std::iter::once(text).chain(tags.iter().map(String::as_str));
    for w in words.flat_map(|s| s.split(|c: char| !c.is_alphanumeric())).filter(|w| !w.is_empty()) {
        for (q, n) in query.iter().zip(tf.iter_mut()) {
            if same_word(w, q) {
                *n += 1;
            }
        }
    }
    tf
}

/// Whether `word` lowercases to `lower` (as `terms` would fold it), without allocating.
fn same_word(word: &str, lower: &str) -> bool {
    if word.is_ascii() {
        return word.eq_ignore_ascii_case(lower);
    }
    word.chars().flat_map(char::to_lowercase).eq(lower.chars())
}

/// bm25 of one note for the query terms, from each term's count in the note (`tf`, as `frequencies` gives) and
/// the note's length in terms; higher is better. A term in more than half the notes gets FTS5's floor weight
/// (1e-6), so common words filter without ranking.
pub(super) fn score(corpus: &Corpus, query: &[String], tf: &[u32], len: u64) -> f64 {
    let n = corpus.notes.max(1) as f64;
    let avg = (corpus.terms as f64 / n).max(1.0);
    let len = len as f64;
    query
        .iter()
        .zip(tf)
        .map(|(q, &tf)| {
            let hits = corpus.docs.get(q).copied().unwrap_or(0) as f64;
            let idf = (((n - hits + 0.5) / (hits + 0.5)).ln()).max(1e-6);
            let tf = f64::from(tf);
            idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg))
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        terms(s).collect()
    }

    #[test]
    fn terms_split_on_punctuation_and_fold_case() {
        assert_eq!(words("Deploy-the DB: now!"), ["deploy", "the", "db", "now"]);
        assert_eq!(note_terms("a b", &["area:db".into()]), ["a", "b", "area", "db"]);
    }

    /// Scores a note the way recall does: frequencies from its text, its length from `note_terms`.
    fn scored(corpus: &Corpus, query: &str, text: &str) -> f64 {
        let q = words(query);
        let len = note_terms(text, &[]).len() as u64;
        score(corpus, &q, &frequencies(&q, text, &[]), len)
    }

    #[test]
    fn frequencies_fold_case_like_terms_and_count_tags() {
        let q = words("db straße ab");
        assert_eq!(frequencies(&q, "DB, db; Db-dB STRASSE Straße", &["area:db".into(), "AB".into()]), [5, 1, 1]);
        assert_eq!(frequencies(&q, "dbx xdb abc", &[]), [0, 0, 0]);
    }

    #[test]
    fn more_mentions_and_rarer_words_rank_higher() {
        let docs = HashMap::from([("postgres".to_string(), 2), ("the".to_string(), 10)]);
        let corpus = Corpus { notes: 10, terms: 60, docs };
        let once = scored(&corpus, "postgres", "postgres once here and there ok");
        let thrice = scored(&corpus, "postgres", "postgres postgres postgres and there ok");
        assert!(thrice > once && once > 0.0);
        let common = scored(&corpus, "the", "the the the");
        assert!(common < 1e-5, "a word in every note weighs nothing: {common}");
    }
}
