#!/usr/bin/env python3
"""Write checkpoints in every format earshot reads, and what the reference loaders see in them.

For each file, expected.json lists every tensor as the reference reads it (`torch.load`,
`safetensors`, `h5py`): flattened name, dtype, shape and the sha256 of its C-contiguous
little-endian bytes, plus a few metadata values. The Rust tests load the same files natively and
must agree bit for bit. Hostile pickles (that would run `touch` if unpickled by Python) and
damaged files are written beside them; this script never loads the hostile ones.

Output: tests/data/generated/checkpoints/ (git-ignored). Idempotent: skipped when up to date.
"""

import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "checkpoints"

DTYPE_NAMES = {
    torch.bool: "bool", torch.uint8: "uint8", torch.int8: "int8", torch.int16: "int16",
    torch.int32: "int32", torch.int64: "int64", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.float32: "float32", torch.float64: "float64",
    torch.complex64: "complex64", torch.complex128: "complex128",
    torch.uint16: "uint16", torch.uint32: "uint32", torch.uint64: "uint64",
}
NP_NAMES = {np.dtype(k): v for k, v in [("bool", "bool"), ("uint8", "uint8"), ("int8", "int8"),
            ("int16", "int16"), ("int32", "int32"), ("int64", "int64"), ("float16", "float16"),
            ("float32", "float32"), ("float64", "float64"), ("complex64", "complex64"),
            ("complex128", "complex128"), ("uint16", "uint16"), ("uint32", "uint32"),
            ("uint64", "uint64")]}
# Every numpy bool/int/uint/float/complex type earshot keeps as a tensor.
NUMERIC_CODES = ["b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16"]


def is_numeric(value):
    """Whether earshot keeps this numpy value as a tensor (the rest is opaque metadata).
    longdouble is platform-defined (x87 80-bit on x86-64, IEEE quad on aarch64) and excluded."""
    dt = np.asarray(value).dtype
    return dt.kind in "biufc" and dt.names is None and dt.itemsize <= (16 if dt.kind == "c" else 8)


def tensor_entry(name, value):
    if isinstance(value, torch.Tensor):
        t = value.detach().contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        return dict(name=name, dtype=DTYPE_NAMES[t.dtype], shape=list(t.shape),
                    sha256=hashlib.sha256(raw).hexdigest())
    a = np.asarray(value)
    le = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False)
    return dict(name=name, dtype=NP_NAMES[np.dtype(a.dtype.name)], shape=list(a.shape),
                sha256=hashlib.sha256(le.tobytes()).hexdigest())


def flatten(value, prefix=""):
    """The same flattening earshot uses: dict keys joined by '.', sequences by index."""
    join = (lambda k: f"{prefix}.{k}" if prefix else str(k))
    out = []
    if isinstance(value, (np.ndarray, np.generic)) and not is_numeric(value):
        pass
    elif isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        out.append(tensor_entry(prefix or ("tensor" if isinstance(value, torch.Tensor) else "array"), value))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += flatten(v, join(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out += flatten(v, join(i))
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        for k, v in vars(value).items():
            out += flatten(v, join(k))
    return out


def every_dtype_state():
    g = torch.Generator().manual_seed(7)
    base = torch.randn(4, 6, generator=g)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.nn.Parameter(torch.randn(8, 3, 3, 3, generator=g))
    sd["conv.bias"] = torch.randn(8, generator=g)
    sd["f16"] = base.half()
    sd["bf16"] = base.bfloat16()
    sd["f64"] = base.double()
    sd["u8"] = (base * 10).abs().to(torch.uint8)
    sd["i8"] = (base * 10).to(torch.int8)
    sd["i16"] = (base * 1000).to(torch.int16)
    sd["i32"] = (base * 1e6).to(torch.int32)
    sd["i64"] = torch.tensor([-(2 ** 40), 0, 2 ** 40 + 3])
    sd["bool"] = base > 0
    sd["c64"] = torch.complex(base, -base)
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 5)
    # Views sharing one storage, one of them non-contiguous.
    shared = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd["shared.full"] = shared
    sd["shared.rows"] = shared[1:3]
    sd["shared.transposed"] = shared.t()
    sd["shared.strided"] = shared[:, ::2]
    sd["bn.running_mean"] = torch.randn(8, generator=g)
    sd["bn.num_batches_tracked"] = torch.tensor(1234)
    return sd


def opaque_names(value, prefix=""):
    """Flattened names of the numpy values earshot keeps only as descriptions."""
    join = (lambda k: f"{prefix}.{k}" if prefix else str(k))
    if isinstance(value, (np.ndarray, np.generic)):
        return [] if is_numeric(value) else [prefix or "array"]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in opaque_names(v, join(k))]
    if isinstance(value, (list, tuple)):
        return [n for i, v in enumerate(value) for n in opaque_names(v, join(i))]
    return []


def training_checkpoint(unsigned_tensors):
    """What training loops save beside the weights: numpy's RandomState (a uint32 array), arrays
    of every numeric dtype in both byte orders, unsigned torch tensors (zip format only: torch
    cannot read them back from the legacy format), and numpy values that are not numbers."""
    rng = np.random.default_rng(11)
    numeric = {}
    for code in NUMERIC_CODES:
        for order in ("<", ">"):
            dt = np.dtype(order + code)
            if dt.kind == "b":
                a = rng.random(6) > 0.5
            elif dt.kind == "c":
                a = rng.standard_normal(6) + 1j * rng.standard_normal(6)
            elif dt.kind == "f":
                a = rng.standard_normal(6)
            else:
                info = np.iinfo(dt)
                a = [int(info.min), int(info.max), 0, 1, int(info.max) // 3, int(info.min) // 5 or 7]
            numeric[f"{code}_{'le' if order == '<' else 'be'}"] = np.array(a, dtype=dt).reshape(2, 3)
    model = every_dtype_state()
    if unsigned_tensors:
        model["u16"] = torch.tensor([0, 1, 65535]).to(torch.uint16)
        model["u32"] = torch.tensor([0, 7, 2 ** 32 - 1]).to(torch.uint32)
        model["u64"] = torch.tensor([0, 2 ** 62, 5]).to(torch.uint64)
    return {
        "model": model,
        "epoch": 12,
        "rng_state": np.random.RandomState(0).get_state(),
        "numpy": numeric,
        "scalars": {"u32": np.uint32(4000000000), "u64": np.uint64(2 ** 63 + 5), "i16": np.int16(-7),
                    "f16": np.float16(0.5), "c64": np.complex64(1 - 2j), "bool": np.bool_(True)},
        "not_numbers": {"strings": np.array(["speech", "dog"]), "bytes": np.array([b"ab", b"c"]),
                        "dates": np.array(["2020-01-01", "2021-06-30"], dtype="M8[D]"),
                        "deltas": np.array([3, 4], dtype="m8[s]"),
                        "objects": np.array([1, "x", None], dtype=object),
                        "records": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
                        "longdouble": np.arange(3, dtype=np.longdouble),
                        "str_scalar": np.str_("dog")},
    }


def nested_checkpoint():
    """Shaped like the PANNs files: {'model', 'iteration', 'sampler' with numpy inside}."""
    rng = np.random.default_rng(3)
    return {
        "model": every_dtype_state(),
        "iteration": 660000,
        "sampler": {
            "indexes_per_class": [np.arange(7), np.array([3, 1, 2], dtype=np.int32)],
            "queue": rng.random((2, 3)),
            "fortran": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
            "bigendian": np.arange(5, dtype=">i4"),
            "scalar": np.float64(2.5),
            "flag": True,
            "name": "balanced",
            "none": None,
            "ratio": 0.125,
        },
    }


class Hostile:
    """Unpickling this with Python would run a command."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


class FakeStorage:
    pass


class ClaimedTensor:
    def __init__(self, size):
        self.size = size

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                (FakeStorage(), 0, (self.size,), (1,), False, collections.OrderedDict()))


def write_crafted_zip(path, obj, numel, storage_bytes):
    """A zip torch file whose data.pkl is `obj` with storage '0' claiming `numel` floats."""
    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, FakeStorage):
                return ("storage", torch.FloatStorage, "0", "cpu", numel)
            return None
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", storage_bytes)
        z.writestr("archive/version", "3\n")


def fingerprint():
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def main():
    manifest_path = OUT / "expected.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen] up to date: {manifest_path}")
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    files = {}

    def expect(name, fmt, tensors, metadata=None):
        files[name] = dict(format=fmt, tensors=tensors, metadata=metadata or {})

    # 1-3. torch.save: zip, legacy, and a newer pickle protocol.
    nested = nested_checkpoint()
    torch.save(nested, OUT / "nested_zip.pt")
    torch.save(nested, OUT / "nested_legacy.pth", _use_new_zipfile_serialization=False)
    torch.save(nested, OUT / "nested_proto4.pt", pickle_protocol=4)
    for name, fmt in (("nested_zip.pt", "torch-zip"), ("nested_legacy.pth", "torch-legacy"),
                      ("nested_proto4.pt", "torch-zip")):
        loaded = torch.load(OUT / name, weights_only=False)
        expect(name, fmt, flatten(loaded),
               {"iteration": 660000, "sampler.flag": True, "sampler.name": "balanced",
                "sampler.ratio": 0.125, "sampler.none": None})

    # A training checkpoint (zip and legacy): every numeric numpy dtype and byte order becomes a
    # tensor, RandomState's uint32 state among them; values that are not numbers stay metadata.
    torch.save(training_checkpoint(True), OUT / "training_zip.pt")
    torch.save(training_checkpoint(False), OUT / "training_legacy.pth",
               _use_new_zipfile_serialization=False)
    for name, fmt in (("training_zip.pt", "torch-zip"), ("training_legacy.pth", "torch-legacy")):
        loaded = torch.load(OUT / name, weights_only=False)
        expect(name, fmt, flatten(loaded), {"epoch": 12, "rng_state.0": "MT19937", "rng_state.2": 624})
        files[name]["opaque"] = opaque_names(loaded)

    # 4. A flat state dict of a real module, as HF's pytorch_model.bin and PaSST's .pt are.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
    torch.save(net.state_dict(), OUT / "flat_state_dict.bin")
    expect("flat_state_dict.bin", "torch-zip", flatten(torch.load(OUT / "flat_state_dict.bin")))

    # 5. safetensors.
    from safetensors.torch import save_file, load_file
    st = {k: v.contiguous() for k, v in every_dtype_state().items()
          if v.dtype != torch.complex64 and not k.startswith("shared.")}
    st["shared.full"] = torch.arange(6.0)
    save_file(st, OUT / "weights.safetensors", metadata={"format": "pt"})
    expect("weights.safetensors", "safetensors", flatten(dict(load_file(OUT / "weights.safetensors"))))

    # 6. Hugging Face folders: safetensors, .bin, and sharded.
    from transformers import Wav2Vec2Config, Wav2Vec2Model
    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3),
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    torch.manual_seed(1)
    model = Wav2Vec2Model(cfg).eval()
    for folder, kwargs in (("hf_safetensors", {}), ("hf_sharded", {"max_shard_size": "60KB"})):
        model.save_pretrained(OUT / folder, **kwargs)
    # transformers 5 writes only safetensors; older uploads (and many on the Hub) are
    # pytorch_model.bin, single or sharded with an index: write those as transformers 4 did.
    sd = model.state_dict()
    for folder in ("hf_bin", "hf_bin_sharded"):
        (OUT / folder).mkdir()
        shutil.copy(OUT / "hf_safetensors" / "config.json", OUT / folder / "config.json")
    torch.save(sd, OUT / "hf_bin" / "pytorch_model.bin")
    names = list(sd)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(halves):
        shard = f"pytorch_model-0000{i + 1}-of-00002.bin"
        torch.save({k: sd[k] for k in part}, OUT / "hf_bin_sharded" / shard)
        weight_map.update({k: shard for k in part})
    (OUT / "hf_bin_sharded" / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    for folder in ("hf_safetensors", "hf_sharded", "hf_bin", "hf_bin_sharded"):
        # What is on disk is the reference: read the files back with the Python loaders.
        disk = {}
        for f in sorted((OUT / folder).iterdir()):
            if f.suffix == ".safetensors":
                disk.update(load_file(f))
            elif f.suffix == ".bin":
                disk.update(torch.load(f, weights_only=True))
        expect(folder, "hugging-face", sorted(flatten(disk), key=lambda e: e["name"]),
               {"config.hidden_size": 32, "config.num_hidden_layers": 2})

    # 7. fairseq layout: argparse args and a cfg dict next to the model.
    args = argparse.Namespace(arch="wav2vec2", encoder_layers=2, encoder_embed_dim=32,
                              conv_feature_layers="[(16, 10, 5), (16, 3, 2)]", layer_norm_first=False)
    fairseq_ckpt = {"args": args, "cfg": {"model": {"_name": "wav2vec2", "encoder_layers": 2}},
                    "model": every_dtype_state(), "optimizer_history": [{"num_updates": 400000}],
                    "extra_state": {"epoch": 3}}
    torch.save(fairseq_ckpt, OUT / "fairseq_like.pt")
    expect("fairseq_like.pt", "torch-zip", flatten(torch.load(OUT / "fairseq_like.pt", weights_only=False)),
           {"args.__class__": "argparse.Namespace", "args.encoder_layers": 2, "args.arch": "wav2vec2",
            "cfg.model._name": "wav2vec2", "extra_state.epoch": 3})

    # 8. Keras .h5 in OpenL3's layout.
    rng = np.random.default_rng(5)
    layers = {"conv2d_1": {"kernel:0": rng.standard_normal((3, 3, 1, 64), dtype=np.float32),
                           "bias:0": rng.standard_normal(64, dtype=np.float32)},
              "batch_normalization_1": {k: rng.standard_normal(64, dtype=np.float32)
                                        for k in ("gamma:0", "beta:0", "moving_mean:0", "moving_variance:0")},
              "conv2d_2": {"kernel:0": rng.standard_normal((3, 3, 64, 64), dtype=np.float32),
                           "bias:0": rng.standard_normal(64, dtype=np.float32)},
              "conv2d_10": {"kernel:0": rng.standard_normal((1, 1, 64, 8), dtype=np.float32)}}
    with h5py.File(OUT / "openl3_like.h5", "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in layers]
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        for layer, weights in layers.items():
            g = f.create_group(layer)
            g.attrs["weight_names"] = [f"{layer}/{w}".encode() for w in weights]
            for w, data in weights.items():
                g.create_dataset(f"{layer}/{w}", data=data)
    h5_expected = []
    with h5py.File(OUT / "openl3_like.h5", "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                h5_expected.append(tensor_entry(name, obj[()]))
        f.visititems(visit)
    expect("openl3_like.h5", "keras-h5", h5_expected, {"keras_version": "2.2.4", "backend": "tensorflow"})

    # Hostile pickles: each would create its marker file if Python unpickled it.
    hostile = {}
    for name, obj, legacy in (
        ("hostile_os_system.pt", Hostile(os.system, f"touch {OUT}/PWNED_os_system"), False),
        ("hostile_eval_legacy.pth", Hostile(eval, f"__import__('os').system('touch {OUT}/PWNED_eval')"), True),
        ("hostile_import.pt", Hostile(__import__, "os"), False),
        ("hostile_exec.pt", Hostile(exec, f"open('{OUT}/PWNED_exec', 'w')"), False),
    ):
        torch.save({"model": {"w": torch.zeros(2)}, "payload": obj}, OUT / name,
                   _use_new_zipfile_serialization=not legacy)
        hostile[name] = f"PWNED_{name.split('_', 1)[1].split('.')[0]}"
    import subprocess
    (OUT / "hostile_subprocess.pkl").write_bytes(
        pickle.dumps(Hostile(subprocess.check_call, ["touch", f"{OUT}/PWNED_subprocess"]), protocol=2))
    hostile["hostile_subprocess.pkl"] = "PWNED_subprocess"

    # Damaged files.
    bad = {}
    data = (OUT / "nested_zip.pt").read_bytes()
    (OUT / "bad_truncated.pt").write_bytes(data[: len(data) // 2])
    bad["bad_truncated.pt"] = "truncated zip"
    legacy = (OUT / "nested_legacy.pth").read_bytes()
    # The magic number is a LONG1 near the start: flip one of its bytes.
    i = legacy.index(bytes.fromhex("6cfc9c46f9206aa85019"))
    (OUT / "bad_magic.pth").write_bytes(legacy[:i] + b"\x00" + legacy[i + 1:])
    bad["bad_magic.pth"] = "wrong magic"
    with zipfile.ZipFile(OUT / "nested_zip.pt") as src, \
            zipfile.ZipFile(OUT / "bad_short_storage.pt", "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            if "/data/" in info.filename and len(blob) > 8 and not info.filename.endswith("/0"):
                blob = blob[: len(blob) // 2]
            dst.writestr(info.filename, blob)
    bad["bad_short_storage.pt"] = "storage shorter than its tensor"
    with zipfile.ZipFile(OUT / "flat_state_dict.bin") as src, \
            zipfile.ZipFile(OUT / "bad_unknown_dtype.pt", "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                assert b"FloatStorage" in blob
                blob = blob.replace(b"FloatStorage", b"FloatStorXge")
            dst.writestr(info.filename, blob)
    bad["bad_unknown_dtype.pt"] = "unknown dtype"
    write_crafted_zip(OUT / "bad_huge_storage_claim.pt", {"w": ClaimedTensor(4)}, 2 ** 30, b"\0" * 16)
    bad["bad_huge_storage_claim.pt"] = "4 GiB storage claimed by a 1 KiB file"
    write_crafted_zip(OUT / "bad_huge_view.pt", {"w": ClaimedTensor(2 ** 30)}, 4, b"\0" * 16)
    bad["bad_huge_view.pt"] = "4 GiB tensor over a 16-byte storage"
    # A legacy file whose first storage claims 2^40 elements.
    # The storage table starts after the five pickles; pickletools walks them without loading.
    import pickletools
    raw = bytearray(legacy)
    stream = io.BytesIO(legacy)
    for _ in range(5):
        for _op in pickletools.genops(stream):
            pass
    table = stream.tell()
    raw[table:table + 8] = (2 ** 40).to_bytes(8, "little")
    (OUT / "bad_legacy_huge_count.pth").write_bytes(bytes(raw))
    bad["bad_legacy_huge_count.pth"] = "storage count larger than the file"
    (OUT / "bad_random.pt").write_bytes(np.random.default_rng(9).integers(0, 256, 1024, dtype=np.uint8).tobytes())
    bad["bad_random.pt"] = "random bytes"
    (OUT / "bad_empty.pth").write_bytes(b"")
    bad["bad_empty.pth"] = "empty file"
    st_bytes = bytearray((OUT / "weights.safetensors").read_bytes())
    (OUT / "bad_truncated.safetensors").write_bytes(bytes(st_bytes[: len(st_bytes) - 100]))
    bad["bad_truncated.safetensors"] = "safetensors data shorter than the header says"

    manifest = dict(fingerprint=fp, torch=torch.__version__, files=files, hostile=hostile, bad=bad)
    manifest_path.write_text(json.dumps(manifest, indent=1))
    print(f"[gen] wrote {len(files)} checkpoints, {len(hostile)} hostile and {len(bad)} damaged files to {OUT}")


if __name__ == "__main__":
    main()
