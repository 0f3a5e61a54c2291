//! Reading fetched members with `calport-ical`: split into items (one per UID), hash them,
//! and prepare the bytes to write.

use calport_core::{CollectionKind, ComponentKind, ItemRef};
use sha2::{Digest, Sha256};

/// One item (one UID) of a fetched member.
pub(crate) struct ParsedMember {
    pub uid: String,
    pub kind: ComponentKind,
    pub hash: String,
    pub bytes: Vec<u8>,
    /// Whether the UID was derived by calport (the source item had none).
    pub derived_uid: bool,
}

/// A fetched member, split.
pub(crate) struct ParsedResource {
    pub items: Vec<ParsedMember>,
    /// Parts that could not be used (e.g. a component without UID), in words.
    pub problems: Vec<String>,
}

/// Splits a member into its items; `Err` when nothing in it can be used.
///
/// Address books hold vCards only; calendars only iCalendar data. A member with exactly
/// one item and no UID (common for vCard 3.0, where UID is optional) gets a UID derived
/// from where it lives (`href`), inserted as one line: destinations need a UID to keep one
/// resource per item, and the derived value is the same on every run, so re-runs and
/// resumed runs recognise the copy.
pub(crate) fn parse_member(
    body: &[u8],
    kind: CollectionKind,
    href: &ItemRef,
) -> Result<ParsedResource, String> {
    let split = |bytes: &[u8]| match kind {
        CollectionKind::AddressBook => calport_ical::split_vcards(bytes),
        CollectionKind::Calendar => calport_ical::split_by_uid(bytes),
    };
    let mut outcome = split(body).map_err(|e| format!("cannot read the item: {e}"))?;
    let mut uid_was_derived = false;
    if outcome.items.is_empty()
        && let Some(with_uid) = insert_uid(body, &derived_uid(href))
        && let Ok(again) = split(&with_uid)
        && again.items.len() == 1
    {
        outcome = again;
        uid_was_derived = true;
    }
    let mut items = Vec::new();
    let mut problems: Vec<String> = outcome.skipped.clone();
    for split in outcome.items {
        match calport_ical::inspect(&split.bytes) {
            Ok(meta) => items.push(ParsedMember {
                uid: meta.uid,
                kind: meta.kind,
                hash: meta.content_hash,
                bytes: split.bytes,
                derived_uid: uid_was_derived,
            }),
            Err(e) => problems.push(format!("cannot read the item: {e}")),
        }
    }
    if items.is_empty() {
        return Err(problems
            .into_iter()
            .next()
            .unwrap_or_else(|| "the item holds no calendar component or vCard".into()));
    }
    Ok(ParsedResource { items, problems })
}

/// A stable UID for a member that has none.
fn derived_uid(href: &ItemRef) -> String {
    let digest = Sha256::digest(href.as_str().as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("calport-{hex}")
}

/// Inserts `UID:<uid>` after the first `BEGIN:` line of the single item component (VCARD,
/// VEVENT, VTODO, VJOURNAL); `None` when there is not exactly one such component.
fn insert_uid(body: &[u8], uid: &str) -> Option<Vec<u8>> {
    const ITEMS: [&str; 4] = [
        "BEGIN:VCARD",
        "BEGIN:VEVENT",
        "BEGIN:VTODO",
        "BEGIN:VJOURNAL",
    ];
    let text = std::str::from_utf8(body).ok()?;
    let mut insert_at = None;
    let mut count = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if ITEMS.iter().any(|b| trimmed.eq_ignore_ascii_case(b)) {
            count += 1;
            insert_at.get_or_insert(offset + line.len());
        }
        offset += line.len();
    }
    let at = insert_at.filter(|_| count == 1)?;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = Vec::with_capacity(body.len() + uid.len() + 8);
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(format!("UID:{uid}{eol}").as_bytes());
    out.extend_from_slice(&body[at..]);
    Some(out)
}

/// The bytes to send: ORGANIZER/ATTENDEE get `SCHEDULE-AGENT=CLIENT`, nothing else moves.
pub(crate) fn prepare_body(bytes: &[u8]) -> Vec<u8> {
    match calport_ical::set_schedule_agent_client(bytes) {
        Ok(prepared) => prepared.into_owned(),
        Err(_) => bytes.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_without_uid_gets_a_stable_derived_one() {
        let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nEND:VCARD\r\n";
        let href = ItemRef::new("/a/book/x.vcf");
        let first = parse_member(card, CollectionKind::AddressBook, &href).unwrap();
        let again = parse_member(card, CollectionKind::AddressBook, &href).unwrap();
        assert_eq!(first.items.len(), 1);
        assert_eq!(first.items[0].uid, again.items[0].uid);
        assert!(first.items[0].uid.starts_with("calport-"));
        let text = String::from_utf8(first.items[0].bytes.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "BEGIN:VCARD\r\nUID:{}\r\nVERSION:3.0\r\nFN:No Uid\r\nEND:VCARD\r\n",
                first.items[0].uid
            )
        );
        let other = parse_member(
            card,
            CollectionKind::AddressBook,
            &ItemRef::new("/a/book/y.vcf"),
        )
        .unwrap();
        assert_ne!(
            other.items[0].uid, first.items[0].uid,
            "derived from the member's place"
        );
    }

    #[test]
    fn several_uidless_events_are_not_merged_under_one_uid() {
        let cal = b"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nDTSTART:20260101T000000Z\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART:20260102T000000Z\nEND:VEVENT\nEND:VCALENDAR\n";
        assert!(parse_member(cal, CollectionKind::Calendar, &ItemRef::new("/c/x.ics")).is_err());
    }
}
