//! `earshot decode`: audio to float32 WAV or `.npy`, as `librosa.load(path, sr, mono)`.
//!
//! One file goes to the named output; several files (or directories) go to one output per file
//! in the `-o` directory, named after the input (`clip.flac` → `clip.flac.npy`).

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{expand_inputs, output, progress, Cli};
use earshot_core::audio::{self, LoadOptions, Waveform};

/// Output file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecodeFormat {
    /// NumPy `.npy`, float32: (samples,) with --mono, else (channels, samples).
    Npy,
    /// 32-bit float WAV.
    Wav,
}

/// Arguments of `earshot decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Audio files or directories.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Target sample rate in Hz (soxr HQ, as librosa); default: keep the native rate.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub sr: Option<u32>,
    /// Average the channels into one.
    #[arg(long)]
    pub mono: bool,
    /// Output: a `.npy` or `.wav` file for one input; a directory for several.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Keep AAC/M4A in float; by default they are rounded and clipped to 16 bits as
    /// librosa.load's audioread/ffmpeg path does.
    #[arg(long)]
    pub full_precision: bool,
    /// Output format when writing into a directory (default npy).
    #[arg(long, value_enum)]
    pub format: Option<DecodeFormat>,
}

fn format_of(path: &Path) -> Option<DecodeFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "npy" => Some(DecodeFormat::Npy),
        "wav" => Some(DecodeFormat::Wav),
        _ => None,
    }
}

fn write(path: &Path, wave: &Waveform, mono: bool, format: DecodeFormat) -> Result<()> {
    match format {
        DecodeFormat::Npy => {
            let shape = if mono {
                vec![wave.frames()]
            } else {
                vec![wave.channels, wave.frames()]
            };
            output::atomically(path, |tmp| {
                earshot_core::npy::write(tmp, &wave.samples, &shape)
            })
        }
        DecodeFormat::Wav => {
            output::atomically(path, |tmp| earshot_core::wav::write_f32(tmp, wave))
        }
    }
}

/// Run `earshot decode`; returns the number of inputs that failed.
pub fn run(_cli: &Cli, args: &DecodeArgs) -> Result<usize> {
    let inputs = expand_inputs(&args.files);
    // `-o clip.npy` or `-o clip.wav` names one output file; anything else is a directory.
    let single = format_of(&args.output);
    let format = single.or(args.format).unwrap_or(DecodeFormat::Npy);
    let ext = match format {
        DecodeFormat::Npy => "npy",
        DecodeFormat::Wav => "wav",
    };
    let plan = output::targets(inputs, &args.output, single.is_some(), ext, ".npy/.wav")?;

    let options = LoadOptions {
        full_precision: args.full_precision,
        ..LoadOptions::new(args.sr, args.mono)
    };
    let bar = progress(plan.len(), "decode");
    // Files decode in parallel (rayon, one per core); each is written as soon as it is done.
    let failed = plan
        .par_iter()
        .map(|target| {
            target.run(
                &bar,
                |path, output| {
                    audio::load(path, options)
                        .map_err(anyhow::Error::from)
                        .and_then(|wave| write(output, &wave, args.mono, format))
                },
                |e| format!("{e:#}"),
            )
        })
        .sum();
    bar.finish_and_clear();
    Ok(failed)
}
