//! Analysis windows, computed in `f64` the way the reference packages compute them.
//!
//! `scipy.signal.get_window('hann', n, fftbins=True)` (librosa, torchlibrosa, kapre) is the
//! *periodic* Hann window; `torch.hann_window(n, periodic=False)` (PaSST's `AugmentMelSTFT`,
//! `torchaudio.compliance.kaldi`) is the *symmetric* one. Mixing them up shifts every bin by
//! up to a few hundredths of a dB, so each front end names the one it needs. Kaldi's Povey
//! window is the symmetric Hann raised to 0.85, and its Hamming is symmetric with 0.54/0.46.

use std::f64::consts::PI;

/// Window shapes the front ends use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowKind {
    /// Hann, periodic (`fftbins=True`): 0.5 − 0.5·cos(2πn/N).
    HannPeriodic,
    /// Hann, symmetric: 0.5 − 0.5·cos(2πn/(N−1)).
    HannSymmetric,
    /// Hamming, symmetric (Kaldi): 0.54 − 0.46·cos(2πn/(N−1)).
    Hamming,
    /// Kaldi's Povey window: symmetric Hann to the power 0.85.
    Povey,
    /// All ones.
    Rectangular,
}

/// The window of `len` samples.
pub fn window(kind: WindowKind, len: usize) -> Vec<f64> {
    let cosine = |a: f64, b: f64, denom: usize| -> Vec<f64> {
        if len == 1 {
            return vec![1.0];
        }
        (0..len)
            .map(|n| a - b * (2.0 * PI * n as f64 / denom as f64).cos())
            .collect()
    };
    match kind {
        WindowKind::HannPeriodic => cosine(0.5, 0.5, len),
        WindowKind::HannSymmetric => cosine(0.5, 0.5, len.saturating_sub(1)),
        WindowKind::Hamming => cosine(0.54, 0.46, len.saturating_sub(1)),
        WindowKind::Povey => cosine(0.5, 0.5, len.saturating_sub(1))
            .into_iter()
            .map(|w| w.powf(0.85))
            .collect(),
        WindowKind::Rectangular => vec![1.0; len],
    }
}

/// Centre `win` in `n_fft` samples with zeros either side (`librosa.util.pad_center`,
/// `torch.stft`'s window padding): the left pad is `(n_fft − len) / 2`, rounded down.
///
/// # Panics
/// When the window is longer than `n_fft`.
pub fn pad_center(win: &[f64], n_fft: usize) -> Vec<f64> {
    assert!(win.len() <= n_fft, "window longer than n_fft");
    let left = (n_fft - win.len()) / 2;
    let mut out = vec![0.0; n_fft];
    out[left..left + win.len()].copy_from_slice(win);
    out
}

/// Round every value to `f32` and back, for references that store their window in float32.
pub fn round_to_f32(win: &mut [f64]) {
    for w in win {
        *w = *w as f32 as f64;
    }
}
