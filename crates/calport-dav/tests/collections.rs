//! Creating calendars and address books, then finding them again.

mod common;

use calport_core::{CollectionKind, ItemRef, NewCollection, Store};
use calport_testkit::{DavServer, ServerKind};
use common::*;

fn calendar_spec(segment: &str) -> NewCollection {
    NewCollection {
        kind: CollectionKind::Calendar,
        segment: segment.to_owned(),
        display_name: Some("Team & Projects".to_owned()),
        color: Some("#2E86DEFF".to_owned()),
        description: Some("Synced by calport".to_owned()),
        components: vec!["VEVENT".to_owned(), "VTODO".to_owned()],
    }
}

fn book_spec(segment: &str) -> NewCollection {
    NewCollection {
        kind: CollectionKind::AddressBook,
        segment: segment.to_owned(),
        display_name: Some("Customers".to_owned()),
        color: None,
        description: Some("From the CRM".to_owned()),
        components: Vec::new(),
    }
}

async fn creates_and_rediscovers(kind: ServerKind) {
    let server = DavServer::start(kind).await.unwrap();
    let store = store(&server);
    store.discover().await.unwrap();

    let before = store.request_stats();
    let cal = store
        .create_collection(None, &calendar_spec("team"))
        .await
        .unwrap();
    println!(
        "{kind}: create_collection sent {:?}",
        store.request_stats().since(&before)
    );
    assert_eq!(
        cal.href.as_str(),
        format!("{}team/", server.calendar_home_path())
    );
    assert_eq!(cal.kind, CollectionKind::Calendar);
    assert_eq!(cal.display_name.as_deref(), Some("Team & Projects"));
    assert_eq!(cal.color.as_deref(), Some("#2E86DEFF"));
    assert_eq!(cal.description.as_deref(), Some("Synced by calport"));
    assert_eq!(cal.components, vec!["VEVENT", "VTODO"]);
    assert!(cal.supports_sync);

    // The same segment again: the store picks the next free name.
    let before = store.request_stats();
    let second = store
        .create_collection(None, &calendar_spec("team"))
        .await
        .unwrap();
    println!(
        "{kind}: create_collection on a taken name sent {:?}",
        store.request_stats().since(&before)
    );
    assert_eq!(
        second.href.as_str(),
        format!("{}team-2/", server.calendar_home_path())
    );

    let before = store.request_stats();
    let book = store
        .create_collection(None, &book_spec("customers"))
        .await
        .unwrap();
    println!(
        "{kind}: address book creation sent {:?}",
        store.request_stats().since(&before)
    );
    assert_eq!(
        book.href.as_str(),
        format!("{}customers/", server.addressbook_home_path())
    );
    assert_eq!(book.kind, CollectionKind::AddressBook);
    assert_eq!(book.display_name.as_deref(), Some("Customers"));
    assert_eq!(book.description.as_deref(), Some("From the CRM"));

    // Rediscovery reports them as creation did.
    let found = store.discover().await.unwrap();
    for created in [&cal, &second, &book] {
        let again = found.iter().find(|c| c.href == created.href).unwrap();
        assert_eq!(again.kind, created.kind);
        assert_eq!(again.display_name, created.display_name);
        assert_eq!(again.color, created.color);
        assert_eq!(again.description, created.description);
        assert_eq!(again.components, created.components);
    }

    // A new collection takes items at once.
    store
        .create(&cal, "e.ics", event("e", "x").as_bytes())
        .await
        .unwrap();
    store
        .create(&book, "p.vcf", vcard("p", "P").as_bytes())
        .await
        .unwrap();
}

#[tokio::test]
async fn radicale_collections() {
    creates_and_rediscovers(ServerKind::Radicale).await;
}

#[tokio::test]
async fn xandikos_collections() {
    creates_and_rediscovers(ServerKind::Xandikos).await;
}

#[tokio::test]
async fn home_hint_and_odd_segments() {
    let server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let store = store(&server);
    // A hint needs no discovery first.
    let home = ItemRef::new(server.calendar_home_path());
    let spec = NewCollection {
        kind: CollectionKind::Calendar,
        segment: "Ärger: mit/Slash".to_owned(),
        display_name: None,
        color: None,
        description: None,
        components: Vec::new(),
    };
    let cal = store.create_collection(Some(&home), &spec).await.unwrap();
    assert_eq!(
        cal.href.as_str(),
        format!("{}%C3%84rger-%20mit-Slash/", server.calendar_home_path())
    );
    assert_eq!(store.request_stats().method("OPTIONS"), 0);
    let found = store.discover().await.unwrap();
    assert!(found.iter().any(|c| c.href == cal.href), "{found:#?}");
}
