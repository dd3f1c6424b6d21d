//! The real `earshot` binary on real files: outputs, formats and one-line errors.

use crate::common;

use std::path::Path;

use earshot_core::npy;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A failure must be exactly `error: <path>: <reason>` lines: no panic, no backtrace.
fn assert_clean_error(out: &std::process::Output, path: &Path) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "{}: exit 0 for a bad input",
        path.display()
    );
    assert_ne!(out.status.code(), None, "killed by a signal");
    let prefix = format!("error: {}: ", path.display());
    assert!(
        err.starts_with(&prefix),
        "{}: stderr {err:?}",
        path.display()
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line only: {err:?}");
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE", "internal error"] {
        assert!(!err.contains(bad), "{bad} in {err:?}");
    }
}

#[test]
fn version_and_help() {
    let out = common::earshot(&["--version"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains(env!("CARGO_PKG_VERSION")));
    for cmd in [&["--help"][..], &["info", "--help"], &["decode", "--help"]] {
        let out = common::earshot(cmd);
        assert!(out.status.success(), "{cmd:?}");
        assert!(stdout(&out).contains("Usage"), "{cmd:?}");
    }
    let out = common::earshot(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `earshot` itself must not load libtorch (its static initialisers cost ~0.35 s on every
/// metric run); model commands go through `earshot-torch` beside it.
#[test]
fn front_binary_does_not_link_libtorch() {
    let out = std::process::Command::new("readelf")
        .args(["-d", env!("CARGO_BIN_EXE_earshot")])
        .output()
        .expect("readelf (binutils) runs");
    let dynamic = stdout(&out);
    assert!(dynamic.contains("NEEDED"), "{dynamic}");
    assert!(!dynamic.contains("libtorch"), "{dynamic}");
    assert!(!dynamic.contains("libc10"), "{dynamic}");
    let out = std::process::Command::new("readelf")
        .arg("-d")
        .arg(common::torch_binary())
        .output()
        .unwrap();
    assert!(stdout(&out).contains("libtorch_cpu"));
}

/// The dependency graph, not a linker flag, keeps libtorch out of `earshot`: neither the root
/// package nor earshot-cli (which it depends on alone) reaches tch or torch-sys.
#[test]
fn front_binary_crates_do_not_depend_on_tch() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for package in ["earshot", "earshot-cli", "earshot-core"] {
        let out = std::process::Command::new(&cargo)
            .args([
                "tree",
                "--offline",
                "-e",
                "normal,build",
                "--prefix",
                "none",
                "-p",
                package,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(out.status.success(), "cargo tree: {}", stderr(&out));
        let tree = stdout(&out);
        assert!(tree.contains("earshot-core"), "{tree}");
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            assert!(
                !["tch", "torch-sys", "earshot-models"].contains(&name),
                "{package} depends on {name}:\n{tree}"
            );
        }
    }
}

#[test]
fn system_info_runs_libtorch_without_ld_library_path() {
    let out = common::earshot_command()
        .args(["info", "--json", "--device", "cpu"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["device"], "cpu");
    assert!(v["threads"].as_i64().unwrap() >= 1);
    let out = common::earshot(&["info", "--device", "cuda"]);
    if !v["cuda_available"].as_bool().unwrap() {
        assert!(!out.status.success());
        assert!(
            stderr(&out).starts_with("error: CUDA requested but not available"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn info_json_describes_every_file() {
    let manifest = common::manifest();
    let files = manifest["files"].as_array().unwrap();
    let paths: Vec<String> = files
        .iter()
        .map(|f| {
            common::data_path(f["path"].as_str().unwrap())
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["info", "--json"];
    args.extend(paths.iter().map(String::as_str));
    let out = common::earshot(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), files.len());
    for (row, file) in rows.iter().zip(files) {
        assert_eq!(row["sample_rate"], file["rate"]);
        assert_eq!(row["channels"], file["channels"]);
        // The frame count is the length librosa decodes at the native rate.
        let native = file["refs"][0]["shape"].as_array().unwrap();
        assert_eq!(row["frames"], *native.last().unwrap(), "{}", row["file"]);
        let duration = row["duration"].as_f64().unwrap();
        let expected = native.last().unwrap().as_f64().unwrap() / file["rate"].as_f64().unwrap();
        assert!((duration - expected).abs() < 1e-9);
    }
    // The table form names every file too.
    let out = common::earshot(&["info", &paths[0], &paths[15]]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(&paths[0]) && text.contains(&paths[15]) && text.contains("codec"),
        "{text}"
    );
}

#[test]
fn decode_cli_writes_npy_and_wav_equal_to_librosa() {
    let manifest = common::manifest();
    let dir = tempfile::tempdir().unwrap();
    let mut seen_formats = std::collections::BTreeSet::new();
    for file in manifest["files"].as_array().unwrap() {
        let format = file["format"].as_str().unwrap();
        if !seen_formats.insert(format.to_string()) {
            continue; // one file per format is enough here; tests/audio.rs covers them all
        }
        let src = common::data_path(file["path"].as_str().unwrap());
        let r = &file["refs"][1];
        assert_eq!(r["sr"], 32000);
        assert_eq!(r["mono"], true);
        let reference = npy::read(&common::data_path(r["npy"].as_str().unwrap())).unwrap();
        let out_npy = dir.path().join(format!("{format}.npy"));
        let out = common::earshot(&[
            "decode",
            src.to_str().unwrap(),
            "--sr",
            "32000",
            "--mono",
            "-o",
            out_npy.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let got = npy::read(&out_npy).unwrap();
        assert_eq!(got.descr, "<f4");
        assert_eq!(got.shape, reference.shape, "{format}");
        let diff = got
            .data
            .iter()
            .zip(&reference.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff <= 1e-4, "{format}: {diff}");

        let out_wav = dir.path().join(format!("{format}.wav"));
        let out = common::earshot(&[
            "decode",
            src.to_str().unwrap(),
            "--sr",
            "32000",
            "--mono",
            "-o",
            out_wav.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut reader = hound::WavReader::open(&out_wav).unwrap();
        assert_eq!(reader.spec().sample_rate, 32000);
        assert_eq!(reader.spec().sample_format, hound::SampleFormat::Float);
        let samples: Vec<f64> = reader.samples::<f32>().map(|s| s.unwrap() as f64).collect();
        assert_eq!(
            samples, got.data,
            "{format}: WAV and npy hold the same samples"
        );
    }
    assert_eq!(seen_formats.len(), 5, "{seen_formats:?}");

    // Without --mono the npy is (channels, samples).
    let stereo = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["channels"] == 2)
        .unwrap();
    let src = common::data_path(stereo["path"].as_str().unwrap());
    let out_npy = dir.path().join("stereo.npy");
    let out = common::earshot(&[
        "decode",
        src.to_str().unwrap(),
        "-o",
        out_npy.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = npy::read(&out_npy).unwrap();
    assert_eq!(got.shape.len(), 2);
    assert_eq!(got.shape[0], 2);
}

#[test]
fn every_bad_input_is_one_clean_error_line() {
    let manifest = common::manifest();
    let dir = tempfile::tempdir().unwrap();
    for (key, rel) in manifest["bad"].as_object().unwrap() {
        let path = common::data_path(rel.as_str().unwrap());
        let out = common::earshot(&["info", path.to_str().unwrap()]);
        assert_clean_error(&out, &path);
        let target = dir.path().join(format!("{key}.npy"));
        let out = common::earshot(&[
            "decode",
            path.to_str().unwrap(),
            "--sr",
            "32000",
            "--mono",
            "-o",
            target.to_str().unwrap(),
        ]);
        assert_clean_error(&out, &path);
        assert!(
            !target.exists(),
            "{key}: a failed decode left {}",
            target.display()
        );
    }
}

#[test]
fn batch_goes_on_past_bad_files_and_reports_them() {
    let manifest = common::manifest();
    let good_a = common::data_path(manifest["files"][0]["path"].as_str().unwrap());
    let good_b = common::data_path(manifest["files"][20]["path"].as_str().unwrap());
    let bad_a = common::bad("truncated_wav");
    let bad_b = common::bad("random_mp3");
    let args: Vec<&str> = vec![
        "info",
        "--json",
        good_a.to_str().unwrap(),
        bad_a.to_str().unwrap(),
        good_b.to_str().unwrap(),
        bad_b.to_str().unwrap(),
    ];
    let out = common::earshot(&args);
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2, "both good files are reported");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with(&format!("error: {}: ", bad_a.display())));
    assert!(lines[1].starts_with(&format!("error: {}: ", bad_b.display())));
}

#[test]
fn failed_decode_keeps_an_existing_output() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("keep.npy");
    std::fs::write(&target, b"precious").unwrap();
    let bad = common::bad("nan");
    let out = common::earshot(&[
        "decode",
        bad.to_str().unwrap(),
        "-o",
        target.to_str().unwrap(),
    ]);
    assert_clean_error(&out, &bad);
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
}

#[test]
fn without_reference_data_a_test_binary_stops_with_one_line() {
    // This binary again, on one test that reads the generated data, pointed at an empty folder:
    // what a fresh clone's `cargo test` does before scripts/test.sh has made the data.
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cli::info_json_describes_every_file",
            "--test-threads",
            "1",
        ])
        .env("EARSHOT_TEST_DATA", empty.path())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: the reference data in ")
            && stderr.contains("none of tests/gen_*.py has run")
            && stderr.contains("run scripts/test.sh"),
        "{stderr}"
    );
}
