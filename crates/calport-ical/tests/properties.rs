//! Property tests: folding, hashing, comparing, splitting and editing hold their promises
//! for generated objects.

use std::borrow::Cow;

use calport_ical::{
    Component, Document, Param, Property, Tolerance, compare, content_hash, escape_text, fold_line,
    inspect, parse, set_origin, set_schedule_agent_client, split_by_uid,
};
use proptest::prelude::*;

/// Text with the characters that need escaping, multi-byte characters and quotes.
fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 ,;:\\\\\"^\n'éüßøТết😀€-]{0,90}").unwrap()
}

/// A parameter value: anything but control characters other than newline.
fn param_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 ,;:\"^\n'éТ-]{1,30}").unwrap()
}

#[derive(Clone, Debug)]
struct Event {
    uid: String,
    summary: String,
    description: Option<String>,
    start: u32,
    attendees: Vec<(String, bool)>,
    alarm: Option<u8>,
    /// Days after the first instance; distinct, so RECURRENCE-IDs are unique.
    overrides: Vec<u32>,
}

fn event() -> impl Strategy<Value = Event> {
    (
        "[a-z0-9]{1,12}(@[a-z]{1,8}\\.test)?",
        text(),
        proptest::option::of(text()),
        0u32..1440,
        proptest::collection::vec((param_text(), any::<bool>()), 0..4),
        proptest::option::of(1u8..120),
        proptest::collection::btree_set(1u32..27, 0..3),
    )
        .prop_map(
            |(uid, summary, description, start, attendees, alarm, overrides)| Event {
                uid,
                summary,
                description,
                start,
                attendees,
                alarm,
                overrides: overrides.into_iter().collect(),
            },
        )
}

fn stamp(minutes: u32) -> String {
    let day = 1 + (minutes / 1440) % 28;
    let hour = (minutes / 60) % 24;
    let minute = minutes % 60;
    format!("202501{day:02}T{hour:02}{minute:02}00")
}

fn event_components(e: &Event) -> Vec<Component> {
    let mut master = Component::new("VEVENT");
    let prop = |name: &str, value: String| Property::new(name, value);
    master.properties.push(prop("UID", e.uid.clone()));
    master
        .properties
        .push(prop("DTSTAMP", "20250101T000000Z".into()));
    let mut start = prop("DTSTART", stamp(e.start));
    start
        .params
        .push(Param::new("TZID", vec!["Europe/Berlin".into()]));
    master.properties.push(start);
    master
        .properties
        .push(prop("SUMMARY", escape_text(&e.summary)));
    if let Some(d) = &e.description {
        master.properties.push(prop("DESCRIPTION", escape_text(d)));
    }
    let mut organizer = prop("ORGANIZER", "mailto:org@x.test".into());
    organizer.params.push(Param::new("CN", vec!["Org".into()]));
    master.properties.push(organizer);
    for (i, (cn, rsvp)) in e.attendees.iter().enumerate() {
        let mut a = prop("ATTENDEE", format!("mailto:a{i}@x.test"));
        a.params.push(Param::new("CN", vec![cn.clone()]));
        if *rsvp {
            a.params.push(Param::new("RSVP", vec!["TRUE".into()]));
            a.params
                .push(Param::new("SCHEDULE-AGENT", vec!["SERVER".into()]));
        }
        master.properties.push(a);
    }
    if let Some(minutes) = e.alarm {
        let mut alarm = Component::new("VALARM");
        alarm.properties.push(prop("ACTION", "DISPLAY".into()));
        alarm
            .properties
            .push(prop("TRIGGER", format!("-PT{minutes}M")));
        alarm
            .properties
            .push(prop("DESCRIPTION", escape_text(&e.summary)));
        master.children.push(alarm);
    }
    let mut out = vec![master.clone()];
    if !e.overrides.is_empty() {
        out[0]
            .properties
            .push(prop("RRULE", "FREQ=DAILY;COUNT=60".into()));
    }
    for day in &e.overrides {
        let mut o = Component::new("VEVENT");
        o.properties.push(prop("UID", e.uid.clone()));
        o.properties
            .push(prop("DTSTAMP", "20250101T000000Z".into()));
        let mut rid = prop("RECURRENCE-ID", stamp(e.start + day * 1440));
        rid.params
            .push(Param::new("TZID", vec!["Europe/Berlin".into()]));
        o.properties.push(rid);
        o.properties.push(prop("SUMMARY", format!("moved {day}")));
        out.push(o);
    }
    out
}

fn calendar(events: &[Event]) -> Document {
    let mut cal = Component::new("VCALENDAR");
    cal.properties.push(Property::new("VERSION", "2.0"));
    cal.properties
        .push(Property::new("PRODID", "-//calport//proptest//EN"));
    let mut tz = Component::new("VTIMEZONE");
    tz.properties.push(Property::new("TZID", "Europe/Berlin"));
    let mut std = Component::new("STANDARD");
    std.properties
        .push(Property::new("DTSTART", "19701025T030000"));
    std.properties.push(Property::new("TZOFFSETFROM", "+0200"));
    std.properties.push(Property::new("TZOFFSETTO", "+0100"));
    tz.children.push(std);
    cal.children.push(tz);
    for e in events {
        cal.children.extend(event_components(e));
    }
    Document {
        components: vec![cal],
        ..Document::default()
    }
}

/// Unfolds CRLF output and folds it again every `width` bytes (possibly inside a UTF-8
/// sequence, which RFC 5545 tolerates), with `eol` line endings.
fn refold(bytes: &[u8], width: usize, eol: &[u8]) -> Vec<u8> {
    let text = bytes.to_vec();
    let mut out = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for physical in text.split(|&b| b == b'\n') {
        let physical = physical.strip_suffix(b"\r").unwrap_or(physical);
        match physical.first() {
            Some(b' ') => lines.last_mut().unwrap().extend_from_slice(&physical[1..]),
            Some(_) => lines.push(physical.to_vec()),
            None => {}
        }
    }
    for line in lines {
        let mut chunks = line.chunks(width);
        out.extend_from_slice(chunks.next().unwrap_or_default());
        for chunk in chunks {
            out.extend_from_slice(eol);
            out.push(b'\t');
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(eol);
    }
    out
}

/// Shuffles properties (and children) of every component with a seeded permutation.
fn shuffle(component: &mut Component, seed: &mut u64) {
    let mut next = |n: usize| {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as usize) % n
    };
    for i in (1..component.properties.len()).rev() {
        let j = next(i + 1);
        component.properties.swap(i, j);
    }
    for p in &mut component.properties {
        for i in (1..p.params.len()).rev() {
            let j = next(i + 1);
            p.params.swap(i, j);
        }
    }
    for i in (1..component.children.len()).rev() {
        let j = next(i + 1);
        component.children.swap(i, j);
    }
    for child in &mut component.children {
        shuffle(child, seed);
    }
}

proptest! {
    #[test]
    fn fold_line_keeps_text_and_limits(line in "[a-zA-Z:;éТ😀€ ]{0,400}") {
        let folded = fold_line(&line);
        for physical in folded.split("\r\n") {
            prop_assert!(physical.len() <= 75);
        }
        prop_assert_eq!(folded.replace("\r\n ", ""), line);
    }

    #[test]
    fn serialize_parse_round_trip(events in proptest::collection::vec(event(), 1..4)) {
        let doc = calendar(&events);
        let bytes = doc.to_bytes();
        let again = parse(&bytes).unwrap();
        prop_assert_eq!(&again.components, &doc.components);
        prop_assert_eq!(again.to_bytes(), bytes);
    }

    #[test]
    fn hash_ignores_representation(
        e in event(),
        width in 1usize..80,
        crlf in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let doc = calendar(std::slice::from_ref(&e));
        let bytes = doc.to_bytes();
        let base = content_hash(&bytes).unwrap();
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let refolded = refold(&bytes, width, eol);
        prop_assert_eq!(&content_hash(&refolded).unwrap(), &base);
        let mut shuffled = doc.clone();
        let mut seed = seed;
        shuffle(&mut shuffled.components[0], &mut seed);
        let shuffled_bytes = shuffled.to_bytes();
        prop_assert_eq!(&content_hash(&shuffled_bytes).unwrap(), &base);
        let trimmed = shuffled_bytes.strip_suffix(b"\r\n").unwrap();
        prop_assert_eq!(&content_hash(trimmed).unwrap(), &base);
        prop_assert!(compare(&bytes, &refolded, &Tolerance::strict()).unwrap().is_empty());
        prop_assert!(compare(&bytes, &shuffled_bytes, &Tolerance::strict()).unwrap().is_empty());
    }

    #[test]
    fn hash_and_compare_see_text_changes(
        e in event(),
        other in text(),
        description in any::<bool>(),
    ) {
        let mut changed = e.clone();
        if description {
            prop_assume!(e.description.as_ref() != Some(&other));
            changed.description = Some(other);
        } else {
            prop_assume!(e.summary != other);
            changed.summary = other;
        }
        let a = calendar(&[e]).to_bytes();
        let b = calendar(&[changed]).to_bytes();
        prop_assert_ne!(content_hash(&a).unwrap(), content_hash(&b).unwrap());
        prop_assert!(!compare(&a, &b, &Tolerance::default()).unwrap().is_empty());
    }

    #[test]
    fn split_gives_each_uid_its_components(events in proptest::collection::vec(event(), 1..5)) {
        let mut seen = std::collections::BTreeSet::new();
        let events: Vec<Event> =
            events.into_iter().filter(|e| seen.insert(e.uid.clone())).collect();
        let bytes = calendar(&events).to_bytes();
        let outcome = split_by_uid(&bytes).unwrap();
        prop_assert!(outcome.skipped.is_empty());
        prop_assert_eq!(outcome.items.len(), events.len());
        for (split, e) in outcome.items.iter().zip(&events) {
            prop_assert_eq!(&split.uid, &e.uid);
            let meta = inspect(&split.bytes).unwrap();
            prop_assert_eq!(&meta.uid, &e.uid);
            prop_assert_eq!(meta.uid_count, 1);
            let alone = calendar(std::slice::from_ref(e)).to_bytes();
            if events.len() == 1 {
                prop_assert_eq!(&split.bytes, &bytes);
            } else {
                prop_assert_eq!(&split.bytes, &alone);
            }
        }
    }

    #[test]
    fn schedule_agent_edit_is_minimal(e in event(), width in 20usize..80, crlf in any::<bool>()) {
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let bytes = refold(&calendar(&[e]).to_bytes(), width, eol);
        let edited = set_schedule_agent_client(&bytes).unwrap();
        let doc = parse(&edited).unwrap();
        let mut scheduled = 0;
        doc.components[0].walk(&mut |c| {
            for p in c.properties.iter().filter(|p| p.name == "ORGANIZER" || p.name == "ATTENDEE") {
                assert_eq!(p.param("SCHEDULE-AGENT").as_deref(), Some("CLIENT"));
                assert_eq!(p.params.iter().filter(|x| x.name == "SCHEDULE-AGENT").count(), 1);
                scheduled += 1;
            }
        });
        prop_assert!(scheduled >= 1);
        // Everything but the ORGANIZER/ATTENDEE lines is byte-identical.
        prop_assert_eq!(without_scheduling_lines(&bytes), without_scheduling_lines(&edited));
        prop_assert!(matches!(set_schedule_agent_client(&edited).unwrap(), Cow::Borrowed(_)));
        prop_assert_eq!(content_hash(&bytes).unwrap(), content_hash(&edited).unwrap());
    }

    #[test]
    fn origin_edit_is_minimal(e in event(), origin in text()) {
        let bytes = calendar(&[e]).to_bytes();
        let edited = set_origin(&bytes, &origin).unwrap();
        prop_assert_eq!(inspect(&edited).unwrap().origin, Some(origin.replace('\r', "")));
        prop_assert!(compare(&bytes, &edited, &Tolerance::default()).unwrap().is_empty());
        let again = set_origin(&edited, &origin).unwrap();
        prop_assert!(matches!(again, Cow::Borrowed(_)));
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&bytes);
        let _ = inspect(&bytes);
        let _ = split_by_uid(&bytes);
        let _ = set_schedule_agent_client(&bytes);
        let _ = set_origin(&bytes, "x");
        let _ = compare(&bytes, &bytes, &Tolerance::default());
    }

    #[test]
    fn damaged_calendars_never_panic(
        e in event(),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = calendar(&[e]).to_bytes();
        for (at, byte) in cuts {
            let i = at.index(bytes.len());
            match byte % 3 {
                0 => { bytes.remove(i); }
                1 => bytes.insert(i, byte),
                _ => bytes[i] = byte,
            }
        }
        if let Ok(doc) = parse(&bytes) {
            let _ = parse(&doc.to_bytes()).unwrap();
        }
        let _ = split_by_uid(&bytes);
        let _ = set_schedule_agent_client(&bytes);
        let _ = set_origin(&bytes, "x");
        let _ = compare(&bytes, &bytes, &Tolerance::default());
    }
}

/// The input with the byte ranges of every ORGANIZER/ATTENDEE line cut out.
fn without_scheduling_lines(bytes: &[u8]) -> Vec<u8> {
    let doc = parse(bytes).unwrap();
    let mut ranges = Vec::new();
    doc.components[0].walk(&mut |c| {
        for p in c
            .properties
            .iter()
            .filter(|p| p.name == "ORGANIZER" || p.name == "ATTENDEE")
        {
            ranges.push(p.source_range().unwrap());
        }
    });
    ranges.sort_by_key(|r| r.start);
    let mut out = Vec::new();
    let mut pos = 0;
    for r in ranges {
        out.extend_from_slice(&bytes[pos..r.start]);
        pos = r.end;
    }
    out.extend_from_slice(&bytes[pos..]);
    out
}
