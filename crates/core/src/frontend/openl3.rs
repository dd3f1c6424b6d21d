//! OpenL3's input spectrograms, matching **torchopenl3** (`torchopenl3/utils.py`
//! `preprocess_audio_batch` and the `CustomSTFT` / `CustomMelSTFT` layers in
//! `torchopenl3/models.py`). torchopenl3 re-implements kapre 0.1.4, the front end the OpenL3
//! weights were trained with (openl3 ≤ 0.3.1); openl3 0.4.x switched to a different STFT
//! padding and Slaney mel and no longer reproduces those inputs, so it is not the reference.
//!
//! Framing: 1-s windows (48000 samples) every 0.1 s, with half a window of zeros in front
//! (`center=True`) and zeros at the end to a whole number of hops (see [`super::framing`]).
//! Each window is then, independently:
//! * linear: 512-point DFT frames every 242 samples without padding (197 frames), periodic
//!   Hann rounded to float32, magnitude → 257 × 197;
//! * mel128 / mel256: TF "same" padding of 982 zeros each side, 2048-point frames every 242
//!   (199 frames), power, HTK mel bank from `librosa.filters.mel(sr=48000, n_fft=2048,
//!   fmin=0, fmax=24000, htk=True, norm=1)` (L1-normalised in the librosa torchopenl3 runs
//!   with, ≥ 0.8), then the square root → n_mels × 199;
//! * dB as kapre's `amplitude_to_decibel`: `10·ln(max(x, 1e-10)) / ln(10)` (ln 10 rounded to
//!   float32), minus the window's maximum, floored at −80. Note the 10 on a magnitude.
//!
//! Output: windows × bins × frames (torchopenl3's `(windows, bins, frames, 1)` without the
//! channel axis).

use super::framing::{Framing, LeftPad, RightPad};
use super::math::ln_floored;
use super::mel::{librosa_mel, MelBank, MelNorm, MelScale};
use super::stft::{Spectrum, Stft, Workspace};
use super::window::{round_to_f32, window, WindowKind};
use super::FrameFeatures;

/// The three input representations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Openl3Repr {
    /// `input_repr="linear"`.
    Linear,
    /// `input_repr="mel128"`.
    Mel128,
    /// `input_repr="mel256"`.
    Mel256,
}

/// torchopenl3's preprocessing parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Openl3Config {
    /// Which spectrogram.
    pub input_repr: Openl3Repr,
    /// `hop_size` in seconds.
    pub hop_size: f64,
    /// `center`.
    pub center: bool,
}

/// OpenL3's sample rate.
pub const OPENL3_SAMPLE_RATE: u32 = 48000;
const N_HOP: usize = 242;
const AMIN: f64 = 1e-10;
const DYNAMIC_RANGE: f64 = 80.0;

impl Openl3Config {
    /// `get_audio_embedding(..., input_repr, hop_size=0.1, center=True)`.
    pub fn new(input_repr: Openl3Repr) -> Self {
        Openl3Config {
            input_repr,
            hop_size: 0.1,
            center: true,
        }
    }

    /// 1-s windows every `hop_size`.
    pub fn framing(&self) -> Framing {
        let frame_len = OPENL3_SAMPLE_RATE as usize;
        Framing {
            frame_len,
            hop: (self.hop_size * OPENL3_SAMPLE_RATE as f64) as usize,
            left: if self.center {
                LeftPad::Zeros(frame_len / 2)
            } else {
                LeftPad::None
            },
            right: RightPad::ZerosToHop,
        }
    }
}

/// Per-window OpenL3 spectrogram.
#[derive(Debug, Clone)]
pub struct Openl3Windows {
    stft: Stft,
    mel: Option<MelBank>,
    n_frames: usize,
    same_pad: usize,
}

impl Openl3Windows {
    /// Build the STFT (and mel bank) of `config`.
    pub fn new(config: &Openl3Config) -> Self {
        let n_dft = match config.input_repr {
            Openl3Repr::Linear => 512,
            _ => 2048,
        };
        // kapre: librosa's periodic Hann, cast to float32 before it multiplies the kernels.
        let mut win = window(WindowKind::HannPeriodic, n_dft);
        round_to_f32(&mut win);
        let stft = Stft::new(n_dft, &win);
        let width = OPENL3_SAMPLE_RATE as usize;
        let (mel, same_pad) = match config.input_repr {
            Openl3Repr::Linear => (None, 0),
            Openl3Repr::Mel128 | Openl3Repr::Mel256 => {
                let n_mels = if config.input_repr == Openl3Repr::Mel128 {
                    128
                } else {
                    256
                };
                let mel = librosa_mel(
                    OPENL3_SAMPLE_RATE as f64,
                    n_dft,
                    n_mels,
                    0.0,
                    (OPENL3_SAMPLE_RATE / 2) as f64,
                    MelScale::Htk,
                    MelNorm::L1,
                );
                // Keras 'same' padding of the 48000-sample window (kapre's custom_pad).
                let total = if width.is_multiple_of(N_HOP) {
                    n_dft.saturating_sub(N_HOP)
                } else {
                    n_dft.saturating_sub(width % N_HOP)
                };
                (Some(mel), total / 2)
            }
        };
        let padded = width + 2 * same_pad;
        Openl3Windows {
            n_frames: (padded - n_dft) / N_HOP + 1,
            stft,
            mel,
            same_pad,
        }
    }

    fn n_rows(&self) -> usize {
        self.mel
            .as_ref()
            .map_or(self.stft.n_bins(), MelBank::n_mels)
    }
}

impl FrameFeatures for Openl3Windows {
    fn row_shape(&self) -> Vec<usize> {
        vec![self.n_rows(), self.n_frames]
    }

    fn process(&self, frame: &[f64], ws: &mut Workspace, out: &mut [f32]) {
        let n_frames = self.n_frames;
        let n_rows = self.n_rows();
        // The padded window, the spectrogram and one frame's mel energies live in `extra`,
        // taken out of the workspace while the STFT uses the rest of it.
        let mut extra = std::mem::take(&mut ws.extra);
        let padded_len = frame.len() + 2 * self.same_pad;
        let spec_len = n_rows * n_frames;
        extra.clear();
        extra.resize(padded_len + spec_len + n_rows, 0.0);
        let (padded, rest) = extra.split_at_mut(padded_len);
        let (spec, mel_out) = rest.split_at_mut(spec_len);
        padded[self.same_pad..self.same_pad + frame.len()].copy_from_slice(frame);
        for t in 0..n_frames {
            let sub = &padded[t * N_HOP..t * N_HOP + self.stft.n_fft()];
            match &self.mel {
                // Both keep powers; the square root is folded into the dB below.
                None => {
                    self.stft.frame(sub, Spectrum::Power, ws);
                    for (f, &v) in ws.bins.iter().enumerate() {
                        spec[f * n_frames + t] = v;
                    }
                }
                Some(mel) => {
                    self.stft.frame(sub, Spectrum::Power, ws);
                    mel.apply(&ws.bins, mel_out);
                    for (m, &v) in mel_out.iter().enumerate() {
                        spec[m * n_frames + t] = v;
                    }
                }
            }
        }
        // 10·ln(max(√p, amin)) / ln 10 = 5·ln(max(p, amin²)) / ln 10, with kapre's ln 10
        // rounded to float32.
        let ln10 = 10f64.ln() as f32 as f64;
        ln_floored(spec, AMIN * AMIN);
        let mut max = f64::NEG_INFINITY;
        for v in spec.iter_mut() {
            *v = 5.0 * *v / ln10;
            max = max.max(*v);
        }
        for (o, &v) in out.iter_mut().zip(spec.iter()) {
            *o = (v - max).max(-DYNAMIC_RANGE) as f32;
        }
        ws.extra = extra;
    }
}
