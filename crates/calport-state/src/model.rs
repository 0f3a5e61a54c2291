//! Rows of the status database as plain Rust values.

use calport_core::{Etag, ItemRef};

/// What calport knows of one item on one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideState {
    /// Where the item lives on that side.
    pub href: ItemRef,
    /// Its etag when last seen; `None` when a write returned none and it was not re-read.
    pub etag: Option<Etag>,
    /// Normalized content hash when last seen; `None` when the item changed there and
    /// calport has not fetched it since.
    pub hash: Option<String>,
}

/// The last-known state of one item (one UID) of a collection pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemStatus {
    /// The iCalendar/vCard UID.
    pub uid: String,
    /// `event`, `todo`, `journal`, `freebusy` or `card`.
    pub kind: String,
    /// The source side, if the item is there.
    pub src: Option<SideState>,
    /// The destination side, if the item is there.
    pub dst: Option<SideState>,
    /// For events: the time span of all occurrences when last seen (unix seconds; an end
    /// of `None` recurs forever), used by sync windows. `None` for other items.
    pub span: Option<(i64, Option<i64>)>,
}

/// A collection pair and its incremental-listing tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairState {
    /// Row id, used by every other call.
    pub id: i64,
    /// Source token at the last complete pass.
    pub src_token: Option<String>,
    /// Destination token at the last complete pass.
    pub dst_token: Option<String>,
    /// Source collection version (ctag or sync-token property) at the last complete pass.
    pub src_marker: Option<String>,
    /// Destination collection version at the last complete pass.
    pub dst_marker: Option<String>,
}

/// A source member that could not be transferred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureRecord {
    /// The source member.
    pub src_ref: ItemRef,
    /// Its etag when it failed.
    pub src_etag: Option<Etag>,
    /// The UID, when it could be read (empty otherwise).
    pub uid: String,
    /// `item` (refused or unreadable) or `transient` (server trouble).
    pub class: String,
    /// The reason, as shown to the user.
    pub reason: String,
    /// How many runs failed on it.
    pub attempts: i64,
}

/// One side of a parked conflict: the version that was there when it was parked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictSide {
    /// Where the version lives.
    pub href: ItemRef,
    /// Its etag when parked.
    pub etag: Option<Etag>,
    /// Its bytes.
    pub body: Vec<u8>,
}

/// A conflict parked for a person to decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictRecord {
    /// Row id, as users name it (`calport conflicts resolve ID`).
    pub id: i64,
    /// The collection pair.
    pub pair_id: i64,
    /// The job of the pair.
    pub job: String,
    /// Side A's collection.
    pub a_collection: String,
    /// Side B's collection.
    pub b_collection: String,
    /// The item's UID.
    pub uid: String,
    /// `event`, `todo`, `card`, …
    pub kind: String,
    /// Why it was parked, in words.
    pub reason: String,
    /// Side A's version (`None`: deleted there).
    pub a: Option<ConflictSide>,
    /// Side B's version (`None`: deleted there).
    pub b: Option<ConflictSide>,
    /// Side A's content hash at the last sync (the common ancestor), if any.
    pub base_a_hash: Option<String>,
    /// Side B's content hash at the last sync, if any.
    pub base_b_hash: Option<String>,
    /// The user's choice (`a`, `b`, `both`), applied by the next run.
    pub resolution: Option<String>,
    /// When it was first parked (unix milliseconds).
    pub created_at: i64,
    /// When its versions last changed (unix milliseconds).
    pub updated_at: i64,
}
