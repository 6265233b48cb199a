//! A token bucket: bursts are fine, a sustained rate is not. The server
//! limits each client with it, and a bot can pace itself with the same
//! arithmetic to the limits a server announces in its welcome.

use std::time::{Duration, Instant};

use crate::protocol::Limits;

/// Holds up to `burst` tokens, refilled at `per_sec`; each message takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: f64,
    per_sec: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: u32, per_sec: f64) -> Self {
        Self {
            burst: f64::from(burst),
            per_sec,
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// A bucket for the limits a server announced; `None` when it has none.
    pub fn for_limits(limits: &Limits) -> Option<Self> {
        (limits.rate_per_sec > 0 && limits.burst > 0)
            .then(|| Self::new(limits.burst, f64::from(limits.rate_per_sec)))
    }

    /// Tokens a second.
    pub fn per_sec(&self) -> f64 {
        self.per_sec
    }

    /// Takes a token at time `now`; `false` when the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.per_sec;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long after the last [`take`](Self::take) the bucket holds a
    /// whole token again (zero when it does already).
    pub fn until_next(&self) -> Duration {
        if self.tokens >= 1.0 || self.per_sec <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let mut bucket = TokenBucket::new(3, 2.0);
        let t0 = Instant::now();
        assert!((0..3).all(|_| bucket.take(t0)));
        assert!(!bucket.take(t0));
        assert!(bucket.take(t0 + Duration::from_millis(500)));
        assert!(!bucket.take(t0 + Duration::from_millis(600)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.take(later)));
        assert!(!bucket.take(later));
        assert_eq!(bucket.until_next(), Duration::from_millis(500));
        assert!(bucket.take(later + bucket.until_next()));
    }

    #[test]
    fn no_announced_limit_means_no_bucket() {
        let limits = Limits {
            max_rooms: 0,
            max_line: 8192,
            max_name: 32,
            rate_per_sec: 0,
            burst: 0,
        };
        assert!(TokenBucket::for_limits(&limits).is_none());
    }
}
