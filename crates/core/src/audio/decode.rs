//! Container probing and packet decoding with symphonia 0.6, yielding interleaved `f32` blocks.
//!
//! Sample scaling matches libsndfile (and so `soundfile`/`librosa.load`): signed integers are
//! divided by 2^(bits-1), unsigned 8-bit PCM is centred on 128 first. Encoder delay and padding
//! are removed: symphonia trims MP3/Vorbis/FLAC gapless information itself; for MP4/M4A, which
//! symphonia does not trim (its issue #544), the edit list's start is read here (see
//! [`super::mp4`]) and the priming samples dropped. That is what ffmpeg does, and `librosa.load`
//! reads M4A through audioread's ffmpeg backend: ffmpeg (5.1, and the CLI audioread runs) skips
//! the priming but keeps the end padding of the last AAC frame, so we keep it too.

use std::fs::File;
use std::path::Path;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{mp4, AudioError, Result};

/// What a file holds, as far as its headers tell before decoding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AudioInfo {
    /// Container format, e.g. `wave`, `flac`, `mp3`, `ogg`, `isomp4`.
    pub container: String,
    /// Codec, e.g. `pcm_s16le`, `flac`, `mp3`, `vorbis`, `aac`.
    pub codec: String,
    /// Native sample rate in Hz.
    pub sample_rate: u32,
    /// Number of channels.
    pub channels: usize,
    /// Number of playable frames (encoder delay and padding excluded), when the container says.
    pub frames: Option<u64>,
    /// Bits per sample of the stored data, for PCM-like codecs.
    pub bits_per_sample: Option<u32>,
}

impl AudioInfo {
    /// Duration in seconds, when the frame count is known.
    pub fn duration(&self) -> Option<f64> {
        self.frames.map(|n| n as f64 / self.sample_rate as f64)
    }
}

/// A block of decoded audio: `frames × channels` interleaved samples.
#[derive(Debug, Default, Clone)]
pub struct Block {
    /// Interleaved samples, `channels` per frame.
    pub samples: Vec<f32>,
}

/// Streaming decoder over one file's default audio track.
pub struct Decoder {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    info: AudioInfo,
    /// Frames still to drop at the start (MP4 priming).
    skip_frames: u64,
    /// Frames produced so far (after trimming).
    produced_frames: u64,
    /// Whether the float data must be checked for NaN/Inf (float PCM input).
    check_finite: bool,
    /// Round and clip output to signed 16-bit values, as ffmpeg's s16 output does.
    int16_output: bool,
    /// Whether the container states an exact length that the decoded data must reach.
    exact_length: bool,
    scratch: Vec<f32>,
    finished: bool,
}

fn map_open_error(err: SymError) -> AudioError {
    match err {
        SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Malformed("file ends inside its header".into())
        }
        SymError::IoError(e) => AudioError::Io(e),
        SymError::Unsupported(what) if what.contains("no suitable") || what.contains("probe") => {
            AudioError::UnknownFormat
        }
        SymError::Unsupported(what) => AudioError::Unsupported(what.to_string()),
        SymError::DecodeError(what) => AudioError::Malformed(what.to_string()),
        SymError::LimitError(what) => AudioError::Malformed(format!("limit reached: {what}")),
        other => AudioError::Malformed(other.to_string()),
    }
}

/// Whether an MP3 file's first frame carries a Xing, Info (LAME) or VBRI tag, which state the
/// exact number of frames.
fn mp3_has_length_tag(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut head = [0u8; 10];
    if file.read_exact(&mut head).is_err() {
        return false;
    }
    // Skip an ID3v2 tag: "ID3", version (2), flags (1), syncsafe size (4).
    let start = if &head[..3] == b"ID3" {
        let size = head[6..10]
            .iter()
            .fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 0x7f));
        let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
        10 + size + footer
    } else {
        0
    };
    let mut frame = Vec::with_capacity(256);
    if file.seek(SeekFrom::Start(start)).is_err() || file.take(256).read_to_end(&mut frame).is_err()
    {
        return false;
    }
    frame
        .windows(4)
        .any(|w| w == b"Xing" || w == b"Info" || w == b"VBRI")
}

/// A readable name for codecs a file may hold that earshot does not decode.
fn codec_display_name(codec: symphonia::core::codecs::audio::AudioCodecId) -> String {
    use symphonia::core::codecs::audio::well_known as wk;
    let known = [
        (wk::CODEC_ID_OPUS, "Opus"),
        (wk::CODEC_ID_ALAC, "ALAC"),
        (wk::CODEC_ID_WAVPACK, "WavPack"),
        (wk::CODEC_ID_AC3, "AC-3"),
        (wk::CODEC_ID_EAC3, "E-AC-3"),
        (wk::CODEC_ID_DCA, "DTS"),
        (wk::CODEC_ID_SPEEX, "Speex"),
        (wk::CODEC_ID_MP2, "MPEG Layer II"),
        (wk::CODEC_ID_MP1, "MPEG Layer I"),
    ];
    known.iter().find(|(id, _)| *id == codec).map_or_else(
        || format!("codec {codec}"),
        |(_, name)| format!("the {name} codec"),
    )
}

fn codec_name(decoder: &dyn AudioDecoder) -> String {
    decoder.codec_info().short_name.to_string()
}

impl Decoder {
    /// Open `path`, probe its container and set up a decoder for the default audio track.
    pub fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path)?;
        if meta.is_dir() {
            return Err(AudioError::IsDirectory);
        }
        if meta.len() == 0 {
            return Err(AudioError::Empty);
        }
        let file = File::open(path)?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let edit = match ext.as_deref() {
            Some("m4a" | "mp4" | "m4b" | "aac" | "mov") => mp4::read_edit_list(path).ok().flatten(),
            _ => None,
        };

        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = &ext {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(map_open_error)?;
        let container = format.format_info().short_name.to_string();

        let track = format
            .default_track(TrackType::Audio)
            .ok_or(AudioError::NoAudioTrack)?;
        let track_id = track.id;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or(AudioError::NoAudioTrack)?
            .clone();
        let track_frames = track.num_frames;

        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| match e {
                SymError::Unsupported(_) => AudioError::Unsupported(format!(
                    "{} has no decoder in earshot (supported: PCM, FLAC, MP3, Vorbis, AAC-LC)",
                    codec_display_name(params.codec)
                )),
                other => map_open_error(other),
            })?;
        let sample_rate = params
            .sample_rate
            .filter(|&r| r > 0)
            .ok_or_else(|| AudioError::Malformed("no sample rate in the header".into()))?;
        let channels = params
            .channels
            .as_ref()
            .map(|c| c.count())
            .filter(|&c| c > 0)
            .ok_or_else(|| AudioError::Malformed("no channel layout in the header".into()))?;
        let codec = codec_name(decoder.as_ref());
        let check_finite = codec.starts_with("pcm_f");
        // Trust the header's length only where it is exact: PCM and FLAC headers, and MP3 files
        // with a Xing/Info/VBRI tag (without one symphonia estimates the length from the
        // bitrate).
        let exact_length = matches!(container.as_str(), "wave" | "riff" | "flac" | "aiff")
            || codec.starts_with("pcm")
            || (codec == "mp3" && mp3_has_length_tag(path));

        // MP4 frame counts include the priming; with an edit list the exact count is only known
        // after decoding.
        let (skip_frames, frames) = match edit {
            Some(edit) => (edit.media_start_frames(sample_rate), None),
            None => (0, track_frames),
        };

        Ok(Decoder {
            format,
            decoder,
            track_id,
            info: AudioInfo {
                container,
                codec,
                sample_rate,
                channels,
                frames,
                bits_per_sample: params.bits_per_sample,
            },
            skip_frames,
            produced_frames: 0,
            check_finite,
            int16_output: false,
            exact_length: exact_length && track_frames.is_some(),
            scratch: Vec::new(),
            finished: false,
        })
    }

    /// Whether `librosa.load` reads this file through audioread (ffmpeg, 16-bit PCM) rather than
    /// soundfile: libsndfile reads WAV, FLAC, Ogg and MP3, not MP4/M4A or raw AAC.
    pub fn librosa_reads_via_audioread(&self) -> bool {
        matches!(self.info.container.as_str(), "isomp4" | "aac") || self.info.codec == "aac"
    }

    /// Quantise the output to signed 16 bits (`round half to even`, clipped to
    /// [-32768, 32767], divided by 32768), as ffmpeg's float → s16 conversion and audioread's
    /// buffer conversion in librosa do.
    pub fn set_int16_output(&mut self, on: bool) {
        self.int16_output = on;
    }

    /// The stream's properties from its headers.
    pub fn info(&self) -> &AudioInfo {
        &self.info
    }

    /// Decode the next packet into `block` (interleaved). Returns `Ok(false)` at the end of the
    /// stream. A block may be empty (e.g. trimmed priming) while the stream goes on.
    pub fn next_block(&mut self, block: &mut Block) -> Result<bool> {
        block.samples.clear();
        if self.finished {
            return Ok(false);
        }
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) | Err(SymError::ResetRequired) => return self.finish(),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return self.finish_truncated();
                }
                Err(SymError::IoError(e)) => return Err(AudioError::Io(e)),
                Err(SymError::DecodeError(what)) => {
                    return Err(AudioError::Malformed(format!(
                        "corrupt data after {} frames: {what}",
                        self.produced_frames
                    )))
                }
                Err(other) => return Err(map_open_error(other)),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(SymError::DecodeError(what)) => {
                    return Err(AudioError::Malformed(format!(
                        "corrupt packet after {} frames: {what}",
                        self.produced_frames
                    )))
                }
                Err(SymError::IoError(e)) => {
                    return Err(AudioError::Malformed(format!(
                        "truncated packet after {} frames: {e}",
                        self.produced_frames
                    )))
                }
                Err(other) => return Err(map_open_error(other)),
            };
            let channels = decoded.spec().channels().count();
            if channels != self.info.channels {
                return Err(AudioError::Malformed(format!(
                    "channel count changed from {} to {channels} mid-stream",
                    self.info.channels
                )));
            }
            decoded.copy_to_vec_interleaved(&mut self.scratch);
            let mut frames = &self.scratch[..];
            let mut n = (frames.len() / channels) as u64;
            if self.skip_frames > 0 {
                let skip = self.skip_frames.min(n);
                frames = &frames[(skip as usize) * channels..];
                self.skip_frames -= skip;
                n -= skip;
            }
            if self.check_finite {
                if let Some(pos) = frames.iter().position(|v| !v.is_finite()) {
                    let frame = self.produced_frames + (pos / channels) as u64;
                    let what = if frames[pos].is_nan() {
                        "NaN"
                    } else {
                        "infinite"
                    };
                    return Err(AudioError::NonFinite { frame, what });
                }
            }
            if self.int16_output {
                block.samples.extend(
                    frames.iter().map(|&v| {
                        (v * 32768.0).round_ties_even().clamp(-32768.0, 32767.0) / 32768.0
                    }),
                );
            } else {
                block.samples.extend_from_slice(frames);
            }
            self.produced_frames += n;
            return Ok(true);
        }
    }

    fn finish(&mut self) -> Result<bool> {
        self.finished = true;
        if self.produced_frames == 0 {
            return Err(AudioError::NoSamples);
        }
        if self.exact_length {
            if let Some(expected) = self.info.frames {
                if self.produced_frames < expected {
                    return Err(AudioError::Truncated {
                        expected,
                        decoded: self.produced_frames,
                    });
                }
            }
        }
        Ok(false)
    }

    fn finish_truncated(&mut self) -> Result<bool> {
        self.finished = true;
        match self.info.frames {
            Some(expected) if self.produced_frames < expected => Err(AudioError::Truncated {
                expected,
                decoded: self.produced_frames,
            }),
            _ if self.produced_frames == 0 => Err(AudioError::NoSamples),
            // Some demuxers report the end of a well-formed stream as an early EOF.
            _ => Ok(false),
        }
    }
}
