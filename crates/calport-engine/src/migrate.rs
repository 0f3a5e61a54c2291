//! Executing a one-way transfer (a migration) from a source store to a destination store.
//!
//! Per collection pair: list both sides (incrementally from the stored tokens when the
//! stores can), work out which source members may have changed (new etag, no status, or
//! an earlier failure), fetch those in batches, plan each item ([`crate::plan`]) and carry
//! the actions out with bounded concurrency. The status of every item is committed as soon
//! as its write lands; tokens are stored only after the whole pair went through, so an
//! interrupted run is simply repeated from the old tokens and finds its own writes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use calport_core::{
    Changes, CollectionInfo, ErrorClass, Etag, FetchedItem, ItemRef, Store, StoreError,
};
use calport_state::{FailureRecord, ItemStatus, SideState, StateDb, StateError};
use futures::StreamExt;
use thiserror::Error;

use crate::mapping::{CollectionMapping, Selection, map_collections};
use crate::plan::{Action, SourceItem, alternative_name, plan_item, status_after};
use crate::report::{FailedItem, MigrationReport, Outcome, PairReport, PairStats};

mod items;

use items::{ParsedMember, parse_member, prepare_body};

/// A failure that stops the whole run.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The source store is unusable.
    #[error("source: {0}")]
    Source(StoreError),
    /// The destination store is unusable.
    #[error("destination: {0}")]
    Destination(StoreError),
    /// The status database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// How a migration runs.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Identifies this source/destination combination in the status database.
    pub job_key: String,
    /// What to move.
    pub selection: Selection,
    /// Create missing destination collections.
    pub create_collections: bool,
    /// Plan only: read both sides, write nothing (neither stores nor status).
    pub dry_run: bool,
    /// Parallel writes per collection.
    pub concurrency: usize,
    /// Members fetched per multiget round.
    pub batch_size: usize,
    /// Add `SCHEDULE-AGENT=CLIENT` to ORGANIZER/ATTENDEE so the destination sends no
    /// invitations.
    pub schedule_agent_client: bool,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            job_key: "migrate".into(),
            selection: Selection::default(),
            create_collections: true,
            dry_run: false,
            concurrency: 8,
            batch_size: 50,
            schedule_agent_client: true,
        }
    }
}

/// Observer of a run's progress (progress bars, log lines, live API updates).
pub trait Progress: Send + Sync {
    /// A collection pair starts; `total` items will be accounted for.
    fn collection_started(&self, _index: usize, _label: &str, _total: u64) {}
    /// `count` more items of the pair reached `outcome`.
    fn items_finished(&self, _index: usize, _outcome: Outcome, _count: u64) {}
    /// The pair is done.
    fn collection_finished(&self, _index: usize, _report: &PairReport) {}
    /// Something worth telling the user.
    fn note(&self, _text: &str) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default)]
pub struct SilentProgress;

impl Progress for SilentProgress {}

/// One migration run between two stores.
pub struct Migration<'a> {
    source: &'a dyn Store,
    destination: &'a dyn Store,
    state: &'a StateDb,
    options: MigrateOptions,
    progress: Arc<dyn Progress>,
    cancel: Arc<AtomicBool>,
}

impl<'a> Migration<'a> {
    /// Prepares a run; nothing happens until [`Migration::run`].
    pub fn new(
        source: &'a dyn Store,
        destination: &'a dyn Store,
        state: &'a StateDb,
        options: MigrateOptions,
    ) -> Self {
        Self {
            source,
            destination,
            state,
            options,
            progress: Arc::new(SilentProgress),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Reports progress to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Stops at the next item boundary once `cancel` is set.
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = cancel;
        self
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Runs the migration: discovers both sides, maps collections, transfers items.
    ///
    /// # Errors
    /// [`EngineError`] when a side is unusable (bad credentials, unreachable, not DAV) or
    /// the status database fails. Per-item problems are never errors: they are listed in
    /// the report.
    pub async fn run(&self) -> Result<MigrationReport, EngineError> {
        let started = Instant::now();
        let source_collections = self.source.discover().await.map_err(EngineError::Source)?;
        let destination_collections = self
            .destination
            .discover()
            .await
            .map_err(EngineError::Destination)?;
        let mappings = map_collections(
            &source_collections,
            &destination_collections,
            &self.options.selection,
            self.options.create_collections,
        );

        let mut reports = Vec::with_capacity(mappings.len());
        let mut cancelled = false;
        for (index, mapping) in mappings.into_iter().enumerate() {
            if self.cancelled() {
                cancelled = true;
            }
            let report = match mapping {
                CollectionMapping::Skipped { source, reason } => {
                    skipped_report(&source, None, "skipped", reason)
                }
                _ if cancelled => continue,
                CollectionMapping::Paired {
                    source,
                    destination,
                } => {
                    self.transfer(index, &source, Some(&destination), "paired")
                        .await?
                }
                CollectionMapping::Create { source, spec } if self.options.dry_run => {
                    let mut report = self.transfer(index, &source, None, "would_create").await?;
                    report.destination = spec.display_name.clone();
                    report
                }
                CollectionMapping::Create { source, spec } => {
                    match self.destination.create_collection(None, &spec).await {
                        Ok(created) => {
                            self.progress.note(&format!(
                                "created {} \"{}\" at {}",
                                created.kind.as_str(),
                                created.label(),
                                created.href
                            ));
                            self.transfer(index, &source, Some(&created), "created")
                                .await?
                        }
                        Err(err) if err.class() == ErrorClass::Fatal => {
                            return Err(EngineError::Destination(err));
                        }
                        Err(err) => skipped_report(
                            &source,
                            spec.display_name.clone(),
                            "failed",
                            format!("cannot create the destination collection: {err}"),
                        ),
                    }
                }
            };
            if !report.complete && report.mapping != "skipped" && report.mapping != "failed" {
                cancelled = true;
            }
            self.progress.collection_finished(index, &report);
            reports.push(report);
        }

        let mut totals = PairStats::default();
        for report in &reports {
            totals.add(&report.stats);
        }
        Ok(MigrationReport {
            dry_run: self.options.dry_run,
            cancelled: cancelled || self.cancelled(),
            collections: reports,
            totals,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    async fn transfer(
        &self,
        index: usize,
        source: &CollectionInfo,
        destination: Option<&CollectionInfo>,
        mapping: &str,
    ) -> Result<PairReport, EngineError> {
        let mut pair = PairRun::new(self, index, source, destination).await?;
        let complete = pair.run().await?;
        let PairRun {
            stats, failures, ..
        } = pair;
        Ok(PairReport {
            source: source.label().to_owned(),
            source_href: source.href.to_string(),
            destination: destination.map(|d| d.label().to_owned()),
            destination_href: destination.map(|d| d.href.to_string()),
            kind: source.kind.as_str().to_owned(),
            mapping: mapping.to_owned(),
            note: None,
            stats,
            failures,
            complete,
        })
    }
}

fn skipped_report(
    source: &CollectionInfo,
    destination: Option<String>,
    mapping: &str,
    reason: String,
) -> PairReport {
    PairReport {
        source: source.label().to_owned(),
        source_href: source.href.to_string(),
        destination,
        destination_href: None,
        kind: source.kind.as_str().to_owned(),
        mapping: mapping.to_owned(),
        note: Some(reason),
        stats: PairStats::default(),
        failures: Vec::new(),
        complete: true,
    }
}

/// The in-memory view of a pair's status rows, kept in step with the database.
#[derive(Default)]
struct Known {
    by_uid: HashMap<String, ItemStatus>,
    by_src: HashMap<ItemRef, Vec<String>>,
    by_dst: HashMap<ItemRef, String>,
}

impl Known {
    fn from_rows(rows: Vec<ItemStatus>) -> Self {
        let mut known = Known::default();
        for row in rows {
            known.index(&row);
            known.by_uid.insert(row.uid.clone(), row);
        }
        known
    }

    fn index(&mut self, row: &ItemStatus) {
        if let Some(src) = &row.src {
            let uids = self.by_src.entry(src.href.clone()).or_default();
            if !uids.contains(&row.uid) {
                uids.push(row.uid.clone());
            }
        }
        if let Some(dst) = &row.dst {
            self.by_dst.insert(dst.href.clone(), row.uid.clone());
        }
    }

    fn unindex(&mut self, uid: &str) {
        if let Some(old) = self.by_uid.get(uid) {
            if let Some(src) = &old.src
                && let Some(uids) = self.by_src.get_mut(&src.href)
            {
                uids.retain(|u| u != uid);
                if uids.is_empty() {
                    self.by_src.remove(&src.href);
                }
            }
            if let Some(dst) = &old.dst
                && self.by_dst.get(&dst.href).map(String::as_str) == Some(uid)
            {
                self.by_dst.remove(&dst.href);
            }
        }
    }

    fn put(&mut self, row: ItemStatus) {
        self.unindex(&row.uid);
        self.index(&row);
        self.by_uid.insert(row.uid.clone(), row);
    }

    fn remove(&mut self, uid: &str) {
        self.unindex(uid);
        self.by_uid.remove(uid);
    }
}

/// The work on one collection pair.
struct PairRun<'r, 'a> {
    run: &'r Migration<'a>,
    index: usize,
    source: &'r CollectionInfo,
    destination: Option<&'r CollectionInfo>,
    pair_id: Option<i64>,
    src_token: Option<String>,
    dst_token: Option<String>,
    known: Known,
    old_failures: Vec<FailureRecord>,
    stats: PairStats,
    failures: Vec<FailedItem>,
    consecutive_transient: u32,
}

/// After this many transient failures in a row the destination is considered down.
const TRANSIENT_FAILURE_LIMIT: u32 = 20;

impl<'r, 'a> PairRun<'r, 'a> {
    async fn new(
        run: &'r Migration<'a>,
        index: usize,
        source: &'r CollectionInfo,
        destination: Option<&'r CollectionInfo>,
    ) -> Result<Self, EngineError> {
        let job = &run.options.job_key;
        let pair = match destination {
            None => None,
            Some(dst) if run.options.dry_run => {
                run.state
                    .find_pair(job, source.href.as_str(), dst.href.as_str())
                    .await?
            }
            Some(dst) => Some(
                run.state
                    .pair(job, source.href.as_str(), dst.href.as_str())
                    .await?,
            ),
        };
        let (known, old_failures) = match &pair {
            Some(pair) => (
                Known::from_rows(run.state.items(pair.id).await?),
                run.state.failures(pair.id).await?,
            ),
            None => (Known::default(), Vec::new()),
        };
        Ok(Self {
            run,
            index,
            source,
            destination,
            pair_id: pair.as_ref().map(|p| p.id),
            src_token: pair.as_ref().and_then(|p| p.src_token.clone()),
            dst_token: pair.as_ref().and_then(|p| p.dst_token.clone()),
            known,
            old_failures,
            stats: PairStats::default(),
            failures: Vec::new(),
            consecutive_transient: 0,
        })
    }

    fn dry(&self) -> bool {
        self.run.options.dry_run
    }

    async fn save(&mut self, row: ItemStatus) -> Result<(), EngineError> {
        if let (Some(pair_id), false) = (self.pair_id, self.dry()) {
            self.run.state.upsert_item(pair_id, &row).await?;
        }
        self.known.put(row);
        Ok(())
    }

    async fn forget(&mut self, uid: &str) -> Result<(), EngineError> {
        if let (Some(pair_id), false) = (self.pair_id, self.dry()) {
            self.run.state.delete_item(pair_id, uid).await?;
        }
        self.known.remove(uid);
        Ok(())
    }

    /// Returns whether the pair was processed completely.
    async fn run(&mut self) -> Result<bool, EngineError> {
        let dst_changes = match self.destination {
            Some(dst) => Some(
                self.run
                    .destination
                    .changes(dst, self.dst_token.as_deref())
                    .await
                    .map_err(EngineError::Destination)?,
            ),
            None => None,
        };
        let src_changes = self
            .run
            .source
            .changes(self.source, self.src_token.as_deref())
            .await
            .map_err(EngineError::Source)?;

        let unknown_dst = match &dst_changes {
            Some(changes) => self.apply_destination_listing(changes).await?,
            None => Vec::new(),
        };
        let candidates = self.apply_source_listing(&src_changes).await?;

        let unchanged: u64 = self
            .known
            .by_uid
            .values()
            .filter(|row| {
                row.src
                    .as_ref()
                    .is_some_and(|s| !candidates.contains(&s.href))
            })
            .count() as u64;
        let total = unchanged + candidates.len() as u64;
        self.run
            .progress
            .collection_started(self.index, self.source.label(), total);
        self.stats.unchanged += unchanged;
        self.run
            .progress
            .items_finished(self.index, Outcome::Unchanged, unchanged);

        if !candidates.is_empty() && !unknown_dst.is_empty() {
            self.learn_destination_members(&unknown_dst).await?;
        }

        let batch = self.run.options.batch_size.max(1);
        let ordered: Vec<ItemRef> = candidates.into_iter().collect();
        for chunk in ordered.chunks(batch) {
            if self.run.cancelled() {
                return Ok(false);
            }
            self.transfer_chunk(chunk).await?;
        }

        if let (Some(pair_id), false) = (self.pair_id, self.dry()) {
            self.run
                .state
                .set_tokens(
                    pair_id,
                    src_changes.token.as_deref(),
                    dst_changes.as_ref().and_then(|c| c.token.as_deref()),
                )
                .await?;
        }
        Ok(true)
    }

    /// Brings the destination side of the status up to date with a listing; returns the
    /// destination members calport knows nothing about.
    async fn apply_destination_listing(
        &mut self,
        changes: &Changes,
    ) -> Result<Vec<ItemRef>, EngineError> {
        let mut gone: Vec<String> = Vec::new();
        if changes.complete {
            let listed: HashSet<&ItemRef> = changes.changed.iter().map(|v| &v.href).collect();
            for (href, uid) in &self.known.by_dst {
                if !listed.contains(href) {
                    gone.push(uid.clone());
                }
            }
        }
        for href in &changes.deleted {
            if let Some(uid) = self.known.by_dst.get(href) {
                gone.push(uid.clone());
            }
        }
        for uid in gone {
            if let Some(mut row) = self.known.by_uid.get(&uid).cloned() {
                row.dst = None;
                if row.src.is_none() {
                    self.forget(&uid).await?;
                } else {
                    self.save(row).await?;
                }
            }
        }

        let mut unknown = Vec::new();
        for version in &changes.changed {
            let Some(uid) = self.known.by_dst.get(&version.href).cloned() else {
                unknown.push(version.href.clone());
                continue;
            };
            let Some(mut row) = self.known.by_uid.get(&uid).cloned() else {
                continue;
            };
            let Some(dst) = row.dst.as_mut() else {
                continue;
            };
            match &dst.etag {
                Some(etag) if *etag == version.etag => {}
                None => {
                    // The write returned no etag; the listing tells it now.
                    dst.etag = Some(version.etag.clone());
                    self.save(row).await?;
                }
                Some(_) => {
                    // Changed on the destination since calport saw it.
                    dst.etag = Some(version.etag.clone());
                    dst.hash = None;
                    self.save(row).await?;
                }
            }
        }
        Ok(unknown)
    }

    /// Brings the source side of the status up to date with a listing; returns the source
    /// members that must be fetched.
    async fn apply_source_listing(
        &mut self,
        changes: &Changes,
    ) -> Result<HashSet<ItemRef>, EngineError> {
        let mut removed: Vec<ItemRef> = changes.deleted.clone();
        if changes.complete {
            let listed: HashSet<&ItemRef> = changes.changed.iter().map(|v| &v.href).collect();
            removed.extend(
                self.known
                    .by_src
                    .keys()
                    .filter(|href| !listed.contains(href))
                    .cloned(),
            );
        }
        for href in &removed {
            // A migration never deletes on the destination: forget the source side only.
            for uid in self.known.by_src.get(href).cloned().unwrap_or_default() {
                if let Some(mut row) = self.known.by_uid.get(&uid).cloned() {
                    row.src = None;
                    if row.dst.is_none() {
                        self.forget(&uid).await?;
                    } else {
                        self.save(row).await?;
                    }
                }
            }
        }
        let removed: HashSet<ItemRef> = removed.into_iter().collect();

        let mut candidates = HashSet::new();
        for version in &changes.changed {
            let uids = self.known.by_src.get(&version.href);
            let settled = uids.is_some_and(|uids| {
                !uids.is_empty()
                    && uids.iter().all(|uid| {
                        self.known.by_uid.get(uid).is_some_and(|row| {
                            row.dst.is_some()
                                && row
                                    .src
                                    .as_ref()
                                    .is_some_and(|s| s.etag.as_ref() == Some(&version.etag))
                        })
                    })
            });
            if !settled {
                candidates.insert(version.href.clone());
            }
        }
        // Items whose destination copy disappeared must be sent again.
        for row in self.known.by_uid.values() {
            if let (Some(src), None) = (&row.src, &row.dst) {
                candidates.insert(src.href.clone());
            }
        }
        for failure in &self.old_failures {
            if !removed.contains(&failure.src_ref) {
                candidates.insert(failure.src_ref.clone());
            }
        }
        Ok(candidates)
    }

    /// Fetches destination members calport has no status for and records their UIDs, so
    /// a source item that is already there is updated or adopted instead of duplicated.
    async fn learn_destination_members(&mut self, hrefs: &[ItemRef]) -> Result<(), EngineError> {
        let Some(dst) = self.destination else {
            return Ok(());
        };
        for chunk in hrefs.chunks(self.run.options.batch_size.max(1)) {
            let fetched = self
                .run
                .destination
                .fetch(dst, chunk)
                .await
                .map_err(EngineError::Destination)?;
            for item in fetched.into_iter().flatten() {
                let Ok(parsed) = parse_member(&item.body, dst.kind, &item.href) else {
                    self.run.progress.note(&format!(
                        "destination member {} cannot be parsed; left alone",
                        item.href
                    ));
                    continue;
                };
                for member in parsed.items {
                    let row = match self.known.by_uid.get(&member.uid) {
                        Some(row) if row.dst.is_some() => continue,
                        Some(row) => row.clone(),
                        None => ItemStatus {
                            uid: member.uid.clone(),
                            kind: crate::plan::kind_name(member.kind).to_owned(),
                            src: None,
                            dst: None,
                        },
                    };
                    let row = ItemStatus {
                        dst: Some(SideState {
                            href: item.href.clone(),
                            etag: Some(item.etag.clone()),
                            hash: Some(member.hash.clone()),
                        }),
                        ..row
                    };
                    self.save(row).await?;
                }
            }
        }
        Ok(())
    }

    /// Fetches source members; when a batch fails as a whole (one unreadable member can
    /// break a server's multiget answer), halves it until the culprit stands alone and is
    /// reported by itself.
    async fn fetch_source(
        &self,
        hrefs: &[ItemRef],
    ) -> Result<Vec<Result<FetchedItem, (ItemRef, StoreError)>>, EngineError> {
        let mut results = Vec::with_capacity(hrefs.len());
        let mut pending: Vec<&[ItemRef]> = vec![hrefs];
        while let Some(batch) = pending.pop() {
            match self.run.source.fetch(self.source, batch).await {
                Ok(fetched) => results.extend(fetched),
                Err(err) if err.class() == ErrorClass::Fatal => {
                    return Err(EngineError::Source(err));
                }
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

    async fn transfer_chunk(&mut self, hrefs: &[ItemRef]) -> Result<(), EngineError> {
        let fetched = self.fetch_source(hrefs).await?;
        let mut seen: HashSet<ItemRef> = HashSet::new();
        let mut work: Vec<(SourceItem, Vec<u8>, Action, Option<ItemStatus>)> = Vec::new();
        for result in fetched {
            match result {
                Ok(item) => {
                    seen.insert(item.href.clone());
                    self.clear_failures(&item.href).await?;
                    self.plan_member(item, &mut work).await?;
                }
                Err((href, err)) => {
                    seen.insert(href.clone());
                    self.fail(&href, None, "", &err).await?;
                }
            }
        }
        // Members that vanished between listing and fetch: nothing to move.
        for href in hrefs.iter().filter(|h| !seen.contains(*h)) {
            self.clear_failures(href).await?;
        }

        let Some(dst) = self.destination else {
            // Dry run into a collection that does not exist yet: everything is a create.
            for (_, _, action, _) in &work {
                self.count(outcome_of_plan(action), 1);
            }
            return Ok(());
        };
        if self.dry() {
            for (_, _, action, _) in &work {
                self.count(outcome_of_plan(action), 1);
            }
            return Ok(());
        }

        let destination = self.run.destination;
        let concurrency = self.run.options.concurrency.max(1);
        let mut results = futures::stream::iter(work.into_iter().map(
            |(item, body, action, previous)| async move {
                let result = execute(destination, dst, &item, &body, action).await;
                (item, previous, result)
            },
        ))
        .buffer_unordered(concurrency);
        while let Some((item, previous, result)) = results.next().await {
            match result {
                Ok((outcome, landed)) => {
                    self.consecutive_transient = 0;
                    let row = status_after(previous.as_ref(), &item, landed);
                    self.save(row).await?;
                    self.count(outcome, 1);
                }
                Err(err) if err.class() == ErrorClass::Fatal => {
                    return Err(EngineError::Destination(err));
                }
                Err(err) => {
                    let transient = err.class() == ErrorClass::Transient;
                    self.fail(&item.href, Some(&item.etag), &item.uid, &err)
                        .await?;
                    if transient {
                        self.consecutive_transient += 1;
                        if self.consecutive_transient >= TRANSIENT_FAILURE_LIMIT {
                            return Err(EngineError::Destination(err));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Parses one fetched source member and plans each of its items.
    async fn plan_member(
        &mut self,
        item: FetchedItem,
        work: &mut Vec<(SourceItem, Vec<u8>, Action, Option<ItemStatus>)>,
    ) -> Result<(), EngineError> {
        let parsed = match parse_member(&item.body, self.source.kind, &item.href) {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.fail_with(&item.href, Some(&item.etag), "", "item", reason)
                    .await?;
                return Ok(());
            }
        };
        for reason in parsed.problems {
            self.fail_with(&item.href, Some(&item.etag), "", "item", reason)
                .await?;
        }
        for ParsedMember {
            uid,
            kind,
            hash,
            bytes,
        } in parsed.items
        {
            if !self.run.options.selection.wants(kind) {
                self.count(Outcome::Skipped, 1);
                continue;
            }
            let source_item = SourceItem {
                uid,
                kind,
                href: item.href.clone(),
                etag: item.etag.clone(),
                hash,
            };
            let previous = self.known.by_uid.get(&source_item.uid).cloned();
            let action = plan_item(previous.as_ref(), &source_item);
            if action == Action::Unchanged {
                let row = status_after(previous.as_ref(), &source_item, None);
                self.save(row).await?;
                self.count(Outcome::Unchanged, 1);
                continue;
            }
            let body = if self.run.options.schedule_agent_client {
                prepare_body(&bytes)
            } else {
                bytes
            };
            work.push((source_item, body, action, previous));
        }
        Ok(())
    }

    fn count(&mut self, outcome: Outcome, n: u64) {
        for _ in 0..n {
            self.stats.count(outcome);
        }
        self.run.progress.items_finished(self.index, outcome, n);
    }

    async fn clear_failures(&mut self, href: &ItemRef) -> Result<(), EngineError> {
        if let (Some(pair_id), false) = (self.pair_id, self.dry())
            && self.old_failures.iter().any(|f| &f.src_ref == href)
        {
            self.run.state.clear_failures(pair_id, href).await?;
        }
        Ok(())
    }

    async fn fail(
        &mut self,
        href: &ItemRef,
        etag: Option<&Etag>,
        uid: &str,
        err: &StoreError,
    ) -> Result<(), EngineError> {
        let class = match err.class() {
            ErrorClass::Transient => "transient",
            _ => "item",
        };
        self.fail_with(href, etag, uid, class, err.to_string())
            .await
    }

    async fn fail_with(
        &mut self,
        href: &ItemRef,
        etag: Option<&Etag>,
        uid: &str,
        class: &str,
        reason: String,
    ) -> Result<(), EngineError> {
        if let (Some(pair_id), false) = (self.pair_id, self.dry()) {
            self.run
                .state
                .record_failure(
                    pair_id,
                    &FailureRecord {
                        src_ref: href.clone(),
                        src_etag: etag.cloned(),
                        uid: uid.to_owned(),
                        class: class.to_owned(),
                        reason: reason.clone(),
                        attempts: 1,
                    },
                )
                .await?;
        }
        self.run
            .progress
            .note(&format!("failed: {href}{}: {reason}", uid_suffix(uid)));
        self.failures.push(FailedItem {
            source_href: href.to_string(),
            uid: (!uid.is_empty()).then(|| uid.to_owned()),
            reason,
        });
        self.count(Outcome::Failed, 1);
        Ok(())
    }
}

fn uid_suffix(uid: &str) -> String {
    if uid.is_empty() {
        String::new()
    } else {
        format!(" (UID {uid})")
    }
}

fn outcome_of_plan(action: &Action) -> Outcome {
    match action {
        Action::Create { .. } => Outcome::Created,
        Action::Update { .. } => Outcome::Updated,
        Action::Unchanged => Outcome::Unchanged,
    }
}

/// How many alternative names to try when the derived one holds another UID.
const NAME_ATTEMPTS: u32 = 3;

/// Carries out one planned write. Returns the outcome and the destination side as it is
/// now (`None` for "unchanged, keep what the status had").
async fn execute(
    store: &dyn Store,
    collection: &CollectionInfo,
    item: &SourceItem,
    body: &[u8],
    action: Action,
) -> Result<(Outcome, Option<SideState>), StoreError> {
    let landed = |href: ItemRef, etag: Option<Etag>| SideState {
        href,
        etag,
        hash: Some(item.hash.clone()),
    };
    match action {
        Action::Unchanged => Ok((Outcome::Unchanged, None)),
        Action::Update { href, etag } => {
            let etag = match etag {
                Some(etag) => etag,
                None => match current_etag(store, collection, &href).await? {
                    Some(etag) => etag,
                    None => return create(store, collection, item, body).await,
                },
            };
            match store.update(collection, &href, &etag, body).await {
                Ok(out) => Ok((Outcome::Updated, Some(landed(out.href, out.etag)))),
                Err(StoreError::NotFound { .. }) => create(store, collection, item, body).await,
                Err(StoreError::PreconditionFailed { .. }) => {
                    // Changed on the destination meanwhile; a migration's source wins.
                    let Some(fresh) = current_etag(store, collection, &href).await? else {
                        return create(store, collection, item, body).await;
                    };
                    let out = store.update(collection, &href, &fresh, body).await?;
                    Ok((Outcome::Updated, Some(landed(out.href, out.etag))))
                }
                Err(err) => Err(err),
            }
        }
        Action::Create { .. } => create(store, collection, item, body).await,
    }
}

async fn create(
    store: &dyn Store,
    collection: &CollectionInfo,
    item: &SourceItem,
    body: &[u8],
) -> Result<(Outcome, Option<SideState>), StoreError> {
    let landed = |href: ItemRef, etag: Option<Etag>| SideState {
        href,
        etag,
        hash: Some(item.hash.clone()),
    };
    for attempt in 1..=NAME_ATTEMPTS {
        let name = if attempt == 1 {
            crate::plan::resource_name(&item.uid, item.kind)
        } else {
            alternative_name(&item.uid, item.kind, attempt)
        };
        match store.create(collection, &name, body).await {
            Ok(out) => return Ok((Outcome::Created, Some(landed(out.href, out.etag)))),
            Err(StoreError::PreconditionFailed { href }) => {
                // Something lives there: our own copy from an interrupted run, or a
                // foreign item. Look before deciding.
                let target = ItemRef::new(format!("{}{}", collection.href, name));
                let existing = store
                    .fetch(collection, std::slice::from_ref(&target))
                    .await?;
                let Some(Ok(found)) = existing.into_iter().next() else {
                    return Err(StoreError::Rejected {
                        method: "PUT".into(),
                        href,
                        status: 412,
                        reason: "the destination refused the item; it probably holds an item with the same UID under another name".into(),
                    });
                };
                let Ok(parsed) = parse_member(&found.body, collection.kind, &item.href) else {
                    continue;
                };
                let same = parsed.items.iter().find(|m| m.uid == item.uid);
                match same {
                    Some(member) if member.hash == item.hash && parsed.items.len() == 1 => {
                        return Ok((
                            Outcome::Unchanged,
                            Some(landed(found.href, Some(found.etag))),
                        ));
                    }
                    Some(_) => {
                        let out = store
                            .update(collection, &found.href, &found.etag, body)
                            .await?;
                        return Ok((Outcome::Updated, Some(landed(out.href, out.etag))));
                    }
                    None => continue,
                }
            }
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Rejected {
        method: "PUT".into(),
        href: item.href.to_string(),
        status: 412,
        reason: "every resource name tried on the destination is taken by other items".into(),
    })
}

async fn current_etag(
    store: &dyn Store,
    collection: &CollectionInfo,
    href: &ItemRef,
) -> Result<Option<Etag>, StoreError> {
    let found = store.fetch(collection, std::slice::from_ref(href)).await?;
    Ok(found.into_iter().find_map(|r| r.ok()).map(|f| f.etag))
}
