//! Writes the iCalendar item of one event or series.
//!
//! INTERFACE (fixed; the server depends on it): [`ItemParts`], [`render`], [`RenderError`].
//!
//! The item is one VCALENDAR (RFC 5545 §3.4) holding a VTIMEZONE per zone its times
//! name, the main VEVENT (the single event or the series master, with RRULE and
//! EXDATEs) and one override VEVENT per changed occurrence, all with the caller's UID
//! (PROTOCOLS 2.1). RECURRENCE-ID and EXDATE values are the original starts written in
//! the master's start zone and value type (PROTOCOLS 2.2). ORGANIZER and every ATTENDEE
//! carry `SCHEDULE-AGENT=CLIENT`, so a CalDAV server does not send invitations for a
//! mirrored meeting (PROTOCOLS 2.7).
//!
//! Output depends only on the input: overrides are written in order of their original
//! start and EXDATEs sorted, so the same series gives the same bytes whatever order its
//! parts arrived in.

use std::collections::BTreeMap;

use calport_ical::{ORIGIN_PROPERTY, Param, Property, escape_text, fold_line, property_line};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use thiserror::Error;

use crate::payload::{Attendee, AttendeeKind, EventPayload, EventTime, Sensitivity, ShowAs};

/// The property that carries Graph's `iCalUId` (informative: the UID written is the
/// caller's, since Graph's is read-only and may differ per occurrence).
pub const ICALUID_PROPERTY: &str = "X-CALPORT-M365-ICALUID";

/// Why an item cannot be written.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RenderError {
    /// An exception or occurrence without `originalStart` cannot be placed in its series.
    #[error("exception {0} has no originalStart")]
    NoOriginalStart(String),
    /// The recurrence cannot be expressed (e.g. a pattern without its required fields).
    #[error("recurrence: {0}")]
    Recurrence(String),
}

/// Everything that makes up one CalDAV item.
#[derive(Clone, Debug)]
pub struct ItemParts<'a> {
    /// The CalDAV UID to write (deterministic, chosen by the caller).
    pub uid: &'a str,
    /// The single event, or the series master.
    pub main: &'a EventPayload,
    /// Changed occurrences of the series: written as overrides with RECURRENCE-ID =
    /// their `original_start` (in the master's start zone).
    pub exceptions: &'a [EventPayload],
    /// Cancelled or deleted occurrences (their original start, UTC): written as EXDATE
    /// on the master, in the master's start zone (DATE values for all-day series).
    pub cancelled: &'a [DateTime<Utc>],
    /// The value of `X-CALPORT-ORIGIN` (e.g. `m365:<source id>:<event id>`).
    pub origin: &'a str,
    /// DTSTAMP to write (the caller passes the receipt time, so rendering is pure).
    pub stamp: DateTime<Utc>,
}

/// Zones written as UTC (`…Z`) rather than with a TZID and a VTIMEZONE.
fn is_utc(zone: chrono_tz::Tz) -> bool {
    matches!(
        zone.name(),
        "UTC"
            | "UCT"
            | "GMT"
            | "GMT0"
            | "GMT+0"
            | "GMT-0"
            | "Greenwich"
            | "Universal"
            | "Zulu"
            | "Etc/UTC"
            | "Etc/UCT"
            | "Etc/GMT"
            | "Etc/GMT0"
            | "Etc/GMT+0"
            | "Etc/GMT-0"
            | "Etc/Greenwich"
            | "Etc/Universal"
            | "Etc/Zulu"
    )
}

/// An instant (an original start) in the value type and zone of a series' start:
/// local time in the master's zone, or — for all-day series — the day it falls on.
///
/// Graph gives an all-day occurrence's original start as an instant whose zone is not
/// carried along; it is midnight UTC or midnight in the event's zone. Rounding to the
/// nearest midnight gives the right day for every zone within ±12 hours of UTC.
fn in_series_zone(series_start: &EventTime, at: DateTime<Utc>) -> EventTime {
    match series_start {
        EventTime::Zoned { zone, .. } => EventTime::Zoned {
            local: at.with_timezone(zone).naive_local(),
            zone: *zone,
        },
        EventTime::Date(_) => EventTime::Date((at + chrono::Duration::hours(12)).date_naive()),
    }
}

/// The end of an event in the same value type as its start (RFC 5545 §3.6.1: DTSTART
/// and DTEND have one type). A payload cannot mix them, a hand-built one might.
fn matching_end(start: &EventTime, end: &EventTime) -> EventTime {
    match (start, end) {
        (EventTime::Date(first), EventTime::Zoned { local, .. }) => {
            let last = local.date();
            EventTime::Date(if last > *first {
                last
            } else {
                first.succ_opt().unwrap_or(*first)
            })
        }
        (EventTime::Zoned { zone, .. }, EventTime::Date(day)) => EventTime::Zoned {
            local: day.and_time(chrono::NaiveTime::MIN),
            zone: *zone,
        },
        _ => end.clone(),
    }
}

/// A DATE-TIME or DATE property: `;VALUE=DATE`, UTC with `Z`, or local with `TZID`.
fn time_property(name: &str, time: &EventTime) -> Property {
    match time {
        EventTime::Date(day) => {
            let mut prop = Property::new(name, day.format("%Y%m%d").to_string());
            prop.params.push(Param::new("VALUE", vec!["DATE".into()]));
            prop
        }
        EventTime::Zoned { local, zone } if is_utc(*zone) => {
            Property::new(name, local.format("%Y%m%dT%H%M%SZ").to_string())
        }
        EventTime::Zoned { local, zone } => {
            let mut prop = Property::new(name, local.format("%Y%m%dT%H%M%S").to_string());
            prop.params
                .push(Param::new("TZID", vec![zone.name().into()]));
            prop
        }
    }
}

fn utc_value(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value, escaped (RFC 5545 §3.3.11). Control characters other than line
/// breaks and tabs cannot be written in TEXT and are dropped.
fn escape(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect();
    escape_text(&clean)
}

/// A TEXT property.
fn text(name: &str, value: &str) -> Property {
    Property::new(name, escape(value))
}

/// A parameter value without control characters (which no parameter may hold).
fn param_text(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn calendar_user(name: &str, person: &Attendee) -> Property {
    let mut prop = Property::new(name, format!("mailto:{}", param_text(&person.email)));
    if let Some(cn) = person
        .name
        .as_deref()
        .map(param_text)
        .filter(|n| !n.is_empty())
    {
        prop.params.push(Param::new("CN", vec![cn]));
    }
    prop
}

fn attendee(person: &Attendee) -> Property {
    let mut prop = calendar_user("ATTENDEE", person);
    let role = match person.kind {
        AttendeeKind::Required => "REQ-PARTICIPANT",
        AttendeeKind::Optional => "OPT-PARTICIPANT",
        AttendeeKind::Resource => {
            prop.params
                .push(Param::new("CUTYPE", vec!["RESOURCE".into()]));
            "NON-PARTICIPANT"
        }
    };
    prop.params.push(Param::new("ROLE", vec![role.into()]));
    let partstat = match person
        .response
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("accepted" | "organizer") => "ACCEPTED",
        Some("declined") => "DECLINED",
        Some("tentativelyaccepted" | "tentative") => "TENTATIVE",
        _ => "NEEDS-ACTION",
    };
    prop.params
        .push(Param::new("PARTSTAT", vec![partstat.into()]));
    prop.params
        .push(Param::new("SCHEDULE-AGENT", vec!["CLIENT".into()]));
    prop
}

/// What distinguishes the main VEVENT from an override.
enum Role {
    /// The single event or series master.
    Main {
        rrule: Option<String>,
        exdates: Vec<EventTime>,
    },
    /// A changed occurrence.
    Override { recurrence_id: EventTime },
}

/// The properties of one VEVENT, in the order they are written.
fn event_properties(parts: &ItemParts<'_>, event: &EventPayload, role: &Role) -> Vec<Property> {
    let mut props = vec![
        text("UID", parts.uid),
        Property::new("DTSTAMP", utc_value(parts.stamp)),
    ];
    if let Role::Override { recurrence_id } = role {
        props.push(time_property("RECURRENCE-ID", recurrence_id));
    }
    props.push(time_property("DTSTART", &event.start));
    props.push(time_property(
        "DTEND",
        &matching_end(&event.start, &event.end),
    ));
    if let Role::Main { rrule, exdates } = role {
        if let Some(rule) = rrule {
            props.push(Property::new("RRULE", rule.clone()));
        }
        props.extend(exdates.iter().map(|day| time_property("EXDATE", day)));
    }
    if let Some(subject) = event.subject.as_deref() {
        props.push(text("SUMMARY", subject));
    }
    if let Some(body) = event.body.as_deref().filter(|b| !b.trim().is_empty()) {
        if event.body_is_html {
            let plain = crate::html::to_text(body);
            // An empty Outlook body is still a whole HTML document; only a body with
            // something to read is worth keeping.
            if !plain.is_empty() {
                props.push(text("DESCRIPTION", &plain));
                let mut alt = text("X-ALT-DESC", body);
                alt.params
                    .push(Param::new("FMTTYPE", vec!["text/html".into()]));
                props.push(alt);
            }
        } else {
            props.push(text("DESCRIPTION", body.trim_end()));
        }
    }
    if let Some(place) = event.location.as_deref().filter(|l| !l.trim().is_empty()) {
        props.push(text("LOCATION", place.trim()));
    }
    if let Some(link) = event
        .web_link
        .as_deref()
        .map(param_text)
        .filter(|l| !l.is_empty())
    {
        props.push(Property::new("URL", link));
    }
    let status = if event.is_cancelled {
        "CANCELLED"
    } else if event.show_as == ShowAs::Tentative {
        "TENTATIVE"
    } else {
        "CONFIRMED"
    };
    props.push(Property::new("STATUS", status));
    let transp = if event.show_as == ShowAs::Free {
        "TRANSPARENT"
    } else {
        "OPAQUE"
    };
    props.push(Property::new("TRANSP", transp));
    let class = match event.sensitivity {
        Sensitivity::Normal => "PUBLIC",
        Sensitivity::Personal | Sensitivity::Private => "PRIVATE",
        Sensitivity::Confidential => "CONFIDENTIAL",
    };
    props.push(Property::new("CLASS", class));
    match event
        .importance
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("high") => props.push(Property::new("PRIORITY", "1")),
        Some("low") => props.push(Property::new("PRIORITY", "9")),
        _ => {}
    }
    let categories: Vec<String> = event
        .categories
        .iter()
        .map(|c| escape(c.trim()))
        .filter(|c| !c.is_empty())
        .collect();
    if !categories.is_empty() {
        props.push(Property::new("CATEGORIES", categories.join(",")));
    }
    let busy = match event.show_as {
        ShowAs::Free => "FREE",
        ShowAs::Tentative => "TENTATIVE",
        ShowAs::Busy => "BUSY",
        ShowAs::OutOfOffice => "OOF",
        ShowAs::WorkingElsewhere => "WORKINGELSEWHERE",
    };
    props.push(Property::new("X-MICROSOFT-CDO-BUSYSTATUS", busy));
    if let Some(organizer) = &event.organizer {
        let mut prop = calendar_user("ORGANIZER", organizer);
        prop.params
            .push(Param::new("SCHEDULE-AGENT", vec!["CLIENT".into()]));
        props.push(prop);
    }
    props.extend(event.attendees.iter().map(attendee));
    if let Some(created) = event.created {
        props.push(Property::new("CREATED", utc_value(created)));
    }
    if let Some(modified) = event.last_modified {
        props.push(Property::new("LAST-MODIFIED", utc_value(modified)));
    }
    if let Some(ical_uid) = event.ical_uid.as_deref() {
        props.push(text(ICALUID_PROPERTY, ical_uid));
    }
    props.push(text(ORIGIN_PROPERTY, parts.origin));
    props
}

/// Writes CRLF lines folded at 75 octets.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn line(&mut self, line: &str) {
        self.out.push_str(&fold_line(line));
        self.out.push_str("\r\n");
    }

    fn property(&mut self, prop: &Property) {
        self.line(&property_line(prop));
    }

    /// A component written by someone else (a VTIMEZONE): its line ends made CRLF,
    /// long lines folded, blank lines dropped.
    fn raw(&mut self, component: &str) {
        for line in component.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                self.out.push_str(line);
                self.out.push_str("\r\n");
            } else {
                self.line(line);
            }
        }
    }

    fn event(&mut self, props: &[Property], reminder: Option<(u32, &str)>) {
        self.line("BEGIN:VEVENT");
        for prop in props {
            self.property(prop);
        }
        if let Some((minutes, description)) = reminder {
            self.line("BEGIN:VALARM");
            self.line("ACTION:DISPLAY");
            let trigger = if minutes == 0 {
                "PT0M".to_owned()
            } else {
                format!("-PT{minutes}M")
            };
            self.property(&Property::new("TRIGGER", trigger));
            self.property(&text("DESCRIPTION", description));
            self.line("END:VALARM");
        }
        self.line("END:VEVENT");
    }
}

fn reminder(event: &EventPayload) -> Option<(u32, &str)> {
    let description = event
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("Reminder");
    event.reminder_minutes.map(|m| (m, description))
}

/// Notes the zone of a time (when it needs a VTIMEZONE) with the earliest year it is
/// used in.
fn note_zone(zones: &mut BTreeMap<&'static str, (chrono_tz::Tz, i32)>, time: &EventTime) {
    if let EventTime::Zoned { local, zone } = time
        && !is_utc(*zone)
    {
        let entry = zones.entry(zone.name()).or_insert((*zone, local.year()));
        entry.1 = entry.1.min(local.year());
    }
}

/// A sort key of a time written into one series (all share the master's type).
fn sort_key(time: &EventTime) -> (NaiveDate, String) {
    match time {
        EventTime::Date(day) => (*day, String::new()),
        EventTime::Zoned { local, .. } => (local.date(), local.format("%H%M%S").to_string()),
    }
}

/// Writes the VCALENDAR (CRLF lines, folded at 75 octets) with one VTIMEZONE per zone
/// used, the main VEVENT and one override VEVENT per exception.
///
/// An exception marked `is_cancelled` becomes an EXDATE like the instants of
/// `cancelled`; an override whose occurrence is also cancelled is left out, and of two
/// exceptions of one occurrence the one modified last is kept.
///
/// # Errors
/// [`RenderError`].
pub fn render(parts: &ItemParts<'_>) -> Result<String, RenderError> {
    let main = parts.main;
    let series_start = &main.start;
    let rrule = match &main.recurrence {
        Some(recurrence) => Some(
            crate::recurrence::to_rrule(recurrence, series_start)
                .map_err(RenderError::Recurrence)?,
        ),
        None => None,
    };

    let mut cancelled: Vec<DateTime<Utc>> = parts.cancelled.to_vec();
    let mut overrides: Vec<(DateTime<Utc>, &EventPayload)> = Vec::new();
    for exception in parts.exceptions {
        let original = exception
            .original_start
            .ok_or_else(|| RenderError::NoOriginalStart(exception.id.clone()))?;
        if exception.is_cancelled {
            cancelled.push(original);
        } else {
            overrides.push((original, exception));
        }
    }
    let mut exdates: Vec<EventTime> = cancelled
        .iter()
        .map(|at| in_series_zone(series_start, *at))
        .collect();
    exdates.sort_by_key(sort_key);
    exdates.dedup();

    // Latest modification first within one occurrence, then keep the first of each.
    overrides.sort_by(|(a, x), (b, y)| a.cmp(b).then(y.last_modified.cmp(&x.last_modified)));
    let mut kept: Vec<(EventTime, &EventPayload)> = Vec::new();
    for (original, exception) in overrides {
        let recurrence_id = in_series_zone(series_start, original);
        if exdates.contains(&recurrence_id) || kept.iter().any(|(id, _)| *id == recurrence_id) {
            continue;
        }
        kept.push((recurrence_id, exception));
    }

    let mut zones = BTreeMap::new();
    note_zone(&mut zones, &main.start);
    note_zone(&mut zones, &matching_end(&main.start, &main.end));
    for time in &exdates {
        note_zone(&mut zones, time);
    }
    for (recurrence_id, exception) in &kept {
        note_zone(&mut zones, recurrence_id);
        note_zone(&mut zones, &exception.start);
        note_zone(&mut zones, &matching_end(&exception.start, &exception.end));
    }

    let mut w = Writer::default();
    w.line("BEGIN:VCALENDAR");
    w.line("VERSION:2.0");
    w.line("PRODID:-//calport//m365//EN");
    w.line("CALSCALE:GREGORIAN");
    for (zone, year) in zones.values() {
        w.raw(&crate::tz::vtimezone(*zone, *year));
    }
    let role = Role::Main { rrule, exdates };
    w.event(&event_properties(parts, main, &role), reminder(main));
    for (recurrence_id, exception) in kept {
        let role = Role::Override { recurrence_id };
        w.event(
            &event_properties(parts, exception, &role),
            reminder(exception),
        );
    }
    w.line("END:VCALENDAR");
    Ok(w.out)
}
