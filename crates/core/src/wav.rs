//! WAV output (float32, interleaved) through hound.

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
