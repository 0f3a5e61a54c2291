//! Standard Webhooks signatures (PROTOCOLS.md 6.2; spec
//! `standard-webhooks/spec/standard-webhooks.md`).
//!
//! Every delivery carries three headers:
//! - `webhook-id`: the message id, unique per event and **stable across retries**
//!   (the receiver's idempotency key);
//! - `webhook-timestamp`: integer Unix seconds of *this attempt*;
//! - `webhook-signature`: a space-separated list of `v1,<base64>` entries, each the
//!   HMAC-SHA256 of `{id}.{timestamp}.{raw body}` under one secret (several entries
//!   while a secret is being rotated).
//!
//! Secrets are shown to users as `whsec_` + base64 of the raw key bytes.
//!
//! [`verify`] follows the receiving checklist of PROTOCOLS.md 6.1: timestamp window
//! first, then each `v1` entry is decoded, entries of the wrong length are rejected
//! *before* any comparison (an empty or truncated signature must never match), and the
//! comparison itself is constant-time (`hmac::Mac::verify_slice`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::encoding::random_bytes;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of the textual form of a [`WebhookSecret`].
pub const SECRET_PREFIX: &str = "whsec_";
/// Default replay window of [`verify`], in both directions (Standard Webhooks default).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Name of the message id header.
pub const HEADER_ID: &str = "webhook-id";
/// Name of the timestamp header.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the signature header.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Length of an HMAC-SHA256 signature in bytes.
const SIGNATURE_LEN: usize = 32;
/// Smallest secret the spec allows, in bytes.
const MIN_SECRET_LEN: usize = 24;
/// Largest secret the spec allows, in bytes.
const MAX_SECRET_LEN: usize = 64;
/// Longest message id we produce or accept.
const MAX_ID_LEN: usize = 256;

/// Why a webhook secret could not be parsed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum WebhookSecretError {
    /// The text after `whsec_` is not base64 (standard alphabet). The value is not
    /// repeated.
    #[error("webhook secret is not valid base64")]
    NotBase64,
    /// The secret decodes to a length outside 24..=64 bytes.
    #[error("webhook secret must be 24 to 64 bytes, got {0}")]
    BadLength(usize),
}

/// An HMAC key for Standard Webhooks signatures.
///
/// `Debug` is redacted and there is deliberately no `Display`, so a secret cannot end
/// up in a log through `{}`; call [`WebhookSecret::to_whsec`] where it must be shown.
/// The bytes are wiped on drop.
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Number of random bytes in a generated secret.
    pub const GENERATED_LEN: usize = 32;

    /// A new random secret of [`WebhookSecret::GENERATED_LEN`] bytes.
    pub fn generate() -> Self {
        Self(Zeroizing::new(
            random_bytes::<{ Self::GENERATED_LEN }>().to_vec(),
        ))
    }

    /// A secret from raw key bytes, for example after decrypting it from the database.
    ///
    /// # Errors
    /// [`WebhookSecretError::BadLength`] outside 24..=64 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WebhookSecretError> {
        if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&bytes.len()) {
            return Err(WebhookSecretError::BadLength(bytes.len()));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// Parses the textual form `whsec_<base64>`. The prefix is optional, as in the
    /// reference verifiers (some senders hand out the bare base64).
    ///
    /// # Errors
    /// [`WebhookSecretError::NotBase64`] or [`WebhookSecretError::BadLength`].
    pub fn parse(text: &str) -> Result<Self, WebhookSecretError> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| WebhookSecretError::NotBase64)?,
        );
        Self::from_bytes(&bytes)
    }

    /// The textual form `whsec_<base64, standard alphabet, padded>`, to show to the
    /// user once. Wiped on drop.
    pub fn to_whsec(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{SECRET_PREFIX}{}",
            STANDARD.encode(self.0.as_slice())
        ))
    }

    /// The raw key bytes, for encrypting the secret at rest.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }
}

impl FromStr for WebhookSecret {
    type Err = WebhookSecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Why a string is not a valid message id.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum MessageIdError {
    /// The id is empty.
    #[error("webhook message id is empty")]
    Empty,
    /// The id is longer than 256 bytes.
    #[error("webhook message id is longer than 256 bytes")]
    TooLong,
    /// The id contains `.` (ambiguous in `id.timestamp.body`), whitespace, a control
    /// or a non-ASCII character.
    #[error("webhook message id may only contain visible ASCII characters other than '.'")]
    BadCharacter,
}

/// A `webhook-id`: unique per event and reused for every retry of that event.
///
/// Restricted to visible ASCII without `.`: the signed content is
/// `id.timestamp.body`, and a `.` in the id would let two different (id, timestamp)
/// pairs sign the same bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// A new random id `msg_<22 base64url chars>` (128 random bits).
    pub fn generate() -> Self {
        Self(format!(
            "msg_{}",
            URL_SAFE_NO_PAD.encode(random_bytes::<16>())
        ))
    }

    /// Checks and wraps an id, for example one stored with a queued event.
    ///
    /// # Errors
    /// See [`MessageIdError`].
    pub fn parse(text: &str) -> Result<Self, MessageIdError> {
        if text.is_empty() {
            return Err(MessageIdError::Empty);
        }
        if text.len() > MAX_ID_LEN {
            return Err(MessageIdError::TooLong);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic() && b != b'.') {
            return Err(MessageIdError::BadCharacter);
        }
        Ok(Self(text.to_owned()))
    }

    /// The id as sent in the `webhook-id` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for MessageId {
    type Err = MessageIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Computes the `webhook-signature` header value `v1,<base64>` for one attempt.
///
/// `timestamp` is the Unix time in seconds sent as `webhook-timestamp`; `body` the
/// exact bytes sent.
pub fn sign(secret: &WebhookSecret, msg_id: &MessageId, timestamp: i64, body: &[u8]) -> String {
    let mac = signed_content_mac(secret, msg_id.as_str(), &timestamp.to_string(), body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn signed_content_mac(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    body: &[u8],
) -> HmacSha256 {
    let mut mac = secret.mac();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The three Standard Webhooks headers of a received request, as raw header values.
#[derive(Clone, Copy, Debug)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`.
    pub id: &'a str,
    /// `webhook-timestamp` (Unix seconds).
    pub timestamp: &'a str,
    /// `webhook-signature` (space-separated `version,signature` entries).
    pub signature: &'a str,
}

/// Why a received webhook was not accepted.
///
/// The variants exist for logs and tests; answer every one of them with the same 401
/// so a sender learns nothing about which check failed (PROTOCOLS.md 6.1 item 7).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The `webhook-id` header is empty or missing.
    #[error("missing webhook-id")]
    MissingId,
    /// The `webhook-timestamp` header is not an integer.
    #[error("webhook-timestamp is not an integer")]
    InvalidTimestamp,
    /// The timestamp is older than the tolerance allows (or a replay).
    #[error("webhook-timestamp is too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("webhook-timestamp is too far in the future")]
    TimestampInFuture,
    /// No `v1` entry in `webhook-signature`.
    #[error("no v1 signature in webhook-signature")]
    NoSignature,
    /// No `v1` entry matched.
    #[error("no signature matches")]
    SignatureMismatch,
}

/// Verifies a received webhook against `secret`.
///
/// `now` is the current Unix time in seconds; the timestamp may differ from it by at
/// most `tolerance` in either direction (use [`DEFAULT_TOLERANCE`]). The signed
/// content uses the header values exactly as received. Entries with another version
/// (such as `v1a` for ed25519) are ignored; the request is accepted when any `v1`
/// entry matches, which is what makes secret rotation work.
///
/// # Errors
/// See [`VerifyError`].
pub fn verify(
    secret: &WebhookSecret,
    headers: WebhookHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    if headers.id.is_empty() {
        return Err(VerifyError::MissingId);
    }
    let timestamp: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    if now.abs_diff(timestamp) > tolerance.as_secs() {
        return Err(if timestamp < now {
            VerifyError::TimestampTooOld
        } else {
            VerifyError::TimestampInFuture
        });
    }

    let expected = signed_content_mac(secret, headers.id, headers.timestamp, body);
    let mut saw_v1 = false;
    for entry in headers.signature.split_ascii_whitespace() {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            continue;
        };
        saw_v1 = true;
        let Ok(candidate) = STANDARD.decode(encoded) else {
            continue;
        };
        // Length first: a shorter candidate must never be compared as a prefix.
        if candidate.len() != SIGNATURE_LEN {
            continue;
        }
        if expected.clone().verify_slice(&candidate).is_ok() {
            return Ok(());
        }
    }
    Err(if saw_v1 {
        VerifyError::SignatureMismatch
    } else {
        VerifyError::NoSignature
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn secret() -> WebhookSecret {
        WebhookSecret::from_bytes(&[0x42; 32]).expect("valid length")
    }

    fn id() -> MessageId {
        MessageId::parse("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W").expect("valid id")
    }

    fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> WebhookHeaders<'a> {
        WebhookHeaders {
            id,
            timestamp,
            signature,
        }
    }

    const BODY: &[u8] =
        br#"{"type":"event.created","timestamp":"2026-01-01T00:00:00Z","data":{"id":1}}"#;

    #[test]
    fn known_vector() {
        // Computed independently: printf 'msg_1.1767225600.{}' |
        //   openssl dgst -sha256 -mac HMAC -macopt hexkey:4242...42 -binary | base64
        let signature = sign(
            &secret(),
            &MessageId::parse("msg_1").expect("id"),
            NOW,
            b"{}",
        );
        assert_eq!(signature, "v1,JaUT3gb9Sg9EjwnjtLo1Nmz+D4eWKUW242JyosZmFG8=");
    }

    #[test]
    fn sign_then_verify() {
        let ts = NOW.to_string();
        let signature = sign(&secret(), &id(), NOW, BODY);
        assert!(signature.starts_with("v1,"));
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), &ts, &signature),
                BODY,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
        // Within the window on both sides.
        for now in [NOW - 300, NOW + 300] {
            assert_eq!(
                verify(
                    &secret(),
                    headers(id().as_str(), &ts, &signature),
                    BODY,
                    now,
                    DEFAULT_TOLERANCE
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn tampering_fails() {
        let ts = NOW.to_string();
        let signature = sign(&secret(), &id(), NOW, BODY);
        let mut body = BODY.to_vec();
        body[10] ^= 1;
        let check = |id: &str, ts: &str, body: &[u8]| {
            verify(
                &secret(),
                headers(id, ts, &signature),
                body,
                NOW,
                DEFAULT_TOLERANCE,
            )
        };
        assert_eq!(
            check(id().as_str(), &ts, &body),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            check("msg_other", &ts, BODY),
            Err(VerifyError::SignatureMismatch)
        );
        let other_ts = (NOW + 1).to_string();
        assert_eq!(
            check(id().as_str(), &other_ts, BODY),
            Err(VerifyError::SignatureMismatch)
        );
        let other_secret = WebhookSecret::generate();
        assert_eq!(
            verify(
                &other_secret,
                headers(id().as_str(), &ts, &signature),
                BODY,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn empty_and_truncated_signatures_fail() {
        let ts = NOW.to_string();
        let signature = sign(&secret(), &id(), NOW, BODY);
        let encoded = &signature[3..];
        let full = STANDARD.decode(encoded).expect("base64");
        let truncated = format!("v1,{}", STANDARD.encode(&full[..16]));
        let one_byte = format!("v1,{}", STANDARD.encode(&full[..1]));
        let longer = format!("v1,{}", STANDARD.encode([&full[..], &[0u8]].concat()));
        for bad in [
            "v1,",
            "v1",
            "",
            "   ",
            truncated.as_str(),
            one_byte.as_str(),
            longer.as_str(),
            "v1,not base64!",
            "v1,====",
        ] {
            let result = verify(
                &secret(),
                headers(id().as_str(), &ts, bad),
                BODY,
                NOW,
                DEFAULT_TOLERANCE,
            );
            assert!(result.is_err(), "{bad:?} must not verify");
        }
    }

    #[test]
    fn other_versions_are_ignored() {
        let ts = NOW.to_string();
        let signature = sign(&secret(), &id(), NOW, BODY);
        let as_v1a = signature.replacen("v1,", "v1a,", 1);
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), &ts, &as_v1a),
                BODY,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::NoSignature)
        );
        let as_v2 = signature.replacen("v1,", "v2,", 1);
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), &ts, &as_v2),
                BODY,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::NoSignature)
        );
    }

    #[test]
    fn second_of_several_signatures_matches() {
        let ts = NOW.to_string();
        let old_secret = WebhookSecret::generate();
        let list = format!(
            "v1a,AAAA v1,{} {}",
            STANDARD.encode([0u8; 32]),
            sign(&secret(), &id(), NOW, BODY)
        );
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), &ts, &list),
                BODY,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
        // During rotation the sender signs with old and new secret: both verify.
        let rotating = format!(
            "{} {}",
            sign(&old_secret, &id(), NOW, BODY),
            sign(&secret(), &id(), NOW, BODY)
        );
        for key in [&old_secret, &secret()] {
            assert_eq!(
                verify(
                    key,
                    headers(id().as_str(), &ts, &rotating),
                    BODY,
                    NOW,
                    DEFAULT_TOLERANCE
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn timestamp_window() {
        let signature = sign(&secret(), &id(), NOW, BODY);
        let ts = NOW.to_string();
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), &ts, &signature),
                BODY,
                NOW + 301,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), &ts, &signature),
                BODY,
                NOW - 301,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::TimestampInFuture)
        );
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), "soon", &signature),
                BODY,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::InvalidTimestamp)
        );
        let extreme = i64::MIN.to_string();
        assert_eq!(
            verify(
                &secret(),
                headers(id().as_str(), &extreme, &signature),
                BODY,
                i64::MAX,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(
            verify(
                &secret(),
                headers("", &ts, &signature),
                BODY,
                NOW,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::MissingId)
        );
    }

    #[test]
    fn secret_text_round_trip() {
        let secret = WebhookSecret::generate();
        assert_eq!(secret.expose_bytes().len(), 32);
        let text = secret.to_whsec();
        assert!(text.starts_with("whsec_"));
        assert!(text.ends_with('='), "standard base64 of 32 bytes is padded");
        let parsed = WebhookSecret::parse(&text).expect("parses");
        assert_eq!(parsed.expose_bytes(), secret.expose_bytes());
        let bare = WebhookSecret::parse(&text["whsec_".len()..]).expect("bare base64");
        assert_eq!(bare.expose_bytes(), secret.expose_bytes());
        let via_from_str: WebhookSecret = text.parse().expect("FromStr");
        assert_eq!(via_from_str.expose_bytes(), secret.expose_bytes());
    }

    #[test]
    fn secret_parse_errors() {
        assert_eq!(
            WebhookSecret::parse("whsec_***").err(),
            Some(WebhookSecretError::NotBase64)
        );
        let short = format!("whsec_{}", STANDARD.encode([1u8; 16]));
        assert_eq!(
            WebhookSecret::parse(&short).err(),
            Some(WebhookSecretError::BadLength(16))
        );
        assert_eq!(
            WebhookSecret::from_bytes(&[0u8; 65]).err(),
            Some(WebhookSecretError::BadLength(65))
        );
        assert!(WebhookSecret::from_bytes(&[0u8; 24]).is_ok());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let secret = WebhookSecret::generate();
        let shown = format!("{secret:?}");
        assert_eq!(shown, "WebhookSecret(<redacted>)");
        assert!(!shown.contains(&secret.to_whsec()["whsec_".len()..]));
    }

    #[test]
    fn message_ids() {
        let generated = MessageId::generate();
        assert!(generated.as_str().starts_with("msg_"));
        assert_eq!(MessageId::parse(generated.as_str()), Ok(generated.clone()));
        assert_ne!(MessageId::generate(), generated);
        assert_eq!(MessageId::parse(""), Err(MessageIdError::Empty));
        assert_eq!(MessageId::parse("a.b"), Err(MessageIdError::BadCharacter));
        assert_eq!(MessageId::parse("a b"), Err(MessageIdError::BadCharacter));
        assert_eq!(MessageId::parse("ä"), Err(MessageIdError::BadCharacter));
        assert_eq!(
            MessageId::parse(&"x".repeat(257)),
            Err(MessageIdError::TooLong)
        );
    }
}
