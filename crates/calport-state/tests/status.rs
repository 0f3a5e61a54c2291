//! The status database round-trips what the engine stores, on a real SQLite file.

use calport_core::{Etag, ItemRef};
use calport_state::{FailureRecord, ItemStatus, SideState, StateDb};

fn side(href: &str, etag: Option<&str>, hash: Option<&str>) -> SideState {
    SideState {
        href: ItemRef::new(href),
        etag: etag.map(Etag::new),
        hash: hash.map(str::to_owned),
    }
}

#[tokio::test]
async fn pairs_items_and_failures_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let db = StateDb::open(&path).await.unwrap();
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
    db.record_failure(
        pair.id,
        &FailureRecord {
            src_ref: ItemRef::new("/a/cal/bad.ics"),
            src_etag: Some(Etag::new("\"b\"")),
            uid: String::new(),
            class: "item".into(),
            reason: "no UID".into(),
            attempts: 0,
        },
    )
    .await
    .unwrap();
    db.record_failure(
        pair.id,
        &FailureRecord {
            src_ref: ItemRef::new("/a/cal/bad.ics"),
            src_etag: Some(Etag::new("\"b\"")),
            uid: String::new(),
            class: "item".into(),
            reason: "no UID".into(),
            attempts: 0,
        },
    )
    .await
    .unwrap();
    db.close().await;

    let db = StateDb::open(&path).await.unwrap();
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
}
