//! `earshot detect`: framewise probabilities of a DecisionLevel model turned into events.
//!
//! Post-processing as the DCASE baselines do it: a median filter over time on each class's
//! probabilities (`--median-filter` frames, scipy `reflect` edges; 1 turns it off), then per-class
//! thresholds (`--threshold`, one value or a `mid_or_name=value` list), then contiguous runs of
//! frames become events. TSV output is the DCASE submission format
//! (`filename onset offset event_label`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::infer::{for_each_clip, Backbone, ModelArgs};
use super::tag::emit;
use super::{expand_inputs, progress, report, Cli};
use crate::models::labels::Labels;
use crate::tasks::{events, median_filter, ClipOutput, Event};

/// Output formats of `detect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectFormat {
    /// DCASE TSV: `filename onset offset event_label`.
    Tsv,
    /// One JSON array of per-file objects with their events.
    Json,
}

/// Arguments of `earshot detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
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
}

/// Per-class thresholds from the `--threshold` text.
fn parse_thresholds(text: &str, labels: &Labels, classes: usize) -> Result<Vec<f32>> {
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

#[derive(Serialize)]
struct EventOut<'a> {
    onset: f64,
    offset: f64,
    event_label: &'a str,
    mid: &'a str,
    index: usize,
    score: f32,
}

#[derive(Serialize)]
struct FileEvents<'a> {
    file: String,
    duration: f64,
    model: &'a str,
    events: Vec<EventOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frame_times: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    framewise: Option<Vec<&'a [f32]>>,
}

/// Events of one clip after filtering and thresholds.
pub(crate) fn detect_events(out: &ClipOutput, thresholds: &[f32], median: usize) -> Vec<Event> {
    let (frames, classes) = (out.frames(), out.classes());
    let framewise = out.framewise.as_deref().unwrap_or_default();
    let filtered = median_filter(framewise, frames, classes, median);
    events(
        &filtered,
        frames,
        classes,
        thresholds,
        out.frame_hop,
        out.duration,
    )
}

/// Run `earshot detect`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &DetectArgs) -> Result<usize> {
    if let Some(o) = &args.output {
        if super::shard::already_done(&super::shard::output_path(o)) {
            return Ok(0);
        }
    }
    let device = crate::device::resolve(cli.device)?;
    let backbone = Backbone::load(&args.model, device)?;
    if !backbone.is_sed() {
        bail!(
            "model {} gives no framewise output; use a DecisionLevel model (cnn14-decisionlevelmax)",
            backbone.name
        );
    }
    let labels = backbone.labels()?;
    let files = expand_inputs(&args.inputs);
    if args.plot.is_some() && files.len() != 1 {
        bail!("--plot draws one file; {} inputs given", files.len());
    }
    let bar = progress(files.len(), "detect");
    let mut results: Vec<(PathBuf, ClipOutput, Vec<Event>)> = Vec::new();
    let mut failed = 0;
    let mut thresholds: Option<Vec<f32>> = None;
    for_each_clip(files, backbone.sample_rate(), |path, wave| {
        let result = wave.and_then(|w| {
            let out = backbone.run(&w.samples)?;
            let th = match &thresholds {
                Some(t) => t.clone(),
                None => {
                    let t = parse_thresholds(&args.threshold, labels, out.classes())?;
                    thresholds = Some(t.clone());
                    t
                }
            };
            let ev = detect_events(&out, &th, args.median_filter);
            if let Some(plot) = &args.plot {
                let (mel, bins) = backbone.logmel(&w.samples)?;
                crate::cli::plot::detection_png(plot, &mel, bins, &out, &ev, labels)?;
            }
            Ok((out, ev))
        });
        match result {
            Ok((out, ev)) => results.push((path.to_path_buf(), out, ev)),
            Err(e) => {
                bar.suspend(|| report(path, &format!("{e:#}")));
                failed += 1;
            }
        }
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();

    let name = |i: usize| labels.get(i).map_or("?", |l| l.name.as_str());
    let mut buf = Vec::new();
    match args.format {
        DetectFormat::Tsv => {
            writeln!(buf, "filename\tonset\toffset\tevent_label")?;
            for (path, _, ev) in &results {
                let file = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                for e in ev {
                    writeln!(
                        buf,
                        "{file}\t{:.3}\t{:.3}\t{}",
                        e.onset,
                        e.offset,
                        name(e.class)
                    )?;
                }
            }
        }
        DetectFormat::Json => {
            let items: Vec<FileEvents> = results
                .iter()
                .map(|(path, out, ev)| FileEvents {
                    file: path.display().to_string(),
                    duration: out.duration,
                    model: &backbone.name,
                    events: ev
                        .iter()
                        .map(|e| EventOut {
                            onset: e.onset,
                            offset: e.offset,
                            event_label: name(e.class),
                            mid: labels.get(e.class).map_or("?", |l| l.mid.as_str()),
                            index: e.class,
                            score: e.score,
                        })
                        .collect(),
                    frame_times: args.all_scores.then(|| {
                        (0..out.frames())
                            .map(|t| t as f64 * out.frame_hop)
                            .collect()
                    }),
                    framewise: args.all_scores.then(|| {
                        out.framewise
                            .as_deref()
                            .unwrap_or_default()
                            .chunks(out.classes())
                            .collect()
                    }),
                })
                .collect();
            serde_json::to_writer(&mut buf, &items)?;
            buf.push(b'\n');
        }
    }
    emit(args.output.as_deref(), &buf)?;
    Ok(failed)
}
