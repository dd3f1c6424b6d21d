//! UrbanSound8K metadata: `metadata/UrbanSound8K.csv`
//! (`slice_file_name,fsID,start,end,salience,fold,classID,class`).
//!
//! Matches `soundata/datasets/urbansound8k.py`: audio in `audio/fold<k>/`, ten predefined folds
//! (evaluate with them; reshuffling leaks slices of one recording across folds).

use std::path::{Path, PathBuf};

use super::{parse_float, read_table, Issue, IssueKind, IssueSink, Result, TableFormat};

/// One slice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Slice {
    /// File name, `[fsID]-[classID]-[occurrenceID]-[sliceID].wav`.
    pub slice_file_name: String,
    /// Freesound id of the source recording.
    pub fs_id: String,
    /// Start in the source recording, seconds.
    pub start: f64,
    /// End in the source recording, seconds.
    pub end: f64,
    /// 1 foreground, 2 background.
    pub salience: u32,
    /// Fold 1..10.
    pub fold: u32,
    /// Class index 0..9.
    pub class_id: u32,
    /// Class name.
    pub class: String,
    /// 1-based line.
    pub line: usize,
}

impl Slice {
    /// Where the audio lives below the dataset root.
    pub fn audio_path(&self, root: &Path) -> PathBuf {
        root.join("audio")
            .join(format!("fold{}", self.fold))
            .join(&self.slice_file_name)
    }
}

/// Read `UrbanSound8K.csv`.
pub fn read_meta(path: &Path) -> Result<(Vec<Slice>, Vec<Issue>)> {
    let table = read_table(path, TableFormat::CSV)?;
    let cols = [
        "slice_file_name",
        "fsID",
        "start",
        "end",
        "salience",
        "fold",
        "classID",
        "class",
    ]
    .map(|c| table.require(c));
    let mut idx = [0usize; 8];
    for (i, c) in cols.into_iter().enumerate() {
        idx[i] = c?;
    }
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut slices = Vec::new();
    for (line, f) in &table.rows {
        let get = |i: usize| f.get(idx[i]).map(|s| s.trim()).unwrap_or("");
        let parsed = (
            parse_float(get(2)),
            parse_float(get(3)),
            get(4).parse(),
            get(5).parse(),
            get(6).parse(),
        );
        let (Ok(Some(start)), Ok(Some(end)), Ok(salience), Ok(fold), Ok(class_id)) = parsed else {
            sink.push(
                Some(*line),
                IssueKind::Malformed,
                format!("{}: a numeric field does not parse", get(0)),
            );
            continue;
        };
        if end < start {
            sink.push(
                Some(*line),
                IssueKind::BadInterval,
                format!("{}: end before start", get(0)),
            );
        }
        slices.push(Slice {
            slice_file_name: get(0).to_string(),
            fs_id: get(1).to_string(),
            start,
            end,
            salience,
            fold,
            class_id,
            class: get(7).to_string(),
            line: *line,
        });
    }
    Ok((slices, issues))
}
