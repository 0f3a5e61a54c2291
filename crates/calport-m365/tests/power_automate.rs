//! The Power Automate "When an event is added, updated or deleted (V3)" payload
//! (PROTOCOLS 4.5), and the PascalCase V2 one.

mod common;

use calport_m365::payload::{
    self, Action, AttendeeKind, EventTime, EventType, PatternType, PayloadError, RecurrenceRange,
    Sensitivity, Shape, ShowAs,
};
use chrono::{NaiveDate, NaiveDateTime};
use common::*;

fn local(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap()
}

#[test]
fn added_prefers_the_time_with_offset_and_shows_it_in_the_flow_zone() {
    let event = parsed("flow_v3_added.json");
    assert_eq!(event.shape, Shape::PowerAutomate);
    assert_eq!(event.action, Some(Action::Added));
    assert_eq!(event.event_type, EventType::SeriesMaster);
    // startWithTimeZone 09:00+01:00, not `start` (08:00, UTC) read in the zone.
    assert_eq!(
        event.start,
        EventTime::Zoned {
            local: local("2025-02-03T09:00:00"),
            zone: chrono_tz::Europe::Berlin
        }
    );
    assert!(event.body_is_html);
    assert_eq!(event.location.as_deref(), Some("Microsoft Teams Meeting"));
    assert_eq!(event.reminder_minutes, Some(10));
    let emails: Vec<_> = event
        .attendees
        .iter()
        .map(|a| (a.email.as_str(), a.name.as_deref(), a.kind))
        .collect();
    assert_eq!(
        emails,
        [
            ("kim@contoso.example", None, AttendeeKind::Required),
            (
                "jane@fabrikam.example",
                Some("Jane Doe"),
                AttendeeKind::Required
            ),
            ("alex@contoso.example", None, AttendeeKind::Optional),
        ]
    );
    let recurrence = event.recurrence.clone().unwrap();
    assert_eq!(recurrence.pattern, PatternType::Weekly);
    assert_eq!(recurrence.interval, 1);
    assert_eq!(
        recurrence.range,
        RecurrenceRange::EndDate(NaiveDate::from_ymd_opt(2025, 3, 31).unwrap())
    );

    let ics = render_one(&event);
    let ev = only_event(&ics);
    assert_eq!(
        when(&ev, "DTSTART"),
        (Some("Europe/Berlin".into()), None, "20250203T090000".into())
    );
    assert_eq!(when(&ev, "DTEND").2, "20250203T100000");
    assert_eq!(text(&ev, "SUMMARY"), "Team sync, weekly");
    assert_eq!(
        text(&ev, "DESCRIPTION"),
        "Join on Teams.\nNotes: bring numbers"
    );
    assert_eq!(
        prop(&ev, "X-ALT-DESC").param("FMTTYPE").as_deref(),
        Some("text/html")
    );
    // 3 February 2025 is a Monday; the day comes from the start.
    assert_eq!(
        rrule_parts(&raw(&ev, "RRULE")),
        [
            ("FREQ", "WEEKLY"),
            ("INTERVAL", "1"),
            ("BYDAY", "MO"),
            ("WKST", "SU"),
            ("UNTIL", "20250331T215959Z"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    );
    assert_eq!(prop(&ev, "ORGANIZER").value, "mailto:megan@contoso.example");
    assert_eq!(ev.properties_named("ATTENDEE").count(), 3);
    assert_eq!(list(&ev, "CATEGORIES"), ["Blue category"]);
    assert_eq!(raw(&ev, "LAST-MODIFIED"), "20250130T120005Z");
    assert!(has(&ev, "URL"));
}

#[test]
fn updated_without_offset_reads_start_in_the_flow_zone() {
    let event = parsed("flow_v3_updated.json");
    assert_eq!(event.shape, Shape::PowerAutomate);
    assert_eq!(event.action, Some(Action::Updated));
    assert_eq!(event.event_type, EventType::SingleInstance);
    assert_eq!(event.recurrence, None, "recurrence none");
    assert_eq!(event.show_as, ShowAs::OutOfOffice);
    assert_eq!(event.sensitivity, Sensitivity::Private);
    assert!(event.attendees.is_empty());
    let ics = render_one(&event);
    let ev = only_event(&ics);
    assert_eq!(
        when(&ev, "DTSTART"),
        (
            Some("America/New_York".into()),
            None,
            "20250204T140000".into()
        )
    );
    assert_eq!(when(&ev, "DTEND").2, "20250204T144500");
    assert_eq!(timezones(&ics), ["America/New_York"]);
    assert_eq!(
        text(&ev, "DESCRIPTION"),
        "Bring the insurance card.\nCall if late: 555-0100"
    );
    assert!(!has(&ev, "X-ALT-DESC"));
    assert_eq!(raw(&ev, "PRIORITY"), "1");
    assert_eq!(raw(&ev, "CLASS"), "PRIVATE");
    assert_eq!(raw(&ev, "X-MICROSOFT-CDO-BUSYSTATUS"), "OOF");
    assert!(!has(&ev, "RRULE"));
    assert_eq!(text(&ev, "LOCATION"), "Main St 12, Springfield");
}

#[test]
fn deleted_needs_only_the_identity() {
    let deleted = payload::parse_deleted(&fixture("flow_v3_deleted.json")).unwrap();
    assert_eq!(deleted.shape, Shape::PowerAutomate);
    assert_eq!(
        deleted.id,
        "AAMkADAwATM0MDAAMS1hZmY2LTAwAC0wMAoARgAAA0zn-flow-deleted"
    );
    assert_eq!(
        deleted.ical_uid.as_deref(),
        Some("040000008200E00074C5B7101A82E00800000000F30F30F30F30F30")
    );
    assert_eq!(
        deleted.last_modified,
        Some("2025-02-02T07:15:00Z".parse().unwrap())
    );
    let bare = payload::parse_deleted(br#"{"id": "x", "actionType": "deleted"}"#).unwrap();
    assert_eq!((bare.shape, bare.id.as_str()), (Shape::PowerAutomate, "x"));
    assert_eq!(parsed("flow_v3_deleted.json").action, Some(Action::Deleted));
}

#[test]
fn the_v2_pascal_case_payload_reads_too() {
    let event = parsed("flow_v2_pascal.json");
    assert_eq!(event.shape, Shape::PowerAutomate);
    assert_eq!(
        event.id,
        "AAMkADAwATM0MDAAMS1hZmY2LTAwAC0wMAoARgAAA0zn-flow-v2"
    );
    assert_eq!(event.subject.as_deref(), Some("Budget call"));
    assert_eq!(event.action, Some(Action::Added));
    // V2 numeric enums: ShowAs 1 tentative, Sensitivity 3 confidential, Importance 2 high.
    assert_eq!(event.show_as, ShowAs::Tentative);
    assert_eq!(event.sensitivity, Sensitivity::Confidential);
    assert_eq!(event.importance.as_deref(), Some("high"));
    assert_eq!(event.attendees.len(), 1);
    assert_eq!(
        event.organizer.as_ref().unwrap().email,
        "megan@contoso.example"
    );
    let ev = only_event(&render_one(&event));
    assert_eq!(
        when(&ev, "DTSTART"),
        (None, None, "20250205T100000Z".into())
    );
    assert_eq!(when(&ev, "DTEND"), (None, None, "20250205T110000Z".into()));
    assert_eq!(raw(&ev, "STATUS"), "TENTATIVE");
    assert_eq!(raw(&ev, "CLASS"), "CONFIDENTIAL");
    assert_eq!(raw(&ev.children[0], "TRIGGER"), "-PT30M");
}

#[test]
fn an_unknown_flow_zone_with_an_offset_falls_back_to_utc() {
    let mut json = fixture_json("flow_v3_added.json");
    json["timeZone"] = "Mars Standard Time".into();
    let event = parse_json(&json).unwrap();
    assert_eq!(
        event.start,
        EventTime::Zoned {
            local: local("2025-02-03T08:00:00"),
            zone: chrono_tz::UTC
        }
    );
}

#[test]
fn an_unknown_flow_zone_without_an_offset_is_an_error() {
    let mut json = fixture_json("flow_v3_updated.json");
    json["timeZone"] = "Mars Standard Time".into();
    assert_eq!(
        parse_json(&json).unwrap_err(),
        PayloadError::UnknownTimeZone {
            field: "timeZone".into(),
            zone: "Mars Standard Time".into()
        }
    );
}

#[test]
fn a_flow_without_a_zone_reads_start_as_utc() {
    let mut json = fixture_json("flow_v3_updated.json");
    json.as_object_mut().unwrap().remove("timeZone");
    let ev = only_event(&render_one(&parse_json(&json).unwrap()));
    assert_eq!(
        when(&ev, "DTSTART"),
        (None, None, "20250204T140000Z".into())
    );
}

#[test]
fn a_flow_all_day_event_keeps_its_day() {
    let mut json = fixture_json("flow_v3_updated.json");
    json["isAllDay"] = true.into();
    json["start"] = "2025-02-10T00:00:00.0000000".into();
    json["end"] = "2025-02-11T00:00:00.0000000".into();
    // Midnight in Berlin would be the day before in UTC: the day as written counts.
    json["startWithTimeZone"] = "2025-02-10T00:00:00+01:00".into();
    json["endWithTimeZone"] = "2025-02-11T00:00:00+01:00".into();
    json["timeZone"] = "UTC".into();
    let event = parse_json(&json).unwrap();
    assert_eq!(
        event.start,
        EventTime::Date(NaiveDate::from_ymd_opt(2025, 2, 10).unwrap())
    );
    let ev = only_event(&render_one(&event));
    assert_eq!(
        when(&ev, "DTSTART"),
        (None, Some("DATE".into()), "20250210".into())
    );
    assert_eq!(when(&ev, "DTEND").2, "20250211");
}

#[test]
fn flow_recurrence_words_take_their_days_from_the_start() {
    let cases = [
        ("daily", vec![("FREQ", "DAILY")]),
        ("monthly", vec![("FREQ", "MONTHLY"), ("BYMONTHDAY", "4")]),
        (
            "yearly",
            vec![("FREQ", "YEARLY"), ("BYMONTH", "2"), ("BYMONTHDAY", "4")],
        ),
        (
            "Weekly",
            vec![("FREQ", "WEEKLY"), ("BYDAY", "TU"), ("WKST", "SU")],
        ),
    ];
    for (word, expected) in cases {
        let mut json = fixture_json("flow_v3_updated.json");
        json["recurrence"] = word.into();
        json["numberOfOccurences"] = 5.into();
        let event = parse_json(&json).unwrap();
        assert_eq!(event.event_type, EventType::SeriesMaster, "{word}");
        let rule = rrule_parts(&raw(&only_event(&render_one(&event)), "RRULE"));
        for (k, v) in expected {
            assert_eq!(rule.get(k).map(String::as_str), Some(v), "{word} {k}");
        }
        assert_eq!(rule["INTERVAL"], "1");
        assert_eq!(rule["COUNT"], "5", "{word}: numberOfOccurences (sic)");
    }
    let mut json = fixture_json("flow_v3_updated.json");
    json["recurrence"] = "hourly".into();
    assert_eq!(parse_json(&json).unwrap_err().field(), "recurrence");
}

#[test]
fn a_flow_occurrence_is_an_exception_of_its_series() {
    let mut json = fixture_json("flow_v3_updated.json");
    json["seriesMasterId"] = "AAMkMaster=".into();
    json["originalStart"] = "2025-02-04T19:00:00+00:00".into();
    let event = parse_json(&json).unwrap();
    assert_eq!(event.event_type, EventType::Exception);
    assert_eq!(event.series_master_id.as_deref(), Some("AAMkMaster="));
    assert_eq!(
        event.original_start,
        Some("2025-02-04T19:00:00Z".parse().unwrap())
    );
}

#[test]
fn stringified_flags_and_numbers_are_read() {
    let mut json = fixture_json("flow_v3_updated.json");
    json["isReminderOn"] = "True".into();
    json["reminderMinutesBeforeStart"] = "45".into();
    json["isAllDay"] = "false".into();
    let event = parse_json(&json).unwrap();
    assert_eq!(event.reminder_minutes, Some(45));
    assert!(!event.is_all_day);
}
