//! Input arguments → the audio files to process: files stay as they are (in order), folders
//! become the audio files below them (recursively, sorted).

use std::path::{Path, PathBuf};

/// File extensions a folder walk picks up.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "opus",
];

/// An input argument: a file to process, or a problem with the argument itself.
pub type Input = (PathBuf, Option<String>);

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
            out.push((input.clone(), None));
            continue;
        }
        let mut found = Vec::new();
        match walk(input, &mut found) {
            Err(e) => out.push((input.clone(), Some(format!("cannot read directory: {e}")))),
            Ok(()) if found.is_empty() => out.push((
                input.clone(),
                Some("is a directory with no audio files".into()),
            )),
            Ok(()) => out.extend(found.into_iter().map(|p| (p, None))),
        }
    }
    out
}
