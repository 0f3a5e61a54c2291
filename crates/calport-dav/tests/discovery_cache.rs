//! The discovery cache against real Radicale and Xandikos: a restored state costs one
//! PROPFIND per home set, a stale one falls back to the full discovery, garbage and
//! states of other accounts are refused, refused credentials stay `Unauthorized`.

mod common;

use calport_core::{CollectionInfo, Store, StoreError};
use calport_dav::DavStore;
use calport_testkit::{DavServer, ServerKind};
use common::*;
use serde_json::{Value, json};

/// A server with two calendars and an address book of the main user.
async fn populated(kind: ServerKind) -> DavServer {
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
    server
}

/// Distinct home sets: what a discovery from a restored state costs.
fn homes(server: &DavServer) -> u64 {
    if server.calendar_home_path() == server.addressbook_home_path() {
        1
    } else {
        2
    }
}

fn sorted(mut found: Vec<CollectionInfo>) -> Vec<CollectionInfo> {
    found.sort_by(|a, b| a.href.as_str().cmp(b.href.as_str()));
    found
}

/// A full discovery by a fresh store: what it found, its saved state, its request count.
async fn full_discovery(server: &DavServer) -> (DavStore, Vec<CollectionInfo>, String, u64) {
    let store = store(server);
    assert!(
        store.discovery_state().is_none(),
        "no state before discovery"
    );
    let found = sorted(store.discover().await.unwrap());
    let state = store
        .discovery_state()
        .expect("a state after a discovery that found home sets");
    let requests = store.request_stats().requests;
    (store, found, state, requests)
}

/// `state` with its calendar home sets replaced by `url`.
fn with_calendar_home(state: &str, url: &str) -> String {
    let mut value: Value = serde_json::from_str(state).unwrap();
    value["calendar_homes"] = json!([url]);
    value.to_string()
}

async fn restored_discovery_lists_only_the_home_sets(kind: ServerKind) {
    let server = populated(kind).await;
    let (first, found, state, full) = full_discovery(&server).await;
    println!("{kind}: full discovery sent {full} requests, saved {state}");

    let second = store(&server);
    assert!(second.restore_discovery_state(&state));
    let again = sorted(second.discover().await.unwrap());
    let stats = second.request_stats();
    println!("{kind}: restored discovery sent {stats:?}");
    // Same hrefs, kinds, names, colours, components, ctags and sync tokens.
    assert_eq!(again, found);
    assert_eq!(stats.requests, homes(&server));
    assert_eq!(stats.method("PROPFIND"), homes(&server));
    assert_eq!(stats.method("OPTIONS"), 0);
    let expected = match kind {
        ServerKind::Radicale => 1,
        ServerKind::Xandikos => 2,
    };
    assert_eq!(stats.requests, expected);

    // The server is recognised and treated as after the full discovery.
    assert_eq!(second.profile(), first.profile());
    assert_ne!(second.profile().product, calport_dav::Product::Unknown);
    assert_eq!(second.server_info(), first.server_info());
    assert_eq!(second.fingerprint(), first.fingerprint());
    assert_eq!(second.dav_capabilities(), first.dav_capabilities());
    assert_eq!(second.server_header(), first.server_header());
    // Nothing changed, so the state to save is the same.
    assert_eq!(second.discovery_state().as_deref(), Some(state.as_str()));

    // The state holds home sets, not collections: a new calendar shows at once.
    let home = server.calendar_home_path();
    server
        .mkcalendar(&format!("{home}later/"), "Later", &["VEVENT"], None)
        .await
        .unwrap();
    let before = second.request_stats();
    let later = second.discover().await.unwrap();
    assert_eq!(later.len(), found.len() + 1);
    assert!(
        later
            .iter()
            .any(|c| c.display_name.as_deref() == Some("Later"))
    );
    assert_eq!(
        second.request_stats().since(&before).requests,
        homes(&server)
    );
}

#[tokio::test]
async fn radicale_restored_discovery() {
    restored_discovery_lists_only_the_home_sets(ServerKind::Radicale).await;
}

#[tokio::test]
async fn xandikos_restored_discovery() {
    restored_discovery_lists_only_the_home_sets(ServerKind::Xandikos).await;
}

async fn stale_state_falls_back_to_full_discovery(kind: ServerKind) {
    let server = populated(kind).await;
    let (_, found, state, full) = full_discovery(&server).await;
    let gone = server.url(&format!("{}gone-home/", server.principal_path()));
    // Radicale forbids (403) the other user's principal; Xandikos has no such path (404).
    let foreign = match kind {
        ServerKind::Radicale => server.url(&format!("/{}/", server.second_user().0)),
        ServerKind::Xandikos => server.url("/nowhere/"),
    };
    for bogus in [gone, foreign] {
        let second = store(&server);
        assert!(second.restore_discovery_state(&with_calendar_home(&state, &bogus)));
        let again = sorted(second.discover().await.unwrap());
        assert_eq!(again, found, "{bogus}");
        let stats = second.request_stats();
        println!("{kind}: stale home {bogus}: discovery sent {stats:?}");
        // The failed listing, then the full discovery.
        assert_eq!(stats.requests, 1 + full, "{bogus}");
        assert_eq!(stats.method("OPTIONS"), 1);
        // The full discovery replaced the state, and later discoveries use it.
        assert_eq!(second.discovery_state().as_deref(), Some(state.as_str()));
        let before = second.request_stats();
        assert_eq!(sorted(second.discover().await.unwrap()), found);
        assert_eq!(
            second.request_stats().since(&before).requests,
            homes(&server)
        );
    }
}

#[tokio::test]
async fn radicale_stale_state() {
    stale_state_falls_back_to_full_discovery(ServerKind::Radicale).await;
}

#[tokio::test]
async fn xandikos_stale_state() {
    stale_state_falls_back_to_full_discovery(ServerKind::Xandikos).await;
}

#[tokio::test]
async fn unreachable_saved_home_falls_back_to_full_discovery() {
    let server = populated(ServerKind::Radicale).await;
    let (_, found, state, full) = full_discovery(&server).await;
    let closed = format!("http://{}/alice/", closed_port().await);
    let mut cfg = config(&server.url("/"), server.username(), server.password());
    cfg.max_retries = 1;
    let second = DavStore::new(cfg).unwrap();
    assert!(second.restore_discovery_state(&with_calendar_home(&state, &closed)));
    assert_eq!(sorted(second.discover().await.unwrap()), found);
    let stats = second.request_stats();
    assert_eq!(stats.transport_errors, 2);
    assert_eq!(stats.requests, 2 + full);
    assert_eq!(second.discovery_state().as_deref(), Some(state.as_str()));
}

#[tokio::test]
async fn garbage_and_foreign_states_are_refused() {
    let server = populated(ServerKind::Radicale).await;
    let (_, found, state, full) = full_discovery(&server).await;
    let second = store(&server);
    let mut newer: Value = serde_json::from_str(&state).unwrap();
    newer["version"] = json!(2);
    let mut unknown_field: Value = serde_json::from_str(&state).unwrap();
    unknown_field["extra"] = json!(true);
    let mut no_homes: Value = serde_json::from_str(&state).unwrap();
    no_homes["calendar_homes"] = json!([]);
    no_homes["addressbook_homes"] = json!([]);
    for garbage in [
        String::new(),
        "garbage".to_owned(),
        "{}".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        state[..state.len() / 2].to_owned(),
        with_calendar_home(&state, "not a url"),
        with_calendar_home(&state, "ftp://example.com/home/"),
        newer.to_string(),
        unknown_field.to_string(),
        no_homes.to_string(),
    ] {
        assert!(!second.restore_discovery_state(&garbage), "{garbage}");
    }
    // Another user, or another configured URL, of the same server.
    let (bob, bob_password) = server.second_user();
    let other_user = DavStore::new(config(&server.url("/"), bob, bob_password)).unwrap();
    assert!(!other_user.restore_discovery_state(&state));
    let other_url = DavStore::new(config(
        &server.url(server.principal_path()),
        server.username(),
        server.password(),
    ))
    .unwrap();
    assert!(!other_url.restore_discovery_state(&state));

    // Nothing was restored: the full discovery runs as without a state.
    assert_eq!(sorted(second.discover().await.unwrap()), found);
    assert_eq!(second.request_stats().requests, full);
    assert_eq!(second.request_stats().method("OPTIONS"), 1);
}

#[tokio::test]
async fn wrong_password_with_restored_state_is_unauthorized() {
    let server = populated(ServerKind::Radicale).await;
    let (_, _, state, _) = full_discovery(&server).await;
    let wrong = DavStore::new(config(&server.url("/"), server.username(), "wrong")).unwrap();
    assert!(wrong.restore_discovery_state(&state));
    let err = wrong.discover().await.unwrap_err();
    assert!(
        matches!(err, StoreError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    // Refused credentials are reported at once: no full discovery behind them.
    assert_eq!(wrong.request_stats().requests, 1);
    assert!(wrong.discovery_state().is_none());
}
