//! When to try a failed webhook delivery again (PROTOCOLS.md 6.2).

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

/// Delay before each attempt: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
/// 20 h, 24 h. Ten attempts spread over about three days, the sender's retry horizon
/// that receivers size their idempotency stores for.
pub const RETRY_SCHEDULE: [Duration; 10] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(5 * HOUR),
    Duration::from_secs(10 * HOUR),
    Duration::from_secs(14 * HOUR),
    Duration::from_secs(20 * HOUR),
    Duration::from_secs(24 * HOUR),
];

/// How many attempts are made in total before giving up.
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32;

/// Largest jitter, as a fraction of the delay (±10 %).
pub const JITTER_FRACTION: f64 = 0.10;

/// A `Retry-After` longer than this is treated as this long, so a misbehaving
/// receiver cannot park a message beyond the retry horizon with one header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * HOUR);

/// A jitter factor in `[-1.0, 1.0]`, scaled by [`JITTER_FRACTION`].
///
/// Jitter spreads the retries of many messages that failed together (an endpoint
/// outage) so they do not all hit the endpoint again in the same second. It is a
/// parameter of [`next_retry_delay`] so that the schedule itself stays a pure,
/// testable function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jitter(f64);

impl Jitter {
    /// No jitter: the exact schedule.
    pub const NONE: Jitter = Jitter(0.0);

    /// A fixed factor; values outside `[-1.0, 1.0]` are clamped and NaN counts as 0.
    pub fn new(factor: f64) -> Self {
        if factor.is_nan() {
            Self::NONE
        } else {
            Self(factor.clamp(-1.0, 1.0))
        }
    }

    /// A uniformly random factor, for production use.
    pub fn random() -> Self {
        use rand::Rng;
        Self(rand::rng().random_range(-1.0..=1.0))
    }

    /// The factor in `[-1.0, 1.0]`.
    pub fn factor(self) -> f64 {
        self.0
    }
}

/// How long to wait before the next attempt, or `None` to give up (then disable the
/// endpoint and notify its owner).
///
/// `attempts_made` counts the attempts already made for this message: `0` gives
/// [`Duration::ZERO`] (send now), `1` (the first attempt failed) gives 5 s, and so on
/// along [`RETRY_SCHEDULE`]; from [`MAX_ATTEMPTS`] on the answer is `None`.
///
/// The scheduled delay is scaled by `1 + 0.1 × jitter`. A `retry_after` (from the
/// receiver's `Retry-After` header, capped at [`MAX_RETRY_AFTER`]) is honoured when it
/// is longer than that; it is then only ever lengthened by the jitter, never shortened.
/// `retry_after` does not extend the schedule: after the last attempt the answer is
/// `None` regardless.
pub fn next_retry_delay(
    attempts_made: u32,
    retry_after: Option<Duration>,
    jitter: Jitter,
) -> Option<Duration> {
    let scheduled = *RETRY_SCHEDULE.get(usize::try_from(attempts_made).ok()?)?;
    let jittered = scheduled.mul_f64(1.0 + JITTER_FRACTION * jitter.0);
    match retry_after.map(|wanted| wanted.min(MAX_RETRY_AFTER)) {
        Some(wanted) if wanted > jittered => {
            Some(wanted.mul_f64(1.0 + JITTER_FRACTION * jitter.0.abs()))
        }
        _ => Some(jittered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let expected = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400];
        for (attempts, secs) in expected.iter().enumerate() {
            let attempts = u32::try_from(attempts).expect("small");
            assert_eq!(
                next_retry_delay(attempts, None, Jitter::NONE),
                Some(Duration::from_secs(*secs)),
                "after {attempts} attempts"
            );
        }
        assert_eq!(next_retry_delay(MAX_ATTEMPTS, None, Jitter::NONE), None);
        assert_eq!(next_retry_delay(u32::MAX, None, Jitter::NONE), None);
        assert_eq!(
            next_retry_delay(MAX_ATTEMPTS, Some(SECOND), Jitter::NONE),
            None
        );
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        assert_eq!(
            next_retry_delay(2, None, Jitter::new(1.0)),
            Some(Duration::from_secs(330))
        );
        assert_eq!(
            next_retry_delay(2, None, Jitter::new(-1.0)),
            Some(Duration::from_secs(270))
        );
        assert_eq!(
            next_retry_delay(2, None, Jitter::new(7.0)),
            Some(Duration::from_secs(330)),
            "clamped"
        );
        assert_eq!(
            next_retry_delay(2, None, Jitter::new(f64::NAN)),
            Some(300 * SECOND)
        );
        assert_eq!(
            next_retry_delay(0, None, Jitter::new(1.0)),
            Some(Duration::ZERO)
        );
        for _ in 0..200 {
            let delay = next_retry_delay(3, None, Jitter::random()).expect("scheduled");
            assert!(delay >= Duration::from_secs(1620) && delay <= Duration::from_secs(1980));
        }
    }

    #[test]
    fn longer_retry_after_wins() {
        assert_eq!(
            next_retry_delay(1, Some(60 * SECOND), Jitter::NONE),
            Some(60 * SECOND)
        );
        // Jitter only lengthens a Retry-After.
        assert_eq!(
            next_retry_delay(1, Some(60 * SECOND), Jitter::new(-1.0)),
            Some(66 * SECOND)
        );
        // A shorter Retry-After does not shorten the schedule.
        assert_eq!(
            next_retry_delay(2, Some(10 * SECOND), Jitter::NONE),
            Some(300 * SECOND)
        );
        // Absurd values are capped.
        assert_eq!(
            next_retry_delay(1, Some(Duration::from_secs(10_000_000)), Jitter::NONE),
            Some(MAX_RETRY_AFTER)
        );
    }
}
