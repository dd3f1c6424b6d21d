//! PANNs parity: earshot's models, loading the official-layout checkpoints that
//! tests/gen_panns.py saved from the pip reference classes, against the reference outputs.

mod common;

use earshot::models::panns::{self, Arch, Config};
use earshot::npy;
use serde_json::Value;
use tch::Tensor;

fn manifest() -> Value {
    let path = common::data_dir().join("panns/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} — run scripts/test.sh (tests/gen_panns.py)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn config(entry: &Value) -> Config {
    let arch = Arch::from_class_name(entry["arch"].as_str().unwrap()).unwrap();
    let c = &entry["config"];
    Config {
        arch,
        sample_rate: c["sample_rate"].as_u64().unwrap() as u32,
        window_size: c["window_size"].as_i64().unwrap(),
        hop_size: c["hop_size"].as_i64().unwrap(),
        mel_bins: c["mel_bins"].as_i64().unwrap(),
        fmin: c["fmin"].as_f64().unwrap(),
        fmax: c["fmax"].as_f64().unwrap(),
        classes_num: c["classes_num"].as_i64().unwrap(),
    }
}

fn read(rel: &str) -> npy::NpyArray {
    npy::read(&common::data_dir().join("panns").join(rel)).unwrap()
}

fn max_diff(got: &Tensor, want: &npy::NpyArray) -> f64 {
    let shape: Vec<usize> = got.size().iter().map(|&d| d as usize).collect();
    assert_eq!(shape, want.shape, "shape");
    let got: Vec<f64> = Vec::<f64>::try_from(got.to_kind(tch::Kind::Double).flatten(0, -1)).unwrap();
    got.iter().zip(&want.data).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

#[test]
fn every_model_matches_the_reference_on_real_audio() {
    tch::set_num_threads(2);
    let m = manifest();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for entry in m["models"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let cfg = config(entry);
        let ckpt = common::data_dir().join("panns").join(entry["checkpoint"].as_str().unwrap());
        let loaded = panns::load(&ckpt, &cfg, tch::Device::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut worst = [0f64; 3];
        for clip in entry["clips"].as_array().unwrap() {
            let files = &clip["files"];
            let input = read(files["input"].as_str().unwrap());
            let wave = Tensor::from_slice(&input.data.iter().map(|&v| v as f32).collect::<Vec<_>>()).unsqueeze(0);
            let out = tch::no_grad(|| loaded.model.forward(&wave));
            worst[0] = worst[0].max(max_diff(&out.clipwise.squeeze_dim(0), &read(files["clipwise_output"].as_str().unwrap())));
            if let Some(f) = files.get("embedding") {
                let e = out.embedding.as_ref().unwrap_or_else(|| panic!("{name}: no embedding"));
                worst[1] = worst[1].max(max_diff(&e.squeeze_dim(0), &read(f.as_str().unwrap())));
            }
            if let Some(f) = files.get("framewise_output") {
                let fw = out.framewise.as_ref().unwrap_or_else(|| panic!("{name}: no framewise output"));
                worst[2] = worst[2].max(max_diff(&fw.squeeze_dim(0), &read(f.as_str().unwrap())));
            }
        }
        table.push(format!("{name:<24} clipwise {:.2e}  embedding {:.2e}  framewise {:.2e}", worst[0], worst[1], worst[2]));
        if worst.iter().any(|&w| w > 1e-4) {
            failures.push(name.to_string());
        }
    }
    eprintln!("max |earshot - reference|:\n{}", table.join("\n"));
    assert!(failures.is_empty(), "over 1e-4: {failures:?}\n{}", table.join("\n"));
}
