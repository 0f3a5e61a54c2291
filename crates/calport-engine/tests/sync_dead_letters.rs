//! An item the destination always refuses is retried on the next runs, then parked as a
//! dead letter: the pair's sync point moves on, later runs leave it alone, and a retry
//! asked by a person reads and tries it again. Real Xandikos (source, holding an event
//! that Radicale refuses) and real Radicale (destination).

use calport_dav::{DavConfig, DavStore};
use calport_engine::sync::{Direction, PairMapping, Sync, SyncJob, SyncOptions};
use calport_state::StateDb;
use calport_testkit::{DavServer, ServerKind};

fn store(server: &DavServer) -> DavStore {
    DavStore::new(DavConfig::new(
        url::Url::parse(&format!("{}/", server.base_url())).unwrap(),
        server.username(),
        server.password(),
    ))
    .unwrap()
}

const GOOD: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nBEGIN:VEVENT\r\n\
UID:good\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20261201T100000Z\r\nSUMMARY:fine\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

/// Readable for calport (lenient), refused by Radicale (its parser rejects the date).
const BAD: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nBEGIN:VEVENT\r\n\
UID:bad\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:not-a-date\r\nSUMMARY:broken\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn a_refused_item_becomes_a_dead_letter_and_stops_holding_the_pair_back() {
    let a = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let b = DavServer::start(ServerKind::Radicale).await.unwrap();
    b.create_default_collections().await.unwrap();
    a.write_raw_files(
        a.calendar_path(),
        &[("good.ics", GOOD.as_bytes()), ("bad.ics", BAD.as_bytes())],
    )
    .await
    .unwrap();
    let mut job = SyncJob::new("dead");
    job.policy.direction = Direction::AToB;
    job.mapping = PairMapping::Explicit(vec![(
        a.calendar_path().to_owned(),
        b.calendar_path().to_owned(),
    )]);
    let db = StateDb::open_in_memory().await.unwrap();
    let (sa, sb) = (store(&a), store(&b));
    let run = || async {
        Sync::new(&sa, &sb, &db, &job, SyncOptions::default())
            .run()
            .await
            .unwrap()
    };

    // Runs 1–4: the good item lands, the bad one fails and holds the pair back.
    for attempt in 1..=4 {
        let report = run().await;
        let pair = &report.pairs[0];
        assert_eq!(pair.stats.failed, 1, "run {attempt}: {pair:#?}");
        assert!(
            !pair.complete,
            "run {attempt}: a failing item keeps the sync point"
        );
        assert_eq!(pair.dead_letters, 0);
    }
    assert_eq!(b.list(b.calendar_path()).await.unwrap().len(), 1);
    // Run 5: parked.
    let report = run().await;
    let pair = &report.pairs[0];
    assert_eq!(pair.dead_letters, 1, "{pair:#?}");
    assert!(pair.complete, "a dead letter no longer holds the pair back");
    let letters = db.dead_letters(Some("open")).await.unwrap();
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(
        (letter.uid.as_str(), letter.side.as_str(), letter.attempts),
        ("bad", "a", 5)
    );
    assert!(
        letter.reason.contains("400"),
        "the server's refusal: {}",
        letter.reason
    );
    assert!(String::from_utf8_lossy(letter.payload.as_deref().unwrap()).contains("not-a-date"));
    // Run 6: nothing to do, nothing tried.
    let before = sb.request_stats().method("PUT");
    let report = run().await;
    assert!(report.pairs[0].complete);
    assert_eq!(report.pairs[0].stats.failed, 0);
    assert_eq!(
        sb.request_stats().method("PUT"),
        before,
        "a dead letter is not written"
    );
    // A person asks for a retry: the next run reads it again (the listing no longer
    // mentions it) and tries; it fails again and is parked at once.
    assert!(db.set_dead_letter_state(letter.id, "retry").await.unwrap());
    let report = run().await;
    assert_eq!(report.pairs[0].stats.failed, 1, "{:#?}", report.pairs[0]);
    assert_eq!(sb.request_stats().method("PUT"), before + 1);
    let letters = db.dead_letters(Some("open")).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 6);
    // Fixed at the source: the edit goes through and the dead letter is gone.
    let fixed = BAD.replace("DTSTART:not-a-date", "DTSTART:20261202T100000Z");
    // (Xandikos itself cannot replace the broken file over HTTP: it answers 500.)
    a.write_raw_files(a.calendar_path(), &[("bad.ics", fixed.as_bytes())])
        .await
        .unwrap();
    assert!(
        db.set_dead_letter_state(letters[0].id, "retry")
            .await
            .unwrap()
    );
    let report = run().await;
    assert_eq!(report.pairs[0].stats.failed, 0, "{:#?}", report.pairs[0]);
    assert_eq!(b.list(b.calendar_path()).await.unwrap().len(), 2);
    assert!(db.dead_letters(None).await.unwrap().is_empty());
}
