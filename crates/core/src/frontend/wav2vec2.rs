//! wav2vec 2.0 input: `transformers.Wav2Vec2FeatureExtractor(do_normalize=True)` on one
//! utterance, i.e. `(x − mean(x)) / sqrt(var(x) + 1e-7)` with the population variance over
//! the whole utterance (`zero_mean_unit_var_norm` without an attention mask).
//!
//! Traps: this is the normalisation of the HF preprocessor configs (`do_normalize=true`,
//! also set for base-960h, whose fairseq original used none); whether a checkpoint wants it
//! is the model's business, not the front end's. It needs the whole utterance, so it cannot
//! stream in constant memory. HF computes in float32; we accumulate in float64, which agrees
//! to a few parts in 10⁷. Silence stays zero (the 1e-7 keeps the division finite).

/// `Wav2Vec2FeatureExtractor`'s arguments that change the output for one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Wav2vec2Config {
    /// `sampling_rate`.
    pub sampling_rate: u32,
    /// `do_normalize`.
    pub do_normalize: bool,
}

impl Default for Wav2vec2Config {
    /// `Wav2Vec2FeatureExtractor()`: 16 kHz, `do_normalize=True`.
    fn default() -> Self {
        Wav2vec2Config {
            sampling_rate: 16000,
            do_normalize: true,
        }
    }
}

/// Zero mean, unit variance over the utterance (identity when `do_normalize` is false).
pub fn normalize(config: &Wav2vec2Config, samples: &[f32]) -> Vec<f32> {
    let mut out = samples.to_vec();
    normalize_in_place(config, &mut out);
    out
}

/// [`normalize`] in place.
pub fn normalize_in_place(config: &Wav2vec2Config, samples: &mut [f32]) {
    if !config.do_normalize || samples.is_empty() {
        return;
    }
    // One pass of float64 sums in eight lanes (vectorises); var = E[x²] − mean², whose
    // cancellation costs at most ε₆₄·mean²/var relative: nothing at audio's dynamic range.
    let (mut s1, mut s2) = ([0.0f64; 8], [0.0f64; 8]);
    let chunks = samples.chunks_exact(8);
    let (mut t1, mut t2) = (0.0f64, 0.0f64);
    for &x in chunks.remainder() {
        t1 += x as f64;
        t2 += x as f64 * x as f64;
    }
    for c in chunks {
        for j in 0..8 {
            let x = c[j] as f64;
            s1[j] += x;
            s2[j] += x * x;
        }
    }
    let n = samples.len() as f64;
    let mean = (s1.iter().sum::<f64>() + t1) / n;
    let var = ((s2.iter().sum::<f64>() + t2) / n - mean * mean).max(0.0);
    let scale = 1.0 / (var + 1e-7).sqrt();
    for x in samples.iter_mut() {
        *x = ((*x as f64 - mean) * scale) as f32;
    }
}
