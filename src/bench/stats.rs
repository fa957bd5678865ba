//! Latency summaries: nearest-rank percentiles over recorded samples (microseconds in, milliseconds out).

use serde::Serialize;

/// p50/p95/p99/max of one measure, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Summary {
    pub n: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Summarises samples given in microseconds; `None` when there are none. Sorts `samples` in place.
pub(crate) fn summarize(samples: &mut [u64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let n = samples.len();
    let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
    let ms = |us: u64| us as f64 / 1000.0;
    Some(Summary {
        n: n as u64,
        p50_ms: ms(nearest_rank(samples, 50.0)),
        p95_ms: ms(nearest_rank(samples, 95.0)),
        p99_ms: ms(nearest_rank(samples, 99.0)),
        max_ms: ms(samples[n - 1]),
        mean_ms: sum as f64 / n as f64 / 1000.0,
    })
}

/// The smallest sample with at least `p` percent of the samples at or below it (`sorted` is not empty).
fn nearest_rank(sorted: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut samples: Vec<u64> = (1..=100).rev().map(|i| i * 1000).collect();
        let s = summarize(&mut samples).unwrap();
        assert_eq!((s.n, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms), (100, 50.0, 95.0, 99.0, 100.0));
        assert!((s.mean_ms - 50.5).abs() < 1e-9);
    }

    #[test]
    fn one_sample_is_every_percentile_and_none_is_nothing() {
        let s = summarize(&mut [1500]).unwrap();
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (1.5, 1.5, 1.5));
        assert_eq!(summarize(&mut []), None);
    }
}
