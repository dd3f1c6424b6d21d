//! Acoustic scene classification (DCASE Task 1): accuracy and class-wise accuracy as
//! `sed_eval.scene.SceneClassificationMetrics` (0.2.1) computes them, and log loss as
//! `sklearn.metrics.log_loss` (1.9).
//!
//! Traps handled: the DCASE "accuracy" is the **macro** average of class-wise accuracy
//! (`class_wise_average`, plain mean over all scene labels, a class-wise accuracy being
//! Ncorr/(Nref + ε) with ε = `numpy.spacing(1)`), not sed_eval's overall accuracy
//! (Ncorr/Nsys), which is also reported. Log loss clips probabilities to [ε, 1 − ε] with ε the
//! float64 machine epsilon (scikit-learn ≥ 1.5; older releases used 1e-15) and does **not**
//! renormalise rows (current scikit-learn only warns); the probability columns are in sorted
//! label order, as scikit-learn's label binarizer assumes.

use super::{MetricsError, Result};

const EPS: f64 = f64::EPSILON; // numpy.spacing(1) == finfo(float64).eps

/// (label, class-wise accuracy, Nref, Ncorr) of one class.
pub type ClassAccuracy = (String, f64, usize, usize);

/// Scene classification results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SceneResult {
    /// Items evaluated.
    pub n_items: usize,
    /// sed_eval `overall.accuracy` = Ncorr / Nsys.
    pub overall_accuracy: f64,
    /// Macro average of class-wise accuracy (the DCASE Task 1 "accuracy").
    pub macro_accuracy: f64,
    /// (label, accuracy, Nref, Ncorr) per class, in the given class order.
    pub class_wise: Vec<ClassAccuracy>,
    /// Log loss over all items, when probabilities were given.
    pub log_loss: Option<f64>,
    /// Log loss over the items of each class (same order), when probabilities were given.
    pub class_wise_log_loss: Option<Vec<f64>>,
}

/// Accuracy figures from reference and estimated labels (parallel slices).
pub fn accuracy(
    classes: &[String],
    reference: &[&str],
    estimated: &[&str],
) -> Result<(f64, f64, Vec<ClassAccuracy>)> {
    if reference.len() != estimated.len() {
        return Err(MetricsError::Shape(format!(
            "{} references but {} estimates",
            reference.len(),
            estimated.len()
        )));
    }
    if reference.is_empty() {
        return Err(MetricsError::Empty("no items".into()));
    }
    let mut class_wise = Vec::with_capacity(classes.len());
    for c in classes {
        let n_ref = reference.iter().filter(|r| **r == c.as_str()).count();
        let n_corr = reference
            .iter()
            .zip(estimated)
            .filter(|(r, e)| **r == c.as_str() && **e == c.as_str())
            .count();
        class_wise.push((
            c.clone(),
            n_corr as f64 / (n_ref as f64 + EPS),
            n_ref,
            n_corr,
        ));
    }
    let n_corr = reference
        .iter()
        .zip(estimated)
        .filter(|(r, e)| r == e)
        .count();
    let overall = n_corr as f64 / estimated.len() as f64;
    let acc: Vec<f64> = class_wise.iter().map(|c| c.1).collect();
    Ok((overall, super::mean(&acc), class_wise))
}

/// Log loss of one item set: mean of −ln(clip(p_true, ε, 1 − ε)). `probabilities[i]` has one
/// column per class of `classes` (sorted label order); values outside [0, 1] are rejected as
/// scikit-learn does.
pub fn log_loss(classes: &[String], reference: &[&str], probabilities: &[Vec<f64>]) -> Result<f64> {
    if reference.len() != probabilities.len() {
        return Err(MetricsError::Shape(format!(
            "{} references but {} probability rows",
            reference.len(),
            probabilities.len()
        )));
    }
    if reference.is_empty() {
        return Err(MetricsError::Empty("no items".into()));
    }
    let mut total = 0.0;
    for (r, p) in reference.iter().zip(probabilities) {
        if p.len() != classes.len() {
            return Err(MetricsError::Shape(format!(
                "{} probabilities for {} classes",
                p.len(),
                classes.len()
            )));
        }
        if let Some(v) = p.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(MetricsError::Parameter(format!(
                "probability {v} outside [0, 1]"
            )));
        }
        let k = classes
            .iter()
            .position(|c| c == r)
            .ok_or_else(|| MetricsError::UnknownLabel(r.to_string()))?;
        total += -p[k].clamp(EPS, 1.0 - EPS).ln();
    }
    Ok(total / reference.len() as f64)
}

/// Accuracy, class-wise accuracy and (with probabilities) overall and class-wise log loss.
pub fn evaluate(
    classes: &[String],
    reference: &[&str],
    estimated: &[&str],
    probabilities: Option<&[Vec<f64>]>,
) -> Result<SceneResult> {
    let (overall_accuracy, macro_accuracy, class_wise) = accuracy(classes, reference, estimated)?;
    let (log_loss_all, class_wise_log_loss) = match probabilities {
        None => (None, None),
        Some(p) => {
            let all = log_loss(classes, reference, p)?;
            let mut per_class = Vec::with_capacity(classes.len());
            for c in classes {
                let idx: Vec<usize> = (0..reference.len())
                    .filter(|&i| reference[i] == c.as_str())
                    .collect();
                if idx.is_empty() {
                    per_class.push(f64::NAN);
                    continue;
                }
                let refs: Vec<&str> = idx.iter().map(|&i| reference[i]).collect();
                let probs: Vec<Vec<f64>> = idx.iter().map(|&i| p[i].clone()).collect();
                per_class.push(log_loss(classes, &refs, &probs)?);
            }
            (Some(all), Some(per_class))
        }
    };
    Ok(SceneResult {
        n_items: reference.len(),
        overall_accuracy,
        macro_accuracy,
        class_wise,
        log_loss: log_loss_all,
        class_wise_log_loss,
    })
}

/// `sed_eval.test.mcnemar(reference, estimated_a, estimated_b)`: McNemar's statistic with
/// Edwards' continuity correction, (|b − c| − 1)² / (b + c), where b counts the items only
/// system B gets right and c those only A gets right; 0 when they never differ.
pub fn mcnemar(reference: &[&str], a: &[&str], b: &[&str]) -> Result<f64> {
    if reference.len() != a.len() || reference.len() != b.len() {
        return Err(MetricsError::Shape(format!(
            "{} references, {} and {} estimates",
            reference.len(),
            a.len(),
            b.len()
        )));
    }
    let (mut only_b, mut only_a) = (0.0_f64, 0.0_f64);
    for ((r, x), y) in reference.iter().zip(a).zip(b) {
        match (x == r, y == r) {
            (false, true) => only_b += 1.0,
            (true, false) => only_a += 1.0,
            _ => {}
        }
    }
    Ok(if only_b + only_a > 0.0 {
        let d: f64 = (only_b - only_a).abs() - 1.0;
        d * d / (only_b + only_a)
    } else {
        0.0
    })
}

/// The p-value of a McNemar statistic: the χ² (1 degree of freedom) survival function,
/// erfc(√(x/2)), as `scipy.stats.chi2.sf(x, 1)`.
pub fn chi2_sf_1(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    1.0 - super::tagging::erf_nonneg((x / 2.0).sqrt())
}

/// `str(SceneClassificationMetrics)` after the same evaluation, character for character.
pub fn report(r: &SceneResult) -> String {
    use super::fancy::{data, line, section_header, Cell, Kind, Rows};
    let mut out = String::new();
    let mut push = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    push(section_header("Scene classification metrics", 0));
    push(data(
        "Scene labels",
        Cell::Int(r.class_wise.len() as i64),
        None,
        2,
    ));
    push(data(
        "Evaluated units",
        Cell::Int(r.n_items as i64),
        None,
        2,
    ));
    push(String::new());
    push(section_header(
        "Class-wise average metrics (macro-average)",
        2,
    ));
    push(line("Accuracy", 2));
    push(data(
        "Accuracy",
        Cell::Float(r.macro_accuracy * 100.0),
        Some("%"),
        4,
    ));
    push(String::new());
    push(section_header("Class-wise metrics", 2));
    let mut rows = Rows::default();
    push(rows.header(
        &["Scene label", "Ncorr", "Nref", "Accuracy"],
        &[20, 12, 12, 12],
        &[true, false, true, false],
        4,
    ));
    push(rows.rule(4));
    for (label, acc, n_ref, n_corr) in &r.class_wise {
        push(rows.typed(
            &[
                Cell::Str(label),
                Cell::Int(*n_corr as i64),
                Cell::Int(*n_ref as i64),
                Cell::Float(acc * 100.0),
            ],
            &[Kind::Str(None), Kind::Int, Kind::Int, Kind::Percentage(1)],
        ));
    }
    push(String::new());
    out
}
