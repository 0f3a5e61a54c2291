//! The sync status database.
//!
//! For every job and collection pair it records what calport last saw and wrote on each
//! side, per item UID: the member's ref, etag and content hash. This is what makes runs
//! incremental (unchanged etag → nothing to fetch), resumable after a crash (every write
//! is committed as it lands) and able to tell "deleted on the source" from "new on the
//! destination". Failed members are kept too, so the next run retries them.
//!
//! Two backends, chosen by URL in [`StateDb::connect`]: SQLite, the embedded one (a file
//! in WAL mode, one writer at a time), and PostgreSQL, which several calport processes can
//! share. Every statement is plain SQL with `$n` placeholders, written once for both; each
//! backend has its own migrations (`migrations/sqlite`, `migrations/postgres`) creating
//! the same tables.

mod db;
mod dead_letters;
mod deferred;
mod ingest;
mod model;
mod service;
mod sessions;
#[cfg(feature = "test-support")]
pub mod testing;

pub use db::{Backend, StateDb, StateError};
pub use dead_letters::{DeadLetterRow, ItemFailure};
pub use deferred::DeferredRow;
pub use ingest::{
    AuditRow, EventRow, InboxRow, IngestConflictRow, SourceCounts, SourceFields, SourceRow,
};
pub use model::{ConflictRecord, ConflictSide, FailureRecord, ItemStatus, PairState, SideState};
pub use service::{
    AccountFields, AccountRow, ApiKeyRow, DeliveryRow, JobFields, JobRow, RunLogRow, RunRow, Saved,
    WebhookRow, WorkerRow,
};
pub use sessions::SessionRow;
