"""HEAR 2021 API for earshot's `wav2vec2-base` (see earshot.hear)."""

from ._common import HearModel, get_scene_embeddings, get_timestamp_embeddings

__all__ = ["load_model", "get_scene_embeddings", "get_timestamp_embeddings"]


def load_model(model_file_path: str = "") -> HearModel:
    """`wav2vec2-base`, from `model_file_path` (its checkpoint in the authors' format) or the cache."""
    return HearModel("wav2vec2-base", model_file_path, sample_rate=None)
