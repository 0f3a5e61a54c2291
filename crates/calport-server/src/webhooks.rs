//! Outbound webhooks: after each run, a signed JSON summary (Standard Webhooks) is queued
//! for every matching webhook and delivered with retries; every attempt is logged.

use std::time::Duration;

use calport_secure::delivery::{Deliverer, DelivererConfig, Jitter, Outcome, next_retry_delay};
use calport_secure::webhooks::{MessageId, WebhookSecret};
use calport_state::{RunRow, StateError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{App, WEBHOOK_SECRET_CONTEXT};
use crate::progress::RunStats;
use crate::worker::now_ms;

/// A changed item in a run summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedItem {
    /// The item's UID.
    pub uid: String,
    /// SUMMARY / FN.
    pub summary: Option<String>,
    /// What was done (`create on B`, …).
    pub action: String,
    /// The collection pair.
    pub collection: String,
}

/// The `data` of a `run.finished` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunSummary {
    /// The job's id.
    pub job_id: i64,
    /// The job's name.
    pub job: String,
    /// The run's id.
    pub run_id: i64,
    /// `sync` or `migrate`.
    pub kind: String,
    /// `both`, `a-to-b`, `b-to-a`.
    pub direction: String,
    /// `success`, `partial_failure` or `failed`.
    pub status: String,
    /// The run's final state.
    pub state: String,
    /// Counts by kind.
    pub stats: RunStats,
    /// Started (RFC 3339).
    pub started_at: Option<String>,
    /// Finished (RFC 3339).
    pub finished_at: Option<String>,
    /// Changed items, at most `webhooks.max_changed_items`.
    pub changed_items: Vec<ChangedItem>,
    /// Whether the list was cut.
    pub changed_items_truncated: bool,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

/// The body of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    /// `run.finished`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the run finished (RFC 3339).
    pub timestamp: String,
    /// The summary.
    pub data: RunSummary,
}

/// RFC 3339 UTC of unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn changed_items(run: &RunRow, limit: usize) -> (Vec<ChangedItem>, bool) {
    let Some(report) = run
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
    else {
        return (Vec::new(), false);
    };
    let mut items = Vec::new();
    let mut total = 0;
    for pair in report["pairs"].as_array().into_iter().flatten() {
        let collection = format!(
            "{} ↔ {}",
            pair["a"].as_str().unwrap_or_default(),
            pair["b"].as_str().unwrap_or_default()
        );
        for change in pair["changes"].as_array().into_iter().flatten() {
            total += 1;
            if items.len() < limit {
                items.push(ChangedItem {
                    uid: change["uid"].as_str().unwrap_or_default().to_owned(),
                    summary: change["summary"].as_str().map(str::to_owned),
                    action: change["action"].as_str().unwrap_or_default().to_owned(),
                    collection: collection.clone(),
                });
            }
        }
    }
    (items, total > limit)
}

/// Queues a delivery of the run's summary to every enabled webhook that covers its job.
///
/// # Errors
/// Database failures.
pub async fn enqueue_for_run(app: &App, run_id: i64) -> Result<usize, StateError> {
    let Some(run) = app.db.run(run_id).await? else {
        return Ok(0);
    };
    let Some(job) = app.db.job(run.job_id).await? else {
        return Ok(0);
    };
    let hooks: Vec<_> = app
        .db
        .webhooks()
        .await?
        .into_iter()
        .filter(|h| h.enabled != 0 && h.job_id.is_none_or(|j| j == job.id))
        .collect();
    if hooks.is_empty() {
        return Ok(0);
    }
    let spec: serde_json::Value = serde_json::from_str(&job.spec).unwrap_or_default();
    let (changed, truncated) = changed_items(&run, app.config.webhooks.max_changed_items);
    let stats: RunStats = run
        .stats
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let status = match run.state.as_str() {
        "completed" => "success",
        "partial_failure" | "cancelled" => "partial_failure",
        _ => "failed",
    };
    let event = Event {
        kind: "run.finished".to_owned(),
        timestamp: rfc3339(run.finished_at.unwrap_or_else(now_ms)),
        data: RunSummary {
            job_id: job.id,
            job: job.name.clone(),
            run_id: run.id,
            kind: job.kind.clone(),
            direction: spec["options"]["direction"]
                .as_str()
                .unwrap_or("both")
                .to_owned(),
            status: status.to_owned(),
            state: run.state.clone(),
            stats,
            started_at: run.started_at.map(rfc3339),
            finished_at: run.finished_at.map(rfc3339),
            changed_items: changed,
            changed_items_truncated: truncated,
            error: run.error.clone(),
        },
    };
    let payload = serde_json::to_string(&event).unwrap_or_default();
    for hook in &hooks {
        // Stable across retries: the receiver's idempotency key.
        let msg_id = format!("msg_run{}_hook{}", run.id, hook.id);
        app.db
            .enqueue_delivery(hook.id, Some(run.id), &msg_id, &payload)
            .await?;
    }
    Ok(hooks.len())
}

/// Sends every delivery that is due (bounded per call) and records each attempt.
pub async fn dispatch_due(app: &App) {
    let deliveries = match app.db.take_due_deliveries(20, 60_000).await {
        Ok(d) => d,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read due webhook deliveries");
            return;
        }
    };
    if deliveries.is_empty() {
        return;
    }
    let deliverer = match Deliverer::with_config(DelivererConfig {
        timeout: Duration::from_secs(app.config.webhooks.timeout_seconds),
        allow_private: app.config.webhooks.allow_private_targets,
        ..DelivererConfig::default()
    }) {
        Ok(d) => d,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the webhook client");
            return;
        }
    };
    for delivery in deliveries {
        let hook = match app.db.webhook(delivery.webhook_id).await {
            Ok(Some(hook)) => hook,
            _ => continue,
        };
        let secret = app
            .key
            .decrypt(&hook.secret, WEBHOOK_SECRET_CONTEXT)
            .ok()
            .and_then(|bytes| WebhookSecret::from_bytes(&bytes).ok());
        let (Some(secret), Ok(msg_id)) = (secret, MessageId::parse(&delivery.msg_id)) else {
            let _ = app
                .db
                .record_delivery(
                    delivery.id,
                    "failed",
                    None,
                    Some("the webhook's secret cannot be read"),
                    None,
                )
                .await;
            continue;
        };
        let attempt = deliverer
            .deliver(&hook.url, &secret, &msg_id, delivery.payload.as_bytes())
            .await;
        let status = attempt.status.map(i64::from);
        let snippet = attempt.response_snippet.clone();
        let result = match &attempt.outcome {
            Outcome::Delivered { .. } => {
                app.metrics.delivery("delivered");
                app.db
                    .record_delivery(delivery.id, "delivered", status, snippet.as_deref(), None)
                    .await
            }
            Outcome::RetryLater { retry_after, cause } => {
                app.metrics.delivery("retry");
                let made = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
                let error = format!("{cause:?}");
                match next_retry_delay(made, *retry_after, Jitter::random()) {
                    Some(delay) => {
                        app.db
                            .record_delivery(
                                delivery.id,
                                "pending",
                                status,
                                Some(&error),
                                Some(now_ms() + delay.as_millis() as i64),
                            )
                            .await
                    }
                    None => {
                        app.db
                            .record_delivery(delivery.id, "failed", status, Some(&error), None)
                            .await
                    }
                }
            }
            Outcome::Gone => {
                app.metrics.delivery("gone");
                let _ = app.db.disable_webhook(hook.id).await;
                app.db
                    .record_delivery(
                        delivery.id,
                        "failed",
                        status,
                        Some("410 Gone: the webhook was disabled"),
                        None,
                    )
                    .await
            }
            Outcome::Rejected { .. } => {
                app.metrics.delivery("rejected");
                app.db
                    .record_delivery(delivery.id, "failed", status, snippet.as_deref(), None)
                    .await
            }
            Outcome::Refused { reason } => {
                app.metrics.delivery("refused");
                app.db
                    .record_delivery(
                        delivery.id,
                        "failed",
                        None,
                        Some(&format!("target refused: {reason:?}")),
                        None,
                    )
                    .await
            }
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "cannot record a webhook delivery");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40Z");
    }
}
