#!/usr/bin/env python3
"""Side by side: `earshot embed --model openl3` against torchopenl3 (librosa.load at 48 kHz, then
`get_audio_embedding(audio, 48000, model=...)`, saving each file's embedding and timestamps as
`process_audio_file` does) over a folder of clips.

The clips are cut from the generated 48 kHz test audio (tests/gen_reference.py), looped to
`--seconds` and written as float WAV, so neither side resamples. Both sides load the same
random-weight torchopenl3 state dict (tests/gen_openl3.py), use the same number of threads and
the reference's batch size (32 windows). Model loading is included on both sides. Reports wall
and CPU time (CPU time is the steadier measure on a shared machine), windows per second, and the
ratio earshot / torchopenl3 (above 1: earshot is faster).

    ~/.cache/earshot/venv/bin/python benches/openl3_vs_torchopenl3.py \
        [--files 2] [--seconds 3] [--hop 0.1] [--input-repr mel256] [--embedding-size 6144] [--threads 2]
"""
import argparse
import os
import resource
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "tests/data/generated"


def make_clips(folder, count, seconds):
    import librosa
    import soundfile as sf
    sources = [GEN / "audio" / n for n in
               ("mix_s24_48k_extensible.wav", "tones_s24_48k_stereo.wav", "noise_s32_48k_stereo.wav")]
    n = int(seconds * 48000)
    for i in range(count):
        y, _ = librosa.load(str(sources[i % len(sources)]), sr=48000, mono=True)
        y = np.tile(y, int(np.ceil(n / len(y))))[:n]
        sf.write(folder / f"clip{i:03d}.wav", y, 48000, subtype="FLOAT")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--hop", type=float, default=0.1)
    ap.add_argument("--input-repr", default="mel256", choices=["linear", "mel128", "mel256"])
    ap.add_argument("--embedding-size", type=int, default=6144, choices=[512, 6144])
    ap.add_argument("--threads", type=int, default=2)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    args = ap.parse_args()
    ckpt = GEN / "openl3" / f"torchopenl3_{args.input_repr}_music.pth.tar"
    if not ckpt.exists():
        raise SystemExit("run tests/gen_openl3.py first")
    import librosa
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torchopenl3
        from torchopenl3.models import PytorchOpenl3
    torch.set_num_threads(args.threads)
    hop = int(args.hop * 48000)
    windows = args.files * (1 + int(np.ceil((args.seconds * 48000 + 24000 - 48000) / hop)))
    print(f"{args.files} clips of {args.seconds:g} s at hop {args.hop:g} s ({windows} windows), "
          f"openl3-{args.input_repr}-music-{args.embedding_size}, {args.threads} threads, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        make_clips(folder, args.files, args.seconds)
        files = sorted(folder.iterdir())
        out_py, out_rs = Path(tmp) / "py", Path(tmp) / "rs"
        out_py.mkdir()

        w0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = PytorchOpenl3("music", args.input_repr, args.embedding_size)
            model.load_state_dict(torch.load(ckpt))
            model.eval()
            for f in files:
                audio, _ = librosa.load(str(f), sr=48000, mono=True)
                emb, ts = torchopenl3.get_audio_embedding(
                    audio, 48000, model=model, hop_size=args.hop, batch_size=32, verbose=False)
                np.savez(out_py / f"{f.name}.npz", embedding=emb[0].numpy(), timestamps=ts[0].numpy())
        py_wall, py_cpu = time.perf_counter() - w0, time.process_time() - c0

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        subprocess.run([args.bin, "--threads", str(args.threads), "embed", "--model", "openl3",
                        "--input-repr", args.input_repr, "--embedding-size", str(args.embedding_size),
                        "--checkpoint", str(ckpt), "--hop", str(args.hop), str(folder), "-o", str(out_rs)],
                       check=True, stdout=subprocess.DEVNULL)
        rs_wall = time.perf_counter() - w0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rs_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

        worst = 0.0
        for f in files:
            a = np.load(out_py / f"{f.name}.npz")["embedding"]
            b = np.load(out_rs / f"{f.name}.npz")["embedding"]
            worst = max(worst, float(np.abs(a - b).max()))
    print(f"torchopenl3: wall {py_wall:7.2f} s  cpu {py_cpu:7.2f} s  {windows / py_wall:6.2f} windows/s")
    print(f"earshot:     wall {rs_wall:7.2f} s  cpu {rs_cpu:7.2f} s  {windows / rs_wall:6.2f} windows/s")
    print(f"ratio earshot / torchopenl3 (throughput): wall {py_wall / rs_wall:.2f}, cpu {py_cpu / rs_cpu:.2f}")
    print(f"max |earshot - torchopenl3| over all frames: {worst:.2e}")


if __name__ == "__main__":
    main()
