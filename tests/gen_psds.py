#!/usr/bin/env python3
"""Reference values for the DCASE metric suite beyond the PSDS1/PSDS2 presets: bootstrapped
PSDS with confidence intervals, exactly as `sed_scores_eval.intersection_based.bootstrapped_psds`
and `base_modules.bootstrap.confidence_interval` (sed_scores_eval 0.0.4) compute them, on the
score tables `tests/gen_metrics.py` wrote (so it runs after it).

For several SED cases (2 to 6 classes, folds that can leave a class without ground truth) and
several parameter sets (PSDS1, PSDS2, psds_eval's README example, a cross-trigger-only one),
with the default 5 folds × 20 iterations and with 3 × 7: the PSDS and per-class PSDS of every
fold, and the (mean, low, high) intervals at confidence 0.9 and 0.8. Output:
tests/data/generated/psds/manifest.json. Idempotent (fingerprint of this file, the metric
manifest and the packages).
"""

import hashlib
import json
import math
import shutil
import warnings
from pathlib import Path

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


def fnum(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    return x


def fingerprint() -> str:
    import importlib.metadata as md
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update((METRICS / "manifest.json").read_bytes())
    for pkg in ("numpy", "sed_scores_eval"):
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
    manifest_path.write_text(json.dumps(dict(
        fingerprint=fp, reference={"sed_scores_eval": md.version("sed_scores_eval")},
        params=PARAMS, cases=cases), indent=1, allow_nan=False))


if __name__ == "__main__":
    main()
