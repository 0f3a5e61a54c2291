//! Reading fetched members with `calport-ical`: split into items (one per UID), hash them,
//! and prepare the bytes to write.

use calport_core::{CollectionKind, ComponentKind};

/// One item (one UID) of a fetched member.
pub(crate) struct ParsedMember {
    pub uid: String,
    pub kind: ComponentKind,
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// A fetched member, split.
pub(crate) struct ParsedResource {
    pub items: Vec<ParsedMember>,
    /// Parts that could not be used (e.g. a component without UID), in words.
    pub problems: Vec<String>,
}

/// Splits a member into its items; `Err` when nothing in it can be used.
/// Address books hold vCards only; calendars only iCalendar data.
pub(crate) fn parse_member(body: &[u8], kind: CollectionKind) -> Result<ParsedResource, String> {
    let outcome = match kind {
        CollectionKind::AddressBook => calport_ical::split_vcards(body),
        CollectionKind::Calendar => calport_ical::split_by_uid(body),
    }
    .map_err(|e| format!("cannot read the item: {e}"))?;
    let mut items = Vec::new();
    let mut problems: Vec<String> = outcome.skipped.clone();
    for split in outcome.items {
        match calport_ical::inspect(&split.bytes) {
            Ok(meta) => items.push(ParsedMember {
                uid: meta.uid,
                kind: meta.kind,
                hash: meta.content_hash,
                bytes: split.bytes,
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

/// The bytes to send: ORGANIZER/ATTENDEE get `SCHEDULE-AGENT=CLIENT`, nothing else moves.
pub(crate) fn prepare_body(bytes: &[u8]) -> Vec<u8> {
    match calport_ical::set_schedule_agent_client(bytes) {
        Ok(prepared) => prepared.into_owned(),
        Err(_) => bytes.to_vec(),
    }
}
