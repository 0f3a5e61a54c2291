//! Helpers shared by the conversion tests: fixtures, rendering with fixed parts, and
//! checks on the iCalendar that came out — always by parsing it back with
//! `calport_ical`, never by comparing with a string the code wrote.
#![allow(dead_code)]

use std::collections::BTreeMap;

use calport_ical::{Component, Document, Property, split_unescaped, unescape_text};
use calport_m365::payload::{self, EventPayload};
use calport_m365::render::{ItemParts, render};
use chrono::{DateTime, TimeZone, Utc};

/// The UID every test item is written with.
pub const UID: &str = "3f1c7a52-m365-test@calport.example";
/// The origin every test item carries.
pub const ORIGIN: &str = "m365:src-1:event";

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture as JSON, for tests that change one field.
pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).expect("fixture is JSON")
}

/// A fixture read with [`payload::parse`].
pub fn parsed(name: &str) -> EventPayload {
    payload::parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Parses a JSON value.
pub fn parse_json(value: &serde_json::Value) -> Result<EventPayload, payload::PayloadError> {
    payload::parse(value.to_string().as_bytes())
}

/// The DTSTAMP the tests pass.
pub fn stamp() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 2, 1, 12, 0, 0).unwrap()
}

/// Renders a series (or single event) and checks the wire format.
pub fn render_series(
    main: &EventPayload,
    exceptions: &[EventPayload],
    cancelled: &[DateTime<Utc>],
) -> String {
    let parts = ItemParts {
        uid: UID,
        main,
        exceptions,
        cancelled,
        origin: ORIGIN,
        stamp: stamp(),
    };
    let ics = render(&parts).expect("renders");
    check_wire(&ics);
    ics
}

/// Renders one event.
pub fn render_one(main: &EventPayload) -> String {
    render_series(main, &[], &[])
}

/// Parses an item and returns its VCALENDAR.
pub fn calendar(ics: &str) -> Component {
    let doc = Document::parse(ics.as_bytes()).expect("calport_ical parses the output");
    assert_eq!(doc.components.len(), 1, "one VCALENDAR");
    assert!(
        doc.warnings.is_empty(),
        "parser warnings: {:?}",
        doc.warnings
    );
    doc.components[0].clone()
}

/// The VEVENTs of an item.
pub fn events(ics: &str) -> Vec<Component> {
    calendar(ics)
        .children
        .into_iter()
        .filter(|c| c.name == "VEVENT")
        .collect()
}

/// The one VEVENT of a single event.
pub fn only_event(ics: &str) -> Component {
    let mut all = events(ics);
    assert_eq!(all.len(), 1, "one VEVENT");
    all.remove(0)
}

/// The TZIDs of the VTIMEZONEs of an item.
pub fn timezones(ics: &str) -> Vec<String> {
    calendar(ics)
        .children
        .iter()
        .filter(|c| c.name == "VTIMEZONE")
        .map(|c| {
            c.property("TZID")
                .expect("VTIMEZONE has TZID")
                .value
                .clone()
        })
        .collect()
}

/// The property `name` of `component`, which must be there.
pub fn prop<'a>(component: &'a Component, name: &str) -> &'a Property {
    component
        .property(name)
        .unwrap_or_else(|| panic!("{} has no {name}", component.name))
}

/// The TEXT value of `name`, unescaped.
pub fn text(component: &Component, name: &str) -> String {
    prop(component, name).text()
}

/// The raw value of `name`.
pub fn raw(component: &Component, name: &str) -> String {
    prop(component, name).value.clone()
}

/// Whether `component` has a property `name`.
pub fn has(component: &Component, name: &str) -> bool {
    component.property(name).is_some()
}

/// The parts of an RRULE value as a map (`FREQ` → `WEEKLY`, …).
pub fn rrule_parts(value: &str) -> BTreeMap<String, String> {
    value
        .split(';')
        .map(|part| {
            let (k, v) = part.split_once('=').expect("NAME=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The values of a multi-valued TEXT property (CATEGORIES), unescaped.
pub fn list(component: &Component, name: &str) -> Vec<String> {
    split_unescaped(&raw(component, name), ',')
        .into_iter()
        .map(unescape_text)
        .collect()
}

/// A time property as written: (TZID, VALUE, value).
pub type When = (Option<String>, Option<String>, String);

/// A DTSTART-like property as (TZID parameter, VALUE parameter, value).
pub fn when(component: &Component, name: &str) -> When {
    let p = prop(component, name);
    (p.param("TZID"), p.param("VALUE"), p.value.clone())
}

/// RFC 5545 §3.1 on the bytes: CRLF line ends only, physical lines of at most 75
/// octets, BEGIN/END balanced, a VTIMEZONE for every TZID used.
pub fn check_wire(ics: &str) {
    assert!(ics.ends_with("\r\n"), "ends with CRLF");
    let body = &ics[..ics.len() - 2];
    let mut stack: Vec<&str> = Vec::new();
    for line in body.split("\r\n") {
        assert!(!line.contains(['\r', '\n']), "bare CR or LF in {line:?}");
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        if let Some(name) = line.strip_prefix("BEGIN:") {
            stack.push(name);
        } else if let Some(name) = line.strip_prefix("END:") {
            assert_eq!(stack.pop(), Some(name), "END:{name} closes what it opened");
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(ics.ends_with("END:VCALENDAR\r\n"));

    let cal = calendar(ics);
    assert_eq!(raw(&cal, "VERSION"), "2.0");
    assert_eq!(raw(&cal, "PRODID"), "-//calport//m365//EN");
    assert_eq!(raw(&cal, "CALSCALE"), "GREGORIAN");
    let zones = timezones(ics);
    let mut used = Vec::new();
    for child in &cal.children {
        child.walk(&mut |c| {
            if c.name != "VTIMEZONE" {
                used.extend(c.properties.iter().filter_map(|p| p.param("TZID")));
            }
        });
    }
    for tzid in used {
        assert!(zones.contains(&tzid), "TZID {tzid} without VTIMEZONE");
    }
    let mut sorted = zones.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), zones.len(), "one VTIMEZONE per zone");
}
