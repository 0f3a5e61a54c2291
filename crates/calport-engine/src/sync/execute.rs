//! Executing a pair's plan: writes with etag preconditions, re-planning an item when
//! the other side moved meanwhile, and the status each outcome leaves.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use calport_core::{ErrorClass, Etag, ItemRef, StoreError, WriteOutcome};
use calport_state::{
    ConflictRecord, ConflictSide, DeferredRow, ItemFailure, ItemStatus, PairState, SideState,
};
use futures::StreamExt;

use super::observe::{self, Held};
use super::pair::{
    Count, DEAD_LETTER, Effects, PARK_AFTER, PairSync, Pending, Stop, count_into, keep_both_uid,
};
use super::plan::{Decision, Delta, ItemInput, Observed, Write, delta, plan_item};
use super::policy::Side;
use super::report::SyncPairReport;
use crate::migrate::EngineError;
use crate::plan::{alternative_name, kind_name, resource_name};
use crate::report::FailedItem;

/// How many times one item is re-planned after a write found it changed meanwhile.
const REPLANS: usize = 3;
/// Alternative resource names tried when the UID-derived one holds another item.
const NAME_ATTEMPTS: u32 = 3;

// `Stop` carries the version a write ran into, for re-planning; it is moved once per
// item, not per request, so its size does not matter.
#[allow(clippy::result_large_err)]
impl PairSync<'_> {
    /// Runs the plan. Returns false when something was left undone (a failure, a
    /// cancel).
    pub(super) async fn execute(
        &self,
        pair: &PairState,
        plan: Vec<(ItemInput, Decision)>,
        rows: &HashMap<&str, &ItemStatus>,
        mut held: HashMap<(Side, String), Held>,
        parked: &Pending,
        report: &mut SyncPairReport,
    ) -> Result<bool, EngineError> {
        // Versions to copy that were not read (unchanged since the last sync).
        self.fetch_unread_sources(&plan, &mut held, report).await?;
        let writes = plan.iter().filter(|(_, d)| d.writes()).count();
        self.progress.pair_planned(&self.label(), writes);
        let mut clean = true;
        let (quiet, loud): (Vec<_>, Vec<_>) = plan.into_iter().partition(|(_, d)| !d.writes());
        for (input, decision) in quiet {
            let span = span_of(&input, &held, rows);
            let blame = blame(&input, &decision);
            let result = self.apply(&input, &decision, &held, span).await;
            clean &= self
                .settle(pair, &input, blame, result, parked, &held, report)
                .await?;
        }
        let held = &held;
        let mut stream = futures::stream::iter(loud)
            .take_while(|_| std::future::ready(!self.cancel.load(Ordering::SeqCst)))
            .map(|(input, decision)| async move {
                let span = span_of(&input, held, rows);
                let blame = blame(&input, &decision);
                let result = self.run_item(input.clone(), decision, held, span).await;
                (input, blame, result)
            })
            .buffer_unordered(self.options.concurrency.max(1));
        while let Some((input, blame, result)) = stream.next().await {
            self.progress.action_done(&self.label());
            clean &= self
                .settle(pair, &input, blame, result, parked, held, report)
                .await?;
        }
        Ok(clean && !self.cancel.load(Ordering::SeqCst))
    }

    /// Records one item's outcome. Returns false when the item is not in step.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        pair: &PairState,
        input: &ItemInput,
        blame: Blame,
        result: Result<Effects, Stop>,
        parked: &Pending,
        held: &HashMap<(Side, String), Held>,
        report: &mut SyncPairReport,
    ) -> Result<bool, EngineError> {
        match result {
            Ok(effects) => {
                for row in &effects.upserts {
                    self.db.upsert_item(pair.id, row).await?;
                }
                for uid in &effects.removes {
                    self.db.delete_item(pair.id, uid).await?;
                }
                let mut in_step = true;
                match &effects.park {
                    Some(conflict) => {
                        let conflict = ConflictRecord {
                            pair_id: pair.id,
                            ..conflict.clone()
                        };
                        self.db.park_conflict(&conflict).await?;
                    }
                    None if parked.conflicts.contains_key(&input.uid) => {
                        self.db.clear_conflict(pair.id, &input.uid).await?;
                    }
                    None => {}
                }
                for count in &effects.counts {
                    count_into(&mut report.stats, *count);
                    if matches!(count, Count::Skipped) {
                        in_step = false;
                    }
                }
                match &effects.decision {
                    Some(Decision::Skip { why }) if why == "outside the sync window" => {
                        in_step = true;
                        // Remembered with its span: picked up when the window reaches it.
                        for side in [Side::A, Side::B] {
                            if let Some(h) = held.get(&(side, input.uid.clone()))
                                && let Some((start, end)) = h.span
                            {
                                let row = DeferredRow {
                                    uid: input.uid.clone(),
                                    side: side.as_str().to_owned(),
                                    href: h.version.href.to_string(),
                                    span_start: start,
                                    span_end: end,
                                };
                                self.db.defer_item(pair.id, &row).await?;
                            }
                        }
                    }
                    // A dead letter waits for a person; it does not hold the pair back.
                    Some(Decision::Skip { why }) if why.starts_with(DEAD_LETTER) => in_step = true,
                    // Unreadable: counted like a failed write, parked after PARK_AFTER runs.
                    Some(Decision::Skip { why }) => {
                        in_step = self
                            .count_failure(pair, input, blame, why, held, report)
                            .await?;
                    }
                    _ => {
                        if parked.failing.contains_key(&input.uid) {
                            self.db.clear_item_failure(pair.id, &input.uid).await?;
                        }
                        if parked.deferred.iter().any(|d| d.uid == input.uid) {
                            self.db.undefer_item(pair.id, &input.uid).await?;
                        }
                    }
                }
                Ok(in_step)
            }
            Err(Stop::Fatal(side, err)) => Err(Self::side_error(side, err)),
            Err(stop) => {
                let reason = match stop {
                    Stop::Failed(reason) => reason,
                    _ => "the item changed while it was written".to_owned(),
                };
                report.stats.failed += 1;
                let href = match (&input.a, &input.b) {
                    (Observed::Read(v), _) | (_, Observed::Read(v)) => v.href.to_string(),
                    _ => input
                        .base_a
                        .as_ref()
                        .or(input.base_b.as_ref())
                        .map(|k| k.href.to_string())
                        .unwrap_or_default(),
                };
                report.failures.push(FailedItem {
                    source_href: href,
                    uid: Some(input.uid.clone()),
                    reason: reason.clone(),
                });
                self.count_failure(pair, input, blame, &reason, held, report)
                    .await
            }
        }
    }

    /// Counts one more failure of an item. Returns true when it was parked as a dead
    /// letter (then it no longer holds the pair's sync point back).
    async fn count_failure(
        &self,
        pair: &PairState,
        input: &ItemInput,
        blame: Blame,
        reason: &str,
        held: &HashMap<(Side, String), Held>,
        report: &mut SyncPairReport,
    ) -> Result<bool, EngineError> {
        let payload = held
            .get(&(blame.payload, input.uid.clone()))
            .map(|h| h.body.as_slice());
        // Where the item can be read again (the version that failed to go across, else
        // the side that failed): a retry re-reads it there.
        let known = |side: Side| match side {
            Side::A => input.base_a.as_ref(),
            Side::B => input.base_b.as_ref(),
        };
        let (side, href) = [blame.payload, blame.side]
            .into_iter()
            .find_map(|side| {
                held.get(&(side, input.uid.clone()))
                    .map(|h| (side, h.version.href.to_string()))
                    .or_else(|| known(side).map(|k| (side, k.href.to_string())))
            })
            .map_or((blame.side, None), |(side, href)| (side, Some(href)));
        let row = self
            .db
            .record_item_failure(
                &ItemFailure {
                    pair_id: pair.id,
                    side: side.as_str(),
                    uid: &input.uid,
                    href: href.as_deref(),
                    reason,
                    payload,
                },
                PARK_AFTER,
            )
            .await?;
        if row.state == "open" {
            report.dead_letters += 1;
            return Ok(true);
        }
        Ok(false)
    }

    async fn fetch_unread_sources(
        &self,
        plan: &[(ItemInput, Decision)],
        held: &mut HashMap<(Side, String), Held>,
        report: &mut SyncPairReport,
    ) -> Result<(), EngineError> {
        for side in [Side::A, Side::B] {
            let wanted: Vec<(&ItemInput, ItemRef)> = plan
                .iter()
                .filter(|(input, decision)| {
                    let from = match decision {
                        Decision::Copy { from, .. } => *from,
                        Decision::KeepBoth { keeper, .. } => *keeper,
                        _ => return false,
                    };
                    from == side && !held.contains_key(&(side, input.uid.clone()))
                })
                .filter_map(|(input, _)| {
                    let base = match side {
                        Side::A => input.base_a.as_ref(),
                        Side::B => input.base_b.as_ref(),
                    }?;
                    Some((input, base.href.clone()))
                })
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let hrefs: Vec<ItemRef> = wanted.iter().map(|(_, h)| h.clone()).collect();
            let collection = self.collection(side);
            let mut found: HashMap<String, Held> = HashMap::new();
            for chunk in hrefs.chunks(self.options.batch_size.max(1)) {
                let results = observe::fetch_bisecting(self.store(side), collection, chunk)
                    .await
                    .map_err(|e| Self::side_error(side, e))?;
                for result in results {
                    match result {
                        Ok(item) => match observe::read(collection, &item) {
                            Ok((uid, h)) => {
                                found.insert(uid, h);
                            }
                            Err(reason) => report.failures.push(FailedItem {
                                source_href: item.href.to_string(),
                                uid: None,
                                reason,
                            }),
                        },
                        Err((href, err)) => report.failures.push(FailedItem {
                            source_href: href.to_string(),
                            uid: None,
                            reason: format!("cannot fetch it: {err}"),
                        }),
                    }
                }
            }
            for (input, _) in wanted {
                if let Some(h) = found.remove(&input.uid) {
                    held.insert((side, input.uid.clone()), h);
                }
            }
        }
        Ok(())
    }

    /// Executes a writing decision, re-planning when the other side moved meanwhile.
    async fn run_item(
        &self,
        mut input: ItemInput,
        mut decision: Decision,
        held: &HashMap<(Side, String), Held>,
        span: Option<(i64, Option<i64>)>,
    ) -> Result<Effects, Stop> {
        let mut local: HashMap<(Side, String), Held> = HashMap::new();
        for _ in 0..REPLANS {
            let merged;
            let bodies = if local.is_empty() {
                held
            } else {
                let mut m = held.clone();
                m.extend(local.iter().map(|(k, v)| (k.clone(), v.clone())));
                merged = m;
                &merged
            };
            match self.apply(&input, &decision, bodies, span).await {
                Err(Stop::Moved {
                    side,
                    now,
                    held: fresh,
                }) => {
                    tracing::info!(
                        uid = %input.uid,
                        side = %side,
                        "the item changed meanwhile; planning it again"
                    );
                    match side {
                        Side::A => input.a = now,
                        Side::B => input.b = now,
                    }
                    if let Some(fresh) = fresh {
                        local.insert((side, input.uid.clone()), *fresh);
                    } else {
                        local.remove(&(side, input.uid.clone()));
                    }
                    let a = local
                        .get(&(Side::A, input.uid.clone()))
                        .or_else(|| held.get(&(Side::A, input.uid.clone())));
                    let b = local
                        .get(&(Side::B, input.uid.clone()))
                        .or_else(|| held.get(&(Side::B, input.uid.clone())));
                    input.same_content = match (a, b) {
                        (Some(x), Some(y))
                            if matches!(input.a, Observed::Read(_))
                                && matches!(input.b, Observed::Read(_)) =>
                        {
                            x.version.hash == y.version.hash
                        }
                        _ => false,
                    };
                    decision = plan_item(&input, &self.job.policy);
                }
                other => return other,
            }
        }
        Err(Stop::Failed(
            "the item kept changing while calport wrote it; it is tried again next run".into(),
        ))
    }

    /// Carries out one decision.
    async fn apply(
        &self,
        input: &ItemInput,
        decision: &Decision,
        held: &HashMap<(Side, String), Held>,
        span: Option<(i64, Option<i64>)>,
    ) -> Result<Effects, Stop> {
        let uid = &input.uid;
        let kind = held
            .get(&(Side::A, uid.clone()))
            .or_else(|| held.get(&(Side::B, uid.clone())))
            .map(|h| h.kind);
        let mut effects = Effects {
            decision: Some(decision.clone()),
            ..Effects::default()
        };
        match decision {
            Decision::Nothing => effects.counts.push(Count::Unchanged),
            Decision::Skip { why } => {
                if why != "outside the sync window" {
                    effects.counts.push(Count::Skipped);
                }
            }
            Decision::Adopt => {
                let row = self.row_now(input, held, span, None);
                match row {
                    Some(row) => effects.upserts.push(row),
                    None => effects.removes.push(uid.clone()),
                }
                effects.counts.push(Count::Unchanged);
            }
            Decision::Forget => effects.removes.push(uid.clone()),
            Decision::Park { why } => {
                let side_of = |side: Side| {
                    held.get(&(side, uid.clone())).map(|h| ConflictSide {
                        href: h.version.href.clone(),
                        etag: Some(h.version.etag.clone()),
                        body: h.body.clone(),
                    })
                };
                effects.park = Some(ConflictRecord {
                    id: 0,
                    pair_id: 0,
                    job: String::new(),
                    a_collection: String::new(),
                    b_collection: String::new(),
                    uid: uid.clone(),
                    kind: kind.map(kind_name).unwrap_or("event").to_owned(),
                    reason: (*why).to_owned(),
                    a: side_of(Side::A),
                    b: side_of(Side::B),
                    base_a_hash: input.base_a.as_ref().map(|k| k.hash.clone()),
                    base_b_hash: input.base_b.as_ref().map(|k| k.hash.clone()),
                    resolution: None,
                    created_at: 0,
                    updated_at: 0,
                });
                effects.counts.push(Count::Conflict);
            }
            Decision::Copy { from, write, .. } => {
                let source = held.get(&(*from, uid.clone())).ok_or_else(|| {
                    Stop::Failed(format!("side {from}'s version could not be read"))
                })?;
                let to = from.other();
                let (out, sent_hash, created) = self.write(to, uid, source, write).await?;
                let landed = SideState {
                    href: out.href,
                    etag: out.etag,
                    hash: Some(sent_hash),
                };
                if let Some(row) = self.row_now(input, held, span, Some((to, landed))) {
                    effects.upserts.push(row);
                }
                effects.counts.push(if created {
                    Count::Created(to)
                } else {
                    Count::Updated(to)
                });
                if both_touched(input) {
                    effects.counts.push(Count::Resolved);
                }
            }
            Decision::Delete { on, href, etag, .. } => {
                self.delete(*on, uid, href, etag.as_ref()).await?;
                effects.removes.push(uid.clone());
                effects.counts.push(Count::Deleted(*on));
            }
            Decision::KeepBoth {
                keeper,
                write,
                copy_sides,
            } => {
                let loser_side = keeper.other();
                let keeper_version = held.get(&(*keeper, uid.clone())).ok_or_else(|| {
                    Stop::Failed(format!("side {keeper}'s version could not be read"))
                })?;
                let loser = held.get(&(loser_side, uid.clone())).ok_or_else(|| {
                    Stop::Failed(format!("side {loser_side}'s version could not be read"))
                })?;
                let new_uid = keep_both_uid(uid, &loser.version.hash);
                let renamed = calport_ical::replace_uid(&loser.body, &new_uid).map_err(|e| {
                    Stop::Failed(format!("cannot give the other version a new UID: {e}"))
                })?;
                let copy = Held {
                    body: renamed,
                    ..loser.clone()
                };
                // The other version first, so that it is never lost.
                let mut row = ItemStatus {
                    uid: new_uid.clone(),
                    kind: kind_name(loser.kind).to_owned(),
                    src: None,
                    dst: None,
                    span: loser.span,
                };
                for side in copy_sides {
                    let (out, hash, created) =
                        self.write_keep_both_copy(*side, &new_uid, &copy).await?;
                    let state = SideState {
                        href: out.href,
                        etag: out.etag,
                        hash: Some(hash),
                    };
                    match side {
                        Side::A => row.src = Some(state),
                        Side::B => row.dst = Some(state),
                    }
                    if created {
                        effects.counts.push(Count::Created(*side));
                    }
                }
                // One-way: the copy is the target's own item from now on, not tracked.
                if copy_sides.len() == 2 {
                    effects.upserts.push(row);
                }
                let (out, sent_hash, created) =
                    self.write(loser_side, uid, keeper_version, write).await?;
                let landed = SideState {
                    href: out.href,
                    etag: out.etag,
                    hash: Some(sent_hash),
                };
                if let Some(row) = self.row_now(input, held, span, Some((loser_side, landed))) {
                    effects.upserts.push(row);
                }
                effects.counts.push(if created {
                    Count::Created(loser_side)
                } else {
                    Count::Updated(loser_side)
                });
                effects.counts.push(Count::Resolved);
            }
        }
        Ok(effects)
    }

    /// The status row after a decision: each side as it is now, `landed` replacing the
    /// side just written. `None` when the item is on neither side.
    fn row_now(
        &self,
        input: &ItemInput,
        held: &HashMap<(Side, String), Held>,
        span: Option<(i64, Option<i64>)>,
        landed: Option<(Side, SideState)>,
    ) -> Option<ItemStatus> {
        let state = |side: Side| -> Option<SideState> {
            if let Some((s, state)) = &landed
                && *s == side
            {
                return Some(state.clone());
            }
            let (base, now) = match side {
                Side::A => (input.base_a.as_ref(), &input.a),
                Side::B => (input.base_b.as_ref(), &input.b),
            };
            match now {
                Observed::Read(v) => Some(SideState {
                    href: v.href.clone(),
                    etag: Some(v.etag.clone()),
                    hash: Some(v.hash.clone()),
                }),
                Observed::Unchanged => base.map(|k| SideState {
                    href: k.href.clone(),
                    etag: k.etag.clone(),
                    hash: Some(k.hash.clone()),
                }),
                Observed::Absent | Observed::Unreadable(_) => None,
            }
        };
        let (src, dst) = (state(Side::A), state(Side::B));
        if src.is_none() && dst.is_none() {
            return None;
        }
        let kind = held
            .get(&(Side::A, input.uid.clone()))
            .or_else(|| held.get(&(Side::B, input.uid.clone())))
            .map(|h| kind_name(h.kind).to_owned())
            .unwrap_or_else(|| "event".to_owned());
        Some(ItemStatus {
            uid: input.uid.clone(),
            kind,
            src,
            dst,
            span,
        })
    }

    /// The bytes to write to `to`: invitations suppressed, origin recorded, and the
    /// target server's known defects worked around.
    fn prepare(&self, to: Side, body: &[u8]) -> Result<Vec<u8>, Stop> {
        let mut bytes = body.to_vec();
        if self.job.schedule_agent_client
            && let Ok(changed) = calport_ical::set_schedule_agent_client(&bytes)
        {
            bytes = changed.into_owned();
        }
        let has_origin = calport_ical::inspect(&bytes).is_ok_and(|m| m.origin.is_some());
        if !has_origin
            && let Ok(changed) =
                calport_ical::set_origin(&bytes, &format!("calport:{}", self.job.name))
        {
            bytes = changed.into_owned();
        }
        match self.store(to).adapt_for_write(self.collection(to), &bytes) {
            Ok(Some(adapted)) => Ok(adapted.body),
            Ok(None) => Ok(bytes),
            Err(reason) => Err(Stop::Failed(reason)),
        }
    }

    fn classify(&self, side: Side, err: StoreError) -> Stop {
        if err.class() == ErrorClass::Fatal {
            Stop::Fatal(side, err)
        } else {
            Stop::Failed(err.to_string())
        }
    }

    /// What `side` holds at `href` now, for re-planning.
    async fn look(&self, side: Side, uid: &str, href: &ItemRef) -> Result<Stop, Stop> {
        let collection = self.collection(side);
        let found = self
            .store(side)
            .fetch(collection, std::slice::from_ref(href))
            .await
            .map_err(|e| self.classify(side, e))?;
        match found.into_iter().next() {
            Some(Ok(item)) => match observe::read(collection, &item) {
                Ok((found_uid, h)) if found_uid == uid => Ok(Stop::Moved {
                    side,
                    now: Observed::Read(h.version.clone()),
                    held: Some(Box::new(h)),
                }),
                Ok(_) => Ok(Stop::Moved {
                    side,
                    now: Observed::Absent,
                    held: None,
                }),
                Err(reason) => Err(Stop::Failed(reason)),
            },
            Some(Err((_, err))) => Err(self.classify(side, err)),
            None => Ok(Stop::Moved {
                side,
                now: Observed::Absent,
                held: None,
            }),
        }
    }

    /// Writes `source`'s version of `uid` to side `to`. Returns what the store answered,
    /// the hash of what was sent, and whether it was a create.
    async fn write(
        &self,
        to: Side,
        uid: &str,
        source: &Held,
        write: &Write,
    ) -> Result<(WriteOutcome, String, bool), Stop> {
        let body = self.prepare(to, &source.body)?;
        let hash = calport_ical::inspect(&body)
            .map(|m| m.content_hash)
            .unwrap_or_else(|_| source.version.hash.clone());
        let store = self.store(to);
        let collection = self.collection(to);
        match write {
            Write::Create => {
                for attempt in 1..=NAME_ATTEMPTS {
                    let name = if attempt == 1 {
                        resource_name(uid, source.kind)
                    } else {
                        alternative_name(uid, source.kind, attempt)
                    };
                    match store.create(collection, &name, &body).await {
                        Ok(out) => return Ok((out, hash, true)),
                        Err(StoreError::PreconditionFailed { .. }) => {
                            let target = ItemRef::new(format!("{}{}", collection.href, name));
                            match self.look(to, uid, &target).await? {
                                // Our UID lives there (an interrupted run's copy, or a
                                // client's): plan again with it in view.
                                moved @ Stop::Moved {
                                    now: Observed::Read(_),
                                    ..
                                } => return Err(moved),
                                // Another item holds the name: try another.
                                _ => continue,
                            }
                        }
                        Err(err) => return Err(self.classify(to, err)),
                    }
                }
                Err(Stop::Failed(
                    "every resource name tried is taken by other items".to_owned(),
                ))
            }
            Write::Update { href, etag } => {
                let etag = match etag {
                    Some(etag) => etag.clone(),
                    None => match self.look(to, uid, href).await? {
                        Stop::Moved {
                            now: Observed::Read(v),
                            ..
                        } => v.etag,
                        moved => return Err(moved),
                    },
                };
                match store.update(collection, href, &etag, &body).await {
                    Ok(out) => Ok((out, hash, false)),
                    Err(StoreError::PreconditionFailed { .. } | StoreError::NotFound { .. }) => {
                        Err(self.look(to, uid, href).await?)
                    }
                    Err(err) => Err(self.classify(to, err)),
                }
            }
        }
    }

    /// Creates the re-UIDed version of a "keep both" resolution on `side`; a copy left
    /// by an interrupted run is taken as it is.
    async fn write_keep_both_copy(
        &self,
        side: Side,
        new_uid: &str,
        copy: &Held,
    ) -> Result<(WriteOutcome, String, bool), Stop> {
        match self.write(side, new_uid, copy, &Write::Create).await {
            Err(Stop::Moved {
                now: Observed::Read(v),
                ..
            }) => Ok((
                WriteOutcome {
                    href: v.href,
                    etag: Some(v.etag),
                },
                v.hash,
                false,
            )),
            other => other,
        }
    }

    async fn delete(
        &self,
        on: Side,
        uid: &str,
        href: &ItemRef,
        etag: Option<&Etag>,
    ) -> Result<(), Stop> {
        let store = self.store(on);
        let collection = self.collection(on);
        let etag = match etag {
            Some(etag) => etag.clone(),
            None => {
                let found = store
                    .fetch(collection, std::slice::from_ref(href))
                    .await
                    .map_err(|e| self.classify(on, e))?;
                match found.into_iter().find_map(Result::ok) {
                    Some(item) => item.etag,
                    None => return Ok(()),
                }
            }
        };
        match store.delete(collection, href, &etag).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => Ok(()),
            // Changed meanwhile: the planner decides again with the new version in view.
            Err(StoreError::PreconditionFailed { .. }) => match self.look(on, uid, href).await? {
                Stop::Moved {
                    now: Observed::Absent,
                    ..
                } => Ok(()),
                moved => Err(moved),
            },
            Err(err) => Err(self.classify(on, err)),
        }
    }
}

pub(super) fn both_touched(input: &ItemInput) -> bool {
    let touched = |d: Option<Delta>| matches!(d, Some(Delta::Changed | Delta::New));
    touched(delta(input.base_a.as_ref(), &input.a))
        && touched(delta(input.base_b.as_ref(), &input.b))
}

pub(super) fn span_of(
    input: &ItemInput,
    held: &HashMap<(Side, String), Held>,
    rows: &HashMap<&str, &ItemStatus>,
) -> Option<(i64, Option<i64>)> {
    held.get(&(Side::A, input.uid.clone()))
        .and_then(|h| h.span)
        .or_else(|| held.get(&(Side::B, input.uid.clone())).and_then(|h| h.span))
        .or_else(|| rows.get(input.uid.as_str()).and_then(|r| r.span))
}

/// Which side an item's failure is about, and whose version is its payload.
#[derive(Clone, Copy, Debug)]
pub(super) struct Blame {
    side: Side,
    payload: Side,
}

fn blame(input: &ItemInput, decision: &Decision) -> Blame {
    match decision {
        Decision::Copy { from, .. } => Blame {
            side: from.other(),
            payload: *from,
        },
        Decision::KeepBoth { keeper, .. } => Blame {
            side: keeper.other(),
            payload: *keeper,
        },
        Decision::Delete { on, .. } => Blame {
            side: *on,
            payload: on.other(),
        },
        _ => {
            let side = if matches!(input.b, Observed::Unreadable(_)) {
                Side::B
            } else {
                Side::A
            };
            Blame {
                side,
                payload: side.other(),
            }
        }
    }
}
