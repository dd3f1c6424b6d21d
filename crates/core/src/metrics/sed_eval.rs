//! Segment-based and event-based SED metrics as `sed_eval` 0.2.1 computes them
//! (`sed_eval/sound_event.py`: `SegmentBasedMetrics`, `EventBasedMetrics`), driven file by file
//! the way the DESED baseline does (`desed_task/evaluation/evaluation_measures.py`:
//! `event_based_evaluation_df`, `segment_based_evaluation_df`): by default only files listed in
//! the reference are evaluated ([`FileScope::Reference`]), so system events in files the
//! reference omits are dropped; [`FileScope::Files`] drives sed_eval over a given list instead
//! (every file of the durations table), where a file without reference events adds its system
//! events as insertions. The class list is the union of reference and estimated labels.
//!
//! Traps reproduced: collars compare raw doubles with `<=` (|2.2 − 2.0| > 0.2); the offset
//! collar is max(t_collar, percentage × reference length); the optimal matching is mir_eval's
//! Hopcroft–Karp run on the same insertion-ordered graph, so the *which* of the matching — and
//! therefore substitutions, deletions, insertions and ER — come out as sed_eval's; segment
//! indices are `floor(onset / res)` and `ceil(offset / res)` in doubles and the roll is as long as
//! the latest ref/est offset; precision/recall are NaN with no system/reference events and the
//! class-wise average is `numpy.nanmean` (classes without reference events drop out);
//! `zero_score` (event-based only) sets precision to 0 when nothing was detected; rates divide
//! by Nref + `numpy.spacing(1)`.

use std::collections::{BTreeSet, HashMap};

use super::{nanmean, Result};
use crate::datasets::dcase::{Event, StrongLabels};

const EPS: f64 = f64::EPSILON; // numpy.spacing(1)

/// F-measure, precision, recall (NaN where sed_eval gives NaN).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FScore {
    /// F1.
    pub f_measure: f64,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
}

/// Error rate and its parts (`substitution_rate` only overall).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ErrorRate {
    /// ER = S + D + I.
    pub error_rate: f64,
    /// Substitution rate (overall only; NaN class-wise).
    pub substitution_rate: f64,
    /// Deletion rate.
    pub deletion_rate: f64,
    /// Insertion rate.
    pub insertion_rate: f64,
}

/// One class's results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassResult {
    /// Label.
    pub label: String,
    /// F-measure.
    pub f: FScore,
    /// Error rate (deletion = Nfn, insertion = Nfp, no substitutions).
    pub er: ErrorRate,
    /// Reference events (segments).
    pub n_ref: f64,
    /// System events (segments).
    pub n_sys: f64,
    /// True positives.
    pub n_tp: f64,
}

/// Results of one sed_eval metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SedEvalResult {
    /// Micro (overall) F.
    pub overall_f: FScore,
    /// Overall error rate.
    pub overall_er: ErrorRate,
    /// Per class, sorted by label.
    pub class_wise: Vec<ClassResult>,
    /// `class_wise_average` F (nanmean over classes).
    pub class_wise_average_f: FScore,
    /// `class_wise_average` error rate (nanmean; substitution NaN).
    pub class_wise_average_er: ErrorRate,
    /// Files evaluated.
    pub n_files: usize,
}

fn precision(tp: f64, sys: f64) -> f64 {
    if sys == 0.0 {
        f64::NAN
    } else {
        tp / sys
    }
}

fn f_measure(p: f64, r: f64) -> f64 {
    if p == 0.0 && r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn fscore(tp: f64, sys: f64, nref: f64, zero_score: bool) -> FScore {
    let p = if sys == 0.0 && zero_score {
        0.0
    } else {
        precision(tp, sys)
    };
    let r = precision(tp, nref);
    FScore {
        f_measure: f_measure(p, r),
        precision: p,
        recall: r,
    }
}

fn error_rate(nref: f64, s: f64, d: f64, i: f64, with_subs: bool) -> ErrorRate {
    let sr = s / (nref + EPS);
    let dr = d / (nref + EPS);
    let ir = i / (nref + EPS);
    ErrorRate {
        error_rate: if with_subs {
            sr + dr + ir
        } else {
            0.0 + dr + ir
        },
        substitution_rate: if with_subs { sr } else { f64::NAN },
        deletion_rate: dr,
        insertion_rate: ir,
    }
}

/// Sorted union of labels in reference and estimate (the DESED baseline's class list).
fn class_list(reference: &StrongLabels, estimated: &StrongLabels) -> Vec<String> {
    let set: BTreeSet<String> = reference
        .labels()
        .into_iter()
        .chain(estimated.labels())
        .collect();
    set.into_iter().collect()
}

/// Which files sed_eval is driven over.
#[derive(Debug, Clone, Copy)]
pub enum FileScope<'a> {
    /// The files the reference lists (with or without events), as the DESED baseline does.
    Reference,
    /// Exactly these files, in this order (e.g. every file with a duration); a file absent from
    /// the reference has no reference events.
    Files(&'a [String]),
}

/// (reference events, estimated events) of each file in scope.
fn per_file<'a>(
    reference: &'a StrongLabels,
    estimated: &'a StrongLabels,
    scope: FileScope<'a>,
) -> Vec<(&'a [Event], &'a [Event])> {
    let events = |table: &'a StrongLabels| -> HashMap<&'a str, &'a [Event]> {
        (table.clips.iter())
            .map(|c| (c.filename.as_str(), c.events.as_slice()))
            .collect()
    };
    let (refs, est) = (events(reference), events(estimated));
    let of = |map: &HashMap<&str, &'a [Event]>, f: &str| map.get(f).copied().unwrap_or(&[]);
    match scope {
        FileScope::Reference => (reference.clips.iter())
            .map(|c| (c.events.as_slice(), of(&est, &c.filename)))
            .collect(),
        FileScope::Files(files) => (files.iter())
            .map(|f| (of(&refs, f), of(&est, f)))
            .collect(),
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    tp: f64,
    tn: f64,
    fp: f64,
    fn_: f64,
    nref: f64,
    nsys: f64,
    subs: f64,
    del: f64,
    ins: f64,
}

fn finish(
    classes: Vec<String>,
    overall: Counts,
    class_counts: Vec<Counts>,
    zero_score: bool,
    n_files: usize,
    overall_er: ErrorRate,
) -> SedEvalResult {
    let class_wise: Vec<ClassResult> = classes
        .into_iter()
        .zip(&class_counts)
        .map(|(label, c)| ClassResult {
            label,
            f: fscore(c.tp, c.nsys, c.nref, zero_score),
            er: error_rate(c.nref, 0.0, c.fn_, c.fp, false),
            n_ref: c.nref,
            n_sys: c.nsys,
            n_tp: c.tp,
        })
        .collect();
    let pick = |f: &dyn Fn(&ClassResult) -> f64| -> f64 {
        nanmean(&class_wise.iter().map(f).collect::<Vec<_>>())
    };
    let class_wise_average_f = FScore {
        f_measure: pick(&|c| c.f.f_measure),
        precision: pick(&|c| c.f.precision),
        recall: pick(&|c| c.f.recall),
    };
    let class_wise_average_er = ErrorRate {
        error_rate: pick(&|c| c.er.error_rate),
        substitution_rate: f64::NAN,
        deletion_rate: pick(&|c| c.er.deletion_rate),
        insertion_rate: pick(&|c| c.er.insertion_rate),
    };
    SedEvalResult {
        overall_f: fscore(overall.tp, overall.nsys, overall.nref, zero_score),
        overall_er,
        class_wise,
        class_wise_average_f,
        class_wise_average_er,
        n_files,
    }
}

fn max_offset(events: &[Event]) -> f64 {
    events
        .iter()
        .fold(0.0, |m, e| if e.offset > m { e.offset } else { m })
}

/// `event_list_to_event_roll`: segments × classes, `[floor(on/res), ceil(off/res))` set.
fn event_roll(events: &[Event], classes: &[String], res: f64, len: usize) -> Vec<Vec<bool>> {
    let mut roll = vec![vec![false; classes.len()]; len];
    for e in events {
        let c = classes
            .iter()
            .position(|l| *l == e.label)
            .expect("label in class list");
        let on = (e.onset / res).floor();
        let off = (e.offset / res).ceil();
        // Python slicing: negative starts count from the end; clamp like numpy does for the
        // common case of a non-negative onset.
        let start = if on < 0.0 { 0 } else { on as usize };
        let end = if off < 0.0 {
            0
        } else {
            (off as usize).min(len)
        };
        for row in roll.iter_mut().take(end).skip(start) {
            row[c] = true;
        }
    }
    roll
}

/// Segment-based metrics (`SegmentBasedMetrics(time_resolution)`, no evaluated length).
pub fn segment_based(
    reference: &StrongLabels,
    estimated: &StrongLabels,
    time_resolution: f64,
    scope: FileScope<'_>,
) -> Result<SedEvalResult> {
    if time_resolution <= 0.0 || time_resolution.is_nan() {
        return Err(super::MetricsError::Parameter(format!(
            "time resolution must be > 0, got {time_resolution}"
        )));
    }
    let classes = class_list(reference, estimated);
    let files = per_file(reference, estimated, scope);
    let mut overall = Counts::default();
    let mut class_counts = vec![Counts::default(); classes.len()];
    for &(ref_events, est_events) in &files {
        // The rolls are built at their own lengths, then padded or truncated to the
        // evaluated length; building straight at that length is the same.
        let evaluated = max_offset(ref_events).max(max_offset(est_events));
        let len = (evaluated / time_resolution).ceil() as usize;
        let r = event_roll(ref_events, &classes, time_resolution, len);
        let s = event_roll(est_events, &classes, time_resolution, len);
        for (rs, ss) in r.iter().zip(&s) {
            let mut seg = Counts::default();
            for (c, (&a, &b)) in rs.iter().zip(ss).enumerate() {
                let cc = &mut class_counts[c];
                match (a, b) {
                    (true, true) => {
                        seg.tp += 1.0;
                        cc.tp += 1.0;
                    }
                    (false, false) => {
                        seg.tn += 1.0;
                        cc.tn += 1.0;
                    }
                    (false, true) => {
                        seg.fp += 1.0;
                        cc.fp += 1.0;
                    }
                    (true, false) => {
                        seg.fn_ += 1.0;
                        cc.fn_ += 1.0;
                    }
                }
                if a {
                    seg.nref += 1.0;
                    cc.nref += 1.0;
                }
                if b {
                    seg.nsys += 1.0;
                    cc.nsys += 1.0;
                }
            }
            overall.tp += seg.tp;
            overall.tn += seg.tn;
            overall.fp += seg.fp;
            overall.fn_ += seg.fn_;
            overall.nref += seg.nref;
            overall.nsys += seg.nsys;
            overall.subs += seg.nref.min(seg.nsys) - seg.tp;
            overall.del += (seg.nref - seg.nsys).max(0.0);
            overall.ins += (seg.nsys - seg.nref).max(0.0);
        }
    }
    let er = error_rate(overall.nref, overall.subs, overall.del, overall.ins, true);
    Ok(finish(
        classes,
        overall,
        class_counts,
        false,
        files.len(),
        er,
    ))
}

/// Collar parameters of the event-based metric.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct EventParams {
    /// Onset (and minimum offset) collar, seconds.
    pub t_collar: f64,
    /// Offset collar as a fraction of the reference length.
    pub percentage_of_length: f64,
    /// Check onsets.
    pub evaluate_onset: bool,
    /// Check offsets.
    pub evaluate_offset: bool,
    /// `empty_system_output_handling='zero_score'`.
    pub zero_score: bool,
}

impl EventParams {
    /// The DESED baseline's event-based F1: 200 ms collar, 20 % of length, zero_score.
    pub const DESED: EventParams = EventParams {
        t_collar: 0.2,
        percentage_of_length: 0.2,
        evaluate_onset: true,
        evaluate_offset: true,
        zero_score: true,
    };
}

fn onset_ok(r: &Event, e: &Event, p: &EventParams) -> bool {
    !p.evaluate_onset || (r.onset - e.onset).abs() <= p.t_collar
}

fn offset_ok(r: &Event, e: &Event, p: &EventParams) -> bool {
    if !p.evaluate_offset {
        return true;
    }
    let length = r.offset - r.onset;
    (r.offset - e.offset).abs() <= p.t_collar.max(p.percentage_of_length * length)
}

/// A Python-dict-like map: insertion-ordered, with deletion.
#[derive(Debug, Clone)]
struct OrderedMap<V> {
    entries: Vec<(usize, V)>,
}

impl<V: Clone> OrderedMap<V> {
    fn new() -> Self {
        OrderedMap {
            entries: Vec::new(),
        }
    }
    fn contains(&self, k: usize) -> bool {
        self.entries.iter().any(|(key, _)| *key == k)
    }
    fn get(&self, k: usize) -> Option<&V> {
        self.entries
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v)
    }
    fn insert(&mut self, k: usize, v: V) {
        match self.entries.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => self.entries.push((k, v)),
        }
    }
    fn remove(&mut self, k: usize) -> Option<V> {
        let i = self.entries.iter().position(|(key, _)| *key == k)?;
        Some(self.entries.remove(i).1)
    }
    fn keys(&self) -> Vec<usize> {
        self.entries.iter().map(|(k, _)| *k).collect()
    }
}

/// mir_eval's `_bipartite_match` (Hopcroft–Karp), as vendored by sed_eval: `graph` maps each
/// estimate (in insertion order) to its matching references (ascending); returns
/// reference → estimate.
fn bipartite_match(graph: &OrderedMap<Vec<usize>>) -> OrderedMap<usize> {
    let mut matching: OrderedMap<usize> = OrderedMap::new();
    for (u, vs) in &graph.entries {
        for &v in vs {
            if !matching.contains(v) {
                matching.insert(v, *u);
                break;
            }
        }
    }
    loop {
        // preds: v -> list of u; pred: u -> Some(v) or None (the "unmatched" sentinel).
        let mut preds: OrderedMap<Vec<usize>> = OrderedMap::new();
        let mut unmatched: Vec<usize> = Vec::new();
        let mut pred: OrderedMap<Option<usize>> = OrderedMap::new();
        for (u, _) in &graph.entries {
            pred.insert(*u, None);
        }
        for (_, u) in &matching.entries {
            pred.remove(*u);
        }
        let mut layer: Vec<usize> = pred.keys();
        while !layer.is_empty() && unmatched.is_empty() {
            let mut new_layer: OrderedMap<Vec<usize>> = OrderedMap::new();
            for &u in &layer {
                for &v in graph.get(u).expect("u in graph") {
                    if !preds.contains(v) {
                        let mut list = new_layer.get(v).cloned().unwrap_or_default();
                        list.push(u);
                        new_layer.insert(v, list);
                    }
                }
            }
            layer = Vec::new();
            for (v, us) in &new_layer.entries {
                preds.insert(*v, us.clone());
                if let Some(&mu) = matching.get(*v) {
                    layer.push(mu);
                    pred.insert(mu, Some(*v));
                } else {
                    unmatched.push(*v);
                }
            }
        }
        if unmatched.is_empty() {
            return matching;
        }
        fn recurse(
            v: usize,
            preds: &mut OrderedMap<Vec<usize>>,
            pred: &mut OrderedMap<Option<usize>>,
            matching: &mut OrderedMap<usize>,
        ) -> bool {
            if let Some(list) = preds.remove(v) {
                for u in list {
                    if let Some(pu) = pred.remove(u) {
                        let ok = match pu {
                            None => true,
                            Some(pv) => recurse(pv, preds, pred, matching),
                        };
                        if ok {
                            matching.insert(v, u);
                            return true;
                        }
                    }
                }
            }
            false
        }
        for v in unmatched {
            recurse(v, &mut preds, &mut pred, &mut matching);
        }
    }
}

/// Optimal matching of references to estimates under `hit(ref, est)`: sorted (ref, est) pairs.
fn optimal_matching(
    n_ref: usize,
    n_est: usize,
    hit: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut graph: OrderedMap<Vec<usize>> = OrderedMap::new();
    for j in 0..n_ref {
        for i in 0..n_est {
            if hit(j, i) {
                let mut list = graph.get(i).cloned().unwrap_or_default();
                list.push(j);
                graph.insert(i, list);
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> = bipartite_match(&graph).entries;
    pairs.sort();
    pairs
}

/// Event-based metrics (`EventBasedMetrics`, optimal matching).
pub fn event_based(
    reference: &StrongLabels,
    estimated: &StrongLabels,
    params: &EventParams,
    scope: FileScope<'_>,
) -> Result<SedEvalResult> {
    let classes = class_list(reference, estimated);
    let files = per_file(reference, estimated, scope);
    let mut overall = Counts::default();
    let mut class_counts = vec![Counts::default(); classes.len()];
    for &(r, e) in &files {
        let hit = |j: usize, i: usize| {
            r[j].label == e[i].label
                && onset_ok(&r[j], &e[i], params)
                && offset_ok(&r[j], &e[i], params)
        };
        let matching = optimal_matching(r.len(), e.len(), hit);
        let mut ref_correct = vec![false; r.len()];
        let mut sys_correct = vec![false; e.len()];
        for &(j, i) in &matching {
            ref_correct[j] = true;
            sys_correct[i] = true;
        }
        let ntp = matching.len() as f64;
        let mut nsubs = 0.0;
        let mut sys_counted = vec![false; e.len()];
        for j in (0..r.len()).filter(|&j| !ref_correct[j]) {
            for i in (0..e.len()).filter(|&i| !sys_correct[i]) {
                if !sys_counted[i]
                    && onset_ok(&r[j], &e[i], params)
                    && offset_ok(&r[j], &e[i], params)
                {
                    sys_counted[i] = true;
                    nsubs += 1.0;
                    break;
                }
            }
        }
        let (nsys, nref) = (e.len() as f64, r.len() as f64);
        overall.nref += nref;
        overall.nsys += nsys;
        overall.tp += ntp;
        overall.subs += nsubs;
        overall.fp += nsys - ntp - nsubs;
        overall.fn_ += nref - ntp - nsubs;
        for (c, label) in classes.iter().enumerate() {
            let rc: Vec<&Event> = r.iter().filter(|x| x.label == *label).collect();
            let ec: Vec<&Event> = e.iter().filter(|x| x.label == *label).collect();
            let m = optimal_matching(rc.len(), ec.len(), |j, i| {
                onset_ok(rc[j], ec[i], params) && offset_ok(rc[j], ec[i], params)
            });
            let cc = &mut class_counts[c];
            let tp = m.len() as f64;
            cc.nref += rc.len() as f64;
            cc.nsys += ec.len() as f64;
            cc.tp += tp;
            cc.fp += ec.len() as f64 - tp;
            cc.fn_ += rc.len() as f64 - tp;
        }
    }
    let er = error_rate(overall.nref, overall.subs, overall.fn_, overall.fp, true);
    Ok(finish(
        classes,
        overall,
        class_counts,
        params.zero_score,
        files.len(),
        er,
    ))
}
