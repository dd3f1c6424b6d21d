//! `earshot eval run` end to end on the small official-layout datasets of
//! tests/gen_datasets.py, with the random-weight PANNs checkpoints of tests/gen_panns.py.
//!
//! The metrics themselves are checked against the reference packages in tests/cli_eval.rs and
//! tests/metrics.rs; here the point is that the run finds every clip of each layout, that what
//! it writes is the model's own output in the challenge formats, and that the scores follow.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn dataset(name: &str) -> PathBuf {
    let root = common::data_dir().join("datasets").join(name);
    assert!(
        root.is_dir(),
        "{}: missing — run scripts/test.sh (tests/gen_datasets.py)",
        root.display()
    );
    root
}

fn ckpt(name: &str) -> String {
    let p = common::data_dir().join(format!("panns/{name}.pth"));
    assert!(p.is_file(), "{}: run tests/gen_panns.py", p.display());
    p.display().to_string()
}

fn run_eval(dataset_name: &str, model: &str, checkpoint: &str, out: &Path) -> (Value, String) {
    let root = dataset(dataset_name);
    let o = common::earshot(&[
        "eval",
        "run",
        "--dataset",
        dataset_name,
        "--root",
        root.to_str().unwrap(),
        "--model",
        model,
        "--checkpoint",
        checkpoint,
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{dataset_name}: {stderr}");
    let json = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{dataset_name}: stdout is not one JSON document: {e}"));
    (json, stderr)
}

/// Check `-o DIR/report.html` in headless Chromium: no errors, every chart with one bar group
/// per class (`classes` each), the confusion matrix's total when given; a screenshot is kept as
/// `<target>/test-output/review/<shot>`. Returns the self-test's report.
fn check_page(out: &Path, charts: usize, classes: usize, shot: &str) -> Value {
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    let (result, console) = crate::review::selftest(&page);
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert!(console.is_empty(), "console: {console:?}");
    let drawn = result["charts"].as_array().unwrap();
    assert_eq!(drawn.len(), charts, "{result}");
    for c in drawn {
        assert_eq!(c["bars"], c["expected"], "{c}");
        assert_eq!(c["bars"].as_u64(), Some(classes as u64), "{c}");
    }
    crate::review::screenshot(&page, shot, 2400);
    result
}

/// Rows of a TSV as header-keyed maps.
fn tsv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t'))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// `earshot tag --all-scores` of one file: the 527 clip probabilities.
fn tag_scores(checkpoint: &str, file: &Path) -> Vec<f64> {
    let o = common::earshot(&[
        "tag",
        "--checkpoint",
        checkpoint,
        "--format",
        "json",
        "--all-scores",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    common::first_scores(&o.stdout)
}

#[test]
fn audioset_scores_every_clip_found_and_lists_the_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ckpt("Cnn14");
    let (json, stderr) = run_eval("audioset", "cnn14", &c, tmp.path());
    // The segment CSV's 9th line (3 comment lines + 6 rows) has no audio.
    assert!(
        stderr.contains("eval_segments.csv:9: fffffffffff"),
        "{stderr}"
    );
    assert!(json["result"]["map"].is_number(), "{json}");
    let page = check_page(tmp.path(), 1, 527, "eval_audioset.png");
    assert_eq!(page["metrics"], 6, "{page}");
    // Classes with a positive clip have a bar; the rest read n/a.
    let positives = json["result"]["ap"].as_array().unwrap().len()
        - json["result"]["classes_without_positives"]
            .as_u64()
            .unwrap() as usize;
    assert_eq!(
        page["charts"][0]["drawn"].as_u64(),
        Some(positives as u64),
        "{page}"
    );
    let rows = tsv(&tmp.path().join("scores.tsv"));
    assert_eq!(rows.len(), 5);
    let gt = tsv(&tmp.path().join("ground_truth.tsv"));
    assert_eq!(gt[0]["filename"], "Y--aaaaaaaaa.wav");
    assert_eq!(gt[0]["event_labels"], "/m/09x0r,/m/05zppz");
    // The scores are the tagger's own output for that file.
    let file = dataset("audioset").join("audio/eval/Y--aaaaaaaaa.wav");
    let want = tag_scores(&c, &file);
    let labels = earshot_core::labels::Labels::audioset();
    for (i, l) in labels.iter().enumerate() {
        let got: f64 = rows[0][&l.mid].parse().unwrap();
        assert!(
            (got - want[i]).abs() <= 1e-6,
            "{}: {got} vs {}",
            l.mid,
            want[i]
        );
    }
}

#[test]
fn fsd50k_classes_score_through_their_audioset_mids() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ckpt("Cnn14");
    let (json, _) = run_eval("fsd50k", "cnn14", &c, tmp.path());
    assert_eq!(json["classes"].as_array().unwrap().len(), 4, "{json}");
    let rows = tsv(&tmp.path().join("scores.tsv"));
    assert_eq!(rows.len(), 4);
    let file = dataset("fsd50k").join("FSD50K.eval_audio/37199.wav");
    let want = tag_scores(&c, &file);
    let speech = earshot_core::labels::Labels::audioset()
        .iter()
        .position(|l| l.mid == "/m/09x0r")
        .unwrap();
    let got: f64 = rows[0]["Speech"].parse().unwrap();
    assert!((got - want[speech]).abs() <= 1e-6);
}

#[test]
fn desed_writes_score_tables_and_a_submission_and_scores_both() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ckpt("Cnn14_DecisionLevelMax");
    let (json, _) = run_eval("desed", "cnn14-decisionlevelmax", &c, tmp.path());
    for key in [
        "psds1",
        "psds2",
        "intersection_f1",
        "event_based",
        "segment_based",
    ] {
        assert!(json.get(key).is_some(), "{key} missing: {json}");
    }
    let p1 = json["psds1"]["value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p1));
    // The page: PSD-ROC, then event-, segment-, intersection-based F1 and PSDS1 per class.
    let page = check_page(tmp.path(), 4, 10, "eval_desed.png");
    assert_eq!(page["figures"], 1, "{page}");
    assert_eq!(page["metrics"], 6, "{page}");
    let html = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    assert!(
        html.contains(&format!("<td>{p1:.6}</td>")),
        "PSDS1 on the page"
    );
    // Every clip has a score table, including the one without events.
    for i in 1..=9 {
        assert!(tmp.path().join(format!("scores/Y000{i}.tsv")).is_file());
    }
    let gt = tsv(&tmp.path().join("ground_truth.tsv"));
    assert!(gt
        .iter()
        .any(|r| r["filename"] == "Y0004.wav" && r["event_label"].is_empty()));
    let pred = std::fs::read_to_string(tmp.path().join("predictions.tsv")).unwrap();
    assert!(pred.starts_with("filename\tonset\toffset\tevent_label\n"));

    // Each DESED column is the max of its AudioSet classes in the detector's framewise output.
    let file = dataset("desed").join("audio/eval/public/Y0001.wav");
    let o = common::earshot(&[
        "detect",
        "--model",
        "cnn14-decisionlevelmax",
        "--checkpoint",
        &c,
        "--format",
        "json",
        "--all-scores",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let det: Value = serde_json::from_slice(&o.stdout).unwrap();
    let framewise = det[0]["framewise"].as_array().unwrap();
    let table = tsv(&tmp.path().join("scores/Y0001.tsv"));
    assert_eq!(
        table.len(),
        400,
        "4 s at 100 frames/s, frames starting inside the clip"
    );
    let labels = earshot_core::labels::Labels::audioset();
    let idx = |mid: &str| labels.iter().position(|l| l.mid == mid).unwrap();
    let alarm: Vec<usize> = [
        "/m/07pp_mv",
        "/m/07pp8cl",
        "/m/01hnzm",
        "/m/046dlr",
        "/m/030rvx",
    ]
    .iter()
    .map(|m| idx(m))
    .collect();
    for t in [0usize, 137, 399] {
        let row = framewise[t].as_array().unwrap();
        let speech = row[idx("/m/09x0r")].as_f64().unwrap();
        let got: f64 = table[t]["Speech"].parse().unwrap();
        assert!((got - speech).abs() <= 1e-6, "frame {t}");
        let alarm_max = alarm
            .iter()
            .map(|&i| row[i].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        let got: f64 = table[t]["Alarm_bell_ringing"].parse().unwrap();
        assert!(got >= alarm_max - 1e-6, "frame {t}");
    }
}

#[test]
fn esc50_and_tau_probes_predict_held_out_folds() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ckpt("Cnn14");
    let (json, _) = run_eval("esc50", "cnn14", &c, &tmp.path().join("esc50"));
    assert_eq!(json["n_items"], 30);
    // Three acoustically distinct synthetic classes: even random-weight embeddings separate
    // them, so a broken probe or fold split shows up as low accuracy.
    let acc = json["overall_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.8, "ESC-50 probe accuracy {acc}");
    let page = check_page(&tmp.path().join("esc50"), 1, 3, "eval_esc50.png");
    assert_eq!(page["confusion"]["cells"], 9, "{page}");
    assert_eq!(page["confusion"]["total"], 30, "every clip once: {page}");
    let pred = tsv(&tmp.path().join("esc50/predictions.tsv"));
    assert_eq!(pred.len(), 30);
    for row in &pred {
        let total: f64 = ["church_bells", "clock_tick", "crackling_fire"]
            .iter()
            .map(|c| row[*c].parse::<f64>().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-9);
    }
    let (json, _) = run_eval("tau2022", "cnn14", &c, &tmp.path().join("tau"));
    assert_eq!(json["n_items"], 6, "fold1_evaluate only");
    let page = check_page(&tmp.path().join("tau"), 1, 3, "eval_tau.png");
    assert_eq!(page["confusion"]["total"], 6, "{page}");
    assert!(json["overall_accuracy"].as_f64().unwrap() >= 0.5);
}

#[test]
fn bad_roots_and_models_fail_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let c = ckpt("Cnn14");
    let o = common::earshot(&[
        "eval",
        "run",
        "--dataset",
        "desed",
        "--root",
        "/nonexistent",
        "--checkpoint",
        &c,
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent: not a directory"), "{err}");
    let root = dataset("desed");
    let o = common::earshot(&[
        "eval",
        "run",
        "--dataset",
        "desed",
        "--root",
        root.to_str().unwrap(),
        "--checkpoint",
        &c,
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("no framewise output"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn desed_with_the_real_yamnet_finds_speech_that_a_random_model_does_not() {
    let yamnet = common::data_dir().join("yamnet/w8a8/model.onnx");
    let speech_psds = |model: &str, checkpoint: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let (json, _) = run_eval("desed", model, checkpoint, tmp.path());
        let p = &json["psds1"];
        let classes = p["classes"].as_array().unwrap();
        let i = classes
            .iter()
            .position(|c| c == "Speech")
            .expect("Speech is a DESED class");
        (
            p["value"].as_f64().unwrap(),
            p["per_class"][i].as_f64().unwrap(),
        )
    };
    let (real_all, real) = speech_psds("yamnet-w8a8", yamnet.to_str().unwrap());
    let (random_all, random) =
        speech_psds("cnn14-decisionlevelmax", &ckpt("Cnn14_DecisionLevelMax"));
    eprintln!(
        "DESED PSDS1: YAMNet {real_all:.3} (Speech {real:.3}); random-weight Cnn14_DecisionLevelMax \
         {random_all:.3} (Speech {random:.3})"
    );
    assert!(
        real >= 0.3 && real > random + 0.2,
        "YAMNet Speech PSDS1 {real}, random {random}"
    );
}
