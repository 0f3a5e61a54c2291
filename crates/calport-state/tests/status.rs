//! The status database round-trips what the engine stores. Every test runs twice: on an
//! SQLite file and on a fresh PostgreSQL database (which must be reachable: see
//! `calport_state::testing`).

use std::time::Duration;

use calport_core::{Etag, ItemRef};
mod common;

use calport_state::{
    Backend, ConflictRecord, ConflictSide, FailureRecord, ItemStatus, SideState, StateDb,
};
use common::Fixture;

on_both_backends!(
    pairs_items_and_failures_survive_reopening,
    pairs_tokens_and_markers,
    items_upsert_and_delete,
    failures_count_attempts_and_clear,
    conflicts_park_refresh_resolve_and_clear,
    conflicts_list_by_job,
    discovery_state_round_trips,
    concurrent_handles_share_a_pair,
);

fn side(href: &str, etag: Option<&str>, hash: Option<&str>) -> SideState {
    SideState {
        href: ItemRef::new(href),
        etag: etag.map(Etag::new),
        hash: hash.map(str::to_owned),
    }
}

fn item(uid: &str, span: Option<(i64, Option<i64>)>) -> ItemStatus {
    ItemStatus {
        uid: uid.into(),
        kind: "event".into(),
        src: Some(side(
            &format!("/a/cal/{uid}.ics"),
            Some("\"s\""),
            Some("hash"),
        )),
        dst: Some(side(&format!("/b/cal/{uid}.ics"), None, None)),
        span,
    }
}

fn failure(src_ref: &str, uid: &str, reason: &str) -> FailureRecord {
    FailureRecord {
        src_ref: ItemRef::new(src_ref),
        src_etag: Some(Etag::new("\"b\"")),
        uid: uid.into(),
        class: "item".into(),
        reason: reason.into(),
        attempts: 0,
    }
}

fn conflict_side(href: &str, etag: Option<&str>, body: &[u8]) -> ConflictSide {
    ConflictSide {
        href: ItemRef::new(href),
        etag: etag.map(Etag::new),
        body: body.to_vec(),
    }
}

fn conflict(
    pair_id: i64,
    uid: &str,
    a: Option<ConflictSide>,
    b: Option<ConflictSide>,
) -> ConflictRecord {
    ConflictRecord {
        id: 0,
        pair_id,
        job: String::new(),
        a_collection: String::new(),
        b_collection: String::new(),
        uid: uid.into(),
        kind: "event".into(),
        reason: "changed on both sides".into(),
        a,
        b,
        base_a_hash: Some("base-a".into()),
        base_b_hash: None,
        resolution: None,
        created_at: 0,
        updated_at: 0,
    }
}

async fn pairs_items_and_failures_survive_reopening(fx: Fixture) {
    let db = fx.open().await;
    let pair = db.pair("job", "/a/cal/", "/b/cal/").await.unwrap();
    assert_eq!(pair.src_token, None);
    let same = db.pair("job", "/a/cal/", "/b/cal/").await.unwrap();
    assert_eq!(pair.id, same.id, "a pair is created once");

    let item = ItemStatus {
        uid: "u1".into(),
        kind: "event".into(),
        src: Some(side("/a/cal/1.ics", Some("\"e1\""), Some("h1"))),
        dst: Some(side("/b/cal/u1.ics", None, Some("h1"))),
        span: Some((1_700_000_000, None)),
    };
    db.upsert_item(pair.id, &item).await.unwrap();
    let mut changed = item.clone();
    changed.dst = Some(side("/b/cal/u1.ics", Some("\"x\""), None));
    db.upsert_item(pair.id, &changed).await.unwrap();
    db.set_tokens(pair.id, Some("tok-a"), None).await.unwrap();
    db.record_failure(pair.id, &failure("/a/cal/bad.ics", "", "no UID"))
        .await
        .unwrap();
    db.record_failure(pair.id, &failure("/a/cal/bad.ics", "", "no UID"))
        .await
        .unwrap();
    db.close().await;

    let db = fx.open().await;
    let pair = db
        .find_pair("job", "/a/cal/", "/b/cal/")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pair.src_token.as_deref(), Some("tok-a"));
    assert_eq!(db.items(pair.id).await.unwrap(), vec![changed]);
    let failures = db.failures(pair.id).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].attempts, 2,
        "a repeated failure counts attempts"
    );
    db.clear_failures(pair.id, &ItemRef::new("/a/cal/bad.ics"))
        .await
        .unwrap();
    assert!(db.failures(pair.id).await.unwrap().is_empty());
    db.delete_item(pair.id, "u1").await.unwrap();
    assert!(db.items(pair.id).await.unwrap().is_empty());
    assert!(db.find_pair("job", "/x/", "/y/").await.unwrap().is_none());
    db.close().await;
}

async fn pairs_tokens_and_markers(fx: Fixture) {
    let db = fx.open().await;
    assert!(db.find_pair("job", "/a/", "/b/").await.unwrap().is_none());
    let ab = db.pair("job", "/a/", "/b/").await.unwrap();
    let ba = db.pair("job", "/b/", "/a/").await.unwrap();
    let other_job = db.pair("other", "/a/", "/b/").await.unwrap();
    assert_ne!(ab.id, ba.id, "direction is part of the key");
    assert_ne!(ab.id, other_job.id, "the job is part of the key");
    assert_eq!(
        (ab.src_token, ab.dst_token, ab.src_marker, ab.dst_marker),
        (None, None, None, None)
    );

    db.set_tokens(ab.id, Some("s1"), Some("d1")).await.unwrap();
    let got = db.find_pair("job", "/a/", "/b/").await.unwrap().unwrap();
    assert_eq!(got.src_token.as_deref(), Some("s1"));
    assert_eq!(got.dst_token.as_deref(), Some("d1"));
    assert_eq!(got.src_marker, None);

    db.set_sync_point(ab.id, (Some("s2"), Some("ctag-a")), (None, Some("ctag-b")))
        .await
        .unwrap();
    let got = db.pair("job", "/a/", "/b/").await.unwrap();
    assert_eq!(got.id, ab.id);
    assert_eq!(got.src_token.as_deref(), Some("s2"));
    assert_eq!(got.src_marker.as_deref(), Some("ctag-a"));
    assert_eq!(got.dst_token, None, "a sync point replaces the tokens");
    assert_eq!(got.dst_marker.as_deref(), Some("ctag-b"));

    // set_tokens leaves the markers alone.
    db.set_tokens(ab.id, None, Some("d3")).await.unwrap();
    let got = db.find_pair("job", "/a/", "/b/").await.unwrap().unwrap();
    assert_eq!(got.src_token, None);
    assert_eq!(got.dst_token.as_deref(), Some("d3"));
    assert_eq!(got.src_marker.as_deref(), Some("ctag-a"));

    let untouched = db.find_pair("job", "/b/", "/a/").await.unwrap().unwrap();
    assert_eq!(untouched, ba);
    db.close().await;
}

async fn items_upsert_and_delete(fx: Fixture) {
    let db = fx.open().await;
    let pair = db.pair("job", "/a/", "/b/").await.unwrap().id;
    let other = db.pair("job", "/a/", "/c/").await.unwrap().id;

    // Spans: none, open-ended, bounded, before 1970, and the extremes of i64.
    let mut items = vec![
        item("b", None),
        item("B", Some((1_700_000_000, None))),
        item("a", Some((1_700_000_000, Some(1_700_003_600)))),
        item("old", Some((-86_400, Some(0)))),
        item("wide", Some((i64::MIN, Some(i64::MAX)))),
    ];
    // One side missing, etag and hash unknown.
    items.push(ItemStatus {
        uid: "only-src".into(),
        kind: "todo".into(),
        src: Some(side("/a/only.ics", None, None)),
        dst: None,
        span: None,
    });
    items.push(ItemStatus {
        uid: "only-dst".into(),
        kind: "card".into(),
        src: None,
        dst: Some(side("/b/only.vcf", Some("W/\"1\""), Some("h"))),
        span: None,
    });
    for item in &items {
        db.upsert_item(pair, item).await.unwrap();
    }
    db.upsert_item(other, &item("elsewhere", None))
        .await
        .unwrap();

    // Byte order, as SQLite's BINARY collation: upper case before lower case.
    items.sort_by(|x, y| x.uid.as_bytes().cmp(y.uid.as_bytes()));
    let got = db.items(pair).await.unwrap();
    assert_eq!(
        got.iter().map(|i| i.uid.as_str()).collect::<Vec<_>>(),
        ["B", "a", "b", "old", "only-dst", "only-src", "wide"]
    );
    assert_eq!(got, items);

    // Replacing a row replaces every column, the span included.
    let mut changed = item("a", None);
    changed.kind = "journal".into();
    changed.src = None;
    db.upsert_item(pair, &changed).await.unwrap();
    let mut changed_b = item("B", Some((5, Some(6))));
    changed_b.dst = Some(side("/b/cal/B2.ics", Some("\"2\""), Some("h2")));
    db.upsert_item(pair, &changed_b).await.unwrap();
    let got = db.items(pair).await.unwrap();
    assert_eq!(got.len(), items.len(), "an upsert does not add a row");
    assert_eq!(got.iter().find(|i| i.uid == "a"), Some(&changed));
    assert_eq!(got.iter().find(|i| i.uid == "B"), Some(&changed_b));

    db.delete_item(pair, "a").await.unwrap();
    db.delete_item(pair, "not-there").await.unwrap();
    let got = db.items(pair).await.unwrap();
    assert_eq!(got.len(), items.len() - 1);
    assert!(got.iter().all(|i| i.uid != "a"));
    assert_eq!(
        db.items(other).await.unwrap(),
        vec![item("elsewhere", None)],
        "pairs do not see each other's items"
    );
    db.delete_item(other, "B").await.unwrap();
    assert_eq!(db.items(pair).await.unwrap().len(), items.len() - 1);
    db.close().await;
}

async fn failures_count_attempts_and_clear(fx: Fixture) {
    let db = fx.open().await;
    let pair = db.pair("job", "/a/", "/b/").await.unwrap().id;
    let other = db.pair("job2", "/a/", "/b/").await.unwrap().id;

    db.record_failure(pair, &failure("/a/z.ics", "", "no UID"))
        .await
        .unwrap();
    let mut again = failure("/a/z.ics", "", "server said 500");
    again.class = "transient".into();
    again.src_etag = None;
    db.record_failure(pair, &again).await.unwrap();
    db.record_failure(pair, &again).await.unwrap();
    // The UID is part of the key: a member holding two UIDs fails twice.
    db.record_failure(pair, &failure("/a/two.ics", "u2", "refused"))
        .await
        .unwrap();
    db.record_failure(pair, &failure("/a/two.ics", "u1", "refused"))
        .await
        .unwrap();
    db.record_failure(other, &failure("/a/z.ics", "", "elsewhere"))
        .await
        .unwrap();

    let got = db.failures(pair).await.unwrap();
    let keys: Vec<_> = got
        .iter()
        .map(|f| (f.src_ref.as_str(), f.uid.as_str(), f.attempts))
        .collect();
    assert_eq!(
        keys,
        [
            ("/a/two.ics", "u1", 1),
            ("/a/two.ics", "u2", 1),
            ("/a/z.ics", "", 3)
        ]
    );
    let z = &got[2];
    assert_eq!(
        z.class, "transient",
        "the latest failure replaces the record"
    );
    assert_eq!(z.reason, "server said 500");
    assert_eq!(z.src_etag, None);

    db.clear_failures(pair, &ItemRef::new("/a/two.ics"))
        .await
        .unwrap();
    let got = db.failures(pair).await.unwrap();
    assert_eq!(got.len(), 1, "clearing a member clears all its UIDs");
    assert_eq!(got[0].src_ref.as_str(), "/a/z.ics");
    assert_eq!(db.failures(other).await.unwrap()[0].attempts, 1);
    db.clear_failures(pair, &ItemRef::new("/a/z.ics"))
        .await
        .unwrap();
    assert!(db.failures(pair).await.unwrap().is_empty());
    assert_eq!(db.failures(other).await.unwrap().len(), 1);
    db.close().await;
}

/// Lets the millisecond clock move on, so a changed `updated_at` is visible.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

async fn conflicts_park_refresh_resolve_and_clear(fx: Fixture) {
    let db = fx.open().await;
    let pair = db.pair("job", "/a/cal/", "/b/cal/").await.unwrap().id;

    // Bodies are bytes: not necessarily UTF-8, NULs included.
    let a = conflict_side(
        "/a/cal/1.ics",
        Some("\"a1\""),
        b"BEGIN:VCALENDAR\r\n\xff\x00end",
    );
    let b = conflict_side("/b/cal/1.ics", None, b"");
    let parked = conflict(pair, "u1", Some(a.clone()), Some(b.clone()));
    let id = db.park_conflict(&parked).await.unwrap();
    let got = db.conflict(id).await.unwrap().expect("parked");
    assert_eq!(got.id, id);
    assert_eq!(got.pair_id, pair);
    assert_eq!(got.job, "job");
    assert_eq!(got.a_collection, "/a/cal/");
    assert_eq!(got.b_collection, "/b/cal/");
    assert_eq!(got.a.as_ref(), Some(&a));
    assert_eq!(got.b.as_ref(), Some(&b));
    assert_eq!(got.base_a_hash.as_deref(), Some("base-a"));
    assert_eq!(got.base_b_hash, None);
    assert_eq!(got.resolution, None);
    assert!(got.created_at > 0);
    assert_eq!(got.created_at, got.updated_at);
    let first = got;

    assert!(db.resolve_conflict(id, "b").await.unwrap());
    assert!(
        !db.resolve_conflict(id + 1000, "a").await.unwrap(),
        "no such conflict"
    );
    assert_eq!(db.conflict(id + 1000).await.unwrap(), None);

    // Parked again with the same versions (b's etag is NULL on both: NULL-safe compare):
    // the resolution stands and the row keeps its times; the rest is refreshed.
    tick().await;
    let mut same = parked.clone();
    same.reason = "still changed on both sides".into();
    same.a = Some(conflict_side("/a/cal/1.ics", Some("\"a1\""), b"refetched"));
    same.base_b_hash = Some("base-b".into());
    assert_eq!(db.park_conflict(&same).await.unwrap(), id, "same row");
    let got = db.conflict(id).await.unwrap().unwrap();
    assert_eq!(got.resolution.as_deref(), Some("b"));
    assert_eq!(got.reason, "still changed on both sides");
    assert_eq!(got.a.as_ref().unwrap().body, b"refetched");
    assert_eq!(got.base_b_hash.as_deref(), Some("base-b"));
    assert_eq!(
        (got.created_at, got.updated_at),
        (first.created_at, first.updated_at)
    );

    // Same etags but a side moved to another ref: the resolution is dropped, the versions
    // (etags) did not change, so neither did updated_at.
    let mut moved = same.clone();
    moved.b = Some(conflict_side("/b/cal/moved.ics", None, b""));
    db.park_conflict(&moved).await.unwrap();
    let got = db.conflict(id).await.unwrap().unwrap();
    assert_eq!(got.resolution, None);
    assert_eq!(got.updated_at, first.updated_at);
    assert_eq!(got.b.as_ref().unwrap().href.as_str(), "/b/cal/moved.ics");

    // A new version on one side: resolution dropped, updated_at moves, created_at stays.
    assert!(db.resolve_conflict(id, "both").await.unwrap());
    tick().await;
    let mut edited = moved.clone();
    edited.b = Some(conflict_side("/b/cal/moved.ics", Some("\"b2\""), b"new"));
    assert_eq!(db.park_conflict(&edited).await.unwrap(), id);
    let got = db.conflict(id).await.unwrap().unwrap();
    assert_eq!(got.resolution, None);
    assert!(got.updated_at > first.updated_at);
    assert_eq!(got.created_at, first.created_at);
    let edited_at = got.updated_at;

    // Deleted on one side (no ref, no etag, no body): a change too.
    assert!(db.resolve_conflict(id, "a").await.unwrap());
    tick().await;
    let mut deleted = edited.clone();
    deleted.b = None;
    db.park_conflict(&deleted).await.unwrap();
    let got = db.conflict(id).await.unwrap().unwrap();
    assert_eq!(got.b, None);
    assert_eq!(got.resolution, None);
    assert!(got.updated_at > edited_at);

    // ...and parked again while still deleted: both sides unchanged, resolution kept.
    assert!(db.resolve_conflict(id, "a").await.unwrap());
    db.park_conflict(&deleted).await.unwrap();
    assert_eq!(
        db.conflict(id)
            .await
            .unwrap()
            .unwrap()
            .resolution
            .as_deref(),
        Some("a")
    );

    let second = db
        .park_conflict(&conflict(pair, "u2", None, Some(b.clone())))
        .await
        .unwrap();
    assert_ne!(second, id);
    let listed = db.pair_conflicts(pair).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|c| (c.id, c.uid.as_str()))
            .collect::<Vec<_>>(),
        [(id, "u1"), (second, "u2")]
    );
    assert_eq!(listed[1].a, None);

    db.clear_conflict(pair, "u1").await.unwrap();
    db.clear_conflict(pair, "not-there").await.unwrap();
    assert_eq!(db.conflict(id).await.unwrap(), None);
    assert_eq!(
        db.pair_conflicts(pair)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [second]
    );
    db.close().await;
}

async fn conflicts_list_by_job(fx: Fixture) {
    let db = fx.open().await;
    let p1 = db.pair("job1", "/a/", "/b/").await.unwrap().id;
    let p2 = db.pair("job2", "/a/", "/b/").await.unwrap().id;
    let p3 = db.pair("job1", "/c/", "/d/").await.unwrap().id;
    let body = conflict_side("/a/x.ics", Some("\"1\""), b"x");
    let c1 = db
        .park_conflict(&conflict(p1, "x", Some(body.clone()), None))
        .await
        .unwrap();
    let c2 = db
        .park_conflict(&conflict(p2, "x", Some(body.clone()), None))
        .await
        .unwrap();
    let c3 = db
        .park_conflict(&conflict(p3, "y", None, Some(body.clone())))
        .await
        .unwrap();

    let ids = |list: Vec<ConflictRecord>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(db.conflicts(None).await.unwrap()), [c1, c2, c3]);
    assert_eq!(ids(db.conflicts(Some("job1")).await.unwrap()), [c1, c3]);
    assert_eq!(ids(db.conflicts(Some("job2")).await.unwrap()), [c2]);
    assert!(db.conflicts(Some("nope")).await.unwrap().is_empty());
    let listed = db.conflicts(Some("job1")).await.unwrap();
    assert_eq!(listed[1].job, "job1");
    assert_eq!(listed[1].a_collection, "/c/");
    assert_eq!(listed[1].b_collection, "/d/");
    assert_eq!(ids(db.pair_conflicts(p2).await.unwrap()), [c2]);
    db.close().await;
}

async fn discovery_state_round_trips(fx: Fixture) {
    let db = fx.open().await;
    assert_eq!(db.discovery_state("alice@dav").await.unwrap(), None);
    db.set_discovery_state("alice@dav", r#"{"v":1}"#)
        .await
        .unwrap();
    db.set_discovery_state("bob@dav", "").await.unwrap();
    assert_eq!(
        db.discovery_state("alice@dav").await.unwrap().as_deref(),
        Some(r#"{"v":1}"#)
    );
    db.set_discovery_state("alice@dav", r#"{"v":2,"homes":["ü"]}"#)
        .await
        .unwrap();
    assert_eq!(
        db.discovery_state("alice@dav").await.unwrap().as_deref(),
        Some(r#"{"v":2,"homes":["ü"]}"#)
    );
    assert_eq!(
        db.discovery_state("bob@dav").await.unwrap().as_deref(),
        Some("")
    );
    db.close().await;
}

/// Two handles (as two worker processes would have) on one database: they agree on the
/// pair, their upserts of different items of it all land, and failures of one member
/// recorded by both are all counted.
async fn concurrent_handles_share_a_pair(fx: Fixture) {
    const PER_HANDLE: usize = 40;
    let one = fx.open().await;
    let two = fx.open().await;
    let (p1, p2) = tokio::join!(one.pair("job", "/a/", "/b/"), two.pair("job", "/a/", "/b/"));
    let pair = p1.unwrap().id;
    assert_eq!(p2.unwrap().id, pair, "both handles get the one pair");

    let mut tasks = tokio::task::JoinSet::new();
    for (n, db) in [(1, one.clone()), (2, two.clone())] {
        for i in 0..PER_HANDLE {
            let db = db.clone();
            tasks.spawn(async move {
                let uid = format!("h{n}-{i:03}");
                db.upsert_item(pair, &item(&uid, Some((i as i64, None))))
                    .await
                    .unwrap();
                // Everyone also rewrites one shared row and counts one shared failure.
                db.upsert_item(pair, &item("shared", None)).await.unwrap();
                db.record_failure(pair, &failure("/a/bad.ics", "", "no UID"))
                    .await
                    .unwrap();
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }

    for db in [&one, &two] {
        let items = db.items(pair).await.unwrap();
        assert_eq!(items.len(), 2 * PER_HANDLE + 1);
        for n in [1, 2] {
            for i in 0..PER_HANDLE {
                let uid = format!("h{n}-{i:03}");
                let got = items
                    .iter()
                    .find(|it| it.uid == uid)
                    .expect("every upsert lands");
                assert_eq!(got, &item(&uid, Some((i as i64, None))));
            }
        }
        let failures = db.failures(pair).await.unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            failures[0].attempts,
            2 * PER_HANDLE as i64,
            "no lost update"
        );
    }
    one.close().await;
    two.close().await;
}

/// Workers starting together on a new database migrate it once between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_workers_starting_together_migrate_once() {
    let fx = Fixture::postgres().await;
    let mut starting = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let url = fx.url.clone();
        starting.spawn(async move { StateDb::connect(&url).await });
    }
    let mut dbs = Vec::new();
    while let Some(db) = starting.join_next().await {
        dbs.push(db.unwrap().unwrap());
    }
    let pair = dbs[0].pair("job", "/a/", "/b/").await.unwrap();
    for db in &dbs {
        assert_eq!(db.backend(), Backend::Postgres);
        assert_eq!(
            db.find_pair("job", "/a/", "/b/").await.unwrap(),
            Some(pair.clone())
        );
    }
    for db in &dbs {
        db.close().await;
    }
}
