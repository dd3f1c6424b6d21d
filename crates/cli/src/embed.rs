//! `earshot embed`: time-stamped and scene embeddings for each file.
//!
//! Every model gives frame embeddings with their centre times and a scene embedding (the HEAR
//! 2021 pair): OpenL3 a frame per 1-s window, PaSST a frame per window of its own hop, the speech
//! models a frame per 20 ms and per hidden state, PANNs one frame for the clip (or one per
//! `--window`). Outputs:
//! - `-o DIR`: one `DIR/<input file name>.npz` per input with `embedding` (frames × dim, or
//!   layers × frames × dim; the scene shape with `--pool mean`), `timestamps` (seconds, f64, one
//!   per frame) and `scene`. Each file is written atomically as soon as its input is done.
//! - `-o OUT.npy`: the scene embeddings of all inputs stacked (files × dim, or files × layers ×
//!   dim) in input order, the order beside it in `OUT.files.txt`; with `--pool none` and a single
//!   input, that input's frame embeddings instead.
//! - `-o OUT.parquet`: one table for all inputs, a row per frame (`file`, `frame`, `timestamp`,
//!   `embedding`, and `layer` with `--layer all`) or per file with `--pool mean`, written in row
//!   groups as inputs finish (memory stays bounded at archive scale) and moved into place at the
//!   end ([`earshot_core::parquet_table`]).
//! - `-o DIR --hear`: the HEAR 2021 kit's files per input, `<name>.embedding.npy` (float32) and
//!   `<name>.timestamps.json` (milliseconds), ready for `heareval`'s downstream training.
//!
//! Files that fail are reported and left out; the others complete.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::output;
use crate::model_args::ModelArgs;
use earshot_core::outputs::Embeddings;
use earshot_core::outputs::{EmbedOptions, Layers};

/// How frame embeddings reduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbedPool {
    /// Keep every frame.
    None,
    /// Average over frames (per layer).
    Mean,
}

/// Arguments of `earshot embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Audio files or directories (recursed).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// A directory (one `.npz` per input), an `.npy` file (stacked scene embeddings) or a
    /// `.parquet` table (a row per frame, or per file with `--pool mean`).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Embed windows of this many seconds as frames (for whole-clip models such as PANNs).
    #[arg(long)]
    pub window: Option<f64>,
    /// Seconds between frames: the model's own frame hop (OpenL3: 0.1), or between `--window`s
    /// (default: the window length).
    #[arg(long)]
    pub hop: Option<f64>,
    /// Pad so the first frame is centred on 0 s, as the reference does by default.
    #[arg(long, overrides_with = "no_center")]
    pub center: bool,
    /// Frames start at 0 s (no padding).
    #[arg(long, overrides_with = "center")]
    pub no_center: bool,
    /// Hidden state(s) of layered models: `last`, `all`, or an index (0 = the input embeddings).
    #[arg(long, default_value = "last", value_parser = parse_layers)]
    pub layer: Layers,
    /// Clips embedded together, up to this many (and 120 s of audio) per pass, where the model
    /// batches (wav2vec 2.0 large/HuBERT/WavLM with attention masks; equal lengths otherwise).
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Reduce frames: `none` keeps them, `mean` averages per layer. Default: frames in each
    /// `.npz`, scene embeddings when stacking into one `.npy`.
    #[arg(long, value_enum)]
    pub pool: Option<EmbedPool>,
    /// With `-o DIR`, the HEAR 2021 evaluation kit's layout instead of `.npz`:
    /// `<input file name>.embedding.npy` (frames × dim, float32; the scene with `--pool mean`) and
    /// `<input file name>.timestamps.json` (frame centres in ms), as heareval writes them.
    #[arg(long)]
    pub hear: bool,
}

fn parse_layers(s: &str) -> std::result::Result<Layers, String> {
    match s {
        "last" => Ok(Layers::Last),
        "all" => Ok(Layers::All),
        n => n
            .parse()
            .map(Layers::Index)
            .map_err(|_| format!("expected last, all or a layer index, got {n:?}")),
    }
}

impl EmbedArgs {
    pub fn options(&self) -> EmbedOptions {
        EmbedOptions {
            hop: if self.window.is_some() {
                None
            } else {
                self.hop
            },
            center: match (self.center, self.no_center) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            layers: self.layer,
        }
    }
}

/// Write one input's `.npz`.
pub fn write_npz(path: &Path, e: &Embeddings, pool: EmbedPool) -> Result<()> {
    let embedding = match pool {
        EmbedPool::None => earshot_core::npy::to_bytes(&e.frames, &e.shape),
        EmbedPool::Mean => earshot_core::npy::to_bytes(&e.scene, &e.scene_shape()),
    };
    let arrays = [
        ("embedding", embedding),
        (
            "timestamps",
            earshot_core::npy::to_bytes(&e.timestamps, &[e.timestamps.len()]),
        ),
        (
            "scene",
            earshot_core::npy::to_bytes(&e.scene, &e.scene_shape()),
        ),
    ];
    output::atomically(path, |tmp| earshot_core::npy::write_npz(tmp, &arrays))
}

/// Write one input in the HEAR kit's layout (`heareval/embeddings/task_embeddings.py`):
/// `target` is `<name>.embedding.npy`, the times go to `<name>.timestamps.json`.
pub fn write_hear(target: &Path, e: &Embeddings, pool: EmbedPool) -> Result<()> {
    if pool == EmbedPool::Mean {
        return output::atomically(target, |tmp| {
            earshot_core::npy::write(tmp, &e.scene, &e.scene_shape())
        });
    }
    output::atomically(target, |tmp| {
        earshot_core::npy::write(tmp, &e.frames, &e.shape)
    })?;
    let name = target.to_string_lossy();
    let times = PathBuf::from(format!(
        "{}.timestamps.json",
        name.strip_suffix(".embedding.npy").unwrap_or(&name)
    ));
    let ms: Vec<f64> = e.timestamps.iter().map(|t| t * 1000.0).collect();
    let json = serde_json::to_string(&ms)?;
    output::atomically(&times, |tmp| std::fs::write(tmp, &json))
}
