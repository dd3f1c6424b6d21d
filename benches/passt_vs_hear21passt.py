#!/usr/bin/env python3
"""Side by side: earshot's PaSST against hear21passt 0.0.26 on the same clips, same threads.

Both sides load the random-weight passt_s_swa_p16_128_ap476 checkpoint that tests/gen_passt.py
saved in the official layout, decode the same files (tests/gen_passt.py's 3-s, 10-s and 37-s
clips) and do the same work:
* tag:   hear21passt librosa.load + get_scene_embeddings (mode "all"; the probabilities are the
         sigmoid of its logits) vs `earshot tag --model passt --format json --all-scores`;
* embed: librosa.load + get_timestamp_embeddings + get_scene_embeddings vs
         `earshot embed --model passt -o DIR`.
Reported: wall and CPU seconds of each side (model load included on both sides; CPU time is the
fairer figure on a shared machine) and the ratios earshot / hear21passt (below 1 = earshot faster).

    ~/.cache/earshot/venv/bin/python benches/passt_vs_hear21passt.py [--threads 2] [--repeat 1]
        [--clips 3,10,37] [--tasks tag,embed]
"""
import argparse
import contextlib
import io
import os
import resource
import subprocess
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tests/data/generated"
CKPT = GEN / "passt/passt_s_swa_p16_128_ap476.pt"
CLIPS = {"3": GEN / "audio/mix_f64_44k_stereo.wav", "10": GEN / "passt/clip10.wav",
         "37": GEN / "passt/clip37.wav"}


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def python_side(task, files, threads):
    import librosa
    import torch
    import hear21passt.base as base
    from hear21passt.models.passt import get_model
    torch.set_num_threads(threads)
    base.get_model_passt = partial(get_model, pretrained=False)
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = base.get_basic_model(mode="all")
        model.net.load_state_dict(torch.load(CKPT, weights_only=True))
        model.eval()
        for f in files:
            audio, _ = librosa.load(str(f), sr=32000, mono=True)
            audio = torch.from_numpy(audio)[None, :]
            with torch.no_grad():
                scene = model.get_scene_embeddings(audio)
                torch.sigmoid(scene[:, :527])
                if task == "embed":
                    model.get_timestamp_embeddings(audio)
    return time.perf_counter() - wall, time.process_time() - cpu


def earshot_side(task, files, threads, binary):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [binary, task, "--model", "passt", "--checkpoint", str(CKPT), "--threads", str(threads)]
        cmd += ["--format", "json", "--all-scores"] if task == "tag" else ["-o", str(Path(tmp) / "emb")]
        cmd += [str(f) for f in files]
        wall, cpu = time.perf_counter(), children_cpu()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - wall, children_cpu() - cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="pass the clip list this many times")
    ap.add_argument("--tasks", default="tag,embed")
    ap.add_argument("--clips", default="3,10,37", help="which clips (seconds), comma-separated")
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    args = ap.parse_args()
    if not CKPT.exists():
        raise SystemExit("run tests/gen_passt.py first")
    chosen = args.clips.split(",")
    files = [CLIPS[c] for c in chosen] * args.repeat
    print(f"clips of {', '.join(chosen)} s × {args.repeat}, {args.threads} threads, "
          f"model load included")
    for task in args.tasks.split(","):
        py = python_side(task, files, args.threads)
        rs = earshot_side(task, files, args.threads, args.bin)
        print(f"{task:<6} hear21passt wall {py[0]:7.1f} s cpu {py[1]:7.1f} s | "
              f"earshot wall {rs[0]:7.1f} s cpu {rs[1]:7.1f} s | "
              f"earshot/hear21passt wall {rs[0] / py[0]:.2f} cpu {rs[1] / py[1]:.2f}")


if __name__ == "__main__":
    main()
