//! `earshot checkpoint inspect|convert`: what a checkpoint holds, and turning any supported
//! checkpoint into safetensors.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{output, report, Cli};
use earshot_core::checkpoint::{self, Checkpoint};

/// Arguments of `earshot checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(subcommand)]
    pub action: Action,
}

/// What to do with a checkpoint.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Show the format, metadata and every tensor's name, dtype and shape.
    Inspect {
        /// A .pt/.pth/.bin/.safetensors/.h5 file or a Hugging Face folder.
        file: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only tensors under this prefix (e.g. `model.`), with it removed.
        #[arg(long)]
        select: Option<String>,
    },
    /// Write the tensors (and metadata) as a .safetensors file.
    Convert {
        /// The input checkpoint.
        input: PathBuf,
        /// The output file; must end in .safetensors.
        output: PathBuf,
        /// Only tensors under this prefix (e.g. `model.`), with it removed.
        #[arg(long)]
        select: Option<String>,
    },
}

#[derive(Serialize)]
struct TensorRow<'a> {
    name: &'a str,
    dtype: &'static str,
    shape: &'a [usize],
}

#[derive(Serialize)]
struct Inspection<'a> {
    file: String,
    format: checkpoint::Format,
    tensors: Vec<TensorRow<'a>>,
    parameters: usize,
    bytes: usize,
    metadata: &'a serde_json::Value,
    /// Metadata values kept only as a description (their type is not a number).
    opaque: &'a [String],
}

fn open(
    path: &std::path::Path,
    select: Option<&str>,
) -> std::result::Result<Checkpoint, checkpoint::CheckpointError> {
    let ckpt = checkpoint::load(path)?;
    Ok(match select {
        Some(prefix) => ckpt.select(prefix),
        None => ckpt,
    })
}

/// Run `earshot checkpoint`; returns the number of inputs that failed.
pub fn run(_cli: &Cli, args: &CheckpointArgs) -> Result<usize> {
    match &args.action {
        Action::Inspect { file, json, select } => {
            let ckpt = match open(file, select.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    report(file, &e);
                    return Ok(1);
                }
            };
            let inspection = Inspection {
                file: file.display().to_string(),
                format: ckpt.format,
                tensors: ckpt
                    .tensors
                    .iter()
                    .map(|(n, t)| TensorRow {
                        name: n,
                        dtype: t.dtype.name(),
                        shape: &t.shape,
                    })
                    .collect(),
                parameters: ckpt.tensors.iter().map(|(_, t)| t.numel()).sum(),
                bytes: ckpt.nbytes(),
                metadata: &ckpt.metadata,
                opaque: &ckpt.opaque,
            };
            if *json {
                println!("{}", serde_json::to_string_pretty(&inspection)?);
            } else {
                println!("{}: {}", inspection.file, ckpt.format.describe());
                println!(
                    "{} tensors, {} elements, {:.1} MB",
                    inspection.tensors.len(),
                    inspection.parameters,
                    inspection.bytes as f64 / 1e6
                );
                let width = inspection
                    .tensors
                    .iter()
                    .map(|t| t.name.len())
                    .max()
                    .unwrap_or(4)
                    .max(4);
                println!("{:<width$}  {:<9}  shape", "name", "dtype");
                for t in &inspection.tensors {
                    println!("{:<width$}  {:<9}  {:?}", t.name, t.dtype, t.shape);
                }
                if !ckpt.metadata.is_null() && ckpt.metadata != serde_json::json!({}) {
                    println!("metadata: {}", serde_json::to_string(&ckpt.metadata)?);
                }
                for what in &ckpt.opaque {
                    println!("opaque: {what}");
                }
            }
            Ok(0)
        }
        Action::Convert {
            input,
            output: out,
            select,
        } => {
            if out.extension().and_then(|e| e.to_str()) != Some("safetensors") {
                bail!("{}: output must end in .safetensors", out.display());
            }
            let ckpt = match open(input, select.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    report(input, &e);
                    return Ok(1);
                }
            };
            output::atomically(out, |tmp| checkpoint::safetensors::save(&ckpt, tmp))?;
            eprintln!("wrote {} tensors to {}", ckpt.tensors.len(), out.display());
            Ok(0)
        }
    }
}
