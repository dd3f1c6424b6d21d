//! Model backbones and what describes them.
//!
//! [`registry`] is the list of published checkpoints (timm's `default_cfgs`): one [`ModelSpec`]
//! per model card under `models/`, embedded in the binary. [`labels`] is the AudioSet class list
//! that tagging checkpoints' outputs are indexed by. [`fetch`] downloads a card's checkpoint
//! into the local cache, resumably and with its checksum verified. The families' networks live
//! beside them, one file per family (`panns.rs`, `passt.rs`, `openl3.rs`, `wav2vec2.rs`), and
//! each offers a loaded model as an [`AudioModel`], which is all the commands need to know.
//!
//! [`ModelSpec`]: registry::ModelSpec

pub mod fairseq;
pub mod fetch;
pub mod labels;
pub mod openl3;
pub mod panns;
pub mod passt;
pub mod registry;
pub mod wav2vec2;
pub mod wavlm;

use crate::tasks::{ClipOutput, Embeddings};

/// Errors of running a loaded model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The checkpoint could not be read or does not fit the architecture.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// libtorch refused an operation.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The input cannot go through this model (too short, mismatched batch, ...).
    #[error("{0}")]
    Input(String),
    /// The model does not produce what was asked of it.
    #[error("{0}")]
    Unsupported(String),
}

/// Result of model operations.
pub type Result<T> = std::result::Result<T, ModelError>;

/// What to produce in [`AudioModel::embed`]; `None` fields take the model's own defaults.
#[derive(Debug, Clone, Default)]
pub struct EmbedOptions {
    /// Seconds between frame embeddings (OpenL3's window hop, for instance).
    pub hop: Option<f64>,
    /// Pad the signal so the first frame is centred on time 0, as the reference's `center`.
    pub center: Option<bool>,
    /// Hidden states to return, for models with several layers.
    pub layers: Layers,
}

/// Which hidden states of a layered model to return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layers {
    /// The model's own output (its last hidden state).
    #[default]
    Last,
    /// Every hidden state, input embeddings first, as transformers' `output_hidden_states`.
    All,
    /// One hidden state by index (0 = the input embeddings).
    Index(usize),
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
