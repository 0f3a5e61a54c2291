//! Pushed changes end to end: Microsoft 365 / Power Automate event webhooks through
//! `calport serve`'s routes into a real Radicale calendar — create, update, delete,
//! repeated and out-of-order deliveries, series with exceptions, two sources carrying
//! one meeting, refused requests that write nothing, Graph's validation handshake, and
//! dead letters for a target that refuses.

use std::time::Duration;

use calport_server::Config;
use calport_testkit::{DavServer, ServerKind};
use serde_json::{Value, json};
use tokio::sync::watch;

struct Service {
    base: String,
    key: String,
    client: reqwest::Client,
    _stop: watch::Sender<bool>,
    _worker_stop: watch::Sender<bool>,
    dir: tempfile::TempDir,
}

impl Service {
    async fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let config = Config::load(dir.path(), env).unwrap();
        let app = calport_server::open(config).await.unwrap();
        let key = calport_server::api::system::new_key(&app, "test")
            .await
            .unwrap()
            .key;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, mut rx) = watch::channel(false);
        let (worker_stop, worker_rx) = watch::channel(false);
        tokio::spawn(calport_server::worker::run(
            app.clone(),
            calport_server::worker::worker_id(),
            worker_rx,
        ));
        let router = calport_server::api::router(app);
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
                .unwrap();
        });
        Service {
            base,
            key,
            client: reqwest::Client::new(),
            _stop: stop,
            _worker_stop: worker_stop,
            dir,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, value) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// An account on the server and a source writing into `calendar` there; returns
    /// the source's key.
    async fn source(
        &self,
        server: &DavServer,
        id: &str,
        calendar: &str,
        priority: i64,
        conflict: &str,
    ) -> (String, String) {
        let accounts = self.get("/api/accounts").await;
        let account = match accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "radicale")
        {
            Some(a) => a["id"].as_i64().unwrap(),
            None => {
                let (status, a) = self
                    .post(
                        "/api/accounts",
                        json!({"name": "radicale", "url": format!("{}/", server.base_url()),
                               "username": server.username(), "password": server.password()}),
                    )
                    .await;
                assert_eq!(status, 201, "{a}");
                a["id"].as_i64().unwrap()
            }
        };
        let (status, made) = self
            .post(
                "/api/sources",
                json!({"id": id, "name": format!("Tenant {id}"), "account_id": account,
                       "calendar": calendar, "priority": priority, "conflict": conflict}),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        assert!(made["key"].as_str().unwrap().starts_with("cps_"));
        (
            made["key"].as_str().unwrap().to_owned(),
            made["client_state"].as_str().unwrap().to_owned(),
        )
    }

    /// Posts a webhook as a source would; returns the status and body.
    async fn hook(&self, action: &str, source: &str, key: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/api/webhook/event/{action}", self.base))
            .header("X-Calendar-Source", source)
            .header("X-API-Key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Posts a webhook that must be accepted, waits until it is applied and returns
    /// its inbox entry.
    async fn apply(&self, action: &str, source: &str, key: &str, body: &Value) -> Value {
        let (status, accepted) = self.hook(action, source, key, body).await;
        assert_eq!(status, 202, "{accepted}");
        assert_eq!(accepted["status"], "accepted");
        let request = accepted["request_id"].as_str().unwrap().to_owned();
        self.wait_entry(&request, "done").await
    }

    async fn wait_entry(&self, request: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let entry = self.get(&format!("/api/inbox/{request}")).await;
            if entry["state"] == state {
                return entry;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "request {request} never became {state}: {entry}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A Graph event (PROTOCOLS 4.1) in W. Europe Standard Time.
fn graph_event(id: &str, ical_uid: &str, subject: &str, modified: &str) -> Value {
    json!({
        "@odata.etag": "W/\"DwAAABYAAAA\"",
        "id": id,
        "iCalUId": ical_uid,
        "type": "singleInstance",
        "subject": subject,
        "body": {"contentType": "html", "content": "<html><body><p>Agenda: <b>budget</b></p></body></html>"},
        "start": {"dateTime": "2026-12-14T09:00:00.0000000", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-12-14T10:30:00.0000000", "timeZone": "W. Europe Standard Time"},
        "isAllDay": false,
        "location": {"displayName": "Room 4.12"},
        "showAs": "busy",
        "sensitivity": "normal",
        "categories": ["Planning"],
        "isReminderOn": true,
        "reminderMinutesBeforeStart": 15,
        "organizer": {"emailAddress": {"name": "Ada", "address": "ada@contoso.example"}},
        "attendees": [{"type": "required", "status": {"response": "accepted"},
                       "emailAddress": {"name": "Bo", "address": "bo@contoso.example"}}],
        "createdDateTime": "2026-12-01T08:00:00.0000000Z",
        "lastModifiedDateTime": modified,
    })
}

/// The lines of property `name` in the item's VEVENTs (VTIMEZONEs left out); the
/// values written here stay short enough not to be folded.
fn property<'a>(ics: &'a str, name: &str) -> Vec<&'a str> {
    let mut in_zone = false;
    ics.split("\r\n")
        .filter(|line| {
            match *line {
                "BEGIN:VTIMEZONE" => in_zone = true,
                "END:VTIMEZONE" => in_zone = false,
                _ => {}
            }
            !in_zone
                && line
                    .split([':', ';'])
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .collect()
}

async fn items(server: &DavServer, calendar: &str) -> Vec<calport_testkit::Resource> {
    server.list(calendar).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_created_updated_and_deleted_exactly_once() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let calendar = radicale.calendar_path().to_owned();
    let service = Service::start(&[]).await;
    let (key, _) = service
        .source(&radicale, "contoso", &calendar, 0, "last_write_wins")
        .await;

    // Created.
    let v1 = graph_event(
        "AAMkAD-1",
        "040000008200E001",
        "Budget review",
        "2026-12-02T10:00:00Z",
    );
    let entry = service.apply("created", "contoso", &key, &v1).await;
    assert_eq!(entry["outcome"], "create", "{entry}");
    let stored = items(&radicale, &calendar).await;
    assert_eq!(stored.len(), 1);
    let ics = stored[0].text();
    assert_eq!(property(&ics, "SUMMARY"), ["SUMMARY:Budget review"]);
    assert!(
        property(&ics, "DTSTART")
            .iter()
            .any(|l| l.contains("TZID=Europe/Berlin") && l.ends_with(":20261214T090000")),
        "{ics}"
    );
    assert!(ics.contains("BEGIN:VTIMEZONE"), "{ics}");
    assert!(ics.contains("Agenda: budget"), "{ics}");
    assert!(ics.contains("SCHEDULE-AGENT=CLIENT"), "{ics}");
    let uid = property(&ics, "UID")[0]
        .trim_start_matches("UID:")
        .to_owned();
    assert!(uid.starts_with("calport-m365-"), "{uid}");
    let first_etag = stored[0].etag.clone();

    // Updated with a newer version.
    let v2 = graph_event(
        "AAMkAD-1",
        "040000008200E001",
        "Budget review (moved)",
        "2026-12-02T11:00:00Z",
    );
    let entry = service.apply("updated", "contoso", &key, &v2).await;
    assert_eq!(entry["outcome"], "update", "{entry}");
    let stored = items(&radicale, &calendar).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        property(&stored[0].text(), "SUMMARY"),
        ["SUMMARY:Budget review (moved)"]
    );
    assert_eq!(property(&stored[0].text(), "UID"), [format!("UID:{uid}")]);
    assert_ne!(stored[0].etag, first_etag);
    let etag_after_update = stored[0].etag.clone();

    // The same delivery again, and "created" for the existing event with the same
    // version: nothing written.
    let entry = service.apply("updated", "contoso", &key, &v2).await;
    assert_eq!(entry["outcome"], "skip", "{entry}");
    assert!(
        entry["history"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("duplicate")
    );
    let entry = service.apply("created", "contoso", &key, &v2).await;
    assert_eq!(entry["outcome"], "skip", "{entry}");

    // An older version delivered late: ignored and logged.
    let stale = graph_event(
        "AAMkAD-1",
        "040000008200E001",
        "Budget review (old)",
        "2026-12-02T10:30:00Z",
    );
    let entry = service.apply("updated", "contoso", &key, &stale).await;
    assert_eq!(entry["outcome"], "skip", "{entry}");
    assert!(
        entry["history"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("out of order"),
        "{entry}"
    );
    let stored = items(&radicale, &calendar).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].etag, etag_after_update, "nothing was written");

    // "created" with a newer version of an existing event is an update.
    let v3 = graph_event(
        "AAMkAD-1",
        "040000008200E001",
        "Budget review v3",
        "2026-12-02T12:00:00Z",
    );
    let entry = service.apply("created", "contoso", &key, &v3).await;
    assert_eq!(entry["outcome"], "update", "{entry}");

    // A Power Automate V3 payload, all day, for a second event.
    let flow = json!({
        "id": "AAMkAD-PA-7", "iCalUId": "040000008200E0PA", "subject": "Offsite",
        "body": "<p>Bring laptops</p>", "isHtml": true,
        "start": "2026-12-18T00:00:00.0000000", "end": "2026-12-19T00:00:00.0000000",
        "timeZone": "UTC", "isAllDay": true, "location": "Lisbon",
        "requiredAttendees": "ada@contoso.example;", "optionalAttendees": "",
        "organizer": "bo@contoso.example", "showAs": "free", "sensitivity": "private",
        "importance": "high", "categories": [], "recurrence": "none",
        "lastModifiedDateTime": "2026-12-02T09:00:00Z", "actionType": "added",
    });
    let entry = service.apply("created", "contoso", &key, &flow).await;
    assert_eq!(entry["outcome"], "create", "{entry}");
    let stored = items(&radicale, &calendar).await;
    assert_eq!(stored.len(), 2);
    let offsite = stored
        .iter()
        .map(|r| r.text())
        .find(|t| t.contains("Offsite"))
        .unwrap();
    assert!(offsite.contains("DTSTART;VALUE=DATE:20261218"), "{offsite}");
    assert!(offsite.contains("TRANSP:TRANSPARENT"), "{offsite}");
    assert!(offsite.contains("CLASS:PRIVATE"), "{offsite}");

    // A flow posting every change to one route: its actionType "deleted" is a delete.
    let mut flow_deleted = flow.clone();
    flow_deleted["actionType"] = json!("deleted");
    let entry = service
        .apply("updated", "contoso", &key, &flow_deleted)
        .await;
    assert_eq!(
        (entry["action"].as_str(), entry["outcome"].as_str()),
        (Some("deleted"), Some("delete")),
        "{entry}"
    );
    let entry = service.apply("created", "contoso", &key, &flow).await;
    assert_eq!(
        entry["outcome"], "skip",
        "the late \"added\" of a deleted event: {entry}"
    );
    let flow2 = json!({"id": "AAMkAD-PA-8", "subject": "Offsite", "isHtml": false,
                       "start": "2026-12-18T00:00:00.0000000", "end": "2026-12-19T00:00:00.0000000",
                       "timeZone": "UTC", "isAllDay": true, "showAs": "free", "sensitivity": "private",
                       "lastModifiedDateTime": "2026-12-02T09:00:00Z", "actionType": "added"});
    let entry = service.apply("created", "contoso", &key, &flow2).await;
    assert_eq!(entry["outcome"], "create", "{entry}");

    // Deleted: the item goes; a repeated delete and a late "created" change nothing.
    let gone = json!({"id": "AAMkAD-1", "iCalUId": "040000008200E001"});
    let entry = service.apply("deleted", "contoso", &key, &gone).await;
    assert_eq!(entry["outcome"], "delete", "{entry}");
    let entry = service.apply("deleted", "contoso", &key, &gone).await;
    assert_eq!(entry["outcome"], "skip", "{entry}");
    let entry = service.apply("created", "contoso", &key, &v3).await;
    assert_eq!(entry["outcome"], "skip", "{entry}");
    let stored = items(&radicale, &calendar).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].text().contains("Offsite"));

    // What the API tells about it.
    let events = service.get("/api/events?source=contoso").await;
    let statuses: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("AAMkAD-1".into(), "deleted".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("AAMkAD-PA-7".into(), "deleted".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("AAMkAD-PA-8".into(), "active".into())),
        "{statuses:?}"
    );
    let deleted = service
        .get("/api/events?source=contoso&status=deleted")
        .await;
    assert_eq!(deleted.as_array().unwrap().len(), 2);
    let history = service
        .get("/api/ingest/history?source=contoso&limit=100")
        .await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create", "update", "skip", "skip", "skip", "update", "create", "delete", "skip",
            "create", "delete", "skip", "skip"
        ]
    );
    assert!(
        history[0]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    let sources = service.get("/api/sources").await;
    assert_eq!(sources[0]["id"], "contoso");
    assert_eq!(sources[0]["inbox"]["done"], 13);
    assert_eq!(sources[0]["events"]["active"], 1);
    assert!(sources[0]["last_received_at"].as_i64().is_some());
    assert!(sources[0].get("key").is_none() && sources[0].get("key_hash").is_none());
    let stats = service.get("/api/stats").await;
    assert_eq!(stats["ingest"]["sources"], 1);
    assert_eq!(stats["ingest"]["inbox"]["done"], 13);
    assert_eq!(stats["ingest"]["decisions"]["create"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_carries_its_exception_and_cancelled_occurrence() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let calendar = radicale.calendar_path().to_owned();
    let service = Service::start(&[]).await;
    let (key, _) = service
        .source(&radicale, "fabrikam", &calendar, 0, "last_write_wins")
        .await;
    let zone = "Pacific Standard Time";
    // The exception arrives before its series: kept until the series comes.
    let exception = json!({
        "id": "EXC-1", "type": "exception", "seriesMasterId": "SERIES-1", "iCalUId": "SER-UID",
        "subject": "Standup (late start)",
        "originalStart": "2027-01-06T17:00:00Z", "originalStartTimeZone": zone,
        "start": {"dateTime": "2027-01-06T10:00:00.0000000", "timeZone": zone},
        "end": {"dateTime": "2027-01-06T10:30:00.0000000", "timeZone": zone},
        "lastModifiedDateTime": "2026-12-02T10:05:00Z",
    });
    let entry = service.apply("updated", "fabrikam", &key, &exception).await;
    assert_eq!(entry["outcome"], "skip", "{entry}");
    assert!(items(&radicale, &calendar).await.is_empty());
    let series = json!({
        "id": "SERIES-1", "type": "seriesMaster", "iCalUId": "SER-UID", "subject": "Standup",
        "start": {"dateTime": "2027-01-04T09:00:00.0000000", "timeZone": zone},
        "end": {"dateTime": "2027-01-04T09:15:00.0000000", "timeZone": zone},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "wednesday"],
                        "firstDayOfWeek": "monday"},
            "range": {"type": "numbered", "startDate": "2027-01-04", "numberOfOccurrences": 10,
                      "recurrenceTimeZone": zone}
        },
        "lastModifiedDateTime": "2026-12-02T10:00:00Z",
    });
    let entry = service.apply("created", "fabrikam", &key, &series).await;
    assert_eq!(entry["outcome"], "create", "{entry}");
    // One occurrence cancelled.
    let cancelled = json!({"id": "OCC-2", "seriesMasterId": "SERIES-1",
                           "originalStart": "2027-01-11T17:00:00Z"});
    let entry = service.apply("deleted", "fabrikam", &key, &cancelled).await;
    assert_eq!(entry["outcome"], "update", "{entry}");

    let stored = items(&radicale, &calendar).await;
    assert_eq!(stored.len(), 1, "one item for the whole series");
    let ics = stored[0].text();
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 2, "{ics}");
    let rrule = property(&ics, "RRULE");
    assert_eq!(rrule.len(), 1, "{ics}");
    assert!(
        rrule[0].contains("FREQ=WEEKLY") && rrule[0].contains("COUNT=10"),
        "{ics}"
    );
    assert!(rrule[0].contains("BYDAY=MO,WE"), "{ics}");
    let recurrence_id = property(&ics, "RECURRENCE-ID");
    assert_eq!(recurrence_id.len(), 1, "{ics}");
    assert!(
        recurrence_id[0].contains("TZID=America/Los_Angeles"),
        "{ics}"
    );
    assert!(recurrence_id[0].ends_with(":20270106T090000"), "{ics}");
    let exdate = property(&ics, "EXDATE");
    assert_eq!(exdate.len(), 1, "{ics}");
    assert!(exdate[0].ends_with("20270111T090000"), "{ics}");
    assert!(ics.contains("SUMMARY:Standup (late start)"), "{ics}");
    let parts = service.get("/api/events?source=fabrikam").await;
    assert_eq!(parts.as_array().unwrap().len(), 3, "{parts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_with_one_meeting_show_the_higher_priority() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let calendar = radicale.calendar_path().to_owned();
    let service = Service::start(&[]).await;
    let (low, _) = service
        .source(&radicale, "tenant-low", &calendar, 1, "priority_based")
        .await;
    let (high, _) = service
        .source(&radicale, "tenant-high", &calendar, 10, "priority_based")
        .await;
    let shared = "040000008200E00074C5B7101A82E008-SHARED";
    let summary = |items: &[calport_testkit::Resource]| -> Vec<String> {
        items
            .iter()
            .flat_map(|r| {
                property(&r.text(), "SUMMARY")
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    };

    let entry = service
        .apply(
            "created",
            "tenant-low",
            &low,
            &graph_event("LOW-1", shared, "From low", "2026-12-02T10:00:00Z"),
        )
        .await;
    assert_eq!(entry["outcome"], "create");
    assert_eq!(
        summary(&items(&radicale, &calendar).await),
        ["SUMMARY:From low"]
    );

    // The higher-priority source's copy replaces it: still one item.
    let entry = service
        .apply(
            "created",
            "tenant-high",
            &high,
            &graph_event("HIGH-1", shared, "From high", "2026-12-02T09:00:00Z"),
        )
        .await;
    assert_eq!(entry["outcome"], "update", "{entry}");
    assert_eq!(
        summary(&items(&radicale, &calendar).await),
        ["SUMMARY:From high"]
    );

    // A newer change from the lower-priority source does not win.
    let entry = service
        .apply(
            "updated",
            "tenant-low",
            &low,
            &graph_event("LOW-1", shared, "From low v2", "2026-12-02T12:00:00Z"),
        )
        .await;
    assert_eq!(entry["outcome"], "skip", "{entry}");
    assert_eq!(
        summary(&items(&radicale, &calendar).await),
        ["SUMMARY:From high"]
    );
    let low_events = service.get("/api/events?source=tenant-low").await;
    assert_eq!(low_events[0]["status"], "superseded");
    assert_eq!(low_events[0]["winner"], "tenant-high");

    // The higher one deletes its copy: the lower one's latest version comes back.
    let entry = service
        .apply(
            "deleted",
            "tenant-high",
            &high,
            &json!({"id": "HIGH-1", "iCalUId": shared}),
        )
        .await;
    assert_eq!(entry["outcome"], "update", "{entry}");
    assert_eq!(
        summary(&items(&radicale, &calendar).await),
        ["SUMMARY:From low v2"]
    );

    // Manual strategy: a third source's copy is parked until a person picks it.
    let (manual, _) = service
        .source(&radicale, "tenant-manual", &calendar, 0, "manual")
        .await;
    let entry = service
        .apply(
            "created",
            "tenant-manual",
            &manual,
            &graph_event("MAN-1", shared, "From manual", "2026-12-02T13:00:00Z"),
        )
        .await;
    assert_eq!(entry["outcome"], "conflict", "{entry}");
    assert_eq!(
        summary(&items(&radicale, &calendar).await),
        ["SUMMARY:From low v2"]
    );
    let conflicts = service.get("/api/ingest/conflicts?state=open").await;
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    assert_eq!(conflicts[0]["other_source"], "tenant-low");
    let id = conflicts[0]["id"].as_i64().unwrap();
    let (status, _) = service
        .post(
            &format!("/api/ingest/conflicts/{id}/resolve"),
            json!({"keep": "incoming"}),
        )
        .await;
    assert_eq!(status, 202);
    let request = conflicts[0]["request_id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let entry = service.get(&format!("/api/inbox/{request}")).await;
        if entry["state"] == "done" && entry["outcome"] == "update" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{entry}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        summary(&items(&radicale, &calendar).await),
        ["SUMMARY:From manual"]
    );
    let (status, again) = service
        .post(
            &format!("/api/ingest/conflicts/{id}/resolve"),
            json!({"keep": "existing"}),
        )
        .await;
    assert_eq!(status, 409, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_webhooks_write_nothing() {
    type Headers = Vec<(&'static str, String)>;
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let calendar = radicale.calendar_path().to_owned();
    let service = Service::start(&[("CALPORT_HTTP_MAX_BODY_BYTES", "65536")]).await;
    let (key, _) = service
        .source(&radicale, "a", &calendar, 0, "last_write_wins")
        .await;
    let (other_key, _) = service
        .source(&radicale, "b", &calendar, 0, "last_write_wins")
        .await;
    let good = graph_event("E1", "U1", "Hello", "2026-12-02T10:00:00Z");
    let url = format!("{}/api/webhook/event/created", service.base);
    let send = |headers: Headers, body: String| {
        let mut req = service
            .client
            .post(&url)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let resp = req.body(body).send().await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, value)
        }
    };
    let src = |s: &str| ("X-Calendar-Source", s.to_owned());
    let api = |k: &str| ("X-API-Key", k.to_owned());

    // (what, headers, body, status, error code, field)
    type Case<'a> = (&'a str, Headers, String, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            "no key",
            vec![src("a")],
            good.to_string(),
            401,
            "unauthorized",
            None,
        ),
        (
            "wrong key",
            vec![
                src("a"),
                api("cps_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ],
            good.to_string(),
            401,
            "unauthorized",
            None,
        ),
        (
            "admin key",
            vec![
                src("a"),
                ("Authorization", format!("Bearer {}", service.key)),
            ],
            good.to_string(),
            401,
            "unauthorized",
            None,
        ),
        (
            "other source's key",
            vec![src("a"), api(&other_key)],
            good.to_string(),
            403,
            "wrong_source",
            None,
        ),
        (
            "unknown source",
            vec![src("nope"), api(&key)],
            good.to_string(),
            404,
            "unknown_source",
            None,
        ),
        (
            "no source header",
            vec![api(&key)],
            good.to_string(),
            400,
            "bad_request",
            Some("X-Calendar-Source"),
        ),
        (
            "not JSON",
            vec![src("a"), api(&key)],
            "{\"id\": ".to_owned(),
            400,
            "malformed_json",
            Some("body"),
        ),
        (
            "an array",
            vec![src("a"), api(&key)],
            "[1,2]".to_owned(),
            400,
            "malformed_json",
            Some("body"),
        ),
        (
            "no id",
            vec![src("a"), api(&key)],
            {
                let mut v = good.clone();
                v.as_object_mut().unwrap().remove("id");
                v.to_string()
            },
            422,
            "invalid",
            Some("id"),
        ),
        (
            "no start",
            vec![src("a"), api(&key)],
            {
                let mut v = good.clone();
                v.as_object_mut().unwrap().remove("start");
                v.to_string()
            },
            422,
            "invalid",
            Some("start"),
        ),
        (
            "unknown time zone",
            vec![src("a"), api(&key)],
            {
                let mut v = good.clone();
                v["start"]["timeZone"] = json!("Mars Standard Time");
                v.to_string()
            },
            422,
            "unknown_time_zone",
            Some("start.timeZone"),
        ),
        (
            "too large",
            vec![src("a"), api(&key)],
            {
                let mut v = good.clone();
                v["subject"] = json!("x".repeat(70_000));
                v.to_string()
            },
            413,
            "payload_too_large",
            None,
        ),
    ];
    for (what, headers, body, status, code, field) in cases {
        let (got, answer) = send(headers, body).await;
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
        if let Some(field) = field {
            assert_eq!(answer["error"]["field"], field, "{what}: {answer}");
        }
    }
    // Bearer works as well as X-API-Key; an unknown action is 404.
    let (got, answer) = send(
        vec![src("a"), ("Authorization", format!("Bearer {key}"))],
        good.to_string(),
    )
    .await;
    assert_eq!(got, 202, "{answer}");
    let (status, _) = service
        .client
        .post(format!("{}/api/webhook/event/renamed", service.base))
        .header("X-Calendar-Source", "a")
        .header("X-API-Key", &key)
        .body(good.to_string())
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 404);
    let request = answer["request_id"].as_str().unwrap();
    service.wait_entry(request, "done").await;
    // Only the one accepted webhook reached the inbox and the calendar.
    let stats = service.get("/api/stats").await;
    assert_eq!(stats["ingest"]["inbox"], json!({"done": 1}), "{stats}");
    assert_eq!(items(&radicale, &calendar).await.len(), 1);
    // A disabled source is refused too.
    let (status, _) = service
        .call(
            reqwest::Method::PATCH,
            "/api/sources/a",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 200);
    let (got, answer) = send(vec![src("a"), api(&key)], good.to_string()).await;
    assert_eq!(
        (got, answer["error"]["code"].as_str()),
        (403, Some("source_disabled"))
    );
    // A rotated key: the old one stops working.
    let (status, rotated) = service.post("/api/sources/b/rotate-key", json!({})).await;
    assert_eq!(status, 200);
    let (got, _) = send(vec![src("b"), api(&other_key)], good.to_string()).await;
    assert_eq!(got, 401);
    let new_key = rotated["key"].as_str().unwrap();
    let (got, answer) = send(vec![src("b"), api(new_key)], good.to_string()).await;
    assert_eq!(got, 202, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_notifications_answer_the_handshake_and_check_client_state() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let service = Service::start(&[]).await;
    let (_, client_state) = service
        .source(
            &radicale,
            "graph",
            radicale.calendar_path(),
            0,
            "last_write_wins",
        )
        .await;
    let url = format!("{}/api/webhook/graph/graph", service.base);
    let resp = service
        .client
        .post(format!(
            "{url}?validationToken=Validation%3A%20Testing%20client%20application"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        resp.text().await.unwrap(),
        "Validation: Testing client application"
    );
    let batch = |state: &str| {
        json!({"value": [{
            "subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
            "subscriptionExpirationDateTime": "2026-12-05T11:00:00.0000000Z",
            "changeType": "updated", "clientState": state, "tenantId": "84bd8158",
            "resource": "Users/ada/Events/AAMkAGI2",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": "Users/ada/Events/AAMkAGI2",
                             "@odata.etag": "W/\"CQAAABYAAAA\"", "id": "AAMkAGI2"}
        }]})
    };
    let wrong = service
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(batch("not-the-state").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let unknown = service
        .client
        .post(format!("{}/api/webhook/graph/nobody", service.base))
        .header("content-type", "application/json")
        .body(batch(&client_state).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 401);
    let right = service
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(batch(&client_state).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 202);
    let body: Value = serde_json::from_slice(&right.bytes().await.unwrap()).unwrap();
    assert_eq!(body["event_id"], "AAMkAGI2");
    let entry = service
        .wait_entry(body["request_id"].as_str().unwrap(), "done")
        .await;
    assert_eq!(entry["outcome"], "noted", "{entry}");
    assert_eq!(entry["action"], "notification");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_refuses_parks_the_change_as_a_dead_letter_until_retried() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let service = Service::start(&[
        ("CALPORT_INGEST_MAX_ATTEMPTS", "3"),
        ("CALPORT_INGEST_RETRY_SECONDS", "1"),
    ])
    .await;
    // A calendar that does not exist yet: Radicale refuses every write into it.
    let missing = "/alice/not-yet/";
    let (key, _) = service
        .source(&radicale, "late", missing, 0, "last_write_wins")
        .await;
    let (status, accepted) = service
        .hook(
            "created",
            "late",
            &key,
            &graph_event("E9", "U9", "Later", "2026-12-02T10:00:00Z"),
        )
        .await;
    assert_eq!(status, 202);
    let request = accepted["request_id"].as_str().unwrap();
    let entry = service.wait_entry(request, "dead").await;
    assert_eq!(entry["attempts"], 3, "{entry}");
    assert!(
        entry["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{entry}"
    );
    let actions: Vec<&str> = entry["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["retry", "retry", "dead"]);
    let letters = service.get("/api/dead-letters?state=open").await;
    let letter = letters
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "inbox")
        .expect("an inbox dead letter")
        .clone();
    assert_eq!(letter["uid"], request);
    assert!(letter["payload"].as_str().unwrap().contains("\"E9\""));

    // The calendar is made; a retry applies the change once.
    radicale
        .mkcalendar(missing, "Not yet", &[], None)
        .await
        .unwrap();
    let id = letter["id"].as_i64().unwrap();
    let (status, _) = service
        .post(&format!("/api/dead-letters/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, 202);
    let entry = service.wait_entry(request, "done").await;
    assert_eq!(entry["outcome"], "create", "{entry}");
    assert_eq!(items(&radicale, missing).await.len(), 1);
    let letters = service.get("/api/dead-letters").await;
    assert!(
        letters
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["uid"] != request),
        "the dead letter is cleared once applied: {letters}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_postgresql_apply_each_webhook_once() {
    let (url, _database) = calport_state::testing::fresh_postgres_url()
        .await
        .unwrap_or_else(|e| panic!("no PostgreSQL database for this test: {e}"));
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let calendar = radicale.calendar_path().to_owned();
    let shared = [
        ("CALPORT_DATABASE_URL", url.as_str()),
        ("CALPORT_INGEST_BATCH", "4"),
    ];
    // The first process serves and applies; a second worker process shares the inbox.
    let service = Service::start(&shared).await;
    let (key, _) = service
        .source(&radicale, "pg", &calendar, 0, "last_write_wins")
        .await;
    // Both processes need the same secret key to read the account's password (in
    // production: one CALPORT_SECRET_KEY); here the second gets the first's key file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        service.dir.path().join("secret.key"),
        dir.path().join("secret.key"),
    )
    .unwrap();
    let env = shared
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    let other = calport_server::open(Config::load(dir.path(), env).unwrap())
        .await
        .unwrap();
    let (stop_other, other_rx) = watch::channel(false);
    let second = tokio::spawn(calport_server::worker::run(
        other,
        "second-worker".to_owned(),
        other_rx,
    ));
    let mut requests = Vec::new();
    for n in 0..30 {
        let body = graph_event(
            &format!("PG-{n}"),
            &format!("PGU-{n}"),
            &format!("Meeting {n}"),
            "2026-12-02T10:00:00Z",
        );
        let (status, accepted) = service.hook("created", "pg", &key, &body).await;
        assert_eq!(status, 202, "{accepted}");
        requests.push(accepted["request_id"].as_str().unwrap().to_owned());
    }
    for request in &requests {
        let entry = service.wait_entry(request, "done").await;
        assert_eq!(entry["outcome"], "create", "{entry}");
        assert_eq!(entry["history"].as_array().unwrap().len(), 1, "{entry}");
    }
    let stored = items(&radicale, &calendar).await;
    assert_eq!(stored.len(), 30, "each webhook once");
    let history = service
        .get("/api/ingest/history?source=pg&action=create&limit=1000")
        .await;
    assert_eq!(history.as_array().unwrap().len(), 30);
    let _ = stop_other.send(true);
    tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .unwrap()
        .unwrap();
}
