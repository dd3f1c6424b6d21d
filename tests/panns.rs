//! PANNs parity: earshot's models, loading the official-layout checkpoints that
//! tests/gen_panns.py saved from the pip reference classes, against the reference outputs.

use crate::common;

use earshot_core::npy;
use earshot_models::panns::{self, Arch, Config};
use serde_json::Value;
use tch::Tensor;

fn manifest() -> Value {
    common::family_manifest("panns", "gen_panns.py")
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
    let got: Vec<f64> =
        Vec::<f64>::try_from(got.to_kind(tch::Kind::Double).flatten(0, -1)).unwrap();
    got.iter()
        .zip(&want.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
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
        let ckpt = common::data_dir()
            .join("panns")
            .join(entry["checkpoint"].as_str().unwrap());
        let loaded =
            panns::load(&ckpt, &cfg, tch::Device::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut worst = [0f64; 3];
        for clip in entry["clips"].as_array().unwrap() {
            let files = &clip["files"];
            let input = read(files["input"].as_str().unwrap());
            let wave =
                Tensor::from_slice(&input.data.iter().map(|&v| v as f32).collect::<Vec<_>>())
                    .unsqueeze(0);
            let out = tch::no_grad(|| loaded.model.forward(&wave));
            worst[0] = worst[0].max(max_diff(
                &out.clipwise.squeeze_dim(0),
                &read(files["clipwise_output"].as_str().unwrap()),
            ));
            if let Some(f) = files.get("embedding") {
                let e = out
                    .embedding
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: no embedding"));
                // Embeddings are not probabilities: compare relative to their largest value
                // (ResNet38's random-weight embeddings reach ~9, where float32 rounding alone
                // is ~1e-6 per op).
                let want = read(f.as_str().unwrap());
                let scale = want.data.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                worst[1] = worst[1].max(max_diff(&e.squeeze_dim(0), &want) / scale);
            }
            if let Some(f) = files.get("framewise_output") {
                let fw = out
                    .framewise
                    .as_ref()
                    .unwrap_or_else(|| panic!("{name}: no framewise output"));
                worst[2] = worst[2].max(max_diff(&fw.squeeze_dim(0), &read(f.as_str().unwrap())));
            }
        }
        table.push(format!(
            "{name:<24} clipwise {:.2e}  embedding {:.2e} (relative)  framewise {:.2e}",
            worst[0], worst[1], worst[2]
        ));
        if worst.iter().any(|&w| w > 1e-4) {
            failures.push(name.to_string());
        }
    }
    eprintln!("max |earshot - reference|:\n{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "over 1e-4: {failures:?}\n{}",
        table.join("\n")
    );
}

fn ckpt(name: &str) -> String {
    common::data_dir()
        .join("panns")
        .join(format!("{name}.pth"))
        .display()
        .to_string()
}

fn audio(clip: &str) -> String {
    common::data_dir()
        .join("audio")
        .join(clip)
        .display()
        .to_string()
}

const CLIPS: [&str; 3] = [
    "speech_s16_16k.wav",
    "mix_mp3_44k_stereo.mp3",
    "tones_m4a_48k_stereo.m4a",
];

fn stem(clip: &str) -> &str {
    clip.rsplit_once('.').unwrap().0
}

#[test]
fn tag_cli_scores_equal_reference_for_each_file_and_rate() {
    for (model, name) in [
        ("cnn14", "Cnn14"),
        ("cnn14-16k", "Cnn14_16k"),
        ("resnet38", "ResNet38"),
    ] {
        let mut args = vec![
            "tag",
            "--model",
            model,
            "--format",
            "json",
            "--all-scores",
            "--top-k",
            "3",
        ];
        let c = ckpt(name);
        args.extend(["--checkpoint", c.as_str()]);
        let files: Vec<String> = CLIPS.iter().map(|c| audio(c)).collect();
        args.extend(files.iter().map(String::as_str));
        let out = common::earshot(&args);
        assert!(
            out.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.len(), 3);
        if model == "cnn14" {
            // JSON Lines: the same objects, one per line.
            let jsonl: Vec<&str> = (args.iter())
                .map(|a| if *a == "json" { "jsonl" } else { a })
                .collect();
            let out = common::earshot_ok(&jsonl);
            let lines: Vec<Value> = (String::from_utf8(out.stdout).unwrap().lines())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines, rows);
        }
        for (row, clip) in rows.iter().zip(CLIPS) {
            let want = read(&format!("{name}__{}__clipwise_output.npy", stem(clip)));
            let scores: Vec<f64> = row["scores"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(scores.len(), 527);
            let diff = scores
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            // WAV and MP3 decode bit-exactly, so scores agree to 1e-4 (in fact to ~1e-7). AAC
            // differs from ffmpeg by up to one 16-bit LSB (3e-5), which random-weight ResNet38
            // amplifies to ~1e-4; model parity on identical input is exact (test above).
            let tolerance = if clip.ends_with(".m4a") { 1e-3 } else { 1e-4 };
            assert!(diff <= tolerance, "{model} {clip}: {diff}");
            // The top labels are the highest reference scores, named from the AudioSet list.
            let best = want
                .data
                .iter()
                .cloned()
                .enumerate()
                .fold((0, f64::MIN), |a, (i, v)| if v > a.1 { (i, v) } else { a });
            assert_eq!(row["labels"][0]["index"], best.0);
            assert!(
                row["labels"][0]["mid"].as_str().unwrap().starts_with("/m/")
                    || row["labels"][0]["mid"].as_str().unwrap().starts_with("/t/")
            );
            assert_eq!(row["model"], model);
        }
    }
}

#[test]
fn embed_cli_writes_files_by_dim_in_input_order() {
    let tmp = tempfile::tempdir().unwrap();
    let out_path = tmp.path().join("emb.npy");
    let bad = common::bad("truncated_wav");
    let c = ckpt("Cnn14");
    let files: Vec<String> = CLIPS.iter().map(|c| audio(c)).collect();
    let args = vec![
        "embed",
        "--checkpoint",
        c.as_str(),
        "-o",
        out_path.to_str().unwrap(),
        files[0].as_str(),
        bad.to_str().unwrap(),
        files[1].as_str(),
        files[2].as_str(),
    ];
    let out = common::earshot(&args);
    assert_eq!(out.status.code(), Some(1), "one input failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("error: {}: ", bad.display())) && err.lines().count() == 1,
        "{err}"
    );
    let got = npy::read(&out_path).unwrap();
    assert_eq!(got.shape, vec![3, 2048]);
    for (i, clip) in CLIPS.iter().enumerate() {
        let want = read(&format!("Cnn14__{}__embedding.npy", stem(clip)));
        let diff = got.data[i * 2048..(i + 1) * 2048]
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff <= 1e-4, "{clip}: {diff}");
    }
    let order = std::fs::read_to_string(tmp.path().join("emb.files.txt")).unwrap();
    assert_eq!(
        order.lines().collect::<Vec<_>>(),
        files.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

#[test]
fn embed_cli_directory_output_has_frames_timestamps_and_scene_per_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("emb");
    let c = ckpt("Cnn14");
    let clip = audio(CLIPS[0]);
    // Whole clip: one frame, and the scene is the reference clip embedding.
    let out = common::earshot(&[
        "embed",
        "--checkpoint",
        &c,
        "-o",
        dir.to_str().unwrap(),
        &clip,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = std::path::Path::new(&clip)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let npz = dir.join(format!("{name}.npz"));
    let arrays: std::collections::HashMap<_, _> =
        npy::read_npz(&npz).unwrap().into_iter().collect();
    let want = read(&format!("Cnn14__{}__embedding.npy", stem(CLIPS[0])));
    assert_eq!(arrays["embedding"].shape, vec![1, 2048]);
    assert_eq!(arrays["scene"].shape, vec![2048]);
    assert_eq!(arrays["timestamps"].data, vec![0.0]);
    for key in ["embedding", "scene"] {
        let diff = arrays[key]
            .data
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff <= 1e-4, "{key}: {diff}");
    }
    // Windows of 1 s every 0.5 s: a frame per window, centred times, scene = their mean.
    let out = common::earshot(&[
        "embed",
        "--checkpoint",
        &c,
        "--window",
        "1",
        "--hop",
        "0.5",
        "-o",
        dir.to_str().unwrap(),
        &clip,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let arrays: std::collections::HashMap<_, _> =
        npy::read_npz(&npz).unwrap().into_iter().collect();
    let frames = &arrays["embedding"];
    let n = frames.shape[0];
    assert!(n >= 2 && frames.shape[1] == 2048, "{:?}", frames.shape);
    let t = &arrays["timestamps"].data;
    assert_eq!(t.len(), n);
    assert!(
        (t[0] - 0.5).abs() < 1e-9 && (t[1] - 1.0).abs() < 1e-9,
        "{t:?}"
    );
    for d in 0..2048 {
        let mean = (0..n).map(|f| frames.data[f * 2048 + d]).sum::<f64>() / n as f64;
        assert!((mean - arrays["scene"].data[d]).abs() < 1e-5);
    }
}

#[test]
fn detect_cli_events_follow_the_reference_framewise_output() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ckpt("Cnn14_DecisionLevelMax");
    let clip = audio(CLIPS[0]);
    let json = common::earshot(&[
        "detect",
        "--model",
        "cnn14-decisionlevelmax",
        "--checkpoint",
        &c,
        "--format",
        "json",
        "--all-scores",
        "--threshold",
        "0.7",
        &clip,
    ]);
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let v: Vec<Value> = serde_json::from_slice(&json.stdout).unwrap();
    let want = read(&format!(
        "Cnn14_DecisionLevelMax__{}__framewise_output.npy",
        stem(CLIPS[0])
    ));
    let rows = v[0]["framewise"].as_array().unwrap();
    assert_eq!(rows.len(), want.shape[0]);
    let got: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    let diff = got
        .iter()
        .zip(&want.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff <= 1e-6, "framewise {diff}");
    assert_eq!(v[0]["frame_times"][1].as_f64().unwrap(), 0.01);

    // Events = median filter (7) + threshold on the reference matrix, computed independently.
    let (frames, classes) = (want.shape[0], want.shape[1]);
    let reference: Vec<f32> = want.data.iter().map(|&x| x as f32).collect();
    let filtered = earshot_core::outputs::median_filter(&reference, frames, classes, 7);
    let duration = v[0]["duration"].as_f64().unwrap();
    let expected =
        earshot_core::outputs::events(&filtered, frames, classes, &[0.7], 0.01, duration);
    let events = v[0]["events"].as_array().unwrap();
    assert_eq!(events.len(), expected.len());
    assert!(!expected.is_empty(), "the test needs some events");
    for (e, x) in events.iter().zip(&expected) {
        assert_eq!(e["index"], x.class);
        assert!((e["onset"].as_f64().unwrap() - x.onset).abs() < 1e-9);
        assert!((e["offset"].as_f64().unwrap() - x.offset).abs() < 1e-9);
    }

    // TSV: DCASE header and one line per event; --plot writes a PNG.
    let png = tmp.path().join("det.png");
    let tsv = common::earshot(&[
        "detect",
        "--model",
        "cnn14-decisionlevelmax",
        "--checkpoint",
        &c,
        "--threshold",
        "0.7",
        "--plot",
        png.to_str().unwrap(),
        &clip,
    ]);
    assert!(tsv.status.success());
    let text = String::from_utf8(tsv.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("filename\tonset\toffset\tevent_label"));
    assert_eq!(lines.count(), expected.len());
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 2000);
    // IHDR: wide enough to read at a glance, whatever the clip's length.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    assert!(width >= 1200, "{width}");

    // An Audacity label track per input and a Raven selection table: the same events, which
    // `eval sed` reads back as the DCASE TSV's (event F1 = 1 against it).
    let tsv_path = tmp.path().join("det.tsv");
    std::fs::write(&tsv_path, &text).unwrap();
    let detect = |extra: &[&str]| {
        let mut a = vec![
            "detect",
            "--model",
            "cnn14-decisionlevelmax",
            "--checkpoint",
            &c,
            "--threshold",
            "0.7",
        ];
        a.extend(extra);
        a.push(&clip);
        common::earshot_ok(&a)
    };
    let labels_dir = tmp.path().join("audacity");
    detect(&["--format", "audacity", "-o", labels_dir.to_str().unwrap()]);
    let track = labels_dir.join(format!("{}.txt", stem(CLIPS[0])));
    let labels = std::fs::read_to_string(&track).unwrap();
    assert_eq!(labels.lines().count(), expected.len());
    for line in labels.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "{line}");
        assert!(
            f[0].parse::<f64>().unwrap() < f[1].parse::<f64>().unwrap(),
            "{line}"
        );
    }
    let raven = tmp.path().join("det.selections.txt");
    detect(&["--format", "raven", "-o", raven.to_str().unwrap()]);
    let table = std::fs::read_to_string(&raven).unwrap();
    let mut rows = table.lines();
    assert_eq!(
        rows.next(),
        Some(earshot_cli::detect::RAVEN_COLUMNS.join("\t").as_str())
    );
    for (k, row) in rows.enumerate() {
        let f: Vec<&str> = row.split('\t').collect();
        assert_eq!(f.len(), 11, "{row}");
        assert_eq!(f[0], (k + 1).to_string());
        assert!(f[9].ends_with(CLIPS[0]), "Begin Path {}", f[9]);
    }
    assert_eq!(table.lines().count(), expected.len() + 1);
    for written in [&track, &raven] {
        let out = common::earshot_ok(&[
            "eval",
            "sed",
            "--ground-truth",
            written.to_str().unwrap(),
            "--predictions",
            tsv_path.to_str().unwrap(),
            "--event-f1",
            "--json",
        ]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let f = &v["event_based"]["overall"]["f_measure"]["f_measure"];
        assert_eq!(f.as_f64(), Some(1.0), "{}: {v}", written.display());
    }

    // A tagging model cannot detect: a clear error, not a crash.
    let c14 = ckpt("Cnn14");
    let out = common::earshot(&["detect", "--model", "cnn14", "--checkpoint", &c14, &clip]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no framewise output"));
}

#[test]
fn missing_checkpoint_says_what_to_do() {
    let out = common::earshot_command()
        .args(["tag", "--model", "cnn14", &audio(CLIPS[0])])
        .env("EARSHOT_HOME", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("earshot models fetch cnn14") && err.contains("--checkpoint"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1);
}

#[test]
fn batched_clips_score_as_they_do_one_by_one() {
    // Three different clips cut to one length, so they share a forward pass.
    let tmp = tempfile::tempdir().unwrap();
    for (i, clip) in CLIPS.iter().enumerate() {
        let wave = earshot_core::audio::load(
            std::path::Path::new(&audio(clip)),
            earshot_core::audio::LoadOptions::mono(32000),
        )
        .unwrap();
        let mut samples = wave.samples;
        samples.truncate(64000);
        earshot_core::wav::write_f32(
            &tmp.path().join(format!("clip{i}.wav")),
            &earshot_core::audio::Waveform {
                sample_rate: 32000,
                channels: 1,
                samples,
            },
        )
        .unwrap();
    }
    let c = ckpt("Cnn14");
    let dir = tmp.path().to_str().unwrap();
    let scores = |batch: &str| -> Vec<Vec<f64>> {
        let out = common::earshot(&[
            "tag",
            "--checkpoint",
            &c,
            "--format",
            "json",
            "--all-scores",
            "--batch-size",
            batch,
            dir,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        rows.iter()
            .map(|r| {
                r["scores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    let (one, batched) = (scores("1"), scores("8"));
    assert_eq!(one.len(), 3);
    let diff = one
        .iter()
        .flatten()
        .zip(batched.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff <= 1e-5, "batch of 3 vs one by one: {diff}");
    assert!(one[0] != one[1], "the clips differ");
}

#[test]
fn tag_csv_streams_rows_and_reports_bad_files_between_them() {
    let c = ckpt("Cnn14");
    let bad = common::bad("random_mp3");
    let (a, b) = (audio(CLIPS[0]), audio(CLIPS[1]));
    let out = common::earshot(&[
        "tag",
        "--checkpoint",
        &c,
        "--format",
        "csv",
        "--top-k",
        "2",
        &a,
        bad.to_str().unwrap(),
        &b,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "file,rank,index,mid,name,score");
    assert_eq!(lines.len(), 1 + 2 * 2, "{text}");
    assert!(
        lines[1].starts_with(&format!("{a},1,")) && lines[3].starts_with(&format!("{b},1,")),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("error: {}: ", bad.display())) && err.lines().count() == 1,
        "{err}"
    );
}

/// `tag --window` streams the file: its pooled scores must be those of the same windows cut
/// from the fully decoded waveform and tagged one by one (mean and max, a hop shorter than the
/// window, a cut last window, and a hop longer than the window); `embed --window` streams the
/// same way, frame i being the embedding of window i on its own.
#[test]
fn windowed_tag_streams_the_same_windows_as_the_whole_waveform() {
    use earshot_core::audio::{load, LoadOptions, Waveform};
    let tmp = tempfile::tempdir().unwrap();
    let c = ckpt("Cnn14");
    let clip = audio(CLIPS[1]);
    let wave = load(std::path::Path::new(&clip), LoadOptions::mono(32000)).unwrap();
    let n = wave.samples.len();
    // Window starts as the windowed commands place them, and one window cut out as a WAV.
    let starts = |win: usize, step: usize| {
        let mut starts = vec![0];
        while starts.last().unwrap() + win < n && starts.last().unwrap() + step < n {
            starts.push(starts.last().unwrap() + step);
        }
        starts
    };
    let cut = |s: usize, win: usize| {
        let path = tmp.path().join(format!("w{s}-{win}.wav"));
        let window = Waveform {
            sample_rate: 32000,
            channels: 1,
            samples: wave.samples[s..(s + win).min(n)].to_vec(),
        };
        earshot_core::wav::write_f32(&path, &window).unwrap();
        path.to_str().unwrap().to_string()
    };
    let tag = |file: &str, extra: &[&str]| -> Vec<f64> {
        let mut args = vec![
            "tag",
            "--model",
            "cnn14",
            "--checkpoint",
            &c,
            "--format",
            "json",
            "--all-scores",
        ];
        args.extend(extra);
        args.push(file);
        let out = common::earshot_ok(&args);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        rows[0]["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    for (window, hop, pool) in [(1.5, 1.0, "mean"), (1.5, 1.0, "max"), (1.0, 2.5, "mean")] {
        let (win, step) = ((window * 32000.0) as usize, (hop * 32000.0) as usize);
        let per_window: Vec<Vec<f64>> = starts(win, step)
            .into_iter()
            .map(|s| tag(&cut(s, win), &[]))
            .collect();
        let (window_s, hop_s) = (window.to_string(), hop.to_string());
        let got = tag(
            &clip,
            &["--window", &window_s, "--hop", &hop_s, "--pool", pool],
        );
        for (k, g) in got.iter().enumerate() {
            let col = per_window.iter().map(|w| w[k]);
            let want = if pool == "max" {
                col.fold(f64::NEG_INFINITY, f64::max)
            } else {
                col.sum::<f64>() / per_window.len() as f64
            };
            assert!(
                (g - want).abs() < 1e-5,
                "{window}/{hop}/{pool} class {k}: {g} vs {want}"
            );
        }
    }
    // Embed `file` (whole, or windowed by `extra`) into a directory of its own: its arrays.
    let embed = |file: &str, extra: &[&str]| {
        let name = std::path::Path::new(file)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let out = tmp.path().join(format!("emb-{name}-{}", extra.len()));
        let mut args = vec!["embed", "--model", "cnn14", "--checkpoint", &c, "-o"];
        args.push(out.to_str().unwrap());
        args.extend(extra);
        args.push(file);
        common::earshot_ok(&args);
        npy::read_npz(&out.join(format!("{name}.npz")))
            .unwrap()
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>()
    };
    let (win, step) = (48000, 32000);
    let arrays = embed(&clip, &["--window", "1.5", "--hop", "1"]);
    let frames = &arrays["embedding"];
    let starts = starts(win, step);
    assert_eq!(frames.shape, vec![starts.len(), 2048]);
    for (i, &s) in starts.iter().enumerate() {
        let want = &embed(&cut(s, win), &[])["scene"].data;
        let got = &frames.data[i * 2048..(i + 1) * 2048];
        let diff = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-5, "window {i}: {diff}");
    }
}

/// `--precision bf16` and `fp16` run the model passes in reduced precision (libtorch's
/// autocast) with the front end in float32: every score moves a little from fp32 (so the flag
/// reached libtorch), none far, none non-finite.
#[test]
fn reduced_precision_scores_stay_close_to_fp32() {
    let clip = audio("mix_f64_44k_stereo.wav");
    let ck = ckpt("Cnn14");
    let scores = |precision: &str| -> Vec<f64> {
        let out = common::earshot_ok(&[
            "tag",
            &clip,
            "--checkpoint",
            &ck,
            "--format",
            "json",
            "--all-scores",
            "--threads",
            "2",
            "--precision",
            precision,
        ]);
        common::first_scores(&out.stdout)
    };
    let base = scores("fp32");
    assert_eq!(base.len(), 527);
    // --timings says where the time went.
    let timed = common::earshot_ok(&["tag", &clip, "--checkpoint", &ck, "--timings"]);
    let err = String::from_utf8_lossy(&timed.stderr);
    for line in [
        "timings: model load",
        "timings: decode + resample",
        "1 clips in 1 passes",
    ] {
        assert!(err.contains(line), "{line:?} not in {err}");
    }
    for precision in ["bf16", "fp16"] {
        let got = scores(precision);
        assert!(got.iter().all(|v| v.is_finite()), "{precision}");
        let dev = got
            .iter()
            .zip(&base)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            dev > 1e-6 && dev < 2e-2,
            "{precision}: max deviation {dev:.2e}"
        );
    }
    let bad = common::earshot(&["tag", &clip, "--checkpoint", &ck, "--precision", "int8"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// The rows of an embedding table: (file, frame, timestamp, vector), read with the parquet
/// crate's row API.
fn table_rows(path: &std::path::Path) -> Vec<(String, i64, f64, Vec<f32>)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::{Field, List};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let list = |l: &List| -> Vec<f32> {
        l.elements()
            .iter()
            .map(|f| match f {
                Field::Float(v) => *v,
                other => panic!("not a float: {other:?}"),
            })
            .collect()
    };
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            let row = row.unwrap();
            let mut r = (String::new(), -1, f64::NAN, Vec::new());
            for (name, field) in row.get_column_iter() {
                match (name.as_str(), field) {
                    ("file", Field::Str(s)) => r.0 = s.clone(),
                    ("frame", Field::Int(i)) => r.1 = i64::from(*i),
                    ("timestamp", Field::Double(t)) => r.2 = *t,
                    ("embedding", Field::ListInternal(l)) => r.3 = list(l),
                    other => panic!("unexpected column {other:?}"),
                }
            }
            r
        })
        .collect()
}

/// `embed -o OUT.parquet`: a row per frame holding the same frames and times as the `.npz`
/// output; shards of the run merge into the single-process table; pyarrow reads it.
#[test]
fn parquet_embeddings_match_npz_and_merge_from_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let ck = ckpt("Cnn14");
    let files = [
        audio("mix_f64_44k_stereo.wav"),
        audio("tones_s16_44k_stereo.wav"),
        audio("speech_s16_16k.wav"),
    ];
    let run = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "embed",
            "--checkpoint",
            &ck,
            "--window",
            "1",
            "--threads",
            "2",
        ];
        args.extend(files.iter().map(String::as_str));
        args.extend(extra);
        args.extend(["-o", out.to_str().unwrap()]);
        common::earshot_ok(&args);
    };
    let npz = tmp.path().join("npz");
    run(&npz, &[]);
    let table = tmp.path().join("emb.parquet");
    run(&table, &[]);
    let rows = table_rows(&table);
    let mut at = 0;
    for f in &files {
        let name = std::path::Path::new(f)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let arrays = earshot_core::npy::read_npz(&npz.join(format!("{name}.npz"))).unwrap();
        let get = |k: &str| &arrays.iter().find(|(n, _)| n == k).unwrap().1;
        let (emb, times) = (get("embedding"), get("timestamps"));
        let (frames, dim) = (emb.shape[0], emb.shape[1]);
        assert!(frames >= 2, "{name}: {frames} frames");
        for i in 0..frames {
            let (file, frame, t, v) = &rows[at];
            assert_eq!((file.as_str(), *frame), (f.as_str(), i as i64));
            assert_eq!(*t, times.data[i]);
            assert_eq!(v.len(), dim);
            assert!(common::max_abs_diff(v, &emb.data[i * dim..(i + 1) * dim]) == 0.0);
            at += 1;
        }
    }
    assert_eq!(at, rows.len(), "no extra rows");

    // Two shards, then merged: the same rows as one process.
    let sharded = tmp.path().join("out.parquet");
    for shard in ["0/2", "1/2"] {
        run(&sharded, &["--shard", shard]);
    }
    let parts: Vec<String> = (0..2)
        .map(|i| {
            tmp.path()
                .join(format!("out.shard-{i}-of-2.parquet"))
                .display()
                .to_string()
        })
        .collect();
    let merged = tmp.path().join("merged.parquet");
    let mut args = vec!["merge", parts[0].as_str(), parts[1].as_str(), "-o"];
    args.push(merged.to_str().unwrap());
    common::earshot_ok(&args);
    let got = table_rows(&merged);
    assert_eq!(got.len(), rows.len());
    assert!(got
        .iter()
        .zip(&rows)
        .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2 == b.2 && a.3 == b.3));

    // Another reader agrees on the layout and the values.
    let venv =
        std::env::var("EARSHOT_VENV").expect("EARSHOT_VENV (scripts/env.sh) names the test venv");
    let check = std::process::Command::new(format!("{venv}/bin/python"))
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq\n\
             t = pq.read_table(sys.argv[1])\n\
             print(t.schema.names, t.num_rows, len(t['embedding'][0]), t['timestamp'][1].as_py())",
            table.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let expect = format!(
        "['file', 'frame', 'timestamp', 'embedding'] {} {} {}\n",
        rows.len(),
        rows[0].3.len(),
        rows[1].2
    );
    assert_eq!(String::from_utf8_lossy(&check.stdout), expect);
}
