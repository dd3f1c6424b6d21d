//! DCASE Task 4 (DESED) metadata: strong labels, weak labels, durations, and SED score tables.
//!
//! Formats as in `turpaultn/DESED:data/real/metadata/**` and the `DESED_task` baseline: tab
//! separated with one header line; strong `filename onset offset event_label`, weak
//! `filename event_labels` (labels comma-separated inside one field), durations
//! `filename duration`. Score tables are `sed_scores_eval`'s: one `<audio id>.tsv` per clip with
//! columns `onset offset <class>...`, one row per frame.
//!
//! Traps handled: a clip without events is a row with empty onset, offset and label (pandas
//! reads NaN) and must stay in the ground truth so that false positives on it count;
//! `sed_scores_eval` names clips by the filename with its last extension stripped
//! ([`audio_id`]), while `psds_eval` and `sed_eval` compare filenames verbatim.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{
    parse_float, read_table, DatasetError, Issue, IssueKind, IssueSink, Result, TableFormat,
};

/// The ten DESED classes, in the baseline's index order (`classes_dict.py`; also alphabetical).
pub const DESED_CLASSES: [&str; 10] = [
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
];

/// One sound event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Onset in seconds from the start of the clip.
    pub onset: f64,
    /// Offset in seconds.
    pub offset: f64,
    /// Class label.
    pub label: String,
}

/// The events of one clip, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipEvents {
    /// The filename as written in the table.
    pub filename: String,
    /// Its events (empty for a clip listed with an empty row).
    pub events: Vec<Event>,
    /// 1-based line of each event in the table (parallel to `events`).
    pub lines: Vec<usize>,
}

/// A strong-label (or detection) table: clips in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StrongLabels {
    /// The file it was read from.
    pub path: PathBuf,
    /// One entry per distinct filename.
    pub clips: Vec<ClipEvents>,
}

impl StrongLabels {
    /// Build from events grouped by clip (for callers that do not read a file).
    pub fn from_clips(clips: Vec<(String, Vec<Event>)>) -> Self {
        StrongLabels {
            path: PathBuf::new(),
            clips: clips
                .into_iter()
                .map(|(filename, events)| ClipEvents {
                    lines: vec![0; events.len()],
                    filename,
                    events,
                })
                .collect(),
        }
    }

    /// All labels used, sorted.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .clips
            .iter()
            .flat_map(|c| c.events.iter().map(|e| e.label.clone()))
            .collect();
        labels.sort();
        labels.dedup();
        labels
    }

    /// Number of events.
    pub fn n_events(&self) -> usize {
        self.clips.iter().map(|c| c.events.len()).sum()
    }

    /// The clip with this filename.
    pub fn clip(&self, filename: &str) -> Option<&ClipEvents> {
        self.clips.iter().find(|c| c.filename == filename)
    }

    /// Union overlapping or touching events of the same class within each clip (an event that
    /// starts at or before the end of the one before it joins it): each group becomes one
    /// event from its earliest onset to its latest offset, at the place (and line) of its
    /// first event in file order; other events keep their order. Returns how many events were
    /// merged away.
    pub fn merge_overlapping(&mut self) -> usize {
        let mut merged = 0;
        for clip in &mut self.clips {
            let n = clip.events.len();
            let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, e) in clip.events.iter().enumerate() {
                by_label.entry(&e.label).or_default().push(i);
            }
            // For each event: the index of the group's first event, and the group's span.
            let mut group_of: Vec<usize> = (0..n).collect();
            let mut span: Vec<(f64, f64)> =
                clip.events.iter().map(|e| (e.onset, e.offset)).collect();
            for (_, mut idx) in by_label {
                idx.sort_by(|&a, &b| {
                    (clip.events[a].onset.total_cmp(&clip.events[b].onset)).then(a.cmp(&b))
                });
                let mut members: Vec<usize> = Vec::new();
                let mut end = f64::NEG_INFINITY;
                let mut flush = |members: &mut Vec<usize>| {
                    if let Some(&first) = members.iter().min() {
                        let on = members
                            .iter()
                            .map(|&i| clip.events[i].onset)
                            .fold(f64::INFINITY, f64::min);
                        let off = members
                            .iter()
                            .map(|&i| clip.events[i].offset)
                            .fold(f64::NEG_INFINITY, f64::max);
                        for &i in members.iter() {
                            group_of[i] = first;
                        }
                        span[first] = (on, off);
                    }
                    members.clear();
                };
                for i in idx {
                    let e = &clip.events[i];
                    if !members.is_empty() && e.onset > end {
                        flush(&mut members);
                    }
                    end = if members.is_empty() {
                        e.offset
                    } else {
                        end.max(e.offset)
                    };
                    members.push(i);
                }
                flush(&mut members);
            }
            let keep: Vec<usize> = (0..n).filter(|&i| group_of[i] == i).collect();
            merged += n - keep.len();
            clip.events = keep
                .iter()
                .map(|&i| Event {
                    onset: span[i].0,
                    offset: span[i].1,
                    label: clip.events[i].label.clone(),
                })
                .collect();
            clip.lines = keep.iter().map(|&i| clip.lines[i]).collect();
        }
        merged
    }

    /// Issues with the events themselves: onset after offset, zero length, overlapping or
    /// touching events of the same class in one clip (psds_eval rejects overlaps;
    /// sed_scores_eval rejects overlaps and touching ground-truth events).
    pub fn check_events(&self) -> Vec<Issue> {
        let mut issues = Vec::new();
        let mut sink = IssueSink {
            path: &self.path,
            issues: &mut issues,
        };
        for clip in &self.clips {
            for (e, &line) in clip.events.iter().zip(&clip.lines) {
                if e.offset < e.onset {
                    sink.push(
                        Some(line),
                        IssueKind::BadInterval,
                        format!(
                            "{}: {} event ends ({}) before it starts ({})",
                            clip.filename, e.label, e.offset, e.onset
                        ),
                    );
                } else if e.offset == e.onset {
                    sink.push(
                        Some(line),
                        IssueKind::BadInterval,
                        format!("{}: {} event has zero length", clip.filename, e.label),
                    );
                }
            }
            let mut by_label: BTreeMap<&str, Vec<(usize, &Event)>> = BTreeMap::new();
            for (e, &line) in clip.events.iter().zip(&clip.lines) {
                by_label.entry(&e.label).or_default().push((line, e));
            }
            for (label, mut events) in by_label {
                events.sort_by(|a, b| a.1.onset.total_cmp(&b.1.onset));
                for pair in events.windows(2) {
                    let (_, a) = pair[0];
                    let (line, b) = pair[1];
                    if b.onset < a.offset {
                        sink.push(
                            Some(line),
                            IssueKind::Overlap,
                            format!(
                                "{}: {label} events overlap ({}-{} and {}-{})",
                                clip.filename, a.onset, a.offset, b.onset, b.offset
                            ),
                        );
                    } else if b.onset == a.offset {
                        sink.push(
                            Some(line),
                            IssueKind::Overlap,
                            format!(
                                "{}: {label} events touch at {} (sed_scores_eval rejects this)",
                                clip.filename, b.onset
                            ),
                        );
                    }
                }
            }
        }
        issues
    }

    /// Issues against a durations table: clips without a duration, events past the end.
    pub fn check_durations(&self, durations: &Durations) -> Vec<Issue> {
        let mut issues = Vec::new();
        let mut sink = IssueSink {
            path: &self.path,
            issues: &mut issues,
        };
        let map = durations.map();
        for clip in &self.clips {
            match map.get(clip.filename.as_str()) {
                None => sink.push(
                    clip.lines.first().copied(),
                    IssueKind::MissingFile,
                    format!(
                        "{}: not in the durations table {}",
                        clip.filename,
                        durations.path.display()
                    ),
                ),
                Some(&duration) => {
                    for (e, &line) in clip.events.iter().zip(&clip.lines) {
                        if e.offset > duration {
                            sink.push(
                                Some(line),
                                IssueKind::PastEnd,
                                format!(
                                    "{}: {} event ends at {} after the end of the file ({duration})",
                                    clip.filename, e.label, e.offset
                                ),
                            );
                        }
                    }
                }
            }
        }
        issues
    }

    /// Issues for labels outside `classes`.
    pub fn check_labels(&self, classes: &[String]) -> Vec<Issue> {
        let mut issues = Vec::new();
        let mut sink = IssueSink {
            path: &self.path,
            issues: &mut issues,
        };
        for clip in &self.clips {
            for (e, &line) in clip.events.iter().zip(&clip.lines) {
                if !classes.contains(&e.label) {
                    sink.push(
                        Some(line),
                        IssueKind::UnknownLabel,
                        format!("{}: unknown label '{}'", clip.filename, e.label),
                    );
                }
            }
        }
        issues
    }
}

/// `sed_scores_eval`'s clip id: the filename with its last extension removed
/// (`rsplit('.', 1)[0]`).
pub fn audio_id(filename: &str) -> &str {
    filename.rsplit_once('.').map_or(filename, |(stem, _)| stem)
}

/// Read a strong-label or detection TSV (`filename onset offset event_label`). Rows with an
/// empty label and empty times list a clip without events. Rows that cannot be used (empty
/// filename, a label without times, unparsable numbers) are skipped and reported.
pub fn read_strong(path: &Path) -> Result<(StrongLabels, Vec<Issue>)> {
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut clips: Vec<ClipEvents> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let (clips_out, index, sink) = (&mut clips, &mut index, &mut sink);
    super::scan_table(path, TableFormat::TSV, |table| {
        let c_file = table.require("filename")?;
        let c_on = table.require("onset")?;
        let c_off = table.require("offset")?;
        let c_label = table.require("event_label")?;
        Ok(move |line: usize, fields: &[&str]| {
            let clips = &mut *clips_out;
            let get = |c: usize| fields.get(c).copied().unwrap_or("");
            let filename = get(c_file).trim();
            if filename.is_empty() {
                sink.push(Some(line), IssueKind::EmptyRow, "row without a filename");
                return Ok(());
            }
            let slot = match index.get(filename) {
                Some(&slot) => slot,
                None => {
                    clips.push(ClipEvents {
                        filename: filename.to_string(),
                        events: Vec::new(),
                        lines: Vec::new(),
                    });
                    index.insert(filename.to_string(), clips.len() - 1);
                    clips.len() - 1
                }
            };
            let label = get(c_label).trim();
            let onset = parse_float(get(c_on));
            let offset = parse_float(get(c_off));
            match (onset, offset) {
                (Ok(None), Ok(None)) if label.is_empty() => {} // a clip without events
                (Ok(Some(onset)), Ok(Some(offset))) if !label.is_empty() => {
                    clips[slot].events.push(Event {
                        onset,
                        offset,
                        label: label.to_string(),
                    });
                    clips[slot].lines.push(line);
                }
                (Err(e), _) | (_, Err(e)) => {
                    sink.push(Some(line), IssueKind::Malformed, format!("{filename}: {e}"))
                }
                _ => sink.push(
                    Some(line),
                    IssueKind::Malformed,
                    format!("{filename}: needs onset, offset and label together, or none of them"),
                ),
            }
            Ok(())
        })
    })?;
    Ok((
        StrongLabels {
            path: path.to_path_buf(),
            clips,
        },
        issues,
    ))
}

/// Weak labels: per clip, the set of labels present.
#[derive(Debug, Clone, Default)]
pub struct WeakLabels {
    /// The file it was read from.
    pub path: PathBuf,
    /// (filename, labels) in file order.
    pub clips: Vec<(String, Vec<String>)>,
}

/// Read a weak-label TSV (`filename event_labels`, labels comma-separated in one field).
pub fn read_weak(path: &Path) -> Result<(WeakLabels, Vec<Issue>)> {
    let table = read_table(path, TableFormat::TSV)?;
    let c_file = table.require("filename")?;
    let c_labels = table
        .column("event_labels")
        .or_else(|| table.column("event_label"))
        .ok_or_else(|| {
            DatasetError::format(path, "no column 'event_labels' in the header".to_string())
        })?;
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut clips = Vec::new();
    let mut seen = HashMap::new();
    for (line, fields) in &table.rows {
        let filename = fields.get(c_file).map(|s| s.trim()).unwrap_or("");
        if filename.is_empty() {
            sink.push(Some(*line), IssueKind::EmptyRow, "row without a filename");
            continue;
        }
        if let Some(first) = seen.insert(filename.to_string(), *line) {
            sink.push(
                Some(*line),
                IssueKind::Duplicate,
                format!("{filename}: listed again (first on line {first})"),
            );
        }
        let labels: Vec<String> = fields
            .get(c_labels)
            .map(|s| s.as_str())
            .unwrap_or("")
            .split(',')
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        clips.push((filename.to_string(), labels));
    }
    Ok((
        WeakLabels {
            path: path.to_path_buf(),
            clips,
        },
        issues,
    ))
}

/// Clip durations (`filename duration`).
#[derive(Debug, Clone, Default)]
pub struct Durations {
    /// The file it was read from.
    pub path: PathBuf,
    /// (filename, seconds) in file order; a repeated filename keeps its first row.
    pub clips: Vec<(String, f64)>,
}

impl Durations {
    /// Filename → duration.
    pub fn map(&self) -> HashMap<&str, f64> {
        self.clips.iter().map(|(f, d)| (f.as_str(), *d)).collect()
    }
}

/// Read a durations TSV.
pub fn read_durations(path: &Path) -> Result<(Durations, Vec<Issue>)> {
    let table = read_table(path, TableFormat::TSV)?;
    let c_file = table.require("filename")?;
    let c_dur = table.require("duration")?;
    let mut issues = Vec::new();
    let mut sink = IssueSink {
        path,
        issues: &mut issues,
    };
    let mut clips = Vec::new();
    let mut seen = HashMap::new();
    for (line, fields) in &table.rows {
        let filename = fields.get(c_file).map(|s| s.trim()).unwrap_or("");
        if filename.is_empty() {
            sink.push(Some(*line), IssueKind::EmptyRow, "row without a filename");
            continue;
        }
        let duration = match parse_float(fields.get(c_dur).map(|s| s.as_str()).unwrap_or("")) {
            Ok(Some(d)) if d > 0.0 && d.is_finite() => d,
            Ok(Some(d)) => {
                sink.push(
                    Some(*line),
                    IssueKind::Malformed,
                    format!("{filename}: duration {d} is not positive"),
                );
                continue;
            }
            Ok(None) => {
                sink.push(
                    Some(*line),
                    IssueKind::EmptyRow,
                    format!("{filename}: no duration"),
                );
                continue;
            }
            Err(e) => {
                sink.push(
                    Some(*line),
                    IssueKind::Malformed,
                    format!("{filename}: {e}"),
                );
                continue;
            }
        };
        if let Some(first) = seen.insert(filename.to_string(), *line) {
            sink.push(
                Some(*line),
                IssueKind::Duplicate,
                format!("{filename}: listed again (first on line {first}); the first is kept"),
            );
            continue;
        }
        clips.push((filename.to_string(), duration));
    }
    Ok((
        Durations {
            path: path.to_path_buf(),
            clips,
        },
        issues,
    ))
}

/// Frame-wise scores of one clip, `sed_scores_eval` style.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreTable {
    /// The clip id (file stem of the score TSV).
    pub id: String,
    /// Frame boundaries: onset of each frame, then the offset of the last (`frames + 1`).
    pub timestamps: Vec<f64>,
    /// Class names, in column order.
    pub classes: Vec<String>,
    /// Scores, class-major (each class's track is contiguous, as the metrics sweep it):
    /// `scores[class * n_frames + frame]`.
    pub scores: Vec<f64>,
}

impl ScoreTable {
    /// Number of frames.
    pub fn n_frames(&self) -> usize {
        self.timestamps.len().saturating_sub(1)
    }

    /// The scores of one class over all frames.
    pub fn class_scores(&self, class: usize) -> &[f64] {
        let n = self.n_frames();
        &self.scores[class * n..(class + 1) * n]
    }
}

/// Read one score TSV (`onset offset <class>...`). Frames must be contiguous and non-empty, as
/// `sed_scores_eval.base_modules.scores.validate_score_dataframe` demands.
///
/// Score tables are the bulk of an SED evaluation (a DESED validation run is ~2 million
/// numbers), so rows are parsed as [`scan_table`](super::scan_table) splits them, without
/// copying fields.
pub fn read_score_table(path: &Path) -> Result<ScoreTable> {
    let mut classes: Vec<String> = Vec::new();
    let mut timestamps = Vec::new();
    let mut scores = Vec::new();
    let mut last_offset = None;
    let (timestamps_out, scores_out, last_out) = (&mut timestamps, &mut scores, &mut last_offset);
    super::scan_table(path, TableFormat::TSV, |table| {
        let header = &table.header;
        if header.len() < 3 || header[0] != "onset" || header[1] != "offset" {
            return Err(DatasetError::format(
                path,
                "a score table needs the columns onset, offset, then one per class",
            ));
        }
        classes = header[2..].to_vec();
        let n = classes.len();
        Ok(move |line: usize, fields: &[&str]| -> Result<()> {
            if fields.len() != n + 2 {
                return Err(DatasetError::format(
                    path,
                    format!("line {line}: {} fields, expected {}", fields.len(), n + 2),
                ));
            }
            let num = |s: &str| -> Result<f64> {
                match parse_float(s) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) if s.trim().is_empty() => Err(DatasetError::format(
                        path,
                        format!("line {line}: empty field"),
                    )),
                    Ok(None) => Err(DatasetError::format(
                        path,
                        format!("line {line}: NaN score"),
                    )),
                    Err(e) => Err(DatasetError::format(path, format!("line {line}: {e}"))),
                }
            };
            let onset = num(fields[0])?;
            let offset = num(fields[1])?;
            if offset == onset {
                return Err(DatasetError::format(
                    path,
                    format!("line {line}: frame has zero length"),
                ));
            }
            if let Some(prev) = *last_out {
                if prev != onset {
                    return Err(DatasetError::format(
                        path,
                        format!(
                            "line {line}: frame onset {onset} does not match the previous offset {prev}"
                        ),
                    ));
                }
            }
            timestamps_out.push(onset);
            *last_out = Some(offset);
            for field in &fields[2..] {
                scores_out.push(num(field)?);
            }
            Ok(())
        })
    })?;
    match last_offset {
        Some(off) => timestamps.push(off),
        None => return Err(DatasetError::format(path, "no frames")),
    }
    // Rows were read frame by frame: store class by class.
    let n = classes.len();
    let frames = timestamps.len() - 1;
    let mut by_class = Vec::with_capacity(scores.len());
    for c in 0..n {
        by_class.extend((0..frames).map(|f| scores[f * n + c]));
    }
    let id = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| audio_id(n).to_string())
        .unwrap_or_default();
    Ok(ScoreTable {
        id,
        timestamps,
        classes,
        scores: by_class,
    })
}

/// Read a directory of score TSVs (one per clip), sorted by id. As in `sed_scores_eval`, every
/// file must be a `.tsv`, and all tables must have the same class columns.
pub fn read_scores_dir(dir: &Path) -> Result<Vec<ScoreTable>> {
    let entries = std::fs::read_dir(dir).map_err(|error| DatasetError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| DatasetError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("tsv") {
            return Err(DatasetError::format(
                &path,
                "not a .tsv file in a scores directory",
            ));
        }
        paths.push(path);
    }
    paths.sort();
    if paths.is_empty() {
        return Err(DatasetError::format(dir, "no score files"));
    }
    // Read in parallel, report the first bad file in path order.
    let read: Vec<Result<ScoreTable>> = paths.par_iter().map(|p| read_score_table(p)).collect();
    let mut tables: Vec<ScoreTable> = Vec::with_capacity(paths.len());
    for (path, table) in paths.iter().zip(read) {
        let table = table?;
        if let Some(first) = tables.first() {
            if first.classes != table.classes {
                return Err(DatasetError::format(
                    path,
                    format!(
                        "class columns differ from {}.tsv: {:?} vs {:?}",
                        first.id, table.classes, first.classes
                    ),
                ));
            }
        }
        tables.push(table);
    }
    tables.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(tables)
}
