//! Where the venv, the workspace and the shared corpus live.

use std::env;
use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate's manifest).
#[must_use]
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// The Python venv that holds `radicale` and `xandikos`: `$CALPORT_VENV` when set, else
/// `<workspace>/.venv` (where `scripts/test.sh` creates it).
#[must_use]
pub fn venv_dir() -> PathBuf {
    match env::var_os("CALPORT_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join(".venv"),
    }
}

/// The shared fidelity corpus: `$CALPORT_SHARED_DIR/corpus`, else `<workspace>/../shared/corpus`.
///
/// Returns `None` when the directory does not exist; callers then print `SKIPPED: ...` and
/// pass. The files belong to other projects: read them in place, never copy them into the repo.
#[must_use]
pub fn corpus_dir() -> Option<PathBuf> {
    let shared = match env::var_os("CALPORT_SHARED_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("..").join("shared"),
    };
    let corpus = shared.join("corpus");
    corpus.is_dir().then_some(corpus)
}
