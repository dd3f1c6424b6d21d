#!/usr/bin/env python3
"""Make the sed_eval fixtures: event, scene and tag lists in every layout sed_eval reads, and
what sed_eval 0.2.1 (through dcase_util 0.2.20) reports on them.

* Event lists: each case is written as a DESED TSV, a headerless 4-column list with tab,
  space and semicolon delimiters, a comma-separated CSV with a header, a headerless 5-column
  comma list (`filename scene onset offset label`), per-recording 3-column files (tab `.ann`
  for the reference; Audacity label tracks, with their `\\` frequency lines, for the system)
  and a Raven selection table. `sed_eval.io.load_event_list`
  must read every sed_eval layout back as the same events (checked here); the metrics are run
  on what it read, file by file, over a sweep of parameters: event-based collars, offset
  percentages, onset-only / offset-only, greedy and optimal matching, zero_score; segment-based
  segment lengths and evaluated lengths (latest offset, a fixed length, per-file durations).
  Every number of `results()` and the whole `str(metrics)` report are kept.
* Tag lists (`filename tags`, tags `;`-separated) with probabilities (long and wide layouts):
  `sed_eval.audio_tag.AudioTaggingMetrics` results and report.
* Scene lists (`filename scene`, comma and tab) from two systems: `SceneClassificationMetrics`
  results and report, `sed_eval.test.mcnemar` and scipy's χ² p-value.

Cases include a class without system output, recordings without reference events, an empty
system output, a single class, events on the collar's edge, and tied probabilities. Output:
tests/data/generated/sed_eval/ with manifest.json. Idempotent (fingerprint of this file and
the packages).
"""

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np

from gen_metrics import fnum  # noqa: E402  (tests/ is the script's folder)

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "sed_eval"

warnings.filterwarnings("ignore")


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)) or v is None:
        return fnum(v)
    return v


# ----------------------------------------------------------------------------------------------
# Event lists


def t3(rng, lo, hi):
    return round(float(rng.uniform(lo, hi)), 3)


def make_events(rng, n_files, classes, empty_system=False, edge=False):
    """(files, durations, reference, estimated): events per recording stem."""
    files, durations, ref, est = [], {}, {}, {}
    for k in range(n_files):
        stem = f"rec{k:03d}"
        files.append(stem)
        dur = float(rng.choice([10.0, 10.0, 12.5, 8.0]))
        durations[stem] = dur
        events = []
        if k % 5 != 3:  # some recordings have no reference events
            for c in classes:
                t = t3(rng, 0.0, 2.0)
                while rng.random() < 0.6 and t < dur - 0.3:
                    off = round(min(t + t3(rng, 0.2, 3.0), dur), 3)
                    events.append((t, off, c))
                    t = round(off + t3(rng, 0.1, 2.0), 3)
        events.sort()
        ref[stem] = events
        sys_events = []
        if not empty_system:
            for on, off, c in events:
                if rng.random() < 0.15:
                    continue  # deletion
                if edge:
                    # Collars' edges: 0.2 exactly (|2.2 - 2.0| > 0.2 in doubles), 50 % length.
                    on2 = round(on + float(rng.choice([0.2, -0.2, 0.1, 0.25])), 3)
                    off2 = round(off + float(rng.choice([0.2, 0.5 * (off - on), -0.3])), 3)
                else:
                    on2 = round(on + rng.normal(0, 0.25), 3)
                    off2 = round(off + rng.normal(0, 0.4), 3)
                on2 = max(on2, 0.0)
                if off2 <= on2:
                    off2 = round(on2 + 0.1, 3)
                lab = c if rng.random() > 0.1 else str(rng.choice(classes))
                sys_events.append((on2, off2, lab))
            for _ in range(int(rng.integers(0, 3))):  # insertions
                on2 = t3(rng, 0.0, dur - 1.0)
                sys_events.append((on2, round(on2 + t3(rng, 0.2, 1.5), 3), str(rng.choice(classes))))
            if classes and len(classes) > 2:  # one class the system never outputs
                sys_events = [e for e in sys_events if e[2] != classes[-1]]
        sys_events.sort()
        est[stem] = sys_events
    return files, durations, ref, est


def write_formats(root, name, files, ref, est):
    """Every layout of one case; returns {format: (reference path, estimate path)} relative
    to OUT. Clip names: `<stem>.wav`, or the stem itself in per-recording files."""
    d = root / name
    d.mkdir(parents=True)
    out = {}

    def rows(table):
        for stem in files:
            for on, off, lab in table[stem]:
                yield f"{stem}.wav", on, off, lab

    for side, table in (("ref", ref), ("est", est)):
        with open(d / f"{side}_desed.tsv", "w") as f:
            f.write("filename\tonset\toffset\tevent_label\n")
            for stem in files:
                if not table[stem]:
                    f.write(f"{stem}.wav\t\t\t\n")
                for on, off, lab in table[stem]:
                    f.write(f"{stem}.wav\t{on!r}\t{off!r}\t{lab}\n")
        with open(d / f"{side}_four.txt", "w") as f:
            for stem in files:
                if not table[stem]:
                    f.write(f"{stem}.wav\n")
                for on, off, lab in table[stem]:
                    f.write(f"{stem}.wav\t{on!r}\t{off!r}\t{lab}\n")
        for fmt, sep in (("space", " "), ("semicolon", ";")):
            with open(d / f"{side}_{fmt}.txt", "w") as f:
                for stem in files:
                    if not table[stem]:
                        f.write(f"{stem}.wav\n")
                    for on, off, lab in table[stem]:
                        f.write(sep.join([f"{stem}.wav", repr(on), repr(off), lab]) + "\n")
        with open(d / f"{side}_header.csv", "w") as f:
            f.write("filename,onset,offset,event_label\n")
            for stem in files:
                if not table[stem]:
                    f.write(f"{stem}.wav,,,\n")
                for on, off, lab in table[stem]:
                    f.write(f"{stem}.wav,{on!r},{off!r},{lab}\n")
        with open(d / f"{side}_five.txt", "w") as f:
            for stem in files:
                if not table[stem]:
                    f.write(f"{stem}.wav\n")
                for on, off, lab in table[stem]:
                    f.write(f"{stem}.wav,home,{on!r},{off!r},{lab}\n")
        with open(d / f"{side}_raven.txt", "w") as f:
            f.write("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\t"
                    "High Freq (Hz)\tAnnotation\tBegin Path\tFile Offset (s)\n")
            for i, (fn, on, off, lab) in enumerate(rows(table)):
                f.write(f"{i + 1}\tSpectrogram 1\t1\t{on!r}\t{off!r}\t0.0\t8000.0\t{lab}\t"
                        f"/data/audio/{fn}\t{on!r}\n")
        per = d / f"{side}_per_recording"
        per.mkdir()
        for stem in files:
            if side == "ref":
                with open(per / f"{stem}.ann", "w") as f:
                    for on, off, lab in table[stem]:
                        f.write(f"{on!r}\t{off!r}\t{lab}\n")
            else:  # Audacity label track: tab-separated, with spectral-selection lines
                with open(per / f"{stem}.txt", "w") as f:
                    for on, off, lab in table[stem]:
                        f.write(f"{on!r}\t{off!r}\t{lab}\n")
                        f.write("\\\t100.000000\t5000.000000\n")
    rel = lambda p: str(p.relative_to(OUT))
    for fmt in ("desed.tsv", "four.txt", "space.txt", "semicolon.txt", "header.csv", "five.txt",
                "raven.txt"):
        out[fmt.split(".")[0]] = (rel(d / f"ref_{fmt}"), rel(d / f"est_{fmt}"))
    out["per_recording"] = (rel(d / "ref_per_recording"), rel(d / "est_per_recording"))
    return out


def check_dcase_util_reads(path, files, table, per_recording=False, **kw):
    """sed_eval.io.load_event_list must read a layout back as exactly these events (csv's
    sniffer misses commas in some files; dcase_util then needs `delimiter=','`)."""
    import sed_eval
    want = sorted((s if per_recording else f"{s}.wav", on, off, lab)
                  for s in files for on, off, lab in table[s])
    got = []
    paths = sorted(Path(path).iterdir()) if per_recording else [Path(path)]
    for p in paths:
        if per_recording and p.suffix == ".txt":
            continue  # Audacity's `\\` lines are not sed_eval's
        for item in sed_eval.io.load_event_list(str(p), **kw):
            if item.event_label is None:
                continue
            name = p.stem if per_recording else item.filename
            got.append((name, float(item.onset), float(item.offset), item.event_label))
    got.sort()
    if per_recording:
        want = sorted(w for w in want if w[0] in {p.stem for p in paths if p.suffix == ".ann"})
    assert got == want, f"dcase_util reads {path} differently: {got[:3]} vs {want[:3]}"


EVENT_PARAMS = [
    dict(name="desed", t_collar=0.2, percentage_of_length=0.2, evaluate_onset=True,
         evaluate_offset=True, event_matching_type="optimal", empty_system_output_handling="zero_score"),
    dict(name="sed_eval_defaults", t_collar=0.2, percentage_of_length=0.5, evaluate_onset=True,
         evaluate_offset=True, event_matching_type="optimal", empty_system_output_handling=None),
    dict(name="onset_only", t_collar=0.25, percentage_of_length=0.5, evaluate_onset=True,
         evaluate_offset=False, event_matching_type="optimal", empty_system_output_handling=None),
    dict(name="offset_only", t_collar=0.1, percentage_of_length=0.3, evaluate_onset=False,
         evaluate_offset=True, event_matching_type="optimal", empty_system_output_handling="zero_score"),
    dict(name="greedy", t_collar=0.2, percentage_of_length=0.5, evaluate_onset=True,
         evaluate_offset=True, event_matching_type="greedy", empty_system_output_handling=None),
    dict(name="wide_collar", t_collar=1.5, percentage_of_length=0.0, evaluate_onset=True,
         evaluate_offset=True, event_matching_type="greedy", empty_system_output_handling="zero_score"),
]

SEGMENT_PARAMS = [
    dict(name="one_second", time_resolution=1.0, evaluated_length="latest"),
    dict(name="half_second", time_resolution=0.5, evaluated_length="latest"),
    dict(name="durations", time_resolution=0.25, evaluated_length="durations"),
    dict(name="fixed_long", time_resolution=2.0, evaluated_length=15.0),
    dict(name="fixed_short", time_resolution=0.1, evaluated_length=5.0),
]


def sound_event_results(m):
    r = m.results()
    return jsonable(r)


def run_event_case(files, durations, ref, est, classes):
    """sed_eval on lists read by sed_eval.io from the 4-column layout, file by file."""
    import sed_eval
    results = {}
    per_file = {s: ([dict(filename=f"{s}.wav", onset=on, offset=off, event_label=lab)
                     for on, off, lab in ref[s]],
                    [dict(filename=f"{s}.wav", onset=on, offset=off, event_label=lab)
                     for on, off, lab in est[s]]) for s in files}
    for p in EVENT_PARAMS:
        kw = {k: v for k, v in p.items() if k != "name"}
        m = sed_eval.sound_event.EventBasedMetrics(event_label_list=classes, **kw)
        for s in files:
            m.evaluate(*per_file[s])
        results[f"event_{p['name']}"] = dict(kind="event", params=p, results=sound_event_results(m),
                                            report=str(m))
    for p in SEGMENT_PARAMS:
        m = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=classes,
                                                     time_resolution=p["time_resolution"])
        for s in files:
            length = p["evaluated_length"]
            length = None if length == "latest" else (durations[s] if length == "durations" else length)
            m.evaluate(*per_file[s], evaluated_length_seconds=length)
        results[f"segment_{p['name']}"] = dict(kind="segment", params=p,
                                              results=sound_event_results(m), report=str(m))
    return results


def event_cases(rng, root):
    import sed_eval
    cases = []
    specs = [
        ("main", 12, ["car", "dog_bark", "speech", "Electric_shaver_toothbrush"], {}),
        ("single_class", 6, ["bird"], {}),
        ("empty_system", 5, ["alarm", "door"], dict(empty_system=True)),
        ("collar_edges", 8, ["alpha", "beta", "gamma"], dict(edge=True)),
    ]
    for name, n, classes, kw in specs:
        files, durations, ref, est = make_events(rng, n, classes, **kw)
        formats = write_formats(root, name, files, ref, est)
        for side, table in ((0, ref), (1, est)):
            check_dcase_util_reads(OUT / formats["four"][side], files, table)
            check_dcase_util_reads(OUT / formats["five"][side], files, table, delimiter=",")
            check_dcase_util_reads(OUT / formats["space"][side], files, table, delimiter=" ")
            check_dcase_util_reads(OUT / formats["semicolon"][side], files, table, delimiter=";")
            check_dcase_util_reads(OUT / formats["header"][side], files, table)
        check_dcase_util_reads(OUT / formats["per_recording"][0], files, ref, per_recording=True)
        labels = sorted({e[2] for t in (ref, est) for s in files for e in t[s]})
        durations_path = root / name / "durations.tsv"
        with open(durations_path, "w") as f:
            f.write("filename\tduration\n")
            for s in files:
                f.write(f"{s}.wav\t{durations[s]!r}\n")
        cases.append(dict(
            name=name, formats=formats, classes=labels,
            durations=str(durations_path.relative_to(OUT)),
            events={"ref": {s: ref[s] for s in files}, "est": {s: est[s] for s in files}},
            metrics=run_event_case(files, durations, ref, est, labels),
        ))
    return cases


# ----------------------------------------------------------------------------------------------
# Tags


def tag_cases(rng, root):
    import dcase_util
    import sed_eval
    cases = []
    for name, n_files, tags, kw in [("main", 24, ["bird", "car", "dog", "music", "speech"], {}),
                                    ("sparse", 10, ["a", "b", "c"], dict(sparse=True))]:
        d = root / f"tags_{name}"
        d.mkdir()
        files = [f"clip{k:03d}.wav" for k in range(n_files)]
        ref, est, prob = {}, {}, {}
        for k, f in enumerate(files):
            if kw.get("sparse"):
                r = ["a"] if k % 2 else []  # "b" never in the reference, "c" in every clip? no
                r += ["c"]
            else:
                r = sorted(set(rng.choice(tags, size=int(rng.integers(0, 3)), replace=False)))
            ref[f] = sorted(r)
            e = [t for t in tags if (t in r) != (rng.random() < 0.2)]
            est[f] = sorted(e)
            for t in tags:
                base = 0.7 if t in r else 0.3
                prob[(f, t)] = round(float(np.clip(base + rng.normal(0, 0.25), 0, 1)), 1)  # ties
        with open(d / "ref.txt", "w") as fh:
            for f in files:
                fh.write(f"{f}\t{';'.join(ref[f])};\n" if ref[f] else f"{f}\t\n")
        with open(d / "est.csv", "w") as fh:
            for f in files:
                fh.write(f"{f},{';'.join(est[f])}\n")
        with open(d / "prob_long.txt", "w") as fh:
            for f in files:
                for t in tags:
                    fh.write(f"{f}\t{t}\t{prob[(f, t)]!r}\n")
        with open(d / "prob_wide.tsv", "w") as fh:
            fh.write("filename\t" + "\t".join(tags) + "\n")
            for f in files:
                fh.write(f + "\t" + "\t".join(repr(prob[(f, t)]) for t in tags) + "\n")
        with open(d / "weak.tsv", "w") as fh:  # the same reference as DESED writes weak labels
            fh.write("filename\tevent_labels\n")
            for f in files:
                fh.write(f"{f}\t{','.join(ref[f])}\n")
        from sklearn.metrics import average_precision_score
        ap = [average_precision_score([t in ref[f] for f in files], [prob[(f, t)] for f in files])
              for t in tags]
        all_tags = sorted(set(tags) & ({t for v in ref.values() for t in v}
                                       | {t for v in est.values() for t in v}))
        reference = dcase_util.containers.MetaDataContainer(
            [dict(filename=f, tags=";".join(ref[f])) for f in files])
        estimated = dcase_util.containers.MetaDataContainer(
            [dict(filename=f, tags=";".join(est[f])) for f in files])
        probs = dcase_util.containers.ProbabilityContainer(
            [dict(filename=f, label=t, probability=prob[(f, t)]) for f in files for t in all_tags])
        m = sed_eval.audio_tag.AudioTaggingMetrics(tags=all_tags)
        m.evaluate(reference_tag_list=reference, estimated_tag_list=estimated,
                   estimated_tag_probabilities=probs)
        rel = lambda p: str(p.relative_to(OUT))
        cases.append(dict(name=name, tags=all_tags, ref=rel(d / "ref.txt"), est=rel(d / "est.csv"),
                          prob_long=rel(d / "prob_long.txt"), prob_wide=rel(d / "prob_wide.tsv"),
                          weak=rel(d / "weak.tsv"), sklearn_map=float(np.mean(ap)),
                          results=jsonable(m.results()), report=str(m)))
    return cases


# ----------------------------------------------------------------------------------------------
# Scenes


def scene_cases(rng, root):
    import scipy.stats
    import sed_eval
    d = root / "scenes"
    d.mkdir()
    scenes = ["bus", "park", "street_traffic", "tram"]
    files = [f"audio/item{k:03d}.wav" for k in range(40)]
    ref = {f: str(rng.choice(scenes)) for f in files}
    sys_a = {f: (ref[f] if rng.random() < 0.7 else str(rng.choice(scenes))) for f in files}
    sys_b = {f: (ref[f] if rng.random() < 0.5 else str(rng.choice(scenes))) for f in files}
    with open(d / "ref.txt", "w") as fh:
        for f in files:
            fh.write(f"{f},{ref[f]}\n")
    for name, table in (("a", sys_a), ("b", sys_b)):
        with open(d / f"sys_{name}.txt", "w") as fh:
            for f in files:
                fh.write(f"{f}\t{table[f]}\n")
    reference = sed_eval.io.load_scene_list(str(d / "ref.txt"), delimiter=",")
    estimated = sed_eval.io.load_scene_list(str(d / "sys_a.txt"))
    assert [i.scene_label for i in reference] == [ref[f] for f in files]
    labels = sorted(set(ref.values()))
    m = sed_eval.scene.SceneClassificationMetrics(scene_labels=labels)
    m.evaluate(reference_scene_list=reference, estimated_scene_list=estimated)
    y = [ref[f] for f in files]
    stat = sed_eval.test.mcnemar(y, [sys_a[f] for f in files], [sys_b[f] for f in files])
    rel = lambda p: str(p.relative_to(OUT))
    return dict(ref=rel(d / "ref.txt"), sys_a=rel(d / "sys_a.txt"), sys_b=rel(d / "sys_b.txt"),
                results=jsonable(m.results()), report=str(m), mcnemar=float(stat),
                mcnemar_p=float(scipy.stats.chi2.sf(stat, 1)))


def fingerprint() -> str:
    import importlib.metadata as md
    h = hashlib.sha256(Path(__file__).read_bytes())
    for pkg in ("numpy", "scipy", "scikit-learn", "sed_eval", "dcase_util"):
        h.update(f"{pkg}={md.version(pkg)}".encode())
    return h.hexdigest()


def main():
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen-sed-eval] up to date: {manifest_path}")
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    rng = np.random.default_rng(20261203)
    events = event_cases(rng, OUT)
    tags = tag_cases(rng, OUT)
    scenes = scene_cases(rng, OUT)
    import importlib.metadata as md
    manifest = dict(fingerprint=fp, reference={p: md.version(p) for p in ("sed_eval", "dcase_util")},
                    events=events, tags=tags, scenes=scenes)
    manifest_path.write_text(json.dumps(manifest, indent=1, allow_nan=False))
    n = sum(len(c["metrics"]) for c in events)
    print(f"[gen-sed-eval] {len(events)} event cases ({n} metric runs), {len(tags)} tag cases, "
          f"1 scene case -> {OUT}")


if __name__ == "__main__":
    main()
