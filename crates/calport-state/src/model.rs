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
