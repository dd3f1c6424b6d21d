"""HEAR 2021 API for earshot's `openl3-mel256-music-6144` (see earshot.hear)."""

from ._common import HearModel, get_scene_embeddings, get_timestamp_embeddings

__all__ = ["load_model", "get_scene_embeddings", "get_timestamp_embeddings"]


def load_model(model_file_path: str = "") -> HearModel:
    """`openl3-mel256-music-6144`, from `model_file_path` (its checkpoint in the authors' format) or the cache."""
    return HearModel("openl3-mel256-music-6144", model_file_path, sample_rate=None)
