//! Kaldi filter banks as `torchaudio.compliance.kaldi.fbank(waveform)` computes them with its
//! defaults: 16 kHz, 25 ms frames (400 samples) every 10 ms (160), `snip_edges=True` (only
//! whole frames, no padding), no dither, per-frame DC removal, pre-emphasis 0.97 *inside each
//! frame* (the first sample is pre-emphasised against itself), Povey window, zero-padding to
//! 512, power spectrum, 23 Kaldi mel bins from 20 Hz to Nyquist, and `ln(max(x, ε))` with ε
//! the float32 machine epsilon. Output: frames × 23.
//!
//! Traps: the waveform is used at the scale given (librosa's ±1, not Kaldi's ±32768), so
//! quiet frames meet the ε floor; torchaudio asserts that the signal holds at least one whole
//! frame, and so do we ([`super::FrontendError::TooShort`]).

use super::framing::{Framing, LeftPad, RightPad};
use super::math::ln_floored;
use super::mel::{kaldi_mel, MelBank};
use super::stft::{Spectrum, Stft, Workspace};
use super::window::{window, WindowKind};
use super::FrameFeatures;

/// `kaldi.fbank`'s arguments (those with an effect when the others keep their defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct KaldiFbankConfig {
    /// `sample_frequency` in Hz.
    pub sample_frequency: u32,
    /// `frame_length` in ms.
    pub frame_length_ms: f64,
    /// `frame_shift` in ms.
    pub frame_shift_ms: f64,
    /// `num_mel_bins`.
    pub num_mel_bins: usize,
    /// `low_freq` in Hz.
    pub low_freq: f64,
    /// `high_freq` in Hz (≤ 0: offset from Nyquist).
    pub high_freq: f64,
    /// `preemphasis_coefficient`.
    pub preemphasis_coefficient: f64,
    /// `remove_dc_offset`.
    pub remove_dc_offset: bool,
    /// `window_type`.
    pub window_type: WindowKind,
    /// `round_to_power_of_two`.
    pub round_to_power_of_two: bool,
    /// `use_log_fbank`.
    pub use_log_fbank: bool,
    /// `use_power` (else magnitude).
    pub use_power: bool,
}

impl Default for KaldiFbankConfig {
    /// `torchaudio.compliance.kaldi.fbank`'s defaults.
    fn default() -> Self {
        KaldiFbankConfig {
            sample_frequency: 16000,
            frame_length_ms: 25.0,
            frame_shift_ms: 10.0,
            num_mel_bins: 23,
            low_freq: 20.0,
            high_freq: 0.0,
            preemphasis_coefficient: 0.97,
            remove_dc_offset: true,
            window_type: WindowKind::Povey,
            round_to_power_of_two: true,
            use_log_fbank: true,
            use_power: true,
        }
    }
}

impl KaldiFbankConfig {
    /// Samples per frame: `int(sr · frame_length · 0.001)`.
    pub fn window_size(&self) -> usize {
        (self.sample_frequency as f64 * self.frame_length_ms * 0.001) as usize
    }

    /// Samples between frames: `int(sr · frame_shift · 0.001)`.
    pub fn window_shift(&self) -> usize {
        (self.sample_frequency as f64 * self.frame_shift_ms * 0.001) as usize
    }

    /// FFT size.
    pub fn padded_window_size(&self) -> usize {
        let w = self.window_size();
        if self.round_to_power_of_two {
            w.next_power_of_two()
        } else {
            w
        }
    }

    /// `snip_edges=True`: whole frames only.
    pub fn framing(&self) -> Framing {
        Framing {
            frame_len: self.window_size(),
            hop: self.window_shift(),
            left: LeftPad::None,
            right: RightPad::None,
        }
    }
}

/// Per-frame Kaldi fbank.
#[derive(Debug, Clone)]
pub struct KaldiFrames {
    config: KaldiFbankConfig,
    window: Vec<f64>,
    stft: Stft,
    mel: MelBank,
}

impl KaldiFrames {
    /// Build the window, FFT and mel bank of `config`.
    pub fn new(config: &KaldiFbankConfig) -> Self {
        let n_fft = config.padded_window_size();
        KaldiFrames {
            config: config.clone(),
            window: window(config.window_type, config.window_size()),
            // The window is applied by hand (before the zero padding), so the FFT gets none.
            stft: Stft::with_window(n_fft, WindowKind::Rectangular, n_fft),
            mel: kaldi_mel(
                config.num_mel_bins,
                n_fft,
                config.sample_frequency as f64,
                config.low_freq,
                config.high_freq,
            ),
        }
    }
}

impl FrameFeatures for KaldiFrames {
    fn row_shape(&self) -> Vec<usize> {
        vec![self.mel.n_mels()]
    }

    fn process(&self, frame: &[f64], ws: &mut Workspace, out: &mut [f32]) {
        self.stft.prepare(ws);
        let n = self.window.len();
        let x = &mut ws.input[..n];
        x.copy_from_slice(&frame[..n]);
        if self.config.remove_dc_offset {
            let mean = super::sum(x) / n as f64;
            x.iter_mut().for_each(|v| *v -= mean);
        }
        let c = self.config.preemphasis_coefficient;
        if c != 0.0 {
            for j in (1..n).rev() {
                x[j] -= c * x[j - 1];
            }
            x[0] -= c * x[0];
        }
        for (v, w) in x.iter_mut().zip(&self.window) {
            *v *= w;
        }
        ws.input[n..].fill(0.0);
        let what = if self.config.use_power {
            Spectrum::Power
        } else {
            Spectrum::Magnitude
        };
        self.stft.transform(what, ws);
        ws.extra.resize(self.mel.n_mels(), 0.0);
        self.mel.apply(&ws.bins, &mut ws.extra);
        if self.config.use_log_fbank {
            ln_floored(&mut ws.extra, f32::EPSILON as f64);
        }
        for (o, &e) in out.iter_mut().zip(&ws.extra) {
            *o = e as f32;
        }
    }
}
