#!/usr/bin/env python3
"""Make the metric and dataset-loader fixtures and the reference values the Rust tests compare to.

Hundreds of random cases (seeded) are written as files in the formats earshot reads, and the
real reference packages are run on them:

* tagging: scikit-learn `average_precision_score` / `roc_auc_score` per class, PANNs' d' (scipy
  `norm.ppf` of the mean AUC), lwlrap (scikit-learn `label_ranking_average_precision_score`
  weighted by positives per clip, on tie-free cases);
* SED: sed_eval 0.2.1 segment- and event-based metrics driven as the DESED baseline drives them,
  psds_eval 0.5.3 PSDS and macro F over decoded operating points, sed_scores_eval 0.0.4 PSDS,
  per-class PSDS and intersection F from the score tables;
* scenes: sed_eval `SceneClassificationMetrics` and scikit-learn `log_loss`;
* loaders: small datasets in each official layout (AudioSet, DESED, TAU, ESC-50, UrbanSound8K,
  FSD50K), with injected metadata problems, and what pandas / csv read from them.

Cases include empty predictions, events touching the end of the file, single-class sets, tied
scores, clips without events and classes without positives. Everything lands under
tests/data/generated/metrics/ with a manifest.json. Idempotent: nothing is redone when the
manifest was written by the same version of this file and the same packages.
"""

import csv
import hashlib
import json
import math
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "metrics"

warnings.filterwarnings("ignore")


def fnum(x):
    """JSON-safe float: NaN and inf become strings the tests parse back."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def t3(rng, lo, hi):
    return round(float(rng.uniform(lo, hi)), 3)


# ----------------------------------------------------------------------------------------------
# Tagging


def tagging_cases(rng, root):
    from sklearn.metrics import (average_precision_score, label_ranking_average_precision_score,
                                 roc_auc_score)
    from scipy import stats

    cases = []
    for i in range(120):
        n_clips = int(rng.integers(2, 160))
        n_classes = int(rng.integers(1, 25))
        p = rng.uniform(0.02, 0.5, size=n_classes)
        truth = rng.random((n_clips, n_classes)) < p
        kind = ["continuous", "ties", "saturated"][i % 3]
        scores = rng.random((n_clips, n_classes))
        scores = scores * 0.6 + truth * rng.uniform(0, 0.5)
        if kind == "ties":
            scores = np.round(scores * 8) / 8
        elif kind == "saturated":
            scores = np.clip(scores * 1.5 - 0.2, 0, 1)
        if i % 7 == 0 and n_classes > 1:
            truth[:, 0] = False  # class without positives
        if i % 11 == 0:
            truth[:, -1] = True  # class without negatives
        ap = [float(average_precision_score(truth[:, c], scores[:, c])) for c in range(n_classes)]
        # scikit-learn 1.9 returns NaN (with a warning) for a class with only one label value;
        # PANNs then takes np.mean, so one such class makes mAUC NaN. The mean over defined
        # classes is reported beside it.
        auc = [float(roc_auc_score(truth[:, c], scores[:, c])) for c in range(n_classes)]
        mauc = float(np.mean(auc))
        dprime = float(stats.norm().ppf(mauc) * np.sqrt(2.0))
        mauc_defined = float(np.nanmean(auc)) if not all(np.isnan(auc)) else float("nan")
        dprime_defined = float(stats.norm().ppf(mauc_defined) * np.sqrt(2.0))
        # lwlrap = LRAP weighted by the number of positives per clip, on clips with positives;
        # only defined without ties (sklearn counts ties pessimistically, the reference by
        # argsort order).
        rows = truth.any(axis=1)
        lw = None
        tie_free = all(len(set(r)) == len(r) for r in scores[rows])
        if rows.any() and tie_free:
            lw = float(label_ranking_average_precision_score(
                truth[rows], scores[rows], sample_weight=truth[rows].sum(axis=1)))
        name = f"tagging_{i:03d}"
        np.save(root / f"{name}_truth.npy", truth.astype(np.float64))
        np.save(root / f"{name}_scores.npy", scores.astype(np.float64))
        cases.append(dict(name=name, truth=f"{name}_truth.npy", scores=f"{name}_scores.npy",
                          kind=kind, ap=ap, map=float(np.mean(ap)), auc=[fnum(a) for a in auc],
                          mauc=fnum(mauc), d_prime=fnum(dprime), mauc_defined=fnum(mauc_defined),
                          d_prime_defined=fnum(dprime_defined), lwlrap=lw))
    # One case as TSVs (weak labels + per-class score columns) for the CLI.
    c = cases[4]
    truth = np.load(root / c["truth"]) > 0
    scores = np.load(root / c["scores"])
    classes = [f"class_{k:02d}" for k in range(truth.shape[1])]
    with open(root / "tagging_cli_truth.tsv", "w") as f:
        f.write("filename\tevent_labels\n")
        for r in range(truth.shape[0]):
            f.write(f"clip_{r:04d}.wav\t" + ",".join(cl for cl, t in zip(classes, truth[r]) if t) + "\n")
    with open(root / "tagging_cli_scores.tsv", "w") as f:
        f.write("filename\t" + "\t".join(classes) + "\n")
        for r in range(truth.shape[0]):
            f.write(f"clip_{r:04d}.wav\t" + "\t".join(repr(float(v)) for v in scores[r]) + "\n")
    return cases, dict(truth="tagging_cli_truth.tsv", scores="tagging_cli_scores.tsv",
                       case=c["name"])


# ----------------------------------------------------------------------------------------------
# SED


HOP = 0.064
N_FRAMES = 156
CLASS_POOL = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog",
              "Electric_shaver_toothbrush", "Frying", "Running_water", "Speech", "Vacuum_cleaner"]


def make_sed_case(rng, n_files, classes, quantise, empty_at_half=False, touch_end=True,
                  class_prob=1.0):
    files, durations, gt, scores = [], {}, {}, {}
    for k in range(n_files):
        fname = f"Y{k:04d}_{rng.integers(0, 300) * 10}.000_{0}.000.wav".replace("_0.000.wav", ".wav")
        fname = f"Yclip{k:04d}_30.000_40.000.wav"
        files.append(fname)
        dur = 10.0 if rng.random() < 0.85 else float(rng.choice([9.0, 9.5, 8.25]))
        durations[fname] = dur
        events = []
        if rng.random() > 0.12:  # some clips have no events at all
            for c in classes:
                if class_prob < 1.0 and rng.random() > class_prob:
                    continue  # thinner sets (the bench's DESED-sized input)
                t = t3(rng, 0.0, 2.0)
                while rng.random() < 0.55 and t < dur - 0.3:
                    on = t
                    off = round(min(on + t3(rng, 0.25, 4.0), dur), 3)
                    if touch_end and rng.random() < 0.15:
                        off = dur
                    if off <= on:
                        break
                    events.append((on, off, c))
                    t = round(off + t3(rng, 0.2, 3.0), 3)
                    if off >= dur:
                        break
        rng.shuffle(events)
        gt[fname] = [tuple(e) for e in events]
        ts = np.arange(N_FRAMES + 1) * HOP
        ts = np.minimum(ts, dur)
        n = int(np.searchsorted(ts, dur, side="left"))  # frames fully before dur
        ts = np.round(np.arange(N_FRAMES + 1) * HOP, 6)
        frame_scores = np.zeros((N_FRAMES, len(classes)))
        centres = (ts[:-1] + ts[1:]) / 2
        for ci, c in enumerate(classes):
            base = rng.uniform(0, 0.35) * rng.random(N_FRAMES)
            for on, off, lab in events:
                if lab == c and rng.random() < 0.85:
                    jitter_on = on + rng.normal(0, 0.2)
                    jitter_off = off + rng.normal(0, 0.3)
                    inside = (centres > jitter_on) & (centres < jitter_off)
                    base[inside] += rng.uniform(0.3, 0.9)
            if rng.random() < 0.3:  # a cross-triggering burst
                s = int(rng.integers(0, N_FRAMES - 10))
                base[s:s + int(rng.integers(2, 20))] += rng.uniform(0.2, 0.8)
            # Smooth a little, like a median filter would leave runs.
            base = np.convolve(base, np.ones(3) / 3, mode="same")
            frame_scores[:, ci] = np.clip(base, 0, 1)
        if quantise:
            frame_scores = np.round(frame_scores * 20) / 20
        if empty_at_half:
            frame_scores = np.minimum(frame_scores, 0.45)
        scores[fname] = (ts, frame_scores)
        del n
    return files, durations, gt, scores


def decode(scores, classes, threshold):
    """Baseline decoding: frames with score > threshold, contiguous runs → events."""
    rows = []
    for fname, (ts, sc) in scores.items():
        for ci, c in enumerate(classes):
            active = sc[:, ci] > threshold
            start = None
            for t, a in enumerate(list(active) + [False]):
                if a and start is None:
                    start = t
                elif not a and start is not None:
                    rows.append((fname, float(ts[start]), float(ts[t]), c))
                    start = None
    return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])


def write_strong(path, files, gt):
    with open(path, "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        for fname in files:
            if not gt[fname]:
                f.write(f"{fname}\t\t\t\n")
            for on, off, lab in gt[fname]:
                f.write(f"{fname}\t{on!r}\t{off!r}\t{lab}\n")


def write_detections(path, df):
    with open(path, "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        for r in df.itertuples(index=False):
            f.write(f"{r.filename}\t{r.onset!r}\t{r.offset!r}\t{r.event_label}\n")


def get_event_list_current_file(df, fname):
    """The DESED baseline's helper (evaluation_measures.py), restated."""
    event_file = df[df["filename"] == fname]
    if len(event_file) == 1 and pd.isna(event_file["event_label"].iloc[0]):
        return [{"filename": fname}]
    return event_file.to_dict("records")


def sed_eval_results(metric):
    r = metric.results()
    def fm(d):
        return {k: fnum(d[k]) for k in ("f_measure", "precision", "recall")}
    def er(d):
        return {k: fnum(d.get(k, float("nan"))) for k in
                ("error_rate", "substitution_rate", "deletion_rate", "insertion_rate")}
    return dict(
        overall_f=fm(r["overall"]["f_measure"]), overall_er=er(r["overall"]["error_rate"]),
        class_wise={c: dict(f=fm(v["f_measure"]), er=er(v["error_rate"]))
                    for c, v in r["class_wise"].items()},
        class_wise_average_f=fm(r["class_wise_average"]["f_measure"]),
        class_wise_average_er=er(r["class_wise_average"]["error_rate"]),
    )


def run_sed_eval(gt_df, est_df, files=None):
    """sed_eval driven file by file over `files` (default: the ground truth's, as the DESED
    baseline does)."""
    import sed_eval
    files = gt_df["filename"].unique() if files is None else files
    classes = list(set(gt_df.event_label.dropna().unique()) | set(est_df.event_label.dropna().unique()))
    ev = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=classes, t_collar=0.200, percentage_of_length=0.2,
        empty_system_output_handling="zero_score")
    seg = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=classes, time_resolution=1.0)
    for fname in files:
        ref = get_event_list_current_file(gt_df, fname)
        est = get_event_list_current_file(est_df, fname)
        ev.evaluate(reference_event_list=ref, estimated_event_list=est)
        seg.evaluate(reference_event_list=ref, estimated_event_list=est)
    return sed_eval_results(ev), sed_eval_results(seg)


PSDS_PARAMS = dict(
    psds1=dict(dtc=0.7, gtc=0.7, cttc=0.3, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0),
    psds2=dict(dtc=0.1, gtc=0.1, cttc=0.3, alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0),
    dcase2020=dict(dtc=0.5, gtc=0.5, cttc=0.3, alpha_ct=0.0, alpha_st=0.0, max_efpr=100.0),
    ct_only=dict(dtc=0.5, gtc=0.5, cttc=0.3, alpha_ct=1.0, alpha_st=0.0, max_efpr=50.0),
)


def run_psds_eval(gt_df, dur_df, op_tables, f_table, params):
    from psds_eval import PSDSEval
    psds = PSDSEval(params["dtc"], params["gtc"], params["cttc"], ground_truth=gt_df,
                    metadata=dur_df)
    for t in op_tables:
        psds.add_operating_point(t)
    r = psds.psds(alpha_ct=params["alpha_ct"], alpha_st=params["alpha_st"],
                  max_efpr=params["max_efpr"])
    out = dict(value=fnum(r.value), n_ops=int(psds.num_operating_points()))
    if f_table is not None:
        f_avg, f_dict = psds.compute_macro_f_score(f_table)
        out["macro_f"] = fnum(f_avg)
        out["class_f"] = {k: fnum(v) for k, v in f_dict.items()}
    return out


def run_sed_scores(scores_dir, gt_path, dur_path, classes):
    from sed_scores_eval import intersection_based
    out = {}
    for name, p in PSDS_PARAMS.items():
        if p["alpha_ct"] > 0 and len(classes) < 2:
            continue
        value, per_class, (etpr, efpr), _ = intersection_based.psds(
            scores=str(scores_dir), ground_truth=str(gt_path), audio_durations=str(dur_path),
            dtc_threshold=p["dtc"], gtc_threshold=p["gtc"],
            cttc_threshold=p["cttc"] if p["alpha_ct"] > 0 else None,
            alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])
        out[name] = dict(value=fnum(value), per_class={k: fnum(v) for k, v in per_class.items()},
                         n_roc=len(efpr))
    f, pr, rc, _ = intersection_based.fscore(
        scores=str(scores_dir), ground_truth=str(gt_path), threshold=0.5,
        dtc_threshold=0.5, gtc_threshold=0.5)
    out["fscore"] = dict(f={k: fnum(v) for k, v in f.items()},
                         p={k: fnum(v) for k, v in pr.items()},
                         r={k: fnum(v) for k, v in rc.items()})
    return out


def sed_cases(rng, root):
    cases = []
    specs = []
    for i in range(40):
        n_classes = 1 if i % 8 == 0 else int(rng.integers(2, 7))
        specs.append(dict(n_files=int(rng.integers(3, 25)), n_classes=n_classes,
                          quantise=(i % 3 == 1), empty_at_half=(i % 10 == 5),
                          n_thresholds=int(rng.choice([5, 10, 25, 50]))))
    for i, spec in enumerate(specs):
        name = f"sed_{i:03d}"
        d = root / name
        (d / "scores").mkdir(parents=True)
        (d / "ops").mkdir()
        classes = sorted(rng.choice(CLASS_POOL, size=spec["n_classes"], replace=False).tolist())
        files, durations, gt, scores = make_sed_case(
            rng, spec["n_files"], classes, spec["quantise"], spec["empty_at_half"])
        # sed_scores_eval needs every class to have ground truth: add one if a class is empty.
        for ci, c in enumerate(classes):
            if not any(e[2] == c for f in files for e in gt[f]):
                f0 = files[ci % len(files)]
                gt[f0].append((0.5, 1.5, c)) if not any(
                    e[2] == c for e in gt[f0]) else None
        write_strong(d / "gt.tsv", files, gt)
        with open(d / "durations.tsv", "w") as f:
            f.write("filename\tduration\n")
            for fname in files:
                f.write(f"{fname}\t{durations[fname]!r}\n")
        for fname, (ts, sc) in scores.items():
            df = pd.DataFrame(sc, columns=classes)
            df.insert(0, "offset", ts[1:])
            df.insert(0, "onset", ts[:-1])
            with open(d / "scores" / (fname.rsplit(".", 1)[0] + ".tsv"), "w") as f:
                f.write("\t".join(df.columns) + "\n")
                for row in df.itertuples(index=False):
                    f.write("\t".join(repr(float(v)) for v in row) + "\n")
        gt_df = pd.read_csv(d / "gt.tsv", sep="\t")
        dur_df = pd.read_csv(d / "durations.tsv", sep="\t")
        n = spec["n_thresholds"]
        thresholds = np.arange(1 / (n * 2), 1, 1 / n)
        op_files, op_tables = [], []
        for t in thresholds:
            det = decode(scores, classes, t)
            p = d / "ops" / f"op_{t:.6f}.tsv"
            write_detections(p, det)
            op_files.append(p.relative_to(root).as_posix())
            op_tables.append(pd.read_csv(p, sep="\t"))
        half = decode(scores, classes, 0.5)
        write_detections(d / "pred_0.5.tsv", half)
        half_df = pd.read_csv(d / "pred_0.5.tsv", sep="\t")
        event_based, segment_based = run_sed_eval(gt_df, half_df)
        psds_eval_out = {}
        for pname, params in PSDS_PARAMS.items():
            f_table = half_df if pname == "dcase2020" else None
            psds_eval_out[pname] = run_psds_eval(gt_df, dur_df, op_tables, f_table, params)
        sse = run_sed_scores(d / "scores", d / "gt.tsv", d / "durations.tsv", classes)
        cases.append(dict(name=name, dir=name, classes=classes, thresholds=thresholds.tolist(),
                          ops=op_files, event_based=event_based, segment_based=segment_based,
                          psds_eval=psds_eval_out, sed_scores_eval=sse,
                          n_files=len(files), n_events=sum(len(v) for v in gt.values())))
        print(f"[gen-metrics] {name}: {len(files)} files, {len(classes)} classes, "
              f"{len(thresholds)} ops, psds1 {sse['psds1']['value']:.4f}")
    return cases


def collar_edge_cases(root):
    """Hand-shaped event lists that sit on sed_eval's float and matching edges; the values
    still come from sed_eval."""
    d = root / "sed_edges"
    d.mkdir()
    ref = [("a.wav", 2.0, 4.0, "Dog"), ("a.wav", 2.1, 3.0, "Cat"), ("a.wav", 5.0, 6.0, "Dog"),
           ("b.wav", 0.3, 0.7, "Cat"), ("b.wav", 1.0, 3.0000000001, "Dog"),
           ("c.wav", None, None, None)]
    est = [("a.wav", 2.2, 4.0, "Dog"), ("a.wav", 2.0, 4.2, "Cat"), ("a.wav", 2.15, 3.1, "Dog"),
           ("a.wav", 5.1, 6.3, "Cat"), ("b.wav", 0.3, 0.7, "Dog"), ("b.wav", 1.0, 3.0, "Dog"),
           ("c.wav", 0.0, 1.0, "Dog"), ("z.wav", 0.0, 1.0, "Dog")]
    for name, rows in (("gt.tsv", ref), ("pred.tsv", est)):
        with open(d / name, "w") as f:
            f.write("filename\tonset\toffset\tevent_label\n")
            for r in rows:
                f.write("\t".join("" if v is None else (repr(v) if isinstance(v, float) else v)
                                  for v in r) + "\n")
    gt_df = pd.read_csv(d / "gt.tsv", sep="\t")
    est_df = pd.read_csv(d / "pred.tsv", sep="\t")
    event_based, segment_based = run_sed_eval(gt_df, est_df)
    return dict(dir="sed_edges", event_based=event_based, segment_based=segment_based)


def all_files_case(rng, root):
    """Ground truth that lists only the files with events (as real annotation files often do),
    durations for every file, and detections with false alarms in the files without events:
    sed_eval over the ground truth's files (the DESED baseline, earshot's default) and over every
    file in the durations table (`--all-files`)."""
    d = root / "sed_all_files"
    d.mkdir()
    classes = ["Cat", "Dog", "Speech"]
    files, durations, gt, scores = make_sed_case(rng, 16, classes, False)
    for fname in files[::3]:
        gt[fname] = []
    with open(d / "gt.tsv", "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        for fname in files:
            for on, off, lab in gt[fname]:
                f.write(f"{fname}\t{on!r}\t{off!r}\t{lab}\n")
    with open(d / "durations.tsv", "w") as f:
        f.write("filename\tduration\n")
        for fname in files:
            f.write(f"{fname}\t{durations[fname]!r}\n")
    pred = decode(scores, classes, 0.5)
    alarms = pd.DataFrame([(fname, 1.0 + k, 2.5 + k, classes[k % 3])
                           for k, fname in enumerate(files[::3])], columns=pred.columns)
    pred = pd.concat([pred, alarms], ignore_index=True)
    write_detections(d / "pred.tsv", pred)
    gt_df = pd.read_csv(d / "gt.tsv", sep="\t")
    est_df = pd.read_csv(d / "pred.tsv", sep="\t")
    listed = gt_df["filename"].unique()
    assert len(listed) < len(files), "some files have no reference events"
    ev, seg = run_sed_eval(gt_df, est_df)
    ev_all, seg_all = run_sed_eval(gt_df, est_df, files=files)
    return dict(dir="sed_all_files", ground_truth_files=len(listed), all_files=len(files),
                reference=dict(event_based=ev, segment_based=seg),
                all=dict(event_based=ev_all, segment_based=seg_all))


# ----------------------------------------------------------------------------------------------
# Scenes


def scene_cases(rng, root):
    import sed_eval
    from sklearn.metrics import log_loss
    cases = []
    for i in range(40):
        classes = sorted(rng.choice(["airport", "bus", "metro", "metro_station", "park",
                                     "public_square", "shopping_mall", "street_pedestrian",
                                     "street_traffic", "tram"],
                                    size=int(rng.integers(2, 11)), replace=False).tolist())
        n = int(rng.integers(3, 120))
        ref = rng.choice(classes, size=n).tolist()
        probs = rng.dirichlet(np.ones(len(classes)) * rng.uniform(0.2, 3), size=n)
        if i % 4 == 0:  # over-confident outputs hit the clipping
            probs = np.eye(len(classes))[rng.integers(0, len(classes), size=n)]
        est = [classes[k] for k in probs.argmax(axis=1)]
        name = f"scenes_{i:03d}"
        with open(root / f"{name}_ref.tsv", "w") as f:
            f.write("filename\tscene_label\n")
            for k, r in enumerate(ref):
                f.write(f"audio/item-{k:04d}.wav\t{r}\n")
        with open(root / f"{name}_out.tsv", "w") as f:
            f.write("filename\tscene_label\t" + "\t".join(classes) + "\n")
            for k, (e, p) in enumerate(zip(est, probs)):
                f.write(f"audio/item-{k:04d}.wav\t{e}\t" + "\t".join(repr(float(v)) for v in p) + "\n")
        m = sed_eval.scene.SceneClassificationMetrics(scene_labels=classes)
        m.evaluate(reference_scene_list=[{"filename": f"audio/item-{k:04d}.wav", "scene_label": r}
                                         for k, r in enumerate(ref)],
                   estimated_scene_list=[{"filename": f"audio/item-{k:04d}.wav", "scene_label": e}
                                         for k, e in enumerate(est)])
        r = m.results()
        ll = float(log_loss(ref, probs, labels=classes))
        cw_ll = {}
        for c in classes:
            idx = [k for k, x in enumerate(ref) if x == c]
            cw_ll[c] = fnum(log_loss([ref[k] for k in idx], probs[idx], labels=classes)) if idx else "nan"
        cases.append(dict(name=name, ref=f"{name}_ref.tsv", out=f"{name}_out.tsv", classes=classes,
                          overall_accuracy=fnum(r["overall"]["accuracy"]),
                          macro_accuracy=fnum(r["class_wise_average"]["accuracy"]["accuracy"]),
                          class_wise={c: fnum(v["accuracy"]["accuracy"])
                                      for c, v in r["class_wise"].items()},
                          log_loss=ll, class_wise_log_loss=cw_ll))
    return cases


# ----------------------------------------------------------------------------------------------
# Loaders


def loader_fixtures(rng, root):
    out = {}
    # AudioSet: class list with quoted names holding commas, ontology, segment CSVs, strong TSV.
    d = root / "audioset"
    d.mkdir()
    n_cls = 12
    names = ["Speech", "Male speech, man speaking", 'Say "hi"', "Dog", "Bark, woof",
             "Music", "Guitar", "Rain", "Engine, motor", "Silence", "Field recording", "Cat"]
    mids = [f"/m/0{k:03x}x" if k % 3 else f"/t/dd00{k:03d}" for k in range(n_cls)]
    with open(d / "class_labels_indices.csv", "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL)
        w.writerow(["index", "mid", "display_name"])
        for k in range(n_cls):
            f.write(f'{k},{mids[k]},"{names[k].replace(chr(34), chr(34) * 2)}"\n')
    with open(d / "class_labels_indices.csv") as f:
        rows = list(csv.reader(f))[1:]
    out["class_labels"] = dict(path="audioset/class_labels_indices.csv",
                               rows=[[int(r[0]), r[1], r[2]] for r in rows])
    onto = []
    for k in range(n_cls):
        onto.append(dict(id=mids[k], name=names[k], description=f"desc {k}", citation_uri="",
                         positive_examples=[f"youtu.be/abc{k}?start=30&end=40"],
                         child_ids=[mids[j] for j in range(n_cls) if j > k and j % (k + 2) == 0][:3],
                         restrictions=["abstract"] if k % 5 == 0 else []))
    (d / "ontology.json").write_text(json.dumps(onto, indent=1))
    children = {c for n in onto for c in n["child_ids"]}
    out["ontology"] = dict(path="audioset/ontology.json", n=len(onto),
                           roots=[n["id"] for n in onto if n["id"] not in children])
    ytids = ["-0RWZT-miFs", "abc_def-123", "Zz9_-aaaaaa", "--xy_z12345", "q1w2e3r4t5y",
             "0000000000A", "-_-_-_-_-_-"]
    lines = ["# Segments csv created Sun Mar  5 10:54:25 2017",
             "# num_ytids=7, num_segs=7, num_unique_labels=12, num_positive_labels=13",
             "# YTID, start_seconds, end_seconds, positive_labels"]
    segs = []
    issues = []
    for k, y in enumerate(ytids):
        start = float(rng.integers(0, 50) * 10)
        labs = [mids[j] for j in sorted(rng.choice(n_cls, size=int(rng.integers(1, 4)), replace=False))]
        if k == 5:
            labs = labs + ["/m/unknown"]
            issues.append(dict(line=len(lines) + 1, kind="unknown_label"))
        sep = ", " if k != 3 else ","  # one re-saved row without spaces
        lines.append(sep.join([y, f"{start:.3f}", f"{start + 10:.3f}", '"' + ",".join(labs) + '"']))
        segs.append(dict(ytid=y, start=start, end=start + 10, labels=labs, line=len(lines)))
    (d / "eval_segments.csv").write_text("\n".join(lines) + "\n")
    out["segments"] = dict(path="audioset/eval_segments.csv", rows=segs, issues=issues)
    # Local audio for some of them, named by different tools.
    audio = d / "audio"
    audio.mkdir()
    present = {}
    for k, s in enumerate(segs):
        if k % 3 == 0:
            name = f"Y{s['ytid']}.wav"
        elif k % 3 == 1:
            name = f"Y{s['ytid']}_{s['start']:.3f}_{s['end']:.3f}.wav"
        else:
            continue
        (audio / name).write_bytes(b"")
        present[k] = name
    out["local"] = dict(dir="audioset/audio", found={str(k): v for k, v in present.items()},
                        missing=[k for k in range(len(segs)) if k not in present])
    with open(d / "audioset_eval_strong.tsv", "w") as f:
        f.write("segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n")
        for s in segs:
            for j in range(2):
                on = t3(rng, 0, 8)
                f.write(f"{s['ytid']}_{int(s['start'] * 1000)}\t{on}\t{round(on + 1.5, 3)}\t{s['labels'][0]}\n")
    strong = pd.read_csv(d / "audioset_eval_strong.tsv", sep="\t")
    out["strong"] = dict(path="audioset/audioset_eval_strong.tsv",
                         rows=[[r.segment_id, float(r.start_time_seconds), float(r.end_time_seconds),
                                r.label] for r in strong.itertuples()])

    # DESED layout with problems: empty rows, event past end, overlap, unknown label.
    d = root / "desed" / "metadata" / "validation"
    d.mkdir(parents=True)
    rows = [("Ya_30.000_40.000.wav", 0.5, 3.25, "Speech"),
            ("Ya_30.000_40.000.wav", 2.0, 4.0, "Speech"),        # overlaps the previous
            ("Yb_0.000_9.000.wav", "", "", ""),                  # clip without events
            ("Yb_0.000_9.000.wav", 8.0, 9.5, "Dog"),             # past the end (9.0)
            ("", "", "", ""),                                    # empty row
            ("Yc_10.000_20.000.wav", 1.0, 2.0, "Unicorn"),       # unknown label
            ("Yc_10.000_20.000.wav", 3.0, "x", "Cat"),           # malformed
            ("Yc_10.000_20.000.wav", 5.0, 4.0, "Cat"),           # onset after offset
            ("Yd_0.000_10.000.wav", 2.0, 3.0, "Cat"),
            ("Yd_0.000_10.000.wav", 3.0, 4.0, "Cat")]            # touches the previous
    with open(d / "validation.tsv", "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")
    with open(d / "validation_durations.tsv", "w") as f:
        f.write("filename\tduration\n")
        for fn, du in (("Ya_30.000_40.000.wav", 10.0), ("Yb_0.000_9.000.wav", 9.0),
                       ("Yc_10.000_20.000.wav", 10.0), ("Yd_0.000_10.000.wav", 10.0)):
            f.write(f"{fn}\t{du}\n")
    with open(d / "weak.tsv", "w") as f:
        f.write("filename\tevent_labels\nYa.wav\tAlarm_bell_ringing,Speech\nYb.wav\tDog\n")
    df = pd.read_csv(d / "validation.tsv", sep="\t")
    good = []
    for k, r in enumerate(df.itertuples()):
        try:
            on, off = float(r.onset), float(r.offset)
        except (TypeError, ValueError):
            continue
        if isinstance(r.event_label, str) and not (math.isnan(on) or math.isnan(off)):
            good.append([r.filename, on, off, r.event_label, k + 2])
    out["desed"] = dict(path="desed/metadata/validation/validation.tsv",
                        durations="desed/metadata/validation/validation_durations.tsv",
                        weak="desed/metadata/validation/weak.tsv",
                        events=good, files=sorted(df.filename.dropna().unique().tolist()),
                        issue_lines=dict(overlap=[3, 11], past_end=[5], empty_row=[6],
                                         unknown_label=[7], malformed=[8], bad_interval=[9]))

    # TAU 2020 Mobile layout.
    d = root / "tau"
    (d / "evaluation_setup").mkdir(parents=True)
    meta = []
    for k in range(30):
        scene = ["airport", "bus", "park"][k % 3]
        dev = ["a", "b", "c", "s1"][k % 4]
        meta.append((f"audio/{scene}-lisbon-{k // 3}-{k}-{dev}.wav", scene, f"lisbon-{k // 3}", dev))
    for name, rows_, cols in (("meta.csv", meta, 4), ("evaluation_setup/fold1_train.csv", meta[:20], 2),
                              ("evaluation_setup/fold1_evaluate.csv", meta[20:], 2),
                              ("evaluation_setup/fold1_test.csv", meta[20:], 1)):
        header = ["filename", "scene_label", "identifier", "source_label"][:cols]
        with open(d / name, "w") as f:
            f.write("\t".join(header) + "\n")
            for r in rows_:
                f.write("\t".join(r[:cols]) + "\n")
    m = pd.read_csv(d / "meta.csv", sep="\t")
    out["tau"] = dict(meta="tau/meta.csv", root="tau",
                      rows=m[["filename", "scene_label", "identifier", "source_label"]].values.tolist())

    # ESC-50, UrbanSound8K, FSD50K.
    d = root / "esc50" / "meta"
    d.mkdir(parents=True)
    with open(d / "esc50.csv", "w") as f:
        f.write("filename,fold,target,category,esc10,src_file,take\n")
        for k in range(20):
            f.write(f"{k % 5 + 1}-{100000 + k}-A-{k % 7}.wav,{k % 5 + 1},{k % 7},cat_{k % 7},"
                    f"{'True' if k % 2 else 'False'},{100000 + k},A\n")
    e = pd.read_csv(d / "esc50.csv")
    out["esc50"] = dict(path="esc50/meta/esc50.csv",
                        rows=[[r.filename, int(r.fold), int(r.target), r.category, bool(r.esc10)]
                              for r in e.itertuples()])
    d = root / "urbansound8k" / "metadata"
    d.mkdir(parents=True)
    with open(d / "UrbanSound8K.csv", "w") as f:
        f.write("slice_file_name,fsID,start,end,salience,fold,classID,class\n")
        for k in range(20):
            s = t3(rng, 0, 100)
            f.write(f"{1000 + k}-{k % 10}-0-{k}.wav,{1000 + k},{s},{round(s + 4, 3)},{k % 2 + 1},"
                    f"{k % 10 + 1},{k % 10},class_{k % 10}\n")
    u = pd.read_csv(d / "UrbanSound8K.csv")
    out["urbansound8k"] = dict(path="urbansound8k/metadata/UrbanSound8K.csv",
                               rows=[[r.slice_file_name, float(r.start), float(r.end), int(r.fold),
                                      int(r.classID), r._8] for r in u.itertuples()])
    d = root / "fsd50k" / "FSD50K.ground_truth"
    d.mkdir(parents=True)
    with open(d / "dev.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["fname", "labels", "mids", "split"])
        for k in range(15):
            labs = [f"Label_{j}" for j in range(k % 3 + 1)]
            w.writerow([str(5000 + k), ",".join(labs), ",".join(f"/m/0{j}" for j in range(k % 3 + 1)),
                        "train" if k % 4 else "val"])
    with open(d / "vocabulary.csv", "w", newline="") as f:
        w = csv.writer(f)
        for j in range(3):
            w.writerow([j, f"Label_{j}", f"/m/0{j}"])
    fs = pd.read_csv(d / "dev.csv")
    out["fsd50k"] = dict(path="fsd50k/FSD50K.ground_truth/dev.csv",
                         vocabulary="fsd50k/FSD50K.ground_truth/vocabulary.csv",
                         rows=[[str(r.fname), r.labels.split(","), r.mids.split(","), r.split]
                               for r in fs.itertuples()])
    return out


# ----------------------------------------------------------------------------------------------


def fingerprint() -> str:
    import importlib.metadata as md
    h = hashlib.sha256(Path(__file__).read_bytes())
    for pkg in ("numpy", "pandas", "scikit-learn", "scipy", "sed_eval", "psds-eval",
                "sed_scores_eval", "dcase_util"):
        h.update(f"{pkg}={md.version(pkg)}".encode())
    return h.hexdigest()


def main():
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen-metrics] up to date: {manifest_path}")
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    rng = np.random.default_rng(20240611)
    tagging, tagging_cli = tagging_cases(rng, OUT)
    print(f"[gen-metrics] {len(tagging)} tagging cases")
    scenes = scene_cases(rng, OUT)
    print(f"[gen-metrics] {len(scenes)} scene cases")
    loaders = loader_fixtures(rng, OUT)
    edges = collar_edge_cases(OUT)
    sed = sed_cases(rng, OUT)
    all_files = all_files_case(rng, OUT)
    import importlib.metadata as md
    manifest = dict(
        fingerprint=fp,
        reference={pkg: md.version(pkg) for pkg in ("scikit-learn", "scipy", "sed_eval", "psds-eval",
                                                    "sed_scores_eval", "numpy", "pandas")},
        psds_params=PSDS_PARAMS, tagging=tagging, tagging_cli=tagging_cli, sed=sed,
        sed_edges=edges, sed_all_files=all_files, scenes=scenes, loaders=loaders,
        python=sys.version.split()[0],
    )
    manifest_path.write_text(json.dumps(manifest, indent=1, allow_nan=False))
    print(f"[gen-metrics] wrote {len(tagging)} tagging, {len(sed)} SED, {len(scenes)} scene cases "
          f"to {OUT}")


if __name__ == "__main__":
    main()
