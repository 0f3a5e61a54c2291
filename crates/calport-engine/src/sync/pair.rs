//! One collection pair of a sync run: observe both sides, plan, guard; execution is in
//! [`super::execute`].

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use calport_core::{CollectionInfo, ComponentKind, ErrorClass, ItemRef, Store, StoreError};
use calport_state::{ConflictRecord, DeadLetterRow, DeferredRow, ItemStatus, PairState, StateDb};

use super::execute::both_touched;
use super::observe::{self, Held, ListFrom, SideView, known, side_state};
use super::plan::{Decision, ItemInput, Observed, Parked, Write, plan_item};
use super::policy::{Keep, Side, in_window};
use super::report::{PlannedChange, SyncPairReport, SyncStats};
use super::{SyncJob, SyncOptions, SyncProgress, guard, is_placeholder};
use crate::migrate::EngineError;
use crate::report::FailedItem;

/// Items of a pair waiting for something: parked conflicts and failing items / dead
/// letters, by UID.
#[derive(Debug, Default)]
pub(super) struct Pending {
    pub conflicts: HashMap<String, ConflictRecord>,
    pub failing: HashMap<String, DeadLetterRow>,
    /// Items left out earlier for the window that the window now reaches.
    pub deferred: Vec<DeferredRow>,
}

impl Pending {
    /// Whether the item is a dead letter a person has to act on (parked or skipped).
    pub(super) fn dead_letter(&self, uid: &str) -> Option<&DeadLetterRow> {
        self.failing
            .get(uid)
            .filter(|d| matches!(d.state.as_str(), "open" | "skipped"))
    }
}

/// How a dead letter's skip reason starts.
pub(super) const DEAD_LETTER: &str = "dead letter (";

/// Failures in a row after which an item is parked as a dead letter.
pub(super) const PARK_AFTER: i64 = 5;

/// The run of one collection pair.
pub(super) struct PairSync<'r> {
    pub a: &'r dyn Store,
    pub b: &'r dyn Store,
    pub db: &'r StateDb,
    pub job: &'r SyncJob,
    pub options: &'r SyncOptions,
    pub progress: &'r dyn SyncProgress,
    pub cancel: &'r AtomicBool,
    pub a_collection: &'r CollectionInfo,
    pub b_collection: &'r CollectionInfo,
    pub window: Option<(i64, i64)>,
}

/// What executing one decision changes in the status database and the counts.
#[derive(Debug, Default)]
pub(super) struct Effects {
    pub(super) upserts: Vec<ItemStatus>,
    pub(super) removes: Vec<String>,
    pub(super) park: Option<ConflictRecord>,
    pub(super) counts: Vec<Count>,
    /// The decision finally carried out (after re-plans).
    pub(super) decision: Option<Decision>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Count {
    Created(Side),
    Updated(Side),
    Deleted(Side),
    Unchanged,
    Conflict,
    Resolved,
    Skipped,
}

/// Why executing one item stopped.
pub(super) enum Stop {
    /// The target changed meanwhile: this is what it holds now.
    Moved {
        side: Side,
        now: Observed,
        held: Option<Box<Held>>,
    },
    /// The item failed, with the reason.
    Failed(String),
    /// The whole side is unusable (authentication, unreachable).
    Fatal(Side, StoreError),
}

fn marker(c: &CollectionInfo) -> Option<String> {
    c.ctag.clone().or_else(|| c.sync_token.clone())
}

pub(super) fn count_into(stats: &mut SyncStats, count: Count) {
    match count {
        Count::Created(Side::A) => stats.created_on_a += 1,
        Count::Created(Side::B) => stats.created_on_b += 1,
        Count::Updated(Side::A) => stats.updated_on_a += 1,
        Count::Updated(Side::B) => stats.updated_on_b += 1,
        Count::Deleted(Side::A) => stats.deleted_on_a += 1,
        Count::Deleted(Side::B) => stats.deleted_on_b += 1,
        Count::Unchanged => stats.unchanged += 1,
        Count::Conflict => stats.conflicts += 1,
        Count::Resolved => stats.resolved += 1,
        Count::Skipped => stats.skipped += 1,
    }
}

/// The UID given to the losing version under "keep both": stable for the same content,
/// so a re-run or a resumed run finds its own copy.
pub(super) fn keep_both_uid(uid: &str, loser_hash: &str) -> String {
    let short: String = loser_hash.chars().take(12).collect();
    format!("{uid}-conflict-{short}")
}

impl PairSync<'_> {
    pub(super) fn store(&self, side: Side) -> &dyn Store {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    pub(super) fn collection(&self, side: Side) -> &CollectionInfo {
        match side {
            Side::A => self.a_collection,
            Side::B => self.b_collection,
        }
    }

    pub(super) fn side_error(side: Side, err: StoreError) -> EngineError {
        match side {
            Side::A => EngineError::Source(err),
            Side::B => EngineError::Destination(err),
        }
    }

    pub(super) fn label(&self) -> String {
        format!(
            "{} ↔ {}",
            self.a_collection.label(),
            self.b_collection.label()
        )
    }

    pub(super) async fn run(&self) -> Result<SyncPairReport, EngineError> {
        let mut report = SyncPairReport {
            a: self.a_collection.label().to_owned(),
            a_href: self.a_collection.href.to_string(),
            b: self.b_collection.label().to_owned(),
            b_href: self.b_collection.href.to_string(),
            kind: self.a_collection.kind.as_str().to_owned(),
            ..SyncPairReport::default()
        };
        let key = self.job.status_key();
        let (job, a_href, b_href) = (
            key.as_str(),
            self.a_collection.href.as_str(),
            self.b_collection.href.as_str(),
        );
        let pair = if self.options.dry_run {
            self.db.find_pair(job, a_href, b_href).await?
        } else {
            Some(self.db.pair(job, a_href, b_href).await?)
        };
        let rows = match &pair {
            Some(p) => self.db.items(p.id).await?,
            None => Vec::new(),
        };
        let parked = match &pair {
            Some(p) => Pending {
                conflicts: self
                    .db
                    .pair_conflicts(p.id)
                    .await?
                    .into_iter()
                    .map(|c| (c.uid.clone(), c))
                    .collect(),
                failing: self
                    .db
                    .pair_dead_letters(p.id)
                    .await?
                    .into_iter()
                    .map(|d| (d.uid.clone(), d))
                    .collect(),
                deferred: match self.window {
                    Some((from, to)) => self.db.deferred_in(p.id, from, to).await?,
                    None => Vec::new(),
                },
            },
            None => Pending::default(),
        };

        let mut views = Vec::new();
        // Both sides are listed (and their changes fetched) at the same time.
        let (a_seen, b_seen) = tokio::join!(
            self.observe_side(Side::A, pair.as_ref(), &rows, &parked),
            self.observe_side(Side::B, pair.as_ref(), &rows, &parked)
        );
        for (side, seen) in [(Side::A, a_seen), (Side::B, b_seen)] {
            match seen {
                Ok(view) => views.push(view),
                Err(err) if err.class() == ErrorClass::Fatal => {
                    return Err(Self::side_error(side, err));
                }
                Err(err) => {
                    report.failures.push(FailedItem {
                        source_href: self.collection(side).href.to_string(),
                        uid: None,
                        reason: format!("cannot list side {side}: {err}"),
                    });
                    return Ok(report);
                }
            }
        }
        let b_view = views.pop().unwrap_or_default();
        let a_view = views.pop().unwrap_or_default();
        report.listing = [a_view.listing.to_owned(), b_view.listing.to_owned()];
        report.failures.extend(a_view.problems.iter().cloned());
        report.failures.extend(b_view.problems.iter().cloned());

        let rows_by_uid: HashMap<&str, &ItemStatus> =
            rows.iter().map(|r| (r.uid.as_str(), r)).collect();
        let mut held: HashMap<(Side, String), Held> = HashMap::new();
        for (side, view) in [(Side::A, &a_view), (Side::B, &b_view)] {
            for (uid, h) in &view.held {
                held.insert((side, uid.clone()), h.clone());
            }
        }
        let plan = self.plan(&rows_by_uid, &a_view, &b_view, &parked, &held);
        let trip = guard::check(
            &plan,
            self.job.mass_delete_guard,
            (a_view.present(), b_view.present()),
        );
        for (input, decision) in &plan {
            if let Some(change) = describe(input, decision, &held, &rows_by_uid) {
                report.changes.push(change);
            }
        }
        if let Some(trip) = trip
            && !self.options.force_delete
        {
            report.guard = Some(trip);
            return Ok(report);
        }
        if self.options.dry_run {
            for (input, decision) in &plan {
                for count in planned_counts(input, decision) {
                    count_into(&mut report.stats, count);
                }
            }
            report.complete = true;
            return Ok(report);
        }
        let Some(pair) = pair else {
            return Ok(report);
        };
        let clean = self
            .execute(&pair, plan, &rows_by_uid, held, &parked, &mut report)
            .await?;
        // Members that could not be read and belong to no item block the sync point (they
        // are listed again next run); item failures are counted per UID instead.
        let unattributed = a_view
            .problems
            .iter()
            .chain(&b_view.problems)
            .any(|p| p.uid.is_none());
        let in_step = clean && !unattributed && !self.cancel.load(Ordering::SeqCst);
        if in_step {
            self.db
                .set_sync_point(
                    pair.id,
                    (
                        a_view.token.as_deref(),
                        marker(self.a_collection).as_deref(),
                    ),
                    (
                        b_view.token.as_deref(),
                        marker(self.b_collection).as_deref(),
                    ),
                )
                .await?;
        }
        report.complete = in_step;
        Ok(report)
    }

    async fn observe_side(
        &self,
        side: Side,
        pair: Option<&PairState>,
        rows: &[ItemStatus],
        parked: &Pending,
    ) -> Result<SideView, StoreError> {
        let collection = self.collection(side);
        if is_placeholder(collection) {
            return Ok(SideView {
                listing: "new",
                ..SideView::default()
            });
        }
        let (token, saved_marker) = match (pair, side) {
            (Some(p), Side::A) => (p.src_token.as_deref(), p.src_marker.as_deref()),
            (Some(p), Side::B) => (p.dst_token.as_deref(), p.dst_marker.as_deref()),
            (None, _) => (None, None),
        };
        let current = marker(collection);
        let unmoved = current.is_some() && current.as_deref() == saved_marker;
        // Parked conflicts, and dead letters a person asked to retry, are looked at again
        // whatever the listing says.
        let recheck: Vec<ItemRef> = parked
            .conflicts
            .values()
            .filter_map(|c| match side {
                Side::A => c.a.as_ref().map(|s| s.href.clone()),
                Side::B => c.b.as_ref().map(|s| s.href.clone()),
            })
            .chain(parked.failing.values().filter_map(|d| {
                (d.state == "retry" && d.side == side.as_str())
                    .then(|| d.href.clone().map(ItemRef::new))
                    .flatten()
            }))
            // Items the window has reached since they were left out.
            .chain(
                parked
                    .deferred
                    .iter()
                    .filter(|d| d.side == side.as_str())
                    .map(|d| ItemRef::new(d.href.clone())),
            )
            .collect();
        observe::observe(
            self.store(side),
            collection,
            rows,
            side,
            ListFrom { token, unmoved },
            &recheck,
            self.options.batch_size,
        )
        .await
    }

    fn plan(
        &self,
        rows: &HashMap<&str, &ItemStatus>,
        a: &SideView,
        b: &SideView,
        parked: &Pending,
        held: &HashMap<(Side, String), Held>,
    ) -> Vec<(ItemInput, Decision)> {
        let uids: BTreeSet<&str> = rows
            .keys()
            .copied()
            .chain(a.observed.keys().map(String::as_str))
            .chain(b.observed.keys().map(String::as_str))
            .collect();
        let mut plan = Vec::new();
        for uid in uids {
            let row = rows.get(uid).copied();
            let observed = |view: &SideView, side: Side| {
                view.observed.get(uid).cloned().unwrap_or_else(|| {
                    match row.and_then(|r| side_state(r, side)) {
                        Some(_) => Observed::Unchanged,
                        None => Observed::Absent,
                    }
                })
            };
            let held_a = held.get(&(Side::A, uid.to_owned()));
            let held_b = held.get(&(Side::B, uid.to_owned()));
            let kind = held_a
                .or(held_b)
                .map(|h| h.kind)
                .or_else(|| row.and_then(|r| kind_from_name(&r.kind)));
            if let Some(kind) = kind
                && !self.job.selection.wants(kind)
            {
                continue;
            }
            let same_content = match (held_a, held_b) {
                (Some(x), Some(y)) => {
                    x.version.hash == y.version.hash
                        || calport_ical::compare(
                            &x.body,
                            &y.body,
                            &calport_ical::Tolerance::default(),
                        )
                        .is_ok_and(|d| d.is_empty())
                }
                _ => false,
            };
            let spans = [
                held_a.and_then(|h| h.span),
                held_b.and_then(|h| h.span),
                row.and_then(|r| r.span),
            ];
            let input = ItemInput {
                uid: uid.to_owned(),
                base_a: row.and_then(|r| known(r, Side::A)),
                base_b: row.and_then(|r| known(r, Side::B)),
                a: observed(a, Side::A),
                b: observed(b, Side::B),
                same_content,
                in_window: in_window(&spans, self.window),
                parked: parked.conflicts.get(uid).map(|c| Parked {
                    a_etag: c.a.as_ref().and_then(|s| s.etag.clone()),
                    b_etag: c.b.as_ref().and_then(|s| s.etag.clone()),
                    resolution: c.resolution.as_deref().and_then(Keep::parse),
                }),
            };
            let decision = match parked.dead_letter(uid) {
                // A person has to retry or skip it first.
                Some(dead) => Decision::Skip {
                    why: format!("{DEAD_LETTER}{}): {}", dead.state, dead.reason),
                },
                None => plan_item(&input, &self.job.policy),
            };
            plan.push((input, decision));
        }
        plan
    }
}

pub(super) fn kind_from_name(name: &str) -> Option<ComponentKind> {
    match name {
        "event" => Some(ComponentKind::Event),
        "todo" => Some(ComponentKind::Todo),
        "journal" => Some(ComponentKind::Journal),
        "freebusy" => Some(ComponentKind::FreeBusy),
        "card" => Some(ComponentKind::Card),
        _ => None,
    }
}

/// What a decision will count, for dry runs.
fn planned_counts(input: &ItemInput, decision: &Decision) -> Vec<Count> {
    let write_count = |to: Side, write: &Write| match write {
        Write::Create => Count::Created(to),
        Write::Update { .. } => Count::Updated(to),
    };
    match decision {
        Decision::Nothing | Decision::Adopt => vec![Count::Unchanged],
        Decision::Forget => vec![],
        Decision::Skip { why } if why == "outside the sync window" => vec![],
        Decision::Skip { .. } => vec![Count::Skipped],
        Decision::Park { .. } => vec![Count::Conflict],
        Decision::Copy { from, write, .. } => {
            let mut counts = vec![write_count(from.other(), write)];
            if both_touched(input) {
                counts.push(Count::Resolved);
            }
            counts
        }
        Decision::Delete { on, .. } => vec![Count::Deleted(*on)],
        Decision::KeepBoth {
            keeper,
            write,
            copy_sides,
        } => {
            let mut counts: Vec<Count> = copy_sides.iter().map(|s| Count::Created(*s)).collect();
            counts.push(write_count(keeper.other(), write));
            counts.push(Count::Resolved);
            counts
        }
    }
}

/// A line of the plan for people; `None` for items left as they are.
fn describe(
    input: &ItemInput,
    decision: &Decision,
    held: &HashMap<(Side, String), Held>,
    _rows: &HashMap<&str, &ItemStatus>,
) -> Option<PlannedChange> {
    let summary = held
        .get(&(Side::A, input.uid.clone()))
        .or_else(|| held.get(&(Side::B, input.uid.clone())))
        .and_then(|h| h.summary.clone());
    let verb = |write: &Write| match write {
        Write::Create => "create",
        Write::Update { .. } => "update",
    };
    let (action, why) = match decision {
        Decision::Nothing | Decision::Adopt | Decision::Forget => return None,
        Decision::Skip { why } if why == "outside the sync window" => return None,
        Decision::Skip { why } => ("skip".to_owned(), why.clone()),
        Decision::Park { why } => ("park conflict".to_owned(), (*why).to_owned()),
        Decision::Copy { from, write, why } => (
            format!("{} on {}", verb(write), from.other()),
            (*why).to_owned(),
        ),
        Decision::Delete { on, why, .. } => (format!("delete on {on}"), (*why).to_owned()),
        Decision::KeepBoth {
            keeper, copy_sides, ..
        } => (
            format!(
                "keep both: {keeper}'s version everywhere, the other as a new item on {}",
                copy_sides
                    .iter()
                    .map(Side::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            "changed on both sides".to_owned(),
        ),
    };
    Some(PlannedChange {
        uid: input.uid.clone(),
        summary,
        action,
        why,
    })
}
