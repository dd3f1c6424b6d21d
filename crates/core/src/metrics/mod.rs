//! Evaluation metrics that agree with the Python reference packages to 1e-9 on the same input,
//! quirks included.
//!
//! - [`tagging`]: per-class average precision and ROC-AUC as scikit-learn computes them, d′ as
//!   PANNs computes it, lwlrap (DCASE 2019 Task 2).
//! - [`sed_eval`]: segment-based and event-based F and error rate of `sed_eval` 0.2.1.
//! - [`psds_eval`]: PSDS over operating points, and the intersection-based macro F, of
//!   `psds_eval` 0.5.3.
//! - [`sed_scores`]: threshold-independent PSDS and intersection-based F of `sed_scores_eval`,
//!   bootstrapped PSDS, and post-processing-independent PSDS (piPSDS).
//! - [`postprocessing`]: `sed_scores_eval`'s continuous-time median filter of score tables.
//! - [`segments`]: `sed_scores_eval.clip_based`, `segment_based` and `collar_based`: AP,
//!   ROC-AUC, best F and error rates over every threshold.
//! - [`scenes`]: accuracy, class-wise accuracy (`sed_eval.scene`) and log loss (scikit-learn).
//!
//! Each module says which function of which package it matches and which traps it reproduces.
//! The [`PsdsParams`] presets are the DCASE 2021–2024 PSDS1/PSDS2 scenarios.

pub mod audio_tag;
pub mod bootstrap;
pub mod fancy;
pub mod postprocessing;
pub mod psds_eval;
pub mod scenes;
pub mod sed_eval;
pub mod sed_scores;
pub mod segments;
pub mod tagging;

/// Errors from computing a metric on inputs that the reference package would also reject.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Inputs have inconsistent shapes (rows, classes, lengths).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A value that must be finite (a score, a time) is NaN or infinite.
    #[error("non-finite value: {0}")]
    NonFinite(String),
    /// A parameter is out of range (a threshold outside [0, 1], a non-positive max eFPR).
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// An event ends before it starts.
    #[error("{file}: {label} event ends ({offset}) before it starts ({onset})")]
    BadInterval {
        /// Filename or clip id.
        file: String,
        /// Event label.
        label: String,
        /// Onset, seconds.
        onset: f64,
        /// Offset, seconds.
        offset: f64,
    },
    /// Two same-class events of one clip overlap (psds_eval) or overlap/touch (sed_scores_eval
    /// ground truth).
    #[error("{file}: {label} events overlap or touch ({detail}); merge them first (eval sed --merge-overlapping)")]
    Overlap {
        /// Filename or clip id.
        file: String,
        /// Event label.
        label: String,
        /// The two intervals.
        detail: String,
    },
    /// A class has no ground-truth events, so its recall is undefined (sed_scores_eval refuses).
    #[error("no ground-truth events for class(es): {0}")]
    NoGroundTruth(String),
    /// Clip ids of scores, ground truth and durations differ (sed_scores_eval refuses).
    #[error("clip ids differ: {0}")]
    Ids(String),
    /// A label not in the class list.
    #[error("unknown label '{0}'")]
    UnknownLabel(String),
    /// Nothing to evaluate.
    #[error("empty input: {0}")]
    Empty(String),
}

/// `Result` with [`MetricsError`].
pub type Result<T> = std::result::Result<T, MetricsError>;

/// Parameters of the Polyphonic Sound Detection Score (Bilen et al., ICASSP 2020).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PsdsParams {
    /// Detection tolerance criterion.
    pub dtc: f64,
    /// Ground-truth intersection criterion.
    pub gtc: f64,
    /// Cross-trigger tolerance criterion (used only when `alpha_ct > 0`).
    pub cttc: f64,
    /// Weight of the cross-trigger rate in the effective FPR.
    pub alpha_ct: f64,
    /// Weight of the across-class standard deviation subtracted from the mean TPR.
    pub alpha_st: f64,
    /// Upper end of the eFPR range (per `unit_of_time`) the area is taken over.
    pub max_efpr: f64,
    /// The unit false positives are counted per (sed_scores_eval's `unit_of_time`; psds_eval
    /// counts per hour only).
    pub unit_of_time: TimeUnit,
    /// Decimals times are rounded to before the tolerance criteria are compared
    /// (sed_scores_eval's `time_decimals`, 6; psds_eval does not round).
    pub time_decimals: i32,
}

/// sed_scores_eval's `unit_of_time`: what an eFPR is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour (DCASE's).
    Hour,
}

impl TimeUnit {
    /// Seconds in one unit (`seconds_per_unit_of_time`).
    pub fn seconds(self) -> f64 {
        match self {
            TimeUnit::Second => 1.0,
            TimeUnit::Minute => 60.0,
            TimeUnit::Hour => 3600.0,
        }
    }
}

impl std::str::FromStr for TimeUnit {
    type Err = MetricsError;
    fn from_str(s: &str) -> Result<TimeUnit> {
        match s {
            "second" => Ok(TimeUnit::Second),
            "minute" => Ok(TimeUnit::Minute),
            "hour" => Ok(TimeUnit::Hour),
            _ => Err(MetricsError::Parameter(format!(
                "invalid unit_of_time {s}: valid units are second, minute, hour"
            ))),
        }
    }
}

impl PsdsParams {
    /// DCASE 2021–2024 Task 4 scenario 1: dtc = gtc = 0.7, α_ct = 0, α_st = 1, max eFPR 100/h.
    pub const PSDS1: PsdsParams = PsdsParams {
        dtc: 0.7,
        gtc: 0.7,
        cttc: 0.3,
        alpha_ct: 0.0,
        alpha_st: 1.0,
        max_efpr: 100.0,
        unit_of_time: TimeUnit::Hour,
        time_decimals: 6,
    };
    /// DCASE 2021–2024 Task 4 scenario 2: dtc = gtc = 0.1, cttc = 0.3, α_ct = 0.5, α_st = 1.
    pub const PSDS2: PsdsParams = PsdsParams {
        dtc: 0.1,
        gtc: 0.1,
        cttc: 0.3,
        alpha_ct: 0.5,
        alpha_st: 1.0,
        max_efpr: 100.0,
        unit_of_time: TimeUnit::Hour,
        time_decimals: 6,
    };
    /// DCASE 2020 Task 4 "PSDS": dtc = gtc = 0.5, cttc = 0.3, α_ct = α_st = 0.
    pub const DCASE2020: PsdsParams = PsdsParams {
        dtc: 0.5,
        gtc: 0.5,
        cttc: 0.3,
        alpha_ct: 0.0,
        alpha_st: 0.0,
        max_efpr: 100.0,
        unit_of_time: TimeUnit::Hour,
        time_decimals: 6,
    };

    /// Check the parameters as psds_eval does (thresholds and α_ct in [0, 1], α_st ≥ 0,
    /// max_efpr > 0).
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("dtc", self.dtc), ("gtc", self.gtc), ("cttc", self.cttc)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(MetricsError::Parameter(format!(
                    "{name} must be between 0 and 1, got {v}"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.alpha_ct) {
            return Err(MetricsError::Parameter(format!(
                "alpha_ct must be between 0 and 1, got {}",
                self.alpha_ct
            )));
        }
        if self.alpha_st < 0.0 || !self.alpha_st.is_finite() {
            return Err(MetricsError::Parameter(format!(
                "alpha_st must be >= 0, got {}",
                self.alpha_st
            )));
        }
        if !(0..=15).contains(&self.time_decimals) {
            return Err(MetricsError::Parameter(format!(
                "time_decimals must be between 0 and 15, got {}",
                self.time_decimals
            )));
        }
        if self.max_efpr <= 0.0 || !self.max_efpr.is_finite() {
            return Err(MetricsError::Parameter(format!(
                "max_efpr must be > 0, got {}",
                self.max_efpr
            )));
        }
        Ok(())
    }
}

/// A PSD-ROC: effective FPR (per hour) and effective TPR, as a staircase (the TPR holds from
/// each x to the next).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PsdRoc {
    /// eFPR values, ascending.
    pub efpr: Vec<f64>,
    /// eTPR at each eFPR.
    pub etpr: Vec<f64>,
}

/// `np.round(x, decimals)`: scale, round half to even, unscale (sed_scores_eval's
/// `time_decimals` rounding everywhere).
pub(crate) fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round_ties_even() / scale
}

/// Arithmetic mean (NaN for an empty slice, as `np.mean`).
pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// `np.nanmean`: mean of the non-NaN values; NaN if there are none.
pub(crate) fn nanmean(values: &[f64]) -> f64 {
    let kept: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    mean(&kept)
}

/// Population standard deviation (`np.std`, ddof = 0).
pub(crate) fn std_pop(values: &[f64]) -> f64 {
    let m = mean(values);
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64).sqrt()
}
