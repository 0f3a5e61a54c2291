//! The calport sync engine.
//!
//! A run goes collection pair by collection pair: *map* the source's collections onto the
//! destination's ([`mapping`], pure), *list* both sides (incrementally where the store
//! can), decide per item what must happen ([`plan`], pure: last-known status + the
//! source item → an [`plan::Action`]), then *execute* the actions with bounded
//! concurrency, committing the status of every item as it lands ([`migrate`]). A run
//! killed at any point resumes from the status database without duplicates: destination
//! names are derived from the UID and creates are conditional (`If-None-Match: *`).

pub mod mapping;
pub mod migrate;
pub mod plan;
pub mod report;
pub mod schedule;
pub mod sync;

pub use mapping::{CollectionMapping, Selection, map_collections};
pub use migrate::{EngineError, MigrateOptions, Migration, Progress, SilentProgress};
pub use report::{
    AppliedWorkaround, CorruptedItem, FailedItem, MigrationReport, Outcome, PairReport, PairStats,
};
