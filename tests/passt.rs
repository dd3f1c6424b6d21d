//! PaSST parity: earshot's model, loading the official-layout `.pt` files that tests/gen_passt.py
//! saved from hear21passt with random weights, against hear21passt's HEAR wrapper (front end,
//! network and windows together) on 3-s, 10-s and 37-s real audio. Every figure is printed
//! (`cargo test --release --test passt -- --nocapture`).

use crate::common;

use earshot_core::npy;
use earshot_core::registry;
use earshot_models::passt::{self, Config};
use earshot_models::{AudioModel, EmbedOptions};
use serde_json::Value;

const TOLERANCE: f64 = 1e-4;

fn dir() -> std::path::PathBuf {
    common::data_dir().join("passt")
}

fn manifest() -> Value {
    common::family_manifest("passt", "gen_passt.py")
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

fn load(entry: &Value) -> passt::LoadedPasst {
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

/// The clips as the CLI reads them, with the manifest entry of each.
fn cli_clips(entry: &Value, names: &[&str]) -> Vec<(String, Value)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    names
        .iter()
        .map(|name| {
            let clip = entry["clips"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["clip"] == *name)
                .unwrap()
                .clone();
            let path = root.join(clip["audio"].as_str().unwrap());
            (path.display().to_string(), clip)
        })
        .collect()
}

fn checkpoint(entry: &Value) -> String {
    dir()
        .join(entry["checkpoint"].as_str().unwrap())
        .display()
        .to_string()
}

#[test]
fn tag_cli_probabilities_equal_hear21passt() {
    let entry = model_entry("passt_s_swa_p16_128_ap476");
    let clips = cli_clips(&entry, &["clip3", "clip10", "clip37"]);
    let ckpt = checkpoint(&entry);
    let mut args = vec![
        "tag",
        "--model",
        "passt",
        "--checkpoint",
        &ckpt,
        "--format",
        "json",
        "--all-scores",
        "--threads",
        "2",
    ];
    args.extend(clips.iter().map(|(p, _)| p.as_str()));
    let out = common::earshot(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), clips.len());
    for (row, (path, clip)) in rows.iter().zip(&clips) {
        let want = read(&clip["files"]["probabilities"]);
        let scores: Vec<f32> = row["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(scores.len(), 527);
        let diff = max_diff(&scores, &want);
        eprintln!("tag CLI {path}: probabilities {diff:.2e}");
        assert!(diff <= TOLERANCE, "{path}: {diff}");
        assert_eq!(row["model"], "passt-s-f128-p16-s10-ap476");
    }
}

#[test]
fn embed_cli_writes_hear21passt_frames_timestamps_and_scene() {
    let entry = model_entry("passt_s_swa_p16_128_ap476");
    let clips = cli_clips(&entry, &["clip3", "clip37"]);
    let ckpt = checkpoint(&entry);
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("emb");
    // 0.1 s: shorter than one 16-frame patch (the reference's convolution fails too).
    let short_path = tmp.path().join("short.wav");
    let first = read(&clips[0].1["files"]["input"]);
    let short_wave = earshot_core::audio::Waveform {
        sample_rate: 32000,
        channels: 1,
        samples: first.data[..3200].iter().map(|&v| v as f32).collect(),
    };
    earshot_core::wav::write_f32(&short_path, &short_wave).unwrap();
    let short = short_path.display().to_string();
    let mut args = vec![
        "embed",
        "--model",
        "passt",
        "--checkpoint",
        &ckpt,
        "--threads",
        "2",
        "-o",
        out_dir.to_str().unwrap(),
        &short,
    ];
    args.extend(clips.iter().map(|(p, _)| p.as_str()));
    let out = common::earshot(&args);
    // The 0.1-s input fails alone, in one line; the others complete.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("error: {short}: ")) && err.contains("too short"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    for (path, clip) in &clips {
        let name = std::path::Path::new(path).file_name().unwrap();
        let npz = out_dir.join(format!("{}.npz", name.to_str().unwrap()));
        let arrays: std::collections::HashMap<_, _> =
            npy::read_npz(&npz).unwrap().into_iter().collect();
        let files = &clip["files"];
        let want_frames = read(&files["timestamp_embeddings"]);
        assert_eq!(arrays["embedding"].shape, want_frames.shape);
        assert_eq!(arrays["scene"].shape, vec![1295]);
        let frames: Vec<f32> = arrays["embedding"].data.iter().map(|&v| v as f32).collect();
        let scene: Vec<f32> = arrays["scene"].data.iter().map(|&v| v as f32).collect();
        let d_frames = max_diff(&frames, &want_frames);
        let d_scene = max_diff(&scene, &read(&files["scene"]));
        let want_ms = read(&files["timestamps_ms"]);
        let times = &arrays["timestamps"].data;
        assert_eq!(times.len(), want_ms.data.len());
        for (t, ms) in times.iter().zip(&want_ms.data) {
            assert!((t * 1000.0 - ms).abs() < 1e-3, "{t} s vs {ms} ms");
        }
        eprintln!("embed CLI {path}: scene {d_scene:.2e}  timestamp {d_frames:.2e}");
        assert!(d_frames <= TOLERANCE && d_scene <= TOLERANCE, "{path}");
    }
}

#[test]
fn embed_cli_hear_layout_feeds_the_hear_kit() {
    let entry = model_entry("passt_s_swa_p16_128_ap476");
    let clips = cli_clips(&entry, &["clip3"]);
    let (path, clip) = &clips[0];
    let ckpt = checkpoint(&entry);
    let tmp = tempfile::tempdir().unwrap();
    let run = |pool: &str, out: &std::path::Path| {
        let o = common::earshot(&[
            "embed",
            "--model",
            "passt",
            "--checkpoint",
            &ckpt,
            "--threads",
            "2",
            "--hear",
            "--pool",
            pool,
            "-o",
            out.to_str().unwrap(),
            path,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let name = std::path::Path::new(path)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    // Event task: frames × 1295 and their times in ms.
    let events = tmp.path().join("event");
    run("none", &events);
    let frames = npy::read(&events.join(format!("{name}.embedding.npy"))).unwrap();
    assert_eq!(frames.descr, "<f4");
    let want = read(&clip["files"]["timestamp_embeddings"]);
    assert_eq!(frames.shape, want.shape);
    let got: Vec<f32> = frames.data.iter().map(|&v| v as f32).collect();
    assert!(max_diff(&got, &want) <= TOLERANCE);
    let times: Vec<f64> = serde_json::from_str(
        &std::fs::read_to_string(events.join(format!("{name}.timestamps.json"))).unwrap(),
    )
    .unwrap();
    let want_ms = read(&clip["files"]["timestamps_ms"]);
    assert_eq!(times.len(), want_ms.data.len());
    assert!(times
        .iter()
        .zip(&want_ms.data)
        .all(|(a, b)| (a - b).abs() < 1e-3));
    // Scene task: the 1295-d scene embedding, one vector.
    let scenes = tmp.path().join("scene");
    run("mean", &scenes);
    let scene = npy::read(&scenes.join(format!("{name}.embedding.npy"))).unwrap();
    assert_eq!(scene.shape, vec![1295]);
    let got: Vec<f32> = scene.data.iter().map(|&v| v as f32).collect();
    assert!(max_diff(&got, &read(&clip["files"]["scene"])) <= TOLERANCE);
}

/// The release checkpoint cut to another card's head: the first `classes` rows of both heads,
/// and the time positions extended to the card's `input_tdim` (a clip shorter than the window
/// uses only the first ones, so its outputs are the full model's for those classes).
fn cut_to_card(full: &std::path::Path, card: &str, out: &std::path::Path) {
    use earshot_core::checkpoint::{self, RawTensor};
    let cfg = Config::from_spec(registry::spec(card).unwrap()).unwrap();
    let (classes, grid_t) = (cfg.num_classes as usize, cfg.grid().1 as usize);
    let mut ckpt = checkpoint::load(full).unwrap();
    for (name, t) in &mut ckpt.tensors {
        let rows = |t: &RawTensor, n: usize| {
            let row = t.data.len() / t.shape[0];
            let mut shape = t.shape.clone();
            shape[0] = n;
            RawTensor {
                dtype: t.dtype,
                shape,
                data: t.data[..n * row].to_vec(),
            }
        };
        if name.starts_with("head.1.") || name.starts_with("head_dist.") {
            *t = rows(t, classes);
        } else if name == "time_new_pos_embed" {
            let have = t.shape[3];
            let data = (t.data.chunks_exact(have * 4))
                .flat_map(|channel| {
                    let last = &channel[channel.len() - 4..];
                    channel.iter().copied().chain(last.repeat(grid_t - have))
                })
                .collect();
            let shape = vec![1, t.shape[1], 1, grid_t];
            *t = RawTensor {
                dtype: t.dtype,
                shape,
                data,
            };
        }
    }
    checkpoint::safetensors::save(&ckpt, out).unwrap();
}

#[test]
fn tag_names_the_classes_of_the_cards_vocabulary() {
    use earshot_core::labels::Labels;
    let entry = model_entry("passt_s_swa_p16_128_ap476");
    let clips = cli_clips(&entry, &["clip3"]);
    let (path, clip) = &clips[0];
    let full = read(&clip["files"]["probabilities"]);
    let tmp = tempfile::tempdir().unwrap();
    for (card, vocabulary) in [
        ("passt-fsd50k-s-f128-p16-s10-ap655", "fsd50k"),
        ("passt-openmic-s-f128-10sec-p16-s10-ap85", "openmic"),
    ] {
        let ckpt = tmp.path().join(format!("{card}.safetensors"));
        cut_to_card(std::path::Path::new(&checkpoint(&entry)), card, &ckpt);
        let labels = Labels::named(vocabulary).unwrap();
        let args = [
            "tag",
            "--model",
            card,
            "--checkpoint",
            ckpt.to_str().unwrap(),
        ];
        let json =
            common::earshot_ok(&[&args[..], &["--format", "json", "--all-scores", path]].concat());
        let rows: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
        let scores = common::first_scores(&json.stdout);
        assert_eq!(scores.len(), labels.len(), "{card}: one score per class");
        let d = common::max_abs_diff(
            &scores.iter().map(|&s| s as f32).collect::<Vec<_>>(),
            &full.data[..labels.len()],
        );
        assert!(d <= TOLERANCE, "{card}: the cut head's scores move by {d}");
        // Every reported tag carries the vocabulary's name for its index, none AudioSet's.
        for tag in rows[0]["labels"].as_array().unwrap() {
            let index = tag["index"].as_u64().unwrap() as usize;
            assert_eq!(tag["name"], labels[index].name.as_str(), "{card}: {tag}");
            assert_eq!(tag["mid"], labels[index].mid.as_str(), "{card}: {tag}");
        }
        let table = common::earshot_ok(&[&args[..], &["--top-k", "3", path]].concat());
        let table = String::from_utf8_lossy(&table.stdout);
        let best = (0..labels.len())
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap();
        assert!(table.contains(&labels[best].name), "{card}: {table}");
    }
}

/// Every PaSST card builds its configuration, and a misspelt argument is refused by name
/// instead of leaving the default in place.
#[test]
fn passt_cards_build_and_misspelt_arguments_are_refused() {
    for spec in registry::Registry::builtin().specs() {
        if spec.family == "passt" {
            let cfg = Config::from_spec(spec).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            assert_eq!(cfg.num_classes as usize, spec.classes, "{}", spec.name);
        }
    }
    let mut misspelt = registry::spec("passt-s-f128-p16-s10-ap476")
        .unwrap()
        .clone();
    let hop = misspelt.arguments.remove("hopsize").unwrap();
    misspelt.arguments.insert("hop_size".into(), hop);
    let err = Config::from_spec(&misspelt).unwrap_err().to_string();
    assert!(err.contains("unknown field `hop_size`"), "{err}");
}
