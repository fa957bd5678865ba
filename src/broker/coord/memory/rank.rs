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

/// bm25 of one note (its terms) for the query terms; higher is better. A term in more than half the notes gets
/// FTS5's floor weight (1e-6), so common words filter without ranking.
pub(super) fn score(corpus: &Corpus, query: &[String], note: &[String]) -> f64 {
    let n = corpus.notes.max(1) as f64;
    let avg = (corpus.terms as f64 / n).max(1.0);
    let len = note.len() as f64;
    query
        .iter()
        .map(|q| {
            let hits = corpus.docs.get(q).copied().unwrap_or(0) as f64;
            let idf = (((n - hits + 0.5) / (hits + 0.5)).ln()).max(1e-6);
            let tf = note.iter().filter(|t| *t == q).count() as f64;
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

    #[test]
    fn more_mentions_and_rarer_words_rank_higher() {
        let docs = HashMap::from([("postgres".to_string(), 2), ("the".to_string(), 10)]);
        let corpus = Corpus { notes: 10, terms: 60, docs };
        let q = words("postgres");
        let once = score(&corpus, &q, &words("postgres once here and there ok"));
        let thrice = score(&corpus, &q, &words("postgres postgres postgres and there ok"));
        assert!(thrice > once && once > 0.0);
        let common = score(&corpus, &words("the"), &words("the the the"));
        assert!(common < 1e-5, "a word in every note weighs nothing: {common}");
    }
}
