#!/usr/bin/env python3
"""The Python package side by side with the Python references, in one process, same threads:

* psds:      earshot.metrics.psds vs sed_scores_eval.intersection_based.psds (PSDS1 and PSDS2)
             on a DESED-validation-sized set (1168 clips, 10 classes, 156 frames; the DataFrames
             of tests/gen_metrics.py's generator, handed to both in memory);
* load:      earshot.load_audio vs librosa.load (sr=32000) on WAV/FLAC/MP3 copies of the test audio;
* tag_batch: Model.tag_batch vs panns_inference's Cnn14 (random weights, tests/gen_panns.py's
             checkpoint) on the same decoded clips, in batches of 8 equal-length clips;
* hear:      earshot.hear.passt timestamp embeddings vs hear21passt's get_timestamp_embeddings
             (random passt_s_swa_p16_128_ap476 weights) on 10-s clips.

Reported: seconds per side and the ratio reference / earshot (above 1 = earshot faster), and the
largest difference of the values. Run after scripts/python_wheel.sh:

    ~/.cache/earshot/venv/bin/python benches/python_api.py [--threads 2] [--clips 200]
        [--seconds 5] [--tasks psds,load,tag_batch,hear]
"""

import argparse
import contextlib
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tests/data/generated"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benches"))


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def report(task, ref_name, t_ref, t_ours, diff):
    print(f"{task:9}: {ref_name} {t_ref:8.2f} s   earshot {t_ours:8.2f} s   "
          f"-> {t_ref / t_ours:6.1f}x   max |Δ| {diff:.1e}", flush=True)


def bench_psds(args):
    import pandas as pd
    import gen_metrics as g
    from sed_scores_eval import intersection_based
    from earshot import metrics
    rng = np.random.default_rng(7)
    classes = g.CLASS_POOL
    files, durations, gt, scores = g.make_sed_case(rng, 1168, classes, quantise=False, class_prob=0.36)
    frames = {}
    for f in files:
        ts, sc = scores[f]
        df = pd.DataFrame(sc, columns=classes)
        df.insert(0, "offset", ts[1:])
        df.insert(0, "onset", ts[:-1])
        frames[f.rsplit(".", 1)[0]] = df
    truth = {f.rsplit(".", 1)[0]: list(gt[f]) for f in files}
    lengths = {f.rsplit(".", 1)[0]: durations[f] for f in files}

    def run(fn):
        out = []
        for p in (g.PSDS_PARAMS["psds1"], g.PSDS_PARAMS["psds2"]):
            out.append(fn(frames, truth, lengths, dtc_threshold=p["dtc"], gtc_threshold=p["gtc"],
                          cttc_threshold=p["cttc"] if p["alpha_ct"] else None,
                          alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])[0])
        return out

    t_ref, ref = timed(lambda: run(lambda s, t, d, **kw: intersection_based.psds(
        scores=s, ground_truth=t, audio_durations=d, **kw)))
    t_ours, ours = min((timed(lambda: run(metrics.psds)) for _ in range(3)), key=lambda x: x[0])
    report("psds", "sed_scores_eval", t_ref, t_ours, max(abs(a - b) for a, b in zip(ref, ours)))


def clips(folder, count, seconds):
    import soundfile as sf
    import subprocess
    import librosa
    sources = sorted((GEN / "audio").glob("*.wav"))
    paths = []
    for i in range(count):
        y, _ = librosa.load(str(sources[i % len(sources)]), sr=44100, mono=False)
        y = np.atleast_2d(y)
        n = int(seconds * 44100)
        y = np.tile(y, (1, int(np.ceil(n / y.shape[1]))))[:, :n]
        fmt = ("wav", "flac", "mp3")[i % 3]
        path = folder / f"clip{i:03d}.{fmt}"
        if fmt == "mp3":
            wav = folder / "tmp.wav"
            sf.write(wav, y.T, 44100, subtype="PCM_16")
            subprocess.run(["lame", "--quiet", "-b", "128", str(wav), str(path)], check=True)
        else:
            sf.write(path, y.T, 44100)
        paths.append(path)
    return paths


def bench_load(paths):
    import librosa
    import earshot
    t_ref, ref = timed(lambda: [librosa.load(p, sr=32000)[0] for p in paths])
    t_ours, ours = timed(lambda: [earshot.load_audio(p, sr=32000)[0] for p in paths])
    report("load", "librosa.load   ", t_ref, t_ours, max(float(np.abs(a - b).max()) for a, b in zip(ref, ours)))
    return ours


def bench_tag_batch(signals):
    import earshot
    from panns_inference.models import Cnn14
    ckpt = GEN / "panns/Cnn14.pth"
    net = Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, fmin=50,
                fmax=14000, classes_num=527)
    net.load_state_dict(torch.load(ckpt, weights_only=False)["model"])
    net.eval()
    model = earshot.load_model("cnn14", checkpoint=ckpt)
    n = min(len(s) for s in signals)
    signals = [s[:n] for s in signals]

    def reference():
        rows = []
        with torch.no_grad():
            for i in range(0, len(signals), 8):
                rows.append(net(torch.from_numpy(np.stack(signals[i:i + 8])))["clipwise_output"].numpy())
        return np.concatenate(rows)

    def ours():
        return np.concatenate([model.tag_batch(signals[i:i + 8], 32000) for i in range(0, len(signals), 8)])

    t_ref, ref = timed(reference)
    t_ours, out = timed(ours)
    report("tag_batch", "panns_inference", t_ref, t_ours, float(np.abs(ref - out).max()))


def bench_hear(threads):
    from functools import partial
    import hear21passt.base as base
    from hear21passt.models.passt import get_model
    import earshot
    from earshot.hear import passt
    base.get_model_passt = partial(get_model, pretrained=False)  # no download: random weights
    ckpt = GEN / "passt/passt_s_swa_p16_128_ap476.pt"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        ref_model = base.get_basic_model(mode="all")
    ref_model.net.load_state_dict(torch.load(ckpt, weights_only=True))
    ref_model.eval()
    y, _ = earshot.load_audio(GEN / "passt/clip10.wav", sr=32000)
    audio32 = torch.from_numpy(np.stack([y, y[::-1].copy()]))
    with torch.no_grad():
        t_ref, (ref, ref_ts) = timed(lambda: base.get_timestamp_embeddings(audio32, ref_model))
    # earshot's HEAR module takes 48 kHz (hearvalidator 2021.0.2 refuses 32 kHz); the Model API
    # at 32 kHz is the same computation on the reference's own input.
    model = passt.load_model(str(ckpt))
    y48, _ = earshot.load_audio(GEN / "passt/clip10.wav", sr=48000)
    audio48 = torch.from_numpy(np.stack([y48, y48[::-1].copy()]))
    t_ours, _ = timed(lambda: passt.get_timestamp_embeddings(audio48, model))
    direct = model.model
    out = direct.embed(audio32[0].numpy(), 32000)["embedding"]
    diff = float(np.abs(out - ref[0].numpy()).max())
    report("hear", "hear21passt    ", t_ref, t_ours, diff)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--tasks", default="psds,load,tag_batch,hear")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tasks = args.tasks.split(",")
    print(f"{args.threads} threads; {args.clips} clips of {args.seconds} s for load/tag_batch")
    if "psds" in tasks:
        bench_psds(args)
    if "load" in tasks or "tag_batch" in tasks:
        with tempfile.TemporaryDirectory() as tmp:
            signals = bench_load(clips(Path(tmp), args.clips, args.seconds))
        if "tag_batch" in tasks:
            bench_tag_batch(signals)
    if "hear" in tasks:
        bench_hear(args.threads)


if __name__ == "__main__":
    main()
