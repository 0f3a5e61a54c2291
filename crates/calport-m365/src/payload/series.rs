//! `recurrence`: Graph's `{pattern, range}` object, or Power Automate's one word.

use chrono::{Datelike, NaiveDate, Weekday};
use serde_json::Value;

use super::json::{Obj, invalid, kind};
use super::{EventTime, PatternType, PayloadError, Recurrence, RecurrenceRange, time};

/// `sunday`..`saturday` (any case, or the two-letter code) as `SU`..`SA`.
fn day_code(text: &str) -> Option<&'static str> {
    let code = match text.trim().to_ascii_lowercase().as_str() {
        "sunday" | "su" => "SU",
        "monday" | "mo" => "MO",
        "tuesday" | "tu" => "TU",
        "wednesday" | "we" => "WE",
        "thursday" | "th" => "TH",
        "friday" | "fr" => "FR",
        "saturday" | "sa" => "SA",
        _ => return None,
    };
    Some(code)
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Sun => "SU",
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
    }
}

fn pattern_type(field: String, text: &str) -> Result<PatternType, PayloadError> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "daily" => PatternType::Daily,
        "weekly" => PatternType::Weekly,
        "absolutemonthly" => PatternType::AbsoluteMonthly,
        "relativemonthly" => PatternType::RelativeMonthly,
        "absoluteyearly" => PatternType::AbsoluteYearly,
        "relativeyearly" => PatternType::RelativeYearly,
        _ => {
            return Err(invalid(
                field,
                format!("unknown recurrence pattern {text:?}"),
            ));
        }
    })
}

fn index(field: String, text: &str) -> Result<i32, PayloadError> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "last" => -1,
        _ => return Err(invalid(field, format!("unknown week index {text:?}"))),
    })
}

/// `pattern.daysOfWeek`: an array of day names (a single name is accepted too).
fn days_of_week(pattern: &Obj<'_>) -> Result<Vec<String>, PayloadError> {
    let field = pattern.field("daysOfWeek");
    let names: Vec<&str> = match pattern.get("daysOfWeek") {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| {
                v.as_str().ok_or_else(|| {
                    invalid(
                        field.clone(),
                        format!("expected day names, found {}", kind(v)),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(
                field,
                format!("expected an array, found {}", kind(other)),
            ));
        }
    };
    let mut days: Vec<String> = Vec::new();
    for name in names {
        let code = day_code(name)
            .ok_or_else(|| invalid(field.clone(), format!("unknown day {name:?}")))?;
        if !days.iter().any(|d| d == code) {
            days.push(code.to_owned());
        }
    }
    Ok(days)
}

/// Graph's `recurrence` object (PROTOCOLS 4.3). Graph writes `0` for the day and month
/// fields a pattern does not use; they read as absent.
fn graph(recurrence: &Obj<'_>) -> Result<Recurrence, PayloadError> {
    let pattern = recurrence
        .child("pattern")?
        .ok_or_else(|| PayloadError::Missing(recurrence.field("pattern")))?;
    let kind = pattern_type(pattern.field("type"), pattern.required_str("type")?)?;
    let interval = match pattern.u32("interval")? {
        None => 1,
        Some(0) => return Err(invalid(pattern.field("interval"), "must be at least 1")),
        Some(n) => n,
    };
    let first_day_of_week = match pattern.str("firstDayOfWeek")? {
        None => "SU".to_owned(),
        Some(name) => day_code(name)
            .ok_or_else(|| {
                invalid(
                    pattern.field("firstDayOfWeek"),
                    format!("unknown day {name:?}"),
                )
            })?
            .to_owned(),
    };
    let day_of_month = pattern.u32("dayOfMonth")?.filter(|d| *d != 0);
    if day_of_month.is_some_and(|d| d > 31) {
        return Err(invalid(pattern.field("dayOfMonth"), "must be 1 to 31"));
    }
    let month = pattern.u32("month")?.filter(|m| *m != 0);
    if month.is_some_and(|m| m > 12) {
        return Err(invalid(pattern.field("month"), "must be 1 to 12"));
    }
    let index = match pattern.str("index")? {
        None => 1,
        Some(text) => index(pattern.field("index"), text)?,
    };
    let range = match recurrence.child("range")? {
        None => RecurrenceRange::NoEnd,
        Some(range) => match range
            .required_str("type")?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "noend" => RecurrenceRange::NoEnd,
            "enddate" => RecurrenceRange::EndDate(
                time::date(&range, "endDate")?
                    .ok_or_else(|| PayloadError::Missing(range.field("endDate")))?,
            ),
            "numbered" => RecurrenceRange::Numbered(
                range
                    .u32("numberOfOccurrences")?
                    .filter(|n| *n > 0)
                    .ok_or_else(|| PayloadError::Missing(range.field("numberOfOccurrences")))?,
            ),
            other => {
                return Err(invalid(
                    range.field("type"),
                    format!("unknown recurrence range {other:?}"),
                ));
            }
        },
    };
    let parsed = Recurrence {
        pattern: kind,
        interval,
        days_of_week: days_of_week(&pattern)?,
        first_day_of_week,
        day_of_month,
        month,
        index,
        range,
    };
    match crate::recurrence::missing_field(&parsed) {
        Some(name) => Err(PayloadError::Missing(pattern.field(name))),
        None => Ok(parsed),
    }
}

fn start_date(start: &EventTime) -> NaiveDate {
    match start {
        EventTime::Zoned { local, .. } => local.date(),
        EventTime::Date(day) => *day,
    }
}

/// Power Automate's `recurrence` word (`none`, `daily`, `weekly`, `monthly`, `yearly`),
/// read with interval 1 and the days taken from `start`; `recurrenceEnd` and
/// `numberOfOccurences` (sic) give the range.
fn flow(root: &Obj<'_>, word: &str, start: &EventTime) -> Result<Option<Recurrence>, PayloadError> {
    let day = start_date(start);
    let (pattern, days_of_week, day_of_month, month) =
        match word.trim().to_ascii_lowercase().as_str() {
            "" | "none" => return Ok(None),
            "daily" => (PatternType::Daily, Vec::new(), None, None),
            "weekly" => (
                PatternType::Weekly,
                vec![weekday_code(day.weekday()).to_owned()],
                None,
                None,
            ),
            "monthly" => (
                PatternType::AbsoluteMonthly,
                Vec::new(),
                Some(day.day()),
                None,
            ),
            "yearly" => (
                PatternType::AbsoluteYearly,
                Vec::new(),
                Some(day.day()),
                Some(day.month()),
            ),
            _ => {
                return Err(invalid(
                    "recurrence",
                    format!("unknown recurrence {word:?} (none, daily, weekly, monthly or yearly)"),
                ));
            }
        };
    let count = match root.u32("numberOfOccurences")? {
        Some(n) => Some(n),
        None => root.u32("numberOfOccurrences")?,
    };
    let range = match (time::date(root, "recurrenceEnd")?, count.filter(|n| *n > 0)) {
        (Some(end), _) => RecurrenceRange::EndDate(end),
        (None, Some(n)) => RecurrenceRange::Numbered(n),
        (None, None) => RecurrenceRange::NoEnd,
    };
    Ok(Some(Recurrence {
        pattern,
        interval: 1,
        days_of_week,
        first_day_of_week: "SU".to_owned(),
        day_of_month,
        month,
        index: 1,
        range,
    }))
}

/// `recurrence` in either shape, for a series that starts at `start`.
pub(super) fn recurrence(
    root: &Obj<'_>,
    start: &EventTime,
) -> Result<Option<Recurrence>, PayloadError> {
    match root.get("recurrence") {
        None => Ok(None),
        Some(Value::String(word)) => flow(root, word, start),
        Some(Value::Object(_)) => match root.child("recurrence")? {
            Some(obj) => graph(&obj).map(Some),
            None => Ok(None),
        },
        Some(other) => Err(invalid(
            "recurrence",
            format!("expected an object or a string, found {}", kind(other)),
        )),
    }
}
