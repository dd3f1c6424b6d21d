//! `earshot eval`: score system outputs against AudioSet/DCASE ground truth with the metrics of
//! [`earshot_core::metrics`].
//!
//! Subcommands: `tagging` (AP/mAP, AUC, d′, lwlrap), `sed` (sed_eval event/segment F,
//! intersection F, PSDS1/PSDS2 through psds_eval operating points or sed_scores_eval score
//! tables) and `scenes` (accuracy, class-wise accuracy, log loss). Each prints a table, or JSON
//! with `--json`. Metadata problems are printed as `warning: <file>:<line>: …` and the run goes
//! on; inputs a reference package would reject end the run with `error: <file>: <problem>`.
//! `run` (model inference over a dataset, then these metrics) lives in `eval_run.rs`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use rayon::prelude::*;
use serde_json::json;

use earshot_core::datasets::{self, dcase, event_list, Issue};
use earshot_core::metrics::{
    audio_tag, psds_eval, scenes, sed_eval, sed_scores, segments, tagging, PsdRoc, PsdsParams,
    TimeUnit,
};

/// Arguments of `earshot eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: EvalCommand,
}

/// The evaluation tasks.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Clip tagging: per-class AP (sklearn), mAP, ROC-AUC, d′ (PANNs), lwlrap.
    Tagging(TaggingArgs),
    /// Sound event detection: sed_eval event/segment F1, intersection F1, PSDS1/PSDS2.
    Sed(SedArgs),
    /// Acoustic scenes: accuracy, class-wise accuracy, log loss, McNemar's test.
    Scenes(ScenesArgs),
    /// Audio tagging from tag lists, as sed_eval.audio_tag: F, precision, recall, EER per tag.
    Tags(TagsArgs),
    /// Run a model over a dataset in its official layout, write the system output and score it.
    Run(super::eval_run::RunArgs),
}

/// Arguments of `earshot eval tagging`.
#[derive(Debug, Args)]
pub struct TaggingArgs {
    /// Ground truth: a clips × classes `.npy` (non-zero = positive), a weak-label TSV
    /// (`filename`, `event_labels` comma-separated) or a sed_eval tag list (`filename tags`).
    #[arg(long)]
    pub ground_truth: PathBuf,
    /// Scores: a clips × classes `.npy`, or a TSV with `filename` and one column per class.
    #[arg(long)]
    pub scores: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `earshot eval sed`.
#[derive(Debug, Args)]
pub struct SedArgs {
    /// Reference events: a DESED TSV (`filename onset offset event_label`), any sed_eval event
    /// list (3, 4 or 5 columns; tab, comma, semicolon or space; header optional; Audacity
    /// labels, Raven selection tables), or a folder of per-recording lists.
    #[arg(long)]
    pub ground_truth: PathBuf,
    /// Durations TSV (`filename duration`). Needed for PSDS and intersection F1, and for
    /// `--all-files` and `--evaluated-length durations`.
    #[arg(long)]
    pub durations: Option<PathBuf>,
    /// Detections, in any layout --ground-truth takes: one list per operating point (F1 metrics
    /// use the first). A folder of DESED TSVs means every `.tsv` in it, sorted, one operating
    /// point each; a folder of per-recording lists is one event list.
    #[arg(long, num_args = 1.., conflicts_with = "scores", required_unless_present = "scores")]
    pub predictions: Vec<PathBuf>,
    /// Directory of sed_scores_eval score tables (`<clip id>.tsv`): exact, threshold-free PSDS.
    #[arg(long)]
    pub scores: Option<PathBuf>,
    /// PSDS scenario 1 (dtc = gtc = 0.7, α_st = 1).
    #[arg(long)]
    pub psds1: bool,
    /// PSDS scenario 2 (dtc = gtc = 0.1, cttc = 0.3, α_ct = 0.5, α_st = 1).
    #[arg(long)]
    pub psds2: bool,
    /// Any PSDS scenario, as `dtc=0.5,gtc=0.5,cttc=0.3,alpha_ct=0,alpha_st=0,max_efpr=100`
    /// (keys left out take those values) with an optional `name=…` (default: the text
    /// itself), or a preset name (`psds1`, `psds2`). With --scores also sed_scores_eval's
    /// `unit_of_time=second|minute|hour` (what max_efpr and the eFPR count per; hour) and
    /// `time_decimals=6`. Repeatable; each is reported under its name.
    #[arg(long = "psds", value_name = "PARAMS")]
    pub psds: Vec<String>,
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    /// Post-processing-independent PSDS over median filters (sed_scores_eval's
    /// `median_filter_independent_psds`): the --scores tables median-filtered with each length
    /// in seconds (`0,0.2,0.5,1`; 0 leaves them as they are), and each PSDS scenario's piPSDS
    /// over them, with each filter's own PSDS.
    #[arg(
        long,
        value_name = "SECONDS,…",
        value_delimiter = ',',
        requires = "scores",
        conflicts_with = "pi_scores"
    )]
    pub median_filters: Vec<f64>,
    /// Post-processing-independent PSDS over other post-processings of the same clips
    /// (`postprocessing_independent_psds`): folders of score tables, taken together with
    /// --scores. Repeatable.
    #[arg(long, value_name = "DIR", requires = "scores")]
    pub pi_scores: Vec<PathBuf>,
    /// psds_eval's operating-point selection per class (`select_operating_points_per_class`):
    /// `CLASS:tpr=0.8` (lowest eFPR with TPR ≥ 0.8), `CLASS:fpr=30` or `CLASS:efpr=30` (highest
    /// TPR with at most that many per hour), `CLASS:fscore` (best F). Repeatable; operating
    /// points (--predictions) only, under the first PSDS scenario's dtc/gtc/cttc (psds_eval's
    /// defaults 0.5/0.5/0.3 when none is asked for).
    #[arg(long, value_name = "CLASS:CONSTRAINT", conflicts_with = "scores")]
    pub select: Vec<String>,
    /// The α_ct of the eFPR that --select uses.
    #[arg(long, default_value_t = 0.0)]
    pub select_alpha_ct: f64,
    /// Union overlapping (or touching) ground-truth events of the same class in a clip before
    /// scoring, and say how many were merged; psds_eval and sed_scores_eval refuse them.
    #[arg(long)]
    pub merge_overlapping: bool,
    /// sed_eval event-based metrics (`EventBasedMetrics`; by default the DESED settings: 200 ms
    /// collar, 20 % offset, zero_score). Like the DESED baseline, it scores only the files the
    /// ground truth lists: detections in other files (even ones in --durations) are dropped
    /// unless --all-files is given.
    #[arg(long)]
    pub event_f1: bool,
    /// sed_eval segment-based metrics (`SegmentBasedMetrics`: F, ER, sensitivity, specificity,
    /// balanced accuracy, accuracy); scores the same files as --event-f1.
    #[arg(long)]
    pub segment_f1: bool,
    /// Score every file in --durations with the sed_eval metrics: a file without reference
    /// events adds its detections as insertions (false alarms). PSDS always covers every file.
    #[arg(long, requires = "durations")]
    pub all_files: bool,
    /// Intersection-based F1 (dtc = gtc = 0.5): psds_eval on predictions, sed_scores_eval on
    /// scores.
    #[arg(long)]
    pub intersection_f1: bool,
    /// Clip-based metrics of the --scores tables (sed_scores_eval's `clip_based`: a clip's
    /// score is its highest frame's): each class's average precision and best F1 over every
    /// threshold (with that threshold), macro and micro averages, and F1 at --threshold.
    #[arg(long, requires = "scores")]
    pub clip_based: bool,
    /// Segment-based metrics of the --scores tables over every threshold (sed_scores_eval's
    /// `segment_based`, segments of --segment-length seconds): the same report as
    /// --clip-based.
    #[arg(long, requires = "scores")]
    pub segment_based: bool,
    /// Collar-based (event-based) metrics of the --scores tables over every threshold
    /// (sed_scores_eval's `collar_based`, with --collar as onset and offset collar and
    /// --offset-percentage): the same report as --clip-based.
    #[arg(long, requires = "scores")]
    pub collar_based: bool,
    /// Decision threshold for F1 metrics computed from scores (`score > threshold`).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    #[command(flatten)]
    pub sed_eval: SedEvalArgs,
    /// Write the PSD-ROC curve(s) as an SVG plot (with --median-filters or --pi-scores, the
    /// pi-PSD-ROCs too).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write F1 against the decision threshold, per class, of --clip-based, --segment-based and
    /// --collar-based as an SVG plot (one panel each).
    #[arg(long, value_name = "SVG")]
    pub f1_plot: Option<PathBuf>,
    /// Output: `table`, `json`, or `sed-eval` (the sed_eval metrics as sed_eval prints them).
    #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
    pub format: EvalFormat,
    /// Print JSON instead of a table (`--format json`).
    #[arg(long)]
    pub json: bool,
}

/// Bootstrapped PSDS (sed_scores_eval's `bootstrapped_psds`, score tables only).
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Bootstrap every PSDS over clip folds and report the mean and confidence interval.
    #[arg(long, requires = "scores")]
    pub bootstrap: bool,
    /// Folds per iteration (each leaves one fold of the clips out).
    #[arg(long, default_value_t = 5, requires = "bootstrap")]
    pub bootstrap_folds: usize,
    /// Iterations (reshuffles of the clips); sed_scores_eval's defaults: 20 for PSDS, 4 for
    /// piPSDS.
    #[arg(long, requires = "bootstrap")]
    pub bootstrap_iterations: Option<usize>,
    /// Confidence of the interval.
    #[arg(long, default_value_t = 0.9, requires = "bootstrap")]
    pub confidence: f64,
}

impl Default for BootstrapArgs {
    /// The command line's defaults (no bootstrap).
    fn default() -> Self {
        BootstrapArgs {
            bootstrap: false,
            bootstrap_folds: 5,
            bootstrap_iterations: None,
            confidence: 0.9,
        }
    }
}

/// A PSDS scenario to report: (JSON key, name in the table, parameters).
type PsdsSet = (String, String, PsdsParams);

/// The scenarios asked for: `--psds1`, `--psds2` (or both by default), then each `--psds`.
fn psds_sets(a: &SedArgs, default: bool) -> Result<Vec<PsdsSet>> {
    let preset = |key: &str| match key {
        "psds1" => Some(PsdsParams::PSDS1),
        "psds2" => Some(PsdsParams::PSDS2),
        _ => None,
    };
    let mut out: Vec<PsdsSet> = Vec::new();
    for (key, flag) in [("psds1", a.psds1), ("psds2", a.psds2)] {
        if flag || default {
            out.push((key.into(), key.to_uppercase(), preset(key).expect("preset")));
        }
    }
    for spec in &a.psds {
        if let Some(p) = preset(spec.trim()) {
            out.push((spec.trim().into(), spec.trim().to_uppercase(), p));
            continue;
        }
        let mut p = PsdsParams::DCASE2020;
        let mut name = None;
        for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                bail!("--psds {spec}: `{part}` is not key=value");
            };
            let (k, v) = (k.trim(), v.trim());
            if k == "name" {
                name = Some(v.to_string());
                continue;
            }
            if k == "unit_of_time" {
                p.unit_of_time = v.parse().map_err(|e| anyhow!("--psds {spec}: {e}"))?;
                continue;
            }
            if k == "time_decimals" {
                p.time_decimals = v.parse().map_err(|_| {
                    anyhow!("--psds {spec}: time_decimals={v} is not a whole number")
                })?;
                continue;
            }
            let x: f64 = v
                .parse()
                .map_err(|_| anyhow!("--psds {spec}: {k}={v} is not a number"))?;
            match k {
                "dtc" => p.dtc = x,
                "gtc" => p.gtc = x,
                "cttc" => p.cttc = x,
                "alpha_ct" => p.alpha_ct = x,
                "alpha_st" => p.alpha_st = x,
                "max_efpr" => p.max_efpr = x,
                _ => bail!(
                    "--psds {spec}: unknown key `{k}` (dtc, gtc, cttc, alpha_ct, alpha_st, max_efpr, unit_of_time, time_decimals, name)"
                ),
            }
        }
        p.validate().map_err(|e| anyhow!("--psds {spec}: {e}"))?;
        let name = name.unwrap_or_else(|| spec.trim().to_string());
        if out.iter().any(|(k, _, _)| *k == name) {
            bail!("--psds {spec}: the name `{name}` is used twice");
        }
        out.push((name.clone(), name, p));
    }
    Ok(out)
}

/// How `eval` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalFormat {
    /// A compact table.
    Table,
    /// Everything, as JSON.
    Json,
    /// sed_eval's own text report (`print(metrics)`), to diff against it.
    SedEval,
}

impl EvalFormat {
    /// `format`, or JSON when `--json` was given.
    pub fn of(format: EvalFormat, json: bool) -> EvalFormat {
        if json {
            EvalFormat::Json
        } else {
            format
        }
    }
}

/// The parameters of sed_eval's two SED metrics.
#[derive(Debug, Args)]
pub struct SedEvalArgs {
    /// Event-based: onset collar in seconds (`t_collar`).
    #[arg(long, default_value_t = 0.2)]
    pub collar: f64,
    /// Event-based: offset collar as a fraction of the reference event's length
    /// (`percentage_of_length`; the collar is the larger of the two).
    #[arg(long, default_value_t = 0.2)]
    pub offset_percentage: f64,
    /// Event-based: match onsets only (`evaluate_offset=False`).
    #[arg(long, conflicts_with = "offset_only")]
    pub onset_only: bool,
    /// Event-based: match offsets only (`evaluate_onset=False`).
    #[arg(long)]
    pub offset_only: bool,
    /// Event-based: `event_matching_type`.
    #[arg(long, value_enum, default_value_t = MatchingArg::Optimal)]
    pub matching: MatchingArg,
    /// Event-based: precision when a class (or the system) output nothing
    /// (`empty_system_output_handling`): `zero-score` (0, as the DESED baseline) or `nan`
    /// (sed_eval's default).
    #[arg(long, value_enum, default_value_t = EmptyOutput::ZeroScore)]
    pub empty_system_output: EmptyOutput,
    /// Segment-based: segment length in seconds (`time_resolution`).
    #[arg(long, default_value_t = 1.0)]
    pub segment_length: f64,
    /// Segment-based: the length each file is evaluated over (`evaluated_length_seconds`):
    /// `latest` (sed_eval's default: the latest reference or system offset), `durations`
    /// (each file's duration from --durations) or a number of seconds for every file.
    #[arg(long, default_value = "latest")]
    pub evaluated_length: String,
}

/// `event_matching_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MatchingArg {
    /// Maximum bipartite matching.
    Optimal,
    /// First fit, reference by reference.
    Greedy,
}

/// `empty_system_output_handling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmptyOutput {
    /// `'zero_score'`.
    ZeroScore,
    /// `None`: precision NaN.
    Nan,
}

impl Default for SedEvalArgs {
    /// The command line's defaults.
    fn default() -> Self {
        SedEvalArgs {
            collar: 0.2,
            offset_percentage: 0.2,
            onset_only: false,
            offset_only: false,
            matching: MatchingArg::Optimal,
            empty_system_output: EmptyOutput::ZeroScore,
            segment_length: 1.0,
            evaluated_length: "latest".into(),
        }
    }
}

impl SedEvalArgs {
    /// The event-based parameters.
    pub fn event_params(&self) -> sed_eval::EventParams {
        sed_eval::EventParams {
            t_collar: self.collar,
            percentage_of_length: self.offset_percentage,
            evaluate_onset: !self.offset_only,
            evaluate_offset: !self.onset_only,
            zero_score: self.empty_system_output == EmptyOutput::ZeroScore,
            matching: match self.matching {
                MatchingArg::Optimal => sed_eval::Matching::Optimal,
                MatchingArg::Greedy => sed_eval::Matching::Greedy,
            },
        }
    }

    /// The segment-based evaluated length; `durations` must be read when asked for.
    pub fn evaluated_length<'a>(
        &self,
        durations: Option<&'a HashMap<String, f64>>,
    ) -> Result<sed_eval::EvaluatedLength<'a>> {
        Ok(match self.evaluated_length.as_str() {
            "latest" => sed_eval::EvaluatedLength::Latest,
            "durations" => sed_eval::EvaluatedLength::PerFile(
                durations
                    .ok_or_else(|| anyhow!("--evaluated-length durations needs --durations"))?,
            ),
            v => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => sed_eval::EvaluatedLength::Fixed(x),
                _ => {
                    bail!("--evaluated-length: `latest`, `durations` or seconds (>= 0), not '{v}'")
                }
            },
        })
    }
}

/// Arguments of `earshot eval tags`.
#[derive(Debug, Args)]
pub struct TagsArgs {
    /// Reference tag list: `filename tags` rows (tags in one field, separated by `;` or `,`),
    /// or a weak-label TSV (`filename event_labels`).
    #[arg(long)]
    pub ground_truth: PathBuf,
    /// Estimated tag list, in the same layouts.
    #[arg(long, required_unless_present = "probabilities")]
    pub predictions: Option<PathBuf>,
    /// Tag probabilities for the EER: `filename tag probability` rows, or a TSV with
    /// `filename` and one column per tag.
    #[arg(long)]
    pub probabilities: Option<PathBuf>,
    /// Output: `table`, `json`, or `sed-eval` (sed_eval's own report).
    #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
    pub format: EvalFormat,
    /// Print JSON instead of a table (`--format json`).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `earshot eval scenes`.
#[derive(Debug, Args)]
pub struct ScenesArgs {
    /// Reference: a TAU TSV (`filename scene_label`, e.g. `meta.csv` or `fold1_evaluate.csv`)
    /// or any sed_eval scene list (`filename scene`; tab, comma, semicolon or space).
    #[arg(long)]
    pub ground_truth: PathBuf,
    /// System output: a TSV `filename scene_label [one probability column per class]`, or a
    /// scene list.
    #[arg(long)]
    pub predictions: PathBuf,
    /// A second system's output: McNemar's test of the two (`sed_eval.test.mcnemar`), with
    /// its χ² p-value.
    #[arg(long)]
    pub mcnemar: Option<PathBuf>,
    /// Output: `table`, `json`, or `sed-eval` (sed_eval's own report).
    #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
    pub format: EvalFormat,
    /// Print JSON instead of a table (`--format json`).
    #[arg(long)]
    pub json: bool,
}

/// Print metadata issues as warnings (the first 20, then a count).
pub fn warn(issues: &[Issue]) {
    const SHOWN: usize = 20;
    for issue in issues.iter().take(SHOWN) {
        eprintln!("warning: {issue}");
    }
    if issues.len() > SHOWN {
        eprintln!(
            "warning: … and {} more metadata issues",
            issues.len() - SHOWN
        );
    }
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        format!("{v:.4}")
    }
}

// --- tagging -----------------------------------------------------------------------------------

fn is_npy(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("npy")
}

fn npy_matrix(path: &Path) -> Result<Vec<Vec<f64>>> {
    let a = earshot_core::npy::read(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if a.shape.len() != 2 {
        bail!(
            "{}: expected a 2-D array, got shape {:?}",
            path.display(),
            a.shape
        );
    }
    if a.shape[1] == 0 {
        bail!("{}: no classes", path.display());
    }
    Ok(a.data.chunks(a.shape[1]).map(|r| r.to_vec()).collect())
}

/// Rows of a score TSV: (filename, one score per class).
type ScoreRows = Vec<(String, Vec<f64>)>;

/// A TSV of `filename` + one score column per class.
fn score_tsv(path: &Path) -> Result<(Vec<String>, ScoreRows)> {
    let table = datasets::read_table(path, datasets::TableFormat::TSV)?;
    let c_file = table.require("filename")?;
    let classes: Vec<String> = table
        .header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != c_file)
        .map(|(_, h)| h.clone())
        .collect();
    let mut rows = Vec::with_capacity(table.rows.len());
    for (line, fields) in &table.rows {
        if fields.len() != table.header.len() {
            bail!(
                "{}: line {line}: {} fields, expected {}",
                path.display(),
                fields.len(),
                table.header.len()
            );
        }
        let mut scores = Vec::with_capacity(classes.len());
        for (i, f) in fields.iter().enumerate() {
            if i == c_file {
                continue;
            }
            let v: f64 = f.trim().parse().map_err(|_| {
                anyhow!(
                    "{}: line {line}: '{}' is not a number",
                    path.display(),
                    f.trim()
                )
            })?;
            scores.push(v);
        }
        rows.push((fields[c_file].trim().to_string(), scores));
    }
    Ok((classes, rows))
}

pub fn tagging_cmd(a: &TaggingArgs) -> Result<()> {
    let (truth, scores, classes): (Vec<Vec<bool>>, Vec<Vec<f64>>, Vec<String>) =
        if is_npy(&a.scores) {
            let scores = npy_matrix(&a.scores)?;
            if !is_npy(&a.ground_truth) {
                bail!(
                    "{}: with .npy scores the ground truth must be a .npy matrix too",
                    a.ground_truth.display()
                );
            }
            let truth: Vec<Vec<bool>> = npy_matrix(&a.ground_truth)?
                .into_iter()
                .map(|r| r.into_iter().map(|v| v != 0.0).collect())
                .collect();
            let n = scores[0].len();
            (truth, scores, (0..n).map(|i| i.to_string()).collect())
        } else {
            let (classes, rows) = score_tsv(&a.scores)?;
            let weak = if event_list::is_dcase_tsv(&a.ground_truth)? {
                let (weak, issues) = dcase::read_weak(&a.ground_truth)?;
                warn(&issues);
                weak
            } else {
                dcase::WeakLabels {
                    path: a.ground_truth.clone(),
                    clips: tag_rows(&a.ground_truth)?,
                }
            };
            let labels: HashMap<&str, &Vec<String>> =
                weak.clips.iter().map(|(f, l)| (f.as_str(), l)).collect();
            let mut truth = Vec::with_capacity(rows.len());
            let mut scores = Vec::with_capacity(rows.len());
            for (file, s) in &rows {
                let Some(l) = labels.get(file.as_str()) else {
                    bail!(
                        "{}: {file} has scores but no ground truth in {}",
                        a.scores.display(),
                        a.ground_truth.display()
                    );
                };
                for label in l.iter() {
                    if !classes.contains(label) {
                        bail!(
                            "{}: {file}: label '{label}' has no score column",
                            a.ground_truth.display()
                        );
                    }
                }
                truth.push(classes.iter().map(|c| l.contains(c)).collect());
                scores.push(s.clone());
            }
            if rows.len() != weak.clips.len() {
                eprintln!(
                    "warning: {}: {} clips have ground truth but no scores (not evaluated)",
                    a.ground_truth.display(),
                    weak.clips.len() - rows.len().min(weak.clips.len())
                );
            }
            (truth, scores, classes)
        };
    let r =
        tagging::evaluate(&truth, &scores).map_err(|e| anyhow!("{}: {e}", a.scores.display()))?;
    print!("{}", tagging_output(&classes, &r, a.json)?);
    Ok(())
}

/// What `eval tagging` prints for `r`: the table, or with `json` the JSON document.
pub fn tagging_output(
    classes: &[String],
    r: &tagging::TaggingResult,
    json: bool,
) -> Result<String> {
    if json {
        let doc = json!({ "classes": classes, "result": r });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&doc)?));
    }
    let mut out = String::new();
    writeln!(out, "clips {}  classes {}", r.n_clips, classes.len())?;
    writeln!(
        out,
        "{:<32} {:>8} {:>8} {:>8}",
        "class", "AP", "AUC", "lwlrap"
    )?;
    for (c, name) in classes.iter().enumerate() {
        writeln!(
            out,
            "{:<32} {:>8} {:>8} {:>8}",
            name,
            fmt(r.ap[c]),
            fmt(r.auc[c]),
            fmt(r.lwlrap.per_class[c])
        )?;
    }
    writeln!(out, "mAP      {}", fmt(r.map))?;
    writeln!(
        out,
        "mAUC     {} (over {} classes with an AUC: {})",
        fmt(r.mauc),
        classes.len() - r.classes_without_auc,
        fmt(r.mauc_defined)
    )?;
    writeln!(
        out,
        "d'       {} (defined: {})",
        fmt(r.d_prime),
        fmt(r.d_prime_defined)
    )?;
    writeln!(out, "lwlrap   {}", fmt(r.lwlrap.overall))?;
    if r.classes_without_positives > 0 {
        writeln!(
            out,
            "note: {} classes have no positive clip (AP 0, counted in mAP as scikit-learn does)",
            r.classes_without_positives
        )?;
    }
    Ok(out)
}

// --- tags (sed_eval.audio_tag) ------------------------------------------------------------------

/// (filename, tags) rows of a tag list.
fn tag_rows(path: &Path) -> Result<Vec<(String, Vec<String>)>> {
    Ok((event_list::read_tag_list(path)?.into_iter())
        .map(|r| (r.filename, r.tags))
        .collect())
}

/// (filename, tag) → probability, from either layout.
fn tag_probabilities(path: &Path) -> Result<HashMap<(String, String), f64>> {
    let wide = event_list::header(path)?.is_some_and(|h| {
        h.iter().any(|f| f == "filename") && !h.iter().any(|f| f == "probability")
    });
    let mut map = HashMap::new();
    if wide {
        let (classes, rows) = score_tsv(path)?;
        for (file, scores) in rows {
            for (c, v) in classes.iter().zip(scores) {
                map.insert((file.clone(), c.clone()), v);
            }
        }
    } else {
        for (file, tag, p) in event_list::read_tag_probabilities(path)? {
            map.insert((file, tag), p);
        }
    }
    Ok(map)
}

pub fn tags_cmd(a: &TagsArgs) -> Result<()> {
    let reference = tag_rows(&a.ground_truth)?;
    let estimated = a.predictions.as_deref().map(tag_rows).transpose()?;
    let probabilities = a
        .probabilities
        .as_deref()
        .map(tag_probabilities)
        .transpose()?;
    let mut tags: Vec<String> = (reference.iter())
        .chain(estimated.iter().flatten())
        .flat_map(|(_, t)| t.iter().cloned())
        .collect();
    tags.sort();
    tags.dedup();
    let lookup = |file: &str, tag: &str| {
        (probabilities.as_ref()).and_then(|m| m.get(&(file.to_string(), tag.to_string())).copied())
    };
    let lookup: Option<audio_tag::Probabilities> = probabilities
        .is_some()
        .then_some(&lookup as audio_tag::Probabilities);
    let r = audio_tag::evaluate(&tags, &reference, estimated.as_deref(), lookup).map_err(|e| {
        let file = a.predictions.as_ref().or(a.probabilities.as_ref());
        anyhow!(
            "{}: {e}",
            file.map_or(a.ground_truth.display(), |f| f.display())
        )
    })?;
    match EvalFormat::of(a.format, a.json) {
        EvalFormat::Json => println!("{}", serde_json::to_string_pretty(&r)?),
        EvalFormat::SedEval => print!("{}", audio_tag::report(&r)),
        EvalFormat::Table => {
            let o = |v: Option<f64>| v.map_or("-".to_string(), fmt);
            println!(
                "{:<24} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9}",
                "tag", "Nref", "Nsys", "F", "precision", "recall", "EER"
            );
            for t in r
                .class_wise
                .iter()
                .chain([&r.class_wise_average, &r.overall])
            {
                println!(
                    "{:<24} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9}",
                    t.label,
                    t.n_ref,
                    t.n_sys,
                    o(t.f_measure),
                    o(t.precision),
                    o(t.recall),
                    o(t.eer)
                );
            }
        }
    }
    Ok(())
}

// --- sed -----------------------------------------------------------------------------------------

/// The detection lists: a folder of DESED TSVs stands for each of its `.tsv` files (operating
/// points), any other folder for itself (one list of per-recording files).
fn prediction_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() && !per_recording_folder(p)? {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}: cannot read directory", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().and_then(|e| e.to_str()) == Some("tsv"))
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("{}: no .tsv detection tables", p.display());
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Detections `score > threshold` decoded from score tables (runs of frames).
fn decode(
    scores: &[dcase::ScoreTable],
    gt: &dcase::StrongLabels,
    threshold: f64,
) -> dcase::StrongLabels {
    let names: HashMap<&str, &str> = gt
        .clips
        .iter()
        .map(|c| (dcase::audio_id(&c.filename), c.filename.as_str()))
        .collect();
    let clips = scores
        .iter()
        .map(|t| {
            let mut events = Vec::new();
            for (c, label) in t.classes.iter().enumerate() {
                let track = t.class_scores(c);
                let mut start = None;
                for f in 0..=track.len() {
                    let on = f < track.len() && track[f] > threshold;
                    match (on, start) {
                        (true, None) => start = Some(f),
                        (false, Some(s)) => {
                            events.push(dcase::Event {
                                onset: t.timestamps[s],
                                offset: t.timestamps[f],
                                label: label.clone(),
                            });
                            start = None;
                        }
                        _ => {}
                    }
                }
            }
            let name = names
                .get(t.id.as_str())
                .map_or_else(|| format!("{}.wav", t.id), |n| n.to_string());
            (name, events)
        })
        .collect();
    dcase::StrongLabels::from_clips(clips)
}

/// Whether a folder holds per-recording event lists (read as one list) rather than DESED TSVs
/// (one operating point each): its first list file is not a DESED TSV.
fn per_recording_folder(dir: &Path) -> Result<bool> {
    let files = event_list::list_files(dir)?;
    Ok(!event_list::is_dcase_tsv(&files[0])?)
}

fn sed_eval_json(r: &sed_eval::SedEvalResult, all_files: bool) -> serde_json::Value {
    json!({
        "overall": {"f_measure": r.overall_f, "error_rate": r.overall_er, "accuracy": r.overall_accuracy},
        "class_wise_average": {"f_measure": r.class_wise_average_f, "error_rate": r.class_wise_average_er, "accuracy": r.class_wise_average_accuracy},
        "class_wise": r.class_wise,
        "evaluated_files": r.n_files,
        "evaluated_length": r.evaluated_length,
        "parameters": r.metric,
        "file_scope": if all_files { "durations" } else { "ground_truth" },
    })
}

pub fn sed_cmd(a: &SedArgs) -> Result<()> {
    let (text, report) = sed_report(a)?;
    if EvalFormat::of(a.format, a.json) == EvalFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Object(report))?
        );
    } else {
        print!("{text}");
    }
    Ok(())
}

/// Bootstrapped PSDS of every scenario (one shared set of per-clip change points), added to the
/// table and to each scenario's JSON as `bootstrap`.
fn bootstrap_report(
    a: &SedArgs,
    scores: &[dcase::ScoreTable],
    gt: &dcase::StrongLabels,
    durations: &dcase::Durations,
    sets: &[PsdsSet],
    text: &mut String,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    use earshot_core::metrics::bootstrap::confidence_interval;
    let b = &a.bootstrap;
    check_confidence(b)?;
    let params: Vec<PsdsParams> = sets.iter().map(|s| s.2).collect();
    let n_iterations = b.bootstrap_iterations.unwrap_or(20);
    let folds = sed_scores::bootstrapped_psds(
        scores,
        gt,
        durations,
        &params,
        b.bootstrap_folds,
        n_iterations,
    )?;
    let classes = &scores[0].classes;
    for ((key, name, _), runs) in sets.iter().zip(folds) {
        let values: Vec<f64> = runs.iter().map(|r| r.value).collect();
        let label = format!("{name} bootstrapped");
        let ci = bootstrap_line(text, &label, &values, b, n_iterations)?;
        let per_class: serde_json::Map<String, serde_json::Value> = (classes.iter().enumerate())
            .map(|(c, class)| {
                let v: Vec<f64> = runs.iter().map(|r| r.per_class[c]).collect();
                (class.clone(), json!(confidence_interval(&v, b.confidence)))
            })
            .collect();
        if let Some(entry) = report.get_mut(key) {
            entry["bootstrap"] = json!({
                "mean": ci.mean, "low": ci.low, "high": ci.high, "confidence": b.confidence,
                "n_folds": b.bootstrap_folds, "n_iterations": n_iterations,
                "values": values, "per_class": per_class,
            });
        }
    }
    Ok(())
}

/// The confidence interval of bootstrapped values, written as one table line.
fn bootstrap_line(
    text: &mut String,
    label: &str,
    values: &[f64],
    b: &BootstrapArgs,
    n_iterations: usize,
) -> Result<earshot_core::metrics::bootstrap::Interval> {
    let ci = earshot_core::metrics::bootstrap::confidence_interval(values, b.confidence);
    writeln!(
        text,
        "{label:<28} {} ({}% CI {}–{}; {} folds × {n_iterations})",
        fmt(ci.mean),
        b.confidence * 100.0,
        fmt(ci.low),
        fmt(ci.high),
        b.bootstrap_folds,
    )?;
    Ok(ci)
}

fn check_confidence(b: &BootstrapArgs) -> Result<()> {
    if !(b.confidence > 0.0 && b.confidence < 1.0) {
        bail!("--confidence must be between 0 and 1, got {}", b.confidence);
    }
    Ok(())
}

/// The post-processed score sets piPSDS is taken over, with a name for each: the --scores
/// tables median-filtered with each --median-filters length (times rounded to `decimals`), or
/// --scores and each --pi-scores folder.
fn pi_sets(
    a: &SedArgs,
    scores: &[dcase::ScoreTable],
    decimals: i32,
) -> Result<(Vec<String>, Vec<Vec<dcase::ScoreTable>>)> {
    let scores_dir = a.scores.as_deref().unwrap_or(Path::new(""));
    if !a.median_filters.is_empty() {
        let names = (a.median_filters.iter())
            .map(|l| format!("median filter {l} s"))
            .collect();
        let sets = sed_scores::median_filtered_sets(scores, &a.median_filters, decimals)
            .map_err(|e| anyhow!("{}: {e}", scores_dir.display()))?;
        return Ok((names, sets));
    }
    let mut names = vec![scores_dir.display().to_string()];
    let mut sets = vec![scores.to_vec()];
    for dir in &a.pi_scores {
        let tables = dcase::read_scores_dir(dir)?;
        if tables.len() != scores.len() {
            bail!(
                "{}: {} score tables, {} has {}: post-processings must cover the same clips",
                dir.display(),
                tables.len(),
                scores_dir.display(),
                scores.len()
            );
        }
        names.push(dir.display().to_string());
        sets.push(tables);
    }
    Ok((names, sets))
}

/// Post-processing-independent PSDS of every scenario (--median-filters or --pi-scores), added
/// to the table and to each scenario's JSON as `pi`; bootstrapped too with --bootstrap.
fn pi_report(
    ctx: &SedContext<'_>,
    scores: &[dcase::ScoreTable],
    durations: &dcase::Durations,
    (text, report): (&mut String, &mut serde_json::Map<String, serde_json::Value>),
    curves: &mut Vec<(String, PsdRoc, f64)>,
) -> Result<()> {
    let (a, gt, sets) = (ctx.a, ctx.gt, ctx.sets);
    let dir = a.scores.as_deref().unwrap_or(Path::new("")).display();
    let in_dir = |e: earshot_core::metrics::MetricsError| anyhow!("{dir}: {e}");
    // The filters round times as the first scenario does (sed_scores_eval's `time_decimals`).
    let decimals = sets.first().map_or(6, |s| s.2.time_decimals);
    let (names, tables) = pi_sets(a, scores, decimals)?;
    let params: Vec<PsdsParams> = sets.iter().map(|s| s.2).collect();
    let results = sed_scores::postprocessing_independent_psds(&tables, gt, durations, &params)
        .map_err(in_dir)?;
    let classes = &scores[0].classes;
    writeln!(
        text,
        "post-processing independent, over {}:",
        names.join(", ")
    )?;
    for ((key, name, p), r) in sets.iter().zip(&results) {
        writeln!(text, "{:<28} {}", format!("pi{name}"), fmt(r.value))?;
        curves.push((format!("pi{name}"), r.roc.clone(), p.max_efpr));
        for (c, v) in classes.iter().zip(&r.per_class) {
            writeln!(text, "    {c:<24} {}", fmt(*v))?;
        }
        for (n, p) in names.iter().zip(&r.per_postprocessing) {
            writeln!(
                text,
                "    {:<24} {}",
                format!("{name} of {n}"),
                fmt(p.value)
            )?;
        }
        let class_rocs: serde_json::Map<String, serde_json::Value> = (classes.iter().cloned())
            .zip(r.class_rocs.iter().map(|c| json!(c)))
            .collect();
        let per_class: serde_json::Map<String, serde_json::Value> = (classes.iter().cloned())
            .zip(r.per_class.iter().map(|v| json!(v)))
            .collect();
        let own: Vec<f64> = r.per_postprocessing.iter().map(|p| p.value).collect();
        if let Some(entry) = report.get_mut(key) {
            entry["pi"] = json!({
                "value": r.value, "per_class": per_class, "roc": r.roc, "class_rocs": class_rocs,
                "postprocessings": names, "per_postprocessing": own,
            });
        }
    }
    let b = &a.bootstrap;
    if !b.bootstrap {
        return Ok(());
    }
    check_confidence(b)?;
    let n_iterations = b.bootstrap_iterations.unwrap_or(4);
    let folds = sed_scores::bootstrapped_postprocessing_independent_psds(
        &tables,
        gt,
        durations,
        &params,
        b.bootstrap_folds,
        n_iterations,
    )
    .map_err(in_dir)?;
    for ((key, name, _), runs) in sets.iter().zip(folds) {
        let values: Vec<f64> = runs.iter().map(|r| r.value).collect();
        let label = format!("pi{name} bootstrapped");
        let ci = bootstrap_line(text, &label, &values, b, n_iterations)?;
        if let Some(entry) = report.get_mut(key) {
            entry["pi"]["bootstrap"] = json!({
                "mean": ci.mean, "low": ci.low, "high": ci.high, "confidence": b.confidence,
                "n_folds": b.bootstrap_folds, "n_iterations": n_iterations, "values": values,
            });
        }
    }
    Ok(())
}

/// `--clip-based` / `--segment-based`: average precision and best F1 per class, F1 at
/// --threshold, into the table and the JSON under `key`.
fn curves_report(
    name: &str,
    key: &str,
    r: &segments::Curves,
    threshold: f64,
    text: &mut String,
    report: &mut serde_json::Map<String, serde_json::Value>,
) {
    let mut line = |label: &str, v: String| {
        let _ = writeln!(text, "{label:<28} {v}");
    };
    line(&format!("{name} mAP"), fmt(r.mean_average_precision));
    if let Some(auc) = r.mean_roc_auc {
        line(&format!("{name} ROC-AUC"), fmt(auc));
    }
    for (c, class) in r.classes.iter().enumerate() {
        let b = &r.best[c];
        let e = &r.best_error_rate[c];
        let v = format!(
            "AP {}  best F1 {} at {}  F1 {}  best ER {} at {}",
            fmt(r.average_precision[c]),
            fmt(b.prf.f),
            fmt(b.threshold),
            fmt(r.at_threshold[c].f),
            fmt(e.rates.er),
            fmt(e.threshold)
        );
        line(&format!("    {class}"), v);
    }
    line(&format!("{name} best F1 (macro)"), fmt(r.best_macro.f));
    line(
        &format!("{name} best ER (macro)"),
        fmt(r.best_error_rate_macro.er),
    );
    line(
        &format!("{name} F1 > {threshold} (macro)"),
        fmt(r.at_threshold_macro.f),
    );
    report.insert(key.into(), json!(r));
}

/// One `--select`: `CLASS:tpr=V`, `CLASS:fpr=V`, `CLASS:efpr=V` or `CLASS:fscore`.
fn parse_select(spec: &str) -> Result<(String, psds_eval::Constraint)> {
    use psds_eval::Constraint;
    let bad = || {
        anyhow!("--select {spec}: expected CLASS:tpr=V, CLASS:fpr=V, CLASS:efpr=V or CLASS:fscore")
    };
    let (class, what) = spec.rsplit_once(':').ok_or_else(bad)?;
    let constraint = match what.split_once('=') {
        None if what == "fscore" => Constraint::Fscore,
        Some((k, v)) => {
            let v: f64 = v.trim().parse().map_err(|_| bad())?;
            match k.trim() {
                "tpr" => Constraint::Tpr(v),
                "fpr" => Constraint::Fpr(v),
                "efpr" => Constraint::Efpr(v),
                _ => return Err(bad()),
            }
        }
        None => return Err(bad()),
    };
    Ok((class.to_string(), constraint))
}

/// The durations table that PSDS and intersection F1 need.
fn timed(durations: &Option<dcase::Durations>) -> Result<&dcase::Durations> {
    durations
        .as_ref()
        .ok_or_else(|| anyhow!("PSDS and intersection F1 need --durations"))
}

/// A sed_eval metric over (reference, estimate) for the files in scope.
type SedEvalMetric<'a> = &'a dyn Fn(
    &dcase::StrongLabels,
    &dcase::StrongLabels,
    sed_eval::FileScope<'_>,
) -> earshot_core::metrics::Result<sed_eval::SedEvalResult>;

/// What [`sed_report`] gathers: what was read, the metric lines, the JSON, the PSD-ROC curves.
struct SedOutput {
    info: String,
    text: String,
    report: serde_json::Map<String, serde_json::Value>,
    curves: Vec<(String, PsdRoc, f64)>,
    /// F against the threshold of the clip-, segment- and collar-based metrics asked for.
    f_curves: Vec<(String, segments::Curves)>,
}

impl SedArgs {
    /// A metric's refusal of the ground truth, as an error naming the file.
    fn gt_err(&self) -> impl Fn(earshot_core::metrics::MetricsError) -> anyhow::Error + Copy + '_ {
        move |e| anyhow!("{}: {e}", self.ground_truth.display())
    }
}

/// The inputs both PSDS paths share.
struct SedContext<'a> {
    a: &'a SedArgs,
    gt: &'a dcase::StrongLabels,
    durations: &'a Option<dcase::Durations>,
    sets: &'a [PsdsSet],
    /// Intersection F1 asked for.
    intersection: bool,
    /// Event- or segment-based F1 asked for.
    f1: bool,
}

/// PSDS (and bootstrap, intersection F1) from sed_scores_eval score tables; returns the
/// detections decoded at the threshold for the F1 metrics.
fn psds_from_scores(
    ctx: &SedContext<'_>,
    dir: &Path,
    out: &mut SedOutput,
) -> Result<dcase::StrongLabels> {
    let SedContext {
        a,
        gt,
        durations,
        sets: psds_sets,
        ..
    } = *ctx;
    let SedOutput {
        info,
        text,
        report,
        curves,
        f_curves,
    } = out;
    let gt_err = a.gt_err();
    let durations = timed(durations)?;
    let scores = dcase::read_scores_dir(dir)?;
    writeln!(
        info,
        "scores: {} clips (sed_scores_eval, every threshold)",
        scores.len()
    )?;
    // Every criterion in one pass over the ranked scores.
    let mut criteria: Vec<sed_scores::Criteria> = (psds_sets.iter())
        .map(|(_, _, p)| sed_scores::Criteria::of(p))
        .collect();
    if ctx.intersection {
        criteria.push(sed_scores::Criteria {
            dtc: 0.5,
            gtc: 0.5,
            cttc: None,
            time_decimals: 6,
        });
    }
    let mut all = sed_scores::statistics_many(&scores, gt, durations, &criteria)
        .map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let plain = ctx.intersection.then(|| all.pop()).flatten();
    let results: Vec<_> = psds_sets
        .iter()
        .zip(all)
        .map(|((_, _, p), stats)| {
            let r = sed_scores::psds(&stats, p).map_err(gt_err)?;
            Ok((stats.classes, r))
        })
        .collect::<Result<_>>()?;
    for ((key, name, p), (classes, r)) in psds_sets.iter().zip(results) {
        writeln!(
            text,
            "{:<28} {}",
            format!("{name} (sed_scores_eval)"),
            fmt(r.value)
        )?;
        for (c, v) in classes.iter().zip(&r.per_class) {
            writeln!(text, "    {c:<24} {}", fmt(*v))?;
        }
        curves.push((name.clone(), r.roc.clone(), p.max_efpr));
        let class_rocs: serde_json::Map<String, serde_json::Value> = (classes.iter().cloned())
            .zip(
                r.class_rocs
                    .iter()
                    .map(|c| json!({"efpr": c.efpr, "tpr": c.etpr})),
            )
            .collect();
        report.insert(key.clone(), json!({"value": r.value, "classes": classes, "per_class": r.per_class, "roc": r.roc, "class_rocs": class_rocs, "params": p}));
    }
    if a.bootstrap.bootstrap && !psds_sets.is_empty() {
        bootstrap_report(a, &scores, gt, durations, psds_sets, text, report)
            .map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    }
    if (!a.median_filters.is_empty() || !a.pi_scores.is_empty()) && !psds_sets.is_empty() {
        pi_report(ctx, &scores, durations, (text, report), curves)?;
    }
    let in_dir = |e: earshot_core::metrics::MetricsError| anyhow!("{}: {e}", dir.display());
    if a.clip_based {
        let r = segments::clip_based(&scores, gt, a.threshold, 1.0).map_err(in_dir)?;
        curves_report("clip-based", "clip_based", &r, a.threshold, text, report);
        f_curves.push(("clip-based".into(), r));
    }
    if a.segment_based {
        let length = a.sed_eval.segment_length;
        let r = segments::segment_based(&scores, gt, durations, length, a.threshold, 1.0)
            .map_err(in_dir)?;
        let name = format!("segment-based ({length} s)");
        curves_report(&name, "segment_based_curves", &r, a.threshold, text, report);
        f_curves.push((name, r));
    }
    if a.collar_based {
        let collars = segments::Collars {
            onset: a.sed_eval.collar,
            offset: a.sed_eval.collar,
            offset_rate: a.sed_eval.offset_percentage,
        };
        let r = segments::collar_based(&scores, gt, durations, collars, a.threshold, 1.0)
            .map_err(in_dir)?;
        let name = format!("collar-based ({} s)", collars.onset);
        curves_report(&name, "collar_based", &r, a.threshold, text, report);
        f_curves.push((name, r));
    }
    if let Some(plain) = plain {
        let f = sed_scores::fscore(&plain, a.threshold, 1.0);
        writeln!(
            text,
            "{:<28} {}",
            "intersection F1 (macro)",
            fmt(f.macro_average.f)
        )?;
        report.insert(
            "intersection_f1".into(),
            json!({"classes": plain.classes, "result": f}),
        );
    }
    Ok(if ctx.f1 {
        decode(&scores, gt, a.threshold)
    } else {
        dcase::StrongLabels::default()
    })
}

/// PSDS (and selection, intersection F1) from psds_eval operating points; returns the first
/// table for the F1 metrics.
fn psds_from_operating_points(
    ctx: &SedContext<'_>,
    out: &mut SedOutput,
) -> Result<dcase::StrongLabels> {
    let SedContext {
        a,
        gt,
        durations,
        sets: psds_sets,
        ..
    } = *ctx;
    let SedOutput {
        info,
        text,
        report,
        curves,
        ..
    } = out;
    let gt_err = a.gt_err();
    if let Some((_, name, _)) = (psds_sets.iter())
        .find(|(_, _, p)| p.unit_of_time != TimeUnit::Hour || p.time_decimals != 6)
    {
        bail!(
            "--psds {name}: unit_of_time and time_decimals are sed_scores_eval's (--scores); psds_eval counts per hour and does not round"
        );
    }
    let files = prediction_files(&a.predictions)?;
    // Read in parallel; report in file order.
    let read: Vec<_> = files
        .par_iter()
        .map(|f| event_list::read_event_list(f))
        .collect();
    let mut tables = Vec::with_capacity(files.len());
    for (f, table) in files.iter().zip(read) {
        let (t, issues) = table?;
        warn(&issues);
        tables.push((f.clone(), t));
    }
    writeln!(
        info,
        "predictions: {} operating point(s) (psds_eval)",
        tables.len()
    )?;
    // The scenarios are independent: evaluate them side by side.
    let results: Vec<_> = psds_sets
        .par_iter()
        .map(|(_, _, p)| {
            let mut eval = psds_eval::PsdsEval::new(gt, timed(durations)?, p.dtc, p.gtc, p.cttc)
                .map_err(gt_err)?;
            for (f, t) in &tables {
                eval.add_operating_point(t)
                    .map_err(|e| anyhow!("{}: {e}", f.display()))?;
            }
            eval.psds(p).map_err(gt_err)
        })
        .collect::<Result<_>>()?;
    for ((key, name, p), r) in psds_sets.iter().zip(results) {
        writeln!(
            text,
            "{:<28} {} ({} operating points)",
            format!("{name} (psds_eval)"),
            fmt(r.value),
            r.n_operating_points
        )?;
        curves.push((name.clone(), r.roc.clone(), p.max_efpr));
        // psds_eval's classes: the ground truth's, sorted.
        let tpr: serde_json::Map<String, serde_json::Value> = (gt.labels().into_iter())
            .zip(r.class_rocs.tpr.iter().map(|t| json!(t)))
            .collect();
        let class_rocs = json!({"efpr": r.class_rocs.efpr, "tpr": tpr});
        report.insert(key.clone(), json!({"value": r.value, "operating_points": r.n_operating_points, "roc": r.roc, "class_rocs": class_rocs, "params": p}));
    }
    if !a.select.is_empty() {
        let p = psds_sets.first().map_or(PsdsParams::DCASE2020, |s| s.2);
        let mut eval = psds_eval::PsdsEval::new(gt, timed(durations)?, p.dtc, p.gtc, p.cttc)
            .map_err(gt_err)?;
        // A table identical to an earlier one is skipped: keep the files of those added.
        let mut files_of_points: Vec<&Path> = Vec::new();
        for (f, t) in &tables {
            if eval
                .add_operating_point(t)
                .map_err(|e| anyhow!("{}: {e}", f.display()))?
            {
                files_of_points.push(f);
            }
        }
        let wanted = a
            .select
            .iter()
            .map(|s| parse_select(s))
            .collect::<Result<Vec<_>>>()?;
        let chosen = eval
            .select_operating_points(&wanted, a.select_alpha_ct, 1.0)
            .map_err(|e| anyhow!("--select: {e}"))?;
        writeln!(text, "operating points per class (psds_eval):")?;
        let mut rows = Vec::new();
        for c in &chosen {
            let file = c
                .operating_point
                .map(|i| files_of_points[i].display().to_string());
            writeln!(
                text,
                "    {:<24} {:<14} TPR {} FPR {} eFPR {} F {}  {}",
                c.class,
                match c.constraint {
                    psds_eval::Constraint::Tpr(v) => format!("tpr>={v}"),
                    psds_eval::Constraint::Fpr(v) => format!("fpr<={v}"),
                    psds_eval::Constraint::Efpr(v) => format!("efpr<={v}"),
                    psds_eval::Constraint::Fscore => "fscore".into(),
                },
                fmt(c.tpr),
                fmt(c.fpr),
                fmt(c.efpr),
                fmt(c.fscore),
                file.as_deref().unwrap_or("(not achievable)")
            )?;
            let mut v = serde_json::to_value(c)?;
            v["file"] = json!(file);
            rows.push(v);
        }
        report.insert("selected_operating_points".into(), json!(rows));
    }
    if ctx.intersection {
        let eval =
            psds_eval::PsdsEval::new(gt, timed(durations)?, 0.5, 0.5, 0.3).map_err(gt_err)?;
        let (f, per_class) = eval
            .macro_f(&tables[0].1, 1.0)
            .map_err(|e| anyhow!("{}: {e}", tables[0].0.display()))?;
        writeln!(text, "{:<28} {}", "intersection F1 (macro)", fmt(f))?;
        report.insert(
            "intersection_f1".into(),
            json!({"macro": f, "classes": eval.classes, "per_class": per_class}),
        );
    }
    Ok(tables.swap_remove(0).1)
}

/// The metrics `a` asks for, as a readable table and as JSON.
pub fn sed_report(a: &SedArgs) -> Result<(String, serde_json::Map<String, serde_json::Value>)> {
    let (gt, issues) = event_list::read_event_list(&a.ground_truth)?;
    let mut all_issues = issues;
    all_issues.extend(gt.check_events());
    let durations = match &a.durations {
        Some(path) => {
            let (durations, issues) = dcase::read_durations(path)?;
            all_issues.extend(issues);
            all_issues.extend(gt.check_durations(&durations));
            Some(durations)
        }
        None => None,
    };
    warn(&all_issues);
    let gt = if a.merge_overlapping {
        let mut gt = gt;
        let merged = gt.merge_overlapping();
        eprintln!(
            "{}: merged {merged} overlapping or touching same-class events",
            a.ground_truth.display()
        );
        gt
    } else {
        gt
    };
    let none = !(a.psds1
        || a.psds2
        || !a.psds.is_empty()
        || a.clip_based
        || a.segment_based
        || a.collar_based
        || a.event_f1
        || a.segment_f1
        || a.intersection_f1);
    // With no metric named: all of them, those needing durations only when they are given.
    let want = |flag: bool| flag || none;
    let want_timed = |flag: bool| flag || (none && durations.is_some());
    let any_psds = a.psds1 || a.psds2 || !a.psds.is_empty();
    if durations.is_none() && (any_psds || a.intersection_f1 || a.scores.is_some()) {
        bail!("PSDS, intersection F1 and score tables need --durations (filename, duration)");
    }
    let format = EvalFormat::of(a.format, a.json);

    let gt_err = a.gt_err();
    let psds_sets = psds_sets(a, none && durations.is_some())?;
    // What was read: shown in the table, left out of sed_eval's layout.
    let mut info = String::new();
    writeln!(
        info,
        "ground truth: {} clips, {} events, {} classes",
        gt.clips.len(),
        gt.n_events(),
        gt.labels().len()
    )?;
    let ctx = SedContext {
        a,
        gt: &gt,
        durations: &durations,
        sets: &psds_sets,
        intersection: want_timed(a.intersection_f1),
        f1: want(a.event_f1) || want(a.segment_f1),
    };
    let mut out = SedOutput {
        info,
        text: String::new(),
        report: serde_json::Map::new(),
        curves: Vec::new(),
        f_curves: Vec::new(),
    };
    let f1_table = match &a.scores {
        Some(dir) => psds_from_scores(&ctx, dir, &mut out)?,
        None => psds_from_operating_points(&ctx, &mut out)?,
    };
    let SedOutput {
        info,
        mut text,
        mut report,
        curves,
        f_curves,
    } = out;
    let every_file: Vec<String> = (durations.iter())
        .flat_map(|d| d.clips.iter().map(|(f, _)| f.clone()))
        .collect();
    let scope = if a.all_files {
        sed_eval::FileScope::Files(&every_file)
    } else {
        sed_eval::FileScope::Reference
    };
    let lengths: Option<HashMap<String, f64>> = durations
        .as_ref()
        .map(|d| d.clips.iter().cloned().collect());
    let evaluated_length = a.sed_eval.evaluated_length(lengths.as_ref())?;
    let event_params = a.sed_eval.event_params();
    let mut reports = String::new();
    let sed_eval_runs: [(bool, &str, &str, SedEvalMetric); 2] = [
        (
            a.event_f1,
            "event_based",
            "event-based F1 (macro)",
            &|gt, est, scope| sed_eval::event_based(gt, est, &event_params, scope),
        ),
        (
            a.segment_f1,
            "segment_based",
            "segment-based F1 (macro)",
            &|gt, est, scope| {
                let res = a.sed_eval.segment_length;
                sed_eval::segment_based_over(gt, est, res, scope, evaluated_length)
            },
        ),
    ];
    for (flag, key, title, metric) in sed_eval_runs {
        if !want(flag) {
            continue;
        }
        let r = metric(&gt, &f1_table, scope).map_err(gt_err)?;
        if format == EvalFormat::SedEval {
            reports.push_str(&sed_eval::report(&r));
        } else {
            writeln!(
                text,
                "{:<28} {} (micro {}, ER {}; {} files)",
                title,
                fmt(r.class_wise_average_f.f_measure),
                fmt(r.overall_f.f_measure),
                fmt(r.overall_er.error_rate),
                r.n_files
            )?;
        }
        report.insert(key.into(), sed_eval_json(&r, a.all_files));
    }
    if let Some(path) = &a.plot {
        if curves.is_empty() {
            bail!("{}: no PSDS computed, nothing to plot", path.display());
        }
        let svg = psd_roc_svg(&curves);
        super::output::atomically(path, |tmp| std::fs::write(tmp, &svg))?;
    }
    if let Some(path) = &a.f1_plot {
        if f_curves.is_empty() {
            bail!(
                "{}: --f1-plot needs --clip-based, --segment-based or --collar-based",
                path.display()
            );
        }
        let svg = f1_threshold_svg(&f_curves, a.threshold);
        super::output::atomically(path, |tmp| std::fs::write(tmp, &svg))?;
    }
    let text = if format == EvalFormat::SedEval {
        reports + &text
    } else {
        info + &text
    };
    Ok((text, report))
}

/// A hand-written SVG of F1 against the decision threshold: one panel per metric, one
/// staircase per class (F1 of `score > threshold`), the chosen --threshold dashed and each
/// class's best F1 marked.
fn f1_threshold_svg(panels: &[(String, segments::Curves)], threshold: f64) -> String {
    let (w, ph, m) = (720.0, 300.0, 56.0);
    let h = ph * panels.len() as f64;
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    // The score range: the finite scores of every curve.
    let finite = || {
        (panels.iter().flat_map(|(_, c)| c.f_curves.iter()))
            .flat_map(|c| c.scores.iter().copied())
            .filter(|s| s.is_finite())
    };
    let lo = finite()
        .fold(f64::INFINITY, f64::min)
        .min(threshold)
        .min(0.0);
    let hi = finite()
        .fold(f64::NEG_INFINITY, f64::max)
        .max(threshold)
        .max(1.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (k, (name, curves)) in panels.iter().enumerate() {
        let top = ph * k as f64;
        let px = |x: f64| m + ((x.clamp(lo, hi) - lo) / (hi - lo)) * (w - 2.0 * m - 140.0);
        let py = |y: f64| top + ph - m - y.clamp(0.0, 1.0) * (ph - 1.6 * m);
        for i in 0..=5 {
            let t = i as f64 / 5.0;
            let x = lo + t * (hi - lo);
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{t:.1}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{x:.2}</text>",
                px(lo), py(t), px(hi), py(t), m - 6.0, py(t) + 4.0, px(x), top + ph - m + 16.0
            );
        }
        let _ = writeln!(
            s,
            "<rect x=\"{m}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"black\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{name}: F1 against the threshold (score &gt; threshold)</text><text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">F1</text>",
            py(1.0), px(hi) - m, py(0.0) - py(1.0), (px(lo) + px(hi)) / 2.0, top + 0.5 * m,
            top + ph / 2.0, top + ph / 2.0
        );
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"4 3\"/>",
            py(1.0), py(0.0), x = px(threshold)
        );
        for (c, (class, curve)) in curves.classes.iter().zip(&curves.f_curves).enumerate() {
            let colour = colours[c % colours.len()];
            let mut d = String::new();
            let mut from = lo;
            for (&score, &f) in curve.scores.iter().zip(&curve.f) {
                let to = if score.is_finite() { score } else { hi };
                let sep = if d.is_empty() { 'M' } else { 'L' };
                let _ = write!(
                    d,
                    "{sep}{:.2},{:.2} L{:.2},{:.2} ",
                    px(from),
                    py(f),
                    px(to),
                    py(f)
                );
                from = to;
            }
            let best = &curves.best[c];
            let _ = writeln!(
                s,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{class} {:.3}</text>",
                px(best.threshold), py(best.prf.f), px(hi) + 8.0, py(1.0) + 12.0 + 14.0 * c as f64, best.prf.f
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// A hand-written SVG of PSD-ROC staircases (eTPR against eFPR per hour).
fn psd_roc_svg(curves: &[(String, PsdRoc, f64)]) -> String {
    let (w, h, m) = (640.0, 480.0, 60.0);
    let max_x = curves.iter().map(|c| c.2).fold(0.0, f64::max);
    let px = |x: f64| m + (x / max_x).min(1.0) * (w - 2.0 * m);
    let py = |y: f64| h - m - y.clamp(0.0, 1.0) * (h - 2.0 * m);
    let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for i in 0..=5 {
        let t = i as f64 / 5.0;
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.1}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            px(0.0), py(t), px(max_x), py(t), m - 6.0, py(t) + 4.0, t, px(t * max_x), h - m + 16.0, (t * max_x).round()
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{m}\" y=\"{m}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">eFPR per hour</text>\n<text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">eTPR</text>",
        w - 2.0 * m, h - 2.0 * m, w / 2.0, h - 16.0, h / 2.0, h / 2.0
    );
    for (k, (name, roc, max_efpr)) in curves.iter().enumerate() {
        let colour = colours[k % colours.len()];
        let mut d = String::new();
        let mut prev_y = 0.0;
        for (i, (&x, &y)) in roc.efpr.iter().zip(&roc.etpr).enumerate() {
            if x > *max_efpr {
                break;
            }
            if i == 0 {
                let _ = write!(d, "M{:.2},{:.2}", px(x), py(y));
            } else {
                let _ = write!(
                    d,
                    " L{:.2},{:.2} L{:.2},{:.2}",
                    px(x),
                    py(prev_y),
                    px(x),
                    py(y)
                );
            }
            prev_y = y;
        }
        let _ = write!(d, " L{:.2},{:.2}", px(*max_efpr), py(prev_y));
        let area: f64 = (0..roc.efpr.len().saturating_sub(1))
            .map(|i| (roc.efpr[i + 1].min(*max_efpr) - roc.efpr[i].min(*max_efpr)) * roc.etpr[i])
            .sum::<f64>()
            / max_efpr;
        let _ = writeln!(
            s,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{name}: {:.4}</text>",
            m + 10.0,
            m + 18.0 + 16.0 * k as f64,
            area
        );
    }
    s.push_str("</svg>\n");
    s
}

// --- scenes --------------------------------------------------------------------------------------

/// (filename, scene, line) of a reference scene list in either layout.
fn reference_scenes(path: &Path) -> Result<Vec<(String, String, usize)>> {
    if event_list::is_dcase_tsv(path)? {
        let (items, issues) = datasets::tau::read_meta(path)?;
        warn(&issues);
        Ok((items.into_iter())
            .map(|i| (i.filename, i.scene_label, i.line))
            .collect())
    } else {
        Ok((event_list::read_scene_list(path)?.into_iter())
            .map(|r| (r.filename, r.scene_label, r.line))
            .collect())
    }
}

/// A system's scene output in either layout (a scene list has no probabilities).
fn system_scenes(path: &Path) -> Result<datasets::tau::SceneOutput> {
    if event_list::is_dcase_tsv(path)? {
        let (output, issues) = datasets::tau::read_output(path)?;
        warn(&issues);
        Ok(output)
    } else {
        let rows = event_list::read_scene_list(path)?;
        Ok(datasets::tau::SceneOutput {
            classes: Vec::new(),
            rows: (rows.into_iter())
                .map(|r| (r.filename, r.scene_label, Vec::new()))
                .collect(),
        })
    }
}

/// The label a system gives each reference item (the most probable class when its output has
/// probabilities but no label column).
fn scene_labels<'a>(
    path: &Path,
    output: &'a datasets::tau::SceneOutput,
    reference: &[(String, String, usize)],
) -> Result<Vec<&'a str>> {
    let predicted: HashMap<&str, (&str, &Vec<f64>)> = (output.rows.iter())
        .map(|(f, l, p)| (f.as_str(), (l.as_str(), p)))
        .collect();
    reference
        .iter()
        .map(|(filename, _, line)| {
            let Some(&(label, p)) = predicted.get(filename.as_str()) else {
                bail!(
                    "{}: {filename} (line {line} of the ground truth) has no prediction",
                    path.display()
                );
            };
            if !label.is_empty() {
                return Ok(label);
            }
            let best = (0..p.len())
                .max_by(|&i, &j| p[i].total_cmp(&p[j]))
                .unwrap_or(0);
            Ok(output.classes.get(best).map_or("", String::as_str))
        })
        .collect()
}

pub fn scenes_cmd(a: &ScenesArgs) -> Result<()> {
    let reference = reference_scenes(&a.ground_truth)?;
    let output = system_scenes(&a.predictions)?;
    let mut classes: Vec<String> = if output.classes.is_empty() {
        reference.iter().map(|r| r.1.clone()).collect()
    } else {
        output.classes.clone()
    };
    classes.sort();
    classes.dedup();
    let column: Vec<usize> = classes
        .iter()
        .map(|c| output.classes.iter().position(|o| o == c).unwrap_or(0))
        .collect();
    let refs: Vec<&str> = reference.iter().map(|r| r.1.as_str()).collect();
    let ests = scene_labels(&a.predictions, &output, &reference)?;
    let probs: Vec<Vec<f64>> = if output.classes.is_empty() {
        Vec::new()
    } else {
        let by_file: HashMap<&str, &Vec<f64>> = output
            .rows
            .iter()
            .map(|(f, _, p)| (f.as_str(), p))
            .collect();
        (reference.iter())
            .map(|r| column.iter().map(|&k| by_file[r.0.as_str()][k]).collect())
            .collect()
    };
    let probs_opt = (!output.classes.is_empty()).then_some(probs.as_slice());
    let r = scenes::evaluate(&classes, &refs, &ests, probs_opt)
        .map_err(|e| anyhow!("{}: {e}", a.predictions.display()))?;
    let mcnemar = match &a.mcnemar {
        Some(path) => {
            let other = system_scenes(path)?;
            let b = scene_labels(path, &other, &reference)?;
            let x = scenes::mcnemar(&refs, &ests, &b)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            Some((path, x, scenes::chi2_sf_1(x)))
        }
        None => None,
    };
    match EvalFormat::of(a.format, a.json) {
        EvalFormat::Json => {
            let mut v = serde_json::to_value(&r)?;
            if let Some((path, x, p)) = &mcnemar {
                v["mcnemar"] = json!({"other": path, "statistic": x, "p_value": p});
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        format => print!("{}", scenes_output(&r, format)?),
    }
    if let Some((path, x, p)) = mcnemar {
        println!(
            "McNemar against {}: statistic {} (p = {})",
            path.display(),
            fmt(x),
            fmt(p)
        );
    }
    Ok(())
}

/// What `eval scenes` prints for `r` (without McNemar's line) in `format`.
pub fn scenes_output(r: &scenes::SceneResult, format: EvalFormat) -> Result<String> {
    let mut out = String::new();
    match format {
        // Through a Value, whose keys sort, as `eval scenes --json` has always printed them.
        EvalFormat::Json => {
            let v = serde_json::to_value(r)?;
            out = format!("{}\n", serde_json::to_string_pretty(&v)?)
        }
        EvalFormat::SedEval => out = scenes::report(r),
        EvalFormat::Table => {
            writeln!(
                out,
                "{:<24} {:>6} {:>6} {:>9} {:>9}",
                "scene", "Nref", "Ncorr", "accuracy", "log loss"
            )?;
            for (k, (label, acc, n_ref, n_corr)) in r.class_wise.iter().enumerate() {
                let ll = r.class_wise_log_loss.as_ref().map_or(f64::NAN, |v| v[k]);
                writeln!(
                    out,
                    "{label:<24} {n_ref:>6} {n_corr:>6} {:>9} {:>9}",
                    fmt(*acc),
                    fmt(ll)
                )?;
            }
            writeln!(
                out,
                "macro accuracy  {}  (overall {})",
                fmt(r.macro_accuracy),
                fmt(r.overall_accuracy)
            )?;
            if let Some(ll) = r.log_loss {
                writeln!(out, "log loss        {}", fmt(ll))?;
            }
        }
    }
    Ok(out)
}
