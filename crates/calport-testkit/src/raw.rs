//! Placing bytes straight into a server's storage, past its validation.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use percent_encoding::percent_decode_str;

use crate::server::{DavServer, ServerKind};
use crate::xandikos;

/// How long committing raw files into a Xandikos collection may take.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

impl DavServer {
    /// Places one file directly into the storage of the existing collection
    /// `collection_path`; see [`DavServer::write_raw_files`].
    ///
    /// # Errors
    /// As [`DavServer::write_raw_files`].
    pub async fn write_raw_file(
        &self,
        collection_path: &str,
        name: &str,
        bytes: &[u8],
    ) -> anyhow::Result<PathBuf> {
        let mut paths = self
            .write_raw_files(collection_path, &[(name, bytes)])
            .await?;
        paths.pop().context("no file written")
    }

    /// Places files directly into the storage of the existing collection `collection_path`,
    /// bypassing every check the server makes on PUT, so a *source* server can hold items it
    /// would refuse over HTTP. `name` is the member name (no `/`, not starting with `.`);
    /// returns the paths written.
    ///
    /// How the servers store and then serve such files (measured with every file of the
    /// shared corpus' `malformed/` set: 40 `.ics`, 19 `.vcf`):
    ///
    /// - **Radicale** keeps one file per item in `collection-root/<user>/<collection>/`; the
    ///   file is written (atomically, by rename) beside them. No cache needs invalidating:
    ///   the item cache is keyed by the SHA-256 of the file. Radicale parses every file
    ///   (vobject) when it lists or serves the collection, and with its default
    ///   `[storage] skip_broken_item = True` a file that does not parse, is not UTF-8 or holds
    ///   more than one component is **silently left out**: it is missing from PROPFIND and
    ///   REPORT answers and GET says 404, while the other items are served normally (with
    ///   `skip_broken_item = False` the whole PROPFIND answers 500 instead). Only 5 of the
    ///   40 `.ics` and 1 of the 19 `.vcf` stay visible, and those are served re-serialised.
    ///   Radicale is therefore no source for "migrate malformed items" tests.
    /// - **Xandikos** keeps each collection as a git repository with a work tree; it lists
    ///   what the git *index* holds, so the files are written into the work tree, added to
    ///   the index and committed (with the venv's dulwich, as Xandikos does itself). It then
    ///   **lists every file** (PROPFIND Depth 1, the ETag is the blob id, nothing is parsed)
    ///   and serves the **raw bytes**, but not always:
    ///   - GET of a `.vcf` returns the raw bytes for all 19 files; GET of a `.ics` parses the
    ///     calendar first (for the Schedule-Tag) and answers **500** for the 24 files that
    ///     icalendar rejects (raw bytes for the other 16);
    ///   - `calendar-multiget`/`addressbook-multiget` embed the raw bytes without parsing,
    ///     but decode them as UTF-8: each of the 11 non-UTF-8 files (UTF-16, Latin-1,
    ///     fuzzer junk) makes the **whole multiget answer 500**. A UTF-8 file with a control
    ///     character (`fuzz_testcase_vtimezone_lone_cr.ics`) is embedded unescaped, so that
    ///     multistatus is **not well-formed XML**.
    ///
    ///   Xandikos is the source to use: every file is visible, 48 of 59 can be read by
    ///   multiget one by one and 50 by multiget or GET (the two non-UTF-8 `.vcf` only by GET;
    ///   the nine non-UTF-8 `.ics` neither way: they cannot be read over HTTP at all). A
    ///   migration must survive that: on a failed batch, split it / fall back to GET, then
    ///   report the items it cannot read and carry on.
    ///
    /// `tests/malformed.rs` measures all of this again and prints a line per file.
    ///
    /// # Errors
    /// When the collection does not exist in the storage, a name is unsafe, a write fails or
    /// (Xandikos) the commit fails.
    pub async fn write_raw_files(
        &self,
        collection_path: &str,
        files: &[(&str, &[u8])],
    ) -> anyhow::Result<Vec<PathBuf>> {
        let dir = self.collection_dir(collection_path)?;
        match self.kind() {
            ServerKind::Radicale => ensure!(
                dir.join(".Radicale.props").is_file(),
                "{collection_path} is not a Radicale collection yet ({} has no .Radicale.props): \
                 create it first",
                dir.display()
            ),
            ServerKind::Xandikos => ensure!(
                dir.join(".git").is_dir(),
                "{collection_path} is not a Xandikos collection ({} is no git work tree)",
                dir.display()
            ),
        }
        let mut written = Vec::with_capacity(files.len());
        for (name, bytes) in files {
            ensure!(
                !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\0']),
                "unsafe member name {name:?}"
            );
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.calport-testkit.tmp"));
            tokio::fs::write(&tmp, bytes)
                .await
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            tokio::fs::rename(&tmp, &path)
                .await
                .with_context(|| format!("cannot rename to {}", path.display()))?;
            written.push(path);
        }
        if self.kind() == ServerKind::Xandikos && !files.is_empty() {
            let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
            self.git_commit(&dir, &names).await?;
        }
        Ok(written)
    }

    /// The storage directory of a collection path (`/alice/cal/` → `.../alice/cal`).
    fn collection_dir(&self, collection_path: &str) -> anyhow::Result<PathBuf> {
        let mut dir = match self.kind() {
            ServerKind::Radicale => self.storage_dir().join("collection-root"),
            ServerKind::Xandikos => self.storage_dir().to_path_buf(),
        };
        for segment in collection_path.split('/').filter(|s| !s.is_empty()) {
            let segment = percent_decode_str(segment)
                .decode_utf8()
                .with_context(|| format!("bad collection path {collection_path:?}"))?;
            ensure!(
                segment != "." && segment != ".." && !segment.contains('\0'),
                "bad collection path {collection_path:?}"
            );
            dir.push(segment.as_ref());
        }
        Ok(dir)
    }

    async fn git_commit(&self, repo: &Path, names: &[&str]) -> anyhow::Result<()> {
        let python = self.venv().join("bin").join("python");
        let child = tokio::process::Command::new(&python)
            .arg("-c")
            .arg(xandikos::COMMIT_SCRIPT)
            .arg(repo)
            .args(names)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {}", python.display()))?;
        let output = tokio::time::timeout(COMMIT_TIMEOUT, child.wait_with_output())
            .await
            .context("committing raw files into Xandikos timed out")??;
        if !output.status.success() {
            bail!(
                "committing raw files into {} failed ({}): {}",
                repo.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}
