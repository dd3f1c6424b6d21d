//! Agreement with the reference packages on the cases `tests/gen_metrics.py` wrote: scikit-learn
//! (AP, ROC-AUC, LRAP, log loss), scipy (d′), sed_eval, psds_eval and sed_scores_eval. Every
//! value must agree to 1e-9; the largest |Δ| per metric is printed (`--nocapture`).

use crate::common;

use std::path::Path;

use common::{metrics_dir, metrics_manifest, num, Agreement};
use earshot_core::datasets::dcase;
use earshot_core::metrics::sed_eval::{EventParams, FileScope};
use earshot_core::metrics::{
    psds_eval, scenes, sed_eval, sed_scores, tagging, PsdsParams, TimeUnit,
};

const DESED: EventParams = EventParams::DESED;
use earshot_core::npy;
use serde_json::Value;

const TOL: f64 = 1e-9;

fn matrix(path: &Path) -> Vec<Vec<f64>> {
    let a = npy::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cols = a.shape[1];
    a.data.chunks(cols).map(|r| r.to_vec()).collect()
}

#[test]
fn tagging_matches_sklearn_and_panns() {
    let m = metrics_manifest();
    let cases = m["tagging"].as_array().expect("tagging cases");
    assert!(cases.len() >= 100, "too few tagging cases");
    let (mut ap, mut map, mut auc, mut mauc, mut dp, mut lw) = Default::default();
    let (ap, map, auc, mauc, dp, lw): (
        &mut Agreement,
        &mut Agreement,
        &mut Agreement,
        &mut Agreement,
        &mut Agreement,
        &mut Agreement,
    ) = (&mut ap, &mut map, &mut auc, &mut mauc, &mut dp, &mut lw);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let truth: Vec<Vec<bool>> = matrix(&metrics_dir().join(case["truth"].as_str().unwrap()))
            .into_iter()
            .map(|r| r.into_iter().map(|v| v > 0.0).collect())
            .collect();
        let scores = matrix(&metrics_dir().join(case["scores"].as_str().unwrap()));
        let r = tagging::evaluate(&truth, &scores).unwrap();
        for (c, want) in case["ap"].as_array().unwrap().iter().enumerate() {
            ap.check(&format!("{name} AP[{c}]"), r.ap[c], num(want).unwrap(), TOL);
        }
        for (c, want) in case["auc"].as_array().unwrap().iter().enumerate() {
            auc.check(
                &format!("{name} AUC[{c}]"),
                r.auc[c],
                num(want).unwrap(),
                TOL,
            );
        }
        map.check(
            &format!("{name} mAP"),
            r.map,
            num(&case["map"]).unwrap(),
            TOL,
        );
        mauc.check(
            &format!("{name} mAUC"),
            r.mauc,
            num(&case["mauc"]).unwrap(),
            TOL,
        );
        dp.check(
            &format!("{name} d'"),
            r.d_prime,
            num(&case["d_prime"]).unwrap(),
            TOL,
        );
        mauc.check(
            &format!("{name} mAUC (defined)"),
            r.mauc_defined,
            num(&case["mauc_defined"]).unwrap(),
            TOL,
        );
        dp.check(
            &format!("{name} d' (defined)"),
            r.d_prime_defined,
            num(&case["d_prime_defined"]).unwrap(),
            TOL,
        );
        if let Some(want) = num(&case["lwlrap"]) {
            lw.check(&format!("{name} lwlrap"), r.lwlrap.overall, want, TOL);
        }
    }
    assert!(lw.n > 20, "too few lwlrap comparisons");
    println!(
        "max |Δ|: AP {:e}, mAP {:e}, AUC {:e}, mAUC {:e}, d' {:e}, lwlrap {:e}",
        ap.max_abs, map.max_abs, auc.max_abs, mauc.max_abs, dp.max_abs, lw.max_abs
    );
}

fn load_strong(path: &Path) -> dcase::StrongLabels {
    let (labels, _) = dcase::read_strong(path).unwrap_or_else(|e| panic!("{e}"));
    labels
}

fn check_sed_eval(name: &str, ours: &sed_eval::SedEvalResult, want: &Value, agree: &mut Agreement) {
    let f = |what: &str, o: &sed_eval::FScore, w: &Value, a: &mut Agreement| {
        a.check(
            &format!("{name} {what} F"),
            o.f_measure,
            num(&w["f_measure"]).unwrap(),
            TOL,
        );
        a.check(
            &format!("{name} {what} P"),
            o.precision,
            num(&w["precision"]).unwrap(),
            TOL,
        );
        a.check(
            &format!("{name} {what} R"),
            o.recall,
            num(&w["recall"]).unwrap(),
            TOL,
        );
    };
    let er = |what: &str, o: &sed_eval::ErrorRate, w: &Value, a: &mut Agreement, subs: bool| {
        a.check(
            &format!("{name} {what} ER"),
            o.error_rate,
            num(&w["error_rate"]).unwrap(),
            TOL,
        );
        a.check(
            &format!("{name} {what} D"),
            o.deletion_rate,
            num(&w["deletion_rate"]).unwrap(),
            TOL,
        );
        a.check(
            &format!("{name} {what} I"),
            o.insertion_rate,
            num(&w["insertion_rate"]).unwrap(),
            TOL,
        );
        if subs {
            a.check(
                &format!("{name} {what} S"),
                o.substitution_rate,
                num(&w["substitution_rate"]).unwrap(),
                TOL,
            );
        }
    };
    f("overall", &ours.overall_f, &want["overall_f"], agree);
    er(
        "overall",
        &ours.overall_er,
        &want["overall_er"],
        agree,
        true,
    );
    f(
        "class-wise average",
        &ours.class_wise_average_f,
        &want["class_wise_average_f"],
        agree,
    );
    er(
        "class-wise average",
        &ours.class_wise_average_er,
        &want["class_wise_average_er"],
        agree,
        false,
    );
    let classes = want["class_wise"].as_object().unwrap();
    assert_eq!(classes.len(), ours.class_wise.len(), "{name}: class count");
    for c in &ours.class_wise {
        let w = &classes[&c.label];
        f(&c.label, &c.f, &w["f"], agree);
        er(&c.label, &c.er, &w["er"], agree, false);
    }
}

#[test]
fn sed_eval_event_and_segment_based_match() {
    let m = metrics_manifest();
    let (mut ev, mut seg) = (Agreement::default(), Agreement::default());
    let mut cases: Vec<(String, std::path::PathBuf, std::path::PathBuf, Value, Value)> = m["sed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let dir = metrics_dir().join(c["dir"].as_str().unwrap());
            (
                c["name"].as_str().unwrap().to_string(),
                dir.join("gt.tsv"),
                dir.join("pred_0.5.tsv"),
                c["event_based"].clone(),
                c["segment_based"].clone(),
            )
        })
        .collect();
    let e = &m["sed_edges"];
    let dir = metrics_dir().join(e["dir"].as_str().unwrap());
    cases.push((
        "edges".into(),
        dir.join("gt.tsv"),
        dir.join("pred.tsv"),
        e["event_based"].clone(),
        e["segment_based"].clone(),
    ));
    for (name, gt, pred, want_ev, want_seg) in &cases {
        let (gt, pred) = (load_strong(gt), load_strong(pred));
        let r = sed_eval::event_based(&gt, &pred, &DESED, FileScope::Reference).unwrap();
        check_sed_eval(&format!("{name} event"), &r, want_ev, &mut ev);
        let r = sed_eval::segment_based(&gt, &pred, 1.0, FileScope::Reference).unwrap();
        check_sed_eval(&format!("{name} segment"), &r, want_seg, &mut seg);
    }

    // Files without reference events: dropped by default, scored when every file is in scope.
    let c = &m["sed_all_files"];
    let dir = metrics_dir().join(c["dir"].as_str().unwrap());
    let (gt, pred) = (
        load_strong(&dir.join("gt.tsv")),
        load_strong(&dir.join("pred.tsv")),
    );
    let (durations, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
    let every: Vec<String> = durations.clips.iter().map(|(f, _)| f.clone()).collect();
    for (key, scope, n_files) in [
        ("reference", FileScope::Reference, &c["ground_truth_files"]),
        ("all", FileScope::Files(&every), &c["all_files"]),
    ] {
        let r = sed_eval::event_based(&gt, &pred, &DESED, scope).unwrap();
        check_sed_eval(
            &format!("{key} files event"),
            &r,
            &c[key]["event_based"],
            &mut ev,
        );
        assert_eq!(Some(r.n_files as u64), n_files.as_u64());
        let r = sed_eval::segment_based(&gt, &pred, 1.0, scope).unwrap();
        check_sed_eval(
            &format!("{key} files segment"),
            &r,
            &c[key]["segment_based"],
            &mut seg,
        );
    }
    println!(
        "max |Δ|: event-based {:e} ({} values), segment-based {:e} ({} values)",
        ev.max_abs, ev.n, seg.max_abs, seg.n
    );
}

fn params(m: &Value, name: &str) -> PsdsParams {
    params_from(&m["psds_params"][name])
}

/// PSDS parameters from their JSON object (`dtc`, `gtc`, `cttc`, `alpha_ct`, …).
fn params_from(p: &Value) -> PsdsParams {
    let g = |k: &str| p[k].as_f64().unwrap();
    PsdsParams {
        dtc: g("dtc"),
        gtc: g("gtc"),
        cttc: g("cttc"),
        alpha_ct: g("alpha_ct"),
        alpha_st: g("alpha_st"),
        max_efpr: g("max_efpr"),
        unit_of_time: p["unit_of_time"]
            .as_str()
            .map_or(TimeUnit::Hour, |u| u.parse().unwrap()),
        time_decimals: p["time_decimals"].as_i64().map_or(6, |d| d as i32),
    }
}

#[test]
fn presets_are_the_dcase_parameters() {
    let m = metrics_manifest();
    assert_eq!(params(&m, "psds1"), PsdsParams::PSDS1);
    assert_eq!(params(&m, "psds2"), PsdsParams::PSDS2);
    assert_eq!(params(&m, "dcase2020"), PsdsParams::DCASE2020);
    let t = psds_eval::baseline_thresholds(50);
    assert_eq!(t.len(), 50);
    let want: Vec<f64> = m["sed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["thresholds"].as_array().unwrap().len() == 50)
        .expect("a 50-threshold case")["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // serde_json (without float_roundtrip) may parse the last bit differently; 1 ulp is noise,
    // the old `start + i·step` formula was off by more at several thresholds.
    assert_eq!(t.len(), want.len());
    for (a, b) in t.iter().zip(&want) {
        assert!(
            (a - b).abs() <= 2e-16,
            "np.arange(1/100, 1, 1/50): {a} vs {b}"
        );
    }
}

#[test]
fn psds_eval_matches() {
    let m = metrics_manifest();
    let (mut psds, mut macro_f) = (Agreement::default(), Agreement::default());
    for case in m["sed"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let dir = metrics_dir().join(case["dir"].as_str().unwrap());
        let gt = load_strong(&dir.join("gt.tsv"));
        let (dur, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
        let ops: Vec<dcase::StrongLabels> = case["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| load_strong(&metrics_dir().join(p.as_str().unwrap())))
            .collect();
        for (pname, want) in case["psds_eval"].as_object().unwrap() {
            let p = params(&m, pname);
            let mut eval = psds_eval::PsdsEval::new(&gt, &dur, p.dtc, p.gtc, p.cttc).unwrap();
            for op in &ops {
                eval.add_operating_point(op).unwrap();
            }
            assert_eq!(
                eval.operating_points.len() as u64,
                want["n_ops"].as_u64().unwrap(),
                "{name} {pname}: operating points after de-duplication"
            );
            let r = eval.psds(&p).unwrap();
            psds.check(
                &format!("{name} {pname}"),
                r.value,
                num(&want["value"]).unwrap(),
                TOL,
            );
            if let Some(w) = want.get("macro_f") {
                let pred = load_strong(&dir.join("pred_0.5.tsv"));
                let (f, per_class) = eval.macro_f(&pred, 1.0).unwrap();
                macro_f.check(&format!("{name} macro F"), f, num(w).unwrap(), TOL);
                for (c, label) in eval.classes.iter().enumerate() {
                    macro_f.check(
                        &format!("{name} F[{label}]"),
                        per_class[c],
                        num(&want["class_f"][label]).unwrap(),
                        TOL,
                    );
                }
            }
        }
    }
    println!(
        "max |Δ|: psds_eval PSDS {:e} ({} values), macro F {:e} ({} values)",
        psds.max_abs, psds.n, macro_f.max_abs, macro_f.n
    );
}

#[test]
fn sed_scores_eval_matches() {
    let m = metrics_manifest();
    let (mut psds, mut per_class, mut fs) = Default::default();
    let (psds, per_class, fs): (&mut Agreement, &mut Agreement, &mut Agreement) =
        (&mut psds, &mut per_class, &mut fs);
    for case in m["sed"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let dir = metrics_dir().join(case["dir"].as_str().unwrap());
        let gt = load_strong(&dir.join("gt.tsv"));
        let (dur, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
        let scores = dcase::read_scores_dir(&dir.join("scores")).unwrap();
        let want = &case["sed_scores_eval"];
        let plain = sed_scores::statistics(&scores, &gt, &dur, 0.5, 0.5, None).unwrap();
        let f = sed_scores::fscore(&plain, 0.5, 1.0);
        for (c, label) in plain.classes.iter().enumerate() {
            fs.check(
                &format!("{name} F[{label}]"),
                f.per_class[c].f,
                num(&want["fscore"]["f"][label]).unwrap(),
                TOL,
            );
            fs.check(
                &format!("{name} P[{label}]"),
                f.per_class[c].p,
                num(&want["fscore"]["p"][label]).unwrap(),
                TOL,
            );
            fs.check(
                &format!("{name} R[{label}]"),
                f.per_class[c].r,
                num(&want["fscore"]["r"][label]).unwrap(),
                TOL,
            );
        }
        for (k, v) in [
            ("macro_average", f.macro_average),
            ("micro_average", f.micro_average),
        ] {
            fs.check(
                &format!("{name} F {k}"),
                v.f,
                num(&want["fscore"]["f"][k]).unwrap(),
                TOL,
            );
            fs.check(
                &format!("{name} P {k}"),
                v.p,
                num(&want["fscore"]["p"][k]).unwrap(),
                TOL,
            );
            fs.check(
                &format!("{name} R {k}"),
                v.r,
                num(&want["fscore"]["r"][k]).unwrap(),
                TOL,
            );
        }
        for pname in ["psds1", "psds2", "dcase2020", "ct_only"] {
            let Some(w) = want.get(pname) else {
                assert!(
                    case["classes"].as_array().unwrap().len() < 2,
                    "{name}: {pname} missing"
                );
                continue;
            };
            let p = params(&m, pname);
            let cttc = (p.alpha_ct > 0.0).then_some(p.cttc);
            let stats = sed_scores::statistics(&scores, &gt, &dur, p.dtc, p.gtc, cttc).unwrap();
            let r = sed_scores::psds(&stats, &p).unwrap();
            psds.check(
                &format!("{name} {pname}"),
                r.value,
                num(&w["value"]).unwrap(),
                TOL,
            );
            assert_eq!(
                r.roc.efpr.len() as u64,
                w["n_roc"].as_u64().unwrap(),
                "{name} {pname}: PSD-ROC points"
            );
            for (c, label) in stats.classes.iter().enumerate() {
                per_class.check(
                    &format!("{name} {pname}[{label}]"),
                    r.per_class[c],
                    num(&w["per_class"][label]).unwrap(),
                    TOL,
                );
            }
        }
    }
    println!(
        "max |Δ|: sed_scores_eval PSDS {:e} ({} values), per-class PSDS {:e}, intersection F/P/R {:e} ({} values)",
        psds.max_abs, psds.n, per_class.max_abs, fs.max_abs, fs.n
    );
}

#[test]
fn scenes_match_sed_eval_and_sklearn() {
    let m = metrics_manifest();
    let (mut acc, mut ll) = (Agreement::default(), Agreement::default());
    for case in m["scenes"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (reference, _) = earshot_core::datasets::tau::read_meta(
            &metrics_dir().join(case["ref"].as_str().unwrap()),
        )
        .unwrap();
        let (out, _) = earshot_core::datasets::tau::read_output(
            &metrics_dir().join(case["out"].as_str().unwrap()),
        )
        .unwrap();
        let classes: Vec<String> = case["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        assert_eq!(out.classes, classes);
        let refs: Vec<&str> = reference.iter().map(|r| r.scene_label.as_str()).collect();
        let ests: Vec<&str> = out.rows.iter().map(|r| r.1.as_str()).collect();
        let probs: Vec<Vec<f64>> = out.rows.iter().map(|r| r.2.clone()).collect();
        let r = scenes::evaluate(&classes, &refs, &ests, Some(&probs)).unwrap();
        acc.check(
            &format!("{name} overall"),
            r.overall_accuracy,
            num(&case["overall_accuracy"]).unwrap(),
            TOL,
        );
        acc.check(
            &format!("{name} macro"),
            r.macro_accuracy,
            num(&case["macro_accuracy"]).unwrap(),
            TOL,
        );
        for (c, (label, a, _, _)) in r.class_wise.iter().enumerate() {
            acc.check(
                &format!("{name} {label}"),
                *a,
                num(&case["class_wise"][label]).unwrap(),
                TOL,
            );
            ll.check(
                &format!("{name} log loss {label}"),
                r.class_wise_log_loss.as_ref().unwrap()[c],
                num(&case["class_wise_log_loss"][label]).unwrap(),
                TOL,
            );
        }
        ll.check(
            &format!("{name} log loss"),
            r.log_loss.unwrap(),
            num(&case["log_loss"]).unwrap(),
            TOL,
        );
    }
    println!(
        "max |Δ|: accuracy {:e} ({} values), log loss {:e} ({} values)",
        acc.max_abs, acc.n, ll.max_abs, ll.n
    );
}

#[test]
fn metric_errors_are_typed() {
    let m = metrics_manifest();
    let case = &m["sed"][1];
    let dir = metrics_dir().join(case["dir"].as_str().unwrap());
    let gt = load_strong(&dir.join("gt.tsv"));
    let (dur, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
    let mut scores = dcase::read_scores_dir(&dir.join("scores")).unwrap();
    scores.pop();
    assert!(matches!(
        sed_scores::statistics(&scores, &gt, &dur, 0.5, 0.5, None),
        Err(earshot_core::metrics::MetricsError::Ids(_))
    ));
    let bad = earshot_core::metrics::PsdsParams {
        dtc: 1.5,
        ..PsdsParams::PSDS1
    };
    assert!(psds_eval::PsdsEval::new(&gt, &dur, bad.dtc, 0.5, 0.3).is_err());
    assert!(tagging::average_precision(&[true, false], &[0.5]).is_err());
}

/// Bootstrapped PSDS as `sed_scores_eval.intersection_based.bootstrapped_psds` computes it
/// (`tests/gen_psds.py`): the PSDS and per-class PSDS of every fold, and the confidence
/// intervals, for PSDS1, PSDS2, psds_eval's README parameters and a cross-trigger-only set,
/// with 5 × 20 and 3 × 7 folds.
#[test]
fn bootstrapped_psds_matches_sed_scores_eval() {
    use earshot_core::metrics::bootstrap::confidence_interval;
    let path = common::data_dir().join("psds").join("manifest.json");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (mut folds, mut cis) = (Agreement::default(), Agreement::default());
    for case in m["cases"].as_array().unwrap() {
        let dir = metrics_dir().join(case["dir"].as_str().unwrap());
        let scores = dcase::read_scores_dir(&dir.join("scores")).unwrap();
        let gt = load_strong(&dir.join("gt.tsv"));
        let (durations, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
        for run in case["runs"].as_array().unwrap() {
            let name = run["params"].as_str().unwrap();
            let params = params_from(&m["params"][name]);
            let (n_folds, n_iter) = (
                run["n_folds"].as_u64().unwrap() as usize,
                run["n_iterations"].as_u64().unwrap() as usize,
            );
            let what = format!("{} {name} {n_folds}x{n_iter}", case["name"]);
            let ours =
                sed_scores::bootstrapped_psds(&scores, &gt, &durations, &[params], n_folds, n_iter)
                    .unwrap_or_else(|e| panic!("{what}: {e}"))
                    .remove(0);
            let want = run["values"].as_array().unwrap();
            assert_eq!(ours.len(), want.len(), "{what}: folds");
            let classes = &scores[0].classes;
            for (k, (o, w)) in ours.iter().zip(want).enumerate() {
                folds.check(&format!("{what} fold {k}"), o.value, num(w).unwrap(), TOL);
                for (c, v) in classes.iter().zip(&o.per_class) {
                    let w = num(&run["per_class"][k][c]).unwrap();
                    folds.check(&format!("{what} fold {k} {c}"), *v, w, TOL);
                }
            }
            let values: Vec<f64> = ours.iter().map(|r| r.value).collect();
            for (conf, w) in run["ci"].as_object().unwrap() {
                let ci = confidence_interval(&values, conf.parse().unwrap());
                for (o, w) in [ci.mean, ci.low, ci.high].iter().zip(w.as_array().unwrap()) {
                    cis.check(&format!("{what} CI {conf}"), *o, num(w).unwrap(), TOL);
                }
            }
            for (c, class) in classes.iter().enumerate() {
                let v: Vec<f64> = ours.iter().map(|r| r.per_class[c]).collect();
                let ci = confidence_interval(&v, 0.9);
                let w = run["class_ci"][class].as_array().unwrap();
                for (o, w) in [ci.mean, ci.low, ci.high].iter().zip(w) {
                    cis.check(&format!("{what} {class} CI"), *o, num(w).unwrap(), TOL);
                }
            }
        }
    }
    assert!(folds.n > 5000, "too few fold values ({})", folds.n);
    println!(
        "bootstrapped PSDS: max |Δ| {:e} over {} fold values, {:e} over {} interval bounds",
        folds.max_abs, folds.n, cis.max_abs, cis.n
    );
}

/// Post-processing-independent PSDS as `sed_scores_eval.intersection_based.pipsds` computes it
/// (`tests/gen_psds.py`, `pipsds_case`): `median_filter_independent_psds` over four filter
/// lengths (value, per class, the pi-PSD-ROC, each class's pi-ROC with the threshold and the
/// filter of every point, each filter's own PSDS) for PSDS1, PSDS2 and psds_eval's README
/// parameters, one class to six; the median-filtered tables themselves (`medfilt`), scored
/// again from folders; and the bootstrapped form with its confidence interval.
#[test]
fn pipsds_matches_sed_scores_eval() {
    use earshot_core::metrics::bootstrap::confidence_interval;
    use earshot_core::metrics::postprocessing::medfilt;
    let data = common::data_dir();
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("psds/manifest.json")).unwrap())
            .unwrap();
    let pi = &m["pipsds"];
    let filters: Vec<f64> = pi["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| num(v).unwrap())
        .collect();
    let nums = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| num(x).unwrap())
            .collect()
    };
    let (mut agree, mut points, mut boot) = (Agreement::default(), 0usize, Agreement::default());
    for run in pi["runs"].as_array().unwrap() {
        let case = run["case"].as_str().unwrap();
        let name = run["params"].as_str().unwrap();
        let what = format!("{case} {name}");
        let dir = metrics_dir().join(case);
        let scores = dcase::read_scores_dir(&dir.join("scores")).unwrap();
        let gt = load_strong(&dir.join("gt.tsv"));
        let (durations, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
        let params = params_from(&m["params"][name]);
        let r = sed_scores::median_filter_independent_psds(
            &scores,
            &filters,
            &gt,
            &durations,
            &[params],
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .remove(0);
        agree.check(&what, r.value, num(&run["value"]).unwrap(), TOL);
        for (k, w) in nums(&run["per_filter"]).iter().enumerate() {
            agree.check(
                &format!("{what} filter {k}"),
                r.per_postprocessing[k].value,
                *w,
                TOL,
            );
        }
        let (etpr, efpr) = (nums(&run["roc"]["etpr"]), nums(&run["roc"]["efpr"]));
        assert_eq!(r.roc.efpr.len(), efpr.len(), "{what}: pi-PSD-ROC points");
        for (k, (o, w)) in r
            .roc
            .efpr
            .iter()
            .zip(&efpr)
            .chain(r.roc.etpr.iter().zip(&etpr))
            .enumerate()
        {
            agree.check(&format!("{what} ROC {k}"), *o, *w, TOL);
        }
        for (c, class) in scores[0].classes.iter().enumerate() {
            agree.check(
                &format!("{what} {class}"),
                r.per_class[c],
                num(&run["per_class"][class]).unwrap(),
                TOL,
            );
            let (o, w) = (&r.class_rocs[c], &run["class_rocs"][class]);
            let filter: Vec<usize> = (w["postprocessing"].as_array().unwrap().iter())
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(
                o.postprocessing, filter,
                "{what} {class}: the filter of each pi-ROC point"
            );
            for (key, ours) in [
                ("tpr", &o.tpr),
                ("efpr", &o.efpr),
                ("threshold", &o.threshold),
            ] {
                let want = nums(&w[key]);
                assert_eq!(ours.len(), want.len(), "{what} {class} {key}");
                for (k, (a, b)) in ours.iter().zip(&want).enumerate() {
                    agree.check(&format!("{what} {class} {key} {k}"), *a, *b, TOL);
                }
            }
            points += o.tpr.len();
        }
        let Some(b) = run.get("bootstrap") else {
            continue;
        };
        let sets = sed_scores::median_filtered_sets(&scores, &filters, 6).unwrap();
        let (n_folds, n_iter) = (
            b["n_folds"].as_u64().unwrap() as usize,
            b["n_iterations"].as_u64().unwrap() as usize,
        );
        let folds = sed_scores::bootstrapped_postprocessing_independent_psds(
            &sets,
            &gt,
            &durations,
            &[params],
            n_folds,
            n_iter,
        )
        .unwrap()
        .remove(0);
        let want = nums(&b["values"]);
        assert_eq!(folds.len(), want.len(), "{what}: bootstrap folds");
        for (k, (o, w)) in folds.iter().zip(&want).enumerate() {
            boot.check(&format!("{what} fold {k}"), o.value, *w, TOL);
            for (c, class) in scores[0].classes.iter().enumerate() {
                let w = num(&b["per_class"][k][class]).unwrap();
                boot.check(&format!("{what} fold {k} {class}"), o.per_class[c], w, TOL);
            }
        }
        let values: Vec<f64> = folds.iter().map(|f| f.value).collect();
        let ci = confidence_interval(&values, 0.9);
        for (o, w) in [ci.mean, ci.low, ci.high].iter().zip(nums(&b["ci"])) {
            boot.check(&format!("{what} CI"), *o, w, TOL);
        }
    }
    assert!(
        points > 100 && boot.n > 100,
        "too few points ({points}, {})",
        boot.n
    );
    // The filtered tables, written by the reference, read back and scored as folders.
    let f = &pi["folders"];
    let case = f["case"].as_str().unwrap();
    let dir = metrics_dir().join(case);
    let scores = dcase::read_scores_dir(&dir.join("scores")).unwrap();
    let mut sets = vec![scores.clone()];
    let mut tables = Agreement::default();
    for (d, length) in f["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(nums(&f["filters"]))
    {
        let written = dcase::read_scores_dir(&data.join(d.as_str().unwrap())).unwrap();
        for (t, w) in scores.iter().zip(&written) {
            let ours = medfilt(t, &[length], 6).unwrap();
            assert_eq!(
                (&ours.id, ours.timestamps.len()),
                (&w.id, w.timestamps.len()),
                "medfilt {length} s"
            );
            for (a, b) in ours
                .timestamps
                .iter()
                .zip(&w.timestamps)
                .chain(ours.scores.iter().zip(&w.scores))
            {
                tables.check(&format!("medfilt {length} s {}", t.id), *a, *b, TOL);
            }
        }
        sets.push(written);
    }
    let gt = load_strong(&dir.join("gt.tsv"));
    let (durations, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
    let params = params_from(&m["params"][f["params"].as_str().unwrap()]);
    let r = sed_scores::postprocessing_independent_psds(&sets, &gt, &durations, &[params])
        .unwrap()
        .remove(0);
    agree.check(
        "piPSDS from folders",
        r.value,
        num(&f["value"]).unwrap(),
        TOL,
    );
    println!(
        "piPSDS: max |Δ| {:e} over {} values ({points} pi-ROC points), bootstrap {:e} over {}, medfilt tables {:e} over {}",
        agree.max_abs, agree.n, boot.max_abs, boot.n, tables.max_abs, tables.n
    );
}

/// sed_scores_eval's `unit_of_time` (eFPR per second, minute or hour) and `time_decimals` (the
/// rounding before the tolerance criteria are compared), with and without cross triggers
/// (`tests/gen_psds.py`, `units_case`).
#[test]
fn psds_unit_of_time_and_time_decimals_match_sed_scores_eval() {
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(common::data_dir().join("psds/manifest.json")).unwrap(),
    )
    .unwrap();
    let units = &m["units"];
    let mut agree = Agreement::default();
    let mut differs = 0;
    for run in units["runs"].as_array().unwrap() {
        let (case, name) = (
            run["case"].as_str().unwrap(),
            run["params"].as_str().unwrap(),
        );
        let dir = metrics_dir().join(case);
        let scores = dcase::read_scores_dir(&dir.join("scores")).unwrap();
        let gt = load_strong(&dir.join("gt.tsv"));
        let (durations, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
        let p = params_from(&units["params"][name]);
        let crit = [sed_scores::Criteria::of(&p)];
        let stats = sed_scores::statistics_many(&scores, &gt, &durations, &crit).unwrap();
        let r = sed_scores::psds(&stats[0], &p).unwrap();
        agree.check(
            &format!("{case} {name}"),
            r.value,
            num(&run["value"]).unwrap(),
            TOL,
        );
        for (c, class) in scores[0].classes.iter().enumerate() {
            let w = num(&run["per_class"][class]).unwrap();
            agree.check(&format!("{case} {name} {class}"), r.per_class[c], w, TOL);
        }
        // The same scenario per hour at 6 decimals scores otherwise: the parameters are used.
        let hourly = PsdsParams {
            unit_of_time: TimeUnit::Hour,
            time_decimals: 6,
            ..p
        };
        let crit = [sed_scores::Criteria::of(&hourly)];
        let stats = sed_scores::statistics_many(&scores, &gt, &durations, &crit).unwrap();
        differs += usize::from(sed_scores::psds(&stats[0], &hourly).unwrap().value != r.value);
    }
    assert!(
        agree.n >= 16 && differs >= 6,
        "{} values, {differs} changed",
        agree.n
    );
    println!(
        "unit_of_time / time_decimals: max |Δ| {:e} over {} values",
        agree.max_abs, agree.n
    );
}

/// Clip-, segment- and collar-based metrics from score tables as `sed_scores_eval.clip_based`,
/// `segment_based` (1 s and 0.37 s segments) and `collar_based` (DESED's 0.2 s collars, 20 %
/// offset) compute them (`tests/gen_psds.py`, `clip_case`):
/// average precision and its mean, best F1 per class with its threshold and the macro and
/// micro averages, F1 at 0.5 and 0.3; the lowest error rate (with insertion and deletion rates)
/// and its threshold, and the error rates at 0.5 and 0.3.
#[test]
fn clip_segment_and_collar_based_match_sed_scores_eval() {
    use earshot_core::metrics::segments;
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(common::data_dir().join("psds/manifest.json")).unwrap(),
    )
    .unwrap();
    let mut agree = Agreement::default();
    let triple = |w: &Value| -> [f64; 3] {
        let v: Vec<f64> = w
            .as_array()
            .unwrap()
            .iter()
            .map(|x| num(x).unwrap())
            .collect();
        [v[0], v[1], v[2]]
    };
    let clips = m["clip_based"].as_array().unwrap().iter();
    let segs = m["segment_based"].as_array().unwrap().iter();
    let collars = m["collar_based"].as_array().unwrap().iter();
    let mut refused = 0;
    for run in clips.chain(segs).chain(collars) {
        let case = run["case"].as_str().unwrap();
        let dir = metrics_dir().join(case);
        let scores = dcase::read_scores_dir(&dir.join("scores")).unwrap();
        let gt = load_strong(&dir.join("gt.tsv"));
        let (durations, _) = dcase::read_durations(&dir.join("durations.tsv")).unwrap();
        refused += usize::from(run.get("refused").is_some());
        for t in [0.5, 0.3] {
            let dcase = segments::Collars {
                onset: 0.2,
                offset: 0.2,
                offset_rate: 0.2,
            };
            let r = match (&run["segment_length"], run["segment_length"].as_f64()) {
                (_, Some(length)) => {
                    segments::segment_based(&scores, &gt, &durations, length, t, 1.0)
                }
                (Value::String(_), _) => {
                    segments::collar_based(&scores, &gt, &durations, dcase, t, 1.0)
                }
                _ => segments::clip_based(&scores, &gt, t, 1.0),
            };
            if run.get("refused").is_some() {
                assert!(r.is_err(), "{case}: the reference refuses");
                continue;
            }
            let r = r.unwrap_or_else(|e| panic!("{case}: {e}"));
            let check = |agree: &mut Agreement, what: &str, o: &sed_scores::Prf, w: [f64; 3]| {
                for (x, y) in [o.f, o.p, o.r].into_iter().zip(w) {
                    agree.check(&format!("{case} {what}"), x, y, TOL);
                }
            };
            for (c, class) in r.classes.iter().enumerate() {
                let ap = num(&run["ap"][class]).unwrap();
                agree.check(
                    &format!("{case} AP {class}"),
                    r.average_precision[c],
                    ap,
                    TOL,
                );
                check(
                    &mut agree,
                    "best",
                    &r.best[c].prf,
                    triple(&run["best"][class]),
                );
                let th = num(&run["thresholds"][class]).unwrap();
                agree.check(
                    &format!("{case} threshold {class}"),
                    r.best[c].threshold,
                    th,
                    TOL,
                );
                check(
                    &mut agree,
                    "at",
                    &r.at_threshold[c],
                    triple(&run["at"][t.to_string()][class]),
                );
            }
            let mean = num(&run["ap"]["mean"]).unwrap();
            agree.check(&format!("{case} mAP"), r.mean_average_precision, mean, TOL);
            check(
                &mut agree,
                "best macro",
                &r.best_macro,
                triple(&run["best"]["macro_average"]),
            );
            check(
                &mut agree,
                "best micro",
                &r.best_micro,
                triple(&run["best"]["micro_average"]),
            );
            let at = &run["at"][t.to_string()];
            check(
                &mut agree,
                "at macro",
                &r.at_threshold_macro,
                triple(&at["macro_average"]),
            );
            check(
                &mut agree,
                "at micro",
                &r.at_threshold_micro,
                triple(&at["micro_average"]),
            );
            // ROC-AUC (clip- and segment-based), the reference run with a stable sort.
            if let Some(want) = run.get("roc_auc") {
                let auc = r
                    .roc_auc
                    .as_ref()
                    .expect("clip- and segment-based have a ROC");
                for (c, class) in r.classes.iter().enumerate() {
                    let w = num(&want[class]).unwrap();
                    agree.check(&format!("{case} ROC-AUC {class}"), auc[c], w, TOL);
                }
                let mean = r.mean_roc_auc.unwrap();
                agree.check(
                    &format!("{case} mean ROC-AUC"),
                    mean,
                    num(&want["mean"]).unwrap(),
                    TOL,
                );
            } else {
                assert!(r.roc_auc.is_none(), "{case}: collar-based has no ROC");
            }
            // Error rates: the lowest over thresholds with its threshold, and at `t`.
            let rates =
                |agree: &mut Agreement, what: &str, o: &segments::ErrorRate, w: [f64; 3]| {
                    for (x, y) in [o.er, o.ir, o.dr].into_iter().zip(w) {
                        agree.check(&format!("{case} {what}"), x, y, TOL);
                    }
                };
            let er_at = &run["er_at"][t.to_string()];
            for (c, class) in r.classes.iter().enumerate() {
                let b = &r.best_error_rate[c];
                rates(
                    &mut agree,
                    "best ER",
                    &b.rates,
                    triple(&run["best_er"][class]),
                );
                let th = num(&run["er_thresholds"][class]).unwrap();
                agree.check(
                    &format!("{case} ER threshold {class}"),
                    b.threshold,
                    th,
                    TOL,
                );
                let at = &r.error_rate_at_threshold[c];
                rates(&mut agree, "ER at", at, triple(&er_at[class]));
            }
            let macro_best = &r.best_error_rate_macro;
            rates(
                &mut agree,
                "best ER macro",
                macro_best,
                triple(&run["best_er"]["macro_average"]),
            );
            let macro_at = &r.error_rate_at_threshold_macro;
            rates(
                &mut agree,
                "ER at macro",
                macro_at,
                triple(&er_at["macro_average"]),
            );
        }
    }
    assert!(agree.n > 2000, "too few values ({})", agree.n);
    println!(
        "clip-, segment- and collar-based: max |Δ| {:e} over {} values, {refused} refusals",
        agree.max_abs, agree.n
    );
}
