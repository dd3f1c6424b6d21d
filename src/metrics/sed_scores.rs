//! Threshold-independent intersection-based evaluation as `sed_scores_eval` 0.0.4 computes it
//! (`sed_scores_eval/intersection_based/{intermediate_statistics,psds,precision_recall}.py`,
//! `base_modules/{statistics,detection,curves}.py`): PSDS over **every** decision threshold,
//! per-class PSDS, and the intersection-based F-score at a fixed threshold.
//!
//! For each clip and class, every distinct score is a candidate threshold; frames with
//! `score ≥ threshold` form detections (runs of frames). Their true positives, false positives
//! and cross triggers are turned into per-clip deltas at the change points, pooled over clips,
//! sorted and cumulated — the same statistics as evaluating every threshold on the whole set.
//! Traps reproduced: intersection sums and `criterion × length` are both rounded to 6 decimals
//! (`np.round`, half to even) before `≥`; TPR divides by max(n_ref, 1); cross-trigger rates are
//! divided by max(t_ref, 1e-12) and averaged with a plain mean over the other classes; the
//! per-class ROC keeps only points where the cumulative-max TPR strictly increases and, per
//! eFPR, the highest TPR; classes are combined on the union grid with 'previous'
//! interpolation, eTPR = mean − α_st·std clipped at 0, then (max_efpr, last eTPR) appended; the
//! fixed-threshold F uses the operating point of the smallest change point **above** the
//! threshold (i.e. `score > t`, the baseline's decoding), P = 1 with no detections, macro = mean.
//! Inputs are validated as sed_scores_eval does: identical clip-id sets for scores, ground
//! truth and durations; no overlapping *or touching* same-class ground-truth events; every
//! score class has ground truth.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use rayon::prelude::*;

use super::{MetricsError, PsdRoc, PsdsParams, Result};
use crate::datasets::dcase::{audio_id, Durations, ScoreTable, StrongLabels};

/// `np.round(x, 6)`.
fn round6(x: f64) -> f64 {
    (x * 1e6).round_ties_even() / 1e6
}

/// Accumulated statistics of one class over all clips, one entry per change-point score
/// (ascending) plus a final `+inf` entry with all counts 0.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassStats {
    /// Change-point scores (ascending), last = +inf.
    pub scores: Vec<f64>,
    /// True-positive ground-truth events when the threshold falls to each score.
    pub tps: Vec<f64>,
    /// False-positive detections.
    pub fps: Vec<f64>,
    /// Cross triggers with each other class (`cts[k][i]`; empty without cttc).
    pub cts: Vec<Vec<f64>>,
    /// Ground-truth events of the class.
    pub n_ref: f64,
    /// Total ground-truth duration of the class.
    pub t_ref: f64,
}

/// Statistics of a whole evaluation set.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// Class names (score columns).
    pub classes: Vec<String>,
    /// One entry per class.
    pub per_class: Vec<ClassStats>,
    /// Summed clip durations, seconds.
    pub dataset_duration: f64,
    /// Number of clips.
    pub n_clips: usize,
}

/// One clip's inputs, resolved.
struct ClipInput<'a> {
    scores: &'a ScoreTable,
    /// Ground-truth (onset, offset) per class, in file order.
    gt: Vec<Vec<(f64, f64)>>,
}

/// Per-threshold statistics of one clip and class.
#[derive(Debug, Clone, Copy)]
struct Criteria {
    dtc: f64,
    gtc: f64,
    cttc: Option<f64>,
}

/// Detections (runs of frames with score ≥ threshold) of one class's score track, as
/// half-open frame ranges.
fn runs(track: &[f64], threshold: f64, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut start = None;
    for (t, &s) in track.iter().enumerate() {
        let on = s >= threshold && s > f64::NEG_INFINITY;
        match (on, start) {
            (true, None) => start = Some(t),
            (false, Some(st)) => {
                out.push((st, t));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, track.len()));
    }
}

fn intersection(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0.0)
}

/// What one detection contributes on its own: whether it passes the detection-tolerance
/// criterion (a true detection) and, if not, which other classes it cross-triggers on.
#[derive(Debug, Clone)]
struct RunStats {
    passes: bool,
    cross: Vec<bool>,
}

fn run_stats(
    d: (f64, f64),
    target: &[(f64, f64)],
    others: &[&[(f64, f64)]],
    crit: Criteria,
) -> RunStats {
    let total: f64 = target
        .iter()
        .map(|&g| intersection(d, g))
        .fold(0.0, |a, b| a + b);
    let passes = round6(total) >= round6(crit.dtc * (d.1 - d.0));
    let cross = match crit.cttc {
        Some(cttc) => others
            .iter()
            .map(|other| {
                !other.is_empty() && {
                    let total: f64 = if passes {
                        0.0
                    } else {
                        other
                            .iter()
                            .map(|&g| intersection(d, g))
                            .fold(0.0, |a, b| a + b)
                    };
                    round6(total) >= round6(cttc * (d.1 - d.0))
                }
            })
            .collect(),
        None => Vec::new(),
    };
    RunStats { passes, cross }
}

/// Hashes a frame range packed into a `u64` by multiplying it with an odd constant: the keys
/// are small distinct integers, so SipHash's protection buys nothing here.
#[derive(Default)]
struct FrameRangeHasher(u64);

impl std::hash::Hasher for FrameRangeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Change points of one clip and class, flat: `scores[i]` with Δtps `dt[i]`, Δfps `df[i]`
/// and Δcts `dc[i * n_other ..][..n_other]`.
#[derive(Debug, Default)]
struct Deltas {
    scores: Vec<f64>,
    dt: Vec<f64>,
    df: Vec<f64>,
    dc: Vec<f64>,
}

impl Deltas {
    fn push(&mut self, score: f64, dt: f64, df: f64, dc: &[f64]) {
        self.scores.push(score);
        self.dt.push(dt);
        self.df.push(df);
        self.dc.extend_from_slice(dc);
    }
}

/// Append the change points of one clip and class to `out`. A detection's own statistics depend
/// only on its frame range, and a sweep over all thresholds meets each range at most a few
/// times, so they are computed once per range.
fn clip_class_deltas(clip: &ClipInput, class: usize, crit: Criteria, out: &mut Deltas) {
    let table = clip.scores;
    let track = table.class_scores(class);
    let ts = &table.timestamps;
    let n_classes = table.classes.len();
    let target = &clip.gt[class];
    let others: Vec<&[(f64, f64)]> = (0..n_classes)
        .filter(|&k| k != class)
        .map(|k| clip.gt[k].as_slice())
        .collect();
    let n_other = if crit.cttc.is_some() { others.len() } else { 0 };
    let no_gt_anywhere =
        target.is_empty() && (crit.cttc.is_none() || others.iter().all(|o| o.is_empty()));
    if no_gt_anywhere {
        // Only false positives: the number of detections changes by +1 where the threshold
        // passes a local maximum and -1 at a local minimum (sed_scores_eval's
        // `acceleration_fn` / `onset_deltas`), so no threshold needs its detections built.
        let mut deltas: Vec<(f64, f64)> = (0..track.len())
            .filter_map(|t| {
                let s = track[t];
                let prev = if t == 0 {
                    f64::NEG_INFINITY
                } else {
                    track[t - 1]
                };
                let next = track.get(t + 1).copied().unwrap_or(f64::NEG_INFINITY);
                let d = f64::from(u8::from(s > prev)) - f64::from(u8::from(next > s));
                (d != 0.0 && s > f64::NEG_INFINITY).then_some((s, d))
            })
            .collect();
        deltas.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut grouped: Vec<(f64, f64)> = Vec::new();
        for (s, d) in deltas {
            match grouped.last_mut() {
                Some(last) if last.0 == s => last.1 += d,
                _ => grouped.push((s, d)),
            }
        }
        let zeros = vec![0.0; n_other];
        for (s, d) in grouped.into_iter().filter(|x| x.1 != 0.0) {
            out.push(s, 0.0, d, &zeros);
        }
        return;
    }
    let mut unique: Vec<f64> = track.clone();
    unique.sort_by(f64::total_cmp);
    unique.dedup();
    // Statistics at each unique threshold, ascending; then the "+inf" zero state.
    let stride = 2 + n_other;
    let mut stats: Vec<f64> = Vec::with_capacity(unique.len() * stride);
    let mut dets = Vec::new();
    let mut cache: HashMap<u64, RunStats, BuildHasherDefault<FrameRangeHasher>> =
        HashMap::default();
    let mut passing: Vec<(f64, f64)> = Vec::new();
    let mut cts = vec![0.0; n_other];
    for &u in &unique {
        runs(&track, u, &mut dets);
        let mut fps = 0.0;
        cts.iter_mut().for_each(|c| *c = 0.0);
        passing.clear();
        for &(a, b) in &dets {
            let r = cache
                .entry(((a as u64) << 32) | b as u64)
                .or_insert_with(|| run_stats((ts[a], ts[b]), target, &others, crit));
            if r.passes {
                passing.push((ts[a], ts[b]));
            } else {
                fps += 1.0;
            }
            for (c, &x) in cts.iter_mut().zip(&r.cross) {
                *c += f64::from(u8::from(x));
            }
        }
        let mut tps = 0.0;
        for &g in target {
            let cov: f64 = passing
                .iter()
                .map(|&d| intersection(d, g))
                .fold(0.0, |x, y| x + y);
            if round6(cov) >= round6(crit.gtc * (g.1 - g.0)) {
                tps += 1.0;
            }
        }
        stats.push(tps);
        stats.push(fps);
        stats.extend_from_slice(&cts);
    }
    let zero = vec![0.0; stride];
    let mut dc = vec![0.0; n_other];
    for (i, &u) in unique.iter().enumerate() {
        let here = &stats[i * stride..(i + 1) * stride];
        let next = stats
            .get((i + 1) * stride..(i + 2) * stride)
            .unwrap_or(&zero);
        let dt = here[0] - next[0];
        let df = here[1] - next[1];
        for k in 0..n_other {
            dc[k] = here[2 + k] - next[2 + k];
        }
        if dt != 0.0 || df != 0.0 || dc.iter().any(|&x| x != 0.0) {
            out.push(u, dt, df, &dc);
        }
    }
}

/// Validate inputs as sed_scores_eval does and compute the accumulated statistics.
pub fn statistics(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    dtc: f64,
    gtc: f64,
    cttc: Option<f64>,
) -> Result<Statistics> {
    let Some(first) = scores.first() else {
        return Err(MetricsError::Empty("no score tables".into()));
    };
    let classes = first.classes.clone();
    let n_classes = classes.len();
    for t in scores {
        if t.classes != classes {
            return Err(MetricsError::Shape(format!(
                "{}: class columns differ from {}",
                t.id, first.id
            )));
        }
    }
    // Ids.
    let score_ids: HashSet<&str> = scores.iter().map(|s| s.id.as_str()).collect();
    let mut gt_by_id: HashMap<&str, Vec<&crate::datasets::dcase::Event>> = HashMap::new();
    for clip in &ground_truth.clips {
        gt_by_id
            .entry(audio_id(&clip.filename))
            .or_default()
            .extend(clip.events.iter());
    }
    let dur_by_id: HashMap<&str, f64> = durations
        .clips
        .iter()
        .map(|(f, d)| (audio_id(f), *d))
        .collect();
    let compare = |name: &str, ids: HashSet<&str>| -> Result<()> {
        if ids != score_ids {
            let mut missing: Vec<&&str> = score_ids.difference(&ids).collect();
            let mut extra: Vec<&&str> = ids.difference(&score_ids).collect();
            missing.sort();
            extra.sort();
            let show = |v: &[&&str]| {
                let s: Vec<&str> = v.iter().take(5).map(|x| **x).collect();
                format!("{}{}", s.join(", "), if v.len() > 5 { ", …" } else { "" })
            };
            return Err(MetricsError::Ids(format!(
                "{name}: {} scored clip(s) missing ({}), {} extra ({})",
                missing.len(),
                show(&missing),
                extra.len(),
                show(&extra)
            )));
        }
        Ok(())
    };
    compare("ground truth", gt_by_id.keys().copied().collect())?;
    compare("durations", dur_by_id.keys().copied().collect())?;
    // Ground truth per clip and class; connected events rejected.
    let mut n_ref = vec![0.0; n_classes];
    let mut t_ref = vec![0.0; n_classes];
    let mut clips = Vec::with_capacity(scores.len());
    for table in scores {
        let mut gt = vec![Vec::new(); n_classes];
        for e in &gt_by_id[table.id.as_str()] {
            let c = classes
                .iter()
                .position(|l| *l == e.label)
                .ok_or_else(|| MetricsError::UnknownLabel(e.label.clone()))?;
            gt[c].push((e.onset, e.offset));
            n_ref[c] += 1.0;
            t_ref[c] += e.offset - e.onset;
        }
        for (c, events) in gt.iter().enumerate() {
            let mut sorted = events.clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let mut prev = -1e6;
            for &(on, off) in &sorted {
                if on <= prev {
                    return Err(MetricsError::Overlap {
                        file: table.id.clone(),
                        label: classes[c].clone(),
                        detail: format!("an event starts at {on}, the previous ends at {prev}"),
                    });
                }
                prev = off;
            }
        }
        clips.push(ClipInput { scores: table, gt });
    }
    let without: Vec<&str> = classes
        .iter()
        .zip(&n_ref)
        .filter(|(_, &n)| n == 0.0)
        .map(|(c, _)| c.as_str())
        .collect();
    if !without.is_empty() {
        return Err(MetricsError::NoGroundTruth(without.join(", ")));
    }
    let crit = Criteria { dtc, gtc, cttc };
    let n_other = if cttc.is_some() { n_classes - 1 } else { 0 };
    let per_class: Vec<ClassStats> = (0..n_classes)
        .into_par_iter()
        .map(|c| {
            let mut all = Deltas::default();
            for clip in &clips {
                clip_class_deltas(clip, c, crit, &mut all);
            }
            // Stable by score, so equal scores keep clip order (and the sums their order).
            let mut order: Vec<usize> = (0..all.scores.len()).collect();
            order.sort_by(|&a, &b| all.scores[a].total_cmp(&all.scores[b]));
            // Group equal scores, then cumulate from the top.
            let mut scores: Vec<f64> = Vec::new();
            let mut grouped: Vec<(f64, f64, Vec<f64>)> = Vec::new();
            for i in order {
                let (s, dt, df) = (all.scores[i], all.dt[i], all.df[i]);
                let dc = &all.dc[i * n_other..(i + 1) * n_other];
                if scores.last() == Some(&s) {
                    let g = grouped.last_mut().expect("non-empty");
                    g.0 += dt;
                    g.1 += df;
                    for (a, b) in g.2.iter_mut().zip(dc) {
                        *a += b;
                    }
                } else {
                    scores.push(s);
                    grouped.push((dt, df, dc.to_vec()));
                }
            }
            let m = scores.len();
            let mut tps = vec![0.0; m + 1];
            let mut fps = vec![0.0; m + 1];
            let mut cts = vec![vec![0.0; m + 1]; n_other];
            for i in (0..m).rev() {
                tps[i] = tps[i + 1] + grouped[i].0;
                fps[i] = fps[i + 1] + grouped[i].1;
                for (k, ct) in cts.iter_mut().enumerate() {
                    ct[i] = ct[i + 1] + grouped[i].2[k];
                }
            }
            scores.push(f64::INFINITY);
            ClassStats {
                scores,
                tps,
                fps,
                cts,
                n_ref: n_ref[c],
                t_ref: t_ref[c],
            }
        })
        .collect();
    let dataset_duration = scores.iter().map(|t| dur_by_id[t.id.as_str()]).sum();
    Ok(Statistics {
        classes,
        per_class,
        dataset_duration,
        n_clips: scores.len(),
    })
}

/// PSDS with its per-class values and curves.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoresPsds {
    /// PSDS.
    pub value: f64,
    /// Per-class PSDS (class order of the score columns).
    pub per_class: Vec<f64>,
    /// The effective PSD-ROC, with (max_efpr, last eTPR) appended.
    pub roc: PsdRoc,
    /// Per-class ROC (eFPR, TPR), cut at max_efpr.
    pub class_rocs: Vec<PsdRoc>,
    /// Parameters used.
    pub params: PsdsParams,
}

/// `_unique_cummax_sort`: sort by (eFPR, TPR), keep strict increases of the cumulative-max TPR,
/// keep the highest TPR per eFPR, cut eFPR > max_efpr.
fn unique_cummax_sort(tpr: &[f64], efpr: &[f64], max_efpr: f64) -> PsdRoc {
    let mut idx: Vec<usize> = (0..tpr.len()).collect();
    idx.sort_by(|&a, &b| efpr[a].total_cmp(&efpr[b]).then(tpr[a].total_cmp(&tpr[b])));
    let mut kept: Vec<(f64, f64)> = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for (n, &i) in idx.iter().enumerate() {
        if n == 0 || tpr[i] > best {
            kept.push((efpr[i], tpr[i]));
        }
        best = best.max(tpr[i]);
    }
    let mut roc = PsdRoc::default();
    for (x, y) in kept {
        if roc.efpr.last() == Some(&x) {
            *roc.etpr.last_mut().expect("non-empty") = y;
        } else {
            roc.efpr.push(x);
            roc.etpr.push(y);
        }
    }
    let cut = roc
        .efpr
        .iter()
        .position(|&x| x > max_efpr)
        .unwrap_or(roc.efpr.len());
    roc.efpr.truncate(cut);
    roc.etpr.truncate(cut);
    roc
}

/// `staircase_auc(y, x, max_x)`.
fn staircase_auc(roc: &PsdRoc, max_x: f64) -> f64 {
    let mut idx: Vec<usize> = (0..roc.efpr.len()).collect();
    idx.sort_by(|&a, &b| roc.efpr[a].total_cmp(&roc.efpr[b]));
    let cut = idx
        .iter()
        .position(|&i| roc.efpr[i] > max_x)
        .unwrap_or(idx.len());
    let mut x: Vec<f64> = idx[..cut].iter().map(|&i| roc.efpr[i]).collect();
    x.push(max_x);
    let y: Vec<f64> = idx[..cut].iter().map(|&i| roc.etpr[i]).collect();
    (0..y.len()).map(|i| y[i] * (x[i + 1] - x[i])).sum()
}

/// PSDS from accumulated statistics (`sed_scores_eval.intersection_based.psds`).
pub fn psds(stats: &Statistics, params: &PsdsParams) -> Result<ScoresPsds> {
    params.validate()?;
    let n = stats.classes.len();
    let with_ct = params.alpha_ct != 0.0;
    if with_ct && stats.per_class.iter().any(|c| c.cts.len() + 1 != n) {
        return Err(MetricsError::Parameter(
            "alpha_ct > 0 needs statistics computed with a cttc threshold".into(),
        ));
    }
    if with_ct && n < 2 {
        return Err(MetricsError::Parameter(
            "cross triggers need at least two classes".into(),
        ));
    }
    let class_rocs: Vec<PsdRoc> = stats
        .per_class
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let tpr: Vec<f64> = c.tps.iter().map(|t| t / c.n_ref.max(1.0)).collect();
            let others: Vec<usize> = (0..n).filter(|&k| k != ci).collect();
            let efpr: Vec<f64> = (0..c.scores.len())
                .map(|i| {
                    let fpr = c.fps[i] / stats.dataset_duration;
                    let e = if with_ct {
                        let rates: Vec<f64> = others
                            .iter()
                            .enumerate()
                            .map(|(j, &k)| c.cts[j][i] / stats.per_class[k].t_ref.max(1e-12))
                            .collect();
                        fpr + params.alpha_ct * super::mean(&rates)
                    } else {
                        fpr
                    };
                    e * 3600.0
                })
                .collect();
            unique_cummax_sort(&tpr, &efpr, params.max_efpr)
        })
        .collect();
    let mut grid: Vec<f64> = class_rocs
        .iter()
        .flat_map(|r| r.efpr.iter().copied())
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let interpolated: Vec<Vec<f64>> = class_rocs
        .iter()
        .map(|r| {
            grid.iter()
                .map(|&g| {
                    // 'previous': value at the last x ≤ g; 0 before the first point.
                    match r.efpr.partition_point(|&x| x <= g) {
                        0 => 0.0,
                        j => r.etpr[j - 1],
                    }
                })
                .collect()
        })
        .collect();
    let mut etpr: Vec<f64> = (0..grid.len())
        .map(|i| {
            let col: Vec<f64> = interpolated.iter().map(|c| c[i]).collect();
            (super::mean(&col) - params.alpha_st * super::std_pop(&col)).max(0.0)
        })
        .collect();
    let mut efpr = grid;
    etpr.push(etpr.last().copied().unwrap_or(0.0));
    efpr.push(params.max_efpr);
    let roc = PsdRoc { efpr, etpr };
    let value = staircase_auc(&roc, params.max_efpr) / params.max_efpr;
    let per_class = class_rocs
        .iter()
        .map(|r| staircase_auc(r, params.max_efpr) / params.max_efpr)
        .collect();
    Ok(ScoresPsds {
        value,
        per_class,
        roc,
        class_rocs,
        params: *params,
    })
}

/// F-score, precision, recall.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prf {
    /// F-score.
    pub f: f64,
    /// Precision.
    pub p: f64,
    /// Recall.
    pub r: f64,
}

/// Intersection-based F at a fixed threshold: per class, macro average, micro average.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FscoreResult {
    /// Per class (score column order).
    pub per_class: Vec<Prf>,
    /// Mean over classes.
    pub macro_average: Prf,
    /// From summed counts.
    pub micro_average: Prf,
    /// The threshold.
    pub threshold: f64,
}

fn f_from(p: f64, r: f64, beta: f64) -> f64 {
    (1.0 + beta * beta) * p * r / (beta * beta * p + r).max(1e-15)
}

/// `intersection_based.fscore(threshold=…)` from accumulated statistics (no cttc needed).
pub fn fscore(stats: &Statistics, threshold: f64, beta: f64) -> FscoreResult {
    let (mut tps_all, mut fps_all, mut nref_all) = (0.0, 0.0, 0.0);
    let per_class: Vec<Prf> = stats
        .per_class
        .iter()
        .map(|c| {
            let i = c.scores.partition_point(|&s| s <= threshold);
            let i = i.min(c.scores.len() - 1);
            let (tp, fp) = (c.tps[i], c.fps[i]);
            tps_all += tp;
            fps_all += fp;
            nref_all += c.n_ref;
            // No detections: precision 1 (precision_recall_curve_from_intermediate_statistics).
            let p = if tp + fp == 0.0 {
                1.0
            } else {
                tp / (tp + fp).max(1.0)
            };
            let r = tp / c.n_ref;
            Prf {
                f: f_from(p, r, beta),
                p,
                r,
            }
        })
        .collect();
    let avg = |f: fn(&Prf) -> f64| super::mean(&per_class.iter().map(f).collect::<Vec<_>>());
    let macro_average = Prf {
        f: avg(|x| x.f),
        p: avg(|x| x.p),
        r: avg(|x| x.r),
    };
    let p = tps_all / (tps_all + fps_all).max(1.0);
    let r = tps_all / nref_all.max(1.0);
    FscoreResult {
        per_class,
        macro_average,
        micro_average: Prf {
            f: f_from(p, r, beta),
            p,
            r,
        },
        threshold,
    }
}
