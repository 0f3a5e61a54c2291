//! Helpers for tests against servers that are not a [`calport_testkit::DavServer`]
//! (the shared SOGo / SabreDAV / DAViCal of `../shared/servers`).

use std::path::{Path, PathBuf};

use calport_testkit::{DavServer, SharedServer};

/// One side of a migration: the URL calport is configured with and the credentials.
#[derive(Debug, Clone)]
pub struct Account {
    pub url: String,
    pub username: String,
    pub password: String,
}

impl Account {
    /// A Radicale/Xandikos test server: its root URL.
    pub fn of_dav(server: &DavServer) -> Self {
        Account {
            url: format!("{}/", server.base_url()),
            username: server.username().to_owned(),
            password: server.password().to_owned(),
        }
    }

    /// A shared server: its DAV entry point (`/SOGo/dav/`, `/caldav.php/`, `/`), the URL an
    /// admin would type.
    pub fn of_shared(server: &SharedServer) -> Self {
        Account {
            url: server.dav_url().to_owned(),
            username: server.username().to_owned(),
            password: server.password().to_owned(),
        }
    }
}

/// Writes a migrate.toml for two accounts into `dir` and returns its path.
pub fn write_config_for(
    dir: &Path,
    source: &Account,
    destination: &Account,
    extra: &str,
) -> PathBuf {
    let text = format!(
        "[source]\nurl = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n\n\
         [destination]\nurl = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n\n\
         [options]\nconcurrency = 4\ntimeout_seconds = 60\n{extra}\n",
        source.url,
        source.username,
        source.password,
        destination.url,
        destination.username,
        destination.password,
    );
    let path = dir.join("migrate.toml");
    std::fs::write(&path, text).unwrap();
    path
}
