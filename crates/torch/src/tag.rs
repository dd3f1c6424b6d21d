//! `earshot tag` (arguments and writers: earshot-cli's `tag`): clipwise class probabilities,
//! whole clips batched or `--window`s of a long file pooled as they decode.

use std::io::Write;

use anyhow::Result;

use earshot_cli::tag::{emit, render, Pool, TagArgs, TagFormat};
use earshot_cli::{expand_inputs, progress, report, shard, Cli};
use earshot_core::outputs::ClipOutput;
use earshot_models::tasks::{run_batched, run_input, tag_windows, WindowPool};

/// Run `earshot tag`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &TagArgs) -> Result<usize> {
    if let Some(o) = &args.output {
        if shard::already_done(&shard::output_path(o)) {
            return Ok(0);
        }
    }
    let backbone = crate::load_backbone(cli, &args.model)?;
    if backbone.classes() == 0 {
        anyhow::bail!(
            "model {} has no classifier (an embedding model); use `earshot embed`",
            backbone.name
        );
    }
    let labels = backbone.labels()?;
    let files = expand_inputs(&args.inputs);
    let bar = progress(files.len(), "tag");
    // Table and CSV go to standard output file by file, so an interrupted batch keeps what it
    // printed; JSON (one array) and `-o` files are written once at the end.
    let stream = args.output.is_none() && args.format != TagFormat::Json;
    if stream && matches!(args.format, TagFormat::Csv | TagFormat::Scores) {
        std::io::stdout().write_all(&render(args, &backbone.name, &[], labels, true)?)?;
    }
    let mut rows = Vec::new();
    let mut failed = 0;
    let mut record = |path: &std::path::Path, result: Result<ClipOutput>| {
        let shown = result.and_then(|out| {
            if stream {
                let row = [(path.to_path_buf(), out)];
                let bytes = render(args, &backbone.name, &row, labels, false)?;
                bar.suspend(|| std::io::stdout().write_all(&bytes))?;
            } else {
                rows.push((path.to_path_buf(), out));
            }
            Ok(())
        });
        if let Err(e) = shown {
            bar.suspend(|| report(path, &format!("{e:#}")));
            failed += 1;
        }
        bar.inc(1);
    };
    if let Some(window) = args.window {
        for input in &files {
            let out = run_input(input, |path| {
                tag_windows(
                    &backbone,
                    path,
                    window,
                    args.hop,
                    match args.pool {
                        Pool::Mean => WindowPool::Mean,
                        Pool::Max => WindowPool::Max,
                    },
                )
            });
            record(&input.path, out);
        }
    } else {
        run_batched(&backbone, files, args.batch_size, &mut record)?;
    }
    bar.finish_and_clear();
    if !stream {
        emit(
            args.output.as_deref(),
            &render(args, &backbone.name, &rows, labels, true)?,
        )?;
    }
    Ok(failed)
}
