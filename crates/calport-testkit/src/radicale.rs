//! Radicale 3.9: config file, users and URL layout.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use crate::server::Layout;

/// alice owns everything the helpers create.
pub(crate) const LAYOUT: Layout = Layout {
    username: "alice",
    password: "alicepw",
    principal: "/alice/",
    calendar_home: "/alice/",
    addressbook_home: "/alice/",
    calendar: "/alice/calendar/",
    addressbook: "/alice/addressbook/",
};

/// The second htpasswd user.
pub(crate) const SECOND_USER: (&str, &str) = ("bob", "bobpw");

/// Writes the htpasswd file and the config into `dir` and returns radicale's arguments.
///
/// Deviations from Radicale's defaults, and why:
/// - `max_connections = 20` and `timeout = 300`: the defaults (8, 30 s) break concurrent tests
///   and whole-collection PUTs of thousands of items;
/// - `delay = 0`: a wrong password answers 401 at once instead of after 1 s;
/// - `level = warning`: no line per request (broken items are still logged as warnings).
///
/// `[reporting] max_expand_occurrence` keeps its default (10 000 VEVENTs per REPORT answer),
/// so tests see the same limit as production servers.
pub(crate) fn prepare(dir: &Path, storage_dir: &Path, port: u16) -> anyhow::Result<Vec<String>> {
    let users = dir.join("users");
    let mut htpasswd = format!("{}:{}\n", LAYOUT.username, LAYOUT.password);
    let _ = writeln!(htpasswd, "{}:{}", SECOND_USER.0, SECOND_USER.1);
    std::fs::write(&users, htpasswd)
        .with_context(|| format!("cannot write {}", users.display()))?;

    let config_path = dir.join("radicale.conf");
    let config = format!(
        "[server]\n\
         hosts = 127.0.0.1:{port}\n\
         max_connections = 20\n\
         timeout = 300\n\
         \n\
         [auth]\n\
         type = htpasswd\n\
         htpasswd_filename = {users}\n\
         htpasswd_encryption = plain\n\
         delay = 0\n\
         \n\
         [storage]\n\
         filesystem_folder = {storage}\n\
         \n\
         [logging]\n\
         level = warning\n",
        users = users.display(),
        storage = storage_dir.display(),
    );
    std::fs::write(&config_path, config)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    // `-C` replaces the default config search path (/etc/radicale/config, ~/.config/...).
    Ok(vec!["-C".to_owned(), config_path.display().to_string()])
}
