//! Splitting files into items, and the minimal edits on real-looking data.

use std::borrow::Cow;

use calport_core::ComponentKind;
use calport_ical::{
    Document, Tolerance, compare, inspect, parse, set_origin, set_schedule_agent_client,
    split_by_uid, split_vcards,
};

const EVENT: &[u8] = include_bytes!("fixtures/recurring_event.ics");
const MULTI: &[u8] = include_bytes!("fixtures/multi_uid.ics");
const CARDS: &[u8] = include_bytes!("fixtures/three_cards.vcf");

fn tzids(bytes: &[u8]) -> Vec<String> {
    let doc = parse(bytes).unwrap();
    doc.components[0]
        .children
        .iter()
        .filter(|c| c.is_timezone())
        .map(|c| c.property("TZID").unwrap().value.clone())
        .collect()
}

#[test]
fn one_uid_comes_back_unchanged() {
    let out = split_by_uid(EVENT).unwrap();
    assert_eq!(out.items.len(), 1);
    assert_eq!(out.items[0].bytes, EVENT);
    assert_eq!(
        out.items[0].uid,
        "7d1c4a52-2f55-4b8e-9a0e-5c3f1e2d9b10@calport.test"
    );
    assert!(out.skipped.is_empty());
}

#[test]
fn several_uids_and_calendars_are_split() {
    let out = split_by_uid(MULTI).unwrap();
    let uids: Vec<&str> = out.items.iter().map(|s| s.uid.as_str()).collect();
    assert_eq!(
        uids,
        [
            "override-first@calport.test",
            "tokyo@calport.test",
            "utc-only@calport.test"
        ]
    );
    assert_eq!(
        out.skipped,
        ["VTODO (SUMMARY: Task without UID) without UID skipped"]
    );

    for split in &out.items {
        let text = std::str::from_utf8(&split.bytes).unwrap();
        assert!(!text.contains("METHOD"), "{text}");
        // Calendar properties come from the VCALENDAR where the UID first appears.
        let first_calendar = split.uid != "utc-only@calport.test";
        assert_eq!(text.contains("X-WR-CALNAME:Team\r\n"), first_calendar);
        assert!(text.split("\r\n").all(|l| l.len() <= 75));
        assert!(!text.contains("Task without UID"));
        let meta = inspect(&split.bytes).unwrap();
        assert_eq!(meta.uid, split.uid);
        assert_eq!(meta.uid_count, 1);
        assert_eq!(meta.kind, ComponentKind::Event);
    }

    // Master (second VCALENDAR) and override (first) end up together.
    let series = parse(&out.items[0].bytes).unwrap();
    assert_eq!(series.components.len(), 1);
    assert_eq!(
        series.components[0]
            .children
            .iter()
            .filter(|c| c.name == "VEVENT")
            .count(),
        2
    );
    assert_eq!(tzids(&out.items[0].bytes), ["America/New_York"]);
    assert_eq!(tzids(&out.items[1].bytes), ["Asia/Tokyo"]);
    // Nothing referenced: every time zone of the file comes along.
    assert_eq!(
        tzids(&out.items[2].bytes),
        ["America/New_York", "Asia/Tokyo"]
    );
}

#[test]
fn splits_keep_their_meaning() {
    let original = parse(MULTI).unwrap();
    for split in split_by_uid(MULTI).unwrap().items {
        let mut expected = original.clone();
        for cal in &mut expected.components {
            cal.children
                .retain(|c| c.is_timezone() || c.uid() == Some(split.uid.as_str()));
        }
        expected
            .components
            .retain(|cal| cal.children.iter().any(|c| !c.is_timezone()));
        let actual = parse(&split.bytes).unwrap();
        let diffs = calport_ical::compare_documents(&expected, &actual, &Tolerance::default());
        assert!(diffs.is_empty(), "{}: {diffs:#?}", split.uid);
    }
}

#[test]
fn cards_are_split_to_their_original_bytes() {
    let out = split_vcards(CARDS).unwrap();
    assert_eq!(out.items.len(), 2);
    assert_eq!(out.items[0].uid, "card-a");
    assert_eq!(
        out.items[0].bytes,
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-a\r\nFN:Alice\r\nN:;Alice;;;\r\nEND:VCARD\r\n"
    );
    assert_eq!(out.items[1].uid, "card-b");
    assert_eq!(out.skipped, ["VCARD (FN: No Uid) without UID skipped"]);
    // split_by_uid hands card files over as well.
    assert_eq!(split_by_uid(CARDS).unwrap(), out);
    assert!(split_vcards(EVENT).is_err());
}

#[test]
fn schedule_agent_and_origin_on_fixture() {
    let edited = set_schedule_agent_client(EVENT).unwrap();
    let Cow::Owned(edited) = edited else {
        panic!("the fixture has no SCHEDULE-AGENT yet");
    };
    let text = String::from_utf8(edited.clone()).unwrap();
    assert_eq!(
        text.replace("\r\n ", "")
            .matches("SCHEDULE-AGENT=CLIENT")
            .count(),
        4
    );
    // Only ORGANIZER/ATTENDEE lines differ.
    let before: Vec<&str> = std::str::from_utf8(EVENT).unwrap().split("\r\n").collect();
    let after: Vec<&str> = text.split("\r\n").collect();
    fn untouched(line: &str) -> bool {
        !line.starts_with("ORGANIZER") && !line.starts_with("ATTENDEE") && !line.starts_with(' ')
    }
    assert_eq!(
        before
            .into_iter()
            .filter(|l| untouched(l))
            .collect::<Vec<_>>(),
        after
            .into_iter()
            .filter(|l| untouched(l))
            .collect::<Vec<_>>()
    );
    assert!(
        compare(EVENT, &edited, &Tolerance::default())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        calport_ical::content_hash(EVENT).unwrap(),
        calport_ical::content_hash(&edited).unwrap()
    );

    let with_origin = set_origin(&edited, "job:42/dav:alice")
        .unwrap()
        .into_owned();
    let meta = inspect(&with_origin).unwrap();
    assert_eq!(meta.origin.as_deref(), Some("job:42/dav:alice"));
    assert_eq!(
        String::from_utf8_lossy(&with_origin)
            .matches("X-CALPORT-ORIGIN")
            .count(),
        2
    );
    assert!(
        compare(EVENT, &with_origin, &Tolerance::default())
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        meta.content_hash,
        calport_ical::content_hash(EVENT).unwrap()
    );
}

#[test]
fn to_bytes_round_trips_fixtures() {
    for bytes in [EVENT, MULTI, CARDS] {
        let doc = parse(bytes).unwrap();
        let written = doc.to_bytes();
        let again = Document::parse(&written).unwrap();
        assert_eq!(doc, again);
        assert_eq!(again.to_bytes(), written);
    }
}
