//! What the user lets the function spend: a pause of a provider that cannot work
//! (`ALT_TEXT_PAUSE_SECS`), and a budget of paid calls per day or month (`ALT_TEXT_BUDGET`,
//! `ALT_TEXT_OVER_BUDGET`). The periods are UTC days and months.

use std::time::Duration;

use crate::env::{ConfigError, Env};
use crate::store::Period;

/// How long a provider is paused by default: long enough for someone to top up, short
/// enough that a top-up shows without a redeploy.
pub const DEFAULT_PAUSE_SECS: u64 = 900;

/// The spend settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendSettings {
    /// How long a provider is paused when it is out of credits or its key is refused
    /// (`ALT_TEXT_PAUSE_SECS`; 0 pauses none).
    pub pause: Duration,
    /// Paid calls allowed per period (`ALT_TEXT_BUDGET`).
    pub budget: Option<Budget>,
    /// What happens to an object when the budget is spent (`ALT_TEXT_OVER_BUDGET`).
    pub over_budget: OverBudget,
}

impl Default for SpendSettings {
    fn default() -> SpendSettings {
        SpendSettings {
            pause: Duration::from_secs(DEFAULT_PAUSE_SECS),
            budget: None,
            over_budget: OverBudget::Retry,
        }
    }
}

impl SpendSettings {
    pub fn from_env(env: &Env) -> Result<SpendSettings, ConfigError> {
        let pause = Duration::from_secs(env.number(
            "ALT_TEXT_PAUSE_SECS",
            DEFAULT_PAUSE_SECS,
            0,
            86_400,
        )?);
        let budget = match env.get("ALT_TEXT_BUDGET") {
            None => None,
            Some(raw) => {
                Some(Budget::parse(&raw).map_err(|r| ConfigError::invalid("ALT_TEXT_BUDGET", r))?)
            }
        };
        let over_budget = match env.get("ALT_TEXT_OVER_BUDGET").as_deref() {
            None | Some("retry") => OverBudget::Retry,
            Some("skip") => OverBudget::Skip,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "ALT_TEXT_OVER_BUDGET",
                    format!("{other:?} is not retry or skip"),
                ));
            }
        };
        Ok(SpendSettings {
            pause,
            budget,
            over_budget,
        })
    }
}

/// An object that finds the budget spent ends retryable (captioned in a later period, by a
/// redelivery or `replay`), or skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    Retry,
    Skip,
}

/// Paid calls allowed per UTC day or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub per: Per,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Day,
    Month,
}

impl Budget {
    /// `500/day`, `20000/month`.
    pub fn parse(raw: &str) -> Result<Budget, String> {
        let usage = || format!("{raw:?} is not a budget such as 500/day or 20000/month");
        let (limit, per) = raw.split_once('/').ok_or_else(usage)?;
        let limit: u64 = limit.trim().replace('_', "").parse().map_err(|_| usage())?;
        if limit == 0 {
            return Err(format!(
                "{raw:?} allows no call: leave ALT_TEXT_BUDGET unset, or allow at least one"
            ));
        }
        let per = match per.trim() {
            "day" => Per::Day,
            "month" => Per::Month,
            _ => return Err(usage()),
        };
        Ok(Budget { limit, per })
    }

    /// The period holding `now` (seconds since the Unix epoch).
    pub fn period(&self, now: u64) -> Period {
        let days = now / 86_400;
        let (year, month, day) = civil_from_days(days);
        let (name, ends) = match self.per {
            Per::Day => (
                format!("day {year:04}-{month:02}-{day:02}"),
                (days + 1) * 86_400,
            ),
            Per::Month => {
                let (next_year, next_month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                (
                    format!("month {year:04}-{month:02}"),
                    days_from_civil(next_year, next_month, 1) * 86_400,
                )
            }
        };
        Period {
            name,
            limit: self.limit,
            ends,
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per = match self.per {
            Per::Day => "day",
            Per::Month => "month",
        };
        write!(f, "{}/{per}", self.limit)
    }
}

/// Year, month, day of a count of days since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a date (the inverse of [`civil_from_days`]).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::rfc3339;

    #[test]
    fn budgets_are_parsed() {
        assert_eq!(
            Budget::parse("500/day"),
            Ok(Budget {
                limit: 500,
                per: Per::Day
            })
        );
        assert_eq!(Budget::parse("20_000 / month").unwrap().limit, 20_000);
        for bad in ["500", "500/week", "lots/day", "/day", "0/day"] {
            assert!(Budget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_are_utc_days_and_months() {
        // 2026-12-02T11:28:16Z
        let now = 1_796_210_896;
        let day = Budget::parse("5/day").unwrap().period(now);
        assert_eq!(day.name, "day 2026-12-02");
        assert_eq!(rfc3339(day.ends), "2026-12-03T00:00:00Z");
        let month = Budget::parse("5/month").unwrap().period(now);
        assert_eq!(month.name, "month 2026-12");
        assert_eq!(rfc3339(month.ends), "2027-01-01T00:00:00Z");
        let feb = Budget::parse("5/month").unwrap().period(1_835_000_000);
        assert_eq!(feb.name, "month 2028-02");
        assert_eq!(rfc3339(feb.ends), "2028-03-01T00:00:00Z");
    }
}
