#!/usr/bin/env python3
"""Reference values for the DCASE metric suite beyond the PSDS1/PSDS2 presets: bootstrapped
PSDS with confidence intervals, exactly as `sed_scores_eval.intersection_based.bootstrapped_psds`
and `base_modules.bootstrap.confidence_interval` (sed_scores_eval 0.0.4) compute them, on the
score tables `tests/gen_metrics.py` wrote (so it runs after it).

For several SED cases (2 to 6 classes, folds that can leave a class without ground truth) and
several parameter sets (PSDS1, PSDS2, psds_eval's README example, a cross-trigger-only one),
with the default 5 folds × 20 iterations and with 3 × 7: the PSDS and per-class PSDS of every
fold, and the (mean, low, high) intervals at confidence 0.9 and 0.8; post-processing- and
median-filter-independent PSDS (`intersection_based.pipsds`, `pipsds_case`); `unit_of_time` and
`time_decimals` (`units_case`); clip- and segment-based AP and F1 (`clip_case`). Output:
tests/data/generated/psds/manifest.json. Idempotent (fingerprint of this file, the metric
manifest and the packages).
"""

import hashlib
import json
import shutil
import warnings
from pathlib import Path

from gen_metrics import fnum  # noqa: E402  (tests/ is the script's folder)

HERE = Path(__file__).resolve().parent
GEN = HERE / "data" / "generated"
OUT = GEN / "psds"
METRICS = GEN / "metrics"

warnings.filterwarnings("ignore")

PARAMS = dict(
    psds1=dict(dtc=0.7, gtc=0.7, cttc=0.3, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0),
    psds2=dict(dtc=0.1, gtc=0.1, cttc=0.3, alpha_ct=0.5, alpha_st=1.0, max_efpr=100.0),
    readme=dict(dtc=0.5, gtc=0.5, cttc=0.3, alpha_ct=0.0, alpha_st=0.0, max_efpr=100.0),
    ct_only=dict(dtc=0.5, gtc=0.5, cttc=0.3, alpha_ct=1.0, alpha_st=0.0, max_efpr=50.0),
)
CASES = ["sed_001", "sed_002", "sed_010", "sed_033", "sed_036"]
SETTINGS = [(5, 20), (3, 7)]


def merge_case():
    """A ground truth with overlapping and touching same-class events (as real DCASE releases
    have), and the references run on its union."""
    import numpy as np
    import pandas as pd
    from psds_eval import PSDSEval
    from sed_scores_eval import intersection_based
    d = METRICS / "sed_010"
    out = OUT / "merge"
    out.mkdir()
    gt = pd.read_csv(d / "gt.tsv", sep="\t")
    dur = pd.read_csv(d / "durations.tsv", sep="\t")
    length = dict(zip(dur.filename, dur.duration))
    rows = []
    for k, r in enumerate(gt.itertuples(index=False)):
        rows.append((r.filename, r.onset, r.offset, r.event_label))
        if pd.isna(r.event_label):
            continue
        if k % 3 == 0:  # overlapping
            on = round(r.onset + 0.3 * (r.offset - r.onset), 3)
            rows.append((r.filename, on, round(min(r.offset + 0.5, length[r.filename]), 3), r.event_label))
        elif k % 7 == 1 and r.offset + 0.4 <= length[r.filename]:  # touching
            rows.append((r.filename, r.offset, round(r.offset + 0.4, 3), r.event_label))
    with open(out / "gt_overlap.tsv", "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        for fn, on, off, lab in rows:
            if isinstance(lab, float):
                f.write(f"{fn}\t\t\t\n")
            else:
                f.write(f"{fn}\t{on!r}\t{off!r}\t{lab}\n")
    # The union, computed here independently: sort each clip's class by onset, join while the
    # next starts at or before the running end.
    merged, n_merged = [], 0
    for (fn, lab), g in pd.DataFrame(rows, columns=["f", "on", "off", "lab"]).dropna().groupby(["f", "lab"]):
        cur = None
        for on, off in sorted(zip(g.on, g.off)):
            if cur is not None and on <= cur[1]:
                cur[1] = max(cur[1], off)
                n_merged += 1
            else:
                if cur is not None:
                    merged.append((fn, cur[0], cur[1], lab))
                cur = [on, off]
        merged.append((fn, cur[0], cur[1], lab))
    with_events = {m[0] for m in merged}
    with open(out / "gt_merged.tsv", "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        for fn, on, off, lab in merged:
            f.write(f"{fn}\t{on!r}\t{off!r}\t{lab}\n")
        for fn in dict.fromkeys(gt.filename):
            if fn not in with_events:
                f.write(f"{fn}\t\t\t\n")
    merged_df = pd.read_csv(out / "gt_merged.tsv", sep="\t")
    p = PARAMS["psds1"]
    psds = PSDSEval(p["dtc"], p["gtc"], p["cttc"], ground_truth=merged_df, metadata=dur)
    for op in sorted((d / "ops").glob("*.tsv")):
        psds.add_operating_point(pd.read_csv(op, sep="\t"))
    pe = psds.psds(alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"]).value
    sse, *_ = intersection_based.psds(
        scores=str(d / "scores"), ground_truth=str(out / "gt_merged.tsv"),
        audio_durations=str(d / "durations.tsv"), dtc_threshold=p["dtc"], gtc_threshold=p["gtc"],
        alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])
    rel = lambda x: str(x.relative_to(GEN))
    return dict(gt=rel(out / "gt_overlap.tsv"), case="sed_010", n_merged=n_merged,
                psds_eval_psds1=float(pe), sed_scores_eval_psds1=float(sse))


def selection_case():
    """psds_eval's select_operating_points_per_class on one case's operating points, each
    added with its threshold as info, for every constraint kind per class (one not
    achievable), with α_ct 0 and 0.5."""
    import pandas as pd
    from psds_eval import PSDSEval
    d = METRICS / "sed_010"
    gt = pd.read_csv(d / "gt.tsv", sep="\t")
    dur = pd.read_csv(d / "durations.tsv", sep="\t")
    p = PARAMS["psds1"]
    ops = sorted((d / "ops").glob("*.tsv"))
    classes = sorted(gt.event_label.dropna().unique())
    out = []
    for alpha_ct in (0.0, 0.5):
        e = PSDSEval(p["dtc"], p["gtc"], p["cttc"], ground_truth=gt, metadata=dur)
        for op in ops:
            e.add_operating_point(pd.read_csv(op, sep="\t"), info={"file": op.name})
        rows = []
        for c in classes:
            rows += [(c, "tpr", 0.5), (c, "fpr", 30.0), (c, "efpr", 30.0), (c, "fscore", 0.0)]
        rows.append((classes[0], "tpr", 1.01))
        table = pd.DataFrame(rows, columns=["class_name", "constraint", "value"])
        sel = e.select_operating_points_per_class(table, alpha_ct=alpha_ct)
        out.append(dict(alpha_ct=alpha_ct, constraints=[list(r) for r in rows], selected=[
            dict(TPR=fnum(r.TPR), FPR=fnum(r.FPR), eFPR=fnum(r.eFPR), Fscore=fnum(r.Fscore),
                 file=None if pd.isna(r.file) else r.file) for r in sel.itertuples()]))
    return dict(case="sed_010", runs=out)


def class_roc_case():
    """Per-class PSD-ROCs: psds_eval's `psd_roc_curves(alpha_ct)` TPR vs eFPR (PSDS2's
    parameters) over operating points, and sed_scores_eval's single-class ROCs (PSDS1)."""
    import pandas as pd
    from psds_eval import PSDSEval
    from sed_scores_eval import intersection_based
    d = METRICS / "sed_010"
    gt = pd.read_csv(d / "gt.tsv", sep="\t")
    dur = pd.read_csv(d / "durations.tsv", sep="\t")
    p = PARAMS["psds2"]
    e = PSDSEval(p["dtc"], p["gtc"], p["cttc"], ground_truth=gt, metadata=dur)
    for op in sorted((d / "ops").glob("*.tsv")):
        e.add_operating_point(pd.read_csv(op, sep="\t"))
    _, _, tpr_efpr = e.psd_roc_curves(alpha_ct=p["alpha_ct"])
    classes = sorted(gt.event_label.dropna().unique())
    q = PARAMS["psds1"]
    *_, rocs = intersection_based.psds(
        scores=str(d / "scores"), ground_truth=str(d / "gt.tsv"),
        audio_durations=str(d / "durations.tsv"), dtc_threshold=q["dtc"], gtc_threshold=q["gtc"],
        alpha_st=q["alpha_st"], max_efpr=q["max_efpr"])
    return dict(case="sed_010", psds_eval=dict(
        efpr=[fnum(x) for x in tpr_efpr.xp],
        tpr={c: [fnum(x) for x in tpr_efpr.yp[k]] for k, c in enumerate(classes)}),
        sed_scores_eval={c: dict(tpr=[fnum(x) for x in r[0]], efpr=[fnum(x) for x in r[1]])
                         for c, r in rocs.items()})


PI_CASES = ["sed_010", "sed_033", "sed_001", "sed_016"]
PI_FILTERS = [0.0, 0.2, 0.5, 1.0]
PI_PARAMS = ["psds1", "psds2", "readme"]


def pipsds_case():
    """Post-processing-independent PSDS (`intersection_based.pipsds`): for each case and
    scenario, `median_filter_independent_psds` over PI_FILTERS (value, per class, the pi-PSD-ROC,
    every class's pi-ROC with the threshold and filter of each point, each filter's own PSDS);
    the median-filtered tables of one case (`medfilt`), written to folders and scored again
    with `postprocessing_independent_psds(scores_processed=folders)`; and
    `bootstrapped_median_filter_independent_psds` (its default 5 folds × 4 iterations) with its
    confidence interval."""
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.bootstrap import confidence_interval
    from sed_scores_eval.base_modules.postprocessing import medfilt
    from sed_scores_eval.intersection_based.psds import psds_from_psd_roc
    runs = []
    kw = lambda p: dict(
        dtc_threshold=p["dtc"], gtc_threshold=p["gtc"],
        cttc_threshold=p["cttc"] if p["alpha_ct"] > 0 else None,
        alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])
    manifest = json.loads((METRICS / "manifest.json").read_text())
    for name in PI_CASES:
        d = METRICS / name
        n_classes = len(manifest["sed"][int(name[4:])]["classes"])
        inputs = dict(ground_truth=str(d / "gt.tsv"), audio_durations=str(d / "durations.tsv"))
        for pname in PI_PARAMS:
            p = PARAMS[pname]
            if p["alpha_ct"] > 0 and n_classes < 2:
                continue
            value, per_class, roc, class_rocs, psd_rocs, _ = \
                intersection_based.median_filter_independent_psds(
                    str(d / "scores"), **inputs, median_filter_lengths_in_sec=PI_FILTERS, **kw(p))
            run = dict(case=name, params=pname, value=fnum(value),
                       per_class={k: fnum(v) for k, v in per_class.items()},
                       roc=dict(etpr=[fnum(x) for x in roc[0]], efpr=[fnum(x) for x in roc[1]]),
                       class_rocs={k: dict(tpr=[fnum(x) for x in r[0]], efpr=[fnum(x) for x in r[1]],
                                           threshold=[fnum(x) for x in r[2]],
                                           postprocessing=[int(x) for x in r[3]])
                                   for k, r in class_rocs.items()},
                       per_filter=[fnum(psds_from_psd_roc(t, e, p["max_efpr"])) for t, e in psd_rocs])
            if name == PI_CASES[0] and pname in ("psds1", "psds2"):
                values, per_class_b, *_ = intersection_based.bootstrapped_median_filter_independent_psds(
                    str(d / "scores"), **inputs, median_filter_lengths_in_sec=PI_FILTERS, **kw(p))
                run["bootstrap"] = dict(
                    n_folds=5, n_iterations=4, values=[fnum(v) for v in values],
                    per_class=[{k: fnum(v) for k, v in pc.items()} for pc in per_class_b],
                    ci=[fnum(v) for v in confidence_interval(list(values), confidence=0.9)])
            runs.append(run)
    # The filtered tables as files, scored again from the folders.
    name = PI_CASES[0]
    d = METRICS / name
    dirs = []
    for length in PI_FILTERS[1:]:
        out = OUT / "pipsds" / name / f"medfilt_{length}"
        medfilt(str(d / "scores"), length, storage_dir=out)
        dirs.append(out)
    p = PARAMS["psds1"]
    value, per_class, *_ = intersection_based.postprocessing_independent_psds(
        None, str(d / "gt.tsv"), str(d / "durations.tsv"), postprocessing_functions=None,
        scores_processed=[str(d / "scores")] + [str(x) for x in dirs], **kw(p),
        # sed_scores_eval 0.0.4 hands each set num_jobs // len(sets) jobs, 0 from 1: give one each.
        num_jobs=len(dirs) + 1)
    folders = dict(case=name, params="psds1", dirs=[str(x.relative_to(GEN)) for x in dirs],
                   filters=PI_FILTERS[1:], value=fnum(value),
                   per_class={k: fnum(v) for k, v in per_class.items()})
    return dict(filters=PI_FILTERS, runs=runs, folders=folders)


UNIT_PARAMS = dict(
    per_minute=dict(dtc=0.5, gtc=0.5, cttc=0.3, alpha_ct=0.0, alpha_st=0.0, max_efpr=2.0,
                    unit_of_time="minute", time_decimals=6),
    per_second_ct=dict(dtc=0.1, gtc=0.1, cttc=0.3, alpha_ct=0.5, alpha_st=1.0, max_efpr=0.05,
                       unit_of_time="second", time_decimals=6),
    decimals_2=dict(dtc=0.7, gtc=0.7, cttc=0.3, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0,
                    unit_of_time="hour", time_decimals=2),
    decimals_1_ct=dict(dtc=0.3, gtc=0.3, cttc=0.3, alpha_ct=1.0, alpha_st=0.5, max_efpr=60.0,
                       unit_of_time="minute", time_decimals=1),
)


def units_case():
    """sed_scores_eval's `unit_of_time` and `time_decimals` (`intersection_based.psds`) on two
    cases, each with and without cross triggers: PSDS and per-class PSDS."""
    from sed_scores_eval import intersection_based
    out = []
    for name in ("sed_010", "sed_033"):
        d = METRICS / name
        for pname, p in UNIT_PARAMS.items():
            value, per_class, *_ = intersection_based.psds(
                scores=str(d / "scores"), ground_truth=str(d / "gt.tsv"),
                audio_durations=str(d / "durations.tsv"), dtc_threshold=p["dtc"],
                gtc_threshold=p["gtc"], cttc_threshold=p["cttc"] if p["alpha_ct"] > 0 else None,
                alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"],
                unit_of_time=p["unit_of_time"], time_decimals=p["time_decimals"])
            out.append(dict(case=name, params=pname, value=fnum(value),
                            per_class={k: fnum(v) for k, v in per_class.items()}))
    return dict(params=UNIT_PARAMS, runs=out)


CLIP_CASES = ["sed_010", "sed_033", "sed_001", "sed_016", "sed_002", "sed_036"]


def clip_case(segment_length=None):
    """sed_scores_eval's clip-based metrics (`clip_based`), segment-based ones
    (`segment_based`, segments of `segment_length` s) or collar-based ones (`collar_based`,
    DESED's 0.2 s collars and 20 % offset, with `segment_length="collar"`; its AP from
    the base module's `average_precision_from_intermediate_statistics`): average precision, best F1 with its
    thresholds (macro and micro averages), F1 at 0.5 and at 0.3; a case the reference refuses
    (a class without events) is recorded as refused."""
    from sed_scores_eval import clip_based, collar_based, segment_based
    from sed_scores_eval.base_modules.precision_recall import \
        average_precision_from_intermediate_statistics
    import sed_scores_eval.collar_based.intermediate_statistics  # noqa: F401
    import numpy as np
    from importlib import import_module
    # The packages export functions named like these modules: import the modules themselves.
    clip_er, collar_er, segment_er = (import_module(f"sed_scores_eval.{m}.error_rate")
                                      for m in ("clip_based", "collar_based", "segment_based"))
    out = []
    for name in CLIP_CASES:
        d = METRICS / name
        kw = dict(scores=str(d / "scores"), ground_truth=str(d / "gt.tsv"))
        module = clip_based
        if segment_length == "collar":
            module = collar_based
            kw.update(onset_collar=0.2, offset_collar=0.2, offset_collar_rate=0.2)
        elif segment_length is not None:
            module = segment_based
            kw.update(audio_durations=str(d / "durations.tsv"), segment_length=segment_length)
        try:
            if module is collar_based:
                stats, _ = collar_based.intermediate_statistics.accumulated_intermediate_statistics(**kw)
                ap, _ = average_precision_from_intermediate_statistics(stats)
            else:
                ap, _ = module.average_precision(**kw)
        except ValueError as e:
            out.append(dict(case=name, refused=str(e)))
            continue
        f, p, r, thr, _ = module.best_fscore(**kw)
        run = dict(case=name, ap={k: fnum(v) for k, v in ap.items()},
                   best={k: [fnum(f[k]), fnum(p[k]), fnum(r[k])] for k in f},
                   thresholds={k: fnum(v) for k, v in thr.items()}, at={},
                   segment_length=segment_length)
        if module is not collar_based:
            # The reference's staircase re-sorts its (FPR, TPR)-sorted points with numpy's
            # unstable argsort, which reorders tied FPRs by machine: run it with a stable sort.
            argsort = np.argsort
            np.argsort = lambda a, *args, **kws: argsort(a, kind="stable")
            try:
                auroc, _ = module.auroc(**kw)
            finally:
                np.argsort = argsort
            run["roc_auc"] = {k: fnum(v) for k, v in auroc.items()}
        er_module = {clip_based: clip_er, segment_based: segment_er, collar_based: collar_er}[module]
        er, ir, dr, er_thr, _ = er_module.best_error_rate(**kw)
        run["best_er"] = {k: [fnum(er[k]), fnum(ir[k]), fnum(dr[k])] for k in er}
        run["er_thresholds"] = {k: fnum(v) for k, v in er_thr.items()}
        run["er_at"] = {}
        for t in (0.5, 0.3):
            f, p, r, _ = module.fscore(**kw, threshold=t)
            run["at"][str(t)] = {k: [fnum(f[k]), fnum(p[k]), fnum(r[k])] for k in f}
            er, ir, dr, _ = er_module.error_rate(**kw, threshold=t)
            run["er_at"][str(t)] = {k: [fnum(er[k]), fnum(ir[k]), fnum(dr[k])] for k in er}
        out.append(run)
    return out


def fingerprint() -> str:
    import importlib.metadata as md
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update((METRICS / "manifest.json").read_bytes())
    for pkg in ("numpy", "pandas", "sed_scores_eval", "psds_eval"):
        h.update(f"{pkg}={md.version(pkg)}".encode())
    return h.hexdigest()


def main():
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.bootstrap import confidence_interval
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen-psds] up to date: {manifest_path}")
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    cases = []
    for name in CASES:
        d = METRICS / name
        n_classes = len(json.loads((METRICS / "manifest.json").read_text())["sed"][int(name[4:])]["classes"])
        runs = []
        for pname, p in PARAMS.items():
            if p["alpha_ct"] > 0 and n_classes < 2:
                continue
            for n_folds, n_iterations in SETTINGS:
                values, per_class, *_ = intersection_based.bootstrapped_psds(
                    scores=str(d / "scores"), ground_truth=str(d / "gt.tsv"),
                    audio_durations=str(d / "durations.tsv"),
                    dtc_threshold=p["dtc"], gtc_threshold=p["gtc"],
                    cttc_threshold=p["cttc"] if p["alpha_ct"] > 0 else None,
                    alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"],
                    n_folds=n_folds, n_iterations=n_iterations)
                runs.append(dict(
                    params=pname, n_folds=n_folds, n_iterations=n_iterations,
                    values=[fnum(v) for v in values],
                    per_class=[{k: fnum(v) for k, v in pc.items()} for pc in per_class],
                    ci={str(c): [fnum(v) for v in confidence_interval(list(values), confidence=c)]
                        for c in (0.9, 0.8)},
                    class_ci={k: [fnum(x) for x in v]
                              for k, v in confidence_interval(list(per_class)).items()},
                ))
        cases.append(dict(name=name, dir=name, runs=runs))
        print(f"[gen-psds] {name}: {len(runs)} bootstrapped runs")
    import importlib.metadata as md
    merge = merge_case()
    selection = selection_case()
    class_rocs = class_roc_case()
    pipsds = pipsds_case()
    units = units_case()
    clips = clip_case()
    segments = clip_case(1.0) + clip_case(0.37)
    collars = clip_case("collar")
    print(f"[gen-psds] clip-based: {sum('ap' in c for c in clips)} cases, {sum('refused' in c for c in clips)} refused")
    print(f"[gen-psds] pipsds: {len(pipsds['runs'])} runs")
    print(f"[gen-psds] merge: {merge['n_merged']} events merged")
    manifest_path.write_text(json.dumps(dict(
        fingerprint=fp, reference={"sed_scores_eval": md.version("sed_scores_eval"),
                                   "psds_eval": md.version("psds_eval")},
        params=PARAMS, cases=cases, merge=merge, selection=selection,
        class_rocs=class_rocs, pipsds=pipsds, units=units, clip_based=clips, segment_based=segments,
        collar_based=collars), indent=1, allow_nan=False))


if __name__ == "__main__":
    main()
