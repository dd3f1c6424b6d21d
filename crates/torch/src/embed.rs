//! `earshot embed` (arguments and writers: earshot-cli's `embed`): time-stamped and scene
//! embeddings, whole clips batched or `--window`s streamed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use earshot_cli::embed::{write_hear, write_npz, EmbedArgs, EmbedPool};
use earshot_cli::output::Target;
use earshot_cli::{expand_inputs, output, progress, report, shard, Cli, Input};
use earshot_core::outputs::{Embeddings, Layers};
use earshot_models::tasks::{embed_windows, for_each_clip, run_input};

/// Run `earshot embed`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &EmbedArgs) -> Result<usize> {
    let ext = args.output.extension().and_then(|e| e.to_str());
    let to_parquet = ext == Some("parquet");
    // One output file for the whole run (stacked .npy or a table), not one per input.
    let one_file = ext == Some("npy") || to_parquet;
    let out_file = shard::output_path(&args.output);
    if one_file && shard::already_done(&out_file) {
        return Ok(0);
    }
    let backbone = crate::load_backbone(cli, &args.model)?;
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
        let layout = earshot_core::parquet_table::Layout {
            layered: args.layer == Layers::All,
            frames: args.pool != Some(EmbedPool::Mean),
        };
        let pending = output::Pending::new(&out_file);
        let t = earshot_core::parquet_table::EmbeddingTable::create(
            pending.tmp(),
            layout,
            &backbone.name,
        )
        .with_context(|| format!("{}: cannot write", args.output.display()))?;
        table = Some((pending, t));
    }
    let plan = if one_file {
        files
            .into_iter()
            .map(|Input { path, problem }| Target {
                path,
                problem,
                output: args.output.clone(),
            })
            .collect()
    } else {
        let ext = if args.hear { "embedding.npy" } else { "npz" };
        output::targets(files, &args.output, false, ext, ".npy")?
    };
    let targets: std::collections::HashMap<PathBuf, PathBuf> = plan
        .iter()
        .map(|t| (t.path.clone(), t.output.clone()))
        .collect();
    let inputs: Vec<Input> = plan.iter().map(Target::input).collect();
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
                output::atomically(&out_file, |tmp| {
                    earshot_core::npy::write(tmp, &e.frames, &e.shape)
                })?;
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
            let result = run_input(input, |path| {
                embed_windows(&backbone, path, window, args.hop, &options)
            });
            deliver(&input.path, result);
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
        output::atomically(&out_file, |tmp| {
            earshot_core::npy::write(tmp, &rows, &shape)
        })?;
        let list = out_file.with_extension("files.txt");
        output::atomically(&list, |tmp| std::fs::write(tmp, names.join("\n") + "\n"))?;
    }
    Ok(failed)
}
