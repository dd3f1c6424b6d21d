"""The HEAR 2021 modules pass hearvalidator (2021.0.2, the release that installs on Python 3.11),
each loaded from a checkpoint in its authors' format (random weights from tests/gen_*.py; the
real YAMNet export for yamnet), and give what the Model API gives."""

import numpy as np
import pytest
import torch

from conftest import GEN, manifest

PASST = manifest("passt")["models"][0]["checkpoint"]
CASES = {
    "yamnet": GEN / "yamnet" / "w8a8" / "model.onnx",
    "panns": GEN / "panns" / "Cnn14.pth",
    "passt": GEN / "passt" / PASST,
    "openl3": GEN / "openl3" / "torchopenl3_mel256_music.pth.tar",
    "wav2vec2": GEN / "speech" / "w2v-base",
}


@pytest.mark.parametrize("family", sorted(CASES))
def test_hearvalidator_accepts_the_module(family, capsys):
    from hearvalidator.validate import ValidateModel
    ValidateModel(f"earshot.hear.{family}", str(CASES[family]), device="cpu")()
    assert "Checking get_scene_embeddings" in capsys.readouterr().out


def test_hear_embeddings_are_the_model_api_s():
    import earshot
    from earshot.hear import yamnet
    model = yamnet.load_model(str(CASES["yamnet"]))
    assert isinstance(model, torch.nn.Module) and model.sample_rate == 16000
    assert model.scene_embedding_size == model.timestamp_embedding_size == 1024
    y, sr = earshot.load_audio(GEN / "yamnet" / "speech.wav")
    audio = torch.from_numpy(np.stack([y[:48000], y[48000:96000]]))
    emb, ts = yamnet.get_timestamp_embeddings(audio, model)
    scene = yamnet.get_scene_embeddings(audio, model)
    assert emb.dtype == ts.dtype == scene.dtype == torch.float32
    direct = earshot.load_model(CASES["yamnet"]).embed(audio[1].numpy(), sr)
    assert np.abs(emb[1].numpy() - direct["embedding"]).max() <= 1e-6
    assert np.allclose(ts[1].numpy(), direct["timestamps"] * 1000)
    assert np.abs(scene[1].numpy() - direct["scene"]).max() <= 1e-6
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        yamnet.get_scene_embeddings(audio[0], model)
