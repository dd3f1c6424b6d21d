#!/usr/bin/env python3
"""Small datasets in the official layouts, for `earshot eval run` end to end.

Each dataset is laid out exactly as distributed (file names, folders, metadata columns), with
audio made here by sox (tones, noise, clicks) and espeak-ng (speech), and events at known times:

- desed/    DCASE Task 4: audio/eval/public/*.wav, metadata/eval/public.tsv (strong labels) and
            public_durations.tsv; one clip without events, one event touching the end.
- audioset/ eval_segments.csv (three comment lines, quoted mid lists), class_labels_indices.csv,
            audio/eval/Y<YTID>.wav; one listed segment has no audio.
- fsd50k/   FSD50K.ground_truth/{vocabulary,eval}.csv, FSD50K.eval_audio/<fname>.wav.
- esc50/    meta/esc50.csv and audio/<fold>-<src>-<take>-<target>.wav, five folds, three classes
            that differ acoustically (noise, clicks, tones) so a linear probe can separate them.
- tau2022/  meta.csv, evaluation_setup/fold1_{train,evaluate,test}.csv, audio/<scene>-...wav
            (1-s clips at 44.1 kHz, as the 2022 Mobile development set).

Output: tests/data/generated/datasets/ (git-ignored). Idempotent: nothing is redone when the
manifest was written by this version of the script.
"""

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "datasets"
LABELS = HERE.parent / "datasets" / "audioset" / "class_labels_indices.csv"


def sox(*args):
    subprocess.run(["sox", "-D", *map(str, args)], check=True, capture_output=True)


def tone(path, seconds, freq, rate=32000, gain=-12):
    sox("-n", "-r", rate, "-c", 1, "-b", 16, path, "synth", seconds, "sine", freq, "gain", gain)


def noise(path, seconds, colour="pinknoise", rate=32000, gain=-18):
    sox("-n", "-r", rate, "-c", 1, "-b", 16, path, "synth", seconds, colour, "gain", gain)


def clicks(path, seconds, per_second, rate=32000):
    # A 5-ms burst of square wave every 1/per_second seconds.
    period = 1.0 / per_second
    sox("-n", "-r", rate, "-c", 1, "-b", 16, path, "synth", 0.005, "square", 2000, "gain", -6,
        "pad", 0, period - 0.005, "repeat", max(int(seconds * per_second) - 1, 0),
        "trim", 0, seconds)


def speech(path, text, rate=32000):
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
    sox(raw, "-r", rate, "-c", 1, "-b", 16, path)
    raw.unlink()


def mix(path, seconds, background, events, rate=32000):
    """`background` (a file) with each (file, onset) placed at its onset, cut to `seconds`."""
    parts = [background]
    tmp = []
    for i, (f, onset) in enumerate(events):
        placed = path.with_suffix(f".part{i}.wav")
        sox(f, placed, "pad", onset, 0, "trim", 0, seconds)
        tmp.append(placed)
        parts.append(placed)
    if len(parts) == 1:
        shutil.copy(background, path)
    else:
        sox("-m", *parts, "-r", rate, "-c", 1, "-b", 16, path, "trim", 0, seconds)
    for p in tmp:
        p.unlink()


def audioset_mids():
    with open(LABELS, newline="") as f:
        rows = list(csv.reader(f))[1:]
    return {name: mid for _, mid, name in rows}


def desed(root, work):
    audio = root / "audio" / "eval" / "public"
    audio.mkdir(parents=True)
    (root / "metadata" / "eval").mkdir(parents=True)
    seconds = 4.0
    sources = {
        "Speech": lambda p, d: speech(p, "The kettle is on and the dog is asleep."),
        "Alarm_bell_ringing": lambda p, d: tone(p, d, 2800, gain=-8),
        "Blender": lambda p, d: noise(p, d, "whitenoise", gain=-10),
        "Dishes": lambda p, d: clicks(p, d, 6),
        "Running_water": lambda p, d: noise(p, d, "brownnoise", gain=-10),
        "Cat": lambda p, d: sox("-n", "-r", 32000, "-c", 1, "-b", 16, p, "synth", d, "sine",
                                "500-900", "gain", -10),
        "Dog": lambda p, d: clicks(p, d, 3),
        "Electric_shaver_toothbrush": lambda p, d: sox("-n", "-r", 32000, "-c", 1, "-b", 16, p,
                                                       "synth", d, "sawtooth", 150, "gain", -14),
        "Frying": lambda p, d: sox("-n", "-r", 32000, "-c", 1, "-b", 16, p, "synth", d,
                                   "whitenoise", "highpass", 3000, "gain", -12),
        "Vacuum_cleaner": lambda p, d: sox("-n", "-r", 32000, "-c", 1, "-b", 16, p, "synth", d,
                                           "brownnoise", "synth", d, "sine", "amod", 90,
                                           "gain", -10),
    }
    clips = [
        ("Y0001.wav", [("Speech", 0.5, None), ("Alarm_bell_ringing", 2.5, 1.0)]),
        ("Y0002.wav", [("Blender", 0.0, 1.5), ("Dishes", 2.0, 1.2)]),
        ("Y0003.wav", [("Running_water", 1.0, 3.0)]),  # touches the end of the file
        ("Y0004.wav", []),  # no events
        ("Y0005.wav", [("Alarm_bell_ringing", 0.2, 0.8), ("Speech", 1.5, None)]),
        ("Y0006.wav", [("Dishes", 0.3, 1.0), ("Blender", 2.2, 1.0)]),
        ("Y0007.wav", [("Cat", 0.4, 1.1), ("Dog", 2.0, 1.5)]),
        ("Y0008.wav", [("Electric_shaver_toothbrush", 0.0, 2.0), ("Frying", 1.0, 2.5)]),
        ("Y0009.wav", [("Vacuum_cleaner", 0.5, 3.5)]),
    ]
    rows = []
    for name, events in clips:
        bg = work / f"bg_{name}"
        noise(bg, seconds, "pinknoise", gain=-40)
        placed = []
        for k, (label, onset, dur) in enumerate(events):
            src = work / f"{name}_{k}.wav"
            sources[label](src, dur or 0)
            length = float(subprocess.run(["soxi", "-D", str(src)], check=True,
                                          capture_output=True, text=True).stdout)
            offset = min(onset + length, seconds)
            placed.append((src, onset))
            rows.append((name, onset, round(offset, 3), label))
        mix(audio / name, seconds, bg, placed)
    with open(root / "metadata" / "eval" / "public.tsv", "w") as f:
        f.write("filename\tonset\toffset\tevent_label\n")
        for name, on, off, label in rows:
            f.write(f"{name}\t{on}\t{off}\t{label}\n")
    with open(root / "metadata" / "eval" / "public_durations.tsv", "w") as f:
        f.write("filename\tduration\n")
        for name, _ in clips:
            f.write(f"{name}\t{seconds}\n")
    return {"clips": len(clips), "events": len(rows)}


def audioset(root, work):
    mids = audioset_mids()
    audio = root / "audio" / "eval"
    audio.mkdir(parents=True)
    shutil.copy(LABELS, root / "class_labels_indices.csv")
    segs = [
        ("--aaaaaaaaa", 30.0, ["Speech", "Male speech, man speaking"], "speech"),
        ("-bbbbbbbbbb", 0.0, ["Sine wave"], "tone"),
        ("ccccccccccc", 10.0, ["White noise"], "white"),
        ("ddddddddddd", 5.0, ["Pink noise"], "pink"),
        ("eeeeeeeeeee", 0.0, ["Tick"], "clicks"),
        ("fffffffffff", 20.0, ["Sine wave", "Beep, bleep"], None),  # no audio
    ]
    with open(root / "eval_segments.csv", "w") as f:
        f.write("# Segments csv created Sun Mar  5 10:54:31 2017\n")
        f.write(f"# num_ytids={len(segs)}, num_segs={len(segs)}, num_unique_labels=8, "
                f"num_positive_labels=9\n")
        f.write("# YTID, start_seconds, end_seconds, positive_labels\n")
        for ytid, start, names, _ in segs:
            labels = ",".join(mids[n] for n in names)
            f.write(f'{ytid}, {start:.3f}, {start + 10:.3f}, "{labels}"\n')
    for ytid, _, _, kind in segs:
        path = audio / f"Y{ytid}.wav"
        if kind == "speech":
            speech(path, "Tagging is listening with labels.")
        elif kind == "tone":
            tone(path, 3, 660)
        elif kind in ("white", "pink"):
            noise(path, 3, f"{kind}noise")
        elif kind == "clicks":
            clicks(path, 3, 4)
    return {"segments": len(segs), "missing": 1}


def fsd50k(root, work):
    mids = audioset_mids()
    gt = root / "FSD50K.ground_truth"
    audio = root / "FSD50K.eval_audio"
    gt.mkdir(parents=True)
    audio.mkdir(parents=True)
    vocab = [("Speech", "Speech"), ("Sine_wave", "Sine wave"), ("White_noise", "White noise"),
             ("Tick", "Tick")]
    with open(gt / "vocabulary.csv", "w", newline="") as f:
        w = csv.writer(f)
        for i, (label, name) in enumerate(vocab):
            w.writerow([i, label, mids[name]])
    clips = [(37199, ["Speech"], "speech"), (175151, ["Sine_wave"], "tone"),
             (253463, ["White_noise", "Tick"], "white"), (329838, ["Tick"], "clicks")]
    label_mid = {label: mids[name] for label, name in vocab}
    with open(gt / "eval.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["fname", "labels", "mids"])
        for fname, labels, kind in clips:
            w.writerow([fname, ",".join(labels), ",".join(label_mid[l] for l in labels)])
            path = audio / f"{fname}.wav"
            if kind == "speech":
                speech(path, "Freesound clips are short.")
            elif kind == "tone":
                tone(path, 2, 523, rate=44100)
            elif kind == "white":
                noise(path, 2, "whitenoise", rate=44100)
            else:
                clicks(path, 2, 5, rate=44100)
    return {"clips": len(clips)}


def esc50(root, work):
    audio = root / "audio"
    audio.mkdir(parents=True)
    (root / "meta").mkdir()
    classes = [(12, "crackling_fire"), (38, "clock_tick"), (46, "church_bells")]
    rows = []
    for fold in range(1, 6):
        for target, category in classes:
            for take in "AB":
                src = 100000 + fold * 100 + target
                name = f"{fold}-{src}-{take}-{target}.wav"
                k = fold * 2 + (take == "B")
                if category == "crackling_fire":
                    noise(audio / name, 2, "brownnoise", rate=44100, gain=-14 - k % 5)
                elif category == "clock_tick":
                    clicks(audio / name, 2, 2 + k % 4, rate=44100)
                else:
                    tone(audio / name, 2, 300 + 40 * k, rate=44100)
                rows.append((name, fold, target, category, "False", str(src), take))
    with open(root / "meta" / "esc50.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        w.writerows(rows)
    return {"clips": len(rows), "classes": len(classes)}


def tau2022(root, work):
    audio = root / "audio"
    audio.mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    scenes = ["airport", "metro", "park"]
    meta, train, evaluate = [], [], []
    for s, scene in enumerate(scenes):
        for i in range(8):
            ident = f"lisbon-{1000 + i // 2}"
            name = f"audio/{scene}-{ident}-{40000 + i}-{i % 2}-a.wav"
            path = root / name
            if scene == "airport":
                noise(path, 1, "pinknoise", rate=44100, gain=-16 - i % 4)
            elif scene == "metro":
                tone(path, 1, 120 + 15 * i, rate=44100)
            else:
                clicks(path, 1, 3 + i % 3, rate=44100)
            meta.append((name, scene, ident, "a"))
            (evaluate if i >= 6 else train).append((name, scene))
    def write(path, header, rows):
        with open(path, "w") as f:
            f.write("\t".join(header) + "\n")
            for r in rows:
                f.write("\t".join(r) + "\n")
    write(root / "meta.csv", ["filename", "scene_label", "identifier", "source_label"], meta)
    write(root / "evaluation_setup" / "fold1_train.csv", ["filename", "scene_label"], train)
    write(root / "evaluation_setup" / "fold1_evaluate.csv", ["filename", "scene_label"],
          evaluate)
    write(root / "evaluation_setup" / "fold1_test.csv", ["filename"],
          [(n,) for n, _ in evaluate])
    return {"train": len(train), "evaluate": len(evaluate)}


def main():
    stamp = hashlib.sha256(Path(__file__).read_bytes() + LABELS.read_bytes()).hexdigest()
    manifest = OUT / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("generator") == stamp:
        print(f"datasets up to date in {OUT}")
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    work = OUT / ".work"
    work.mkdir(parents=True)
    summary = {}
    for name, make in [("desed", desed), ("audioset", audioset), ("fsd50k", fsd50k),
                       ("esc50", esc50), ("tau2022", tau2022)]:
        (OUT / name).mkdir()
        summary[name] = make(OUT / name, work)
    shutil.rmtree(work)
    manifest.write_text(json.dumps({"generator": stamp, "datasets": summary}, indent=1))
    print(f"datasets written to {OUT}: {summary}")


if __name__ == "__main__":
    sys.exit(main())
