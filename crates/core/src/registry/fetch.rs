//! Downloading a model card's checkpoint into the cache.
//!
//! The file is streamed into `<cache>/<file>.partial`; an interrupted download leaves that file
//! behind and the next fetch asks only for the rest (HTTP `Range: bytes=N-`; a server that
//! ignores it and answers 200 gets the file written from the start). Once complete, every
//! checksum the card lists is checked (md5 for Zenodo, sha256 for Hugging Face, git's blob id
//! for files kept in git) and only then is the file renamed into place, so the cache never holds
//! a wrong or half-written checkpoint. A card with no published checksum still downloads; the
//! result carries the sha256 computed so the caller can print it.
//!
//! The base URL can be replaced (the CLI's `--base-url` or `EARSHOT_MODEL_BASE_URL`): the file is
//! then fetched from `<base>/<file>`, which is how tests use a local server and how a mirror is
//! used.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{Algorithm, ModelSpec};

/// Environment variable that replaces every card's URL with `<value>/<file>`.
pub const BASE_URL_VAR: &str = "EARSHOT_MODEL_BASE_URL";

/// Problems fetching a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server could not be reached at all (offline, DNS, refused).
    #[error(
        "cannot reach {url} ({reason}); download it by hand and save it as {dest}, \
         or pass --checkpoint PATH"
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the network layer said.
        reason: String,
        /// Where the file belongs.
        dest: PathBuf,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}; download it by hand and save it as {dest}")]
    Status {
        /// The URL tried.
        url: String,
        /// The status code.
        status: u16,
        /// Where the file belongs.
        dest: PathBuf,
    },
    /// The connection broke before the whole file arrived; the part is kept.
    #[error(
        "download interrupted after {got} of {} bytes ({reason}); run the same command again \
         to resume", .total.map_or("?".to_string(), |t| t.to_string())
    )]
    Interrupted {
        /// Bytes on disk so far.
        got: u64,
        /// Expected size, when known.
        total: Option<u64>,
        /// What broke.
        reason: String,
    },
    /// A checksum did not match; the download was deleted.
    #[error("{algorithm} mismatch: expected {expected}, got {actual} (the download was deleted)")]
    Mismatch {
        /// Which checksum.
        algorithm: Algorithm,
        /// The card's value.
        expected: String,
        /// The downloaded file's value.
        actual: String,
    },
    /// The cached file exists but does not match the card.
    #[error(
        "{path} exists but its {algorithm} is {actual}, expected {expected}; \
         run with --force to download it again"
    )]
    CachedMismatch {
        /// The cached file.
        path: PathBuf,
        /// Which checksum.
        algorithm: Algorithm,
        /// The card's value.
        expected: String,
        /// The file's value.
        actual: String,
    },
    /// A local file could not be written or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// No cache directory.
    #[error(transparent)]
    Registry(#[from] super::RegistryError),
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, FetchError>;

/// How to fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchOptions {
    /// Replace the card's URL by `<base_url>/<file>`.
    pub base_url: Option<String>,
    /// Download again even if the file is cached (a partial download is discarded too).
    pub force: bool,
    /// Cache directory; `None` means [`super::models_dir`].
    pub dir: Option<PathBuf>,
}

/// What happens during a fetch, for progress display.
#[derive(Debug, Clone, Copy)]
pub enum FetchEvent {
    /// The transfer starts: total size when known, and bytes already on disk from an earlier
    /// attempt.
    Start {
        /// Expected total size.
        total: Option<u64>,
        /// Bytes kept from an interrupted download.
        resumed_from: u64,
    },
    /// Bytes on disk so far.
    Progress(u64),
    /// The transfer is done; checksums are being computed.
    Verifying,
}

/// A finished fetch.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The cached checkpoint.
    pub path: PathBuf,
    /// Its sha256 (computed).
    pub sha256: String,
    /// The card's checksums that were checked (all of them).
    pub verified: Vec<Algorithm>,
    /// The file was already cached; nothing was downloaded.
    pub already_present: bool,
    /// Where it was downloaded from (`None` when already present).
    pub url: Option<String>,
}

/// The URL a fetch uses: the card's, or `<base>/<file>`.
pub fn source_url(spec: &ModelSpec, base_url: Option<&str>) -> String {
    match base_url {
        Some(base) => {
            let file: String = spec
                .checkpoint
                .file
                .chars()
                .map(|c| match c {
                    ' ' => "%20".to_string(),
                    '%' => "%25".to_string(),
                    '?' => "%3F".to_string(),
                    '#' => "%23".to_string(),
                    c => c.to_string(),
                })
                .collect();
            format!("{}/{file}", base.trim_end_matches('/'))
        }
        None => spec.checkpoint.url.clone(),
    }
}

/// Digests of one file, computed in a single pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256, hex.
    pub sha256: String,
    /// MD5, hex.
    pub md5: String,
    /// Git blob id, hex.
    pub git_blob_sha1: String,
}

impl Digests {
    /// The digest for `algorithm`.
    pub fn get(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Sha256 => &self.sha256,
            Algorithm::Md5 => &self.md5,
            Algorithm::GitBlobSha1 => &self.git_blob_sha1,
        }
    }
}

/// Bytes as lowercase hex (digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256, md5 and git blob id of a file.
pub fn digest_file(path: &Path) -> Result<Digests> {
    let io = |error| FetchError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut sha256 = Sha256::new();
    let mut md5 = Md5::new();
    let mut git = Sha1::new();
    git.update(format!("blob {len}\0").as_bytes());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        md5.update(&buf[..n]);
        git.update(&buf[..n]);
    }
    Ok(Digests {
        sha256: hex(&sha256.finalize()),
        md5: hex(&md5.finalize()),
        git_blob_sha1: hex(&git.finalize()),
    })
}

/// The first checksum of `spec` that `digests` contradicts: (algorithm, expected, actual).
fn first_mismatch(spec: &ModelSpec, digests: &Digests) -> Option<(Algorithm, String, String)> {
    spec.checkpoint.checksums.iter().find_map(|sum| {
        let actual = digests.get(sum.algorithm);
        (actual != sum.value).then(|| (sum.algorithm, sum.value.clone(), actual.to_string()))
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("earshot/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Download `spec`'s checkpoint into the cache (or find it there), verify it, and return where
/// it is. `on_event` sees the progress.
pub fn fetch(
    spec: &ModelSpec,
    options: &FetchOptions,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<Fetched> {
    let dir = match &options.dir {
        Some(dir) => dir.clone(),
        None => super::models_dir()?,
    };
    let dest = dir.join(&spec.checkpoint.file);
    let partial = dir.join(format!("{}.partial", spec.checkpoint.file));
    // Hugging Face files share names (`pytorch_model.bin`), so their cards keep them in a
    // folder named for the model.
    let dir = dest.parent().map(Path::to_path_buf).unwrap_or(dir);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| FetchError::Io { path, error }
    };

    if dest.is_file() && !options.force {
        on_event(FetchEvent::Verifying);
        let digests = digest_file(&dest)?;
        if let Some((algorithm, expected, actual)) = first_mismatch(spec, &digests) {
            return Err(FetchError::CachedMismatch {
                path: dest,
                algorithm,
                expected,
                actual,
            });
        }
        return Ok(Fetched {
            path: dest,
            sha256: digests.sha256,
            verified: spec
                .checkpoint
                .checksums
                .iter()
                .map(|s| s.algorithm)
                .collect(),
            already_present: true,
            url: None,
        });
    }
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    if options.force {
        let _ = std::fs::remove_file(&partial);
    }

    let url = source_url(spec, options.base_url.as_deref());
    download(&url, &dest, &partial, spec.checkpoint.size, on_event)?;

    on_event(FetchEvent::Verifying);
    let digests = digest_file(&partial)?;
    if let Some((algorithm, expected, actual)) = first_mismatch(spec, &digests) {
        let _ = std::fs::remove_file(&partial);
        return Err(FetchError::Mismatch {
            algorithm,
            expected,
            actual,
        });
    }
    std::fs::rename(&partial, &dest).map_err(io(&dest))?;
    Ok(Fetched {
        path: dest,
        sha256: digests.sha256,
        verified: spec
            .checkpoint
            .checksums
            .iter()
            .map(|s| s.algorithm)
            .collect(),
        already_present: false,
        url: Some(url),
    })
}

/// Stream `url` into `partial`, resuming from what is already there.
fn download(
    url: &str,
    dest: &Path,
    partial: &Path,
    card_size: Option<u64>,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<()> {
    let io = |error| FetchError::Io {
        path: partial.to_path_buf(),
        error,
    };
    let have = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    let mut request = agent().get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| FetchError::Unreachable {
        url: url.to_string(),
        reason: e.to_string(),
        dest: dest.to_path_buf(),
    })?;
    let status = response.status().as_u16();
    let content_length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (start, total) = match status {
        // The server sent only the rest.
        206 if have > 0 => (have, content_length.map(|n| n + have).or(card_size)),
        200 | 206 => (0, content_length.or(card_size)),
        // Nothing left to send: the part on disk is the whole file (the checksums will tell).
        416 if have > 0 => return Ok(()),
        _ => {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
                dest: dest.to_path_buf(),
            })
        }
    };
    let mut file = if start > 0 {
        OpenOptions::new().append(true).open(partial)
    } else {
        File::create(partial)
    }
    .map_err(io)?;
    on_event(FetchEvent::Start {
        total,
        resumed_from: start,
    });
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = start;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                file.flush().map_err(io)?;
                return Err(FetchError::Interrupted {
                    got,
                    total,
                    reason: e.to_string(),
                });
            }
        };
        file.write_all(&buf[..n]).map_err(io)?;
        got += n as u64;
        on_event(FetchEvent::Progress(got));
    }
    file.sync_all().map_err(io)?;
    if let Some(total) = total {
        if got < total {
            return Err(FetchError::Interrupted {
                got,
                total: Some(total),
                reason: "the connection closed early".into(),
            });
        }
    }
    Ok(())
}
