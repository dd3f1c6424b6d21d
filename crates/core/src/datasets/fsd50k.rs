//! FSD50K metadata: `FSD50K.ground_truth/{dev,eval}.csv` (`fname,labels,mids[,split]`, label
//! lists quoted and comma-separated) and `vocabulary.csv` (no header: `index,label,mid`).
//!
//! Matches `soundata/datasets/fsd50k.py`. Trap handled: the label lists are one quoted field
//! holding commas; labels are already "smeared" (ancestors included).

use std::path::Path;

use super::{read_table, DatasetError, Issue, IssueKind, IssueSink, Result, TableFormat};

/// One clip's ground truth.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Clip {
    /// Freesound id (file `<fname>.wav`).
    pub fname: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Label mids, parallel to `labels`.
    pub mids: Vec<String>,
    /// `train` or `val` in dev.csv; empty in eval.csv.
    pub split: String,
    /// 1-based line.
    pub line: usize,
}

/// Read `dev.csv` or `eval.csv`.
pub fn read_ground_truth(path: &Path) -> Result<(Vec<Clip>, Vec<Issue>)> {
    let table = read_table(path, TableFormat::CSV)?;
    let c_fname = table.require("fname")?;
    let c_labels = table.require("labels")?;
    let c_mids = table.require("mids")?;
    let c_split = table.column("split");
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut clips = Vec::new();
    for (line, f) in &table.rows {
        let get = |c: usize| f.get(c).map(|s| s.trim()).unwrap_or("");
        let list = |c: usize| -> Vec<String> {
            get(c)
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let (labels, mids) = (list(c_labels), list(c_mids));
        if labels.len() != mids.len() {
            sink.push(
                Some(*line),
                IssueKind::Malformed,
                format!(
                    "{}: {} labels but {} mids",
                    get(c_fname),
                    labels.len(),
                    mids.len()
                ),
            );
        }
        if labels.is_empty() {
            sink.push(
                Some(*line),
                IssueKind::EmptyRow,
                format!("{}: no labels", get(c_fname)),
            );
        }
        clips.push(Clip {
            fname: get(c_fname).to_string(),
            labels,
            mids,
            split: c_split.map(|c| get(c).to_string()).unwrap_or_default(),
            line: *line,
        });
    }
    Ok((clips, issues))
}

/// Read `vocabulary.csv`: (index, label, mid) rows without a header.
pub fn read_vocabulary(path: &Path) -> Result<Vec<(usize, String, String)>> {
    let table = read_table(
        path,
        TableFormat {
            header: false,
            ..TableFormat::CSV
        },
    )?;
    table
        .rows
        .iter()
        .map(|(line, f)| match f.as_slice() {
            [i, label, mid, ..] => Ok((
                i.trim().parse().map_err(|_| {
                    DatasetError::format(path, format!("line {line}: index is not an integer"))
                })?,
                label.trim().to_string(),
                mid.trim().to_string(),
            )),
            _ => Err(DatasetError::format(
                path,
                format!("line {line}: expected index,label,mid"),
            )),
        })
        .collect()
}
