//! The AudioSet class list: 527 classes, each with its output index, its ontology id (`mid`,
//! e.g. `/m/09x0r`) and its display name (`Speech`).
//!
//! The CSV is `datasets/audioset/class_labels_indices.csv`, copied from
//! qiuqiangkong/audioset_tagging_cnn `metadata/class_labels_indices.csv` (provenance and sha256
//! in `datasets/audioset/README.md`) and embedded here, so tagging needs no file at run time.
//! Display names contain commas (`"Male speech, man speaking"`), so fields are read as quoted
//! CSV, not split on commas.

use std::sync::OnceLock;

/// The embedded `class_labels_indices.csv`.
pub const AUDIOSET_CSV: &str = include_str!("../../datasets/audioset/class_labels_indices.csv");

/// Number of AudioSet classes.
pub const AUDIOSET_CLASSES: usize = 527;

/// Problems reading a label list.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// The header is not `index,mid,display_name`.
    #[error("line 1: expected the header index,mid,display_name, found {0:?}")]
    Header(String),
    /// A row does not have three fields, or a quote is not closed.
    #[error("line {line}: {reason}")]
    Row {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Indices must be 0, 1, 2, … in file order.
    #[error("line {line}: index {found}, expected {expected}")]
    Index {
        /// 1-based line number.
        line: usize,
        /// The index in the file.
        found: String,
        /// The index its position implies.
        expected: usize,
    },
}

/// One class.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    /// Output unit of the classifier.
    pub index: usize,
    /// Ontology id, e.g. `/m/09x0r`.
    pub mid: String,
    /// Human-readable name, e.g. `Speech`.
    pub name: String,
}

/// A class list in output order.
#[derive(Debug, Clone)]
pub struct Labels {
    labels: Vec<Label>,
}

impl Labels {
    /// The AudioSet classes (parsed once, then shared).
    pub fn audioset() -> &'static Labels {
        static AUDIOSET: OnceLock<Labels> = OnceLock::new();
        AUDIOSET.get_or_init(|| {
            Labels::from_csv(AUDIOSET_CSV).expect("the embedded AudioSet label file is valid")
        })
    }

    /// Parse `index,mid,display_name` CSV with a header row.
    pub fn from_csv(text: &str) -> Result<Labels, LabelsError> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim_end_matches('\r');
        if header != "index,mid,display_name" {
            return Err(LabelsError::Header(header.to_string()));
        }
        let mut labels = Vec::new();
        for (i, line) in lines.enumerate() {
            let line_no = i + 2;
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let fields = split_csv(line).map_err(|reason| LabelsError::Row {
                line: line_no,
                reason,
            })?;
            let [index, mid, name]: [String; 3] =
                fields
                    .try_into()
                    .map_err(|f: Vec<String>| LabelsError::Row {
                        line: line_no,
                        reason: format!("{} fields, expected 3", f.len()),
                    })?;
            let expected = labels.len();
            if index.parse::<usize>().ok() != Some(expected) {
                return Err(LabelsError::Index {
                    line: line_no,
                    found: index,
                    expected,
                });
            }
            labels.push(Label {
                index: expected,
                mid,
                name,
            });
        }
        Ok(Labels { labels })
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The class at output `index`.
    pub fn get(&self, index: usize) -> Option<&Label> {
        self.labels.get(index)
    }

    /// The class with ontology id `mid`.
    pub fn by_mid(&self, mid: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.mid == mid)
    }

    /// All classes in output order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.labels.iter()
    }
}

impl std::ops::Index<usize> for Labels {
    type Output = Label;
    fn index(&self, index: usize) -> &Label {
        &self.labels[index]
    }
}

/// Split one CSV record: fields separated by commas, optionally in double quotes, `""` inside
/// quotes standing for one quote.
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unclosed quote".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields() {
        assert_eq!(
            split_csv(r#"1,/m/05zppz,"Male speech, man speaking""#).unwrap(),
            ["1", "/m/05zppz", "Male speech, man speaking"]
        );
        assert_eq!(
            split_csv(r#"a,"b ""c""",d"#).unwrap(),
            ["a", r#"b "c""#, "d"]
        );
        assert!(split_csv(r#"a,"b"#).is_err());
    }
}
