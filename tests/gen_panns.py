#!/usr/bin/env python3
"""PANNs parity references: random-weight models built by the pip reference packages, saved in
the authors' checkpoint layout, and their outputs on real audio.

Models: Cnn14 (32/16/8 kHz configurations) and Cnn14_DecisionLevelMax from panns_inference;
ResNet38 and Wavegram_Logmel_Cnn14 from panns_AT_inference. Weights are the classes' own random
initialisation plus randomised BatchNorm statistics and affine parameters (the defaults would make
every BN an identity and hide mistakes). Each checkpoint is written like the official
`*_mAP=*.pth` files: the legacy (pre-1.6) torch.save format holding
{'model': state_dict, 'iteration': ..., 'sampler': {...numpy...}}.

For each model and clip the inputs (the exact waveform fed) and outputs (clipwise, embedding,
framewise where the model has them) are saved as .npy. Clips come from tests/gen_reference.py's
audio, loaded with librosa.load(sr=model rate, mono=True) as panns_inference's example does.

Output: tests/data/generated/panns/ (git-ignored, ~2 GB). Idempotent.
"""
import hashlib
import json
import shutil
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "panns"
AUDIO = HERE / "data" / "generated" / "audio"

CLIPS = ["speech_s16_16k.wav", "mix_mp3_44k_stereo.mp3", "tones_m4a_48k_stereo.m4a"]


def models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import panns_inference.models as pi
        import panns_AT_inference.models as pat
    base = dict(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
                classes_num=527)
    return [
        ("Cnn14", "Cnn14", pi.Cnn14, base),
        ("Cnn14_16k", "Cnn14", pi.Cnn14, dict(base, sample_rate=16000, window_size=512, hop_size=160, fmax=8000)),
        ("Cnn14_8k", "Cnn14", pi.Cnn14, dict(base, sample_rate=8000, window_size=256, hop_size=80, fmax=4000)),
        ("Cnn14_DecisionLevelMax", "Cnn14_DecisionLevelMax", pi.Cnn14_DecisionLevelMax, base),
        ("ResNet38", "ResNet38", pat.ResNet38, base),
        ("Wavegram_Logmel_Cnn14", "Wavegram_Logmel_Cnn14", pat.Wavegram_Logmel_Cnn14, base),
    ]


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.8 + 0.6)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
            m.num_batches_tracked.fill_(12345)


def fingerprint():
    # The references depend on the exact test audio too (tests/gen_reference.py records hashes).
    h = hashlib.sha256(Path(__file__).read_bytes())
    manifest = AUDIO.parent / "manifest.json"
    h.update(manifest.read_bytes() if manifest.exists() else b"-")
    return h.hexdigest()


def main():
    import librosa
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen] up to date: {manifest_path}")
        return
    if not (AUDIO / CLIPS[0]).exists():
        sys.exit("run tests/gen_reference.py first")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    torch.set_num_threads(2)
    entries = []
    for name, arch, cls, kw in models():
        # A seed from the name that is the same in every process (str hash() is salted).
        torch.manual_seed(zlib.crc32(name.encode()) % 1000)
        gen = torch.Generator().manual_seed(len(name))
        model = cls(**kw).eval()
        with torch.no_grad():
            randomise_bn(model, gen)
        ckpt_path = OUT / f"{name}.pth"
        # Training checkpoints carry sampler state; numpy's RandomState state (a uint32 array)
        # is the common case that must not stop the weights from loading.
        sampler = {"indexes_per_class": [np.arange(5), np.arange(3)], "queue": [],
                   "pointers_of_classes": np.zeros(527, dtype=np.int64),
                   "random_state": np.random.RandomState(0).get_state()}
        torch.save({"model": model.state_dict(), "iteration": 100000, "sampler": sampler}, ckpt_path,
                   _use_new_zipfile_serialization=False)
        clips = []
        for clip in CLIPS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wave, _ = librosa.load(str(AUDIO / clip), sr=kw["sample_rate"], mono=True)
            if arch == "Wavegram_Logmel_Cnn14":
                # The two branches agree only for lengths in whole multiples of 2·hop.
                wave = wave[: len(wave) // (2 * kw["hop_size"]) * (2 * kw["hop_size"])]
            stem = f"{name}__{Path(clip).stem}"
            np.save(OUT / f"{stem}__input.npy", wave)
            with torch.no_grad():
                out = model(torch.from_numpy(wave)[None, :])
            files = {"input": f"{stem}__input.npy"}
            for key in ("clipwise_output", "embedding", "framewise_output"):
                if key in out:
                    np.save(OUT / f"{stem}__{key}.npy", out[key][0].numpy())
                    files[key] = f"{stem}__{key}.npy"
            clips.append(dict(clip=clip, files=files))
            print(f"[gen] {name} {clip}: clipwise mean {out['clipwise_output'].mean():.3f} "
                  f"std {out['clipwise_output'].std():.3f}")
        entries.append(dict(name=name, arch=arch, config=kw, checkpoint=ckpt_path.name, clips=clips))
        del model
    manifest_path.write_text(json.dumps(dict(fingerprint=fp, torch=torch.__version__, models=entries), indent=1))
    print(f"[gen] wrote {len(entries)} PANNs references to {OUT}")


if __name__ == "__main__":
    main()
