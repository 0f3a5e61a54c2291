//! Giving an item a new UID with a minimal edit (for "keep both versions").

use std::ops::Range;

use crate::ParseError;
use crate::model::{Document, Property};
use crate::text::escape_text;
use crate::write::{fold_with, property_line};

/// Returns the object with every `UID` of its item components (each `VEVENT`, `VTODO`,
/// `VJOURNAL`, … of each `VCALENDAR`, and each `VCARD`) set to `new_uid`.
///
/// In a calendar the value is written as TEXT (escaped); in a vCard it is written as is,
/// except that line breaks, which cannot stand in a content line, become `\n`. The group
/// and parameters of each `UID` line are kept. Only the changed lines are re-serialized
/// (and re-folded with their own line ending); every other byte stays identical. `UID`s
/// of nested components such as `VALARM` identify those sub-objects and are left alone;
/// an item without a `UID` gets none.
///
/// # Errors
/// Any [`ParseError`] from [`crate::parse`], and [`ParseError::NotCalendarData`] when the
/// object is neither a calendar nor a card.
pub fn replace_uid(bytes: &[u8], new_uid: &str) -> Result<Vec<u8>, ParseError> {
    let doc = Document::parse(bytes)?;
    doc.kind()?;
    let as_text = escape_text(new_uid);
    let as_card = card_value(new_uid);
    let mut edits = Vec::new();
    for item in doc.item_components() {
        let value = if item.name == "VCARD" {
            &as_card
        } else {
            &as_text
        };
        for prop in item.properties_named("UID") {
            if prop.value == *value {
                continue;
            }
            let Some(range) = prop.source_range() else {
                continue;
            };
            let mut changed = prop.clone();
            changed.value.clone_from(value);
            edits.push((range.clone(), replacement(bytes, &range, &changed)));
        }
    }
    Ok(apply(bytes, edits))
}

/// A vCard UID written as is, but without raw line breaks.
fn card_value(uid: &str) -> String {
    uid.replace("\r\n", "\\n").replace(['\r', '\n'], "\\n")
}

/// The new folded line for `prop`, ending like the line at `range` did.
fn replacement(bytes: &[u8], range: &Range<usize>, prop: &Property) -> Vec<u8> {
    let line = &bytes[range.clone()];
    let eol = if line.ends_with(b"\r\n") {
        "\r\n"
    } else if line.ends_with(b"\n") {
        "\n"
    } else if line.ends_with(b"\r") {
        "\r"
    } else {
        ""
    };
    // The last line of a file may have no ending; fold it like the rest of the file.
    let fold_eol = match eol {
        "" => match bytes.iter().position(|&b| b == b'\n') {
            Some(i) if i > 0 && bytes[i - 1] == b'\r' => "\r\n",
            Some(_) => "\n",
            None => "\r\n",
        },
        eol => eol,
    };
    let mut out = fold_with(&property_line(prop), fold_eol);
    out.push_str(eol);
    out.into_bytes()
}

/// Replaces the given non-overlapping byte ranges of `bytes`.
fn apply(bytes: &[u8], mut edits: Vec<(Range<usize>, Vec<u8>)>) -> Vec<u8> {
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = Vec::with_capacity(bytes.len() + 32 * edits.len());
    let mut pos = 0;
    for (range, new) in edits {
        if range.start < pos {
            continue;
        }
        out.extend_from_slice(&bytes[pos..range.start]);
        out.extend_from_slice(&new);
        pos = range.end;
    }
    out.extend_from_slice(&bytes[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_for_calendars_only() {
        let cal = b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:old\nEND:VEVENT\nEND:VCALENDAR\n";
        let out = replace_uid(cal, "a,b;c\\d").unwrap();
        assert_eq!(
            out,
            b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\\,b\\;c\\\\d\nEND:VEVENT\nEND:VCALENDAR\n"
        );
        let card = b"BEGIN:VCARD\nVERSION:3.0\nUID:old\nEND:VCARD";
        let out = replace_uid(card, "urn:uuid:a,b\nc").unwrap();
        assert_eq!(
            out,
            b"BEGIN:VCARD\nVERSION:3.0\nUID:urn:uuid:a,b\\nc\nEND:VCARD"
        );
    }

    #[test]
    fn unchanged_when_already_set_and_keeps_params() {
        let cal = b"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:same\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(replace_uid(cal, "same").unwrap(), cal);
        let card = b"BEGIN:VCARD\nVERSION:4.0\nitem1.UID;VALUE=TEXT:x\nEND:VCARD\n";
        assert_eq!(
            replace_uid(card, "y").unwrap(),
            b"BEGIN:VCARD\nVERSION:4.0\nitem1.UID;VALUE=TEXT:y\nEND:VCARD\n"
        );
    }

    #[test]
    fn leaves_alarm_uids_and_folds_long_values() {
        let cal = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:old\nBEGIN:VALARM\nUID:alarm-1\n\
                   END:VALARM\nEND:VEVENT\nEND:VCALENDAR\n";
        let long = "x".repeat(100);
        let out = String::from_utf8(replace_uid(cal.as_bytes(), &long).unwrap()).unwrap();
        assert!(out.contains("UID:alarm-1\n"));
        assert!(out.lines().all(|l| l.len() <= 75));
        assert_eq!(
            out.replace("\n ", ""),
            cal.replace("UID:old", &format!("UID:{long}"))
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            replace_uid(b"BEGIN:VEVENT\nUID:1\nEND:VEVENT\n", "x"),
            Err(ParseError::NotCalendarData { .. })
        ));
        assert_eq!(replace_uid(b"", "x"), Err(ParseError::Empty));
    }
}
