#!/usr/bin/env python3
"""`earshot train` on cached embeddings, side by side with scikit-learn and PyTorch.

Makes 10,000 1024-d embeddings of 10 overlapping classes (numpy, seeded), as the Parquet table
`earshot embed` writes and a labels CSV, then times on the same data and the same number of
threads (`--threads`, default 2; OMP/MKL/torch threads set alike):

* `earshot train --embeddings T --labels L --epochs 50 --patience 0` (linear head, batch 64,
  Adam, 20 % validation): the whole command, reading the table and writing the model folder;
* the same recipe in PyTorch (tests/reference_train.py's training loop, 50 epochs), which
  earshot's probabilities match;
* scikit-learn `LogisticRegression(lbfgs)` with the same L2 (C = 1 / (weight_decay · n)) on
  the standardised training rows, to convergence (max_iter 1000).

Validation accuracies are printed beside the times. Run with the project venv after
`cargo build --release --workspace`:

    ~/.cache/earshot/venv/bin/python benches/train_vs_sklearn.py [--rows 10000] [--threads 2]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--earshot", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")), "release", "earshot"))
    args = ap.parse_args()
    for var in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"]:
        os.environ[var] = str(args.threads)
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    from sklearn.linear_model import LogisticRegression
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "tests"))
    import reference_train as ref  # noqa: E402

    rng = np.random.default_rng(7)
    classes = 10
    centres = rng.normal(0, 0.06, size=(classes, args.dim))
    labels = rng.integers(0, classes, size=args.rows)
    x = (centres[labels] + rng.normal(0, 1.0, size=(args.rows, args.dim))).astype(np.float32)
    files = [f"clip{i:05d}.wav" for i in range(args.rows)]
    wd, lr, bs, seed = 1e-3, 1e-3, 64, 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        table = tmp / "emb.parquet"
        pq.write_table(pa.table({"file": files,
                                 "embedding": pa.array(list(x), pa.list_(pa.float32()))}), table)
        with open(tmp / "labels.csv", "w") as f:
            f.write("filename,labels\n")
            for name, lab in zip(files, labels):
                f.write(f"{name},class{lab}\n")
        model = tmp / "model"
        t0 = time.perf_counter()
        subprocess.run([args.earshot, "--threads", str(args.threads), "train",
                        "--embeddings", str(table), "--labels", str(tmp / "labels.csv"),
                        "-o", str(model), "--epochs", str(args.epochs), "--patience", "0",
                        "--keep", "last", "--class-weight", "none", "--lr", str(lr),
                        "--weight-decay", str(wd), "--batch-size", str(bs), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, "EARSHOT_HOME": str(tmp)})
        t_earshot = time.perf_counter() - t0
        with open(model / "model.toml", "rb") as f:
            card = tomllib.load(f)
        acc_earshot = card["validation"]["accuracy"]

        # The same split earshot made, for the references.
        import csv
        index = {f: i for i, f in enumerate(files)}
        train_rows, val_rows = [], []
        with open(model / "split.csv") as f:
            for r in csv.DictReader(f):
                (train_rows if r["subset"] == "train" else val_rows).append(index[r["filename"]])
        xt, yt = x[train_rows], [[int(labels[i])] for i in train_rows]
        xv, yv = x[val_rows], [[int(labels[i])] for i in val_rows]

        card["_patience"], card["_keep"] = 0, "last"
        t0 = time.perf_counter()
        probs, (xs, vxs) = ref.train_torch(card, xt, yt, xv, yv, classes)
        t_torch = time.perf_counter() - t0
        acc_torch = ref.score(probs, yv, False)

        t0 = time.perf_counter()
        mean, std = xt.mean(0), xt.std(0).clip(1e-6)
        clf = LogisticRegression(C=1.0 / (wd * len(yt)), solver="lbfgs", max_iter=1000)
        clf.fit((xt - mean) / std, [l[0] for l in yt])
        acc_sk = clf.score((xv - mean) / std, [l[0] for l in yv])
        t_sk = time.perf_counter() - t0

    print(f"{args.rows} x {args.dim} embeddings, {classes} classes, {args.threads} threads, "
          f"{args.epochs} epochs (batch {bs})")
    print(f"  earshot train (whole command)      {t_earshot:7.2f} s   val accuracy {acc_earshot:.4f}")
    print(f"  PyTorch, same recipe               {t_torch:7.2f} s   val accuracy {acc_torch:.4f}"
          f"   ({t_torch / t_earshot:.1f}x earshot's time)")
    print(f"  scikit-learn LogisticRegression    {t_sk:7.2f} s   val accuracy {acc_sk:.4f}"
          f"   ({t_sk / t_earshot:.1f}x earshot's time, {clf.n_iter_[0]} lbfgs iterations)")


if __name__ == "__main__":
    main()
