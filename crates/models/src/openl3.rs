//! OpenL3: the audio embedding network of Cramer et al., "Look, Listen and Learn More" (ICASSP
//! 2019), as `marl/openl3` (`openl3/models.py`, v0.3.1) builds it in Keras and `torchopenl3`
//! (`torchopenl3/models.py` `PytorchOpenl3`, `core.py` `get_audio_embedding`, `utils.py`
//! `preprocess_audio_batch`) ports it to PyTorch. The parity target is torchopenl3.
//!
//! * Framing: 1-s windows (48000 samples) every `int(hop_size · 48000)` samples; `center`
//!   prepends half a window of zeros (and nothing at the end); zeros are then appended up to a
//!   whole number of hops after the first window (at least one window). Windows are computed in
//!   chunks of [`LoadedOpenl3::batch_size`], so a long file costs bounded memory.
//! * Spectrogram layer (kapre 0.1.4, which the weights were trained with): a strided conv1d with
//!   DFT kernels (cos, −sin times a float32 periodic Hann), power, then for mel the TF "same"
//!   padding (982 zeros each side), the mel matrix on the power and the square root; for linear
//!   the square root. dB is `10·ln(max(x, 1e-10)) / ln 10` (ln 10 rounded to float32) — 10 on a
//!   magnitude — minus each window's maximum, floored at −80. It runs in libtorch in float32
//!   with the same tensors (`speclayer.*`), as torchopenl3 does: the bins near −80 are float32
//!   rounding noise, which only the same arithmetic reproduces.
//! * Network: input BatchNorm over one channel, then [3×3 conv + bias → BN → ReLU] × 2 and a 2×2
//!   max pool, with 64, 128, 256 channels, then conv 512 → BN → ReLU → `audio_embedding_layer`
//!   (512, **no BN or ReLU after it**). Keras' BN epsilon 1e-3. The embedding is a max pool over
//!   the final map (linear/mel256 32×24, mel128 16×24) — the whole map for 512-d, 8×8 (mel128
//!   4×8) for 6144-d — flattened channels-last: index `(f·3 + t)·512 + c`.
//! * Timestamps are `i · hop_size` whether or not the signal was centred: both openl3 and
//!   torchopenl3 return that (with `center=False` it is the window's start, not its centre).
//!
//! Weights: torchopenl3's `.pth.tar` state dicts load strictly (`batch_normalization_1..8`,
//! `conv2d_1..7`, `audio_embedding_layer`, `speclayer.*`; `num_batches_tracked` ignored), using
//! their own spectrogram tensors as torchopenl3 does. The official Keras files
//! (`openl3_audio_<repr>_<content>.h5`) map in one place ([`keras_to_torch`]): layers are matched
//! by type and order (`batch_normalization_*`, `conv2d_*`, `audio_embedding_layer`), kernels
//! go HWIO → OIHW, gamma/beta/moving_mean/moving_variance → weight/bias/running_mean/running_var.
//! Those files carry no spectrogram layer (v0_4_0 removed kapre's), so earshot builds the
//! kernels and mel matrix exactly as torchopenl3 does at construction (the mel with
//! `librosa.filters.mel(htk=True, norm=1)` of librosa ≥ 0.8, an L1 norm per filter).
//! The 512- and 6144-d models share their weights; only the last pooling differs.

use std::path::Path;

use tch::{nn, Tensor};

use super::{ConvBn, EmbedOptions, Layers, ModelError};
use crate::tensor::ToTch;
use earshot_core::checkpoint::{self, Checkpoint, CheckpointError, RawTensor};
use earshot_core::frontend::framing::{Framing, LeftPad, RightPad};
use earshot_core::frontend::mel::{librosa_mel, MelNorm, MelScale};
use earshot_core::frontend::openl3::Openl3Repr;
use earshot_core::outputs::{ClipOutput, Embeddings};

/// OpenL3's sample rate.
pub const SAMPLE_RATE: u32 = 48000;
/// Samples in a window (1 s).
pub const WINDOW: usize = SAMPLE_RATE as usize;
/// Hop of the spectrogram frames inside a window.
const N_HOP: i64 = 242;
const AMIN: f64 = 1e-10;
const DYNAMIC_RANGE: f64 = 80.0;
/// Keras' BatchNormalization epsilon.
const BN_EPS: f64 = 1e-3;

/// The training data of the weights (`content_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// Trained on music videos.
    Music,
    /// Trained on environmental videos.
    Env,
}

impl ContentType {
    /// The reference's spelling.
    pub fn name(self) -> &'static str {
        match self {
            ContentType::Music => "music",
            ContentType::Env => "env",
        }
    }
}

/// The reference's spelling of an input representation.
pub fn repr_name(repr: Openl3Repr) -> &'static str {
    match repr {
        Openl3Repr::Linear => "linear",
        Openl3Repr::Mel128 => "mel128",
        Openl3Repr::Mel256 => "mel256",
    }
}

/// `get_audio_embedding`'s model arguments: `input_repr`, `content_type`, `embedding_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Spectrogram the network reads.
    pub input_repr: Openl3Repr,
    /// Which weights (the architecture is the same).
    pub content_type: ContentType,
    /// 512 or 6144.
    pub embedding_size: i64,
}

impl Config {
    /// The reference's defaults: mel256, music, 6144.
    pub const DEFAULT: Config = Config {
        input_repr: Openl3Repr::Mel256,
        content_type: ContentType::Music,
        embedding_size: 6144,
    };

    /// A configuration from the reference's argument values (`"mel256"`, `"music"`, 6144).
    pub fn from_names(input_repr: &str, content_type: &str, embedding_size: i64) -> Result<Self> {
        let input_repr = match input_repr {
            "linear" => Openl3Repr::Linear,
            "mel128" => Openl3Repr::Mel128,
            "mel256" => Openl3Repr::Mel256,
            other => {
                return Err(ModelError::Input(format!(
                    "OpenL3 input representation {other:?}: expected linear, mel128 or mel256"
                )))
            }
        };
        let content_type = match content_type {
            "music" => ContentType::Music,
            "env" => ContentType::Env,
            other => {
                return Err(ModelError::Input(format!(
                    "OpenL3 content type {other:?}: expected music or env"
                )))
            }
        };
        if embedding_size != 512 && embedding_size != 6144 {
            return Err(ModelError::Input(format!(
                "OpenL3 embedding size {embedding_size}: expected 512 or 6144"
            )));
        }
        Ok(Config {
            input_repr,
            content_type,
            embedding_size,
        })
    }

    /// The configuration a model card's `[arguments]` give (`input_repr`, `content_type`,
    /// `embedding_size`, as `get_audio_embedding` takes them), every one required and no other
    /// accepted.
    pub fn from_spec(spec: &earshot_core::registry::ModelSpec) -> Result<Self> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Arguments {
            input_repr: String,
            content_type: String,
            embedding_size: i64,
        }
        let args: Arguments = crate::card_arguments(spec)?;
        Config::from_names(&args.input_repr, &args.content_type, args.embedding_size)
    }

    /// The model card name.
    pub fn name(&self) -> String {
        format!(
            "openl3-{}-{}-{}",
            repr_name(self.input_repr),
            self.content_type.name(),
            self.embedding_size
        )
    }

    /// `AUDIO_POOLING_SIZES`: the max pool over the final (freq, time) map.
    pub fn pool_size(&self) -> [i64; 2] {
        match (self.input_repr, self.embedding_size) {
            (Openl3Repr::Mel128, 512) => [16, 24],
            (Openl3Repr::Mel128, _) => [4, 8],
            (_, 512) => [32, 24],
            _ => [8, 8],
        }
    }

    fn n_dft(&self) -> i64 {
        match self.input_repr {
            Openl3Repr::Linear => 512,
            _ => 2048,
        }
    }

    fn n_mels(&self) -> Option<i64> {
        match self.input_repr {
            Openl3Repr::Linear => None,
            Openl3Repr::Mel128 => Some(128),
            Openl3Repr::Mel256 => Some(256),
        }
    }
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, ModelError>;

/// kapre 0.1.4's DFT kernels as torchopenl3 builds them (`CustomSTFT.get_stft_kernels`):
/// `cos(w_k·t)` and `−sin(w_k·t)` in float64 with `w_k = k·2·π / n_dft`, times scipy's periodic
/// Hann rounded to float32, then stored as float32; shape (n_dft/2 + 1, 1, n_dft) each.
pub fn dft_kernels(n_dft: usize) -> (Tensor, Tensor) {
    let n_bins = n_dft / 2 + 1;
    // scipy.signal.get_window('hann', n, fftbins=True): 0.5 + 0.5·cos(linspace(−π, π, n+1)[n]).
    let step = 2.0 * std::f64::consts::PI / n_dft as f64;
    let window: Vec<f64> = (0..n_dft)
        .map(|t| {
            let fac = t as f64 * step + -std::f64::consts::PI;
            (0.5 + 0.5 * fac.cos()) as f32 as f64
        })
        .collect();
    let mut real = Vec::with_capacity(n_bins * n_dft);
    let mut imag = Vec::with_capacity(n_bins * n_dft);
    for k in 0..n_bins {
        let w = (k * 2) as f64 * std::f64::consts::PI / n_dft as f64;
        for (t, &win) in window.iter().enumerate() {
            let phase = w * t as f64;
            real.push((phase.cos() * win) as f32);
            imag.push((-phase.sin() * win) as f32);
        }
    }
    let shape = [n_bins as i64, 1, n_dft as i64];
    (
        Tensor::from_slice(&real).reshape(shape),
        Tensor::from_slice(&imag).reshape(shape),
    )
}

/// torchopenl3's `mel_basis`: `librosa.filters.mel(sr=48000, n_fft=n_dft, n_mels=n_mels,
/// fmin=0, fmax=24000, htk=True, norm=1)`, float32, (n_mels, n_dft/2 + 1).
pub fn mel_basis(n_dft: usize, n_mels: usize) -> Tensor {
    let bank = librosa_mel(
        SAMPLE_RATE as f64,
        n_dft,
        n_mels,
        0.0,
        (SAMPLE_RATE / 2) as f64,
        MelScale::Htk,
        MelNorm::L1,
    );
    let dense: Vec<f32> = bank.to_dense().iter().map(|&v| v as f32).collect();
    Tensor::from_slice(&dense).reshape([n_mels as i64, (n_dft / 2 + 1) as i64])
}

/// kapre 0.1.4's spectrogram layer (`speclayer`).
#[derive(Debug)]
struct SpecLayer {
    dft_real_kernels: Tensor,
    dft_imag_kernels: Tensor,
    mel_basis: Option<Tensor>,
    /// Keras 'same' padding of the window on each side (mel only).
    same_pad: [i64; 2],
}

impl SpecLayer {
    fn new(p: nn::Path, cfg: &Config) -> Self {
        let n_dft = cfg.n_dft();
        let (real, imag) = dft_kernels(n_dft as usize);
        let mel_basis = cfg
            .n_mels()
            .map(|n_mels| p.var_copy("mel_basis", &mel_basis(n_dft as usize, n_mels as usize)));
        // kapre's custom_pad: TF 'same' padding of the 48000-sample window.
        let same_pad = if mel_basis.is_some() {
            let width = WINDOW as i64;
            let total = if width % N_HOP == 0 {
                (n_dft - N_HOP).max(0)
            } else {
                (n_dft - width % N_HOP).max(0)
            };
            [total / 2, total - total / 2]
        } else {
            [0, 0]
        };
        SpecLayer {
            dft_real_kernels: p.var_copy("dft_real_kernels", &real),
            dft_imag_kernels: p.var_copy("dft_imag_kernels", &imag),
            mel_basis,
            same_pad,
        }
    }

    /// (windows, 48000) → (windows, 1, bins, frames) dB, in the reference's order of operations.
    fn forward(&self, windows: &Tensor) -> Tensor {
        let mut x = windows.unsqueeze(1);
        if self.mel_basis.is_some() {
            x = x.constant_pad_nd(self.same_pad);
        }
        let conv = |k: &Tensor| x.conv1d(k, None::<Tensor>, [N_HOP], [0], [1], 1);
        let power = conv(&self.dft_real_kernels).pow_tensor_scalar(2)
            + conv(&self.dft_imag_kernels).pow_tensor_scalar(2);
        let magnitude = match &self.mel_basis {
            None => power.sqrt(),
            Some(mel) => mel.matmul(&power).sqrt(),
        };
        let log_spec =
            magnitude.clamp_min(AMIN).log() * 10.0 / (std::f64::consts::LN_10 as f32 as f64);
        let max = log_spec.amax([1, 2], true);
        (log_spec - max).clamp_min(-DYNAMIC_RANGE).unsqueeze(1)
    }
}

fn conv3x3(p: nn::Path, cin: i64, cout: i64) -> nn::Conv2D {
    // torchopenl3 pads explicitly (F.pad) and convolves without padding; libtorch's own zero
    // padding gives bit-identical results (checked by the parity tests) without the copies.
    nn::conv2d(
        p,
        cin,
        cout,
        3,
        nn::ConvConfig {
            padding: 1,
            ..Default::default()
        },
    )
}

fn bn(p: nn::Path, c: i64) -> nn::BatchNorm {
    nn::batch_norm2d(
        p,
        c,
        nn::BatchNormConfig {
            eps: BN_EPS,
            ..Default::default()
        },
    )
}

/// `PytorchOpenl3`, variables named as its state dict.
#[derive(Debug)]
pub struct Openl3 {
    cfg: Config,
    speclayer: SpecLayer,
    /// `batch_normalization_1`, on the spectrogram.
    bn_in: nn::BatchNorm,
    /// `conv2d_i` with `batch_normalization_{i+1}`, i = 1 … 7 (folded after loading).
    convs: Vec<ConvBn<[i64; 2]>>,
    audio_embedding_layer: nn::Conv2D,
}

impl Openl3 {
    /// Build the network under `p` (random weights until loaded).
    pub fn new(p: &nn::Path, cfg: &Config) -> Self {
        let channels = [1, 64, 64, 128, 128, 256, 256, 512];
        let bn_in = bn(p / "batch_normalization_1", channels[0]);
        let convs = (1..=7)
            .map(|i| {
                ConvBn::new(
                    conv3x3(p / format!("conv2d_{i}"), channels[i - 1], channels[i]),
                    bn(p / format!("batch_normalization_{}", i + 1), channels[i]),
                    BN_EPS,
                )
            })
            .collect();
        Openl3 {
            cfg: *cfg,
            speclayer: SpecLayer::new(p / "speclayer", cfg),
            bn_in,
            convs,
            audio_embedding_layer: conv3x3(p / "audio_embedding_layer", 512, 512),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// After loading: fold each convolution's BatchNorm into it and lay the weights out
    /// channels-last (outputs change by rounding only). The input BN stays.
    pub fn fold_batch_norms(&mut self) {
        self.convs.iter_mut().for_each(ConvBn::fuse);
        let _guard = tch::no_grad_guard();
        let w = super::channels_last(&self.audio_embedding_layer.ws);
        self.audio_embedding_layer.ws.set_data(&w);
    }

    /// The network's input: (windows, 1, bins, frames) dB spectrograms of (windows, 48000)
    /// float32 samples.
    pub fn spectrogram(&self, windows: &Tensor) -> Tensor {
        crate::device::full_precision(|| self.speclayer.forward(windows))
    }

    /// The output of `audio_embedding_layer`, (windows, 512, freq, time), before pooling; one
    /// map serves both embedding sizes.
    pub fn feature_map(&self, windows: &Tensor) -> Tensor {
        let mut x = self.spectrogram(windows).apply_t(&self.bn_in, false);
        for (i, conv) in self.convs.iter().enumerate() {
            // The convolution's output is a fresh tensor: rectify it in place.
            x = conv.forward(&x).relu_();
            // Pool after every second conv of the first three blocks.
            if i % 2 == 1 && i < 6 {
                x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
        }
        x.apply(&self.audio_embedding_layer)
    }

    /// Embeddings of a feature map for `embedding_size`: max pool, then flatten channels-last.
    pub fn pool(&self, map: &Tensor, embedding_size: i64) -> Tensor {
        let cfg = Config {
            embedding_size,
            ..self.cfg
        };
        let size = cfg.pool_size();
        map.max_pool2d(size, size, [0, 0], [1, 1], false)
            .permute([0, 2, 3, 1])
            .flatten(1, -1)
    }

    /// (windows, 48000) float32 samples → (windows, embedding_size).
    pub fn forward(&self, windows: &Tensor) -> Tensor {
        self.pool(&self.feature_map(windows), self.cfg.embedding_size)
    }
}

/// The window layout of `get_audio_embedding(..., center, hop_size)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Windowing {
    /// Seconds between windows.
    pub hop_size: f64,
    /// Half a window of zeros in front.
    pub center: bool,
}

impl Default for Windowing {
    fn default() -> Self {
        Windowing {
            hop_size: 0.1,
            center: true,
        }
    }
}

impl Windowing {
    /// `int(hop_size · 48000)` samples; refuses hops under one sample.
    pub fn hop(&self) -> Result<usize> {
        let hop = self.hop_size * SAMPLE_RATE as f64;
        if !hop.is_finite() || hop < 1.0 {
            return Err(ModelError::Input(format!(
                "hop {} s: must be at least one sample (1/48000 s)",
                self.hop_size
            )));
        }
        Ok(hop as usize)
    }

    /// The framing (shared with the OpenL3 front end).
    pub fn framing(&self) -> Result<Framing> {
        Ok(Framing {
            frame_len: WINDOW,
            hop: self.hop()?,
            left: if self.center {
                LeftPad::Zeros(WINDOW / 2)
            } else {
                LeftPad::None
            },
            right: RightPad::ZerosToHop,
        })
    }

    /// Windows a clip of `samples` samples gives.
    pub fn n_windows(&self, samples: usize) -> Result<usize> {
        Ok(self.framing()?.n_frames(samples))
    }

    /// `i · hop_size`, as the reference reports them.
    pub fn timestamps(&self, n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 * self.hop_size).collect()
    }

    /// Windows `first .. first + count` of `samples`, padded as the reference pads, as a
    /// (count, 48000) tensor.
    pub fn windows(&self, samples: &[f32], first: usize, count: usize) -> Result<Tensor> {
        let hop = self.hop()?;
        let left = if self.center { WINDOW / 2 } else { 0 };
        let start = first * hop;
        let len = (count.max(1) - 1) * hop + WINDOW;
        // Padded index i holds samples[i - left], zero outside the clip.
        let mut span = vec![0f32; len];
        let from = start.max(left);
        let to = (start + len).min(left + samples.len());
        if from < to {
            span[from - start..to - start].copy_from_slice(&samples[from - left..to - left]);
        }
        Ok(Tensor::from_slice(&span)
            .unfold(0, WINDOW as i64, hop as i64)
            .contiguous())
    }
}

/// A model with its weights.
pub struct LoadedOpenl3 {
    /// Owns the variables.
    pub vs: nn::VarStore,
    /// The network.
    pub model: Openl3,
    /// Windows per forward pass (`get_audio_embedding`'s `batch_size`, 32).
    pub batch_size: usize,
}

const IGNORED_KEYS: &[&str] = &["*.num_batches_tracked"];

/// Build `cfg`'s network on `device` and load its weights strictly: a torchopenl3 state dict
/// (`.pth.tar`) or an official OpenL3 Keras weight file (`.h5`), told apart by content.
pub fn load(path: &Path, cfg: &Config, device: tch::Device) -> Result<LoadedOpenl3> {
    let ckpt = checkpoint::load(path)?;
    let mut vs = nn::VarStore::new(device);
    let mut model = Openl3::new(&vs.root(), cfg);
    let ckpt = if ckpt.format == checkpoint::Format::KerasH5 {
        keras_to_torch(&ckpt, &vs)?
    } else {
        ckpt
    };
    crate::strict::load_into(&mut vs, &ckpt, IGNORED_KEYS)?;
    drop(ckpt);
    vs.freeze();
    model.fold_batch_norms();
    Ok(LoadedOpenl3 {
        vs,
        model,
        batch_size: 32,
    })
}

/// The trailing number of a Keras layer name (`conv2d_12` → 12).
fn layer_number(name: &str) -> u64 {
    name.rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The weight `leaf` (`kernel:0`, `gamma:0`, ...) of a Keras layer.
fn weight<'a>(
    layer: &str,
    weights: &[(String, &'a RawTensor)],
    leaf: &str,
) -> checkpoint::Result<&'a RawTensor> {
    weights
        .iter()
        .find(|(l, _)| l == leaf)
        .map(|(_, t)| *t)
        .ok_or_else(|| CheckpointError::Missing(format!("{layer}/{leaf}")))
}

/// Rename an official OpenL3 Keras weight file to torchopenl3's state dict: layers by type in
/// order of their number (Keras numbers layers per session, so the first BN of a file may not be
/// `batch_normalization_1`), weights by their own names; conv kernels HWIO → OIHW. The spectrogram
/// tensors come from `vs` (built by [`Openl3::new`]); a kapre spectrogram layer stored in older
/// files is not used.
pub fn keras_to_torch(ckpt: &Checkpoint, vs: &nn::VarStore) -> Result<Checkpoint> {
    // Top-level layer → its weights (leaf name → tensor).
    let mut layers: Vec<(String, Vec<(String, &RawTensor)>)> = Vec::new();
    for (name, t) in &ckpt.tensors {
        let (layer, rest) = name.split_once('/').unwrap_or(("", name));
        let leaf = rest.rsplit('/').next().unwrap_or(rest).to_string();
        match layers.iter_mut().find(|(l, _)| l == layer) {
            Some((_, ws)) => ws.push((leaf, t)),
            None => layers.push((layer.to_string(), vec![(leaf, t)])),
        }
    }
    let of_kind = |prefix: &str| {
        let mut v: Vec<&(String, Vec<(String, &RawTensor)>)> = layers
            .iter()
            .filter(|(l, _)| l.starts_with(prefix))
            .collect();
        v.sort_by_key(|(l, _)| layer_number(l));
        v
    };
    let bns = of_kind("batch_normalization");
    let convs = of_kind("conv2d");
    let embedding = of_kind("audio_embedding_layer");
    let unknown: Vec<&str> = layers
        .iter()
        .map(|(l, _)| l.as_str())
        .filter(|l| {
            !(l.starts_with("batch_normalization")
                || l.starts_with("conv2d")
                || *l == "audio_embedding_layer"
                || l.contains("spectrogram"))
        })
        .collect();
    if bns.len() != 8 || convs.len() != 7 || embedding.len() != 1 || !unknown.is_empty() {
        return Err(CheckpointError::Mismatch(format!(
            "not an OpenL3 audio model: expected 8 batch_normalization, 7 conv2d and 1 \
             audio_embedding_layer layers, found {}, {} and {}{}",
            bns.len(),
            convs.len(),
            embedding.len(),
            if unknown.is_empty() {
                String::new()
            } else {
                format!(", and unknown layers {}", unknown.join(", "))
            }
        ))
        .into());
    }
    let mut tensors = Vec::new();
    for (i, (layer, ws)) in bns.iter().enumerate() {
        let to = format!("batch_normalization_{}", i + 1);
        for (leaf, field) in [
            ("gamma:0", "weight"),
            ("beta:0", "bias"),
            ("moving_mean:0", "running_mean"),
            ("moving_variance:0", "running_var"),
        ] {
            tensors.push((format!("{to}.{field}"), weight(layer, ws, leaf)?.clone()));
        }
    }
    let conv_names = (1..=7)
        .map(|i| format!("conv2d_{i}"))
        .chain(["audio_embedding_layer".to_string()]);
    for ((layer, ws), to) in convs.iter().chain(&embedding).copied().zip(conv_names) {
        let kernel = weight(layer, ws, "kernel:0")?;
        if kernel.shape.len() != 4 {
            return Err(CheckpointError::Mismatch(format!(
                "{layer}/kernel:0 has shape {:?}, expected (3, 3, in, out)",
                kernel.shape
            ))
            .into());
        }
        let oihw = kernel.to_tch()?.f_permute([3, 2, 0, 1])?;
        tensors.push((format!("{to}.weight"), crate::tensor::f32_raw(&oihw)?));
        tensors.push((format!("{to}.bias"), weight(layer, ws, "bias:0")?.clone()));
    }
    for (name, var) in vs.variables() {
        if name.starts_with("speclayer.") {
            tensors.push((name, crate::tensor::f32_raw(&var)?));
        }
    }
    Ok(Checkpoint {
        format: ckpt.format,
        tensors,
        metadata: ckpt.metadata.clone(),
        opaque: ckpt.opaque.clone(),
    })
}

impl LoadedOpenl3 {
    /// The network's (freq, time, 512) maps of every window of a clip, chunk by chunk, handed to
    /// `each` with the index of the chunk's first window.
    pub fn for_each_chunk(
        &self,
        samples: &[f32],
        windowing: &Windowing,
        mut each: impl FnMut(usize, Tensor) -> Result<()>,
    ) -> Result<usize> {
        if samples.is_empty() {
            return Err(ModelError::Input("empty audio".into()));
        }
        let n = windowing.n_windows(samples.len())?;
        let batch = self.batch_size.max(1);
        let mut first = 0;
        while first < n {
            let count = batch.min(n - first);
            let windows = windowing
                .windows(samples, first, count)?
                .to_device(self.vs.device());
            let map = tch::no_grad(|| self.model.feature_map(&windows));
            each(first, map)?;
            first += count;
        }
        Ok(n)
    }

    /// Window embeddings (windows × `embedding_size`) and their timestamps, as
    /// `get_audio_embedding(audio, 48000, center=..., hop_size=...)`.
    pub fn embed_windows(&self, samples: &[f32], windowing: &Windowing) -> Result<Embeddings> {
        let dim = self.model.config().embedding_size as usize;
        let mut frames = Vec::new();
        let n = self.for_each_chunk(samples, windowing, |_, map| {
            let e = self.model.pool(&map, self.model.config().embedding_size);
            frames.extend(super::f32_values(&e)?);
            Ok(())
        })?;
        let shape = vec![n, dim];
        Ok(Embeddings {
            scene: Embeddings::mean_over_frames(&frames, &shape),
            shape,
            timestamps: windowing.timestamps(n),
            frames,
        })
    }
}

impl super::AudioModel for LoadedOpenl3 {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    /// Padding makes a window of any non-empty clip.
    fn min_samples(&self) -> usize {
        1
    }

    fn classes(&self) -> usize {
        0
    }

    /// Each clip's scene embedding (the mean of its window embeddings at the default hop and
    /// centring).
    fn run_batch(&self, clips: &[&[f32]]) -> Result<Vec<ClipOutput>> {
        clips
            .iter()
            .map(|clip| {
                let e = self.embed_windows(clip, &Windowing::default())?;
                Ok(ClipOutput {
                    duration: clip.len() as f64 / SAMPLE_RATE as f64,
                    clipwise: Vec::new(),
                    embedding: Some(e.scene),
                    framewise: None,
                    frame_hop: 0.0,
                })
            })
            .collect()
    }

    fn embed(&self, samples: &[f32], options: &EmbedOptions) -> Result<Embeddings> {
        if options.layers != Layers::Last {
            return Err(ModelError::Unsupported(
                "OpenL3 has one embedding layer; --layers does not apply".into(),
            ));
        }
        let defaults = Windowing::default();
        let windowing = Windowing {
            hop_size: options.hop.unwrap_or(defaults.hop_size),
            center: options.center.unwrap_or(defaults.center),
        };
        self.embed_windows(samples, &windowing)
    }
}
