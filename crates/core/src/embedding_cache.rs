//! The embedding cache of `earshot train`: each audio file's embedding frames, keyed by the
//! sha256 of the file's bytes (so a renamed or copied file is not embedded again, and an edited
//! one is), in one Parquet table per backbone setting (model, checkpoint sha256, layer, windows),
//! `<cache>/embeddings/<key>.parquet`. Its columns are those of `earshot embed -o X.parquet`
//! ([`crate::parquet_table`]) with `file` holding the content hash, so pandas reads it as is.
//!
//! A cache that cannot be read (cut short by a crash, say) is set aside and rebuilt, never an
//! error: it only ever saves time.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::outputs::Embeddings;
use crate::parquet_table::{self, EmbeddingTable, Layout, TableData, TableError};
use crate::registry::fetch::hex;

/// One file's cached frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    /// Frames × dim, row-major.
    pub frames: Vec<f32>,
    /// Size of one frame.
    pub dim: usize,
    /// Time of each frame, seconds.
    pub timestamps: Vec<f64>,
}

impl Cached {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// The mean of the frames.
    pub fn mean(&self) -> Vec<f32> {
        Embeddings::mean_over_frames(&self.frames, &[self.len(), self.dim])
    }
}

/// A table's rows grouped by their `file` column, each file's rows in table order.
pub fn by_file(data: &TableData) -> HashMap<String, Cached> {
    let mut out: HashMap<String, Cached> = HashMap::new();
    for (row, file) in data.files.iter().enumerate() {
        let e = out.entry(file.clone()).or_insert_with(|| Cached {
            frames: Vec::new(),
            dim: data.dim,
            timestamps: Vec::new(),
        });
        e.frames
            .extend_from_slice(&data.values[row * data.dim..(row + 1) * data.dim]);
        e.timestamps
            .push(data.timestamps.get(row).copied().unwrap_or(0.0));
    }
    out
}

/// Embeddings of one backbone setting, by content hash.
pub struct EmbeddingCache {
    path: PathBuf,
    model: String,
    entries: HashMap<String, Cached>,
    added: usize,
}

/// sha256 of a file's bytes, as lowercase hex.
pub fn content_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The cache file's name for a backbone setting: the first 16 hex digits of the sha256 of its
/// description (`model`, checkpoint sha256, layer, window, hop), after the model name.
pub fn cache_key(model: &str, setting: &str) -> String {
    let digest = Sha256::digest(format!("{model}\n{setting}").as_bytes());
    format!("{model}-{}", &hex(&digest)[..16])
}

/// `<cache>/embeddings`, beside the checkpoint cache.
pub fn cache_dir() -> Result<PathBuf, crate::registry::RegistryError> {
    let models = crate::registry::models_dir()?;
    Ok(models.parent().unwrap_or(&models).join("embeddings"))
}

impl EmbeddingCache {
    /// Open (or start) the cache at `path`; `model` goes in the table's metadata.
    pub fn open(path: &Path, model: &str) -> EmbeddingCache {
        let mut entries = HashMap::new();
        if path.is_file() {
            match parquet_table::read(path) {
                Ok(data) => entries = by_file(&data),
                Err(e) => {
                    log::warn!("{}: unreadable, rebuilding ({e})", path.display());
                    let _ = std::fs::rename(path, path.with_extension("parquet.bad"));
                }
            }
        }
        EmbeddingCache {
            path: path.to_path_buf(),
            model: model.to_string(),
            entries,
            added: 0,
        }
    }

    /// The cached frames of the file with this content hash.
    pub fn get(&self, sha256: &str) -> Option<&Cached> {
        self.entries.get(sha256)
    }

    /// Add (or replace) a file's frames.
    pub fn insert(&mut self, sha256: String, cached: Cached) {
        self.entries.insert(sha256, cached);
        self.added += 1;
    }

    /// Files added since opening.
    pub fn added(&self) -> usize {
        self.added
    }

    /// Number of files cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Write the whole cache (when anything was added), atomically: a table beside it, renamed
    /// over it.
    pub fn save(&self) -> Result<(), TableError> {
        if self.added == 0 {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("parquet.tmp");
        let layout = Layout {
            layered: false,
            frames: true,
        };
        let mut table = EmbeddingTable::create(&tmp, layout, &self.model)?;
        let mut keys: Vec<&String> = self.entries.keys().collect();
        keys.sort();
        for key in keys {
            let c = &self.entries[key];
            let e = Embeddings {
                frames: c.frames.clone(),
                shape: vec![c.len(), c.dim],
                timestamps: c.timestamps.clone(),
                scene: Vec::new(),
            };
            table.push(key, &e)?;
        }
        table.finish()?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_save_and_a_bad_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.parquet");
        let mut cache = EmbeddingCache::open(&path, "m");
        let c = Cached {
            frames: vec![1.0, 2.0, 3.0, 5.0],
            dim: 2,
            timestamps: vec![0.25, 0.75],
        };
        cache.insert("ab".into(), c.clone());
        cache.save().unwrap();
        let back = EmbeddingCache::open(&path, "m");
        assert_eq!(back.get("ab"), Some(&c));
        assert_eq!(back.get("ab").unwrap().mean(), [2.0, 3.5]);
        std::fs::write(&path, b"junk").unwrap();
        assert!(EmbeddingCache::open(&path, "m").is_empty());
        assert!(path.with_extension("parquet.bad").is_file());
        let f = dir.path().join("x");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(
            content_sha256(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
