"""The reference training runs for `earshot train` (tests/train.rs runs this at test time).

    reference_train.py MODEL_DIR [--table EMBEDDINGS.parquet]

Reads the model folder earshot wrote (`model.toml`, `split.csv`) and the same embeddings
earshot trained on: the table given (rows matched by `file`), or earshot's embedding cache
(`report.json` names it; rows keyed by the sha256 of each file's bytes). Then:

- trains the head again in PyTorch with the recipe of crates/models/src/tasks/head.rs
  (`torch.manual_seed`, uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) initialisation, a
  `torch.randperm` batch order per epoch, `torch.optim.Adam`, cross-entropy or BCE-with-logits
  plus weight_decay/2 * sum(W^2), the best epoch by validation score, then lower validation
  loss, or the last epoch with `--keep last`), and gives its validation probabilities;
- fits scikit-learn's LogisticRegression (lbfgs, the same L2: C = 1 / (weight_decay * n)) on
  the standardised training embeddings and gives its validation accuracy.

Prints JSON: {"files": [...], "torch": [[p...]...], "torch_accuracy", "sklearn_accuracy"}.
"""

import argparse
import csv
import hashlib
import json
import os
import sys
import tomllib

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def rows_by_key(table):
    t = pq.read_table(table).to_pydict()
    out = {}
    for key, emb in zip(t["file"], t["embedding"]):
        out.setdefault(key, []).append(emb)
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def mean_rows(frames):
    return frames.astype(np.float64).mean(axis=0).astype(np.float32)


def layer_init(fan_in, out):
    bound = 1.0 / fan_in ** 0.5
    w = torch.empty(out, fan_in).uniform_(-bound, bound)
    b = torch.empty(out).uniform_(-bound, bound)
    return w.requires_grad_(), b.requires_grad_()


def forward(layers, x, dropout):
    h = x
    for i, (w, b) in enumerate(layers):
        if i > 0:
            h = torch.relu(h)
            if dropout is not None and dropout > 0:
                h = F.dropout(h, dropout, training=True)
        h = F.linear(h, w, b)
    return h


def score(probs, labels, multi_label):
    if not multi_label:
        return float(np.mean(np.argmax(probs, axis=1) == np.array([l[0] for l in labels])))
    aps = []
    for c in range(probs.shape[1]):
        truth = np.array([c in l for l in labels])
        if truth.any():
            aps.append(average_precision_score(truth, probs[:, c]))
    return float(np.mean(aps)) if aps else 0.0


def train_torch(card, x, y, vx, vy, classes):
    head, tr = card["head"], card["training"]
    multi = head["multi_label"]
    torch.manual_seed(tr["seed"])
    x = torch.from_numpy(x)
    mean = x.mean(0, keepdim=True)
    std = x.std(0, unbiased=False, keepdim=True).clamp_min(1e-6)
    xs = (x - mean) / std
    vxs = (torch.from_numpy(vx) - mean) / std
    n, dim = xs.shape

    def targets(labels):
        if multi:
            m = torch.zeros(len(labels), classes)
            for r, l in enumerate(labels):
                m[r, l] = 1.0
            return m
        return torch.tensor([l[0] for l in labels], dtype=torch.int64)

    yt, vyt = targets(y), targets(vy)
    weight = None
    if tr["class_weight"] == "balanced":
        counts = np.zeros(classes)
        for l in y:
            counts[l] += 1
        w = []
        for c in counts:
            v = (n - c) / c if multi else n / (classes * c) if c > 0 else 1.0
            w.append(v if c > 0 and np.isfinite(v) else 1.0)
        weight = torch.tensor(w, dtype=torch.float32)
    if head["kind"] == "linear":
        shapes = [(dim, classes)]
    else:
        shapes = [(dim, head["hidden"]), (head["hidden"], classes)]
    layers = [layer_init(i, o) for i, o in shapes]
    params = [p for wb in layers for p in wb]
    opt = torch.optim.Adam(params, lr=tr["lr"], foreach=False)
    dropout = head["dropout"] if head["kind"] == "mlp" else None

    def loss_of(logits, t):
        if multi:
            return F.binary_cross_entropy_with_logits(logits, t, pos_weight=weight)
        return F.cross_entropy(logits, t, weight=weight)

    best, kept, stale = None, None, 0
    patience = card["_patience"]
    # The card records the epochs earshot ran; with the same early stopping rule this run
    # stops there too.
    for epoch in range(1, tr["epochs"] + 1):
        perm = torch.randperm(n)
        for start in range(0, n, tr["batch_size"]):
            idx = perm[start:start + tr["batch_size"]]
            logits = forward(layers, xs[idx], dropout)
            penalty = torch.zeros(())
            for w, _ in layers:
                penalty = penalty + w.square().sum()
            loss = loss_of(logits, yt[idx]) + penalty * (0.5 * tr["weight_decay"])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            logits = forward(layers, vxs, None)
            vloss = loss_of(logits, vyt).item()
            p = (torch.sigmoid(logits) if multi else torch.softmax(logits, -1)).numpy()
            s = score(p, vy, multi)
        better = best is None or s > best[0] or (s == best[0] and vloss < best[1])
        if better or card["_keep"] == "last":
            kept = [(w.detach().clone(), b.detach().clone()) for w, b in layers]
        if better:
            best = (s, vloss)
            stale = 0
        else:
            stale += 1
        if patience > 0 and stale >= patience:
            break
    with torch.no_grad():
        logits = forward(kept, vxs, None)
        probs = torch.sigmoid(logits) if multi else torch.softmax(logits, -1)
    return probs.numpy(), (xs.numpy(), vxs.numpy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--table")
    ap.add_argument("--patience", type=int, required=True,
                    help="the --patience earshot trained with (it is not in the card)")
    ap.add_argument("--keep", choices=["best", "last"], default="best")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(os.path.join(args.model_dir, "model.toml"), "rb") as f:
        card = tomllib.load(f)
    card["_patience"] = args.patience
    card["_keep"] = args.keep
    labels = card["labels"]
    if args.table:
        rows = rows_by_key(args.table)
        key = lambda name: name  # noqa: E731
    else:
        with open(os.path.join(args.model_dir, "report.json")) as f:
            rows = rows_by_key(json.load(f)["embedding_cache"])
        key = sha256
    train, val = ([], []), ([], [])
    files = []
    with open(os.path.join(args.model_dir, "split.csv")) as f:
        for r in csv.DictReader(f):
            lab = [labels.index(l) for l in r["labels"].split(";") if l]
            emb = mean_rows(rows[key(r["filename"])])
            target = train if r["subset"] == "train" else val
            target[0].append(emb)
            target[1].append(lab)
            if r["subset"] != "train":
                files.append(r["filename"])
    x, y = np.stack(train[0]), train[1]
    vx, vy = np.stack(val[0]), val[1]
    probs, (xs, vxs) = train_torch(card, x, y, vx, vy, len(labels))
    out = {"files": files, "torch": probs.tolist(),
           "torch_accuracy": score(probs, vy, card["head"]["multi_label"])}
    if not card["head"]["multi_label"]:
        c = 1.0 / (card["training"]["weight_decay"] * len(y))
        lr = LogisticRegression(C=c, solver="lbfgs", max_iter=10000, tol=1e-10)
        lr.fit(xs, [l[0] for l in y])
        out["sklearn_accuracy"] = float(lr.score(vxs, [l[0] for l in vy]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
