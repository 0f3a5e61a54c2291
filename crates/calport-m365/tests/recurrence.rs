//! Graph recurrence patterns to RRULE (PROTOCOLS 4.3): every pattern type, every range
//! type, UNTIL values worked out by hand, and patterns missing their fields.

mod common;

use std::collections::BTreeMap;

use calport_m365::payload::{EventTime, PatternType, PayloadError, RecurrenceRange};
use calport_m365::recurrence::to_rrule;
use common::*;
use serde_json::json;

/// The RRULE of a fixture's series master, as a map, plus its DTSTART.
fn rule_of(json: &serde_json::Value) -> (BTreeMap<String, String>, When) {
    let event = parse_json(json).unwrap();
    let ics = render_one(&event);
    let ev = only_event(&ics);
    (rrule_parts(&raw(&ev, "RRULE")), when(&ev, "DTSTART"))
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn with_range(name: &str, range: serde_json::Value) -> serde_json::Value {
    let mut json = fixture_json(name);
    json["recurrence"]["range"] = range;
    json
}

fn no_end() -> serde_json::Value {
    json!({"type": "noEnd", "startDate": "2025-01-01", "endDate": "0001-01-01", "numberOfOccurrences": 0})
}

fn numbered(n: u32) -> serde_json::Value {
    json!({"type": "numbered", "startDate": "2025-01-01", "endDate": "0001-01-01", "numberOfOccurrences": n})
}

fn end_date(day: &str) -> serde_json::Value {
    json!({"type": "endDate", "startDate": "2025-01-01", "endDate": day, "numberOfOccurrences": 0})
}

#[test]
fn daily_every_other_day_until_the_end_of_june_in_london() {
    let (rule, start) = rule_of(&fixture_json("series_daily.json"));
    assert_eq!(
        start,
        (Some("Europe/London".into()), None, "20250102T073000".into())
    );
    // 30 June 2025 23:59:59 BST (+01:00) is 22:59:59 UTC.
    assert_eq!(
        rule,
        expect(&[
            ("FREQ", "DAILY"),
            ("INTERVAL", "2"),
            ("UNTIL", "20250630T225959Z")
        ])
    );
}

#[test]
fn weekly_on_several_days_with_monday_as_week_start() {
    let event = parsed("series_weekly_master.json");
    let recurrence = event.recurrence.clone().unwrap();
    assert_eq!(recurrence.pattern, PatternType::Weekly);
    assert_eq!(recurrence.days_of_week, ["MO", "WE"]);
    assert_eq!(recurrence.first_day_of_week, "MO");
    let (rule, start) = rule_of(&fixture_json("series_weekly_master.json"));
    assert_eq!(
        start,
        (Some("Europe/Berlin".into()), None, "20250106T090000".into())
    );
    // 31 March 2025 is after the switch to CEST (+02:00): 23:59:59 local is 21:59:59 UTC.
    assert_eq!(
        rule,
        expect(&[
            ("FREQ", "WEEKLY"),
            ("INTERVAL", "1"),
            ("BYDAY", "MO,WE"),
            ("WKST", "MO"),
            ("UNTIL", "20250331T215959Z"),
        ])
    );
}

#[test]
fn weekly_week_start_defaults_to_sunday() {
    let mut json = fixture_json("series_weekly_master.json");
    json["recurrence"]["pattern"]
        .as_object_mut()
        .unwrap()
        .remove("firstDayOfWeek");
    assert_eq!(rule_of(&json).0["WKST"], "SU");
}

#[test]
fn absolute_monthly() {
    let (rule, start) = rule_of(&fixture_json("series_absolute_monthly.json"));
    assert_eq!(
        start,
        (Some("Asia/Tokyo".into()), None, "20250115T100000".into())
    );
    assert_eq!(
        rule,
        expect(&[("FREQ", "MONTHLY"), ("INTERVAL", "1"), ("BYMONTHDAY", "15")])
    );
}

#[test]
fn relative_monthly_on_the_last_friday() {
    let event = parsed("series_relative_monthly_last.json");
    assert_eq!(event.recurrence.as_ref().unwrap().index, -1);
    let (rule, start) = rule_of(&fixture_json("series_relative_monthly_last.json"));
    assert_eq!(
        start,
        (
            Some("Australia/Sydney".into()),
            None,
            "20250131T170000".into()
        )
    );
    // 31 December 2025 23:59:59 AEDT (+11:00) is 12:59:59 UTC.
    assert_eq!(
        rule,
        expect(&[
            ("FREQ", "MONTHLY"),
            ("INTERVAL", "1"),
            ("BYDAY", "-1FR"),
            ("UNTIL", "20251231T125959Z"),
        ])
    );
}

#[test]
fn relative_monthly_on_the_second_tuesday_twelve_times() {
    let (rule, start) = rule_of(&fixture_json("series_relative_monthly_second.json"));
    assert_eq!(
        start,
        (
            Some("America/Chicago".into()),
            None,
            "20250114T120000".into()
        )
    );
    assert_eq!(
        rule,
        expect(&[
            ("FREQ", "MONTHLY"),
            ("INTERVAL", "1"),
            ("BYDAY", "2TU"),
            ("COUNT", "12")
        ])
    );
}

#[test]
fn relative_monthly_on_several_days_uses_bysetpos() {
    let (rule, start) = rule_of(&fixture_json("series_relative_monthly_weekdays.json"));
    assert_eq!(start.1, None);
    assert!(
        matches!(start.0.as_deref(), Some("Asia/Calcutta" | "Asia/Kolkata")),
        "{start:?}"
    );
    assert_eq!(
        rule,
        expect(&[
            ("FREQ", "MONTHLY"),
            ("INTERVAL", "1"),
            ("BYDAY", "MO,TU,WE,TH,FR"),
            ("BYSETPOS", "1"),
            ("COUNT", "6"),
        ])
    );
}

#[test]
fn absolute_yearly_all_day_until_a_date() {
    let (rule, start) = rule_of(&fixture_json("series_absolute_yearly_allday.json"));
    assert_eq!(start, (None, Some("DATE".into()), "20250314".into()));
    // All-day: UNTIL is a DATE, like DTSTART (RFC 5545 §3.3.10).
    assert_eq!(
        rule,
        expect(&[
            ("FREQ", "YEARLY"),
            ("INTERVAL", "1"),
            ("BYMONTH", "3"),
            ("BYMONTHDAY", "14"),
            ("UNTIL", "20300314"),
        ])
    );
}

#[test]
fn relative_yearly_on_the_fourth_thursday_of_november() {
    let (rule, start) = rule_of(&fixture_json("series_relative_yearly.json"));
    assert_eq!(
        start,
        (
            Some("America/New_York".into()),
            None,
            "20251127T180000".into()
        )
    );
    assert_eq!(
        rule,
        expect(&[
            ("FREQ", "YEARLY"),
            ("INTERVAL", "1"),
            ("BYMONTH", "11"),
            ("BYDAY", "4TH")
        ])
    );
}

#[test]
fn relative_yearly_on_several_days_uses_bysetpos() {
    let mut json = fixture_json("series_relative_yearly.json");
    json["recurrence"]["pattern"]["daysOfWeek"] = json!(["saturday", "sunday"]);
    json["recurrence"]["pattern"]["index"] = "last".into();
    let (rule, _) = rule_of(&json);
    assert_eq!(rule["BYMONTH"], "11");
    assert_eq!(rule["BYDAY"], "SA,SU");
    assert_eq!(rule["BYSETPOS"], "-1");
}

#[test]
fn every_pattern_with_every_range() {
    let fixtures = [
        "series_daily.json",
        "series_weekly_master.json",
        "series_absolute_monthly.json",
        "series_relative_monthly_last.json",
        "series_relative_monthly_second.json",
        "series_relative_monthly_weekdays.json",
        "series_absolute_yearly_allday.json",
        "series_relative_yearly.json",
    ];
    for name in fixtures {
        let (rule, _) = rule_of(&with_range(name, no_end()));
        assert!(
            !rule.contains_key("UNTIL") && !rule.contains_key("COUNT"),
            "{name}: {rule:?}"
        );
        assert!(
            rule.contains_key("INTERVAL"),
            "{name}: INTERVAL is always written"
        );

        let (rule, _) = rule_of(&with_range(name, numbered(7)));
        assert_eq!(rule.get("COUNT").map(String::as_str), Some("7"), "{name}");
        assert!(
            !rule.contains_key("UNTIL"),
            "{name}: COUNT and UNTIL exclude each other"
        );

        let (rule, start) = rule_of(&with_range(name, end_date("2026-01-31")));
        assert!(!rule.contains_key("COUNT"), "{name}");
        let until = &rule["UNTIL"];
        if start.1.as_deref() == Some("DATE") {
            assert_eq!(until, "20260131", "{name}");
        } else {
            // UTC, and within a day of the local end of 31 January.
            assert!(until.ends_with('Z') && until.len() == 16, "{name}: {until}");
            assert!(
                until.starts_with("20260131T") || until.starts_with("20260201T"),
                "{name}: {until}"
            );
        }
    }
}

#[test]
fn until_in_a_zone_east_and_west_of_utc() {
    // Tokyo (+09:00, no DST): 31 January 23:59:59 local is 14:59:59 UTC the same day.
    let (rule, _) = rule_of(&with_range(
        "series_absolute_monthly.json",
        end_date("2026-01-31"),
    ));
    assert_eq!(rule["UNTIL"], "20260131T145959Z");
    // Chicago in winter (-06:00): the next day 05:59:59 UTC.
    let (rule, _) = rule_of(&with_range(
        "series_relative_monthly_second.json",
        end_date("2026-01-31"),
    ));
    assert_eq!(rule["UNTIL"], "20260201T055959Z");
}

#[test]
fn interval_is_written_as_sent() {
    let mut json = fixture_json("series_weekly_master.json");
    json["recurrence"]["pattern"]["interval"] = 3.into();
    assert_eq!(rule_of(&json).0["INTERVAL"], "3");
}

#[test]
fn a_pattern_without_its_fields_is_an_error_naming_the_field() {
    let cases: [(&str, &str, serde_json::Value, &str); 6] = [
        (
            "series_weekly_master.json",
            "daysOfWeek",
            json!([]),
            "recurrence.pattern.daysOfWeek",
        ),
        (
            "series_absolute_monthly.json",
            "dayOfMonth",
            json!(0),
            "recurrence.pattern.dayOfMonth",
        ),
        (
            "series_relative_monthly_last.json",
            "daysOfWeek",
            json!(null),
            "recurrence.pattern.daysOfWeek",
        ),
        (
            "series_absolute_yearly_allday.json",
            "month",
            json!(0),
            "recurrence.pattern.month",
        ),
        (
            "series_absolute_yearly_allday.json",
            "dayOfMonth",
            json!(0),
            "recurrence.pattern.dayOfMonth",
        ),
        (
            "series_relative_yearly.json",
            "month",
            json!(0),
            "recurrence.pattern.month",
        ),
    ];
    for (name, field, value, path) in cases {
        let mut json = fixture_json(name);
        json["recurrence"]["pattern"][field] = value;
        assert_eq!(
            parse_json(&json).unwrap_err(),
            PayloadError::Missing(path.into()),
            "{name} without {field}"
        );
    }
}

#[test]
fn bad_recurrence_values_name_their_field() {
    let field_of = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut json = fixture_json("series_weekly_master.json");
        edit(&mut json);
        parse_json(&json).unwrap_err().field().to_owned()
    };
    assert_eq!(
        field_of(&|j| j["recurrence"]["pattern"]["type"] = "fortnightly".into()),
        "recurrence.pattern.type"
    );
    assert_eq!(
        field_of(&|j| {
            j["recurrence"]["pattern"]
                .as_object_mut()
                .unwrap()
                .remove("type");
        }),
        "recurrence.pattern.type"
    );
    assert_eq!(
        field_of(&|j| j["recurrence"]["pattern"]["daysOfWeek"] = json!(["monday", "someday"])),
        "recurrence.pattern.daysOfWeek"
    );
    assert_eq!(
        field_of(&|j| j["recurrence"]["pattern"]["interval"] = 0.into()),
        "recurrence.pattern.interval"
    );
    assert_eq!(
        field_of(&|j| j["recurrence"]["pattern"]["index"] = "fifth".into()),
        "recurrence.pattern.index"
    );
    assert_eq!(
        field_of(&|j| j["recurrence"]["range"]["type"] = "forever".into()),
        "recurrence.range.type"
    );
    assert_eq!(
        field_of(&|j| j["recurrence"]["range"]["endDate"] = "0001-01-01".into()),
        "recurrence.range.endDate"
    );
    assert_eq!(
        field_of(&|j| j["recurrence"]["range"]["endDate"] = "31/03/2025".into()),
        "recurrence.range.endDate"
    );
    assert_eq!(
        field_of(&|j| j["recurrence"]["range"] = numbered(0)),
        "recurrence.range.numberOfOccurrences"
    );
    assert_eq!(
        field_of(&|j| {
            j["recurrence"].as_object_mut().unwrap().remove("pattern");
        }),
        "recurrence.pattern"
    );
}

#[test]
fn to_rrule_refuses_a_hand_built_pattern_without_its_fields() {
    let mut recurrence = parsed("series_absolute_monthly.json").recurrence.unwrap();
    recurrence.day_of_month = None;
    let start = EventTime::Date(chrono::NaiveDate::from_ymd_opt(2025, 1, 15).unwrap());
    let err = to_rrule(&recurrence, &start).unwrap_err();
    assert!(err.contains("dayOfMonth"), "{err}");

    recurrence.day_of_month = Some(15);
    recurrence.range = RecurrenceRange::Numbered(0);
    assert!(to_rrule(&recurrence, &start).is_err());

    // render reports it as a recurrence error.
    let mut event = parsed("series_absolute_monthly.json");
    event.recurrence.as_mut().unwrap().day_of_month = None;
    let parts = calport_m365::render::ItemParts {
        uid: UID,
        main: &event,
        exceptions: &[],
        cancelled: &[],
        origin: ORIGIN,
        stamp: stamp(),
    };
    assert!(matches!(
        calport_m365::render::render(&parts),
        Err(calport_m365::render::RenderError::Recurrence(_))
    ));
}
