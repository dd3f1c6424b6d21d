//! wav2vec 2.0 (Baevski et al. 2020) and HuBERT (Hsu et al. 2021), which share one network, as
//! transformers' `Wav2Vec2Model`/`HubertModel` (`modeling_wav2vec2.py`, `modular_hubert.py`)
//! define it; WavLM's attention lives in [`wavlm`] and plugs into the same encoder.
//!
//! Network: a convolutional feature encoder (group mode: GroupNorm over time after the first
//! convolution only; layer mode: LayerNorm over channels after every convolution, with or without
//! conv bias), a feature projection (LayerNorm, optional for HuBERT, then Linear), a
//! convolutional positional embedding under weight norm (g has shape (1, 1, K): the norm is taken
//! over every dim but the kernel position) whose last output frame is dropped when K is even,
//! then post-LN layers (`do_stable_layer_norm = false`: LN after the encoder input and after each
//! residual) or pre-LN layers (LN before attention and feed-forward, one final LN).
//!
//! Hidden states follow transformers 5 (`output_hidden_states=True`): L + 1 entries, [0] the
//! encoder input after the positional convolution (and, post-LN, the encoder LayerNorm), [i] the
//! output of layer i. **Trap:** for pre-LN models transformers 5 no longer puts the final
//! LayerNorm on hidden_states[L]; only `last_hidden_state` has it. [`Layers::Last`] is
//! `last_hidden_state`, [`Layers::All`] and [`Layers::Index`] index `hidden_states`.
//!
//! The configuration always comes from the checkpoint: a Hugging Face `config.json` (beside the
//! weights or in the folder) with `preprocessor_config.json`'s `do_normalize`, a fairseq
//! `args`/`cfg` ([`fairseq`]), or, for a bare weights file, the model card's arguments,
//! which use config.json's names. Input normalisation (zero mean, unit variance over the whole
//! utterance, [`earshot_core::frontend::wav2vec2`]) follows that `do_normalize` (fairseq:
//! `task.normalize`).
//!
//! Keys: both weight-norm spellings (`weight_g`/`weight_v` and
//! `parametrizations.weight.original0/1`) are accepted; the base-model prefix (`wav2vec2.`,
//! `hubert.`, `wavlm.`) of task models is stripped; a CTC head (`lm_head`) is kept when present.
//!
//! Long inputs run in windows ([`Chunking`]): each window adds context on both sides, starts on
//! the frame grid (a multiple of the total conv stride) and keeps only its central frames, so
//! frames line up exactly with a single pass. Attention cost and memory stay bounded by the
//! window. Group-norm models normalise their first convolution over time: the per-channel
//! statistics are gathered over the whole recording first (in ten-second blocks) and every
//! window uses them, as a single pass would. What remains different from a single pass is the
//! attention context, cut at the window's edges plus context.
//!
//! Batching: layer-mode models take padded batches with attention masks (padded frames are
//! zeroed before the positional convolution and masked as keys), which gives the same frames as
//! running clips alone. Group-mode models normalise over time including any padding
//! (fairseq #3227, transformers #21534), so they batch only clips of equal length.

use std::path::Path;

use serde_json::Value as Json;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

mod config;
pub mod fairseq;
pub mod wavlm;

pub use config::{Activation, Config, Family, FeatExtractNorm};

use crate::{layer_norm, EmbedOptions, Layers, ModelError};
use earshot_core::checkpoint::{self, Checkpoint, CheckpointError};
use earshot_core::frontend::wav2vec2 as input_norm;
use earshot_core::outputs::{ClipOutput, Embeddings};

/// Windows for long inputs, in output frames (20 ms each at 16 kHz).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Frames each window contributes (1500 = 30 s).
    pub window: i64,
    /// Extra frames of context run on each side of the window and dropped (250 = 5 s).
    pub context: i64,
}

impl Default for Chunking {
    fn default() -> Self {
        Chunking {
            window: 1500,
            context: 250,
        }
    }
}

/// `feature_extractor.conv_layers.{i}`: conv, optional norm (`layer_norm`, also for the
/// GroupNorm), activation.
#[derive(Debug)]
struct ConvLayer {
    conv: nn::Conv1D,
    norm: Option<(FeatExtractNorm, Tensor, Tensor)>,
    activation: Activation,
    channels: i64,
}

impl ConvLayer {
    fn new(p: &nn::Path, cfg: &Config, i: usize) -> ConvLayer {
        let cin = if i == 0 { 1 } else { cfg.conv_dim[i - 1] };
        let cout = cfg.conv_dim[i];
        let conv = nn::conv1d(
            p / "conv",
            cin,
            cout,
            cfg.conv_kernel[i],
            nn::ConvConfig {
                stride: cfg.conv_stride[i],
                bias: cfg.conv_bias,
                ..Default::default()
            },
        );
        let kind = match cfg.feat_extract_norm {
            FeatExtractNorm::Group if i == 0 => Some(FeatExtractNorm::Group),
            FeatExtractNorm::Layer => Some(FeatExtractNorm::Layer),
            FeatExtractNorm::Group => None,
        };
        let norm = kind.map(|kind| {
            let ln = p / "layer_norm";
            let w = ln.var("weight", &[cout], nn::Init::Const(1.0));
            let b = ln.var("bias", &[cout], nn::Init::Const(0.0));
            (kind, w, b)
        });
        ConvLayer {
            conv,
            norm,
            activation: cfg.feat_extract_activation,
            channels: cout,
        }
    }

    /// (batch, channels, time) → (batch, channels', time'). `stats` replaces the GroupNorm's
    /// per-clip statistics with given per-channel (mean, variance), as for windows of a long
    /// recording.
    fn forward(&self, x: &Tensor, stats: Option<&GroupNormStats>) -> Tensor {
        let x = self.conv.forward(x);
        let x = match (&self.norm, stats) {
            (None, _) => x,
            (Some((FeatExtractNorm::Group, w, b)), Some(st)) => {
                let col = |t: &Tensor| t.to_kind(x.kind()).view([1, -1, 1]);
                (&x - col(&st.mean)) / (col(&st.variance) + 1e-5).sqrt() * col(w) + col(b)
            }
            (Some((FeatExtractNorm::Group, w, b)), None) => {
                x.group_norm(self.channels, Some(w), Some(b), 1e-5, false)
            }
            (Some((FeatExtractNorm::Layer, w, b)), _) => x
                .transpose(-2, -1)
                .layer_norm([self.channels], Some(w), Some(b), 1e-5, false)
                .transpose(-2, -1),
        };
        self.activation.apply(&x)
    }
}

/// Per-channel statistics of the first convolution's output over a whole recording (f64).
#[derive(Debug)]
pub struct GroupNormStats {
    mean: Tensor,
    variance: Tensor,
}

/// `encoder.pos_conv_embed`: grouped conv under weight norm (or after a BatchNorm), drop the
/// last frame for even kernels, activation.
#[derive(Debug)]
struct PositionalConv {
    weight: PosWeight,
    bias: Tensor,
    batch_norm: Option<nn::BatchNorm>,
    kernel: i64,
    groups: i64,
    activation: Activation,
}

#[derive(Debug)]
enum PosWeight {
    /// weight = g · v / ‖v‖, the norm over every dim but 2.
    Normed {
        g: Tensor,
        v: Tensor,
    },
    Plain(Tensor),
}

impl PositionalConv {
    fn new(p: &nn::Path, cfg: &Config) -> PositionalConv {
        let d = cfg.hidden_size;
        let k = cfg.num_conv_pos_embeddings;
        let groups = cfg.num_conv_pos_embedding_groups;
        let conv = p / "conv";
        let shape = [d, d / groups, k];
        let (weight, batch_norm) = if cfg.conv_pos_batch_norm {
            let bn = nn::batch_norm1d(p / "batch_norm", d, Default::default());
            (
                PosWeight::Plain(conv.var("weight", &shape, nn::Init::Const(0.0))),
                Some(bn),
            )
        } else {
            (
                PosWeight::Normed {
                    g: conv.var("weight_g", &[1, 1, k], nn::Init::Const(1.0)),
                    v: conv.var("weight_v", &shape, nn::Init::Const(0.0)),
                },
                None,
            )
        };
        PositionalConv {
            weight,
            bias: conv.var("bias", &[d], nn::Init::Const(0.0)),
            batch_norm,
            kernel: k,
            groups,
            activation: cfg.feat_extract_activation,
        }
    }

    /// (batch, time, dim) → (batch, time, dim).
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut x = x.transpose(1, 2);
        if let Some(bn) = &self.batch_norm {
            x = x.apply_t(bn, false);
        }
        let weight = match &self.weight {
            PosWeight::Normed { g, v } => Tensor::internal_weight_norm(v, g, 2),
            PosWeight::Plain(w) => w.shallow_clone(),
        };
        let mut y = x.conv1d(
            &weight,
            Some(&self.bias),
            1,
            self.kernel / 2,
            1,
            self.groups,
        );
        if self.kernel % 2 == 0 {
            let t = y.size()[2];
            y = y.narrow(2, 0, t - 1);
        }
        self.activation.apply(&y).transpose(1, 2)
    }
}

/// `encoder.layers.{i}.attention`: multi-head self-attention with separate q/k/v/out
/// projections; WavLM adds its gated relative position bias.
#[derive(Debug)]
struct Attention {
    q_proj: nn::Linear,
    k_proj: nn::Linear,
    v_proj: nn::Linear,
    out_proj: nn::Linear,
    heads: i64,
    gate: Option<wavlm::Gate>,
}

impl Attention {
    fn new(p: &nn::Path, cfg: &Config, layer: usize) -> Attention {
        let d = cfg.hidden_size;
        let lin = |name: &str| nn::linear(p / name, d, d, Default::default());
        Attention {
            q_proj: lin("q_proj"),
            k_proj: lin("k_proj"),
            v_proj: lin("v_proj"),
            out_proj: lin("out_proj"),
            heads: cfg.num_attention_heads,
            gate: (cfg.family == Family::Wavlm).then(|| wavlm::Gate::new(p, cfg, layer)),
        }
    }

    /// `x` (batch, time, dim); `key_mask` (batch, 1, 1, time) additive (0 or −inf);
    /// `position_bias` (heads, time, time) for WavLM, computed once by layer 0.
    fn forward(
        &self,
        x: &Tensor,
        key_mask: Option<&Tensor>,
        position_bias: &mut Option<Tensor>,
    ) -> Tensor {
        let (b, t, d) = x.size3().expect("(batch, time, dim)");
        let hd = d / self.heads;
        let split = |y: Tensor| y.view([b, t, self.heads, hd]).transpose(1, 2);
        let q = split(self.q_proj.forward(x));
        let k = split(self.k_proj.forward(x));
        let v = split(self.v_proj.forward(x));
        let mask = match &self.gate {
            None => key_mask.map(Tensor::shallow_clone),
            Some(gate) => {
                let bias = gate.gated_bias(x, t, self.heads, position_bias);
                Some(match key_mask {
                    Some(m) => bias + m,
                    None => bias,
                })
            }
        };
        let y = Tensor::scaled_dot_product_attention(&q, &k, &v, mask, 0.0, false, None, false);
        self.out_proj
            .forward(&y.transpose(1, 2).contiguous().view([b, t, d]))
    }
}

/// `encoder.layers.{i}`: attention, `layer_norm`, `feed_forward`, `final_layer_norm`.
#[derive(Debug)]
struct EncoderLayer {
    attention: Attention,
    layer_norm: nn::LayerNorm,
    intermediate_dense: nn::Linear,
    output_dense: nn::Linear,
    final_layer_norm: nn::LayerNorm,
    activation: Activation,
    pre_ln: bool,
}

impl EncoderLayer {
    fn new(p: &nn::Path, cfg: &Config, layer: usize) -> EncoderLayer {
        let d = cfg.hidden_size;
        let ff = p / "feed_forward";
        EncoderLayer {
            attention: Attention::new(&(p / "attention"), cfg, layer),
            layer_norm: layer_norm(p / "layer_norm", d, cfg.layer_norm_eps),
            intermediate_dense: nn::linear(
                &ff / "intermediate_dense",
                d,
                cfg.intermediate_size,
                Default::default(),
            ),
            output_dense: nn::linear(
                &ff / "output_dense",
                cfg.intermediate_size,
                d,
                Default::default(),
            ),
            final_layer_norm: layer_norm(p / "final_layer_norm", d, cfg.layer_norm_eps),
            activation: cfg.hidden_act,
            pre_ln: cfg.do_stable_layer_norm,
        }
    }

    fn feed_forward(&self, x: &Tensor) -> Tensor {
        let h = self.activation.apply(&self.intermediate_dense.forward(x));
        self.output_dense.forward(&h)
    }

    fn forward(
        &self,
        x: &Tensor,
        key_mask: Option<&Tensor>,
        position_bias: &mut Option<Tensor>,
    ) -> Tensor {
        if self.pre_ln {
            let h =
                x + self
                    .attention
                    .forward(&self.layer_norm.forward(x), key_mask, position_bias);
            let f = self.feed_forward(&self.final_layer_norm.forward(&h));
            h + f
        } else {
            let h = self
                .layer_norm
                .forward(&(x + self.attention.forward(x, key_mask, position_bias)));
            let f = self.feed_forward(&h);
            self.final_layer_norm.forward(&(h + f))
        }
    }
}

/// The network: `feature_extractor`, `feature_projection`, `encoder`, optional `lm_head`.
#[derive(Debug)]
pub struct Wav2vec2 {
    cfg: Config,
    conv_layers: Vec<ConvLayer>,
    feature_layer_norm: Option<nn::LayerNorm>,
    projection: nn::Linear,
    pos_conv: PositionalConv,
    encoder_layer_norm: nn::LayerNorm,
    layers: Vec<EncoderLayer>,
    lm_head: Option<nn::Linear>,
}

impl Wav2vec2 {
    /// Build the network under `p`, with variables named as transformers' `Wav2Vec2Model`
    /// state dict (no base-model prefix; the CTC head as `lm_head`).
    pub fn new(p: &nn::Path, cfg: &Config) -> Wav2vec2 {
        let fe = p / "feature_extractor" / "conv_layers";
        let conv_layers = (0..cfg.conv_dim.len())
            .map(|i| ConvLayer::new(&(&fe / i), cfg, i))
            .collect();
        let fp = p / "feature_projection";
        let c_last = *cfg.conv_dim.last().expect("validated");
        let enc = p / "encoder";
        let layers = (0..cfg.num_hidden_layers as usize)
            .map(|i| EncoderLayer::new(&(&enc / "layers" / i), cfg, i))
            .collect();
        Wav2vec2 {
            cfg: cfg.clone(),
            conv_layers,
            feature_layer_norm: cfg
                .feat_proj_layer_norm
                .then(|| layer_norm(&fp / "layer_norm", c_last, cfg.layer_norm_eps)),
            projection: nn::linear(
                &fp / "projection",
                c_last,
                cfg.hidden_size,
                Default::default(),
            ),
            pos_conv: PositionalConv::new(&(&enc / "pos_conv_embed"), cfg),
            encoder_layer_norm: layer_norm(
                &enc / "layer_norm",
                cfg.hidden_size,
                cfg.layer_norm_eps,
            ),
            layers,
            lm_head: cfg
                .vocab_size
                .map(|v| nn::linear(p / "lm_head", cfg.hidden_size, v, Default::default())),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Hidden states of `wave` (batch, samples), already normalised as the model expects.
    /// `frames` gives each clip's valid frame count for a padded batch (attention mask).
    /// Returns the states `layers` asks for, each (batch, frames, dim): one for
    /// [`Layers::Last`] / [`Layers::Index`], L + 1 for [`Layers::All`].
    pub fn hidden_states(
        &self,
        wave: &Tensor,
        frames: Option<&[i64]>,
        layers: Layers,
    ) -> Result<Vec<Tensor>, ModelError> {
        self.hidden_states_with(wave, frames, layers, None)
    }

    /// The first convolution's GroupNorm statistics over all of `wave` (one clip, normalised
    /// input), computed in blocks of ten seconds so memory stays bounded; `None` for layer-mode
    /// models.
    pub fn group_norm_statistics(&self, wave: &[f32]) -> Option<GroupNormStats> {
        let first = self.conv_layers.first()?;
        if !matches!(first.norm, Some((FeatExtractNorm::Group, _, _))) {
            return None;
        }
        let (k, s) = (
            self.cfg.conv_kernel[0] as usize,
            self.cfg.conv_stride[0] as usize,
        );
        if wave.len() < k {
            return None;
        }
        let total = (wave.len() - k) / s + 1;
        let block = (10 * self.cfg.sampling_rate as usize / s).max(1);
        let device = first.conv.ws.device();
        let mut sum: Option<Tensor> = None;
        let mut sum_sq: Option<Tensor> = None;
        let mut start = 0;
        while start < total {
            let end = (start + block).min(total);
            let x = Tensor::from_slice(&wave[start * s..(end - 1) * s + k])
                .to_device(device)
                .view([1, 1, -1]);
            let y = tch::no_grad(|| first.conv.forward(&x)).to_kind(Kind::Double);
            let s1 = y.sum_dim_intlist(&[0i64, 2][..], false, Kind::Double);
            let s2 = y
                .square()
                .sum_dim_intlist(&[0i64, 2][..], false, Kind::Double);
            sum = Some(match sum {
                Some(t) => t + s1,
                None => s1,
            });
            sum_sq = Some(match sum_sq {
                Some(t) => t + s2,
                None => s2,
            });
            start = end;
        }
        let n = total as f64;
        let mean = sum? / n;
        let variance = (sum_sq? / n - mean.square()).clamp_min(0.0);
        Some(GroupNormStats { mean, variance })
    }

    /// [`Wav2vec2::hidden_states`] with the first GroupNorm's statistics given.
    pub fn hidden_states_with(
        &self,
        wave: &Tensor,
        frames: Option<&[i64]>,
        layers: Layers,
        stats: Option<&GroupNormStats>,
    ) -> Result<Vec<Tensor>, ModelError> {
        let count = self.layers.len();
        if let Layers::Index(n) = layers {
            if n > count {
                return Err(ModelError::Input(format!(
                    "layer {n} asked for, the model has hidden states 0..={count}"
                )));
            }
        }
        let mut x = wave.unsqueeze(1);
        for conv in &self.conv_layers {
            x = conv.forward(&x, stats);
        }
        let mut x = x.transpose(1, 2);
        if let Some(ln) = &self.feature_layer_norm {
            x = ln.forward(&x);
        }
        let mut x = self.projection.forward(&x);
        let (b, t, _) = x.size3()?;
        let key_mask = match frames {
            Some(lengths) if lengths.iter().any(|&n| n < t) => {
                let valid = Tensor::arange(t, (Kind::Int64, x.device()))
                    .unsqueeze(0)
                    .lt_tensor(
                        &Tensor::from_slice(lengths)
                            .to_device(x.device())
                            .unsqueeze(1),
                    );
                let kind = x.kind();
                x *= valid.unsqueeze(-1).to_kind(kind);
                let additive = Tensor::zeros([b, 1, 1, t], (x.kind(), x.device()))
                    .masked_fill(&valid.logical_not().view([b, 1, 1, t]), f64::NEG_INFINITY);
                Some(additive)
            }
            _ => None,
        };
        x = &x + self.pos_conv.forward(&x);
        if !self.cfg.do_stable_layer_norm {
            x = self.encoder_layer_norm.forward(&x);
        }
        let mut out = Vec::new();
        let keep = |i: usize| match layers {
            Layers::All => true,
            Layers::Index(n) => n == i,
            Layers::Last => false,
        };
        if keep(0) {
            out.push(x.shallow_clone());
        }
        let stop = match layers {
            Layers::Index(n) => n,
            _ => count,
        };
        let mut position_bias = None;
        for (i, layer) in self.layers.iter().enumerate().take(stop) {
            x = layer.forward(&x, key_mask.as_ref(), &mut position_bias);
            if keep(i + 1) {
                out.push(x.shallow_clone());
            }
        }
        if layers == Layers::Last {
            out.push(if self.cfg.do_stable_layer_norm {
                self.encoder_layer_norm.forward(&x)
            } else {
                x
            });
        }
        Ok(out)
    }

    /// CTC logits (batch, frames, vocab) of the head, when the checkpoint has one.
    pub fn ctc_logits(&self, wave: &Tensor) -> Result<Tensor, ModelError> {
        let head = self
            .lm_head
            .as_ref()
            .ok_or_else(|| ModelError::Unsupported("the checkpoint has no CTC head".into()))?;
        let last = self
            .hidden_states(wave, None, Layers::Last)?
            .pop()
            .expect("one state");
        Ok(head.forward(&last))
    }
}

/// Checkpoint keys that the encoder does not use: pretraining heads and quantiser, SpecAugment's
/// mask embedding, fairseq-only tensors, classification heads.
pub const IGNORED_KEYS: &[&str] = &[
    "masked_spec_embed",
    "quantizer.*",
    "project_hid.*",
    "project_q.*",
    "*.num_batches_tracked",
    "classifier.*",
    "projector.*",
    "layer_weights",
];

/// Read `config.json`/`preprocessor_config.json` beside a weights file, if present.
fn sibling_json(path: &Path, name: &str) -> Result<Option<Json>, CheckpointError> {
    let Some(dir) = path.parent() else {
        return Ok(None);
    };
    let file = dir.join(name);
    match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CheckpointError::Format(format!("{}: invalid JSON: {e}", file.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Give tensors transformers' `Wav2Vec2Model` names: strip a task model's base prefix, map
/// fairseq names, and spell the positional conv's weight norm as `weight_g`/`weight_v`.
fn canonical_tensors(ckpt: &Checkpoint, cfg: &Config, fairseq: bool) -> Checkpoint {
    let prefix = cfg.family.prefix();
    let mut tensors = Vec::with_capacity(ckpt.tensors.len());
    for (name, t) in &ckpt.tensors {
        let name = if fairseq {
            match fairseq::hf_key(name, cfg.feat_extract_norm) {
                Some(n) => n,
                None => continue,
            }
        } else {
            name.strip_prefix(prefix).unwrap_or(name).to_string()
        };
        let name = name
            .replace(".parametrizations.weight.original0", ".weight_g")
            .replace(".parametrizations.weight.original1", ".weight_v");
        tensors.push((name, t.clone()));
    }
    Checkpoint {
        format: ckpt.format,
        tensors,
        metadata: ckpt.metadata.clone(),
        opaque: ckpt.opaque.clone(),
    }
}

/// The configuration a checkpoint describes. `card_arguments` (a model card's `[arguments]`,
/// in config.json's names) is the last resort for a bare weights file.
pub fn config_of(
    path: &Path,
    ckpt: &Checkpoint,
    family: Family,
    card_arguments: Option<&Json>,
) -> Result<(Config, bool), CheckpointError> {
    let bad = |e: String| CheckpointError::Format(e);
    if fairseq::is_fairseq(&ckpt.metadata) {
        return Ok((fairseq::config(&ckpt.metadata, family).map_err(bad)?, true));
    }
    let (config, pre) = match ckpt.metadata.get("config") {
        Some(c) => (
            Some(c.clone()),
            ckpt.metadata.get("preprocessor_config").cloned(),
        ),
        None => (
            sibling_json(path, "config.json")?,
            sibling_json(path, "preprocessor_config.json")?,
        ),
    };
    let (config, card) = match (config, card_arguments) {
        (Some(c), _) => (c, false),
        (None, Some(args)) => (args.clone(), true),
        (None, None) => {
            return Err(bad(
                "no configuration: give a Hugging Face folder (config.json), a fairseq .pt, \
                 or a weights file with config.json beside it"
                    .into(),
            ))
        }
    };
    Ok((
        Config::from_hf(&config, pre.as_ref(), family, card).map_err(bad)?,
        false,
    ))
}

/// A loaded model: the network and the variables it reads.
pub struct LoadedWav2vec2 {
    /// The variables.
    pub vs: nn::VarStore,
    /// The network.
    pub model: Wav2vec2,
    /// How long inputs are split.
    pub chunking: Chunking,
}

/// Load a Hugging Face folder, a weights file (with `config.json` beside it or the card's
/// arguments) or a fairseq `.pt`, strictly.
pub fn load(
    path: &Path,
    family: Family,
    card_arguments: Option<&Json>,
    device: tch::Device,
) -> Result<LoadedWav2vec2, ModelError> {
    let ckpt = checkpoint::load(path)?;
    let (mut cfg, fairseq) = config_of(path, &ckpt, family, card_arguments)?;
    let ckpt = if fairseq { ckpt.select("model.") } else { ckpt };
    let ckpt = canonical_tensors(&ckpt, &cfg, fairseq);
    let held: u128 = ckpt.tensors.iter().map(|(_, t)| t.numel() as u128).sum();
    if cfg.approx_parameters() > held + held / 10 + 1_000_000 {
        return Err(CheckpointError::Mismatch(format!(
            "the configuration describes about {} parameters, the checkpoint holds {held}",
            cfg.approx_parameters()
        ))
        .into());
    }
    // A CTC head's rows are the vocabulary; the configuration's vocab_size, when it names one,
    // must agree (transformers would refuse the shapes). Without a head there is no vocabulary.
    let head_rows = ckpt.get("lm_head.weight").map(|t| t.shape[0] as i64);
    if let (Some(rows), Some(want)) = (head_rows, cfg.vocab_size) {
        if rows != want {
            return Err(CheckpointError::Mismatch(format!(
                "lm_head.weight has {rows} rows, the configuration's vocab_size is {want}"
            ))
            .into());
        }
    }
    cfg.vocab_size = head_rows;
    let mut vs = nn::VarStore::new(device);
    let model = Wav2vec2::new(&vs.root(), &cfg);
    crate::strict::load_into(&mut vs, &ckpt, IGNORED_KEYS)?;
    vs.freeze();
    Ok(LoadedWav2vec2 {
        vs,
        model,
        chunking: Chunking::default(),
    })
}

impl LoadedWav2vec2 {
    /// The configuration.
    pub fn config(&self) -> &Config {
        self.model.config()
    }

    /// The waveform as the model expects it (normalised when `do_normalize`).
    pub fn prepare(&self, samples: &[f32]) -> Vec<f32> {
        let cfg = self.config();
        input_norm::normalize(
            &input_norm::Wav2vec2Config {
                sampling_rate: cfg.sampling_rate,
                do_normalize: cfg.do_normalize,
            },
            samples,
        )
    }

    fn check_length(&self, n: usize) -> Result<(), ModelError> {
        let min = self.config().receptive_field() as usize;
        if n < min {
            return Err(ModelError::Input(format!(
                "too short: {n} samples, the model needs at least {min}"
            )));
        }
        Ok(())
    }

    /// Hidden states of one clip, (layers, frames, dim), in windows when it is long.
    pub fn hidden(&self, samples: &[f32], layers: Layers) -> Result<Tensor, ModelError> {
        self.check_length(samples.len())?;
        let wave = self.prepare(samples);
        let device = self.vs.device();
        let cfg = self.config();
        let stride = cfg.total_stride();
        let field = cfg.receptive_field();
        let total = cfg.frames(wave.len() as i64);
        let Chunking { window, context } = self.chunking;
        let run = |from: usize, to: usize, stats: Option<&GroupNormStats>| {
            let t = Tensor::from_slice(&wave[from..to])
                .to_device(device)
                .unsqueeze(0);
            let states = tch::no_grad(|| self.model.hidden_states_with(&t, None, layers, stats))?;
            Ok::<Tensor, ModelError>(Tensor::cat(&states, 0))
        };
        if total <= window + 2 * context {
            return run(0, wave.len(), None);
        }
        // Group-mode models normalise the first convolution over the whole recording, as a
        // single pass would, rather than over each window.
        let stats = self.model.group_norm_statistics(&wave);
        let mut pieces = Vec::new();
        let mut start = 0;
        while start < total {
            let end = (start + window).min(total);
            let first = (start - context).max(0);
            let last = (end + context).min(total);
            let samples_to = ((last - 1) * stride + field) as usize;
            let out = run(
                (first * stride) as usize,
                samples_to.min(wave.len()),
                stats.as_ref(),
            )?;
            pieces.push(out.narrow(1, start - first, end - start));
            start = end;
        }
        Ok(Tensor::cat(&pieces, 1))
    }

    /// Hidden states of several clips in as few forward passes as the configuration allows:
    /// padded batches with attention masks for layer-mode models, equal-length batches
    /// otherwise; long clips run alone in windows. Each result is (layers, frames, dim).
    pub fn hidden_batch(
        &self,
        clips: &[&[f32]],
        layers: Layers,
    ) -> Result<Vec<Tensor>, ModelError> {
        let cfg = self.config();
        let single_pass =
            |n: usize| cfg.frames(n as i64) <= self.chunking.window + 2 * self.chunking.context;
        let mut out: Vec<Option<Tensor>> = (0..clips.len()).map(|_| None).collect();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, clip) in clips.iter().enumerate() {
            self.check_length(clip.len())?;
            if !single_pass(clip.len()) {
                out[i] = Some(self.hidden(clip, layers)?);
                continue;
            }
            match groups
                .iter_mut()
                .find(|g| cfg.supports_attention_mask() || clips[g[0]].len() == clip.len())
            {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        let device = self.vs.device();
        for group in groups {
            let prepared: Vec<Vec<f32>> = group.iter().map(|&i| self.prepare(clips[i])).collect();
            let longest = prepared.iter().map(Vec::len).max().unwrap_or(0);
            let rows: Vec<Tensor> = prepared
                .iter()
                .map(|w| Tensor::from_slice(w).constant_pad_nd([0, (longest - w.len()) as i64]))
                .collect();
            let wave = Tensor::stack(&rows, 0).to_device(device);
            let frames: Vec<i64> = prepared
                .iter()
                .map(|w| cfg.frames(w.len() as i64))
                .collect();
            let states = tch::no_grad(|| self.model.hidden_states(&wave, Some(&frames), layers))?;
            let stacked = Tensor::stack(&states, 0);
            for (b, &i) in group.iter().enumerate() {
                out[i] = Some(stacked.select(1, b as i64).narrow(1, 0, frames[b]));
            }
        }
        Ok(out
            .into_iter()
            .map(|t| t.expect("every clip ran"))
            .collect())
    }

    /// Centre time in seconds of each of `frames` output frames.
    pub fn timestamps(&self, frames: usize) -> Vec<f64> {
        let cfg = self.config();
        let sr = cfg.sampling_rate as f64;
        let stride = cfg.total_stride() as f64;
        let half = cfg.receptive_field() as f64 / 2.0;
        (0..frames)
            .map(|j| (j as f64 * stride + half) / sr)
            .collect()
    }

    /// CTC logits (frames, vocab) of one clip, through the windows of [`LoadedWav2vec2::hidden`].
    pub fn ctc_logits(&self, samples: &[f32]) -> Result<Tensor, ModelError> {
        let head = self
            .model
            .lm_head
            .as_ref()
            .ok_or_else(|| ModelError::Unsupported("the checkpoint has no CTC head".into()))?;
        let last = self.hidden(samples, Layers::Last)?;
        Ok(tch::no_grad(|| head.forward(&last.get(0))))
    }

    fn embeddings(&self, states: &Tensor, layers: Layers) -> Result<Embeddings, ModelError> {
        let states = states.to_device(tch::Device::Cpu).to_kind(Kind::Float);
        let (l, t, d) = states.size3()?;
        let frames = Vec::<f32>::try_from(states.flatten(0, -1))?;
        let shape = if layers == Layers::All {
            vec![l as usize, t as usize, d as usize]
        } else {
            vec![t as usize, d as usize]
        };
        Ok(Embeddings {
            scene: Embeddings::mean_over_frames(&frames, &shape),
            timestamps: self.timestamps(t as usize),
            frames,
            shape,
        })
    }
}

impl crate::AudioModel for LoadedWav2vec2 {
    fn sample_rate(&self) -> u32 {
        self.config().sampling_rate
    }

    fn min_samples(&self) -> usize {
        self.config().receptive_field() as usize
    }

    fn classes(&self) -> usize {
        self.config().vocab_size.unwrap_or(0) as usize
    }

    /// The clip embedding is the mean of the last hidden state over frames.
    fn run_batch(&self, clips: &[&[f32]]) -> crate::Result<Vec<ClipOutput>> {
        let states = self.hidden_batch(clips, Layers::Last)?;
        let hop = self.frame_hop();
        clips
            .iter()
            .zip(states)
            .map(|(clip, s)| {
                let mean = s.get(0).mean_dim(0, false, Kind::Float);
                Ok(ClipOutput {
                    duration: clip.len() as f64 / self.sample_rate() as f64,
                    clipwise: Vec::new(),
                    embedding: Some(crate::f32_values(&mean)?),
                    framewise: None,
                    frame_hop: hop,
                })
            })
            .collect()
    }

    fn embed(&self, samples: &[f32], options: &EmbedOptions) -> crate::Result<Embeddings> {
        let states = self.hidden(samples, options.layers)?;
        self.embeddings(&states, options.layers)
    }

    /// Padded batches with attention masks (layer-mode models) or equal-length batches (see
    /// [`LoadedWav2vec2::hidden_batch`]).
    fn embed_batch(
        &self,
        clips: &[&[f32]],
        options: &EmbedOptions,
    ) -> crate::Result<Vec<Embeddings>> {
        self.hidden_batch(clips, options.layers)?
            .iter()
            .map(|s| self.embeddings(s, options.layers))
            .collect()
    }

    fn frame_hop(&self) -> f64 {
        self.config().total_stride() as f64 / self.config().sampling_rate as f64
    }
}
