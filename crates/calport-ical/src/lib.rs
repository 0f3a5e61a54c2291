//! Lenient, lossless iCalendar (RFC 5545) and vCard (RFC 2426 / RFC 6350) content lines.
//!
//! calport moves items as their **original bytes**. This crate parses only to read a
//! few fields, split files into items, hash, compare, and make *minimal* edits:
//!
//! - [`parse`] builds a [`Document`] tree of [`Component`]s and [`Property`]s. It is
//!   lenient: folds are undone at byte level, odd lines are kept, invalid UTF-8 is read
//!   as Windows-1252 and flagged ([`Document::lossy`]). Errors ([`ParseError`]) are
//!   kept for input that truly cannot be used: no `BEGIN`, no UID, not text, truncated.
//! - [`inspect`] reads an item's [`ItemMeta`]: UID, kind, LAST-MODIFIED/REV,
//!   SEQUENCE, DTSTAMP and the normalized [`content_hash`].
//! - [`split_by_uid`] / [`split_vcards`] cut files into one item per UID or card; a
//!   file that already is one item comes back byte for byte.
//! - [`set_schedule_agent_client`] and [`set_origin`] re-serialize only the lines they
//!   must change and return [`std::borrow::Cow::Borrowed`] when nothing changes.
//! - [`replace_uid`] gives every item component a new UID, changing only those lines.
//! - [`time_span`] reads a conservative [`TimeSpan`] of an event (every occurrence
//!   included, time zones not resolved) to decide whether it is in a sync window.
//! - [`compare`] reports semantic [`Difference`]s between what was sent and what a
//!   server stored, forgiving the rewrites listed in [`Tolerance`].
//! - [`Document::to_bytes`] and [`fold_line`] write CRLF lines folded at 75 octets
//!   without splitting UTF-8 sequences.
//!
//! Pure code: no I/O, no async.

mod compare;
mod content_line;
mod edit;
mod error;
mod hash;
mod meta;
mod model;
mod parse;
mod span;
mod split;
mod text;
mod uid;
mod unfold;
mod workaround;
mod write;

pub use compare::{Difference, DifferenceKind, ServerAdded, Tolerance, compare, compare_documents};
pub use edit::{ORIGIN_PROPERTY, set_origin, set_schedule_agent_client};
pub use error::ParseError;
pub use hash::content_hash;
pub use meta::{ItemMeta, inspect};
pub use model::{Component, Document, Param, Property};
pub use parse::parse;
pub use span::{TimeSpan, time_span};
pub use split::{Split, SplitOutcome, split_by_uid, split_vcards};
pub use text::{escape_text, split_unescaped, unescape_text};
pub use uid::replace_uid;
pub use workaround::{sogo_null_risk, sogo_null_workaround};
pub use write::{MAX_LINE_OCTETS, fold_line, property_line};
