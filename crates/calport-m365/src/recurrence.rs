//! Graph recurrence patterns → RRULE values (PROTOCOLS 4.3).
//!
//! | `pattern.type` | RRULE |
//! |---|---|
//! | `daily` | `FREQ=DAILY;INTERVAL=i` |
//! | `weekly` | `FREQ=WEEKLY;INTERVAL=i;BYDAY=MO,TU;WKST=SU` |
//! | `absoluteMonthly` | `FREQ=MONTHLY;INTERVAL=i;BYMONTHDAY=d` |
//! | `relativeMonthly` | `FREQ=MONTHLY;INTERVAL=i;BYDAY=-1FR`, several days `BYDAY=MO,TU;BYSETPOS=n` |
//! | `absoluteYearly` | `FREQ=YEARLY;INTERVAL=i;BYMONTH=m;BYMONTHDAY=d` |
//! | `relativeYearly` | `FREQ=YEARLY;INTERVAL=i;BYMONTH=m;BYDAY=2TU`, several days with `BYSETPOS` |
//!
//! The range follows: `endDate` → `UNTIL`, `numbered` → `COUNT`, `noEnd` → nothing.

use chrono::{Duration, NaiveTime, TimeZone, Utc};

use crate::payload::{EventTime, PatternType, Recurrence, RecurrenceRange};

/// The Graph name (under `recurrence.pattern`) of the first field `recurrence` lacks
/// for its pattern type, if any.
pub(crate) fn missing_field(recurrence: &Recurrence) -> Option<&'static str> {
    let days = recurrence.days_of_week.is_empty();
    let day = recurrence.day_of_month.is_none();
    let month = recurrence.month.is_none();
    match recurrence.pattern {
        PatternType::Daily => None,
        PatternType::Weekly | PatternType::RelativeMonthly if days => Some("daysOfWeek"),
        PatternType::Weekly | PatternType::RelativeMonthly => None,
        PatternType::AbsoluteMonthly if day => Some("dayOfMonth"),
        PatternType::AbsoluteMonthly => None,
        PatternType::AbsoluteYearly if month => Some("month"),
        PatternType::AbsoluteYearly if day => Some("dayOfMonth"),
        PatternType::AbsoluteYearly => None,
        PatternType::RelativeYearly if month => Some("month"),
        PatternType::RelativeYearly if days => Some("daysOfWeek"),
        PatternType::RelativeYearly => None,
    }
}

/// `BYDAY` (and `BYSETPOS`) of a relative pattern: one day carries its ordinal
/// (`-1FR`), several days share a `BYSETPOS` (the first weekday of the month is
/// `BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1`).
fn relative_days(recurrence: &Recurrence, parts: &mut Vec<String>) {
    match recurrence.days_of_week.as_slice() {
        [one] => parts.push(format!("BYDAY={}{one}", recurrence.index)),
        several => {
            parts.push(format!("BYDAY={}", several.join(",")));
            parts.push(format!("BYSETPOS={}", recurrence.index));
        }
    }
}

/// `UNTIL` for the inclusive last date of a series: the date itself for all-day
/// series; for timed ones the last second of that day in the series' zone, in UTC
/// (RFC 5545 §3.3.10: UNTIL is UTC when DTSTART has a TZID).
fn until(last: chrono::NaiveDate, start: &EventTime) -> String {
    match start {
        EventTime::Date(_) => format!("UNTIL={}", last.format("%Y%m%d")),
        EventTime::Zoned { zone, .. } => {
            let mut local =
                last.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN));
            // 23:59:59 can only be missing in a zone that skipped the end of that day;
            // step back until the wall clock exists.
            let instant = loop {
                if let Some(at) = zone.from_local_datetime(&local).latest() {
                    break at.with_timezone(&Utc);
                }
                local -= Duration::minutes(30);
            };
            format!("UNTIL={}", instant.format("%Y%m%dT%H%M%SZ"))
        }
    }
}

/// The RRULE value (without `RRULE:`) for a recurrence whose series starts at `start`.
/// `endDate` becomes UNTIL: the end of that day in the start's zone, in UTC, for timed
/// series; `UNTIL=YYYYMMDD` for all-day ones.
///
/// # Errors
/// A pattern missing a field it requires, in words.
pub fn to_rrule(recurrence: &Recurrence, start: &EventTime) -> Result<String, String> {
    if let Some(field) = missing_field(recurrence) {
        return Err(format!(
            "a {:?} pattern needs pattern.{field}",
            recurrence.pattern
        ));
    }
    if recurrence.interval == 0 {
        return Err("pattern.interval must be at least 1".to_owned());
    }
    if !matches!(recurrence.index, -1 | 1..=4) {
        return Err(format!(
            "pattern.index {} is not 1 to 4 or -1",
            recurrence.index
        ));
    }
    let freq = match recurrence.pattern {
        PatternType::Daily => "DAILY",
        PatternType::Weekly => "WEEKLY",
        PatternType::AbsoluteMonthly | PatternType::RelativeMonthly => "MONTHLY",
        PatternType::AbsoluteYearly | PatternType::RelativeYearly => "YEARLY",
    };
    let mut parts = vec![
        format!("FREQ={freq}"),
        format!("INTERVAL={}", recurrence.interval),
    ];
    let month = recurrence.month.unwrap_or_default();
    let day = recurrence.day_of_month.unwrap_or_default();
    match recurrence.pattern {
        PatternType::Daily => {}
        PatternType::Weekly => {
            parts.push(format!("BYDAY={}", recurrence.days_of_week.join(",")));
            parts.push(format!("WKST={}", recurrence.first_day_of_week));
        }
        PatternType::AbsoluteMonthly => parts.push(format!("BYMONTHDAY={day}")),
        PatternType::RelativeMonthly => relative_days(recurrence, &mut parts),
        PatternType::AbsoluteYearly => {
            parts.push(format!("BYMONTH={month}"));
            parts.push(format!("BYMONTHDAY={day}"));
        }
        PatternType::RelativeYearly => {
            parts.push(format!("BYMONTH={month}"));
            relative_days(recurrence, &mut parts);
        }
    }
    match &recurrence.range {
        RecurrenceRange::NoEnd => {}
        RecurrenceRange::EndDate(last) => parts.push(until(*last, start)),
        RecurrenceRange::Numbered(0) => {
            return Err("range.numberOfOccurrences must be at least 1".to_owned());
        }
        RecurrenceRange::Numbered(count) => parts.push(format!("COUNT={count}")),
    }
    Ok(parts.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: PatternType) -> Recurrence {
        Recurrence {
            pattern,
            interval: 1,
            days_of_week: Vec::new(),
            first_day_of_week: "SU".into(),
            day_of_month: None,
            month: None,
            index: 1,
            range: RecurrenceRange::NoEnd,
        }
    }

    #[test]
    fn names_the_missing_field() {
        assert_eq!(
            missing_field(&rule(PatternType::Weekly)),
            Some("daysOfWeek")
        );
        assert_eq!(
            missing_field(&rule(PatternType::AbsoluteYearly)),
            Some("month")
        );
        let mut yearly = rule(PatternType::AbsoluteYearly);
        yearly.month = Some(3);
        assert_eq!(missing_field(&yearly), Some("dayOfMonth"));
        assert_eq!(missing_field(&rule(PatternType::Daily)), None);
        let start = EventTime::Date(chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap());
        let err = to_rrule(&rule(PatternType::AbsoluteMonthly), &start).unwrap_err();
        assert!(err.contains("pattern.dayOfMonth"), "{err}");
    }
}
