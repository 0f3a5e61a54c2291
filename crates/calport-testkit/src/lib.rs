//! Test support for calport: real DAV servers on loopback, and a second, independent way to
//! talk to them.
//!
//! Key concepts:
//! - a [`DavServer`] is one real Radicale or Xandikos process (from the Python venv that
//!   `scripts/test.sh` creates) listening on `127.0.0.1` on a random free port, with fresh
//!   storage in a temporary directory. It is killed by its PID when dropped.
//! - the seeding and inspection helpers ([`DavServer::mkcalendar`], [`DavServer::put`],
//!   [`DavServer::list`], ...) speak plain HTTP through `reqwest` and never use calport's own DAV
//!   client, so a test that migrates with calport verifies the result through a separate path.
//! - [`DavServer::write_raw_files`] bypasses the server and places bytes straight into its
//!   storage, so a *source* server can hold items it would never accept over HTTP (the malformed
//!   corpus). Its doc comment records how each server then serves them.
//! - [`corpus_dir`] finds the shared fidelity corpus, which is never copied into this repo.
//! - a [`SharedServer`] is one of the production servers of `../shared/servers` (SOGo,
//!   SabreDAV, DAViCal from Debian's packages) on its fixed loopback port, started through
//!   the shared scripts under an exclusive lock so that it never runs twice at once.

mod multistatus;
mod paths;
mod radicale;
mod raw;
mod requests;
mod server;
mod shared;
mod xandikos;

pub use multistatus::Member;
pub use paths::{corpus_dir, venv_dir, workspace_root};
pub use requests::Resource;
pub use reqwest::{Method, StatusCode};
pub use server::{DavServer, ServerKind};
pub use shared::{
    SHARED_BUSY_TIMEOUT, SHARED_START_TIMEOUT, SharedKind, SharedServer, shared_run_dir,
    shared_servers_dir,
};
