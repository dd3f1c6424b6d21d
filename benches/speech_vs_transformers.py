#!/usr/bin/env python3
"""Side by side: `earshot embed --model wav2vec2` against transformers (librosa.load at 16 kHz,
Wav2Vec2FeatureExtractor, Wav2Vec2Model forward) over a folder of ten-second speech clips.

The clips are cut from the 60-s espeak-ng recording at 22.05 kHz that tests/gen_speech.py wrote
(so both sides decode and resample to 16 kHz). Both sides load the same full-size random-weight
wav2vec2-base folder (tests/gen_speech.py: w2v-base-full, safetensors), use the same number of
threads and return the mean-pooled last hidden state of each clip. Reports clips per second for
each and the ratio; model loading is included on both sides and also reported apart.

    ~/.cache/earshot/venv/bin/python benches/speech_vs_transformers.py [--clips 12] [--threads 2]
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
GEN = ROOT / "tests/data/generated/speech"


def make_clips(folder, count):
    import soundfile as sf
    wave, sr = sf.read(GEN / "long_22k.wav", dtype="float32")
    reps = int(np.ceil(count * 10 * sr / len(wave)))
    wave = np.tile(wave, reps)
    for i in range(count):
        sf.write(folder / f"clip{i:03d}.wav", wave[i * 10 * sr:(i + 1) * 10 * sr], sr, subtype="PCM_16")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    args = ap.parse_args()
    model_dir = GEN / "w2v-base-full"
    if not model_dir.exists():
        raise SystemExit("run tests/gen_speech.py first")
    import torch
    import librosa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        make_clips(folder, args.clips)
        files = sorted(folder.iterdir())

        t = time.perf_counter()
        model = Wav2Vec2Model.from_pretrained(model_dir).eval()
        fe = Wav2Vec2FeatureExtractor.from_pretrained(model_dir)
        py_load = time.perf_counter() - t
        py_out = []
        for f in files:
            audio, _ = librosa.load(str(f), sr=16000, mono=True)
            inputs = fe(audio, sampling_rate=16000, return_tensors="pt")
            with torch.no_grad():
                py_out.append(model(inputs.input_values).last_hidden_state[0].mean(0).numpy())
        py = time.perf_counter() - t

        out = Path(tmp) / "emb.npy"
        t = time.perf_counter()
        subprocess.run([args.bin, "embed", "--model", "wav2vec2", "--checkpoint", str(model_dir), str(folder),
                        "--pool", "mean", "-o", str(out), "--threads", str(args.threads), "--device", "cpu"],
                       check=True, stdout=subprocess.DEVNULL)
        rs = time.perf_counter() - t
        # earshot's own load time: one clip.
        t = time.perf_counter()
        subprocess.run([args.bin, "embed", "--model", "wav2vec2", "--checkpoint", str(model_dir), str(files[0]),
                        "--pool", "mean", "-o", str(Path(tmp) / "one.npy"), "--threads", str(args.threads),
                        "--device", "cpu"], check=True, stdout=subprocess.DEVNULL)
        rs_one = time.perf_counter() - t
        diff = np.abs(np.load(out) - np.stack(py_out)).max()
    print(f"{args.clips} clips of 10 s (22.05 kHz WAV), wav2vec2-base size, {args.threads} threads, CPU")
    print(f"transformers: {py:7.2f} s  {args.clips / py:6.2f} clips/s  (load {py_load:.2f} s)")
    print(f"earshot:      {rs:7.2f} s  {args.clips / rs:6.2f} clips/s  (one-clip run {rs_one:.2f} s)")
    print(f"ratio (earshot / transformers throughput): {py / rs:.2f}")
    print(f"max |pooled earshot - transformers| (different resamplers): {diff:.2e}")


if __name__ == "__main__":
    main()
