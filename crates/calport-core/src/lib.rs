//! Domain types shared by every calport crate.
//!
//! Key concepts (see `DESIGN.md`):
//! - a [`Store`] is one system calport reads from or writes to (a CalDAV/CardDAV server,
//!   later Google, Graph, Plane); the sync engine only talks to this trait;
//! - a [`CollectionInfo`] is one calendar or address book in a store;
//! - an item is addressed by an [`ItemRef`] and versioned by an [`Etag`]: an etag MUST
//!   change whenever the stored item changes, so equal etags mean "unchanged".

mod error;
mod store;
mod types;

pub use error::{ErrorClass, StoreError};
pub use store::{Adaptation, Changes, FetchedItem, NewCollection, ServerInfo, Store, WriteOutcome};
pub use types::{CollectionInfo, CollectionKind, ComponentKind, Etag, ItemRef, ItemVersion};
