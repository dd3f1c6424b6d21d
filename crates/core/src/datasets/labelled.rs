//! A labelled training set for `earshot train`: audio files with zero or more labels each, read
//! from a folder with one subfolder per label (as BirdNET-Analyzer's `train` reads one), or from
//! a label file, and split into training and validation files, stratified and seeded.
//!
//! - **Folder:** `DATA/<label>/**/*.wav` (any depth, any audio extension). A subfolder named
//!   `background` or `noise` (any case), or one of the names given as negatives, holds
//!   negatives: files with no label, which teach a multi-label head to stay silent.
//! - **Label file:** CSV `filename,labels` with `;`-separated labels (a header row is
//!   recognised by its first field, `filename`/`file`/`path`), or a DCASE weak-label TSV
//!   (`filename<TAB>event_labels`, `,`-separated labels). Paths are relative to a root folder.
//!   An empty label field is a negative.
//!
//! A training set is single-label when every file has exactly one label (a softmax head), and
//! multi-label otherwise (a sigmoid head).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Why a training set cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelledError {
    /// A folder or file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// A label subfolder without audio files.
    #[error("{0}: label folder has no audio files")]
    EmptyLabel(PathBuf),
    /// Nothing to learn from: fewer than two labels.
    #[error("{path}: only one class ({label:?}); a classifier needs two or more (add a `background` folder of negatives, or more labels)")]
    SingleClass {
        /// The data folder or label file.
        path: PathBuf,
        /// The one label.
        label: String,
    },
    /// No labelled files at all.
    #[error("{0}: no labelled audio files (expected one subfolder per label)")]
    NoData(PathBuf),
    /// A label file row names a file that does not exist.
    #[error("{file}:{line}: {missing} does not exist")]
    Missing {
        /// The label file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The path it names, resolved against the root.
        missing: PathBuf,
    },
    /// A label file row that does not parse.
    #[error("{file}:{line}: {reason}")]
    Row {
        /// The label file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

type Result<T> = std::result::Result<T, LabelledError>;

/// One training file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The audio file.
    pub path: PathBuf,
    /// Indices into [`LabelledSet::labels`], sorted; empty for a negative.
    pub labels: Vec<usize>,
}

/// Labelled audio files and their label vocabulary.
#[derive(Debug, Clone)]
pub struct LabelledSet {
    /// The files, in a stable order (folder walk, or label-file order).
    pub items: Vec<Item>,
    /// Class names, sorted.
    pub labels: Vec<String>,
}

/// Subfolder names that hold negatives by default.
pub const NEGATIVE_FOLDERS: &[&str] = &["background", "noise"];

impl LabelledSet {
    /// Whether some file has no label or several (a sigmoid head).
    pub fn multi_label(&self) -> bool {
        self.items.iter().any(|i| i.labels.len() != 1)
    }

    /// Files per class, in label order.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.labels.len()];
        for item in &self.items {
            item.labels.iter().for_each(|&l| counts[l] += 1);
        }
        counts
    }

    /// Files without a label.
    pub fn negatives(&self) -> usize {
        self.items.iter().filter(|i| i.labels.is_empty()).count()
    }

    /// Build from (path, label names) pairs: the vocabulary is the sorted set of names.
    pub fn from_named(source: &Path, named: Vec<(PathBuf, Vec<String>)>) -> Result<LabelledSet> {
        let vocabulary: BTreeSet<&String> = named.iter().flat_map(|(_, l)| l).collect();
        let labels: Vec<String> = vocabulary.into_iter().cloned().collect();
        if named.is_empty() || labels.is_empty() {
            return Err(LabelledError::NoData(source.to_path_buf()));
        }
        if labels.len() == 1 && named.iter().all(|(_, l)| !l.is_empty()) {
            return Err(LabelledError::SingleClass {
                path: source.to_path_buf(),
                label: labels[0].clone(),
            });
        }
        let index: BTreeMap<&str, usize> = (labels.iter().enumerate())
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let items = (named.iter())
            .map(|(path, names)| {
                let mut labels: Vec<usize> = names.iter().map(|n| index[n.as_str()]).collect();
                labels.sort_unstable();
                labels.dedup();
                Item {
                    path: path.clone(),
                    labels,
                }
            })
            .collect();
        Ok(LabelledSet { items, labels })
    }
}

/// Read `root/<label>/**` (see the module notes); `negatives` are extra negative folder names.
pub fn from_folder(root: &Path, negatives: &[String]) -> Result<LabelledSet> {
    LabelledSet::from_named(root, folder_files(root, negatives)?)
}

/// The audio files of `root/<label>/**` with their label (none for negatives), in folder
/// order; a label folder without audio is an error, any number of labels is fine (a
/// validation folder may hold one).
pub fn folder_files(root: &Path, negatives: &[String]) -> Result<Vec<(PathBuf, Vec<String>)>> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| LabelledError::Io { path, error }
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(io(root))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(io(root))?;
    dirs.retain(|p| p.is_dir());
    dirs.sort();
    let mut named = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.starts_with('.') {
            continue;
        }
        let negative = NEGATIVE_FOLDERS.contains(&name.to_ascii_lowercase().as_str())
            || negatives.iter().any(|n| n == &name);
        let files = crate::inputs::audio_files(&dir).map_err(io(&dir))?;
        if files.is_empty() {
            return Err(LabelledError::EmptyLabel(dir));
        }
        let labels = if negative { vec![] } else { vec![name] };
        named.extend(files.into_iter().map(|f| (f, labels.clone())));
    }
    Ok(named)
}

/// Read a label file (see the module notes), resolving paths against `root` (default: the label
/// file's folder). With `must_exist`, every listed file must exist; without (rows of an
/// embedding table, not audio), paths stay as written unless a root is given.
pub fn from_label_file(file: &Path, root: Option<&Path>, must_exist: bool) -> Result<LabelledSet> {
    let text = std::fs::read_to_string(file).map_err(|error| LabelledError::Io {
        path: file.to_path_buf(),
        error,
    })?;
    let root = match root {
        Some(r) => r.to_path_buf(),
        None if must_exist => file.parent().unwrap_or(Path::new("")).to_path_buf(),
        None => PathBuf::new(),
    };
    let tsv = text.lines().next().is_some_and(|l| l.contains('\t'));
    let (field_sep, label_sep) = if tsv { ('\t', ',') } else { (',', ';') };
    let row = |line: usize, reason: String| LabelledError::Row {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let mut named = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields = if tsv {
            line.split(field_sep).map(str::to_string).collect()
        } else {
            crate::labels::split_csv(line).map_err(|r| row(i + 1, r))?
        };
        let name = fields[0].trim();
        if i == 0
            && ["filename", "file", "path", "fname"].contains(&name.to_ascii_lowercase().as_str())
        {
            continue;
        }
        if fields.len() > 2 {
            return Err(row(
                i + 1,
                format!(
                    "{} fields, expected 2 (filename{}labels)",
                    fields.len(),
                    if tsv { "<TAB>" } else { "," }
                ),
            ));
        }
        if name.is_empty() {
            return Err(row(i + 1, "empty filename".into()));
        }
        let labels: Vec<String> = (fields.get(1).map_or("", |s| s.as_str()).split(label_sep))
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let path = root.join(name);
        if must_exist && !path.is_file() {
            return Err(LabelledError::Missing {
                file: file.to_path_buf(),
                line: i + 1,
                missing: path,
            });
        }
        named.push((path, labels));
    }
    LabelledSet::from_named(file, named)
}

/// A stream of pseudo-random numbers (SplitMix64): small, seeded and the same on every machine.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Start from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Shuffle `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Split item indices into (train, validation): within each group of files with the same label
/// set, a seeded shuffle puts `round(fraction × n)` files in validation, at least one when the
/// group has two or more and never the whole group. Both lists come back sorted.
pub fn stratified_split(set: &LabelledSet, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut groups: BTreeMap<&[usize], Vec<usize>> = BTreeMap::new();
    for (i, item) in set.items.iter().enumerate() {
        groups.entry(&item.labels).or_default().push(i);
    }
    let mut rng = SplitMix64::new(seed);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (_, mut members) in groups {
        rng.shuffle(&mut members);
        let n = members.len();
        let mut k = (fraction * n as f64).round() as usize;
        if n >= 2 && fraction > 0.0 {
            k = k.clamp(1, n - 1);
        } else {
            k = k.min(n.saturating_sub(1));
        }
        val.extend_from_slice(&members[..k]);
        train.extend_from_slice(&members[k..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn folders_label_and_negatives() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "dog/a.wav",
            "dog/sub/b.flac",
            "cat/c.wav",
            "Background/n.wav",
            "cat/x.txt",
        ] {
            touch(&dir.path().join(f));
        }
        let set = from_folder(dir.path(), &[]).unwrap();
        assert_eq!(set.labels, ["cat", "dog"]);
        assert_eq!(set.items.len(), 4);
        assert_eq!(set.negatives(), 1);
        assert!(set.multi_label());
        assert_eq!(set.counts(), [1, 2]);
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        let err = from_folder(dir.path(), &[]).unwrap_err().to_string();
        assert!(
            err.ends_with("empty: label folder has no audio files"),
            "{err}"
        );
    }

    #[test]
    fn one_class_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("dog/a.wav"));
        let err = from_folder(dir.path(), &[]).unwrap_err().to_string();
        assert!(err.contains("only one class (\"dog\")"), "{err}");
    }

    #[test]
    fn label_files_csv_and_tsv() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a.wav", "b.wav", "c.wav"] {
            touch(&dir.path().join(f));
        }
        let csv = dir.path().join("labels.csv");
        std::fs::write(
            &csv,
            "filename,labels\na.wav,dog;cat\nb.wav,\"cat\"\nc.wav,\n",
        )
        .unwrap();
        let set = from_label_file(&csv, None, true).unwrap();
        assert_eq!(set.labels, ["cat", "dog"]);
        assert_eq!(set.items[0].labels, [0, 1]);
        assert_eq!(set.items[2].labels, Vec::<usize>::new());
        let tsv = dir.path().join("weak.tsv");
        std::fs::write(&tsv, "filename\tevent_labels\na.wav\tDog,Cat\nb.wav\tCat\n").unwrap();
        let set = from_label_file(&tsv, Some(dir.path()), true).unwrap();
        assert_eq!(set.labels, ["Cat", "Dog"]);
        std::fs::write(&csv, "a.wav,dog\nmissing.wav,cat\n").unwrap();
        let err = from_label_file(&csv, None, true).unwrap_err().to_string();
        assert!(err.contains("labels.csv:2: ") && err.ends_with("missing.wav does not exist"));
    }

    #[test]
    fn split_is_stratified_and_seeded() {
        let named = (0..20)
            .map(|i| {
                let label = if i < 15 { "a" } else { "b" };
                (PathBuf::from(format!("{i}.wav")), vec![label.to_string()])
            })
            .collect();
        let set = LabelledSet::from_named(Path::new("x"), named).unwrap();
        let (train, val) = stratified_split(&set, 0.2, 7);
        assert_eq!((train.len(), val.len()), (16, 4));
        assert_eq!(val.iter().filter(|&&i| i >= 15).count(), 1);
        assert_eq!(stratified_split(&set, 0.2, 7).1, val);
        assert_ne!(stratified_split(&set, 0.2, 8).1, val);
    }
}
