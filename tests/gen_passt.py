#!/usr/bin/env python3
"""PaSST parity references: random-weight PaSST models built by hear21passt 0.0.26, saved as the
official release files are, and what hear21passt's HEAR wrapper gives on real audio.

Models (arch names as hear21passt.models.passt.get_model spells them):
* passt_s_swa_p16_128_ap476 through hear21passt.base.get_basic_model (the HEAR 2021 default:
  10-s window, scene hop 2.5 s, 160-ms timestamp windows every 50 ms), on 3-s, 10-s and 37-s clips;
* passt_s_p16_s16_128_ap468 (stride 16, no overlap) in the same wrapper, on the same clips;
* passt_20sec through hear21passt.base20sec.load_model's wrapper (20-s window, scene hop 5 s), on
  the 3-s and 10-s clips.
`get_model` is called with pretrained=False (the wrappers' own construction code runs, with the
network factory swapped for one that does not download). Weights are the classes' random
initialisation with every LayerNorm, bias, token and positional embedding re-drawn larger (timm
initialises them to 1, 0 or std 0.02, which would hide mistakes); head_dist is random too, so a
port that used it would show.

Each checkpoint is written like the official `passt-*.pt` release files: a flat state dict
(`patch_embed.proj.weight`, `blocks.0.attn.qkv.weight`, ..., `head.0.weight`, `head_dist.weight`)
saved by torch.save in the zip format, which hear21passt loads strictly
(vit_helpers.load_pretrained after checkpoint_filter_fn).

Clips: the 3-s one is tests/gen_reference.py's mix_f64_44k_stereo.wav; the 10-s (320000 samples,
exactly the wrapper's window) and 37-s ones are real speech, music-like mixes, tones and noise from
that audio, concatenated at 32 kHz mono and written here as float WAV. Every clip is loaded with
librosa.load(sr=32000, mono=True).

For each model and clip: the waveform fed (`input`), the scene embedding
(`get_scene_embeddings`, mode "all": 527 logits then 768 features), the probabilities
(sigmoid of the scene embedding's logits: for clips over the window, the mean of the windows'
logits, as get_scene_embeddings averages them), and the timestamp embeddings and their times in ms
(`get_timestamp_embeddings`).

Output: tests/data/generated/passt/ (git-ignored, ~1.1 GB). Idempotent.
"""
import contextlib
import hashlib
import io
import json
import shutil
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "passt"
AUDIO = HERE / "data" / "generated" / "audio"
SR = 32000

# (name, parts from tests/gen_reference.py's audio, samples)
MADE_CLIPS = [
    ("clip10", ["speech_s16_16k.wav", "tones_s16_44k_stereo.wav"], 10 * SR),
    ("clip37", ["speech_s16_16k.wav", "mix_f64_44k_stereo.wav", "tones_s16_44k_stereo.wav",
                "noise_s32_48k_stereo.wav", "speech_s16_22k.wav", "mix_s24_48k_extensible.wav",
                "sweep_f32_32k.wav", "speech_flac16_16k.flac"], 37 * SR),
]
CLIP3 = AUDIO / "mix_f64_44k_stereo.wav"


def quiet():
    """hear21passt prints its whole model and every shape on the first run."""
    return contextlib.redirect_stdout(io.StringIO())


def models():
    import hear21passt.base as base
    import hear21passt.base20sec as base20
    from hear21passt.models.passt import get_model
    no_download = partial(get_model, pretrained=False)
    base.get_model_passt = no_download
    base20.get_model_passt = no_download

    def s16(**kwargs):
        # get_basic_model's construction with the stride-16 network (get_model refuses stride 10
        # for it): the same front end and wrapper.
        saved = base.get_model_passt
        base.get_model_passt = lambda arch: no_download(arch=arch, fstride=16, tstride=16)
        try:
            return base.get_basic_model(arch="passt_s_p16_s16_128_ap468", **kwargs)
        finally:
            base.get_model_passt = saved

    return [
        ("passt_s_swa_p16_128_ap476", "passt-s-f128-p16-s10-ap476",
         lambda: base.get_basic_model(mode="all"), ["clip3", "clip10", "clip37"]),
        ("passt_s_p16_s16_128_ap468", "passt-s-f128-p16-s16-ap468",
         lambda: s16(mode="all"), ["clip3", "clip10", "clip37"]),
        ("passt_20sec", "passt-s-f128-20sec-p16-s10-ap474",
         lambda: base20.get_basic_model(mode="all", scene_hop=5000), ["clip3", "clip10"]),
    ]


def randomise(net, gen):
    def draw(t, std, mean=0.0):
        t.copy_(torch.randn(t.shape, generator=gen) * std + mean)

    for name, p in net.named_parameters():
        if name.endswith("bias"):
            draw(p, 0.05)
        elif p.dim() == 1:  # LayerNorm weights
            draw(p, 0.2, 1.0)
        elif "pos_embed" in name or name.endswith("_token"):
            draw(p, 0.5)
        elif name.startswith("head"):
            draw(p, 0.05)


def fingerprint():
    # The references depend on the exact test audio too (tests/gen_reference.py records hashes).
    h = hashlib.sha256(Path(__file__).read_bytes())
    manifest = AUDIO.parent / "manifest.json"
    h.update(manifest.read_bytes() if manifest.exists() else b"-")
    return h.hexdigest()


def load(path):
    import librosa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wave, _ = librosa.load(str(path), sr=SR, mono=True)
    return wave


def make_clips():
    import soundfile
    clips = {"clip3": CLIP3}
    for name, parts, n in MADE_CLIPS:
        wave = np.concatenate([load(AUDIO / p) for p in parts])
        assert len(wave) >= n, (name, len(wave))
        path = OUT / f"{name}.wav"
        soundfile.write(str(path), wave[:n].astype(np.float32), SR, subtype="FLOAT")
        clips[name] = path
    return clips


def main():
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen] up to date: {manifest_path}")
        return
    if not CLIP3.exists():
        sys.exit("run tests/gen_reference.py first")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    torch.set_num_threads(2)
    clip_paths = make_clips()
    entries = []
    for arch, card, build, clip_names in models():
        torch.manual_seed(len(arch))
        gen = torch.Generator().manual_seed(len(card))
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build().eval()
        with torch.no_grad():
            randomise(model.net, gen)
        ckpt = OUT / f"{arch}.pt"
        torch.save(model.net.state_dict(), ckpt)
        clips = []
        for clip in clip_names:
            wave = load(clip_paths[clip])
            stem = f"{arch}__{clip}"
            audio = torch.from_numpy(wave)[None, :]
            with quiet(), warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                scene = model.get_scene_embeddings(audio)[0]
                frames, times = model.get_timestamp_embeddings(audio)
            classes = model.net.num_classes
            arrays = {
                "input": wave,
                "scene": scene.numpy(),
                "probabilities": torch.sigmoid(scene[:classes]).numpy(),
                "timestamp_embeddings": frames[0].numpy(),
                "timestamps_ms": times[0].numpy(),
            }
            files = {}
            for key, value in arrays.items():
                np.save(OUT / f"{stem}__{key}.npy", value)
                files[key] = f"{stem}__{key}.npy"
            clips.append(dict(clip=clip, audio=str(Path(clip_paths[clip]).relative_to(HERE.parent)),
                              samples=len(wave), files=files))
            print(f"[gen] {arch} {clip}: {len(wave)} samples, scene {tuple(scene.shape)}, "
                  f"frames {tuple(frames.shape[1:])}, prob mean {arrays['probabilities'].mean():.3f} "
                  f"std {arrays['probabilities'].std():.3f}", flush=True)
        entries.append(dict(arch=arch, card=card, checkpoint=ckpt.name, classes=model.net.num_classes,
                            max_model_window=model.max_model_window, scene_hop=model.scene_hop,
                            timestamp_window=model.timestamp_window, timestamp_hop=model.timestamp_hop,
                            clips=clips))
        del model
    manifest_path.write_text(json.dumps(dict(fingerprint=fp, torch=torch.__version__, models=entries),
                                        indent=1))
    print(f"[gen] wrote {len(entries)} PaSST references to {OUT}")


if __name__ == "__main__":
    main()
