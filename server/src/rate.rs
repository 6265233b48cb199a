//! Flood protection per client: `chat-core`'s token bucket, plus strikes
//! that tell a sustained flood from a burst.

use std::time::Instant;

use chat_core::rate::TokenBucket;

use crate::config::RateLimit;

/// What the guard says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: relay it.
    Pass,
    /// Over the rate: refuse it.
    SlowDown,
    /// Over the rate for long enough to count as abuse: disconnect.
    Flooding,
}

/// A token bucket whose refused messages add strikes that drain at the same
/// rate. A client that keeps sending well over the rate piles them up to the
/// flood limit even if the odd message gets through; one that is only
/// sometimes too fast never does.
#[derive(Debug, Clone)]
pub struct FloodGuard {
    bucket: TokenBucket,
    strikes: f64,
    last: Option<Instant>,
}

impl FloodGuard {
    /// A full bucket and no strikes.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            bucket: TokenBucket::new(limit.burst, limit.per_sec),
            strikes: 0.0,
            last: None,
        }
    }

    /// Judges a message at time `now`, with `flood_limit` strikes meaning abuse.
    pub fn check(&mut self, now: Instant, flood_limit: u32) -> Verdict {
        if let Some(last) = self.last {
            let drained = now.saturating_duration_since(last).as_secs_f64() * self.bucket.per_sec();
            self.strikes = (self.strikes - drained).max(0.0);
        }
        self.last = Some(now);
        if self.bucket.take(now) {
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
        let mut flood = FloodGuard::new(limit);
        let t0 = Instant::now();
        let verdicts: Vec<_> = (0..200)
            .map(|i| flood.check(t0 + Duration::from_millis(5 * i), 50))
            .collect();
        let first = verdicts.iter().position(|v| *v == Verdict::Flooding);
        assert!(first.is_some_and(|i| i < 100), "{first:?}");
        assert!(verdicts.contains(&Verdict::Pass));

        // Eight a second, for a minute: slowed now and then, never dropped.
        let mut eager = FloodGuard::new(limit);
        for i in 0..480 {
            let verdict = eager.check(t0 + Duration::from_millis(125 * i), 50);
            assert_ne!(verdict, Verdict::Flooding, "message {i}");
        }
    }
}
