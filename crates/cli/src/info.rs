//! `earshot info FILES`: what an audio file holds. With no file, `earshot-torch` shows what the
//! build can do (crates/torch/src/info.rs).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::{expand_inputs, progress, report, Input};
use earshot_core::audio::{self, AudioInfo, Block, Decoder};

/// Arguments of `earshot info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Audio files or directories.
    pub files: Vec<PathBuf>,
    /// Print JSON (one array of objects) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Read headers only: faster, but frame counts are the header's (estimated for some MP3s)
    /// and corrupt or truncated data goes unnoticed. By default every file is decoded to the
    /// end, which verifies it and counts frames exactly.
    #[arg(long)]
    pub header_only: bool,
}

#[derive(Debug, Serialize)]
struct FileInfo {
    file: String,
    #[serde(flatten)]
    info: AudioInfo,
    duration: Option<f64>,
}

/// Decode to the end, returning the exact playable frame count.
fn count_frames(path: &std::path::Path) -> audio::Result<AudioInfo> {
    let mut decoder = Decoder::open(path)?;
    let channels = decoder.info().channels;
    let mut block = Block::default();
    let mut frames = 0u64;
    while decoder.next_block(&mut block)? {
        frames += (block.samples.len() / channels) as u64;
    }
    let mut info = decoder.info().clone();
    info.frames = Some(frames);
    Ok(info)
}

/// Run `earshot info`; returns the number of files that failed.
pub fn run(args: &InfoArgs) -> Result<usize> {
    let mut failed = 0;
    let mut rows = Vec::new();
    let inputs = expand_inputs(&args.files);
    let bar = progress(inputs.len(), "info");
    for Input { path, problem } in inputs {
        bar.inc(1);
        if let Some(problem) = problem {
            bar.suspend(|| report(&path, &problem.to_string()));
            failed += 1;
            continue;
        }
        let info = if args.header_only {
            audio::probe(&path)
        } else {
            count_frames(&path)
        };
        match info {
            Ok(info) => {
                let row = FileInfo {
                    file: path.display().to_string(),
                    duration: info.duration(),
                    info,
                };
                if !args.json {
                    bar.suspend(|| print_row(&row, rows.is_empty()));
                }
                rows.push(row);
            }
            Err(e) => {
                bar.suspend(|| report(&path, &e));
                failed += 1;
            }
        }
    }
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(failed)
}

fn print_row(row: &FileInfo, header: bool) {
    if header {
        println!(
            "{:<10} {:<10} {:>8} {:>4} {:>11} {:>12}  file",
            "container", "codec", "rate", "ch", "duration", "frames"
        );
    }
    let frames = row.info.frames.map_or("?".to_string(), |f| f.to_string());
    let duration = row.duration.map_or("?".to_string(), |d| format!("{d:.3}s"));
    println!(
        "{:<10} {:<10} {:>8} {:>4} {:>11} {:>12}  {}",
        row.info.container,
        row.info.codec,
        row.info.sample_rate,
        row.info.channels,
        duration,
        frames,
        row.file
    );
}
