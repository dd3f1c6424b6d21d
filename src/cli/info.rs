//! `earshot info`: what an audio file holds, or, with no file, what this build can do.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::{expand_inputs, progress, report, Cli};
use crate::audio::{self, AudioInfo, Block, Decoder};

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

#[derive(Debug, Serialize)]
struct SystemInfo {
    earshot: &'static str,
    libtorch_lib: Option<&'static str>,
    cuda_build: bool,
    cuda_available: bool,
    cuda_devices: i64,
    device: String,
    threads: i32,
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

fn system(cli: &Cli, json: bool) -> Result<usize> {
    let device = crate::device::resolve(cli.device)?;
    let sys = SystemInfo {
        earshot: env!("CARGO_PKG_VERSION"),
        libtorch_lib: option_env!("EARSHOT_LIBTORCH_LIB"),
        cuda_build: crate::device::CUDA_BUILD,
        cuda_available: tch::Cuda::is_available(),
        cuda_devices: tch::Cuda::device_count(),
        device: format!("{device:?}").to_lowercase(),
        threads: tch::get_num_threads(),
    };
    // A tiny op proves libtorch is linked and runs.
    let probe = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0])
        .to_device(device)
        .sum(tch::Kind::Float);
    let ok = (f64::try_from(probe)? - 6.0).abs() < 1e-9;
    if json {
        println!("{}", serde_json::to_string_pretty(&sys)?);
    } else {
        println!("earshot      {}", sys.earshot);
        println!(
            "libtorch     {} ({})",
            sys.libtorch_lib.unwrap_or("?"),
            if ok { "working" } else { "BROKEN" }
        );
        println!("cuda build   {}", sys.cuda_build);
        println!(
            "cuda         {} device(s), available: {}",
            sys.cuda_devices, sys.cuda_available
        );
        println!("device       {}", sys.device);
        println!("threads      {}", sys.threads);
    }
    Ok(usize::from(!ok))
}

/// Run `earshot info`; returns the number of files that failed.
pub fn run(cli: &Cli, args: &InfoArgs) -> Result<usize> {
    if args.files.is_empty() {
        return system(cli, args.json);
    }
    let mut failed = 0;
    let mut rows = Vec::new();
    let inputs = expand_inputs(&args.files);
    let bar = progress(inputs.len(), "info");
    for (path, problem) in inputs {
        bar.inc(1);
        if let Some(problem) = problem {
            bar.suspend(|| report(&path, &problem));
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
