//! Arguments of `earshot eval run` (run in `earshot-torch`: crates/torch/src/eval_run.rs).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::model_args::ModelArgs;

/// Datasets `eval run` knows the layout of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetKind {
    /// AudioSet tagging (527 classes).
    Audioset,
    /// FSD50K tagging (200 classes, through the AudioSet mids).
    Fsd50k,
    /// DCASE Task 4 (DESED) sound event detection.
    Desed,
    /// ESC-50 clip classification (linear probe, 5 folds).
    Esc50,
    /// DCASE 2022 Task 1 (TAU Urban Acoustic Scenes 2022 Mobile), linear probe on fold 1.
    Tau2022,
}

/// Arguments of `earshot eval run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which dataset layout `--root` holds.
    #[arg(long, value_enum)]
    pub dataset: DatasetKind,
    /// The dataset's top folder.
    #[arg(long)]
    pub root: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Directory for the system output (predictions, scores, ground truth as evaluated).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Split: `eval` (default) for AudioSet/FSD50K/DESED, or `balanced_train`,
    /// `unbalanced_train` (AudioSet), `dev` (FSD50K), `validation` (DESED).
    #[arg(long, default_value = "eval")]
    pub split: String,
    /// Clips of equal length per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// DESED: decision threshold for the submitted detections.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// DESED: median filter length in frames before thresholding.
    #[arg(long, default_value_t = 7)]
    pub median_filter: usize,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}
