//! The whole of sed_eval on the lists `tests/gen_sed_eval.py` wrote: every layout read back as
//! written, every number of `results()` to 1e-12 and every `str(metrics)` report character for
//! character — event-based (collars, offset percentage, onset-only, offset-only, greedy and
//! optimal matching, zero_score), segment-based (segment lengths, evaluated lengths; with
//! sensitivity, specificity, balanced accuracy, accuracy), audio tagging (F, EER) and scenes
//! (accuracy, McNemar) — through the library and through `earshot eval`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{earshot, num, Agreement};
use earshot_core::datasets::{dcase, event_list};
use earshot_core::metrics::sed_eval::{self, clip_key, EvaluatedLength, FileScope, Matching};
use serde_json::Value;

const TOL: f64 = 1e-12;

fn dir() -> PathBuf {
    common::data_dir().join("sed_eval")
}

fn manifest() -> Value {
    let path = dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("manifest.json is valid JSON")
}

fn path(rel: &Value) -> PathBuf {
    dir().join(rel.as_str().expect("a path"))
}

fn read(p: &Path) -> dcase::StrongLabels {
    let (t, issues) = event_list::read_event_list(p).unwrap_or_else(|e| panic!("{e}"));
    assert!(issues.is_empty(), "{}: {issues:?}", p.display());
    t
}

/// Events per recording stem, sorted.
fn by_stem(t: &dcase::StrongLabels) -> BTreeMap<String, Vec<(f64, f64, String)>> {
    let mut out: BTreeMap<String, Vec<(f64, f64, String)>> = BTreeMap::new();
    for c in &t.clips {
        let e = out.entry(clip_key(&c.filename).to_string()).or_default();
        e.extend(
            c.events
                .iter()
                .map(|e| (e.onset, e.offset, e.label.clone())),
        );
        e.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    out
}

#[test]
fn every_event_list_layout_reads_as_written() {
    let m = manifest();
    let mut n = 0;
    for case in m["events"].as_array().unwrap() {
        for (format, pair) in case["formats"].as_object().unwrap() {
            for (side, key) in [(0, "ref"), (1, "est")] {
                let got = by_stem(&read(&path(&pair[side])));
                let want = case["events"][key].as_object().unwrap();
                for (stem, events) in want {
                    let want: Vec<(f64, f64, String)> = (events.as_array().unwrap().iter())
                        .map(|e| {
                            (
                                e[0].as_f64().unwrap(),
                                e[1].as_f64().unwrap(),
                                e[2].as_str().unwrap().to_string(),
                            )
                        })
                        .collect();
                    let ours = got.get(stem).cloned().unwrap_or_default();
                    assert_eq!(ours, want, "{} {format} {key} {stem}", case["name"]);
                    n += 1;
                }
                let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
                assert!(extra.is_empty(), "{format} {key}: extra clips {extra:?}");
            }
        }
    }
    assert!(n > 100, "too few recordings compared ({n})");
}

fn params_of(run: &Value) -> sed_eval::EventParams {
    let p = &run["params"];
    sed_eval::EventParams {
        t_collar: p["t_collar"].as_f64().unwrap(),
        percentage_of_length: p["percentage_of_length"].as_f64().unwrap(),
        evaluate_onset: p["evaluate_onset"].as_bool().unwrap(),
        evaluate_offset: p["evaluate_offset"].as_bool().unwrap(),
        zero_score: p["empty_system_output_handling"].as_str() == Some("zero_score"),
        matching: match p["event_matching_type"].as_str() {
            Some("greedy") => Matching::Greedy,
            _ => Matching::Optimal,
        },
    }
}

/// Every number of sed_eval's `results()` against ours.
fn check(name: &str, r: &sed_eval::SedEvalResult, want: &Value, agree: &mut Agreement) {
    let mut c = |what: &str, ours: f64, w: &Value| {
        let w = num(w).unwrap_or_else(|| panic!("{name} {what}: reference is None"));
        agree.check(&format!("{name} {what}"), ours, w, TOL);
    };
    let (o, cwa) = (&want["overall"], &want["class_wise_average"]);
    for (key, f, w) in [
        ("overall", &r.overall_f, &o["f_measure"]),
        (
            "class_wise_average",
            &r.class_wise_average_f,
            &cwa["f_measure"],
        ),
    ] {
        c(&format!("{key} F"), f.f_measure, &w["f_measure"]);
        c(&format!("{key} precision"), f.precision, &w["precision"]);
        c(&format!("{key} recall"), f.recall, &w["recall"]);
    }
    let er = &o["error_rate"];
    c("ER", r.overall_er.error_rate, &er["error_rate"]);
    c(
        "S",
        r.overall_er.substitution_rate,
        &er["substitution_rate"],
    );
    c("D", r.overall_er.deletion_rate, &er["deletion_rate"]);
    c("I", r.overall_er.insertion_rate, &er["insertion_rate"]);
    let er = &cwa["error_rate"];
    c(
        "macro ER",
        r.class_wise_average_er.error_rate,
        &er["error_rate"],
    );
    c(
        "macro D",
        r.class_wise_average_er.deletion_rate,
        &er["deletion_rate"],
    );
    c(
        "macro I",
        r.class_wise_average_er.insertion_rate,
        &er["insertion_rate"],
    );
    let acc = |c: &mut dyn FnMut(&str, f64, &Value),
               key: &str,
               a: Option<&sed_eval::Accuracy>,
               w: &Value| {
        let is_dict_with_values = w.as_object().is_some_and(|o| !o.is_empty());
        assert_eq!(
            a.is_some(),
            is_dict_with_values,
            "{name} {key} accuracy present"
        );
        if let Some(a) = a {
            c(
                &format!("{key} sensitivity"),
                a.sensitivity,
                &w["sensitivity"],
            );
            c(
                &format!("{key} specificity"),
                a.specificity,
                &w["specificity"],
            );
            c(
                &format!("{key} balanced accuracy"),
                a.balanced_accuracy,
                &w["balanced_accuracy"],
            );
            c(&format!("{key} accuracy"), a.accuracy, &w["accuracy"]);
        }
    };
    acc(
        &mut c,
        "overall",
        r.overall_accuracy.as_ref(),
        &o["accuracy"],
    );
    acc(
        &mut c,
        "macro",
        r.class_wise_average_accuracy.as_ref(),
        &cwa["accuracy"],
    );
    let classes = want["class_wise"].as_object().unwrap();
    assert_eq!(classes.len(), r.class_wise.len(), "{name}: classes");
    for cr in &r.class_wise {
        let w = &classes[&cr.label];
        let l = &cr.label;
        c(
            &format!("{l} F"),
            cr.f.f_measure,
            &w["f_measure"]["f_measure"],
        );
        c(
            &format!("{l} P"),
            cr.f.precision,
            &w["f_measure"]["precision"],
        );
        c(&format!("{l} R"), cr.f.recall, &w["f_measure"]["recall"]);
        c(
            &format!("{l} ER"),
            cr.er.error_rate,
            &w["error_rate"]["error_rate"],
        );
        c(
            &format!("{l} D"),
            cr.er.deletion_rate,
            &w["error_rate"]["deletion_rate"],
        );
        c(
            &format!("{l} I"),
            cr.er.insertion_rate,
            &w["error_rate"]["insertion_rate"],
        );
        c(&format!("{l} Nref"), cr.n_ref, &w["count"]["Nref"]);
        c(&format!("{l} Nsys"), cr.n_sys, &w["count"]["Nsys"]);
        acc(&mut c, l, cr.accuracy.as_ref(), &w["accuracy"]);
    }
}

#[test]
fn sed_eval_results_and_reports_match_in_every_layout() {
    let m = manifest();
    let (mut ev, mut seg) = (Agreement::default(), Agreement::default());
    let mut reports = 0;
    for case in m["events"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let formats = case["formats"].as_object().unwrap();
        let (durations, _) = dcase::read_durations(&path(&case["durations"])).unwrap();
        let lengths = durations.clips.iter().cloned().collect();
        // Every reference layout holds every recording; the Raven table only those with
        // events, so it is a system output here.
        let pairs = [
            ("desed", "desed"),
            ("four", "five"),
            ("five", "raven"),
            ("per_recording", "per_recording"),
            ("per_recording", "four"),
            ("space", "semicolon"),
            ("header", "space"),
        ];
        for (rf, ef) in pairs {
            let gt = read(&path(&formats[rf][0]));
            let est = read(&path(&formats[ef][1]));
            for (run_name, run) in case["metrics"].as_object().unwrap() {
                let what = format!("{name} {run_name} ({rf} vs {ef})");
                let r = if run["kind"] == "event" {
                    sed_eval::event_based(&gt, &est, &params_of(run), FileScope::Reference)
                } else {
                    let p = &run["params"];
                    let length = match &p["evaluated_length"] {
                        Value::String(s) if s == "latest" => EvaluatedLength::Latest,
                        Value::String(s) if s == "durations" => EvaluatedLength::PerFile(&lengths),
                        v => EvaluatedLength::Fixed(v.as_f64().unwrap()),
                    };
                    let res = p["time_resolution"].as_f64().unwrap();
                    sed_eval::segment_based_over(&gt, &est, res, FileScope::Reference, length)
                }
                .unwrap_or_else(|e| panic!("{what}: {e}"));
                let agree = if run["kind"] == "event" {
                    &mut ev
                } else {
                    &mut seg
                };
                check(&what, &r, &run["results"], agree);
                let report = sed_eval::report(&r);
                let want = run["report"].as_str().unwrap();
                if report != want {
                    let line = (report.lines().zip(want.lines()))
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    panic!(
                        "{what}: report differs at line {}:\nearshot:  {:?}\nsed_eval: {:?}",
                        line + 1,
                        report.lines().nth(line),
                        want.lines().nth(line)
                    );
                }
                reports += 1;
            }
        }
    }
    assert!(reports >= 300, "too few reports compared ({reports})");
    println!(
        "sed_eval: event-based max |Δ| {:e} ({} values), segment-based {:e} ({} values), {reports} reports identical",
        ev.max_abs, ev.n, seg.max_abs, seg.n
    );
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    String::from_utf8(common::earshot_ok(args).stdout).unwrap()
}

#[test]
fn eval_sed_prints_sed_evals_reports_for_any_parameters() {
    let m = manifest();
    let case = &m["events"][0];
    let runs = &case["metrics"];
    let f = &case["formats"];
    // A comma list against a folder of Audacity label tracks, offset-only with its own collars,
    // then segments of 0.25 s over each file's duration.
    let (ev, seg) = (&runs["event_offset_only"], &runs["segment_durations"]);
    let (gt, est, durations) = (
        path(&f["five"][0]),
        path(&f["per_recording"][1]),
        path(&case["durations"]),
    );
    let out = stdout_of(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&gt),
        "--predictions",
        p(&est),
        "--durations",
        p(&durations),
        "--event-f1",
        "--segment-f1",
        "--offset-only",
        "--collar",
        "0.1",
        "--offset-percentage",
        "0.3",
        "--segment-length",
        "0.25",
        "--evaluated-length",
        "durations",
        "--format",
        "sed-eval",
    ]);
    let want = format!(
        "{}{}",
        ev["report"].as_str().unwrap(),
        seg["report"].as_str().unwrap()
    );
    assert_eq!(out, want);

    // Greedy matching with sed_eval's own empty-output handling, and a fixed evaluated length,
    // as JSON.
    let (ev, seg) = (&runs["event_greedy"], &runs["segment_fixed_long"]);
    let out = stdout_of(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&path(&f["four"][0])),
        "--predictions",
        p(&path(&f["raven"][1])),
        "--event-f1",
        "--segment-f1",
        "--matching",
        "greedy",
        "--offset-percentage",
        "0.5",
        "--empty-system-output",
        "nan",
        "--segment-length",
        "2",
        "--evaluated-length",
        "15",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut agree = Agreement::default();
    for (key, want) in [("event_based", ev), ("segment_based", seg)] {
        let got = &v[key];
        for (k, w) in [
            ("f_measure", "f_measure"),
            ("precision", "precision"),
            ("recall", "recall"),
        ] {
            let ours = num(&got["overall"]["f_measure"][k]).unwrap();
            agree.check(
                &format!("{key} {k}"),
                ours,
                num(&want["results"]["overall"]["f_measure"][w]).unwrap(),
                TOL,
            );
        }
        let ours = num(&got["overall"]["error_rate"]["error_rate"]).unwrap();
        agree.check(
            &format!("{key} ER"),
            ours,
            num(&want["results"]["overall"]["error_rate"]["error_rate"]).unwrap(),
            TOL,
        );
    }
    let acc = num(&v["segment_based"]["overall"]["accuracy"]["balanced_accuracy"]).unwrap();
    let want = num(&seg["results"]["overall"]["accuracy"]["balanced_accuracy"]).unwrap();
    agree.check("segment balanced accuracy", acc, want, TOL);
}

#[test]
fn eval_tags_matches_audio_tagging_metrics() {
    let m = manifest();
    for case in m["tags"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (gt, est) = (path(&case["ref"]), path(&case["est"]));
        for probs in ["prob_long", "prob_wide"] {
            let pr = path(&case[probs]);
            let args = [
                "eval",
                "tags",
                "--ground-truth",
                p(&gt),
                "--predictions",
                p(&est),
                "--probabilities",
                p(&pr),
            ];
            let report = stdout_of(&[&args[..], &["--format", "sed-eval"]].concat());
            assert_eq!(report, case["report"].as_str().unwrap(), "{name} {probs}");
            let v: Value =
                serde_json::from_str(&stdout_of(&[&args[..], &["--format", "json"]].concat()))
                    .unwrap();
            let mut agree = Agreement::default();
            let want = &case["results"];
            // JSON has no NaN: ours is null there (the sed-eval report above tells NaN from None).
            let both = |ours: &Value, w: &Value| (num(ours), num(w).filter(|v| !v.is_nan()));
            for (ours, w, what) in [
                (
                    &v["overall"]["f_measure"],
                    &want["overall"]["f_measure"]["f_measure"],
                    "overall F",
                ),
                (
                    &v["overall"]["eer"],
                    &want["overall"]["eer"]["eer"],
                    "overall EER",
                ),
                (
                    &v["class_wise_average"]["f_measure"],
                    &want["class_wise_average"]["f_measure"]["f_measure"],
                    "macro F",
                ),
                (
                    &v["class_wise_average"]["eer"],
                    &want["class_wise_average"]["eer"]["eer"],
                    "macro EER",
                ),
            ] {
                match both(ours, w) {
                    (Some(a), Some(b)) => agree.check(&format!("{name} {what}"), a, b, TOL),
                    (a, b) => assert_eq!(a.is_none(), b.is_none(), "{name} {what}: {a:?} vs {b:?}"),
                }
            }
            for t in v["class_wise"].as_array().unwrap() {
                let w = &want["class_wise"][t["label"].as_str().unwrap()];
                for (k, wk) in [
                    ("f_measure", &w["f_measure"]["f_measure"]),
                    ("precision", &w["f_measure"]["precision"]),
                    ("recall", &w["f_measure"]["recall"]),
                    ("eer", &w["eer"]["eer"]),
                ] {
                    match both(&t[k], wk) {
                        (Some(a), Some(b)) => {
                            agree.check(&format!("{name} {} {k}", t["label"]), a, b, TOL)
                        }
                        (a, b) => assert_eq!(a.is_none(), b.is_none(), "{name} {} {k}", t["label"]),
                    }
                }
            }
            assert!(agree.n >= 10, "{name}: too few values");
        }
        // `eval tagging` takes the tag list as ground truth too: the same mAP as from the DESED
        // weak-label TSV, and as scikit-learn's.
        let wide = path(&case["prob_wide"]);
        let map_of = |truth: &Path| -> f64 {
            let out = stdout_of(&[
                "eval",
                "tagging",
                "--ground-truth",
                p(truth),
                "--scores",
                p(&wide),
                "--json",
            ]);
            let v: Value = serde_json::from_str(&out).unwrap();
            v["result"]["map"].as_f64().unwrap()
        };
        let (from_list, from_weak) = (map_of(&gt), map_of(&path(&case["weak"])));
        assert_eq!(from_list, from_weak, "{name}");
        Agreement::default().check(
            &format!("{name} mAP"),
            from_list,
            case["sklearn_map"].as_f64().unwrap(),
            1e-12,
        );
    }
}

#[test]
fn eval_scenes_reads_scene_lists_and_runs_mcnemar() {
    let m = manifest();
    let s = &m["scenes"];
    let (gt, a, b) = (path(&s["ref"]), path(&s["sys_a"]), path(&s["sys_b"]));
    let args = [
        "eval",
        "scenes",
        "--ground-truth",
        p(&gt),
        "--predictions",
        p(&a),
        "--mcnemar",
        p(&b),
    ];
    let report = stdout_of(&[&args[..], &["--format", "sed-eval"]].concat());
    assert!(
        report.starts_with(s["report"].as_str().unwrap()),
        "{report}"
    );
    let v: Value =
        serde_json::from_str(&stdout_of(&[&args[..], &["--format", "json"]].concat())).unwrap();
    let mut agree = Agreement::default();
    agree.check(
        "McNemar",
        num(&v["mcnemar"]["statistic"]).unwrap(),
        s["mcnemar"].as_f64().unwrap(),
        TOL,
    );
    agree.check(
        "McNemar p",
        num(&v["mcnemar"]["p_value"]).unwrap(),
        s["mcnemar_p"].as_f64().unwrap(),
        TOL,
    );
    let want = num(&s["results"]["class_wise_average"]["accuracy"]["accuracy"]).unwrap();
    agree.check(
        "macro accuracy",
        num(&v["macro_accuracy"]).unwrap(),
        want,
        TOL,
    );
    let want = num(&s["results"]["overall"]["accuracy"]).unwrap();
    agree.check(
        "overall accuracy",
        num(&v["overall_accuracy"]).unwrap(),
        want,
        TOL,
    );
}

#[test]
fn a_list_that_fits_no_layout_is_one_line_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.txt");
    std::fs::write(&good, "a.wav\t0.5\t1.0\tdog\n").unwrap();
    for (name, text, line) in [
        ("two_fields.txt", "a.wav\t0.5\t1.0\tdog\nb.wav\t0.5\n", 2),
        (
            "not_a_number.txt",
            "a.wav\t0.5\t1.0\tdog\na.wav\tsoon\t2.0\tcat\n",
            2,
        ),
        (
            "seven.txt",
            "a.wav\t0.5\t1.0\tdog\n\na.wav\t1\t2\t3\t4\t5\t6\n",
            3,
        ),
    ] {
        let bad = tmp.path().join(name);
        std::fs::write(&bad, text).unwrap();
        for (gt, est) in [(&bad, &good), (&good, &bad)] {
            let out = earshot(&[
                "eval",
                "sed",
                "--ground-truth",
                p(gt),
                "--predictions",
                p(est),
                "--event-f1",
            ]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{name}: exit 0");
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines.len(), 1, "{name}: {err}");
            assert!(
                lines[0].starts_with(&format!("error: {}: line {line}: ", bad.display())),
                "{name}: {err}"
            );
        }
    }
    // PSDS without durations: said, not guessed.
    let out = earshot(&[
        "eval",
        "sed",
        "--ground-truth",
        p(&good),
        "--predictions",
        p(&good),
        "--psds1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--durations"));
}
