"""Fixtures of `earshot train` (tests/train.rs), written under tests/data/generated/train/:

- `sounds/{train,test}/<class>/*.wav`: a 4-class set made here, 16 kHz mono, 2 s each:
  `tone` (sox sines), `hiss` (sox white/pink/brown noise; not `noise`, which names negatives), `speech` (espeak-ng words) and
  `pluck` (sox plucked-string chords). Train and test files never share a setting (frequency,
  colour and level, word, chord). 12 training and 6 test files per class; plus `background/`
  (silence with a little noise) for the negatives case and one unreadable `.wav`.
- `embeddings/`: the agreement case, made with numpy (seeded): 1200 examples of 32-d embeddings
  from 4 overlapping Gaussian classes, as a Parquet table in `earshot embed`'s layout
  (`file`, `embedding`) and a `labels.csv`.

The reference training runs (PyTorch, scikit-learn) happen at test time: tests/reference_train.py.
"""

import json
import os
import shutil
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "generated", "train")
SR = 16000


def sox(out, *effects):
    subprocess.run(["sox", "-R", "-n", "-r", str(SR), "-c", "1", "-b", "16", out, *effects],
                   check=True)


def tone(out, freq, vol):
    sox(out, "synth", "2", "sine", str(freq), "vol", str(vol))


def noise(out, colour, vol):
    sox(out, "synth", "2", colour, "vol", str(vol))


def pluck(out, notes):
    effects = ["synth", "2"]
    for n in notes:
        effects += ["pluck", n]
    # Several synth channels mix down to the one output channel.
    subprocess.run(["sox", "-R", "-n", "-r", str(SR), "-c", str(len(notes)), "-b", "16",
                    out + ".multi.wav", *effects], check=True)
    subprocess.run(["sox", out + ".multi.wav", out, "remix", "-", "norm", "-3"],
                   check=True)
    os.remove(out + ".multi.wav")


def speech(out, word, speed, pitch):
    raw = out + ".raw.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", str(speed), "-p", str(pitch), "-w", raw, word],
                   check=True)
    # 16 kHz, padded or cut to 2 s.
    subprocess.run(["sox", raw, "-r", str(SR), "-c", "1", "-b", "16", out, "pad", "0.2", "2",
                    "trim", "0", "2"], check=True)
    os.remove(raw)


TRAIN_WORDS = ["apple", "river", "window", "garden", "yellow", "morning", "pencil", "summer",
               "bottle", "thunder", "castle", "mountain"]
TEST_WORDS = ["orange", "forest", "kitchen", "silver", "evening", "blanket"]
CHORDS = [["C3", "E3", "G3"], ["D3", "F#3", "A3"], ["E3", "G#3", "B3"], ["F3", "A3", "C4"],
          ["G3", "B3", "D4"], ["A3", "C#4", "E4"], ["B2", "D#3", "F#3"], ["C4", "E4", "G4"],
          ["D4", "F#4", "A4"], ["A2", "C3", "E3"], ["E2", "G2", "B2"], ["G2", "B2", "D3"],
          # test chords
          ["F2", "A2", "C3"], ["D2", "F2", "A2"], ["C2", "E2", "G2"], ["B3", "D4", "F#4"],
          ["E4", "G4", "B4"], ["F#3", "A3", "C#4"]]
COLOURS = ["whitenoise", "pinknoise", "brownnoise"]


def sounds():
    base = os.path.join(ROOT, "sounds")
    for split, n, offset in [("train", 12, 0), ("test", 6, 12)]:
        for cls in ["tone", "hiss", "speech", "pluck"]:
            os.makedirs(os.path.join(base, split, cls), exist_ok=True)
        for i in range(n):
            k = i + offset
            d = lambda cls: os.path.join(base, split, cls, f"{cls}{k:02d}.wav")  # noqa: E731
            # Train sines from 220 Hz up in 7% steps, test sines between them.
            tone(d("tone"), round(220 * 1.07 ** (k if split == "train" else (k - 12) + 0.5), 1),
                 0.3 + 0.03 * (k % 5))
            noise(d("hiss"), COLOURS[k % 3], round(0.1 + 0.05 * k, 3))
            speech(d("speech"), (TRAIN_WORDS + TEST_WORDS)[k], 130 + 10 * (k % 5), 30 + 5 * (k % 6))
            pluck(d("pluck"), CHORDS[k])
    bg = os.path.join(base, "background")
    os.makedirs(bg, exist_ok=True)
    for i in range(4):
        sox(os.path.join(bg, f"quiet{i}.wav"), "synth", "2", "brownnoise", "vol", "0.002")
    bad = os.path.join(base, "broken")
    os.makedirs(bad, exist_ok=True)
    with open(os.path.join(bad, "tone_truncated.wav"), "wb") as f:
        f.write(b"RIFF\x24\x00\x00\x00WAVEjunk")


def embeddings():
    rng = np.random.default_rng(20261203)
    base = os.path.join(ROOT, "embeddings")
    os.makedirs(base, exist_ok=True)
    classes, dim, n = 4, 32, 1200
    centres = rng.normal(0, 1.0, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = centres[labels] + rng.normal(0, 2.6, size=(n, dim))
    x = (x * 3.0 + 1.5).astype(np.float32)
    files = [f"clip{i:04d}.wav" for i in range(n)]
    table = pa.table({
        "file": pa.array(files, pa.string()),
        "embedding": pa.array(list(x), pa.list_(pa.float32())),
    })
    pq.write_table(table, os.path.join(base, "embeddings.parquet"))
    names = ["alpha", "bravo", "charlie", "delta"]
    with open(os.path.join(base, "labels.csv"), "w") as f:
        f.write("filename,labels\n")
        for name, lab in zip(files, labels):
            f.write(f"{name},{names[lab]}\n")


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    sounds()
    embeddings()
    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump({"generator": "tests/gen_train.py", "classes": ["hiss", "pluck", "speech", "tone"],
                   "train_per_class": 12, "test_per_class": 6}, f, indent=1)


if __name__ == "__main__":
    main()
