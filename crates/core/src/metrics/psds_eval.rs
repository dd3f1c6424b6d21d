//! PSDS over a set of operating points, and the intersection-based macro F, as `psds_eval`
//! 0.5.3 computes them (`psds_eval/psds.py`: `PSDSEval.add_operating_point`, `psds`,
//! `compute_macro_f_score`).
//!
//! Each operating point is one detection table (the DESED baseline decodes one per threshold,
//! `scores > t`). Traps reproduced: overlaps are strict (`on₁ < off₂ ∧ on₂ < off₁`), so touching
//! events are allowed and a detection must really intersect; every metadata file adds a WORLD
//! event [0, duration] and a detection only counts as a false positive if it intersects its
//! file's WORLD span (a detection outside [0, duration], or in a file without metadata, is
//! neither TP nor FP); a detection that passes the DTC while its ground truth fails the GTC is
//! neither; cross-trigger rates are averaged with `nanmean` over the *other* classes; each
//! class curve gets a (0, 0) point; the curve is the forward-filled staircase of the
//! cumulative-max TPR on the union grid of eFPR values; eTPR = mean − α_st·std (population) with
//! NaN → 0 and negatives → 0; the area is left rectangles up to `max_efpr`, inserted with its
//! left neighbour's value. An operating point whose detection table equals an earlier one is
//! skipped (psds_eval hashes the sorted table). With a single class the cross-trigger mean is
//! NaN and, since psds_eval always adds α_ct·NaN, the whole curve collapses: PSDS is 0 there, as
//! in psds_eval (issue turpaultn/DESED#63). In the macro F, a class with no true positive has
//! F = 0/0 = NaN and drops out of the `nanmean` (DESED_task#80).

use std::collections::HashMap;

use super::{MetricsError, PsdRoc, PsdsParams, Result};
use crate::datasets::dcase::{Durations, StrongLabels};

/// One interval of a file, with its class (`None` = WORLD).
#[derive(Debug, Clone)]
struct GtEvent {
    onset: f64,
    offset: f64,
    class: Option<usize>,
}

/// Per-operating-point counts and rates (rows = classes in sorted order).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OperatingPoint {
    /// True-positive ground-truth events per class.
    pub tp: Vec<f64>,
    /// False-positive detections per class (DTC failures intersecting WORLD).
    pub fp: Vec<f64>,
    /// Cross triggers `[class][other class]`.
    pub ct: Vec<Vec<f64>>,
    /// TP ratio per class.
    pub tpr: Vec<f64>,
    /// FP rate per hour per class.
    pub fpr: Vec<f64>,
    /// Cross-trigger rate per hour `[class][other]` (NaN on the diagonal).
    pub ctr: Vec<Vec<f64>>,
}

/// A constraint of [`PsdsEval::select_operating_points`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "constraint", content = "value")]
pub enum Constraint {
    /// TPR at least this.
    Tpr(f64),
    /// FPR (per hour) at most this.
    Fpr(f64),
    /// eFPR (per hour) at most this.
    Efpr(f64),
    /// The best F-score.
    Fscore,
}

/// The operating point chosen for one constraint (NaN and `None` when none meets it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SelectedPoint {
    /// The class.
    pub class: String,
    /// The constraint.
    pub constraint: Constraint,
    /// Its TPR.
    pub tpr: f64,
    /// Its FPR per hour.
    pub fpr: f64,
    /// Its eFPR per hour.
    pub efpr: f64,
    /// Its F-score.
    pub fscore: f64,
    /// Index of the operating point, in the order added.
    pub operating_point: Option<usize>,
}

/// A `PSDSEval` with its ground truth and the operating points added so far.
#[derive(Debug, Clone)]
pub struct PsdsEval {
    dtc: f64,
    gtc: f64,
    cttc: f64,
    /// Real classes, sorted.
    pub classes: Vec<String>,
    /// Ground truth (WORLD included) per file, by file id; the ids of the file names.
    gt: Vec<Vec<GtEvent>>,
    file_ids: HashMap<String, u32>,
    n_gt: Vec<f64>,
    gt_duration: Vec<f64>,
    dataset_duration: f64,
    /// Operating points, in the order added (duplicates skipped).
    pub operating_points: Vec<OperatingPoint>,
    /// Identity of each added detection table: order-free 128-bit hash and row count.
    keys: Vec<(u64, u64, usize)>,
}

/// One detection of a file with ground truth and a known class.
#[derive(Debug, Clone, Copy)]
struct Det {
    onset: f64,
    offset: f64,
    class: usize,
}

/// PSDS and its curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PsdsResult {
    /// The score in [0, 1].
    pub value: f64,
    /// The effective PSD-ROC (up to `max_efpr`).
    pub roc: PsdRoc,
    /// Parameters used.
    pub params: PsdsParams,
    /// Operating points that entered the curve.
    pub n_operating_points: usize,
    /// Per class, TPR on the union eFPR grid (psds_eval's `psd_roc_curves(alpha_ct)` TPR vs
    /// eFPR: highest TPR per eFPR, made non-decreasing, held to the right).
    pub class_rocs: ClassRocs,
}

/// Per-class ROCs on one eFPR grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassRocs {
    /// The union eFPR grid, ascending.
    pub efpr: Vec<f64>,
    /// TPR per class (class order of [`PsdsEval::classes`]), one per grid point.
    pub tpr: Vec<Vec<f64>>,
}

fn strict_overlap(a_on: f64, a_off: f64, b_on: f64, b_off: f64) -> bool {
    a_on < b_off && b_on < a_off
}

/// psds_eval's input validation: onset ≤ offset, and no two different same-class events of a
/// file intersect (exact duplicates pass, as `remove_identical` lets them).
fn validate(table: &StrongLabels) -> Result<()> {
    let mut order: Vec<usize> = Vec::new();
    for clip in &table.clips {
        for e in &clip.events {
            if e.onset > e.offset {
                return Err(MetricsError::BadInterval {
                    file: clip.filename.clone(),
                    label: e.label.clone(),
                    onset: e.onset,
                    offset: e.offset,
                });
            }
        }
        // Sorted by (label, onset), an intersecting pair shows as an onset before the
        // running latest offset of its label; only then look for the first pair in file order.
        order.clear();
        order.extend(0..clip.events.len());
        let ev = &clip.events;
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (&ev[a], &ev[b]);
            a.label.cmp(&b.label).then(a.onset.total_cmp(&b.onset))
        });
        let mut latest: Option<(&str, f64)> = None;
        let suspect = order.iter().any(|&i| {
            let e = &ev[i];
            let hit = matches!(latest, Some((l, off)) if l == e.label && e.onset < off);
            latest = match latest {
                Some((l, off)) if l == e.label => Some((l, off.max(e.offset))),
                _ => Some((e.label.as_str(), e.offset)),
            };
            hit
        });
        if !suspect {
            continue;
        }
        for (i, a) in clip.events.iter().enumerate() {
            for b in &clip.events[i + 1..] {
                let identical = a.onset == b.onset && a.offset == b.offset;
                if a.label == b.label
                    && !identical
                    && strict_overlap(a.onset, a.offset, b.onset, b.offset)
                {
                    return Err(MetricsError::Overlap {
                        file: clip.filename.clone(),
                        label: a.label.clone(),
                        detail: format!("{}-{} and {}-{}", a.onset, a.offset, b.onset, b.offset),
                    });
                }
            }
        }
    }
    Ok(())
}

/// An order-free identity of a detection table (psds_eval hashes the sorted table): two
/// independent 64-bit hashes of each row, summed, and the row count.
fn table_key(table: &StrongLabels) -> (u64, u64, usize) {
    // splitmix64's finaliser, and FNV-1a over bytes from a seed.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn bytes(seed: u64, s: &str) -> u64 {
        s.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    }
    let seeds = [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4];
    let (mut sums, mut n) = ([0u64; 2], 0usize);
    for clip in &table.clips {
        let file = seeds.map(|seed| mix(bytes(seed, &clip.filename)));
        for e in &clip.events {
            for (k, sum) in sums.iter_mut().enumerate() {
                let label = bytes(seeds[k], &e.label);
                let row = mix(file[k] ^ mix(e.onset.to_bits() ^ mix(e.offset.to_bits() ^ label)));
                *sum = sum.wrapping_add(row);
            }
            n += 1;
        }
    }
    (sums[0], sums[1], n)
}

impl PsdsEval {
    /// `PSDSEval(dtc, gtc, cttc, ground_truth=…, metadata=…)`.
    pub fn new(
        ground_truth: &StrongLabels,
        durations: &Durations,
        dtc: f64,
        gtc: f64,
        cttc: f64,
    ) -> Result<Self> {
        for (name, v) in [("dtc", dtc), ("gtc", gtc), ("cttc", cttc)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(MetricsError::Parameter(format!(
                    "{name} must be between 0 and 1, got {v}"
                )));
            }
        }
        if durations.clips.is_empty() {
            return Err(MetricsError::Empty("the durations table is empty".into()));
        }
        validate(ground_truth)?;
        let mut classes: Vec<String> = ground_truth
            .clips
            .iter()
            .flat_map(|c| c.events.iter())
            .filter(|e| e.offset > e.onset)
            .map(|e| e.label.clone())
            .collect();
        classes.sort();
        classes.dedup();
        if classes.is_empty() {
            return Err(MetricsError::Empty("no ground-truth events".into()));
        }
        let mut file_ids: HashMap<String, u32> = HashMap::new();
        let mut gt: Vec<Vec<GtEvent>> = Vec::new();
        fn entry(ids: &mut HashMap<String, u32>, gt: &mut Vec<Vec<GtEvent>>, file: &str) -> usize {
            let next = ids.len() as u32;
            let id = *ids.entry(file.to_string()).or_insert(next) as usize;
            if id == gt.len() {
                gt.push(Vec::new());
            }
            id
        }
        let mut n_gt = vec![0.0; classes.len()];
        let mut gt_duration = vec![0.0; classes.len()];
        let mut dataset_duration = 0.0;
        let mut seen = std::collections::HashSet::new();
        for (file, duration) in &durations.clips {
            if !seen.insert(file.as_str()) {
                continue;
            }
            if *duration > 0.0 {
                dataset_duration += duration;
                let id = entry(&mut file_ids, &mut gt, file);
                gt[id].push(GtEvent {
                    onset: 0.0,
                    offset: *duration,
                    class: None,
                });
            }
        }
        for clip in &ground_truth.clips {
            for e in &clip.events {
                if e.offset > e.onset {
                    let c = classes.binary_search(&e.label).expect("class listed");
                    n_gt[c] += 1.0;
                    gt_duration[c] += e.offset - e.onset;
                    let id = entry(&mut file_ids, &mut gt, &clip.filename);
                    gt[id].push(GtEvent {
                        onset: e.onset,
                        offset: e.offset,
                        class: Some(c),
                    });
                }
            }
        }
        // psds_eval sorts the table by (filename, onset), stably; sums then run in this order.
        for events in gt.iter_mut() {
            events.sort_by(|a, b| a.onset.total_cmp(&b.onset));
        }
        Ok(PsdsEval {
            dtc,
            gtc,
            cttc,
            classes,
            gt,
            file_ids,
            n_gt,
            gt_duration,
            dataset_duration,
            operating_points: Vec::new(),
            keys: Vec::new(),
        })
    }

    /// The detections that can count (files with ground truth or metadata, classes with
    /// ground truth), grouped by file id, each file's sorted by onset (stably, as psds_eval
    /// sorts the table by filename and onset).
    fn detections(&self, table: &StrongLabels) -> Result<Vec<(usize, Vec<Det>)>> {
        validate(table)?;
        let class_of: HashMap<&str, usize> = self
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut by_file: HashMap<usize, Vec<Det>> = HashMap::new();
        for clip in &table.clips {
            let Some(&id) = self.file_ids.get(&clip.filename) else {
                continue; // no ground truth, no WORLD: neither TP, FP nor cross trigger
            };
            let dets = by_file.entry(id as usize).or_default();
            dets.extend(
                clip.events
                    .iter()
                    .filter(|e| e.offset > e.onset)
                    .filter_map(|e| {
                        // psds_eval ignores detections of classes without ground truth.
                        class_of.get(e.label.as_str()).map(|&class| Det {
                            onset: e.onset,
                            offset: e.offset,
                            class,
                        })
                    }),
            );
        }
        let mut files: Vec<(usize, Vec<Det>)> = by_file.into_iter().collect();
        for (_, dets) in files.iter_mut() {
            dets.sort_by(|a, b| a.onset.total_cmp(&b.onset));
        }
        files.sort_unstable_by_key(|f| f.0);
        Ok(files)
    }

    fn evaluate(&self, files: &[(usize, Vec<Det>)]) -> OperatingPoint {
        let n = self.classes.len();
        let mut tp = vec![0.0; n];
        let mut fp = vec![0.0; n];
        let mut ct = vec![vec![0.0; n]; n];
        let mut coverage: Vec<f64> = Vec::new();
        let mut touched: Vec<bool> = Vec::new();
        let mut passes: Vec<bool> = Vec::new();
        let mut other: Vec<Option<f64>> = vec![None; n];
        for (file, dets) in files {
            let gts = &self.gt[*file];
            // Pass 1: DTC per detection; coverage of each GT event by DTC-passing detections.
            coverage.clear();
            coverage.resize(gts.len(), 0.0);
            touched.clear();
            touched.resize(gts.len(), false);
            passes.clear();
            for e in dets {
                let det_len = e.offset - e.onset;
                let mut precision_sum = 0.0;
                let mut any = false;
                for g in gts {
                    if g.class == Some(e.class)
                        && strict_overlap(e.onset, e.offset, g.onset, g.offset)
                    {
                        let inter = e.offset.min(g.offset) - e.onset.max(g.onset);
                        precision_sum += inter / det_len;
                        any = true;
                    }
                }
                let pass = any && precision_sum >= self.dtc;
                passes.push(pass);
                if pass {
                    for (gi, g) in gts.iter().enumerate() {
                        if g.class == Some(e.class)
                            && strict_overlap(e.onset, e.offset, g.onset, g.offset)
                        {
                            let inter = e.offset.min(g.offset) - e.onset.max(g.onset);
                            coverage[gi] += inter / (g.offset - g.onset);
                            touched[gi] = true;
                        }
                    }
                }
            }
            for (gi, g) in gts.iter().enumerate() {
                if touched[gi] && coverage[gi] >= self.gtc {
                    tp[g.class.expect("only real classes are covered")] += 1.0;
                }
            }
            // Pass 2: DTC failures → FP (via WORLD) and cross triggers.
            for (e, _) in dets.iter().zip(&passes).filter(|(_, &p)| !p) {
                let det_len = e.offset - e.onset;
                let mut world = false;
                other.iter_mut().for_each(|o| *o = None);
                for g in gts {
                    if !strict_overlap(e.onset, e.offset, g.onset, g.offset) {
                        continue;
                    }
                    match g.class {
                        None => world = true,
                        Some(k) if k != e.class => {
                            let inter = e.offset.min(g.offset) - e.onset.max(g.onset);
                            *other[k].get_or_insert(0.0) += inter / det_len;
                        }
                        Some(_) => {}
                    }
                }
                if world {
                    fp[e.class] += 1.0;
                }
                for (k, sum) in other.iter().enumerate() {
                    if sum.is_some_and(|s| s >= self.cttc) {
                        ct[e.class][k] += 1.0;
                    }
                }
            }
        }
        let tpr = (0..n).map(|c| tp[c] / self.n_gt[c]).collect();
        let fpr = (0..n)
            .map(|c| fp[c] * 3600.0 / self.dataset_duration)
            .collect();
        let ctr = (0..n)
            .map(|c| {
                (0..n)
                    .map(|k| {
                        if k == c {
                            f64::NAN
                        } else {
                            ct[c][k] * 3600.0 / self.gt_duration[k]
                        }
                    })
                    .collect()
            })
            .collect();
        OperatingPoint {
            tp,
            fp,
            ct,
            tpr,
            fpr,
            ctr,
        }
    }

    /// Add one operating point; `Ok(false)` when an identical detection table was added before
    /// (psds_eval skips it with a warning).
    pub fn add_operating_point(&mut self, detections: &StrongLabels) -> Result<bool> {
        let dets = self.detections(detections)?;
        let key = table_key(detections);
        if self.keys.contains(&key) {
            return Ok(false);
        }
        let op = self.evaluate(&dets);
        self.operating_points.push(op);
        self.keys.push(key);
        Ok(true)
    }

    /// PSDS over the operating points added (`PSDSEval.psds(alpha_ct, alpha_st, max_efpr)`).
    pub fn psds(&self, params: &PsdsParams) -> Result<PsdsResult> {
        params.validate()?;
        if self.operating_points.is_empty() {
            return Err(MetricsError::Empty("no operating points".into()));
        }
        let n = self.classes.len();
        // Per class: (eFPR, TPR) of each operating point, then the zero point.
        let mut points: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
        for op in &self.operating_points {
            for (c, class_points) in points.iter_mut().enumerate() {
                let others: Vec<f64> = (0..n).filter(|&k| k != c).map(|k| op.ctr[c][k]).collect();
                let efpr = op.fpr[c] + params.alpha_ct * super::nanmean(&others);
                class_points.push((efpr, op.tpr[c]));
            }
        }
        for p in points.iter_mut() {
            p.push((0.0, 0.0));
        }
        // Union grid of non-NaN eFPRs (NaNs sort last and never get a value of their own).
        let mut grid: Vec<f64> = points
            .iter()
            .flatten()
            .map(|p| p.0)
            .filter(|x| !x.is_nan())
            .collect();
        grid.sort_by(f64::total_cmp);
        grid.dedup();
        let curves: Vec<Vec<f64>> = points
            .iter()
            .map(|p| {
                let mut pts: Vec<(f64, f64)> =
                    p.iter().copied().filter(|q| !q.0.is_nan()).collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                // Group by x keeping the max y, then cumulative max.
                let mut xs: Vec<f64> = Vec::new();
                let mut ys: Vec<f64> = Vec::new();
                for (x, y) in pts {
                    if xs.last() == Some(&x) {
                        let last = ys.last_mut().expect("non-empty");
                        *last = last.max(y);
                    } else {
                        xs.push(x);
                        ys.push(y);
                    }
                }
                for i in 1..ys.len() {
                    ys[i] = ys[i].max(ys[i - 1]);
                }
                let mut j = 0;
                let mut cur = 0.0;
                grid.iter()
                    .map(|&g| {
                        while j < xs.len() && xs[j] <= g {
                            cur = ys[j];
                            j += 1;
                        }
                        cur
                    })
                    .collect()
            })
            .collect();
        let etpr: Vec<f64> = (0..grid.len())
            .map(|i| {
                let col: Vec<f64> = curves.iter().map(|c| c[i]).collect();
                let v = super::mean(&col) - params.alpha_st * super::std_pop(&col);
                if v.is_nan() || v < 0.0 {
                    0.0
                } else {
                    v
                }
            })
            .collect();
        let (x, y) = staircase_with_max(&grid, &etpr, params.max_efpr);
        let area: f64 = (0..x.len().saturating_sub(1))
            .map(|i| (x[i + 1] - x[i]) * y[i])
            .sum();
        Ok(PsdsResult {
            value: area / params.max_efpr,
            roc: PsdRoc { efpr: x, etpr: y },
            params: *params,
            n_operating_points: self.operating_points.len(),
            class_rocs: ClassRocs {
                efpr: grid,
                tpr: curves,
            },
        })
    }

    /// `select_operating_points_per_class(class_constraints, alpha_ct, beta)`: for each
    /// (class, constraint), the operating point that best meets it — the lowest eFPR with
    /// TPR ≥ value, the highest TPR with FPR (or eFPR) ≤ value, or the highest F-score — among
    /// the added points and psds_eval's zero point (which, chosen, means "not achievable": a
    /// row of NaN). Ties go to the first point in the order added, and a NaN wins as
    /// `numpy.argmax`/`argmin` let it.
    pub fn select_operating_points(
        &self,
        constraints: &[(String, Constraint)],
        alpha_ct: f64,
        beta: f64,
    ) -> Result<Vec<SelectedPoint>> {
        if !(0.0..=1.0).contains(&alpha_ct) {
            return Err(MetricsError::Parameter(format!(
                "alpha_ct must be between 0 and 1, got {alpha_ct}"
            )));
        }
        let n = self.classes.len();
        let mut out = Vec::with_capacity(constraints.len());
        for (class, constraint) in constraints {
            let c = (self.classes.iter().position(|x| x == class))
                .ok_or_else(|| MetricsError::UnknownLabel(class.clone()))?;
            // The added points, then the zero point (rates 0, cross-trigger rates 0).
            let mut tpr: Vec<f64> = self.operating_points.iter().map(|o| o.tpr[c]).collect();
            let mut fpr: Vec<f64> = self.operating_points.iter().map(|o| o.fpr[c]).collect();
            let mut efpr: Vec<f64> = (self.operating_points.iter())
                .map(|o| o.fpr[c] + alpha_ct * super::nanmean(&o.ctr[c]))
                .collect();
            tpr.push(0.0);
            fpr.push(0.0);
            efpr.push(0.0 + alpha_ct * super::nanmean(&vec![0.0; n]));
            let k = 1.0 + beta * beta;
            let fscore: Vec<f64> = (0..tpr.len())
                .map(|i| {
                    let tp = tpr[i] * self.n_gt[c];
                    let fn_ = self.n_gt[c] - tp;
                    let fp = fpr[i] * self.dataset_duration / 3600.0;
                    k * tp / (k * tp + beta * beta * fn_ + fp)
                })
                .collect();
            let (keep, arr, lowest): (Vec<bool>, &[f64], bool) = match *constraint {
                Constraint::Tpr(v) => (tpr.iter().map(|&x| x >= v).collect(), &efpr, true),
                Constraint::Fpr(v) => (fpr.iter().map(|&x| x <= v).collect(), &tpr, false),
                Constraint::Efpr(v) => (efpr.iter().map(|&x| x <= v).collect(), &tpr, false),
                Constraint::Fscore => (vec![true; tpr.len()], &fscore, false),
            };
            let candidates: Vec<usize> = (0..tpr.len()).filter(|&i| keep[i]).collect();
            // numpy's argmin/argmax: the first NaN if any, else the first extreme.
            let pick = candidates.iter().copied().reduce(|best, i| {
                let (b, x) = (arr[best], arr[i]);
                if b.is_nan() {
                    best
                } else if x.is_nan() || (lowest && x < b) || (!lowest && x > b) {
                    i
                } else {
                    best
                }
            });
            let chosen = pick.filter(|&i| i < self.operating_points.len());
            out.push(SelectedPoint {
                class: class.clone(),
                constraint: *constraint,
                tpr: chosen.map_or(f64::NAN, |i| tpr[i]),
                fpr: chosen.map_or(f64::NAN, |i| fpr[i]),
                efpr: chosen.map_or(f64::NAN, |i| efpr[i]),
                fscore: chosen.map_or(f64::NAN, |i| fscore[i]),
                operating_point: chosen,
            });
        }
        Ok(out)
    }

    /// `compute_macro_f_score(detections, beta)`: (macro F, per-class F) on one detection
    /// table, without adding it as an operating point. Per-class F is NaN where TP = 0.
    pub fn macro_f(&self, detections: &StrongLabels, beta: f64) -> Result<(f64, Vec<f64>)> {
        let dets = self.detections(detections)?;
        let op = self.evaluate(&dets);
        let k = 1.0 + beta * beta;
        let per_class: Vec<f64> = (0..self.classes.len())
            .map(|c| {
                let tp = op.tp[c];
                let num_gt = tp / op.tpr[c];
                let fn_ = num_gt - tp;
                (k * tp) / (k * tp + beta * beta * fn_ + op.fp[c])
            })
            .collect();
        Ok((super::nanmean(&per_class), per_class))
    }
}

/// psds_eval `_auc`'s grid: x up to `max_x`, with `max_x` inserted (taking its left neighbour's
/// y) when absent.
fn staircase_with_max(x: &[f64], y: &[f64], max_x: f64) -> (Vec<f64>, Vec<f64>) {
    let mut xs = Vec::with_capacity(x.len() + 1);
    let mut ys = Vec::with_capacity(x.len() + 1);
    let present = x.contains(&max_x);
    for (i, (&xi, &yi)) in x.iter().zip(y).enumerate() {
        if !present && xi > max_x && (i == 0 || x[i - 1] < max_x) {
            xs.push(max_x);
            ys.push(if i == 0 { 0.0 } else { y[i - 1] });
        }
        if xi <= max_x {
            xs.push(xi);
            ys.push(yi);
        }
    }
    if !present && x.last().is_none_or(|&l| l < max_x) {
        xs.push(max_x);
        ys.push(y.last().copied().unwrap_or(0.0));
    }
    (xs, ys)
}

/// The DESED baseline's operating-point thresholds for psds_eval: `arange(1/(2n), 1, 1/n)`
/// (n = 50 → 0.01, 0.03, …, 0.99).
pub fn baseline_thresholds(n: usize) -> Vec<f64> {
    let step = 1.0 / n as f64;
    let start = 1.0 / (2 * n) as f64;
    // numpy.arange: ceil((stop - start) / step) values start + i·delta, where numpy's fill
    // takes delta from its first two values: (start + step) - start.
    let len = ((1.0 - start) / step).ceil() as usize;
    let delta = (start + step) - start;
    (0..len).map(|i| start + i as f64 * delta).collect()
}
