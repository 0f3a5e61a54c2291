//! The end-of-run summary: a table for people, JSON for scripts.

use std::fmt::Write as _;
use std::path::Path;

use calport_dav::RequestStats;
use calport_engine::MigrationReport;
use serde_json::{Value, json};

/// Requests sent to each side during the run.
pub struct Requests {
    /// To the source server.
    pub source: RequestStats,
    /// To the destination server.
    pub destination: RequestStats,
}

/// `PROPFIND 3, REPORT 2, PUT 10` style.
pub fn methods(stats: &RequestStats) -> String {
    let parts: Vec<String> = stats
        .by_method
        .iter()
        .map(|(method, count)| format!("{method} {count}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn stats_json(stats: &RequestStats) -> Value {
    json!({
        "total": stats.requests,
        "by_method": stats.by_method,
        "by_status_class": stats.by_status_class,
        "transport_errors": stats.transport_errors,
        "retries": stats.retries,
    })
}

/// The machine-readable summary.
///
/// # Errors
/// Serialization failure (not expected).
pub fn json(
    report: &MigrationReport,
    requests: &Requests,
    state: &Path,
) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(report)?;
    if let Value::Object(map) = &mut value {
        map.insert(
            "requests".into(),
            json!({
                "source": stats_json(&requests.source),
                "destination": stats_json(&requests.destination),
            }),
        );
        map.insert("state".into(), json!(state.display().to_string()));
        map.insert("ok".into(), json!(report.all_arrived()));
    }
    serde_json::to_string_pretty(&value)
}

/// The table for people, with the failed items and their reasons below it.
pub fn table(report: &MigrationReport) -> String {
    let mut out = String::new();
    let rows: Vec<[String; 10]> = report
        .collections
        .iter()
        .map(|c| {
            let target = c.destination.clone().unwrap_or_else(|| "-".into());
            [
                format!("{} ({})", c.source, c.kind),
                target,
                c.mapping.replace('_', " "),
                c.stats.created.to_string(),
                c.stats.updated.to_string(),
                c.stats.unchanged.to_string(),
                c.stats.skipped.to_string(),
                c.stats.failed.to_string(),
                c.stats.verified.to_string(),
                c.stats.corrupted.to_string(),
            ]
        })
        .collect();
    let header = [
        "collection",
        "destination",
        "action",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "failed",
        "verified",
        "corrupted",
    ];
    let t = &report.totals;
    let totals = [
        "total".to_owned(),
        String::new(),
        String::new(),
        t.created.to_string(),
        t.updated.to_string(),
        t.unchanged.to_string(),
        t.skipped.to_string(),
        t.failed.to_string(),
        t.verified.to_string(),
        t.corrupted.to_string(),
    ];
    let mut widths = header.map(str::len);
    for row in rows.iter().chain(std::iter::once(&totals)) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            if i < 3 {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            }
            s.push_str("  ");
        }
        s.trim_end().to_owned() + "\n"
    };
    if report.dry_run {
        out.push_str("DRY RUN: nothing was written; counts show what a real run would do.\n");
    }
    out.push_str(&line(&header.map(str::to_owned)));
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str(&line(&totals));
    for c in report.collections.iter().filter(|c| c.note.is_some()) {
        let _ = writeln!(
            out,
            "note: {}: {}",
            c.source,
            c.note.as_deref().unwrap_or_default()
        );
    }
    let failed: Vec<_> = report
        .collections
        .iter()
        .flat_map(|c| &c.failures)
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "\n{} item(s) failed:", failed.len());
        for f in failed {
            let uid = f
                .uid
                .as_deref()
                .map(|u| format!(" (UID {u})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}{}: {}", f.source_href, uid, f.reason);
        }
    }
    let corrupted: Vec<_> = report
        .collections
        .iter()
        .flat_map(|c| &c.corrupted)
        .collect();
    if !corrupted.is_empty() {
        let _ = writeln!(
            out,
            "\n{} item(s) were accepted by the destination but stored WRONGLY (read back and compared); \
             they are retried on the next run:",
            corrupted.len()
        );
        for c in corrupted {
            let _ = writeln!(
                out,
                "  {} (UID {}) → {}",
                c.source_href, c.uid, c.destination_href
            );
            for d in c.differences.iter().take(5) {
                let _ = writeln!(out, "      {d}");
            }
        }
    }
    let workarounds: Vec<_> = report
        .collections
        .iter()
        .flat_map(|c| &c.workarounds)
        .collect();
    if !workarounds.is_empty() {
        let _ = writeln!(
            out,
            "\n{} item(s) were adapted for the destination server:",
            workarounds.len()
        );
        for w in workarounds {
            let _ = writeln!(
                out,
                "  {} (UID {}): {}",
                w.destination_href, w.uid, w.change
            );
        }
    }
    if let Some(server) = &report.destination_server {
        for quirk in &server.quirks {
            let _ = writeln!(out, "note: destination ({}): {quirk}", server.product);
        }
    }
    if report.cancelled {
        out.push_str("\nstopped before the end; run the same command again to resume.\n");
    }
    let _ = writeln!(out, "\nfinished in {:.1} s", report.seconds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use calport_engine::{CorruptedItem, PairReport, PairStats};

    #[test]
    fn the_table_shows_every_count_and_lists_corrupted_items() {
        let stats = PairStats {
            created: 3,
            verified: 2,
            corrupted: 1,
            ..PairStats::default()
        };
        let report = MigrationReport {
            dry_run: false,
            cancelled: false,
            collections: vec![PairReport {
                source: "Work".into(),
                source_href: "/a/work/".into(),
                destination: Some("Work".into()),
                destination_href: Some("/b/work/".into()),
                kind: "calendar".into(),
                mapping: "created".into(),
                note: None,
                stats,
                failures: Vec::new(),
                corrupted: vec![CorruptedItem {
                    uid: "u1".into(),
                    source_href: "/a/work/u1.ics".into(),
                    destination_href: "/b/work/u1.ics".into(),
                    differences: vec!["DESCRIPTION changed".into()],
                }],
                workarounds: Vec::new(),
                complete: true,
            }],
            totals: stats,
            seconds: 1.0,
            source_server: None,
            destination_server: None,
        };
        let text = table(&report);
        let header = text.lines().next().unwrap();
        assert!(header.ends_with("failed  verified  corrupted"), "{header}");
        let work = text.lines().nth(1).unwrap();
        assert!(
            work.trim_end()
                .ends_with("3        0          0        0       0         2          1"),
            "{work}"
        );
        assert!(
            text.contains("stored WRONGLY") && text.contains("DESCRIPTION changed"),
            "{text}"
        );
    }
}
