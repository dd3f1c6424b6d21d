//! YAMNet (Google, `tensorflow/models` `research/audioset/yamnet/yamnet.py`): MobileNetV1 on
//! 0.96-s log-mel patches at 16 kHz, 521 AudioSet classes (the `yamnet_class_map.csv`
//! vocabulary).
//!
//! Body: a 3×3/2 convolution with 32 filters, then 13 depthwise-separable blocks (3×3 depthwise,
//! then 1×1 pointwise), each convolution followed by batch norm and ReLU; TF "SAME" padding,
//! which puts the odd pixel of a stride-2 convolution at the bottom/right. Global average
//! pooling gives the 1024-d patch embedding, a dense layer the 521 logits, a sigmoid the patch
//! scores. As `yamnet/inference.py` reports a clip: the mean of the patch probabilities
//! (clipwise), the mean of the patch embeddings (scene); the patch scores every 0.48 s are the
//! framewise output that `detect` thresholds.
//!
//! Checkpoints, all loaded to the same folded form (each convolution with its batch norm folded
//! into weight and bias, as inference engines run it):
//! - ONNX exports of this architecture ([`from_onnx`]): float graphs, and QDQ graphs such as
//!   Qualcomm AI Hub's `YamNet_w8a8` (27 Conv, QuantizeLinear/DequantizeLinear pairs around float
//!   weights, BatchNorms already folded): their float weights are YAMNet itself, so they run in
//!   float;
//!   (with `--quantized`, QDQ graphs run as written instead: [`super::yamnet_qdq`]);
//! - PyTorch state dicts in the layout of the PyPI port `torch-vggish-yamnet`
//!   (`layer1.fused.conv.weight`, `layer2.depthwise_conv.bn.running_mean`, …,
//!   `classifier.weight`), batch-norm epsilon 1e-4 as YAMNet's `params.py`;
//! - the official Keras weight file `yamnet.h5` (`yamnet.load_weights`), mapped to that layout by
//!   [`keras_to_torch`]. Its layers are named as `yamnet.py` builds them: `layer1/conv`,
//!   `layer1/conv/bn`, `layer{2..14}/{depthwise,pointwise}_conv` and their `/bn`, each weight at
//!   `<layer>/<layer>/<variable>:0` (Keras 2 repeats the layer name); the batch norms have no
//!   `gamma` (`params.py`: `batchnorm_scale=False`, so it is 1), and the dense layer is
//!   `logits` in Google's file (Keras' default `dense` where the model was rebuilt from today's
//!   `yamnet.py`, which leaves it unnamed; any one extra layer with a kernel and a bias is
//!   taken).

use std::path::Path;

use tch::{Kind, Tensor};

use super::{f32_values, AudioModel, ModelError, Result};
use crate::tensor::ToTch;
use earshot_core::checkpoint::{self, onnx, CheckpointError, RawTensor};
use earshot_core::frontend::{yamnet as fe, Preset};
use earshot_core::outputs::{ClipOutput, Embeddings};

/// AudioSet classes of YAMNet's head.
pub const CLASSES: usize = 521;
/// Size of the patch embedding.
pub const EMBEDDING_DIM: usize = 1024;
/// `params.py` `batchnorm_epsilon`.
const BN_EPSILON: f64 = 1e-4;

/// `yamnet.py` `_YAMNET_LAYER_DEFS` after the first convolution: (stride, filters) of each
/// depthwise-separable block.
const SEPARABLE: [(i64, i64); 13] = [
    (1, 64),
    (2, 128),
    (1, 128),
    (2, 256),
    (1, 256),
    (2, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (2, 1024),
    (1, 1024),
];

/// One convolution of the body as it runs: batch norm folded in, ReLU after.
#[derive(Debug)]
struct Conv {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    groups: i64,
}

/// Shape of each convolution of the body: (out, in / groups, kernel, stride, groups).
fn layout() -> Vec<(i64, i64, i64, i64, i64)> {
    let mut convs = vec![(32, 1, 3, 2, 1)];
    let mut channels = 32;
    for (stride, filters) in SEPARABLE {
        convs.push((channels, 1, 3, stride, channels));
        convs.push((filters, channels, 1, 1, 1));
        channels = filters;
    }
    convs
}

/// TF "SAME" padding of one axis: (before, after).
fn same_padding(size: i64, kernel: i64, stride: i64) -> (i64, i64) {
    let out = (size + stride - 1) / stride;
    let total = ((out - 1) * stride + kernel - size).max(0);
    (total / 2, total - total / 2)
}

/// A loaded YAMNet.
#[derive(Debug)]
pub struct Yamnet {
    /// The QDQ graph, when it runs as written (`--quantized`).
    quantized: Option<super::yamnet_qdq::QdqGraph>,
    convs: Vec<Conv>,
    classifier_weight: Tensor,
    classifier_bias: Tensor,
    device: tch::Device,
    frontend: earshot_core::frontend::Frontend,
}

/// Outputs of a batch of patches.
#[derive(Debug)]
pub struct PatchOutputs {
    /// Patch probabilities, patches × 521.
    pub scores: Tensor,
    /// Patch embeddings, patches × 1024.
    pub embeddings: Tensor,
}

impl Yamnet {
    /// The network from its folded convolutions (in [`layout`] order) and dense layer, checking
    /// every shape.
    fn from_tensors(
        convs: Vec<(RawTensor, RawTensor)>,
        classifier: (RawTensor, RawTensor),
        device: tch::Device,
    ) -> Result<Yamnet> {
        let bad = |msg: String| ModelError::Checkpoint(CheckpointError::Mismatch(msg));
        let want = layout();
        if convs.len() != want.len() {
            return Err(bad(format!(
                "YAMNet has {} convolutions, the checkpoint {}",
                want.len(),
                convs.len()
            )));
        }
        let to = |t: &RawTensor| -> Result<Tensor> {
            Ok(t.to_tch()?.to_kind(Kind::Float).to_device(device))
        };
        let mut body = Vec::with_capacity(want.len());
        for (i, ((w, b), &(out, per_group, k, stride, groups))) in
            convs.iter().zip(&want).enumerate()
        {
            let shape = [out as usize, per_group as usize, k as usize, k as usize];
            if w.shape != shape || b.shape != [out as usize] {
                return Err(bad(format!(
                    "convolution {}: weight {:?} and bias {:?}, YAMNet's are {shape:?} and [{out}]",
                    i + 1,
                    w.shape,
                    b.shape
                )));
            }
            body.push(Conv {
                weight: to(w)?,
                bias: to(b)?,
                stride,
                groups,
            });
        }
        let (w, b) = &classifier;
        if w.shape != [CLASSES, EMBEDDING_DIM] || b.shape != [CLASSES] {
            return Err(bad(format!(
                "classifier weight {:?} and bias {:?}, YAMNet's are [521, 1024] and [521]",
                w.shape, b.shape
            )));
        }
        Ok(Yamnet {
            quantized: None,
            convs: body,
            classifier_weight: to(w)?,
            classifier_bias: to(b)?,
            device,
            frontend: Preset::Yamnet.build(),
        })
    }

    /// Patches (N × 96 × 64 log-mel) through the network.
    pub fn forward_patches(&self, patches: &Tensor) -> Result<PatchOutputs> {
        if let Some(graph) = &self.quantized {
            // The export takes one patch at a time ([1, 1, 96, 64]).
            let (mut embeddings, mut logits) = (Vec::new(), Vec::new());
            for i in 0..patches.size()[0] {
                let (e, l) = graph.run(&patches.narrow(0, i, 1))?;
                embeddings.push(e);
                logits.push(l);
            }
            return Ok(PatchOutputs {
                scores: Tensor::cat(&logits, 0).sigmoid(),
                embeddings: Tensor::cat(&embeddings, 0),
            });
        }
        let mut x = patches.unsqueeze(1);
        for conv in &self.convs {
            let k = conv.weight.size()[2];
            let (h, w) = (x.size()[2], x.size()[3]);
            let (top, bottom) = same_padding(h, k, conv.stride);
            let (left, right) = same_padding(w, k, conv.stride);
            if top + bottom + left + right > 0 {
                x = x.constant_pad_nd([left, right, top, bottom]);
            }
            x = x
                .conv2d(
                    &conv.weight,
                    Some(&conv.bias),
                    [conv.stride, conv.stride],
                    [0, 0],
                    [1, 1],
                    conv.groups,
                )
                .relu();
        }
        let embeddings = x.mean_dim(&[2i64, 3][..], false, Kind::Float);
        let scores = embeddings
            .linear(&self.classifier_weight, Some(&self.classifier_bias))
            .sigmoid();
        Ok(PatchOutputs { scores, embeddings })
    }

    /// The log-mel patches of a clip (padded as `features.pad_waveform`), N × 96 × 64.
    pub fn patches(&self, samples: &[f32]) -> Result<(Tensor, usize)> {
        let padded = fe::pad_waveform(samples);
        let features = self
            .frontend
            .compute(&padded)
            .map_err(|e| ModelError::Input(e.to_string()))?;
        let frames = features.shape[0];
        let n = fe::n_patches(frames);
        let data = fe::patches(&features.data, frames);
        let t = Tensor::from_slice(&data)
            .view([n as i64, fe::PATCH_FRAMES as i64, fe::MEL_BANDS as i64])
            .to_device(self.device);
        Ok((t, n))
    }

    /// Patch probabilities (patches × 521) and embeddings (patches × 1024) of a clip.
    pub fn run_clip(&self, samples: &[f32]) -> Result<(Vec<f32>, Vec<f32>, usize)> {
        let (patches, n) = self.patches(samples)?;
        let out = tch::no_grad(|| self.forward_patches(&patches))?;
        Ok((f32_values(&out.scores)?, f32_values(&out.embeddings)?, n))
    }
}

/// Mean over rows of a rows × dim matrix.
fn mean_rows(values: &[f32], dim: usize) -> Vec<f32> {
    let rows = values.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for row in values.chunks_exact(dim) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, &v)| *m += f64::from(v));
    }
    mean.into_iter().map(|m| (m / rows as f64) as f32).collect()
}

impl AudioModel for Yamnet {
    fn sample_rate(&self) -> u32 {
        fe::SAMPLE_RATE
    }

    /// Any clip is padded to one patch.
    fn min_samples(&self) -> usize {
        1
    }

    fn classes(&self) -> usize {
        CLASSES
    }

    fn run_batch(&self, clips: &[&[f32]]) -> Result<Vec<ClipOutput>> {
        clips
            .iter()
            .map(|clip| {
                let (scores, embeddings, _) = self.run_clip(clip)?;
                Ok(ClipOutput {
                    duration: clip.len() as f64 / f64::from(fe::SAMPLE_RATE),
                    clipwise: mean_rows(&scores, CLASSES),
                    embedding: Some(mean_rows(&embeddings, EMBEDDING_DIM)),
                    framewise: Some(scores),
                    frame_hop: fe::PATCH_HOP_SECONDS,
                })
            })
            .collect()
    }

    /// One 1024-d frame per patch, stamped at the patch centre (`i · 0.48 + 0.48` s); the
    /// scene embedding is their mean.
    fn embed(&self, samples: &[f32], options: &super::EmbedOptions) -> Result<Embeddings> {
        if options.layers != super::Layers::Last || options.hop.is_some() {
            return Err(ModelError::Unsupported(
                "YAMNet embeds fixed 0.96-s patches every 0.48 s; --layer and --hop do not apply"
                    .into(),
            ));
        }
        let (_, frames, n) = self.run_clip(samples)?;
        Ok(Embeddings {
            scene: mean_rows(&frames, EMBEDDING_DIM),
            shape: vec![n, EMBEDDING_DIM],
            frames,
            timestamps: (0..n)
                .map(|i| i as f64 * fe::PATCH_HOP_SECONDS + fe::PATCH_SECONDS / 2.0)
                .collect(),
        })
    }

    fn is_sed(&self) -> bool {
        true
    }

    fn frame_hop(&self) -> f64 {
        fe::PATCH_HOP_SECONDS
    }

    fn mel_band(&self) -> Option<earshot_core::outputs::MelBand> {
        Some(earshot_core::outputs::MelBand {
            low: fe::MEL_MIN_HZ,
            high: fe::MEL_MAX_HZ,
            htk: true,
        })
    }

    fn logmel(&self, samples: &[f32]) -> Result<(Vec<f32>, usize)> {
        let features = self
            .frontend
            .compute(samples)
            .map_err(|e| ModelError::Input(e.to_string()))?;
        Ok((features.data, fe::MEL_BANDS))
    }
}

/// Load a YAMNet checkpoint: an ONNX model, the official Keras `yamnet.h5`, or a
/// torch-vggish-yamnet state dict (any format [`checkpoint::load`] reads). `quantized` runs an ONNX graph as written (see
/// [`super::yamnet_qdq`]) instead of on its float weights.
pub fn load(path: &Path, device: tch::Device, quantized: bool) -> Result<Yamnet> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
    {
        let model = onnx::load(path)?;
        let mut net = from_onnx(&model, device)?;
        if quantized {
            net.quantized = Some(super::yamnet_qdq::QdqGraph::new(&model, device)?);
        }
        return Ok(net);
    }
    if quantized {
        return Err(ModelError::Unsupported(
            "--quantized runs QDQ ONNX exports; this is not an ONNX file".into(),
        ));
    }
    let ckpt = checkpoint::load(path)?;
    if ckpt.format == checkpoint::Format::KerasH5 {
        return from_state_dict(&keras_to_torch(&ckpt)?, device);
    }
    from_state_dict(&ckpt, device)
}

/// The layer a Keras 2 weight path belongs to, and the variable's name: Keras writes
/// `<layer>/<layer>/<variable>:0` (the group, then the weight's own scoped name), so in
/// `layer1/conv/bn/layer1/conv/bn/beta:0` the layer is `layer1/conv/bn` and the variable `beta`.
/// A path whose front is not one name twice (a hand-written file) is `<layer>/<variable>`.
fn keras_layer_and_variable(path: &str) -> (&str, &str) {
    let (front, leaf) = path.rsplit_once('/').unwrap_or(("", path));
    let variable = leaf.strip_suffix(":0").unwrap_or(leaf);
    let parts: Vec<&str> = front.split('/').collect();
    let half = parts.len() / 2;
    let layer = if parts.len().is_multiple_of(2) && parts[..half] == parts[half..] {
        &front[..parts[..half].iter().map(|p| p.len() + 1).sum::<usize>() - 1]
    } else {
        front
    };
    (layer, variable)
}

/// An official-layout YAMNet Keras weight file renamed to torch-vggish-yamnet's state dict
/// (which [`from_state_dict`] folds): kernels HWIO → OIHW (the depthwise ones HW·C·1 → C·1·HW),
/// the dense kernel transposed, the missing batch-norm `gamma` set to 1. Every variable must be
/// one of YAMNet's.
pub fn keras_to_torch(ckpt: &checkpoint::Checkpoint) -> Result<checkpoint::Checkpoint> {
    let bad = |msg: String| ModelError::Checkpoint(CheckpointError::Mismatch(msg));
    // Keras layer → (torch-vggish-yamnet module, kernel variable).
    let mut convs = vec![(
        "layer1/conv".to_string(),
        "layer1.fused".to_string(),
        "kernel",
    )];
    for i in 2..=SEPARABLE.len() + 1 {
        for (kind, kernel) in [("depthwise", "depthwise_kernel"), ("pointwise", "kernel")] {
            convs.push((
                format!("layer{i}/{kind}_conv"),
                format!("layer{i}.{kind}_conv"),
                kernel,
            ));
        }
    }
    // Layer → its variables, each taken out as it is used: what is left at the end is not
    // YAMNet's.
    let mut layers: Vec<(&str, Vec<(&str, &RawTensor)>)> = Vec::new();
    for (path, t) in &ckpt.tensors {
        let (layer, variable) = keras_layer_and_variable(path);
        match layers.iter_mut().find(|(l, _)| *l == layer) {
            Some((_, vars)) => vars.push((variable, t)),
            None => layers.push((layer, vec![(variable, t)])),
        }
    }
    type Layers<'a> = [(&'a str, Vec<(&'a str, &'a RawTensor)>)];
    fn take(layers: &mut Layers<'_>, layer: &str, variable: &str) -> Option<RawTensor> {
        let (_, vars) = layers.iter_mut().find(|(l, _)| *l == layer)?;
        let at = vars.iter().position(|(v, _)| *v == variable)?;
        Some(vars.remove(at).1.clone())
    }
    let missing = |layer: &str, variable: &str| {
        ModelError::Checkpoint(CheckpointError::Missing(format!("{layer}/{variable}")))
    };
    let permuted = |t: &RawTensor, dims: [i64; 4]| -> Result<RawTensor> {
        if t.shape.len() != 4 {
            return Err(bad(format!(
                "a YAMNet kernel has 4 dimensions, not {:?}",
                t.shape
            )));
        }
        crate::tensor::f32_raw(&t.to_tch()?.f_permute(dims)?)
    };
    let mut tensors = Vec::new();
    for (layer, module, kernel) in &convs {
        let dims = if *kernel == "depthwise_kernel" {
            [2, 3, 0, 1]
        } else {
            [3, 2, 0, 1]
        };
        let w = permuted(
            &take(&mut layers, layer, kernel).ok_or_else(|| missing(layer, kernel))?,
            dims,
        )?;
        let channels = w.shape[0];
        tensors.push((format!("{module}.conv.weight"), w));
        let bn = format!("{layer}/bn");
        let gamma = match take(&mut layers, &bn, "gamma") {
            Some(g) => g,
            None => crate::tensor::f32_raw(&Tensor::ones(
                [channels as i64],
                (Kind::Float, tch::Device::Cpu),
            ))?,
        };
        tensors.push((format!("{module}.bn.weight"), gamma));
        for (variable, field) in [
            ("beta", "bias"),
            ("moving_mean", "running_mean"),
            ("moving_variance", "running_var"),
        ] {
            let t = take(&mut layers, &bn, variable).ok_or_else(|| missing(&bn, variable))?;
            tensors.push((format!("{module}.bn.{field}"), t));
        }
    }
    let body = |l: &str| {
        convs
            .iter()
            .any(|(c, _, _)| l == c || l.strip_suffix("/bn") == Some(c))
    };
    let others: Vec<&str> = (layers.iter())
        .map(|(l, _)| *l)
        .filter(|l| !body(l))
        .collect();
    let [dense] = others.as_slice() else {
        return Err(bad(format!(
            "not YAMNet's Keras layout: besides layer1..layer14 one dense layer is expected, \
             found {}",
            if others.is_empty() {
                "none".to_string()
            } else {
                others.join(", ")
            }
        )));
    };
    let dense = dense.to_string();
    let kernel = take(&mut layers, &dense, "kernel").ok_or_else(|| missing(&dense, "kernel"))?;
    if kernel.shape.len() != 2 {
        return Err(bad(format!("{dense}/kernel has shape {:?}", kernel.shape)));
    }
    let bias = take(&mut layers, &dense, "bias").ok_or_else(|| missing(&dense, "bias"))?;
    tensors.push((
        "classifier.weight".to_string(),
        crate::tensor::f32_raw(&kernel.to_tch()?.f_tr()?)?,
    ));
    tensors.push(("classifier.bias".to_string(), bias));
    if let Some((layer, (variable, _))) =
        (layers.iter()).find_map(|(l, vars)| vars.first().map(|v| (l, v)))
    {
        return Err(bad(format!(
            "{layer}/{variable} is not a variable of YAMNet"
        )));
    }
    Ok(checkpoint::Checkpoint {
        format: ckpt.format,
        tensors,
        metadata: ckpt.metadata.clone(),
        opaque: ckpt.opaque.clone(),
    })
}

/// The float weight behind a node input: an initializer, or one seen through a
/// QuantizeLinear → DequantizeLinear pair (a QDQ export's simulated int8).
fn float_weight<'a>(model: &'a onnx::OnnxModel, value: &str) -> Option<&'a RawTensor> {
    if let Some(t) = model.initializer(value) {
        return Some(t);
    }
    let dq = model
        .producer_of(value)
        .filter(|n| n.op_type == "DequantizeLinear")?;
    let q = model
        .producer_of(&dq.inputs[0])
        .filter(|n| n.op_type == "QuantizeLinear")?;
    model.initializer(&q.inputs[0])
}

/// YAMNet from an ONNX graph: its Conv nodes in graph order are the body, its Gemm (or MatMul +
/// Add) the classifier; each node's strides and groups are checked against YAMNet's.
pub fn from_onnx(model: &onnx::OnnxModel, device: tch::Device) -> Result<Yamnet> {
    let bad = |msg: String| ModelError::Checkpoint(CheckpointError::Mismatch(msg));
    let want = layout();
    let mut convs = Vec::new();
    for node in model.nodes.iter().filter(|n| n.op_type == "Conv") {
        let i = convs.len();
        let &(_, _, _, stride, groups) = want
            .get(i)
            .ok_or_else(|| bad(format!("more than YAMNet's {} convolutions", want.len())))?;
        if node.ints("strides", &[1, 1]) != [stride, stride] || node.int("group", 1) != groups {
            return Err(bad(format!(
                "{}: strides {:?}, group {}; YAMNet's convolution {} has stride {stride}, group {groups}",
                node.name,
                node.ints("strides", &[1, 1]),
                node.int("group", 1),
                i + 1
            )));
        }
        let weight = node.inputs.get(1).and_then(|v| float_weight(model, v));
        let bias = node.inputs.get(2).and_then(|v| float_weight(model, v));
        match (weight, bias) {
            (Some(w), Some(b)) => convs.push((w.clone(), b.clone())),
            _ => {
                return Err(bad(format!(
                    "{}: its weight and bias are not initializers",
                    node.name
                )))
            }
        }
    }
    let gemm = (model.nodes.iter())
        .find(|n| n.op_type == "Gemm")
        .ok_or_else(|| bad("no Gemm node (the classifier)".into()))?;
    if gemm.int("transB", 0) != 1 {
        return Err(bad(format!(
            "{}: the classifier Gemm must have transB = 1",
            gemm.name
        )));
    }
    let weight = gemm.inputs.get(1).and_then(|v| float_weight(model, v));
    let bias = gemm.inputs.get(2).and_then(|v| float_weight(model, v));
    let classifier = match (weight, bias) {
        (Some(w), Some(b)) => (w.clone(), b.clone()),
        _ => {
            return Err(bad(format!(
                "{}: weight and bias are not initializers",
                gemm.name
            )))
        }
    };
    Yamnet::from_tensors(convs, classifier, device)
}

/// Fold a batch norm into the convolution before it (which has no bias).
fn fold(ckpt: &checkpoint::Checkpoint, prefix: &str) -> Result<(RawTensor, RawTensor)> {
    let get = |name: &str| -> Result<Tensor> {
        let key = format!("{prefix}.{name}");
        Ok(ckpt
            .get(&key)
            .ok_or(CheckpointError::Missing(key))?
            .to_tch()?
            .to_kind(Kind::Double))
    };
    let w = get("conv.weight")?;
    let gamma = get("bn.weight")?;
    let beta = get("bn.bias")?;
    let mean = get("bn.running_mean")?;
    let var = get("bn.running_var")?;
    let scale = &gamma / (var + BN_EPSILON).sqrt();
    let folded = &w * scale.view([-1, 1, 1, 1]);
    let bias = beta - mean * &scale;
    Ok((
        crate::tensor::f32_raw(&folded)?,
        crate::tensor::f32_raw(&bias)?,
    ))
}

/// YAMNet from a torch-vggish-yamnet state dict, every key used (`num_batches_tracked` aside).
pub fn from_state_dict(ckpt: &checkpoint::Checkpoint, device: tch::Device) -> Result<Yamnet> {
    let mut prefixes = vec!["layer1.fused".to_string()];
    for i in 2..=SEPARABLE.len() + 1 {
        prefixes.push(format!("layer{i}.depthwise_conv"));
        prefixes.push(format!("layer{i}.pointwise_conv"));
    }
    let known = |name: &str| {
        name.ends_with("num_batches_tracked")
            || name.starts_with("classifier.")
            || prefixes.iter().any(|p| name.starts_with(&format!("{p}.")))
    };
    if let Some((extra, _)) = ckpt.tensors.iter().find(|(n, _)| !known(n)) {
        return Err(ModelError::Checkpoint(CheckpointError::Mismatch(format!(
            "{extra} is not a variable of YAMNet (torch-vggish-yamnet layout)"
        ))));
    }
    let convs = (prefixes.iter())
        .map(|p| fold(ckpt, p))
        .collect::<Result<Vec<_>>>()?;
    let get = |key: &str| {
        ckpt.get(key)
            .cloned()
            .ok_or_else(|| ModelError::Checkpoint(CheckpointError::Missing(key.to_string())))
    };
    let classifier = (get("classifier.weight")?, get("classifier.bias")?);
    Yamnet::from_tensors(convs, classifier, device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_padding_puts_the_odd_pixel_last() {
        assert_eq!(same_padding(96, 3, 2), (0, 1));
        assert_eq!(same_padding(64, 3, 1), (1, 1));
        assert_eq!(same_padding(3, 3, 2), (1, 1));
        assert_eq!(same_padding(6, 1, 1), (0, 0));
        assert_eq!(layout().len(), 27);
    }

    #[test]
    fn keras_paths_split_where_the_layer_name_repeats() {
        let split = keras_layer_and_variable;
        assert_eq!(
            split("layer1/conv/layer1/conv/kernel:0"),
            ("layer1/conv", "kernel")
        );
        assert_eq!(
            split("layer3/depthwise_conv/bn/layer3/depthwise_conv/bn/moving_mean:0"),
            ("layer3/depthwise_conv/bn", "moving_mean")
        );
        assert_eq!(split("logits/logits/bias:0"), ("logits", "bias"));
        assert_eq!(split("dense_1/dense_1/kernel:0"), ("dense_1", "kernel"));
        assert_eq!(
            split("layer2/pointwise_conv/kernel"),
            ("layer2/pointwise_conv", "kernel")
        );
    }
}
