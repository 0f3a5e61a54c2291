//! Judging a read-back: does what the destination stored mean what was sent?

use calport_core::{Etag, FetchedItem};

/// The outcome of comparing a stored copy with the original.
pub(super) enum Verdict {
    /// Same meaning; the etag of the stored copy.
    Verified {
        /// The stored copy's etag.
        etag: Etag,
    },
    /// Different meaning (lost or garbled text, `(null)` bodies, changed times, …).
    Corrupted {
        /// The stored copy's etag, when known.
        etag: Option<Etag>,
        /// What differs, one line each.
        differences: Vec<String>,
    },
}

/// At most this many differences are kept per item (the rest are counted).
const MAX_DIFFERENCES: usize = 20;

/// Compares with the tolerance for rewrites servers are allowed to make (folding,
/// property order, `CLASS:PUBLIC` added, vCard 3↔4, `SCHEDULE-AGENT` params, …).
/// A copy byte-identical to what was `sent` needs no parsing (SabreDAV, DAViCal and
/// Xandikos mostly store verbatim).
pub(super) fn judge(original: &[u8], sent: &[u8], stored: &FetchedItem) -> Verdict {
    if same_bytes(sent, &stored.body) {
        return Verdict::Verified {
            etag: stored.etag.clone(),
        };
    }
    let tolerance = calport_ical::Tolerance::default();
    match calport_ical::compare(original, &stored.body, &tolerance) {
        Ok(differences) if differences.is_empty() => Verdict::Verified {
            etag: stored.etag.clone(),
        },
        Ok(differences) => {
            let total = differences.len();
            let mut lines: Vec<String> = differences
                .iter()
                .take(MAX_DIFFERENCES)
                .map(ToString::to_string)
                .collect();
            if total > MAX_DIFFERENCES {
                lines.push(format!(
                    "… and {} more differences",
                    total - MAX_DIFFERENCES
                ));
            }
            Verdict::Corrupted {
                etag: Some(stored.etag.clone()),
                differences: lines,
            }
        }
        Err(err) => Verdict::Corrupted {
            etag: Some(stored.etag.clone()),
            differences: vec![format!("the original cannot be compared: {err}")],
        },
    }
}

/// Equal up to line endings (multistatus XML turns CRLF into LF).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let strip = |s: &[u8]| {
        s.iter()
            .copied()
            .filter(|&c| c != b'\r')
            .collect::<Vec<u8>>()
    };
    a == b || strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calport_core::ItemRef;

    fn stored(body: &str) -> FetchedItem {
        FetchedItem {
            href: ItemRef::new("/c/x.ics"),
            etag: Etag::new("\"1\""),
            body: body.as_bytes().to_vec(),
        }
    }

    const SENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//a//b//EN\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:T\u{1ebf}t \u{1f9e7}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_server_rewrite_that_keeps_meaning_verifies() {
        let rewritten = SENT
            .replace("PRODID:-//a//b//EN", "PRODID:-//server//EN")
            .replace("SUMMARY", "CLASS:PUBLIC\r\nSUMMARY")
            .replace("\r\n", "\n");
        assert!(matches!(
            judge(SENT.as_bytes(), SENT.as_bytes(), &stored(&rewritten)),
            Verdict::Verified { .. }
        ));
    }

    #[test]
    fn a_verbatim_copy_verifies_without_parsing() {
        let lf = SENT.replace("\r\n", "\n");
        assert!(matches!(
            judge(b"unused", SENT.as_bytes(), &stored(&lf)),
            Verdict::Verified { .. }
        ));
    }

    #[test]
    fn null_bodies_and_mojibake_are_corrupted() {
        for bad in [
            "(null)".to_owned(),
            SENT.replace("T\u{1ebf}t", "T\u{e1}\u{ba}\u{bf}t"),
        ] {
            match judge(SENT.as_bytes(), SENT.as_bytes(), &stored(&bad)) {
                Verdict::Corrupted { differences, .. } => assert!(!differences.is_empty()),
                Verdict::Verified { .. } => panic!("{bad} verified"),
            }
        }
    }
}
