//! PaSST parity: earshot's model, loading the official-layout `.pt` files that tests/gen_passt.py
//! saved from hear21passt with random weights, against hear21passt's HEAR wrapper (front end,
//! network and windows together) on 3-s, 10-s and 37-s real audio. Every figure is printed
//! (`cargo test --release --test passt -- --nocapture`).

mod common;

use earshot::models::passt::{self, Config};
use earshot::models::{registry, AudioModel, EmbedOptions};
use earshot::npy;
use serde_json::Value;

const TOLERANCE: f64 = 1e-4;

fn dir() -> std::path::PathBuf {
    common::data_dir().join("passt")
}

fn manifest() -> Value {
    let path = dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — run scripts/test.sh (tests/gen_passt.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn read(rel: &Value) -> npy::NpyArray {
    npy::read(&dir().join(rel.as_str().unwrap())).unwrap()
}

fn model_entry(arch: &str) -> Value {
    manifest()["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["arch"] == arch)
        .unwrap_or_else(|| panic!("{arch} not in the manifest"))
        .clone()
}

/// The configuration from the model card, checked against the wrapper the generator built.
fn config(entry: &Value) -> Config {
    let card = entry["card"].as_str().unwrap();
    let cfg = Config::from_spec(registry::spec(card).unwrap()).unwrap();
    let sr = cfg.frontend.sr as f64 / 1000.0;
    for (key, ms) in [
        ("max_model_window", cfg.wrapper.max_model_window),
        ("scene_hop", cfg.wrapper.scene_hop),
        ("timestamp_window", cfg.wrapper.timestamp_window),
        ("timestamp_hop", cfg.wrapper.timestamp_hop),
    ] {
        assert_eq!(
            (ms * sr) as u64,
            entry[key].as_u64().unwrap(),
            "{card}: {key}"
        );
    }
    assert_eq!(cfg.num_classes, entry["classes"].as_i64().unwrap());
    cfg
}

fn load(entry: &Value) -> passt::Loaded {
    let cfg = config(entry);
    let ckpt = dir().join(entry["checkpoint"].as_str().unwrap());
    passt::load(&ckpt, &cfg, tch::Device::Cpu).unwrap()
}

fn max_diff(got: &[f32], want: &npy::NpyArray) -> f64 {
    common::max_abs_diff(got, &want.data)
}

/// Probabilities, scene and timestamp embeddings of every clip of `arch`, through the
/// `AudioModel` interface the commands use; returns the report lines.
fn check_model(arch: &str) -> Vec<String> {
    tch::set_num_threads(2);
    let entry = model_entry(arch);
    let model = load(&entry);
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for clip in entry["clips"].as_array().unwrap() {
        let files = &clip["files"];
        let input: Vec<f32> = read(&files["input"])
            .data
            .iter()
            .map(|&v| v as f32)
            .collect();
        let embedded = model.embed(&input, &EmbedOptions::default()).unwrap();
        let want_frames = read(&files["timestamp_embeddings"]);
        assert_eq!(embedded.shape, want_frames.shape, "{arch} frame shape");
        let times_ms: Vec<f32> = embedded
            .timestamps
            .iter()
            .map(|t| (t * 1000.0) as f32)
            .collect();
        let d_times = max_diff(&times_ms, &read(&files["timestamps_ms"]));
        assert!(d_times < 1e-3, "{arch} timestamps: {d_times}");
        let d_frames = max_diff(&embedded.frames, &want_frames);
        let d_scene = max_diff(&embedded.scene, &read(&files["scene"]));
        let out = model.run_batch(&[&input]).unwrap().pop().unwrap();
        let d_prob = max_diff(&out.clipwise, &read(&files["probabilities"]));
        let d_tag_scene = max_diff(out.embedding.as_ref().unwrap(), &read(&files["scene"]));
        let name = clip["clip"].as_str().unwrap();
        lines.push(format!(
            "{arch:<26} {name:<7} {:>7} samples  probabilities {d_prob:.2e}  scene {:.2e}  \
             timestamp {d_frames:.2e} ({} frames × {})",
            input.len(),
            d_scene.max(d_tag_scene),
            want_frames.shape[0],
            want_frames.shape[1],
        ));
        if [d_prob, d_scene, d_tag_scene, d_frames]
            .iter()
            .any(|&d| d > TOLERANCE)
        {
            failures.push(name.to_string());
        }
    }
    eprintln!("max |earshot − hear21passt|:\n{}", lines.join("\n"));
    assert!(failures.is_empty(), "over {TOLERANCE}: {failures:?}");
    lines
}

#[test]
fn passt_s_matches_hear21passt_on_3_10_and_37_s() {
    check_model("passt_s_swa_p16_128_ap476");
}

#[test]
fn no_overlap_s16_matches_hear21passt() {
    check_model("passt_s_p16_s16_128_ap468");
}

#[test]
fn twenty_second_model_matches_hear21passt() {
    check_model("passt_20sec");
}
