//! Audio tagging metrics as `sed_eval.audio_tag.AudioTaggingMetrics` (0.2.1) computes them:
//! per tag and overall (micro) F-measure, precision and recall from estimated tag lists, and
//! the equal error rate (`sed_eval.metric.equal_error_rate`, over scikit-learn's `roc_curve`
//! with `drop_intermediate=True`) from tag probabilities; the class-wise average is the
//! `nanmean` over tags.
//!
//! Traps reproduced: a tag without reference items has F, precision and recall `None` (left
//! out of the average) while one with reference items but no estimates has precision NaN; the
//! overall figures are `None` when no reference tags exist at all; EER walks the ROC points
//! with a leading (0, 0) repeated and ε = `numpy.spacing(1)`, and is NaN for a tag without
//! positives; the overall EER pools every (tag, file) pair in tag order.

use super::{nanmean, MetricsError, Result};

const EPS: f64 = f64::EPSILON;

/// One tag's (or the overall) results; `None` where sed_eval gives `None`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TagResult {
    /// The tag (`"overall"` for the micro average).
    pub label: String,
    /// Reference items with the tag.
    pub n_ref: f64,
    /// System items with the tag.
    pub n_sys: f64,
    /// F-measure.
    pub f_measure: Option<f64>,
    /// Precision.
    pub precision: Option<f64>,
    /// Recall.
    pub recall: Option<f64>,
    /// Equal error rate, when probabilities were given.
    pub eer: Option<f64>,
}

/// `AudioTaggingMetrics.results()`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AudioTagResult {
    /// Micro average.
    pub overall: TagResult,
    /// Per tag, in the given tag order.
    pub class_wise: Vec<TagResult>,
    /// nanmean over tags of F, precision, recall (those not `None`) and EER.
    pub class_wise_average: TagResult,
    /// Number of tags.
    pub n_tags: usize,
}

fn prf(tp: f64, nsys: f64, nref: f64) -> (Option<f64>, Option<f64>, Option<f64>) {
    if nref > 0.0 {
        let p = if nsys == 0.0 { f64::NAN } else { tp / nsys };
        let r = tp / nref;
        let f = if p == 0.0 && r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        };
        (Some(f), Some(p), Some(r))
    } else {
        (None, None, None)
    }
}

/// `sklearn.metrics.roc_curve(y_true, y_score, drop_intermediate=True)`: (fpr, tpr).
pub fn roc_curve(truth: &[bool], scores: &[f64]) -> (Vec<f64>, Vec<f64>) {
    // (tps, fps) at the last item of each group of tied scores, descending.
    let (mut tps, mut fps): (Vec<f64>, Vec<f64>) =
        super::tagging::clf_curve(truth, scores).into_iter().unzip();
    if fps.len() > 2 {
        let d2 = |v: &[f64], k: usize| (v[k + 2] - v[k + 1]) - (v[k + 1] - v[k]);
        let keep: Vec<usize> = (0..fps.len())
            .filter(|&k| {
                k == 0 || k + 1 == fps.len() || d2(&fps, k - 1) != 0.0 || d2(&tps, k - 1) != 0.0
            })
            .collect();
        fps = keep.iter().map(|&k| fps[k]).collect();
        tps = keep.iter().map(|&k| tps[k]).collect();
    }
    fps.insert(0, 0.0);
    tps.insert(0, 0.0);
    let (fl, tl) = (*fps.last().unwrap_or(&0.0), *tps.last().unwrap_or(&0.0));
    let fpr = fps
        .iter()
        .map(|&v| if fl <= 0.0 { f64::NAN } else { v / fl })
        .collect();
    let tpr = tps
        .iter()
        .map(|&v| if tl <= 0.0 { f64::NAN } else { v / tl })
        .collect();
    (fpr, tpr)
}

/// `sed_eval.metric.equal_error_rate(y_true, y_score)`.
pub fn equal_error_rate(truth: &[bool], scores: &[f64]) -> f64 {
    if !truth.iter().any(|&t| t) {
        return f64::NAN;
    }
    let (fpr, tpr) = roc_curve(truth, scores);
    let mut points = vec![(0.0, 0.0)];
    points.extend(fpr.into_iter().zip(tpr));
    let mut i = 0;
    for (k, p) in points.iter().enumerate() {
        i = k;
        if p.0 + EPS >= 1.0 - p.1 {
            break;
        }
    }
    // Python's points[i - 1] with i = 0 is the last point.
    let p1 = if i == 0 {
        points[points.len() - 1]
    } else {
        points[i - 1]
    };
    let p2 = points[i];
    if (p2.0 - p1.0).abs() < EPS {
        p1.0
    } else {
        let m = (p2.1 - p1.1) / (p2.0 - p1.0);
        let o = p1.1 - m * p1.0;
        (1.0 - o) / (1.0 + m)
    }
}

/// (filename, tag) → the system's probability, `None` when it gave none.
pub type Probabilities<'a> = &'a dyn Fn(&str, &str) -> Option<f64>;

/// Evaluate tag lists. `reference` and `estimated` are (filename, tags) per item; every
/// reference file needs an estimate (found by name). `probabilities`, when given, holds
/// (filename, tag) → probability for every reference file and tag. `tags` is the tag list.
pub fn evaluate(
    tags: &[String],
    reference: &[(String, Vec<String>)],
    estimated: Option<&[(String, Vec<String>)]>,
    probabilities: Option<Probabilities<'_>>,
) -> Result<AudioTagResult> {
    if estimated.is_none() && probabilities.is_none() {
        return Err(MetricsError::Empty(
            "nothing to evaluate: give estimated tags or tag probabilities".into(),
        ));
    }
    // Unique reference files in order; the first row of a file is its item.
    let mut files: Vec<&(String, Vec<String>)> = Vec::new();
    for item in reference {
        if !files.iter().any(|f| f.0 == item.0) {
            files.push(item);
        }
    }
    let est_of = |name: &str| -> Result<&Vec<String>> {
        let est = estimated.expect("estimated given");
        est.iter()
            .find(|(f, _)| f == name)
            .map(|(_, t)| t)
            .ok_or_else(|| MetricsError::Ids(format!("{name}: reference file has no estimate")))
    };
    let mut class_wise = Vec::with_capacity(tags.len());
    let (mut all_truth, mut all_scores) = (Vec::new(), Vec::new());
    let (mut o_ref, mut o_sys, mut o_tp) = (0.0, 0.0, 0.0);
    for tag in tags {
        let (mut nref, mut nsys, mut ntp) = (0.0, 0.0, 0.0);
        let (mut truth, mut scores) = (Vec::new(), Vec::new());
        for (file, ref_tags) in files.iter().map(|f| (&f.0, &f.1)) {
            let r = ref_tags.contains(tag);
            truth.push(r);
            if estimated.is_some() {
                let e = est_of(file)?.contains(tag);
                nref += f64::from(u8::from(r));
                nsys += f64::from(u8::from(e));
                ntp += f64::from(u8::from(r && e));
            }
            if let Some(p) = probabilities {
                let v = p(file, tag).ok_or_else(|| {
                    MetricsError::Ids(format!("{file}: no probability for tag {tag}"))
                })?;
                scores.push(v);
            }
        }
        let (f, p, r) = prf(ntp, nsys, nref);
        let eer = probabilities.map(|_| equal_error_rate(&truth, &scores));
        class_wise.push(TagResult {
            label: tag.clone(),
            n_ref: nref,
            n_sys: nsys,
            f_measure: f,
            precision: p,
            recall: r,
            eer,
        });
        o_ref += nref;
        o_sys += nsys;
        o_tp += ntp;
        all_truth.extend(truth);
        all_scores.extend(scores);
    }
    let (f, p, r) = prf(o_tp, o_sys, o_ref);
    let overall = TagResult {
        label: "overall".into(),
        n_ref: o_ref,
        n_sys: o_sys,
        f_measure: f,
        precision: p,
        recall: r,
        eer: (probabilities.is_some() && !all_scores.is_empty())
            .then(|| equal_error_rate(&all_truth, &all_scores)),
    };
    let avg = |f: fn(&TagResult) -> Option<f64>| {
        let v: Vec<f64> = class_wise.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| nanmean(&v))
    };
    let class_wise_average = TagResult {
        label: "class_wise_average".into(),
        n_ref: o_ref,
        n_sys: o_sys,
        f_measure: avg(|t| t.f_measure),
        precision: avg(|t| t.precision),
        recall: avg(|t| t.recall),
        eer: avg(|t| t.eer),
    };
    Ok(AudioTagResult {
        overall,
        class_wise,
        class_wise_average,
        n_tags: tags.len(),
    })
}

/// `str(AudioTaggingMetrics)` after the same evaluation, character for character.
pub fn report(r: &AudioTagResult) -> String {
    use super::fancy::{data, line, section_header, Cell, Kind, Rows};
    let pct = |v: Option<f64>| v.map_or(Cell::None, |v| Cell::Float(v * 100.0));
    let mut out = String::new();
    let mut push = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    push(section_header("Audio tagging metrics", 0));
    push(data("Tags", Cell::Int(r.n_tags as i64), None, 2));
    push(data(
        "Evaluated units",
        Cell::Int(r.overall.n_ref.trunc() as i64),
        None,
        2,
    ));
    push(String::new());
    for (header, t) in [
        ("Overall metrics (micro-average)", &r.overall),
        (
            "Class-wise average metrics (macro-average)",
            &r.class_wise_average,
        ),
    ] {
        push(section_header(header, 2));
        push(line("F-measure", 2));
        push(data("F-measure (F1)", pct(t.f_measure), Some("%"), 4));
        push(data("Precision", pct(t.precision), Some("%"), 4));
        push(data("Recall", pct(t.recall), Some("%"), 4));
        push(line("Equal error rate", 2));
        push(data("Equal error rate (EER)", pct(t.eer), Some("%"), 4));
        push(String::new());
    }
    push(section_header("Class-wise metrics", 2));
    let mut rows = Rows::default();
    push(rows.header(
        &["Tag", "Nref", "Nsys", "F-score", "Pre", "Rec", "EER"],
        &[20, 12, 12, 12, 12, 12, 12],
        &[true, false, true, false, false, true, false],
        4,
    ));
    push(rows.rule(7));
    let kinds = [
        Kind::Str(None),
        Kind::Int,
        Kind::Int,
        Kind::Percentage(1),
        Kind::Float(1),
        Kind::Float(1),
        Kind::Percentage(1),
    ];
    for t in &r.class_wise {
        push(rows.typed(
            &[
                Cell::Str(&t.label),
                Cell::Float(t.n_ref),
                Cell::Float(t.n_sys),
                pct(t.f_measure),
                pct(t.precision),
                pct(t.recall),
                pct(t.eer),
            ],
            &kinds,
        ));
    }
    push(String::new());
    out
}
