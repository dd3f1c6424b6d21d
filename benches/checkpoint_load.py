#!/usr/bin/env python3
"""Load time of an 80M-parameter checkpoint: `earshot checkpoint inspect` against `torch.load`,
side by side, in the zip and legacy formats (the PANNs files are legacy).

Writes two ~320 MB files to a temporary directory (a dict {'model': state_dict, 'iteration'}
like the PANNs checkpoints: 80 float32 tensors of 1M elements), then times each loader
--repeat times and keeps the best. earshot's time includes its process start-up (~0.3 s).

    ~/.cache/earshot/venv/bin/python benches/checkpoint_load.py [--params 80e6]
"""
import argparse
import collections
import os
import subprocess
import tempfile
import time
from pathlib import Path

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", type=float, default=80e6)
    ap.add_argument("--repeat", type=int, default=3)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    args = ap.parse_args()
    n_tensors = 80
    per = int(args.params) // n_tensors
    g = torch.Generator().manual_seed(0)
    sd = collections.OrderedDict((f"layer{i}.weight", torch.randn(per, generator=g)) for i in range(n_tensors))
    ckpt = {"model": sd, "iteration": 100000}
    with tempfile.TemporaryDirectory() as tmp:
        files = {"zip": Path(tmp) / "model.pth", "legacy": Path(tmp) / "model_legacy.pth"}
        torch.save(ckpt, files["zip"])
        torch.save(ckpt, files["legacy"], _use_new_zipfile_serialization=False)
        print(f"{args.params / 1e6:.0f}M parameters, {files['zip'].stat().st_size / 1e6:.0f} MB per file")
        print(f"{'format':<8} {'torch.load s':>12} {'earshot s':>10} {'ratio':>6}")
        for fmt, path in files.items():
            best_py = best_rs = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                torch.load(path, weights_only=False, map_location="cpu")
                best_py = min(best_py, time.perf_counter() - t)
                t = time.perf_counter()
                subprocess.run([args.bin, "checkpoint", "inspect", "--json", str(path)], check=True,
                               stdout=subprocess.DEVNULL)
                best_rs = min(best_rs, time.perf_counter() - t)
            print(f"{fmt:<8} {best_py:>12.3f} {best_rs:>10.3f} {best_py / best_rs:>6.2f}")


if __name__ == "__main__":
    main()
