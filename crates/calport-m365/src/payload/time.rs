//! Times: Graph `dateTimeTimeZone` objects, Power Automate strings, UTC instants.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde_json::Value;

use super::json::{Obj, invalid, kind};
use super::{EventTime, PayloadError};

/// A date-time as written: with an offset, or a wall-clock time without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stamp {
    /// `2025-01-06T09:00:00+01:00`, `…Z`.
    Offset(DateTime<FixedOffset>),
    /// `2025-01-06T09:00:00.0000000` (Graph), `2025-01-06` (midnight).
    Naive(NaiveDateTime),
}

impl Stamp {
    /// The wall-clock time as written, whatever the offset.
    fn written(self) -> NaiveDateTime {
        match self {
            Stamp::Offset(at) => at.naive_local(),
            Stamp::Naive(at) => at,
        }
    }

    /// The instant, reading a time without offset as UTC.
    fn as_utc(self) -> DateTime<Utc> {
        match self {
            Stamp::Offset(at) => at.with_timezone(&Utc),
            Stamp::Naive(at) => at.and_utc(),
        }
    }
}

/// Reads a date-time in any of the forms Graph and Power Automate write: RFC 3339 with
/// `Z` or an offset, without offset (any number of fractional digits, `T` or a space),
/// or a bare date. Fractions of a second are dropped: iCalendar has none.
pub(super) fn stamp(text: &str) -> Option<Stamp> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(Stamp::Offset(at.with_nanosecond(0)?));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(Stamp::Offset(at.with_nanosecond(0)?));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Stamp::Naive(at.with_nanosecond(0)?));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|day| Stamp::Naive(day.and_time(chrono::NaiveTime::MIN)))
}

/// A field that must be a date-time.
fn required_stamp(field: String, text: &str) -> Result<Stamp, PayloadError> {
    stamp(text).ok_or_else(|| invalid(field, format!("not a date-time: {text:?}")))
}

/// A UTC instant such as `lastModifiedDateTime` (`2025-01-02T10:00:00Z`,
/// `2025-01-02T10:00:00.1234567Z`); a time without offset is read as UTC.
pub(super) fn utc(obj: &Obj<'_>, key: &str) -> Result<Option<DateTime<Utc>>, PayloadError> {
    match obj.str(key)? {
        None => Ok(None),
        Some(text) => Ok(Some(required_stamp(obj.field(key), text)?.as_utc())),
    }
}

/// A date such as `recurrence.range.endDate` (`2025-03-31`; a date-time is cut to its
/// date as written). Graph's "no date", `0001-01-01`, reads as absent.
pub(super) fn date(obj: &Obj<'_>, key: &str) -> Result<Option<NaiveDate>, PayloadError> {
    match obj.str(key)? {
        None => Ok(None),
        Some(text) => {
            let day = required_stamp(obj.field(key), text)?.written().date();
            Ok((day.year() > 1).then_some(day))
        }
    }
}

/// Resolves a zone name of field `field` (Windows, IANA, UTC, Outlook display name).
pub(super) fn zone(field: String, name: &str) -> Result<chrono_tz::Tz, PayloadError> {
    crate::tz::resolve(name.trim()).ok_or_else(|| PayloadError::UnknownTimeZone {
        field,
        zone: name.to_owned(),
    })
}

fn place(stamp: Stamp, zone: chrono_tz::Tz, all_day: bool) -> EventTime {
    if all_day {
        // The day as written: an all-day event is midnight to midnight in its own zone,
        // and converting that midnight to another zone could move it to the day before.
        return EventTime::Date(stamp.written().date());
    }
    let local = match stamp {
        Stamp::Offset(at) => at.with_timezone(&zone).naive_local(),
        Stamp::Naive(at) => at,
    };
    EventTime::Zoned { local, zone }
}

/// `start` or `end` (`key`) of an event: a Graph `{dateTime, timeZone}` object (zone
/// default UTC), or Power Automate's strings — `<key>WithTimeZone` (with an offset;
/// shown in `timeZone` when that resolves, else UTC) preferred over `<key>` (read in
/// `timeZone`, default UTC).
pub(super) fn event_time(
    root: &Obj<'_>,
    key: &str,
    all_day: bool,
) -> Result<EventTime, PayloadError> {
    match root.get(key) {
        Some(Value::Object(_)) => {
            let Some(graph) = root.child(key)? else {
                return Err(PayloadError::Missing(key.to_owned()));
            };
            let written = graph.required_str("dateTime")?;
            let zone = match graph.str("timeZone")? {
                Some(name) => zone(graph.field("timeZone"), name)?,
                None => chrono_tz::UTC,
            };
            let at = required_stamp(graph.field("dateTime"), written)?;
            Ok(place(at, zone, all_day))
        }
        None | Some(Value::String(_)) => {
            let with_key = format!("{key}WithTimeZone");
            if let Some(written) = root.str(&with_key)? {
                let at = required_stamp(root.field(&with_key), written)?;
                let zone = root
                    .str("timeZone")?
                    .and_then(|name| crate::tz::resolve(name.trim()))
                    .unwrap_or(chrono_tz::UTC);
                return Ok(place(at, zone, all_day));
            }
            let written = root.required_str(key)?;
            let zone = match root.str("timeZone")? {
                Some(name) => zone(root.field("timeZone"), name)?,
                None => chrono_tz::UTC,
            };
            let at = required_stamp(root.field(key), written)?;
            Ok(place(at, zone, all_day))
        }
        Some(other) => Err(invalid(
            root.field(key),
            format!("expected an object or a string, found {}", kind(other)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_graph_and_flows_write() {
        let naive = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
        assert_eq!(
            stamp("2025-01-06T09:00:00.0000000"),
            Some(Stamp::Naive(naive("2025-01-06T09:00:00")))
        );
        assert_eq!(
            stamp("2025-01-06T09:00"),
            Some(Stamp::Naive(naive("2025-01-06T09:00:00")))
        );
        assert_eq!(
            stamp("2025-01-06").map(Stamp::written),
            Some(naive("2025-01-06T00:00:00"))
        );
        let offset = stamp("2025-01-06T09:00:00.1234567+01:00").unwrap();
        assert_eq!(offset.as_utc().to_rfc3339(), "2025-01-06T08:00:00+00:00");
        assert_eq!(offset.written(), naive("2025-01-06T09:00:00"));
        assert_eq!(
            stamp("2025-01-02T10:00:00.0000000Z")
                .unwrap()
                .as_utc()
                .to_rfc3339(),
            "2025-01-02T10:00:00+00:00"
        );
        assert_eq!(stamp("next tuesday"), None);
        assert_eq!(stamp("2025-13-01T00:00:00"), None);
    }
}
