//! `earshot merge`: combine the outputs of a sharded run into what one process would have
//! written. Shards are taken in the order given (pass them as `OUT.shard-*-of-N.*`, which the
//! shell sorts by index for N ≤ 10, or list them): `.npy` stacks along the first axis (and
//! concatenates the `.files.txt` lists beside them), `.json` concatenates the arrays, `.csv` and
//! `.tsv` keep the first header, `.parquet` tables concatenate row group by row group, anything
//! else is concatenated as text.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::output;

/// Arguments of `earshot merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard outputs, in shard order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// The merged output.
    #[arg(short, long)]
    pub output: PathBuf,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))
}

fn ext(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn merge_npy(args: &MergeArgs) -> Result<()> {
    let mut data: Vec<f64> = Vec::new();
    let mut rows = 0usize;
    let mut tail: Option<Vec<usize>> = None;
    let mut descr = String::new();
    let mut names = String::new();
    for path in &args.shards {
        let a = earshot_core::npy::read(path).with_context(|| format!("{}", path.display()))?;
        let Some((&n, rest)) = a.shape.split_first() else {
            bail!("{}: a 0-d array cannot be stacked", path.display());
        };
        if *tail.get_or_insert_with(|| rest.to_vec()) != rest {
            bail!(
                "{}: shape {:?} does not stack with the first shard's",
                path.display(),
                a.shape
            );
        }
        if descr.is_empty() {
            descr = a.descr.clone();
        }
        rows += n;
        data.extend(a.data);
        let list = path.with_extension("files.txt");
        if list.is_file() {
            names.push_str(&read(&list)?);
        }
    }
    let mut shape = vec![rows];
    shape.extend(tail.unwrap_or_default());
    if descr == "<f8" {
        output::atomically(&args.output, |tmp| {
            earshot_core::npy::write(tmp, &data, &shape)
        })?;
    } else {
        let data: Vec<f32> = data.iter().map(|&v| v as f32).collect();
        output::atomically(&args.output, |tmp| {
            earshot_core::npy::write(tmp, &data, &shape)
        })?;
    }
    if !names.is_empty() {
        let list = args.output.with_extension("files.txt");
        output::atomically(&list, |tmp| std::fs::write(tmp, &names))?;
    }
    Ok(())
}

/// Run `earshot merge`.
pub fn run(args: &MergeArgs) -> Result<usize> {
    let kind = ext(&args.output);
    if let Some(p) = args.shards.iter().find(|p| ext(p) != kind) {
        bail!("{}: not a .{kind} file like the output", p.display());
    }
    let text = match kind.as_str() {
        "npy" => return merge_npy(args).map(|()| 0),
        "parquet" => {
            let shards: Vec<&Path> = args.shards.iter().map(PathBuf::as_path).collect();
            output::atomically(&args.output, |tmp| {
                earshot_core::parquet_table::concat(&shards, tmp)
            })?;
            return Ok(0);
        }
        "json" => {
            let mut all = Vec::new();
            for path in &args.shards {
                let v: serde_json::Value = serde_json::from_str(&read(path)?)
                    .with_context(|| format!("{}: not JSON", path.display()))?;
                match v {
                    serde_json::Value::Array(items) => all.extend(items),
                    _ => bail!("{}: not a JSON array", path.display()),
                }
            }
            serde_json::to_string_pretty(&all)? + "\n"
        }
        "csv" | "tsv" => {
            let mut out = String::new();
            for (i, path) in args.shards.iter().enumerate() {
                let text = read(path)?;
                let body = if i == 0 {
                    text.as_str()
                } else {
                    text.split_once('\n').map_or("", |(_, rest)| rest)
                };
                out.push_str(body);
            }
            out
        }
        _ => args
            .shards
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>>>()?
            .concat(),
    };
    output::atomically(&args.output, |tmp| std::fs::write(tmp, &text))?;
    Ok(0)
}
