//! Bodies that cannot be used: the error says which field is at fault, so the webhook
//! answer can name it.

mod common;

use calport_m365::payload::{self, PayloadError};
use common::*;
use serde_json::json;

fn graph_error(edit: impl FnOnce(&mut serde_json::Value)) -> PayloadError {
    let mut json = fixture_json("graph_single_meeting.json");
    edit(&mut json);
    parse_json(&json).unwrap_err()
}

fn remove(json: &mut serde_json::Value, path: &[&str]) {
    let (last, parents) = path.split_last().unwrap();
    let mut at = json;
    for key in parents {
        at = &mut at[*key];
    }
    at.as_object_mut().unwrap().remove(*last);
}

#[test]
fn not_json_or_not_an_object() {
    for body in [
        &b"this is not json"[..],
        b"",
        b"{\"id\": ",
        b"[{\"id\": \"x\"}]",
        b"\"text\"",
        b"null",
        b"42",
    ] {
        let err = payload::parse(body).unwrap_err();
        assert!(
            matches!(err, PayloadError::Malformed(_)),
            "{body:?}: {err:?}"
        );
        assert_eq!(err.field(), "body");
        let err = payload::parse_deleted(body).unwrap_err();
        assert!(matches!(err, PayloadError::Malformed(_)), "{body:?}");
    }
    let err = payload::parse(b"[1, 2]").unwrap_err();
    assert!(err.to_string().contains("array"), "{err}");
}

#[test]
fn missing_id() {
    assert_eq!(
        graph_error(|j| remove(j, &["id"])),
        PayloadError::Missing("id".into())
    );
    assert_eq!(
        graph_error(|j| j["id"] = json!(null)),
        PayloadError::Missing("id".into())
    );
    assert_eq!(
        graph_error(|j| j["id"] = json!("")),
        PayloadError::Missing("id".into())
    );
    assert_eq!(graph_error(|j| j["id"] = json!(17)).field(), "id");
    assert_eq!(
        payload::parse_deleted(br#"{"iCalUId": "abc"}"#).unwrap_err(),
        PayloadError::Missing("id".into())
    );
    let flow = {
        let mut json = fixture_json("flow_v3_added.json");
        remove(&mut json, &["id"]);
        parse_json(&json).unwrap_err()
    };
    assert_eq!(flow, PayloadError::Missing("id".into()));
}

#[test]
fn missing_start_or_end() {
    assert_eq!(
        graph_error(|j| remove(j, &["start"])),
        PayloadError::Missing("start".into())
    );
    assert_eq!(
        graph_error(|j| remove(j, &["end"])),
        PayloadError::Missing("end".into())
    );
    assert_eq!(
        graph_error(|j| remove(j, &["start", "dateTime"])),
        PayloadError::Missing("start.dateTime".into())
    );
    assert_eq!(
        graph_error(|j| j["start"] = json!(20250115)).field(),
        "start"
    );
    let mut flow = fixture_json("flow_v3_updated.json");
    remove(&mut flow, &["end"]);
    assert_eq!(
        parse_json(&flow).unwrap_err(),
        PayloadError::Missing("end".into())
    );
}

#[test]
fn bad_date_times() {
    for bad in [
        "2025-13-45T99:00:00.0000000",
        "yesterday",
        "15/01/2025 14:30",
    ] {
        let err = graph_error(|j| j["start"]["dateTime"] = bad.into());
        assert!(
            matches!(&err, PayloadError::Invalid { field, .. } if field == "start.dateTime"),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert_eq!(
        graph_error(|j| j["end"]["dateTime"] = "soon".into()).field(),
        "end.dateTime"
    );
    assert_eq!(
        graph_error(|j| j["lastModifiedDateTime"] = "last week".into()).field(),
        "lastModifiedDateTime"
    );
    let mut flow = fixture_json("flow_v3_added.json");
    flow["startWithTimeZone"] = "not a time".into();
    assert_eq!(parse_json(&flow).unwrap_err().field(), "startWithTimeZone");
}

#[test]
fn unknown_time_zone() {
    assert_eq!(
        graph_error(|j| j["start"]["timeZone"] = "Mars Standard Time".into()),
        PayloadError::UnknownTimeZone {
            field: "start.timeZone".into(),
            zone: "Mars Standard Time".into()
        }
    );
    let err = graph_error(|j| j["end"]["timeZone"] = "Mars Standard Time".into());
    assert_eq!(err.field(), "end.timeZone");
    assert!(err.to_string().contains("Mars Standard Time"), "{err}");
}

#[test]
fn wrong_types_name_their_field() {
    let cases: [(&str, serde_json::Value); 8] = [
        ("isAllDay", json!("maybe")),
        ("subject", json!(["a"])),
        ("attendees", json!("everyone")),
        ("categories", json!([1, 2])),
        ("reminderMinutesBeforeStart", json!(-5)),
        ("organizer", json!(3)),
        ("body", json!(true)),
        ("recurrence", json!(7)),
    ];
    for (field, value) in cases {
        let err = graph_error(|j| j[field] = value.clone());
        assert!(
            matches!(err, PayloadError::Invalid { .. }),
            "{field}: {err:?}"
        );
        assert_eq!(err.field(), field);
    }
    assert_eq!(
        graph_error(|j| j["attendees"] = json!([{"emailAddress": "x"}])).field(),
        "attendees.0.emailAddress"
    );
}

#[test]
fn messages_are_lower_case_and_name_the_field() {
    let err = graph_error(|j| remove(j, &["start", "dateTime"]));
    assert_eq!(err.to_string(), "missing required field start.dateTime");
    let err = graph_error(|j| j["isAllDay"] = json!("maybe"));
    assert!(err.to_string().starts_with("field isAllDay: "), "{err}");
}
