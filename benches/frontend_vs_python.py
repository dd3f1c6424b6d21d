#!/usr/bin/env python3
"""Side by side: `earshot features` against the Python reference front ends, same files, same
thread count.

For each front end, a corpus of float32 WAV files at its own sample rate (the generated
speech/tone mixture, repeated) is written to a temporary directory, so neither side resamples.
Python: per file `librosa.load(sr=None)` → the reference front end (as tests/gen_frontend.py
runs it, float32 as shipped: torchlibrosa via Cnn14, AugmentMelSTFT, torchopenl3's
preprocessing + speclayer in batches of 32, kaldi.fbank, Wav2Vec2FeatureExtractor) →
`np.save`, with `torch.set_num_threads(T)`. earshot: one `earshot --threads T features FILES
--frontend X -o DIR` process, start-up (loading libtorch) included. Best of --repeat runs.
Reports audio seconds per wall second for both and the ratio, for T = 1 and T = 2, plus the
Python front end alone (no load/save) for reference.

    ~/.cache/earshot/venv/bin/python benches/frontend_vs_python.py [--repeat 2] [--only panns,passt]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

RATES = {
    "panns": 32000, "panns-16k": 16000, "panns-8k": 8000, "passt": 32000,
    "openl3-linear": 48000, "openl3-mel128": 48000, "openl3-mel256": 48000,
    "kaldi-fbank": 16000, "wav2vec2": 16000,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    ap.add_argument("--files", type=int, default=8, help="files per corpus")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each file")
    ap.add_argument("--openl3-seconds", type=float, default=10.0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    import librosa
    import soundfile as sf
    import torch
    from gen_frontend import References

    src = ROOT / "tests/data/generated/audio/mix_flac24_48k_stereo.flac"
    refs = References()
    names = [n for n in RATES if not args.only or n in args.only.split(",")]
    print(f"{'front end':<14} {'T':>2} {'audio s':>8} {'python xRT':>11} {'earshot xRT':>12} "
          f"{'ratio':>6}   {'python front end only xRT':>26}")
    for name in names:
        sr = RATES[name]
        seconds = args.openl3_seconds if name.startswith("openl3") else args.seconds
        clip, _ = librosa.load(str(src), sr=sr, mono=True)
        y = np.resize(clip, int(seconds * sr)).astype(np.float32)
        tmp = tempfile.TemporaryDirectory()
        files = []
        for i in range(args.files):
            p = Path(tmp.name) / f"clip{i}.wav"
            sf.write(p, np.roll(y, i * 997), sr, subtype="FLOAT")
            files.append(p)
        audio_s = seconds * len(files)
        out = Path(tmp.name) / "out"
        out.mkdir()
        for threads in map(int, args.threads.split(",")):
            torch.set_num_threads(threads)

            def python_run(frontend_only):
                t_front = 0.0
                t0 = time.perf_counter()
                for f in files:
                    w, _ = librosa.load(str(f), sr=None, mono=True)
                    t = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        feats = refs.run(name, w, f64=False)
                    t_front += time.perf_counter() - t
                    if not frontend_only:
                        np.save(out / (f.name + ".py.npy"), np.asarray(feats, dtype=np.float32))
                return (t_front if frontend_only else time.perf_counter() - t0)

            def earshot_run():
                t = time.perf_counter()
                subprocess.run([args.bin, "--threads", str(threads), "features", *map(str, files),
                                "--frontend", name, "-o", str(out)], check=True)
                return time.perf_counter() - t

            python_run(True)  # warm: build the reference modules, imports, page cache
            earshot_run()
            tp = min(python_run(False) for _ in range(args.repeat))
            tf = min(python_run(True) for _ in range(args.repeat))
            te = min(earshot_run() for _ in range(args.repeat))
            print(f"{name:<14} {threads:>2} {audio_s:>8.0f} {audio_s / tp:>11.0f} "
                  f"{audio_s / te:>12.0f} {tp / te:>6.1f}   {audio_s / tf:>26.0f}", flush=True)
        tmp.cleanup()
    print(f"torch {torch.__version__}, cores={os.cpu_count()}")


if __name__ == "__main__":
    main()
