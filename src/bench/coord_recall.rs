//! Recall benchmark (`claudemesh bench recall`): fills a mesh on a real broker with many memories of varied text
//! (a Zipf-like vocabulary, several connections pipelining), then times `memory.recall` queries of 1–3 words.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::{Value, json};

use super::mesh;
use super::spawn::SpawnedBroker;
use super::stats::{self, Summary};
use super::{BenchError, Target};
use crate::client::MeshSession;
use crate::proto::cmethod;

/// Connections that insert memories, and the remembers each keeps in flight.
const INSERTERS: usize = 4;
const WINDOW: usize = 128;
/// The recall latency the broker should stay under at p99.
pub(crate) const TARGET_P99_MS: f64 = 5.0;

/// Common words of engineering notes; the rest of the vocabulary is made-up words of 2–4 syllables.
const COMMON: &[&str] = &[
    "deploy",
    "build",
    "test",
    "cache",
    "database",
    "migration",
    "latency",
    "error",
    "config",
    "release",
    "branch",
    "review",
    "broker",
    "daemon",
    "session",
    "timeout",
    "retry",
    "index",
    "query",
    "schema",
    "token",
    "invite",
    "mesh",
    "peer",
    "message",
    "queue",
    "lease",
    "task",
    "memory",
    "state",
    "stream",
    "schedule",
    "clock",
    "auth",
    "key",
    "signature",
    "file",
    "path",
    "log",
    "metric",
    "alert",
    "incident",
    "rollback",
    "feature",
    "flag",
    "server",
    "client",
    "socket",
    "thread",
    "runtime",
    "panic",
    "crash",
    "fix",
    "bug",
    "refactor",
    "docs",
    "api",
    "endpoint",
    "request",
    "response",
    "header",
    "payload",
    "limit",
    "quota",
    "disk",
    "network",
    "proxy",
    "tls",
    "certificate",
    "user",
    "owner",
    "admin",
    "member",
    "guest",
    "role",
    "grant",
    "revoke",
    "block",
    "ban",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "to", "sa", "vi", "dor", "pe", "lu", "qua", "xen", "ti", "bro", "fa", "gel", "ho", "jin",
    "ne", "or", "pla", "ri", "su", "tem", "ul", "va", "wex", "yo", "zan", "cor",
];
const VOCABULARY: usize = 5_000;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct RecallPlan {
    pub memories: u64,
    pub queries: u64,
    pub broker: Option<String>,
    pub seed: u64,
}

/// What a recall run measured.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecallReport {
    pub memories: u64,
    pub remember_errors: u64,
    pub insert_s: f64,
    pub insert_rate: f64,
    pub queries: u64,
    pub recall_errors: u64,
    /// Mean notes a query returned (at most the default limit, 20).
    pub mean_hits: f64,
    /// Queries that found nothing.
    pub empty: u64,
    pub recall: Option<Summary>,
    pub target_p99_ms: f64,
    pub target_met: bool,
}

/// SplitMix64 (not for anything secret).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A rank in `0..n`, log-uniform (Zipf with exponent ~1): low ranks are common, the tail is long.
    fn zipf(&mut self, n: usize) -> usize {
        let r = ((n as f64).ln() * self.unit()).exp() as usize;
        r.saturating_sub(1).min(n - 1)
    }
}

/// The run's words: the common ones first (most frequent), then made-up ones.
fn vocabulary(rng: &mut Rng) -> Vec<String> {
    let mut words: Vec<String> = COMMON.iter().map(|w| w.to_string()).collect();
    while words.len() < VOCABULARY {
        let syllables = 2 + rng.below(3);
        let w: String = (0..syllables).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

/// A note of 8–60 words and 0–3 tags.
fn note(rng: &mut Rng, words: &[String]) -> Value {
    let n = 8 + rng.below(53);
    let text: Vec<&str> = (0..n).map(|_| words[rng.zipf(words.len())].as_str()).collect();
    let tags: Vec<String> = (0..rng.below(4)).map(|_| format!("area-{}", rng.below(40))).collect();
    json!({"text": text.join(" "), "tags": tags})
}

/// A query of 1–3 words, drawn like the notes' words.
fn query(rng: &mut Rng, words: &[String]) -> String {
    let n = 1 + rng.below(3);
    (0..n).map(|_| words[rng.zipf(words.len())].as_str()).collect::<Vec<_>>().join(" ")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs the plan: fills one mesh with `memories` notes, then runs `queries` recalls one after another.
pub(crate) async fn run(plan: RecallPlan) -> Result<RecallReport, BenchError> {
    let target = match &plan.broker {
        Some(url) => Target::Remote(url.clone()),
        None => Target::Spawned(Box::new(
            SpawnedBroker::start_with(&["--request-rate", "1000000", "--request-burst", "1000000"]).await?,
        )),
    };
    let members = mesh::assemble(target.url(), INSERTERS).await?;
    let mut rng = Rng(plan.seed);
    let words = vocabulary(&mut rng);
    let started = Instant::now();
    let share = plan.memories.div_ceil(INSERTERS as u64);
    let tasks: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let count = share.min(plan.memories.saturating_sub(share * i as u64));
            let words = words.clone();
            let seed = plan.seed ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
            tokio::spawn(insert(m.session, count, words, seed))
        })
        .collect();
    let mut sessions = Vec::new();
    let mut remember_errors = 0;
    for t in tasks {
        match t.await {
            Ok((s, errors)) => {
                remember_errors += errors;
                sessions.push(s);
            }
            Err(_) => remember_errors += share,
        }
    }
    let insert_s = started.elapsed().as_secs_f64();
    let mut report = RecallReport {
        memories: plan.memories,
        remember_errors,
        insert_s,
        insert_rate: if insert_s > 0.0 { plan.memories as f64 / insert_s } else { 0.0 },
        queries: plan.queries,
        recall_errors: 0,
        mean_hits: 0.0,
        empty: 0,
        recall: None,
        target_p99_ms: TARGET_P99_MS,
        target_met: false,
    };
    if let Some(s) = sessions.first_mut() {
        let mut lat = Vec::new();
        let mut hits = 0u64;
        for _ in 0..plan.queries {
            let q = query(&mut rng, &words);
            let t = Instant::now();
            match s.call::<_, Value>(cmethod::MEMORY_RECALL, &json!({ "query": q })).await {
                Ok(v) => {
                    lat.push(micros(t.elapsed()));
                    let n = v["memories"].as_array().map_or(0, Vec::len) as u64;
                    hits += n;
                    report.empty += u64::from(n == 0);
                }
                Err(_) => report.recall_errors += 1,
            }
        }
        report.mean_hits = if lat.is_empty() { 0.0 } else { hits as f64 / lat.len() as f64 };
        report.recall = stats::summarize(&mut lat);
    }
    report.target_met = report.recall.as_ref().is_some_and(|r| r.p99_ms < TARGET_P99_MS)
        && report.recall_errors == 0
        && report.remember_errors == 0;
    if let Target::Spawned(b) = target {
        b.stop().await;
    }
    Ok(report)
}

/// Remembers `count` generated notes on one connection, `WINDOW` in flight. Returns the session and the errors.
async fn insert(mut s: MeshSession, count: u64, words: Vec<String>, seed: u64) -> (MeshSession, u64) {
    let mut rng = Rng(seed);
    let mut inflight = FuturesUnordered::new();
    let (mut sent, mut errors) = (0u64, 0u64);
    while sent < count || !inflight.is_empty() {
        while sent < count && inflight.len() < WINDOW {
            match s.start_call(cmethod::MEMORY_REMEMBER, &note(&mut rng, &words)) {
                Ok(p) => inflight.push(p.wait()),
                Err(_) => errors += 1,
            }
            sent += 1;
        }
        if let Some(r) = inflight.next().await
            && r.is_err()
        {
            errors += 1;
        }
    }
    (s, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_text_is_varied_and_common_words_are_frequent() {
        let mut rng = Rng(7);
        let words = vocabulary(&mut rng);
        assert_eq!(words.len(), VOCABULARY);
        let notes: Vec<String> =
            (0..200).map(|_| note(&mut rng, &words)["text"].as_str().unwrap_or("").to_string()).collect();
        let distinct: std::collections::HashSet<&str> = notes.iter().flat_map(|n| n.split(' ')).collect();
        assert!(distinct.len() > 500, "{}", distinct.len());
        let deploy = notes.iter().filter(|n| n.split(' ').any(|w| w == "deploy")).count();
        assert!(deploy > 20, "the most common word appears often: {deploy}");
    }
}
