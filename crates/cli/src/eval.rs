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

use earshot_core::datasets::{self, dcase, Issue};
use earshot_core::metrics::{psds_eval, scenes, sed_eval, sed_scores, tagging, PsdRoc, PsdsParams};

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
    /// Acoustic scenes: accuracy, class-wise accuracy, log loss.
    Scenes(ScenesArgs),
    /// Run a model over a dataset in its official layout, write the system output and score it.
    Run(super::eval_run::RunArgs),
}

/// Arguments of `earshot eval tagging`.
#[derive(Debug, Args)]
pub struct TaggingArgs {
    /// Ground truth: a clips × classes `.npy` (non-zero = positive) or a weak-label TSV
    /// (`filename`, `event_labels` comma-separated).
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
    /// Strong-label ground truth TSV (`filename onset offset event_label`).
    #[arg(long)]
    pub ground_truth: PathBuf,
    /// Durations TSV (`filename duration`).
    #[arg(long)]
    pub durations: PathBuf,
    /// Detection TSVs, one per operating point (F1 metrics use the first); a directory means
    /// every `.tsv` in it, sorted.
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
    /// sed_eval event-based F1 (200 ms collar, 20 % offset, DESED settings). Like the DESED
    /// baseline, it scores only the files the ground truth lists: detections in other files
    /// (even ones in --durations) are dropped unless --all-files is given.
    #[arg(long)]
    pub event_f1: bool,
    /// sed_eval segment-based F1 (1 s segments); scores the same files as --event-f1.
    #[arg(long)]
    pub segment_f1: bool,
    /// Score every file in --durations with the sed_eval F1s: a file without reference events
    /// adds its detections as insertions (false alarms). PSDS always covers every file.
    #[arg(long)]
    pub all_files: bool,
    /// Intersection-based F1 (dtc = gtc = 0.5): psds_eval on predictions, sed_scores_eval on
    /// scores.
    #[arg(long)]
    pub intersection_f1: bool,
    /// Decision threshold for F1 metrics computed from scores (`score > threshold`).
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Write the PSD-ROC curve(s) as an SVG plot.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `earshot eval scenes`.
#[derive(Debug, Args)]
pub struct ScenesArgs {
    /// Reference TSV (`filename scene_label`, e.g. `meta.csv` or `fold1_evaluate.csv`).
    #[arg(long)]
    pub ground_truth: PathBuf,
    /// System output TSV (`filename scene_label [one probability column per class]`).
    #[arg(long)]
    pub predictions: PathBuf,
    /// Print JSON instead of a table.
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
            let (weak, issues) = dcase::read_weak(&a.ground_truth)?;
            warn(&issues);
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
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "classes": classes, "result": r }))?
        );
        return Ok(());
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
    print!("{out}");
    Ok(())
}

// --- sed -----------------------------------------------------------------------------------------

fn prediction_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
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

fn sed_eval_json(r: &sed_eval::SedEvalResult, all_files: bool) -> serde_json::Value {
    json!({
        "overall": {"f_measure": r.overall_f, "error_rate": r.overall_er},
        "class_wise_average": {"f_measure": r.class_wise_average_f, "error_rate": r.class_wise_average_er},
        "class_wise": r.class_wise,
        "evaluated_files": r.n_files,
        "file_scope": if all_files { "durations" } else { "ground_truth" },
    })
}

pub fn sed_cmd(a: &SedArgs) -> Result<()> {
    let (text, report) = sed_report(a)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Object(report))?
        );
    } else {
        print!("{text}");
    }
    Ok(())
}

/// A sed_eval metric over (reference, estimate) for the files in scope.
type SedEvalMetric<'a> = &'a dyn Fn(
    &dcase::StrongLabels,
    &dcase::StrongLabels,
    sed_eval::FileScope<'_>,
) -> earshot_core::metrics::Result<sed_eval::SedEvalResult>;

/// The metrics `a` asks for, as a readable table and as JSON.
pub fn sed_report(a: &SedArgs) -> Result<(String, serde_json::Map<String, serde_json::Value>)> {
    let (gt, issues) = dcase::read_strong(&a.ground_truth)?;
    let mut all_issues = issues;
    all_issues.extend(gt.check_events());
    let (durations, issues) = dcase::read_durations(&a.durations)?;
    all_issues.extend(issues);
    all_issues.extend(gt.check_durations(&durations));
    warn(&all_issues);
    let none = !(a.psds1 || a.psds2 || a.event_f1 || a.segment_f1 || a.intersection_f1);
    let want = |flag: bool| flag || none;
    let gt_err =
        |e: earshot_core::metrics::MetricsError| anyhow!("{}: {e}", a.ground_truth.display());
    let mut report = serde_json::Map::new();
    let mut text = String::new();
    let mut curves: Vec<(String, PsdRoc, f64)> = Vec::new();
    let psds_sets: Vec<(&str, PsdsParams)> = [
        ("psds1", a.psds1, PsdsParams::PSDS1),
        ("psds2", a.psds2, PsdsParams::PSDS2),
    ]
    .into_iter()
    .filter(|(_, f, _)| want(*f))
    .map(|(n, _, p)| (n, p))
    .collect();
    writeln!(
        text,
        "ground truth: {} clips, {} events, {} classes",
        gt.clips.len(),
        gt.n_events(),
        gt.labels().len()
    )?;
    let f1_table: dcase::StrongLabels;
    if let Some(dir) = &a.scores {
        let scores = dcase::read_scores_dir(dir)?;
        writeln!(
            text,
            "scores: {} clips (sed_scores_eval, every threshold)",
            scores.len()
        )?;
        // Every criterion in one pass over the ranked scores.
        let mut criteria: Vec<sed_scores::Criteria> = psds_sets
            .iter()
            .map(|(_, p)| sed_scores::Criteria {
                dtc: p.dtc,
                gtc: p.gtc,
                cttc: (p.alpha_ct > 0.0).then_some(p.cttc),
            })
            .collect();
        if want(a.intersection_f1) {
            criteria.push(sed_scores::Criteria {
                dtc: 0.5,
                gtc: 0.5,
                cttc: None,
            });
        }
        let mut all = sed_scores::statistics_many(&scores, &gt, &durations, &criteria)
            .map_err(|e| anyhow!("{}: {e}", dir.display()))?;
        let plain = want(a.intersection_f1).then(|| all.pop()).flatten();
        let results: Vec<_> = psds_sets
            .iter()
            .zip(all)
            .map(|((_, p), stats)| {
                let r = sed_scores::psds(&stats, p).map_err(gt_err)?;
                Ok((stats.classes, r))
            })
            .collect::<Result<_>>()?;
        for ((name, p), (classes, r)) in psds_sets.iter().zip(results) {
            writeln!(
                text,
                "{:<28} {}",
                format!("{} (sed_scores_eval)", name.to_uppercase()),
                fmt(r.value)
            )?;
            for (c, v) in classes.iter().zip(&r.per_class) {
                writeln!(text, "    {c:<24} {}", fmt(*v))?;
            }
            curves.push((name.to_uppercase(), r.roc.clone(), p.max_efpr));
            report.insert(name.to_string(), json!({"value": r.value, "classes": classes, "per_class": r.per_class, "roc": r.roc, "params": p}));
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
        f1_table = if want(a.event_f1) || want(a.segment_f1) {
            decode(&scores, &gt, a.threshold)
        } else {
            dcase::StrongLabels::default()
        };
    } else {
        let files = prediction_files(&a.predictions)?;
        // Read in parallel; report in file order.
        let read: Vec<_> = files.par_iter().map(|f| dcase::read_strong(f)).collect();
        let mut tables = Vec::with_capacity(files.len());
        for (f, table) in files.iter().zip(read) {
            let (t, issues) = table?;
            warn(&issues);
            tables.push((f.clone(), t));
        }
        writeln!(
            text,
            "predictions: {} operating point(s) (psds_eval)",
            tables.len()
        )?;
        // The scenarios are independent: evaluate them side by side.
        let results: Vec<_> = psds_sets
            .par_iter()
            .map(|(_, p)| {
                let mut eval = psds_eval::PsdsEval::new(&gt, &durations, p.dtc, p.gtc, p.cttc)
                    .map_err(gt_err)?;
                for (f, t) in &tables {
                    eval.add_operating_point(t)
                        .map_err(|e| anyhow!("{}: {e}", f.display()))?;
                }
                eval.psds(p).map_err(gt_err)
            })
            .collect::<Result<_>>()?;
        for ((name, p), r) in psds_sets.iter().zip(results) {
            writeln!(
                text,
                "{:<28} {} ({} operating points)",
                format!("{} (psds_eval)", name.to_uppercase()),
                fmt(r.value),
                r.n_operating_points
            )?;
            curves.push((name.to_uppercase(), r.roc.clone(), p.max_efpr));
            report.insert(name.to_string(), json!({"value": r.value, "operating_points": r.n_operating_points, "roc": r.roc, "params": p}));
        }
        if want(a.intersection_f1) {
            let eval = psds_eval::PsdsEval::new(&gt, &durations, 0.5, 0.5, 0.3).map_err(gt_err)?;
            let (f, per_class) = eval
                .macro_f(&tables[0].1, 1.0)
                .map_err(|e| anyhow!("{}: {e}", tables[0].0.display()))?;
            writeln!(text, "{:<28} {}", "intersection F1 (macro)", fmt(f))?;
            report.insert(
                "intersection_f1".into(),
                json!({"macro": f, "classes": eval.classes, "per_class": per_class}),
            );
        }
        f1_table = tables.swap_remove(0).1;
    }
    let every_file: Vec<String> = durations.clips.iter().map(|(f, _)| f.clone()).collect();
    let scope = if a.all_files {
        sed_eval::FileScope::Files(&every_file)
    } else {
        sed_eval::FileScope::Reference
    };
    let sed_eval_runs: [(bool, &str, &str, SedEvalMetric); 2] = [
        (
            a.event_f1,
            "event_based",
            "event-based F1 (macro)",
            &|gt, est, scope| sed_eval::event_based(gt, est, &sed_eval::EventParams::DESED, scope),
        ),
        (
            a.segment_f1,
            "segment_based",
            "segment-based F1 (macro)",
            &|gt, est, scope| sed_eval::segment_based(gt, est, 1.0, scope),
        ),
    ];
    for (flag, key, title, metric) in sed_eval_runs {
        if !want(flag) {
            continue;
        }
        let r = metric(&gt, &f1_table, scope).map_err(gt_err)?;
        writeln!(
            text,
            "{:<28} {} (micro {}, ER {}; {} files)",
            title,
            fmt(r.class_wise_average_f.f_measure),
            fmt(r.overall_f.f_measure),
            fmt(r.overall_er.error_rate),
            r.n_files
        )?;
        report.insert(key.into(), sed_eval_json(&r, a.all_files));
    }
    if let Some(path) = &a.plot {
        if curves.is_empty() {
            bail!("{}: no PSDS computed, nothing to plot", path.display());
        }
        let svg = psd_roc_svg(&curves);
        super::output::atomically(path, |tmp| std::fs::write(tmp, &svg))?;
    }
    Ok((text, report))
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

pub fn scenes_cmd(a: &ScenesArgs) -> Result<()> {
    let (reference, issues) = datasets::tau::read_meta(&a.ground_truth)?;
    warn(&issues);
    let (output, issues) = datasets::tau::read_output(&a.predictions)?;
    warn(&issues);
    let predicted: HashMap<&str, (&str, &Vec<f64>)> = output
        .rows
        .iter()
        .map(|(f, l, p)| (f.as_str(), (l.as_str(), p)))
        .collect();
    let mut classes: Vec<String> = if output.classes.is_empty() {
        reference.iter().map(|r| r.scene_label.clone()).collect()
    } else {
        output.classes.clone()
    };
    classes.sort();
    classes.dedup();
    let column: Vec<usize> = classes
        .iter()
        .map(|c| output.classes.iter().position(|o| o == c).unwrap_or(0))
        .collect();
    let (mut refs, mut ests, mut probs) = (Vec::new(), Vec::new(), Vec::new());
    for item in &reference {
        let Some((label, p)) = predicted.get(item.filename.as_str()) else {
            bail!(
                "{}: {} (line {}) has no prediction",
                a.predictions.display(),
                item.filename,
                item.line
            );
        };
        refs.push(item.scene_label.as_str());
        let label = if label.is_empty() {
            // No label column: the class with the highest probability.
            let best = (0..p.len())
                .max_by(|&i, &j| p[i].total_cmp(&p[j]))
                .unwrap_or(0);
            output.classes[best].as_str()
        } else {
            label
        };
        ests.push(label);
        if !output.classes.is_empty() {
            probs.push(column.iter().map(|&k| p[k]).collect::<Vec<f64>>());
        }
    }
    let probs_opt = (!output.classes.is_empty()).then_some(probs.as_slice());
    let r = scenes::evaluate(&classes, &refs, &ests, probs_opt)
        .map_err(|e| anyhow!("{}: {e}", a.predictions.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "{:<24} {:>6} {:>6} {:>9} {:>9}",
        "scene", "Nref", "Ncorr", "accuracy", "log loss"
    );
    for (k, (label, acc, n_ref, n_corr)) in r.class_wise.iter().enumerate() {
        let ll = r.class_wise_log_loss.as_ref().map_or(f64::NAN, |v| v[k]);
        println!(
            "{label:<24} {n_ref:>6} {n_corr:>6} {:>9} {:>9}",
            fmt(*acc),
            fmt(ll)
        );
    }
    println!(
        "macro accuracy  {}  (overall {})",
        fmt(r.macro_accuracy),
        fmt(r.overall_accuracy)
    );
    if let Some(ll) = r.log_loss {
        println!("log loss        {}", fmt(ll));
    }
    Ok(())
}
