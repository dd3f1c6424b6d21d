//! Mel filter banks: librosa's (`librosa.filters.mel`, Slaney or HTK scale, Slaney area norm,
//! L1 norm or none) and Kaldi's (`torchaudio.compliance.kaldi.get_mel_banks`).
//!
//! Traps handled here:
//! * librosa builds the bank in float64 but stores it in a float32 array (its default
//!   `dtype=np.float32`), then scales it in place, so each weight is rounded to f32 twice. The
//!   PANNs `melW` parameter and torchopenl3's `mel_basis` are those float32 values; we round the
//!   same way so the weights are bit-identical.
//! * `norm=1` in librosa ≥ 0.8 means "divide each filter by its L1 norm" (`util.normalize`),
//!   not Slaney's area normalisation as in librosa 0.6. torchopenl3 passes `norm=1`.
//! * Kaldi's bank has `n_fft / 2` columns: the Nyquist bin gets weight zero (both torchaudio's
//!   `fbank` and PaSST pad a zero column). Its mel scale is 1127·ln(1 + f/700), with triangles
//!   of peak 1 and no area normalisation.
//!
//! Banks are stored sparsely (each filter's first bin and its non-zero run of weights), so
//! applying one costs about two multiply-adds per FFT bin instead of `n_mels` of them.

/// Which mel scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MelScale {
    /// Slaney's (librosa's default, `htk=False`): linear below 1 kHz, logarithmic above.
    Slaney,
    /// HTK's: 2595·log10(1 + f/700).
    Htk,
}

/// How librosa normalises each filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MelNorm {
    /// No normalisation: triangles of peak 1.
    None,
    /// `norm='slaney'`: divide each triangle by its width in Hz / 2 (constant area).
    Slaney,
    /// `norm=1` in librosa ≥ 0.8: divide each filter by the sum of its weights.
    L1,
}

/// A mel filter bank, stored sparsely.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBank {
    n_bins: usize,
    filters: Vec<(usize, Vec<f64>)>,
}

impl MelBank {
    /// Build from a dense `n_mels × n_bins` matrix (row-major), keeping each row's non-zero run.
    pub fn from_dense(dense: &[f64], n_mels: usize, n_bins: usize) -> Self {
        assert_eq!(dense.len(), n_mels * n_bins);
        let filters = dense
            .chunks_exact(n_bins)
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0);
                match first {
                    None => (0, Vec::new()),
                    Some(first) => {
                        let last = row.iter().rposition(|&w| w != 0.0).unwrap_or(first);
                        (first, row[first..=last].to_vec())
                    }
                }
            })
            .collect();
        MelBank { n_bins, filters }
    }

    /// Number of filters.
    pub fn n_mels(&self) -> usize {
        self.filters.len()
    }

    /// Number of FFT bins the bank expects (`n_fft / 2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// The dense `n_mels × n_bins` matrix, row-major.
    pub fn to_dense(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n_mels() * self.n_bins];
        for (m, (start, w)) in self.filters.iter().enumerate() {
            out[m * self.n_bins + start..][..w.len()].copy_from_slice(w);
        }
        out
    }

    /// `out[m] = Σ_k bank[m, k] · spectrum[k]`.
    #[inline]
    pub fn apply(&self, spectrum: &[f64], out: &mut [f64]) {
        debug_assert_eq!(spectrum.len(), self.n_bins);
        for (o, (start, w)) in out.iter_mut().zip(&self.filters) {
            let x = &spectrum[*start..*start + w.len()];
            // Four partial sums: independent chains the CPU can overlap.
            let mut acc = [0.0f64; 4];
            let (w4, w_tail) = w.split_at(w.len() / 4 * 4);
            let (x4, x_tail) = x.split_at(w4.len());
            for (wc, xc) in w4.chunks_exact(4).zip(x4.chunks_exact(4)) {
                for j in 0..4 {
                    acc[j] += wc[j] * xc[j];
                }
            }
            let tail: f64 = w_tail.iter().zip(x_tail).map(|(a, b)| a * b).sum();
            *o = (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail;
        }
    }
}

fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if f >= min_log_hz {
                min_log_mel + (f / min_log_hz).ln() / logstep
            } else {
                f / f_sp
            }
        }
    }
}

fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if m >= min_log_mel {
                min_log_hz * (logstep * (m - min_log_mel)).exp()
            } else {
                f_sp * m
            }
        }
    }
}

/// `librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=…,
/// norm=…)` with its default `dtype=np.float32`: the weights come out as float32 values.
pub fn librosa_mel(
    sr: f64,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: f64,
    scale: MelScale,
    norm: MelNorm,
) -> MelBank {
    let n_bins = n_fft / 2 + 1;
    // np.fft.rfftfreq(n_fft, 1/sr): k · (1 / (n_fft · (1/sr))).
    let bin_hz = 1.0 / (n_fft as f64 * (1.0 / sr));
    let fft_freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * bin_hz).collect();
    // mel_frequencies: np.linspace(min_mel, max_mel, n_mels + 2), endpoint exact.
    let (min_mel, max_mel) = (hz_to_mel(fmin, scale), hz_to_mel(fmax, scale));
    let n_pts = n_mels + 2;
    let step = (max_mel - min_mel) / (n_pts - 1) as f64;
    let mel_f: Vec<f64> = (0..n_pts)
        .map(|i| {
            let m = if i == n_pts - 1 {
                max_mel
            } else {
                i as f64 * step + min_mel
            };
            mel_to_hz(m, scale)
        })
        .collect();
    let mut dense = vec![0.0f64; n_mels * n_bins];
    for i in 0..n_mels {
        let (fdiff_lo, fdiff_hi) = (mel_f[i + 1] - mel_f[i], mel_f[i + 2] - mel_f[i + 1]);
        let row = &mut dense[i * n_bins..(i + 1) * n_bins];
        for (w, &f) in row.iter_mut().zip(&fft_freqs) {
            let lower = -(mel_f[i] - f) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            // Stored into a float32 array.
            *w = lower.min(upper).max(0.0) as f32 as f64;
        }
        match norm {
            MelNorm::None => {}
            MelNorm::Slaney => {
                let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
                for w in row.iter_mut() {
                    *w = (*w * enorm) as f32 as f64;
                }
            }
            MelNorm::L1 => {
                // util.normalize: norm and quotient in float64, stored as float32.
                let length: f64 = row.iter().map(|w| w.abs()).sum();
                let length = if length < f32::MIN_POSITIVE as f64 {
                    1.0
                } else {
                    length
                };
                for w in row.iter_mut() {
                    *w = (*w / length) as f32 as f64;
                }
            }
        }
    }
    MelBank::from_dense(&dense, n_mels, n_bins)
}

fn kaldi_mel_scale(f: f64) -> f64 {
    1127.0 * (1.0 + f / 700.0).ln()
}

/// `torchaudio.compliance.kaldi.get_mel_banks(n_mels, n_fft, sr, low_freq, high_freq,
/// vtln_low=100, vtln_high=-500, vtln_warp_factor=1.0)` with the zero Nyquist column appended,
/// as `kaldi.fbank` and PaSST's `AugmentMelSTFT` use it. `high_freq ≤ 0` is an offset from
/// Nyquist. Computed in float64 (the float64 run of the reference).
pub fn kaldi_mel(n_mels: usize, n_fft: usize, sr: f64, low_freq: f64, high_freq: f64) -> MelBank {
    let n_bins = n_fft / 2 + 1;
    let nyquist = 0.5 * sr;
    let high_freq = if high_freq <= 0.0 {
        high_freq + nyquist
    } else {
        high_freq
    };
    let bin_hz = sr / n_fft as f64;
    let (mel_low, mel_high) = (kaldi_mel_scale(low_freq), kaldi_mel_scale(high_freq));
    let delta = (mel_high - mel_low) / (n_mels + 1) as f64;
    let mut dense = vec![0.0f64; n_mels * n_bins];
    for b in 0..n_mels {
        let left = mel_low + b as f64 * delta;
        let center = mel_low + (b as f64 + 1.0) * delta;
        let right = mel_low + (b as f64 + 2.0) * delta;
        for k in 0..n_fft / 2 {
            let mel = kaldi_mel_scale(bin_hz * k as f64);
            let up = (mel - left) / (center - left);
            let down = (right - mel) / (right - center);
            dense[b * n_bins + k] = up.min(down).max(0.0);
        }
    }
    MelBank::from_dense(&dense, n_mels, n_bins)
}
