//! `earshot transcribe`: speech to text with a CTC head (wav2vec2-base-960h and its kind), by
//! greedy decoding ([`earshot_core::ctc`]) over the vocabulary of the Hugging Face folder.
//!
//! Output: one line per input on stdout, `<file>\t<text>`, as each file finishes. Long
//! recordings run in the model's windows (see `models::wav2vec2`), so memory stays bounded.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `earshot transcribe`.
#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio files or directories (recursed).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Model card with a CTC head.
    #[arg(long, default_value = "wav2vec2-base-960h")]
    pub model: String,
    /// Hugging Face folder (config.json, weights, vocab.json), or a weights file with
    /// vocab.json beside it; default: the cached download of the model.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
}
