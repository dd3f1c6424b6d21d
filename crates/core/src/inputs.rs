//! Input arguments → the audio files to process: files stay as they are (in order), folders
//! become the audio files below them (recursively, sorted).

use std::path::{Path, PathBuf};

/// File extensions a folder walk picks up.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "opus",
];

/// Why an input cannot run, found before it is decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputProblem {
    /// A folder that could not be listed.
    #[error("cannot read directory: {0}")]
    UnreadableDirectory(String),
    /// A folder without audio files below it.
    #[error("is a directory with no audio files")]
    NoAudio,
    /// A file a dataset's listing names that is not there.
    #[error("no such file")]
    Missing,
    /// Another input of the same run would write the same output file.
    #[error("another input also writes {}", .0.display())]
    SameOutput(PathBuf),
}

/// An input: a file to process, or the problem that stops it (reported like a bad file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file (or the argument, for a problem).
    pub path: PathBuf,
    /// What stops it, if anything.
    pub problem: Option<InputProblem>,
}

impl Input {
    /// A file to process.
    pub fn file(path: PathBuf) -> Input {
        Input {
            path,
            problem: None,
        }
    }

    /// A file to process, or [`InputProblem::Missing`] when it is not a file.
    pub fn existing(path: PathBuf) -> Input {
        let problem = (!path.is_file()).then_some(InputProblem::Missing);
        Input { path, problem }
    }

    /// The path to run, or the problem.
    pub fn ready(&self) -> Result<&Path, InputProblem> {
        match &self.problem {
            Some(problem) => Err(problem.clone()),
            None => Ok(&self.path),
        }
    }
}

/// The audio files below `dir` (recursively, sorted), by extension.
pub fn audio_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk(dir, &mut found)?;
    Ok(found)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Expand arguments into inputs. A folder without audio files, or one that cannot be read, is
/// kept as a failed input so that it is reported like any bad file.
pub fn expand(inputs: &[PathBuf]) -> Vec<Input> {
    let mut out = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            out.push(Input::file(input.clone()));
            continue;
        }
        let failed = |problem| Input {
            path: input.clone(),
            problem: Some(problem),
        };
        let mut found = Vec::new();
        match walk(input, &mut found) {
            Err(e) => out.push(failed(InputProblem::UnreadableDirectory(e.to_string()))),
            Ok(()) if found.is_empty() => out.push(failed(InputProblem::NoAudio)),
            Ok(()) => out.extend(found.into_iter().map(Input::file)),
        }
    }
    out
}
