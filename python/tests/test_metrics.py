"""earshot.metrics against the reference packages: sed_scores_eval run here on the generated
DESED-style cases (PSDS with folder paths and with DataFrames, intersection F1), and sed_eval /
scikit-learn / the DCASE lwlrap recorded by tests/gen_metrics.py. All to 1e-9."""

import math

import numpy as np
import pytest

from earshot import metrics
from conftest import GEN, manifest

M = manifest("metrics")
SED = M["sed"]
DIR = GEN / "metrics"


def close(a, b, tol=1e-9):
    a, b = float(a), float("nan") if b == "nan" else float(b)
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def files(case):
    d = DIR / case["dir"]
    return d / "scores", d / "gt.tsv", d / "durations.tsv"


@pytest.mark.parametrize("case", SED[:12], ids=[c["name"] for c in SED[:12]])
def test_psds_is_sed_scores_eval_s(case):
    from sed_scores_eval import intersection_based, io
    scores_dir, gt, durations = files(case)
    frames = io.read_sed_scores(str(scores_dir))
    truth = io.read_ground_truth_events(str(gt))
    lengths = io.read_audio_durations(str(durations))
    for name, p in M["psds_params"].items():
        if p["alpha_ct"] > 0 and len(case["classes"]) < 2:
            continue
        kw = dict(dtc_threshold=p["dtc"], gtc_threshold=p["gtc"],
                  cttc_threshold=p["cttc"] if p["alpha_ct"] > 0 else None,
                  alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])
        ref, ref_classes, (ref_tpr, ref_fpr), _ = intersection_based.psds(
            scores=frames, ground_truth=truth, audio_durations=lengths, **kw)
        for args in ((scores_dir, gt, durations), (frames, truth, lengths)):
            value, per_class, (tpr, fpr), class_rocs = metrics.psds(*args, **kw)
            assert close(value, ref), (name, value, ref)
            assert set(per_class) == set(ref_classes)
            assert all(close(per_class[c], ref_classes[c]) for c in ref_classes), name
            assert len(tpr) == len(ref_tpr) and np.allclose(tpr, ref_tpr, atol=1e-9, rtol=0)
            assert np.allclose(fpr, ref_fpr, atol=1e-9, rtol=0)
            assert set(class_rocs) == set(ref_classes)
    f, p_, r = metrics.intersection_f1(frames, truth, lengths, threshold=0.5)
    ref_f, ref_p, ref_r, _ = intersection_based.fscore(
        scores=frames, ground_truth=truth, threshold=0.5, dtc_threshold=0.5, gtc_threshold=0.5)
    for ours, ref in ((f, ref_f), (p_, ref_p), (r, ref_r)):
        assert set(ours) == set(ref)
        assert all(close(ours[k], ref[k]) for k in ref)


@pytest.mark.parametrize("case", SED, ids=[c["name"] for c in SED])
def test_event_and_segment_f1_are_sed_eval_s(case):
    d = DIR / case["dir"]
    ev = metrics.event_f1(d / "gt.tsv", d / "pred_0.5.tsv", t_collar=0.2, percentage_of_length=0.2,
                          empty_system_output_handling="zero_score")
    seg = metrics.segment_f1(d / "gt.tsv", d / "pred_0.5.tsv", time_resolution=1.0)
    for ours, ref in ((ev, case["event_based"]), (seg, case["segment_based"])):
        for k in ("f_measure", "precision", "recall"):
            assert close(ours["overall"][k], ref["overall_f"][k]), k
            assert close(ours["class_wise_average"][k], ref["class_wise_average_f"][k]), k
        for k in ("error_rate", "substitution_rate", "deletion_rate", "insertion_rate"):
            assert close(ours["overall"][k], ref["overall_er"][k]), k
        assert set(ours["class_wise"]) == set(ref["class_wise"])
        for c, (f, p, r) in ours["class_wise"].items():
            want = ref["class_wise"][c]["f"]
            assert close(f, want["f_measure"]) and close(p, want["precision"]) and close(r, want["recall"])


@pytest.mark.parametrize("case", M["tagging"], ids=[c["name"] for c in M["tagging"]])
def test_tagging_metrics_are_sklearn_s(case):
    from sklearn.metrics import average_precision_score
    truth = np.load(DIR / case["truth"]).astype(bool)
    scores = np.load(DIR / case["scores"]).astype(np.float64)
    r = metrics.tagging(truth, scores)
    assert close(r["mAP"], case["map"]) and close(metrics.mean_average_precision(truth, scores), case["map"])
    assert all(close(a, b) for a, b in zip(r["average_precision"], case["ap"]))
    if case["lwlrap"] is not None:  # None: the reference has no value (no positive label)
        assert close(metrics.lwlrap(truth, scores), case["lwlrap"])
        assert close(r["lwlrap"], case["lwlrap"])
    for c in range(truth.shape[1]):
        if truth[:, c].any():
            assert close(metrics.average_precision(truth[:, c], scores[:, c]),
                         average_precision_score(truth[:, c], scores[:, c]))
    if case["d_prime_defined"] != "nan":
        assert close(metrics.d_prime(case["mauc_defined"]), case["d_prime_defined"])


def test_bad_metric_inputs_raise(tmp_path):
    scores_dir, gt, durations = files(SED[1])
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        metrics.psds(scores_dir, tmp_path / "nope.tsv", durations)
    with pytest.raises(ValueError, match="dtc"):
        metrics.psds(scores_dir, gt, durations, dtc_threshold=1.5)
    with pytest.raises(ValueError, match="cttc"):
        metrics.psds(scores_dir, gt, durations, alpha_ct=0.5)
    with pytest.raises(ValueError, match="clips × classes"):
        metrics.lwlrap([True, False], [0.1, 0.2])


SE = manifest("sed_eval")


@pytest.mark.parametrize("case", SE["events"], ids=[c["name"] for c in SE["events"]])
def test_sed_eval_reports_from_any_layout(case):
    """sed_eval's own text, from a headerless comma list against a Raven table, and from a
    folder of per-recording files."""
    d = GEN / "sed_eval"
    f = case["formats"]
    for run in case["metrics"].values():
        p = dict(run["params"])
        if run["kind"] == "event":
            del p["name"]
            for ref, est in ((f["five"][0], f["raven"][1]), (f["per_recording"][0], f["four"][1])):
                r = metrics.event_f1(d / ref, d / est, **p)
                assert r["report"] == run["report"], (case["name"], p)
        elif not isinstance(p["evaluated_length"], str) or p["evaluated_length"] == "latest":
            length = None if p["evaluated_length"] == "latest" else p["evaluated_length"]
            r = metrics.segment_f1(d / f["five"][0], d / f["raven"][1], p["time_resolution"], length)
            assert r["report"] == run["report"], (case["name"], p)
            want = run["results"]["overall"]["accuracy"]
            for k in ("sensitivity", "specificity", "balanced_accuracy", "accuracy"):
                assert close(r["overall"][k], want[k]), k


def test_bootstrapped_psds_is_sed_scores_eval_s():
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.bootstrap import confidence_interval
    d = DIR / "sed_002"
    args = (d / "scores", d / "gt.tsv", d / "durations.tsv")
    for kw in (dict(), dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5,
                            n_folds=3, n_iterations=4)):
        ref_kw = {k: v for k, v in kw.items() if k not in ("n_folds", "n_iterations")}
        ref_kw.setdefault("dtc_threshold", 0.7)
        ref_kw.setdefault("gtc_threshold", 0.7)
        ref_values, ref_classes, *_ = intersection_based.bootstrapped_psds(
            scores=str(args[0]), ground_truth=str(args[1]), audio_durations=str(args[2]),
            alpha_st=1.0, max_efpr=100.0, n_folds=kw.get("n_folds", 5),
            n_iterations=kw.get("n_iterations", 20), **ref_kw)
        values, classes = metrics.bootstrapped_psds(*args, **kw)
        assert len(values) == len(ref_values)
        assert all(close(a, b) for a, b in zip(values, ref_values))
        assert all(close(a[c], b[c]) for a, b in zip(classes, ref_classes) for c in b)
        assert all(close(a, b) for a, b in zip(metrics.confidence_interval(values),
                                               confidence_interval(list(ref_values))))
        ours = metrics.confidence_interval(classes)
        for c, want in confidence_interval(list(ref_classes)).items():
            assert all(close(a, b) for a, b in zip(ours[c], want)), c


def test_median_filter_independent_psds_is_sed_scores_eval_s():
    from sed_scores_eval import intersection_based
    d = DIR / "sed_010"
    args = (d / "scores", d / "gt.tsv", d / "durations.tsv")
    filters = [0.0, 0.3, 0.8]
    for kw in (dict(), dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5)):
        ref_kw = dict(dtc_threshold=0.7, gtc_threshold=0.7, alpha_st=1.0, max_efpr=100.0)
        ref_kw.update(kw)
        value, per_class, (etpr, efpr), pi_rocs, rocs, _ = intersection_based.median_filter_independent_psds(
            str(args[0]), str(args[1]), str(args[2]), median_filter_lengths_in_sec=filters, **ref_kw)
        ours = metrics.median_filter_independent_psds(*args, filters, **kw)
        assert close(ours[0], value)
        assert all(close(ours[1][c], v) for c, v in per_class.items())
        assert np.allclose(ours[2][0], etpr, atol=1e-12) and np.allclose(ours[2][1], efpr, atol=1e-12)
        for c, (tpr, fpr, thr, idx) in pi_rocs.items():
            assert np.array_equal(ours[3][c][3], idx), c
            assert np.allclose(ours[3][c][0], tpr, atol=1e-12) and np.allclose(ours[3][c][2], thr, atol=1e-12)
        assert len(ours[4]) == len(rocs) == len(filters)
        values, classes = metrics.bootstrapped_median_filter_independent_psds(*args, filters, n_folds=3, n_iterations=2, **kw)
        ref_values, ref_classes, *_ = intersection_based.bootstrapped_median_filter_independent_psds(
            str(args[0]), str(args[1]), str(args[2]), median_filter_lengths_in_sec=filters,
            n_folds=3, n_iterations=2, **ref_kw)
        assert len(values) == len(ref_values) == 6
        assert all(close(a, b) for a, b in zip(values, ref_values))
        assert all(close(a[c], b[c]) for a, b in zip(classes, ref_classes) for c in b)


def test_clip_segment_and_collar_based_are_sed_scores_eval_s():
    from importlib import import_module
    from sed_scores_eval import clip_based, collar_based, segment_based
    d = DIR / "sed_033"
    scores, gt, dur = str(d / "scores"), str(d / "gt.tsv"), str(d / "durations.tsv")
    collars = dict(onset_collar=0.2, offset_collar=0.2, offset_collar_rate=0.2)
    cases = [
        (metrics.clip_based(scores, gt, threshold=0.4), clip_based, dict(), "clip_based"),
        (metrics.segment_based(scores, gt, dur, segment_length=0.5, threshold=0.4), segment_based,
         dict(audio_durations=dur, segment_length=0.5), "segment_based"),
        (metrics.collar_based(scores, gt, threshold=0.4, **collars), collar_based, collars,
         "collar_based"),
    ]
    for ours, module, kw, name in cases:
        kw = dict(scores=scores, ground_truth=gt, **kw)
        for got, want in zip(ours["best_fscore"], module.best_fscore(**kw)[:4]):
            assert all(got[k] == v or close(got[k], v) for k, v in want.items()), name
        for got, want in zip(ours["fscore"], module.fscore(**kw, threshold=0.4)[:3]):
            assert all(got[k] == v or close(got[k], v) for k, v in want.items()), name
        er = import_module(f"sed_scores_eval.{name}.error_rate")
        for got, want in zip(ours["best_error_rate"], er.best_error_rate(**kw)[:4]):
            assert all(got[k] == v or close(got[k], v) for k, v in want.items()), name
        for got, want in zip(ours["error_rate"], er.error_rate(**kw, threshold=0.4)[:3]):
            assert all(got[k] == v or close(got[k], v) for k, v in want.items()), name
        if module is not collar_based:
            ap, _ = module.average_precision(**kw)
            assert all(close(ours["average_precision"][k], v) for k, v in ap.items()), name
            argsort = np.argsort  # the reference's staircase with a stable sort (see gen_psds)
            np.argsort = lambda a, *args, **kws: argsort(a, kind="stable")
            try:
                auc, _ = module.auroc(**kw)
            finally:
                np.argsort = argsort
            assert all(close(ours["roc_auc"][k], v) for k, v in auc.items()), name
        else:
            assert ours["roc_auc"] is None
