//! VTIMEZONE components (RFC 5545 §3.6.5) derived from chrono-tz.
//!
//! chrono-tz has no list of transitions, so they are found by sampling: the UTC offset
//! is read once a day and every change is bisected to the second. A zone whose
//! transitions follow one yearly "n-th weekday of the month" rule (checked against the
//! real transitions) gets one STANDARD and one DAYLIGHT observance with an RRULE;
//! any other zone gets one observance per transition, without RRULE.

use std::fmt::Write as _;

use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Weekday,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

const DAY: i64 = 86_400;

/// Years (after the first) over which a derived RRULE must reproduce the transitions.
const RULE_CHECK_YEARS: i32 = 6;

/// Years (after the first) covered by explicit observances when no RRULE fits.
const EXPLICIT_YEARS: i32 = 11;

/// The VTIMEZONE component (BEGIN:VTIMEZONE … END:VTIMEZONE, CRLF lines) for `zone`,
/// valid for local times from `from_year` on; TZID is the IANA name.
///
/// Observances start in `from_year - 1`, so events early in `from_year` (and the
/// southern summer that began the year before) are covered. Each observance's DTSTART
/// is the local wall time just before its onset, in the TZOFFSETFROM offset
/// (RFC 5545 §3.6.5). A zone without transitions from `from_year - 1` through
/// `from_year + 10` gets a single STANDARD observance from 1970.
pub fn vtimezone(zone: Tz, from_year: i32) -> String {
    // Keep the arithmetic inside chrono's range; calendars care about nothing wider.
    let from_year = from_year.clamp(1, 9_000);
    let first = from_year - 1;
    let last = first + EXPLICIT_YEARS - 1;
    let found = transitions(
        zone,
        year_start(first) - 2 * DAY,
        year_start(last + 1) + 2 * DAY,
    );
    let window: Vec<&Transition> = found
        .iter()
        .filter(|t| (first..=last).contains(&t.local_before().year()))
        .collect();

    let observances = if window.is_empty() {
        let at = year_start(from_year);
        let offset = offset_at(zone, at);
        vec![Observance {
            daylight: false,
            start: NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap_or_default()
                .and_time(NaiveTime::MIN),
            from: offset,
            to: offset,
            name: name_at(zone, at),
            rrule: None,
        }]
    } else {
        yearly_rule(&window, first).unwrap_or_else(|| {
            window
                .iter()
                .map(|t| Observance {
                    daylight: t.daylight,
                    start: t.local_before(),
                    from: t.from,
                    to: t.to,
                    name: t.name.clone(),
                    rrule: None,
                })
                .collect()
        })
    };

    let mut out = String::new();
    out.push_str("BEGIN:VTIMEZONE\r\n");
    let _ = write!(out, "TZID:{}\r\n", zone.name());
    for o in &observances {
        o.write(&mut out);
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

/// One change of the UTC offset.
#[derive(Debug, Clone)]
struct Transition {
    /// The first second (UTC, Unix time) with the new offset.
    at: i64,
    /// Offset before, seconds east of UTC.
    from: i32,
    /// Offset after, seconds east of UTC.
    to: i32,
    /// Abbreviation after the change.
    name: Option<String>,
    /// Whether the new offset is daylight saving time (positive DST part).
    daylight: bool,
}

impl Transition {
    /// The local wall time of the onset, read in the offset before it.
    fn local_before(&self) -> NaiveDateTime {
        naive_utc(self.at + i64::from(self.from))
    }
}

/// An observance sub-component (STANDARD or DAYLIGHT).
#[derive(Debug)]
struct Observance {
    daylight: bool,
    start: NaiveDateTime,
    from: i32,
    to: i32,
    name: Option<String>,
    rrule: Option<String>,
}

impl Observance {
    fn write(&self, out: &mut String) {
        let kind = if self.daylight {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        let _ = write!(out, "BEGIN:{kind}\r\n");
        let _ = write!(out, "DTSTART:{}\r\n", self.start.format("%Y%m%dT%H%M%S"));
        let _ = write!(out, "TZOFFSETFROM:{}\r\n", format_offset(self.from));
        let _ = write!(out, "TZOFFSETTO:{}\r\n", format_offset(self.to));
        if let Some(rrule) = &self.rrule {
            let _ = write!(out, "RRULE:{rrule}\r\n");
        }
        if let Some(name) = &self.name {
            let _ = write!(out, "TZNAME:{name}\r\n");
        }
        let _ = write!(out, "END:{kind}\r\n");
    }
}

/// A yearly onset: the `week`-th (−1: last) `weekday` of `month` at `time`, local.
#[derive(Debug, Clone, Copy)]
struct Rule {
    month: u32,
    week: i8,
    weekday: Weekday,
    time: NaiveTime,
}

impl Rule {
    /// The rules that put an onset at `local`: the n-th weekday of the month, and when
    /// the day is in the last seven days of the month also the last such weekday (the
    /// last one first, it is the usual rule).
    fn candidates(local: NaiveDateTime) -> Vec<Rule> {
        let date = local.date();
        let base = Rule {
            month: date.month(),
            week: 0,
            weekday: date.weekday(),
            time: local.time(),
        };
        let nth = i8::try_from((date.day() - 1) / 7 + 1).unwrap_or(1);
        let mut rules = Vec::with_capacity(2);
        if date.day() + 7 > days_in_month(date.year(), date.month()) {
            rules.push(Rule { week: -1, ..base });
        }
        rules.push(Rule { week: nth, ..base });
        rules
    }

    /// The onset in `year`, local time.
    fn in_year(&self, year: i32) -> Option<NaiveDateTime> {
        let date = if self.week > 0 {
            NaiveDate::from_weekday_of_month_opt(
                year,
                self.month,
                self.weekday,
                u8::try_from(self.week).ok()?,
            )?
        } else {
            let mut date =
                NaiveDate::from_ymd_opt(year, self.month, days_in_month(year, self.month))?;
            while date.weekday() != self.weekday {
                date = date.pred_opt()?;
            }
            date
        };
        Some(date.and_time(self.time))
    }

    fn rrule(&self) -> String {
        let day = match self.weekday {
            Weekday::Mon => "MO",
            Weekday::Tue => "TU",
            Weekday::Wed => "WE",
            Weekday::Thu => "TH",
            Weekday::Fri => "FR",
            Weekday::Sat => "SA",
            Weekday::Sun => "SU",
        };
        format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={}{day}",
            self.month, self.week
        )
    }
}

/// Two observances with RRULEs, when the two transitions of `first` (local year) follow
/// weekday rules that reproduce every transition through `first + RULE_CHECK_YEARS`.
fn yearly_rule(window: &[&Transition], first: i32) -> Option<Vec<Observance>> {
    let check_last = first + RULE_CHECK_YEARS;
    let checked: Vec<&Transition> = window
        .iter()
        .copied()
        .filter(|t| t.local_before().year() <= check_last)
        .collect();
    let onsets: Vec<&Transition> = checked
        .iter()
        .copied()
        .filter(|t| t.local_before().year() == first)
        .collect();
    let [a, b] = onsets[..] else {
        return None;
    };
    if a.to != b.from || b.to != a.from {
        return None;
    }
    for rule_a in Rule::candidates(a.local_before()) {
        for rule_b in Rule::candidates(b.local_before()) {
            if reproduces(&checked, first, check_last, &[(rule_a, a), (rule_b, b)]) {
                let daylight_a = a.to > b.to;
                return Some(vec![
                    observance(a, rule_a, daylight_a),
                    observance(b, rule_b, !daylight_a),
                ]);
            }
        }
    }
    None
}

fn observance(t: &Transition, rule: Rule, daylight: bool) -> Observance {
    Observance {
        daylight,
        start: t.local_before(),
        from: t.from,
        to: t.to,
        name: t.name.clone(),
        rrule: Some(rule.rrule()),
    }
}

/// Whether `rules` give exactly the transitions in `actual` for years `first..=last`.
fn reproduces(
    actual: &[&Transition],
    first: i32,
    last: i32,
    rules: &[(Rule, &Transition)],
) -> bool {
    let mut expected = Vec::new();
    for year in first..=last {
        for (rule, onset) in rules {
            let Some(local) = rule.in_year(year) else {
                return false;
            };
            let at = local.and_utc().timestamp() - i64::from(onset.from);
            expected.push((at, onset.from, onset.to));
        }
    }
    expected.sort_unstable();
    let actual: Vec<(i64, i32, i32)> = actual.iter().map(|t| (t.at, t.from, t.to)).collect();
    expected == actual
}

/// Every change of the UTC offset in `[start, end)`.
fn transitions(zone: Tz, start: i64, end: i64) -> Vec<Transition> {
    let mut found = Vec::new();
    let mut t = start;
    let mut offset = offset_at(zone, t);
    while t < end {
        let next = (t + DAY).min(end);
        let next_offset = offset_at(zone, next);
        if next_offset == offset {
            t = next;
            continue;
        }
        // offset_at(lo) == offset != offset_at(hi)
        let (mut lo, mut hi) = (t, next);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if offset_at(zone, mid) == offset {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let to = offset_at(zone, hi);
        let tz_offset = zone.offset_from_utc_datetime(&naive_utc(hi));
        found.push(Transition {
            at: hi,
            from: offset,
            to,
            name: tz_offset.abbreviation().map(str::to_owned),
            daylight: tz_offset.dst_offset().num_seconds() > 0,
        });
        // A second change within the same day is found from here on.
        t = hi;
        offset = to;
    }
    found
}

fn offset_at(zone: Tz, at: i64) -> i32 {
    zone.offset_from_utc_datetime(&naive_utc(at))
        .fix()
        .local_minus_utc()
}

fn name_at(zone: Tz, at: i64) -> Option<String> {
    zone.offset_from_utc_datetime(&naive_utc(at))
        .abbreviation()
        .map(str::to_owned)
}

fn naive_utc(at: i64) -> NaiveDateTime {
    DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// 1 January of `year`, 00:00 UTC, as Unix time.
fn year_start(year: i32) -> i64 {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp()
}

fn days_in_month(year: i32, month: u32) -> u32 {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// `±HHMM`, or `±HHMMSS` when the seconds are not zero (RFC 5545 §3.3.14).
fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}
