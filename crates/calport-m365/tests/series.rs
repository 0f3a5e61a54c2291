//! Series with changed and cancelled occurrences: overrides with RECURRENCE-ID in the
//! master's zone, EXDATEs, and the identity fields of occurrences and deletes.

mod common;

use calport_m365::payload::{self, EventTime, EventType, Shape};
use calport_m365::render::{ItemParts, RenderError, render};
use chrono::{DateTime, Utc};
use common::*;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn weekly_series() -> String {
    let master = parsed("series_weekly_master.json");
    let moved = parsed("series_weekly_exception_moved.json");
    let cancelled = parsed("series_weekly_occurrence_cancelled.json");
    render_series(&master, &[moved, cancelled], &[utc("2025-01-20T08:00:00Z")])
}

#[test]
fn exceptions_read_with_their_series_identity() {
    let moved = parsed("series_weekly_exception_moved.json");
    assert_eq!(moved.event_type, EventType::Exception);
    assert_eq!(moved.series_master_id.as_deref(), Some("AAMkSeriesWeekly="));
    assert_eq!(moved.original_start, Some(utc("2025-01-13T08:00:00Z")));
    assert_eq!(moved.last_modified, Some(utc("2025-01-10T16:45:12Z")));
    let master = parsed("series_weekly_master.json");
    assert_eq!(master.event_type, EventType::SeriesMaster);
    assert!(parsed("series_weekly_occurrence_cancelled.json").is_cancelled);
}

#[test]
fn a_moved_occurrence_is_an_override_and_cancelled_ones_are_exdates() {
    let ics = weekly_series();
    assert_eq!(timezones(&ics), ["Europe/Berlin"]);
    let all = events(&ics);
    assert_eq!(
        all.len(),
        2,
        "the master and one override; the cancelled one is no VEVENT"
    );
    let (master, moved) = (&all[0], &all[1]);

    assert!(has(master, "RRULE"));
    assert!(!has(master, "RECURRENCE-ID"));
    let exdates: Vec<_> = master
        .properties_named("EXDATE")
        .map(|p| (p.param("TZID"), p.value.clone()))
        .collect();
    let berlin = Some("Europe/Berlin".to_owned());
    assert_eq!(
        exdates,
        [
            (berlin.clone(), "20250115T090000".to_owned()),
            (berlin.clone(), "20250120T090000".to_owned()),
        ]
    );

    assert_eq!(raw(moved, "UID"), raw(master, "UID"));
    assert_eq!(raw(moved, "UID"), UID);
    // originalStart 08:00 UTC is 09:00 in Berlin, like the master's DTSTART.
    assert_eq!(
        when(moved, "RECURRENCE-ID"),
        (berlin.clone(), None, "20250113T090000".into())
    );
    assert_eq!(
        when(moved, "DTSTART"),
        (berlin.clone(), None, "20250113T100000".into())
    );
    assert_eq!(when(moved, "DTEND").2, "20250113T103000");
    assert_eq!(text(moved, "SUMMARY"), "Weekly planning (moved)");
    assert_eq!(text(moved, "LOCATION"), "Room 2.01");
    assert_eq!(
        text(moved, "DESCRIPTION"),
        "Moved one hour later, room clash."
    );
    assert_eq!(raw(moved, "STATUS"), "TENTATIVE");
    assert_eq!(raw(moved, "LAST-MODIFIED"), "20250110T164512Z");
    assert!(!has(moved, "RRULE") && !has(moved, "EXDATE"));
    assert_eq!(raw(&moved.children[0], "TRIGGER"), "-PT5M");
    assert_eq!(text(moved, "X-CALPORT-ORIGIN"), ORIGIN);
}

#[test]
fn series_output_does_not_depend_on_the_order_parts_arrived_in() {
    let master = parsed("series_weekly_master.json");
    let moved = parsed("series_weekly_exception_moved.json");
    let mut later = moved.clone();
    later.original_start = Some(utc("2025-01-27T08:00:00Z"));
    later.id = "later".into();
    let cancelled = [utc("2025-02-03T08:00:00Z"), utc("2025-01-20T08:00:00Z")];
    let a = render_series(&master, &[moved.clone(), later.clone()], &cancelled);
    let reversed = [cancelled[1], cancelled[0], cancelled[1]];
    let b = render_series(&master, &[later, moved], &reversed);
    assert_eq!(a, b);
    let all = events(&a);
    assert_eq!(when(&all[1], "RECURRENCE-ID").2, "20250113T090000");
    assert_eq!(when(&all[2], "RECURRENCE-ID").2, "20250127T090000");
    assert_eq!(
        all[0].properties_named("EXDATE").count(),
        2,
        "duplicates dropped"
    );
}

#[test]
fn of_two_versions_of_one_occurrence_the_latest_is_kept() {
    let master = parsed("series_weekly_master.json");
    let moved = parsed("series_weekly_exception_moved.json");
    let mut newer = moved.clone();
    newer.subject = Some("Weekly planning (moved again)".into());
    newer.last_modified = Some(utc("2025-01-12T00:00:00Z"));
    let ics = render_series(&master, &[newer, moved], &[]);
    let all = events(&ics);
    assert_eq!(all.len(), 2);
    assert_eq!(text(&all[1], "SUMMARY"), "Weekly planning (moved again)");
}

#[test]
fn an_occurrence_both_changed_and_cancelled_is_only_an_exdate() {
    let master = parsed("series_weekly_master.json");
    let moved = parsed("series_weekly_exception_moved.json");
    let ics = render_series(&master, &[moved], &[utc("2025-01-13T08:00:00Z")]);
    let all = events(&ics);
    assert_eq!(all.len(), 1);
    assert_eq!(raw(&all[0], "EXDATE"), "20250113T090000");
}

#[test]
fn an_override_in_another_zone_keeps_its_recurrence_id_in_the_masters_zone() {
    let master = parsed("series_weekly_master.json");
    let mut json = fixture_json("series_weekly_exception_moved.json");
    json["start"] = serde_json::json!({"dateTime": "2025-01-13T09:00:00.0000000", "timeZone": "GMT Standard Time"});
    json["end"] = serde_json::json!({"dateTime": "2025-01-13T09:30:00.0000000", "timeZone": "GMT Standard Time"});
    let moved = parse_json(&json).unwrap();
    let ics = render_series(&master, &[moved], &[]);
    assert_eq!(timezones(&ics), ["Europe/Berlin", "Europe/London"]);
    let over = &events(&ics)[1];
    assert_eq!(
        when(over, "RECURRENCE-ID").0.as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(
        when(over, "DTSTART"),
        (Some("Europe/London".into()), None, "20250113T090000".into())
    );
}

#[test]
fn all_day_series_use_dates_for_exdate_and_recurrence_id() {
    let master = parsed("series_absolute_yearly_allday.json");
    assert_eq!(
        master.start,
        EventTime::Date(chrono::NaiveDate::from_ymd_opt(2025, 3, 14).unwrap())
    );
    let mut json = fixture_json("series_weekly_exception_moved.json");
    json["isAllDay"] = true.into();
    json["seriesMasterId"] = "AAMkSeriesAbsYearly=".into();
    json["originalStart"] = "2027-03-14T00:00:00Z".into();
    json["start"] = serde_json::json!({"dateTime": "2027-03-15T00:00:00.0000000", "timeZone": "W. Europe Standard Time"});
    json["end"] = serde_json::json!({"dateTime": "2027-03-16T00:00:00.0000000", "timeZone": "W. Europe Standard Time"});
    let moved = parse_json(&json).unwrap();
    // Midnight UTC, and midnight in Berlin given in UTC, are both that day.
    let cancelled = [utc("2026-03-14T00:00:00Z"), utc("2028-03-13T23:00:00Z")];
    let ics = render_series(&master, &[moved], &cancelled);
    assert!(timezones(&ics).is_empty());
    let all = events(&ics);
    let exdates: Vec<_> = all[0]
        .properties_named("EXDATE")
        .map(|p| (p.param("VALUE"), p.value.clone()))
        .collect();
    let date = Some("DATE".to_owned());
    assert_eq!(
        exdates,
        [
            (date.clone(), "20260314".to_owned()),
            (date.clone(), "20280314".to_owned())
        ]
    );
    assert_eq!(
        when(&all[1], "RECURRENCE-ID"),
        (None, date.clone(), "20270314".into())
    );
    assert_eq!(when(&all[1], "DTSTART"), (None, date, "20270315".into()));
}

#[test]
fn a_utc_series_writes_utc_exdates() {
    let mut json = fixture_json("series_weekly_master.json");
    json["start"]["timeZone"] = "UTC".into();
    json["end"]["timeZone"] = "UTC".into();
    let master = parse_json(&json).unwrap();
    let ics = render_series(&master, &[], &[utc("2025-01-20T09:00:00Z")]);
    let ev = only_event(&ics);
    assert_eq!(when(&ev, "EXDATE"), (None, None, "20250120T090000Z".into()));
    // Timed UTC series: UNTIL is the end of the day in UTC.
    assert_eq!(rrule_parts(&raw(&ev, "RRULE"))["UNTIL"], "20250331T235959Z");
}

#[test]
fn an_exception_without_original_start_cannot_be_placed() {
    let master = parsed("series_weekly_master.json");
    let mut moved = parsed("series_weekly_exception_moved.json");
    moved.original_start = None;
    let exceptions = [moved];
    let parts = ItemParts {
        uid: UID,
        main: &master,
        exceptions: &exceptions,
        cancelled: &[],
        origin: ORIGIN,
        stamp: stamp(),
    };
    assert_eq!(
        render(&parts),
        Err(RenderError::NoOriginalStart(
            "AAMkSeriesWeekly-exc-20250113=".into()
        ))
    );
}

#[test]
fn deleted_occurrences_and_delta_removals_read_with_parse_deleted() {
    let occurrence = payload::parse_deleted(&fixture("graph_occurrence_deleted.json")).unwrap();
    assert_eq!(occurrence.shape, Shape::Graph);
    assert_eq!(occurrence.id, "AAMkSeriesWeekly-occ-20250127=");
    assert_eq!(
        occurrence.series_master_id.as_deref(),
        Some("AAMkSeriesWeekly=")
    );
    assert_eq!(occurrence.original_start, Some(utc("2025-01-27T08:00:00Z")));
    assert_eq!(occurrence.last_modified, Some(utc("2025-01-20T11:11:11Z")));
    assert!(occurrence.ical_uid.is_some());

    let removed = payload::parse_deleted(&fixture("graph_delta_removed.json")).unwrap();
    assert_eq!(removed.shape, Shape::Graph);
    assert_eq!(removed.id, "AAMkAGI2TGuLAAE=");
    assert_eq!(removed.ical_uid, None);
    assert_eq!(removed.original_start, None);
    // A delete has no start: parse, which needs one, says so.
    assert_eq!(
        payload::parse(&fixture("graph_delta_removed.json")).unwrap_err(),
        payload::PayloadError::Missing("start".into())
    );
}
