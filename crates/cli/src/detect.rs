//! `earshot detect`: framewise probabilities of a DecisionLevel model turned into events.
//!
//! Post-processing as the DCASE baselines do it: a median filter over time on each class's
//! probabilities (`--median-filter` frames, scipy `reflect` edges; 1 turns it off), then per-class
//! thresholds (`--threshold`, one value or a `mid_or_name=value` list), then contiguous runs of
//! frames become events. TSV output is the DCASE submission format
//! (`filename onset offset event_label`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use crate::model_args::ModelArgs;
use earshot_core::labels::Labels;

/// Output formats of `detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectFormat {
    /// DCASE TSV: `filename onset offset event_label`.
    Tsv,
    /// One JSON array of per-file objects with their events.
    Json,
    /// Audacity label track (`start<TAB>end<TAB>label`, as File > Import > Labels reads it): one
    /// `<stem>.txt` per input in the `-o` folder (standard output for one input).
    Audacity,
    /// Raven selection table (tab-separated: Selection, View, Channel, Begin Time (s), End Time
    /// (s), Low Freq (Hz), High Freq (Hz), Annotation, Score, Begin Path, File Offset (s)): one
    /// table for every input (`-o FILE` or standard output), or one
    /// `<stem>.selections.txt` per input when `-o` is a folder.
    Raven,
}

/// What `detect` and `report` share: the inputs, the model and how scores become events.
#[derive(Debug, Args, Clone)]
pub struct Detection {
    /// Audio files or directories (recursed).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Detection threshold: one value for every class, or comma-separated `label=value` pairs
    /// (label = mid or display name) with an optional bare default, e.g. `0.3,Speech=0.6`.
    #[arg(long, default_value = "0.5")]
    pub threshold: String,
    /// Median filter length in frames (10 ms each for PANNs); 1 disables it.
    #[arg(long, default_value_t = 7)]
    pub median_filter: usize,
}

/// Arguments of `earshot detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub detection: Detection,
    /// Output format.
    #[arg(long, value_enum, default_value = "tsv")]
    pub format: DetectFormat,
    /// Add the framewise matrix (frames × classes) and frame times to JSON output.
    #[arg(long)]
    pub all_scores: bool,
    /// Draw the log-mel spectrogram, the top classes' framewise probabilities and the events to
    /// this PNG (one input only).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also write the review page (one self-contained HTML file; see `earshot report`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub page_audio: PageAudio,
    /// Write the review page only (`earshot report`).
    #[arg(skip)]
    pub report_only: bool,
}

/// How the review page carries each file's audio.
#[derive(Debug, Clone, Args)]
pub struct PageAudio {
    /// In the review page, link each file's audio by its path relative to the page instead of
    /// embedding it (large batches).
    #[arg(long)]
    pub link_audio: bool,
    /// How the review page embeds audio: Ogg Vorbis at the model's sample rate (about a tenth
    /// of a WAV's size), or 16 kHz 16-bit WAV for a browser without Vorbis.
    #[arg(long, value_enum, default_value_t = EmbedAudio::Ogg)]
    pub embed_audio: EmbedAudio,
}

/// Audio formats the review page embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbedAudio {
    /// Ogg Vorbis (libvorbis quality 3).
    Ogg,
    /// 16 kHz 16-bit PCM WAV.
    Wav,
}

/// Arguments of `earshot report`: detection with the review page as the output.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub detection: Detection,
    #[command(flatten)]
    pub page_audio: PageAudio,
    /// The HTML page to write.
    #[arg(short, long)]
    pub output: PathBuf,
}

impl ReportArgs {
    /// The `detect` run that writes this page and nothing else.
    pub fn detect(&self) -> DetectArgs {
        DetectArgs {
            detection: self.detection.clone(),
            format: DetectFormat::Tsv,
            all_scores: false,
            plot: None,
            output: None,
            report: Some(self.output.clone()),
            page_audio: self.page_audio.clone(),
            report_only: true,
        }
    }
}

/// Per-class thresholds from the `--threshold` text.
pub fn parse_thresholds(text: &str, labels: &Labels, classes: usize) -> Result<Vec<f32>> {
    let mut default = 0.5f32;
    let mut specific = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.rsplit_once('=') {
            None => {
                default = part
                    .parse()
                    .with_context(|| format!("--threshold: {part:?} is not a number"))?
            }
            Some((label, value)) => {
                let value: f32 = value
                    .parse()
                    .with_context(|| format!("--threshold: {value:?} is not a number"))?;
                let index = labels
                    .iter()
                    .find(|l| l.mid == label || l.name.eq_ignore_ascii_case(label))
                    .with_context(|| format!("--threshold: no class {label:?}"))?
                    .index;
                specific.push((index, value));
            }
        }
    }
    let mut out = vec![default; classes];
    for (i, v) in specific {
        if i < classes {
            out[i] = v;
        }
    }
    Ok(out)
}

/// One detected event as the label writers take it.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    /// Onset, seconds.
    pub onset: f64,
    /// Offset, seconds.
    pub offset: f64,
    /// Class name.
    pub label: &'a str,
    /// The event's score.
    pub score: f32,
}

/// An Audacity label track: `start<TAB>end<TAB>label` lines, times with six decimals as
/// Audacity exports them.
pub fn audacity_labels(events: &[Labelled<'_>]) -> String {
    let mut s = String::new();
    for e in events {
        let _ = writeln!(s, "{:.6}\t{:.6}\t{}", e.onset, e.offset, e.label);
    }
    s
}

/// The columns of a Raven selection table, in Raven Pro's order.
pub const RAVEN_COLUMNS: [&str; 11] = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Annotation",
    "Score",
    "Begin Path",
    "File Offset (s)",
];

/// A Raven selection table of the events of each file: selections numbered from 1 in table
/// order, spectrogram view, channel 1, the whole band 0 to `nyquist` Hz; Begin Path is the
/// file's absolute path, so one table can cover several recordings.
pub fn raven_table(files: &[(&Path, Vec<Labelled<'_>>)], nyquist: f64) -> String {
    let mut s = RAVEN_COLUMNS.join("\t");
    s.push('\n');
    let mut n = 0;
    for (path, events) in files {
        let begin = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        for e in events {
            n += 1;
            let _ = writeln!(
                s,
                "{n}\tSpectrogram 1\t1\t{:.6}\t{:.6}\t0.0\t{nyquist:.1}\t{}\t{:.4}\t{}\t{:.6}",
                e.onset,
                e.offset,
                e.label,
                e.score,
                begin.display(),
                e.onset
            );
        }
    }
    s
}

/// The per-input file a label writer makes in the `-o` folder.
pub fn label_file(dir: &Path, input: &Path, suffix: &str) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or_else(|| "audio".into(), |s| s.to_string_lossy().into_owned());
    dir.join(format!("{stem}{suffix}"))
}
