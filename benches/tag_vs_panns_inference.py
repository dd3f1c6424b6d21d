#!/usr/bin/env python3
"""Side by side: `earshot tag --model cnn14` against panns_inference (librosa.load +
Cnn14 forward, as AudioTagging.inference does) over a folder of ten-second clips.

The clips are made from the generated test audio (tests/gen_reference.py), looped to 10 s and
written as 44.1 kHz WAV/FLAC/MP3 (so both sides decode and resample to 32 kHz). Both sides use the
same random-weight checkpoint in the official layout (tests/gen_panns.py) and the same number of
threads. Reports clips per second for each and the ratio.

    ~/.cache/earshot/venv/bin/python benches/tag_vs_panns_inference.py [--clips 100] [--threads 2]
"""
import argparse
import os
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
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
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
        for f in files:
            audio, _ = librosa.load(str(f), sr=32000, mono=True)
            with torch.no_grad():
                model(torch.from_numpy(audio[None, :]))
        py = time.perf_counter() - t

        t = time.perf_counter()
        subprocess.run([args.bin, "tag", str(folder), "--checkpoint", str(ckpt), "--format", "json",
                        "--threads", str(args.threads)], check=True, stdout=subprocess.DEVNULL)
        rs = time.perf_counter() - t
    print(f"{args.clips} clips of 10 s, {args.threads} threads (model load included on both sides)")
    print(f"panns_inference: {py:7.2f} s  {args.clips / py:6.2f} clips/s")
    print(f"earshot:         {rs:7.2f} s  {args.clips / rs:6.2f} clips/s")
    print(f"ratio (earshot / panns_inference throughput): {py / rs:.2f}")


if __name__ == "__main__":
    main()
