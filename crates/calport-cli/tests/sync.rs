//! `calport sync` and `calport conflicts` end to end, against real Radicale (side A) and
//! Xandikos (side B) started on random loopback ports.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calport_testkit::{DavServer, ServerKind};
use common::{Run, calport};
use serde_json::Value;

const ICS: &str = "text/calendar; charset=utf-8";
const VCF: &str = "text/vcard; charset=utf-8";

fn event(uid: &str, summary: &str, modified: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nLAST-MODIFIED:{modified}\r\n\
         DTSTART:20261201T100000Z\r\nDTEND:20261201T110000Z\r\nSUMMARY:{summary}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn event_at(uid: &str, summary: &str, start: &str, rrule: Option<&str>) -> String {
    let rule = rrule.map(|r| format!("RRULE:{r}\r\n")).unwrap_or_default();
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\n\
         {rule}SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn card(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n")
}

struct Pair {
    a: DavServer,
    b: DavServer,
    dir: tempfile::TempDir,
}

impl Pair {
    async fn start() -> Self {
        let a = DavServer::start(ServerKind::Radicale)
            .await
            .expect("radicale");
        let b = DavServer::start(ServerKind::Xandikos)
            .await
            .expect("xandikos");
        a.create_default_collections().await.unwrap();
        Pair {
            a,
            b,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.sqlite")
    }

    /// Writes sync.toml with accounts `a` and `b` and the given jobs.
    fn config(&self, jobs: &str) -> PathBuf {
        let text = format!(
            "[options]\nconcurrency = 4\ntimeout_seconds = 60\n\n\
             [accounts.a]\nurl = \"{}/\"\nusername = \"{}\"\npassword = \"{}\"\n\n\
             [accounts.b]\nurl = \"{}/\"\nusername = \"{}\"\npassword = \"{}\"\n\n{jobs}\n",
            self.a.base_url(),
            self.a.username(),
            self.a.password(),
            self.b.base_url(),
            self.b.username(),
            self.b.password(),
        );
        let path = self.dir.path().join("sync.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A job pairing A's and B's default calendars (and address books).
    fn job(&self, name: &str, options: &str, with_contacts: bool) -> String {
        let mut pairs = format!(
            "{{ a = \"{}\", b = \"{}\" }}",
            self.a.calendar_path(),
            self.b.calendar_path()
        );
        if with_contacts {
            pairs.push_str(&format!(
                ", {{ a = \"{}\", b = \"{}\" }}",
                self.a.addressbook_path(),
                self.b.addressbook_path()
            ));
        }
        format!("[[jobs]]\nname = \"{name}\"\na = \"a\"\nb = \"b\"\npairs = [{pairs}]\n{options}\n")
    }

    fn sync(&self, config: &Path, extra: &[&str]) -> Run {
        sync(config, &self.state(), extra)
    }
}

fn sync(config: &Path, state: &Path, extra: &[&str]) -> Run {
    calport()
        .arg("sync")
        .arg("--config")
        .arg(config)
        .arg("--state")
        .arg(state)
        .arg("--json")
        .args(extra)
        .output()
        .expect("calport runs")
        .into()
}

/// The JSON report of each job, in order.
fn reports(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON report"))
        .collect()
}

fn total(report: &Value, key: &str) -> u64 {
    report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["stats"][key].as_u64().unwrap())
        .sum()
}

fn writes(report: &Value) -> u64 {
    [
        "created_on_a",
        "updated_on_a",
        "deleted_on_a",
        "created_on_b",
        "updated_on_b",
        "deleted_on_b",
    ]
    .iter()
    .map(|k| total(report, k))
    .sum()
}

fn requests(report: &Value) -> u64 {
    report["requests"]["a"].as_u64().unwrap() + report["requests"]["b"].as_u64().unwrap()
}

/// UID → SUMMARY (or FN) of every item in a collection.
async fn summaries(server: &DavServer, path: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in server.list(path).await.unwrap() {
        let meta = calport_ical::inspect(&r.body).unwrap();
        let doc = calport_ical::parse(&r.body).unwrap();
        let first = doc.item_components().into_iter().next().unwrap();
        let text = first
            .property("SUMMARY")
            .or_else(|| first.property("FN"))
            .map(|p| p.value.clone())
            .unwrap_or_default();
        assert!(
            out.insert(meta.uid.clone(), text).is_none(),
            "{} holds UID {} twice",
            path,
            meta.uid
        );
    }
    out
}

async fn put(server: &DavServer, collection: &str, name: &str, body: &str) {
    let ct = if body.starts_with("BEGIN:VCARD") {
        VCF
    } else {
        ICS
    };
    let status = server
        .put(&format!("{collection}{name}"), body.as_bytes(), ct)
        .await
        .unwrap();
    assert!(
        status.is_success(),
        "PUT {name} on {}: {status}",
        server.kind()
    );
}

/// Where an item with this UID lives in a collection.
async fn href_of(server: &DavServer, collection: &str, uid: &str) -> String {
    for r in server.list(collection).await.unwrap() {
        if calport_ical::inspect(&r.body).unwrap().uid == uid {
            return r.href;
        }
    }
    panic!("{uid} not in {collection} on {}", server.kind())
}

#[tokio::test]
async fn two_way_sync_carries_creates_edits_and_deletes_both_ways() {
    let p = Pair::start().await;
    let (ca, cb) = (p.a.calendar_path(), p.b.calendar_path());
    let (ba, bb) = (p.a.addressbook_path(), p.b.addressbook_path());
    for i in 1..=3 {
        put(
            &p.a,
            ca,
            &format!("a{i}.ics"),
            &event(&format!("a{i}"), &format!("A {i}"), "20250101T000000Z"),
        )
        .await;
    }
    for i in 1..=2 {
        put(
            &p.b,
            cb,
            &format!("b{i}.ics"),
            &event(&format!("b{i}"), &format!("B {i}"), "20250101T000000Z"),
        )
        .await;
    }
    put(&p.a, ba, "ca.vcf", &card("card-a", "Ada")).await;
    put(&p.b, bb, "cb.vcf", &card("card-b", "Bob")).await;
    let config = p.config(&p.job("mirror", "", true));

    // The dry run prints the plan and writes nothing.
    let dry = p.sync(&config, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let plan = &reports(&dry)[0];
    assert_eq!(total(plan, "created_on_b"), 4, "{plan:#}");
    assert_eq!(total(plan, "created_on_a"), 3);
    assert!(
        plan["pairs"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["action"] == "create on B" && c["summary"] == "A 1")
    );
    assert_eq!(summaries(&p.b, cb).await.len(), 2, "dry run wrote nothing");

    let first = p.sync(&config, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(writes(&reports(&first)[0]), 7);
    let (on_a, on_b) = (summaries(&p.a, ca).await, summaries(&p.b, cb).await);
    assert_eq!(on_a.len(), 5);
    assert_eq!(on_a, on_b);
    assert_eq!(summaries(&p.a, ba).await, summaries(&p.b, bb).await);

    // Copies carry SCHEDULE-AGENT handling and their origin.
    let copy = p.b.get(&href_of(&p.b, cb, "a1").await).await.unwrap().1;
    assert!(String::from_utf8_lossy(&copy).contains("X-CALPORT-ORIGIN:calport:mirror"));

    // Edits, deletions and creations on both sides between runs.
    put(
        &p.a,
        ca,
        "a1.ics",
        &event("a1", "A 1 edited on A", "20250301T000000Z"),
    )
    .await;
    let b2_href = href_of(&p.b, cb, "b2").await;
    p.b.put(
        &b2_href,
        event("b2", "B 2 edited on B", "20250301T000000Z").as_bytes(),
        ICS,
    )
    .await
    .unwrap();
    p.a.delete(&format!("{ca}a3.ics")).await.unwrap();
    let b1_on_a = href_of(&p.a, ca, "b1").await;
    p.a.delete(&b1_on_a).await.unwrap();
    put(
        &p.b,
        cb,
        "b3.ics",
        &event("b3", "B 3 new", "20250301T000000Z"),
    )
    .await;
    put(&p.b, bb, "cb2.vcf", &card("card-b2", "Bea")).await;

    let second = p.sync(&config, &[]);
    assert_eq!(
        second.code,
        0,
        "{}\n{}\nB's log:\n{}",
        second.stdout,
        second.stderr,
        p.b.log_tail()
    );
    let r = &reports(&second)[0];
    assert_eq!(total(r, "updated_on_b"), 1, "{r:#}");
    assert_eq!(total(r, "updated_on_a"), 1);
    assert_eq!(total(r, "deleted_on_b"), 2);
    assert_eq!(total(r, "created_on_a"), 2);
    let (on_a, on_b) = (summaries(&p.a, ca).await, summaries(&p.b, cb).await);
    assert_eq!(on_a, on_b);
    let expected: BTreeMap<String, String> = [
        ("a1", "A 1 edited on A"),
        ("a2", "A 2"),
        ("b2", "B 2 edited on B"),
        ("b3", "B 3 new"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(on_a, expected);
    assert_eq!(summaries(&p.a, ba).await, summaries(&p.b, bb).await);

    // A server-side rewrite (new DTSTAMP, same meaning) is not a change.
    let a2_on_b = href_of(&p.b, cb, "a2").await;
    let rewritten = String::from_utf8(p.b.get(&a2_on_b).await.unwrap().1)
        .unwrap()
        .replace("DTSTAMP:20250101T000000Z", "DTSTAMP:20261122T080000Z");
    p.b.put(&a2_on_b, rewritten.as_bytes(), ICS).await.unwrap();

    let third = p.sync(&config, &[]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    let r = &reports(&third)[0];
    assert_eq!(
        writes(r),
        0,
        "a DTSTAMP rewrite or our own writes caused writes: {r:#}"
    );

    // Nothing changed since: at most 2 requests per collection pair.
    let fourth = p.sync(&config, &[]);
    let r = &reports(&fourth)[0];
    assert_eq!(writes(r), 0);
    let pairs = r["pairs"].as_array().unwrap().len() as u64;
    assert!(
        requests(r) <= 2 * pairs,
        "a no-op sync of {pairs} pairs cost {} requests: {}",
        requests(r),
        r["requests_by_method"]
    );
}

/// One calendar pair per conflict policy; the same item edited on both sides.
#[tokio::test]
async fn conflicting_edits_follow_each_policy() {
    let p = Pair::start().await;
    let policies = ["newest-wins", "a-wins", "b-wins", "keep-both", "manual"];
    let mut jobs = String::new();
    for policy in policies {
        let (ca, cb) = (
            format!("{}{policy}/", p.a.calendar_home_path()),
            format!("{}{policy}/", p.b.calendar_home_path()),
        );
        p.a.mkcalendar(&ca, policy, &["VEVENT"], None)
            .await
            .unwrap();
        p.b.mkcalendar(&cb, policy, &["VEVENT"], None)
            .await
            .unwrap();
        put(
            &p.a,
            &ca,
            "x.ics",
            &event("x", "original", "20250101T000000Z"),
        )
        .await;
        jobs.push_str(&format!(
            "[[jobs]]\nname = \"{policy}\"\na = \"a\"\nb = \"b\"\nconflict = \"{policy}\"\npairs = [{{ a = \"{ca}\", b = \"{cb}\" }}]\n\n"
        ));
    }
    let config = p.config(&jobs);
    let first = p.sync(&config, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    for policy in policies {
        let (ca, cb) = (
            format!("{}{policy}/", p.a.calendar_home_path()),
            format!("{}{policy}/", p.b.calendar_home_path()),
        );
        // A edits first (older), B later (newer).
        put(
            &p.a,
            &ca,
            "x.ics",
            &event("x", "edit on A", "20250201T000000Z"),
        )
        .await;
        let on_b = href_of(&p.b, &cb, "x").await;
        p.b.put(
            &on_b,
            event("x", "edit on B", "20250301T000000Z").as_bytes(),
            ICS,
        )
        .await
        .unwrap();
    }
    let second = p.sync(&config, &[]);
    assert_eq!(
        second.code, 2,
        "a parked conflict needs attention: {}",
        second.stderr
    );
    for policy in policies {
        let (ca, cb) = (
            format!("{}{policy}/", p.a.calendar_home_path()),
            format!("{}{policy}/", p.b.calendar_home_path()),
        );
        let (on_a, on_b) = (summaries(&p.a, &ca).await, summaries(&p.b, &cb).await);
        let x = |m: &BTreeMap<String, String>| m.get("x").cloned().unwrap_or_default();
        match policy {
            "newest-wins" | "b-wins" => {
                assert_eq!(
                    (x(&on_a), x(&on_b)),
                    ("edit on B".into(), "edit on B".into()),
                    "{policy}"
                );
            }
            "a-wins" => assert_eq!(
                (x(&on_a), x(&on_b)),
                ("edit on A".into(), "edit on A".into())
            ),
            "keep-both" => {
                assert_eq!(on_a, on_b, "keep-both");
                assert_eq!(on_a.len(), 2, "both versions kept: {on_a:?}");
                assert_eq!(x(&on_a), "edit on B", "the newer keeps the UID");
                assert!(on_a.values().any(|s| s == "edit on A"));
            }
            "manual" => {
                assert_eq!(
                    (x(&on_a), x(&on_b)),
                    ("edit on A".into(), "edit on B".into()),
                    "nothing written"
                );
            }
            _ => unreachable!(),
        }
    }

    // The parked conflict is listed with both versions, then resolved.
    let list: Run = calport()
        .args(["conflicts", "list", "--json", "--config"])
        .arg(&config)
        .arg("--state")
        .arg(p.state())
        .output()
        .unwrap()
        .into();
    assert_eq!(list.code, 0, "{}", list.stderr);
    let conflicts = list.json();
    let conflicts = conflicts.as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    let c = &conflicts[0];
    assert_eq!(c["job"], "manual");
    assert_eq!(c["a"]["summary"], "edit on A");
    assert_eq!(c["b"]["summary"], "edit on B");
    assert!(
        c["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().contains("SUMMARY"))
    );
    let human: Run = calport()
        .args(["conflicts", "list", "--config"])
        .arg(&config)
        .arg("--state")
        .arg(p.state())
        .output()
        .unwrap()
        .into();
    assert!(
        human.stdout.contains("edit on A") && human.stdout.contains("edit on B"),
        "{}",
        human.stdout
    );

    // Still parked on the next run; other items keep syncing meanwhile.
    let (ca, cb) = (
        format!("{}manual/", p.a.calendar_home_path()),
        format!("{}manual/", p.b.calendar_home_path()),
    );
    put(
        &p.a,
        &ca,
        "y.ics",
        &event("y", "unrelated", "20250101T000000Z"),
    )
    .await;
    let third = p.sync(&config, &["--job", "manual"]);
    assert_eq!(third.code, 2);
    assert_eq!(
        summaries(&p.b, &cb).await.get("y").map(String::as_str),
        Some("unrelated")
    );
    assert_eq!(summaries(&p.b, &cb).await["x"], "edit on B");

    let id = c["id"].as_i64().unwrap().to_string();
    let resolve: Run = calport()
        .args(["conflicts", "resolve", &id, "--keep", "a", "--config"])
        .arg(&config)
        .arg("--state")
        .arg(p.state())
        .output()
        .unwrap()
        .into();
    assert_eq!(resolve.code, 0, "{}\n{}", resolve.stdout, resolve.stderr);
    assert_eq!(summaries(&p.a, &ca).await["x"], "edit on A");
    assert_eq!(summaries(&p.b, &cb).await["x"], "edit on A");
    let after: Run = calport()
        .args(["conflicts", "list", "--json", "--config"])
        .arg(&config)
        .arg("--state")
        .arg(p.state())
        .output()
        .unwrap()
        .into();
    assert_eq!(after.json().as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn one_way_keep_leaves_the_targets_own_items_and_mirror_does_not() {
    let p = Pair::start().await;
    let (ca, cb) = (p.a.calendar_path(), p.b.calendar_path());
    put(
        &p.a,
        ca,
        "s1.ics",
        &event("s1", "from A", "20250101T000000Z"),
    )
    .await;
    put(
        &p.a,
        ca,
        "s2.ics",
        &event("s2", "from A too", "20250101T000000Z"),
    )
    .await;
    put(
        &p.b,
        cb,
        "own.ics",
        &event("own", "B's own", "20250101T000000Z"),
    )
    .await;

    let keep = p.config(&p.job(
        "keep",
        "direction = \"a-to-b\"\ntarget_only = \"keep\"",
        false,
    ));
    let run = p.sync(&keep, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summaries(&p.a, ca).await.len(),
        2,
        "a one-way job never writes its source"
    );
    let on_b = summaries(&p.b, cb).await;
    assert_eq!(on_b.len(), 3);
    assert_eq!(on_b["own"], "B's own");

    // An edit on the target is left alone by `keep` …
    let s1_on_b = href_of(&p.b, cb, "s1").await;
    p.b.put(
        &s1_on_b,
        event("s1", "edited on B", "20250301T000000Z").as_bytes(),
        ICS,
    )
    .await
    .unwrap();
    let run = p.sync(&keep, &[]);
    assert_eq!(writes(&reports(&run)[0]), 0);
    assert_eq!(summaries(&p.b, cb).await["s1"], "edited on B");

    // … and undone by `mirror`, which also removes B's own item.
    let mirror = p.config(&p.job(
        "keep",
        "direction = \"a-to-b\"\ntarget_only = \"mirror\"",
        false,
    ));
    let run = p.sync(&mirror, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let on_b = summaries(&p.b, cb).await;
    assert_eq!(
        on_b,
        summaries(&p.a, ca).await,
        "the target mirrors the source"
    );
    assert_eq!(on_b["s1"], "from A");
}

#[tokio::test]
async fn a_side_emptied_stops_the_pair_until_forced() {
    let p = Pair::start().await;
    let (ca, cb) = (p.a.calendar_path(), p.b.calendar_path());
    for i in 1..=4 {
        put(
            &p.a,
            ca,
            &format!("e{i}.ics"),
            &event(&format!("e{i}"), "x", "20250101T000000Z"),
        )
        .await;
    }
    let config = p.config(&p.job("guarded", "", false));
    assert_eq!(p.sync(&config, &[]).code, 0);
    assert_eq!(summaries(&p.b, cb).await.len(), 4);
    for i in 1..=4 {
        p.a.delete(&format!("{ca}e{i}.ics")).await.unwrap();
    }
    let stopped = p.sync(&config, &[]);
    assert_eq!(stopped.code, 2, "{}", stopped.stdout);
    let r = &reports(&stopped)[0];
    let guard = &r["pairs"][0]["guard"];
    assert_eq!(guard["deletes"], 4, "{r:#}");
    assert_eq!(guard["other_side_emptied"], true);
    assert_eq!(summaries(&p.b, cb).await.len(), 4, "nothing deleted");
    let human = sync(&config, &p.state(), &["--dry-run"]);
    assert!(human.stdout.contains("\"guard\""), "{}", human.stdout);

    let forced = p.sync(&config, &["--force-delete"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(summaries(&p.b, cb).await.len(), 0);
}

#[tokio::test]
async fn the_window_keeps_old_and_far_events_out_but_not_long_recurrences() {
    let p = Pair::start().await;
    let (ca, cb) = (p.a.calendar_path(), p.b.calendar_path());
    // "Now" is the machine's clock: dates are relative to it.
    let day = |offset: i64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        civil(now + offset * 86_400)
    };
    put(
        &p.a,
        ca,
        "soon.ics",
        &event_at("soon", "next week", &day(7), None),
    )
    .await;
    put(
        &p.a,
        ca,
        "old.ics",
        &event_at("old", "two years ago", &day(-730), None),
    )
    .await;
    put(
        &p.a,
        ca,
        "far.ics",
        &event_at("far", "in three years", &day(1100), None),
    )
    .await;
    put(
        &p.a,
        ca,
        "weekly.ics",
        &event_at(
            "weekly",
            "weekly since two years",
            &day(-730),
            Some("FREQ=WEEKLY"),
        ),
    )
    .await;
    put(
        &p.a,
        ca,
        "ended.ics",
        &event_at(
            "ended",
            "weekly, ended last year",
            &day(-730),
            Some(&format!("FREQ=WEEKLY;UNTIL={}", day(-365))),
        ),
    )
    .await;
    put(
        &p.b,
        cb,
        "b-old.ics",
        &event_at("b-old", "B's old event", &day(-400), None),
    )
    .await;

    let config = p.config(&p.job(
        "window",
        "direction = \"a-to-b\"\ntarget_only = \"mirror\"\nwindow = { past_days = 30, future_days = 365 }",
        false,
    ));
    let run = p.sync(&config, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let on_b = summaries(&p.b, cb).await;
    let uids: Vec<&str> = on_b.keys().map(String::as_str).collect();
    // B's own old event is outside the window: a mirror does not delete it.
    assert_eq!(uids, ["b-old", "soon", "weekly"], "{on_b:?}");

    // Time passes (here: the window grows) and reaches the far event, which nobody
    // changed: the next run picks it up although the listing shows no change.
    let wider = p.config(&p.job(
        "window",
        "direction = \"a-to-b\"\ntarget_only = \"mirror\"\nwindow = { past_days = 30, future_days = 1200 }",
        false,
    ));
    let run = p.sync(&wider, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let r = &reports(&run)[0];
    assert_eq!(r["pairs"][0]["listing"][0], "unchanged", "{r:#}");
    let on_b = summaries(&p.b, cb).await;
    assert!(on_b.contains_key("far"), "{on_b:?}");
    assert!(!on_b.contains_key("old"), "{on_b:?}");
    // And once synced it is no longer re-read.
    let again = p.sync(&wider, &[]);
    let r = &reports(&again)[0];
    assert_eq!(writes(r), 0);
    assert_eq!(
        r["requests"]["a"], 1,
        "A: only the collection listing, no re-read: {}",
        r["requests_by_method"]
    );
}

/// `YYYYMMDDT120000Z` of a unix time.
fn civil(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T120000Z")
}

#[tokio::test]
async fn a_chain_of_three_jobs_never_multiplies_items() {
    let p = Pair::start().await;
    let home = p.a.calendar_home_path();
    for name in ["one", "two", "three"] {
        p.a.mkcalendar(&format!("{home}{name}/"), name, &["VEVENT"], None)
            .await
            .unwrap();
    }
    put(
        &p.a,
        &format!("{home}one/"),
        "e.ics",
        &event("e", "chain", "20250101T000000Z"),
    )
    .await;
    // one → two → three → one, each two-way, all on one account.
    let mut jobs = String::new();
    for (name, from, to) in [
        ("j1", "one", "two"),
        ("j2", "two", "three"),
        ("j3", "three", "one"),
    ] {
        jobs.push_str(&format!(
            "[[jobs]]\nname = \"{name}\"\na = \"a\"\nb = \"a\"\npairs = [{{ a = \"{home}{from}/\", b = \"{home}{to}/\" }}]\n\n"
        ));
    }
    let config = p.config(&jobs);
    for round in 0..3 {
        let run = p.sync(&config, &[]);
        assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
    }
    for name in ["one", "two", "three"] {
        let items = summaries(&p.a, &format!("{home}{name}/")).await;
        assert_eq!(items.len(), 1, "{name}: {items:?}");
    }
    // An edit anywhere travels around without copies.
    let href = href_of(&p.a, &format!("{home}three/"), "e").await;
    p.a.put(
        &href,
        event("e", "edited in three", "20250301T000000Z").as_bytes(),
        ICS,
    )
    .await
    .unwrap();
    for _ in 0..2 {
        assert_eq!(p.sync(&config, &[]).code, 0);
    }
    for name in ["one", "two", "three"] {
        let items = summaries(&p.a, &format!("{home}{name}/")).await;
        assert_eq!(items.len(), 1, "{name}: {items:?}");
        assert_eq!(items["e"], "edited in three", "{name}");
    }
}

#[tokio::test]
async fn watch_runs_jobs_on_their_schedule_and_stops() {
    let p = Pair::start().await;
    let (ca, cb) = (p.a.calendar_path(), p.b.calendar_path());
    put(
        &p.a,
        ca,
        "w.ics",
        &event("w", "watched", "20250101T000000Z"),
    )
    .await;
    let config = p.config(&p.job("watched", "schedule = \"1s\"", false));
    let run = sync(&config, &p.state(), &["--watch", "--max-runs", "3"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let runs = reports(&run);
    assert_eq!(runs.len(), 3);
    assert_eq!(writes(&runs[0]), 1);
    assert_eq!(writes(&runs[2]), 0);
    assert_eq!(summaries(&p.b, cb).await.len(), 1);

    let no_schedule = p.config(&p.job("plain", "", false));
    let refused = sync(&no_schedule, &p.state(), &["--watch"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("jobs.plain] schedule"),
        "{}",
        refused.stderr
    );
}
