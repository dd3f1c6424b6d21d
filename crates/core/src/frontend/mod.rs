//! Front ends: waveform → the features each backbone consumes, computed in pure Rust
//! (`realfft`) so that they are fast and usable before any model is loaded.
//!
//! | [`Preset`] | matches | output |
//! |---|---|---|
//! | `panns`, `panns-16k`, `panns-8k` | torchlibrosa `Spectrogram` + `LogmelFilterBank` as `Cnn14` builds them ([`panns`]) | frames × 64, dB |
//! | `passt` | hear21passt `AugmentMelSTFT`, eval mode, `get_basic_model` arguments ([`passt`]) | frames × 128 |
//! | `openl3-linear`, `openl3-mel128`, `openl3-mel256` | torchopenl3 `preprocess_audio_batch` + its kapre-0.1.4 spectrogram layers ([`openl3`]) | windows × bins × frames, dB |
//! | `kaldi-fbank` | `torchaudio.compliance.kaldi.fbank` defaults ([`kaldi`]) | frames × 23, ln |
//! | `wav2vec2` | `Wav2Vec2FeatureExtractor(do_normalize=True)` ([`wav2vec2`]) | samples |
//! | `yamnet` | YAMNet's `features.py` log-mel (TF STFT and mel matrix) ([`yamnet`]) | frames × 64, ln |
//!
//! Every frame-based front end streams: [`FeatureStream`] takes samples block by block and
//! hands back finished rows, keeping only what the next frames need, so an hour of audio costs
//! the same memory as a second. Frames are independent, so each block's frames are computed in
//! parallel (rayon). [`Frontend::compute`] runs a whole waveform at once.
//!
//! Precision: all arithmetic is float64 and the output is rounded to float32 once. The
//! reference packages compute in float32; far below a frame's peak their values are rounding
//! noise (see [`stft`]), so parity is measured against the same reference code run in float64.

pub mod framing;
pub mod kaldi;
pub mod math;
pub mod mel;
pub mod openl3;
pub mod panns;
pub mod passt;
pub mod stft;
pub mod wav2vec2;
pub mod window;
pub mod yamnet;

use rayon::prelude::*;

use framing::{Framer, Framing, LeftPad, RightPad};
use stft::Workspace;

/// Why features could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The signal is shorter than the front end's padding or first frame allows (the
    /// reference raises too: torch's reflect pad, torchaudio's whole-frame assertion).
    #[error("{frontend} needs at least {needed} samples at {sample_rate} Hz, got {got}")]
    TooShort {
        /// The front end.
        frontend: &'static str,
        /// Fewest samples it accepts.
        needed: usize,
        /// Samples given.
        got: usize,
        /// Its sample rate.
        sample_rate: u32,
    },
    /// A front-end name that is not one of [`Preset::ALL`].
    #[error("unknown front end {0:?}; known: {known}", known = Preset::names())]
    Unknown(String),
}

/// `Result` with [`FrontendError`].
pub type Result<T> = std::result::Result<T, FrontendError>;

/// Per-frame feature computation, shared by the frame-based front ends.
pub trait FrameFeatures: Send + Sync + std::fmt::Debug {
    /// Shape of the features of one frame.
    fn row_shape(&self) -> Vec<usize>;
    /// Compute one frame (`Framing::frame_len` samples) into `out` (the row's length).
    fn process(&self, frame: &[f64], ws: &mut Workspace, out: &mut [f32]);
}

/// The front ends by name, one per backbone configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// PANNs at 32 kHz (Cnn14 and friends).
    Panns,
    /// PANNs `Cnn14_16k`.
    Panns16k,
    /// PANNs `Cnn14_8k`.
    Panns8k,
    /// PaSST (`get_basic_model`).
    Passt,
    /// OpenL3 linear spectrogram.
    Openl3Linear,
    /// OpenL3 128-band mel.
    Openl3Mel128,
    /// OpenL3 256-band mel.
    Openl3Mel256,
    /// Kaldi fbank with torchaudio's defaults.
    KaldiFbank,
    /// YAMNet's log-mel (16 kHz, 64 bands).
    Yamnet,
    /// wav2vec 2.0 input normalisation.
    Wav2vec2,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 10] = [
        Preset::Panns,
        Preset::Panns16k,
        Preset::Panns8k,
        Preset::Passt,
        Preset::Openl3Linear,
        Preset::Openl3Mel128,
        Preset::Openl3Mel256,
        Preset::KaldiFbank,
        Preset::Wav2vec2,
        Preset::Yamnet,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Panns => "panns",
            Preset::Panns16k => "panns-16k",
            Preset::Panns8k => "panns-8k",
            Preset::Passt => "passt",
            Preset::Openl3Linear => "openl3-linear",
            Preset::Openl3Mel128 => "openl3-mel128",
            Preset::Openl3Mel256 => "openl3-mel256",
            Preset::KaldiFbank => "kaldi-fbank",
            Preset::Wav2vec2 => "wav2vec2",
            Preset::Yamnet => "yamnet",
        }
    }

    fn names() -> String {
        Preset::ALL.map(Preset::name).join(", ")
    }

    /// The sample rate its input must have.
    pub fn sample_rate(self) -> u32 {
        match self {
            Preset::Panns | Preset::Passt => 32000,
            Preset::Panns16k | Preset::KaldiFbank | Preset::Wav2vec2 | Preset::Yamnet => 16000,
            Preset::Panns8k => 8000,
            Preset::Openl3Linear | Preset::Openl3Mel128 | Preset::Openl3Mel256 => {
                openl3::OPENL3_SAMPLE_RATE
            }
        }
    }

    /// Build the front end.
    pub fn build(self) -> Frontend {
        use openl3::{Openl3Config, Openl3Repr, Openl3Windows};
        let framed = |framing: Framing, preemphasis, frames: Box<dyn FrameFeatures>| {
            Kind::Framed(Framed {
                framing,
                preemphasis,
                frames,
            })
        };
        let panns = |c: panns::PannsConfig| {
            framed(c.framing(), None, Box::new(panns::PannsFrames::new(&c)))
        };
        let openl3 = |repr| {
            let c = Openl3Config::new(repr);
            framed(c.framing(), None, Box::new(Openl3Windows::new(&c)))
        };
        let kind = match self {
            Preset::Panns => panns(panns::PannsConfig::cnn14()),
            Preset::Panns16k => panns(panns::PannsConfig::cnn14_16k()),
            Preset::Panns8k => panns(panns::PannsConfig::cnn14_8k()),
            Preset::Passt => return Frontend::passt(&passt::PasstConfig::basic()),
            Preset::Openl3Linear => openl3(Openl3Repr::Linear),
            Preset::Openl3Mel128 => openl3(Openl3Repr::Mel128),
            Preset::Openl3Mel256 => openl3(Openl3Repr::Mel256),
            Preset::KaldiFbank => {
                let c = kaldi::KaldiFbankConfig::default();
                framed(c.framing(), None, Box::new(kaldi::KaldiFrames::new(&c)))
            }
            Preset::Wav2vec2 => Kind::Utterance(wav2vec2::Wav2vec2Config::default()),
            Preset::Yamnet => framed(
                yamnet::framing(),
                None,
                Box::<yamnet::YamnetFrames>::default(),
            ),
        };
        Frontend { preset: self, kind }
    }
}

impl std::str::FromStr for Preset {
    type Err = FrontendError;
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| FrontendError::Unknown(s.to_string()))
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug)]
struct Framed {
    framing: Framing,
    /// `y[n] = x[n+1] − c·x[n]` before framing (PaSST).
    preemphasis: Option<f64>,
    frames: Box<dyn FrameFeatures>,
}

#[derive(Debug)]
enum Kind {
    Framed(Framed),
    /// Needs the whole utterance (wav2vec 2.0 normalisation).
    Utterance(wav2vec2::Wav2vec2Config),
}

/// A built front end; cheap to share between threads.
#[derive(Debug)]
pub struct Frontend {
    preset: Preset,
    kind: Kind,
}

/// Features of one signal: a float32 array in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Shape, outermost first: rows (frames or windows) then the row shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl Frontend {
    /// PaSST's front end with other `AugmentMelSTFT` arguments than `get_basic_model`'s (the
    /// STFT-hop-100/160 checkpoints); reported as the `passt` preset.
    pub fn passt(config: &passt::PasstConfig) -> Frontend {
        Frontend {
            preset: Preset::Passt,
            kind: Kind::Framed(Framed {
                framing: config.framing(),
                preemphasis: Some(config.preemphasis),
                frames: Box::new(passt::PasstFrames::new(config)),
            }),
        }
    }

    /// Which preset this is.
    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// Sample rate the input must have.
    pub fn sample_rate(&self) -> u32 {
        self.preset.sample_rate()
    }

    /// Shape of one output row (a frame's or window's features); empty for wav2vec 2.0,
    /// whose output is one value per sample.
    pub fn row_shape(&self) -> Vec<usize> {
        match &self.kind {
            Kind::Framed(f) => f.frames.row_shape(),
            Kind::Utterance(_) => Vec::new(),
        }
    }

    /// Values per row.
    pub fn row_len(&self) -> usize {
        self.row_shape().iter().product()
    }

    /// Fewest input samples accepted.
    pub fn min_samples(&self) -> usize {
        match &self.kind {
            Kind::Framed(f) => {
                let mut need = f.framing.min_samples();
                if f.framing.left == LeftPad::None && f.framing.right == RightPad::None {
                    need = need.max(f.framing.frame_len);
                }
                need + usize::from(f.preemphasis.is_some())
            }
            Kind::Utterance(_) => 1,
        }
    }

    /// Rows that `n` input samples give.
    pub fn n_rows(&self, n: usize) -> usize {
        match &self.kind {
            Kind::Framed(f) if n >= self.min_samples() => {
                f.framing.n_frames(n - usize::from(f.preemphasis.is_some()))
            }
            Kind::Framed(_) => 0,
            Kind::Utterance(_) => n,
        }
    }

    /// Start streaming a signal.
    pub fn stream(&self) -> FeatureStream<'_> {
        FeatureStream {
            frontend: self,
            framer: match &self.kind {
                Kind::Framed(f) => Some(Framer::new(f.framing)),
                Kind::Utterance(_) => None,
            },
            last: None,
            whole: Vec::new(),
            seen: 0,
            rows: 0,
        }
    }

    /// Features of a whole signal (at [`Frontend::sample_rate`]).
    pub fn compute(&self, samples: &[f32]) -> Result<Features> {
        let mut stream = self.stream();
        if let Some(framer) = stream.framer.as_mut() {
            framer.reserve(samples.len());
        }
        let mut data = Vec::with_capacity(self.n_rows(samples.len()) * self.row_len().max(1));
        stream.push(samples, &mut data);
        let shape = stream.finish(&mut data)?;
        Ok(Features { shape, data })
    }
}

/// A signal going through a [`Frontend`] block by block.
#[derive(Debug)]
pub struct FeatureStream<'a> {
    frontend: &'a Frontend,
    framer: Option<Framer>,
    /// Last raw sample, for pre-emphasis across blocks.
    last: Option<f64>,
    /// All samples, for front ends that need the whole utterance.
    whole: Vec<f32>,
    seen: usize,
    rows: usize,
}

impl FeatureStream<'_> {
    /// Feed `samples`; append the rows they complete to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) {
        self.seen += samples.len();
        let (Kind::Framed(f), Some(framer)) = (&self.frontend.kind, self.framer.as_mut()) else {
            self.whole.extend_from_slice(samples);
            return;
        };
        match f.preemphasis {
            None => framer.push(samples),
            Some(c) => {
                // y[n] = x[n+1] − c·x[n]: the first sample only primes `last`.
                let (first, rest, emitted) = match (self.last, samples) {
                    (_, []) => return,
                    (Some(prev), _) => (prev, samples, samples.len()),
                    (None, [x0, rest @ ..]) => (*x0 as f64, rest, rest.len()),
                };
                framer.push_with(emitted, |buf| {
                    let mut prev = first;
                    buf.extend(rest.iter().map(|&x| {
                        let x = x as f64;
                        let y = x - c * prev;
                        prev = x;
                        y
                    }));
                });
                self.last = Some(*samples.last().expect("non-empty") as f64);
            }
        }
        self.rows += drain(f, framer, out);
    }

    /// End of the signal: append the last rows and return the shape of everything produced.
    pub fn finish(mut self, out: &mut Vec<f32>) -> Result<Vec<usize>> {
        let need = self.frontend.min_samples();
        if self.seen < need {
            return Err(FrontendError::TooShort {
                frontend: self.frontend.preset.name(),
                needed: need,
                got: self.seen,
                sample_rate: self.frontend.sample_rate(),
            });
        }
        match (&self.frontend.kind, self.framer.as_mut()) {
            (Kind::Framed(f), Some(framer)) => {
                framer.finish();
                self.rows += drain(f, framer, out);
                let mut shape = vec![self.rows];
                shape.extend(f.frames.row_shape());
                Ok(shape)
            }
            (Kind::Utterance(config), _) => {
                let start = out.len();
                out.extend_from_slice(&self.whole);
                wav2vec2::normalize_in_place(config, &mut out[start..]);
                Ok(vec![self.whole.len()])
            }
            (Kind::Framed(_), None) => unreachable!("framed front ends stream through a framer"),
        }
    }

    /// Rows produced so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Samples the stream holds: bounded for the frame-based front ends, the whole signal for
    /// wav2vec 2.0.
    pub fn buffered(&self) -> usize {
        self.framer
            .as_ref()
            .map_or(self.whole.len(), Framer::buffered)
    }
}

/// Sum with eight independent partial sums, which vectorises (a plain fold is one serial
/// chain of additions).
pub(crate) fn sum(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for j in 0..8 {
            acc[j] += c[j];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Compute every complete frame in `framer` into `out`, in parallel; returns the count.
fn drain(f: &Framed, framer: &mut Framer, out: &mut Vec<f32>) -> usize {
    let (signal, count) = framer.ready();
    if count == 0 {
        return 0;
    }
    let row_len: usize = f.frames.row_shape().iter().product();
    let (frame_len, hop) = (f.framing.frame_len, f.framing.hop);
    let start = out.len();
    out.resize(start + count * row_len, 0.0);
    let rows = &mut out[start..];
    let work = |ws: &mut Workspace, (i, row): (usize, &mut [f32])| {
        f.frames
            .process(&signal[i * hop..i * hop + frame_len], ws, row)
    };
    // Per-frame work is a few microseconds: hand rayon batches, not single frames.
    if count * row_len < 4096 {
        let mut ws = Workspace::default();
        rows.chunks_mut(row_len)
            .enumerate()
            .for_each(|item| work(&mut ws, item));
    } else {
        rows.par_chunks_mut(row_len)
            .enumerate()
            .with_min_len((4096 / row_len).clamp(1, 16))
            .for_each_init(Workspace::default, work);
    }
    framer.consume(count);
    count
}
