//! `earshot eval run`: run a model over a dataset in its official layout, write the system
//! output in the format the challenge expects, then score it with the same code as
//! `eval tagging|sed|scenes` (which agrees with the reference packages).
//!
//! Per dataset (`--root` is the dataset's top folder as distributed):
//! - `audioset`: `<split>_segments.csv` (default split `eval`) and the clips as `Y<YTID>.wav`,
//!   `<YTID>_<start>.wav`, ... under `audio/<split>/`, `audio/` or the root. Tagging metrics
//!   on the 527 classes (mAP, ROC-AUC, d′, lwlrap). Segments without audio are listed.
//! - `fsd50k`: `FSD50K.ground_truth/{eval,vocabulary}.csv` and `FSD50K.eval_audio/` (split `dev`:
//!   `dev.csv`, `FSD50K.dev_audio/`). An AudioSet tagger scores each FSD50K class by the output
//!   of the AudioSet class with the same mid; classes without one are left out and listed.
//! - `desed`: `metadata/eval/public.tsv`, `public_durations.tsv`, `audio/eval/public/` (split
//!   `validation`: `metadata/validation/validation{,_durations}.tsv`,
//!   `audio/validation/validation/`). A framewise (SED) AudioSet model; each DESED class scores
//!   the maximum of its AudioSet classes (`datasets/desed/audioset_mapping.tsv`). Writes
//!   sed_scores_eval score tables (`scores/`, for PSDS1/PSDS2 and intersection F1) and the
//!   thresholded, median-filtered detections (`predictions.tsv`, DCASE Task 4 submission
//!   format, for event- and segment-based F1).
//! - `esc50`: `meta/esc50.csv`, `audio/`. Clip embeddings and a linear probe
//!   ([`earshot_models::tasks::probe`]) in the five official folds (train on four, predict the fifth);
//!   accuracy, class-wise accuracy, log loss over the out-of-fold predictions.
//! - `tau2022`: `meta.csv`, `evaluation_setup/fold1_{train,evaluate}.csv`, the audio under the
//!   root. The probe trains on `fold1_train` and predicts `fold1_evaluate`; the output is the
//!   Task 1 format (`filename scene_label <probability per class>`).
//!
//! Everything written goes to `-o DIR`; the metrics print as `eval` prints them. Tagging and
//! scene metrics are computed in memory from the outputs (the files written are the same
//! numbers, as the challenges take them); DESED's are `eval sed`'s over the files written.
//! `-o DIR/report.html` shows the evaluation at a glance ([`earshot_cli::eval_page`]): the
//! headline metrics, DESED's PSD-ROC, per-class bars, and the confusion matrix for scenes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use earshot_cli::eval::{
    scenes_output, sed_report, tagging_output, warn, BootstrapArgs, EvalFormat, SedArgs,
    SedEvalArgs,
};
use earshot_cli::eval_page::{self, BarChart, Confusion, EvalPage};
use earshot_cli::eval_run::{DatasetKind, RunArgs};
use earshot_cli::{output, progress, report, Cli};
use earshot_core::datasets::{audioset, dcase, esc50, fsd50k, tau};
use earshot_core::inputs::Input;
use earshot_core::labels::Labels;
use earshot_core::metrics::{scenes, tagging};
use earshot_core::outputs::{events, median_filter, ClipOutput};
use earshot_models::tasks::probe::{Probe, ProbeOptions};
use earshot_models::tasks::{run_batched, LoadedModel};

/// Run `earshot eval run`; returns the number of clips that could not be processed.
pub fn run(cli: &Cli, args: &RunArgs) -> Result<usize> {
    if !args.root.is_dir() {
        bail!("{}: not a directory", args.root.display());
    }
    let backbone = crate::load_backbone(cli, &args.model)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("{}: cannot create directory", args.output.display()))?;
    match args.dataset {
        DatasetKind::Audioset => audioset_run(&backbone, args),
        DatasetKind::Fsd50k => fsd50k_run(&backbone, args),
        DatasetKind::Desed => desed_run(&backbone, args),
        DatasetKind::Esc50 => esc50_run(&backbone, args),
        DatasetKind::Tau2022 => tau_run(&backbone, args),
    }
}

/// Run the model over `files`; failures are reported and come back as `None`.
fn infer(
    backbone: &LoadedModel,
    files: &[PathBuf],
    args: &RunArgs,
) -> Result<Vec<Option<ClipOutput>>> {
    let index: HashMap<&Path, usize> = files
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_path(), i))
        .collect();
    let mut outs: Vec<Option<ClipOutput>> = vec![None; files.len()];
    let bar = progress(files.len(), "eval");
    let inputs = files.iter().cloned().map(Input::existing).collect();
    run_batched(backbone, inputs, args.batch_size, |path, out| {
        match out {
            Ok(o) => outs[index[path]] = Some(o),
            Err(e) => bar.suspend(|| report(path, &format!("{e:#}"))),
        }
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    Ok(outs)
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    output::atomically(path, |tmp| std::fs::write(tmp, text))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The page's heading and "what was run" rows, shared by every dataset.
fn page_head(backbone: &LoadedModel, args: &RunArgs, clips: usize, failed: usize) -> EvalPage {
    let name = format!("{:?}", args.dataset).to_lowercase();
    let dataset = match args.dataset {
        DatasetKind::Esc50 => format!("{name}, linear probe over the 5 official folds"),
        DatasetKind::Tau2022 => format!("{name}, linear probe trained on fold1_train"),
        _ => format!("{name}, split {}", args.split),
    };
    EvalPage {
        title: format!("earshot eval run: {} on {name}", backbone.name),
        facts: vec![
            ("model".into(), backbone.name.clone()),
            ("dataset".into(), dataset),
            ("root".into(), args.root.display().to_string()),
            ("clips evaluated".into(), clips.to_string()),
            ("clips that failed".into(), failed.to_string()),
            ("earshot".into(), env!("CARGO_PKG_VERSION").into()),
        ],
        ..Default::default()
    }
}

/// Write the evaluation page as `-o DIR/report.html`.
fn write_page(args: &RunArgs, page: &EvalPage) -> Result<()> {
    eval_page::write(&args.output.join("report.html"), page)
}

/// Write a weak-label ground truth and a score table (a column per class), then score the
/// clips; `names` are the classes as the page shows them.
fn tagging_report(
    backbone: &LoadedModel,
    args: &RunArgs,
    classes: &[String],
    names: &[String],
    rows: &[(String, Vec<String>, Vec<f32>)],
    failed: usize,
) -> Result<()> {
    if rows.is_empty() {
        bail!("{}: no clip could be evaluated", args.root.display());
    }
    let mut gt = String::from("filename\tevent_labels\n");
    let mut scores = format!("filename\t{}\n", classes.join("\t"));
    for (file, labels, s) in rows {
        writeln!(gt, "{file}\t{}", labels.join(","))?;
        write!(scores, "{file}")?;
        for v in s {
            write!(scores, "\t{v}")?;
        }
        scores.push('\n');
    }
    write_text(&args.output.join("ground_truth.tsv"), &gt)?;
    write_text(&args.output.join("scores.tsv"), &scores)?;
    // The metrics rank the scores, so f32 → f64 scores exactly as the TSV read back does.
    let truth: Vec<Vec<bool>> = (rows.iter())
        .map(|(_, labels, _)| classes.iter().map(|c| labels.contains(c)).collect())
        .collect();
    let probabilities: Vec<Vec<f64>> = (rows.iter())
        .map(|(_, _, s)| s.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let r = tagging::evaluate(&truth, &probabilities)
        .with_context(|| format!("{}: tagging metrics", args.root.display()))?;
    print!("{}", tagging_output(classes, &r, args.json)?);
    let mut page = page_head(backbone, args, rows.len(), failed);
    page.metrics = vec![
        ("mAP".into(), r.map),
        ("mAUC".into(), r.mauc),
        ("mAUC over the classes with an AUC".into(), r.mauc_defined),
        ("d′".into(), r.d_prime),
        ("d′ of that mAUC".into(), r.d_prime_defined),
        ("lwlrap".into(), r.lwlrap.overall),
    ];
    // A class without a positive clip has AP 0 in mAP (as scikit-learn); the page says n/a.
    let ap = (0..classes.len()).map(|c| {
        let positive = truth.iter().any(|t| t[c]);
        if positive {
            r.ap[c]
        } else {
            f64::NAN
        }
    });
    page.charts = vec![BarChart {
        title: "Average precision per class (n/a: no positive clip)".into(),
        bars: names.iter().cloned().zip(ap).collect(),
    }];
    write_page(args, &page)
}

/// The AudioSet labels, after checking that the model is an AudioSet tagger.
fn audioset_tagger(backbone: &LoadedModel) -> Result<&Labels> {
    if backbone.label_set != "audioset" {
        bail!(
            "model {} tags {} classes, not AudioSet's",
            backbone.name,
            backbone.label_set
        );
    }
    backbone.labels()
}

fn audioset_run(backbone: &LoadedModel, args: &RunArgs) -> Result<usize> {
    let labels = audioset_tagger(backbone)?;
    let listing = args.root.join(format!("{}_segments.csv", args.split));
    let (segments, issues) = audioset::read_segments(&listing, None)?;
    warn(&issues);
    let audio = [
        args.root.join("audio").join(&args.split),
        args.root.join("audio"),
        args.root.clone(),
    ]
    .into_iter()
    .find(|d| d.is_dir())
    .expect("the root is a directory");
    let (clips, issues) = audioset::match_local_files(&listing, &segments, &audio)?;
    warn(&issues);
    let files: Vec<PathBuf> = clips.found.iter().map(|(_, p)| p.clone()).collect();
    let outs = infer(backbone, &files, args)?;
    let classes: Vec<String> = labels.iter().map(|l| l.mid.clone()).collect();
    let mut unknown = 0;
    let mut rows = Vec::new();
    for ((seg, path), out) in clips.found.iter().zip(&outs) {
        let Some(out) = out else { continue };
        let known: Vec<String> = segments[*seg]
            .labels
            .iter()
            .filter(|m| labels.by_mid(m).is_some())
            .cloned()
            .collect();
        unknown += segments[*seg].labels.len() - known.len();
        rows.push((file_name(path), known, out.clipwise.clone()));
    }
    if unknown > 0 {
        eprintln!(
            "warning: {}: {unknown} labels outside the 527 classes were ignored",
            listing.display()
        );
    }
    let failed = outs.iter().filter(|o| o.is_none()).count();
    let names: Vec<String> = labels.iter().map(|l| l.name.clone()).collect();
    tagging_report(backbone, args, &classes, &names, &rows, failed)?;
    Ok(failed)
}

fn fsd50k_run(backbone: &LoadedModel, args: &RunArgs) -> Result<usize> {
    let labels = audioset_tagger(backbone)?;
    let gt_dir = args.root.join("FSD50K.ground_truth");
    let vocab_path = gt_dir.join("vocabulary.csv");
    let vocabulary = fsd50k::read_vocabulary(&vocab_path)?;
    let listing = gt_dir.join(format!("{}.csv", args.split));
    let (clips, issues) = fsd50k::read_ground_truth(&listing)?;
    warn(&issues);
    let audio = args.root.join(format!("FSD50K.{}_audio", args.split));
    // Each FSD50K class scores as the AudioSet class of the same mid.
    let mut classes = Vec::new();
    let mut columns = Vec::new();
    let mut unmapped = Vec::new();
    for (_, name, mid) in &vocabulary {
        match labels.iter().position(|l| &l.mid == mid) {
            Some(i) => {
                classes.push(name.clone());
                columns.push(i);
            }
            None => unmapped.push(name.as_str()),
        }
    }
    if !unmapped.is_empty() {
        eprintln!(
            "warning: {}: {} classes have no AudioSet output and are left out: {}",
            vocab_path.display(),
            unmapped.len(),
            unmapped.join(", ")
        );
    }
    let files: Vec<PathBuf> = clips
        .iter()
        .map(|c| audio.join(format!("{}.wav", c.fname)))
        .collect();
    let outs = infer(backbone, &files, args)?;
    let rows: Vec<_> = clips
        .iter()
        .zip(&outs)
        .filter_map(|(c, out)| {
            let out = out.as_ref()?;
            let known = c
                .labels
                .iter()
                .filter(|l| classes.contains(l))
                .cloned()
                .collect();
            let scores = columns.iter().map(|&i| out.clipwise[i]).collect();
            Some((format!("{}.wav", c.fname), known, scores))
        })
        .collect();
    let failed = outs.iter().filter(|o| o.is_none()).count();
    tagging_report(backbone, args, &classes, &classes, &rows, failed)?;
    Ok(failed)
}

/// DESED class → AudioSet class indices, from `datasets/desed/audioset_mapping.tsv`.
fn desed_mapping(labels: &Labels) -> Result<Vec<(String, Vec<usize>)>> {
    const MAPPING: &str = include_str!("../../../datasets/desed/audioset_mapping.tsv");
    let mut map: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for line in MAPPING.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(class), Some(mid)) = (f.first(), f.get(1)) else {
            bail!("datasets/desed/audioset_mapping.tsv: malformed row {line:?}");
        };
        let i = labels
            .iter()
            .position(|l| l.mid == *mid)
            .with_context(|| format!("audioset_mapping.tsv: {mid} is not a class of the model"))?;
        map.entry(class.to_string()).or_default().push(i);
    }
    Ok(map.into_iter().collect())
}

fn desed_run(backbone: &LoadedModel, args: &RunArgs) -> Result<usize> {
    if !backbone.is_sed() {
        bail!(
            "model {} gives no framewise output; DESED needs a SED model (cnn14-decisionlevelmax)",
            backbone.name
        );
    }
    // DESED classes map to AudioSet ontology ids: any head named by them will do (AudioSet's
    // 527, YAMNet's 521).
    if !["audioset", "yamnet"].contains(&backbone.label_set.as_str()) {
        bail!(
            "model {} tags {} classes; DESED maps its classes to AudioSet ids",
            backbone.name,
            backbone.label_set
        );
    }
    let mapping = desed_mapping(backbone.labels()?)?;
    let (meta, audio) = match args.split.as_str() {
        "validation" => ("validation/validation", "validation/validation"),
        "eval" => ("eval/public", "eval/public"),
        other => bail!("DESED split {other:?}: expected eval or validation"),
    };
    let gt_path = args.root.join(format!("metadata/{meta}.tsv"));
    let dur_path = args.root.join(format!("metadata/{meta}_durations.tsv"));
    let audio = args.root.join("audio").join(audio);
    let (gt, issues) = dcase::read_strong(&gt_path)?;
    warn(&issues);
    let (durations, issues) = dcase::read_durations(&dur_path)?;
    warn(&issues);
    let files: Vec<PathBuf> = durations.clips.iter().map(|(f, _)| audio.join(f)).collect();
    let outs = infer(backbone, &files, args)?;

    let classes: Vec<&str> = mapping.iter().map(|(c, _)| c.as_str()).collect();
    let scores_dir = args.output.join("scores");
    std::fs::create_dir_all(&scores_dir)
        .with_context(|| format!("{}: cannot create directory", scores_dir.display()))?;
    let mut detections = String::from("filename\tonset\toffset\tevent_label\n");
    let mut kept_gt = String::from("filename\tonset\toffset\tevent_label\n");
    let mut kept_dur = String::from("filename\tduration\n");
    let thresholds = vec![args.threshold as f32; classes.len()];
    for ((file, duration), out) in durations.clips.iter().zip(&outs) {
        let Some(out) = out else { continue };
        let (desed, frames) = desed_frames(out, *duration, &mapping);
        let table = score_table(&classes, &desed, frames, out.frame_hop, *duration)?;
        let id = dcase::audio_id(file);
        write_text(&scores_dir.join(format!("{id}.tsv")), &table)?;
        let filtered = median_filter(&desed, frames, classes.len(), args.median_filter.max(1));
        for e in events(
            &filtered,
            frames,
            classes.len(),
            &thresholds,
            out.frame_hop,
            *duration,
        ) {
            writeln!(
                detections,
                "{file}\t{:.3}\t{:.3}\t{}",
                e.onset, e.offset, classes[e.class]
            )?;
        }
        writeln!(kept_dur, "{file}\t{duration}")?;
        match gt.clip(file) {
            Some(c) if !c.events.is_empty() => {
                for e in &c.events {
                    writeln!(kept_gt, "{file}\t{}\t{}\t{}", e.onset, e.offset, e.label)?;
                }
            }
            _ => writeln!(kept_gt, "{file}\t\t\t")?,
        }
    }
    let failed = outs.iter().filter(|o| o.is_none()).count();
    if failed == outs.len() {
        bail!("{}: no clip could be evaluated", args.root.display());
    }
    let gt_out = args.output.join("ground_truth.tsv");
    let dur_out = args.output.join("durations.tsv");
    let pred_out = args.output.join("predictions.tsv");
    write_text(&gt_out, &kept_gt)?;
    write_text(&dur_out, &kept_dur)?;
    write_text(&pred_out, &detections)?;
    let sed = |predictions: Vec<PathBuf>, scores: Option<PathBuf>, psds: bool| SedArgs {
        ground_truth: gt_out.clone(),
        durations: Some(dur_out.clone()),
        predictions,
        scores,
        psds1: psds,
        psds2: psds,
        psds: Vec::new(),
        bootstrap: BootstrapArgs::default(),
        median_filters: Vec::new(),
        pi_scores: Vec::new(),
        clip_based: false,
        segment_based: false,
        collar_based: false,
        merge_overlapping: false,
        select: Vec::new(),
        select_alpha_ct: 0.0,
        event_f1: !psds,
        segment_f1: !psds,
        all_files: false,
        intersection_f1: psds,
        threshold: args.threshold,
        sed_eval: SedEvalArgs::default(),
        plot: psds.then(|| args.output.join("psd_roc.svg")),
        f1_plot: None,
        format: EvalFormat::Table,
        json: args.json,
    };
    // PSDS and intersection F1 from the score tables; F1s from the submitted detections.
    let (text_scores, mut report) = sed_report(&sed(Vec::new(), Some(scores_dir), true))?;
    let (text_detections, from_detections) = sed_report(&sed(vec![pred_out], None, false))?;
    report.extend(from_detections);
    let report = serde_json::Value::Object(report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{text_scores}{text_detections}");
    }
    let roc_path = args.output.join("psd_roc.svg");
    let roc = std::fs::read_to_string(&roc_path)
        .with_context(|| format!("{}: cannot read the plot back", roc_path.display()))?;
    let mut page = desed_page(&report, &classes);
    page.figures = vec![(
        "PSD-ROC of PSDS1 and PSDS2 (eTPR against eFPR per hour); the legend gives each PSDS."
            .into(),
        roc,
    )];
    let head = page_head(backbone, args, outs.len() - failed, failed);
    page.title = head.title;
    page.facts = head.facts;
    write_page(args, &page)?;
    Ok(failed)
}

/// A clip's DESED scores (`frames × classes`, row-major) and their frame count: the frames
/// that start inside the clip, each DESED class the maximum of its AudioSet classes.
fn desed_frames(
    out: &ClipOutput,
    duration: f64,
    mapping: &[(String, Vec<usize>)],
) -> (Vec<f32>, usize) {
    let framewise = out.framewise.as_deref().unwrap_or_default();
    let n_all = out.classes();
    let frames = (0..out.frames())
        .take_while(|&t| (t as f64) * out.frame_hop < duration)
        .count();
    let mut desed = Vec::with_capacity(frames * mapping.len());
    for row in framewise.chunks(n_all.max(1)).take(frames) {
        desed.extend(
            (mapping.iter()).map(|(_, idx)| idx.iter().map(|&i| row[i]).fold(f32::MIN, f32::max)),
        );
    }
    (desed, frames)
}

/// A sed_scores_eval score table: `onset offset <class>...`, a row per frame, the last
/// frame's offset cut at the clip's end.
fn score_table(
    classes: &[&str],
    scores: &[f32],
    frames: usize,
    hop: f64,
    duration: f64,
) -> Result<String> {
    let mut table = format!("onset\toffset\t{}\n", classes.join("\t"));
    for (t, row) in scores.chunks(classes.len().max(1)).take(frames).enumerate() {
        let onset = t as f64 * hop;
        let offset = ((t + 1) as f64 * hop).min(duration);
        write!(table, "{onset}\t{offset}")?;
        for v in row {
            write!(table, "\t{v}")?;
        }
        table.push('\n');
    }
    Ok(table)
}

/// DESED's headline metrics and per-class bars, from `eval sed`'s JSON report.
fn desed_page(report: &serde_json::Value, classes: &[&str]) -> EvalPage {
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    // sed_eval's class-wise F1 (event- or segment-based), in `classes` order.
    let sed_eval_f1 = |metric: &str| -> Vec<(String, f64)> {
        let rows = report[metric]["class_wise"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (classes.iter())
            .map(|c| {
                let row = rows.iter().find(|r| r["label"] == *c);
                let f = row.map_or(f64::NAN, |r| number(&r["f"]["f_measure"]));
                (c.to_string(), f)
            })
            .collect()
    };
    let per_class = |values: &serde_json::Value| -> Vec<(String, f64)> {
        (classes.iter().enumerate())
            .map(|(k, c)| (c.to_string(), number(&values[k])))
            .collect()
    };
    let intersection = &report["intersection_f1"]["result"];
    EvalPage {
        metrics: vec![
            ("PSDS1".into(), number(&report["psds1"]["value"])),
            ("PSDS2".into(), number(&report["psds2"]["value"])),
            (
                "intersection F1 (macro)".into(),
                number(&intersection["macro_average"]["f"]),
            ),
            (
                "event-based F1 (macro)".into(),
                number(&report["event_based"]["class_wise_average"]["f_measure"]["f_measure"]),
            ),
            (
                "event-based F1 (micro)".into(),
                number(&report["event_based"]["overall"]["f_measure"]["f_measure"]),
            ),
            (
                "segment-based F1 (micro)".into(),
                number(&report["segment_based"]["overall"]["f_measure"]["f_measure"]),
            ),
        ],
        charts: vec![
            BarChart {
                title: "Event-based F1 per class (sed_eval, 200 ms collar)".into(),
                bars: sed_eval_f1("event_based"),
            },
            BarChart {
                title: "Segment-based F1 per class (sed_eval, 1 s segments)".into(),
                bars: sed_eval_f1("segment_based"),
            },
            BarChart {
                title: "Intersection-based F1 per class (DTC = GTC = 0.5)".into(),
                bars: (classes.iter().enumerate())
                    .map(|(k, c)| (c.to_string(), number(&intersection["per_class"][k]["f"])))
                    .collect(),
            },
            BarChart {
                title: "PSDS1 per class".into(),
                bars: per_class(&report["psds1"]["per_class"]),
            },
        ],
        ..Default::default()
    }
}

/// Out-of-fold probe predictions: for each fold, train on the clips of the other folds.
fn probe_folds(
    embeddings: &[Vec<f32>],
    labels: &[usize],
    folds: &[u32],
    classes: usize,
) -> Result<Vec<Vec<f64>>> {
    let mut probs = vec![Vec::new(); embeddings.len()];
    let mut fold_ids: Vec<u32> = folds.to_vec();
    fold_ids.sort_unstable();
    fold_ids.dedup();
    if fold_ids.len() < 2 {
        bail!(
            "the probe needs at least two folds, found {}",
            fold_ids.len()
        );
    }
    for k in fold_ids {
        let (train, test): (Vec<usize>, Vec<usize>) =
            (0..embeddings.len()).partition(|&i| folds[i] != k);
        let x: Vec<Vec<f32>> = train.iter().map(|&i| embeddings[i].clone()).collect();
        let y: Vec<usize> = train.iter().map(|&i| labels[i]).collect();
        let probe = Probe::train(&x, &y, classes, ProbeOptions::default())?;
        let xt: Vec<Vec<f32>> = test.iter().map(|&i| embeddings[i].clone()).collect();
        for (i, p) in test.into_iter().zip(probe.predict(&xt)?) {
            probs[i] = p;
        }
    }
    Ok(probs)
}

/// Write the reference and Task 1 system output for `items` (filename, label, probabilities),
/// then score them.
fn scenes_report(
    backbone: &LoadedModel,
    args: &RunArgs,
    classes: &[String],
    items: &[(String, String, Vec<f64>)],
    failed: usize,
) -> Result<()> {
    let mut gt = String::from("filename\tscene_label\n");
    let mut pred = format!("filename\tscene_label\t{}\n", classes.join("\t"));
    let mut estimated = Vec::with_capacity(items.len());
    for (file, label, p) in items {
        writeln!(gt, "{file}\t{label}")?;
        let best = (0..p.len())
            .max_by(|&a, &b| p[a].total_cmp(&p[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        estimated.push(classes[best].as_str());
        write!(pred, "{file}\t{}", classes[best])?;
        for v in p {
            write!(pred, "\t{v}")?;
        }
        pred.push('\n');
    }
    write_text(&args.output.join("ground_truth.tsv"), &gt)?;
    write_text(&args.output.join("predictions.tsv"), &pred)?;
    let reference: Vec<&str> = items.iter().map(|(_, l, _)| l.as_str()).collect();
    let probabilities: Vec<Vec<f64>> = items.iter().map(|(_, _, p)| p.clone()).collect();
    let r = scenes::evaluate(classes, &reference, &estimated, Some(&probabilities))
        .with_context(|| format!("{}: scene metrics", args.root.display()))?;
    print!(
        "{}",
        scenes_output(&r, EvalFormat::of(EvalFormat::Table, args.json))?
    );
    let mut page = page_head(backbone, args, items.len(), failed);
    page.metrics = vec![
        ("accuracy (macro, DCASE Task 1)".into(), r.macro_accuracy),
        ("accuracy (overall)".into(), r.overall_accuracy),
        ("log loss".into(), r.log_loss.unwrap_or(f64::NAN)),
    ];
    page.confusion = Some(Confusion::of(classes, &reference, &estimated));
    page.charts = vec![BarChart {
        title: "Accuracy per class".into(),
        bars: (r.class_wise.iter())
            .map(|(label, acc, _, _)| (label.clone(), *acc))
            .collect(),
    }];
    write_page(args, &page)
}

fn embedding_of(backbone: &LoadedModel, out: &ClipOutput) -> Result<Vec<f32>> {
    out.embedding
        .clone()
        .with_context(|| format!("model {} has no clip embedding", backbone.name))
}

fn esc50_run(backbone: &LoadedModel, args: &RunArgs) -> Result<usize> {
    let meta = args.root.join("meta").join("esc50.csv");
    let (clips, issues) = esc50::read_meta(&meta)?;
    warn(&issues);
    let files: Vec<PathBuf> = clips
        .iter()
        .map(|c| args.root.join("audio").join(&c.filename))
        .collect();
    let outs = infer(backbone, &files, args)?;
    let mut classes: Vec<String> = clips.iter().map(|c| c.category.clone()).collect();
    classes.sort();
    classes.dedup();
    let (mut emb, mut lab, mut folds, mut kept) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (c, out) in clips.iter().zip(&outs) {
        let Some(out) = out else { continue };
        emb.push(embedding_of(backbone, out)?);
        lab.push(classes.binary_search(&c.category).expect("class listed"));
        folds.push(c.fold);
        kept.push(c);
    }
    let probs = probe_folds(&emb, &lab, &folds, classes.len())?;
    let items: Vec<_> = kept
        .iter()
        .zip(probs)
        .map(|(c, p)| (c.filename.clone(), c.category.clone(), p))
        .collect();
    let failed = outs.iter().filter(|o| o.is_none()).count();
    scenes_report(backbone, args, &classes, &items, failed)?;
    Ok(failed)
}

fn tau_run(backbone: &LoadedModel, args: &RunArgs) -> Result<usize> {
    let train_path = tau::fold_path(&args.root, 1, "train");
    let eval_path = tau::fold_path(&args.root, 1, "evaluate");
    let (train, issues) = tau::read_meta(&train_path)?;
    warn(&issues);
    let (evaluate, issues) = tau::read_meta(&eval_path)?;
    warn(&issues);
    let all: Vec<&tau::SceneItem> = train.iter().chain(&evaluate).collect();
    let files: Vec<PathBuf> = all.iter().map(|i| args.root.join(&i.filename)).collect();
    let outs = infer(backbone, &files, args)?;
    let mut classes: Vec<String> = train.iter().map(|i| i.scene_label.clone()).collect();
    classes.sort();
    classes.dedup();
    let (mut emb, mut lab, mut folds, mut kept) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (k, (item, out)) in all.iter().zip(&outs).enumerate() {
        let Some(out) = out else { continue };
        let Ok(label) = classes.binary_search(&item.scene_label) else {
            eprintln!(
                "warning: {}:{}: scene {:?} is not in the training fold; left out",
                eval_path.display(),
                item.line,
                item.scene_label
            );
            continue;
        };
        emb.push(embedding_of(backbone, out)?);
        lab.push(label);
        // Fold 0 trains, fold 1 is evaluated.
        folds.push(u32::from(k >= train.len()));
        kept.push(*item);
    }
    let test: Vec<usize> = (0..emb.len()).filter(|&i| folds[i] == 1).collect();
    let train_idx: Vec<usize> = (0..emb.len()).filter(|&i| folds[i] == 0).collect();
    if test.is_empty() || train_idx.is_empty() {
        bail!(
            "{}: fold 1 needs clips to train on and to evaluate",
            args.root.display()
        );
    }
    let x: Vec<Vec<f32>> = train_idx.iter().map(|&i| emb[i].clone()).collect();
    let y: Vec<usize> = train_idx.iter().map(|&i| lab[i]).collect();
    let probe = Probe::train(&x, &y, classes.len(), ProbeOptions::default())?;
    let xt: Vec<Vec<f32>> = test.iter().map(|&i| emb[i].clone()).collect();
    let items: Vec<_> = test
        .iter()
        .zip(probe.predict(&xt)?)
        .map(|(&i, p)| (kept[i].filename.clone(), kept[i].scene_label.clone(), p))
        .collect();
    let failed = outs.iter().filter(|o| o.is_none()).count();
    scenes_report(backbone, args, &classes, &items, failed)?;
    Ok(failed)
}
