//! A conservative time span of an event, for deciding whether it falls in a sync window.
//!
//! The span never resolves time zones and never expands recurrence rules: it only has to
//! contain every occurrence, so it widens instead of computing exactly.

use calport_core::ComponentKind;

use crate::ParseError;
use crate::model::{Component, Document, Property};
use crate::text::split_unescaped;

/// Seconds in a day; also the margin added around values that are not in UTC.
const DAY: i64 = 86_400;

/// The time an item occupies, in unix seconds, widened so that it contains every
/// occurrence of every component of the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSpan {
    /// Earliest moment any occurrence can start.
    pub start: i64,
    /// Latest moment any occurrence can end; `None` when the item recurs forever.
    pub end: Option<i64>,
}

impl TimeSpan {
    /// The span of an item whose times cannot be read: everything.
    pub const UNBOUNDED: TimeSpan = TimeSpan {
        start: i64::MIN,
        end: None,
    };

    /// Whether this span meets the window `from..=to` (touching counts). A window with
    /// `from > to` is empty and meets nothing.
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        from <= to && self.start <= to && self.end.is_none_or(|end| end >= from)
    }

    /// The smallest span containing both.
    fn union(self, other: TimeSpan) -> TimeSpan {
        TimeSpan {
            start: self.start.min(other.start),
            end: match (self.end, other.end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            },
        }
    }
}

/// The conservative [`TimeSpan`] of a calendar item, or `None` when the item is not an
/// event and so is always in scope.
///
/// Only calendars made of `VEVENT`s have a span (`VTIMEZONE`s and unknown components
/// aside); to-dos, journals, free/busy data, cards and mixed objects give `None`. The
/// span is the union over the master and every `RECURRENCE-ID` override of:
///
/// - `DTSTART` to `DTEND` (else `DTSTART` + `DURATION`, else one day for a `DATE`
///   start, else the start itself);
/// - for an `RRULE` with `UNTIL`, up to `UNTIL` + event length + one day; an `RRULE`
///   with `COUNT` or without a limit makes the end unbounded (`None`);
/// - every `RDATE` (or `PERIOD`) + event length, and the `RECURRENCE-ID` value;
///   `EXDATE` is ignored.
///
/// Time zones are not resolved: values that are not UTC (`TZID` or floating, and all
/// `DATE`s) are read as UTC and the span widened by one day on the side they bound.
/// An event without `DTSTART` or with a value that cannot be read gives
/// [`TimeSpan::UNBOUNDED`]; such content is never an error.
///
/// # Errors
/// Only the [`ParseError`]s of [`crate::parse`], when the bytes cannot be parsed at all.
pub fn time_span(bytes: &[u8]) -> Result<Option<TimeSpan>, ParseError> {
    Ok(Document::parse(bytes)?.time_span())
}

impl Document {
    /// This document's conservative [`TimeSpan`]; see [`time_span`].
    pub fn time_span(&self) -> Option<TimeSpan> {
        let mut items = Vec::new();
        for top in &self.components {
            if top.name == "VCALENDAR" {
                items.extend(top.children.iter().filter(|c| !c.is_timezone()));
            } else {
                // A bare item without a VCALENDAR around it (or a VCARD).
                items.push(top);
            }
        }
        let mut events = Vec::new();
        for item in items {
            match ComponentKind::from_component_name(&item.name) {
                Some(ComponentKind::Event) => events.push(item),
                Some(_) => return None,
                None => {}
            }
        }
        let mut span: Option<TimeSpan> = None;
        let mut future_shift = 0i64;
        for event in events {
            let Some(one) = event_span(event) else {
                return Some(TimeSpan::UNBOUNDED);
            };
            future_shift = future_shift.max(one.future_shift);
            span = Some(match span {
                Some(span) => span.union(one.span),
                None => one.span,
            });
        }
        span.map(|span| TimeSpan {
            end: span.end.map(|end| end.saturating_add(future_shift)),
            ..span
        })
    }
}

/// What one `VEVENT` contributes.
struct EventSpan {
    span: TimeSpan,
    /// How far a `RANGE=THISANDFUTURE` override may push the instances after it beyond
    /// the end computed from the master (0 when there is no such override).
    future_shift: i64,
}

/// The span of one `VEVENT`, or `None` when some time of it cannot be read.
fn event_span(event: &Component) -> Option<EventSpan> {
    let dtstart = event.property("DTSTART")?;
    let start = Stamp::of(dtstart)?;
    let mut floating = !start.utc;

    // The event length as a range: DTEND before DTSTART or a negative DURATION make the
    // occurrence reach back from its start.
    let (len_lo, len_hi) = if let Some(dtend) = event.property("DTEND") {
        let end = Stamp::of(dtend)?;
        floating |= !end.utc;
        let len = end.secs.checked_sub(start.secs)?;
        // In different zones the local difference may be off by up to two UTC offsets.
        let pad = if zone(dtend) == zone(dtstart) {
            0
        } else {
            2 * DAY
        };
        (len.min(0).checked_sub(pad)?, len.max(0).checked_add(pad)?)
    } else if let Some(duration) = event.property("DURATION") {
        let len = parse_duration(&duration.value)?;
        (len.min(0), len.max(0))
    } else if start.date {
        (0, DAY)
    } else {
        (0, 0)
    };

    let mut bounds = Bounds {
        lo: start.secs.checked_add(len_lo)?,
        hi: Some(start.secs.checked_add(len_hi)?),
    };

    for rrule in event.properties_named("RRULE") {
        match rule_until(&rrule.value)? {
            Some(until) => {
                floating |= !until.utc;
                let day_long = if until.date { DAY } else { 0 };
                let last_end = until
                    .secs
                    .checked_add(len_hi)?
                    .checked_add(day_long)?
                    .checked_add(DAY)?;
                bounds.extend(start.secs, last_end);
            }
            None => bounds.hi = None,
        }
    }

    for rdate in event.properties_named("RDATE") {
        let tzid = rdate.param("TZID").is_some();
        for raw in split_unescaped(&rdate.value, ',') {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let (first, period_end) = match raw.split_once('/') {
                Some((first, rest)) => {
                    let first = Stamp::parse(first, tzid)?;
                    let end = match Stamp::parse(rest, tzid) {
                        Some(end) => {
                            floating |= !end.utc;
                            end.secs
                        }
                        None => first.secs.checked_add(parse_duration(rest)?.max(0))?,
                    };
                    (first, end)
                }
                None => (Stamp::parse(raw, tzid)?, i64::MIN),
            };
            floating |= !first.utc;
            let day_long = if first.date { DAY } else { 0 };
            let occurrence_end = first
                .secs
                .checked_add(len_hi)?
                .checked_add(day_long)?
                .max(period_end);
            bounds.extend(first.secs.checked_add(len_lo)?, occurrence_end);
        }
    }

    let mut future_shift = 0;
    if let Some(recurrence_id) = event.property("RECURRENCE-ID") {
        let rid = Stamp::of(recurrence_id)?;
        floating |= !rid.utc;
        bounds.extend(rid.secs, rid.secs);
        let this_and_future = recurrence_id
            .param("RANGE")
            .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"));
        if this_and_future {
            // Later instances move by this override's shift and take its length.
            future_shift = start
                .secs
                .checked_sub(rid.secs)?
                .max(0)
                .checked_add(len_hi)?
                .checked_add(2 * DAY)?;
        }
    }

    let margin = if floating { DAY } else { 0 };
    Some(EventSpan {
        span: TimeSpan {
            start: bounds.lo.saturating_sub(margin),
            end: bounds.hi.map(|hi| hi.saturating_add(margin)),
        },
        future_shift,
    })
}

/// Unwidened bounds of one event while they are being collected.
struct Bounds {
    lo: i64,
    /// `None` once the event is known to recur forever.
    hi: Option<i64>,
}

impl Bounds {
    /// Makes room for an occurrence from `from` to `to`.
    fn extend(&mut self, from: i64, to: i64) {
        self.lo = self.lo.min(from);
        self.hi = self.hi.map(|hi| hi.max(to));
    }
}

/// How a property's time is anchored, for comparing `DTSTART` and `DTEND`.
fn zone(prop: &Property) -> Option<String> {
    match prop.param("TZID") {
        Some(tzid) => Some(tzid),
        None if prop.value.trim().to_ascii_uppercase().ends_with('Z') => Some("Z".to_owned()),
        None => None,
    }
}

/// The `UNTIL` of a recurrence rule: `Some(None)` when the rule has no usable limit in
/// time (`COUNT`, or no limit at all), `None` when `UNTIL` cannot be read.
fn rule_until(rule: &str) -> Option<Option<Stamp>> {
    let mut until = None;
    for part in rule.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_uppercase().as_str() {
            // COUNT bounds the number, not the time, of occurrences; with UNTIL as well
            // (not allowed) some readers may follow COUNT only.
            "COUNT" => return Some(None),
            "UNTIL" => until = Some(value),
            _ => {}
        }
    }
    match until {
        Some(value) => Stamp::parse(value, false).map(Some),
        None => Some(None),
    }
}

/// One DATE or DATE-TIME value read as if it were UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    /// Unix seconds of the value taken as UTC.
    secs: i64,
    /// A `DATE` (whole day) rather than a `DATE-TIME`.
    date: bool,
    /// Truly UTC (`Z` suffix and no `TZID`).
    utc: bool,
}

impl Stamp {
    /// The value of a single-valued property such as `DTSTART`.
    fn of(prop: &Property) -> Option<Stamp> {
        Stamp::parse(&prop.value, prop.param("TZID").is_some())
    }

    /// Reads `YYYYMMDD`, `YYYYMMDDTHHMM[SS][Z]`, also with `-` and `:` separators.
    fn parse(raw: &str, tzid: bool) -> Option<Stamp> {
        let compact: Vec<u8> = raw
            .trim()
            .bytes()
            .filter(|b| !matches!(b, b'-' | b':'))
            .map(|b| b.to_ascii_uppercase())
            .collect();
        let (body, z) = match compact.strip_suffix(b"Z") {
            Some(body) => (body, true),
            None => (compact.as_slice(), false),
        };
        let (date, time) = match body.iter().position(|&b| b == b'T') {
            Some(t) => (&body[..t], Some(&body[t + 1..])),
            None => (body, None),
        };
        if date.len() != 8 {
            return None;
        }
        let year = digits(&date[..4])?;
        let month = digits(&date[4..6])?;
        let day = digits(&date[6..8])?;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let Some(time) = time else {
            return (!z).then_some(Stamp {
                secs: days * DAY,
                date: true,
                utc: false,
            });
        };
        let (hour, minute, second) = match time.len() {
            4 => (digits(&time[..2])?, digits(&time[2..4])?, 0),
            6 => (
                digits(&time[..2])?,
                digits(&time[2..4])?,
                digits(&time[4..6])?,
            ),
            _ => return None,
        };
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        Some(Stamp {
            secs: days * DAY + hour * 3600 + minute * 60 + second,
            date: false,
            utc: z && !tzid,
        })
    }
}

/// ASCII digits as a number; `None` for anything else.
fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes.iter().try_fold(0i64, |n, &b| {
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (`month` 1–12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count years from March so that the leap day is the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let leap_days = y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400);
    let days_to_year = 365 * y + leap_days;
    let month_from_march = (month + 9) % 12;
    // Month lengths from March repeat 31,30,31,30,31: 153 days every five months.
    let days_to_month = (153 * month_from_march + 2) / 5;
    // 719_468 is the count above for 1970-01-01 (year 1969, month 10, day 0).
    days_to_year + days_to_month + day - 1 - 719_468
}

/// Reads an RFC 5545 duration (`P1D`, `PT1H30M`, `P2W`, `-PT15M`, …) as seconds. Days
/// count as 86 400 s. Lenient about case, spaces and mixing weeks with other units.
fn parse_duration(raw: &str) -> Option<i64> {
    let text = raw.trim().to_ascii_uppercase();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text.as_str()),
    };
    let rest = rest.strip_prefix('P')?;
    let mut total = 0i64;
    let mut number: Option<i64> = None;
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(d))?,
            );
            continue;
        }
        if c == 'T' && number.is_none() && !in_time {
            in_time = true;
            continue;
        }
        let unit = match (c, in_time) {
            ('W', false) => 7 * DAY,
            ('D', false) => DAY,
            ('H', true) => 3600,
            ('M', true) => 60,
            ('S', true) => 1,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
        any = true;
    }
    if number.is_some() || !any {
        return None;
    }
    Some(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(body: &str) -> Vec<u8> {
        format!("BEGIN:VCALENDAR\nVERSION:2.0\n{body}END:VCALENDAR\n").into_bytes()
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(2025, 1, 1), 20_089);
        assert_eq!(days_from_civil(1600, 1, 1), -135_140);
        // Consecutive dates are consecutive days, across months and leap years.
        let mut expected = days_from_civil(1899, 1, 1);
        for year in 1899..=2101 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), expected);
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn stamps() {
        let s = Stamp::parse("20250101T120000Z", false).unwrap();
        assert_eq!((s.secs, s.date, s.utc), (1_735_732_800, false, true));
        let s = Stamp::parse("20250101", false).unwrap();
        assert_eq!((s.secs, s.date, s.utc), (1_735_689_600, true, false));
        assert!(!Stamp::parse("20250101T120000Z", true).unwrap().utc);
        assert!(!Stamp::parse("20250101T1200", false).unwrap().utc);
        assert_eq!(
            Stamp::parse("2025-01-01T12:00:00Z", false),
            Stamp::parse("20250101t120000z", false)
        );
        for bad in [
            "",
            "2025",
            "20251301",
            "20250230",
            "20250101T",
            "20250101T25",
            "20250101T246000",
            "2025010AT000000",
            "20250101Z",
            "20250101T120000+0100",
            "tomorrow",
        ] {
            assert_eq!(Stamp::parse(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("P1D"), Some(DAY));
        assert_eq!(parse_duration("PT1H30M"), Some(5400));
        assert_eq!(parse_duration("P2W"), Some(14 * DAY));
        assert_eq!(parse_duration("-PT15M"), Some(-900));
        assert_eq!(parse_duration("+P1DT2H3M4S"), Some(DAY + 7384));
        assert_eq!(parse_duration(" pt0s "), Some(0));
        for bad in [
            "",
            "P",
            "PT",
            "1D",
            "P1H",
            "PT1D",
            "P1",
            "PT1H2",
            "P1X",
            "P99999999999999999W",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn rules() {
        assert_eq!(rule_until("FREQ=DAILY;COUNT=3"), Some(None));
        assert_eq!(rule_until("FREQ=DAILY"), Some(None));
        assert_eq!(rule_until("FREQ=DAILY;UNTIL=nope"), None);
        assert!(
            rule_until("FREQ=DAILY;UNTIL=20250101;COUNT=2")
                .unwrap()
                .is_none()
        );
        let until = rule_until("freq=weekly;until=20250101T000000Z")
            .unwrap()
            .unwrap();
        assert_eq!(until.secs, 1_735_689_600);
    }

    #[test]
    fn this_and_future_pushes_the_end() {
        let bytes = cal(
            "BEGIN:VEVENT\nUID:a\nDTSTART:20250101T100000Z\nDTEND:20250101T110000Z\n\
             RRULE:FREQ=DAILY;UNTIL=20250110T100000Z\nEND:VEVENT\n\
             BEGIN:VEVENT\nUID:a\nRECURRENCE-ID;RANGE=THISANDFUTURE:20250105T100000Z\n\
             DTSTART:20250107T100000Z\nDTEND:20250107T110000Z\nEND:VEVENT\n",
        );
        let span = time_span(&bytes).unwrap().unwrap();
        let last_shifted_end = 1_736_503_200 + 2 * DAY + 3600; // 2025-01-12T11:00Z
        assert_eq!(span.start, 1_735_725_600);
        assert!(span.end.unwrap() >= last_shifted_end);
    }

    #[test]
    fn mixed_and_unknown_components() {
        let event = "BEGIN:VEVENT\nUID:a\nDTSTART:20250101T100000Z\nEND:VEVENT\n";
        let with_todo = format!("{event}BEGIN:VTODO\nUID:b\nEND:VTODO\n");
        assert_eq!(time_span(&cal(&with_todo)).unwrap(), None);
        let with_x = format!("{event}BEGIN:X-THING\nEND:X-THING\n");
        assert!(time_span(&cal(&with_x)).unwrap().is_some());
        assert_eq!(time_span(&cal("")).unwrap(), None);
        let bare = time_span(event.as_bytes()).unwrap().unwrap();
        assert_eq!(bare.start, 1_735_725_600);
    }

    #[test]
    fn overlaps_is_inclusive() {
        let span = TimeSpan {
            start: 10,
            end: Some(20),
        };
        assert!(span.overlaps(20, 30) && span.overlaps(0, 10) && span.overlaps(12, 13));
        assert!(!span.overlaps(21, 30) && !span.overlaps(0, 9) && !span.overlaps(15, 14));
        assert!(TimeSpan::UNBOUNDED.overlaps(i64::MIN, i64::MIN));
        assert!(TimeSpan::UNBOUNDED.overlaps(i64::MAX, i64::MAX));
    }
}
