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

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;

use super::{MetricsError, PsdRoc, PsdsParams, Result};
use crate::datasets::dcase::{audio_id, Durations, ScoreTable, StrongLabels};

/// An unsigned integer with the order of [`f64::total_cmp`]: negative values have every bit
/// but the sign flipped, then the sign bit is flipped so that they sort below the positives.
fn total_order_key(x: f64) -> u64 {
    let bits = x.to_bits() as i64;
    ((bits ^ (((bits >> 63) as u64) >> 1) as i64) as u64) ^ (1 << 63)
}

/// The inverse of [`total_order_key`].
fn from_total_order_key(key: u64) -> f64 {
    let bits = (key ^ (1 << 63)) as i64;
    f64::from_bits((bits ^ (((bits >> 63) as u64) >> 1) as i64) as u64)
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
    /// The cross-trigger rate: the mean over the other classes of the cross triggers on class
    /// k divided by max(t_ref_k, 1e-12), per change point (empty without cttc). Kept instead of
    /// the per-class counts, which would take classes² × change points.
    pub ct_rate: Vec<f64>,
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

/// The tolerance criteria of an intersection-based evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criteria {
    /// Detection tolerance: the share of a detection that must overlap its class's ground truth.
    pub dtc: f64,
    /// Ground-truth intersection: the share of an event that true detections must cover.
    pub gtc: f64,
    /// Cross-trigger tolerance (None: no cross-trigger statistics).
    pub cttc: Option<f64>,
    /// Decimals overlaps and criteria are rounded to before they are compared
    /// (`time_decimals`, 6).
    pub time_decimals: i32,
}

fn intersection(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0.0)
}

/// What one detection contributes on its own: whether it passes the detection-tolerance
/// criterion (a true detection), and (with cttc) the other classes it cross-triggers on, as
/// bits (index among the other classes) in `cross`.
fn run_stats(
    d: (f64, f64),
    target: &[(f64, f64)],
    gt: &[Vec<(f64, f64)>],
    others: &[(usize, usize)],
    crit: Criteria,
    cross: &mut [u64],
) -> bool {
    let overlap = |events: &[(f64, f64)]| {
        events
            .iter()
            .map(|&g| intersection(d, g))
            .fold(0.0, |a, b| a + b)
    };
    // `round(total) >= round(criterion × length)`, with round(0) = 0 spared.
    let round = |x: f64| super::round_to(x, crit.time_decimals);
    let meets = |total: f64, need: f64| {
        if total == 0.0 {
            0.0 >= need
        } else {
            round(total) >= need
        }
    };
    let passes = meets(overlap(target), round(crit.dtc * (d.1 - d.0)));
    if let Some(cttc) = crit.cttc {
        cross.fill(0);
        let need = round(cttc * (d.1 - d.0));
        // A true detection is no cross trigger: its total counts as 0.
        for &(j, k) in others {
            if meets(if passes { 0.0 } else { overlap(&gt[k]) }, need) {
                cross[j / 64] |= 1 << (j % 64);
            }
        }
    }
    passes
}

/// The frames of one class over all clips, ranked once and shared by every criterion.
struct ClassFrames {
    /// Distinct scores, ascending (equal by `==`, so a group holding -0 and +0 is named -0,
    /// as sed_scores_eval's ascending unique scores name it).
    uniq: Vec<f64>,
    /// Rank (index into `uniq`) of each frame, clip after clip (`offsets[clip] + frame`).
    rank: Vec<u32>,
    /// Each clip's frames by descending score, same layout.
    order: Vec<u32>,
}

fn class_frames(clips: &[ClipInput], offsets: &[usize], class: usize) -> ClassFrames {
    let total = offsets[clips.len()];
    // (score in total order, clip, frame) packed in one integer, which sorts fastest.
    let pack = |s: f64, ci: usize, f: usize| {
        (u128::from(total_order_key(s)) << 64) | ((ci as u128) << 32) | f as u128
    };
    let mut all: Vec<u128> = Vec::with_capacity(total);
    for (ci, clip) in clips.iter().enumerate() {
        let track = clip.scores.class_scores(class);
        all.extend((0..track.len()).map(|f| pack(track[f], ci, f)));
    }
    all.sort_unstable();
    let unpack = |p: u128| {
        let s = from_total_order_key((p >> 64) as u64);
        (s, (p >> 32) as u32 as usize, p as u32)
    };
    let mut uniq: Vec<f64> = Vec::new();
    let mut rank = vec![0u32; total];
    for &p in &all {
        let (s, ci, f) = unpack(p);
        if uniq.last() != Some(&s) {
            uniq.push(s);
        }
        rank[offsets[ci] + f as usize] = (uniq.len() - 1) as u32;
    }
    let mut order = vec![0u32; total];
    let mut cursor: Vec<usize> = offsets[..clips.len()].to_vec();
    for &p in all.iter().rev() {
        let (_, ci, f) = unpack(p);
        order[cursor[ci]] = f;
        cursor[ci] += 1;
    }
    ClassFrames { uniq, rank, order }
}

/// Change points of one class and criterion, clip after clip: (rank, Δtps, Δfps), and the
/// non-zero Δcts as (rank, other class, Δ) (most change points cross-trigger nothing).
#[derive(Default, Clone)]
struct Deltas {
    points: Vec<(u32, i32, i32)>,
    dc: Vec<(u32, u32, i64)>,
    /// Where each clip's change points end in `points` and `dc`.
    clip_ends: Vec<(usize, usize)>,
}

impl Deltas {
    /// Close the current clip.
    fn end_clip(&mut self) {
        self.clip_ends.push((self.points.len(), self.dc.len()));
    }

    fn push(&mut self, rank: u32, dt: i64, df: i64, dc: &[i64]) {
        // Per clip |Δ| ≤ its frames: i32 holds them.
        self.points.push((rank, dt as i32, df as i32));
        for (k, &d) in dc.iter().enumerate() {
            if d != 0 {
                self.dc.push((rank, k as u32, d));
            }
        }
    }

    /// The ranks with a change point, ascending, with their summed Δtps and Δfps. The ranks
    /// come in random order: they are bucketed by their high bits (one counting-sort pass),
    /// then each bucket is sorted in cache.
    fn grouped(&self, n_ranks: usize) -> (Vec<u32>, Vec<f64>, Vec<f64>) {
        let shift = usize::BITS - (n_ranks >> 8).leading_zeros();
        let mut start = vec![0usize; (n_ranks >> shift) + 2];
        for p in &self.points {
            start[(p.0 >> shift) as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut bucketed = vec![(0u32, 0i32, 0i32); self.points.len()];
        let mut next = start.clone();
        for &p in &self.points {
            let slot = &mut next[(p.0 >> shift) as usize];
            bucketed[*slot] = p;
            *slot += 1;
        }
        let (mut ranks, mut dt, mut df) = (Vec::new(), Vec::new(), Vec::new());
        for w in start.windows(2) {
            let bucket = &mut bucketed[w[0]..w[1]];
            bucket.sort_unstable_by_key(|p| p.0);
            for &(r, t, f) in bucket.iter() {
                if ranks.last() != Some(&r) {
                    ranks.push(r);
                    dt.push(0.0);
                    df.push(0.0);
                }
                *dt.last_mut().expect("pushed") += f64::from(t);
                *df.last_mut().expect("pushed") += f64::from(f);
            }
        }
        (ranks, dt, df)
    }
}

/// `onset_deltas` of frame `t`: how the number of detections changes when the threshold
/// falls below its score: +1 at a local maximum, −1 at a local minimum (0 for −∞ scores).
pub(super) fn onset_delta(track: &[f64], t: usize) -> i32 {
    let s = track[t];
    if s == f64::NEG_INFINITY {
        return 0;
    }
    let prev = if t == 0 {
        f64::NEG_INFINITY
    } else {
        track[t - 1]
    };
    let next = track.get(t + 1).copied().unwrap_or(f64::NEG_INFINITY);
    i32::from(s > prev) - i32::from(next > s)
}

/// Working memory of the threshold sweep of one clip and class, reused across clips.
#[derive(Debug, Default)]
struct Sweep {
    /// Other classes with ground truth in the clip: (index among the others, class).
    others: Vec<(usize, usize)>,
    /// Active runs [a, b): `end_of[a] = b` at a run's first frame, `start_of[b - 1] = a` at
    /// its last.
    active: Vec<bool>,
    end_of: Vec<usize>,
    start_of: Vec<usize>,
    /// Whether the run starting at a frame passes the dtc, and its cross-trigger bits
    /// (`words` u64 per frame).
    passes: Vec<bool>,
    cross: Vec<u64>,
    words: usize,
    /// Passing runs, start → end.
    passing: BTreeMap<usize, usize>,
    /// Per ground-truth event: round(gtc × length), covered enough, coverage changed.
    need: Vec<f64>,
    covered: Vec<bool>,
    dirty: Vec<bool>,
    /// Counts at the current threshold and the one above; Δcts.
    fps: i64,
    cts: Vec<i64>,
    prev_cts: Vec<i64>,
    dc: Vec<i64>,
    /// Whether `cts` may differ from `prev_cts` (a run with cross triggers came or went).
    cts_moved: bool,
}

impl Sweep {
    /// Add (`sign` = 1) or remove (-1) the run `[s, e)` from the counts.
    fn count(&mut self, ts: &[f64], target: &[(f64, f64)], s: usize, e: usize, sign: i64) {
        if self.passes[s] {
            if sign < 0 {
                self.passing.remove(&s);
            } else {
                self.passing.insert(s, e);
            }
            let (on, off) = (ts[s], ts[e]);
            for (d, g) in self.dirty.iter_mut().zip(target) {
                *d |= on < g.1 && off > g.0;
            }
        } else {
            self.fps += sign;
        }
        for (w, &word) in self.cross[s * self.words..(s + 1) * self.words]
            .iter()
            .enumerate()
        {
            let mut bits = word;
            self.cts_moved |= bits != 0;
            while bits != 0 {
                self.cts[w * 64 + bits.trailing_zeros() as usize] += sign;
                bits &= bits - 1;
            }
        }
    }
}

/// Add the change points of one clip and class to `out`. `rank` and `order` are the clip's part
/// of the [`ClassFrames`].
///
/// The thresholds are swept from the top: as the threshold falls to the next distinct score,
/// the frames holding that score switch on and each joins its neighbours' runs, so every step
/// removes at most two detections and adds one. A detection's own statistics (passes the dtc,
/// cross triggers) are computed when it is formed; a ground-truth event's coverage is summed
/// again only when a passing detection overlapping it comes or goes, over the passing
/// detections in time order as sed_scores_eval sums them. The result is the same as building
/// every threshold's detections from scratch, in O(frames) per clip instead of O(frames²).
fn clip_class_deltas(
    clip: &ClipInput,
    class: usize,
    crit: Criteria,
    (rank, order): (&[u32], &[u32]),
    w: &mut Sweep,
    out: &mut Deltas,
) {
    let table = clip.scores;
    let ts = &table.timestamps;
    let n_classes = table.classes.len();
    let n = table.n_frames();
    let track = table.class_scores(class);
    let target = &clip.gt[class];
    let n_other = if crit.cttc.is_some() {
        n_classes - 1
    } else {
        0
    };
    w.others.clear();
    if crit.cttc.is_some() {
        let others = (0..n_classes).filter(|&k| k != class).enumerate();
        w.others
            .extend(others.filter(|&(_, k)| !clip.gt[k].is_empty()));
    }
    // sed_scores_eval's `acceleration_fn` takes this path for a clip without events of the
    // class only when there are no cross triggers to count: its test of the other classes'
    // events iterates the class names (never empty), so with a cttc and other classes it
    // always builds the detections. The two paths differ when a short detection's
    // `round(dtc × length)` is 0 (few `time_decimals`): built, it counts as a true detection.
    let accelerated = crit.cttc.is_none() || n_classes == 1;
    if target.is_empty() && accelerated {
        // Only false positives: the number of detections changes by +1 where the threshold
        // passes a local maximum and -1 at a local minimum (sed_scores_eval's
        // `acceleration_fn` / `onset_deltas`), so no threshold needs its detections built.
        thresholds(rank, order, |r, frames| {
            // A score is a change point when any of its frames is one, even if their deltas
            // cancel: the reference keeps it (it shows as the threshold of a ROC point).
            let mut any = false;
            let d: i64 = frames
                .iter()
                .map(|&t| {
                    let d = onset_delta(track, t as usize);
                    any |= d != 0;
                    i64::from(d)
                })
                .sum();
            if any {
                out.push(r, 0, d, &[]);
            }
        });
        return;
    }
    w.words = n_other.div_ceil(64);
    w.active.clear();
    w.active.resize(n, false);
    w.end_of.resize(n, 0);
    w.start_of.resize(n, 0);
    w.passes.resize(n, false);
    w.cross.resize(n * w.words, 0);
    w.passing.clear();
    w.need.clear();
    w.need.extend(
        target
            .iter()
            .map(|g| super::round_to(crit.gtc * (g.1 - g.0), crit.time_decimals)),
    );
    w.covered.clear();
    w.covered.extend(w.need.iter().map(|&need| 0.0 >= need));
    w.dirty.clear();
    w.dirty.resize(target.len(), false);
    w.fps = 0;
    w.cts_moved = false;
    for v in [&mut w.cts, &mut w.prev_cts, &mut w.dc] {
        v.clear();
        v.resize(n_other, 0);
    }
    // Counts one threshold above (all zero above the top score).
    let (mut prev_tps, mut prev_fps) = (0i64, 0i64);
    thresholds(rank, order, |r, frames| {
        for &t in frames {
            let t = t as usize;
            if track[t] == f64::NEG_INFINITY || track[t].is_nan() {
                continue; // never part of a detection
            }
            let mut a = t;
            let mut b = t + 1;
            // Remove the neighbouring runs this frame joins, then add the joined run.
            if t > 0 && w.active[t - 1] {
                a = w.start_of[t - 1];
                w.count(ts, target, a, t, -1);
            }
            if t + 1 < n && w.active[t + 1] {
                b = w.end_of[t + 1];
                w.count(ts, target, t + 1, b, -1);
            }
            w.active[t] = true;
            w.end_of[a] = b;
            w.start_of[b - 1] = a;
            w.passes[a] = run_stats(
                (ts[a], ts[b]),
                target,
                &clip.gt,
                &w.others,
                crit,
                &mut w.cross[a * w.words..(a + 1) * w.words],
            );
            w.count(ts, target, a, b, 1);
        }
        for (k, g) in target.iter().enumerate() {
            if std::mem::take(&mut w.dirty[k]) {
                let cov: f64 = w
                    .passing
                    .range(..ts.partition_point(|&x| x < g.1))
                    .filter(|(&s, &e)| ts[e] > g.0 && ts[s] < g.1)
                    .map(|(&s, &e)| intersection((ts[s], ts[e]), *g))
                    .fold(0.0, |x, y| x + y);
                w.covered[k] = super::round_to(cov, crit.time_decimals) >= w.need[k];
            }
        }
        let tps = w.covered.iter().filter(|&&c| c).count() as i64;
        let (dt, df) = (tps - prev_tps, w.fps - prev_fps);
        if std::mem::take(&mut w.cts_moved) {
            for k in 0..n_other {
                w.dc[k] = w.cts[k] - w.prev_cts[k];
            }
            w.prev_cts.copy_from_slice(&w.cts);
            if dt != 0 || df != 0 || w.dc.iter().any(|&x| x != 0) {
                out.push(r, dt, df, &w.dc);
            }
        } else if dt != 0 || df != 0 {
            out.push(r, dt, df, &[]);
        }
        (prev_tps, prev_fps) = (tps, w.fps);
    });
}

/// Visit one clip's thresholds from the top: each rank with the frames (from `order`) holding
/// it.
fn thresholds(rank: &[u32], order: &[u32], mut visit: impl FnMut(u32, &[u32])) {
    let mut i = 0;
    while i < order.len() {
        let r = rank[order[i] as usize];
        let mut j = i + 1;
        while j < order.len() && rank[order[j] as usize] == r {
            j += 1;
        }
        visit(r, &order[i..j]);
        i = j;
    }
}

/// The accumulated statistics of one class and criterion from its change points.
fn class_stats(
    all: &Deltas,
    uniq: &[f64],
    others_t_ref: Option<Vec<f64>>,
    n_ref: f64,
    t_ref: f64,
) -> ClassStats {
    // Group ranks with a change point, ascending; cumulate from the top.
    let (ranks, dt, df) = all.grouped(uniq.len());
    cumulated(
        Grouped {
            ranks,
            dt,
            df,
            dc: &all.dc,
        },
        uniq,
        others_t_ref,
        n_ref,
        t_ref,
    )
}

/// The change points of one class and criterion grouped by rank (ascending), with the
/// cross-trigger deltas by rank.
struct Grouped<'a> {
    ranks: Vec<u32>,
    dt: Vec<f64>,
    df: Vec<f64>,
    dc: &'a [(u32, u32, i64)],
}

/// A class's change points sorted by rank once, each with its clip, so that the grouped
/// change points of any subset of clips (a bootstrap fold) take one pass, not a sort.
struct Ranked {
    points: Vec<(u32, u32, i32, i32)>,
    dc: Vec<(u32, u32, u32, i64)>,
}

impl Ranked {
    fn new(d: &Deltas) -> Ranked {
        let (mut points, mut dc) = (Vec::new(), Vec::new());
        let (mut p0, mut d0) = (0, 0);
        for (ci, &(p1, d1)) in d.clip_ends.iter().enumerate() {
            let ci = ci as u32;
            points.extend(d.points[p0..p1].iter().map(|&(r, t, f)| (r, ci, t, f)));
            dc.extend(d.dc[d0..d1].iter().map(|&(r, k, x)| (r, ci, k, x)));
            (p0, d0) = (p1, d1);
        }
        points.sort_unstable_by_key(|p| p.0);
        dc.sort_unstable_by_key(|p| p.0);
        Ranked { points, dc }
    }

    /// The statistics over the clips `kept` marks.
    fn class_stats(
        &self,
        kept: &[bool],
        uniq: &[f64],
        others_t_ref: Option<Vec<f64>>,
        n_ref: f64,
        t_ref: f64,
    ) -> ClassStats {
        let (mut ranks, mut dt, mut df) = (Vec::new(), Vec::new(), Vec::new());
        for &(r, ci, t, f) in &self.points {
            if !kept[ci as usize] {
                continue;
            }
            if ranks.last() != Some(&r) {
                ranks.push(r);
                dt.push(0.0);
                df.push(0.0);
            }
            *dt.last_mut().expect("pushed") += f64::from(t);
            *df.last_mut().expect("pushed") += f64::from(f);
        }
        let dc: Vec<(u32, u32, i64)> = (self.dc.iter())
            .filter(|x| kept[x.1 as usize])
            .map(|&(r, _, k, x)| (r, k, x))
            .collect();
        let grouped = Grouped {
            ranks,
            dt,
            df,
            dc: &dc,
        };
        cumulated(grouped, uniq, others_t_ref, n_ref, t_ref)
    }
}

/// Cumulate grouped change points from the top into a class's statistics.
fn cumulated(
    g: Grouped<'_>,
    uniq: &[f64],
    others_t_ref: Option<Vec<f64>>,
    n_ref: f64,
    t_ref: f64,
) -> ClassStats {
    let Grouped { ranks, dt, df, dc } = g;
    let mut scores: Vec<f64> = ranks.iter().map(|&r| uniq[r as usize]).collect();
    let m = scores.len();
    let mut tps = vec![0.0; m + 1];
    let mut fps = vec![0.0; m + 1];
    for i in (0..m).rev() {
        tps[i] = tps[i + 1] + dt[i];
        fps[i] = fps[i + 1] + df[i];
    }
    // Cross triggers: the few non-zero deltas, cumulated from the top per other class, turned
    // into the mean rate over the other classes.
    let mut ct_rate = Vec::new();
    if let Some(t_refs) = others_t_ref {
        let mut deltas: Vec<(u32, u32, i64)> = dc
            .iter()
            .map(|&(r, k, d)| (ranks.partition_point(|&x| x < r) as u32, k, d))
            .collect();
        deltas.sort_unstable_by_key(|x| x.0);
        let mut running = vec![0.0; t_refs.len()];
        let mut rates = vec![0.0; t_refs.len()];
        ct_rate = vec![0.0; m + 1];
        for i in (0..m).rev() {
            let mut changed = false;
            while let Some(&(g, k, d)) = deltas.last() {
                if g as usize != i {
                    break;
                }
                running[k as usize] += d as f64;
                changed = true;
                deltas.pop();
            }
            ct_rate[i] = if changed {
                for ((r, ct), t) in rates.iter_mut().zip(&running).zip(&t_refs) {
                    *r = ct / t;
                }
                super::mean(&rates)
            } else {
                ct_rate[i + 1]
            };
        }
    }
    scores.push(f64::INFINITY);
    ClassStats {
        scores,
        tps,
        fps,
        ct_rate,
        n_ref,
        t_ref,
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
    let crit = Criteria {
        dtc,
        gtc,
        cttc,
        time_decimals: 6,
    };
    let mut all = statistics_many(scores, ground_truth, durations, &[crit])?;
    Ok(all.remove(0))
}

/// [`statistics`] for several criteria at once (PSDS1, PSDS2, intersection F1), sharing the
/// ranking of the scores.
pub fn statistics_many(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    criteria: &[Criteria],
) -> Result<Vec<Statistics>> {
    let prepared = prepare(scores, ground_truth, durations)?;
    let deltas = prepared.deltas(criteria);
    Ok(prepared.accumulate(&deltas, criteria, None))
}

/// Validate the inputs as sed_scores_eval does and resolve each clip's ground truth.
fn prepare<'a>(
    scores: &'a [ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
) -> Result<Prepared<'a>> {
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
    let durations: Vec<f64> = scores.iter().map(|t| dur_by_id[t.id.as_str()]).collect();
    Ok(Prepared {
        classes,
        clips,
        durations,
    })
}

/// The inputs validated as for PSDS (classes, clip ids of scores, ground truth and durations,
/// no connected same-class events, every class with events): the class names, each table's
/// ground-truth (onset, offset) per class, and each table's duration.
pub(super) type ValidatedInputs = (Vec<String>, Vec<Vec<Vec<(f64, f64)>>>, Vec<f64>);

/// See [`ValidatedInputs`].
pub(super) fn validated(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
) -> Result<ValidatedInputs> {
    let p = prepare(scores, ground_truth, durations)?;
    let gt = p.clips.into_iter().map(|c| c.gt).collect();
    Ok((p.classes, gt, p.durations))
}

/// The clips of an evaluation, validated, with their ground truth per class: what the
/// statistics of any subset of them need (the bootstrap's folds).
struct Prepared<'a> {
    classes: Vec<String>,
    clips: Vec<ClipInput<'a>>,
    /// Duration of each clip, seconds.
    durations: Vec<f64>,
}

/// Per class: its distinct scores and, per criterion, every clip's change points.
struct ClassDeltas {
    uniq: Vec<f64>,
    per_criterion: Vec<Deltas>,
}

impl Prepared<'_> {
    /// Rank each class's frames once, then sweep every clip for each criterion.
    fn deltas(&self, criteria: &[Criteria]) -> Vec<ClassDeltas> {
        let clips = &self.clips;
        let mut offsets = vec![0usize];
        for clip in clips {
            offsets.push(offsets.last().copied().unwrap_or(0) + clip.scores.n_frames());
        }
        (0..self.classes.len())
            .into_par_iter()
            .map(|c| {
                let frames = class_frames(clips, &offsets, c);
                let mut sweep = Sweep::default();
                let per_criterion = criteria
                    .iter()
                    .map(|&crit| {
                        let mut all = Deltas::default();
                        for (ci, clip) in clips.iter().enumerate() {
                            let span = offsets[ci]..offsets[ci + 1];
                            let parts = (&frames.rank[span.clone()], &frames.order[span]);
                            clip_class_deltas(clip, c, crit, parts, &mut sweep, &mut all);
                            all.end_clip();
                        }
                        all
                    })
                    .collect();
                ClassDeltas {
                    uniq: frames.uniq,
                    per_criterion,
                }
            })
            .collect()
    }

    /// The accumulated statistics over the clips `keep` lists (in that order; all clips in
    /// clip order when `None`), as sed_scores_eval accumulates the deltas of those audio ids:
    /// ground-truth counts, durations and the dataset duration of those clips only.
    ///
    /// A subset needs `ranked` (each class's and criterion's [`Ranked`] change points).
    fn accumulate(
        &self,
        deltas: &[ClassDeltas],
        criteria: &[Criteria],
        keep: Option<(&[usize], &[Vec<Ranked>])>,
    ) -> Vec<Statistics> {
        let (keep, ranked) = match keep {
            Some((k, r)) => (Some(k), Some(r)),
            None => (None, None),
        };
        let all: Vec<usize>;
        let keep = match keep {
            Some(k) => k,
            None => {
                all = (0..self.clips.len()).collect();
                &all
            }
        };
        let n_classes = self.classes.len();
        let mut n_ref = vec![0.0; n_classes];
        let mut t_ref = vec![0.0; n_classes];
        for &ci in keep {
            for (c, events) in self.clips[ci].gt.iter().enumerate() {
                for &(on, off) in events {
                    n_ref[c] += 1.0;
                    t_ref[c] += off - on;
                }
            }
        }
        let mut kept = vec![false; self.clips.len()];
        for &ci in keep {
            kept[ci] = true;
        }
        let per_class: Vec<Vec<ClassStats>> = deltas
            .par_iter()
            .enumerate()
            .map(|(c, cd)| {
                (criteria.iter().zip(&cd.per_criterion).enumerate())
                    .map(|(k, (crit, d))| {
                        let others_t_ref = crit.cttc.map(|_| {
                            (0..n_classes)
                                .filter(|&k| k != c)
                                .map(|k| t_ref[k].max(1e-12))
                                .collect()
                        });
                        match ranked {
                            Some(r) => r[c][k].class_stats(
                                &kept,
                                &cd.uniq,
                                others_t_ref,
                                n_ref[c],
                                t_ref[c],
                            ),
                            None => class_stats(d, &cd.uniq, others_t_ref, n_ref[c], t_ref[c]),
                        }
                    })
                    .collect()
            })
            .collect();
        let dataset_duration: f64 = keep.iter().map(|&ci| self.durations[ci]).sum();
        let mut out: Vec<Statistics> = criteria
            .iter()
            .map(|_| Statistics {
                classes: self.classes.clone(),
                per_class: Vec::with_capacity(n_classes),
                dataset_duration,
                n_clips: keep.len(),
            })
            .collect();
        for class in per_class {
            for (stats, c) in out.iter_mut().zip(class) {
                stats.per_class.push(c);
            }
        }
        out
    }
}

/// sed_scores_eval's bootstrap (`base_modules.bootstrap.bootstrap_from_deltas`): the clip ids
/// sorted, then for each iteration i the list shuffled in place by
/// `numpy.random.RandomState(i)` (each iteration shuffling the previous one's order) and cut
/// into `n_folds` parts at `linspace(0, n, n_folds + 1).astype(int)`; each fold leaves one
/// part out. Returns the statistics of each of the `n_folds × n_iterations` folds, for each
/// criterion.
pub fn bootstrapped_statistics(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    criteria: &[Criteria],
    n_folds: usize,
    n_iterations: usize,
) -> Result<Vec<Vec<Statistics>>> {
    let inputs = (scores, ground_truth, durations);
    bootstrap_with(inputs, criteria, (n_folds, n_iterations), Ok)
}

/// [`bootstrapped_statistics`], each fold's statistics handed to `each` as soon as they are
/// made (a fold's statistics are large; PSDS keeps only its value).
fn bootstrap_with<T: Send>(
    (scores, ground_truth, durations): (&[ScoreTable], &StrongLabels, &Durations),
    criteria: &[Criteria],
    folds: (usize, usize),
    each: impl Fn(Vec<Statistics>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let inputs = (&[scores][..], ground_truth, durations);
    bootstrap_sets_with(inputs, criteria, folds, |mut per_set| {
        each(per_set.remove(0))
    })
}

/// [`bootstrap_with`] over several sets of tables of the same clips (post-processings): the
/// folds are drawn once over the sorted clip ids (the first set's, as `bootstrap_from_deltas`
/// takes them), and `each` gets every set's statistics of a fold (outer: set, inner:
/// criterion).
fn bootstrap_sets_with<T: Send>(
    (sets, ground_truth, durations): (&[&[ScoreTable]], &StrongLabels, &Durations),
    criteria: &[Criteria],
    (n_folds, n_iterations): (usize, usize),
    each: impl Fn(Vec<Vec<Statistics>>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    if n_folds < 2 || n_iterations == 0 {
        return Err(MetricsError::Parameter(format!(
            "the bootstrap needs at least 2 folds and 1 iteration, got {n_folds} and {n_iterations}"
        )));
    }
    struct Set<'a> {
        prepared: Prepared<'a>,
        deltas: Vec<ClassDeltas>,
        ranked: Vec<Vec<Ranked>>,
        /// Table index of each clip, in sorted clip-id order.
        order: Vec<usize>,
    }
    let mut first_ids: Option<Vec<&str>> = None;
    let mut prepared_sets = Vec::with_capacity(sets.len());
    for scores in sets {
        // Validation and the per-clip change points, as for the whole set.
        let prepared = prepare(scores, ground_truth, durations)?;
        let deltas = prepared.deltas(criteria);
        let mut ids: Vec<(&str, usize)> = (scores.iter().enumerate())
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        ids.sort();
        let names: Vec<&str> = ids.iter().map(|(id, _)| *id).collect();
        match &first_ids {
            None => first_ids = Some(names),
            Some(first) if *first != names => {
                return Err(MetricsError::Shape(
                    "the post-processed score sets hold different clips".into(),
                ))
            }
            Some(_) => {}
        }
        let ranked: Vec<Vec<Ranked>> = (deltas.par_iter())
            .map(|cd| cd.per_criterion.iter().map(Ranked::new).collect())
            .collect();
        let order = ids.iter().map(|&(_, i)| i).collect();
        prepared_sets.push(Set {
            prepared,
            deltas,
            ranked,
            order,
        });
    }
    let n = first_ids.map_or(0, |ids| ids.len());
    let folds = super::bootstrap::folds(n, n_folds, n_iterations);
    folds
        .par_iter()
        .map(|fold| {
            let per_set = (prepared_sets.iter())
                .map(|set| {
                    let keep: Vec<usize> = fold.iter().map(|&k| set.order[k]).collect();
                    (set.prepared).accumulate(&set.deltas, criteria, Some((&keep, &set.ranked)))
                })
                .collect();
            each(per_set)
        })
        .collect()
}

/// `_unique_cummax_sort`: sort by (eFPR, TPR) (stably: of equal points the first given
/// stays), keep the first point and each strict increase of the cumulative-max TPR, of equal
/// eFPRs the last (highest TPR), cut eFPR > max_efpr. Returns the kept points' indices.
fn unique_cummax_indices(tpr: &[f64], efpr: &[f64], max_efpr: f64) -> Vec<usize> {
    // Points past max_efpr sort after every kept one and are cut anyway: drop them first.
    let mut idx: Vec<usize> = (0..tpr.len()).filter(|&i| efpr[i] <= max_efpr).collect();
    idx.sort_by(|&a, &b| efpr[a].total_cmp(&efpr[b]).then(tpr[a].total_cmp(&tpr[b])));
    let mut kept: Vec<usize> = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for (n, &i) in idx.iter().enumerate() {
        if n == 0 || tpr[i] > best {
            match kept.last_mut() {
                Some(last) if efpr[*last] == efpr[i] => *last = i,
                _ => kept.push(i),
            }
        }
        best = best.max(tpr[i]);
    }
    kept
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

/// One class's ROC (`_single_class_roc_from_intermediate_statistics`) and the score threshold
/// of each of its points.
struct ClassRoc {
    roc: PsdRoc,
    thresholds: Vec<f64>,
}

/// Every class's ROC under `params` (eFPR per `unit_of_time`), after the checks α_ct needs.
fn class_rocs(stats: &Statistics, params: &PsdsParams) -> Result<Vec<ClassRoc>> {
    params.validate()?;
    let with_ct = params.alpha_ct != 0.0;
    if with_ct
        && stats
            .per_class
            .iter()
            .any(|c| c.ct_rate.len() != c.scores.len())
    {
        return Err(MetricsError::Parameter(
            "alpha_ct > 0 needs statistics computed with a cttc threshold".into(),
        ));
    }
    if with_ct && stats.classes.len() < 2 {
        return Err(MetricsError::Parameter(
            "cross triggers need at least two classes".into(),
        ));
    }
    Ok((stats.per_class.iter())
        .map(|c| {
            let tpr: Vec<f64> = c.tps.iter().map(|t| t / c.n_ref.max(1.0)).collect();
            let efpr: Vec<f64> = (0..c.scores.len())
                .map(|i| {
                    let fpr = c.fps[i] / stats.dataset_duration;
                    let e = if with_ct {
                        fpr + params.alpha_ct * c.ct_rate[i]
                    } else {
                        fpr
                    };
                    e * params.unit_of_time.seconds()
                })
                .collect();
            let kept = unique_cummax_indices(&tpr, &efpr, params.max_efpr);
            ClassRoc {
                roc: PsdRoc {
                    efpr: kept.iter().map(|&i| efpr[i]).collect(),
                    etpr: kept.iter().map(|&i| tpr[i]).collect(),
                },
                thresholds: kept.iter().map(|&i| c.scores[i]).collect(),
            }
        })
        .collect())
}

/// `multi_class_psd_roc_from_single_class_psd_rocs`: on the union of the classes' eFPRs, each
/// class's TPR interpolated 'previous' (0 before its first point), the mean minus α_st times
/// the standard deviation (floored at 0), and (max_efpr, last eTPR) appended.
fn multi_class_roc(class_rocs: &[&PsdRoc], alpha_st: f64, max_efpr: f64) -> PsdRoc {
    let mut grid: Vec<f64> = class_rocs
        .iter()
        .flat_map(|r| r.efpr.iter().copied())
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let mut col = vec![0.0; class_rocs.len()];
    let mut etpr: Vec<f64> = (grid.iter())
        .map(|&g| {
            for (v, r) in col.iter_mut().zip(class_rocs) {
                *v = match r.efpr.partition_point(|&x| x <= g) {
                    0 => 0.0,
                    j => r.etpr[j - 1],
                };
            }
            (super::mean(&col) - alpha_st * super::std_pop(&col)).max(0.0)
        })
        .collect();
    let mut efpr = grid;
    etpr.push(etpr.last().copied().unwrap_or(0.0));
    efpr.push(max_efpr);
    PsdRoc { efpr, etpr }
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

/// PSDS from accumulated statistics (`sed_scores_eval.intersection_based.psds`).
pub fn psds(stats: &Statistics, params: &PsdsParams) -> Result<ScoresPsds> {
    let rocs = class_rocs(stats, params)?;
    Ok(psds_of(rocs.into_iter().map(|r| r.roc).collect(), params))
}

/// PSDS and per-class PSDS (`psds_from_psd_roc`) of the classes' ROCs.
fn psds_of(class_rocs: Vec<PsdRoc>, params: &PsdsParams) -> ScoresPsds {
    let refs: Vec<&PsdRoc> = class_rocs.iter().collect();
    let roc = multi_class_roc(&refs, params.alpha_st, params.max_efpr);
    let value = staircase_auc(&roc, params.max_efpr) / params.max_efpr;
    let per_class = (class_rocs.iter())
        .map(|r| staircase_auc(r, params.max_efpr) / params.max_efpr)
        .collect();
    ScoresPsds {
        value,
        per_class,
        roc,
        class_rocs,
        params: *params,
    }
}

/// One class's post-processing-independent ROC: for each eFPR the best TPR any
/// post-processing reaches, with the post-processing (its index in the list given) and the
/// score threshold that reach it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PiClassRoc {
    /// eFPR (per `unit_of_time`), ascending.
    pub efpr: Vec<f64>,
    /// TPR at each eFPR.
    pub tpr: Vec<f64>,
    /// The score threshold of each point.
    pub threshold: Vec<f64>,
    /// The post-processing each point comes from.
    pub postprocessing: Vec<usize>,
}

/// Post-processing-independent PSDS (Ebbers, Haeb-Umbach and Serizel, DCASE 2023) with its
/// per-class values, curves, and the PSDS of each post-processing on its own.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PiPsds {
    /// piPSDS: the normalised area under the pi-PSD-ROC.
    pub value: f64,
    /// Per-class piPSDS (class order of the score columns).
    pub per_class: Vec<f64>,
    /// The pi-PSD-ROC, with (max_efpr, last eTPR) appended.
    pub roc: PsdRoc,
    /// Per-class pi-ROCs.
    pub class_rocs: Vec<PiClassRoc>,
    /// The PSDS of each post-processing (order given).
    pub per_postprocessing: Vec<ScoresPsds>,
    /// Parameters used.
    pub params: PsdsParams,
}

/// piPSDS from each post-processing's statistics under one scenario
/// (`postprocessing_independent_psd_roc`): per class, every post-processing's ROC points put
/// together in the order given and reduced as one ROC (`merge_individual_rocs_into_overall_roc`),
/// then combined across classes as for PSDS.
pub fn pi_psds(stats: &[&Statistics], params: &PsdsParams) -> Result<PiPsds> {
    let Some(first) = stats.first() else {
        return Err(MetricsError::Empty("no post-processed score sets".into()));
    };
    if let Some(other) = stats.iter().find(|s| s.classes != first.classes) {
        return Err(MetricsError::Shape(format!(
            "post-processed score sets with different classes: {:?} and {:?}",
            first.classes, other.classes
        )));
    }
    let per_set: Vec<Vec<ClassRoc>> = (stats.iter())
        .map(|s| class_rocs(s, params))
        .collect::<Result<_>>()?;
    let class_rocs: Vec<PiClassRoc> = (0..first.classes.len())
        .map(|c| {
            let mut all = PiClassRoc {
                efpr: Vec::new(),
                tpr: Vec::new(),
                threshold: Vec::new(),
                postprocessing: Vec::new(),
            };
            for (m, set) in per_set.iter().enumerate() {
                let r = &set[c];
                all.efpr.extend(&r.roc.efpr);
                all.tpr.extend(&r.roc.etpr);
                all.threshold.extend(&r.thresholds);
                all.postprocessing
                    .extend(std::iter::repeat_n(m, r.thresholds.len()));
            }
            let kept = unique_cummax_indices(&all.tpr, &all.efpr, f64::INFINITY);
            let pick = |v: &[f64]| kept.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            PiClassRoc {
                efpr: pick(&all.efpr),
                tpr: pick(&all.tpr),
                threshold: pick(&all.threshold),
                postprocessing: kept.iter().map(|&i| all.postprocessing[i]).collect(),
            }
        })
        .collect();
    // The pi-ROCs combine across classes exactly as single-set ROCs do.
    let as_rocs: Vec<PsdRoc> = (class_rocs.iter())
        .map(|r| PsdRoc {
            efpr: r.efpr.clone(),
            etpr: r.tpr.clone(),
        })
        .collect();
    let combined = psds_of(as_rocs, params);
    let per_postprocessing = (per_set.into_iter())
        .map(|set| psds_of(set.into_iter().map(|r| r.roc).collect(), params))
        .collect();
    Ok(PiPsds {
        value: combined.value,
        per_class: combined.per_class,
        roc: combined.roc,
        class_rocs,
        per_postprocessing,
        params: *params,
    })
}

/// piPSDS of score tables post-processed in several ways (`postprocessing_independent_psds`
/// given `scores_processed`): one set of tables per post-processing, each scenario of
/// `params` evaluated on all sets.
pub fn postprocessing_independent_psds(
    sets: &[Vec<ScoreTable>],
    ground_truth: &StrongLabels,
    durations: &Durations,
    params: &[PsdsParams],
) -> Result<Vec<PiPsds>> {
    let criteria: Vec<Criteria> = params.iter().map(Criteria::of).collect();
    let stats: Vec<Vec<Statistics>> = (sets.iter())
        .map(|set| statistics_many(set, ground_truth, durations, &criteria))
        .collect::<Result<_>>()?;
    (params.iter().enumerate())
        .map(|(k, p)| pi_psds(&stats.iter().map(|s| &s[k]).collect::<Vec<_>>(), p))
        .collect()
}

/// Each table median-filtered with each length (seconds), as
/// `median_filter_independent_psds` filters them (`medfilt` at `time_decimals`): one set of
/// tables per length.
pub fn median_filtered_sets(
    scores: &[ScoreTable],
    lengths: &[f64],
    time_decimals: i32,
) -> Result<Vec<Vec<ScoreTable>>> {
    (lengths.iter())
        .map(|&l| {
            (scores.par_iter())
                .map(|t| super::postprocessing::medfilt(t, &[l], time_decimals))
                .collect()
        })
        .collect()
}

/// Median-filter-independent PSDS (`median_filter_independent_psds`): piPSDS over the tables
/// median-filtered with each length in seconds (at the first scenario's `time_decimals`).
pub fn median_filter_independent_psds(
    scores: &[ScoreTable],
    lengths: &[f64],
    ground_truth: &StrongLabels,
    durations: &Durations,
    params: &[PsdsParams],
) -> Result<Vec<PiPsds>> {
    let decimals = params.first().map_or(6, |p| p.time_decimals);
    let sets = median_filtered_sets(scores, lengths, decimals)?;
    postprocessing_independent_psds(&sets, ground_truth, durations, params)
}

/// Bootstrapped piPSDS (`bootstrapped_postprocessing_independent_psds` given
/// `scores_processed`; sed_scores_eval's default is 5 folds × 4 iterations): the folds of
/// [`bootstrapped_statistics`] drawn once over the clip ids (every set must hold the same
/// clips), each fold's piPSDS over all sets. Outer: parameter set, inner: fold.
pub fn bootstrapped_postprocessing_independent_psds(
    sets: &[Vec<ScoreTable>],
    ground_truth: &StrongLabels,
    durations: &Durations,
    params: &[PsdsParams],
    n_folds: usize,
    n_iterations: usize,
) -> Result<Vec<Vec<PiPsds>>> {
    for p in params {
        p.validate()?;
    }
    let criteria: Vec<Criteria> = params.iter().map(Criteria::of).collect();
    let sets: Vec<&[ScoreTable]> = sets.iter().map(Vec::as_slice).collect();
    let inputs = (sets.as_slice(), ground_truth, durations);
    let folds = bootstrap_sets_with(inputs, &criteria, (n_folds, n_iterations), |stats| {
        (params.iter().enumerate())
            .map(|(k, p)| pi_psds(&stats.iter().map(|s| &s[k]).collect::<Vec<_>>(), p))
            .collect::<Result<Vec<PiPsds>>>()
    })?;
    Ok(scenario_major(folds, params.len()))
}

/// Fold-major results (one `Vec` per fold, one item per scenario) to scenario-major.
fn scenario_major<T>(folds: Vec<Vec<T>>, n_scenarios: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..n_scenarios)
        .map(|_| Vec::with_capacity(folds.len()))
        .collect();
    for fold in folds {
        for (scenario, r) in out.iter_mut().zip(fold) {
            scenario.push(r);
        }
    }
    out
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

/// `fscore_from_precision_recall`.
pub(super) fn f_beta(p: f64, r: f64, beta: f64) -> f64 {
    (1.0 + beta * beta) * p * r / (beta * beta * p + r).max(1e-15)
}

/// Precision of counts as `precision_recall_curve_from_intermediate_statistics` takes it: 1
/// where nothing is detected.
pub(super) fn precision(tp: f64, fp: f64) -> f64 {
    if tp + fp == 0.0 {
        1.0
    } else {
        tp / (tp + fp).max(1.0)
    }
}

impl Prf {
    /// F_β with its precision and recall.
    pub(super) fn of(p: f64, r: f64, beta: f64) -> Prf {
        Prf {
            f: f_beta(p, r, beta),
            p,
            r,
        }
    }

    /// `micro_average`: from counts summed over classes, (tp, fp, references).
    pub(super) fn micro(counts: impl Iterator<Item = (f64, f64, f64)>, beta: f64) -> Prf {
        let (tp, fp, n_ref) =
            counts.fold((0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        Prf::of(tp / (tp + fp).max(1.0), tp / n_ref.max(1.0), beta)
    }

    /// The macro average: the mean of the classes' F, P and R.
    pub(super) fn mean(per_class: &[Prf]) -> Prf {
        let mean = |f: fn(&Prf) -> f64| super::mean(&per_class.iter().map(f).collect::<Vec<_>>());
        Prf {
            f: mean(|x| x.f),
            p: mean(|x| x.p),
            r: mean(|x| x.r),
        }
    }
}

/// `intersection_based.fscore(threshold=…)` from accumulated statistics (no cttc needed).
pub fn fscore(stats: &Statistics, threshold: f64, beta: f64) -> FscoreResult {
    let at: Vec<(f64, f64, f64)> = (stats.per_class.iter())
        .map(|c| {
            let i = c.scores.partition_point(|&s| s <= threshold);
            let i = i.min(c.scores.len() - 1);
            (c.tps[i], c.fps[i], c.n_ref)
        })
        .collect();
    let per_class: Vec<Prf> = (at.iter())
        .map(|&(tp, fp, n_ref)| Prf::of(precision(tp, fp), tp / n_ref, beta))
        .collect();
    FscoreResult {
        macro_average: Prf::mean(&per_class),
        micro_average: Prf::micro(at.into_iter(), beta),
        per_class,
        threshold,
    }
}

/// Bootstrapped PSDS (`intersection_based.bootstrapped_psds`): the PSDS of each of the
/// `n_folds × n_iterations` folds of [`bootstrapped_statistics`], for each parameter set
/// (outer: parameter set, inner: fold). Summarise with
/// [`super::bootstrap::confidence_interval`].
pub fn bootstrapped_psds(
    scores: &[ScoreTable],
    ground_truth: &StrongLabels,
    durations: &Durations,
    params: &[PsdsParams],
    n_folds: usize,
    n_iterations: usize,
) -> Result<Vec<Vec<ScoresPsds>>> {
    for p in params {
        p.validate()?;
    }
    let criteria: Vec<Criteria> = params.iter().map(Criteria::of).collect();
    let inputs = (scores, ground_truth, durations);
    let folds = bootstrap_with(inputs, &criteria, (n_folds, n_iterations), |stats| {
        (stats.iter().zip(params))
            .map(|(st, p)| psds(st, p))
            .collect::<Result<Vec<ScoresPsds>>>()
    })?;
    Ok(scenario_major(folds, params.len()))
}

impl Criteria {
    /// The criteria a PSDS scenario is evaluated under (cross triggers only with α_ct > 0).
    pub fn of(p: &PsdsParams) -> Criteria {
        Criteria {
            dtc: p.dtc,
            gtc: p.gtc,
            cttc: (p.alpha_ct > 0.0).then_some(p.cttc),
            time_decimals: p.time_decimals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_order_key_sorts_like_total_cmp_and_inverts() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            0.25,
            1.0,
            f64::INFINITY,
        ];
        for (i, &a) in values.iter().enumerate() {
            assert_eq!(
                from_total_order_key(total_order_key(a)).to_bits(),
                a.to_bits()
            );
            for &b in &values[i + 1..] {
                assert!(total_order_key(a) < total_order_key(b), "{a} < {b}");
            }
        }
    }
}
