//! Discovery against real Radicale and Xandikos, and the ways it fails.

mod common;

use std::time::Duration;

use calport_core::{CollectionKind, ErrorClass, Store, StoreError};
use calport_dav::DavStore;
use calport_testkit::{DavServer, ServerKind};
use common::*;

async fn discovers_named_coloured_collections(kind: ServerKind) {
    let server = DavServer::start(kind).await.unwrap();
    let home = server.calendar_home_path().to_owned();
    let book_home = server.addressbook_home_path().to_owned();
    server
        .mkcalendar(
            &format!("{home}work/"),
            "Work",
            &["VEVENT"],
            Some("#FF8800FF"),
        )
        .await
        .unwrap();
    server
        .mkcalendar(&format!("{home}tasks/"), "Tasks", &["VTODO"], None)
        .await
        .unwrap();
    server
        .mkaddressbook(&format!("{book_home}people/"), "People")
        .await
        .unwrap();

    let store = store(&server);
    let found = store.discover().await.unwrap();
    let stats = store.request_stats();
    println!("{kind}: discovery sent {stats:?}");

    let work = found
        .iter()
        .find(|c| c.href.as_str() == format!("{home}work/"))
        .unwrap();
    assert_eq!(work.kind, CollectionKind::Calendar);
    assert_eq!(work.display_name.as_deref(), Some("Work"));
    assert_eq!(work.color.as_deref(), Some("#FF8800FF"));
    assert_eq!(work.components, vec!["VEVENT"]);
    assert!(work.supports_sync, "{work:?}");
    assert!(work.sync_token.is_some() && work.ctag.is_some());
    assert!(!work.read_only);
    let tasks = found
        .iter()
        .find(|c| c.display_name.as_deref() == Some("Tasks"))
        .unwrap();
    assert_eq!(tasks.components, vec!["VTODO"]);
    assert!(tasks.accepts("VTODO") && !tasks.accepts("VEVENT"));
    let people = found
        .iter()
        .find(|c| c.href.as_str() == format!("{book_home}people/"))
        .unwrap();
    assert_eq!(people.kind, CollectionKind::AddressBook);
    assert_eq!(people.display_name.as_deref(), Some("People"));
    assert!(people.components.is_empty());
    // Neither the homes nor the principal are reported as collections.
    assert!(
        found
            .iter()
            .all(|c| c.href.as_str() != home && c.href.as_str() != book_home)
    );
    let expected = match kind {
        ServerKind::Radicale => 3,
        ServerKind::Xandikos => 5, // + the default calendar and address book
    };
    assert_eq!(found.len(), expected, "{found:#?}");

    assert!(
        store
            .dav_capabilities()
            .iter()
            .any(|c| c == "calendar-access")
    );
    assert!(store.dav_capabilities().iter().any(|c| c == "addressbook"));
    assert!(store.server_header().is_some());
    // OPTIONS, PROPFIND /, PROPFIND principal, one Depth 1 PROPFIND per home set.
    let homes = if home == book_home { 1 } else { 2 };
    assert_eq!(stats.method("OPTIONS"), 1);
    assert_eq!(stats.method("PROPFIND"), 2 + homes);
    assert_eq!(stats.requests, 3 + homes);
    assert_eq!(stats.retries, 0);
}

#[tokio::test]
async fn radicale_discovery() {
    discovers_named_coloured_collections(ServerKind::Radicale).await;
}

#[tokio::test]
async fn xandikos_discovery() {
    discovers_named_coloured_collections(ServerKind::Xandikos).await;
}

#[tokio::test]
async fn discovery_from_principal_or_collection_url() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    // From the principal: the first PROPFIND already carries the home sets.
    let from_principal = DavStore::new(config(&server.url("/user/"), "u", "p")).unwrap();
    let found = from_principal.discover().await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(from_principal.request_stats().method("PROPFIND"), 3);
    // From a collection: the principal is found through it, so all collections come back.
    let from_collection =
        DavStore::new(config(&server.url(server.calendar_path()), "u", "p")).unwrap();
    assert_eq!(from_collection.discover().await.unwrap().len(), 2);
}

#[tokio::test]
async fn wrong_password_is_unauthorized() {
    let server = DavServer::start(ServerKind::Radicale).await.unwrap();
    let store = DavStore::new(config(&server.url("/"), server.username(), "wrong")).unwrap();
    let err = store.discover().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Fatal);
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let addr = closed_port().await;
    let mut cfg = config(&format!("http://{addr}/"), "u", "p");
    cfg.max_retries = 2;
    let store = DavStore::new(cfg).unwrap();
    let err = store.discover().await.unwrap_err();
    match &err {
        StoreError::Unreachable { reason, .. } => assert_eq!(reason, "connection refused"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("connection refused"), "{err}");
    let stats = store.request_stats();
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.transport_errors, 3);
}

#[tokio::test]
async fn silent_server_times_out() {
    let addr = silent_server().await;
    let mut cfg = config(&format!("http://{addr}/"), "u", "p");
    cfg.timeout = Duration::from_millis(300);
    cfg.max_retries = 1;
    let store = DavStore::new(cfg).unwrap();
    let err = store.discover().await.unwrap_err();
    match &err {
        StoreError::Unreachable { reason, .. } => assert_eq!(reason, "timed out after 300 ms"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.request_stats().retries, 1);
}

#[tokio::test]
async fn plain_web_server_is_not_dav() {
    let addr = html_server().await;
    let store = DavStore::new(config(&format!("http://{addr}/"), "u", "p")).unwrap();
    let err = store.discover().await.unwrap_err();
    match &err {
        StoreError::NotDav { reason, .. } => {
            assert!(reason.contains("no DAV header"), "{reason}");
            assert!(reason.contains("200 OK (text/html)"), "{reason}");
            assert!(reason.contains("/.well-known/caldav"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Fatal);
}

#[tokio::test]
async fn bad_url_scheme_is_refused_up_front() {
    let cfg = config("ftp://example.com/", "u", "p");
    assert!(matches!(DavStore::new(cfg), Err(StoreError::NotDav { .. })));
}
