//! End-to-end tests of `calport migrate` against real Radicale and Xandikos servers.
//!
//! Every test starts its own servers on random loopback ports and checks the result
//! through calport-testkit's own HTTP client, not through calport's.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use calport_testkit::{DavServer, Resource, ServerKind, corpus_dir};
use common::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

fn name_for(uid: &str, ext: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    uid.hash(&mut h);
    format!("seed-{:016x}.{ext}", h.finish())
}

/// PUTs items (one per UID) into a collection; returns how many the server accepted and
/// prints the refusals (a source that refuses an item simply does not hold it).
async fn seed(
    server: &DavServer,
    collection: &str,
    items: &[(String, Vec<u8>)],
    vcard: bool,
) -> usize {
    let (ext, ctype) = if vcard {
        ("vcf", "text/vcard; charset=utf-8")
    } else {
        ("ics", "text/calendar; charset=utf-8")
    };
    let mut accepted = 0;
    for (uid, body) in items {
        let path = format!("{collection}{}", name_for(uid, ext));
        let status = server.put(&path, body, ctype).await.unwrap();
        if status.is_success() {
            accepted += 1;
        } else {
            eprintln!("seed: {} refused UID {uid:?} with {status}", server.kind());
        }
    }
    accepted
}

/// Every valid corpus file, split into one item per UID: (calendar items, cards).
/// Items as (UID, bytes).
type Items = Vec<(String, Vec<u8>)>;

fn corpus_items(corpus: &Path) -> (Items, Items) {
    let mut events = Vec::new();
    let mut cards = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (sub, out) in [("ics", &mut events), ("vcf", &mut cards)] {
        let mut files: Vec<_> = walk(&corpus.join(sub));
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let Ok(split) = calport_ical::split_by_uid(&bytes) else {
                continue;
            };
            for item in split.items {
                if seen.insert(item.uid.clone()) {
                    out.push((item.uid, item.bytes));
                }
            }
        }
    }
    (events, cards)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_migrates_both_ways_in_meaning_and_a_rerun_writes_nothing() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("SKIPPED: ../shared/corpus not found (set CALPORT_SHARED_DIR)");
        return;
    };
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    let xandikos = DavServer::start(ServerKind::Xandikos).await.unwrap();

    // Source: Radicale with a calendar of our own fixtures, a task list, the corpus
    // calendar, and two address books.
    let home = radicale.calendar_home_path().to_owned();
    let work = format!("{home}work/");
    let tasks = format!("{home}tasks/");
    let corpus_cal = format!("{home}corpus/");
    let people = format!("{home}people/");
    let corpus_book = format!("{home}corpus-cards/");
    radicale
        .mkcalendar(&work, "Work", &["VEVENT"], Some("#2E86DEFF"))
        .await
        .unwrap();
    radicale
        .mkcalendar(&tasks, "Tasks", &["VTODO"], Some("#FF0000FF"))
        .await
        .unwrap();
    radicale
        .mkcalendar(
            &corpus_cal,
            "Corpus",
            &["VEVENT", "VTODO", "VJOURNAL"],
            None,
        )
        .await
        .unwrap();
    radicale.mkaddressbook(&people, "People").await.unwrap();
    radicale
        .mkaddressbook(&corpus_book, "Corpus cards")
        .await
        .unwrap();
    let own_events: Vec<(String, Vec<u8>)> = ["weekly-meeting.ics", "all-day.ics"]
        .iter()
        .map(|f| {
            let body = fixture(f);
            (calport_ical::inspect(&body).unwrap().uid, body)
        })
        .collect();
    assert_eq!(seed(&radicale, &work, &own_events, false).await, 2);
    let task = fixture("task.ics");
    assert_eq!(
        seed(
            &radicale,
            &tasks,
            &[("calport-fixture-task-1".into(), task)],
            false
        )
        .await,
        1
    );
    let own_cards: Vec<(String, Vec<u8>)> = ["alice.vcf", "bob.vcf"]
        .iter()
        .map(|f| {
            let body = fixture(f);
            (calport_ical::inspect(&body).unwrap().uid, body)
        })
        .collect();
    assert_eq!(seed(&radicale, &people, &own_cards, true).await, 2);
    let (corpus_events, corpus_cards) = corpus_items(&corpus);
    let accepted_events = seed(&radicale, &corpus_cal, &corpus_events, false).await;
    let accepted_cards = seed(&radicale, &corpus_book, &corpus_cards, true).await;
    eprintln!(
        "corpus on the source: {accepted_events}/{} calendar items, {accepted_cards}/{} cards",
        corpus_events.len(),
        corpus_cards.len()
    );
    assert!(
        accepted_events > 300 && accepted_cards >= 15,
        "the corpus seeds the source"
    );
    let source_collections = vec![
        work.clone(),
        tasks.clone(),
        corpus_cal.clone(),
        people.clone(),
        corpus_book.clone(),
    ];
    let source_items = items_by_uid(&radicale, &source_collections).await;

    // Radicale → Xandikos.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &radicale, &xandikos, "");
    let state = dir.path().join("state.sqlite");
    let first = migrate(&config, &state, &[]);
    let report = first.json();
    // Items Xandikos stores with another meaning (it re-serialises some hostile corpus
    // files) are reported as corrupted, which makes the exit code 2.
    let corrupted = corrupted_uids(&report);
    assert_eq!(
        first.code,
        if corrupted.is_empty() { 0 } else { 2 },
        "first run:\n{}\n{}",
        first.stdout,
        first.stderr
    );
    assert_eq!(report["totals"]["failed"], 0);
    assert_eq!(
        report["totals"]["verified"].as_u64().unwrap() + corrupted.len() as u64,
        report["totals"]["created"].as_u64().unwrap(),
        "every written item is verified or reported corrupted"
    );
    let created = report["totals"]["created"].as_u64().unwrap();
    assert_eq!(
        created as usize,
        source_items.len(),
        "one create per source item"
    );
    let targets = destination_collections(&report);
    let work_target = report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "Work")
        .unwrap();
    assert_eq!(work_target["mapping"], "created");
    // Xandikos' own default collections hold nothing of the source.
    let dest_items = items_by_uid(&xandikos, &targets).await;
    let mismatches = semantic_mismatches_by_uid(&source_items, &dest_items);
    let (problems, rewritten) =
        mismatches_not_explained_by_the_server(&xandikos, &source_items, &dest_items, mismatches)
            .await;
    // Exactly the items the server changes in meaning are the ones calport flagged.
    assert_eq!(
        rewritten
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        corrupted,
        "read-back verification flags exactly what Xandikos changes"
    );
    assert!(rewritten.len() < 20, "{rewritten:?}");
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // Invitations are suppressed on the copies, and only there.
    let weekly = &dest_items["calport-fixture-weekly-1@tests.calport"][0].text();
    assert!(weekly.contains("SCHEDULE-AGENT=CLIENT"), "{weekly}");
    assert!(
        !source_items["calport-fixture-weekly-1@tests.calport"][0]
            .text()
            .contains("SCHEDULE-AGENT")
    );

    // The created calendar carries the source's name, colour and component set.
    let created_work = work_target["destination_href"].as_str().unwrap();
    let props = propfind_text(&xandikos, created_work).await;
    assert!(
        props.contains("Work") && props.to_ascii_uppercase().contains("#2E86DE"),
        "{props}"
    );

    // A second run transfers nothing and writes nothing, except that the corrupted
    // items are tried again (and found corrupted again).
    let second = migrate(&config, &state, &[]);
    let again = second.json();
    assert_eq!(second.code, first.code, "{}", second.stderr);
    assert_eq!(again["totals"]["created"], 0);
    assert_eq!(
        again["totals"]["updated"].as_u64().unwrap() as usize,
        corrupted.len()
    );
    assert_eq!(corrupted_uids(&again), corrupted);
    assert_eq!(
        again["totals"]["unchanged"].as_u64().unwrap() as usize,
        source_items.len() - corrupted.len()
    );
    // (Xandikos answers 423 Locked to concurrent writes; those PUTs are retried.)
    let retries = again["requests"]["destination"]["retries"]
        .as_u64()
        .unwrap();
    assert_eq!(
        destination_writes(&again) - retries,
        corrupted.len() as u64,
        "second run wrote: {}",
        again["requests"]
    );
    assert_eq!(
        items_by_uid(&xandikos, &targets).await.len(),
        dest_items.len()
    );

    // A change on the source travels as one update, in place.
    let changed = String::from_utf8(fixture("all-day.ics"))
        .unwrap()
        .replace("SUMMARY:Holiday", "SUMMARY:Holiday (extended)");
    let allday_href = &source_items["calport-fixture-allday-1"][0].href;
    assert!(
        radicale
            .put(allday_href, changed.as_bytes(), "text/calendar")
            .await
            .unwrap()
            .is_success()
    );
    let third = migrate(&config, &state, &[]);
    let third_report = third.json();
    assert_eq!(
        third_report["totals"]["updated"].as_u64().unwrap() as usize,
        1 + corrupted.len(),
        "{}",
        third.stdout
    );
    assert_eq!(third_report["totals"]["created"], 0);
    let after = items_by_uid(&xandikos, &targets).await;
    assert_eq!(after["calport-fixture-allday-1"].len(), 1);
    assert!(
        after["calport-fixture-allday-1"][0]
            .text()
            .contains("Holiday (extended)")
    );

    // And back: Xandikos → a fresh Radicale, compared with what Xandikos holds.
    let radicale2 = DavServer::start(ServerKind::Radicale).await.unwrap();
    let back_dir = tempfile::tempdir().unwrap();
    let back_config = write_config(back_dir.path(), &xandikos, &radicale2, "");
    let back = migrate(&back_config, &back_dir.path().join("state.sqlite"), &[]);
    let back_report = back.json();
    let back_corrupted = corrupted_uids(&back_report);
    assert_eq!(
        back.code,
        if back_corrupted.is_empty() { 0 } else { 2 },
        "reverse run:\n{}\n{}",
        back.stdout,
        back.stderr
    );
    assert_eq!(back_report["totals"]["failed"], 0);
    let xandikos_all: Vec<String> = back_report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source_href"].as_str().unwrap().to_owned())
        .collect();
    let back_items = items_by_uid(&radicale2, &destination_collections(&back_report)).await;
    let back_source = items_by_uid(&xandikos, &xandikos_all).await;
    let mismatches = semantic_mismatches_by_uid(&back_source, &back_items);
    let (problems, rewritten) =
        mismatches_not_explained_by_the_server(&radicale2, &back_source, &back_items, mismatches)
            .await;
    assert_eq!(
        rewritten
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        back_corrupted,
        "read-back verification flags exactly what Radicale changes"
    );
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_without_duplicates_or_loss() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    let xandikos = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let cal = format!("{}big/", radicale.calendar_home_path());
    radicale
        .mkcalendar(&cal, "Big", &["VEVENT"], None)
        .await
        .unwrap();
    // Seed 80 events in one whole-collection PUT (fast), then kill a migration midway.
    let mut bulk = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//EN\r\nX-WR-CALNAME:Big\r\n",
    );
    for i in 0..80 {
        bulk.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:kill-test-{i:03}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:202603{:02}T{:02}0000Z\r\nDURATION:PT1H\r\nSUMMARY:Event {i}\r\nEND:VEVENT\r\n",
            1 + i % 28,
            i % 24
        ));
    }
    bulk.push_str("END:VCALENDAR\r\n");
    radicale
        .put_collection_bulk(&cal, bulk.as_bytes())
        .await
        .unwrap();
    let source_items = items_by_uid(&radicale, std::slice::from_ref(&cal)).await;
    assert_eq!(source_items.len(), 80);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &radicale,
        &xandikos,
        "calendars = true\ntasks = false\ncontacts = false",
    );
    let state = dir.path().join("state.sqlite");
    let target = format!("{}big/", xandikos.calendar_home_path());

    let spawn = |stdout: std::process::Stdio| {
        calport()
            .args(["migrate", "--json", "--config"])
            .arg(&config)
            .arg("--state")
            .arg(&state)
            .stdout(stdout)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // Ctrl-C (SIGINT): calport stops after the items in flight, says so, exits 2.
    let child = spawn(std::process::Stdio::piped());
    let landed = wait_for_members(&xandikos, &target, 5).await;
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an interrupted run is not complete"
    );
    assert_eq!(report["cancelled"], true, "{report}");
    let after_interrupt = xandikos.members(&target).await.unwrap().len();
    eprintln!("interrupted after {landed} items; {after_interrupt} on the destination");
    assert!(after_interrupt < 80, "the interrupt stopped the run early");

    // Kill it (SIGKILL, no graceful stop) once more items landed.
    let mut child = spawn(std::process::Stdio::null());
    let landed = wait_for_members(&xandikos, &target, after_interrupt + 10).await;
    child.kill().unwrap();
    let _ = child.wait();
    eprintln!("killed after {landed} items had landed");
    assert!(
        (after_interrupt..80).contains(&landed),
        "the kill happened mid-run ({landed} landed)"
    );

    let resumed = migrate(&config, &state, &[]);
    assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    let dest = items_by_uid(&xandikos, &[target]).await;
    let problems = semantic_mismatches(&source_items, &dest);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        dest.values().map(Vec::len).sum::<usize>(),
        80,
        "exactly the source's items"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_source_items_are_reported_and_everything_else_arrives() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("SKIPPED: ../shared/corpus not found (set CALPORT_SHARED_DIR)");
        return;
    };
    // Xandikos serves raw files placed in its storage (Radicale hides unparsable ones).
    let xandikos = DavServer::start(ServerKind::Xandikos).await.unwrap();
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    let cal = xandikos.calendar_path().to_owned();
    let book = xandikos.addressbook_path().to_owned();
    let mut files: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
    for (sub, coll, ext) in [
        ("malformed/ics", &cal, "ics"),
        ("malformed/vcf", &book, "vcf"),
    ] {
        for (i, path) in walk(&corpus.join(sub)).into_iter().enumerate() {
            let name = format!("bad-{i:02}.{ext}");
            files.insert(
                format!("{coll}{name}"),
                (coll.clone(), std::fs::read(&path).unwrap()),
            );
        }
    }
    // Good items beside them, put first.
    let good = [
        ("weekly-meeting.ics", &cal),
        ("all-day.ics", &cal),
        ("alice.vcf", &book),
        ("bob.vcf", &book),
    ];
    for (file, coll) in good {
        let body = fixture(file);
        let ctype = if file.ends_with("vcf") {
            "text/vcard"
        } else {
            "text/calendar"
        };
        let status = xandikos
            .put(&format!("{coll}good-{file}"), &body, ctype)
            .await
            .unwrap();
        assert!(status.is_success(), "{file}: {status}");
    }

    // Valid corpus cards without a UID (optional in vCard 3.0): one card per file.
    let mut uidless: Vec<(String, Vec<u8>)> = Vec::new();
    for path in walk(&corpus.join("vcf")) {
        let bytes = std::fs::read(&path).unwrap();
        let cards = String::from_utf8_lossy(&bytes)
            .to_ascii_uppercase()
            .matches("BEGIN:VCARD")
            .count();
        if cards == 1 && calport_ical::inspect(&bytes).is_err() {
            let name = format!("nouid-{}.vcf", uidless.len());
            let status = xandikos
                .put(&format!("{book}{name}"), &bytes, "text/vcard")
                .await
                .unwrap();
            if status.is_success() {
                uidless.push((format!("{book}{name}"), bytes));
            }
        }
    }
    assert!(
        uidless.len() >= 5,
        "the corpus has cards without UID ({})",
        uidless.len()
    );

    // Then the malformed files, straight into storage (Xandikos would check them on PUT,
    // and once they are there it refuses further PUTs into the collection).
    for (href, (coll, bytes)) in &files {
        let name = href.rsplit('/').next().unwrap();
        xandikos.write_raw_file(coll, name, bytes).await.unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &xandikos, &radicale, "");
    let run = migrate(&config, &dir.path().join("state.sqlite"), &[]);
    let report = run.json();
    assert!(
        run.code == 0 || run.code == 2,
        "the run completes: {}\n{}",
        run.code,
        run.stderr
    );
    let failures: Vec<&serde_json::Value> = report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["failures"].as_array().unwrap())
        .collect();
    for failure in &failures {
        let reason = failure["reason"].as_str().unwrap();
        assert!(
            !reason.trim().is_empty(),
            "every failure has a reason: {failure}"
        );
        assert!(
            files.contains_key(failure["source_href"].as_str().unwrap())
                || uidless
                    .iter()
                    .any(|(h, _)| h == failure["source_href"].as_str().unwrap()),
            "only malformed items fail: {failure}"
        );
    }
    assert!(
        !failures.is_empty(),
        "some malformed items are refused and listed"
    );
    assert_eq!(run.code, 2, "failures give exit code 2");
    eprintln!(
        "{} malformed items refused, {} created",
        failures.len(),
        report["totals"]["created"]
    );

    // Every good item arrived intact.
    let dest = items_by_uid(&radicale, &destination_collections(&report)).await;
    for (file, _) in good {
        let body = fixture(file);
        let uid = calport_ical::inspect(&body).unwrap().uid;
        let copies = dest
            .get(&uid)
            .unwrap_or_else(|| panic!("{file} did not arrive"));
        assert_eq!(copies.len(), 1);
        let diffs =
            calport_ical::compare(&body, &copies[0].body, &calport_ical::Tolerance::default())
                .unwrap();
        assert!(diffs.is_empty(), "{file}: {diffs:?}");
    }
    // Cards without a UID arrive too, each once, under a UID calport gave them (found by
    // the letters of their FN, which Radicale re-punctuates), or are listed as refused.
    // Several corpus cards share one FN, so this checks arrival and count, not fidelity.
    let fn_key = |bytes: &[u8]| {
        calport_ical::parse(bytes).ok().and_then(|doc| {
            doc.components.first().and_then(|c| {
                c.property("FN").map(|p| {
                    p.text()
                        .chars()
                        .filter(|c| c.is_alphanumeric())
                        .collect::<String>()
                })
            })
        })
    };
    let derived: Vec<&Resource> = dest
        .iter()
        .filter(|(uid, _)| uid.starts_with("calport-"))
        .flat_map(|(_, copies)| copies)
        .collect();
    let mut arrived = 0;
    for (href, bytes) in &uidless {
        if failures.iter().any(|f| f["source_href"] == href.as_str()) {
            continue; // listed with the destination's reason
        }
        let key = fn_key(bytes);
        assert!(
            derived.iter().any(|copy| fn_key(&copy.body) == key),
            "{href} (no UID) neither arrived nor was listed as failed"
        );
        arrived += 1;
    }
    assert!(arrived >= 5, "cards without UID arrived ({arrived})");
    // The added UID is reported as a change made to the item.
    let derived_notes = report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["workarounds"].as_array().unwrap())
        .filter(|w| w["change"].as_str().unwrap().contains("has no UID"))
        .count();
    assert!(
        derived_notes >= arrived,
        "{derived_notes} notes for {arrived} cards"
    );
    // (Malformed cards without a UID that could be read arrive the same way.)
    assert!(derived.len() >= arrived);
    assert!(
        dest.iter()
            .filter(|(uid, _)| uid.starts_with("calport-"))
            .all(|(_, c)| c.len() == 1),
        "one copy per card without UID"
    );

    // Every source member is accounted for: arrived, or listed with a reason.
    let listed = report["totals"]["created"].as_u64().unwrap()
        + report["totals"]["failed"].as_u64().unwrap();
    assert!(
        listed as usize >= files.len() + good.len() + uidless.len() - 8,
        "created + failed covers the members"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_the_plan_and_writes_nothing() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    let xandikos = DavServer::start(ServerKind::Xandikos).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let body = fixture("weekly-meeting.ics");
    assert!(
        radicale
            .put(
                &format!("{}a.ics", radicale.calendar_path()),
                &body,
                "text/calendar"
            )
            .await
            .unwrap()
            .is_success()
    );
    let card = fixture("alice.vcf");
    assert!(
        radicale
            .put(
                &format!("{}a.vcf", radicale.addressbook_path()),
                &card,
                "text/vcard"
            )
            .await
            .unwrap()
            .is_success()
    );
    let before_cal = xandikos
        .list(xandikos.calendar_home_path())
        .await
        .unwrap_or_default();
    let before_home = xandikos
        .members(xandikos.calendar_home_path())
        .await
        .unwrap_or_default();

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &radicale, &xandikos, "");
    let state = dir.path().join("state.sqlite");
    let run = migrate(&config, &state, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["totals"]["created"], 2, "{}", run.stdout);
    assert_eq!(destination_writes(&report), 0);
    assert!(!state.exists(), "a dry run creates no state");
    assert_eq!(
        xandikos
            .list(xandikos.calendar_home_path())
            .await
            .unwrap_or_default(),
        before_cal
    );
    assert_eq!(
        xandikos
            .members(xandikos.calendar_home_path())
            .await
            .unwrap_or_default(),
        before_home
    );

    // The human-readable plan says the same.
    let text = calport()
        .args(["migrate", "--dry-run", "--config"])
        .arg(&config)
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("DRY RUN") && stdout.contains("Calendar"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_problems_give_one_clear_message_and_exit_1() {
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    let xandikos = DavServer::start(ServerKind::Xandikos).await.unwrap();
    radicale.create_default_collections().await.unwrap();
    let body = fixture("all-day.ics");
    assert!(
        xandikos
            .put(
                &format!("{}x.ics", xandikos.calendar_path()),
                &body,
                "text/calendar"
            )
            .await
            .unwrap()
            .is_success()
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    let radicale_before = radicale.list(radicale.calendar_path()).await.unwrap();

    let run_flags = |from: &str, to: &str, to_password: &str| -> Run {
        calport()
            .args([
                "migrate",
                "--from",
                from,
                "--from-user",
                "user",
                "--to",
                to,
                "--to-user",
                "alice",
                "--state",
            ])
            .arg(&state)
            .env("CALPORT_FROM_PASSWORD", "x")
            .env("CALPORT_TO_PASSWORD", to_password)
            .output()
            .unwrap()
            .into()
    };

    // Wrong password on the destination.
    let wrong = run_flags(
        &format!("{}/", xandikos.base_url()),
        &format!("{}/", radicale.base_url()),
        "not-the-password",
    );
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("destination") && wrong.stderr.contains("authentication failed"),
        "{}",
        wrong.stderr
    );

    // Unreachable destination (a port nobody listens on).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = run_flags(
        &format!("{}/", xandikos.base_url()),
        &format!("http://127.0.0.1:{port}/"),
        "alicepw",
    );
    assert_eq!(unreachable.code, 1);
    assert!(
        unreachable.stderr.contains("destination") && unreachable.stderr.contains("cannot reach"),
        "{}",
        unreachable.stderr
    );

    // A web server that is not a DAV server.
    let not_dav = NotDav::start();
    let plain = run_flags(
        &not_dav.url(),
        &format!("{}/", radicale.base_url()),
        "alicepw",
    );
    assert_eq!(plain.code, 1);
    assert!(
        plain.stderr.contains("source") && plain.stderr.contains("not a CalDAV/CardDAV server"),
        "{}",
        plain.stderr
    );

    // A config file with a missing key.
    let config = dir.path().join("broken.toml");
    std::fs::write(&config, "[source]\nurl = \"http://127.0.0.1:1/\"\nusername = \"a\"\npassword = \"b\"\n[destination]\nusername = \"c\"\npassword = \"d\"\n").unwrap();
    let missing = migrate(&config, &state, &[]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("[destination] url: is missing"),
        "{}",
        missing.stderr
    );

    // Nothing was written anywhere.
    assert_eq!(
        radicale.list(radicale.calendar_path()).await.unwrap(),
        radicale_before
    );
}

/// Waits (at most two minutes) until a collection holds at least `n` members; returns
/// how many it holds.
async fn wait_for_members(server: &DavServer, collection: &str, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut landed = 0;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        landed = server
            .members(collection)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        if landed >= n {
            break;
        }
    }
    landed
}

/// The raw multistatus of a Depth 0 allprop-style PROPFIND on `path`.
async fn propfind_text(server: &DavServer, path: &str) -> String {
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><a:calendar-color/><c:supported-calendar-component-set/></d:prop></d:propfind>"#;
    server
        .request(
            calport_testkit::Method::from_bytes(b"PROPFIND").unwrap(),
            path,
        )
        .header("Depth", "0")
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A tiny HTTP server that answers every request with an HTML page, like a web site.
struct NotDav {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl NotDav {
    fn start() -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).ok();
                        stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
                        let mut buf = [0u8; 8192];
                        let _ = stream.read(&mut buf);
                        let body = "<html><body>Welcome</body></html>";
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        NotDav { port, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for NotDav {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
