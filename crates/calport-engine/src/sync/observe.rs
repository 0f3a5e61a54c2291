//! Observing one side of a collection pair against the status: which items are as they
//! were at the last sync (not fetched), which moved (fetched and read), which are gone.

use std::collections::HashMap;

use calport_core::{
    CollectionInfo, ComponentKind, ErrorClass, FetchedItem, ItemRef, Store, StoreError,
};
use calport_state::{ItemStatus, SideState};

use super::plan::{Known, Observed, Stamp, Version};
use super::policy::Side;
use crate::migrate::items::parse_member;
use crate::report::FailedItem;

/// A version read in this run, with its bytes.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub version: Version,
    pub kind: ComponentKind,
    pub span: Option<(i64, Option<i64>)>,
    pub body: Vec<u8>,
    pub summary: Option<String>,
}

/// One side as observed in this run.
#[derive(Debug, Default)]
pub(super) struct SideView {
    /// Per UID: what the side holds now. UIDs the status knows on this side always have
    /// an entry; new ones appear when read.
    pub observed: HashMap<String, Observed>,
    /// Bodies of the versions read in this run, per UID.
    pub held: HashMap<String, Held>,
    /// Members that could not be read and belong to no known item.
    pub problems: Vec<FailedItem>,
    /// The token to save once the pair is in step.
    pub token: Option<String>,
    /// `unchanged`, `incremental` or `full`.
    pub listing: &'static str,
}

impl SideView {
    /// How many items the side holds now (as far as this run knows).
    pub fn present(&self) -> usize {
        self.observed
            .values()
            .filter(|o| !matches!(o, Observed::Absent))
            .count()
    }
}

/// The status row's state on `side`.
pub(super) fn side_state(row: &ItemStatus, side: Side) -> Option<&SideState> {
    match side {
        Side::A => row.src.as_ref(),
        Side::B => row.dst.as_ref(),
    }
}

/// The status row's state on `side` as the planner sees it.
pub(super) fn known(row: &ItemStatus, side: Side) -> Option<Known> {
    side_state(row, side).map(|s| Known {
        href: s.href.clone(),
        etag: s.etag.clone(),
        hash: s.hash.clone().unwrap_or_default(),
    })
}

/// Comparable form of an href (servers differ in percent-encoding).
pub(super) fn key(href: &ItemRef) -> String {
    let bytes = href.as_str().as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where the listing of a side starts from.
pub(super) struct ListFrom<'s> {
    pub token: Option<&'s str>,
    /// True when the collection's marker has not moved since the last clean pass.
    pub unmoved: bool,
}

/// Lists, fetches and reads one side.
///
/// # Errors
/// Only failures of the whole listing; unreadable members are reported per item.
pub(super) async fn observe(
    store: &dyn Store,
    collection: &CollectionInfo,
    rows: &[ItemStatus],
    side: Side,
    from: ListFrom<'_>,
    recheck: &[ItemRef],
    batch: usize,
) -> Result<SideView, StoreError> {
    let mut view = SideView::default();
    let mut by_href: HashMap<String, (&str, Option<&calport_core::Etag>)> = HashMap::new();
    for row in rows {
        if let Some(state) = side_state(row, side) {
            by_href.insert(key(&state.href), (row.uid.as_str(), state.etag.as_ref()));
            view.observed.insert(row.uid.clone(), Observed::Unchanged);
        }
    }
    let changes = if from.unmoved {
        view.listing = "unchanged";
        calport_core::Changes {
            token: from.token.map(str::to_owned),
            ..calport_core::Changes::default()
        }
    } else {
        store.changes(collection, from.token).await?
    };
    if !from.unmoved {
        view.listing = if changes.complete {
            "full"
        } else {
            "incremental"
        };
    }
    view.token = changes.token.clone();
    if changes.complete {
        let listed: std::collections::HashSet<String> =
            changes.changed.iter().map(|v| key(&v.href)).collect();
        for (href, (uid, _)) in &by_href {
            if !listed.contains(href) {
                view.observed.insert((*uid).to_owned(), Observed::Absent);
            }
        }
    }
    for href in &changes.deleted {
        if let Some((uid, _)) = by_href.get(&key(href)) {
            view.observed.insert((*uid).to_owned(), Observed::Absent);
        }
    }
    let mut to_fetch: Vec<ItemRef> = Vec::new();
    for version in &changes.changed {
        match by_href.get(&key(&version.href)) {
            Some((_, Some(etag))) if **etag == version.etag => {}
            Some((uid, _)) => {
                // Until it is read: gone (if it vanished meanwhile) under its old UID.
                view.observed.insert((*uid).to_owned(), Observed::Absent);
                to_fetch.push(version.href.clone());
            }
            None => to_fetch.push(version.href.clone()),
        }
    }
    for href in recheck {
        let listed_again = to_fetch.iter().any(|h| key(h) == key(href));
        let gone = changes.deleted.iter().any(|h| key(h) == key(href));
        if !listed_again && !gone {
            to_fetch.push(href.clone());
        }
    }
    for chunk in to_fetch.chunks(batch.max(1)) {
        for result in fetch_bisecting(store, collection, chunk).await? {
            match result {
                Ok(item) => read_into(&mut view, collection, &by_href, item),
                Err((href, err)) => {
                    let reason = format!("cannot fetch it: {err}");
                    unreadable(&mut view, &by_href, &href, reason);
                }
            }
        }
    }
    Ok(view)
}

/// Marks the item at `href` unreadable (or records a problem when no known item lives
/// there).
fn unreadable(
    view: &mut SideView,
    by_href: &HashMap<String, (&str, Option<&calport_core::Etag>)>,
    href: &ItemRef,
    reason: String,
) {
    match by_href.get(&key(href)) {
        Some((uid, _)) => {
            view.observed
                .insert((*uid).to_owned(), Observed::Unreadable(reason.clone()));
            view.problems.push(FailedItem {
                source_href: href.to_string(),
                uid: Some((*uid).to_owned()),
                reason,
            });
        }
        None => view.problems.push(FailedItem {
            source_href: href.to_string(),
            uid: None,
            reason,
        }),
    }
}

fn read_into(
    view: &mut SideView,
    collection: &CollectionInfo,
    by_href: &HashMap<String, (&str, Option<&calport_core::Etag>)>,
    item: FetchedItem,
) {
    let held = match read(collection, &item) {
        Ok(held) => held,
        Err(reason) => return unreadable(view, by_href, &item.href, reason),
    };
    let uid = held.0;
    let held = held.1;
    if let Some(existing) = view.held.get(&uid) {
        // Two resources hold the same UID: keep the one the status knows.
        let known_here = by_href
            .get(&key(&held.version.href))
            .is_some_and(|(u, _)| *u == uid);
        view.problems.push(FailedItem {
            source_href: if known_here {
                existing.version.href.to_string()
            } else {
                held.version.href.to_string()
            },
            uid: Some(uid.clone()),
            reason: "another resource of this collection holds the same UID; it is left alone"
                .to_owned(),
        });
        if !known_here {
            return;
        }
    }
    view.observed
        .insert(uid.clone(), Observed::Read(held.version.clone()));
    view.held.insert(uid, held);
}

/// Parses a fetched member into one item; several UIDs in one resource cannot be synced
/// item by item without losing the others, so such a member is refused.
pub(super) fn read(
    collection: &CollectionInfo,
    item: &FetchedItem,
) -> Result<(String, Held), String> {
    let parsed = parse_member(&item.body, collection.kind, &item.href)?;
    let mut members = parsed.items.into_iter();
    let (Some(member), None) = (members.next(), members.next()) else {
        return Err("the resource holds several items (UIDs); calport syncs one item per resource and leaves it alone".to_owned());
    };
    let meta = calport_ical::inspect(&member.bytes).map_err(|e| format!("cannot read it: {e}"))?;
    let span = match calport_ical::time_span(&member.bytes) {
        Ok(Some(span)) => Some((span.start, span.end)),
        _ => None,
    };
    let summary = summary_of(&member.bytes);
    Ok((
        member.uid,
        Held {
            version: Version {
                href: item.href.clone(),
                etag: item.etag.clone(),
                hash: member.hash,
                stamp: Stamp {
                    last_modified: meta.last_modified.map(|v| utc_stamp(&v)),
                    sequence: meta.sequence,
                    dtstamp: meta.dtstamp.map(|v| utc_stamp(&v)),
                },
            },
            kind: member.kind,
            span,
            body: member.bytes,
            summary,
        },
    ))
}

/// Date-time values compared as text: keep the digits only, so `2025-01-02T03:04:05Z`
/// (vCard REV) and `20250102T030405Z` sort alike.
fn utc_stamp(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_digit).collect()
}

/// SUMMARY of the first component, or FN of a card.
pub(super) fn summary_of(bytes: &[u8]) -> Option<String> {
    let doc = calport_ical::parse(bytes).ok()?;
    let first = doc.item_components().into_iter().next()?;
    let prop = first.property("SUMMARY").or_else(|| first.property("FN"))?;
    Some(calport_ical::unescape_text(&prop.value))
}

/// Fetches members; a batch that fails as a whole is split until the culprit is alone.
pub(super) async fn fetch_bisecting(
    store: &dyn Store,
    collection: &CollectionInfo,
    hrefs: &[ItemRef],
) -> Result<Vec<Result<FetchedItem, (ItemRef, StoreError)>>, StoreError> {
    let mut results = Vec::with_capacity(hrefs.len());
    let mut pending: Vec<&[ItemRef]> = vec![hrefs];
    while let Some(batch) = pending.pop() {
        if batch.is_empty() {
            continue;
        }
        match store.fetch(collection, batch).await {
            Ok(fetched) => results.extend(fetched),
            Err(err) if err.class() == ErrorClass::Fatal => return Err(err),
            Err(err) if batch.len() == 1 => results.push(Err((batch[0].clone(), err))),
            Err(_) => {
                let (left, right) = batch.split_at(batch.len() / 2);
                pending.push(right);
                pending.push(left);
            }
        }
    }
    Ok(results)
}
