//! A token bucket per client: bursts are fine, a sustained flood is not.

use std::time::Instant;

use crate::config::RateLimit;

/// What the bucket says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: relay it.
    Pass,
    /// Over the rate: refuse it.
    SlowDown,
    /// Over the rate for long enough to count as abuse: disconnect.
    Flooding,
}

/// Holds up to `burst` tokens, refilled at `per_sec`; each message takes one.
///
/// Refused messages add strikes that drain at the same rate. A client that
/// keeps sending well over the rate piles them up to the flood limit even if
/// the odd message gets through; one that is only sometimes too fast never
/// does.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    strikes: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.burst),
            strikes: 0.0,
            last: None,
        }
    }

    /// Judges a message at time `now`, with `flood_limit` strikes meaning abuse.
    pub fn check(&mut self, now: Instant, flood_limit: u32) -> Verdict {
        if self.take(now) {
            return Verdict::Pass;
        }
        self.strikes += 1.0;
        // "More than limit − 1" so that exactly `flood_limit` quick refusals
        // count, whatever drained between them.
        if self.strikes > f64::from(flood_limit) - 1.0 {
            Verdict::Flooding
        } else {
            Verdict::SlowDown
        }
    }

    /// Takes a token at time `now`; `false` when the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.limit.per_sec;
            self.tokens = (self.tokens + refill).min(f64::from(self.limit.burst));
            self.strikes = (self.strikes - refill).max(0.0);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sustained_flooding_is_caught_even_when_some_messages_pass() {
        let limit = RateLimit {
            burst: 10,
            per_sec: 5.0,
        };
        // 200 messages a second: a few pass as tokens refill, most do not.
        let mut flood = TokenBucket::new(limit);
        let t0 = Instant::now();
        let verdicts: Vec<_> = (0..200)
            .map(|i| flood.check(t0 + Duration::from_millis(5 * i), 50))
            .collect();
        let first = verdicts.iter().position(|v| *v == Verdict::Flooding);
        assert!(first.is_some_and(|i| i < 100), "{first:?}");
        assert!(verdicts.contains(&Verdict::Pass));

        // Eight a second, for a minute: slowed now and then, never dropped.
        let mut eager = TokenBucket::new(limit);
        for i in 0..480 {
            let verdict = eager.check(t0 + Duration::from_millis(125 * i), 50);
            assert_ne!(verdict, Verdict::Flooding, "message {i}");
        }
    }

    #[test]
    fn burst_then_steady_rate() {
        let mut bucket = TokenBucket::new(RateLimit {
            burst: 3,
            per_sec: 2.0,
        });
        let t0 = Instant::now();
        assert!((0..3).all(|_| bucket.take(t0)));
        assert!(!bucket.take(t0));
        assert!(bucket.take(t0 + Duration::from_millis(500)));
        assert!(!bucket.take(t0 + Duration::from_millis(600)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| bucket.take(later)));
        assert!(!bucket.take(later));
    }
}
