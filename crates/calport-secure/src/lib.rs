//! Security building blocks for the calport server.
//!
//! Key concepts:
//! - [`secrets`]: account passwords, OAuth tokens and webhook secrets are stored
//!   encrypted with XChaCha20-Poly1305 under one [`secrets::MasterKey`]. Every
//!   ciphertext is bound to a *context* (for example `account:42:password`) given as
//!   associated data, so a ciphertext copied into another row does not decrypt.
//! - [`apikeys`]: API keys are random, shown once, and stored only as a SHA-256 hash
//!   plus a short public lookup id, so the server finds the row without scanning and
//!   compares the hash in constant time.
//! - [`webhooks`]: [Standard Webhooks](https://www.standardwebhooks.com/) signatures
//!   (`webhook-id`, `webhook-timestamp`, `webhook-signature`, HMAC-SHA256 over
//!   `id.timestamp.body`) for our outbound webhooks and for verifying inbound ones.
//! - [`delivery`]: the HTTP side of outbound webhooks: one signed POST per
//!   [`delivery::Attempt`], classified into delivered / gone / retry later / rejected
//!   / refused, the retry schedule, and SSRF protection that checks the addresses we
//!   actually connect to.
//!
//! The crate performs no logging of its own and never puts key material or secrets
//! into `Debug` output or error messages.

pub mod apikeys;
pub mod delivery;
mod encoding;
pub mod secrets;
pub mod webhooks;
