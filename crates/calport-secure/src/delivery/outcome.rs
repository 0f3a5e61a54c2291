//! What one delivery attempt achieved, and the pure rules that decide it.

use std::fmt;
use std::time::{Duration, SystemTime};

use super::target::TargetError;

/// Longest response body excerpt kept for the delivery log, in bytes.
pub const SNIPPET_LIMIT: usize = 1024;

/// The result of one delivery attempt, for the delivery log and the retry queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// What happened and what to do next.
    pub outcome: Outcome,
    /// The `webhook-timestamp` sent (Unix seconds).
    pub timestamp: i64,
    /// The response status, when a response arrived.
    pub status: Option<u16>,
    /// The start of the response body (at most [`SNIPPET_LIMIT`] bytes, cut at a
    /// character boundary, invalid UTF-8 replaced), when a response arrived.
    pub response_snippet: Option<String>,
    /// Time from sending the request to the end of the snippet.
    pub elapsed: Duration,
}

/// How a delivery attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer: done.
    Delivered {
        /// The status code.
        status: u16,
    },
    /// 410 Gone: the receiver asks us to stop; disable the endpoint.
    Gone,
    /// A temporary failure: try again along the retry schedule
    /// ([`super::next_retry_delay`]).
    RetryLater {
        /// The status or the transport failure.
        cause: RetryCause,
        /// What the receiver's `Retry-After` header asked for, if anything.
        retry_after: Option<Duration>,
    },
    /// Another 4xx: the receiver refuses this message; retrying will not help.
    Rejected {
        /// The status code.
        status: u16,
    },
    /// Nothing was sent because the target is not allowed (bad scheme, private
    /// address). Not retried; the endpoint's configuration must change.
    Refused {
        /// Why the target was refused.
        reason: TargetError,
    },
}

impl Outcome {
    /// Whether the message should be queued for another attempt.
    pub fn should_retry(&self) -> bool {
        matches!(self, Outcome::RetryLater { .. })
    }

    /// Whether the message reached the receiver.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Outcome::Delivered { .. })
    }
}

/// Why an attempt is worth repeating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryCause {
    /// The receiver answered with this status (429, 408, 5xx, or a 3xx we do not
    /// follow).
    Status(u16),
    /// No complete answer within the timeout.
    Timeout,
    /// Connecting or talking to the receiver failed (DNS, refused, reset, TLS).
    Transport(String),
}

impl fmt::Display for RetryCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryCause::Status(status) => write!(f, "HTTP {status}"),
            RetryCause::Timeout => f.write_str("timed out"),
            RetryCause::Transport(reason) => f.write_str(reason),
        }
    }
}

/// Classifies a response status (PROTOCOLS.md 6.2: success is 2xx only, redirects are
/// not followed).
///
/// - 2xx: [`Outcome::Delivered`];
/// - 410: [`Outcome::Gone`];
/// - 429, 5xx, 3xx and 408 (the receiver's own timeout): [`Outcome::RetryLater`] with
///   `retry_after`;
/// - any other 4xx: [`Outcome::Rejected`];
/// - anything else (1xx, non-standard codes): [`Outcome::RetryLater`].
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered { status },
        410 => Outcome::Gone,
        408 | 429 => Outcome::RetryLater {
            cause: RetryCause::Status(status),
            retry_after,
        },
        400..=499 => Outcome::Rejected { status },
        _ => Outcome::RetryLater {
            cause: RetryCause::Status(status),
            retry_after,
        },
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110 10.2.3).
/// A date in the past means "now"; anything unparseable is ignored (`None`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Turns the first bytes of a response body into log text of at most `limit` bytes,
/// never splitting a character.
pub(crate) fn body_snippet(bytes: &[u8], limit: usize) -> String {
    let bytes = cut_incomplete_tail(&bytes[..bytes.len().min(limit)]);
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    // Replacement characters (3 bytes each) can push lossy text over the limit.
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Drops a multi-byte UTF-8 sequence that the length limit cut in half.
fn cut_incomplete_tail(bytes: &[u8]) -> &[u8] {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let byte = bytes[len - back];
        if byte & 0xc0 == 0x80 {
            continue; // continuation byte: keep looking for the start
        }
        let needed = match byte {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        return if needed > back {
            &bytes[..len - back]
        } else {
            bytes
        };
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let ra = Some(Duration::from_secs(7));
        assert_eq!(classify_status(200, ra), Outcome::Delivered { status: 200 });
        assert_eq!(
            classify_status(204, None),
            Outcome::Delivered { status: 204 }
        );
        assert_eq!(classify_status(410, ra), Outcome::Gone);
        for status in [429, 500, 502, 503, 504, 408, 301, 302, 307, 308] {
            assert_eq!(
                classify_status(status, ra),
                Outcome::RetryLater {
                    cause: RetryCause::Status(status),
                    retry_after: ra
                },
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 405, 413, 422] {
            assert_eq!(classify_status(status, ra), Outcome::Rejected { status });
        }
        assert!(classify_status(500, None).should_retry());
        assert!(!classify_status(404, None).should_retry());
        assert!(classify_status(201, None).is_delivered());
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn snippet_is_bounded_and_utf8_safe() {
        assert_eq!(body_snippet(b"ok", SNIPPET_LIMIT), "ok");
        let long = "a".repeat(5000);
        assert_eq!(
            body_snippet(long.as_bytes(), SNIPPET_LIMIT).len(),
            SNIPPET_LIMIT
        );
        // "é" is two bytes: a limit falling inside it drops the half character.
        let text = format!("{}é", "a".repeat(1023));
        let snippet = body_snippet(text.as_bytes(), SNIPPET_LIMIT);
        assert_eq!(snippet, "a".repeat(1023));
        // Four-byte characters cut at every position.
        let emoji = "😀".repeat(300);
        for limit in 1..16 {
            let snippet = body_snippet(emoji.as_bytes(), limit);
            assert!(snippet.len() <= limit);
            assert!(snippet.chars().all(|c| c == '😀'));
            assert_eq!(snippet.len(), limit / 4 * 4);
        }
        // Invalid bytes are replaced, and the result still respects the limit.
        let garbage = vec![0xffu8; 2000];
        let snippet = body_snippet(&garbage, SNIPPET_LIMIT);
        assert!(snippet.len() <= SNIPPET_LIMIT);
        assert!(snippet.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
    }
}
