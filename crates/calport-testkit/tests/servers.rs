//! Both real servers start, accept an event and a vCard, list them back, and stop on drop.

use std::path::Path;

use calport_testkit::{DavServer, Method, ServerKind, StatusCode};

const EVENT_UID: &str = "testkit-event-1@calport.invalid";
const CARD_UID: &str = "urn:uuid:3f0c1a52-8d7e-4b1e-9c55-0a5b6c7d8e9f";

const EVENT: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//calport//testkit//EN\r\n\
BEGIN:VEVENT\r\n\
UID:testkit-event-1@calport.invalid\r\n\
DTSTAMP:20250301T090000Z\r\n\
DTSTART:20250310T140000Z\r\n\
DTEND:20250310T150000Z\r\n\
SUMMARY:Testkit planning\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

const CARD: &str = "BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
UID:urn:uuid:3f0c1a52-8d7e-4b1e-9c55-0a5b6c7d8e9f\r\n\
FN:Testkit Person\r\n\
N:Person;Testkit;;;\r\n\
EMAIL:testkit@calport.invalid\r\n\
END:VCARD\r\n";

/// PUTs the fixtures into `calendar`/`book` (the vCard as `card_name`, percent-encoded) and
/// reads them back through PROPFIND + GET.
async fn put_and_list(server: &DavServer, calendar: &str, book: &str, card_name: &str) {
    let status = server
        .put(
            &format!("{calendar}event-1.ics"),
            EVENT.as_bytes(),
            "text/calendar; charset=utf-8",
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{} PUT event", server.kind());
    let status = server
        .put(
            &format!("{book}{card_name}"),
            CARD.as_bytes(),
            "text/vcard; charset=utf-8",
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{} PUT vCard", server.kind());

    let events = server.list(calendar).await.unwrap();
    assert_eq!(events.len(), 1, "{}: {events:?}", server.kind());
    assert_eq!(events[0].name, "event-1.ics");
    assert!(events[0].etag.is_some());
    assert!(events[0].text().contains(EVENT_UID), "{}", events[0].text());

    let cards = server.list(book).await.unwrap();
    assert_eq!(cards.len(), 1, "{}: {cards:?}", server.kind());
    assert_eq!(cards[0].name, card_name.replace("%3A", ":"));
    assert_eq!(cards[0].href, format!("{book}{card_name}"));
    assert!(cards[0].text().contains(CARD_UID), "{}", cards[0].text());
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn radicale_round_trip_auth_and_drop() {
    let server = DavServer::start(ServerKind::Radicale).await.unwrap();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.principal_path(), "/alice/");

    let calendar = "/alice/work/";
    let book = "/alice/people/";
    server
        .mkcalendar(
            calendar,
            "Work & <fun>",
            &["VEVENT", "VTODO"],
            Some("#3a87adff"),
        )
        .await
        .unwrap();
    server.mkaddressbook(book, "People").await.unwrap();
    // Radicale answers 400 to paths with ':' (validate_path_value = minimal).
    put_and_list(&server, calendar, book, "person-1.vcf").await;

    let wrong = server
        .request_as(Method::GET, calendar, server.username(), "not-the-password")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // The whole-collection PUT replaces the collection and names items after their UID; a
    // UID with ':' gives a name Radicale then refuses to GET, so `list` falls back to multiget.
    let bulk_uid = "urn:uuid:0d9e8f7a-1b2c-4d3e-8f4a-5b6c7d8e9f01";
    server
        .put_collection_bulk(calendar, EVENT.replace(EVENT_UID, bulk_uid).as_bytes())
        .await
        .unwrap();
    let events = server.list(calendar).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].name, format!("{bulk_uid}.ics"));
    assert!(events[0].text().contains(bulk_uid), "{}", events[0].text());

    let pid = server.pid();
    assert!(process_exists(pid));
    let log = server.log_path().to_path_buf();
    assert!(log.is_file());
    drop(server);
    assert!(!process_exists(pid), "radicale (pid {pid}) survived drop");
    assert!(!log.exists(), "the temporary directory survived drop");
}

#[tokio::test]
async fn xandikos_round_trip_and_stop() {
    let mut server = DavServer::start(ServerKind::Xandikos).await.unwrap();
    assert_eq!(server.principal_path(), "/user/");
    let calendar = server.calendar_path().to_owned();
    let book = server.addressbook_path().to_owned();
    assert_eq!(calendar, "/user/calendars/calendar/");
    assert_eq!(book, "/user/contacts/addressbook/");
    // A ':' in the name: Xandikos lists it as a bare `urn:uuid:...` href (README quirk 4).
    let card_name = format!("{CARD_UID}.vcf").replace(':', "%3A");
    put_and_list(&server, &calendar, &book, &card_name).await;

    assert!(
        server
            .put_collection_bulk(&calendar, EVENT.as_bytes())
            .await
            .is_err()
    );

    let pid = server.pid();
    assert!(server.is_running());
    server.stop();
    assert!(!server.is_running());
    assert!(!process_exists(pid), "xandikos (pid {pid}) survived stop");
}

#[tokio::test]
async fn raw_files_reach_storage() {
    for kind in ServerKind::ALL {
        let server = DavServer::start(kind).await.unwrap();
        server.create_default_collections().await.unwrap();
        let calendar = server.calendar_path();
        server
            .write_raw_file(calendar, "raw-1.ics", EVENT.as_bytes())
            .await
            .unwrap();
        let events = server.list(calendar).await.unwrap();
        assert_eq!(events.len(), 1, "{kind}: {events:?}");
        assert_eq!(events[0].name, "raw-1.ics");
        assert!(events[0].text().contains(EVENT_UID), "{kind}");
        assert!(
            server
                .write_raw_file(calendar, "../escape.ics", b"x")
                .await
                .is_err()
        );
    }
}
