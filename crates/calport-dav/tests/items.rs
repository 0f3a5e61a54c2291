//! Writing, listing and fetching items on real Radicale and Xandikos.

mod common;

use calport_core::{CollectionInfo, CollectionKind, ErrorClass, Etag, ItemRef, Store, StoreError};
use calport_dav::DavStore;
use calport_testkit::{DavServer, ServerKind};
use common::*;

async fn writes_with_preconditions(kind: ServerKind) {
    let server = DavServer::start(kind).await.unwrap();
    let store = store(&server);
    let cal = default_calendar(&server, &store).await;
    let before = store.request_stats();

    let created = store
        .create(&cal, "ev1.ics", event("ev1", "First").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        created.href.as_str(),
        format!("{}ev1.ics", server.calendar_path())
    );
    let etag1 = created
        .etag
        .clone()
        .expect("both servers send an ETag on PUT");
    let create_stats = store.request_stats().since(&before);
    assert_eq!(create_stats.requests, 1, "{create_stats:?}");

    // Creating the same name again fails on the precondition, not silently.
    let again = store
        .create(&cal, "ev1.ics", event("ev1", "Again").as_bytes())
        .await
        .unwrap_err();
    assert!(
        matches!(again, StoreError::PreconditionFailed { .. }),
        "{again:?}"
    );
    assert_eq!(again.class(), ErrorClass::Item);

    let updated = store
        .update(
            &cal,
            &created.href,
            &etag1,
            event("ev1", "Second").as_bytes(),
        )
        .await
        .unwrap();
    let etag2 = updated.etag.clone().unwrap();
    assert_ne!(etag1, etag2);
    let stale = store
        .update(
            &cal,
            &created.href,
            &etag1,
            event("ev1", "Third").as_bytes(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, StoreError::PreconditionFailed { .. }),
        "{stale:?}"
    );
    let (_, body) = server.get(created.href.as_str()).await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("SUMMARY:Second"));

    let stale_delete = store.delete(&cal, &created.href, &etag1).await.unwrap_err();
    assert!(matches!(
        stale_delete,
        StoreError::PreconditionFailed { .. }
    ));
    store.delete(&cal, &created.href, &etag2).await.unwrap();
    // Already gone counts as deleted.
    store.delete(&cal, &created.href, &etag2).await.unwrap();
    assert!(
        server
            .members(server.calendar_path())
            .await
            .unwrap()
            .is_empty()
    );

    // An update of something that vanished is an item error, never fatal.
    let gone = store
        .update(&cal, &created.href, &etag2, event("ev1", "Back").as_bytes())
        .await
        .unwrap_err();
    assert_eq!(gone.class(), ErrorClass::Item, "{gone:?}");
}

#[tokio::test]
async fn radicale_writes() {
    writes_with_preconditions(ServerKind::Radicale).await;
}

#[tokio::test]
async fn xandikos_writes() {
    writes_with_preconditions(ServerKind::Xandikos).await;
}

#[tokio::test]
async fn names_are_percent_encoded() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let store = store(&server);
    let book = collection(&store, server.addressbook_path()).await;
    let created = store
        .create(
            &book,
            "urn:uuid:a b.vcf",
            vcard("urn:uuid:ab", "Ann Bee").as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(
        created.href.as_str(),
        format!("{}urn%3Auuid%3Aa%20b.vcf", server.addressbook_path())
    );
    // Xandikos lists it as a bare `urn:uuid:a b.vcf`-like href; it still resolves.
    let listed = store.changes(&book, None).await.unwrap();
    assert_eq!(listed.changed.len(), 1);
    let fetched = store
        .fetch(&book, std::slice::from_ref(&created.href))
        .await
        .unwrap();
    let item = fetched[0].as_ref().unwrap();
    assert_eq!(item.href, created.href);
    assert!(String::from_utf8_lossy(&item.body).contains("FN:Ann Bee"));
    // The listed href and ours name the same resource: an update through it works.
    let through_listing = &listed.changed[0];
    store
        .update(
            &book,
            &through_listing.href,
            &through_listing.etag,
            vcard("urn:uuid:ab", "Ann Bee-Cee").as_bytes(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn radicale_refuses_colons_even_encoded() {
    let server = DavServer::start(ServerKind::Radicale).await.unwrap();
    let store = store(&server);
    let book = {
        server.create_default_collections().await.unwrap();
        collection(&store, server.addressbook_path()).await
    };
    assert_eq!(book.kind, CollectionKind::AddressBook);
    let err = store
        .create(&book, "urn:uuid:1.vcf", vcard("urn:uuid:1", "X").as_bytes())
        .await
        .unwrap_err();
    match &err {
        StoreError::Rejected { status: 400, .. } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Item);
}

async fn incremental_changes(kind: ServerKind) {
    let server = DavServer::start(kind).await.unwrap();
    let store = store(&server);
    let cal = default_calendar(&server, &store).await;
    assert!(cal.supports_sync);
    let mut etags = Vec::new();
    for i in 0..3 {
        let name = format!("c{i}.ics");
        let out = store
            .create(&cal, &name, event(&format!("c{i}"), "x").as_bytes())
            .await
            .unwrap();
        etags.push((out.href, out.etag.unwrap()));
    }

    let before = store.request_stats();
    let initial = store.changes(&cal, None).await.unwrap();
    assert_eq!(store.request_stats().since(&before).requests, 1);
    assert!(initial.complete);
    assert!(initial.deleted.is_empty());
    let token = initial.token.clone().expect("a sync token");
    let mut listed: Vec<_> = initial.changed.iter().map(|v| v.href.clone()).collect();
    listed.sort();
    assert_eq!(
        listed,
        etags.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>()
    );
    for (href, etag) in &etags {
        assert!(
            initial
                .changed
                .iter()
                .any(|v| &v.href == href && &v.etag == etag)
        );
    }

    // One update, one delete, one create.
    let (h0, e0) = &etags[0];
    let new_e0 = store
        .update(&cal, h0, e0, event("c0", "changed").as_bytes())
        .await
        .unwrap()
        .etag
        .unwrap();
    store.delete(&cal, &etags[1].0, &etags[1].1).await.unwrap();
    let added = store
        .create(&cal, "c9.ics", event("c9", "new").as_bytes())
        .await
        .unwrap();

    let delta = store.changes(&cal, Some(&token)).await.unwrap();
    assert!(!delta.complete);
    let mut changed: Vec<_> = delta.changed.iter().map(|v| v.href.clone()).collect();
    changed.sort();
    assert_eq!(changed, vec![h0.clone(), added.href.clone()]);
    assert!(
        delta
            .changed
            .iter()
            .any(|v| &v.href == h0 && v.etag == new_e0)
    );
    assert_eq!(delta.deleted, vec![etags[1].0.clone()]);
    assert_ne!(delta.token.as_deref(), Some(token.as_str()));

    // Nothing happened since: an empty delta.
    let quiet = store.changes(&cal, delta.token.as_deref()).await.unwrap();
    assert!(quiet.changed.is_empty() && quiet.deleted.is_empty() && !quiet.complete);

    // A token the server does not know: a complete listing again.
    let reset = store
        .changes(&cal, Some("http://example.com/ns/sync/bogus"))
        .await
        .unwrap();
    assert!(reset.complete);
    assert_eq!(reset.changed.len(), 3);
    assert!(reset.token.is_some());

    // Without sync support: a PROPFIND listing, complete and tokenless.
    let no_sync = CollectionInfo {
        supports_sync: false,
        ..cal.clone()
    };
    let listing = store.changes(&no_sync, Some(&token)).await.unwrap();
    assert!(listing.complete);
    assert_eq!(listing.token, None);
    let mut a: Vec<_> = listing.changed.clone();
    let mut b: Vec<_> = reset.changed.clone();
    a.sort_by(|x, y| x.href.cmp(&y.href));
    b.sort_by(|x, y| x.href.cmp(&y.href));
    assert_eq!(a, b);
}

#[tokio::test]
async fn radicale_changes() {
    incremental_changes(ServerKind::Radicale).await;
}

#[tokio::test]
async fn xandikos_changes() {
    incremental_changes(ServerKind::Xandikos).await;
}

async fn check_fetch(server: &DavServer, store: &DavStore, cal: &CollectionInfo, count: usize) {
    let listing = store.changes(cal, None).await.unwrap();
    assert_eq!(listing.changed.len(), count);
    let mut hrefs: Vec<ItemRef> = listing.changed.iter().map(|v| v.href.clone()).collect();
    hrefs.sort();
    let missing = ItemRef::new(format!("{}does-not-exist.ics", cal.href));
    hrefs.insert(7, missing.clone());

    let before = store.request_stats();
    let fetched = store.fetch(cal, &hrefs).await.unwrap();
    let stats = store.request_stats().since(&before);
    println!(
        "{}: fetch of {} hrefs sent {stats:?}",
        server.kind(),
        hrefs.len()
    );
    assert_eq!(stats.method("REPORT"), hrefs.len().div_ceil(100) as u64);

    // The missing one is left out; the others come in the order asked, with etags.
    assert_eq!(fetched.len(), count);
    let wanted: Vec<&ItemRef> = hrefs.iter().filter(|h| **h != missing).collect();
    for (item, want) in fetched.iter().zip(wanted) {
        let item = item.as_ref().unwrap();
        assert_eq!(&item.href, want);
        let version = listing
            .changed
            .iter()
            .find(|v| v.href == item.href)
            .unwrap();
        assert_eq!(item.etag, version.etag);
        let text = String::from_utf8(item.body.clone()).unwrap();
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text:?}");
        assert!(text.contains("\r\nUID:"), "CRLFs kept: {text:?}");
    }
}

#[tokio::test]
async fn radicale_fetch_in_batches() {
    let server = DavServer::start(ServerKind::Radicale).await.unwrap();
    let store = store(&server);
    let cal = default_calendar(&server, &store).await;
    server
        .put_collection_bulk(server.calendar_path(), events_bulk("bulk", 150).as_bytes())
        .await
        .unwrap();
    let cal = collection(&store, cal.href.as_str()).await;
    check_fetch(&server, &store, &cal, 150).await;
}

#[tokio::test]
async fn xandikos_fetch_in_batches() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let store = store(&server);
    let cal = collection(&store, server.calendar_path()).await;
    for i in 0..105 {
        let status = server
            .put(
                &format!("{}x{i:03}.ics", server.calendar_path()),
                event(&format!("x{i:03}"), "x").as_bytes(),
                "text/calendar",
            )
            .await
            .unwrap();
        assert!(status.is_success());
    }
    check_fetch(&server, &store, &cal, 105).await;
}

#[tokio::test]
async fn address_book_round_trip() {
    for kind in ServerKind::ALL {
        let server = DavServer::start(kind).await.unwrap();
        server.create_default_collections().await.unwrap();
        let store = store(&server);
        let book = collection(&store, server.addressbook_path()).await;
        let out = store
            .create(&book, "p1.vcf", vcard("p1", "Pat One").as_bytes())
            .await
            .unwrap();
        let etag = out.etag.unwrap();
        let listing = store.changes(&book, None).await.unwrap();
        assert_eq!(listing.changed.len(), 1);
        assert_eq!(listing.changed[0].etag, etag);
        let fetched = store
            .fetch(&book, std::slice::from_ref(&out.href))
            .await
            .unwrap();
        let item = fetched[0].as_ref().unwrap();
        assert_eq!(item.etag, etag);
        assert!(String::from_utf8_lossy(&item.body).contains("FN:Pat One\r\n"));
        // The content type follows the collection: a vCard lands as one.
        let members = server.members(server.addressbook_path()).await.unwrap();
        assert_eq!(members.len(), 1);
        let stale = Etag::new("\"nope\"");
        assert!(matches!(
            store.delete(&book, &out.href, &stale).await,
            Err(StoreError::PreconditionFailed { .. })
        ));
    }
}
