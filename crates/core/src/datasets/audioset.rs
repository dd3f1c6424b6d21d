//! AudioSet metadata: `class_labels_indices.csv`, `ontology.json`, the segment CSVs
//! (`eval_segments.csv`, `balanced_train_segments.csv`, `unbalanced_train_segments.csv`), the
//! May 2021 strong labels (`audioset_{train,eval}_strong.tsv`, `mid_to_display_name.tsv`), and
//! the mapping from segments to audio files on disk.
//!
//! Matches what PANNs reads (`audioset_tagging_cnn:utils/utilities.py::read_metadata`, Python
//! `csv.reader` for the class list). Traps handled: display names are quoted and contain commas;
//! segment rows are separated by comma + space and some re-saved copies drop the space (both
//! read); YTIDs may start with `-`, which is why PANNs names files `Y<YTID>.wav`; strong-label
//! segment ids are `<YTID>_<start in ms>`, DESED names clips `Y<YTID>_<start>_<end>.wav` (3
//! decimals) and its public eval set `<YTID>_<start>_<end>.wav` (integers): [`clip_file_names`]
//! lists every spelling so local files are found whichever tool downloaded them.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::{
    list_files, parse_float, read_table, read_text, DatasetError, Issue, IssueKind, IssueSink,
    Result, TableFormat,
};

/// One row of `class_labels_indices.csv`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClassLabel {
    /// Output index (0..526 for the 527-class set).
    pub index: usize,
    /// Machine id, e.g. `/m/09x0r`.
    pub mid: String,
    /// Display name, e.g. `Male speech, man speaking`.
    pub name: String,
}

/// Read `class_labels_indices.csv` (`index,mid,display_name`, names quoted). The index column
/// must count up from 0, since the class order of every model output is this file's order.
pub fn read_class_labels(path: &Path) -> Result<Vec<ClassLabel>> {
    let table = read_table(path, TableFormat::CSV)?;
    let c_index = table.require("index")?;
    let c_mid = table.require("mid")?;
    let c_name = table.require("display_name")?;
    let mut labels = Vec::with_capacity(table.rows.len());
    for (line, fields) in &table.rows {
        let field = |c: usize| {
            fields.get(c).ok_or_else(|| {
                DatasetError::format(path, format!("line {line}: {} fields", fields.len()))
            })
        };
        let index: usize = field(c_index)?.trim().parse().map_err(|_| {
            DatasetError::format(path, format!("line {line}: index is not an integer"))
        })?;
        if index != labels.len() {
            return Err(DatasetError::format(
                path,
                format!("line {line}: index {index}, expected {}", labels.len()),
            ));
        }
        labels.push(ClassLabel {
            index,
            mid: field(c_mid)?.trim().to_string(),
            name: field(c_name)?.to_string(),
        });
    }
    Ok(labels)
}

/// One node of `ontology.json`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct OntologyNode {
    /// Machine id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Citation URI (may be empty).
    #[serde(default)]
    pub citation_uri: String,
    /// Example clips, `youtu.be/<ytid>?start=..&end=..`.
    #[serde(default)]
    pub positive_examples: Vec<String>,
    /// Children's machine ids.
    #[serde(default)]
    pub child_ids: Vec<String>,
    /// `abstract` and/or `blacklist`.
    #[serde(default)]
    pub restrictions: Vec<String>,
}

/// The AudioSet ontology: a DAG (a node may have several parents).
#[derive(Debug, Clone)]
pub struct Ontology {
    /// Nodes in file order.
    pub nodes: Vec<OntologyNode>,
    index: HashMap<String, usize>,
}

impl Ontology {
    /// The node with this id.
    pub fn get(&self, id: &str) -> Option<&OntologyNode> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }

    /// Nodes that are nobody's child, in file order.
    pub fn roots(&self) -> Vec<&OntologyNode> {
        let children: BTreeSet<&str> = self
            .nodes
            .iter()
            .flat_map(|n| n.child_ids.iter().map(|c| c.as_str()))
            .collect();
        self.nodes
            .iter()
            .filter(|n| !children.contains(n.id.as_str()))
            .collect()
    }

    /// Every ancestor of `id` (all parents, transitively), sorted.
    pub fn ancestors(&self, id: &str) -> Vec<String> {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for n in &self.nodes {
            for c in &n.child_ids {
                parents.entry(c.as_str()).or_default().push(n.id.as_str());
            }
        }
        let mut out = BTreeSet::new();
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            for &p in parents.get(cur).map(|v| v.as_slice()).unwrap_or(&[]) {
                if out.insert(p.to_string()) {
                    stack.push(p);
                }
            }
        }
        out.into_iter().collect()
    }
}

/// Read `ontology.json`; child ids that name no node are reported.
pub fn read_ontology(path: &Path) -> Result<(Ontology, Vec<Issue>)> {
    let text = read_text(path)?;
    let nodes: Vec<OntologyNode> = serde_json::from_str(&text)
        .map_err(|e| DatasetError::format(path, format!("not an ontology JSON array: {e}")))?;
    let mut index = HashMap::new();
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    for (i, n) in nodes.iter().enumerate() {
        if index.insert(n.id.clone(), i).is_some() {
            sink.push(
                None,
                IssueKind::Duplicate,
                format!("{}: listed twice", n.id),
            );
        }
    }
    for n in &nodes {
        for c in &n.child_ids {
            if !index.contains_key(c) {
                sink.push(
                    None,
                    IssueKind::UnknownLabel,
                    format!("{}: child {c} is not a node", n.id),
                );
            }
        }
    }
    Ok((Ontology { nodes, index }, issues))
}

/// One row of a segment CSV.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    /// YouTube id (11 characters, may start with `-`).
    pub ytid: String,
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// Positive labels (mids).
    pub labels: Vec<String>,
    /// 1-based line in the CSV.
    pub line: usize,
}

/// Read a segment CSV (three `#` header lines, then `YTID, start, end, "mid1,mid2"`). With
/// `classes`, labels outside it are reported (and kept).
pub fn read_segments(
    path: &Path,
    classes: Option<&[ClassLabel]>,
) -> Result<(Vec<Segment>, Vec<Issue>)> {
    let table = read_table(
        path,
        TableFormat {
            sep: ',',
            header: false,
            comments: true,
            skip_initial_space: true,
        },
    )?;
    let known: Option<BTreeSet<&str>> = classes.map(|c| c.iter().map(|l| l.mid.as_str()).collect());
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut segments = Vec::with_capacity(table.rows.len());
    let mut seen = HashMap::new();
    for (line, fields) in &table.rows {
        if fields.len() < 4 {
            sink.push(
                Some(*line),
                IssueKind::Malformed,
                format!("{} fields, expected 4", fields.len()),
            );
            continue;
        }
        let ytid = fields[0].trim().to_string();
        let (start, end) = match (parse_float(&fields[1]), parse_float(&fields[2])) {
            (Ok(Some(s)), Ok(Some(e))) => (s, e),
            _ => {
                sink.push(
                    Some(*line),
                    IssueKind::Malformed,
                    format!("{ytid}: start/end are not numbers"),
                );
                continue;
            }
        };
        if end <= start {
            sink.push(
                Some(*line),
                IssueKind::BadInterval,
                format!("{ytid}: end {end} is not after start {start}"),
            );
        }
        // Labels are one quoted field; a copy that lost its quotes spreads them over fields.
        let labels: Vec<String> = fields[3..]
            .iter()
            .flat_map(|f| f.split(','))
            .map(|l| l.trim().trim_matches('"').to_string())
            .filter(|l| !l.is_empty())
            .collect();
        if labels.is_empty() {
            sink.push(
                Some(*line),
                IssueKind::EmptyRow,
                format!("{ytid}: no labels"),
            );
        }
        if let Some(known) = &known {
            for l in &labels {
                if !known.contains(l.as_str()) {
                    sink.push(
                        Some(*line),
                        IssueKind::UnknownLabel,
                        format!("{ytid}: label {l} is not in the class list"),
                    );
                }
            }
        }
        let key = format!("{ytid}_{}", (start * 1000.0).round() as i64);
        if let Some(first) = seen.insert(key, *line) {
            sink.push(
                Some(*line),
                IssueKind::Duplicate,
                format!("{ytid} at {start}: listed again (first on line {first})"),
            );
        }
        segments.push(Segment {
            ytid,
            start,
            end,
            labels,
            line: *line,
        });
    }
    Ok((segments, issues))
}

/// The multi-hot target matrix (segments × classes) PANNs builds from segment labels.
pub fn targets(segments: &[Segment], classes: &[ClassLabel]) -> Vec<Vec<bool>> {
    let index: HashMap<&str, usize> = classes.iter().map(|c| (c.mid.as_str(), c.index)).collect();
    segments
        .iter()
        .map(|s| {
            let mut row = vec![false; classes.len()];
            for l in &s.labels {
                if let Some(&i) = index.get(l.as_str()) {
                    row[i] = true;
                }
            }
            row
        })
        .collect()
}

/// One row of a strong-label TSV.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StrongEvent {
    /// `<ytid>_<start ms>`.
    pub segment_id: String,
    /// YouTube id.
    pub ytid: String,
    /// Start of the 10 s clip in the video, milliseconds.
    pub clip_start_ms: i64,
    /// Event onset, seconds from the clip start.
    pub onset: f64,
    /// Event offset, seconds from the clip start.
    pub offset: f64,
    /// Label (mid).
    pub label: String,
    /// The `present` column of the framed pos/neg file (`None` in the plain files).
    pub present: Option<bool>,
    /// 1-based line.
    pub line: usize,
}

/// Split a strong-label segment id `<ytid>_<start ms>`; the YTID may itself contain `_`.
pub fn split_segment_id(id: &str) -> Option<(&str, i64)> {
    let (ytid, ms) = id.rsplit_once('_')?;
    Some((ytid, ms.parse().ok()?))
}

/// Read `audioset_{train,eval}_strong.tsv` or the framed pos/neg file (5th column `present`,
/// `PRESENT`/`NOT_PRESENT`).
pub fn read_strong_segments(path: &Path) -> Result<(Vec<StrongEvent>, Vec<Issue>)> {
    let table = read_table(path, TableFormat::TSV)?;
    let c_id = table.require("segment_id")?;
    let c_on = table.require("start_time_seconds")?;
    let c_off = table.require("end_time_seconds")?;
    let c_label = table.require("label")?;
    let c_present = table.column("present");
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut events = Vec::with_capacity(table.rows.len());
    for (line, fields) in &table.rows {
        let get = |c: usize| fields.get(c).map(|s| s.trim()).unwrap_or("");
        let segment_id = get(c_id);
        let Some((ytid, clip_start_ms)) = split_segment_id(segment_id) else {
            sink.push(
                Some(*line),
                IssueKind::Malformed,
                format!("segment id '{segment_id}' is not <ytid>_<start ms>"),
            );
            continue;
        };
        let (onset, offset) = match (parse_float(get(c_on)), parse_float(get(c_off))) {
            (Ok(Some(a)), Ok(Some(b))) => (a, b),
            _ => {
                sink.push(
                    Some(*line),
                    IssueKind::Malformed,
                    format!("{segment_id}: times are not numbers"),
                );
                continue;
            }
        };
        if offset < onset {
            sink.push(
                Some(*line),
                IssueKind::BadInterval,
                format!("{segment_id}: event ends before it starts"),
            );
        }
        let label = get(c_label);
        if label.is_empty() {
            sink.push(
                Some(*line),
                IssueKind::EmptyRow,
                format!("{segment_id}: no label"),
            );
            continue;
        }
        let present = c_present.map(|c| {
            let v = get(c).to_ascii_uppercase();
            v == "PRESENT" || v == "1" || v == "TRUE"
        });
        events.push(StrongEvent {
            segment_id: segment_id.to_string(),
            ytid: ytid.to_string(),
            clip_start_ms,
            onset,
            offset,
            label: label.to_string(),
            present,
            line: *line,
        });
    }
    Ok((events, issues))
}

/// Read `mid_to_display_name.tsv` (no header: mid, display name).
pub fn read_mid_to_display_name(path: &Path) -> Result<Vec<(String, String)>> {
    let table = read_table(
        path,
        TableFormat {
            header: false,
            ..TableFormat::TSV
        },
    )?;
    table
        .rows
        .iter()
        .map(|(line, f)| match f.as_slice() {
            [mid, name, ..] => Ok((mid.trim().to_string(), name.trim().to_string())),
            _ => Err(DatasetError::format(
                path,
                format!("line {line}: expected mid<TAB>display name"),
            )),
        })
        .collect()
}

/// Every file name a tool may have given the audio of a segment: PANNs `Y<ytid>.wav`, DESED
/// `Y<ytid>_<start:.3f>_<end:.3f>.wav`, DESED public eval `<ytid>_<start>_<end>.wav` (integer
/// seconds), the strong-label id `<ytid>_<start ms>.wav`, and a bare `<ytid>.wav`; each with
/// `.wav`, `.flac` and `.mp3`.
pub fn clip_file_names(ytid: &str, start: f64, end: f64) -> Vec<String> {
    let stems = [
        format!("Y{ytid}"),
        format!("Y{ytid}_{start:.3}_{end:.3}"),
        format!("{ytid}_{start:.3}_{end:.3}"),
        format!("{ytid}_{}_{}", start.round() as i64, end.round() as i64),
        format!("{ytid}_{}", (start * 1000.0).round() as i64),
        ytid.to_string(),
    ];
    let mut names = Vec::new();
    for ext in ["wav", "flac", "mp3"] {
        for stem in &stems {
            names.push(format!("{stem}.{ext}"));
        }
    }
    names
}

/// Segments matched to audio files in `dir`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LocalClips {
    /// (segment index, file) for each segment with audio.
    pub found: Vec<(usize, PathBuf)>,
    /// Indices of segments without audio.
    pub missing: Vec<usize>,
}

/// Find the audio of each segment in `dir`; missing clips come back as issues against the
/// segment CSV `listing` (with its line), so a user sees exactly which rows have no audio.
pub fn match_local_files(
    listing: &Path,
    segments: &[Segment],
    dir: &Path,
) -> Result<(LocalClips, Vec<Issue>)> {
    let present = list_files(dir)?;
    let mut out = LocalClips::default();
    let mut issues = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        match clip_file_names(&s.ytid, s.start, s.end)
            .into_iter()
            .find(|n| present.contains(n))
        {
            Some(name) => out.found.push((i, dir.join(name))),
            None => {
                out.missing.push(i);
                issues.push(Issue {
                    path: listing.to_path_buf(),
                    line: Some(s.line),
                    kind: IssueKind::MissingFile,
                    message: format!(
                        "{} ({}-{}): no audio in {}",
                        s.ytid,
                        s.start,
                        s.end,
                        dir.display()
                    ),
                });
            }
        }
    }
    Ok((out, issues))
}
