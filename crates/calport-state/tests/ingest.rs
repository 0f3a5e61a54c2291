//! Pushed changes' records: sources, the inbox queue with its leases, retries and dead
//! letters, event mappings, the audit trail and conflicts. Every test runs on an SQLite
//! file and on a fresh PostgreSQL database.

use std::collections::BTreeSet;

mod common;

use calport_state::{AccountFields, EventRow, Saved, SourceFields, StateDb};
use common::Fixture;

on_both_backends!(
    sources_create_update_key_delete,
    inbox_claims_each_entry_once_in_order,
    inbox_retries_bury_and_requeue,
    mappings_audit_and_conflicts,
);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn account(db: &StateDb) -> i64 {
    match db
        .create_account(&AccountFields {
            name: "dav".into(),
            kind: "dav".into(),
            url: "https://dav.example.com/".into(),
            username: "u".into(),
            secret: None,
        })
        .await
        .unwrap()
    {
        Saved::Ok(row) => row.id,
        Saved::Duplicate => panic!("fresh database"),
    }
}

fn fields(account_id: i64, priority: i64) -> SourceFields {
    SourceFields {
        name: "Contoso".into(),
        account_id,
        calendar: "/alice/calendar/".into(),
        priority,
        conflict: "priority_based".into(),
        enabled: true,
    }
}

async fn source(db: &StateDb, id: &str) {
    let account = match db.accounts().await.unwrap().first() {
        Some(a) => a.id,
        None => account(db).await,
    };
    db.create_source(id, &fields(account, 0), &format!("look{id}"), "hash", None)
        .await
        .unwrap()
        .expect("new source");
}

async fn sources_create_update_key_delete(fx: Fixture) {
    let db = fx.open().await;
    let account = account(&db).await;
    let made = db
        .create_source(
            "contoso",
            &fields(account, 5),
            "lookup01",
            "h1",
            Some("cs1"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((made.priority, made.enabled), (5, 1));
    assert!(
        db.create_source("contoso", &fields(account, 1), "x", "y", None)
            .await
            .unwrap()
            .is_none(),
        "the id is taken"
    );
    assert_eq!(db.sources_by_key("lookup01").await.unwrap().len(), 1);
    let mut changed = fields(account, 9);
    changed.enabled = false;
    let row = db
        .update_source("contoso", &changed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.priority, row.enabled), (9, 0));
    assert!(db.update_source("nope", &changed).await.unwrap().is_none());
    assert!(
        db.set_source_key("contoso", "lookup02", "h2", None)
            .await
            .unwrap()
    );
    let row = db.source("contoso").await.unwrap().unwrap();
    assert_eq!(
        (row.key_lookup.as_str(), row.key_hash.as_str()),
        ("lookup02", "h2")
    );
    assert_eq!(
        row.client_state_hash.as_deref(),
        Some("cs1"),
        "kept when not given"
    );
    assert!(db.sources_by_key("lookup01").await.unwrap().is_empty());
    assert_eq!(
        db.sources_using_account(account).await.unwrap(),
        ["contoso"]
    );
    db.enqueue_inbox("req_1", "contoso", "created", "E1", b"{}")
        .await
        .unwrap();
    assert!(db.delete_source("contoso").await.unwrap());
    assert!(!db.delete_source("contoso").await.unwrap());
    assert!(
        db.inbox_entry("req_1").await.unwrap().is_none(),
        "the inbox goes with it"
    );
}

async fn inbox_claims_each_entry_once_in_order(fx: Fixture) {
    let db = fx.open().await;
    source(&db, "s").await;
    for n in 0..40 {
        db.enqueue_inbox(
            &format!("req_{n:02}"),
            "s",
            "created",
            &format!("E{n}"),
            b"{}",
        )
        .await
        .unwrap();
    }
    let lease = now_ms() + 60_000;
    let first = db.claim_inbox("w1", lease, 10).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(
        ids,
        (0..10).map(|n| format!("req_{n:02}")).collect::<Vec<_>>()
    );
    // Two workers at once never take the same entry.
    let (a, b) = tokio::join!(
        db.claim_inbox("w2", lease, 12),
        db.claim_inbox("w3", lease, 12)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut seen = BTreeSet::new();
    for e in first.iter().chain(&a).chain(&b) {
        assert!(seen.insert(e.id), "entry {} claimed twice", e.request_id);
    }
    assert_eq!(seen.len(), 34);
    // Applied entries are not claimed again; a released lease is.
    for e in &first {
        db.finish_inbox(e, "create").await.unwrap();
    }
    db.release_inbox_leases("w2").await.unwrap();
    let again = db.claim_inbox("w4", lease, 100).await.unwrap();
    let expected: BTreeSet<i64> = a.iter().map(|e| e.id).collect();
    let got: BTreeSet<i64> = again
        .iter()
        .map(|e| e.id)
        .filter(|id| expected.contains(id))
        .collect();
    assert_eq!(got, expected, "w2's entries are free again");
    assert_eq!(again.len(), 12 + 6, "w2's and the never-claimed ones");
    // An expired lease is taken over.
    let expired = db.claim_inbox("w5", now_ms() - 1, 100).await.unwrap();
    assert!(expired.is_empty(), "everything is leased");
    db.renew_inbox_leases("w4", now_ms() - 1).await.unwrap();
    let taken = db.claim_inbox("w6", lease, 100).await.unwrap();
    assert_eq!(taken.len(), 18);
    let counts = db.inbox_counts().await.unwrap();
    assert_eq!(
        counts,
        [("done".to_owned(), 10), ("pending".to_owned(), 30)]
    );
}

async fn inbox_retries_bury_and_requeue(fx: Fixture) {
    let db = fx.open().await;
    source(&db, "s").await;
    db.enqueue_inbox("req_r", "s", "updated", "E1", b"{\"id\":\"E1\"}")
        .await
        .unwrap();
    let entry = db
        .claim_inbox("w", now_ms() + 60_000, 1)
        .await
        .unwrap()
        .remove(0);
    let later = now_ms() + 3_600_000;
    assert_eq!(
        db.retry_inbox(entry.id, "500 from server", later)
            .await
            .unwrap(),
        1
    );
    assert!(
        db.claim_inbox("w", now_ms() + 60_000, 1)
            .await
            .unwrap()
            .is_empty(),
        "not due before its retry time"
    );
    let entry = db.inbox_entry("req_r").await.unwrap().unwrap();
    assert_eq!(
        (entry.attempts, entry.last_error.as_deref()),
        (1, Some("500 from server"))
    );
    db.bury_inbox(&entry, "gave up").await.unwrap();
    let entry = db.inbox_entry("req_r").await.unwrap().unwrap();
    assert_eq!((entry.state.as_str(), entry.attempts), ("dead", 2));
    let letters = db.dead_letters(Some("open")).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (
            letters[0].source.as_str(),
            letters[0].uid.as_str(),
            letters[0].href.as_deref()
        ),
        ("inbox", "req_r", Some("E1"))
    );
    assert_eq!(letters[0].payload.as_deref(), Some(&b"{\"id\":\"E1\"}"[..]));
    // Retried by a person: due at once, attempts reset; once applied, the letter goes.
    assert!(db.requeue_inbox("req_r").await.unwrap());
    let entry = db
        .claim_inbox("w", now_ms() + 60_000, 5)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((entry.state.as_str(), entry.attempts), ("pending", 0));
    db.finish_inbox(&entry, "update").await.unwrap();
    assert!(db.dead_letters(None).await.unwrap().is_empty());
    // Burying twice keeps one letter.
    let entry = db.inbox_entry("req_r").await.unwrap().unwrap();
    db.bury_inbox(&entry, "again").await.unwrap();
    db.bury_inbox(&entry, "and again").await.unwrap();
    assert_eq!(db.dead_letters(None).await.unwrap().len(), 1);
}

async fn mappings_audit_and_conflicts(fx: Fixture) {
    let db = fx.open().await;
    source(&db, "a").await;
    source(&db, "b").await;
    let row = EventRow {
        source_id: "a".into(),
        event_id: "M1".into(),
        ical_uid: Some("ICAL".into()),
        caldav_uid: Some("calport-m365-x".into()),
        href: Some("/alice/calendar/x.ics".into()),
        etag: Some("\"1\"".into()),
        modified_at: Some(100),
        status: "active".into(),
        payload: Some(b"{}".to_vec()),
        ..EventRow::default()
    };
    db.save_ingest_event(&row).await.unwrap();
    let mut changed = row.clone();
    changed.etag = Some("\"2\"".into());
    changed.modified_at = Some(200);
    db.save_ingest_event(&changed).await.unwrap();
    let got = db.ingest_event("a", "M1").await.unwrap().unwrap();
    assert_eq!(
        (got.etag.as_deref(), got.modified_at),
        (Some("\"2\""), Some(200))
    );
    db.save_ingest_event(&EventRow {
        source_id: "b".into(),
        event_id: "B1".into(),
        ical_uid: Some("ICAL".into()),
        status: "superseded".into(),
        winner: Some("a".into()),
        ..EventRow::default()
    })
    .await
    .unwrap();
    db.save_ingest_event(&EventRow {
        source_id: "a".into(),
        event_id: "X1".into(),
        series_master_id: Some("M1".into()),
        status: "active".into(),
        ..EventRow::default()
    })
    .await
    .unwrap();
    assert_eq!(db.ingest_events_by_ical_uid("ICAL").await.unwrap().len(), 2);
    let parts = db.ingest_series_parts("a", "M1").await.unwrap();
    assert_eq!(
        parts
            .iter()
            .map(|p| p.event_id.as_str())
            .collect::<Vec<_>>(),
        ["X1"]
    );
    assert_eq!(
        db.ingest_events(Some("a"), None, 10).await.unwrap().len(),
        2
    );
    assert_eq!(
        db.ingest_events(None, Some("superseded"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(db.ingest_events(None, None, 1).await.unwrap().len(), 1);
    let counts = db.source_counts("a").await.unwrap();
    assert_eq!(counts.events, [("active".to_owned(), 2)]);

    for action in ["create", "update", "skip"] {
        db.add_ingest_audit("req_1", "a", "M1", action, "why")
            .await
            .unwrap();
    }
    db.add_ingest_audit("req_2", "b", "B1", "skip", "lower")
        .await
        .unwrap();
    let all = db.ingest_audit(None, None, None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["skip", "skip", "update", "create"]
    );
    assert_eq!(
        db.ingest_audit(Some("a"), None, None, None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        db.ingest_audit(None, None, Some("req_2"), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.ingest_audit(None, Some("M1"), None, Some("skip"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.ingest_audit_counts().await.unwrap(),
        [
            ("create".to_owned(), 1),
            ("skip".to_owned(), 2),
            ("update".to_owned(), 1)
        ]
    );

    let id = db
        .park_ingest_conflict("b", "B1", "ICAL", ("a", "M1"), "req_2")
        .await
        .unwrap();
    let again = db
        .park_ingest_conflict("b", "B1", "ICAL", ("a", "M1"), "req_3")
        .await
        .unwrap();
    assert_eq!(id, again, "one conflict per event");
    assert_eq!(db.ingest_conflicts(Some("open")).await.unwrap().len(), 1);
    assert!(db.resolve_ingest_conflict(id, "incoming").await.unwrap());
    assert!(
        !db.resolve_ingest_conflict(id, "existing").await.unwrap(),
        "only open ones"
    );
    assert_eq!(
        db.ingest_conflict_of("b", "B1")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(id)
    );
    assert!(db.ingest_conflict_of("a", "M1").await.unwrap().is_none());
    let c = db.ingest_conflict(id).await.unwrap().unwrap();
    assert_eq!(
        (
            c.state.as_str(),
            c.resolution.as_deref(),
            c.request_id.as_str()
        ),
        ("resolved", Some("incoming"), "req_3")
    );
}
