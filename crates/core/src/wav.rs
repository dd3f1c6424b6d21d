//! WAV output through hound: float32 files (`decode`), and 16-bit mono bytes in memory (the
//! review page's embedded audio).

use std::path::Path;

use crate::audio::Waveform;

/// Write `wave` as a 32-bit float WAV file.
pub fn write_f32(path: &Path, wave: &Waveform) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: wave.channels as u16,
        sample_rate: wave.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    let frames = wave.frames();
    for i in 0..frames {
        for c in 0..wave.channels {
            writer.write_sample(wave.samples[c * frames + i])?;
        }
    }
    writer.finalize()
}

/// Mono `samples` as the bytes of a 16-bit PCM WAV file (clipped to ±1).
pub fn pcm16_bytes(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = std::io::Cursor::new(Vec::with_capacity(44 + 2 * samples.len()));
    let mut writer = hound::WavWriter::new(&mut bytes, spec)?;
    for &s in samples {
        writer.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    writer.finalize()?;
    Ok(bytes.into_inner())
}
