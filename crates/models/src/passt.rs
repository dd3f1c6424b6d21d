//! PaSST: the Patchout faSt Spectrogram Transformer of Koutini et al., "Efficient Training of
//! Audio Transformers with Patchout" (Interspeech 2022), as `hear21passt/models/passt.py` (class
//! `PaSST`, pip hear21passt 0.0.26) defines it in eval mode, wrapped as
//! `hear21passt/wrapper.py::PasstBasicWrapper` wraps it for HEAR 2021.
//!
//! Network: the log-mel of [`earshot_core::frontend::passt`] as a (B, 1, 128, T) image; a 16×16
//! convolution at stride 10 (overlapping patches; 16 for the `s16` checkpoints) gives a
//! (B, 768, 12, T') grid; separate time (`time_new_pos_embed`, cut to T' for shorter input) and
//! frequency (`freq_new_pos_embed`) positional embeddings are added; the grid is flattened
//! frequency-major; cls and distillation tokens (each plus its `new_pos_embed` row) go in front;
//! 12 pre-norm ViT blocks (LayerNorm eps 1e-6, fused qkv, exact GELU); the final `norm`; then
//! `features = (x[:,0] + x[:,1]) / 2` and `logits = head(features)` where `head` is LayerNorm
//! with the *default* eps 1e-5 followed by a Linear. `head_dist` is in every checkpoint but unused
//! in the forward pass, so it is not loaded. Attention runs through libtorch's fused
//! `scaled_dot_product_attention`, which never holds the whole score matrix.
//!
//! Wrapper (HEAR 2021 API): the scene embedding is mode "all", `[logits (527), features (768)]`
//! = 1295 values. Clips up to `max_model_window` (10 s; 20 s and 30 s for those checkpoints) go
//! through in one pass. Longer clips are reflect-padded by half a window on both sides and cut
//! into windows of `max_model_window` every `scene_hop` (2.5 s; 5 s and 10 s for the 20-s and
//! 30-s checkpoints, as their `load_model` sets), and the windows' embeddings are averaged, logits
//! included; the clip's probabilities are the sigmoid of those averaged logits. Timestamp
//! embeddings are whole forward passes over 160-ms windows (one time patch each) every 50 ms of
//! the signal reflect-padded by 80 ms, stamped `i · hop` (window centres).
//!
//! Checkpoints: the official release files (`passt-s-f128-p16-s10-ap.476-swa.pt`, ...) are flat
//! state dicts in torch's zip format, keys as the `PaSST` module names them; a `{'model': sd}`
//! wrapper and the pre-convolution 2-d `patch_embed.proj.weight` are accepted as
//! `checkpoint_filter_fn` accepts them.

use tch::nn;
use tch::{Kind, Tensor};

use super::{layer_norm, ModelError, Result};
use earshot_core::checkpoint::{self, Checkpoint};
use earshot_core::frontend::passt::PasstConfig;
use earshot_core::frontend::Frontend;
use earshot_core::outputs::{ClipOutput, Embeddings};
use earshot_core::registry::ModelSpec;

/// `get_model`'s arguments and the wrapper's, as a model card's `[arguments]` spell them.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Patch side (`patch_size`, 16).
    pub patch_size: i64,
    /// Token width (`embed_dim`, 768).
    pub embed_dim: i64,
    /// Transformer blocks (`depth`: 12, 7 for PaSST-L).
    pub depth: i64,
    /// Attention heads (`num_heads`).
    pub num_heads: i64,
    /// Patch stride over mel bins (`fstride`).
    pub fstride: i64,
    /// Patch stride over frames (`tstride`).
    pub tstride: i64,
    /// Mel bins the positional grid was built for (`input_fdim`).
    pub input_fdim: i64,
    /// Frames the positional grid was built for (`input_tdim`).
    pub input_tdim: i64,
    /// Output classes (`num_classes`).
    pub num_classes: i64,
    /// The front end (`AugmentMelSTFT`'s arguments).
    pub frontend: PasstConfig,
    /// `PasstBasicWrapper`'s windows.
    pub wrapper: WrapperConfig,
}

/// `PasstBasicWrapper`'s window arguments, in milliseconds as it takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WrapperConfig {
    /// Longest clip run in one pass (`max_model_window`).
    pub max_model_window: f64,
    /// Hop between scene windows for longer clips (`scene_hop`).
    pub scene_hop: f64,
    /// Window of one timestamp embedding (`timestamp_window`).
    pub timestamp_window: f64,
    /// Hop between timestamp embeddings (`timestamp_hop`).
    pub timestamp_hop: f64,
}

impl Default for WrapperConfig {
    /// `PasstBasicWrapper.__init__`'s defaults (what `hear21passt.base` uses).
    fn default() -> Self {
        WrapperConfig {
            max_model_window: 10000.0,
            scene_hop: 2500.0,
            timestamp_window: 160.0,
            timestamp_hop: 50.0,
        }
    }
}

/// A card's `[arguments]`: hear21passt's `get_model`/`PaSST` and `AugmentMelSTFT` argument
/// names, and the wrapper's window settings; each optional (defaults: [`Config::passt_s`]).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Arguments {
    n_mels: Option<i64>,
    sr: Option<i64>,
    win_length: Option<i64>,
    hopsize: Option<i64>,
    n_fft: Option<i64>,
    patch_size: Option<i64>,
    embed_dim: Option<i64>,
    depth: Option<i64>,
    num_heads: Option<i64>,
    fstride: Option<i64>,
    tstride: Option<i64>,
    input_fdim: Option<i64>,
    input_tdim: Option<i64>,
    num_classes: Option<i64>,
    max_model_window: Option<f64>,
    scene_hop: Option<f64>,
    timestamp_window: Option<f64>,
    timestamp_hop: Option<f64>,
}

impl Config {
    /// `passt_s_swa_p16_128_ap476` as `hear21passt.base.get_basic_model` builds it.
    pub fn passt_s() -> Self {
        Config {
            patch_size: 16,
            embed_dim: 768,
            depth: 12,
            num_heads: 12,
            fstride: 10,
            tstride: 10,
            input_fdim: 128,
            input_tdim: 998,
            num_classes: 527,
            frontend: PasstConfig::basic(),
            wrapper: WrapperConfig::default(),
        }
    }

    /// The configuration a model card describes: its `[arguments]` on top of
    /// [`Config::passt_s`] (the wrapper keys `max_model_window`, `scene_hop`, `timestamp_window`
    /// and `timestamp_hop` are optional). A key that is none of these is refused, so a misspelt
    /// one cannot quietly leave the default in place.
    pub fn from_spec(spec: &ModelSpec) -> Result<Self> {
        let args: Arguments = crate::card_arguments(spec)?;
        let bad = |key: &str| {
            ModelError::Unsupported(format!(
                "model card {}: argument {key} is not a number",
                spec.name
            ))
        };
        let int = |key: &str, value: Option<i64>, default: i64| -> Result<i64> {
            match value {
                None => Ok(default),
                Some(v) => Some(v).filter(|&v| v > 0).ok_or_else(|| bad(key)),
            }
        };
        let float = |key: &str, value: Option<f64>, default: f64| -> Result<f64> {
            match value {
                None => Ok(default),
                Some(v) => Some(v).filter(|&v| v > 0.0).ok_or_else(|| bad(key)),
            }
        };
        let base = Config::passt_s();
        let fe = &base.frontend;
        let wr = &base.wrapper;
        let frontend = PasstConfig {
            n_mels: int("n_mels", args.n_mels, fe.n_mels as i64)? as usize,
            sr: int("sr", args.sr, fe.sr as i64)? as u32,
            win_length: int("win_length", args.win_length, fe.win_length as i64)? as usize,
            hopsize: int("hopsize", args.hopsize, fe.hopsize as i64)? as usize,
            n_fft: int("n_fft", args.n_fft, fe.n_fft as i64)? as usize,
            ..base.frontend.clone()
        };
        let cfg = Config {
            patch_size: int("patch_size", args.patch_size, base.patch_size)?,
            embed_dim: int("embed_dim", args.embed_dim, base.embed_dim)?,
            depth: int("depth", args.depth, base.depth)?,
            num_heads: int("num_heads", args.num_heads, base.num_heads)?,
            fstride: int("fstride", args.fstride, base.fstride)?,
            tstride: int("tstride", args.tstride, base.tstride)?,
            input_fdim: int("input_fdim", args.input_fdim, base.input_fdim)?,
            input_tdim: int("input_tdim", args.input_tdim, base.input_tdim)?,
            num_classes: int("num_classes", args.num_classes, spec.classes as i64)?,
            frontend,
            wrapper: WrapperConfig {
                max_model_window: float(
                    "max_model_window",
                    args.max_model_window,
                    wr.max_model_window,
                )?,
                scene_hop: float("scene_hop", args.scene_hop, wr.scene_hop)?,
                timestamp_window: float(
                    "timestamp_window",
                    args.timestamp_window,
                    wr.timestamp_window,
                )?,
                timestamp_hop: float("timestamp_hop", args.timestamp_hop, wr.timestamp_hop)?,
            },
        };
        if cfg.embed_dim % cfg.num_heads != 0 || cfg.frontend.win_length > cfg.frontend.n_fft {
            return Err(ModelError::Unsupported(format!(
                "model card {}: inconsistent arguments",
                spec.name
            )));
        }
        Ok(cfg)
    }

    /// The positional grid (frequency, time) of `PatchEmbed.grid_size`.
    pub fn grid(&self) -> (i64, i64) {
        (
            self.input_fdim / self.fstride,
            self.input_tdim / self.tstride,
        )
    }

    /// Samples of `ms` milliseconds, truncated as the wrapper's `int(ms * sr / 1000)`.
    fn samples(&self, ms: f64) -> usize {
        (ms * self.frontend.sr as f64 / 1000.0) as usize
    }

    /// The shortest clip with one whole patch of frames: `(patch_size − 1) · hop + 1` samples
    /// (4801 = 0.15 s for PaSST-S); pre-emphasis takes one sample and a centred STFT gives
    /// `1 + (n − 1) / hop` frames.
    pub fn min_samples(&self) -> usize {
        let hop = self.frontend.hopsize;
        ((self.patch_size as usize - 1) * hop + 1).max(self.frontend.n_fft / 2 + 2)
    }
}

fn linear(p: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    nn::linear(p, inputs, outputs, Default::default())
}

/// Multi-head self-attention with fused qkv (`Attention`).
#[derive(Debug)]
struct Attention {
    qkv: nn::Linear,
    proj: nn::Linear,
    heads: i64,
}

impl Attention {
    fn new(p: nn::Path, dim: i64, heads: i64) -> Self {
        Attention {
            qkv: linear(&p / "qkv", dim, 3 * dim),
            proj: linear(&p / "proj", dim, dim),
            heads,
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let (b, n, c) = x.size3().expect("(batch, tokens, dim)");
        let head_dim = c / self.heads;
        let qkv = x
            .apply(&self.qkv)
            .reshape([b, n, 3, self.heads, head_dim])
            .permute([2, 0, 3, 1, 4]);
        let attended = Tensor::scaled_dot_product_attention(
            &qkv.get(0),
            &qkv.get(1),
            &qkv.get(2),
            None::<Tensor>,
            0.0,
            false,
            (head_dim as f64).powf(-0.5),
            false,
        );
        attended
            .transpose(1, 2)
            .reshape([b, n, c])
            .apply(&self.proj)
    }
}

/// Pre-norm transformer block (`Block`).
#[derive(Debug)]
struct Block {
    norm1: nn::LayerNorm,
    attn: Attention,
    norm2: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl Block {
    fn new(p: nn::Path, dim: i64, heads: i64) -> Self {
        let mlp = &p / "mlp";
        Block {
            norm1: layer_norm(&p / "norm1", dim, 1e-6),
            attn: Attention::new(&p / "attn", dim, heads),
            norm2: layer_norm(&p / "norm2", dim, 1e-6),
            fc1: linear(&mlp / "fc1", dim, 4 * dim),
            fc2: linear(&mlp / "fc2", 4 * dim, dim),
        }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = x + self.attn.forward(&x.apply(&self.norm1));
        let hidden = x.apply(&self.norm2).apply(&self.fc1).gelu("none");
        &x + hidden.apply(&self.fc2)
    }
}

/// The network, variables named as the `PaSST` module's state dict.
#[derive(Debug)]
pub struct Passt {
    cfg: Config,
    patch_embed: nn::Conv2D,
    cls_token: Tensor,
    dist_token: Tensor,
    new_pos_embed: Tensor,
    freq_new_pos_embed: Tensor,
    time_new_pos_embed: Tensor,
    blocks: Vec<Block>,
    norm: nn::LayerNorm,
    head_norm: nn::LayerNorm,
    head_linear: nn::Linear,
}

/// Checkpoint keys that are deliberately not loaded: the distillation head, unused in eval.
pub const IGNORED_KEYS: &[&str] = &["head_dist.weight", "head_dist.bias"];

impl Passt {
    /// Build the variables under `p`.
    pub fn new(p: &nn::Path, cfg: &Config) -> Self {
        let dim = cfg.embed_dim;
        let (grid_f, grid_t) = cfg.grid();
        let patch_embed = nn::conv(
            p / "patch_embed" / "proj",
            1,
            dim,
            [cfg.patch_size, cfg.patch_size],
            nn::ConvConfigND {
                stride: [cfg.fstride, cfg.tstride],
                padding: [0, 0],
                dilation: [1, 1],
                groups: 1,
                bias: true,
                ws_init: nn::Init::Const(0.0),
                bs_init: nn::Init::Const(0.0),
                padding_mode: nn::PaddingMode::Zeros,
            },
        );
        let zeros = nn::Init::Const(0.0);
        let head = p / "head";
        Passt {
            cfg: cfg.clone(),
            patch_embed,
            cls_token: p.var("cls_token", &[1, 1, dim], zeros),
            dist_token: p.var("dist_token", &[1, 1, dim], zeros),
            new_pos_embed: p.var("new_pos_embed", &[1, 2, dim], zeros),
            freq_new_pos_embed: p.var("freq_new_pos_embed", &[1, dim, grid_f, 1], zeros),
            time_new_pos_embed: p.var("time_new_pos_embed", &[1, dim, 1, grid_t], zeros),
            blocks: (0..cfg.depth)
                .map(|i| Block::new(p / "blocks" / i, dim, cfg.num_heads))
                .collect(),
            norm: layer_norm(p / "norm", dim, 1e-6),
            head_norm: layer_norm(&head / "0", dim, 1e-5),
            head_linear: linear(&head / "1", dim, cfg.num_classes),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// `PaSST.forward` in eval mode: (B, 1, mels, frames) log-mel → ((B, classes) logits,
    /// (B, dim) features).
    pub fn forward(&self, mel: &Tensor) -> Result<(Tensor, Tensor)> {
        let x = mel.apply(&self.patch_embed);
        let (b, _, f, t) = x.size4()?;
        let (grid_f, grid_t) = self.cfg.grid();
        if t > grid_t || f != grid_f {
            return Err(ModelError::Input(format!(
                "a {f}×{t} patch grid does not fit the positional embeddings ({grid_f}×{grid_t})"
            )));
        }
        let x = x + self.time_new_pos_embed.narrow(3, 0, t) + &self.freq_new_pos_embed;
        let x = x.flatten(2, 3).transpose(1, 2);
        let cls = (&self.cls_token + self.new_pos_embed.narrow(1, 0, 1)).expand([b, -1, -1], false);
        let dist =
            (&self.dist_token + self.new_pos_embed.narrow(1, 1, 1)).expand([b, -1, -1], false);
        let mut x = Tensor::cat(&[cls, dist, x], 1);
        for block in &self.blocks {
            x = block.forward(&x);
        }
        let x = x.apply(&self.norm);
        let features = (x.select(1, 0) + x.select(1, 1)) / 2.0;
        let logits = features.apply(&self.head_norm).apply(&self.head_linear);
        Ok((logits, features))
    }
}

/// A model with its weights and front end: the HEAR wrapper.
pub struct LoadedPasst {
    /// Owns the variables.
    pub vs: nn::VarStore,
    /// The network.
    pub model: Passt,
    frontend: Frontend,
}

/// Old checkpoints stored the patch projection as a matrix (`checkpoint_filter_fn` reshapes it).
fn reshape_patch_embedding(ckpt: &mut Checkpoint, cfg: &Config) {
    let want = [
        cfg.embed_dim as usize,
        1,
        cfg.patch_size as usize,
        cfg.patch_size as usize,
    ];
    for (name, t) in ckpt.tensors.iter_mut() {
        if name == "patch_embed.proj.weight"
            && t.shape.len() < 4
            && t.numel() == want.iter().product::<usize>()
        {
            t.shape = want.to_vec();
        }
    }
}

/// Build `cfg`'s model on `device` and load an official PaSST checkpoint strictly.
pub fn load(
    path: &std::path::Path,
    cfg: &Config,
    device: tch::Device,
) -> crate::Result<LoadedPasst> {
    let ckpt = checkpoint::load(path)?;
    let mut ckpt = if ckpt.tensors.iter().any(|(n, _)| n.starts_with("model.")) {
        ckpt.select("model.")
    } else {
        ckpt
    };
    reshape_patch_embedding(&mut ckpt, cfg);
    let mut vs = nn::VarStore::new(device);
    let model = Passt::new(&vs.root(), cfg);
    crate::strict::load_into(&mut vs, &ckpt, IGNORED_KEYS)?;
    vs.freeze();
    Ok(LoadedPasst {
        vs,
        model,
        frontend: Frontend::passt(&cfg.frontend),
    })
}

/// Windows whose scene passes run together; bounds memory on long clips.
const SCENE_CHUNK: usize = 4;
/// Timestamp windows (one time patch each) run together.
const TIMESTAMP_CHUNK: usize = 128;

/// `F.pad(mode='reflect')` then `F.unfold`: windows of `window` samples every `hop` over
/// `samples` reflect-padded by `pad` on both sides. The caller checks `pad < samples.len()`.
fn reflect_windows(samples: &[f32], window: usize, hop: usize, pad: usize) -> Vec<Vec<f32>> {
    let n = samples.len() as isize;
    let at = |i: isize| -> f32 {
        let j = if i < 0 {
            -i
        } else if i >= n {
            2 * (n - 1) - i
        } else {
            i
        };
        samples[j as usize]
    };
    let padded_len = samples.len() + 2 * pad;
    if padded_len < window {
        return Vec::new();
    }
    let count = (padded_len - window) / hop + 1;
    (0..count)
        .map(|w| {
            let start = (w * hop) as isize - pad as isize;
            (start..start + window as isize).map(at).collect()
        })
        .collect()
}

impl LoadedPasst {
    /// The (1, mels, frames) log-mel of one clip.
    fn mel(&self, samples: &[f32]) -> Result<Tensor> {
        let features = self
            .frontend
            .compute(samples)
            .map_err(|e| ModelError::Input(e.to_string()))?;
        let (frames, bins) = (features.shape[0] as i64, features.shape[1] as i64);
        Ok(Tensor::from_slice(&features.data)
            .reshape([frames, bins])
            .transpose(0, 1)
            .unsqueeze(0))
    }

    /// The wrapper's `forward` in mode "all" on clips of equal length, at most `chunk` at a time:
    /// (clips, classes + dim) on the CPU.
    fn embed_all(&self, clips: &[&[f32]], chunk: usize) -> Result<Tensor> {
        let mut out = Vec::new();
        for part in clips.chunks(chunk.max(1)) {
            let mels = part
                .iter()
                .map(|c| self.mel(c))
                .collect::<Result<Vec<_>>>()?;
            let mel = Tensor::stack(&mels, 0).to_device(self.vs.device());
            let (logits, features) = tch::no_grad(|| self.model.forward(&mel))?;
            out.push(Tensor::cat(&[logits, features], 1).to_device(tch::Device::Cpu));
        }
        Ok(Tensor::cat(&out, 0))
    }

    /// `get_scene_embeddings` for clips of equal length: (clips, classes + dim).
    pub fn scene_embeddings(&self, clips: &[&[f32]]) -> Result<Tensor> {
        let len = clips.first().map_or(0, |c| c.len());
        let window = self
            .model
            .cfg
            .samples(self.model.cfg.wrapper.max_model_window);
        if len <= window {
            return self.embed_all(clips, SCENE_CHUNK);
        }
        let hop = self
            .model
            .cfg
            .samples(self.model.cfg.wrapper.scene_hop)
            .max(1);
        let per_clip: Vec<Vec<Vec<f32>>> = clips
            .iter()
            .map(|c| reflect_windows(c, window, hop, window / 2))
            .collect();
        let count = per_clip[0].len() as i64;
        let windows: Vec<&[f32]> = per_clip.iter().flatten().map(Vec::as_slice).collect();
        let all = self.embed_all(&windows, SCENE_CHUNK)?;
        Ok(all
            .reshape([clips.len() as i64, count, -1])
            .mean_dim(1, false, Kind::Float))
    }

    /// `get_timestamp_embeddings` of one clip: (frames, classes + dim) and each frame's time in
    /// seconds. `hop` (samples) replaces the wrapper's 50 ms.
    pub fn timestamp_embeddings(
        &self,
        samples: &[f32],
        hop: Option<usize>,
    ) -> Result<(Tensor, Vec<f64>)> {
        let cfg = &self.model.cfg;
        let window = cfg.samples(cfg.wrapper.timestamp_window);
        let hop = hop
            .unwrap_or_else(|| cfg.samples(cfg.wrapper.timestamp_hop))
            .max(1);
        let pad = window / 2;
        if samples.len() <= pad {
            return Err(ModelError::Input(format!(
                "too short: {} samples, the timestamp windows need more than {pad}",
                samples.len()
            )));
        }
        let windows = reflect_windows(samples, window, hop, pad);
        let refs: Vec<&[f32]> = windows.iter().map(Vec::as_slice).collect();
        let frames = self.embed_all(&refs, TIMESTAMP_CHUNK)?;
        let sr = cfg.frontend.sr as f64;
        let times = (0..windows.len()).map(|i| (i * hop) as f64 / sr).collect();
        Ok((frames, times))
    }
}

impl super::AudioModel for LoadedPasst {
    fn sample_rate(&self) -> u32 {
        self.model.cfg.frontend.sr
    }

    /// torchaudio's Kaldi mel banks: the HTK scale (`1127 ln(1 + f/700)`).
    fn mel_band(&self) -> Option<earshot_core::outputs::MelBand> {
        let fe = &self.model.cfg.frontend;
        let top = f64::from(fe.sr / 2 - fe.fmax_aug_range / 2);
        Some(earshot_core::outputs::MelBand {
            low: fe.fmin,
            high: fe.fmax.unwrap_or(top),
            htk: true,
        })
    }

    fn min_samples(&self) -> usize {
        self.model.cfg.min_samples()
    }

    fn classes(&self) -> usize {
        self.model.cfg.num_classes as usize
    }

    /// Probabilities are the sigmoid of the scene embedding's logits (averaged over windows for
    /// clips longer than the model's window); the embedding is the whole scene embedding.
    fn run_batch(&self, clips: &[&[f32]]) -> Result<Vec<ClipOutput>> {
        // Checks lengths; the tensor itself is not needed.
        let len = clips.first().map_or(0, |c| c.len());
        if clips.iter().any(|c| c.len() != len) {
            return Err(ModelError::Input(
                "clips in a batch must have equal lengths".into(),
            ));
        }
        self.check_length(len)?;
        let scene = self.scene_embeddings(clips)?;
        let classes = self.model.cfg.num_classes;
        let probabilities = super::tensor_rows(&scene.narrow(1, 0, classes).sigmoid())?;
        let scenes = super::tensor_rows(&scene)?;
        let duration = len as f64 / self.sample_rate() as f64;
        Ok(probabilities
            .into_iter()
            .zip(scenes)
            .map(|(clipwise, embedding)| ClipOutput {
                duration,
                clipwise,
                embedding: Some(embedding),
                framewise: None,
                frame_hop: 0.0,
            })
            .collect())
    }

    /// Timestamp embeddings (frames × 1295 for AudioSet checkpoints: 527 logits then 768
    /// features) every 50 ms from 0, and the scene embedding (1295), as hear21passt's
    /// `get_timestamp_embeddings` and `get_scene_embeddings`. `options.hop` replaces the 50 ms.
    fn embed(&self, samples: &[f32], options: &super::EmbedOptions) -> Result<Embeddings> {
        if options.center == Some(false) {
            return Err(ModelError::Unsupported(
                "PaSST's timestamp windows are always centred (hear21passt pads half a window)"
                    .into(),
            ));
        }
        if options.layers != super::Layers::Last {
            return Err(ModelError::Unsupported(
                "PaSST embeddings come from the last layer only".into(),
            ));
        }
        self.check_length(samples.len())?;
        let hop = options
            .hop
            .map(|s| (s * self.sample_rate() as f64).round() as usize);
        let (frames, timestamps) = self.timestamp_embeddings(samples, hop)?;
        let scene = self.scene_embeddings(&[samples])?;
        let shape: Vec<usize> = frames.size().iter().map(|&d| d as usize).collect();
        Ok(Embeddings {
            frames: super::f32_values(&frames)?,
            shape,
            timestamps,
            scene: super::f32_values(&scene)?,
        })
    }

    fn logmel(&self, samples: &[f32]) -> Result<(Vec<f32>, usize)> {
        let features = self
            .frontend
            .compute(samples)
            .map_err(|e| ModelError::Input(e.to_string()))?;
        Ok((features.data, features.shape[1]))
    }
}

impl LoadedPasst {
    fn check_length(&self, len: usize) -> Result<()> {
        let need = self.model.cfg.min_samples();
        if len < need {
            return Err(ModelError::Input(format!(
                "too short: {len} samples ({:.3} s), PaSST needs at least {need} ({:.3} s) for one patch of frames",
                len as f64 / self.model.cfg.frontend.sr as f64,
                need as f64 / self.model.cfg.frontend.sr as f64,
            )));
        }
        Ok(())
    }
}
