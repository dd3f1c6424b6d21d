//! Streaming sample-rate conversion that reproduces `librosa.resample(res_type="soxr_hq")`.
//!
//! librosa ≥ 0.10 calls python-soxr's `soxr.resample(x, orig, target, quality="HQ")`, which
//! creates one libsoxr HQ (20-bit, small roll-off) converter, feeds the input in blocks of
//! `floor(48000 · orig / target)` frames, drains it, and librosa then pads or cuts the result to
//! `ceil(n · target / orig)` samples (`fix_length`). Feeding libsoxr the same block sizes makes the
//! output bit-identical; channels are converted independently, as libsoxr does internally.
//!
//! The converter here streams: output is released only up to `ceil(consumed · ratio)` samples,
//! a length the final `fix_length` can never cut, so hour-long files resample in bounded memory
//! with the same result as the one-shot call.

use soxr::format::Mono;
use soxr::params::{QualityRecipe, QualitySpec, RuntimeSpec};
use soxr::Soxr;

use super::{AudioError, Result};

/// The length `librosa.resample(..., fix=True)` gives `n` input samples.
pub fn output_len(n: u64, orig_sr: u32, target_sr: u32) -> u64 {
    // Same float expression as librosa: int(np.ceil(n * (float(target_sr) / orig_sr))).
    let ratio = target_sr as f64 / orig_sr as f64;
    (n as f64 * ratio).ceil() as u64
}

/// A streaming, multi-channel soxr HQ converter with librosa's output length.
pub struct Resampler {
    orig_sr: u32,
    target_sr: u32,
    channels: Vec<Soxr<Mono<f32>>>,
    /// Block size python-soxr uses when it feeds libsoxr.
    block_len: usize,
    /// Input not yet handed to libsoxr (planar, one vector per channel).
    pending_in: Vec<Vec<f32>>,
    /// Output produced by libsoxr but not yet released (planar).
    pending_out: Vec<Vec<f32>>,
    consumed: u64,
    released: u64,
    scratch: Vec<f32>,
}

fn soxr_err(err: soxr::Error) -> AudioError {
    AudioError::Resample(err.to_string())
}

impl Resampler {
    /// A converter from `orig_sr` to `target_sr` for `channels` channels.
    pub fn new(orig_sr: u32, target_sr: u32, channels: usize) -> Result<Self> {
        if orig_sr == 0 || target_sr == 0 {
            return Err(AudioError::Resample("sample rates must be positive".into()));
        }
        let converters = (0..channels)
            .map(|_| {
                Soxr::new_with_params(
                    orig_sr as f64,
                    target_sr as f64,
                    QualitySpec::new(QualityRecipe::high()),
                    RuntimeSpec::new(1),
                )
                .map_err(soxr_err)
            })
            .collect::<Result<Vec<_>>>()?;
        let block_len = ((48000.0 * orig_sr as f64 / target_sr as f64) as usize).max(1);
        Ok(Resampler {
            orig_sr,
            target_sr,
            channels: converters,
            block_len,
            pending_in: vec![Vec::new(); channels],
            pending_out: vec![Vec::new(); channels],
            consumed: 0,
            released: 0,
            scratch: Vec::new(),
        })
    }

    /// The output sample rate.
    pub fn target_rate(&self) -> u32 {
        self.target_sr
    }

    fn run(&mut self, ch: usize, input: Option<&[f32]>) -> Result<()> {
        let (capacity, converter) = (
            match input {
                Some(x) => {
                    (x.len() as f64 * self.target_sr as f64 / self.orig_sr as f64) as usize + 64
                }
                None => 4096,
            },
            &mut self.channels[ch],
        );
        self.scratch.resize(capacity, 0.0);
        match input {
            Some(x) => {
                let mut offset = 0;
                while offset < x.len() {
                    let done = converter
                        .process(&x[offset..], &mut self.scratch)
                        .map_err(soxr_err)?;
                    offset += done.input_frames;
                    self.pending_out[ch].extend_from_slice(&self.scratch[..done.output_frames]);
                    if done.input_frames == 0 && done.output_frames == 0 {
                        return Err(AudioError::Resample("libsoxr made no progress".into()));
                    }
                }
            }
            None => loop {
                let n = converter.drain(&mut self.scratch).map_err(soxr_err)?;
                if n == 0 {
                    break;
                }
                self.pending_out[ch].extend_from_slice(&self.scratch[..n]);
            },
        }
        Ok(())
    }

    /// Feed planar input (one slice per channel, equal lengths); releasable output is appended to
    /// `out` (one vector per channel).
    pub fn push(&mut self, input: &[&[f32]], out: &mut [Vec<f32>]) -> Result<()> {
        let n = input.first().map_or(0, |c| c.len());
        for (pending, chan) in self.pending_in.iter_mut().zip(input) {
            pending.extend_from_slice(chan);
        }
        self.consumed += n as u64;
        while self.pending_in[0].len() >= self.block_len {
            for ch in 0..self.channels.len() {
                let block: Vec<f32> = self.pending_in[ch].drain(..self.block_len).collect();
                self.run(ch, Some(&block))?;
            }
        }
        self.release(output_len(self.consumed, self.orig_sr, self.target_sr), out);
        Ok(())
    }

    /// Flush the converter and release the rest of the output, padded or cut to librosa's length.
    pub fn finish(&mut self, out: &mut [Vec<f32>]) -> Result<()> {
        for ch in 0..self.channels.len() {
            let rest = std::mem::take(&mut self.pending_in[ch]);
            if !rest.is_empty() {
                self.run(ch, Some(&rest))?;
            }
            self.run(ch, None)?;
        }
        let total = output_len(self.consumed, self.orig_sr, self.target_sr);
        for pending in &mut self.pending_out {
            let missing = (total - self.released) as usize;
            pending.resize(missing, 0.0);
        }
        self.release(total, out);
        Ok(())
    }

    /// Move output up to absolute position `limit` from the pending buffers into `out`.
    fn release(&mut self, limit: u64, out: &mut [Vec<f32>]) {
        let available = self.pending_out[0].len() as u64;
        let take = available.min(limit.saturating_sub(self.released)) as usize;
        if take == 0 {
            return;
        }
        for (pending, dst) in self.pending_out.iter_mut().zip(out.iter_mut()) {
            dst.extend(pending.drain(..take));
        }
        self.released += take as u64;
    }
}

/// A whole mono signal at `target_sr`: `librosa.resample(y, orig_sr=…, target_sr=…)` with its
/// default `soxr_hq`, as [`super::load`] resamples a file. The signal itself when the rates agree.
pub fn resample(samples: &[f32], orig_sr: u32, target_sr: u32) -> Result<Vec<f32>> {
    if orig_sr == target_sr {
        return Ok(samples.to_vec());
    }
    let mut converter = Resampler::new(orig_sr, target_sr, 1)?;
    let mut out = vec![Vec::new()];
    converter.push(&[samples], &mut out)?;
    converter.finish(&mut out)?;
    Ok(out.pop().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, sr: f64) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * 440.0 * i as f64 / sr).sin() as f32 * 0.5)
            .collect()
    }

    #[test]
    fn whole_signal_resampling_is_the_streamed_result() {
        let x = tone(10007, 44100.0);
        assert_eq!(
            resample(&x, 44100, 16000).unwrap(),
            resample_all(&x, 44100, 16000, 4096)
        );
        assert_eq!(resample(&x, 16000, 16000).unwrap(), x);
    }

    fn resample_all(x: &[f32], orig: u32, target: u32, piece: usize) -> Vec<f32> {
        let mut r = Resampler::new(orig, target, 1).unwrap();
        let mut out = vec![Vec::new()];
        for chunk in x.chunks(piece) {
            r.push(&[chunk], &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        out.pop().unwrap()
    }

    #[test]
    fn length_is_librosa_ceil() {
        for &(n, orig, target) in &[
            (44100usize, 44100u32, 32000u32),
            (12345, 48000, 16000),
            (999, 8000, 32000),
            (7, 22050, 32000),
        ] {
            let y = resample_all(&tone(n, orig as f64), orig, target, 4096);
            assert_eq!(y.len() as u64, output_len(n as u64, orig, target));
        }
    }

    #[test]
    fn result_does_not_depend_on_how_input_arrives() {
        let x = tone(100_003, 44100.0);
        let whole = resample_all(&x, 44100, 32000, x.len());
        let pieces = resample_all(&x, 44100, 32000, 1037);
        assert_eq!(whole, pieces);
    }
}
