//! Writing outputs so that an interrupted run never leaves a half-written file behind: write to
//! a temporary sibling, then rename over the target.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use earshot_core::inputs::{Input, InputProblem};

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Create `path` through `write`, which receives a temporary path to fill.
pub fn atomically<F, E>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> std::result::Result<(), E>,
    E: std::error::Error + Send + Sync + 'static,
{
    let tmp = temp_sibling(path);
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("{}: cannot write", path.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))
}

/// A file filled over a whole run (a table growing as inputs finish): written at a temporary
/// sibling and renamed into place by [`Pending::commit`]. Dropped uncommitted (an error), the
/// temporary is removed; killed, it stays under its `.partial-PID` name, which nothing reads,
/// and the target is untouched.
pub struct Pending {
    tmp: PathBuf,
    path: PathBuf,
    done: bool,
}

impl Pending {
    /// Start writing `path`.
    pub fn new(path: &Path) -> Pending {
        Pending {
            tmp: temp_sibling(path),
            path: path.to_path_buf(),
            done: false,
        }
    }

    /// Where to write meanwhile.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Move the finished file into place.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An input, the problem that stops it (if any), and where its output goes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The input file.
    pub path: PathBuf,
    /// What stops it, if anything.
    pub problem: Option<InputProblem>,
    /// Where its output goes.
    pub output: PathBuf,
}

impl Target {
    /// Run `write(input, output)` unless the target has a problem; report a failure (its message
    /// as `message` renders it) and count it, ticking `bar` either way. Returns 1 for a failure.
    pub fn run<E>(
        &self,
        bar: &indicatif::ProgressBar,
        write: impl FnOnce(&Path, &Path) -> std::result::Result<(), E>,
        message: impl FnOnce(E) -> String,
    ) -> usize {
        let result = match &self.problem {
            Some(problem) => Err(problem.to_string()),
            None => write(&self.path, &self.output).map_err(message),
        };
        bar.inc(1);
        match result {
            Ok(()) => 0,
            Err(e) => {
                bar.suspend(|| crate::report(&self.path, &e));
                1
            }
        }
    }

    /// The input, without its output.
    pub fn input(&self) -> Input {
        Input {
            path: self.path.clone(),
            problem: self.problem.clone(),
        }
    }
}

/// Where each input's output goes. With `single` (the `-o` path names a file), exactly one input
/// is allowed and writes there; otherwise `-o` is a directory (created when at least one input
/// can run) holding `<input file name>.<ext>` per input, and a second input that would write the
/// same file becomes a failed input. `kinds` names the accepted file types in messages.
pub fn targets(
    inputs: Vec<Input>,
    output: &Path,
    single: bool,
    ext: &str,
    kinds: &str,
) -> Result<Vec<Target>> {
    if single {
        if inputs.len() != 1 {
            bail!(
                "{}: {} inputs cannot go to one file; give a directory to -o",
                output.display(),
                inputs.len()
            );
        }
        let Input { path, problem } = inputs.into_iter().next().expect("one input");
        return Ok(vec![Target {
            path,
            problem,
            output: output.to_path_buf(),
        }]);
    }
    if output.exists() && !output.is_dir() {
        bail!(
            "{}: -o must be a {kinds} file or a directory",
            output.display()
        );
    }
    let mut names = HashSet::new();
    let plan: Vec<Target> = inputs
        .into_iter()
        .map(|Input { path, problem }| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = output.join(format!("{name}.{ext}"));
            let problem = problem.or_else(|| {
                (!names.insert(target.clone())).then(|| InputProblem::SameOutput(target.clone()))
            });
            Target {
                path,
                problem,
                output: target,
            }
        })
        .collect();
    let before = plan.len();
    let plan: Vec<Target> = if super::shard::resume() {
        plan.into_iter()
            .filter(|t| t.problem.is_some() || !t.output.is_file())
            .collect()
    } else {
        plan
    };
    if plan.len() < before {
        eprintln!(
            "note: --resume: {} of {before} inputs already have their output",
            before - plan.len()
        );
    }
    if plan.iter().any(|t| t.problem.is_none()) {
        std::fs::create_dir_all(output)
            .with_context(|| format!("{}: cannot create directory", output.display()))?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_that_would_write_one_file_fail_with_a_typed_problem() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let mut inputs = earshot_core::inputs::expand(std::slice::from_ref(&empty));
        assert_eq!(inputs[0].problem, Some(InputProblem::NoAudio));
        inputs.push(Input::file("a/x.wav".into()));
        inputs.push(Input::file("b/x.wav".into()));
        let out = dir.path().join("out");
        let plan = targets(inputs, &out, false, "npy", ".npy").unwrap();
        assert_eq!(plan[1].output, out.join("x.wav.npy"));
        assert_eq!(plan[1].problem, None);
        assert_eq!(
            plan[2].problem,
            Some(InputProblem::SameOutput(out.join("x.wav.npy")))
        );
        assert!(plan[2]
            .problem
            .as_ref()
            .unwrap()
            .to_string()
            .starts_with("another input also writes "));
        assert!(out.is_dir(), "created: one input can run");
    }
}
