//! Front-end parity against the Python references (tests/gen_frontend.py), streaming, edge
//! cases, and the `earshot features` command on real files.
//!
//! Log outputs must agree with the float64 run of the reference code to 1e-3 dB (PaSST's
//! `(ln(x)+4.5)/5` and Kaldi's `ln(x)` are converted to dB first); wav2vec 2.0's linear output
//! to 1e-4 of its largest value. Against the float32 reference as shipped, earshot may be no
//! further than that reference is from its own float64 run, plus the same 1e-3 dB.

use crate::common;

use std::path::{Path, PathBuf};

use earshot_core::audio::{self, LoadOptions};
use earshot_core::frontend::{FrontendError, Preset};
use earshot_core::npy;
use serde_json::Value;

const TOLERANCE_DB: f64 = 1e-3;
const TOLERANCE_RELATIVE: f64 = 1e-4;

fn frontend_dir() -> PathBuf {
    common::data_dir().join("frontend")
}

/// The cases the generator wrote; a missing manifest is a failure, not a skip.
fn cases(preset: Preset) -> Vec<Value> {
    let path = frontend_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nThe front-end references are missing: run scripts/test.sh (or \
             tests/gen_reference.py then tests/gen_frontend.py with the project venv)",
            path.display()
        )
    });
    let manifest: Value = serde_json::from_str(&text).expect("valid manifest");
    let cases: Vec<Value> = manifest["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["frontend"] == preset.name())
        .cloned()
        .collect();
    assert!(cases.len() >= 8, "{preset}: only {} cases", cases.len());
    cases
}

/// Factor from the front end's output units to dB; `None` for linear outputs.
fn to_db(preset: Preset) -> Option<f64> {
    let ln_to_db = 10.0 / std::f64::consts::LN_10;
    match preset {
        Preset::Panns
        | Preset::Panns16k
        | Preset::Panns8k
        | Preset::Openl3Linear
        | Preset::Openl3Mel128
        | Preset::Openl3Mel256 => Some(1.0),
        Preset::Passt => Some(5.0 * ln_to_db),
        Preset::KaldiFbank | Preset::Yamnet => Some(ln_to_db),
        Preset::Wav2vec2 => None,
    }
}

fn read(rel: &str) -> npy::NpyArray {
    npy::read(&common::data_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn max_abs(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Check every case of `preset`; returns the worst figure against the float64 reference.
fn parity(preset: Preset) -> f64 {
    let frontend = preset.build();
    let scale = to_db(preset);
    let unit = if scale.is_some() { "dB" } else { "rel" };
    let mut worst = 0.0f64;
    for case in cases(preset) {
        let name = format!("{preset}/{}", case["case"].as_str().unwrap());
        let path = common::data_path(case["audio"].as_str().unwrap());
        let sr = case["sr"].as_u64().unwrap() as u32;
        assert_eq!(sr, frontend.sample_rate());
        let wave = audio::load(&path, LoadOptions::mono(sr)).expect("decodes");
        // The references saw exactly this waveform.
        let theirs = read(case["wave"].as_str().unwrap());
        assert_eq!(
            common::max_abs_diff(&wave.samples, &theirs.data),
            0.0,
            "{name}: earshot's waveform differs from librosa.load's"
        );
        let result = frontend.compute(&wave.samples);
        if let Some(err) = case["error"].as_str() {
            match result {
                Err(FrontendError::TooShort { .. }) => {
                    println!("{name}: refused like the reference ({err})");
                    continue;
                }
                other => panic!("{name}: the reference raises {err}, earshot gave {other:?}"),
            }
        }
        let features = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let ref64 = read(case["ref64"].as_str().unwrap());
        let ref32 = read(case["ref32"].as_str().unwrap());
        assert_eq!(features.shape, ref64.shape, "{name}: shape");
        assert_eq!(
            features.shape.iter().product::<usize>(),
            features.data.len()
        );
        assert!(
            features.data.iter().all(|v| v.is_finite()),
            "{name}: non-finite output"
        );
        assert_eq!(
            frontend.n_rows(wave.samples.len()),
            features.shape[0],
            "{name}: n_rows"
        );
        let ours: Vec<f64> = features.data.iter().map(|&v| v as f64).collect();
        let norm = match scale {
            Some(s) => s,
            None => 1.0 / ref64.data.iter().fold(1e-12f64, |m, v| m.max(v.abs())),
        };
        let vs64 = max_abs(&ours, &ref64.data) * norm;
        let vs32 = max_abs(&ours, &ref32.data) * norm;
        let ref_noise = max_abs(&ref32.data, &ref64.data) * norm;
        println!(
            "{name}: max |Δ| vs float64 reference {vs64:.2e} {unit}; vs float32 reference \
             {vs32:.2e} {unit} (float32 reference vs float64: {ref_noise:.2e})"
        );
        let tol = if scale.is_some() {
            TOLERANCE_DB
        } else {
            TOLERANCE_RELATIVE
        };
        assert!(
            vs64 <= tol,
            "{name}: {vs64:.3e} {unit} from the float64 reference"
        );
        assert!(
            vs32 <= ref_noise + tol,
            "{name}: {vs32:.3e} {unit} from the float32 reference"
        );
        worst = worst.max(vs64);
    }
    println!("{preset}: worst max |Δ| {worst:.2e} {unit} (tolerance 1e-3 dB / 1e-4 relative)");
    worst
}

#[test]
fn panns_matches_torchlibrosa_as_cnn14_builds_it() {
    parity(Preset::Panns);
}

#[test]
fn panns_16k_matches_torchlibrosa() {
    parity(Preset::Panns16k);
}

#[test]
fn panns_8k_matches_torchlibrosa() {
    parity(Preset::Panns8k);
}

#[test]
fn passt_matches_augment_mel_stft_in_eval_mode() {
    parity(Preset::Passt);
}

#[test]
fn openl3_linear_matches_torchopenl3() {
    parity(Preset::Openl3Linear);
}

#[test]
fn openl3_mel128_matches_torchopenl3() {
    parity(Preset::Openl3Mel128);
}

#[test]
fn openl3_mel256_matches_torchopenl3() {
    parity(Preset::Openl3Mel256);
}

#[test]
fn kaldi_fbank_matches_torchaudio() {
    parity(Preset::KaldiFbank);
}

#[test]
fn wav2vec2_matches_the_hf_feature_extractor() {
    parity(Preset::Wav2vec2);
}

#[test]
fn yamnet_matches_tensorflow_as_features_py_builds_it() {
    parity(Preset::Yamnet);
}

fn manifest() -> Value {
    common::family_manifest("frontend", "gen_frontend.py")
}

fn assert_close(name: &str, ours: &[f64], theirs: &npy::NpyArray, tol: f64) {
    let err = max_abs(ours, &theirs.data);
    println!("{name}: max |Δ| {err:.2e}");
    assert!(err <= tol, "{name}: {err:e}");
}

#[test]
fn mel_banks_match_librosa_and_torchaudio() {
    use earshot_core::frontend::mel::{kaldi_mel, librosa_mel, MelNorm, MelScale};
    let m = manifest();
    for b in m["librosa_banks"].as_array().unwrap() {
        let name = b[0].as_str().unwrap();
        let f = |i: usize| b[i].as_f64().unwrap();
        let scale = if b[6].as_bool().unwrap() {
            MelScale::Htk
        } else {
            MelScale::Slaney
        };
        let norm = match &b[7] {
            Value::Null => MelNorm::None,
            Value::String(s) if s == "slaney" => MelNorm::Slaney,
            Value::Number(n) if n.as_f64() == Some(1.0) => MelNorm::L1,
            other => panic!("norm {other}"),
        };
        let (n_fft, n_mels) = (f(2) as usize, f(3) as usize);
        let bank = librosa_mel(f(1), n_fft, n_mels, f(4), f(5), scale, norm);
        let theirs = read(m["banks"][format!("mel_{name}")]["npy"].as_str().unwrap());
        assert_eq!(theirs.shape, vec![n_mels, n_fft / 2 + 1]);
        // librosa stores float32: the same float32 values, bit for bit.
        assert_close(
            &format!("librosa mel {name}"),
            &bank.to_dense(),
            &theirs,
            0.0,
        );
    }
    for b in m["kaldi_banks"].as_array().unwrap() {
        let name = b[0].as_str().unwrap();
        let f = |i: usize| b[i].as_f64().unwrap();
        let bank = kaldi_mel(f(1) as usize, f(2) as usize, f(3), f(4), f(5));
        let theirs = read(m["banks"][format!("kaldi_{name}")]["npy"].as_str().unwrap());
        assert_eq!(theirs.shape, vec![bank.n_mels(), bank.n_bins()]);
        assert_close(
            &format!("kaldi mel {name}"),
            &bank.to_dense(),
            &theirs,
            1e-12,
        );
    }
}

#[test]
fn windows_match_scipy_and_torch() {
    use earshot_core::frontend::window::{window, WindowKind};
    let m = manifest();
    for (name, kind, len) in [
        ("hann_periodic_1024", WindowKind::HannPeriodic, 1024),
        ("hann_symmetric_800", WindowKind::HannSymmetric, 800),
        ("hamming_400", WindowKind::Hamming, 400),
        ("povey_400", WindowKind::Povey, 400),
    ] {
        let theirs = read(
            m["banks"][format!("window_{name}")]["npy"]
                .as_str()
                .unwrap(),
        );
        assert_close(
            &format!("window {name}"),
            &window(kind, len),
            &theirs,
            1e-12,
        );
    }
}

fn speech(sr: u32) -> Vec<f32> {
    let path = common::data_path("audio/speech_s16_22k.wav");
    audio::load(&path, LoadOptions::mono(sr)).unwrap().samples
}

#[test]
fn streaming_in_odd_blocks_equals_the_whole_signal() {
    for preset in Preset::ALL {
        let frontend = preset.build();
        let wave = speech(frontend.sample_rate());
        let whole = frontend.compute(&wave).unwrap();
        let mut stream = frontend.stream();
        let mut out = Vec::new();
        // Block sizes that straddle frames, pads and hops, including empty ones.
        let sizes = [1usize, 0, 7, 313, 4096, 100_000, 2, 50_000];
        let (mut at, mut i) = (0, 0);
        while at < wave.len() {
            let n = sizes[i % sizes.len()].min(wave.len() - at);
            stream.push(&wave[at..at + n], &mut out);
            at += n;
            i += 1;
        }
        let shape = stream.finish(&mut out).unwrap();
        assert_eq!(shape, whole.shape, "{preset}");
        assert!(out == whole.data, "{preset}: streamed output differs");
    }
}

#[test]
fn long_streams_keep_memory_flat() {
    // Ten minutes in one-second blocks: the stream never holds more than a couple of blocks.
    for preset in [
        Preset::Panns,
        Preset::Passt,
        Preset::KaldiFbank,
        Preset::Openl3Mel128,
    ] {
        let frontend = preset.build();
        let sr = frontend.sample_rate() as usize;
        let block: Vec<f32> = (0..sr).map(|i| (i as f32 * 0.01).sin() * 0.3).collect();
        let mut stream = frontend.stream();
        let (mut out, mut most, mut rows) = (Vec::new(), 0, 0);
        let seconds = if preset == Preset::Openl3Mel128 {
            20
        } else {
            600
        };
        for _ in 0..seconds {
            stream.push(&block, &mut out);
            most = most.max(stream.buffered());
            rows += out.len() / frontend.row_len();
            out.clear();
        }
        stream.finish(&mut out).unwrap();
        rows += out.len() / frontend.row_len();
        assert_eq!(rows, frontend.n_rows(seconds * sr), "{preset}");
        assert!(most <= 3 * sr + 48_000, "{preset}: held {most} samples");
    }
}

#[test]
fn silence_gives_finite_floors() {
    for preset in Preset::ALL {
        let frontend = preset.build();
        let zeros = vec![0.0f32; frontend.sample_rate() as usize];
        let features = frontend.compute(&zeros).unwrap();
        assert!(
            features.data.iter().all(|v| v.is_finite()),
            "{preset}: NaN or infinity on silence"
        );
    }
    // The floors themselves: 10·log10(1e-10), (ln(1e-5) + 4.5) / 5, ln(ε), and 0 after
    // OpenL3's per-window maximum.
    let floor = |p: Preset| {
        let f = p.build();
        f.compute(&vec![0.0; f.sample_rate() as usize])
            .unwrap()
            .data[0] as f64
    };
    assert_eq!(floor(Preset::Panns), -100.0);
    assert!((floor(Preset::Passt) - ((1e-5f64).ln() + 4.5) / 5.0).abs() < 1e-6);
    assert!((floor(Preset::KaldiFbank) - (f32::EPSILON as f64).ln()).abs() < 1e-6);
    assert_eq!(floor(Preset::Openl3Mel256), 0.0);
    assert_eq!(floor(Preset::Wav2vec2), 0.0);
}

#[test]
fn frame_counts_follow_the_references() {
    // 10 s: PANNs 1 + N/hop; PaSST loses a sample to pre-emphasis; Kaldi whole frames only;
    // OpenL3 96 windows (backbones.md §3.1).
    let ten_s = |p: Preset| p.build().n_rows(10 * p.sample_rate() as usize);
    assert_eq!(ten_s(Preset::Panns), 1001);
    assert_eq!(ten_s(Preset::Passt), 1000);
    assert_eq!(ten_s(Preset::KaldiFbank), 998);
    assert_eq!(ten_s(Preset::Openl3Mel256), 96);
    assert_eq!(
        Preset::Openl3Mel256.build().row_shape(),
        vec![256, 199],
        "mel256 window"
    );
    assert_eq!(Preset::Openl3Linear.build().row_shape(), vec![257, 197]);
}

#[test]
fn too_short_is_a_typed_error() {
    let err = Preset::Panns.build().compute(&[0.1; 512]).unwrap_err();
    assert!(matches!(
        err,
        FrontendError::TooShort {
            needed: 513,
            got: 512,
            ..
        }
    ));
    assert!(Preset::Panns.build().compute(&[0.1; 513]).is_ok());
    assert!("no-such".parse::<Preset>().is_err());
    for p in Preset::ALL {
        assert_eq!(p.name().parse::<Preset>().unwrap(), p);
    }
}

// ---- the command line ----

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn case_file(preset: Preset, case: &str) -> (PathBuf, Value) {
    let c = cases(preset)
        .into_iter()
        .find(|c| c["case"] == case)
        .unwrap();
    (common::data_path(c["audio"].as_str().unwrap()), c)
}

fn assert_one_error_line(out: &std::process::Output, path: &Path) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let prefix = format!("error: {}: ", path.display());
    assert!(err.starts_with(&prefix), "{err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    assert!(!err.contains("panicked"), "{err:?}");
}

#[test]
fn cli_writes_the_reference_features() {
    let dir = tmp();
    for (preset, case) in [
        (Preset::Panns, "speech"),
        (Preset::Passt, "tones"),
        (Preset::KaldiFbank, "mix"),
        (Preset::Openl3Mel128, "noise"),
        (Preset::Wav2vec2, "sweep"),
    ] {
        let (audio_path, c) = case_file(preset, case);
        let out_path = dir.path().join(format!("{preset}.npy"));
        let out = common::earshot(&[
            "features",
            audio_path.to_str().unwrap(),
            "--frontend",
            preset.name(),
            "-o",
            out_path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = npy::read(&out_path).unwrap();
        assert_eq!(got.descr, "<f4");
        let want = read(c["ref64"].as_str().unwrap());
        assert_eq!(got.shape, want.shape, "{preset}");
        let err = max_abs(&got.data, &want.data)
            * to_db(preset).unwrap_or(1.0 / want.data.iter().fold(1e-12f64, |m, v| m.max(v.abs())));
        println!("cli {preset}/{case}: max |Δ| {err:.2e}");
        assert!(err <= TOLERANCE_DB, "{preset}: {err}");
    }
}

#[test]
fn cli_several_files_go_to_a_directory_and_bad_ones_are_reported() {
    let dir = tmp();
    let (speech, _) = case_file(Preset::Panns, "speech");
    let (tones, _) = case_file(Preset::Panns, "tones");
    let (too_short, _) = case_file(Preset::Panns, "too_short");
    let missing = dir.path().join("missing.wav");
    let outdir = dir.path().join("feats");
    let out = common::earshot(&[
        "features",
        speech.to_str().unwrap(),
        tones.to_str().unwrap(),
        "--frontend",
        "panns",
        "-o",
        outdir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for input in [&speech, &tones] {
        let name = format!("{}.npy", input.file_name().unwrap().to_string_lossy());
        let got = npy::read(&outdir.join(name)).unwrap();
        assert_eq!(got.shape.len(), 2);
        assert_eq!(got.shape[1], 64);
    }
    // Too short for the reflect pad, and a file that does not exist: one line each.
    for bad in [&too_short, &missing] {
        let out = common::earshot(&[
            "features",
            bad.to_str().unwrap(),
            "--frontend",
            "panns",
            "-o",
            dir.path().join("bad.npy").to_str().unwrap(),
        ]);
        assert_one_error_line(&out, bad);
        assert!(!dir.path().join("bad.npy").exists());
    }
    let bad = common::bad("text");
    let out = common::earshot(&[
        "features",
        bad.to_str().unwrap(),
        "--frontend",
        "kaldi-fbank",
        "-o",
        dir.path().join("bad.npy").to_str().unwrap(),
    ]);
    assert_one_error_line(&out, &bad);
    // Unknown front end: a usage error from clap.
    let out = common::earshot(&[
        "features",
        speech.to_str().unwrap(),
        "--frontend",
        "mfcc",
        "-o",
        "x.npy",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
