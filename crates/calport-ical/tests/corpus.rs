//! Runs the library over the shared real-world corpus (`../shared/corpus`).
//!
//! The corpus files belong to other projects and are read in place, never copied. The
//! directory is `$CALPORT_SHARED_DIR/corpus`, else `<workspace>/../shared/corpus`; when
//! it is missing the tests say so on stderr and pass. Set `CALPORT_CORPUS_VERBOSE=1` to
//! list per-file notes (skipped components, lossy decoding, parser warnings).

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use calport_ical::{
    Component, Document, Tolerance, compare, compare_documents, content_hash, inspect, parse,
    set_origin, set_schedule_agent_client, split_by_uid, split_vcards,
};

fn corpus_dir() -> Option<PathBuf> {
    let shared = std::env::var_os("CALPORT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let corpus = shared.join("corpus");
    if corpus.is_dir() {
        Some(corpus)
    } else {
        eprintln!("SKIPPED: ../shared/corpus not found");
        None
    }
}

fn verbose() -> bool {
    std::env::var_os("CALPORT_CORPUS_VERBOSE").is_some()
}

/// Every file under `dir` whose name ends with one of `exts`, sorted.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if exts
                .iter()
                .any(|e| path.extension().is_some_and(|x| x.eq_ignore_ascii_case(e)))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn name(corpus: &Path, path: &Path) -> String {
    path.strip_prefix(corpus)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The part of `original` a split for `uid` should hold: its calendars' properties, the
/// time zones and the components with that UID; of several revisions of one instance
/// (same name and RECURRENCE-ID) only the newest by SEQUENCE, then DTSTAMP, then
/// position.
fn original_part(original: &Document, uid: &str) -> Document {
    fn field(c: &Component, name: &str) -> String {
        c.property(name)
            .map(|p| p.value.trim().to_owned())
            .unwrap_or_default()
    }
    fn newest_wins(all: &[(usize, usize, &Component)], c: &Component, at: (usize, usize)) -> bool {
        let rank = |c: &Component| {
            let seq: i64 = field(c, "SEQUENCE").parse().unwrap_or(0);
            (seq, field(c, "DTSTAMP"))
        };
        all.iter().all(|&(ci, i, other)| {
            (ci, i) == at
                || other.name != c.name
                || field(other, "RECURRENCE-ID") != field(c, "RECURRENCE-ID")
                || rank(c) > rank(other)
                || (rank(c) == rank(other) && at > (ci, i))
        })
    }
    let mut members = Vec::new();
    for (ci, cal) in original.components.iter().enumerate() {
        for (i, c) in cal.children.iter().enumerate() {
            if !c.is_timezone() && c.uid() == Some(uid) {
                members.push((ci, i, c));
            }
        }
    }
    let mut part = original.clone();
    for (ci, cal) in part.components.iter_mut().enumerate() {
        let mut i = 0;
        cal.children.retain(|c| {
            let keep =
                c.is_timezone() || (c.uid() == Some(uid) && newest_wins(&members, c, (ci, i)));
            i += 1;
            keep
        });
    }
    let holds_uid: Vec<bool> = original
        .components
        .iter()
        .map(|cal| {
            cal.children
                .iter()
                .any(|c| !c.is_timezone() && c.uid() == Some(uid))
        })
        .collect();
    let mut ci = 0;
    part.components.retain(|cal| {
        let keep = cal.name == "VCALENDAR" && holds_uid[ci];
        ci += 1;
        keep
    });
    part
}

fn tzids_defined(doc: &Document) -> BTreeSet<String> {
    doc.components
        .iter()
        .flat_map(|cal| &cal.children)
        .filter(|c| c.is_timezone())
        .filter_map(|c| c.property("TZID").map(|p| p.value.clone()))
        .collect()
}

fn tzids_used(doc: &Document) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for cal in &doc.components {
        for c in cal.children.iter().filter(|c| !c.is_timezone()) {
            c.walk(&mut |c| {
                used.extend(c.properties.iter().filter_map(|p| p.param("TZID")));
            });
        }
    }
    used
}

/// Checks shared by calendar and card items: re-serializing keeps hash and meaning.
fn check_reserialize(file: &str, bytes: &[u8], failures: &mut Vec<String>) {
    let Ok(doc) = parse(bytes) else { return };
    let written = doc.to_bytes();
    match parse(&written) {
        Ok(again) => {
            // Lines outside any component are not written back; only the tree counts.
            if again.components != doc.components {
                failures.push(format!(
                    "{file}: to_bytes() does not parse back to the same tree"
                ));
            }
            if again.content_hash() != doc.content_hash() {
                failures.push(format!("{file}: content hash changed by to_bytes()"));
            }
            let diffs = compare_documents(&doc, &again, &Tolerance::strict());
            if !diffs.is_empty() {
                failures.push(format!("{file}: to_bytes() changed meaning: {}", diffs[0]));
            }
        }
        Err(e) => failures.push(format!("{file}: to_bytes() output does not parse: {e}")),
    }
}

#[test]
fn valid_calendars() {
    let Some(corpus) = corpus_dir() else { return };
    let paths = files(&corpus.join("ics"), &["ics"]);
    assert!(!paths.is_empty(), "no .ics files in {}", corpus.display());
    let mut failures = Vec::new();
    let (mut splits, mut skipped, mut rebuilt, mut no_uid) = (0, 0, 0, 0);
    for path in &paths {
        let file = name(&corpus, path);
        let bytes = std::fs::read(path).unwrap();
        let original = match parse(&bytes) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(format!("{file}: parse failed: {e}"));
                continue;
            }
        };
        if verbose() && (original.lossy || !original.warnings.is_empty()) {
            eprintln!(
                "note {file}: lossy={} warnings={:?}",
                original.lossy, original.warnings
            );
        }
        let outcome = match split_by_uid(&bytes) {
            Ok(outcome) => outcome,
            Err(e) => {
                failures.push(format!("{file}: split failed: {e}"));
                continue;
            }
        };
        skipped += outcome.skipped.len();
        if verbose() && !outcome.skipped.is_empty() {
            eprintln!("note {file}: skipped {:?}", outcome.skipped);
        }
        if outcome.items.is_empty() {
            no_uid += 1;
        }
        for split in &outcome.items {
            splits += 1;
            if split.bytes != bytes {
                rebuilt += 1;
            }
            let tag = format!("{file} [uid {}]", split.uid);
            let doc = match parse(&split.bytes) {
                Ok(doc) => doc,
                Err(e) => {
                    failures.push(format!("{tag}: split does not parse: {e}"));
                    continue;
                }
            };
            match inspect(&split.bytes) {
                Ok(meta) if meta.uid == split.uid && meta.uid_count == 1 => {}
                Ok(meta) => failures.push(format!(
                    "{tag}: inspect gave uid {:?} ({} uids)",
                    meta.uid, meta.uid_count
                )),
                Err(e) => failures.push(format!("{tag}: inspect failed: {e}")),
            }
            let diffs = compare_documents(
                &original_part(&original, &split.uid),
                &doc,
                &Tolerance::default(),
            );
            if !diffs.is_empty() {
                failures.push(format!("{tag}: split changed meaning: {}", diffs[0]));
            }
            // Every zone the item uses and the file defines must travel with it.
            let defined_in_file = tzids_defined(&original);
            let defined_in_split = tzids_defined(&doc);
            for tzid in tzids_used(&doc) {
                let want = defined_in_file.iter().any(|d| d.trim() == tzid.trim());
                let have = defined_in_split.iter().any(|d| d.trim() == tzid.trim());
                if want && !have {
                    failures.push(format!("{tag}: VTIMEZONE {tzid} lost"));
                }
            }
            if doc.components.len() != 1 || doc.components[0].property("METHOD").is_some() {
                failures.push(format!("{tag}: split is not one VCALENDAR without METHOD"));
            }
            // The minimal edits keep meaning and hash.
            match set_schedule_agent_client(&split.bytes) {
                Ok(edited) => {
                    match compare(&split.bytes, &edited, &Tolerance::default()) {
                        Ok(d) if d.is_empty() => {}
                        Ok(d) => failures.push(format!("{tag}: SCHEDULE-AGENT edit: {}", d[0])),
                        Err(e) => failures.push(format!("{tag}: SCHEDULE-AGENT edit: {e}")),
                    }
                    if content_hash(&edited).ok() != Some(doc.content_hash()) {
                        failures.push(format!("{tag}: SCHEDULE-AGENT edit changed the hash"));
                    }
                }
                Err(e) => failures.push(format!("{tag}: set_schedule_agent_client: {e}")),
            }
            match set_origin(&split.bytes, "corpus:test") {
                Ok(edited) => match inspect(&edited) {
                    Ok(meta) if meta.origin.as_deref() == Some("corpus:test") => {
                        if meta.content_hash != doc.content_hash() {
                            failures.push(format!("{tag}: set_origin changed the hash"));
                        }
                    }
                    Ok(_) => failures.push(format!("{tag}: set_origin: origin not readable")),
                    Err(e) => failures.push(format!("{tag}: set_origin output: {e}")),
                },
                Err(e) => failures.push(format!("{tag}: set_origin: {e}")),
            }
            check_reserialize(&tag, &split.bytes, &mut failures);
        }
        check_reserialize(&file, &bytes, &mut failures);
    }
    eprintln!(
        "corpus ics: {} files, {splits} splits ({rebuilt} rebuilt or trimmed), \
         {skipped} components skipped, {no_uid} files without any UID, {} failures",
        paths.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_cards() {
    let Some(corpus) = corpus_dir() else { return };
    let paths = files(&corpus.join("vcf"), &["vcf"]);
    assert!(!paths.is_empty(), "no .vcf files in {}", corpus.display());
    let mut failures = Vec::new();
    let (mut cards, mut skipped) = (0, 0);
    for path in &paths {
        let file = name(&corpus, path);
        let bytes = std::fs::read(path).unwrap();
        let outcome = match split_vcards(&bytes) {
            Ok(outcome) => outcome,
            Err(e) => {
                failures.push(format!("{file}: split_vcards failed: {e}"));
                continue;
            }
        };
        skipped += outcome.skipped.len();
        if verbose() && !outcome.skipped.is_empty() {
            eprintln!("note {file}: skipped {:?}", outcome.skipped);
        }
        let original = parse(&bytes).unwrap();
        for split in &outcome.items {
            cards += 1;
            let tag = format!("{file} [uid {}]", split.uid);
            match inspect(&split.bytes) {
                Ok(meta) if meta.uid == split.uid => {}
                Ok(meta) => failures.push(format!("{tag}: inspect gave uid {:?}", meta.uid)),
                Err(e) => failures.push(format!("{tag}: inspect failed: {e}")),
            }
            let card = original
                .components
                .iter()
                .find(|c| c.uid() == Some(split.uid.as_str()))
                .unwrap();
            let expected = Document {
                components: vec![card.clone()],
                ..Document::default()
            };
            match parse(&split.bytes) {
                Ok(actual) => {
                    let diffs = compare_documents(&expected, &actual, &Tolerance::strict());
                    if !diffs.is_empty() {
                        failures.push(format!("{tag}: split changed meaning: {}", diffs[0]));
                    }
                }
                Err(e) => failures.push(format!("{tag}: split does not parse: {e}")),
            }
            check_reserialize(&tag, &split.bytes, &mut failures);
        }
        check_reserialize(&file, &bytes, &mut failures);
    }
    eprintln!(
        "corpus vcf: {} files, {cards} cards, {skipped} cards skipped, {} failures",
        paths.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn malformed_inputs_never_panic() {
    let Some(corpus) = corpus_dir() else { return };
    let paths = files(&corpus.join("malformed"), &["ics", "vcf"]);
    assert!(
        !paths.is_empty(),
        "no malformed files in {}",
        corpus.display()
    );
    let mut panics = Vec::new();
    let (mut parsed, mut rejected) = (0, 0);
    for path in &paths {
        let file = name(&corpus, path);
        let bytes = std::fs::read(path).unwrap();
        let result = catch_unwind(AssertUnwindSafe(|| {
            let parse_result = parse(&bytes).map(|_| ());
            let _ = inspect(&bytes);
            let _ = split_by_uid(&bytes);
            let _ = content_hash(&bytes);
            let _ = set_schedule_agent_client(&bytes);
            let _ = set_origin(&bytes, "x");
            let _ = compare(&bytes, &bytes, &Tolerance::default());
            if let Ok(doc) = parse(&bytes) {
                let _ = parse(&doc.to_bytes());
            }
            parse_result
        }));
        match result {
            Ok(Ok(())) => {
                parsed += 1;
                if verbose() {
                    let meta = inspect(&bytes).map(|m| m.uid);
                    eprintln!("note {file}: parsed; inspect: {meta:?}");
                }
            }
            Ok(Err(e)) => {
                rejected += 1;
                let message = e.to_string();
                assert!(!message.is_empty());
                if verbose() {
                    eprintln!("note {file}: rejected: {message}");
                }
            }
            Err(_) => panics.push(file),
        }
    }
    eprintln!(
        "corpus malformed: {} files, {parsed} parsed leniently, {rejected} rejected with an \
         error, {} panics",
        paths.len(),
        panics.len()
    );
    assert!(panics.is_empty(), "panicked on: {panics:?}");
}
