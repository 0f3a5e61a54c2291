//! Interop: `calport migrate` from Radicale into the production servers of `../shared/servers`
//! (SOGo 5.8, SabreDAV 1.8.12, DAViCal 1.1.12 from Debian's packages).
//!
//! The source holds a small dataset (29 items: events, tasks, vCard 3.0 and 4.0) with the
//! known triggers of the servers' silent corruption beside ordinary items (our fixtures:
//! recurrence with an override, alarms, attendees, time zones):
//! - SOGo stores an object as `(null)` when an astral character falls on its UTF-16 line-fold
//!   cut: `sogo-null-repro.ics`, mixed-script variants (some hit, some do not) and texts aimed
//!   at the cut in DESCRIPTION, SUMMARY, a task, vCard 3.0/4.0 NOTE and ORG (which no
//!   meaning-preserving change can save);
//! - SabreDAV 1.8 double-encodes some valid UTF-8 (`Tết Nguyên Đán 🧧`) in SUMMARY,
//!   DESCRIPTION and NOTE.
//!
//! Each test:
//! 1. PUTs every source item with plain HTTP into a scratch collection of the destination and
//!    reads it back: what the server itself does with each item, independent of calport
//!    (the triggers must still trigger);
//! 2. migrates with `calport migrate --json` and reads every destination item back with
//!    calport-testkit's own client: each source item must be there once and equal in meaning
//!    (`calport_ical::compare`, default tolerance), then counted verified, or be reported as
//!    failed or corrupted — never silently "done". An item listed under `workarounds` must be
//!    stored intact;
//! 3. runs the migration again: no duplicates, no new collections, no write to an item that
//!    arrived intact (its etag is unchanged and PUTs ≤ damaged items), damaged items reported
//!    again.
//!
//! A foreign item sits beforehand under the resource name calport derives for one source UID
//! (SOGo ignores `If-None-Match: *`): it must survive both runs.
//!
//! The servers listen on fixed ports, so each test holds its server's lock (see
//! `calport_testkit::SharedServer`); the three tests can run in parallel. Each prints an
//! `INTEROP <server>:` line with its figures and timings.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use calport_testkit::{
    DavServer, Resource, ServerKind, SharedKind, SharedServer, shared_servers_dir,
};
use common::interop::{Account, write_config_for};
use common::{Run, migrate};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

const ICS: &str = "text/calendar; charset=utf-8";
const VCF: &str = "text/vcard; charset=utf-8";

/// The source UID whose derived resource name (`<uid>.ics`) a foreign item occupies on the
/// destination before the migration.
const COLLIDING_UID: &str = "interop-plain-01";
const FOREIGN_UID: &str = "interop-foreign-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sogo_every_item_arrives_intact_or_is_reported() {
    interop(SharedKind::Sogo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sabredav_every_item_arrives_intact_or_is_reported() {
    interop(SharedKind::SabreDav).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn davical_every_item_arrives_intact_or_is_reported() {
    interop(SharedKind::Davical).await;
}

// ---------------------------------------------------------------------------------------
// The dataset
// ---------------------------------------------------------------------------------------

/// One source item.
struct Item {
    uid: String,
    body: Vec<u8>,
    card: bool,
    /// Why it is in the dataset.
    note: &'static str,
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

/// A VCALENDAR with one component of `kind` (`VEVENT`, `VTODO`), `lines` (unfolded content
/// lines) after UID and DTSTAMP, and `extra` (raw CRLF lines, e.g. a VTIMEZONE) before it.
fn calendar(kind: &str, uid: &str, lines: &[&str], extra: &str) -> Vec<u8> {
    let mut s =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calport tests//interop//EN\r\n");
    s.push_str(extra);
    s.push_str(&format!(
        "BEGIN:{kind}\r\nUID:{uid}\r\nDTSTAMP:20260101T120000Z\r\n"
    ));
    for line in lines {
        s.push_str(&calport_ical::fold_line(line));
        s.push_str("\r\n");
    }
    s.push_str(&format!("END:{kind}\r\nEND:VCALENDAR\r\n"));
    s.into_bytes()
}

fn vcard(version: &str, uid: &str, lines: &[&str]) -> Vec<u8> {
    let mut s = format!("BEGIN:VCARD\r\nVERSION:{version}\r\nUID:{uid}\r\n");
    for line in lines {
        s.push_str(&calport_ical::fold_line(line));
        s.push_str("\r\n");
    }
    s.push_str("END:VCARD\r\n");
    s.into_bytes()
}

const NEW_YORK: &str = "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\nDTSTART:19700308T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n\
TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\nDTSTART:19701101T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/// The DESCRIPTION of `sogo-null-repro.ics` (still escaped, unfolded).
fn repro_description(repro: &[u8]) -> String {
    let text = String::from_utf8_lossy(repro)
        .replace("\r\n ", "")
        .replace("\n ", "");
    text.lines()
        .find_map(|l| l.strip_prefix("DESCRIPTION:"))
        .map(|v| v.trim_end_matches('\r').to_owned())
        .expect("sogo-null-repro.ics has a DESCRIPTION")
}

/// SOGo 5.8 folds the lines it re-renders every 74 UTF-16 units and stores the object as
/// `(null)` when a cut splits a surrogate pair, i.e. when an astral character starts at
/// UTF-16 offset 74 of the rendered line (see `calport_ical`'s workaround module). Pads
/// `text` (an escaped TEXT value as SOGo re-renders it) with `.` so that `astral`, appended
/// after it, lands exactly there on the line `NAME:text`.
fn aimed_at_sogo_fold(name: &str, text: &str, astral: char) -> String {
    let used = name.len() + 1 + text.encode_utf16().count();
    assert!(
        used <= 74,
        "{name}:{text} is already past SOGo's first fold"
    );
    format!("{text}{}{astral} and after it", ".".repeat(74 - used))
}

/// The source dataset: (calendar items, cards).
fn dataset(servers: &Path) -> (Vec<Item>, Vec<Item>) {
    let repro = std::fs::read(servers.join("sogo-null-repro.ics"))
        .expect("../shared/servers/sogo-null-repro.ics");
    let null_text = repro_description(&repro);
    // Variants of SOGo's `(null)` trigger: several scripts, `\,` / `\\` escapes and an
    // astral-plane emoji in one DESCRIPTION (README quirk 3).
    let null_variants = [
        r"Ελληνικά — \, dolor sit \\ amet –. кириллица текст مرحبا 😀",
        r"ε — \, labore magna dolor \\ eiusmod –. текст кириллица magna 🎉",
        r"Ša — \\ Ünïcødé \, test –. Привет мир שלום 🚀",
    ];
    let tet = "Tết Nguyên Đán 🧧";

    let mut events = vec![Item {
        uid: calport_ical::inspect(&repro).unwrap().uid,
        body: repro.clone(),
        card: false,
        note: "SOGo (null) trigger: sogo-null-repro.ics",
    }];
    for (i, text) in null_variants.iter().enumerate() {
        let uid = format!("interop-sogo-null-{}", i + 2);
        events.push(Item {
            body: calendar(
                "VEVENT",
                &uid,
                &[
                    &format!("DTSTART:2025020{}T100000Z", i + 1),
                    &format!("DTEND:2025020{}T110000Z", i + 1),
                    "SUMMARY:Mixed scripts in the description",
                    &format!("DESCRIPTION:{text}"),
                ],
                "",
            ),
            uid,
            card: false,
            note: "SOGo (null) trigger variant",
        });
    }
    events.push(Item {
        uid: "interop-sogo-null-aimed-description".into(),
        body: calendar(
            "VEVENT",
            "interop-sogo-null-aimed-description",
            &[
                "DTSTART:20250205T100000Z",
                "DTEND:20250205T110000Z",
                "SUMMARY:Emoji at SOGo's fold in the description",
                &format!(
                    "DESCRIPTION:{}",
                    aimed_at_sogo_fold("DESCRIPTION", r"Привет\, שלום — ", '😀')
                ),
            ],
            "",
        ),
        card: false,
        note: "SOGo (null): astral character at the fold, DESCRIPTION",
    });
    events.push(Item {
        uid: "interop-sogo-null-aimed-summary".into(),
        body: calendar(
            "VEVENT",
            "interop-sogo-null-aimed-summary",
            &[
                "DTSTART:20250206T100000Z",
                "DTEND:20250206T110000Z",
                &format!(
                    "SUMMARY:{}",
                    aimed_at_sogo_fold("SUMMARY", "Summary aimed at the fold ", '🎉')
                ),
            ],
            "",
        ),
        card: false,
        note: "SOGo (null): astral character at the fold, SUMMARY",
    });
    events.push(Item {
        uid: "interop-sogo-null-task".into(),
        body: calendar(
            "VTODO",
            "interop-sogo-null-task",
            &[
                "DUE:20250215T170000Z",
                "SUMMARY:Task with mixed scripts",
                &format!("DESCRIPTION:{null_text}"),
            ],
            "",
        ),
        card: false,
        note: "SOGo (null) trigger in a task",
    });
    events.push(Item {
        uid: "interop-sogo-null-in-summary".into(),
        body: calendar(
            "VEVENT",
            "interop-sogo-null-in-summary",
            &[
                "DTSTART:20250210T100000Z",
                "DTEND:20250210T110000Z",
                &format!("SUMMARY:{null_text}"),
                "DESCRIPTION:plain",
            ],
            "",
        ),
        card: false,
        note: "SOGo trigger text in SUMMARY (README: passes)",
    });
    events.push(Item {
        uid: "interop-sabre-tet-summary".into(),
        body: calendar(
            "VEVENT",
            "interop-sabre-tet-summary",
            &[
                "DTSTART;VALUE=DATE:20260217",
                "DTEND;VALUE=DATE:20260218",
                &format!("SUMMARY:{tet}"),
            ],
            "",
        ),
        card: false,
        note: "SabreDAV mojibake trigger in SUMMARY",
    });
    events.push(Item {
        uid: "interop-sabre-tet-description".into(),
        body: calendar(
            "VEVENT",
            "interop-sabre-tet-description",
            &[
                "DTSTART:20260217T180000Z",
                "DTEND:20260217T220000Z",
                "SUMMARY:Lunar new year dinner",
                &format!("DESCRIPTION:Chúc mừng năm mới! {tet}"),
            ],
            "",
        ),
        card: false,
        note: "SabreDAV mojibake trigger in DESCRIPTION",
    });
    for file in ["weekly-meeting.ics", "all-day.ics", "task.ics"] {
        let body = fixture(file);
        events.push(Item {
            uid: calport_ical::inspect(&body).unwrap().uid,
            body,
            card: false,
            note: "fixture",
        });
    }
    let plain: [(&str, Vec<&str>, &str, &'static str); 6] = [
        (
            COLLIDING_UID,
            vec![
                "DTSTART:20260301T090000Z",
                "DTEND:20260301T100000Z",
                "SUMMARY:Plain UTC event",
            ],
            "",
            "plain UTC event (its name is taken by a foreign item)",
        ),
        (
            "interop-plain-02",
            vec![
                "DTSTART:20260302T090000Z",
                "DURATION:PT45M",
                "SUMMARY:Two alarms",
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "DESCRIPTION:Ten minutes",
                "TRIGGER:-PT10M",
                "END:VALARM",
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "DESCRIPTION:At the end",
                "TRIGGER;RELATED=END:PT0S",
                "END:VALARM",
            ],
            "",
            "alarms",
        ),
        (
            "interop-plain-03",
            vec![
                "DTSTART;TZID=America/New_York:20260310T083000",
                "DTEND;TZID=America/New_York:20260310T090000",
                "RRULE:FREQ=DAILY;COUNT=5",
                "EXDATE;TZID=America/New_York:20260312T083000",
                "SUMMARY:Stand-up (New York)",
            ],
            NEW_YORK,
            "recurring with VTIMEZONE and EXDATE",
        ),
        (
            "interop-plain-04",
            vec![
                "DTSTART:20260315T190000",
                "DTEND:20260315T210000",
                "SUMMARY:Floating dinner",
                "LOCATION:Wherever we are",
            ],
            "",
            "floating time",
        ),
        (
            "interop-plain-05",
            vec![
                "DTSTART:20260320T130000Z",
                "DTEND:20260320T140000Z",
                "SUMMARY:Review with guests",
                "ORGANIZER;CN=Alice:mailto:alice@example.test",
                "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.test",
                "ATTENDEE;CN=Carol;PARTSTAT=ACCEPTED:mailto:carol@example.test",
                "CATEGORIES:Work,Review",
                "URL:https://example.test/review",
                "STATUS:CONFIRMED",
            ],
            "",
            "organizer and attendees",
        ),
        (
            "interop-plain-06",
            vec![
                "DTSTART;VALUE=DATE:20260401",
                "DTEND;VALUE=DATE:20260404",
                "SUMMARY:Conference (three days)",
                "TRANSP:TRANSPARENT",
            ],
            "",
            "multi-day all-day event",
        ),
    ];
    for (uid, lines, extra, note) in plain {
        events.push(Item {
            body: calendar("VEVENT", uid, &lines, extra),
            uid: uid.into(),
            card: false,
            note,
        });
    }
    events.push(Item {
        uid: "interop-task-02".into(),
        body: calendar(
            "VTODO",
            "interop-task-02",
            &[
                "DTSTART:20260305T080000Z",
                "DUE:20260306T170000Z",
                "SUMMARY:Send the slides",
                "STATUS:NEEDS-ACTION",
                "PRIORITY:5",
                "BEGIN:VALARM",
                "ACTION:DISPLAY",
                "DESCRIPTION:Slides",
                "TRIGGER;RELATED=END:-PT1H",
                "END:VALARM",
            ],
            "",
        ),
        card: false,
        note: "task with alarm",
    });

    let mut cards = Vec::new();
    for file in ["alice.vcf", "bob.vcf"] {
        let body = fixture(file);
        cards.push(Item {
            uid: calport_ical::inspect(&body).unwrap().uid,
            body,
            card: true,
            note: "fixture",
        });
    }
    let card_items: [(&str, &str, Vec<String>, &'static str); 7] = [
        (
            "3.0",
            "interop-card-sogo-null",
            vec![
                "FN:Null Note".into(),
                "N:Note;Null;;;".into(),
                format!(
                    "NOTE:{}",
                    aimed_at_sogo_fold("NOTE", r"Встреча — Tết\, ελληνικά \\ ", '🧧')
                ),
            ],
            "SOGo (null): astral character at the fold, vCard 3.0 NOTE",
        ),
        (
            "4.0",
            "interop-card-sogo-null-v4",
            vec![
                "FN:Null Note Four".into(),
                "N:Four;Null;;;".into(),
                format!(
                    "NOTE:{}",
                    aimed_at_sogo_fold("NOTE", "Plain ASCII note ", '😀')
                ),
            ],
            "SOGo (null): astral character at the fold, vCard 4.0 NOTE",
        ),
        (
            "3.0",
            "interop-card-sogo-null-org",
            vec![
                "FN:Null Org".into(),
                "N:Org;Null;;;".into(),
                format!("ORG:{}", aimed_at_sogo_fold("ORG", "Example Corp ", '🏢')),
            ],
            "SOGo (null) in ORG (not a TEXT property: no VALUE=TEXT workaround)",
        ),
        (
            "3.0",
            "interop-card-sabre-tet",
            vec![
                "FN:Nguyen Van An".into(),
                "N:Nguyen;Van An;;;".into(),
                format!("NOTE:{tet}"),
            ],
            "SabreDAV mojibake trigger in NOTE",
        ),
        (
            "3.0",
            "interop-card-03",
            vec![
                "FN:Dana Rich".into(),
                "N:Rich;Dana;;;".into(),
                "ORG:Example Corp;Research".into(),
                "TITLE:Engineer".into(),
                "TEL;TYPE=WORK,VOICE:+1 555 0100".into(),
                "EMAIL;TYPE=INTERNET,WORK:dana@example.test".into(),
                "BDAY:1990-04-01".into(),
                "CATEGORIES:Friends,Work".into(),
            ],
            "vCard 3.0, many properties",
        ),
        (
            "4.0",
            "interop-card-04",
            vec![
                "FN:Eve Groups".into(),
                "N:Groups;Eve;;;".into(),
                "KIND:individual".into(),
                "item1.EMAIL;TYPE=home:eve@example.test".into(),
                "item1.X-ABLabel:Private".into(),
                "ANNIVERSARY:20100612".into(),
            ],
            "vCard 4.0 with a group",
        ),
        (
            "3.0",
            "interop-card-05",
            vec!["FN:Mini".into(), "N:Mini;;;;".into()],
            "vCard 3.0, minimal",
        ),
    ];
    for (version, uid, lines, note) in card_items {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        cards.push(Item {
            body: vcard(version, uid, &lines),
            uid: uid.into(),
            card: true,
            note,
        });
    }
    (events, cards)
}

// ---------------------------------------------------------------------------------------
// Reading the destination back
// ---------------------------------------------------------------------------------------

/// What the destination holds in some collections.
#[derive(Default)]
struct Readback {
    /// Readable items by UID.
    by_uid: BTreeMap<String, Vec<Resource>>,
    /// Bodies calport-ical cannot read at all (SOGo's `(null)`).
    unreadable: Vec<Resource>,
}

impl Readback {
    fn etag_of(&self, uid: &str) -> Option<Option<String>> {
        match self.by_uid.get(uid).map(Vec::as_slice) {
            Some([one]) => Some(one.etag.clone()),
            _ => None,
        }
    }

    fn resources(&self) -> usize {
        self.by_uid.values().map(Vec::len).sum::<usize>() + self.unreadable.len()
    }
}

async fn read_back(server: &SharedServer, collections: &[String]) -> Readback {
    let mut out = Readback::default();
    for path in collections {
        let resources = server
            .list(path)
            .await
            .unwrap_or_else(|e| panic!("{}: listing {path}: {e:#}", server.kind()));
        for resource in resources {
            match calport_ical::inspect(&resource.body) {
                Ok(meta) => out.by_uid.entry(meta.uid).or_default().push(resource),
                Err(_) => out.unreadable.push(resource),
            }
        }
    }
    out
}

/// For each source UID: `Ok` when exactly one copy is there and equal in meaning, else what
/// is wrong.
fn classify(sources: &[&Item], dest: &Readback) -> BTreeMap<String, Result<(), String>> {
    let tolerance = calport_ical::Tolerance::default();
    sources
        .iter()
        .map(|item| {
            let verdict = match dest.by_uid.get(&item.uid).map(Vec::as_slice) {
                None | Some([]) => Err("missing or unreadable on the destination".to_owned()),
                Some([copy]) => match calport_ical::compare(&item.body, &copy.body, &tolerance) {
                    Ok(diffs) if diffs.is_empty() => Ok(()),
                    Ok(diffs) => Err(format!(
                        "{} differs: {}",
                        copy.href,
                        diffs
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    Err(e) => Err(format!("cannot compare: {e}")),
                },
                Some(many) => Err(format!("{} copies on the destination", many.len())),
            };
            (item.uid.clone(), verdict)
        })
        .collect()
}

/// What the server itself does with each item: plain PUTs into scratch collections, read
/// back with GET. Returns the problem for every item not stored as sent (in meaning).
async fn plain_put_behaviour(server: &SharedServer, items: &[&Item]) -> BTreeMap<String, String> {
    let cal = format!("{}interop-plain-put/", server.calendar_home_path());
    let book = format!("{}interop-plain-put-book/", server.addressbook_home_path());
    server
        .mkcalendar(&cal, "interop plain PUT", &["VEVENT", "VTODO"])
        .await
        .unwrap();
    server
        .mkaddressbook(&book, "interop plain PUT book")
        .await
        .unwrap();
    let tolerance = calport_ical::Tolerance::default();
    let mut problems = BTreeMap::new();
    for (n, item) in items.iter().enumerate() {
        let (path, ctype) = if item.card {
            (format!("{book}p{n:02}.vcf"), VCF)
        } else {
            (format!("{cal}p{n:02}.ics"), ICS)
        };
        let status = server.put(&path, &item.body, ctype).await.unwrap();
        if !status.is_success() {
            problems.insert(item.uid.clone(), format!("PUT answered {status}"));
            continue;
        }
        let (status, stored) = server.get(&path).await.unwrap();
        let problem = if !status.is_success() {
            Some(format!("GET answered {status}"))
        } else {
            match calport_ical::compare(&item.body, &stored, &tolerance) {
                Ok(d) if d.is_empty() => None,
                Ok(d) => Some(
                    d.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                Err(e) => Some(format!("cannot compare: {e}")),
            }
        };
        if let Some(problem) = problem {
            problems.insert(item.uid.clone(), problem);
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// Reading the report
// ---------------------------------------------------------------------------------------

/// What a `--json` report says about items (read-back verification contract: per collection
/// `stats.verified`, `stats.corrupted`, `corrupted[]`, `workarounds[]`, beside `failures[]`).
#[derive(Default)]
struct Reported {
    /// Failed items by UID and by source href.
    failed: BTreeMap<String, String>,
    /// Corrupted items by UID.
    corrupted: BTreeMap<String, Value>,
    /// Workarounds by UID.
    workarounds: BTreeMap<String, Value>,
    verified: u64,
    corrupted_count: u64,
}

impl Reported {
    fn read(report: &Value) -> Self {
        let collections = report["collections"].as_array().expect("collections[]");
        let mut out = Reported::default();
        for c in collections {
            for f in c["failures"].as_array().into_iter().flatten() {
                let reason = f["reason"].as_str().unwrap_or_default().to_owned();
                if let Some(uid) = f["uid"].as_str() {
                    out.failed.insert(uid.to_owned(), reason.clone());
                }
                if let Some(href) = f["source_href"].as_str() {
                    out.failed.insert(href.to_owned(), reason);
                }
            }
            let stats = &c["stats"];
            out.verified += stats["verified"]
                .as_u64()
                .unwrap_or_else(|| panic!("stats.verified in {c}"));
            out.corrupted_count += stats["corrupted"]
                .as_u64()
                .unwrap_or_else(|| panic!("stats.corrupted in {c}"));
            for entry in c["corrupted"]
                .as_array()
                .unwrap_or_else(|| panic!("corrupted[] in {c}"))
            {
                let uid = entry["uid"].as_str().expect("corrupted[].uid").to_owned();
                out.corrupted.insert(uid, entry.clone());
            }
            for entry in c["workarounds"]
                .as_array()
                .unwrap_or_else(|| panic!("workarounds[] in {c}"))
            {
                let uid = entry["uid"].as_str().expect("workarounds[].uid").to_owned();
                out.workarounds.insert(uid, entry.clone());
            }
        }
        out
    }

    fn is_failed(&self, item: &Item, source_href: &str) -> bool {
        self.failed.contains_key(&item.uid) || self.failed.contains_key(source_href)
    }

    fn reason(&self, item: &Item, source_href: &str) -> &str {
        self.failed
            .get(&item.uid)
            .or_else(|| self.failed.get(source_href))
            .map_or("", String::as_str)
    }
}

/// Counts of one run, for the summary line.
#[derive(Default, Debug)]
struct Figures {
    intact: usize,
    reported_failed: usize,
    reported_corrupted: usize,
    /// Intact thanks to a reported workaround (a subset of `intact`).
    worked_around: usize,
}

/// The source items of one test and where the source holds them.
struct Sources<'a> {
    kind: SharedKind,
    items: Vec<&'a Item>,
    /// UID -> source href.
    hrefs: BTreeMap<String, String>,
}

impl Sources<'_> {
    /// Checks one run against what the destination holds now (`verdicts`, from
    /// [`classify`]): every source item is intact there or reported.
    fn check_run(
        &self,
        label: &str,
        run: &Run,
        verdicts: &BTreeMap<String, Result<(), String>>,
        first_run: bool,
    ) -> Figures {
        let report = &run.json();
        let (sources, source_hrefs, kind) = (&self.items, &self.hrefs, self.kind);
        let reported = Reported::read(report);
        let mut figures = Figures::default();
        let mut silent = Vec::new();
        for item in sources {
            let href = &source_hrefs[&item.uid];
            let failed = reported.is_failed(item, href);
            let corrupted = reported.corrupted.get(&item.uid);
            let workaround = reported.workarounds.get(&item.uid);
            match &verdicts[&item.uid] {
                Ok(()) => {
                    figures.intact += 1;
                    if let Some(entry) = workaround {
                        figures.worked_around += 1;
                        assert!(
                            entry["change"]
                                .as_str()
                                .is_some_and(|c| !c.trim().is_empty()),
                            "{label}: workaround without a description: {entry}"
                        );
                        eprintln!(
                            "{label}: workaround for {} stored it intact: {}",
                            item.uid, entry["change"]
                        );
                    }
                    assert!(
                        !failed,
                        "{label}: {} arrived intact but is listed as failed: {}",
                        item.uid, run.stdout
                    );
                    assert!(
                        corrupted.is_none(),
                        "{label}: {} arrived intact (in meaning) but is reported corrupted: {}",
                        item.uid,
                        corrupted.unwrap()
                    );
                }
                Err(problem) => {
                    if failed {
                        figures.reported_failed += 1;
                        eprintln!(
                            "{label}: reported failed: {}: {}",
                            item.uid,
                            reported.reason(item, href)
                        );
                    } else if let Some(entry) = corrupted {
                        figures.reported_corrupted += 1;
                        let differences = entry["differences"].as_array();
                        assert!(
                            differences.is_some_and(|d| !d.is_empty()),
                            "{label}: corrupted entry without differences: {entry}"
                        );
                        assert!(
                            entry["destination_href"].is_string(),
                            "{label}: corrupted entry without destination_href: {entry}"
                        );
                        assert_eq!(
                            entry["source_href"].as_str(),
                            Some(href.as_str()),
                            "{label}: corrupted entry names its source: {entry}"
                        );
                        eprintln!(
                            "{label}: reported corrupted: {} at {}: {}",
                            item.uid, entry["destination_href"], entry["differences"]
                        );
                    } else if let Some(entry) = workaround {
                        panic!(
                            "{label}: {} was changed by a workaround ({}) and still does not \
                             mean what the source holds: {problem}",
                            item.uid, entry["change"]
                        );
                    } else {
                        silent.push(format!("{} ({}): {problem}", item.uid, item.note));
                    }
                }
            }
        }
        assert!(
            silent.is_empty(),
            "{label}: {} item(s) differ on the destination yet are reported neither as failed nor \
             as corrupted (silently \"done\"):\n{}\nreport: {}",
            silent.len(),
            silent.join("\n"),
            run.stdout
        );
        if first_run {
            assert_eq!(
                reported.verified as usize, figures.intact,
                "{label}: every item stored intact is counted verified: {}",
                run.stdout
            );
        }
        assert_eq!(
            reported.corrupted_count as usize,
            reported.corrupted.len(),
            "{label}: stats.corrupted matches corrupted[]"
        );
        let expected = match kind {
            SharedKind::Sogo => "sogo",
            SharedKind::SabreDav => "sabredav",
            SharedKind::Davical => "davical",
        };
        assert_eq!(
            report["destination_server"]["product"].as_str(),
            Some(expected),
            "{label}: destination_server names {kind}: {}",
            report["destination_server"]
        );
        let expect_2 = !reported.failed.is_empty() || !reported.corrupted.is_empty();
        assert_eq!(
            run.code,
            if expect_2 { 2 } else { 0 },
            "{label}: exit code 2 exactly when something failed or is corrupted\n{}",
            run.stderr
        );
        figures
    }
}

fn puts(report: &Value) -> u64 {
    report["requests"]["destination"]["by_method"]["PUT"]
        .as_u64()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// The story
// ---------------------------------------------------------------------------------------

async fn interop(kind: SharedKind) {
    let t0 = Instant::now();
    let Some(servers) = shared_servers_dir() else {
        eprintln!("SKIPPED: ../shared/servers not found (set CALPORT_SHARED_DIR)");
        return;
    };
    let (events, cards) = dataset(&servers);
    let server = match SharedServer::start(kind).await {
        Ok(Some(server)) => server,
        Ok(None) => {
            eprintln!("SKIPPED: ../shared/servers not found (set CALPORT_SHARED_DIR)");
            return;
        }
        Err(err) => panic!("{kind} cannot be started:\n{err:#}"),
    };
    let started = server.start_time();
    let label = kind.to_string();

    // Source: Radicale with one calendar (events + tasks) and one address book.
    let radicale = DavServer::start(ServerKind::Radicale).await.unwrap();
    let src_cal = format!("{}interop-events/", radicale.calendar_home_path());
    let src_book = format!("{}interop-contacts/", radicale.addressbook_home_path());
    radicale
        .mkcalendar(&src_cal, "Interop events", &["VEVENT", "VTODO"], None)
        .await
        .unwrap();
    radicale
        .mkaddressbook(&src_book, "Interop contacts")
        .await
        .unwrap();
    for (n, item) in events.iter().enumerate() {
        let status = radicale
            .put(&format!("{src_cal}e{n:02}.ics"), &item.body, ICS)
            .await
            .unwrap();
        assert!(status.is_success(), "Radicale took {}: {status}", item.uid);
    }
    for (n, item) in cards.iter().enumerate() {
        let status = radicale
            .put(&format!("{src_book}c{n:02}.vcf"), &item.body, VCF)
            .await
            .unwrap();
        assert!(status.is_success(), "Radicale took {}: {status}", item.uid);
    }
    // What the source serves is what calport copies: compare against that.
    let mut source_items: Vec<Item> = Vec::new();
    let mut source_hrefs = BTreeMap::new();
    for (path, originals) in [(&src_cal, &events), (&src_book, &cards)] {
        for resource in radicale.list(path).await.unwrap() {
            let uid = calport_ical::inspect(&resource.body).unwrap().uid;
            let original = originals.iter().find(|i| i.uid == uid).unwrap();
            source_hrefs.insert(uid.clone(), resource.href.clone());
            source_items.push(Item {
                uid,
                body: resource.body,
                card: original.card,
                note: original.note,
            });
        }
    }
    assert_eq!(source_items.len(), events.len() + cards.len());
    let story = Sources {
        kind,
        items: source_items.iter().collect(),
        hrefs: source_hrefs,
    };
    let sources = &story.items;

    // 1. The server on its own.
    let plain = plain_put_behaviour(&server, sources).await;
    eprintln!(
        "{label}: plain PUT + GET stores {} of {} items differently:",
        plain.len(),
        sources.len()
    );
    for (uid, problem) in &plain {
        eprintln!("  {uid}: {problem}");
    }
    // The dataset must still hold what it was built to hold: these items are damaged by the
    // server itself (SOGo 5.8: `(null)` or a 500; SabreDAV 1.8.12: mojibake).
    let must_be_damaged: &[&str] = match kind {
        SharedKind::Sogo => &[
            "sogo-null-repro-1",
            "interop-sogo-null-aimed-description",
            "interop-sogo-null-aimed-summary",
            "interop-sogo-null-task",
            "interop-card-sogo-null",
            "interop-card-sogo-null-v4",
            "interop-card-sogo-null-org",
        ],
        SharedKind::SabreDav => &[
            "interop-sabre-tet-summary",
            "interop-sabre-tet-description",
            "interop-card-sabre-tet",
        ],
        SharedKind::Davical => &[],
    };
    for uid in must_be_damaged {
        assert!(
            plain.contains_key(*uid),
            "{label} stored the trigger {uid} intact with a plain PUT: the dataset no longer \
             exercises the server's defect"
        );
    }

    // The events calendar exists beforehand (calport pairs it by display name), and holds a
    // foreign item under the name calport derives for COLLIDING_UID.
    let dest_cal = format!("{}interop-events/", server.calendar_home_path());
    server
        .mkcalendar(&dest_cal, "Interop events", &["VEVENT", "VTODO"])
        .await
        .unwrap();
    let foreign_path = format!("{dest_cal}{COLLIDING_UID}.ics");
    let foreign = calendar(
        "VEVENT",
        FOREIGN_UID,
        &[
            "DTSTART:20260301T120000Z",
            "DTEND:20260301T130000Z",
            "SUMMARY:Put here by someone else: must survive the migration",
        ],
        "",
    );
    assert!(
        server
            .put(&foreign_path, &foreign, ICS)
            .await
            .unwrap()
            .is_success()
    );
    let homes: BTreeSet<String> = [
        server.calendar_home_path().to_owned(),
        server.addressbook_home_path().to_owned(),
    ]
    .into();
    let mut collections_before = BTreeSet::new();
    for home in &homes {
        collections_before.extend(server.child_collections(home).await.unwrap());
    }

    // 2. Migrate.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_for(
        dir.path(),
        &Account::of_dav(&radicale),
        &Account::of_shared(&server),
        "",
    );
    let state = dir.path().join("state.sqlite");
    let t_first = Instant::now();
    let first = migrate(&config, &state, &[]);
    let first_secs = t_first.elapsed().as_secs_f64();
    assert!(
        first.code == 0 || first.code == 2,
        "{label}: the first run completes (exit {}):\n{}\n{}",
        first.code,
        first.stdout,
        first.stderr
    );
    let report = first.json();
    let pairs = report["collections"].as_array().unwrap();
    assert_eq!(pairs.len(), 2, "{label}: {}", first.stdout);
    let cal_pair = pairs
        .iter()
        .find(|c| c["source"] == "Interop events")
        .unwrap();
    assert_eq!(cal_pair["mapping"], "paired", "{label}: {cal_pair}");
    assert_eq!(cal_pair["destination_href"], dest_cal.as_str());
    let targets = common::destination_collections(&report);
    assert_eq!(targets.len(), 2, "{label}: {}", first.stdout);

    let dest = read_back(&server, &targets).await;
    let verdicts = classify(sources, &dest);
    let figures1 = story.check_run(&format!("{label} run 1"), &first, &verdicts, true);
    for resource in &dest.unreadable {
        eprintln!(
            "{label}: unreadable on the destination: {} = {:?}",
            resource.href,
            String::from_utf8_lossy(&resource.body[..resource.body.len().min(60)])
        );
    }
    check_foreign_item(&server, &foreign_path, &foreign, &label).await;
    let known: BTreeSet<&str> = sources
        .iter()
        .map(|i| i.uid.as_str())
        .chain([FOREIGN_UID])
        .collect();
    for (uid, copies) in &dest.by_uid {
        assert!(
            known.contains(uid.as_str()),
            "{label}: {uid} on the destination is not from the source ({})",
            copies[0].href
        );
    }
    // The server's own corruption, seen through calport: same items (unless worked around).
    for (uid, problem) in &plain {
        let through_calport = &verdicts[uid];
        eprintln!(
            "{label}: {uid}: plain PUT -> {problem}; via calport -> {}",
            match through_calport {
                Ok(()) => "intact".to_owned(),
                Err(p) => p.clone(),
            }
        );
    }

    // 3. Again: no duplicates, no new collection, intact items untouched.
    let t_second = Instant::now();
    let second = migrate(&config, &state, &[]);
    let second_secs = t_second.elapsed().as_secs_f64();
    assert!(
        second.code == 0 || second.code == 2,
        "{label}: the second run completes (exit {}):\n{}\n{}",
        second.code,
        second.stdout,
        second.stderr
    );
    let again = second.json();
    assert_eq!(
        common::destination_collections(&again),
        targets,
        "{label}: the re-run uses the same collections"
    );
    let mut collections_after = BTreeSet::new();
    for home in &homes {
        collections_after.extend(server.child_collections(home).await.unwrap());
    }
    let created_by_calport: BTreeSet<&String> =
        collections_after.difference(&collections_before).collect();
    assert!(
        created_by_calport.len() <= 1,
        "{label}: calport created only the address book: {created_by_calport:?}"
    );
    let dest2 = read_back(&server, &targets).await;
    for (uid, copies) in &dest2.by_uid {
        assert_eq!(
            copies.len(),
            1,
            "{label}: one resource per UID after the re-run; {uid}: {:?}",
            copies.iter().map(|c| &c.href).collect::<Vec<_>>()
        );
    }
    assert!(
        dest2.unreadable.len() <= dest.unreadable.len(),
        "{label}: the re-run added unreadable resources: {:?}",
        dest2.unreadable.iter().map(|r| &r.href).collect::<Vec<_>>()
    );
    assert!(
        dest2.resources() <= sources.len() + 1,
        "{label}: {} resources for {} source items + 1 foreign",
        dest2.resources(),
        sources.len()
    );
    let damaged = verdicts.values().filter(|v| v.is_err()).count() as u64;
    assert!(
        puts(&again) <= damaged,
        "{label}: the re-run wrote {} times, but only {damaged} item(s) were not intact: {}",
        puts(&again),
        again["requests"]
    );
    for (uid, verdict) in &verdicts {
        if verdict.is_ok() {
            assert_eq!(
                dest2.etag_of(uid),
                dest.etag_of(uid),
                "{label}: {uid} arrived intact and must not be written again"
            );
        }
    }
    let verdicts2 = classify(sources, &dest2);
    let figures2 = story.check_run(&format!("{label} run 2"), &second, &verdicts2, false);
    check_foreign_item(&server, &foreign_path, &foreign, &label).await;

    drop(radicale);
    let t_stop = Instant::now();
    let mut server = server;
    server
        .stop()
        .unwrap_or_else(|e| panic!("{label}: stopping the server: {e:#}"));
    let stop_secs = t_stop.elapsed().as_secs_f64();

    let reported = Reported::read(&report);
    eprintln!(
        "INTEROP {label}: {} items ({} calendar, {} cards); plain PUT damages {}; calport run 1: \
         intact {}, verified {}, corrupted {}, failed {}, intact thanks to a workaround {}; \
         run 2: {} PUT(s), still corrupted {}, failed {}; server {}; seconds: server start {:.1}, run 1 {:.1}, \
         run 2 {:.1}, server stop {:.1}, whole test {:.1}",
        sources.len(),
        events.len(),
        cards.len(),
        plain.len(),
        figures1.intact,
        reported.verified,
        reported.corrupted_count,
        figures1.reported_failed,
        figures1.worked_around,
        puts(&again),
        figures2.reported_corrupted,
        figures2.reported_failed,
        match &report["destination_server"] {
            Value::Null => "not reported".to_owned(),
            server => format!("{} {}", server["product"], server["version"]),
        },
        secs(started),
        first_secs,
        second_secs,
        stop_secs,
        secs(t0.elapsed()),
    );
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The foreign item is still there, unchanged.
async fn check_foreign_item(server: &SharedServer, path: &str, body: &[u8], label: &str) {
    let (status, stored) = server.get(path).await.unwrap();
    assert!(
        status.is_success(),
        "{label}: the foreign item at {path} is gone ({status})"
    );
    let diffs = calport_ical::compare(body, &stored, &calport_ical::Tolerance::default()).unwrap();
    assert!(
        diffs.is_empty(),
        "{label}: calport overwrote the foreign item at {path} (the server ignores \
         If-None-Match: * on PUT?): {}",
        String::from_utf8_lossy(&stored)
    );
}
