//! Pushed changes (webhooks): the sources that send them, the durable inbox they wait in
//! until a worker applies them, the mapping of each source event to its CalDAV item, the
//! audit trail of every decision, and the conflicts parked for a person.
//!
//! The inbox is a queue like the runs: a worker claims due entries with a lease (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`), so two workers never apply the same entry,
//! and an entry whose worker died is claimed again once its lease expired. Entries are
//! stored before the sender is answered, so a crash between receipt and apply loses
//! nothing; applying an entry twice is harmless because the mapping remembers the
//! version applied.

use serde::Serialize;

use crate::db::{Backend, StateDb, StateError, now_ms, on_pool};

/// A configured source of pushed changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SourceRow {
    /// Chosen by the user, sent as `X-Calendar-Source`.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// `m365`.
    pub kind: String,
    /// The account of the target calendar.
    pub account_id: i64,
    /// The target calendar's href.
    pub calendar: String,
    /// Higher wins under `priority_based`.
    pub priority: i64,
    /// `last_write_wins`, `priority_based` or `manual`.
    pub conflict: String,
    /// Public lookup id of the source's key.
    pub key_lookup: String,
    /// SHA-256 of the source's key.
    #[serde(skip)]
    pub key_hash: String,
    /// SHA-256 of the Graph `clientState`.
    #[serde(skip)]
    pub client_state_hash: Option<String>,
    /// 1 when webhooks are accepted.
    pub enabled: i64,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// What creating or changing a source stores (keys apart).
#[derive(Clone, Debug)]
pub struct SourceFields {
    /// A name for people.
    pub name: String,
    /// The account of the target calendar.
    pub account_id: i64,
    /// The target calendar's href.
    pub calendar: String,
    /// Priority.
    pub priority: i64,
    /// Conflict strategy.
    pub conflict: String,
    /// Whether webhooks are accepted.
    pub enabled: bool,
}

/// One received webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InboxRow {
    /// Row id (receipt order).
    pub id: i64,
    /// Returned to the sender with the 202.
    pub request_id: String,
    /// The source.
    pub source_id: String,
    /// `created`, `updated`, `deleted` or `notification`.
    pub action: String,
    /// The source's event id.
    pub event_id: String,
    /// The body as received.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// `pending`, `done` or `dead`.
    pub state: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Not before (unix ms).
    pub next_at: i64,
    /// The worker applying it.
    pub lease_owner: Option<String>,
    /// Until when (unix ms).
    pub lease_until: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
    /// What applying it did.
    pub outcome: Option<String>,
    /// Received (unix ms).
    pub received_at: i64,
    /// Applied (unix ms).
    pub applied_at: Option<i64>,
}

/// A source event and its CalDAV item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EventRow {
    /// The source.
    pub source_id: String,
    /// The source's event id.
    pub event_id: String,
    /// Graph `iCalUId` (the same meeting in several mailboxes).
    pub ical_uid: Option<String>,
    /// For occurrences and exceptions: the series master's event id.
    pub series_master_id: Option<String>,
    /// The UID written to CalDAV.
    pub caldav_uid: Option<String>,
    /// The CalDAV item.
    pub href: Option<String>,
    /// Its etag as last written.
    pub etag: Option<String>,
    /// `lastModifiedDateTime` of the version applied (unix ms).
    pub modified_at: Option<i64>,
    /// `active`, `superseded`, `conflict`, `pending_master`, `cancelled`, `deleted`.
    pub status: String,
    /// For `superseded`: the source whose version is shown.
    pub winner: Option<String>,
    /// The last accepted body.
    #[serde(skip)]
    pub payload: Option<Vec<u8>>,
    /// The request that last changed it.
    pub request_id: Option<String>,
    /// The last failure.
    pub error: Option<String>,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// One audited decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    /// Row id.
    pub id: i64,
    /// When (unix ms).
    pub at: i64,
    /// The webhook it was about.
    pub request_id: String,
    /// The source.
    pub source_id: String,
    /// The source's event id.
    pub event_id: String,
    /// `create`, `update`, `delete`, `skip`, `conflict`, `retry`, `dead`, `noted`.
    pub action: String,
    /// In words.
    pub detail: String,
}

/// The same meeting from two sources, parked under the `manual` strategy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct IngestConflictRow {
    /// Row id.
    pub id: i64,
    /// The source whose change was parked.
    pub source_id: String,
    /// Its event id.
    pub event_id: String,
    /// The shared iCalUId.
    pub ical_uid: String,
    /// The source whose version is in the calendar.
    pub other_source: String,
    /// Its event id.
    pub other_event: String,
    /// The parked webhook.
    pub request_id: String,
    /// `open` or `resolved`.
    pub state: String,
    /// `incoming` or `existing`.
    pub resolution: Option<String>,
    /// Parked (unix ms).
    pub created_at: i64,
    /// Resolved (unix ms).
    pub resolved_at: Option<i64>,
}

/// Counts for one source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceCounts {
    /// Events by mapping status.
    pub events: Vec<(String, i64)>,
    /// Inbox entries by state.
    pub inbox: Vec<(String, i64)>,
    /// The last webhook received (unix ms).
    pub last_received_at: Option<i64>,
}

const CLAIM_INBOX_SQLITE: &str = "UPDATE inbox SET lease_owner = $1, lease_until = $2
    WHERE id IN (SELECT id FROM inbox
                 WHERE state = 'pending' AND next_at <= $3
                   AND (lease_until IS NULL OR lease_until < $3)
                 ORDER BY id LIMIT $4)
    RETURNING *";

const CLAIM_INBOX_POSTGRES: &str = "UPDATE inbox SET lease_owner = $1, lease_until = $2
    WHERE id IN (SELECT id FROM inbox
                 WHERE state = 'pending' AND next_at <= $3
                   AND (lease_until IS NULL OR lease_until < $3)
                 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
    RETURNING *";

impl StateDb {
    // ---- sources ----

    /// Stores a new source; `None` when the id is taken.
    ///
    /// # Errors
    /// [`StateError::Query`] (also for an account that does not exist).
    pub async fn create_source(
        &self,
        id: &str,
        f: &SourceFields,
        key_lookup: &str,
        key_hash: &str,
        client_state_hash: Option<&str>,
    ) -> Result<Option<SourceRow>, StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, SourceRow>(
                "INSERT INTO ingest_sources (id, name, kind, account_id, calendar, priority,
                        conflict, key_lookup, key_hash, client_state_hash, enabled,
                        created_at, updated_at)
                 VALUES ($1, $2, 'm365', $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
                 ON CONFLICT (id) DO NOTHING RETURNING *",
            )
            .bind(id)
            .bind(&f.name)
            .bind(f.account_id)
            .bind(&f.calendar)
            .bind(f.priority)
            .bind(&f.conflict)
            .bind(key_lookup)
            .bind(key_hash)
            .bind(client_state_hash)
            .bind(i64::from(f.enabled))
            .bind(now)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Replaces a source's settings; `None` when there is none.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn update_source(
        &self,
        id: &str,
        f: &SourceFields,
    ) -> Result<Option<SourceRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, SourceRow>(
                "UPDATE ingest_sources SET name = $2, account_id = $3, calendar = $4,
                        priority = $5, conflict = $6, enabled = $7, updated_at = $8
                 WHERE id = $1 RETURNING *",
            )
            .bind(id)
            .bind(&f.name)
            .bind(f.account_id)
            .bind(&f.calendar)
            .bind(f.priority)
            .bind(&f.conflict)
            .bind(i64::from(f.enabled))
            .bind(now_ms())
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Replaces a source's key (and, when given, its Graph clientState hash); false when
    /// there is no such source.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_source_key(
        &self,
        id: &str,
        key_lookup: &str,
        key_hash: &str,
        client_state_hash: Option<&str>,
    ) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query(
                "UPDATE ingest_sources SET key_lookup = $2, key_hash = $3,
                        client_state_hash = COALESCE($4, client_state_hash), updated_at = $5
                 WHERE id = $1",
            )
            .bind(id)
            .bind(key_lookup)
            .bind(key_hash)
            .bind(client_state_hash)
            .bind(now_ms())
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// One source.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn source(&self, id: &str) -> Result<Option<SourceRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, SourceRow>("SELECT * FROM ingest_sources WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Every source, by id.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn sources(&self) -> Result<Vec<SourceRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, SourceRow>("SELECT * FROM ingest_sources ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// The sources whose key has this lookup id.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn sources_by_key(&self, key_lookup: &str) -> Result<Vec<SourceRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, SourceRow>(
                "SELECT * FROM ingest_sources WHERE key_lookup = $1",
            )
            .bind(key_lookup)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Deletes a source with its inbox, mappings and conflicts (its audit trail stays);
    /// false when there is none.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn delete_source(&self, id: &str) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query("DELETE FROM ingest_sources WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The ids of the sources writing into an account.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn sources_using_account(&self, account_id: i64) -> Result<Vec<String>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT id FROM ingest_sources WHERE account_id = $1 ORDER BY id",
            )
            .bind(account_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Counts of a source's events and inbox entries, and its last receipt.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn source_counts(&self, id: &str) -> Result<SourceCounts, StateError> {
        on_pool!(self, pool => {
            let events = sqlx::query_as::<_, (String, i64)>(
                "SELECT status, COUNT(*) FROM ingest_events WHERE source_id = $1
                 GROUP BY status ORDER BY status",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let inbox = sqlx::query_as::<_, (String, i64)>(
                "SELECT state, COUNT(*) FROM inbox WHERE source_id = $1
                 GROUP BY state ORDER BY state",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let last_received_at = sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(received_at) FROM inbox WHERE source_id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await?;
            Ok(SourceCounts { events, inbox, last_received_at })
        })
    }

    // ---- inbox ----

    /// Stores a received webhook, due now. Returns its row id.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn enqueue_inbox(
        &self,
        request_id: &str,
        source_id: &str,
        action: &str,
        event_id: &str,
        body: &[u8],
    ) -> Result<i64, StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, i64>(
                "INSERT INTO inbox (request_id, source_id, action, event_id, body, state,
                                    attempts, next_at, received_at)
                 VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) RETURNING id",
            )
            .bind(request_id)
            .bind(source_id)
            .bind(action)
            .bind(event_id)
            .bind(body)
            .bind(now)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Claims up to `limit` due entries, oldest first, for `owner` until `lease_until`.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn claim_inbox(
        &self,
        owner: &str,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<InboxRow>, StateError> {
        let sql = match self.backend() {
            Backend::Sqlite => CLAIM_INBOX_SQLITE,
            Backend::Postgres => CLAIM_INBOX_POSTGRES,
        };
        on_pool!(self, pool => {
            let mut rows = sqlx::query_as::<_, InboxRow>(sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now_ms())
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    /// Extends the leases `owner` holds on pending entries until `lease_until`.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn renew_inbox_leases(
        &self,
        owner: &str,
        lease_until: i64,
    ) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE inbox SET lease_until = $2 WHERE lease_owner = $1 AND state = 'pending'",
            )
            .bind(owner)
            .bind(lease_until)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Hands back the pending entries `owner` claimed but did not apply (it stops).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn release_inbox_leases(&self, owner: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE inbox SET lease_owner = NULL, lease_until = NULL
                 WHERE lease_owner = $1 AND state = 'pending'",
            )
            .bind(owner)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Marks an entry applied with what it did; a dead letter left from an earlier
    /// failure of it is cleared.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn finish_inbox(&self, entry: &InboxRow, outcome: &str) -> Result<(), StateError> {
        let id = entry.id;
        on_pool!(self, pool => {
            if entry.attempts > 0 || entry.last_error.is_some() {
                sqlx::query("DELETE FROM dead_letters WHERE source = 'inbox' AND uid = $1")
                    .bind(&entry.request_id)
                    .execute(pool)
                    .await?;
            }
            sqlx::query(
                "UPDATE inbox SET state = 'done', outcome = $2, applied_at = $3,
                        lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
            )
            .bind(id)
            .bind(outcome)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Counts a failed attempt and makes the entry due again at `next_at`; returns the
    /// attempts so far.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn retry_inbox(&self, id: i64, error: &str, next_at: i64) -> Result<i64, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, i64>(
                "UPDATE inbox SET attempts = attempts + 1, last_error = $2, next_at = $3,
                        lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 RETURNING attempts",
            )
            .bind(id)
            .bind(error)
            .bind(next_at)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Gives up on an entry: it becomes `dead`, and an `inbox` dead letter (keyed by its
    /// request id) keeps the reason and the body for a person.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn bury_inbox(&self, entry: &InboxRow, reason: &str) -> Result<(), StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM dead_letters WHERE source = 'inbox' AND uid = $1")
                .bind(&entry.request_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE inbox SET state = 'dead', last_error = $2, attempts = attempts + 1,
                        lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
            )
            .bind(entry.id)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO dead_letters (source, pair_id, side, uid, href, reason, payload,
                                           attempts, state, first_at, last_at)
                 VALUES ('inbox', NULL, $1, $2, $3, $4, $5, $6, 'open', $7, $7)",
            )
            .bind(&entry.source_id)
            .bind(&entry.request_id)
            .bind(&entry.event_id)
            .bind(reason)
            .bind(&entry.body)
            .bind(entry.attempts + 1)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Makes a dead (or done) entry pending again, with its attempts reset: a person
    /// asked to retry it. False when there is no such request.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn requeue_inbox(&self, request_id: &str) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query(
                "UPDATE inbox SET state = 'pending', attempts = 0, next_at = $2,
                        lease_owner = NULL, lease_until = NULL
                 WHERE request_id = $1",
            )
            .bind(request_id)
            .bind(now_ms())
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// One inbox entry by request id.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn inbox_entry(&self, request_id: &str) -> Result<Option<InboxRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, InboxRow>("SELECT * FROM inbox WHERE request_id = $1")
                .bind(request_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Inbox entries by state, over every source.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn inbox_counts(&self) -> Result<Vec<(String, i64)>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, (String, i64)>(
                "SELECT state, COUNT(*) FROM inbox GROUP BY state ORDER BY state",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    // ---- event mappings ----

    /// The mapping of one source event.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_event(
        &self,
        source_id: &str,
        event_id: &str,
    ) -> Result<Option<EventRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, EventRow>(
                "SELECT * FROM ingest_events WHERE source_id = $1 AND event_id = $2",
            )
            .bind(source_id)
            .bind(event_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every mapping (of any source) carrying this iCalUId.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_events_by_ical_uid(
        &self,
        ical_uid: &str,
    ) -> Result<Vec<EventRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, EventRow>(
                "SELECT * FROM ingest_events WHERE ical_uid = $1 ORDER BY source_id, event_id",
            )
            .bind(ical_uid)
            .fetch_all(pool)
            .await?)
        })
    }

    /// The occurrences and exceptions a source knows of one series.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_series_parts(
        &self,
        source_id: &str,
        master_id: &str,
    ) -> Result<Vec<EventRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, EventRow>(
                "SELECT * FROM ingest_events WHERE source_id = $1 AND series_master_id = $2
                 ORDER BY event_id",
            )
            .bind(source_id)
            .bind(master_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Inserts or replaces a mapping.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn save_ingest_event(&self, row: &EventRow) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO ingest_events (source_id, event_id, ical_uid, series_master_id,
                        caldav_uid, href, etag, modified_at, status, winner, payload,
                        request_id, error, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (source_id, event_id) DO UPDATE SET
                    ical_uid = excluded.ical_uid, series_master_id = excluded.series_master_id,
                    caldav_uid = excluded.caldav_uid, href = excluded.href,
                    etag = excluded.etag, modified_at = excluded.modified_at,
                    status = excluded.status, winner = excluded.winner,
                    payload = excluded.payload, request_id = excluded.request_id,
                    error = excluded.error, updated_at = excluded.updated_at",
            )
            .bind(&row.source_id)
            .bind(&row.event_id)
            .bind(&row.ical_uid)
            .bind(&row.series_master_id)
            .bind(&row.caldav_uid)
            .bind(&row.href)
            .bind(&row.etag)
            .bind(row.modified_at)
            .bind(&row.status)
            .bind(&row.winner)
            .bind(&row.payload)
            .bind(&row.request_id)
            .bind(&row.error)
            .bind(now_ms())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Mappings, newest change first, filtered by source and status.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_events(
        &self,
        source_id: Option<&str>,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, EventRow>(
                "SELECT * FROM ingest_events
                 WHERE ($1 IS NULL OR source_id = $1) AND ($2 IS NULL OR status = $2)
                 ORDER BY updated_at DESC, source_id, event_id LIMIT $3",
            )
            .bind(source_id)
            .bind(status)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    // ---- audit ----

    /// Records one decision.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn add_ingest_audit(
        &self,
        request_id: &str,
        source_id: &str,
        event_id: &str,
        action: &str,
        detail: &str,
    ) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO ingest_audit (at, request_id, source_id, event_id, action, detail)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(now_ms())
            .bind(request_id)
            .bind(source_id)
            .bind(event_id)
            .bind(action)
            .bind(detail)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The audit trail, newest first, filtered by source, event, request and action.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_audit(
        &self,
        source_id: Option<&str>,
        event_id: Option<&str>,
        request_id: Option<&str>,
        action: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, AuditRow>(
                "SELECT * FROM ingest_audit
                 WHERE ($1 IS NULL OR source_id = $1) AND ($2 IS NULL OR event_id = $2)
                   AND ($3 IS NULL OR request_id = $3) AND ($4 IS NULL OR action = $4)
                 ORDER BY id DESC LIMIT $5",
            )
            .bind(source_id)
            .bind(event_id)
            .bind(request_id)
            .bind(action)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Counts of audited decisions by action.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_audit_counts(&self) -> Result<Vec<(String, i64)>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, (String, i64)>(
                "SELECT action, COUNT(*) FROM ingest_audit GROUP BY action ORDER BY action",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    // ---- conflicts ----

    /// Parks (or re-opens) the conflict of a source event; returns its id.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn park_ingest_conflict(
        &self,
        source_id: &str,
        event_id: &str,
        ical_uid: &str,
        other: (&str, &str),
        request_id: &str,
    ) -> Result<i64, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, i64>(
                "INSERT INTO ingest_conflicts (source_id, event_id, ical_uid, other_source,
                        other_event, request_id, state, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)
                 ON CONFLICT (source_id, event_id) DO UPDATE SET
                    ical_uid = excluded.ical_uid, other_source = excluded.other_source,
                    other_event = excluded.other_event, request_id = excluded.request_id,
                    state = 'open', resolution = NULL, resolved_at = NULL
                 RETURNING id",
            )
            .bind(source_id)
            .bind(event_id)
            .bind(ical_uid)
            .bind(other.0)
            .bind(other.1)
            .bind(request_id)
            .bind(now_ms())
            .fetch_one(pool)
            .await?)
        })
    }

    /// Conflicts, optionally of one state, oldest first.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_conflicts(
        &self,
        state: Option<&str>,
    ) -> Result<Vec<IngestConflictRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, IngestConflictRow>(
                "SELECT * FROM ingest_conflicts WHERE ($1 IS NULL OR state = $1) ORDER BY id",
            )
            .bind(state)
            .fetch_all(pool)
            .await?)
        })
    }

    /// One conflict.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_conflict(&self, id: i64) -> Result<Option<IngestConflictRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, IngestConflictRow>(
                "SELECT * FROM ingest_conflicts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// The conflict of one source event (there is at most one), in any state.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn ingest_conflict_of(
        &self,
        source_id: &str,
        event_id: &str,
    ) -> Result<Option<IngestConflictRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, IngestConflictRow>(
                "SELECT * FROM ingest_conflicts WHERE source_id = $1 AND event_id = $2",
            )
            .bind(source_id)
            .bind(event_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Records a person's choice (`incoming` or `existing`); false when the conflict is
    /// not open.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn resolve_ingest_conflict(
        &self,
        id: i64,
        resolution: &str,
    ) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query(
                "UPDATE ingest_conflicts SET state = 'resolved', resolution = $2,
                        resolved_at = $3
                 WHERE id = $1 AND state = 'open'",
            )
            .bind(id)
            .bind(resolution)
            .bind(now_ms())
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}
