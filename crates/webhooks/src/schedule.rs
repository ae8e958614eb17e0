//! The retry schedule: a pure function of how many attempts were made, a jitter sample and
//! the receiver's `Retry-After`. Eight attempts over about 32 hours, then `failed`; the last
//! comes at least [`MIN_RETRY_WINDOW`] after the first whatever the jitter draws.

use std::time::Duration;

/// A uniform sample in `[0, 1)`. Tests fix it; the server draws it from the OS.
pub trait Jitter: Send + Sync {
    fn sample(&self) -> f64;
}

/// Random jitter from the operating system's generator.
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn sample(&self) -> f64 {
        // 53 random bits: every f64 in [0, 1) with that spacing.
        getrandom::u64().map_or(0.5, |n| (n >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// The same sample every time (0.5 means "no jitter").
pub struct FixedJitter(pub f64);

impl Jitter for FixedJitter {
    fn sample(&self) -> f64 {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    /// Delay after attempt 1, 2, ...; no entry means no further attempt.
    pub delays: Vec<Duration>,
    /// Relative spread: 0.2 spreads a delay over ±20 %.
    pub spread: f64,
    /// A `Retry-After` longer than this is capped, so one answer cannot park a delivery.
    pub max_retry_after: Duration,
}

const MIN: u64 = 60;
const HOUR: u64 = 3600;

/// The least time between a delivery's first and last attempt: a receiver down for a day
/// still gets its events. The default schedule keeps it at the largest negative jitter.
pub const MIN_RETRY_WINDOW: Duration = Duration::from_secs(24 * HOUR);

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule {
            delays: [
                5,
                5 * MIN,
                30 * MIN,
                2 * HOUR,
                5 * HOUR,
                10 * HOUR,
                // Not 10 h: the delays total 27.6 h, and at -20 % on every draw 22 h.
                14 * HOUR,
            ]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
            spread: 0.2,
            max_retry_after: Duration::from_secs(10 * HOUR),
        }
    }
}

impl RetrySchedule {
    /// Attempts in all, the first one included.
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// How long to wait after `attempts_made` failed attempts; `None` when none is left.
    /// A `Retry-After` (429, 503) is honoured: the wait is never shorter than it asks.
    pub fn next_delay(
        &self,
        attempts_made: u32,
        jitter: f64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = *self.delays.get(attempts_made.checked_sub(1)? as usize)?;
        let factor = 1.0 + self.spread * (2.0 * jitter.clamp(0.0, 1.0) - 1.0);
        let delay = base.mul_f64(factor.max(0.0));
        Some(match retry_after {
            Some(ra) => delay.max(ra.min(self.max_retry_after)),
            None => delay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_attempts_over_more_than_a_day() {
        let s = RetrySchedule::default();
        let mid: Vec<u64> = (1..=7)
            .map(|n| s.next_delay(n, 0.5, None).unwrap().as_secs())
            .collect();
        assert_eq!(mid, vec![5, 300, 1800, 7200, 18000, 36000, 50400]);
        assert_eq!(s.next_delay(8, 0.5, None), None);
        assert_eq!(s.next_delay(0, 0.5, None), None);
        assert_eq!(s.max_attempts(), 8);
        assert!(mid.iter().sum::<u64>() > 24 * 3600);
    }

    proptest::proptest! {
        /// Whatever each retry draws, the last attempt is at least a day after the first
        /// (and a `Retry-After` only ever lengthens the wait).
        #[test]
        fn the_last_attempt_is_a_day_after_the_first_at_any_jitter(
            draws in proptest::collection::vec(0.0f64..=1.0, 7),
            retry_after in proptest::option::of(0u64..=20 * HOUR),
        ) {
            let s = RetrySchedule::default();
            let mut plain = Duration::ZERO;
            let mut honoured = Duration::ZERO;
            for (n, j) in (1..).zip(&draws) {
                plain += s.next_delay(n, *j, None).expect("an attempt is left");
                honoured += s
                    .next_delay(n, *j, retry_after.map(Duration::from_secs))
                    .expect("an attempt is left");
            }
            proptest::prop_assert_eq!(s.next_delay(8, draws[0], None), None);
            proptest::prop_assert!(plain >= MIN_RETRY_WINDOW, "{:?}", plain);
            proptest::prop_assert!(honoured >= plain);
        }
    }

    #[test]
    fn the_retry_window_holds_at_both_ends_of_the_jitter() {
        let s = RetrySchedule::default();
        let total =
            |j: f64| -> Duration { (1..=7).map(|n| s.next_delay(n, j, None).unwrap()).sum() };
        assert!(total(0.0) >= MIN_RETRY_WINDOW, "{:?}", total(0.0));
        assert!(
            total(1.0) < Duration::from_secs(40 * HOUR),
            "{:?}",
            total(1.0)
        );
    }

    #[test]
    fn jitter_spreads_within_bounds() {
        let s = RetrySchedule::default();
        assert_eq!(s.next_delay(2, 0.0, None).unwrap().as_secs(), 240);
        assert_eq!(s.next_delay(2, 1.0, None).unwrap().as_secs(), 360);
        let r = RandomJitter.sample();
        assert!((0.0..1.0).contains(&r));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let s = RetrySchedule::default();
        let d = |secs| Some(Duration::from_secs(secs));
        assert_eq!(s.next_delay(1, 0.5, d(120)), d(120));
        assert_eq!(
            s.next_delay(2, 0.5, d(1)),
            d(300),
            "never sooner than the schedule"
        );
        assert_eq!(s.next_delay(1, 0.5, d(99 * HOUR)), d(10 * HOUR));
        assert_eq!(
            s.next_delay(8, 0.5, d(1)),
            None,
            "no attempt left is no attempt left"
        );
    }
}
