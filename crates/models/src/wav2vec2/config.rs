//! The configuration of the speech network, in transformers' `Wav2Vec2Config` /
//! `HubertConfig` / `WavLMConfig` names, and the families that share it. [`super::fairseq`]
//! reads fairseq's spelling of it; [`super`] builds the network from it.

use serde_json::Value as Json;
use tch::Tensor;

/// The three families that share this network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// wav2vec 2.0 (also XLS-R).
    Wav2vec2,
    /// HuBERT.
    Hubert,
    /// WavLM (gated relative position bias).
    Wavlm,
}

impl Family {
    /// From a model card family or transformers `model_type`.
    pub fn parse(name: &str) -> Option<Family> {
        match name {
            "wav2vec2" => Some(Family::Wav2vec2),
            "hubert" => Some(Family::Hubert),
            "wavlm" => Some(Family::Wavlm),
            _ => None,
        }
    }

    /// transformers' base-model prefix in task models (`Wav2Vec2ForCTC` → `wav2vec2.`).
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Family::Wav2vec2 => "wav2vec2.",
            Family::Hubert => "hubert.",
            Family::Wavlm => "wavlm.",
        }
    }
}

/// Feature encoder normalisation (`feat_extract_norm`; fairseq `extractor_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatExtractNorm {
    /// GroupNorm (one group per channel) after the first convolution only.
    Group,
    /// LayerNorm over channels after every convolution.
    Layer,
}

/// Activations transformers' `ACT2FN` names that these configs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: exact (erf).
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
    /// `swish` / `silu`.
    Silu,
}

impl Activation {
    /// Parse an `ACT2FN` (or fairseq `activation_fn`) name.
    pub fn parse(name: &str) -> std::result::Result<Activation, String> {
        Ok(match name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" | "gelu_accurate" => {
                Activation::GeluTanh
            }
            "relu" => Activation::Relu,
            "swish" | "silu" => Activation::Silu,
            other => return Err(format!("unsupported activation {other:?}")),
        })
    }

    pub(super) fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => x.gelu("none"),
            Activation::GeluTanh => x.gelu("tanh"),
            Activation::Relu => x.relu(),
            Activation::Silu => x.silu(),
        }
    }
}

/// The model configuration, with transformers' `config.json` names.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which family.
    pub family: Family,
    /// `hidden_size`.
    pub hidden_size: i64,
    /// `num_hidden_layers`.
    pub num_hidden_layers: i64,
    /// `num_attention_heads`.
    pub num_attention_heads: i64,
    /// `intermediate_size`.
    pub intermediate_size: i64,
    /// `hidden_act` (feed-forward).
    pub hidden_act: Activation,
    /// `feat_extract_activation` (feature encoder and positional convolution).
    pub feat_extract_activation: Activation,
    /// `feat_extract_norm`.
    pub feat_extract_norm: FeatExtractNorm,
    /// `conv_dim`.
    pub conv_dim: Vec<i64>,
    /// `conv_kernel`.
    pub conv_kernel: Vec<i64>,
    /// `conv_stride`.
    pub conv_stride: Vec<i64>,
    /// `conv_bias`.
    pub conv_bias: bool,
    /// `num_conv_pos_embeddings` (kernel of the positional convolution).
    pub num_conv_pos_embeddings: i64,
    /// `num_conv_pos_embedding_groups`.
    pub num_conv_pos_embedding_groups: i64,
    /// `conv_pos_batch_norm` (HuBERT variants: BatchNorm instead of weight norm).
    pub conv_pos_batch_norm: bool,
    /// `do_stable_layer_norm` (pre-LN encoder).
    pub do_stable_layer_norm: bool,
    /// `layer_norm_eps`.
    pub layer_norm_eps: f64,
    /// `feat_proj_layer_norm` (HuBERT; always true for wav2vec2 and WavLM).
    pub feat_proj_layer_norm: bool,
    /// `num_buckets` (WavLM).
    pub num_buckets: i64,
    /// `max_bucket_distance` (WavLM).
    pub max_bucket_distance: i64,
    /// Rows of the CTC head (`lm_head`), when the checkpoint has one.
    pub vocab_size: Option<i64>,
    /// The feature extractor's `do_normalize` (fairseq: `task.normalize`).
    pub do_normalize: bool,
    /// `sampling_rate` of the feature extractor.
    pub sampling_rate: u32,
}

impl Config {
    /// transformers' defaults for the family (`Wav2Vec2Config()`, `HubertConfig()`,
    /// `WavLMConfig()`: the base layout), with `Wav2Vec2FeatureExtractor()`'s `do_normalize`.
    pub fn preset(family: Family) -> Config {
        Config {
            family,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: Activation::Gelu,
            feat_extract_activation: Activation::Gelu,
            feat_extract_norm: FeatExtractNorm::Group,
            conv_dim: vec![512; 7],
            conv_kernel: vec![10, 3, 3, 3, 3, 2, 2],
            conv_stride: vec![5, 2, 2, 2, 2, 2, 2],
            conv_bias: false,
            num_conv_pos_embeddings: 128,
            num_conv_pos_embedding_groups: 16,
            conv_pos_batch_norm: false,
            do_stable_layer_norm: false,
            layer_norm_eps: 1e-5,
            feat_proj_layer_norm: true,
            num_buckets: 320,
            max_bucket_distance: 800,
            vocab_size: None,
            do_normalize: true,
            sampling_rate: 16000,
        }
    }

    /// From a transformers `config.json` (and `preprocessor_config.json`, when there is one).
    /// `family` is used when the config has no `model_type`.
    pub fn from_hf(
        config: &Json,
        preprocessor: Option<&Json>,
        family: Family,
    ) -> std::result::Result<Config, String> {
        let family = config
            .get("model_type")
            .and_then(Json::as_str)
            .map(|t| {
                Family::parse(t)
                    .ok_or_else(|| format!("model_type {t:?} is not wav2vec2, hubert or wavlm"))
            })
            .transpose()?
            .unwrap_or(family);
        let mut c = Config::preset(family);
        let int = |k: &str, d: i64| -> std::result::Result<i64, String> {
            match config.get(k) {
                None | Some(Json::Null) => Ok(d),
                Some(v) => v
                    .as_i64()
                    .filter(|&x| x > 0 && x < 1 << 20)
                    .ok_or_else(|| format!("config.json: {k} = {v} is not a size")),
            }
        };
        let flag = |k: &str, d: bool| -> std::result::Result<bool, String> {
            match config.get(k) {
                None | Some(Json::Null) => Ok(d),
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| format!("config.json: {k} = {v} is not a boolean")),
            }
        };
        let list = |k: &str, d: &[i64]| -> std::result::Result<Vec<i64>, String> {
            match config.get(k) {
                None | Some(Json::Null) => Ok(d.to_vec()),
                Some(Json::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_i64()
                            .filter(|&x| x > 0 && x < 1 << 20)
                            .ok_or_else(|| format!("config.json: {k} has {v}, not a size"))
                    })
                    .collect(),
                Some(v) => Err(format!("config.json: {k} = {v} is not a list")),
            }
        };
        let act = |k: &str| -> std::result::Result<Activation, String> {
            match config.get(k).and_then(Json::as_str) {
                None => Ok(Activation::Gelu),
                Some(s) => Activation::parse(s).map_err(|e| format!("config.json: {k}: {e}")),
            }
        };
        c.hidden_size = int("hidden_size", c.hidden_size)?;
        c.num_hidden_layers = int("num_hidden_layers", c.num_hidden_layers)?;
        c.num_attention_heads = int("num_attention_heads", c.num_attention_heads)?;
        c.intermediate_size = int("intermediate_size", c.intermediate_size)?;
        c.hidden_act = act("hidden_act")?;
        c.feat_extract_activation = act("feat_extract_activation")?;
        c.feat_extract_norm = match config.get("feat_extract_norm").and_then(Json::as_str) {
            None | Some("group") => FeatExtractNorm::Group,
            Some("layer") => FeatExtractNorm::Layer,
            Some(o) => return Err(format!("config.json: feat_extract_norm {o:?}")),
        };
        c.conv_dim = list("conv_dim", &c.conv_dim)?;
        c.conv_kernel = list("conv_kernel", &c.conv_kernel)?;
        c.conv_stride = list("conv_stride", &c.conv_stride)?;
        c.conv_bias = flag("conv_bias", false)?;
        c.num_conv_pos_embeddings = int("num_conv_pos_embeddings", 128)?;
        c.num_conv_pos_embedding_groups = int("num_conv_pos_embedding_groups", 16)?;
        c.conv_pos_batch_norm = flag("conv_pos_batch_norm", false)?;
        c.do_stable_layer_norm = flag("do_stable_layer_norm", false)?;
        if let Some(eps) = config.get("layer_norm_eps").and_then(Json::as_f64) {
            c.layer_norm_eps = eps;
        }
        if family == Family::Hubert {
            c.feat_proj_layer_norm = flag("feat_proj_layer_norm", true)?;
        }
        if family == Family::Wavlm {
            c.num_buckets = int("num_buckets", 320)?;
            c.max_bucket_distance = int("max_bucket_distance", 800)?;
        }
        if flag("add_adapter", false)? {
            return Err("config.json: add_adapter models are not supported".into());
        }
        if config.get("adapter_attn_dim").is_some_and(|v| !v.is_null()) {
            return Err("config.json: attention adapters (MMS) are not supported".into());
        }
        // Card arguments may carry the preprocessor's do_normalize themselves.
        let pre = preprocessor.unwrap_or(config);
        if let Some(n) = pre.get("do_normalize").and_then(Json::as_bool) {
            c.do_normalize = n;
        }
        if let Some(sr) = pre.get("sampling_rate").and_then(Json::as_u64) {
            c.sampling_rate = sr as u32;
        }
        c.validate()?;
        Ok(c)
    }

    /// Reject configurations the network cannot be built from.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let n = self.conv_dim.len();
        if n == 0 || self.conv_kernel.len() != n || self.conv_stride.len() != n {
            return Err("conv_dim, conv_kernel and conv_stride must have one equal length".into());
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.hidden_size % self.num_conv_pos_embedding_groups != 0 {
            return Err("hidden_size is not a multiple of num_conv_pos_embedding_groups".into());
        }
        if self.sampling_rate == 0 {
            return Err("sampling_rate 0".into());
        }
        Ok(())
    }

    /// Parameters of the encoder this configuration describes (weights of the convolutions,
    /// projection, positional convolution and layers; norms and biases left out), to refuse a
    /// configuration that would allocate far more than its checkpoint holds.
    pub fn approx_parameters(&self) -> u128 {
        let mut n: u128 = 0;
        let mut cin = 1u128;
        for (&c, &k) in self.conv_dim.iter().zip(&self.conv_kernel) {
            n += cin * c as u128 * k as u128;
            cin = c as u128;
        }
        let d = self.hidden_size as u128;
        n += cin * d;
        n += d
            * (d / self.num_conv_pos_embedding_groups as u128)
            * self.num_conv_pos_embeddings as u128;
        n += self.num_hidden_layers as u128 * (4 * d * d + 2 * d * self.intermediate_size as u128);
        n
    }

    /// Samples per output frame (the product of the conv strides: 320).
    pub fn total_stride(&self) -> i64 {
        self.conv_stride.iter().product()
    }

    /// Receptive field of one output frame in samples (400).
    pub fn receptive_field(&self) -> i64 {
        let mut field = 1;
        let mut jump = 1;
        for (k, s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            field += (k - 1) * jump;
            jump *= s;
        }
        field
    }

    /// Output frames for `samples` input samples (`_get_feat_extract_output_lengths`).
    pub fn frames(&self, samples: i64) -> i64 {
        let mut len = samples;
        for (k, s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            if len < *k {
                return 0;
            }
            len = (len - k) / s + 1;
        }
        len
    }

    /// Whether padded batches with attention masks give the same frames as single clips.
    pub fn supports_attention_mask(&self) -> bool {
        self.feat_extract_norm == FeatExtractNorm::Layer
    }
}
