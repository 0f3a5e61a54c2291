//! The work on one collection pair: listings, planning, transfer.

use std::collections::{HashMap, HashSet, VecDeque};

use calport_core::{
    Changes, CollectionInfo, ErrorClass, Etag, FetchedItem, ItemRef, Store, StoreError,
};
use calport_state::{FailureRecord, ItemStatus, SideState};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;

use super::items::{ParsedMember, parse_member, prepare_body};
use super::known::Known;
use super::verify::{Verdict, judge};
use super::write::execute;
use super::{EngineError, Migration};
use crate::plan::{Action, SourceItem, plan_item, status_after};
use crate::report::{AppliedWorkaround, CorruptedItem, FailedItem, Outcome, PairStats};

/// The work on one collection pair.
pub(super) struct PairRun<'r, 'a> {
    run: &'r Migration<'a>,
    index: usize,
    source: &'r CollectionInfo,
    destination: Option<&'r CollectionInfo>,
    pair_id: Option<i64>,
    src_token: Option<String>,
    dst_token: Option<String>,
    known: Known,
    old_failures: Vec<FailureRecord>,
    pub(super) stats: PairStats,
    pub(super) failures: Vec<FailedItem>,
    pub(super) corrupted: Vec<CorruptedItem>,
    pub(super) workarounds: Vec<AppliedWorkaround>,
    consecutive_transient: u32,
}

/// Prefix of the destination hash recorded for a copy the destination stored wrongly:
/// it never equals a real content hash, so the planner writes the item again.
const CORRUPTED_MARKER: &str = "corrupted:";

fn is_corrupted_marker(hash: &str) -> bool {
    hash.starts_with(CORRUPTED_MARKER)
}

/// One item on its way to the destination.
struct Work {
    item: SourceItem,
    /// The item as the source has it (what verification compares against).
    original: Vec<u8>,
    /// The bytes to send.
    body: Vec<u8>,
    action: Action,
    previous: Option<ItemStatus>,
    /// What a destination workaround changed, if one was applied.
    workaround: Option<String>,
}

/// After this many transient failures in a row the destination is considered down.
const TRANSIENT_FAILURE_LIMIT: u32 = 20;

impl<'r, 'a> PairRun<'r, 'a> {
    pub(super) async fn new(
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
            corrupted: Vec::new(),
            workarounds: Vec::new(),
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
    pub(super) async fn run(&mut self) -> Result<bool, EngineError> {
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

        // One continuous pipeline: up to `concurrency` writes are always in flight, the
        // next round of source members is fetched (and planned) before the queue runs dry,
        // and written items are read back and verified in rounds meanwhile. No round
        // waits for the slowest write of the one before.
        let batch = self.run.options.batch_size.max(1);
        let concurrency = self.run.options.concurrency.max(1);
        let ordered: Vec<ItemRef> = candidates.into_iter().collect();
        let mut rounds = ordered.chunks(batch);
        let (run, source, destination) = (self.run, self.source, self.destination);
        let mut queue: VecDeque<Work> = VecDeque::new();
        let mut in_flight = FuturesUnordered::new();
        let mut fetching: Option<(&[ItemRef], BoxFuture<'_, FetchResult>)> = None;
        let mut reading: Option<(Vec<Written>, BoxFuture<'_, ReadBack>)> = None;
        let mut written: Vec<Written> = Vec::new();
        loop {
            let stopping = self.run.cancelled();
            if !stopping {
                while in_flight.len() < concurrency {
                    let Some(w) = queue.pop_front() else { break };
                    in_flight.push(write(run.destination, destination, w));
                }
                if fetching.is_none()
                    && queue.len() < concurrency
                    && let Some(round) = rounds.next()
                {
                    fetching = Some((round, Box::pin(fetch_source(run, source, round))));
                }
            }
            if reading.is_none()
                && !written.is_empty()
                && (written.len() >= batch || (in_flight.is_empty() && fetching.is_none()))
            {
                let items = std::mem::take(&mut written);
                let hrefs: Vec<ItemRef> = items.iter().map(|(_, side)| side.href.clone()).collect();
                reading = Some((items, Box::pin(read_back(run, destination, hrefs))));
            }
            if in_flight.is_empty() && fetching.is_none() && reading.is_none() {
                if stopping || (queue.is_empty() && written.is_empty()) {
                    break;
                }
                continue;
            }
            tokio::select! {
                Some((w, result)) = in_flight.next(), if !in_flight.is_empty() => {
                    if let Some(landed) = self.handle_write(w, result).await? {
                        written.push(landed);
                    }
                }
                fetched = async { fetching.as_mut().expect("guarded").1.as_mut().await }, if fetching.is_some() => {
                    let (round, _) = fetching.take().expect("guarded");
                    let work = self.plan_fetched(round, fetched?).await?;
                    queue.extend(work);
                }
                stored = async { reading.as_mut().expect("guarded").1.as_mut().await }, if reading.is_some() => {
                    let (items, _) = reading.take().expect("guarded");
                    self.apply_verdicts(items, stored?).await?;
                }
            }
        }
        if self.run.cancelled() {
            return Ok(false);
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
                    // Changed on the destination since calport saw it. A copy known to
                    // be corrupted stays marked, so it is still written again.
                    dst.etag = Some(version.etag.clone());
                    if !dst.hash.as_deref().is_some_and(is_corrupted_marker) {
                        dst.hash = None;
                    }
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
        // Items whose destination copy disappeared, or was stored wrongly, are sent again.
        for row in self.known.by_uid.values() {
            let Some(src) = &row.src else { continue };
            let redo = match &row.dst {
                None => true,
                Some(dst) => dst.hash.as_deref().is_some_and(is_corrupted_marker),
            };
            if redo {
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
                            span: None,
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

    /// Plans the items of fetched source members; returns the writes to make (none in a
    /// dry run, where the plan is only counted).
    async fn plan_fetched(
        &mut self,
        hrefs: &[ItemRef],
        fetched: Vec<Result<FetchedItem, (ItemRef, StoreError)>>,
    ) -> Result<Vec<Work>, EngineError> {
        let mut seen: HashSet<ItemRef> = HashSet::new();
        let mut work: Vec<Work> = Vec::new();
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
        if self.destination.is_none() || self.dry() {
            // Dry run (maybe into a collection that does not exist yet): count the plan.
            for w in &work {
                self.count(outcome_of_plan(&w.action), 1);
            }
            return Ok(Vec::new());
        }
        Ok(work)
    }

    /// Records the outcome of one write; returns the item when it must be verified.
    async fn handle_write(
        &mut self,
        w: Work,
        result: Result<(Outcome, Option<SideState>), StoreError>,
    ) -> Result<Option<(Work, SideState)>, EngineError> {
        match result {
            Ok((outcome, side)) => {
                self.consecutive_transient = 0;
                let row = status_after(w.previous.as_ref(), &w.item, side.clone());
                self.save(row).await?;
                self.count(outcome, 1);
                if let (Some(side), Some(change)) = (&side, &w.workaround) {
                    self.workarounds.push(AppliedWorkaround {
                        uid: w.item.uid.clone(),
                        destination_href: side.href.to_string(),
                        change: change.clone(),
                    });
                }
                match side {
                    Some(side) if outcome != Outcome::Unchanged && self.run.options.verify => {
                        Ok(Some((w, side)))
                    }
                    _ => Ok(None),
                }
            }
            Err(err) if err.class() == ErrorClass::Fatal => Err(EngineError::Destination(err)),
            Err(err) => {
                let transient = err.class() == ErrorClass::Transient;
                self.fail(&w.item.href, Some(&w.item.etag), &w.item.uid, &err)
                    .await?;
                if transient {
                    self.consecutive_transient += 1;
                    if self.consecutive_transient >= TRANSIENT_FAILURE_LIMIT {
                        return Err(EngineError::Destination(err));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Judges the read-back of written items: verified items get the stored etag in the
    /// status; corrupted ones are reported with the differences and marked, so the next
    /// run writes them again.
    async fn apply_verdicts(
        &mut self,
        landed: Vec<(Work, SideState)>,
        readback: Option<HashMap<ItemRef, Result<FetchedItem, StoreError>>>,
    ) -> Result<(), EngineError> {
        let Some(mut stored) = readback else {
            return Ok(());
        };
        for (w, side) in landed {
            let verdict = match stored.remove(&side.href) {
                Some(Ok(copy)) => judge(&w.original, &w.body, &copy),
                Some(Err(err)) => Verdict::Corrupted {
                    etag: side.etag.clone(),
                    differences: vec![format!(
                        "the destination cannot return the item it accepted: {err}"
                    )],
                },
                None => Verdict::Corrupted {
                    etag: side.etag.clone(),
                    differences: vec![
                        "the destination does not return the item it accepted".into(),
                    ],
                },
            };
            match verdict {
                Verdict::Verified { etag } => {
                    self.stats.verified += 1;
                    let row = status_after(
                        w.previous.as_ref(),
                        &w.item,
                        Some(SideState {
                            etag: Some(etag),
                            ..side
                        }),
                    );
                    self.save(row).await?;
                }
                Verdict::Corrupted { etag, differences } => {
                    self.stats.corrupted += 1;
                    // The copy is not the item: make the status say so, so the next run
                    // writes it again.
                    let row = status_after(
                        w.previous.as_ref(),
                        &w.item,
                        Some(SideState {
                            etag,
                            hash: Some(format!("{CORRUPTED_MARKER}{}", w.item.hash)),
                            ..side.clone()
                        }),
                    );
                    self.save(row).await?;
                    let summary = differences.first().cloned().unwrap_or_default();
                    self.record_failure(
                        &w.item.href,
                        Some(&w.item.etag),
                        &w.item.uid,
                        "corrupted",
                        format!("stored wrongly by the destination: {summary}"),
                    )
                    .await?;
                    self.run.progress.note(&format!(
                        "corrupted on the destination: {} (UID {}): {summary}",
                        side.href, w.item.uid
                    ));
                    self.corrupted.push(CorruptedItem {
                        uid: w.item.uid.clone(),
                        source_href: w.item.href.to_string(),
                        destination_href: side.href.to_string(),
                        differences,
                    });
                }
            }
        }
        Ok(())
    }

    /// Parses one fetched source member and plans each of its items.
    async fn plan_member(
        &mut self,
        item: FetchedItem,
        work: &mut Vec<Work>,
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
            derived_uid,
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
            let mut body = if self.run.options.schedule_agent_client {
                prepare_body(&bytes)
            } else {
                bytes.clone()
            };
            let mut workaround = derived_uid.then(|| {
                format!("the source item has no UID; calport added UID:{} (derived from where it lives on the source, the same on every run)", source_item.uid)
            });
            if let Some(dst) = self.destination {
                match self.run.destination.adapt_for_write(dst, &body) {
                    Ok(Some(adapted)) => {
                        body = adapted.body;
                        workaround = Some(match workaround {
                            Some(first) => format!("{first}; {}", adapted.change),
                            None => adapted.change,
                        });
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        // Writing it would only leave a damaged copy behind.
                        self.fail_with(
                            &item.href,
                            Some(&item.etag),
                            &source_item.uid,
                            "item",
                            reason,
                        )
                        .await?;
                        continue;
                    }
                }
            }
            work.push(Work {
                item: source_item,
                original: bytes,
                body,
                action,
                previous,
                workaround,
            });
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
        self.record_failure(href, etag, uid, class, reason.clone())
            .await?;
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

    /// Keeps a failure in the status database so the next run retries the member.
    async fn record_failure(
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
                        reason,
                        attempts: 1,
                    },
                )
                .await?;
        }
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

/// Fetches source members; when a batch fails as a whole (one unreadable member can
/// break a server's multiget answer), halves it until the culprit stands alone and is
/// reported by itself.
async fn fetch_source(
    run: &Migration<'_>,
    source: &CollectionInfo,
    hrefs: &[ItemRef],
) -> Result<Vec<Result<FetchedItem, (ItemRef, StoreError)>>, EngineError> {
    let mut results = Vec::with_capacity(hrefs.len());
    let mut pending: Vec<&[ItemRef]> = vec![hrefs];
    while let Some(batch) = pending.pop() {
        match run.source.fetch(source, batch).await {
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

/// Reads back written items from the destination, for verification. `None` when there
/// is nothing to read or the read-back failed (the items then stay unverified; a note
/// says so).
async fn read_back(
    run: &Migration<'_>,
    destination: Option<&CollectionInfo>,
    hrefs: Vec<ItemRef>,
) -> ReadBack {
    let Some(dst) = destination.filter(|_| !hrefs.is_empty()) else {
        return Ok(None);
    };
    let fetched = match run.destination.fetch(dst, &hrefs).await {
        Ok(fetched) => fetched,
        Err(err) if err.class() == ErrorClass::Fatal => return Err(EngineError::Destination(err)),
        Err(err) => {
            run.progress.note(&format!(
                "cannot read back {} written items to verify them: {err}",
                hrefs.len()
            ));
            return Ok(None);
        }
    };
    let mut stored = HashMap::with_capacity(fetched.len());
    for result in fetched {
        match result {
            Ok(item) => {
                stored.insert(item.href.clone(), Ok(item));
            }
            Err((href, err)) => {
                stored.insert(href, Err(err));
            }
        }
    }
    Ok(Some(stored))
}

/// A written item and where it landed, waiting for its read-back.
type Written = (Work, SideState);

/// A fetched round of source members.
type FetchResult = Result<Vec<Result<FetchedItem, (ItemRef, StoreError)>>, EngineError>;

/// What the destination returned for written items, by href.
type ReadBack = Result<Option<HashMap<ItemRef, Result<FetchedItem, StoreError>>>, EngineError>;

/// One write, owning its work item. A stop request takes effect at the next item:
/// writes not started are left for the next run (they have no status yet).
async fn write(
    store: &dyn Store,
    destination: Option<&CollectionInfo>,
    w: Work,
) -> (Work, Result<(Outcome, Option<SideState>), StoreError>) {
    let Some(dst) = destination else {
        return (w, Ok((Outcome::Unchanged, None)));
    };
    let result = execute(store, dst, &w.item, &w.body, w.action.clone()).await;
    (w, result)
}
