//! Outbound webhook delivery: one signed POST per [`Attempt`].
//!
//! The [`Deliverer`] only performs and classifies attempts; the queue that stores
//! messages, counts attempts and asks [`next_retry_delay`] when to try again lives in
//! the server. The rules (PROTOCOLS.md 6.2):
//!
//! - `POST` with `content-type: application/json` and the Standard Webhooks headers;
//!   the signature covers the exact body bytes, which the caller serialises;
//! - the `webhook-id` stays the same for every attempt of a message, the
//!   `webhook-timestamp` is the time of the attempt;
//! - success is 2xx only; redirects are never followed (a redirect could point the
//!   signed request at an internal address and is treated as a temporary failure);
//! - 410 disables the endpoint, 429/5xx/timeouts/connection errors are retried
//!   honouring `Retry-After`, other 4xx are final;
//! - targets are checked against SSRF at connect time: IP literals by [`check_url`],
//!   host names by a DNS resolver installed in the HTTP client that only hands out
//!   addresses passing [`is_public_address`] (checking the addresses actually
//!   connected to closes the DNS-rebinding gap of "resolve, check, then send").
//!   Non-public targets are allowed only with [`DelivererConfig::allow_private`].

mod outcome;
mod retry;
mod target;

use std::error::Error as StdError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::redirect;
use thiserror::Error;

use crate::webhooks::{self, MessageId, WebhookSecret};

pub use outcome::{
    Attempt, Outcome, RetryCause, SNIPPET_LIMIT, classify_status, parse_retry_after,
};
pub use retry::{
    JITTER_FRACTION, Jitter, MAX_ATTEMPTS, MAX_RETRY_AFTER, RETRY_SCHEDULE, next_retry_delay,
};
pub use target::{TargetError, check_url, is_public_address};

use outcome::body_snippet;
use target::{PublicOnlyResolver, ResolvedToPrivate};

/// Default request timeout (PROTOCOLS.md 6.2 suggests 15–30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings of a [`Deliverer`].
#[derive(Clone, Debug)]
pub struct DelivererConfig {
    /// Limit for the whole attempt: connect, send, and read the response snippet.
    pub timeout: Duration,
    /// Allow loopback, private and other non-public targets. Off by default; the
    /// server sets it from its configuration for receivers on the same host or LAN.
    pub allow_private: bool,
    /// The `user-agent` header.
    pub user_agent: String,
}

impl Default for DelivererConfig {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            allow_private: false,
            user_agent: concat!("calport-webhooks/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, Error)]
#[error("cannot build the webhook HTTP client")]
pub struct DelivererBuildError(#[source] reqwest::Error);

/// Sends signed webhook requests. Cheap to clone (the connection pool is shared).
#[derive(Clone, Debug)]
pub struct Deliverer {
    client: reqwest::Client,
    allow_private: bool,
}

impl Deliverer {
    /// A deliverer with the given timeout that refuses non-public targets.
    ///
    /// # Errors
    /// [`DelivererBuildError`] when the TLS backend cannot be initialised.
    pub fn new(timeout: Duration) -> Result<Self, DelivererBuildError> {
        Self::with_config(DelivererConfig {
            timeout,
            ..DelivererConfig::default()
        })
    }

    /// A deliverer with explicit settings.
    ///
    /// # Errors
    /// [`DelivererBuildError`] when the TLS backend cannot be initialised.
    pub fn with_config(config: DelivererConfig) -> Result<Self, DelivererBuildError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(redirect::Policy::none())
            // A proxy would resolve the target itself, bypassing the address check.
            .no_proxy()
            .user_agent(config.user_agent);
        if !config.allow_private {
            builder = builder.dns_resolver(PublicOnlyResolver);
        }
        let client = builder.build().map_err(DelivererBuildError)?;
        Ok(Self {
            client,
            allow_private: config.allow_private,
        })
    }

    /// Whether this deliverer sends to non-public addresses.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// POSTs `body` (already serialised JSON) to `url`, signed with `secret`, with
    /// `webhook-timestamp` set to the current time, and classifies the answer.
    ///
    /// Never fails: every problem is an [`Outcome`]. At most [`SNIPPET_LIMIT`] bytes
    /// of the response body are read.
    pub async fn deliver(
        &self,
        url: &str,
        secret: &WebhookSecret,
        msg_id: &MessageId,
        body: &[u8],
    ) -> Attempt {
        self.deliver_at(url, secret, msg_id, body, unix_now()).await
    }

    /// [`Deliverer::deliver`] with an explicit `webhook-timestamp`.
    pub async fn deliver_at(
        &self,
        url: &str,
        secret: &WebhookSecret,
        msg_id: &MessageId,
        body: &[u8],
        timestamp: i64,
    ) -> Attempt {
        let started = Instant::now();
        let finish = |outcome, status, response_snippet| Attempt {
            outcome,
            timestamp,
            status,
            response_snippet,
            elapsed: started.elapsed(),
        };
        let url = match check_url(url, self.allow_private) {
            Ok(url) => url,
            Err(reason) => return finish(Outcome::Refused { reason }, None, None),
        };
        let signature = webhooks::sign(secret, msg_id, timestamp, body);
        let sent = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(webhooks::HEADER_ID, msg_id.as_str())
            .header(webhooks::HEADER_TIMESTAMP, timestamp.to_string())
            .header(webhooks::HEADER_SIGNATURE, signature)
            .body(body.to_vec())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return finish(classify_error(error), None, None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));

        let mut collected = Vec::with_capacity(SNIPPET_LIMIT);
        while collected.len() < SNIPPET_LIMIT {
            // A body that breaks off (or times out) after the status line still
            // counts as answered: the status decides the outcome.
            let Ok(Some(chunk)) = response.chunk().await else {
                break;
            };
            let take = chunk.len().min(SNIPPET_LIMIT - collected.len());
            collected.extend_from_slice(&chunk[..take]);
        }
        finish(
            classify_status(status, retry_after),
            Some(status),
            Some(body_snippet(&collected, SNIPPET_LIMIT)),
        )
    }
}

/// Classifies a request that produced no response.
fn classify_error(error: reqwest::Error) -> Outcome {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(current) = source {
        if let Some(private) = current.downcast_ref::<ResolvedToPrivate>() {
            return Outcome::Refused {
                reason: TargetError::PrivateAddress(private.0),
            };
        }
        source = current.source();
    }
    let cause = if error.is_timeout() {
        RetryCause::Timeout
    } else {
        RetryCause::Transport(describe(&error.without_url()))
    };
    Outcome::RetryLater {
        cause,
        retry_after: None,
    }
}

/// The error and its sources as one line, for example
/// `error sending request: client error (Connect): tcp connect error: Connection refused`.
fn describe(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        let part = current.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = current.source();
    }
    text
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}
