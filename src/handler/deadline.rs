//! Time: the invocation's deadline as the runtime gives it, and what is kept back from it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time kept back from the invocation's deadline for writing results: a tenth of the time
/// left, within these bounds (writes take tens of milliseconds; a 3 s function still gets
/// its provider call).
const WRITE_RESERVE: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(3));

/// No object is started with less time than this left before the provider deadline.
pub const START_MARGIN: Duration = Duration::from_secs(2);

/// The deadline of provider calls: the invocation's, less the write reserve.
pub fn for_providers(deadline: Instant) -> Instant {
    let left = deadline.saturating_duration_since(Instant::now());
    let reserve = (left / 10).clamp(WRITE_RESERVE.0, WRITE_RESERVE.1);
    deadline.checked_sub(reserve).unwrap_or(deadline)
}

/// Converts the runtime's `Lambda-Runtime-Deadline-Ms` into an `Instant`.
///
/// Lambda sends milliseconds since the epoch. Some local emulators send the timeout itself
/// (e.g. `600000`); a value too small to be a date is read that way.
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    if deadline_ms < YEAR_2001_MS {
        return Instant::now() + Duration::from_millis(deadline_ms);
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    Instant::now()
        + deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_epoch_milliseconds_or_a_timeout() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = |i: Instant| i.saturating_duration_since(Instant::now()).as_millis();
        assert!((59_000..=60_000).contains(&left(deadline_instant(now_ms + 60_000))));
        assert_eq!(
            left(deadline_instant(now_ms - 5_000)),
            0,
            "a past deadline leaves no time"
        );
        assert!((599_000..=600_000).contains(&left(deadline_instant(600_000))));
    }
}
