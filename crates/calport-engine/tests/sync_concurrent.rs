//! Someone edits an item on the server between calport's listing and its write: the write
//! fails its etag precondition (a real 412 from a real Radicale), calport re-reads the
//! item and plans it again; it never overwrites the newer edit.
//!
//! The interference is real, not simulated: a wrapper around the real store PUTs a new
//! version of the item straight to the server just before calport's own write goes out.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use calport_core::{
    Changes, CollectionInfo, Etag, FetchedItem, ItemRef, NewCollection, Store, StoreError,
    WriteOutcome,
};
use calport_dav::{DavConfig, DavStore};
use calport_engine::sync::{PairMapping, Sync, SyncJob, SyncOptions};
use calport_state::StateDb;
use calport_testkit::{DavServer, ServerKind};

const ICS: &str = "text/calendar; charset=utf-8";

fn event(summary: &str, modified: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nBEGIN:VEVENT\r\n\
         UID:x\r\nDTSTAMP:20250101T000000Z\r\nLAST-MODIFIED:{modified}\r\n\
         DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nSUMMARY:{summary}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// A real store whose first update or delete is preceded by someone else's edit.
struct Meddled {
    inner: DavStore,
    server_url: String,
    edit: String,
    done: AtomicBool,
}

impl Meddled {
    async fn meddle(&self, href: &ItemRef) {
        if self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        let url = format!("{}{}", self.server_url, href.as_str());
        let status = reqwest::Client::new()
            .put(url)
            .basic_auth("alice", Some("alicepw"))
            .header("Content-Type", ICS)
            .body(self.edit.clone())
            .send()
            .await
            .expect("meddling PUT")
            .status();
        assert!(status.is_success(), "meddling PUT: {status}");
    }
}

#[async_trait]
impl Store for Meddled {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn discover(&self) -> Result<Vec<CollectionInfo>, StoreError> {
        self.inner.discover().await
    }
    async fn create_collection(
        &self,
        home: Option<&ItemRef>,
        spec: &NewCollection,
    ) -> Result<CollectionInfo, StoreError> {
        self.inner.create_collection(home, spec).await
    }
    async fn changes(&self, c: &CollectionInfo, t: Option<&str>) -> Result<Changes, StoreError> {
        self.inner.changes(c, t).await
    }
    async fn fetch(
        &self,
        c: &CollectionInfo,
        hrefs: &[ItemRef],
    ) -> Result<Vec<Result<FetchedItem, (ItemRef, StoreError)>>, StoreError> {
        self.inner.fetch(c, hrefs).await
    }
    async fn create(
        &self,
        c: &CollectionInfo,
        name: &str,
        body: &[u8],
    ) -> Result<WriteOutcome, StoreError> {
        self.inner.create(c, name, body).await
    }
    async fn update(
        &self,
        c: &CollectionInfo,
        href: &ItemRef,
        expected: &Etag,
        body: &[u8],
    ) -> Result<WriteOutcome, StoreError> {
        self.meddle(href).await;
        self.inner.update(c, href, expected, body).await
    }
    async fn delete(
        &self,
        c: &CollectionInfo,
        href: &ItemRef,
        expected: &Etag,
    ) -> Result<(), StoreError> {
        self.meddle(href).await;
        self.inner.delete(c, href, expected).await
    }
}

fn store(server: &DavServer) -> DavStore {
    DavStore::new(DavConfig::new(
        url::Url::parse(&format!("{}/", server.base_url())).unwrap(),
        server.username(),
        server.password(),
    ))
    .unwrap()
}

async fn summary(server: &DavServer, collection: &str) -> Vec<String> {
    server
        .list(collection)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let doc = calport_ical::parse(&r.body).unwrap();
            let first = doc.item_components().into_iter().next().unwrap();
            first.property("SUMMARY").unwrap().value.clone()
        })
        .collect()
}

async fn setup() -> (DavServer, DavServer, SyncJob) {
    let a = DavServer::start(ServerKind::Radicale).await.unwrap();
    let b = DavServer::start(ServerKind::Radicale).await.unwrap();
    a.create_default_collections().await.unwrap();
    b.create_default_collections().await.unwrap();
    let mut job = SyncJob::new("concurrent");
    job.mapping = PairMapping::Explicit(vec![(
        a.calendar_path().to_owned(),
        b.calendar_path().to_owned(),
    )]);
    (a, b, job)
}

#[tokio::test]
async fn an_edit_made_during_the_run_is_not_overwritten() {
    let (a, b, job) = setup().await;
    let ca = a.calendar_path().to_owned();
    let cb = b.calendar_path().to_owned();
    a.put(
        &format!("{ca}x.ics"),
        event("original", "20250101T000000Z").as_bytes(),
        ICS,
    )
    .await
    .unwrap();
    let db = StateDb::open_in_memory().await.unwrap();
    let (sa, sb) = (store(&a), store(&b));
    let first = Sync::new(&sa, &sb, &db, &job, SyncOptions::default())
        .run()
        .await
        .unwrap();
    assert_eq!(first.totals().created_on_b, 1);

    // A changes x; while calport writes that to B, someone edits x on B (later).
    a.put(
        &format!("{ca}x.ics"),
        event("edit on A", "20250201T000000Z").as_bytes(),
        ICS,
    )
    .await
    .unwrap();
    let sb = Meddled {
        inner: store(&b),
        server_url: b.base_url().to_owned(),
        edit: event("edit on B meanwhile", "20250301T000000Z"),
        done: AtomicBool::new(false),
    };
    let report = Sync::new(&sa, &sb, &db, &job, SyncOptions::default())
        .run()
        .await
        .unwrap();
    assert!(report.clean(), "{report:#?}");
    // The write to B met a 412; re-planned, B's newer edit wins and goes to A.
    assert_eq!(summary(&b, &cb).await, ["edit on B meanwhile"]);
    assert_eq!(summary(&a, &ca).await, ["edit on B meanwhile"]);
    let totals = report.totals();
    assert_eq!(
        (totals.updated_on_a, totals.updated_on_b),
        (1, 0),
        "{totals:?}"
    );
}

#[tokio::test]
async fn a_delete_that_meets_a_fresh_edit_restores_instead() {
    let (a, b, job) = setup().await;
    let ca = a.calendar_path().to_owned();
    let cb = b.calendar_path().to_owned();
    a.put(
        &format!("{ca}x.ics"),
        event("original", "20250101T000000Z").as_bytes(),
        ICS,
    )
    .await
    .unwrap();
    let db = StateDb::open_in_memory().await.unwrap();
    let (sa, sb) = (store(&a), store(&b));
    Sync::new(&sa, &sb, &db, &job, SyncOptions::default())
        .run()
        .await
        .unwrap();

    // Deleted on A; the delete on B meets an edit made on B meanwhile.
    a.delete(&format!("{ca}x.ics")).await.unwrap();
    let sb = Meddled {
        inner: store(&b),
        server_url: b.base_url().to_owned(),
        edit: event("kept alive on B", "20250301T000000Z"),
        done: AtomicBool::new(false),
    };
    let job_forced = SyncJob {
        mass_delete_guard: 1.0,
        ..job.clone()
    };
    let options = SyncOptions {
        force_delete: true,
        ..SyncOptions::default()
    };
    let report = Sync::new(&sa, &sb, &db, &job_forced, options)
        .run()
        .await
        .unwrap();
    assert!(report.clean(), "{report:#?}");
    // Modify beats delete: the fresh edit survives and comes back to A.
    assert_eq!(summary(&b, &cb).await, ["kept alive on B"]);
    assert_eq!(summary(&a, &ca).await, ["kept alive on B"]);
}
