"""earshot.load_model and the Model methods: against the CLI on the same files (same numbers),
and against the reference packages' outputs that tests/gen_*.py recorded (panns_inference's
Cnn14, hear21passt, torchopenl3, transformers, onnxruntime on YAMNet's float graph)."""

import json
import subprocess

import numpy as np
import pytest
import torch

import earshot
from conftest import GEN, earshot_cli, manifest

YAMNET = GEN / "yamnet"
W8A8 = YAMNET / "w8a8" / "model.onnx"


def cli(*args) -> bytes:
    out = subprocess.run([str(earshot_cli()), *map(str, args)], capture_output=True, check=True)
    return out.stdout


@pytest.fixture(scope="module")
def yamnet():
    # The file name is the card's: load_model finds the card (yamnet-w8a8) from it.
    return earshot.load_model(W8A8)


def test_yamnet_tags_as_onnxruntime_and_the_cli(yamnet):
    assert yamnet.name == "yamnet-w8a8" and yamnet.sample_rate == 16000
    assert len(yamnet.labels) == 521 and yamnet.is_sed
    for clip, entry in manifest("yamnet")["real"].items():
        audio = YAMNET / entry["audio"]
        ours = yamnet.tag(audio)
        want = np.load(YAMNET / entry["clip_scores"])
        assert np.abs(ours - want).max() <= 1e-4, clip
        shown = json.loads(cli("tag", "--model", "yamnet-w8a8", "--checkpoint", W8A8,
                               "--format", "json", "--all-scores", audio))
        theirs = np.array(shown[0]["scores"])
        assert np.abs(ours - theirs).max() <= 1e-6, clip
    speech = YAMNET / "speech.wav"
    assert yamnet.labels[int(yamnet.tag(speech).argmax())] == "Speech"


def test_yamnet_detect_and_embed_are_the_cli_s(yamnet, tmp_path):
    speech = YAMNET / "speech.wav"
    events = yamnet.detect(speech, threshold=0.3, median_filter=3)
    tsv = cli("detect", "--model", "yamnet-w8a8", "--checkpoint", W8A8, "--threshold", "0.3",
              "--median-filter", "3", speech).decode()
    rows = [line.split("\t") for line in tsv.splitlines()[1:] if line]
    assert len(rows) == len(events) > 0
    for e, (_, onset, offset, label) in zip(events, rows):
        assert (e["label"], round(e["onset"], 3), round(e["offset"], 3)) == \
            (label, round(float(onset), 3), round(float(offset), 3))
    assert any(e["label"] == "Speech" for e in events)
    y, sr = earshot.load_audio(speech)
    out = yamnet.embed(torch.from_numpy(y), sr)
    cli("embed", "--model", "yamnet-w8a8", "--checkpoint", W8A8, "-o", tmp_path, speech)
    npz = np.load(tmp_path / "speech.wav.npz")
    assert np.abs(out["embedding"] - npz["embedding"]).max() <= 1e-6
    assert np.allclose(out["timestamps"], npz["timestamps"])
    assert out["scene"].shape == (1024,)


def test_panns_tag_and_embed_are_panns_inference_s():
    m = manifest("panns")
    entry = next(e for e in m["models"] if e["name"] == "Cnn14")
    model = earshot.load_model("cnn14", checkpoint=GEN / "panns" / entry["checkpoint"])
    inputs = []
    for clip in entry["clips"]:
        files = {k: np.load(GEN / "panns" / v) for k, v in clip["files"].items()}
        y = files["input"].astype(np.float32).reshape(-1)
        inputs.append(y)
        assert np.abs(model.tag(y, 32000) - files["clipwise_output"].reshape(-1)).max() <= 1e-4
        emb = model.embed(y, 32000)["scene"]
        want = files["embedding"].reshape(-1)
        assert np.abs(emb - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
    # A batch: equal lengths run together, others apart, rows in input order.
    batch = [inputs[0], inputs[0][: len(inputs[0]) // 2], inputs[0]]
    rows = model.tag_batch(batch, 32000)
    assert rows.shape == (3, 527)
    for row, y in zip(rows, batch):
        assert np.abs(row - model.tag(y, 32000)).max() <= 1e-5


def test_passt_matches_hear21passt():
    m = manifest("passt")
    entry = m["models"][0]
    model = earshot.load_model(entry["card"], checkpoint=GEN / "passt" / entry["checkpoint"])
    for clip in entry["clips"][:2]:
        f = {k: np.load(GEN / "passt" / v) for k, v in clip["files"].items()}
        y = f["input"].astype(np.float32).reshape(-1)
        assert np.abs(model.tag(y, 32000) - f["probabilities"].reshape(-1)).max() <= 1e-4
        out = model.embed(y, 32000)
        want = f["timestamp_embeddings"].reshape(out["embedding"].shape)
        assert np.abs(out["embedding"] - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
        assert np.abs(out["timestamps"] * 1000 - f["timestamps_ms"].reshape(-1)).max() <= 1e-3


def test_openl3_matches_torchopenl3():
    m = manifest("openl3")
    entry = next(e for e in m["models"] if (e["input_repr"], e["content_type"]) == ("mel256", "music"))
    model = earshot.load_model("openl3-mel256-music-512", checkpoint=GEN / "openl3" / entry["checkpoint"])
    case = next(c for c in entry["cases"] if c["case"] == "excerpt")
    y = np.load(GEN / "openl3" / case["input"]).astype(np.float32).reshape(-1)
    out = model.embed(y, 48000, hop=case["hop_size"], center=case["center"])
    files = case["sizes"]["512"]
    want = np.load(GEN / "openl3" / files["embedding"]).reshape(out["embedding"].shape)
    assert np.abs(out["embedding"] - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
    assert np.allclose(out["timestamps"], np.load(GEN / "openl3" / files["timestamps"]).reshape(-1))


def test_wav2vec2_hidden_states_match_transformers():
    m = manifest("speech")
    entry = next(e for e in m["models"] if e["name"] == "w2v-base")
    model = earshot.load_model("wav2vec2-base", checkpoint=GEN / "speech" / entry["files"]["safetensors"])
    for r in entry["results"]:
        y, sr = earshot.load_audio(GEN / "speech" / r["wav"])
        last = np.load(GEN / "speech" / r["last"]).reshape(-1)
        ours = model.embed(y, sr)["embedding"].reshape(-1)
        assert np.abs(ours - last).max() <= 1e-4 * max(1.0, np.abs(last).max())
        hidden = np.load(GEN / "speech" / r["hidden"])
        every = model.embed(y, sr, layer="all")["embedding"]
        assert every.shape[0] == hidden.shape[0]
        assert np.abs(every.reshape(-1) - hidden.reshape(-1)).max() <= 1e-4 * max(1.0, np.abs(hidden).max())


def test_model_errors_are_exceptions_naming_the_problem(tmp_path, yamnet):
    with pytest.raises(ValueError, match="unknown model|no-such"):
        earshot.load_model("no-such-model")
    junk = tmp_path / "Cnn14_mAP=0.431.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(earshot.EarshotError, match=str(junk)):
        earshot.load_model(junk)
    other = tmp_path / "weights.bin"
    other.write_bytes(b"x")
    with pytest.raises(ValueError, match="cannot tell which model"):
        earshot.load_model(other)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "gone.pth")):
        earshot.load_model("cnn14", checkpoint=tmp_path / "gone.pth")
    with pytest.raises(ValueError, match="precision|bf16"):
        earshot.load_model(W8A8, precision="fp8")
    with pytest.raises(ValueError, match="sr is needed"):
        yamnet.tag(np.zeros(16000, np.float32))
    with pytest.raises(ValueError, match="threshold"):
        yamnet.detect(np.zeros(16000, np.float32), 16000, threshold=[0.5, 0.5])


def test_a_model_earshot_train_wrote_loads_and_tags_as_the_cli(tmp_path):
    """`earshot train` on the generated four sounds (tests/gen_train.py) with the real YAMNet;
    the folder it writes loads here and gives the CLI's numbers."""
    import os
    import shutil
    sounds = GEN / "train" / "sounds"
    if not (GEN / "train" / "manifest.json").exists():
        pytest.fail("tests/data/generated/train is missing: run scripts/test.sh (tests/gen_train.py)")
    data = tmp_path / "data"
    classes = ["hiss", "pluck", "speech", "tone"]
    for c in classes:
        shutil.copytree(sounds / "train" / c, data / c)
    model_dir = tmp_path / "sounds"
    env = {**os.environ, "EARSHOT_HOME": str(tmp_path / "home")}
    subprocess.run([str(earshot_cli()), "train", str(data), "--model", "yamnet-w8a8",
                    "--checkpoint", str(W8A8), "-o", str(model_dir)],
                   env=env, check=True, capture_output=True)
    model = earshot.load_model(str(model_dir))
    assert model.name == "sounds" and model.labels == classes and model.is_sed
    for c in classes:
        clip = sounds / "test" / c / f"{c}12.wav"
        ours = model.tag(clip)
        assert model.labels[int(ours.argmax())] == c
        shown = json.loads(subprocess.run(
            [str(earshot_cli()), "tag", "--model", str(model_dir), "--format", "json",
             "--all-scores", str(clip)], env=env, check=True, capture_output=True).stdout)
        assert np.abs(ours - np.array(shown[0]["scores"])).max() <= 1e-6
    events = model.detect(sounds / "test" / "speech" / "speech12.wav", threshold=0.5)
    assert any(e["label"] == "speech" for e in events)
