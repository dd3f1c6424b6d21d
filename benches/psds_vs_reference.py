#!/usr/bin/env python3
"""PSDS side by side: `earshot eval sed` against sed_scores_eval and psds_eval.

Builds a DESED-validation-sized input (default 1168 clips, 10 classes, 156 frames of 64 ms,
about 3,300 ground-truth events; 50 operating points decoded with `score > t` as the DESED
baseline does), then times, on the same files:

* sed_scores_eval `intersection_based.psds` (PSDS1 and PSDS2, every threshold) against
  `earshot eval sed --scores DIR --psds1 --psds2`;
* sed_scores_eval `intersection_based.bootstrapped_psds` (PSDS1, 5 folds × 20 iterations)
  with `confidence_interval` against `earshot eval sed --scores DIR --psds1 --bootstrap`;
* sed_scores_eval `intersection_based.median_filter_independent_psds` (piPSDS1 over median
  filters of 0, 0.2, 0.5 and 1 s) against `earshot eval sed --scores DIR --psds1
  --median-filters 0,0.2,0.5,1`, and `bootstrapped_median_filter_independent_psds` (its default
  5 folds × 4) against the same with `--bootstrap`;
* sed_scores_eval `collar_based.best_fscore` (0.2 s collars, 20 % offset), `segment_based.
  best_fscore` (1 s) and `clip_based.best_fscore` against `earshot eval sed --scores DIR
  --collar-based | --segment-based | --clip-based`;
* psds_eval `PSDSEval` over the 50 operating points (PSDS1 and PSDS2) against
  `earshot eval sed --predictions OPS_DIR --psds1 --psds2`.

psds_eval is slow (minutes at full size); `--psds-eval-files N` runs that comparison on the
first N clips only (earshot is timed on the same subset). Values are printed beside the times
so the agreement is visible too. Run with the project venv after `cargo build --release --workspace`:

    ~/.cache/earshot/venv/bin/python benches/psds_vs_reference.py [--files 1168] \
        [--psds-eval-files 1168] [--earshot PATH] [--only pi]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import gen_metrics as g  # noqa: E402


def write_set(d: Path, files, durations, gt, scores, classes, n_thresholds):
    (d / "scores").mkdir(parents=True)
    (d / "ops").mkdir()
    g.write_strong(d / "gt.tsv", files, gt)
    with open(d / "durations.tsv", "w") as f:
        f.write("filename\tduration\n")
        for fname in files:
            f.write(f"{fname}\t{durations[fname]!r}\n")
    for fname in files:
        ts, sc = scores[fname]
        with open(d / "scores" / (fname.rsplit(".", 1)[0] + ".tsv"), "w") as f:
            f.write("onset\toffset\t" + "\t".join(classes) + "\n")
            for i in range(sc.shape[0]):
                f.write(f"{float(ts[i])!r}\t{float(ts[i + 1])!r}\t" + "\t".join(repr(float(v)) for v in sc[i]) + "\n")
    thresholds = np.arange(1 / (n_thresholds * 2), 1, 1 / n_thresholds)
    for t in thresholds:
        g.write_detections(d / "ops" / f"op_{t:.6f}.tsv", g.decode(scores, classes, t))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def earshot_run(binary, args):
    out = subprocess.run([binary, "eval", "sed", *args, "--json"], check=True,
                         capture_output=True, text=True)
    v = json.loads(out.stdout)
    return v["psds1"]["value"], v["psds2"]["value"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1168)
    ap.add_argument("--psds-eval-files", type=int, default=1168)
    ap.add_argument("--thresholds", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=["pi", "curves"],
                    help="time piPSDS only, or the collar/segment/clip-based curves only")
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--earshot", default=str(Path(target) / "release" / "earshot"))
    args = ap.parse_args()

    rng = np.random.default_rng(7)
    classes = g.CLASS_POOL
    files, durations, gt, scores = g.make_sed_case(rng, args.files, classes, quantise=False,
                                                   class_prob=0.36)
    n_events = sum(len(v) for v in gt.values())
    print(f"input: {len(files)} clips, {n_events} events, {len(classes)} classes, "
          f"{g.N_FRAMES} frames, {args.thresholds} operating points")
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full"
        write_set(full, files, durations, gt, scores, classes, args.thresholds)
        from sed_scores_eval import intersection_based

        def sse():
            out = []
            for p in (g.PSDS_PARAMS["psds1"], g.PSDS_PARAMS["psds2"]):
                out.append(intersection_based.psds(
                    scores=str(full / "scores"), ground_truth=str(full / "gt.tsv"),
                    audio_durations=str(full / "durations.tsv"), dtc_threshold=p["dtc"],
                    gtc_threshold=p["gtc"], cttc_threshold=p["cttc"] if p["alpha_ct"] else None,
                    alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])[0])
            return out

        if args.only is None:
            plain_psds(args, full, sse)
        if args.only in (None, "pi"):
            pipsds(args, full)
        if args.only in (None, "curves"):
            curves(args, full)
        if args.only is not None:
            return
        bootstrap_and_psds_eval(args, tmp, files, durations, gt, scores, classes)


FILTERS = [0.0, 0.2, 0.5, 1.0]


def pipsds(args, full):
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.bootstrap import confidence_interval
    p = g.PSDS_PARAMS["psds1"]
    inputs = dict(ground_truth=str(full / "gt.tsv"), audio_durations=str(full / "durations.tsv"),
                  median_filter_lengths_in_sec=FILTERS, dtc_threshold=p["dtc"],
                  gtc_threshold=p["gtc"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])
    ours = [args.earshot, "eval", "sed", "--ground-truth", str(full / "gt.tsv"), "--durations",
            str(full / "durations.tsv"), "--scores", str(full / "scores"), "--psds1",
            "--median-filters", ",".join(str(f) for f in FILTERS), "--json"]

    def run(extra=()):
        out = subprocess.run(ours + list(extra), check=True, capture_output=True, text=True)
        return json.loads(out.stdout)["psds1"]["pi"]

    t_ref, v_ref = timed(lambda: intersection_based.median_filter_independent_psds(
        str(full / "scores"), **inputs)[0])
    t_ours, v_ours = min((timed(run) for _ in range(args.repeat)), key=lambda x: x[0])
    print(f"sed_scores_eval piPSDS1 ({len(FILTERS)} median filters): {t_ref:8.2f} s  {v_ref:.12f}")
    print(f"earshot --median-filters                 : {t_ours:8.2f} s  {v_ours['value']:.12f}"
          f"  -> {t_ref / t_ours:.0f}x faster, |Δ| {abs(v_ref - v_ours['value']):.1e}")
    t_ref, ci_ref = timed(lambda: confidence_interval(list(
        intersection_based.bootstrapped_median_filter_independent_psds(
            str(full / "scores"), **inputs)[0])))
    t_ours, b = min((timed(lambda: run(["--bootstrap"])) for _ in range(args.repeat)),
                    key=lambda x: x[0])
    ci_ours = (b["bootstrap"]["mean"], b["bootstrap"]["low"], b["bootstrap"]["high"])
    print(f"sed_scores_eval bootstrapped piPSDS1 (5x4): {t_ref:8.2f} s  mean/low/high "
          + " ".join(f"{v:.12f}" for v in ci_ref))
    print(f"earshot --median-filters --bootstrap     : {t_ours:8.2f} s  mean/low/high "
          + " ".join(f"{v:.12f}" for v in ci_ours)
          + f"  -> {t_ref / t_ours:.0f}x faster, max |Δ| "
          f"{max(abs(a - b) for a, b in zip(ci_ref, ci_ours)):.1e}")


def curves(args, full):
    """Best F1 over every threshold: collar-, segment- and clip-based."""
    from sed_scores_eval import clip_based, collar_based, segment_based
    common = dict(scores=str(full / "scores"), ground_truth=str(full / "gt.tsv"))
    kinds = [
        ("collar", lambda: collar_based.best_fscore(
            **common, onset_collar=0.2, offset_collar=0.2, offset_collar_rate=0.2), "collar_based"),
        ("segment", lambda: segment_based.best_fscore(
            **common, audio_durations=str(full / "durations.tsv"), segment_length=1.0),
         "segment_based_curves"),
        ("clip", lambda: clip_based.best_fscore(**common), "clip_based"),
    ]
    for kind, ref, key in kinds:
        t_ref, out = timed(ref)
        v_ref = out[0]["macro_average"]
        cmd = [args.earshot, "eval", "sed", "--ground-truth", str(full / "gt.tsv"), "--durations",
               str(full / "durations.tsv"), "--scores", str(full / "scores"), f"--{kind}-based",
               "--json"]

        def run():
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            return json.loads(out.stdout)[key]["best_macro"]["f"]

        t_ours, v_ours = min((timed(run) for _ in range(args.repeat)), key=lambda x: x[0])
        print(f"sed_scores_eval {kind}_based best F1: {t_ref:8.2f} s  {v_ref:.12f}")
        print(f"earshot --{kind}-based{' ' * (15 - len(kind))}: {t_ours:8.2f} s  {v_ours:.12f}"
              f"  -> {t_ref / t_ours:.0f}x faster, |Δ| {abs(v_ref - v_ours):.1e}")


def plain_psds(args, full, sse):
    t_ref, v_ref = timed(sse)
    ours = ["--ground-truth", str(full / "gt.tsv"), "--durations", str(full / "durations.tsv"),
            "--scores", str(full / "scores"), "--psds1", "--psds2"]
    t_ours = min(timed(lambda: earshot_run(args.earshot, ours))[0] for _ in range(args.repeat))
    v_ours = earshot_run(args.earshot, ours)
    print(f"sed_scores_eval: {t_ref:8.2f} s  PSDS1 {v_ref[0]:.12f}  PSDS2 {v_ref[1]:.12f}")
    print(f"earshot        : {t_ours:8.2f} s  PSDS1 {v_ours[0]:.12f}  PSDS2 {v_ours[1]:.12f}"
          f"  -> {t_ref / t_ours:.0f}x faster, max |Δ| "
          f"{max(abs(a - b) for a, b in zip(v_ref, v_ours)):.1e}")


def bootstrap_and_psds_eval(args, tmp, files, durations, gt, scores, classes):
    from sed_scores_eval import intersection_based
    full = Path(tmp) / "full"
    from sed_scores_eval.base_modules.bootstrap import confidence_interval

    def boot():
        p = g.PSDS_PARAMS["psds1"]
        values = intersection_based.bootstrapped_psds(
            scores=str(full / "scores"), ground_truth=str(full / "gt.tsv"),
            audio_durations=str(full / "durations.tsv"), dtc_threshold=p["dtc"],
            gtc_threshold=p["gtc"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])[0]
        return confidence_interval(list(values))

    def boot_ours():
        out = subprocess.run([args.earshot, "eval", "sed", "--ground-truth", str(full / "gt.tsv"),
                              "--durations", str(full / "durations.tsv"), "--scores",
                              str(full / "scores"), "--psds1", "--bootstrap", "--json"],
                             check=True, capture_output=True, text=True)
        b = json.loads(out.stdout)["psds1"]["bootstrap"]
        return b["mean"], b["low"], b["high"]

    t_ref, ci_ref = timed(boot)
    t_ours, ci_ours = min((timed(boot_ours) for _ in range(args.repeat)), key=lambda x: x[0])
    print(f"sed_scores_eval bootstrapped PSDS1 (5x20): {t_ref:8.2f} s  mean/low/high "
          + " ".join(f"{v:.12f}" for v in ci_ref))
    print(f"earshot --bootstrap                     : {t_ours:8.2f} s  mean/low/high "
          + " ".join(f"{v:.12f}" for v in ci_ours)
          + f"  -> {t_ref / t_ours:.0f}x faster, max |Δ| "
          f"{max(abs(a - b) for a, b in zip(ci_ref, ci_ours)):.1e}")

    sub = Path(tmp) / "sub"
    keep = files[: args.psds_eval_files]
    write_set(sub, keep, durations, gt, {f: scores[f] for f in keep}, classes, args.thresholds)
    from psds_eval import PSDSEval
    gt_df = pd.read_csv(sub / "gt.tsv", sep="\t")
    dur_df = pd.read_csv(sub / "durations.tsv", sep="\t")
    ops = [pd.read_csv(p, sep="\t") for p in sorted((sub / "ops").glob("*.tsv"))]

    def pe():
        out = []
        for p in (g.PSDS_PARAMS["psds1"], g.PSDS_PARAMS["psds2"]):
            e = PSDSEval(p["dtc"], p["gtc"], p["cttc"], ground_truth=gt_df, metadata=dur_df)
            for op in ops:
                e.add_operating_point(op)
            out.append(e.psds(p["alpha_ct"], p["alpha_st"], p["max_efpr"]).value)
        return out

    t_ref, v_ref = timed(pe)
    ours = ["--ground-truth", str(sub / "gt.tsv"), "--durations", str(sub / "durations.tsv"),
            "--predictions", str(sub / "ops"), "--psds1", "--psds2"]
    t_ours = min(timed(lambda: earshot_run(args.earshot, ours))[0] for _ in range(args.repeat))
    v_ours = earshot_run(args.earshot, ours)
    print(f"psds_eval ({len(keep)} clips): {t_ref:8.2f} s  PSDS1 {v_ref[0]:.12f}  PSDS2 {v_ref[1]:.12f}")
    print(f"earshot   ({len(keep)} clips): {t_ours:8.2f} s  PSDS1 {v_ours[0]:.12f}  PSDS2 {v_ours[1]:.12f}"
          f"  -> {t_ref / t_ours:.0f}x faster, max |Δ| "
          f"{max(abs(a - b) for a, b in zip(v_ref, v_ours)):.1e}")


if __name__ == "__main__":
    main()
