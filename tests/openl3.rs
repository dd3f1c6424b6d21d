//! OpenL3 parity: earshot's network, loading the torchopenl3 `.pth.tar` state dicts and the
//! official-layout Keras `.h5` files that tests/gen_openl3.py wrote from random weights, against
//! torchopenl3's `get_audio_embedding` on real audio.

use crate::common;

use earshot_core::npy;
use earshot_models::openl3::{self, Config, Windowing};
use earshot_models::tensor::ToTch;
use serde_json::Value;
use tch::Tensor;

fn dir() -> std::path::PathBuf {
    common::data_dir().join("openl3")
}

fn manifest() -> Value {
    common::family_manifest("openl3", "gen_openl3.py")
}

fn read(rel: &str) -> npy::NpyArray {
    npy::read(&dir().join(rel)).unwrap()
}

fn samples(rel: &str) -> Vec<f32> {
    read(rel).data.iter().map(|&v| v as f32).collect()
}

fn config(entry: &Value, size: i64) -> Config {
    Config::from_names(
        entry["input_repr"].as_str().unwrap(),
        entry["content_type"].as_str().unwrap(),
        size,
    )
    .unwrap()
}

fn load(entry: &Value, file: &str) -> openl3::LoadedOpenl3 {
    openl3::load(&dir().join(file), &config(entry, 6144), tch::Device::Cpu)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn max_diff(got: &[f32], want: &[f64]) -> f64 {
    common::max_abs_diff(got, want)
}

fn max_abs(want: &[f64]) -> f64 {
    want.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Both embedding sizes of every case from one pass through the network (they share it).
fn embeddings(model: &openl3::LoadedOpenl3, input: &[f32], w: &Windowing) -> [Vec<f32>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    model
        .for_each_chunk(input, w, |_, map| {
            for (o, size) in out.iter_mut().zip([512, 6144]) {
                let e = model.model.pool(&map, size);
                o.extend(Vec::<f32>::try_from(e.flatten(0, -1)).unwrap());
            }
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn every_representation_and_size_matches_torchopenl3_on_real_audio() {
    tch::set_num_threads(2);
    let m = manifest();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for entry in m["models"].as_array().unwrap() {
        let model = load(entry, entry["checkpoint"].as_str().unwrap());
        let name = format!(
            "{}-{}",
            entry["input_repr"].as_str().unwrap(),
            entry["content_type"].as_str().unwrap()
        );
        for case in entry["cases"].as_array().unwrap() {
            let w = Windowing {
                hop_size: case["hop_size"].as_f64().unwrap(),
                center: case["center"].as_bool().unwrap(),
            };
            let input = samples(case["input"].as_str().unwrap());
            let got = embeddings(&model, &input, &w);
            for (size, got) in ["512", "6144"].iter().zip(&got) {
                let Some(files) = case["sizes"].get(*size) else {
                    continue;
                };
                let want = read(files["embedding"].as_str().unwrap());
                let ts = read(files["timestamps"].as_str().unwrap());
                let n = want.shape[0];
                assert_eq!(want.shape[1], size.parse::<usize>().unwrap());
                assert_eq!(got.len(), n * want.shape[1], "{name}-{size}: frames");
                assert_eq!(w.n_windows(input.len()).unwrap(), n);
                // The reference's timestamps are float32.
                let ours = w.timestamps(n);
                for (a, b) in ours.iter().zip(&ts.data) {
                    assert!((a - b).abs() < 1e-6, "{name}-{size}: timestamp {a} vs {b}");
                }
                let diff = max_diff(got, &want.data);
                table.push(format!(
                    "{name}-{size:<5} {:<14} {n:>3} windows  max |Δ| {diff:.2e}  (max |ref| {:.1})",
                    case["case"].as_str().unwrap(),
                    max_abs(&want.data)
                ));
                if diff > 1e-4 {
                    failures.push(format!("{name}-{size} {}", case["case"]));
                }
            }
        }
    }
    eprintln!("max |earshot - torchopenl3|:\n{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "over 1e-4: {failures:?}\n{}",
        table.join("\n")
    );
}

#[test]
fn spectrogram_tensors_built_by_earshot_equal_torchopenl3s() {
    let m = manifest();
    for entry in m["models"].as_array().unwrap() {
        let ckpt =
            earshot_core::checkpoint::load(&dir().join(entry["checkpoint"].as_str().unwrap()))
                .unwrap();
        let cfg = config(entry, 6144);
        let n_dft = if cfg.input_repr == earshot_core::frontend::openl3::Openl3Repr::Linear {
            512
        } else {
            2048
        };
        let (real, imag) = openl3::dft_kernels(n_dft);
        let mut built = vec![
            ("speclayer.dft_real_kernels", real),
            ("speclayer.dft_imag_kernels", imag),
        ];
        if n_dft == 2048 {
            let n_mels = if entry["input_repr"] == "mel128" {
                128
            } else {
                256
            };
            built.push(("speclayer.mel_basis", openl3::mel_basis(n_dft, n_mels)));
        }
        for (name, ours) in built {
            let theirs = ckpt.get(name).unwrap().to_tch().unwrap();
            assert_eq!(ours.size(), theirs.size(), "{name}");
            let diff = (ours - theirs).abs().max().double_value(&[]);
            assert_eq!(diff, 0.0, "{} {name}", entry["input_repr"]);
        }
    }
}

#[test]
fn keras_h5_in_the_official_layout_loads_to_the_same_model_as_the_pth() {
    tch::set_num_threads(2);
    let m = manifest();
    let input = samples("excerpt__input.npy");
    let one_window = Windowing {
        hop_size: 1.0,
        center: false,
    };
    for entry in m["models"].as_array().unwrap() {
        let Some(h5) = entry["h5"].as_str() else {
            continue;
        };
        let from_pth = load(entry, entry["checkpoint"].as_str().unwrap());
        let from_h5 = load(entry, h5);
        let (a, b) = (from_pth.vs.variables(), from_h5.vs.variables());
        assert_eq!(a.len(), b.len());
        for (name, t) in &a {
            assert!(t.equal(&b[name]), "{h5}: {name} differs");
        }
        let x = one_window.windows(&input, 0, 1).unwrap();
        let (ea, eb) = tch::no_grad(|| (from_pth.model.forward(&x), from_h5.model.forward(&x)));
        assert!(ea.equal(&eb), "{h5}: outputs differ");
        eprintln!(
            "{h5}: every variable and the output equal the .pth's ({:?})",
            ea.size()
        );
    }
}

#[test]
fn windows_and_timestamps_follow_the_reference_framing() {
    // 1.5 s centred at 0.1 s: 24000 + 72000 samples, 1 + (96000 − 48000) / 4800 windows.
    let w = Windowing::default();
    assert_eq!(w.n_windows(72000).unwrap(), 11);
    // Shorter than a window: padded to one.
    assert_eq!(w.n_windows(1).unwrap(), 1);
    let no_center = Windowing {
        hop_size: 0.25,
        center: false,
    };
    assert_eq!(no_center.n_windows(96000).unwrap(), 5);
    // int(0.57 · 48000) = 27359, as Python truncates 27359.999999999996.
    let odd = Windowing {
        hop_size: 0.57,
        center: true,
    };
    assert_eq!(odd.hop().unwrap(), 27359);
    // Window i starts at i·hop in the padded signal: half a window of zeros first.
    let signal: Vec<f32> = (0..60000).map(|i| i as f32).collect();
    let x = w.windows(&signal, 2, 3).unwrap();
    assert_eq!(x.size(), [3, 48000]);
    let first = Vec::<f32>::try_from(x.get(0)).unwrap();
    // Window 2 starts at padded 9600, i.e. 14400 zeros then samples 0, 1, ...
    assert!(first[..14400].iter().all(|&v| v == 0.0));
    assert_eq!(first[14400], 0.0);
    assert_eq!(first[14401], 1.0);
    // Window 4 starts at padded 19200: 4800 zeros, then the signal.
    let last = Vec::<f32>::try_from(x.get(2)).unwrap();
    assert!(last[..4801].iter().all(|&v| v == 0.0));
    assert_eq!(last[4801], 1.0);
    assert_eq!(w.timestamps(3), vec![0.0, 0.1, 0.2]);
}

#[test]
fn bad_settings_and_files_are_errors_not_panics() {
    use earshot_models::AudioModel;
    assert!(Windowing {
        hop_size: 0.0,
        center: true
    }
    .hop()
    .is_err());
    assert!(Windowing {
        hop_size: f64::NAN,
        center: true
    }
    .hop()
    .is_err());
    assert!(Config::from_names("mel64", "music", 512).is_err());
    assert!(Config::from_names("mel256", "speech", 512).is_err());
    assert!(Config::from_names("mel256", "music", 1024).is_err());
    let spec = earshot_core::registry::spec("openl3-mel128-env-512").unwrap();
    assert_eq!(
        Config::from_spec(spec).unwrap(),
        Config::from_names("mel128", "env", 512).unwrap()
    );
    for spec in earshot_core::registry::Registry::builtin().specs() {
        if spec.family == "openl3" {
            assert_eq!(Config::from_spec(spec).unwrap().name(), spec.name);
        }
    }
    let mut misspelt = spec.clone();
    let size = misspelt.arguments.remove("embedding_size").unwrap();
    misspelt.arguments.insert("embedding_dim".into(), size);
    let err = Config::from_spec(&misspelt).unwrap_err().to_string();
    assert!(err.contains("unknown field `embedding_dim`"), "{err}");
    assert_eq!(Config::DEFAULT.name(), "openl3-mel256-music-6144");

    let m = manifest();
    let entry = &m["models"][0];
    let model = load(entry, entry["checkpoint"].as_str().unwrap());
    let err = model.embed(&[], &Default::default()).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    // A checkpoint of another family does not fit.
    let panns = common::data_dir().join("panns/Cnn14.pth");
    if panns.exists() {
        let err = openl3::load(&panns, &Config::DEFAULT, tch::Device::Cpu)
            .err()
            .expect("a PANNs checkpoint is refused");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}

#[test]
fn embed_returns_frames_timestamps_and_their_mean() {
    use earshot_models::{AudioModel, EmbedOptions};
    tch::set_num_threads(2);
    let m = manifest();
    let entry = m["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["input_repr"] == "mel128" && e["content_type"] == "music")
        .unwrap();
    let model = openl3::load(
        &dir().join(entry["checkpoint"].as_str().unwrap()),
        &config(entry, 512),
        tch::Device::Cpu,
    )
    .unwrap();
    let case = entry["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == "excerpt_hop05")
        .unwrap();
    let input = samples(case["input"].as_str().unwrap());
    let options = EmbedOptions {
        hop: Some(0.5),
        center: Some(true),
        ..Default::default()
    };
    let e = model.embed(&input, &options).unwrap();
    let want = read(case["sizes"]["512"]["embedding"].as_str().unwrap());
    assert_eq!(e.shape, want.shape);
    assert!(max_diff(&e.frames, &want.data) <= 1e-4);
    assert_eq!(e.timestamps, vec![0.0, 0.5, 1.0]);
    let mean = Tensor::from_slice(&e.frames)
        .reshape([3, 512])
        .mean_dim(0, false, tch::Kind::Float);
    let mean = Vec::<f32>::try_from(mean).unwrap();
    let d = e
        .scene
        .iter()
        .zip(&mean)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(d < 1e-5, "scene is the mean of the frames ({d})");
}

/// Run `earshot embed` into a fresh directory and read the one `.npz` it writes.
fn embed_cli(args: &[&str], input: &str) -> std::collections::HashMap<String, npy::NpyArray> {
    let out = tempfile::tempdir().unwrap();
    let input_path = dir().join(input);
    let mut full = vec!["embed"];
    full.extend_from_slice(args);
    let input_str = input_path.display().to_string();
    let out_str = out.path().display().to_string();
    full.extend([input_str.as_str(), "-o", out_str.as_str()]);
    let run = common::earshot(&full);
    assert!(
        run.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let npz = out.path().join(format!("{input}.npz"));
    npy::read_npz(&npz)
        .unwrap_or_else(|e| panic!("{}: {e}", npz.display()))
        .into_iter()
        .collect()
}

fn reference(m: &Value, repr: &str, content: &str, size: &str, case: &str) -> (String, Value) {
    let entry = m["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["input_repr"] == repr && e["content_type"] == content)
        .unwrap_or_else(|| panic!("no {repr}-{content} model"));
    let case = entry["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == case)
        .unwrap_or_else(|| panic!("{repr}-{content}: no case {case}"));
    (
        entry["checkpoint"].as_str().unwrap().to_string(),
        case["sizes"][size].clone(),
    )
}

/// The `.npz` against the reference: frames, timestamps, and the scene as their mean.
fn check_npz(
    what: &str,
    z: &std::collections::HashMap<String, npy::NpyArray>,
    want: &Value,
) -> f64 {
    let reference = read(want["embedding"].as_str().unwrap());
    let e = &z["embedding"];
    assert_eq!(e.shape, reference.shape, "{what}: shape");
    let got: Vec<f32> = e.data.iter().map(|&v| v as f32).collect();
    let diff = max_diff(&got, &reference.data);
    let ts = read(want["timestamps"].as_str().unwrap());
    assert_eq!(z["timestamps"].shape, ts.shape, "{what}: timestamps");
    for (a, b) in z["timestamps"].data.iter().zip(&ts.data) {
        assert!((a - b).abs() < 1e-6, "{what}: timestamp {a} vs {b}");
    }
    let (n, dim) = (reference.shape[0], reference.shape[1]);
    assert_eq!(z["scene"].shape, [dim]);
    for (j, s) in z["scene"].data.iter().enumerate() {
        let mean = (0..n).map(|i| reference.data[i * dim + j]).sum::<f64>() / n as f64;
        assert!((s - mean).abs() < 1e-4, "{what}: scene[{j}] {s} vs {mean}");
    }
    diff
}

#[test]
fn embed_cli_defaults_are_the_references_mel256_music_6144_hop_01_centred() {
    let m = manifest();
    let (ckpt, want) = reference(&m, "mel256", "music", "6144", "excerpt");
    let file = m["files"]["excerpt"].as_str().unwrap();
    let ckpt = dir().join(ckpt).display().to_string();
    let z = embed_cli(&["--model", "openl3", "--checkpoint", &ckpt], file);
    let diff = check_npz("defaults", &z, &want);
    eprintln!("embed --model openl3 (defaults): max |Δ| {diff:.2e}");
    assert!(diff <= 1e-4, "{diff}");
}

#[test]
fn embed_cli_runs_all_twelve_models_and_matches_torchopenl3() {
    let m = manifest();
    let file = m["files"]["excerpt_hop05"].as_str().unwrap();
    let mut table = Vec::new();
    for content in ["music", "env"] {
        for repr in ["linear", "mel128", "mel256"] {
            for size in ["512", "6144"] {
                let (ckpt, want) = reference(&m, repr, content, size, "excerpt_hop05");
                let ckpt = dir().join(ckpt).display().to_string();
                let args = [
                    "--model",
                    "openl3",
                    "--input-repr",
                    repr,
                    "--content-type",
                    content,
                    "--embedding-size",
                    size,
                    "--checkpoint",
                    &ckpt,
                    "--hop",
                    "0.5",
                    "--center",
                ];
                let what = format!("openl3-{repr}-{content}-{size}");
                let diff = check_npz(&what, &embed_cli(&args, file), &want);
                table.push(format!("{what:<26} max |Δ| {diff:.2e}"));
                assert!(diff <= 1e-4, "{what}: {diff}");
            }
        }
    }
    eprintln!("earshot embed vs torchopenl3:\n{}", table.join("\n"));
}

#[test]
fn embed_cli_without_centring_and_from_the_keras_h5() {
    let m = manifest();
    let file = m["files"]["speech"].as_str().unwrap();
    let (_, want) = reference(&m, "mel128", "music", "512", "speech");
    let h5 = dir()
        .join("openl3_audio_mel128_music.h5")
        .display()
        .to_string();
    let args = [
        "--model",
        "openl3-mel128-music-512",
        "--checkpoint",
        &h5,
        "--hop",
        "0.25",
        "--no-center",
    ];
    let diff = check_npz("no-center from .h5", &embed_cli(&args, file), &want);
    assert!(diff <= 1e-4, "{diff}");
}

#[test]
fn embed_cli_stacks_scene_embeddings_and_refuses_bad_flags() {
    let m = manifest();
    let (ckpt, want) = reference(&m, "mel128", "env", "512", "excerpt_hop05");
    let ckpt = dir().join(ckpt).display().to_string();
    let file = dir()
        .join(m["files"]["excerpt_hop05"].as_str().unwrap())
        .display()
        .to_string();
    let out = tempfile::tempdir().unwrap();
    let npy_path = out.path().join("scenes.npy");
    let npy_str = npy_path.display().to_string();
    let base = [
        "embed",
        "--model",
        "openl3",
        "--input-repr",
        "mel128",
        "--content-type",
        "env",
        "--embedding-size",
        "512",
        "--checkpoint",
        &ckpt,
        "--hop",
        "0.5",
    ];
    let mut args = base.to_vec();
    args.extend([file.as_str(), file.as_str(), "-o", &npy_str]);
    let run = common::earshot(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let scenes = npy::read(&npy_path).unwrap();
    assert_eq!(scenes.shape, [2, 512]);
    let reference = read(want["embedding"].as_str().unwrap());
    for j in 0..512 {
        let mean = (0..3).map(|i| reference.data[i * 512 + j]).sum::<f64>() / 3.0;
        assert!((scenes.data[j] - mean).abs() < 1e-4);
        assert_eq!(scenes.data[j], scenes.data[512 + j]);
    }

    // One-line errors, no panics.
    // base[..11] stops before --hop; base[..3] is `embed --model openl3`.
    for (mut args, expect) in [
        (
            [&base[..11], &["--hop", "0"]].concat(),
            "at least one sample",
        ),
        (
            [&base[..3], &["--embedding-size", "1024"]].concat(),
            "possible values",
        ),
        (
            [&base[..3], &["--input-repr", "mel64"]].concat(),
            "possible values",
        ),
    ] {
        args.extend([file.as_str(), "-o", &npy_str]);
        let run = common::earshot(&args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?}");
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let run = common::earshot(&[
        "embed",
        "--model",
        "cnn14",
        "--input-repr",
        "mel128",
        &file,
        "-o",
        &npy_str,
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && stderr.contains("--model openl3"),
        "{stderr}"
    );
    // The wrong representation for the checkpoint: a shape mismatch, named.
    let run = common::earshot(&[
        "embed",
        "--model",
        "openl3",
        "--input-repr",
        "linear",
        "--checkpoint",
        &ckpt,
        &file,
        "-o",
        &npy_str,
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && stderr.contains("does not fit"),
        "{stderr}"
    );
}
