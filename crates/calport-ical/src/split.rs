//! Splitting files into items: one calendar resource per UID, one card per vCard.

use std::collections::{BTreeSet, HashMap};

use crate::ParseError;
use crate::edit::remove_ranges;
use crate::model::{Component, DocKind, Document, Property};
use crate::text::unescape_text;

/// One item cut out of a larger file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The item's UID, raw as written.
    pub uid: String,
    /// The item's bytes: a complete `VCALENDAR` or `VCARD` object.
    pub bytes: Vec<u8>,
}

/// The items of a file plus what had to be left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitOutcome {
    /// One entry per UID, in order of first appearance.
    pub items: Vec<Split>,
    /// Human-readable reasons for every component that was left out (for instance a
    /// `VEVENT` without UID). Empty for a clean file.
    pub skipped: Vec<String>,
}

/// Splits calendar data into one `VCALENDAR` per UID (a CalDAV resource holds one UID,
/// RFC 4791 §4.1); card data is handed to [`split_vcards`].
///
/// - One `VCALENDAR` with one UID: the original bytes, unchanged except that `METHOD`
///   lines and components without a UID are cut out (a stored resource must not carry
///   `METHOD`).
/// - Otherwise, per UID: the calendar's own properties except `METHOD` (from the first
///   `VCALENDAR` holding that UID), the `VTIMEZONE`s its components reference by
///   `TZID` (all of the file's `VTIMEZONE`s when none is referenced or a reference
///   cannot be resolved), and every component with that UID (master and overrides, from
///   every `VCALENDAR` of the file), serialized with CRLF and 75-octet folding.
/// - Components without a UID are left out and reported in
///   [`SplitOutcome::skipped`]; a file with no UID at all gives no items.
///
/// # Errors
/// Any [`ParseError`] from [`crate::parse`]; [`ParseError::NotCalendarData`] when the
/// first top-level component is neither `VCALENDAR` nor `VCARD`.
pub fn split_by_uid(bytes: &[u8]) -> Result<SplitOutcome, ParseError> {
    let doc = Document::parse(bytes)?;
    match doc.kind()? {
        DocKind::Cards => Ok(split_cards(&doc, bytes)),
        DocKind::Calendar => Ok(split_calendars(&doc, bytes)),
    }
}

/// Splits a file of vCards into one item per card, each the card's original bytes.
///
/// Cards without a UID, repeated UIDs and top-level components that are not `VCARD`
/// are left out and reported in [`SplitOutcome::skipped`].
///
/// # Errors
/// Any [`ParseError`] from [`crate::parse`]; [`ParseError::NotCalendarData`] when the
/// data does not start with a `VCARD`.
pub fn split_vcards(bytes: &[u8]) -> Result<SplitOutcome, ParseError> {
    let doc = Document::parse(bytes)?;
    match doc.kind()? {
        DocKind::Cards => Ok(split_cards(&doc, bytes)),
        DocKind::Calendar => Err(ParseError::NotCalendarData {
            found: "VCALENDAR where VCARD was expected".to_owned(),
        }),
    }
}

/// A short description of a component for skip reasons.
fn describe(component: &Component) -> String {
    let label = ["SUMMARY", "FN", "TZID", "DTSTART"]
        .iter()
        .find_map(|n| component.property(n))
        .map(|p| format!(" ({}: {})", p.name, unescape_text(&p.value)));
    format!("{}{}", component.name, label.unwrap_or_default())
}

fn split_cards(doc: &Document, bytes: &[u8]) -> SplitOutcome {
    let mut outcome = SplitOutcome::default();
    let mut seen = BTreeSet::new();
    let whole_file = doc.components.len() == 1;
    for card in &doc.components {
        if card.name != "VCARD" {
            outcome.skipped.push(format!(
                "{} at top level of a vCard file skipped",
                card.name
            ));
            continue;
        }
        let Some(uid) = card.uid() else {
            outcome
                .skipped
                .push(format!("{} without UID skipped", describe(card)));
            continue;
        };
        if !seen.insert(uid) {
            outcome
                .skipped
                .push(format!("{} repeats UID {uid}; skipped", describe(card)));
            continue;
        }
        let card_bytes = match card.source_range() {
            _ if whole_file => bytes.to_vec(),
            Some(range) => bytes[range].to_vec(),
            None => card.to_bytes(),
        };
        outcome.items.push(Split {
            uid: uid.to_owned(),
            bytes: card_bytes,
        });
    }
    outcome
}

/// A TZID as used for matching references to definitions: quotes and TEXT escapes
/// (`Bangkok\, Hanoi`) removed, outer whitespace trimmed.
pub(crate) fn tzid_key(raw: &str) -> String {
    unescape_text(raw.trim().trim_matches('"'))
        .trim()
        .to_owned()
}

/// Every TZID referenced by `TZID` parameters in `component` and its children.
fn referenced_tzids(component: &Component, out: &mut BTreeSet<String>) {
    component.walk(&mut |c: &Component| {
        for prop in &c.properties {
            if let Some(tzid) = prop.param("TZID") {
                out.insert(tzid_key(&tzid));
            }
        }
    });
}

fn split_calendars(doc: &Document, bytes: &[u8]) -> SplitOutcome {
    let mut outcome = SplitOutcome::default();
    let calendars: Vec<&Component> = doc
        .components
        .iter()
        .filter(|c| c.name == "VCALENDAR")
        .collect();
    let mut removals = Vec::new();
    for other in doc.components.iter().filter(|c| c.name != "VCALENDAR") {
        outcome.skipped.push(format!(
            "{} at top level of a calendar file skipped",
            other.name
        ));
        removals.extend(other.source_range());
    }

    // (uid, [(calendar index, component)]) in order of first appearance.
    let mut groups: Vec<(&str, Vec<(usize, &Component)>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (ci, cal) in calendars.iter().enumerate() {
        for child in cal.children.iter().filter(|c| !c.is_timezone()) {
            match child.uid() {
                Some(uid) => match group_of.get(uid) {
                    Some(&g) => groups[g].1.push((ci, child)),
                    None => {
                        group_of.insert(uid, groups.len());
                        groups.push((uid, vec![(ci, child)]));
                    }
                },
                None => {
                    outcome
                        .skipped
                        .push(format!("{} without UID skipped", describe(child)));
                    removals.extend(child.source_range());
                }
            }
        }
    }

    // Every VCALENDAR that held a UID lends its properties, even if the components
    // it held for that UID are dropped below.
    let sources: Vec<Vec<usize>> = groups
        .iter()
        .map(|(_, members)| {
            let mut cals: Vec<usize> = members.iter().map(|(ci, _)| *ci).collect();
            cals.dedup();
            cals
        })
        .collect();

    // Several revisions of one instance (iTIP message collections): keep the newest.
    for (_, members) in &mut groups {
        let mut kept: Vec<(usize, &Component)> = Vec::with_capacity(members.len());
        for member in members.drain(..) {
            let Some(i) = kept.iter().position(|k| same_instance(k.1, member.1)) else {
                kept.push(member);
                continue;
            };
            let (winner, loser) = if revision(member.1) >= revision(kept[i].1) {
                (member, kept[i])
            } else {
                (kept[i], member)
            };
            kept[i] = winner;
            outcome.skipped.push(format!(
                "{} with UID {} superseded by a newer revision of the same instance; skipped",
                describe(loser.1),
                loser.1.uid().unwrap_or_default()
            ));
            removals.extend(loser.1.source_range());
        }
        *members = kept;
    }

    if calendars.len() == 1 && groups.len() == 1 {
        let (uid, _) = groups[0];
        removals.extend(
            calendars[0]
                .properties_named("METHOD")
                .filter_map(Property::source_range),
        );
        let item = if removals.is_empty() {
            bytes.to_vec()
        } else {
            remove_ranges(bytes, removals)
        };
        outcome.items.push(Split {
            uid: uid.to_owned(),
            bytes: item,
        });
        return outcome;
    }

    // Every VTIMEZONE of the file, first definition per TZID wins.
    let mut timezones: Vec<(String, &Component)> = Vec::new();
    for cal in &calendars {
        for tz in cal.children.iter().filter(|c| c.is_timezone()) {
            let key = tz
                .property("TZID")
                .map(|p| tzid_key(&p.value))
                .unwrap_or_default();
            if !timezones.iter().any(|(k, _)| *k == key) {
                timezones.push((key, tz));
            }
        }
    }

    for ((uid, members), sources) in groups.into_iter().zip(sources) {
        let mut referenced = BTreeSet::new();
        for (_, component) in &members {
            referenced_tzids(component, &mut referenced);
        }
        let resolved = !referenced.is_empty()
            && referenced
                .iter()
                .all(|r| timezones.iter().any(|(k, _)| k == r));
        let mut calendar = Component::new("VCALENDAR");
        calendar.properties = calendar_properties(&calendars, &sources);
        calendar.children.extend(
            timezones
                .iter()
                .filter(|(k, _)| !resolved || referenced.contains(k))
                .map(|(_, tz)| (*tz).clone()),
        );
        calendar
            .children
            .extend(members.iter().map(|(_, c)| (*c).clone()));
        outcome.items.push(Split {
            uid: uid.to_owned(),
            bytes: calendar.to_bytes(),
        });
    }
    outcome
}

/// The calendar-level properties for an item: all of the first `VCALENDAR` holding it
/// (`sources` lists them in order), plus those of later ones whose name is not there
/// yet; never `METHOD`.
fn calendar_properties(calendars: &[&Component], sources: &[usize]) -> Vec<Property> {
    let mut props: Vec<Property> = Vec::new();
    for (n, &ci) in sources.iter().enumerate() {
        for prop in calendars[ci]
            .properties
            .iter()
            .filter(|p| p.name != "METHOD")
        {
            if n == 0 || !props.iter().any(|q| q.name == prop.name) {
                props.push(prop.clone());
            }
        }
    }
    props
}

/// The instance a component describes: its name and RECURRENCE-ID (none for a master).
fn instance(component: &Component) -> (&str, Option<(String, String)>) {
    let rid = component.property("RECURRENCE-ID").map(|p| {
        let tz = p.param("TZID").map(|t| tzid_key(&t)).unwrap_or_default();
        (tz, p.value.trim().to_ascii_uppercase())
    });
    (component.name.as_str(), rid)
}

fn same_instance(a: &Component, b: &Component) -> bool {
    instance(a) == instance(b)
}

/// How new a revision is: SEQUENCE first, then DTSTAMP (RFC 5546 §2.1.5).
fn revision(component: &Component) -> (i64, String) {
    let sequence = component
        .property("SEQUENCE")
        .and_then(|p| p.value.trim().parse().ok())
        .unwrap_or(0);
    let stamp = component
        .property("DTSTAMP")
        .map(|p| p.value.trim().to_owned())
        .unwrap_or_default();
    (sequence, stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_uid_keeps_bytes() {
        let cal = b"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\n\
                    BEGIN:VEVENT\nUID:a\nRECURRENCE-ID:20250101T000000Z\nEND:VEVENT\n\
                    END:VCALENDAR\n";
        let out = split_by_uid(cal).unwrap();
        assert_eq!(
            out.items,
            vec![Split {
                uid: "a".into(),
                bytes: cal.to_vec()
            }]
        );
        assert!(out.skipped.is_empty());
    }

    #[test]
    fn single_uid_drops_method_and_uidless() {
        let cal = "BEGIN:VCALENDAR\nMETHOD:PUBLISH\nVERSION:2.0\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\n\
                   BEGIN:VTODO\nSUMMARY:orphan\nEND:VTODO\nEND:VCALENDAR\n";
        let out = split_by_uid(cal.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(out.items[0].bytes.clone()).unwrap(),
            "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\nEND:VCALENDAR\n"
        );
        assert_eq!(
            out.skipped,
            vec!["VTODO (SUMMARY: orphan) without UID skipped"]
        );
    }

    #[test]
    fn newest_revision_of_an_instance_wins() {
        let cal = "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:a\nSEQUENCE:1\nSUMMARY:new\n\
                   END:VEVENT\nEND:VCALENDAR\nBEGIN:VCALENDAR\nCALSCALE:GREGORIAN\n\
                   METHOD:CANCEL\nBEGIN:VEVENT\nUID:a\nSUMMARY:old\nEND:VEVENT\nEND:VCALENDAR\n";
        let out = split_by_uid(cal.as_bytes()).unwrap();
        let text = String::from_utf8(out.items[0].bytes.clone()).unwrap();
        assert_eq!(
            text,
            "BEGIN:VCALENDAR\r\nCALSCALE:GREGORIAN\r\nBEGIN:VEVENT\r\nUID:a\r\nSEQUENCE:1\r\n\
             SUMMARY:new\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        assert_eq!(out.skipped.len(), 1);
        assert!(out.skipped[0].contains("superseded"), "{:?}", out.skipped);
    }

    #[test]
    fn tzid_keys() {
        assert_eq!(tzid_key("\"Bangkok\\, Hanoi\" "), "Bangkok, Hanoi");
    }
}
