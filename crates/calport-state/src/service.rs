//! The service's records (`calport serve`): API keys, accounts, jobs, runs and their
//! logs, outbound webhooks and deliveries, workers. Same statements on both backends.
//!
//! Runs are a queue: a worker claims the oldest queued run (or a running run whose lease
//! expired) by setting itself as the lease owner in one conditional `UPDATE`; on
//! PostgreSQL the candidate row is locked with `FOR UPDATE SKIP LOCKED`, so two workers
//! never claim the same run. A worker renews its lease while it runs; when it dies, the
//! lease expires and another worker claims the run and resumes it from the sync status.

use serde::{Deserialize, Serialize};

use crate::db::{Backend, StateDb, StateError, now_ms, on_pool};

/// An API key's record (the key itself is never stored, only its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApiKeyRow {
    /// Row id.
    pub id: i64,
    /// A name for people.
    pub name: String,
    /// The short public part used to find the row.
    pub lookup_id: String,
    /// SHA-256 of the whole key (hex).
    #[serde(skip)]
    pub hash: String,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last accepted (unix ms).
    pub last_used_at: Option<i64>,
    /// Revoked (unix ms); a revoked key is refused.
    pub revoked_at: Option<i64>,
}

/// An account's record. `secret` is the encrypted password.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `dav`.
    pub kind: String,
    /// Where discovery starts.
    pub url: String,
    /// User name.
    pub username: String,
    /// The password, encrypted; `None` when the account has none.
    pub secret: Option<Vec<u8>>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// What creating or replacing an account stores.
#[derive(Clone, Debug)]
pub struct AccountFields {
    /// Unique name.
    pub name: String,
    /// `dav`.
    pub kind: String,
    /// Where discovery starts.
    pub url: String,
    /// User name.
    pub username: String,
    /// The encrypted password.
    pub secret: Option<Vec<u8>>,
}

/// A job's record. `spec` is the job's options as JSON.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRow {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// `sync` or `migrate`.
    pub kind: String,
    /// Side A's account.
    pub a_account: i64,
    /// Side B's account.
    pub b_account: i64,
    /// Every engine option, as JSON.
    pub spec: String,
    /// Interval or cron expression.
    pub schedule: Option<String>,
    /// 1 when the scheduler and `POST /api/sync` run it.
    pub enabled: i64,
    /// Created (unix ms).
    pub created_at: i64,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

/// What creating or replacing a job stores.
#[derive(Clone, Debug)]
pub struct JobFields {
    /// Unique name.
    pub name: String,
    /// `sync` or `migrate`.
    pub kind: String,
    /// Side A's account.
    pub a_account: i64,
    /// Side B's account.
    pub b_account: i64,
    /// Every engine option, as JSON.
    pub spec: String,
    /// Interval or cron expression.
    pub schedule: Option<String>,
    /// Whether it is enabled.
    pub enabled: bool,
}

/// A run's record.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RunRow {
    /// Row id.
    pub id: i64,
    /// The job.
    pub job_id: i64,
    /// `queued`, `running`, `paused`, `completed`, `partial_failure`, `failed`,
    /// `cancelled`.
    pub state: String,
    /// `manual`, `schedule`, `api`.
    pub trigger: String,
    /// 1 for a dry run.
    pub dry_run: i64,
    /// `pause` or `cancel` asked of a running run.
    pub control: Option<String>,
    /// The worker holding the run.
    pub lease_owner: Option<String>,
    /// Until when (unix ms).
    pub lease_until: Option<i64>,
    /// How many times a worker claimed it.
    pub attempts: i64,
    /// Progress JSON.
    pub progress: Option<String>,
    /// Stats JSON.
    pub stats: Option<String>,
    /// Full engine report JSON.
    pub report: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Queued (unix ms).
    pub queued_at: i64,
    /// First started (unix ms).
    pub started_at: Option<i64>,
    /// Finished (unix ms).
    pub finished_at: Option<i64>,
    /// Last changed (unix ms).
    pub updated_at: i64,
}

impl RunRow {
    /// Whether the run is over.
    pub fn finished(&self) -> bool {
        matches!(
            self.state.as_str(),
            "completed" | "partial_failure" | "failed" | "cancelled"
        )
    }
}

/// One log line of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RunLogRow {
    /// Row id (increasing: use it to page with `after`).
    pub id: i64,
    /// The run.
    pub run_id: i64,
    /// When (unix ms).
    pub at: i64,
    /// `debug`, `info`, `warn`, `error`.
    pub level: String,
    /// The line.
    pub message: String,
}

/// An outbound webhook's record. `secret` is encrypted.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookRow {
    /// Row id.
    pub id: i64,
    /// Where to POST.
    pub url: String,
    /// Only this job's runs (`None`: every job).
    pub job_id: Option<i64>,
    /// The signing secret, encrypted.
    pub secret: Vec<u8>,
    /// 1 when deliveries are made.
    pub enabled: i64,
    /// Created (unix ms).
    pub created_at: i64,
}

/// One delivery of a run summary to a webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeliveryRow {
    /// Row id.
    pub id: i64,
    /// The webhook.
    pub webhook_id: i64,
    /// The run it reports.
    pub run_id: Option<i64>,
    /// `webhook-id`: the same on every attempt.
    pub msg_id: String,
    /// The JSON body.
    pub payload: String,
    /// `pending`, `delivered`, `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Last HTTP status.
    pub last_status: Option<i64>,
    /// Last error or response snippet.
    pub last_error: Option<String>,
    /// When to try next (unix ms).
    pub next_attempt_at: Option<i64>,
    /// Created (unix ms).
    pub created_at: i64,
    /// Delivered (unix ms).
    pub delivered_at: Option<i64>,
}

/// A worker process's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct WorkerRow {
    /// Unique id (host, pid, start).
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Process id.
    pub pid: i64,
    /// Started (unix ms).
    pub started_at: i64,
    /// Last heartbeat (unix ms).
    pub heartbeat_at: i64,
    /// Runs it is executing.
    pub running: i64,
}

/// What an insert that hit a uniqueness rule means to the caller.
fn unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// The result of an insert or update that may collide with a unique name.
#[derive(Debug)]
pub enum Saved<T> {
    /// Stored.
    Ok(T),
    /// Another row already has this name.
    Duplicate,
}

const CLAIM_SQLITE: &str = "UPDATE runs SET state = 'running', lease_owner = $1,
        lease_until = $2, attempts = attempts + 1, updated_at = $3,
        started_at = COALESCE(started_at, $3)
    WHERE id = (SELECT id FROM runs
                WHERE state = 'queued' OR (state = 'running' AND lease_until < $3)
                ORDER BY id LIMIT 1)
    RETURNING *";

const CLAIM_POSTGRES: &str = "UPDATE runs SET state = 'running', lease_owner = $1,
        lease_until = $2, attempts = attempts + 1, updated_at = $3,
        started_at = COALESCE(started_at, $3)
    WHERE id = (SELECT id FROM runs
                WHERE state = 'queued' OR (state = 'running' AND lease_until < $3)
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING *";

impl StateDb {
    // ---- API keys ----

    /// Stores a new API key's hash.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn create_api_key(
        &self,
        name: &str,
        lookup_id: &str,
        hash: &str,
    ) -> Result<ApiKeyRow, StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, ApiKeyRow>(
                "INSERT INTO api_keys (name, lookup_id, hash, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING *",
            )
            .bind(name)
            .bind(lookup_id)
            .bind(hash)
            .bind(now)
            .fetch_one(pool)
            .await?)
        })
    }

    /// The keys whose lookup id is `lookup_id` (normally one).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn api_keys_by_lookup(&self, lookup_id: &str) -> Result<Vec<ApiKeyRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys WHERE lookup_id = $1")
                .bind(lookup_id)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Every API key record.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, ApiKeyRow>("SELECT * FROM api_keys ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// Marks a key used now.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn touch_api_key(&self, id: i64) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Revokes a key; false when there is no such key.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn revoke_api_key(&self, id: i64) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
            )
            .bind(now_ms())
            .bind(id)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    // ---- accounts ----

    /// Creates an account.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn create_account(&self, f: &AccountFields) -> Result<Saved<AccountRow>, StateError> {
        let now = now_ms();
        let result = on_pool!(self, pool => {
            sqlx::query_as::<_, AccountRow>(
                "INSERT INTO accounts (name, kind, url, username, secret, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *",
            )
            .bind(&f.name)
            .bind(&f.kind)
            .bind(&f.url)
            .bind(&f.username)
            .bind(&f.secret)
            .bind(now)
            .fetch_one(pool)
            .await
        });
        match result {
            Ok(row) => Ok(Saved::Ok(row)),
            Err(e) if unique_violation(&e) => Ok(Saved::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces an account's fields; `Ok(None)` when there is no such account.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn update_account(
        &self,
        id: i64,
        f: &AccountFields,
    ) -> Result<Option<Saved<AccountRow>>, StateError> {
        let result = on_pool!(self, pool => {
            sqlx::query_as::<_, AccountRow>(
                "UPDATE accounts SET name = $1, kind = $2, url = $3, username = $4, secret = $5,
                        updated_at = $6
                 WHERE id = $7 RETURNING *",
            )
            .bind(&f.name)
            .bind(&f.kind)
            .bind(&f.url)
            .bind(&f.username)
            .bind(&f.secret)
            .bind(now_ms())
            .bind(id)
            .fetch_optional(pool)
            .await
        });
        match result {
            Ok(row) => Ok(row.map(Saved::Ok)),
            Err(e) if unique_violation(&e) => Ok(Some(Saved::Duplicate)),
            Err(e) => Err(e.into()),
        }
    }

    /// One account.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn account(&self, id: i64) -> Result<Option<AccountRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, AccountRow>("SELECT * FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Every account.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn accounts(&self) -> Result<Vec<AccountRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, AccountRow>("SELECT * FROM accounts ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// Deletes an account; `Ok(false)` when there is none. Accounts used by jobs cannot
    /// be deleted (the caller checks [`StateDb::jobs_using_account`] first).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn delete_account(&self, id: i64) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query("DELETE FROM accounts WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Names of the jobs that use an account.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn jobs_using_account(&self, id: i64) -> Result<Vec<String>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT name FROM jobs WHERE a_account = $1 OR b_account = $1 ORDER BY name",
            )
            .bind(id)
            .fetch_all(pool)
            .await?)
        })
    }

    // ---- jobs ----

    /// Creates a job.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn create_job(&self, f: &JobFields) -> Result<Saved<JobRow>, StateError> {
        let now = now_ms();
        let result = on_pool!(self, pool => {
            sqlx::query_as::<_, JobRow>(
                "INSERT INTO jobs (name, kind, a_account, b_account, spec, schedule, enabled,
                                   created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *",
            )
            .bind(&f.name)
            .bind(&f.kind)
            .bind(f.a_account)
            .bind(f.b_account)
            .bind(&f.spec)
            .bind(&f.schedule)
            .bind(i64::from(f.enabled))
            .bind(now)
            .fetch_one(pool)
            .await
        });
        match result {
            Ok(row) => Ok(Saved::Ok(row)),
            Err(e) if unique_violation(&e) => Ok(Saved::Duplicate),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a job's fields; `Ok(None)` when there is no such job.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn update_job(
        &self,
        id: i64,
        f: &JobFields,
    ) -> Result<Option<Saved<JobRow>>, StateError> {
        let result = on_pool!(self, pool => {
            sqlx::query_as::<_, JobRow>(
                "UPDATE jobs SET name = $1, kind = $2, a_account = $3, b_account = $4, spec = $5,
                        schedule = $6, enabled = $7, updated_at = $8
                 WHERE id = $9 RETURNING *",
            )
            .bind(&f.name)
            .bind(&f.kind)
            .bind(f.a_account)
            .bind(f.b_account)
            .bind(&f.spec)
            .bind(&f.schedule)
            .bind(i64::from(f.enabled))
            .bind(now_ms())
            .bind(id)
            .fetch_optional(pool)
            .await
        });
        match result {
            Ok(row) => Ok(row.map(Saved::Ok)),
            Err(e) if unique_violation(&e) => Ok(Some(Saved::Duplicate)),
            Err(e) => Err(e.into()),
        }
    }

    /// One job.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn job(&self, id: i64) -> Result<Option<JobRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Every job.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn jobs(&self) -> Result<Vec<JobRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, JobRow>("SELECT * FROM jobs ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// Deletes a job with its runs; `Ok(false)` when there is none.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn delete_job(&self, id: i64) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query("DELETE FROM jobs WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    // ---- runs ----

    /// Queues a run of a job; `Ok(None)` when the job already has a run queued, running
    /// or paused (a job never runs twice at once).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn enqueue_run(
        &self,
        job_id: i64,
        trigger: &str,
        dry_run: bool,
    ) -> Result<Option<RunRow>, StateError> {
        let now = now_ms();
        let result = on_pool!(self, pool => {
            sqlx::query_as::<_, RunRow>(
                "INSERT INTO runs (job_id, state, trigger, dry_run, queued_at, updated_at)
                 VALUES ($1, 'queued', $2, $3, $4, $4) RETURNING *",
            )
            .bind(job_id)
            .bind(trigger)
            .bind(i64::from(dry_run))
            .bind(now)
            .fetch_one(pool)
            .await
        });
        match result {
            Ok(row) => Ok(Some(row)),
            Err(e) if unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// One run.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn run(&self, id: i64) -> Result<Option<RunRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, RunRow>("SELECT * FROM runs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// A job's runs, newest first.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn job_runs(&self, job_id: i64, limit: i64) -> Result<Vec<RunRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, RunRow>(
                "SELECT * FROM runs WHERE job_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(job_id)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// The run of a job that is queued, running or paused, if any.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn active_run(&self, job_id: i64) -> Result<Option<RunRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, RunRow>(
                "SELECT * FROM runs WHERE job_id = $1 AND state IN ('queued', 'running', 'paused')",
            )
            .bind(job_id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Claims the oldest queued run, or a running one whose lease expired, for `worker`
    /// until `lease_until` (unix ms).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn claim_run(
        &self,
        worker: &str,
        lease_until: i64,
    ) -> Result<Option<RunRow>, StateError> {
        let sql = match self.backend() {
            Backend::Sqlite => CLAIM_SQLITE,
            Backend::Postgres => CLAIM_POSTGRES,
        };
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, RunRow>(sql)
                .bind(worker)
                .bind(lease_until)
                .bind(now_ms())
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Renews a lease and reads what a user asked of the run meanwhile. `Ok(None)` when
    /// the worker no longer holds the run (its lease expired and another took it).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn renew_lease(
        &self,
        run_id: i64,
        worker: &str,
        lease_until: i64,
        progress: Option<&str>,
    ) -> Result<Option<Option<String>>, StateError> {
        on_pool!(self, pool => {
            let row: Option<(Option<String>,)> = sqlx::query_as(
                "UPDATE runs SET lease_until = $1, updated_at = $2,
                        progress = COALESCE($3, progress)
                 WHERE id = $4 AND lease_owner = $5 AND state = 'running'
                 RETURNING control",
            )
            .bind(lease_until)
            .bind(now_ms())
            .bind(progress)
            .bind(run_id)
            .bind(worker)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|r| r.0))
        })
    }

    /// Asks a run to pause or cancel (`control`), or clears the request (`None`).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_run_control(
        &self,
        run_id: i64,
        control: Option<&str>,
    ) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE runs SET control = $1, updated_at = $2 WHERE id = $3")
                .bind(control)
                .bind(now_ms())
                .bind(run_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Moves a run from `from` to `to` if it is in `from`; returns the run when it moved.
    /// Used for pausing a queued run, resuming (`paused` → `queued`) and cancelling one
    /// that is not running.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn transition_run(
        &self,
        run_id: i64,
        from: &str,
        to: &str,
    ) -> Result<Option<RunRow>, StateError> {
        let now = now_ms();
        let finished = matches!(to, "completed" | "partial_failure" | "failed" | "cancelled");
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, RunRow>(
                "UPDATE runs SET state = $1, control = NULL, lease_owner = NULL,
                        lease_until = NULL, updated_at = $2,
                        finished_at = CASE WHEN $3 = 1 THEN $2 ELSE finished_at END
                 WHERE id = $4 AND state = $5 RETURNING *",
            )
            .bind(to)
            .bind(now)
            .bind(i64::from(finished))
            .bind(run_id)
            .bind(from)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Ends a run held by `worker`: its final state (`completed`, `partial_failure`,
    /// `failed`, `cancelled`; or `paused` to continue when resumed, `queued` to hand it
    /// back for any worker at once), stats, report and error.
    /// False when the worker no longer held it.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn finish_run(
        &self,
        run_id: i64,
        worker: &str,
        state: &str,
        stats: Option<&str>,
        report: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool, StateError> {
        let now = now_ms();
        // `paused` and `queued` (handed back at shutdown) are not the end of the run.
        let finished = !matches!(state, "paused" | "queued");
        on_pool!(self, pool => {
            let done = sqlx::query(
                "UPDATE runs SET state = $1, stats = COALESCE($2, stats),
                        report = COALESCE($3, report), error = $4, control = NULL,
                        lease_owner = NULL, lease_until = NULL, updated_at = $5,
                        finished_at = CASE WHEN $6 = 1 THEN $5 ELSE NULL END
                 WHERE id = $7 AND lease_owner = $8",
            )
            .bind(state)
            .bind(stats)
            .bind(report)
            .bind(error)
            .bind(now)
            .bind(i64::from(finished))
            .bind(run_id)
            .bind(worker)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Number of runs per state.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn run_counts(&self) -> Result<Vec<(String, i64)>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, (String, i64)>(
                "SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// Every run's stats JSON (for totals).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn run_stats(&self) -> Result<Vec<String>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT stats FROM runs WHERE stats IS NOT NULL",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    // ---- run logs ----

    /// Appends a log line to a run.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn add_run_log(
        &self,
        run_id: i64,
        level: &str,
        message: &str,
    ) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO run_logs (run_id, at, level, message) VALUES ($1, $2, $3, $4)")
                .bind(run_id)
                .bind(now_ms())
                .bind(level)
                .bind(message)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A page of a run's log: lines after `after` (an id), of the given levels,
    /// containing `query` (case-insensitive), at most `limit`.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn run_logs(
        &self,
        run_id: i64,
        after: i64,
        levels: &[&str],
        query: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RunLogRow>, StateError> {
        let levels = levels.join(",");
        // The query is plain text: LIKE's wildcards and the escape character in it are
        // escaped.
        let pattern = query.map(|q| {
            let q = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{q}%")
        });
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, RunLogRow>(
                "SELECT * FROM run_logs
                 WHERE run_id = $1 AND id > $2
                   AND ($3 = '' OR ',' || $3 || ',' LIKE '%,' || level || ',%')
                   AND ($4 IS NULL OR LOWER(message) LIKE $4 ESCAPE '\\')
                 ORDER BY id LIMIT $5",
            )
            .bind(run_id)
            .bind(after)
            .bind(levels)
            .bind(pattern)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    // ---- webhooks ----

    /// Adds a webhook.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn create_webhook(
        &self,
        url: &str,
        job_id: Option<i64>,
        secret: &[u8],
    ) -> Result<WebhookRow, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, WebhookRow>(
                "INSERT INTO webhooks (url, job_id, secret, enabled, created_at)
                 VALUES ($1, $2, $3, 1, $4) RETURNING *",
            )
            .bind(url)
            .bind(job_id)
            .bind(secret)
            .bind(now_ms())
            .fetch_one(pool)
            .await?)
        })
    }

    /// Every webhook.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, WebhookRow>("SELECT * FROM webhooks ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// One webhook.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn webhook(&self, id: i64) -> Result<Option<WebhookRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, WebhookRow>("SELECT * FROM webhooks WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Deletes a webhook; false when there is none.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn delete_webhook(&self, id: i64) -> Result<bool, StateError> {
        on_pool!(self, pool => {
            let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Turns a webhook off (e.g. after 410 Gone).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn disable_webhook(&self, id: i64) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE webhooks SET enabled = 0 WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Queues a delivery (due now).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn enqueue_delivery(
        &self,
        webhook_id: i64,
        run_id: Option<i64>,
        msg_id: &str,
        payload: &str,
    ) -> Result<DeliveryRow, StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, DeliveryRow>(
                "INSERT INTO webhook_deliveries (webhook_id, run_id, msg_id, payload, state,
                                                 next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $5) RETURNING *",
            )
            .bind(webhook_id)
            .bind(run_id)
            .bind(msg_id)
            .bind(payload)
            .bind(now)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Takes deliveries that are due: each is pushed `hold_ms` into the future so that
    /// another worker does not send it at the same time.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn take_due_deliveries(
        &self,
        limit: i64,
        hold_ms: i64,
    ) -> Result<Vec<DeliveryRow>, StateError> {
        let now = now_ms();
        let mut taken = Vec::new();
        for _ in 0..limit {
            let row = on_pool!(self, pool => {
                sqlx::query_as::<_, DeliveryRow>(
                    "UPDATE webhook_deliveries SET next_attempt_at = $1
                     WHERE id = (SELECT id FROM webhook_deliveries
                                 WHERE state = 'pending' AND next_attempt_at <= $2
                                 ORDER BY next_attempt_at, id LIMIT 1)
                       AND state = 'pending' AND next_attempt_at <= $2
                     RETURNING *",
                )
                .bind(now + hold_ms)
                .bind(now)
                .fetch_optional(pool)
                .await?
            });
            match row {
                Some(row) => taken.push(row),
                None => break,
            }
        }
        Ok(taken)
    }

    /// Records one delivery attempt: its new state, status, error and next time.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn record_delivery(
        &self,
        id: i64,
        state: &str,
        status: Option<i64>,
        error: Option<&str>,
        next_attempt_at: Option<i64>,
    ) -> Result<(), StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1,
                        last_status = $2, last_error = $3, next_attempt_at = $4,
                        delivered_at = CASE WHEN $1 = 'delivered' THEN $5 ELSE delivered_at END
                 WHERE id = $6",
            )
            .bind(state)
            .bind(status)
            .bind(error)
            .bind(next_attempt_at)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A webhook's latest deliveries, newest first.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn deliveries(
        &self,
        webhook_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, DeliveryRow>(
                "SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Deliveries waiting to be sent.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn pending_deliveries(&self) -> Result<i64, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'",
            )
            .fetch_one(pool)
            .await?)
        })
    }

    // ---- workers ----

    /// Registers a worker or records its heartbeat.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn worker_heartbeat(
        &self,
        id: &str,
        hostname: &str,
        pid: i64,
        running: i64,
    ) -> Result<(), StateError> {
        let now = now_ms();
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO workers (id, hostname, pid, started_at, heartbeat_at, running)
                 VALUES ($1, $2, $3, $4, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                                                running = excluded.running",
            )
            .bind(id)
            .bind(hostname)
            .bind(pid)
            .bind(now)
            .bind(running)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Workers seen since `since` (unix ms).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn workers_since(&self, since: i64) -> Result<Vec<WorkerRow>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_as::<_, WorkerRow>(
                "SELECT * FROM workers WHERE heartbeat_at >= $1 ORDER BY id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Removes a worker's record (on clean shutdown).
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn remove_worker(&self, id: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM workers WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A setting.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StateError> {
        on_pool!(self, pool => {
            Ok(sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Stores a setting.
    ///
    /// # Errors
    /// [`StateError::Query`].
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StateError> {
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
