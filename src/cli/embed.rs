//! `earshot embed`: the model's clip embedding (2048-d for Cnn14) for each file.
//!
//! Output is one `.npy` of shape (files, dim) in input order, with the order written beside it
//! (`OUT.files.txt`, one path per line); files that fail are left out of both and reported.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::infer::{for_each_clip, Backbone, ModelArgs};
use super::tag::{run_clip, Pool};
use super::{expand_inputs, output, progress, report, Cli};

/// Arguments of `earshot embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Audio files or directories (recursed).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output `.npy` (files × dim); the file order goes to `<OUT>.files.txt`.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Embed windows of this many seconds and average them, instead of the whole clip.
    #[arg(long)]
    pub window: Option<f64>,
    /// Hop between windows in seconds (default: the window length).
    #[arg(long, requires = "window")]
    pub hop: Option<f64>,
}

/// Run `earshot embed`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &EmbedArgs) -> Result<usize> {
    if args.output.extension().and_then(|e| e.to_str()) != Some("npy") {
        bail!("{}: output must end in .npy", args.output.display());
    }
    let device = crate::device::resolve(cli.device)?;
    let backbone = Backbone::load(&args.model, device)?;
    let files = expand_inputs(&args.inputs);
    let bar = progress(files.len(), "embed");
    let mut rows: Vec<f32> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut dim = 0;
    let mut failed = 0;
    for_each_clip(files, backbone.sample_rate(), |path, wave| {
        let result = wave
            .and_then(|w| run_clip(&backbone, &w.samples, args.window, args.hop, Pool::Mean))
            .and_then(|out| {
                out.embedding
                    .with_context(|| format!("model {} has no clip embedding", backbone.name))
            });
        match result {
            Ok(e) => {
                dim = e.len();
                rows.extend(e);
                names.push(path.display().to_string());
            }
            Err(e) => {
                bar.suspend(|| report(path, &format!("{e:#}")));
                failed += 1;
            }
        }
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    if !names.is_empty() {
        output::atomically(&args.output, |tmp| {
            crate::npy::write(tmp, &rows, &[names.len(), dim])
        })?;
        let list = args.output.with_extension("files.txt");
        output::atomically(&list, |tmp| std::fs::write(tmp, names.join("\n") + "\n"))?;
    }
    Ok(failed)
}
