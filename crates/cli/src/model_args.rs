//! The model flags shared by `tag`, `detect`, `embed` and `eval run`, and the card name they
//! pick. `earshot-torch` turns them into a model request and loads the model.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use earshot_core::device::Precision;

/// Which model, from which file.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model name (`earshot models list`), a trained model's folder or installed name
    /// (`earshot train`), or a family name for its default model: `panns`
    /// (cnn14), `passt`, `openl3`, `wav2vec2`, `hubert`, `wavlm`. `yamnet` is Google's Keras
    /// `yamnet.h5`; `yamnet-w8a8`, its ONNX export, is the one scripts/setup.sh installs.
    #[arg(long, default_value = "cnn14")]
    pub model: String,
    /// Checkpoint file (or Hugging Face folder) in the authors' format, e.g.
    /// `Cnn14_mAP=0.431.pth`; default: the cached download of the model (`earshot models fetch
    /// NAME`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// OpenL3 input representation, with `--model openl3` (default mel256).
    #[arg(long, value_parser = ["linear", "mel128", "mel256"])]
    pub input_repr: Option<String>,
    /// OpenL3 content type, with `--model openl3` (default music).
    #[arg(long, value_parser = ["music", "env"])]
    pub content_type: Option<String>,
    /// OpenL3 embedding size, with `--model openl3` (default 6144).
    #[arg(long, value_parser = ["512", "6144"])]
    pub embedding_size: Option<String>,
    /// Precision of the model passes: fp32, or bf16/fp16 mixed precision as `torch.autocast`
    /// runs it (matrix products and convolutions reduced, front ends, norms and reductions in
    /// float32). Fast with CUDA and on CPUs with AVX-512 (avx512_bf16/AMX for bf16).
    #[arg(long, default_value = "fp32")]
    pub precision: Precision,
    /// Run a QDQ ONNX export as written (its QuantizeLinear/DequantizeLinear pairs on
    /// activations and weights honoured, as onnxruntime runs the file), instead of on its float
    /// weights. YAMNet only.
    #[arg(long)]
    pub quantized: bool,
}

impl ModelArgs {
    /// The model card named: `--model` or its family's default; for `openl3`, the card its
    /// `--input-repr`, `--content-type` and `--embedding-size` pick (defaults as torchopenl3's:
    /// mel256, music, 6144; clap has checked each value).
    pub fn model_name(&self) -> Result<String> {
        if earshot_core::registry::trained::find(&self.model).is_some() {
            return Ok(self.model.clone());
        }
        let model = self.model.to_ascii_lowercase();
        let picks = [&self.input_repr, &self.content_type, &self.embedding_size];
        if model == "openl3" {
            return Ok(format!(
                "openl3-{}-{}-{}",
                self.input_repr.as_deref().unwrap_or("mel256"),
                self.content_type.as_deref().unwrap_or("music"),
                self.embedding_size.as_deref().unwrap_or("6144"),
            ));
        }
        if picks.iter().any(|p| p.is_some()) {
            bail!("--input-repr, --content-type and --embedding-size go with --model openl3 (not {model})");
        }
        Ok(family_default(&model).to_string())
    }
}

/// The model card a family name stands for when given alone.
fn family_default(name: &str) -> &str {
    match name {
        "panns" => "cnn14",
        "passt" => "passt-s-f128-p16-s10-ap476",
        "wav2vec2" => "wav2vec2-base",
        "hubert" => "hubert-base-ls960",
        "wavlm" => "wavlm-base-plus",
        other => other,
    }
}
