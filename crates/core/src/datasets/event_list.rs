//! Event, scene and tag lists in every layout sed_eval users keep them in (`sed_eval.io`,
//! which reads through `dcase_util.containers.MetaDataContainer.load`), with the layout sniffed
//! from the file itself:
//!
//! - delimiter: tab, comma, semicolon or runs of spaces, whichever the first row uses (in that
//!   order of preference);
//! - header: a first row whose fields are all non-numbers and that names a known column
//!   (`filename`, `onset`, `offset`, `event_label`, `scene_label`, `tags`, `event_labels`, and
//!   Raven's `Begin Time (s)`, `End Time (s)`, `Annotation`, `Begin Path`);
//! - headerless event rows: `onset offset label` (one file per recording, as DCASE 2016/2017
//!   Task 3 annotations and Audacity label tracks, whose `\` frequency lines are skipped),
//!   `filename onset offset label`, `filename scene onset offset label [source]`, and a bare
//!   `filename` (a recording without events);
//! - scene lists `filename scene`; tag lists `filename tags` with the tags split as dcase_util
//!   splits them (`#`, else `,`, else `;`, else `:`; stripped, empties dropped, sorted);
//!   tag probabilities `filename tag probability`.
//!
//! A folder stands for every `.txt`/`.ann`/`.tsv`/`.csv`/`.lab` file in it, sorted. The clips of
//! a per-recording file are named by the file's stem; the metrics find them from the other
//! list's names with [`crate::metrics::sed_eval::clip_key`]. A DESED-style TSV (tab, header with
//! `filename onset offset event_label`) goes through [`dcase::read_strong`], which reports bad
//! rows as issues; anything else that does not fit its layout is an error naming the file and
//! line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::dcase::{self, ClipEvents, Event, StrongLabels};
use super::{read_text, split_fields, DatasetError, Issue, Result};

/// A field separator, as sniffed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// `\t`.
    Tab,
    /// `,`.
    Comma,
    /// `;`.
    Semicolon,
    /// One or more spaces.
    Space,
}

impl Delimiter {
    /// The delimiter a row uses: tab, else comma, else semicolon, else spaces.
    pub fn sniff(row: &str) -> Delimiter {
        if row.contains('\t') {
            Delimiter::Tab
        } else if row.contains(',') {
            Delimiter::Comma
        } else if row.contains(';') {
            Delimiter::Semicolon
        } else {
            Delimiter::Space
        }
    }

    /// The fields of a row, trimmed.
    pub fn split(self, row: &str) -> Vec<String> {
        let fields = match self {
            Delimiter::Tab => split_fields(row, '\t', false),
            Delimiter::Comma => split_fields(row, ',', false),
            Delimiter::Semicolon => split_fields(row, ';', false),
            Delimiter::Space => row.split_whitespace().map(str::to_string).collect(),
        };
        fields.into_iter().map(|f| f.trim().to_string()).collect()
    }
}

/// The non-empty rows of a text file: (1-based line, row), the delimiter and, when the first
/// row is a header, its lower-cased fields.
struct Rows {
    rows: Vec<(usize, String)>,
    delimiter: Delimiter,
    header: Option<Vec<String>>,
}

const HEADER_NAMES: &[&str] = &[
    "filename",
    "file",
    "onset",
    "offset",
    "event_onset",
    "event_offset",
    "event_label",
    "event_labels",
    "scene_label",
    "label",
    "tags",
    "probability",
    "begin time (s)",
    "end time (s)",
    "annotation",
    "begin path",
    "begin file",
    "selection",
];

fn rows_of(path: &Path) -> Result<Rows> {
    let text = read_text(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let rows: Vec<(usize, String)> = (text.lines().enumerate())
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r').to_string()))
        .collect();
    let delimiter = rows
        .first()
        .map_or(Delimiter::Tab, |(_, r)| Delimiter::sniff(r));
    let header = rows.first().and_then(|(_, r)| {
        let fields: Vec<String> = (delimiter.split(r).into_iter())
            .map(|f| f.to_lowercase())
            .collect();
        let numeric = fields.iter().any(|f| f.parse::<f64>().is_ok());
        let named = fields.iter().any(|f| HEADER_NAMES.contains(&f.as_str()));
        (named && !numeric).then_some(fields)
    });
    Ok(Rows {
        rows,
        delimiter,
        header,
    })
}

fn number(path: &Path, line: usize, what: &str, field: &str) -> Result<f64> {
    match field.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(DatasetError::format(
            path,
            format!("line {line}: {what} '{field}' is not a number"),
        )),
    }
}

/// A file's stem: the clip name of a per-recording event list.
fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The list files of a folder (`.txt`, `.ann`, `.tsv`, `.csv`, `.lab`; sorted), or the path
/// itself.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|error| DatasetError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && (p.extension().and_then(|e| e.to_str())).is_some_and(|e| {
                    ["txt", "ann", "tsv", "csv", "lab"].contains(&e.to_ascii_lowercase().as_str())
                })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DatasetError::format(
            path,
            "no event list files (.txt, .ann, .tsv, .csv, .lab) in this folder",
        ));
    }
    Ok(files)
}

/// Clips in order of first appearance, events appended.
#[derive(Default)]
struct Clips {
    clips: Vec<ClipEvents>,
    index: HashMap<String, usize>,
}

impl Clips {
    fn clip(&mut self, filename: &str) -> &mut ClipEvents {
        let slot = match self.index.get(filename) {
            Some(&slot) => slot,
            None => {
                self.clips.push(ClipEvents {
                    filename: filename.to_string(),
                    events: Vec::new(),
                    lines: Vec::new(),
                });
                self.index
                    .insert(filename.to_string(), self.clips.len() - 1);
                self.clips.len() - 1
            }
        };
        &mut self.clips[slot]
    }

    fn push(&mut self, filename: &str, line: usize, onset: f64, offset: f64, label: &str) {
        let clip = self.clip(filename);
        clip.events.push(Event {
            onset,
            offset,
            label: label.to_string(),
        });
        clip.lines.push(line);
    }
}

/// Read an event list (file or folder) in any layout of the module docs. The issues are those
/// of DESED-style tables (bad rows skipped and reported); other layouts fail on a bad row.
pub fn read_event_list(path: &Path) -> Result<(StrongLabels, Vec<Issue>)> {
    let files = list_files(path)?;
    let mut clips = Clips::default();
    let mut issues = Vec::new();
    for file in &files {
        let rows = rows_of(file)?;
        let desed = rows.delimiter == Delimiter::Tab
            && rows.header.as_ref().is_some_and(|h| {
                ["filename", "onset", "offset", "event_label"]
                    .iter()
                    .all(|n| h.iter().any(|f| f == n))
            });
        if desed {
            let (table, found) = dcase::read_strong(file)?;
            issues.extend(found);
            for c in table.clips {
                let clip = clips.clip(&c.filename);
                clip.events.extend(c.events);
                clip.lines.extend(c.lines);
            }
        } else if let Some(header) = &rows.header {
            read_headed(file, &rows, header, &mut clips)?;
        } else {
            read_headerless(file, &rows, &mut clips)?;
        }
    }
    Ok((
        StrongLabels {
            path: path.to_path_buf(),
            clips: clips.clips,
        },
        issues,
    ))
}

fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header.iter().position(|h| names.contains(&h.as_str()))
}

fn read_headed(path: &Path, rows: &Rows, header: &[String], clips: &mut Clips) -> Result<()> {
    let c_file = column(header, &["filename", "file", "begin path", "begin file"]);
    let c_on = column(header, &["onset", "event_onset", "begin time (s)"]);
    let c_off = column(header, &["offset", "event_offset", "end time (s)"]);
    let c_label = column(header, &["event_label", "label", "annotation"]);
    let (Some(c_on), Some(c_off), Some(c_label)) = (c_on, c_off, c_label) else {
        return Err(DatasetError::format(
            path,
            format!(
                "line {}: a header needs onset, offset and event_label columns (or Raven's \
                 Begin Time (s), End Time (s), Annotation); found: {}",
                rows.rows[0].0,
                header.join(", ")
            ),
        ));
    };
    let own = stem(path);
    for (line, row) in &rows.rows[1..] {
        let fields = rows.delimiter.split(row);
        let get = |c: usize| fields.get(c).map_or("", String::as_str);
        let filename = match c_file {
            // Raven's Begin Path is a full path: the clip is the file's name.
            Some(c) if header[c].starts_with("begin ") => {
                get(c).rsplit(['/', '\\']).next().unwrap_or("").to_string()
            }
            Some(c) => get(c).to_string(),
            None => own.clone(),
        };
        if filename.is_empty() {
            return Err(DatasetError::format(
                path,
                format!("line {line}: no filename"),
            ));
        }
        let (on, off, label) = (get(c_on), get(c_off), get(c_label));
        if on.is_empty() && off.is_empty() && label.is_empty() {
            clips.clip(&filename); // a clip without events
            continue;
        }
        let onset = number(path, *line, "onset", on)?;
        let offset = number(path, *line, "offset", off)?;
        if label.is_empty() {
            return Err(DatasetError::format(
                path,
                format!("line {line}: an event without a label"),
            ));
        }
        clips.push(&filename, *line, onset, offset, label);
    }
    Ok(())
}

fn read_headerless(path: &Path, rows: &Rows, clips: &mut Clips) -> Result<()> {
    let own = stem(path);
    if rows.rows.is_empty() {
        clips.clip(&own); // an empty per-recording list: a recording without events
    }
    for (line, row) in &rows.rows {
        // Audacity label tracks: a `\` line carries the frequency range of the label above.
        if row.starts_with('\\') {
            continue;
        }
        let mut f = rows.delimiter.split(row);
        let line = *line;
        // Space-separated `onset offset label with spaces`.
        if rows.delimiter == Delimiter::Space
            && f.len() > 3
            && f[0].parse::<f64>().is_ok()
            && f[1].parse::<f64>().is_ok()
        {
            let label = f[2..].join(" ");
            f.truncate(2);
            f.push(label);
        }
        match f.len() {
            1 => {
                clips.clip(&f[0]);
            }
            3 => {
                let onset = number(path, line, "onset", &f[0])?;
                let offset = number(path, line, "offset", &f[1])?;
                clips.push(&own, line, onset, offset, &f[2]);
            }
            4 => {
                let onset = number(path, line, "onset", &f[1])?;
                let offset = number(path, line, "offset", &f[2])?;
                clips.push(&f[0], line, onset, offset, &f[3]);
            }
            5 | 6 => {
                let onset = number(path, line, "onset", &f[2])?;
                let offset = number(path, line, "offset", &f[3])?;
                clips.push(&f[0], line, onset, offset, &f[4]);
            }
            n => {
                return Err(DatasetError::format(
                    path,
                    format!(
                        "line {line}: {n} fields; an event list row is `onset offset label`, \
                         `filename onset offset label`, `filename scene onset offset label` or \
                         a bare `filename`"
                    ),
                ))
            }
        }
        if f.iter().any(String::is_empty) {
            return Err(DatasetError::format(
                path,
                format!("line {line}: an empty field"),
            ));
        }
    }
    Ok(())
}

/// One row of a scene list.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneRow {
    /// The audio file.
    pub filename: String,
    /// Its scene.
    pub scene_label: String,
    /// 1-based line.
    pub line: usize,
}

/// The (line, filename, second field) rows of a two-column list: `filename X` rows, or a
/// header naming the filename column and one of `names` (`what` names it in errors). A
/// headerless row may lack X only when `optional`.
fn two_columns(
    path: &Path,
    names: &[&str],
    what: &str,
    optional: bool,
) -> Result<Vec<(usize, String, String)>> {
    let rows = rows_of(path)?;
    let (c_file, c_value, body) = match &rows.header {
        Some(h) => (
            column(h, &["filename", "file"]),
            column(h, names),
            &rows.rows[1..],
        ),
        None => (Some(0), Some(1), &rows.rows[..]),
    };
    let (Some(c_file), Some(c_value)) = (c_file, c_value) else {
        return Err(DatasetError::format(
            path,
            format!(
                "the header needs filename and {} columns",
                names.join(" (or ")
            ),
        ));
    };
    let fields = if optional { 1..=2 } else { 2..=2 };
    let mut out = Vec::with_capacity(body.len());
    for (line, row) in body {
        let f = rows.delimiter.split(row);
        if rows.header.is_none() && !fields.contains(&f.len()) {
            return Err(DatasetError::format(
                path,
                format!(
                    "line {line}: {} fields; a row is `filename {what}`",
                    f.len()
                ),
            ));
        }
        let get = |c: usize| f.get(c).cloned().unwrap_or_default();
        let (filename, value) = (get(c_file), get(c_value));
        if filename.is_empty() || (value.is_empty() && !optional) {
            return Err(DatasetError::format(
                path,
                format!("line {line}: needs a filename and a {what}"),
            ));
        }
        out.push((*line, filename, value));
    }
    Ok(out)
}

/// Read a scene list: `filename scene` rows (any delimiter), with or without a
/// `filename scene_label` header.
pub fn read_scene_list(path: &Path) -> Result<Vec<SceneRow>> {
    let rows = two_columns(path, &["scene_label", "scene", "label"], "scene", false)?;
    Ok((rows.into_iter())
        .map(|(line, filename, scene_label)| SceneRow {
            filename,
            scene_label,
            line,
        })
        .collect())
}

/// dcase_util's tag splitting: by `#`, else `,`, else `;`, else `:`; stripped, empties
/// dropped, sorted (`none` is no tags).
pub fn split_tags(field: &str) -> Vec<String> {
    let field = field.trim();
    if field.eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    let sep = ['#', ',', ';', ':']
        .into_iter()
        .find(|&c| field.contains(c));
    let mut tags: Vec<String> = match sep {
        Some(c) => field.split(c).map(|t| t.trim().to_string()).collect(),
        None => vec![field.to_string()],
    };
    tags.retain(|t| !t.is_empty());
    tags.sort();
    tags
}

/// One row of a tag list.
#[derive(Debug, Clone, PartialEq)]
pub struct TagRow {
    /// The audio file.
    pub filename: String,
    /// Its tags, sorted.
    pub tags: Vec<String>,
    /// 1-based line.
    pub line: usize,
}

/// Read a tag list: `filename tags` rows (tags inside one field, separated by `;` or `,`),
/// or a header naming `filename` and `tags` (or DESED's `event_labels`).
pub fn read_tag_list(path: &Path) -> Result<Vec<TagRow>> {
    let rows = two_columns(path, &["tags", "event_labels", "labels"], "tags", true)?;
    Ok((rows.into_iter())
        .map(|(line, filename, tags)| TagRow {
            filename,
            tags: split_tags(&tags),
            line,
        })
        .collect())
}

/// Read tag probabilities in dcase_util's `ProbabilityContainer` layout: `filename tag
/// probability` rows (any delimiter, header optional). Returns (filename, tag, probability).
pub fn read_tag_probabilities(path: &Path) -> Result<Vec<(String, String, f64)>> {
    let rows = rows_of(path)?;
    let body = if rows.header.is_some() {
        &rows.rows[1..]
    } else {
        &rows.rows[..]
    };
    let mut out = Vec::with_capacity(body.len());
    for (line, row) in body {
        let f = rows.delimiter.split(row);
        if f.len() != 3 {
            return Err(DatasetError::format(
                path,
                format!(
                    "line {line}: {} fields; a probability row is `filename tag probability`",
                    f.len()
                ),
            ));
        }
        let p = number(path, *line, "probability", &f[2])?;
        out.push((f[0].clone(), f[1].clone(), p));
    }
    Ok(out)
}

/// Whether a file's first row is a header naming a `filename` column and the file is
/// tab-separated: the DCASE layouts earshot's dedicated readers take.
pub fn is_dcase_tsv(path: &Path) -> Result<bool> {
    let rows = rows_of(path)?;
    Ok(rows.delimiter == Delimiter::Tab
        && rows
            .header
            .as_ref()
            .is_some_and(|h| h.iter().any(|f| f == "filename")))
}

/// The lower-cased header of a list file, when its first row is one.
pub fn header(path: &Path) -> Result<Option<Vec<String>>> {
    Ok(rows_of(path)?.header)
}
