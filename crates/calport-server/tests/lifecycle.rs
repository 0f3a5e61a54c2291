//! A job's whole life through the REST API, against real Radicale (source) and Xandikos
//! (destination): accounts, discovery, a job, start, pause mid-run, resume, completion;
//! stats that match the destination, logs, and a signed webhook delivered to a local
//! receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use calport_secure::webhooks::{WebhookHeaders, WebhookSecret};
use calport_server::Config;
use calport_testkit::{DavServer, ServerKind};
use serde_json::{Value, json};
use tokio::sync::watch;

const EVENTS: usize = 120;

struct Service {
    base: String,
    key: String,
    client: reqwest::Client,
    _stop: watch::Sender<bool>,
    worker_stop: watch::Sender<bool>,
    worker: Option<tokio::task::JoinHandle<()>>,
    app: calport_server::App,
    _dir: tempfile::TempDir,
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
        let (stop, rx) = watch::channel(false);
        let (worker_stop, worker_rx) = watch::channel(false);
        let worker = tokio::spawn(calport_server::worker::run(
            app.clone(),
            calport_server::worker::worker_id(),
            worker_rx,
        ));
        let router = calport_server::api::router(app.clone());
        let mut rx2 = rx;
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx2.wait_for(|s| *s).await;
                })
                .await
                .unwrap();
        });
        Service {
            base,
            key,
            client: reqwest::Client::new(),
            _stop: stop,
            worker_stop,
            worker: Some(worker),
            app,
            _dir: dir,
        }
    }

    /// Stops the worker (as on SIGTERM) and waits until it is gone.
    async fn stop_worker(&mut self) {
        let _ = self.worker_stop.send(true);
        if let Some(worker) = self.worker.take() {
            tokio::time::timeout(Duration::from_secs(30), worker)
                .await
                .expect("the worker stops within its grace time")
                .unwrap();
        }
    }

    /// Starts a new worker on the same database (as after a restart).
    fn start_worker(&mut self) {
        let (worker_stop, worker_rx) = watch::channel(false);
        self.worker_stop = worker_stop;
        self.worker = Some(tokio::spawn(calport_server::worker::run(
            self.app.clone(),
            calport_server::worker::worker_id(),
            worker_rx,
        )));
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
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, value) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Polls a run until `done(run)` or the time is up.
    async fn wait_run(&self, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let run = self.get(&format!("/api/runs/{id}")).await;
            if done(&run) {
                return run;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {id} never reached {what}: {run}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A local webhook receiver that records every request.
async fn receiver() -> (String, Arc<Mutex<Vec<(HeaderMap, Bytes)>>>) {
    let seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let store = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = Arc::clone(&store);
            async move {
                store.lock().unwrap().push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn calendar(n: usize) -> String {
    let mut text =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\n");
    for i in 0..n {
        text.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:life-{i}\r\nDTSTAMP:20250101T000000Z\r\n\
             DTSTART:20261201T{:02}0000Z\r\nDURATION:PT1H\r\nSUMMARY:Event {i}\r\nEND:VEVENT\r\n",
            i % 24
        ));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_pauses_resumes_completes_and_reports() {
    let source = DavServer::start(ServerKind::Radicale).await.unwrap();
    let target = DavServer::start(ServerKind::Xandikos).await.unwrap();
    source
        .put_collection_bulk("/alice/calendar/", calendar(EVENTS).as_bytes())
        .await
        .unwrap();
    let (hook_url, deliveries) = receiver().await;
    let service = Service::start(&[
        ("CALPORT_WORKER_POLL_SECONDS", "1"),
        ("CALPORT_WORKER_LEASE_SECONDS", "10"),
        ("CALPORT_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
        // One write at a time makes the run long enough to pause in the middle.
        ("CALPORT_REMOTE_CONCURRENCY", "1"),
    ])
    .await;

    // Accounts: a wrong password first, then the right one.
    let (status, wrong) = service
        .post(
            "/api/accounts",
            json!({"name": "radicale", "url": format!("{}/", source.base_url()),
                   "username": "alice", "password": "wrong"}),
        )
        .await;
    assert_eq!(status, 201, "{wrong}");
    let a = wrong["id"].as_i64().unwrap();
    let (_, test) = service
        .post(&format!("/api/accounts/{a}/test"), json!({}))
        .await;
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(test["problem"], "unauthorized", "{test}");
    let (status, _) = service
        .call(
            reqwest::Method::PATCH,
            &format!("/api/accounts/{a}"),
            Some(json!({"password": source.password()})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, test) = service
        .post(&format!("/api/accounts/{a}/test"), json!({}))
        .await;
    assert_eq!(test["ok"], true, "{test}");
    let found = test["collections"].as_array().unwrap();
    let cal = found
        .iter()
        .find(|c| c["href"] == "/alice/calendar/")
        .expect("calendar found");
    assert_eq!(cal["items"], EVENTS as u64);
    let (_, b) = service
        .post(
            "/api/accounts",
            json!({"name": "xandikos", "url": format!("{}/", target.base_url()),
                   "username": "user", "password": "unused"}),
        )
        .await;
    let b = b["id"].as_i64().unwrap();
    let collections = service.get(&format!("/api/accounts/{b}/collections")).await;
    assert!(
        collections
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "calendar")
    );

    // A one-way job into Xandikos' default calendar, with a webhook.
    let (status, job) = service
        .post(
            "/api/sync-jobs",
            json!({"name": "life", "a_account_id": a, "b_account_id": b,
                   "options": {"direction": "a-to-b", "contacts": false, "tasks": false,
                               "pairs": [{"a": "/alice/calendar/", "b": target.calendar_path()}]}}),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let job = job["id"].as_i64().unwrap();
    let (status, hook) = service
        .post("/api/webhooks", json!({"url": hook_url, "job_id": job}))
        .await;
    assert_eq!(status, 201, "{hook}");
    let secret = WebhookSecret::parse(hook["secret"].as_str().unwrap()).unwrap();

    // Start, pause in the middle, resume.
    let (status, run) = service
        .post(&format!("/api/sync-jobs/{job}/start"), json!({}))
        .await;
    assert_eq!(status, 202, "{run}");
    let run = run["id"].as_i64().unwrap();
    service
        .wait_run(run, "progress", |r| {
            r["progress"]["items_done"].as_u64().unwrap_or(0) >= 3
        })
        .await;
    let (status, _) = service
        .post(&format!("/api/sync-jobs/{job}/pause"), json!({}))
        .await;
    assert_eq!(status, 202);
    let paused = service
        .wait_run(run, "paused", |r| r["state"] == "paused")
        .await;
    let written_before = target.list(target.calendar_path()).await.unwrap().len();
    assert!(
        written_before > 0 && written_before < EVENTS,
        "paused mid-run: {written_before} of {EVENTS} written"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        target.list(target.calendar_path()).await.unwrap().len(),
        written_before,
        "nothing is written while paused"
    );
    let plog = service.get(&format!("/api/runs/{run}/logs")).await;
    assert_eq!(
        paused["stats"]["events"]["created"]
            .as_u64()
            .map(|n| n as usize),
        Some(written_before),
        "{paused}\n{plog}"
    );
    let (status, _) = service
        .post(&format!("/api/sync-jobs/{job}/resume"), json!({}))
        .await;
    assert_eq!(status, 202);
    let done = service
        .wait_run(run, "the end", |r| {
            !matches!(r["state"].as_str(), Some("queued" | "running" | "paused"))
        })
        .await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["progress"]["percent"], 100.0);
    assert_eq!(done["attempts"], 2);

    // Stats match the destination, which holds every event once.
    let on_target = target.list(target.calendar_path()).await.unwrap();
    assert_eq!(on_target.len(), EVENTS);
    assert_eq!(done["stats"]["events"]["created"], EVENTS as u64, "{done}");
    assert_eq!(done["stats"]["events"]["failed"], 0);

    // Logs: present, filterable.
    let logs = service.get(&format!("/api/runs/{run}/logs")).await;
    assert!(logs["lines"].as_array().unwrap().len() >= 3, "{logs}");
    let paused_lines = service.get(&format!("/api/runs/{run}/logs?q=PAUSED")).await;
    assert!(
        !paused_lines["lines"].as_array().unwrap().is_empty(),
        "{logs}"
    );

    // The webhook arrived, signed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (headers, body) = loop {
        if let Some(first) = deliveries.lock().unwrap().first().cloned() {
            break first;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no webhook delivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    calport_secure::webhooks::verify(
        &secret,
        WebhookHeaders {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
        },
        &body,
        now,
        Duration::from_secs(300),
    )
    .expect("a valid Standard Webhooks signature");
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["type"], "run.finished");
    assert_eq!(event["data"]["status"], "success");
    assert_eq!(event["data"]["run_id"], run);
    assert_eq!(event["data"]["stats"]["events"]["created"], EVENTS as u64);
    let log = service
        .get(&format!("/api/webhooks/{}/deliveries", hook["id"]))
        .await;
    assert_eq!(log[0]["state"], "delivered", "{log}");
    assert_eq!(log[0]["last_status"], 200);
    assert_eq!(deliveries.lock().unwrap().len(), 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_hands_its_run_back_and_a_restart_finishes_it() {
    let source = DavServer::start(ServerKind::Radicale).await.unwrap();
    let target = DavServer::start(ServerKind::Xandikos).await.unwrap();
    source
        .put_collection_bulk("/alice/calendar/", calendar(EVENTS).as_bytes())
        .await
        .unwrap();
    let mut service = Service::start(&[
        ("CALPORT_WORKER_POLL_SECONDS", "1"),
        ("CALPORT_WORKER_LEASE_SECONDS", "60"),
        ("CALPORT_REMOTE_CONCURRENCY", "1"),
    ])
    .await;
    let (_, a) = service
        .post(
            "/api/accounts",
            json!({"name": "a", "url": format!("{}/", source.base_url()),
                   "username": "alice", "password": source.password()}),
        )
        .await;
    let (_, b) = service
        .post(
            "/api/accounts",
            json!({"name": "b", "url": format!("{}/", target.base_url()),
                   "username": "user", "password": "x"}),
        )
        .await;
    let (status, job) = service
        .post(
            "/api/sync-jobs",
            json!({"name": "restart", "kind": "migrate", "a_account_id": a["id"], "b_account_id": b["id"],
                   "options": {"contacts": false, "tasks": false, "verify": false}}),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let (_, run) = service
        .post(&format!("/api/sync-jobs/{}/start", job["id"]), json!({}))
        .await;
    let run = run["id"].as_i64().unwrap();
    service
        .wait_run(run, "progress", |r| {
            r["progress"]["items_done"].as_u64().unwrap_or(0) >= 3
        })
        .await;
    // SIGTERM-like stop: the run is handed back (not left to its 60 s lease).
    service.stop_worker().await;
    let handed_back = service.get(&format!("/api/runs/{run}")).await;
    assert_eq!(handed_back["state"], "queued", "{handed_back}");
    assert!(
        handed_back["worker"].is_null(),
        "lease released: {handed_back}"
    );
    let partial = target.list(target.calendar_path()).await.unwrap().len();
    assert!(partial < EVENTS, "stopped mid-run: {partial}");
    service.start_worker();
    let done = service
        .wait_run(run, "the end", |r| r["state"] == "completed")
        .await;
    assert_eq!(done["attempts"], 2, "{done}");
    let uids: std::collections::BTreeSet<String> = target
        .list(target.calendar_path())
        .await
        .unwrap()
        .iter()
        .map(|r| calport_ical::inspect(&r.body).unwrap().uid)
        .collect();
    assert_eq!(uids.len(), EVENTS, "every event once");
    assert_eq!(
        target.list(target.calendar_path()).await.unwrap().len(),
        EVENTS
    );
}
