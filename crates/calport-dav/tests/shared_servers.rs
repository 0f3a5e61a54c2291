//! The same story against the Debian-packaged servers of `shared/servers` (SOGo 5.8,
//! SabreDAV 1.8, DAViCal 1.1), started through calport-testkit's `SharedServer` (which
//! installs them from Debian's packages the first time and serialises users of their
//! fixed ports). Without `../shared/servers` they print `SKIPPED` and pass.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use calport_core::{CollectionKind, NewCollection, Store, StoreError};
use calport_dav::DavStore;
use calport_testkit::{SharedKind, SharedServer};
use common::*;
use url::Url;

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("calport-{tag}-{nanos}")
}

/// Deletes a collection this test created (no Store method does that).
async fn remove(url: &Url, user: &str, pass: &str) {
    let _ = reqwest::Client::new()
        .delete(url.clone())
        .basic_auth(user, Some(pass))
        .send()
        .await;
}

async fn story(kind: SharedKind, url_key: &str) {
    let name = format!("{kind:?}").to_lowercase();
    // The testkit starts the server (and holds its lock, the ports are fixed) for us.
    let Some(server) = SharedServer::start(kind).await.unwrap() else {
        println!("SKIPPED: ../shared/servers not found (set CALPORT_SHARED_DIR)");
        return;
    };
    let env = |key: &str| {
        server
            .env(key)
            .unwrap_or_else(|| panic!("{name}: no {key} in its env file"))
            .to_owned()
    };
    let (user, pass) = (env("USER"), env("PASS"));
    let store = DavStore::new(config(&env(url_key), &user, &pass)).unwrap();
    let found = store.discover().await.unwrap();
    println!(
        "{name}: discovered {} collections with {:?}; Server: {:?}; DAV: {:?}",
        found.len(),
        store.request_stats(),
        store.server_header(),
        store.dav_capabilities()
    );
    let cal_path = Url::parse(&env("CAL")).unwrap().path().to_owned();
    let book_path = Url::parse(&env("BOOK")).unwrap().path().to_owned();
    let cal = found
        .iter()
        .find(|c| c.href.as_str() == cal_path)
        .cloned()
        .unwrap_or_else(|| panic!("{found:#?}"));
    let book = found
        .iter()
        .find(|c| c.href.as_str() == book_path)
        .cloned()
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(cal.kind, CollectionKind::Calendar);
    assert_eq!(book.kind, CollectionKind::AddressBook);
    println!("{name}: calendar {cal:?}");

    // Items: create, list, fetch, update, delete.
    let uid = unique("ev");
    let initial = store.changes(&cal, None).await.unwrap();
    let out = store
        .create(&cal, &format!("{uid}.ics"), event(&uid, "One").as_bytes())
        .await
        .unwrap();
    let etag = out
        .etag
        .clone()
        .expect("an etag, from the header or a PROPFIND");
    match store
        .create(&cal, &format!("{uid}.ics"), event(&uid, "One").as_bytes())
        .await
    {
        Err(StoreError::PreconditionFailed { .. }) => {}
        // SOGo ignores If-None-Match and overwrites (README quirk 2).
        Ok(_) if name == "sogo" => println!("{name}: create over an existing item succeeded"),
        other => panic!("{name}: second create gave {other:?}"),
    }
    let etag = store
        .changes(&cal, None)
        .await
        .unwrap()
        .changed
        .into_iter()
        .find(|v| v.href == out.href)
        .map_or(etag, |v| v.etag);
    let fetched = store
        .fetch(&cal, std::slice::from_ref(&out.href))
        .await
        .unwrap();
    let item = fetched[0].as_ref().unwrap();
    assert!(String::from_utf8_lossy(&item.body).contains(&uid));
    let updated = store
        .update(&cal, &out.href, &etag, event(&uid, "Two").as_bytes())
        .await
        .unwrap();
    let stale = store
        .update(&cal, &out.href, &etag, event(&uid, "Three").as_bytes())
        .await;
    assert!(
        matches!(stale, Err(StoreError::PreconditionFailed { .. })),
        "{name}: {stale:?}"
    );
    if cal.supports_sync && initial.token.is_some() {
        let delta = store.changes(&cal, initial.token.as_deref()).await.unwrap();
        assert!(
            delta.changed.iter().any(|v| v.href == out.href),
            "{name}: {delta:?}"
        );
    }
    let new_etag = match updated.etag {
        Some(e) => e,
        None => {
            store
                .changes(&cal, None)
                .await
                .unwrap()
                .changed
                .into_iter()
                .find(|v| v.href == out.href)
                .unwrap()
                .etag
        }
    };
    store.delete(&cal, &out.href, &new_etag).await.unwrap();
    if !cal.supports_sync {
        // Asked anyway, the REPORT is refused and the PROPFIND listing takes over.
        let forced = calport_core::CollectionInfo {
            supports_sync: true,
            ..cal.clone()
        };
        let listing = store
            .changes(&forced, Some("http://example.com/t/1"))
            .await
            .unwrap();
        assert!(
            listing.complete && listing.token.is_none(),
            "{name}: {listing:?}"
        );
    }

    let card_uid = unique("card");
    let card = store
        .create(
            &book,
            &format!("{card_uid}.vcf"),
            vcard(&card_uid, "Vic Card").as_bytes(),
        )
        .await
        .unwrap();
    println!("{name}: vCard PUT gave etag {:?}", card.etag);
    assert!(card.etag.is_some());
    let fetched = store
        .fetch(&book, std::slice::from_ref(&card.href))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&fetched[0].as_ref().unwrap().body).contains("Vic Card"));
    store
        .delete(&book, &card.href, card.etag.as_ref().unwrap())
        .await
        .ok();

    // Collections.
    let segment = unique("cal");
    let new_cal = store
        .create_collection(
            None,
            &NewCollection {
                kind: CollectionKind::Calendar,
                segment: segment.clone(),
                display_name: Some("Calport Test".into()),
                color: Some("#2E86DEFF".into()),
                description: Some("temporary".into()),
                components: vec!["VEVENT".into()],
            },
        )
        .await
        .unwrap();
    println!("{name}: new calendar {new_cal:?}");
    let new_book = store
        .create_collection(
            None,
            &NewCollection {
                kind: CollectionKind::AddressBook,
                segment: unique("book"),
                display_name: Some("Calport Book".into()),
                color: None,
                description: None,
                components: Vec::new(),
            },
        )
        .await
        .unwrap();
    println!("{name}: new address book {new_book:?}");
    assert_eq!(new_cal.display_name.as_deref(), Some("Calport Test"));
    assert_eq!(new_book.display_name.as_deref(), Some("Calport Book"));
    let origin = Url::parse(&env(url_key)).unwrap();
    remove(&origin.join(new_cal.href.as_str()).unwrap(), &user, &pass).await;
    remove(&origin.join(new_book.href.as_str()).unwrap(), &user, &pass).await;
    println!("{name}: whole story sent {:?}", store.request_stats());
}

#[tokio::test]
async fn sabredav_story() {
    story(SharedKind::SabreDav, "URL").await;
}

#[tokio::test]
async fn davical_story() {
    story(SharedKind::Davical, "URL").await;
}

#[tokio::test]
async fn sogo_story() {
    story(SharedKind::Sogo, "URL").await;
}

/// Bare sogod closes every connection after one answer without saying so (README quirk
/// 1): the retries on transport failures must carry the whole story through.
#[tokio::test]
async fn sogo_direct_story() {
    story(SharedKind::Sogo, "DIRECT_URL").await;
}
