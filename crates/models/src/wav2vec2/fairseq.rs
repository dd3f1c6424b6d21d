//! fairseq (and unilm WavLM) checkpoints of the speech families: the configuration a `.pt`
//! carries and the key names its `model` state dict uses, mapped onto transformers'.
//!
//! A fairseq checkpoint is `torch.save({'args' or 'cfg', 'model', ...})`. The configuration is
//! an `argparse.Namespace` in older files (`args`, e.g. `wav2vec_small.pt`; the restricted
//! unpickler keeps it as a plain attribute map), a plain dict with `model`/`task` sections in
//! newer ones (`cfg`, as `trainer.state_dict` writes `OmegaConf.to_container(cfg)`), and a flat
//! dict of `WavLMConfig` fields in unilm's WavLM files. Fine-tuned CTC models nest the
//! pretraining configuration under `w2v_args` and prefix the encoder's keys with
//! `w2v_encoder.w2v_model.` (the CTC projection is `w2v_encoder.proj`).
//!
//! The key mapping is the inverse of what transformers' `convert_*_original_pytorch_checkpoint`
//! scripts do: `conv_layers.{i}.0` is the convolution, `conv_layers.0.2` the group norm
//! (group mode) or `conv_layers.{i}.2.1` the layer norm (layer mode), `layer_norm` the 512-d
//! feature norm, `post_extract_proj` the projection, `encoder.pos_conv.0` the weight-normed
//! positional convolution, `self_attn`/`self_attn_layer_norm`/`fc1`/`fc2` in each layer, and
//! for WavLM `grep_linear`/`grep_a`/`relative_attention_bias`.

use serde_json::Value as Json;

use super::config::{Activation, Config, Family, FeatExtractNorm};

/// Whether checkpoint metadata looks like a fairseq/unilm checkpoint.
pub fn is_fairseq(metadata: &Json) -> bool {
    let has = |k: &str| metadata.get(k).is_some_and(|v| !v.is_null());
    has("args") || has("cfg")
}

/// The model section of the configuration (for fine-tuned models, the pretraining model's),
/// and the `normalize` flag of the task that trained it.
fn model_section(metadata: &Json) -> Result<(Json, Option<bool>), String> {
    let top = match (metadata.get("cfg"), metadata.get("args")) {
        (Some(c), _) if !c.is_null() => c.clone(),
        (_, Some(a)) if !a.is_null() => a.clone(),
        _ => return Err("a fairseq checkpoint without args or cfg".into()),
    };
    // Newer layout: {model: {...}, task: {...}}; Namespace and unilm: one flat map.
    let (mut model, mut task) = if top.get("model").is_some_and(Json::is_object) {
        (top["model"].clone(), top.get("task").cloned())
    } else {
        (top.clone(), Some(top.clone()))
    };
    let mut normalize = task
        .as_ref()
        .and_then(|t| t.get("normalize"))
        .and_then(Json::as_bool)
        .or_else(|| model.get("normalize").and_then(Json::as_bool));
    // Fine-tuned: the encoder's own configuration is nested under w2v_args.
    for _ in 0..2 {
        let Some(inner) = model.get("w2v_args").filter(|v| !v.is_null()).cloned() else {
            break;
        };
        if inner.get("model").is_some_and(Json::is_object) {
            task = inner.get("task").cloned();
            model = inner["model"].clone();
        } else {
            task = Some(inner.clone());
            model = inner;
        }
        normalize = task
            .as_ref()
            .and_then(|t| t.get("normalize"))
            .and_then(Json::as_bool)
            .or(normalize);
    }
    Ok((model, normalize))
}

/// Parse fairseq's `conv_feature_layers`, a Python expression such as
/// `"[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2"` (fairseq `eval`s it; here only list
/// literals of int triples, `+` and `* int` are accepted).
pub fn parse_conv_layers(text: &str) -> Result<Vec<(i64, i64, i64)>, String> {
    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }
    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            if self.s.get(self.i) == Some(&c) {
                self.i += 1;
                true
            } else {
                false
            }
        }
        fn int(&mut self) -> Result<i64, String> {
            self.ws();
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            std::str::from_utf8(&self.s[start..self.i])
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("expected an integer at offset {start}"))
        }
        fn list(&mut self) -> Result<Vec<(i64, i64, i64)>, String> {
            if !self.eat(b'[') {
                return Err(format!("expected '[' at offset {}", self.i));
            }
            let mut out = Vec::new();
            loop {
                if self.eat(b']') {
                    break;
                }
                if !self.eat(b'(') {
                    return Err(format!("expected '(' at offset {}", self.i));
                }
                let d = self.int()?;
                let mut t = [d, 0, 0];
                for v in t.iter_mut().skip(1) {
                    if !self.eat(b',') {
                        return Err("expected (dim, kernel, stride)".into());
                    }
                    *v = self.int()?;
                }
                self.eat(b',');
                if !self.eat(b')') {
                    return Err(format!("expected ')' at offset {}", self.i));
                }
                out.push((t[0], t[1], t[2]));
                self.eat(b',');
            }
            Ok(out)
        }
        fn term(&mut self) -> Result<Vec<(i64, i64, i64)>, String> {
            let mut l = self.list()?;
            while self.eat(b'*') {
                let n = self.int()?;
                if !(0..=1000).contains(&n) {
                    return Err("repeat count out of range".into());
                }
                l = l.repeat(n as usize);
            }
            Ok(l)
        }
    }
    let mut p = P {
        s: text.as_bytes(),
        i: 0,
    };
    let mut out = p.term()?;
    while p.eat(b'+') {
        out.extend(p.term()?);
    }
    p.ws();
    if p.i != p.s.len() || out.is_empty() || out.len() > 64 {
        return Err(format!("cannot read conv_feature_layers {text:?}"));
    }
    if out.iter().any(|&(d, k, s)| d <= 0 || k <= 0 || s <= 0) {
        return Err(format!(
            "conv_feature_layers {text:?} has a non-positive size"
        ));
    }
    Ok(out)
}

/// The model configuration a fairseq/unilm checkpoint describes. `family` comes from the caller
/// (the model card or `--model`) when the configuration does not name it.
pub fn config(metadata: &Json, family: Family) -> Result<Config, String> {
    let (m, normalize) = model_section(metadata)?;
    let int = |k: &str, default: i64| -> Result<i64, String> {
        match m.get(k) {
            None | Some(Json::Null) => Ok(default),
            Some(v) => v
                .as_i64()
                .filter(|&x| x > 0 && x < 1 << 20)
                .ok_or_else(|| format!("fairseq config: {k} = {v} is not a size")),
        }
    };
    let flag = |k: &str, default: bool| m.get(k).and_then(Json::as_bool).unwrap_or(default);
    let name = m
        .get("_name")
        .or_else(|| m.get("arch"))
        .and_then(Json::as_str)
        .unwrap_or("");
    let family = if name.starts_with("hubert") {
        Family::Hubert
    } else if name.starts_with("wavlm") || m.get("relative_position_embedding").is_some() {
        Family::Wavlm
    } else {
        family
    };
    let conv = match m.get("conv_feature_layers") {
        Some(Json::String(s)) => parse_conv_layers(s)?,
        _ => parse_conv_layers("[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2")?,
    };
    let feat_extract_norm = match m.get("extractor_mode").and_then(Json::as_str) {
        None | Some("default") => FeatExtractNorm::Group,
        Some("layer_norm") => FeatExtractNorm::Layer,
        Some(other) => return Err(format!("fairseq config: unknown extractor_mode {other:?}")),
    };
    if int("pos_conv_depth", 1)? != 1 {
        return Err("fairseq config: pos_conv_depth > 1 (data2vec layout) is not supported".into());
    }
    let hidden_act = match m.get("activation_fn").and_then(Json::as_str) {
        None => Activation::Gelu,
        Some(s) => Activation::parse(s)?,
    };
    let mut cfg = Config::preset(family);
    cfg.hidden_size = int("encoder_embed_dim", 768)?;
    cfg.num_hidden_layers = int("encoder_layers", 12)?;
    cfg.num_attention_heads = int("encoder_attention_heads", 12)?;
    cfg.intermediate_size = int("encoder_ffn_embed_dim", 3072)?;
    cfg.hidden_act = hidden_act;
    cfg.feat_extract_norm = feat_extract_norm;
    cfg.conv_dim = conv.iter().map(|c| c.0).collect();
    cfg.conv_kernel = conv.iter().map(|c| c.1).collect();
    cfg.conv_stride = conv.iter().map(|c| c.2).collect();
    cfg.conv_bias = flag("conv_bias", false);
    cfg.num_conv_pos_embeddings = int("conv_pos", 128)?;
    cfg.num_conv_pos_embedding_groups = int("conv_pos_groups", 16)?;
    cfg.do_stable_layer_norm = flag("layer_norm_first", false);
    // fairseq always normalises the extracted features (HuBERT included).
    cfg.feat_proj_layer_norm = true;
    if family == Family::Wavlm {
        if !flag("relative_position_embedding", true) || !flag("gru_rel_pos", true) {
            return Err("WavLM without gated relative position bias is not supported".into());
        }
        cfg.num_buckets = int("num_buckets", 320)?;
        cfg.max_bucket_distance = int("max_distance", 800)?;
    }
    cfg.do_normalize = normalize.unwrap_or(false);
    cfg.validate()?;
    Ok(cfg)
}

/// fairseq's name of a tensor → transformers' (without the base-model prefix; the CTC
/// projection becomes `lm_head`). `None` for tensors the encoder does not use.
pub fn hf_key(key: &str, norm: FeatExtractNorm) -> Option<String> {
    let key = key.strip_prefix("w2v_encoder.w2v_model.").unwrap_or(key);
    if let Some(rest) = key.strip_prefix("w2v_encoder.proj.") {
        return Some(format!("lm_head.{rest}"));
    }
    if let Some(rest) = key.strip_prefix("feature_extractor.conv_layers.") {
        let parts: Vec<&str> = rest.split('.').collect();
        return match (norm, parts.as_slice()) {
            (_, [i, "0", leaf]) => Some(format!("feature_extractor.conv_layers.{i}.conv.{leaf}")),
            (FeatExtractNorm::Group, [i, "2", leaf])
            | (FeatExtractNorm::Layer, [i, "2", "1", leaf]) => Some(format!(
                "feature_extractor.conv_layers.{i}.layer_norm.{leaf}"
            )),
            _ => None,
        };
    }
    if let Some(rest) = key.strip_prefix("layer_norm.") {
        return Some(format!("feature_projection.layer_norm.{rest}"));
    }
    if let Some(rest) = key.strip_prefix("post_extract_proj.") {
        return Some(format!("feature_projection.projection.{rest}"));
    }
    if let Some(rest) = key.strip_prefix("encoder.pos_conv.0.") {
        return Some(format!("encoder.pos_conv_embed.conv.{rest}"));
    }
    if let Some(rest) = key.strip_prefix("encoder.layer_norm.") {
        return Some(format!("encoder.layer_norm.{rest}"));
    }
    if let Some(rest) = key.strip_prefix("encoder.layers.") {
        let (i, tail) = rest.split_once('.')?;
        let mapped = if let Some(t) = tail.strip_prefix("self_attn_layer_norm.") {
            format!("layer_norm.{t}")
        } else if let Some(t) = tail.strip_prefix("self_attn.grep_linear.") {
            format!("attention.gru_rel_pos_linear.{t}")
        } else if tail == "self_attn.grep_a" {
            "attention.gru_rel_pos_const".into()
        } else if let Some(t) = tail.strip_prefix("self_attn.relative_attention_bias.") {
            format!("attention.rel_attn_embed.{t}")
        } else if let Some(t) = tail.strip_prefix("self_attn.") {
            format!("attention.{t}")
        } else if let Some(t) = tail.strip_prefix("fc1.") {
            format!("feed_forward.intermediate_dense.{t}")
        } else if let Some(t) = tail.strip_prefix("fc2.") {
            format!("feed_forward.output_dense.{t}")
        } else if tail.starts_with("final_layer_norm.") {
            tail.to_string()
        } else {
            return None;
        };
        return Some(format!("encoder.layers.{i}.{mapped}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_layer_strings() {
        let l = parse_conv_layers("[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2").unwrap();
        assert_eq!(l.len(), 7);
        assert_eq!(l[0], (512, 10, 5));
        assert_eq!(l[6], (512, 2, 2));
        assert_eq!(
            parse_conv_layers("[(32, 10, 5), (32, 3, 2)]")
                .unwrap()
                .len(),
            2
        );
        assert!(parse_conv_layers("__import__('os').system('x')").is_err());
        assert!(parse_conv_layers("[(512, 10, 5)] * 99999").is_err());
    }

    #[test]
    fn key_names() {
        let g = FeatExtractNorm::Group;
        let l = FeatExtractNorm::Layer;
        assert_eq!(
            hf_key("feature_extractor.conv_layers.0.2.weight", g).unwrap(),
            "feature_extractor.conv_layers.0.layer_norm.weight"
        );
        assert_eq!(
            hf_key("feature_extractor.conv_layers.3.2.1.bias", l).unwrap(),
            "feature_extractor.conv_layers.3.layer_norm.bias"
        );
        assert_eq!(
            hf_key("w2v_encoder.w2v_model.encoder.layers.2.fc1.weight", g).unwrap(),
            "encoder.layers.2.feed_forward.intermediate_dense.weight"
        );
        assert_eq!(
            hf_key("encoder.layers.0.self_attn.grep_a", g).unwrap(),
            "encoder.layers.0.attention.gru_rel_pos_const"
        );
        assert_eq!(hf_key("quantizer.vars", g), None);
        assert_eq!(hf_key("w2v_encoder.proj.bias", g).unwrap(), "lm_head.bias");
    }
}
