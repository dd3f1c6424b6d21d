"""What the HEAR modules share: a torch.nn.Module around an earshot model, and the two
embedding functions."""

from __future__ import annotations

import numpy as np
import torch

import earshot


class HearModel(torch.nn.Module):
    """An earshot model as the HEAR API wants it: a torch Module with ``sample_rate``,
    ``scene_embedding_size`` and ``timestamp_embedding_size``. It runs on earshot's CPU build
    whatever ``.to()`` is given; outputs go back to the input's device.

    ``sample_rate`` is the rate HEAR feeds: the model's own, or for the 32-kHz models (PANNs,
    PaSST) 48 kHz, which hearvalidator 2021.0.2 accepts and which earshot resamples to 32 kHz
    with soxr HQ as ``earshot embed`` resamples any file."""

    def __init__(self, name: str, model_file_path: str = "", sample_rate: int | None = None):
        super().__init__()
        self.model = earshot.load_model(name, checkpoint=model_file_path or None)
        self.sample_rate = int(sample_rate or self.model.sample_rate)
        probe = self.model.embed(np.zeros(self.sample_rate, np.float32), self.sample_rate)
        self.scene_embedding_size = int(probe["scene"].shape[-1])
        self.timestamp_embedding_size = int(probe["embedding"].shape[-1])

    def forward(self, audio: torch.Tensor):  # pragma: no cover - HEAR calls the functions
        return get_scene_embeddings(audio, self)


def _sounds(audio: torch.Tensor) -> list[np.ndarray]:
    if audio.ndim != 2:
        raise ValueError(f"HEAR audio is (n_sounds, n_samples), got shape {tuple(audio.shape)}")
    batch = audio.detach().to("cpu", torch.float32).numpy()
    return [np.ascontiguousarray(row) for row in batch]


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel):
    """(embeddings (n_sounds, n_timestamps, dim), timestamps (n_sounds, n_timestamps) in ms at
    each frame's centre as the reference reports it)."""
    outs = [model.model.embed(y, model.sample_rate) for y in _sounds(audio)]
    emb = torch.from_numpy(np.stack([o["embedding"] for o in outs]).astype(np.float32))
    ts = torch.from_numpy(np.stack([o["timestamps"] for o in outs]) * 1000.0).to(torch.float32)
    return emb.to(audio.device), ts.to(audio.device)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """(n_sounds, dim): each sound's scene embedding (the mean of its frames, or the model's
    own clip embedding)."""
    outs = [model.model.embed(y, model.sample_rate)["scene"] for y in _sounds(audio)]
    return torch.from_numpy(np.stack(outs).astype(np.float32)).to(audio.device)
