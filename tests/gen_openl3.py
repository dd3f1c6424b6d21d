#!/usr/bin/env python3
"""OpenL3 parity references: random-weight torchopenl3 networks, saved as torchopenl3's `.pth.tar`
state dicts and as official-layout Keras `.h5` weight files, and torchopenl3's embeddings and
timestamps on real audio.

Models: `torchopenl3.models.PytorchOpenl3` for linear, mel128 and mel256, content type music,
built directly (no download) with random weights: He-normal convolutions so activations keep
their scale through eight layers, and randomised BatchNorm statistics and affine parameters
(the defaults make every BN an identity and hide mistakes); the input BN gets statistics of the
size a dB spectrogram has. One state dict serves both embedding sizes, as in torchopenl3 (only
the final pooling differs). Content type env gets its own random weights for every
representation and a smaller set of cases: the architecture is the same.

Each model is written twice:
- `torchopenl3_<repr>_<content>.pth.tar`: `torch.save(model.state_dict())`, as torchopenl3's
  published weights (speclayer buffers included);
- `openl3_audio_<repr>_<content>.h5` (music only): the layout of the official OpenL3 v0_4_0 weight
  files, as Keras 2's `save_weights` writes it: root attributes `layer_names`, `backend`,
  `keras_version`; one group per layer with a `weight_names` attribute and datasets at
  `<layer>/<layer>/<weight>:0`; kernels HWIO; BN as gamma, beta, moving_mean, moving_variance.
  The kapre spectrogram layer is not in it (v0_4_0 removed it).

Cases (embeddings from `torchopenl3.get_audio_embedding(wave, 48000, model=...)` for sizes 512
and 6144, and the timestamps it returns):
- `excerpt`: the first 1.5 s of mix_s24_48k_extensible.wav, written here as a mono float WAV
  (`mix_excerpt_48k.wav`) so the CLI reads the same samples; center=True, hop 0.1 (defaults);
- `speech`: the first 2 s of speech_s16_16k.wav as librosa.load(sr=48000) gives it, also
  written as a float WAV (`speech_2s_48k.wav`); center=False, hop 0.25;
- `excerpt_hop05`: the excerpt with center=True, hop 0.5 (the CLI test of all 12 models).
Env models get `excerpt_hop05` only. Waveforms are librosa.load(sr=48000, mono=True) output
(what earshot's decoder reproduces), so torchopenl3 never resamples.

Output: tests/data/generated/openl3/ (git-ignored, ~250 MB). Idempotent.
"""
import hashlib
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "openl3"
AUDIO = HERE / "data" / "generated" / "audio"

REPRS = ["linear", "mel128", "mel256"]
SIZES = [512, 6144]
EXCERPT = "mix_excerpt_48k.wav"
SPEECH = "speech_2s_48k.wav"

# name -> (input file, center, hop_size)
CASES = {
    "excerpt": (EXCERPT, True, 0.1),
    "speech": (SPEECH, False, 0.25),
    "excerpt_hop05": (EXCERPT, True, 0.5),
}
CASES_BY_CONTENT = {"music": ["excerpt", "speech", "excerpt_hop05"], "env": ["excerpt_hop05"]}


def randomise(model, gen):
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            elif isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                if name == "batch_normalization_1":
                    # The input is a dB spectrogram in [-80, 0].
                    m.running_mean.copy_(-40.0 + 10.0 * torch.randn(n, generator=gen))
                    m.running_var.copy_(300.0 + 100.0 * torch.rand(n, generator=gen))
                else:
                    m.running_mean.copy_(torch.randn(n, generator=gen) * 0.3)
                    m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) * 0.8 + 0.6)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.2)
                m.num_batches_tracked.fill_(12345)


# The layers of marl/openl3's audio network in order (v0_4_0 files: no spectrogram layer), with
# the torchopenl3 module that holds each one's weights.
def keras_layers():
    layers = [("input_1", None), ("batch_normalization_1", "batch_normalization_1")]
    conv, bn, act, pool = 1, 2, 1, 1
    for block in range(4):
        for _ in range(2):
            if block == 3 and conv == 8:
                layers.append(("audio_embedding_layer", "audio_embedding_layer"))
                break
            layers.append((f"conv2d_{conv}", f"conv2d_{conv}"))
            layers.append((f"batch_normalization_{bn}", f"batch_normalization_{bn}"))
            layers.append((f"activation_{act}", None))
            conv, bn, act = conv + 1, bn + 1, act + 1
        if block < 3:
            layers.append((f"max_pooling2d_{pool}", None))
            pool += 1
    return layers


def write_h5(path, state):
    import h5py
    layers = keras_layers()
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name, module in layers:
            g = f.create_group(name)
            weights = []
            if module is not None and module.startswith(("conv2d", "audio_embedding")):
                # torch OIHW -> Keras HWIO
                weights = [("kernel:0", state[f"{module}.weight"].permute(2, 3, 1, 0)),
                           ("bias:0", state[f"{module}.bias"])]
            elif module is not None:
                weights = [("gamma:0", state[f"{module}.weight"]), ("beta:0", state[f"{module}.bias"]),
                           ("moving_mean:0", state[f"{module}.running_mean"]),
                           ("moving_variance:0", state[f"{module}.running_var"])]
            names = [f"{name}/{w}".encode() for w, _ in weights]
            g.attrs["weight_names"] = np.array(names, dtype="S") if names else np.zeros(0, dtype="S1")
            for (w, value), full in zip(weights, names):
                g.create_dataset(full.decode(), data=value.contiguous().numpy().astype(np.float32))


def fingerprint():
    h = hashlib.sha256(Path(__file__).read_bytes())
    manifest = AUDIO.parent / "manifest.json"
    h.update(manifest.read_bytes() if manifest.exists() else b"-")
    return h.hexdigest()


def load(name):
    import librosa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wave, _ = librosa.load(str(AUDIO / name), sr=48000, mono=True)
    return wave


def main():
    import soundfile as sf
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen] up to date: {manifest_path}")
        return
    if not (AUDIO / "mix_s24_48k_extensible.wav").exists():
        sys.exit("run tests/gen_reference.py first")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    torch.set_num_threads(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torchopenl3
        from torchopenl3.models import PytorchOpenl3

    # Written as float WAV, which earshot and librosa both read bit-exactly.
    sf.write(OUT / EXCERPT, load("mix_s24_48k_extensible.wav")[: 48000 * 3 // 2], 48000, subtype="FLOAT")
    sf.write(OUT / SPEECH, load("speech_s16_16k.wav")[: 2 * 48000], 48000, subtype="FLOAT")
    inputs = {}
    for case, (file, _, _) in CASES.items():
        wave = load(str(OUT / file))
        np.save(OUT / f"{case}__input.npy", wave)
        inputs[case] = (wave, f"{case}__input.npy")

    entries = []
    for content in ["music", "env"]:
        for r, input_repr in enumerate(REPRS):
            gen = torch.Generator().manual_seed(1000 * (content == "env") + r)
            model = PytorchOpenl3(content, input_repr, 6144).eval()
            randomise(model, gen)
            state = model.state_dict()
            ckpt = f"torchopenl3_{input_repr}_{content}.pth.tar"
            torch.save(state, OUT / ckpt)
            entry = dict(input_repr=input_repr, content_type=content, checkpoint=ckpt, cases=[])
            if content == "music":
                entry["h5"] = f"openl3_audio_{input_repr}_{content}.h5"
                write_h5(OUT / entry["h5"], state)
            models = {}
            for size in SIZES:
                m = PytorchOpenl3(content, input_repr, size).eval()
                m.load_state_dict(state)
                models[size] = m
            for case in CASES_BY_CONTENT[content]:
                _, center, hop = CASES[case]
                wave, input_file = inputs[case]
                out = dict(case=case, input=input_file, center=center, hop_size=hop, sizes={})
                for size, m in models.items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        emb, ts = torchopenl3.get_audio_embedding(
                            wave, 48000, model=m, input_repr=input_repr, content_type=content,
                            embedding_size=size, center=center, hop_size=hop, verbose=False)
                    stem = f"{input_repr}_{content}_{size}__{case}"
                    np.save(OUT / f"{stem}__embedding.npy", emb[0].numpy())
                    np.save(OUT / f"{stem}__timestamps.npy", np.asarray(ts[0], dtype=np.float64))
                    out["sizes"][str(size)] = dict(embedding=f"{stem}__embedding.npy",
                                                   timestamps=f"{stem}__timestamps.npy")
                    print(f"[gen] {stem}: {tuple(emb[0].shape)} mean {emb.mean():.3f} "
                          f"std {emb.std():.3f} max {emb.abs().max():.3f}", flush=True)
                entry["cases"].append(out)
            entries.append(entry)
    manifest_path.write_text(json.dumps(
        dict(fingerprint=fp, torch=torch.__version__, torchopenl3=torchopenl3.__version__,
             files={case: file for case, (file, _, _) in CASES.items()}, models=entries), indent=1))
    print(f"[gen] wrote {len(entries)} OpenL3 models to {OUT}")


if __name__ == "__main__":
    main()
