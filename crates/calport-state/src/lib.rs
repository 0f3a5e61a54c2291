//! The sync status database.
//!
//! For every job and collection pair it records what calport last saw and wrote on each
//! side, per item UID: the member's ref, etag and content hash. This is what makes runs
//! incremental (unchanged etag → nothing to fetch), resumable after a crash (every write
//! is committed as it lands) and able to tell "deleted on the source" from "new on the
//! destination". Failed members are kept too, so the next run retries them.
//!
//! SQLite is the embedded backend (WAL, one writer). Every statement is plain SQL with
//! `$n` placeholders so a PostgreSQL backend can share it later.

mod db;
mod model;

pub use db::{StateDb, StateError};
pub use model::{ConflictRecord, ConflictSide, FailureRecord, ItemStatus, PairState, SideState};
