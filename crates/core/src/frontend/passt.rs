//! PaSST's front end: hear21passt `AugmentMelSTFT` (`hear21passt/models/preprocess.py`) in eval
//! mode, constructed with the arguments `hear21passt.base.get_basic_model` passes (128 mels,
//! 32 kHz, `win_length=800`, `hopsize=320`, `n_fft=1024`, `fmin=0`, `fmax=None`,
//! `fmax_aug_range=2000`).
//!
//! Steps: pre-emphasis as a *valid* conv1d with kernel `[-0.97, 1]` (so `y[n] = x[n+1] −
//! 0.97·x[n]` and the signal loses one sample); `torch.stft` with a *symmetric* 800-sample Hann
//! centred in 1024 (112 zeros each side), `center=True`, reflect padding of 512; power; Kaldi
//! mel banks (`torchaudio.compliance.kaldi.get_mel_banks`, 512 bins plus a zero Nyquist column)
//! between `fmin = 0` and `fmax = sr/2 − fmax_aug_range/2 = 15000 Hz` (eval mode: no random
//! shift); `ln(x + 1e-5)`; then `(x + 4.5) / 5`.
//!
//! Output: frames × 128, i.e. the transpose of `AugmentMelSTFT`'s `(B, 128, T)`, so that every
//! earshot front end is time-major and streams row by row. 10 s (320000 samples) gives 1000
//! frames, not 1001, because of the lost sample.

use super::framing::Framing;
use super::math::ln_floored;
use super::mel::{kaldi_mel, MelBank};
use super::stft::{Spectrum, Stft, Workspace};
use super::window::WindowKind;
use super::FrameFeatures;

/// `AugmentMelSTFT.__init__`'s arguments that matter in eval mode.
#[derive(Debug, Clone, PartialEq)]
pub struct PasstConfig {
    /// `n_mels`.
    pub n_mels: usize,
    /// `sr`.
    pub sr: u32,
    /// `win_length` (symmetric Hann).
    pub win_length: usize,
    /// `hopsize`.
    pub hopsize: usize,
    /// `n_fft`.
    pub n_fft: usize,
    /// `fmin` in Hz.
    pub fmin: f64,
    /// `fmax` in Hz; `None` means `sr // 2 − fmax_aug_range // 2`.
    pub fmax: Option<f64>,
    /// `fmax_aug_range` (sets the eval `fmax` when `fmax` is `None`).
    pub fmax_aug_range: u32,
    /// Pre-emphasis coefficient of the `[-c, 1]` kernel.
    pub preemphasis: f64,
}

impl PasstConfig {
    /// `get_basic_model`'s `AugmentMelSTFT(n_mels=128, sr=32000, win_length=800,
    /// hopsize=320, n_fft=1024, ..., fmin=0.0, fmax=None, fmax_aug_range=2000)`.
    pub fn basic() -> Self {
        PasstConfig {
            n_mels: 128,
            sr: 32000,
            win_length: 800,
            hopsize: 320,
            n_fft: 1024,
            fmin: 0.0,
            fmax: None,
            fmax_aug_range: 2000,
            preemphasis: 0.97,
        }
    }

    /// The upper mel edge in eval mode.
    pub fn eval_fmax(&self) -> f64 {
        self.fmax
            .unwrap_or((self.sr / 2 - self.fmax_aug_range / 2) as f64)
    }

    /// Framing of the pre-emphasised signal: `torch.stft(center=True)`, reflect.
    pub fn framing(&self) -> Framing {
        Framing::centered_reflect(self.n_fft, self.hopsize)
    }
}

/// Per-frame log-mel for PaSST.
#[derive(Debug, Clone)]
pub struct PasstFrames {
    stft: Stft,
    mel: MelBank,
}

impl PasstFrames {
    /// Build the STFT and mel bank of `config`.
    pub fn new(config: &PasstConfig) -> Self {
        PasstFrames {
            stft: Stft::with_window(config.n_fft, WindowKind::HannSymmetric, config.win_length),
            mel: kaldi_mel(
                config.n_mels,
                config.n_fft,
                config.sr as f64,
                config.fmin,
                config.eval_fmax(),
            ),
        }
    }
}

impl FrameFeatures for PasstFrames {
    fn row_shape(&self) -> Vec<usize> {
        vec![self.mel.n_mels()]
    }

    fn process(&self, frame: &[f64], ws: &mut Workspace, out: &mut [f32]) {
        self.stft.frame(frame, Spectrum::Power, ws);
        ws.extra.resize(self.mel.n_mels(), 0.0);
        self.mel.apply(&ws.bins, &mut ws.extra);
        // ln(x + 1e-5): x ≥ 0, so the floor never binds.
        ws.extra.iter_mut().for_each(|e| *e += 1e-5);
        ln_floored(&mut ws.extra, 1e-5);
        for (o, &e) in out.iter_mut().zip(&ws.extra) {
            *o = ((e + 4.5) / 5.0) as f32;
        }
    }
}
