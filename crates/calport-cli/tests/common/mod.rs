//! Shared helpers for the CLI tests: run the real `calport` binary against real servers.

#![allow(dead_code)]

pub mod interop;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use calport_testkit::{DavServer, Resource};
use serde_json::Value;

/// The result of one `calport` invocation.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

pub fn calport() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calport"));
    cmd.stdin(Stdio::null())
        .env_remove("CALPORT_FROM_PASSWORD")
        .env_remove("CALPORT_TO_PASSWORD")
        .env("CALPORT_LOG", "warn");
    cmd
}

/// Writes a migrate.toml for two servers into `dir` and returns its path.
pub fn write_config(
    dir: &Path,
    source: &DavServer,
    destination: &DavServer,
    extra: &str,
) -> PathBuf {
    let text = format!(
        "[source]\nurl = \"{}/\"\nusername = \"{}\"\npassword = \"{}\"\n\n\
         [destination]\nurl = \"{}/\"\nusername = \"{}\"\npassword = \"{}\"\n\n\
         [options]\nconcurrency = 4\ntimeout_seconds = 60\n{extra}\n",
        source.base_url(),
        source.username(),
        source.password(),
        destination.base_url(),
        destination.username(),
        destination.password(),
    );
    let path = dir.join("migrate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `calport migrate --config CONFIG --state STATE --json [extra…]` to completion.
pub fn migrate(config: &Path, state: &Path, extra: &[&str]) -> Run {
    let out = calport()
        .arg("migrate")
        .arg("--config")
        .arg(config)
        .arg("--state")
        .arg(state)
        .arg("--json")
        .args(extra)
        .output()
        .expect("calport runs");
    out.into()
}

/// Every item of every listed collection, keyed by UID (as read by calport-ical).
pub async fn items_by_uid(
    server: &DavServer,
    collections: &[String],
) -> BTreeMap<String, Vec<Resource>> {
    let mut map: BTreeMap<String, Vec<Resource>> = BTreeMap::new();
    for path in collections {
        for resource in server.list(path).await.unwrap() {
            let uid = calport_ical::inspect(&resource.body)
                .map(|m| m.uid)
                .unwrap_or_else(|e| {
                    panic!("{} on {} cannot be read: {e}", resource.href, server.kind())
                });
            map.entry(uid).or_default().push(resource);
        }
    }
    map
}

/// The destination collection paths of a `--json` report.
pub fn destination_collections(report: &Value) -> Vec<String> {
    report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["destination_href"].as_str().map(str::to_owned))
        .collect()
}

/// Write requests (anything but PROPFIND/REPORT/GET/OPTIONS/HEAD) in a report's counts.
pub fn destination_writes(report: &Value) -> u64 {
    report["requests"]["destination"]["by_method"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(m, _)| {
            !matches!(
                m.as_str(),
                "PROPFIND" | "REPORT" | "GET" | "OPTIONS" | "HEAD"
            )
        })
        .map(|(_, n)| n.as_u64().unwrap())
        .sum()
}

/// Compares two item sets by UID in meaning; returns a description of each mismatch.
pub fn semantic_mismatches(
    expected: &BTreeMap<String, Vec<Resource>>,
    actual: &BTreeMap<String, Vec<Resource>>,
) -> Vec<String> {
    semantic_mismatches_by_uid(expected, actual)
        .into_iter()
        .map(|(_, problem)| problem)
        .collect()
}

/// Like [`semantic_mismatches`], keyed by UID.
pub fn semantic_mismatches_by_uid(
    expected: &BTreeMap<String, Vec<Resource>>,
    actual: &BTreeMap<String, Vec<Resource>>,
) -> Vec<(String, String)> {
    let tolerance = calport_ical::Tolerance::default();
    let mut problems = Vec::new();
    for (uid, sources) in expected {
        match actual.get(uid).map(Vec::as_slice) {
            None | Some([]) => problems.push((
                uid.clone(),
                format!("UID {uid}: missing on the destination"),
            )),
            Some([one]) => match calport_ical::compare(&sources[0].body, &one.body, &tolerance) {
                Ok(diffs) if diffs.is_empty() => {}
                Ok(diffs) => problems.push((
                    uid.clone(),
                    format!(
                        "UID {uid}: {} difference(s): {}",
                        diffs.len(),
                        diffs
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                )),
                Err(e) => problems.push((uid.clone(), format!("UID {uid}: cannot compare: {e}"))),
            },
            Some(many) => problems.push((
                uid.clone(),
                format!("UID {uid}: {} copies on the destination", many.len()),
            )),
        }
    }
    for uid in actual.keys() {
        if !expected.contains_key(uid) {
            problems.push((
                uid.clone(),
                format!("UID {uid}: on the destination but not on the source"),
            ));
        }
    }
    problems
}

/// Keeps only the mismatches calport is responsible for.
///
/// A server may rewrite what it stores (re-serialising hostile input, e.g. dropping a `Z`
/// after a TZID or turning a DATE with TZID into a DATE-TIME). For every mismatching UID
/// this PUTs the *source* bytes with plain HTTP into a scratch collection of the same
/// destination server, reads back what the server made of them, and compares that with
/// calport's copy: if they agree in meaning, the difference is the server's own doing.
pub async fn mismatches_not_explained_by_the_server(
    destination: &DavServer,
    source_items: &BTreeMap<String, Vec<Resource>>,
    copies: &BTreeMap<String, Vec<Resource>>,
    mismatches: Vec<(String, String)>,
) -> (Vec<String>, Vec<String>) {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let scratch_cal = format!("{}scratch-{nonce}-cal/", destination.calendar_home_path());
    let scratch_book = format!(
        "{}scratch-{nonce}-book/",
        destination.addressbook_home_path()
    );
    destination
        .mkcalendar(&scratch_cal, "scratch", &[], None)
        .await
        .unwrap();
    destination
        .mkaddressbook(&scratch_book, "scratch")
        .await
        .unwrap();
    let tolerance = calport_ical::Tolerance::default();
    let mut unexplained = Vec::new();
    let mut explained = Vec::new();
    for (n, (uid, problem)) in mismatches.into_iter().enumerate() {
        let (Some([source]), Some([copy])) = (
            source_items.get(&uid).map(Vec::as_slice),
            copies.get(&uid).map(Vec::as_slice),
        ) else {
            unexplained.push(problem);
            continue;
        };
        let card = source.text().contains("BEGIN:VCARD");
        let (path, ctype) = if card {
            (
                format!("{scratch_book}s{n}.vcf"),
                "text/vcard; charset=utf-8",
            )
        } else {
            (
                format!("{scratch_cal}s{n}.ics"),
                "text/calendar; charset=utf-8",
            )
        };
        let status = destination.put(&path, &source.body, ctype).await.unwrap();
        let (get_status, stored) = destination.get(&path).await.unwrap();
        let same = status.is_success()
            && get_status.is_success()
            && calport_ical::compare(&stored, &copy.body, &tolerance)
                .map(|d| d.is_empty())
                .unwrap_or(false);
        if same {
            eprintln!("server rewrite, not calport: {problem}");
            explained.push(uid.clone());
        } else {
            unexplained.push(problem);
        }
    }
    // Leave the server as it was: the scratch collections are not part of the data.
    destination.delete(&scratch_cal).await.unwrap();
    destination.delete(&scratch_book).await.unwrap();
    (unexplained, explained)
}

/// The UIDs a `--json` report lists as corrupted by the destination.
pub fn corrupted_uids(report: &Value) -> std::collections::BTreeSet<String> {
    report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["corrupted"].as_array().unwrap())
        .map(|c| c["uid"].as_str().unwrap().to_owned())
        .collect()
}
