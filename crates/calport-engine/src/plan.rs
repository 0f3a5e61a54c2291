//! Per-item planning: a pure function from the last-known status of a UID and the
//! source's current version of it to the one thing the executor must do.
//!
//! Invariants (property-tested below):
//! - an item whose content hash equals what calport last wrote to the destination is
//!   never written again (idempotence: a second run makes no writes);
//! - an item unknown to the destination is created, under a name derived from its UID,
//!   so a retried or resumed create finds its own earlier copy instead of duplicating;
//! - an item known on the destination is updated in place with the etag calport last
//!   saw there (never a second resource for the same UID).

use calport_core::{ComponentKind, Etag, ItemRef};
use calport_state::{ItemStatus, SideState};
use sha2::{Digest, Sha256};

/// The source's current version of one item (one UID), parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceItem {
    /// The UID.
    pub uid: String,
    /// Event, task, card, …
    pub kind: ComponentKind,
    /// Where it lives on the source.
    pub href: ItemRef,
    /// Its source etag.
    pub etag: Etag,
    /// Normalized content hash (equal for equal meaning).
    pub hash: String,
}

/// What the executor must do for one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// PUT a new resource named `name` into the destination collection, create-only.
    Create {
        /// Resource name (URL-safe, derived from the UID).
        name: String,
    },
    /// PUT over the existing destination resource, only if its etag is still `etag`.
    Update {
        /// The destination resource.
        href: ItemRef,
        /// The etag calport last saw there (`None`: unknown, re-read it first).
        etag: Option<Etag>,
    },
    /// Nothing to write: the destination already holds this content. Only the status
    /// needs to learn the new source version.
    Unchanged,
}

impl Action {
    /// Whether the action writes to the destination.
    pub fn writes(&self) -> bool {
        !matches!(self, Action::Unchanged)
    }
}

/// Decides what to do with `item` given what the status database knows about its UID.
pub fn plan_item(status: Option<&ItemStatus>, item: &SourceItem) -> Action {
    let Some(dst) = status.and_then(|s| s.dst.as_ref()) else {
        return Action::Create {
            name: resource_name(&item.uid, item.kind),
        };
    };
    if dst.hash.as_deref() == Some(item.hash.as_str()) {
        return Action::Unchanged;
    }
    // The destination changed behind our back (hash unknown) but the source content is
    // the one we transferred last time: nothing new to transfer, keep their edit.
    let src_hash = status
        .and_then(|s| s.src.as_ref())
        .and_then(|s| s.hash.as_deref());
    if dst.hash.is_none() && src_hash == Some(item.hash.as_str()) {
        return Action::Unchanged;
    }
    Action::Update {
        href: dst.href.clone(),
        etag: dst.etag.clone(),
    }
}

/// The status row after `action` succeeded for `item`, given the destination's answer.
pub fn status_after(
    previous: Option<&ItemStatus>,
    item: &SourceItem,
    destination: Option<SideState>,
) -> ItemStatus {
    let dst = destination.or_else(|| previous.and_then(|p| p.dst.clone()));
    ItemStatus {
        uid: item.uid.clone(),
        kind: kind_name(item.kind).to_owned(),
        src: Some(SideState {
            href: item.href.clone(),
            etag: Some(item.etag.clone()),
            hash: Some(item.hash.clone()),
        }),
        dst,
        span: previous.and_then(|p| p.span),
    }
}

/// The lower-case word stored in the status database for a kind.
pub fn kind_name(kind: ComponentKind) -> &'static str {
    match kind {
        ComponentKind::Event => "event",
        ComponentKind::Todo => "todo",
        ComponentKind::Journal => "journal",
        ComponentKind::FreeBusy => "freebusy",
        ComponentKind::Card => "card",
    }
}

/// The destination resource name for a UID: the UID itself when it is short and made of
/// characters that need no escaping anywhere (`A-Z a-z 0-9 . _ -`), else a hash of it.
/// Deterministic, so that a resumed run addresses the resource an interrupted run made.
pub fn resource_name(uid: &str, kind: ComponentKind) -> String {
    let ext = if kind == ComponentKind::Card {
        "vcf"
    } else {
        "ics"
    };
    let plain = !uid.is_empty()
        && uid.len() <= 80
        && !uid.starts_with('.')
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if plain {
        format!("{uid}.{ext}")
    } else {
        let digest = Sha256::digest(uid.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("{hex}.{ext}")
    }
}

/// An alternative name for attempt `n` (≥ 2) when the derived name is taken by an item
/// with another UID.
pub fn alternative_name(uid: &str, kind: ComponentKind, attempt: u32) -> String {
    let base = resource_name(&format!("{uid}\u{0}{attempt}"), kind);
    format!("alt{attempt}-{base}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(uid: &str, etag: &str, hash: &str) -> SourceItem {
        SourceItem {
            uid: uid.into(),
            kind: ComponentKind::Event,
            href: ItemRef::new(format!("/src/{uid}.ics")),
            etag: Etag::new(etag),
            hash: hash.into(),
        }
    }

    #[test]
    fn unknown_items_are_created_under_a_uid_derived_name() {
        let action = plan_item(None, &item("abc-1", "\"e\"", "h"));
        assert_eq!(
            action,
            Action::Create {
                name: "abc-1.ics".into()
            }
        );
        let weird = resource_name(
            "040000008200E00074C5B7101A82E008@exchange/1 2",
            ComponentKind::Card,
        );
        assert!(weird.ends_with(".vcf") && weird.len() == 32 + 4, "{weird}");
        assert_eq!(
            weird,
            resource_name(
                "040000008200E00074C5B7101A82E008@exchange/1 2",
                ComponentKind::Card
            )
        );
        assert_ne!(
            alternative_name("a", ComponentKind::Event, 2),
            resource_name("a", ComponentKind::Event)
        );
    }

    #[test]
    fn changed_content_updates_in_place_with_the_known_etag() {
        let first = item("u", "\"1\"", "h1");
        let dst = SideState {
            href: ItemRef::new("/dst/u.ics"),
            etag: Some(Etag::new("\"d1\"")),
            hash: Some("h1".into()),
        };
        let status = status_after(None, &first, Some(dst));
        let second = item("u", "\"2\"", "h2");
        assert_eq!(
            plan_item(Some(&status), &second),
            Action::Update {
                href: ItemRef::new("/dst/u.ics"),
                etag: Some(Etag::new("\"d1\""))
            }
        );
        // Etag changed but meaning did not (server rewrote DTSTAMP): no write.
        assert_eq!(
            plan_item(Some(&status), &item("u", "\"3\"", "h1")),
            Action::Unchanged
        );
    }

    #[test]
    fn a_destination_edit_is_kept_while_the_source_is_unchanged() {
        let first = item("u", "\"1\"", "h1");
        let mut status = status_after(
            None,
            &first,
            Some(SideState {
                href: ItemRef::new("/dst/u.ics"),
                etag: Some(Etag::new("\"d2\"")),
                hash: None,
            }),
        );
        assert_eq!(plan_item(Some(&status), &first), Action::Unchanged);
        status.dst = None;
        assert!(
            matches!(plan_item(Some(&status), &first), Action::Create { .. }),
            "deleted on the destination: recreate"
        );
    }

    proptest! {
        /// Planning, applying the action, then planning again with the same source never
        /// writes a second time, whatever the starting status.
        #[test]
        fn a_second_plan_after_success_writes_nothing(
            uid in "[a-zA-Z0-9@/ .:-]{1,40}",
            hash in "[a-f0-9]{8}",
            old_hash in proptest::option::of("[a-f0-9]{8}"),
            had_dst in any::<bool>(),
            dst_hash_known in any::<bool>(),
        ) {
            let src = item(&uid, "\"e\"", &hash);
            let status = old_hash.map(|h| ItemStatus {
                uid: uid.clone(),
                kind: "event".into(),
                src: Some(SideState { href: src.href.clone(), etag: Some(Etag::new("\"old\"")), hash: Some(h.clone()) }),
                dst: had_dst.then(|| SideState {
                    href: ItemRef::new("/dst/x.ics"),
                    etag: Some(Etag::new("\"d\"")),
                    hash: dst_hash_known.then_some(h),
                }),
                span: None,
            });
            let action = plan_item(status.as_ref(), &src);
            let landed = match &action {
                Action::Create { name } => Some(SideState { href: ItemRef::new(format!("/dst/{name}")), etag: Some(Etag::new("\"n\"")), hash: Some(hash.clone()) }),
                Action::Update { href, .. } => Some(SideState { href: href.clone(), etag: Some(Etag::new("\"n\"")), hash: Some(hash.clone()) }),
                Action::Unchanged => None,
            };
            let after = status_after(status.as_ref(), &src, landed);
            prop_assert_eq!(plan_item(Some(&after), &src), Action::Unchanged);
            prop_assert_eq!(&after.uid, &uid);
            prop_assert!(after.dst.is_some());
            // A create always uses the deterministic name, so a retry hits the same resource.
            if let Action::Create { name } = action {
                prop_assert_eq!(name, resource_name(&uid, ComponentKind::Event));
            }
        }
    }
}
