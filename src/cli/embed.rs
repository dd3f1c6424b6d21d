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
//!   end ([`crate::parquet_table`]).
//! - `-o DIR --hear`: the HEAR 2021 kit's files per input, `<name>.embedding.npy` (float32) and
//!   `<name>.timestamps.json` (milliseconds), ready for `heareval`'s downstream training.
//!
//! Files that fail are reported and left out; the others complete.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use super::infer::{for_each_clip, stream_windows, Backbone, ModelArgs};
use super::{expand_inputs, output, progress, report, run_input, Cli};
use crate::models::{EmbedOptions, Layers};
use crate::tasks::Embeddings;

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
    fn options(&self) -> EmbedOptions {
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

/// One embedding frame per `--window` of the file, streamed (one window in memory), stamped
/// at the window's centre; the scene embedding is their mean.
fn embed_windows(
    backbone: &Backbone,
    path: &Path,
    window: f64,
    args: &EmbedArgs,
) -> Result<Embeddings> {
    let options = args.options();
    let sr = f64::from(backbone.sample_rate());
    let mut frames = Vec::new();
    let mut timestamps = Vec::new();
    let mut scene_shape = Vec::new();
    stream_windows(
        path,
        backbone.sample_rate(),
        window,
        args.hop,
        |samples, start| {
            let e = backbone.embed(&backbone.padded_window(samples), &options)?;
            frames.extend_from_slice(&e.scene);
            timestamps.push((2 * start + samples.len()) as f64 / 2.0 / sr);
            scene_shape = e.scene_shape();
            Ok(())
        },
    )?;
    // Frames are (windows, ...scene shape); move the window axis next to the last.
    let n = timestamps.len();
    let dim = *scene_shape.last().unwrap_or(&0);
    let layers = frames.len() / (n * dim).max(1);
    let mut shape = scene_shape[..scene_shape.len().saturating_sub(1)].to_vec();
    shape.extend([n, dim]);
    let mut reordered = vec![0f32; frames.len()];
    for w in 0..n {
        for l in 0..layers {
            let src = (w * layers + l) * dim;
            let dst = (l * n + w) * dim;
            reordered[dst..dst + dim].copy_from_slice(&frames[src..src + dim]);
        }
    }
    let scene = Embeddings::mean_over_frames(&reordered, &shape);
    Ok(Embeddings {
        frames: reordered,
        shape,
        timestamps,
        scene,
    })
}

/// Write one input's `.npz`.
fn write_npz(path: &Path, e: &Embeddings, pool: EmbedPool) -> Result<()> {
    let embedding = match pool {
        EmbedPool::None => crate::npy::to_bytes(&e.frames, &e.shape),
        EmbedPool::Mean => crate::npy::to_bytes(&e.scene, &e.scene_shape()),
    };
    let arrays = [
        ("embedding", embedding),
        (
            "timestamps",
            crate::npy::to_bytes(&e.timestamps, &[e.timestamps.len()]),
        ),
        ("scene", crate::npy::to_bytes(&e.scene, &e.scene_shape())),
    ];
    output::atomically(path, |tmp| crate::npy::write_npz(tmp, &arrays))
}

/// Write one input in the HEAR kit's layout (`heareval/embeddings/task_embeddings.py`):
/// `target` is `<name>.embedding.npy`, the times go to `<name>.timestamps.json`.
fn write_hear(target: &Path, e: &Embeddings, pool: EmbedPool) -> Result<()> {
    if pool == EmbedPool::Mean {
        return output::atomically(target, |tmp| {
            crate::npy::write(tmp, &e.scene, &e.scene_shape())
        });
    }
    output::atomically(target, |tmp| crate::npy::write(tmp, &e.frames, &e.shape))?;
    let name = target.to_string_lossy();
    let times = PathBuf::from(format!(
        "{}.timestamps.json",
        name.strip_suffix(".embedding.npy").unwrap_or(&name)
    ));
    let ms: Vec<f64> = e.timestamps.iter().map(|t| t * 1000.0).collect();
    let json = serde_json::to_string(&ms)?;
    output::atomically(&times, |tmp| std::fs::write(tmp, &json))
}

/// Run `earshot embed`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &EmbedArgs) -> Result<usize> {
    let ext = args.output.extension().and_then(|e| e.to_str());
    let to_parquet = ext == Some("parquet");
    // One output file for the whole run (stacked .npy or a table), not one per input.
    let one_file = ext == Some("npy") || to_parquet;
    let out_file = super::shard::output_path(&args.output);
    if one_file && super::shard::already_done(&out_file) {
        return Ok(0);
    }
    let device = crate::device::resolve(cli.device)?;
    let backbone = Backbone::load(&args.model, device)?;
    let files = expand_inputs(&args.inputs);
    if ext == Some("npy") && args.pool == Some(EmbedPool::None) && files.len() != 1 {
        bail!(
            "{}: --pool none writes one input's frames; {} inputs given (use a directory)",
            args.output.display(),
            files.len()
        );
    }
    if one_file && args.hear {
        bail!(
            "{}: --hear writes a directory of files; give a directory to -o",
            args.output.display()
        );
    }
    let single_frames = !to_parquet && one_file && args.pool == Some(EmbedPool::None);
    let mut table = None;
    if to_parquet {
        let layout = crate::parquet_table::Layout {
            layered: args.layer == Layers::All,
            frames: args.pool != Some(EmbedPool::Mean),
        };
        let pending = output::Pending::new(&out_file);
        let t = crate::parquet_table::EmbeddingTable::create(pending.tmp(), layout, &backbone.name)
            .with_context(|| format!("{}: cannot write", args.output.display()))?;
        table = Some((pending, t));
    }
    let plan = if one_file {
        files
            .into_iter()
            .map(|(p, problem)| (p, problem, args.output.clone()))
            .collect()
    } else {
        let ext = if args.hear { "embedding.npy" } else { "npz" };
        output::targets(files, &args.output, false, ext, ".npy")?
    };
    let targets: std::collections::HashMap<PathBuf, PathBuf> = plan
        .iter()
        .map(|(p, _, t)| (p.clone(), t.clone()))
        .collect();
    let inputs: Vec<super::Input> = plan
        .into_iter()
        .map(|(p, problem, _)| (p, problem))
        .collect();
    let bar = progress(inputs.len(), "embed");
    let mut rows: Vec<f32> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut row_shape: Option<Vec<usize>> = None;
    let mut failed = 0;
    let mut deliver = |path: &Path, result: Result<Embeddings>| {
        let result = result.and_then(|e| {
            if let Some((_, t)) = table.as_mut() {
                t.push(&path.display().to_string(), &e)?;
            } else if single_frames {
                output::atomically(&out_file, |tmp| crate::npy::write(tmp, &e.frames, &e.shape))?;
            } else if one_file {
                let shape = e.scene_shape();
                if row_shape.get_or_insert_with(|| shape.clone()) != &shape {
                    bail!("embedding shape {shape:?} differs from the first file's");
                }
                rows.extend_from_slice(&e.scene);
                names.push(path.display().to_string());
            } else {
                let target = &targets[path];
                let pool = args.pool.unwrap_or(EmbedPool::None);
                if args.hear {
                    write_hear(target, &e, pool)?;
                } else {
                    write_npz(target, &e, pool).with_context(|| format!("{}", target.display()))?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            bar.suspend(|| report(path, &format!("{e:#}")));
            failed += 1;
        }
        bar.inc(1);
    };
    // Whole-clip embeddings batch across files; windows (`--window`) go file by file.
    let max_samples = 120 * backbone.sample_rate() as usize;
    let options = args.options();
    let mut pending: Vec<(PathBuf, Vec<f32>)> = Vec::new();
    let flush = |pending: &mut Vec<(PathBuf, Vec<f32>)>,
                 deliver: &mut dyn FnMut(&Path, Result<Embeddings>)| {
        if pending.is_empty() {
            return;
        }
        let clips: Vec<&[f32]> = pending.iter().map(|(_, s)| s.as_slice()).collect();
        match backbone.embed_batch(&clips, &options) {
            Ok(outs) => pending
                .iter()
                .zip(outs)
                .for_each(|((p, _), e)| deliver(p, Ok(e))),
            // Attribute a failure to its own clip.
            Err(_) => pending
                .iter()
                .for_each(|(p, s)| deliver(p, backbone.embed(s, &options))),
        }
        pending.clear();
    };
    if let Some(window) = args.window {
        for input in &inputs {
            let result = run_input(input, |path| embed_windows(&backbone, path, window, args));
            deliver(&input.0, result);
        }
    } else {
        for_each_clip(inputs, backbone.sample_rate(), |path, wave| {
            match wave {
                Err(e) => deliver(path, Err(e)),
                Ok(w) => {
                    let queued: usize = pending.iter().map(|(_, s)| s.len()).sum();
                    if pending.len() >= args.batch_size.max(1)
                        || (!pending.is_empty() && queued + w.samples.len() > max_samples)
                    {
                        flush(&mut pending, &mut deliver);
                    }
                    pending.push((path.to_path_buf(), w.samples));
                }
            }
            Ok(())
        })?;
        flush(&mut pending, &mut deliver);
    }
    bar.finish_and_clear();
    if let Some((pending, t)) = table {
        t.finish()
            .with_context(|| format!("{}: cannot write", args.output.display()))?;
        pending.commit()?;
    } else if one_file && !single_frames && !names.is_empty() {
        let mut shape = vec![names.len()];
        shape.extend(row_shape.unwrap_or_default());
        output::atomically(&out_file, |tmp| crate::npy::write(tmp, &rows, &shape))?;
        let list = out_file.with_extension("files.txt");
        output::atomically(&list, |tmp| std::fs::write(tmp, names.join("\n") + "\n"))?;
    }
    Ok(failed)
}
