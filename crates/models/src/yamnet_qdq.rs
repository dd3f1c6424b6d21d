//! YAMNet's QDQ export run as written (`--quantized`): every QuantizeLinear and DequantizeLinear
//! of the graph is honoured, on activations and weights, as onnxruntime runs the file as shipped.
//! The graph is interpreted node by node with libtorch: QuantizeLinear is
//! `saturate(round_half_even(x / scale) + zero_point)` into the zero point's integer range
//! (per tensor, or per channel along `axis`), DequantizeLinear `(q − zero_point) · scale`, both
//! in float32 as onnxruntime's reference kernels compute them. The model's uint8 input is the
//! float patch quantised with the input's own scale and zero point; its uint8 logits are
//! dequantised with the output's. Operators: those of a QDQ MobileNet (Conv, Relu,
//! GlobalAveragePool, Reshape, Flatten, Gemm, QuantizeLinear, DequantizeLinear); any other is
//! refused at load.

use std::collections::HashMap;

use tch::{Kind, Tensor};

use super::{ModelError, Result};
use crate::tensor::ToTch;
use earshot_core::checkpoint::onnx::{Attribute, Node, OnnxModel};
use earshot_core::checkpoint::{CheckpointError, DType};

const OPS: &[&str] = &[
    "Conv",
    "Relu",
    "GlobalAveragePool",
    "Reshape",
    "Flatten",
    "Gemm",
    "QuantizeLinear",
    "DequantizeLinear",
];

/// A QDQ graph ready to run.
#[derive(Debug)]
pub struct QdqGraph {
    nodes: Vec<Node>,
    constants: HashMap<String, Tensor>,
    /// Integer range of each zero point, by name.
    ranges: HashMap<String, (f64, f64)>,
    input: String,
    /// The input's (scale, zero point, range) when the graph dequantises its input.
    input_quant: Option<(String, String)>,
    output: String,
    /// (scale, zero point) names of the output's QuantizeLinear, to read its integers back.
    output_quant: Option<(String, String)>,
    /// The value holding the pooled 1024-d embedding.
    embedding: String,
}

fn bad(msg: String) -> ModelError {
    ModelError::Checkpoint(CheckpointError::Mismatch(msg))
}

fn range(dtype: DType) -> Option<(f64, f64)> {
    Some(match dtype {
        DType::U8 => (0.0, 255.0),
        DType::I8 => (-128.0, 127.0),
        DType::U16 => (0.0, 65535.0),
        DType::I16 => (-32768.0, 32767.0),
        DType::I32 => (i32::MIN as f64, i32::MAX as f64),
        _ => return None,
    })
}

impl QdqGraph {
    /// Check the graph uses only the operators above and find its input, output and embedding.
    pub fn new(model: &OnnxModel, device: tch::Device) -> Result<QdqGraph> {
        if let Some(n) = model
            .nodes
            .iter()
            .find(|n| !OPS.contains(&n.op_type.as_str()))
        {
            return Err(bad(format!(
                "{}: operator {} is not supported in --quantized mode",
                n.name, n.op_type
            )));
        }
        let mut constants = HashMap::new();
        let mut ranges = HashMap::new();
        for (name, raw) in &model.initializers {
            let t = raw.to_tch()?.to_kind(Kind::Float).to_device(device);
            if let Some(r) = range(raw.dtype) {
                ranges.insert(name.clone(), r);
            }
            constants.insert(name.clone(), t);
        }
        let input = model
            .inputs
            .first()
            .cloned()
            .ok_or_else(|| bad("the graph has no input".into()))?;
        let output = model
            .outputs
            .first()
            .cloned()
            .ok_or_else(|| bad("the graph has no output".into()))?;
        let quant_of = |n: &Node| Some((n.inputs.get(1)?.clone(), n.inputs.get(2)?.clone()));
        let input_quant = (model.nodes.iter())
            .find(|n| n.op_type == "DequantizeLinear" && n.inputs[0] == input)
            .and_then(quant_of);
        let output_quant = model
            .producer_of(&output)
            .filter(|n| n.op_type == "QuantizeLinear")
            .and_then(quant_of);
        // The embedding: the pooled value, after the Q/DQ that follows the pool, if any.
        let pool = (model.nodes.iter())
            .find(|n| n.op_type == "GlobalAveragePool")
            .ok_or_else(|| bad("no GlobalAveragePool (the embedding)".into()))?;
        let mut embedding = pool.outputs[0].clone();
        for op in ["QuantizeLinear", "DequantizeLinear"] {
            if let Some(next) = model
                .nodes
                .iter()
                .find(|n| n.op_type == op && n.inputs[0] == embedding)
            {
                embedding = next.outputs[0].clone();
            }
        }
        Ok(QdqGraph {
            nodes: model.nodes.clone(),
            constants,
            ranges,
            input,
            input_quant,
            output,
            output_quant,
            embedding,
        })
    }

    /// (embedding 1 × 1024, logits 1 × 521) of one patch (1 × 96 × 64 log-mel).
    pub fn run(&self, patch: &Tensor) -> Result<(Tensor, Tensor)> {
        let mut values: HashMap<&str, Tensor> = HashMap::new();
        let x = patch.view([1, 1, patch.size()[1], patch.size()[2]]);
        let x = match &self.input_quant {
            Some((scale, zp)) => self.quantize(&x, scale, Some(zp), 1)?,
            None => x,
        };
        values.insert(self.input.as_str(), x);
        for node in &self.nodes {
            let get = |i: usize| -> Result<&Tensor> {
                let name = node.inputs.get(i).map(String::as_str).unwrap_or("");
                values
                    .get(name)
                    .or_else(|| self.constants.get(name))
                    .ok_or_else(|| bad(format!("{}: input {name:?} is not computed", node.name)))
            };
            let axis = node.int("axis", 1);
            let y = match node.op_type.as_str() {
                "QuantizeLinear" => {
                    self.quantize(get(0)?, &node.inputs[1], node.inputs.get(2), axis)?
                }
                "DequantizeLinear" => {
                    let zp = match node.inputs.get(2).filter(|z| !z.is_empty()) {
                        Some(_) => Some(get(2)?),
                        None => None,
                    };
                    let x = get(0)?;
                    let (scale, zp) =
                        (per_axis(get(1)?, x, axis), zp.map(|z| per_axis(z, x, axis)));
                    match zp {
                        Some(zp) => (x - zp) * scale,
                        None => x * scale,
                    }
                }
                "Conv" => {
                    let pads = node.ints("pads", &[0, 0, 0, 0]);
                    let strides = node.ints("strides", &[1, 1]);
                    let x = get(0)?.constant_pad_nd([pads[1], pads[3], pads[0], pads[2]]);
                    let bias = match node.inputs.get(2) {
                        Some(_) => Some(get(2)?),
                        None => None,
                    };
                    x.conv2d(
                        get(1)?,
                        bias,
                        strides.as_slice(),
                        [0, 0],
                        node.ints("dilations", &[1, 1]).as_slice(),
                        node.int("group", 1),
                    )
                }
                "Relu" => get(0)?.relu(),
                "GlobalAveragePool" => get(0)?.mean_dim(&[2i64, 3][..], true, Kind::Float),
                "Flatten" => get(0)?.flatten(node.int("axis", 1), -1),
                "Reshape" => {
                    let x = get(0)?;
                    let shape: Vec<i64> = Vec::<f32>::try_from(get(1)?.flatten(0, -1))?
                        .iter()
                        .enumerate()
                        .map(|(i, &d)| if d == 0.0 { x.size()[i] } else { d as i64 })
                        .collect();
                    x.reshape(shape.as_slice())
                }
                "Gemm" => {
                    let float = |name: &str, default: f32| match node.attribute(name) {
                        Some(Attribute::Float(v)) => f64::from(*v),
                        _ => f64::from(default),
                    };
                    let mut a = get(0)?.shallow_clone();
                    let mut b = get(1)?.shallow_clone();
                    if node.int("transA", 0) == 1 {
                        a = a.tr();
                    }
                    if node.int("transB", 0) == 1 {
                        b = b.tr();
                    }
                    let y = a.matmul(&b) * float("alpha", 1.0);
                    match node.inputs.get(2).filter(|c| !c.is_empty()) {
                        Some(_) => y + get(2)? * float("beta", 1.0),
                        None => y,
                    }
                }
                other => return Err(bad(format!("operator {other}"))),
            };
            values.insert(node.outputs[0].as_str(), y);
        }
        let take = |name: &str| {
            values
                .get(name)
                .map(Tensor::shallow_clone)
                .ok_or_else(|| bad(format!("the graph does not compute {name}")))
        };
        let mut logits = take(&self.output)?;
        if let Some((scale, zp)) = &self.output_quant {
            logits = (logits - &self.constants[zp]) * &self.constants[scale];
        }
        Ok((take(&self.embedding)?.flatten(1, -1), logits))
    }

    /// QuantizeLinear: integers (held in float32) of `x` at `scale` and `zero_point`.
    fn quantize(
        &self,
        x: &Tensor,
        scale: &str,
        zero_point: Option<&String>,
        axis: i64,
    ) -> Result<Tensor> {
        let constant = |name: &str| {
            self.constants
                .get(name)
                .ok_or_else(|| bad(format!("QuantizeLinear: {name:?} is not an initializer")))
        };
        let s = per_axis(constant(scale)?, x, axis);
        let (zp, (lo, hi)) = match zero_point.filter(|z| !z.is_empty()) {
            Some(z) => (
                per_axis(constant(z)?, x, axis),
                self.ranges.get(z.as_str()).copied().unwrap_or((0.0, 255.0)),
            ),
            None => (Tensor::zeros([1], (Kind::Float, x.device())), (0.0, 255.0)),
        };
        Ok(((x / s).round() + zp).clamp(lo, hi))
    }
}

/// A scale or zero point shaped to broadcast along `axis` of `x` (per-channel), or as is.
fn per_axis(t: &Tensor, x: &Tensor, axis: i64) -> Tensor {
    if t.dim() != 1 || t.size()[0] == 1 {
        return t.shallow_clone();
    }
    let rank = x.dim() as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    let mut shape = vec![1i64; rank as usize];
    shape[axis as usize] = -1;
    t.view(shape.as_slice())
}
