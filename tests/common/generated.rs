//! The reference data that `tests/gen_*.py` write under `tests/data/generated/` (git-ignored).
//! A fresh clone has none until `scripts/test.sh` has run once; a test binary that needs it then
//! stops at its first use with one line saying how to make it, instead of a panic per test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// What each generator leaves behind once it has run, and the generator.
const OUTPUTS: &[(&str, &str)] = &[
    ("manifest.json", "gen_reference.py"),
    ("checkpoints/expected.json", "gen_checkpoints.py"),
    ("panns/manifest.json", "gen_panns.py"),
    ("metrics/manifest.json", "gen_metrics.py"),
    ("psds/manifest.json", "gen_psds.py"),
    ("sed_eval/manifest.json", "gen_sed_eval.py"),
    ("frontend/manifest.json", "gen_frontend.py"),
    ("datasets/manifest.json", "gen_datasets.py"),
    ("openl3/manifest.json", "gen_openl3.py"),
    ("speech/manifest.json", "gen_speech.py"),
    ("passt/manifest.json", "gen_passt.py"),
    ("yamnet/manifest.json", "gen_yamnet.py"),
    ("train/manifest.json", "gen_train.py"),
];

/// Root of the generated data (`$EARSHOT_TEST_DATA` if set, else `tests/data/generated`),
/// checked once per process: when a generator's output is missing, print one line naming them
/// and how to make them, and exit with status 2.
pub fn generated_dir() -> PathBuf {
    let dir = match std::env::var_os("EARSHOT_TEST_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generated"),
    };
    static CHECK: Once = Once::new();
    CHECK.call_once(|| {
        let missing: Vec<&str> = (OUTPUTS.iter())
            .filter(|(file, _)| !dir.join(file).is_file())
            .map(|&(_, generator)| generator)
            .collect();
        let not_run = if missing.len() == OUTPUTS.len() {
            "none of tests/gen_*.py has run".to_string()
        } else {
            format!("not run: {}", missing.join(", "))
        };
        if !missing.is_empty() {
            // Straight to the file descriptor: the test harness captures `eprintln!`, and what it
            // captured is lost when the process exits.
            let _ = writeln!(
                std::io::stderr(),
                "error: the reference data in {} is missing ({not_run}): run scripts/test.sh \
                 once, which installs the reference environment and runs every tests/gen_*.py",
                dir.display()
            );
            std::process::exit(2);
        }
    });
    dir
}
