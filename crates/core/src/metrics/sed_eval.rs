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

/// Segment-based accuracy figures (`overall_accuracy`, `class_wise_accuracy`, factor 0.5).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Accuracy {
    /// Ntp / (Ntp + Nfn + ε).
    pub sensitivity: f64,
    /// Ntn / (Ntn + Nfp + ε).
    pub specificity: f64,
    /// (sensitivity + specificity) / 2.
    pub balanced_accuracy: f64,
    /// (Ntp + Ntn) / (Ntp + Ntn + Nfn + Nfp + ε).
    pub accuracy: f64,
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
    /// Accuracy figures (segment-based only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
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
    /// Overall accuracy figures (segment-based only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overall_accuracy: Option<Accuracy>,
    /// `class_wise_average` accuracy figures (nanmean; segment-based only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_wise_average_accuracy: Option<Accuracy>,
    /// Files evaluated.
    pub n_files: usize,
    /// sed_eval's evaluated length in seconds: the sum over files of the evaluated length
    /// (segment-based) or of the latest reference offset (event-based).
    pub evaluated_length: f64,
    /// The metric and its parameters.
    pub metric: Metric,
}

/// Which sed_eval metric a result is of.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// `SegmentBasedMetrics(time_resolution)`.
    SegmentBased {
        /// Segment length in seconds.
        time_resolution: f64,
    },
    /// `EventBasedMetrics(...)`.
    EventBased(EventParams),
}

fn accuracy(c: &Counts) -> Accuracy {
    let sensitivity = c.tp / (c.tp + c.fn_ + EPS);
    let specificity = c.tn / (c.tn + c.fp + EPS);
    Accuracy {
        sensitivity,
        specificity,
        balanced_accuracy: (1.0 - 0.5) * sensitivity + 0.5 * specificity,
        accuracy: (c.tp + c.tn) / (c.tp + c.tn + c.fn_ + c.fp + EPS),
    }
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

/// A file's name without folders and extension: how a per-recording event list (`a001.ann`,
/// named `a001`) finds the rows of a list that names the audio (`audio/a001.wav`).
pub fn clip_key(filename: &str) -> &str {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    base.rsplit_once('.').map_or(base, |(stem, _)| stem)
}

/// Events by filename, with a fallback by [`clip_key`].
struct EventIndex<'a> {
    exact: HashMap<&'a str, &'a [Event]>,
    by_key: HashMap<&'a str, &'a [Event]>,
}

impl<'a> EventIndex<'a> {
    fn new(table: &'a StrongLabels) -> Self {
        let mut by_key = HashMap::new();
        for c in &table.clips {
            by_key
                .entry(clip_key(&c.filename))
                .or_insert(c.events.as_slice());
        }
        EventIndex {
            exact: (table.clips.iter())
                .map(|c| (c.filename.as_str(), c.events.as_slice()))
                .collect(),
            by_key,
        }
    }

    fn get(&self, filename: &str) -> &'a [Event] {
        (self.exact.get(filename))
            .or_else(|| self.by_key.get(clip_key(filename)))
            .copied()
            .unwrap_or(&[])
    }
}

/// One file in scope: its name, reference events and estimated events.
type FileEvents<'a> = (&'a str, &'a [Event], &'a [Event]);

/// (filename, reference events, estimated events) of each file in scope.
fn per_file<'a>(
    reference: &'a StrongLabels,
    estimated: &'a StrongLabels,
    scope: FileScope<'a>,
) -> Vec<FileEvents<'a>> {
    let est = EventIndex::new(estimated);
    match scope {
        FileScope::Reference => (reference.clips.iter())
            .map(|c| {
                (
                    c.filename.as_str(),
                    c.events.as_slice(),
                    est.get(&c.filename),
                )
            })
            .collect(),
        FileScope::Files(files) => {
            let refs = EventIndex::new(reference);
            (files.iter())
                .map(|f| (f.as_str(), refs.get(f), est.get(f)))
                .collect()
        }
    }
}

/// The length sed_eval evaluates each file over (`evaluated_length_seconds`).
#[derive(Debug, Clone, Copy)]
pub enum EvaluatedLength<'a> {
    /// sed_eval's default (`None`): the latest offset of the file's reference and estimated
    /// events.
    Latest,
    /// The same length for every file.
    Fixed(f64),
    /// Each file's own length (a durations table: filename → seconds; looked up by
    /// [`clip_key`] when the name differs).
    PerFile(&'a HashMap<String, f64>),
}

impl EvaluatedLength<'_> {
    fn of(&self, filename: &str, latest: f64) -> Result<f64> {
        match *self {
            EvaluatedLength::Latest => Ok(latest),
            EvaluatedLength::Fixed(v) => Ok(v),
            EvaluatedLength::PerFile(map) => map
                .get(filename)
                .or_else(|| {
                    let key = clip_key(filename);
                    map.iter().find(|(f, _)| clip_key(f) == key).map(|(_, v)| v)
                })
                .copied()
                .ok_or_else(|| {
                    super::MetricsError::Parameter(format!(
                        "{filename}: no evaluated length (not in the durations table)"
                    ))
                }),
        }
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

/// What one run of a metric over the files counted.
struct Tally {
    classes: Vec<String>,
    overall: Counts,
    class_counts: Vec<Counts>,
    overall_er: ErrorRate,
    n_files: usize,
    evaluated_length: f64,
}

fn finish(t: Tally, metric: Metric) -> SedEvalResult {
    let (zero_score, with_accuracy) = match metric {
        Metric::SegmentBased { .. } => (false, true),
        Metric::EventBased(p) => (p.zero_score, false),
    };
    let class_wise: Vec<ClassResult> = (t.classes.into_iter())
        .zip(&t.class_counts)
        .map(|(label, c)| ClassResult {
            label,
            f: fscore(c.tp, c.nsys, c.nref, zero_score),
            er: error_rate(c.nref, 0.0, c.fn_, c.fp, false),
            n_ref: c.nref,
            n_sys: c.nsys,
            n_tp: c.tp,
            accuracy: with_accuracy.then(|| accuracy(c)),
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
    let acc = |f: fn(&Accuracy) -> f64| pick(&|c| c.accuracy.as_ref().map_or(f64::NAN, f));
    let class_wise_average_accuracy = (with_accuracy && !class_wise.is_empty()).then(|| Accuracy {
        sensitivity: acc(|a| a.sensitivity),
        specificity: acc(|a| a.specificity),
        balanced_accuracy: acc(|a| a.balanced_accuracy),
        accuracy: acc(|a| a.accuracy),
    });
    SedEvalResult {
        overall_f: fscore(t.overall.tp, t.overall.nsys, t.overall.nref, zero_score),
        overall_er: t.overall_er,
        class_wise,
        class_wise_average_f,
        class_wise_average_er,
        overall_accuracy: with_accuracy.then(|| accuracy(&t.overall)),
        class_wise_average_accuracy,
        n_files: t.n_files,
        evaluated_length: t.evaluated_length,
        metric,
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
    segment_based_over(
        reference,
        estimated,
        time_resolution,
        scope,
        EvaluatedLength::Latest,
    )
}

/// Segment-based metrics with `evaluate(…, evaluated_length_seconds)` given per file: the rolls
/// are padded with empty segments or cut to `ceil(length / time_resolution)` segments.
pub fn segment_based_over(
    reference: &StrongLabels,
    estimated: &StrongLabels,
    time_resolution: f64,
    scope: FileScope<'_>,
    lengths: EvaluatedLength<'_>,
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
    let mut evaluated_length = 0.0;
    for &(name, ref_events, est_events) in &files {
        // The rolls are built at their own lengths, then padded or truncated to the
        // evaluated length; building straight at that length is the same.
        let latest = max_offset(ref_events).max(max_offset(est_events));
        let evaluated = lengths.of(name, latest)?;
        evaluated_length += evaluated;
        let len = (evaluated / time_resolution).ceil().max(0.0) as usize;
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
    let tally = Tally {
        classes,
        overall,
        class_counts,
        overall_er: er,
        n_files: files.len(),
        evaluated_length,
    };
    Ok(finish(tally, Metric::SegmentBased { time_resolution }))
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
    /// `event_matching_type`.
    pub matching: Matching,
}

/// How reference and system events are paired (`event_matching_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// The maximum bipartite matching (sed_eval's default since 0.2.0).
    Optimal,
    /// Each reference event takes the first free system event that fits (sed_eval < 0.2).
    Greedy,
}

impl EventParams {
    /// sed_eval's own checks of the constructor arguments.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(super::MetricsError::Parameter(m));
        if self.t_collar.is_nan() || self.t_collar <= 0.0 {
            return bad(format!("t_collar must be > 0, got {}", self.t_collar));
        }
        if !(0.0..=1.0).contains(&self.percentage_of_length) {
            return bad(format!(
                "percentage_of_length must be in [0, 1], got {}",
                self.percentage_of_length
            ));
        }
        if !self.evaluate_onset && !self.evaluate_offset {
            return bad("evaluate_onset and evaluate_offset cannot both be false".into());
        }
        Ok(())
    }
}

impl EventParams {
    /// The DESED baseline's event-based F1: 200 ms collar, 20 % of length, zero_score.
    pub const DESED: EventParams = EventParams {
        t_collar: 0.2,
        percentage_of_length: 0.2,
        evaluate_onset: true,
        evaluate_offset: true,
        zero_score: true,
        matching: Matching::Optimal,
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

/// sed_eval's greedy matching: each reference event in order takes the first system event,
/// not yet taken, that `hit`s it; sorted (ref, est) pairs.
fn greedy_matching(
    n_ref: usize,
    n_est: usize,
    hit: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut taken = vec![false; n_est];
    let mut pairs = Vec::new();
    for j in 0..n_ref {
        if let Some(i) = (0..n_est).find(|&i| !taken[i] && hit(j, i)) {
            taken[i] = true;
            pairs.push((j, i));
        }
    }
    pairs
}

/// Event-based metrics (`EventBasedMetrics`; optimal or greedy matching).
pub fn event_based(
    reference: &StrongLabels,
    estimated: &StrongLabels,
    params: &EventParams,
    scope: FileScope<'_>,
) -> Result<SedEvalResult> {
    params.validate()?;
    let matching =
        |n_ref: usize, n_est: usize, hit: &dyn Fn(usize, usize) -> bool| match params.matching {
            Matching::Optimal => optimal_matching(n_ref, n_est, hit),
            Matching::Greedy => greedy_matching(n_ref, n_est, hit),
        };
    let classes = class_list(reference, estimated);
    let files = per_file(reference, estimated, scope);
    let mut overall = Counts::default();
    let mut class_counts = vec![Counts::default(); classes.len()];
    let mut evaluated_length = 0.0;
    for &(_, r, e) in &files {
        evaluated_length += max_offset(r);
        let fits =
            |j: usize, i: usize| onset_ok(&r[j], &e[i], params) && offset_ok(&r[j], &e[i], params);
        let pairs = matching(r.len(), e.len(), &|j, i| {
            r[j].label == e[i].label && fits(j, i)
        });
        let mut ref_correct = vec![false; r.len()];
        let mut sys_correct = vec![false; e.len()];
        for &(j, i) in &pairs {
            ref_correct[j] = true;
            sys_correct[i] = true;
        }
        let ntp = pairs.len() as f64;
        let mut nsubs = 0.0;
        let mut sys_counted = vec![false; e.len()];
        for j in (0..r.len()).filter(|&j| !ref_correct[j]) {
            for i in (0..e.len()).filter(|&i| !sys_correct[i]) {
                if !sys_counted[i] && fits(j, i) {
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
            let m = matching(rc.len(), ec.len(), &|j, i| {
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
    let tally = Tally {
        classes,
        overall,
        class_counts,
        overall_er: er,
        n_files: files.len(),
        evaluated_length,
    };
    Ok(finish(tally, Metric::EventBased(*params)))
}

/// `str(metrics)` of sed_eval's `SegmentBasedMetrics` / `EventBasedMetrics` after the same
/// evaluation: parameters, overall, class-wise average and class-wise tables, character for
/// character.
pub fn report(r: &SedEvalResult) -> String {
    use super::fancy::{data, line, section_header, Cell, Kind, Rows};
    let pct = |v: f64| Cell::Float(v * 100.0);
    let mut out = String::new();
    let mut push = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    let title = match r.metric {
        Metric::SegmentBased { .. } => "Segment based metrics",
        Metric::EventBased(p) => match (p.evaluate_onset, p.evaluate_offset) {
            (true, true) => "Event based metrics (onset-offset)",
            (true, false) => "Event based metrics (onset only)",
            (false, true) => "Event based metrics (offset only)",
            (false, false) => "Event based metrics",
        },
    };
    push(section_header(title, 0));
    // Parameters.
    push(data(
        "Evaluated length",
        Cell::Float(r.evaluated_length),
        Some("sec"),
        2,
    ));
    push(data(
        "Evaluated files",
        Cell::Int(r.n_files as i64),
        None,
        2,
    ));
    match r.metric {
        Metric::SegmentBased { time_resolution } => {
            push(if time_resolution < 1.0 {
                data(
                    "Segment length",
                    Cell::Float(time_resolution * 1000.0),
                    Some("ms"),
                    2,
                )
            } else {
                data(
                    "Segment length",
                    Cell::Float(time_resolution),
                    Some("sec"),
                    2,
                )
            });
        }
        Metric::EventBased(p) => {
            push(data(
                "Evaluate onset",
                Cell::Bool(p.evaluate_onset),
                None,
                2,
            ));
            push(data(
                "Evaluate offset",
                Cell::Bool(p.evaluate_offset),
                None,
                2,
            ));
            push(if p.t_collar < 1.0 {
                data("T collar", Cell::Float(p.t_collar * 1000.0), Some("ms"), 2)
            } else {
                data("T collar", Cell::Float(p.t_collar), Some("sec"), 2)
            });
            push(data(
                "Offset (length)",
                Cell::Float(p.percentage_of_length * 100.0),
                Some("%"),
                2,
            ));
        }
    }
    push(String::new());
    // Overall and class-wise average blocks share one layout.
    let block = |push: &mut dyn FnMut(String),
                 header: &str,
                 f: Option<&FScore>,
                 er: Option<&ErrorRate>,
                 with_subs: bool,
                 acc: Option<&Accuracy>| {
        push(section_header(header, 2));
        if let Some(f) = f {
            push(line("F-measure", 2));
            push(data("F-measure (F1)", pct(f.f_measure), Some("%"), 4));
            push(data("Precision", pct(f.precision), Some("%"), 4));
            push(data("Recall", pct(f.recall), Some("%"), 4));
        }
        if let Some(er) = er {
            push(line("Error rate", 2));
            push(data("Error rate (ER)", Cell::Float(er.error_rate), None, 4));
            if with_subs {
                push(data(
                    "Substitution rate",
                    Cell::Float(er.substitution_rate),
                    None,
                    4,
                ));
            }
            push(data(
                "Deletion rate",
                Cell::Float(er.deletion_rate),
                None,
                4,
            ));
            push(data(
                "Insertion rate",
                Cell::Float(er.insertion_rate),
                None,
                4,
            ));
        }
        if let Some(a) = acc {
            push(line("Accuracy", 2));
            push(data("Sensitivity", pct(a.sensitivity), Some("%"), 4));
            push(data("Specificity", pct(a.specificity), Some("%"), 4));
            push(data(
                "Balanced accuracy",
                pct(a.balanced_accuracy),
                Some("%"),
                4,
            ));
            push(data("Accuracy", pct(a.accuracy), Some("%"), 4));
        }
    };
    block(
        &mut push,
        "Overall metrics (micro-average)",
        Some(&r.overall_f),
        Some(&r.overall_er),
        true,
        r.overall_accuracy.as_ref(),
    );
    push(String::new());
    let any = !r.class_wise.is_empty();
    block(
        &mut push,
        "Class-wise average metrics (macro-average)",
        any.then_some(&r.class_wise_average_f),
        any.then_some(&r.class_wise_average_er),
        false,
        r.class_wise_average_accuracy.as_ref(),
    );
    push("  ".into());
    push(String::new());
    push(section_header("Class-wise metrics", 2));
    let with_acc = r.class_wise.iter().all(|c| c.accuracy.is_some());
    let mut headers = vec![
        "Event label",
        "Nref",
        "Nsys",
        "F",
        "Pre",
        "Rec",
        "ER",
        "Del",
        "Ins",
    ];
    let mut widths = vec![15, 8, 8, 9, 9, 9, 9, 9, 9];
    let mut separators = vec![true, false, true, false, false, true, false, false, true];
    let mut kinds = vec![Kind::Str(Some(15)), Kind::Int, Kind::Int];
    kinds.extend([Kind::Percentage(1); 3]);
    kinds.extend([Kind::Float(2); 3]);
    if with_acc {
        headers.extend(["Sens", "Spec", "Bacc", "Acc"]);
        widths.extend([9; 4]);
        separators.extend([false; 4]);
        kinds.extend([Kind::Percentage(1); 4]);
    }
    let mut rows = Rows::default();
    push(rows.header(&headers, &widths, &separators, 4));
    push(rows.rule(headers.len()));
    for c in &r.class_wise {
        let mut cells = vec![
            Cell::Str(&c.label),
            Cell::Float(c.n_ref),
            Cell::Float(c.n_sys),
            pct(c.f.f_measure),
            pct(c.f.precision),
            pct(c.f.recall),
            Cell::Float(c.er.error_rate),
            Cell::Float(c.er.deletion_rate),
            Cell::Float(c.er.insertion_rate),
        ];
        if let (true, Some(a)) = (with_acc, &c.accuracy) {
            cells.extend([
                pct(a.sensitivity),
                pct(a.specificity),
                pct(a.balanced_accuracy),
                pct(a.accuracy),
            ]);
        }
        push(rows.typed(&cells, &kinds));
    }
    push(String::new());
    out
}
