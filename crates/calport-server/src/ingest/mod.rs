//! Pushed changes: Microsoft 365 / Power Automate event webhooks written into CalDAV.
//!
//! - [`receive`]: the webhook routes. A body is authenticated with its source's own key,
//!   validated (shape, fields, time zones), stored in the inbox and answered `202` with a
//!   request id — before anything is written to CalDAV.
//! - [`apply`]: the worker task that applies inbox entries to the source's target
//!   calendar, with retries and backoff, dead letters after too many failures, and an
//!   audit line for every decision.
//! - [`decide`]: the pure decisions (out of order, duplicate, which source's version of
//!   a shared meeting is shown).
//!
//! Each source event maps to one CalDAV item whose UID is derived from (source id, event
//! id), so a repeated, retried or replayed webhook updates that item instead of creating
//! another.

pub mod apply;
pub mod decide;
pub mod receive;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use calport_state::SourceRow;
use sha2::{Digest, Sha256};

/// How long a source looked up by key is trusted without asking the database again
/// (changes made through this process's API take effect at once).
const KEY_CACHE_TTL: Duration = Duration::from_secs(10);

/// The prefix of source keys (`cps_…`), apart from admin keys (`cpk_…`).
pub const SOURCE_KEY_PREFIX: &str = "cps";

/// What the webhook routes and the applier of one process share.
#[derive(Debug, Default)]
pub struct Shared {
    /// Woken when an entry is stored, so the applier starts at once.
    pub wake: tokio::sync::Notify,
    keys: Mutex<HashMap<String, (Instant, Vec<SourceRow>)>>,
}

impl Shared {
    /// The cached sources of a key lookup id, while fresh.
    pub fn cached(&self, lookup: &str) -> Option<Vec<SourceRow>> {
        let keys = self.keys.lock().ok()?;
        keys.get(lookup)
            .filter(|(at, _)| at.elapsed() < KEY_CACHE_TTL)
            .map(|(_, rows)| rows.clone())
    }

    /// Remembers the sources of a key lookup id.
    pub fn remember(&self, lookup: &str, rows: Vec<SourceRow>) {
        if let Ok(mut keys) = self.keys.lock() {
            if keys.len() > 10_000 {
                keys.clear();
            }
            keys.insert(lookup.to_owned(), (Instant::now(), rows));
        }
    }

    /// Forgets every cached key (a source changed).
    pub fn forget_keys(&self) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.clear();
        }
    }
}

/// The CalDAV UID of a source event: the same (source, event) always gives the same
/// UID, and different ones differ (SHA-256, 128 bits kept).
pub fn caldav_uid(source_id: &str, event_id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(source_id.as_bytes());
    hash.update([0]);
    hash.update(event_id.as_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("calport-m365-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_stable_and_distinct() {
        assert_eq!(caldav_uid("a", "e1"), caldav_uid("a", "e1"));
        assert_ne!(caldav_uid("a", "e1"), caldav_uid("b", "e1"));
        assert_ne!(caldav_uid("a", "e1"), caldav_uid("a", "e2"));
        // The separator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(caldav_uid("ab", "c"), caldav_uid("a", "bc"));
        assert!(caldav_uid("a", "e1").starts_with("calport-m365-"));
        assert_eq!(caldav_uid("a", "e1").len(), "calport-m365-".len() + 32);
    }
}
