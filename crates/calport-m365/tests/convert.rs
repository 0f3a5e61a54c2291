//! Graph events to iCalendar: single events, all-day events, the fields every event
//! carries, and the wire format. Every check parses the output back.

mod common;

use calport_m365::payload::{AttendeeKind, EventTime, EventType, Sensitivity, Shape, ShowAs};
use chrono::{NaiveDate, NaiveDateTime};
use common::*;

fn local(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").unwrap()
}

#[test]
fn single_timed_event_in_w_europe_keeps_its_wall_clock_and_zone() {
    let event = parsed("graph_single_meeting.json");
    assert_eq!(event.shape, Shape::Graph);
    assert_eq!(event.event_type, EventType::SingleInstance);
    assert_eq!(
        event.start,
        EventTime::Zoned {
            local: local("2025-01-15T14:30:00"),
            zone: chrono_tz::Europe::Berlin
        }
    );

    let ics = render_one(&event);
    let ev = only_event(&ics);
    assert_eq!(
        when(&ev, "DTSTART"),
        (Some("Europe/Berlin".into()), None, "20250115T143000".into())
    );
    assert_eq!(
        when(&ev, "DTEND"),
        (Some("Europe/Berlin".into()), None, "20250115T160000".into())
    );
    assert_eq!(timezones(&ics), ["Europe/Berlin"]);
    assert_eq!(raw(&ev, "UID"), UID);
    assert_eq!(raw(&ev, "DTSTAMP"), "20250201T120000Z");
    assert_eq!(
        text(&ev, "SUMMARY"),
        "Quarterly review: budget, hiring; roadmap"
    );
    assert_eq!(
        raw(&ev, "SUMMARY"),
        "Quarterly review: budget\\, hiring\\; roadmap"
    );
    assert_eq!(text(&ev, "LOCATION"), "Room 4.12, Main building");
    assert_eq!(raw(&ev, "CREATED"), "20241220T140311Z");
    assert_eq!(raw(&ev, "LAST-MODIFIED"), "20250102T100000Z");
    assert_eq!(
        raw(&ev, "URL"),
        "https://outlook.office365.com/owa/?itemid=AAMkAGI2TGuLAAA%3D&exvsurl=1&path=/calendar/item"
    );
    assert_eq!(raw(&ev, "STATUS"), "CONFIRMED");
    assert_eq!(raw(&ev, "TRANSP"), "OPAQUE");
    assert_eq!(raw(&ev, "CLASS"), "PRIVATE");
    assert_eq!(raw(&ev, "PRIORITY"), "1");
    assert_eq!(raw(&ev, "X-MICROSOFT-CDO-BUSYSTATUS"), "BUSY");
    assert_eq!(
        list(&ev, "CATEGORIES"),
        ["Red category", "Project, Alpha; Phase 2"]
    );
    assert_eq!(text(&ev, "X-CALPORT-ORIGIN"), ORIGIN);
    assert!(!has(&ev, "RRULE"));
}

#[test]
fn the_graph_ical_uid_is_kept_but_not_used_as_uid() {
    let event = parsed("graph_single_meeting.json");
    let graph_uid = event.ical_uid.clone().unwrap();
    let ev = only_event(&render_one(&event));
    assert_eq!(raw(&ev, "UID"), UID);
    assert_ne!(raw(&ev, "UID"), graph_uid);
    assert_eq!(text(&ev, calport_m365::render::ICALUID_PROPERTY), graph_uid);
}

#[test]
fn html_body_becomes_text_and_the_html_is_kept() {
    let event = parsed("graph_single_meeting.json");
    assert!(event.body_is_html);
    let ev = only_event(&render_one(&event));
    assert_eq!(
        text(&ev, "DESCRIPTION"),
        "Agenda for Q1 & Q2:\n- Budget\n- Hiring <2 people>\nRoom: 4.12 – bring laptops"
    );
    let alt = prop(&ev, "X-ALT-DESC");
    assert_eq!(alt.param("FMTTYPE").as_deref(), Some("text/html"));
    // TEXT has no CR: the HTML comes back with its line breaks as LF.
    assert_eq!(alt.text(), event.body.unwrap().replace("\r\n", "\n"));
}

#[test]
fn an_empty_html_document_writes_no_description() {
    let event = parsed("series_daily.json");
    let ev = &events(&render_one(&event))[0];
    assert!(!has(ev, "DESCRIPTION"));
    assert!(!has(ev, "X-ALT-DESC"));
}

#[test]
fn organizer_and_attendees_with_roles_answers_and_no_scheduling() {
    let event = parsed("graph_single_meeting.json");
    assert_eq!(event.attendees.len(), 5);
    assert_eq!(event.attendees[4].kind, AttendeeKind::Resource);
    assert_eq!(event.attendees[1].name.as_deref(), Some("Doe, Jane"));

    let ics = render_one(&event);
    let ev = only_event(&ics);
    let organizer = prop(&ev, "ORGANIZER");
    assert_eq!(organizer.value, "mailto:megan@contoso.example");
    assert_eq!(organizer.param("CN").as_deref(), Some("Megan Bowen"));
    assert_eq!(organizer.param("SCHEDULE-AGENT").as_deref(), Some("CLIENT"));

    let attendees: Vec<_> = ev.properties_named("ATTENDEE").collect();
    let row = |i: usize| {
        let a = attendees[i];
        (
            a.value.as_str().to_owned(),
            a.param("CN"),
            a.param("ROLE"),
            a.param("PARTSTAT"),
            a.param("CUTYPE"),
            a.param("SCHEDULE-AGENT"),
        )
    };
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(attendees.len(), 5);
    assert_eq!(
        row(0),
        (
            "mailto:kim@contoso.example".into(),
            s("Kim Akers"),
            s("REQ-PARTICIPANT"),
            s("ACCEPTED"),
            None,
            s("CLIENT")
        )
    );
    assert_eq!(
        row(1),
        (
            "mailto:jane.doe@fabrikam.example".into(),
            s("Doe, Jane"),
            s("REQ-PARTICIPANT"),
            s("DECLINED"),
            None,
            s("CLIENT")
        )
    );
    assert_eq!(row(2).2, s("OPT-PARTICIPANT"));
    assert_eq!(row(2).3, s("TENTATIVE"));
    assert_eq!(row(3).1, s("Müller, Jürgen"));
    assert_eq!(row(3).3, s("NEEDS-ACTION"));
    assert_eq!(row(4).4, s("RESOURCE"));
    assert_eq!(row(4).3, s("ACCEPTED"));
    // A CN with a comma is quoted on the wire (RFC 5545 §3.2).
    assert!(ics.replace("\r\n ", "").contains("CN=\"Doe, Jane\""));
}

#[test]
fn reminders_become_display_alarms() {
    let event = parsed("graph_single_meeting.json");
    assert_eq!(event.reminder_minutes, Some(15));
    let ev = only_event(&render_one(&event));
    let alarms: Vec<_> = ev.children.iter().filter(|c| c.name == "VALARM").collect();
    assert_eq!(alarms.len(), 1);
    assert_eq!(raw(alarms[0], "ACTION"), "DISPLAY");
    assert_eq!(raw(alarms[0], "TRIGGER"), "-PT15M");
    assert_eq!(text(alarms[0], "DESCRIPTION"), event.subject.unwrap());

    // isReminderOn false: no alarm, whatever the minutes say.
    let off = parsed("graph_allday_single.json");
    assert_eq!(off.reminder_minutes, None);
    assert!(only_event(&render_one(&off)).children.is_empty());

    // A reminder at the start itself.
    let at_start = only_event(&render_one(&parsed("graph_multiday_timed.json")));
    assert_eq!(raw(&at_start.children[0], "TRIGGER"), "PT0M");
}

#[test]
fn all_day_single_day() {
    let event = parsed("graph_allday_single.json");
    assert!(event.is_all_day);
    assert_eq!(
        event.start,
        EventTime::Date(NaiveDate::from_ymd_opt(2025, 1, 6).unwrap())
    );
    let ics = render_one(&event);
    let ev = only_event(&ics);
    assert_eq!(
        when(&ev, "DTSTART"),
        (None, Some("DATE".into()), "20250106".into())
    );
    // DTEND is exclusive: the next day.
    assert_eq!(
        when(&ev, "DTEND"),
        (None, Some("DATE".into()), "20250107".into())
    );
    assert!(timezones(&ics).is_empty());
    assert_eq!(raw(&ev, "TRANSP"), "TRANSPARENT");
    assert_eq!(raw(&ev, "X-MICROSOFT-CDO-BUSYSTATUS"), "FREE");
    assert_eq!(raw(&ev, "CLASS"), "CONFIDENTIAL");
    assert_eq!(raw(&ev, "PRIORITY"), "9");
    assert!(!has(&ev, "LOCATION"), "an empty displayName is no location");
    assert!(!has(&ev, "DESCRIPTION"));
}

#[test]
fn all_day_over_several_days() {
    let event = parsed("graph_allday_multi.json");
    let ics = render_one(&event);
    let ev = only_event(&ics);
    assert_eq!(when(&ev, "DTSTART").2, "20250310");
    assert_eq!(
        when(&ev, "DTEND"),
        (None, Some("DATE".into()), "20250313".into())
    );
    assert!(timezones(&ics).is_empty());
    assert_eq!(raw(&ev, "X-MICROSOFT-CDO-BUSYSTATUS"), "OOF");
    assert_eq!(raw(&ev, "CLASS"), "PRIVATE");
    assert_eq!(raw(&ev, "STATUS"), "CONFIRMED");
    assert_eq!(
        text(&ev, "DESCRIPTION"),
        "Three days away.\nBring boots; it rains."
    );
    assert!(!has(&ev, "X-ALT-DESC"));
    assert_eq!(raw(&ev.children[0], "TRIGGER"), "-PT1080M");
}

#[test]
fn all_day_end_not_after_start_lasts_one_day() {
    let mut json = fixture_json("graph_allday_single.json");
    json["end"]["dateTime"] = "2025-01-06T00:00:00.0000000".into();
    let ev = only_event(&render_one(&parse_json(&json).unwrap()));
    assert_eq!(when(&ev, "DTEND").2, "20250107");
}

#[test]
fn multi_day_timed_event_across_a_dst_change() {
    let event = parsed("graph_multiday_timed.json");
    let ics = render_one(&event);
    let ev = only_event(&ics);
    assert_eq!(
        when(&ev, "DTSTART"),
        (
            Some("America/New_York".into()),
            None,
            "20250308T220000".into()
        )
    );
    assert_eq!(
        when(&ev, "DTEND"),
        (
            Some("America/New_York".into()),
            None,
            "20250310T063000".into()
        )
    );
    assert_eq!(timezones(&ics), ["America/New_York"]);
    assert_eq!(raw(&ev, "X-MICROSOFT-CDO-BUSYSTATUS"), "WORKINGELSEWHERE");
    assert_eq!(raw(&ev, "TRANSP"), "OPAQUE");
    assert!(
        !has(&ev, "PRIORITY"),
        "normal importance writes no PRIORITY"
    );
    assert_eq!(raw(&ev, "CLASS"), "PUBLIC");
}

#[test]
fn start_and_end_in_different_zones_get_a_vtimezone_each() {
    let mut json = fixture_json("graph_single_meeting.json");
    json["end"] = serde_json::json!({"dateTime": "2025-01-15T16:00:00.0000000", "timeZone": "GMT Standard Time"});
    let ics = render_one(&parse_json(&json).unwrap());
    let ev = only_event(&ics);
    assert_eq!(when(&ev, "DTEND").0.as_deref(), Some("Europe/London"));
    assert_eq!(timezones(&ics), ["Europe/Berlin", "Europe/London"]);
}

#[test]
fn show_as_and_sensitivity_mapping() {
    let cases = [
        ("free", ShowAs::Free, "TRANSPARENT", "CONFIRMED", "FREE"),
        (
            "tentative",
            ShowAs::Tentative,
            "OPAQUE",
            "TENTATIVE",
            "TENTATIVE",
        ),
        ("busy", ShowAs::Busy, "OPAQUE", "CONFIRMED", "BUSY"),
        ("oof", ShowAs::OutOfOffice, "OPAQUE", "CONFIRMED", "OOF"),
        (
            "workingElsewhere",
            ShowAs::WorkingElsewhere,
            "OPAQUE",
            "CONFIRMED",
            "WORKINGELSEWHERE",
        ),
        ("unknown", ShowAs::Busy, "OPAQUE", "CONFIRMED", "BUSY"),
        ("somethingNew", ShowAs::Busy, "OPAQUE", "CONFIRMED", "BUSY"),
    ];
    for (word, show_as, transp, status, busy) in cases {
        let mut json = fixture_json("graph_single_meeting.json");
        json["showAs"] = word.into();
        let event = parse_json(&json).unwrap();
        assert_eq!(event.show_as, show_as, "{word}");
        let ev = only_event(&render_one(&event));
        assert_eq!(raw(&ev, "TRANSP"), transp, "{word}");
        assert_eq!(raw(&ev, "STATUS"), status, "{word}");
        assert_eq!(raw(&ev, "X-MICROSOFT-CDO-BUSYSTATUS"), busy, "{word}");
    }
    let classes = [
        ("normal", Sensitivity::Normal, "PUBLIC"),
        ("personal", Sensitivity::Personal, "PRIVATE"),
        ("private", Sensitivity::Private, "PRIVATE"),
        ("confidential", Sensitivity::Confidential, "CONFIDENTIAL"),
    ];
    for (word, sensitivity, class) in classes {
        let mut json = fixture_json("graph_single_meeting.json");
        json["sensitivity"] = word.into();
        let event = parse_json(&json).unwrap();
        assert_eq!(event.sensitivity, sensitivity);
        assert_eq!(raw(&only_event(&render_one(&event)), "CLASS"), class);
    }
}

#[test]
fn a_cancelled_event_is_status_cancelled() {
    let mut json = fixture_json("graph_single_meeting.json");
    json["isCancelled"] = true.into();
    json["showAs"] = "tentative".into();
    let ev = only_event(&render_one(&parse_json(&json).unwrap()));
    assert_eq!(raw(&ev, "STATUS"), "CANCELLED");
}

#[test]
fn a_zone_sent_as_iana_or_display_name_resolves_too() {
    for name in [
        "Europe/Berlin",
        "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
    ] {
        let mut json = fixture_json("graph_single_meeting.json");
        json["start"]["timeZone"] = name.into();
        let ics = render_one(&parse_json(&json).unwrap());
        let (tzid, _, value) = when(&only_event(&ics), "DTSTART");
        assert_eq!(tzid.as_deref(), Some("Europe/Berlin"), "{name}");
        assert_eq!(value, "20250115T143000");
    }
}

#[test]
fn utc_times_are_written_with_z_and_need_no_vtimezone() {
    for zone in ["UTC", "tzone://Microsoft/Utc", "Etc/UTC"] {
        let mut json = fixture_json("graph_single_meeting.json");
        json["start"]["timeZone"] = zone.into();
        json["end"]["timeZone"] = zone.into();
        let ics = render_one(&parse_json(&json).unwrap());
        let ev = only_event(&ics);
        assert_eq!(
            when(&ev, "DTSTART"),
            (None, None, "20250115T143000Z".into()),
            "{zone}"
        );
        assert_eq!(when(&ev, "DTEND"), (None, None, "20250115T160000Z".into()));
        assert!(timezones(&ics).is_empty());
    }
}

#[test]
fn a_graph_time_with_an_offset_is_shown_in_the_named_zone() {
    let mut json = fixture_json("graph_single_meeting.json");
    json["start"]["dateTime"] = "2025-01-15T13:30:00Z".into();
    let ev = only_event(&render_one(&parse_json(&json).unwrap()));
    assert_eq!(when(&ev, "DTSTART").2, "20250115T143000");
}

#[test]
fn no_zone_means_utc() {
    let mut json = fixture_json("graph_single_meeting.json");
    json["start"].as_object_mut().unwrap().remove("timeZone");
    let event = parse_json(&json).unwrap();
    assert_eq!(
        event.start,
        EventTime::Zoned {
            local: local("2025-01-15T14:30:00"),
            zone: chrono_tz::UTC
        }
    );
}

#[test]
fn long_unicode_lines_are_folded_without_splitting_characters() {
    let mut json = fixture_json("graph_single_meeting.json");
    let subject =
        "Überprüfung der Jahresplanung — 日本語のテキスト, mit Kommas; und Semikolons 🎉🎉🎉 "
            .repeat(4);
    json["subject"] = subject.clone().into();
    let ics = render_one(&parse_json(&json).unwrap());
    assert!(
        ics.lines().any(|l| l.starts_with(' ')),
        "something was folded"
    );
    // Folding never cuts a UTF-8 sequence: every physical line is valid UTF-8 on its own.
    for line in ics.as_bytes().split(|b| *b == b'\n') {
        assert!(std::str::from_utf8(line).is_ok());
    }
    assert_eq!(text(&only_event(&ics), "SUMMARY"), subject);
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let event = parsed("graph_single_meeting.json");
    assert_eq!(render_one(&event), render_one(&event));
}

#[test]
fn every_fixture_renders_to_a_well_formed_item() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".json") || name.contains("deleted") || name.contains("removed") {
            continue;
        }
        let event = parsed(&name);
        let ics = render_one(&event); // checks the wire format
        assert_eq!(events(&ics).len(), 1, "{name}");
        count += 1;
    }
    assert!(count >= 15, "{count}");
}
