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
    if !config.do_normalize || samples.is_empty() {
        return samples.to_vec();
    }
    let n = samples.len() as f64;
    let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = samples
        .iter()
        .map(|&x| {
            let d = x as f64 - mean;
            d * d
        })
        .sum::<f64>()
        / n;
    let scale = 1.0 / (var + 1e-7).sqrt();
    samples
        .iter()
        .map(|&x| ((x as f64 - mean) * scale) as f32)
        .collect()
}
