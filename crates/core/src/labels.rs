//! Class vocabularies of classifier heads, each class with its output index, its id (`mid`, e.g.
//! `/m/09x0r`) and its display name (`Speech`). A model card names its head's vocabulary
//! (`labels = "fsd50k"`); [`Labels::named`] gives it. All are embedded, so tagging needs no file
//! at run time, and each is the upstream file unedited (provenance and sha256 in the README
//! beside it):
//!
//! - `audioset`: `datasets/audioset/class_labels_indices.csv`, from
//!   qiuqiangkong/audioset_tagging_cnn `metadata/class_labels_indices.csv` (527 classes; PANNs
//!   and PaSST AudioSet heads). Display names contain commas (`"Male speech, man speaking"`), so
//!   fields are read as quoted CSV, not split on commas.
//! - `fsd50k`: `datasets/fsd50k/vocabulary.csv`, FSD50K's own `FSD50K.ground_truth/vocabulary.csv`
//!   (`index,label,mid`, no header; 200 classes). PaSST's FSD50K heads use its row order
//!   (kkoutini/PaSST `fsd50k/prepare_scripts/create_h5pymp3_dataset.py`). Names keep FSD50K's
//!   spelling (`Zipper_(clothing)`).
//! - `openmic`: `datasets/openmic/class-map.json` from cosmir/openmic-2018 (instrument → column;
//!   20 classes), the column order of PaSST's OpenMIC head. OpenMIC has no ontology ids: `mid`
//!   is the class-map key, as is the name.
//! - `yamnet`: `datasets/yamnet/yamnet_class_map.csv`, Google's `yamnet_class_map.csv` (521
//!   classes, AudioSet mids and names, YAMNet's own indices).

use std::sync::OnceLock;

/// The embedded `class_labels_indices.csv`.
pub const AUDIOSET_CSV: &str = include_str!("../../../datasets/audioset/class_labels_indices.csv");

/// Number of AudioSet classes.
pub const AUDIOSET_CLASSES: usize = 527;

/// The embedded FSD50K `vocabulary.csv`.
pub const FSD50K_CSV: &str = include_str!("../../../datasets/fsd50k/vocabulary.csv");

/// The embedded OpenMIC-2018 `class-map.json`.
pub const OPENMIC_JSON: &str = include_str!("../../../datasets/openmic/class-map.json");

/// The embedded YAMNet `yamnet_class_map.csv`.
pub const YAMNET_CSV: &str = include_str!("../../../datasets/yamnet/yamnet_class_map.csv");

/// The vocabularies [`Labels::named`] knows, by the name a model card uses.
pub const VOCABULARIES: &[&str] = &["audioset", "fsd50k", "openmic", "yamnet"];

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
    /// A model card names a vocabulary earshot does not ship.
    #[error("no class vocabulary named {0:?} (known: audioset, fsd50k, openmic, yamnet)")]
    Unknown(String),
    /// A class map is not a JSON object of class → index 0..n-1.
    #[error("class map: {0}")]
    ClassMap(String),
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

    /// The vocabulary a model card names (see [`VOCABULARIES`]), parsed once, then shared.
    pub fn named(name: &str) -> Result<&'static Labels, LabelsError> {
        static FSD50K: OnceLock<Labels> = OnceLock::new();
        static OPENMIC: OnceLock<Labels> = OnceLock::new();
        static YAMNET: OnceLock<Labels> = OnceLock::new();
        Ok(match name {
            "audioset" => Labels::audioset(),
            "fsd50k" => FSD50K.get_or_init(|| {
                Labels::from_fsd50k_vocabulary(FSD50K_CSV)
                    .expect("the embedded FSD50K vocabulary is valid")
            }),
            "openmic" => OPENMIC.get_or_init(|| {
                Labels::from_class_map(OPENMIC_JSON)
                    .expect("the embedded OpenMIC class map is valid")
            }),
            "yamnet" => YAMNET.get_or_init(|| {
                Labels::from_csv(YAMNET_CSV).expect("the embedded YAMNet class map is valid")
            }),
            other => return Err(LabelsError::Unknown(other.to_string())),
        })
    }

    /// Parse `index,mid,display_name` CSV with a header row (AudioSet's layout).
    pub fn from_csv(text: &str) -> Result<Labels, LabelsError> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim_end_matches('\r');
        if header != "index,mid,display_name" {
            return Err(LabelsError::Header(header.to_string()));
        }
        Self::from_rows(lines, 2, |[index, mid, name]| [index, mid, name])
    }

    /// Classes named in output order, each name its own id (a trained model's labels).
    pub fn from_names(names: &[String]) -> Labels {
        let labels = (names.iter().enumerate())
            .map(|(index, name)| Label {
                index,
                mid: name.clone(),
                name: name.clone(),
            })
            .collect();
        Labels { labels }
    }

    /// Parse FSD50K's `vocabulary.csv`: `index,label,mid` rows, no header.
    pub fn from_fsd50k_vocabulary(text: &str) -> Result<Labels, LabelsError> {
        Self::from_rows(text.lines(), 1, |[index, name, mid]| [index, mid, name])
    }

    /// Parse a class map (`{"accordion": 0, ...}`, OpenMIC's `class-map.json`): the indices must
    /// be 0..n-1, each once.
    pub fn from_class_map(text: &str) -> Result<Labels, LabelsError> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| LabelsError::ClassMap(e.to_string()))?;
        let mut slots: Vec<Option<String>> = vec![None; map.len()];
        for (name, index) in map {
            let slot = (index.as_u64())
                .and_then(|i| slots.get_mut(usize::try_from(i).ok()?))
                .ok_or_else(|| {
                    LabelsError::ClassMap(format!("{name:?}: index {index} out of range"))
                })?;
            if slot.replace(name.clone()).is_some() {
                return Err(LabelsError::ClassMap(format!(
                    "{name:?}: index {index} taken twice"
                )));
            }
        }
        let labels = (slots.into_iter().enumerate())
            .map(|(index, name)| {
                let name = name.expect("n distinct indices below n fill every slot");
                Label {
                    index,
                    mid: name.clone(),
                    name,
                }
            })
            .collect();
        Ok(Labels { labels })
    }

    /// Three-field CSV rows, reordered by `order` into (index, mid, name); indices must count
    /// 0, 1, 2, … in file order. `first_line` is the 1-based number of the first row.
    fn from_rows<'a>(
        lines: impl Iterator<Item = &'a str>,
        first_line: usize,
        order: impl Fn([String; 3]) -> [String; 3],
    ) -> Result<Labels, LabelsError> {
        let mut labels = Vec::new();
        for (i, line) in lines.enumerate() {
            let line_no = i + first_line;
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let fields = split_csv(line).map_err(|reason| LabelsError::Row {
                line: line_no,
                reason,
            })?;
            let fields: [String; 3] =
                fields
                    .try_into()
                    .map_err(|f: Vec<String>| LabelsError::Row {
                        line: line_no,
                        reason: format!("{} fields, expected 3", f.len()),
                    })?;
            let [index, mid, name] = order(fields);
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
pub(crate) fn split_csv(line: &str) -> Result<Vec<String>, String> {
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

    #[test]
    fn shipped_vocabularies_in_head_order() {
        let fsd = Labels::named("fsd50k").unwrap();
        assert_eq!(fsd.len(), 200);
        assert_eq!(
            (fsd[0].name.as_str(), fsd[0].mid.as_str()),
            ("Accelerating_and_revving_and_vroom", "/m/07q2z82")
        );
        assert_eq!(fsd[199].name, "Zipper_(clothing)");
        // PaSST's preparation script asserts the vocabulary is sorted.
        assert!(fsd
            .iter()
            .zip(fsd.iter().skip(1))
            .all(|(a, b)| a.name < b.name));
        let openmic = Labels::named("openmic").unwrap();
        assert_eq!(openmic.len(), 20);
        assert_eq!(
            (openmic[0].name.as_str(), openmic[19].name.as_str()),
            ("accordion", "voice")
        );
        assert_eq!(Labels::named("audioset").unwrap().len(), AUDIOSET_CLASSES);
        assert!(matches!(
            Labels::named("esc50"),
            Err(LabelsError::Unknown(_))
        ));
    }

    #[test]
    fn class_maps_must_number_every_class_once() {
        assert!(Labels::from_class_map(r#"{"a": 1, "b": 0}"#).is_ok());
        assert!(Labels::from_class_map(r#"{"a": 0, "b": 0}"#).is_err());
        assert!(Labels::from_class_map(r#"{"a": 0, "b": 2}"#).is_err());
        assert!(Labels::from_class_map(r#"{"a": "x"}"#).is_err());
        assert!(Labels::from_fsd50k_vocabulary("0,Dog,/m/0bt9lr\n2,Cat,/m/01yrx\n").is_err());
    }
}
