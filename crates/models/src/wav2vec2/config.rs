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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatExtractNorm {
    /// GroupNorm (one group per channel) after the first convolution only.
    Group,
    /// LayerNorm over channels after every convolution.
    Layer,
}

/// Activations transformers' `ACT2FN` names that these configs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
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

impl TryFrom<String> for Activation {
    type Error = String;

    fn try_from(name: String) -> std::result::Result<Activation, String> {
        Activation::parse(&name)
    }
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

/// The model configuration: transformers' `Wav2Vec2Config` / `HubertConfig` / `WavLMConfig`
/// as config.json spells it (candle-transformers' `Config` structs do the same), with the
/// library's defaults for keys left out, plus the feature extractor's two settings.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// Which family (config.json's `model_type`, or the card's family).
    #[serde(skip)]
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
    /// `vocab_size`; after loading, the rows of the CTC head (`lm_head`), when the checkpoint has
    /// one.
    pub vocab_size: Option<i64>,
    /// The feature extractor's `do_normalize` (fairseq: `task.normalize`).
    pub do_normalize: bool,
    /// `sampling_rate` of the feature extractor.
    pub sampling_rate: u32,
}

impl Default for Config {
    /// `Wav2Vec2Config()` (the base layout) with `Wav2Vec2FeatureExtractor()`'s settings.
    fn default() -> Self {
        Config {
            family: Family::Wav2vec2,
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
}

/// What config.json holds besides [`Config`]: the family, the unsupported adapters, and every
/// key the network does not read (training settings such as `mask_time_prob`).
#[derive(Debug, serde::Deserialize)]
struct HfConfig {
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    add_adapter: bool,
    #[serde(default)]
    adapter_attn_dim: Option<Json>,
    #[serde(flatten)]
    config: Config,
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, Json>,
}

/// The feature extractor's settings in `preprocessor_config.json`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Preprocessor {
    do_normalize: Option<bool>,
    sampling_rate: Option<u32>,
}

/// `json` without its `null` values: transformers reads `null` as the default.
fn without_nulls(json: &Json) -> std::result::Result<Json, String> {
    let Json::Object(map) = json else {
        return Err("not a JSON object".into());
    };
    Ok(Json::Object(
        (map.iter())
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

impl Config {
    /// transformers' defaults for the family (`Wav2Vec2Config()`, `HubertConfig()`,
    /// `WavLMConfig()`: the base layout), with `Wav2Vec2FeatureExtractor()`'s `do_normalize`.
    pub fn preset(family: Family) -> Config {
        Config {
            family,
            ..Config::default()
        }
    }

    /// From a transformers `config.json` (and `preprocessor_config.json`, when there is one),
    /// or a model card's `[arguments]` (`card`: then a key this network does not read is refused,
    /// as a misspelling would be; a config.json's training settings are ignored). `family` is used
    /// when the config has no `model_type`.
    pub fn from_hf(
        config: &Json,
        preprocessor: Option<&Json>,
        family: Family,
        card: bool,
    ) -> std::result::Result<Config, String> {
        let source = if card {
            "the card's [arguments]"
        } else {
            "config.json"
        };
        let hf: HfConfig =
            serde_json::from_value(without_nulls(config)?).map_err(|e| format!("{source}: {e}"))?;
        if card {
            if let Some(key) = hf.other.keys().next() {
                return Err(format!(
                    "{source}: unknown key {key:?} (the arguments use config.json's names)"
                ));
            }
        }
        if hf.add_adapter {
            return Err(format!("{source}: add_adapter models are not supported"));
        }
        if hf.adapter_attn_dim.is_some() {
            return Err(format!(
                "{source}: attention adapters (MMS) are not supported"
            ));
        }
        let family = match &hf.model_type {
            Some(t) => Family::parse(t)
                .ok_or_else(|| format!("model_type {t:?} is not wav2vec2, hubert or wavlm"))?,
            None => family,
        };
        let preset = Config::preset(family);
        let mut c = Config {
            family,
            ..hf.config
        };
        // Only HuBERT has the projection switch; only WavLM reads the buckets.
        if family != Family::Hubert {
            c.feat_proj_layer_norm = preset.feat_proj_layer_norm;
        }
        if family != Family::Wavlm {
            c.num_buckets = preset.num_buckets;
            c.max_bucket_distance = preset.max_bucket_distance;
        }
        if let Some(pre) = preprocessor {
            let pre: Preprocessor = serde_json::from_value(without_nulls(pre)?)
                .map_err(|e| format!("preprocessor_config.json: {e}"))?;
            c.do_normalize = pre.do_normalize.unwrap_or(c.do_normalize);
            c.sampling_rate = pre.sampling_rate.unwrap_or(c.sampling_rate);
        }
        c.check_sizes().map_err(|e| format!("{source}: {e}"))?;
        c.validate()?;
        Ok(c)
    }

    /// Every size between 1 and 2^20, so a hostile config cannot ask for a huge allocation.
    fn check_sizes(&self) -> std::result::Result<(), String> {
        let sizes = [
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("num_conv_pos_embeddings", self.num_conv_pos_embeddings),
            (
                "num_conv_pos_embedding_groups",
                self.num_conv_pos_embedding_groups,
            ),
            ("num_buckets", self.num_buckets),
            ("max_bucket_distance", self.max_bucket_distance),
        ];
        let lists = [
            ("conv_dim", &self.conv_dim),
            ("conv_kernel", &self.conv_kernel),
            ("conv_stride", &self.conv_stride),
        ];
        let bad = |v: i64| v <= 0 || v >= 1 << 20;
        if let Some((k, v)) = sizes.iter().find(|(_, v)| bad(*v)) {
            return Err(format!("{k} = {v} is not a size"));
        }
        for (k, list) in lists {
            if let Some(v) = list.iter().find(|&&v| bad(v)) {
                return Err(format!("{k} has {v}, not a size"));
            }
        }
        if self.vocab_size.is_some_and(bad) {
            return Err(format!("vocab_size = {:?} is not a size", self.vocab_size));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_json_keys_map_with_transformers_defaults() {
        // A config.json as save_pretrained writes it: training settings and nulls included.
        let config = json!({
            "model_type": "hubert", "hidden_size": 256, "num_attention_heads": 4,
            "num_hidden_layers": 2, "intermediate_size": 512, "feat_extract_norm": "layer",
            "do_stable_layer_norm": true, "conv_bias": true, "feat_proj_layer_norm": false,
            "mask_time_prob": 0.05, "adapter_attn_dim": null, "vocab_size": null,
            "hidden_act": "gelu_new", "num_buckets": 7
        });
        let pre = json!({"do_normalize": false, "sampling_rate": 16000, "feature_size": 1});
        let c = Config::from_hf(&config, Some(&pre), Family::Wav2vec2, false).unwrap();
        assert_eq!(c.family, Family::Hubert, "model_type decides");
        assert_eq!((c.hidden_size, c.num_hidden_layers), (256, 2));
        assert_eq!(c.feat_extract_norm, FeatExtractNorm::Layer);
        assert!(c.do_stable_layer_norm && c.conv_bias && !c.feat_proj_layer_norm);
        assert_eq!(c.hidden_act, Activation::GeluTanh);
        assert_eq!(
            c.feat_extract_activation,
            Activation::Gelu,
            "left out: default"
        );
        assert_eq!(c.num_buckets, 320, "only WavLM reads the buckets");
        assert_eq!(c.conv_dim, vec![512; 7]);
        assert_eq!(c.vocab_size, None);
        assert!(!c.do_normalize, "the preprocessor's");
    }

    /// Every speech card builds its configuration from its arguments, in its family, with the
    /// card's sample rate and embedding size.
    #[test]
    fn every_speech_card_drives_its_configuration() {
        let mut n = 0;
        for spec in earshot_core::registry::Registry::builtin().specs() {
            let Some(family) = Family::parse(&spec.family) else {
                continue;
            };
            let args = serde_json::to_value(&spec.arguments).unwrap();
            let c = Config::from_hf(&args, None, family, true)
                .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            assert_eq!(c.sampling_rate, spec.sample_rate, "{}", spec.name);
            assert_eq!(c.hidden_size as usize, spec.embedding_dim, "{}", spec.name);
            n += 1;
        }
        assert!(n >= 5, "{n} speech cards");
    }

    #[test]
    fn cards_refuse_unknown_keys_and_every_source_refuses_bad_sizes() {
        let card = json!({"hidden_size": 768, "num_hiden_layers": 12});
        let e = Config::from_hf(&card, None, Family::Wav2vec2, true).unwrap_err();
        assert!(e.contains("unknown key \"num_hiden_layers\""), "{e}");
        assert!(Config::from_hf(&card, None, Family::Wav2vec2, false).is_ok());
        for (bad, want) in [
            (json!({"hidden_size": 0}), "hidden_size = 0 is not a size"),
            (
                json!({"conv_dim": [512, -1]}),
                "conv_dim has -1, not a size",
            ),
            (json!({"num_hidden_layers": 1 << 21}), "is not a size"),
            (json!({"hidden_size": "big"}), "invalid type"),
            (
                json!({"feat_extract_norm": "batch"}),
                "unknown variant `batch`",
            ),
            (
                json!({"hidden_act": "tanh"}),
                "unsupported activation \"tanh\"",
            ),
            (json!({"add_adapter": true}), "add_adapter"),
        ] {
            let e = Config::from_hf(&bad, None, Family::Wav2vec2, false).unwrap_err();
            assert!(e.starts_with("config.json: ") && e.contains(want), "{e}");
        }
    }
}
