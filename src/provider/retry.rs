//! Retry with exponential backoff and full jitter, bounded by attempts and a deadline.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use super::ProviderError;

/// How often and how patiently a provider call is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Upper bound of the first backoff; doubles with each attempt.
    pub base: Duration,
    /// Upper bound of any backoff; a `Retry-After` longer than this ends the retries.
    pub cap: Duration,
    /// Least time an attempt needs; none starts with less left before the deadline.
    pub min_attempt: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(20),
            min_attempt: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: the server's `Retry-After` when it gave one,
    /// otherwise a random duration up to `base × 2^(attempt-1)` ("full jitter").
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait;
        }
        let ceiling = self
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        let random = RandomState::new().hash_one((attempt, Instant::now()));
        ceiling.mul_f64((random % 10_000) as f64 / 10_000.0)
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts, or the next
    /// attempt could not finish before `deadline`. Each call gets the time it may take.
    pub async fn run<T, F, Fut>(
        &self,
        deadline: Instant,
        mut attempt: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let budget = deadline.saturating_duration_since(Instant::now());
            if budget < self.min_attempt {
                return Err(ProviderError::transient(
                    "not enough time left in this invocation for a provider call",
                ));
            }
            let err = match attempt(budget).await {
                Ok(value) => return Ok(value),
                Err(err @ ProviderError::Transient { .. }) => err,
                Err(err) => return Err(err),
            };
            let ProviderError::Transient { retry_after, .. } = &err else {
                unreachable!()
            };
            let wait = self.backoff(tries, *retry_after);
            let left_after_wait = deadline.saturating_duration_since(Instant::now() + wait);
            if tries >= self.max_attempts || wait > self.cap || left_after_wait < self.min_attempt {
                return Err(err);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(4),
            cap: Duration::from_millis(50),
            min_attempt: Duration::from_millis(10),
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..=10 {
            let ceiling = (p.base * 2u32.pow(attempt - 1)).min(p.cap);
            assert!(p.backoff(attempt, None) <= ceiling);
        }
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(3600)
        );
    }

    #[tokio::test]
    async fn retries_transient_errors_until_success() {
        let calls = Cell::new(0);
        let result = fast()
            .run(Instant::now() + Duration::from_secs(5), |_| {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(ProviderError::transient("busy"))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn stops_after_max_attempts() {
        let calls = Cell::new(0);
        let result: Result<(), _> = fast()
            .run(Instant::now() + Duration::from_secs(5), |_| {
                calls.set(calls.get() + 1);
                async { Err(ProviderError::transient("busy")) }
            })
            .await;
        assert_eq!(result, Err(ProviderError::transient("busy")));
        assert_eq!(calls.get(), 4);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), _> = fast()
            .run(Instant::now() + Duration::from_secs(5), |_| {
                calls.set(calls.get() + 1);
                async { Err(ProviderError::Permanent("bad key".into())) }
            })
            .await;
        assert_eq!(result, Err(ProviderError::Permanent("bad key".into())));
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn never_waits_past_the_deadline() {
        let calls = Cell::new(0);
        let started = Instant::now();
        let result: Result<(), _> = fast()
            .run(started + Duration::from_millis(200), |_| {
                calls.set(calls.get() + 1);
                async {
                    Err(ProviderError::Transient {
                        message: "slow down".into(),
                        retry_after: Some(Duration::from_millis(150)),
                    })
                }
            })
            .await;
        assert!(matches!(result, Err(ProviderError::Transient { .. })));
        assert_eq!(
            calls.get(),
            1,
            "a 150 ms Retry-After leaves too little of a 200 ms budget"
        );
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "it did not sleep"
        );
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_cap_ends_the_retries() {
        let calls = Cell::new(0);
        let result: Result<(), _> = fast()
            .run(Instant::now() + Duration::from_secs(60), |_| {
                calls.set(calls.get() + 1);
                async {
                    Err(ProviderError::Transient {
                        message: "slow down".into(),
                        retry_after: Some(Duration::from_secs(30)),
                    })
                }
            })
            .await;
        assert!(matches!(result, Err(ProviderError::Transient { .. })));
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn no_attempt_starts_without_time_left() {
        let calls = Cell::new(0);
        let result: Result<(), _> = fast()
            .run(Instant::now() + Duration::from_millis(5), |_| {
                calls.set(calls.get() + 1);
                async { Ok(()) }
            })
            .await;
        assert!(matches!(result, Err(ProviderError::Transient { .. })));
        assert_eq!(calls.get(), 0);
    }
}
