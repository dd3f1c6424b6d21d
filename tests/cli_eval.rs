//! `earshot eval` as a user runs it: the real binary on generated files, its numbers checked
//! against the reference values of `tests/gen_metrics.py`, and bad input reported in one line.

use crate::common;

use std::path::{Path, PathBuf};

use common::{earshot, metrics_dir, metrics_manifest, num};
use serde_json::Value;

fn ok_json(args: &[&str]) -> Value {
    let out = earshot(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The first SED case of the metric manifest with more than `classes` classes: the case, its
/// folder, ground truth and durations.
fn sed_case(m: &Value, classes: usize) -> (&Value, PathBuf, PathBuf, PathBuf) {
    let case = (m["sed"].as_array().unwrap().iter())
        .find(|c| c["classes"].as_array().unwrap().len() > classes)
        .unwrap();
    let dir = metrics_dir().join(case["dir"].as_str().unwrap());
    let (gt, dur) = (dir.join("gt.tsv"), dir.join("durations.tsv"));
    (case, dir, gt, dur)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn assert_one_line_error(args: &[&str], file: &Path) {
    let out = earshot(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?}: exit 0");
    assert_ne!(out.status.code(), None, "killed by a signal");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with(&format!("error: {}: ", file.display())),
        "{err}"
    );
    for bad in ["panicked", "backtrace", "internal error"] {
        assert!(!err.contains(bad), "{bad} in {err:?}");
    }
    // The cause is said once (not `…: No such file (os error 2): No such file (os error 2)`).
    let parts: Vec<&str> = errors[0].split(": ").collect();
    assert!(parts.windows(2).all(|w| w[0] != w[1]), "repeated: {err}");
}

#[test]
fn eval_tagging_npy_and_tsv() {
    let m = metrics_manifest();
    let case = &m["tagging"][3];
    let truth = metrics_dir().join(case["truth"].as_str().unwrap());
    let scores = metrics_dir().join(case["scores"].as_str().unwrap());
    let v = ok_json(&[
        "eval",
        "tagging",
        "--ground-truth",
        p(&truth),
        "--scores",
        p(&scores),
        "--json",
    ]);
    let got = v["result"]["map"].as_f64().unwrap();
    assert!((got - num(&case["map"]).unwrap()).abs() < 1e-9);

    let cli = &m["tagging_cli"];
    let case = m["tagging"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == cli["case"])
        .unwrap();
    let t = metrics_dir().join(cli["truth"].as_str().unwrap());
    let s = metrics_dir().join(cli["scores"].as_str().unwrap());
    let v = ok_json(&[
        "eval",
        "tagging",
        "--ground-truth",
        p(&t),
        "--scores",
        p(&s),
        "--json",
    ]);
    let got = v["result"]["map"].as_f64().unwrap();
    assert!(
        (got - num(&case["map"]).unwrap()).abs() < 1e-9,
        "TSV input gives the same mAP"
    );
    let out = earshot(&[
        "eval",
        "tagging",
        "--ground-truth",
        p(&t),
        "--scores",
        p(&s),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("mAP"));
}

#[test]
fn eval_sed_predictions_and_scores() {
    let m = metrics_manifest();
    let (case, dir, gt, dur) = sed_case(&m, 2);
    let svg = tempfile::Builder::new().suffix(".svg").tempfile().unwrap();
    let v = ok_json(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--scores",
        p(&dir.join("scores")),
        "--json",
        "--plot",
        p(svg.path()),
    ]);
    let want = &case["sed_scores_eval"];
    for k in ["psds1", "psds2"] {
        let got = v[k]["value"].as_f64().unwrap();
        assert!(
            (got - num(&want[k]["value"]).unwrap()).abs() < 1e-9,
            "{k}: {got}"
        );
    }
    let got = v["intersection_f1"]["result"]["macro_average"]["f"]
        .as_f64()
        .unwrap();
    assert!((got - num(&want["fscore"]["f"]["macro_average"]).unwrap()).abs() < 1e-9);
    // F1 from scores decodes score > 0.5 exactly as the generator's pred_0.5.tsv.
    let got = v["event_based"]["class_wise_average"]["f_measure"]["f_measure"].as_f64();
    let want_ev = num(&case["event_based"]["class_wise_average_f"]["f_measure"]).unwrap();
    assert!(got.map_or(want_ev.is_nan(), |g| (g - want_ev).abs() < 1e-9));
    let plot = std::fs::read_to_string(svg.path()).unwrap();
    assert!(
        plot.starts_with("<svg") && plot.contains("PSDS1") && plot.trim_end().ends_with("</svg>")
    );

    let v = ok_json(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--predictions",
        p(&dir.join("ops")),
        "--psds1",
        "--psds2",
        "--json",
    ]);
    for k in ["psds1", "psds2"] {
        let got = v[k]["value"].as_f64().unwrap();
        let want = num(&case["psds_eval"][k]["value"]).unwrap();
        assert!((got - want).abs() < 1e-9, "psds_eval {k}: {got} vs {want}");
    }
    assert!(v.get("event_based").is_none(), "only the requested metrics");

    let out = earshot(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--predictions",
        p(&dir.join("pred_0.5.tsv")),
        "--event-f1",
        "--segment-f1",
        "--intersection-f1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("event-based F1")
            && text.contains("segment-based F1")
            && text.contains("intersection F1")
    );
}

#[test]
fn eval_sed_f1_scores_ground_truth_files_by_default_and_every_file_with_all_files() {
    let m = metrics_manifest();
    let c = &m["sed_all_files"];
    let dir = metrics_dir().join(c["dir"].as_str().unwrap());
    let (gt, dur, pred) = (
        dir.join("gt.tsv"),
        dir.join("durations.tsv"),
        dir.join("pred.tsv"),
    );
    let base = [
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--predictions",
        p(&pred),
        "--event-f1",
        "--segment-f1",
        "--json",
    ];
    let with_all: Vec<&str> = base.iter().copied().chain(["--all-files"]).collect();
    for (key, args, scope) in [
        ("reference", base.to_vec(), "ground_truth"),
        ("all", with_all, "durations"),
    ] {
        let v = ok_json(&args);
        let want_files = &c[if key == "all" {
            "all_files"
        } else {
            "ground_truth_files"
        }];
        for metric in ["event_based", "segment_based"] {
            let got = &v[metric];
            assert_eq!(&got["evaluated_files"], want_files, "{key} {metric}");
            assert_eq!(got["file_scope"], scope);
            let want = &c[key][metric];
            for (ours, theirs) in [
                (
                    &got["overall"]["f_measure"]["f_measure"],
                    &want["overall_f"]["f_measure"],
                ),
                (
                    &got["overall"]["error_rate"]["error_rate"],
                    &want["overall_er"]["error_rate"],
                ),
                (
                    &got["overall"]["error_rate"]["insertion_rate"],
                    &want["overall_er"]["insertion_rate"],
                ),
                (
                    &got["class_wise_average"]["f_measure"]["f_measure"],
                    &want["class_wise_average_f"]["f_measure"],
                ),
            ] {
                let (o, t) = (ours.as_f64().unwrap(), num(theirs).unwrap());
                assert!(
                    (o - t).abs() < 1e-9,
                    "{key} {metric}: earshot {o}, sed_eval {t}"
                );
            }
        }
    }
    // The two scopes differ on this data: the false alarms in files without events count.
    let (r, a) = (&c["reference"]["event_based"], &c["all"]["event_based"]);
    assert!(num(&a["overall_er"]["insertion_rate"]) > num(&r["overall_er"]["insertion_rate"]));
    let help = earshot(&["eval", "sed", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("--all-files") && help.contains("only the files the ground truth"),
        "{help}"
    );
}

#[test]
fn eval_scenes() {
    let m = metrics_manifest();
    let case = &m["scenes"][2];
    let r = metrics_dir().join(case["ref"].as_str().unwrap());
    let o = metrics_dir().join(case["out"].as_str().unwrap());
    let v = ok_json(&[
        "eval",
        "scenes",
        "--ground-truth",
        p(&r),
        "--predictions",
        p(&o),
        "--json",
    ]);
    assert!(
        (v["macro_accuracy"].as_f64().unwrap() - num(&case["macro_accuracy"]).unwrap()).abs()
            < 1e-9
    );
    assert!((v["log_loss"].as_f64().unwrap() - num(&case["log_loss"]).unwrap()).abs() < 1e-9);
}

#[test]
fn eval_bad_input_is_one_line() {
    let m = metrics_manifest();
    let dir = metrics_dir().join(m["sed"][2]["dir"].as_str().unwrap());
    let (gt, dur) = (dir.join("gt.tsv"), dir.join("durations.tsv"));
    let missing = dir.join("does_not_exist.tsv");
    assert_one_line_error(
        &[
            "eval",
            "sed",
            "--ground-truth",
            p(&missing),
            "--durations",
            p(&dur),
            "--scores",
            p(&dir.join("scores")),
        ],
        &missing,
    );
    // Durations given as ground truth: wrong columns.
    assert_one_line_error(
        &[
            "eval",
            "sed",
            "--ground-truth",
            p(&dur),
            "--durations",
            p(&dur),
            "--scores",
            p(&dir.join("scores")),
        ],
        &dur,
    );
    // Scores against a ground truth with other clips: sed_scores_eval's id check.
    let other = metrics_dir()
        .join(m["sed"][3]["dir"].as_str().unwrap())
        .join("gt.tsv");
    let scores = dir.join("scores");
    assert_one_line_error(
        &[
            "eval",
            "sed",
            "--ground-truth",
            p(&other),
            "--durations",
            p(&dur),
            "--scores",
            p(&scores),
        ],
        &scores,
    );
    // A scores directory holding something else than .tsv files.
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    assert_one_line_error(
        &[
            "eval",
            "sed",
            "--ground-truth",
            p(&gt),
            "--durations",
            p(&dur),
            "--scores",
            p(tmp.path()),
        ],
        &junk,
    );
    let t = metrics_dir().join(m["tagging"][0]["truth"].as_str().unwrap());
    assert_one_line_error(
        &[
            "eval",
            "tagging",
            "--ground-truth",
            p(&t),
            "--scores",
            p(&gt),
        ],
        &gt,
    );
}

/// `--psds` takes any scenario, on both paths: psds_eval's README parameters and a
/// cross-trigger-only set, each under its own name, equal to psds_eval on operating points and
/// to sed_scores_eval on score tables.
#[test]
fn eval_sed_any_psds_parameters_on_both_paths() {
    let m = metrics_manifest();
    let (case, dir, gt, dur) = sed_case(&m, 3);
    let readme = "dtc=0.5,gtc=0.5,cttc=0.3,alpha_ct=0,alpha_st=0,max_efpr=100";
    let ct = "name=ct_only,dtc=0.5,gtc=0.5,cttc=0.3,alpha_ct=1,alpha_st=0,max_efpr=50";
    for (input, flag, reference) in [
        (dir.join("scores"), "--scores", "sed_scores_eval"),
        (dir.join("ops"), "--predictions", "psds_eval"),
    ] {
        let v = ok_json(&[
            "eval",
            "sed",
            "--ground-truth",
            p(&gt),
            "--durations",
            p(&dur),
            flag,
            p(&input),
            "--psds",
            readme,
            "--psds",
            ct,
            "--psds",
            "psds2",
            "--json",
        ]);
        for (key, want) in [
            (readme, "dcase2020"),
            ("ct_only", "ct_only"),
            ("psds2", "psds2"),
        ] {
            let got = v[key]["value"]
                .as_f64()
                .unwrap_or_else(|| panic!("{key}: {v}"));
            let want = num(&case[reference][want]["value"]).unwrap();
            assert!(
                (got - want).abs() < 1e-9,
                "{reference} {key}: {got} vs {want}"
            );
        }
        assert!(v.get("psds1").is_none(), "only the scenarios asked for");
    }
    for (bad, says) in [
        ("dtc=0.5,speed=3", "unknown key `speed`"),
        ("dtc=1.5", "dtc must be between 0 and 1"),
        ("gtc", "not key=value"),
    ] {
        let out = common::earshot(&[
            "eval",
            "sed",
            "--ground-truth",
            p(&gt),
            "--durations",
            p(&dur),
            "--scores",
            p(&dir.join("scores")),
            "--psds",
            bad,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{bad}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// A bootstrap's mean, low and high against sed_scores_eval's.
fn same_interval(ours: &Value, want: &Value) {
    for (k, want) in ["mean", "low", "high"].iter().zip(want.as_array().unwrap()) {
        let got = ours[*k].as_f64().unwrap();
        assert!(
            (got - num(want).unwrap()).abs() < 1e-9,
            "{k}: {got} vs {want}"
        );
    }
}

/// `--bootstrap`: sed_scores_eval's bootstrapped PSDS and confidence interval, and
/// `--merge-overlapping`: a ground truth with overlapping events, refused without it, scored
/// as the references score its union with it.
#[test]
fn eval_sed_bootstrap_and_merge_overlapping() {
    let path = common::data_dir().join("psds").join("manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let case = (m["cases"].as_array().unwrap().iter())
        .find(|c| c["name"] == "sed_036")
        .unwrap();
    let dir = metrics_dir().join(case["dir"].as_str().unwrap());
    let (gt, dur, scores) = (
        dir.join("gt.tsv"),
        dir.join("durations.tsv"),
        dir.join("scores"),
    );
    let v = ok_json(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--scores",
        p(&scores),
        "--psds1",
        "--bootstrap",
        "--json",
    ]);
    let run = (case["runs"].as_array().unwrap().iter())
        .find(|r| r["params"] == "psds1" && r["n_folds"] == 5 && r["n_iterations"] == 20)
        .unwrap();
    let b = &v["psds1"]["bootstrap"];
    same_interval(b, &run["ci"]["0.9"]);
    assert_eq!(b["values"].as_array().unwrap().len(), 100);
    let run = (case["runs"].as_array().unwrap().iter())
        .find(|r| r["params"] == "psds2" && r["n_folds"] == 3)
        .unwrap();
    let v = ok_json(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--scores",
        p(&scores),
        "--psds2",
        "--bootstrap",
        "--bootstrap-folds",
        "3",
        "--bootstrap-iterations",
        "7",
        "--confidence",
        "0.8",
        "--json",
    ]);
    let b = &v["psds2"]["bootstrap"];
    same_interval(b, &run["ci"]["0.8"]);

    let mg = &m["merge"];
    let overlap = common::data_dir().join(mg["gt"].as_str().unwrap());
    let dir = metrics_dir().join(mg["case"].as_str().unwrap());
    let dur = dir.join("durations.tsv");
    let base = [
        "eval",
        "sed",
        "--ground-truth",
        p(&overlap),
        "--durations",
        p(&dur),
        "--psds1",
    ];
    let scores = dir.join("scores");
    let refused = common::earshot(&[&base[..], &["--scores", p(&scores)]].concat());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("--merge-overlapping"),
        "{err}"
    );
    for (flag, input, want) in [
        ("--scores", scores.clone(), "sed_scores_eval_psds1"),
        ("--predictions", dir.join("ops"), "psds_eval_psds1"),
    ] {
        let out = common::earshot_ok(
            &[
                &base[..],
                &[flag, p(&input), "--merge-overlapping", "--json"],
            ]
            .concat(),
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let got = v["psds1"]["value"].as_f64().unwrap();
        let want = mg[want].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{flag}: {got} vs {want}");
        let said = String::from_utf8_lossy(&out.stderr);
        let n = mg["n_merged"].as_u64().unwrap();
        assert!(said.contains(&format!("merged {n} overlapping")), "{said}");
    }
}

/// `--select`: psds_eval's `select_operating_points_per_class` — the same TPR, FPR, eFPR,
/// F-score and operating point for every constraint kind, NaN where none meets it.
#[test]
fn eval_sed_selects_operating_points_per_class_as_psds_eval() {
    let path = common::data_dir().join("psds").join("manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sel = &m["selection"];
    let dir = metrics_dir().join(sel["case"].as_str().unwrap());
    let (gt, dur, ops) = (
        dir.join("gt.tsv"),
        dir.join("durations.tsv"),
        dir.join("ops"),
    );
    let mut compared = 0;
    for run in sel["runs"].as_array().unwrap() {
        let alpha = run["alpha_ct"].as_f64().unwrap().to_string();
        let mut args = vec![
            "eval".to_string(),
            "sed".into(),
            "--ground-truth".into(),
            p(&gt).into(),
            "--durations".into(),
            p(&dur).into(),
            "--predictions".into(),
            p(&ops).into(),
            "--psds1".into(),
            "--select-alpha-ct".into(),
            alpha,
            "--json".into(),
        ];
        for c in run["constraints"].as_array().unwrap() {
            let (class, kind, value) = (
                c[0].as_str().unwrap(),
                c[1].as_str().unwrap(),
                c[2].as_f64().unwrap(),
            );
            args.push("--select".into());
            args.push(if kind == "fscore" {
                format!("{class}:fscore")
            } else {
                format!("{class}:{kind}={value}")
            });
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = ok_json(&args);
        let ours = v["selected_operating_points"].as_array().unwrap();
        let want = run["selected"].as_array().unwrap();
        assert_eq!(ours.len(), want.len());
        for (o, w) in ours.iter().zip(want) {
            for (ok, wk) in [
                ("tpr", "TPR"),
                ("fpr", "FPR"),
                ("efpr", "eFPR"),
                ("fscore", "Fscore"),
            ] {
                let (a, b) = (o[ok].as_f64(), num(&w[wk]).filter(|x| !x.is_nan()));
                match (a, b) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{o} vs {w}"),
                    (a, b) => assert_eq!(a.is_none(), b.is_none(), "{o} vs {w}"),
                }
            }
            let file = o["file"].as_str().map(|f| {
                Path::new(f)
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string()
            });
            assert_eq!(file.as_deref(), w["file"].as_str(), "{o} vs {w}");
            compared += 1;
        }
    }
    assert!(compared >= 30, "{compared}");
}

/// The per-class PSD-ROCs in the JSON: psds_eval's `psd_roc_curves` TPR vs eFPR on operating
/// points, sed_scores_eval's single-class ROCs on score tables.
#[test]
fn eval_sed_per_class_psd_rocs_are_the_references() {
    let path = common::data_dir().join("psds").join("manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let want = &m["class_rocs"];
    let dir = metrics_dir().join(want["case"].as_str().unwrap());
    let (gt, dur) = (dir.join("gt.tsv"), dir.join("durations.tsv"));
    let close = |what: &str, ours: &Value, theirs: &Value| {
        let (a, b) = (ours.as_array().unwrap(), theirs.as_array().unwrap());
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (x, y) in a.iter().zip(b) {
            let (x, y) = (x.as_f64().unwrap(), num(y).unwrap());
            assert!((x - y).abs() < 1e-9, "{what}: {x} vs {y}");
        }
    };
    let base = [
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--json",
    ];
    let v = ok_json(
        &[
            &base[..],
            &["--predictions", p(&dir.join("ops")), "--psds2"],
        ]
        .concat(),
    );
    let ours = &v["psds2"]["class_rocs"];
    close(
        "psds_eval eFPR grid",
        &ours["efpr"],
        &want["psds_eval"]["efpr"],
    );
    for (class, tpr) in want["psds_eval"]["tpr"].as_object().unwrap() {
        close(&format!("psds_eval {class}"), &ours["tpr"][class], tpr);
    }
    let v = ok_json(&[&base[..], &["--scores", p(&dir.join("scores")), "--psds1"]].concat());
    for (class, roc) in want["sed_scores_eval"].as_object().unwrap() {
        let ours = &v["psds1"]["class_rocs"][class];
        close(
            &format!("sed_scores_eval {class} TPR"),
            &ours["tpr"],
            &roc["tpr"],
        );
        close(
            &format!("sed_scores_eval {class} eFPR"),
            &ours["efpr"],
            &roc["efpr"],
        );
    }
}

/// `--median-filters` and `--pi-scores`: sed_scores_eval's median-filter-independent and
/// post-processing-independent PSDS from the command line (value, per class, each filter's own
/// PSDS), bootstrapped with its own default of 5 folds × 4; a folder of other clips is refused.
#[test]
fn eval_sed_post_processing_independent_psds() {
    let path = common::data_dir().join("psds").join("manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let pi = &m["pipsds"];
    let filters: Vec<String> = (pi["filters"].as_array().unwrap().iter())
        .map(|v| num(v).unwrap().to_string())
        .collect();
    let run = |case: &str, params: &str| {
        (pi["runs"].as_array().unwrap().iter())
            .find(|r| r["case"] == case && r["params"] == params)
            .unwrap()
            .clone()
    };
    let close = |got: &Value, want: &Value, what: &str| {
        let (g, w) = (got.as_f64().unwrap(), num(want).unwrap());
        assert!((g - w).abs() < 1e-9, "{what}: {g} vs {w}");
    };
    let case = pi["folders"]["case"].as_str().unwrap();
    let dir = metrics_dir().join(case);
    let (gt, dur, scores) = (
        dir.join("gt.tsv"),
        dir.join("durations.tsv"),
        dir.join("scores"),
    );
    let base = [
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--scores",
        p(&scores),
    ];
    let joined = filters.join(",");
    let v = ok_json(
        &[
            &base[..],
            &[
                "--psds1",
                "--psds2",
                "--median-filters",
                &joined,
                "--bootstrap",
                "--json",
            ],
        ]
        .concat(),
    );
    for key in ["psds1", "psds2"] {
        let want = run(case, key);
        let got = &v[key]["pi"];
        close(&got["value"], &want["value"], key);
        for (class, w) in want["per_class"].as_object().unwrap() {
            close(&got["per_class"][class], w, &format!("{key} {class}"));
        }
        for (g, w) in (got["per_postprocessing"].as_array().unwrap().iter())
            .zip(want["per_filter"].as_array().unwrap())
        {
            close(g, w, &format!("{key} per filter"));
        }
        let b = &want["bootstrap"];
        assert_eq!(
            got["bootstrap"]["n_iterations"], 4,
            "sed_scores_eval's pi default"
        );
        same_interval(&got["bootstrap"], &b["ci"]);
    }
    // The same filters as folders the reference wrote: piPSDS over --scores and them.
    let f = &pi["folders"];
    let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    args.push("--psds1".into());
    for d in f["dirs"].as_array().unwrap() {
        args.push("--pi-scores".into());
        args.push(
            common::data_dir()
                .join(d.as_str().unwrap())
                .display()
                .to_string(),
        );
    }
    args.push("--json".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = ok_json(&refs);
    close(
        &v["psds1"]["pi"]["value"],
        &f["value"],
        "piPSDS from folders",
    );
    // The PSD-ROC plot carries the pi-PSD-ROC beside the PSD-ROC.
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("roc.svg");
    let mut plot: Vec<&str> = refs[..refs.len() - 1].to_vec();
    plot.extend(["--plot", p(&svg)]);
    common::earshot_ok(&plot);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.contains("piPSDS1: ") && drawn.contains("PSDS1: "),
        "{drawn}"
    );
    let table = common::earshot_ok(&refs[..refs.len() - 1]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("piPSDS1") && text.contains("post-processing independent"),
        "{text}"
    );
    // Post-processings of other clips: one line naming the folder.
    let other = metrics_dir().join("sed_001").join("scores");
    let out = common::earshot(&[&base[..], &["--psds1", "--pi-scores", p(&other)]].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("sed_001"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `--psds …,unit_of_time=minute,time_decimals=1`: sed_scores_eval's values on score tables; on
/// operating points (psds_eval counts per hour) and with an unknown unit, one-line refusals.
#[test]
fn eval_sed_psds_unit_of_time_and_time_decimals() {
    let path = common::data_dir().join("psds").join("manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let units = &m["units"];
    let dir = metrics_dir().join("sed_010");
    let (gt, dur) = (dir.join("gt.tsv"), dir.join("durations.tsv"));
    let base = [
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
    ];
    let spec = |name: &str| {
        let q = &units["params"][name];
        let keys = [
            "dtc",
            "gtc",
            "cttc",
            "alpha_ct",
            "alpha_st",
            "max_efpr",
            "time_decimals",
        ];
        let mut parts: Vec<String> = keys.iter().map(|k| format!("{k}={}", q[*k])).collect();
        parts.push(format!(
            "unit_of_time={}",
            q["unit_of_time"].as_str().unwrap()
        ));
        parts.push(format!("name={name}"));
        parts.join(",")
    };
    let scores = dir.join("scores");
    for name in ["per_minute", "decimals_1_ct"] {
        let s = spec(name);
        let v = ok_json(&[&base[..], &["--scores", p(&scores), "--psds", &s, "--json"]].concat());
        let want = (units["runs"].as_array().unwrap().iter())
            .find(|r| r["case"] == "sed_010" && r["params"] == name)
            .unwrap();
        let (got, w) = (
            v[name]["value"].as_f64().unwrap(),
            num(&want["value"]).unwrap(),
        );
        assert!((got - w).abs() < 1e-9, "{name}: {got} vs {w}");
        assert_eq!(
            v[name]["params"]["unit_of_time"],
            units["params"][name]["unit_of_time"]
        );
    }
    let ops = dir.join("ops");
    for (args, says) in [
        (
            vec!["--predictions", p(&ops), "--psds", "unit_of_time=minute"],
            "psds_eval counts per hour",
        ),
        (
            vec!["--scores", p(&scores), "--psds", "unit_of_time=day"],
            "valid units are second, minute, hour",
        ),
        (
            vec!["--scores", p(&scores), "--psds", "time_decimals=1.5"],
            "not a whole number",
        ),
    ] {
        let out = common::earshot(&[&base[..], &args[..]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// `--clip-based`, `--segment-based` and `--collar-based`: sed_scores_eval's clip-, segment-
/// and collar-based AP, best F1 and its thresholds from the command line; alone they compute
/// nothing else.
#[test]
fn eval_sed_clip_based() {
    let path = common::data_dir().join("psds").join("manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let want = (m["clip_based"].as_array().unwrap().iter())
        .find(|r| r["case"] == "sed_036")
        .unwrap();
    let dir = metrics_dir().join("sed_036");
    let (gt, dur, scores) = (
        dir.join("gt.tsv"),
        dir.join("durations.tsv"),
        dir.join("scores"),
    );
    let base = [
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--scores",
        p(&scores),
        "--clip-based",
    ];
    let v = ok_json(&[&base[..], &["--json"]].concat());
    let r = &v["clip_based"];
    let close = |g: &Value, w: &Value| (g.as_f64().unwrap() - num(w).unwrap()).abs() < 1e-9;
    assert!(
        close(&r["mean_average_precision"], &want["ap"]["mean"]),
        "{r}"
    );
    for (c, class) in r["classes"].as_array().unwrap().iter().enumerate() {
        let class = class.as_str().unwrap();
        assert!(
            close(&r["average_precision"][c], &want["ap"][class]),
            "{class}"
        );
        assert!(
            close(&r["best"][c]["threshold"], &want["thresholds"][class]),
            "{class}"
        );
        assert!(
            close(&r["best"][c]["prf"]["f"], &want["best"][class][0]),
            "{class}"
        );
    }
    assert!(v.get("psds1").is_none(), "only what was asked for");
    // Segment-based over 0.37-s segments.
    let seg = (m["segment_based"].as_array().unwrap().iter())
        .find(|r| r["case"] == "sed_036" && r["segment_length"] == 0.37)
        .unwrap();
    let extra = ["--segment-based", "--segment-length", "0.37", "--json"];
    let v = ok_json(&[&base[..], &extra[..]].concat());
    let r = &v["segment_based_curves"];
    assert!(
        close(&r["mean_average_precision"], &seg["ap"]["mean"]),
        "{r}"
    );
    let class = r["classes"][0].as_str().unwrap();
    assert!(
        close(&r["best"][0]["threshold"], &seg["thresholds"][class]),
        "{r}"
    );
    // Collar-based with DESED's collars (the sed_eval defaults).
    let col = (m["collar_based"].as_array().unwrap().iter())
        .find(|r| r["case"] == "sed_036")
        .unwrap();
    let v = ok_json(&[&base[..], &["--collar-based", "--json"]].concat());
    let r = &v["collar_based"];
    assert!(
        close(&r["best_macro"]["f"], &col["best"]["macro_average"][0]),
        "{r}"
    );
    assert!(
        close(&r["best"][0]["threshold"], &col["thresholds"][class]),
        "{r}"
    );
    // F1 against the threshold: one panel per metric, one staircase per class.
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("f1.svg");
    let plot = ["--segment-based", "--collar-based", "--f1-plot", p(&svg)];
    common::earshot_ok(&[&base[..], &plot[..]].concat());
    let drawn = std::fs::read_to_string(&svg).unwrap();
    let n_classes = r["classes"].as_array().unwrap().len();
    assert_eq!(drawn.matches("<path ").count(), 3 * n_classes, "3 panels");
    assert!(drawn.contains("collar-based (0.2 s)") && drawn.contains("segment-based (1 s)"));
    let plain = [
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--durations",
        p(&dur),
        "--scores",
        p(&scores),
    ];
    let refused = common::earshot(&[&plain[..], &["--psds1", "--f1-plot", p(&svg)]].concat());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("--f1-plot needs"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&common::earshot_ok(&base).stdout).to_string();
    assert!(
        text.contains("clip-based mAP") && text.contains("best F1"),
        "{text}"
    );
}
