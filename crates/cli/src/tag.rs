//! `earshot tag`: clipwise class probabilities, as panns_inference's `AudioTagging` gives them.
//!
//! Long audio is handled as the reference does by default: one forward pass over the whole clip
//! (PANNs pool over time, so any length works). `--window S` instead runs fixed windows of S
//! seconds every `--hop` seconds and pools their probabilities (`--pool mean|max`), which bounds
//! memory on hour-long files.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::output;
use crate::model_args::ModelArgs;
use earshot_core::labels::Labels;
use earshot_core::outputs::{top_k, ClipOutput};

/// Output formats of `tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TagFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON array of per-file objects.
    Json,
    /// `file,rank,index,mid,name,score` rows.
    Csv,
    /// One JSON object per file and line (JSON Lines), written as each file finishes.
    Jsonl,
    /// A TSV of every class's probability: `filename<TAB><class>...`, one row per file, the
    /// layout `eval tagging --scores` and `eval scenes --predictions` read.
    Scores,
}

/// How window probabilities pool into one clip score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pool {
    /// Average over windows.
    Mean,
    /// Maximum over windows.
    Max,
}

/// Arguments of `earshot tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Audio files or directories (recursed).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Labels to report per file.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: TagFormat,
    /// Include every class score (`scores`, in class-index order) in JSON/CSV output.
    #[arg(long)]
    pub all_scores: bool,
    /// Run windows of this many seconds instead of the whole clip, and pool them.
    #[arg(long)]
    pub window: Option<f64>,
    /// Hop between windows in seconds (default: the window length).
    #[arg(long, requires = "window")]
    pub hop: Option<f64>,
    /// How windows pool.
    #[arg(long, value_enum, default_value = "mean", requires = "window")]
    pub pool: Pool,
    /// Clips of equal length run together, up to this many per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Write here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Serialize)]
struct LabelScore<'a> {
    index: usize,
    mid: &'a str,
    name: &'a str,
    score: f32,
}

#[derive(Serialize)]
struct FileTags<'a> {
    file: String,
    duration: f64,
    model: &'a str,
    labels: Vec<LabelScore<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scores: Option<&'a [f32]>,
}

pub fn render(
    args: &TagArgs,
    model: &str,
    rows: &[(PathBuf, ClipOutput)],
    labels: &Labels,
    header: bool,
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let label = |i: usize| {
        labels
            .get(i)
            .map_or(("?", "?"), |l| (l.mid.as_str(), l.name.as_str()))
    };
    match args.format {
        TagFormat::Table => {
            for (path, out) in rows {
                writeln!(buf, "{}  ({:.2} s, {model})", path.display(), out.duration)?;
                for (rank, (i, score)) in top_k(&out.clipwise, args.top_k).into_iter().enumerate() {
                    writeln!(buf, "  {:>2}. {:<40} {:.4}", rank + 1, label(i).1, score)?;
                }
            }
        }
        TagFormat::Json | TagFormat::Jsonl => {
            let items: Vec<FileTags> = rows
                .iter()
                .map(|(path, out)| FileTags {
                    file: path.display().to_string(),
                    duration: out.duration,
                    model,
                    labels: top_k(&out.clipwise, args.top_k)
                        .into_iter()
                        .map(|(index, score)| {
                            let (mid, name) = label(index);
                            LabelScore {
                                index,
                                mid,
                                name,
                                score,
                            }
                        })
                        .collect(),
                    scores: args.all_scores.then_some(out.clipwise.as_slice()),
                })
                .collect();
            if args.format == TagFormat::Json {
                serde_json::to_writer_pretty(&mut buf, &items)?;
                buf.push(b'\n');
            } else {
                for item in &items {
                    serde_json::to_writer(&mut buf, item)?;
                    buf.push(b'\n');
                }
            }
        }
        TagFormat::Csv => {
            if header {
                writeln!(buf, "file,rank,index,mid,name,score")?;
            }
            for (path, out) in rows {
                let k = if args.all_scores {
                    out.clipwise.len()
                } else {
                    args.top_k
                };
                for (rank, (i, score)) in top_k(&out.clipwise, k).into_iter().enumerate() {
                    let (mid, name) = label(i);
                    writeln!(
                        buf,
                        "{},{},{i},{mid},{},{score}",
                        csv_field(&path.display().to_string()),
                        rank + 1,
                        csv_field(name)
                    )?;
                }
            }
        }
        TagFormat::Scores => {
            if header {
                write!(buf, "filename")?;
                for l in labels.iter() {
                    write!(buf, "\t{}", l.name)?;
                }
                writeln!(buf)?;
            }
            for (path, out) in rows {
                write!(buf, "{}", path.display())?;
                for v in &out.clipwise {
                    write!(buf, "\t{v}")?;
                }
                writeln!(buf)?;
            }
        }
    }
    Ok(buf)
}

/// Quote a CSV field when it needs it (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Write `bytes` to `-o` (atomically) or standard output.
pub fn emit(target: Option<&std::path::Path>, bytes: &[u8]) -> Result<()> {
    match target {
        Some(path) => {
            let path = super::shard::output_path(path);
            output::atomically(&path, |tmp| std::fs::write(tmp, bytes))
        }
        None => {
            std::io::stdout().write_all(bytes)?;
            Ok(())
        }
    }
}
