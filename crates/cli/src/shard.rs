//! Splitting a run over many processes (`--shard I/N`) and resuming a killed one (`--resume`).
//!
//! Assignment is by position in the expanded input list (arguments in order, directories
//! walked sorted): shard `I` of `N` takes the contiguous block `[I·n/N, (I+1)·n/N)`. The same
//! inputs therefore split the same way on every machine, and concatenating the shards' outputs
//! in shard order (`earshot merge`) gives exactly the single-process output.
//!
//! Without `--shard` the shard comes from the scheduler: Slurm job arrays
//! (`SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`) or Kubernetes
//! Indexed Jobs (`JOB_COMPLETION_INDEX` of `EARSHOT_SHARDS`, which the Job spec sets to its
//! `completions`).
//!
//! Outputs are written atomically (temporary file, then rename), so a file that exists is
//! complete: `--resume` skips inputs whose per-file output exists, and a whole single-file output
//! (`tag -o`, `detect -o`, `embed -o X.npy`) whose file exists. A sharded run writes its
//! single-file output as `<stem>.shard-I-of-N.<ext>`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

/// One shard of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// Parse `I/N` (0 ≤ I < N).
    pub fn parse(s: &str) -> std::result::Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected I/N, got {s:?}"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| format!("bad shard index {i:?}"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("bad shard count {n:?}"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }

    /// The shard the scheduler gave this process, if any.
    pub fn from_env() -> Result<Option<Shard>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let num = |k: &str| -> Result<Option<usize>> {
            var(k)
                .map(|v| {
                    v.parse()
                        .with_context(|| format!("{k}={v:?} is not a number"))
                })
                .transpose()
        };
        if let (Some(id), Some(count)) =
            (num("SLURM_ARRAY_TASK_ID")?, num("SLURM_ARRAY_TASK_COUNT")?)
        {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id
                .checked_sub(min)
                .context("SLURM_ARRAY_TASK_ID below the array's minimum")?;
            return Shard::parse(&format!("{index}/{count}"))
                .map(Some)
                .map_err(|e| anyhow::anyhow!("Slurm array: {e}"));
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let Some(count) = num("EARSHOT_SHARDS")? else {
                bail!("JOB_COMPLETION_INDEX is set: set EARSHOT_SHARDS to the Job's completions, or pass --shard I/N");
            };
            return Shard::parse(&format!("{index}/{count}"))
                .map(Some)
                .map_err(|e| anyhow::anyhow!("Indexed Job: {e}"));
        }
        Ok(None)
    }

    /// This shard's block of `len` items.
    pub fn range(&self, len: usize) -> std::ops::Range<usize> {
        self.index * len / self.count..(self.index + 1) * len / self.count
    }
}

struct Settings {
    shard: Option<Shard>,
    resume: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Set once at start-up from the command line (and environment).
pub fn init(shard: Option<Shard>, resume: bool) {
    let _ = SETTINGS.set(Settings { shard, resume });
}

/// The shard of this process.
pub fn current() -> Option<Shard> {
    SETTINGS.get().and_then(|s| s.shard)
}

/// Whether finished outputs are kept and their inputs skipped.
pub fn resume() -> bool {
    SETTINGS.get().is_some_and(|s| s.resume)
}

/// Keep this shard's block of `items`.
pub fn select<T>(items: Vec<T>) -> Vec<T> {
    match current() {
        None => items,
        Some(shard) => {
            let r = shard.range(items.len());
            items.into_iter().skip(r.start).take(r.len()).collect()
        }
    }
}

/// Where a single-file output goes in this shard: `<stem>.shard-I-of-N.<ext>`.
pub fn output_path(path: &Path) -> PathBuf {
    let Some(shard) = current() else {
        return path.to_path_buf();
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag = format!("shard-{}-of-{}", shard.index, shard.count);
    let name = match path.extension() {
        Some(ext) => format!("{stem}.{tag}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{tag}"),
    };
    path.with_file_name(name)
}

/// With `--resume`, whether a single-file output is already complete (and the run can stop).
pub fn already_done(path: &Path) -> bool {
    let done = resume() && path.is_file();
    if done {
        eprintln!("{}: exists, nothing to resume", path.display());
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_item_once_in_order() {
        for len in [0, 1, 7, 100] {
            for count in 1..6 {
                let all: Vec<usize> = (0..count)
                    .flat_map(|index| Shard { index, count }.range(len))
                    .collect();
                assert_eq!(all, (0..len).collect::<Vec<_>>(), "{len} in {count}");
            }
        }
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("0/0").is_err());
        assert_eq!(Shard::parse("2/5"), Ok(Shard { index: 2, count: 5 }));
    }
}
