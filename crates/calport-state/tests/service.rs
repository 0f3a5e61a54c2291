//! The service's records (`calport serve`): API keys, accounts, jobs, the run queue with
//! its leases, run logs, webhooks and deliveries, workers, settings. Every test runs twice:
//! on an SQLite file and on a fresh PostgreSQL database (which must be reachable: see
//! `calport_state::testing`).

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

mod common;

use calport_state::{AccountFields, JobFields, JobRow, RunRow, Saved, StateDb};
use common::Fixture;

on_both_backends!(
    api_keys_create_lookup_touch_revoke,
    accounts_create_update_delete,
    jobs_update_and_delete_cascade_to_runs,
    a_job_has_one_active_run_at_a_time,
    claim_takes_the_oldest_queued_run,
    renew_lease_belongs_to_the_owner_and_carries_control,
    transition_run_moves_only_from_the_given_state,
    finish_run_only_by_the_lease_owner,
    an_expired_lease_is_taken_over,
    concurrent_workers_claim_each_run_once,
    run_logs_filter_and_page,
    webhooks_and_deliveries,
    workers_heartbeat_and_leave,
    settings_round_trip,
);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn account(name: &str) -> AccountFields {
    AccountFields {
        name: name.into(),
        kind: "dav".into(),
        url: format!("https://dav.example.com/{name}/"),
        username: format!("user-{name}"),
        secret: Some(vec![1, 2, 3, 0, 255]),
    }
}

fn saved<T: std::fmt::Debug>(s: Saved<T>) -> T {
    match s {
        Saved::Ok(row) => row,
        Saved::Duplicate => panic!("unexpected duplicate"),
    }
}

fn job_fields(name: &str, a: i64, b: i64) -> JobFields {
    JobFields {
        name: name.into(),
        kind: "sync".into(),
        a_account: a,
        b_account: b,
        spec: format!(r#"{{"name":"{name}"}}"#),
        schedule: Some("15m".into()),
        enabled: true,
    }
}

/// Two accounts and `n` jobs between them.
async fn jobs(db: &StateDb, n: usize) -> Vec<JobRow> {
    let a = saved(db.create_account(&account("a")).await.unwrap());
    let b = saved(db.create_account(&account("b")).await.unwrap());
    let mut out = Vec::new();
    for i in 0..n {
        out.push(saved(
            db.create_job(&job_fields(&format!("job{i:02}"), a.id, b.id))
                .await
                .unwrap(),
        ));
    }
    out
}

async fn enqueue(db: &StateDb, job: i64) -> RunRow {
    db.enqueue_run(job, "api", false)
        .await
        .unwrap()
        .expect("the job has no active run")
}

async fn api_keys_create_lookup_touch_revoke(fx: Fixture) {
    let db = fx.open().await;
    assert!(db.api_keys().await.unwrap().is_empty());
    let one = db.create_api_key("ci", "cpk_one", "hash1").await.unwrap();
    let two = db.create_api_key("ops", "cpk_two", "hash2").await.unwrap();
    assert_eq!(
        (one.name.as_str(), one.lookup_id.as_str(), one.hash.as_str()),
        ("ci", "cpk_one", "hash1")
    );
    assert!(one.created_at > 0);
    assert_eq!((one.last_used_at, one.revoked_at), (None, None));
    assert_ne!(one.id, two.id);
    assert!(
        db.create_api_key("dup", "cpk_one", "h").await.is_err(),
        "lookup ids are unique"
    );

    assert_eq!(
        db.api_keys_by_lookup("cpk_two").await.unwrap(),
        vec![two.clone()]
    );
    assert!(db.api_keys_by_lookup("cpk_none").await.unwrap().is_empty());

    db.touch_api_key(one.id).await.unwrap();
    let touched = db.api_keys_by_lookup("cpk_one").await.unwrap().remove(0);
    assert!(touched.last_used_at.is_some_and(|t| t >= one.created_at));
    assert_eq!(touched.revoked_at, None);

    assert!(db.revoke_api_key(one.id).await.unwrap());
    let revoked = db.api_keys_by_lookup("cpk_one").await.unwrap().remove(0);
    let at = revoked.revoked_at.expect("revoked");
    assert!(
        db.revoke_api_key(one.id).await.unwrap(),
        "revoking twice is fine"
    );
    assert_eq!(
        db.api_keys_by_lookup("cpk_one").await.unwrap()[0].revoked_at,
        Some(at),
        "the first revocation time stays"
    );
    assert!(!db.revoke_api_key(9999).await.unwrap());

    let all = db.api_keys().await.unwrap();
    assert_eq!(
        all.iter().map(|k| k.id).collect::<Vec<_>>(),
        [one.id, two.id]
    );
    assert_eq!(all[1].revoked_at, None, "other keys are untouched");
    db.close().await;
}

async fn accounts_create_update_delete(fx: Fixture) {
    let db = fx.open().await;
    let a = saved(db.create_account(&account("alice")).await.unwrap());
    assert_eq!(a.name, "alice");
    assert_eq!(a.url, "https://dav.example.com/alice/");
    assert_eq!(a.secret.as_deref(), Some(&[1u8, 2, 3, 0, 255][..]));
    assert_eq!(a.created_at, a.updated_at);
    assert!(matches!(
        db.create_account(&account("alice")).await.unwrap(),
        Saved::Duplicate
    ));
    let b = saved(
        db.create_account(&AccountFields {
            secret: None,
            ..account("bob")
        })
        .await
        .unwrap(),
    );
    assert_eq!(b.secret, None);
    assert_eq!(db.account(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(db.account(9999).await.unwrap(), None);
    assert_eq!(db.accounts().await.unwrap(), vec![a.clone(), b.clone()]);

    // Update, including a rename onto a taken name.
    let changed = AccountFields {
        url: "https://other.example.com/".into(),
        secret: None,
        ..account("alice2")
    };
    let updated = db.update_account(a.id, &changed).await.unwrap();
    let updated = saved(updated.expect("the account exists"));
    assert_eq!(updated.id, a.id);
    assert_eq!(updated.name, "alice2");
    assert_eq!(updated.url, "https://other.example.com/");
    assert_eq!(updated.secret, None);
    assert_eq!(updated.created_at, a.created_at);
    assert!(updated.updated_at >= a.updated_at);
    assert!(matches!(
        db.update_account(a.id, &account("bob")).await.unwrap(),
        Some(Saved::Duplicate)
    ));
    assert_eq!(
        db.account(a.id).await.unwrap().unwrap().name,
        "alice2",
        "a refused rename changes nothing"
    );
    assert!(
        db.update_account(9999, &account("zed"))
            .await
            .unwrap()
            .is_none()
    );

    // Jobs using an account.
    assert!(db.jobs_using_account(a.id).await.unwrap().is_empty());
    let j1 = saved(
        db.create_job(&job_fields("zz-second", a.id, b.id))
            .await
            .unwrap(),
    );
    saved(
        db.create_job(&job_fields("aa-first", b.id, a.id))
            .await
            .unwrap(),
    );
    assert_eq!(
        db.jobs_using_account(a.id).await.unwrap(),
        ["aa-first", "zz-second"]
    );
    assert!(
        db.delete_account(a.id).await.is_err(),
        "a used account cannot be deleted"
    );
    db.delete_job(j1.id).await.unwrap();
    assert_eq!(db.jobs_using_account(a.id).await.unwrap(), ["aa-first"]);

    let c = saved(db.create_account(&account("carol")).await.unwrap());
    assert!(db.delete_account(c.id).await.unwrap());
    assert!(!db.delete_account(c.id).await.unwrap());
    assert_eq!(db.account(c.id).await.unwrap(), None);
    assert_eq!(db.accounts().await.unwrap().len(), 2);
    db.close().await;
}

async fn jobs_update_and_delete_cascade_to_runs(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 2).await;
    let (j, other) = (&list[0], &list[1]);
    assert_eq!(j.kind, "sync");
    assert_eq!(j.schedule.as_deref(), Some("15m"));
    assert_eq!(j.enabled, 1);
    assert_eq!(db.job(j.id).await.unwrap().as_ref(), Some(j));
    assert_eq!(db.jobs().await.unwrap(), list);
    assert!(matches!(
        db.create_job(&job_fields("job00", j.a_account, j.b_account))
            .await
            .unwrap(),
        Saved::Duplicate
    ));

    let mut fields = job_fields("renamed", j.b_account, j.a_account);
    fields.kind = "migrate".into();
    fields.schedule = None;
    fields.enabled = false;
    fields.spec = r#"{"x":1}"#.into();
    let updated = saved(db.update_job(j.id, &fields).await.unwrap().unwrap());
    assert_eq!(
        (
            updated.name.as_str(),
            updated.kind.as_str(),
            updated.a_account,
            updated.b_account,
            updated.spec.as_str(),
            updated.schedule.as_deref(),
            updated.enabled,
            updated.created_at
        ),
        (
            "renamed",
            "migrate",
            j.b_account,
            j.a_account,
            r#"{"x":1}"#,
            None,
            0,
            j.created_at
        )
    );
    assert!(matches!(
        db.update_job(j.id, &job_fields("job01", j.a_account, j.b_account))
            .await
            .unwrap(),
        Some(Saved::Duplicate)
    ));
    assert!(
        db.update_job(9999, &fields).await.unwrap().is_none(),
        "no such job"
    );

    // Runs and their logs go with their job; another job's runs stay.
    let first = enqueue(&db, j.id).await;
    db.transition_run(first.id, "queued", "cancelled")
        .await
        .unwrap()
        .unwrap();
    let second = enqueue(&db, j.id).await;
    db.add_run_log(second.id, "info", "hello").await.unwrap();
    let kept = enqueue(&db, other.id).await;
    assert_eq!(
        db.job_runs(j.id, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [second.id, first.id],
        "newest first"
    );
    assert_eq!(db.job_runs(j.id, 1).await.unwrap().len(), 1);
    assert!(db.delete_job(j.id).await.unwrap());
    assert!(!db.delete_job(j.id).await.unwrap());
    assert_eq!(db.job(j.id).await.unwrap(), None);
    assert_eq!(db.run(first.id).await.unwrap(), None);
    assert_eq!(db.run(second.id).await.unwrap(), None);
    assert!(
        db.run_logs(second.id, 0, &[], None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.run(kept.id).await.unwrap(), Some(kept));
    db.close().await;
}

async fn a_job_has_one_active_run_at_a_time(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 2).await;
    let (j, other) = (list[0].id, list[1].id);
    let run = db.enqueue_run(j, "manual", true).await.unwrap().unwrap();
    assert_eq!(
        (
            run.job_id,
            run.state.as_str(),
            run.trigger.as_str(),
            run.dry_run,
            run.attempts
        ),
        (j, "queued", "manual", 1, 0)
    );
    assert_eq!(
        (run.lease_owner.as_deref(), run.started_at, run.finished_at),
        (None, None, None)
    );
    assert!(!run.finished());
    assert_eq!(db.active_run(j).await.unwrap().map(|r| r.id), Some(run.id));
    assert_eq!(db.active_run(other).await.unwrap(), None);

    // queued
    assert!(db.enqueue_run(j, "api", false).await.unwrap().is_none());
    // Another job is not held up.
    let other_run = enqueue(&db, other).await;
    // running
    let claimed = db
        .claim_run("w1", now_ms() + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, run.id);
    assert!(db.enqueue_run(j, "api", false).await.unwrap().is_none());
    // paused
    assert!(
        db.finish_run(run.id, "w1", "paused", None, None, None)
            .await
            .unwrap()
    );
    assert_eq!(db.run(run.id).await.unwrap().unwrap().state, "paused");
    assert!(
        db.enqueue_run(j, "schedule", false)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.active_run(j).await.unwrap().map(|r| r.id), Some(run.id));

    // Finished: a new run may be queued.
    db.transition_run(run.id, "paused", "queued")
        .await
        .unwrap()
        .unwrap();
    let again = db
        .claim_run("w1", now_ms() + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, run.id);
    assert!(
        db.finish_run(run.id, "w1", "completed", None, None, None)
            .await
            .unwrap()
    );
    assert_eq!(db.active_run(j).await.unwrap(), None);
    let next = db.enqueue_run(j, "schedule", false).await.unwrap().unwrap();
    assert_ne!(next.id, run.id);
    assert_eq!(next.state, "queued");
    assert_eq!(
        db.run_counts().await.unwrap(),
        [("completed".to_owned(), 1), ("queued".to_owned(), 2)]
    );
    assert_eq!(other_run.state, "queued");
    db.close().await;
}

async fn claim_takes_the_oldest_queued_run(fx: Fixture) {
    let db = fx.open().await;
    assert!(
        db.claim_run("w1", now_ms() + 60_000)
            .await
            .unwrap()
            .is_none()
    );
    let list = jobs(&db, 3).await;
    let r0 = enqueue(&db, list[0].id).await;
    let r1 = enqueue(&db, list[1].id).await;
    let r2 = enqueue(&db, list[2].id).await;
    // A paused run is not claimable.
    db.transition_run(r0.id, "queued", "paused")
        .await
        .unwrap()
        .unwrap();

    let before = now_ms();
    let lease = before + 60_000;
    let got = db.claim_run("w1", lease).await.unwrap().unwrap();
    assert_eq!(got.id, r1.id, "the oldest queued run");
    assert_eq!(got.state, "running");
    assert_eq!(got.lease_owner.as_deref(), Some("w1"));
    assert_eq!(got.lease_until, Some(lease));
    assert_eq!(got.attempts, 1);
    let started = got.started_at.expect("started_at is set");
    assert!(started >= before && started <= now_ms());
    assert!(got.updated_at >= before);
    assert_eq!(db.run(r1.id).await.unwrap(), Some(got));

    let got = db.claim_run("w2", lease).await.unwrap().unwrap();
    assert_eq!(got.id, r2.id);
    assert_eq!(got.lease_owner.as_deref(), Some("w2"));
    assert!(
        db.claim_run("w3", lease).await.unwrap().is_none(),
        "held leases and paused runs are not claimable"
    );
    db.close().await;
}

async fn renew_lease_belongs_to_the_owner_and_carries_control(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 1).await;
    let run = enqueue(&db, list[0].id).await;
    assert_eq!(
        db.renew_lease(run.id, "w1", now_ms() + 1000, None)
            .await
            .unwrap(),
        None,
        "a queued run has no lease to renew"
    );
    db.claim_run("w1", now_ms() + 1000).await.unwrap().unwrap();

    let lease = now_ms() + 120_000;
    assert_eq!(
        db.renew_lease(run.id, "w1", lease, Some(r#"{"percent":10}"#))
            .await
            .unwrap(),
        Some(None),
        "the owner renews; nothing asked"
    );
    let row = db.run(run.id).await.unwrap().unwrap();
    assert_eq!(row.lease_until, Some(lease));
    assert_eq!(row.progress.as_deref(), Some(r#"{"percent":10}"#));
    assert_eq!(
        db.renew_lease(run.id, "w2", now_ms() + 1000, Some("{}"))
            .await
            .unwrap(),
        None,
        "another worker does not hold the run"
    );
    let row = db.run(run.id).await.unwrap().unwrap();
    assert_eq!(
        row.lease_until,
        Some(lease),
        "untouched by the other worker"
    );
    assert_eq!(row.progress.as_deref(), Some(r#"{"percent":10}"#));

    db.set_run_control(run.id, Some("pause")).await.unwrap();
    assert_eq!(
        db.renew_lease(run.id, "w1", lease, None).await.unwrap(),
        Some(Some("pause".to_owned()))
    );
    assert_eq!(
        db.run(run.id).await.unwrap().unwrap().progress.as_deref(),
        Some(r#"{"percent":10}"#),
        "no progress given: the last one stays"
    );
    db.set_run_control(run.id, Some("cancel")).await.unwrap();
    assert_eq!(
        db.renew_lease(run.id, "w1", lease, None).await.unwrap(),
        Some(Some("cancel".to_owned()))
    );
    db.set_run_control(run.id, None).await.unwrap();
    assert_eq!(
        db.renew_lease(run.id, "w1", lease, None).await.unwrap(),
        Some(None)
    );

    // The worker acts on the pause: the run is paused, the request is cleared.
    db.set_run_control(run.id, Some("pause")).await.unwrap();
    assert!(
        db.finish_run(
            run.id,
            "w1",
            "paused",
            Some(r#"{"collections":1}"#),
            None,
            None
        )
        .await
        .unwrap()
    );
    let row = db.run(run.id).await.unwrap().unwrap();
    assert_eq!(row.state, "paused");
    assert_eq!(row.control, None);
    assert_eq!(row.finished_at, None);
    assert_eq!(
        db.renew_lease(run.id, "w1", lease, None).await.unwrap(),
        None,
        "a paused run holds no lease"
    );
    db.close().await;
}

async fn transition_run_moves_only_from_the_given_state(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 1).await;
    let run = enqueue(&db, list[0].id).await;
    assert!(
        db.transition_run(run.id, "paused", "queued")
            .await
            .unwrap()
            .is_none(),
        "not paused"
    );
    db.set_run_control(run.id, Some("pause")).await.unwrap();
    let paused = db
        .transition_run(run.id, "queued", "paused")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paused.state, "paused");
    assert_eq!(paused.control, None, "a transition clears the request");
    assert_eq!(paused.finished_at, None);
    let queued = db
        .transition_run(run.id, "paused", "queued")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.state, "queued");
    assert_eq!(queued.finished_at, None);
    assert_eq!(
        db.claim_run("w1", now_ms() + 60_000)
            .await
            .unwrap()
            .map(|r| r.id),
        Some(run.id),
        "a resumed run is claimable again"
    );
    db.finish_run(run.id, "w1", "paused", None, None, None)
        .await
        .unwrap();

    let cancelled = db
        .transition_run(run.id, "paused", "cancelled")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.state, "cancelled");
    assert!(cancelled.finished_at.is_some());
    assert!(cancelled.finished());
    assert_eq!(cancelled.lease_owner, None);
    assert!(
        db.transition_run(run.id, "paused", "queued")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.transition_run(9999, "queued", "paused")
            .await
            .unwrap()
            .is_none()
    );
    db.close().await;
}

async fn finish_run_only_by_the_lease_owner(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 1).await;
    let run = enqueue(&db, list[0].id).await;
    assert!(
        !db.finish_run(run.id, "w1", "completed", None, None, None)
            .await
            .unwrap(),
        "nobody holds a queued run"
    );
    db.claim_run("w1", now_ms() + 60_000)
        .await
        .unwrap()
        .unwrap();
    db.set_run_control(run.id, Some("cancel")).await.unwrap();
    assert!(
        !db.finish_run(run.id, "w2", "completed", None, None, None)
            .await
            .unwrap()
    );
    assert_eq!(db.run(run.id).await.unwrap().unwrap().state, "running");

    let stats = r#"{"collections":2}"#;
    assert!(
        db.finish_run(
            run.id,
            "w1",
            "partial_failure",
            Some(stats),
            Some(r#"{"pairs":[]}"#),
            Some("one item failed"),
        )
        .await
        .unwrap()
    );
    let row = db.run(run.id).await.unwrap().unwrap();
    assert_eq!(row.state, "partial_failure");
    assert!(row.finished());
    assert_eq!(row.stats.as_deref(), Some(stats));
    assert_eq!(row.report.as_deref(), Some(r#"{"pairs":[]}"#));
    assert_eq!(row.error.as_deref(), Some("one item failed"));
    assert_eq!(
        (row.control, row.lease_owner, row.lease_until),
        (None, None, None)
    );
    assert!(
        row.finished_at
            .is_some_and(|f| f >= row.started_at.unwrap())
    );
    assert!(
        !db.finish_run(run.id, "w1", "completed", None, None, None)
            .await
            .unwrap(),
        "a finished run is no longer held"
    );
    assert_eq!(db.run_stats().await.unwrap(), [stats]);
    db.close().await;
}

async fn an_expired_lease_is_taken_over(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 1).await;
    let run = enqueue(&db, list[0].id).await;
    let first = db
        .claim_run("dead", now_ms() - 1000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.attempts, 1);
    let started = first.started_at.unwrap();

    let taken = db
        .claim_run("alive", now_ms() + 60_000)
        .await
        .unwrap()
        .expect("an expired lease is claimable");
    assert_eq!(taken.id, run.id);
    assert_eq!(taken.lease_owner.as_deref(), Some("alive"));
    assert_eq!(taken.attempts, 2);
    assert_eq!(taken.started_at, Some(started), "first start is kept");
    assert_eq!(taken.state, "running");

    assert_eq!(
        db.renew_lease(run.id, "dead", now_ms() + 60_000, None)
            .await
            .unwrap(),
        None,
        "the old worker lost the run"
    );
    assert!(
        !db.finish_run(run.id, "dead", "failed", None, None, Some("x"))
            .await
            .unwrap()
    );
    assert!(
        db.claim_run("third", now_ms() + 60_000)
            .await
            .unwrap()
            .is_none(),
        "a live lease is not claimable"
    );
    assert!(
        db.finish_run(run.id, "alive", "completed", None, None, None)
            .await
            .unwrap()
    );
    assert_eq!(db.run(run.id).await.unwrap().unwrap().state, "completed");
    db.close().await;
}

/// Four workers with handles of their own claim from 20 queued runs at once: every run
/// is claimed exactly once.
async fn concurrent_workers_claim_each_run_once(fx: Fixture) {
    const RUNS: usize = 20;
    let db = fx.open().await;
    let list = jobs(&db, RUNS).await;
    let mut queued = BTreeSet::new();
    for job in &list {
        queued.insert(enqueue(&db, job.id).await.id);
    }
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let handle = fx.open().await;
        workers.spawn(async move {
            let name = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(run) = handle.claim_run(&name, now_ms() + 60_000).await.unwrap() {
                assert_eq!(run.lease_owner.as_deref(), Some(name.as_str()));
                assert_eq!(run.attempts, 1, "run {} claimed twice", run.id);
                mine.push(run.id);
                tokio::task::yield_now().await;
            }
            handle.close().await;
            mine
        });
    }
    let mut claimed = Vec::new();
    while let Some(mine) = workers.join_next().await {
        claimed.extend(mine.unwrap());
    }
    claimed.sort_unstable();
    assert_eq!(claimed.len(), RUNS, "claimed: {claimed:?}");
    assert_eq!(claimed.into_iter().collect::<BTreeSet<_>>(), queued);
    for id in &queued {
        let row = db.run(*id).await.unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.attempts), ("running", 1));
    }
    db.close().await;
}

async fn run_logs_filter_and_page(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 2).await;
    let run = enqueue(&db, list[0].id).await;
    let other = enqueue(&db, list[1].id).await;
    let lines = [
        ("debug", "connecting to DAV server"),
        ("info", "Disk is fine"),
        ("warn", "DISK almost full"),
        ("error", "write failed: disk full"),
        ("info", "100% done"),
        ("info", "file_a written"),
        ("info", "fileXa written"),
        ("info", r"saved to C:\Temp\x"),
    ];
    for (level, message) in lines {
        db.add_run_log(run.id, level, message).await.unwrap();
    }
    db.add_run_log(other.id, "error", "other run's disk")
        .await
        .unwrap();

    let messages = |rows: Vec<calport_state::RunLogRow>| {
        rows.into_iter().map(|r| r.message).collect::<Vec<_>>()
    };
    let all = db.run_logs(run.id, 0, &[], None, 100).await.unwrap();
    assert_eq!(all.len(), lines.len());
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert!(all.iter().all(|r| r.run_id == run.id && r.at > 0));
    assert_eq!(
        (all[0].level.as_str(), all[3].level.as_str()),
        ("debug", "error")
    );

    assert_eq!(
        messages(
            db.run_logs(run.id, 0, &["warn", "error"], None, 100)
                .await
                .unwrap()
        ),
        ["DISK almost full", "write failed: disk full"]
    );
    assert_eq!(
        messages(db.run_logs(run.id, 0, &["debug"], None, 100).await.unwrap()),
        ["connecting to DAV server"]
    );
    assert!(
        db.run_logs(run.id, 0, &["fatal"], None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A level list is matched by whole names ("info" does not select "inf").
    assert!(
        db.run_logs(run.id, 0, &["inf"], None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        messages(
            db.run_logs(run.id, 0, &[], Some("dIsK"), 100)
                .await
                .unwrap()
        ),
        [
            "Disk is fine",
            "DISK almost full",
            "write failed: disk full"
        ],
        "case-insensitive text search"
    );
    assert_eq!(
        messages(
            db.run_logs(run.id, 0, &["info", "error"], Some("disk"), 100)
                .await
                .unwrap()
        ),
        ["Disk is fine", "write failed: disk full"]
    );
    // LIKE's wildcards in the query are plain text.
    assert_eq!(
        messages(
            db.run_logs(run.id, 0, &[], Some("100%"), 100)
                .await
                .unwrap()
        ),
        ["100% done"]
    );
    assert_eq!(
        messages(
            db.run_logs(run.id, 0, &[], Some("0% d"), 100)
                .await
                .unwrap()
        ),
        ["100% done"]
    );
    assert_eq!(
        messages(
            db.run_logs(run.id, 0, &[], Some("file_a"), 100)
                .await
                .unwrap()
        ),
        ["file_a written"]
    );
    assert_eq!(
        messages(
            db.run_logs(run.id, 0, &[], Some(r"c:\temp\"), 100)
                .await
                .unwrap()
        ),
        [r"saved to C:\Temp\x"]
    );
    assert!(
        db.run_logs(run.id, 0, &[], Some("%"), 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.message.contains('%'))
    );

    // Paging with after and limit.
    let page1 = db.run_logs(run.id, 0, &[], None, 3).await.unwrap();
    assert_eq!(page1.len(), 3);
    let page2 = db
        .run_logs(run.id, page1[2].id, &[], None, 3)
        .await
        .unwrap();
    let page3 = db
        .run_logs(run.id, page2[2].id, &[], None, 3)
        .await
        .unwrap();
    assert_eq!(page3.len(), 2);
    let paged: Vec<_> = page1.into_iter().chain(page2).chain(page3).collect();
    assert_eq!(paged, all);
    assert!(
        db.run_logs(run.id, all.last().unwrap().id, &[], None, 3)
            .await
            .unwrap()
            .is_empty()
    );
    let warn_id = all[2].id;
    assert_eq!(
        messages(
            db.run_logs(run.id, warn_id, &["warn", "error"], Some("disk"), 1)
                .await
                .unwrap()
        ),
        ["write failed: disk full"]
    );
    assert_eq!(
        messages(db.run_logs(other.id, 0, &[], None, 100).await.unwrap()),
        ["other run's disk"]
    );
    db.close().await;
}

async fn webhooks_and_deliveries(fx: Fixture) {
    let db = fx.open().await;
    let list = jobs(&db, 2).await;
    let run = enqueue(&db, list[0].id).await;
    let all_jobs = db
        .create_webhook("https://hooks.example.com/a", None, b"sealed-a")
        .await
        .unwrap();
    let one_job = db
        .create_webhook("https://hooks.example.com/b", Some(list[1].id), b"sealed-b")
        .await
        .unwrap();
    assert_eq!(
        (
            all_jobs.url.as_str(),
            all_jobs.job_id,
            all_jobs.secret.as_slice(),
            all_jobs.enabled
        ),
        ("https://hooks.example.com/a", None, &b"sealed-a"[..], 1)
    );
    assert_eq!(one_job.job_id, Some(list[1].id));
    assert_eq!(
        db.webhooks().await.unwrap(),
        vec![all_jobs.clone(), one_job.clone()]
    );
    assert_eq!(db.webhook(one_job.id).await.unwrap(), Some(one_job.clone()));
    assert_eq!(db.webhook(9999).await.unwrap(), None);
    db.disable_webhook(one_job.id).await.unwrap();
    assert_eq!(db.webhook(one_job.id).await.unwrap().unwrap().enabled, 0);

    assert!(db.take_due_deliveries(10, 60_000).await.unwrap().is_empty());
    assert_eq!(db.pending_deliveries().await.unwrap(), 0);
    let d1 = db
        .enqueue_delivery(all_jobs.id, Some(run.id), "msg_1", r#"{"n":1}"#)
        .await
        .unwrap();
    let d2 = db
        .enqueue_delivery(all_jobs.id, None, "msg_2", r#"{"n":2}"#)
        .await
        .unwrap();
    assert_eq!(
        (
            d1.webhook_id,
            d1.run_id,
            d1.msg_id.as_str(),
            d1.payload.as_str(),
            d1.state.as_str(),
            d1.attempts,
            d1.delivered_at
        ),
        (
            all_jobs.id,
            Some(run.id),
            "msg_1",
            r#"{"n":1}"#,
            "pending",
            0,
            None
        )
    );
    assert!(d1.next_attempt_at.is_some_and(|t| t <= now_ms()));
    assert_eq!(db.pending_deliveries().await.unwrap(), 2);

    let before = now_ms();
    let taken = db.take_due_deliveries(10, 60_000).await.unwrap();
    assert_eq!(
        taken.iter().map(|d| d.id).collect::<Vec<_>>(),
        [d1.id, d2.id]
    );
    assert!(
        taken
            .iter()
            .all(|d| d.next_attempt_at.unwrap() >= before + 60_000)
    );
    assert!(
        db.take_due_deliveries(10, 60_000).await.unwrap().is_empty(),
        "taken deliveries are held"
    );
    assert_eq!(
        db.pending_deliveries().await.unwrap(),
        2,
        "held, still pending"
    );

    db.record_delivery(d1.id, "delivered", Some(200), None, None)
        .await
        .unwrap();
    // A failed attempt due again at once.
    db.record_delivery(
        d2.id,
        "pending",
        Some(503),
        Some("busy"),
        Some(now_ms() - 10),
    )
    .await
    .unwrap();
    let retry = db.take_due_deliveries(10, 60_000).await.unwrap();
    assert_eq!(retry.iter().map(|d| d.id).collect::<Vec<_>>(), [d2.id]);
    assert_eq!(retry[0].attempts, 1);
    db.record_delivery(d2.id, "failed", None, Some("connection refused"), None)
        .await
        .unwrap();
    assert_eq!(db.pending_deliveries().await.unwrap(), 0);
    assert!(db.take_due_deliveries(10, 60_000).await.unwrap().is_empty());

    let listed = db.deliveries(all_jobs.id, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id).collect::<Vec<_>>(),
        [d2.id, d1.id],
        "newest first"
    );
    let (second, first) = (&listed[0], &listed[1]);
    assert_eq!(
        (
            first.state.as_str(),
            first.attempts,
            first.last_status,
            first.last_error.as_deref()
        ),
        ("delivered", 1, Some(200), None)
    );
    assert!(first.delivered_at.is_some());
    assert_eq!(
        (
            second.state.as_str(),
            second.attempts,
            second.last_status,
            second.last_error.as_deref(),
            second.delivered_at,
            second.next_attempt_at
        ),
        ("failed", 2, None, Some("connection refused"), None, None)
    );
    assert_eq!(db.deliveries(all_jobs.id, 1).await.unwrap().len(), 1);
    assert!(db.deliveries(one_job.id, 10).await.unwrap().is_empty());

    // Limits are respected; deliveries go with their webhook; a job takes its hooks.
    for i in 0..3 {
        db.enqueue_delivery(all_jobs.id, None, &format!("m{i}"), "{}")
            .await
            .unwrap();
    }
    assert_eq!(db.take_due_deliveries(2, 1000).await.unwrap().len(), 2);
    assert_eq!(db.take_due_deliveries(2, 1000).await.unwrap().len(), 1);
    assert!(db.delete_webhook(all_jobs.id).await.unwrap());
    assert!(!db.delete_webhook(all_jobs.id).await.unwrap());
    assert!(db.deliveries(all_jobs.id, 10).await.unwrap().is_empty());
    assert_eq!(db.pending_deliveries().await.unwrap(), 0);
    db.delete_job(list[1].id).await.unwrap();
    assert_eq!(db.webhook(one_job.id).await.unwrap(), None);
    assert!(db.webhooks().await.unwrap().is_empty());
    db.close().await;
}

async fn workers_heartbeat_and_leave(fx: Fixture) {
    let db = fx.open().await;
    let start = now_ms();
    assert!(db.workers_since(0).await.unwrap().is_empty());
    db.worker_heartbeat("host:1:100", "host", 1, 0)
        .await
        .unwrap();
    db.worker_heartbeat("host:2:100", "host", 2, 1)
        .await
        .unwrap();
    let first = db.workers_since(start).await.unwrap();
    assert_eq!(
        first.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        ["host:1:100", "host:2:100"]
    );
    assert_eq!(
        (first[1].hostname.as_str(), first[1].pid, first[1].running),
        ("host", 2, 1)
    );
    assert_eq!(first[0].started_at, first[0].heartbeat_at);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    db.worker_heartbeat("host:1:100", "host", 1, 2)
        .await
        .unwrap();
    let again = db.workers_since(start).await.unwrap();
    assert_eq!(again.len(), 2);
    assert_eq!(again[0].running, 2);
    assert_eq!(again[0].started_at, first[0].started_at, "start is kept");
    assert!(again[0].heartbeat_at > first[0].heartbeat_at);
    assert!(
        db.workers_since(now_ms() + 60_000)
            .await
            .unwrap()
            .is_empty(),
        "no heartbeat since"
    );
    let since = again[0].heartbeat_at;
    assert_eq!(
        db.workers_since(since)
            .await
            .unwrap()
            .iter()
            .map(|w| w.id.as_str())
            .collect::<Vec<_>>(),
        ["host:1:100"]
    );

    db.remove_worker("host:1:100").await.unwrap();
    db.remove_worker("not-there").await.unwrap();
    assert_eq!(
        db.workers_since(0)
            .await
            .unwrap()
            .iter()
            .map(|w| w.id.as_str())
            .collect::<Vec<_>>(),
        ["host:2:100"]
    );
    db.close().await;
}

async fn settings_round_trip(fx: Fixture) {
    let db = fx.open().await;
    assert_eq!(db.setting("ui.theme").await.unwrap(), None);
    db.set_setting("ui.theme", "dark").await.unwrap();
    db.set_setting("empty", "").await.unwrap();
    assert_eq!(
        db.setting("ui.theme").await.unwrap().as_deref(),
        Some("dark")
    );
    db.set_setting("ui.theme", "light ü").await.unwrap();
    assert_eq!(
        db.setting("ui.theme").await.unwrap().as_deref(),
        Some("light ü")
    );
    assert_eq!(db.setting("empty").await.unwrap().as_deref(), Some(""));
    db.close().await;

    let db = fx.open().await;
    assert_eq!(
        db.setting("ui.theme").await.unwrap().as_deref(),
        Some("light ü"),
        "settings persist"
    );
    db.close().await;
}
