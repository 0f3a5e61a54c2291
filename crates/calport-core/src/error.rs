//! The error every [`crate::Store`] returns, classified so the engine knows whether to
//! retry, skip one item, or stop.

use thiserror::Error;

/// How the engine should treat a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The whole store is unusable (bad credentials, unreachable, not a DAV server):
    /// stop before writing anything.
    Fatal,
    /// Only this item failed (server rejected it, precondition failed): report it and
    /// go on with the rest.
    Item,
    /// Temporary trouble that survived the retries (5xx, resets): park the item and
    /// retry on the next run.
    Transient,
}

/// A failed store operation.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The server refused the credentials (HTTP 401/403 on discovery).
    #[error(
        "authentication failed at {url}: the server answered {status}; check the username and password"
    )]
    Unauthorized {
        /// The URL that refused.
        url: String,
        /// The status code.
        status: u16,
    },
    /// No TCP/TLS connection could be made, or the request timed out.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// The URL answers HTTP, but not as a CalDAV/CardDAV server.
    #[error("{url} is not a CalDAV/CardDAV server: {reason}")]
    NotDav {
        /// The URL tried.
        url: String,
        /// Why we think so.
        reason: String,
    },
    /// An `If-Match` / `If-None-Match` precondition failed (HTTP 412): the item changed or
    /// already exists.
    #[error("precondition failed at {href}")]
    PreconditionFailed {
        /// The resource.
        href: String,
    },
    /// The resource does not exist (HTTP 404/410).
    #[error("not found: {href}")]
    NotFound {
        /// The resource.
        href: String,
    },
    /// The server refused this item or request (4xx other than the above).
    #[error("{method} {href} refused with {status}: {reason}")]
    Rejected {
        /// The HTTP method.
        method: String,
        /// The resource.
        href: String,
        /// The status code.
        status: u16,
        /// The server's reason (error body, shortened), or a description.
        reason: String,
    },
    /// The server kept failing (5xx, resets, timeouts) after all retries.
    #[error("{method} {href} failed after retries: {reason}")]
    Server {
        /// The HTTP method.
        method: String,
        /// The resource.
        href: String,
        /// Last status or transport error.
        reason: String,
    },
    /// The server's answer could not be understood (bad XML, missing elements).
    #[error("unexpected answer from {url}: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The store cannot do this at all (read-only store, no collection creation).
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl StoreError {
    /// How the engine should react to this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Unauthorized { .. }
            | StoreError::Unreachable { .. }
            | StoreError::NotDav { .. } => ErrorClass::Fatal,
            StoreError::Server { .. } => ErrorClass::Transient,
            StoreError::PreconditionFailed { .. }
            | StoreError::NotFound { .. }
            | StoreError::Rejected { .. }
            | StoreError::Protocol { .. }
            | StoreError::Unsupported(_) => ErrorClass::Item,
        }
    }
}
