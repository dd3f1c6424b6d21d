#!/usr/bin/env python3
"""Side by side: `earshot features` against the Python reference front ends, same files, same
thread count.

For each front end, a corpus of float32 WAV files at its own sample rate (the generated
speech/tone mixture, repeated) is written to a temporary directory, so neither side resamples.
Python: per file `librosa.load(sr=None)` → the reference front end (as tests/gen_frontend.py
runs it, float32 as shipped: torchlibrosa via Cnn14, AugmentMelSTFT, torchopenl3's
preprocessing + speclayer in batches of 32, kaldi.fbank, Wav2Vec2FeatureExtractor) →
`np.save`, with `torch.set_num_threads(T)`. earshot: one `earshot --threads T features FILES
--frontend X -o DIR` process, start-up (loading libtorch) included. Best of --repeat runs.
Reports, for T = 1 and T = 2: end-to-end wall-clock throughput (audio seconds per second) of
both and the ratio (earshot's includes its ~0.5 s start-up, which loads libtorch); and the front
end alone, waveform in memory to features, in CPU seconds and in wall seconds: Python's
reference call against `Frontend::compute` (`cargo bench --bench frontend -- --cpu`, 30 s of
the same mixture). CPU time is the fair measure on a shared, loaded machine, where wall-clock
figures mostly measure the neighbours.

    ~/.cache/earshot/venv/bin/python benches/frontend_vs_python.py [--repeat 2] [--only panns,passt]
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

RATES = {
    "panns": 32000, "panns-16k": 16000, "panns-8k": 8000, "passt": 32000,
    "openl3-linear": 48000, "openl3-mel128": 48000, "openl3-mel256": 48000,
    "kaldi-fbank": 16000, "wav2vec2": 16000,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/earshot/target"))
    ap.add_argument("--bin", default=str(Path(target) / "release/earshot"))
    ap.add_argument("--files", type=int, default=8, help="files per corpus")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each file")
    ap.add_argument("--openl3-seconds", type=float, default=10.0)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="")
    ap.add_argument("--no-cargo", action="store_true",
                    help="skip the in-process earshot figures (cargo bench --bench frontend -- --cpu)")
    args = ap.parse_args()
    import librosa
    import soundfile as sf
    import torch
    from gen_frontend import References

    # earshot's front end alone, in process (benches/frontend.rs --cpu): {(name, T): (cpu, wall)}.
    earshot_front = {}
    if not args.no_cargo:
        report = subprocess.run(["cargo", "bench", "-q", "--bench", "frontend", "--", "--cpu"],
                                cwd=ROOT, check=True, capture_output=True, text=True).stdout
        for line in report.splitlines()[1:]:
            preset, threads, cpu_xrt, wall_xrt = line.split()
            earshot_front[(preset, int(threads))] = (float(cpu_xrt), float(wall_xrt))

    src = ROOT / "tests/data/generated/audio/mix_flac24_48k_stereo.flac"
    refs = References()
    names = [n for n in RATES if not args.only or n in args.only.split(",")]
    print("xRT = seconds of audio per second (wall) or per CPU second; T = threads per side; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name in names:
        sr = RATES[name]
        seconds = args.openl3_seconds if name.startswith("openl3") else args.seconds
        clip, _ = librosa.load(str(src), sr=sr, mono=True)
        y = np.resize(clip, int(seconds * sr)).astype(np.float32)
        tmp = tempfile.TemporaryDirectory()
        files = []
        for i in range(args.files):
            p = Path(tmp.name) / f"clip{i}.wav"
            sf.write(p, np.roll(y, i * 997), sr, subtype="FLOAT")
            files.append(p)
        audio_s = seconds * len(files)
        out = Path(tmp.name) / "out"
        out.mkdir()
        for threads in map(int, args.threads.split(",")):
            torch.set_num_threads(threads)

            def python_run(frontend_only):
                """(wall s, CPU s) for the whole corpus; front end alone or load+front end+save."""
                wall = cpu = 0.0
                w0, c0 = time.perf_counter(), time.process_time()
                for f in files:
                    w, _ = librosa.load(str(f), sr=None, mono=True)
                    w1, c1 = time.perf_counter(), time.process_time()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        feats = refs.run(name, w, f64=False)
                    wall += time.perf_counter() - w1
                    cpu += time.process_time() - c1
                    if not frontend_only:
                        np.save(out / (f.name + ".py.npy"), np.asarray(feats, dtype=np.float32))
                if frontend_only:
                    return wall, cpu
                return time.perf_counter() - w0, time.process_time() - c0

            def earshot_run(cmd):
                """(wall s, CPU s of the child)."""
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                wall = time.perf_counter() - t
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

            features = [args.bin, "--threads", str(threads), "features", *map(str, files),
                        "--frontend", name, "-o", str(out)]
            python_run(True)  # warm: build the reference modules, imports, page cache
            earshot_run(features)
            best = lambda runs: (min(r[0] for r in runs), min(r[1] for r in runs))
            pw, pc = best([python_run(False) for _ in range(args.repeat)])
            fw, fc = best([python_run(True) for _ in range(args.repeat)])
            ew, ec = best([earshot_run(features) for _ in range(args.repeat)])
            rust = earshot_front.get((name, threads))
            rust_txt = (f"earshot {rust[0]:>6.0f} ratio {rust[0] / (audio_s / fc):>5.1f}"
                        if rust else "earshot      -")
            print(f"{name:<14} {threads:>2} {audio_s:>7.0f} | wall xRT: python {audio_s / pw:>6.0f} "
                  f"earshot {audio_s / ew:>6.0f} ratio {pw / ew:>5.1f} | front end CPU xRT: "
                  f"python {audio_s / fc:>6.0f} {rust_txt} | front end wall xRT: python "
                  f"{audio_s / fw:>6.0f} earshot {rust[1] if rust else 0:>6.0f} ratio "
                  f"{(rust[1] if rust else 0) / (audio_s / fw):>5.1f}", flush=True)
        tmp.cleanup()
    print(f"torch {torch.__version__}, cores={os.cpu_count()}")


if __name__ == "__main__":
    main()
