//! Clip-, segment- and collar-based evaluation of frame-wise SED scores over every threshold,
//! as `sed_scores_eval.clip_based`, `segment_based` and `collar_based` 0.0.4 compute them: each
//! clip, segment or detection is one yes/no decision per class.
//!
//! - Clip-based (`clip_based.intermediate_statistics`): a clip's score for a class is its
//!   highest frame score; it is positive for the classes its ground truth names.
//! - Segment-based (`segment_based.intermediate_statistics`): each clip is cut into
//!   `ceil(duration / segment_length)` segments (boundaries `round(i · length, time_decimals)`);
//!   a segment scores the highest of the frames that overlap it (0 when none does) and is
//!   positive when an event of the class overlaps it.
//! - Collar-based (`collar_based.intermediate_statistics`): at each threshold the detections
//!   are matched one-to-one to events within onset and offset collars ([`Collars`]).
//! - Statistics: per class, the distinct scores ascending plus `+inf`, and at each the true and
//!   false positives of `score ≥ threshold`.
//! - Average precision (`average_precision`): the precision–recall curve sorted by (recall,
//!   precision), of equal recalls the last kept, `Σ p_k (r_k − r_{k−1})`; precision is 1 where
//!   nothing is detected. A class without positive clips has no recall, and is refused.
//! - Best F (`best_fscore`): the highest F over thresholds (of equal F the highest threshold),
//!   reported at the midpoint between that score and the next lower one (−∞ at the lowest);
//!   macro average = the mean of the classes' best F, P and R; micro average from the counts at
//!   each class's best threshold.
//! - F at a threshold (`fscore`): the counts of `score > threshold`.
//! - Error rates (`error_rate`, `best_error_rate`): per class, (false positives + missed
//!   references) / references, with the insertion and deletion rates; the lowest over
//!   thresholds is reported like the best F (of equal ones the highest threshold).
//!
//! - ROC-AUC (`clip_based.roc`, `segment_based.roc`): the staircase under (FPR, TPR). The
//!   reference's last sort is numpy's unstable argsort, so on tied FPRs its own value moves
//!   with the machine; earshot keeps tied points in (FPR, TPR) order, which the reference gives
//!   with a stable sort (`tests/gen_psds.py` computes it so).

use std::collections::{HashMap, HashSet};

use super::sed_scores::{f_beta, precision, Prf};
use super::{round_to, MetricsError, Result};
use crate::datasets::dcase::{audio_id, Durations, ScoreTable, StrongLabels};

/// One class's statistics at every threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassStats {
    /// Distinct scores, ascending, then `+inf`.
    pub scores: Vec<f64>,
    /// Positive clips (segments) scoring at least `scores[i]`.
    pub tps: Vec<f64>,
    /// Negative clips (segments) scoring at least `scores[i]`.
    pub fps: Vec<f64>,
    /// Positive clips (segments).
    pub n_ref: f64,
}

/// Clip-level statistics of score tables against the tags of a ground truth (the classes of
/// each clip's events): the class columns' names and each class's statistics.
pub fn statistics(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
) -> Result<(Vec<String>, Vec<ClassStats>)> {
    let Some(first) = scores.first() else {
        return Err(MetricsError::Empty("no score tables".into()));
    };
    let classes = first.classes.clone();
    if let Some(t) = scores.iter().find(|t| t.classes != classes) {
        return Err(MetricsError::Shape(format!(
            "{}: class columns differ from {}",
            t.id, first.id
        )));
    }
    let mut tags: HashMap<&str, HashSet<&str>> = HashMap::new();
    for clip in &ground_truth.clips {
        let entry = tags.entry(audio_id(&clip.filename)).or_default();
        entry.extend(clip.events.iter().map(|e| e.label.as_str()));
    }
    let known: HashSet<&str> = classes.iter().map(String::as_str).collect();
    let mut unknown: Vec<&str> = (tags.values().flatten())
        .filter(|t| !known.contains(**t))
        .copied()
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(MetricsError::UnknownLabel(unknown.join("', '")));
    }
    let ids: HashSet<&str> = scores.iter().map(|t| t.id.as_str()).collect();
    if let Some(t) = scores.iter().find(|t| !tags.contains_key(t.id.as_str())) {
        return Err(MetricsError::Ids(format!(
            "{}: a score table without a ground-truth entry",
            t.id
        )));
    }
    if let Some(id) = tags.keys().find(|id| !ids.contains(**id)) {
        return Err(MetricsError::Ids(format!(
            "{id}: in the ground truth but without a score table"
        )));
    }
    let per_class = (0..classes.len())
        .map(|c| {
            let mut clips: Vec<(f64, bool)> = (scores.iter())
                .map(|t| {
                    let top = t
                        .class_scores(c)
                        .iter()
                        .copied()
                        .fold(f64::NEG_INFINITY, f64::max);
                    (top, tags[t.id.as_str()].contains(classes[c].as_str()))
                })
                .collect();
            clips.sort_by(|a, b| a.0.total_cmp(&b.0));
            class_stats(&clips)
        })
        .collect();
    Ok((classes, per_class))
}

/// Counts of `score ≥ s` for each distinct score of `clips` (sorted by score); every
/// positive is a reference.
fn class_stats(clips: &[(f64, bool)]) -> ClassStats {
    let deltas: Vec<(f64, f64, f64)> = (clips.iter())
        .map(|&(s, positive)| {
            (
                s,
                f64::from(u8::from(positive)),
                f64::from(u8::from(!positive)),
            )
        })
        .collect();
    let n_ref = deltas.iter().map(|d| d.1).sum();
    accumulate(&deltas, n_ref)
}

/// `_intermediate_statistics_from_deltas`: change points (score, Δtps, Δfps) sorted by score,
/// summed per distinct score and cumulated from the top, then `+inf` with nothing.
fn accumulate(deltas: &[(f64, f64, f64)], n_ref: f64) -> ClassStats {
    let mut scores: Vec<f64> = Vec::new();
    let (mut dt, mut df): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    for &(s, t, f) in deltas {
        if scores.last() != Some(&s) {
            scores.push(s);
            dt.push(0.0);
            df.push(0.0);
        }
        let k = scores.len() - 1;
        dt[k] += t;
        df[k] += f;
    }
    let n = scores.len();
    let (mut tps, mut fps) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    for i in (0..n).rev() {
        tps[i] = tps[i + 1] + dt[i];
        fps[i] = fps[i + 1] + df[i];
    }
    scores.push(f64::INFINITY);
    ClassStats {
        n_ref,
        scores,
        tps,
        fps,
    }
}

/// The collars of `collar_based`: a detection matches an event when its onset lies within
/// `onset` seconds of the event's and its offset within `max(offset, offset_rate × event
/// length)` of the event's (DCASE: 0.2, 0.2, 0.2).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Collars {
    /// Onset collar, seconds.
    pub onset: f64,
    /// Offset collar, seconds.
    pub offset: f64,
    /// Offset collar as a share of the event's length (the larger one applies).
    pub offset_rate: f64,
}

/// Collar-based statistics over every threshold (`collar_based.intermediate_statistics`): at
/// each distinct score of a clip and class, the detections are the runs of frames scoring at
/// least it; true positives are a maximum one-to-one matching of detections to events within
/// the collars (times compared after rounding to `time_decimals`), the other detections false
/// positives. A clip without events of the class only counts its detections, as the
/// reference's acceleration does.
pub fn collar_statistics(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    collars: Collars,
    time_decimals: i32,
) -> Result<(Vec<String>, Vec<ClassStats>)> {
    for (name, v) in [
        ("onset collar", collars.onset),
        ("offset collar", collars.offset),
        ("offset collar rate", collars.offset_rate),
    ] {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(MetricsError::Parameter(format!(
                "the {name} must be ≥ 0, got {v}"
            )));
        }
    }
    let (classes, gt, _) = super::sed_scores::validated(scores, ground_truth, durations)?;
    let stats = (0..classes.len())
        .map(|c| {
            let mut deltas: Vec<(f64, f64, f64)> = Vec::new();
            for (table, gt) in scores.iter().zip(&gt) {
                let track = table.class_scores(c);
                if gt[c].is_empty() {
                    onset_deltas(track, &mut deltas);
                } else {
                    let clip = (track, &table.timestamps[..], &gt[c][..]);
                    collar_deltas(clip, collars, time_decimals, &mut deltas);
                }
            }
            deltas.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n_ref = gt.iter().map(|g| g[c].len() as f64).sum();
            accumulate(&deltas, n_ref)
        })
        .collect();
    Ok((classes, stats))
}

/// `onset_deltas`: +1 false positive where the threshold passes a local maximum, −1 at a local
/// minimum; every frame that is one is a change point (`acceleration_fn`).
fn onset_deltas(track: &[f64], out: &mut Vec<(f64, f64, f64)>) {
    for (t, &s) in track.iter().enumerate() {
        let d = super::sed_scores::onset_delta(track, t);
        if d != 0 {
            out.push((s, 0.0, f64::from(d)));
        }
    }
}

/// One clip and class with events: the statistics at each distinct score (`onset_offset_curves`
/// then `statistics_fn`), as change points where they change.
fn collar_deltas(
    (track, ts, events): (&[f64], &[f64], &[(f64, f64)]),
    collars: Collars,
    decimals: i32,
    out: &mut Vec<(f64, f64, f64)>,
) {
    let round = |x: f64| round_to(x, decimals);
    let mut uniq: Vec<f64> = track.to_vec();
    uniq.sort_by(f64::total_cmp);
    uniq.dedup();
    let offset_collars: Vec<f64> = (events.iter())
        .map(|&(on, off)| collars.offset.max(collars.offset_rate * (off - on)))
        .collect();
    let mut detections: Vec<(f64, f64)> = Vec::new();
    let mut stats: Vec<(f64, f64)> = Vec::with_capacity(uniq.len());
    for &threshold in &uniq {
        detections.clear();
        let mut start = None;
        for (t, &s) in track.iter().enumerate() {
            let on = s >= threshold && s > f64::NEG_INFINITY;
            match (start, on) {
                (None, true) => start = Some(ts[t]),
                (Some(onset), false) => {
                    detections.push((onset, ts[t]));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(onset) = start {
            detections.push((onset, ts[track.len()]));
        }
        let hits: Vec<Vec<usize>> = (detections.iter())
            .map(|&(d_on, d_off)| {
                (events.iter().zip(&offset_collars).enumerate())
                    .filter(|(_, (&(g_on, g_off), &oc))| {
                        d_off > d_on
                            && round((d_on - g_on).abs() - collars.onset) <= 0.0
                            && round((d_off - g_off).abs() - oc) <= 0.0
                    })
                    .map(|(g, _)| g)
                    .collect()
            })
            .collect();
        let n_detections = detections.iter().filter(|d| d.1 > d.0).count() as f64;
        let tps = max_matching(&hits, events.len()) as f64;
        stats.push((tps, n_detections - tps));
    }
    for i in 0..uniq.len() {
        let (next_t, next_f) = stats.get(i + 1).copied().unwrap_or((0.0, 0.0));
        let (dt, df) = (stats[i].0 - next_t, stats[i].1 - next_f);
        if dt != 0.0 || df != 0.0 {
            out.push((uniq[i], dt, df));
        }
    }
}

/// The size of a maximum matching of detections to events (`hits[d]`: the events detection
/// `d` may match): sed_eval's `bipartite_match` keeps one of them, of the same size.
fn max_matching(hits: &[Vec<usize>], n_events: usize) -> usize {
    fn augment(
        d: usize,
        hits: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &g in &hits[d] {
            if !seen[g] {
                seen[g] = true;
                if owner[g].is_none_or(|o| augment(o, hits, seen, owner)) {
                    owner[g] = Some(d);
                    return true;
                }
            }
        }
        false
    }
    let mut owner = vec![None; n_events];
    let mut size = 0;
    for d in 0..hits.len() {
        if hits[d].is_empty() {
            continue;
        }
        let mut seen = vec![false; n_events];
        size += usize::from(augment(d, hits, &mut seen, &mut owner));
    }
    size
}

impl ClassStats {
    /// Precision and recall at each threshold (`precision_recall_curve_from_intermediate_statistics`,
    /// before its sort).
    fn precision_recall(&self, class: &str) -> Result<(Vec<f64>, Vec<f64>)> {
        self.require_positives(class)?;
        let p = (self.tps.iter().zip(&self.fps))
            .map(|(&t, &f)| precision(t, f))
            .collect();
        let r = self.tps.iter().map(|t| t / self.n_ref).collect();
        Ok((p, r))
    }

    /// Recall (and the true-positive rate) needs positives, as the reference says.
    fn require_positives(&self, class: &str) -> Result<()> {
        if self.n_ref == 0.0 {
            return Err(MetricsError::NoGroundTruth(format!(
                "{class} (recall is not defined without positive clips, segments or events)"
            )));
        }
        Ok(())
    }

    /// The reported threshold of statistics index `i`: the midpoint between its score and the
    /// next lower one (−∞ at the lowest), as `best_fscore` and `best_error_rate` report it.
    fn threshold_below(&self, i: usize) -> f64 {
        if i > 0 {
            (self.scores[i] + self.scores[i - 1]) / 2.0
        } else {
            f64::NEG_INFINITY
        }
    }

    /// The area under the ROC (`auroc_from_intermediate_statistics`): TPR = tps / n_ref against
    /// FPR = fps / negatives, sorted by (FPR, TPR), as a staircase. The reference sorts the
    /// sorted points once more with numpy's unstable argsort, which on tied FPRs may pair a
    /// width with another of the tied TPRs; here they keep their order (a stable sort), so
    /// each width goes with the highest TPR at its FPR. NaN without negatives, as there.
    fn roc_auc(&self, class: &str) -> Result<f64> {
        self.require_positives(class)?;
        let negatives = self.fps[0];
        let tpr: Vec<f64> = self.tps.iter().map(|t| t / self.n_ref).collect();
        let fpr: Vec<f64> = self.fps.iter().map(|f| f / negatives).collect();
        let mut order: Vec<usize> = (0..tpr.len()).collect();
        order.sort_by(|&a, &b| fpr[a].total_cmp(&fpr[b]).then(tpr[a].total_cmp(&tpr[b])));
        Ok((order.windows(2))
            .map(|w| tpr[w[0]] * (fpr[w[1]] - fpr[w[0]]))
            .sum())
    }

    /// The statistics' index of `score > threshold` (`get_curve_idx_for_threshold`).
    fn index_above(&self, threshold: f64) -> usize {
        let i = self.scores.partition_point(|&s| s <= threshold);
        i.min(self.scores.len() - 1)
    }

    /// The error rates at index `i` of the statistics (`error_rate_curve_from_intermediate_statistics`).
    fn error_rate(&self, i: usize) -> ErrorRate {
        let (ins, del) = (self.fps[i], self.n_ref - self.tps[i]);
        ErrorRate {
            er: (ins + del) / self.n_ref,
            ir: ins / self.n_ref,
            dr: del / self.n_ref,
        }
    }
}

/// Error rate, insertion rate and deletion rate of one class (`error_rate`: insertions are
/// the false positives, deletions the missed references, both per reference).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ErrorRate {
    /// (insertions + deletions) / references.
    pub er: f64,
    /// Insertions / references.
    pub ir: f64,
    /// Deletions / references.
    pub dr: f64,
}

/// A class's lowest error rate and the threshold it is reached at.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BestErrorRate {
    /// The rates.
    pub rates: ErrorRate,
    /// Decision threshold (`score > threshold`).
    pub threshold: f64,
}

/// The mean of per-class error rates.
fn mean_error_rate(rates: &[ErrorRate]) -> ErrorRate {
    let mean = |f: fn(&ErrorRate) -> f64| super::mean(&rates.iter().map(f).collect::<Vec<f64>>());
    ErrorRate {
        er: mean(|x| x.er),
        ir: mean(|x| x.ir),
        dr: mean(|x| x.dr),
    }
}

/// A class's best F and the threshold it is reached at.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BestF {
    /// F, precision, recall.
    pub prf: Prf,
    /// Decision threshold (`score > threshold`).
    pub threshold: f64,
}

/// Clip- or segment-based results: average precision, best F over thresholds, F at one
/// threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Curves {
    /// Class names (score column order).
    pub classes: Vec<String>,
    /// Average precision per class.
    pub average_precision: Vec<f64>,
    /// Mean of the classes' average precision.
    pub mean_average_precision: f64,
    /// Best F per class.
    pub best: Vec<BestF>,
    /// Mean of the classes' best F, P and R.
    pub best_macro: Prf,
    /// F, P and R from the counts at each class's best threshold.
    pub best_micro: Prf,
    /// F, P and R per class at `threshold`.
    pub at_threshold: Vec<Prf>,
    /// Their mean.
    pub at_threshold_macro: Prf,
    /// From the summed counts at `threshold`.
    pub at_threshold_micro: Prf,
    /// The threshold.
    pub threshold: f64,
    /// Area under the ROC per class (clip- and segment-based; collar-based counts no true
    /// negatives).
    pub roc_auc: Option<Vec<f64>>,
    /// Mean of the classes' ROC-AUC.
    pub mean_roc_auc: Option<f64>,
    /// Lowest error rate per class.
    pub best_error_rate: Vec<BestErrorRate>,
    /// Mean of the classes' lowest error rates.
    pub best_error_rate_macro: ErrorRate,
    /// Error rates per class at `threshold`.
    pub error_rate_at_threshold: Vec<ErrorRate>,
    /// Their mean.
    pub error_rate_at_threshold_macro: ErrorRate,
    /// Each class's F over thresholds (for plots; not serialised).
    #[serde(skip)]
    pub f_curves: Vec<FCurve>,
}

/// One class's F against the threshold: `f[i]` holds for thresholds from `scores[i − 1]` up to
/// (not including) `scores[i]`, i.e. detections scoring at least `scores[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FCurve {
    /// The statistics' distinct scores, ascending, then `+inf`.
    pub scores: Vec<f64>,
    /// F at each.
    pub f: Vec<f64>,
}

/// `average_precision_from_precision_recall_curve`: the curve sorted stably by (recall,
/// precision), of equal recalls the last, `Σ p_k (r_k − r_{k−1})`.
fn ap_of(p: &[f64], r: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| r[a].total_cmp(&r[b]).then(p[a].total_cmp(&p[b])));
    let mut kept: Vec<usize> = Vec::new();
    for &i in &order {
        match kept.last_mut() {
            Some(last) if r[*last] == r[i] => *last = i,
            _ => kept.push(i),
        }
    }
    (kept.windows(2))
        .map(|w| p[w[1]] * (r[w[1]] - r[w[0]]))
        .sum()
}

/// The index of the best value, of equal ones the last (`len − 1 − argmax(values[::-1])`):
/// `at_least_as_good(v, best)` says whether `v` takes over from the best so far.
fn last_best(values: impl Iterator<Item = f64>, at_least_as_good: fn(f64, f64) -> bool) -> usize {
    let mut best = (0, f64::NAN);
    for (i, v) in values.enumerate() {
        if i == 0 || at_least_as_good(v, best.1) {
            best = (i, v);
        }
    }
    best.0
}

/// Clip-based average precision, best F and F at `threshold` (F_β with `beta`).
pub fn clip_based(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    threshold: f64,
    beta: f64,
) -> Result<Curves> {
    let (classes, stats) = statistics(scores, ground_truth)?;
    curves(classes, stats, threshold, beta, true)
}

/// Segment-based average precision, best F and F at `threshold` over segments of
/// `segment_length` seconds (`time_decimals` 6, as the reference's default).
pub fn segment_based(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    segment_length: f64,
    threshold: f64,
    beta: f64,
) -> Result<Curves> {
    let (classes, stats) = segment_statistics(scores, ground_truth, durations, segment_length, 6)?;
    curves(classes, stats, threshold, beta, true)
}

/// Segment-level statistics (`segment_based.intermediate_statistics`), the inputs validated
/// as for PSDS.
pub fn segment_statistics(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    segment_length: f64,
    time_decimals: i32,
) -> Result<(Vec<String>, Vec<ClassStats>)> {
    if !(segment_length > 0.0 && segment_length.is_finite()) {
        return Err(MetricsError::Parameter(format!(
            "the segment length must be > 0 seconds, got {segment_length}"
        )));
    }
    let (classes, gt, lengths) = super::sed_scores::validated(scores, ground_truth, durations)?;
    let round = |x: f64| round_to(x, time_decimals);
    let mut pairs: Vec<Vec<(f64, bool)>> = vec![Vec::new(); classes.len()];
    for ((table, gt), &duration) in scores.iter().zip(&gt).zip(&lengths) {
        let ts: Vec<f64> = table.timestamps.iter().map(|&t| round(t)).collect();
        let n_segments = (duration / segment_length).ceil() as usize;
        let bounds: Vec<f64> = (0..=n_segments)
            .map(|i| round(i as f64 * segment_length))
            .collect();
        for w in bounds.windows(2) {
            let (on, off) = (w[0], w[1]);
            // Frames overlapping the segment: from the last starting at or before its onset
            // to the first boundary at or after its offset.
            let first = ts.partition_point(|&t| t <= on).saturating_sub(1);
            let end = ts.partition_point(|&t| t < off).min(ts.len() - 1);
            for (c, class_pairs) in pairs.iter_mut().enumerate() {
                let score = if end <= first {
                    0.0
                } else {
                    (table.class_scores(c)[first..end].iter().copied())
                        .fold(f64::NEG_INFINITY, f64::max)
                };
                let positive =
                    (gt[c].iter()).any(|&(g_on, g_off)| on < g_off && off > g_on && off > on);
                class_pairs.push((score, positive));
            }
        }
    }
    let stats = (pairs.into_iter())
        .map(|mut p| {
            p.sort_by(|a, b| a.0.total_cmp(&b.0));
            class_stats(&p)
        })
        .collect();
    Ok((classes, stats))
}

/// Collar-based best F and F at `threshold` over every threshold (`collar_based.best_fscore`,
/// `fscore`; the average precision is `average_precision_from_intermediate_statistics` of the
/// same statistics).
pub fn collar_based(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    collars: Collars,
    threshold: f64,
    beta: f64,
) -> Result<Curves> {
    let (classes, stats) = collar_statistics(scores, ground_truth, durations, collars, 6)?;
    curves(classes, stats, threshold, beta, false)
}

/// Average precision, best F and F at `threshold` from per-class statistics.
fn curves(
    classes: Vec<String>,
    stats: Vec<ClassStats>,
    threshold: f64,
    beta: f64,
    with_roc: bool,
) -> Result<Curves> {
    let n = classes.len();
    let (mut average_precision, mut f_curves) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut best, mut best_counts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut at_threshold, mut at_counts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut best_error_rate, mut error_rate_at_threshold) = (Vec::new(), Vec::new());
    for (class, s) in classes.iter().zip(&stats) {
        // One precision–recall curve per class serves AP, the best F and F at the threshold.
        let (p, r) = s.precision_recall(class)?;
        let f: Vec<f64> = p
            .iter()
            .zip(&r)
            .map(|(&p, &r)| f_beta(p, r, beta))
            .collect();
        average_precision.push(ap_of(&p, &r));
        let b = last_best(f.iter().copied(), |v, best| v >= best);
        best.push(BestF {
            prf: Prf {
                f: f[b],
                p: p[b],
                r: r[b],
            },
            threshold: s.threshold_below(b),
        });
        best_counts.push((s.tps[b], s.fps[b], s.n_ref));
        let i = s.index_above(threshold);
        at_threshold.push(Prf {
            f: f[i],
            p: p[i],
            r: r[i],
        });
        at_counts.push((s.tps[i], s.fps[i], s.n_ref));
        let rates: Vec<ErrorRate> = (0..s.scores.len()).map(|k| s.error_rate(k)).collect();
        let e = last_best(rates.iter().map(|x| x.er), |v, best| v <= best);
        best_error_rate.push(BestErrorRate {
            rates: rates[e],
            threshold: s.threshold_below(e),
        });
        error_rate_at_threshold.push(rates[i]);
        f_curves.push(FCurve {
            scores: s.scores.clone(),
            f,
        });
    }
    let roc_auc = with_roc
        .then(|| {
            (classes.iter().zip(&stats))
                .map(|(c, s)| s.roc_auc(c))
                .collect::<Result<Vec<f64>>>()
        })
        .transpose()?;
    let best_prf: Vec<Prf> = best.iter().map(|b| b.prf).collect();
    Ok(Curves {
        mean_average_precision: super::mean(&average_precision),
        best_macro: Prf::mean(&best_prf),
        best_micro: Prf::micro(best_counts.into_iter(), beta),
        at_threshold_macro: Prf::mean(&at_threshold),
        at_threshold_micro: Prf::micro(at_counts.into_iter(), beta),
        classes,
        average_precision,
        best,
        at_threshold,
        threshold,
        mean_roc_auc: roc_auc.as_deref().map(super::mean),
        roc_auc,
        best_error_rate_macro: mean_error_rate(
            &best_error_rate.iter().map(|b| b.rates).collect::<Vec<_>>(),
        ),
        error_rate_at_threshold_macro: mean_error_rate(&error_rate_at_threshold),
        best_error_rate,
        error_rate_at_threshold,
        f_curves,
    })
}
