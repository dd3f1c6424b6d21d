//! Dataset metadata on disk: AudioSet, DCASE Task 4 (DESED), DCASE Task 1 (TAU), ESC-50,
//! UrbanSound8K and FSD50K, read in their official layouts.
//!
//! Each loader parses what the reference tools parse (pandas `read_csv` for the DCASE TSVs,
//! Python `csv.reader` for AudioSet's quoted CSVs) and returns typed records. A problem with the
//! metadata itself — an empty row, an event that ends before it starts or after the file does,
//! overlapping same-class events, an unknown label, a listed clip with no audio — never stops a
//! load: it becomes an [`Issue`] naming the file and line, and the caller decides. Only a file
//! that cannot be read at all, or lacks the columns that make it what it claims to be, is an
//! error ([`DatasetError`]).
//!
//! Trap handled throughout: fields may be quoted and contain the separator (AudioSet display
//! names, FSD50K label lists, comma-separated label lists inside AudioSet's segment CSVs).

pub mod audioset;
pub mod dcase;
pub mod esc50;
pub mod event_list;
pub mod fsd50k;
pub mod labelled;
pub mod tau;
pub mod urbansound8k;

use std::fmt;
use std::path::{Path, PathBuf};

/// Errors that stop a metadata file from loading.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file or directory could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The file is not the format it should be (missing header columns, not UTF-8, bad JSON).
    #[error("{path}: {message}")]
    Format {
        /// The offending file.
        path: PathBuf,
        /// What is wrong, with the line when there is one.
        message: String,
    },
}

/// `Result` with [`DatasetError`].
pub type Result<T> = std::result::Result<T, DatasetError>;

impl DatasetError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            DatasetError::Io { path, .. } | DatasetError::Format { path, .. } => path,
        }
    }

    /// The problem, without the path.
    pub fn reason(&self) -> String {
        match self {
            DatasetError::Io { error, .. } => error.to_string(),
            DatasetError::Format { message, .. } => message.clone(),
        }
    }

    pub(crate) fn format(path: &Path, message: impl Into<String>) -> Self {
        DatasetError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// What kind of non-fatal problem a metadata row has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A data row with no content, or with fewer fields than the header.
    EmptyRow,
    /// A field that should be a number, or a row that does not parse.
    Malformed,
    /// An event whose offset is before its onset, or of zero length.
    BadInterval,
    /// An event that ends after the end of its file (per the durations table).
    PastEnd,
    /// Two events of the same class in the same file overlap.
    Overlap,
    /// A label that is not in the class list.
    UnknownLabel,
    /// A listed clip whose audio file is not on disk.
    MissingFile,
    /// A file or id listed twice where ids must be unique.
    Duplicate,
}

/// A non-fatal problem found while loading metadata.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Issue {
    /// The metadata file.
    pub path: PathBuf,
    /// 1-based line number in that file, when the problem is on one line.
    pub line: Option<usize>,
    /// The kind of problem.
    pub kind: IssueKind,
    /// A readable description.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// A delimited text table: header and rows, each row with its 1-based line number.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file it came from.
    pub path: PathBuf,
    /// Header fields (empty when read without a header).
    pub header: Vec<String>,
    /// Data rows: (line number, fields).
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Index of a header column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Index of a header column, or a format error naming the file.
    pub fn require(&self, name: &str) -> Result<usize> {
        self.column(name).ok_or_else(|| {
            DatasetError::format(
                &self.path,
                format!(
                    "no column '{name}' in the header (found: {})",
                    self.header.join(", ")
                ),
            )
        })
    }
}

/// Read a whole text file, naming it in the error.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|error| DatasetError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|_| DatasetError::format(path, "not UTF-8 text"))
}

/// Split one line into fields the way Python's `csv` module does with the default dialect:
/// `"` quotes a field (the separator and `""` inside stand for themselves); with
/// `skip_initial_space` a space after a separator is dropped (AudioSet's `, ` separator).
pub fn split_fields(line: &str, sep: char, skip_initial_space: bool) -> Vec<String> {
    if !skip_initial_space && !line.contains('"') {
        return line.split(sep).map(str::to_string).collect();
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        if at_start && skip_initial_space && c == ' ' {
            continue;
        }
        if c == sep {
            fields.push(std::mem::take(&mut field));
            at_start = true;
            continue;
        }
        if c == '"' && at_start {
            in_quotes = true;
            at_start = false;
            continue;
        }
        at_start = false;
        field.push(c);
    }
    fields.push(field);
    fields
}

/// How to read a delimited table.
#[derive(Debug, Clone, Copy)]
pub struct TableFormat {
    /// Field separator.
    pub sep: char,
    /// Whether the first non-comment line is a header.
    pub header: bool,
    /// Lines starting with `#` are skipped (AudioSet segment CSVs).
    pub comments: bool,
    /// Drop a space after each separator (AudioSet's `, `).
    pub skip_initial_space: bool,
}

impl TableFormat {
    /// Tab separated with a header line (DCASE TSVs, TAU `meta.csv`).
    pub const TSV: TableFormat = TableFormat {
        sep: '\t',
        header: true,
        comments: false,
        skip_initial_space: false,
    };
    /// Comma separated with a header line and quoted fields.
    pub const CSV: TableFormat = TableFormat {
        sep: ',',
        header: true,
        comments: false,
        skip_initial_space: false,
    };
}

/// Read a delimited table. Blank lines are skipped as pandas skips them (a line holding only
/// separators is a row of empty fields, not a blank line); a trailing `\r` is dropped so files
/// saved on Windows read the same.
pub fn read_table(path: &Path, format: TableFormat) -> Result<Table> {
    let mut rows = Vec::new();
    let mut table = scan_table(path, format, |_| {
        Ok(|line: usize, fields: &[&str]| {
            rows.push((line, fields.iter().map(|f| f.to_string()).collect()));
            Ok(())
        })
    })?;
    table.rows = rows;
    Ok(table)
}

/// [`read_table`] without keeping the rows: `setup` sees the header (a [`Table`] without rows)
/// and returns what is called with each row (line number, fields borrowed from the text: no
/// copy of quote-free fields); the first error from either ends the scan. Returns the header.
pub fn scan_table<F: FnMut(usize, &[&str]) -> Result<()>>(
    path: &Path,
    format: TableFormat,
    setup: impl FnOnce(&Table) -> Result<F>,
) -> Result<Table> {
    let text = read_text(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut table = Table {
        path: path.to_path_buf(),
        header: Vec::new(),
        rows: Vec::new(),
    };
    let mut setup = Some(setup);
    let mut start = |table: &Table| (setup.take().expect("set up once"))(table);
    let mut row = None;
    let mut fields: Vec<&str> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.bytes().all(|c| c == b' ') || (format.comments && line.starts_with('#')) {
            continue;
        }
        let visit = match row.as_mut() {
            Some(visit) => visit,
            None if format.header && table.header.is_empty() => {
                table.header = split_fields(line, format.sep, format.skip_initial_space)
                    .into_iter()
                    .map(|f| f.trim().to_string())
                    .collect();
                row = Some(start(&table)?);
                continue;
            }
            None => row.insert(start(&table)?),
        };
        if format.skip_initial_space || line.contains('"') {
            let owned = split_fields(line, format.sep, format.skip_initial_space);
            let owned: Vec<&str> = owned.iter().map(String::as_str).collect();
            visit(i + 1, &owned)?;
        } else {
            fields.clear();
            fields.extend(line.split(format.sep));
            visit(i + 1, &fields)?;
        }
    }
    if format.header && table.header.is_empty() {
        return Err(DatasetError::format(path, "empty file: no header line"));
    }
    if row.is_none() {
        start(&table)?;
    }
    Ok(table)
}

/// Parse a float field as pandas does (surrounding spaces allowed); `None` when empty.
pub(crate) fn parse_float(field: &str) -> std::result::Result<Option<f64>, String> {
    let bytes = field.as_bytes();
    let padded = |b: Option<&u8>| b.is_none_or(|b| b.is_ascii_whitespace() || !b.is_ascii());
    let t = if padded(bytes.first()) || padded(bytes.last()) {
        field.trim()
    } else {
        field
    };
    if t.is_empty() || t.eq_ignore_ascii_case("nan") {
        return Ok(None);
    }
    t.parse::<f64>()
        .map(Some)
        .map_err(|_| format!("'{t}' is not a number"))
}

/// Collects issues for one file.
#[derive(Debug)]
pub(crate) struct IssueSink<'a> {
    pub path: &'a Path,
    pub issues: &'a mut Vec<Issue>,
}

impl IssueSink<'_> {
    pub fn push(&mut self, line: Option<usize>, kind: IssueKind, message: impl Into<String>) {
        self.issues.push(Issue {
            path: self.path.to_path_buf(),
            line,
            kind,
            message: message.into(),
        });
    }
}

/// Audio files present in a directory (not recursive), by file name.
pub fn list_files(dir: &Path) -> Result<std::collections::BTreeSet<String>> {
    let entries = std::fs::read_dir(dir).map_err(|error| DatasetError::Io {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut names = std::collections::BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|error| DatasetError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        if let Some(name) = entry.file_name().to_str() {
            names.insert(name.to_string());
        }
    }
    Ok(names)
}

/// Run every metadata loader over one file, ignoring the results: the entry point of the
/// `metadata` fuzz target and its regression test. Any panic is a bug.
#[doc(hidden)]
pub fn parse_with_every_loader(path: &Path) {
    let _ = audioset::read_class_labels(path);
    let _ = audioset::read_ontology(path);
    let _ = audioset::read_segments(path, None);
    let _ = audioset::read_strong_segments(path);
    let _ = audioset::read_mid_to_display_name(path);
    let _ = dcase::read_strong(path).map(|(labels, _)| {
        let _ = labels.check_events();
        if let Ok((d, _)) = dcase::read_durations(path) {
            let _ = labels.check_durations(&d);
        }
    });
    let _ = dcase::read_weak(path);
    let _ = dcase::read_score_table(path);
    let _ = esc50::read_meta(path);
    let _ = fsd50k::read_ground_truth(path);
    let _ = fsd50k::read_vocabulary(path);
    let _ = tau::read_meta(path);
    let _ = tau::read_output(path);
    let _ = urbansound8k::read_meta(path);
}
