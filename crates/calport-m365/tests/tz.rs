//! Windows time-zone table, name resolution and VTIMEZONE generation.

use calport_m365::tz::{WINDOWS_ZONES, resolve, vtimezone, windows_to_iana};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;

#[test]
fn every_windows_zone_maps_to_a_zone_chrono_tz_knows() {
    let mut count = 0;
    for &(windows, iana) in WINDOWS_ZONES {
        assert!(
            iana.parse::<Tz>().is_ok(),
            "{windows} → {iana}: not a chrono-tz zone"
        );
        assert_eq!(windows_to_iana(windows), Some(iana));
        count += 1;
    }
    assert!(count >= 130, "only {count} Windows zones");
}

#[test]
fn table_is_sorted_and_unique() {
    assert!(WINDOWS_ZONES.windows(2).all(|w| w[0].0 < w[1].0));
}

/// PROTOCOLS 4.6, the whole table.
const PROTOCOLS_4_6: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC", "Etc/UTC"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("GMT Standard Time", "Europe/London"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Mountain Standard Time", "America/Denver"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Central Standard Time", "America/Chicago"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Canada Central Standard Time", "America/Regina"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Central America Standard Time", "America/Guatemala"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Eastern Standard Time", "America/New_York"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("US Eastern Standard Time", "America/Indianapolis"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("India Standard Time", "Asia/Calcutta"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Nepal Standard Time", "Asia/Katmandu"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
];

#[test]
fn protocols_table_matches() {
    for &(windows, iana) in PROTOCOLS_4_6 {
        assert_eq!(windows_to_iana(windows), Some(iana), "{windows}");
    }
}

#[test]
fn windows_ids_match_case_insensitively_and_exactly() {
    assert_eq!(
        windows_to_iana("w. europe standard time"),
        Some("Europe/Berlin")
    );
    assert_eq!(
        windows_to_iana("W. EUROPE STANDARD TIME"),
        Some("Europe/Berlin")
    );
    assert_eq!(windows_to_iana("W. Europe Standard"), None);
    assert_eq!(windows_to_iana(" W. Europe Standard Time"), None);
    assert_eq!(windows_to_iana(""), None);
}

fn name(tz: Option<Tz>) -> Option<&'static str> {
    tz.map(|tz| tz.name())
}

#[test]
fn resolve_windows_ids() {
    assert_eq!(
        name(resolve("W. Europe Standard Time")),
        Some("Europe/Berlin")
    );
    assert_eq!(
        name(resolve("  Eastern Standard Time\t")),
        Some("America/New_York")
    );
    assert_eq!(name(resolve("india standard time")), Some("Asia/Calcutta"));
    assert_eq!(name(resolve("Dateline Standard Time")), Some("Etc/GMT+12"));
    assert_eq!(
        name(resolve("Pacific Standard Time (Mexico)")),
        Some("America/Tijuana")
    );
}

#[test]
fn resolve_iana_names() {
    assert_eq!(resolve("Europe/Berlin"), Some(Tz::Europe__Berlin));
    assert_eq!(resolve("Asia/Calcutta"), Some(Tz::Asia__Calcutta));
    assert_eq!(resolve("Asia/Kolkata"), Some(Tz::Asia__Kolkata));
    assert_eq!(
        resolve("America/Argentina/Buenos_Aires"),
        Some(Tz::America__Argentina__Buenos_Aires)
    );
    assert_eq!(resolve("europe/berlin"), Some(Tz::Europe__Berlin));
    assert_eq!(
        resolve("/mozilla.org/20070129_1/Europe/Paris"),
        Some(Tz::Europe__Paris)
    );
}

#[test]
fn resolve_utc_spellings() {
    assert_eq!(resolve("UTC"), Some(Tz::UTC));
    assert_eq!(resolve("Etc/UTC"), Some(Tz::Etc__UTC));
    for utc in [
        "tzone://Microsoft/Utc",
        "Coordinated Universal Time",
        "(UTC) Coordinated Universal Time",
        "utc",
    ] {
        assert_eq!(resolve(utc), Some(Tz::Etc__UTC), "{utc}");
    }
}

#[test]
fn resolve_display_names() {
    let cases = [
        (
            "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
            "Europe/Berlin",
        ),
        (
            " (UTC+01:00)  Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna ",
            "Europe/Berlin",
        ),
        (
            "(GMT+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
            "Europe/Berlin",
        ),
        ("(UTC-05:00) Eastern Time (US & Canada)", "America/New_York"),
        (
            "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi",
            "Asia/Calcutta",
        ),
        (
            "(UTC+10:00) Canberra, Melbourne, Sydney",
            "Australia/Sydney",
        ),
        ("(UTC+13:00) Nuku'alofa", "Pacific/Tongatapu"),
        ("(UTC+06:00) Astana", "Asia/Bishkek"),
        ("(UTC-12:00) International Date Line West", "Etc/GMT+12"),
        // the offset part renamed, the place list unchanged
        ("(UTC+00:00) Coordinated Universal Time", "Etc/UTC"),
    ];
    for (display, iana) in cases {
        assert_eq!(name(resolve(display)), Some(iana), "{display}");
    }
}

#[test]
fn resolve_unknown_is_none() {
    for unknown in [
        "",
        "   ",
        "Mars Standard Time",
        "Europe/Atlantis",
        "tzone://Microsoft/Custom",
        "(UTC+01:00) Atlantis",
        "(UTC+01:00)",
        "Customized Time Zone",
    ] {
        assert_eq!(resolve(unknown), None, "{unknown:?}");
    }
}

// ---------------------------------------------------------------------------------
// VTIMEZONE: a small independent reader and evaluator of the produced text.

/// An observance as read back from the text.
#[derive(Debug)]
struct Observance {
    daylight: bool,
    start: NaiveDateTime,
    from: i32,
    to: i32,
    /// (BYMONTH, week of month (−1 = last), weekday) of a yearly RRULE.
    rule: Option<(u32, i8, Weekday)>,
    name: Option<String>,
}

/// Reads a VTIMEZONE, panicking on anything malformed.
fn read(text: &str) -> (String, Vec<Observance>) {
    assert!(text.ends_with("\r\n"), "no final CRLF: {text:?}");
    assert!(
        !text.replace("\r\n", "").contains(['\r', '\n']),
        "bare CR or LF: {text:?}"
    );
    let lines: Vec<&str> = text.trim_end_matches("\r\n").split("\r\n").collect();
    assert_eq!(lines.first(), Some(&"BEGIN:VTIMEZONE"), "{text}");
    assert_eq!(lines.last(), Some(&"END:VTIMEZONE"), "{text}");
    let mut tzid = None;
    let mut observances = Vec::new();
    let mut current: Option<(bool, Vec<(&str, &str)>)> = None;
    for line in &lines[1..lines.len() - 1] {
        assert!(line.len() <= 75, "line longer than 75 octets: {line}");
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("no colon: {line}"));
        assert!(!name.contains(';'), "unexpected parameter: {line}");
        match (name, value, current.as_mut()) {
            ("BEGIN", kind @ ("STANDARD" | "DAYLIGHT"), None) => {
                current = Some((kind == "DAYLIGHT", Vec::new()));
            }
            ("END", kind @ ("STANDARD" | "DAYLIGHT"), Some((daylight, _))) => {
                assert_eq!(kind == "DAYLIGHT", *daylight, "unbalanced END:{kind}");
                let (daylight, props) = current.take().unwrap();
                observances.push(observance(daylight, &props));
            }
            ("TZID", value, None) => {
                assert!(tzid.replace(value.to_owned()).is_none(), "two TZIDs");
            }
            (_, _, Some((_, props))) if !matches!(name, "BEGIN" | "END") => {
                props.push((name, value));
            }
            _ => panic!("unexpected line {line:?} in\n{text}"),
        }
    }
    assert!(current.is_none(), "unterminated observance");
    assert!(!observances.is_empty(), "no observance");
    (tzid.expect("no TZID"), observances)
}

fn observance(daylight: bool, props: &[(&str, &str)]) -> Observance {
    let one = |name: &str| {
        let values: Vec<&str> = props
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|&(_, v)| v)
            .collect();
        assert!(values.len() <= 1, "{name} twice: {props:?}");
        values.first().copied()
    };
    for (name, _) in props {
        assert!(
            matches!(
                *name,
                "DTSTART" | "TZOFFSETFROM" | "TZOFFSETTO" | "TZNAME" | "RRULE"
            ),
            "unexpected property {name}"
        );
    }
    let start = NaiveDateTime::parse_from_str(one("DTSTART").expect("no DTSTART"), "%Y%m%dT%H%M%S")
        .expect("DTSTART is a local DATE-TIME");
    let o = Observance {
        daylight,
        start,
        from: parse_offset(one("TZOFFSETFROM").expect("no TZOFFSETFROM")),
        to: parse_offset(one("TZOFFSETTO").expect("no TZOFFSETTO")),
        rule: one("RRULE").map(parse_rrule),
        name: one("TZNAME").map(str::to_owned),
    };
    if let Some(rule) = o.rule {
        assert_eq!(
            onset_in_year(rule, o.start.year(), o.start),
            o.start,
            "DTSTART does not match its RRULE: {o:?}"
        );
    }
    o
}

fn parse_offset(value: &str) -> i32 {
    let sign = match value.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => panic!("offset without sign: {value}"),
    };
    let digits = &value[1..];
    assert!(
        (digits.len() == 4 || digits.len() == 6) && digits.bytes().all(|b| b.is_ascii_digit()),
        "bad offset {value}"
    );
    let h: i32 = digits[0..2].parse().unwrap();
    let m: i32 = digits[2..4].parse().unwrap();
    let s: i32 = digits.get(4..6).map_or(0, |s| s.parse().unwrap());
    assert!(m < 60 && s < 60, "bad offset {value}");
    if digits.len() == 6 {
        assert_ne!(s, 0, "seconds written although zero: {value}");
    }
    sign * (h * 3600 + m * 60 + s)
}

fn parse_rrule(value: &str) -> (u32, i8, Weekday) {
    let mut freq = None;
    let mut month = None;
    let mut byday = None;
    for part in value.split(';') {
        match part.split_once('=') {
            Some(("FREQ", f)) => freq = Some(f),
            Some(("BYMONTH", m)) => month = Some(m.parse::<u32>().expect("BYMONTH")),
            Some(("BYDAY", d)) => byday = Some(d),
            _ => panic!("unexpected RRULE part {part} in {value}"),
        }
    }
    assert_eq!(freq, Some("YEARLY"), "{value}");
    let byday = byday.expect("BYDAY");
    let (week, day) = byday.split_at(byday.len() - 2);
    let week: i8 = week.parse().expect("BYDAY week");
    assert!(week == -1 || (1..=4).contains(&week), "{value}");
    let weekday = match day {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => panic!("bad weekday in {value}"),
    };
    let month = month.expect("BYMONTH");
    assert!((1..=12).contains(&month));
    (month, week, weekday)
}

/// The local onset of a yearly rule in `year`, at the time of day of `start`.
fn onset_in_year(
    (month, week, weekday): (u32, i8, Weekday),
    year: i32,
    start: NaiveDateTime,
) -> NaiveDateTime {
    let mut days = (1..=31)
        .filter_map(|d| NaiveDate::from_ymd_opt(year, month, d))
        .filter(|d| d.weekday() == weekday);
    let date = if week == -1 {
        days.next_back()
    } else {
        days.nth(usize::try_from(week - 1).unwrap())
    };
    date.unwrap().and_time(start.time())
}

/// Every onset (UTC seconds, offset from, offset to) through `until_year`, in order.
fn onsets(observances: &[Observance], until_year: i32) -> Vec<(i64, i32, i32)> {
    let mut out = Vec::new();
    for o in observances {
        let locals: Vec<NaiveDateTime> = match o.rule {
            None => vec![o.start],
            Some(rule) => (o.start.year()..=until_year)
                .map(|y| onset_in_year(rule, y, o.start))
                .filter(|l| *l >= o.start)
                .collect(),
        };
        for local in locals {
            out.push((
                local.and_utc().timestamp() - i64::from(o.from),
                o.from,
                o.to,
            ));
        }
    }
    out.sort_unstable();
    out
}

/// The offset the VTIMEZONE gives at UTC instant `t`.
fn implied_offset(onsets: &[(i64, i32, i32)], t: i64) -> i32 {
    match onsets.iter().rev().find(|(at, _, _)| *at <= t) {
        Some(&(_, _, to)) => to,
        None => onsets[0].1,
    }
}

fn real_offset(zone: Tz, t: i64) -> i32 {
    let utc = DateTime::from_timestamp(t, 0).unwrap().naive_utc();
    zone.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

/// Parses `vtimezone(zone, from_year)` and compares its offsets with chrono-tz every
/// `step` seconds over `from_year..from_year + years`, and one second either side of
/// every real transition in that span. Returns the observances.
fn check_against_chrono_tz(zone: Tz, from_year: i32, years: i32, step: i64) -> Vec<Observance> {
    let text = vtimezone(zone, from_year);
    let (tzid, observances) = read(&text);
    assert_eq!(tzid, zone.name());
    let onsets = onsets(&observances, from_year + years + 1);
    let (start, end) = (utc(from_year, 1, 1, 0), utc(from_year + years, 1, 1, 0));
    let mut t = start;
    while t < end {
        let next = t + step;
        let (a, b) = (real_offset(zone, t), real_offset(zone, next));
        assert_eq!(
            implied_offset(&onsets, t),
            a,
            "{} at {t}:\n{text}",
            zone.name()
        );
        if a != b {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if real_offset(zone, mid) == a {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            for s in [lo, hi] {
                assert_eq!(
                    implied_offset(&onsets, s),
                    real_offset(zone, s),
                    "{} around the transition at {hi}:\n{text}",
                    zone.name()
                );
            }
        }
        t = next;
    }
    observances
}

const HOUR: i64 = 3600;

#[test]
fn berlin_has_a_yearly_rule() {
    let obs = check_against_chrono_tz(Tz::Europe__Berlin, 2026, 4, HOUR);
    assert_eq!(obs.len(), 2, "{obs:?}");
    let summer = obs.iter().find(|o| o.daylight).expect("DAYLIGHT");
    let winter = obs.iter().find(|o| !o.daylight).expect("STANDARD");
    assert_eq!(summer.start.to_string(), "2025-03-30 02:00:00");
    assert_eq!((summer.from, summer.to), (3600, 7200));
    assert_eq!(summer.rule, Some((3, -1, Weekday::Sun)));
    assert_eq!(summer.name.as_deref(), Some("CEST"));
    assert_eq!(winter.start.to_string(), "2025-10-26 03:00:00");
    assert_eq!((winter.from, winter.to), (7200, 3600));
    assert_eq!(winter.rule, Some((10, -1, Weekday::Sun)));
    assert_eq!(winter.name.as_deref(), Some("CET"));
    let text = vtimezone(Tz::Europe__Berlin, 2026);
    assert!(
        text.starts_with("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"),
        "{text}"
    );
    assert!(
        text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"),
        "{text}"
    );
    assert!(
        text.contains("RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"),
        "{text}"
    );
}

#[test]
fn new_york_uses_second_and_first_sundays() {
    let obs = check_against_chrono_tz(Tz::America__New_York, 2026, 4, HOUR);
    assert_eq!(obs.len(), 2, "{obs:?}");
    let summer = obs.iter().find(|o| o.daylight).expect("DAYLIGHT");
    let winter = obs.iter().find(|o| !o.daylight).expect("STANDARD");
    assert_eq!(summer.rule, Some((3, 2, Weekday::Sun)));
    assert_eq!(summer.start.to_string(), "2025-03-09 02:00:00");
    assert_eq!((summer.from, summer.to), (-5 * 3600, -4 * 3600));
    assert_eq!(winter.rule, Some((11, 1, Weekday::Sun)));
    assert_eq!(winter.start.to_string(), "2025-11-02 02:00:00");
    assert_eq!(winter.name.as_deref(), Some("EST"));
}

#[test]
fn sydney_summer_spans_the_new_year() {
    let obs = check_against_chrono_tz(Tz::Australia__Sydney, 2026, 4, HOUR);
    assert_eq!(obs.len(), 2, "{obs:?}");
    let summer = obs.iter().find(|o| o.daylight).expect("DAYLIGHT");
    let winter = obs.iter().find(|o| !o.daylight).expect("STANDARD");
    assert_eq!(
        (summer.rule, summer.to),
        (Some((10, 1, Weekday::Sun)), 11 * 3600)
    );
    assert_eq!(
        (winter.rule, winter.to),
        (Some((4, 1, Weekday::Sun)), 10 * 3600)
    );
    // The summer that began in October 2025 still holds in January 2026.
    let onsets = onsets(&obs, 2030);
    assert_eq!(implied_offset(&onsets, utc(2026, 1, 15, 12)), 11 * 3600);
    assert_eq!(implied_offset(&onsets, utc(2026, 7, 15, 12)), 10 * 3600);
}

#[test]
fn tokyo_has_no_dst() {
    let obs = check_against_chrono_tz(Tz::Asia__Tokyo, 2026, 4, 6 * HOUR);
    assert_eq!(obs.len(), 1, "{obs:?}");
    let o = &obs[0];
    assert!(!o.daylight);
    assert_eq!(o.start.to_string(), "1970-01-01 00:00:00");
    assert_eq!((o.from, o.to, o.rule), (9 * 3600, 9 * 3600, None));
    assert_eq!(o.name.as_deref(), Some("JST"));
}

#[test]
fn kolkata_is_plus_0530() {
    let text = vtimezone(Tz::Asia__Kolkata, 2026);
    assert!(
        text.contains("TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\n"),
        "{text}"
    );
    let obs = check_against_chrono_tz(Tz::Asia__Kolkata, 2026, 4, 6 * HOUR);
    assert_eq!(obs.len(), 1);
    // The CLDR spelling gives the same zone under its own name.
    let (tzid, _) = read(&vtimezone(Tz::Asia__Calcutta, 2026));
    assert_eq!(tzid, "Asia/Calcutta");
}

#[test]
fn utc_is_one_standard_observance() {
    let text = vtimezone(Tz::Etc__UTC, 2026);
    assert_eq!(
        text,
        "BEGIN:VTIMEZONE\r\nTZID:Etc/UTC\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n\
         TZOFFSETFROM:+0000\r\nTZOFFSETTO:+0000\r\nTZNAME:UTC\r\nEND:STANDARD\r\n\
         END:VTIMEZONE\r\n"
    );
}

#[test]
fn casablanca_falls_back_to_explicit_observances() {
    let obs = check_against_chrono_tz(Tz::Africa__Casablanca, 2026, 4, HOUR);
    assert!(obs.iter().all(|o| o.rule.is_none()), "{obs:?}");
    // Two Ramadan transitions a year, from 2025 through 2035.
    assert!(obs.len() >= 20, "{obs:?}");
    assert!(obs.iter().any(|o| o.start.year() == 2025));
    assert!(obs.iter().any(|o| o.start.year() == 2035));
    // Beyond the checked years the explicit list still matches chrono-tz.
    check_against_chrono_tz(Tz::Africa__Casablanca, 2026, 10, 6 * HOUR);
}

#[test]
fn rules_that_are_not_nth_weekday_fall_back() {
    // Israel: the Friday before the last Sunday of March; Chile: Sunday on or after
    // the 2nd. Neither is an n-th weekday rule.
    for zone in [Tz::Asia__Jerusalem, Tz::America__Santiago] {
        let obs = check_against_chrono_tz(zone, 2026, 10, 2 * HOUR);
        assert!(
            obs.iter().all(|o| o.rule.is_none()),
            "{}: {obs:?}",
            zone.name()
        );
    }
}

#[test]
fn offsets_with_seconds_are_written_with_seconds() {
    // Liberia kept −0:44:30 until 1972.
    let text = vtimezone(Tz::Africa__Monrovia, 1972);
    assert!(
        text.contains("TZOFFSETFROM:-004430\r\nTZOFFSETTO:+0000\r\n"),
        "{text}"
    );
    check_against_chrono_tz(Tz::Africa__Monrovia, 1971, 3, 6 * HOUR);
}

#[test]
fn southern_and_odd_offset_zones_agree_with_chrono_tz() {
    for zone in [
        Tz::Pacific__Auckland,
        Tz::Pacific__Chatham,
        Tz::America__St_Johns,
        Tz::Australia__Lord_Howe,
        Tz::Europe__Dublin,
        Tz::America__Asuncion,
        Tz::Asia__Tehran,
        Tz::Asia__Kathmandu,
    ] {
        check_against_chrono_tz(zone, 2026, 4, 2 * HOUR);
    }
}

#[test]
fn every_windows_zone_has_a_well_formed_matching_vtimezone() {
    for &(windows, iana) in WINDOWS_ZONES {
        let zone: Tz = iana.parse().unwrap();
        let text = vtimezone(zone, 2026);
        let (tzid, observances) = read(&text);
        assert_eq!(tzid, iana, "{windows}");
        let onsets = onsets(&observances, 2030);
        for (y, m) in [(2026, 1), (2026, 7), (2027, 1), (2027, 7)] {
            let t = utc(y, m, 15, 12);
            assert_eq!(
                implied_offset(&onsets, t),
                real_offset(zone, t),
                "{windows} ({iana}) on {y}-{m}-15:\n{text}"
            );
        }
        // And at every transition of 2026–2029, and every six hours in between.
        check_against_chrono_tz(zone, 2026, 4, 6 * HOUR);
    }
}
