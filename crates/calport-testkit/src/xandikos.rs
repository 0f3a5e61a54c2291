//! Xandikos 0.4: command line and URL layout.

use std::path::Path;

use crate::server::Layout;

/// Xandikos `serve` has one principal for everyone and no auth on plain HTTP (`--htpasswd`
/// requires `--autocert`), so the credentials are sent but ignored.
pub(crate) const LAYOUT: Layout = Layout {
    username: "alice",
    password: "alicepw",
    principal: "/user/",
    calendar_home: "/user/calendars/",
    addressbook_home: "/user/contacts/",
    calendar: "/user/calendars/calendar/",
    addressbook: "/user/contacts/addressbook/",
};

/// `xandikos serve -d <storage> --defaults -l 127.0.0.1 -p <port> --state-dir <dir>/state
/// --no-detect-systemd`.
///
/// `--defaults` creates the principal `/user/` with `calendars/calendar/`,
/// `contacts/addressbook/`, `inbox/` and `outbox/`; `--state-dir` keeps its certificate and key
/// state out of `$XDG_DATA_HOME`; `--no-detect-systemd` ignores inherited socket activation.
pub(crate) fn args(dir: &Path, storage_dir: &Path, port: u16) -> Vec<String> {
    [
        "serve",
        "-d",
        &storage_dir.display().to_string(),
        "--defaults",
        "-l",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--state-dir",
        &dir.join("state").display().to_string(),
        "--no-detect-systemd",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Adds files that already sit in a collection's work tree to its git index and commits
/// them, the way Xandikos' own `TreeGitStore._import_one` does (same dulwich, same index).
/// Arguments: the repository path, then the member names.
pub(crate) const COMMIT_SCRIPT: &str = r#"
import os, sys
from dulwich.index import index_entry_from_stat, locked_index
from dulwich.objects import Blob
from dulwich.repo import Repo

repo = Repo(sys.argv[1])
with locked_index(repo.index_path()) as index:
    for name in sys.argv[2:]:
        path = os.path.join(repo.path, name)
        with open(path, "rb") as f:
            blob = Blob.from_string(f.read())
        repo.object_store.add_object(blob)
        index[name.encode("utf-8")] = index_entry_from_stat(os.lstat(path), blob.id)
    tree = index.commit(repo.object_store)
    who = b"calport-testkit <testkit@localhost>"
    repo.get_worktree().commit(
        message=b"calport-testkit: raw files", tree=tree, author=who, committer=who
    )
"#;
