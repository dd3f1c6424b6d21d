#!/usr/bin/env python3
"""Side by side: `earshot decode` against `librosa.load` on the same files, same machine.

Both decode every generated test file (tests/data/generated/audio) to 32 kHz mono. earshot runs
once per group over all its files (one process, several inputs, npy out); librosa runs in this
process. Each file is listed --copies times (symlinks), so that earshot's fixed start-up cost
(loading libtorch, about 0.3 s, measured and printed separately) is spread as in real batch use.
Each side is timed over --repeat runs and the best is kept. Reports seconds of audio per second
of wall time for each format and overall, and the ratio.

    ~/.cache/earshot/venv/bin/python benches/decode_vs_librosa.py [--repeat 3]
"""
import argparse
import os
import subprocess
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    ap.add_argument("--sr", type=int, default=32000)
    ap.add_argument("--copies", type=int, default=5)
    args = ap.parse_args()
    import librosa

    links = tempfile.TemporaryDirectory()
    files = []
    for f in sorted((ROOT / "tests/data/generated/audio").iterdir()):
        for i in range(args.copies):
            link = Path(links.name) / f"{f.stem}_{i}{f.suffix}"
            link.symlink_to(f)
            files.append(link)
    by_format = defaultdict(list)
    for f in files:
        by_format[f.suffix.lstrip(".")].append(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        durations = {f: librosa.get_duration(path=str(f)) for f in files}

    def time_librosa(group):
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            for f in group:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    librosa.load(str(f), sr=args.sr, mono=True)
            best = min(best, time.perf_counter() - t)
        return best

    def time_earshot(group):
        best = float("inf")
        with tempfile.TemporaryDirectory() as out:
            for _ in range(args.repeat):
                t = time.perf_counter()
                subprocess.run([args.bin, "decode", *map(str, group), "--sr", str(args.sr), "--mono",
                                "-o", out], check=True)
                best = min(best, time.perf_counter() - t)
        return best

    # Warm both (numba/soxr imports, page cache).
    time_librosa(files[:2]); time_earshot(files[:2])
    startup = min(
        (lambda t: (subprocess.run([args.bin, "--version"], check=True, stdout=subprocess.DEVNULL),
                    time.perf_counter() - t)[1])(time.perf_counter())
        for _ in range(5))
    print(f"earshot start-up (libtorch load): {startup:.3f} s")
    print(f"{'format':<8} {'files':>5} {'audio s':>8} {'librosa x RT':>13} {'earshot x RT':>13} {'ratio':>6}")
    groups = list(by_format.items()) + [("all", files)]
    for name, group in groups:
        audio_s = sum(durations[f] for f in group)
        tl, te = time_librosa(group), time_earshot(group)
        print(f"{name:<8} {len(group):>5} {audio_s:>8.1f} {audio_s / tl:>13.0f} {audio_s / te:>13.0f} {tl / te:>6.2f}")
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cores={os.cpu_count()}")


if __name__ == "__main__":
    main()
