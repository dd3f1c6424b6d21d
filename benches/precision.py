#!/usr/bin/env python3
"""Reduced precision, per backbone: `--precision bf16` (and fp16) against fp32, same binary, same
clips, same threads. Reports the model time per clip (`--timings`, model passes only) and the
largest deviation of the outputs from fp32: class probabilities for the tagging models (PANNs
CNN14, PaSST), scene embeddings for the embedding models (OpenL3, wav2vec 2.0, HuBERT), also
relative to the largest fp32 value.

The checkpoints are the random-weight ones in the official layouts that the test suite
generates (tests/gen_*.py); the clips are cut from the generated test audio.

    ~/.cache/earshot/venv/bin/python benches/precision.py [--clips 4] [--seconds 2] [--threads 2]
        [--precisions bf16,fp16] [--device cpu]

On a CPU without AVX-512 libtorch runs bf16/fp16 convolutions and products through reference
kernels, so reduced precision is slower there than fp32; with avx512_bf16/AMX or CUDA it is
faster. The deviation does not depend on the hardware.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tests/data/generated"

BACKBONES = [
    # name, command, extra arguments, source clip, sample rate of the cut clips
    ("PANNs cnn14", "tag", ["--model", "cnn14", "--checkpoint", GEN / "panns/Cnn14.pth"],
     GEN / "audio/mix_f64_44k_stereo.wav", 32000),
    ("PaSST", "tag", ["--model", "passt", "--checkpoint", GEN / "passt/passt_s_swa_p16_128_ap476.pt"],
     GEN / "audio/mix_f64_44k_stereo.wav", 32000),
    ("OpenL3 mel128/env/512", "embed", ["--model", "openl3", "--input-repr", "mel128", "--content-type", "env",
                                        "--embedding-size", "512",
                                        "--checkpoint", GEN / "openl3/torchopenl3_mel128_env.pth.tar"],
     GEN / "audio/mix_f64_44k_stereo.wav", 48000),
    ("wav2vec2 base", "embed", ["--model", "wav2vec2-base", "--checkpoint", GEN / "speech/w2v-base"],
     GEN / "speech/long_16k.wav", 16000),
    ("HuBERT base", "embed", ["--model", "hubert-base-ls960", "--checkpoint", GEN / "speech/hubert-base"],
     GEN / "speech/long_16k.wav", 16000),
]


def cut_clips(src, rate, folder, count, seconds):
    paths = []
    for i in range(count):
        path = folder / f"{rate}_{i}.wav"
        subprocess.run(["sox", "-V1", str(src), "-r", str(rate), "-c", "1", "-b", "16", str(path),
                        "trim", str(i * 0.37), str(seconds), "pad", "0", str(seconds)],
                       check=True)
        # pad then trim again: every clip exactly `seconds` long even past the source's end
        tmp = path.with_suffix(".tmp.wav")
        subprocess.run(["sox", "-V1", str(path), str(tmp), "trim", "0", str(seconds)], check=True)
        tmp.replace(path)
        paths.append(path)
    return paths


def run(binary, command, extra, clips, precision, threads, device, out):
    args = [binary, command, *map(str, extra), "--precision", precision, "--threads", str(threads),
            "--device", device, "--timings"]
    if command == "tag":
        args += ["--format", "json", "--all-scores"]
    else:
        args += ["-o", str(out)]
    args += [str(c) for c in clips]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)}\n{proc.stderr}")
    ms = float(re.search(r"timings: model .*\(([0-9.]+) ms per clip\)", proc.stderr).group(1))
    if command == "tag":
        values = np.array([row["scores"] for row in json.loads(proc.stdout)], dtype=np.float64)
    else:
        values = np.load(out).astype(np.float64)
    return ms, values


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precisions", default="bf16,fp16")
    ap.add_argument("--device", default="cpu")
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    args = ap.parse_args()
    precisions = args.precisions.split(",")
    print(f"{args.clips} clips of {args.seconds:g} s per backbone, {args.threads} threads, device {args.device}")
    header = f"{'backbone':<24}{'fp32 ms/clip':>13}"
    for p in precisions:
        header += f"{p + ' ms/clip':>13}{'speed-up':>10}{'max |Δ|':>10}{'rel':>10}"
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, command, extra, src, rate in BACKBONES:
            clips = cut_clips(src, rate, tmp, args.clips, args.seconds)
            base_ms, base = run(args.bin, command, extra, clips, "fp32", args.threads, args.device,
                                tmp / "fp32.npy")
            line = f"{name:<24}{base_ms:13.1f}"
            scale = np.abs(base).max()
            for p in precisions:
                ms, values = run(args.bin, command, extra, clips, p, args.threads, args.device,
                                 tmp / f"{p}.npy")
                dev = np.abs(values - base).max()
                line += f"{ms:13.1f}{base_ms / ms:9.2f}x{dev:10.2e}{dev / scale:10.2e}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
