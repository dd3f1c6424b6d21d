//! WavLM (Chen et al. 2021): the wav2vec 2.0 network ([`super`]) with a gated
//! relative position bias in every attention layer, as transformers' `modeling_wavlm.py`
//! (`WavLMAttention`) and unilm's `wavlm/modules.py` compute it.
//!
//! Layer 0 owns `rel_attn_embed` (num_buckets × heads). The bias (heads, T, T) is looked up once
//! from T5-style bidirectional buckets of the key − query offset (half the buckets per sign,
//! exact below a quarter of the buckets, log-spaced up to `max_bucket_distance`) and reused by
//! every later layer. Each layer gates it per head and query position from its own attention
//! input: `gru_rel_pos_linear` (head_dim → 8) on each head's slice, summed in two groups of four,
//! sigmoid → (a, b), gate = a · (b · `gru_rel_pos_const` − 1) + 2. The gated bias is added to
//! the attention logits.
//!
//! Trap: the bucket arithmetic runs in float32 and truncates, exactly as the reference does, so
//! bucket edges match; it is done with the same tensor operations rather than in f64.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use super::config::Config;

/// One layer's gate, and (layer 0) the relative position embedding.
#[derive(Debug)]
pub struct Gate {
    linear: nn::Linear,
    constant: Tensor,
    rel_attn_embed: Option<Tensor>,
    num_buckets: i64,
    max_distance: i64,
}

impl Gate {
    /// Variables under the layer's `attention` path.
    pub fn new(p: &nn::Path, cfg: &Config, layer: usize) -> Gate {
        let heads = cfg.num_attention_heads;
        let head_dim = cfg.hidden_size / heads;
        Gate {
            linear: nn::linear(p / "gru_rel_pos_linear", head_dim, 8, Default::default()),
            constant: p.var("gru_rel_pos_const", &[1, heads, 1, 1], nn::Init::Const(1.0)),
            rel_attn_embed: (layer == 0).then(|| {
                (p / "rel_attn_embed").var(
                    "weight",
                    &[cfg.num_buckets, heads],
                    nn::Init::Const(0.0),
                )
            }),
            num_buckets: cfg.num_buckets,
            max_distance: cfg.max_bucket_distance,
        }
    }

    /// Bucket of each (query, key) offset, (t, t) int64.
    fn buckets(&self, t: i64, device: tch::Device) -> Tensor {
        let positions = Tensor::arange(t, (Kind::Int64, device));
        let relative = positions.unsqueeze(0) - positions.unsqueeze(1);
        let half = self.num_buckets / 2;
        let sign = relative.gt(0).to_kind(Kind::Int64) * half;
        let distance = relative.abs();
        let max_exact = half / 2;
        let is_small = distance.lt(max_exact);
        let large = (distance.to_kind(Kind::Float) / max_exact).log()
            / (self.max_distance as f64 / max_exact as f64).ln()
            * (half - max_exact);
        let large = (large + max_exact as f64)
            .to_kind(Kind::Int64)
            .clamp_max(half - 1);
        sign + distance.where_self(&is_small, &large)
    }

    /// The gated bias (batch, heads, t, t) for attention input `x` (batch, t, dim).
    /// `position_bias` (heads, t, t) is computed by layer 0 and kept for the others.
    pub fn gated_bias(
        &self,
        x: &Tensor,
        t: i64,
        heads: i64,
        position_bias: &mut Option<Tensor>,
    ) -> Tensor {
        if position_bias.is_none() {
            let table = self
                .rel_attn_embed
                .as_ref()
                .expect("layer 0 of WavLM has rel_attn_embed");
            let buckets = self.buckets(t, x.device());
            *position_bias =
                Some(Tensor::embedding(table, &buckets, -1, false, false).permute([2, 0, 1]));
        }
        let bias = position_bias.as_ref().expect("set above");
        let b = x.size()[0];
        let per_head = x.view([b, t, heads, -1]).permute([0, 2, 1, 3]);
        let proj = self
            .linear
            .forward(&per_head)
            .view([b, heads, t, 2, 4])
            .sum_dim_intlist(-1, false, Kind::Float)
            .sigmoid();
        let gate_a = proj.narrow(-1, 0, 1);
        let gate_b = proj.narrow(-1, 1, 1);
        let gate = gate_a * (gate_b * &self.constant - 1.0) + 2.0;
        gate * bias.unsqueeze(0)
    }
}
