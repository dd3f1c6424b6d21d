//! earshot-models: the backbone families on libtorch and the tasks that run them.
//!
//! One file per family (`panns.rs`, `passt.rs`, `openl3.rs`, `wav2vec2/` with its `config`,
//! `fairseq` and `wavlm`, `yamnet.rs` with `yamnet_qdq.rs`); each offers a loaded model as an
//! [`AudioModel`], which is all the tasks ([`tasks`]) need to know. Checkpoints are read by
//! earshot-core's `checkpoint` readers and loaded strictly ([`strict`]) through [`tensor`];
//! [`device`] resolves `--device` and runs reduced precision. The model cards and their labels
//! live in earshot-core's `registry`, which needs no libtorch.

pub mod device;
pub mod openl3;
pub mod panns;
pub mod passt;
pub mod strict;
pub mod tasks;
pub mod tensor;
pub mod trained;
pub mod wav2vec2;
pub mod yamnet;
pub mod yamnet_qdq;

use tch::{nn, Tensor};

use earshot_core::outputs::{ClipOutput, Embeddings};

/// Errors of running a loaded model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The checkpoint could not be read or does not fit the architecture.
    #[error(transparent)]
    Checkpoint(#[from] earshot_core::checkpoint::CheckpointError),
    /// libtorch refused an operation (its message is shown, not chained as a source, so that
    /// a `{:#}` report says it once).
    #[error("libtorch: {0}")]
    Torch(tch::TchError),
    /// The input cannot go through this model (too short, mismatched batch, ...).
    #[error("{0}")]
    Input(String),
    /// The model does not produce what was asked of it.
    #[error("{0}")]
    Unsupported(String),
}

impl From<tch::TchError> for ModelError {
    fn from(e: tch::TchError) -> Self {
        ModelError::Torch(e)
    }
}

/// Result of model operations.
pub type Result<T> = std::result::Result<T, ModelError>;

pub use earshot_core::outputs::{EmbedOptions, Layers};

/// A card's `[arguments]` as a family's serde type: the type names the upstream arguments,
/// which of them are required, and (with `deny_unknown_fields`) refuses any other key.
pub(crate) fn card_arguments<T: serde::de::DeserializeOwned>(
    spec: &earshot_core::registry::ModelSpec,
) -> Result<T> {
    serde_json::to_value(&spec.arguments)
        .and_then(serde_json::from_value)
        .map_err(|e| ModelError::Unsupported(format!("model card {}: [arguments]: {e}", spec.name)))
}

/// `samples` zero-padded at the end to `need` samples when shorter (a model's shortest input).
pub fn pad_to(samples: &[f32], need: usize) -> std::borrow::Cow<'_, [f32]> {
    if samples.len() >= need {
        return samples.into();
    }
    let mut padded = samples.to_vec();
    padded.resize(need, 0.0);
    padded.into()
}

/// A loaded backbone: mono clips at [`AudioModel::sample_rate`] in, tags and embeddings out.
pub trait AudioModel {
    /// Input sample rate in Hz.
    fn sample_rate(&self) -> u32;

    /// The shortest input (in samples) the model accepts.
    fn min_samples(&self) -> usize;

    /// Clip outputs for clips of equal length, as one batch. Embedding-only models return empty
    /// `clipwise` vectors.
    fn run_batch(&self, clips: &[&[f32]]) -> Result<Vec<ClipOutput>>;

    /// Number of classes of the classifier head (0 for embedding-only models).
    fn classes(&self) -> usize;

    /// Time-stamped embeddings of one clip, with its scene (clip) embedding. The default takes
    /// the clip embedding of [`AudioModel::run_batch`] as a single frame at time 0.
    fn embed(&self, samples: &[f32], options: &EmbedOptions) -> Result<Embeddings> {
        let _ = options;
        let out = self
            .run_batch(&[samples])?
            .pop()
            .ok_or_else(|| ModelError::Input("no output".into()))?;
        let e = out
            .embedding
            .ok_or_else(|| ModelError::Unsupported("the model has no clip embedding".into()))?;
        Ok(Embeddings {
            shape: vec![1, e.len()],
            frames: e.clone(),
            timestamps: vec![0.0],
            scene: e,
        })
    }

    /// [`AudioModel::embed`] for several clips at once. The default runs them one by one;
    /// models that can batch clips of different lengths (attention masks) override it.
    fn embed_batch(&self, clips: &[&[f32]], options: &EmbedOptions) -> Result<Vec<Embeddings>> {
        clips.iter().map(|c| self.embed(c, options)).collect()
    }

    /// Whether [`ClipOutput::framewise`] is filled (sound event detection).
    fn is_sed(&self) -> bool {
        false
    }

    /// Seconds between frames of [`ClipOutput::framewise`].
    fn frame_hop(&self) -> f64 {
        0.0
    }

    /// Lowest and highest frequency (Hz) of the log-mel's bands, for plot axes.
    fn mel_band(&self) -> Option<earshot_core::outputs::MelBand> {
        None
    }

    /// The model's own log-mel of a clip (frames × bins, row-major) and the number of bins, for
    /// plots.
    fn logmel(&self, samples: &[f32]) -> Result<(Vec<f32>, usize)> {
        let _ = samples;
        Err(ModelError::Unsupported(
            "the model has no log-mel front end".into(),
        ))
    }
}

/// Stack equal-length clips into a (batch, samples) tensor on `device`, after checking the
/// lengths against `min_samples`.
pub fn batch_tensor(
    clips: &[&[f32]],
    min_samples: usize,
    device: tch::Device,
) -> Result<tch::Tensor> {
    let len = clips.first().map_or(0, |c| c.len());
    if clips.iter().any(|c| c.len() != len) {
        return Err(ModelError::Input(
            "clips in a batch must have equal lengths".into(),
        ));
    }
    if len < min_samples {
        return Err(ModelError::Input(format!(
            "too short: {len} samples, the model needs at least {min_samples}"
        )));
    }
    let rows: Vec<tch::Tensor> = clips.iter().map(|c| tch::Tensor::from_slice(c)).collect();
    Ok(tch::Tensor::stack(&rows, 0).to_device(device))
}

/// The rows of a (batch, ...) tensor, each flattened, as f32 vectors on the CPU.
pub fn tensor_rows(t: &tch::Tensor) -> Result<Vec<Vec<f32>>> {
    (0..t.size()[0]).map(|i| f32_values(&t.get(i))).collect()
}

/// A tensor's values, flattened, as f32 on the CPU, whatever its device and float type (reduced
/// precision passes end in bf16 or fp16).
pub fn f32_values(t: &tch::Tensor) -> Result<Vec<f32>> {
    let t = t.to_device(tch::Device::Cpu).to_kind(tch::Kind::Float);
    Ok(Vec::<f32>::try_from(t.flatten(0, -1))?)
}

/// A LayerNorm over the last dimension with the given epsilon (PyTorch's `nn.LayerNorm(dim,
/// eps)`), as the transformer families build theirs.
pub(crate) fn layer_norm(p: tch::nn::Path, dim: i64, eps: f64) -> tch::nn::LayerNorm {
    tch::nn::layer_norm(
        p,
        vec![dim],
        tch::nn::LayerNormConfig {
            eps,
            ..Default::default()
        },
    )
}

/// The same 4-d tensor laid out channels-last (NHWC strides, NCHW shape), the layout oneDNN's
/// convolutions run fastest in; every later op keeps it.
pub(crate) fn channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// A convolution followed by eval-mode BatchNorm, loaded under the checkpoint's own keys.
/// [`ConvBn::fuse`] then folds the BN into the convolution (weights scaled by γ/√(σ²+ε), bias
/// β + (b − μ)·γ/√(σ²+ε)), as inference engines do: one pass over the activations instead of
/// two.
#[derive(Debug)]
pub(crate) struct ConvBn<ND> {
    conv: nn::Conv<ND>,
    bn: nn::BatchNorm,
    eps: f64,
    fused: bool,
}

impl<ND> ConvBn<ND>
where
    nn::Conv<ND>: nn::Module,
{
    /// `eps`: the BatchNorm's epsilon (its config is private to tch).
    pub(crate) fn new(conv: nn::Conv<ND>, bn: nn::BatchNorm, eps: f64) -> Self {
        ConvBn {
            conv,
            bn,
            eps,
            fused: false,
        }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with(x, |y| y)
    }

    /// The convolution, then `between` (a linear per-channel op such as average pooling, which
    /// commutes with the folded affine map), then the BN unless folded.
    pub(crate) fn forward_with(
        &self,
        x: &Tensor,
        between: impl FnOnce(Tensor) -> Tensor,
    ) -> Tensor {
        let y = between(x.apply(&self.conv));
        if self.fused {
            y
        } else {
            y.apply_t(&self.bn, false)
        }
    }

    /// Fold the BN into the convolution, in place in the variable store (so precision changes
    /// reach the folded tensors); 2-d weights go channels-last.
    pub(crate) fn fuse(&mut self) {
        let _guard = tch::no_grad_guard();
        let (Some(gamma), Some(beta)) = (&self.bn.ws, &self.bn.bs) else {
            return;
        };
        let scale = gamma * (&self.bn.running_var + self.eps).rsqrt();
        let mut shape = vec![1i64; self.conv.ws.dim()];
        shape[0] = -1;
        // In place: CNN14's largest weight is 75 MB, and peak memory is set while loading.
        let _ = self.conv.ws.g_mul_(&scale.view(shape.as_slice()));
        if self.conv.ws.dim() == 4 {
            let w = channels_last(&self.conv.ws);
            self.conv.ws.set_data(&w);
        }
        // A convolution's own bias goes through the BN like its output.
        let shift = match &self.conv.bs {
            Some(b) => b - &self.bn.running_mean,
            None => -&self.bn.running_mean,
        };
        let bias = beta + shift * &scale;
        let mut beta = beta.shallow_clone();
        beta.set_data(&bias);
        self.conv.bs = Some(beta);
        self.fused = true;
    }
}
