//! Retries through a local proxy that drops or refuses the first connections.

mod common;

use calport_core::{CollectionKind, ItemRef, NewCollection, Store, StoreError};
use calport_dav::DavStore;
use calport_testkit::{DavServer, ServerKind};
use common::*;

#[tokio::test]
async fn dropped_connection_and_503_are_retried() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let proxy = flaky_proxy(
        addr_of(&server),
        vec![Misbehave::Drop, Misbehave::Unavailable],
    )
    .await;
    let store = DavStore::new(config(&format!("http://{proxy}/"), "u", "p")).unwrap();
    let found = store.discover().await.unwrap();
    assert_eq!(found.len(), 2);
    let stats = store.request_stats();
    assert_eq!(stats.retries, 2, "{stats:?}");
    assert_eq!(stats.transport_errors, 1);
    assert_eq!(stats.status_class(5), 1);
}

#[tokio::test]
async fn persistent_503_ends_as_server_error() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let proxy = flaky_proxy(addr_of(&server), vec![Misbehave::Unavailable; 3]).await;
    let mut cfg = config(&format!("http://{proxy}/"), "u", "p");
    cfg.max_retries = 2;
    let store = DavStore::new(cfg).unwrap();
    let err = store.discover().await.unwrap_err();
    assert!(matches!(err, StoreError::Server { .. }), "{err:?}");
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(store.request_stats().retries, 2);
}

#[tokio::test]
async fn well_known_redirect_is_followed() {
    // Radicale answers PROPFIND / without principal for an unknown user? No: it always
    // has one. Start at the well-known URL itself, which redirects to /.
    let server = DavServer::start(ServerKind::Radicale).await.unwrap();
    server.create_default_collections().await.unwrap();
    let store = DavStore::new(config(
        &server.url("/.well-known/caldav"),
        server.username(),
        server.password(),
    ))
    .unwrap();
    let found = store.discover().await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(store.request_stats().status_class(3) >= 1);
}

#[tokio::test]
async fn digest_challenge_is_answered_and_reused() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let (proxy, counts) = digest_proxy(addr_of(&server), "Mufasa", "Circle of Life").await;
    let store = DavStore::new(config(
        &format!("http://{proxy}/"),
        "Mufasa",
        "Circle of Life",
    ))
    .unwrap();
    let found = store.discover().await.unwrap();
    assert_eq!(found.len(), 2);
    let stats = store.request_stats();
    // Only the very first request met a challenge; the cached one served the rest.
    assert_eq!(stats.status_class(4), 1, "{stats:?}");
    assert_eq!(stats.requests, 6);
    let counts = counts.lock().unwrap().clone();
    assert_eq!(counts, vec![1, 2, 3, 4, 5]);

    let wrong = DavStore::new(config(&format!("http://{proxy}/"), "Mufasa", "wrong")).unwrap();
    let err = wrong.discover().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    // The challenge is answered once, not in a loop.
    assert_eq!(wrong.request_stats().requests, 2);
}

#[tokio::test]
async fn lost_mkcalendar_answer_does_not_duplicate_the_calendar() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let proxy = flaky_proxy(addr_of(&server), vec![Misbehave::Swallow]).await;
    let store = DavStore::new(config(&format!("http://{proxy}/"), "u", "p")).unwrap();
    let spec = NewCollection {
        kind: CollectionKind::Calendar,
        segment: "once".to_owned(),
        display_name: Some("Once".to_owned()),
        color: None,
        description: None,
        components: Vec::new(),
    };
    let home = ItemRef::new(server.calendar_home_path());
    let cal = store.create_collection(Some(&home), &spec).await.unwrap();
    assert_eq!(
        cal.href.as_str(),
        format!("{}once/", server.calendar_home_path())
    );
    assert_eq!(cal.display_name.as_deref(), Some("Once"));
    assert_eq!(store.request_stats().retries, 1);
    let found = store.discover().await.unwrap();
    assert!(
        !found.iter().any(|c| c.href.as_str().contains("once-2")),
        "{found:#?}"
    );
}

#[tokio::test]
async fn lost_create_answer_ends_as_precondition_failed() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    // Discovery goes straight to the server; only the PUT passes the proxy.
    let direct = store(&server);
    let cal = collection(&direct, server.calendar_path()).await;
    let proxy = flaky_proxy(addr_of(&server), vec![Misbehave::Swallow]).await;
    let store = DavStore::new(config(&format!("http://{proxy}/"), "u", "p")).unwrap();
    let err = store
        .create(&cal, "lost.ics", event("lost", "x").as_bytes())
        .await
        .unwrap_err();
    // The first PUT landed; its retry meets If-None-Match: * (the engine then checks).
    assert!(
        matches!(err, StoreError::PreconditionFailed { .. }),
        "{err:?}"
    );
    assert_eq!(store.request_stats().retries, 1);
    assert_eq!(
        server.members(server.calendar_path()).await.unwrap().len(),
        1
    );
}
