//! Property tests: whatever text an event carries, rendering does not panic, writes
//! well-formed lines, and the text comes back unchanged when parsed.

mod common;

use calport_m365::html;
use calport_m365::payload::{
    Attendee, AttendeeKind, EventTime, PatternType, Recurrence, RecurrenceRange,
};
use calport_m365::recurrence::to_rrule;
use chrono::NaiveDate;
use common::*;
use proptest::prelude::*;

/// Text with the characters iCalendar treats specially, and some that need several
/// octets.
fn nasty_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(",".to_owned()),
            Just(";".to_owned()),
            Just(":".to_owned()),
            Just("\\".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("\"".to_owned()),
            Just("^".to_owned()),
            Just("BEGIN:VEVENT".to_owned()),
            Just("END:VCALENDAR".to_owned()),
            Just("<p>&amp;</p>".to_owned()),
            "[a-zA-Z0-9 ]{1,12}",
            "\\PC{1,8}",
            Just("🎉".to_owned()),
            Just("\u{0}\u{7}\u{1b}\t\u{7f}\u{85}".to_owned()),
            Just("日本語".to_owned()),
        ],
        0..30,
    )
    .prop_map(|parts| parts.concat())
}

/// What a TEXT value becomes: iCalendar has one kind of line break, and no other
/// control characters than tabs.
fn as_text(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn render_never_panics_and_writes_well_formed_items(
        subject in nasty_text(),
        body in nasty_text(),
        place in nasty_text(),
        category in nasty_text(),
        name in nasty_text(),
        html_body in any::<bool>(),
        all_day in any::<bool>(),
        minutes in proptest::option::of(0u32..100_000),
    ) {
        let mut event = parsed("series_weekly_master.json");
        event.subject = Some(subject.clone());
        event.body = Some(body);
        event.body_is_html = html_body;
        event.location = Some(place);
        event.categories = vec![category.clone(), "plain".into()];
        event.reminder_minutes = minutes;
        event.attendees = vec![Attendee {
            name: Some(name),
            email: "a@x.example".into(),
            kind: AttendeeKind::Optional,
            response: None,
        }];
        if all_day {
            let day = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
            event.start = EventTime::Date(day);
            event.end = EventTime::Date(day.succ_opt().unwrap());
        }
        let ics = render_series(&event, &[], &["2025-01-13T08:00:00Z".parse().unwrap()]); // checks the wire format
        let ev = only_event(&ics);
        prop_assert_eq!(text(&ev, "SUMMARY"), as_text(&subject));
        let categories = list(&ev, "CATEGORIES");
        let kept = as_text(category.trim());
        if kept.is_empty() {
            prop_assert_eq!(categories, ["plain"]);
        } else {
            prop_assert_eq!(categories, [kept, "plain".to_owned()]);
        }
        prop_assert_eq!(ev.properties_named("ATTENDEE").count(), 1);
    }

    #[test]
    fn html_to_text_is_tidy(input in "\\PC{0,200}", markup in nasty_text()) {
        for source in [input, markup] {
            let out = html::to_text(&source);
            prop_assert_eq!(out.trim(), out.as_str());
            prop_assert!(!out.contains("\n\n\n"), "{:?}", out);
            prop_assert!(!out.contains("  "), "{:?}", out);
        }
    }

    #[test]
    fn to_rrule_never_panics(
        pattern in prop::sample::select(vec![
            PatternType::Daily, PatternType::Weekly, PatternType::AbsoluteMonthly,
            PatternType::RelativeMonthly, PatternType::AbsoluteYearly, PatternType::RelativeYearly,
        ]),
        interval in 0u32..100,
        days in prop::collection::vec(prop::sample::select(vec!["SU", "MO", "TU", "WE", "TH", "FR", "SA"]), 0..7),
        day_of_month in proptest::option::of(1u32..32),
        month in proptest::option::of(1u32..13),
        index in -2i32..6,
        end in proptest::option::of(0i64..20_000),
        count in proptest::option::of(0u32..1000),
        zone in prop::sample::select(vec!["Pacific/Apia", "America/Santiago", "Europe/Berlin", "Asia/Kathmandu", "UTC"]),
    ) {
        let range = match (end, count) {
            (Some(days), _) => RecurrenceRange::EndDate(
                NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + chrono::Duration::days(days),
            ),
            (None, Some(n)) => RecurrenceRange::Numbered(n),
            (None, None) => RecurrenceRange::NoEnd,
        };
        let recurrence = Recurrence {
            pattern,
            interval,
            days_of_week: days.iter().map(|d| (*d).to_owned()).collect(),
            first_day_of_week: "MO".into(),
            day_of_month,
            month,
            index,
            range,
        };
        let start = EventTime::Zoned {
            local: NaiveDate::from_ymd_opt(2025, 1, 6).unwrap().and_hms_opt(9, 0, 0).unwrap(),
            zone: zone.parse().unwrap(),
        };
        if let Ok(rule) = to_rrule(&recurrence, &start) {
            prop_assert!(rule.starts_with("FREQ="));
            prop_assert!(!(rule.contains("UNTIL=") && rule.contains("COUNT=")));
        }
    }
}
