//! Minimal edits: change only the lines that must change and keep every other byte.

use std::borrow::Cow;
use std::ops::Range;

use crate::ParseError;
use crate::model::{Component, Document, Property};
use crate::text::escape_text;
use crate::write::{fold_with, property_line};

/// The property that records where calport copied an item from (DESIGN.md,
/// "Provenance").
pub const ORIGIN_PROPERTY: &str = "X-CALPORT-ORIGIN";

/// A byte range of the input to replace.
struct Edit {
    range: Range<usize>,
    replacement: Vec<u8>,
}

/// Applies non-overlapping edits to `bytes`.
fn apply(bytes: &[u8], mut edits: Vec<Edit>) -> Vec<u8> {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = Vec::with_capacity(bytes.len() + 64 * edits.len());
    let mut pos = 0;
    for edit in edits {
        if edit.range.start < pos {
            // Overlap cannot happen for spans of one parse; never corrupt data if it does.
            continue;
        }
        out.extend_from_slice(&bytes[pos..edit.range.start]);
        out.extend_from_slice(&edit.replacement);
        pos = edit.range.end;
    }
    out.extend_from_slice(&bytes[pos..]);
    out
}

/// The line terminator that ends `range` in `bytes` (`""` at end of input without one).
fn eol_of(bytes: &[u8], range: &Range<usize>) -> &'static str {
    let line = &bytes[range.clone()];
    if line.ends_with(b"\r\n") {
        "\r\n"
    } else if line.ends_with(b"\n") {
        "\n"
    } else if line.ends_with(b"\r") {
        "\r"
    } else {
        ""
    }
}

/// The line terminator the file mostly uses, for lines inserted where none can be copied.
fn file_eol(bytes: &[u8]) -> &'static str {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) if i > 0 && bytes[i - 1] == b'\r' => "\r\n",
        Some(_) => "\n",
        None => "\r\n",
    }
}

/// A property re-serialized in place of its source line, keeping that line's ending.
fn replace_property(bytes: &[u8], prop: &Property, new_line: &str) -> Option<Edit> {
    let range = prop.source_range()?;
    let eol = eol_of(bytes, &range);
    let fold_eol = if eol.is_empty() { file_eol(bytes) } else { eol };
    let mut replacement = fold_with(new_line, fold_eol);
    replacement.push_str(eol);
    Some(Edit {
        range,
        replacement: replacement.into_bytes(),
    })
}

fn finish(bytes: &[u8], edits: Vec<Edit>) -> Cow<'_, [u8]> {
    if edits.is_empty() {
        Cow::Borrowed(bytes)
    } else {
        Cow::Owned(apply(bytes, edits))
    }
}

/// Gives every `ORGANIZER` and `ATTENDEE` property in every component
/// `SCHEDULE-AGENT=CLIENT`, replacing any other `SCHEDULE-AGENT` value, so that a
/// CalDAV server does not send invitations for the copy (RFC 6638 §7.1).
///
/// Only the changed lines are re-serialized (and re-folded, keeping their line
/// ending); all other bytes stay identical. Returns [`Cow::Borrowed`] when nothing
/// needs to change (vCards never do).
///
/// # Errors
/// Any [`ParseError`] from [`crate::parse`].
pub fn set_schedule_agent_client(bytes: &[u8]) -> Result<Cow<'_, [u8]>, ParseError> {
    let doc = Document::parse(bytes)?;
    let mut edits = Vec::new();
    for top in &doc.components {
        top.walk(&mut |component: &Component| {
            for prop in &component.properties {
                if !matches!(prop.name.as_str(), "ORGANIZER" | "ATTENDEE") {
                    continue;
                }
                let mut agents = prop.params.iter().filter(|p| p.name == "SCHEDULE-AGENT");
                let already = matches!(
                    (agents.next(), agents.next()),
                    (Some(p), None) if p.values.len() == 1
                        && p.values[0].eq_ignore_ascii_case("CLIENT")
                );
                if already {
                    continue;
                }
                let mut changed = prop.clone();
                changed.set_param("SCHEDULE-AGENT", vec!["CLIENT".to_owned()]);
                edits.extend(replace_property(bytes, prop, &property_line(&changed)));
            }
        });
    }
    Ok(finish(bytes, edits))
}

/// Makes every top-level item component (each `VEVENT`, `VTODO`, `VJOURNAL`,
/// `VFREEBUSY`/`VAVAILABILITY` of each `VCALENDAR`, or each `VCARD`) carry exactly one
/// `X-CALPORT-ORIGIN:<origin>` (the value is TEXT-escaped).
///
/// An existing origin line is replaced in place and duplicates are removed; a missing
/// one is inserted just before the component's `END` line with that line's ending.
/// Nothing else changes; returns [`Cow::Borrowed`] when every item already carries
/// this origin.
///
/// # Errors
/// Any [`ParseError`] from [`crate::parse`], and [`ParseError::NotCalendarData`] when
/// the object is neither a calendar nor a card.
pub fn set_origin<'a>(bytes: &'a [u8], origin: &str) -> Result<Cow<'a, [u8]>, ParseError> {
    let doc = Document::parse(bytes)?;
    doc.kind()?;
    let wanted = Property::new(ORIGIN_PROPERTY, escape_text(origin));
    let new_line = property_line(&wanted);
    let mut edits = Vec::new();
    for item in doc.item_components() {
        if calport_core::ComponentKind::from_component_name(&item.name).is_none() {
            continue;
        }
        let existing: Vec<&Property> = item.properties_named(ORIGIN_PROPERTY).collect();
        match existing.split_first() {
            Some((first, rest)) => {
                let up_to_date =
                    first.params.is_empty() && first.group.is_none() && first.value == wanted.value;
                if !up_to_date {
                    edits.extend(replace_property(bytes, first, &new_line));
                }
                edits.extend(rest.iter().filter_map(|p| {
                    Some(Edit {
                        range: p.source_range()?,
                        replacement: Vec::new(),
                    })
                }));
            }
            None => {
                let Some(end) = item.end_line() else { continue };
                let eol = match eol_of(bytes, &end) {
                    "" => file_eol(bytes),
                    eol => eol,
                };
                let mut line = fold_with(&new_line, eol);
                line.push_str(eol);
                edits.push(Edit {
                    range: end.start..end.start,
                    replacement: line.into_bytes(),
                });
            }
        }
    }
    Ok(finish(bytes, edits))
}

/// Removes whole lines or components from `bytes` (used when splitting a one-UID file:
/// drop `METHOD` and components without a UID, keep the rest byte for byte).
pub(crate) fn remove_ranges(bytes: &[u8], ranges: Vec<Range<usize>>) -> Vec<u8> {
    apply(
        bytes,
        ranges
            .into_iter()
            .map(|range| Edit {
                range,
                replacement: Vec::new(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAL: &str = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\n\
        ORGANIZER;CN=Ops:mailto:ops@x\n\
        ATTENDEE;SCHEDULE-AGENT=SERVER;PARTSTAT=ACCEPTED:mailto:kim@x\n\
        ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:b@x\nSUMMARY:keep  me\nEND:VEVENT\nEND:VCALENDAR";

    #[test]
    fn schedule_agent_touches_only_needed_lines() {
        let out = set_schedule_agent_client(CAL.as_bytes()).unwrap();
        let out = std::str::from_utf8(&out).unwrap();
        let expected = CAL
            .replace(
                "ORGANIZER;CN=Ops:",
                "ORGANIZER;CN=Ops;SCHEDULE-AGENT=CLIENT:",
            )
            .replace("SCHEDULE-AGENT=SERVER", "SCHEDULE-AGENT=CLIENT");
        assert_eq!(out, expected);
        assert!(matches!(
            set_schedule_agent_client(out.as_bytes()).unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn schedule_agent_keeps_crlf_and_refolds() {
        let cal = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nATTENDEE;CN=\"A very long \
            name, that goes on\";ROLE=REQ-PARTICIPANT:mai\r\n lto:someone@example.com\r\n\
            END:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = set_schedule_agent_client(cal.as_bytes()).unwrap();
        let out = std::str::from_utf8(&out).unwrap();
        assert!(out.starts_with("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nATTENDEE;"));
        assert!(out.ends_with("\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(out.lines().all(|l| l.len() <= 76));
        assert!(out.replace("\r\n ", "").contains(
            "ATTENDEE;CN=\"A very long name, that goes on\";ROLE=REQ-PARTICIPANT;\
             SCHEDULE-AGENT=CLIENT:mailto:someone@example.com\r\n"
        ));
    }

    #[test]
    fn origin_inserted_replaced_and_deduplicated() {
        let out = set_origin(CAL.as_bytes(), "job 1, a").unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            CAL.replace("END:VEVENT", "X-CALPORT-ORIGIN:job 1\\, a\nEND:VEVENT")
        );
        assert!(matches!(
            set_origin(&out, "job 1, a").unwrap(),
            Cow::Borrowed(_)
        ));
        let twice = text.replace(
            "SUMMARY:",
            "X-CALPORT-ORIGIN:old\nX-CALPORT-ORIGIN:older\nSUMMARY:",
        );
        let out = set_origin(twice.as_bytes(), "new").unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(text.matches("X-CALPORT-ORIGIN").count(), 1);
        assert!(text.contains("X-CALPORT-ORIGIN:new\nSUMMARY:keep  me\n"));
    }

    #[test]
    fn origin_on_cards() {
        let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nEND:VCARD\r\n";
        let out = set_origin(card, "a").unwrap();
        assert_eq!(
            &*out,
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u\r\nX-CALPORT-ORIGIN:a\r\nEND:VCARD\r\n"
        );
    }
}
