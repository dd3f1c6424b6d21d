//! Greedy CTC decoding, as transformers' ASR pipeline does it for CTC models
//! (`Wav2Vec2CTCTokenizer.decode` with `skip_special_tokens=False`): arg-max token per frame,
//! collapse repeats, drop the blank (the pad token), turn the word delimiter (`|`) into a space,
//! join, strip, lower-case when the tokenizer says `do_lower_case`, and apply transformers'
//! `clean_up_tokenization` when `clean_up_tokenization_spaces` is set.
//!
//! The vocabulary comes from a Hugging Face folder: `vocab.json` (token → id), with
//! `tokenizer_config.json` / `special_tokens_map.json` for the pad, word-delimiter and special
//! tokens when present (defaults `<pad>`, `|`, `<s>`, `</s>`, `<unk>`).
//!
//! Trap: `skip_special_tokens=True` in transformers 5 also drops the blank *before* repeats
//! collapse, which merges doubled letters ("HELLO" → "HELO"); the pipeline does not use it for
//! CTC, and neither does this decoder. Other special tokens (`<s>`, `<unk>`) stay in the text.

use std::path::Path;

use serde_json::Value as Json;

/// Why a vocabulary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CtcError {
    /// A file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A file is not the JSON expected.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A CTC vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    /// Token of each id.
    pub tokens: Vec<String>,
    /// The blank (pad) token.
    pub pad: String,
    /// The word delimiter token.
    pub word_delimiter: String,
    /// Lower-case the output.
    pub lower_case: bool,
    /// transformers' `clean_up_tokenization_spaces`.
    pub clean_up_spaces: bool,
}

fn read_json(path: &Path) -> Result<Option<Json>, CtcError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CtcError::Format {
                path: path.display().to_string(),
                reason: format!("invalid JSON: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(CtcError::Io {
            path: path.display().to_string(),
            error,
        }),
    }
}

/// A token given as a string or as `{"content": ...}`.
fn token(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) => Some(s.clone()),
        Json::Object(o) => o.get("content").and_then(Json::as_str).map(str::to_string),
        _ => None,
    }
}

impl Vocabulary {
    /// Read `vocab.json` (and the tokenizer configuration) from `dir`.
    pub fn from_hf_folder(dir: &Path) -> Result<Vocabulary, CtcError> {
        let vocab_path = dir.join("vocab.json");
        let vocab = read_json(&vocab_path)?.ok_or_else(|| CtcError::Format {
            path: vocab_path.display().to_string(),
            reason: "missing: the CTC vocabulary comes from the Hugging Face folder".into(),
        })?;
        let bad = |reason: &str| CtcError::Format {
            path: vocab_path.display().to_string(),
            reason: reason.into(),
        };
        let map = vocab
            .as_object()
            .ok_or_else(|| bad("not a token → id map"))?;
        // Multilingual vocabularies nest one map per language; take none of that here.
        let mut tokens = vec![None; map.len()];
        for (t, id) in map {
            let id = id
                .as_u64()
                .filter(|&i| (i as usize) < map.len())
                .ok_or_else(|| bad("ids must be 0..n-1"))?;
            tokens[id as usize] = Some(t.clone());
        }
        let tokens: Vec<String> = tokens
            .into_iter()
            .collect::<Option<_>>()
            .ok_or_else(|| bad("ids must be 0..n-1, each once"))?;
        let mut cfg = read_json(&dir.join("tokenizer_config.json"))?.unwrap_or(Json::Null);
        if let Some(Json::Object(specials)) = read_json(&dir.join("special_tokens_map.json"))? {
            if let Json::Object(c) = &mut cfg {
                for (k, v) in specials {
                    c.entry(k).or_insert(v);
                }
            } else {
                cfg = Json::Object(specials);
            }
        }
        let get = |k: &str, d: &str| token(cfg.get(k)).unwrap_or_else(|| d.to_string());
        let flag = |k: &str| cfg.get(k).and_then(Json::as_bool).unwrap_or(false);
        Ok(Vocabulary {
            tokens,
            pad: get("pad_token", "<pad>"),
            word_delimiter: get("word_delimiter_token", "|"),
            lower_case: flag("do_lower_case"),
            clean_up_spaces: flag("clean_up_tokenization_spaces"),
        })
    }

    /// Decode the arg-max ids of each frame.
    pub fn decode(&self, ids: &[i64]) -> String {
        let mut out = String::new();
        let mut previous: Option<&str> = None;
        for &id in ids {
            let Some(t) = usize::try_from(id).ok().and_then(|i| self.tokens.get(i)) else {
                continue;
            };
            if previous == Some(t.as_str()) {
                continue;
            }
            previous = Some(t);
            if *t == self.pad {
                continue;
            }
            if *t == self.word_delimiter {
                out.push(' ');
            } else {
                out.push_str(t);
            }
        }
        let mut text = out.trim().to_string();
        if self.lower_case {
            text = text.to_lowercase();
        }
        if self.clean_up_spaces {
            for (from, to) in [
                (" .", "."),
                (" ?", "?"),
                (" !", "!"),
                (" ,", ","),
                (" ' ", "'"),
                (" n't", "n't"),
                (" 'm", "'m"),
                (" 's", "'s"),
                (" 've", "'ve"),
                (" 're", "'re"),
            ] {
                text = text.replace(from, to);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            tokens: ["<pad>", "<s>", "</s>", "<unk>", "|", "A", "B"]
                .map(String::from)
                .to_vec(),
            pad: "<pad>".into(),
            word_delimiter: "|".into(),
            lower_case: false,
            clean_up_spaces: false,
        }
    }

    #[test]
    fn greedy() {
        let v = vocab();
        assert_eq!(v.decode(&[5, 5, 0, 5, 4, 4, 6, 0]), "AA B");
        assert_eq!(v.decode(&[5, 1, 5]), "A<s>A");
        assert_eq!(v.decode(&[4, 5, 4]), "A");
        assert_eq!(v.decode(&[]), "");
    }
}
