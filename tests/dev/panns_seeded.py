#!/usr/bin/env python3
"""Development check for the PANNs architectures that have no pip reference (Cnn6, Cnn10,
ResNet22, ResNet54, MobileNetV1, MobileNetV2, Cnn14_DecisionLevelAtt).

Builds each class from a checkout of qiuqiangkong/audioset_tagging_cnn (not part of earshot:
pass its `pytorch/` directory), fills every tensor of its state dict with the deterministic
scheme that `earshot::models::panns::seeded_values` reproduces (a sine of the element index,
phase from an FNV-1a hash of the tensor name, scaled by role), runs a fixed 3-s synthetic input,
and writes the small expected outputs to tests/data/panns_seeded/ (committed), with the state-dict
key names and shapes so the Rust test can also check the official layout.

The reference runs in float64 on the float32-rounded weights and input: the outputs are then the
exact values of the float32 model earshot runs, independent of the CPU's kernels (oneDNN picks
other float32 kernels on AVX2 and AVX-512 machines, which move float32 outputs by ~1e-7 of their
magnitude). The Rust test compares its float32 run against these within a bar scaled to each
output's magnitude.

    python tests/dev/panns_seeded.py /path/to/audioset_tagging_cnn/pytorch
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent.parent / "data" / "panns_seeded"
MODELS = ["Cnn6", "Cnn10", "ResNet22", "ResNet54", "MobileNetV1", "MobileNetV2", "Cnn14_DecisionLevelAtt"]


def fnv1a(name):
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def seeded(name, shape):
    phase = (fnv1a(name) % 1000) / 1000.0 * 2 * math.pi
    numel = int(np.prod(shape)) if len(shape) else 1
    fan_in = max(numel // shape[0], 1) if len(shape) >= 2 else 1
    s = np.sin(0.7 * np.arange(numel, dtype=np.float64) + phase)
    if name.endswith("running_var"):
        v = 1.0 + 0.5 * s * s
    elif name.endswith("running_mean"):
        v = 0.1 * s
    elif name.endswith("melW"):
        v = 0.02 * np.abs(s) + 1e-3
    elif "conv_real" in name or "conv_imag" in name:
        v = 0.05 * s
    elif len(shape) >= 2:
        v = s / math.sqrt(fan_in)
    elif name.endswith("weight"):
        v = 1.0 + 0.2 * s
    else:
        v = 0.1 * s
    # earshot builds float32 weights: round to float32, then widen for the float64 reference.
    return torch.from_numpy(v.astype(np.float32).astype(np.float64).reshape(shape))


def seeded_input(n=96000, sr=32000):
    t = np.arange(n, dtype=np.float64) / sr
    x = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * (200 + 3000 * t) * t + 0.2)
    x += 0.2 * np.sin(2 * np.pi * 97.0 * t) * np.sin(2 * np.pi * 5000 * t)
    return x.astype(np.float32)


def main():
    sys.path.insert(0, sys.argv[1])
    import models  # the authors' pytorch/models.py
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    x = seeded_input()
    manifest = {}
    for name in MODELS:
        model = getattr(models, name)(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64,
                                      fmin=50, fmax=14000, classes_num=527).double().eval()
        sd = model.state_dict()
        with torch.no_grad():
            for key, value in sd.items():
                if key.endswith("num_batches_tracked"):
                    continue
                value.copy_(seeded(key, list(value.shape)))
            out = model(torch.from_numpy(x.astype(np.float64))[None])
        files = {}
        np.save(OUT / f"{name}__clipwise.npy", out["clipwise_output"][0].numpy())
        files["clipwise"] = f"{name}__clipwise.npy"
        if "embedding" in out:
            np.save(OUT / f"{name}__embedding.npy", out["embedding"][0].numpy())
            files["embedding"] = f"{name}__embedding.npy"
            # The logits under the sigmoid set how far float32 rounding can move the
            # probabilities (dp = p(1-p)·dlogit): the test scales the clipwise bar by them.
            with torch.no_grad():
                logits = model.fc_audioset(out["embedding"])[0]
            np.save(OUT / f"{name}__logits.npy", logits.numpy())
            files["logits"] = f"{name}__logits.npy"
        if "framewise_output" in out:
            np.save(OUT / f"{name}__framewise_every25.npy", out["framewise_output"][0, ::25].numpy())
            files["framewise_every25"] = f"{name}__framewise_every25.npy"
        manifest[name] = dict(files=files, keys={k: list(v.shape) for k, v in sd.items()})
        c = out["clipwise_output"][0]
        print(f"{name}: {len(sd)} keys, clipwise mean {c.mean():.3f} std {c.std():.3f}")
    (OUT / "manifest.json").write_text(json.dumps(dict(input_samples=len(x), models=manifest), indent=0))


if __name__ == "__main__":
    main()
