//! YAMNet's log-mel front end, as `tensorflow/models` `research/audioset/yamnet/features.py`
//! computes it with `params.py`'s values (the non-TFLite path):
//!
//! - `tf.signal.stft(waveform, frame_length=400, frame_step=160, fft_length=512)`: 25-ms frames
//!   every 10 ms at 16 kHz, no padding of the signal (whole frames only), each frame times a
//!   periodic Hann window of 400 samples and zero-padded *at its end* to 512 points; magnitude;
//! - `tf.signal.linear_to_mel_weight_matrix(64, 257, 16000, 125, 7500)`: triangles on the HTK mel
//!   scale (`1127 ln(1 + f/700)`) over the bin frequencies `linspace(0, 8000, 257)`, the DC bin
//!   zeroed ([`tf_mel`]);
//! - `log(mel + 0.001)`.
//!
//! The model (`yamnet_frames_model`) first pads the waveform with zeros to whole 0.96-s patches
//! ([`pad_waveform`]) and cuts the log-mel into 96-frame patches every 48 frames ([`patches`]).

use super::framing::{Framing, LeftPad, RightPad};
use super::mel::MelBank;
use super::stft::{Spectrum, Stft, Workspace};
use super::window::{window, WindowKind};
use super::FrameFeatures;

/// `params.py`: sample rate of the model's input.
pub const SAMPLE_RATE: u32 = 16000;
/// Samples per STFT frame: `round(16000 · 0.025)`.
pub const WINDOW: usize = 400;
/// Samples between frames: `round(16000 · 0.010)`.
pub const HOP: usize = 160;
/// `2^ceil(log2(400))`.
pub const N_FFT: usize = 512;
/// Mel bands.
pub const MEL_BANDS: usize = 64;
/// Frames per patch: `round(0.96 / 0.010)`.
pub const PATCH_FRAMES: usize = 96;
/// Frames between patches: `round(0.48 / 0.010)`.
pub const PATCH_HOP_FRAMES: usize = 48;
/// Seconds between patches.
pub const PATCH_HOP_SECONDS: f64 = 0.48;
/// Seconds per patch.
pub const PATCH_SECONDS: f64 = 0.96;
/// Lowest mel band edge, Hz.
pub const MEL_MIN_HZ: f64 = 125.0;
/// Highest mel band edge, Hz.
pub const MEL_MAX_HZ: f64 = 7500.0;
const LOG_OFFSET: f64 = 0.001;

/// Whole frames only (`tf.signal.stft` with `pad_end=False`).
pub fn framing() -> Framing {
    Framing {
        frame_len: WINDOW,
        hop: HOP,
        left: LeftPad::None,
        right: RightPad::None,
    }
}

/// `features.pad_waveform`: zeros at the end so that the log-mel has at least one patch and, past
/// the first, a whole number of patch hops. `min_num_samples` is
/// `int((0.96 + 0.025 − 0.010) · 16000)` in float64 = 15600, the hop `int(0.48 · 16000)` = 7680.
pub fn padded_len(n: usize) -> usize {
    let min_samples = ((PATCH_SECONDS + 0.025 - 0.010) * SAMPLE_RATE as f64) as usize;
    let hop = (PATCH_HOP_SECONDS * SAMPLE_RATE as f64) as usize;
    let n = n.max(min_samples);
    min_samples + (n - min_samples).div_ceil(hop) * hop
}

/// [`padded_len`] applied: the waveform with its zeros.
pub fn pad_waveform(samples: &[f32]) -> Vec<f32> {
    let mut padded = samples.to_vec();
    padded.resize(padded_len(samples.len()), 0.0);
    padded
}

/// Number of patches of a log-mel with `frames` frames (`tf.signal.frame`, no end padding).
pub fn n_patches(frames: usize) -> usize {
    if frames < PATCH_FRAMES {
        0
    } else {
        (frames - PATCH_FRAMES) / PATCH_HOP_FRAMES + 1
    }
}

/// The 96 × 64 patches of a log-mel (`frames × 64`, row-major), one after the other.
pub fn patches(logmel: &[f32], frames: usize) -> Vec<f32> {
    let n = n_patches(frames);
    let mut out = Vec::with_capacity(n * PATCH_FRAMES * MEL_BANDS);
    for p in 0..n {
        let start = p * PATCH_HOP_FRAMES * MEL_BANDS;
        out.extend_from_slice(&logmel[start..start + PATCH_FRAMES * MEL_BANDS]);
    }
    out
}

/// `tf.signal.linear_to_mel_weight_matrix(num_mel_bins, num_spectrogram_bins, sample_rate,
/// lower_edge_hertz, upper_edge_hertz)`: row `k` (bin `k`, frequency `k · nyquist / (bins − 1)`)
/// weights band `m` by `max(0, min(lower slope, upper slope))` of the triangle whose edges are
/// equally spaced on the HTK mel scale; bin 0 (DC) is all zero.
pub fn tf_mel(
    n_mels: usize,
    n_bins: usize,
    sample_rate: f64,
    low_hz: f64,
    high_hz: f64,
) -> MelBank {
    let mel = |hz: f64| 1127.0 * (1.0 + hz / 700.0).ln();
    let nyquist = sample_rate / 2.0;
    let (lo, hi) = (mel(low_hz), mel(high_hz));
    let edges: Vec<f64> = (0..n_mels + 2)
        .map(|i| lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)
        .collect();
    // Dense as mels × bins, the layout MelBank takes.
    let mut dense = vec![0.0; n_mels * n_bins];
    for k in 1..n_bins {
        let bin_mel = mel(nyquist * k as f64 / (n_bins - 1) as f64);
        for m in 0..n_mels {
            let (lower, center, upper) = (edges[m], edges[m + 1], edges[m + 2]);
            let rising = (bin_mel - lower) / (center - lower);
            let falling = (upper - bin_mel) / (upper - center);
            dense[m * n_bins + k] = rising.min(falling).max(0.0);
        }
    }
    MelBank::from_dense(&dense, n_mels, n_bins)
}

/// Per-frame YAMNet log-mel.
#[derive(Debug, Clone)]
pub struct YamnetFrames {
    window: Vec<f64>,
    stft: Stft,
    mel: MelBank,
}

impl Default for YamnetFrames {
    fn default() -> Self {
        YamnetFrames {
            window: window(WindowKind::HannPeriodic, WINDOW),
            // The window goes on the 400 samples, the zeros after it: TF's layout, not a
            // centred one (the magnitude would agree, the code would not say what TF does).
            stft: Stft::with_window(N_FFT, WindowKind::Rectangular, N_FFT),
            mel: tf_mel(
                MEL_BANDS,
                N_FFT / 2 + 1,
                SAMPLE_RATE as f64,
                MEL_MIN_HZ,
                MEL_MAX_HZ,
            ),
        }
    }
}

impl FrameFeatures for YamnetFrames {
    fn row_shape(&self) -> Vec<usize> {
        vec![MEL_BANDS]
    }

    fn process(&self, frame: &[f64], ws: &mut Workspace, out: &mut [f32]) {
        self.stft.prepare(ws);
        for ((x, &s), &w) in ws.input.iter_mut().zip(&frame[..WINDOW]).zip(&self.window) {
            *x = s * w;
        }
        ws.input[WINDOW..].fill(0.0);
        self.stft.transform(Spectrum::Magnitude, ws);
        ws.extra.resize(MEL_BANDS, 0.0);
        self.mel.apply(&ws.bins, &mut ws.extra);
        for (o, &e) in out.iter_mut().zip(&ws.extra) {
            *o = (e + LOG_OFFSET).ln() as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_to_whole_patch_hops() {
        // One patch for anything up to 0.975 s; then one more per 0.48 s started.
        assert_eq!(padded_len(0), 15600);
        assert_eq!(padded_len(15600), 15600);
        assert_eq!(padded_len(15601), 15600 + 7680);
        assert_eq!(padded_len(16000 * 10), 15600 + 19 * 7680);
        let frames = |n: usize| (n - WINDOW) / HOP + 1;
        assert_eq!(n_patches(frames(15600)), 1);
        assert_eq!(n_patches(frames(15600 + 7680)), 2);
    }

    #[test]
    fn mel_triangles_peak_at_one_and_skip_dc() {
        let bank = tf_mel(MEL_BANDS, 257, 16000.0, MEL_MIN_HZ, MEL_MAX_HZ).to_dense();
        assert!((0..MEL_BANDS).all(|m| bank[m * 257] == 0.0));
        let peak = bank.iter().copied().fold(0.0, f64::max);
        assert!(peak <= 1.0 && peak > 0.9);
    }
}
