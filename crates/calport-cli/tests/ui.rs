//! The web UI in a real browser: `calport serve` (the real binary, worker in-process, a
//! fresh SQLite data directory) against real Radicale (source) and Xandikos (target), driven
//! by `ui-tests/run.mjs` in headless Chromium through `playwright-core`.
//!
//! The browser script covers first start, sign-in and sign-out, accounts with a connection
//! test, a copy job with a preview, start and live progress, pause and resume, a conflict
//! resolved from the Conflicts page, the "Webhooks in" page (a source added, its key shown
//! once, a pushed event written to Xandikos, a conflict between two sources settled, a new
//! key), and takes screenshots of every page at desktop and phone width into
//! `docs/screenshots/`. This test seeds the servers, starts the service,
//! runs the script, and afterwards checks on the servers themselves what the UI claimed.
//!
//! Needs `node` (skipped with a loud message when it is missing), Chromium at
//! `/usr/bin/chromium` (or `$CHROMIUM`) and `ui-tests/node_modules` (`npm ci --prefix
//! ui-tests`): `scripts/test.sh` installs both, so their absence fails the test.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calport_testkit::{DavServer, Method, ServerKind};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Events in the source calendar that the copy job moves (scenario 2).
const EVENTS: usize = 40;
/// Events in the source calendar of the job that is paused and resumed (scenario 3).
const WORK_EVENTS: usize = 200;
/// Events in the calendar synced both ways (scenario 4).
const SHARED_EVENTS: usize = 3;
/// The most the browser script may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

/// alice's only calendar: the source of the copy job (scenario 2).
const RADICALE_CALENDAR: &str = "/alice/calendar/";
/// bob's calendars: the paused and resumed job's source (scenario 3) and the calendar
/// synced both ways (scenario 4).
const RADICALE_WORK: &str = "/bob/work/";
const RADICALE_SHARED: &str = "/bob/shared/";
const XANDIKOS_WORK: &str = "/user/calendars/work/";
const XANDIKOS_SHARED: &str = "/user/calendars/shared/";
/// The event the script edits on both sides between two runs of the two-way job.
const CONFLICT_UID: &str = "shared-000";
/// The summary the script gives it on side B, the version it keeps.
const B_SUMMARY: &str = "Edited on B (Xandikos)";

/// A VCALENDAR of `n` events with UIDs `{prefix}-NNN`, for a whole-collection PUT.
fn vcalendar(name: &str, prefix: &str, n: usize) -> String {
    let mut out = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport ui tests//EN\r\nX-WR-CALNAME:{name}\r\n"
    );
    for i in 0..n {
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:{prefix}-{i:03}\r\nDTSTAMP:20260101T000000Z\r\n\
             DTSTART:202611{:02}T{:02}0000Z\r\nDURATION:PT1H\r\nSUMMARY:{name} event {i}\r\n\
             END:VEVENT\r\n",
            1 + i % 28,
            8 + i % 10
        ));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// Creates a calendar of bob's on Radicale (alice may not write there) and fills it with a
/// whole-collection PUT.
async fn seed_as_bob(server: &DavServer, path: &str, name: &str, prefix: &str, n: usize) {
    let (user, password) = server.second_user();
    let mkcalendar = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>{name}</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#
    );
    let response = server
        .request_as(
            Method::from_bytes(b"MKCALENDAR").unwrap(),
            path,
            user,
            password,
        )
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(mkcalendar)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "MKCALENDAR {path} as {user}"
    );
    let response = server
        .request_as(Method::PUT, path, user, password)
        .header("Content-Type", "text/calendar; charset=utf-8")
        .body(vcalendar(name, prefix, n))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "PUT {path} as {user}: {}",
        response.status()
    );
}

/// A free port on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// `node --version`, or `None` when there is no usable node.
fn node_version() -> Option<String> {
    let out = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `calport serve`, killed (by its own handle) and reaped when dropped.
struct Serve {
    child: Child,
    log: PathBuf,
    base: String,
}

impl Serve {
    /// Starts `calport serve` on a free port with a fresh data directory and waits for
    /// `/api/health`.
    async fn start(data_dir: &Path) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        for attempt in 1..=3 {
            let port = free_port();
            let log = data_dir.join(format!("serve-{attempt}.log"));
            let file = File::create(&log).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_calport"));
            for (var, _) in std::env::vars() {
                if var.starts_with("CALPORT_") {
                    cmd.env_remove(var);
                }
            }
            let child = cmd
                .arg("serve")
                .env("CALPORT_DATA_DIR", data_dir)
                .env("CALPORT_LISTEN", format!("127.0.0.1:{port}"))
                .env("CALPORT_WORKER_ENABLED", "true")
                .env("CALPORT_WORKER_POLL_SECONDS", "1")
                .env("CALPORT_WORKER_LEASE_SECONDS", "30")
                // One request at a time: runs last long enough to watch and to pause.
                .env("CALPORT_REMOTE_CONCURRENCY", "1")
                .env("CALPORT_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::from(file.try_clone().unwrap()))
                .stderr(Stdio::from(file))
                .spawn()
                .expect("calport serve starts");
            let mut serve = Serve {
                child,
                log,
                base: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && !serve.exited() {
                if let Ok(r) = http.get(format!("{}/api/health", serve.base)).send().await
                    && r.status().is_success()
                {
                    return serve;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Exited: most likely the port was taken meanwhile; try another one.
            let exited = serve.exited();
            assert!(
                exited && attempt < 3,
                "calport serve did not come up:\n{}",
                serve.output()
            );
        }
        unreachable!("the loop either returns or panics")
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the browser script with `env`, echoing its output line by line; returns whether
/// it exited 0 and everything it printed.
async fn run_script(root: &Path, env: &[(&str, String)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(root.join("ui-tests").join("run.mjs"))
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("node starts");
    let transcript = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut readers = Vec::new();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    for (tag, stream) in [
        (
            "ui",
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        ),
        ("ui!", Box::new(stderr)),
    ] {
        let transcript = std::sync::Arc::clone(&transcript);
        readers.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[{tag}] {line}");
                let mut t = transcript.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        }));
    }
    let status = match tokio::time::timeout(SCRIPT_TIMEOUT, child.wait()).await {
        Ok(status) => status.expect("node runs"),
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "ui-tests/run.mjs took longer than {SCRIPT_TIMEOUT:?}:\n{}",
                transcript.lock().unwrap()
            );
        }
    };
    for reader in readers {
        let _ = reader.await;
    }
    let text = transcript.lock().unwrap().clone();
    (status.success(), text)
}

/// The UIDs in a collection, sorted, each as often as it is stored.
async fn uids(server: &DavServer, path: &str) -> Vec<String> {
    let mut out: Vec<String> = server
        .list(path)
        .await
        .unwrap_or_else(|e| panic!("listing {path} on {}: {e}", server.kind()))
        .iter()
        .map(|r| {
            calport_ical::inspect(&r.body)
                .unwrap_or_else(|e| panic!("{} on {}: {e}", r.href, server.kind()))
                .uid
        })
        .collect();
    out.sort();
    out
}

/// The bodies of the items with `uid` in one of bob's collections on Radicale (the
/// testkit's listing helpers read as alice, who may not read bob's calendars).
async fn bob_items(server: &DavServer, path: &str, uid: &str) -> Vec<String> {
    let (user, password) = server.second_user();
    let listing = server
        .request_as(Method::from_bytes(b"PROPFIND").unwrap(), path, user, password)
        .header("Depth", "1")
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(r#"<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status().as_u16(), 207, "PROPFIND {path} as {user}");
    let xml = listing.text().await.unwrap();
    let mut out = Vec::new();
    for href in xml
        .split("href>")
        .skip(1)
        .step_by(2)
        .filter_map(|rest| rest.split('<').next())
        .filter(|href| !href.ends_with('/'))
    {
        let body = server
            .request_as(Method::GET, href, user, password)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if calport_ical::inspect(body.as_bytes()).is_ok_and(|i| i.uid == uid) {
            out.push(body);
        }
    }
    out
}

/// The bodies of the items with `uid` in a collection the testkit can list.
async fn items(server: &DavServer, path: &str, uid: &str) -> Vec<String> {
    server
        .list(path)
        .await
        .unwrap_or_else(|e| panic!("listing {path} on {}: {e}", server.kind()))
        .iter()
        .filter(|r| calport_ical::inspect(&r.body).is_ok_and(|i| i.uid == uid))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

fn expected_uids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_in_headless_chromium() {
    let Some(node) = node_version() else {
        eprintln!(
            "\n########################################################################\n\
             SKIPPED: the web UI browser test needs Node.js (`node` is not on PATH).\n\
             Install node 20+, then scripts/test.sh installs Chromium and ui-tests/.\n\
             ########################################################################\n"
        );
        return;
    };
    let root = calport_testkit::workspace_root();
    let chromium = std::env::var("CHROMIUM")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromium".to_owned());
    assert!(
        Path::new(&chromium).is_file(),
        "Chromium not found at {chromium}: run scripts/test.sh (apt-get install chromium), \
         or point CHROMIUM at a Chromium binary"
    );
    let playwright = root.join("ui-tests/node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "{} is missing: run scripts/test.sh (npm ci --prefix ui-tests)",
        playwright.display()
    );
    eprintln!("node {node}, chromium {chromium}");

    let started = Instant::now();
    let source = DavServer::start(ServerKind::Radicale).await.unwrap();
    let target = DavServer::start(ServerKind::Xandikos).await.unwrap();
    source
        .mkcalendar(RADICALE_CALENDAR, "Calendar", &["VEVENT"], None)
        .await
        .unwrap();
    source
        .put_collection_bulk(
            RADICALE_CALENDAR,
            vcalendar("Calendar", "ui", EVENTS).as_bytes(),
        )
        .await
        .unwrap();
    for (path, name, prefix, n) in [
        (RADICALE_WORK, "Work", "work", WORK_EVENTS),
        (RADICALE_SHARED, "Shared", "shared", SHARED_EVENTS),
    ] {
        seed_as_bob(&source, path, name, prefix, n).await;
    }
    for (path, name) in [(XANDIKOS_WORK, "Work"), (XANDIKOS_SHARED, "Shared")] {
        target
            .mkcalendar(path, name, &["VEVENT"], None)
            .await
            .unwrap();
    }
    eprintln!("servers seeded in {:?}", started.elapsed());

    let data = tempfile::tempdir().unwrap();
    let serve = Serve::start(data.path()).await;
    let screenshots = root.join("docs").join("screenshots");
    let output = root.join("ui-tests").join("output");
    let env = [
        ("BASE_URL", serve.base.clone()),
        ("RADICALE_URL", format!("{}/", source.base_url())),
        ("RADICALE_USER", source.username().to_owned()),
        ("RADICALE_PASSWORD", source.password().to_owned()),
        ("RADICALE_USER2", source.second_user().0.to_owned()),
        ("RADICALE_PASSWORD2", source.second_user().1.to_owned()),
        ("XANDIKOS_URL", format!("{}/", target.base_url())),
        ("SCREENSHOT_DIR", screenshots.display().to_string()),
        ("OUTPUT_DIR", output.display().to_string()),
        ("CHROMIUM", chromium),
        ("EVENTS", EVENTS.to_string()),
        ("WORK_EVENTS", WORK_EVENTS.to_string()),
        ("RADICALE_SHARED", RADICALE_SHARED.to_owned()),
        ("XANDIKOS_CALENDAR", target.calendar_path().to_owned()),
        ("XANDIKOS_WORK", XANDIKOS_WORK.to_owned()),
        ("XANDIKOS_SHARED", XANDIKOS_SHARED.to_owned()),
        ("CONFLICT_UID", CONFLICT_UID.to_owned()),
        ("B_SUMMARY", B_SUMMARY.to_owned()),
    ];
    let script_started = Instant::now();
    let (ok, transcript) = run_script(&root, &env).await;
    if !ok {
        // The whole transcript went to stderr line by line; repeat its end with the log.
        let lines: Vec<&str> = transcript.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        panic!(
            "ui-tests/run.mjs failed (screenshots and page HTML of the failure in {}):\n\
             {tail}\n\ncalport serve log:\n{}",
            output.display(),
            serve.output()
        );
    }
    eprintln!(
        "browser script passed in {:?} (whole test so far {:?})",
        script_started.elapsed(),
        started.elapsed()
    );

    // What the UI showed is what the servers hold: the copy job's 40 events, once each.
    assert_eq!(
        uids(&target, target.calendar_path()).await,
        expected_uids("ui", EVENTS),
        "the copy job's destination"
    );
    // The paused and resumed run's events, once each.
    assert_eq!(
        uids(&target, XANDIKOS_WORK).await,
        expected_uids("work", WORK_EVENTS),
        "the paused and resumed job's destination"
    );
    // The conflict was resolved keeping B: B's version on both sides, once.
    for (side, found) in [
        (
            "Radicale (A)",
            bob_items(&source, RADICALE_SHARED, CONFLICT_UID).await,
        ),
        (
            "Xandikos (B)",
            items(&target, XANDIKOS_SHARED, CONFLICT_UID).await,
        ),
    ] {
        assert_eq!(found.len(), 1, "{CONFLICT_UID} once on {side}: {found:?}");
        assert!(
            found[0].contains(B_SUMMARY),
            "{CONFLICT_UID} on {side} holds side B's version after the resolution:\n{}",
            found[0]
        );
    }
    eprintln!("whole test {:?}", started.elapsed());
}
