//! Audio out for pages: mono samples as an Ogg Vorbis stream in memory, small enough to embed
//! a hundred clips in one HTML file and played by every current browser (`<audio>` takes
//! `audio/ogg` in Chromium, Firefox and Safari 17+).
//!
//! The encoder is libvorbis with the aoTuV tunings (Xiph's reference encoder, as `oggenc`
//! ships it), built from source by `vorbis_rs`'s -sys crate, so nothing is needed from the
//! system. Quality-based VBR: `quality` is libvorbis's `-q` scale divided by 10 (−0.2 … 1.0);
//! at 0.3 a 16 kHz clip takes about 3 kB per second. The stream serial is fixed, so the same
//! samples always give the same bytes (the review page is reproducible).

use std::num::{NonZeroU32, NonZeroU8};

use vorbis_rs::{VorbisBitrateManagementStrategy, VorbisEncoderBuilder, VorbisError};

/// Why samples could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A sample rate of 0 Hz.
    #[error("a sample rate of 0 Hz cannot be encoded")]
    ZeroRate,
    /// libvorbis refused (an unsupported rate or quality).
    #[error("Ogg Vorbis: {0}")]
    Vorbis(#[from] VorbisError),
}

/// Samples handed to libvorbis per call (its analysis buffer grows to this).
const BLOCK: usize = 4096;

/// Any fixed serial: the Ogg spec asks for unique serials only among multiplexed streams.
const SERIAL: i32 = 0x6561_7273; // "ears"

/// Mono `samples` at `sample_rate` Hz as the bytes of an Ogg Vorbis file. Samples are clipped to
/// ±1, as a 16-bit file would be.
pub fn ogg_vorbis_bytes(
    samples: &[f32],
    sample_rate: u32,
    quality: f32,
) -> Result<Vec<u8>, EncodeError> {
    let rate = NonZeroU32::new(sample_rate).ok_or(EncodeError::ZeroRate)?;
    let mut builder =
        VorbisEncoderBuilder::new_with_serial(rate, NonZeroU8::MIN, Vec::new(), SERIAL);
    builder.bitrate_management_strategy(VorbisBitrateManagementStrategy::QualityVbr {
        target_quality: quality,
    });
    let mut encoder = builder.build()?;
    let mut block = Vec::with_capacity(BLOCK);
    for chunk in samples.chunks(BLOCK) {
        block.clear();
        block.extend(chunk.iter().map(|s| s.clamp(-1.0, 1.0)));
        encoder.encode_audio_block([&block])?;
    }
    Ok(encoder.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{load, LoadOptions};

    /// A 440 Hz tone under a slow chirp, 1.5 s at 16 kHz.
    fn signal(rate: u32) -> Vec<f32> {
        (0..(rate as usize * 3 / 2))
            .map(|i| {
                let t = i as f32 / rate as f32;
                0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                    + 0.2 * (2.0 * std::f32::consts::PI * (200.0 + 600.0 * t) * t).sin()
            })
            .collect()
    }

    #[test]
    fn the_stream_decodes_back_to_the_signal() {
        let x = signal(16_000);
        let bytes = ogg_vorbis_bytes(&x, 16_000, 0.3).unwrap();
        assert!(bytes.starts_with(b"OggS"));
        // 16-bit PCM would take 48 kB.
        assert!(bytes.len() < 12_000, "{} bytes", bytes.len());
        assert_eq!(
            bytes,
            ogg_vorbis_bytes(&x, 16_000, 0.3).unwrap(),
            "reproducible"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ogg");
        std::fs::write(&path, &bytes).unwrap();
        let y = load(&path, LoadOptions::new(None, true)).unwrap();
        assert_eq!(y.sample_rate, 16_000);
        assert_eq!(
            y.frames(),
            x.len(),
            "the granule position trims the last packet"
        );
        let (signal, error) = x.iter().zip(&y.samples).fold((0.0, 0.0), |(s, e), (a, b)| {
            (s + f64::from(a * a), e + f64::from((a - b) * (a - b)))
        });
        let snr = 10.0 * (signal / error).log10();
        eprintln!("{} bytes, SNR {snr:.1} dB", bytes.len());
        assert!(snr > 20.0, "SNR {snr:.1} dB");
    }

    #[test]
    fn a_zero_rate_is_refused() {
        let e = ogg_vorbis_bytes(&[0.0; 10], 0, 0.3).unwrap_err();
        assert!(matches!(e, EncodeError::ZeroRate), "{e}");
    }
}
