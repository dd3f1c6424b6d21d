//! The PANNs log-mel front end: torchlibrosa's `Spectrogram` + `LogmelFilterBank` exactly as
//! `Cnn14` (audioset_tagging_cnn `pytorch/models.py`, panns_inference `models.py`) builds them:
//! periodic Hann of `window_size` samples, `center=True` with reflect padding, power
//! spectrogram, librosa's Slaney mel bank with Slaney norm (`melW`, stored in float32), and
//! `10·log10(max(x, amin)) − 10·log10(max(amin, ref))` with `amin = 1e-10`, `ref = 1.0` and no
//! `top_db` clipping. Output: frames × mel bins (the model's `(B, 1, T, 64)` without B and 1).
//!
//! Traps: torchlibrosa's conv1d STFT is a float32 DFT, whose rounding noise reaches a few
//! thousandths of a dB in bins far below the frame's peak; we compute the exact transform (see
//! [`super::stft`]). The reflect pad needs more than `n_fft / 2` samples, as in torch.

use super::framing::Framing;
use super::math::ln_floored;
use super::mel::{librosa_mel, MelBank, MelNorm, MelScale};
use super::stft::{Spectrum, Stft, Workspace};
use super::window::WindowKind;
use super::FrameFeatures;

/// 10·log10(x) = (10 / ln 10)·ln(x).
const DB_PER_NEPER: f64 = 10.0 / std::f64::consts::LN_10;

/// The arguments `Cnn14(sample_rate, window_size, hop_size, mel_bins, fmin, fmax, ...)` takes,
/// plus the ones every PANNs model hard-codes.
#[derive(Debug, Clone, PartialEq)]
pub struct PannsConfig {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// `window_size`: FFT size and window length.
    pub window_size: usize,
    /// `hop_size` in samples.
    pub hop_size: usize,
    /// `mel_bins`.
    pub mel_bins: usize,
    /// `fmin` in Hz.
    pub fmin: f64,
    /// `fmax` in Hz.
    pub fmax: f64,
    /// `amin` of `power_to_db`.
    pub amin: f64,
    /// `ref` of `power_to_db`.
    pub ref_value: f64,
}

impl PannsConfig {
    /// `Cnn14_mAP=0.431.pth` and the other 32 kHz models: 1024 / 320 / 64 mels, 50–14000 Hz.
    pub fn cnn14() -> Self {
        PannsConfig {
            sample_rate: 32000,
            window_size: 1024,
            hop_size: 320,
            mel_bins: 64,
            fmin: 50.0,
            fmax: 14000.0,
            amin: 1e-10,
            ref_value: 1.0,
        }
    }

    /// `Cnn14_16k`: 16 kHz, 512 / 160, 50–8000 Hz.
    pub fn cnn14_16k() -> Self {
        PannsConfig {
            sample_rate: 16000,
            window_size: 512,
            hop_size: 160,
            fmax: 8000.0,
            ..Self::cnn14()
        }
    }

    /// `Cnn14_8k`: 8 kHz, 256 / 80, 50–4000 Hz.
    pub fn cnn14_8k() -> Self {
        PannsConfig {
            sample_rate: 8000,
            window_size: 256,
            hop_size: 80,
            fmax: 4000.0,
            ..Self::cnn14()
        }
    }

    /// Framing: `center=True, pad_mode='reflect'`.
    pub fn framing(&self) -> Framing {
        Framing::centered_reflect(self.window_size, self.hop_size)
    }
}

/// Per-frame log-mel for PANNs.
#[derive(Debug, Clone)]
pub struct PannsFrames {
    stft: Stft,
    mel: MelBank,
    amin: f64,
    offset_db: f64,
}

impl PannsFrames {
    /// Build the STFT and mel bank of `config`.
    pub fn new(config: &PannsConfig) -> Self {
        PannsFrames {
            stft: Stft::with_window(
                config.window_size,
                WindowKind::HannPeriodic,
                config.window_size,
            ),
            mel: librosa_mel(
                config.sample_rate as f64,
                config.window_size,
                config.mel_bins,
                config.fmin,
                config.fmax,
                MelScale::Slaney,
                MelNorm::Slaney,
            ),
            amin: config.amin,
            offset_db: 10.0 * config.amin.max(config.ref_value).log10(),
        }
    }

    /// The mel bank (`melW` transposed).
    pub fn mel(&self) -> &MelBank {
        &self.mel
    }
}

impl FrameFeatures for PannsFrames {
    fn row_shape(&self) -> Vec<usize> {
        vec![self.mel.n_mels()]
    }

    fn process(&self, frame: &[f64], ws: &mut Workspace, out: &mut [f32]) {
        self.stft.frame(frame, Spectrum::Power, ws);
        ws.extra.resize(self.mel.n_mels(), 0.0);
        self.mel.apply(&ws.bins, &mut ws.extra);
        ln_floored(&mut ws.extra, self.amin);
        for (o, &e) in out.iter_mut().zip(&ws.extra) {
            *o = (DB_PER_NEPER * e - self.offset_db) as f32;
        }
    }
}
