//! Job schedules: "every 15 minutes" or a cron expression (pure, no clock access).
//!
//! A schedule is written as text, for example in the TOML configuration
//! (`schedule = "15m"`), and parsed with [`Schedule::parse`]:
//!
//! - an **interval**: whole numbers with the units `s`, `m`, `h` and `d` (long forms such as
//!   `min`, `minutes`, `hours`, `days` work too), combined from largest to smallest:
//!   `"30s"`, `"15m"`, `"1h"`, `"2h30m"`, `"1d"`, `"90 minutes"`, `"1h 30m"`, an optional
//!   leading `every` (`"every 15m"`). It must be between [`MIN_INTERVAL`] and
//!   [`MAX_INTERVAL`];
//! - a **cron expression** with the standard five fields `minute hour day-of-month month
//!   day-of-week` (`"*/15 * * * *"`, `"0 6 * * 1-5"`, names like `MON` and `JAN`), or one of
//!   `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. Cron expressions are evaluated in
//!   **UTC**. As in Vixie cron, a day-of-month and a day-of-week that are both restricted
//!   match when either matches. Parsing and evaluation are done by the `croner` crate, whose
//!   extensions (`L`, `W`, `#`) are accepted as well.
//!
//! [`Schedule::next_after`] computes when a job is due next from the time it last started
//! and the current time, both passed in by the caller.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The shortest interval [`Schedule::parse`] accepts: one second.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest interval [`Schedule::parse`] accepts: 366 days.
pub const MAX_INTERVAL: Duration = Duration::from_secs(366 * DAY);

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The hint every "I can't read this" error ends with.
const HINT: &str = r#"expected an interval like "15m" or a cron expression like "*/15 * * * *""#;

/// Why a schedule's text was rejected. Every variant names the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The text was empty or only whitespace.
    #[error("empty schedule: {HINT}")]
    Empty,
    /// The text is neither an interval nor a cron expression.
    #[error("invalid schedule {input:?}: {reason}; {HINT}")]
    Invalid {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The interval adds up to zero.
    #[error("invalid schedule {input:?}: the interval is zero; the shortest interval is 1s")]
    ZeroInterval {
        /// The text as given.
        input: String,
    },
    /// The interval is longer than [`MAX_INTERVAL`].
    #[error("invalid schedule {input:?}: the interval is longer than the maximum of 366 days")]
    IntervalTooLong {
        /// The text as given.
        input: String,
    },
    /// The text looks like a cron expression but is not a valid one.
    #[error(
        "invalid cron expression {input:?}: {reason}; expected 5 fields \
         (minute hour day-of-month month day-of-week) like \"*/15 * * * *\" \
         or an interval like \"15m\""
    )]
    InvalidCron {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// When a job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A fixed interval between the starts of two runs.
    Every(Duration),
    /// A five-field cron expression, evaluated in UTC.
    Cron(CronSchedule),
}

/// A parsed five-field cron expression, evaluated in UTC.
///
/// Two values are equal when their text is.
#[derive(Clone)]
pub struct CronSchedule {
    /// The expression as written (trimmed).
    text: String,
    /// Boxed: the parsed pattern is large, and `Schedule` should stay small.
    cron: Box<Cron>,
}

impl CronSchedule {
    /// Parses a five-field cron expression or an `@hourly`-style nickname.
    pub fn parse(text: &str) -> Result<CronSchedule, ScheduleError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let invalid = |reason: String| ScheduleError::InvalidCron {
            input: text.to_owned(),
            reason,
        };
        let fields = text.split_whitespace().count();
        if !text.starts_with('@') && fields != 5 {
            return Err(invalid(format!("it has {fields} fields, not 5")));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|err| invalid(err.to_string().trim_end_matches('.').to_owned()))?;
        // A pattern like "0 0 31 2 *" parses but never fires. Such a pattern has no occurrence
        // after any instant (years are not part of the pattern), so one probe finds it.
        let probe = DateTime::<Utc>::UNIX_EPOCH;
        if cron.find_next_occurrence(&probe, false).is_err() {
            return Err(invalid("it never matches any date".to_owned()));
        }
        Ok(CronSchedule {
            text: text.to_owned(),
            cron: Box::new(cron),
        })
    }

    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time the expression matches strictly after `t` (UTC), or `None` when there is
    /// none the underlying crate can represent (beyond the year 5000).
    pub fn next_after(&self, t: SystemTime) -> Option<SystemTime> {
        let start = to_utc(t)?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        Some(SystemTime::from(next))
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for CronSchedule {}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronSchedule").field(&self.text).finish()
    }
}

impl fmt::Display for CronSchedule {
    /// Formats as ``cron `*/15 * * * *` (UTC)``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cron `{}` (UTC)", self.text)
    }
}

impl Schedule {
    /// Parses an interval (`"15m"`, `"2h30m"`, `"1d"`, `"90 minutes"`) or a five-field cron
    /// expression (`"*/15 * * * *"`, `"0 6 * * 1-5"`); see the [module docs](self).
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let input = || trimmed.to_owned();
        let interval_problem = match parse_interval(trimmed) {
            Ok(d) if d.is_zero() => return Err(ScheduleError::ZeroInterval { input: input() }),
            Ok(d) if d > MAX_INTERVAL => {
                return Err(ScheduleError::IntervalTooLong { input: input() });
            }
            Ok(d) => return Ok(Schedule::Every(d)),
            Err(IntervalError::TooLong) => {
                return Err(ScheduleError::IntervalTooLong { input: input() });
            }
            Err(IntervalError::Bad(reason)) => Some(reason),
            Err(IntervalError::NotAnInterval) => None,
        };
        match CronSchedule::parse(trimmed) {
            Ok(cron) => Ok(Schedule::Cron(cron)),
            Err(cron_err) if looks_like_cron(trimmed) => Err(cron_err),
            Err(_) => Err(ScheduleError::Invalid {
                input: input(),
                reason: interval_problem
                    .unwrap_or_else(|| "not an interval or a cron expression".to_owned()),
            }),
        }
    }

    /// When the job is due next, given when it last started (`None`: never) and the time now.
    ///
    /// - [`Schedule::Every`]: `last_start + interval`, or `now` when it never ran, but never
    ///   earlier than `now` (a run that is overdue is due now; missed runs are not repeated).
    /// - [`Schedule::Cron`]: the first time the expression matches strictly after `now`, in
    ///   UTC, whether or not it ran before (`last_start` is not used). An occurrence missed
    ///   while nothing was running is therefore not caught up. Should the expression have no
    ///   occurrence left (only past the year 5000), `now + MAX_INTERVAL` is returned.
    pub fn next_after(&self, last_start: Option<SystemTime>, now: SystemTime) -> SystemTime {
        match self {
            Schedule::Every(interval) => match last_start {
                None => now,
                // An addition that overflows lands beyond any representable `now`.
                Some(last) => last.checked_add(*interval).unwrap_or(last).max(now),
            },
            Schedule::Cron(cron) => cron
                .next_after(now)
                .or_else(|| now.checked_add(MAX_INTERVAL))
                .unwrap_or(now),
        }
    }

    /// The text [`Schedule::parse`] reads back as this schedule: the cron expression as
    /// written, or the interval in its compact form (`"1h30m"` for `"90 minutes"`).
    /// `None` for an interval `parse` would reject (zero, fractions of a second, too long).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Schedule::Every(d) => {
                if d.is_zero() || d.subsec_nanos() != 0 || *d > MAX_INTERVAL {
                    return None;
                }
                let mut text = String::new();
                for (count, unit) in split_secs(d.as_secs()) {
                    if count > 0 {
                        text.push_str(&format!("{count}{}", unit.short));
                    }
                }
                Some(text)
            }
            Schedule::Cron(cron) => Some(cron.text.clone()),
        }
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(s)
    }
}

impl fmt::Display for Schedule {
    /// Formats as `every 15 minutes`, `every 2 hours 30 minutes`, `every hour` or
    /// ``cron `*/15 * * * *` (UTC)``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) if d.is_zero() || d.subsec_nanos() != 0 => {
                write!(f, "every {d:?}")
            }
            Schedule::Every(d) => {
                let parts: Vec<(u64, Unit)> = split_secs(d.as_secs())
                    .into_iter()
                    .filter(|(count, _)| *count > 0)
                    .collect();
                f.write_str("every")?;
                if let [(1, unit)] = parts.as_slice() {
                    return write!(f, " {}", unit.singular);
                }
                for (count, unit) in parts {
                    let name = if count == 1 {
                        unit.singular
                    } else {
                        unit.plural
                    };
                    write!(f, " {count} {name}")?;
                }
                Ok(())
            }
            Schedule::Cron(cron) => fmt::Display::fmt(cron, f),
        }
    }
}

impl Serialize for Schedule {
    /// Serializes as the text [`Schedule::to_text`] gives; fails for an interval that
    /// could not be read back.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.to_text() {
            Some(text) => serializer.serialize_str(&text),
            None => Err(serde::ser::Error::custom(format!(
                "cannot write schedule {self}: intervals are whole seconds from 1s to 366 days"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Schedule {
    /// Deserializes from a string through [`Schedule::parse`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Schedule, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One interval unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unit {
    secs: u64,
    short: &'static str,
    singular: &'static str,
    plural: &'static str,
}

/// The units, largest first.
const UNITS: [Unit; 4] = [
    Unit {
        secs: DAY,
        short: "d",
        singular: "day",
        plural: "days",
    },
    Unit {
        secs: HOUR,
        short: "h",
        singular: "hour",
        plural: "hours",
    },
    Unit {
        secs: MINUTE,
        short: "m",
        singular: "minute",
        plural: "minutes",
    },
    Unit {
        secs: 1,
        short: "s",
        singular: "second",
        plural: "seconds",
    },
];

/// The index into [`UNITS`] of a unit word (lower case).
fn unit_index(word: &str) -> Option<usize> {
    Some(match word {
        "d" | "day" | "days" => 0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 2,
        "s" | "sec" | "secs" | "second" | "seconds" => 3,
        _ => return None,
    })
}

/// Splits whole seconds into days, hours, minutes and seconds.
fn split_secs(mut secs: u64) -> Vec<(u64, Unit)> {
    UNITS
        .iter()
        .map(|unit| {
            let count = secs / unit.secs;
            secs %= unit.secs;
            (count, *unit)
        })
        .collect()
}

/// Why text is not a usable interval.
#[derive(Debug, PartialEq, Eq)]
enum IntervalError {
    /// It does not start with a number: it is probably something else (a cron nickname...).
    NotAnInterval,
    /// It starts like an interval but is malformed.
    Bad(String),
    /// A number or the sum overflowed: certainly longer than [`MAX_INTERVAL`].
    TooLong,
}

/// Parses `<n><unit>` components, largest unit first, each unit at most once, optionally
/// separated by whitespace or commas and preceded by `every`. Zero and too-long values are
/// returned as they are; the caller checks the range.
fn parse_interval(text: &str) -> Result<Duration, IntervalError> {
    let lower = text.trim().to_ascii_lowercase();
    let body = match lower.strip_prefix("every") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => lower.as_str(),
    };
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(IntervalError::NotAnInterval);
    }
    let mut rest = body;
    let mut total: u64 = 0;
    let mut previous_unit: Option<usize> = None;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            let unexpected = rest
                .split(|c: char| c.is_whitespace() || c == ',')
                .next()
                .unwrap_or(rest);
            return Err(IntervalError::Bad(format!(
                "unexpected `{unexpected}` where a number was expected"
            )));
        }
        let (digits, after) = rest.split_at(digits_end);
        if after.starts_with(['.', ',']) && after[1..].starts_with(|c: char| c.is_ascii_digit()) {
            return Err(IntervalError::Bad(
                "fractions are not supported (write \"1h30m\", not \"1.5h\")".to_owned(),
            ));
        }
        let count: u64 = digits.parse().map_err(|_| IntervalError::TooLong)?;
        let after = after.trim_start();
        let word_end = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (word, after) = after.split_at(word_end);
        if word.is_empty() {
            return Err(IntervalError::Bad(format!(
                "the number {digits} has no unit (s, m, h or d)"
            )));
        }
        let index = unit_index(word).ok_or_else(|| {
            IntervalError::Bad(format!(
                "unknown unit `{word}` (use s, m, h or d; \"every\" may only come first)"
            ))
        })?;
        if previous_unit.is_some_and(|previous| index <= previous) {
            return Err(IntervalError::Bad(
                "units must go from largest to smallest, each at most once (like \"2h30m\")"
                    .to_owned(),
            ));
        }
        previous_unit = Some(index);
        total = count
            .checked_mul(UNITS[index].secs)
            .and_then(|secs| total.checked_add(secs))
            .ok_or(IntervalError::TooLong)?;
        rest = after;
    }
    Ok(Duration::from_secs(total))
}

/// Whether text that is no interval was probably meant as a cron expression, so that the
/// cron parser's complaint is the one to report.
fn looks_like_cron(text: &str) -> bool {
    text.starts_with('@')
        || text.contains(['*', '/', '?', '#'])
        || text.split_whitespace().count() >= 5
}

/// Converts to `chrono`'s UTC time, `None` outside its range (about ±262,000 years).
fn to_utc(t: SystemTime) -> Option<DateTime<Utc>> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => {
            DateTime::from_timestamp(i64::try_from(after.as_secs()).ok()?, after.subsec_nanos())
        }
        Err(err) => {
            let before = err.duration();
            let secs = i64::try_from(before.as_secs()).ok()?;
            match before.subsec_nanos() {
                0 => DateTime::from_timestamp(-secs, 0),
                nanos => DateTime::from_timestamp(-secs - 1, 1_000_000_000 - nanos),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(secs: u64) -> Schedule {
        Schedule::Every(Duration::from_secs(secs))
    }

    fn at(unix_secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_secs)
    }

    fn unix(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    fn cron(text: &str) -> Schedule {
        match Schedule::parse(text) {
            Ok(schedule @ Schedule::Cron(_)) => schedule,
            other => panic!("{text:?} parsed as {other:?}"),
        }
    }

    // 2024-01-01T00:00:00Z, a Monday.
    const MON_2024_01_01: u64 = 1_704_067_200;

    #[test]
    fn parses_intervals() {
        let cases = [
            ("30s", 30),
            ("15m", 15 * 60),
            ("1h", 3600),
            ("2h30m", 2 * 3600 + 30 * 60),
            ("1d", 86_400),
            ("1d2h3m4s", 86_400 + 2 * 3600 + 3 * 60 + 4),
            ("90 minutes", 90 * 60),
            ("90m", 90 * 60),
            ("1h 30m", 5400),
            ("1 hour, 30 minutes", 5400),
            ("2 hours", 7200),
            ("1 day", 86_400),
            ("45 sec", 45),
            ("  15M  ", 900),
            ("every 15m", 900),
            ("Every 2 Hours", 7200),
            ("1s", 1),
            ("366d", 366 * 86_400),
            ("0d1s", 1),
        ];
        for (text, secs) in cases {
            assert_eq!(Schedule::parse(text), Ok(every(secs)), "{text:?}");
        }
        assert_eq!("15m".parse::<Schedule>(), Ok(every(900)));
    }

    #[test]
    fn rejects_zero_and_absurd_intervals() {
        for text in ["0s", "0m", "0h0m", "every 0d"] {
            let err = Schedule::parse(text).unwrap_err();
            assert!(
                matches!(err, ScheduleError::ZeroInterval { .. }),
                "{text:?}: {err:?}"
            );
            assert!(err.to_string().contains("zero"), "{err}");
            assert!(err.to_string().contains(text.trim()), "{err}");
        }
        for text in [
            "367d",
            "366d1s",
            "9000h",
            "99999999999999999999999s",
            "213503982334601d",
        ] {
            let err = Schedule::parse(text).unwrap_err();
            assert_eq!(
                err,
                ScheduleError::IntervalTooLong {
                    input: text.to_owned()
                }
            );
            assert!(err.to_string().contains("366 days"), "{err}");
        }
    }

    #[test]
    fn rejects_malformed_intervals_with_a_hint() {
        let cases = [
            ("15", "no unit"),
            ("15x", "unknown unit `x`"),
            ("15 fortnights", "unknown unit `fortnights`"),
            ("30m2h", "largest to smallest"),
            ("1m1m", "largest to smallest"),
            ("1.5h", "fractions are not supported"),
            ("1,5h", "fractions are not supported"),
            ("15m!", "unexpected `!`"),
            ("-5m", "not an interval or a cron expression"),
            ("soon", "not an interval or a cron expression"),
            ("15m every", "unexpected `every`"),
        ];
        for (text, reason) in cases {
            let err = Schedule::parse(text).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, ScheduleError::Invalid { .. }),
                "{text:?}: {err:?}"
            );
            assert!(message.contains(&format!("{text:?}")), "{message}");
            assert!(message.contains(reason), "{message}");
            assert!(message.contains(HINT), "{message}");
        }
        assert_eq!(Schedule::parse("  "), Err(ScheduleError::Empty));
        assert!(Schedule::parse("").unwrap_err().to_string().contains(HINT));
    }

    #[test]
    fn parses_cron_expressions() {
        for text in [
            "*/15 * * * *",
            "0 6 * * 1-5",
            "0 6 * * MON-FRI",
            "30 2 1 JAN *",
            "0,30 8-18 * * *",
            "@hourly",
            "@daily",
        ] {
            let schedule = cron(text);
            assert_eq!(schedule.to_text().as_deref(), Some(text));
        }
        // Surrounding whitespace is dropped from the kept text.
        assert_eq!(
            cron("  0 6 * * *  ").to_text().as_deref(),
            Some("0 6 * * *")
        );
    }

    #[test]
    fn rejects_invalid_cron_expressions() {
        let cases = [
            "*/15 * * *",        // four fields
            "0 */15 * * * *",    // six fields: seconds are not standard
            "61 * * * *",        // minute out of range
            "0 6 * * 1-9",       // weekday out of range
            "0 0 31 2 *",        // February 31st never comes
            "@reboot",           // not a time
            "*/15 * * * * 2025", // seven fields
        ];
        for text in cases {
            let err = Schedule::parse(text).unwrap_err();
            assert!(
                matches!(err, ScheduleError::InvalidCron { .. }),
                "{text:?}: {err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(&format!("{text:?}")), "{message}");
            assert!(message.contains("\"*/15 * * * *\""), "{message}");
            assert!(!message.contains(".;"), "{message}");
        }
        let four = Schedule::parse("*/15 * * *").unwrap_err().to_string();
        assert!(four.contains("it has 4 fields, not 5"), "{four}");
        let never = Schedule::parse("0 0 31 2 *").unwrap_err().to_string();
        assert!(never.contains("never matches"), "{never}");
    }

    #[test]
    fn interval_next_after() {
        let schedule = every(15 * 60);
        let now = at(10_000);
        // Never ran: due now.
        assert_eq!(schedule.next_after(None, now), now);
        // Ran 5 minutes ago: due in 10 minutes.
        assert_eq!(
            schedule.next_after(Some(at(10_000 - 300)), now),
            at(10_000 + 600)
        );
        // Due exactly now.
        assert_eq!(schedule.next_after(Some(at(10_000 - 900)), now), now);
        // Overdue by an hour: due now, not in the past.
        assert_eq!(schedule.next_after(Some(at(10_000 - 4500)), now), now);
        // Started "in the future" (clock moved back): interval from that start.
        assert_eq!(schedule.next_after(Some(at(10_060)), now), at(10_060 + 900));
        // Sub-second precision is kept.
        let last = at(10_000) + Duration::from_millis(250);
        assert_eq!(
            schedule.next_after(Some(last), now),
            last + Duration::from_secs(900)
        );
        // A zero interval built by hand is due now.
        assert_eq!(
            Schedule::Every(Duration::ZERO).next_after(Some(at(5)), now),
            now
        );
    }

    #[test]
    fn cron_next_after_known_instants() {
        let quarter = cron("*/15 * * * *");
        let t0 = MON_2024_01_01;
        // At a matching instant: strictly after it.
        assert_eq!(unix(quarter.next_after(None, at(t0))), t0 + 900);
        assert_eq!(unix(quarter.next_after(Some(at(t0)), at(t0))), t0 + 900);
        // Just after a match.
        assert_eq!(unix(quarter.next_after(None, at(t0 + 1))), t0 + 900);
        let half_second = at(t0) + Duration::from_millis(500);
        assert_eq!(unix(quarter.next_after(None, half_second)), t0 + 900);
        // Just before a match.
        assert_eq!(unix(quarter.next_after(None, at(t0 + 899))), t0 + 900);
        let almost = at(t0 + 899) + Duration::from_millis(999);
        assert_eq!(unix(quarter.next_after(None, almost)), t0 + 900);
        // `last_start` does not matter for cron.
        assert_eq!(
            unix(quarter.next_after(Some(at(t0 - 86_400)), at(t0 + 10))),
            t0 + 900
        );

        // 06:00 UTC on weekdays. Monday 2024-01-01 05:00 → same day 06:00.
        let workdays = cron("0 6 * * 1-5");
        assert_eq!(
            unix(workdays.next_after(None, at(t0 + 5 * 3600))),
            t0 + 6 * 3600
        );
        // Friday 2024-01-05 07:00 → Monday 2024-01-08 06:00.
        let friday_7 = t0 + 4 * 86_400 + 7 * 3600;
        assert_eq!(
            unix(workdays.next_after(None, at(friday_7))),
            t0 + 7 * 86_400 + 6 * 3600
        );

        // Yearly: 2024-01-01 00:00 → 2025-01-01 00:00 (2024 is a leap year).
        assert_eq!(
            unix(cron("@yearly").next_after(None, at(t0))),
            t0 + 366 * 86_400
        );
        // February 29th: from 2024-03-01 the next one is in 2028.
        let leap = cron("0 12 29 2 *");
        let march_2024 = t0 + (31 + 29) * 86_400;
        let feb_29_2028 = 1_835_438_400; // 2028-02-29T12:00:00Z
        assert_eq!(unix(leap.next_after(None, at(march_2024))), feb_29_2028);
    }

    #[test]
    fn displays_in_human_form() {
        let cases = [
            (every(900), "every 15 minutes"),
            (every(1), "every second"),
            (every(30), "every 30 seconds"),
            (every(3600), "every hour"),
            (every(9000), "every 2 hours 30 minutes"),
            (every(86_400), "every day"),
            (every(86_400 + 60), "every 1 day 1 minute"),
            (Schedule::Every(Duration::from_millis(1500)), "every 1.5s"),
            (cron("*/15 * * * *"), "cron `*/15 * * * *` (UTC)"),
        ];
        for (schedule, text) in cases {
            assert_eq!(schedule.to_string(), text);
        }
        // An interval's human form reads back as the same schedule.
        assert_eq!(Schedule::parse("every 2 hours 30 minutes"), Ok(every(9000)));
    }

    #[test]
    fn compact_text_round_trips() {
        for secs in [1, 59, 60, 61, 3600, 5400, 86_400, 90_061, 366 * 86_400] {
            let text = every(secs).to_text().unwrap();
            assert_eq!(Schedule::parse(&text), Ok(every(secs)), "{text}");
        }
        assert_eq!(every(5400).to_text().as_deref(), Some("1h30m"));
        assert_eq!(Schedule::Every(Duration::ZERO).to_text(), None);
        assert_eq!(Schedule::Every(Duration::from_millis(1500)).to_text(), None);
        assert_eq!(every(367 * 86_400).to_text(), None);
    }

    #[derive(Debug, PartialEq, Deserialize, Serialize)]
    struct Job {
        schedule: Schedule,
    }

    #[test]
    fn serde_through_toml() {
        let job: Job = toml::from_str(r#"schedule = "15m""#).unwrap();
        assert_eq!(job.schedule, every(900));
        let job: Job = toml::from_str(r#"schedule = "0 6 * * 1-5""#).unwrap();
        assert_eq!(job.schedule, cron("0 6 * * 1-5"));
        assert_eq!(
            toml::to_string(&job).unwrap().trim(),
            r#"schedule = "0 6 * * 1-5""#
        );

        let job = Job {
            schedule: Schedule::parse("90 minutes").unwrap(),
        };
        assert_eq!(
            toml::to_string(&job).unwrap().trim(),
            r#"schedule = "1h30m""#
        );

        let err = toml::from_str::<Job>(r#"schedule = "15x""#).unwrap_err();
        assert!(err.to_string().contains("unknown unit `x`"), "{err}");
        assert!(toml::from_str::<Job>("schedule = 15").is_err());

        let zero = Job {
            schedule: Schedule::Every(Duration::ZERO),
        };
        assert!(toml::to_string(&zero).is_err());
    }

    #[test]
    fn serde_json_round_trip() {
        for schedule in [
            every(45),
            every(90_061),
            cron("@weekly"),
            cron("5 4 * * SUN"),
        ] {
            let json = serde_json::to_string(&schedule).unwrap();
            let back: Schedule = serde_json::from_str(&json).unwrap();
            assert_eq!(back, schedule, "{json}");
        }
    }
}
