//! Clip-level tagging metrics: per-class average precision and ROC-AUC with scikit-learn's
//! semantics (`sklearn.metrics.average_precision_score` / `roc_auc_score`, 1.9), mAP and mAUC
//! as PANNs averages them (`audioset_tagging_cnn:pytorch/evaluate.py`), d′ as PANNs computes it
//! (`utils/utilities.py::d_prime` on the **mean** AUC), and lwlrap (DCASE 2019 Task 2,
//! `calculate_per_class_lwlrap`).
//!
//! Traps handled: tied scores form one threshold (one precision–recall point), so AP is not a
//! per-item running sum; a class without positives gets AP 0.0 (modern scikit-learn: recall is
//! "one for all thresholds") and stays in the mean, while its AUC is undefined: scikit-learn
//! 1.9 returns NaN with a warning (older releases raised), so PANNs' `np.mean` makes mAUC and d′
//! NaN as soon as one class lacks positives or negatives — reproduced, with the mean over the
//! classes that have an AUC reported beside it; d′ comes from the mean AUC, not the mean of
//! per-class d′. lwlrap ties: the reference ranks by `argsort` order; here tied classes rank
//! higher-index first, which is what that `argsort` gives for up to 16 classes (insertion sort,
//! stable) — with more classes and ties, the reference itself is arbitrary.

use super::{MetricsError, Result};

/// Descending distinct-threshold statistics of one class: (true positives, false positives)
/// cumulated at the last item of each group of tied scores, as sklearn's
/// `_binary_clf_curve`.
pub(crate) fn clf_curve(truth: &[bool], scores: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if truth[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_group = k + 1 == order.len() || scores[order[k + 1]] != scores[i];
        if last_of_group {
            out.push((tp, fp));
        }
    }
    out
}

fn check(truth: &[bool], scores: &[f64]) -> Result<()> {
    if truth.len() != scores.len() {
        return Err(MetricsError::Shape(format!(
            "{} labels but {} scores",
            truth.len(),
            scores.len()
        )));
    }
    if truth.is_empty() {
        return Err(MetricsError::Empty("no clips".into()));
    }
    if let Some(v) = scores.iter().find(|v| v.is_nan()) {
        return Err(MetricsError::NonFinite(format!("score {v}")));
    }
    Ok(())
}

/// Average precision of one class (`average_precision_score`): Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct
/// thresholds, descending. No positives → 0.0.
pub fn average_precision(truth: &[bool], scores: &[f64]) -> Result<f64> {
    check(truth, scores)?;
    let curve = clf_curve(truth, scores);
    let total_pos = curve.last().map_or(0.0, |c| c.0);
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for &(tp, fp) in &curve {
        let precision = tp / (tp + fp);
        let recall = if total_pos > 0.0 { tp / total_pos } else { 1.0 };
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

/// Area under the ROC curve of one class (`roc_auc_score`, trapezoids); NaN when only one
/// label value is present in `truth`, as scikit-learn 1.9 returns.
pub fn roc_auc(truth: &[bool], scores: &[f64]) -> Result<f64> {
    check(truth, scores)?;
    let curve = clf_curve(truth, scores);
    let (total_tp, total_fp) = *curve.last().expect("non-empty");
    if total_tp == 0.0 || total_fp == 0.0 {
        return Ok(f64::NAN);
    }
    let mut area = 0.0;
    let (mut x0, mut y0) = (0.0, 0.0);
    for &(tp, fp) in &curve {
        let (x1, y1) = (fp / total_fp, tp / total_tp);
        area += (x1 - x0) * (y1 + y0) / 2.0;
        x0 = x1;
        y0 = y1;
    }
    Ok(area)
}

/// erf(x) for x ≥ 0 by the all-positive series erf(x) = 2x/√π·e^{−x²}·Σ (2x²)ⁿ/(1·3·…·(2n+1)),
/// which loses no digits to cancellation.
pub(crate) fn erf_nonneg(x: f64) -> f64 {
    if x > 6.0 {
        return 1.0;
    }
    let two_x2 = 2.0 * x * x;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut n = 0.0;
    while term > sum * 1e-17 {
        n += 1.0;
        term *= two_x2 / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 * x / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

/// Standard normal CDF.
fn normal_cdf(x: f64) -> f64 {
    if x >= 0.0 {
        0.5 * (1.0 + erf_nonneg(x / std::f64::consts::SQRT_2))
    } else {
        0.5 * (1.0 - erf_nonneg(-x / std::f64::consts::SQRT_2))
    }
}

/// Inverse standard normal CDF (`scipy.stats.norm.ppf`): Acklam's rational approximation
/// refined by Newton steps on the exact CDF.
pub fn normal_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let low = 0.02425;
    let mut x = if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    for _ in 0..3 {
        let density = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        if density == 0.0 {
            break;
        }
        x -= (normal_cdf(x) - p) / density;
    }
    x
}

/// d′ = √2·Φ⁻¹(AUC) (PANNs `d_prime`).
pub fn d_prime(auc: f64) -> f64 {
    normal_ppf(auc) * std::f64::consts::SQRT_2
}

/// lwlrap: overall value, per-class values, and per-class weights (share of positive labels).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Lwlrap {
    /// Label-weighted label-ranking average precision.
    pub overall: f64,
    /// Per-class lwlrap (NaN for a class without positives).
    pub per_class: Vec<f64>,
    /// Per-class weight = positives of the class / all positives.
    pub weights: Vec<f64>,
}

/// lwlrap over clips × classes (`truth[clip][class]`).
pub fn lwlrap(truth: &[Vec<bool>], scores: &[Vec<f64>]) -> Result<Lwlrap> {
    check_matrix(truth, scores)?;
    let n_classes = truth[0].len();
    let mut precision_sum = vec![0.0; n_classes];
    let mut positives = vec![0.0; n_classes];
    for (t, s) in truth.iter().zip(scores) {
        if !t.iter().any(|&x| x) {
            continue;
        }
        // Rank: descending score, ties higher class index first (reversed stable argsort).
        let mut order: Vec<usize> = (0..n_classes).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(b.cmp(&a)));
        let mut hits = 0.0;
        for (rank, &c) in order.iter().enumerate() {
            if t[c] {
                hits += 1.0;
                precision_sum[c] += hits / (rank as f64 + 1.0);
                positives[c] += 1.0;
            }
        }
    }
    let total: f64 = positives.iter().sum();
    if total == 0.0 {
        return Err(MetricsError::Empty("no positive labels".into()));
    }
    let per_class: Vec<f64> = precision_sum
        .iter()
        .zip(&positives)
        .map(|(s, n)| s / n)
        .collect();
    let weights: Vec<f64> = positives.iter().map(|n| n / total).collect();
    let overall = per_class
        .iter()
        .zip(&weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(p, w)| p * w)
        .sum();
    Ok(Lwlrap {
        overall,
        per_class,
        weights,
    })
}

fn check_matrix(truth: &[Vec<bool>], scores: &[Vec<f64>]) -> Result<()> {
    if truth.len() != scores.len() {
        return Err(MetricsError::Shape(format!(
            "{} label rows but {} score rows",
            truth.len(),
            scores.len()
        )));
    }
    let Some(first) = truth.first() else {
        return Err(MetricsError::Empty("no clips".into()));
    };
    let n = first.len();
    if n == 0 {
        return Err(MetricsError::Empty("no classes".into()));
    }
    for (i, (t, s)) in truth.iter().zip(scores).enumerate() {
        if t.len() != n || s.len() != n {
            return Err(MetricsError::Shape(format!(
                "row {i}: {} labels and {} scores, expected {n}",
                t.len(),
                s.len()
            )));
        }
    }
    Ok(())
}

/// Everything `earshot eval tagging` reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaggingResult {
    /// Number of clips.
    pub n_clips: usize,
    /// Per-class AP.
    pub ap: Vec<f64>,
    /// Mean of all per-class APs (classes without positives count as 0, as sklearn + np.mean).
    pub map: f64,
    /// Per-class AUC (NaN where the class has no positives or no negatives).
    pub auc: Vec<f64>,
    /// Mean over all classes (`np.mean`: NaN if any class AUC is NaN), as PANNs reports.
    pub mauc: f64,
    /// d′ of the mean AUC (PANNs).
    pub d_prime: f64,
    /// Mean AUC over the classes where it is defined.
    pub mauc_defined: f64,
    /// d′ of `mauc_defined`.
    pub d_prime_defined: f64,
    /// Classes whose AUC is undefined (no positives or no negatives).
    pub classes_without_auc: usize,
    /// lwlrap.
    pub lwlrap: Lwlrap,
    /// Classes without any positive clip.
    pub classes_without_positives: usize,
}

/// Per-class AP/AUC, mAP, mAUC, d′ and lwlrap on a clips × classes matrix.
pub fn evaluate(truth: &[Vec<bool>], scores: &[Vec<f64>]) -> Result<TaggingResult> {
    check_matrix(truth, scores)?;
    let n_classes = truth[0].len();
    let mut ap = Vec::with_capacity(n_classes);
    let mut auc = Vec::with_capacity(n_classes);
    let mut without = 0;
    for c in 0..n_classes {
        let t: Vec<bool> = truth.iter().map(|r| r[c]).collect();
        let s: Vec<f64> = scores.iter().map(|r| r[c]).collect();
        if !t.iter().any(|&x| x) {
            without += 1;
        }
        ap.push(average_precision(&t, &s)?);
        auc.push(roc_auc(&t, &s)?);
    }
    let mauc = super::mean(&auc);
    let mauc_defined = super::nanmean(&auc);
    let lw = if without == n_classes {
        Lwlrap {
            overall: f64::NAN,
            per_class: vec![f64::NAN; n_classes],
            weights: vec![0.0; n_classes],
        }
    } else {
        lwlrap(truth, scores)?
    };
    Ok(TaggingResult {
        n_clips: truth.len(),
        map: super::mean(&ap),
        ap,
        mauc,
        d_prime: d_prime(mauc),
        mauc_defined,
        d_prime_defined: d_prime(mauc_defined),
        classes_without_auc: auc.iter().filter(|a| a.is_nan()).count(),
        auc,
        lwlrap: lw,
        classes_without_positives: without,
    })
}
