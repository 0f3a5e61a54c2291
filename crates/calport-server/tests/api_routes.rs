//! The REST API surface, route by route, on the real application served over HTTP (no
//! worker: runs are moved through the database where a test needs it).
//!
//! Every route of `api::router` is listed in [`ROUTES`]; the tests check for each one the
//! success case, 401 without a key and with a wrong key, 404 for an unknown id, 422
//! naming the field on invalid input and 413 for an oversized body, all in the one JSON
//! error shape. The OpenAPI document must list exactly these routes.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use calport_core::{Etag, ItemRef};
use calport_server::{App, Config};
use calport_state::{ConflictRecord, ConflictSide};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every route of the router that the OpenAPI document describes, as (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/accounts"),
    ("POST", "/api/accounts"),
    ("GET", "/api/accounts/{id}"),
    ("PATCH", "/api/accounts/{id}"),
    ("DELETE", "/api/accounts/{id}"),
    ("POST", "/api/accounts/{id}/test"),
    ("GET", "/api/accounts/{id}/collections"),
    ("GET", "/api/sync-jobs"),
    ("POST", "/api/sync-jobs"),
    ("GET", "/api/sync-jobs/{id}"),
    ("PATCH", "/api/sync-jobs/{id}"),
    ("DELETE", "/api/sync-jobs/{id}"),
    ("POST", "/api/sync-jobs/{id}/start"),
    ("POST", "/api/sync-jobs/{id}/pause"),
    ("POST", "/api/sync-jobs/{id}/resume"),
    ("POST", "/api/sync-jobs/{id}/cancel"),
    ("GET", "/api/sync-jobs/{id}/runs"),
    ("POST", "/api/sync"),
    ("GET", "/api/runs/{id}"),
    ("GET", "/api/runs/{id}/report"),
    ("GET", "/api/runs/{id}/logs"),
    ("GET", "/api/runs/{id}/events"),
    ("GET", "/api/webhooks"),
    ("POST", "/api/webhooks"),
    ("DELETE", "/api/webhooks/{id}"),
    ("GET", "/api/webhooks/{id}/deliveries"),
    ("GET", "/api/conflicts"),
    ("GET", "/api/conflicts/{id}"),
    ("POST", "/api/conflicts/{id}/resolve"),
    ("GET", "/api/dead-letters"),
    ("GET", "/api/dead-letters/{id}"),
    ("POST", "/api/dead-letters/{id}/retry"),
    ("POST", "/api/dead-letters/{id}/skip"),
    ("GET", "/api/worker/status"),
    ("GET", "/api/stats"),
    ("GET", "/metrics"),
    ("GET", "/api/keys"),
    ("POST", "/api/keys"),
    ("DELETE", "/api/keys/{id}"),
    ("GET", "/api/export"),
    ("POST", "/api/import"),
    ("GET", "/api/health"),
    ("GET", "/api/session"),
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
    ("POST", "/api/setup"),
    ("GET", "/api/sources"),
    ("POST", "/api/sources"),
    ("GET", "/api/sources/{id}"),
    ("PATCH", "/api/sources/{id}"),
    ("DELETE", "/api/sources/{id}"),
    ("POST", "/api/sources/{id}/rotate-key"),
    ("GET", "/api/events"),
    ("GET", "/api/inbox/{request_id}"),
    ("GET", "/api/ingest/history"),
    ("GET", "/api/ingest/conflicts"),
    ("POST", "/api/ingest/conflicts/{id}/resolve"),
    ("POST", "/api/webhook/event/{action}"),
    ("POST", "/api/webhook/graph/{source}"),
];

/// Routes that answer without an admin key: the health check, the web UI's sign-in and
/// its static files, and the inbound webhooks (which check their source's own key).
fn is_open(path: &str) -> bool {
    matches!(path, "/api/health" | "/api/session" | "/api/setup" | "/")
        || path.starts_with("/ui/")
        || path.starts_with("/api/webhook/")
}

/// Routes of the router that the document leaves out on purpose: the document itself
/// and the page that renders it.
const UNDOCUMENTED: &[(&str, &str)] = &[
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/"),
    ("GET", "/ui/{file}"),
];

/// A valid request body for each route that takes one.
fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("POST", "/api/accounts") => Some(account_body("x")),
        ("PATCH", "/api/accounts/{id}") => Some(json!({"username": "new"})),
        ("POST", "/api/sync-jobs") => {
            Some(json!({"name": "j", "a_account_id": 1, "b_account_id": 2}))
        }
        ("PATCH", "/api/sync-jobs/{id}") => Some(json!({"enabled": false})),
        ("POST", "/api/sync-jobs/{id}/start") => Some(json!({"dry_run": true})),
        ("POST", "/api/webhooks") => Some(json!({"url": "https://hooks.example.com/x"})),
        ("POST", "/api/conflicts/{id}/resolve") => Some(json!({"keep": "a"})),
        ("POST", "/api/keys") => Some(json!({"name": "k"})),
        ("POST", "/api/sources") => {
            Some(json!({"id": "s", "account_id": 1, "calendar": "/alice/calendar/"}))
        }
        ("PATCH", "/api/sources/{id}") => Some(json!({"priority": 2})),
        ("POST", "/api/ingest/conflicts/{id}/resolve") => Some(json!({"keep": "incoming"})),
        ("POST", "/api/import") => {
            Some(json!({"version": 1, "accounts": [], "jobs": [], "webhooks": []}))
        }
        _ => None,
    }
}

fn account_body(name: &str) -> Value {
    json!({"name": name, "url": "https://dav.example.com/", "username": "u"})
}

// ---- the server under test ----

/// One in-process calport (API only) on a fresh data directory.
struct Server {
    base: String,
    key: String,
    app: App,
    client: reqwest::Client,
    dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The credentials a request carries.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// The server's valid key.
    Key,
    /// No `Authorization` header.
    None,
    /// This bearer token.
    Bearer(&'a str),
}

/// An answer.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    json: Value,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// Asserts the status and returns the JSON body.
    fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text());
        &self.json
    }
}

impl Server {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts with extra `CALPORT_*` variables (which win over the test defaults).
    async fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let defaults = [
            ("CALPORT_WORKER_ENABLED", "false"),
            ("CALPORT_REMOTE_RETRIES", "0"),
            ("CALPORT_REMOTE_TIMEOUT_SECONDS", "5"),
        ];
        let vars: Vec<(String, String)> = env
            .iter()
            .chain(defaults.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let config = Config::load(dir.path(), vars).unwrap();
        assert!(!config.worker.enabled);
        let app = calport_server::open(config).await.unwrap();
        let key = calport_server::api::system::new_key(&app, "tests")
            .await
            .unwrap()
            .key;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = calport_server::api::router(app.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Server {
            base,
            key,
            app,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            dir,
            task,
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
    ) -> Reply {
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        self.raw(method, path, auth, body, Some("application/json"))
            .await
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Auth<'_>,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::Key => req = req.bearer_auth(&self.key),
            Auth::None => {}
            Auth::Bearer(token) => req = req.bearer_auth(token),
        }
        if let Some(body) = body {
            if let Some(ct) = content_type {
                req = req.header(CONTENT_TYPE, ct);
            }
            req = req.body(body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.request("GET", path, Auth::Key, None).await
    }

    async fn send(&self, method: &str, path: &str, body: Value) -> Reply {
        self.request(method, path, Auth::Key, Some(&body)).await
    }

    async fn post(&self, path: &str) -> Reply {
        self.request("POST", path, Auth::Key, None).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, Auth::Key, None).await
    }

    /// Creates an account and returns its id.
    async fn account(&self, name: &str, password: Option<&str>) -> i64 {
        let mut body = account_body(name);
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        let reply = self.send("POST", "/api/accounts", body).await;
        reply.expect(201)["id"].as_i64().unwrap()
    }

    /// Creates a job between two new accounts and returns its id.
    async fn job(&self, name: &str) -> i64 {
        let a = self.account(&format!("{name}-a"), None).await;
        let b = self.account(&format!("{name}-b"), None).await;
        let reply = self
            .send(
                "POST",
                "/api/sync-jobs",
                json!({"name": name, "a_account_id": a, "b_account_id": b}),
            )
            .await;
        reply.expect(201)["id"].as_i64().unwrap()
    }

    /// Queues a run of a job through the API and returns its id.
    async fn start_run(&self, job: i64) -> i64 {
        let reply = self.post(&format!("/api/sync-jobs/{job}/start")).await;
        reply.expect(202)["id"].as_i64().unwrap()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Asserts the API's one error shape: `{"error":{"status","code","message","field"}}`.
#[track_caller]
fn assert_error(reply: &Reply, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(
        reply.content_type().starts_with("application/json"),
        "content type {:?} of {}",
        reply.content_type(),
        reply.text()
    );
    let top = reply
        .json
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {}", reply.text()));
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        ["error"],
        "{}",
        reply.text()
    );
    let error = reply.json["error"].as_object().unwrap();
    assert_eq!(
        error.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["code", "field", "message", "status"]),
        "{}",
        reply.text()
    );
    assert_eq!(error["status"], json!(status), "{}", reply.text());
    assert_eq!(error["code"], json!(code), "{}", reply.text());
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        reply.text()
    );
    assert_eq!(error["field"], json!(field), "{}", reply.text());
}

fn with_id(path: &str, id: i64) -> String {
    path.replace("{id}", &id.to_string())
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect()
}

// ---- the routes and the document ----

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let server = Server::start().await;
    let reply = server.get("/api/openapi.json").await;
    let doc = reply.expect(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete", "head", "options"]
                .contains(&method.as_str())
            {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tested: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(tested.len(), ROUTES.len(), "ROUTES has a duplicate");
    let missing: Vec<_> = tested.difference(&documented).collect();
    let untested: Vec<_> = documented.difference(&tested).collect();
    assert!(
        missing.is_empty() && untested.is_empty(),
        "routes not in the document: {missing:?}; documented routes these tests do not know: \
         {untested:?}"
    );
    // Protected routes declare the bearer scheme; the health check does not.
    for (method, path) in ROUTES {
        let op = &doc["paths"][*path][method.to_lowercase()];
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(secured, !is_open(path), "{method} {path}: {op}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    // Routes can be added to the router without the document only with `.route(…)`:
    // every such route must be one of the known undocumented ones, and every handler
    // given to `routes!` is one operation of the document.
    let source = include_str!("../src/api/mod.rs");
    let build = source
        .split("fn build()")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .expect("api::build() in src/api/mod.rs");
    let plain: BTreeSet<&str> = build
        .split(".route(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    let allowed: BTreeSet<&str> = UNDOCUMENTED.iter().map(|(_, p)| *p).collect();
    assert_eq!(
        plain, allowed,
        "routes added to the router outside the document"
    );
    let handlers: usize = build
        .split("routes!(")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap().split(',').count())
        .sum();
    assert_eq!(
        handlers,
        ROUTES.len(),
        "handlers given to routes!() in build()"
    );

    // The undocumented routes answer.
    let docs = server.get("/api/docs").await;
    assert_eq!(docs.status, 200);
    assert!(docs.content_type().starts_with("text/html"));
    assert!(docs.text().contains("/api/openapi.json"));
}

#[tokio::test]
async fn every_protected_route_refuses_a_missing_or_wrong_key() {
    let server = Server::start().await;
    // A key of the right form whose secret part is wrong, a revoked key, and garbage.
    let mut wrong = server.key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let revoked = calport_server::api::system::new_key(&server.app, "old")
        .await
        .unwrap();
    server
        .delete(&format!("/api/keys/{}", revoked.record.id))
        .await
        .expect(204);
    let routes = ROUTES
        .iter()
        .chain(UNDOCUMENTED)
        .filter(|(_, p)| !is_open(p));
    for (method, path) in routes {
        let path = with_id(path, 1);
        let body = body_for(method, &path);
        for auth in [
            Auth::None,
            Auth::Bearer(&wrong),
            Auth::Bearer(&revoked.key),
            Auth::Bearer("nonsense"),
        ] {
            let reply = server.request(method, &path, auth, body.as_ref()).await;
            assert_error(&reply, 401, "unauthorized", None);
        }
        // Not a bearer token at all.
        let reply = server
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", server.base),
            )
            .basic_auth("user", Some(&server.key))
            .send()
            .await
            .unwrap();
        assert_eq!(
            reply.status().as_u16(),
            401,
            "{method} {path} with basic auth"
        );
    }
    // Unknown routes too are behind the key.
    let reply = server
        .request("GET", "/api/nothing", Auth::None, None)
        .await;
    assert_error(&reply, 401, "unauthorized", None);
}

#[tokio::test]
async fn every_route_with_an_id_answers_404_for_an_unknown_one() {
    let server = Server::start().await;
    let mut checked = 0;
    for (method, path) in ROUTES.iter().filter(|(_, p)| p.contains("{id}")) {
        let body = body_for(method, path);
        let reply = server
            .request(method, &with_id(path, 987_654), Auth::Key, body.as_ref())
            .await;
        assert_error(&reply, 404, "not_found", None);
        assert!(
            reply.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("987654"),
            "{method} {path}: {}",
            reply.text()
        );
        checked += 1;
    }
    assert_eq!(checked, 30);
    // An id that is not a number is no resource either.
    for path in [
        "/api/accounts/abc",
        "/api/runs/1.5/logs",
        "/api/sync-jobs/x/start",
    ] {
        let method = if path.ends_with("start") {
            "POST"
        } else {
            "GET"
        };
        let reply = server.request(method, path, Auth::Key, None).await;
        assert_error(&reply, 400, "bad_request", None);
    }
}

#[tokio::test]
async fn health_needs_no_key_and_unknown_routes_answer_json() {
    let server = Server::start().await;
    let reply = server.request("GET", "/api/health", Auth::None, None).await;
    let health = reply.expect(200);
    assert_eq!(health["status"], "ok", "no worker is expected: {health}");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["database_backend"], "sqlite");
    assert_eq!(health["workers_alive"], 0);
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert!(health["uptime_seconds"].is_u64());
    // A key does not hurt; a wrong one is ignored here.
    server
        .request("GET", "/api/health", Auth::Bearer("nonsense"), None)
        .await
        .expect(200);

    for path in ["/api/nothing", "/api/accounts/1/nothing", "/api/health/x"] {
        let reply = server.get(path).await;
        assert_error(&reply, 404, "not_found", None);
    }
    // A method the route does not have.
    let reply = server
        .request("PUT", "/api/accounts", Auth::Key, Some(&account_body("x")))
        .await;
    assert_error(&reply, 405, "method_not_allowed", None);
    let reply = server
        .request("DELETE", "/api/stats", Auth::Key, None)
        .await;
    assert_error(&reply, 405, "method_not_allowed", None);
}

// ---- accounts ----

#[tokio::test]
async fn accounts_create_list_get_update_delete() {
    let server = Server::start().await;
    server.get("/api/accounts").await.expect(200);
    assert_eq!(server.get("/api/accounts").await.json, json!([]));

    let reply = server
        .send(
            "POST",
            "/api/accounts",
            json!({"name": " Work ", "url": "https://dav.example.com/dav/", "username": "me",
                   "password": "pw-1"}),
        )
        .await;
    let created = reply.expect(201).clone();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["name"], "Work", "the name is trimmed");
    assert_eq!(created["kind"], "dav");
    assert_eq!(created["url"], "https://dav.example.com/dav/");
    assert_eq!(created["username"], "me");
    assert_eq!(created["has_password"], true);
    assert!(created["created_at"].as_i64().unwrap() > 0);
    assert!(created.get("password").is_none() && created.get("secret").is_none());

    let reply = server
        .send(
            "POST",
            "/api/accounts",
            json!({"name": "Work", "url": "https://x.example.com/", "username": "u"}),
        )
        .await;
    assert_error(&reply, 409, "conflict", None);
    let other = server.account("Other", None).await;
    let list = server.get("/api/accounts").await;
    assert_eq!(ids(list.expect(200)), [id, other]);
    assert_eq!(list.json[1]["has_password"], false);
    let one = server.get(&format!("/api/accounts/{id}")).await;
    assert_eq!(one.expect(200), &created);

    let reply = server
        .send(
            "PATCH",
            &format!("/api/accounts/{id}"),
            json!({"name": "Work 2", "url": "http://dav2.example.com/"}),
        )
        .await;
    let updated = reply.expect(200);
    assert_eq!(
        (
            &updated["id"],
            &updated["name"],
            &updated["url"],
            &updated["username"]
        ),
        (
            &json!(id),
            &json!("Work 2"),
            &json!("http://dav2.example.com/"),
            &json!("me")
        )
    );
    assert_eq!(updated["has_password"], true, "the password is kept");
    let reply = server
        .send(
            "PATCH",
            &format!("/api/accounts/{id}"),
            json!({"name": "Other"}),
        )
        .await;
    assert_error(&reply, 409, "conflict", None);

    // In use by a job: not deletable.
    let job = server
        .send(
            "POST",
            "/api/sync-jobs",
            json!({"name": "uses-it", "a_account_id": id, "b_account_id": other}),
        )
        .await;
    let job = job.expect(201)["id"].as_i64().unwrap();
    let reply = server.delete(&format!("/api/accounts/{id}")).await;
    assert_error(&reply, 409, "conflict", None);
    assert!(reply.text().contains("uses-it"));
    server
        .delete(&format!("/api/sync-jobs/{job}"))
        .await
        .expect(204);
    server
        .delete(&format!("/api/accounts/{id}"))
        .await
        .expect(204);
    assert!(server.delete(&format!("/api/accounts/{id}")).await.status == 404);
    assert_eq!(ids(server.get("/api/accounts").await.expect(200)), [other]);
}

#[tokio::test]
async fn accounts_refuse_invalid_input_naming_the_field() {
    let server = Server::start().await;
    let id = server.account("base", None).await;
    let cases = [
        (
            json!({"name": "a", "url": "ftp://x", "username": "u"}),
            "url",
        ),
        (
            json!({"name": "a", "url": "not a url", "username": "u"}),
            "url",
        ),
        (
            json!({"name": "a", "url": "https://x.example.com/", "username": ""}),
            "username",
        ),
        (
            json!({"name": " ", "url": "https://x.example.com/", "username": "u"}),
            "name",
        ),
        (
            json!({"name": "a", "kind": "ews", "url": "https://x.example.com/", "username": "u"}),
            "kind",
        ),
        (json!({"name": "a", "username": "u"}), "url"),
        (
            json!({"url": "https://x.example.com/", "username": "u"}),
            "name",
        ),
        (
            json!({"name": "a", "url": "https://x.example.com/"}),
            "username",
        ),
        (
            json!({"name": 5, "url": "https://x.example.com/", "username": "u"}),
            "name",
        ),
        (
            json!({"name": "a", "url": "https://x.example.com/", "username": "u", "colour": 1}),
            "colour",
        ),
        (json!("text"), "body"),
    ];
    for (body, field) in cases {
        let reply = server.send("POST", "/api/accounts", body.clone()).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }
    let path = format!("/api/accounts/{id}");
    for (body, field) in [
        (json!({"url": "ftp://x"}), "url"),
        (json!({"name": ""}), "name"),
        (json!({"username": ""}), "username"),
        (json!({"password": 1}), "password"),
        (json!({"kind": "dav"}), "kind"),
    ] {
        let reply = server.send("PATCH", &path, body).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }
    assert_eq!(
        server.get(&path).await.json["name"],
        "base",
        "nothing changed"
    );
    assert_eq!(ids(server.get("/api/accounts").await.expect(200)), [id]);

    // Not JSON; not declared as JSON.
    let reply = server
        .raw(
            "POST",
            "/api/accounts",
            Auth::Key,
            Some(b"{nope".to_vec()),
            Some("application/json"),
        )
        .await;
    assert_error(&reply, 400, "bad_request", None);
    let reply = server
        .raw(
            "POST",
            "/api/accounts",
            Auth::Key,
            Some(serde_json::to_vec(&account_body("z")).unwrap()),
            Some("text/plain"),
        )
        .await;
    assert_error(&reply, 415, "unsupported_media_type", None);
}

#[tokio::test]
async fn account_test_and_collections_report_an_unreachable_server() {
    let server = Server::start().await;
    // Nothing listens on port 1.
    let reply = server
        .send(
            "POST",
            "/api/accounts",
            json!({"name": "gone", "url": "http://127.0.0.1:1/dav/", "username": "u", "password": "p"}),
        )
        .await;
    let id = reply.expect(201)["id"].as_i64().unwrap();
    let reply = server.post(&format!("/api/accounts/{id}/test")).await;
    let result = reply.expect(200);
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["problem"], "unreachable", "{result}");
    assert!(result["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(result["collections"], json!([]));
    let reply = server.get(&format!("/api/accounts/{id}/collections")).await;
    assert_error(&reply, 502, "remote_error", None);
}

#[tokio::test]
async fn account_test_and_collections_against_radicale() {
    use calport_testkit::{DavServer, ServerKind};
    let dav = DavServer::start(ServerKind::Radicale).await.unwrap();
    dav.mkcalendar("/alice/work/", "Work", &["VEVENT"], None)
        .await
        .unwrap();
    let server = Server::start().await;
    let reply = server
        .send(
            "POST",
            "/api/accounts",
            json!({"name": "radicale", "url": format!("{}/", dav.base_url()),
                   "username": dav.username(), "password": dav.password()}),
        )
        .await;
    let id = reply.expect(201)["id"].as_i64().unwrap();
    let reply = server.post(&format!("/api/accounts/{id}/test")).await;
    let result = reply.expect(200);
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["problem"], Value::Null);
    let work = result["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["href"] == "/alice/work/")
        .unwrap_or_else(|| panic!("the calendar is found: {result}"));
    assert_eq!(work["kind"], "calendar");
    assert_eq!(work["name"], "Work");
    assert_eq!(work["items"], 0);

    let reply = server.get(&format!("/api/accounts/{id}/collections")).await;
    let collections = reply.expect(200);
    let work = collections
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["href"] == "/alice/work/")
        .unwrap_or_else(|| panic!("the calendar is listed: {collections}"));
    assert_eq!(work["items"], Value::Null, "not counted here");

    // A wrong password is reported as such.
    server
        .send(
            "PATCH",
            &format!("/api/accounts/{id}"),
            json!({"password": "wrong"}),
        )
        .await
        .expect(200);
    let reply = server.post(&format!("/api/accounts/{id}/test")).await;
    assert_eq!(
        reply.expect(200)["problem"],
        "unauthorized",
        "{}",
        reply.text()
    );
}

// ---- jobs ----

#[tokio::test]
async fn jobs_create_list_get_update_delete() {
    let server = Server::start().await;
    assert_eq!(server.get("/api/sync-jobs").await.expect(200), &json!([]));
    let a = server.account("a", None).await;
    let b = server.account("b", None).await;
    let reply = server
        .send(
            "POST",
            "/api/sync-jobs",
            json!({"name": "nightly", "a_account_id": a, "b_account_id": b, "schedule": "15m",
                   "options": {"direction": "a-to-b", "contacts": false,
                               "window": {"past_days": 30, "future_days": 365}}}),
        )
        .await;
    let job = reply.expect(201).clone();
    let id = job["id"].as_i64().unwrap();
    assert_eq!(job["name"], "nightly");
    assert_eq!(job["kind"], "sync");
    assert_eq!(
        (job["a_account_id"].as_i64(), job["b_account_id"].as_i64()),
        (Some(a), Some(b))
    );
    assert_eq!(job["schedule"], "15m");
    assert_eq!(job["enabled"], true);
    assert_eq!(job["last_run"], Value::Null);
    assert_eq!(job["options"]["direction"], "a-to-b");
    assert_eq!(job["options"]["contacts"], false);
    assert_eq!(job["options"]["calendars"], true, "defaults are filled in");
    assert_eq!(job["options"]["window"]["future_days"], 365);

    let reply = server
        .send(
            "POST",
            "/api/sync-jobs",
            json!({"name": "nightly", "a_account_id": b, "b_account_id": a}),
        )
        .await;
    assert_error(&reply, 409, "conflict", None);
    let other = server
        .send(
            "POST",
            "/api/sync-jobs",
            json!({"name": "copy", "kind": "migrate", "a_account_id": b, "b_account_id": a,
                   "enabled": false}),
        )
        .await;
    let other = other.expect(201)["id"].as_i64().unwrap();
    assert_eq!(
        ids(server.get("/api/sync-jobs").await.expect(200)),
        [id, other]
    );
    assert_eq!(
        server
            .get(&format!("/api/sync-jobs/{id}"))
            .await
            .expect(200),
        &job
    );

    let path = format!("/api/sync-jobs/{id}");
    let reply = server
        .send(
            "PATCH",
            &path,
            json!({"schedule": "0 3 * * *", "options": {"direction": "both", "window": null}}),
        )
        .await;
    let updated = reply.expect(200);
    assert_eq!(updated["schedule"], "0 3 * * *");
    assert_eq!(updated["options"]["direction"], "both");
    assert_eq!(
        updated["options"]["contacts"], false,
        "untouched fields stay"
    );
    assert_eq!(updated["options"]["window"], Value::Null, "null removes");
    assert_eq!(updated["name"], "nightly");
    let reply = server.send("PATCH", &path, json!({"name": "copy"})).await;
    assert_error(&reply, 409, "conflict", None);
    let reply = server.send("PATCH", &path, json!({"schedule": null})).await;
    assert_eq!(reply.expect(200)["schedule"], Value::Null);

    // Runs of a job: none yet; the limit is checked.
    let runs = format!("/api/sync-jobs/{id}/runs");
    assert_eq!(server.get(&runs).await.expect(200), &json!([]));
    for bad in ["0", "501", "-1"] {
        let reply = server.get(&format!("{runs}?limit={bad}")).await;
        assert_error(&reply, 422, "invalid", Some("limit"));
    }
    let reply = server.get(&format!("{runs}?limit=many")).await;
    assert_error(&reply, 422, "invalid", Some("limit"));
    let reply = server.get(&format!("{runs}?colour=1")).await;
    assert_error(&reply, 422, "invalid", Some("colour"));

    // Not while a run is in flight; with its runs afterwards.
    let run = server.start_run(id).await;
    let reply = server.delete(&path).await;
    assert_error(&reply, 409, "conflict", None);
    server
        .post(&format!("/api/sync-jobs/{id}/cancel"))
        .await
        .expect(202);
    assert_eq!(
        ids(server.get(&format!("{runs}?limit=1")).await.expect(200)),
        [run]
    );
    server.delete(&path).await.expect(204);
    assert_error(&server.get(&path).await, 404, "not_found", None);
    assert_error(
        &server.get(&format!("/api/runs/{run}")).await,
        404,
        "not_found",
        None,
    );
    assert_eq!(ids(server.get("/api/sync-jobs").await.expect(200)), [other]);
}

#[tokio::test]
async fn jobs_refuse_invalid_input_naming_the_field() {
    let server = Server::start().await;
    let a = server.account("a", None).await;
    let b = server.account("b", None).await;
    let job = |extra: Value| {
        let mut body = json!({"name": "j", "a_account_id": a, "b_account_id": b});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (job(json!({"schedule": "often"})), "schedule"),
        (job(json!({"a_account_id": 999})), "a_account_id"),
        (job(json!({"b_account_id": 999})), "b_account_id"),
        (job(json!({"b_account_id": a})), "b_account_id"),
        (job(json!({"name": ""})), "name"),
        (json!({"a_account_id": a, "b_account_id": b}), "name"),
        (json!({"name": "j", "b_account_id": b}), "a_account_id"),
        (job(json!({"kind": "copy"})), "kind"),
        (job(json!({"enabled": "yes"})), "enabled"),
        (job(json!({"colour": 1})), "colour"),
        (
            job(json!({"options": {"direction": "sideways"}})),
            "options.direction",
        ),
        (job(json!({"options": {"colour": 1}})), "options.colour"),
        (
            job(json!({"options": {"mass_delete_guard": 2.0}})),
            "options.mass_delete_guard",
        ),
        (
            job(json!({"options": {"calendars": false, "tasks": false, "contacts": false}})),
            "options.calendars",
        ),
        (
            job(json!({"options": {"window": {"past_days": 0, "future_days": 0}}})),
            "options.window",
        ),
        (
            job(json!({"options": {"pairs": [{"a": "x", "b": "y"}], "into": "z"}})),
            "options.into",
        ),
    ];
    for (body, field) in cases {
        let reply = server.send("POST", "/api/sync-jobs", body.clone()).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }
    assert_eq!(server.get("/api/sync-jobs").await.expect(200), &json!([]));

    let id = server
        .send("POST", "/api/sync-jobs", job(json!({})))
        .await
        .expect(201)["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/sync-jobs/{id}");
    for (body, field) in [
        (json!({"schedule": "often"}), "schedule"),
        (json!({"a_account_id": 999}), "a_account_id"),
        (json!({"name": null}), "name"),
        (json!({"colour": 1}), "colour"),
        (
            json!({"options": {"mass_delete_guard": -1}}),
            "options.mass_delete_guard",
        ),
        (json!([1]), "body"),
    ] {
        let reply = server.send("PATCH", &path, body).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }
    let current = server.get(&path).await;
    assert_eq!(
        current.expect(200)["schedule"],
        Value::Null,
        "nothing changed"
    );
}

#[tokio::test]
async fn job_control_without_a_worker() {
    let server = Server::start().await;
    let id = server.job("j").await;
    let control = |what: &str| format!("/api/sync-jobs/{id}/{what}");

    for what in ["pause", "resume", "cancel"] {
        let reply = server.post(&control(what)).await;
        assert_error(&reply, 409, "conflict", None);
    }
    let reply = server.post(&control("start")).await;
    let run = reply.expect(202).clone();
    let run_id = run["id"].as_i64().unwrap();
    assert_eq!(run["job_id"], id);
    assert_eq!(run["state"], "queued");
    assert_eq!(run["trigger"], "api");
    assert_eq!(run["dry_run"], false);
    assert_eq!(run["attempts"], 0);
    assert_eq!(run["started_at"], Value::Null);
    assert_eq!(run["progress"]["percent"], 0.0);
    let reply = server.post(&control("start")).await;
    assert_error(&reply, 409, "conflict", None);
    assert!(reply.text().contains("queued"));

    let reply = server.post(&control("pause")).await;
    assert_eq!(reply.expect(202)["state"], "paused");
    assert_eq!(reply.json["id"], run_id);
    assert_error(&server.post(&control("pause")).await, 409, "conflict", None);
    assert_error(&server.post(&control("start")).await, 409, "conflict", None);
    let status = server.get("/api/worker/status").await;
    assert_eq!(
        status.expect(200),
        &json!({"workers": [], "queued": 0, "running": 0, "paused": 1})
    );

    let reply = server.post(&control("resume")).await;
    assert_eq!(reply.expect(202)["state"], "queued");
    assert_error(
        &server.post(&control("resume")).await,
        409,
        "conflict",
        None,
    );
    let reply = server.post(&control("cancel")).await;
    let cancelled = reply.expect(202);
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["finished_at"].is_i64());
    assert_error(
        &server.post(&control("cancel")).await,
        409,
        "conflict",
        None,
    );
    let job = server.get(&format!("/api/sync-jobs/{id}")).await;
    assert_eq!(job.expect(200)["last_run"]["id"], run_id);
    assert_eq!(job.json["last_run"]["state"], "cancelled");

    // A dry run; a running run is asked to pause or cancel at its next item boundary.
    let reply = server
        .send("POST", &control("start"), json!({"dry_run": true}))
        .await;
    let second = reply.expect(202)["id"].as_i64().unwrap();
    assert_eq!(reply.json["dry_run"], true);
    let claimed = server
        .app
        .db
        .claim_run("test-worker", now_ms() + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, second);
    let reply = server.post(&control("pause")).await;
    let paused = reply.expect(202);
    assert_eq!(
        (&paused["state"], &paused["requested"], &paused["worker"]),
        (&json!("running"), &json!("pause"), &json!("test-worker"))
    );
    assert_eq!(paused["attempts"], 1);
    let reply = server.post(&control("cancel")).await;
    assert_eq!(reply.expect(202)["requested"], "cancel");
    assert_eq!(reply.json["state"], "running");
    assert_error(
        &server.post(&control("resume")).await,
        409,
        "conflict",
        None,
    );
    assert_eq!(
        ids(server.get(&control("runs")).await.expect(200)),
        [second, run_id],
        "newest first"
    );

    // Bodies of start: empty, or the options object.
    let reply = server
        .send("POST", &control("start"), json!({"colour": 1}))
        .await;
    assert_error(&reply, 422, "invalid", Some("body"));
    let reply = server
        .send("POST", &control("start"), json!({"dry_run": "yes"}))
        .await;
    assert_error(&reply, 422, "invalid", Some("body"));
}

#[tokio::test]
async fn sync_all_queues_every_enabled_job() {
    let server = Server::start().await;
    let reply = server.post("/api/sync").await;
    assert_eq!(
        reply.expect(202),
        &json!({"queued": [], "already_running": []})
    );
    let idle = server.job("idle").await;
    let busy = server.job("busy").await;
    let off = server.job("off").await;
    server
        .send(
            "PATCH",
            &format!("/api/sync-jobs/{off}"),
            json!({"enabled": false}),
        )
        .await
        .expect(200);
    let running = server.start_run(busy).await;

    let reply = server.post("/api/sync").await;
    let out = reply.expect(202);
    let queued = out["queued"].as_array().unwrap();
    assert_eq!(queued.len(), 1, "{out}");
    assert_eq!(queued[0]["job_id"], idle);
    assert_eq!(queued[0]["state"], "queued");
    assert_eq!(out["already_running"], json!([busy]));
    assert_eq!(
        server.get(&format!("/api/sync-jobs/{off}/runs")).await.json,
        json!([])
    );
    assert_eq!(
        ids(server
            .get(&format!("/api/sync-jobs/{busy}/runs"))
            .await
            .expect(200)),
        [running]
    );
    let stats = server.get("/api/stats").await;
    assert_eq!(stats.expect(200)["runs"], json!({"queued": 2}));
    let reply = server.post("/api/sync").await;
    assert_eq!(reply.expect(202)["already_running"], json!([idle, busy]));
}

// ---- runs ----

/// Claims the queued run `run` and finishes it as `state` with stats and a report.
async fn finish(app: &App, run: i64, state: &str) {
    let claimed = app
        .db
        .claim_run("test-worker", now_ms() + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, run);
    let stats = json!({"collections": 1, "collections_created": 0,
                       "events": {"created": 3, "updated": 1, "deleted": 0, "unchanged": 5,
                                  "failed": 1, "conflicts": 0},
                       "contacts": {"created": 2, "updated": 0, "deleted": 1, "unchanged": 0,
                                    "failed": 0, "conflicts": 0}});
    let report = json!({"pairs": [{"a": "A", "b": "B", "changes": []}]});
    assert!(
        app.db
            .finish_run(
                run,
                "test-worker",
                state,
                Some(&stats.to_string()),
                Some(&report.to_string()),
                Some("one item failed"),
            )
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn runs_get_report_and_logs() {
    let server = Server::start().await;
    let job = server.job("j").await;
    let run = server.start_run(job).await;
    let path = format!("/api/runs/{run}");
    let got = server.get(&path).await;
    assert_eq!(
        (
            &got.expect(200)["id"],
            &got.json["job_id"],
            &got.json["state"]
        ),
        (&json!(run), &json!(job), &json!("queued"))
    );
    assert_eq!(got.json["stats"], Value::Null);
    assert_eq!(got.json["duration_seconds"], Value::Null);
    let reply = server.get(&format!("{path}/report")).await;
    assert_error(&reply, 404, "not_found", None);

    for (level, message) in [
        ("debug", "connecting"),
        ("info", "Calendar Work: 3 changes"),
        ("warn", "slow server"),
        ("error", "work/1.ics: 412 precondition failed"),
        ("info", "done"),
    ] {
        server
            .app
            .db
            .add_run_log(run, level, message)
            .await
            .unwrap();
    }
    let logs = |query: &str| format!("{path}/logs{query}");
    let page = server.get(&logs("")).await;
    let lines = page.expect(200)["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["level"], "debug");
    assert_eq!(lines[0]["message"], "connecting");
    assert!(lines[0]["at"].is_i64() && lines[0]["id"].is_i64());
    assert_eq!(page.json["next_after"], Value::Null, "the last page");

    let messages = |reply: &Reply| -> Vec<String> {
        reply.json["lines"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.text()))
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let warn = server.get(&logs("?level=warn")).await;
    assert_eq!(
        messages(&warn),
        ["slow server", "work/1.ics: 412 precondition failed"]
    );
    let found = server.get(&logs("?q=WORK")).await;
    assert_eq!(
        messages(&found),
        [
            "Calendar Work: 3 changes",
            "work/1.ics: 412 precondition failed"
        ]
    );
    let found = server.get(&logs("?q=work&level=ERROR")).await;
    assert_eq!(messages(&found), ["work/1.ics: 412 precondition failed"]);

    let first = server.get(&logs("?limit=2")).await;
    assert_eq!(messages(&first), ["connecting", "Calendar Work: 3 changes"]);
    let after = first.json["next_after"].as_i64().expect("more to come");
    let second = server.get(&logs(&format!("?limit=2&after={after}"))).await;
    assert_eq!(
        messages(&second),
        ["slow server", "work/1.ics: 412 precondition failed"]
    );
    let after = second.json["next_after"].as_i64().unwrap();
    let third = server.get(&logs(&format!("?limit=2&after={after}"))).await;
    assert_eq!(messages(&third), ["done"]);
    assert_eq!(third.json["next_after"], Value::Null);

    for (query, field) in [
        ("?level=loud", "level"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?after=x", "after"),
        ("?colour=1", "colour"),
    ] {
        let reply = server.get(&logs(query)).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }

    // Finished: stats, duration and the report.
    finish(&server.app, run, "partial_failure").await;
    let got = server.get(&path).await;
    let got = got.expect(200);
    assert_eq!(got["state"], "partial_failure");
    assert_eq!(got["error"], "one item failed");
    assert_eq!(got["stats"]["events"]["created"], 3);
    assert_eq!(got["worker"], Value::Null);
    assert_eq!(got["attempts"], 1);
    assert!(got["duration_seconds"].as_f64().is_some_and(|d| d >= 0.0));
    let report = server.get(&format!("{path}/report")).await;
    assert_eq!(report.expect(200)["pairs"][0]["a"], "A");
    let stats = server.get("/api/stats").await;
    let stats = stats.expect(200);
    assert_eq!(stats["accounts"], 2);
    assert_eq!(stats["jobs"], 1);
    assert_eq!(stats["runs"], json!({"partial_failure": 1}));
    assert_eq!(stats["events"]["created"], 3);
    assert_eq!(stats["contacts"]["deleted"], 1);
    assert_eq!(stats["open_conflicts"], 0);
    assert_eq!(stats["pending_deliveries"], 0);
}

#[tokio::test]
async fn run_events_stream_a_finished_run() {
    let server = Server::start().await;
    let job = server.job("j").await;
    let run = server.start_run(job).await;
    server
        .app
        .db
        .add_run_log(run, "info", "hello")
        .await
        .unwrap();
    finish(&server.app, run, "completed").await;

    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        server.get(&format!("/api/runs/{run}/events")),
    )
    .await
    .expect("the stream of a finished run ends");
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type().starts_with("text/event-stream"),
        "{}",
        reply.content_type()
    );
    let text = reply.text();
    let events: Vec<(String, String)> = text
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .filter_map(|l| l.strip_prefix(name))
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (field("event:"), field("data:"))
        })
        .collect();
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["log", "run", "end"], "{text}");
    let log: Value = serde_json::from_str(&events[0].1).unwrap();
    assert_eq!(log["message"], "hello");
    let state: Value = serde_json::from_str(&events[1].1).unwrap();
    assert_eq!(state["id"], run);
    assert_eq!(state["state"], "completed");
    assert_eq!(state["stats"]["contacts"]["created"], 2);
    assert_eq!(events[2].1, "completed");
}

// ---- webhooks and conflicts ----

#[tokio::test]
async fn webhooks_create_list_deliveries_delete() {
    let server = Server::start().await;
    assert_eq!(server.get("/api/webhooks").await.expect(200), &json!([]));
    let job = server.job("j").await;
    let reply = server
        .send(
            "POST",
            "/api/webhooks",
            json!({"url": "https://hooks.example.com/all"}),
        )
        .await;
    let all = reply.expect(201).clone();
    let secret = all["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{all}");
    assert_eq!(
        (&all["url"], &all["job_id"], &all["enabled"]),
        (
            &json!("https://hooks.example.com/all"),
            &Value::Null,
            &json!(true)
        )
    );
    let given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let reply = server
        .send(
            "POST",
            "/api/webhooks",
            json!({"url": "http://10.0.0.5/hook", "job_id": job, "secret": given}),
        )
        .await;
    let one = reply.expect(201).clone();
    assert_eq!(one["job_id"], job);
    assert_eq!(one["secret"], given);
    let list = server.get("/api/webhooks").await;
    assert_eq!(
        ids(list.expect(200)),
        [all["id"].as_i64().unwrap(), one["id"].as_i64().unwrap()]
    );
    assert!(
        list.json
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.get("secret").is_none()),
        "secrets are shown once: {}",
        list.text()
    );

    for (body, field) in [
        (json!({"url": "ftp://x"}), "url"),
        (json!({"url": "nope"}), "url"),
        (json!({}), "url"),
        (
            json!({"url": "https://h.example.com/", "job_id": 999}),
            "job_id",
        ),
        (
            json!({"url": "https://h.example.com/", "secret": "short"}),
            "secret",
        ),
        (
            json!({"url": "https://h.example.com/", "events": ["x"]}),
            "events",
        ),
    ] {
        let reply = server.send("POST", "/api/webhooks", body).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }

    // Deliveries: a cancelled run is reported to both hooks.
    let hook = all["id"].as_i64().unwrap();
    let deliveries = format!("/api/webhooks/{hook}/deliveries");
    assert_eq!(server.get(&deliveries).await.expect(200), &json!([]));
    let run = server.start_run(job).await;
    server
        .post(&format!("/api/sync-jobs/{job}/cancel"))
        .await
        .expect(202);
    let list = server.get(&deliveries).await;
    let list = list.expect(200).as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["run_id"], run);
    assert_eq!(list[0]["state"], "pending");
    assert_eq!(list[0]["attempts"], 0);
    assert_eq!(list[0]["msg_id"], format!("msg_run{run}_hook{hook}"));
    assert!(list[0].get("payload").is_none());
    let stats = server.get("/api/stats").await;
    assert_eq!(stats.expect(200)["pending_deliveries"], 2);

    server
        .delete(&format!("/api/webhooks/{hook}"))
        .await
        .expect(204);
    assert_error(
        &server.delete(&format!("/api/webhooks/{hook}")).await,
        404,
        "not_found",
        None,
    );
    assert_error(&server.get(&deliveries).await, 404, "not_found", None);
    assert_eq!(
        ids(server.get("/api/webhooks").await.expect(200)),
        [one["id"].as_i64().unwrap()]
    );
}

fn ical(summary: &str) -> Vec<u8> {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nBEGIN:VEVENT\r\n\
         UID:c1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250102T100000Z\r\n\
         DURATION:PT1H\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    .into_bytes()
}

async fn park(app: &App, job_key: &str, uid: &str) -> i64 {
    let pair = app.db.pair(job_key, "/a/cal/", "/b/cal/").await.unwrap();
    let side = |href: &str, summary: &str| ConflictSide {
        href: ItemRef::new(href),
        etag: Some(Etag::new("\"1\"")),
        body: ical(summary),
    };
    app.db
        .park_conflict(&ConflictRecord {
            id: 0,
            pair_id: pair.id,
            job: String::new(),
            a_collection: String::new(),
            b_collection: String::new(),
            uid: uid.into(),
            kind: "event".into(),
            reason: "changed on both sides".into(),
            a: Some(side("/a/cal/c1.ics", "Version A")),
            b: Some(side("/b/cal/c1.ics", "Version B")),
            base_a_hash: None,
            base_b_hash: None,
            resolution: None,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn conflicts_list_get_and_resolve() {
    let server = Server::start().await;
    assert_eq!(server.get("/api/conflicts").await.expect(200), &json!([]));
    assert_error(
        &server.get("/api/conflicts/1").await,
        404,
        "not_found",
        None,
    );
    for (body, field) in [
        (json!({"keep": "x"}), "keep"),
        (json!({}), "keep"),
        (json!({"keep": 1}), "keep"),
        (json!({"keep": "a", "why": "x"}), "why"),
    ] {
        let reply = server.send("POST", "/api/conflicts/1/resolve", body).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }
    let reply = server
        .send("POST", "/api/conflicts/1/resolve", json!({"keep": "a"}))
        .await;
    assert_error(&reply, 404, "not_found", None);

    let job = server.job("j").await;
    let id = park(&server.app, &format!("job-{job}"), "c1").await;
    let list = server.get("/api/conflicts").await;
    assert_eq!(ids(list.expect(200)), [id]);
    let one = server.get(&format!("/api/conflicts/{id}")).await;
    let c = one.expect(200).clone();
    assert_eq!(list.json[0], c);
    assert_eq!(c["job_id"], job);
    assert_eq!(
        (
            &c["a_collection"],
            &c["b_collection"],
            &c["uid"],
            &c["kind"]
        ),
        (
            &json!("/a/cal/"),
            &json!("/b/cal/"),
            &json!("c1"),
            &json!("event")
        )
    );
    assert_eq!(c["a"]["href"], "/a/cal/c1.ics");
    assert_eq!(c["a"]["etag"], "\"1\"");
    assert!(
        c["b"]["body"]
            .as_str()
            .unwrap()
            .contains("SUMMARY:Version B")
    );
    assert!(
        c["differences"].as_array().is_some_and(|d| !d.is_empty()),
        "the summaries differ: {c}"
    );
    assert_eq!(c["resolution"], Value::Null);
    assert_eq!(server.get("/api/stats").await.json["open_conflicts"], 1);

    let reply = server
        .send(
            "POST",
            &format!("/api/conflicts/{id}/resolve"),
            json!({"keep": "x"}),
        )
        .await;
    assert_error(&reply, 422, "invalid", Some("keep"));
    let reply = server
        .send(
            "POST",
            &format!("/api/conflicts/{id}/resolve"),
            json!({"keep": "b"}),
        )
        .await;
    assert_eq!(reply.expect(202)["resolution"], "b");
    assert_eq!(reply.json["id"], id);
    assert_eq!(
        server.get(&format!("/api/conflicts/{id}")).await.json["resolution"],
        "b"
    );
    // The job's next run applies it: one is queued.
    let runs = server.get(&format!("/api/sync-jobs/{job}/runs")).await;
    assert_eq!(runs.expect(200).as_array().unwrap().len(), 1);
    assert_eq!(runs.json[0]["state"], "queued");
    // Resolving again while that run is queued is fine.
    let reply = server
        .send(
            "POST",
            &format!("/api/conflicts/{id}/resolve"),
            json!({"keep": "both"}),
        )
        .await;
    assert_eq!(reply.expect(202)["resolution"], "both");

    // A conflict of a job that was deleted since, or of a CLI job (not a service job).
    let gone = park(&server.app, "job-424242", "c2").await;
    let reply = server
        .send(
            "POST",
            &format!("/api/conflicts/{gone}/resolve"),
            json!({"keep": "a"}),
        )
        .await;
    assert_eq!(reply.expect(202)["resolution"], "a");
    assert_eq!(reply.json["job_id"], 424242);
    let cli = park(&server.app, "my-sync", "c3").await;
    let reply = server
        .send(
            "POST",
            &format!("/api/conflicts/{cli}/resolve"),
            json!({"keep": "b"}),
        )
        .await;
    assert_eq!(reply.expect(202)["job_id"], Value::Null);
    assert_eq!(
        ids(server.get("/api/conflicts").await.expect(200)),
        [id, gone, cli]
    );
}

// ---- system ----

#[tokio::test]
async fn api_keys_list_create_revoke() {
    let server = Server::start().await;
    let list = server.get("/api/keys").await;
    let keys = list.expect(200).as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "tests");
    let lookup = keys[0]["lookup_id"].as_str().unwrap();
    assert_eq!(lookup.len(), 8);
    assert!(server.key["cpk_".len()..].starts_with(lookup));
    assert!(keys[0]["last_used_at"].is_i64(), "this request used it");
    assert_eq!(keys[0]["revoked_at"], Value::Null);
    assert!(keys[0].get("key").is_none() && keys[0].get("hash").is_none());
    assert!(!list.text().contains(&server.key));

    let reply = server
        .send("POST", "/api/keys", json!({"name": " ci "}))
        .await;
    let created = reply.expect(201).clone();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("cpk_"));
    assert_eq!(created["name"], "ci");
    assert!(key["cpk_".len()..].starts_with(created["lookup_id"].as_str().unwrap()));
    let id = created["id"].as_i64().unwrap();
    let reply = server
        .request("GET", "/api/stats", Auth::Bearer(&key), None)
        .await;
    reply.expect(200);
    let list = server.get("/api/keys").await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 2);
    assert!(!list.text().contains(&key));

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({}), "name"),
        (json!({"name": "x", "scope": "all"}), "scope"),
    ] {
        let reply = server.send("POST", "/api/keys", body).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }

    server.delete(&format!("/api/keys/{id}")).await.expect(204);
    let reply = server
        .request("GET", "/api/stats", Auth::Bearer(&key), None)
        .await;
    assert_error(&reply, 401, "unauthorized", None);
    let list = server.get("/api/keys").await;
    assert!(list.expect(200)[1]["revoked_at"].is_i64());
    server.get("/api/stats").await.expect(200);
}

#[tokio::test]
async fn worker_status_stats_and_metrics() {
    let server = Server::start().await;
    let status = server.get("/api/worker/status").await;
    assert_eq!(
        status.expect(200),
        &json!({"workers": [], "queued": 0, "running": 0, "paused": 0})
    );
    server
        .app
        .db
        .worker_heartbeat("host:1:2", "host", 1, 1)
        .await
        .unwrap();
    let job = server.job("j").await;
    server.start_run(job).await;
    let status = server.get("/api/worker/status").await;
    let status = status.expect(200);
    assert_eq!(status["queued"], 1);
    assert_eq!(status["workers"][0]["id"], "host:1:2");
    assert_eq!(status["workers"][0]["running"], 1);
    assert_eq!(
        server
            .request("GET", "/api/health", Auth::None, None)
            .await
            .json["workers_alive"],
        1
    );

    let stats = server.get("/api/stats").await;
    let stats = stats.expect(200);
    assert_eq!((&stats["accounts"], &stats["jobs"]), (&json!(2), &json!(1)));
    assert_eq!(stats["runs"], json!({"queued": 1}));
    assert_eq!(stats["events"]["created"], 0);

    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.content_type().starts_with("text/plain"),
        "{}",
        metrics.content_type()
    );
    let text = metrics.text();
    assert!(text.contains("calport_queue_depth 1"), "{text}");
    assert!(text.contains("calport_runs{state=\"queued\"} 1"), "{text}");
    assert!(
        text.contains("calport_webhook_deliveries_pending 0"),
        "{text}"
    );
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn passwords_never_leave_the_server_in_clear() {
    const PASSWORD: &str = "Tr0ub4dor&3-never-shown";
    const CHANGED: &str = "correct horse battery staple 42";
    let server = Server::start().await;
    let a = server.account("with-password", Some(PASSWORD)).await;
    let b = server.account("plain", None).await;
    let job = server
        .send(
            "POST",
            "/api/sync-jobs",
            json!({"name": "j", "a_account_id": a, "b_account_id": b}),
        )
        .await;
    let job = job.expect(201)["id"].as_i64().unwrap();
    let hook = server
        .send(
            "POST",
            "/api/webhooks",
            json!({"url": "https://hooks.example.com/", "job_id": job}),
        )
        .await;
    let hook_secret = hook.expect(201)["secret"].as_str().unwrap().to_owned();

    let mut answers = Vec::new();
    for path in [
        "/api/accounts".to_owned(),
        format!("/api/accounts/{a}"),
        "/api/export".to_owned(),
        "/api/export?secrets=false".to_owned(),
        "/api/sync-jobs".to_owned(),
        "/api/webhooks".to_owned(),
        "/api/stats".to_owned(),
    ] {
        let reply = server.get(&path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        answers.push((path, reply.body));
    }
    let patched = server
        .send(
            "PATCH",
            &format!("/api/accounts/{a}"),
            json!({"password": CHANGED}),
        )
        .await;
    assert_eq!(patched.expect(200)["has_password"], true);
    answers.push(("PATCH".to_owned(), patched.body.clone()));
    for (path, body) in &answers {
        for secret in [PASSWORD, CHANGED, &hook_secret] {
            assert!(!contains(body, secret.as_bytes()), "{path} shows a secret");
        }
    }
    let export = server.get("/api/export").await;
    let export = export.expect(200);
    assert!(export["accounts"][0].get("password").is_none(), "{export}");
    assert!(export["webhooks"][0].get("secret").is_none(), "{export}");

    // With secrets=true: the passwords and webhook secrets in clear.
    let full = server.get("/api/export?secrets=true").await;
    let full = full.expect(200);
    assert_eq!(full["accounts"][0]["name"], "with-password");
    assert_eq!(full["accounts"][0]["password"], CHANGED);
    assert!(
        full["accounts"][1].get("password").is_none(),
        "no password stored: {full}"
    );
    assert_eq!(full["webhooks"][0]["secret"], hook_secret.as_str());
    let reply = server.get("/api/export?secrets=maybe").await;
    assert_error(&reply, 422, "invalid", Some("secrets"));

    // At rest: only encrypted. The key is in its own file, and nowhere else.
    let key_file = server
        .dir
        .path()
        .join(calport_secure::secrets::KEY_FILE_NAME);
    let key_text = std::fs::read_to_string(&key_file).expect("the secret key file");
    let key_text = key_text.trim();
    use base64::Engine as _;
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(key_text)
        .unwrap();
    assert_eq!(key_bytes.len(), 32);
    server.app.db.close().await;
    let all = files(server.dir.path());
    assert!(all.iter().any(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("calport.sqlite")
    }));
    for path in &all {
        let bytes = std::fs::read(path).unwrap();
        for secret in [
            PASSWORD,
            CHANGED,
            &hook_secret,
            &hook_secret["whsec_".len()..],
        ] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{} holds a secret in clear",
                path.display()
            );
        }
        if *path != key_file {
            assert!(
                !contains(&bytes, key_text.as_bytes()),
                "{} holds the key",
                path.display()
            );
            assert!(
                !contains(&bytes, &key_bytes),
                "{} holds the key",
                path.display()
            );
        }
    }
    for (path, body) in &answers {
        assert!(!contains(body, key_text.as_bytes()), "{path} shows the key");
    }
}

#[tokio::test]
async fn an_export_imported_into_a_fresh_instance_recreates_everything() {
    let source = Server::start().await;
    let a = source.account("alpha", Some("pw-alpha")).await;
    let b = source.account("beta", None).await;
    let job = source
        .send(
            "POST",
            "/api/sync-jobs",
            json!({"name": "copy", "kind": "migrate", "a_account_id": a, "b_account_id": b,
                   "schedule": "1h", "enabled": false,
                   "options": {"contacts": false, "direction": "a-to-b"}}),
        )
        .await;
    let job = job.expect(201).clone();
    let hook = source
        .send(
            "POST",
            "/api/webhooks",
            json!({"url": "https://hooks.example.com/job", "job_id": job["id"]}),
        )
        .await;
    let hook_secret = hook.expect(201)["secret"].clone();
    source
        .send(
            "POST",
            "/api/webhooks",
            json!({"url": "https://hooks.example.com/all"}),
        )
        .await
        .expect(201);
    let export = source
        .get("/api/export?secrets=true")
        .await
        .expect(200)
        .clone();
    assert_eq!(export["version"], 1);

    let target = Server::start().await;
    // Some other account first, so that ids differ between the instances.
    target.account("zeta", None).await;
    let reply = target.send("POST", "/api/import", export.clone()).await;
    let result = reply.expect(200);
    assert_eq!(
        result["accounts_created"],
        json!(["alpha", "beta"]),
        "{result}"
    );
    assert_eq!(result["jobs_created"], json!(["copy"]));
    assert_eq!(result["webhooks_created"], 2);
    assert_eq!(result["skipped"], json!([]));

    let accounts = target.get("/api/accounts").await;
    let accounts = accounts.expect(200).as_array().unwrap();
    let names: Vec<_> = accounts
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zeta", "alpha", "beta"]);
    assert_eq!(accounts[1]["has_password"], true);
    assert_eq!(accounts[2]["has_password"], false);
    let jobs = target.get("/api/sync-jobs").await;
    let imported = &jobs.expect(200)[0];
    assert_eq!(imported["name"], "copy");
    assert_eq!(
        imported["a_account_id"], accounts[1]["id"],
        "re-linked by name"
    );
    assert_eq!(imported["b_account_id"], accounts[2]["id"]);
    for field in ["kind", "schedule", "enabled", "options"] {
        assert_eq!(imported[field], job[field], "{field}");
    }
    let hooks = target.get("/api/webhooks").await;
    let hooks = hooks.expect(200).as_array().unwrap();
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[0]["job_id"], imported["id"]);
    assert_eq!(hooks[1]["job_id"], Value::Null);
    // The same secrets: the export of the copy is the export of the original.
    let copy = target
        .get("/api/export?secrets=true")
        .await
        .expect(200)
        .clone();
    assert_eq!(copy["webhooks"][0]["secret"], hook_secret);
    assert_eq!(copy["accounts"][1], export["accounts"][0]);
    assert_eq!(copy["accounts"][2], export["accounts"][1]);
    assert_eq!(copy["webhooks"], export["webhooks"]);
    let strip = |j: &Value| {
        let mut j = j.clone();
        for side in ["a_account_id", "b_account_id"] {
            j["job"].as_object_mut().unwrap().remove(side);
        }
        j
    };
    assert_eq!(strip(&copy["jobs"][0]), strip(&export["jobs"][0]));

    // Importing again creates nothing twice.
    let reply = target.send("POST", "/api/import", export.clone()).await;
    let again = reply.expect(200);
    assert_eq!(again["accounts_created"], json!([]), "{again}");
    assert_eq!(again["jobs_created"], json!([]));
    assert_eq!(again["webhooks_created"], 0);
    assert_eq!(again["skipped"].as_array().unwrap().len(), 5, "{again}");
    assert_eq!(
        target
            .get("/api/webhooks")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Without secrets: the accounts come without passwords, hooks with new secrets.
    let bare = source.get("/api/export").await.expect(200).clone();
    let third = Server::start().await;
    third.send("POST", "/api/import", bare).await.expect(200);
    let accounts = third.get("/api/accounts").await;
    assert_eq!(accounts.expect(200)[0]["has_password"], false);
    let copy = third.get("/api/export?secrets=true").await;
    let secret = copy.expect(200)["webhooks"][0]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && secret != hook_secret.as_str().unwrap());
}

#[tokio::test]
async fn import_refuses_invalid_input_naming_the_field() {
    let server = Server::start().await;
    let empty = json!({"version": 1, "accounts": [], "jobs": [], "webhooks": []});
    let reply = server.send("POST", "/api/import", empty.clone()).await;
    assert_eq!(
        reply.expect(200),
        &json!({"accounts_created": [], "jobs_created": [], "webhooks_created": 0, "skipped": []})
    );
    let with = |key: &str, value: Value| {
        let mut body = empty.clone();
        body[key] = value;
        body
    };
    let account = |url: &str| json!([{"name": "a", "kind": "dav", "url": url, "username": "u"}]);
    let cases = [
        (with("version", json!(2)), "version"),
        (
            json!({"version": 1, "jobs": [], "webhooks": []}),
            "accounts",
        ),
        (with("colour", json!(1)), "colour"),
        (with("accounts", json!([{"name": "a"}])), "accounts[0]"),
        (with("accounts", account("ftp://x")), "accounts[0].url"),
        (
            with(
                "webhooks",
                json!([{"url": "https://h.example.com/", "secret": "nope"}]),
            ),
            "webhooks[0].secret",
        ),
        (
            with("webhooks", json!([{"url": "gopher://h/"}])),
            "webhooks[0].url",
        ),
    ];
    for (body, field) in cases {
        let reply = server.send("POST", "/api/import", body.clone()).await;
        assert_error(&reply, 422, "invalid", Some(field));
    }
    assert_eq!(
        server.get("/api/accounts").await.json,
        json!([]),
        "nothing was imported"
    );
    assert_eq!(server.get("/api/webhooks").await.json, json!([]));
    let reply = server
        .raw(
            "POST",
            "/api/import",
            Auth::Key,
            Some(b"[".to_vec()),
            Some("application/json"),
        )
        .await;
    assert_error(&reply, 400, "bad_request", None);
}

// ---- limits ----

/// Sends `body_len` bytes of a JSON string as a chunked body (no `Content-Length`) and
/// returns the status and the body of the answer.
async fn chunked(server: &Server, method: &str, path: &str, body_len: usize) -> (u16, String) {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.key
    );
    let mut body = format!("{{\"name\": \"{}\"}}", "x".repeat(body_len)).into_bytes();
    body.truncate(body_len);
    let mut request = head.into_bytes();
    for chunk in body.chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer before it has read everything.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let server = Server::start_with(&[("CALPORT_HTTP_MAX_BODY_BYTES", "2048")]).await;
    let job = server.job("j").await;
    let big = json!({"name": "x".repeat(10_000)});
    let mut with_body = 0;
    for (method, path) in ROUTES {
        if body_for(method, path).is_none() {
            continue;
        }
        with_body += 1;
        let reply = server
            .request(method, &with_id(path, job), Auth::Key, Some(&big))
            .await;
        assert_error(&reply, 413, "payload_too_large", None);
    }
    assert_eq!(with_body, 12);
    // A body under the limit is fine.
    let reply = server
        .send("POST", "/api/keys", json!({"name": "y".repeat(100)}))
        .await;
    reply.expect(201);
    // Without a length announced: refused while reading, in the same shape.
    for (method, path) in [
        ("POST", "/api/accounts".to_owned()),
        ("POST", "/api/import".to_owned()),
        ("POST", format!("/api/sync-jobs/{job}/start")),
    ] {
        let (status, body) = chunked(&server, method, &path, 10_000).await;
        assert_eq!(status, 413, "{method} {path}: {body}");
        let start = body
            .find('{')
            .unwrap_or_else(|| panic!("{method} {path}: no JSON in {body:?}"));
        let end = body.rfind('}').unwrap();
        let error: Value = serde_json::from_str(&body[start..=end]).unwrap();
        assert_eq!(
            error,
            json!({"error": {"status": 413, "code": "payload_too_large",
                             "message": "the request body is too large", "field": null}}),
            "{method} {path}"
        );
    }
    assert_eq!(
        server.get(&format!("/api/sync-jobs/{job}/runs")).await.json,
        json!([])
    );
}

#[tokio::test]
async fn dead_letters_list_show_retry_and_skip() {
    let server = Server::start().await;
    assert_eq!(
        server.get("/api/dead-letters").await.expect(200),
        &json!([])
    );
    let reply = server.get("/api/dead-letters?state=lost").await;
    assert_error(&reply, 422, "invalid", Some("state"));
    let job = server.job("dl").await;
    let pair = server
        .app
        .db
        .pair(&format!("job-{job}"), "/a/cal/", "/b/cal/")
        .await
        .unwrap();
    let failure = calport_state::ItemFailure {
        pair_id: pair.id,
        side: "b",
        uid: "broken-1",
        href: Some("/b/cal/broken-1.ics"),
        reason: "403 Forbidden: quota exceeded",
        payload: Some(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
    };
    // Still being retried: not a dead letter yet.
    let row = server
        .app
        .db
        .record_item_failure(&failure, 2)
        .await
        .unwrap();
    assert_eq!(row.state, "failing");
    assert_eq!(
        server.get("/api/dead-letters").await.expect(200),
        &json!([])
    );
    assert_error(
        &server.get(&format!("/api/dead-letters/{}", row.id)).await,
        404,
        "not_found",
        None,
    );
    let row = server
        .app
        .db
        .record_item_failure(&failure, 2)
        .await
        .unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("open", 2));
    let list = server.get("/api/dead-letters").await;
    let d = &list.expect(200)[0];
    assert_eq!(d["job_id"], job);
    assert_eq!(d["uid"], "broken-1");
    assert_eq!(d["reason"], "403 Forbidden: quota exceeded");
    assert!(
        d["payload"]
            .as_str()
            .unwrap()
            .starts_with("BEGIN:VCALENDAR")
    );
    let one = server.get(&format!("/api/dead-letters/{}", row.id)).await;
    assert_eq!(one.expect(200)["state"], "open");
    // Retry: queued for the job's next run.
    let reply = server
        .send(
            "POST",
            &format!("/api/dead-letters/{}/retry", row.id),
            json!({}),
        )
        .await;
    assert_eq!(reply.expect(202)["state"], "retry");
    let runs = server.get(&format!("/api/sync-jobs/{job}/runs")).await;
    assert_eq!(runs.expect(200)[0]["state"], "queued");
    // Skip: left alone for good.
    let reply = server
        .send(
            "POST",
            &format!("/api/dead-letters/{}/skip", row.id),
            json!({}),
        )
        .await;
    assert_eq!(reply.expect(200)["state"], "skipped");
    let skipped = server.get("/api/dead-letters?state=skipped").await;
    assert_eq!(skipped.expect(200).as_array().unwrap().len(), 1);
    // Another failure does not bring a skipped item back.
    let row = server
        .app
        .db
        .record_item_failure(&failure, 2)
        .await
        .unwrap();
    assert_eq!(row.state, "skipped");
}

/// The web UI's sign-in: first-start password, session cookie, CSRF on writes.
#[tokio::test]
async fn the_web_ui_signs_in_with_a_cookie_and_writes_need_the_csrf_token() {
    let server = Server::start().await;
    let state = server
        .request("GET", "/api/session", Auth::None, None)
        .await;
    assert_eq!(state.expect(200)["setup_needed"], true);
    assert_eq!(state.json["authenticated"], false);
    // Signing in before a password exists, and a password too short.
    let reply = server
        .request(
            "POST",
            "/api/session",
            Auth::None,
            Some(&json!({"password": "whatever12"})),
        )
        .await;
    assert_error(&reply, 409, "conflict", None);
    let reply = server
        .request(
            "POST",
            "/api/setup",
            Auth::None,
            Some(&json!({"password": "short"})),
        )
        .await;
    assert_error(&reply, 422, "invalid", Some("password"));
    // First start.
    let setup = server
        .client
        .post(format!("{}/api/setup", server.base))
        .header("content-type", "application/json")
        .body(json!({"password": "correct horse"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status().as_u16(), 201);
    let cookie = setup
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let token = cookie.split(';').next().unwrap().to_owned();
    let setup: Value = serde_json::from_slice(&setup.bytes().await.unwrap()).unwrap();
    let csrf = setup["csrf"].as_str().unwrap().to_owned();
    // A second setup is refused.
    let reply = server
        .request(
            "POST",
            "/api/setup",
            Auth::None,
            Some(&json!({"password": "another one!"})),
        )
        .await;
    assert_error(&reply, 409, "conflict", None);
    let with_cookie = |method: &str, path: &str, csrf: Option<&str>| {
        let mut req = server
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", server.base),
            )
            .header("cookie", token.clone())
            .header("content-type", "application/json");
        if let Some(csrf) = csrf {
            req = req.header("x-csrf-token", csrf);
        }
        req
    };
    // Reads work with the cookie; writes need the CSRF token.
    let list = with_cookie("GET", "/api/accounts", None)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status().as_u16(), 200);
    let body = account_body("ui").to_string();
    let refused = with_cookie("POST", "/api/accounts", None)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let refused: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(refused["error"]["code"], "csrf");
    let wrong = with_cookie("POST", "/api/accounts", Some("csrf_wrong"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let created = with_cookie("POST", "/api/accounts", Some(&csrf))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let state = with_cookie("GET", "/api/session", None)
        .send()
        .await
        .unwrap();
    let state: Value = serde_json::from_slice(&state.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (state["authenticated"].clone(), state["csrf"].clone()),
        (json!(true), json!(csrf))
    );
    // A wrong password is refused; the right one opens a new session.
    let reply = server
        .request(
            "POST",
            "/api/session",
            Auth::None,
            Some(&json!({"password": "wrong horse"})),
        )
        .await;
    assert_error(&reply, 401, "unauthorized", None);
    let again = server
        .request(
            "POST",
            "/api/session",
            Auth::None,
            Some(&json!({"password": "correct horse"})),
        )
        .await;
    assert!(again.expect(200)["csrf"].is_string());
    // Sign out: the cookie no longer works.
    let out = with_cookie("DELETE", "/api/session", Some(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 204);
    let after = with_cookie("GET", "/api/accounts", None)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status().as_u16(), 401);
    // The page and its files are served without credentials.
    let page = server.request("GET", "/", Auth::None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"));
}
