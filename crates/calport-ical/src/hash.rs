//! The normalized content hash of an item (DESIGN.md, "Item").
//!
//! The hash is SHA-256 over a canonical form of the parsed tree, so it ignores what
//! does not change meaning or what stores rewrite on their own: `PRODID`, `DTSTAMP`,
//! `X-CALPORT-ORIGIN`, property order, component order, parameter order, line folding,
//! line endings, name case, parameter quoting and the `SCHEDULE-AGENT` /
//! `SCHEDULE-STATUS` parameters. Every value, UID, alarm and override counts.

use sha2::{Digest, Sha256};

use crate::ParseError;
use crate::model::{Component, Document, Property};

/// Properties left out of the hash.
const IGNORED_PROPERTIES: &[&str] = &["PRODID", "DTSTAMP", "X-CALPORT-ORIGIN"];
/// Parameters left out of the hash (servers add them; RFC 6638 §7.1, §7.3).
const IGNORED_PARAMS: &[&str] = &["SCHEDULE-AGENT", "SCHEDULE-STATUS"];

/// The normalized content hash of an object, as 64 lower-case hex digits.
///
/// # Errors
/// Any [`ParseError`] from [`crate::parse`].
pub fn content_hash(bytes: &[u8]) -> Result<String, ParseError> {
    Ok(Document::parse(bytes)?.content_hash())
}

impl Document {
    /// The normalized content hash of this document; see [`content_hash`].
    pub fn content_hash(&self) -> String {
        let mut tops: Vec<Vec<u8>> = self.components.iter().map(canonical_component).collect();
        tops.sort();
        let mut hasher = Sha256::new();
        for top in &tops {
            hasher.update(top);
        }
        to_hex(&hasher.finalize())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Appends a length-prefixed field so that no two different trees share an encoding.
fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u64).to_be_bytes());
    out.extend_from_slice(field);
}

fn canonical_component(component: &Component) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = component
        .properties
        .iter()
        .filter(|p| !IGNORED_PROPERTIES.contains(&p.name.as_str()))
        .map(canonical_property)
        .collect();
    lines.extend(component.unparsed.iter().map(|l| {
        let mut out = b"?".to_vec();
        put(&mut out, l.as_bytes());
        out
    }));
    lines.sort();
    let mut children: Vec<Vec<u8>> = component.children.iter().map(canonical_component).collect();
    children.sort();

    let mut out = b"C".to_vec();
    put(&mut out, component.name.as_bytes());
    put(&mut out, &(lines.len() as u64).to_be_bytes());
    for line in &lines {
        put(&mut out, line);
    }
    put(&mut out, &(children.len() as u64).to_be_bytes());
    for child in &children {
        put(&mut out, child);
    }
    out
}

fn canonical_property(prop: &Property) -> Vec<u8> {
    let mut out = b"P".to_vec();
    put(
        &mut out,
        prop.group
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_bytes(),
    );
    put(&mut out, prop.name.as_bytes());
    let mut params: Vec<_> = prop
        .params
        .iter()
        .filter(|p| !IGNORED_PARAMS.contains(&p.name.as_str()))
        .collect();
    // Stable: parameters sharing a name keep their relative order.
    params.sort_by(|a, b| a.name.cmp(&b.name));
    put(&mut out, &(params.len() as u64).to_be_bytes());
    for param in params {
        put(&mut out, param.name.as_bytes());
        put(&mut out, &(param.values.len() as u64).to_be_bytes());
        for value in &param.values {
            put(&mut out, value.as_bytes());
        }
    }
    put(&mut out, prop.value.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nPRODID:a\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n\
        UID:1\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:Hi\r\n\
        ATTENDEE;CN=\"A\";ROLE=CHAIR:mailto:a@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn ignores_representation() {
        let base = content_hash(EVENT.as_bytes()).unwrap();
        let variant = "BEGIN:VCALENDAR\nversion:2.0\nPRODID:other\nBEGIN:VEVENT\n\
            attendee;role=CHAIR;SCHEDULE-AGENT=CLIENT;cn=A:mailto:a@x\nSUMMARY:H\n i\n\
            UID:1\nDTSTAMP:20990101T000000Z\nX-CALPORT-ORIGIN:x\nEND:VEVENT\nEND:VCALENDAR";
        assert_eq!(content_hash(variant.as_bytes()).unwrap(), base);
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn sees_values() {
        let base = content_hash(EVENT.as_bytes()).unwrap();
        let changed = EVENT.replace("SUMMARY:Hi", "SUMMARY:Ho");
        assert_ne!(content_hash(changed.as_bytes()).unwrap(), base);
        let changed = EVENT.replace("UID:1", "UID:2");
        assert_ne!(content_hash(changed.as_bytes()).unwrap(), base);
    }
}
