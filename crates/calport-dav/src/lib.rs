//! CalDAV (RFC 4791) and CardDAV (RFC 6352) as a [`calport_core::Store`].
//!
//! Key concepts:
//! - a [`DavStore`] is one account on one server, configured by a [`DavConfig`]. It
//!   discovers the account's calendars and address books (principal → home sets →
//!   collections), lists member versions (RFC 6578 sync-collection, else PROPFIND),
//!   fetches bodies by multiget in batches of 100, and writes with etag preconditions.
//! - the HTTP layer (`client`) owns everything transport: one keep-alive HTTP/1.1 client,
//!   Basic auth sent up front and Digest (RFC 7616) when challenged, redirects followed
//!   by hand (credentials only for the configured host and port), retries with backoff
//!   for 429/502/503/504 and transport failures, a bound on requests in flight, and
//!   [`RequestStats`] counters.
//! - hrefs travel as absolute paths spelled as the server spelled them
//!   (percent-encoding included) and are compared after percent-decoding; hrefs on
//!   another host stay whole URLs.
//! - item bodies are the `calendar-data` / `address-data` text exactly as sent, CRLFs
//!   included (raw CRs are protected from XML line-end normalisation before parsing).
//!
//! Everything here is exercised against real Radicale and Xandikos servers in
//! `tests/`; no HTTP mocks.

mod cache;
mod client;
mod config;
mod digest;
mod discovery;
mod errors;
mod href;
mod listing;
mod mkcol;
mod multiget;
mod profile;
mod stats;
mod store;
mod write;
mod xml;

pub use config::{DavConfig, Secret};
pub use profile::{Fingerprint, Product, Profile, detect};
pub use stats::RequestStats;
pub use store::DavStore;
