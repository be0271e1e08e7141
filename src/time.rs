//! Time: the clock in the forms the records and the store keep (seconds since the epoch, RFC
//! 3339), and the deadlines of one invocation, computed once from the runtime's.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat as Format};

/// Time kept back from the invocation's deadline for the writes after the provider calls: a
/// tenth of the time left, within these bounds (writes take tens of milliseconds; a 3 s
/// function still gets its provider call).
const WRITE_RESERVE: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(3));

/// Time kept at the very end of the invocation for its answer (the response and the metrics
/// line): the writes end before it.
const ANSWER_TIME: Duration = Duration::from_millis(50);

/// No object is started with less time than this left before the provider deadline.
pub const START_MARGIN: Duration = Duration::from_secs(2);

/// The deadlines of one invocation. Provider calls end by `providers`; the writes after
/// them end by `writes`, which is later by the write reserve less the answer's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// No provider call starts after this, and none runs past it.
    pub providers: Instant,
    /// The tags and the record are written by this.
    pub writes: Instant,
}

impl Deadlines {
    /// The deadlines of an invocation that ends at `deadline`.
    pub fn of_invocation(deadline: Instant) -> Deadlines {
        let left = deadline.saturating_duration_since(Instant::now());
        let reserve = (left / 10).clamp(WRITE_RESERVE.0, WRITE_RESERVE.1);
        let providers = deadline.checked_sub(reserve).unwrap_or(deadline);
        let writes = deadline.checked_sub(ANSWER_TIME).unwrap_or(deadline);
        Deadlines {
            providers,
            writes: writes.max(providers),
        }
    }

    /// The deadlines of an object given `time` in all: a terminal command's.
    pub fn within(time: Duration) -> Deadlines {
        Deadlines::of_invocation(Instant::now() + time)
    }
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

/// Seconds since the Unix epoch at `time`.
pub fn epoch_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Seconds since the Unix epoch, now.
pub fn epoch_now() -> u64 {
    epoch_secs(SystemTime::now())
}

/// The current time in RFC 3339 (UTC, milliseconds).
pub fn now_rfc3339() -> String {
    DateTime::from(SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A time in seconds since the Unix epoch, in RFC 3339 (UTC).
pub fn rfc3339(secs: u64) -> String {
    DateTime::from_secs(secs as i64)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(i: Instant) -> u128 {
        i.saturating_duration_since(Instant::now()).as_millis()
    }

    #[test]
    fn deadlines_are_epoch_milliseconds_or_a_timeout() {
        let now_ms = epoch_now() * 1000;
        assert!((58_000..=60_000).contains(&left(deadline_instant(now_ms + 60_000))));
        assert_eq!(
            left(deadline_instant(now_ms - 5_000)),
            0,
            "a past deadline leaves no time"
        );
        assert!((599_000..=600_000).contains(&left(deadline_instant(600_000))));
    }

    #[test]
    fn the_writes_get_the_reserve_and_the_answer_the_last_moment() {
        // A 60 s invocation: a tenth of it, 6 s, is over the largest reserve, 3 s.
        let long = Deadlines::of_invocation(Instant::now() + Duration::from_secs(60));
        assert!((56_900..=57_000).contains(&left(long.providers)));
        assert!((59_900..=59_950).contains(&left(long.writes)));
        // A 3 s invocation keeps the smallest reserve, 500 ms, of which the writes get 450.
        let short = Deadlines::of_invocation(Instant::now() + Duration::from_secs(3));
        let writes = short.writes.duration_since(short.providers).as_millis();
        assert_eq!(writes, 450);
        // No time left: no time for either, and the writes never end before the providers.
        let none = Deadlines::of_invocation(Instant::now());
        assert!(none.writes >= none.providers);
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(1_764_633_600), "2025-12-02T00:00:00Z");
        let now = now_rfc3339();
        let parsed = DateTime::from_str(&now, Format::DateTime).unwrap();
        let age = SystemTime::now()
            .duration_since(SystemTime::try_from(parsed).unwrap())
            .unwrap();
        assert!(age.as_secs() < 5, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
