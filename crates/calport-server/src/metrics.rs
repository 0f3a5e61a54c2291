//! Process counters for `/metrics` (Prometheus text format 0.0.4). Gauges that live in
//! the database (runs by state, queue depth) are read when scraped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters kept in memory by this process.
#[derive(Debug, Default)]
pub struct Metrics {
    auth_failures: AtomicU64,
    /// Items by outcome (`created`, `updated`, `deleted`, `unchanged`, `failed`,
    /// `conflicts`), summed over the runs this process executed.
    items: Mutex<BTreeMap<String, u64>>,
    /// HTTP requests to remote servers by status class (`2xx`, …, `transport_error`).
    remote: Mutex<BTreeMap<String, u64>>,
    /// Runs finished by this process, by final state.
    runs_finished: Mutex<BTreeMap<String, u64>>,
    webhook_deliveries: Mutex<BTreeMap<String, u64>>,
    webhooks_received: AtomicU64,
    /// Pushed changes applied by this process, by outcome.
    ingest_applied: Mutex<BTreeMap<String, u64>>,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str, by: u64) {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *map.entry(key.to_owned()).or_default() += by;
}

fn snapshot(map: &Mutex<BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

impl Metrics {
    /// A request with a missing or wrong API key.
    pub fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Items of a finished run, by outcome.
    pub fn items(&self, outcome: &str, count: u64) {
        if count > 0 {
            bump(&self.items, outcome, count);
        }
    }

    /// Remote requests of a finished run, by status class.
    pub fn remote_requests(&self, class: &str, count: u64) {
        if count > 0 {
            bump(&self.remote, class, count);
        }
    }

    /// A run finished in `state`.
    pub fn run_finished(&self, state: &str) {
        bump(&self.runs_finished, state, 1);
    }

    /// A webhook delivery attempt ended in `outcome`.
    pub fn delivery(&self, outcome: &str) {
        bump(&self.webhook_deliveries, outcome, 1);
    }

    /// An inbound webhook stored in the inbox.
    pub fn webhook_received(&self) {
        self.webhooks_received.fetch_add(1, Ordering::Relaxed);
    }

    /// An inbox entry applied with `outcome` (`create`, `update`, `skip`, `retry`, …).
    pub fn ingest_applied(&self, outcome: &str) {
        bump(&self.ingest_applied, outcome, 1);
    }

    /// The text exposition, with the database gauges passed in.
    pub fn render(
        &self,
        runs_by_state: &[(String, i64)],
        queued: i64,
        pending_deliveries: i64,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP calport_runs Runs in the database by state.");
        let _ = writeln!(out, "# TYPE calport_runs gauge");
        for state in [
            "queued",
            "running",
            "paused",
            "completed",
            "partial_failure",
            "failed",
            "cancelled",
        ] {
            let n = runs_by_state
                .iter()
                .find(|(s, _)| s == state)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "calport_runs{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP calport_queue_depth Runs waiting for a worker.");
        let _ = writeln!(out, "# TYPE calport_queue_depth gauge");
        let _ = writeln!(out, "calport_queue_depth {queued}");
        let _ = writeln!(
            out,
            "# HELP calport_webhook_deliveries_pending Outbound webhook deliveries waiting."
        );
        let _ = writeln!(out, "# TYPE calport_webhook_deliveries_pending gauge");
        let _ = writeln!(
            out,
            "calport_webhook_deliveries_pending {pending_deliveries}"
        );
        let counter =
            |out: &mut String, name: &str, help: &str, label: &str, map: BTreeMap<String, u64>| {
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} counter");
                for (key, value) in map {
                    let _ = writeln!(out, "{name}{{{label}=\"{key}\"}} {value}");
                }
            };
        counter(
            &mut out,
            "calport_items_total",
            "Items handled by runs of this process, by outcome.",
            "outcome",
            snapshot(&self.items),
        );
        counter(
            &mut out,
            "calport_remote_requests_total",
            "HTTP requests to CalDAV/CardDAV servers by this process, by status class.",
            "status",
            snapshot(&self.remote),
        );
        counter(
            &mut out,
            "calport_runs_finished_total",
            "Runs finished by this process, by final state.",
            "state",
            snapshot(&self.runs_finished),
        );
        counter(
            &mut out,
            "calport_webhook_deliveries_total",
            "Outbound webhook delivery attempts by outcome.",
            "outcome",
            snapshot(&self.webhook_deliveries),
        );
        counter(
            &mut out,
            "calport_ingest_applied_total",
            "Pushed changes (inbound webhooks) applied by this process, by outcome.",
            "outcome",
            snapshot(&self.ingest_applied),
        );
        let _ = writeln!(
            out,
            "# HELP calport_webhooks_received_total Inbound webhooks stored in the inbox."
        );
        let _ = writeln!(out, "# TYPE calport_webhooks_received_total counter");
        let _ = writeln!(
            out,
            "calport_webhooks_received_total {}",
            self.webhooks_received.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP calport_auth_failures_total Requests refused for a missing or wrong API key."
        );
        let _ = writeln!(out, "# TYPE calport_auth_failures_total counter");
        let _ = writeln!(
            out,
            "calport_auth_failures_total {}",
            self.auth_failures.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.items("created", 3);
        m.remote_requests("2xx", 10);
        m.run_finished("completed");
        let text = m.render(&[("queued".into(), 2)], 2, 0);
        assert!(text.contains("calport_runs{state=\"queued\"} 2"));
        assert!(text.contains("calport_runs{state=\"failed\"} 0"));
        assert!(text.contains("calport_items_total{outcome=\"created\"} 3"));
        assert!(text.contains("calport_remote_requests_total{status=\"2xx\"} 10"));
        assert!(text.contains("# TYPE calport_queue_depth gauge"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
