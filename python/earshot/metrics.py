"""The evaluation metrics of ``earshot eval``, from Python: PSDS and intersection-based F1 as
sed_scores_eval computes them, sed_eval's event- and segment-based metrics, and the tagging
metrics (average precision, lwlrap, d'), each computed in Rust with the GIL released.

Inputs are those the reference packages take. Scores: a dict {audio id: DataFrame} with columns
``onset``, ``offset`` and one per class (``sed_scores_eval.utils.scores.create_score_dataframe``),
or a folder of score TSVs. Ground truth and detections: {audio id: [(onset, offset, label), ...]}
or a DCASE TSV (``filename onset offset event_label``). Durations: {audio id: seconds} or a TSV
(``filename duration``).
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np

from . import _earshot

__all__ = [
    "psds",
    "intersection_f1",
    "event_f1",
    "segment_f1",
    "average_precision",
    "mean_average_precision",
    "tagging",
    "lwlrap",
    "d_prime",
]

_PATH = (str, os.PathLike)


def _filename(audio_id: str) -> str:
    # The core matches audio ids by stripping a file name's extension (ids such as DESED's
    # `Y..._0.000_10.000` contain dots of their own): give every id one to strip.
    return f"{audio_id}.wav"


def _events(events: Any, what: str):
    if isinstance(events, _PATH):
        return os.fspath(events)
    if not isinstance(events, Mapping):
        raise ValueError(f"{what}: a dict {{audio id: [(onset, offset, label), ...]}} or a TSV path")
    return [
        (_filename(str(k)), [(float(on), float(off), str(label)) for on, off, label in v])
        for k, v in events.items()
    ]


def _durations(durations: Any):
    if isinstance(durations, _PATH):
        return os.fspath(durations)
    if hasattr(durations, "to_dict") and not isinstance(durations, Mapping):
        durations = durations.to_dict()
    return [(_filename(str(k)), float(v)) for k, v in durations.items()]


def _scores(scores: Any):
    if isinstance(scores, _PATH):
        return os.fspath(scores)
    if not isinstance(scores, Mapping):
        raise ValueError("scores: a dict {audio id: score DataFrame} or a folder of score TSVs")
    tables = []
    for audio_id, df in scores.items():
        columns = [str(c) for c in df.columns]
        if columns[:2] != ["onset", "offset"]:
            raise ValueError(f"{audio_id}: score columns must start with onset, offset, not {columns[:2]}")
        values = df.to_numpy(dtype=np.float64)  # one copy of the whole frame
        bounds = np.append(values[:, 0], values[-1:, 1])
        tables.append((str(audio_id), bounds, columns[2:], np.ascontiguousarray(values[:, 2:])))
    return tables


def _sed_inputs(scores: Any, ground_truth: Any, durations: Any):
    return _scores(scores), _events(ground_truth, "ground_truth"), _durations(durations)


def psds(
    scores: Any,
    ground_truth: Any,
    durations: Any,
    dtc_threshold: float = 0.7,
    gtc_threshold: float = 0.7,
    cttc_threshold: float | None = None,
    alpha_ct: float = 0.0,
    alpha_st: float = 1.0,
    max_efpr: float = 100.0,
):
    """Polyphonic Sound Detection Score, as ``sed_scores_eval.intersection_based.psds``
    returns it: (psds, {class: psds}, (eTPR, eFPR) of the PSD-ROC, {class: (TPR, eFPR)}).
    Defaults: DCASE Task 4 scenario 1 (dtc = gtc = 0.7, alpha_st = 1, 100 false positives per
    hour)."""
    if alpha_ct != 0.0 and cttc_threshold is None:
        raise ValueError("alpha_ct > 0 needs a cttc_threshold")
    value, per_class, (etpr, efpr), class_rocs = _earshot.psds(
        *_sed_inputs(scores, ground_truth, durations), float(dtc_threshold), float(gtc_threshold),
        None if cttc_threshold is None else float(cttc_threshold),
        float(alpha_ct), float(alpha_st), float(max_efpr))
    return (
        value,
        dict(per_class),
        (np.asarray(etpr), np.asarray(efpr)),
        {c: (np.asarray(t), np.asarray(f)) for c, (t, f) in class_rocs},
    )


def bootstrapped_psds(
    scores: Any,
    ground_truth: Any,
    durations: Any,
    dtc_threshold: float = 0.7,
    gtc_threshold: float = 0.7,
    cttc_threshold: float | None = None,
    alpha_ct: float = 0.0,
    alpha_st: float = 1.0,
    max_efpr: float = 100.0,
    n_folds: int = 5,
    n_iterations: int = 20,
):
    """Bootstrapped PSDS, as ``sed_scores_eval.intersection_based.bootstrapped_psds``: the
    same folds (sorted clip ids, ``numpy.random.RandomState(i).shuffle``), returned as
    (list of PSDS, list of {class: PSDS}), one per fold. Summarise with
    :func:`confidence_interval`."""
    if alpha_ct != 0.0 and cttc_threshold is None:
        raise ValueError("alpha_ct > 0 needs a cttc_threshold")
    values, per_class = _earshot.bootstrapped_psds(
        *_sed_inputs(scores, ground_truth, durations), float(dtc_threshold), float(gtc_threshold),
        None if cttc_threshold is None else float(cttc_threshold),
        float(alpha_ct), float(alpha_st), float(max_efpr), int(n_folds), int(n_iterations))
    return list(values), [dict(p) for p in per_class]


def median_filter_independent_psds(
    scores: Any,
    ground_truth: Any,
    durations: Any,
    median_filter_lengths_in_sec: Any,
    dtc_threshold: float = 0.7,
    gtc_threshold: float = 0.7,
    cttc_threshold: float | None = None,
    alpha_ct: float = 0.0,
    alpha_st: float = 1.0,
    max_efpr: float = 100.0,
):
    """Median-filter-independent PSDS, as
    ``sed_scores_eval.intersection_based.median_filter_independent_psds`` returns it: (piPSDS,
    {class: piPSDS}, (eTPR, eFPR) of the pi-PSD-ROC, {class: (TPR, eFPR, threshold, filter
    index)}, [(eTPR, eFPR) of each filter], [{class: (TPR, eFPR)} of each filter]). The scores
    are median-filtered with each length in seconds as ``base_modules.postprocessing.medfilt``
    filters them; the reference's last item also carries each point's threshold."""
    if alpha_ct != 0.0 and cttc_threshold is None:
        raise ValueError("alpha_ct > 0 needs a cttc_threshold")
    value, per_class, (etpr, efpr), pi_rocs, rocs, class_rocs = _earshot.median_filter_independent_psds(
        *_sed_inputs(scores, ground_truth, durations), [float(x) for x in median_filter_lengths_in_sec],
        float(dtc_threshold), float(gtc_threshold),
        None if cttc_threshold is None else float(cttc_threshold),
        float(alpha_ct), float(alpha_st), float(max_efpr))
    return (
        value,
        dict(per_class),
        (np.asarray(etpr), np.asarray(efpr)),
        {c: (np.asarray(t), np.asarray(f), np.asarray(s), np.asarray(m)) for c, (t, f, s, m) in pi_rocs},
        [(np.asarray(t), np.asarray(f)) for t, f in rocs],
        [{c: (np.asarray(t), np.asarray(f)) for c, (t, f) in r} for r in class_rocs],
    )


def bootstrapped_median_filter_independent_psds(
    scores: Any,
    ground_truth: Any,
    durations: Any,
    median_filter_lengths_in_sec: Any,
    dtc_threshold: float = 0.7,
    gtc_threshold: float = 0.7,
    cttc_threshold: float | None = None,
    alpha_ct: float = 0.0,
    alpha_st: float = 1.0,
    max_efpr: float = 100.0,
    n_folds: int = 5,
    n_iterations: int = 4,
):
    """Bootstrapped median-filter-independent PSDS, as
    ``sed_scores_eval.intersection_based.bootstrapped_median_filter_independent_psds`` (same
    folds, its default 5 × 4): (list of piPSDS, list of {class: piPSDS}), one per fold.
    Summarise with :func:`confidence_interval`."""
    if alpha_ct != 0.0 and cttc_threshold is None:
        raise ValueError("alpha_ct > 0 needs a cttc_threshold")
    values, per_class = _earshot.bootstrapped_median_filter_independent_psds(
        *_sed_inputs(scores, ground_truth, durations), [float(x) for x in median_filter_lengths_in_sec],
        float(dtc_threshold), float(gtc_threshold),
        None if cttc_threshold is None else float(cttc_threshold),
        float(alpha_ct), float(alpha_st), float(max_efpr), int(n_folds), int(n_iterations))
    return list(values), [dict(p) for p in per_class]


def _curves(kind, scores, ground_truth, durations, segment_length=1.0,
            collars=(0.2, 0.2, 0.2), threshold=0.5):
    import json
    text, best_thresholds, er_thresholds = _earshot.threshold_curves(
        _scores(scores), _events(ground_truth, "ground_truth"),
        None if durations is None else _durations(durations), kind, float(segment_length),
        tuple(float(c) for c in collars), float(threshold))
    out = json.loads(text)
    classes = out["classes"]

    def per_class(values, key, macro=None, micro=None):
        d = {c: v[key] if key else v for c, v in zip(classes, values)}
        if macro is not None:
            d["macro_average"] = macro[key]
        if micro is not None:
            d["micro_average"] = micro[key]
        return d

    best = [b["prf"] for b in out["best"]]
    best_thresholds = dict(zip(classes, best_thresholds))
    at = out["at_threshold"]
    ber = [b["rates"] for b in out["best_error_rate"]]
    ap = dict(zip(classes, out["average_precision"]), mean=out["mean_average_precision"])
    auc = None
    if out["roc_auc"] is not None:
        auc = dict(zip(classes, out["roc_auc"]), mean=out["mean_roc_auc"])
    return dict(
        average_precision=ap,
        roc_auc=auc,
        best_fscore=tuple(per_class(best, k, out["best_macro"], out["best_micro"]) for k in "fpr")
        + (best_thresholds,),
        fscore=tuple(per_class(at, k, out["at_threshold_macro"], out["at_threshold_micro"])
                     for k in "fpr"),
        best_error_rate=tuple(per_class(ber, k, out["best_error_rate_macro"])
                              for k in ("er", "ir", "dr"))
        + (dict(zip(classes, er_thresholds)),),
        error_rate=tuple(per_class(out["error_rate_at_threshold"], k,
                                   out["error_rate_at_threshold_macro"])
                         for k in ("er", "ir", "dr")),
    )


def clip_based(scores: Any, ground_truth: Any, threshold: float = 0.5):
    """Clip-based metrics over every threshold, as ``sed_scores_eval.clip_based`` computes them:
    a dict with ``average_precision`` ({class: AP, "mean"}), ``roc_auc`` (as ``auroc``; None
    for collar-based; tied FPRs taken in order, as the reference with a stable sort),
    ``best_fscore`` and ``fscore``
    (at ``threshold``) as ``best_fscore`` / ``fscore`` return them ((f, p, r[, thresholds]),
    each a dict over the classes plus macro and micro averages), ``best_error_rate`` and
    ``error_rate`` as ``clip_based.error_rate`` returns them."""
    return _curves("clip", scores, ground_truth, None, threshold=threshold)


def segment_based(scores: Any, ground_truth: Any, audio_durations: Any,
                  segment_length: float = 1.0, threshold: float = 0.5):
    """Segment-based metrics over every threshold (``sed_scores_eval.segment_based``), in the
    layout of :func:`clip_based`."""
    return _curves("segment", scores, ground_truth, audio_durations,
                   segment_length=segment_length, threshold=threshold)


def collar_based(scores: Any, ground_truth: Any, onset_collar: float = 0.2,
                 offset_collar: float = 0.2, offset_collar_rate: float = 0.2,
                 threshold: float = 0.5):
    """Collar-based metrics over every threshold (``sed_scores_eval.collar_based``; defaults:
    DESED's 0.2 s collars and 20 % offset), in the layout of :func:`clip_based`; its AP is the
    base module's ``average_precision_from_intermediate_statistics``."""
    return _curves("collar", scores, ground_truth, None,
                   collars=(onset_collar, offset_collar, offset_collar_rate), threshold=threshold)


def confidence_interval(values: Any, confidence: float = 0.9):
    """``sed_scores_eval.base_modules.bootstrap.confidence_interval``: (mean, low, high) of a
    list of values, or {class: (mean, low, high)} of a list of per-class dicts."""
    values = list(values)
    if values and isinstance(values[0], dict):
        return {c: confidence_interval([v[c] for v in values], confidence) for c in values[0]}
    return _earshot.confidence_interval([float(v) for v in values], float(confidence))


def intersection_f1(
    scores: Any,
    ground_truth: Any,
    durations: Any,
    threshold: float = 0.5,
    dtc_threshold: float = 0.5,
    gtc_threshold: float = 0.5,
):
    """Intersection-based F1 at one decision threshold, as
    ``sed_scores_eval.intersection_based.fscore``: (f, precision, recall), each a dict over the
    classes plus ``macro_average`` and ``micro_average``."""
    rows = _earshot.intersection_f1(
        *_sed_inputs(scores, ground_truth, durations), float(threshold), float(dtc_threshold), float(gtc_threshold))
    f = {c: v[0] for c, v in rows}
    p = {c: v[1] for c, v in rows}
    r = {c: v[2] for c, v in rows}
    return f, p, r


def event_f1(
    reference: Any,
    estimated: Any,
    t_collar: float = 0.2,
    percentage_of_length: float = 0.5,
    evaluate_onset: bool = True,
    evaluate_offset: bool = True,
    empty_system_output_handling: str | None = None,
    event_matching_type: str = "optimal",
) -> dict:
    """sed_eval's ``EventBasedMetrics`` (its defaults) over the files of the reference: a dict
    with ``overall`` (f_measure, precision, recall, error_rate and its parts),
    ``class_wise_average``, ``class_wise`` {class: (f, precision, recall)} and ``report``
    (``str(metrics)``, sed_eval's text). A path may be any event list sed_eval reads, or a
    folder of per-recording lists."""
    return _earshot.event_f1(
        _events(reference, "reference"), _events(estimated, "estimated"), float(t_collar),
        float(percentage_of_length), bool(evaluate_onset), bool(evaluate_offset),
        empty_system_output_handling, str(event_matching_type))


def segment_f1(reference: Any, estimated: Any, time_resolution: float = 1.0,
               evaluated_length_seconds: float | None = None) -> dict:
    """sed_eval's ``SegmentBasedMetrics(time_resolution)``, same dict as :func:`event_f1`, with
    sensitivity, specificity, balanced_accuracy and accuracy in ``overall``;
    ``evaluated_length_seconds`` is ``evaluate``'s (one length for every file)."""
    return _earshot.segment_f1(
        _events(reference, "reference"), _events(estimated, "estimated"), float(time_resolution),
        None if evaluated_length_seconds is None else float(evaluated_length_seconds))


def _matrix(x: Any, dtype) -> list:
    a = np.asarray(x, dtype=dtype)
    if a.ndim != 2:
        raise ValueError(f"expected a clips × classes matrix, got shape {a.shape}")
    return a.tolist()


def average_precision(truth: Sequence[bool], scores: Sequence[float]) -> float:
    """``sklearn.metrics.average_precision_score`` of one class."""
    return _earshot.average_precision(
        np.asarray(truth, dtype=bool).tolist(), np.asarray(scores, dtype=np.float64).tolist())


def tagging(truth: Any, scores: Any) -> dict:
    """Everything ``earshot eval tagging`` reports for clips × classes truth and scores: mAP,
    mAUC, d_prime, lwlrap and the per-class average_precision and roc_auc lists."""
    return _earshot.tagging_metrics(_matrix(truth, bool), _matrix(scores, np.float64))


def mean_average_precision(truth: Any, scores: Any) -> float:
    """Mean over classes of the average precision (PANNs' mAP; a class without positives counts
    0, as sklearn and ``np.mean`` give it)."""
    return tagging(truth, scores)["mAP"]


def lwlrap(truth: Any, scores: Any) -> float:
    """Label-weighted label-ranking average precision (DCASE 2019 Task 2)."""
    return _earshot.lwlrap(_matrix(truth, bool), _matrix(scores, np.float64))


def d_prime(auc: float) -> float:
    """d' = √2 · Φ⁻¹(AUC), as PANNs reports it."""
    return _earshot.d_prime(float(auc))
