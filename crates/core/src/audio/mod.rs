//! Audio in: decode any supported file, downmix and resample exactly as `librosa.load` does.
//!
//! `librosa.load(path, sr=SR, mono=True)` decodes with soundfile (libsndfile: WAV, FLAC,
//! Ogg/Vorbis, MP3 through mpg123) or, for other containers such as M4A, audioread's ffmpeg
//! backend; averages the channels in float32 (`np.mean(y, axis=0)`); then resamples with
//! soxr HQ and fixes the length to `ceil(n · SR / native_sr)`. [`AudioStream`] does the same
//! block by block so that long files never sit in memory whole; [`load`] collects a stream.
//!
//! Decoding is symphonia's (see [`decode`]), resampling libsoxr's (see [`resample`]). Audio out
//! for pages is Ogg Vorbis ([`encode`]); WAV files are hound's (`crate::wav`).

pub mod decode;
pub mod encode;
pub mod mp4;
pub mod resample;

use std::path::Path;

pub use decode::{AudioInfo, Block, Decoder};
pub use resample::{resample, Resampler};

/// Why a file could not be read as audio.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The path names a directory.
    #[error("is a directory")]
    IsDirectory,
    /// The file has zero bytes.
    #[error("file is empty")]
    Empty,
    /// No supported container format recognised the file.
    #[error("not a recognised audio file (supported: WAV, FLAC, MP3, Ogg/Vorbis, AAC in M4A/MP4)")]
    UnknownFormat,
    /// The container holds no audio track.
    #[error("no audio track")]
    NoAudioTrack,
    /// The container or codec is recognised but not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The data is corrupt.
    #[error("{0}")]
    Malformed(String),
    /// The file ends before the length its header promises.
    #[error("truncated: header promises {expected} frames, only {decoded} could be decoded")]
    Truncated {
        /// Frames the header states.
        expected: u64,
        /// Frames actually decoded.
        decoded: u64,
    },
    /// The audio stream decodes to zero samples.
    #[error("audio stream has no samples")]
    NoSamples,
    /// A floating-point file holds NaN or infinity.
    #[error("sample at frame {frame} is {what}")]
    NonFinite {
        /// First offending frame.
        frame: u64,
        /// "NaN" or "infinite".
        what: &'static str,
    },
    /// Sample-rate conversion failed.
    #[error("resampling failed: {0}")]
    Resample(String),
}

/// `Result` with [`AudioError`].
pub type Result<T> = std::result::Result<T, AudioError>;

/// How to turn a file into a waveform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Target sample rate; `None` keeps the native rate (`librosa.load(sr=None)`).
    pub sample_rate: Option<u32>,
    /// Average the channels into one (`mono=True`).
    pub mono: bool,
    /// Keep AAC/M4A in full float precision. By default those are rounded and clipped to 16 bits
    /// first, because `librosa.load` reads them through audioread's ffmpeg backend, which hands
    /// over signed 16-bit PCM (AAC often overshoots full scale, and librosa sees it clipped).
    pub full_precision: bool,
}

impl LoadOptions {
    /// `librosa.load(path, sr=sample_rate, mono=mono)`.
    pub fn new(sample_rate: Option<u32>, mono: bool) -> Self {
        LoadOptions {
            sample_rate,
            mono,
            full_precision: false,
        }
    }

    /// `librosa.load(path, sr=sample_rate, mono=True)`.
    pub fn mono(sample_rate: u32) -> Self {
        Self::new(Some(sample_rate), true)
    }
}

/// A decoded waveform, channel-major: `samples[c * frames + i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Waveform {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels (1 after downmixing).
    pub channels: usize,
    /// Channel-major samples, `channels × frames`.
    pub samples: Vec<f32>,
}

impl Waveform {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// One channel's samples.
    pub fn channel(&self, c: usize) -> &[f32] {
        let n = self.frames();
        &self.samples[c * n..(c + 1) * n]
    }

    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        self.frames() as f64 / self.sample_rate as f64
    }
}

/// Decoded, downmixed and resampled audio, block by block (planar).
pub struct AudioStream {
    decoder: Decoder,
    resampler: Option<Resampler>,
    mono: bool,
    block: Block,
    planar: Vec<Vec<f32>>,
    done: bool,
}

/// Average interleaved frames into one channel the way `np.mean(y, axis=0)` does on float32:
/// channels are summed in order in float32, then divided by the count.
fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    let scale = channels as f32;
    out.extend(interleaved.chunks_exact(channels).map(|frame| {
        let mut acc = frame[0];
        for &v in &frame[1..] {
            acc += v;
        }
        acc / scale
    }));
}

fn deinterleave_into(interleaved: &[f32], out: &mut [Vec<f32>]) {
    let channels = out.len();
    for (c, dst) in out.iter_mut().enumerate() {
        dst.extend(interleaved.iter().skip(c).step_by(channels));
    }
}

impl AudioStream {
    /// Open `path` for streaming with `options`.
    pub fn open(path: &Path, options: LoadOptions) -> Result<Self> {
        let mut decoder = Decoder::open(path)?;
        if !options.full_precision && decoder.librosa_reads_via_audioread() {
            decoder.set_int16_output(true);
        }
        let info = decoder.info();
        let out_channels = if options.mono { 1 } else { info.channels };
        let resampler = match options.sample_rate {
            Some(sr) if sr != info.sample_rate => {
                Some(Resampler::new(info.sample_rate, sr, out_channels)?)
            }
            _ => None,
        };
        Ok(AudioStream {
            decoder,
            resampler,
            mono: options.mono,
            block: Block::default(),
            planar: vec![Vec::new(); out_channels],
            done: false,
        })
    }

    /// The source's properties.
    pub fn info(&self) -> &AudioInfo {
        self.decoder.info()
    }

    /// Output channels.
    pub fn channels(&self) -> usize {
        self.planar.len()
    }

    /// Output sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.resampler
            .as_ref()
            .map_or(self.info().sample_rate, Resampler::target_rate)
    }

    /// Append the next piece of output to `out` (one vector per output channel). Returns
    /// `Ok(false)` once the stream is exhausted; a call may append nothing and still return true.
    pub fn next_into(&mut self, out: &mut [Vec<f32>]) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let more = self.decoder.next_block(&mut self.block)?;
        let channels = self.decoder.info().channels;
        let direct = self.resampler.is_none();
        {
            let target: &mut [Vec<f32>] = if direct { out } else { &mut self.planar };
            if self.mono {
                downmix_into(&self.block.samples, channels, &mut target[0]);
            } else {
                deinterleave_into(&self.block.samples, target);
            }
        }
        if let Some(resampler) = self.resampler.as_mut() {
            let views: Vec<&[f32]> = self.planar.iter().map(Vec::as_slice).collect();
            resampler.push(&views, out)?;
            for p in &mut self.planar {
                p.clear();
            }
            if !more {
                resampler.finish(out)?;
            }
        }
        if !more {
            self.done = true;
        }
        Ok(more)
    }
}

/// Decode the whole file: `librosa.load(path, sr=options.sample_rate, mono=options.mono)`.
pub fn load(path: &Path, options: LoadOptions) -> Result<Waveform> {
    let mut stream = AudioStream::open(path, options)?;
    let mut planar = vec![Vec::new(); stream.channels()];
    while stream.next_into(&mut planar)? {}
    let sample_rate = stream.sample_rate();
    let channels = planar.len();
    let samples = if channels == 1 {
        planar.pop().unwrap_or_default()
    } else {
        planar.concat()
    };
    Ok(Waveform {
        sample_rate,
        channels,
        samples,
    })
}

/// Read only the headers of `path`.
pub fn probe(path: &Path) -> Result<AudioInfo> {
    Ok(Decoder::open(path)?.info().clone())
}
