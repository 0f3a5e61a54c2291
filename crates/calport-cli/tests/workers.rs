//! `calport serve` with several `calport worker` processes on one PostgreSQL database, end
//! to end: real processes of the real binary, real CalDAV servers (Radicale, Xandikos), a
//! fresh PostgreSQL database per test, everything on 127.0.0.1 and random ports.
//!
//! * two workers share a queue of runs and execute each run exactly once;
//! * a run whose worker is killed (SIGKILL) is taken over by another worker once its lease
//!   expires, and ends with exactly the source's items on the destination;
//! * account passwords are encrypted at rest and appear in no log.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calport_state::StateDb;
use calport_state::testing::{TestDatabase, fresh_postgres_url};
use calport_testkit::{DavServer, ServerKind};
use common::{items_by_uid, semantic_mismatches};
use reqwest::Method;
use serde_json::{Value, json};

/// The secret key every process of a test shares (base64 of 32 bytes).
const SECRET_KEY: &str = "Y2FscG9ydC13b3JrZXJzLXRlc3Qta2V5LTMyYnl0ZXM=";
/// Verbose logs, so that the secrets check has as much output to search as possible.
const LOG_FILTER: &str = "debug,hyper=info,hyper_util=info,h2=info,reqwest=info,rustls=info";
/// Pause between two polls of the API.
const POLL: Duration = Duration::from_millis(200);
/// Run states that are final.
const FINAL: &[&str] = &["completed", "partial_failure", "failed", "cancelled"];

/// A free port on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Random hex, for passwords no other test uses.
fn random_hex() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:016x}", hasher.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A VCALENDAR of `n` events with UIDs `{prefix}NNN`, for a whole-collection PUT.
fn vcalendar(name: &str, prefix: &str, n: usize) -> String {
    let mut out = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nX-WR-CALNAME:{name}\r\n"
    );
    for i in 0..n {
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:{prefix}{i:03}\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART:202605{:02}T{:02}0000Z\r\nDURATION:PT1H\r\nSUMMARY:{name} event {i}\r\n\
             END:VEVENT\r\n",
            1 + i % 28,
            i % 24
        ));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// Makes a calendar on a server; on Radicale also fills it with `n` events.
async fn calendar(server: &DavServer, path: &str, name: &str, prefix: &str, n: usize) {
    server
        .mkcalendar(path, name, &["VEVENT"], None)
        .await
        .unwrap_or_else(|e| panic!("MKCALENDAR {path} on {}: {e}", server.kind()));
    if n > 0 {
        server
            .put_collection_bulk(path, vcalendar(name, prefix, n).as_bytes())
            .await
            .unwrap_or_else(|e| panic!("seeding {path} on {}: {e}", server.kind()));
    }
}

/// Asserts the destination collection holds exactly the source collection's items, each
/// UID once and equal in meaning; returns how many there are.
async fn assert_same_items(source: &DavServer, a: &str, destination: &DavServer, b: &str) -> usize {
    let expected = items_by_uid(source, &[a.to_owned()]).await;
    let actual = items_by_uid(destination, &[b.to_owned()]).await;
    let duplicated: Vec<(&String, usize)> = actual
        .iter()
        .filter(|(_, copies)| copies.len() > 1)
        .map(|(uid, copies)| (uid, copies.len()))
        .collect();
    assert!(
        duplicated.is_empty(),
        "duplicates in {b} on {}: {duplicated:?}",
        destination.kind()
    );
    let problems = semantic_mismatches(&expected, &actual);
    assert!(
        problems.is_empty(),
        "{a} → {b}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    actual.len()
}

/// A `calport` process whose stdout and stderr go to a file; killed (SIGKILL, by its own
/// handle) and reaped when dropped.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL and reap. Idempotent.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One test's service: a fresh PostgreSQL database, an API key, a `calport serve` without
/// worker, and the `calport worker`s the test starts.
struct Cluster {
    // Declared first: processes go before their database is dropped.
    procs: Vec<Proc>,
    dir: tempfile::TempDir,
    db_url: String,
    api_key: String,
    base: String,
    http: reqwest::Client,
    _db: TestDatabase,
}

impl Cluster {
    /// Creates the database and API key (`calport apikey create`) and starts `calport
    /// serve` with its worker disabled.
    async fn start() -> Self {
        let (db_url, db) = fresh_postgres_url()
            .await
            .unwrap_or_else(|e| panic!("a PostgreSQL test database: {e}"));
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = Cluster {
            procs: Vec::new(),
            dir,
            db_url,
            api_key: String::new(),
            base: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap(),
            _db: db,
        };
        // The key first: this also creates the schema, before any long-running process.
        let out = cluster
            .command(&["apikey", "create", "--name", "workers test"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("calport apikey create runs");
        let mut transcript = out.stdout.clone();
        transcript.extend_from_slice(&out.stderr);
        std::fs::write(cluster.dir.path().join("apikey.log"), &transcript).unwrap();
        assert!(
            out.status.success(),
            "calport apikey create failed:\n{}",
            String::from_utf8_lossy(&transcript)
        );
        cluster.api_key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(!cluster.api_key.is_empty(), "apikey create printed no key");
        cluster.start_serve().await;
        cluster
    }

    /// `calport ARGS` on this test's database, key and data directory, with a clean
    /// environment of `CALPORT_*` variables.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = common::calport();
        for (var, _) in std::env::vars() {
            if var.starts_with("CALPORT_") {
                cmd.env_remove(var);
            }
        }
        cmd.args(args)
            .env("CALPORT_DATA_DIR", self.dir.path().join("data"))
            .env("CALPORT_DATABASE_URL", &self.db_url)
            .env("CALPORT_SECRET_KEY", SECRET_KEY)
            .env("CALPORT_LOG", LOG_FILTER);
        cmd
    }

    fn spawn(&self, name: &str, args: &[&str], env: &[(&str, String)]) -> Proc {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = File::create(&log).unwrap();
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start calport {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Starts `calport serve` (API only) on a free port and waits for `/api/health`.
    async fn start_serve(&mut self) {
        for attempt in 1..=3 {
            let port = free_port();
            let mut serve = self.spawn(
                "serve",
                &["serve"],
                &[
                    ("CALPORT_LISTEN", format!("127.0.0.1:{port}")),
                    ("CALPORT_WORKER_ENABLED", "false".to_owned()),
                ],
            );
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(20);
            for _ in 0..200 {
                if serve.exited() || Instant::now() > deadline {
                    break;
                }
                if let Ok(r) = self.http.get(format!("{base}/api/health")).send().await
                    && r.status().is_success()
                {
                    self.base = base;
                    self.procs.push(serve);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Exited: most likely the port was taken meanwhile; try another one.
            let exited = serve.exited();
            serve.kill();
            assert!(
                exited && attempt < 3,
                "calport serve did not come up:\n{}",
                serve.output()
            );
        }
    }

    /// Starts a `calport worker` (2 parallel runs, 1 s poll, the given lease) and waits
    /// until it has registered; returns its index in `procs`.
    async fn start_worker(&mut self, name: &str, lease_seconds: u64) -> usize {
        let worker = self.spawn(
            name,
            &["worker"],
            &[
                ("CALPORT_WORKER_PARALLEL_RUNS", "2".to_owned()),
                ("CALPORT_WORKER_POLL_SECONDS", "1".to_owned()),
                ("CALPORT_WORKER_LEASE_SECONDS", lease_seconds.to_string()),
            ],
        );
        let pid = i64::from(worker.pid());
        self.procs.push(worker);
        let index = self.procs.len() - 1;
        let deadline = Instant::now() + Duration::from_secs(20);
        for _ in 0..100 {
            let status = self.get("/api/worker/status").await;
            let registered = status["workers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["pid"].as_i64() == Some(pid));
            if registered {
                return index;
            }
            assert!(
                !self.procs[index].exited() && Instant::now() < deadline,
                "calport worker {name} did not register:\n{}",
                self.procs[index].output()
            );
            tokio::time::sleep(POLL).await;
        }
        panic!("calport worker {name} did not register in time");
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, value) = self.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {value}");
        value
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let (status, value) = self.call(Method::POST, path, Some(body)).await;
        assert!(
            (200..300).contains(&status),
            "POST {path}: {status} {value}"
        );
        value
    }

    async fn create_account(&self, name: &str, server: &DavServer, password: &str) -> i64 {
        let account = self
            .post(
                "/api/accounts",
                &json!({
                    "name": name,
                    "url": format!("{}/", server.base_url()),
                    "username": server.username(),
                    "password": password,
                }),
            )
            .await;
        assert_eq!(account["has_password"], true, "{account}");
        account["id"].as_i64().unwrap()
    }

    /// A one-way sync job (A → B) of exactly one collection pair.
    async fn create_job(
        &self,
        name: &str,
        a_account: i64,
        b_account: i64,
        a: &str,
        b: &str,
    ) -> i64 {
        let job = self
            .post(
                "/api/sync-jobs",
                &json!({
                    "name": name,
                    "kind": "sync",
                    "a_account_id": a_account,
                    "b_account_id": b_account,
                    "options": {
                        "direction": "a-to-b",
                        "create_collections": false,
                        "pairs": [{"a": a, "b": b}],
                    },
                }),
            )
            .await;
        job["id"].as_i64().unwrap()
    }

    /// Queues a run of a job; returns the run's id.
    async fn start_run(&self, job: i64) -> i64 {
        let (status, run) = self
            .call(Method::POST, &format!("/api/sync-jobs/{job}/start"), None)
            .await;
        assert_eq!(status, 202, "start job {job}: {run}");
        assert_eq!(run["state"], "queued", "{run}");
        run["id"].as_i64().unwrap()
    }

    async fn run(&self, id: i64) -> Value {
        self.get(&format!("/api/runs/{id}")).await
    }

    /// Waits (bounded) until every run is in a final state; returns them by id.
    async fn wait_finished(&self, runs: &[i64], limit: Duration) -> BTreeMap<i64, Value> {
        let deadline = Instant::now() + limit;
        let polls = limit.as_millis() / POLL.as_millis() + 1;
        for _ in 0..polls {
            let mut all = BTreeMap::new();
            for &id in runs {
                all.insert(id, self.run(id).await);
            }
            if all
                .values()
                .all(|r| FINAL.contains(&r["state"].as_str().unwrap()))
            {
                return all;
            }
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let mut states = Vec::new();
        for &id in runs {
            let run = self.run(id).await;
            states.push(format!(
                "run {id}: {} (attempts {}, worker {})",
                run["state"], run["attempts"], run["worker"]
            ));
        }
        panic!(
            "runs not finished within {limit:?}:\n{}\n{}",
            states.join("\n"),
            self.outputs()
        );
    }

    /// A run's log lines.
    async fn logs(&self, run: i64) -> Vec<String> {
        let page = self.get(&format!("/api/runs/{run}/logs?limit=1000")).await;
        page["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["message"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Every process's output, labelled, for failure messages.
    fn outputs(&self) -> String {
        self.procs
            .iter()
            .map(|p| {
                let out = p.output();
                let lines: Vec<&str> = out.lines().collect();
                let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                format!("--- calport {} (last lines) ---\n{tail}\n", p.name)
            })
            .collect()
    }

    /// Everything every process of this test wrote (and the apikey transcript).
    fn all_output(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = self
            .procs
            .iter()
            .map(|p| (p.name.clone(), std::fs::read(&p.log).unwrap_or_default()))
            .collect();
        out.push((
            "apikey create".to_owned(),
            std::fs::read(self.dir.path().join("apikey.log")).unwrap_or_default(),
        ));
        out
    }

    /// Asserts no secret occurs in any process's output.
    fn assert_not_in_output(&self, secrets: &[&str]) {
        for (name, bytes) in self.all_output() {
            for secret in secrets {
                assert!(
                    !contains(&bytes, secret.as_bytes()),
                    "the output of calport {name} contains the secret {secret:?}"
                );
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The pid in a log line `… by worker HOST:PID:START …`.
fn worker_pid(line: &str) -> Option<u32> {
    let id = line.split("by worker ").nth(1)?.split_whitespace().next()?;
    let mut parts = id.rsplit(':');
    let _start = parts.next()?;
    parts.next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_execute_each_run_exactly_once() {
    const JOBS: usize = 10;
    const ITEMS: usize = 6;
    let t0 = Instant::now();
    let (source, destination) = tokio::join!(
        DavServer::start(ServerKind::Radicale),
        DavServer::start(ServerKind::Xandikos)
    );
    let (source, destination) = (source.expect("radicale"), destination.expect("xandikos"));
    let mut pairs = Vec::new();
    for i in 0..JOBS {
        let a = format!("{}cal-{i:02}/", source.calendar_home_path());
        let b = format!("{}cal-{i:02}/", destination.calendar_home_path());
        let name = format!("Calendar {i:02}");
        calendar(&source, &a, &name, &format!("c{i:02}-e"), ITEMS).await;
        calendar(&destination, &b, &name, "", 0).await;
        pairs.push((a, b));
    }

    let mut cluster = Cluster::start().await;
    let a_account = cluster
        .create_account("source", &source, source.password())
        .await;
    let b_account = cluster
        .create_account("destination", &destination, "unused-by-xandikos")
        .await;
    let mut jobs = Vec::new();
    for (i, (a, b)) in pairs.iter().enumerate() {
        jobs.push(
            cluster
                .create_job(&format!("job {i:02}"), a_account, b_account, a, b)
                .await,
        );
    }
    // Both workers are polling before anything is queued, so both get work.
    let w1 = cluster.start_worker("worker-1", 10).await;
    let w2 = cluster.start_worker("worker-2", 10).await;
    let pids = [cluster.procs[w1].pid(), cluster.procs[w2].pid()];
    let mut runs = Vec::new();
    for &job in &jobs {
        runs.push(cluster.start_run(job).await);
    }
    let queued = Instant::now();
    let finished = cluster.wait_finished(&runs, Duration::from_secs(90)).await;
    let took = queued.elapsed();

    let mut per_worker: BTreeMap<u32, usize> = BTreeMap::new();
    for (&id, run) in &finished {
        assert_eq!(
            run["state"],
            "completed",
            "run {id}: {run}\n{}",
            cluster.outputs()
        );
        assert_eq!(
            run["attempts"], 1,
            "run {id} was claimed more than once: {run}"
        );
        assert_eq!(
            run["stats"]["events"]["created"], ITEMS,
            "run {id} created each item once: {run}"
        );
        let logs = cluster.logs(id).await;
        let starts: Vec<&String> = logs
            .iter()
            .filter(|l| l.starts_with("started by worker "))
            .collect();
        assert_eq!(starts.len(), 1, "run {id} started once: {logs:#?}");
        assert!(
            !logs
                .iter()
                .any(|l| l.contains("resumed by worker") || l.contains("lost the run's lease")),
            "run {id} ran on one worker only: {logs:#?}"
        );
        let pid = worker_pid(starts[0]).unwrap_or_else(|| panic!("no pid in {:?}", starts[0]));
        assert!(pids.contains(&pid), "run {id} ran on {pid}, not {pids:?}");
        *per_worker.entry(pid).or_default() += 1;
    }
    assert_eq!(
        per_worker.len(),
        2,
        "both workers executed runs: {per_worker:?}"
    );
    assert_eq!(per_worker.values().sum::<usize>(), JOBS);
    for (a, b) in &pairs {
        assert_eq!(assert_same_items(&source, a, &destination, b).await, ITEMS);
    }
    cluster.assert_not_in_output(&[source.password()]);
    eprintln!(
        "{JOBS} runs on two workers {per_worker:?} in {took:?}; test took {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_run_is_taken_over() {
    // Radicale ingests some 20–80 items/s: the run lasts several seconds.
    const ITEMS: usize = 300;
    let t0 = Instant::now();
    let (source, destination) = tokio::join!(
        DavServer::start(ServerKind::Radicale),
        DavServer::start(ServerKind::Radicale)
    );
    let (source, destination) = (source.expect("radicale"), destination.expect("radicale"));
    let a = format!("{}big/", source.calendar_home_path());
    let b = format!("{}big/", destination.calendar_home_path());
    calendar(&source, &a, "Big", "big-e", ITEMS).await;
    calendar(&destination, &b, "Big", "", 0).await;

    let mut cluster = Cluster::start().await;
    let a_account = cluster
        .create_account("source", &source, source.password())
        .await;
    let b_account = cluster
        .create_account("destination", &destination, destination.password())
        .await;
    let job = cluster
        .create_job("big", a_account, b_account, &a, &b)
        .await;
    let run = cluster.start_run(job).await;

    let worker_a = cluster.start_worker("worker-a", 5).await;
    let pid_a = cluster.procs[worker_a].pid();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut progress = Value::Null;
    for _ in 0..300 {
        let now = cluster.run(run).await;
        let state = now["state"].as_str().unwrap().to_owned();
        assert!(
            !FINAL.contains(&state.as_str()),
            "the run ended before worker A could be killed (more items needed): {now}"
        );
        if state == "running" && now["progress"]["items_done"].as_u64().unwrap_or(0) > 0 {
            progress = now["progress"].clone();
            break;
        }
        assert!(Instant::now() < deadline, "the run made no progress: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!progress.is_null(), "the run made no progress in time");
    cluster.procs[worker_a].kill(); // SIGKILL
    let killed = Instant::now();
    let landed = destination.members(&b).await.unwrap().len();
    let held = cluster.run(run).await;
    assert_eq!(
        held["state"], "running",
        "the dead worker keeps its lease: {held}"
    );
    assert!(
        landed < ITEMS,
        "worker A was killed with work left ({landed} of {ITEMS} landed)"
    );

    let worker_b = cluster.start_worker("worker-b", 5).await;
    let pid_b = cluster.procs[worker_b].pid();
    let finished = cluster.wait_finished(&[run], Duration::from_secs(60)).await;
    let took_over = killed.elapsed();
    let end = &finished[&run];
    assert_eq!(end["state"], "completed", "{end}\n{}", cluster.outputs());
    assert_eq!(end["attempts"], 2, "{end}");
    let logs = cluster.logs(run).await;
    let started: Vec<&String> = logs
        .iter()
        .filter(|l| l.starts_with("started by worker "))
        .collect();
    let resumed: Vec<&String> = logs
        .iter()
        .filter(|l| l.starts_with("resumed by worker "))
        .collect();
    assert_eq!(started.len(), 1, "{logs:#?}");
    assert_eq!(resumed.len(), 1, "{logs:#?}");
    assert_eq!(worker_pid(started[0]), Some(pid_a), "{logs:#?}");
    assert_eq!(worker_pid(resumed[0]), Some(pid_b), "{logs:#?}");
    assert!(resumed[0].contains("(attempt 2)"), "{logs:#?}");
    assert_eq!(
        assert_same_items(&source, &a, &destination, &b).await,
        ITEMS
    );
    cluster.assert_not_in_output(&[source.password()]);
    eprintln!(
        "killed worker A at {} of {} items done ({landed} landed); worker B finished {:?} \
         after the kill; test took {:?}",
        progress["items_done"],
        progress["items_total"],
        took_over,
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_passwords_are_encrypted_at_rest_and_never_logged() {
    let (source, destination) = tokio::join!(
        DavServer::start(ServerKind::Radicale),
        DavServer::start(ServerKind::Xandikos)
    );
    let (source, destination) = (source.expect("radicale"), destination.expect("xandikos"));
    let a = format!("{}secrets/", source.calendar_home_path());
    let b = format!("{}secrets/", destination.calendar_home_path());
    calendar(&source, &a, "Secrets", "secret-e", 3).await;
    calendar(&destination, &b, "Secrets", "", 0).await;
    // Xandikos accepts any password: this one is unique to the test.
    let b_password = format!("xandikos-password-{}", random_hex());
    let passwords = [source.password(), b_password.as_str()];

    let mut cluster = Cluster::start().await;
    let a_account = cluster
        .create_account("source", &source, passwords[0])
        .await;
    let b_account = cluster
        .create_account("destination", &destination, passwords[1])
        .await;
    // The API process decrypts and uses both passwords…
    for account in [a_account, b_account] {
        let (status, answer) = cluster
            .call(Method::POST, &format!("/api/accounts/{account}/test"), None)
            .await;
        assert_eq!(status, 200, "test account {account}: {answer}");
    }
    // …and so does a worker, in another process, with the shared key.
    let job = cluster
        .create_job("secrets", a_account, b_account, &a, &b)
        .await;
    cluster.start_worker("worker", 10).await;
    let run = cluster.start_run(job).await;
    let finished = cluster.wait_finished(&[run], Duration::from_secs(45)).await;
    assert_eq!(finished[&run]["state"], "completed", "{}", finished[&run]);
    assert_eq!(assert_same_items(&source, &a, &destination, &b).await, 3);

    // The API never shows them.
    let (_, listed) = cluster.call(Method::GET, "/api/accounts", None).await;
    for password in passwords {
        assert!(!listed.to_string().contains(password), "{listed}");
    }

    // At rest: every account row holds an encrypted secret, not the password.
    let db = StateDb::connect(&cluster.db_url).await.unwrap();
    let accounts = db.accounts().await.unwrap();
    db.close().await;
    assert_eq!(accounts.len(), 2);
    for account in &accounts {
        let secret = account.secret.as_deref().expect("a stored secret");
        let password = if account.id == a_account {
            passwords[0]
        } else {
            passwords[1]
        };
        assert!(secret.len() > password.len(), "{}", account.name);
        for row_part in [
            account.name.as_bytes(),
            account.url.as_bytes(),
            account.username.as_bytes(),
            secret,
        ] {
            assert!(
                !contains(row_part, password.as_bytes()),
                "account {}: the password is stored in clear",
                account.name
            );
        }
    }

    // The whole database, as pg_dump sees it (bytea comes out as hex).
    match Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "--dbname"])
        .arg(&cluster.db_url)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dump = out.stdout;
            assert!(contains(&dump, b"COPY public.accounts"), "a real dump");
            for secret in passwords.iter().chain([&cluster.api_key.as_str()]) {
                assert!(
                    !contains(&dump, secret.as_bytes()),
                    "the database dump contains {secret:?}"
                );
                assert!(
                    !contains(&dump, hex(secret.as_bytes()).as_bytes()),
                    "the database dump contains {secret:?} as hex"
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("pg_dump is not installed: checked the accounts table only");
        }
        Err(e) => panic!("pg_dump: {e}"),
    }

    // No process printed them, at debug level.
    let verbose = cluster
        .all_output()
        .iter()
        .map(|(_, out)| out.len())
        .sum::<usize>();
    assert!(verbose > 0, "the processes logged something");
    cluster.assert_not_in_output(&passwords);
}

#[test]
fn worker_pids_are_read_from_log_lines() {
    assert_eq!(
        worker_pid("started by worker host-1:4242:1767225600000"),
        Some(4242)
    );
    assert_eq!(worker_pid("resumed by worker h:7:1 (attempt 2)"), Some(7));
    assert_eq!(worker_pid("run completed"), None);
}
