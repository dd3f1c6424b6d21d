//! Short-time Fourier transform of one frame at a time, in float64, with `realfft` (the
//! real-input wrapper around `rustfft`: pure Rust, AVX kernels chosen at run time).
//!
//! The references compute their STFTs in different ways — torchlibrosa and kapre/torchopenl3
//! as a `conv1d` with windowed DFT kernels, PaSST with `torch.stft`, Kaldi with
//! `torch.fft.rfft` — but all of them are the DFT of `window · frame`, which is what this
//! computes. We work in float64 because the log front ends floor at 1e-10 (PANNs) or
//! normalise to a per-window maximum with an 80 dB range (OpenL3, in dB of *magnitude*, so
//! 10⁻⁸ of the peak): bins that far down are below float32 rounding noise, and a float32
//! transform cannot agree with the exact one there to 1e-3 dB.
//!
//! Padding of the signal (centre, reflect, constant) is [`super::framing`]'s job; a window
//! shorter than `n_fft` is centred in it as `torch.stft` and `librosa.util.pad_center` do.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::window::{pad_center, window, WindowKind};

/// What a spectrogram holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spectrum {
    /// |X|² (torchlibrosa `power=2.0`, `torch.stft(...)**2` summed).
    Power,
    /// |X| (kapre `power_spectrogram=1.0`).
    Magnitude,
}

/// A planned real FFT of `n_fft` points with a window (already centred in `n_fft`).
#[derive(Clone)]
pub struct Stft {
    n_fft: usize,
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft").field("n_fft", &self.n_fft).finish()
    }
}

/// Per-thread scratch space for [`Stft`].
#[derive(Debug, Default)]
pub struct Workspace {
    /// Windowed frame, `n_fft` samples (the FFT input, overwritten by it).
    pub input: Vec<f64>,
    /// FFT output, `n_fft / 2 + 1` bins.
    pub spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// Power or magnitude per bin.
    pub bins: Vec<f64>,
    /// Free scratch for the caller (mel energies, a window's spectrogram, ...).
    pub extra: Vec<f64>,
}

impl Stft {
    /// An STFT of `n_fft` points with `win` (length ≤ `n_fft`, centred with zeros).
    pub fn new(n_fft: usize, win: &[f64]) -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n_fft);
        Stft {
            n_fft,
            window: pad_center(win, n_fft),
            fft,
        }
    }

    /// An STFT with a window of `kind` and `win_length` samples centred in `n_fft`.
    pub fn with_window(n_fft: usize, kind: WindowKind, win_length: usize) -> Self {
        Self::new(n_fft, &window(kind, win_length))
    }

    /// FFT size.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Number of output bins, `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Size `ws` for this transform.
    pub fn prepare(&self, ws: &mut Workspace) {
        ws.input.resize(self.n_fft, 0.0);
        ws.spectrum.resize(self.n_bins(), Complex::default());
        ws.scratch
            .resize(self.fft.get_scratch_len(), Complex::default());
        ws.bins.resize(self.n_bins(), 0.0);
    }

    /// Window `frame` (`n_fft` samples) and transform it into `ws.bins`.
    pub fn frame(&self, frame: &[f64], what: Spectrum, ws: &mut Workspace) {
        self.prepare(ws);
        for ((x, &s), &w) in ws.input.iter_mut().zip(frame).zip(&self.window) {
            *x = s * w;
        }
        self.transform(what, ws);
    }

    /// Transform `ws.input` as it is (the caller windowed it) into `ws.bins`.
    pub fn transform(&self, what: Spectrum, ws: &mut Workspace) {
        self.prepare(ws);
        self.fft
            .process_with_scratch(&mut ws.input, &mut ws.spectrum, &mut ws.scratch)
            .expect("buffers sized by prepare");
        match what {
            Spectrum::Power => {
                for (b, c) in ws.bins.iter_mut().zip(&ws.spectrum) {
                    *b = c.re * c.re + c.im * c.im;
                }
            }
            Spectrum::Magnitude => {
                for (b, c) in ws.bins.iter_mut().zip(&ws.spectrum) {
                    *b = (c.re * c.re + c.im * c.im).sqrt();
                }
            }
        }
    }
}
