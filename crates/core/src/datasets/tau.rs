//! DCASE Task 1 (TAU Urban Acoustic Scenes 2020 Mobile, 2022 Mobile and later): `meta.csv` and
//! the `evaluation_setup/fold1_{train,evaluate,test}.csv` lists.
//!
//! Layout as in `dcase_util/datasets/tut.py` and the 2020–2024 baselines. Trap handled:
//! `meta.csv` is **tab**-separated despite its extension, and device/identifier are taken from
//! its columns, never re-derived from the filename (the 2022 names carry an extra sub-segment
//! field that breaks dcase_util's fallback).

use std::path::Path;

use super::{read_table, Issue, IssueKind, IssueSink, Result, TableFormat};

/// The ten TAU 2020/2022 scene classes.
pub const SCENES: [&str; 10] = [
    "airport",
    "shopping_mall",
    "metro_station",
    "street_pedestrian",
    "public_square",
    "street_traffic",
    "tram",
    "bus",
    "metro",
    "park",
];

/// One row of `meta.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SceneItem {
    /// Path relative to the dataset root, e.g. `audio/airport-barcelona-0-0-a.wav`.
    pub filename: String,
    /// Scene label.
    pub scene_label: String,
    /// `<city>-<location id>` (empty in fold lists).
    pub identifier: String,
    /// Recording device (`a`, `b`, `c`, `s1`..); empty in fold lists.
    pub source_label: String,
    /// 1-based line.
    pub line: usize,
}

/// Read `meta.csv` or a fold list (`fold1_train.csv`, `fold1_evaluate.csv`: filename and
/// scene_label; `fold1_test.csv`: filename only).
pub fn read_meta(path: &Path) -> Result<(Vec<SceneItem>, Vec<Issue>)> {
    let table = read_table(path, TableFormat::TSV)?;
    let c_file = table.require("filename")?;
    let c_scene = table.column("scene_label");
    let c_id = table.column("identifier");
    let c_src = table.column("source_label");
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut items = Vec::with_capacity(table.rows.len());
    for (line, fields) in &table.rows {
        let get = |c: Option<usize>| {
            c.and_then(|c| fields.get(c))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let filename = get(Some(c_file));
        if filename.is_empty() {
            sink.push(Some(*line), IssueKind::EmptyRow, "row without a filename");
            continue;
        }
        let scene_label = get(c_scene);
        if c_scene.is_some() && scene_label.is_empty() {
            sink.push(
                Some(*line),
                IssueKind::EmptyRow,
                format!("{filename}: no scene label"),
            );
        }
        items.push(SceneItem {
            filename,
            scene_label,
            identifier: get(c_id),
            source_label: get(c_src),
            line: *line,
        });
    }
    Ok((items, issues))
}

/// The file list of a fold: `<root>/evaluation_setup/fold<k>_<split>.csv`.
pub fn fold_path(root: &Path, fold: usize, split: &str) -> std::path::PathBuf {
    root.join("evaluation_setup")
        .join(format!("fold{fold}_{split}.csv"))
}

/// System output of the 2020/2022 baselines: `filename scene_label <one column per class>`.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneOutput {
    /// Class names of the probability columns, in column order.
    pub classes: Vec<String>,
    /// (filename, predicted label, probabilities).
    pub rows: Vec<(String, String, Vec<f64>)>,
}

/// Read a system-output TSV. Columns other than filename and scene_label are class
/// probabilities.
pub fn read_output(path: &Path) -> Result<(SceneOutput, Vec<Issue>)> {
    let table = read_table(path, TableFormat::TSV)?;
    let c_file = table.require("filename")?;
    let c_scene = table.column("scene_label");
    let prob_cols: Vec<usize> = (0..table.header.len())
        .filter(|&c| c != c_file && Some(c) != c_scene)
        .collect();
    let classes = prob_cols.iter().map(|&c| table.header[c].clone()).collect();
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut rows = Vec::new();
    'rows: for (line, fields) in &table.rows {
        let filename = fields.get(c_file).map(|s| s.trim()).unwrap_or("");
        if filename.is_empty() {
            sink.push(Some(*line), IssueKind::EmptyRow, "row without a filename");
            continue;
        }
        let mut probs = Vec::with_capacity(prob_cols.len());
        for &c in &prob_cols {
            match super::parse_float(fields.get(c).map(|s| s.as_str()).unwrap_or("")) {
                Ok(Some(v)) => probs.push(v),
                _ => {
                    sink.push(
                        Some(*line),
                        IssueKind::Malformed,
                        format!("{filename}: column {} is not a number", table.header[c]),
                    );
                    continue 'rows;
                }
            }
        }
        let label = c_scene
            .and_then(|c| fields.get(c))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        rows.push((filename.to_string(), label, probs));
    }
    Ok((SceneOutput { classes, rows }, issues))
}
