//! Semantic comparison: rewrites a server may make compare equal, real damage does not.

use calport_ical::{Difference, DifferenceKind, Tolerance, compare};

const EVENT: &str = include_str!("fixtures/recurring_event.ics");
const EVENT_SERVER_COPY: &str = include_str!("fixtures/recurring_event_server_copy.ics");
const FIRST_ALARM: &str =
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n";
const CARD: &str = include_str!("fixtures/card_v4.vcf");
const CARD_SERVER_COPY: &str = include_str!("fixtures/card_v3_server_copy.vcf");

fn diffs(expected: &str, actual: &str) -> Vec<Difference> {
    compare(
        expected.as_bytes(),
        actual.as_bytes(),
        &Tolerance::default(),
    )
    .unwrap()
}

fn assert_same(expected: &str, actual: &str) {
    let d = diffs(expected, actual);
    assert!(d.is_empty(), "unexpected differences:\n{}", render(&d));
}

fn assert_differs(expected: &str, actual: &str) -> Vec<Difference> {
    let d = diffs(expected, actual);
    assert!(!d.is_empty(), "no difference found");
    d
}

fn render(d: &[Difference]) -> String {
    d.iter().map(|x| format!("  {x}\n")).collect()
}

/// Replaces exactly one occurrence, so a fixture edit cannot silently miss.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once");
    text.replacen(from, to, 1)
}

#[test]
fn server_rewritten_event_is_equal() {
    assert_same(EVENT, EVENT_SERVER_COPY);
}

#[test]
fn identical_and_refolded_lf_event_is_equal() {
    assert_same(EVENT, EVENT);
    let lf = EVENT.replace("\r\n", "\n");
    assert_same(EVENT, &lf);
    let unfolded = EVENT.replace("\r\n ", "");
    assert_same(EVENT, &unfolded);
}

#[test]
fn strict_tolerance_sees_server_rewrites() {
    let strict = compare(
        EVENT.as_bytes(),
        EVENT_SERVER_COPY.as_bytes(),
        &Tolerance::strict(),
    )
    .unwrap();
    let props: Vec<_> = strict.iter().filter_map(|d| d.property.clone()).collect();
    for expected in [
        "PRODID", "DTSTAMP", "CLASS", "RRULE", "LOCATION", "ATTENDEE",
    ] {
        assert!(
            props.iter().any(|p| p == expected),
            "{expected} not reported"
        );
    }
    // Representation alone is forgiven even in strict mode.
    let lf = EVENT.replace("\r\n", "\n").replace("\n ", "");
    assert!(
        compare(EVENT.as_bytes(), lf.as_bytes(), &Tolerance::strict())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn utc_forms_are_the_same_instant() {
    let utc = edit(
        EVENT,
        "CREATED:20241220T080000Z",
        "DTSTART;TZID=Etc/UTC:20241220T080000",
    );
    let z = edit(
        EVENT,
        "CREATED:20241220T080000Z",
        "DTSTART:20241220T080000Z",
    );
    assert_same(&utc, &z);
    let utc = edit(
        EVENT,
        "CREATED:20241220T080000Z",
        "DUE;TZID=UTC:20241220T080000",
    );
    let z = edit(EVENT, "CREATED:20241220T080000Z", "DUE:20241220T080000Z");
    assert_same(&z, &utc);
}

#[test]
fn added_vtimezone_is_forgiven() {
    let utc_event = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\n\
        DTSTART:20250101T100000Z\nEND:VEVENT\nEND:VCALENDAR\n";
    let with_tz = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VTIMEZONE\nTZID:Europe/Paris\n\
        END:VTIMEZONE\nBEGIN:VEVENT\nUID:x\nDTSTART:20250101T100000Z\nEND:VEVENT\n\
        END:VCALENDAR\n";
    assert_same(utc_event, with_tz);
}

#[test]
fn vcard_v4_to_v3_server_copy_is_equal() {
    assert_same(CARD, CARD_SERVER_COPY);
    let strict = compare(
        CARD.as_bytes(),
        CARD_SERVER_COPY.as_bytes(),
        &Tolerance::strict(),
    )
    .unwrap();
    let props: Vec<_> = strict.iter().filter_map(|d| d.property.clone()).collect();
    for expected in ["VERSION", "N", "PRODID"] {
        assert!(
            props.iter().any(|p| p == expected),
            "{expected} not reported"
        );
    }
}

#[test]
fn mojibake_is_flagged() {
    let garbled = edit(
        EVENT,
        "SUMMARY:Tết planning\\, weekly",
        "SUMMARY:Táº¿t planning\\, weekly",
    );
    let d = assert_differs(EVENT, &garbled);
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(d[0].kind, DifferenceKind::Changed);
    assert_eq!(d[0].property.as_deref(), Some("SUMMARY"));
    assert_eq!(d[0].expected.as_deref(), Some("Tết planning, weekly"));
    assert_eq!(d[0].actual.as_deref(), Some("Táº¿t planning, weekly"));
    assert!(
        d[0].path
            .starts_with("VCALENDAR/VEVENT[uid=7d1c4a52-2f55-4b8e-9a0e-5c3f1e2d9b10@calport.test]")
    );
}

#[test]
fn null_body_is_flagged() {
    let d = assert_differs(EVENT, "(null)");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].kind, DifferenceKind::Unreadable);
    assert!(d[0].to_string().contains("(null)"), "{}", d[0]);
    assert!(compare(b"(null)", EVENT.as_bytes(), &Tolerance::default()).is_err());
}

#[test]
fn moved_dtstart_is_flagged() {
    let moved = edit(
        EVENT,
        "DTSTART;TZID=Europe/Berlin:20250106T090000",
        "DTSTART;TZID=Europe/Berlin:20250106T100000",
    );
    let d = assert_differs(EVENT, &moved);
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(d[0].property.as_deref(), Some("DTSTART"));
    assert_eq!(d[0].kind, DifferenceKind::Changed);
}

#[test]
fn missing_override_is_flagged() {
    let start = EVENT.rfind("BEGIN:VEVENT").unwrap();
    let end = EVENT.rfind("END:VEVENT\r\n").unwrap() + "END:VEVENT\r\n".len();
    let without = format!("{}{}", &EVENT[..start], &EVENT[end..]);
    let d = assert_differs(EVENT, &without);
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(d[0].kind, DifferenceKind::Missing);
    assert!(d[0].property.is_none());
    let label = d[0].expected.as_deref().unwrap();
    assert!(
        label.contains("recurrence-id=TZID=Europe/Berlin:20250113T090000"),
        "{label}"
    );
}

#[test]
fn missing_alarm_is_flagged() {
    let without = edit(EVENT, FIRST_ALARM, "");
    let d = assert_differs(EVENT, &without);
    assert!(
        d.iter()
            .any(|x| x.kind == DifferenceKind::Missing || x.property.as_deref() == Some("TRIGGER")),
        "{}",
        render(&d)
    );
}

#[test]
fn changed_description_is_flagged() {
    let changed = edit(EVENT, "1. Budget\\; travel", "1. Budget\\; hotels");
    let d = assert_differs(EVENT, &changed);
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(d[0].property.as_deref(), Some("DESCRIPTION"));
    assert!(d[0].to_string().contains("DESCRIPTION changed"), "{}", d[0]);
}

#[test]
fn added_and_removed_properties_are_flagged() {
    let extra = edit(
        EVENT,
        "SEQUENCE:2\r\n",
        "SEQUENCE:2\r\nSTATUS:CANCELLED\r\n",
    );
    let d = assert_differs(EVENT, &extra);
    assert_eq!(
        (d[0].kind, d[0].property.as_deref()),
        (DifferenceKind::Extra, Some("STATUS"))
    );
    let d = assert_differs(&extra, EVENT);
    assert_eq!(
        (d[0].kind, d[0].property.as_deref()),
        (DifferenceKind::Missing, Some("STATUS"))
    );
    let lost = edit(EVENT, "X-CALPORT-TEST:keep me\r\n", "");
    let d = assert_differs(EVENT, &lost);
    assert_eq!(d[0].property.as_deref(), Some("X-CALPORT-TEST"));
}

#[test]
fn changed_card_values_are_flagged() {
    let changed =
        CARD_SERVER_COPY.replace("ITEM1.EMAIL;TYPE=WORK:soren", "ITEM1.EMAIL;TYPE=HOME:soren");
    let d = assert_differs(CARD, &changed);
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(d[0].property.as_deref(), Some("item1.EMAIL"));
    let changed = CARD_SERVER_COPY.replace("N:Smith;Søren", "N:Smith;Soren");
    assert_differs(CARD, &changed);
}

#[test]
#[ignore = "prints sample reports for eyeballing"]
fn print_sample_reports() {
    let strict = compare(
        EVENT.as_bytes(),
        EVENT_SERVER_COPY.as_bytes(),
        &Tolerance::strict(),
    )
    .unwrap();
    eprintln!("strict:\n{}", render(&strict));
    let without = edit(EVENT, FIRST_ALARM, "");
    eprintln!("alarm:\n{}", render(&diffs(EVENT, &without)));
    let strict = compare(
        CARD.as_bytes(),
        CARD_SERVER_COPY.as_bytes(),
        &Tolerance::strict(),
    )
    .unwrap();
    eprintln!("card strict:\n{}", render(&strict));
}

#[test]
fn vcard_21_forms_compare_to_their_meaning() {
    // Bare type parameters, quoted-printable with a soft line break and CRLF inside the
    // text, charset parameters: the same card as a 3.0 server would store it.
    let v21 = "BEGIN:VCARD\nVERSION:2.1\nUID:q\nTEL;WORK;VOICE:123\n\
        NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Gr=C3=BC=C3=9Fe=0D=0Aaus =\nK=C3=B6ln\n\
        LABEL;QUOTED-PRINTABLE:Stra=C3=9Fe\nEND:VCARD\n";
    let v3 = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:q\r\nTEL;TYPE=voice,work:123\r\n\
        NOTE:Grüße\\naus Köln\r\nLABEL:Straße\r\nEND:VCARD\r\n";
    assert_same(v21, v3);
    let d = diffs(v21, &v3.replace("Köln", "Koeln"));
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(d[0].property.as_deref(), Some("NOTE"));
}

#[test]
fn timezone_rules() {
    // A changed, used VTIMEZONE is a difference by default …
    let changed = edit(EVENT, "TZOFFSETTO:+0200", "TZOFFSETTO:+0300");
    let d = assert_differs(EVENT, &changed);
    assert!(
        d[0].path.contains("VTIMEZONE[tzid=Europe/Berlin]/DAYLIGHT"),
        "{}",
        render(&d)
    );
    // … but not when time zones are not compared.
    let lenient = Tolerance {
        ignore_vtimezones: true,
        ..Tolerance::default()
    };
    assert!(
        compare(EVENT.as_bytes(), changed.as_bytes(), &lenient)
            .unwrap()
            .is_empty()
    );
    // A missing used VTIMEZONE is reported.
    let start = EVENT.find("BEGIN:VTIMEZONE").unwrap();
    let end = EVENT.find("END:VTIMEZONE\r\n").unwrap() + "END:VTIMEZONE\r\n".len();
    let without = format!("{}{}", &EVENT[..start], &EVENT[end..]);
    let d = assert_differs(EVENT, &without);
    assert_eq!(d[0].kind, DifferenceKind::Missing);
    assert_eq!(
        d[0].expected.as_deref(),
        Some("VTIMEZONE[tzid=Europe/Berlin]")
    );
}

#[test]
fn server_added_values_must_match() {
    let private = edit(
        EVENT_SERVER_COPY,
        "END:VEVENT\nBEGIN:VEVENT\nCLASS:PUBLIC",
        "END:VEVENT\nBEGIN:VEVENT\nCLASS:PRIVATE",
    );
    let d = assert_differs(EVENT, &private);
    assert_eq!(d.len(), 1, "{}", render(&d));
    assert_eq!(
        (d[0].kind, d[0].actual.as_deref()),
        (DifferenceKind::Extra, Some("PRIVATE"))
    );
}
