//! What a load-test message says (sender, sequence number, send time) and the random choice of its target.

use std::fmt::Write;

/// A message body: who sent it, its place in the sender's sequence and when the send started (µs since the run's
/// epoch; every peer shares the harness's clock), padded with `x` to `size` bytes.
pub(crate) fn encode(sender: usize, seq: u64, sent_us: u64, size: usize) -> String {
    let mut body = String::with_capacity(size.max(48));
    let _ = write!(body, "bench {sender} {seq} {sent_us} ");
    while body.len() < size {
        body.push('x');
    }
    body
}

/// A decoded body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub sender: usize,
    pub seq: u64,
    pub sent_us: u64,
}

/// Reads a body written by `encode`; `None` for anything else.
pub(crate) fn decode(body: &str) -> Option<Stamp> {
    let mut words = body.split(' ');
    if words.next()? != "bench" {
        return None;
    }
    let sender = words.next()?.parse().ok()?;
    let seq = words.next()?.parse().ok()?;
    let sent_us = words.next()?.parse().ok()?;
    Some(Stamp { sender, seq, sent_us })
}

/// SplitMix64: a small, fast, well-distributed generator for picking targets (not for anything secret).
#[derive(Debug, Clone)]
pub(crate) struct Picker(u64);

impl Picker {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A peer index in `0..peers` other than `me` (`peers` ≥ 2).
    pub(crate) fn other_than(&mut self, me: usize, peers: usize) -> usize {
        let pick = (self.next_u64() % (peers.max(2) as u64 - 1)) as usize;
        if pick >= me { pick + 1 } else { pick }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_have_the_requested_size() {
        let body = encode(17, 42, 123_456, 200);
        assert_eq!(body.len(), 200);
        assert_eq!(decode(&body), Some(Stamp { sender: 17, seq: 42, sent_us: 123_456 }));
        assert_eq!(decode("hello there"), None);
        assert_eq!(decode("bench x 1 2 "), None);
    }

    #[test]
    fn targets_are_never_the_sender_and_cover_everyone_else() {
        let mut picker = Picker::new(7);
        let mut seen = [0u32; 5];
        for _ in 0..5000 {
            let t = picker.other_than(2, 5);
            assert_ne!(t, 2);
            seen[t] += 1;
        }
        assert!(seen.iter().enumerate().all(|(i, &n)| if i == 2 { n == 0 } else { n > 1000 }), "{seen:?}");
    }
}
