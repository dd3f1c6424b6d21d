#!/usr/bin/env python3
"""Side by side: `earshot tag --model cnn14` against panns_inference (librosa.load +
Cnn14 forward, as AudioTagging.inference does) over a folder of ten-second clips.

The clips are made from the generated test audio (tests/gen_reference.py), looped to 10 s and
written as 44.1 kHz WAV/FLAC/MP3 (so both sides decode and resample to 32 kHz). Both sides use the
same random-weight checkpoint in the official layout (tests/gen_panns.py) and the same number of
threads. Reports clips per second for each and the ratio, then the model forward alone: PyTorch's
per clip at batch 1 (as panns_inference runs it) and at earshot's batch size, against earshot's own
(`--timings`).

    ~/.cache/earshot/venv/bin/python benches/tag_vs_panns_inference.py [--clips 200] [--threads 2] [--batch-size 8]
"""
import argparse
import os
import re
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tests/data/generated"


def make_clips(folder, count):
    import soundfile as sf
    import librosa
    sources = sorted((GEN / "audio").glob("*.wav")) + sorted((GEN / "audio").glob("*.flac"))
    formats = ["wav", "flac", "mp3"]
    for i in range(count):
        src = sources[i % len(sources)]
        y, _ = librosa.load(str(src), sr=44100, mono=False)
        y = np.atleast_2d(y)
        reps = int(np.ceil(441000 / y.shape[1]))
        y = np.tile(y, (1, reps))[:, :441000]
        fmt = formats[i % len(formats)]
        path = folder / f"clip{i:03d}.{fmt}"
        if fmt == "mp3":
            wav = folder / f"tmp{i}.wav"
            sf.write(wav, y.T, 44100, subtype="PCM_16")
            subprocess.run(["lame", "--quiet", "-b", "128", str(wav), str(path)], check=True)
            wav.unlink()
        else:
            sf.write(path, y.T, 44100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    args = ap.parse_args()
    ckpt = GEN / "panns/Cnn14.pth"
    if not ckpt.exists():
        raise SystemExit("run tests/gen_panns.py first")
    import torch
    import librosa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from panns_inference.models import Cnn14
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_clips(folder, args.clips)
        files = sorted(folder.iterdir())

        t = time.perf_counter()
        model = Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
                      classes_num=527)
        model.load_state_dict(torch.load(ckpt, weights_only=False)["model"])
        model.eval()
        forward = 0.0
        waves = []
        for f in files:
            audio, _ = librosa.load(str(f), sr=32000, mono=True)
            waves.append(audio)
            t0 = time.perf_counter()
            with torch.no_grad():
                model(torch.from_numpy(audio[None, :]))
            forward += time.perf_counter() - t0
        py = time.perf_counter() - t

        # PyTorch's own forward at earshot's batch size, on the same decoded clips.
        batched = 0.0
        with torch.no_grad():
            for i in range(0, len(waves), args.batch_size):
                x = torch.from_numpy(np.stack(waves[i:i + args.batch_size]))
                t0 = time.perf_counter()
                model(x)
                batched += time.perf_counter() - t0

        t = time.perf_counter()
        run = subprocess.run([args.bin, "tag", str(folder), "--checkpoint", str(ckpt), "--format", "json",
                              "--threads", str(args.threads), "--batch-size", str(args.batch_size),
                              "--timings"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        rs = time.perf_counter() - t
    model_ms = float(re.search(r"timings: model .*\(([0-9.]+) ms per clip\)", run.stderr).group(1))
    n = args.clips
    print(f"{n} clips of 10 s, {args.threads} threads (model load included on both sides)")
    print(f"panns_inference: {py:7.2f} s  {n / py:6.2f} clips/s")
    print(f"earshot:         {rs:7.2f} s  {n / rs:6.2f} clips/s")
    print(f"ratio (earshot / panns_inference throughput): {py / rs:.2f}")
    print("model forward per clip (waveform in, probabilities out):")
    print(f"  PyTorch, batch 1 (as AudioTagging.inference): {forward * 1e3 / n:7.1f} ms")
    print(f"  PyTorch, batch {args.batch_size}:                           {batched * 1e3 / n:7.1f} ms")
    print(f"  earshot, batch {args.batch_size} (--timings):               {model_ms:7.1f} ms"
          f"  ({model_ms / (batched * 1e3 / n):.2f}x PyTorch's batch-{args.batch_size} time)")

if __name__ == "__main__":
    main()
