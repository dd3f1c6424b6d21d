//! The registry of published checkpoints, in the manner of timm's `default_cfgs`: one
//! [`ModelSpec`] per checkpoint, read from the model cards under `models/` (one TOML file each,
//! embedded in the binary with `include_str!`, so a build needs no data files at run time).
//!
//! A card says what the checkpoint is (family, architecture and its constructor arguments,
//! sample rate, front end, label set), where it comes from (official URL, file name, checksums
//! with their algorithm and where each was found, licence) and how well it does (reported
//! metric). Adding a checkpoint means adding a card and its line in [`CARDS`]; a test checks that
//! every file in `models/` is listed.
//!
//! Checksums: Zenodo publishes only md5, GitHub release assets none at all, Hugging Face the
//! sha256 of each LFS file. A card carries whatever its publisher (or a cited mirror of the same
//! bytes) gives and never an invented value; [`fetch`] verifies every checksum a
//! card lists and reports the sha256 it computed when a card lists none.
//!
//! Checkpoints are cached in `$EARSHOT_HOME/models`, else `$XDG_CACHE_HOME/earshot/models`,
//! else `~/.cache/earshot/models` ([`models_dir`]), under the file name the publisher uses.

pub mod fetch;
pub mod import;
pub mod trained;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

macro_rules! card {
    ($name:literal) => {
        (
            concat!($name, ".toml"),
            include_str!(concat!("../../../../models/", $name, ".toml")),
        )
    };
}

/// The model cards: (file name under `models/`, contents).
pub const CARDS: &[(&str, &str)] = &[
    card!("cnn14"),
    card!("cnn14-16k"),
    card!("cnn14-8k"),
    card!("cnn10"),
    card!("cnn6"),
    card!("resnet22"),
    card!("resnet38"),
    card!("resnet54"),
    card!("mobilenetv1"),
    card!("mobilenetv2"),
    card!("wavegram-logmel-cnn14"),
    card!("cnn14-decisionlevelmax"),
    card!("cnn14-decisionlevelatt"),
    card!("passt-s-f128-p16-s10-ap476"),
    card!("passt-s-kd-p16-s10-ap486"),
    card!("passt-l-kd-p16-s10-ap47"),
    card!("passt-s-f128-p16-s16-ap468"),
    card!("passt-s-f128-stfthop100-p16-s10-ap473"),
    card!("passt-s-f128-stfthop160-p16-s10-ap473"),
    card!("passt-s-f128-20sec-p16-s10-ap474"),
    card!("passt-s-f128-30sec-p16-s10-ap473"),
    card!("passt-b-f128-p16-s16-ap459"),
    card!("passt-u600-f128-p16-s16-ap460"),
    card!("passt-openmic-s-f128-10sec-p16-s10-ap85"),
    card!("passt-fsd50k-s-f128-p16-s10-ap655"),
    card!("passt-fsd50k-s-n-f128-p16-s16-ap642"),
    card!("openl3-linear-music-512"),
    card!("openl3-linear-music-6144"),
    card!("openl3-linear-env-512"),
    card!("openl3-linear-env-6144"),
    card!("openl3-mel128-music-512"),
    card!("openl3-mel128-music-6144"),
    card!("openl3-mel128-env-512"),
    card!("openl3-mel128-env-6144"),
    card!("openl3-mel256-music-512"),
    card!("openl3-mel256-music-6144"),
    card!("openl3-mel256-env-512"),
    card!("openl3-mel256-env-6144"),
    card!("wav2vec2-base"),
    card!("wav2vec2-base-960h"),
    card!("wav2vec2-large-lv60"),
    card!("wav2vec2-xls-r-300m"),
    card!("hubert-base-ls960"),
    card!("wavlm-base-plus"),
    card!("yamnet"),
    card!("yamnet-w8a8"),
];

/// Model families: which module builds the network.
pub const FAMILIES: &[&str] = &[
    "panns", "passt", "openl3", "wav2vec2", "hubert", "wavlm", "yamnet",
];

/// Front ends a card may name (the `frontend` module implements them).
pub const FRONTENDS: &[&str] = &[
    // torchlibrosa Spectrogram + LogmelFilterBank (PANNs; parameters in `arguments`).
    "panns-logmel",
    // Wavegram-Logmel-CNN: the log-mel above plus the raw waveform.
    "panns-wavegram-logmel",
    // hear21passt AugmentMelSTFT (pre-emphasis, Kaldi mel, (log + 4.5) / 5).
    "passt-mel",
    // OpenL3 spectrogram layers (kapre 0.1.4 as ported by torchopenl3).
    "openl3-linear",
    "openl3-mel128",
    "openl3-mel256",
    // YAMNet features.py: TF STFT magnitude, HTK mel 125–7500 Hz, log(mel + 0.001), patches.
    "yamnet-logmel",
    // The waveform itself (wav2vec 2.0, HuBERT, WavLM).
    "waveform",
];

/// Label sets a card may name.
pub const LABEL_SETS: &[&str] = &[
    "audioset",
    "fsd50k",
    "openmic",
    "yamnet",
    "librispeech-chars",
    "none",
];

/// Sample rates a card may declare.
const SAMPLE_RATES: &[u32] = &[8000, 16000, 22050, 32000, 44100, 48000];

/// Problems with the registry or a name.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A card is not valid TOML or lacks a field.
    #[error("models/{card}: {reason}")]
    Card {
        /// The card's file name.
        card: String,
        /// What is wrong.
        reason: String,
    },
    /// No card has this name.
    #[error("no such model{}; `earshot models list` shows them all", suggest(.suggestions))]
    Unknown {
        /// The name asked for.
        name: String,
        /// Registered names that look alike.
        suggestions: Vec<String>,
    },
    /// Nowhere to cache checkpoints.
    #[error("no cache directory: set EARSHOT_HOME, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// The checkpoint has not been downloaded.
    #[error(
        "checkpoint not found at {path}: run `earshot models fetch {name}`, `earshot models import {name} FILE`, or pass --checkpoint PATH"
    )]
    NotFetched {
        /// The model name.
        name: String,
        /// Where it would be.
        path: PathBuf,
    },
}

fn suggest(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", names.join(", "))
    }
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, RegistryError>;

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// SHA-256 of the file (Hugging Face LFS pointers publish this).
    Sha256,
    /// MD5 of the file (all that Zenodo publishes).
    Md5,
    /// Git's blob id: SHA-1 of `blob <size>\0` followed by the file, as a git tree lists it
    /// (files kept in a plain git repository, such as torchopenl3-models).
    GitBlobSha1,
}

impl Algorithm {
    /// Length of the hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Md5 => 32,
            Algorithm::GitBlobSha1 => 40,
        }
    }

    /// Name as written in cards.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Md5 => "md5",
            Algorithm::GitBlobSha1 => "git-blob-sha1",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One published checksum of a checkpoint file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Lower-case hex digest.
    pub value: String,
    /// Where the value was found (a URL, or repository and commit).
    pub source: String,
}

/// Where a checkpoint comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// Official download URL.
    pub url: String,
    /// File name, as the publisher names it; also the name in the cache. Files whose names
    /// repeat across models (Hugging Face's `pytorch_model.bin`) are `folder/name`.
    pub file: String,
    /// Size in bytes, where published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Published checksums (possibly none).
    #[serde(default)]
    pub checksums: Vec<Checksum>,
    /// Files the checkpoint needs beside it (an ONNX model's external data), cached in the
    /// same folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub companions: Vec<Companion>,
}

/// A file that belongs beside a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Companion {
    /// File name (in the checkpoint's folder).
    pub file: String,
    /// Its checksums.
    #[serde(default)]
    pub checksums: Vec<Checksum>,
}

/// A reported evaluation result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// Metric name, e.g. `mAP` or `WER test-clean`.
    pub name: String,
    /// Value as reported.
    pub value: f64,
    /// Evaluation set, e.g. `AudioSet eval`.
    pub dataset: String,
    /// Where it is reported.
    pub source: String,
}

/// One published checkpoint: a model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Registry name, lower-case, e.g. `cnn14`.
    pub name: String,
    /// Family (see [`FAMILIES`]).
    pub family: String,
    /// One or two sentences: what it is and what it is for.
    pub description: String,
    /// Architecture as the reference code names it, e.g. `Cnn14`.
    pub architecture: String,
    /// Constructor arguments of the reference code (names as upstream spells them).
    #[serde(default)]
    pub arguments: BTreeMap<String, serde_json::Value>,
    /// Input sample rate in Hz.
    pub sample_rate: u32,
    /// Front end (see [`FRONTENDS`]).
    pub frontend: String,
    /// Label set of the classifier outputs (see [`LABEL_SETS`]).
    pub labels: String,
    /// Number of outputs of the classifier head (0 for embedding-only models).
    #[serde(default)]
    pub classes: usize,
    /// Size of the embedding the model produces.
    pub embedding_dim: usize,
    /// Licence of the weights.
    pub licence: String,
    /// Paper or homepage.
    pub reference: String,
    /// The file.
    pub checkpoint: CheckpointSpec,
    /// Reported result, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
}

impl ModelSpec {
    /// Parse one card.
    pub fn from_toml(card: &str, text: &str) -> Result<ModelSpec> {
        let spec: ModelSpec = toml::from_str(text).map_err(|e| RegistryError::Card {
            card: card.to_string(),
            reason: e.message().to_string(),
        })?;
        spec.validate().map_err(|reason| RegistryError::Card {
            card: card.to_string(),
            reason,
        })?;
        if card.strip_suffix(".toml") != Some(spec.name.as_str()) {
            return Err(RegistryError::Card {
                card: card.to_string(),
                reason: format!(
                    "names the model {:?}: the file must be NAME.toml",
                    spec.name
                ),
            });
        }
        Ok(spec)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !name_ok {
            return Err(format!(
                "name {:?}: use lower-case letters, digits, '-' and '.'",
                self.name
            ));
        }
        let known = |what: &str, value: &str, list: &[&str]| {
            if list.contains(&value) {
                Ok(())
            } else {
                Err(format!("{what} {value:?} is not one of {list:?}"))
            }
        };
        known("family", &self.family, FAMILIES)?;
        known("frontend", &self.frontend, FRONTENDS)?;
        known("labels", &self.labels, LABEL_SETS)?;
        if !SAMPLE_RATES.contains(&self.sample_rate) {
            return Err(format!(
                "sample_rate {} is not a usual rate",
                self.sample_rate
            ));
        }
        if (self.labels == "none") != (self.classes == 0) {
            return Err(format!(
                "labels {:?} with {} classes: a label set needs its class count and 'none' none",
                self.labels, self.classes
            ));
        }
        if crate::labels::VOCABULARIES.contains(&self.labels.as_str()) {
            let vocabulary =
                crate::labels::Labels::named(&self.labels).map_err(|e| e.to_string())?;
            if vocabulary.len() != self.classes {
                return Err(format!(
                    "classes = {}, but the {} vocabulary has {} classes",
                    self.classes,
                    self.labels,
                    vocabulary.len()
                ));
            }
        }
        if self.embedding_dim == 0 {
            return Err("embedding_dim is 0".into());
        }
        if self.description.trim().is_empty() || self.licence.trim().is_empty() {
            return Err("description and licence must be filled in".into());
        }
        let ckpt = &self.checkpoint;
        if !ckpt.url.starts_with("https://") {
            return Err(format!("url {:?} is not https", ckpt.url));
        }
        // A plain file name, or `folder/name` for files whose names repeat across publishers.
        let parts: Vec<&str> = ckpt.file.split('/').collect();
        if parts.len() > 2
            || parts
                .iter()
                .any(|p| p.is_empty() || p.starts_with('.') || p.contains('\\'))
        {
            return Err(format!(
                "file {:?} is not a file name (or folder/name)",
                ckpt.file
            ));
        }
        let mut seen = BTreeSet::new();
        for sum in &ckpt.checksums {
            let hex = sum.value.len() == sum.algorithm.hex_len()
                && sum
                    .value
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            if !hex {
                return Err(format!(
                    "{} {:?} is not {} lower-case hex digits",
                    sum.algorithm,
                    sum.value,
                    sum.algorithm.hex_len()
                ));
            }
            if sum.source.trim().is_empty() {
                return Err(format!("{} checksum without a source", sum.algorithm));
            }
            if !seen.insert(sum.algorithm) {
                return Err(format!("two {} checksums", sum.algorithm));
            }
        }
        Ok(())
    }

    /// Where the checkpoint is (or would be) cached.
    pub fn cached_path(&self) -> Result<PathBuf> {
        Ok(models_dir()?.join(&self.checkpoint.file))
    }
}

/// All model cards, in the order of [`CARDS`].
#[derive(Debug, Clone)]
pub struct Registry {
    specs: Vec<ModelSpec>,
}

impl Registry {
    /// Build a registry from (card file name, text) pairs, checking each card and that names
    /// are unique.
    pub fn from_cards<'a>(cards: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Registry> {
        let mut specs: Vec<ModelSpec> = Vec::new();
        for (card, text) in cards {
            let spec = ModelSpec::from_toml(card, text)?;
            if specs.iter().any(|s| s.name == spec.name) {
                return Err(RegistryError::Card {
                    card: card.to_string(),
                    reason: format!("the name {:?} is taken", spec.name),
                });
            }
            specs.push(spec);
        }
        Ok(Registry { specs })
    }

    /// The cards built into this binary.
    pub fn builtin() -> &'static Registry {
        static BUILTIN: OnceLock<Registry> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Registry::from_cards(CARDS.iter().copied())
                .unwrap_or_else(|e| panic!("built-in model cards: {e}"))
        })
    }

    /// Every spec.
    pub fn specs(&self) -> &[ModelSpec] {
        &self.specs
    }

    /// The spec named `name` (case-insensitive; `_` counts as `-`).
    pub fn get(&self, name: &str) -> Result<&ModelSpec> {
        let wanted = name.to_ascii_lowercase().replace('_', "-");
        if let Some(spec) = self.specs.iter().find(|s| s.name == wanted) {
            return Ok(spec);
        }
        let mut suggestions: Vec<(usize, &str)> = self
            .specs
            .iter()
            .map(|s| (edit_distance(&wanted, &s.name), s.name.as_str()))
            .filter(|&(d, n)| d <= 2 || n.starts_with(&wanted))
            .collect();
        suggestions.sort();
        Err(RegistryError::Unknown {
            name: name.to_string(),
            suggestions: suggestions
                .into_iter()
                .take(3)
                .map(|(_, n)| n.to_string())
                .collect(),
        })
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The spec of a built-in model.
pub fn spec(name: &str) -> Result<&'static ModelSpec> {
    Registry::builtin().get(name)
}

/// The checkpoint cache: `$EARSHOT_HOME/models`, else `$XDG_CACHE_HOME/earshot/models`, else
/// `$HOME/.cache/earshot/models`. Empty variables count as unset.
pub fn models_dir() -> Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(home) = var("EARSHOT_HOME") {
        return Ok(PathBuf::from(home).join("models"));
    }
    if let Some(cache) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(cache).join("earshot/models"));
    }
    var("HOME")
        .map(|home| PathBuf::from(home).join(".cache/earshot/models"))
        .ok_or(RegistryError::NoCacheDir)
}

/// The cached checkpoint of model `name`, or an error saying how to get it (run
/// `earshot models fetch NAME`, or pass `--checkpoint PATH`). Never downloads.
pub fn resolve_checkpoint(name: &str) -> Result<PathBuf> {
    let spec = spec(name)?;
    let path = spec.cached_path()?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(RegistryError::NotFetched {
            name: spec.name.clone(),
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("cnn15", "cnn14"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
