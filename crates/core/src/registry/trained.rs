//! Models a user trained (`earshot train`): a folder holding a card, `model.toml`, and the head's
//! weights, `head.safetensors`. The card names the backbone (its registry name, the checkpoint
//! given and that checkpoint's sha256), how clip embeddings were taken (layer, windows, mean
//! pooling), the head, its labels, what it was trained on and how it scored on validation.
//!
//! `--model` takes such a folder wherever it takes a registry name, or the name of one installed
//! in the cache (`earshot train --install`, listed by `earshot models list`):
//! `<cache>/trained/<name>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The card's file name inside a model folder.
pub const CARD_FILE: &str = "model.toml";
/// The head's weights inside a model folder.
pub const HEAD_FILE: &str = "head.safetensors";

/// Problems with a trained model's folder.
#[derive(Debug, thiserror::Error)]
pub enum TrainedError {
    /// The folder or card cannot be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The card is not valid.
    #[error("{path}: {reason}")]
    Card {
        /// The card.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// See [`super::RegistryError`].
    #[error(transparent)]
    Registry(#[from] super::RegistryError),
}

type Result<T> = std::result::Result<T, TrainedError>;

/// The backbone a head was trained on, and how its clip embeddings were taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackboneRef {
    /// Registry name of the backbone (`yamnet-w8a8`, `cnn14`, ...).
    pub model: String,
    /// The checkpoint given with `--checkpoint` at training time (absent: the card's cached
    /// download).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
    /// sha256 of that checkpoint file; a different file is refused at load.
    pub sha256: String,
    /// Hidden state: `last` or an index.
    pub layer: String,
    /// How frames become a clip embedding: `mean`.
    pub pooling: String,
    /// Training on windows of this many seconds (long recordings), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<f64>,
    /// Hop between windows (seconds), with `window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<f64>,
    /// Size of one embedding.
    pub embedding_dim: usize,
}

/// The classifier head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadSpec {
    /// `linear` or `mlp`.
    pub kind: String,
    /// Hidden units of the MLP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
    /// Dropout before the output layer (training only).
    pub dropout: f64,
    /// Sigmoid outputs (multi-label) rather than a softmax.
    pub multi_label: bool,
}

/// What the head was trained on and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// The data folder or label file.
    pub data: String,
    /// Files used (train + validation), negatives included.
    pub files: usize,
    /// Training files.
    pub train_files: usize,
    /// Validation files.
    pub val_files: usize,
    /// Files without a label.
    pub negatives: usize,
    /// Audio files that could not be read and were left out.
    pub skipped: usize,
    /// Epochs run (early stopping may end before `--epochs`).
    pub epochs: usize,
    /// The epoch whose weights were kept (best validation score), 1-based.
    pub best_epoch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 penalty on the weights.
    pub weight_decay: f64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Random seed (initialisation, shuffling, split, dropout).
    pub seed: u64,
    /// `balanced` or `none`.
    pub class_weight: String,
    /// Training files per class.
    pub class_counts: BTreeMap<String, usize>,
}

/// `model.toml` of a trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedCard {
    /// The model's name (the folder's, unless given).
    pub name: String,
    /// earshot version that trained it.
    pub earshot_version: String,
    /// Class names in output order.
    pub labels: Vec<String>,
    /// The backbone.
    pub backbone: BackboneRef,
    /// The head.
    pub head: HeadSpec,
    /// The training run.
    pub training: TrainingSummary,
    /// Validation scores of the kept weights (`accuracy`, `macro_f1`, `map`, ...).
    pub validation: BTreeMap<String, f64>,
}

impl TrainedCard {
    /// Read `dir/model.toml`.
    pub fn read(dir: &Path) -> Result<TrainedCard> {
        let path = dir.join(CARD_FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| TrainedError::Io {
            path: path.clone(),
            error,
        })?;
        let card: TrainedCard = toml::from_str(&text).map_err(|e| TrainedError::Card {
            path: path.clone(),
            reason: e.message().to_string(),
        })?;
        if card.labels.len() < 2 {
            return Err(TrainedError::Card {
                path,
                reason: format!("{} labels; a head has two or more", card.labels.len()),
            });
        }
        Ok(card)
    }

    /// Write `dir/model.toml` (atomically).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(CARD_FILE);
        let text = toml::to_string(self).map_err(|e| TrainedError::Card {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = dir.join(format!(".{CARD_FILE}.tmp"));
        let io = |error| TrainedError::Io {
            path: path.clone(),
            error,
        };
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

/// Where installed trained models live: `<checkpoint cache>/trained`.
pub fn trained_dir() -> Result<PathBuf> {
    Ok(super::models_dir()?.join("trained"))
}

/// The trained model `name` stands for: a folder holding `model.toml`, or the name of one
/// installed in [`trained_dir`]. `None`: not a trained model (a registry name, perhaps).
pub fn find(name: &str) -> Option<PathBuf> {
    let dir = Path::new(name);
    if dir.join(CARD_FILE).is_file() {
        return Some(dir.to_path_buf());
    }
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return None;
    }
    let installed = trained_dir().ok()?.join(name);
    installed.join(CARD_FILE).is_file().then_some(installed)
}

/// Installed trained models, by name.
pub fn installed() -> Result<Vec<(PathBuf, TrainedCard)>> {
    let dir = trained_dir()?;
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.join(CARD_FILE).is_file() {
            out.push((path.clone(), TrainedCard::read(&path)?));
        }
    }
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(out)
}

/// Copy a trained model folder's card and head into [`trained_dir`] under its card's name;
/// returns the installed folder.
pub fn install(dir: &Path) -> Result<PathBuf> {
    let card = TrainedCard::read(dir)?;
    if card.name.is_empty() || card.name.contains(['/', '\\']) || card.name.starts_with('.') {
        return Err(TrainedError::Card {
            path: dir.join(CARD_FILE),
            reason: format!("name {:?} cannot be a folder name", card.name),
        });
    }
    let target = trained_dir()?.join(&card.name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| TrainedError::Io { path, error }
    };
    std::fs::create_dir_all(&target).map_err(io(&target))?;
    for file in [HEAD_FILE, CARD_FILE] {
        let to = target.join(file);
        std::fs::copy(dir.join(file), &to).map_err(io(&to))?;
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn card() -> TrainedCard {
        TrainedCard {
            name: "birds".into(),
            earshot_version: "0.1.0".into(),
            labels: vec!["a".into(), "b".into()],
            backbone: BackboneRef {
                model: "yamnet".into(),
                checkpoint: None,
                sha256: "00".into(),
                layer: "last".into(),
                pooling: "mean".into(),
                window: Some(1.0),
                hop: None,
                embedding_dim: 1024,
            },
            head: HeadSpec {
                kind: "linear".into(),
                hidden: None,
                dropout: 0.0,
                multi_label: false,
            },
            training: TrainingSummary {
                data: "data".into(),
                files: 10,
                train_files: 8,
                val_files: 2,
                negatives: 0,
                skipped: 0,
                epochs: 3,
                best_epoch: 2,
                lr: 1e-3,
                weight_decay: 1e-4,
                batch_size: 32,
                seed: 0,
                class_weight: "balanced".into(),
                class_counts: [("a".to_string(), 4), ("b".to_string(), 4)].into(),
            },
            validation: [("accuracy".to_string(), 0.5)].into(),
        }
    }

    #[test]
    fn card_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let c = card();
        c.write(dir.path()).unwrap();
        assert_eq!(TrainedCard::read(dir.path()).unwrap(), c);
        assert_eq!(
            find(dir.path().to_str().unwrap()),
            Some(dir.path().to_path_buf())
        );
        std::fs::write(dir.path().join(CARD_FILE), "name = 3\n").unwrap();
        let err = TrainedCard::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("model.toml: "), "{err}");
    }
}
