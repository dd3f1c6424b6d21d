//! ESC-50 metadata: `meta/esc50.csv` (`filename,fold,target,category,esc10,src_file,take`).
//!
//! Matches `karolpiczak/ESC-50:README.md`: 2,000 clips, 50 classes, five predefined folds that
//! keep clips of one source file together (use them; never reshuffle).

use std::path::Path;

use super::{read_table, Issue, IssueKind, IssueSink, Result, TableFormat};

/// One clip of ESC-50.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Clip {
    /// File name in `audio/`, e.g. `1-100032-A-0.wav`.
    pub filename: String,
    /// Fold 1..5.
    pub fold: u32,
    /// Class index 0..49.
    pub target: u32,
    /// Class name, e.g. `dog`.
    pub category: String,
    /// In the ESC-10 subset.
    pub esc10: bool,
    /// 1-based line.
    pub line: usize,
}

/// Read `esc50.csv`.
pub fn read_meta(path: &Path) -> Result<(Vec<Clip>, Vec<Issue>)> {
    let table = read_table(path, TableFormat::CSV)?;
    let c_file = table.require("filename")?;
    let c_fold = table.require("fold")?;
    let c_target = table.require("target")?;
    let c_cat = table.require("category")?;
    let c_esc10 = table.column("esc10");
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut clips = Vec::new();
    for (line, f) in &table.rows {
        let get = |c: usize| f.get(c).map(|s| s.trim()).unwrap_or("");
        let (Ok(fold), Ok(target)) = (get(c_fold).parse(), get(c_target).parse()) else {
            sink.push(
                Some(*line),
                IssueKind::Malformed,
                format!("{}: fold/target are not integers", get(c_file)),
            );
            continue;
        };
        if get(c_file).is_empty() {
            sink.push(Some(*line), IssueKind::EmptyRow, "row without a filename");
            continue;
        }
        clips.push(Clip {
            filename: get(c_file).to_string(),
            fold,
            target,
            category: get(c_cat).to_string(),
            esc10: c_esc10.is_some_and(|c| get(c).eq_ignore_ascii_case("true")),
            line: *line,
        });
    }
    Ok((clips, issues))
}
