//! Token bucket used for per-connection request and send limits. Pure: time is passed in.

use std::time::Instant;

#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(capacity: u64, per_sec: u64, now: Instant) -> Self {
        Self { capacity: capacity as f64, per_sec: per_sec as f64, tokens: capacity as f64, last: now }
    }

    /// Takes `n` tokens if available; otherwise returns how long until they would be.
    pub(crate) fn take(&mut self, n: u64, now: Instant) -> Result<(), std::time::Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
        let n = n as f64;
        if self.tokens >= n {
            self.tokens -= n;
            Ok(())
        } else {
            let missing = n - self.tokens;
            Err(std::time::Duration::from_secs_f64(if self.per_sec > 0.0 { missing / self.per_sec } else { 60.0 }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, 10, t0);
        assert!(b.take(1, t0).is_ok());
        assert!(b.take(2, t0).is_ok());
        let wait = b.take(1, t0).unwrap_err();
        assert!(wait <= Duration::from_millis(101) && wait >= Duration::from_millis(99));
        assert!(b.take(1, t0 + Duration::from_millis(100)).is_ok());
        assert!(b.take(5, t0 + Duration::from_secs(100)).is_err(), "never above capacity");
    }
}
