//! Reading the few fields the sync engine needs from an item.

use std::collections::BTreeSet;

use calport_core::ComponentKind;

use crate::ParseError;
use crate::model::{DocKind, Document};

/// The fields of an item the engine works with. Everything else travels as bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemMeta {
    /// The first UID, exactly as written (raw, not unescaped).
    pub uid: String,
    /// The first event/to-do/journal/free-busy component's kind, or
    /// [`ComponentKind::Card`].
    pub kind: ComponentKind,
    /// The latest raw `LAST-MODIFIED` value (vCard: `REV`) over all item components.
    pub last_modified: Option<String>,
    /// The highest `SEQUENCE` over all item components; 0 when absent.
    pub sequence: i64,
    /// The latest raw `DTSTAMP` value over all item components.
    pub dtstamp: Option<String>,
    /// The normalized content hash (hex SHA-256), see [`crate::content_hash`].
    pub content_hash: String,
    /// How many distinct UIDs the object holds (1 for a well-formed CalDAV resource).
    pub uid_count: usize,
    /// The `X-CALPORT-ORIGIN` value (unescaped) of the first item that carries one.
    pub origin: Option<String>,
    /// True when the bytes were not all valid UTF-8 (see [`Document::lossy`]).
    pub lossy: bool,
}

/// Parses an object and reads its [`ItemMeta`].
///
/// # Errors
/// Any [`ParseError`] from [`crate::parse`]; [`ParseError::NotCalendarData`] when the
/// first top-level component is neither `VCALENDAR` nor `VCARD`;
/// [`ParseError::NoItem`] for a calendar without any event, to-do, journal or
/// free/busy component; [`ParseError::NoUid`] when no item component has a UID.
pub fn inspect(bytes: &[u8]) -> Result<ItemMeta, ParseError> {
    Document::parse(bytes)?.meta()
}

impl Document {
    /// Reads this document's [`ItemMeta`]; see [`inspect`].
    ///
    /// # Errors
    /// As [`inspect`], minus the parse errors.
    pub fn meta(&self) -> Result<ItemMeta, ParseError> {
        let items: Vec<_> = match self.kind()? {
            DocKind::Cards => self
                .components
                .iter()
                .filter(|c| c.name == "VCARD")
                .collect(),
            DocKind::Calendar => self.item_components(),
        };
        let kind = items
            .iter()
            .find_map(|c| ComponentKind::from_component_name(&c.name))
            .ok_or(ParseError::NoItem)?;
        let uid = items
            .iter()
            .find_map(|c| c.uid())
            .ok_or(ParseError::NoUid)?
            .to_owned();
        let uid_count = items
            .iter()
            .filter_map(|c| c.uid())
            .collect::<BTreeSet<_>>()
            .len();
        let latest = |name: &str| {
            items
                .iter()
                .flat_map(|c| c.properties_named(name))
                .map(|p| p.value.trim().to_owned())
                .filter(|v| !v.is_empty())
                .max()
        };
        let last_modified = match kind {
            ComponentKind::Card => latest("REV"),
            _ => latest("LAST-MODIFIED"),
        };
        let sequence = items
            .iter()
            .flat_map(|c| c.properties_named("SEQUENCE"))
            .filter_map(|p| p.value.trim().parse::<i64>().ok())
            .max()
            .unwrap_or(0);
        let origin = items
            .iter()
            .find_map(|c| c.property("X-CALPORT-ORIGIN"))
            .map(|p| p.text());
        Ok(ItemMeta {
            uid,
            kind,
            last_modified,
            sequence,
            dtstamp: latest("DTSTAMP"),
            content_hash: self.content_hash(),
            uid_count,
            origin,
            lossy: self.lossy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_event_fields() {
        let meta = inspect(
            b"BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:X\nEND:VTIMEZONE\nBEGIN:VTODO\nUID:a\n\
              SEQUENCE:2\nLAST-MODIFIED:20250101T000000Z\nEND:VTODO\nBEGIN:VTODO\nUID:a\n\
              RECURRENCE-ID:20250102T000000Z\nSEQUENCE:5\nDTSTAMP:20250103T000000Z\n\
              X-CALPORT-ORIGIN:job\\,1\nEND:VTODO\nEND:VCALENDAR\n",
        )
        .unwrap();
        assert_eq!(meta.uid, "a");
        assert_eq!(meta.kind, ComponentKind::Todo);
        assert_eq!(meta.sequence, 5);
        assert_eq!(meta.last_modified.as_deref(), Some("20250101T000000Z"));
        assert_eq!(meta.dtstamp.as_deref(), Some("20250103T000000Z"));
        assert_eq!(meta.uid_count, 1);
        assert_eq!(meta.origin.as_deref(), Some("job,1"));
    }

    #[test]
    fn reads_card_fields() {
        let meta = inspect(b"BEGIN:VCARD\nVERSION:3.0\nUID:c\nREV:2025\nEND:VCARD\n").unwrap();
        assert_eq!((meta.kind, meta.uid.as_str()), (ComponentKind::Card, "c"));
        assert_eq!(meta.last_modified.as_deref(), Some("2025"));
        assert_eq!(
            inspect(b"BEGIN:VCARD\nFN:x\nEND:VCARD\n"),
            Err(ParseError::NoUid)
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            inspect(b"BEGIN:VEVENT\nUID:1\nEND:VEVENT\n"),
            Err(ParseError::NotCalendarData { .. })
        ));
        assert_eq!(
            inspect(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR\n"),
            Err(ParseError::NoUid)
        );
        assert_eq!(
            inspect(b"BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n"),
            Err(ParseError::NoItem)
        );
    }
}
