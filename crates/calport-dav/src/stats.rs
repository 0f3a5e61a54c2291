//! Counters of the HTTP requests a store sent, for run statistics and tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A snapshot of the requests one [`crate::DavStore`] sent so far.
///
/// Every HTTP exchange counts once: redirect hops, the extra round trip of a Digest
/// challenge and each retry included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// HTTP exchanges attempted (answered or failed in transport).
    pub requests: u64,
    /// Exchanges by method (`PROPFIND`, `REPORT`, `PUT`, …).
    pub by_method: BTreeMap<String, u64>,
    /// Answered exchanges by status class: `"2xx"`, `"3xx"`, `"4xx"`, `"5xx"`.
    pub by_status_class: BTreeMap<String, u64>,
    /// Exchanges that got no answer (refused, reset, timed out).
    pub transport_errors: u64,
    /// Repeated exchanges after 429/502/503/504 or a transport failure.
    pub retries: u64,
}

impl RequestStats {
    /// Exchanges sent with `method`.
    pub fn method(&self, method: &str) -> u64 {
        self.by_method.get(method).copied().unwrap_or(0)
    }

    /// Answers in a status class, given as its first digit (2 for `2xx`).
    pub fn status_class(&self, class: u16) -> u64 {
        self.by_status_class
            .get(&format!("{class}xx"))
            .copied()
            .unwrap_or(0)
    }

    /// The change since an earlier snapshot, to count the requests of one operation.
    pub fn since(&self, earlier: &RequestStats) -> RequestStats {
        fn diff(
            now: &BTreeMap<String, u64>,
            then: &BTreeMap<String, u64>,
        ) -> BTreeMap<String, u64> {
            now.iter()
                .map(|(k, v)| (k.clone(), v - then.get(k).copied().unwrap_or(0)))
                .filter(|(_, v)| *v > 0)
                .collect()
        }
        RequestStats {
            requests: self.requests - earlier.requests,
            by_method: diff(&self.by_method, &earlier.by_method),
            by_status_class: diff(&self.by_status_class, &earlier.by_status_class),
            transport_errors: self.transport_errors - earlier.transport_errors,
            retries: self.retries - earlier.retries,
        }
    }
}

/// The live counters behind [`RequestStats`].
#[derive(Debug, Default)]
pub(crate) struct StatsRecorder(Mutex<RequestStats>);

impl StatsRecorder {
    pub(crate) fn exchange(&self, method: &str, status: Option<u16>) {
        let mut stats = self.lock();
        stats.requests += 1;
        *stats.by_method.entry(method.to_owned()).or_default() += 1;
        match status {
            Some(code) => {
                *stats
                    .by_status_class
                    .entry(format!("{}xx", code / 100))
                    .or_default() += 1
            }
            None => stats.transport_errors += 1,
        }
    }

    pub(crate) fn retry(&self) {
        self.lock().retries += 1;
    }

    pub(crate) fn snapshot(&self) -> RequestStats {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RequestStats> {
        // Counters stay meaningful even if a panic poisoned the lock.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
