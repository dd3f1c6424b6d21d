//! `earshot train`: a classifier head on a backbone's clip embeddings, from a labelled folder or
//! a label file (arguments here, the run in earshot-torch's `train`). The output folder is a
//! model (`model.toml` + `head.safetensors`, see earshot-core's `registry::trained`) that
//! `tag`, `detect`, `embed` and `eval run` take with `--model DIR`, beside its validation
//! report: `report.txt` (also printed), `report.json`, `validation.csv` (each validation file's
//! probabilities), `split.csv` (which file went where) and, for single-label heads,
//! `confusion.png`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use earshot_core::outputs::top_k;

use crate::model_args::ModelArgs;

/// Head architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HeadArg {
    /// Logistic regression on the embedding.
    Linear,
    /// One hidden ReLU layer with dropout.
    Mlp,
}

/// Loss weighting across classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClassWeightArg {
    /// Rare classes weigh more: n / (classes × count), as scikit-learn's `balanced`.
    Balanced,
    /// Every file counts the same.
    None,
}

/// Which epoch's weights the model keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeepArg {
    /// The best validation score (ties: the lower validation loss).
    Best,
    /// The last epoch run.
    Last,
}

/// `earshot train` arguments.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Data folder: one subfolder per label (files at any depth); `background` and `noise`
    /// subfolders hold negatives. Not needed with `--labels`.
    pub data: Option<PathBuf>,
    /// Label file instead of folders: CSV `filename,labels` (labels `;`-separated) or a DCASE
    /// weak-label TSV (`filename<TAB>event_labels`); paths relative to `--root`.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Folder the label file's paths are relative to (default: the label file's folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Train on embeddings already computed (`earshot embed -o X.parquet`) instead of audio:
    /// rows are matched to `--labels` by their `file` column.
    #[arg(long, requires = "labels")]
    pub embeddings: Option<PathBuf>,
    /// Output folder: the trained model.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The model's name in its card (default: the output folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Also install the model in the cache, so `--model NAME` finds it.
    #[arg(long)]
    pub install: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Hidden state of layered backbones (wav2vec 2.0, HuBERT, WavLM): `last` or an index.
    #[arg(long, default_value = "last")]
    pub layer: String,
    /// Subfolder name holding negatives (files with no label), besides background/noise.
    #[arg(long = "negative")]
    pub negatives: Vec<String>,
    /// Sigmoid outputs (several labels per file) even when every file has one label.
    #[arg(long)]
    pub multi_label: bool,
    /// Head architecture.
    #[arg(long, value_enum, default_value = "linear")]
    pub head: HeadArg,
    /// Hidden units of the MLP head.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Dropout after the MLP's hidden layer.
    #[arg(long, default_value_t = 0.2)]
    pub dropout: f64,
    /// Maximum epochs.
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// L2 penalty on the weights (weight_decay / 2 · ΣW² added to the loss).
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Seed of the split, the initial weights, the batch order and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Loss weighting across classes.
    #[arg(long, value_enum, default_value = "balanced")]
    pub class_weight: ClassWeightArg,
    /// Share of the files held out for validation, stratified by label set.
    #[arg(long, default_value_t = 0.2)]
    pub val: f64,
    /// Validation folder (same layout as DATA) instead of a split.
    #[arg(long)]
    pub val_dir: Option<PathBuf>,
    /// Stop after this many epochs without a better validation score (0: run all epochs).
    #[arg(long, default_value_t = 10)]
    pub patience: usize,
    /// Which weights to keep: the epoch with the best validation score, or the last epoch's.
    #[arg(long, value_enum, default_value = "best")]
    pub keep: KeepArg,
    /// Train on windows of this many seconds of each file (long recordings), each with the
    /// file's labels; the model then tags and detects window by window.
    #[arg(long)]
    pub window: Option<f64>,
    /// Hop between windows, seconds (default: the window).
    #[arg(long, requires = "window")]
    pub hop: Option<f64>,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    pub no_cache: bool,
}

impl TrainArgs {
    /// Settings that cannot be told apart by clap.
    pub fn validate(&self) -> anyhow::Result<()> {
        match (&self.data, &self.labels) {
            (None, None) => anyhow::bail!("give a data folder, or --labels FILE"),
            (Some(d), Some(_)) => {
                anyhow::bail!("{}: give a data folder or --labels, not both", d.display())
            }
            _ => {}
        }
        if !(0.0..1.0).contains(&self.val) {
            anyhow::bail!("--val {}: a share in [0, 1)", self.val);
        }
        if self.layer != "last" && self.layer.parse::<usize>().is_err() {
            anyhow::bail!("--layer {:?}: last or an index", self.layer);
        }
        if self.epochs == 0 || self.batch_size == 0 {
            anyhow::bail!("--epochs and --batch-size must be at least 1");
        }
        if self.window.is_some_and(|w| w <= 0.0) || self.hop.is_some_and(|h| h <= 0.0) {
            anyhow::bail!("--window and --hop are positive seconds");
        }
        Ok(())
    }
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassScores {
    /// Class name.
    pub label: String,
    /// Validation files with the label.
    pub support: usize,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Average precision (multi-label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_precision: Option<f64>,
}

/// The validation report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether the head is multi-label.
    pub multi_label: bool,
    /// Validation files.
    pub files: usize,
    /// Accuracy (single-label) or exact-match ratio at 0.5 (multi-label).
    pub accuracy: f64,
    /// Mean of the per-class F1.
    pub macro_f1: f64,
    /// Mean average precision over classes with positives (multi-label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<f64>,
    /// Per class.
    pub classes: Vec<ClassScores>,
    /// Rows: true class, columns: predicted (single-label).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confusion: Vec<Vec<usize>>,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl Report {
    /// Score probabilities (`probs[file][class]`) against label sets: single-label by arg-max,
    /// multi-label at 0.5 (and AP per class).
    pub fn new(
        labels: &[String],
        truth: &[Vec<usize>],
        probs: &[Vec<f32>],
        multi_label: bool,
    ) -> Report {
        let k = labels.len();
        let predicted: Vec<Vec<usize>> = (probs.iter())
            .map(|p| {
                if multi_label {
                    (0..k).filter(|&c| p[c] >= 0.5).collect()
                } else {
                    top_k(p, 1).into_iter().map(|(c, _)| c).collect()
                }
            })
            .collect();
        let mut confusion = vec![vec![0usize; k]; if multi_label { 0 } else { k }];
        if !multi_label {
            for (t, p) in truth.iter().zip(&predicted) {
                if let (Some(&t), Some(&p)) = (t.first(), p.first()) {
                    confusion[t][p] += 1;
                }
            }
        }
        let classes: Vec<ClassScores> = (0..k)
            .map(|c| {
                let (mut tp, mut fp, mut fneg) = (0, 0, 0);
                for (t, p) in truth.iter().zip(&predicted) {
                    match (t.contains(&c), p.contains(&c)) {
                        (true, true) => tp += 1,
                        (false, true) => fp += 1,
                        (true, false) => fneg += 1,
                        _ => {}
                    }
                }
                let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fneg));
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                let average_precision = multi_label
                    .then(|| {
                        let t: Vec<bool> = truth.iter().map(|l| l.contains(&c)).collect();
                        let s: Vec<f64> = probs.iter().map(|p| f64::from(p[c])).collect();
                        earshot_core::metrics::tagging::average_precision(&t, &s).ok()
                    })
                    .flatten();
                ClassScores {
                    label: labels[c].clone(),
                    support: tp + fneg,
                    precision,
                    recall,
                    f1,
                    average_precision,
                }
            })
            .collect();
        let exact = truth.iter().zip(&predicted).filter(|(t, p)| t == p).count();
        let aps: Vec<f64> = classes.iter().filter_map(|c| c.average_precision).collect();
        Report {
            multi_label,
            files: truth.len(),
            accuracy: ratio(exact, truth.len()),
            macro_f1: classes.iter().map(|c| c.f1).sum::<f64>() / k.max(1) as f64,
            map: (!aps.is_empty()).then(|| aps.iter().sum::<f64>() / aps.len() as f64),
            classes,
            confusion,
        }
    }

    /// The report as a person reads it.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let what = if self.multi_label {
            "exact-match ratio"
        } else {
            "accuracy"
        };
        let _ = writeln!(s, "validation: {} files", self.files);
        let _ = writeln!(s, "  {what:<18} {:.4}", self.accuracy);
        let _ = writeln!(s, "  {:<18} {:.4}", "macro F1", self.macro_f1);
        if let Some(m) = self.map {
            let _ = writeln!(s, "  {:<18} {m:.4}", "mAP");
        }
        let width = self
            .classes
            .iter()
            .map(|c| c.label.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            s,
            "\n  {:<width$}  support  precision  recall      F1{}",
            "class",
            if self.multi_label { "      AP" } else { "" }
        );
        for c in &self.classes {
            let _ = write!(
                s,
                "  {:<width$}  {:>7}  {:>9.4}  {:>6.4}  {:>6.4}",
                c.label, c.support, c.precision, c.recall, c.f1
            );
            if let Some(ap) = c.average_precision {
                let _ = write!(s, "  {ap:>6.4}");
            }
            s.push('\n');
        }
        if !self.confusion.is_empty() {
            let _ = writeln!(s, "\n  confusion (rows: true, columns: predicted)");
            for (label, row) in self.classes.iter().zip(&self.confusion) {
                let cells: Vec<String> = row.iter().map(|n| format!("{n:>5}")).collect();
                let _ = writeln!(s, "  {:<width$} {}", label.label, cells.join(""));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_label_report_counts() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let truth = vec![vec![0], vec![0], vec![1], vec![1]];
        let probs = vec![
            vec![0.9, 0.1],
            vec![0.2, 0.8],
            vec![0.3, 0.7],
            vec![0.4, 0.6],
        ];
        let r = Report::new(&labels, &truth, &probs, false);
        assert_eq!(r.accuracy, 0.75);
        assert_eq!(r.confusion, [[1, 1], [0, 2]]);
        assert_eq!((r.classes[0].precision, r.classes[0].recall), (1.0, 0.5));
        assert!((r.classes[1].f1 - 0.8).abs() < 1e-12);
        assert!(r.text().contains("accuracy           0.7500"));
    }
}
