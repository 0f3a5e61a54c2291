//! Sync-window spans of calendar items, and UID replacement for "keep both versions".

use calport_ical::{TimeSpan, parse, replace_uid, time_span};
use proptest::prelude::*;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
/// 2025-01-01T00:00:00Z.
const JAN_1: i64 = 1_735_689_600;

fn cal(body: &str) -> Vec<u8> {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

fn event(lines: &str) -> Vec<u8> {
    cal(&format!(
        "BEGIN:VEVENT\nUID:e1\nDTSTAMP:20250101T000000Z\n{lines}END:VEVENT\n"
    ))
}

fn span_of(bytes: &[u8]) -> TimeSpan {
    time_span(bytes).unwrap().expect("events have a span")
}

fn bounded(start: i64, end: i64) -> TimeSpan {
    TimeSpan {
        start,
        end: Some(end),
    }
}

#[test]
fn single_timed_event_in_utc_is_exact() {
    let span = span_of(&event("DTSTART:20250101T100000Z\nDTEND:20250101T113000Z\n"));
    assert_eq!(span, bounded(JAN_1 + 10 * HOUR, JAN_1 + 11 * HOUR + 1800));
}

#[test]
fn event_without_end_is_an_instant() {
    let span = span_of(&event("DTSTART:20250101T100000Z\n"));
    assert_eq!(span, bounded(JAN_1 + 10 * HOUR, JAN_1 + 10 * HOUR));
}

#[test]
fn all_day_event_is_a_day_widened_by_a_day() {
    let span = span_of(&event("DTSTART;VALUE=DATE:20250101\n"));
    assert_eq!(span, bounded(JAN_1 - DAY, JAN_1 + 2 * DAY));
    let span = span_of(&event(
        "DTSTART;VALUE=DATE:20250101\nDTEND;VALUE=DATE:20250104\n",
    ));
    assert_eq!(span, bounded(JAN_1 - DAY, JAN_1 + 4 * DAY));
}

#[test]
fn duration_gives_the_end() {
    let span = span_of(&event("DTSTART:20250101T100000Z\nDURATION:PT1H30M\n"));
    assert_eq!(span, bounded(JAN_1 + 10 * HOUR, JAN_1 + 11 * HOUR + 1800));
    let span = span_of(&event("DTSTART:20250101T100000Z\nDURATION:P2W\n"));
    assert_eq!(span.end, Some(JAN_1 + 10 * HOUR + 14 * DAY));
    let span = span_of(&event("DTSTART:20250101T100000Z\nDURATION:-PT15M\n"));
    assert_eq!(span, bounded(JAN_1 + 10 * HOUR - 900, JAN_1 + 10 * HOUR));
    // DTEND wins over a (not allowed) DURATION.
    let span = span_of(&event(
        "DTSTART:20250101T100000Z\nDTEND:20250101T110000Z\nDURATION:P9D\n",
    ));
    assert_eq!(span.end, Some(JAN_1 + 11 * HOUR));
}

#[test]
fn zoned_and_floating_events_are_widened_by_a_day() {
    let expected = bounded(JAN_1 + 10 * HOUR - DAY, JAN_1 + 11 * HOUR + DAY);
    let zoned = span_of(&event(
        "DTSTART;TZID=Europe/Berlin:20250101T100000\n\
         DTEND;TZID=Europe/Berlin:20250101T110000\n",
    ));
    assert_eq!(zoned, expected);
    let floating = span_of(&event("DTSTART:20250101T100000\nDTEND:20250101T110000\n"));
    assert_eq!(floating, expected);
    // The real times in UTC (Berlin is UTC+1 in winter) lie inside.
    assert!(zoned.start <= JAN_1 + 9 * HOUR && zoned.end >= Some(JAN_1 + 10 * HOUR));
}

#[test]
fn rrule_until_bounds_the_series() {
    let span = span_of(&event(
        "DTSTART:20250101T100000Z\nDTEND:20250101T110000Z\n\
         RRULE:FREQ=WEEKLY;UNTIL=20250301T100000Z\n",
    ));
    let until = JAN_1 + 59 * DAY + 10 * HOUR;
    assert_eq!(span.start, JAN_1 + 10 * HOUR);
    assert_eq!(span.end, Some(until + HOUR + DAY));
}

#[test]
fn rrule_with_count_or_without_limit_is_unbounded() {
    for rule in [
        "FREQ=DAILY;COUNT=3",
        "FREQ=YEARLY",
        "FREQ=DAILY;COUNT=2;UNTIL=20250102",
    ] {
        let span = span_of(&event(&format!(
            "DTSTART:20250101T100000Z\nDTEND:20250101T110000Z\nRRULE:{rule}\n"
        )));
        assert_eq!(
            span,
            TimeSpan {
                start: JAN_1 + 10 * HOUR,
                end: None
            },
            "{rule}"
        );
        assert!(span.overlaps(i64::MAX - 1, i64::MAX));
        assert!(!span.overlaps(0, JAN_1));
    }
}

#[test]
fn override_moved_past_until_extends_the_span() {
    let body = "BEGIN:VEVENT\nUID:e1\nDTSTART:20250101T100000Z\nDTEND:20250101T110000Z\n\
         RRULE:FREQ=DAILY;UNTIL=20250110T100000Z\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:e1\nRECURRENCE-ID:20250105T100000Z\n\
         DTSTART:20250301T100000Z\nDTEND:20250301T120000Z\nEND:VEVENT\n";
    let span = span_of(&cal(body));
    assert_eq!(
        span,
        bounded(JAN_1 + 10 * HOUR, JAN_1 + 59 * DAY + 12 * HOUR)
    );

    // An override moved before the master's start, and one whose RECURRENCE-ID alone
    // lies outside (an override without its master).
    let body = "BEGIN:VEVENT\nUID:e1\nRECURRENCE-ID:20250601T100000Z\n\
         DTSTART:20241201T100000Z\nDTEND:20241201T110000Z\nEND:VEVENT\n";
    let span = span_of(&cal(body));
    assert_eq!(span.start, JAN_1 - 31 * DAY + 10 * HOUR);
    assert_eq!(span.end, Some(JAN_1 + 151 * DAY + 10 * HOUR));
}

#[test]
fn rdates_extend_the_span() {
    let span = span_of(&event(
        "DTSTART:20250110T100000Z\nDTEND:20250110T110000Z\n\
         RDATE:20250101T100000Z,20250120T100000Z\n\
         RDATE;VALUE=PERIOD:20250201T100000Z/PT5H\nEXDATE:20250120T100000Z\n",
    ));
    assert_eq!(
        span,
        bounded(JAN_1 + 10 * HOUR, JAN_1 + 31 * DAY + 15 * HOUR)
    );
    let span = span_of(&event(
        "DTSTART:20250110T100000Z\nDTEND:20250110T110000Z\n\
         RDATE;TZID=Europe/Paris:20250115T100000\n",
    ));
    assert_eq!(
        span,
        bounded(
            JAN_1 + 9 * DAY + 10 * HOUR - DAY,
            JAN_1 + 15 * DAY + 11 * HOUR
        )
    );
}

#[test]
fn todos_journals_and_cards_have_no_span() {
    let todo = cal("BEGIN:VTODO\nUID:t\nDUE:20250101T000000Z\nEND:VTODO\n");
    assert_eq!(time_span(&todo), Ok(None));
    let journal = cal("BEGIN:VJOURNAL\nUID:j\nDTSTART:20250101\nEND:VJOURNAL\n");
    assert_eq!(time_span(&journal), Ok(None));
    let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c\r\nFN:A\r\nEND:VCARD\r\n";
    assert_eq!(time_span(card), Ok(None));
}

#[test]
fn unreadable_times_are_unbounded_not_errors() {
    for lines in [
        "SUMMARY:no start\n",
        "DTSTART:garbage\n",
        "DTSTART:20250230T100000Z\n",
        "DTSTART:20250101T100000Z\nDTEND:soon\n",
        "DTSTART:20250101T100000Z\nDURATION:1 hour\n",
        "DTSTART:20250101T100000Z\nRRULE:FREQ=DAILY;UNTIL=never\n",
        "DTSTART:20250101T100000Z\nRDATE:20250102T100000Z,later\n",
    ] {
        assert_eq!(span_of(&event(lines)), TimeSpan::UNBOUNDED, "{lines}");
    }
    // One unreadable override makes the whole item unbounded.
    let body = "BEGIN:VEVENT\nUID:e1\nDTSTART:20250101T100000Z\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:e1\nRECURRENCE-ID:??\nDTSTART:20250101T100000Z\nEND:VEVENT\n";
    assert_eq!(span_of(&cal(body)), TimeSpan::UNBOUNDED);
    assert!(TimeSpan::UNBOUNDED.overlaps(JAN_1 - 30 * DAY, JAN_1 + 365 * DAY));
}

#[test]
fn only_unusable_bytes_are_errors() {
    assert!(time_span(b"").is_err());
    assert!(time_span(b"hello").is_err());
    assert!(time_span(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\n").is_err());
}

#[test]
fn overlaps_edges() {
    let span = bounded(100, 200);
    assert!(span.overlaps(200, 300), "touching the end counts");
    assert!(span.overlaps(0, 100), "touching the start counts");
    assert!(span.overlaps(0, 1000) && span.overlaps(150, 160));
    assert!(!span.overlaps(201, 300));
    assert!(!span.overlaps(0, 99));
    assert!(!span.overlaps(160, 150), "an empty window");
    let instant = bounded(100, 100);
    assert!(instant.overlaps(100, 100) && !instant.overlaps(101, 200));
    let forever = TimeSpan {
        start: 100,
        end: None,
    };
    assert!(forever.overlaps(i64::MAX, i64::MAX) && !forever.overlaps(i64::MIN, 99));

    // A 30-days-back, 365-days-ahead window around 2025-01-01.
    let (from, to) = (JAN_1 - 30 * DAY, JAN_1 + 365 * DAY);
    let old = span_of(&event("DTSTART:20241101T100000Z\nDTEND:20241101T110000Z\n"));
    assert!(!old.overlaps(from, to));
    let old_series = span_of(&event(
        "DTSTART:20241101T100000Z\nDTEND:20241101T110000Z\nRRULE:FREQ=WEEKLY\n",
    ));
    assert!(old_series.overlaps(from, to));
    let far = span_of(&event("DTSTART;VALUE=DATE:20270101\n"));
    assert!(!far.overlaps(from, to));
}

const OVERRIDDEN: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n\
    END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:old-uid@example.com\r\nSUMMARY:Stand-up\\, daily\r\n\
    DTSTART;TZID=Europe/Berlin:20250101T090000\r\nRRULE:FREQ=DAILY\r\nDESCRIPTION:a long \
    description that is folded over\r\n  two physical lines\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
    TRIGGER:-PT5M\r\nUID:alarm-uid\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n\
    UID:old-uid@example.com\r\nRECURRENCE-ID;TZID=Europe/Berlin:20250102T090000\r\n\
    DTSTART;TZID=Europe/Berlin:20250102T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn replace_uid_changes_every_item_uid_and_nothing_else() {
    let out = replace_uid(OVERRIDDEN.as_bytes(), "new,uid").unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        OVERRIDDEN.replace("UID:old-uid@example.com", "UID:new\\,uid")
    );
    let doc = parse(out.as_bytes()).unwrap();
    let uids: Vec<_> = doc
        .item_components()
        .iter()
        .map(|c| c.property("UID").unwrap().text())
        .collect();
    assert_eq!(uids, ["new,uid", "new,uid"]);
}

#[test]
fn replace_uid_keeps_crlf_and_lf() {
    let out = replace_uid(OVERRIDDEN.as_bytes(), "x").unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert_eq!(text.matches("\r\n").count(), text.matches('\n').count());
    let lf = OVERRIDDEN.replace("\r\n", "\n");
    let out = replace_uid(lf.as_bytes(), "x").unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(!text.contains('\r'));
    assert_eq!(text, lf.replace("UID:old-uid@example.com", "UID:x"));
}

#[test]
fn replace_uid_on_a_card() {
    let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ann\\, B\r\nUID:urn:uuid:1\r\nEND:VCARD\r\n";
    let out = replace_uid(card.as_bytes(), "urn:uuid:a,b").unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        card.replace("UID:urn:uuid:1", "UID:urn:uuid:a,b")
    );
}

/// The civil date of a unix day, for writing generated times.
fn civil(days: i64) -> (i64, i64, i64) {
    let mut year = 1970;
    let mut rest = days;
    let year_len = |y: i64| {
        if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            366
        } else {
            365
        }
    };
    while rest < 0 {
        year -= 1;
        rest += year_len(year);
    }
    while rest >= year_len(year) {
        rest -= year_len(year);
        year += 1;
    }
    let feb = if year_len(year) == 366 { 29 } else { 28 };
    let mut month = 1;
    for len in [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
        if rest < len {
            break;
        }
        rest -= len;
        month += 1;
    }
    (year, month, rest + 1)
}

fn date_time(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(DAY));
    let t = secs.rem_euclid(DAY);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

proptest! {
    #[test]
    fn span_contains_the_event(
        start in -2_000_000_000i64..7_000_000_000,
        length in 0i64..40 * DAY,
        form in 0u8..4,
    ) {
        let end = start + length;
        let lines = match form {
            0 => format!("DTSTART:{}Z\nDTEND:{}Z\n", date_time(start), date_time(end)),
            1 => format!("DTSTART:{}Z\nDURATION:PT{length}S\n", date_time(start)),
            2 => format!(
                "DTSTART;TZID=America/New_York:{}\nDTEND;TZID=America/New_York:{}\n",
                date_time(start),
                date_time(end)
            ),
            _ => format!("DTSTART:{}\nDURATION:P{}DT{}S\n", date_time(start), length / DAY, length % DAY),
        };
        let span = span_of(&event(&lines));
        if form < 2 {
            prop_assert_eq!(span, bounded(start, end));
        } else {
            // Whatever the real offset (at most a day), the event lies inside.
            prop_assert!(span.start <= start - 14 * HOUR);
            prop_assert!(span.end >= Some(end + 14 * HOUR));
        }
        prop_assert!(span.overlaps(start, start) && span.overlaps(end, end));
        prop_assert!(!span.overlaps(span.start - 2, span.start - 1));
    }

    #[test]
    fn weekly_series_with_until_contains_every_occurrence(
        start in 0i64..4_000_000_000,
        length in 0i64..3 * DAY,
        weeks in 0i64..200,
    ) {
        let until = start + weeks * 7 * DAY;
        let span = span_of(&event(&format!(
            "DTSTART:{}Z\nDURATION:PT{length}S\nRRULE:FREQ=WEEKLY;UNTIL={}Z\n",
            date_time(start),
            date_time(until)
        )));
        prop_assert_eq!(span.start, start);
        for week in 0..=weeks {
            let occurrence = start + week * 7 * DAY;
            prop_assert!(span.end >= Some(occurrence + length));
        }
    }
}
