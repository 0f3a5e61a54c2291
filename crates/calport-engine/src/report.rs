//! What a run did, per collection pair: counts, failures, and (dry run) what it would do.

use calport_core::ServerInfo;
use serde::Serialize;

/// The outcome of one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Written as a new resource.
    Created,
    /// Written over the existing resource.
    Updated,
    /// Already there with the same meaning.
    Unchanged,
    /// Deliberately not moved (kind not selected).
    Skipped,
    /// Could not be moved; listed with the reason.
    Failed,
}

/// Counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PairStats {
    /// Items written as new resources.
    pub created: u64,
    /// Items written over existing resources.
    pub updated: u64,
    /// Items already in place.
    pub unchanged: u64,
    /// Items not selected.
    pub skipped: u64,
    /// Items that failed.
    pub failed: u64,
    /// Written items whose read-back means what was sent.
    pub verified: u64,
    /// Written items the destination stored differently in meaning (data loss).
    pub corrupted: u64,
}

impl PairStats {
    /// Counts one outcome.
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// Adds another pair's counts.
    pub fn add(&mut self, other: &PairStats) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.verified += other.verified;
        self.corrupted += other.corrupted;
    }

    /// Items written (created + updated).
    pub fn written(&self) -> u64 {
        self.created + self.updated
    }
}

/// One item that did not arrive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedItem {
    /// The source resource.
    pub source_href: String,
    /// The UID, when it could be read.
    pub uid: Option<String>,
    /// The reason (the server's own words where it gave any).
    pub reason: String,
}

/// A written item whose read-back differs in meaning from what was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CorruptedItem {
    /// The UID.
    pub uid: String,
    /// The source resource.
    pub source_href: String,
    /// Where the destination stored it.
    pub destination_href: String,
    /// What differs, one line each (`VEVENT[uid=…]: DESCRIPTION changed: expected …`).
    pub differences: Vec<String>,
}

/// A change made to an item so that a defective server stores it intact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppliedWorkaround {
    /// The UID.
    pub uid: String,
    /// Where it was written.
    pub destination_href: String,
    /// What was changed, in words.
    pub change: String,
}

/// What happened to one source collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PairReport {
    /// Source collection name.
    pub source: String,
    /// Source collection href.
    pub source_href: String,
    /// Destination collection name (or what it will be called).
    pub destination: Option<String>,
    /// Destination collection href (None when it is still to be created in a dry run).
    pub destination_href: Option<String>,
    /// `calendar` or `addressbook`.
    pub kind: String,
    /// `paired`, `created` (collection made by this run), `would_create` (dry run),
    /// `skipped`, or `failed`.
    pub mapping: String,
    /// Why the collection was skipped or failed.
    pub note: Option<String>,
    /// Item counts (in a dry run: what would happen).
    pub stats: PairStats,
    /// Items that failed, with reasons.
    pub failures: Vec<FailedItem>,
    /// Items the destination stored wrongly (found by read-back verification).
    pub corrupted: Vec<CorruptedItem>,
    /// Items changed to work around a destination defect.
    pub workarounds: Vec<AppliedWorkaround>,
    /// Whether the pair was fully processed (false when cancelled or stopped).
    pub complete: bool,
}

/// The result of a whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MigrationReport {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Whether the run was cancelled before finishing.
    pub cancelled: bool,
    /// One entry per source collection.
    pub collections: Vec<PairReport>,
    /// Sum over all collections.
    pub totals: PairStats,
    /// Wall time in seconds.
    pub seconds: f64,
    /// What the source server is, as far as calport could tell.
    pub source_server: Option<ServerInfo>,
    /// What the destination server is, as far as calport could tell.
    pub destination_server: Option<ServerInfo>,
}

impl MigrationReport {
    /// Whether every selected item arrived (or would arrive).
    pub fn all_arrived(&self) -> bool {
        self.totals.failed == 0
            && self.totals.corrupted == 0
            && !self.cancelled
            && self.collections.iter().all(|c| c.mapping != "failed")
    }
}
