//! Durable inbox across crashes of the real `calport serve` binary: webhooks answered
//! 202 and not yet applied survive a `kill -9` and are applied after the restart, exactly
//! once — also when the process dies in the middle of applying them. Real Radicale,
//! real SQLite.

mod common;

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use calport_testkit::{DavServer, ServerKind};
use serde_json::{Value, json};

const SECRET_KEY: &str = "Y2FscG9ydC1pbmdlc3QtcmVzdGFydC10ZXN0LWtleTE=";

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A `calport serve` process, SIGKILLed when dropped.
struct Serve {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Serve {
    async fn start(data: &Path, name: &str, worker: bool, http: &reqwest::Client) -> Self {
        for _ in 0..3 {
            let port = free_port();
            let log = data.join(format!("{name}.log"));
            let file = File::create(&log).unwrap();
            let child = common::calport()
                .arg("serve")
                .env("CALPORT_DATA_DIR", data)
                .env("CALPORT_SECRET_KEY", SECRET_KEY)
                .env("CALPORT_LISTEN", format!("127.0.0.1:{port}"))
                .env("CALPORT_WORKER_ENABLED", worker.to_string())
                .env("CALPORT_INGEST_LEASE_SECONDS", "2")
                .env("CALPORT_LOG", "info")
                .stdout(Stdio::from(file.try_clone().unwrap()))
                .stderr(Stdio::from(file))
                .spawn()
                .expect("calport serve starts");
            let mut serve = Serve {
                child,
                base: format!("http://127.0.0.1:{port}"),
                log,
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && matches!(serve.child.try_wait(), Ok(None)) {
                if let Ok(r) = http.get(format!("{}/api/health", serve.base)).send().await
                    && r.status().is_success()
                {
                    return serve;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            serve.kill();
        }
        panic!("calport serve did not come up");
    }

    /// SIGKILL, as a crash.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

fn event(n: usize, subject: &str, modified: &str) -> Value {
    json!({
        "id": format!("AAMkAD-{n:04}"), "iCalUId": format!("ICAL-{n:04}"), "subject": subject,
        "start": {"dateTime": format!("2027-01-{:02}T09:00:00.0000000", 1 + n % 28), "timeZone": "Romance Standard Time"},
        "end": {"dateTime": format!("2027-01-{:02}T10:00:00.0000000", 1 + n % 28), "timeZone": "Romance Standard Time"},
        "lastModifiedDateTime": modified,
    })
}

async fn admin(
    http: &reqwest::Client,
    serve: &Serve,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let req = match &body {
        Some(body) => http
            .post(format!("{}{path}", serve.base))
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => http.get(format!("{}{path}", serve.base)),
    };
    let resp = req.bearer_auth(key).send().await.unwrap();
    let status = resp.status();
    let value: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

async fn hook(http: &reqwest::Client, serve: &Serve, key: &str, action: &str, body: &Value) {
    let resp = http
        .post(format!("{}/api/webhook/event/{action}", serve.base))
        .header("X-Calendar-Source", "tenant")
        .header("X-API-Key", key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
}

/// Waits until nothing is pending; returns the inbox counts.
async fn drained(http: &reqwest::Client, serve: &Serve, key: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stats = admin(http, serve, key, "/api/stats", None).await;
        if stats["ingest"]["inbox"].get("pending").is_none() {
            return stats["ingest"]["inbox"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "inbox never drained: {stats}\n{}",
            serve.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The SUMMARY of every item, by UID; panics on a UID stored twice.
async fn calendar(server: &DavServer) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for item in server.list(server.calendar_path()).await.unwrap() {
        let text = item.text();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let uid = field("UID:");
        assert!(
            out.insert(uid.clone(), field("SUMMARY:")).is_none(),
            "UID {uid} stored twice"
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_webhooks_survive_kill_9_and_are_applied_exactly_once() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let out = common::calport()
        .args(["apikey", "create", "--name", "restart test"])
        .env("CALPORT_DATA_DIR", &data)
        .env("CALPORT_SECRET_KEY", SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // 1. A serve without worker accepts webhooks, then dies before applying any.
    let mut serve = Serve::start(&data, "serve-1", false, &http).await;
    let account = admin(
        &http,
        &serve,
        &key,
        "/api/accounts",
        Some(json!({
        "name": "radicale", "url": format!("{}/", radicale.base_url()),
        "username": radicale.username(), "password": radicale.password()})),
    )
    .await;
    let made = admin(
        &http,
        &serve,
        &key,
        "/api/sources",
        Some(json!({
        "id": "tenant", "account_id": account["id"], "calendar": radicale.calendar_path()})),
    )
    .await;
    let source_key = made["key"].as_str().unwrap().to_owned();
    for n in 0..20 {
        hook(
            &http,
            &serve,
            &source_key,
            "created",
            &event(n, &format!("Event {n}"), "2026-12-02T10:00:00Z"),
        )
        .await;
    }
    for n in 0..5 {
        hook(
            &http,
            &serve,
            &source_key,
            "updated",
            &event(n, &format!("Event {n} v2"), "2026-12-02T11:00:00Z"),
        )
        .await;
    }
    // Repeated deliveries.
    for n in 0..3 {
        hook(
            &http,
            &serve,
            &source_key,
            "created",
            &event(n, &format!("Event {n}"), "2026-12-02T10:00:00Z"),
        )
        .await;
    }
    serve.kill();
    assert!(
        calendar(&radicale).await.is_empty(),
        "nothing was applied before the crash"
    );

    // 2. After the restart (with a worker) every accepted webhook is applied once.
    let mut serve = Serve::start(&data, "serve-2", true, &http).await;
    let inbox = drained(&http, &serve, &key).await;
    assert_eq!(inbox, json!({"done": 28}), "{}", serve.output());
    let items = calendar(&radicale).await;
    assert_eq!(items.len(), 20, "{items:?}");
    for n in 0..20 {
        let expected = if n < 5 {
            format!("Event {n} v2")
        } else {
            format!("Event {n}")
        };
        assert!(
            items.values().any(|s| *s == expected),
            "{expected} missing: {items:?}"
        );
    }

    // 3. Killed in the middle of applying: the rest is applied after the restart, and
    //    what was written before the crash is not written twice.
    for n in 20..60 {
        hook(
            &http,
            &serve,
            &source_key,
            "created",
            &event(n, &format!("Event {n}"), "2026-12-02T10:00:00Z"),
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = admin(&http, &serve, &key, "/api/stats", None).await;
        let done = stats["ingest"]["inbox"]["done"].as_i64().unwrap_or(0);
        if done >= 33 {
            break;
        }
        assert!(Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.kill();
    let before = calendar(&radicale).await.len();
    assert!(
        before < 60,
        "the crash came before everything was applied ({before} items)"
    );
    let serve = Serve::start(&data, "serve-3", true, &http).await;
    let inbox = drained(&http, &serve, &key).await;
    assert_eq!(inbox, json!({"done": 68}), "{}", serve.output());
    let items = calendar(&radicale).await;
    assert_eq!(items.len(), 60, "every event once, none twice");
    let history = admin(
        &http,
        &serve,
        &key,
        "/api/ingest/history?action=create&limit=1000",
        None,
    )
    .await;
    let created = history.as_array().unwrap().len();
    assert!(
        (60..=61).contains(&created),
        "one create per event (one more at most for the entry in flight at the crash, which then found its item): {created}"
    );
}
