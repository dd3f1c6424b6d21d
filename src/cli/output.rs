//! Writing outputs so that an interrupted run never leaves a half-written file behind: write to
//! a temporary sibling, then rename over the target.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Create `path` through `write`, which receives a temporary path to fill.
pub fn atomically<F, E>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> std::result::Result<(), E>,
    E: std::error::Error + Send + Sync + 'static,
{
    let tmp = temp_sibling(path);
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("{}: cannot write", path.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))
}
