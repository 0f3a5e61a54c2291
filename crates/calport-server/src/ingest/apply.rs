//! The inbox applier: claims stored webhooks, writes them into their source's target
//! calendar, and records what it did.
//!
//! Entries of one target calendar are applied one after another in receipt order
//! (calendars apart run side by side), so two changes of one series never race. Every
//! write carries an etag precondition; an item changed on the server meanwhile is read
//! again and overwritten (the source is authoritative for its events). A failure is
//! retried with doubling waits; after `ingest.max_attempts` failures the entry becomes a
//! dead letter. Applying an entry twice (a worker killed after writing, before marking it
//! done) finds the version already applied and writes nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use calport_core::{
    CollectionInfo, CollectionKind, Etag, ItemRef, Store, StoreError, WriteOutcome,
};
use calport_dav::DavStore;
use calport_m365::payload::{self, EventPayload, EventType};
use calport_m365::render::{ItemParts, render};
use calport_state::{EventRow, InboxRow, SourceRow, StateError};
use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::sync::{Mutex, watch};

use super::caldav_uid;
use super::decide::{self, Applied, Contender, Contest, Order, Strategy};
use crate::app::App;
use crate::worker::now_ms;

/// Longest wait between two attempts of one entry.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(300);
/// How long an idle applier sleeps when nothing wakes it.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Why an entry could not be applied.
#[derive(Debug, Error)]
pub enum ApplyError {
    /// The CalDAV server failed or refused; retried.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The database failed; retried.
    #[error("{0}")]
    State(#[from] StateError),
    /// The account cannot be used (no such account, undecryptable password); retried,
    /// since a person can fix it.
    #[error("{0}")]
    Account(String),
    /// The entry can never be applied (its body no longer reads): a dead letter at once.
    #[error("{0}")]
    Permanent(String),
}

/// What applying an entry did, for the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `create`, `update`, `delete`, `skip`, `conflict` or `noted`.
    pub action: &'static str,
    /// In words.
    pub detail: String,
}

fn outcome(action: &'static str, detail: impl Into<String>) -> Outcome {
    Outcome {
        action,
        detail: detail.into(),
    }
}

fn ms(time: Option<DateTime<Utc>>) -> Option<i64> {
    time.map(|t| t.timestamp_millis())
}

/// Runs the applier until `shutdown` turns true.
pub async fn run(app: App, owner: String, mut shutdown: watch::Receiver<bool>) {
    let applier = Arc::new(Applier {
        app: app.clone(),
        stores: Mutex::new(HashMap::new()),
    });
    let lease = Duration::from_secs(app.config.ingest.lease_seconds);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let lease_until = now_ms() + lease.as_millis() as i64;
        let batch = match app
            .db
            .claim_inbox(&owner, lease_until, app.config.ingest.batch)
            .await
        {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim inbox entries");
                Vec::new()
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = app.ingest.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let renewer = {
            let (app, owner) = (app.clone(), owner.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    let until = now_ms() + lease.as_millis() as i64;
                    if let Err(err) = app.db.renew_inbox_leases(&owner, until).await {
                        tracing::warn!(error = %err, "cannot renew inbox leases");
                    }
                }
            })
        };
        Arc::clone(&applier).apply_batch(batch, &shutdown).await;
        renewer.abort();
    }
    if let Err(err) = app.db.release_inbox_leases(&owner).await {
        tracing::warn!(error = %err, "cannot hand back inbox entries");
    }
}

/// The applier's state: the database and one DAV store per account.
struct Applier {
    app: App,
    stores: Mutex<HashMap<i64, (i64, Arc<DavStore>)>>,
}

/// One source with what its writes need.
struct Target<'a> {
    source: &'a SourceRow,
    store: Arc<DavStore>,
    calendar: CollectionInfo,
}

impl Applier {
    async fn apply_batch(self: Arc<Self>, batch: Vec<InboxRow>, shutdown: &watch::Receiver<bool>) {
        let sources: HashMap<String, SourceRow> = match self.app.db.sources().await {
            Ok(rows) => rows.into_iter().map(|s| (s.id.clone(), s)).collect(),
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the sources");
                return;
            }
        };
        let sources = Arc::new(sources);
        // One lane per target calendar, in receipt order.
        let mut lanes: BTreeMap<(i64, String), Vec<InboxRow>> = BTreeMap::new();
        for entry in batch {
            let lane = sources
                .get(&entry.source_id)
                .map(|s| (s.account_id, s.calendar.clone()))
                .unwrap_or_default();
            lanes.entry(lane).or_default().push(entry);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (_, entries) in lanes {
            let (this, sources, stop) = (Arc::clone(&self), Arc::clone(&sources), shutdown.clone());
            tasks.spawn(async move {
                for entry in entries {
                    if *stop.borrow() {
                        break;
                    }
                    this.settle(&sources, entry).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Applies one entry and records the result: done, retried later, or dead.
    async fn settle(&self, sources: &HashMap<String, SourceRow>, entry: InboxRow) {
        let db = &self.app.db;
        let result = match sources.get(&entry.source_id) {
            Some(source) => self.apply(source, sources, &entry).await,
            None => Ok(outcome("skip", "the source was deleted")),
        };
        let recorded = match result {
            Ok(done) => {
                self.app.metrics.ingest_applied(done.action);
                let audit = db
                    .add_ingest_audit(
                        &entry.request_id,
                        &entry.source_id,
                        &entry.event_id,
                        done.action,
                        &done.detail,
                    )
                    .await;
                match audit {
                    Ok(()) => db.finish_inbox(&entry, done.action).await,
                    Err(err) => Err(err),
                }
            }
            Err(err) => self.fail(&entry, &err).await,
        };
        if let Err(err) = recorded {
            // The lease expires and the entry is applied again; that finds the version
            // applied and writes nothing.
            tracing::warn!(request = %entry.request_id, error = %err, "cannot record an inbox entry's result");
        }
    }

    async fn fail(&self, entry: &InboxRow, err: &ApplyError) -> Result<(), StateError> {
        let db = &self.app.db;
        let reason = err.to_string();
        let attempts = entry.attempts + 1;
        let give_up = matches!(err, ApplyError::Permanent(_))
            || attempts >= self.app.config.ingest.max_attempts;
        if give_up {
            self.app.metrics.ingest_applied("dead");
            tracing::warn!(request = %entry.request_id, source = %entry.source_id, %reason, "pushed change parked as a dead letter");
            db.add_ingest_audit(
                &entry.request_id,
                &entry.source_id,
                &entry.event_id,
                "dead",
                &format!("gave up after {attempts} attempt(s): {reason}"),
            )
            .await?;
            return db.bury_inbox(entry, &reason).await;
        }
        self.app.metrics.ingest_applied("retry");
        let base = Duration::from_secs(self.app.config.ingest.retry_seconds);
        let wait = base
            .saturating_mul(1 << (attempts - 1).clamp(0, 16) as u32)
            .min(MAX_RETRY_WAIT);
        db.add_ingest_audit(
            &entry.request_id,
            &entry.source_id,
            &entry.event_id,
            "retry",
            &format!(
                "attempt {attempts} failed, next in {}s: {reason}",
                wait.as_secs()
            ),
        )
        .await?;
        db.retry_inbox(entry.id, &reason, now_ms() + wait.as_millis() as i64)
            .await
            .map(|_| ())
    }

    async fn target<'a>(&self, source: &'a SourceRow) -> Result<Target<'a>, ApplyError> {
        let account = self
            .app
            .db
            .account(source.account_id)
            .await?
            .ok_or_else(|| ApplyError::Account(format!("account {} is gone", source.account_id)))?;
        let mut stores = self.stores.lock().await;
        let store = match stores.get(&account.id) {
            Some((version, store)) if *version == account.updated_at => Arc::clone(store),
            _ => {
                let store = Arc::new(
                    crate::worker::store_for(&self.app, &account).map_err(ApplyError::Account)?,
                );
                stores.insert(account.id, (account.updated_at, Arc::clone(&store)));
                store
            }
        };
        Ok(Target {
            source,
            store,
            calendar: calendar_info(&source.calendar),
        })
    }

    async fn apply(
        &self,
        source: &SourceRow,
        sources: &HashMap<String, SourceRow>,
        entry: &InboxRow,
    ) -> Result<Outcome, ApplyError> {
        match entry.action.as_str() {
            "notification" => Ok(outcome(
                "noted",
                format!(
                    "Graph change notification for event {:?}: calport stores it; reading \
                     the event from Graph needs a Graph connection, which this source does \
                     not have — send the event itself to /api/webhook/event/…",
                    entry.event_id
                ),
            )),
            "deleted" => {
                let target = self.target(source).await?;
                self.apply_delete(&target, sources, entry).await
            }
            _ => {
                let event = payload::parse(&entry.body).map_err(|e| {
                    ApplyError::Permanent(format!("the stored body no longer reads: {e}"))
                })?;
                let target = self.target(source).await?;
                self.apply_upsert(&target, sources, entry, &event).await
            }
        }
    }

    async fn apply_upsert(
        &self,
        target: &Target<'_>,
        sources: &HashMap<String, SourceRow>,
        entry: &InboxRow,
        event: &EventPayload,
    ) -> Result<Outcome, ApplyError> {
        let db = &self.app.db;
        let source = target.source;
        let existing = db.ingest_event(&source.id, &event.id).await?;
        let incoming = ms(event.last_modified);
        let applied = existing.as_ref().map(|m| Applied {
            status: &m.status,
            modified: m.modified_at,
            payload: m.payload.as_deref(),
        });
        match decide::order(applied, incoming, &entry.body) {
            Order::Apply => {}
            Order::Duplicate => {
                return Ok(outcome(
                    "skip",
                    "duplicate: this version was applied already",
                ));
            }
            Order::Stale { applied, incoming } => {
                return Ok(outcome(
                    "skip",
                    format!(
                        "out of order: lastModifiedDateTime {} is older than the applied {}",
                        iso(incoming),
                        iso(applied)
                    ),
                ));
            }
            Order::Deleted { at } => {
                return Ok(outcome(
                    "skip",
                    format!("the event was deleted at {}; this change is older", iso(at)),
                ));
            }
        }
        let part_of_series = matches!(
            event.event_type,
            EventType::Occurrence | EventType::Exception
        ) && event.series_master_id.is_some();
        if part_of_series {
            return self.apply_series_part(target, entry, event, existing).await;
        }
        let mut mine = existing.unwrap_or_else(|| EventRow {
            source_id: source.id.clone(),
            event_id: event.id.clone(),
            ..EventRow::default()
        });
        mine.ical_uid = event.ical_uid.clone();
        mine.series_master_id = None;
        mine.modified_at = incoming.or(mine.modified_at);
        mine.payload = Some(entry.body.clone());
        mine.request_id = Some(entry.request_id.clone());
        mine.error = None;

        // Another source showing the same meeting in the same calendar?
        if let Some(shown) = self.shown_rival(sources, source, &mine).await? {
            let rival_source = &sources[&shown.source_id];
            let resolution = self.resolution(source, &event.id).await?;
            let verdict = decide::contest(
                Strategy::parse(&source.conflict).unwrap_or(Strategy::LastWriteWins),
                &Contender {
                    source: &source.id,
                    priority: source.priority,
                    modified: incoming,
                },
                &Contender {
                    source: &shown.source_id,
                    priority: rival_source.priority,
                    modified: shown.modified_at,
                },
                resolution.as_deref(),
            );
            match verdict {
                Contest::IncomingLoses(why) => {
                    mine.status = "superseded".to_owned();
                    mine.winner = Some(shown.source_id.clone());
                    mine.href = shown.href.clone();
                    mine.caldav_uid = shown.caldav_uid.clone();
                    mine.etag = None;
                    db.save_ingest_event(&mine).await?;
                    return Ok(outcome("skip", format!("not shown: {why}")));
                }
                Contest::Park => {
                    mine.status = "conflict".to_owned();
                    db.save_ingest_event(&mine).await?;
                    let id = db
                        .park_ingest_conflict(
                            &source.id,
                            &event.id,
                            mine.ical_uid.as_deref().unwrap_or_default(),
                            (&shown.source_id, &shown.event_id),
                            &entry.request_id,
                        )
                        .await?;
                    return Ok(outcome(
                        "conflict",
                        format!(
                            "source {} shows this meeting already; parked as conflict {id} \
                             for a person to choose",
                            shown.source_id
                        ),
                    ));
                }
                Contest::IncomingWins(why) => {
                    // Take the meeting's CalDAV item over: same UID and href.
                    mine.caldav_uid = shown.caldav_uid.clone();
                    mine.href = shown.href.clone();
                    mine.etag = shown.etag.clone();
                    let body = self.render_series(source, event, &mine).await?;
                    let (href, etag) = write(target, &mine, &body).await?;
                    mine.href = Some(href);
                    mine.etag = etag;
                    mine.status = "active".to_owned();
                    mine.winner = None;
                    db.save_ingest_event(&mine).await?;
                    let mut loser = shown.clone();
                    loser.status = "superseded".to_owned();
                    loser.winner = Some(source.id.clone());
                    loser.etag = None;
                    db.save_ingest_event(&loser).await?;
                    return Ok(outcome(
                        "update",
                        format!("replaced the version of source {}: {why}", shown.source_id),
                    ));
                }
            }
        }

        let fresh = mine.status != "active";
        if fresh {
            // A new item (or one that lost or was deleted before): its own UID and href.
            mine.caldav_uid = Some(caldav_uid(&source.id, &event.id));
            mine.href = None;
            mine.etag = None;
        }
        let body = self.render_series(source, event, &mine).await?;
        let (href, etag) = write(target, &mine, &body).await?;
        mine.href = Some(href.clone());
        mine.etag = etag;
        mine.status = "active".to_owned();
        mine.winner = None;
        db.save_ingest_event(&mine).await?;
        self.activate_parts(&source.id, &event.id, &href).await?;
        Ok(outcome(
            if fresh { "create" } else { "update" },
            format!("{} {href}", if fresh { "created" } else { "updated" }),
        ))
    }

    /// An exception, occurrence or cancellation of a series: remembered, then the
    /// series' item is written again when the series is in the calendar.
    async fn apply_series_part(
        &self,
        target: &Target<'_>,
        entry: &InboxRow,
        event: &EventPayload,
        existing: Option<EventRow>,
    ) -> Result<Outcome, ApplyError> {
        let db = &self.app.db;
        let source = target.source;
        let master_id = event.series_master_id.clone().unwrap_or_default();
        let changes_series = event.event_type == EventType::Exception || event.is_cancelled;
        let mut part = existing.unwrap_or_else(|| EventRow {
            source_id: source.id.clone(),
            event_id: event.id.clone(),
            ..EventRow::default()
        });
        if !changes_series && part.status != "active" {
            return Ok(outcome(
                "skip",
                format!("an unchanged occurrence of series {master_id}: nothing to write"),
            ));
        }
        part.ical_uid = event.ical_uid.clone();
        part.series_master_id = Some(master_id.clone());
        part.modified_at = ms(event.last_modified).or(part.modified_at);
        part.payload = Some(entry.body.clone());
        part.request_id = Some(entry.request_id.clone());
        let what = if event.is_cancelled {
            "cancelled occurrence"
        } else if changes_series {
            "exception"
        } else {
            "occurrence back to the series pattern"
        };
        part.status = if changes_series { "active" } else { "deleted" }.to_owned();
        let master = db.ingest_event(&source.id, &master_id).await?;
        let Some(master) = master.filter(|m| m.status == "active") else {
            if changes_series {
                part.status = "pending_master".to_owned();
            }
            db.save_ingest_event(&part).await?;
            return Ok(outcome(
                "skip",
                format!("{what} kept until series {master_id} arrives"),
            ));
        };
        part.caldav_uid = master.caldav_uid.clone();
        part.href = master.href.clone();
        db.save_ingest_event(&part).await?;
        let href = self.rewrite_series(target, master).await?;
        Ok(outcome(
            "update",
            format!("{what} of series {master_id} written to {href}"),
        ))
    }

    /// Writes a series' item again from its stored master and parts.
    async fn rewrite_series(
        &self,
        target: &Target<'_>,
        mut master: EventRow,
    ) -> Result<String, ApplyError> {
        let body = master.payload.clone().unwrap_or_default();
        let main = payload::parse(&body).map_err(|e| {
            ApplyError::Permanent(format!("the stored series no longer reads: {e}"))
        })?;
        let item = self.render_series(target.source, &main, &master).await?;
        let (href, etag) = write(target, &master, &item).await?;
        master.href = Some(href.clone());
        master.etag = etag;
        self.app.db.save_ingest_event(&master).await?;
        Ok(href)
    }

    async fn apply_delete(
        &self,
        target: &Target<'_>,
        sources: &HashMap<String, SourceRow>,
        entry: &InboxRow,
    ) -> Result<Outcome, ApplyError> {
        let db = &self.app.db;
        let source = target.source;
        let deleted = payload::parse_deleted(&entry.body)
            .map_err(|e| ApplyError::Permanent(format!("the stored body no longer reads: {e}")))?;
        let at = ms(deleted.last_modified).unwrap_or(entry.received_at);
        let existing = db.ingest_event(&source.id, &deleted.id).await?;
        let master_id = existing
            .as_ref()
            .and_then(|m| m.series_master_id.clone())
            .or_else(|| deleted.series_master_id.clone());
        if let Some(master_id) = master_id {
            // One occurrence of a series: it becomes an EXDATE.
            let mut part = existing.unwrap_or_else(|| EventRow {
                source_id: source.id.clone(),
                event_id: deleted.id.clone(),
                payload: Some(entry.body.clone()),
                ..EventRow::default()
            });
            if part.status == "cancelled" {
                return Ok(outcome(
                    "skip",
                    "duplicate: this occurrence was cancelled already",
                ));
            }
            part.series_master_id = Some(master_id.clone());
            part.status = "cancelled".to_owned();
            part.modified_at = Some(at.max(part.modified_at.unwrap_or(at)));
            part.request_id = Some(entry.request_id.clone());
            if part.payload.is_none() {
                part.payload = Some(entry.body.clone());
            }
            db.save_ingest_event(&part).await?;
            let master = db.ingest_event(&source.id, &master_id).await?;
            return match master.filter(|m| m.status == "active") {
                Some(master) => {
                    let href = self.rewrite_series(target, master).await?;
                    Ok(outcome(
                        "update",
                        format!("occurrence of series {master_id} cancelled in {href}"),
                    ))
                }
                None => Ok(outcome(
                    "skip",
                    format!("cancellation kept until series {master_id} arrives"),
                )),
            };
        }
        let Some(mut mine) = existing else {
            // Never seen: remember the deletion so that a late "created" is ignored.
            db.save_ingest_event(&EventRow {
                source_id: source.id.clone(),
                event_id: deleted.id.clone(),
                ical_uid: deleted.ical_uid.clone(),
                modified_at: Some(at),
                status: "deleted".to_owned(),
                request_id: Some(entry.request_id.clone()),
                ..EventRow::default()
            })
            .await?;
            return Ok(outcome(
                "skip",
                "unknown event: nothing to delete; the deletion is remembered",
            ));
        };
        if mine.status == "deleted" {
            return Ok(outcome("skip", "duplicate: the event was deleted already"));
        }
        let was_shown = mine.status == "active";
        mine.status = "deleted".to_owned();
        mine.modified_at = Some(at.max(mine.modified_at.unwrap_or(at)));
        mine.request_id = Some(entry.request_id.clone());
        if !was_shown {
            mine.etag = None;
            db.save_ingest_event(&mine).await?;
            return Ok(outcome(
                "delete",
                "removed; its version was not shown in the calendar",
            ));
        }
        // Another source carrying the same meeting takes the item over.
        if let Some(mut heir) = self.heir(sources, source, &mine).await? {
            let heir_source = &sources[&heir.source_id];
            let body = heir.payload.clone().unwrap_or_default();
            let event = payload::parse(&body).map_err(|e| {
                ApplyError::Permanent(format!(
                    "the version of source {} no longer reads: {e}",
                    heir.source_id
                ))
            })?;
            heir.caldav_uid = mine.caldav_uid.clone();
            heir.href = mine.href.clone();
            heir.etag = mine.etag.clone();
            let item = self.render_series(heir_source, &event, &heir).await?;
            let (href, etag) = write(target, &heir, &item).await?;
            heir.href = Some(href.clone());
            heir.etag = etag;
            heir.status = "active".to_owned();
            heir.winner = None;
            db.save_ingest_event(&heir).await?;
            mine.etag = None;
            db.save_ingest_event(&mine).await?;
            return Ok(outcome(
                "update",
                format!(
                    "deleted here; {href} now shows the version of source {}",
                    heir.source_id
                ),
            ));
        }
        let href = mine.href.clone().unwrap_or_default();
        remove(target, &href, mine.etag.as_deref()).await?;
        mine.etag = None;
        db.save_ingest_event(&mine).await?;
        Ok(outcome("delete", format!("deleted {href}")))
    }

    /// The mappings of other sources with `status` that carry the same meeting (same
    /// iCalUId) into the same calendar.
    async fn same_meeting(
        &self,
        sources: &HashMap<String, SourceRow>,
        source: &SourceRow,
        mine: &EventRow,
        status: &str,
    ) -> Result<Vec<EventRow>, StateError> {
        let Some(uid) = mine.ical_uid.as_deref() else {
            return Ok(Vec::new());
        };
        let mut rows = self.app.db.ingest_events_by_ical_uid(uid).await?;
        rows.retain(|row| {
            row.source_id != source.id
                && row.status == status
                && sources
                    .get(&row.source_id)
                    .is_some_and(|s| same_calendar(s, source))
        });
        Ok(rows)
    }

    /// What the calendar shows of this meeting from another source, if anything.
    async fn shown_rival(
        &self,
        sources: &HashMap<String, SourceRow>,
        source: &SourceRow,
        mine: &EventRow,
    ) -> Result<Option<EventRow>, StateError> {
        let shown = self.same_meeting(sources, source, mine, "active").await?;
        Ok(shown.into_iter().next())
    }

    /// The source to show a meeting after the shown source deleted it: the
    /// highest-priority other source whose version was superseded.
    async fn heir(
        &self,
        sources: &HashMap<String, SourceRow>,
        source: &SourceRow,
        mine: &EventRow,
    ) -> Result<Option<EventRow>, StateError> {
        let kept = self
            .same_meeting(sources, source, mine, "superseded")
            .await?;
        Ok(kept
            .into_iter()
            .max_by_key(|row| (sources[&row.source_id].priority, row.modified_at)))
    }

    /// A person's choice for a parked conflict of this event, if any.
    async fn resolution(
        &self,
        source: &SourceRow,
        event_id: &str,
    ) -> Result<Option<String>, StateError> {
        let conflict = self.app.db.ingest_conflict_of(&source.id, event_id).await?;
        Ok(conflict
            .filter(|c| c.state == "resolved")
            .and_then(|c| c.resolution))
    }

    /// Marks parts of a series that waited for it as included.
    async fn activate_parts(
        &self,
        source_id: &str,
        master_id: &str,
        href: &str,
    ) -> Result<(), StateError> {
        for mut part in self
            .app
            .db
            .ingest_series_parts(source_id, master_id)
            .await?
        {
            if part.status == "pending_master" || part.href.as_deref() != Some(href) {
                if part.status == "pending_master" {
                    part.status = "active".to_owned();
                }
                part.href = Some(href.to_owned());
                self.app.db.save_ingest_event(&part).await?;
            }
        }
        Ok(())
    }

    /// The iCalendar item of an event with the parts of its series that the source sent.
    async fn render_series(
        &self,
        source: &SourceRow,
        main: &EventPayload,
        row: &EventRow,
    ) -> Result<Vec<u8>, ApplyError> {
        let mut exceptions = Vec::new();
        let mut cancelled = Vec::new();
        if main.event_type == EventType::SeriesMaster || main.recurrence.is_some() {
            for part in self
                .app
                .db
                .ingest_series_parts(&source.id, &main.id)
                .await?
            {
                let body = part.payload.unwrap_or_default();
                match part.status.as_str() {
                    "active" | "pending_master" => match payload::parse(&body) {
                        Ok(ev) if ev.is_cancelled => cancelled.extend(ev.original_start),
                        Ok(ev) if ev.original_start.is_some() => exceptions.push(ev),
                        Ok(_) => {
                            tracing::warn!(event = %part.event_id, "an exception without originalStart is left out")
                        }
                        Err(err) => {
                            tracing::warn!(event = %part.event_id, error = %err, "an unreadable exception is left out")
                        }
                    },
                    "cancelled" => {
                        let start = payload::parse(&body)
                            .ok()
                            .and_then(|ev| ev.original_start)
                            .or_else(|| {
                                payload::parse_deleted(&body)
                                    .ok()
                                    .and_then(|d| d.original_start)
                            });
                        match start {
                            Some(start) => cancelled.push(start),
                            None => {
                                tracing::warn!(event = %part.event_id, "a cancelled occurrence without originalStart is left out")
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        cancelled.sort();
        cancelled.dedup();
        let uid = row
            .caldav_uid
            .clone()
            .unwrap_or_else(|| caldav_uid(&source.id, &main.id));
        let origin = format!("m365:{}:{}", source.id, main.id);
        let parts = ItemParts {
            uid: &uid,
            main,
            exceptions: &exceptions,
            cancelled: &cancelled,
            origin: &origin,
            stamp: Utc::now(),
        };
        render(&parts)
            .map(String::into_bytes)
            .map_err(|e| ApplyError::Permanent(format!("cannot write the event as iCalendar: {e}")))
    }
}

fn same_calendar(a: &SourceRow, b: &SourceRow) -> bool {
    a.account_id == b.account_id
        && a.calendar.trim_end_matches('/') == b.calendar.trim_end_matches('/')
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| ms.to_string())
}

/// A target calendar known by its href.
fn calendar_info(href: &str) -> CollectionInfo {
    let mut href = href.to_owned();
    if !href.ends_with('/') {
        href.push('/');
    }
    CollectionInfo {
        href: ItemRef::new(href),
        kind: CollectionKind::Calendar,
        display_name: None,
        color: None,
        description: None,
        components: Vec::new(),
        ctag: None,
        sync_token: None,
        supports_sync: false,
        read_only: false,
    }
}

/// The etag the server has now for `href`, `None` when the item is gone.
async fn current_etag(target: &Target<'_>, href: &str) -> Result<Option<Etag>, StoreError> {
    let fetched = target
        .store
        .fetch(&target.calendar, &[ItemRef::new(href)])
        .await?;
    Ok(fetched
        .into_iter()
        .find_map(Result::ok)
        .map(|item| item.etag))
}

/// The etag to send next: the one expected, else the one the server has now (`None`
/// when the item is gone).
async fn etag_to_send(
    expected: &mut Option<Etag>,
    target: &Target<'_>,
    href: &str,
) -> Result<Option<Etag>, StoreError> {
    match expected.take() {
        Some(etag) => Ok(Some(etag)),
        None => current_etag(target, href).await,
    }
}

fn written(done: WriteOutcome) -> (String, Option<String>) {
    (done.href.into_string(), done.etag.map(Etag::into_string))
}

/// Writes an item where its mapping says (creating it when it has no href yet or is
/// gone), overwriting whatever the server has there now. Returns the href and etag.
async fn write(
    target: &Target<'_>,
    row: &EventRow,
    body: &[u8],
) -> Result<(String, Option<String>), StoreError> {
    let uid = row.caldav_uid.as_deref().unwrap_or_default();
    let href = match &row.href {
        Some(href) => href.clone(),
        None => {
            let name = format!("{uid}.ics");
            match target.store.create(&target.calendar, &name, body).await {
                Ok(done) => return Ok(written(done)),
                // Already there: written by an attempt that did not get to record it.
                Err(StoreError::PreconditionFailed { .. }) => {
                    format!("{}{name}", target.calendar.href.as_str())
                }
                Err(err) => return Err(err),
            }
        }
    };
    let mut expected = row.etag.clone().map(Etag::new);
    for _ in 0..3 {
        let Some(etag) = etag_to_send(&mut expected, target, &href).await? else {
            // Gone from the server: made again under the same name.
            let name = href.rsplit('/').next().unwrap_or_default();
            match target.store.create(&target.calendar, name, body).await {
                Ok(done) => return Ok(written(done)),
                Err(StoreError::PreconditionFailed { .. }) => continue,
                Err(err) => return Err(err),
            }
        };
        match target
            .store
            .update(&target.calendar, &ItemRef::new(href.clone()), &etag, body)
            .await
        {
            Ok(done) => return Ok(written(done)),
            // Changed on the server meanwhile (or gone): read its etag again.
            Err(StoreError::PreconditionFailed { .. } | StoreError::NotFound { .. }) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Protocol {
        url: href,
        reason: "the item kept changing on the server while calport wrote it".to_owned(),
    })
}

/// Deletes an item, whatever version the server has now; an item already gone is fine.
async fn remove(target: &Target<'_>, href: &str, etag: Option<&str>) -> Result<(), StoreError> {
    if href.is_empty() {
        return Ok(());
    }
    let mut expected = etag.map(Etag::new);
    for _ in 0..3 {
        let Some(etag) = etag_to_send(&mut expected, target, href).await? else {
            return Ok(());
        };
        match target
            .store
            .delete(&target.calendar, &ItemRef::new(href), &etag)
            .await
        {
            Ok(()) => return Ok(()),
            Err(StoreError::PreconditionFailed { .. }) => continue,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Protocol {
        url: href.to_owned(),
        reason: "the item kept changing on the server while calport deleted it".to_owned(),
    })
}
