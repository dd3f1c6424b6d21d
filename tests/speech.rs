//! Speech embeddings parity: earshot's wav2vec 2.0 / HuBERT / WavLM, loading the Hugging Face
//! folders (safetensors and pytorch_model.bin) and fairseq-layout `.pt` files that
//! tests/gen_speech.py saved from random-weight transformers models, against every hidden state
//! transformers computed on espeak-ng speech.

mod common;

use std::path::PathBuf;

use earshot::models::wav2vec2::{self, Family};
use earshot::models::{AudioModel, EmbedOptions, Layers};
use earshot::npy;
use serde_json::Value;

fn dir() -> PathBuf {
    common::data_dir().join("speech")
}

fn manifest() -> Value {
    let path = dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — run scripts/test.sh (tests/gen_speech.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn read(rel: &str) -> npy::NpyArray {
    npy::read(&dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn input(rel: &str) -> Vec<f32> {
    read(rel).data.iter().map(|&v| v as f32).collect()
}

fn family(entry: &Value) -> Family {
    let f = entry["family"].as_str().unwrap();
    Family::parse(f.trim_end_matches("-ctc")).unwrap()
}

/// Every checkpoint file of an entry: (format, path).
fn checkpoints(entry: &Value) -> Vec<(String, PathBuf)> {
    entry["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(fmt, f)| (fmt.clone(), dir().join(f.as_str().unwrap())))
        .collect()
}

fn max_abs(got: &[f32], shape: &[usize], want: &npy::NpyArray) -> f64 {
    assert_eq!(shape, want.shape.as_slice(), "shape");
    common::max_abs_diff(got, &want.data)
}

#[test]
fn every_hidden_state_matches_transformers() {
    tch::set_num_threads(2);
    let m = manifest();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for entry in m["models"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        for (format, path) in checkpoints(entry) {
            let loaded = wav2vec2::load(&path, family(entry), None, tch::Device::Cpu)
                .unwrap_or_else(|e| panic!("{name} {format}: {e}"));
            assert_eq!(
                loaded.config().do_normalize,
                entry["do_normalize"].as_bool().unwrap(),
                "{name} {format}: do_normalize"
            );
            let (mut all, mut last) = (0f64, 0f64);
            for r in entry["results"].as_array().unwrap() {
                let wave = input(r["input"].as_str().unwrap());
                let opts = EmbedOptions {
                    layers: Layers::All,
                    ..Default::default()
                };
                let e = loaded.embed(&wave, &opts).unwrap();
                all = all.max(max_abs(
                    &e.frames,
                    &e.shape,
                    &read(r["hidden"].as_str().unwrap()),
                ));
                let e = loaded.embed(&wave, &EmbedOptions::default()).unwrap();
                last = last.max(max_abs(
                    &e.frames,
                    &e.shape,
                    &read(r["last"].as_str().unwrap()),
                ));
                if let Some(f) = r.get("logits").and_then(Value::as_str) {
                    let logits = loaded.ctc_logits(&wave).unwrap();
                    let got = Vec::<f32>::try_from(logits.flatten(0, -1)).unwrap();
                    let shape: Vec<usize> = logits.size().iter().map(|&d| d as usize).collect();
                    last = last.max(max_abs(&got, &shape, &read(f)));
                }
            }
            let line = format!("{name:<14} {format:<12} hidden_states {all:.2e}  last {last:.2e}");
            if all.max(last) > 1e-4 {
                failures.push(line.clone());
            }
            table.push(line);
        }
    }
    eprintln!("max |earshot - transformers|:\n{}", table.join("\n"));
    assert!(failures.is_empty(), "over 1e-4:\n{}", failures.join("\n"));
}
