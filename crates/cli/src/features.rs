//! `earshot features`: audio files → a backbone's input features as float32 `.npy`.
//!
//! Each file is decoded and resampled to the front end's rate exactly as `librosa.load` does
//! ([`earshot_core::audio`]), streamed through the front end ([`earshot_core::frontend`]) and written row by
//! row, so memory stays flat however long the file is (wav2vec 2.0 aside: its normalisation
//! needs the whole utterance). Files run in parallel, and each file's frames too (rayon).
//! One file goes to the named `.npy`; several (or directories) go to `<dir>/<file name>.npy`.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;
use rayon::prelude::*;

use super::{expand_inputs, output, progress, Cli};
use earshot_core::audio::{AudioError, AudioStream, LoadOptions};
use earshot_core::frontend::{Frontend, FrontendError, Preset};

fn preset_parser() -> impl TypedValueParser<Value = Preset> {
    PossibleValuesParser::new(Preset::ALL.map(Preset::name))
        .map(|s| s.parse::<Preset>().expect("listed presets parse"))
}

/// Arguments of `earshot features`.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Audio files or directories.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Which backbone's front end.
    #[arg(long, value_parser = preset_parser())]
    pub frontend: Preset,
    /// Output: a `.npy` file for one input; a directory for several.
    #[arg(short, long)]
    pub output: PathBuf,
}

/// What can go wrong with one file.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Frontend(#[from] FrontendError),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A float32 `.npy` written row by row: a fixed-size header is reserved and rewritten with the
/// final shape at the end (NumPy reads any header length that keeps the data 16-byte aligned).
struct NpyRows {
    file: BufWriter<File>,
}

const NPY_HEADER_LEN: usize = 128;

fn npy_header(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    let pad = NPY_HEADER_LEN - 10 - 1 - dict.len();
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

impl NpyRows {
    fn create(path: &Path) -> std::io::Result<Self> {
        let mut file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        file.write_all(&[0u8; NPY_HEADER_LEN])?;
        Ok(NpyRows { file })
    }

    fn write(&mut self, values: &[f32]) -> std::io::Result<()> {
        let mut bytes = Vec::with_capacity(values.len() * 4);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.file.write_all(&bytes)
    }

    fn finish(mut self, shape: &[usize]) -> std::io::Result<()> {
        self.file.flush()?;
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&npy_header(shape))?;
        file.sync_data()
    }
}

/// Decode `path` and write its features to `target` (through a temporary sibling).
fn extract(path: &Path, frontend: &Frontend, target: &Path) -> Result<(), FileError> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let write_err = |source| FileError::Write {
        path: target.to_path_buf(),
        source,
    };
    let result = (|| {
        let sr = frontend.sample_rate();
        let mut audio = AudioStream::open(path, LoadOptions::mono(sr))?;
        let mut writer = NpyRows::create(&tmp).map_err(write_err)?;
        let mut stream = frontend.stream();
        let mut block = vec![Vec::new()];
        let mut rows = Vec::new();
        loop {
            let more = audio.next_into(&mut block)?;
            // Hand the front end about a second at a time, so that its frames run in parallel.
            if block[0].len() >= sr as usize || !more {
                stream.push(&block[0], &mut rows);
                block[0].clear();
                writer.write(&rows).map_err(write_err)?;
                rows.clear();
            }
            if !more {
                break;
            }
        }
        let shape = stream.finish(&mut rows)?;
        writer.write(&rows).map_err(write_err)?;
        writer.finish(&shape).map_err(write_err)?;
        std::fs::rename(&tmp, target).map_err(write_err)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Run `earshot features`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &FeaturesArgs) -> Result<usize> {
    let inputs = expand_inputs(&args.files);
    let to_file = args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let plan = output::targets(inputs, &args.output, to_file, "npy", ".npy")?;

    let frontend = args.frontend.build();
    let bar = progress(plan.len(), "features");
    // --threads bounds this command's own pool too (files and frames run on rayon).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cli.threads)
        .build()
        .context("cannot start worker threads")?;
    let failed = pool.install(|| {
        plan.par_iter()
            .map(|target| {
                target.run(
                    &bar,
                    |path, output| extract(path, &frontend, output),
                    |e| e.to_string(),
                )
            })
            .sum()
    });
    bar.finish_and_clear();
    Ok(failed)
}
